/*
 * p2p.c — point-to-point protocols: eager, rendezvous (GET or CTS/DATA),
 * synchronous mode, and the upcalls transports invoke on arrival.
 *
 * Protocol choice is per message by the serving transport's eager limit:
 *   bytes <= eager_limit   EAGER (+ SYNC_ACK for synchronous mode)
 *   otherwise, GET-capable RTS(desc) -> receiver GETs into the user buffer
 *                                       -> FIN
 *   otherwise              RTS -> CTS(receiver handle) -> DATA straight into
 *                                       the user buffer
 * Non-overtaking holds because each peer is served by one transport whose
 * delivery is FIFO and matching happens in arrival order.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy_small.h"
#include "errors.h"
#include "log.h"
#include "request_impl.h"
#include "runtime.h"

#define container_of(ptr, type, member)                                       \
    ((type *)((char *)(ptr) - offsetof(type, member)))

enum sink_kind {
    SINK_EAGER_REQ = 1,  /* eager payload into a matched receive */
    SINK_EAGER_UNEXP,    /* eager payload into an unexpected buffer */
    SINK_RTS,            /* RTS descriptor into an unexpected record */
    SINK_CTS,            /* CTS receiver handle into a send request */
    SINK_DATA,           /* rendezvous data into a receive */
    SINK_DISCARD,        /* nothing to keep */
};

rdmx_match_engine_t rdmx_matcher;
static rdmx_unexpected_t *free_unexp;

int rdmx_p2p_init(void)
{
    return rdmx_match_init(&rdmx_matcher);
}

void rdmx_p2p_fini(void)
{
    rdmx_match_fini(&rdmx_matcher);
    while (free_unexp) {
        rdmx_unexpected_t *n = (rdmx_unexpected_t *)free_unexp->match.next;
        free(free_unexp);
        free_unexp = n;
    }
}

static rdmx_unexpected_t *unexp_alloc(void)
{
    rdmx_unexpected_t *u = free_unexp;
    if (u)
        free_unexp = (rdmx_unexpected_t *)u->match.next;
    else if (!(u = malloc(sizeof(*u))))
        return NULL;
    memset(u, 0, sizeof(*u));
    return u;
}

static void unexp_free(rdmx_unexpected_t *u)
{
    free(u->data);
    u->data = NULL;
    u->match.next = (rdmx_match_entry_t *)free_unexp;
    free_unexp = u;
}

/* ---- completion helpers -------------------------------------------------- */

static void req_event_done(rdmx_request_t *r)
{
    if (--r->pending == 0)
        rdmx_request_complete(r);
}

static void send_comp_cb(rdmx_completion_t *comp, rdmx_status_t st)
{
    rdmx_request_t *r = container_of(comp, rdmx_request_t, send_comp);
    if (st < 0 && r->error == RDMX_OK)
        r->error = st;
    req_event_done(r);
}

static void data_comp_cb(rdmx_completion_t *comp, rdmx_status_t st)
{
    rdmx_request_t *r = container_of(comp, rdmx_request_t, get_comp);
    if (st < 0 && r->error == RDMX_OK)
        r->error = st;
    req_event_done(r);
}

/* Control messages carry no payload, so nothing must outlive send(). */
static void ctrl_comp_cb(rdmx_completion_t *comp, rdmx_status_t st)
{
    (void)comp;
    (void)st;
}
static rdmx_completion_t ctrl_comp = {ctrl_comp_cb};

static rdmx_status_t send_ctrl(int peer, uint8_t type, uint64_t req,
                               const void *payload, size_t len,
                               rdmx_completion_t *comp)
{
    rdmx_transport_t *tp;
    rdmx_ep_t *ep;
    rdmx_status_t st = rdmx_rt_get_ep(&rdmx_rt, peer, &tp, &ep);
    if (st != RDMX_OK)
        return st;
    rdmx_wire_hdr_t hdr = {.type = type, .len = len, .req = req,
                           .src = rdmx_rt.rank};
    struct iovec iov = {(void *)payload, len};
    st = tp->ops->send(ep, &hdr, &iov, len ? 1 : 0, comp ? comp : &ctrl_comp);
    if (st == RDMX_OK && comp)
        comp->cb(comp, RDMX_OK);
    return st < 0 ? st : RDMX_OK;
}

