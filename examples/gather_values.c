/*
 * gather_values — every rank contributes one value; rank 0 gathers them and
 * checks each one is in its rank's slot.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int rank, size, errors = 0;
    int *values = NULL;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    int mine = rank * rank + 3;
    if (rank == 0) {
        values = malloc((size_t)size * sizeof(int));
        for (int r = 0; r < size; r++)
            values[r] = -1;
    }
    MPI_Gather(&mine, 1, MPI_INT, values, 1, MPI_INT, 0, MPI_COMM_WORLD);

    if (rank == 0) {
        printf("gather_values: rank 0 gathered");
        for (int r = 0; r < size; r++) {
            printf(" %d", values[r]);
            if (values[r] != r * r + 3) {
                fprintf(stderr,
                        "\ngather_values: FAIL slot %d holds %d, "
                        "expected %d\n",
                        r, values[r], r * r + 3);
                errors++;
            }
        }
        printf("\n");
    }
    MPI_Bcast(&errors, 1, MPI_INT, 0, MPI_COMM_WORLD);
    free(values);
    MPI_Finalize();
    return errors ? 1 : 0;
}
