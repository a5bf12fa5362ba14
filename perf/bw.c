/*
 * bw / bibw — streaming bandwidth between ranks 0 and 1 (OSU osu_bw and
 * osu_bibw). Built twice from this file: without PERF_BIBW rank 0 posts a
 * window of non-blocking sends and rank 1 answers each window with a 4-byte
 * acknowledgement; with PERF_BIBW=1 both ranks send and receive a window at
 * the same time. Bandwidth is in MB/s (10^6 bytes per second), counting both
 * directions for bibw. Ranks above 1 only join the barriers.
 *
 * As in OSU, the timed loop reuses one buffer for every message of a window;
 * the validation pass gives each message of the window its own buffer.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PERF_BIBW
#define PERF_BIBW 0
#endif

#define TAG_DATA 100
#define TAG_ACK 101
/* Upper bound on the validation buffer (window * size). */
#define VALIDATE_BYTES ((size_t)64 << 20)

static const perf_bench_t bench = {
#if PERF_BIBW
    .name = "bibw",
    .description = "bidirectional bandwidth between ranks 0 and 1 (MB/s, "
                   "both directions)",
#else
    .name = "bw",
    .description = "unidirectional bandwidth from rank 0 to rank 1 (MB/s)",
#endif
    .min_ranks = 2,
    .uses_window = 1,
    .default_min_size = 1,
    .default_max_size = PERF_DEFAULT_MAX_SIZE,
    .iters_small = 100,
    .warmup_small = 10,
    .iters_large = 20,
    .warmup_large = 2,
};

/* One window: `nsend` sends to and `nrecv` receives from `peer`; the buffers
 * advance by `stride` bytes per message (0 = all messages share one). */
static void window_exchange(MPI_Request *req, char *sbuf, char *rbuf,
                            size_t size, size_t stride, int nsend, int nrecv,
                            int peer)
{
    int n = 0;
    for (int j = 0; j < nrecv; j++)
        MPI_Irecv(rbuf + j * stride, (int)size, MPI_BYTE, peer, TAG_DATA,
                  MPI_COMM_WORLD, &req[n++]);
    for (int j = 0; j < nsend; j++)
        MPI_Isend(sbuf + j * stride, (int)size, MPI_BYTE, peer, TAG_DATA,
                  MPI_COMM_WORLD, &req[n++]);
    MPI_Waitall(n, req, MPI_STATUSES_IGNORE);
}

static void one_window(const perf_opts_t *o, MPI_Request *req, char *sbuf,
                       char *rbuf, size_t size, size_t stride, int w)
{
    int ack = 0;
    int peer = o->rank == 0 ? 1 : 0;
    int sender = o->rank == 0;
    if (o->rank > 1)
        return;
    if (PERF_BIBW) {
        window_exchange(req, sbuf, rbuf, size, stride, w, w, peer);
    } else if (sender) {
        window_exchange(req, sbuf, rbuf, size, stride, w, 0, peer);
        MPI_Recv(&ack, 1, MPI_INT, peer, TAG_ACK, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
    } else {
        window_exchange(req, sbuf, rbuf, size, stride, 0, w, peer);
        MPI_Send(&ack, 1, MPI_INT, peer, TAG_ACK, MPI_COMM_WORLD);
    }
}

static long validate(const perf_opts_t *o, MPI_Request *req, char *vs, char *vr,
                     size_t size)
{
    long bad = 0;
    size_t stride = size ? size : 1;
    int w = o->window;
    if ((size_t)w * stride > VALIDATE_BYTES)
        w = (int)(VALIDATE_BYTES / stride);
    if (w < 1)
        w = 1;
    if (o->rank > 1)
        return 0;
    int peer = o->rank == 0 ? 1 : 0;
    for (int j = 0; j < w; j++) {
        perf_fill(vs + j * stride, size, o->rank, size, j);
        memset(vr + j * stride, 0, size);
    }
    one_window(o, req, vs, vr, size, stride, w);
    if (PERF_BIBW || o->rank == 1)
        for (int j = 0; j < w; j++)
            bad += perf_check(vr + j * stride, size, peer, size, j,
                              "window message");
    return bad;
}

int main(int argc, char **argv)
{
    perf_opts_t o;
    static const perf_column_t cols[] = {
        {"Bandwidth (MB/s)", "bandwidth_MBps", 2}};

    MPI_Init(&argc, &argv);
    int rc = perf_parse_args(argc, argv, &bench, &o);
    if (rc != 0) {
        MPI_Finalize();
        return rc < 0 ? 1 : 0;
    }
    char *sbuf = perf_alloc(o.max_size);
    char *rbuf = perf_alloc(o.max_size);
    MPI_Request *req = calloc(2 * (size_t)o.window, sizeof(*req));
    char *vs = NULL, *vr = NULL;
    if (o.validate) {
        size_t vb = (size_t)o.window * (o.max_size ? o.max_size : 1);
        if (vb > VALIDATE_BYTES)
            vb = VALIDATE_BYTES > o.max_size ? VALIDATE_BYTES : o.max_size;
        vs = perf_alloc(vb);
        vr = perf_alloc(vb);
    }

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
            one_window(&o, req, sbuf, rbuf, size, 0, o.window);
        }
        double t = MPI_Wtime() - t0;
        double bw =
            (double)size * iters * o.window * (PERF_BIBW ? 2 : 1) / t / 1e6;
        /* Rank 0's clock covers the whole transfer: in bw its last window
         * ends with the receiver's acknowledgement. */
        if (o.validate)
            perf_validation_result(validate(&o, req, vs, vr, size), bench.name,
                                   size);
        perf_out_row(size, &bw);
    }
    perf_out_end();

    free(vs);
    free(vr);
    free(req);
    free(sbuf);
    free(rbuf);
    MPI_Finalize();
    return 0;
}
