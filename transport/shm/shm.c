/*
 * shm.c — the shared-memory transport between ranks of one host: ops table,
 * setup, eager send through the rings, progress and sleeping.
 *
 * Design (see shm_internal.h for the segment layout and shm_ring.h for the
 * ring protocol): every rank owns one inbound segment holding one SPSC ring
 * per local sender; a message is one ring record (wire header + payload),
 * delivered to the core in place. Sends that find the ring full are queued
 * per peer in order and flushed by progress(). Large messages use GET
 * (shm_get.c): cross-memory attach, or a copy pipeline through the rings.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/copy_small.h"
#include "core/log.h"
#include "core/runtime.h"
#include "shm_internal.h"
#include "shm_msg.h"

RDMX_CONFIG_VAR("RDMX_SHM_EAGER_LIMIT", "64k",
                "shm: largest message sent eagerly through the ring; larger "
                "ones are read by the receiver (GET)");
RDMX_CONFIG_VAR("RDMX_SHM_RING_CELLS", "4096",
                "shm: 64-byte cells per ring (one ring per ordered pair of "
                "local ranks; power of two, scaled down on big nodes)");
RDMX_CONFIG_VAR("RDMX_SHM_CMA", "1",
                "shm: 1 = single-copy GET with process_vm_readv, 0 = force "
                "the two-copy pipeline through shared memory");
RDMX_CONFIG_VAR("RDMX_SHM_RING_BUDGET", "8m",
                "shm: upper bound of one rank's inbound rings; "
                "RDMX_SHM_RING_CELLS is reduced on nodes with many ranks");

/* Records handled per ring per progress pass: one chatty peer must not
 * starve the others. */
#define RDMX_SHM_POLL_BUDGET 32
/* How long an out queue may stay blocked before we check the peer lives. */
#define RDMX_SHM_STUCK_NS 1000000000ull

extern const rdmx_transport_ops_t rdmx_shm_ops;

static uint64_t rdmx_shm_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static rdmx_status_t rdmx_shm_probe(char *why, size_t why_len)
{
    if (access("/dev/shm", W_OK) != 0) {
        snprintf(why, why_len, "/dev/shm is not writable (%s)",
                 strerror(errno));
        return RDMX_ERR_UNSUPPORTED;
    }
    return RDMX_OK;
}

static uint32_t rdmx_shm_pick_cells(int local_size)
{
    long want = rdmx_config_long("RDMX_SHM_RING_CELLS");
    size_t budget = rdmx_config_size("RDMX_SHM_RING_BUDGET");
    uint32_t cells = 4096;

    if (want >= 16 && want <= (1l << 24)) {
        cells = 16;
        while ((long)cells * 2 <= want)
            cells *= 2;
        if ((long)cells != want)
            RDMX_WARN("shm: RDMX_SHM_RING_CELLS=%ld is not a power of two, "
                      "using %u",
                      want, cells);
    } else {
        RDMX_WARN("shm: RDMX_SHM_RING_CELLS=%ld out of range [16, 2^24], "
                  "using %u",
                  want, cells);
    }
    /* Memory grows with the square of the ranks per node. */
    while (cells > 64 && local_size > 1 &&
           (size_t)cells * RDMX_SHM_CELL * (size_t)(local_size - 1) > budget)
        cells /= 2;
    return cells;
}

