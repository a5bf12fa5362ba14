/*
 * many_outstanding — 1000 outstanding Irecv and 1000 outstanding Isend per
 * pair, completed with one Waitall, mixed sizes (0 B to 256 KiB + odd).
 *
 * Phase 1 (same tag): every message of a pair uses one tag, so the i-th
 *   receive must get the i-th send (non-overtaking across protocols).
 * Phase 2 (distinct tags, receives posted in reverse order): matching has
 *   to search the posted queue; message i still lands in receive i.
 * Phase 3 (all partners at once): every rank has small messages in flight
 *   to and from every other rank simultaneously.
 * Pairs meet in round-robin rounds (self in the bye round / at 1 rank).
 *
 * Usage: many_outstanding [--count N]   (default 1000)
 */
#include "mp_common.h"

static int count = 1000;

static size_t msg_size(int i)
{
    static const size_t small[] = {0, 1, 7, 64, 1000, 4096, 8193, 32768};
    if (i % 100 == 42)
        return ((size_t)256 << 10) + (size_t)i; /* rendezvous size */
    return small[i % 8];
}

static void pair_phase(int partner, int distinct)
{
    MPI_Request *reqs = mp_xmalloc(2 * (size_t)count * sizeof(*reqs));
    MPI_Status *sts = mp_xmalloc(2 * (size_t)count * sizeof(*sts));
    char **sb = mp_xmalloc((size_t)count * sizeof(*sb));
    char **rb = mp_xmalloc((size_t)count * sizeof(*rb));
    char ctx[128];
    int i, c, rc;

    for (i = 0; i < count; i++) {
        sb[i] = mp_xmalloc(msg_size(i));
        rb[i] = mp_xmalloc(msg_size(i));
        mp_fill(sb[i], msg_size(i), mp_seed(mp_rank, partner, msg_size(i), i));
        memset(rb[i], 0xee, msg_size(i));
    }
    /* Receives first (reverse order for distinct tags), then sends. */
    for (c = 0; c < count; c++) {
        i = distinct ? count - 1 - c : c;
        MP_CALL(MPI_Irecv(rb[i], (int)msg_size(i), MPI_BYTE, partner,
                          distinct ? 1000 + i : 5, MPI_COMM_WORLD,
                          &reqs[count + i]));
    }
    for (i = 0; i < count; i++)
        MP_CALL(MPI_Isend(sb[i], (int)msg_size(i), MPI_BYTE, partner,
                          distinct ? 1000 + i : 5, MPI_COMM_WORLD, &reqs[i]));
    rc = MPI_Waitall(2 * count, reqs, sts);
    MP_CHECK(rc == MPI_SUCCESS, "Waitall of %d requests with rank %d: rc %d",
             2 * count, partner, rc);
    for (i = 0; i < 2 * count; i++)
        MP_CHECK(reqs[i] == MPI_REQUEST_NULL,
                 "request %d not MPI_REQUEST_NULL after Waitall", i);
    for (i = 0; i < count; i++) {
        int n = -1;
        MPI_Status *st = &sts[count + i];
        MPI_Get_count(st, MPI_BYTE, &n);
        snprintf(ctx, sizeof(ctx), "%s tags, message %d from rank %d",
                 distinct ? "distinct" : "same", i, partner);
        MP_CHECK(st->MPI_SOURCE == partner &&
                     st->MPI_TAG == (distinct ? 1000 + i : 5) &&
                     n == (int)msg_size(i),
                 "%s: status (source %d, tag %d, count %d), expected (%d, "
                 "%d, %zu)",
                 ctx, st->MPI_SOURCE, st->MPI_TAG, n, partner,
                 distinct ? 1000 + i : 5, msg_size(i));
        MP_CHECK_PATTERN(rb[i], msg_size(i),
                         mp_seed(partner, mp_rank, msg_size(i), i), "%s", ctx);
        free(sb[i]);
        free(rb[i]);
    }
    free(sb);
    free(rb);
    free(reqs);
    free(sts);
}

/* Every rank with every other rank at once, small messages only. */
static void all_at_once(void)
{
    const int per = count / 4 > 0 ? count / 4 : 1;
    const int n = mp_size * per;
    MPI_Request *reqs = mp_xmalloc(2 * (size_t)n * sizeof(*reqs));
    MPI_Status *sts = mp_xmalloc(2 * (size_t)n * sizeof(*sts));
    int *sb = mp_xmalloc((size_t)n * 4 * sizeof(int));
    int *rb = mp_xmalloc((size_t)n * 4 * sizeof(int));
    int p, i, k;

    mp_set_phase("all partners at once");
    for (p = 0; p < mp_size; p++)
        for (i = 0; i < per; i++) {
            k = p * per + i;
            rb[4 * k] = -1;
            MP_CALL(MPI_Irecv(&rb[4 * k], 4, MPI_INT, p, 7, MPI_COMM_WORLD,
                              &reqs[n + k]));
        }
    for (i = 0; i < per; i++)
        for (p = 0; p < mp_size; p++) {
            k = p * per + i;
            sb[4 * k] = mp_rank;
            sb[4 * k + 1] = p;
            sb[4 * k + 2] = i;
            sb[4 * k + 3] = 0x5eed;
            MP_CALL(MPI_Isend(&sb[4 * k], 1 + i % 4, MPI_INT, p, 7,
                              MPI_COMM_WORLD, &reqs[k]));
        }
    MP_CALL(MPI_Waitall(2 * n, reqs, sts));
    for (p = 0; p < mp_size; p++)
        for (i = 0; i < per; i++) {
            int c = -1;
            k = p * per + i;
            MPI_Get_count(&sts[n + k], MPI_INT, &c);
            MP_CHECK(rb[4 * k] == p && (c < 2 || rb[4 * k + 1] == mp_rank) &&
                         (c < 3 || rb[4 * k + 2] == i) && c == 1 + i % 4,
                     "all-at-once: receive %d from rank %d got (%d, %d, %d) "
                     "count %d, expected (%d, %d, %d) count %d",
                     i, p, rb[4 * k], c >= 2 ? rb[4 * k + 1] : -1,
                     c >= 3 ? rb[4 * k + 2] : -1, c, p, mp_rank, i, 1 + i % 4);
        }
    free(reqs);
    free(sts);
    free(sb);
    free(rb);
}

int main(int argc, char **argv)
{
    int i, round, partner;

    MPI_Init(&argc, &argv);
    mp_init("many_outstanding");
    for (i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = atoi(argv[++i]);

    for (round = 0; round < mp_rounds(mp_size); round++) {
        partner = mp_partner(mp_rank, round, mp_size);
        mp_set_phase("1000 outstanding, same tag");
        pair_phase(partner, 0);
        mp_set_phase("1000 outstanding, distinct tags, reverse posting");
        pair_phase(partner, 1);
    }
    mp_barrier();
    all_at_once();
    return mp_finish();
}
