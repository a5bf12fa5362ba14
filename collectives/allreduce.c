/*
 * allreduce.c — allreduce: recursive doubling (latency-bound sizes, any
 * op), Rabenseifner (recursive-halving reduce-scatter + recursive-doubling
 * allgather), ring (bandwidth-optimal reduce-scatter + allgather,
 * commutative ops only) and reduce + bcast.
 *
 * Non-powers of two: the first 2*rem ranks fold pairwise (even into odd),
 * leaving pof2 ranks whose order is the real rank order, and the result is
 * handed back to the even ranks at the end. Every combination step puts
 * the operand from the lower ranks on the left, so non-commutative ops
 * are reduced in rank order.
 */
#include "coll.h"

#include <stdlib.h>

#define unfold rdmx_coll_unfold

/*
 * The result lives in RECV. The input is not copied there first: `init`
 * names the buffer that holds this rank's running value until the first
 * reduction writes RECV (rdmx_sched_reduce3 reads the input and writes
 * RECV in one pass). In place, SEND is bound to RECV's memory, so reading
 * "SEND" there reads RECV.
 */
static void settle(rdmx_sched_t *s, const rdmx_coll_args_t *a, int init)
{
    if (init != RDMX_SB_RECV && !a->in_place)
        rdmx_sched_copy(s, init, 0, RDMX_SB_RECV, 0, a->count * a->esize);
    rdmx_sched_round(s);
}

static int fold(rdmx_sched_t *s, const rdmx_coll_args_t *a, int rem,
                int *init)
{
    int r = a->rank;
    size_t bytes = a->count * a->esize;
    *init = RDMX_SB_SEND;
    if (r >= 2 * rem)
        return r - rem;
    if (r % 2 == 0) {
        rdmx_sched_send(s, r + 1, RDMX_SB_SEND, 0, bytes);
        rdmx_sched_round(s);
        return -1;
    }
    rdmx_sched_recv(s, r - 1, RDMX_SB_TMP, 0, bytes);
    rdmx_sched_reduce3(s, RDMX_SB_TMP, 0, RDMX_SB_SEND, 0, RDMX_SB_RECV, 0,
                       a->count, 0);
    rdmx_sched_round(s);
    *init = RDMX_SB_RECV;
    return r / 2;
}

static void unfold_result(rdmx_sched_t *s, const rdmx_coll_args_t *a, int rem)
{
    int r = a->rank;
    size_t bytes = a->count * a->esize;
    if (r >= 2 * rem)
        return;
    if (r % 2)
        rdmx_sched_send(s, r - 1, RDMX_SB_RECV, 0, bytes);
    else
        rdmx_sched_recv(s, r + 1, RDMX_SB_RECV, 0, bytes);
    rdmx_sched_round(s);
}

rdmx_status_t rdmx_coll_allreduce_recursive_doubling(rdmx_sched_t *s,
                                                     const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    int pof2 = rdmx_coll_pof2_floor(p), rem = p - pof2;
    size_t bytes = a->count * a->esize;
    rdmx_sched_tmp(s, 0, bytes);
    int init;
    int newrank = fold(s, a, rem, &init);
    if (newrank >= 0) {
        for (int mask = 1; mask < pof2; mask <<= 1) {
            int dst = unfold(newrank ^ mask, rem);
            rdmx_sched_send(s, dst, init, 0, bytes);
            rdmx_sched_recv(s, dst, RDMX_SB_TMP, 0, bytes);
            rdmx_sched_reduce3(s, RDMX_SB_TMP, 0, init, 0, RDMX_SB_RECV, 0,
                               a->count, dst > r);
            rdmx_sched_round(s);
            init = RDMX_SB_RECV;
        }
        settle(s, a, init);
    }
    unfold_result(s, a, rem);
    return s->err;
}

/* Every rank sends its vector to every other and reduces all p of them
 * itself, in rank order (so every rank computes the same result, also for
 * non-commutative operations): one round of p-1 messages each way instead
 * of log p dependent rounds. On a host with more ranks than cores every
 * round costs a scheduling pass over all ranks, which is what this saves. */
rdmx_status_t rdmx_coll_allreduce_direct(rdmx_sched_t *s,
                                         const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    size_t bytes = a->count * a->esize;
    if (p == 1) {
        settle(s, a, RDMX_SB_SEND);
        return s->err;
    }
    rdmx_sched_tmp(s, 0, bytes * (size_t)p);
    for (int j = 0; j < p; j++) {
        if (j == r)
            continue;
        rdmx_sched_send(s, j, RDMX_SB_SEND, 0, bytes);
        rdmx_sched_recv(s, j, RDMX_SB_TMP, (size_t)j * bytes, bytes);
    }
    /* Our own vector: in SEND, or in RECV when in place, which the first
     * reduction overwrites, so it moves to our TMP slot first. */
    int own = RDMX_SB_SEND;
    size_t own_off = 0;
    if (a->in_place) {
        rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_TMP, (size_t)r * bytes,
                        bytes);
        own = RDMX_SB_TMP;
        own_off = (size_t)r * bytes;
    }
#define SLOT_BUF(j) ((j) == r ? own : RDMX_SB_TMP)
#define SLOT_OFF(j) ((j) == r ? own_off : (size_t)(j) * bytes)
    rdmx_sched_reduce3(s, SLOT_BUF(0), SLOT_OFF(0), SLOT_BUF(1), SLOT_OFF(1),
                       RDMX_SB_RECV, 0, a->count, 0);
    for (int j = 2; j < p; j++)
        rdmx_sched_reduce(s, SLOT_BUF(j), SLOT_OFF(j), RDMX_SB_RECV, 0,
                          a->count, 1);
