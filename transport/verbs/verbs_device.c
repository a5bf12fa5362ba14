/*
 * verbs_device.c — finding the device port a rank uses: the first device
 * with an ACTIVE port (or RDMX_IB_DEVICE=dev[:port]); on RoCE the GID by
 * verbs_gid.c's ranking (or RDMX_IB_GID_INDEX); on InfiniBand the LID.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "verbs.h"
#include "verbs_gid.h"

RDMX_CONFIG_VAR("RDMX_IB_DEVICE", NULL,
                "verbs: device[:port] to use, e.g. mlx5_0:1 (default: the "
                "first device with an active port)");
RDMX_CONFIG_VAR("RDMX_IB_GID_INDEX", NULL,
                "verbs: RoCE GID index to use (default: RoCEv2 IPv4-mapped, "
                "then RoCEv2 IPv6 global, then RoCEv1)");

/* The GID type from sysfs, for libibverbs without ibv_query_gid_ex
 * support on this device. */
static int gid_type_sysfs(const char *dev, int port, int index)
{
    char path[256], text[32] = "";
    snprintf(path, sizeof(path),
             "/sys/class/infiniband/%s/ports/%d/gid_attrs/types/%d", dev, port,
             index);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    if (!fgets(text, sizeof(text), f))
        text[0] = 0;
    fclose(f);
    if (strncmp(text, "RoCE v2", 7) == 0)
        return RDMX_VERBS_GID_ROCE_V2;
    if (strstr(text, "RoCE v1") || strstr(text, "IB/RoCE"))
        return RDMX_VERBS_GID_ROCE_V1;
    return -1;
}

static int read_gid(struct ibv_context *ctx, int port, int index,
                    rdmx_verbs_gid_entry_t *e)
{
    struct ibv_gid_entry ge;
    e->index = index;
    e->type = -1;
    if (ibv_query_gid_ex(ctx, (uint32_t)port, (uint32_t)index, &ge, 0) == 0) {
        memcpy(e->raw, ge.gid.raw, 16);
        switch (ge.gid_type) {
        case IBV_GID_TYPE_ROCE_V2:
            e->type = RDMX_VERBS_GID_ROCE_V2;
            break;
        case IBV_GID_TYPE_ROCE_V1:
            e->type = RDMX_VERBS_GID_ROCE_V1;
            break;
        default:
            e->type = RDMX_VERBS_GID_IB;
            break;
        }
        return 0;
    }
    if (errno == ENODATA)
        return -1; /* empty slot */
    union ibv_gid g;
    if (ibv_query_gid(ctx, (uint8_t)port, index, &g) != 0)
        return -1;
    memcpy(e->raw, g.raw, 16);
    e->type = gid_type_sysfs(ibv_get_device_name(ctx->device), port, index);
    return 0;
}

/* Fills p for (ctx, port) if usable; else writes p->why and returns error. */
static rdmx_status_t port_check(struct ibv_context *ctx, int port,
                                rdmx_verbs_port_t *p)
{
    const char *dev = ibv_get_device_name(ctx->device);
    struct ibv_port_attr pa;
    if (ibv_query_port(ctx, (uint8_t)port, &pa) != 0) {
        snprintf(p->why, sizeof(p->why), "ibv_query_port(%s:%d): %s", dev, port,
                 strerror(errno));
        return RDMX_ERR_NO_DEVICE;
    }
    if (pa.state != IBV_PORT_ACTIVE) {
        snprintf(p->why, sizeof(p->why), "port not active (%s:%d is %s)", dev,
                 port, ibv_port_state_str(pa.state));
        return RDMX_ERR_NO_DEVICE;
    }
    snprintf(p->dev_name, sizeof(p->dev_name), "%s", dev);
    p->port = (uint8_t)port;
    p->link_layer = pa.link_layer;
    p->active_mtu = pa.active_mtu;
    p->lid = pa.lid;
    p->gid_index = -1;
    memset(&p->gid, 0, sizeof(p->gid));

    const char *forced = rdmx_config_str("RDMX_IB_GID_INDEX");
    if (forced && *forced) {
        long idx = rdmx_config_long("RDMX_IB_GID_INDEX");
        rdmx_verbs_gid_entry_t e;
        if (idx < 0 || idx >= pa.gid_tbl_len ||
            read_gid(ctx, port, (int)idx, &e) != 0 ||
            (rdmx_verbs_gid_rank(&e) < 0 && e.type != RDMX_VERBS_GID_IB)) {
            snprintf(p->why, sizeof(p->why),
                     "RDMX_IB_GID_INDEX=%s is not a usable GID of %s:%d "
                     "(table has %d entries)",
                     forced, dev, port, pa.gid_tbl_len);
            return RDMX_ERR_NO_DEVICE;
        }
        p->gid_index = (int)idx;
        memcpy(p->gid.raw, e.raw, 16);
        return RDMX_OK;
    }

    if (pa.link_layer == IBV_LINK_LAYER_INFINIBAND) {
        if (pa.lid == 0) {
            snprintf(p->why, sizeof(p->why),
                     "%s:%d has no LID (is a subnet manager running?)", dev,
                     port);
            return RDMX_ERR_NO_DEVICE;
        }
        /* GID 0 is published for the subnet prefix; traffic uses LIDs. */
        rdmx_verbs_gid_entry_t e;
        if (read_gid(ctx, port, 0, &e) == 0)
            memcpy(p->gid.raw, e.raw, 16);
        return RDMX_OK;
    }

    int n = pa.gid_tbl_len;
    if (n <= 0) {
        snprintf(p->why, sizeof(p->why), "%s:%d has an empty GID table", dev,
                 port);
        return RDMX_ERR_NO_DEVICE;
    }
    rdmx_verbs_gid_entry_t *tab = calloc((size_t)n, sizeof(*tab));
    if (!tab) {
        snprintf(p->why, sizeof(p->why), "out of memory");
        return RDMX_ERR_NOMEM;
    }
    int m = 0;
    for (int i = 0; i < n; i++)
        if (read_gid(ctx, port, i, &tab[m]) == 0)
            m++;
    int best = rdmx_verbs_gid_choose(tab, m);
    if (best < 0) {
        free(tab);
        snprintf(p->why, sizeof(p->why),
                 "%s:%d has no usable RoCE GID (no IP address on its "
                 "netdev?)",
                 dev, port);
        return RDMX_ERR_NO_DEVICE;
    }
    p->gid_index = tab[best].index;
    memcpy(p->gid.raw, tab[best].raw, 16);
    free(tab);
    return RDMX_OK;
}

