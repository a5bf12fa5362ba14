/*
 * tcp_loop_test.c — two real TCP transports in one process, talking over
 * loopback sockets: ordering and content of messages of every size, the
 * simultaneous-connect race, backpressure with completion callbacks,
 * messages to oneself, hostile clients on the listening port (no secret,
 * wrong MAC, garbage, out-of-range rank, bad headers after a valid
 * handshake) and peer failure reporting.
 *
 * The core's upcalls (modex, on_header, on_payload_done, on_peer_failure)
 * are replaced with recording doubles through the linker's --wrap, so the
 * transport's own code runs unchanged.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/runtime.h"
#include "transport/tcp/tcp.h"

extern const rdmx_transport_ops_t rdmx_tcp_ops;

#define NRANKS 2
#define MAXMSG 4096

/* ---- recording doubles of the core's upcalls ----------------------------- */

typedef struct msg_rec {
    rdmx_wire_hdr_t hdr;
    int peer;
    uint8_t *data;
    size_t len; /* bytes the sink asked for */
    int done;   /* on_payload_done seen */
} msg_rec_t;

static struct {
    char modex[NRANKS + 1][RDMX_TCP_ADDRS_TEXT_MAX];
    size_t modex_len[NRANKS + 1];
    msg_rec_t msgs[NRANKS][MAXMSG];
    int nmsgs[NRANKS];
    int failures[NRANKS][NRANKS]; /* [rank][peer] */
    rdmx_status_t fail_why[NRANKS][NRANKS];
    size_t truncate_to; /* >0: sinks take only this many bytes */
    int reject_tag;     /* on_header returns PROTO for this tag (if >0) */
} rec;

static rdmx_runtime_t rts[NRANKS];

rdmx_status_t __wrap_rdmx_modex_put(rdmx_runtime_t *rt, const char *tp,
                                    const void *data, size_t len)
{
    assert_string_equal(tp, "tcp");
    assert_true(len < sizeof(rec.modex[0]));
    memcpy(rec.modex[rt->rank], data, len);
    rec.modex_len[rt->rank] = len;
    return RDMX_OK;
}

rdmx_status_t __wrap_rdmx_modex_get(rdmx_runtime_t *rt, int peer,
                                    const char *tp, void *data, size_t cap,
                                    size_t *len)
{
    if (peer < 0 || peer >= NRANKS || rec.modex_len[peer] == 0)
        return RDMX_ERR_NOT_FOUND;
    if (rec.modex_len[peer] > cap)
        return RDMX_ERR_TRUNCATE;
    memcpy(data, rec.modex[peer], rec.modex_len[peer]);
    *len = rec.modex_len[peer];
    return RDMX_OK;
}

rdmx_status_t __wrap_rdmx_proto_on_header(rdmx_runtime_t *rt, int peer,
                                          const rdmx_wire_hdr_t *hdr,
                                          const void *payload,
                                          rdmx_recv_sink_t *sink)
{
    assert_null(payload); /* a stream transport */
    assert_true(hdr->type >= 1 && hdr->type <= RDMX_MSG_TYPE_MAX);
    memset(sink, 0, sizeof(*sink));
    if (rec.reject_tag > 0 && hdr->tag == rec.reject_tag)
        return RDMX_ERR_PROTO;
    int r = rt->rank;
    assert_true(rec.nmsgs[r] < MAXMSG);
    msg_rec_t *m = &rec.msgs[r][rec.nmsgs[r]++];
    m->hdr = *hdr;
    m->peer = peer;
    m->len = hdr->len;
    if (rec.truncate_to && m->len > rec.truncate_to)
        m->len = rec.truncate_to;
    if (hdr->len == 0 && hdr->type != RDMX_MSG_EAGER) {
        m->done = 1; /* header-only: no payload_done expected */
        return RDMX_OK;
    }
    m->data = malloc(m->len ? m->len : 1);
    assert_non_null(m->data);
    sink->buf = m->data;
    sink->len = m->len;
    sink->discard = hdr->len - m->len;
    sink->cookie = m;
    return RDMX_OK;
}

void __wrap_rdmx_proto_on_payload_done(rdmx_runtime_t *rt, int peer,
                                       rdmx_recv_sink_t *sink)
{
    msg_rec_t *m = sink->cookie;
    assert_non_null(m);
    assert_int_equal(m->peer, peer);
    assert_int_equal(m->done, 0);
    assert_ptr_equal(sink->buf, m->data);
    m->done = 1;
}

