/*
 * allgather.c — allgather: recursive doubling (powers of two), Bruck
 * (ceil(log2 p) rounds for any p) and ring (p-1 rounds, bandwidth
 * optimal); allgatherv on the ring.
 */
#include "coll.h"

#include <stdlib.h>

rdmx_status_t rdmx_coll_allgather_recursive_doubling(rdmx_sched_t *s,
                                                     const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    size_t b = a->bytes;
    if (p & (p - 1))
        return RDMX_ERR_INVALID;
    if (p == 1) {
        rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_RECV, 0, b);
        rdmx_sched_round(s);
    }
    for (int mask = 1; mask < p; mask <<= 1) {
        int dst = r ^ mask;
        size_t mine = (size_t)(r & ~(mask - 1)) * b;
        size_t theirs = (size_t)(dst & ~(mask - 1)) * b;
        if (mask == 1) {
            /* Our block from the send buffer: see first_step_from_send. */
            rdmx_sched_send(s, dst, RDMX_SB_SEND, 0, b);
            rdmx_sched_recv(s, dst, RDMX_SB_RECV, theirs, b);
            if (!a->in_place)
                rdmx_sched_copy_early(s, RDMX_SB_SEND, 0, RDMX_SB_RECV,
                                      mine, b);
            rdmx_sched_round(s);
            continue;
        }
        rdmx_sched_send(s, dst, RDMX_SB_RECV, mine, (size_t)mask * b);
        rdmx_sched_recv(s, dst, RDMX_SB_RECV, theirs, (size_t)mask * b);
        rdmx_sched_round(s);
    }
    return s->err;
}

/* TMP[i] collects the block of rank r + i; step k sends the first
 * min(k, p-k) blocks to r - k and receives as many from r + k. */
rdmx_status_t rdmx_coll_allgather_bruck(rdmx_sched_t *s,
                                        const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    size_t b = a->bytes;
    rdmx_sched_tmp(s, 0, (size_t)p * b);
    rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_TMP, 0, b);
    rdmx_sched_round(s);
    for (int k = 1; k < p; k <<= 1) {
        int n = k < p - k ? k : p - k;
        rdmx_sched_send(s, (r - k + p) % p, RDMX_SB_TMP, 0, (size_t)n * b);
        rdmx_sched_recv(s, (r + k) % p, RDMX_SB_TMP, (size_t)k * b,
                        (size_t)n * b);
        rdmx_sched_round(s);
    }
    rdmx_sched_copy(s, RDMX_SB_TMP, 0, RDMX_SB_RECV, (size_t)r * b,
                    (size_t)(p - r) * b);
    rdmx_sched_copy(s, RDMX_SB_TMP, (size_t)(p - r) * b, RDMX_SB_RECV, 0,
                    (size_t)r * b);
    rdmx_sched_round(s);
    return s->err;
}

/*
 * first_step_from_send: the first step sends our block from the send
 * buffer, not from its copy in the receive buffer. The copy then runs
 * while the step moves (rdmx_sched_copy_early), and the peer's read leaves
 * the receive buffer's lines alone: writing lines that another core has
 * just read costs an invalidation each, and the next call's copy into
 * them was 6 times slower (2 ranks on shm, 1 MiB: 150 us against 25).
 */
static rdmx_status_t ring(rdmx_sched_t *s, const rdmx_coll_args_t *a,
                          const size_t *offs, const size_t *lens)
{
    int r = a->rank, p = a->size;
    int right = (r + 1) % p, left = (r - 1 + p) % p;
    if (p == 1) {
        rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_RECV, offs[r], lens[r]);
        rdmx_sched_round(s);
        return s->err;
    }
    rdmx_sched_send(s, right, RDMX_SB_SEND, 0, lens[r]);
    rdmx_sched_recv(s, left, RDMX_SB_RECV, offs[left], lens[left]);
    if (!a->in_place)
        rdmx_sched_copy_early(s, RDMX_SB_SEND, 0, RDMX_SB_RECV, offs[r],
                              lens[r]);
    rdmx_sched_round(s);
    rdmx_coll_ring_steps(s, RDMX_SB_RECV, offs, lens, r, 0, p, 1);
    return s->err;
}

rdmx_status_t rdmx_coll_allgather_ring(rdmx_sched_t *s,
                                       const rdmx_coll_args_t *a)
{
    int p = a->size;
    size_t *offs = malloc(2 * (size_t)p * sizeof(size_t));
    if (!offs)
        return RDMX_ERR_NOMEM;
    size_t *lens = offs + p;
    for (int i = 0; i < p; i++) {
        offs[i] = (size_t)i * a->bytes;
        lens[i] = a->bytes;
    }
    rdmx_status_t st = ring(s, a, offs, lens);
    free(offs);
    return st;
}

rdmx_status_t rdmx_coll_allgatherv_ring(rdmx_sched_t *s,
                                        const rdmx_coll_args_t *a)
{
    return ring(s, a, a->offs, a->counts);
}
