/*
 * collective.c — latency of one blocking collective (OSU osu_<coll>). Built
 * once per collective with -DPERF_COLL=<id> (see the PERF_COLL_* list), so
 * each benchmark is its own program as in OSU.
 *
 * Every call is timed on its own and followed by an untimed MPI_Barrier, so a
 * fast rank cannot start the next call while others still work on the
 * previous one. Each rank averages its own times; the output is the average,
 * minimum and maximum of those averages over ranks. Sizes are bytes per rank
 * (per destination for alltoall); reductions use MPI_FLOAT with MPI_SUM and
 * start at 4 bytes. The root is rank 0.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PERF_COLL_BARRIER 1
#define PERF_COLL_BCAST 2
#define PERF_COLL_REDUCE 3
#define PERF_COLL_ALLREDUCE 4
#define PERF_COLL_GATHER 5
#define PERF_COLL_SCATTER 6
#define PERF_COLL_ALLGATHER 7
#define PERF_COLL_ALLTOALL 8

#ifndef PERF_COLL
#error "build with -DPERF_COLL=<1..8>"
#endif

#if PERF_COLL == PERF_COLL_BARRIER
#define NAME "barrier"
#define DESC "MPI_Barrier latency"
#elif PERF_COLL == PERF_COLL_BCAST
#define NAME "bcast"
#define DESC "MPI_Bcast latency, root 0"
#elif PERF_COLL == PERF_COLL_REDUCE
#define NAME "reduce"
#define DESC "MPI_Reduce latency, MPI_FLOAT/MPI_SUM, root 0"
#elif PERF_COLL == PERF_COLL_ALLREDUCE
#define NAME "allreduce"
#define DESC "MPI_Allreduce latency, MPI_FLOAT/MPI_SUM"
#elif PERF_COLL == PERF_COLL_GATHER
#define NAME "gather"
#define DESC "MPI_Gather latency, root 0, size per rank"
#elif PERF_COLL == PERF_COLL_SCATTER
#define NAME "scatter"
#define DESC "MPI_Scatter latency, root 0, size per rank"
#elif PERF_COLL == PERF_COLL_ALLGATHER
#define NAME "allgather"
#define DESC "MPI_Allgather latency, size per rank"
#elif PERF_COLL == PERF_COLL_ALLTOALL
#define NAME "alltoall"
#define DESC "MPI_Alltoall latency, size per destination"
#else
#error "unknown PERF_COLL"
#endif

#define IS_REDUCTION                                                           \
    (PERF_COLL == PERF_COLL_REDUCE || PERF_COLL == PERF_COLL_ALLREDUCE)

static const perf_bench_t bench = {
    .name = NAME,
    .description = DESC,
    .min_ranks = 1,
    .default_min_size = IS_REDUCTION ? 4 : 1,
    .default_max_size = PERF_DEFAULT_MAX_SIZE,
    .iters_small = 1000,
    .warmup_small = 200,
    .iters_large = 100,
    .warmup_large = 10,
};

typedef struct bufs {
    char *send, *recv;
} bufs_t;

/* Runs the collective once with `size` bytes per rank. */
static void run_once(const perf_opts_t *o, bufs_t *b, size_t size)
{
    int n = (int)size;
    (void)b;
    (void)n;
    (void)o;
#if PERF_COLL == PERF_COLL_BARRIER
    MPI_Barrier(MPI_COMM_WORLD);
#elif PERF_COLL == PERF_COLL_BCAST
    MPI_Bcast(b->send, n, MPI_BYTE, 0, MPI_COMM_WORLD);
#elif PERF_COLL == PERF_COLL_REDUCE
    MPI_Reduce(b->send, b->recv, n / 4, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD);
#elif PERF_COLL == PERF_COLL_ALLREDUCE
    MPI_Allreduce(b->send, b->recv, n / 4, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
#elif PERF_COLL == PERF_COLL_GATHER
    MPI_Gather(b->send, n, MPI_BYTE, b->recv, n, MPI_BYTE, 0, MPI_COMM_WORLD);
#elif PERF_COLL == PERF_COLL_SCATTER
    MPI_Scatter(b->send, n, MPI_BYTE, b->recv, n, MPI_BYTE, 0, MPI_COMM_WORLD);
#elif PERF_COLL == PERF_COLL_ALLGATHER
    MPI_Allgather(b->send, n, MPI_BYTE, b->recv, n, MPI_BYTE, MPI_COMM_WORLD);
#elif PERF_COLL == PERF_COLL_ALLTOALL
    MPI_Alltoall(b->send, n, MPI_BYTE, b->recv, n, MPI_BYTE, MPI_COMM_WORLD);
#endif
}

/* Fills the inputs, runs the collective once, checks the outputs. Returns
 * the number of wrong bytes (or floats) on this rank. */
static long validate(const perf_opts_t *o, bufs_t *b, size_t size)
{
    int me = o->rank, np = o->nranks;
    long bad = 0;
    const long seq = 7;
    (void)me;
    (void)np;
    (void)seq;
#if PERF_COLL == PERF_COLL_BARRIER
    (void)b;
    (void)size;
    run_once(o, b, size);
#elif PERF_COLL == PERF_COLL_BCAST
    if (me == 0)
        perf_fill(b->send, size, 0, size, seq);
    else
        memset(b->send, 0, size);
    run_once(o, b, size);
    bad = perf_check(b->send, size, 0, size, seq, "bcast buffer");
#elif IS_REDUCTION
    size_t cnt = size / 4;
    float *in = (float *)b->send, *res = (float *)b->recv;
    /* Small integers: every partial sum is exact in float, whatever the
     * reduction order. */
    for (size_t i = 0; i < cnt; i++) {
        in[i] = (float)((me + 1) * (int)(i % 7 + 1));
        res[i] = -1.0f;
    }
    run_once(o, b, size);
    if (PERF_COLL == PERF_COLL_ALLREDUCE || me == 0) {
        for (size_t i = 0; i < cnt; i++) {
            float want = (float)(np * (np + 1) / 2 * (int)(i % 7 + 1));
            if (res[i] != want) {
                if (!bad)
                    fprintf(stderr,
                            "perf: validation failed on rank %d "
                            "(%s, size %zu): element %zu is %g, expected "
                            "%g\n",
                            me, NAME, size, i, res[i], want);
                bad++;
            }
        }
    }
#elif PERF_COLL == PERF_COLL_GATHER || PERF_COLL == PERF_COLL_ALLGATHER
    perf_fill(b->send, size, me, size, seq);
    memset(b->recv, 0, size * (size_t)np);
    run_once(o, b, size);
    if (PERF_COLL == PERF_COLL_ALLGATHER || me == 0)
        for (int r = 0; r < np; r++)
            bad += perf_check(b->recv + (size_t)r * size, size, r, size, seq,
                              "gathered block");
#elif PERF_COLL == PERF_COLL_SCATTER
    if (me == 0)
        for (int r = 0; r < np; r++)
            perf_fill(b->send + (size_t)r * size, size, r, size, seq);
    memset(b->recv, 0, size);
    run_once(o, b, size);
    bad = perf_check(b->recv, size, me, size, seq, "scattered block");
#elif PERF_COLL == PERF_COLL_ALLTOALL
    for (int r = 0; r < np; r++)
        perf_fill(b->send + (size_t)r * size, size, me * np + r, size, seq);
    memset(b->recv, 0, size * (size_t)np);
    run_once(o, b, size);
    for (int r = 0; r < np; r++)
        bad += perf_check(b->recv + (size_t)r * size, size, r * np + me, size,
                          seq, "alltoall block");
#endif
    return bad;
}

int main(int argc, char **argv)
{
    perf_opts_t o;
    static const perf_column_t cols[] = {
        {"Avg Latency(us)", "avg_latency_us", 2},
        {"Min Latency(us)", "min_latency_us", 2},
        {"Max Latency(us)", "max_latency_us", 2},
        {"Iterations", "iterations", -1}};

    MPI_Init(&argc, &argv);
    int rc = perf_parse_args(argc, argv, &bench, &o);
    if (rc != 0) {
        MPI_Finalize();
        return rc < 0 ? 1 : 0;
    }
    int has_size = PERF_COLL != PERF_COLL_BARRIER;
    if (!has_size)
        o.min_size = o.max_size = 0; /* one row */

    /* Rooted and all-to-all collectives need size * ranks on one side. */
    size_t per = o.max_size ? o.max_size : 1;
    size_t wide = per * (size_t)o.nranks;
    bufs_t b;
    b.send = perf_alloc(PERF_COLL == PERF_COLL_SCATTER ||
                                PERF_COLL == PERF_COLL_ALLTOALL
                            ? wide
                            : per);
    b.recv = perf_alloc(PERF_COLL == PERF_COLL_GATHER ||
                                PERF_COLL == PERF_COLL_ALLGATHER ||
                                PERF_COLL == PERF_COLL_ALLTOALL
                            ? wide
                            : per);

    perf_out_begin(&bench, &o, cols, 4, has_size);
    for (size_t size = o.min_size; size <= o.max_size;
         size = perf_next_size(size)) {
        if (IS_REDUCTION && size < 4)
            continue; /* less than one float */
        long iters = perf_iterations(&bench, &o, size);
        long warm = perf_warmup(&bench, &o, size);
        double total = 0;

        MPI_Barrier(MPI_COMM_WORLD);
        for (long i = 0; i < warm; i++)
            run_once(&o, &b, size);
        MPI_Barrier(MPI_COMM_WORLD);
        for (long i = 0; i < iters; i++) {
            double t0 = MPI_Wtime();
            run_once(&o, &b, size);
            total += MPI_Wtime() - t0;
            MPI_Barrier(MPI_COMM_WORLD);
        }
        double v[4];
        perf_reduce_stats(total / iters, &v[1], &v[0], &v[2]);
        v[3] = (double)iters;

        if (o.validate)
            perf_validation_result(validate(&o, &b, size), bench.name, size);
        perf_out_row(size, v);
        if (!has_size)
            break;
    }
    perf_out_end();

    free(b.send);
    free(b.recv);
    MPI_Finalize();
    return 0;
}
