/*
 * verbs_io.c — the data path: eager frames through send slots (or inline)
 * into SRQ bounce buffers, credits, RDMA READ/WRITE for rendezvous, CQ
 * polling and the completion channel.
 *
 * Send queue. Every WR posted on an RC QP has an op in the endpoint's
 * posted FIFO. Only every RDMX_VERBS_SIGNAL_EVERY-th send is signalled
 * (plus every READ/WRITE, and any send when the queue or the send slots run
 * low); a signalled completion retires every op posted before it on that
 * QP, since a QP's send WRs complete in order. Operations that cannot be
 * posted (no credit, full send queue, not yet connected) wait in the
 * endpoint's queue, in order, and the endpoint sits on the busy list until
 * progress() posts them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "verbs.h"

/* ---- QPN -> endpoint ------------------------------------------------------
 */

static unsigned qp_hash(uint32_t qpn, unsigned cap)
{
    return (qpn * 2654435761u) & (cap - 1);
}

static void qpmap_put(rdmx_ep_t **map, unsigned cap, rdmx_ep_t *ep)
{
    unsigned i = qp_hash(ep->qp->qp_num, cap);
    while (map[i])
        i = (i + 1) & (cap - 1);
    map[i] = ep;
}

rdmx_status_t rdmx_verbs_qpmap_add(rdmx_verbs_iface_t *vi, rdmx_ep_t *ep)
{
    if ((unsigned)(vi->nconnected + 1) * 2 > vi->qpmap_cap) {
        unsigned cap = vi->qpmap_cap ? vi->qpmap_cap * 2 : 64;
        rdmx_ep_t **map = calloc(cap, sizeof(*map));
        if (!map)
            return RDMX_ERR_NOMEM;
        for (unsigned i = 0; i < vi->qpmap_cap; i++)
            if (vi->qpmap[i])
                qpmap_put(map, cap, vi->qpmap[i]);
        free(vi->qpmap);
        vi->qpmap = map;
        vi->qpmap_cap = cap;
    }
    qpmap_put(vi->qpmap, vi->qpmap_cap, ep);
    return RDMX_OK;
}

static rdmx_ep_t *qpmap_find(rdmx_verbs_iface_t *vi, uint32_t qpn)
{
    if (!vi->qpmap_cap)
        return NULL;
    for (unsigned i = qp_hash(qpn, vi->qpmap_cap);;
         i = (i + 1) & (vi->qpmap_cap - 1)) {
        rdmx_ep_t *ep = vi->qpmap[i];
        if (!ep)
            return NULL;
        if (ep->qp->qp_num == qpn)
            return ep;
    }
}

void rdmx_verbs_qpmap_del(rdmx_verbs_iface_t *vi, rdmx_ep_t *ep)
{
    /* Rebuild without ep: deletion happens only at close. */
    if (!vi->qpmap_cap)
        return;
    rdmx_ep_t **old = vi->qpmap;
    rdmx_ep_t **map = calloc(vi->qpmap_cap, sizeof(*map));
    if (!map) {
        for (unsigned i = 0; i < vi->qpmap_cap; i++)
            if (old[i] == ep)
                old[i] = NULL; /* may break probing; only at close */
        return;
    }
    for (unsigned i = 0; i < vi->qpmap_cap; i++)
        if (old[i] && old[i] != ep)
            qpmap_put(map, vi->qpmap_cap, old[i]);
    vi->qpmap = map;
    free(old);
}

/* ---- receive buffers ------------------------------------------------------
 */

static rdmx_status_t srq_post_slot(rdmx_verbs_iface_t *vi,
                                   rdmx_verbs_rslot_t *s)
{
    struct ibv_sge sge = {.addr = (uintptr_t)s->buf,
                          .length = (uint32_t)vi->rslot_size,
                          .lkey = s->lkey};
    struct ibv_recv_wr wr = {.wr_id =
                                 (uint64_t)(uintptr_t)s | RDMX_VERBS_WR_SRQ,
                             .sg_list = &sge,
                             .num_sge = 1};
    struct ibv_recv_wr *bad;
    int rc = ibv_post_srq_recv(vi->srq, &wr, &bad);
    if (rc) {
        RDMX_ERROR("verbs: ibv_post_srq_recv: %s", strerror(rc));
        return RDMX_ERR_IO;
    }
    return RDMX_OK;
}