static void fail_peer_call(int peer, rdmx_status_t st, const char *what)
{
    char detail[128];
    snprintf(detail, sizeof(detail), "%s: %s", what, rdmx_status_str(st));
    rdmx_proto_on_peer_failure(&rdmx_rt, peer, st, detail);
}

/* ---- send side ------------------------------------------------------------ */

static rdmx_status_t check_common(const rdmx_datatype_t *dt, rdmx_comm_t *comm)
{
    if (rdmx_comm_check(comm) != RDMX_OK)
        return RDMX_ERR_COMM;
    if (rdmx_dt_check(dt) != RDMX_OK)
        return RDMX_ERR_TYPE;
    return RDMX_OK;
}

/* A completion on the caller's stack for rdmx_send_eager_blocking. */
typedef struct inline_send {
    rdmx_completion_t comp;
    int done;
    rdmx_status_t status;
} inline_send_t;

static void inline_send_cb(rdmx_completion_t *comp, rdmx_status_t st)
{
    inline_send_t *s = (inline_send_t *)comp;
    s->status = st;
    s->done = 1;
}

static int inline_send_done(void *arg)
{
    return ((inline_send_t *)arg)->done;
}

/* MPI_Send of a small message is the hottest call of ping-pong codes: it
 * skips the request (allocation, handle, wait, recycle) because the
 * receiver of a standard-mode eager message never answers it. */
rdmx_status_t rdmx_send_eager_blocking(const void *buf, size_t count,
                                       const rdmx_datatype_t *dt, int dest,
                                       int tag, rdmx_comm_t *comm, int ctx)
{
    size_t bytes;
    rdmx_transport_t *tp;
    rdmx_ep_t *ep;

    if (!dt->contiguous || rdmx_dt_bytes(dt, count, &bytes) != RDMX_OK)
        return RDMX_ERR_AGAIN;
    int peer = rdmx_comm_world_rank(comm, dest);
    if (rdmx_rt_get_ep(&rdmx_rt, peer, &tp, &ep) != RDMX_OK ||
        bytes > tp->caps.eager_limit)
        return RDMX_ERR_AGAIN; /* the general path reports errors */
    rdmx_wire_hdr_t hdr = {.type = RDMX_MSG_EAGER,
                           .context_id = comm->context_id + (uint32_t)ctx,
                           .src = comm->rank,
                           .tag = tag,
                           .len = bytes};
    struct iovec iov = {(void *)buf, bytes};
    inline_send_t s = {{inline_send_cb}, 0, RDMX_OK};
    rdmx_status_t st = tp->ops->send(ep, &hdr, &iov, bytes ? 1 : 0, &s.comp);
    if (st == RDMX_INPROGRESS) {
        rdmx_progress_wait(inline_send_done, &s);
        st = s.status;
    }
    return st;
}

