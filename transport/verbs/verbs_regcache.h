/*
 * verbs_regcache.h — the registration cache: interval bookkeeping of memory
 * registrations, independent of libibverbs (the register/deregister calls
 * are callbacks, so the interval logic is unit-tested without a device).
 *
 * Correctness under free/reuse. A cached registration pins the physical
 * pages that backed its range when it was made; if the application frees
 * the range (free, munmap, realloc) and gets new memory at the same
 * address, a stale entry would make RDMA read the old pages. rdmx does not
 * patch libc to learn about unmaps (glibc's free() calls munmap internally,
 * out of reach of symbol interposition), so the cache is correct by
 * construction instead: an entry lives exactly as long as some request
 * uses it (reference count). Concurrent and overlapping requests share one
 * registration (a window of MPI_Isend on slices of one array registers it
 * once), and the entry is deregistered when its last user releases it. A
 * buffer freed while an MPI request still uses it is an application error
 * under the MPI standard anyway.
 *
 * rdmx_verbs_regcache_invalidate() drops every entry overlapping a range at
 * once (from no new lookups; deregistered on last release), for callers
 * that know memory went away.
 */
#ifndef RDMX_VERBS_REGCACHE_H
#define RDMX_VERBS_REGCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct rdmx_verbs_reg {
    uintptr_t start, end; /* page-aligned, [start, end) */
    int refcnt;
    int invalid;  /* overlapped an invalidated range: no new users */
    void *handle; /* what reg() returned (an ibv_mr) */
} rdmx_verbs_reg_t;

typedef struct rdmx_verbs_regcache {
    rdmx_verbs_reg_t **v; /* sorted by start, then end */
    size_t n, cap;
    size_t page;
    /* Register [addr, addr+len); 0 on success with *handle set. */
    rdmx_status_t (*reg)(void *ctx, void *addr, size_t len, void **handle);
    void (*dereg)(void *ctx, void *handle);
    void *ctx;
    uint64_t hits, misses; /* for RDMX_LOG=debug */
} rdmx_verbs_regcache_t;

void rdmx_verbs_regcache_init(rdmx_verbs_regcache_t *rc, size_t page,
                              rdmx_status_t (*reg)(void *, void *, size_t,
                                                   void **),
                              void (*dereg)(void *, void *), void *ctx);
/* Deregisters everything (entries still referenced are a caller bug and
 * are reported by the return value: the number of such entries). */
size_t rdmx_verbs_regcache_fini(rdmx_verbs_regcache_t *rc);

/* A registration covering [addr, addr+len), referenced once more. len > 0. */
rdmx_status_t rdmx_verbs_regcache_acquire(rdmx_verbs_regcache_t *rc, void *addr,
                                          size_t len, rdmx_verbs_reg_t **out);
void rdmx_verbs_regcache_release(rdmx_verbs_regcache_t *rc,
                                 rdmx_verbs_reg_t *r);
/* Memory [addr, addr+len) is gone: no entry overlapping it is handed out
 * again. Returns the number of entries affected. */
size_t rdmx_verbs_regcache_invalidate(rdmx_verbs_regcache_t *rc, void *addr,
                                      size_t len);

#endif