static rdmx_status_t rdmx_shm_open(rdmx_runtime_t *rt, rdmx_transport_t **out)
{
    rdmx_shm_transport_t *tp;
    rdmx_status_t st;
    size_t eager;

    tp = calloc(1, sizeof(*tp));
    if (!tp)
        return RDMX_ERR_NOMEM;
    tp->base.ops = &rdmx_shm_ops;
    tp->base.rt = rt;
    tp->wake_fd = -1;
    tp->local_size = rt->local_size;
    tp->local_rank = rt->local_rank;
    tp->cma_enabled = rdmx_config_bool("RDMX_SHM_CMA");
    tp->pid = getpid();
    tp->ring_cells = rdmx_shm_pick_cells(tp->local_size);
    tp->max_body = rdmx_shm_ring_max_body(tp->ring_cells * RDMX_SHM_CELL);

    eager = rdmx_config_size("RDMX_SHM_EAGER_LIMIT");
    if (eager > tp->max_body - sizeof(rdmx_wire_hdr_t)) {
        RDMX_INFO("shm: eager limit %zu capped to %zu by the ring size", eager,
                  tp->max_body - sizeof(rdmx_wire_hdr_t));
        eager = tp->max_body - sizeof(rdmx_wire_hdr_t);
    }
    tp->base.caps.flags = RDMX_TP_CAP_GET | RDMX_TP_CAP_WAIT_FD;
    tp->base.caps.eager_limit = eager;
    tp->base.caps.max_eager_payload = tp->max_body - sizeof(rdmx_wire_hdr_t);
    tp->base.caps.get_max_chunk = (size_t)1 << 30;
    tp->base.caps.priority = 80; /* above tcp and verbs, below self */

    if (tp->local_size > 1) {
        tp->cons = calloc((size_t)tp->local_size, sizeof(*tp->cons));
        tp->eps = calloc((size_t)tp->local_size, sizeof(*tp->eps));
        if (!tp->cons || !tp->eps) {
            st = RDMX_ERR_NOMEM;
            goto err_free;
        }
        tp->membarrier = rdmx_shm_fence_setup();
        rdmx_shm_coop_init(tp);
        rdmx_shm_get_init(tp);
        rdmx_shm_coll_area_init(tp);
        st = rdmx_shm_segment_create(tp);
        if (st != RDMX_OK)
            goto err_free;
        st = rdmx_shm_wake_open(tp);
        if (st != RDMX_OK)
            goto err_segment;
        if (tp->cma_enabled) {
            /* Under Yama ptrace_scope=1 only ancestors may read our memory;
             * let our siblings (the local peers) do it too. */
            if (prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0) != 0 &&
                errno != EINVAL)
                RDMX_DEBUG("shm: prctl(PR_SET_PTRACER) failed: %s",
                           strerror(errno));
        }
        st = rdmx_modex_put(rt, "shm", tp->seg_name, strlen(tp->seg_name));
        if (st != RDMX_OK)
            goto err_wake;
    }
    RDMX_DEBUG("shm: %d local ranks, %u cells per ring, eager limit %zu, "
               "GET by %s",
               tp->local_size, tp->ring_cells, eager,
               tp->cma_enabled ? "cma" : "copy");
    *out = &tp->base;
    return RDMX_OK;

err_wake:
    rdmx_shm_wake_close(tp);
err_segment:
    rdmx_shm_segment_destroy(tp);
err_free:
    rdmx_shm_coop_cleanup(tp);
    free(tp->eps);
    free(tp->cons);
    free(tp);
    return st;
}

static rdmx_status_t rdmx_shm_wireup(rdmx_transport_t *base)
{
    rdmx_shm_transport_t *tp = (rdmx_shm_transport_t *)base;
    rdmx_runtime_t *rt = base->rt;
    char name[RDMX_SHM_NAME_MAX], expect[RDMX_SHM_NAME_MAX];
    rdmx_status_t st;
    size_t len;

    for (int i = 0; i < tp->local_size; i++) {
        rdmx_ep_t *ep = &tp->eps[i];

        if (i == tp->local_rank)
            continue;
        ep->tp = tp;
        ep->peer = rt->local_peers[i];
        ep->local = i;
        ep->cma = tp->cma_enabled;
        /* The peer must run the shm transport too (same RDMX_TRANSPORTS):
         * its published segment name tells. */
        st = rdmx_modex_get(rt, ep->peer, "shm", name, sizeof(name) - 1, &len);
        if (st != RDMX_OK) {
            /* It could not open shm (or RDMX_TRANSPORTS differs): it has
             * no segment and polls no rings, so neither side uses shm
             * towards the other and another transport serves the pair. */
            RDMX_WARN("shm: local rank %d on %s has no shm segment; another "
                      "transport will serve it",
                      ep->peer, rt->hostname);
            continue;
        }
        name[len] = '\0';
        st =
            rdmx_shm_segment_name(rt->job_id, ep->peer, expect, sizeof(expect));
        if (st != RDMX_OK || strcmp(name, expect) != 0) {
            RDMX_ERROR("shm: rank %d published segment '%s', expected '%s'",
                       ep->peer, name, expect);
            return RDMX_ERR_PROTO;
        }
        st = rdmx_shm_segment_attach(tp, ep);
        if (st != RDMX_OK)
            return st;
        if (ep->cma)
            ep->cma = rdmx_shm_cma_check(ep);
        rdmx_shm_wake_addr(rt->job_id, ep->peer, &ep->wake_addr, &ep->wake_len);
    }
    tp->wired = 1;
    return RDMX_OK;
}