rdmx_status_t rdmx_isend(const void *buf, size_t count,
                         const rdmx_datatype_t *dt, int dest, int tag,
                         rdmx_comm_t *comm, int ctx, int mode,
                         rdmx_request_t **out)
{
    int prefer_get = mode & RDMX_SEND_FLAG_GET;
    mode &= ~RDMX_SEND_FLAG_GET;
    rdmx_status_t st = check_common(dt, comm);
    if (st != RDMX_OK)
        return st;
    if (dest != MPI_PROC_NULL && (dest < 0 || dest >= comm->size))
        return RDMX_ERR_RANK;
    if (tag < 0)
        return RDMX_ERR_TAG;
    size_t bytes;
    if ((st = rdmx_dt_bytes(dt, count, &bytes)) != RDMX_OK)
        return st;

    rdmx_request_t *r = rdmx_request_alloc(RDMX_REQ_SEND, comm);
    if (!r)
        return RDMX_ERR_NOMEM;
    *out = r;
    r->buf = (void *)buf;
    r->count = count;
    r->dt = dt;
    r->bytes = bytes;
    r->mode = mode;
    r->send_comp.cb = send_comp_cb;
    r->get_comp.cb = data_comp_cb;
    if (dest == MPI_PROC_NULL) {
        r->pub.status.MPI_SOURCE = MPI_PROC_NULL;
        r->pub.status.MPI_TAG = MPI_ANY_TAG;
        rdmx_request_complete(r);
        return RDMX_OK;
    }
    r->peer = rdmx_comm_world_rank(comm, dest);
    rdmx_ep_t *ep;
    st = rdmx_rt_get_ep(&rdmx_rt, r->peer, &r->tp, &ep);
    if (st != RDMX_OK)
        goto fail;

    const void *src = buf;
    if (!dt->contiguous && bytes) {
        r->tmp = malloc(bytes);
        if (!r->tmp) {
            st = RDMX_ERR_NOMEM;
            goto fail;
        }
        rdmx_dt_pack(dt, buf, count, 0, r->tmp, bytes);
        src = r->tmp;
    }
    rdmx_wire_hdr_t hdr = {.context_id = comm->context_id + (uint32_t)ctx,
                           .src = comm->rank, .tag = tag};
    struct iovec iov;
    if (bytes <= r->tp->caps.eager_limit &&
        !(prefer_get && bytes && (r->tp->caps.flags & RDMX_TP_CAP_GET))) {
        hdr.type = RDMX_MSG_EAGER;
        hdr.len = bytes;
        hdr.req = rdmx_request_handle(r);
        r->pending = 1;
        if (mode == RDMX_SEND_SYNC) {
            hdr.flags = RDMX_MSG_FLAG_SYNC;
            r->pending++;
        }
        iov.iov_base = (void *)src;
        iov.iov_len = bytes;
    } else {
        rdmx_rndv_desc_t *d = malloc(sizeof(*d));
        if (!d) {
            st = RDMX_ERR_NOMEM;
            goto fail;
        }
        memset(d, 0, sizeof(*d));
        d->len = bytes;
        r->pending = 2; /* RTS sent + (FIN or CTS) */
        if (r->tp->caps.flags & RDMX_TP_CAP_GET) {
            if (prefer_get && r->tp->ops->mem_reg_shared)
                st = r->tp->ops->mem_reg_shared(r->tp, (void *)src, bytes,
                                                &r->memh);
            else
                st = r->tp->ops->mem_reg(r->tp, (void *)src, bytes,
                                         &r->memh);
            if (st != RDMX_OK) {
                free(d);
                goto fail;
            }
            d->addr = (uint64_t)(uintptr_t)src;
            d->rkey_len = r->memh->rkey_len;
            memcpy(d->rkey, r->memh->rkey, r->memh->rkey_len);
        }
        r->arg = d; /* freed with the request below */
        hdr.type = RDMX_MSG_RTS;
        if (prefer_get)
            hdr.flags |= RDMX_MSG_FLAG_FANOUT;
        hdr.len = sizeof(*d);
        hdr.req = rdmx_request_handle(r);
        iov.iov_base = d;
        iov.iov_len = sizeof(*d);
    }
    st = r->tp->ops->send(ep, &hdr, &iov, hdr.len ? 1 : 0, &r->send_comp);
    if (st == RDMX_OK) {
        req_event_done(r);
    } else if (st != RDMX_INPROGRESS) {
        goto fail;
    }
    return RDMX_OK;

fail:
    RDMX_DEBUG("send to rank %d failed: %s", r->peer, rdmx_status_str(st));
    *out = NULL;
    if (r->memh)
        r->tp->ops->mem_dereg(r->tp, r->memh);
    free(r->arg);
    r->arg = NULL;
    rdmx_request_complete(r);
    rdmx_request_free(r);
    return st;
}

/* ---- receive side --------------------------------------------------------- */

