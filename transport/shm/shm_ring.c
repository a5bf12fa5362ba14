/*
 * shm_ring.c — the SPSC record ring (contract and layout in shm_ring.h).
 */
#include "shm_ring.h"

#include <string.h>

#define RDMX_SHM_RING_MAGIC 0x72696e67u /* "ring" */

static inline rdmx_shm_rec_t *rdmx_shm_rec_at(rdmx_shm_ring_shared_t *sh,
                                              uint32_t size, uint64_t pos)
{
    return (rdmx_shm_rec_t *)(sh->data + (pos & (size - 1)));
}

size_t rdmx_shm_ring_footprint(uint32_t cells)
{
    return sizeof(rdmx_shm_ring_shared_t) + (size_t)cells * RDMX_SHM_CELL;
}

void rdmx_shm_ring_init(rdmx_shm_ring_shared_t *sh, uint32_t cells)
{
    atomic_store_explicit(&sh->tail, 0, memory_order_relaxed);
    atomic_store_explicit(&sh->need_space, 0, memory_order_relaxed);
    sh->size = cells * RDMX_SHM_CELL;
    sh->magic = RDMX_SHM_RING_MAGIC;
}

static int rdmx_shm_ring_valid(const rdmx_shm_ring_shared_t *sh,
                               size_t max_bytes)
{
    uint32_t size = sh->size;

    if (sh->magic != RDMX_SHM_RING_MAGIC || size < 4 * RDMX_SHM_CELL ||
        (size & (size - 1)) != 0)
        return 0;
    return sizeof(*sh) + (size_t)size <= max_bytes;
}

int rdmx_shm_ring_producer_attach(rdmx_shm_ring_producer_t *p,
                                  rdmx_shm_ring_shared_t *sh, size_t max_bytes)
{
    memset(p, 0, sizeof(*p));
    if (!rdmx_shm_ring_valid(sh, max_bytes))
        return -1;
    p->sh = sh;
    p->size = sh->size;
    /* A fresh ring: the producer starts where the consumer is. */
    p->head = atomic_load_explicit(&sh->tail, memory_order_acquire);
    p->tail_cache = p->head;
    /* A fresh ring is all zeroes (the segment was just created). */
    p->zeroed = p->head + p->size;
    return 0;
}

int rdmx_shm_ring_consumer_attach(rdmx_shm_ring_consumer_t *c,
                                  rdmx_shm_ring_shared_t *sh, size_t max_bytes)
{
    memset(c, 0, sizeof(*c));
    if (!rdmx_shm_ring_valid(sh, max_bytes))
        return -1;
    c->sh = sh;
    c->size = sh->size;
    c->tail = atomic_load_explicit(&sh->tail, memory_order_relaxed);
    c->released = c->tail;
    return 0;
}

/* Cells needed from head for a body of len bytes, including a PAD record
 * when the record would cross the end of the data area; 0 if too large. */
static uint64_t rdmx_shm_ring_span(const rdmx_shm_ring_producer_t *p,
                                   size_t len, uint32_t *pad)
{
    uint32_t need, off;

    if (len > rdmx_shm_ring_max_body(p->size))
        return 0;
    need = rdmx_shm_rec_need(len);
    off = (uint32_t)(p->head & (p->size - 1));
    *pad = off + need > p->size ? p->size - off : 0;
    return (uint64_t)*pad + need;
}

static int rdmx_shm_ring_fits(rdmx_shm_ring_producer_t *p, uint64_t span)
{
    /* Keep one cell free: the producer zeroes the tag slot after each
     * record, which must never be the consumer's unread record. */
    if (p->head + span + RDMX_SHM_CELL - p->tail_cache <= p->size)
        return 1;
    p->tail_cache = atomic_load_explicit(&p->sh->tail, memory_order_acquire);
    return p->head + span + RDMX_SHM_CELL - p->tail_cache <= p->size;
}

int rdmx_shm_ring_has_room(rdmx_shm_ring_producer_t *p, size_t len)
{
    uint32_t pad;
    uint64_t span = rdmx_shm_ring_span(p, len, &pad);

    return span != 0 && rdmx_shm_ring_fits(p, span);
}

/* Zero the tag slots of cells [p->zeroed, upto); the caller guarantees the
 * cells are free (below tail + size). */
static void rdmx_shm_ring_zero_to(rdmx_shm_ring_producer_t *p, uint64_t upto)
{
    while (p->zeroed < upto) {
        rdmx_shm_rec_t *rec = rdmx_shm_rec_at(p->sh, p->size, p->zeroed);
        atomic_store_explicit(&rec->tag, 0, memory_order_relaxed);
        p->zeroed += RDMX_SHM_CELL;
    }
}

/* Before the tag of the record [pos, pos + need) is stored: the slot where
 * the next record starts must be zero. It is free (one cell always stays
 * free), and usually already zeroed in advance. */
static void rdmx_shm_ring_prepare(rdmx_shm_ring_producer_t *p, uint64_t pos,
                                  uint32_t need)
{
    if (p->zeroed <= pos + need) {
        /* Cells of the record itself hold its body now: skip them. */
        p->zeroed = pos + need;
        rdmx_shm_ring_zero_to(p, pos + need + RDMX_SHM_CELL);
    }
}

/* After publishing: zero ahead while the consumer has left cells free, so
 * that the next small records find their successor's slot ready. */
static void rdmx_shm_ring_zero_ahead(rdmx_shm_ring_producer_t *p)
{
    uint64_t want = p->head + RDMX_SHM_ZERO_AHEAD;
    uint64_t free_end = p->tail_cache + p->size - RDMX_SHM_CELL;

    if (p->zeroed >= p->head + RDMX_SHM_ZERO_AHEAD / 2)
        return;
    if (want > free_end)
        want = free_end;
    if (p->zeroed < p->head)
        p->zeroed = p->head;
    rdmx_shm_ring_zero_to(p, want);
}

