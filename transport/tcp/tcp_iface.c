/*
 * tcp_iface.c — the TCP transport's ops table: choosing and publishing
 * addresses, capabilities, endpoints, and an orderly close.
 *
 * TCP is the fallback that reaches every peer with an IP route; it is last
 * in preference. No GET/PUT: large messages use RTS/CTS/DATA and the DATA
 * payload is read straight into the receive buffer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "tcp.h"

RDMX_CONFIG_VAR("RDMX_TCP_EAGER_LIMIT", "64k",
                "tcp: largest message sent eagerly (larger: rendezvous)");
RDMX_CONFIG_VAR("RDMX_TCP_IF", NULL,
                "tcp: comma-separated interfaces whose IPv4 addresses to "
                "publish (default: all up, non-loopback)");
RDMX_CONFIG_VAR("RDMX_TCP_ADDR", NULL,
                "tcp: IPv4 address or host name to listen on and publish");
RDMX_CONFIG_VAR("RDMX_TCP_SNDBUF", "0",
                "tcp: SO_SNDBUF for every socket (0: kernel autotuning)");
RDMX_CONFIG_VAR("RDMX_TCP_RCVBUF", "0",
                "tcp: SO_RCVBUF for every socket (0: kernel autotuning)");
RDMX_CONFIG_VAR("RDMX_TCP_CONNECT_TIMEOUT", "60",
                "tcp: seconds a connection may take to connect and "
                "authenticate");
RDMX_CONFIG_VAR("RDMX_TCP_CLOSE_TIMEOUT", "5",
                "tcp: seconds finalize waits to flush sends and see peers "
                "close");

/* Largest eager limit accepted: a receiver must be able to buffer it. */
#define RDMX_TCP_EAGER_MAX (16u << 20)

const rdmx_transport_ops_t rdmx_tcp_ops;

static rdmx_status_t rdmx_tcp_probe(char *why, size_t why_len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, why_len, "cannot create an IPv4 TCP socket: %s",
                 strerror(errno));
        return RDMX_ERR_NO_DEVICE;
    }
    close(fd);
    return RDMX_OK;
}

static int rdmx_tcp_add_addr(rdmx_tcp_iface_t *iface, struct in_addr a)
{
    for (int i = 0; i < iface->naddrs; i++)
        if (iface->addrs[i].sin_addr.s_addr == a.s_addr)
            return 0;
    if (iface->naddrs >= RDMX_TCP_MAX_ADDRS)
        return 0;
    struct sockaddr_in *sa = &iface->addrs[iface->naddrs++];
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_addr = a;
    return 1;
}

/* IPv4 addresses of interfaces that are up: those named in `only`, or all
 * non-loopback ones. */
static rdmx_status_t rdmx_tcp_collect_ifaddrs(rdmx_tcp_iface_t *iface,
                                              const char *only)
{
    struct ifaddrs *ifa_list;
    if (getifaddrs(&ifa_list) < 0) {
        RDMX_ERROR("tcp: getifaddrs() failed: %s", strerror(errno));
        return RDMX_ERR_IO;
    }
    for (struct ifaddrs *ifa = ifa_list; ifa; ifa = ifa->ifa_next) {
        if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET ||
            !(ifa->ifa_flags & IFF_UP))
            continue;
        if (only ? !rdmx_config_list_has(only, ifa->ifa_name)
                 : (ifa->ifa_flags & IFF_LOOPBACK) != 0)
            continue;
        rdmx_tcp_add_addr(iface,
                          ((struct sockaddr_in *)ifa->ifa_addr)->sin_addr);
    }
    freeifaddrs(ifa_list);
    return RDMX_OK;
}

static int rdmx_tcp_resolve(const char *name, struct in_addr *out)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    if (inet_pton(AF_INET, name, out) == 1)
        return 0;
    if (getaddrinfo(name, NULL, &hints, &res) != 0)
        return -1;
    *out = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return 0;
}

/* Fill iface->addrs (what peers dial) and *bind_addr (what we listen on). */
static rdmx_status_t rdmx_tcp_pick_addrs(rdmx_tcp_iface_t *iface,
                                         struct sockaddr_in *bind_addr)
{
    rdmx_runtime_t *rt = iface->super.rt;
    const char *addr = rdmx_config_str("RDMX_TCP_ADDR");
    const char *ifs = rdmx_config_str("RDMX_TCP_IF");
    struct in_addr a;

    memset(bind_addr, 0, sizeof(*bind_addr));
    bind_addr->sin_family = AF_INET;
    bind_addr->sin_addr.s_addr = htonl(INADDR_ANY);

