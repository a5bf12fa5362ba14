/*
 * alloc_fail.c — calloc that fails on demand (see alloc_fail.h).
 */
#include <errno.h>
#include <stddef.h>

#include "alloc_fail.h"

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);

static int fail_next;
static int failed;

void alloc_fail_next_callocs(int n)
{
    fail_next = n;
}

int alloc_fail_count(void)
{
    return failed;
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (fail_next > 0) {
        fail_next--;
        failed++;
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(n, size);
}
