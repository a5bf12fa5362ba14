/*
 * pmi.c — picks the PMI back end from the environment (order in pmi.h) and
 * implements the singleton.
 */
#include "pmi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "pmi_internal.h"
#include "rdmx_build_config.h"

RDMX_CONFIG_VAR("RDMX_LOCAL_RANK", NULL,
                "rank among the ranks on this host, set by mpirun");
RDMX_CONFIG_VAR("RDMX_LOCAL_SIZE", NULL,
                "number of ranks on this host, set by mpirun");
RDMX_CONFIG_VAR("RDMX_PMI", NULL,
                "force the PMI wire protocol on PMI_FD: pmi1 or pmi2 "
                "(default: pmi2 under Slurm, else pmi1)");

/* Which protocol to speak on an inherited PMI_FD. Slurm's mpi/pmi2 plugin
 * serves both; MPICH's Hydra and rdmx's mpirun only PMI-1. */
static int want_pmi2(void)
{
    const char *force = rdmx_config_str("RDMX_PMI");
    const char *version = getenv("PMI_VERSION");

    if (force && strcmp(force, "pmi2") == 0)
        return 1;
    if (force && strcmp(force, "pmi1") == 0)
        return 0;
    if (force && *force)
        RDMX_WARN("RDMX_PMI=%s: expected pmi1 or pmi2; ignoring it", force);
    if (version && strcmp(version, "2") == 0)
        return 1;
    return getenv("SLURM_STEP_ID") != NULL && getenv("PMI_JOBID") != NULL;
}

