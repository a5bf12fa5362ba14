/* Registration cache intervals (transport/verbs/verbs_regcache.c), with
 * counting register/deregister callbacks in place of ibv_reg_mr (the real
 * path runs in the rxe tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "transport/verbs/verbs_regcache.h"

#define PAGE 4096u

typedef struct fake {
    int regs, deregs, live, fail_next;
    uintptr_t last_start;
    size_t last_len;
} fake_t;

static rdmx_status_t fake_reg(void *ctx, void *addr, size_t len, void **handle)
{
    fake_t *f = ctx;
    if (f->fail_next) {
        f->fail_next = 0;
        return RDMX_ERR_NOMEM;
    }
    f->regs++;
    f->live++;
    f->last_start = (uintptr_t)addr;
    f->last_len = len;
    *handle = (void *)(uintptr_t)f->regs;
    return RDMX_OK;
}

static void fake_dereg(void *ctx, void *handle)
{
    fake_t *f = ctx;
    f->deregs++;
    f->live--;
}

typedef struct fixture {
    fake_t f;
    rdmx_verbs_regcache_t rc;
} fixture_t;

static int setup(void **state)
{
    fixture_t *x = calloc(1, sizeof(*x));
    rdmx_verbs_regcache_init(&x->rc, PAGE, fake_reg, fake_dereg, &x->f);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *x = *state;
    rdmx_verbs_regcache_fini(&x->rc);
    assert_int_equal(x->f.live, 0);
    free(x);
    return 0;
}

#define A(off) ((void *)(uintptr_t)(0x10000000u + (off)))

static void test_page_rounding(void **state)
{
    fixture_t *x = *state;
    rdmx_verbs_reg_t *r;
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(100), 5000, &r),
                     RDMX_OK);
    assert_int_equal(r->start, (uintptr_t)A(0));
    assert_int_equal(r->end, (uintptr_t)A(2 * PAGE));
    assert_int_equal(x->f.last_len, 2 * PAGE);
    rdmx_verbs_regcache_release(&x->rc, r);
}

/* Overlapping requests in flight share one registration; it goes when the
 * last one releases it. */
static void test_shared_while_in_use(void **state)
{
    fixture_t *x = *state;
    rdmx_verbs_reg_t *a, *b, *c;
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), 8 * PAGE, &a),
                     RDMX_OK);
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(PAGE), 100, &b),
                     RDMX_OK);
    assert_ptr_equal(a, b);
    assert_int_equal(
        rdmx_verbs_regcache_acquire(&x->rc, A(7 * PAGE + 5), PAGE - 5, &c),
        RDMX_OK);
    assert_ptr_equal(a, c);
    assert_int_equal(x->f.regs, 1);
    assert_int_equal(a->refcnt, 3);
    rdmx_verbs_regcache_release(&x->rc, b);
    rdmx_verbs_regcache_release(&x->rc, a);
    assert_int_equal(x->f.deregs, 0);
    rdmx_verbs_regcache_release(&x->rc, c);
    assert_int_equal(x->f.deregs, 1);
    assert_int_equal(x->rc.n, 0);
}

/* Not covered entirely: a new registration, even if it overlaps. */
static void test_partial_overlap_registers_anew(void **state)
{
    fixture_t *x = *state;
    rdmx_verbs_reg_t *a, *b;
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), 2 * PAGE, &a),
                     RDMX_OK);
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(PAGE), 2 * PAGE, &b),
                     RDMX_OK);
    assert_ptr_not_equal(a, b);
    assert_int_equal(x->f.regs, 2);
    assert_int_equal(x->rc.n, 2);
    /* Sorted by start. */
    assert_true(x->rc.v[0]->start <= x->rc.v[1]->start);
    rdmx_verbs_regcache_release(&x->rc, a);
    rdmx_verbs_regcache_release(&x->rc, b);
}

/* Free/reuse: after release nothing is cached, so memory freed and
 * reallocated at the same address is registered afresh (new pages). */
