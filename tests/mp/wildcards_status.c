/*
 * wildcards_status — MPI_ANY_SOURCE / MPI_ANY_TAG matching and the contents
 * of MPI_Status: MPI_SOURCE, MPI_TAG, MPI_ERROR, MPI_Get_count,
 * MPI_Get_elements (MPI_UNDEFINED when the bytes are not a whole number of
 * elements), zero-byte messages, MPI_PROC_NULL, MPI_STATUS_IGNORE and the
 * MPI_TAG_UB attribute.
 *
 * Only rank 0 receives with both wildcards; the other ranks wait for rank
 * 0's "done" before any further control message, so nothing else can match.
 */
#include "mp_common.h"

#define TAG_DATA0 100 /* + sender rank */
#define TAG_ZERO0 5000
#define TAG_SAME 700
#define TAG_SRC0 8000
#define TAG_DONE 9
#define SENTINEL_ERR 4242

static int tag_ub = 32767;

/* Weak: this test must link (and report a failure) even while a library
 * under construction lacks the derived-datatype constructors. */
#pragma weak MPI_Type_contiguous
#pragma weak MPI_Type_commit
#pragma weak MPI_Type_free

static void check_tag_ub(void)
{
    int *val = NULL, flag = 0;
    mp_set_phase("MPI_TAG_UB attribute");
    MP_CALL(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &val, &flag));
    MP_CHECK(flag, "MPI_Comm_get_attr(MPI_TAG_UB) flag 0, expected 1");
    if (flag && val) {
        MP_CHECK(*val >= 32767, "MPI_TAG_UB = %d, expected >= 32767", *val);
        tag_ub = *val;
    }
}