void rdmx_verbs_srq_grow(rdmx_verbs_iface_t *vi)
{
    int n = (int)vi->credits + RDMX_VERBS_CREDIT_RESERVE;
    if (vi->rslots_posted + n > vi->rslots_max) {
        n = vi->rslots_max - vi->rslots_posted;
        if (n <= 0) {
            /* Correct still (RNR retry is infinite), but slower. */
            static int warned;
            if (!warned++)
                RDMX_WARN("verbs: the shared receive queue is full (%d "
                          "buffers); more peers share them (raise "
                          "RDMX_VERBS_SRQ_MAX)",
                          vi->rslots_max);
            return;
        }
    }
    rdmx_verbs_rchunk_t *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    size_t len = (size_t)n * vi->rslot_size;
    c->mem = aligned_alloc(64, (len + 63) & ~(size_t)63);
    c->slots = calloc((size_t)n, sizeof(*c->slots));
    if (!c->mem || !c->slots)
        goto fail;
    c->mr = ibv_reg_mr(vi->pd, c->mem, len, IBV_ACCESS_LOCAL_WRITE);
    if (!c->mr) {
        RDMX_WARN("verbs: ibv_reg_mr of %zu bytes of receive buffers: %s", len,
                  strerror(errno));
        goto fail;
    }
    c->n = n;
    for (int i = 0; i < n; i++) {
        c->slots[i].buf = c->mem + (size_t)i * vi->rslot_size;
        c->slots[i].lkey = c->mr->lkey;
        if (srq_post_slot(vi, &c->slots[i]) != RDMX_OK)
            break;
        vi->rslots_posted++;
    }
    c->next = vi->rchunks;
    vi->rchunks = c;
    return;
fail:
    free(c->mem);
    free(c->slots);
    free(c);
}

/* ---- ops ------------------------------------------------------------------
 */

static rdmx_verbs_op_t *op_new(rdmx_verbs_iface_t *vi, rdmx_ep_t *ep, int kind)
{
    rdmx_verbs_op_t *op = vi->op_free;
    if (op)
        vi->op_free = op->next;
    else if (!(op = malloc(sizeof(*op))))
        return NULL;
    memset(op, 0, sizeof(*op));
    op->ep = ep;
    op->kind = kind;
    op->slot = -1;
    return op;
}

static void op_free(rdmx_verbs_iface_t *vi, rdmx_verbs_op_t *op)
{
    free(op->frame);
    op->frame = NULL;
    if (op->slot >= 0)
        vi->sfree[vi->nsfree++] = op->slot;
    op->next = vi->op_free;
    vi->op_free = op;
}

static void enqueue(rdmx_ep_t *ep, rdmx_verbs_op_t *op)
{
    op->next = NULL;
    if (ep->queued_tail)
        ep->queued_tail->next = op;
    else
        ep->queued_head = op;
    ep->queued_tail = op;
    rdmx_verbs_ep_mark_busy(ep);
}

void rdmx_verbs_ep_mark_busy(rdmx_ep_t *ep)
{
    if (ep->on_busy)
        return;
    ep->on_busy = 1;
    ep->next_busy = ep->iface->busy;
    ep->iface->busy = ep;
}

static void rma_done(rdmx_verbs_rma_t *rma, rdmx_status_t st)
{
    if (st != RDMX_OK && rma->status == RDMX_OK)
        rma->status = st;
    if (--rma->pending > 0)
        return;
    rdmx_completion_t *comp = rma->comp;
    st = rma->status;
    free(rma);
    comp->cb(comp, st);
}

void rdmx_verbs_ep_fail(rdmx_ep_t *ep, rdmx_status_t why, const char *detail)
{
    if (ep->state == RDMX_VERBS_EP_FAILED)
        return;
    ep->state = RDMX_VERBS_EP_FAILED;
    RDMX_DEBUG("verbs: endpoint to rank %d failed: %s", ep->peer, detail);
    rdmx_proto_on_peer_failure(ep->iface->rt, ep->peer, why, detail);
}

