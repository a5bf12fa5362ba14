/*
 * shm_get.c — rendezvous reads between local ranks.
 *
 * Single copy: the reader calls process_vm_readv on the owner's pid (CMA).
 * The rkey carries that pid; the kernel checks the reader may ptrace the
 * owner (same uid, Yama permitting — open() relaxes Yama with
 * PR_SET_PTRACER).
 *
 * Two copies, when the kernel refuses CMA (EPERM, ENOSYS, other pid
 * namespace) or RDMX_SHM_CMA=0: the reader sends GET_REQ through the ring;
 * the owner checks the range against its registrations and streams the
 * bytes back as GET_DATA records, half a ring at a time so that copying in
 * and copying out overlap.
 *
 * Two copies also for large point-to-point reads when they are faster:
 * under some hypervisors pinning the pages costs CMA most of its speed
 * (this 2-core VM: process_vm_readv 15-16 GB/s against memcpy's 47 on a
 * cached 4 MiB buffer), and two user-space copies on two cores beat one in
 * the kernel (4 MiB stream 20.6-22.0 GB/s against 13.3-14.9). A timing of
 * both on 1 MiB at the first such read decides. Not for a collective's
 * fan-out (RDMX_GET_FLAG_FANOUT): there the owner would copy for every
 * reader in turn, while CMA lets the readers pull in parallel (8 ranks,
 * 1 MiB bcast: 545-574 us against 212-447).
 *
 * Completion is always asynchronous: get() returns RDMX_INPROGRESS and
 * comp->cb runs from a later progress() — also for a CMA read that finished
 * inside get() — so the core never sees a callback before get() returns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/runtime.h"
#include "shm_internal.h"

RDMX_CONFIG_VAR("RDMX_SHM_PIPELINE_MIN", "2m",
                "shm: point-to-point messages from this size up go through "
                "the two-copy pipeline when a timing at the first one finds "
                "process_vm_readv under half of memcpy's speed; 0 = never");

RDMX_CONFIG_VAR("RDMX_SHM_FANOUT_BYTES", "1m",
                "shm: staging area per rank (on nodes of 3 or more ranks) "
                "for a buffer sent to several local ranks at once (bcast): "
                "copied there once, read by all with memcpy; 0 = none");

void rdmx_shm_get_init(rdmx_shm_transport_t *tp)
{
    tp->pipeline_min = rdmx_config_size("RDMX_SHM_PIPELINE_MIN");
    tp->pipeline_verdict = 0;
    size_t fb = rdmx_config_size("RDMX_SHM_FANOUT_BYTES");
    tp->fanout_bytes =
        tp->local_size >= 3 ? (fb + 4095) & ~(size_t)4095 : 0;
}

static double rdmx_shm_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Time a 1 MiB memcpy against a 1 MiB process_vm_readv of our own memory
 * (best of three each, about 0.3 ms); 1 if the pipeline wins. */
static int rdmx_shm_calibrate(void)
{
    const size_t n = (size_t)1 << 20;
    unsigned char *a = malloc(n), *b = malloc(n);
    double best_copy = 1e9, best_cma = 1e9;
    volatile unsigned char sink = 0;
    int ok = a && b;

    if (ok) {
        memset(a, 1, n);
        memset(b, 0, n);
    }
    for (int i = 0; ok && i < 3; i++) {
        struct iovec l = {b, n}, r = {a, n};
        double t0 = rdmx_shm_seconds();
        memcpy(b, a, n);
        sink ^= b[n / 2];
        double t1 = rdmx_shm_seconds();
        if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) != (ssize_t)n)
            ok = 0;
        double t2 = rdmx_shm_seconds();
        if (t1 - t0 < best_copy)
            best_copy = t1 - t0;
        if (t2 - t1 < best_cma)
            best_cma = t2 - t1;
    }
    free(a);
    free(b);
    (void)sink;
    if (!ok)
        return 0;
    int wins = best_cma > 2 * best_copy;
    RDMX_INFO("shm: 1 MiB takes %.0f us with process_vm_readv, %.0f us with "
              "memcpy: large point-to-point messages use %s",
              best_cma * 1e6, best_copy * 1e6,
              wins ? "the two-copy pipeline" : "single-copy reads");
    return wins;
}

