/*
 * ordering — MPI's non-overtaking rule.
 *
 * Phase A: 10,000 same-tag eager-size messages from rank 2k to rank 2k+1
 *   (an unpaired rank sends to itself); the first 3,000 receives are posted
 *   before the sender starts, the rest after the messages piled up as
 *   unexpected. Every message carries its sequence number.
 * Phase B: 1,000 same-tag messages alternating small and rendezvous sizes
 *   (every 8th is 512 KiB+), sent with up to 64 Isends in flight: a small
 *   message sent after a large one must not overtake it, whatever protocol
 *   each uses. Receives alternate between batches of pre-posted Irecvs and
 *   blocking Recvs.
 * Phase C (2+ ranks): every rank but 0 sends 3 tags interleaved to rank 0,
 *   which receives with (ANY_SOURCE, ANY_TAG), (src, ANY_TAG) and
 *   (ANY_SOURCE, tag) in turn: per (source, tag) order must hold.
 *
 * Usage: ordering [--count N] (phase A count, default 10000)
 */
#include "mp_common.h"

#define TAG_A 1
#define TAG_B 2
#define TAG_GO 3
#define TAG_DONE 4
#define TAG_C0 10 /* phase C uses TAG_C0 .. TAG_C0+2 */

#define B_COUNT 1000
#define B_WINDOW 64
#define B_LARGE ((size_t)512 << 10)
#define B_MAX (B_LARGE + B_COUNT)

/* ---- phase A ----------------------------------------------------------- */

static size_t a_size(int i)
{
    return 8 + (size_t)(i % 7) * 8;
}

static void fill_seq(char *buf, size_t size, int seq, int src, int dst)
{
    uint64_t s = (uint64_t)seq;
    mp_fill(buf, size, mp_seed(src, dst, size, seq));
    if (size >= 8)
        memcpy(buf, &s, 8);
}

/* Checks a received sequenced message; returns its sequence number. */
static long check_seq(const char *buf, int count, int expect_seq,
                      size_t expect_size, int src, int dst, const char *what)
{
    uint64_t s = (uint64_t)-1;
    if (count >= 8)
        memcpy(&s, buf, 8);
    MP_CHECK((long)s == expect_seq,
             "%s: from rank %d: message #%d carries sequence %ld "
             "(messages overtook each other or were lost)",
             what, src, expect_seq, (long)s);
    MP_CHECK(count == (int)expect_size,
             "%s: from rank %d: message #%d has %d bytes, expected %zu", what,
             src, expect_seq, count, expect_size);
    if ((long)s == expect_seq && count == (int)expect_size && count > 8) {
        char tmp[64];
        uint64_t seed = mp_seed(src, dst, expect_size, expect_seq);
        size_t bad_at = 0, nbad;
        uint8_t w = 0, g = 0;
        /* The first 8 bytes hold the sequence, the rest the pattern. */
        nbad = mp_verify(buf, expect_size, seed, &bad_at, &w, &g);
        if (nbad && bad_at < 8) {
            /* Skip the header region and re-check the tail. */
            size_t j;
            nbad = 0;
            for (j = 8; j < expect_size; j++)
                if ((uint8_t)buf[j] != mp_pattern_byte(seed, j)) {
                    if (!nbad) {
                        bad_at = j;
                        w = mp_pattern_byte(seed, j);
                        g = (uint8_t)buf[j];
                    }
                    nbad++;
                }
        }
        snprintf(tmp, sizeof(tmp), "%s #%d", what, expect_seq);
        MP_CHECK(!nbad,
                 "%s: from rank %d: %zu bytes wrong, first at %zu: expected "
                 "0x%02x saw 0x%02x",
                 tmp, src, nbad, bad_at, w, g);
    }
    return (long)s;
}

