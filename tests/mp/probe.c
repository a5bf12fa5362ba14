/*
 * probe — MPI_Probe / Iprobe / Mprobe / Improbe / Mrecv / Imrecv.
 *
 * 1. MPI_PROC_NULL: probes complete at once with the PROC_NULL status;
 *    matched probes return MPI_MESSAGE_NO_PROC, whose Mrecv/Imrecv complete
 *    at once and set the handle to MPI_MESSAGE_NULL.
 * 2. The probe-sized receive pattern (probe, MPI_Get_count, allocate,
 *    receive) for sizes from 0 B to rendezvous sizes, with four probe
 *    flavours in turn, for wildcard and specific probes.
 * 3. A message matched by Mprobe/Improbe is out of the matching queues: a
 *    later receive or probe, even a wildcard one, must not see it, whether it
 *    is eager or rendezvous size.
 * 4. With MPI_THREAD_MULTIPLE: two threads doing Mprobe+Mrecv on the same
 *    (source, tag) receive every message exactly once.
 *
 * Pairs are (2k, 2k+1): the even rank sends, the odd rank probes; an
 * unpaired rank does everything with itself.
 */
#include "mp_common.h"

#include <pthread.h>
#include <sched.h>

#define TAG_VAR0 20 /* + i % 5 */
#define TAG_STEAL 50
#define TAG_THR 60
#define TAG_UNUSED 77
#define TAG_ACK 78

#define NVAR 40
#define THR_MSGS 400

static int provided;

static size_t var_size(int i)
{
    static const size_t sizes[] = {0,    1,     17,     100, 4095,
                                   4096, 65537, 200000, 8,   (1 << 20) + 3};
    return sizes[i % 10];
}

static void check_null_status(const MPI_Status *st, const char *what)
{
    int c = -1;
    MP_CHECK(st->MPI_SOURCE == MPI_PROC_NULL && st->MPI_TAG == MPI_ANY_TAG,
             "%s: status (source %d, tag %d), expected (MPI_PROC_NULL, "
             "MPI_ANY_TAG)",
             what, st->MPI_SOURCE, st->MPI_TAG);
    MPI_Get_count(st, MPI_BYTE, &c);
    MP_CHECK(c == 0, "%s: count %d, expected 0", what, c);
}

static void check_proc_null(void)
{
    MPI_Message msg = MPI_MESSAGE_NULL;
    MPI_Request req;
    MPI_Status st;
    int flag = 0;
    char b[4];

    mp_set_phase("probe MPI_PROC_NULL");
    MP_CALL(MPI_Probe(MPI_PROC_NULL, 3, MPI_COMM_WORLD, &st));
    check_null_status(&st, "Probe(PROC_NULL)");
    MP_CALL(MPI_Iprobe(MPI_PROC_NULL, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st));
    MP_CHECK(flag, "Iprobe(PROC_NULL): flag 0, expected 1");
    check_null_status(&st, "Iprobe(PROC_NULL)");

    MP_CALL(MPI_Mprobe(MPI_PROC_NULL, 3, MPI_COMM_WORLD, &msg, &st));
    MP_CHECK(msg == MPI_MESSAGE_NO_PROC,
             "Mprobe(PROC_NULL): message is not MPI_MESSAGE_NO_PROC");
    check_null_status(&st, "Mprobe(PROC_NULL)");
    memset(&st, 0x11, sizeof(st));
    MP_CALL(MPI_Mrecv(b, 4, MPI_BYTE, &msg, &st));
    check_null_status(&st, "Mrecv(MPI_MESSAGE_NO_PROC)");
    MP_CHECK(msg == MPI_MESSAGE_NULL,
             "Mrecv(MPI_MESSAGE_NO_PROC) left the handle != MPI_MESSAGE_NULL");

    flag = 0;
    msg = MPI_MESSAGE_NULL;
    MP_CALL(MPI_Improbe(MPI_PROC_NULL, 3, MPI_COMM_WORLD, &flag, &msg, &st));
    MP_CHECK(flag && msg == MPI_MESSAGE_NO_PROC,
             "Improbe(PROC_NULL): flag %d, message %s", flag,
             msg == MPI_MESSAGE_NO_PROC ? "NO_PROC" : "not NO_PROC");
    MP_CALL(MPI_Imrecv(b, 4, MPI_BYTE, &msg, &req));
    MP_CHECK(msg == MPI_MESSAGE_NULL,
             "Imrecv(MPI_MESSAGE_NO_PROC) left the handle != MPI_MESSAGE_NULL");
    memset(&st, 0x11, sizeof(st));
    MP_CALL(MPI_Wait(&req, &st));
    check_null_status(&st, "Imrecv(NO_PROC)+Wait");

    /* Nothing was sent with this tag: Iprobe/Improbe must say so. */
    flag = 1;
    MP_CALL(MPI_Iprobe(MPI_ANY_SOURCE, TAG_UNUSED, MPI_COMM_WORLD, &flag, &st));
    MP_CHECK(!flag, "Iprobe for a tag nobody sent returned flag 1");
    flag = 1;
    msg = MPI_MESSAGE_NULL;
    MP_CALL(MPI_Improbe(MPI_ANY_SOURCE, TAG_UNUSED, MPI_COMM_WORLD, &flag, &msg,
                        &st));
    MP_CHECK(!flag, "Improbe for a tag nobody sent returned flag 1");
}