/* Frees every op of ep without completing anything (close, or a failed
 * endpoint whose requests the core has failed). */
void rdmx_verbs_ep_drop_ops(rdmx_ep_t *ep)
{
    rdmx_verbs_iface_t *vi = ep->iface;
    rdmx_verbs_op_t *lists[2] = {ep->posted_head, ep->queued_head};
    for (int l = 0; l < 2; l++) {
        for (rdmx_verbs_op_t *op = lists[l], *next; op; op = next) {
            next = op->next;
            op_free(vi, op);
        }
    }
    ep->posted_head = ep->posted_tail = NULL;
    ep->queued_head = ep->queued_tail = NULL;
    ep->sq_used = 0;
}

/* ---- posting --------------------------------------------------------------
 */

static int want_signal(rdmx_ep_t *ep, rdmx_verbs_op_t *op)
{
    rdmx_verbs_iface_t *vi = ep->iface;
    if (op->kind != RDMX_VERBS_OP_SEND)
        return 1;
    if (ep->unsignaled + 1 >= vi->signal_every)
        return 1;
    if (ep->sq_used + 2 >= vi->sq_depth)
        return 1;
    if (op->slot >= 0 && vi->nsfree < vi->sslots / 4)
        return 1; /* recycle send slots before they run out */
    return 0;
}

static rdmx_status_t post_wr(rdmx_ep_t *ep, rdmx_verbs_op_t *op,
                             struct ibv_send_wr *wr)
{
    struct ibv_send_wr *bad;
    op->signaled = want_signal(ep, op);
    if (op->signaled)
        wr->send_flags |= IBV_SEND_SIGNALED;
    wr->wr_id = (uint64_t)(uintptr_t)op | RDMX_VERBS_WR_OP;
    int rc = ibv_post_send(ep->qp, wr, &bad);
    if (rc) {
        char why[160];
        snprintf(why, sizeof(why), "verbs: ibv_post_send to rank %d: %s",
                 ep->peer, strerror(rc));
        RDMX_ERROR("%s", why);
        rdmx_verbs_ep_fail(ep, RDMX_ERR_IO, why);
        return RDMX_ERR_IO;
    }
    ep->unsignaled = op->signaled ? 0 : ep->unsignaled + 1;
    ep->sq_used++;
    op->next = NULL;
    if (ep->posted_tail)
        ep->posted_tail->next = op;
    else
        ep->posted_head = op;
    ep->posted_tail = op;
    return RDMX_OK;
}

/* Posts a frame: 8-byte header (kind, credits read now) + body. `body` is
 * op->frame + 8 for queued frames, or the caller's staging copy. */
static rdmx_status_t post_frame(rdmx_ep_t *ep, rdmx_verbs_op_t *op,
                                uint8_t *frame, uint32_t frame_len)
{
    rdmx_verbs_iface_t *vi = ep->iface;
    rdmx_verbs_frame_t f = {.kind = op->needs_credit ? RDMX_VERBS_FRAME_MSG
                                                     : RDMX_VERBS_FRAME_CREDIT,
                            .credits = rdmx_verbs_credit_piggyback(&ep->credit),
                            .len = frame_len - RDMX_VERBS_FRAME_HDR};
    rdmx_verbs_frame_pack(&f, frame);
    struct ibv_sge sge = {.addr = (uintptr_t)frame, .length = frame_len};
    struct ibv_send_wr wr = {
        .sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_SEND};
    if (frame_len <= vi->max_inline) {
        wr.send_flags = IBV_SEND_INLINE;
    } else {
        if (op->slot < 0) {
            op->slot = vi->sfree[--vi->nsfree];
            uint8_t *dst = vi->sbuf + (size_t)op->slot * vi->sslot_size;
            memcpy(dst, frame, frame_len);
            sge.addr = (uintptr_t)dst;
        }
        sge.lkey = vi->sbuf_mr->lkey;
    }
    rdmx_status_t st = post_wr(ep, op, &wr);
    if (st != RDMX_OK) {
        /* Restore the credits we meant to return; the peer is gone
         * anyway, but keep the books straight. */
        ep->credit.owed += f.credits;
    }
    return st;
}

