/*
 * placement_test.c — the placement planner on hwloc synthetic topologies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rdmx_build_config.h"

#include "placement.h"

#if RDMX_HAVE_HWLOC
static hwloc_topology_t synth(const char *desc)
{
    hwloc_topology_t t;

    assert_int_equal(hwloc_topology_init(&t), 0);
    assert_int_equal(hwloc_topology_set_synthetic(t, desc), 0);
    assert_int_equal(hwloc_topology_load(t), 0);
    return t;
}

static rdmx_place_t pl[256];
static char err[256];

/* 2 packages x 2 NUMA x 16 cores x 2 PUs = 64 cores, 128 PUs */
#define BIG "pack:2 numa:2 core:16 pu:2"

static void test_default_binds_to_core(void **state)
{
    hwloc_topology_t t = synth(BIG);
    int over = -1;

    assert_int_equal(rdmx_place_plan(t, 4, RDMX_BIND_DEFAULT, RDMX_PMAP_CORE,
                                     pl, &over, err, sizeof(err)),
                     RDMX_OK);
    assert_int_equal(over, 0);
    for (int i = 0; i < 4; i++) {
        char want[16];
        assert_true(pl[i].bound);
        assert_int_equal(pl[i].core, i);
        snprintf(want, sizeof(want), "%d-%d", 2 * i, 2 * i + 1);
        assert_string_equal(pl[i].cpuset, want);
    }
    assert_string_equal(pl[1].where, "core L#1 (package L#0, NUMA L#0)");
    hwloc_topology_destroy(t);
}

static void test_map_by_numa_spreads(void **state)
{
    hwloc_topology_t t = synth(BIG);
    int over;

    assert_int_equal(rdmx_place_plan(t, 8, RDMX_BIND_CORE, RDMX_PMAP_NUMA, pl,
                                     &over, err, sizeof(err)),
                     RDMX_OK);
    /* ranks 0..3 on NUMA 0..3 (first core of each), 4..7 second cores */
    int cores[8] = {0, 16, 32, 48, 1, 17, 33, 49};
    for (int i = 0; i < 8; i++)
        assert_int_equal(pl[i].core, cores[i]);
    assert_string_equal(pl[1].where, "core L#16 (package L#0, NUMA L#1)");
    assert_string_equal(pl[2].cpuset, "64-65");
    hwloc_topology_destroy(t);
}

static void test_map_by_socket_bind_numa(void **state)
{
    hwloc_topology_t t = synth(BIG);
    int over;

    assert_int_equal(rdmx_place_plan(t, 4, RDMX_BIND_NUMA, RDMX_PMAP_SOCKET, pl,
                                     &over, err, sizeof(err)),
                     RDMX_OK);
    assert_int_equal(pl[0].core, 0);
    assert_int_equal(pl[1].core, 32);
    assert_int_equal(pl[2].core, 1);
    assert_string_equal(pl[0].cpuset, "0-31");
    assert_string_equal(pl[1].cpuset, "64-95");
    assert_string_equal(pl[2].cpuset, "0-31");
    hwloc_topology_destroy(t);
}

static void test_bind_socket_and_l3(void **state)
{
    hwloc_topology_t t = synth("pack:2 l3:2 core:4 pu:1");
    int over;

    assert_int_equal(rdmx_place_plan(t, 3, RDMX_BIND_SOCKET, RDMX_PMAP_L3, pl,
                                     &over, err, sizeof(err)),
                     RDMX_OK);
    /* L3 domains: cores 0-3, 4-7, 8-11, 12-15 */
    assert_int_equal(pl[0].core, 0);
    assert_int_equal(pl[1].core, 4);
    assert_int_equal(pl[2].core, 8);
    assert_string_equal(pl[0].cpuset, "0-7");
    assert_string_equal(pl[2].cpuset, "8-15");
    assert_int_equal(rdmx_place_plan(t, 2, RDMX_BIND_L3, RDMX_PMAP_CORE, pl,
                                     &over, err, sizeof(err)),
                     RDMX_OK);
    assert_string_equal(pl[1].cpuset, "0-3");
    hwloc_topology_destroy(t);
}

static void test_oversubscribed_not_bound_by_default(void **state)
{
    hwloc_topology_t t = synth("pack:1 core:2 pu:2");
    int over;

    assert_int_equal(rdmx_place_plan(t, 5, RDMX_BIND_DEFAULT, RDMX_PMAP_CORE,
                                     pl, &over, err, sizeof(err)),
                     RDMX_OK);
    assert_int_equal(over, 1);
    for (int i = 0; i < 5; i++) {
        assert_false(pl[i].bound);
        assert_string_equal(pl[i].cpuset, "");
        assert_int_equal(pl[i].core, i % 2);
    }
    /* asked explicitly: bound, cores shared */
    assert_int_equal(rdmx_place_plan(t, 5, RDMX_BIND_CORE, RDMX_PMAP_CORE, pl,
                                     &over, err, sizeof(err)),
                     RDMX_OK);
    assert_true(pl[4].bound);
    assert_string_equal(pl[4].cpuset, "0-1");
    hwloc_topology_destroy(t);
}

static void test_missing_level_falls_back(void **state)
{
    hwloc_topology_t t = synth("pack:1 core:4 pu:1"); /* no L3 */
    int over;

    assert_int_equal(rdmx_place_plan(t, 2, RDMX_BIND_L3, RDMX_PMAP_L3, pl,
                                     &over, err, sizeof(err)),
                     RDMX_OK);
    assert_int_equal(pl[1].core, 1);
    assert_string_equal(pl[1].cpuset, "0-3"); /* the whole machine */
    assert_int_equal(rdmx_place_plan(t, 0, RDMX_BIND_CORE, RDMX_PMAP_CORE, pl,
                                     &over, err, sizeof(err)),
                     RDMX_ERR_INVALID);
    hwloc_topology_destroy(t);
}
#endif

static void test_parse(void **state)
{
    rdmx_bind_t b;
    rdmx_pmap_t m;
    int bynode;

    assert_int_equal(rdmx_place_parse_bind("core", &b), 0);
    assert_int_equal(b, RDMX_BIND_CORE);
    assert_int_equal(rdmx_place_parse_bind("l3cache", &b), 0);
    assert_int_equal(b, RDMX_BIND_L3);
    assert_int_equal(rdmx_place_parse_bind("none", &b), 0);
    assert_int_equal(rdmx_place_parse_bind("board", &b), -1);
    assert_int_equal(rdmx_place_parse_map("node", &m, &bynode), 0);
    assert_int_equal(bynode, 1);
    assert_int_equal(rdmx_place_parse_map("numa", &m, &bynode), 0);
    assert_int_equal(m, RDMX_PMAP_NUMA);
    assert_int_equal(bynode, 0);
    assert_int_equal(rdmx_place_parse_map("ppr:2:core", &m, &bynode), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
#if RDMX_HAVE_HWLOC
        cmocka_unit_test(test_default_binds_to_core),
        cmocka_unit_test(test_map_by_numa_spreads),
        cmocka_unit_test(test_map_by_socket_bind_numa),
        cmocka_unit_test(test_bind_socket_and_l3),
        cmocka_unit_test(test_oversubscribed_not_bound_by_default),
        cmocka_unit_test(test_missing_level_falls_back),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
