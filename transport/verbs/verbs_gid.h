/*
 * verbs_gid.h — choosing the GID a RoCE port communicates with. Pure code:
 * the caller reads the table (ibv_query_gid_ex or sysfs) and this ranks it,
 * so the policy is unit-tested from a table.
 */
#ifndef RDMX_VERBS_GID_H
#define RDMX_VERBS_GID_H

#include <stdint.h>

enum rdmx_verbs_gid_type {
    RDMX_VERBS_GID_IB = 0,
    RDMX_VERBS_GID_ROCE_V1 = 1,
    RDMX_VERBS_GID_ROCE_V2 = 2,
};

typedef struct rdmx_verbs_gid_entry {
    int index;
    uint8_t raw[16];
    int type; /* enum rdmx_verbs_gid_type; -1 = unknown/unusable */
} rdmx_verbs_gid_entry_t;

/* Rank of one entry, higher is better, < 0 unusable:
 *   RoCEv2 IPv4-mapped (::ffff:a.b.c.d)  4  routable, what rxe/most NICs use
 *   RoCEv2 IPv6 global                   3
 *   RoCEv1 (any non-zero GID)            2  L2 only
 *   RoCEv2 IPv6 link-local (fe80::/10)   1  cannot be routed; last resort
 *   all-zero GID                        -1  empty slot */
int rdmx_verbs_gid_rank(const rdmx_verbs_gid_entry_t *e);

/* Index into `tab` of the best entry (first of equal rank), -1 if none. */
int rdmx_verbs_gid_choose(const rdmx_verbs_gid_entry_t *tab, int n);

/* "::ffff:10.0.0.1" or a full IPv6 text into buf (>= 46 bytes). */
void rdmx_verbs_gid_str(const uint8_t raw[16], char *buf, unsigned len);

#endif