static int can_post(rdmx_ep_t *ep, rdmx_verbs_op_t *op)
{
    rdmx_verbs_iface_t *vi = ep->iface;
    if (ep->sq_used >= vi->sq_depth)
        return 0;
    if (op->kind == RDMX_VERBS_OP_SEND) {
        if (op->needs_credit && ep->credit.avail == 0)
            return 0;
        if (op->frame_len > vi->max_inline && vi->nsfree == 0)
            return 0;
    }
    return 1;
}

static rdmx_status_t post_op(rdmx_ep_t *ep, rdmx_verbs_op_t *op)
{
    if (op->kind == RDMX_VERBS_OP_SEND) {
        if (op->needs_credit)
            rdmx_verbs_credit_take(&ep->credit);
        rdmx_status_t st = post_frame(ep, op, op->frame, op->frame_len);
        /* The frame is in a send slot or was inlined: the copy can go. */
        free(op->frame);
        op->frame = NULL;
        return st;
    }
    struct ibv_sge sge = {
        .addr = (uintptr_t)op->local, .length = op->len, .lkey = op->lkey};
    struct ibv_send_wr wr = {
        .sg_list = &sge,
        .num_sge = 1,
        .opcode = op->kind == RDMX_VERBS_OP_READ ? IBV_WR_RDMA_READ
                                                 : IBV_WR_RDMA_WRITE,
        .wr.rdma = {.remote_addr = op->raddr, .rkey = op->rkey}};
    return post_wr(ep, op, &wr);
}

static rdmx_status_t post_credit_frame(rdmx_ep_t *ep)
{
    rdmx_verbs_iface_t *vi = ep->iface;
    if (ep->sq_used >= vi->sq_depth)
        return RDMX_ERR_AGAIN;
    if (RDMX_VERBS_FRAME_HDR > vi->max_inline && vi->nsfree == 0)
        return RDMX_ERR_AGAIN;
    rdmx_verbs_op_t *op = op_new(vi, ep, RDMX_VERBS_OP_SEND);
    if (!op)
        return RDMX_ERR_NOMEM;
    uint8_t frame[RDMX_VERBS_FRAME_HDR];
    ep->credit_frame_pending = 0;
    rdmx_status_t st = post_frame(ep, op, frame, sizeof(frame));
    if (st != RDMX_OK)
        op_free(vi, op);
    return st;
}

/* Post what can be posted, in order. */
void rdmx_verbs_ep_flush(rdmx_ep_t *ep)
{
    if (ep->state != RDMX_VERBS_EP_CONNECTED)
        return;
    if (ep->credit_frame_pending && post_credit_frame(ep) != RDMX_OK)
        return;
    while (ep->queued_head && can_post(ep, ep->queued_head)) {
        rdmx_verbs_op_t *op = ep->queued_head;
        ep->queued_head = op->next;
        if (!ep->queued_head)
            ep->queued_tail = NULL;
        if (post_op(ep, op) != RDMX_OK) {
            op_free(ep->iface, op);
            return;
        }
    }
}

/* ---- the ops the core calls ------------------------------------------------
 */

