/*
 * tcp_io.c — moving messages: per-peer FIFO send queues written with
 * sendmsg() straight from the caller's iovecs, the receive state machine
 * that lands payloads directly in the buffer the core names, and progress().
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "tcp.h"

/* Headers and small payloads are read in batches of up to this many bytes;
 * larger payloads bypass it. */
#define RDMX_TCP_RXBUF_SIZE (16 * 1024)
/* Payloads up to this size are copied when a send must be queued. */
#define RDMX_TCP_COPY_MAX 256
/* iovecs gathered into one sendmsg() across queued messages. */
#define RDMX_TCP_IOV_BATCH 64
/* recv() calls per connection per event, so one busy peer cannot starve
 * the others (epoll is level-triggered: the rest is picked up next time). */
#define RDMX_TCP_RX_BUDGET 16

static void rdmx_tcp_op_skip_empty(rdmx_tcp_sendop_t *op)
{
    while (op->iovcnt && op->iov[op->iovpos].iov_len == 0) {
        op->iovpos++;
        op->iovcnt--;
    }
}

/* Consume up to n bytes of op; returns the bytes consumed. */
static size_t rdmx_tcp_op_advance(rdmx_tcp_sendop_t *op, size_t n)
{
    size_t used = 0;
    while (op->iovcnt && n) {
        struct iovec *v = &op->iov[op->iovpos];
        if (n >= v->iov_len) {
            n -= v->iov_len;
            used += v->iov_len;
            op->iovpos++;
            op->iovcnt--;
        } else {
            v->iov_base = (char *)v->iov_base + n;
            v->iov_len -= n;
            used += n;
            n = 0;
        }
    }
    rdmx_tcp_op_skip_empty(op);
    return used;
}

/* Build a queued send. `sent` bytes of the message went out already. */
static rdmx_tcp_sendop_t *rdmx_tcp_op_new(const rdmx_wire_hdr_t *hdr,
                                          const struct iovec *iov, int iovcnt,
                                          size_t payload,
                                          rdmx_completion_t *comp, size_t sent)
{
    /* Small payloads and callers without a completion get their data
     * copied (control messages are often built on the caller's stack).
     * The completion is still only called once the bytes are in the
     * socket: reporting a queued message as sent would let the caller stop
     * progressing (say, leave a barrier for a blocking PMI fence) while the
     * message still needs this process to reach the kernel. */
    int copy = comp == NULL || payload <= RDMX_TCP_COPY_MAX;
    int nvec = 1 + (copy ? 1 : iovcnt);
    size_t size = sizeof(rdmx_tcp_sendop_t) +
                  (size_t)nvec * sizeof(struct iovec) + (copy ? payload : 0);
    rdmx_tcp_sendop_t *op = malloc(size);
    if (!op)
        return NULL;
    op->next = NULL;
    op->comp = comp;
    op->hdr = *hdr;
    op->iov[0].iov_base = &op->hdr;
    op->iov[0].iov_len = sizeof(op->hdr);
    if (copy) {
        char *data = (char *)&op->iov[2];
        size_t off = 0;
        for (int i = 0; i < iovcnt; i++) {
            if (iov[i].iov_len)
                memcpy(data + off, iov[i].iov_base, iov[i].iov_len);
            off += iov[i].iov_len;
        }
        op->iov[1].iov_base = data;
        op->iov[1].iov_len = payload;
    } else {
        memcpy(&op->iov[1], iov, (size_t)iovcnt * sizeof(*iov));
    }
    op->iovpos = 0;
    op->iovcnt = nvec;
    rdmx_tcp_op_advance(op, sent);
    return op;
}

static void rdmx_tcp_op_enqueue(rdmx_tcp_ep_t *ep, rdmx_tcp_sendop_t *op)
{
    if (ep->sq_tail)
        ep->sq_tail->next = op;
    else
        ep->sq_head = op;
    ep->sq_tail = op;
}

