/*
 * shm_ring.c — the SPSC record ring (contract and layout in shm_ring.h).
 */
#include "shm_ring.h"

#include <stdlib.h>
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
        return RDMX_SHM_RING_INVALID;
    p->sh = sh;
    p->size = sh->size;
    /* A fresh ring is all zeroes (the segment was just created): no dirty
     * slot. One bit per cell, in whole words. */
    p->dirty = calloc(((size_t)p->size / RDMX_SHM_CELL + 63) / 64,
                      sizeof(*p->dirty));
    if (!p->dirty)
        return RDMX_SHM_RING_NOMEM;
    /* A fresh ring: the producer starts where the consumer is. */
    p->head = atomic_load_explicit(&sh->tail, memory_order_acquire);
    p->tail_cache = p->head;
    p->zero_check = p->head;
    p->zero_end = p->head + p->size; /* all zero */
    p->acked = p->head;
    return 0;
}

void rdmx_shm_ring_producer_detach(rdmx_shm_ring_producer_t *p)
{
    free(p->dirty);
    p->dirty = NULL;
}

void rdmx_shm_ring_pair(rdmx_shm_ring_producer_t *p,
                        rdmx_shm_ring_consumer_t *c)
{
    p->reverse = c;
    c->reverse = p;
}

/* An ack from the peer: cells of our ring it has read since its previous
 * record. Never past our head, so a false ack can at worst make us
 * overwrite records the peer has not read yet, which hurts only the peer
 * that sent it. */
static void rdmx_shm_ring_take_ack(rdmx_shm_ring_producer_t *p, uint16_t ack)
{
    p->acked += (uint64_t)ack * RDMX_SHM_CELL;
    if (p->acked > p->head)
        p->acked = p->head;
    if (p->acked > p->tail_cache)
        p->tail_cache = p->acked;
}

int rdmx_shm_ring_consumer_attach(rdmx_shm_ring_consumer_t *c,
                                  rdmx_shm_ring_shared_t *sh, size_t max_bytes)
{
    memset(c, 0, sizeof(*c));
    if (!rdmx_shm_ring_valid(sh, max_bytes))
        return RDMX_SHM_RING_INVALID;
    c->sh = sh;
    c->size = sh->size;
    c->tail = atomic_load_explicit(&sh->tail, memory_order_relaxed);
    c->released = c->tail;
    c->stamped = c->tail;
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

/* Refresh the view of the consumer from its published tail. Never back:
 * acks and jumps can put the view ahead of the last publication. */
static void rdmx_shm_ring_load_tail(rdmx_shm_ring_producer_t *p)
{
    uint64_t t = atomic_load_explicit(&p->sh->tail, memory_order_acquire);

    if (t > p->tail_cache)
        p->tail_cache = t;
}

static int rdmx_shm_ring_fits(rdmx_shm_ring_producer_t *p, uint64_t span)
{
    /* Keep one cell free: the producer zeroes the tag slot after each
     * record, which must never be the consumer's unread record. */
    if (p->head + span + RDMX_SHM_CELL - p->tail_cache <= p->size)
        return 1;
    rdmx_shm_ring_load_tail(p);
    return p->head + span + RDMX_SHM_CELL - p->tail_cache <= p->size;
}

int rdmx_shm_ring_has_room(rdmx_shm_ring_producer_t *p, size_t len)
{
    uint32_t pad;
    uint64_t span = rdmx_shm_ring_span(p, len, &pad);

    return span != 0 && rdmx_shm_ring_fits(p, span);
}

static inline void rdmx_shm_ring_mark(rdmx_shm_ring_producer_t *p,
                                      uint64_t pos, int dirty)
{
    uint32_t cell = (uint32_t)(pos & (p->size - 1)) / RDMX_SHM_CELL;
    uint64_t bit = (uint64_t)1 << (cell % 64);

    if (dirty)
        p->dirty[cell / 64] |= bit;
    else
        p->dirty[cell / 64] &= ~bit;
}

/* Mark the cells of [pos, end) (end - pos <= size) a word at a time: one
 * cell at a time, the marking made a stream of 1 KiB records through the
 * bare ring 15% slower than before the bitmap existed. */
static void rdmx_shm_ring_mark_range(rdmx_shm_ring_producer_t *p,
                                     uint64_t pos, uint64_t end, int dirty)
{
    uint32_t ncells = p->size / RDMX_SHM_CELL;
    uint32_t first = (uint32_t)(pos & (p->size - 1)) / RDMX_SHM_CELL;
    uint64_t n = (end - pos) / RDMX_SHM_CELL;

    while (n > 0) {
        uint32_t bit = first % 64;
        uint64_t take = 64 - bit;
        uint64_t mask;

        if (take > n)
            take = n;
        if (take > ncells - first) /* the range wraps past the last cell */
            take = ncells - first;
        mask = (take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1))
               << bit;
        if (dirty)
            p->dirty[first / 64] |= mask;
        else
            p->dirty[first / 64] &= ~mask;
        n -= take;
        first = (uint32_t)((first + take) % ncells);
    }
}

/* Make the tag slot at `pos` safe to poll: zero it if it holds body bytes.
 * The caller guarantees the cell is free (below tail + size). */