static void test_no_stale_after_release(void **state)
{
    fixture_t *x = *state;
    rdmx_verbs_reg_t *a;
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), PAGE, &a),
                     RDMX_OK);
    void *h1 = a->handle;
    rdmx_verbs_regcache_release(&x->rc, a);
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), PAGE, &a),
                     RDMX_OK);
    assert_ptr_not_equal(a->handle, h1);
    assert_int_equal(x->f.regs, 2);
    rdmx_verbs_regcache_release(&x->rc, a);
}

/* Invalidation hides an in-use entry from new lookups; it is deregistered
 * at its last release. */
static void test_invalidate(void **state)
{
    fixture_t *x = *state;
    rdmx_verbs_reg_t *a, *b, *far;
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), 4 * PAGE, &a),
                     RDMX_OK);
    assert_int_equal(
        rdmx_verbs_regcache_acquire(&x->rc, A(64 * PAGE), PAGE, &far), RDMX_OK);
    assert_int_equal(rdmx_verbs_regcache_invalidate(&x->rc, A(3 * PAGE), 1), 1);
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), PAGE, &b),
                     RDMX_OK);
    assert_ptr_not_equal(a, b);
    assert_int_equal(x->f.regs, 3);
    /* Adjacent but not overlapping ranges are untouched. */
    assert_int_equal(
        rdmx_verbs_regcache_invalidate(&x->rc, A(4 * PAGE), 60 * PAGE), 0);
    rdmx_verbs_regcache_release(&x->rc, a);
    assert_int_equal(x->f.deregs, 1);
    rdmx_verbs_regcache_release(&x->rc, b);
    rdmx_verbs_regcache_release(&x->rc, far);
    assert_int_equal(x->f.live, 0);
}

static void test_bad_input_and_failure(void **state)
{
    fixture_t *x = *state;
    rdmx_verbs_reg_t *r = NULL;
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), 0, &r),
                     RDMX_ERR_INVALID);
    assert_int_equal(rdmx_verbs_regcache_acquire(
                         &x->rc, (void *)(UINTPTR_MAX - 10), 100, &r),
                     RDMX_ERR_INVALID);
    x->f.fail_next = 1;
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), 10, &r),
                     RDMX_ERR_NOMEM);
    assert_int_equal(x->rc.n, 0);
}

/* Many random acquire/release sequences against a brute-force model. */
static void test_random_model(void **state)
{
    fixture_t *x = *state;
    enum { N = 64 };
    rdmx_verbs_reg_t *held[N] = {0};
    uintptr_t want_s[N], want_e[N];
    srand(42);
    for (int step = 0; step < 5000; step++) {
        int i = rand() % N;
        if (held[i]) {
            rdmx_verbs_regcache_release(&x->rc, held[i]);
            held[i] = NULL;
            continue;
        }
        size_t off = (size_t)(rand() % (32 * PAGE));
        size_t len = 1 + (size_t)(rand() % (8 * PAGE));
        assert_int_equal(
            rdmx_verbs_regcache_acquire(&x->rc, A(off), len, &held[i]),
            RDMX_OK);
        want_s[i] = (uintptr_t)A(off);
        want_e[i] = want_s[i] + len;
        assert_true(held[i]->start <= want_s[i]);
        assert_true(held[i]->end >= want_e[i]);
        assert_true(held[i]->refcnt >= 1);
        for (size_t k = 1; k < x->rc.n; k++)
            assert_true(x->rc.v[k - 1]->start <= x->rc.v[k]->start);
    }
    /* Live registrations = distinct entries held. */
    for (int i = 0; i < N; i++)
        if (held[i])
            rdmx_verbs_regcache_release(&x->rc, held[i]);
    assert_int_equal(x->f.live, 0);
    assert_int_equal(x->rc.n, 0);
    assert_true(x->rc.hits > 0);
}

/* ---- cache mode: idle registrations kept (memory hooks feeding it) ---- */