/* Self-send: every status field and count query on known byte counts. */
static void check_counts(void)
{
    MPI_Datatype pair;
    MPI_Request req;
    MPI_Status st;
    MPI_Count cx = -1;
    int buf[8] = {1, 2, 3, 4, 5, 6, 7, 8}, rb[8], c, e;
    char guard[16];

    mp_set_phase("Get_count/Get_elements");
    /* 6 bytes as MPI_INT: not a whole number of ints. */
    MP_CALL(MPI_Isend(buf, 6, MPI_BYTE, mp_rank, 1, MPI_COMM_WORLD, &req));
    st.MPI_ERROR = SENTINEL_ERR;
    MP_CALL(MPI_Recv(rb, 8, MPI_INT, mp_rank, 1, MPI_COMM_WORLD, &st));
    MP_CALL(MPI_Wait(&req, MPI_STATUS_IGNORE));
    c = e = 0;
    MP_CALL(MPI_Get_count(&st, MPI_INT, &c));
    MP_CALL(MPI_Get_elements(&st, MPI_INT, &e));
    MP_CHECK(c == MPI_UNDEFINED,
             "6 bytes received as MPI_INT: Get_count=%d, expected "
             "MPI_UNDEFINED (%d)",
             c, MPI_UNDEFINED);
    MP_CHECK(e == MPI_UNDEFINED,
             "6 bytes received as MPI_INT: Get_elements=%d, expected "
             "MPI_UNDEFINED (%d)",
             e, MPI_UNDEFINED);
    MP_CALL(MPI_Get_count(&st, MPI_BYTE, &c));
    MP_CHECK(c == 6, "6 bytes: Get_count(MPI_BYTE)=%d, expected 6", c);
    MP_CHECK(st.MPI_ERROR == SENTINEL_ERR || st.MPI_ERROR == MPI_SUCCESS,
             "successful MPI_Recv left status.MPI_ERROR=%d (expected it "
             "untouched or MPI_SUCCESS)",
             st.MPI_ERROR);

    /* 12 bytes: 3 ints; as a 2-int contiguous type 1.5 elements. */
    if (!MPI_Type_contiguous || !MPI_Type_commit || !MPI_Type_free) {
        MP_CHECK(0, "MPI_Type_contiguous/commit/free missing from the "
                    "library: derived-type Get_count/Get_elements untested");
        goto zero;
    }
    MP_CALL(MPI_Type_contiguous(2, MPI_INT, &pair));
    MP_CALL(MPI_Type_commit(&pair));
    MP_CALL(MPI_Isend(buf, 3, MPI_INT, mp_rank, 2, MPI_COMM_WORLD, &req));
    MP_CALL(MPI_Recv(rb, 4, pair, mp_rank, 2, MPI_COMM_WORLD, &st));
    MP_CALL(MPI_Wait(&req, MPI_STATUS_IGNORE));
    MP_CALL(MPI_Get_count(&st, MPI_INT, &c));
    MP_CHECK(c == 3, "12 bytes: Get_count(MPI_INT)=%d, expected 3", c);
    MP_CALL(MPI_Get_count(&st, pair, &c));
    MP_CHECK(c == MPI_UNDEFINED,
             "3 ints into contiguous(2,INT): Get_count=%d, expected "
             "MPI_UNDEFINED",
             c);
    MP_CALL(MPI_Get_elements(&st, pair, &e));
    MP_CHECK(e == 3,
             "3 ints into contiguous(2,INT): Get_elements=%d, expected 3", e);
    MP_CALL(MPI_Get_elements_x(&st, pair, &cx));
    MP_CHECK(cx == 3, "Get_elements_x=%lld, expected 3", (long long)cx);
    MP_CHECK(rb[0] == 1 && rb[1] == 2 && rb[2] == 3,
             "3 ints received as %d %d %d, expected 1 2 3", rb[0], rb[1],
             rb[2]);
    MP_CALL(MPI_Type_free(&pair));

zero:
    /* Zero-byte message into a non-empty buffer: count 0, buffer intact. */
    mp_set_phase("zero-byte messages");
    memset(guard, 0x5a, sizeof(guard));
    MP_CALL(MPI_Isend(NULL, 0, MPI_INT, mp_rank, 3, MPI_COMM_WORLD, &req));
    MP_CALL(MPI_Recv(guard, 4, MPI_INT, mp_rank, 3, MPI_COMM_WORLD, &st));
    MP_CALL(MPI_Wait(&req, MPI_STATUS_IGNORE));
    MP_CALL(MPI_Get_count(&st, MPI_INT, &c));
    MP_CHECK(c == 0, "zero-byte message: Get_count=%d, expected 0", c);
    MP_CALL(MPI_Get_elements(&st, MPI_INT, &e));
    MP_CHECK(e == 0, "zero-byte message: Get_elements=%d, expected 0", e);
    for (c = 0; c < 16; c++)
        MP_CHECK((unsigned char)guard[c] == 0x5a,
                 "zero-byte message wrote byte %d of the receive buffer "
                 "(0x%02x)",
                 c, (unsigned char)guard[c]);
    MP_CHECK(st.MPI_SOURCE == mp_rank && st.MPI_TAG == 3,
             "zero-byte self message: status source %d tag %d, expected %d 3",
             st.MPI_SOURCE, st.MPI_TAG, mp_rank);

    /* The largest tag works, with and without ANY_TAG. */
    mp_set_phase("tag == MPI_TAG_UB");
    MP_CALL(MPI_Isend(buf, 1, MPI_INT, mp_rank, tag_ub, MPI_COMM_WORLD, &req));
    MP_CALL(MPI_Recv(rb, 1, MPI_INT, mp_rank, tag_ub, MPI_COMM_WORLD, &st));
    MP_CALL(MPI_Wait(&req, MPI_STATUS_IGNORE));
    MP_CHECK(st.MPI_TAG == tag_ub, "tag TAG_UB: status tag %d, expected %d",
             st.MPI_TAG, tag_ub);
    MP_CALL(MPI_Isend(buf, 1, MPI_INT, mp_rank, tag_ub, MPI_COMM_WORLD, &req));
    MP_CALL(
        MPI_Recv(rb, 1, MPI_INT, mp_rank, MPI_ANY_TAG, MPI_COMM_WORLD, &st));
    MP_CALL(MPI_Wait(&req, MPI_STATUS_IGNORE));
    MP_CHECK(st.MPI_TAG == tag_ub,
             "tag TAG_UB via ANY_TAG: status tag %d, expected %d", st.MPI_TAG,
             tag_ub);

    /* MPI_STATUS_IGNORE / MPI_STATUSES_IGNORE everywhere a status goes. */
    mp_set_phase("MPI_STATUS_IGNORE");
    {
        MPI_Request r2[2];
        rb[0] = 0;
        MP_CALL(MPI_Isend(buf, 2, MPI_INT, mp_rank, 4, MPI_COMM_WORLD, &r2[0]));
        MP_CALL(MPI_Irecv(rb, 2, MPI_INT, mp_rank, 4, MPI_COMM_WORLD, &r2[1]));
        MP_CALL(MPI_Waitall(2, r2, MPI_STATUSES_IGNORE));
        MP_CHECK(rb[0] == 1 && rb[1] == 2,
                 "Waitall(STATUSES_IGNORE): got %d %d, expected 1 2", rb[0],
                 rb[1]);
        MP_CALL(MPI_Isend(buf, 2, MPI_INT, mp_rank, 5, MPI_COMM_WORLD, &r2[0]));
        MP_CALL(MPI_Recv(rb, 2, MPI_INT, mp_rank, 5, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE));
        MP_CALL(MPI_Wait(&r2[0], MPI_STATUS_IGNORE));
    }
}

