/*
 * shm_ring_test.c — the SPSC record ring of the shm transport: wrap-around,
 * back-pressure, stale-tag safety, wake-up handshake and concurrent
 * producer/consumer stress across threads and across processes.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "transport/shm/shm_ring.h"

#define BIG (64u << 20)

typedef struct ring_fixture {
    rdmx_shm_ring_shared_t *sh;
    size_t bytes;
    rdmx_shm_ring_producer_t p;
    rdmx_shm_ring_consumer_t c;
} ring_fixture_t;

static void fixture_make(ring_fixture_t *f, uint32_t cells, int shared)
{
    f->bytes = rdmx_shm_ring_footprint(cells);
    f->sh = mmap(NULL, f->bytes, PROT_READ | PROT_WRITE,
                 (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
    assert_true(f->sh != MAP_FAILED);
    rdmx_shm_ring_init(f->sh, cells);
    assert_int_equal(rdmx_shm_ring_producer_attach(&f->p, f->sh, f->bytes), 0);
    assert_int_equal(rdmx_shm_ring_consumer_attach(&f->c, f->sh, f->bytes), 0);
}

static void fixture_free(ring_fixture_t *f)
{
    rdmx_shm_ring_producer_detach(&f->p);
    munmap(f->sh, f->bytes);
}

/* Body of record number `seq`: its length and a byte pattern derived from
 * the sequence number, so reordering, loss and corruption are all seen. */
static size_t body_len(uint64_t seq, size_t max)
{
    uint64_t x = seq * 2654435761u + 12345;
    return (size_t)((x >> 7) % (max + 1));
}

static void body_fill(unsigned char *b, size_t len, uint64_t seq)
{
    for (size_t i = 0; i < len; i++)
        b[i] = (unsigned char)(seq * 31 + i * 7);
}

static int body_check(const unsigned char *b, size_t len, uint64_t seq)
{
    for (size_t i = 0; i < len; i++)
        if (b[i] != (unsigned char)(seq * 31 + i * 7))
            return 0;
    return 1;
}

/* The producer's side of the wake-up handshake, as shm.c does it. */
static int request_space(rdmx_shm_ring_producer_t *p, size_t len)
{
    rdmx_shm_ring_request_space(p);
    rdmx_shm_fence();
    return rdmx_shm_ring_recheck_space(p, len);
}

static void test_ring_rejects_bad_header(void **state)
{
    ring_fixture_t f;
    rdmx_shm_ring_producer_t p;

    fixture_make(&f, 16, 0);
    /* A footprint larger than the mapping is refused. */
    assert_int_equal(rdmx_shm_ring_producer_attach(&p, f.sh, f.bytes - 1), -1);
    f.sh->size = 1000; /* not a power of two */
    assert_int_equal(rdmx_shm_ring_producer_attach(&p, f.sh, f.bytes), -1);
    fixture_free(&f);
}

/* No memory for the producer's dirty-cell bitmap: attach says so (-2, not
 * "corrupt"), keeps nothing, and a later attach with memory works. */
static void test_ring_attach_without_memory(void **state)
{
    ring_fixture_t f;
    rdmx_shm_ring_producer_t p;
    int failed = alloc_fail_count();

    fixture_make(&f, 16, 0);
    alloc_fail_next_callocs(1);
    assert_int_equal(rdmx_shm_ring_producer_attach(&p, f.sh, f.bytes), -2);
    assert_int_equal(alloc_fail_count(), failed + 1);
    assert_null(p.dirty);
    rdmx_shm_ring_producer_detach(&p); /* harmless on a failed attach */
    assert_int_equal(rdmx_shm_ring_producer_attach(&p, f.sh, f.bytes), 0);
    assert_non_null(p.dirty);
    rdmx_shm_ring_producer_detach(&p);
    fixture_free(&f);
}

static void test_ring_empty_and_oversize(void **state)
{
    ring_fixture_t f;
    uint32_t kind;
    size_t len, max;

    fixture_make(&f, 16, 0);
    max = rdmx_shm_ring_max_body(f.sh->size);
    assert_null(rdmx_shm_ring_peek(&f.c, &kind, &len));
    assert_null(rdmx_shm_ring_reserve(&f.p, max + 1));
    assert_non_null(rdmx_shm_ring_reserve(&f.p, max));
    rdmx_shm_ring_commit(&f.p, 7);
    assert_non_null(rdmx_shm_ring_peek(&f.c, &kind, &len));
    assert_int_equal(kind, 7);
    assert_int_equal(len, max);
    fixture_free(&f);
}