rdmx_status_t rdmx_irecv(void *buf, size_t count, const rdmx_datatype_t *dt,
                         int src, int tag, rdmx_comm_t *comm, int ctx,
                         rdmx_request_t **out)
{
    rdmx_status_t st = check_common(dt, comm);
    if (st != RDMX_OK)
        return st;
    if (src != MPI_PROC_NULL && src != MPI_ANY_SOURCE
        && (src < 0 || src >= comm->size))
        return RDMX_ERR_RANK;
    if (tag < 0 && tag != MPI_ANY_TAG)
        return RDMX_ERR_TAG;
    size_t bytes;
    if ((st = rdmx_dt_bytes(dt, count, &bytes)) != RDMX_OK)
        return st;
    rdmx_request_t *r = rdmx_request_alloc(RDMX_REQ_RECV, comm);
    if (!r)
        return RDMX_ERR_NOMEM;
    *out = r;
    r->buf = buf;
    r->count = count;
    r->dt = dt;
    r->bytes = bytes;
    r->get_comp.cb = data_comp_cb;
    if (src == MPI_PROC_NULL) {
        r->pub.status.MPI_SOURCE = MPI_PROC_NULL;
        r->pub.status.MPI_TAG = MPI_ANY_TAG;
        rdmx_request_complete(r);
        return RDMX_OK;
    }
    r->match.ctx = comm->context_id + (uint32_t)ctx;
    r->match.src = src == MPI_ANY_SOURCE ? RDMX_MATCH_ANY : src;
    r->match.tag = tag == MPI_ANY_TAG ? RDMX_MATCH_ANY : tag;
    rdmx_match_entry_t *u = rdmx_match_post_recv(&rdmx_matcher, &r->match);
    if (u)
        rdmx_p2p_deliver_unexpected(r, (rdmx_unexpected_t *)u);
    return RDMX_OK;
}

/* Bytes the receive can hold of a `len`-byte message; flags truncation. */
static size_t recv_accept(rdmx_request_t *r, size_t len)
{
    r->msg_len = len;
    if (len > r->bytes) {
        r->error = RDMX_ERR_TRUNCATE;
        return r->bytes;
    }
    return len;
}

static void recv_set_status(rdmx_request_t *r, const rdmx_wire_hdr_t *hdr,
                            int peer)
{
    r->matched = 1;
    r->peer = peer;
    r->pub.status.MPI_SOURCE = hdr->src;
    r->pub.status.MPI_TAG = hdr->tag;
}

static void recv_finish(rdmx_request_t *r, size_t n)
{
    if (r->tmp) {
        rdmx_dt_unpack(r->dt, r->buf, r->count, 0, r->tmp, n);
        free(r->tmp);
        r->tmp = NULL;
    }
    r->pub.status.rdmx_count = n;
    r->pub.status.MPI_ERROR = rdmx_status_to_mpi_class(r->error);
    rdmx_request_complete(r);
}

/* Where `n` bytes of payload for receive `r` go. */
static void *recv_dest(rdmx_request_t *r, size_t n)
{
    if (r->dt->contiguous || n == 0)
        return r->buf;
    r->tmp = malloc(n);
    return r->tmp;
}

static void eager_sync_ack(const rdmx_wire_hdr_t *hdr, int peer)
{
    if (hdr->flags & RDMX_MSG_FLAG_SYNC) {
        rdmx_status_t st = send_ctrl(peer, RDMX_MSG_SYNC_ACK, hdr->req, NULL,
                                     0, NULL);
        if (st != RDMX_OK)
            fail_peer_call(peer, st, "sending SYNC_ACK");
    }
}

typedef struct rdmx_get_chunk {
    rdmx_completion_t comp;
    rdmx_request_t *req;
} rdmx_get_chunk_t;

static void get_done_cb(rdmx_completion_t *comp, rdmx_status_t st);