void rdmx_tcp_ep_drop_queue(rdmx_tcp_ep_t *ep, rdmx_status_t status)
{
    rdmx_tcp_sendop_t *op = ep->sq_head;
    ep->sq_head = ep->sq_tail = NULL;
    while (op) {
        rdmx_tcp_sendop_t *next = op->next;
        if (op->comp)
            op->comp->cb(op->comp, status);
        free(op);
        op = next;
    }
}

static int rdmx_tcp_conn_usable(const rdmx_tcp_conn_t *conn)
{
    return conn && conn->state == RDMX_TCP_CONN_UP && conn->fd >= 0;
}

rdmx_status_t rdmx_tcp_ep_flush(rdmx_tcp_ep_t *ep)
{
    rdmx_tcp_conn_t *conn = ep->conn;
    if (!rdmx_tcp_conn_usable(conn))
        return RDMX_OK;
    if (conn->hs_out_len) {
        int r = rdmx_tcp_conn_hs_flush(conn);
        if (r < 0) {
            rdmx_tcp_conn_fail(conn, RDMX_ERR_PEER_GONE, strerror(-r));
            return RDMX_ERR_PEER_GONE;
        }
        if (r == 0)
            return RDMX_OK;
    }
    while (ep->sq_head) {
        struct iovec vec[RDMX_TCP_IOV_BATCH];
        int nvec = 0;
        for (rdmx_tcp_sendop_t *op = ep->sq_head;
             op && nvec < RDMX_TCP_IOV_BATCH; op = op->next)
            for (int i = 0; i < op->iovcnt && nvec < RDMX_TCP_IOV_BATCH; i++)
                vec[nvec++] = op->iov[op->iovpos + i];
        struct msghdr msg = {.msg_iov = vec, .msg_iovlen = (size_t)nvec};
        ssize_t n = sendmsg(conn->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                rdmx_tcp_conn_set_events(conn, EPOLLIN | EPOLLOUT);
                return RDMX_OK;
            }
            rdmx_tcp_conn_fail(conn, RDMX_ERR_PEER_GONE, strerror(errno));
            return RDMX_ERR_PEER_GONE;
        }
        /* Detach finished messages first, then run their callbacks: a
         * callback may queue a new send on this very endpoint. */
        rdmx_tcp_sendop_t *done = NULL, **done_tail = &done;
        size_t left = (size_t)n;
        while (ep->sq_head) {
            rdmx_tcp_sendop_t *op = ep->sq_head;
            left -= rdmx_tcp_op_advance(op, left);
            if (op->iovcnt)
                break;
            ep->sq_head = op->next;
            if (!ep->sq_head)
                ep->sq_tail = NULL;
            op->next = NULL;
            *done_tail = op;
            done_tail = &op->next;
        }
        while (done) {
            rdmx_tcp_sendop_t *op = done;
            done = op->next;
            if (op->comp)
                op->comp->cb(op->comp, RDMX_OK);
            free(op);
        }
        if (ep->conn != conn || !rdmx_tcp_conn_usable(conn))
            return ep->failed ? RDMX_ERR_PEER_GONE : RDMX_OK;
    }
    rdmx_tcp_conn_set_events(conn, EPOLLIN);
    return RDMX_OK;
}