static int rdmx_shm_local_index(rdmx_shm_transport_t *tp, int peer)
{
    const int *lp = tp->base.rt->local_peers;
    int lo = 0, hi = tp->local_size - 1;

    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (lp[mid] == peer)
            return mid;
        if (lp[mid] < peer)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static int rdmx_shm_reachable(rdmx_transport_t *base, int peer)
{
    rdmx_shm_transport_t *tp = (rdmx_shm_transport_t *)base;
    int i;

    if (!tp->wired || peer == base->rt->rank ||
        !rdmx_rt_same_host(base->rt, peer))
        return 0;
    i = rdmx_shm_local_index(tp, peer);
    return i >= 0 && tp->eps[i].ctl != NULL;
}

static rdmx_status_t rdmx_shm_ep_create(rdmx_transport_t *base, int peer,
                                        rdmx_ep_t **ep)
{
    rdmx_shm_transport_t *tp = (rdmx_shm_transport_t *)base;
    int i = tp->wired ? rdmx_shm_local_index(tp, peer) : -1;

    if (i < 0 || i == tp->local_rank || !tp->eps[i].ctl) {
        RDMX_ERROR("shm: rank %d is not a local peer of rank %d on %s", peer,
                   base->rt->rank, base->rt->hostname);
        return RDMX_ERR_UNREACHABLE;
    }
    *ep = &tp->eps[i];
    return RDMX_OK;
}

void rdmx_shm_notify(rdmx_ep_t *ep)
{
    rdmx_shm_ctl_t *ctl = ep->ctl;

    /* Pairs with the heavy fence in rdmx_shm_arm: either the receiver sees
     * our record when it re-checks, or we see its flag. */
    rdmx_shm_fence_light(ep);
    if (atomic_load_explicit(&ctl->sleeping, memory_order_relaxed) &&
        atomic_exchange_explicit(&ctl->sleeping, 0, memory_order_relaxed))
        rdmx_shm_wake_peer(ep->tp, ep);
}

rdmx_status_t rdmx_shm_complete_later(rdmx_shm_transport_t *tp,
                                      rdmx_completion_t *comp,
                                      rdmx_status_t status)
{
    if (tp->ndone == tp->done_cap) {
        size_t cap = tp->done_cap ? tp->done_cap * 2 : 64;
        rdmx_shm_done_t *d = realloc(tp->done, cap * sizeof(*d));
        if (!d)
            return RDMX_ERR_NOMEM;
        tp->done = d;
        tp->done_cap = cap;
    }
    tp->done[tp->ndone].comp = comp;
    tp->done[tp->ndone].status = status;
    tp->ndone++;
    return RDMX_OK;
}

void rdmx_shm_out_append(rdmx_ep_t *ep, rdmx_shm_out_t *o)
{
    o->next = NULL;
    if (ep->out_tail) {
        ep->out_tail->next = o;
    } else {
        ep->out_head = o;
        ep->tp->nout_eps++;
    }
    ep->out_tail = o;
}

static void rdmx_shm_gather(unsigned char *dst, const struct iovec *iov,
                            int iovcnt)
{
    for (int i = 0; i < iovcnt; i++) {
        rdmx_copy_small(dst, iov[i].iov_base, iov[i].iov_len);
        dst += iov[i].iov_len;
    }
}

rdmx_status_t rdmx_shm_post_copy(rdmx_ep_t *ep, uint32_t kind, const void *a,
                                 size_t alen, const void *b, size_t blen)
{
    rdmx_shm_out_t *o;
    unsigned char *dst;

    if (!ep->out_head &&
        (dst = rdmx_shm_ring_reserve(&ep->prod, alen + blen)) != NULL) {
        memcpy(dst, a, alen);
        if (blen)
            memcpy(dst + alen, b, blen);
        rdmx_shm_ring_commit(&ep->prod, kind);
        rdmx_shm_notify(ep);
        return RDMX_OK;
    }
    o = calloc(1, sizeof(*o));
    if (!o || !(o->copy = malloc(alen + blen ? alen + blen : 1))) {
        free(o);
        return RDMX_ERR_NOMEM;
    }
    o->type = RDMX_SHM_OUT_COPY;
    o->kind = kind;
    o->body_len = alen + blen;
    memcpy(o->copy, a, alen);
    if (blen)
        memcpy(o->copy + alen, b, blen);
    rdmx_shm_out_append(ep, o);
    return RDMX_OK;
}

static rdmx_status_t rdmx_shm_send(rdmx_ep_t *ep, const rdmx_wire_hdr_t *hdr,
                                   const struct iovec *iov, int iovcnt,
                                   rdmx_completion_t *comp)
{
    rdmx_shm_transport_t *tp = ep->tp;
    size_t total = 0, body;
    unsigned char *dst;
    rdmx_shm_out_t *o;

    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total != hdr->len) {
        RDMX_ERROR("shm: send to rank %d: header says %llu bytes, iov holds "
                   "%zu",
                   ep->peer, (unsigned long long)hdr->len, total);
        return RDMX_ERR_INVALID;
    }
    if (ep->failed)
        return RDMX_ERR_PEER_GONE;
    body = sizeof(*hdr) + total;
    if (body > tp->max_body) {
        RDMX_ERROR("shm: send of %zu bytes (type %u) to rank %d exceeds the "
                   "ring record limit %zu",
                   total, hdr->type, ep->peer, tp->max_body - sizeof(*hdr));
        return RDMX_ERR_INVALID;
    }
    /* Fast path: nothing queued before us and room in the ring. A queued
     * message keeps the full header (the queue stores it whole). */
    if (!ep->out_head) {
        int is_short = rdmx_shm_msg_short_ok(hdr, total);
        size_t hlen = is_short ? sizeof(rdmx_shm_short_hdr_t) : sizeof(*hdr);

        if ((dst = rdmx_shm_ring_reserve(&ep->prod, hlen + total))) {
            if (is_short)
                rdmx_shm_msg_short_write(dst, hdr);
            else
                memcpy(dst, hdr, sizeof(*hdr));
            rdmx_shm_gather(dst + hlen, iov, iovcnt);
            rdmx_shm_ring_commit(&ep->prod, is_short ? RDMX_SHM_KIND_MSG_SHORT
                                                     : RDMX_SHM_KIND_MSG);
            rdmx_shm_notify(ep);
            return RDMX_OK;
        }
    }
    if (!comp) {
        /* Nobody to tell later: copy now. */
        o = calloc(1, sizeof(*o));
        if (!o || !(o->copy = malloc(body))) {
            free(o);
            return RDMX_ERR_NOMEM;
        }
        o->type = RDMX_SHM_OUT_COPY;
        o->kind = RDMX_SHM_KIND_MSG;
        o->body_len = body;
        memcpy(o->copy, hdr, sizeof(*hdr));
        rdmx_shm_gather(o->copy + sizeof(*hdr), iov, iovcnt);
        rdmx_shm_out_append(ep, o);
        return RDMX_OK;
    }
    o = calloc(1, sizeof(*o));
    if (!o ||
        !(o->iov = malloc(sizeof(*iov) * (size_t)(iovcnt ? iovcnt : 1)))) {
        free(o);
        return RDMX_ERR_NOMEM;
    }
    o->type = RDMX_SHM_OUT_MSG;
    o->body_len = body;
    o->hdr = *hdr;
    memcpy(o->iov, iov, sizeof(*iov) * (size_t)iovcnt);
    o->iovcnt = iovcnt;
    o->comp = comp;
    rdmx_shm_out_append(ep, o);
    return RDMX_INPROGRESS;
}