rdmx_status_t rdmx_verbs_device_find(rdmx_verbs_port_t *p,
                                     struct ibv_context **ctx_out)
{
    int ndev = 0;
    char want_dev[IBV_SYSFS_NAME_MAX] = "";
    int want_port = 0;
    rdmx_status_t st = RDMX_ERR_NO_DEVICE;

    memset(p, 0, sizeof(*p));
    const char *sel = rdmx_config_str("RDMX_IB_DEVICE");
    if (sel && *sel) {
        const char *colon = strchr(sel, ':');
        size_t n = colon ? (size_t)(colon - sel) : strlen(sel);
        if (n == 0 || n >= sizeof(want_dev)) {
            snprintf(p->why, sizeof(p->why),
                     "RDMX_IB_DEVICE='%s' is not dev or dev:port", sel);
            return RDMX_ERR_INVALID;
        }
        memcpy(want_dev, sel, n);
        if (colon) {
            char *end;
            long v = strtol(colon + 1, &end, 10);
            if (*end || v < 1 || v > 255) {
                snprintf(p->why, sizeof(p->why),
                         "RDMX_IB_DEVICE='%s': bad port number", sel);
                return RDMX_ERR_INVALID;
            }
            want_port = (int)v;
        }
    }

    struct ibv_device **list = ibv_get_device_list(&ndev);
    if (!list) {
        /* ENOSYS: no /sys/class/infiniband_verbs, i.e. no RDMA in the
         * kernel at all. */
        snprintf(p->why, sizeof(p->why), "no RDMA device (libibverbs: %s%s)",
                 strerror(errno),
                 errno == ENOSYS ? "; the kernel has no RDMA support" : "");
        return RDMX_ERR_NO_DEVICE;
    }
    if (ndev == 0) {
        snprintf(p->why, sizeof(p->why),
                 "no RDMA device (libibverbs found 0 devices)");
        goto out;
    }
    int matched = 0;
    for (int d = 0; d < ndev && st != RDMX_OK; d++) {
        const char *name = ibv_get_device_name(list[d]);
        if (want_dev[0] && strcmp(name, want_dev) != 0)
            continue;
        matched = 1;
        struct ibv_context *ctx = ibv_open_device(list[d]);
        if (!ctx) {
            snprintf(p->why, sizeof(p->why), "ibv_open_device(%s): %s", name,
                     strerror(errno));
            continue;
        }
        struct ibv_device_attr da;
        if (ibv_query_device(ctx, &da) != 0) {
            snprintf(p->why, sizeof(p->why), "ibv_query_device(%s): %s", name,
                     strerror(errno));
            ibv_close_device(ctx);
            continue;
        }
        for (int port = 1; port <= da.phys_port_cnt; port++) {
            if (want_port && port != want_port)
                continue;
            if (port_check(ctx, port, p) == RDMX_OK) {
                st = RDMX_OK;
                break;
            }
        }
        if (st == RDMX_OK && ctx_out)
            *ctx_out = ctx;
        else
            ibv_close_device(ctx);
        if (st != RDMX_OK && want_port && want_port > da.phys_port_cnt)
            snprintf(p->why, sizeof(p->why), "%s has no port %d", name,
                     want_port);
    }
    if (!matched)
        snprintf(p->why, sizeof(p->why),
                 "RDMX_IB_DEVICE=%s: no such device (libibverbs found %d)", sel,
                 ndev);
out:
    ibv_free_device_list(list);
    return st;
}