static int rdmx_shm_pipeline_wins(rdmx_shm_transport_t *tp, size_t len,
                                  unsigned flags)
{
    if (!tp->pipeline_min || len < tp->pipeline_min ||
        (flags & RDMX_GET_FLAG_FANOUT))
        return 0;
    if (!tp->pipeline_verdict)
        tp->pipeline_verdict = rdmx_shm_calibrate() ? 1 : 2;
    return tp->pipeline_verdict == 1;
}

/* Read by peers at wireup; never changes after open(). */
static volatile uint64_t rdmx_shm_cma_nonce;

void rdmx_shm_cma_publish(rdmx_shm_ctl_t *ctl)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    rdmx_shm_cma_nonce = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^
                         (uint64_t)ts.tv_sec << 20 ^ 0x5eed5eed5eed5eedull;
    ctl->cma_probe_addr = (uint64_t)(uintptr_t)&rdmx_shm_cma_nonce;
    ctl->cma_nonce = rdmx_shm_cma_nonce;
}

int rdmx_shm_cma_check(rdmx_ep_t *ep)
{
    uint64_t got = 0;
    struct iovec l = {&got, sizeof(got)};
    struct iovec r = {(void *)(uintptr_t)ep->ctl->cma_probe_addr, sizeof(got)};
    ssize_t n = process_vm_readv(ep->pid, &l, 1, &r, 1, 0);

    if (n != (ssize_t)sizeof(got)) {
        RDMX_INFO("shm: single-copy reads from rank %d (pid %d) not "
                  "possible (%s): using the two-copy path",
                  ep->peer, (int)ep->pid,
                  n < 0 ? strerror(errno) : "short read");
        return 0;
    }
    if (got != ep->ctl->cma_nonce) {
        RDMX_INFO("shm: pid %d is not rank %d in this pid namespace: using "
                  "the two-copy path",
                  (int)ep->pid, ep->peer);
        return 0;
    }
    return 1;
}

rdmx_status_t rdmx_shm_mem_reg(rdmx_transport_t *base, void *addr, size_t len,
                               rdmx_memh_t **out)
{
    rdmx_shm_transport_t *tp = (rdmx_shm_transport_t *)base;
    rdmx_shm_rkey_t key;
    rdmx_shm_memh_t *mh;
    uint32_t id;

    mh = calloc(1, sizeof(*mh));
    if (!mh)
        return RDMX_ERR_NOMEM;
    /* Find a free registration slot (ids are reused, generations not). */
    for (id = tp->free_region; id < tp->nregions && tp->regions[id]; id++)
        ;
    if (id == tp->nregions) {
        if (tp->nregions == tp->regions_cap) {
            uint32_t cap = tp->regions_cap ? tp->regions_cap * 2 : 64;
            rdmx_shm_memh_t **r =
                realloc(tp->regions, (size_t)cap * sizeof(*r));
            if (!r) {
                free(mh);
                return RDMX_ERR_NOMEM;
            }
            tp->regions = r;
            tp->regions_cap = cap;
        }
        tp->regions[tp->nregions++] = NULL;
    }
    mh->region = id;
    mh->gen = ++tp->region_gen;
    mh->base.addr = addr;
    mh->base.len = len;
    key.magic = RDMX_SHM_RKEY_MAGIC;
    key.pid = (int32_t)tp->pid;
    key.region = id;
    key.gen = mh->gen;
    key.stage_gen = 0;
    memcpy(mh->base.rkey, &key, sizeof(key));
    mh->base.rkey_len = sizeof(key);
    tp->regions[id] = mh;
    tp->free_region = id + 1;
    tp->nexposed++;
    *out = &mh->base;
    return RDMX_OK;
}

