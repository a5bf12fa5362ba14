/*
 * errors — error classes returned with MPI_ERRORS_RETURN, and the rank
 * staying usable after each error.
 *
 * - Truncation (message longer than the receive buffer), eager and
 *   rendezvous sizes, via Recv, Irecv+Wait and Irecv+Waitall: the error
 *   class is MPI_ERR_TRUNCATE (MPI_ERR_IN_STATUS + status.MPI_ERROR for
 *   Waitall) and no byte after the receive buffer's `count` elements is
 *   written (guard bytes). The sender's call succeeds.
 * - Invalid rank, negative count, invalid tags, MPI_DATATYPE_NULL,
 *   MPI_COMM_NULL: MPI_ERR_RANK / _COUNT / _TAG / _TYPE / _COMM.
 * - MPI_Error_string gives non-empty text for each; a user error handler
 *   is called with the error code.
 * - After each error a normal exchange with the peer succeeds.
 *
 * Pairs (2k, 2k+1); an unpaired rank works with itself.
 *
 * Usage: errors [--no-truncation]
 */
#include "mp_common.h"

#include <limits.h>

#define GUARD 4096
#define GUARD_BYTE 0xa5
#define TAG_TRUNC 40
#define TAG_PING 41

static int peer;
static int tag_ub = 32767;

static const char *class_name(int c)
{
    switch (c) {
    case MPI_SUCCESS:
        return "MPI_SUCCESS";
    case MPI_ERR_BUFFER:
        return "MPI_ERR_BUFFER";
    case MPI_ERR_COUNT:
        return "MPI_ERR_COUNT";
    case MPI_ERR_TYPE:
        return "MPI_ERR_TYPE";
    case MPI_ERR_TAG:
        return "MPI_ERR_TAG";
    case MPI_ERR_COMM:
        return "MPI_ERR_COMM";
    case MPI_ERR_RANK:
        return "MPI_ERR_RANK";
    case MPI_ERR_TRUNCATE:
        return "MPI_ERR_TRUNCATE";
    case MPI_ERR_IN_STATUS:
        return "MPI_ERR_IN_STATUS";
    case MPI_ERR_ARG:
        return "MPI_ERR_ARG";
    case MPI_ERR_OTHER:
        return "MPI_ERR_OTHER";
    case MPI_ERR_INTERN:
        return "MPI_ERR_INTERN";
    default:
        return "other";
    }
}

#define EXPECT_CLASS(call, want) expect_class((call), (want), #call, __LINE__)

static void expect_class(int rc, int want, const char *what, int line)
{
    int cls = -1, len = -1;
    char text[MPI_MAX_ERROR_STRING + 1];

    if (rc == MPI_SUCCESS) {
        mp_fail(line, "%s returned MPI_SUCCESS, expected %s", what,
                class_name(want));
        return;
    }
    if (MPI_Error_class(rc, &cls) != MPI_SUCCESS) {
        mp_fail(line, "%s: MPI_Error_class(%d) failed", what, rc);
        return;
    }
    if (cls != want)
        mp_fail(line, "%s returned code %d of class %d (%s), expected %s (%d)",
                what, rc, cls, class_name(cls), class_name(want), want);
    memset(text, 0, sizeof(text));
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
        mp_fail(line, "MPI_Error_string(%d) failed", rc);
    else if (len <= 0 || text[0] == 0 || (int)strlen(text) != len)
        mp_fail(line,
                "MPI_Error_string(%d) gave length %d, text \"%s\" (expected "
                "non-empty text of that length)",
                rc, len, text);
    else if (mp_verbose)
        fprintf(stderr, "[rank %d] %s -> \"%s\"\n", mp_rank, what, text);
}

/* A normal exchange with the peer: the rank still works. */
static void ping(const char *after)
{
    int out = 7000 + mp_rank, in = -1;
    MPI_Status st;
    int rc = MPI_Sendrecv(&out, 1, MPI_INT, peer, TAG_PING, &in, 1, MPI_INT,
                          peer, TAG_PING, MPI_COMM_WORLD, &st);
    MP_CHECK(rc == MPI_SUCCESS && in == 7000 + peer,
             "exchange after %s failed: rc %d, got %d, expected %d", after, rc,
             in, 7000 + peer);
}

static void check_guard(const unsigned char *buf, size_t n, const char *what)
{
    size_t i, bad = 0, first = 0;
    for (i = n; i < n + GUARD; i++)
        if (buf[i] != GUARD_BYTE) {
            if (!bad)
                first = i;
            bad++;
        }
    MP_CHECK(!bad,
             "%s: %zu guard bytes after the %zu-byte receive buffer were "
             "overwritten (first at +%zu): data written beyond count",
             what, bad, n, first - n);
}