    if (addr && *addr) {
        if (rdmx_tcp_resolve(addr, &a) < 0) {
            RDMX_ERROR("tcp: RDMX_TCP_ADDR=%s is neither an IPv4 address "
                       "nor a resolvable host name",
                       addr);
            return RDMX_ERR_INVALID;
        }
        rdmx_tcp_add_addr(iface, a);
        bind_addr->sin_addr = a;
        return RDMX_OK;
    }
    if (ifs && *ifs) {
        rdmx_status_t st = rdmx_tcp_collect_ifaddrs(iface, ifs);
        if (st != RDMX_OK)
            return st;
        if (iface->naddrs == 0) {
            RDMX_ERROR("tcp: RDMX_TCP_IF=%s: no interface of that name is "
                       "up with an IPv4 address on %s",
                       ifs, rt->hostname);
            return RDMX_ERR_NO_DEVICE;
        }
        if (iface->naddrs == 1)
            bind_addr->sin_addr = iface->addrs[0].sin_addr;
        return RDMX_OK;
    }
    /* All ranks on this host: stay on loopback, reachable from nowhere
     * else. */
    if (rt->local_size > 0 && rt->local_size == rt->size) {
        a.s_addr = htonl(INADDR_LOOPBACK);
        rdmx_tcp_add_addr(iface, a);
        bind_addr->sin_addr = a;
        return RDMX_OK;
    }
    rdmx_status_t st = rdmx_tcp_collect_ifaddrs(iface, NULL);
    if (st != RDMX_OK)
        return st;
    if (iface->naddrs == 0 && rdmx_tcp_resolve(rt->hostname, &a) == 0)
        rdmx_tcp_add_addr(iface, a);
    if (iface->naddrs == 0) {
        RDMX_WARN("tcp: no non-loopback IPv4 address on %s; peers on other "
                  "hosts will not reach this rank",
                  rt->hostname);
        a.s_addr = htonl(INADDR_LOOPBACK);
        rdmx_tcp_add_addr(iface, a);
    }
    return RDMX_OK;
}

static void rdmx_tcp_iface_free(rdmx_tcp_iface_t *iface)
{
    while (iface->conns)
        rdmx_tcp_conn_close(iface->conns);
    rdmx_tcp_free_dead(iface);
    if (iface->eps) {
        for (int i = 0; i < iface->super.rt->size; i++) {
            if (!iface->eps[i])
                continue;
            rdmx_tcp_ep_drop_queue(iface->eps[i], RDMX_ERR_CANCELLED);
            free(iface->eps[i]);
        }
        free(iface->eps);
    }
    if (iface->listen_fd >= 0)
        close(iface->listen_fd);
    if (iface->epfd >= 0)
        close(iface->epfd);
    free(iface);
}

static rdmx_status_t rdmx_tcp_open(rdmx_runtime_t *rt, rdmx_transport_t **tp)
{
    rdmx_status_t st;
    struct sockaddr_in bind_addr;
    char text[RDMX_TCP_ADDRS_TEXT_MAX];

    if (rt->size <= 0 || rt->rank < 0 || rt->rank >= rt->size)
        return RDMX_ERR_INVALID;
    rdmx_tcp_iface_t *iface = calloc(1, sizeof(*iface));
    if (!iface)
        return RDMX_ERR_NOMEM;
    iface->super.ops = &rdmx_tcp_ops;
    iface->super.rt = rt;
    iface->listen_fd = -1;
    iface->epfd = -1;

    size_t eager = rdmx_config_size("RDMX_TCP_EAGER_LIMIT");
    if (eager > RDMX_TCP_EAGER_MAX) {
        RDMX_WARN("tcp: RDMX_TCP_EAGER_LIMIT=%zu is above the maximum %u; "
                  "using the maximum",
                  eager, RDMX_TCP_EAGER_MAX);
        eager = RDMX_TCP_EAGER_MAX;
    }
    iface->super.caps.flags = RDMX_TP_CAP_WAIT_FD;
    iface->super.caps.eager_limit = eager;
    iface->super.caps.max_eager_payload = eager;
    iface->super.caps.get_max_chunk = 0;
    iface->super.caps.priority = 0; /* the fallback: anything else wins */
    iface->sndbuf = rdmx_config_size("RDMX_TCP_SNDBUF");
    iface->rcvbuf = rdmx_config_size("RDMX_TCP_RCVBUF");
    if (iface->sndbuf > INT32_MAX)
        iface->sndbuf = INT32_MAX;
    if (iface->rcvbuf > INT32_MAX)
        iface->rcvbuf = INT32_MAX;
    long tmo = rdmx_config_long("RDMX_TCP_CONNECT_TIMEOUT");
    iface->hs_timeout_ns = (uint64_t)(tmo > 0 ? tmo : 60) * 1000000000ull;
    iface->max_unauth = rt->size * 2 > 256 ? rt->size * 2 : 256;

    iface->eps = calloc((size_t)rt->size, sizeof(*iface->eps));
    if (!iface->eps) {
        st = RDMX_ERR_NOMEM;
        goto err;
    }
    iface->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (iface->epfd < 0) {
        RDMX_ERROR("tcp: epoll_create1() failed: %s", strerror(errno));
        st = RDMX_ERR_IO;
        goto err;
    }
    st = rdmx_tcp_pick_addrs(iface, &bind_addr);
    if (st != RDMX_OK)
        goto err;
    st = rdmx_tcp_listen(iface, &bind_addr);
    if (st != RDMX_OK)
        goto err;
    if (rdmx_tcp_addrs_format(iface->addrs, iface->naddrs, text, sizeof(text)) <
        0) {
        RDMX_ERROR("tcp: address list does not fit the modex");
        st = RDMX_ERR_INTERNAL;
        goto err;
    }
    st = rdmx_modex_put(rt, "tcp", text, strlen(text));
    if (st != RDMX_OK) {
        RDMX_ERROR("tcp: publishing address %s failed: %s", text,
                   rdmx_status_str(st));
        goto err;
    }
    RDMX_INFO("tcp: rank %d listening on %s", rt->rank, text);
    *tp = &iface->super;
    return RDMX_OK;

err:
    rdmx_tcp_iface_free(iface);
    return st;
}