static int setup_cached(void **state)
{
    setup(state);
    fixture_t *x = *state;
    rdmx_verbs_regcache_set_limits(&x->rc, 4, 0);
    return 0;
}

/* Released, an entry stays registered and the next use hits it. */
static void test_cache_keeps_after_release(void **state)
{
    fixture_t *x = *state;
    rdmx_verbs_reg_t *a, *b;
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), 4 * PAGE, &a),
                     RDMX_OK);
    void *h = a->handle;
    rdmx_verbs_regcache_release(&x->rc, a);
    assert_int_equal(x->f.deregs, 0);
    assert_int_equal(x->rc.nidle, 1);
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(PAGE), PAGE, &b),
                     RDMX_OK);
    assert_ptr_equal(b->handle, h);
    assert_int_equal(x->rc.nidle, 0);
    assert_int_equal(x->f.regs, 1);
    assert_int_equal(x->rc.hits, 1);
    assert_int_equal(x->rc.misses, 1);
    rdmx_verbs_regcache_release(&x->rc, b);
}

/* More idle entries than max_entries: the least recently used goes. */
static void test_lru_eviction_by_count(void **state)
{
    fixture_t *x = *state;
    rdmx_verbs_reg_t *r[6];
    for (int i = 0; i < 6; i++) {
        assert_int_equal(rdmx_verbs_regcache_acquire(
                             &x->rc, A((size_t)i * 16 * PAGE), PAGE, &r[i]),
                         RDMX_OK);
    }
    for (int i = 0; i < 6; i++)
        rdmx_verbs_regcache_release(&x->rc, r[i]);
    assert_int_equal(x->rc.nidle, 4);
    assert_int_equal(x->f.deregs, 2);
    assert_int_equal(x->rc.evicted, 2);
    /* 0 and 1 were oldest: gone. 5 is still there. */
    rdmx_verbs_reg_t *q;
    assert_int_equal(
        rdmx_verbs_regcache_acquire(&x->rc, A(5 * 16 * PAGE), PAGE, &q),
        RDMX_OK);
    assert_int_equal(x->f.regs, 6);
    rdmx_verbs_regcache_release(&x->rc, q);
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), PAGE, &q),
                     RDMX_OK);
    assert_int_equal(x->f.regs, 7);
    rdmx_verbs_regcache_release(&x->rc, q);
    /* Now 0 5 4 3 (2 went). Using 3 makes it most recent: the next
     * eviction takes 4, not 3. */
    assert_int_equal(x->f.regs, 7);
    assert_int_equal(
        rdmx_verbs_regcache_acquire(&x->rc, A(3 * 16 * PAGE), PAGE, &q),
        RDMX_OK);
    rdmx_verbs_regcache_release(&x->rc, q);
    assert_int_equal(
        rdmx_verbs_regcache_acquire(&x->rc, A(9 * 16 * PAGE), PAGE, &q),
        RDMX_OK);
    rdmx_verbs_regcache_release(&x->rc, q);
    assert_int_equal(x->f.last_start, (uintptr_t)A(9 * 16 * PAGE));
    int regs = x->f.regs;
    assert_int_equal(
        rdmx_verbs_regcache_acquire(&x->rc, A(3 * 16 * PAGE), PAGE, &q),
        RDMX_OK);
    assert_int_equal(x->f.regs, regs); /* hit */
    rdmx_verbs_regcache_release(&x->rc, q);
    assert_int_equal(
        rdmx_verbs_regcache_acquire(&x->rc, A(4 * 16 * PAGE), PAGE, &q),
        RDMX_OK);
    assert_int_equal(x->f.regs, regs + 1); /* evicted: registered anew */
    rdmx_verbs_regcache_release(&x->rc, q);
}