static void check_proc_null_status(const MPI_Status *st, const char *what)
{
    int c = -1;
    MP_CHECK(st->MPI_SOURCE == MPI_PROC_NULL,
             "%s: status.MPI_SOURCE=%d, expected MPI_PROC_NULL (%d)", what,
             st->MPI_SOURCE, MPI_PROC_NULL);
    MP_CHECK(st->MPI_TAG == MPI_ANY_TAG,
             "%s: status.MPI_TAG=%d, expected MPI_ANY_TAG (%d)", what,
             st->MPI_TAG, MPI_ANY_TAG);
    MP_CALL(MPI_Get_count(st, MPI_INT, &c));
    MP_CHECK(c == 0, "%s: Get_count=%d, expected 0", what, c);
}

static void check_proc_null(void)
{
    MPI_Request req;
    MPI_Status st;
    int buf[4] = {7, 7, 7, 7}, i, flag;

    mp_set_phase("MPI_PROC_NULL");
    MP_CALL(MPI_Send(buf, 4, MPI_INT, MPI_PROC_NULL, 1, MPI_COMM_WORLD));
    MP_CALL(MPI_Ssend(buf, 4, MPI_INT, MPI_PROC_NULL, 1, MPI_COMM_WORLD));
    memset(&st, 0x33, sizeof(st));
    MP_CALL(MPI_Recv(buf, 4, MPI_INT, MPI_PROC_NULL, 1, MPI_COMM_WORLD, &st));
    check_proc_null_status(&st, "Recv(MPI_PROC_NULL)");
    for (i = 0; i < 4; i++)
        MP_CHECK(buf[i] == 7, "Recv(MPI_PROC_NULL) modified the buffer");

    memset(&st, 0x33, sizeof(st));
    MP_CALL(MPI_Irecv(buf, 4, MPI_INT, MPI_PROC_NULL, MPI_ANY_TAG,
                      MPI_COMM_WORLD, &req));
    MP_CALL(MPI_Wait(&req, &st));
    check_proc_null_status(&st, "Irecv(MPI_PROC_NULL)+Wait");
    MP_CHECK(req == MPI_REQUEST_NULL, "Irecv(PROC_NULL): request not freed");

    MP_CALL(MPI_Isend(buf, 4, MPI_INT, MPI_PROC_NULL, 1, MPI_COMM_WORLD, &req));
    flag = 0;
    MP_CALL(MPI_Test(&req, &flag, &st));
    MP_CHECK(flag, "Isend(MPI_PROC_NULL): first MPI_Test not complete");

    memset(&st, 0x33, sizeof(st));
    MP_CALL(MPI_Sendrecv(buf, 4, MPI_INT, MPI_PROC_NULL, 1, buf, 4, MPI_INT,
                         MPI_PROC_NULL, 1, MPI_COMM_WORLD, &st));
    check_proc_null_status(&st, "Sendrecv(PROC_NULL, PROC_NULL)");
}

/* Rank 0 receives from the "senders" (all others, or itself alone) with
 * every wildcard combination. */
