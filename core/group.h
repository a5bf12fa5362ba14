/*
 * group.h — internal group helpers (core/group.c).
 */
#ifndef RDMX_GROUP_H
#define RDMX_GROUP_H

#include "comm.h"
#include "status.h"

/* A group of `size` world ranks (copied); refcount 1. */
rdmx_status_t rdmx_group_new(int size, const int *world_ranks,
                             rdmx_group_t **out);
void rdmx_group_retain(rdmx_group_t *g);
void rdmx_group_release(rdmx_group_t *g);
/* MPI_IDENT / MPI_SIMILAR / MPI_UNEQUAL. */
int rdmx_group_compare(const rdmx_group_t *a, const rdmx_group_t *b);

/* Communicator references (core/comm_create.c): a running nonblocking
 * collective holds one, so MPI_Comm_free with operations pending frees
 * the communicator only once they complete, as MPI requires. */
void rdmx_comm_retain(rdmx_comm_t *c);
void rdmx_comm_release(rdmx_comm_t *c);

#endif
