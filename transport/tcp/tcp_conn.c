/*
 * tcp_conn.c — connection management: the listening socket, nonblocking
 * connects, the authenticated handshake (framing in tcp_wire.c) and which
 * connection serves a peer.
 *
 * Simultaneous connect. Ranks l < h may dial each other at the same time.
 * The acceptor decides, once the connector proved the secret, and tells the
 * connector in the VERDICT:
 *   - a connection dialled by the lower rank l is always adopted by h (h
 *     drops its own attempt towards l, which l is bound to refuse);
 *   - a connection dialled by h is adopted by l unless l has an attempt of
 *     its own in flight (then l's wins and h waits for it).
 * Once l adopts h's connection it never dials h, so at most one connection
 * per pair is ever adopted, and both sides agree which. Messages wait in the
 * endpoint's queue until a connection is adopted and are only written there,
 * so the race neither loses nor reorders anything.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "tcp.h"

uint64_t rdmx_tcp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *rdmx_tcp_addr_str(const struct sockaddr_in *sa, char *buf,
                              size_t len)
{
    char ip[INET_ADDRSTRLEN] = "?";
    if (sa->sin_family == AF_INET)
        inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip));
    else
        snprintf(ip, sizeof(ip), "local");
    snprintf(buf, len, "%s:%u", ip, ntohs(sa->sin_port));
    return buf;
}

static int rdmx_tcp_my_rank(rdmx_tcp_iface_t *iface)
{
    return iface->super.rt->rank;
}

static void rdmx_tcp_sock_setup(rdmx_tcp_iface_t *iface, int fd, int is_tcp)
{
    int one = 1;
    /* Latency matters more than segment count: every header is a message
     * someone waits for. */
    if (is_tcp &&
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        RDMX_WARN("tcp: setsockopt(TCP_NODELAY) failed: %s", strerror(errno));
    if (iface->sndbuf) {
        int v = (int)iface->sndbuf;
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)) < 0)
            RDMX_WARN("tcp: setsockopt(SO_SNDBUF, %d) failed: %s", v,
                      strerror(errno));
    }
    if (iface->rcvbuf) {
        int v = (int)iface->rcvbuf;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) < 0)
            RDMX_WARN("tcp: setsockopt(SO_RCVBUF, %d) failed: %s", v,
                      strerror(errno));
    }
}

rdmx_status_t rdmx_tcp_conn_set_events(rdmx_tcp_conn_t *conn, uint32_t ev)
{
    if (conn->fd < 0 || conn->ev_mask == ev)
        return RDMX_OK;
    struct epoll_event e = {.events = ev, .data.ptr = conn};
    if (epoll_ctl(conn->iface->epfd, EPOLL_CTL_MOD, conn->fd, &e) < 0) {
        RDMX_ERROR("tcp: epoll_ctl(MOD, fd %d) failed: %s", conn->fd,
                   strerror(errno));
        return RDMX_ERR_IO;
    }
    conn->ev_mask = ev;
    return RDMX_OK;
}

