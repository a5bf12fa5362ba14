/*
 * shm_ring.h — single-producer/single-consumer ring of variable-length
 * records in shared memory, the fast path of the shm transport.
 *
 * One ring per ordered pair of local ranks lives in the receiver's segment.
 * The data area is a power-of-two number of 64-byte cells; a record occupies
 * whole consecutive cells and never wraps (a PAD record fills the tail end of
 * the area instead), so a consumer always sees a record's bytes contiguous and
 * can hand them over in place.
 *
 * Record layout (every record starts on a cell boundary):
 *
 *   0                               8               12              16
 *   +-------------------------------+---------------+---------------+
 *   |   tag = ring position + 1     |      len      |     kind      |
 *   +-------------------------------+---------------+---------------+
 *   |  len bytes of body ... padded to a multiple of 64 bytes        |
 *   +----------------------------------------------------------------+
 *
 * Synchronisation (C11 atomics, no locks, no syscalls):
 *  - The producer writes body, len and kind, then stores `tag` with release
 *    semantics. The consumer polls the tag at its position with acquire: the
 *    record is ready exactly when tag == position + 1. Polling the record
 *    itself costs one cache-line transfer per small message instead of two
 *    (counter + data).
 *  - Stale bytes from an earlier lap could look like a valid tag, so the
 *    tag slot where the *next* record will start must be zero before a
 *    record is published. The producer zeroes the tag slots of free cells
 *    ahead of its head in batches, after publishing (`zeroed`), so that a
 *    small record's publication waits for no store to another cache line:
 *    stores become visible in order, and a zeroing store that misses in
 *    the cache would hold the tag back. Only a record reaching past the
 *    zeroed area zeroes its successor's slot first. The producer always
 *    keeps one free cell between its head and the consumer's tail, so that
 *    slot is free.
 *  - A ring that is empty when the head is past the first
 *    RDMX_SHM_RING_HOT bytes restarts at the beginning of the area (a PAD
 *    record covers the rest): latency-bound traffic then cycles through a
 *    few pages that stay cached and mapped instead of sweeping the whole
 *    ring (on 2 ranks with 256 KiB rings that halved the ping-pong time
 *    under a hypervisor with costly page-table misses); streams still get
 *    the whole ring.
 *  - The header words are written right before the tag, after the body,
 *    so the stores into the record's first cell (which the consumer is
 *    polling) land together.
 *  - The consumer publishes its position (`tail`, own cache line) with
 *    release; the producer reads it with acquire only when its cached copy
 *    says the ring is full.
 *  - `need_space` lets a producer that is about to sleep ask the consumer
 *    for a wake-up when it frees cells (see rdmx_shm_ring_consumer_release).
 */
#ifndef RDMX_SHM_RING_H
#define RDMX_SHM_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RDMX_SHM_CELL 64u
#define RDMX_SHM_REC_HDR 16u

enum rdmx_shm_rec_kind {
    RDMX_SHM_REC_PAD = 0, /* filler up to the end of the data area */
    /* Values >= 1 belong to the ring's user. */
};

typedef struct rdmx_shm_rec {
    _Atomic uint64_t tag;
    uint32_t len;
    uint32_t kind;
} rdmx_shm_rec_t;

/* The part of a ring that lives in shared memory. */
typedef struct rdmx_shm_ring_shared {
    _Alignas(64) _Atomic uint64_t tail;       /* consumer position, bytes */
    _Alignas(64) _Atomic uint32_t need_space; /* producer waits for cells */
    _Alignas(64) uint32_t size;               /* data bytes, set by init */
    uint32_t magic;
    _Alignas(64) unsigned char data[];
} rdmx_shm_ring_shared_t;

/* Producer's private view (in the producer's own memory). */
typedef struct rdmx_shm_ring_producer {
    rdmx_shm_ring_shared_t *sh;
    uint64_t head;       /* next record position */
    uint64_t tail_cache; /* last tail seen */
    uint64_t zeroed;     /* tag slots of cells in [head, zeroed) are zero */
    uint64_t idle_check; /* head when the ring was last checked empty */
    uint32_t size;       /* copy of sh->size, validated at attach */
    /* Filled by reserve, used by commit. */
    uint64_t rec_pos;
    uint32_t rec_need;
    uint32_t rec_len;
} rdmx_shm_ring_producer_t;

/* Consumer's private view. */
typedef struct rdmx_shm_ring_consumer {
    rdmx_shm_ring_shared_t *sh;
    uint64_t tail;     /* position of the record to read next */
    uint64_t released; /* last tail published to the producer */
    uint32_t size;
    uint32_t cur_need; /* cells (bytes) of the record returned by peek */
} rdmx_shm_ring_consumer_t;

/* Full (store-load) fence for the sleep/wake handshakes. On x86 a locked
 * add to the stack is such a fence for ordinary memory and costs a fraction
 * of MFENCE (which AMD makes dispatch-serialising); Linux's smp_mb() does
 * the same. Elsewhere the C11 fence. */
static inline void rdmx_shm_fence(void)
{
#if defined(__x86_64__)
    __asm__ __volatile__("lock; addl $0,-4(%%rsp)" ::: "memory", "cc");
#else
    atomic_thread_fence(memory_order_seq_cst);
#endif
}

/* Bytes of shared memory a ring with `cells` cells occupies (cells must be
 * a power of two >= 4). */
size_t rdmx_shm_ring_footprint(uint32_t cells);