static void check_wildcards(void)
{
    const int nsend = mp_size > 1 ? mp_size - 1 : 1;
    const int first = mp_size > 1 ? 1 : 0;
    int is_sender = mp_size > 1 ? mp_rank != 0 : 1;
    MPI_Request sreq[4] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL, MPI_REQUEST_NULL,
                           MPI_REQUEST_NULL};
    int data[64], zero_dummy = 0, same[1], bysrc[2], i, done = 0;

    mp_set_phase("wildcard matching");
    if (is_sender) {
        int n = mp_rank + 1;
        for (i = 0; i < n; i++)
            data[i] = mp_rank * 1000 + i;
        same[0] = mp_rank;
        bysrc[0] = mp_rank;
        bysrc[1] = TAG_SRC0 + mp_rank;
        MP_CALL(MPI_Isend(data, n, MPI_INT, 0, TAG_DATA0 + mp_rank,
                          MPI_COMM_WORLD, &sreq[0]));
        MP_CALL(MPI_Isend(&zero_dummy, 0, MPI_INT, 0, TAG_ZERO0 + mp_rank,
                          MPI_COMM_WORLD, &sreq[1]));
        MP_CALL(
            MPI_Isend(same, 1, MPI_INT, 0, TAG_SAME, MPI_COMM_WORLD, &sreq[2]));
        MP_CALL(MPI_Isend(bysrc, 2, MPI_INT, 0, TAG_SRC0 + mp_rank,
                          MPI_COMM_WORLD, &sreq[3]));
    }
    if (mp_rank == 0) {
        int seen_data[64] = {0}, seen_zero[64] = {0}, seen_same[64] = {0};
        int seen_src[64] = {0};
        int rb[64], c, e, src, tag;
        MPI_Status st;

        /* (ANY_SOURCE, ANY_TAG): the data and zero-byte messages. */
        for (i = 0; i < 2 * nsend; i++) {
            memset(rb, 0, sizeof(rb));
            st.MPI_SOURCE = st.MPI_TAG = -77;
            st.MPI_ERROR = SENTINEL_ERR;
            /* Only these two message kinds are outstanding per sender until
             * the TAG_SAME / TAG_SRC0 ones, which might also match ANY_TAG:
             * accept any of them and check consistency. */
            MP_CALL(MPI_Recv(rb, 64, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG,
                             MPI_COMM_WORLD, &st));
            src = st.MPI_SOURCE;
            tag = st.MPI_TAG;
            MP_CALL(MPI_Get_count(&st, MPI_INT, &c));
            MP_CALL(MPI_Get_elements(&st, MPI_INT, &e));
            MP_CHECK(c == e, "Get_count %d != Get_elements %d for MPI_INT", c,
                     e);
            MP_CHECK(
                st.MPI_ERROR == SENTINEL_ERR || st.MPI_ERROR == MPI_SUCCESS,
                "status.MPI_ERROR=%d after a successful receive", st.MPI_ERROR);
            if (src < first || src >= first + nsend) {
                MP_CHECK(0,
                         "ANY/ANY receive: status.MPI_SOURCE=%d is not a "
                         "sender",
                         src);
                continue;
            }
            if (tag == TAG_DATA0 + src) {
                MP_CHECK(!seen_data[src], "data message from %d twice", src);
                seen_data[src] = 1;
                MP_CHECK(c == src + 1,
                         "ANY/ANY: message (src %d, tag %d) count %d, "
                         "expected %d",
                         src, tag, c, src + 1);
                MP_CHECK(rb[0] == src * 1000 &&
                             rb[c > 0 ? c - 1 : 0] == src * 1000 + c - 1,
                         "ANY/ANY: message (src %d, tag %d) carries %d..%d, "
                         "expected %d..%d",
                         src, tag, rb[0], rb[c > 0 ? c - 1 : 0], src * 1000,
                         src * 1000 + src);
            } else if (tag == TAG_ZERO0 + src) {
                MP_CHECK(!seen_zero[src], "zero message from %d twice", src);
                seen_zero[src] = 1;
                MP_CHECK(c == 0, "ANY/ANY: zero-byte message from %d: count %d",
                         src, c);
            } else if (tag == TAG_SAME) {
                /* Allowed: it was sent after, but another sender's data may
                 * be later still. Put it back into the books. */
                MP_CHECK(!seen_same[src], "TAG_SAME from %d twice", src);
                seen_same[src] = 1;
                MP_CHECK(c == 1 && rb[0] == src,
                         "TAG_SAME from %d: count %d value %d", src, c, rb[0]);
                i--; /* does not count towards the data/zero messages */
            } else if (tag == TAG_SRC0 + src) {
                /* Legal only once everything sent before it was received. */
                MP_CHECK(seen_same[src] && !seen_src[src],
                         "ANY/ANY matched (src %d, tag %d) before the "
                         "earlier TAG_SAME message from the same source: "
                         "non-overtaking violated",
                         src, tag);
                seen_src[src] = 1;
                i--;
            } else {
                MP_CHECK(0, "ANY/ANY receive: unexpected tag %d from source %d",
                         tag, src);
            }
            /* data before zero from one source: both sent in that order */
            if (tag == TAG_ZERO0 + src)
                MP_CHECK(seen_data[src],
                         "zero-byte message from %d overtook its earlier "
                         "data message",
                         src);
        }
        /* (ANY_SOURCE, TAG_SAME). */
        for (i = 0; i < nsend; i++) {
            int v = -1, s;
            int all = 1;
            for (s = first; s < first + nsend; s++)
                all &= seen_same[s];
            if (all)
                break;
            MP_CALL(MPI_Recv(&v, 1, MPI_INT, MPI_ANY_SOURCE, TAG_SAME,
                             MPI_COMM_WORLD, &st));
            src = st.MPI_SOURCE;
            MP_CHECK(st.MPI_TAG == TAG_SAME, "(ANY_SOURCE, %d): status tag %d",
                     TAG_SAME, st.MPI_TAG);
            MP_CHECK(src >= first && src < first + nsend && v == src,
                     "(ANY_SOURCE, %d): status source %d, payload %d", TAG_SAME,
                     src, v);
            if (src >= first && src < first + nsend) {
                MP_CHECK(!seen_same[src], "TAG_SAME from %d twice", src);
                seen_same[src] = 1;
            }
        }
        /* (src, ANY_TAG), one source at a time in reverse order. */
        for (src = first + nsend - 1; src >= first; src--) {
            int v[2] = {-1, -1};
            if (seen_src[src])
                continue;
            MP_CALL(
                MPI_Recv(v, 2, MPI_INT, src, MPI_ANY_TAG, MPI_COMM_WORLD, &st));
            MP_CHECK(st.MPI_SOURCE == src && st.MPI_TAG == TAG_SRC0 + src &&
                         v[0] == src && v[1] == TAG_SRC0 + src,
                     "(%d, ANY_TAG): status (%d, %d) payload (%d, %d), "
                     "expected (%d, %d)",
                     src, st.MPI_SOURCE, st.MPI_TAG, v[0], v[1], src,
                     TAG_SRC0 + src);
        }
        for (src = first; src < first + nsend; src++)
            MP_CHECK(seen_data[src] && seen_zero[src] && seen_same[src],
                     "messages from rank %d missing: data %d zero %d "
                     "same %d",
                     src, seen_data[src], seen_zero[src], seen_same[src]);
    }
    if (is_sender)
        MP_CALL(MPI_Waitall(4, sreq, MPI_STATUSES_IGNORE));
    if (mp_rank == 0) {
        for (i = 1; i < mp_size; i++)
            MP_CALL(MPI_Send(&done, 1, MPI_INT, i, TAG_DONE, MPI_COMM_WORLD));
    } else {
        MP_CALL(MPI_Recv(&done, 1, MPI_INT, 0, TAG_DONE, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE));
    }
}

