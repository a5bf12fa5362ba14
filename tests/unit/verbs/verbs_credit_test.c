/* Eager credit accounting (transport/verbs/verbs_credit.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "transport/verbs/verbs_credit.h"

static void test_take_until_empty(void **state)
{
    rdmx_verbs_credit_t c;
    rdmx_verbs_credit_init(&c, 4);
    for (int i = 0; i < 4; i++)
        assert_true(rdmx_verbs_credit_take(&c));
    assert_false(rdmx_verbs_credit_take(&c));
    assert_int_equal(c.avail, 0);
    assert_int_equal(rdmx_verbs_credit_returned(&c, 3), 0);
    assert_int_equal(c.avail, 3);
    assert_true(rdmx_verbs_credit_take(&c));
}

/* A peer that returns more than it was ever given is lying. */
static void test_over_return_rejected(void **state)
{
    rdmx_verbs_credit_t c;
    rdmx_verbs_credit_init(&c, 4);
    assert_int_equal(rdmx_verbs_credit_returned(&c, 1), -1);
    assert_true(rdmx_verbs_credit_take(&c));
    assert_int_equal(rdmx_verbs_credit_returned(&c, 2), -1);
    assert_int_equal(c.avail, 3);
    assert_int_equal(rdmx_verbs_credit_returned(&c, 1), 0);
    assert_int_equal(rdmx_verbs_credit_returned(&c, 0), 0);
    assert_int_equal(c.avail, 4);
}

static void test_owed_piggyback_and_update(void **state)
{
    rdmx_verbs_credit_t c;
    rdmx_verbs_credit_init(&c, 8);
    const uint32_t grant_to_peer = 8;
    for (int i = 0; i < 3; i++)
        rdmx_verbs_credit_consumed(&c);
    assert_false(rdmx_verbs_credit_need_update(&c, grant_to_peer));
    rdmx_verbs_credit_consumed(&c); /* 4 = half: time for an update */
    assert_true(rdmx_verbs_credit_need_update(&c, grant_to_peer));
    assert_int_equal(rdmx_verbs_credit_piggyback(&c), 4);
    assert_int_equal(c.owed, 0);
    assert_int_equal(rdmx_verbs_credit_piggyback(&c), 0);
    assert_false(rdmx_verbs_credit_need_update(&c, grant_to_peer));
    /* A grant of 1 still asks for updates (never divides to zero). */
    rdmx_verbs_credit_consumed(&c);
    assert_true(rdmx_verbs_credit_need_update(&c, 1));
}

/* Simulate two sides exchanging MSG frames with piggybacked credits: the
 * number of a peer's frames in flight never exceeds the grant. */
static void test_conservation(void **state)
{
    rdmx_verbs_credit_t a_to_b, b_from_a;
    rdmx_verbs_credit_init(&a_to_b, 5);   /* A's view: credits to send to B */
    rdmx_verbs_credit_init(&b_from_a, 5); /* B's view of A (owed side) */
    unsigned in_flight = 0, sent = 0;
    for (int step = 0; step < 1000; step++) {
        if (step % 3 != 2 && rdmx_verbs_credit_take(&a_to_b)) {
            in_flight++;
            sent++;
            assert_true(in_flight <= 5);
        } else if (in_flight) {
            in_flight--; /* B consumes and re-posts one buffer */
            rdmx_verbs_credit_consumed(&b_from_a);
            if (rdmx_verbs_credit_need_update(&b_from_a, 5))
                assert_int_equal(
                    rdmx_verbs_credit_returned(
                        &a_to_b, rdmx_verbs_credit_piggyback(&b_from_a)),
                    0);
        }
    }
    assert_true(sent > 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_until_empty),
        cmocka_unit_test(test_over_return_rejected),
        cmocka_unit_test(test_owed_piggyback_and_update),
        cmocka_unit_test(test_conservation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
