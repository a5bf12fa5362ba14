/*
 * hostfile.h — the hosts of a job and how ranks are spread over them.
 *
 * Accepted hostfile syntax (one host per line; '#' starts a comment; blank
 * lines are ignored; a host listed again adds its slots to the first entry):
 *   MPICH/Hydra:  node1            (1 slot)
 *                 node2:4          (4 slots)
 *   Open MPI:     node3 slots=4 max_slots=8   (max-slots also accepted)
 * --host takes a comma-separated list of the MPICH form: "a:2,b:2" or
 * "a,a,b" (a listed twice has 2 slots).
 *
 * Mapping (rdmx_hostlist_map): --map-by slot fills each host's slots in
 * order; --map-by node deals ranks one per host round robin. Ranks beyond
 * the total slot count are an error unless oversubscription is allowed;
 * then they are dealt round robin over hosts that are below max_slots
 * (max_slots is a hard limit even when oversubscribing).
 *
 * Every error names the file and line (or the --host argument).
 */
#ifndef RDMX_HOSTFILE_H
#define RDMX_HOSTFILE_H

#include <stddef.h>

#include "status.h"

#define RDMX_HOSTNAME_MAX 256

typedef struct rdmx_host {
    char name[RDMX_HOSTNAME_MAX];
    int slots;
    int max_slots;    /* 0 = no limit */
    char origin[300]; /* "hosts.txt:3" or "--host" for messages */
} rdmx_host_t;

typedef struct rdmx_hostlist {
    rdmx_host_t *hosts;
    int n;
} rdmx_hostlist_t;

typedef enum rdmx_map_policy {
    RDMX_MAP_BY_SLOT,
    RDMX_MAP_BY_NODE,
} rdmx_map_policy_t;

/* Parse hostfile text; `fname` only for messages. Appends to `hl`. On
 * error returns RDMX_ERR_INVALID with a message in err. */
rdmx_status_t rdmx_hostfile_parse(const char *text, size_t len,
                                  const char *fname, rdmx_hostlist_t *hl,
                                  char *err, size_t errlen);
rdmx_status_t rdmx_hostfile_load(const char *path, rdmx_hostlist_t *hl,
                                 char *err, size_t errlen);
/* "a:2,b,c:4" as given to --host. */
rdmx_status_t rdmx_hostlist_parse_arg(const char *arg, rdmx_hostlist_t *hl,
                                      char *err, size_t errlen);
/* Inside a Slurm allocation: `names` are the allocated nodes, one per line
 * (`scontrol show hostnames`), `per_node` Slurm's compressed count list
 * ("4(x2),2": SLURM_TASKS_PER_NODE) giving each node's slots in order. */
rdmx_status_t rdmx_hostlist_from_slurm(const char *names, const char *per_node,
                                       rdmx_hostlist_t *hl, char *err,
                                       size_t errlen);
void rdmx_hostlist_free(rdmx_hostlist_t *hl);
int rdmx_hostlist_total_slots(const rdmx_hostlist_t *hl);

/* Assign `np` ranks: rank_host[r] = index into hl->hosts. */
rdmx_status_t rdmx_hostlist_map(const rdmx_hostlist_t *hl, int np,
                                rdmx_map_policy_t policy, int oversubscribe,
                                int *rank_host, char *err, size_t errlen);

#endif
