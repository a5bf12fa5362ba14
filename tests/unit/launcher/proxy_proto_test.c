/*
 * proxy_proto_test.c — framing between mpirun and rdmx-proxy: round trip
 * through a pipe, frames split across reads, and malformed headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy_proto.h"

static void test_round_trip(void **state)
{
    rdmx_frame_reader_t r;
    rdmx_frame_t f;
    int p[2];
    char big[70000];

    memset(big, 'q', sizeof(big));
    assert_int_equal(pipe(p), 0);
    rdmx_frame_reader_init(&r);
    assert_int_equal(rdmx_frame_send_str(p[1], 'K', 0, 0, "abc"), 0);
    assert_int_equal(rdmx_frame_send(p[1], 'X', 12, -9, NULL, 0), 0);
    /* a payload larger than one read */
    if (fork() == 0) {
        rdmx_frame_send(p[1], 'O', 3, 2, big, sizeof(big));
        _exit(0);
    }
    close(p[1]);
    int got = 0;
    for (;;) {
        int n = rdmx_frame_next(&r, &f);
        assert_true(n >= 0);
        if (n == 1) {
            if (got == 0) {
                assert_int_equal(f.type, 'K');
                assert_int_equal(f.len, 3);
                assert_memory_equal(f.data, "abc", 3);
            } else if (got == 1) {
                assert_int_equal(f.type, 'X');
                assert_int_equal(f.a, 12);
                assert_int_equal(f.b, -9);
                assert_int_equal(f.len, 0);
            } else {
                assert_int_equal(f.type, 'O');
                assert_int_equal(f.a, 3);
                assert_int_equal(f.b, 2);
                assert_int_equal(f.len, sizeof(big));
                assert_memory_equal(f.data, big, sizeof(big));
            }
            got++;
            continue;
        }
        if (rdmx_frame_reader_fill(&r, p[0]) == 0)
            break;
    }
    assert_int_equal(got, 3);
    close(p[0]);
    wait(NULL);
    rdmx_frame_reader_free(&r);
}

static void test_split_feed(void **state)
{
    const char *wire = "S 4 1234 0\nE 0 0 5\nhello";
    rdmx_frame_reader_t r;
    rdmx_frame_t f;

    rdmx_frame_reader_init(&r);
    for (size_t i = 0; i < strlen(wire); i++) {
        assert_int_equal(rdmx_frame_reader_feed(&r, wire + i, 1), 0);
        if (i == 9) { /* just before the first newline */
            assert_int_equal(rdmx_frame_next(&r, &f), 0);
        }
    }
    assert_int_equal(rdmx_frame_next(&r, &f), 1);
    assert_int_equal(f.type, 'S');
    assert_int_equal(f.b, 1234);
    assert_int_equal(rdmx_frame_next(&r, &f), 1);
    assert_int_equal(f.type, 'E');
    assert_memory_equal(f.data, "hello", 5);
    assert_int_equal(rdmx_frame_next(&r, &f), 0);
    rdmx_frame_reader_free(&r);
}

static void expect_malformed(const char *wire)
{
    rdmx_frame_reader_t r;
    rdmx_frame_t f;

    rdmx_frame_reader_init(&r);
    assert_int_equal(rdmx_frame_reader_feed(&r, wire, strlen(wire)), 0);
    assert_int_equal(rdmx_frame_next(&r, &f), -1);
    rdmx_frame_reader_free(&r);
}

static void test_malformed(void **state)
{
    char longhdr[200];

    expect_malformed("X 1 2\n");             /* missing length */
    expect_malformed("X a 2 0\n");           /* not a number */
    expect_malformed("XX 1 2 0\n");          /* two-letter type */
    expect_malformed("X 1 2 -5\n");          /* negative length */
    expect_malformed("X 1 2 99999999999\n"); /* beyond RDMX_FRAME_MAX */
    expect_malformed("X 1 2 5x\n");
    memset(longhdr, '1', sizeof(longhdr) - 1);
    longhdr[0] = 'X';
    longhdr[1] = ' ';
    longhdr[sizeof(longhdr) - 1] = '\0';
    expect_malformed(longhdr); /* no newline within 64 bytes */
    assert_int_equal(rdmx_frame_send(1, 'O', 0, 0, "x", RDMX_FRAME_MAX + 1),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_split_feed),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
