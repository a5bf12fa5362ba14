/*
 * verbs_regcache.c — interval bookkeeping of registrations, kept idle
 * entries (LRU) and the deferred invalidation queue (contract and the
 * free/reuse argument in verbs_regcache.h).
 *
 * A sorted array: a few hundred entries at most (bounded by max_entries
 * plus the rendezvous in flight), where a binary search and a short scan
 * over contiguous pointers beat a tree.
 */
#include <stdlib.h>
#include <string.h>

#include "verbs_regcache.h"

/* qpending: number of queued ranges, or this bit once the queue filled. */
#define QOVERFLOW 0x80000000u

/* Set while this thread holds qlock in drain(): an unmap reported from a
 * signal handler that interrupted it must not spin on the lock. */
static _Thread_local int tls_draining;

void rdmx_verbs_regcache_init(rdmx_verbs_regcache_t *rc, size_t page,
                              rdmx_status_t (*reg)(void *, void *, size_t,
                                                   void **),
                              void (*dereg)(void *, void *), void *ctx)
{
    memset(rc, 0, sizeof(*rc));
    rc->page = page ? page : 4096;
    rc->reg = reg;
    rc->dereg = dereg;
    rc->ctx = ctx;
    atomic_flag_clear(&rc->qlock);
    atomic_init(&rc->qpending, 0);
}

void rdmx_verbs_regcache_set_limits(rdmx_verbs_regcache_t *rc,
                                    size_t max_entries, size_t max_bytes)
{
    rc->max_entries = max_entries;
    rc->max_bytes = max_bytes;
}

static void lru_unlink(rdmx_verbs_regcache_t *rc, rdmx_verbs_reg_t *r)
{
    if (r->lru_prev)
        r->lru_prev->lru_next = r->lru_next;
    else
        rc->lru_head = r->lru_next;
    if (r->lru_next)
        r->lru_next->lru_prev = r->lru_prev;
    else
        rc->lru_tail = r->lru_prev;
    r->lru_prev = r->lru_next = NULL;
    rc->nidle--;
}

static void lru_push(rdmx_verbs_regcache_t *rc, rdmx_verbs_reg_t *r)
{
    r->lru_prev = NULL;
    r->lru_next = rc->lru_head;
    if (rc->lru_head)
        rc->lru_head->lru_prev = r;
    else
        rc->lru_tail = r;
    rc->lru_head = r;
    rc->nidle++;
}

static void entry_destroy(rdmx_verbs_regcache_t *rc, rdmx_verbs_reg_t *r)
{
    rc->bytes -= r->end - r->start;
    rc->dereg(rc->ctx, r->handle);
    free(r);
}

/* Index of r in v (r is there). */
static size_t index_of(const rdmx_verbs_regcache_t *rc,
                       const rdmx_verbs_reg_t *r);

static void remove_at(rdmx_verbs_regcache_t *rc, size_t i)
{
    memmove(&rc->v[i], &rc->v[i + 1], (rc->n - i - 1) * sizeof(rc->v[0]));
    rc->n--;
}

/* Drops an idle entry: off the LRU list, out of the array, deregistered. */
static void drop_idle(rdmx_verbs_regcache_t *rc, rdmx_verbs_reg_t *r)
{
    lru_unlink(rc, r);
    remove_at(rc, index_of(rc, r));
    entry_destroy(rc, r);
}

size_t rdmx_verbs_regcache_fini(rdmx_verbs_regcache_t *rc)
{
    size_t busy = 0;
    for (size_t i = 0; i < rc->n; i++) {
        if (rc->v[i]->refcnt > 0)
            busy++;
        entry_destroy(rc, rc->v[i]);
    }
    free(rc->v);
    rc->v = NULL;
    rc->n = rc->cap = 0;
    rc->lru_head = rc->lru_tail = NULL;
    rc->nidle = 0;
    return busy;
}