/* Every GET of a rendezvous receive finished: release the sender. */
static void finish_get(rdmx_request_t *r)
{
    if (r->memh) {
        r->tp->ops->mem_dereg(r->tp, r->memh);
        r->memh = NULL;
    }
    free(r->arg);
    r->arg = NULL;
    rdmx_status_t st = send_ctrl(r->peer, RDMX_MSG_FIN, r->remote_req, NULL,
                                 0, NULL);
    if (st != RDMX_OK)
        fail_peer_call(r->peer, st, "sending FIN");
    recv_finish(r, r->fetch_len);
}

/* Rendezvous: the receive `r` matched an RTS described by `d`. */
static void rndv_start(rdmx_request_t *r, const rdmx_wire_hdr_t *hdr,
                       const rdmx_rndv_desc_t *d, int peer)
{
    recv_set_status(r, hdr, peer);
    size_t n = recv_accept(r, d->len);
    r->remote_req = hdr->req;
    rdmx_transport_t *tp;
    rdmx_ep_t *ep;
    rdmx_status_t st = rdmx_rt_get_ep(&rdmx_rt, peer, &tp, &ep);
    if (st != RDMX_OK) {
        fail_peer_call(peer, st, "rendezvous");
        return;
    }
    r->tp = tp;
    if (d->rkey_len == 0 || !(tp->caps.flags & RDMX_TP_CAP_GET)) {
        /* CTS/DATA: the sender streams the data to our handle. */
        r->awaiting_data = 1;
        /* The payload lives in the request, which outlives the send: a
         * transport may queue it without copying. */
        r->cts_payload = rdmx_request_handle(r);
        st = send_ctrl(peer, RDMX_MSG_CTS, hdr->req, &r->cts_payload,
                       sizeof(r->cts_payload), NULL);
        if (st != RDMX_OK)
            fail_peer_call(peer, st, "sending CTS");
        return;
    }
    if (d->rkey_len > RDMX_RKEY_MAX) {
        fail_peer_call(peer, RDMX_ERR_PROTO, "RTS with oversized rkey");
        return;
    }
    void *dest = recv_dest(r, n);
    if (n && !dest) {
        r->error = RDMX_ERR_NOMEM;
        n = 0;
    }
    r->fetch_len = n; /* msg_len keeps the sender's size for errors */
    if (n == 0) {
        finish_get(r);
        return;
    }
    if (tp->ops->mem_reg) {
        st = tp->ops->mem_reg(tp, dest, n, &r->memh);
        if (st != RDMX_OK) {
            fail_peer_call(peer, st, "registering the receive buffer");
            return;
        }
    }
    size_t chunk = tp->caps.get_max_chunk ? tp->caps.get_max_chunk : n;
    size_t nchunks = (n + chunk - 1) / chunk;
    /* One completion per chunk, each pointing back at the request. */
    rdmx_get_chunk_t *chunks = calloc(nchunks, sizeof(*chunks));
    if (!chunks) {
        fail_peer_call(peer, RDMX_ERR_NOMEM, "rendezvous");
        return;
    }
    r->arg = chunks;
    r->pending = (int)nchunks;
    unsigned gflags =
        hdr->flags & RDMX_MSG_FLAG_FANOUT ? RDMX_GET_FLAG_FANOUT : 0;
    for (size_t i = 0; i < nchunks; i++) {
        size_t off = i * chunk, len = n - off < chunk ? n - off : chunk;
        chunks[i].comp.cb = get_done_cb;
        chunks[i].req = r;
        st = tp->ops->get(ep, (char *)dest + off, len, r->memh, d->addr + off,
                          d->rkey, d->rkey_len, gflags, &chunks[i].comp);
        if (st == RDMX_OK) {
            get_done_cb(&chunks[i].comp, RDMX_OK);
        } else if (st != RDMX_INPROGRESS) {
            fail_peer_call(peer, st, "RDMA get");
            return;
        }
    }
}

static void get_done_cb(rdmx_completion_t *comp, rdmx_status_t st)
{
    rdmx_request_t *r = container_of(comp, rdmx_get_chunk_t, comp)->req;
    if (st < 0 && r->error == RDMX_OK)
        r->error = st;
    if (--r->pending > 0)
        return;
    finish_get(r);
}

