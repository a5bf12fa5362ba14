/*
 * shm_coop.c — large rendezvous reads shared by both ranks.
 *
 * A single-copy GET (process_vm_readv) keeps one core copying while the
 * sender, typically waiting for the transfer to finish, idles. For large
 * messages the reader instead describes the transfer in a slot of its own
 * segment (layout in shm_internal.h), tells the owner with a COOP ring
 * record, and starts copying chunks itself. An owner that polls its rings
 * meanwhile claims chunks too and writes them straight into the reader's
 * buffer with process_vm_writev: both cores copy, each byte still moves
 * once. An owner busy elsewhere simply never claims anything and the reader
 * does all of it, so the reader never waits for help, only for chunks the
 * owner has already claimed and is copying.
 *
 * The owner validates the source range against its own registrations
 * before it copies, exactly like a copy-mode GET request; the destination
 * lies in the reader's memory, which only the reader can get wrong.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "core/config.h"
#include "core/log.h"
#include "core/runtime.h"
#include "shm_internal.h"

RDMX_CONFIG_VAR("RDMX_SHM_COOP_MIN", "256k",
                "shm: rendezvous messages from this size up are copied by "
                "both ranks at once (receiver reads, sender writes); 0 = the "
                "receiver alone");
RDMX_CONFIG_VAR("RDMX_SHM_COOP_CHUNK", "128k",
                "shm: unit of work of the shared copy");

void rdmx_shm_coop_init(rdmx_shm_transport_t *tp)
{
    tp->coop_min = rdmx_config_size("RDMX_SHM_COOP_MIN");
    tp->coop_chunk = rdmx_config_size("RDMX_SHM_COOP_CHUNK");
    if (tp->coop_chunk < 4096)
        tp->coop_chunk = 4096;
    tp->coops = calloc((size_t)tp->local_size * RDMX_SHM_COOP_SLOTS,
                       sizeof(*tp->coops));
    if (!tp->coops)
        tp->coop_min = 0; /* works without: the reader copies alone */
}

void rdmx_shm_coop_cleanup(rdmx_shm_transport_t *tp)
{
    free(tp->coops);
    tp->coops = NULL;
}

rdmx_shm_coop_t *rdmx_shm_coop_slot(rdmx_shm_ctl_t *ctl, int local, int slot)
{
    rdmx_shm_coop_t *base =
        (rdmx_shm_coop_t *)((char *)ctl + ctl->coop_offset);
    return base + (size_t)local * RDMX_SHM_COOP_SLOTS + (size_t)slot;
}

/* Take the next chunk of job `gen`; 0 when none is left or the slot moved
 * on to another job. */
static int rdmx_shm_coop_claim(rdmx_shm_coop_t *s, uint32_t gen,
                               uint32_t nchunks, uint32_t *chunk)
{
    uint64_t cur = atomic_load_explicit(&s->claim, memory_order_acquire);

    for (;;) {
        if ((uint32_t)(cur >> 32) != gen || (uint32_t)cur >= nchunks)
            return 0;
        if (atomic_compare_exchange_weak_explicit(&s->claim, &cur, cur + 1,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire)) {
            *chunk = (uint32_t)cur;
            return 1;
        }
    }
}