rdmx_status_t rdmx_tcp_send(rdmx_ep_t *ep_, const rdmx_wire_hdr_t *hdr,
                            const struct iovec *iov, int iovcnt,
                            rdmx_completion_t *comp)
{
    rdmx_tcp_ep_t *ep = (rdmx_tcp_ep_t *)ep_;
    size_t payload = 0, sent = 0;

    if (!ep || !hdr || iovcnt < 0 || (iovcnt && !iov))
        return RDMX_ERR_INVALID;
    if (ep->failed || ep->closed_by_peer)
        return RDMX_ERR_PEER_GONE;
    for (int i = 0; i < iovcnt; i++)
        payload += iov[i].iov_len;

    rdmx_tcp_conn_t *conn = ep->conn;
    if (rdmx_tcp_conn_usable(conn) && !ep->sq_head && !conn->hs_out_len &&
        iovcnt < RDMX_TCP_IOV_BATCH) {
        /* Fast path: nothing queued, write header and payload now. */
        struct iovec vec[RDMX_TCP_IOV_BATCH];
        vec[0].iov_base = (void *)hdr;
        vec[0].iov_len = sizeof(*hdr);
        if (iovcnt)
            memcpy(&vec[1], iov, (size_t)iovcnt * sizeof(*iov));
        struct msghdr msg = {.msg_iov = vec, .msg_iovlen = (size_t)iovcnt + 1};
        ssize_t n;
        do
            n = sendmsg(conn->fd, &msg, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            rdmx_tcp_conn_fail(conn, RDMX_ERR_PEER_GONE, strerror(errno));
            return RDMX_ERR_PEER_GONE;
        }
        if (n > 0)
            sent = (size_t)n;
        if (sent == sizeof(*hdr) + payload)
            return RDMX_OK;
    } else if (!conn) {
        rdmx_status_t st = rdmx_tcp_ep_connect(ep);
        if (st < 0)
            return st;
    }

    rdmx_tcp_sendop_t *op =
        rdmx_tcp_op_new(hdr, iov, iovcnt, payload, comp, sent);
    if (!op) {
        RDMX_ERROR("tcp: out of memory queueing a message to rank %d",
                   ep->peer);
        /* Part of this message may be on the wire: the stream is lost. */
        if (sent && ep->conn)
            rdmx_tcp_conn_fail(ep->conn, RDMX_ERR_NOMEM, "out of memory");
        return RDMX_ERR_NOMEM;
    }
    int async = op->comp != NULL;
    rdmx_tcp_op_enqueue(ep, op);
    if (rdmx_tcp_conn_usable(ep->conn))
        rdmx_tcp_conn_set_events(ep->conn, EPOLLIN | EPOLLOUT);
    return async ? RDMX_INPROGRESS : RDMX_OK;
}

rdmx_status_t rdmx_tcp_ep_send_bye(rdmx_tcp_ep_t *ep)
{
    rdmx_wire_hdr_t hdr = {.type = RDMX_TCP_MSG_BYE};
    return rdmx_tcp_send((rdmx_ep_t *)ep, &hdr, NULL, 0, NULL);
}

rdmx_status_t rdmx_tcp_conn_up(rdmx_tcp_conn_t *conn)
{
    rdmx_tcp_ep_t *ep = conn->ep;
    conn->state = RDMX_TCP_CONN_UP;
    if (!conn->rxbuf) {
        conn->rxbuf = malloc(RDMX_TCP_RXBUF_SIZE);
        if (!conn->rxbuf) {
            RDMX_ERROR("tcp: out of memory for a receive buffer");
            return RDMX_ERR_NOMEM;
        }
    }
    conn->rx_state = RDMX_TCP_RX_HDR;
    conn->rx_head = conn->rx_tail = 0;
    int want_out = conn->hs_out_len || (ep && ep->conn == conn && ep->sq_head);
    rdmx_status_t st =
        rdmx_tcp_conn_set_events(conn, EPOLLIN | (want_out ? EPOLLOUT : 0));
    if (st != RDMX_OK)
        return st;
    if (ep && ep->conn == conn && ep->sq_head)
        rdmx_tcp_ep_flush(ep);
    return RDMX_OK;
}

