/*
 * verbs_iface.c — the verbs transport's ops table: probe, open (device,
 * PD, CQ + completion channel, SRQ, send slots, UD connection manager,
 * modex address), memory registration through the cache, close.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "verbs.h"
#include "verbs_gid.h"
#include "verbs_memhook.h"

RDMX_CONFIG_VAR("RDMX_VERBS_EAGER_LIMIT", "8k",
                "verbs: largest message sent eagerly through bounce buffers "
                "(larger: rendezvous by RDMA READ)");
RDMX_CONFIG_VAR("RDMX_VERBS_CREDITS", "32",
                "verbs: eager messages a peer may have in flight towards us "
                "(receive buffers posted per connection)");
RDMX_CONFIG_VAR("RDMX_VERBS_SRQ_MAX", "8192",
                "verbs: most eager receive buffers on the shared receive "
                "queue");
RDMX_CONFIG_VAR("RDMX_VERBS_SEND_SLOTS", "256",
                "verbs: registered send bounce buffers");
RDMX_CONFIG_VAR("RDMX_VERBS_SQ_DEPTH", "128",
                "verbs: send queue depth of each RC QP");
RDMX_CONFIG_VAR("RDMX_VERBS_SIGNAL_EVERY", "16",
                "verbs: request a completion for every n-th send");
RDMX_CONFIG_VAR("RDMX_VERBS_MAX_INLINE", "128",
                "verbs: largest frame sent inline (capped by the device)");
RDMX_CONFIG_VAR("RDMX_VERBS_RDMA_CHUNK", "1m",
                "verbs: bytes per RDMA READ/WRITE work request of a "
                "rendezvous; a message's chunks are posted together (up to "
                "16 READs in flight per peer)");
RDMX_CONFIG_VAR("RDMX_VERBS_TIMEOUT", "18",
                "verbs: RC local ACK timeout exponent, a try lasts 4.096 us "
                "* 2^n (18: 1.07 s, ~UCX's 1 s). It only fires when no ACK "
                "comes (lost tail, late ACK, dead peer): shorter values "
                "(perftest: 14) resend whole windows when ACKs are merely "
                "late; see docs/VERBS.md");
RDMX_CONFIG_VAR("RDMX_VERBS_RETRY_COUNT", "7",
                "verbs: RC transport retries before a peer is declared lost "
                "(with timeout 18: after ~8.6 s of silence)");
RDMX_CONFIG_VAR("RDMX_VERBS_RNR_RETRY", "7",
                "verbs: RC receiver-not-ready retries (7 = infinite)");
RDMX_CONFIG_VAR("RDMX_VERBS_MTU", "0",
                "verbs: path MTU in bytes (256..4096; 0 = the ports' "
                "active MTU)");
RDMX_CONFIG_VAR("RDMX_VERBS_CONN_TIMEOUT", "30",
                "verbs: seconds to wait for a peer to answer a connection "
                "request");
RDMX_CONFIG_VAR("RDMX_VERBS_CONN_RETRY_MS", "200",
                "verbs: milliseconds between re-sent connection requests "
                "(they travel over unreliable datagrams)");

RDMX_CONFIG_VAR("RDMX_IB_REGCACHE", "1",
                "verbs: keep memory registrations after use (needs libc's "
                "unmap functions patched to learn about freed memory; 0 = "
                "register per message, no patching)");
RDMX_CONFIG_VAR("RDMX_IB_REGCACHE_MAX_ENTRIES", "1024",
                "verbs: most unused registrations kept by the cache");
RDMX_CONFIG_VAR("RDMX_IB_REGCACHE_MAX_BYTES", "4g",
                "verbs: most bytes kept registered (pinned) by the cache "
                "beyond those in use (0 = no bound)");

const rdmx_transport_ops_t rdmx_verbs_ops;

static rdmx_status_t verbs_probe(char *why, size_t why_len)
{
    rdmx_verbs_port_t p;
    rdmx_status_t st = rdmx_verbs_device_find(&p, NULL);
    if (st != RDMX_OK)
        snprintf(why, why_len, "%s", p.why);
    return st;
}

static long cfg_long(const char *name, long lo, long hi)
{
    long v = rdmx_config_long(name);
    if (v < lo || v > hi) {
        long d = v < lo ? lo : hi;
        RDMX_WARN("%s=%ld is out of range [%ld, %ld]; using %ld", name, v, lo,
                  hi, d);
        return d;
    }
    return v;
}

static void memlock_hint(size_t len, const char *what)
{
    struct rlimit rl;
    char lim[64] = "unknown";
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
        if (rl.rlim_cur == RLIM_INFINITY)
            snprintf(lim, sizeof(lim), "unlimited");
        else
            snprintf(lim, sizeof(lim), "%llu KiB",
                     (unsigned long long)rl.rlim_cur / 1024);
    }
    RDMX_ERROR("verbs: cannot register %zu bytes (%s): out of locked memory "
               "(ulimit -l is %s). RDMA needs pinned memory: run "
               "`ulimit -l unlimited` before mpirun, or set "
               "'* - memlock unlimited' in /etc/security/limits.conf "
               "(LimitMEMLOCK=infinity for systemd/Slurm daemons)",
               len, what, lim);
}

/* The registration cache's callbacks. */
static rdmx_status_t regcache_reg(void *ctx, void *addr, size_t len,
                                  void **handle)
{
    rdmx_verbs_iface_t *vi = ctx;
    struct ibv_mr *mr =
        ibv_reg_mr(vi->pd, addr, len,
                   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
                       IBV_ACCESS_REMOTE_WRITE);
    if (!mr) {
        int e = errno;
        if (e == ENOMEM || e == EAGAIN) {
            static int told;
            if (!told++)
                memlock_hint(len, "a message buffer");
            return RDMX_ERR_NOMEM;
        }
        RDMX_ERROR("verbs: ibv_reg_mr(%p, %zu) on %s: %s", addr, len,
                   vi->port.dev_name, strerror(e));
        return RDMX_ERR_IO;
    }
    *handle = mr;
    return RDMX_OK;
}