static void phase_a(int peer, int sender, int count)
{
    const int self = peer == mp_rank;
    const int pre = count < 3000 ? count : 3000;
    MPI_Request *reqs;
    MPI_Status st;
    char *bufs;
    int i, n, go = 0;

    mp_set_phase("A: 10k eager same-tag");
    if (self) {
        /* Self: all sends outstanding, then receive them in order. */
        bufs = mp_xmalloc((size_t)count * 64);
        reqs = mp_xmalloc((size_t)count * sizeof(*reqs));
        for (i = 0; i < count; i++) {
            fill_seq(bufs + (size_t)i * 64, a_size(i), i, mp_rank, mp_rank);
            MP_CALL(MPI_Isend(bufs + (size_t)i * 64, (int)a_size(i), MPI_BYTE,
                              mp_rank, TAG_A, MPI_COMM_WORLD, &reqs[i]));
        }
        for (i = 0; i < count; i++) {
            char rb[64];
            MP_CALL(MPI_Recv(rb, 64, MPI_BYTE, mp_rank, TAG_A, MPI_COMM_WORLD,
                             &st));
            MPI_Get_count(&st, MPI_BYTE, &n);
            check_seq(rb, n, i, a_size(i), mp_rank, mp_rank, "A self");
        }
        MP_CALL(MPI_Waitall(count, reqs, MPI_STATUSES_IGNORE));
        free(bufs);
        free(reqs);
        return;
    }
    if (sender) {
        char sb[64];
        MP_CALL(MPI_Recv(&go, 1, MPI_INT, peer, TAG_GO, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE));
        for (i = 0; i < count; i++) {
            fill_seq(sb, a_size(i), i, mp_rank, peer);
            MP_CALL(MPI_Send(sb, (int)a_size(i), MPI_BYTE, peer, TAG_A,
                             MPI_COMM_WORLD));
        }
        return;
    }
    bufs = mp_xmalloc((size_t)pre * 64);
    reqs = mp_xmalloc((size_t)pre * sizeof(*reqs));
    for (i = 0; i < pre; i++)
        MP_CALL(MPI_Irecv(bufs + (size_t)i * 64, 64, MPI_BYTE, peer, TAG_A,
                          MPI_COMM_WORLD, &reqs[i]));
    MP_CALL(MPI_Send(&go, 1, MPI_INT, peer, TAG_GO, MPI_COMM_WORLD));
    for (i = 0; i < pre; i++) {
        MP_CALL(MPI_Wait(&reqs[i], &st));
        MPI_Get_count(&st, MPI_BYTE, &n);
        check_seq(bufs + (size_t)i * 64, n, i, a_size(i), peer, mp_rank,
                  "A pre-posted");
    }
    /* Let the remaining messages arrive unexpected. */
    usleep(50000);
    for (i = pre; i < count; i++) {
        char rb[64];
        MP_CALL(MPI_Recv(rb, 64, MPI_BYTE, peer, TAG_A, MPI_COMM_WORLD, &st));
        MPI_Get_count(&st, MPI_BYTE, &n);
        check_seq(rb, n, i, a_size(i), peer, mp_rank, "A unexpected");
    }
    free(bufs);
    free(reqs);
}

/* ---- phase B ----------------------------------------------------------- */

static size_t b_size(int i)
{
    if (i % 8 == 3)
        return B_LARGE + (size_t)i; /* rendezvous size, odd offsets */
    return 8 + (size_t)(i % 5) * 13;
}

struct b_sender {
    char *bufs[B_WINDOW];
    MPI_Request reqs[B_WINDOW];
};

static void b_send(struct b_sender *s, int i, int peer)
{
    int slot = i % B_WINDOW;
    if (s->reqs[slot] != MPI_REQUEST_NULL)
        MP_CALL(MPI_Wait(&s->reqs[slot], MPI_STATUS_IGNORE));
    fill_seq(s->bufs[slot], b_size(i), i, mp_rank, peer);
    MP_CALL(MPI_Isend(s->bufs[slot], (int)b_size(i), MPI_BYTE, peer, TAG_B,
                      MPI_COMM_WORLD, &s->reqs[slot]));
}

static void b_recv_one(char *buf, int i, int peer)
{
    MPI_Status st;
    int n = -1;
    MP_CALL(
        MPI_Recv(buf, (int)B_MAX, MPI_BYTE, peer, TAG_B, MPI_COMM_WORLD, &st));
    MPI_Get_count(&st, MPI_BYTE, &n);
    check_seq(buf, n, i, b_size(i), peer, mp_rank, "B mixed blocking");
}