/* ---- truncation -------------------------------------------------------- */

struct trunc_case {
    size_t recv_bytes, send_bytes;
    int how; /* 0 Recv, 1 Irecv+Wait, 2 Irecv+Waitall, 3 Recv as MPI_INT */
};

static const struct trunc_case trunc_cases[] = {
    {64, 100, 0},
    {64, 65, 1},
    {0, 1, 0},
    {1000, 4096, 2},
    {64, 256, 3},
    {1 << 20, (2 << 20) + 7, 0},
    {1 << 20, (1 << 20) + 1, 1},
    {(1 << 20) + 3, 4 << 20, 2},
    {1 << 19, 3 << 19, 3},
};
#define NTRUNC (int)(sizeof(trunc_cases) / sizeof(trunc_cases[0]))

static void trunc_recv(int i)
{
    const struct trunc_case *tc = &trunc_cases[i];
    unsigned char *buf = mp_xmalloc(tc->recv_bytes + GUARD);
    MPI_Request reqs[2];
    MPI_Status st, sts[2];
    char what[128];
    int rc, dummy = 0;

    snprintf(what, sizeof(what), "%zu-byte message into %zu-byte %s",
             tc->send_bytes, tc->recv_bytes,
             tc->how == 0   ? "Recv"
             : tc->how == 1 ? "Irecv+Wait"
             : tc->how == 2 ? "Irecv+Waitall"
                            : "Recv(MPI_INT)");
    mp_set_phase(what);
    memset(buf, GUARD_BYTE, tc->recv_bytes + GUARD);
    st.MPI_ERROR = MPI_SUCCESS;
    switch (tc->how) {
    case 0:
        rc = MPI_Recv(buf, (int)tc->recv_bytes, MPI_BYTE, peer, TAG_TRUNC,
                      MPI_COMM_WORLD, &st);
        expect_class(rc, MPI_ERR_TRUNCATE, what, __LINE__);
        break;
    case 1:
        MP_CALL(MPI_Irecv(buf, (int)tc->recv_bytes, MPI_BYTE, peer, TAG_TRUNC,
                          MPI_COMM_WORLD, &reqs[0]));
        rc = MPI_Wait(&reqs[0], &st);
        expect_class(rc, MPI_ERR_TRUNCATE, what, __LINE__);
        break;
    case 2:
        /* A second, fine request beside the truncated one. */
        MP_CALL(MPI_Irecv(buf, (int)tc->recv_bytes, MPI_BYTE, peer, TAG_TRUNC,
                          MPI_COMM_WORLD, &reqs[0]));
        MP_CALL(MPI_Irecv(&dummy, 1, MPI_INT, mp_rank, TAG_TRUNC + 1,
                          MPI_COMM_WORLD, &reqs[1]));
        MP_CALL(MPI_Send(&dummy, 1, MPI_INT, mp_rank, TAG_TRUNC + 1,
                         MPI_COMM_WORLD));
        sts[0].MPI_ERROR = sts[1].MPI_ERROR = 4242;
        rc = MPI_Waitall(2, reqs, sts);
        expect_class(rc, MPI_ERR_IN_STATUS, what, __LINE__);
        if (rc != MPI_SUCCESS) {
            int c0 = -1;
            MPI_Error_class(sts[0].MPI_ERROR, &c0);
            MP_CHECK(c0 == MPI_ERR_TRUNCATE,
                     "%s: Waitall statuses[0].MPI_ERROR=%d (class %d), "
                     "expected MPI_ERR_TRUNCATE",
                     what, sts[0].MPI_ERROR, c0);
            MP_CHECK(sts[1].MPI_ERROR == MPI_SUCCESS ||
                         sts[1].MPI_ERROR == MPI_ERR_PENDING,
                     "%s: Waitall statuses[1].MPI_ERROR=%d for the fine "
                     "request, expected MPI_SUCCESS",
                     what, sts[1].MPI_ERROR);
            /* If MPI_ERR_PENDING it is still active: finish it. */
            if (sts[1].MPI_ERROR == MPI_ERR_PENDING)
                MPI_Wait(&reqs[1], MPI_STATUS_IGNORE);
        }
        break;
    default:
        rc = MPI_Recv(buf, (int)(tc->recv_bytes / 4), MPI_INT, peer, TAG_TRUNC,
                      MPI_COMM_WORLD, &st);
        expect_class(rc, MPI_ERR_TRUNCATE, what, __LINE__);
        break;
    }
    check_guard(buf, tc->how == 3 ? tc->recv_bytes / 4 * 4 : tc->recv_bytes,
                what);
    free(buf);
    ping(what);
}

