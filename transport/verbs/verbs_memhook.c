/*
 * verbs_memhook.c — patches libc's unmapping functions to report ranges
 * before they go away (contract and rationale in verbs_memhook.h).
 *
 * The patch at each function's entry (13 bytes, x86-64):
 *
 *   49 bb <imm64>     movabs $replacement, %r11
 *   41 ff e3          jmp    *%r11
 *
 * %r11 is caller-clobbered and unused for arguments in the SysV ABI, so
 * the replacement starts with the caller's arguments and return address
 * exactly as the original would have. The original's bytes are not
 * relocated and never run again: each replacement re-implements the
 * wrapper (glibc's are thin system-call wrappers; brk also maintains
 * __curbrk, which sbrk reads).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "verbs_memhook.h"

static _Atomic(rdmx_verbs_memhook_cb_t) hook_cb;
static _Atomic(void *) hook_arg;
static atomic_int hook_busy; /* replacements inside the callback now */

void rdmx_verbs_memhook_set(rdmx_verbs_memhook_cb_t cb, void *arg)
{
    if (cb) {
        atomic_store(&hook_arg, arg);
        atomic_store(&hook_cb, cb);
        return;
    }
    atomic_store(&hook_cb, NULL);
    /* A thread that loaded the old callback may still be in it: wait, so
     * that the owner can free what `arg` points to once we return. */
    while (atomic_load(&hook_busy) > 0)
        sched_yield();
    atomic_store(&hook_arg, NULL);
}

static void report(uintptr_t start, uintptr_t end)
{
    if (!atomic_load_explicit(&hook_cb, memory_order_relaxed))
        return;
    atomic_fetch_add(&hook_busy, 1);
    rdmx_verbs_memhook_cb_t cb = atomic_load(&hook_cb);
    if (cb && end > start)
        cb(atomic_load(&hook_arg), start, end);
    atomic_fetch_sub(&hook_busy, 1);
}

static uintptr_t page_mask(void)
{
    static uintptr_t mask;
    if (!mask) {
        long p = sysconf(_SC_PAGESIZE);
        mask = (uintptr_t)(p > 0 ? p : 4096) - 1;
    }
    return mask;
}

static void report_range(const void *addr, size_t len)
{
    uintptr_t a = (uintptr_t)addr, m = page_mask();
    uintptr_t e = a + len;
    if (len == 0)
        return;
    if (e < a)
        e = UINTPTR_MAX;
    else
        e = (e + m) & ~m;
    report(a & ~m, e < a ? UINTPTR_MAX : e);
}

/* ---- replacements ------------------------------------------------------- */

static int hook_munmap(void *addr, size_t len)
{
    report_range(addr, len);
    return (int)syscall(SYS_munmap, addr, len);
}

static void *hook_mremap(void *old, size_t old_len, size_t new_len, int flags,
                         ...)
{
    void *new_addr = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void *);
        va_end(ap);
        /* Whatever was mapped at the destination is replaced. */
        report_range(new_addr, new_len);
    }
    /* Moved or shrunk, the old pages may leave; growing in place keeps
     * them, but telling the cache costs one re-registration at most. */
    report_range(old, old_len);
    return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
}

static int hook_madvise(void *addr, size_t len, int advice)
{
    /* These drop the pages behind the range (the next touch maps new
     * ones); others (DONTFORK, which ibv_reg_mr itself uses, WILLNEED...)
     * leave them in place. */
    if (advice == MADV_DONTNEED || advice == MADV_REMOVE
#ifdef MADV_FREE
        || advice == MADV_FREE
#endif
    )
        report_range(addr, len);
    return (int)syscall(SYS_madvise, addr, len, advice);
}

