/* GID choice for RoCE from a table (transport/verbs/verbs_gid.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transport/verbs/verbs_gid.h"

static rdmx_verbs_gid_entry_t v4(int index, int type, uint8_t last)
{
    rdmx_verbs_gid_entry_t e = {.index = index, .type = type};
    e.raw[10] = 0xff;
    e.raw[11] = 0xff;
    e.raw[12] = 10;
    e.raw[15] = last;
    return e;
}

static rdmx_verbs_gid_entry_t v6(int index, int type, int link_local)
{
    rdmx_verbs_gid_entry_t e = {.index = index, .type = type};
    if (link_local) {
        e.raw[0] = 0xfe;
        e.raw[1] = 0x80;
    } else {
        e.raw[0] = 0x20;
        e.raw[1] = 0x01;
    }
    e.raw[15] = 7;
    return e;
}

/* The rxe layout: 0 link-local v2, 1 IPv4-mapped v2. */
static void test_rxe_table(void **state)
{
    rdmx_verbs_gid_entry_t t[] = {v6(0, RDMX_VERBS_GID_ROCE_V2, 1),
                                  v4(1, RDMX_VERBS_GID_ROCE_V2, 1)};
    assert_int_equal(rdmx_verbs_gid_choose(t, 2), 1);
}

/* The Mellanox layout: v1 and v2 pairs for each address. */
static void test_mlx_table(void **state)
{
    rdmx_verbs_gid_entry_t t[] = {
        v6(0, RDMX_VERBS_GID_ROCE_V1, 1), v6(1, RDMX_VERBS_GID_ROCE_V2, 1),
        v6(2, RDMX_VERBS_GID_ROCE_V1, 0), v6(3, RDMX_VERBS_GID_ROCE_V2, 0),
        v4(4, RDMX_VERBS_GID_ROCE_V1, 5), v4(5, RDMX_VERBS_GID_ROCE_V2, 5)};
    assert_int_equal(rdmx_verbs_gid_choose(t, 6), 5);
    /* Without the IPv4 address: the global IPv6 v2 entry. */
    assert_int_equal(rdmx_verbs_gid_choose(t, 4), 3);
    /* Only link-local: v1 beats v2 link-local (which cannot be routed). */
    assert_int_equal(rdmx_verbs_gid_choose(t, 2), 0);
}

static void test_unusable(void **state)
{
    rdmx_verbs_gid_entry_t zero = {.index = 0, .type = RDMX_VERBS_GID_ROCE_V2};
    rdmx_verbs_gid_entry_t unknown = v4(1, -1, 1);
    rdmx_verbs_gid_entry_t t[] = {zero, unknown};
    assert_int_equal(rdmx_verbs_gid_rank(&zero), -1);
    assert_int_equal(rdmx_verbs_gid_rank(&unknown), -1);
    assert_int_equal(rdmx_verbs_gid_choose(t, 2), -1);
    assert_int_equal(rdmx_verbs_gid_choose(t, 0), -1);
}

static void test_first_of_equal_rank(void **state)
{
    rdmx_verbs_gid_entry_t t[] = {v4(3, RDMX_VERBS_GID_ROCE_V2, 1),
                                  v4(4, RDMX_VERBS_GID_ROCE_V2, 2)};
    assert_int_equal(rdmx_verbs_gid_choose(t, 2), 0);
}

static void test_str(void **state)
{
    rdmx_verbs_gid_entry_t e = v4(1, RDMX_VERBS_GID_ROCE_V2, 1);
    char buf[64];
    rdmx_verbs_gid_str(e.raw, buf, sizeof(buf));
    assert_string_equal(buf, "::ffff:10.0.0.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rxe_table),
        cmocka_unit_test(test_mlx_table),
        cmocka_unit_test(test_unusable),
        cmocka_unit_test(test_first_of_equal_rank),
        cmocka_unit_test(test_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