/* Size of the next record the head of the out queue needs. */
static size_t rdmx_shm_out_need(rdmx_shm_transport_t *tp, rdmx_shm_out_t *o)
{
    if (o->type == RDMX_SHM_OUT_SERVE) {
        uint64_t left = o->len - o->done;
        size_t room = tp->max_body - sizeof(rdmx_shm_get_data_t);
        /* Half-ring chunks keep two in flight: the owner fills one while
         * the reader drains the other. */
        if (room > tp->max_body / 2)
            room = tp->max_body / 2;
        return sizeof(rdmx_shm_get_data_t) + (left < room ? left : room);
    }
    return o->body_len;
}

/* Push queued records while the ring has room; returns records written. */
static int rdmx_shm_out_flush(rdmx_ep_t *ep)
{
    rdmx_shm_transport_t *tp = ep->tp;
    int n = 0;

    while (ep->out_head) {
        rdmx_shm_out_t *o = ep->out_head;
        size_t need = rdmx_shm_out_need(tp, o);
        unsigned char *dst = rdmx_shm_ring_reserve(&ep->prod, need);

        if (!dst)
            break;
        n++;
        switch (o->type) {
        case RDMX_SHM_OUT_MSG:
            memcpy(dst, &o->hdr, sizeof(o->hdr));
            rdmx_shm_gather(dst + sizeof(o->hdr), o->iov, o->iovcnt);
            rdmx_shm_ring_commit(&ep->prod, RDMX_SHM_KIND_MSG);
            break;
        case RDMX_SHM_OUT_COPY:
            memcpy(dst, o->copy, o->body_len);
            rdmx_shm_ring_commit(&ep->prod, o->kind);
            break;
        case RDMX_SHM_OUT_SERVE: {
            rdmx_shm_get_data_t d = {0};
            size_t chunk = need - sizeof(d);

            d.cookie = o->cookie;
            d.offset = o->done;
            d.status = RDMX_OK;
            memcpy(dst, &d, sizeof(d));
            memcpy(dst + sizeof(d), o->src + o->done, chunk);
            rdmx_shm_ring_commit(&ep->prod, RDMX_SHM_KIND_GET_DATA);
            o->done += chunk;
            if (o->done < o->len) {
                rdmx_shm_notify(ep);
                continue; /* same item, next chunk */
            }
            break;
        }
        }
        ep->out_head = o->next;
        if (!ep->out_head) {
            ep->out_tail = NULL;
            tp->nout_eps--;
        }
        if (o->type == RDMX_SHM_OUT_MSG)
            o->comp->cb(o->comp, RDMX_OK);
        free(o->iov);
        free(o->copy);
        free(o);
    }
    if (n)
        rdmx_shm_notify(ep);
    return n;
}

