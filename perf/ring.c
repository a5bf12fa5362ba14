/*
 * ring — every rank exchanges a message (default 1 KiB) with both
 * neighbours, left and right, for a number of rounds (default 1000), then
 * reports the total time (maximum over ranks). Meant for oversubscription:
 * with more ranks than cores, a runtime that spins without yielding makes
 * this take orders of magnitude longer.
 *
 * --sizes sets the message size (one value), --iterations the rounds.
 * --validate adds 16 checked rounds after the timed ones.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const perf_bench_t bench = {
    .name = "ring",
    .description = "neighbour exchange in a ring of all ranks, total time",
    .min_ranks = 1,
    .default_min_size = 1024,
    .default_max_size = 1024,
    .iters_small = 1000,
    .warmup_small = 0,
    .iters_large = 1000,
    .warmup_large = 0,
};

/* One round: receive from both neighbours while sending to both. */
static void exchange(const char *sbuf, char *from_left, char *from_right,
                     size_t size, int left, int right)
{
    MPI_Request req[4];
    MPI_Irecv(from_left, (int)size, MPI_BYTE, left, 1, MPI_COMM_WORLD, &req[0]);
    MPI_Irecv(from_right, (int)size, MPI_BYTE, right, 2, MPI_COMM_WORLD,
              &req[1]);
    MPI_Isend(sbuf, (int)size, MPI_BYTE, right, 1, MPI_COMM_WORLD, &req[2]);
    MPI_Isend(sbuf, (int)size, MPI_BYTE, left, 2, MPI_COMM_WORLD, &req[3]);
    MPI_Waitall(4, req, MPI_STATUSES_IGNORE);
}

int main(int argc, char **argv)
{
    perf_opts_t o;
    static const perf_column_t cols[] = {{"Rounds", "rounds", -1},
                                         {"Total time (s)", "total_s", 6},
                                         {"Per round (us)", "per_round_us", 2}};

    MPI_Init(&argc, &argv);
    int rc = perf_parse_args(argc, argv, &bench, &o);
    if (rc != 0) {
        MPI_Finalize();
        return rc < 0 ? 1 : 0;
    }
    size_t size = o.min_size;
    long rounds = perf_iterations(&bench, &o, size);
    long warm = perf_warmup(&bench, &o, size);
    int right = (o.rank + 1) % o.nranks;
    int left = (o.rank - 1 + o.nranks) % o.nranks;
    char *sbuf = perf_alloc(size);
    char *from_left = perf_alloc(size);
    char *from_right = perf_alloc(size);
    long bad = 0;

    perf_out_begin(&bench, &o, cols, 3, 1);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = 0;
    for (long r = 0; r < warm + rounds; r++) {
        if (r == warm)
            t0 = MPI_Wtime();
        exchange(sbuf, from_left, from_right, size, left, right);
    }
    double local = MPI_Wtime() - t0, total = 0;
    MPI_Reduce(&local, &total, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);

    /* Validation runs after the clock stops, with fresh data every round. */
    for (long r = 0; o.validate && r < 16; r++) {
        perf_fill(sbuf, size, o.rank, size, r);
        memset(from_left, 0, size);
        memset(from_right, 0, size);
        exchange(sbuf, from_left, from_right, size, left, right);
        bad += perf_check(from_left, size, left, size, r, "from left");
        bad += perf_check(from_right, size, right, size, r, "from right");
    }
    if (o.validate)
        perf_validation_result(bad, bench.name, size);
    double v[3] = {(double)rounds, total, total * 1e6 / rounds};
    perf_out_row(size, v);
    perf_out_end();

    free(sbuf);
    free(from_left);
    free(from_right);
    MPI_Finalize();
    return 0;
}
