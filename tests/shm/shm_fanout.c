/*
 * shm_fanout.c — broadcasts whose root buffer the shm transport may stage
 * once in its segment for all readers (RDMX_SHM_FANOUT_BYTES): the data
 * must be right when the buffer changes between calls (the staging is
 * redone), when two nonblocking broadcasts of one buffer overlap (the
 * staging is shared), when two of different buffers overlap (only one can
 * be staged) and when a message is larger than the area (not staged).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long bad;

static void fill(unsigned char *b, size_t n, int seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 31 + (size_t)seed * 7 + 1);
}

static void check(const unsigned char *b, size_t n, int seed, const char *what,
                  int rank)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(i * 31 + (size_t)seed * 7 + 1)) {
            if (!bad)
                fprintf(stderr, "rank %d: %s: byte %zu of %zu wrong\n", rank,
                        what, i, n);
            bad++;
            return;
        }
}

int main(int argc, char **argv)
{
    int rank, size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const size_t sizes[] = {16384, 65536, 300000, 1 << 20, (1 << 20) + 4096,
                            3 << 20};
    size_t max = 3 << 20;
    unsigned char *a = malloc(max), *b = malloc(max);
    MPI_Comm dup;
    MPI_Comm_dup(MPI_COMM_WORLD, &dup);

    /* Blocking, the same buffer with new contents every time. */
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
        for (int it = 0; it < 4; it++) {
            size_t n = sizes[k];
            int root = it % size;
            if (rank == root)
                fill(a, n, it + (int)k);
            else
                memset(a, 0, n);
            MPI_Bcast(a, (int)n, MPI_BYTE, root, MPI_COMM_WORLD);
            check(a, n, it + (int)k, "bcast", rank);
        }

    /* Two nonblocking broadcasts of one buffer at once, then of two. */
    for (int it = 0; it < 4; it++) {
        size_t n = 262144;
        MPI_Request r[2];
        if (rank == 0) {
            fill(a, n, 100 + it);
            fill(b, n, 200 + it);
        } else {
            memset(a, 0, 2 * n);
            memset(b, 0, n);
        }
        /* Same root buffer for both on the root; two receive buffers. */
        MPI_Ibcast(a, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD, &r[0]);
        MPI_Ibcast(rank == 0 ? a : a + n, (int)n, MPI_BYTE, 0, dup, &r[1]);
        MPI_Waitall(2, r, MPI_STATUSES_IGNORE);
        check(a, n, 100 + it, "overlapping ibcast, one buffer (1)", rank);
        if (rank != 0)
            check(a + n, n, 100 + it, "overlapping ibcast, one buffer (2)",
                  rank);
        MPI_Ibcast(a, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD, &r[0]);
        MPI_Ibcast(b, (int)n, MPI_BYTE, 0, dup, &r[1]);
        MPI_Waitall(2, r, MPI_STATUSES_IGNORE);
        check(a, n, 100 + it, "overlapping ibcast, two buffers (a)", rank);
        check(b, n, 200 + it, "overlapping ibcast, two buffers (b)", rank);
    }

    long total = 0;
    MPI_Allreduce(&bad, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("shm_fanout: %s (%d ranks)\n", total ? "FAIL" : "PASS", size);
    MPI_Comm_free(&dup);
    free(a);
    free(b);
    MPI_Finalize();
    return total ? 1 : 0;
}
