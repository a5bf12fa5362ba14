/*
 * group.c — process groups: ordered lists of world ranks. MPI_GROUP_EMPTY
 * and the groups of the predefined communicators live in comm.c.
 */
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "errors.h"
#include "group.h"

rdmx_status_t rdmx_group_new(int size, const int *world_ranks,
                             rdmx_group_t **out)
{
    rdmx_group_t *g = calloc(1, sizeof(*g));
    if (!g)
        return RDMX_ERR_NOMEM;
    g->world_ranks = malloc(sizeof(int) * (size_t)(size ? size : 1));
    if (!g->world_ranks) {
        free(g);
        return RDMX_ERR_NOMEM;
    }
    memcpy(g->world_ranks, world_ranks, sizeof(int) * (size_t)size);
    g->size = size;
    g->refcount = 1;
    g->rank = MPI_UNDEFINED;
    int me = rdmx_comm_world_obj.rank;
    for (int i = 0; i < size; i++)
        if (world_ranks[i] == me)
            g->rank = i;
    *out = g;
    return RDMX_OK;
}

void rdmx_group_retain(rdmx_group_t *g)
{
    if (g && !g->predefined)
        g->refcount++;
}

void rdmx_group_release(rdmx_group_t *g)
{
    if (g && !g->predefined && --g->refcount == 0) {
        free(g->world_ranks);
        free(g);
    }
}

static int bad_group(MPI_Group g, const char *call)
{
    return rdmx_mpi_error(NULL, MPI_ERR_GROUP, call,
                          g ? "invalid group" : "group is MPI_GROUP_NULL");
}

int MPI_Group_size(MPI_Group group, int *size)
{
    if (!group)
        return bad_group(group, "MPI_Group_size");
    *size = group->size;
    return MPI_SUCCESS;
}

int MPI_Group_rank(MPI_Group group, int *rank)
{
    if (!group)
        return bad_group(group, "MPI_Group_rank");
    *rank = group->rank;
    return MPI_SUCCESS;
}

/* Ranks must be valid and distinct. */
static int check_ranks(MPI_Group g, int n, const int ranks[], const char *call)
{
    if (n < 0 || n > g->size)
        return rdmx_mpi_error(NULL, MPI_ERR_ARG, call, "n = %d not in [0,%d]",
                              n, g->size);
    if (n && !ranks)
        return rdmx_mpi_error(NULL, MPI_ERR_ARG, call, "ranks is NULL");
    char *seen = calloc((size_t)g->size + 1, 1);
    if (!seen)
        return rdmx_mpi_error(NULL, MPI_ERR_NO_MEM, call, "out of memory");
    for (int i = 0; i < n; i++) {
        if (ranks[i] < 0 || ranks[i] >= g->size || seen[ranks[i]]) {
            int r = ranks[i];
            int dup = r >= 0 && r < g->size;
            free(seen);
            return rdmx_mpi_error(
                NULL, MPI_ERR_RANK, call, "ranks[%d] = %d %s", i, r,
                dup ? "appears twice" : "is not a rank of the group");
        }
        seen[ranks[i]] = 1;
    }
    free(seen);
    return MPI_SUCCESS;
}

static int make(int n, const int *wr, MPI_Group *out, const char *call)
{
    if (n == 0) {
        *out = MPI_GROUP_EMPTY;
        return MPI_SUCCESS;
    }
    rdmx_group_t *g;
    if (rdmx_group_new(n, wr, &g) != RDMX_OK)
        return rdmx_mpi_error(NULL, MPI_ERR_NO_MEM, call, "out of memory");
    *out = g;
    return MPI_SUCCESS;
}

int MPI_Group_incl(MPI_Group group, int n, const int ranks[],
                   MPI_Group *newgroup)
{
    static const char *call = "MPI_Group_incl";
    if (!group)
        return bad_group(group, call);
    int rc = check_ranks(group, n, ranks, call);
    if (rc)
        return rc;
    int *wr = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!wr)
        return rdmx_mpi_error(NULL, MPI_ERR_NO_MEM, call, "out of memory");
    for (int i = 0; i < n; i++)
        wr[i] = group->world_ranks[ranks[i]];
    rc = make(n, wr, newgroup, call);
    free(wr);
    return rc;
}

int MPI_Group_excl(MPI_Group group, int n, const int ranks[],
                   MPI_Group *newgroup)
{
    static const char *call = "MPI_Group_excl";
    if (!group)
        return bad_group(group, call);
    int rc = check_ranks(group, n, ranks, call);
    if (rc)
        return rc;
    char *drop = calloc((size_t)group->size + 1, 1);
    int *wr = malloc(sizeof(int) * (size_t)(group->size + 1));
    if (!drop || !wr) {
        free(drop);
        free(wr);
        return rdmx_mpi_error(NULL, MPI_ERR_NO_MEM, call, "out of memory");
    }
    for (int i = 0; i < n; i++)
        drop[ranks[i]] = 1;
    int k = 0;
    for (int i = 0; i < group->size; i++)
        if (!drop[i])
            wr[k++] = group->world_ranks[i];
    rc = make(k, wr, newgroup, call);
    free(drop);
    free(wr);
    return rc;
}

int MPI_Group_translate_ranks(MPI_Group group1, int n, const int ranks1[],
                              MPI_Group group2, int ranks2[])
{
    static const char *call = "MPI_Group_translate_ranks";
    if (!group1 || !group2)
        return bad_group(NULL, call);
    if (n < 0 || (n && (!ranks1 || !ranks2)))
        return rdmx_mpi_error(NULL, MPI_ERR_ARG, call, "bad n or arrays");
    for (int i = 0; i < n; i++) {
        int r = ranks1[i];
        if (r == MPI_PROC_NULL) {
            ranks2[i] = MPI_PROC_NULL;
            continue;
        }
        if (r < 0 || r >= group1->size)
            return rdmx_mpi_error(NULL, MPI_ERR_RANK, call,
                                  "ranks1[%d] = %d not in [0,%d)", i, r,
                                  group1->size);
        ranks2[i] = MPI_UNDEFINED;
        for (int j = 0; j < group2->size; j++)
            if (group2->world_ranks[j] == group1->world_ranks[r]) {
                ranks2[i] = j;
                break;
            }
    }
    return MPI_SUCCESS;
}

int rdmx_group_compare(const rdmx_group_t *a, const rdmx_group_t *b)
{
    if (a == b)
        return MPI_IDENT;
    if (a->size != b->size)
        return MPI_UNEQUAL;
    int same_order = 1;
    for (int i = 0; i < a->size; i++)
        if (a->world_ranks[i] != b->world_ranks[i])
            same_order = 0;
    if (same_order)
        return MPI_IDENT;
    for (int i = 0; i < a->size; i++) {
        int found = 0;
        for (int j = 0; j < b->size && !found; j++)
            found = a->world_ranks[i] == b->world_ranks[j];
        if (!found)
            return MPI_UNEQUAL;
    }
    return MPI_SIMILAR;
}

int MPI_Group_compare(MPI_Group group1, MPI_Group group2, int *result)
{
    if (!group1 || !group2)
        return bad_group(NULL, "MPI_Group_compare");
    if (!result)
        return rdmx_mpi_error(NULL, MPI_ERR_ARG, "MPI_Group_compare",
                              "result is NULL");
    *result = rdmx_group_compare(group1, group2);
    return MPI_SUCCESS;
}

int MPI_Group_free(MPI_Group *group)
{
    if (!group || !*group)
        return bad_group(NULL, "MPI_Group_free");
    rdmx_group_release(*group);
    *group = MPI_GROUP_NULL;
    return MPI_SUCCESS;
}
