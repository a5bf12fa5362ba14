/*
 * shm_segment_test.c — lifetime of the shm transport's segments and its
 * wake-up sockets, with several "ranks" simulated in one process: names
 * carry the (sanitised) job id, the last peer to attach removes the name
 * from /dev/shm, a corrupt segment is refused, and a wake-up datagram makes
 * the receiver's wait fd readable until drained.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "core/runtime.h"
#include "transport/shm/shm_internal.h"

#define NRANKS 3

typedef struct node {
    rdmx_runtime_t rt[NRANKS];
    int peers[NRANKS];
    rdmx_shm_transport_t tp[NRANKS];
} node_t;

static void node_init(node_t *n, uint32_t cells)
{
    memset(n, 0, sizeof(*n));
    for (int r = 0; r < NRANKS; r++)
        n->peers[r] = r;
    for (int r = 0; r < NRANKS; r++) {
        rdmx_runtime_t *rt = &n->rt[r];
        rdmx_shm_transport_t *tp = &n->tp[r];

        rt->rank = r;
        rt->size = NRANKS;
        rt->local_rank = r;
        rt->local_size = NRANKS;
        rt->local_peers = n->peers;
        snprintf(rt->hostname, sizeof(rt->hostname), "unit");
        snprintf(rt->job_id, sizeof(rt->job_id), "unit/test %d", (int)getpid());
        tp->base.rt = rt;
        tp->local_size = NRANKS;
        tp->local_rank = r;
        tp->ring_cells = cells;
        tp->wake_fd = -1;
        tp->cons = calloc(NRANKS, sizeof(*tp->cons));
        tp->eps = calloc(NRANKS, sizeof(*tp->eps));
        assert_non_null(tp->cons);
        assert_non_null(tp->eps);
        for (int p = 0; p < NRANKS; p++) {
            tp->eps[p].tp = tp;
            tp->eps[p].peer = p;
            tp->eps[p].local = p;
        }
    }
}

static void node_fini(node_t *n)
{
    for (int r = 0; r < NRANKS; r++) {
        rdmx_shm_wake_close(&n->tp[r]);
        rdmx_shm_segment_destroy(&n->tp[r]);
        free(n->tp[r].cons);
        free(n->tp[r].eps);
    }
}

static int name_exists(const char *shm_name)
{
    char path[256];
    struct stat sb;

    snprintf(path, sizeof(path), "/dev/shm%s", shm_name);
    return stat(path, &sb) == 0;
}

static void test_segment_name_sanitised(void **state)
{
    char buf[RDMX_SHM_NAME_MAX];

    assert_int_equal(rdmx_shm_segment_name("ab/../c d", 7, buf, sizeof(buf)),
                     RDMX_OK);
    assert_string_equal(buf, "/rdmx-ab_.._c_d-shm7");
    assert_int_equal(rdmx_shm_segment_name("job", 1, buf, 8), RDMX_ERR_INVALID);
}

static void test_last_attacher_unlinks(void **state)
{
    node_t n;
    char name0[RDMX_SHM_NAME_MAX];

    node_init(&n, 64);
    for (int r = 0; r < NRANKS; r++)
        assert_int_equal(rdmx_shm_segment_create(&n.tp[r]), RDMX_OK);
    strcpy(name0, n.tp[0].seg_name);
    assert_true(name_exists(name0));
    /* Rank 1 attaches to rank 0: one of two peers, the name stays. */
    assert_int_equal(rdmx_shm_segment_attach(&n.tp[1], &n.tp[1].eps[0]),
                     RDMX_OK);
    assert_true(name_exists(name0));
    assert_int_equal(n.tp[1].eps[0].pid, getpid());
    /* Rank 2 is the last peer: the name goes, the mapping stays usable. */
    assert_int_equal(rdmx_shm_segment_attach(&n.tp[2], &n.tp[2].eps[0]),
                     RDMX_OK);
    assert_false(name_exists(name0));

    /* A record from rank 2 reaches rank 0's ring for local rank 2. */
    {
        rdmx_shm_ring_producer_t *p = &n.tp[2].eps[0].prod;
        uint32_t kind;
        size_t len;
        char *dst = rdmx_shm_ring_reserve(p, 5);
        const char *got;

        assert_non_null(dst);
        memcpy(dst, "hello", 5);
        rdmx_shm_ring_commit(p, RDMX_SHM_KIND_MSG);
        assert_null(rdmx_shm_ring_peek(&n.tp[0].cons[1], &kind, &len));
        got = rdmx_shm_ring_peek(&n.tp[0].cons[2], &kind, &len);
        assert_non_null(got);
        assert_int_equal(len, 5);
        assert_memory_equal(got, "hello", 5);
    }
    /* Segments nobody attached to are removed by their owner's destroy. */
    assert_true(name_exists(n.tp[1].seg_name));
    node_fini(&n);
    for (int r = 0; r < NRANKS; r++)
        assert_false(name_exists(n.tp[r].seg_name));
}

