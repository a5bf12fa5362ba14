/*
 * p2p_pairs — every pair of ranks (and every rank with itself) exchanges
 * messages of 0 B, 1 B, powers of two and odd sizes up to --max-size, with
 * every send mode and every completion call, and verifies contents and
 * status of every message.
 *
 * Usage: p2p_pairs [--max-size N[k|M]] [--iters N]
 * Default max size: 64 MiB at <= 2 ranks, 16 MiB at <= 4, 4 MiB above.
 *
 * The pairs meet in a round-robin schedule (one partner per round); a rank
 * with a bye (odd rank counts, or 1 rank) and every rank in a final round
 * exchanges with itself. Large sizes (> 256 KiB) run a rotating subset of
 * the modes so the whole run stays short; every mode still sees several
 * rendezvous-size messages.
 */
#include "mp_common.h"

#include <sched.h>

enum mode {
    M_SEND_RECV,
    M_SSEND_RECV,
    M_RSEND,
    M_SENDRECV,
    M_SENDRECV_REPLACE,
    M_ISEND_IRECV_WAIT,
    M_ISEND_FIRST_WAITALL, /* the message arrives before the receive */
    M_ISSEND_WAITANY,
    M_ISEND_WAITSOME,
    M_ISEND_TEST,
    M_ISSEND_TESTALL,
    M_ISEND_TESTANY,
    M_ISEND_TESTSOME,
    M_COUNT
};

static const char *mode_name[M_COUNT] = {
    "Send/Recv",           "Ssend/Recv",
    "Rsend(pre-posted)",   "Sendrecv",
    "Sendrecv_replace",    "Isend/Irecv/Wait",
    "Isend-first/Waitall", "Issend/Waitany",
    "Isend/Waitsome",      "Isend/Test",
    "Issend/Testall",      "Isend/Testany",
    "Isend/Testsome",
};

#define TAG_DATA 100
#define TAG_READY 99

static char *sbuf, *rbuf;

static void relax(unsigned long *spins)
{
    /* Polling with Test* is legitimate MPI; yield now and then so an
     * oversubscribed run does not crawl. */
    if ((++*spins & 63) == 0)
        sched_yield();
}

static void check_status(const MPI_Status *st, int partner, int tag,
                         size_t size, const char *ctx)
{
    int count = -1;
    MP_CHECK(st->MPI_SOURCE == partner, "%s: status.MPI_SOURCE=%d, expected %d",
             ctx, st->MPI_SOURCE, partner);
    MP_CHECK(st->MPI_TAG == tag, "%s: status.MPI_TAG=%d, expected %d", ctx,
             st->MPI_TAG, tag);
    MP_CALL(MPI_Get_count(st, MPI_BYTE, &count));
    MP_CHECK(count == (int)size, "%s: MPI_Get_count=%d, expected %zu", ctx,
             count, size);
}

static void check_null(MPI_Request *reqs, int n, const char *ctx)
{
    int i;
    for (i = 0; i < n; i++)
        MP_CHECK(reqs[i] == MPI_REQUEST_NULL,
                 "%s: request %d not set to MPI_REQUEST_NULL after completion",
                 ctx, i);
}

