/*
 * pmi_wire_test.c — the PMI-1 line parser, the line framer, the KVS and
 * the singleton client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bootstrap/kvs.h"
#include "bootstrap/pmi.h"
#include "bootstrap/pmi_wire.h"

static rdmx_pmi_msg_t msg;

static rdmx_status_t parse(const char *s, const char **why)
{
    return rdmx_pmi_wire_parse(s, strlen(s), &msg, why);
}

static void test_parse_put(void **state)
{
    const char *why = NULL;

    assert_int_equal(
        parse("cmd=put kvsname=kvs_1 key=addr-3 value=a:b,c", &why), RDMX_OK);
    assert_string_equal(msg.cmd, "put");
    assert_int_equal(msg.npairs, 4);
    assert_string_equal(rdmx_pmi_msg_get(&msg, "kvsname"), "kvs_1");
    assert_string_equal(rdmx_pmi_msg_get(&msg, "key"), "addr-3");
    assert_string_equal(rdmx_pmi_msg_get(&msg, "value"), "a:b,c");
    assert_null(rdmx_pmi_msg_get(&msg, "absent"));
}

static void test_parse_spaces_and_cr(void **state)
{
    assert_int_equal(parse("  cmd=barrier_in   \r", NULL), RDMX_OK);
    assert_string_equal(msg.cmd, "barrier_in");
    assert_int_equal(msg.npairs, 1);
}

static void test_parse_empty_value_and_eq_in_value(void **state)
{
    assert_int_equal(parse("cmd=get_result rc=0 value= x=a=b", NULL), RDMX_OK);
    assert_string_equal(rdmx_pmi_msg_get(&msg, "value"), "");
    assert_string_equal(rdmx_pmi_msg_get(&msg, "x"), "a=b");
}

static void test_parse_rejects_missing_eq(void **state)
{
    const char *why = NULL;

    assert_int_equal(parse("cmd=put key", &why), RDMX_ERR_PROTO);
    assert_non_null(why);
    assert_string_equal(why, "token without '='");
    assert_null(msg.cmd);
}

static void test_parse_rejects_empty_and_no_cmd(void **state)
{
    const char *why = NULL;

    assert_int_equal(parse("", &why), RDMX_ERR_PROTO);
    assert_string_equal(why, "empty line");
    assert_int_equal(parse("   ", &why), RDMX_ERR_PROTO);
    assert_int_equal(parse("key=value cmd=put", &why), RDMX_ERR_PROTO);
    assert_string_equal(why, "line does not start with cmd=");
    assert_int_equal(parse("cmd=", &why), RDMX_ERR_PROTO);
    assert_string_equal(why, "empty command name");
    assert_int_equal(parse("=x", &why), RDMX_ERR_PROTO);
    assert_string_equal(why, "empty key");
}

static void test_parse_rejects_nul_and_control(void **state)
{
    const char line[] = "cmd=put key=a\0b value=c";
    const char *why = NULL;

    assert_int_equal(rdmx_pmi_wire_parse(line, sizeof(line) - 1, &msg, &why),
                     RDMX_ERR_PROTO);
    assert_string_equal(why, "embedded NUL byte");
    assert_int_equal(parse("cmd=put key=a\tb", &why), RDMX_ERR_PROTO);
    assert_string_equal(why, "control character");
    assert_int_equal(parse("cmd=put k\x01y=1", &why), RDMX_ERR_PROTO);
}

static void test_parse_rejects_bad_keys(void **state)
{
    const char *why = NULL;

    assert_int_equal(parse("cmd=put ke!y=1", &why), RDMX_ERR_PROTO);
    assert_string_equal(why, "invalid character in key");
    assert_int_equal(parse("cmd=put key=1 key=2", &why), RDMX_ERR_PROTO);
    assert_string_equal(why, "duplicate key");
}

static void test_parse_rejects_overlong_and_too_many(void **state)
{
    char *big = malloc(RDMX_PMI_LINE_MAX + 100);
    char many[512] = "cmd=x";
    const char *why = NULL;

    memset(big, 'a', RDMX_PMI_LINE_MAX + 99);
    memcpy(big, "cmd=put value=", 14);
    big[RDMX_PMI_LINE_MAX + 99] = '\0';
    assert_int_equal(parse(big, &why), RDMX_ERR_PROTO);
    assert_string_equal(why, "line too long");
    /* exactly at the limit is fine */
    big[RDMX_PMI_LINE_MAX] = '\0';
    assert_int_equal(parse(big, &why), RDMX_OK);
    free(big);
    for (int i = 0; i < RDMX_PMI_MAX_PAIRS; i++) {
        char kv[16];
        snprintf(kv, sizeof(kv), " k%d=v", i);
        strcat(many, kv);
    }
    assert_int_equal(parse(many, &why), RDMX_ERR_PROTO);
    assert_string_equal(why, "too many keys");
}

