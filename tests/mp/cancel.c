/*
 * cancel — MPI_Cancel of receives and MPI_Request_free of sends.
 *
 * 1. A posted, unmatched receive is cancelled: completion (Wait, Test,
 *    Waitall) reports MPI_Test_cancelled true, and a message sent later
 *    with that envelope goes to the next receive, not the cancelled one.
 * 2. Cancelling a receive that already completed has no effect: the data
 *    is there and MPI_Test_cancelled is false.
 * 3. MPI_Request_free of an active send (eager and rendezvous, standard
 *    and synchronous): the handle becomes MPI_REQUEST_NULL and the message
 *    is still delivered intact.
 *
 * Pairs (2k, 2k+1); an unpaired rank works with itself.
 */
#include "mp_common.h"

#include <sched.h>

#define TAG_NEVER 11
#define TAG_LATER 12
#define TAG_GO 13
#define TAG_DONE_EARLY 14
#define TAG_FREE0 20
#define TAG_ACK 30

static void cancelled_flag(const MPI_Status *st, int want, const char *what)
{
    int flag = -1;
    MP_CALL(MPI_Test_cancelled(st, &flag));
    MP_CHECK(!!flag == want, "%s: MPI_Test_cancelled=%d, expected %d", what,
             flag, want);
}

static void cancel_unmatched(int peer)
{
    MPI_Request req, r2[2];
    MPI_Status st, sts[2];
    int buf[4] = {0}, v = -1, flag = 0, go = 0, i;
    unsigned long spins = 0;

    mp_set_phase("cancel unmatched Irecv + Wait");
    MP_CALL(MPI_Irecv(buf, 4, MPI_INT, MPI_ANY_SOURCE, TAG_NEVER,
                      MPI_COMM_WORLD, &req));
    MP_CALL(MPI_Cancel(&req));
    MP_CHECK(req != MPI_REQUEST_NULL,
             "MPI_Cancel set the request to MPI_REQUEST_NULL (it must stay "
             "valid until completed)");
    MP_CALL(MPI_Wait(&req, &st));
    cancelled_flag(&st, 1, "Irecv(ANY_SOURCE) cancelled, Wait");
    MP_CHECK(req == MPI_REQUEST_NULL, "Wait on a cancelled request did not "
                                      "free it");

    mp_set_phase("cancel unmatched Irecv + Test");
    MP_CALL(MPI_Irecv(buf, 4, MPI_INT, peer, TAG_NEVER, MPI_COMM_WORLD, &req));
    MP_CALL(MPI_Cancel(&req));
    for (flag = 0; !flag; spins++) {
        MP_CALL(MPI_Test(&req, &flag, &st));
        if ((spins & 63) == 0)
            sched_yield();
    }
    cancelled_flag(&st, 1, "Irecv(peer) cancelled, Test");

    mp_set_phase("cancel one of two in Waitall");
    MP_CALL(
        MPI_Irecv(buf, 4, MPI_INT, peer, TAG_NEVER, MPI_COMM_WORLD, &r2[0]));
    MP_CALL(MPI_Isend(&go, 1, MPI_INT, peer, TAG_GO, MPI_COMM_WORLD, &r2[1]));
    MP_CALL(MPI_Cancel(&r2[0]));
    MP_CALL(MPI_Waitall(2, r2, sts));
    cancelled_flag(&sts[0], 1, "cancelled Irecv completed by Waitall");
    MP_CALL(MPI_Recv(&go, 1, MPI_INT, peer, TAG_GO, MPI_COMM_WORLD, &st));
    cancelled_flag(&st, 0, "ordinary Recv");

    /* The cancelled receive (tag TAG_LATER) must not swallow the message the
     * peer sends afterwards. */
    mp_set_phase("cancelled Irecv does not consume later message");
    MP_CALL(MPI_Irecv(buf, 4, MPI_INT, peer, TAG_LATER, MPI_COMM_WORLD, &req));
    MP_CALL(MPI_Cancel(&req));
    MP_CALL(MPI_Wait(&req, &st));
    cancelled_flag(&st, 1, "Irecv(TAG_LATER) cancelled");
    /* Both sides have cancelled: now exchange with that tag. */
    MP_CALL(MPI_Sendrecv(&go, 1, MPI_INT, peer, TAG_GO, &go, 1, MPI_INT, peer,
                         TAG_GO, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    i = 1000 + mp_rank;
    MP_CALL(MPI_Sendrecv(&i, 1, MPI_INT, peer, TAG_LATER, &v, 1, MPI_INT, peer,
                         TAG_LATER, MPI_COMM_WORLD, &st));
    MP_CHECK(v == 1000 + peer,
             "message sent after the cancel received as %d, expected %d", v,
             1000 + peer);
    cancelled_flag(&st, 0, "receive after a cancelled one");
}

static void cancel_completed(int peer)
{
    MPI_Request req, sreq;
    MPI_Status st;
    int v = -1, mine = 2000 + mp_rank, flag = 0;
    unsigned long spins = 0;

    mp_set_phase("cancel an already completed Irecv");
    MP_CALL(
        MPI_Irecv(&v, 1, MPI_INT, peer, TAG_DONE_EARLY, MPI_COMM_WORLD, &req));
    MP_CALL(MPI_Isend(&mine, 1, MPI_INT, peer, TAG_DONE_EARLY, MPI_COMM_WORLD,
                      &sreq));
    for (flag = 0; !flag; spins++) {
        /* Request_get_status completes without freeing the request. */
        MP_CALL(MPI_Request_get_status(req, &flag, &st));
        if ((spins & 63) == 0)
            sched_yield();
    }
    MP_CALL(MPI_Cancel(&req));
    MP_CALL(MPI_Wait(&req, &st));
    cancelled_flag(&st, 0, "Cancel after the receive completed");
    MP_CHECK(v == 2000 + peer,
             "completed-then-cancelled Irecv holds %d, "
             "expected %d",
             v, 2000 + peer);
    MP_CHECK(st.MPI_SOURCE == peer && st.MPI_TAG == TAG_DONE_EARLY,
             "completed-then-cancelled Irecv status (source %d, tag %d)",
             st.MPI_SOURCE, st.MPI_TAG);
    MP_CALL(MPI_Wait(&sreq, MPI_STATUS_IGNORE));
}

static const size_t free_sizes[4] = {13, 4 << 20, 200, (1 << 20) + 1};

/* Sender side of the Request_free checks. */
static void free_send(int peer, char **bufs)
{
    MPI_Request req;
    int i;

    mp_set_phase("Request_free of active sends");
    for (i = 0; i < 4; i++) {
        size_t n = free_sizes[i];
        bufs[i] = mp_xmalloc(n);
        mp_fill(bufs[i], n, mp_seed(mp_rank, peer, n, i));
        if (i % 2)
            MP_CALL(MPI_Issend(bufs[i], (int)n, MPI_BYTE, peer, TAG_FREE0 + i,
                               MPI_COMM_WORLD, &req));
        else
            MP_CALL(MPI_Isend(bufs[i], (int)n, MPI_BYTE, peer, TAG_FREE0 + i,
                              MPI_COMM_WORLD, &req));
        MP_CALL(MPI_Request_free(&req));
        MP_CHECK(req == MPI_REQUEST_NULL,
                 "Request_free did not set the handle to MPI_REQUEST_NULL");
    }
}

static void free_recv(int peer)
{
    MPI_Status st;
    int i, cnt;
    char ctx[80];

    for (i = 3; i >= 0; i--) { /* reverse order: unexpected + posted */
        size_t n = free_sizes[i];
        char *b = mp_xmalloc(n);
        MP_CALL(MPI_Recv(b, (int)n, MPI_BYTE, peer, TAG_FREE0 + i,
                         MPI_COMM_WORLD, &st));
        MPI_Get_count(&st, MPI_BYTE, &cnt);
        MP_CHECK(cnt == (int)n, "freed send #%d: %d bytes, expected %zu", i,
                 cnt, n);
        snprintf(ctx, sizeof(ctx), "message #%d of a freed %s", i,
                 i % 2 ? "Issend" : "Isend");
        MP_CHECK_PATTERN(b, n, mp_seed(peer, mp_rank, n, i), "%s", ctx);
        free(b);
    }
}

int main(int argc, char **argv)
{
    char *bufs[4];
    int peer, ack = 0, i;

    MPI_Init(&argc, &argv);
    mp_init("cancel");
    peer = mp_rank ^ 1;
    if (peer >= mp_size)
        peer = mp_rank;

    cancel_unmatched(peer);
    mp_barrier();
    cancel_completed(peer);
    mp_barrier();

    /* Both directions: every rank frees its sends, then receives. The
     * buffers stay allocated until the peer acknowledges receipt, since a
     * freed request gives the sender no other completion signal. */
    free_send(peer, bufs);
    free_recv(peer);
    MP_CALL(MPI_Sendrecv(&ack, 1, MPI_INT, peer, TAG_ACK, &ack, 1, MPI_INT,
                         peer, TAG_ACK, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    for (i = 0; i < 4; i++)
        free(bufs[i]);
    return mp_finish();
}