/* The byte bound evicts idle entries, never ones in use. */
static void test_byte_bound(void **state)
{
    fixture_t *x = *state;
    rdmx_verbs_regcache_set_limits(&x->rc, 100, 3 * PAGE);
    rdmx_verbs_reg_t *a, *b, *c;
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), 2 * PAGE, &a),
                     RDMX_OK);
    assert_int_equal(
        rdmx_verbs_regcache_acquire(&x->rc, A(16 * PAGE), 2 * PAGE, &b),
        RDMX_OK);
    assert_int_equal(x->rc.bytes, 4 * PAGE);
    rdmx_verbs_regcache_release(&x->rc, a); /* 4 pages > 3, a is idle */
    assert_int_equal(x->f.deregs, 1);
    assert_int_equal(x->rc.bytes, 2 * PAGE);
    assert_int_equal(
        rdmx_verbs_regcache_acquire(&x->rc, A(32 * PAGE), PAGE, &c), RDMX_OK);
    rdmx_verbs_regcache_release(&x->rc, c); /* 3 pages: kept */
    assert_int_equal(x->f.deregs, 1);
    rdmx_verbs_regcache_release(&x->rc, b); /* 3 pages, b kept too */
    assert_int_equal(x->rc.nidle, 2);
}

/* An unmap reported by the hook is applied before the next lookup: memory
 * freed and re-mapped at the same address is registered anew. */
static void test_unmapped_deferred(void **state)
{
    fixture_t *x = *state;
    rdmx_verbs_reg_t *a, *b;
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), 4 * PAGE, &a),
                     RDMX_OK);
    void *h = a->handle;
    rdmx_verbs_regcache_release(&x->rc, a);
    rdmx_verbs_regcache_unmapped(&x->rc, (uintptr_t)A(3 * PAGE),
                                 (uintptr_t)A(4 * PAGE));
    assert_int_equal(x->f.deregs, 0); /* deferred: the hook only queues */
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), PAGE, &b),
                     RDMX_OK);
    assert_ptr_not_equal(b->handle, h);
    assert_int_equal(x->f.deregs, 1);
    assert_int_equal(x->rc.invalidated, 1);
    rdmx_verbs_regcache_release(&x->rc, b);
    /* Unrelated ranges leave kept entries alone; drain applies them. */
    rdmx_verbs_regcache_unmapped(&x->rc, (uintptr_t)A(PAGE),
                                 (uintptr_t)A(2 * PAGE));
    rdmx_verbs_regcache_drain(&x->rc);
    assert_int_equal(x->rc.nidle, 1);
    assert_int_equal(x->f.deregs, 1);
}

/* Unmapped while in use (an application error): hidden at once, kept
 * registered until the last user releases it. */
static void test_unmapped_in_use(void **state)
{
    fixture_t *x = *state;
    rdmx_verbs_reg_t *a, *b;
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), PAGE, &a),
                     RDMX_OK);
    rdmx_verbs_regcache_unmapped(&x->rc, (uintptr_t)A(0), (uintptr_t)A(PAGE));
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), PAGE, &b),
                     RDMX_OK);
    assert_ptr_not_equal(a, b);
    assert_int_equal(x->f.deregs, 0);
    rdmx_verbs_regcache_release(&x->rc, a);
    assert_int_equal(x->f.deregs, 1);
    rdmx_verbs_regcache_release(&x->rc, b);
    assert_int_equal(x->rc.nidle, 1);
}

/* More unmaps than the queue holds: everything is forgotten (correct, if
 * pessimistic). */
static void test_queue_overflow(void **state)
{
    fixture_t *x = *state;
    rdmx_verbs_reg_t *a;
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), PAGE, &a),
                     RDMX_OK);
    rdmx_verbs_regcache_release(&x->rc, a);
    for (int i = 0; i < RDMX_VERBS_REGCACHE_QUEUE + 5; i++)
        rdmx_verbs_regcache_unmapped(&x->rc, (uintptr_t)A(1000 * PAGE),
                                     (uintptr_t)A(1001 * PAGE));
    rdmx_verbs_regcache_drain(&x->rc);
    assert_int_equal(x->rc.nidle, 0);
    assert_int_equal(x->f.deregs, 1);
    assert_int_equal(atomic_load(&x->rc.qpending), 0);
}