/* Many laps of interleaved produce-until-full / consume-all with every
 * length from 0 to the maximum: records cross the end of the data area
 * (PAD) in every possible position. */
static void test_ring_wraparound(void **state)
{
    ring_fixture_t f;
    uint64_t sent = 0, recvd = 0;
    size_t max;
    int rounds = 0;

    fixture_make(&f, 16, 0);
    max = rdmx_shm_ring_max_body(f.sh->size);
    while (recvd < 20000) {
        for (;;) {
            size_t len = body_len(sent, max);
            unsigned char *b = rdmx_shm_ring_reserve(&f.p, len);
            if (!b)
                break;
            body_fill(b, len, sent);
            rdmx_shm_ring_commit(&f.p, 1);
            sent++;
        }
        assert_true(sent > recvd); /* an empty ring always takes a record */
        for (;;) {
            uint32_t kind;
            size_t len;
            const unsigned char *b = rdmx_shm_ring_peek(&f.c, &kind, &len);
            if (!b)
                break;
            assert_true(b != RDMX_SHM_RING_CORRUPT);
            assert_int_equal(kind, 1);
            assert_int_equal(len, body_len(recvd, max));
            assert_true(body_check(b, len, recvd));
            rdmx_shm_ring_consume(&f.c);
            recvd++;
        }
        rdmx_shm_ring_publish(&f.c, 0);
        assert_int_equal(recvd, sent);
        rounds++;
    }
    /* The head went around the 1 KiB area many times. */
    assert_true(f.p.head > 100u * f.sh->size);
    fixture_free(&f);
}

/* A full ring refuses further records until the consumer publishes. */
static void test_ring_backpressure(void **state)
{
    ring_fixture_t f;
    uint32_t kind;
    size_t len;
    int n = 0;

    fixture_make(&f, 16, 0);
    while (rdmx_shm_ring_reserve(&f.p, 40)) { /* 1 cell each */
        rdmx_shm_ring_commit(&f.p, 2);
        n++;
    }
    assert_int_equal(n, 15); /* one cell always stays free */
    assert_false(rdmx_shm_ring_has_room(&f.p, 0));
    /* Consuming without publishing frees nothing for the producer. */
    assert_non_null(rdmx_shm_ring_peek(&f.c, &kind, &len));
    rdmx_shm_ring_consume(&f.c);
    assert_false(rdmx_shm_ring_has_room(&f.p, 0));
    /* The producer asks to be woken; the publish reports that request. */
    assert_int_equal(request_space(&f.p, 40), 0);
    assert_int_equal(rdmx_shm_ring_publish(&f.c, 0), 1);
    assert_int_equal(rdmx_shm_ring_publish(&f.c, 0), 0); /* nothing new */
    assert_true(rdmx_shm_ring_has_room(&f.p, 40));
    assert_false(rdmx_shm_ring_has_room(&f.p, 64 + 40)); /* 2 cells */
    /* Room present: request_space says so and leaves no request behind. */
    assert_int_equal(request_space(&f.p, 40), 1);
    assert_non_null(rdmx_shm_ring_peek(&f.c, &kind, &len));
    rdmx_shm_ring_consume(&f.c);
    assert_int_equal(rdmx_shm_ring_publish(&f.c, 0), 0);
    fixture_free(&f);
}

/* Bodies full of words that equal the tag a later lap would expect at that
 * offset must never be taken for records. */