static void rdmx_shm_fail_peer(rdmx_shm_transport_t *tp, rdmx_ep_t *ep,
                               rdmx_status_t why, const char *detail)
{
    if (ep->failed)
        return;
    ep->failed = 1;
    /* Requests queued towards the peer fail; the core ends the job. */
    if (ep->out_head)
        tp->nout_eps--;
    while (ep->out_head) {
        rdmx_shm_out_t *o = ep->out_head;
        ep->out_head = o->next;
        if (o->type == RDMX_SHM_OUT_MSG)
            o->comp->cb(o->comp, RDMX_ERR_PEER_GONE);
        free(o->iov);
        free(o->copy);
        free(o);
    }
    ep->out_tail = NULL;
    rdmx_shm_get_fail_peer(tp, ep->local);
    rdmx_shm_coop_fail_peer(tp, ep->local);
    rdmx_proto_on_peer_failure(tp->base.rt, ep->peer, why, detail);
}

/* An out queue that cannot move for a long time: is the receiver alive? */
static void rdmx_shm_check_stuck(rdmx_shm_transport_t *tp, rdmx_ep_t *ep)
{
    uint64_t now = rdmx_shm_now_ns();

    if (!ep->stuck_since_ns) {
        ep->stuck_since_ns = now;
        return;
    }
    if (now - ep->stuck_since_ns < RDMX_SHM_STUCK_NS)
        return;
    ep->stuck_since_ns = now;
    if (kill(ep->pid, 0) != 0 && errno == ESRCH)
        rdmx_shm_fail_peer(tp, ep, RDMX_ERR_PEER_GONE,
                           "shm: the process of the peer rank has exited");
}

