/*
 * latency — ping-pong between ranks 0 and 1 (OSU osu_latency): half the
 * round-trip time of a blocking MPI_Send/MPI_Recv pair. Ranks above 1 only
 * join the barriers, so the program runs under any rank count >= 2.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const perf_bench_t bench = {
    .name = "latency",
    .description = "point-to-point latency, ping-pong between ranks 0 and 1",
    .min_ranks = 2,
    .default_min_size = 1,
    .default_max_size = PERF_DEFAULT_MAX_SIZE,
    .iters_small = 10000,
    .warmup_small = 100,
    .iters_large = 1000,
    .warmup_large = 10,
};

static long validate(perf_opts_t *o, char *sbuf, char *rbuf, size_t size)
{
    long bad = 0;
    for (long seq = 0; seq < 3; seq++) {
        if (o->rank == 0) {
            perf_fill(sbuf, size, 0, size, seq);
            memset(rbuf, 0, size);
            MPI_Send(sbuf, (int)size, MPI_BYTE, 1, 2, MPI_COMM_WORLD);
            MPI_Recv(rbuf, (int)size, MPI_BYTE, 1, 2, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            bad += perf_check(rbuf, size, 1, size, seq, "pong");
        } else if (o->rank == 1) {
            memset(rbuf, 0, size);
            MPI_Recv(rbuf, (int)size, MPI_BYTE, 0, 2, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            bad += perf_check(rbuf, size, 0, size, seq, "ping");
            perf_fill(sbuf, size, 1, size, seq);
            MPI_Send(sbuf, (int)size, MPI_BYTE, 0, 2, MPI_COMM_WORLD);
        }
    }
    return bad;
}

int main(int argc, char **argv)
{
    perf_opts_t o;
    static const perf_column_t cols[] = {{"Latency (us)", "latency_us", 2}};

    MPI_Init(&argc, &argv);
    int rc = perf_parse_args(argc, argv, &bench, &o);
    if (rc != 0) {
        MPI_Finalize();
        return rc < 0 ? 1 : 0;
    }
    char *sbuf = perf_alloc(o.max_size);
    char *rbuf = perf_alloc(o.max_size);

    perf_out_begin(&bench, &o, cols, 1, 1);
    for (size_t size = o.min_size; size <= o.max_size;
         size = perf_next_size(size)) {
        long iters = perf_iterations(&bench, &o, size);
        long warm = perf_warmup(&bench, &o, size);
        double t0 = 0;

        MPI_Barrier(MPI_COMM_WORLD);
        for (long i = 0; i < iters + warm; i++) {
            if (i == warm)
                t0 = MPI_Wtime();
            if (o.rank == 0) {
                MPI_Send(sbuf, (int)size, MPI_BYTE, 1, 1, MPI_COMM_WORLD);
                MPI_Recv(rbuf, (int)size, MPI_BYTE, 1, 1, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE);
            } else if (o.rank == 1) {
                MPI_Recv(rbuf, (int)size, MPI_BYTE, 0, 1, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE);
                MPI_Send(sbuf, (int)size, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
            }
        }
        double lat = (MPI_Wtime() - t0) * 1e6 / (2.0 * iters);

        if (o.validate)
            perf_validation_result(validate(&o, sbuf, rbuf, size), bench.name,
                                   size);
        perf_out_row(size, &lat);
    }
    perf_out_end();

    free(sbuf);
    free(rbuf);
    MPI_Finalize();
    return 0;
}
