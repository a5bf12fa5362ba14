/*
 * alltoall.c — alltoall: Bruck (ceil(log2 p) rounds, each moving about
 * half the data: for small blocks where latency dominates) and pairwise
 * exchange (p-1 rounds, each block sent once: for large blocks);
 * alltoallv pairwise.
 */
#include "coll.h"

/* Phase 1 rotates so TMP[i] is the block for rank r + i; in step k every
 * block whose index has bit k set moves to rank r + k (packed into TMP2,
 * received into the second half of TMP2 and put back at the same
 * indices); finally TMP[i] holds the block from rank r - i. */
rdmx_status_t rdmx_coll_alltoall_bruck(rdmx_sched_t *s,
                                       const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    size_t b = a->bytes;
    size_t half = (size_t)(p / 2 + 1) * b;
    rdmx_sched_tmp(s, 0, (size_t)p * b);
    rdmx_sched_tmp(s, 1, 2 * half);
    rdmx_sched_copy(s, RDMX_SB_SEND, (size_t)r * b, RDMX_SB_TMP, 0,
                    (size_t)(p - r) * b);
    rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_TMP, (size_t)(p - r) * b,
                    (size_t)r * b);
    rdmx_sched_round(s);
    for (int k = 1; k < p; k <<= 1) {
        size_t n = 0;
        for (int i = 0; i < p; i++)
            if (i & k)
                rdmx_sched_copy(s, RDMX_SB_TMP, (size_t)i * b, RDMX_SB_TMP2,
                                (n++) * b, b);
        rdmx_sched_round(s);
        rdmx_sched_send(s, (r + k) % p, RDMX_SB_TMP2, 0, n * b);
        rdmx_sched_recv(s, (r - k + p) % p, RDMX_SB_TMP2, half, n * b);
        n = 0;
        for (int i = 0; i < p; i++)
            if (i & k)
                rdmx_sched_copy(s, RDMX_SB_TMP2, half + (n++) * b, RDMX_SB_TMP,
                                (size_t)i * b, b);
        rdmx_sched_round(s);
    }
    for (int i = 0; i < p; i++)
        rdmx_sched_copy(s, RDMX_SB_TMP, (size_t)i * b, RDMX_SB_RECV,
                        (size_t)((r - i + p) % p) * b, b);
    rdmx_sched_round(s);
    return s->err;
}

rdmx_status_t rdmx_coll_alltoall_pairwise(rdmx_sched_t *s,
                                          const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    size_t b = a->bytes;
    int pow2 = !(p & (p - 1));
    if (p == 1) {
        rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_RECV, 0, b);
        rdmx_sched_round(s);
    }
    for (int i = 1; i < p; i++) {
        /* XOR pairing on powers of two: each step is a perfect matching. */
        int to = pow2 ? r ^ i : (r + i) % p;
        int from = pow2 ? r ^ i : (r - i + p) % p;
        rdmx_sched_send(s, to, RDMX_SB_SEND, (size_t)to * b, b);
        rdmx_sched_recv(s, from, RDMX_SB_RECV, (size_t)from * b, b);
        if (i == 1) /* our own block, while the first exchange moves */
            rdmx_sched_copy_early(s, RDMX_SB_SEND, (size_t)r * b, RDMX_SB_RECV,
                                  (size_t)r * b, b);
        rdmx_sched_round(s);
    }
    return s->err;
}

rdmx_status_t rdmx_coll_alltoallv_pairwise(rdmx_sched_t *s,
                                           const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    if (p == 1) {
        rdmx_sched_copy(s, RDMX_SB_SEND, a->offs[r], RDMX_SB_RECV, a->roffs[r],
                        a->counts[r]);
        rdmx_sched_round(s);
    }
    for (int i = 1; i < p; i++) {
        int to = (r + i) % p, from = (r - i + p) % p;
        rdmx_sched_send(s, to, RDMX_SB_SEND, a->offs[to], a->counts[to]);
        rdmx_sched_recv(s, from, RDMX_SB_RECV, a->roffs[from],
                        a->rcounts[from]);
        if (i == 1) /* our own block, while the first exchange moves */
            rdmx_sched_copy_early(s, RDMX_SB_SEND, a->offs[r], RDMX_SB_RECV,
                                  a->roffs[r], a->counts[r]);
        rdmx_sched_round(s);
    }
    return s->err;
}