/* A pair of ranks: the receiver posts (ANY_SOURCE, ANY_TAG) Irecvs before
 * the messages exist and checks the statuses Waitall fills in. */
static void check_posted_wildcards(void)
{
    int peer = mp_rank ^ 1;
    MPI_Request reqs[3];
    MPI_Status sts[3];
    int buf[3][4], i, go = 0, c;

    if (peer >= mp_size)
        return;
    mp_set_phase("pre-posted wildcard receives");
    if (mp_rank % 2 == 1) {
        for (i = 0; i < 3; i++) {
            sts[i].MPI_ERROR = SENTINEL_ERR;
            MP_CALL(
                MPI_Irecv(buf[i], 4, MPI_INT, i == 2 ? peer : MPI_ANY_SOURCE,
                          i == 1 ? 31 : MPI_ANY_TAG, MPI_COMM_WORLD, &reqs[i]));
        }
        MP_CALL(MPI_Send(&go, 1, MPI_INT, peer, 30, MPI_COMM_WORLD));
        MP_CALL(MPI_Waitall(3, reqs, sts));
        /* Posted order decides: message tags 30, 31, 32 in send order. */
        for (i = 0; i < 3; i++) {
            MPI_Get_count(&sts[i], MPI_INT, &c);
            MP_CHECK(sts[i].MPI_SOURCE == peer && sts[i].MPI_TAG == 30 + i &&
                         c == i + 1 && buf[i][0] == 100 + i,
                     "pre-posted wildcard recv %d: source %d tag %d count %d "
                     "value %d, expected %d %d %d %d",
                     i, sts[i].MPI_SOURCE, sts[i].MPI_TAG, c, buf[i][0], peer,
                     30 + i, i + 1, 100 + i);
            MP_CHECK(sts[i].MPI_ERROR == SENTINEL_ERR ||
                         sts[i].MPI_ERROR == MPI_SUCCESS,
                     "Waitall success left statuses[%d].MPI_ERROR=%d", i,
                     sts[i].MPI_ERROR);
        }
    } else {
        int v[3][4] = {{100}, {101}, {102}};
        MP_CALL(MPI_Recv(&go, 1, MPI_INT, peer, 30, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE));
        for (i = 0; i < 3; i++)
            MP_CALL(
                MPI_Send(v[i], i + 1, MPI_INT, peer, 30 + i, MPI_COMM_WORLD));
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mp_init("wildcards_status");
    check_tag_ub();
    check_counts();
    check_proc_null();
    mp_barrier();
    check_wildcards();
    mp_barrier();
    check_posted_wildcards();
    return mp_finish();
}
