/*
 * pmix.c — PMIx back end of the PMI client, through OpenPMIx's libpmix
 * (Slurm's `srun --mpi=pmix`, Open MPI's prte). Built only when CMake
 * found libpmix (RDMX_HAVE_PMIX); selected when PMIX_NAMESPACE is set.
 *
 * PMIx keys belong to the rank that put them, so rdmx_pmi_get's rank
 * argument is used here (PMI-1 ignores it). A fence collects every rank's
 * data (PMIX_COLLECT_DATA), matching PMI-1's "visible after the barrier".
 */
#include "rdmx_build_config.h"

#if RDMX_HAVE_PMIX

#include <pmix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pmi_internal.h"

static pmix_proc_t pmix_self;

static int pmix_get_u32(const pmix_proc_t *proc, const char *key, uint32_t *out)
{
    pmix_value_t *v = NULL;
    int ok = -1;

    if (PMIx_Get(proc, key, NULL, 0, &v) != PMIX_SUCCESS || !v)
        return -1;
    switch (v->type) {
    case PMIX_UINT32:
        *out = v->data.uint32;
        ok = 0;
        break;
    case PMIX_UINT16:
        *out = v->data.uint16;
        ok = 0;
        break;
    case PMIX_INT:
        if (v->data.integer >= 0) {
            *out = (uint32_t)v->data.integer;
            ok = 0;
        }
        break;
    default:
        break;
    }
    PMIX_VALUE_RELEASE(v);
    return ok;
}

rdmx_status_t rdmx_pmix_init(rdmx_pmi_t *pmi, rdmx_pmi_info_t *info)
{
    pmix_proc_t wild;
    pmix_status_t rc;
    uint32_t size = 0, lrank, lsize;

    rc = PMIx_Init(&pmix_self, NULL, 0);
    if (rc != PMIX_SUCCESS) {
        RDMX_ERROR("PMIx_Init failed: %s (PMIX_NAMESPACE is set: started "
                   "by a PMIx launcher that cannot be reached?)",
                   PMIx_Error_string(rc));
        return RDMX_ERR_IO;
    }
    PMIX_PROC_CONSTRUCT(&wild);
    PMIX_LOAD_PROCID(&wild, pmix_self.nspace, PMIX_RANK_WILDCARD);
    if (pmix_get_u32(&wild, PMIX_JOB_SIZE, &size) != 0 || size < 1 ||
        pmix_self.rank >= size) {
        RDMX_ERROR("PMIx: cannot read the job size of namespace %s (rank "
                   "%u)",
                   pmix_self.nspace, pmix_self.rank);
        PMIx_Finalize(NULL, 0);
        return RDMX_ERR_IO;
    }
    pmi->proto = RDMX_PMI_PROTO_PMIX;
    pmi->rank = (int)pmix_self.rank;
    pmi->size = (int)size;
    snprintf(pmi->kvsname, sizeof(pmi->kvsname), "%s", pmix_self.nspace);
    info->rank = pmi->rank;
    info->size = pmi->size;
    info->appnum = 0;
    info->protocol = "pmix";
    if (pmix_get_u32(&pmix_self, PMIX_LOCAL_RANK, &lrank) == 0)
        info->local_rank = (int)lrank;
    if (pmix_get_u32(&wild, PMIX_LOCAL_SIZE, &lsize) == 0)
        info->local_size = (int)lsize;
    return RDMX_OK;
}

rdmx_status_t rdmx_pmix_put(rdmx_pmi_t *pmi, const char *key, const char *value)
{
    pmix_value_t v;
    pmix_status_t rc;

    (void)pmi;
    PMIX_VALUE_CONSTRUCT(&v);
    v.type = PMIX_STRING;
    v.data.string = (char *)value; /* PMIx_Put copies it */
    rc = PMIx_Put(PMIX_GLOBAL, key, &v);
    if (rc != PMIX_SUCCESS) {
        RDMX_ERROR("PMIx_Put of key %s failed: %s", key, PMIx_Error_string(rc));
        return RDMX_ERR_IO;
    }
    return RDMX_OK;
}