/* How far the head moves between two looks at the consumer's tail. */
#define RDMX_SHM_RING_IDLE_CHECK 1024u

/* Past the hot area with the consumer caught up: pad to the end so that
 * the next record starts the area again. */
static int rdmx_shm_ring_restart(rdmx_shm_ring_producer_t *p, size_t len)
{
    uint32_t off = (uint32_t)(p->head & (p->size - 1));

    if (off < RDMX_SHM_RING_HOT || p->size < 4 * RDMX_SHM_RING_HOT ||
        p->head - p->idle_check < RDMX_SHM_RING_IDLE_CHECK ||
        len > RDMX_SHM_RING_HOT)
        return 0;
    p->idle_check = p->head;
    p->tail_cache = atomic_load_explicit(&p->sh->tail, memory_order_acquire);
    return p->tail_cache == p->head;
}

void *rdmx_shm_ring_reserve_slow(rdmx_shm_ring_producer_t *p, size_t len)
{
    uint32_t pad = 0;
    uint64_t span = 0;
    rdmx_shm_rec_t *rec;

    if (rdmx_shm_ring_restart(p, len)) {
        pad = p->size - (uint32_t)(p->head & (p->size - 1));
        span = pad + rdmx_shm_rec_need(len);
        if (!rdmx_shm_ring_fits(p, span))
            span = 0;
    }
    if (span == 0) {
        span = rdmx_shm_ring_span(p, len, &pad);
        if (span == 0 || !rdmx_shm_ring_fits(p, span))
            return NULL;
    }
    if (pad) {
        rec = rdmx_shm_rec_at(p->sh, p->size, p->head);
        rec->len = pad - RDMX_SHM_REC_HDR;
        rec->kind = RDMX_SHM_REC_PAD;
        rdmx_shm_ring_prepare(p, p->head, pad);
        atomic_store_explicit(&rec->tag, p->head + 1, memory_order_release);
        p->head += pad;
    }
    rec = rdmx_shm_rec_at(p->sh, p->size, p->head);
    p->rec_pos = p->head;
    p->rec_need = rdmx_shm_rec_need(len);
    p->rec_len = (uint32_t)len;
    return (unsigned char *)rec + RDMX_SHM_REC_HDR;
}

void rdmx_shm_ring_commit_slow(rdmx_shm_ring_producer_t *p, uint32_t kind)
{
    rdmx_shm_rec_t *rec = rdmx_shm_rec_at(p->sh, p->size, p->rec_pos);

    rdmx_shm_ring_prepare(p, p->rec_pos, p->rec_need);
    rec->len = p->rec_len;
    rec->kind = kind;
    atomic_store_explicit(&rec->tag, p->rec_pos + 1, memory_order_release);
    p->head = p->rec_pos + p->rec_need;
    rdmx_shm_ring_zero_ahead(p);
}

int rdmx_shm_ring_ready(const rdmx_shm_ring_consumer_t *c)
{
    rdmx_shm_rec_t *rec = rdmx_shm_rec_at(c->sh, c->size, c->tail);

    return atomic_load_explicit(&rec->tag, memory_order_relaxed) == c->tail + 1;
}

const void *rdmx_shm_ring_peek(rdmx_shm_ring_consumer_t *c, uint32_t *kind,
                               size_t *len)
{
    for (;;) {
        rdmx_shm_rec_t *rec = rdmx_shm_rec_at(c->sh, c->size, c->tail);
        uint32_t off = (uint32_t)(c->tail & (c->size - 1));
        uint32_t rlen;

        if (atomic_load_explicit(&rec->tag, memory_order_acquire) !=
            c->tail + 1)
            return NULL;
        rlen = rec->len;
        /* Never trust a length read from shared memory. */
        if (rlen > c->size - off - RDMX_SHM_REC_HDR)
            return RDMX_SHM_RING_CORRUPT;
        if (rec->kind == RDMX_SHM_REC_PAD) {
            c->tail += rdmx_shm_rec_need(rlen);
            continue;
        }
        *kind = rec->kind;
        *len = rlen;
        c->cur_need = rdmx_shm_rec_need(rlen);
        return (unsigned char *)rec + RDMX_SHM_REC_HDR;
    }
}

void rdmx_shm_ring_consume(rdmx_shm_ring_consumer_t *c)
{
    c->tail += c->cur_need;
    c->cur_need = 0;
}

int rdmx_shm_ring_publish(rdmx_shm_ring_consumer_t *c, int light)
{
    if (c->released == c->tail)
        return 0;
    c->released = c->tail;
    atomic_store_explicit(&c->sh->tail, c->tail, memory_order_release);
    /* Store-load ordering against rdmx_shm_ring_request_space: either the
     * producer sees the new tail or we see its request. With `light` the
     * producer's side issues the heavy barrier (shm_fence.c). */
    if (light)
        __asm__ __volatile__("" ::: "memory");
    else
        rdmx_shm_fence();
    if (atomic_load_explicit(&c->sh->need_space, memory_order_relaxed) &&
        atomic_exchange_explicit(&c->sh->need_space, 0, memory_order_relaxed))
        return 1;
    return 0;
}

void rdmx_shm_ring_request_space(rdmx_shm_ring_producer_t *p)
{
    atomic_store_explicit(&p->sh->need_space, 1, memory_order_relaxed);
}

int rdmx_shm_ring_recheck_space(rdmx_shm_ring_producer_t *p, size_t len)
{
    if (rdmx_shm_ring_has_room(p, len)) {
        atomic_store_explicit(&p->sh->need_space, 0, memory_order_relaxed);
        return 1;
    }
    return 0;
}