/* Read and check the peer's published addresses once. */
static void rdmx_tcp_ep_load_addrs(rdmx_tcp_ep_t *ep)
{
    char text[RDMX_TCP_ADDRS_TEXT_MAX];
    size_t len = 0;

    if (ep->naddrs != 0)
        return;
    rdmx_status_t st = rdmx_modex_get(ep->iface->super.rt, ep->peer, "tcp",
                                      text, sizeof(text) - 1, &len);
    if (st != RDMX_OK) {
        RDMX_DEBUG("tcp: no tcp address from rank %d: %s", ep->peer,
                   rdmx_status_str(st));
        ep->naddrs = -1;
        return;
    }
    ep->naddrs = rdmx_tcp_addrs_parse(text, len, ep->addrs, RDMX_TCP_MAX_ADDRS);
    if (ep->naddrs < 0) {
        text[len < sizeof(text) ? len : sizeof(text) - 1] = '\0';
        RDMX_ERROR("tcp: rank %d published a malformed address list "
                   "\"%.64s\"",
                   ep->peer, text);
    }
}

static int rdmx_tcp_reachable(rdmx_transport_t *tp, int peer)
{
    rdmx_tcp_iface_t *iface = (rdmx_tcp_iface_t *)tp;
    if (peer == tp->rt->rank)
        return 1;
    rdmx_tcp_ep_t *ep = rdmx_tcp_ep_get(iface, peer);
    if (!ep)
        return 0;
    rdmx_tcp_ep_load_addrs(ep);
    return ep->naddrs > 0;
}

static rdmx_status_t rdmx_tcp_ep_create(rdmx_transport_t *tp, int peer,
                                        rdmx_ep_t **out)
{
    rdmx_tcp_iface_t *iface = (rdmx_tcp_iface_t *)tp;
    rdmx_tcp_ep_t *ep = rdmx_tcp_ep_get(iface, peer);
    if (!ep)
        return peer < 0 || peer >= tp->rt->size ? RDMX_ERR_RANK
                                                : RDMX_ERR_NOMEM;
    if (peer != tp->rt->rank)
        rdmx_tcp_ep_load_addrs(ep);
    rdmx_status_t st = rdmx_tcp_ep_connect(ep);
    if (st < 0)
        return st;
    *out = (rdmx_ep_t *)ep;
    return RDMX_OK;
}

static int rdmx_tcp_wait_fd(rdmx_transport_t *tp)
{
    return ((rdmx_tcp_iface_t *)tp)->epfd;
}

static rdmx_status_t rdmx_tcp_arm(rdmx_transport_t *tp)
{
    /* Level-triggered epoll: anything unread keeps the fd readable, and
     * buffered complete messages are always consumed before progress
     * returns. */
    return RDMX_OK;
}