static void test_ring_stale_tags_ignored(void **state)
{
    ring_fixture_t f;
    uint32_t size, kind;
    size_t len, max;

    fixture_make(&f, 16, 0);
    size = f.sh->size;
    max = rdmx_shm_ring_max_body(size);
    for (int lap = 0; lap < 50; lap++) {
        for (int k = 0; k < 3; k++) {
            uint64_t pos;
            size_t l = (k == 0) ? max : (size_t)(lap * 13 + k * 100) % max;
            uint64_t *b = rdmx_shm_ring_reserve(&f.p, l);
            assert_non_null(b);
            pos = f.p.rec_pos + RDMX_SHM_REC_HDR;
            for (size_t i = 0; i + 8 <= l; i += 8) {
                /* tag a record starting here would carry 1..3 laps on */
                uint64_t at = pos + i;
                b[i / 8] = at + (uint64_t)size * (1 + (i / 8) % 3) + 1;
            }
            rdmx_shm_ring_commit(&f.p, 3);
            assert_non_null(rdmx_shm_ring_peek(&f.c, &kind, &len));
            assert_int_equal(len, l);
            rdmx_shm_ring_consume(&f.c);
            rdmx_shm_ring_publish(&f.c, 0);
            assert_null(rdmx_shm_ring_peek(&f.c, &kind, &len));
            assert_false(rdmx_shm_ring_ready(&f.c));
        }
    }
    fixture_free(&f);
}

static void test_ring_corrupt_len_detected(void **state)
{
    ring_fixture_t f;
    uint32_t kind;
    size_t len;
    rdmx_shm_rec_t *rec;

    fixture_make(&f, 16, 0);
    assert_non_null(rdmx_shm_ring_reserve(&f.p, 10));
    rdmx_shm_ring_commit(&f.p, 1);
    rec = (rdmx_shm_rec_t *)f.sh->data;
    rec->len = 0xfffffff0u;
    assert_ptr_equal(rdmx_shm_ring_peek(&f.c, &kind, &len),
                     RDMX_SHM_RING_CORRUPT);
    fixture_free(&f);
}

/* ---- paired rings: acks and jumps to the start --------------------------- */

/* Two ranks' rings: ab carries a -> b, ba carries b -> a. a's producer is
 * ab.p and its consumer ba.c; b's are ba.p and ab.c. */
static void pair_make(ring_fixture_t *ab, ring_fixture_t *ba, uint32_t cells)
{
    fixture_make(ab, cells, 0);
    fixture_make(ba, cells, 0);
    rdmx_shm_ring_pair(&ab->p, &ba->c);
    rdmx_shm_ring_pair(&ba->p, &ab->c);
}

/* Fill a body so that every 8-byte word looks like the tag a record
 * starting there would carry one to three laps on: a consumer that ever
 * polls an uncleaned body slot takes it for a record. */
static void body_fill_tags(uint64_t *b, size_t len, uint64_t pos,
                           uint32_t size)
{
    for (size_t i = 0; i + 8 <= len; i += 8)
        b[i / 8] = pos + i + (uint64_t)size * (1 + (i / 8) % 3) + 1;
}

static void send_one(ring_fixture_t *f, size_t len, uint64_t seq)
{
    unsigned char *b = rdmx_shm_ring_reserve(&f->p, len);
    assert_non_null(b);
    body_fill(b, len, seq);
    rdmx_shm_ring_commit(&f->p, 2);
}

/* Take the one record expected, check it, and that nothing follows. No
 * publish: the producer must learn the position from acks alone. */
static void recv_one(ring_fixture_t *f, size_t len, uint64_t seq)
{
    uint32_t kind;
    size_t got;
    const unsigned char *b = rdmx_shm_ring_peek(&f->c, &kind, &got);
    assert_true(b != NULL && b != RDMX_SHM_RING_CORRUPT);
    assert_int_equal(kind, 2);
    assert_int_equal(got, len);
    assert_true(body_check(b, len, seq));
    rdmx_shm_ring_consume(&f->c);
    assert_null(rdmx_shm_ring_peek(&f->c, &kind, &got));
}

/* A ping-pong of one-cell records cycles through the first two cells: each
 * reply acks the request and the next request jumps to the start (no tail
 * is ever published, so without the acks the ring would fill up). Larger
 * records sweep the ring as before. */
