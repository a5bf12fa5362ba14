/*
 * verbs_conn.c — the connection manager: a UD QP per rank that exchanges
 * RC QP numbers on first use of a peer, and the RC QP state changes.
 *
 * Exchange (UD datagrams, HMAC'd, see verbs_wire.c):
 *   A: create QP_A (INIT), send REQ{QP_A, PSN_A}          [re-sent until
 *   B: on REQ: create QP_B if needed, QP_B -> RTR/RTS,      answered]
 *      send REP{QP_B, PSN_B}; B holds its sends (state WAIT_RTU) because
 *      QP_A cannot receive yet;
 *   A: on REP: QP_A -> RTR/RTS, post an RTU (an empty CREDIT frame) on the
 *      RC QP, then send; B: the first RC frame from A releases its sends.
 * The RTU travels on the reliable QP, so it cannot be lost. Crossed REQs:
 * both sides become responders and both receive a REP, which (the peer is
 * at RTR) lets each send at once. Duplicated REQs are answered again;
 * duplicated REPs are ignored.
 *
 * RC QP parameters (deliberate; see the RDMX_VERBS_* variables and
 * docs/VERBS.md, which has the measurements):
 *   timeout 18 (4.096 us * 2^18 = 1.07 s per try) and retry_cnt 7: a peer
 *   is declared lost after ~8.6 s of silence, long enough for a loaded
 *   soft-RoCE host or a fabric hiccup, short enough to end a dead job.
 *   Loss in mid-burst is repaired by sequence NAKs without waiting; the
 *   timeout fires only when nothing comes back, and then resends every
 *   unacknowledged packet, so a short one (perftest's 14, 67 ms) turns
 *   late ACKs into retransmitted windows;
 *   rnr_retry 7 (infinite): credits keep receive buffers available, so an
 *   RNR NAK means a transient shortage, never a reason to kill the job;
 *   min_rnr_timer 12 (0.64 ms).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/auth.h"
#include "core/log.h"
#include "verbs.h"
#include "verbs_gid.h"

#define UD_SLOT 128 /* bytes per UD buffer (GRH 40 + message 64) */

long rdmx_verbs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static uint32_t ud_qkey(const rdmx_verbs_iface_t *vi)
{
    uint32_t k;
    memcpy(&k, vi->rt->secret, sizeof(k));
    return k & 0x7fffffffu; /* Q_Keys with the MSB set are privileged */
}

static uint8_t *ud_recv_slot(rdmx_verbs_iface_t *vi, int i)
{
    return vi->udbuf + (size_t)i * UD_SLOT;
}

static uint8_t *ud_send_slot(rdmx_verbs_iface_t *vi, int i)
{
    return vi->udbuf + (size_t)(RDMX_VERBS_UD_SLOTS + i) * UD_SLOT;
}

rdmx_status_t rdmx_verbs_ud_post_recv(rdmx_verbs_iface_t *vi, int slot)
{
    struct ibv_sge sge = {.addr = (uintptr_t)ud_recv_slot(vi, slot),
                          .length = UD_SLOT,
                          .lkey = vi->udbuf_mr->lkey};
    struct ibv_recv_wr wr = {.wr_id =
                                 ((uint64_t)slot << 3) | RDMX_VERBS_WR_UD_RECV,
                             .sg_list = &sge,
                             .num_sge = 1};
    struct ibv_recv_wr *bad;
    int rc = ibv_post_recv(vi->ud_qp, &wr, &bad);
    if (rc) {
        RDMX_ERROR("verbs: ibv_post_recv on the UD QP: %s", strerror(rc));
        return RDMX_ERR_IO;
    }
    return RDMX_OK;
}

