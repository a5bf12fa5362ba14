/*
 * bcast_array — rank 0 broadcasts an array of doubles; every rank checks it.
 *
 * Sizes from one element to 1 Mi elements, and every rank takes a turn as the
 * root, so both the small-message and the pipelined/large paths are used.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static double value_at(int root, int i)
{
    return root * 0.5 + i * 1.25;
}

int main(int argc, char **argv)
{
    static const int counts[] = {1, 100, 10000, 1 << 20};
    int rank, size, errors = 0;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    double *buf = malloc((size_t)(1 << 20) * sizeof(double));
    if (!buf)
        MPI_Abort(MPI_COMM_WORLD, 2);

    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        int n = counts[c];
        for (int root = 0; root < size; root++) {
            for (int i = 0; i < n; i++)
                buf[i] = rank == root ? value_at(root, i) : -1.0;
            MPI_Bcast(buf, n, MPI_DOUBLE, root, MPI_COMM_WORLD);
            for (int i = 0; i < n; i++) {
                if (buf[i] != value_at(root, i)) {
                    fprintf(stderr,
                            "bcast_array: FAIL rank %d root %d "
                            "count %d: element %d is %g, expected %g\n",
                            rank, root, n, i, buf[i], value_at(root, i));
                    errors++;
                    break;
                }
            }
        }
    }

    int all = 0;
    MPI_Reduce(&errors, &all, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0 && all == 0)
        printf("bcast_array: %d ranks received 4 array sizes from every "
               "root\n",
               size);
    MPI_Bcast(&all, 1, MPI_INT, 0, MPI_COMM_WORLD);
    free(buf);
    MPI_Finalize();
    return all ? 1 : 0;
}