/* ---- variable-length receive ------------------------------------------ */

static void var_send_all(int peer, MPI_Request *reqs, char **bufs)
{
    int i;
    for (i = 0; i < NVAR; i++) {
        size_t n = var_size(i);
        bufs[i] = mp_xmalloc(n);
        mp_fill(bufs[i], n, mp_seed(mp_rank, peer, n, i));
        MP_CALL(MPI_Isend(bufs[i], (int)n, MPI_BYTE, peer, TAG_VAR0 + i % 5,
                          MPI_COMM_WORLD, &reqs[i]));
    }
}

static void var_recv_all(int peer)
{
    int i, flag, count;
    unsigned long spins = 0;
    char ctx[128];

    for (i = 0; i < NVAR; i++) {
        const int tag = TAG_VAR0 + i % 5, how = i % 4;
        /* Alternate wildcard and specific probes. */
        const int psrc = (i / 4) % 2 ? MPI_ANY_SOURCE : peer;
        const int ptag = (i / 8) % 2 ? MPI_ANY_TAG : tag;
        const size_t n = var_size(i);
        MPI_Message msg = MPI_MESSAGE_NULL;
        MPI_Request req;
        MPI_Status pst, rst;
        char *buf;
        static const char *hows[] = {"Probe+Recv", "Iprobe+Recv",
                                     "Mprobe+Mrecv", "Improbe+Imrecv"};

        snprintf(ctx, sizeof(ctx), "%s #%d (%zu B, probe src %d tag %d)",
                 hows[how], i, n, psrc, ptag);
        mp_set_phase(hows[how]);
        switch (how) {
        case 0:
            MP_CALL(MPI_Probe(psrc, ptag, MPI_COMM_WORLD, &pst));
            break;
        case 1:
            for (flag = 0; !flag; spins++) {
                MP_CALL(MPI_Iprobe(psrc, ptag, MPI_COMM_WORLD, &flag, &pst));
                if (!flag && (spins & 63) == 0)
                    sched_yield();
            }
            break;
        case 2:
            MP_CALL(MPI_Mprobe(psrc, ptag, MPI_COMM_WORLD, &msg, &pst));
            break;
        case 3:
            for (flag = 0; !flag; spins++) {
                MP_CALL(
                    MPI_Improbe(psrc, ptag, MPI_COMM_WORLD, &flag, &msg, &pst));
                if (!flag && (spins & 63) == 0)
                    sched_yield();
            }
            break;
        }
        count = -1;
        MP_CALL(MPI_Get_count(&pst, MPI_BYTE, &count));
        MP_CHECK(pst.MPI_SOURCE == peer && pst.MPI_TAG == tag &&
                     count == (int)n,
                 "%s: probe status (source %d, tag %d, count %d), expected "
                 "(%d, %d, %zu)",
                 ctx, pst.MPI_SOURCE, pst.MPI_TAG, count, peer, tag, n);
        if (count < 0 || count > (64 << 20)) {
            MP_CHECK(0, "%s: unusable probed count %d", ctx, count);
            return;
        }
        buf = mp_xmalloc((size_t)count);
        switch (how) {
        case 0:
        case 1:
            MP_CALL(MPI_Recv(buf, count, MPI_BYTE, pst.MPI_SOURCE, pst.MPI_TAG,
                             MPI_COMM_WORLD, &rst));
            break;
        case 2:
            MP_CALL(MPI_Mrecv(buf, count, MPI_BYTE, &msg, &rst));
            MP_CHECK(msg == MPI_MESSAGE_NULL,
                     "%s: Mrecv left the message handle set", ctx);
            break;
        case 3:
            MP_CALL(MPI_Imrecv(buf, count, MPI_BYTE, &msg, &req));
            MP_CHECK(msg == MPI_MESSAGE_NULL,
                     "%s: Imrecv left the message handle set", ctx);
            MP_CALL(MPI_Wait(&req, &rst));
            break;
        }
        MPI_Get_count(&rst, MPI_BYTE, &count);
        MP_CHECK(rst.MPI_SOURCE == peer && rst.MPI_TAG == tag &&
                     count == (int)n,
                 "%s: receive status (source %d, tag %d, count %d), "
                 "expected (%d, %d, %zu)",
                 ctx, rst.MPI_SOURCE, rst.MPI_TAG, count, peer, tag, n);
        if (count == (int)n)
            MP_CHECK_PATTERN(buf, n, mp_seed(peer, mp_rank, n, i), "%s", ctx);
        free(buf);
    }
}