static rdmx_tcp_conn_t *rdmx_tcp_conn_new(rdmx_tcp_iface_t *iface, int fd,
                                          int initiator, uint32_t ev)
{
    rdmx_tcp_conn_t *conn = calloc(1, sizeof(*conn));
    if (!conn) {
        RDMX_ERROR("tcp: out of memory for a connection");
        return NULL;
    }
    conn->iface = iface;
    conn->fd = fd;
    conn->initiator = initiator;
    conn->peer = -1;
    conn->state = RDMX_TCP_CONN_HANDSHAKE;
    conn->deadline_ns = rdmx_tcp_now_ns() + iface->hs_timeout_ns;
    struct epoll_event e = {.events = ev, .data.ptr = conn};
    if (epoll_ctl(iface->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
        RDMX_ERROR("tcp: epoll_ctl(ADD, fd %d) failed: %s", fd,
                   strerror(errno));
        free(conn);
        return NULL;
    }
    conn->ev_mask = ev;
    conn->next = iface->conns;
    if (iface->conns)
        iface->conns->prev = conn;
    iface->conns = conn;
    return conn;
}

void rdmx_tcp_conn_close(rdmx_tcp_conn_t *conn)
{
    rdmx_tcp_iface_t *iface = conn->iface;
    if (conn->state == RDMX_TCP_CONN_DEAD)
        return;
    if (conn->fd >= 0) {
        epoll_ctl(iface->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
        close(conn->fd);
        conn->fd = -1;
    }
    if (conn->counted_unauth) {
        iface->nunauth--;
        conn->counted_unauth = 0;
    }
    if (conn->ep) {
        if (conn->ep->conn == conn)
            conn->ep->conn = NULL;
        if (conn->ep->out == conn)
            conn->ep->out = NULL;
        if (conn->ep->self_rx == conn)
            conn->ep->self_rx = NULL;
    }
    conn->state = RDMX_TCP_CONN_DEAD;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        iface->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    /* Freed later: an epoll batch or a caller up the stack may still hold
     * the pointer and will see state DEAD. */
    conn->next = iface->dead;
    conn->prev = NULL;
    iface->dead = conn;
}

void rdmx_tcp_free_dead(rdmx_tcp_iface_t *iface)
{
    while (iface->dead) {
        rdmx_tcp_conn_t *c = iface->dead;
        iface->dead = c->next;
        free(c->rxbuf);
        free(c);
    }
}

void rdmx_tcp_ep_fail(rdmx_tcp_ep_t *ep, rdmx_status_t why, const char *detail)
{
    rdmx_tcp_iface_t *iface = ep->iface;
    if (ep->failed)
        return;
    ep->failed = 1;
    if (ep->conn)
        rdmx_tcp_conn_close(ep->conn);
    if (ep->out)
        rdmx_tcp_conn_close(ep->out);
    if (ep->self_rx)
        rdmx_tcp_conn_close(ep->self_rx);
    rdmx_tcp_ep_drop_queue(ep, RDMX_ERR_PEER_GONE);
    if (iface->closing)
        return; /* peers going away during finalize is expected */
    RDMX_ERROR("tcp: %s", detail);
    rdmx_proto_on_peer_failure(iface->super.rt, ep->peer, why, detail);
}

static rdmx_status_t rdmx_tcp_connect_from(rdmx_tcp_ep_t *ep, int idx);

void rdmx_tcp_conn_fail(rdmx_tcp_conn_t *conn, rdmx_status_t why,
                        const char *detail)
{
    rdmx_tcp_ep_t *ep = conn->ep;
    char where[64];

    if (conn->state == RDMX_TCP_CONN_DEAD)
        return;
    rdmx_tcp_addr_str(&conn->remote, where, sizeof(where));
    if (conn->initiator && ep && ep->out == conn) {
        int next = conn->addr_idx + 1;
        RDMX_DEBUG("tcp: connecting to rank %d at %s failed: %s", ep->peer,
                   where, detail);
        rdmx_tcp_conn_close(conn);
        if (next < ep->naddrs && !ep->iface->closing &&
            rdmx_tcp_connect_from(ep, next) == RDMX_OK)
            return;
        char msg[192];
        snprintf(msg, sizeof(msg),
                 "cannot connect to rank %d (last tried %s: "
                 "%s)",
                 ep->peer, where, detail);
        rdmx_tcp_ep_fail(ep, why, msg);
        return;
    }
    if (ep && ep->conn == conn) {
        int clean = conn->peer_said_bye;
        rdmx_tcp_conn_close(conn);
        if (clean && !ep->sq_head) {
            RDMX_DEBUG("tcp: rank %d closed its connection", ep->peer);
            ep->closed_by_peer = 1;
            return;
        }
        char msg[192];
        snprintf(msg, sizeof(msg), "connection to rank %d (%s) lost: %s",
                 ep->peer, where, detail);
        rdmx_tcp_ep_fail(ep, why, msg);
        return;
    }
    if (ep && ep->self_rx == conn) {
        char msg[192];
        snprintf(msg, sizeof(msg), "rank %d's socketpair to itself failed: %s",
                 ep->peer, detail);
        rdmx_tcp_conn_close(conn);
        rdmx_tcp_ep_fail(ep, why, msg);
        return;
    }
    /* An accepted connection that never became a peer's. */
    RDMX_DEBUG("tcp: dropping unadopted connection from %s: %s", where, detail);
    rdmx_tcp_conn_close(conn);
}

rdmx_status_t rdmx_tcp_listen(rdmx_tcp_iface_t *iface,
                              const struct sockaddr_in *bind_addr)
{
    char where[64];
    struct sockaddr_in sa = *bind_addr;
    socklen_t salen = sizeof(sa);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        RDMX_ERROR("tcp: socket() failed: %s", strerror(errno));
        return RDMX_ERR_IO;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        RDMX_ERROR("tcp: bind(%s) failed: %s",
                   rdmx_tcp_addr_str(&sa, where, sizeof(where)),
                   strerror(errno));
        goto err_close;
    }
    if (listen(fd, SOMAXCONN) < 0) {
        RDMX_ERROR("tcp: listen() failed: %s", strerror(errno));
        goto err_close;
    }
    if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) {
        RDMX_ERROR("tcp: getsockname() failed: %s", strerror(errno));
        goto err_close;
    }
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(iface->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
        RDMX_ERROR("tcp: epoll_ctl(ADD, listen fd) failed: %s",
                   strerror(errno));
        goto err_close;
    }
    iface->listen_fd = fd;
    /* Every published address carries the port we got. */
    for (int i = 0; i < iface->naddrs; i++)
        iface->addrs[i].sin_port = sa.sin_port;
    RDMX_DEBUG("tcp: listening on %s",
               rdmx_tcp_addr_str(&sa, where, sizeof(where)));
    return RDMX_OK;

err_close:
    close(fd);
    return RDMX_ERR_IO;
}