static void regcache_dereg(void *ctx, void *handle)
{
    int rc = ibv_dereg_mr(handle);
    if (rc)
        RDMX_WARN("verbs: ibv_dereg_mr: %s", strerror(rc));
}

static struct ibv_mr *reg_internal(rdmx_verbs_iface_t *vi, void *mem,
                                   size_t len, const char *what)
{
    struct ibv_mr *mr = ibv_reg_mr(vi->pd, mem, len, IBV_ACCESS_LOCAL_WRITE);
    if (!mr) {
        if (errno == ENOMEM || errno == EAGAIN)
            memlock_hint(len, what);
        else
            RDMX_ERROR("verbs: ibv_reg_mr of %zu bytes (%s): %s", len, what,
                       strerror(errno));
    }
    return mr;
}

/* The memory hook's callback: queue the range for the cache. */
static void regcache_unmapped(void *arg, uintptr_t start, uintptr_t end)
{
    rdmx_verbs_regcache_unmapped(arg, start, end);
}

/* Keeps registrations across messages when unmaps can be seen; otherwise
 * stays in register-per-use mode (correct, slower), and says why. */
static void regcache_enable(rdmx_verbs_iface_t *vi)
{
    char why[160] = "";
    if (!rdmx_config_bool("RDMX_IB_REGCACHE")) {
        RDMX_DEBUG("verbs: registration cache off (RDMX_IB_REGCACHE=0)");
        return;
    }
    size_t max_entries = rdmx_config_size("RDMX_IB_REGCACHE_MAX_ENTRIES");
    if (max_entries == 0)
        return;
    if (rdmx_verbs_memhook_install(why, sizeof(why)) != RDMX_OK) {
        RDMX_INFO("verbs: registration cache off: %s (memory is registered "
                  "per message)",
                  why);
        return;
    }
    rdmx_verbs_regcache_set_limits(
        &vi->regcache, max_entries,
        rdmx_config_size("RDMX_IB_REGCACHE_MAX_BYTES"));
    rdmx_verbs_memhook_set(regcache_unmapped, &vi->regcache);
    vi->regcache_hooked = 1;
}

static void verbs_close(rdmx_transport_t *tp);