void __wrap_rdmx_proto_on_peer_failure(rdmx_runtime_t *rt, int peer,
                                       rdmx_status_t why, const char *detail)
{
    assert_true(peer >= 0 && peer < NRANKS);
    rec.failures[rt->rank][peer]++;
    rec.fail_why[rt->rank][peer] = why;
}

/* ---- helpers ------------------------------------------------------------- */

static rdmx_transport_t *tps[NRANKS];

static void open_all(void)
{
    memset(&rec, 0, sizeof(rec));
    for (int r = 0; r < NRANKS; r++) {
        memset(&rts[r], 0, sizeof(rts[r]));
        rts[r].rank = r;
        rts[r].size = NRANKS;
        rts[r].local_rank = r;
        rts[r].local_size = NRANKS;
        snprintf(rts[r].hostname, sizeof(rts[r].hostname), "localhost");
        memset(rts[r].secret, 0x5a, RDMX_SECRET_LEN);
        rts[r].epfd = -1;
        char why[128] = "";
        assert_int_equal(rdmx_tcp_ops.probe(why, sizeof(why)), RDMX_OK);
        assert_int_equal(rdmx_tcp_ops.open(&rts[r], &tps[r]), RDMX_OK);
        assert_non_null(tps[r]);
        assert_true(rdmx_tcp_ops.wait_fd(tps[r]) >= 0);
    }
    for (int r = 0; r < NRANKS; r++)
        for (int p = 0; p < NRANKS; p++)
            assert_int_equal(rdmx_tcp_ops.reachable(tps[r], p), 1);
}

static void free_recs(void)
{
    for (int r = 0; r < NRANKS; r++)
        for (int i = 0; i < rec.nmsgs[r]; i++)
            free(rec.msgs[r][i].data);
}

/* One thread cannot close both sides concurrently, so the first close()
 * would wait its full timeout for the second's EOF: use none. */