/* Initialise a zeroed shared ring in place (done once by the creator). */
void rdmx_shm_ring_init(rdmx_shm_ring_shared_t *sh, uint32_t cells);

/* Attach a producer/consumer view; returns -1 if the shared header is not
 * a valid ring of at most `max_bytes` bytes in total. */
int rdmx_shm_ring_producer_attach(rdmx_shm_ring_producer_t *p,
                                  rdmx_shm_ring_shared_t *sh, size_t max_bytes);
int rdmx_shm_ring_consumer_attach(rdmx_shm_ring_consumer_t *c,
                                  rdmx_shm_ring_shared_t *sh, size_t max_bytes);

/* Largest record body a ring of `size` data bytes accepts. */
static inline size_t rdmx_shm_ring_max_body(uint32_t size)
{
    return (size_t)size / 2 - RDMX_SHM_CELL - RDMX_SHM_REC_HDR;
}

/* Bytes at the start of the data area that an idle ring keeps reusing. */
#define RDMX_SHM_RING_HOT (16u * 1024)
/* Cells zeroed ahead of the head after each publication. */
#define RDMX_SHM_ZERO_AHEAD (32u * RDMX_SHM_CELL)

/* Bytes (whole cells) a record with a body of `len` bytes occupies. */
static inline uint32_t rdmx_shm_rec_need(size_t len)
{
    return (uint32_t)((len + RDMX_SHM_REC_HDR + RDMX_SHM_CELL - 1) &
                      ~(size_t)(RDMX_SHM_CELL - 1));
}

/* The general cases of reserve and commit (wrap, restart, zeroing). */
void *rdmx_shm_ring_reserve_slow(rdmx_shm_ring_producer_t *p, size_t len);
void rdmx_shm_ring_commit_slow(rdmx_shm_ring_producer_t *p, uint32_t kind);

/* Reserve room for a body of `len` bytes; returns where to write it or NULL
 * if the ring has no room now (back-pressure) or len exceeds the maximum.
 * Must be followed by rdmx_shm_ring_commit before the next reserve.
 * Inline for the common case of a small message (in the hot area, no
 * wrap, room by the cached tail): it is a third of a 1-byte send. */
static inline void *rdmx_shm_ring_reserve(rdmx_shm_ring_producer_t *p,
                                          size_t len)
{
    uint32_t off = (uint32_t)(p->head & (p->size - 1));
    uint32_t need = rdmx_shm_rec_need(len);

    /* Below RDMX_SHM_RING_HOT the slow path would not restart either. */
    if (off < RDMX_SHM_RING_HOT && len <= rdmx_shm_ring_max_body(p->size) &&
        off + need <= p->size &&
        p->head + need + RDMX_SHM_CELL - p->tail_cache <= p->size) {
        p->rec_pos = p->head;
        p->rec_need = need;
        p->rec_len = (uint32_t)len;
        return p->sh->data + off + RDMX_SHM_REC_HDR;
    }
    return rdmx_shm_ring_reserve_slow(p, len);
}

/* Publish the reserved record. */
static inline void rdmx_shm_ring_commit(rdmx_shm_ring_producer_t *p,
                                        uint32_t kind)
{
    uint64_t end = p->rec_pos + p->rec_need;

    /* Successor's slot zeroed already and enough zeroed ahead. */
    if (p->zeroed >= end + RDMX_SHM_ZERO_AHEAD / 2) {
        rdmx_shm_rec_t *rec =
            (rdmx_shm_rec_t *)(p->sh->data + (p->rec_pos & (p->size - 1)));
        rec->len = p->rec_len;
        rec->kind = kind;
        atomic_store_explicit(&rec->tag, p->rec_pos + 1,
                              memory_order_release);
        p->head = end;
        return;
    }
    rdmx_shm_ring_commit_slow(p, kind);
}

/* Room for a body of `len` bytes right now? */
int rdmx_shm_ring_has_room(rdmx_shm_ring_producer_t *p, size_t len);

/* The next record, or NULL if none is ready. PAD records are skipped
 * internally. On return *kind and *len describe the body. Returns
 * (void *)-1 for a corrupted record header (len out of range). */
const void *rdmx_shm_ring_peek(rdmx_shm_ring_consumer_t *c, uint32_t *kind,
                               size_t *len);
#define RDMX_SHM_RING_CORRUPT ((const void *)-1)

/* Done with the record returned by peek (its bytes may be overwritten).
 * The position becomes visible to the producer at the next publish. */
void rdmx_shm_ring_consume(rdmx_shm_ring_consumer_t *c);

/* Publish consumed space to the producer. Returns 1 if the producer had
 * asked for a wake-up (need_space) and the flag was cleared by this call:
 * the caller then wakes the producer. `light`: only a compiler barrier
 * between the store of the tail and the load of the request, because the
 * producer issues a heavy barrier (membarrier) in between its request and
 * its re-check; otherwise a full fence. */
int rdmx_shm_ring_publish(rdmx_shm_ring_consumer_t *c, int light);

/* Producer about to sleep with data pending: ask for a wake-up
 * (request_space), issue a full or heavy fence, then re-check: returns 1 if
 * room for `len` appeared meanwhile (the request is withdrawn; don't sleep).
 */
void rdmx_shm_ring_request_space(rdmx_shm_ring_producer_t *p);
int rdmx_shm_ring_recheck_space(rdmx_shm_ring_producer_t *p, size_t len);

/* Non-destructive: is a record ready? */
int rdmx_shm_ring_ready(const rdmx_shm_ring_consumer_t *c);

#endif
