/*
 * placement.h — where each rank of one host runs (hwloc).
 *
 * A pure planner: given a loaded topology, the number of ranks on the host
 * and the options, it returns for each local rank the core it is mapped to
 * and the cpuset it is bound to. mpirun/rdmx-proxy apply the plan with
 * sched_setaffinity in the child before exec and export the set as
 * RDMX_CPUSET (hwloc list syntax, e.g. "2-3").
 *
 * --map-by core|slot|node: local rank i goes to core i (wrapping).
 * --map-by numa|socket|l3cache: ranks are dealt round robin over those
 *   domains; inside a domain each gets the domain's next core (wrapping).
 * --bind-to core|l3cache|numa|socket: the cpuset of that object around the
 *   mapped core; none: not bound.
 * Default: bind to core when ranks <= cores, otherwise do not bind (an
 * oversubscribed host must let the OS move ranks around). An explicit
 * --bind-to is honoured even when oversubscribed.
 */
#ifndef RDMX_PLACEMENT_H
#define RDMX_PLACEMENT_H

#include <stddef.h>

#include "status.h"

typedef enum rdmx_bind {
    RDMX_BIND_DEFAULT = 0,
    RDMX_BIND_NONE,
    RDMX_BIND_CORE,
    RDMX_BIND_L3,
    RDMX_BIND_NUMA,
    RDMX_BIND_SOCKET,
} rdmx_bind_t;

typedef enum rdmx_pmap {
    RDMX_PMAP_CORE = 0, /* also slot and node */
    RDMX_PMAP_NUMA,
    RDMX_PMAP_SOCKET,
    RDMX_PMAP_L3,
} rdmx_pmap_t;

typedef struct rdmx_place {
    int bound;
    int core;         /* logical index of the mapped core */
    char cpuset[256]; /* hwloc list syntax; "" when not bound */
    char where[160];  /* "core L#3 (package L#0, NUMA L#1)" */
} rdmx_place_t;

/* "core", "l3cache", "numa", "socket"/"package", "none". -1 if unknown. */
int rdmx_place_parse_bind(const char *text, rdmx_bind_t *out);
/* "core", "numa", "socket"/"package", "l3cache", "slot", "node". For slot
 * and node *host_by_node tells the host-level policy. -1 if unknown. */
int rdmx_place_parse_map(const char *text, rdmx_pmap_t *out, int *host_by_node);

#if RDMX_HAVE_HWLOC
#include <hwloc.h>
/* Plan `n` local ranks. *oversubscribed = ranks > cores. */
rdmx_status_t rdmx_place_plan(hwloc_topology_t topo, int n, rdmx_bind_t bind,
                              rdmx_pmap_t map, rdmx_place_t *out,
                              int *oversubscribed, char *err, size_t errlen);
#endif

#endif
