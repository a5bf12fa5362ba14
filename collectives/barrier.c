/*
 * barrier.c — dissemination barrier: ceil(log2 p) rounds of zero-byte
 * tokens, rank r signalling r + 2^k and waiting for r - 2^k. Works for any
 * p without a fold step. Linear (fan-in to rank 0, fan-out from it): two
 * hand-overs whatever p, for ranks that share cores.
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

rdmx_status_t rdmx_coll_barrier_linear(rdmx_sched_t *s,
                                       const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    if (p == 1)
        return s->err;
    if (r != 0) {
        rdmx_sched_send0(s, 0);
        rdmx_sched_round(s);
        rdmx_sched_recv0(s, 0);
        rdmx_sched_round(s);
        return s->err;
    }
    for (int i = 1; i < p; i++)
        rdmx_sched_recv0(s, i);
    rdmx_sched_round(s);
    for (int i = 1; i < p; i++)
        rdmx_sched_send0(s, i);
    rdmx_sched_round(s);
    return s->err;
}