#undef SLOT_BUF
#undef SLOT_OFF
    rdmx_sched_round(s);
    return s->err;
}

rdmx_status_t rdmx_coll_allreduce_rabenseifner(rdmx_sched_t *s,
                                               const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    int pof2 = rdmx_coll_pof2_floor(p), rem = p - pof2;
    size_t es = a->esize, bytes = a->count * es;
    size_t *disp = malloc((size_t)(pof2 + 1) * sizeof(size_t));
    if (!disp)
        return RDMX_ERR_NOMEM;
    rdmx_coll_blocks(a->count, pof2, disp);
#define CNT(lo, hi) (disp[hi] - disp[lo])
    const int acc = RDMX_SB_RECV;
    rdmx_sched_tmp(s, 0, bytes);
    int init;
    int newrank = fold(s, a, rem, &init);
    if (newrank >= 0) {
        int send_idx, last_idx, recv_idx;
        rdmx_coll_halving_reduce_scatter(s, r, newrank, rem, pof2, disp, es,
                                         acc, &init, RDMX_SB_TMP, 1, &send_idx,
                                         &last_idx);
        settle(s, a, init); /* one rank: nothing was exchanged */
        recv_idx = send_idx;
        int mask = pof2 >> 1;
        while (mask > 0) {
            int newdst = newrank ^ mask, dst = unfold(newdst, rem);
            int slo, shi, rlo, rhi;
            if (newrank < newdst) {
                if (mask != pof2 / 2)
                    last_idx = last_idx + pof2 / (mask * 2);
                recv_idx = send_idx + pof2 / (mask * 2);
                slo = send_idx, shi = recv_idx, rlo = recv_idx, rhi = last_idx;
            } else {
                recv_idx = send_idx - pof2 / (mask * 2);
                slo = send_idx, shi = last_idx, rlo = recv_idx, rhi = send_idx;
            }
            rdmx_sched_send(s, dst, acc, disp[slo] * es, CNT(slo, shi) * es);
            rdmx_sched_recv(s, dst, acc, disp[rlo] * es, CNT(rlo, rhi) * es);
            rdmx_sched_round(s);
            if (newrank > newdst)
                send_idx = recv_idx;
            mask >>= 1;
        }
    }
    unfold_result(s, a, rem);
#undef CNT
    free(disp);
    return s->err;
}

/* Reduce-scatter around the ring, then allgather around it: each rank
 * sends 2(p-1)/p of the vector — bandwidth-optimal, but the combination
 * order rotates with the block, so commutative ops only. */
rdmx_status_t rdmx_coll_allreduce_ring(rdmx_sched_t *s,
                                       const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    size_t es = a->esize;
    size_t *start = malloc((size_t)(p + 1) * sizeof(size_t));
    size_t *offs = malloc((size_t)p * sizeof(size_t));
    size_t *lens = malloc((size_t)p * sizeof(size_t));
    if (!start || !offs || !lens) {
        free(start);
        free(offs);
        free(lens);
        return RDMX_ERR_NOMEM;
    }
    rdmx_coll_blocks(a->count, p, start);
    rdmx_sched_tmp(s, 0, (start[1] - start[0]) * es);
    if (p == 1)
        settle(s, a, RDMX_SB_SEND);
    /* Every block is combined with this rank's input exactly once, and
     * each RECV block is written first by that combination (or, for this
     * rank's own block, by the allgather): the input is never copied to
     * RECV as a whole. The first block sent is this rank's input. */
    int right = (r + 1) % p, left = (r - 1 + p) % p;
    for (int i = 0; i < p - 1; i++) {
        int sb = (r - i + p) % p, rb = (r - i - 1 + p) % p;
        size_t rn = start[rb + 1] - start[rb];
        rdmx_sched_send(s, right, i == 0 ? RDMX_SB_SEND : RDMX_SB_RECV,
                        start[sb] * es, (start[sb + 1] - start[sb]) * es);
        rdmx_sched_recv(s, left, RDMX_SB_TMP, 0, rn * es);
        rdmx_sched_reduce3(s, RDMX_SB_TMP, 0, RDMX_SB_SEND, start[rb] * es,
                           RDMX_SB_RECV, start[rb] * es, rn, 0);
        rdmx_sched_round(s);
    }
    /* Rank i now holds the reduced block i + 1: circulate them. */
    for (int i = 0; i < p; i++) {
        int b = (i + 1) % p; /* block owned by rank i */
        offs[i] = start[b] * es;
        lens[i] = (start[b + 1] - start[b]) * es;
    }
    rdmx_coll_ring_steps(s, RDMX_SB_RECV, offs, lens, r, 0, p, 0);
    free(start);
    free(offs);
    free(lens);
    return s->err;
}

rdmx_status_t rdmx_coll_allreduce_reduce_bcast(rdmx_sched_t *s,
                                               const rdmx_coll_args_t *a)
{
    rdmx_coll_args_t b = *a;
    b.root = 0;
    size_t bytes = a->count * a->esize;
    /* Everyone accumulates in RECV: it is the output everywhere. */
    int init = RDMX_SB_SEND;
    rdmx_coll_reduce_tree_steps(s, &b, RDMX_SB_RECV, &init, 0);
    if (a->rank == 0)
        settle(s, a, init); /* one rank */
    rdmx_sched_round(s);
    b.bytes = bytes;
    /* On one host every rank reads the result from rank 0 at once, as the
     * bcast table chooses there. */
    if (a->single_host && a->size <= 16 && bytes > 16384)
        return rdmx_coll_bcast_linear(s, &b);
    return rdmx_coll_bcast_binomial(s, &b);
}
