/*
 * verbs_gid.c — GID ranking for RoCE (see verbs_gid.h for the policy).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "verbs_gid.h"

static int gid_is_zero(const uint8_t *g)
{
    for (int i = 0; i < 16; i++)
        if (g[i])
            return 0;
    return 1;
}

static int gid_is_v4_mapped(const uint8_t *g)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};
    return memcmp(g, prefix, sizeof(prefix)) == 0;
}

static int gid_is_link_local(const uint8_t *g)
{
    return g[0] == 0xfe && (g[1] & 0xc0) == 0x80;
}

int rdmx_verbs_gid_rank(const rdmx_verbs_gid_entry_t *e)
{
    if (gid_is_zero(e->raw))
        return -1;
    switch (e->type) {
    case RDMX_VERBS_GID_ROCE_V2:
        if (gid_is_v4_mapped(e->raw))
            return 4;
        if (gid_is_link_local(e->raw))
            return 1;
        return 3;
    case RDMX_VERBS_GID_ROCE_V1:
        return 2;
    default:
        return -1;
    }
}

int rdmx_verbs_gid_choose(const rdmx_verbs_gid_entry_t *tab, int n)
{
    int best = -1, best_rank = -1;
    for (int i = 0; i < n; i++) {
        int r = rdmx_verbs_gid_rank(&tab[i]);
        if (r > best_rank) {
            best_rank = r;
            best = i;
        }
    }
    return best;
}

void rdmx_verbs_gid_str(const uint8_t raw[16], char *buf, unsigned len)
{
    if (!inet_ntop(AF_INET6, raw, buf, len))
        snprintf(buf, len, "?");
}
