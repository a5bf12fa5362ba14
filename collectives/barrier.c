/*
 * barrier.c — dissemination barrier: ceil(log2 p) rounds of zero-byte
 * tokens, rank r signalling r + 2^k and waiting for r - 2^k. Works for any
 * p without a fold step.
 */
#include "coll.h"

rdmx_status_t rdmx_coll_barrier_dissemination(rdmx_sched_t *s,
                                              const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    for (int k = 1; k < p; k <<= 1) {
        rdmx_sched_send0(s, (r + k) % p);
        rdmx_sched_recv0(s, (r - k + p) % p);
        rdmx_sched_round(s);
    }
    return s->err;
}