static int env_int(const char *name, long min, long max, long *out)
{
    const char *v = getenv(name);
    char *end;
    long x;

    if (!v || !*v)
        return -1;
    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || *end || x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

static int config_int(const char *name, long min, long max, long *out)
{
    const char *v = rdmx_config_str(name);
    char *end;
    long x;

    if (!v || !*v)
        return -1;
    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || *end || x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

/* Slurm: SLURM_STEP_TASKS_PER_NODE is "2(x3),1" — tasks on each node in
 * node order; SLURM_NODEID picks ours. -1 if absent or malformed. */
static int slurm_local_size(void)
{
    const char *p = getenv("SLURM_STEP_TASKS_PER_NODE");
    long node, n, reps;
    char *end;

    if (!p || env_int("SLURM_NODEID", 0, 1 << 30, &node) != 0)
        return -1;
    while (*p) {
        n = strtol(p, &end, 10);
        if (end == p || n < 1)
            return -1;
        reps = 1;
        p = end;
        if (p[0] == '(' && p[1] == 'x') {
            reps = strtol(p + 2, &end, 10);
            if (end == p + 2 || *end != ')' || reps < 1)
                return -1;
            p = end + 1;
        }
        if (node < reps)
            return (int)n;
        node -= reps;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return -1;
}

static rdmx_status_t pmi_singleton_init(rdmx_pmi_t *pmi, rdmx_pmi_info_t *info)
{
    rdmx_status_t st = rdmx_kvs_create(&pmi->kvs, 64u << 20);

    if (st != RDMX_OK)
        return st;
    pmi->proto = RDMX_PMI_PROTO_SINGLETON;
    pmi->rank = 0;
    pmi->size = 1;
    strcpy(pmi->kvsname, "singleton_kvs");
    info->rank = 0;
    info->size = 1;
    info->appnum = 0;
    info->local_rank = 0;
    info->local_size = 1;
    info->protocol = "singleton";
    return RDMX_OK;
}

rdmx_status_t rdmx_pmi_init(rdmx_pmi_t **pmip, rdmx_pmi_info_t *info)
{
    rdmx_pmi_t *pmi;
    rdmx_status_t st;
    const char *fdtext = getenv("PMI_FD");
    const char *port = getenv("PMI_PORT");
    const char *nspace = getenv("PMIX_NAMESPACE");
    long x;

    if (!pmip || !info)
        return RDMX_ERR_INVALID;
    pmi = calloc(1, sizeof(*pmi));
    if (!pmi)
        return RDMX_ERR_NOMEM;
    pmi->fd = -1;
    rdmx_pmi_linebuf_init(&pmi->lb);
    memset(info, 0, sizeof(*info));
    info->local_rank = -1;
    info->local_size = -1;

    if (fdtext && *fdtext) {
        struct stat sb;
        if (env_int("PMI_FD", 0, 1 << 20, &x) != 0) {
            RDMX_ERROR("PMI_FD=\"%s\" is not a file descriptor number", fdtext);
            st = RDMX_ERR_INVALID;
            goto fail;
        }
        if (fstat((int)x, &sb) != 0) {
            RDMX_ERROR("PMI_FD=%ld is not open: %s", x, strerror(errno));
            st = RDMX_ERR_IO;
            goto fail;
        }
        pmi->fd = (int)x;
        st =
            want_pmi2() ? rdmx_pmi2_init(pmi, info) : rdmx_pmi1_init(pmi, info);
    } else if (port && *port) {
        long rank = 0;
        if (env_int("PMI_RANK", 0, 1 << 30, &rank) != 0 &&
            env_int("PMI_ID", 0, 1 << 30, &rank) != 0) {
            RDMX_ERROR("PMI_PORT=%s is set but PMI_RANK is missing or "
                       "malformed",
                       port);
            st = RDMX_ERR_INVALID;
            goto fail;
        }
        st = rdmx_pmi1_port_connect(pmi, port, (int)rank);
        if (st == RDMX_OK)
            st = rdmx_pmi1_init(pmi, info);
    } else if (nspace && *nspace) {
#if RDMX_HAVE_PMIX
        st = rdmx_pmix_init(pmi, info);
#else
        RDMX_ERROR("PMIX_NAMESPACE=%s is set (started by srun --mpi=pmix or "
                   "another PMIx launcher) but this rdmx was built without "
                   "libpmix; use srun --mpi=pmi2 or rebuild with "
                   "libpmix-dev installed",
                   nspace);
        st = RDMX_ERR_UNSUPPORTED;
#endif
    } else {
        st = pmi_singleton_init(pmi, info);
    }
    if (st != RDMX_OK)
        goto fail;

    if (config_int("RDMX_LOCAL_RANK", 0, 1 << 30, &x) == 0)
        info->local_rank = (int)x;
    else if (env_int("MPI_LOCALRANKID", 0, 1 << 30, &x) == 0) /* Hydra */
        info->local_rank = (int)x;
    else if (pmi->proto != RDMX_PMI_PROTO_SINGLETON &&
             env_int("SLURM_LOCALID", 0, 1 << 30, &x) == 0)
        info->local_rank = (int)x;
    if (config_int("RDMX_LOCAL_SIZE", 1, 1 << 30, &x) == 0)
        info->local_size = (int)x;
    else if (env_int("MPI_LOCALNRANKS", 1, 1 << 30, &x) == 0)
        info->local_size = (int)x;
    else if (pmi->proto != RDMX_PMI_PROTO_SINGLETON)
        info->local_size = slurm_local_size();
    snprintf(info->kvsname, sizeof(info->kvsname), "%s", pmi->kvsname);
    *pmip = pmi;
    return RDMX_OK;

fail:
    if (pmi->fd >= 0 && port && !(fdtext && *fdtext))
        close(pmi->fd);
    rdmx_kvs_destroy(pmi->kvs);
    free(pmi);
    return st;
}

static int key_ok(const char *key)
{
    return rdmx_pmi_wire_token_ok(key, RDMX_PMI_KEY_MAX + 1, 1);
}

rdmx_status_t rdmx_pmi_put(rdmx_pmi_t *pmi, const char *key, const char *value)
{
    if (!pmi || !key || !value)
        return RDMX_ERR_INVALID;
    if (!key_ok(key) ||
        !rdmx_pmi_wire_token_ok(value, RDMX_PMI_VALUE_MAX + 1, 0)) {
        RDMX_ERROR("PMI put: key \"%.64s\" or its value (%zu bytes) is "
                   "empty, too long or contains spaces, '=' or control "
                   "characters",
                   key, strlen(value));
        return RDMX_ERR_INVALID;
    }
    switch (pmi->proto) {
    case RDMX_PMI_PROTO_SINGLETON:
        return rdmx_kvs_put(pmi->kvs, key, value);
    case RDMX_PMI_PROTO_PMI1:
        return rdmx_pmi1_put(pmi, key, value);
    case RDMX_PMI_PROTO_PMI2:
        return rdmx_pmi2_put(pmi, key, value);
#if RDMX_HAVE_PMIX
    case RDMX_PMI_PROTO_PMIX:
        return rdmx_pmix_put(pmi, key, value);
#endif
    default:
        return RDMX_ERR_UNSUPPORTED;
    }
}

rdmx_status_t rdmx_pmi_fence(rdmx_pmi_t *pmi)
{
    if (!pmi)
        return RDMX_ERR_INVALID;
    switch (pmi->proto) {
    case RDMX_PMI_PROTO_SINGLETON:
        return RDMX_OK;
    case RDMX_PMI_PROTO_PMI1:
        return rdmx_pmi1_fence(pmi);
    case RDMX_PMI_PROTO_PMI2:
        return rdmx_pmi2_fence(pmi);
#if RDMX_HAVE_PMIX
    case RDMX_PMI_PROTO_PMIX:
        return rdmx_pmix_fence(pmi);
#endif
    default:
        return RDMX_ERR_UNSUPPORTED;
    }
}

rdmx_status_t rdmx_pmi_get(rdmx_pmi_t *pmi, int rank, const char *key,
                           char *value, size_t value_len)
{
    const char *v;

    if (!pmi || !key || !value || value_len == 0)
        return RDMX_ERR_INVALID;
    if (!key_ok(key)) {
        RDMX_ERROR("PMI get: malformed key \"%.64s\"", key);
        return RDMX_ERR_INVALID;
    }
    switch (pmi->proto) {
    case RDMX_PMI_PROTO_SINGLETON:
        v = rdmx_kvs_get(pmi->kvs, key);
        if (!v)
            return RDMX_ERR_NOT_FOUND;
        if (strlen(v) >= value_len)
            return RDMX_ERR_TRUNCATE;
        strcpy(value, v);
        return RDMX_OK;
    case RDMX_PMI_PROTO_PMI1:
        return rdmx_pmi1_get(pmi, key, value, value_len);
    case RDMX_PMI_PROTO_PMI2:
        return rdmx_pmi2_get(pmi, rank, key, value, value_len);
#if RDMX_HAVE_PMIX
    case RDMX_PMI_PROTO_PMIX:
        return rdmx_pmix_get(pmi, rank, key, value, value_len);
#endif
    default:
        return RDMX_ERR_UNSUPPORTED;
    }
}

rdmx_status_t rdmx_pmi_abort(rdmx_pmi_t *pmi, int code, const char *msg)
{
    if (!pmi)
        return RDMX_ERR_INVALID;
    switch (pmi->proto) {
    case RDMX_PMI_PROTO_SINGLETON:
        /* Nobody to tell: the caller exits with `code` itself. */
        return RDMX_OK;
    case RDMX_PMI_PROTO_PMI1:
        return rdmx_pmi1_abort(pmi, code, msg);
    case RDMX_PMI_PROTO_PMI2:
        return rdmx_pmi2_abort(pmi, code, msg);
#if RDMX_HAVE_PMIX
    case RDMX_PMI_PROTO_PMIX:
        return rdmx_pmix_abort(pmi, code, msg);
#endif
    default:
        return RDMX_ERR_UNSUPPORTED;
    }
}

rdmx_status_t rdmx_pmi_finalize(rdmx_pmi_t *pmi)
{
    rdmx_status_t st = RDMX_OK;

    if (!pmi)
        return RDMX_ERR_INVALID;
    if (pmi->proto == RDMX_PMI_PROTO_PMI1)
        st = rdmx_pmi1_finalize(pmi);
    else if (pmi->proto == RDMX_PMI_PROTO_PMI2)
        st = rdmx_pmi2_finalize(pmi);
#if RDMX_HAVE_PMIX
    else if (pmi->proto == RDMX_PMI_PROTO_PMIX)
        st = rdmx_pmix_finalize(pmi);
#endif
    rdmx_kvs_destroy(pmi->kvs);
    free(pmi);
    return st;
}
