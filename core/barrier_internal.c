/*
 * barrier_internal.c — a dissemination barrier over MPI_COMM_WORLD for the
 * runtime's own use (MPI_Finalize), in a context no user communicator can
 * have, so it never interferes with user or collective traffic.
 */
#include "request_impl.h"
#include "runtime.h"

#define RDMX_CTX_INTERNAL 0x7ffffff0

rdmx_status_t rdmx_internal_barrier(void)
{
    rdmx_comm_t *world = (rdmx_comm_t *)MPI_COMM_WORLD;
    int rank = world->rank, size = world->size;
    char token = 0, sink;
    for (int dist = 1, round = 0; dist < size; dist <<= 1, round++) {
        rdmx_request_t *reqs[2];
        rdmx_status_t st = rdmx_irecv(&sink, 1, (rdmx_datatype_t *)MPI_BYTE,
                                      (rank - dist + size) % size, round,
                                      world, RDMX_CTX_INTERNAL, &reqs[0]);
        if (st != RDMX_OK)
            return st;
        st = rdmx_isend(&token, 1, (rdmx_datatype_t *)MPI_BYTE,
                        (rank + dist) % size, round, world, RDMX_CTX_INTERNAL,
                        RDMX_SEND_STANDARD, &reqs[1]);
        if (st != RDMX_OK)
            return st;
        st = rdmx_request_wait_all(reqs, 2);
        rdmx_request_free(reqs[0]);
        rdmx_request_free(reqs[1]);
        if (st != RDMX_OK)
            return st;
    }
    return RDMX_OK;
}