static void phase_b(int peer, int sender)
{
    struct b_sender s;
    char *rbufs[32];
    MPI_Request rreqs[32];
    MPI_Status sts[32];
    int i, j, k, n, go = 0;

    mp_set_phase("B: mixed eager/rendezvous same-tag");
    for (i = 0; i < B_WINDOW; i++) {
        s.bufs[i] = NULL;
        s.reqs[i] = MPI_REQUEST_NULL;
    }
    if (peer == mp_rank) {
        char *rb = mp_xmalloc(B_MAX);
        for (i = 0; i < B_WINDOW; i++)
            s.bufs[i] = mp_xmalloc(B_MAX);
        /* Receive message i-W before its slot is reused: a self-send of
         * rendezvous size completes only when received. */
        for (i = 0; i < B_COUNT; i++) {
            if (i >= B_WINDOW)
                b_recv_one(rb, i - B_WINDOW, peer);
            b_send(&s, i, peer);
        }
        for (i = B_COUNT - B_WINDOW; i < B_COUNT; i++)
            b_recv_one(rb, i, peer);
        MP_CALL(MPI_Waitall(B_WINDOW, s.reqs, MPI_STATUSES_IGNORE));
        for (i = 0; i < B_WINDOW; i++)
            free(s.bufs[i]);
        free(rb);
        return;
    }
    if (sender) {
        for (i = 0; i < B_WINDOW; i++)
            s.bufs[i] = mp_xmalloc(B_MAX);
        MP_CALL(MPI_Recv(&go, 1, MPI_INT, peer, TAG_GO, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE));
        for (i = 0; i < B_COUNT; i++)
            b_send(&s, i, peer);
        MP_CALL(MPI_Waitall(B_WINDOW, s.reqs, MPI_STATUSES_IGNORE));
        for (i = 0; i < B_WINDOW; i++)
            free(s.bufs[i]);
        return;
    }
    for (j = 0; j < 32; j++)
        rbufs[j] = mp_xmalloc(B_MAX);
    /* First batch pre-posted before the sender starts. */
    for (j = 0; j < 32; j++)
        MP_CALL(MPI_Irecv(rbufs[j], (int)B_MAX, MPI_BYTE, peer, TAG_B,
                          MPI_COMM_WORLD, &rreqs[j]));
    MP_CALL(MPI_Send(&go, 1, MPI_INT, peer, TAG_GO, MPI_COMM_WORLD));
    i = 0;
    for (k = 0; i < B_COUNT; k++) {
        if (k > 0 && k % 2 == 1) {
            /* Blocking receives for a stretch. */
            for (j = 0; j < 40 && i < B_COUNT; j++, i++)
                b_recv_one(rbufs[0], i, peer);
            continue;
        }
        if (k > 0) {
            int left = B_COUNT - i < 32 ? B_COUNT - i : 32;
            for (j = 0; j < left; j++)
                MP_CALL(MPI_Irecv(rbufs[j], (int)B_MAX, MPI_BYTE, peer, TAG_B,
                                  MPI_COMM_WORLD, &rreqs[j]));
            for (; j < 32; j++)
                rreqs[j] = MPI_REQUEST_NULL;
        }
        MP_CALL(MPI_Waitall(32, rreqs, sts));
        for (j = 0; j < 32 && i < B_COUNT; j++, i++) {
            MPI_Get_count(&sts[j], MPI_BYTE, &n);
            check_seq(rbufs[j], n, i, b_size(i), peer, mp_rank,
                      "B mixed pre-posted");
        }
    }
    for (j = 0; j < 32; j++)
        free(rbufs[j]);
}

/* ---- phase C ----------------------------------------------------------- */

#define C_LARGE ((size_t)300 << 10)

static int c_count(void)
{
    int c = 3000 / (mp_size - 1);
    return c < 300 ? 300 : c;
}

static int c_tag(int i)
{
    return TAG_C0 + (i * 7 + i / 5) % 3;
}

static size_t c_size(int i)
{
    return i % 50 == 7 ? C_LARGE + (size_t)i : 12 + (size_t)(i % 4);
}