void rdmx_tcp_accept_all(rdmx_tcp_iface_t *iface)
{
    for (;;) {
        struct sockaddr_in sa;
        socklen_t salen = sizeof(sa);
        int fd = accept4(iface->listen_fd, (struct sockaddr *)&sa, &salen,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                RDMX_WARN("tcp: accept() failed: %s", strerror(errno));
            return;
        }
        char where[64];
        rdmx_tcp_addr_str(&sa, where, sizeof(where));
        /* Unauthenticated connections cost memory: bound them so a flood
         * cannot exhaust the rank. */
        if (iface->nunauth >= iface->max_unauth) {
            RDMX_WARN("tcp: refusing connection from %s: %d connections "
                      "already waiting for authentication",
                      where, iface->nunauth);
            close(fd);
            continue;
        }
        rdmx_tcp_sock_setup(iface, fd, 1);
        rdmx_tcp_conn_t *conn = rdmx_tcp_conn_new(iface, fd, 0, EPOLLIN);
        if (!conn) {
            close(fd);
            continue;
        }
        conn->remote = sa;
        conn->counted_unauth = 1;
        iface->nunauth++;
        RDMX_TRACE("tcp: accepted connection from %s", where);
    }
}

rdmx_tcp_ep_t *rdmx_tcp_ep_get(rdmx_tcp_iface_t *iface, int peer)
{
    if (peer < 0 || peer >= iface->super.rt->size)
        return NULL;
    if (!iface->eps[peer]) {
        rdmx_tcp_ep_t *ep = calloc(1, sizeof(*ep));
        if (!ep) {
            RDMX_ERROR("tcp: out of memory for the endpoint of rank %d", peer);
            return NULL;
        }
        ep->iface = iface;
        ep->peer = peer;
        iface->eps[peer] = ep;
    }
    return iface->eps[peer];
}

/* Queue a handshake message and try to write it at once. */
static rdmx_status_t rdmx_tcp_hs_send(rdmx_tcp_conn_t *conn,
                                      const rdmx_tcp_hs_t *m)
{
    rdmx_tcp_hs_pack(m, conn->hs_out);
    conn->hs_out_len = RDMX_TCP_HS_LEN;
    conn->hs_out_off = 0;
    int r = rdmx_tcp_conn_hs_flush(conn);
    if (r < 0)
        return RDMX_ERR_IO;
    return RDMX_OK;
}

int rdmx_tcp_conn_hs_flush(rdmx_tcp_conn_t *conn)
{
    while (conn->hs_out_off < conn->hs_out_len) {
        ssize_t n = send(conn->fd, conn->hs_out + conn->hs_out_off,
                         conn->hs_out_len - conn->hs_out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                rdmx_tcp_conn_set_events(conn, conn->ev_mask | EPOLLOUT);
                return 0;
            }
            return -errno;
        }
        conn->hs_out_off += (size_t)n;
    }
    conn->hs_out_len = conn->hs_out_off = 0;
    return 1;
}