void rdmx_p2p_deliver_unexpected(rdmx_request_t *r, rdmx_unexpected_t *u)
{
    if (u->hdr.type == RDMX_MSG_RTS) {
        rndv_start(r, &u->hdr, &u->desc, u->peer);
        unexp_free(u);
        return;
    }
    recv_set_status(r, &u->hdr, u->peer);
    if (!u->data_ready) {
        /* Payload still streaming in: finish when it has arrived. */
        u->waiting = r;
        return;
    }
    size_t n = recv_accept(r, u->hdr.len);
    if (n)
        rdmx_dt_unpack(r->dt, r->buf, r->count, 0, u->data, n);
    eager_sync_ack(&u->hdr, u->peer);
    r->pub.status.rdmx_count = n;
    r->pub.status.MPI_ERROR = rdmx_status_to_mpi_class(r->error);
    rdmx_request_complete(r);
    unexp_free(u);
}

/* ---- arrival upcalls ------------------------------------------------------ */

/* A stream transport will deliver `len` payload bytes for receive `r`, of
 * which the first `n` fit its buffer. */
static rdmx_status_t sink_to_request(rdmx_request_t *r, size_t n, size_t len,
                                     unsigned kind, rdmx_recv_sink_t *sink)
{
    sink->buf = recv_dest(r, n);
    if (n && !sink->buf)
        return RDMX_ERR_NOMEM;
    sink->len = n;
    sink->discard = len - n;
    sink->cookie = r;
    sink->kind = kind;
    return RDMX_OK;
}

/* An EAGER message matched the posted receive `r`. */
static rdmx_status_t eager_matched(rdmx_request_t *r,
                                   const rdmx_wire_hdr_t *hdr, int peer,
                                   const void *payload, rdmx_recv_sink_t *sink)
{
    recv_set_status(r, hdr, peer);
    size_t n = recv_accept(r, hdr->len);
    if (payload) {
        if (r->dt->contiguous)
            rdmx_copy_small(r->buf, payload, n);
        else if (n)
            rdmx_dt_unpack(r->dt, r->buf, r->count, 0, payload, n);
        eager_sync_ack(hdr, peer);
        r->pub.status.rdmx_count = n;
        r->pub.status.MPI_ERROR = rdmx_status_to_mpi_class(r->error);
        rdmx_request_complete(r);
        return RDMX_OK;
    }
    r->remote_req = hdr->req;
    r->sync_flags = hdr->flags;
    return sink_to_request(r, n, hdr->len, SINK_EAGER_REQ, sink);
}

static rdmx_status_t bad_header(int peer, const rdmx_wire_hdr_t *hdr,
                                const char *why)
{
    RDMX_ERROR("dropping message from rank %d: %s (type %u, len %llu, tag %d,"
               " src %d)", peer, why, hdr->type, (unsigned long long)hdr->len,
               hdr->tag, hdr->src);
    return RDMX_ERR_PROTO;
}

/* An EAGER or RTS message whose payload is complete (u->data / u->desc). */
static void match_arrived(rdmx_unexpected_t *u)
{
    rdmx_match_entry_t *m = rdmx_match_arrive(&rdmx_matcher, &u->match);
    if (m) {
        rdmx_request_t *r = container_of(m, rdmx_request_t, match);
        rdmx_p2p_deliver_unexpected(r, u);
    } else if (!u->match.fifo) {
        RDMX_ERROR("out of memory queueing a message from rank %d", u->peer);
        rdmx_abort_job(MPI_ERR_NO_MEM, "out of memory in the matching engine");
    }
}