void rdmx_shm_mem_dereg(rdmx_transport_t *base, rdmx_memh_t *memh)
{
    rdmx_shm_transport_t *tp = (rdmx_shm_transport_t *)base;
    rdmx_shm_memh_t *mh = (rdmx_shm_memh_t *)memh;

    if (!mh)
        return;
    if (mh->fanout && --tp->fanout_refs == 0)
        tp->fanout_staged = 0;
    if (mh->region < tp->nregions && tp->regions[mh->region] == mh) {
        tp->regions[mh->region] = NULL;
        if (mh->region < tp->free_region)
            tp->free_region = mh->region;
        if (!mh->get_dest)
            tp->nexposed--;
    }
    /* A copy-mode GET still being served from this region would read freed
     * memory: the core deregisters only after FIN, i.e. after the reader
     * has all bytes, so none is. */
    free(mh);
}

/* A buffer several local ranks will read at once (a collective's fan-out).
 * The first registration of a buffer is an ordinary one; a second while
 * the first lives (the next reader of the same bytes) copies the buffer
 * into our staging area once, and that and every further registration of
 * it carry the staging generation in their key: those readers memcpy from
 * the shared area, which on this VM is three times as fast as
 * process_vm_readv. The area is reused only when no registration names it
 * any more, i.e. after every reader's FIN. */
rdmx_status_t rdmx_shm_mem_reg_shared(rdmx_transport_t *base, void *addr,
                                      size_t len, rdmx_memh_t **out)
{
    rdmx_shm_transport_t *tp = (rdmx_shm_transport_t *)base;
    rdmx_status_t st = rdmx_shm_mem_reg(base, addr, len, out);
    rdmx_shm_memh_t *mh;

    if (st != RDMX_OK || !tp->fanout_bytes || !tp->ctl)
        return st;
    mh = (rdmx_shm_memh_t *)*out;
    if (tp->fanout_refs == 0) {
        tp->fanout_addr = addr;
        tp->fanout_len = len;
        tp->fanout_staged = 0;
    } else if (tp->fanout_addr != addr || tp->fanout_len != len) {
        return RDMX_OK; /* another buffer is out: an ordinary one */
    } else if (!tp->fanout_staged && len <= tp->fanout_bytes) {
        rdmx_shm_ctl_t *ctl = tp->ctl;
        memcpy((char *)ctl + ctl->fanout_offset, addr, len);
        if (++tp->fanout_gen == 0)
            tp->fanout_gen = 1;
        atomic_store_explicit(&ctl->fanout_base, (uint64_t)(uintptr_t)addr,
                              memory_order_relaxed);
        atomic_store_explicit(&ctl->fanout_len, (uint64_t)len,
                              memory_order_relaxed);
        atomic_store_explicit(&ctl->fanout_gen, tp->fanout_gen,
                              memory_order_release);
        tp->fanout_staged = 1;
        RDMX_DEBUG("shm: %zu bytes staged for several readers "
                   "(generation %u)",
                   len, tp->fanout_gen);
    }
    mh->fanout = 1;
    tp->fanout_refs++;
    if (tp->fanout_staged) {
        rdmx_shm_rkey_t key;
        memcpy(&key, mh->base.rkey, sizeof(key));
        key.stage_gen = tp->fanout_gen;
        memcpy(mh->base.rkey, &key, sizeof(key));
    }
    return RDMX_OK;
}

/* Reader side: `len` bytes at the owner's `remote_addr` from its staging
 * area, if the key's generation is what the area holds (before and after
 * the copy). 0 if not: the caller reads the owner's memory instead. */
static int rdmx_shm_get_staged(rdmx_ep_t *ep, void *local, size_t len,
                               uint64_t remote_addr,
                               const rdmx_shm_rkey_t *key)
{
    rdmx_shm_ctl_t *ctl = ep->ctl;
    uint64_t base, slen;

    if (!key->stage_gen || !ctl->fanout_bytes ||
        atomic_load_explicit(&ctl->fanout_gen, memory_order_acquire) !=
            key->stage_gen)
        return 0;
    base = atomic_load_explicit(&ctl->fanout_base, memory_order_relaxed);
    slen = atomic_load_explicit(&ctl->fanout_len, memory_order_relaxed);
    /* Never trust the peer's numbers: stay inside the area we mapped. */
    if (slen > ctl->fanout_bytes || remote_addr < base ||
        remote_addr - base > slen || len > slen - (remote_addr - base))
        return 0;
    memcpy(local, (const char *)ctl + ctl->fanout_offset + (remote_addr - base),
           len);
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&ctl->fanout_gen, memory_order_relaxed) ==
           key->stage_gen;
}