rdmx_status_t rdmx_pmix_fence(rdmx_pmi_t *pmi)
{
    pmix_proc_t wild;
    pmix_info_t info;
    bool collect = true;
    pmix_status_t rc;

    (void)pmi;
    rc = PMIx_Commit();
    if (rc != PMIX_SUCCESS) {
        RDMX_ERROR("PMIx_Commit failed: %s", PMIx_Error_string(rc));
        return RDMX_ERR_IO;
    }
    PMIX_PROC_CONSTRUCT(&wild);
    PMIX_LOAD_PROCID(&wild, pmix_self.nspace, PMIX_RANK_WILDCARD);
    PMIX_INFO_CONSTRUCT(&info);
    PMIX_INFO_LOAD(&info, PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
    rc = PMIx_Fence(&wild, 1, &info, 1);
    PMIX_INFO_DESTRUCT(&info);
    if (rc != PMIX_SUCCESS) {
        RDMX_ERROR("PMIx_Fence of rank %u failed: %s", pmix_self.rank,
                   PMIx_Error_string(rc));
        return RDMX_ERR_IO;
    }
    return RDMX_OK;
}

rdmx_status_t rdmx_pmix_get(rdmx_pmi_t *pmi, int rank, const char *key,
                            char *value, size_t value_len)
{
    pmix_proc_t proc;
    pmix_info_t opt;
    bool optional = true;
    pmix_value_t *v = NULL;
    rdmx_status_t st = RDMX_OK;
    pmix_status_t rc;

    if (rank < 0 || rank >= pmi->size) {
        RDMX_ERROR("PMIx get of key %s: rank %d out of range (size %d)", key,
                   rank, pmi->size);
        return RDMX_ERR_INVALID;
    }
    PMIX_PROC_CONSTRUCT(&proc);
    PMIX_LOAD_PROCID(&proc, pmix_self.nspace, (pmix_rank_t)rank);
    /* After a collecting fence every key is here: do not ask the server
     * (a missing key would otherwise wait for a direct-modex timeout). */
    PMIX_INFO_CONSTRUCT(&opt);
    PMIX_INFO_LOAD(&opt, PMIX_OPTIONAL, &optional, PMIX_BOOL);
    rc = PMIx_Get(&proc, key, &opt, 1, &v);
    PMIX_INFO_DESTRUCT(&opt);
    if (rc == PMIX_ERR_NOT_FOUND || (rc == PMIX_SUCCESS && !v))
        return RDMX_ERR_NOT_FOUND;
    if (rc != PMIX_SUCCESS) {
        RDMX_ERROR("PMIx_Get of key %s from rank %d failed: %s", key, rank,
                   PMIx_Error_string(rc));
        return RDMX_ERR_IO;
    }
    if (v->type != PMIX_STRING || !v->data.string) {
        RDMX_ERROR("PMIx key %s of rank %d is not a string (type %d)", key,
                   rank, (int)v->type);
        st = RDMX_ERR_INVALID;
    } else if (strlen(v->data.string) >= value_len) {
        st = RDMX_ERR_TRUNCATE;
    } else {
        strcpy(value, v->data.string);
    }
    PMIX_VALUE_RELEASE(v);
    return st;
}

rdmx_status_t rdmx_pmix_abort(rdmx_pmi_t *pmi, int code, const char *msg)
{
    pmix_status_t rc;

    (void)pmi;
    /* NULL procs: the whole namespace. */
    rc = PMIx_Abort(code, msg ? msg : "", NULL, 0);
    return rc == PMIX_SUCCESS ? RDMX_OK : RDMX_ERR_IO;
}

rdmx_status_t rdmx_pmix_finalize(rdmx_pmi_t *pmi)
{
    pmix_status_t rc;

    (void)pmi;
    rc = PMIx_Finalize(NULL, 0);
    if (rc != PMIX_SUCCESS) {
        RDMX_ERROR("PMIx_Finalize failed: %s", PMIx_Error_string(rc));
        return RDMX_ERR_IO;
    }
    return RDMX_OK;
}

#endif /* RDMX_HAVE_PMIX */