static void trunc_send(int i, MPI_Request *req, char **buf)
{
    const struct trunc_case *tc = &trunc_cases[i];
    *buf = mp_xmalloc(tc->send_bytes);
    memset(*buf, 0x3c, tc->send_bytes);
    MP_CALL(MPI_Isend(*buf, (int)tc->send_bytes, MPI_BYTE, peer, TAG_TRUNC,
                      MPI_COMM_WORLD, req));
}

static void truncation(int receiver)
{
    int i;
    for (i = 0; i < NTRUNC; i++) {
        MPI_Request sreq = MPI_REQUEST_NULL;
        char *sbuf = NULL;
        if (peer == mp_rank) {
            trunc_send(i, &sreq, &sbuf);
            trunc_recv(i);
        } else if (receiver) {
            trunc_recv(i);
        } else {
            trunc_send(i, &sreq, &sbuf);
            /* The sender's side of a truncated message is no error. */
            MP_CALL(MPI_Wait(&sreq, MPI_STATUS_IGNORE));
            ping("sending a truncated message");
        }
        if (sreq != MPI_REQUEST_NULL)
            MP_CALL(MPI_Wait(&sreq, MPI_STATUS_IGNORE));
        free(sbuf);
    }
}

/* ---- argument errors --------------------------------------------------- */

static int handler_calls, handler_last;

static void count_handler(MPI_Comm *comm, int *code, ...)
{
    (void)comm;
    handler_calls++;
    handler_last = *code;
}

