/*
 * comm.h — groups and communicators.
 *
 * Each communicator owns two matching contexts: `context_id` for user
 * point-to-point traffic and `context_id + 1` for collectives, so the two
 * never match each other. Context ids are agreed collectively when a
 * communicator is created (core/comm.c).
 */
#ifndef RDMX_COMM_H
#define RDMX_COMM_H

#include <stdint.h>

#include "mpi.h"
#include "status.h"

typedef struct rdmx_group {
    int predefined;
    int refcount;
    int size;
    int rank;         /* this process's rank in the group, MPI_UNDEFINED */
    int *world_ranks; /* size entries */
} rdmx_group_t;

typedef struct rdmx_comm {
    int predefined;
    int refcount;
    int rank;
    int size;
    rdmx_group_t *group;
    uint32_t context_id; /* even; +1 is the collective context */
    struct rdmx_errhandler *errhandler;
    uint32_t coll_seq;   /* collectives started on this comm (for tags) */
    int single_host;     /* collectives/: 0 unknown, 1 no, 2 all on one host */
    /* collectives/: every rank's node-shared collective area, by rank in
     * this communicator (NULL: none), known once coll_areas_known. */
    int coll_areas_known;
    void **coll_areas;
    size_t coll_area_bytes;
    char name[MPI_MAX_OBJECT_NAME];
} rdmx_comm_t;

enum { RDMX_CTX_P2P = 0, RDMX_CTX_COLL = 1 };

static inline int rdmx_comm_world_rank(const rdmx_comm_t *comm, int rank)
{
    return comm->group->world_ranks[rank];
}

/* Validate a communicator handle. */
rdmx_status_t rdmx_comm_check(const rdmx_comm_t *comm);

#endif