static rdmx_status_t rdmx_tcp_self_connect(rdmx_tcp_ep_t *ep)
{
    rdmx_tcp_iface_t *iface = ep->iface;
    int sv[2];
    /* Messages to oneself go through a socketpair so that a job restricted
     * to RDMX_TRANSPORTS=tcp still works; the self transport normally
     * serves this. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) <
        0) {
        RDMX_ERROR("tcp: socketpair() failed: %s", strerror(errno));
        return RDMX_ERR_IO;
    }
    rdmx_tcp_sock_setup(iface, sv[0], 0);
    rdmx_tcp_sock_setup(iface, sv[1], 0);
    rdmx_tcp_conn_t *tx = rdmx_tcp_conn_new(iface, sv[0], 1, EPOLLIN);
    if (!tx) {
        close(sv[0]);
        close(sv[1]);
        return RDMX_ERR_NOMEM;
    }
    rdmx_tcp_conn_t *rx = rdmx_tcp_conn_new(iface, sv[1], 1, EPOLLIN);
    if (!rx) {
        close(sv[1]);
        rdmx_tcp_conn_close(tx);
        return RDMX_ERR_NOMEM;
    }
    tx->peer = rx->peer = ep->peer;
    tx->ep = rx->ep = ep;
    tx->peer_authenticated = rx->peer_authenticated = 1;
    ep->conn = tx;
    ep->self_rx = rx;
    rdmx_status_t st = rdmx_tcp_conn_up(rx);
    if (st == RDMX_OK)
        st = rdmx_tcp_conn_up(tx);
    return st;
}

static rdmx_status_t rdmx_tcp_start_hello(rdmx_tcp_conn_t *conn)
{
    rdmx_tcp_hs_t m = {.type = RDMX_TCP_HS_HELLO,
                       .src = rdmx_tcp_my_rank(conn->iface),
                       .dst = conn->ep->peer};
    conn->state = RDMX_TCP_CONN_HANDSHAKE;
    rdmx_status_t st = rdmx_auth_random(conn->nonce_c, sizeof(conn->nonce_c));
    if (st != RDMX_OK)
        return st;
    memcpy(m.nonce, conn->nonce_c, sizeof(m.nonce));
    st = rdmx_tcp_conn_set_events(conn, EPOLLIN);
    if (st != RDMX_OK)
        return st;
    return rdmx_tcp_hs_send(conn, &m);
}

/* Dial ep->addrs[idx], then the following ones until one connect() does not
 * fail at once. */
static rdmx_status_t rdmx_tcp_connect_from(rdmx_tcp_ep_t *ep, int idx)
{
    rdmx_tcp_iface_t *iface = ep->iface;
    char where[64];

    for (; idx < ep->naddrs; idx++) {
        rdmx_tcp_addr_str(&ep->addrs[idx], where, sizeof(where));
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            RDMX_ERROR("tcp: socket() for rank %d failed: %s", ep->peer,
                       strerror(errno));
            return RDMX_ERR_IO;
        }
        rdmx_tcp_sock_setup(iface, fd, 1);
        int rc = connect(fd, (struct sockaddr *)&ep->addrs[idx],
                         sizeof(ep->addrs[idx]));
        if (rc < 0 && errno != EINPROGRESS) {
            RDMX_DEBUG("tcp: connect(rank %d at %s) failed: %s", ep->peer,
                       where, strerror(errno));
            close(fd);
            continue;
        }
        rdmx_tcp_conn_t *conn = rdmx_tcp_conn_new(iface, fd, 1, EPOLLOUT);
        if (!conn) {
            close(fd);
            return RDMX_ERR_NOMEM;
        }
        conn->ep = ep;
        conn->peer = ep->peer;
        conn->addr_idx = idx;
        conn->remote = ep->addrs[idx];
        conn->state = RDMX_TCP_CONN_CONNECTING;
        ep->out = conn;
        RDMX_DEBUG("tcp: connecting to rank %d at %s", ep->peer, where);
        if (rc == 0 && rdmx_tcp_start_hello(conn) != RDMX_OK) {
            rdmx_tcp_conn_fail(conn, RDMX_ERR_IO, "handshake send failed");
            return ep->failed ? RDMX_ERR_PEER_GONE : RDMX_OK;
        }
        return RDMX_OK;
    }
    return RDMX_ERR_UNREACHABLE;
}