/* ---- matched messages are not stolen ----------------------------------- */

struct steal_msg {
    int id;
    size_t size;
};

/* Send order: A (small), B (small), C (large), D (large), E (small). */
static const struct steal_msg steal_msgs[5] = {
    {1, 16}, {2, 24}, {3, (1 << 20) + 5}, {4, (1 << 20) + 9}, {5, 40}};

static int steal_id(const char *buf)
{
    int id;
    memcpy(&id, buf, sizeof(id));
    return id;
}

static void steal_send(int peer, MPI_Request *reqs, char **bufs)
{
    int i;
    for (i = 0; i < 5; i++) {
        bufs[i] = mp_xmalloc(steal_msgs[i].size);
        memset(bufs[i], 0x40 + i, steal_msgs[i].size);
        memcpy(bufs[i], &steal_msgs[i].id, sizeof(int));
        MP_CALL(MPI_Isend(bufs[i], (int)steal_msgs[i].size, MPI_BYTE, peer,
                          TAG_STEAL, MPI_COMM_WORLD, &reqs[i]));
    }
}

static void steal_recv(int peer)
{
    const size_t big = (2 << 20);
    MPI_Message ma = MPI_MESSAGE_NULL, mc = MPI_MESSAGE_NULL;
    MPI_Status st;
    MPI_Request rb;
    char *a = mp_xmalloc(big), *b = mp_xmalloc(big), *c = mp_xmalloc(big),
         *d = mp_xmalloc(big), *e = mp_xmalloc(big);
    int flag = 0, cnt;
    unsigned long spins = 0;

    mp_set_phase("matched message not stolen");
    /* Mprobe matches A; a wildcard Irecv posted now must get B. */
    MP_CALL(MPI_Mprobe(peer, TAG_STEAL, MPI_COMM_WORLD, &ma, &st));
    MPI_Get_count(&st, MPI_BYTE, &cnt);
    MP_CHECK(cnt == 16, "Mprobe matched a %d-byte message, expected A (16)",
             cnt);
    MP_CALL(MPI_Irecv(b, (int)big, MPI_BYTE, MPI_ANY_SOURCE, TAG_STEAL,
                      MPI_COMM_WORLD, &rb));
    MP_CALL(MPI_Wait(&rb, &st));
    MP_CHECK(steal_id(b) == 2,
             "wildcard Irecv after Mprobe(A) received message %d, expected "
             "B (2): a matched message was stolen",
             steal_id(b));
    /* Improbe matches C (rendezvous size). */
    for (flag = 0; !flag; spins++) {
        MP_CALL(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag,
                            &mc, &st));
        if (!flag && (spins & 63) == 0)
            sched_yield();
    }
    MPI_Get_count(&st, MPI_BYTE, &cnt);
    MP_CHECK(cnt == (int)steal_msgs[2].size && st.MPI_TAG == TAG_STEAL,
             "Improbe matched (tag %d, %d bytes), expected C (%d, %zu)",
             st.MPI_TAG, cnt, TAG_STEAL, steal_msgs[2].size);
    /* A probe must now see D, not A or C. */
    MP_CALL(MPI_Probe(MPI_ANY_SOURCE, TAG_STEAL, MPI_COMM_WORLD, &st));
    MPI_Get_count(&st, MPI_BYTE, &cnt);
    MP_CHECK(cnt == (int)steal_msgs[3].size,
             "Probe after two matched probes saw %d bytes, expected D (%zu)",
             cnt, steal_msgs[3].size);
    MP_CALL(
        MPI_Recv(d, (int)big, MPI_BYTE, peer, TAG_STEAL, MPI_COMM_WORLD, &st));
    MP_CHECK(steal_id(d) == 4, "Recv got message %d, expected D (4)",
             steal_id(d));
    MP_CALL(MPI_Recv(e, (int)big, MPI_BYTE, MPI_ANY_SOURCE, MPI_ANY_TAG,
                     MPI_COMM_WORLD, &st));
    MP_CHECK(steal_id(e) == 5, "Recv got message %d, expected E (5)",
             steal_id(e));
    /* Only now take the matched ones, in reverse order. */
    MP_CALL(MPI_Mrecv(c, (int)big, MPI_BYTE, &mc, &st));
    MPI_Get_count(&st, MPI_BYTE, &cnt);
    MP_CHECK(steal_id(c) == 3 && cnt == (int)steal_msgs[2].size &&
                 (unsigned char)c[cnt - 1] == 0x42,
             "Mrecv of C got id %d, %d bytes, last byte 0x%02x", steal_id(c),
             cnt, (unsigned char)c[cnt > 0 ? cnt - 1 : 0]);
    MP_CALL(MPI_Mrecv(a, (int)big, MPI_BYTE, &ma, &st));
    MP_CHECK(steal_id(a) == 1, "Mrecv of A got message %d", steal_id(a));
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
}

