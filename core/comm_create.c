/*
 * comm_create.c — creating and freeing communicators.
 *
 * Context ids: every process keeps the next id it has never used (ids are
 * even, 0/1 belong to MPI_COMM_WORLD, 2/3 to MPI_COMM_SELF, so the first
 * free one is 4). A new communicator takes the MAX of the parent ranks'
 * next ids, agreed by an allreduce in the parent's collective context:
 * that id is unused on every member because each member's own counter is
 * at most the maximum and ids are never reused. Every member then moves
 * its counter past it. Ids run out after 2^30 creations, far beyond what
 * programs do; ids near the top are reserved for the runtime.
 */
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "errors.h"
#include "group.h"

#define RDMX_CTX_USER_LIMIT 0x7fff0000u

static uint32_t next_context = 4;

static int agree_context(rdmx_comm_t *parent, uint32_t *ctx, const char *call)
{
    unsigned mine = next_context, agreed = 0;
    int rc = MPI_Allreduce(&mine, &agreed, 1, MPI_UNSIGNED, MPI_MAX, parent);
    if (rc != MPI_SUCCESS)
        return rc;
    if (agreed >= RDMX_CTX_USER_LIMIT)
        return rdmx_mpi_error(parent, MPI_ERR_INTERN, call,
                              "out of communicator context ids");
    *ctx = agreed;
    next_context = agreed + 2;
    return MPI_SUCCESS;
}

static int comm_new(rdmx_comm_t *parent, rdmx_group_t *group, uint32_t ctx,
                    rdmx_comm_t **out, const char *call)
{
    rdmx_comm_t *c = calloc(1, sizeof(*c));
    if (!c)
        return rdmx_mpi_error(parent, MPI_ERR_NO_MEM, call, "out of memory");
    c->refcount = 1;
    c->rank = group->rank;
    c->size = group->size;
    c->group = group;
    c->context_id = ctx;
    c->errhandler = parent->errhandler;
    if (c->errhandler && !c->errhandler->predefined)
        c->errhandler->refcount++;
    *out = c;
    return MPI_SUCCESS;
}

static int check(MPI_Comm comm, const void *out, const char *call)
{
    if (rdmx_comm_check(comm) != RDMX_OK)
        return rdmx_mpi_error(NULL, MPI_ERR_COMM, call, "invalid communicator");
    if (!out)
        return rdmx_mpi_error(comm, MPI_ERR_ARG, call,
                              "newcomm pointer is NULL");
    return MPI_SUCCESS;
}

int MPI_Comm_dup(MPI_Comm comm, MPI_Comm *newcomm)
{
    static const char *call = "MPI_Comm_dup";
    int rc = check(comm, newcomm, call);
    if (rc)
        return rc;
    uint32_t ctx;
    if ((rc = agree_context(comm, &ctx, call)))
        return rc;
    rdmx_group_retain(comm->group);
    rc = comm_new(comm, comm->group, ctx, newcomm, call);
    if (rc) {
        rdmx_group_release(comm->group);
        return rc;
    }
    return MPI_SUCCESS;
}

struct member {
    int color, key, rank;
};

static int by_key(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->rank - y->rank;
}

int MPI_Comm_split(MPI_Comm comm, int color, int key, MPI_Comm *newcomm)
{
    static const char *call = "MPI_Comm_split";
    int rc = check(comm, newcomm, call);
    if (rc)
        return rc;
    if (color < 0 && color != MPI_UNDEFINED)
        return rdmx_mpi_error(comm, MPI_ERR_ARG, call,
                              "color %d is negative (and not "
                              "MPI_UNDEFINED)",
                              color);
    int p = comm->size;
    struct member *all = malloc(sizeof(*all) * (size_t)p);
    if (!all)
        return rdmx_mpi_error(comm, MPI_ERR_NO_MEM, call, "out of memory");
    struct member me = {color, key, comm->rank};
    rc = MPI_Allgather(&me, 3, MPI_INT, all, 3, MPI_INT, comm);
    uint32_t ctx = 0;
    if (rc == MPI_SUCCESS)
        rc = agree_context(comm, &ctx, call);
    if (rc != MPI_SUCCESS) {
        free(all);
        return rc;
    }
    *newcomm = MPI_COMM_NULL;
    if (color == MPI_UNDEFINED) {
        free(all);
        return MPI_SUCCESS;
    }
    int n = 0;
    for (int i = 0; i < p; i++)
        if (all[i].color == color)
            all[n++] = all[i];
    qsort(all, (size_t)n, sizeof(*all), by_key);
    int *wr = malloc(sizeof(int) * (size_t)n);
    if (!wr) {
        free(all);
        return rdmx_mpi_error(comm, MPI_ERR_NO_MEM, call, "out of memory");
    }
    for (int i = 0; i < n; i++)
        wr[i] = comm->group->world_ranks[all[i].rank];
    free(all);
    rdmx_group_t *g;
    rdmx_status_t st = rdmx_group_new(n, wr, &g);
    free(wr);
    if (st != RDMX_OK)
        return rdmx_mpi_error(comm, MPI_ERR_NO_MEM, call, "out of memory");
    rc = comm_new(comm, g, ctx, newcomm, call);
    if (rc)
        rdmx_group_release(g);
    return rc;
}