static void phase_c(void)
{
    const int n = c_count();
    int i, done = 0;

    mp_set_phase("C: per (source,tag) order with wildcards");
    if (mp_rank != 0) {
        int seq[3] = {0, 0, 0};
        MPI_Request *reqs = mp_xmalloc((size_t)n * sizeof(*reqs));
        char **bufs = mp_xmalloc((size_t)n * sizeof(*bufs));
        for (i = 0; i < n; i++) {
            int t = c_tag(i), hdr[3] = {mp_rank, t, seq[t - TAG_C0]++};
            bufs[i] = mp_xmalloc(c_size(i));
            mp_fill(bufs[i], c_size(i), mp_seed(mp_rank, t, c_size(i), hdr[2]));
            memcpy(bufs[i], hdr, sizeof(hdr));
            MP_CALL(MPI_Isend(bufs[i], (int)c_size(i), MPI_BYTE, 0, t,
                              MPI_COMM_WORLD, &reqs[i]));
        }
        MP_CALL(MPI_Waitall(n, reqs, MPI_STATUSES_IGNORE));
        for (i = 0; i < n; i++)
            free(bufs[i]);
        free(bufs);
        free(reqs);
        /* No mp_barrier before rank 0 has finished its wildcard receives. */
        MP_CALL(MPI_Recv(&done, 1, MPI_INT, 0, TAG_DONE, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE));
        return;
    }
    {
        const int nsrc = mp_size - 1;
        int *next = calloc((size_t)mp_size * 3, sizeof(int));
        int *left = calloc((size_t)mp_size * 3, sizeof(int));
        int total = nsrc * n, got, kind, src, tag, cnt, hdr[3];
        char *buf = mp_xmalloc(C_LARGE + (size_t)n + 64);
        MPI_Status st;

        for (src = 1; src < mp_size; src++)
            for (i = 0; i < n; i++)
                left[src * 3 + c_tag(i) - TAG_C0]++;
        for (got = 0; got < total; got++) {
            kind = got % 3;
            src = MPI_ANY_SOURCE;
            tag = MPI_ANY_TAG;
            if (kind == 1) { /* a specific source with messages left */
                int s0 = 1 + (got / 3) % nsrc, s;
                for (s = s0;; s = s % nsrc + 1) {
                    if (left[s * 3] + left[s * 3 + 1] + left[s * 3 + 2]) {
                        src = s;
                        break;
                    }
                }
            } else if (kind == 2) { /* a specific tag with messages left */
                int t0 = (got / 3) % 3, t;
                for (t = t0;; t = (t + 1) % 3) {
                    int s, sum = 0;
                    for (s = 1; s < mp_size; s++)
                        sum += left[s * 3 + t];
                    if (sum) {
                        tag = TAG_C0 + t;
                        break;
                    }
                }
            }
            if (!MP_CALL(MPI_Recv(buf, (int)(C_LARGE + (size_t)n + 64),
                                  MPI_BYTE, src, tag, MPI_COMM_WORLD, &st)))
                break;
            MPI_Get_count(&st, MPI_BYTE, &cnt);
            if (st.MPI_SOURCE < 1 || st.MPI_SOURCE >= mp_size ||
                st.MPI_TAG < TAG_C0 || st.MPI_TAG > TAG_C0 + 2 || cnt < 12) {
                MP_CHECK(0,
                         "C: recv(src %d, tag %d) got status source %d tag "
                         "%d count %d: not a phase C message",
                         src, tag, st.MPI_SOURCE, st.MPI_TAG, cnt);
                continue;
            }
            memcpy(hdr, buf, sizeof(hdr));
            MP_CHECK(src == MPI_ANY_SOURCE || st.MPI_SOURCE == src,
                     "C: recv from %d matched a message from %d", src,
                     st.MPI_SOURCE);
            MP_CHECK(tag == MPI_ANY_TAG || st.MPI_TAG == tag,
                     "C: recv with tag %d matched tag %d", tag, st.MPI_TAG);
            MP_CHECK(hdr[0] == st.MPI_SOURCE && hdr[1] == st.MPI_TAG,
                     "C: status says (source %d, tag %d) but the message was "
                     "sent by %d with tag %d",
                     st.MPI_SOURCE, st.MPI_TAG, hdr[0], hdr[1]);
            {
                int *nx = &next[st.MPI_SOURCE * 3 + st.MPI_TAG - TAG_C0];
                MP_CHECK(hdr[2] == *nx,
                         "C: (source %d, tag %d) recv(src %s, tag %s): got "
                         "sequence %d, expected %d (overtaking)",
                         st.MPI_SOURCE, st.MPI_TAG,
                         src == MPI_ANY_SOURCE ? "ANY" : "given",
                         tag == MPI_ANY_TAG ? "ANY" : "given", hdr[2], *nx);
                *nx = hdr[2] + 1;
                left[st.MPI_SOURCE * 3 + st.MPI_TAG - TAG_C0]--;
            }
            {
                /* Find the sender's index i for this (tag, seq) to know the
                 * size it used. */
                int k, seen = -1, idx = -1;
                for (k = 0; k < n; k++)
                    if (c_tag(k) == hdr[1] && ++seen == hdr[2]) {
                        idx = k;
                        break;
                    }
                MP_CHECK(idx >= 0 && cnt == (int)c_size(idx),
                         "C: message (source %d, tag %d, seq %d) has %d "
                         "bytes, expected %zu",
                         hdr[0], hdr[1], hdr[2], cnt,
                         idx >= 0 ? c_size(idx) : 0);
            }
        }
        for (src = 1; src < mp_size; src++)
            MP_CALL(MPI_Send(&done, 1, MPI_INT, src, TAG_DONE, MPI_COMM_WORLD));
        free(buf);
        free(next);
        free(left);
    }
}

int main(int argc, char **argv)
{
    int count = 10000, i, peer, sender;
    double t0;

    MPI_Init(&argc, &argv);
    mp_init("ordering");
    for (i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = atoi(argv[++i]);
    t0 = MPI_Wtime();
    peer = mp_rank ^ 1;
    if (peer >= mp_size)
        peer = mp_rank;
    sender = mp_rank % 2 == 0;

    phase_a(peer, sender, count);
    mp_barrier();
    /* Reverse the direction for phase B. */
    phase_b(peer, !sender);
    mp_barrier();
    if (mp_size > 1)
        phase_c();
    mp_barrier();
    if (mp_rank == 0)
        printf("ordering: %.2f s\n", MPI_Wtime() - t0);
    return mp_finish();
}