rdmx_status_t rdmx_verbs_send(rdmx_ep_t *ep, const rdmx_wire_hdr_t *hdr,
                              const struct iovec *iov, int iovcnt,
                              rdmx_completion_t *comp)
{
    rdmx_verbs_iface_t *vi = ep->iface;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total != hdr->len || hdr->len > vi->eager_limit) {
        RDMX_ERROR("verbs: send of %zu bytes (header says %llu) to rank %d "
                   "exceeds the eager limit %zu or mismatches",
                   total, (unsigned long long)hdr->len, ep->peer,
                   vi->eager_limit);
        return RDMX_ERR_INVALID;
    }
    if (ep->state == RDMX_VERBS_EP_FAILED)
        return RDMX_ERR_PEER_GONE;
    uint32_t frame_len =
        (uint32_t)(RDMX_VERBS_FRAME_HDR + sizeof(*hdr) + total);
    rdmx_verbs_op_t *op = op_new(vi, ep, RDMX_VERBS_OP_SEND);
    if (!op)
        return RDMX_ERR_NOMEM;
    op->needs_credit = 1;
    op->frame_len = frame_len;

    /* Fast path: connected, nothing queued, resources at hand. The frame
     * is assembled straight in a send slot, or on the stack when it will
     * be inlined. */
    uint8_t stage[256];
    uint8_t *frame = NULL;
    int direct = ep->state == RDMX_VERBS_EP_CONNECTED && !ep->queued_head &&
                 !ep->credit_frame_pending && can_post(ep, op);
    if (direct) {
        if (frame_len <= vi->max_inline && frame_len <= sizeof(stage)) {
            frame = stage;
        } else if (frame_len > vi->max_inline) {
            op->slot = vi->sfree[--vi->nsfree];
            frame = vi->sbuf + (size_t)op->slot * vi->sslot_size;
        } else {
            direct = 0;
        }
    }
    if (!direct) {
        op->frame = malloc(frame_len);
        if (!op->frame) {
            op_free(vi, op);
            return RDMX_ERR_NOMEM;
        }
        frame = op->frame;
    }
    uint8_t *p = frame + RDMX_VERBS_FRAME_HDR;
    memcpy(p, hdr, sizeof(*hdr));
    p += sizeof(*hdr);
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len)
            memcpy(p, iov[i].iov_base, iov[i].iov_len);
        p += iov[i].iov_len;
    }
    if (direct) {
        rdmx_verbs_credit_take(&ep->credit);
        rdmx_status_t st = post_frame(ep, op, frame, frame_len);
        if (st != RDMX_OK) {
            op_free(vi, op);
            return st;
        }
        return RDMX_OK;
    }
    enqueue(ep, op);
    if (ep->state != RDMX_VERBS_EP_CONNECTED) {
        rdmx_status_t st = rdmx_verbs_ep_connect(ep);
        if (st != RDMX_OK && st != RDMX_ERR_AGAIN)
            return st;
    }
    return RDMX_OK; /* copied: the caller's buffers are free */
}

static rdmx_status_t rma_post(rdmx_ep_t *ep, int kind, void *local, size_t len,
                              rdmx_memh_t *local_memh, uint64_t remote_addr,
                              const uint8_t *rkey, uint32_t rkey_len,
                              rdmx_completion_t *comp)
{
    rdmx_verbs_iface_t *vi = ep->iface;
    uint32_t rk;
    if (len == 0)
        return RDMX_OK;
    if (ep->state == RDMX_VERBS_EP_FAILED)
        return RDMX_ERR_PEER_GONE;
    if (rdmx_verbs_rkey_unpack(rkey, rkey_len, remote_addr, len, &rk) !=
        RDMX_OK) {
        RDMX_ERROR("verbs: rank %d sent a remote key that does not cover "
                   "[0x%llx, +%zu)",
                   ep->peer, (unsigned long long)remote_addr, len);
        return RDMX_ERR_PROTO;
    }
    rdmx_verbs_memh_t *mh = (rdmx_verbs_memh_t *)local_memh;
    uintptr_t a = (uintptr_t)local;
    if (!mh || a < mh->reg->start || a + len > mh->reg->end) {
        RDMX_ERROR("verbs: local buffer %p+%zu is not registered", local, len);
        return RDMX_ERR_INVALID;
    }
    struct ibv_mr *mr = mh->reg->handle;
    rdmx_verbs_rma_t *rma = calloc(1, sizeof(*rma));
    if (!rma)
        return RDMX_ERR_NOMEM;
    rma->comp = comp;
    size_t chunk = vi->rdma_chunk;
    size_t n = (len + chunk - 1) / chunk;
    rma->pending = (unsigned)n;
    for (size_t i = 0; i < n; i++) {
        size_t off = i * chunk;
        rdmx_verbs_op_t *op = op_new(vi, ep, kind);
        if (!op) {
            /* Earlier chunks are queued and will complete; fail the
             * rest through the completion. */
            rma->pending -= (unsigned)(n - i - 1);
            rma_done(rma, RDMX_ERR_NOMEM);
            return RDMX_INPROGRESS;
        }
        op->local = (uint8_t *)local + off;
        op->len = (uint32_t)(len - off < chunk ? len - off : chunk);
        op->lkey = mr->lkey;
        op->raddr = remote_addr + off;
        op->rkey = rk;
        op->rma = rma;
        enqueue(ep, op);
    }
    if (ep->state == RDMX_VERBS_EP_CONNECTED)
        rdmx_verbs_ep_flush(ep);
    else
        rdmx_verbs_ep_connect(ep);
    return RDMX_INPROGRESS;
}