rdmx_status_t rdmx_tcp_ep_connect(rdmx_tcp_ep_t *ep)
{
    if (ep->failed)
        return RDMX_ERR_PEER_GONE;
    if (ep->conn || ep->out || ep->await_incoming)
        return RDMX_OK;
    if (ep->closed_by_peer) {
        RDMX_ERROR("tcp: rank %d has already closed its connections", ep->peer);
        return RDMX_ERR_PEER_GONE;
    }
    if (ep->peer == rdmx_tcp_my_rank(ep->iface))
        return rdmx_tcp_self_connect(ep);
    if (ep->naddrs <= 0) {
        RDMX_ERROR("tcp: rank %d published no usable tcp address", ep->peer);
        return RDMX_ERR_UNREACHABLE;
    }
    rdmx_status_t st = rdmx_tcp_connect_from(ep, 0);
    if (st == RDMX_ERR_UNREACHABLE) {
        char msg[128], where[64];
        snprintf(msg, sizeof(msg), "cannot connect to rank %d at %s", ep->peer,
                 rdmx_tcp_addr_str(&ep->addrs[0], where, sizeof(where)));
        rdmx_tcp_ep_fail(ep, RDMX_ERR_UNREACHABLE, msg);
    }
    return st;
}

/* The acceptor's choice, see the comment at the top. */
static int rdmx_tcp_verdict(rdmx_tcp_iface_t *iface, rdmx_tcp_ep_t *ep)
{
    if (ep->failed || ep->closed_by_peer || iface->closing)
        return 0;
    if (ep->conn) {
        /* Normal end of a race we won: our own dial was adopted while the
         * peer's attempt was still in its handshake. Anything else means
         * the peer holds no connection to us although we do. */
        if (ep->conn->initiator && rdmx_tcp_my_rank(iface) < ep->peer)
            RDMX_DEBUG("tcp: refusing rank %d's late second connection",
                       ep->peer);
        else
            RDMX_WARN("tcp: rank %d opened a second connection; refusing it",
                      ep->peer);
        return 0;
    }
    if (ep->out && rdmx_tcp_my_rank(iface) < ep->peer)
        return 0;
    return 1;
}

static rdmx_status_t rdmx_tcp_adopt(rdmx_tcp_conn_t *conn, rdmx_tcp_ep_t *ep)
{
    char where[64];
    if (ep->out && ep->out != conn) {
        RDMX_DEBUG("tcp: rank %d dialled us too; dropping our own attempt",
                   ep->peer);
        rdmx_tcp_conn_close(ep->out);
    }
    ep->out = NULL;
    ep->await_incoming = 0;
    ep->conn = conn;
    conn->ep = ep;
    conn->peer = ep->peer;
    RDMX_DEBUG("tcp: connected to rank %d (%s, %s)", ep->peer,
               rdmx_tcp_addr_str(&conn->remote, where, sizeof(where)),
               conn->initiator ? "dialled" : "accepted");
    return rdmx_tcp_conn_up(conn);
}

