/*
 * hostfile_test.c — hostfile and --host parsing, rank-to-host mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hostfile.h"

static char err[512];

static rdmx_status_t parse(rdmx_hostlist_t *hl, const char *text)
{
    memset(hl, 0, sizeof(*hl));
    err[0] = '\0';
    return rdmx_hostfile_parse(text, strlen(text), "hosts.txt", hl, err,
                               sizeof(err));
}

static void test_mpich_format(void **state)
{
    rdmx_hostlist_t hl;

    assert_int_equal(parse(&hl, "# cluster\n\nnode1\nnode2:4   # big\n"
                                "  node3:2\n"),
                     RDMX_OK);
    assert_int_equal(hl.n, 3);
    assert_string_equal(hl.hosts[0].name, "node1");
    assert_int_equal(hl.hosts[0].slots, 1);
    assert_int_equal(hl.hosts[1].slots, 4);
    assert_string_equal(hl.hosts[1].origin, "hosts.txt:4");
    assert_int_equal(hl.hosts[2].slots, 2);
    assert_int_equal(rdmx_hostlist_total_slots(&hl), 7);
    rdmx_hostlist_free(&hl);
}

static void test_openmpi_format(void **state)
{
    rdmx_hostlist_t hl;

    assert_int_equal(parse(&hl, "a slots=4 max_slots=8\r\nb slots=2\n"
                                "c max-slots=3\n"),
                     RDMX_OK);
    assert_int_equal(hl.n, 3);
    assert_int_equal(hl.hosts[0].slots, 4);
    assert_int_equal(hl.hosts[0].max_slots, 8);
    assert_int_equal(hl.hosts[1].slots, 2);
    assert_int_equal(hl.hosts[1].max_slots, 0);
    assert_int_equal(hl.hosts[2].slots, 1);
    assert_int_equal(hl.hosts[2].max_slots, 3);
    rdmx_hostlist_free(&hl);
}

static void test_repeats_add_slots(void **state)
{
    rdmx_hostlist_t hl;

    assert_int_equal(parse(&hl, "a\nb:2\na\na slots=3\n"), RDMX_OK);
    assert_int_equal(hl.n, 2);
    assert_int_equal(hl.hosts[0].slots, 5);
    assert_string_equal(hl.hosts[0].origin, "hosts.txt:1");
    rdmx_hostlist_free(&hl);
}

static void test_errors_name_file_and_line(void **state)
{
    rdmx_hostlist_t hl;

    assert_int_equal(parse(&hl, "a\nb slots=x\n"), RDMX_ERR_INVALID);
    assert_non_null(strstr(err, "hosts.txt:2"));
    assert_non_null(strstr(err, "slots=x"));
    rdmx_hostlist_free(&hl);
    assert_int_equal(parse(&hl, "a\n\nb:0\n"), RDMX_ERR_INVALID);
    assert_non_null(strstr(err, "hosts.txt:3"));
    rdmx_hostlist_free(&hl);
    assert_int_equal(parse(&hl, "a colour=blue\n"), RDMX_ERR_INVALID);
    assert_non_null(
        strstr(err, "hosts.txt:1: unknown keyword \"colour=blue\""));
    rdmx_hostlist_free(&hl);
    assert_int_equal(parse(&hl, "a slots=4 max_slots=2\n"), RDMX_ERR_INVALID);
    assert_non_null(strstr(err, "max_slots"));
    rdmx_hostlist_free(&hl);
    assert_int_equal(parse(&hl, "a:2 slots=2\n"), RDMX_ERR_INVALID);
    assert_non_null(strstr(err, "twice"));
    rdmx_hostlist_free(&hl);
    assert_int_equal(parse(&hl, "bad/host\n"), RDMX_ERR_INVALID);
    assert_non_null(strstr(err, "invalid character"));
    rdmx_hostlist_free(&hl);
    assert_int_equal(parse(&hl, "a:\n"), RDMX_ERR_INVALID);
    rdmx_hostlist_free(&hl);
    assert_int_equal(parse(&hl, "a:99999999999\n"), RDMX_ERR_INVALID);
    rdmx_hostlist_free(&hl);
    assert_int_equal(parse(&hl, "a max_slots=2\na max_slots=2\na\n"),
                     RDMX_ERR_INVALID);
    assert_non_null(strstr(err, "hosts.txt:3"));
    rdmx_hostlist_free(&hl);
    {
        const char nul[] = "a\0b\n";
        memset(&hl, 0, sizeof(hl));
        assert_int_equal(rdmx_hostfile_parse(nul, sizeof(nul) - 1, "f", &hl,
                                             err, sizeof(err)),
                         RDMX_ERR_INVALID);
    }
}

static void test_load_missing_and_empty(void **state)
{
    rdmx_hostlist_t hl = {0};
    char path[] = "/tmp/rdmx-hostfile-XXXXXX";
    int fd = mkstemp(path);

    assert_int_equal(
        rdmx_hostfile_load("/nonexistent/hosts", &hl, err, sizeof(err)),
        RDMX_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/hosts"));
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "# only a comment\n\n", 18), 18);
    close(fd);
    assert_int_equal(rdmx_hostfile_load(path, &hl, err, sizeof(err)),
                     RDMX_ERR_INVALID);
    assert_non_null(strstr(err, "no hosts"));
    unlink(path);
}

static void test_host_arg(void **state)
{
    rdmx_hostlist_t hl = {0};

    assert_int_equal(rdmx_hostlist_parse_arg("a:2,b:2", &hl, err, sizeof(err)),
                     RDMX_OK);
    assert_int_equal(hl.n, 2);
    assert_int_equal(hl.hosts[1].slots, 2);
    rdmx_hostlist_free(&hl);
    assert_int_equal(rdmx_hostlist_parse_arg("a,a,b", &hl, err, sizeof(err)),
                     RDMX_OK);
    assert_int_equal(hl.hosts[0].slots, 2);
    assert_int_equal(hl.hosts[1].slots, 1);
    rdmx_hostlist_free(&hl);
    assert_int_equal(rdmx_hostlist_parse_arg("a,", &hl, err, sizeof(err)),
                     RDMX_ERR_INVALID);
    rdmx_hostlist_free(&hl);
    assert_int_equal(rdmx_hostlist_parse_arg("a,,b", &hl, err, sizeof(err)),
                     RDMX_ERR_INVALID);
    assert_non_null(strstr(err, "--host a,,b"));
    rdmx_hostlist_free(&hl);
    assert_int_equal(rdmx_hostlist_parse_arg("", &hl, err, sizeof(err)),
                     RDMX_ERR_INVALID);
}

static void test_map(void **state)
{
    rdmx_hostlist_t hl = {0};
    int rh[16];

    assert_int_equal(
        rdmx_hostlist_parse_arg("a:2,b:3,c:1", &hl, err, sizeof(err)), RDMX_OK);
    /* by slot: a a b b b c */
    assert_int_equal(
        rdmx_hostlist_map(&hl, 6, RDMX_MAP_BY_SLOT, 0, rh, err, sizeof(err)),
        RDMX_OK);
    assert_memory_equal(rh, ((int[]){0, 0, 1, 1, 1, 2}), 6 * sizeof(int));
    /* by node: a b c a b b */
    assert_int_equal(
        rdmx_hostlist_map(&hl, 6, RDMX_MAP_BY_NODE, 0, rh, err, sizeof(err)),
        RDMX_OK);
    assert_memory_equal(rh, ((int[]){0, 1, 2, 0, 1, 1}), 6 * sizeof(int));
    /* too many ranks */
    assert_int_equal(
        rdmx_hostlist_map(&hl, 7, RDMX_MAP_BY_SLOT, 0, rh, err, sizeof(err)),
        RDMX_ERR_INVALID);
    assert_non_null(strstr(err, "7 ranks requested"));
    assert_non_null(strstr(err, "--oversubscribe"));
    /* oversubscribed: extra ranks dealt round robin */
    assert_int_equal(
        rdmx_hostlist_map(&hl, 9, RDMX_MAP_BY_SLOT, 1, rh, err, sizeof(err)),
        RDMX_OK);
    assert_memory_equal(rh, ((int[]){0, 0, 1, 1, 1, 2, 0, 1, 2}),
                        9 * sizeof(int));
    rdmx_hostlist_free(&hl);

    /* max_slots is a hard limit */
    memset(&hl, 0, sizeof(hl));
    assert_int_equal(parse(&hl, "a slots=1 max_slots=2\nb slots=1\n"), RDMX_OK);
    assert_int_equal(
        rdmx_hostlist_map(&hl, 5, RDMX_MAP_BY_SLOT, 1, rh, err, sizeof(err)),
        RDMX_OK);
    assert_memory_equal(rh, ((int[]){0, 1, 0, 1, 1}), 5 * sizeof(int));
    rdmx_hostlist_free(&hl);
    memset(&hl, 0, sizeof(hl));
    assert_int_equal(parse(&hl, "a slots=1 max_slots=1\n"), RDMX_OK);
    assert_int_equal(
        rdmx_hostlist_map(&hl, 2, RDMX_MAP_BY_SLOT, 1, rh, err, sizeof(err)),
        RDMX_ERR_INVALID);
    assert_non_null(strstr(err, "max_slots"));
    rdmx_hostlist_free(&hl);
}

