/*
 * abort_death — a job that is meant to fail, driven by run_death.sh.
 *
 * Usage: abort_death MODE VICTIM MARKER
 *   MODE abort:    rank VICTIM calls MPI_Abort(MPI_COMM_WORLD, 7) while the
 *                  other ranks are blocked in MPI_Recv from it.
 *   MODE kill:     rank VICTIM sends part of a message stream to its
 *                  neighbours, then kills itself with SIGKILL; the others are
 *                  blocked in MPI_Recv waiting for the rest.
 *   MODE exitcode: every rank finalizes normally; rank VICTIM then returns 3
 *                  from main, the others 0.
 * MARKER is any unique string: it only appears on the command line so the
 * driver can find leftover processes with pgrep -f.
 *
 * In the abort and kill modes the surviving ranks must never return from
 * their MPI_Recv: if they do, they print "SURVIVOR" lines and exit 0 so the
 * driver sees the job did not fail as it should.
 */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Wall-clock seconds, comparable with the driver's `date +%s.%N`. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int rank, size, victim, i, buf[256];
    const char *mode;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 4) {
        if (rank == 0)
            fprintf(stderr, "usage: abort_death abort|kill|exitcode VICTIM "
                            "MARKER\n");
        MPI_Finalize();
        return 2;
    }
    mode = argv[1];
    victim = atoi(argv[2]);
    if (victim >= size)
        victim = size - 1;
    /* The watchdog: a rank left hanging after its job should have died
     * must not outlive the test. */
    alarm(60);
    memset(buf, 0, sizeof(buf));

    if (!strcmp(mode, "exitcode")) {
        MPI_Finalize();
        return rank == victim ? 3 : 0;
    }

    /* Everybody first proves the connections work. */
    if (rank == victim) {
        for (i = 0; i < size; i++)
            if (i != rank)
                MPI_Send(buf, 256, MPI_INT, i, 1, MPI_COMM_WORLD);
    } else {
        MPI_Recv(buf, 256, MPI_INT, victim, 1, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
    }

    if (rank == victim) {
        /* Let the others block in MPI_Recv. */
        usleep(300000);
        if (!strcmp(mode, "abort")) {
            fprintf(stderr,
                    "abort_death: rank %d calling MPI_Abort(7) at %.3f\n", rank,
                    now());
            fflush(stderr);
            MPI_Abort(MPI_COMM_WORLD, 7);
        } else {
            /* Mid-communication: half of a message stream went out. */
            for (i = 0; i < size; i++)
                if (i != rank)
                    MPI_Send(buf, 256, MPI_INT, i, 2, MPI_COMM_WORLD);
            fprintf(stderr,
                    "abort_death: rank %d killing itself (SIGKILL) at %.3f\n",
                    rank, now());
            fflush(stderr);
            raise(SIGKILL);
        }
        fprintf(stderr, "SURVIVOR: rank %d returned from %s\n", rank, mode);
        return 0;
    }
    MPI_Recv(buf, 256, MPI_INT, victim, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    /* The kill mode's first half; now wait for what never comes. */
    MPI_Recv(buf, 256, MPI_INT, victim, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    fprintf(stderr, "SURVIVOR: rank %d returned from MPI_Recv\n", rank);
    MPI_Finalize();
    return 0;
}