/* First index whose start is > `start` (upper bound). */
static size_t upper_bound(const rdmx_verbs_regcache_t *rc, uintptr_t start)
{
    size_t lo = 0, hi = rc->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rc->v[mid]->start <= start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t index_of(const rdmx_verbs_regcache_t *rc,
                       const rdmx_verbs_reg_t *r)
{
    /* Entries with equal starts sit together just below the bound. */
    for (size_t i = upper_bound(rc, r->start); i-- > 0;)
        if (rc->v[i] == r)
            return i;
    abort(); /* not in the array: the bookkeeping is broken */
}

static size_t invalidate_range(rdmx_verbs_regcache_t *rc, uintptr_t a,
                               uintptr_t e)
{
    size_t hit = 0;
    for (size_t i = 0; i < rc->n;) {
        rdmx_verbs_reg_t *r = rc->v[i];
        if (r->start < e && a < r->end && !r->invalid) {
            hit++;
            r->invalid = 1;
            if (r->refcnt == 0) {
                lru_unlink(rc, r);
                remove_at(rc, i);
                entry_destroy(rc, r);
                continue;
            }
        }
        i++;
    }
    rc->invalidated += hit;
    return hit;
}

size_t rdmx_verbs_regcache_invalidate(rdmx_verbs_regcache_t *rc, void *addr,
                                      size_t len)
{
    uintptr_t a = (uintptr_t)addr, e = a + len;
    if (len == 0)
        return 0;
    if (e < a)
        e = UINTPTR_MAX;
    return invalidate_range(rc, a, e);
}

void rdmx_verbs_regcache_unmapped(rdmx_verbs_regcache_t *rc, uintptr_t start,
                                  uintptr_t end)
{
    if (tls_draining) {
        atomic_fetch_or(&rc->qpending, QOVERFLOW);
        return;
    }
    while (atomic_flag_test_and_set_explicit(&rc->qlock, memory_order_acquire))
        ;
    if (end == UINTPTR_MAX && start == 0)
        atomic_fetch_or(&rc->qpending, QOVERFLOW);
    else if (rc->qn < RDMX_VERBS_REGCACHE_QUEUE) {
        rc->q[rc->qn].start = start;
        rc->q[rc->qn].end = end;
        rc->qn++;
        atomic_fetch_add(&rc->qpending, 1);
    } else {
        atomic_fetch_or(&rc->qpending, QOVERFLOW);
    }
    atomic_flag_clear_explicit(&rc->qlock, memory_order_release);
}

void rdmx_verbs_regcache_drain(rdmx_verbs_regcache_t *rc)
{
    /* Loop: ranges may be queued while we apply (dereg -> free -> munmap
     * of unrelated memory, other threads, signal handlers). */
    while (atomic_load_explicit(&rc->qpending, memory_order_acquire)) {
        struct {
            uintptr_t start, end;
        } q[RDMX_VERBS_REGCACHE_QUEUE];
        tls_draining = 1;
        while (
            atomic_flag_test_and_set_explicit(&rc->qlock, memory_order_acquire))
            ;
        unsigned n = rc->qn;
        memcpy(q, rc->q, n * sizeof(q[0]));
        rc->qn = 0;
        unsigned p = atomic_exchange(&rc->qpending, 0);
        atomic_flag_clear_explicit(&rc->qlock, memory_order_release);
        tls_draining = 0;
        if (p & QOVERFLOW) {
            invalidate_range(rc, 0, UINTPTR_MAX);
            continue;
        }
        for (unsigned i = 0; i < n; i++)
            invalidate_range(rc, q[i].start, q[i].end);
    }
}

static void evict(rdmx_verbs_regcache_t *rc)
{
    while (rc->lru_tail && (rc->nidle > rc->max_entries ||
                            (rc->max_bytes && rc->bytes > rc->max_bytes))) {
        rc->evicted++;
        drop_idle(rc, rc->lru_tail);
    }
}

rdmx_status_t rdmx_verbs_regcache_acquire(rdmx_verbs_regcache_t *rc, void *addr,
                                          size_t len, rdmx_verbs_reg_t **out)
{
    uintptr_t a = (uintptr_t)addr;
    if (len == 0 || a + len < a)
        return RDMX_ERR_INVALID;
    uintptr_t start = a & ~(uintptr_t)(rc->page - 1);
    uintptr_t end = (a + len + rc->page - 1) & ~(uintptr_t)(rc->page - 1);
    if (end < a + len) /* rounding wrapped */
        return RDMX_ERR_INVALID;

    rdmx_verbs_regcache_drain(rc);
    /* Candidates start at or before `start`; scan backwards from the
     * upper bound for one that also covers `end`. */
    size_t ub = upper_bound(rc, start);
    for (size_t i = ub; i-- > 0;) {
        rdmx_verbs_reg_t *r = rc->v[i];
        if (!r->invalid && r->end >= end) {
            if (r->refcnt++ == 0)
                lru_unlink(rc, r);
            rc->hits++;
            *out = r;
            return RDMX_OK;
        }
    }
    rc->misses++;

    if (rc->n == rc->cap) {
        size_t cap = rc->cap ? rc->cap * 2 : 16;
        rdmx_verbs_reg_t **v = realloc(rc->v, cap * sizeof(*v));
        if (!v)
            return RDMX_ERR_NOMEM;
        rc->v = v;
        rc->cap = cap;
    }
    rdmx_verbs_reg_t *r = calloc(1, sizeof(*r));
    if (!r)
        return RDMX_ERR_NOMEM;
    r->start = start;
    r->end = end;
    r->refcnt = 1;
    rdmx_status_t st = rc->reg(rc->ctx, (void *)start, end - start, &r->handle);
    if (st == RDMX_ERR_NOMEM && rc->lru_tail) {
        /* Out of pinnable memory: what we keep idle is the first thing to
         * give back. */
        while (rc->lru_tail) {
            rc->evicted++;
            drop_idle(rc, rc->lru_tail);
        }
        st = rc->reg(rc->ctx, (void *)start, end - start, &r->handle);
    }
    if (st != RDMX_OK) {
        free(r);
        return st;
    }
    rc->bytes += end - start;
    /* Keep (start, end) order so equal starts stay deterministic. */
    size_t i = upper_bound(rc, start);
    while (i > 0 && rc->v[i - 1]->start == start && rc->v[i - 1]->end > end)
        i--;
    memmove(&rc->v[i + 1], &rc->v[i], (rc->n - i) * sizeof(rc->v[0]));
    rc->v[i] = r;
    rc->n++;
    *out = r;
    return RDMX_OK;
}

void rdmx_verbs_regcache_release(rdmx_verbs_regcache_t *rc, rdmx_verbs_reg_t *r)
{
    if (--r->refcnt > 0)
        return;
    if (!r->invalid && rc->max_entries > 0) {
        lru_push(rc, r);
        evict(rc);
        return;
    }
    remove_at(rc, index_of(rc, r));
    entry_destroy(rc, r);
}
