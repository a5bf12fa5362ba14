/*
 * wc_error — a real verbs completion error while both ranks are alive:
 * the error path of the verbs transport, end to end.
 *
 * Runs with one rank per VM (tests/rxe/run --nodes 2 --mpi, through
 * tests/rxe/expect-wc-error). The ranks connect (eager and rendezvous
 * traffic both ways), then rank 1 takes its VM's network device down
 * (`ip link set DEV down`: every packet to its rxe device is lost, but the
 * process and its QP live on) and rank 0 sends a rendezvous message to it.
 * With a short RDMX_VERBS_TIMEOUT / RDMX_VERBS_RETRY_COUNT the send queue
 * of rank 0's QP reports IBV_WC_RETRY_EXC_ERR within a second. What must
 * follow: an MPI error naming both ranks and the verbs status, and the
 * end of the whole job — never a hang. rdmx ends the job when a peer
 * becomes unreachable (core/p2p.c); should MPI_Send ever return the error
 * instead (MPI_ERRORS_RETURN is set), this program prints its class and
 * string and aborts the job itself. Rank 1 brings the device back after
 * --hold seconds so that the launcher can reach it to end it.
 *
 * Usage: mpirun -n 2 wc_error --dev NETDEV [--hold SECONDS] [--mark FILE]
 * Exit: never 0 by design; the caller judges the output (expect-wc-error).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Rank 1's output cannot reach mpirun while its link is down (and the job
 * usually ends before it is up again): it notes what it did in --mark, a
 * file on the host file system both VMs share. */
static void link_set(const char *dev, const char *state, const char *mark)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "ip link set %s %s", dev, state);
    int rc = system(cmd);
    FILE *f = mark ? fopen(mark, "a") : NULL;
    if (f) {
        fprintf(f, "wc_error: rank 1: `%s` exited %d\n", cmd, rc);
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    const char *dev = NULL, *mark = NULL;
    int hold = 8, rank, size;
    size_t big = (size_t)4 << 20;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dev") && i + 1 < argc)
            dev = argv[++i];
        else if (!strcmp(argv[i], "--hold") && i + 1 < argc)
            hold = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mark") && i + 1 < argc)
            mark = argv[++i];
    }
    if (size != 2 || !dev) {
        fprintf(stderr, "usage: mpirun -n 2 wc_error --dev NETDEV "
                        "[--hold SECONDS] [--mark FILE]\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    char *buf = calloc(1, big);
    if (!buf)
        MPI_Abort(MPI_COMM_WORLD, 2);
    int peer = 1 - rank;

    /* Connect and move data both ways: eager, then rendezvous. */
    for (int round = 0; round < 2; round++) {
        size_t len = round ? big : 64;
        if (rank == 0) {
            MPI_Send(buf, (int)len, MPI_BYTE, peer, round, MPI_COMM_WORLD);
            MPI_Recv(buf, (int)len, MPI_BYTE, peer, round, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(buf, (int)len, MPI_BYTE, peer, round, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            MPI_Send(buf, (int)len, MPI_BYTE, peer, round, MPI_COMM_WORLD);
        }
    }
    printf("wc_error: rank %d connected\n", rank);
    fflush(stdout);
    MPI_Barrier(MPI_COMM_WORLD);

    if (rank == 1) {
        /* The barrier's last message may still await its ACK: let the
         * link carry it before it goes. */
        usleep(300000);
        link_set(dev, "down", mark);
        sleep((unsigned)hold);
        link_set(dev, "up", mark);
        /* Wait for the end of the job; nothing is sent to this. */
        int rc = MPI_Recv(buf, 1, MPI_BYTE, peer, 99, MPI_COMM_WORLD,
                          MPI_STATUS_IGNORE);
        printf("wc_error: rank 1: MPI_Recv returned %d\n", rc);
        return 3;
    }

    sleep(2); /* rank 1 cuts the link meanwhile */
    int rc = MPI_Send(buf, (int)big, MPI_BYTE, peer, 7, MPI_COMM_WORLD);
    if (rc == MPI_SUCCESS) {
        printf("wc_error: rank 0: MPI_Send to an unreachable rank "
               "succeeded\n");
        return 1;
    }
    char text[MPI_MAX_ERROR_STRING];
    int len = 0, cls = -1;
    MPI_Error_class(rc, &cls);
    MPI_Error_string(rc, text, &len);
    printf("wc_error: rank 0: MPI_Send returned class %d: %s\n", cls, text);
    fflush(stdout);
    MPI_Abort(MPI_COMM_WORLD, 4);
    return 4;
}