static void test_parse_mcmd_and_unknown(void **state)
{
    assert_int_equal(parse("mcmd=spawn nprocs=2", NULL), RDMX_OK);
    assert_int_equal(msg.multi, 1);
    /* Unknown commands parse; the server decides what to do with them. */
    assert_int_equal(parse("cmd=frobnicate a=1", NULL), RDMX_OK);
    assert_string_equal(msg.cmd, "frobnicate");
    assert_int_equal(msg.multi, 0);
    assert_int_equal(rdmx_pmi_wire_parse(NULL, 0, &msg, NULL), RDMX_ERR_PROTO);
}

static void test_get_long(void **state)
{
    long v = 0;

    assert_int_equal(
        parse("cmd=x a=12 b=-3 c=1x d= e=99999999999999999999", NULL), RDMX_OK);
    assert_int_equal(rdmx_pmi_msg_get_long(&msg, "a", 0, 100, &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(rdmx_pmi_msg_get_long(&msg, "b", -5, 5, &v), 0);
    assert_int_equal(v, -3);
    assert_int_equal(rdmx_pmi_msg_get_long(&msg, "b", 0, 5, &v), -1);
    assert_int_equal(rdmx_pmi_msg_get_long(&msg, "c", 0, 5, &v), -1);
    assert_int_equal(rdmx_pmi_msg_get_long(&msg, "d", 0, 5, &v), -1);
    assert_int_equal(rdmx_pmi_msg_get_long(&msg, "e", 0, 5, &v), -1);
    assert_int_equal(rdmx_pmi_msg_get_long(&msg, "zz", 0, 5, &v), -1);
}

static void test_rest(void **state)
{
    const char *line = "cmd=abort exitcode=3 message=it broke: x=1";

    assert_string_equal(rdmx_pmi_wire_rest(line, "message"), "it broke: x=1");
    assert_null(rdmx_pmi_wire_rest(line, "msg"));
    assert_null(rdmx_pmi_wire_rest("cmd=abort xmessage=1", "message"));
}

static void test_token_ok(void **state)
{
    assert_true(rdmx_pmi_wire_token_ok("abc", 10, 1));
    assert_false(rdmx_pmi_wire_token_ok("", 10, 1));
    assert_true(rdmx_pmi_wire_token_ok("", 10, 0));
    assert_false(rdmx_pmi_wire_token_ok("a b", 10, 1));
    assert_false(rdmx_pmi_wire_token_ok("a=b", 10, 1));
    assert_false(rdmx_pmi_wire_token_ok("a\nb", 10, 1));
    assert_false(rdmx_pmi_wire_token_ok("0123456789", 10, 1));
    assert_true(rdmx_pmi_wire_token_ok("012345678", 10, 1));
    assert_false(rdmx_pmi_wire_token_ok(NULL, 10, 0));
}

static void feed(rdmx_pmi_linebuf_t *lb, const char *s, size_t n)
{
    char *p;
    size_t room;

    rdmx_pmi_linebuf_space(lb, &p, &room);
    assert_true(room >= n);
    memcpy(p, s, n);
    rdmx_pmi_linebuf_commit(lb, n);
}

static void test_linebuf_split(void **state)
{
    rdmx_pmi_linebuf_t lb;
    const char *line;
    size_t len;

    rdmx_pmi_linebuf_init(&lb);
    feed(&lb, "cmd=a\ncmd=b", 11);
    assert_int_equal(rdmx_pmi_linebuf_next(&lb, &line, &len), 1);
    assert_int_equal(len, 5);
    assert_memory_equal(line, "cmd=a", 5);
    assert_int_equal(rdmx_pmi_linebuf_next(&lb, &line, &len), 0);
    feed(&lb, " x=1\n", 5);
    assert_int_equal(rdmx_pmi_linebuf_next(&lb, &line, &len), 1);
    assert_int_equal(len, 9);
    assert_memory_equal(line, "cmd=b x=1", 9);
    assert_int_equal(rdmx_pmi_linebuf_next(&lb, &line, &len), 0);
}

static void test_linebuf_overlong_resyncs(void **state)
{
    rdmx_pmi_linebuf_t lb;
    char chunk[512];
    const char *line;
    size_t len;
    int overlong = 0, r;

    rdmx_pmi_linebuf_init(&lb);
    memset(chunk, 'z', sizeof(chunk));
    /* 3 * RDMX_PMI_LINE_MAX bytes without a newline, then a good line,
     * fed as a reader would: as much as fits each time. */
    for (size_t left = 3 * RDMX_PMI_LINE_MAX; left > 0;) {
        char *p;
        size_t room, n;
        rdmx_pmi_linebuf_space(&lb, &p, &room);
        n = room < left ? room : left;
        n = n < sizeof(chunk) ? n : sizeof(chunk);
        memcpy(p, chunk, n);
        rdmx_pmi_linebuf_commit(&lb, n);
        left -= n;
        while ((r = rdmx_pmi_linebuf_next(&lb, &line, &len)) != 0) {
            assert_int_equal(r, -1);
            overlong++;
        }
    }
    assert_int_equal(overlong, 1);
    feed(&lb, "zz\ncmd=ok\n", 10);
    assert_int_equal(rdmx_pmi_linebuf_next(&lb, &line, &len), 1);
    assert_int_equal(len, 6);
    assert_memory_equal(line, "cmd=ok", 6);
}

static rdmx_status_t parse2(const char *s, const char **why)
{
    return rdmx_pmi2_wire_parse(s, strlen(s), &msg, why);
}

static void test_pmi2_parse(void **state)
{
    const char *why = NULL;

    assert_int_equal(parse2("cmd=kvs-get-response;rc=0;found=TRUE;"
                            "value=a;;b;",
                            &why),
                     RDMX_OK);
    assert_string_equal(msg.cmd, "kvs-get-response");
    assert_string_equal(rdmx_pmi_msg_get(&msg, "found"), "TRUE");
    assert_string_equal(rdmx_pmi_msg_get(&msg, "value"), "a;b");
    assert_int_equal(parse2("cmd=x;empty=;", &why), RDMX_OK);
    assert_string_equal(rdmx_pmi_msg_get(&msg, "empty"), "");

    assert_int_equal(parse2("cmd=x;k=v", &why), RDMX_ERR_PROTO);
    assert_string_equal(why, "value not terminated by ';'");
    assert_int_equal(parse2("cmd=x;novalue;", &why), RDMX_ERR_PROTO);
    assert_string_equal(why, "key without '='");
    assert_int_equal(parse2("rc=0;cmd=x;", &why), RDMX_ERR_PROTO);
    assert_string_equal(why, "message does not start with cmd=");
    assert_int_equal(parse2("cmd=x;=v;", &why), RDMX_ERR_PROTO);
    assert_string_equal(why, "empty key");
    assert_int_equal(parse2("cmd=x;a=1;a=2;", &why), RDMX_ERR_PROTO);
    assert_int_equal(parse2("cmd=x;a=\n;", &why), RDMX_ERR_PROTO);
    assert_int_equal(rdmx_pmi2_wire_parse("cmd=x;\0=1;", 10, &msg, &why),
                     RDMX_ERR_PROTO);
    assert_int_equal(parse2("", &why), RDMX_ERR_PROTO);
}

static void test_pmi2_len(void **state)
{
    size_t len = 0;

    assert_int_equal(rdmx_pmi2_wire_len("42    ", 100, &len), 0);
    assert_int_equal(len, 42);
    assert_int_equal(rdmx_pmi2_wire_len("  42  ", 100, &len), 0);
    assert_int_equal(rdmx_pmi2_wire_len("123456", 1000000, &len), 0);
    assert_int_equal(len, 123456);
    assert_int_equal(rdmx_pmi2_wire_len("123456", 1000, &len), -1);
    assert_int_equal(rdmx_pmi2_wire_len("4 2   ", 100, &len), -1);
    assert_int_equal(rdmx_pmi2_wire_len("      ", 100, &len), -1);
    assert_int_equal(rdmx_pmi2_wire_len("0     ", 100, &len), -1);
    assert_int_equal(rdmx_pmi2_wire_len("-1    ", 100, &len), -1);
    assert_int_equal(rdmx_pmi2_wire_len("12ab  ", 100, &len), -1);
}

static void test_kvs(void **state)
{
    rdmx_kvs_t *kvs;
    char key[32], val[32];

    assert_int_equal(rdmx_kvs_create(&kvs, 1 << 20), RDMX_OK);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        snprintf(val, sizeof(val), "val%d", i * 7);
        assert_int_equal(rdmx_kvs_put(kvs, key, val), RDMX_OK);
    }
    assert_int_equal(rdmx_kvs_count(kvs), 1000);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        snprintf(val, sizeof(val), "val%d", i * 7);
        assert_string_equal(rdmx_kvs_get(kvs, key), val);
    }
    assert_int_equal(rdmx_kvs_put(kvs, "key5", "replaced"), RDMX_OK);
    assert_string_equal(rdmx_kvs_get(kvs, "key5"), "replaced");
    assert_int_equal(rdmx_kvs_count(kvs), 1000);
    assert_null(rdmx_kvs_get(kvs, "nope"));
    rdmx_kvs_destroy(kvs);

    /* the byte budget is enforced */
    assert_int_equal(rdmx_kvs_create(&kvs, 10), RDMX_OK);
    assert_int_equal(rdmx_kvs_put(kvs, "ab", "cdef"), RDMX_OK);
    assert_int_equal(rdmx_kvs_put(kvs, "gh", "ijklm"), RDMX_ERR_NOMEM);
    assert_null(rdmx_kvs_get(kvs, "gh"));
    rdmx_kvs_destroy(kvs);
}

