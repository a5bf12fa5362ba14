/*
 * pmi.h — how a rank talks to whatever started it.
 *
 * One client interface over several wire protocols, tried in this order:
 *   1. PMI-1 over PMI_FD (an inherited socketpair, rdmx's own mpirun/proxy
 *      and MPICH Hydra) or PMI_PORT (host:port; then the per-job secret in
 *      RDMX_JOB_SECRET is sent first, rdmx's launcher refuses without it);
 *   2. PMI2 wire protocol over PMI_FD when PMI_VERSION=2 / Slurm --mpi=pmi2;
 *   3. PMIx through libpmix when PMIX_NAMESPACE is set (if built with it);
 *   4. none of the above: a singleton, rank 0 of 1, local key-value store.
 *
 * Keys and values are text without spaces, '=' or newlines; values up to
 * RDMX_PMI_VALUE_MAX bytes. A put is visible to others after rdmx_pmi_fence.
 */
#ifndef RDMX_PMI_H
#define RDMX_PMI_H

#include <stddef.h>

#include "../status.h"

#define RDMX_PMI_KEY_MAX 64
#define RDMX_PMI_VALUE_MAX 1024

typedef struct rdmx_pmi rdmx_pmi_t;

typedef struct rdmx_pmi_info {
    int rank;
    int size;
    int appnum;
    int local_rank;   /* -1 if the launcher did not say */
    int local_size;   /* -1 if the launcher did not say */
    char kvsname[256];
    const char *protocol; /* "pmi1", "pmi2", "pmix", "singleton" */
} rdmx_pmi_info_t;

rdmx_status_t rdmx_pmi_init(rdmx_pmi_t **pmi, rdmx_pmi_info_t *info);
rdmx_status_t rdmx_pmi_put(rdmx_pmi_t *pmi, const char *key,
                           const char *value);
/* Commit own puts and wait for every rank's (PMI barrier). */
rdmx_status_t rdmx_pmi_fence(rdmx_pmi_t *pmi);
/* Get a key put by `rank` (hint for PMI2/PMIx; PMI-1 ignores it).
 * RDMX_ERR_NOT_FOUND if absent. */
rdmx_status_t rdmx_pmi_get(rdmx_pmi_t *pmi, int rank, const char *key,
                           char *value, size_t value_len);
/* Tell the launcher to end the job with `code`; it prints `msg`. */
rdmx_status_t rdmx_pmi_abort(rdmx_pmi_t *pmi, int code, const char *msg);
rdmx_status_t rdmx_pmi_finalize(rdmx_pmi_t *pmi);

#endif