rdmx_status_t rdmx_verbs_ud_create(rdmx_verbs_iface_t *vi)
{
    size_t len =
        (size_t)(RDMX_VERBS_UD_SLOTS + RDMX_VERBS_UD_SEND_SLOTS) * UD_SLOT;
    vi->udbuf = calloc(1, len);
    if (!vi->udbuf)
        return RDMX_ERR_NOMEM;
    vi->udbuf_mr = ibv_reg_mr(vi->pd, vi->udbuf, len, IBV_ACCESS_LOCAL_WRITE);
    if (!vi->udbuf_mr) {
        RDMX_ERROR("verbs: ibv_reg_mr of %zu bytes (UD buffers): %s", len,
                   strerror(errno));
        return RDMX_ERR_IO;
    }
    struct ibv_qp_init_attr ia = {
        .send_cq = vi->cq,
        .recv_cq = vi->cq,
        .cap = {.max_send_wr = RDMX_VERBS_UD_SEND_SLOTS,
                .max_recv_wr = RDMX_VERBS_UD_SLOTS,
                .max_send_sge = 1,
                .max_recv_sge = 1},
        .qp_type = IBV_QPT_UD,
    };
    vi->ud_qp = ibv_create_qp(vi->pd, &ia);
    if (!vi->ud_qp) {
        RDMX_ERROR("verbs: ibv_create_qp(UD) on %s: %s", vi->port.dev_name,
                   strerror(errno));
        return RDMX_ERR_IO;
    }
    struct ibv_qp_attr a = {.qp_state = IBV_QPS_INIT,
                            .pkey_index = 0,
                            .port_num = vi->port.port,
                            .qkey = ud_qkey(vi)};
    int rc = ibv_modify_qp(vi->ud_qp, &a,
                           IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
                               IBV_QP_QKEY);
    if (rc == 0) {
        memset(&a, 0, sizeof(a));
        a.qp_state = IBV_QPS_RTR;
        rc = ibv_modify_qp(vi->ud_qp, &a, IBV_QP_STATE);
    }
    if (rc == 0) {
        memset(&a, 0, sizeof(a));
        a.qp_state = IBV_QPS_RTS;
        a.sq_psn = 0;
        rc = ibv_modify_qp(vi->ud_qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN);
    }
    if (rc) {
        RDMX_ERROR("verbs: bringing up the UD QP on %s: %s", vi->port.dev_name,
                   strerror(rc));
        return RDMX_ERR_IO;
    }
    for (int i = 0; i < RDMX_VERBS_UD_SLOTS; i++)
        if (rdmx_verbs_ud_post_recv(vi, i) != RDMX_OK)
            return RDMX_ERR_IO;
    return RDMX_OK;
}

static void fill_ah(rdmx_verbs_iface_t *vi, const rdmx_verbs_addr_t *addr,
                    struct ibv_ah_attr *ah)
{
    memset(ah, 0, sizeof(*ah));
    ah->port_num = vi->port.port;
    ah->dlid = addr->lid;
    if (vi->port.link_layer == IBV_LINK_LAYER_ETHERNET) {
        ah->is_global = 1;
        memcpy(ah->grh.dgid.raw, addr->gid, 16);
        ah->grh.sgid_index = (uint8_t)vi->port.gid_index;
        ah->grh.hop_limit = 64;
    }
}

static rdmx_status_t ud_send(rdmx_ep_t *ep, uint8_t type)
{
    rdmx_verbs_iface_t *vi = ep->iface;
    int slot = -1;
    for (int i = 0; i < RDMX_VERBS_UD_SEND_SLOTS; i++) {
        if (!vi->ud_send_busy[i]) {
            slot = i;
            break;
        }
    }
    if (slot < 0)
        return RDMX_ERR_AGAIN; /* the retry timer sends it later */
    rdmx_verbs_conn_msg_t m = {.type = type,
                               .mtu = (uint8_t)vi->port.active_mtu,
                               .src_rank = vi->rt->rank,
                               .dst_rank = ep->peer,
                               .qpn = ep->qp->qp_num,
                               .psn = ep->psn,
                               .credits = vi->credits};
    uint8_t *buf = ud_send_slot(vi, slot);
    rdmx_verbs_conn_pack(&m, vi->rt->secret, RDMX_SECRET_LEN, buf);
    struct ibv_sge sge = {.addr = (uintptr_t)buf,
                          .length = RDMX_VERBS_CONN_LEN,
                          .lkey = vi->udbuf_mr->lkey};
    struct ibv_send_wr wr = {.wr_id =
                                 ((uint64_t)slot << 3) | RDMX_VERBS_WR_UD_SEND,
                             .sg_list = &sge,
                             .num_sge = 1,
                             .opcode = IBV_WR_SEND,
                             .send_flags = IBV_SEND_SIGNALED,
                             .wr.ud = {.ah = ep->ud_ah,
                                       .remote_qpn = ep->addr.ud_qpn,
                                       .remote_qkey = ud_qkey(vi)}};
    struct ibv_send_wr *bad;
    int rc = ibv_post_send(vi->ud_qp, &wr, &bad);
    if (rc) {
        RDMX_WARN("verbs: UD send to rank %d: %s", ep->peer, strerror(rc));
        return RDMX_ERR_AGAIN;
    }
    vi->ud_send_busy[slot] = 1;
    ep->conn_sent_ns = rdmx_verbs_now_ns();
    RDMX_DEBUG("verbs: sent %s to rank %d (my QPN %u)",
               type == RDMX_VERBS_CONN_REQ ? "REQ" : "REP", ep->peer,
               ep->qp->qp_num);
    return RDMX_OK;
}