/* Hand a message whose payload sits in the ring to the core. */
static int rdmx_shm_deliver_msg(rdmx_shm_transport_t *tp, rdmx_ep_t *ep,
                                const rdmx_wire_hdr_t *hdr,
                                const unsigned char *payload)
{
    rdmx_runtime_t *rt = tp->base.rt;
    rdmx_recv_sink_t sink = {0};
    rdmx_status_t st;

    st = rdmx_proto_on_header(rt, ep->peer, hdr, payload, &sink);
    if (st == RDMX_ERR_PROTO) {
        rdmx_shm_fail_peer(tp, ep, RDMX_ERR_PROTO,
                           "shm: the core rejected a message header");
        return -1;
    }
    if (sink.buf || sink.discard) {
        /* The core asked for the payload to be placed: it is right here. */
        size_t n = sink.len <= hdr->len ? sink.len : hdr->len;
        if (sink.buf && n)
            memcpy(sink.buf, payload, n);
        rdmx_proto_on_payload_done(rt, ep->peer, &sink);
    }
    return 0;
}

/* A message record (full or short header): decode, then to the core. */
static int rdmx_shm_handle_msg(rdmx_shm_transport_t *tp, rdmx_ep_t *ep,
                               int is_short, const unsigned char *body,
                               size_t len)
{
    rdmx_wire_hdr_t hdr;
    const unsigned char *payload;
    const char *bad = rdmx_shm_msg_decode(is_short, body, len, &hdr, &payload);

    if (bad) {
        char why[128];
        snprintf(why, sizeof(why), "shm: %s", bad);
        rdmx_shm_fail_peer(tp, ep, RDMX_ERR_PROTO, why);
        return -1;
    }
    return rdmx_shm_deliver_msg(tp, ep, &hdr, payload);
}

/* Drain up to a budget of records from local rank i's ring. */
static int rdmx_shm_poll_ring(rdmx_shm_transport_t *tp, int i)
{
    rdmx_shm_ring_consumer_t *c = &tp->cons[i];
    rdmx_ep_t *ep = &tp->eps[i];
    unsigned long completions = rdmx_proto_completions;
    int n = 0;

    while (n < RDMX_SHM_POLL_BUDGET && !ep->failed) {
        uint32_t kind;
        size_t len;
        const unsigned char *body = rdmx_shm_ring_peek(c, &kind, &len);

        if (!body)
            break;
        if (body == RDMX_SHM_RING_CORRUPT) {
            rdmx_shm_fail_peer(tp, ep, RDMX_ERR_PROTO,
                               "shm: corrupt ring record (length out of "
                               "range)");
            break;
        }
        switch (kind) {
        case RDMX_SHM_KIND_MSG:
        case RDMX_SHM_KIND_MSG_SHORT:
            rdmx_shm_handle_msg(tp, ep, kind == RDMX_SHM_KIND_MSG_SHORT, body,
                                len);
            break;
        case RDMX_SHM_KIND_GET_REQ:
            rdmx_shm_get_on_request(tp, ep, body, len);
            break;
        case RDMX_SHM_KIND_GET_DATA:
            rdmx_shm_get_on_data(tp, ep, body, len);
            break;
        case RDMX_SHM_KIND_COOP:
            rdmx_shm_coop_on_request(tp, ep, body, len);
            break;
        default:
            rdmx_shm_fail_peer(tp, ep, RDMX_ERR_PROTO,
                               "shm: unknown ring record kind");
            break;
        }
        if (ep->failed)
            break;
        rdmx_shm_ring_consume(c);
        n++;
        if (rdmx_proto_completions != completions)
            break; /* let the waiter see it first (see proto.h) */
    }
    if (rdmx_shm_ring_publish(c, ep->light))
        rdmx_shm_wake_peer(tp, ep); /* it waits for room */
    return n;
}