rdmx_shm_memh_t *rdmx_shm_region_find(rdmx_shm_transport_t *tp,
                                      uint32_t region, uint32_t gen,
                                      uint64_t addr, uint64_t len)
{
    rdmx_shm_memh_t *mh = region < tp->nregions ? tp->regions[region] : NULL;
    uintptr_t lo, hi;

    if (!mh || mh->gen != gen)
        return NULL;
    lo = (uintptr_t)mh->base.addr;
    hi = lo + mh->base.len;
    if (addr < lo || addr > hi || len > hi - addr)
        return NULL;
    return mh;
}

rdmx_status_t rdmx_shm_get_cma(rdmx_ep_t *ep, void *local, size_t len,
                               uint64_t remote_addr)
{
    size_t done = 0;

    while (done < len) {
        struct iovec l = {(char *)local + done, len - done};
        struct iovec r = {(void *)(uintptr_t)(remote_addr + done), len - done};
        ssize_t n = process_vm_readv(ep->pid, &l, 1, &r, 1, 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EPERM || errno == ENOSYS || errno == ESRCH ||
                           errno == EACCES
                       ? RDMX_ERR_UNSUPPORTED
                       : RDMX_ERR_IO;
        }
        if (n == 0) {
            errno = EFAULT;
            return RDMX_ERR_IO;
        }
        done += (size_t)n;
    }
    return RDMX_OK;
}

static rdmx_status_t rdmx_shm_get_copy(rdmx_ep_t *ep, void *local, size_t len,
                                       uint64_t remote_addr,
                                       const rdmx_shm_rkey_t *key,
                                       rdmx_completion_t *comp)
{
    rdmx_shm_transport_t *tp = ep->tp;
    rdmx_shm_get_req_t req;
    rdmx_shm_get_op_t *op = NULL;
    rdmx_status_t st;
    uint32_t id;

    for (id = 0; id < tp->ngets_cap; id++)
        if (!tp->gets[id].comp) {
            op = &tp->gets[id];
            break;
        }
    if (!op) {
        uint32_t cap = tp->ngets_cap ? tp->ngets_cap * 2 : 32;
        rdmx_shm_get_op_t *g = realloc(tp->gets, (size_t)cap * sizeof(*g));
        if (!g)
            return RDMX_ERR_NOMEM;
        memset(g + tp->ngets_cap, 0,
               (size_t)(cap - tp->ngets_cap) * sizeof(*g));
        tp->gets = g;
        id = tp->ngets_cap;
        tp->ngets_cap = cap;
        op = &tp->gets[id];
    }
    op->comp = comp;
    op->dst = local;
    op->len = len;
    op->received = 0;
    op->gen++;
    op->peer_local = ep->local;
    op->status = RDMX_OK;

    req.cookie = (uint64_t)id | (uint64_t)op->gen << 32;
    req.addr = remote_addr;
    req.len = len;
    req.region = key->region;
    req.gen = key->gen;
    st = rdmx_shm_post_copy(ep, RDMX_SHM_KIND_GET_REQ, &req, sizeof(req), NULL,
                            0);
    if (st != RDMX_OK) {
        op->comp = NULL;
        return st;
    }
    if (len == 0) {
        /* Nothing will come back: complete now (asynchronously). */
        op->comp = NULL;
        st = rdmx_shm_complete_later(tp, comp, RDMX_OK);
        return st == RDMX_OK ? RDMX_INPROGRESS : st;
    }
    return RDMX_INPROGRESS;
}

