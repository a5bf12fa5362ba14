/*
 * mbw_mr — multi-pair bandwidth and message rate (OSU osu_mbw_mr). With N
 * ranks, rank i < N/2 streams windows of messages to rank i + N/2, which
 * acknowledges each window. The clock runs on rank 0 between two barriers,
 * so the aggregate covers every pair finishing. Reports aggregate MB/s and
 * messages per second.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_DATA 100
#define TAG_ACK 101

static const perf_bench_t bench = {
    .name = "mbw_mr",
    .description = "multi-pair bandwidth and message rate, rank i -> i+N/2",
    .min_ranks = 2,
    .even_ranks = 1,
    .uses_window = 1,
    .default_min_size = 1,
    .default_max_size = PERF_DEFAULT_MAX_SIZE,
    .iters_small = 100,
    .warmup_small = 10,
    .iters_large = 20,
    .warmup_large = 2,
};

static void one_window(const perf_opts_t *o, MPI_Request *req, char *sbuf,
                       char *rbuf, size_t size, size_t stride, int w)
{
    int pairs = o->nranks / 2, ack = 0;
    if (o->rank < pairs) {
        int peer = o->rank + pairs;
        for (int j = 0; j < w; j++)
            MPI_Isend(sbuf + j * stride, (int)size, MPI_BYTE, peer, TAG_DATA,
                      MPI_COMM_WORLD, &req[j]);
        MPI_Waitall(w, req, MPI_STATUSES_IGNORE);
        MPI_Recv(&ack, 1, MPI_INT, peer, TAG_ACK, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
    } else {
        int peer = o->rank - pairs;
        for (int j = 0; j < w; j++)
            MPI_Irecv(rbuf + j * stride, (int)size, MPI_BYTE, peer, TAG_DATA,
                      MPI_COMM_WORLD, &req[j]);
        MPI_Waitall(w, req, MPI_STATUSES_IGNORE);
        MPI_Send(&ack, 1, MPI_INT, peer, TAG_ACK, MPI_COMM_WORLD);
    }
}

int main(int argc, char **argv)
{
    perf_opts_t o;
    static const perf_column_t cols[] = {{"MB/s", "bandwidth_MBps", 2},
                                         {"Messages/s", "messages_per_s", 2}};

    MPI_Init(&argc, &argv);
    int rc = perf_parse_args(argc, argv, &bench, &o);
    if (rc != 0) {
        MPI_Finalize();
        return rc < 0 ? 1 : 0;
    }
    int pairs = o.nranks / 2;
    char *sbuf = perf_alloc(o.max_size);
    char *rbuf = perf_alloc(o.max_size);
    MPI_Request *req = calloc((size_t)o.window, sizeof(*req));
    /* Validation: one window of up to 8 messages, each in its own buffer. */
    int vw = o.window < 8 ? o.window : 8;
    char *vbuf = o.validate ? perf_alloc((size_t)vw * (o.max_size + 1)) : NULL;

    perf_out_begin(&bench, &o, cols, 2, 1);
    for (size_t size = o.min_size; size <= o.max_size;
         size = perf_next_size(size)) {
        long iters = perf_iterations(&bench, &o, size);
        long warm = perf_warmup(&bench, &o, size);

        MPI_Barrier(MPI_COMM_WORLD);
        for (long i = 0; i < warm; i++)
            one_window(&o, req, sbuf, rbuf, size, 0, o.window);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (long i = 0; i < iters; i++)
            one_window(&o, req, sbuf, rbuf, size, 0, o.window);
        MPI_Barrier(MPI_COMM_WORLD);
        double t = MPI_Wtime() - t0;
        double msgs = (double)pairs * iters * o.window;
        double v[2] = {msgs * (double)size / t / 1e6, msgs / t};

        if (o.validate) {
            size_t stride = size + 1;
            long bad = 0;
            int sender = o.rank < pairs;
            for (int j = 0; j < vw; j++) {
                if (sender)
                    perf_fill(vbuf + j * stride, size, o.rank, size, j);
                else
                    memset(vbuf + j * stride, 0, size);
            }
            one_window(&o, req, vbuf, vbuf, size, stride, vw);
            if (!sender)
                for (int j = 0; j < vw; j++)
                    bad += perf_check(vbuf + j * stride, size, o.rank - pairs,
                                      size, j, "pair");
            perf_validation_result(bad, bench.name, size);
        }
        perf_out_row(size, v);
    }
    perf_out_end();

    free(vbuf);
    free(req);
    free(sbuf);
    free(rbuf);
    MPI_Finalize();
    return 0;
}