int MPI_Comm_create(MPI_Comm comm, MPI_Group group, MPI_Comm *newcomm)
{
    static const char *call = "MPI_Comm_create";
    int rc = check(comm, newcomm, call);
    if (rc)
        return rc;
    if (!group)
        return rdmx_mpi_error(comm, MPI_ERR_GROUP, call,
                              "group is MPI_GROUP_NULL");
    /* The group must be a subset of the communicator's. */
    for (int i = 0; i < group->size; i++) {
        int found = 0;
        for (int j = 0; j < comm->size && !found; j++)
            found = comm->group->world_ranks[j] == group->world_ranks[i];
        if (!found)
            return rdmx_mpi_error(comm, MPI_ERR_GROUP, call,
                                  "group member %d (world rank %d) is not "
                                  "in the communicator",
                                  i, group->world_ranks[i]);
    }
    uint32_t ctx;
    if ((rc = agree_context(comm, &ctx, call)))
        return rc;
    *newcomm = MPI_COMM_NULL;
    if (group->rank == MPI_UNDEFINED || group->size == 0)
        return MPI_SUCCESS;
    rdmx_group_t *g;
    if (rdmx_group_new(group->size, group->world_ranks, &g) != RDMX_OK)
        return rdmx_mpi_error(comm, MPI_ERR_NO_MEM, call, "out of memory");
    rc = comm_new(comm, g, ctx, newcomm, call);
    if (rc)
        rdmx_group_release(g);
    return rc;
}

int MPI_Comm_free(MPI_Comm *comm)
{
    static const char *call = "MPI_Comm_free";
    if (!comm || rdmx_comm_check(*comm) != RDMX_OK)
        return rdmx_mpi_error(NULL, MPI_ERR_COMM, call, "invalid communicator");
    rdmx_comm_t *c = *comm;
    if (c->predefined)
        return rdmx_mpi_error(c, MPI_ERR_COMM, call,
                              "cannot free the predefined %s", c->name);
    *comm = MPI_COMM_NULL;
    rdmx_comm_release(c);
    return MPI_SUCCESS;
}

void rdmx_comm_retain(rdmx_comm_t *c)
{
    if (c && !c->predefined)
        c->refcount++;
}

void rdmx_comm_release(rdmx_comm_t *c)
{
    if (!c || c->predefined || --c->refcount > 0)
        return;
    rdmx_group_release(c->group);
    free(c->coll_areas);
    struct rdmx_errhandler *h = c->errhandler;
    if (h && !h->predefined && --h->refcount == 0)
        free(h);
    /* A freed communicator must not validate if used again. */
    c->group = NULL;
    c->size = 0;
    free(c);
}

int MPI_Comm_compare(MPI_Comm comm1, MPI_Comm comm2, int *result)
{
    if (rdmx_comm_check(comm1) != RDMX_OK || rdmx_comm_check(comm2) != RDMX_OK)
        return rdmx_mpi_error(NULL, MPI_ERR_COMM, "MPI_Comm_compare",
                              "invalid communicator");
    if (!result)
        return rdmx_mpi_error(comm1, MPI_ERR_ARG, "MPI_Comm_compare",
                              "result is NULL");
    if (comm1 == comm2) {
        *result = MPI_IDENT;
        return MPI_SUCCESS;
    }
    int g = rdmx_group_compare(comm1->group, comm2->group);
    *result = g == MPI_IDENT ? MPI_CONGRUENT : g;
    return MPI_SUCCESS;
}

int MPI_Comm_group(MPI_Comm comm, MPI_Group *group)
{
    if (rdmx_comm_check(comm) != RDMX_OK)
        return rdmx_mpi_error(NULL, MPI_ERR_COMM, "MPI_Comm_group",
                              "invalid communicator");
    if (!group)
        return rdmx_mpi_error(comm, MPI_ERR_ARG, "MPI_Comm_group",
                              "group pointer is NULL");
    rdmx_group_retain(comm->group);
    *group = comm->group;
    return MPI_SUCCESS;
}