static void test_ring_pingpong_wraps(void **state)
{
    ring_fixture_t ab, ba;
    size_t lens[] = {0, 1, 20, 48, 49, 100, 200};

    pair_make(&ab, &ba, 1024);
    for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
        int one_cell = rdmx_shm_rec_need(lens[l]) == RDMX_SHM_CELL;
        for (uint64_t seq = 0; seq < 5000; seq++) {
            send_one(&ab, lens[l], seq);
            recv_one(&ab, lens[l], seq);
            send_one(&ba, lens[l], seq);
            recv_one(&ba, lens[l], seq);
            if (!one_cell) {
                rdmx_shm_ring_publish(&ab.c, 0);
                rdmx_shm_ring_publish(&ba.c, 0);
                continue;
            }
            if (seq < 8)
                continue;
            assert_true((ab.p.head & (ab.sh->size - 1)) <=
                        RDMX_SHM_RING_JUMP_AT);
            assert_true((ba.p.head & (ba.sh->size - 1)) <=
                        RDMX_SHM_RING_JUMP_AT);
        }
    }
    fixture_free(&ab);
    fixture_free(&ba);
}

/* After a ping-pong has cycled through the first cells, a burst of small
 * records the peer does not read yet must still fit the whole ring. (A
 * first design flagged the record before a wrap: the next lap then stayed
 * closed until that record was read, and the second record of the burst
 * found no room.) */
static void test_ring_burst_after_jumps(void **state)
{
    ring_fixture_t ab, ba;
    uint64_t seq;

    pair_make(&ab, &ba, 1024);
    for (seq = 0; seq < 100; seq++) {
        send_one(&ab, 8, seq);
        recv_one(&ab, 8, seq);
        send_one(&ba, 8, seq);
        recv_one(&ba, 8, seq);
    }
    for (uint64_t k = 0; k < 900; k++)
        send_one(&ab, 8, seq + k); /* asserts the room */
    for (uint64_t k = 0; k < 900; k++) {
        uint32_t kind;
        size_t got;
        const unsigned char *b = rdmx_shm_ring_peek(&ab.c, &kind, &got);
        assert_true(b != NULL && b != RDMX_SHM_RING_CORRUPT);
        assert_true(got == 8 && body_check(b, 8, seq + k));
        rdmx_shm_ring_consume(&ab.c);
    }
    assert_false(rdmx_shm_ring_ready(&ab.c));
    fixture_free(&ab);
    fixture_free(&ba);
}

/* Streams (no acks) leave body bytes all over the ring; a ping-pong then
 * wraps over them. Every body word looks like a future tag, so a slot
 * left dirty where a record should start would be read as a record. */
static void test_ring_wrap_over_dirty_slots(void **state)
{
    ring_fixture_t ab, ba;
    uint32_t kind;
    size_t got;
    uint64_t seq = 0;

    pair_make(&ab, &ba, 64);
    for (int round = 0; round < 300; round++) {
        /* A burst of multi-cell records, published by tail, no acks. */
        int burst = 1 + round % 4;
        for (int k = 0; k < burst; k++) {
            size_t len = 64 + (size_t)((round * 37 + k * 101) % 900);
            uint64_t *b = rdmx_shm_ring_reserve(&ab.p, len);
            if (!b)
                break;
            body_fill_tags(b, len, ab.p.rec_pos + RDMX_SHM_REC_HDR,
                           ab.sh->size);
            rdmx_shm_ring_commit(&ab.p, 3);
        }
        while (rdmx_shm_ring_peek(&ab.c, &kind, &got)) {
            assert_int_equal(kind, 3);
            rdmx_shm_ring_consume(&ab.c);
        }
        rdmx_shm_ring_publish(&ab.c, 0);
        /* Then a ping-pong of small records. */
        for (int k = 0; k < 1 + round % 7; k++, seq++) {
            size_t len = (size_t)(seq * 7 % 48);
            send_one(&ab, len, seq);
            recv_one(&ab, len, seq);
            send_one(&ba, len, seq);
            recv_one(&ba, len, seq);
        }
        assert_false(rdmx_shm_ring_ready(&ab.c));
    }
    fixture_free(&ab);
    fixture_free(&ba);
}

/* An ack is the peer's word about its own ring: even a false one must not
 * move our view back or past our head. */