/* ---- two threads, one queue -------------------------------------------- */

struct thr_arg {
    int peer;
    int got[THR_MSGS + 2];
    int n;
};

static void *thr_main(void *p)
{
    struct thr_arg *a = p;
    for (;;) {
        MPI_Message m;
        MPI_Status st;
        int v = -1;
        if (MPI_Mprobe(a->peer, TAG_THR, MPI_COMM_WORLD, &m, &st) !=
            MPI_SUCCESS)
            break;
        if (MPI_Mrecv(&v, 1, MPI_INT, &m, &st) != MPI_SUCCESS)
            break;
        if (v < 0) /* end marker, one per thread */
            break;
        if (a->n < THR_MSGS + 2)
            a->got[a->n++] = v;
    }
    return NULL;
}

static void threads_recv(int peer)
{
    struct thr_arg *args = calloc(2, sizeof(*args));
    pthread_t t[2];
    int *count = calloc(THR_MSGS, sizeof(int)), i, j;

    mp_set_phase("two threads Mprobe+Mrecv");
    for (i = 0; i < 2; i++) {
        args[i].peer = peer;
        pthread_create(&t[i], NULL, thr_main, &args[i]);
    }
    for (i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (i = 0; i < 2; i++)
        for (j = 0; j < args[i].n; j++) {
            int v = args[i].got[j];
            if (v >= 0 && v < THR_MSGS)
                count[v]++;
            else
                MP_CHECK(0, "thread %d received bogus value %d", i, v);
        }
    for (i = 0; i < THR_MSGS; i++)
        MP_CHECK(count[i] == 1,
                 "threaded Mprobe/Mrecv: message %d received %d times", i,
                 count[i]);
    /* Each thread's own messages arrive in send order. */
    for (i = 0; i < 2; i++)
        for (j = 1; j < args[i].n; j++)
            MP_CHECK(args[i].got[j] > args[i].got[j - 1],
                     "thread %d received %d after %d (out of order)", i,
                     args[i].got[j], args[i].got[j - 1]);
    free(args);
    free(count);
}

static void threads_send(int peer)
{
    int i, v;
    for (i = 0; i < THR_MSGS + 2; i++) {
        v = i < THR_MSGS ? i : -1;
        MP_CALL(MPI_Send(&v, 1, MPI_INT, peer, TAG_THR, MPI_COMM_WORLD));
    }
}

int main(int argc, char **argv)
{
    MPI_Request reqs[NVAR];
    char *bufs[NVAR];
    int peer, i, ack = 0;

    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    mp_init("probe");
    peer = mp_rank ^ 1;
    if (peer >= mp_size)
        peer = mp_rank;

    check_proc_null();
    mp_barrier();

    mp_set_phase("variable-length receive");
    if (peer == mp_rank) {
        var_send_all(peer, reqs, bufs);
        var_recv_all(peer);
        MP_CALL(MPI_Waitall(NVAR, reqs, MPI_STATUSES_IGNORE));
    } else if (mp_rank % 2 == 0) {
        var_send_all(peer, reqs, bufs);
        MP_CALL(MPI_Waitall(NVAR, reqs, MPI_STATUSES_IGNORE));
    } else {
        var_recv_all(peer);
    }
    if (peer == mp_rank || mp_rank % 2 == 0)
        for (i = 0; i < NVAR; i++)
            free(bufs[i]);
    mp_barrier();

    mp_set_phase("matched message not stolen");
    if (peer == mp_rank) {
        steal_send(peer, reqs, bufs);
        steal_recv(peer);
        MP_CALL(MPI_Waitall(5, reqs, MPI_STATUSES_IGNORE));
    } else if (mp_rank % 2 == 0) {
        steal_send(peer, reqs, bufs);
        MP_CALL(MPI_Waitall(5, reqs, MPI_STATUSES_IGNORE));
        MP_CALL(MPI_Recv(&ack, 1, MPI_INT, peer, TAG_ACK, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE));
    } else {
        steal_recv(peer);
        MP_CALL(MPI_Send(&ack, 1, MPI_INT, peer, TAG_ACK, MPI_COMM_WORLD));
    }
    if (peer == mp_rank || mp_rank % 2 == 0)
        for (i = 0; i < 5; i++)
            free(bufs[i]);
    mp_barrier();

    if (provided == MPI_THREAD_MULTIPLE && peer != mp_rank) {
        if (mp_rank % 2 == 0)
            threads_send(peer);
        else
            threads_recv(peer);
    } else if (provided != MPI_THREAD_MULTIPLE && mp_rank == 0) {
        printf("probe: MPI_THREAD_MULTIPLE not provided (%d): threaded "
               "Mprobe test skipped\n",
               provided);
    }
    return mp_finish();
}