/* One complete handshake message is in conn->hs_in. */
static void rdmx_tcp_hs_process(rdmx_tcp_conn_t *conn)
{
    rdmx_tcp_iface_t *iface = conn->iface;
    rdmx_runtime_t *rt = iface->super.rt;
    int me = rt->rank;
    rdmx_tcp_hs_t m, reply = {0};
    const char *why = NULL;
    char where[64];
    rdmx_status_t st;

    rdmx_tcp_addr_str(&conn->remote, where, sizeof(where));
    st = rdmx_tcp_hs_unpack(conn->hs_in, RDMX_TCP_HS_LEN, &m, &why);
    conn->hs_in_len = 0;
    if (st != RDMX_OK)
        goto bad;

    if (conn->initiator) {
        rdmx_tcp_ep_t *ep = conn->ep;
        if (m.type == RDMX_TCP_HS_CHALLENGE && !conn->got_challenge) {
            memcpy(conn->nonce_a, m.nonce, sizeof(conn->nonce_a));
            st = rdmx_tcp_hs_verify(&m, RDMX_TCP_HS_CHALLENGE, ep->peer, me,
                                    rt->size, rt->secret, RDMX_SECRET_LEN,
                                    conn->nonce_c, conn->nonce_a, &why);
            if (st != RDMX_OK)
                goto bad;
            conn->got_challenge = 1;
            reply.type = RDMX_TCP_HS_RESPONSE;
            reply.src = me;
            reply.dst = ep->peer;
            rdmx_tcp_hs_mac(rt->secret, RDMX_SECRET_LEN, reply.type, 0, me,
                            ep->peer, conn->nonce_c, conn->nonce_a, reply.mac);
            if (rdmx_tcp_hs_send(conn, &reply) != RDMX_OK)
                rdmx_tcp_conn_fail(conn, RDMX_ERR_IO, "handshake send failed");
            return;
        }
        if (m.type == RDMX_TCP_HS_VERDICT && conn->got_challenge) {
            st = rdmx_tcp_hs_verify(&m, RDMX_TCP_HS_VERDICT, ep->peer, me,
                                    rt->size, rt->secret, RDMX_SECRET_LEN,
                                    conn->nonce_c, conn->nonce_a, &why);
            if (st != RDMX_OK)
                goto bad;
            conn->peer_authenticated = 1;
            if (m.flags & RDMX_TCP_HS_FLAG_USE) {
                if (rdmx_tcp_adopt(conn, ep) != RDMX_OK)
                    rdmx_tcp_conn_fail(conn, RDMX_ERR_IO,
                                       "cannot start connection");
                return;
            }
            /* We lost the race: rank ep->peer's own connection is coming
             * (or has come already and we refused nothing). */
            RDMX_DEBUG("tcp: rank %d prefers its own connection", ep->peer);
            ep->out = NULL;
            ep->await_incoming = 1;
            rdmx_tcp_conn_close(conn);
            return;
        }
        why = "handshake message out of order";
        st = RDMX_ERR_PROTO;
        goto bad;
    }

    /* Acceptor. */
    if (m.type == RDMX_TCP_HS_HELLO && conn->peer < 0) {
        st = rdmx_tcp_hs_verify(&m, RDMX_TCP_HS_HELLO, -1, me, rt->size, NULL,
                                0, NULL, NULL, &why);
        if (st != RDMX_OK)
            goto bad;
        /* Claimed, not yet proven: the RESPONSE MAC binds it. */
        conn->peer = m.src;
        memcpy(conn->nonce_c, m.nonce, sizeof(conn->nonce_c));
        if (rdmx_auth_random(conn->nonce_a, sizeof(conn->nonce_a)) != RDMX_OK) {
            rdmx_tcp_conn_close(conn);
            return;
        }
        reply.type = RDMX_TCP_HS_CHALLENGE;
        reply.src = me;
        reply.dst = conn->peer;
        memcpy(reply.nonce, conn->nonce_a, sizeof(reply.nonce));
        rdmx_tcp_hs_mac(rt->secret, RDMX_SECRET_LEN, reply.type, 0, me,
                        conn->peer, conn->nonce_c, conn->nonce_a, reply.mac);
        if (rdmx_tcp_hs_send(conn, &reply) != RDMX_OK)
            rdmx_tcp_conn_close(conn);
        return;
    }
    if (m.type == RDMX_TCP_HS_RESPONSE && conn->peer >= 0) {
        st = rdmx_tcp_hs_verify(&m, RDMX_TCP_HS_RESPONSE, conn->peer, me,
                                rt->size, rt->secret, RDMX_SECRET_LEN,
                                conn->nonce_c, conn->nonce_a, &why);
        if (st != RDMX_OK)
            goto bad;
        conn->peer_authenticated = 1;
        if (conn->counted_unauth) {
            iface->nunauth--;
            conn->counted_unauth = 0;
        }
        rdmx_tcp_ep_t *ep = rdmx_tcp_ep_get(iface, conn->peer);
        int use = ep ? rdmx_tcp_verdict(iface, ep) : 0;
        reply.type = RDMX_TCP_HS_VERDICT;
        reply.flags = use ? RDMX_TCP_HS_FLAG_USE : 0;
        reply.src = me;
        reply.dst = conn->peer;
        rdmx_tcp_hs_mac(rt->secret, RDMX_SECRET_LEN, reply.type, reply.flags,
                        me, conn->peer, conn->nonce_c, conn->nonce_a,
                        reply.mac);
        if (rdmx_tcp_hs_send(conn, &reply) != RDMX_OK) {
            rdmx_tcp_conn_close(conn);
            return;
        }
        if (use) {
            /* The VERDICT is ahead of any message in the byte stream:
             * tcp_io writes hs_out before the send queue. */
            if (rdmx_tcp_adopt(conn, ep) != RDMX_OK)
                rdmx_tcp_conn_fail(conn, RDMX_ERR_IO,
                                   "cannot start connection");
            return;
        }
        RDMX_DEBUG("tcp: refusing rank %d's connection: ours wins", conn->peer);
        if (conn->hs_out_len == 0) {
            rdmx_tcp_conn_close(conn);
            return;
        }
        conn->state = RDMX_TCP_CONN_CLOSING;
        return;
    }
    why = "handshake message out of order";
    st = RDMX_ERR_PROTO;

bad:
    if (conn->initiator) {
        RDMX_ERROR("tcp: handshake with rank %d at %s failed: %s",
                   conn->ep->peer, where, why);
        rdmx_tcp_conn_fail(conn, st, why);
    } else {
        if (conn->peer >= 0)
            RDMX_ERROR("tcp: dropping connection from %s claiming to be rank "
                       "%d: %s",
                       where, conn->peer, why);
        else
            RDMX_ERROR("tcp: dropping connection from %s: %s", where, why);
        rdmx_tcp_conn_close(conn);
    }
}