static void test_ring_bogus_ack_ignored(void **state)
{
    ring_fixture_t ab, ba;

    pair_make(&ab, &ba, 256);
    for (uint64_t seq = 0; seq < 40; seq++) {
        send_one(&ba, 100, seq); /* b -> a, unread by a */
        send_one(&ab, 1, seq);
        recv_one(&ab, 1, seq);
    }
    uint64_t head = ba.p.head, before = ba.p.tail_cache;
    for (int i = 0; i < 3; i++) {
        uint64_t at;
        send_one(&ab, 1, 100 + (uint64_t)i);
        at = ab.p.rec_pos & (ab.sh->size - 1);
        ((rdmx_shm_rec_t *)(ab.sh->data + at))->ack = 0xffff;
        recv_one(&ab, 1, 100 + (uint64_t)i);
        assert_true(ba.p.tail_cache >= before);
        assert_true(ba.p.tail_cache <= ba.p.head);
    }
    assert_int_equal(ba.p.head, head);
    fixture_free(&ab);
    fixture_free(&ba);
}

/* A record of b's waits unread while a streams 2^16 cells and a few more
 * to b, which lags 100 records behind; then a reads b's record. Its ack
 * must not make a believe b has read more than it has. An ack holding b's
 * position modulo 2^16 cells did exactly that here (it named a position
 * 2^16 cells on, past b's), and a overwrote unread records. */
static void test_ring_stale_ack_safe(void **state)
{
    ring_fixture_t ab, ba;
    const uint64_t n = 65536 + 49, lag = 100;
    uint32_t kind;
    size_t got;

    pair_make(&ab, &ba, 1024);
    send_one(&ab, 8, 0);
    recv_one(&ab, 8, 0);
    send_one(&ba, 8, 0); /* acks a's first record; a does not read it yet */
    for (uint64_t seq = 1; seq <= n; seq++) {
        send_one(&ab, 8, seq);
        if (seq > lag) {
            const unsigned char *r = rdmx_shm_ring_peek(&ab.c, &kind, &got);
            assert_true(r != NULL && r != RDMX_SHM_RING_CORRUPT);
            assert_true(got == 8 && body_check(r, 8, seq - lag));
            rdmx_shm_ring_consume(&ab.c);
            rdmx_shm_ring_publish(&ab.c, 0);
        }
    }
    recv_one(&ba, 8, 0); /* the old ack arrives */
    assert_true(ab.p.tail_cache <= ab.c.tail);
    fixture_free(&ab);
    fixture_free(&ba);
}

/* ---- concurrent stress --------------------------------------------------- */

#define STRESS_RECORDS 300000u

static void stress_produce(ring_fixture_t *f, size_t max)
{
    for (uint64_t seq = 0; seq < STRESS_RECORDS; seq++) {
        size_t len = body_len(seq, max);
        unsigned char *b;
        while (!(b = rdmx_shm_ring_reserve(&f->p, len)))
            ; /* spin: the consumer frees cells */
        body_fill(b, len, seq);
        rdmx_shm_ring_commit(&f->p, 1 + (uint32_t)(seq % 5));
    }
}

/* Returns the number of records that arrived intact and in order. */
static uint64_t stress_consume(ring_fixture_t *f, size_t max)
{
    uint64_t seq = 0;

    while (seq < STRESS_RECORDS) {
        uint32_t kind;
        size_t len;
        const unsigned char *b = rdmx_shm_ring_peek(&f->c, &kind, &len);
        if (!b)
            continue;
        if (b == RDMX_SHM_RING_CORRUPT || kind != 1 + (uint32_t)(seq % 5) ||
            len != body_len(seq, max) || !body_check(b, len, seq))
            return seq;
        rdmx_shm_ring_consume(&f->c);
        /* Publish in batches, as the transport does per progress pass. */
        if ((seq & 7) == 0)
            rdmx_shm_ring_publish(&f->c, 0);
        seq++;
    }
    rdmx_shm_ring_publish(&f->c, 0);
    return seq;
}

typedef struct stress_arg {
    ring_fixture_t *f;
    size_t max;
} stress_arg_t;

static void *stress_thread(void *arg)
{
    stress_arg_t *a = arg;

    stress_produce(a->f, a->max);
    return NULL;
}

