/* The memory hooks (transport/verbs/verbs_memhook.c) on this process's real
 * libc: every way memory leaves the address space is reported before it
 * goes, the replacements behave like libc's wrappers (results, errno,
 * sbrk's view of the break), and a registration cache fed by the hooks
 * never hits on memory that was freed and re-allocated — with counting
 * callbacks in place of ibv_reg_mr (the device path runs in the rxe
 * tests). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/verbs/verbs_memhook.h"
#include "transport/verbs/verbs_regcache.h"

/* What the hook saw: fixed storage, the callback must not allocate.
 * Volatile: GCC knows free() as a builtin that touches no program memory
 * and would otherwise move `nseen = 0` past it. */
static volatile struct {
    uintptr_t start, end;
} seen[4096];
static volatile int nseen;

static void record(void *arg, uintptr_t start, uintptr_t end)
{
    (void)arg;
    if (nseen < (int)(sizeof(seen) / sizeof(seen[0]))) {
        seen[nseen].start = start;
        seen[nseen].end = end;
    }
    nseen++;
}

/* Was [a, a+len) inside one reported range? */
static int reported(const void *a, size_t len)
{
    uintptr_t s = (uintptr_t)a, e = s + len;
    for (int i = 0; i < nseen && i < 4096; i++)
        if (seen[i].start <= s && e <= seen[i].end)
            return 1;
    return 0;
}

