/*
 * verbs_regcache.c — interval bookkeeping of registrations (contract and
 * the free/reuse argument in verbs_regcache.h).
 *
 * A sorted array: the number of live registrations is the number of
 * rendezvous messages in flight, small, and a cache line friendly binary
 * search beats a tree at that size.
 */
#include <stdlib.h>
#include <string.h>

#include "verbs_regcache.h"

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
}

static void entry_destroy(rdmx_verbs_regcache_t *rc, rdmx_verbs_reg_t *r)
{
    rc->dereg(rc->ctx, r->handle);
    free(r);
}

static void remove_at(rdmx_verbs_regcache_t *rc, size_t i)
{
    memmove(&rc->v[i], &rc->v[i + 1], (rc->n - i - 1) * sizeof(rc->v[0]));
    rc->n--;
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

    /* Candidates start at or before `start`; entries are few, so scan
     * backwards from the upper bound for one that also covers `end`. */
    size_t ub = upper_bound(rc, start);
    for (size_t i = ub; i-- > 0;) {
        rdmx_verbs_reg_t *r = rc->v[i];
        if (!r->invalid && r->end >= end) {
            r->refcnt++;
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
    if (st != RDMX_OK) {
        free(r);
        return st;
    }
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
    for (size_t i = 0; i < rc->n; i++) {
        if (rc->v[i] == r) {
            remove_at(rc, i);
            break;
        }
    }
    entry_destroy(rc, r);
}

size_t rdmx_verbs_regcache_invalidate(rdmx_verbs_regcache_t *rc, void *addr,
                                      size_t len)
{
    uintptr_t a = (uintptr_t)addr, e = a + len;
    size_t hit = 0;
    if (len == 0)
        return 0;
    if (e < a)
        e = UINTPTR_MAX;
    for (size_t i = 0; i < rc->n;) {
        rdmx_verbs_reg_t *r = rc->v[i];
        if (r->start < e && a < r->end && !r->invalid) {
            hit++;
            r->invalid = 1;
            if (r->refcnt == 0) {
                remove_at(rc, i);
                entry_destroy(rc, r);
                continue;
            }
        }
        i++;
    }
    return hit;
}
