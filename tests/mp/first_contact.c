/*
 * first_contact — both ranks of a pair that never communicated before send
 * to each other at the same moment, so both sides open their connection
 * simultaneously (the case a connection-oriented transport has to resolve
 * without losing either message). Every pair meets in a round-robin round;
 * the first message of a round is the first traffic of that pair.
 *
 * Phases use different message sizes for the first message: 4 B (eager),
 * then a rendezvous-size message in a second program run
 * (--first-size). After each round the pair exchanges a few more messages
 * in both directions to check the surviving connection still works.
 *
 * Usage: first_contact [--first-size N[k|M]] [--repeat N]
 */
#include "mp_common.h"

int main(int argc, char **argv)
{
    size_t first = 4;
    int i, round, partner, k;
    char *sb, *rb;

    MPI_Init(&argc, &argv);
    mp_init("first_contact");
    for (i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--first-size") && i + 1 < argc)
            first = mp_parse_size(argv[++i]);
    sb = mp_xmalloc(first + 64);
    rb = mp_xmalloc(first + 64);

    /* No traffic at all before the rounds: not even a barrier. */
    for (round = 0; round < mp_rounds(mp_size); round++) {
        MPI_Request reqs[2];
        MPI_Status sts[2];
        int n = -1;
        char ctx[96];

        partner = mp_partner(mp_rank, round, mp_size);
        if (partner == mp_rank)
            continue;
        snprintf(ctx, sizeof(ctx), "first message %d->%d (%zu B)", partner,
                 mp_rank, first);
        mp_set_phase("simultaneous first messages");
        mp_fill(sb, first, mp_seed(mp_rank, partner, first, round));
        memset(rb, 0, first);
        MP_CALL(MPI_Irecv(rb, (int)first, MPI_BYTE, partner, 1, MPI_COMM_WORLD,
                          &reqs[0]));
        MP_CALL(MPI_Isend(sb, (int)first, MPI_BYTE, partner, 1, MPI_COMM_WORLD,
                          &reqs[1]));
        MP_CALL(MPI_Waitall(2, reqs, sts));
        MPI_Get_count(&sts[0], MPI_BYTE, &n);
        MP_CHECK(n == (int)first && sts[0].MPI_SOURCE == partner,
                 "%s: count %d source %d", ctx, n, sts[0].MPI_SOURCE);
        MP_CHECK_PATTERN(rb, first, mp_seed(partner, mp_rank, first, round),
                         "%s", ctx);
        /* The connection that survived carries both directions. */
        mp_set_phase("traffic after first contact");
        for (k = 0; k < 20; k++) {
            int out = k * 1000 + mp_rank, in = -1;
            MP_CALL(MPI_Sendrecv(&out, 1, MPI_INT, partner, 2 + k % 3, &in, 1,
                                 MPI_INT, partner, 2 + k % 3, MPI_COMM_WORLD,
                                 MPI_STATUS_IGNORE));
            MP_CHECK(in == k * 1000 + partner,
                     "message %d after first contact with rank %d: got %d, "
                     "expected %d",
                     k, partner, in, k * 1000 + partner);
        }
    }
    free(sb);
    free(rb);
    mp_barrier();
    return mp_finish();
}
