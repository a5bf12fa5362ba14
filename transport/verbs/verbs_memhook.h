/*
 * verbs_memhook.h — learning that memory leaves the address space, so that
 * the registration cache never hands out a registration whose pages are
 * gone (see verbs_regcache.h for why that matters).
 *
 * How. The entry of each libc function that can unmap or replace pages
 * (munmap, mremap, madvise, mmap, brk, shmdt) is overwritten with an
 * absolute jump to a replacement that reports the range and then makes
 * the system call itself. Patching the code, not the PLT, is what makes
 * glibc's own calls visible: free() of an mmapped chunk and heap trimming
 * call libc-internal aliases (__munmap, __brk, __madvise) that share the
 * patched code but never go through a symbol lookup. Open MPI's
 * memory/patcher and UCX's ucm "bistro" mode work the same way.
 *
 * Contract.
 * - rdmx_verbs_memhook_install() patches once per process (later calls
 *   return the first result). It refuses, leaving libc untouched, on
 *   anything it cannot prove safe: not x86-64, libc not found by dlopen
 *   (static executables), a function shorter than the 13-byte jump, or
 *   mprotect denied (W^X policies). `why` then says which; callers must
 *   then not keep registrations of idle memory.
 * - The patch stays for the life of the process; with no callback set the
 *   replacements only make the system call (what glibc's wrappers do).
 * - The callback runs in whatever thread unmaps, possibly inside malloc
 *   with its locks held and possibly inside the callback's own owner: it
 *   must not allocate, lock what the owner may hold, or call into verbs.
 *   It is called before the pages go away, with [start, end) page-aligned;
 *   end == UINTPTR_MAX means "unknown extent: forget everything" (shmdt).
 */
#ifndef RDMX_VERBS_MEMHOOK_H
#define RDMX_VERBS_MEMHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef void (*rdmx_verbs_memhook_cb_t)(void *arg, uintptr_t start,
                                        uintptr_t end);

rdmx_status_t rdmx_verbs_memhook_install(char *why, size_t why_len);
/* One callback per process (the verbs interface's cache); NULL clears. */
void rdmx_verbs_memhook_set(rdmx_verbs_memhook_cb_t cb, void *arg);

#endif