static void test_corrupt_segment_refused(void **state)
{
    node_t n;

    node_init(&n, 64);
    assert_int_equal(rdmx_shm_segment_create(&n.tp[0]), RDMX_OK);
    n.tp[0].ctl->ring_stride = (uint64_t)1 << 40; /* points past the end */
    assert_int_equal(rdmx_shm_segment_attach(&n.tp[1], &n.tp[1].eps[0]),
                     RDMX_ERR_PROTO);
    assert_null(n.tp[1].eps[0].ctl);
    /* A missing segment is an I/O error naming the rank, not a crash. */
    assert_int_equal(rdmx_shm_segment_attach(&n.tp[0], &n.tp[0].eps[2]),
                     RDMX_ERR_IO);
    node_fini(&n);
}

/* A rank without memory for its ring's bookkeeping gets RDMX_ERR_NOMEM
 * (not "corrupt segment"), keeps no mapping, does not count as attached
 * (the name stays for the others), and can attach once memory is back. */
static void test_attach_without_memory(void **state)
{
    node_t n;

    node_init(&n, 64);
    assert_int_equal(rdmx_shm_segment_create(&n.tp[0]), RDMX_OK);
    alloc_fail_next_callocs(1);
    assert_int_equal(rdmx_shm_segment_attach(&n.tp[1], &n.tp[1].eps[0]),
                     RDMX_ERR_NOMEM);
    alloc_fail_next_callocs(0);
    assert_null(n.tp[1].eps[0].ctl);
    assert_null(n.tp[1].eps[0].prod.dirty);
    assert_int_equal(atomic_load(&n.tp[0].ctl->attached), 0);
    assert_true(name_exists(n.tp[0].seg_name));
    assert_int_equal(rdmx_shm_segment_attach(&n.tp[1], &n.tp[1].eps[0]),
                     RDMX_OK);
    assert_int_equal(rdmx_shm_segment_attach(&n.tp[2], &n.tp[2].eps[0]),
                     RDMX_OK);
    assert_false(name_exists(n.tp[0].seg_name));
    node_fini(&n);
}

static void test_wake_makes_fd_readable(void **state)
{
    node_t n;
    struct epoll_event ev = {.events = EPOLLIN};
    int ep;

    node_init(&n, 64);
    assert_int_equal(rdmx_shm_wake_open(&n.tp[0]), RDMX_OK);
    assert_int_equal(rdmx_shm_wake_open(&n.tp[1]), RDMX_OK);
    /* The name is taken: a second bind for rank 1 of this job fails. */
    assert_int_equal(rdmx_shm_wake_open(&n.tp[2]), RDMX_OK);
    n.tp[2].base.rt = &n.rt[1];
    assert_int_equal(rdmx_shm_wake_open(&n.tp[2]), RDMX_ERR_IO);
    n.tp[2].base.rt = &n.rt[2];

    ep = epoll_create1(0);
    assert_true(ep >= 0);
    assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, n.tp[1].wake_fd, &ev), 0);
    assert_int_equal(epoll_wait(ep, &ev, 1, 0), 0);

    rdmx_shm_wake_addr(n.rt[0].job_id, 1, &n.tp[0].eps[1].wake_addr,
                       &n.tp[0].eps[1].wake_len);
    rdmx_shm_wake_peer(&n.tp[0], &n.tp[0].eps[1]);
    rdmx_shm_wake_peer(&n.tp[0], &n.tp[0].eps[1]);
    assert_int_equal(epoll_wait(ep, &ev, 1, 1000), 1);
    rdmx_shm_wake_drain(&n.tp[1]);
    assert_int_equal(epoll_wait(ep, &ev, 1, 0), 0);
    close(ep);
    node_fini(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segment_name_sanitised),
        cmocka_unit_test(test_last_attacher_unlinks),
        cmocka_unit_test(test_corrupt_segment_refused),
        cmocka_unit_test(test_attach_without_memory),
        cmocka_unit_test(test_wake_makes_fd_readable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
