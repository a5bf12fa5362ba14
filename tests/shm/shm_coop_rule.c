/*
 * shm_coop_rule.c — who copies a large shm message. Run with RDMX_LOG=debug
 * by shm_coop_rule.sh, which reads the transport's decisions from the log:
 *   oneway    rank 0 sends 1 MiB messages to rank 1, which reads each with
 *             the sender's help (the sender only waits);
 *   exchange  crossed 1 MiB messages: rank 0 posts its send to rank 1,
 *             then receives from rank 1, which sends first (blocking) and
 *             receives after. Rank 0 reads while its own send cannot have
 *             been read yet, so it reads alone; rank 1 reads once its send
 *             is done, with help.
 * Both modes check every byte received.
 */
#include <string.h>

#include "../mp/mp_common.h"

#define BYTES (1u << 20)
#define ROUNDS 4

static void fill(unsigned char *b, int from, int round)
{
    for (size_t i = 0; i < BYTES; i++)
        b[i] = (unsigned char)(i * 31 + (size_t)from * 7 + (size_t)round);
}

static void check(const unsigned char *b, int from, int round)
{
    for (size_t i = 0; i < BYTES; i++)
        if (b[i] !=
            (unsigned char)(i * 31 + (size_t)from * 7 + (size_t)round)) {
            mp_fail(__LINE__, "round %d: byte %zu from rank %d is %u", round, i,
                    from, b[i]);
            return;
        }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mp_init("shm_coop_rule");
    int exchange = argc > 1 && strcmp(argv[1], "exchange") == 0;
    unsigned char *out = malloc(BYTES), *in = malloc(BYTES);
    if (!out || !in || mp_size != 2) {
        mp_fail(__LINE__, "needs 2 ranks and 2 MiB of memory");
        return mp_finish();
    }
    int peer = 1 - mp_rank;
    for (int round = 0; round < ROUNDS && mp_failures == 0; round++) {
        fill(out, mp_rank, round);
        memset(in, 0, BYTES);
        if (exchange && mp_rank == 0) {
            MPI_Request r;
            MP_CALL(MPI_Isend(out, BYTES, MPI_BYTE, peer, round, MPI_COMM_WORLD,
                              &r));
            MP_CALL(MPI_Recv(in, BYTES, MPI_BYTE, peer, round, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE));
            MP_CALL(MPI_Wait(&r, MPI_STATUS_IGNORE));
            check(in, peer, round);
        } else if (exchange) {
            MP_CALL(
                MPI_Send(out, BYTES, MPI_BYTE, peer, round, MPI_COMM_WORLD));
            MP_CALL(MPI_Recv(in, BYTES, MPI_BYTE, peer, round, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE));
            check(in, peer, round);
        } else if (mp_rank == 0) {
            MP_CALL(MPI_Send(out, BYTES, MPI_BYTE, 1, round, MPI_COMM_WORLD));
        } else {
            MP_CALL(MPI_Recv(in, BYTES, MPI_BYTE, 0, round, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE));
            check(in, 0, round);
        }
    }
    free(out);
    free(in);
    return mp_finish();
}