rdmx_status_t rdmx_proto_on_header(rdmx_runtime_t *rt, int peer,
                                   const rdmx_wire_hdr_t *hdr,
                                   const void *payload, rdmx_recv_sink_t *sink)
{
    memset(sink, 0, sizeof(*sink));
    if (peer < 0 || peer >= rt->size)
        return bad_header(peer, hdr, "peer out of range");
    if (hdr->type < 1 || hdr->type > RDMX_MSG_TYPE_MAX)
        return bad_header(peer, hdr, "unknown message type");

    switch (hdr->type) {
    case RDMX_MSG_EAGER:
    case RDMX_MSG_RTS: {
        if (hdr->src < 0 || hdr->src >= rt->size)
            return bad_header(peer, hdr, "source rank out of range");
        if (hdr->tag < 0)
            return bad_header(peer, hdr, "negative tag");
        if (hdr->type == RDMX_MSG_RTS && hdr->len != sizeof(rdmx_rndv_desc_t))
            return bad_header(peer, hdr, "RTS of the wrong length");
        rdmx_transport_t *tp = rt->peers[peer].tp;
        if (hdr->type == RDMX_MSG_EAGER && tp
            && hdr->len > tp->caps.max_eager_payload
            && hdr->len > tp->caps.eager_limit)
            return bad_header(peer, hdr, "eager message over the limit");
        if (hdr->type == RDMX_MSG_EAGER) {
            /* Match first: the common case needs no unexpected record and
             * the payload lands in the user buffer. */
            rdmx_match_entry_t *m = rdmx_match_take_posted(
                &rdmx_matcher, hdr->context_id, hdr->src, hdr->tag);
            if (m)
                return eager_matched(container_of(m, rdmx_request_t, match),
                                     hdr, peer, payload, sink);
        }
        rdmx_unexpected_t *u = unexp_alloc();
        if (!u)
            return RDMX_ERR_NOMEM;
        u->hdr = *hdr;
        u->peer = peer;
        u->match.ctx = hdr->context_id;
        u->match.src = hdr->src;
        u->match.tag = hdr->tag;
        if (hdr->type == RDMX_MSG_RTS) {
            u->has_desc = 1;
            if (payload) {
                memcpy(&u->desc, payload, sizeof(u->desc));
                match_arrived(u);
                return RDMX_OK;
            }
            sink->buf = &u->desc;
            sink->len = sizeof(u->desc);
            sink->cookie = u;
            sink->kind = SINK_RTS;
            return RDMX_OK;
        }
        if (hdr->len && !(u->data = malloc(hdr->len))) {
            unexp_free(u);
            return RDMX_ERR_NOMEM;
        }
        if (rdmx_match_add_unexpected(&rdmx_matcher, &u->match) != 0) {
            unexp_free(u);
            return RDMX_ERR_NOMEM;
        }
        if (payload || hdr->len == 0) {
            if (hdr->len)
                memcpy(u->data, payload, hdr->len);
            u->data_ready = 1;
            return RDMX_OK;
        }
        sink->buf = u->data;
        sink->len = hdr->len;
        sink->cookie = u;
        sink->kind = SINK_EAGER_UNEXP;
        return RDMX_OK;
    }
    case RDMX_MSG_CTS: {
        rdmx_request_t *r = rdmx_request_lookup(hdr->req);
        if (!r || r->pub.kind != RDMX_REQ_SEND || r->peer != peer || r->memh
            || !r->arg || hdr->len != sizeof(uint64_t))
            return bad_header(peer, hdr, "CTS for no waiting send");
        if (payload) {
            memcpy(&r->remote_req, payload, sizeof(uint64_t));
            goto cts_ready;
        }
        sink->buf = &r->remote_req;
        sink->len = sizeof(uint64_t);
        sink->cookie = r;
        sink->kind = SINK_CTS;
        return RDMX_OK;
    cts_ready:
        rdmx_p2p_send_data(r);
        return RDMX_OK;
    }
    case RDMX_MSG_DATA: {
        rdmx_request_t *r = rdmx_request_lookup(hdr->req);
        if (!r || r->pub.kind != RDMX_REQ_RECV || r->peer != peer
            || !r->awaiting_data || hdr->len != r->msg_len)
            return bad_header(peer, hdr, "DATA for no waiting receive");
        size_t n = r->msg_len > r->bytes ? r->bytes : r->msg_len;
        r->awaiting_data = 0;
        if (payload) {
            if (n)
                rdmx_dt_unpack(r->dt, r->buf, r->count, 0, payload, n);
            recv_finish(r, n);
            return RDMX_OK;
        }
        return sink_to_request(r, n, hdr->len, SINK_DATA, sink);
    }
    case RDMX_MSG_FIN:
    case RDMX_MSG_SYNC_ACK: {
        rdmx_request_t *r = rdmx_request_lookup(hdr->req);
        if (!r || r->pub.kind != RDMX_REQ_SEND || r->peer != peer
            || hdr->len != 0)
            return bad_header(peer, hdr, "acknowledgement for no waiting send");
        if (hdr->type == RDMX_MSG_FIN) {
            if (!r->memh)
                return bad_header(peer, hdr, "FIN for a send without GET");
            r->tp->ops->mem_dereg(r->tp, r->memh);
            r->memh = NULL;
            free(r->arg);
            r->arg = NULL;
        }
        req_event_done(r);
        return RDMX_OK;
    }
    }
    return bad_header(peer, hdr, "unhandled type");
}