static void test_singleton(void **state)
{
    rdmx_pmi_t *pmi;
    rdmx_pmi_info_t info;
    char val[16];

    unsetenv("PMI_FD");
    unsetenv("PMI_PORT");
    assert_int_equal(rdmx_pmi_init(&pmi, &info), RDMX_OK);
    assert_int_equal(info.rank, 0);
    assert_int_equal(info.size, 1);
    assert_string_equal(info.protocol, "singleton");
    assert_int_equal(rdmx_pmi_put(pmi, "k", "v1"), RDMX_OK);
    assert_int_equal(rdmx_pmi_fence(pmi), RDMX_OK);
    assert_int_equal(rdmx_pmi_get(pmi, 0, "k", val, sizeof(val)), RDMX_OK);
    assert_string_equal(val, "v1");
    assert_int_equal(rdmx_pmi_get(pmi, 0, "x", val, sizeof(val)),
                     RDMX_ERR_NOT_FOUND);
    assert_int_equal(rdmx_pmi_get(pmi, 0, "k", val, 2), RDMX_ERR_TRUNCATE);
    assert_int_equal(rdmx_pmi_put(pmi, "bad key", "v"), RDMX_ERR_INVALID);
    assert_int_equal(rdmx_pmi_put(pmi, "k", "a=b"), RDMX_ERR_INVALID);
    assert_int_equal(rdmx_pmi_finalize(pmi), RDMX_OK);
}

