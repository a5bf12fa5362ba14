/*
 * comm.c — MPI_COMM_WORLD, MPI_COMM_SELF and the communicator queries.
 * Creation of new communicators is in comm_create.c.
 */
#include "comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "runtime.h"

static int self_world_rank;
static rdmx_group_t world_group = {.predefined = 1, .refcount = 1};
static rdmx_group_t self_group = {.predefined = 1, .refcount = 1, .size = 1,
                                  .rank = 0, .world_ranks = &self_world_rank};
struct rdmx_group rdmx_group_empty_obj = {.predefined = 1, .refcount = 1,
                                          .size = 0, .rank = MPI_UNDEFINED};

struct rdmx_comm rdmx_comm_world_obj = {
    .predefined = 1, .refcount = 1, .group = &world_group, .context_id = 0,
    .errhandler = &rdmx_errors_are_fatal_obj, .name = "MPI_COMM_WORLD"};
struct rdmx_comm rdmx_comm_self_obj = {
    .predefined = 1, .refcount = 1, .group = &self_group, .context_id = 2,
    .errhandler = &rdmx_errors_are_fatal_obj, .name = "MPI_COMM_SELF"};

rdmx_status_t rdmx_comm_world_init(int rank, int size)
{
    int *ranks = malloc(sizeof(int) * (size_t)size);
    if (!ranks)
        return RDMX_ERR_NOMEM;
    for (int i = 0; i < size; i++)
        ranks[i] = i;
    world_group.size = size;
    world_group.rank = rank;
    world_group.world_ranks = ranks;
    rdmx_comm_world_obj.rank = rank;
    rdmx_comm_world_obj.size = size;
    self_world_rank = rank;
    rdmx_comm_self_obj.rank = 0;
    rdmx_comm_self_obj.size = 1;
    return RDMX_OK;
}

void rdmx_comm_world_fini(void)
{
    free(world_group.world_ranks);
    world_group.world_ranks = NULL;
}

rdmx_status_t rdmx_comm_check(const rdmx_comm_t *comm)
{
    if (!comm || !comm->group || comm->size <= 0)
        return RDMX_ERR_COMM;
    return RDMX_OK;
}

int MPI_Comm_rank(MPI_Comm comm, int *rank)
{
    if (rdmx_comm_check(comm) != RDMX_OK)
        return rdmx_mpi_error(NULL, MPI_ERR_COMM, "MPI_Comm_rank",
                              "invalid communicator");
    if (!rank)
        return rdmx_mpi_error(comm, MPI_ERR_ARG, "MPI_Comm_rank",
                              "rank pointer is NULL");
    *rank = comm->rank;
    return MPI_SUCCESS;
}

int MPI_Comm_size(MPI_Comm comm, int *size)
{
    if (rdmx_comm_check(comm) != RDMX_OK)
        return rdmx_mpi_error(NULL, MPI_ERR_COMM, "MPI_Comm_size",
                              "invalid communicator");
    if (!size)
        return rdmx_mpi_error(comm, MPI_ERR_ARG, "MPI_Comm_size",
                              "size pointer is NULL");
    *size = comm->size;
    return MPI_SUCCESS;
}

int MPI_Comm_test_inter(MPI_Comm comm, int *flag)
{
    if (rdmx_comm_check(comm) != RDMX_OK)
        return rdmx_mpi_error(NULL, MPI_ERR_COMM, "MPI_Comm_test_inter",
                              "invalid communicator");
    *flag = 0;
    return MPI_SUCCESS;
}

/* Values of the predefined attributes; the standard hands out pointers. */
static int attr_tag_ub = 0x7fffffff;
static int attr_host = MPI_PROC_NULL;
static int attr_io = MPI_ANY_SOURCE;
static int attr_wtime_global = 0;
static int attr_appnum = 0;
static int attr_universe;

int MPI_Comm_get_attr(MPI_Comm comm, int keyval, void *attribute_val,
                      int *flag)
{
    if (rdmx_comm_check(comm) != RDMX_OK)
        return rdmx_mpi_error(NULL, MPI_ERR_COMM, "MPI_Comm_get_attr",
                              "invalid communicator");
    if (!attribute_val || !flag)
        return rdmx_mpi_error(comm, MPI_ERR_ARG, "MPI_Comm_get_attr",
                              "NULL argument");
    int *v = NULL;
    attr_universe = rdmx_rt.size;
    attr_appnum = rdmx_rt.pmi_info.appnum;
    switch (keyval) {
    case MPI_TAG_UB: v = &attr_tag_ub; break;
    case MPI_HOST: v = &attr_host; break;
    case MPI_IO: v = &attr_io; break;
    case MPI_WTIME_IS_GLOBAL: v = &attr_wtime_global; break;
    case MPI_APPNUM: v = &attr_appnum; break;
    case MPI_UNIVERSE_SIZE: v = &attr_universe; break;
    }
    *flag = v != NULL;
    if (v)
        *(int **)attribute_val = v;
    return MPI_SUCCESS;
}

int MPI_Attr_get(MPI_Comm comm, int keyval, void *attribute_val, int *flag)
{
    return MPI_Comm_get_attr(comm, keyval, attribute_val, flag);
}

int MPI_Comm_set_name(MPI_Comm comm, const char *name)
{
    if (rdmx_comm_check(comm) != RDMX_OK || !name)
        return rdmx_mpi_error(NULL, MPI_ERR_COMM, "MPI_Comm_set_name",
                              "invalid communicator or name");
    snprintf(comm->name, sizeof(comm->name), "%s", name);
    return MPI_SUCCESS;
}

int MPI_Comm_get_name(MPI_Comm comm, char *name, int *resultlen)
{
    if (rdmx_comm_check(comm) != RDMX_OK || !name || !resultlen)
        return rdmx_mpi_error(NULL, MPI_ERR_COMM, "MPI_Comm_get_name",
                              "invalid communicator or argument");
    *resultlen = snprintf(name, MPI_MAX_OBJECT_NAME, "%s", comm->name);
    return MPI_SUCCESS;
}