/* The CQ must hold a completion for every WR that can be outstanding. */
static rdmx_status_t cq_reserve(rdmx_verbs_iface_t *vi)
{
    int need = (vi->nconnected + 1) * (int)vi->sq_depth + vi->rslots_max +
               RDMX_VERBS_UD_SLOTS + RDMX_VERBS_UD_SEND_SLOTS;
    if (need <= vi->cq_size)
        return RDMX_OK;
    int want = vi->cq_size * 2 > need ? vi->cq_size * 2 : need;
    if (want > vi->dev_attr.max_cqe)
        want = vi->dev_attr.max_cqe;
    if (want < need) {
        RDMX_ERROR("verbs: %d connections need a CQ of %d entries; %s "
                   "allows %d (lower RDMX_VERBS_SQ_DEPTH)",
                   vi->nconnected + 1, need, vi->port.dev_name,
                   vi->dev_attr.max_cqe);
        return RDMX_ERR_NOMEM;
    }
    int rc = ibv_resize_cq(vi->cq, want);
    if (rc) {
        RDMX_ERROR("verbs: ibv_resize_cq to %d: %s", want, strerror(rc));
        return RDMX_ERR_IO;
    }
    vi->cq_size = vi->cq->cqe > want ? vi->cq->cqe : want;
    return RDMX_OK;
}

rdmx_status_t rdmx_verbs_ep_get(rdmx_verbs_iface_t *vi, int peer,
                                rdmx_ep_t **out)
{
    if (vi->eps[peer]) {
        *out = vi->eps[peer];
        return RDMX_OK;
    }
    uint8_t raw[RDMX_VERBS_ADDR_LEN];
    size_t len = 0;
    rdmx_verbs_addr_t addr;
    rdmx_status_t st =
        rdmx_modex_get(vi->rt, peer, "verbs", raw, sizeof(raw), &len);
    if (st != RDMX_OK)
        return st;
    if (rdmx_verbs_addr_unpack(raw, len, &addr) != RDMX_OK) {
        RDMX_ERROR("verbs: rank %d published a malformed address (%zu "
                   "bytes)",
                   peer, len);
        return RDMX_ERR_PROTO;
    }
    rdmx_ep_t *ep = calloc(1, sizeof(*ep));
    if (!ep)
        return RDMX_ERR_NOMEM;
    ep->iface = vi;
    ep->peer = peer;
    ep->addr = addr;
    if ((st = cq_reserve(vi)) != RDMX_OK)
        goto fail;

    struct ibv_qp_init_attr ia = {
        .send_cq = vi->cq,
        .recv_cq = vi->cq,
        .srq = vi->srq,
        .cap = {.max_send_wr = vi->sq_depth,
                .max_send_sge = 1,
                .max_inline_data = vi->max_inline},
        .qp_type = IBV_QPT_RC,
        .sq_sig_all = 0,
    };
    ep->qp = ibv_create_qp(vi->pd, &ia);
    if (!ep->qp) {
        RDMX_ERROR("verbs: ibv_create_qp(RC) towards rank %d on %s: %s", peer,
                   vi->port.dev_name, strerror(errno));
        st = RDMX_ERR_IO;
        goto fail;
    }
    if (ia.cap.max_inline_data < vi->max_inline)
        vi->max_inline = ia.cap.max_inline_data;
    struct ibv_qp_attr a = {.qp_state = IBV_QPS_INIT,
                            .pkey_index = 0,
                            .port_num = vi->port.port,
                            .qp_access_flags = IBV_ACCESS_LOCAL_WRITE |
                                               IBV_ACCESS_REMOTE_READ |
                                               IBV_ACCESS_REMOTE_WRITE};
    int rc = ibv_modify_qp(ep->qp, &a,
                           IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
                               IBV_QP_ACCESS_FLAGS);
    if (rc) {
        RDMX_ERROR("verbs: RC QP to INIT (rank %d): %s", peer, strerror(rc));
        st = RDMX_ERR_IO;
        goto fail;
    }
    struct ibv_ah_attr ah;
    fill_ah(vi, &addr, &ah);
    ep->ud_ah = ibv_create_ah(vi->pd, &ah);
    if (!ep->ud_ah) {
        RDMX_ERROR("verbs: ibv_create_ah towards rank %d: %s", peer,
                   strerror(errno));
        st = RDMX_ERR_IO;
        goto fail;
    }
    uint32_t r;
    rdmx_auth_random(&r, sizeof(r));
    ep->psn = r & 0xffffff;
    ep->state = RDMX_VERBS_EP_NEW;
    if ((st = rdmx_verbs_qpmap_add(vi, ep)) != RDMX_OK)
        goto fail;
    vi->eps[peer] = ep;
    vi->nconnected++;
    rdmx_verbs_srq_grow(vi);
    *out = ep;
    return RDMX_OK;

fail:
    if (ep->ud_ah)
        ibv_destroy_ah(ep->ud_ah);
    if (ep->qp)
        ibv_destroy_qp(ep->qp);
    free(ep);
    return st;
}

