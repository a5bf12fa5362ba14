/*
 * shared.c — collectives through node-shared memory, for blocking calls
 * on a communicator whose ranks all share one host and a collective area
 * each (args->shared_bytes, from the shm transport's coll_area op; see
 * docs/ARCHITECTURE.md). A rank writes only its own area; the others read
 * it between syncs, rounds of zero-byte messages: everyone to everyone up
 * to 16 ranks (one scheduling pass when ranks share cores), dissemination
 * above. A call ends with "done reading your area" tokens that the owner
 * does not wait for: its next collective that writes the area waits for
 * them first (rdmx_sched_recv0_release, exec.c), usually long after they
 * arrived.
 *
 * Against message-based algorithms every byte moves by memcpy from mapped
 * memory, never through a ring (two copies and a hand-over per message)
 * or process_vm_readv (which pins pages: a third of memcpy's speed on
 * this VM).
 *
 * allreduce, per chunk of the vector (at most one area, or half of one
 * when the vector needs several, so that consecutive chunks alternate
 * halves):
 *   1. every rank copies its chunk of input into its own area;  sync
 *   2. rank r reduces slice r of the chunk from all p areas, in rank order,
 *      into its output, and copies that slice back into its own area (only
 *      rank r reads slice r of any area in this step);            sync
 *   3. every rank copies the other p-1 reduced slices from their owners'
 *      areas into its output.
 * With two or more chunks the halves alternate: chunk c+2 overwrites a
 * half only after the first sync of chunk c+1, which no rank passes
 * before finishing step 3 of chunk c. Per rank 3n bytes copied and
 * (p-1)n/p reduced, 2 syncs and the release tokens.
 *
 * reduce: the same up to step 2, then only the root copies the slices
 * out (a sync, tokens to the root, the root's release tokens).
 *
 * allgather: every rank copies its block into its area, sync, copies the
 * p-1 other blocks out of their owners' areas; alltoall: every rank
 * copies its p-1 outgoing blocks into its area, sync, copies the block
 * meant for it out of each peer's area. Both in chunks (halves alternating
 * as above) when the data exceeds the area; one sync and the release
 * tokens for one chunk.
 */
#include "coll.h"

void rdmx_coll_shared_sync(rdmx_sched_t *s, int r, int p)
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

/* The end of a call: tell every rank we are done reading its area and
 * take their word for ours without waiting (rdmx_sched_recv0_release):
 * the next collective that writes our area waits for it. Above 16 ranks
 * a sync instead. */
static void shared_release(rdmx_sched_t *s, int r, int p)
{
    /* Beyond 16 ranks p^2 tokens cost more than a waited-for sync. */
    if (p > 16) {
        rdmx_coll_shared_sync(s, r, p);
        return;
    }
    for (int i = 1; i < p; i++)
        rdmx_sched_send0(s, (r + i) % p);
    for (int i = 1; i < p; i++)
        rdmx_sched_recv0_release(s, (r - i + p) % p);
    rdmx_sched_round(s);
}

/* Slice j of a chunk of m elements: [m j / p, m (j+1) / p). */
static size_t slice_lo(size_t m, int j, int p)
{
    return m * (size_t)j / (size_t)p;
}

/* One chunk of a reduction's vector, in elements: where it starts, its
 * length, the half of the area it uses, and this rank's slice of it. */
typedef struct chunk {
    size_t base, m, half, lo, k;
} chunk_t;

/* The trivial cases of a reduction (nothing, or one rank: a copy) and the
 * chunk length; 0 when nothing is left to build (s->err says why). */
static int reduce_plan(rdmx_sched_t *s, const rdmx_coll_args_t *a,
                       size_t *chunk, size_t *nchunks)
{
    size_t es = a->esize, count = a->count;
    if (!count || !es)
        return 0;
    if (a->size == 1) {
        rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_RECV, 0, count * es);
        return 0;
    }
    *chunk = count * es <= a->shared_bytes ? count : a->shared_bytes / 2 / es;
    if (!*chunk) {
        s->err = RDMX_ERR_INVALID; /* not usable: an element exceeds half */
        return 0;
    }
    *nchunks = (count + *chunk - 1) / *chunk;
    return 1;
}

/* Steps 1 and 2 of chunk c: stage our input, sync, and reduce slice r of
 * every area, in rank order (non-commutative: acc = acc op next), into
 * `acc`: RECV at the slice's place in the vector, or TMP at 0; `publish`:
 * copy the reduced slice back into our area for the others to read. */
static chunk_t reduce_chunk(rdmx_sched_t *s, const rdmx_coll_args_t *a,
                            size_t c, size_t chunk, size_t nchunks, int acc,
                            int publish)
{
    int r = a->rank, p = a->size;
    size_t es = a->esize;
    chunk_t ch;
    ch.base = c * chunk;
    ch.m = a->count - ch.base < chunk ? a->count - ch.base : chunk;
    ch.half = nchunks == 1 ? 0 : (c % 2) * (a->shared_bytes / 2);
    ch.lo = slice_lo(ch.m, r, p);
    ch.k = slice_lo(ch.m, r + 1, p) - ch.lo;
    rdmx_sched_copy(s, RDMX_SB_SEND, ch.base * es, RDMX_SB_SHARED, ch.half,
                    ch.m * es);
    rdmx_coll_shared_sync(s, r, p);
    size_t off = ch.half + ch.lo * es;
    size_t acc_off = acc == RDMX_SB_RECV ? (ch.base + ch.lo) * es : 0;
    if (ch.k) {
        rdmx_sched_reduce3_from(s, 0, RDMX_SB_SHARED, off, 1, RDMX_SB_SHARED,
                                off, acc, acc_off, ch.k, 0);
        for (int j = 2; j < p; j++)
            rdmx_sched_reduce3_from(s, j, RDMX_SB_SHARED, off, r, acc, acc_off,
                                    acc, acc_off, ch.k, !a->commutative);
        if (publish)
            rdmx_sched_copy(s, acc, acc_off, RDMX_SB_SHARED, off, ch.k * es);
    }
    return ch;
}

