/*
 * shm_msg_test.c — message records of the shm transport: which messages
 * take the short header, the round trip through it, and decoding of
 * records whose lengths lie (a peer's bytes are never trusted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transport/shm/shm_msg.h"

static void test_short_header_only_when_it_saves_a_cell(void **state)
{
    rdmx_wire_hdr_t h = {.type = RDMX_MSG_EAGER};

    /* 16 B fit one cell either way; 17-36 B fit one only when short; 37 B
     * take two either way. */
    assert_false(rdmx_shm_msg_short_ok(&h, 0));
    assert_false(rdmx_shm_msg_short_ok(&h, 16));
    assert_true(rdmx_shm_msg_short_ok(&h, 17));
    assert_true(rdmx_shm_msg_short_ok(&h, 36));
    assert_false(rdmx_shm_msg_short_ok(&h, 37));
    assert_true(rdmx_shm_msg_short_ok(&h, 100)); /* 2 cells against 3 */
    /* What the short header cannot carry: flags, other types. */
    h.flags = RDMX_MSG_FLAG_SYNC;
    assert_false(rdmx_shm_msg_short_ok(&h, 20));
    h.flags = 0;
    h.reserved = 1;
    assert_false(rdmx_shm_msg_short_ok(&h, 20));
    h.reserved = 0;
    h.type = RDMX_MSG_RTS;
    assert_false(rdmx_shm_msg_short_ok(&h, 20));
}

static void test_short_round_trip(void **state)
{
    rdmx_wire_hdr_t in = {.type = RDMX_MSG_EAGER,
                          .context_id = 0x12345678u,
                          .src = 7,
                          .tag = 0x7fffffff,
                          .len = 30,
                          .req = 99};
    unsigned char body[64];
    rdmx_wire_hdr_t out;
    const unsigned char *payload = NULL;

    rdmx_shm_msg_short_write(body, &in);
    for (int i = 0; i < 30; i++)
        body[sizeof(rdmx_shm_short_hdr_t) + i] = (unsigned char)(i * 3);
    assert_null(rdmx_shm_msg_decode(1, body, sizeof(rdmx_shm_short_hdr_t) + 30,
                                    &out, &payload));
    assert_int_equal(out.type, RDMX_MSG_EAGER);
    assert_int_equal(out.flags, 0);
    assert_int_equal(out.context_id, in.context_id);
    assert_int_equal(out.src, in.src);
    assert_int_equal(out.tag, in.tag);
    assert_int_equal(out.len, 30);
    assert_int_equal(out.req, 0); /* nothing to acknowledge */
    assert_ptr_equal(payload, body + sizeof(rdmx_shm_short_hdr_t));
    /* A zero-byte message is its header alone. */
    assert_null(rdmx_shm_msg_decode(1, body, sizeof(rdmx_shm_short_hdr_t),
                                    &out, &payload));
    assert_int_equal(out.len, 0);
}

static void test_lying_lengths_rejected(void **state)
{
    unsigned char body[128] = {0};
    rdmx_wire_hdr_t h = {.type = RDMX_MSG_EAGER, .len = 10}, out;
    const unsigned char *payload;
    const char *bad;

    /* Shorter than the header it claims to start with. */
    bad = rdmx_shm_msg_decode(1, body, sizeof(rdmx_shm_short_hdr_t) - 1, &out,
                              &payload);
    assert_non_null(bad);
    assert_non_null(strstr(bad, "short message header"));
    bad = rdmx_shm_msg_decode(0, body, sizeof(h) - 1, &out, &payload);
    assert_non_null(bad);
    assert_non_null(strstr(bad, "wire header"));
    /* A header whose len is not what the record holds: more, less, huge. */
    memcpy(body, &h, sizeof(h));
    assert_null(rdmx_shm_msg_decode(0, body, sizeof(h) + 10, &out, &payload));
    assert_int_equal(out.len, 10);
    assert_non_null(rdmx_shm_msg_decode(0, body, sizeof(h) + 9, &out, &payload));
    assert_non_null(
        rdmx_shm_msg_decode(0, body, sizeof(h) + 11, &out, &payload));
    h.len = UINT64_MAX;
    memcpy(body, &h, sizeof(h));
    assert_non_null(
        rdmx_shm_msg_decode(0, body, sizeof(h) + 10, &out, &payload));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_header_only_when_it_saves_a_cell),
        cmocka_unit_test(test_short_round_trip),
        cmocka_unit_test(test_lying_lengths_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