static int setup(void **state)
{
    (void)state;
    char why[160];
    if (rdmx_verbs_memhook_install(why, sizeof(why)) != RDMX_OK) {
        fprintf(stderr, "memhook install: %s\n", why);
        return -1;
    }
    nseen = 0;
    rdmx_verbs_memhook_set(record, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rdmx_verbs_memhook_set(NULL, NULL);
    return 0;
}

static void test_munmap_and_errors(void **state)
{
    (void)state;
    size_t len = 1 << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    p[0] = 1;
    nseen = 0;
    assert_int_equal(munmap(p + 4096, 8192), 0);
    assert_true(reported(p + 4096, 8192));
    assert_false(reported(p, 4096));
    assert_int_equal(munmap(p, len), 0);
    assert_true(reported(p, len));
    /* The replacement keeps libc's error convention. */
    errno = 0;
    assert_int_equal(munmap(p + 1, 4096), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_ptr_equal(
        mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1),
        MAP_FAILED);
    assert_int_equal(errno, EINVAL);
}

/* glibc's free() of an mmapped chunk calls its internal __munmap: the
 * reason for patching code rather than interposing symbols. */
static void test_free_of_large_malloc(void **state)
{
    (void)state;
    size_t len = 64u << 20;       /* above any dynamic mmap threshold */
    static char *volatile escape; /* no malloc/free pair elision */
    char *p = malloc(len);
    assert_non_null(p);
    escape = p;
    memset(p, 1, 4096);
    nseen = 0;
    free(escape);
    assert_true(reported(p, 4096));
}

static void test_mremap_madvise_mmap_fixed(void **state)
{
    (void)state;
    size_t len = 16 * 4096;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    nseen = 0;
    assert_int_equal(madvise(p, 4096, MADV_WILLNEED), 0);
    assert_int_equal(nseen, 0); /* pages stay: nothing to report */
    assert_int_equal(madvise(p, 4096, MADV_DONTNEED), 0);
    assert_true(reported(p, 4096));
    nseen = 0;
    char *q = mmap(p + 4096, 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    assert_ptr_equal(q, p + 4096);
    assert_true(reported(p + 4096, 4096));
    nseen = 0;
    char *r = mremap(p, len, 1024 * 4096, MREMAP_MAYMOVE);
    assert_ptr_not_equal(r, MAP_FAILED);
    assert_true(reported(p, len));
    /* realloc of an mmapped chunk goes through mremap. */
    char *m = malloc(32u << 20);
    assert_non_null(m);
    nseen = 0;
    char *m2 = realloc(m, 64u << 20);
    assert_non_null(m2);
    assert_true(reported(m, 4096));
    free(m2);
    munmap(r, 1024 * 4096);
}

/* Shrinking the heap is reported, and sbrk still sees the break. */
static void test_brk_shrink(void **state)
{
    (void)state;
    char *cur = sbrk(0);
    assert_ptr_not_equal(cur, (void *)-1);
    char *old = sbrk(1 << 20);
    assert_ptr_equal(old, cur);
    assert_ptr_equal(sbrk(0), cur + (1 << 20));
    nseen = 0;
    assert_ptr_equal(sbrk(-(1 << 20)), cur + (1 << 20));
    assert_ptr_equal(sbrk(0), cur);
    assert_true(reported(cur, 1 << 20));
}

static void test_shmdt(void **state)
{
    (void)state;
    int id = shmget(IPC_PRIVATE, 1 << 16, IPC_CREAT | 0600);
    if (id < 0)
        skip();
    void *p = shmat(id, NULL, 0);
    shmctl(id, IPC_RMID, NULL);
    assert_ptr_not_equal(p, (void *)-1);
    nseen = 0;
    assert_int_equal(shmdt(p), 0);
    assert_true(reported(p, 1 << 16));
}

/* ---- the cache, fed by the hook, on real malloc/free/realloc ---------- */

static int regs, deregs;

static rdmx_status_t count_reg(void *ctx, void *addr, size_t len, void **h)
{
    (void)ctx;
    (void)addr;
    (void)len;
    *h = (void *)(uintptr_t)++regs;
    return RDMX_OK;
}

static void count_dereg(void *ctx, void *h)
{
    (void)ctx;
    (void)h;
    deregs++;
}

static void feed(void *arg, uintptr_t start, uintptr_t end)
{
    rdmx_verbs_regcache_unmapped(arg, start, end);
}

static void test_cache_free_reuse(void **state)
{
    (void)state;
    static rdmx_verbs_regcache_t rc;
    rdmx_verbs_reg_t *r;
    regs = deregs = 0;
    rdmx_verbs_regcache_init(&rc, 4096, count_reg, count_dereg, NULL);
    rdmx_verbs_regcache_set_limits(&rc, 64, 0);
    rdmx_verbs_memhook_set(feed, &rc);

    mallopt(M_MMAP_THRESHOLD, 1 << 20); /* keep 8 MiB blocks mmapped */
    /* Reused while mapped: a hit. */
    size_t len = 8u << 20;
    char *p = malloc(len);
    assert_int_equal(rdmx_verbs_regcache_acquire(&rc, p, len, &r), RDMX_OK);
    rdmx_verbs_regcache_release(&rc, r);
    assert_int_equal(rdmx_verbs_regcache_acquire(&rc, p, len, &r), RDMX_OK);
    rdmx_verbs_regcache_release(&rc, r);
    assert_int_equal(regs, 1);
    assert_int_equal(rc.hits, 1);

    /* Freed (munmap inside free) and allocated again: registered anew,
     * whatever address the new block gets. */
    free(p);
    char *q = malloc(len);
    assert_int_equal(rdmx_verbs_regcache_acquire(&rc, q, len, &r), RDMX_OK);
    rdmx_verbs_regcache_release(&rc, r);
    assert_int_equal(regs, 2);
    assert_int_equal(deregs, 1);

    /* munmap + mmap MAP_FIXED at the same address. */
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_int_equal(rdmx_verbs_regcache_acquire(&rc, m, len, &r), RDMX_OK);
    rdmx_verbs_regcache_release(&rc, r);
    munmap(m, len);
    assert_ptr_equal(mmap(m, len, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                     m);
    int before = regs;
    assert_int_equal(rdmx_verbs_regcache_acquire(&rc, m, len, &r), RDMX_OK);
    rdmx_verbs_regcache_release(&rc, r);
    assert_int_equal(regs, before + 1);

    /* realloc that moves (mremap). */
    before = regs;
    volatile uintptr_t q_was = (uintptr_t)q; /* checked after realloc */
    char *q2 = realloc(q, 4 * len);
    assert_int_equal(rdmx_verbs_regcache_acquire(&rc, (void *)q_was, 4096, &r),
                     RDMX_OK);
    rdmx_verbs_regcache_release(&rc, r);
    assert_int_equal(regs, before + 1);
    free(q2);
    munmap(m, len);

    rdmx_verbs_memhook_set(NULL, NULL);
    rdmx_verbs_regcache_drain(&rc);
    assert_int_equal(rdmx_verbs_regcache_fini(&rc), 0);
    assert_int_equal(regs, deregs);
    assert_true(rc.invalidated >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_munmap_and_errors),
        cmocka_unit_test(test_free_of_large_malloc),
        cmocka_unit_test(test_mremap_madvise_mmap_fixed),
        cmocka_unit_test(test_brk_shrink),
        cmocka_unit_test(test_shmdt),
        cmocka_unit_test(test_cache_free_reuse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