rdmx_status_t rdmx_shm_coop_get(rdmx_ep_t *ep, void *local, size_t len,
                                uint64_t remote_addr,
                                const rdmx_shm_rkey_t *key,
                                rdmx_completion_t *comp)
{
    rdmx_shm_transport_t *tp = ep->tp;
    size_t chunk = tp->coop_chunk;
    rdmx_shm_coop_op_t *op = NULL;
    rdmx_shm_coop_req_t req;
    rdmx_shm_coop_t *s;
    rdmx_status_t st, status = RDMX_OK;
    uint32_t nchunks, c;
    int k;

    if (!tp->coop_min || len < tp->coop_min || len / chunk >= UINT32_MAX)
        return RDMX_ERR_AGAIN;
    /* A rank exposing memory of its own has a large send in flight: some
     * peer is copying from it right now and that core is as busy as ours.
     * In an exchange (Sendrecv, ring and doubling steps of collectives)
     * help only adds chunk hand-overs: 2 ranks swapping 512 KiB took
     * 42-44 us alone and 55-56 us shared. */
    if (tp->nexposed) {
        RDMX_DEBUG("shm: %zu-byte read from rank %d done alone: a large "
                   "send of ours is in flight",
                   len, ep->peer);
        return RDMX_ERR_AGAIN;
    }
    for (k = 0; k < RDMX_SHM_COOP_SLOTS; k++) {
        op = &tp->coops[(size_t)ep->local * RDMX_SHM_COOP_SLOTS + k];
        if (!op->comp)
            break;
    }
    if (k == RDMX_SHM_COOP_SLOTS)
        return RDMX_ERR_AGAIN; /* all slots busy: copy alone */
    nchunks = (uint32_t)((len + chunk - 1) / chunk);
    if (++op->gen == 0)
        op->gen = 1;
    op->nchunks = nchunks;
    op->status = RDMX_OK;
    s = rdmx_shm_coop_slot(tp->ctl, ep->local, k);
    s->dst = (uint64_t)(uintptr_t)local;
    s->src = remote_addr;
    s->len = len;
    s->chunk = (uint32_t)chunk;
    s->nchunks = nchunks;
    s->region = key->region;
    s->rgen = key->gen;
    atomic_store_explicit(&s->status, RDMX_OK, memory_order_relaxed);
    atomic_store_explicit(&s->done, 0, memory_order_relaxed);
    /* Publishes the fields above to an owner that sees this generation. */
    atomic_store_explicit(&s->claim, (uint64_t)op->gen << 32,
                          memory_order_release);
    req.slot = (uint32_t)k;
    req.gen = op->gen;
    /* Without the record the owner never helps; the copy still completes. */
    if (rdmx_shm_post_copy(ep, RDMX_SHM_KIND_COOP, &req, sizeof(req), NULL,
                           0) != RDMX_OK)
        RDMX_DEBUG("shm: no help from rank %d for a %zu-byte read", ep->peer,
                   len);
    else
        RDMX_DEBUG("shm: %zu-byte read from rank %d shared with it", len,
                   ep->peer);

    while (rdmx_shm_coop_claim(s, op->gen, nchunks, &c)) {
        size_t off = (size_t)c * chunk;
        size_t n = len - off < chunk ? len - off : chunk;

        /* After a failure, keep claiming (without copying) so that the
         * job ends; the error is reported once everything is accounted. */
        if (status == RDMX_OK) {
            st = rdmx_shm_get_cma(ep, (char *)local + off, n,
                                  remote_addr + off);
            if (st != RDMX_OK) {
                RDMX_ERROR("shm: process_vm_readv of %zu bytes at 0x%llx in "
                           "rank %d (pid %d) failed: %s",
                           n, (unsigned long long)(remote_addr + off),
                           ep->peer, (int)ep->pid, strerror(errno));
                status = st == RDMX_ERR_UNSUPPORTED ? RDMX_ERR_IO : st;
            }
        }
        atomic_fetch_add_explicit(&s->done, 1, memory_order_release);
    }
    op->status = status;
    if (atomic_load_explicit(&s->done, memory_order_acquire) == nchunks) {
        if (atomic_load_explicit(&s->status, memory_order_relaxed) != RDMX_OK)
            status = RDMX_ERR_IO;
        st = rdmx_shm_complete_later(tp, comp, status);
        return st == RDMX_OK ? RDMX_INPROGRESS : st;
    }
    /* The owner is still copying chunks it claimed. */
    op->comp = comp;
    tp->ncoop_waiting++;
    return RDMX_INPROGRESS;
}

int rdmx_shm_coop_progress(rdmx_shm_transport_t *tp)
{
    int n = 0;

    if (!tp->ncoop_waiting)
        return 0;
    for (int i = 0; i < tp->local_size * RDMX_SHM_COOP_SLOTS; i++) {
        rdmx_shm_coop_op_t *op = &tp->coops[i];
        rdmx_shm_coop_t *s;
        rdmx_completion_t *comp;
        rdmx_status_t status;

        if (!op->comp)
            continue;
        s = rdmx_shm_coop_slot(tp->ctl, i / RDMX_SHM_COOP_SLOTS,
                               i % RDMX_SHM_COOP_SLOTS);
        if (atomic_load_explicit(&s->done, memory_order_acquire) !=
            op->nchunks)
            continue;
        status = op->status;
        if (status == RDMX_OK &&
            atomic_load_explicit(&s->status, memory_order_relaxed) != RDMX_OK)
            status = RDMX_ERR_IO;
        comp = op->comp;
        op->comp = NULL;
        tp->ncoop_waiting--;
        comp->cb(comp, status);
        n++;
    }
    return n;
}