rdmx_status_t rdmx_shm_get(rdmx_ep_t *ep, void *local, size_t len,
                           rdmx_memh_t *local_memh, uint64_t remote_addr,
                           const uint8_t *rkey, uint32_t rkey_len,
                           unsigned flags,
                           rdmx_completion_t *comp)
{
    rdmx_shm_transport_t *tp = ep->tp;
    rdmx_shm_rkey_t key;
    rdmx_status_t st;

    if (rkey_len != sizeof(key)) {
        RDMX_ERROR("shm: GET from rank %d: remote key of %u bytes, expected "
                   "%zu",
                   ep->peer, rkey_len, sizeof(key));
        return RDMX_ERR_PROTO;
    }
    memcpy(&key, rkey, sizeof(key));
    if (key.magic != RDMX_SHM_RKEY_MAGIC || key.pid != ep->pid) {
        RDMX_ERROR("shm: GET from rank %d: remote key is not an shm key of "
                   "pid %d",
                   ep->peer, (int)ep->pid);
        return RDMX_ERR_PROTO;
    }
    if (ep->failed)
        return RDMX_ERR_PEER_GONE;
    if (remote_addr + len < remote_addr) {
        RDMX_ERROR("shm: GET from rank %d: range 0x%llx+%zu wraps around",
                   ep->peer, (unsigned long long)remote_addr, len);
        return RDMX_ERR_INVALID;
    }
    if (local_memh && !((rdmx_shm_memh_t *)local_memh)->get_dest) {
        ((rdmx_shm_memh_t *)local_memh)->get_dest = 1;
        tp->nexposed--;
    }
    if (rdmx_shm_get_staged(ep, local, len, remote_addr, &key)) {
        st = rdmx_shm_complete_later(tp, comp, RDMX_OK);
        return st == RDMX_OK ? RDMX_INPROGRESS : st;
    }
    if (ep->cma && !rdmx_shm_pipeline_wins(tp, len, flags)) {
        /* In a fan-out the owner's help would be split among all readers
         * and only add hand-overs: 8 ranks, 1 MiB bcast 178-215 us with it,
         * 141-173 without (Open MPI 161-195). */
        st = flags & RDMX_GET_FLAG_FANOUT
                 ? RDMX_ERR_AGAIN
                 : rdmx_shm_coop_get(ep, local, len, remote_addr, &key, comp);
        if (st != RDMX_ERR_AGAIN)
            return st;
        st = rdmx_shm_get_cma(ep, local, len, remote_addr);
        if (st == RDMX_OK) {
            st = rdmx_shm_complete_later(tp, comp, RDMX_OK);
            return st == RDMX_OK ? RDMX_INPROGRESS : st;
        }
        if (st != RDMX_ERR_UNSUPPORTED) {
            RDMX_ERROR("shm: process_vm_readv of %zu bytes at 0x%llx in rank "
                       "%d (pid %d) failed: %s",
                       len, (unsigned long long)remote_addr, ep->peer,
                       (int)ep->pid, strerror(errno));
            return st;
        }
        RDMX_INFO("shm: single-copy reads from rank %d (pid %d) refused by "
                  "the kernel (%s): using the two-copy path",
                  ep->peer, (int)ep->pid, strerror(errno));
        ep->cma = 0;
    }
    return rdmx_shm_get_copy(ep, local, len, remote_addr, &key, comp);
}

