/*
 * alloc_fail.h — make calloc fail on demand, to test out-of-memory paths of
 * the library for real. The test binary is linked with -Wl,--wrap=calloc
 * (see CMakeLists.txt beside), so the library's calls go through here.
 */
#ifndef RDMX_TEST_ALLOC_FAIL_H
#define RDMX_TEST_ALLOC_FAIL_H

/* The next `n` calls to calloc return NULL with errno ENOMEM. */
void alloc_fail_next_callocs(int n);

/* Calls to calloc that failed on purpose since the start. */
int alloc_fail_count(void);

#endif