static void test_slurm(void **state)
{
    rdmx_hostlist_t hl = {0};
    char err[512];
    static const char *bad[] = {"", "x", "2(x", "2(x0)", "0", "2;3"};

    (void)state;
    assert_int_equal(rdmx_hostlist_from_slurm("n1\nn2\nn3\nn4\n", "4(x2),2,1",
                                              &hl, err, sizeof(err)),
                     RDMX_OK);
    assert_int_equal(hl.n, 4);
    assert_string_equal(hl.hosts[0].name, "n1");
    assert_int_equal(hl.hosts[0].slots, 4);
    assert_int_equal(hl.hosts[1].slots, 4);
    assert_int_equal(hl.hosts[2].slots, 2);
    assert_string_equal(hl.hosts[3].name, "n4");
    assert_int_equal(hl.hosts[3].slots, 1);
    rdmx_hostlist_free(&hl);
    memset(&hl, 0, sizeof(hl));
    /* more nodes than counts, malformed counts, no nodes */
    assert_int_equal(
        rdmx_hostlist_from_slurm("n1\nn2\n", "3", &hl, err, sizeof(err)),
        RDMX_ERR_INVALID);
    assert_non_null(strstr(err, "more nodes"));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&hl, 0, sizeof(hl));
        assert_int_not_equal(
            rdmx_hostlist_from_slurm("n1\n", bad[i], &hl, err, sizeof(err)),
            RDMX_OK);
        rdmx_hostlist_free(&hl);
    }
    memset(&hl, 0, sizeof(hl));
    assert_int_equal(rdmx_hostlist_from_slurm("\n", "1", &hl, err, sizeof(err)),
                     RDMX_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mpich_format),
        cmocka_unit_test(test_openmpi_format),
        cmocka_unit_test(test_repeats_add_slots),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_load_missing_and_empty),
        cmocka_unit_test(test_host_arg),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_slurm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