int rdmx_shm_coop_any_done(rdmx_shm_transport_t *tp)
{
    if (!tp->ncoop_waiting)
        return 0;
    for (int i = 0; i < tp->local_size * RDMX_SHM_COOP_SLOTS; i++) {
        rdmx_shm_coop_op_t *op = &tp->coops[i];

        if (op->comp &&
            atomic_load_explicit(
                &rdmx_shm_coop_slot(tp->ctl, i / RDMX_SHM_COOP_SLOTS,
                                    i % RDMX_SHM_COOP_SLOTS)
                     ->done,
                memory_order_acquire) == op->nchunks)
            return 1;
    }
    return 0;
}

void rdmx_shm_coop_fail_peer(rdmx_shm_transport_t *tp, int local)
{
    for (int k = 0; tp->coops && k < RDMX_SHM_COOP_SLOTS; k++) {
        rdmx_shm_coop_op_t *op =
            &tp->coops[(size_t)local * RDMX_SHM_COOP_SLOTS + k];
        rdmx_completion_t *comp = op->comp;

        if (!comp)
            continue;
        op->comp = NULL;
        tp->ncoop_waiting--;
        comp->cb(comp, RDMX_ERR_PEER_GONE);
    }
}

/* Owner side: copy chunks of the reader's job into its buffer while any
 * are left. */
void rdmx_shm_coop_on_request(rdmx_shm_transport_t *tp, rdmx_ep_t *ep,
                              const void *body, size_t len)
{
    rdmx_shm_coop_req_t req;
    rdmx_shm_coop_t *s;
    uint64_t dst, src, total;
    uint32_t chunk, nchunks, c;

    if (len != sizeof(req)) {
        RDMX_ERROR("shm: shared-copy request of %zu bytes from rank %d", len,
                   ep->peer);
        return;
    }
    memcpy(&req, body, sizeof(req));
    if (req.slot >= RDMX_SHM_COOP_SLOTS || !ep->cma)
        return; /* the reader copies alone */
    s = rdmx_shm_coop_slot(ep->ctl, tp->local_rank, (int)req.slot);
    if ((uint32_t)(atomic_load_explicit(&s->claim, memory_order_acquire) >>
                   32) != req.gen)
        return; /* finished (by the reader) before we looked */
    dst = s->dst;
    src = s->src;
    total = s->len;
    chunk = s->chunk;
    nchunks = s->nchunks;
    if (chunk == 0 || total == 0 || dst + total < dst ||
        nchunks != (total + chunk - 1) / chunk ||
        !rdmx_shm_region_find(tp, s->region, s->rgen, src, total)) {
        /* Fields of a slot being reused read half-written: not an error. */
        if ((uint32_t)(atomic_load_explicit(&s->claim, memory_order_acquire) >>
                       32) == req.gen)
            RDMX_ERROR("shm: rank %d asked for help with %llu bytes at "
                       "0x%llx outside any registered region of rank %d",
                       ep->peer, (unsigned long long)total,
                       (unsigned long long)src, tp->base.rt->rank);
        return;
    }
    /* A successful claim proves the fields read above belong to req.gen:
     * the reader rewrites them only after every claimed chunk is done. */
    while (rdmx_shm_coop_claim(s, req.gen, nchunks, &c)) {
        uint64_t off = (uint64_t)c * chunk;
        size_t n = (size_t)(total - off < chunk ? total - off : chunk);
        size_t done = 0;

        while (done < n) {
            struct iovec l = {(void *)(uintptr_t)(src + off + done), n - done};
            struct iovec r = {(void *)(uintptr_t)(dst + off + done), n - done};
            ssize_t w = process_vm_writev(ep->pid, &l, 1, &r, 1, 0);

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                RDMX_ERROR("shm: process_vm_writev of %zu bytes to rank %d "
                           "(pid %d) failed: %s",
                           n - done, ep->peer, (int)ep->pid,
                           w < 0 ? strerror(errno) : "no progress");
                atomic_store_explicit(&s->status, RDMX_ERR_IO,
                                      memory_order_relaxed);
                break;
            }
            done += (size_t)w;
        }
        atomic_fetch_add_explicit(&s->done, 1, memory_order_release);
    }
    rdmx_shm_notify(ep); /* the reader may sleep waiting for our chunks */
}