static void rdmx_tcp_rx_header(rdmx_tcp_conn_t *conn)
{
    rdmx_tcp_iface_t *iface = conn->iface;
    const rdmx_wire_hdr_t *hdr = &conn->rx_hdr;
    const char *why = NULL;

    if (hdr->type == RDMX_TCP_MSG_BYE && hdr->len == 0) {
        conn->peer_said_bye = 1;
        return;
    }
    if (iface->draining)
        why = "message after close";
    else if (rdmx_tcp_hdr_check(hdr, iface->super.caps.max_eager_payload,
                                &why) == RDMX_OK)
        why = NULL;
    if (why) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "bad message header from rank %d: %s (type %u, len %llu)",
                 conn->peer, why, hdr->type, (unsigned long long)hdr->len);
        if (!iface->draining)
            RDMX_ERROR("tcp: %s", msg);
        rdmx_tcp_conn_fail(conn, RDMX_ERR_PROTO, msg);
        return;
    }

    rdmx_recv_sink_t sink = {0};
    rdmx_status_t st =
        rdmx_proto_on_header(iface->super.rt, conn->peer, hdr, NULL, &sink);
    if (conn->state != RDMX_TCP_CONN_UP)
        return; /* the core reacted by failing the peer */
    if (st < 0) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "rank %d sent a message the core rejected: %s (type %u, "
                 "len %llu)",
                 conn->peer, rdmx_status_str(st), hdr->type,
                 (unsigned long long)hdr->len);
        RDMX_ERROR("tcp: %s", msg);
        rdmx_tcp_conn_fail(conn, st == RDMX_ERR_PROTO ? st : RDMX_ERR_PROTO,
                           msg);
        return;
    }
    if (sink.len && !sink.buf) {
        sink.discard += sink.len;
        sink.len = 0;
    }
    /* The sink decides how many bytes follow; it must stay within the
     * header's length or the stream would desynchronise. */
    if (sink.len > hdr->len || sink.discard > hdr->len - sink.len) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "receive sink (%zu+%zu bytes) exceeds message length %llu "
                 "from rank %d",
                 sink.len, sink.discard, (unsigned long long)hdr->len,
                 conn->peer);
        RDMX_ERROR("tcp: %s", msg);
        rdmx_tcp_conn_fail(conn, RDMX_ERR_INTERNAL, msg);
        return;
    }
    if (!sink.buf && !sink.len && !sink.discard && !sink.cookie)
        return; /* header-only message, fully consumed */
    conn->sink = sink;
    conn->sink_off = 0;
    conn->discard_left = sink.discard;
    conn->rx_state = RDMX_TCP_RX_PAYLOAD;
}

static void rdmx_tcp_rx_eof(rdmx_tcp_conn_t *conn, int err)
{
    if (err)
        rdmx_tcp_conn_fail(conn, RDMX_ERR_PEER_GONE, strerror(err));
    else if (conn->rx_state == RDMX_TCP_RX_PAYLOAD ||
             conn->rx_tail > conn->rx_head)
        rdmx_tcp_conn_fail(conn, RDMX_ERR_PEER_GONE,
                           "connection closed in the middle of a message");
    else
        rdmx_tcp_conn_fail(conn, RDMX_ERR_PEER_GONE,
                           "connection closed by peer");
}

