/*
 * coll_bench.c — time one collective over a range of sizes (not a test;
 * used to choose the switch points in docs/COLLECTIVES.md):
 *   mpirun -n 4 tests/coll_bench bcast|allreduce|reduce|allgather|alltoall
 * Select the algorithm with RDMX_COLL_<KIND>=name. Prints the median of
 * the per-iteration maximum over ranks, in microseconds.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, p;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &p);
    const char *what = argc > 1 ? argv[1] : "allreduce";
    size_t maxb = argc > 2 ? (size_t)atol(argv[2]) : 4u << 20;
    char *a = calloc(maxb * (size_t)p + 8, 1),
         *b = calloc(maxb * (size_t)p + 8, 1);
    if (rank == 0)
        printf("# %s on %d ranks: bytes  median_us\n", what, p);
    for (size_t bytes = 8; bytes <= maxb; bytes *= 4) {
        int n = (int)(bytes / 8), iters = bytes >= (1 << 20) ? 10 : 40;
        double t[64];
        for (int it = 0; it < iters + 2; it++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            if (!strcmp(what, "bcast"))
                MPI_Bcast(a, n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
            else if (!strcmp(what, "reduce"))
                MPI_Reduce(a, b, n, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
            else if (!strcmp(what, "allgather"))
                MPI_Allgather(a, n, MPI_DOUBLE, b, n, MPI_DOUBLE,
                              MPI_COMM_WORLD);
            else if (!strcmp(what, "alltoall"))
                MPI_Alltoall(a, n, MPI_DOUBLE, b, n, MPI_DOUBLE,
                             MPI_COMM_WORLD);
            else
                MPI_Allreduce(a, b, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
            double dt = MPI_Wtime() - t0, mx;
            MPI_Allreduce(&dt, &mx, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            if (it >= 2)
                t[it - 2] = mx;
        }
        qsort(t, (size_t)iters, sizeof(double), cmp);
        if (rank == 0)
            printf("%10zu %10.1f\n", bytes, t[iters / 2] * 1e6);
    }
    free(a);
    free(b);
    MPI_Finalize();
    return 0;
}
