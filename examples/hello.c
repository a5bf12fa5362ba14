/*
 * hello — every rank reports its rank, the job size and the processor name.
 *
 * Check: the sum of all ranks gathered at rank 0 must be size*(size-1)/2, so a
 * job whose ranks disagree about MPI_COMM_WORLD fails instead of printing.
 */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    int rank, size, len, sum = 0;
    char name[MPI_MAX_PROCESSOR_NAME];

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Get_processor_name(name, &len);

    printf("hello: rank %d of %d on %s\n", rank, size, name);
    fflush(stdout);

    MPI_Reduce(&rank, &sum, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    int ok = 1;
    if (rank == 0) {
        int want = size * (size - 1) / 2;
        ok = (sum == want) && len > 0;
        if (!ok)
            fprintf(stderr,
                    "hello: FAIL: sum of ranks %d, expected %d "
                    "(processor name length %d)\n",
                    sum, want, len);
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return ok ? 0 : 1;
}
