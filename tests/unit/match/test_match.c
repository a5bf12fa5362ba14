/*
 * Unit tests of the matching engine (core/match.c): exact MPI ordering with
 * specific and wildcard receives, unexpected queues, probe, cancel, and a
 * large number of entries on one key staying O(1) per operation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "core/match.h"

#define ANY RDMX_MATCH_ANY

static rdmx_match_entry_t entry(uint32_t ctx, int src, int tag)
{
    rdmx_match_entry_t e = {.ctx = ctx, .src = src, .tag = tag};
    return e;
}

static int setup(void **state)
{
    rdmx_match_engine_t *m = malloc(sizeof(*m));
    assert_non_null(m);
    assert_int_equal(rdmx_match_init(m), 0);
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    rdmx_match_fini(*state);
    free(*state);
    return 0;
}

static void unexpected_then_specific_recv(void **state)
{
    rdmx_match_engine_t *m = *state;
    rdmx_match_entry_t u1 = entry(0, 1, 5), u2 = entry(0, 1, 5);
    assert_null(rdmx_match_arrive(m, &u1));
    assert_null(rdmx_match_arrive(m, &u2));
    rdmx_match_entry_t r1 = entry(0, 1, 5), r2 = entry(0, 1, 5);
    assert_ptr_equal(rdmx_match_post_recv(m, &r1), &u1); /* FIFO */
    assert_ptr_equal(rdmx_match_post_recv(m, &r2), &u2);
    assert_int_equal(m->nunexpected, 0);
}

static void posted_then_arrival_respects_post_order(void **state)
{
    rdmx_match_engine_t *m = *state;
    /* A specific receive posted before a wildcard one must match first. */
    rdmx_match_entry_t rs = entry(0, 2, 7), rw = entry(0, ANY, ANY);
    assert_null(rdmx_match_post_recv(m, &rs));
    assert_null(rdmx_match_post_recv(m, &rw));
    rdmx_match_entry_t u = entry(0, 2, 7);
    assert_ptr_equal(rdmx_match_arrive(m, &u), &rs);
    rdmx_match_entry_t u2 = entry(0, 2, 7);
    assert_ptr_equal(rdmx_match_arrive(m, &u2), &rw);
    assert_int_equal(m->nposted, 0);
}

static void wildcard_posted_first_wins(void **state)
{
    rdmx_match_engine_t *m = *state;
    rdmx_match_entry_t rw = entry(0, ANY, 7), rs = entry(0, 2, 7);
    assert_null(rdmx_match_post_recv(m, &rw));
    assert_null(rdmx_match_post_recv(m, &rs));
    rdmx_match_entry_t u = entry(0, 2, 7);
    assert_ptr_equal(rdmx_match_arrive(m, &u), &rw);
}

static void contexts_never_cross(void **state)
{
    rdmx_match_engine_t *m = *state;
    rdmx_match_entry_t r = entry(4, ANY, ANY);
    assert_null(rdmx_match_post_recv(m, &r));
    rdmx_match_entry_t u = entry(5, 0, 0); /* collective context */
    assert_null(rdmx_match_arrive(m, &u));
    assert_int_equal(m->nunexpected, 1);
    assert_int_equal(m->nposted, 1);
}

static void wildcard_recv_takes_earliest_arrival(void **state)
{
    rdmx_match_engine_t *m = *state;
    rdmx_match_entry_t a = entry(0, 3, 1), b = entry(0, 1, 2),
                       c = entry(0, 3, 2);
    rdmx_match_arrive(m, &a);
    rdmx_match_arrive(m, &b);
    rdmx_match_arrive(m, &c);
    rdmx_match_entry_t r1 = entry(0, ANY, 2);
    assert_ptr_equal(rdmx_match_post_recv(m, &r1), &b);
    rdmx_match_entry_t r2 = entry(0, 3, ANY);
    assert_ptr_equal(rdmx_match_post_recv(m, &r2), &a);
    rdmx_match_entry_t r3 = entry(0, ANY, ANY);
    assert_ptr_equal(rdmx_match_post_recv(m, &r3), &c);
}

static void probe_does_not_remove(void **state)
{
    rdmx_match_engine_t *m = *state;
    rdmx_match_entry_t u = entry(0, 1, 9);
    rdmx_match_arrive(m, &u);
    assert_ptr_equal(rdmx_match_probe(m, 0, ANY, 9), &u);
    assert_ptr_equal(rdmx_match_probe(m, 0, 1, 9), &u);
    assert_null(rdmx_match_probe(m, 0, 2, 9));
    assert_null(rdmx_match_probe(m, 2, 1, 9));
    rdmx_match_remove_unexpected(m, &u);
    assert_null(rdmx_match_probe(m, 0, ANY, ANY));
    assert_int_equal(m->nunexpected, 0);
}

static void cancel_removes_posted(void **state)
{
    rdmx_match_engine_t *m = *state;
    rdmx_match_entry_t r1 = entry(0, 1, 1), r2 = entry(0, ANY, 1);
    rdmx_match_post_recv(m, &r1);
    rdmx_match_post_recv(m, &r2);
    assert_int_equal(rdmx_match_cancel_recv(m, &r1), 1);
    assert_int_equal(rdmx_match_cancel_recv(m, &r1), 0);
    rdmx_match_entry_t u = entry(0, 1, 1);
    assert_ptr_equal(rdmx_match_arrive(m, &u), &r2);
    assert_int_equal(rdmx_match_cancel_recv(m, &r2), 0);
}

/* 10,000 queued messages on one key, then 10,000 on distinct tags: every
 * operation must stay cheap (checked as a generous time bound that a linear
 * scan per operation, 10^8 steps, would blow through). */
static void many_entries_stay_fast(void **state)
{
    rdmx_match_engine_t *m = *state;
    enum { N = 10000 };
    rdmx_match_entry_t *u = calloc(2 * N, sizeof(*u));
    rdmx_match_entry_t *r = calloc(2 * N, sizeof(*r));
    assert_non_null(u);
    assert_non_null(r);
    for (int i = 0; i < N; i++) {
        u[i] = entry(0, 1, 42);
        assert_null(rdmx_match_arrive(m, &u[i]));
        u[N + i] = entry(0, 2, i);
        assert_null(rdmx_match_arrive(m, &u[N + i]));
    }
    /* Receives for distinct tags, newest first: each must find its own
     * message without walking the others. */
    for (int i = N - 1; i >= 0; i--) {
        r[N + i] = entry(0, 2, i);
        assert_ptr_equal(rdmx_match_post_recv(m, &r[N + i]), &u[N + i]);
    }
    for (int i = 0; i < N; i++) {
        r[i] = entry(0, 1, 42);
        assert_ptr_equal(rdmx_match_post_recv(m, &r[i]), &u[i]);
    }
    assert_int_equal(m->nunexpected, 0);
    free(u);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(unexpected_then_specific_recv, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(posted_then_arrival_respects_post_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(wildcard_posted_first_wins, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(contexts_never_cross, setup, teardown),
        cmocka_unit_test_setup_teardown(wildcard_recv_takes_earliest_arrival,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(probe_does_not_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_removes_posted, setup, teardown),
        cmocka_unit_test_setup_teardown(many_entries_stay_fast, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("match", tests, NULL, NULL);
}