static void close_all(void)
{
    setenv("RDMX_TCP_CLOSE_TIMEOUT", "0", 1);
    for (int r = 0; r < NRANKS; r++)
        if (tps[r])
            rdmx_tcp_ops.close(tps[r]);
    memset(tps, 0, sizeof(tps));
    unsetenv("RDMX_TCP_CLOSE_TIMEOUT");
    free_recs();
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Drive both transports until cond() holds; fail after `secs`. */
static void pump(int (*cond)(void *), void *arg, double secs, const char *what)
{
    double end = now_s() + secs;
    while (!cond(arg)) {
        int n = 0;
        for (int r = 0; r < NRANKS; r++)
            if (tps[r])
                n += rdmx_tcp_ops.progress(tps[r]);
        if (now_s() > end)
            fail_msg("timed out waiting for %s", what);
        if (!n) {
            struct pollfd p[NRANKS];
            int np = 0;
            for (int r = 0; r < NRANKS; r++)
                if (tps[r])
                    p[np++] = (struct pollfd){
                        .fd = rdmx_tcp_ops.wait_fd(tps[r]), .events = POLLIN};
            poll(p, (nfds_t)np, 5);
        }
    }
}

static int have_msgs(void *arg)
{
    int *want = arg; /* want[r] messages fully received at rank r */
    for (int r = 0; r < NRANKS; r++) {
        if (rec.nmsgs[r] < want[r])
            return 0;
        for (int i = 0; i < want[r]; i++)
            if (!rec.msgs[r][i].done)
                return 0;
    }
    return 1;
}

typedef struct test_comp {
    rdmx_completion_t comp;
    int called;
    rdmx_status_t status;
    int seq;
} test_comp_t;

static int comp_order[MAXMSG], ncomp_order;

static void test_comp_cb(rdmx_completion_t *c, rdmx_status_t st)
{
    test_comp_t *t = (test_comp_t *)c;
    t->called++;
    t->status = st;
    comp_order[ncomp_order++] = t->seq;
}

static void fill(uint8_t *buf, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
}

static void check_msg(const msg_rec_t *m, int peer, uint8_t type, int tag,
                      size_t len, unsigned seed)
{
    assert_int_equal(m->peer, peer);
    assert_int_equal(m->hdr.type, type);
    assert_int_equal(m->hdr.tag, tag);
    assert_int_equal(m->hdr.len, len);
    assert_int_equal(m->done, 1);
    if (len) {
        uint8_t *want = malloc(len);
        fill(want, len, seed);
        if (memcmp(want, m->data, len) != 0)
            fail_msg("payload of message tag %d (%zu bytes) corrupted", tag,
                     len);
        free(want);
    }
}

static rdmx_ep_t *ep_of(int from, int to)
{
    rdmx_ep_t *ep = NULL;
    assert_int_equal(rdmx_tcp_ops.ep_create(tps[from], to, &ep), RDMX_OK);
    assert_non_null(ep);
    return ep;
}

/* Send one message; the buffer and completion must stay alive until the
 * completion fires, so they are heap-allocated and returned. */
typedef struct pending_send {
    test_comp_t comp;
    uint8_t *buf;
} pending_send_t;

static rdmx_status_t send_msg(rdmx_ep_t *ep, uint8_t type, int tag, size_t len,
                              unsigned seed, pending_send_t *ps)
{
    rdmx_wire_hdr_t hdr = {.type = type, .tag = tag, .len = len, .src = 0};
    ps->buf = malloc(len ? len : 1);
    fill(ps->buf, len, seed);
    ps->comp.comp.cb = test_comp_cb;
    ps->comp.called = 0;
    ps->comp.seq = tag;
    /* Split the payload over several iovecs to exercise partial writes. */
    struct iovec iov[3];
    int n = 0;
    size_t a = len / 3, b = len / 2;
    if (len) {
        iov[n++] = (struct iovec){ps->buf, a};
        iov[n++] = (struct iovec){ps->buf + a, b - a};
        iov[n++] = (struct iovec){ps->buf + b, len - b};
    }
    return rdmx_tcp_ops.send(ep, &hdr, iov, n, &ps->comp.comp);
}

static int all_completed(void *arg)
{
    pending_send_t **v = arg;
    for (int i = 0; v[i]; i++)
        if (!v[i]->comp.called)
            return 0;
    return 1;
}

/* ---- tests --------------------------------------------------------------- */

static void test_sizes_and_order(void **state)
{
    static const size_t sizes[] = {0,     1,     7,      31,     32,
                                   33,    255,   256,    257,    4096,
                                   65535, 65536, 300000, 4 << 20};
    const int n = sizeof(sizes) / sizeof(sizes[0]);
    pending_send_t ps[sizeof(sizes) / sizeof(sizes[0])];
    pending_send_t *pv[sizeof(sizes) / sizeof(sizes[0]) + 1] = {0};

    open_all();
    rdmx_ep_t *ep = ep_of(0, 1);
    ncomp_order = 0;
    int async = 0;
    for (int i = 0; i < n; i++) {
        uint8_t type = sizes[i] <= 65536 ? RDMX_MSG_EAGER : RDMX_MSG_DATA;
        rdmx_status_t st = send_msg(ep, type, i, sizes[i], (unsigned)i, &ps[i]);
        assert_true(st == RDMX_OK || st == RDMX_INPROGRESS);
        if (st == RDMX_OK)
            ps[i].comp.called = -1; /* buffers reusable now: no callback */
        else
            async++;
        pv[i] = &ps[i];
    }
    int want[NRANKS] = {0, n};
    pump(have_msgs, want, 30, "all messages at rank 1");
    pump(all_completed, pv, 30, "send completions");
    for (int i = 0; i < n; i++) {
        uint8_t type = sizes[i] <= 65536 ? RDMX_MSG_EAGER : RDMX_MSG_DATA;
        check_msg(&rec.msgs[1][i], 0, type, i, sizes[i], (unsigned)i);
        if (ps[i].comp.called > 0)
            assert_int_equal(ps[i].comp.status, RDMX_OK);
        assert_true(ps[i].comp.called == -1 || ps[i].comp.called == 1);
    }
    /* Callbacks come in send order. */
    assert_int_equal(ncomp_order, async);
    for (int i = 1; i < ncomp_order; i++)
        assert_true(comp_order[i - 1] < comp_order[i]);
    for (int i = 0; i < n; i++)
        free(ps[i].buf);
    assert_int_equal(rec.failures[0][1] + rec.failures[1][0], 0);

    char desc[128];
    rdmx_tcp_ops.describe_ep(ep, desc, sizeof(desc));
    assert_memory_equal(desc, "tcp 127.0.0.1:", 14);
    close_all();
}

/* Both ranks dial each other before either makes progress; traffic both
 * ways must arrive complete and in order over exactly one connection. */
static void test_simultaneous_connect(void **state)
{
    for (int round = 0; round < 20; round++) {
        enum { N = 50 };
        pending_send_t ps[2][N];
        open_all();
        rdmx_ep_t *e01 = ep_of(0, 1), *e10 = ep_of(1, 0);
        for (int i = 0; i < N; i++) {
            size_t len = (size_t)(i * 997) % 70000;
            uint8_t t = len <= 65536 ? RDMX_MSG_EAGER : RDMX_MSG_DATA;
            /* Alternate which side queues first between rounds; the
             * payload seed names the direction (0->1: i, 1->0: i+1000). */
            if (round & 1) {
                assert_true(send_msg(e10, t, i, len, (unsigned)(i + 1000),
                                     &ps[1][i]) >= 0);
                assert_true(send_msg(e01, t, i, len, (unsigned)i, &ps[0][i]) >=
                            0);
            } else {
                assert_true(send_msg(e01, t, i, len, (unsigned)i, &ps[0][i]) >=
                            0);
                assert_true(send_msg(e10, t, i, len, (unsigned)(i + 1000),
                                     &ps[1][i]) >= 0);
            }
            if (i == N / 2)
                rdmx_tcp_ops.progress(tps[round % 3 == 0 ? 0 : 1]);
        }
        int want[NRANKS] = {N, N};
        pump(have_msgs, want, 30, "messages both ways");
        for (int i = 0; i < N; i++) {
            size_t len = (size_t)(i * 997) % 70000;
            uint8_t t = len <= 65536 ? RDMX_MSG_EAGER : RDMX_MSG_DATA;
            /* rank 1 got rank 0's messages (ps[0]: seed i), and back. */
            check_msg(&rec.msgs[1][i], 0, t, i, len, (unsigned)i);
            check_msg(&rec.msgs[0][i], 1, t, i, len, (unsigned)(i + 1000));
        }
        /* One adopted connection, the same on both sides. */
        rdmx_tcp_iface_t *i0 = (rdmx_tcp_iface_t *)tps[0];
        rdmx_tcp_iface_t *i1 = (rdmx_tcp_iface_t *)tps[1];
        assert_non_null(i0->eps[1]->conn);
        assert_non_null(i1->eps[0]->conn);
        assert_int_not_equal(i0->eps[1]->conn->initiator,
                             i1->eps[0]->conn->initiator);
        assert_int_equal(rec.failures[0][1] + rec.failures[1][0], 0);
        for (int s = 0; s < 2; s++)
            for (int i = 0; i < N; i++)
                free(ps[s][i].buf);
        close_all();
    }
}

/* The receiver does not progress while many large sends are queued: the
 * sender gets RDMX_INPROGRESS, keeps FIFO order, and completes later. */
static void test_backpressure(void **state)
{
    enum { N = 48, LEN = 1 << 20 };
    pending_send_t *ps = calloc(N, sizeof(*ps));
    pending_send_t *pv[N + 1] = {0};
    open_all();
    rdmx_ep_t *ep = ep_of(0, 1);
    ncomp_order = 0;
    int inprogress = 0;
    for (int i = 0; i < N; i++) {
        rdmx_status_t st =
            send_msg(ep, RDMX_MSG_DATA, i, LEN, (unsigned)i * 7, &ps[i]);
        assert_true(st == RDMX_OK || st == RDMX_INPROGRESS);
        inprogress += st == RDMX_INPROGRESS;
        if (st == RDMX_OK)
            ps[i].comp.called = -1;
        pv[i] = &ps[i];
        /* Let the connection come up but never drain rank 1. */
        rdmx_tcp_ops.progress(tps[0]);
        if (i == 0)
            for (int k = 0; k < 100; k++) {
                rdmx_tcp_ops.progress(tps[1]);
                rdmx_tcp_ops.progress(tps[0]);
            }
    }
    /* 48 MiB cannot fit in loopback socket buffers. */
    assert_true(inprogress > 0);
    int want[NRANKS] = {0, N};
    pump(have_msgs, want, 60, "large messages");
    pump(all_completed, pv, 30, "send completions");
    for (int i = 0; i < N; i++)
        check_msg(&rec.msgs[1][i], 0, RDMX_MSG_DATA, i, LEN, (unsigned)i * 7);
    for (int i = 1; i < ncomp_order; i++)
        assert_true(comp_order[i - 1] < comp_order[i]);
    for (int i = 0; i < N; i++)
        free(ps[i].buf);
    free(ps);
    close_all();
}

/* The core may ask for fewer bytes than sent (truncation): the rest is
 * dropped and the stream stays in sync. */
static void test_truncation(void **state)
{
    pending_send_t ps[3];
    open_all();
    rec.truncate_to = 100;
    rdmx_ep_t *ep = ep_of(0, 1);
    assert_true(send_msg(ep, RDMX_MSG_EAGER, 1, 5000, 1, &ps[0]) >= 0);
    assert_true(send_msg(ep, RDMX_MSG_DATA, 2, 1 << 20, 2, &ps[1]) >= 0);
    assert_true(send_msg(ep, RDMX_MSG_EAGER, 3, 50, 3, &ps[2]) >= 0);
    int want[NRANKS] = {0, 3};
    pump(have_msgs, want, 30, "truncated messages");
    for (int i = 0; i < 3; i++) {
        msg_rec_t *m = &rec.msgs[1][i];
        assert_int_equal(m->hdr.tag, i + 1);
        uint8_t *full = malloc(m->hdr.len);
        fill(full, m->hdr.len, (unsigned)(i + 1));
        assert_memory_equal(full, m->data, m->len);
        free(full);
    }
    assert_int_equal(rec.msgs[1][2].len, 50);
    for (int i = 0; i < 3; i++)
        free(ps[i].buf);
    close_all();
}

static void test_self(void **state)
{
    pending_send_t ps[3];
    open_all();
    rdmx_ep_t *ep = ep_of(0, 0);
    assert_true(send_msg(ep, RDMX_MSG_EAGER, 1, 10, 1, &ps[0]) >= 0);
    assert_true(send_msg(ep, RDMX_MSG_DATA, 2, 3 << 20, 2, &ps[1]) >= 0);
    assert_true(send_msg(ep, RDMX_MSG_EAGER, 3, 0, 3, &ps[2]) >= 0);
    int want[NRANKS] = {3, 0};
    pump(have_msgs, want, 30, "messages to self");
    check_msg(&rec.msgs[0][0], 0, RDMX_MSG_EAGER, 1, 10, 1);
    check_msg(&rec.msgs[0][1], 0, RDMX_MSG_DATA, 2, 3 << 20, 2);
    check_msg(&rec.msgs[0][2], 0, RDMX_MSG_EAGER, 3, 0, 3);
    char desc[64];
    rdmx_tcp_ops.describe_ep(ep, desc, sizeof(desc));
    assert_string_equal(desc, "tcp self (socketpair)");
    for (int i = 0; i < 3; i++)
        free(ps[i].buf);
    close_all();
}

/* ---- hostile clients ----------------------------------------------------- */

static int raw_connect(int rank)
{
    rdmx_tcp_iface_t *iface = (rdmx_tcp_iface_t *)tps[rank];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&iface->addrs[0],
                             sizeof(iface->addrs[0])),
                     0);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 20000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Read n bytes while progressing the transports; 0 on EOF/reset. */