/* CTS arrived: stream the data to the receiver's handle. */
void rdmx_p2p_send_data(rdmx_request_t *r)
{
    free(r->arg); /* the RTS descriptor is no longer needed */
    r->arg = NULL;
    rdmx_ep_t *ep;
    rdmx_transport_t *tp;
    rdmx_status_t st = rdmx_rt_get_ep(&rdmx_rt, r->peer, &tp, &ep);
    if (st != RDMX_OK) {
        fail_peer_call(r->peer, st, "rendezvous data");
        return;
    }
    rdmx_wire_hdr_t hdr = {.type = RDMX_MSG_DATA, .len = r->bytes,
                           .req = r->remote_req, .src = rdmx_rt.rank};
    struct iovec iov = {r->tmp ? r->tmp : r->buf, r->bytes};
    /* pending: -1 for the CTS, +1 for the DATA send. */
    st = tp->ops->send(ep, &hdr, &iov, 1, &r->get_comp);
    if (st == RDMX_OK)
        req_event_done(r);
    else if (st != RDMX_INPROGRESS)
        fail_peer_call(r->peer, st, "sending rendezvous data");
}

void rdmx_proto_on_payload_done(rdmx_runtime_t *rt, int peer,
                                rdmx_recv_sink_t *sink)
{
    (void)rt;
    switch (sink->kind) {
    case SINK_EAGER_REQ: {
        rdmx_request_t *r = sink->cookie;
        rdmx_wire_hdr_t hdr = {.flags = r->sync_flags, .req = r->remote_req};
        eager_sync_ack(&hdr, peer);
        recv_finish(r, sink->len);
        break;
    }
    case SINK_EAGER_UNEXP: {
        rdmx_unexpected_t *u = sink->cookie;
        u->data_ready = 1;
        if (u->waiting) {
            rdmx_request_t *r = u->waiting;
            u->waiting = NULL;
            rdmx_p2p_deliver_unexpected(r, u);
        }
        break;
    }
    case SINK_RTS:
        match_arrived(sink->cookie);
        break;
    case SINK_CTS:
        rdmx_p2p_send_data(sink->cookie);
        break;
    case SINK_DATA:
        recv_finish(sink->cookie, sink->len);
        break;
    default:
        break;
    }
}

void rdmx_proto_on_peer_failure(rdmx_runtime_t *rt, int peer,
                                rdmx_status_t why, const char *detail)
{
    if (rt->finalizing) {
        RDMX_DEBUG("rank %d went away during finalize (%s)", peer,
                   detail ? detail : rdmx_status_str(why));
        return;
    }
    char msg[512];
    snprintf(msg, sizeof(msg),
             "rank %d lost its connection to rank %d (%s): %s; a dead or "
             "unreachable rank ends the job", rt->rank, peer,
             rdmx_status_str(why), detail ? detail : "");
    RDMX_ERROR("%s", msg);
    rdmx_abort_job(MPI_ERR_OTHER, msg);
}