rdmx_status_t rdmx_verbs_get(rdmx_ep_t *ep, void *local, size_t len,
                             rdmx_memh_t *local_memh, uint64_t remote_addr,
                             const uint8_t *rkey, uint32_t rkey_len,
                             unsigned flags,
                             rdmx_completion_t *comp)
{
    return rma_post(ep, RDMX_VERBS_OP_READ, local, len, local_memh, remote_addr,
                    rkey, rkey_len, comp);
}

rdmx_status_t rdmx_verbs_put(rdmx_ep_t *ep, const void *local, size_t len,
                             rdmx_memh_t *local_memh, uint64_t remote_addr,
                             const uint8_t *rkey, uint32_t rkey_len,
                             rdmx_completion_t *comp)
{
    return rma_post(ep, RDMX_VERBS_OP_WRITE, (void *)local, len, local_memh,
                    remote_addr, rkey, rkey_len, comp);
}

/* ---- completions ------------------------------------------------------------
 */

static void wc_failure(rdmx_verbs_iface_t *vi, rdmx_ep_t *ep,
                       const struct ibv_wc *wc, const char *what)
{
    if (!ep || ep->state == RDMX_VERBS_EP_FAILED)
        return; /* flushes after the first error say nothing new */
    if (vi->closing) {
        /* After the final fence a peer may tear down its QP before our
         * last credit frame is acknowledged: not a failure of the job. */
        RDMX_DEBUG("verbs: %s to rank %d at close: %s", what, ep->peer,
                   ibv_wc_status_str(wc->status));
        ep->state = RDMX_VERBS_EP_FAILED;
        return;
    }
    char why[256];
    snprintf(why, sizeof(why),
             "verbs: %s from rank %d to rank %d failed: %s (status %d, "
             "vendor error 0x%x) on %s",
             what, vi->rt->rank, ep->peer, ibv_wc_status_str(wc->status),
             wc->status, wc->vendor_err, vi->port.dev_name);
    RDMX_ERROR("%s", why);
    rdmx_verbs_ep_fail(ep,
                       wc->status == IBV_WC_RETRY_EXC_ERR ||
                               wc->status == IBV_WC_RNR_RETRY_EXC_ERR
                           ? RDMX_ERR_PEER_GONE
                           : RDMX_ERR_IO,
                       why);
}

/* A signalled send-queue completion: retire every op up to `done`. */
static void send_completed(rdmx_verbs_iface_t *vi, rdmx_verbs_op_t *done,
                           const struct ibv_wc *wc)
{
    rdmx_ep_t *ep = done->ep;
    rdmx_status_t st = RDMX_OK;
    if (wc->status != IBV_WC_SUCCESS) {
        wc_failure(vi, ep, wc,
                   done->kind == RDMX_VERBS_OP_READ    ? "RDMA READ"
                   : done->kind == RDMX_VERBS_OP_WRITE ? "RDMA WRITE"
                                                       : "send");
        st = RDMX_ERR_PEER_GONE;
    }
    for (;;) {
        rdmx_verbs_op_t *op = ep->posted_head;
        if (!op)
            break; /* dropped already (close) */
        ep->posted_head = op->next;
        if (!ep->posted_head)
            ep->posted_tail = NULL;
        ep->sq_used--;
        rdmx_verbs_rma_t *rma = op->rma;
        int last = op == done;
        op_free(vi, op);
        if (rma)
            rma_done(rma, st);
        if (last)
            break;
    }
    if (ep->queued_head || ep->credit_frame_pending)
        rdmx_verbs_ep_mark_busy(ep);
}