/* INIT -> RTR -> RTS towards the peer's (qpn, psn). */
static rdmx_status_t qp_connect(rdmx_ep_t *ep, uint32_t qpn, uint32_t psn,
                                uint8_t peer_mtu)
{
    rdmx_verbs_iface_t *vi = ep->iface;
    enum ibv_mtu mtu = vi->port.active_mtu < (enum ibv_mtu)peer_mtu
                           ? vi->port.active_mtu
                           : (enum ibv_mtu)peer_mtu;
    if (vi->mtu && vi->mtu < mtu)
        mtu = vi->mtu;
    struct ibv_qp_attr a = {.qp_state = IBV_QPS_RTR,
                            .path_mtu = mtu,
                            .dest_qp_num = qpn,
                            .rq_psn = psn,
                            .max_dest_rd_atomic = vi->dest_rd_atomic,
                            .min_rnr_timer = vi->min_rnr_timer};
    fill_ah(vi, &ep->addr, &a.ah_attr);
    int rc = ibv_modify_qp(
        ep->qp, &a,
        IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
            IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
    if (rc) {
        RDMX_ERROR("verbs: RC QP to RTR towards rank %d (QPN %u): %s", ep->peer,
                   qpn, strerror(rc));
        return RDMX_ERR_IO;
    }
    memset(&a, 0, sizeof(a));
    a.qp_state = IBV_QPS_RTS;
    a.timeout = vi->timeout;
    a.retry_cnt = vi->retry_cnt;
    a.rnr_retry = vi->rnr_retry;
    a.sq_psn = ep->psn;
    a.max_rd_atomic = vi->rd_atomic;
    rc = ibv_modify_qp(ep->qp, &a,
                       IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
                           IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
                           IBV_QP_MAX_QP_RD_ATOMIC);
    if (rc) {
        RDMX_ERROR("verbs: RC QP to RTS towards rank %d: %s", ep->peer,
                   strerror(rc));
        return RDMX_ERR_IO;
    }
    ep->remote_qpn = qpn;
    RDMX_DEBUG("verbs: QP %u connected to rank %d QP %u (mtu %d)",
               ep->qp->qp_num, ep->peer, qpn, 128 << mtu);
    return RDMX_OK;
}

/* Endpoints waiting for a REP need the retry timer. */
static void vi_connecting(rdmx_ep_t *ep, int delta)
{
    ep->iface->nconnecting += delta;
}

rdmx_status_t rdmx_verbs_ep_connect(rdmx_ep_t *ep)
{
    switch (ep->state) {
    case RDMX_VERBS_EP_CONNECTED:
        return RDMX_OK;
    case RDMX_VERBS_EP_FAILED:
        return RDMX_ERR_PEER_GONE;
    case RDMX_VERBS_EP_NEW:
        ep->state = RDMX_VERBS_EP_CONNECTING;
        ep->conn_start_ns = rdmx_verbs_now_ns();
        vi_connecting(ep, +1);
        ud_send(ep, RDMX_VERBS_CONN_REQ);
        return RDMX_ERR_AGAIN;
    default:
        return RDMX_ERR_AGAIN;
    }
}

/* Post the RTU: an empty CREDIT frame; it also carries credits owed. */
static void send_rtu(rdmx_ep_t *ep);

void rdmx_verbs_ud_recv(rdmx_verbs_iface_t *vi, int slot, uint32_t byte_len)
{
    rdmx_verbs_conn_msg_t m;
    uint8_t *buf = ud_recv_slot(vi, slot) + RDMX_VERBS_GRH;
    rdmx_status_t st = RDMX_ERR_PROTO;
    if (byte_len >= RDMX_VERBS_GRH)
        st = rdmx_verbs_conn_unpack(buf, byte_len - RDMX_VERBS_GRH,
                                    vi->rt->secret, RDMX_SECRET_LEN,
                                    vi->rt->rank, vi->rt->size, &m);
    rdmx_verbs_ud_post_recv(vi, slot);
    if (st != RDMX_OK) {
        RDMX_WARN("verbs: dropped a connection datagram that failed "
                  "validation (%s)",
                  rdmx_status_str(st));
        return;
    }
    rdmx_ep_t *ep;
    st = rdmx_verbs_ep_get(vi, m.src_rank, &ep);
    if (st != RDMX_OK) {
        RDMX_ERROR("verbs: cannot create the endpoint for rank %d's "
                   "connection request: %s",
                   m.src_rank, rdmx_status_str(st));
        return;
    }
    if (ep->state == RDMX_VERBS_EP_FAILED)
        return;
    if (ep->remote_qpn && ep->remote_qpn != m.qpn) {
        RDMX_WARN("verbs: rank %d announced QP %u, but it is connected as "
                  "QP %u; ignored",
                  m.src_rank, m.qpn, ep->remote_qpn);
        return;
    }
    if (!ep->remote_qpn) {
        if (qp_connect(ep, m.qpn, m.psn, m.mtu) != RDMX_OK) {
            rdmx_verbs_ep_fail(ep, RDMX_ERR_IO, "connecting the RC QP");
            return;
        }
        rdmx_verbs_credit_init(&ep->credit, m.credits);
        if (ep->state == RDMX_VERBS_EP_CONNECTING)
            vi_connecting(ep, -1); /* no more REQ retries needed */
    }
    if (m.type == RDMX_VERBS_CONN_REQ) {
        /* The peer cannot receive until it has our REP: hold our sends
         * until its first RC frame (the RTU) unless we are already
         * connected. */
        if (ep->state != RDMX_VERBS_EP_CONNECTED)
            ep->state = RDMX_VERBS_EP_CONNECTING;
        ud_send(ep, RDMX_VERBS_CONN_REP);
        return;
    }
    /* REP: the peer is at RTS towards us. */
    if (ep->state != RDMX_VERBS_EP_CONNECTED) {
        ep->state = RDMX_VERBS_EP_CONNECTED;
        send_rtu(ep);
        rdmx_verbs_ep_flush(ep);
    }
}

static void send_rtu(rdmx_ep_t *ep)
{
    /* An empty CREDIT frame, posted ahead of any queued message. */
    ep->credit_frame_pending = 1;
    rdmx_verbs_ep_mark_busy(ep);
}

void rdmx_verbs_conn_timers(rdmx_verbs_iface_t *vi, long now)
{
    for (int p = 0; p < vi->rt->size; p++) {
        rdmx_ep_t *ep = vi->eps[p];
        if (!ep || ep->state != RDMX_VERBS_EP_CONNECTING)
            continue;
        if (ep->remote_qpn)
            continue; /* responder waiting for the RTU on the RC QP */
        if (now - ep->conn_start_ns > vi->conn_timeout_ns) {
            char why[160];
            snprintf(why, sizeof(why),
                     "verbs: rank %d did not answer a connection request "
                     "within %ld s (RDMX_VERBS_CONN_TIMEOUT)",
                     p, vi->conn_timeout_ns / 1000000000L);
            rdmx_verbs_ep_fail(ep, RDMX_ERR_TIMEOUT, why);
            continue;
        }
        if (now - ep->conn_sent_ns > vi->conn_retry_ns)
            ud_send(ep, RDMX_VERBS_CONN_REQ);
    }
}

void rdmx_verbs_ep_destroy(rdmx_ep_t *ep)
{
    rdmx_verbs_ep_drop_ops(ep);
    rdmx_verbs_qpmap_del(ep->iface, ep);
    if (ep->qp)
        ibv_destroy_qp(ep->qp);
    if (ep->ud_ah)
        ibv_destroy_ah(ep->ud_ah);
    free(ep);
}
