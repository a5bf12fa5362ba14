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
 *   0                               8               12      14      16
 *   +-------------------------------+---------------+-------+-------+
 *   |   tag = ring position + 1     |      len      | kind  |  ack  |
 *   +-------------------------------+---------------+-------+-------+
 *   |  len bytes of body ... padded to a multiple of 64 bytes        |
 *   +----------------------------------------------------------------+
 *
 * `ack` is how many cells the producer has read of the ring of the
 * opposite direction since its previous record (at most 65535; more is
 * told in the next records).
 *
 * Synchronisation (C11 atomics, no locks, no syscalls):
 *  - The producer writes body, len and kind, then stores `tag` with release
 *    semantics. The consumer polls the tag at its position with acquire: the
 *    record is ready exactly when tag == position + 1. Polling the record
 *    itself costs one cache-line transfer per small message instead of two
 *    (counter + data).
 *  - Body bytes from an earlier lap could look like a valid tag, so the
 *    tag slot where the *next* record will start must not hold body bytes
 *    when a record is published. An old record's tag is harmless (it names
 *    an earlier position), so the producer keeps a private bitmap of the
 *    cells whose slot holds body bytes ("dirty"). It zeroes the slots ahead
 *    of its head in batches, after publishing, so that a small record's
 *    publication waits for no store to another cache line: stores become
 *    visible in order, and a zeroing store that misses in the cache would
 *    hold the tag back. Only a record whose successor's slot is still
 *    dirty zeroes it first. The producer always keeps one free cell
 *    between its head and the consumer's tail, so that slot is free. The
 *    first cell of the data area always starts a record (records never
 *    wrap), so its slot is never dirty.
 *  - Small messages cycle through the first two cells instead of sweeping
 *    the ring. When every record has been consumed and the head is
 *    RDMX_SHM_RING_JUMP_AT bytes or more into the area, a one-cell record
 *    goes to the start of the area instead ("jump"); the cells skipped are
 *    dead, so the whole ring is free again. A consumer that finds no record
 *    at its position also looks at the start of the area (the tag there
 *    names the position of the next lap, so an old record cannot pass for
 *    it). Because the producer jumps only when the consumer has read
 *    everything, the consumer is at the head and no record is skipped.
 *    Deciding this when the next record is written, not by flagging the
 *    last one, matters: a flagged record held the next lap until it was
 *    read, and a burst of small messages after it waited for the receiver
 *    (8 ranks on 2 cores: an 8-byte bcast went from 0.3 to 40 us).
 *    Two processes on the two vCPUs of this VM passing a flag through 2
 *    cache lines took about 313 ns one-way, against 350 through 16 or more
 *    lines (a new line each time) and 315 through one.
 *  - The producer learns the consumer's position without reading the
 *    consumer's cache line: a paired consumer (the same two ranks, the
 *    other direction) has every record of the pair's producer say how many
 *    cells it has read since the previous record (`ack`), so in a ping-pong
 *    each reply says how far the peer has read. Deltas, not positions: a
 *    position modulo 2^16 cells is ambiguous once a record waits unread
 *    while more than that streams the other way (it overran the ring in a
 *    bandwidth test); deltas summed in order are exact, at worst behind
 *    when capped. Streams, which carry few acks back, still sweep the
 *    whole ring.
 *  - Without acks (one-way traffic), a ring that is empty when the head is
 *    past the first RDMX_SHM_RING_HOT bytes restarts at the beginning of
 *    the area (a PAD record covers the rest, the tail is read to know it is
 *    empty): such traffic then cycles through a few pages that stay cached
 *    and mapped (on 2 ranks with 256 KiB rings that halved the ping-pong
 *    time under a hypervisor with costly page-table misses).
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
    uint16_t kind;
    uint16_t ack; /* see the layout above */
} rdmx_shm_rec_t;

/* The part of a ring that lives in shared memory. */
typedef struct rdmx_shm_ring_shared {
    _Alignas(64) _Atomic uint64_t tail;       /* consumer position, bytes */
    _Alignas(64) _Atomic uint32_t need_space; /* producer waits for cells */
    _Alignas(64) uint32_t size;               /* data bytes, set by init */
    uint32_t magic;
    _Alignas(64) unsigned char data[];
} rdmx_shm_ring_shared_t;

struct rdmx_shm_ring_consumer;

