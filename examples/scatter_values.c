/*
 * scatter_values — rank 0 scatters one value to each rank; each rank checks
 * that it got the value meant for it, then the ranks agree on the result.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int rank, size, mine = -1, errors = 0;
    int *values = NULL;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    if (rank == 0) {
        values = malloc((size_t)size * sizeof(int));
        for (int r = 0; r < size; r++)
            values[r] = 100 * r + 7;
    }
    MPI_Scatter(values, 1, MPI_INT, &mine, 1, MPI_INT, 0, MPI_COMM_WORLD);

    if (mine != 100 * rank + 7) {
        fprintf(stderr, "scatter_values: FAIL rank %d got %d, expected %d\n",
                rank, mine, 100 * rank + 7);
        errors = 1;
    } else {
        printf("scatter_values: rank %d got %d\n", rank, mine);
    }

    int all = 0;
    MPI_Allreduce(&errors, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    free(values);
    MPI_Finalize();
    return all ? 1 : 0;
}
