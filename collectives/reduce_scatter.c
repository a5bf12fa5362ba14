/*
 * reduce_scatter.c — reduce_scatter(_block): a ring reduce-scatter for
 * commutative ops (each rank sends (p-1)/p of the vector), and for
 * non-commutative ops a rank-ordered binomial reduce to rank 0 followed by
 * a linear scatterv. `counts` are elements per rank.
 */
#include "coll.h"

#include <stdlib.h>

static size_t *prefix(const rdmx_coll_args_t *a)
{
    size_t *start = malloc((size_t)(a->size + 1) * sizeof(size_t));
    if (!start)
        return NULL;
    start[0] = 0;
    for (int i = 0; i < a->size; i++)
        start[i + 1] = start[i] + a->counts[i];
    return start;
}

rdmx_status_t rdmx_coll_reduce_scatter_ring(rdmx_sched_t *s,
                                            const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    size_t es = a->esize, maxb = 0;
    size_t *start = prefix(a);
    if (!start)
        return RDMX_ERR_NOMEM;
    for (int i = 0; i < p; i++)
        if (a->counts[i] > maxb)
            maxb = a->counts[i];
    rdmx_sched_tmp(s, 0, start[p] * es);
    rdmx_sched_tmp(s, 1, maxb * es);
    rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_TMP, 0, start[p] * es);
    rdmx_sched_round(s);
    int right = (r + 1) % p, left = (r - 1 + p) % p;
    for (int i = 0; i < p - 1; i++) {
        int sb = (r - i - 1 + 2 * p) % p, rb = (r - i - 2 + 2 * p) % p;
        rdmx_sched_send(s, right, RDMX_SB_TMP, start[sb] * es,
                        a->counts[sb] * es);
        rdmx_sched_recv(s, left, RDMX_SB_TMP2, 0, a->counts[rb] * es);
        rdmx_sched_reduce(s, RDMX_SB_TMP2, 0, RDMX_SB_TMP, start[rb] * es,
                          a->counts[rb], 0);
        rdmx_sched_round(s);
    }
    rdmx_sched_copy(s, RDMX_SB_TMP, start[r] * es, RDMX_SB_RECV, 0,
                    a->counts[r] * es);
    rdmx_sched_round(s);
    free(start);
    return s->err;
}

rdmx_status_t
rdmx_coll_reduce_scatter_reduce_scatterv(rdmx_sched_t *s,
                                         const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    size_t es = a->esize;
    size_t *start = prefix(a);
    if (!start)
        return RDMX_ERR_NOMEM;
    rdmx_coll_args_t b = *a;
    b.count = start[p];
    b.root = 0;
    rdmx_sched_tmp(s, 0, start[p] * es);
    rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_TMP, 0, start[p] * es);
    rdmx_sched_round(s);
    int init = RDMX_SB_TMP;
    rdmx_coll_reduce_tree_steps(s, &b, RDMX_SB_TMP, &init, 0);
    rdmx_sched_round(s);
    if (r == 0) {
        for (int i = 1; i < p; i++)
            rdmx_sched_send(s, i, RDMX_SB_TMP, start[i] * es,
                            a->counts[i] * es);
        rdmx_sched_copy(s, RDMX_SB_TMP, 0, RDMX_SB_RECV, 0, a->counts[0] * es);
    } else {
        rdmx_sched_recv(s, 0, RDMX_SB_RECV, 0, a->counts[r] * es);
    }
    rdmx_sched_round(s);
    free(start);
    return s->err;
}