static int rdmx_tcp_any_pending(rdmx_tcp_iface_t *iface)
{
    for (int i = 0; i < iface->super.rt->size; i++) {
        rdmx_tcp_ep_t *ep = iface->eps[i];
        if (ep && ep->sq_head && !ep->failed && (ep->conn || ep->out))
            return 1;
    }
    return 0;
}

static int rdmx_tcp_any_open(rdmx_tcp_iface_t *iface)
{
    for (rdmx_tcp_conn_t *c = iface->conns; c; c = c->next)
        if (c->state == RDMX_TCP_CONN_UP && c->ep &&
            c->ep->peer != iface->super.rt->rank)
            return 1;
    return 0;
}

static void rdmx_tcp_wait_until(rdmx_tcp_iface_t *iface, uint64_t deadline,
                                int (*busy)(rdmx_tcp_iface_t *))
{
    while (busy(iface)) {
        uint64_t now = rdmx_tcp_now_ns();
        if (now >= deadline)
            break;
        struct pollfd pfd = {.fd = iface->epfd, .events = POLLIN};
        uint64_t ms = (deadline - now) / 1000000 + 1;
        poll(&pfd, 1, ms > 50 ? 50 : (int)ms);
        rdmx_tcp_progress(&iface->super);
    }
}

/* Orderly close: flush every queue, say BYE, half-close, and read until each
 * peer closes too — closing a socket with unread data would send an RST that
 * can destroy the peer's last bytes still in flight. */
static void rdmx_tcp_close(rdmx_transport_t *tp)
{
    rdmx_tcp_iface_t *iface = (rdmx_tcp_iface_t *)tp;
    rdmx_runtime_t *rt = tp->rt;
    long tmo = rdmx_config_long("RDMX_TCP_CLOSE_TIMEOUT");
    uint64_t deadline =
        rdmx_tcp_now_ns() + (uint64_t)(tmo >= 0 ? tmo : 5) * 1000000000ull;

    rdmx_tcp_wait_until(iface, deadline, rdmx_tcp_any_pending);
    iface->closing = 1;
    for (int i = 0; i < rt->size; i++) {
        rdmx_tcp_ep_t *ep = iface->eps[i];
        if (ep && i != rt->rank && ep->conn && !ep->failed)
            rdmx_tcp_ep_send_bye(ep);
    }
    rdmx_tcp_wait_until(iface, deadline, rdmx_tcp_any_pending);
    for (int i = 0; i < rt->size; i++) {
        rdmx_tcp_ep_t *ep = iface->eps[i];
        if (!ep || !ep->sq_head)
            continue;
        RDMX_WARN("tcp: messages to rank %d still unsent at close", i);
        rdmx_tcp_ep_drop_queue(ep, RDMX_ERR_TIMEOUT);
    }
    iface->draining = 1;
    for (rdmx_tcp_conn_t *c = iface->conns; c; c = c->next)
        if (c->state == RDMX_TCP_CONN_UP && c->ep && c->ep->peer != rt->rank)
            shutdown(c->fd, SHUT_WR);
    rdmx_tcp_wait_until(iface, deadline, rdmx_tcp_any_open);
    rdmx_tcp_iface_free(iface);
}

static void rdmx_tcp_describe_ep(rdmx_ep_t *ep_, char *buf, size_t len)
{
    rdmx_tcp_ep_t *ep = (rdmx_tcp_ep_t *)ep_;
    char where[64];
    if (ep->peer == ep->iface->super.rt->rank)
        snprintf(buf, len, "tcp self (socketpair)");
    else if (ep->naddrs > 0)
        snprintf(buf, len, "tcp %s",
                 rdmx_tcp_addr_str(&ep->addrs[0], where, sizeof(where)));
    else if (ep->conn)
        snprintf(buf, len, "tcp %s",
                 rdmx_tcp_addr_str(&ep->conn->remote, where, sizeof(where)));
    else
        snprintf(buf, len, "tcp (no address)");
}

const rdmx_transport_ops_t rdmx_tcp_ops = {
    .size = sizeof(rdmx_transport_ops_t),
    .name = "tcp",
    .probe = rdmx_tcp_probe,
    .open = rdmx_tcp_open,
    .wireup = NULL,
    .reachable = rdmx_tcp_reachable,
    .ep_create = rdmx_tcp_ep_create,
    .send = rdmx_tcp_send,
    .mem_reg = NULL,
    .mem_dereg = NULL,
    .get = NULL,
    .put = NULL,
    .progress = rdmx_tcp_progress,
    .wait_fd = rdmx_tcp_wait_fd,
    .arm = rdmx_tcp_arm,
    .close = rdmx_tcp_close,
    .describe_ep = rdmx_tcp_describe_ep,
};