static void *hook_mmap(void *addr, size_t len, int prot, int flags, int fd,
                       off_t off)
{
    /* MAP_FIXED over a live mapping replaces its pages silently. */
    if ((flags & MAP_FIXED) && addr)
        report_range(addr, len);
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static int hook_shmdt(const void *addr)
{
    /* The segment's size is not known here (and looking it up would need
     * a lock or a file read): forget everything; shmdt is rare. */
    report((uintptr_t)addr, UINTPTR_MAX);
    return (int)syscall(SYS_shmdt, addr);
}

static void **curbrk; /* glibc's __curbrk, which sbrk() reads */

static int hook_brk(void *addr)
{
    uintptr_t cur = (uintptr_t)*curbrk;
    if (cur && (uintptr_t)addr < cur)
        report_range(addr, cur - (uintptr_t)addr);
    void *nb = (void *)syscall(SYS_brk, addr);
    *curbrk = nb;
    if ((uintptr_t)nb < (uintptr_t)addr) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

/* ---- patching ----------------------------------------------------------- */

#define PATCH_LEN 13

typedef struct patch_site {
    const char *name;
    void *replacement;
    void *target;
} patch_site_t;

static rdmx_status_t patch_one(patch_site_t *s, char *why, size_t why_len)
{
    uint8_t code[PATCH_LEN] = {0x49, 0xbb, 0, 0,    0,    0,   0,
                               0,    0,    0, 0x41, 0xff, 0xe3};
    uint64_t to = (uint64_t)(uintptr_t)s->replacement;
    memcpy(&code[2], &to, sizeof(to));
    uintptr_t m = page_mask();
    uintptr_t pg = (uintptr_t)s->target & ~m;
    size_t len = (((uintptr_t)s->target + PATCH_LEN + m) & ~m) - pg;
    if (mprotect((void *)pg, len, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
        snprintf(why, why_len, "mprotect of libc's %s for patching: %s",
                 s->name, strerror(errno));
        return RDMX_ERR_UNSUPPORTED;
    }
    memcpy(s->target, code, PATCH_LEN);
    __builtin___clear_cache((char *)s->target, (char *)s->target + PATCH_LEN);
    if (mprotect((void *)pg, len, PROT_READ | PROT_EXEC) != 0)
        RDMX_WARN("verbs: restoring protection of libc's %s: %s", s->name,
                  strerror(errno));
    return RDMX_OK;
}

static rdmx_status_t install(char *why, size_t why_len)
{
#if defined(__x86_64__) && defined(__linux__)
    patch_site_t sites[] = {
        {"munmap", (void *)hook_munmap, NULL},
        {"mremap", (void *)hook_mremap, NULL},
        {"madvise", (void *)hook_madvise, NULL},
        {"mmap", (void *)hook_mmap, NULL},
        {"shmdt", (void *)hook_shmdt, NULL},
        {"brk", (void *)hook_brk, NULL},
    };
    const size_t n = sizeof(sites) / sizeof(sites[0]);
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (!libc) {
        snprintf(why, why_len, "libc.so.6 is not loaded dynamically");
        return RDMX_ERR_UNSUPPORTED;
    }
    curbrk = dlsym(libc, "__curbrk");
    if (!curbrk) {
        snprintf(why, why_len, "libc has no __curbrk");
        dlclose(libc);
        return RDMX_ERR_UNSUPPORTED;
    }
    /* Check every site before touching any, so that a refusal leaves libc
     * as it was. */
    for (size_t i = 0; i < n; i++) {
        void *fn = dlsym(libc, sites[i].name);
        Dl_info info;
        const ElfW(Sym) *sym = NULL;
        if (!fn || !dladdr1(fn, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym) {
            snprintf(why, why_len, "libc's %s not found", sites[i].name);
            dlclose(libc);
            return RDMX_ERR_UNSUPPORTED;
        }
        if (sym->st_size < PATCH_LEN) {
            snprintf(why, why_len, "libc's %s is %zu bytes, too short to patch",
                     sites[i].name, (size_t)sym->st_size);
            dlclose(libc);
            return RDMX_ERR_UNSUPPORTED;
        }
        sites[i].target = fn;
    }
    dlclose(libc); /* RTLD_NOLOAD took a reference; libc stays */
    for (size_t i = 0; i < n; i++) {
        rdmx_status_t st = patch_one(&sites[i], why, why_len);
        if (st != RDMX_OK)
            return st; /* patched ones behave like the originals */
    }
    return RDMX_OK;
#else
    snprintf(why, why_len, "memory hooks exist only for x86-64 Linux");
    return RDMX_ERR_UNSUPPORTED;
#endif
}

rdmx_status_t rdmx_verbs_memhook_install(char *why, size_t why_len)
{
    static int done;
    static rdmx_status_t result;
    static char first_why[160];
    if (!done) {
        first_why[0] = 0;
        result = install(first_why, sizeof(first_why));
        done = 1;
    }
    snprintf(why, why_len, "%s", first_why);
    return result;
}