static void test_ring_stress_threads(void **state)
{
    ring_fixture_t f;
    pthread_t th;
    stress_arg_t a;

    fixture_make(&f, 64, 0);
    a.f = &f;
    a.max = 600; /* mix of 1..10-cell records in a 64-cell ring */
    assert_int_equal(pthread_create(&th, NULL, stress_thread, &a), 0);
    assert_int_equal(stress_consume(&f, a.max), STRESS_RECORDS);
    pthread_join(th, NULL);
    fixture_free(&f);
}

static void test_ring_stress_processes(void **state)
{
    ring_fixture_t f;
    pid_t pid;
    int wstatus;
    size_t max = 600;

    fixture_make(&f, 64, 1);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(100); /* never outlive the test if the parent dies */
        stress_produce(&f, max);
        _exit(0);
    }
    assert_int_equal(stress_consume(&f, max), STRESS_RECORDS);
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    fixture_free(&f);
}

/* An idle ring (consumer caught up) past its first 16 KiB restarts at the
 * beginning of the area; a ring the consumer lags behind does not. */
static void test_ring_idle_restart(void **state)
{
    ring_fixture_t f;
    uint64_t sent = 0, recvd = 0;
    int restarts = 0;

    (void)state;
    fixture_make(&f, 1024, 0); /* 64 KiB area */
    for (int round = 0; round < 4000; round++) {
        size_t len = body_len(sent, 200);
        unsigned char *b = rdmx_shm_ring_reserve(&f.p, len);
        assert_non_null(b);
        if ((size_t)(b - f.sh->data) == RDMX_SHM_REC_HDR && sent > 0)
            restarts++;
        body_fill(b, len, sent);
        rdmx_shm_ring_commit(&f.p, 1);
        sent++;
        uint32_t kind;
        size_t got;
        const unsigned char *r = rdmx_shm_ring_peek(&f.c, &kind, &got);
        assert_true(r != NULL && r != RDMX_SHM_RING_CORRUPT);
        assert_int_equal(got, body_len(recvd, 200));
        assert_true(body_check(r, got, recvd));
        rdmx_shm_ring_consume(&f.c);
        rdmx_shm_ring_publish(&f.c, 0);
        recvd++;
        /* Never beyond the hot area plus one check interval. */
        assert_true((f.p.head & (f.sh->size - 1)) < 16 * 1024 + 2048);
    }
    assert_true(restarts > 10);
    /* With unread records the head keeps going round the whole area. */
    uint64_t start = f.p.head;
    while (f.p.head - start < f.sh->size / 2) {
        unsigned char *b = rdmx_shm_ring_reserve(&f.p, 100);
        assert_non_null(b);
        assert_true((size_t)(b - f.sh->data) != RDMX_SHM_REC_HDR);
        body_fill(b, 100, sent++);
        rdmx_shm_ring_commit(&f.p, 1);
    }
    /* Started below 18 KiB, moved 32 KiB, no wrap: past the hot area. */
    assert_true((f.p.head & (f.sh->size - 1)) >= 32 * 1024);
    for (;;) {
        uint32_t kind;
        size_t got;
        const unsigned char *r = rdmx_shm_ring_peek(&f.c, &kind, &got);
        if (!r)
            break;
        assert_true(r != RDMX_SHM_RING_CORRUPT);
        assert_true(body_check(r, got, recvd));
        rdmx_shm_ring_consume(&f.c);
        recvd++;
    }
    assert_int_equal(recvd, sent);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_rejects_bad_header),
        cmocka_unit_test(test_ring_attach_without_memory),
        cmocka_unit_test(test_ring_empty_and_oversize),
        cmocka_unit_test(test_ring_wraparound),
        cmocka_unit_test(test_ring_backpressure),
        cmocka_unit_test(test_ring_stale_tags_ignored),
        cmocka_unit_test(test_ring_idle_restart),
        cmocka_unit_test(test_ring_pingpong_wraps),
        cmocka_unit_test(test_ring_burst_after_jumps),
        cmocka_unit_test(test_ring_wrap_over_dirty_slots),
        cmocka_unit_test(test_ring_bogus_ack_ignored),
        cmocka_unit_test(test_ring_stale_ack_safe),
        cmocka_unit_test(test_ring_corrupt_len_detected),
        cmocka_unit_test(test_ring_stress_threads),
        cmocka_unit_test(test_ring_stress_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