static void test_bad_pmi_fd(void **state)
{
    rdmx_pmi_t *pmi = NULL;
    rdmx_pmi_info_t info;

    setenv("PMI_FD", "notanumber", 1);
    assert_int_equal(rdmx_pmi_init(&pmi, &info), RDMX_ERR_INVALID);
    setenv("PMI_FD", "987", 1); /* not open */
    assert_int_equal(rdmx_pmi_init(&pmi, &info), RDMX_ERR_IO);
    unsetenv("PMI_FD");
    setenv("PMI_PORT", "nocolon", 1);
    setenv("PMI_RANK", "0", 1);
    assert_int_equal(rdmx_pmi_init(&pmi, &info), RDMX_ERR_INVALID);
    unsetenv("PMI_PORT");
    unsetenv("PMI_RANK");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_put),
        cmocka_unit_test(test_parse_spaces_and_cr),
        cmocka_unit_test(test_parse_empty_value_and_eq_in_value),
        cmocka_unit_test(test_parse_rejects_missing_eq),
        cmocka_unit_test(test_parse_rejects_empty_and_no_cmd),
        cmocka_unit_test(test_parse_rejects_nul_and_control),
        cmocka_unit_test(test_parse_rejects_bad_keys),
        cmocka_unit_test(test_parse_rejects_overlong_and_too_many),
        cmocka_unit_test(test_parse_mcmd_and_unknown),
        cmocka_unit_test(test_get_long),
        cmocka_unit_test(test_rest),
        cmocka_unit_test(test_token_ok),
        cmocka_unit_test(test_linebuf_split),
        cmocka_unit_test(test_linebuf_overlong_resyncs),
        cmocka_unit_test(test_pmi2_parse),
        cmocka_unit_test(test_pmi2_len),
        cmocka_unit_test(test_kvs),
        cmocka_unit_test(test_singleton),
        cmocka_unit_test(test_bad_pmi_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
