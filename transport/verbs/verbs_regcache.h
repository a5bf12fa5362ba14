/*
 * verbs_regcache.h — the registration cache: interval bookkeeping of memory
 * registrations, independent of libibverbs (the register/deregister calls
 * are callbacks, so the interval logic is unit-tested without a device).
 *
 * Why a cache. ibv_reg_mr pins and maps pages in the HCA: tens of
 * microseconds plus ~1 us per page, paid twice per rendezvous message
 * (sender and receiver) if registrations do not outlive messages.
 * Applications reuse their buffers, so registrations are kept after use
 * (least recently used first out), bounded by a count and a byte total.
 *
 * Correctness under free/reuse. A registration pins the physical pages
 * that backed its range when it was made. If the application frees the
 * range (free, munmap, realloc) and gets new memory at the same address,
 * a kept registration would make RDMA read the old pages. So a kept
 * registration must be dropped before its pages leave the address space:
 * verbs_memhook.c reports every unmap (munmap, mremap, madvise DONTNEED/
 * FREE/REMOVE, mmap MAP_FIXED, brk shrinking, shmdt) to
 * rdmx_verbs_regcache_unmapped(), from inside the unmapping call, before
 * the system call. That callback may run in any thread and inside malloc
 * (free -> munmap), so it only queues the range (no allocation, a
 * spinlock held for a few stores, never while calling out); the queue is
 * applied at the start of every acquire and on progress, so a lookup
 * never sees an entry whose memory was unmapped before the lookup began.
 * A full queue degrades to "forget everything" (still correct).
 *
 * Without hooks (rdmx_verbs_regcache_set_limits never called, or
 * max_entries 0), an entry lives exactly as long as some request uses it
 * (reference count): correct by construction, but no reuse across
 * messages. Concurrent and overlapping requests share a registration in
 * both modes. A buffer freed while an MPI request still uses it is an
 * application error; its entry is hidden at once and deregistered on its
 * last release.
 */
#ifndef RDMX_VERBS_REGCACHE_H
#define RDMX_VERBS_REGCACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct rdmx_verbs_reg {
    uintptr_t start, end; /* page-aligned, [start, end) */
    int refcnt;
    int invalid;  /* overlapped an unmapped range: no new users */
    void *handle; /* what reg() returned (an ibv_mr) */
    /* Idle (refcnt 0) entries kept by the cache, most recent first. */
    struct rdmx_verbs_reg *lru_prev, *lru_next;
} rdmx_verbs_reg_t;

#define RDMX_VERBS_REGCACHE_QUEUE 128

typedef struct rdmx_verbs_regcache {
    rdmx_verbs_reg_t **v; /* sorted by start, then end */
    size_t n, cap;
    size_t page;
    /* Register [addr, addr+len); 0 on success with *handle set. */
    rdmx_status_t (*reg)(void *ctx, void *addr, size_t len, void **handle);
    void (*dereg)(void *ctx, void *handle);
    void *ctx;
    /* Keeping idle entries: off while max_entries == 0. */
    size_t max_entries, max_bytes;
    rdmx_verbs_reg_t *lru_head, *lru_tail;
    size_t nidle; /* entries on the LRU list */
    size_t bytes; /* registered bytes of all entries */
    /* Unmapped ranges not applied yet (written by any thread). */
    atomic_flag qlock;
    atomic_uint qpending; /* entries in q, or overflow: fast-path check */
    unsigned qn;
    int qoverflow;
    struct {
        uintptr_t start, end;
    } q[RDMX_VERBS_REGCACHE_QUEUE];
    /* For RDMX_LOG=debug at close and for tests. */
    uint64_t hits, misses, invalidated, evicted;
} rdmx_verbs_regcache_t;

void rdmx_verbs_regcache_init(rdmx_verbs_regcache_t *rc, size_t page,
                              rdmx_status_t (*reg)(void *, void *, size_t,
                                                   void **),
                              void (*dereg)(void *, void *), void *ctx);
/* Keep up to max_entries idle registrations totalling max_bytes (0 = no
 * byte bound). Only once unmaps are reported (see above)! */
void rdmx_verbs_regcache_set_limits(rdmx_verbs_regcache_t *rc,
                                    size_t max_entries, size_t max_bytes);
/* Deregisters everything (entries still referenced are a caller bug and
 * are reported by the return value: the number of such entries). */
size_t rdmx_verbs_regcache_fini(rdmx_verbs_regcache_t *rc);

/* A registration covering [addr, addr+len), referenced once more. len > 0.
 * On RDMX_ERR_NOMEM from reg() the idle entries are dropped and the
 * registration tried once more (pinned memory is a limited resource). */
rdmx_status_t rdmx_verbs_regcache_acquire(rdmx_verbs_regcache_t *rc, void *addr,
                                          size_t len, rdmx_verbs_reg_t **out);
void rdmx_verbs_regcache_release(rdmx_verbs_regcache_t *rc,
                                 rdmx_verbs_reg_t *r);
/* Memory [addr, addr+len) is gone: no entry overlapping it is handed out
 * again; idle ones are deregistered now. Owner thread only. Returns the
 * number of entries affected. */
size_t rdmx_verbs_regcache_invalidate(rdmx_verbs_regcache_t *rc, void *addr,
                                      size_t len);
/* The same, deferred: callable from any thread and from inside malloc
 * (the memory hook). end == UINTPTR_MAX: everything from start on. */
void rdmx_verbs_regcache_unmapped(rdmx_verbs_regcache_t *rc, uintptr_t start,
                                  uintptr_t end);
/* Applies queued unmaps (acquire does it itself; progress calls it so
 * that pages of freed memory are unpinned soon). Owner thread only. */
void rdmx_verbs_regcache_drain(rdmx_verbs_regcache_t *rc);

#endif