static void rdmx_shm_ring_clean(rdmx_shm_ring_producer_t *p, uint64_t pos)
{
    if (rdmx_shm_ring_dirty(p, pos)) {
        rdmx_shm_rec_t *rec = rdmx_shm_rec_at(p->sh, p->size, pos);
        atomic_store_explicit(&rec->tag, 0, memory_order_relaxed);
        rdmx_shm_ring_mark(p, pos, 0);
    }
}

/* After publishing: zero the tag slots of the free cells ahead of the
 * head, a batch at a time, so that the next small records find their
 * successor's slot clean. All of them, not only the dirty ones, as before
 * the bitmap existed: the stores also take the lines from the consumer's
 * cache before records are written there. */
static void rdmx_shm_ring_zero_ahead(rdmx_shm_ring_producer_t *p)
{
    uint64_t want = p->head + RDMX_SHM_ZERO_AHEAD;
    uint64_t free_end = p->tail_cache + p->size - RDMX_SHM_CELL;
    uint64_t pos = p->zero_end > p->head ? p->zero_end : p->head;

    if (p->head - p->zero_check < RDMX_SHM_ZERO_AHEAD / 2)
        return;
    p->zero_check = p->head;
    if (want > free_end)
        want = free_end;
    if (pos < want)
        rdmx_shm_ring_mark_range(p, pos, want, 0);
    for (; pos < want; pos += RDMX_SHM_CELL) {
        rdmx_shm_rec_t *rec = rdmx_shm_rec_at(p->sh, p->size, pos);
        atomic_store_explicit(&rec->tag, 0, memory_order_relaxed);
    }
    if (want > p->zero_end)
        p->zero_end = want;
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
    rdmx_shm_ring_load_tail(p);
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
        /* The slot after the pad starts the area, which only ever holds
         * tags; the pad's other cells keep what they held. */
        rec = rdmx_shm_rec_at(p->sh, p->size, p->head);
        rec->len = pad - RDMX_SHM_REC_HDR;
        rec->kind = RDMX_SHM_REC_PAD;
        rec->ack = 0;
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
    uint64_t end = p->rec_pos + p->rec_need;
    uint16_t ack = rdmx_shm_ring_ack_out(p);

    rdmx_shm_ring_clean(p, end); /* free: one cell always stays free */
    /* The record's first slot gets its tag, the others hold its body. */
    if (p->rec_need > RDMX_SHM_CELL)
        rdmx_shm_ring_mark_range(p, p->rec_pos + RDMX_SHM_CELL, end, 1);
    rec->len = p->rec_len;
    rec->kind = (uint16_t)kind;
    rec->ack = ack;
    atomic_store_explicit(&rec->tag, p->rec_pos + 1, memory_order_release);
    p->head = end;
    rdmx_shm_ring_zero_ahead(p);
}

const void *rdmx_shm_ring_peek(rdmx_shm_ring_consumer_t *c, uint32_t *kind,
                               size_t *len)
{
    for (;;) {
        rdmx_shm_rec_t *rec = rdmx_shm_rec_at(c->sh, c->size, c->tail);
        uint32_t off = (uint32_t)(c->tail & (c->size - 1));
        uint32_t rlen, rkind;

        if (atomic_load_explicit(&rec->tag, memory_order_acquire) !=
            c->tail + 1) {
            /* Nothing here: did the producer jump to the start? The start
             * also gets that tag when a stream simply comes round to it,
             * and then our record was written before it: looking here
             * again after the acquire of the start's tag tells the two
             * apart (after a jump nothing is ever written here in this
             * lap). */
            uint64_t start = rdmx_shm_ring_lap_start(c->tail, c->size);
            rdmx_shm_rec_t *first = (rdmx_shm_rec_t *)c->sh->data;

            if (start == c->tail ||
                atomic_load_explicit(&first->tag, memory_order_acquire) !=
                    start + 1)
                return NULL;
            if (atomic_load_explicit(&rec->tag, memory_order_acquire) !=
                c->tail + 1)
                c->tail = start;
            continue;
        }
        /* Each field is read once: the peer may change it meanwhile. */
        rlen = rec->len;
        rkind = rec->kind;
        /* Never trust a length read from shared memory. */
        if (rlen > c->size - off - RDMX_SHM_REC_HDR)
            return RDMX_SHM_RING_CORRUPT;
        if (rkind == RDMX_SHM_REC_PAD) {
            c->tail += rdmx_shm_rec_need(rlen);
            continue;
        }
        /* Taken at consume: exactly once per record. */
        c->cur_ack = rec->ack;
        c->cur_need = rdmx_shm_rec_need(rlen);
        *kind = rkind;
        *len = rlen;
        return (unsigned char *)rec + RDMX_SHM_REC_HDR;
    }
}

void rdmx_shm_ring_consume(rdmx_shm_ring_consumer_t *c)
{
    c->tail += c->cur_need;
    c->cur_need = 0;
    if (c->reverse && c->cur_ack)
        rdmx_shm_ring_take_ack(c->reverse, c->cur_ack);
    c->cur_ack = 0;
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