/* Owner side: a reader asks for bytes of one of our registrations. */
void rdmx_shm_get_on_request(rdmx_shm_transport_t *tp, rdmx_ep_t *ep,
                             const void *body, size_t len)
{
    rdmx_shm_get_req_t req;
    rdmx_shm_get_data_t refusal = {0};
    rdmx_shm_out_t *o;

    if (len != sizeof(req)) {
        RDMX_ERROR("shm: GET request of %zu bytes from rank %d", len, ep->peer);
        return;
    }
    memcpy(&req, body, sizeof(req));
    /* Serve only from live registrations, inside their bounds. */
    if (!rdmx_shm_region_find(tp, req.region, req.gen, req.addr, req.len)) {
        RDMX_ERROR("shm: rank %d asked for %llu bytes at 0x%llx outside any "
                   "registered region of rank %d",
                   ep->peer, (unsigned long long)req.len,
                   (unsigned long long)req.addr, tp->base.rt->rank);
        refusal.cookie = req.cookie;
        refusal.status = RDMX_ERR_INVALID;
        rdmx_shm_post_copy(ep, RDMX_SHM_KIND_GET_DATA, &refusal,
                           sizeof(refusal), NULL, 0);
        return;
    }
    if (req.len == 0)
        return;
    o = calloc(1, sizeof(*o));
    if (!o) {
        refusal.cookie = req.cookie;
        refusal.status = RDMX_ERR_NOMEM;
        rdmx_shm_post_copy(ep, RDMX_SHM_KIND_GET_DATA, &refusal,
                           sizeof(refusal), NULL, 0);
        return;
    }
    o->type = RDMX_SHM_OUT_SERVE;
    o->cookie = req.cookie;
    o->src = (const unsigned char *)(uintptr_t)req.addr;
    o->len = req.len;
    o->done = 0;
    rdmx_shm_out_append(ep, o);
    /* progress() flushes the queue after polling the rings. */
}

/* Reader side: a chunk (or a refusal) for one of our copy-mode GETs. */
void rdmx_shm_get_on_data(rdmx_shm_transport_t *tp, rdmx_ep_t *ep,
                          const void *body, size_t len)
{
    rdmx_shm_get_data_t d;
    rdmx_shm_get_op_t *op;
    uint32_t id, gen;
    size_t chunk;

    if (len < sizeof(d)) {
        RDMX_ERROR("shm: GET data record of %zu bytes from rank %d", len,
                   ep->peer);
        return;
    }
    memcpy(&d, body, sizeof(d));
    id = (uint32_t)d.cookie;
    gen = (uint32_t)(d.cookie >> 32);
    chunk = len - sizeof(d);
    if (id >= tp->ngets_cap || !tp->gets[id].comp || tp->gets[id].gen != gen ||
        tp->gets[id].peer_local != ep->local) {
        RDMX_ERROR("shm: GET data from rank %d for an unknown request",
                   ep->peer);
        return;
    }
    op = &tp->gets[id];
    if (d.status != RDMX_OK) {
        RDMX_ERROR("shm: rank %d refused a GET of %llu bytes: %s", ep->peer,
                   (unsigned long long)op->len,
                   rdmx_status_str((rdmx_status_t)d.status));
        op->status = (rdmx_status_t)d.status;
        op->received = op->len;
    } else if (d.offset != op->received || chunk > op->len - op->received) {
        RDMX_ERROR("shm: GET data from rank %d at offset %llu+%zu, expected "
                   "%llu of %llu",
                   ep->peer, (unsigned long long)d.offset, chunk,
                   (unsigned long long)op->received,
                   (unsigned long long)op->len);
        op->status = RDMX_ERR_PROTO;
        op->received = op->len;
    } else {
        memcpy(op->dst + d.offset, (const unsigned char *)body + sizeof(d),
               chunk);
        op->received += chunk;
    }
    if (op->received == op->len) {
        rdmx_completion_t *comp = op->comp;
        op->comp = NULL;
        comp->cb(comp, op->status);
    }
}

void rdmx_shm_get_fail_peer(rdmx_shm_transport_t *tp, int local)
{
    for (uint32_t id = 0; id < tp->ngets_cap; id++) {
        rdmx_shm_get_op_t *op = &tp->gets[id];
        if (op->comp && op->peer_local == local) {
            rdmx_completion_t *comp = op->comp;
            op->comp = NULL;
            comp->cb(comp, RDMX_ERR_PEER_GONE);
        }
    }
}

void rdmx_shm_get_cleanup(rdmx_shm_transport_t *tp)
{
    for (uint32_t i = 0; i < tp->nregions; i++)
        free(tp->regions[i]);
    free(tp->regions);
    free(tp->gets);
    tp->regions = NULL;
    tp->gets = NULL;
}