/* The pass of a rank waiting for a message: one tag load per peer and
 * nothing else to do. The full pass took about 130 instructions with two
 * ranks, and a record that lands during a pass waits for the next one, so
 * the length of an empty pass is part of the latency. */
static inline int rdmx_shm_nothing_to_do(const rdmx_shm_transport_t *tp)
{
    if (tp->armed || tp->ndone || tp->ncoop_waiting || tp->nout_eps)
        return 0;
    for (int i = 0; i < tp->local_size; i++)
        if (i != tp->local_rank && rdmx_shm_ring_ready(&tp->cons[i]))
            return 0;
    return 1;
}

static int rdmx_shm_progress(rdmx_transport_t *base)
{
    rdmx_shm_transport_t *tp = (rdmx_shm_transport_t *)base;
    int n = 0;

    if (!tp->wired || !tp->ctl || tp->in_progress)
        return 0;
    if (rdmx_shm_nothing_to_do(tp))
        return 0;
    tp->in_progress = 1;
    if (tp->armed) {
        tp->armed = 0;
        atomic_store_explicit(&tp->ctl->sleeping, 0, memory_order_relaxed);
        rdmx_shm_wake_drain(tp);
    }
    if (tp->ndone) {
        /* Callbacks may start new GETs that queue completions: take the
         * current batch first. */
        size_t nd = tp->ndone;
        rdmx_shm_done_t batch[64];
        if (nd > 64)
            nd = 64;
        memcpy(batch, tp->done, nd * sizeof(batch[0]));
        memmove(tp->done, tp->done + nd, (tp->ndone - nd) * sizeof(batch[0]));
        tp->ndone -= nd;
        for (size_t k = 0; k < nd; k++)
            batch[k].comp->cb(batch[k].comp, batch[k].status);
        n += (int)nd;
    }
    for (int i = 0; i < tp->local_size; i++) {
        if (i == tp->local_rank || tp->eps[i].failed)
            continue;
        n += rdmx_shm_poll_ring(tp, i);
    }
    if (tp->ncoop_waiting)
        n += rdmx_shm_coop_progress(tp);
    for (int i = 0; tp->nout_eps && i < tp->local_size; i++) {
        rdmx_ep_t *ep = &tp->eps[i];
        int moved;

        if (!ep->out_head || ep->failed)
            continue;
        moved = rdmx_shm_out_flush(ep);
        n += moved;
        if (moved)
            ep->stuck_since_ns = 0;
        else if (ep->out_head)
            rdmx_shm_check_stuck(tp, ep);
    }
    tp->in_progress = 0;
    return n;
}

static int rdmx_shm_wait_fd(rdmx_transport_t *base)
{
    return ((rdmx_shm_transport_t *)base)->wake_fd;
}

/* About to sleep with records queued towards ep: ask the peer for a
 * wake-up when it frees ring space. 1 if space appeared meanwhile. */
static int request_space(rdmx_shm_transport_t *tp, rdmx_ep_t *ep)
{
    rdmx_shm_ring_producer_t *p = &ep->prod;
    size_t need = rdmx_shm_out_need(tp, ep->out_head);

    rdmx_shm_ring_request_space(p);
    /* Pairs with the consumer's publish (a light fence when ep->light). */
    rdmx_shm_fence_heavy(tp);
    return rdmx_shm_ring_recheck_space(p, need);
}

