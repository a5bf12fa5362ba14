/*
 * nonblocking_overlap — ring exchange with MPI_Irecv/MPI_Isend, a local
 * computation while the messages are in flight, then MPI_Waitall.
 *
 * Each rank sends a block to its right neighbour and receives one from its
 * left neighbour; after `size` steps every block has visited every rank, so
 * each rank can check it has seen exactly the sum of all blocks. The
 * computation (a dot product on a private array) only touches memory that is
 * not part of a pending request, which is what MPI requires.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#define BLOCK 4096
#define WORK 200000

static double compute(const double *a, int n)
{
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += a[i] * a[i];
    return s;
}

int main(int argc, char **argv)
{
    int rank, size, errors = 0;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    int right = (rank + 1) % size, left = (rank - 1 + size) % size;
    long *sendbuf = malloc(BLOCK * sizeof(long));
    long *recvbuf = malloc(BLOCK * sizeof(long));
    double *work = malloc(WORK * sizeof(double));
    long *seen = calloc(BLOCK, sizeof(long));
    if (!sendbuf || !recvbuf || !work || !seen)
        MPI_Abort(MPI_COMM_WORLD, 2);

    for (int i = 0; i < BLOCK; i++)
        sendbuf[i] = (long)rank * BLOCK + i;
    for (int i = 0; i < WORK; i++)
        work[i] = 1.0 / (i + 1);

    double acc = 0.0, t_comm = 0.0, t0 = MPI_Wtime();
    for (int step = 0; step < size; step++) {
        MPI_Request req[2];
        for (int i = 0; i < BLOCK; i++)
            seen[i] += sendbuf[i];
        MPI_Irecv(recvbuf, BLOCK, MPI_LONG, left, step, MPI_COMM_WORLD,
                  &req[0]);
        MPI_Isend(sendbuf, BLOCK, MPI_LONG, right, step, MPI_COMM_WORLD,
                  &req[1]);
        acc += compute(work, WORK); /* overlaps the transfer */
        double tw = MPI_Wtime();
        MPI_Waitall(2, req, MPI_STATUSES_IGNORE);
        t_comm += MPI_Wtime() - tw;
        long *tmp = sendbuf;
        sendbuf = recvbuf;
        recvbuf = tmp;
    }
    double elapsed = MPI_Wtime() - t0;

    /* After `size` steps each rank holds its own block again and has added
     * every rank's block once: seen[i] = sum_r (r*BLOCK + i). */
    long nr = size;
    for (int i = 0; i < BLOCK; i++) {
        long want = BLOCK * (nr * (nr - 1) / 2) + nr * i;
        if (seen[i] != want || sendbuf[i] != (long)rank * BLOCK + i) {
            fprintf(stderr,
                    "nonblocking_overlap: FAIL rank %d element %d: "
                    "sum %ld (expected %ld), block value %ld (expected "
                    "%ld)\n",
                    rank, i, seen[i], want, sendbuf[i], (long)rank * BLOCK + i);
            errors++;
            break;
        }
    }
    /* Same additions in the same order, so the comparison can be exact. */
    double one = compute(work, WORK), want_acc = 0.0;
    for (int step = 0; step < size; step++)
        want_acc += one;
    if (acc != want_acc) {
        fprintf(stderr,
                "nonblocking_overlap: FAIL rank %d: computation "
                "gave %g, expected %g\n",
                rank, acc, want_acc);
        errors++;
    }

    int all = 0;
    MPI_Allreduce(&errors, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0 && all == 0)
        printf("nonblocking_overlap: %d-rank ring, %d steps, %.3f ms total, "
               "%.3f ms waiting on rank 0\n",
               size, size, elapsed * 1e3, t_comm * 1e3);
    free(sendbuf);
    free(recvbuf);
    free(work);
    free(seen);
    MPI_Finalize();
    return all ? 1 : 0;
}