void rdmx_tcp_conn_handshake_event(rdmx_tcp_conn_t *conn, uint32_t events)
{
    if (conn->state == RDMX_TCP_CONN_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            rdmx_tcp_conn_fail(conn, RDMX_ERR_UNREACHABLE, strerror(err));
            return;
        }
        if (rdmx_tcp_start_hello(conn) != RDMX_OK)
            rdmx_tcp_conn_fail(conn, RDMX_ERR_IO, "handshake send failed");
        return;
    }

    if (conn->hs_out_len && (events & EPOLLOUT)) {
        int r = rdmx_tcp_conn_hs_flush(conn);
        if (r < 0) {
            rdmx_tcp_conn_fail(conn, RDMX_ERR_IO, strerror(-r));
            return;
        }
        if (r > 0)
            rdmx_tcp_conn_set_events(conn, EPOLLIN);
    }
    if (conn->state == RDMX_TCP_CONN_CLOSING) {
        if (conn->hs_out_len == 0 || (events & (EPOLLERR | EPOLLHUP)))
            rdmx_tcp_conn_close(conn);
        return;
    }
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        return;

    /* Read exactly what the current message needs: bytes after a VERDICT
     * already belong to the message stream. */
    while (conn->state == RDMX_TCP_CONN_HANDSHAKE) {
        ssize_t n = recv(conn->fd, conn->hs_in + conn->hs_in_len,
                         RDMX_TCP_HS_LEN - conn->hs_in_len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            rdmx_tcp_conn_fail(conn, RDMX_ERR_PEER_GONE, strerror(errno));
            return;
        }
        if (n == 0) {
            rdmx_tcp_conn_fail(conn, RDMX_ERR_PEER_GONE,
                               "connection closed during the handshake");
            return;
        }
        conn->hs_in_len += (size_t)n;
        if (conn->hs_in_len == RDMX_TCP_HS_LEN)
            rdmx_tcp_hs_process(conn);
    }
}

void rdmx_tcp_sweep_handshakes(rdmx_tcp_iface_t *iface, uint64_t now)
{
    rdmx_tcp_conn_t *next;
    for (rdmx_tcp_conn_t *c = iface->conns; c; c = next) {
        next = c->next;
        if (c->state == RDMX_TCP_CONN_UP || now < c->deadline_ns)
            continue;
        char where[64];
        rdmx_tcp_addr_str(&c->remote, where, sizeof(where));
        if (c->initiator) {
            rdmx_tcp_conn_fail(c, RDMX_ERR_TIMEOUT,
                               "connection/handshake timed out");
        } else {
            RDMX_WARN("tcp: dropping connection from %s: no handshake "
                      "within the timeout",
                      where);
            rdmx_tcp_conn_close(c);
        }
        /* conn_fail may close others (a retry creates a new head): restart
         * from the list head is not needed since closed ones are unlinked
         * only after we took `next`; re-check it is still live. */
        if (next && next->state == RDMX_TCP_CONN_DEAD)
            next = iface->conns;
    }
}