/* Step 3 for one rank: the reduced slices of the others (all but `skip`)
 * from their areas into RECV. */
static void gather_slices(rdmx_sched_t *s, const rdmx_coll_args_t *a,
                          const chunk_t *ch, int skip)
{
    size_t es = a->esize;
    for (int j = 0; j < a->size; j++) {
        size_t lo = slice_lo(ch->m, j, a->size);
        size_t k = slice_lo(ch->m, j + 1, a->size) - lo;
        if (j != skip)
            rdmx_sched_copy_from(s, j, RDMX_SB_SHARED, ch->half + lo * es,
                                 RDMX_SB_RECV, (ch->base + lo) * es, k * es);
    }
}

rdmx_status_t rdmx_coll_allreduce_shared(rdmx_sched_t *s,
                                         const rdmx_coll_args_t *a)
{
    size_t chunk, nchunks;
    if (!reduce_plan(s, a, &chunk, &nchunks))
        return s->err;
    for (size_t c = 0; c < nchunks; c++) {
        chunk_t ch = reduce_chunk(s, a, c, chunk, nchunks, RDMX_SB_RECV, 1);
        rdmx_coll_shared_sync(s, a->rank, a->size);
        gather_slices(s, a, &ch, a->rank);
    }
    shared_release(s, a->rank, a->size);
    return s->err;
}

/* reduce: as allreduce up to the reduced slices (a non-root reduces into
 * TMP, the root straight into its output); then everyone tells only the
 * root, which copies the slices out, and the root's "done" to everyone
 * ends the call. */
rdmx_status_t rdmx_coll_reduce_shared(rdmx_sched_t *s,
                                      const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size, root = a->root;
    size_t chunk, nchunks;
    if (!reduce_plan(s, a, &chunk, &nchunks))
        return s->err;
    if (r != root)
        rdmx_sched_tmp(s, 0, (chunk / (size_t)p + 1) * a->esize);
    for (size_t c = 0; c < nchunks; c++) {
        /* The root keeps its slice in its output: nobody reads it. */
        chunk_t ch = reduce_chunk(s, a, c, chunk, nchunks,
                                  r == root ? RDMX_SB_RECV : RDMX_SB_TMP,
                                  r != root);
        if (r != root) {
            rdmx_sched_send0(s, root);
            rdmx_sched_round(s);
            continue;
        }
        for (int i = 1; i < p; i++)
            rdmx_sched_recv0(s, (root + i) % p);
        gather_slices(s, a, &ch, root);
    }
    /* Done reading the others' areas; the root's own was read before
     * the last tokens it received. */
    if (r == root)
        for (int i = 1; i < p; i++)
            rdmx_sched_send0(s, (root + i) % p);
    else
        rdmx_sched_recv0_release(s, root);
    rdmx_sched_round(s);
    return s->err;
}

/* Chunks of `piece` bytes per block when `n` bytes per block must fit
 * `blocks` blocks into the area: whole blocks if they fit, else half an
 * area's share each (0: the area is too small). */
static size_t shared_piece(size_t area, size_t n, int blocks)
{
    if (n * (size_t)blocks <= area)
        return n;
    return area / 2 / (size_t)blocks;
}

/* allgather (alltoall 0) and alltoall (1): the same chunk loop. Our area
 * holds our block (allgather) or the piece for rank j at j * piece
 * (alltoall); each rank copies out of every other area what is meant for
 * it. */
static rdmx_status_t blocks_shared(rdmx_sched_t *s, const rdmx_coll_args_t *a,
                                   int alltoall)
{
    int r = a->rank, p = a->size;
    size_t n = a->bytes, area = a->shared_bytes;
    size_t piece = shared_piece(area, n, alltoall ? p : 1);
    rdmx_sched_copy(s, RDMX_SB_SEND, alltoall ? (size_t)r * n : 0,
                    RDMX_SB_RECV, (size_t)r * n, n);
    if (!n || p == 1)
        return s->err;
    if (!piece)
        return RDMX_ERR_INVALID;
    size_t nchunks = (n + piece - 1) / piece;
    for (size_t c = 0; c < nchunks; c++) {
        size_t off = c * piece, len = n - off < piece ? n - off : piece;
        size_t half = nchunks == 1 ? 0 : (c % 2) * (area / 2);
        if (!alltoall)
            rdmx_sched_copy(s, RDMX_SB_SEND, off, RDMX_SB_SHARED, half, len);
        for (int j = 0; alltoall && j < p; j++)
            if (j != r)
                rdmx_sched_copy(s, RDMX_SB_SEND, (size_t)j * n + off,
                                RDMX_SB_SHARED, half + (size_t)j * piece, len);
        rdmx_coll_shared_sync(s, r, p);
        size_t from = half + (alltoall ? (size_t)r * piece : 0);
        for (int i = 1; i < p; i++) {
            int j = (r + i) % p;
            rdmx_sched_copy_from(s, j, RDMX_SB_SHARED, from, RDMX_SB_RECV,
                                 (size_t)j * n + off, len);
        }
    }
    shared_release(s, r, p);
    return s->err;
}

rdmx_status_t rdmx_coll_allgather_shared(rdmx_sched_t *s,
                                         const rdmx_coll_args_t *a)
{
    return blocks_shared(s, a, 0);
}

rdmx_status_t rdmx_coll_alltoall_shared(rdmx_sched_t *s,
                                        const rdmx_coll_args_t *a)
{
    return blocks_shared(s, a, 1);
}
