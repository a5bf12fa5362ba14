/*
 * shm_die.c — a job that ends abnormally after shm traffic: rank 0 prints
 * the job id, then the last rank calls MPI_Abort ("abort") or kills itself
 * with SIGKILL ("kill") while the others wait in MPI_Recv. Used by
 * shm_dev_shm_clean.sh, which checks /dev/shm afterwards.
 */
#include <signal.h>

#include "../mp/mp_common.h"

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "abort";
    char buf[100000];
    int last;

    MPI_Init(&argc, &argv);
    mp_init("shm_die");
    last = mp_size - 1;
    memset(buf, mp_rank, sizeof(buf));
    /* Traffic over shm first, so the segments are in use. */
    if (mp_rank == 0) {
        for (int p = 1; p < mp_size; p++)
            MPI_Send(buf, sizeof(buf), MPI_BYTE, p, 1, MPI_COMM_WORLD);
        printf("RDMX_JOB_ID=%s\n",
               getenv("RDMX_JOB_ID") ? getenv("RDMX_JOB_ID") : "");
        fflush(stdout);
    } else {
        MPI_Recv(buf, sizeof(buf), MPI_BYTE, 0, 1, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
    }
    mp_barrier();
    if (mp_rank == last) {
        if (strcmp(mode, "kill") == 0)
            raise(SIGKILL);
        MPI_Abort(MPI_COMM_WORLD, 7);
    }
    /* Never matched: the job must be torn down by the launcher. */
    MPI_Recv(buf, 1, MPI_BYTE, last, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return 1;
}