/* Registration refused for lack of pinnable memory: idle entries are given
 * back and the registration retried. */
static void test_nomem_drops_idle(void **state)
{
    fixture_t *x = *state;
    rdmx_verbs_reg_t *a;
    assert_int_equal(rdmx_verbs_regcache_acquire(&x->rc, A(0), PAGE, &a),
                     RDMX_OK);
    rdmx_verbs_regcache_release(&x->rc, a);
    x->f.fail_next = 1;
    assert_int_equal(
        rdmx_verbs_regcache_acquire(&x->rc, A(64 * PAGE), PAGE, &a), RDMX_OK);
    assert_int_equal(x->f.deregs, 1);
    assert_int_equal(x->rc.n, 1);
    rdmx_verbs_regcache_release(&x->rc, a);
}

/* Random acquire/release/unmap against a model: never a hit on a range
 * that was unmapped after the entry was registered. */
static void test_random_cached_model(void **state)
{
    fixture_t *x = *state;
    enum { N = 32, PAGES = 64 };
    rdmx_verbs_regcache_set_limits(&x->rc, 8, 0);
    rdmx_verbs_reg_t *held[N] = {0};
    /* Per page, a generation bumped on each unmap; per handle, the
     * generations of its pages when registered. */
    unsigned gen[PAGES] = {0};
    static unsigned reg_gen[20000][PAGES];
    srand(7);
    for (int step = 0; step < 20000; step++) {
        int op = rand() % 8, i = rand() % N;
        if (op == 0) {
            size_t p0 = (size_t)(rand() % PAGES);
            size_t np = 1 + (size_t)(rand() % 4);
            if (p0 + np > PAGES)
                np = PAGES - p0;
            for (size_t p = p0; p < p0 + np; p++)
                gen[p]++;
            rdmx_verbs_regcache_unmapped(&x->rc, (uintptr_t)A(p0 * PAGE),
                                         (uintptr_t)A((p0 + np) * PAGE));
            continue;
        }
        if (held[i]) {
            rdmx_verbs_regcache_release(&x->rc, held[i]);
            held[i] = NULL;
            continue;
        }
        size_t off = (size_t)(rand() % ((PAGES - 8) * PAGE));
        size_t len = 1 + (size_t)(rand() % (4 * PAGE));
        int regs = x->f.regs;
        assert_int_equal(
            rdmx_verbs_regcache_acquire(&x->rc, A(off), len, &held[i]),
            RDMX_OK);
        uintptr_t h = (uintptr_t)held[i]->handle;
        size_t p0 = (held[i]->start - (uintptr_t)A(0)) / PAGE;
        size_t p1 = (held[i]->end - (uintptr_t)A(0)) / PAGE;
        if (x->f.regs != regs) { /* new: remember its pages' generations */
            assert_true(h < 20000);
            for (size_t p = p0; p < p1; p++)
                reg_gen[h][p] = gen[p];
        } else { /* hit: none of its pages may have been unmapped since */
            for (size_t p = p0; p < p1; p++)
                assert_int_equal(reg_gen[h][p], gen[p]);
        }
        assert_true(x->rc.nidle <= 8);
    }
    for (int i = 0; i < N; i++)
        if (held[i])
            rdmx_verbs_regcache_release(&x->rc, held[i]);
    assert_true(x->rc.hits > 0);
    assert_true(x->rc.invalidated > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_page_rounding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_while_in_use, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_partial_overlap_registers_anew,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_stale_after_release, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_invalidate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_and_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_random_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_keeps_after_release,
                                        setup_cached, teardown),
        cmocka_unit_test_setup_teardown(test_lru_eviction_by_count,
                                        setup_cached, teardown),
        cmocka_unit_test_setup_teardown(test_byte_bound, setup_cached,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unmapped_deferred, setup_cached,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unmapped_in_use, setup_cached,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queue_overflow, setup_cached,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nomem_drops_idle, setup_cached,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_random_cached_model, setup_cached,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