static void rdmx_tcp_rx(rdmx_tcp_conn_t *conn)
{
    int budget = RDMX_TCP_RX_BUDGET;
    int drained = 0; /* a read came back short: the socket is empty */
    const size_t hlen = sizeof(rdmx_wire_hdr_t);

    while (conn->state == RDMX_TCP_CONN_UP) {
        size_t avail = conn->rx_tail - conn->rx_head;
        ssize_t n;

        if (conn->rx_state == RDMX_TCP_RX_HDR) {
            if (avail >= hlen) {
                memcpy(&conn->rx_hdr, conn->rxbuf + conn->rx_head, hlen);
                conn->rx_head += hlen;
                rdmx_tcp_rx_header(conn);
                continue;
            }
            if (drained || budget-- == 0)
                return;
            if (conn->rx_head) {
                memmove(conn->rxbuf, conn->rxbuf + conn->rx_head, avail);
                conn->rx_head = 0;
                conn->rx_tail = avail;
            }
            size_t space = RDMX_TCP_RXBUF_SIZE - conn->rx_tail;
            n = recv(conn->fd, conn->rxbuf + conn->rx_tail, space, 0);
            if (n > 0) {
                conn->rx_tail += (size_t)n;
                drained = (size_t)n < space;
                continue;
            }
        } else {
            rdmx_recv_sink_t *sink = &conn->sink;
            size_t want = sink->len - conn->sink_off;
            if (avail && want) {
                size_t c = avail < want ? avail : want;
                memcpy((char *)sink->buf + conn->sink_off,
                       conn->rxbuf + conn->rx_head, c);
                conn->rx_head += c;
                conn->sink_off += c;
                continue;
            }
            if (avail && conn->discard_left) {
                size_t c =
                    avail < conn->discard_left ? avail : conn->discard_left;
                conn->rx_head += c;
                conn->discard_left -= c;
                continue;
            }
            if (!want && !conn->discard_left) {
                rdmx_recv_sink_t done = *sink;
                conn->rx_state = RDMX_TCP_RX_HDR;
                memset(sink, 0, sizeof(*sink));
                rdmx_proto_on_payload_done(conn->iface->super.rt, conn->peer,
                                           &done);
                continue;
            }
            if (drained || budget-- == 0)
                return;
            /* The buffer is empty: the rest of the payload goes straight to
             * its destination, whatever follows it into rxbuf. */
            conn->rx_head = conn->rx_tail = 0;
            struct iovec vec[2];
            int nvec = 0;
            if (want) {
                vec[nvec].iov_base = (char *)sink->buf + conn->sink_off;
                vec[nvec++].iov_len = want;
            }
            vec[nvec].iov_base = conn->rxbuf;
            vec[nvec++].iov_len = RDMX_TCP_RXBUF_SIZE;
            n = readv(conn->fd, vec, nvec);
            if (n > 0) {
                size_t to_sink = (size_t)n < want ? (size_t)n : want;
                conn->sink_off += to_sink;
                conn->rx_tail = (size_t)n - to_sink;
                drained = (size_t)n < want + RDMX_TCP_RXBUF_SIZE;
                continue;
            }
        }
        if (n == 0) {
            rdmx_tcp_rx_eof(conn, 0);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        rdmx_tcp_rx_eof(conn, errno);
        return;
    }
}

void rdmx_tcp_conn_io_event(rdmx_tcp_conn_t *conn, uint32_t events)
{
    rdmx_tcp_ep_t *ep = conn->ep;
    if ((events & EPOLLOUT) && ep && ep->conn == conn) {
        rdmx_tcp_ep_flush(ep);
        if (conn->state != RDMX_TCP_CONN_UP)
            return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        rdmx_tcp_rx(conn);
}

int rdmx_tcp_progress(rdmx_transport_t *tp)
{
    rdmx_tcp_iface_t *iface = (rdmx_tcp_iface_t *)tp;
    struct epoll_event ev[64];
    int count = 0;

    /* A completion callback may call back into progress; the outer call
     * is still iterating, so the inner one does nothing. */
    if (iface->in_progress)
        return 0;
    /* Without any connection only a new peer can knock: look every 32nd
     * call, so that ranks served by other transports do not pay a syscall
     * per progress pass. A sleeping rank still wakes on the epoll fd. */
    if (!iface->conns && (++iface->idle_polls & 31) != 0)
        return 0;
    iface->in_progress = 1;
    int n = epoll_wait(iface->epfd, ev, 64, 0);
    if (n < 0 && errno != EINTR)
        RDMX_ERROR("tcp: epoll_wait failed: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        rdmx_tcp_conn_t *conn = ev[i].data.ptr;
        count++;
        if (!conn) {
            rdmx_tcp_accept_all(iface);
            continue;
        }
        if (conn->state == RDMX_TCP_CONN_DEAD)
            continue;
        if (conn->state == RDMX_TCP_CONN_UP)
            rdmx_tcp_conn_io_event(conn, ev[i].events);
        else
            rdmx_tcp_conn_handshake_event(conn, ev[i].events);
    }
    uint64_t now = rdmx_tcp_now_ns();
    if (now >= iface->next_sweep_ns) {
        rdmx_tcp_sweep_handshakes(iface, now);
        iface->next_sweep_ns = now + 100000000ull;
    }
    rdmx_tcp_free_dead(iface);
    iface->in_progress = 0;
    return count;
}