static rdmx_status_t rdmx_shm_arm(rdmx_transport_t *base)
{
    rdmx_shm_transport_t *tp = (rdmx_shm_transport_t *)base;

    if (!tp->wired || !tp->ctl)
        return RDMX_OK; /* alone on the node: nothing will ever arrive */
    tp->armed = 1;
    atomic_store_explicit(&tp->ctl->sleeping, 1, memory_order_relaxed);
    /* Pairs with rdmx_shm_notify: see the comment there. */
    rdmx_shm_fence_heavy(tp);
    if (tp->ndone)
        goto pending;
    if (rdmx_shm_coop_any_done(tp))
        goto pending;
    for (int i = 0; i < tp->local_size; i++) {
        rdmx_ep_t *ep = &tp->eps[i];

        if (i == tp->local_rank || ep->failed)
            continue;
        if (rdmx_shm_ring_ready(&tp->cons[i]))
            goto pending;
        if (ep->out_head && request_space(tp, ep))
            goto pending;
    }
    return RDMX_OK;

pending:
    atomic_store_explicit(&tp->ctl->sleeping, 0, memory_order_relaxed);
    return RDMX_ERR_AGAIN;
}

/* MPI_Finalize calls this until it returns RDMX_OK, driving progress()
 * in between: records queued behind a full ring (a FIN, an eager copy the
 * core already counts as sent) must reach the peer first. */
static rdmx_status_t rdmx_shm_flush(rdmx_transport_t *base)
{
    rdmx_shm_transport_t *tp = (rdmx_shm_transport_t *)base;
    int pending = 0;

    if (!tp->wired || !tp->ctl)
        return RDMX_OK;
    for (int i = 0; i < tp->local_size; i++) {
        rdmx_ep_t *ep = &tp->eps[i];

        if (!ep->out_head || ep->failed)
            continue;
        rdmx_shm_out_flush(ep);
        pending += ep->out_head != NULL;
    }
    return pending ? RDMX_ERR_AGAIN : RDMX_OK;
}

static void rdmx_shm_close(rdmx_transport_t *base)
{
    rdmx_shm_transport_t *tp = (rdmx_shm_transport_t *)base;

    for (int i = 0; tp->eps && i < tp->local_size; i++) {
        rdmx_ep_t *ep = &tp->eps[i];
        int dropped = 0;

        while (ep->out_head) {
            rdmx_shm_out_t *o = ep->out_head;
            ep->out_head = o->next;
            free(o->iov);
            free(o->copy);
            free(o);
            dropped++;
        }
        if (dropped)
            RDMX_DEBUG("shm: dropped %d queued records to rank %d at close",
                       dropped, ep->peer);
    }
    rdmx_shm_get_cleanup(tp);
    rdmx_shm_coop_cleanup(tp);
    rdmx_shm_wake_close(tp);
    rdmx_shm_segment_destroy(tp);
    free(tp->done);
    free(tp->eps);
    free(tp->cons);
    free(tp);
}

static void rdmx_shm_describe_ep(rdmx_ep_t *ep, char *buf, size_t len)
{
    snprintf(buf, len, "shm (%s)", ep->cma ? "cma" : "copy");
}

const rdmx_transport_ops_t rdmx_shm_ops = {
    .size = sizeof(rdmx_transport_ops_t),
    .name = "shm",
    .probe = rdmx_shm_probe,
    .open = rdmx_shm_open,
    .wireup = rdmx_shm_wireup,
    .reachable = rdmx_shm_reachable,
    .ep_create = rdmx_shm_ep_create,
    .send = rdmx_shm_send,
    .mem_reg = rdmx_shm_mem_reg,
    .mem_dereg = rdmx_shm_mem_dereg,
    .mem_reg_shared = rdmx_shm_mem_reg_shared,
    .coll_area = rdmx_shm_coll_area,
    .get = rdmx_shm_get,
    .put = NULL,
    .progress = rdmx_shm_progress,
    .wait_fd = rdmx_shm_wait_fd,
    .arm = rdmx_shm_arm,
    .flush = rdmx_shm_flush,
    .close = rdmx_shm_close,
    .describe_ep = rdmx_shm_describe_ep,
};
