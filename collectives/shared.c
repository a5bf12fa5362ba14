/*
 * allreduce_shared.c — allreduce through node-shared memory, for blocking
 * calls on a communicator whose ranks all share one host and a collective
 * area each (args->shared_bytes, from the shm transport).
 *
 * Per chunk of the vector (at most one area, or half of one when the
 * vector needs several, so that consecutive chunks alternate halves):
 *   1. every rank copies its chunk of input into its own area;  sync
 *   2. rank r reduces slice r of the chunk from all p areas, in rank order,
 *      into its output, and copies that slice back into its own area (only
 *      rank r reads slice r of any area in this step);            sync
 *   3. every rank copies the other p-1 reduced slices from their owners'
 *      areas into its output.
 * A last sync ends the call, so no rank reads an area its owner may
 * rewrite in the next collective. With two or more chunks the halves
 * alternate: chunk c+2 overwrites a half only after the first sync of
 * chunk c+1, which no rank passes before finishing step 3 of chunk c.
 *
 * A sync is a round of zero-byte messages: everyone to everyone up to 16
 * ranks (one scheduling pass when ranks share cores), dissemination above.
 *
 * Against message-based algorithms every byte moves with memcpy from
 * mapped memory, never through a ring or process_vm_readv, and each rank
 * reduces 1/p of the vector: per rank 3n bytes copied and (p-1)n/p
 * reduced, with 3 syncs. 8 ranks on 2 cores, 1 MiB: see select.c.
 */
#include "coll.h"

static void sync_all(rdmx_sched_t *s, int r, int p)
{
    if (p <= 16) {
        for (int i = 1; i < p; i++)
            rdmx_sched_send0(s, (r + i) % p);
        for (int i = 1; i < p; i++)
            rdmx_sched_recv0(s, (r - i + p) % p);
        rdmx_sched_round(s);
        return;
    }
    for (int d = 1; d < p; d <<= 1) {
        rdmx_sched_send0(s, (r + d) % p);
        rdmx_sched_recv0(s, (r - d + p) % p);
        rdmx_sched_round(s);
    }
}

/* Slice j of a chunk of m elements: [m j / p, m (j+1) / p). */
static size_t slice_lo(size_t m, int j, int p)
{
    return m * (size_t)j / (size_t)p;
}

rdmx_status_t rdmx_coll_allreduce_shared(rdmx_sched_t *s,
                                         const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    size_t es = a->esize, count = a->count;
    if (!count || !es)
        return s->err;
    if (p == 1) {
        rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_RECV, 0, count * es);
        return s->err;
    }
    size_t area = a->shared_bytes;
    size_t chunk = count * es <= area ? count : area / 2 / es;
    if (!chunk)
        return RDMX_ERR_INVALID; /* not usable: an element exceeds half */
    size_t nchunks = (count + chunk - 1) / chunk;
    /* Non-commutative: acc = acc op next, in rank order. */
    int swap = !a->commutative;
    for (size_t c = 0; c < nchunks; c++) {
        size_t base = c * chunk;
        size_t m = count - base < chunk ? count - base : chunk;
        size_t half = nchunks == 1 ? 0 : (c % 2) * (area / 2);
        rdmx_sched_copy(s, RDMX_SB_SEND, base * es, RDMX_SB_SHARED, half,
                        m * es);
        sync_all(s, r, p);
        size_t lo = slice_lo(m, r, p), k = slice_lo(m, r + 1, p) - lo;
        size_t off = half + lo * es, out = (base + lo) * es;
        if (k) {
            rdmx_sched_reduce3_from(s, 0, RDMX_SB_SHARED, off, 1,
                                    RDMX_SB_SHARED, off, RDMX_SB_RECV, out, k,
                                    0);
            for (int j = 2; j < p; j++)
                rdmx_sched_reduce3_from(s, j, RDMX_SB_SHARED, off, r,
                                        RDMX_SB_RECV, out, RDMX_SB_RECV, out,
                                        k, swap);
            rdmx_sched_copy(s, RDMX_SB_RECV, out, RDMX_SB_SHARED, off, k * es);
        }
        sync_all(s, r, p);
        for (int j = 0; j < p; j++) {
            size_t jlo = slice_lo(m, j, p), jk = slice_lo(m, j + 1, p) - jlo;
            if (j != r)
                rdmx_sched_copy_from(s, j, RDMX_SB_SHARED, half + jlo * es,
                                     RDMX_SB_RECV, (base + jlo) * es, jk * es);
        }
    }
    sync_all(s, r, p);
    return s->err;
}
