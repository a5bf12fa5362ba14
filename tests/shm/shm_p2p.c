/*
 * shm_p2p.c — point-to-point traffic between ranks of one host, meant to
 * run with RDMX_TRANSPORTS=shm,self so every byte crosses the shm
 * transport: eager records of every size class (one cell, several cells,
 * records that wrap the ring), rendezvous reads (CMA or, with
 * RDMX_SHM_CMA=0, the two-copy pipeline), back-pressure from deep streams
 * of non-blocking sends, synchronous sends, all-pairs traffic, and the
 * removal of the segment names from /dev/shm after start-up.
 *
 * Uses only the MPI API (builds against Open MPI too) plus RDMX_JOB_ID,
 * which rdmx's mpirun exports, for the /dev/shm check.
 */
#include <errno.h>
#include <sys/stat.h>

#include "../mp/mp_common.h"

static const size_t sizes[] = {
    0,
    1,
    7,
    8,
    16,
    17,
    32,
    48,
    63,
    64,
    65,
    100,
    1000,
    4095,
    4096,
    4097,
    8191,
    8192,
    16383,
    16384,
    16385,
    32768,
    65536,
    65537,
    131072,
    262144,
    1000000,
    1 << 22,
    (1 << 22) + 3,
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define MAXSIZE ((1 << 22) + 3)

static void phase_pingpong(char *sbuf, char *rbuf, int partner)
{
    mp_set_phase("pingpong");
    if (partner < 0)
        return;
    for (size_t k = 0; k < NSIZES; k++) {
        size_t n = sizes[k];
        for (int it = 0; it < 3; it++) {
            MPI_Status st;
            int count = -1;
            int first = mp_rank < partner;
            uint64_t out = mp_seed(mp_rank, partner, n, it);
            uint64_t in = mp_seed(partner, mp_rank, n, it);

            mp_fill(sbuf, n, out);
            memset(rbuf, 0xee, n + 1);
            if (first) {
                MP_CALL(MPI_Send(sbuf, (int)n, MPI_BYTE, partner, it,
                                 MPI_COMM_WORLD));
                MP_CALL(MPI_Recv(rbuf, (int)n, MPI_BYTE, partner, it,
                                 MPI_COMM_WORLD, &st));
            } else {
                MP_CALL(MPI_Recv(rbuf, (int)n, MPI_BYTE, partner, it,
                                 MPI_COMM_WORLD, &st));
                MP_CALL(MPI_Send(sbuf, (int)n, MPI_BYTE, partner, it,
                                 MPI_COMM_WORLD));
            }
            MPI_Get_count(&st, MPI_BYTE, &count);
            MP_CHECK(count == (int)n, "size %zu: count %d", n, count);
            MP_CHECK(st.MPI_SOURCE == partner && st.MPI_TAG == it,
                     "size %zu: status source %d tag %d, expected %d %d", n,
                     st.MPI_SOURCE, st.MPI_TAG, partner, it);
            MP_CHECK_PATTERN(rbuf, n, in, "pingpong %zu bytes from %d", n,
                             partner);
            MP_CHECK((unsigned char)rbuf[n] == 0xee,
                     "size %zu: byte after the message overwritten", n);
        }
    }
}

/* Deep streams of Isend/Irecv in both directions at once: the rings fill,
 * sends queue, rendezvous reads interleave with eager records. Messages on
 * one (source, tag) must arrive in order (non-overtaking). */
#define STREAM 400
static size_t stream_size(int i)
{
    static const size_t mix[] = {0, 8, 40, 200, 3000, 9000, 20000, 70000};
    return mix[(i * 7 + i / 8) % 8];
}

static void phase_stream(int partner)
{
    MPI_Request req[2 * STREAM];
    size_t total = 0, off;
    char *sb, *rb;

    mp_set_phase("stream");
    if (partner < 0)
        return;
    for (int i = 0; i < STREAM; i++)
        total += stream_size(i);
    sb = malloc(total + 1);
    rb = malloc(total + 1);
    if (!sb || !rb) {
        MP_CHECK(0, "out of memory for %zu bytes", total);
        free(sb);
        free(rb);
        return;
    }
    off = 0;
    for (int i = 0; i < STREAM; i++) {
        size_t n = stream_size(i);
        MP_CALL(MPI_Irecv(rb + off, (int)n, MPI_BYTE, partner, 5,
                          MPI_COMM_WORLD, &req[i]));
        off += n;
    }
    off = 0;
    for (int i = 0; i < STREAM; i++) {
        size_t n = stream_size(i);
        mp_fill(sb + off, n, mp_seed(mp_rank, partner, n, i));
        MP_CALL(MPI_Isend(sb + off, (int)n, MPI_BYTE, partner, 5,
                          MPI_COMM_WORLD, &req[STREAM + i]));
        off += n;
    }
    MP_CALL(MPI_Waitall(2 * STREAM, req, MPI_STATUSES_IGNORE));
    off = 0;
    for (int i = 0; i < STREAM; i++) {
        size_t n = stream_size(i);
        MP_CHECK_PATTERN(rb + off, n, mp_seed(partner, mp_rank, n, i),
                         "stream message %d (%zu bytes) from %d", i, n,
                         partner);
        off += n;
    }
    free(sb);
    free(rb);
}

static void phase_ssend(int partner)
{
    int v = mp_rank * 10, got = -1;

    mp_set_phase("ssend");
    if (partner < 0)
        return;
    if (mp_rank < partner) {
        MP_CALL(MPI_Ssend(&v, 1, MPI_INT, partner, 9, MPI_COMM_WORLD));
        MP_CALL(MPI_Recv(&got, 1, MPI_INT, partner, 9, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE));
    } else {
        MP_CALL(MPI_Recv(&got, 1, MPI_INT, partner, 9, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE));
        MP_CALL(MPI_Ssend(&v, 1, MPI_INT, partner, 9, MPI_COMM_WORLD));
    }
    MP_CHECK(got == partner * 10, "ssend value %d, expected %d", got,
             partner * 10);
}

/* Every rank sends to every other rank at once (eager and rendezvous), so
 * each receiver drains several rings and serves several readers. */
static void phase_all_pairs(void)
{
    const size_t n_small = 100, n_big = 50000;
    int np = mp_size;
    MPI_Request *req = calloc((size_t)np * 4, sizeof(*req));
    char *sb = malloc((size_t)np * (n_small + n_big));
    char *rb = malloc((size_t)np * (n_small + n_big));
    int nr = 0;

    mp_set_phase("all_pairs");
    if (!req || !sb || !rb) {
        MP_CHECK(0, "out of memory");
        goto out;
    }
    for (int p = 0; p < np; p++) {
        char *r = rb + (size_t)p * (n_small + n_big);
        if (p == mp_rank)
            continue;
        MP_CALL(MPI_Irecv(r, (int)n_small, MPI_BYTE, p, 11, MPI_COMM_WORLD,
                          &req[nr++]));
        MP_CALL(MPI_Irecv(r + n_small, (int)n_big, MPI_BYTE, p, 12,
                          MPI_COMM_WORLD, &req[nr++]));
    }
    for (int k = 1; k < np; k++) {
        int p = (mp_rank + k) % np;
        char *s = sb + (size_t)p * (n_small + n_big);
        mp_fill(s, n_small, mp_seed(mp_rank, p, n_small, 0));
        mp_fill(s + n_small, n_big, mp_seed(mp_rank, p, n_big, 0));
        MP_CALL(MPI_Isend(s, (int)n_small, MPI_BYTE, p, 11, MPI_COMM_WORLD,
                          &req[nr++]));
        MP_CALL(MPI_Isend(s + n_small, (int)n_big, MPI_BYTE, p, 12,
                          MPI_COMM_WORLD, &req[nr++]));
    }
    MP_CALL(MPI_Waitall(nr, req, MPI_STATUSES_IGNORE));
    for (int p = 0; p < np; p++) {
        char *r = rb + (size_t)p * (n_small + n_big);
        if (p == mp_rank)
            continue;
        MP_CHECK_PATTERN(r, n_small, mp_seed(p, mp_rank, n_small, 0),
                         "all-pairs small from %d", p);
        MP_CHECK_PATTERN(r + n_small, n_big, mp_seed(p, mp_rank, n_big, 0),
                         "all-pairs big from %d", p);
    }
out:
    free(req);
    free(sb);
    free(rb);
}

/* After start-up every rank has mapped its peers' segments, so no name of
 * this job may remain in /dev/shm (a SIGKILL later must leave nothing). */
static void phase_no_names_left(void)
{
    const char *job = getenv("RDMX_JOB_ID");
    char path[512];
    struct stat sb;

    mp_set_phase("dev_shm_clean");
    if (!job)
        return; /* not started by rdmx's mpirun */
    snprintf(path, sizeof(path), "/dev/shm/rdmx-%s-shm%d", job, mp_rank);
    MP_CHECK(stat(path, &sb) != 0 && errno == ENOENT,
             "%s still exists after start-up", path);
}

int main(int argc, char **argv)
{
    char *sbuf, *rbuf;
    int partner;

    MPI_Init(&argc, &argv);
    mp_init("shm_p2p");
    sbuf = malloc(MAXSIZE + 1);
    rbuf = malloc(MAXSIZE + 1);
    if (!sbuf || !rbuf) {
        fprintf(stderr, "out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    partner = mp_rank ^ 1;
    if (partner >= mp_size)
        partner = -1;

    mp_barrier();
    phase_no_names_left();
    phase_pingpong(sbuf, rbuf, partner);
    mp_barrier();
    phase_stream(partner);
    mp_barrier();
    phase_ssend(partner);
    mp_barrier();
    phase_all_pairs();
    free(sbuf);
    free(rbuf);
    return mp_finish();
}
