/*
 * send_recv_probe — rank 0 sends an array whose length rank 1 does not know;
 * rank 1 sizes its buffer from MPI_Probe + MPI_Get_count before receiving.
 *
 * Needs at least 2 ranks; ranks 2.. take no part (so it also runs with -n 4).
 * Several rounds with different lengths (0, 1, odd, large) so an off-by-one
 * in the count or a stale status shows up.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static const int lengths[] = {0, 1, 7, 1000, 65537, 300000};
#define NROUNDS ((int)(sizeof(lengths) / sizeof(lengths[0])))

static int value_at(int round, int i)
{
    return round * 1000003 + i;
}

int main(int argc, char **argv)
{
    int rank, size, errors = 0;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2) {
        if (rank == 0)
            fprintf(stderr, "send_recv_probe: needs at least 2 ranks\n");
        MPI_Finalize();
        return 1;
    }

    for (int round = 0; round < NROUNDS; round++) {
        int n = lengths[round];
        if (rank == 0) {
            int *buf = malloc(((size_t)n + 1) * sizeof(int));
            for (int i = 0; i < n; i++)
                buf[i] = value_at(round, i);
            MPI_Send(buf, n, MPI_INT, 1, round, MPI_COMM_WORLD);
            free(buf);
        } else if (rank == 1) {
            MPI_Status st;
            int count = -1;
            MPI_Probe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
            MPI_Get_count(&st, MPI_INT, &count);
            if (st.MPI_SOURCE != 0 || st.MPI_TAG != round || count != n) {
                fprintf(stderr,
                        "send_recv_probe: FAIL round %d: probe says "
                        "source %d tag %d count %d, expected 0/%d/%d\n",
                        round, st.MPI_SOURCE, st.MPI_TAG, count, round, n);
                errors++;
                count = n; /* still receive it so the job can finish */
            }
            int *buf = malloc(((size_t)count + 1) * sizeof(int));
            MPI_Recv(buf, count, MPI_INT, 0, round, MPI_COMM_WORLD, &st);
            int got = -1;
            MPI_Get_count(&st, MPI_INT, &got);
            if (got != n) {
                fprintf(stderr,
                        "send_recv_probe: FAIL round %d: received "
                        "%d ints, expected %d\n",
                        round, got, n);
                errors++;
            }
            for (int i = 0; i < n && i < got; i++) {
                if (buf[i] != value_at(round, i)) {
                    fprintf(stderr,
                            "send_recv_probe: FAIL round %d: "
                            "element %d is %d, expected %d\n",
                            round, i, buf[i], value_at(round, i));
                    errors++;
                    break;
                }
            }
            printf("send_recv_probe: rank 1 probed and received %d ints\n",
                   got);
            free(buf);
        }
    }

    int all = 0;
    MPI_Allreduce(&errors, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Finalize();
    return all ? 1 : 0;
}