static void bad_arguments(void)
{
    int b[4] = {0}, cls = -1;
    MPI_Request req = MPI_REQUEST_NULL;
    MPI_Status st;
    MPI_Errhandler eh, cur;

    mp_set_phase("invalid rank");
    EXPECT_CLASS(MPI_Send(b, 1, MPI_INT, mp_size, 1, MPI_COMM_WORLD),
                 MPI_ERR_RANK);
    EXPECT_CLASS(MPI_Send(b, 1, MPI_INT, -5, 1, MPI_COMM_WORLD), MPI_ERR_RANK);
    EXPECT_CLASS(MPI_Recv(b, 1, MPI_INT, mp_size + 3, 1, MPI_COMM_WORLD, &st),
                 MPI_ERR_RANK);
    EXPECT_CLASS(MPI_Isend(b, 1, MPI_INT, mp_size, 1, MPI_COMM_WORLD, &req),
                 MPI_ERR_RANK);
    EXPECT_CLASS(MPI_Irecv(b, 1, MPI_INT, -7, 1, MPI_COMM_WORLD, &req),
                 MPI_ERR_RANK);
    EXPECT_CLASS(MPI_Probe(mp_size, 1, MPI_COMM_WORLD, &st), MPI_ERR_RANK);
    ping("invalid rank");

    mp_set_phase("negative count");
    EXPECT_CLASS(MPI_Send(b, -1, MPI_INT, peer, 1, MPI_COMM_WORLD),
                 MPI_ERR_COUNT);
    EXPECT_CLASS(MPI_Recv(b, -3, MPI_INT, peer, 1, MPI_COMM_WORLD, &st),
                 MPI_ERR_COUNT);
    EXPECT_CLASS(MPI_Irecv(b, -1, MPI_BYTE, peer, 1, MPI_COMM_WORLD, &req),
                 MPI_ERR_COUNT);
    EXPECT_CLASS(MPI_Isend(b, -1, MPI_BYTE, peer, 1, MPI_COMM_WORLD, &req),
                 MPI_ERR_COUNT);
    ping("negative count");

    mp_set_phase("invalid tag");
    EXPECT_CLASS(MPI_Send(b, 1, MPI_INT, peer, -5, MPI_COMM_WORLD),
                 MPI_ERR_TAG);
    EXPECT_CLASS(MPI_Send(b, 1, MPI_INT, peer, MPI_ANY_TAG, MPI_COMM_WORLD),
                 MPI_ERR_TAG);
    EXPECT_CLASS(MPI_Isend(b, 1, MPI_INT, peer, -2, MPI_COMM_WORLD, &req),
                 MPI_ERR_TAG);
    EXPECT_CLASS(MPI_Recv(b, 1, MPI_INT, peer, -5, MPI_COMM_WORLD, &st),
                 MPI_ERR_TAG);
    if (tag_ub < INT_MAX) {
        EXPECT_CLASS(MPI_Send(b, 1, MPI_INT, peer, tag_ub + 1, MPI_COMM_WORLD),
                     MPI_ERR_TAG);
        EXPECT_CLASS(
            MPI_Recv(b, 1, MPI_INT, peer, tag_ub + 1, MPI_COMM_WORLD, &st),
            MPI_ERR_TAG);
    }
    ping("invalid tag");

    mp_set_phase("MPI_DATATYPE_NULL");
    EXPECT_CLASS(MPI_Send(b, 1, MPI_DATATYPE_NULL, peer, 1, MPI_COMM_WORLD),
                 MPI_ERR_TYPE);
    EXPECT_CLASS(
        MPI_Recv(b, 1, MPI_DATATYPE_NULL, peer, 1, MPI_COMM_WORLD, &st),
        MPI_ERR_TYPE);
    EXPECT_CLASS(
        MPI_Irecv(b, 1, MPI_DATATYPE_NULL, peer, 1, MPI_COMM_WORLD, &req),
        MPI_ERR_TYPE);
    ping("MPI_DATATYPE_NULL");

    mp_set_phase("MPI_COMM_NULL");
    EXPECT_CLASS(MPI_Send(b, 1, MPI_INT, peer, 1, MPI_COMM_NULL), MPI_ERR_COMM);
    EXPECT_CLASS(MPI_Recv(b, 1, MPI_INT, peer, 1, MPI_COMM_NULL, &st),
                 MPI_ERR_COMM);
    EXPECT_CLASS(MPI_Isend(b, 1, MPI_INT, peer, 1, MPI_COMM_NULL, &req),
                 MPI_ERR_COMM);
    ping("MPI_COMM_NULL");

    mp_set_phase("error classes and strings");
    for (cls = MPI_ERR_BUFFER; cls <= MPI_ERR_IN_STATUS; cls++) {
        char text[MPI_MAX_ERROR_STRING + 1];
        int len = -1, c2 = -1;
        MP_CALL(MPI_Error_string(cls, text, &len));
        MP_CHECK(len > 0 && len < MPI_MAX_ERROR_STRING &&
                     (int)strlen(text) == len,
                 "MPI_Error_string(class %d): length %d, text \"%.40s\"", cls,
                 len, text);
        MP_CALL(MPI_Error_class(cls, &c2));
        MP_CHECK(c2 == cls,
                 "MPI_Error_class(%d) = %d: a class is its own "
                 "class",
                 cls, c2);
    }

    mp_set_phase("user error handler");
    MP_CALL(MPI_Comm_create_errhandler(count_handler, &eh));
    MP_CALL(MPI_Comm_set_errhandler(MPI_COMM_WORLD, eh));
    handler_calls = 0;
    {
        int rc = MPI_Send(b, 1, MPI_INT, mp_size + 1, 1, MPI_COMM_WORLD);
        MP_CHECK(handler_calls == 1,
                 "user error handler called %d times for a bad rank, "
                 "expected 1",
                 handler_calls);
        if (handler_calls) {
            MPI_Error_class(handler_last, &cls);
            MP_CHECK(cls == MPI_ERR_RANK,
                     "user error handler got code %d (class %d), expected "
                     "MPI_ERR_RANK",
                     handler_last, cls);
        }
        MP_CHECK(rc != MPI_SUCCESS,
                 "a call whose handler returned still reported "
                 "MPI_SUCCESS");
    }
    MP_CALL(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    MP_CALL(MPI_Errhandler_free(&eh));
    MP_CALL(MPI_Comm_get_errhandler(MPI_COMM_WORLD, &cur));
    MP_CHECK(cur == MPI_ERRORS_RETURN,
             "Comm_get_errhandler does not return MPI_ERRORS_RETURN after "
             "setting it");
    if (cur != MPI_ERRORS_RETURN && cur != MPI_ERRHANDLER_NULL)
        MPI_Errhandler_free(&cur);
    ping("user error handler");
}

int main(int argc, char **argv)
{
    int *val = NULL, flag = 0, do_trunc = 1, i;

    MPI_Init(&argc, &argv);
    mp_init("errors");
    MP_CALL(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    MP_CALL(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &val, &flag));
    if (flag && val)
        tag_ub = *val;
    peer = mp_rank ^ 1;
    if (peer >= mp_size)
        peer = mp_rank;

    /* --no-truncation: for libraries that corrupt memory on truncation
     * (Open MPI 4.1 writes past the receive buffer), so the rest still runs. */
    for (i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--no-truncation"))
            do_trunc = 0;
    if (do_trunc) {
        mp_set_phase("truncation");
        truncation(mp_rank % 2 == 1);
        mp_barrier();
        /* And the other direction. */
        truncation(mp_rank % 2 == 0);
        mp_barrier();
    }
    bad_arguments();
    return mp_finish();
}