static int raw_read(int fd, void *buf, size_t n, double secs)
{
    size_t got = 0;
    double end = now_s() + secs;
    while (got < n) {
        for (int r = 0; r < NRANKS; r++)
            rdmx_tcp_ops.progress(tps[r]);
        ssize_t k = recv(fd, (char *)buf + got, n - got, MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return 0;
        if (k > 0)
            got += (size_t)k;
        else if (now_s() > end)
            fail_msg("timed out reading from rank's socket");
        else
            usleep(1000);
    }
    return 1;
}

/* 1 when the transport has closed the raw socket. */
static int raw_closed(int fd, double secs)
{
    double end = now_s() + secs;
    while (now_s() < end) {
        for (int r = 0; r < NRANKS; r++)
            rdmx_tcp_ops.progress(tps[r]);
        char c;
        ssize_t k = recv(fd, &c, 1, MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return 1;
        usleep(1000);
    }
    return 0;
}

static void raw_send_hs(int fd, const rdmx_tcp_hs_t *m)
{
    uint8_t buf[RDMX_TCP_HS_LEN];
    rdmx_tcp_hs_pack(m, buf);
    assert_int_equal(send(fd, buf, sizeof(buf), MSG_NOSIGNAL), sizeof(buf));
}

/* Act as connector `claim` towards rank `target` with `secret`. Returns the
 * fd after sending RESPONSE, with the acceptor's VERDICT read into *v if
 * the acceptor answered (returns -1 if it closed instead). */
static int raw_handshake(int target, int claim, const uint8_t *secret,
                         rdmx_tcp_hs_t *v)
{
    int fd = raw_connect(target);
    uint8_t nc[RDMX_AUTH_NONCE_LEN], buf[RDMX_TCP_HS_LEN];
    memset(nc, 0x11, sizeof(nc));
    rdmx_tcp_hs_t m = {.type = RDMX_TCP_HS_HELLO, .src = claim, .dst = target};
    memcpy(m.nonce, nc, sizeof(nc));
    raw_send_hs(fd, &m);
    if (!raw_read(fd, buf, sizeof(buf), 10)) {
        close(fd);
        return -1;
    }
    rdmx_tcp_hs_t ch;
    assert_int_equal(rdmx_tcp_hs_unpack(buf, sizeof(buf), &ch, NULL), RDMX_OK);
    assert_int_equal(ch.type, RDMX_TCP_HS_CHALLENGE);
    rdmx_tcp_hs_t resp = {
        .type = RDMX_TCP_HS_RESPONSE, .src = claim, .dst = target};
    rdmx_tcp_hs_mac(secret, RDMX_SECRET_LEN, resp.type, 0, claim, target, nc,
                    ch.nonce, resp.mac);
    raw_send_hs(fd, &resp);
    if (!raw_read(fd, buf, sizeof(buf), 10)) {
        close(fd);
        return -1;
    }
    assert_int_equal(rdmx_tcp_hs_unpack(buf, sizeof(buf), v, NULL), RDMX_OK);
    return fd;
}

/* After every attack the transports still carry traffic between ranks. */
static void check_still_works(void)
{
    pending_send_t ps;
    int before = rec.nmsgs[1];
    rdmx_ep_t *ep = ep_of(0, 1);
    assert_true(send_msg(ep, RDMX_MSG_EAGER, 77, 1000, 77, &ps) >= 0);
    int want[NRANKS] = {0, before + 1};
    pump(have_msgs, want, 20, "traffic after an attack");
    check_msg(&rec.msgs[1][before], 0, RDMX_MSG_EAGER, 77, 1000, 77);
    free(ps.buf);
}

static void test_hostile_clients(void **state)
{
    uint8_t wrong[RDMX_SECRET_LEN];
    rdmx_tcp_hs_t v;
    open_all();

    /* Garbage instead of a HELLO. */
    int fd = raw_connect(1);
    assert_int_equal(send(fd,
                          "GET / HTTP/1.0\r\n\r\n"
                          "0123456789012345678901"
                          "234567890123456789012345",
                          65, MSG_NOSIGNAL),
                     65);
    assert_true(raw_closed(fd, 10));
    close(fd);

    /* A HELLO claiming a rank outside the job, and one claiming to be the
     * acceptor itself. */
    int32_t claims[] = {NRANKS, -1, 1000000, 1};
    for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
        fd = raw_connect(1);
        rdmx_tcp_hs_t m = {
            .type = RDMX_TCP_HS_HELLO, .src = claims[i], .dst = 1};
        raw_send_hs(fd, &m);
        assert_true(raw_closed(fd, 10));
        close(fd);
    }

    /* Wrong secret: answered with a CHALLENGE, then dropped at RESPONSE. */
    memset(wrong, 0x5b, sizeof(wrong));
    fd = raw_handshake(1, 0, wrong, &v);
    assert_int_equal(fd, -1);

    /* A truncated HELLO, then silence: the transport keeps serving others
     * while it waits (and drops it at the handshake timeout). */
    fd = raw_connect(1);
    assert_int_equal(send(fd, "RDXT", 4, MSG_NOSIGNAL), 4);
    check_still_works();
    close(fd);

    /* A huge length and a bad type in a header after a valid handshake
     * by someone with the secret: the connection is dropped and the claimed
     * peer reported, nothing crashes. Rank 1 already has rank 0's
     * connection, so the impostor is refused a second one. */
    fd = raw_handshake(1, 0, rts[1].secret, &v);
    assert_true(fd >= 0);
    assert_int_equal(v.flags & RDMX_TCP_HS_FLAG_USE, 0);
    close(fd);

    assert_int_equal(rec.failures[0][1] + rec.failures[1][0], 0);
    check_still_works();
    close_all();
}

/* A peer with the secret that sends a malformed header: dropped, reported
 * once as a protocol failure of that rank. */
static void test_bad_header_after_handshake(void **state)
{
    static const rdmx_wire_hdr_t bad[] = {
        {.type = 0, .len = 0},
        {.type = RDMX_MSG_TYPE_MAX + 1},
        {.type = RDMX_MSG_EAGER, .len = (uint64_t)1 << 40},
        {.type = RDMX_MSG_EAGER, .len = 65537},
        {.type = RDMX_MSG_EAGER, .len = 10, .tag = 99}, /* core rejects */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rdmx_tcp_hs_t v;
        open_all();
        rec.reject_tag = 99;
        /* Rank 0 is played by the test: rank 1 has no connection yet. */
        int fd = raw_handshake(1, 0, rts[1].secret, &v);
        assert_true(fd >= 0);
        assert_int_equal(v.type, RDMX_TCP_HS_VERDICT);
        assert_int_equal(v.flags & RDMX_TCP_HS_FLAG_USE, RDMX_TCP_HS_FLAG_USE);
        uint8_t pad[64] = {0};
        assert_int_equal(send(fd, &bad[i], sizeof(bad[i]), MSG_NOSIGNAL), 32);
        send(fd, pad, sizeof(pad), MSG_NOSIGNAL);
        assert_true(raw_closed(fd, 10));
        close(fd);
        assert_int_equal(rec.failures[1][0], 1);
        assert_int_equal(rec.fail_why[1][0], RDMX_ERR_PROTO);
        /* Sends to the failed peer now fail fast, no hang, no crash. */
        rdmx_ep_t *ep = NULL;
        rdmx_status_t st = rdmx_tcp_ops.ep_create(tps[1], 0, &ep);
        if (st == RDMX_OK) {
            rdmx_wire_hdr_t h = {.type = RDMX_MSG_EAGER};
            assert_int_equal(rdmx_tcp_ops.send(ep, &h, NULL, 0, NULL),
                             RDMX_ERR_PEER_GONE);
        }
        close_all();
    }
}

/* A connection lost without BYE is a failure of that peer, reported once;
 * queued sends complete with an error. */
static void test_peer_failure(void **state)
{
    pending_send_t ps[2];
    open_all();
    rdmx_ep_t *ep = ep_of(0, 1);
    assert_true(send_msg(ep, RDMX_MSG_EAGER, 1, 100, 1, &ps[0]) >= 0);
    int want[NRANKS] = {0, 1};
    pump(have_msgs, want, 20, "first message");
    /* Kill rank 1's end without an orderly close. */
    rdmx_tcp_iface_t *i1 = (rdmx_tcp_iface_t *)tps[1];
    assert_non_null(i1->eps[0]->conn);
    shutdown(i1->eps[0]->conn->fd, SHUT_RDWR);
    double end = now_s() + 10;
    while (rec.failures[0][1] == 0 && now_s() < end) {
        rdmx_tcp_ops.progress(tps[0]);
        rdmx_tcp_ops.progress(tps[1]);
        usleep(1000);
    }
    for (int k = 0; k < 50; k++) {
        rdmx_tcp_ops.progress(tps[0]);
        rdmx_tcp_ops.progress(tps[1]);
    }
    assert_int_equal(rec.failures[0][1], 1);
    assert_int_equal(rec.fail_why[0][1], RDMX_ERR_PEER_GONE);
    assert_int_equal(rec.failures[1][0], 1);
    rdmx_status_t st = send_msg(ep, RDMX_MSG_EAGER, 2, 100, 2, &ps[1]);
    assert_int_equal(st, RDMX_ERR_PEER_GONE);
    assert_int_equal(rec.failures[0][1], 1);
    free(ps[0].buf);
    free(ps[1].buf);
    close_all();
}

/* An orderly close of one side (BYE, then EOF) is not a failure. */
static void test_orderly_close(void **state)
{
    pending_send_t ps;
    open_all();
    rdmx_ep_t *ep = ep_of(0, 1);
    assert_true(send_msg(ep, RDMX_MSG_EAGER, 1, 100, 1, &ps) >= 0);
    int want[NRANKS] = {0, 1};
    pump(have_msgs, want, 20, "message");
    free(ps.buf);
    /* Close rank 0 with a short timeout while rank 1 is idle: rank 0 waits
     * at most the timeout for rank 1's EOF. */
    setenv("RDMX_TCP_CLOSE_TIMEOUT", "1", 1);
    double t0 = now_s();
    rdmx_tcp_ops.close(tps[0]);
    tps[0] = NULL;
    assert_true(now_s() - t0 < 5);
    unsetenv("RDMX_TCP_CLOSE_TIMEOUT");
    for (int k = 0; k < 200; k++) {
        rdmx_tcp_ops.progress(tps[1]);
        usleep(500);
    }
    assert_int_equal(rec.failures[1][0], 0);
    close_all();
}

/* Handshake deadlines: an accepted client that stalls mid-HELLO is dropped,
 * and a dialled address that accepts TCP but never answers fails the peer
 * with a timeout instead of hanging. */
static void test_handshake_timeouts(void **state)
{
    setenv("RDMX_TCP_CONNECT_TIMEOUT", "1", 1);
    open_all();
    unsetenv("RDMX_TCP_CONNECT_TIMEOUT");

    int fd = raw_connect(1);
    assert_int_equal(send(fd, "RDXT", 4, MSG_NOSIGNAL), 4);
    double t0 = now_s();
    assert_true(raw_closed(fd, 10));
    assert_true(now_s() - t0 > 0.5);
    close(fd);

    /* A listener that never accepts: the kernel completes the connect, the
     * HELLO is sent, no CHALLENGE ever comes. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof(sa);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
    rdmx_tcp_iface_t *i0 = (rdmx_tcp_iface_t *)tps[0];
    i0->eps[1]->addrs[0] = sa;
    i0->eps[1]->naddrs = 1;
    pending_send_t ps;
    rdmx_ep_t *ep = ep_of(0, 1);
    assert_int_equal(send_msg(ep, RDMX_MSG_EAGER, 1, 1000, 1, &ps),
                     RDMX_INPROGRESS);
    double end = now_s() + 10;
    while (!rec.failures[0][1] && now_s() < end) {
        rdmx_tcp_ops.progress(tps[0]);
        usleep(2000);
    }
    assert_int_equal(rec.failures[0][1], 1);
    assert_int_equal(rec.fail_why[0][1], RDMX_ERR_TIMEOUT);
    /* The queued send completed with an error, not silently. */
    assert_int_equal(ps.comp.called, 1);
    assert_int_equal(ps.comp.status, RDMX_ERR_PEER_GONE);
    free(ps.buf);
    close(lfd);
    close_all();
}

/* Which address a rank listens on and publishes. */
static void test_address_selection(void **state)
{
    struct sockaddr_in a[RDMX_TCP_MAX_ADDRS];

    setenv("RDMX_TCP_ADDR", "127.0.0.2", 1);
    open_all();
    unsetenv("RDMX_TCP_ADDR");
    assert_memory_equal(rec.modex[0], "127.0.0.2:", 10);
    check_still_works();
    close_all();

    setenv("RDMX_TCP_IF", "lo", 1);
    open_all();
    unsetenv("RDMX_TCP_IF");
    assert_memory_equal(rec.modex[1], "127.0.0.1:", 10);
    check_still_works();
    close_all();

    /* Bad settings fail open() with a clear status, nothing leaks. */
    rdmx_runtime_t rt = {.rank = 0, .size = 2, .local_size = 2};
    rdmx_transport_t *tp = NULL;
    setenv("RDMX_TCP_IF", "nosuch0,nosuch1", 1);
    assert_int_equal(rdmx_tcp_ops.open(&rt, &tp), RDMX_ERR_NO_DEVICE);
    unsetenv("RDMX_TCP_IF");
    setenv("RDMX_TCP_ADDR", "no-such-host.invalid", 1);
    assert_int_equal(rdmx_tcp_ops.open(&rt, &tp), RDMX_ERR_INVALID);
    unsetenv("RDMX_TCP_ADDR");
    rt.rank = 2;
    assert_int_equal(rdmx_tcp_ops.open(&rt, &tp), RDMX_ERR_INVALID);

    /* Ranks on several hosts: every up, non-loopback IPv4 address (or
     * loopback as a last resort) is published, in a parseable list. */
    memset(&rec, 0, sizeof(rec));
    rt.rank = 0;
    rt.local_size = 1;
    snprintf(rt.hostname, sizeof(rt.hostname), "localhost");
    assert_int_equal(rdmx_tcp_ops.open(&rt, &tp), RDMX_OK);
    int n = rdmx_tcp_addrs_parse(rec.modex[0], rec.modex_len[0], a,
                                 RDMX_TCP_MAX_ADDRS);
    assert_true(n >= 1);
    setenv("RDMX_TCP_CLOSE_TIMEOUT", "0", 1);
    rdmx_tcp_ops.close(tp);
    unsetenv("RDMX_TCP_CLOSE_TIMEOUT");
}

int main(void)
{
    rdmx_log_init(); /* RDMX_LOG=debug shows the connection decisions */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_and_order),
        cmocka_unit_test(test_simultaneous_connect),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_self),
        cmocka_unit_test(test_hostile_clients),
        cmocka_unit_test(test_bad_header_after_handshake),
        cmocka_unit_test(test_peer_failure),
        cmocka_unit_test(test_orderly_close),
        cmocka_unit_test(test_handshake_timeouts),
        cmocka_unit_test(test_address_selection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
