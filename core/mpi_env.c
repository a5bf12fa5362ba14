/*
 * mpi_env.c — environment queries: time, names, versions, memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "mpi.h"
#include "rdmx_build_config.h"
#include "runtime.h"

double MPI_Wtime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double MPI_Wtick(void)
{
    struct timespec ts;
    if (clock_getres(CLOCK_MONOTONIC, &ts) != 0)
        return 1e-9;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int MPI_Get_processor_name(char *name, int *resultlen)
{
    if (!name || !resultlen)
        return rdmx_mpi_error(NULL, MPI_ERR_ARG, "MPI_Get_processor_name",
                              "NULL argument");
    char host[MPI_MAX_PROCESSOR_NAME];
    if (rdmx_rt.hostname[0])
        snprintf(host, sizeof(host), "%s", rdmx_rt.hostname);
    else if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    *resultlen = snprintf(name, MPI_MAX_PROCESSOR_NAME, "%s", host);
    return MPI_SUCCESS;
}

int MPI_Get_version(int *version, int *subversion)
{
    if (!version || !subversion)
        return MPI_ERR_ARG;
    *version = MPI_VERSION;
    *subversion = MPI_SUBVERSION;
    return MPI_SUCCESS;
}

int MPI_Get_library_version(char *version, int *resultlen)
{
    if (!version || !resultlen)
        return MPI_ERR_ARG;
    *resultlen = snprintf(version, MPI_MAX_LIBRARY_VERSION_STRING,
                          "rdmx %s (MPI %d.%d; transports: self shm tcp%s)",
                          RDMX_VERSION_STRING, MPI_VERSION, MPI_SUBVERSION,
                          RDMX_HAVE_VERBS ? " verbs" : "");
    return MPI_SUCCESS;
}

/* Memory for MPI_Alloc_mem is page-aligned, so transports that register
 * memory (verbs) can cache whole pages of it. */
int MPI_Alloc_mem(MPI_Aint size, MPI_Info info, void *baseptr)
{
    (void)info;
    if (size < 0)
        return rdmx_mpi_error(NULL, MPI_ERR_ARG, "MPI_Alloc_mem",
                              "negative size %ld", (long)size);
    if (!baseptr)
        return rdmx_mpi_error(NULL, MPI_ERR_ARG, "MPI_Alloc_mem",
                              "baseptr is NULL");
    void *p = NULL;
    long page = sysconf(_SC_PAGESIZE);
    if (posix_memalign(&p, page > 0 ? (size_t)page : 4096,
                       size ? (size_t)size : 1) != 0)
        return rdmx_mpi_error(NULL, MPI_ERR_NO_MEM, "MPI_Alloc_mem",
                              "cannot allocate %ld bytes", (long)size);
    /* Pre-register for transports that register memory (verbs): their
     * registration caches keep it, so the first message from the block
     * does not pay for pinning. Failure is harmless (registered on use). */
    if (rdmx_rt.initialized && !rdmx_rt.finalized && size > 0) {
        for (int i = 0; i < rdmx_rt.nactive; i++) {
            rdmx_transport_t *tp = rdmx_rt.active[i];
            rdmx_memh_t *mh = NULL;
            if ((tp->caps.flags & RDMX_TP_CAP_GET) && tp->ops->mem_reg &&
                tp->ops->mem_dereg &&
                tp->ops->mem_reg(tp, p, (size_t)size, &mh) == RDMX_OK)
                tp->ops->mem_dereg(tp, mh);
        }
    }
    *(void **)baseptr = p;
    return MPI_SUCCESS;
}

int MPI_Free_mem(void *base)
{
    free(base);
    return MPI_SUCCESS;
}

/* Info objects: MPI_Alloc_mem callers pass them; rdmx reads no keys yet,
 * but keeps what it is given so that future hints have a home. */
struct rdmx_info {
    int predefined;
    int n;
};
struct rdmx_info rdmx_info_env_obj = {1, 0};

int MPI_Info_create(MPI_Info *info)
{
    if (!info)
        return MPI_ERR_ARG;
    *info = calloc(1, sizeof(**info));
    return *info ? MPI_SUCCESS : MPI_ERR_NO_MEM;
}

int MPI_Info_set(MPI_Info info, const char *key, const char *value)
{
    if (!info || !key || !value)
        return MPI_ERR_ARG;
    if (strlen(key) > MPI_MAX_INFO_KEY)
        return MPI_ERR_INFO_KEY;
    if (strlen(value) > MPI_MAX_INFO_VAL)
        return MPI_ERR_INFO_VALUE;
    info->n++;
    return MPI_SUCCESS;
}

int MPI_Info_free(MPI_Info *info)
{
    if (!info || !*info)
        return MPI_ERR_INFO;
    if (!(*info)->predefined)
        free(*info);
    *info = MPI_INFO_NULL;
    return MPI_SUCCESS;
}