/* One exchange of `size` bytes each way with `partner` (may be self). */
static void exchange(int partner, size_t size, int iter, int mode)
{
    const int me = mp_rank, tag = TAG_DATA + mode, n = (int)size;
    const int self = partner == me;
    const uint64_t sseed = mp_seed(me, partner, size, iter * 32 + mode);
    const uint64_t rseed = mp_seed(partner, me, size, iter * 32 + mode);
    MPI_Request reqs[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    MPI_Status sts[2], st;
    unsigned long spins = 0;
    int recv_idx = 0, flag = 0, idx, outcount, indices[2], i, done;
    char ctx[160];
    const char *rcv = rbuf;

    snprintf(ctx, sizeof(ctx), "%s %zu B %d->%d iter %d", mode_name[mode], size,
             partner, me, iter);
    mp_set_phase(mode_name[mode]);
    memset(&st, 0, sizeof(st));
    mp_fill(sbuf, size, sseed);
    memset(rbuf, 0xee, size);

    switch (mode) {
    case M_SEND_RECV:
    case M_SSEND_RECV: {
        int (*snd)(const void *, int, MPI_Datatype, int, int, MPI_Comm) =
            mode == M_SEND_RECV ? MPI_Send : MPI_Ssend;
        if (self) {
            /* Blocking self-send needs the receive posted first. */
            MP_CALL(MPI_Irecv(rbuf, n, MPI_BYTE, me, tag, MPI_COMM_WORLD,
                              &reqs[0]));
            MP_CALL(snd(sbuf, n, MPI_BYTE, me, tag, MPI_COMM_WORLD));
            MP_CALL(MPI_Wait(&reqs[0], &st));
        } else if (me < partner) {
            MP_CALL(snd(sbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD));
            MP_CALL(
                MPI_Recv(rbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD, &st));
        } else {
            MP_CALL(
                MPI_Recv(rbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD, &st));
            MP_CALL(snd(sbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD));
        }
        check_status(&st, partner, tag, size, ctx);
        break;
    }
    case M_RSEND:
        MP_CALL(MPI_Irecv(rbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD,
                          &reqs[0]));
        /* The zero-byte handshake proves the partner's receive is posted. */
        MP_CALL(MPI_Sendrecv(NULL, 0, MPI_BYTE, partner, TAG_READY, NULL, 0,
                             MPI_BYTE, partner, TAG_READY, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE));
        MP_CALL(MPI_Rsend(sbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD));
        MP_CALL(MPI_Wait(&reqs[0], &st));
        check_status(&st, partner, tag, size, ctx);
        check_null(reqs, 1, ctx);
        break;
    case M_SENDRECV:
        MP_CALL(MPI_Sendrecv(sbuf, n, MPI_BYTE, partner, tag, rbuf, n, MPI_BYTE,
                             partner, tag, MPI_COMM_WORLD, &st));
        check_status(&st, partner, tag, size, ctx);
        break;
    case M_SENDRECV_REPLACE:
        mp_fill(rbuf, size, sseed);
        MP_CALL(MPI_Sendrecv_replace(rbuf, n, MPI_BYTE, partner, tag, partner,
                                     tag, MPI_COMM_WORLD, &st));
        check_status(&st, partner, tag, size, ctx);
        break;
    case M_ISEND_IRECV_WAIT:
        MP_CALL(MPI_Irecv(rbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD,
                          &reqs[0]));
        MP_CALL(MPI_Isend(sbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD,
                          &reqs[1]));
        MP_CALL(MPI_Wait(&reqs[0], &st));
        MP_CALL(MPI_Wait(&reqs[1], MPI_STATUS_IGNORE));
        check_status(&st, partner, tag, size, ctx);
        check_null(reqs, 2, ctx);
        break;
    case M_ISEND_FIRST_WAITALL:
        MP_CALL(MPI_Isend(sbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD,
                          &reqs[0]));
        /* Give the message time to land unexpected at the partner. */
        if (size <= 65536)
            usleep(200);
        MP_CALL(MPI_Irecv(rbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD,
                          &reqs[1]));
        MP_CALL(MPI_Waitall(2, reqs, sts));
        check_status(&sts[1], partner, tag, size, ctx);
        check_null(reqs, 2, ctx);
        break;
    case M_ISSEND_WAITANY:
    case M_ISEND_WAITSOME: {
        MP_CALL(MPI_Irecv(rbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD,
                          &reqs[0]));
        if (mode == M_ISSEND_WAITANY)
            MP_CALL(MPI_Issend(sbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD,
                               &reqs[1]));
        else
            MP_CALL(MPI_Isend(sbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD,
                              &reqs[1]));
        done = 0;
        int seen[2] = {0, 0};
        while (done < 2) {
            if (mode == M_ISSEND_WAITANY) {
                idx = -5;
                if (!MP_CALL(MPI_Waitany(2, reqs, &idx, &st)))
                    break;
                if (idx != 0 && idx != 1) {
                    MP_CHECK(0, "%s: Waitany index %d", ctx, idx);
                    break;
                }
                MP_CHECK(!seen[idx], "%s: Waitany returned index %d twice", ctx,
                         idx);
                seen[idx] = 1;
                if (idx == 0)
                    check_status(&st, partner, tag, size, ctx);
                done++;
            } else {
                outcount = -5;
                if (!MP_CALL(MPI_Waitsome(2, reqs, &outcount, indices, sts)))
                    break;
                if (outcount < 1 || outcount > 2 - done) {
                    MP_CHECK(0, "%s: Waitsome outcount %d with %d pending", ctx,
                             outcount, 2 - done);
                    break;
                }
                for (i = 0; i < outcount; i++) {
                    idx = indices[i];
                    if (idx != 0 && idx != 1) {
                        MP_CHECK(0, "%s: Waitsome index %d", ctx, idx);
                        continue;
                    }
                    MP_CHECK(!seen[idx], "%s: Waitsome index %d twice", ctx,
                             idx);
                    seen[idx] = 1;
                    if (idx == 0)
                        check_status(&sts[i], partner, tag, size, ctx);
                }
                done += outcount;
            }
        }
        check_null(reqs, 2, ctx);
        /* All requests inactive: MPI_UNDEFINED, returns at once. */
        if (mode == M_ISSEND_WAITANY) {
            idx = 0;
            MP_CALL(MPI_Waitany(2, reqs, &idx, &st));
            MP_CHECK(idx == MPI_UNDEFINED,
                     "%s: Waitany on null requests gave index %d, expected "
                     "MPI_UNDEFINED",
                     ctx, idx);
        } else {
            outcount = 0;
            MP_CALL(MPI_Waitsome(2, reqs, &outcount, indices, sts));
            MP_CHECK(outcount == MPI_UNDEFINED,
                     "%s: Waitsome on null requests gave outcount %d, "
                     "expected MPI_UNDEFINED",
                     ctx, outcount);
        }
        break;
    }
    case M_ISEND_TEST:
        MP_CALL(MPI_Irecv(rbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD,
                          &reqs[0]));
        MP_CALL(MPI_Isend(sbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD,
                          &reqs[1]));
        for (flag = 0; !flag; relax(&spins))
            if (!MP_CALL(MPI_Test(&reqs[0], &flag, &st)))
                break;
        check_status(&st, partner, tag, size, ctx);
        for (flag = 0; !flag; relax(&spins))
            if (!MP_CALL(MPI_Test(&reqs[1], &flag, MPI_STATUS_IGNORE)))
                break;
        check_null(reqs, 2, ctx);
        /* Test on a null request: flag true, empty status. */
        flag = 0;
        MP_CALL(MPI_Test(&reqs[0], &flag, &st));
        MP_CHECK(flag, "%s: MPI_Test on MPI_REQUEST_NULL gave flag 0", ctx);
        break;
    case M_ISSEND_TESTALL:
        MP_CALL(MPI_Irecv(rbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD,
                          &reqs[0]));
        MP_CALL(MPI_Issend(sbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD,
                           &reqs[1]));
        for (flag = 0; !flag; relax(&spins))
            if (!MP_CALL(MPI_Testall(2, reqs, &flag, sts)))
                break;
        check_status(&sts[0], partner, tag, size, ctx);
        check_null(reqs, 2, ctx);
        break;
    case M_ISEND_TESTANY:
    case M_ISEND_TESTSOME: {
        int seen2[2] = {0, 0};
        MP_CALL(MPI_Irecv(rbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD,
                          &reqs[0]));
        MP_CALL(MPI_Isend(sbuf, n, MPI_BYTE, partner, tag, MPI_COMM_WORLD,
                          &reqs[1]));
        done = 0;
        while (done < 2) {
            if (mode == M_ISEND_TESTANY) {
                flag = 0;
                idx = -5;
                if (!MP_CALL(MPI_Testany(2, reqs, &idx, &flag, &st)))
                    break;
                if (!flag) {
                    MP_CHECK(idx == MPI_UNDEFINED,
                             "%s: Testany flag 0 but index %d", ctx, idx);
                    relax(&spins);
                    continue;
                }
                if (idx != 0 && idx != 1) {
                    MP_CHECK(0, "%s: Testany flag 1 with index %d", ctx, idx);
                    break;
                }
                MP_CHECK(!seen2[idx], "%s: Testany index %d twice", ctx, idx);
                seen2[idx] = 1;
                if (idx == 0)
                    check_status(&st, partner, tag, size, ctx);
                done++;
            } else {
                outcount = -5;
                if (!MP_CALL(MPI_Testsome(2, reqs, &outcount, indices, sts)))
                    break;
                if (outcount == 0) {
                    relax(&spins);
                    continue;
                }
                if (outcount < 0 || outcount > 2 - done) {
                    MP_CHECK(0, "%s: Testsome outcount %d with %d pending", ctx,
                             outcount, 2 - done);
                    break;
                }
                for (i = 0; i < outcount; i++) {
                    idx = indices[i];
                    if (idx != 0 && idx != 1) {
                        MP_CHECK(0, "%s: Testsome index %d", ctx, idx);
                        continue;
                    }
                    MP_CHECK(!seen2[idx], "%s: Testsome index %d twice", ctx,
                             idx);
                    seen2[idx] = 1;
                    if (idx == 0)
                        check_status(&sts[i], partner, tag, size, ctx);
                }
                done += outcount;
            }
        }
        check_null(reqs, 2, ctx);
        if (mode == M_ISEND_TESTANY) {
            flag = 0;
            idx = 0;
            MP_CALL(MPI_Testany(2, reqs, &idx, &flag, &st));
            MP_CHECK(flag && idx == MPI_UNDEFINED,
                     "%s: Testany on null requests gave flag %d index %d, "
                     "expected 1 and MPI_UNDEFINED",
                     ctx, flag, idx);
        } else {
            outcount = 0;
            MP_CALL(MPI_Testsome(2, reqs, &outcount, indices, sts));
            MP_CHECK(outcount == MPI_UNDEFINED,
                     "%s: Testsome on null requests gave outcount %d, "
                     "expected MPI_UNDEFINED",
                     ctx, outcount);
        }
        break;
    }
    }
    (void)recv_idx;
    MP_CHECK_PATTERN(rcv, size, rseed, "%s: received data", ctx);
    if (mode != M_SENDRECV_REPLACE)
        MP_CHECK_PATTERN(sbuf, size, sseed, "%s: send buffer modified", ctx);
}

static size_t *make_sizes(size_t max, int *count)
{
    size_t *s = mp_xmalloc(200 * sizeof(*s));
    size_t p;
    int n = 0, k;
    s[n++] = 0;
    s[n++] = 1;
    s[n++] = 3;
    for (k = 1; ((size_t)1 << k) <= max; k++) {
        p = (size_t)1 << k;
        s[n++] = p;
        if (k >= 3 && p + 1 <= max)
            s[n++] = p + 1; /* odd: trailing partial word */
        if (k >= 4 && k % 3 == 0 && p <= ((size_t)1 << 20))
            s[n++] = p - 1; /* odd, just below a power of two */
    }
    /* Both sides of the usual eager limits (8, 16, 64 KiB). */
    {
        static const size_t edges[] = {8191, 16383, 16385, 65535, 65537};
        for (k = 0; k < (int)(sizeof(edges) / sizeof(edges[0])); k++)
            if (edges[k] <= max)
                s[n++] = edges[k];
    }
    if (max > 3)
        s[n++] = max;
    /* Sort and drop duplicates. */
    for (k = 1; k < n; k++) {
        size_t v = s[k];
        int j = k - 1;
        for (; j >= 0 && s[j] > v; j--)
            s[j + 1] = s[j];
        s[j + 1] = v;
    }
    for (p = 0, k = 0; k < n; k++)
        if (k == 0 || s[k] != s[p - 1])
            s[p++] = s[k];
    *count = (int)p;
    return s;
}

int main(int argc, char **argv)
{
    size_t max_size = 0, *sizes;
    int iters = 2, nsizes, i, round, rounds, mode, it, partner;
    double t0;

    MPI_Init(&argc, &argv);
    mp_init("p2p_pairs");
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--max-size") && i + 1 < argc)
            max_size = mp_parse_size(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
    }
    if (!max_size)
        max_size = mp_size <= 2   ? (size_t)64 << 20
                   : mp_size <= 4 ? (size_t)16 << 20
                                  : (size_t)4 << 20;
    sizes = make_sizes(max_size, &nsizes);
    sbuf = mp_xmalloc(max_size);
    rbuf = mp_xmalloc(max_size);
    t0 = MPI_Wtime();

    /* Rounds of the tournament, then one self round for everybody. */
    rounds = mp_rounds(mp_size) + (mp_size % 2 == 0 ? 1 : 0);
    for (round = 0; round < rounds; round++) {
        partner = round < mp_rounds(mp_size)
                      ? mp_partner(mp_rank, round, mp_size)
                      : mp_rank;
        for (i = 0; i < nsizes; i++) {
            size_t size = sizes[i];
            /* The extra self round only needs to reach rendezvous sizes. */
            if (partner == mp_rank && mp_size > 1 && size > ((size_t)4 << 20))
                continue;
            for (mode = 0; mode < M_COUNT; mode++) {
                if (size > 262144 && (mode + i) % 4 != 0)
                    continue;
                for (it = 0; it < (size <= 65536 ? iters : 1); it++)
                    exchange(partner, size, it, mode);
            }
        }
        if (mp_verbose)
            fprintf(stderr, "[rank %d] round %d with %d done\n", mp_rank, round,
                    partner);
    }
    mp_barrier();
    if (mp_rank == 0)
        printf("p2p_pairs: %d sizes up to %zu B, %d rounds, %.2f s\n", nsizes,
               max_size, rounds, MPI_Wtime() - t0);
    free(sbuf);
    free(rbuf);
    free(sizes);
    return mp_finish();
}