static void recv_completed(rdmx_verbs_iface_t *vi, rdmx_verbs_rslot_t *s,
                           const struct ibv_wc *wc)
{
    rdmx_ep_t *ep = qpmap_find(vi, wc->qp_num);
    if (wc->status != IBV_WC_SUCCESS) {
        if (wc->status != IBV_WC_WR_FLUSH_ERR)
            wc_failure(vi, ep, wc, "receive");
        srq_post_slot(vi, s);
        return;
    }
    if (!ep) {
        RDMX_WARN("verbs: receive on unknown QP %u dropped", wc->qp_num);
        srq_post_slot(vi, s);
        return;
    }
    rdmx_verbs_frame_t f;
    rdmx_status_t st =
        rdmx_verbs_frame_unpack(s->buf, wc->byte_len, vi->eager_limit, &f);
    if (st == RDMX_OK && rdmx_verbs_credit_returned(&ep->credit, f.credits))
        st = RDMX_ERR_PROTO;
    if (st != RDMX_OK) {
        char why[160];
        snprintf(why, sizeof(why),
                 "verbs: malformed frame (%u bytes) from rank %d", wc->byte_len,
                 ep->peer);
        RDMX_ERROR("%s", why);
        srq_post_slot(vi, s);
        rdmx_verbs_ep_fail(ep, RDMX_ERR_PROTO, why);
        return;
    }
    if (ep->state == RDMX_VERBS_EP_CONNECTING && ep->remote_qpn) {
        /* The RTU (or any first frame): the peer is at RTS. */
        ep->state = RDMX_VERBS_EP_CONNECTED;
        rdmx_verbs_ep_mark_busy(ep);
    }
    if (f.credits && (ep->queued_head || ep->credit_frame_pending))
        rdmx_verbs_ep_mark_busy(ep);
    if (f.kind == RDMX_VERBS_FRAME_CREDIT) {
        srq_post_slot(vi, s);
        return;
    }
    rdmx_wire_hdr_t hdr;
    memcpy(&hdr, s->buf + RDMX_VERBS_FRAME_HDR, sizeof(hdr));
    rdmx_recv_sink_t sink = {0};
    st = rdmx_proto_on_header(vi->rt, ep->peer, &hdr,
                              s->buf + RDMX_VERBS_FRAME_HDR + sizeof(hdr),
                              &sink);
    srq_post_slot(vi, s);
    rdmx_verbs_credit_consumed(&ep->credit);
    if (st != RDMX_OK) {
        char why[160];
        snprintf(why, sizeof(why),
                 "verbs: rank %d sent a message header the core rejected "
                 "(type %u, %s)",
                 ep->peer, hdr.type, rdmx_status_str(st));
        rdmx_verbs_ep_fail(ep, RDMX_ERR_PROTO, why);
        return;
    }
    if (!ep->credit_frame_pending &&
        rdmx_verbs_credit_need_update(&ep->credit, vi->credits) &&
        (!ep->queued_head || ep->credit.avail == 0)) {
        /* Nothing is going that way to carry the credits: no message is
         * queued, or the queued ones wait for credits themselves (both
         * sides out of credits would otherwise wait for each other). */
        ep->credit_frame_pending = 1;
        rdmx_verbs_ep_mark_busy(ep);
    }
}