/* Producer's private view (in the producer's own memory). */
typedef struct rdmx_shm_ring_producer {
    rdmx_shm_ring_shared_t *sh;
    uint64_t head;       /* next record position */
    uint64_t tail_cache; /* consumer position last seen (tail or ack) */
    uint64_t zero_check; /* head at the last batch of zeroing ahead */
    uint64_t zero_end;   /* slots in [head, zero_end) were zeroed ahead */
    uint64_t idle_check; /* head when the ring was last checked empty */
    uint64_t *dirty;     /* bit per cell: its tag slot holds body bytes */
    /* The consumer whose progress goes into our records (ring_pair). */
    struct rdmx_shm_ring_consumer *reverse;
    uint64_t acked;      /* sum of the peer's acks: a position it has read */
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
    uint64_t stamped;  /* position our records have told the peer so far */
    /* The producer that learns the peer's position from our records. */
    rdmx_shm_ring_producer_t *reverse;
    uint32_t size;
    uint32_t cur_need; /* bytes of the record returned by peek */
    uint16_t cur_ack;  /* ack of the record returned by peek */
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

/* Attach a producer/consumer view; returns 0, RDMX_SHM_RING_INVALID if the
 * shared header is not a valid ring of at most `max_bytes` bytes in total,
 * or (producer) RDMX_SHM_RING_NOMEM if there is no memory for its
 * dirty-cell bitmap. Detach frees the bitmap. */
#define RDMX_SHM_RING_INVALID (-1)
#define RDMX_SHM_RING_NOMEM (-2)
int rdmx_shm_ring_producer_attach(rdmx_shm_ring_producer_t *p,
                                  rdmx_shm_ring_shared_t *sh, size_t max_bytes);
void rdmx_shm_ring_producer_detach(rdmx_shm_ring_producer_t *p);
int rdmx_shm_ring_consumer_attach(rdmx_shm_ring_consumer_t *c,
                                  rdmx_shm_ring_shared_t *sh, size_t max_bytes);

/* `p` produces to and `c` consumes from the same peer: p's records carry
 * c's position, and the acks c reads feed p's view of its consumer. */
void rdmx_shm_ring_pair(rdmx_shm_ring_producer_t *p,
                        rdmx_shm_ring_consumer_t *c);

/* Largest record body a ring of `size` data bytes accepts. */
static inline size_t rdmx_shm_ring_max_body(uint32_t size)
{
    return (size_t)size / 2 - RDMX_SHM_CELL - RDMX_SHM_REC_HDR;
}

/* Bytes at the start of the data area that an idle ring without acks keeps
 * reusing. */
#define RDMX_SHM_RING_HOT (16u * 1024)
/* A one-cell record jumps to the start of an idle ring from this far in. */
#define RDMX_SHM_RING_JUMP_AT (2u * RDMX_SHM_CELL)
/* Cells zeroed ahead of the head after each publication. */
#define RDMX_SHM_ZERO_AHEAD (32u * RDMX_SHM_CELL)

/* Bytes (whole cells) a record with a body of `len` bytes occupies. */
static inline uint32_t rdmx_shm_rec_need(size_t len)
{
    return (uint32_t)((len + RDMX_SHM_REC_HDR + RDMX_SHM_CELL - 1) &
                      ~(size_t)(RDMX_SHM_CELL - 1));
}

/* The first position of the next lap at or after `pos`. */
static inline uint64_t rdmx_shm_ring_lap_start(uint64_t pos, uint32_t size)
{
    return (pos + size - 1) & ~(uint64_t)(size - 1);
}

static inline int rdmx_shm_ring_dirty(const rdmx_shm_ring_producer_t *p,
                                      uint64_t pos)
{
    uint32_t cell = (uint32_t)(pos & (p->size - 1)) / RDMX_SHM_CELL;

    return (int)((p->dirty[cell / 64] >> (cell % 64)) & 1);
}

/* Jump to the start of the area for this record? Only records of one cell
 * (the small messages whose latency is the cache-line transfer), when the
 * consumer has read everything. Larger records cycled through a few cells
 * were slower: the producer then writes lines the consumer has just read,
 * where sweeping the ring writes lines its zeroing ahead has taken
 * (32-byte ping-pong, two cells a record: 0.51-0.54 us one-way against
 * 0.46-0.48). */
static inline int rdmx_shm_ring_may_jump(const rdmx_shm_ring_producer_t *p,
                                         uint32_t off, uint32_t need)
{
    return need == RDMX_SHM_CELL && off >= RDMX_SHM_RING_JUMP_AT &&
           p->tail_cache >= p->head;
}

/* The ack of the record being published: cells our paired consumer has
 * read since the previous record said. */
static inline uint16_t rdmx_shm_ring_ack_out(rdmx_shm_ring_producer_t *p)
{
    struct rdmx_shm_ring_consumer *c = p->reverse;
    uint64_t cells;

    if (!c)
        return 0;
    cells = (c->tail - c->stamped) / RDMX_SHM_CELL;
    if (cells > 0xffffu)
        cells = 0xffffu;
    c->stamped += cells * RDMX_SHM_CELL;
    return (uint16_t)cells;
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

    if (rdmx_shm_ring_may_jump(p, off, need)) {
        /* The rest of this lap is dead: nobody will read it. The start's
         * slot only ever holds tags, and the successor's is checked at
         * commit. */
        p->head = rdmx_shm_ring_lap_start(p->head, p->size);
        p->tail_cache = p->head;
        p->zero_check = p->head;
        off = 0;
    }
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

    /* One cell, its successor's slot clean, no batch of zeroing due: no
     * bitmap to update and no store besides the record's cell. */
    if (p->rec_need == RDMX_SHM_CELL && !rdmx_shm_ring_dirty(p, end) &&
        end - p->zero_check < RDMX_SHM_ZERO_AHEAD / 2) {
        rdmx_shm_rec_t *rec =
            (rdmx_shm_rec_t *)(p->sh->data + (p->rec_pos & (p->size - 1)));
        uint16_t ack = rdmx_shm_ring_ack_out(p);

        rec->len = p->rec_len;
        rec->kind = (uint16_t)kind;
        rec->ack = ack;
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

/* Non-destructive: is a record ready, at the consumer's position or at
 * the start of the area (a jump)? */
static inline int rdmx_shm_ring_ready(const rdmx_shm_ring_consumer_t *c)
{
    const rdmx_shm_rec_t *rec =
        (const rdmx_shm_rec_t *)(c->sh->data + (c->tail & (c->size - 1)));
    uint64_t start;

    if (atomic_load_explicit(&rec->tag, memory_order_relaxed) == c->tail + 1)
        return 1;
    start = rdmx_shm_ring_lap_start(c->tail, c->size);
    rec = (const rdmx_shm_rec_t *)c->sh->data;
    return start != c->tail &&
           atomic_load_explicit(&rec->tag, memory_order_relaxed) == start + 1;
}

#endif