static rdmx_status_t verbs_open(rdmx_runtime_t *rt, rdmx_transport_t **out)
{
    rdmx_status_t st = RDMX_ERR_NO_DEVICE;
    rdmx_verbs_iface_t *vi = calloc(1, sizeof(*vi));
    if (!vi)
        return RDMX_ERR_NOMEM;
    vi->super.ops = &rdmx_verbs_ops;
    vi->super.rt = rt;
    vi->rt = rt;

    if (rdmx_verbs_device_find(&vi->port, &vi->ctx) != RDMX_OK) {
        RDMX_ERROR("verbs: %s", vi->port.why);
        goto fail;
    }
    if (ibv_query_device(vi->ctx, &vi->dev_attr) != 0) {
        RDMX_ERROR("verbs: ibv_query_device(%s): %s", vi->port.dev_name,
                   strerror(errno));
        goto fail;
    }

    /* Configuration. */
    vi->eager_limit = rdmx_config_size("RDMX_VERBS_EAGER_LIMIT");
    if (vi->eager_limit < 256 || vi->eager_limit > (1u << 20)) {
        RDMX_WARN("RDMX_VERBS_EAGER_LIMIT=%zu outside [256, 1m]; using 8k",
                  vi->eager_limit);
        vi->eager_limit = 8192;
    }
    vi->credits = (uint32_t)cfg_long("RDMX_VERBS_CREDITS", 2, 4096);
    vi->rslots_max = (int)cfg_long("RDMX_VERBS_SRQ_MAX", 64, 1 << 20);
    if (vi->rslots_max > vi->dev_attr.max_srq_wr)
        vi->rslots_max = vi->dev_attr.max_srq_wr;
    vi->sslots = (int)cfg_long("RDMX_VERBS_SEND_SLOTS", 16, 1 << 16);
    vi->sq_depth =
        (unsigned)cfg_long("RDMX_VERBS_SQ_DEPTH", 8, vi->dev_attr.max_qp_wr);
    vi->signal_every =
        (unsigned)cfg_long("RDMX_VERBS_SIGNAL_EVERY", 1, vi->sq_depth / 2);
    vi->max_inline = (uint32_t)cfg_long("RDMX_VERBS_MAX_INLINE", 0, 4096);
    vi->rdma_chunk = rdmx_config_size("RDMX_VERBS_RDMA_CHUNK");
    if (vi->rdma_chunk < 4096 || vi->rdma_chunk > (1u << 30))
        vi->rdma_chunk = 1u << 20;
    vi->timeout = (uint8_t)cfg_long("RDMX_VERBS_TIMEOUT", 1, 31);
    vi->retry_cnt = (uint8_t)cfg_long("RDMX_VERBS_RETRY_COUNT", 0, 7);
    vi->rnr_retry = (uint8_t)cfg_long("RDMX_VERBS_RNR_RETRY", 0, 7);
    vi->min_rnr_timer = 12;
    long mtu = rdmx_config_long("RDMX_VERBS_MTU");
    vi->mtu = mtu >= 4096   ? IBV_MTU_4096
              : mtu >= 2048 ? IBV_MTU_2048
              : mtu >= 1024 ? IBV_MTU_1024
              : mtu >= 512  ? IBV_MTU_512
              : mtu >= 256  ? IBV_MTU_256
                            : 0;
    vi->rd_atomic =
        (uint8_t)(vi->dev_attr.max_qp_rd_atom < 16 ? vi->dev_attr.max_qp_rd_atom
                                                   : 16);
    vi->dest_rd_atomic = (uint8_t)(vi->dev_attr.max_qp_init_rd_atom < 16
                                       ? vi->dev_attr.max_qp_init_rd_atom
                                       : 16);
    vi->conn_timeout_ns =
        cfg_long("RDMX_VERBS_CONN_TIMEOUT", 1, 3600) * 1000000000L;
    vi->conn_retry_ns =
        cfg_long("RDMX_VERBS_CONN_RETRY_MS", 10, 60000) * 1000000L;
    vi->rslot_size =
        RDMX_VERBS_FRAME_HDR + sizeof(rdmx_wire_hdr_t) + vi->eager_limit;
    vi->sslot_size = (vi->rslot_size + 63) & ~(size_t)63;

    vi->eps = calloc((size_t)rt->size, sizeof(*vi->eps));
    if (!vi->eps) {
        st = RDMX_ERR_NOMEM;
        goto fail;
    }
    vi->pd = ibv_alloc_pd(vi->ctx);
    if (!vi->pd) {
        RDMX_ERROR("verbs: ibv_alloc_pd(%s): %s", vi->port.dev_name,
                   strerror(errno));
        goto fail;
    }
    vi->channel = ibv_create_comp_channel(vi->ctx);
    if (!vi->channel) {
        RDMX_ERROR("verbs: ibv_create_comp_channel: %s", strerror(errno));
        goto fail;
    }
    int fl = fcntl(vi->channel->fd, F_GETFL);
    if (fl < 0 || fcntl(vi->channel->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        RDMX_ERROR("verbs: making the completion channel non-blocking: %s",
                   strerror(errno));
        goto fail;
    }
    vi->cq_size = (int)vi->sq_depth * 2 + vi->rslots_max + RDMX_VERBS_UD_SLOTS +
                  RDMX_VERBS_UD_SEND_SLOTS;
    if (vi->cq_size > vi->dev_attr.max_cqe)
        vi->cq_size = vi->dev_attr.max_cqe;
    vi->cq = ibv_create_cq(vi->ctx, vi->cq_size, vi, vi->channel, 0);
    if (!vi->cq) {
        RDMX_ERROR("verbs: ibv_create_cq(%d): %s", vi->cq_size,
                   strerror(errno));
        goto fail;
    }
    struct ibv_srq_init_attr sa = {
        .attr = {.max_wr = (uint32_t)vi->rslots_max, .max_sge = 1}};
    vi->srq = ibv_create_srq(vi->pd, &sa);
    if (!vi->srq) {
        RDMX_ERROR("verbs: ibv_create_srq(%d): %s", vi->rslots_max,
                   strerror(errno));
        goto fail;
    }
    size_t slen = (size_t)vi->sslots * vi->sslot_size;
    vi->sbuf = aligned_alloc(64, slen);
    vi->sfree = calloc((size_t)vi->sslots, sizeof(int));
    if (!vi->sbuf || !vi->sfree) {
        st = RDMX_ERR_NOMEM;
        goto fail;
    }
    vi->sbuf_mr = reg_internal(vi, vi->sbuf, slen, "send bounce buffers");
    if (!vi->sbuf_mr) {
        st = RDMX_ERR_NOMEM;
        goto fail;
    }
    for (int i = vi->sslots - 1; i >= 0; i--)
        vi->sfree[vi->nsfree++] = i;
    if ((st = rdmx_verbs_ud_create(vi)) != RDMX_OK)
        goto fail;
    st = RDMX_ERR_NO_DEVICE;
    rdmx_verbs_regcache_init(&vi->regcache, (size_t)sysconf(_SC_PAGESIZE),
                             regcache_reg, regcache_dereg, vi);
    regcache_enable(vi);

    rdmx_verbs_addr_t a = {.ud_qpn = vi->ud_qp->qp_num,
                           .lid = vi->port.lid,
                           .link_layer = vi->port.link_layer,
                           .mtu = (uint8_t)vi->port.active_mtu};
    memcpy(a.gid, vi->port.gid.raw, 16);
    memcpy(&a.subnet, vi->port.gid.raw, 8);
    uint8_t raw[RDMX_VERBS_ADDR_LEN];
    rdmx_verbs_addr_pack(&a, raw);
    if ((st = rdmx_modex_put(rt, "verbs", raw, sizeof(raw))) != RDMX_OK)
        goto fail;

    vi->super.caps.flags =
        RDMX_TP_CAP_GET | RDMX_TP_CAP_PUT | RDMX_TP_CAP_WAIT_FD;
    vi->super.caps.eager_limit = vi->eager_limit;
    vi->super.caps.max_eager_payload = vi->eager_limit;
    vi->super.caps.get_max_chunk = 0; /* we split into READs ourselves */
    vi->super.caps.priority = 10;

    char gid[64];
    rdmx_verbs_gid_str(vi->port.gid.raw, gid, sizeof(gid));
    RDMX_INFO("verbs: %s:%u %s, GID[%d] %s, LID %u, MTU %d, eager %zu, "
              "inline %u",
              vi->port.dev_name, vi->port.port,
              vi->port.link_layer == IBV_LINK_LAYER_ETHERNET ? "RoCE"
                                                             : "InfiniBand",
              vi->port.gid_index, gid, vi->port.lid, 128 << vi->port.active_mtu,
              vi->eager_limit, vi->max_inline);
    *out = &vi->super;
    return RDMX_OK;

fail:
    verbs_close(&vi->super);
    return st;
}

static int verbs_reachable(rdmx_transport_t *tp, int peer)
{
    rdmx_verbs_iface_t *vi = (rdmx_verbs_iface_t *)tp;
    uint8_t raw[RDMX_VERBS_ADDR_LEN];
    size_t len = 0;
    rdmx_verbs_addr_t a;
    if (peer == vi->rt->rank)
        return 0; /* the self transport serves it */
    if (rdmx_modex_get(vi->rt, peer, "verbs", raw, sizeof(raw), &len) !=
            RDMX_OK ||
        rdmx_verbs_addr_unpack(raw, len, &a) != RDMX_OK)
        return 0;
    if (a.link_layer != vi->port.link_layer)
        return 0;
    if (a.link_layer == IBV_LINK_LAYER_INFINIBAND) {
        uint64_t mine;
        memcpy(&mine, vi->port.gid.raw, 8);
        return a.subnet == mine;
    }
    return 1;
}

static rdmx_status_t verbs_ep_create(rdmx_transport_t *tp, int peer,
                                     rdmx_ep_t **ep)
{
    return rdmx_verbs_ep_get((rdmx_verbs_iface_t *)tp, peer, ep);
}

static rdmx_status_t verbs_mem_reg(rdmx_transport_t *tp, void *addr, size_t len,
                                   rdmx_memh_t **out)
{
    rdmx_verbs_iface_t *vi = (rdmx_verbs_iface_t *)tp;
    rdmx_verbs_memh_t *mh = calloc(1, sizeof(*mh));
    if (!mh)
        return RDMX_ERR_NOMEM;
    rdmx_status_t st = rdmx_verbs_regcache_acquire(&vi->regcache, addr,
                                                   len ? len : 1, &mh->reg);
    if (st != RDMX_OK) {
        free(mh);
        return st;
    }
    struct ibv_mr *mr = mh->reg->handle;
    mh->super.addr = addr;
    mh->super.len = len;
    rdmx_verbs_rkey_pack(mh->reg->start, mh->reg->end - mh->reg->start,
                         mr->rkey, mh->super.rkey, &mh->super.rkey_len);
    *out = &mh->super;
    return RDMX_OK;
}

static void verbs_mem_dereg(rdmx_transport_t *tp, rdmx_memh_t *memh)
{
    rdmx_verbs_iface_t *vi = (rdmx_verbs_iface_t *)tp;
    rdmx_verbs_memh_t *mh = (rdmx_verbs_memh_t *)memh;
    if (!mh)
        return;
    rdmx_verbs_regcache_release(&vi->regcache, mh->reg);
    free(mh);
}

static int verbs_wait_fd(rdmx_transport_t *tp)
{
    rdmx_verbs_iface_t *vi = (rdmx_verbs_iface_t *)tp;
    return vi->channel ? vi->channel->fd : -1;
}

static void verbs_describe_ep(rdmx_ep_t *ep, char *buf, size_t len)
{
    rdmx_verbs_iface_t *vi = ep->iface;
    char gid[64];
    rdmx_verbs_gid_str(ep->addr.gid, gid, sizeof(gid));
    if (ep->addr.link_layer == IBV_LINK_LAYER_INFINIBAND)
        snprintf(buf, len, "verbs %s:%u -> LID %u QP %u", vi->port.dev_name,
                 vi->port.port, ep->addr.lid, ep->remote_qpn);
    else
        snprintf(buf, len, "verbs %s:%u -> %s QP %u", vi->port.dev_name,
                 vi->port.port, gid, ep->remote_qpn);
}

/* Waits (bounded) for posted sends to complete so queued messages leave
 * before the QPs go away. */
static void drain_sends(rdmx_verbs_iface_t *vi)
{
    long deadline = rdmx_verbs_now_ns() + 2000000000L;
    for (;;) {
        int busy = 0;
        for (int p = 0; p < vi->rt->size && !busy; p++) {
            rdmx_ep_t *ep = vi->eps[p];
            busy = ep && ep->state == RDMX_VERBS_EP_CONNECTED &&
                   (ep->queued_head || ep->credit_frame_pending);
        }
        if (!busy || rdmx_verbs_now_ns() > deadline)
            break;
        rdmx_verbs_progress(&vi->super);
    }
}

static void verbs_close(rdmx_transport_t *tp)
{
    rdmx_verbs_iface_t *vi = (rdmx_verbs_iface_t *)tp;
    if (!vi)
        return;
    vi->closing = 1;
    if (vi->eps && vi->cq)
        drain_sends(vi);
    if (vi->eps) {
        for (int p = 0; p < vi->rt->size; p++)
            if (vi->eps[p])
                rdmx_verbs_ep_destroy(vi->eps[p]);
        free(vi->eps);
    }
    if (vi->regcache_hooked)
        rdmx_verbs_memhook_set(NULL, NULL);
    if (vi->regcache.reg) {
        rdmx_verbs_regcache_t *rc = &vi->regcache;
        rdmx_verbs_regcache_drain(rc);
        RDMX_DEBUG("verbs: registration cache %s: hits %llu misses %llu "
                   "invalidated %llu evicted %llu (kept %zu, %zu bytes)",
                   rc->max_entries ? "on" : "off", (unsigned long long)rc->hits,
                   (unsigned long long)rc->misses,
                   (unsigned long long)rc->invalidated,
                   (unsigned long long)rc->evicted, rc->nidle, rc->bytes);
        size_t busy = rdmx_verbs_regcache_fini(&vi->regcache);
        if (busy)
            RDMX_DEBUG("verbs: %zu registrations still in use at close", busy);
    }
    if (vi->ud_qp)
        ibv_destroy_qp(vi->ud_qp);
    if (vi->udbuf_mr)
        ibv_dereg_mr(vi->udbuf_mr);
    free(vi->udbuf);
    if (vi->srq)
        ibv_destroy_srq(vi->srq);
    for (rdmx_verbs_rchunk_t *c = vi->rchunks, *n; c; c = n) {
        n = c->next;
        ibv_dereg_mr(c->mr);
        free(c->mem);
        free(c->slots);
        free(c);
    }
    if (vi->sbuf_mr)
        ibv_dereg_mr(vi->sbuf_mr);
    free(vi->sbuf);
    free(vi->sfree);
    if (vi->cq) {
        if (vi->channel) {
            struct ibv_cq *cq;
            void *ctx;
            while (ibv_get_cq_event(vi->channel, &cq, &ctx) == 0)
                vi->cq_events++;
        }
        if (vi->cq_events)
            ibv_ack_cq_events(vi->cq, vi->cq_events);
        ibv_destroy_cq(vi->cq);
    }
    if (vi->channel)
        ibv_destroy_comp_channel(vi->channel);
    if (vi->pd)
        ibv_dealloc_pd(vi->pd);
    if (vi->ctx)
        ibv_close_device(vi->ctx);
    for (rdmx_verbs_op_t *op = vi->op_free, *n; op; op = n) {
        n = op->next;
        free(op);
    }
    free(vi->qpmap);
    free(vi);
}

const rdmx_transport_ops_t rdmx_verbs_ops = {
    .size = sizeof(rdmx_transport_ops_t),
    .name = "verbs",
    .probe = verbs_probe,
    .open = verbs_open,
    .wireup = NULL,
    .reachable = verbs_reachable,
    .ep_create = verbs_ep_create,
    .send = rdmx_verbs_send,
    .mem_reg = verbs_mem_reg,
    .mem_dereg = verbs_mem_dereg,
    .get = rdmx_verbs_get,
    .put = rdmx_verbs_put,
    .progress = rdmx_verbs_progress,
    .wait_fd = verbs_wait_fd,
    .arm = rdmx_verbs_arm,
    .close = verbs_close,
    .describe_ep = verbs_describe_ep,
};