static void handle_wc(rdmx_verbs_iface_t *vi, const struct ibv_wc *wc)
{
    uint64_t id = wc->wr_id;
    switch (id & RDMX_VERBS_WR_TAG_MASK) {
    case RDMX_VERBS_WR_OP:
        send_completed(vi, (rdmx_verbs_op_t *)(uintptr_t)id, wc);
        break;
    case RDMX_VERBS_WR_SRQ:
        recv_completed(
            vi,
            (rdmx_verbs_rslot_t *)(uintptr_t)(id & ~(uint64_t)
                                                       RDMX_VERBS_WR_TAG_MASK),
            wc);
        break;
    case RDMX_VERBS_WR_UD_RECV:
        if (wc->status == IBV_WC_SUCCESS)
            rdmx_verbs_ud_recv(vi, (int)(id >> 3), wc->byte_len);
        else if (wc->status != IBV_WC_WR_FLUSH_ERR)
            RDMX_WARN("verbs: UD receive failed: %s",
                      ibv_wc_status_str(wc->status));
        break;
    case RDMX_VERBS_WR_UD_SEND:
        vi->ud_send_busy[id >> 3] = 0;
        if (wc->status != IBV_WC_SUCCESS)
            RDMX_WARN("verbs: UD send failed: %s (retried)",
                      ibv_wc_status_str(wc->status));
        break;
    default:
        RDMX_ERROR("verbs: completion with unknown wr_id 0x%llx",
                   (unsigned long long)id);
    }
}

static int poll_cq(rdmx_verbs_iface_t *vi)
{
    struct ibv_wc wc[16];
    int total = 0;
    for (int round = 0; round < 8; round++) {
        int n = ibv_poll_cq(vi->cq, 16, wc);
        if (n < 0) {
            RDMX_ERROR("verbs: ibv_poll_cq failed (%d)", n);
            break;
        }
        for (int i = 0; i < n; i++)
            handle_wc(vi, &wc[i]);
        total += n;
        if (n < 16)
            break;
    }
    return total;
}

static void drain_channel(rdmx_verbs_iface_t *vi)
{
    struct ibv_cq *cq;
    void *cq_ctx;
    while (ibv_get_cq_event(vi->channel, &cq, &cq_ctx) == 0)
        vi->cq_events++;
    if (vi->cq_events) {
        ibv_ack_cq_events(vi->cq, vi->cq_events);
        vi->cq_events = 0;
    }
    vi->armed = 0;
}

static int flush_busy(rdmx_verbs_iface_t *vi)
{
    rdmx_ep_t *list = vi->busy;
    int n = 0;
    vi->busy = NULL;
    while (list) {
        rdmx_ep_t *ep = list;
        list = ep->next_busy;
        ep->on_busy = 0;
        ep->next_busy = NULL;
        unsigned before = ep->sq_used;
        rdmx_verbs_ep_flush(ep);
        n += ep->sq_used != before;
        if ((ep->queued_head || ep->credit_frame_pending) &&
            ep->state != RDMX_VERBS_EP_FAILED)
            rdmx_verbs_ep_mark_busy(ep);
    }
    return n;
}

int rdmx_verbs_progress(rdmx_transport_t *tp)
{
    rdmx_verbs_iface_t *vi = (rdmx_verbs_iface_t *)tp;
    if (vi->armed)
        drain_channel(vi);
    /* Unpin the pages of memory the application freed since last time. */
    rdmx_verbs_regcache_drain(&vi->regcache);
    int n = poll_cq(vi);
    if (vi->busy)
        n += flush_busy(vi);
    if (vi->nconnecting > 0)
        rdmx_verbs_conn_timers(vi, rdmx_verbs_now_ns());
    return n;
}

rdmx_status_t rdmx_verbs_arm(rdmx_transport_t *tp)
{
    rdmx_verbs_iface_t *vi = (rdmx_verbs_iface_t *)tp;
    if (vi->armed)
        drain_channel(vi);
    int rc = ibv_req_notify_cq(vi->cq, 0);
    if (rc) {
        RDMX_ERROR("verbs: ibv_req_notify_cq: %s", strerror(rc));
        return RDMX_ERR_AGAIN; /* keep polling rather than sleep blind */
    }
    vi->armed = 1;
    /* A completion that arrived before the request raised no event. */
    if (poll_cq(vi) > 0)
        return RDMX_ERR_AGAIN;
    if (vi->busy && flush_busy(vi) > 0)
        return RDMX_ERR_AGAIN;
    return RDMX_OK;
}
