/*
 * mp_common.h — shared helpers for the multi-process MPI tests in tests/mp/.
 *
 * The programs use only the standard MPI C API so that the same source builds
 * against rdmx (through rdmx_add_mpi_program) and against Open MPI
 * (mpicc.openmpi, see run_openmpi.sh): a behaviour difference then points at
 * the library, not at the test.
 *
 * Contract of every program:
 * - a failed check prints one line "[rank R] FAIL <test>:<line>: <what was
 *   expected> <what was seen>" on stderr and counts a failure;
 * - the program keeps going after a failed check where that is safe, so one
 *   run reports as many defects as possible;
 * - the exit status of every rank is non-zero if that rank saw a failure
 *   (the launcher turns it into a non-zero job status);
 * - a watchdog (SIGALRM, MP_TEST_TIMEOUT seconds, default 240) ends a hung
 *   rank and names the phase it was stuck in, so a hang is reported as such
 *   and not only as a ctest timeout.
 *
 * Synchronisation between phases uses point-to-point messages on the
 * reserved tag MP_TAG_CTL (never a collective: these tests must not depend
 * on the collectives being correct). A phase that receives with both
 * MPI_ANY_SOURCE and MPI_ANY_TAG must make sure no control message can reach
 * the receiver while its wildcard receives are posted (the senders wait for
 * an explicit "done" from the receiver before the next mp_barrier).
 */
#ifndef RDMX_TESTS_MP_COMMON_H
#define RDMX_TESTS_MP_COMMON_H

#include <mpi.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MP_TAG_CTL 32000 /* below the MPI minimum TAG_UB of 32767 */

static int mp_rank = -1;
static int mp_size = -1;
static long mp_failures;
static const char *mp_test_name __attribute__((unused)) = "?";
static volatile const char *mp_phase __attribute__((unused)) = "startup";
static int mp_verbose;

/* Printed by the watchdog, so keep it async-signal-safe: write(2) only. */
static inline void mp_watchdog(int sig)
{
    char line[512];
    int n = snprintf(line, sizeof(line),
                     "[rank %d] FAIL %s: watchdog timeout: no progress, "
                     "stuck in phase '%s'\n",
                     mp_rank, mp_test_name, (const char *)mp_phase);
    if (n > 0)
        (void)!write(2, line, (size_t)n);
    (void)sig;
    _exit(3);
}

static inline void mp_fail(int line, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void mp_fail(int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mp_failures++;
    /* Cap the noise: the first failures say it all. */
    if (mp_failures <= 50)
        fprintf(stderr, "[rank %d] FAIL %s:%d [%s]: %s\n", mp_rank,
                mp_test_name, line, (const char *)mp_phase, msg);
    else if (mp_failures == 51)
        fprintf(stderr, "[rank %d] ... further failures not printed\n",
                mp_rank);
    fflush(stderr);
}

#define MP_CHECK(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond))                                                           \
            mp_fail(__LINE__, __VA_ARGS__);                                    \
    } while (0)

/* An MPI call that must succeed. Evaluates to 1 on success. */
#define MP_CALL(call) mp_call_check((call), #call, __LINE__)

static inline const char *mp_err_text(int rc)
{
    static char text[MPI_MAX_ERROR_STRING + 1];
    int len = 0;
    text[0] = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof(text), "(no error string)");
    return text;
}

static inline int mp_call_check(int rc, const char *what, int line)
{
    if (rc == MPI_SUCCESS)
        return 1;
    mp_fail(line, "%s returned %d (%s), expected MPI_SUCCESS", what, rc,
            mp_err_text(rc));
    return 0;
}

static inline void mp_set_phase(const char *phase)
{
    mp_phase = phase;
    if (mp_verbose) {
        fprintf(stderr, "[rank %d] phase %s\n", mp_rank, phase);
        fflush(stderr);
    }
}

/* Call right after MPI_Init; arms the watchdog. */
static inline void mp_init(const char *name)
{
    const char *t = getenv("MP_TEST_TIMEOUT");
    const char *v = getenv("MP_TEST_VERBOSE");
    mp_test_name = name;
    MPI_Comm_rank(MPI_COMM_WORLD, &mp_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mp_size);
    mp_verbose = v && *v && *v != '0';
    signal(SIGALRM, mp_watchdog);
    alarm(t && atoi(t) > 0 ? (unsigned)atoi(t) : 240u);
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* A barrier over point-to-point messages on MP_TAG_CTL: gather to rank 0,
 * then release. */
static inline void mp_barrier(void)
{
    const char *saved = (const char *)mp_phase;
    int token = 0, i;
    mp_phase = "mp_barrier";
    if (mp_rank == 0) {
        for (i = 1; i < mp_size; i++)
            MP_CALL(MPI_Recv(&token, 1, MPI_INT, i, MP_TAG_CTL, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE));
        for (i = 1; i < mp_size; i++)
            MP_CALL(
                MPI_Send(&token, 1, MPI_INT, i, MP_TAG_CTL, MPI_COMM_WORLD));
    } else {
        MP_CALL(MPI_Send(&token, 1, MPI_INT, 0, MP_TAG_CTL, MPI_COMM_WORLD));
        MP_CALL(MPI_Recv(&token, 1, MPI_INT, 0, MP_TAG_CTL, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE));
    }
    mp_phase = saved;
}

/* Sum of the failure counts of all ranks, known at rank 0 (p2p only). */
static inline long mp_total_failures(void)
{
    long total = mp_failures, f;
    int i;
    if (mp_rank == 0) {
        for (i = 1; i < mp_size; i++) {
            f = 0;
            MP_CALL(MPI_Recv(&f, 1, MPI_LONG, i, MP_TAG_CTL, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE));
            total += f;
        }
    } else {
        f = mp_failures;
        MP_CALL(MPI_Send(&f, 1, MPI_LONG, 0, MP_TAG_CTL, MPI_COMM_WORLD));
    }
    return total;
}

/* Report, finalize and return the exit status for main(). */
static inline int mp_finish(void)
{
    long total;
    mp_set_phase("finish");
    total = mp_total_failures();
    if (mp_rank == 0) {
        if (total == 0)
            printf("%s: PASS (%d ranks)\n", mp_test_name, mp_size);
        else
            printf("%s: FAILED: %ld failed checks over %d ranks\n",
                   mp_test_name, total, mp_size);
        fflush(stdout);
    }
    mp_set_phase("MPI_Finalize");
    MP_CALL(MPI_Finalize());
    alarm(0);
    return mp_failures ? 1 : 0;
}

/* ---- data patterns ------------------------------------------------------ */

/* A byte pattern unique to (src, dst, size, iter) and to the position, so a
 * message delivered to the wrong receive, a stale buffer, a shifted copy or
 * a mixed-up fragment is detected. */
static inline uint64_t mp_seed(int src, int dst, size_t size, int iter)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    s ^= (uint64_t)(src + 1) * 0xbf58476d1ce4e5b9ull;
    s ^= (uint64_t)(dst + 7) * 0x94d049bb133111ebull;
    s ^= (uint64_t)size * 0x2545f4914f6cdd1dull;
    s ^= (uint64_t)(iter + 3) * 0x9e3779b97f4a7c15ull;
    s ^= s >> 31;
    return s;
}

/* Byte i is byte (i % 8) of a mixed 64-bit word derived from (seed, i / 8):
 * no period a shifted or repeated fragment could hide in, and cheap enough
 * to fill and verify 64 MiB quickly, a word at a time. */
static inline uint64_t mp_pattern_word(uint64_t seed, size_t w)
{
    uint64_t x = seed + (uint64_t)w * 0x9e3779b97f4a7c15ull;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return x;
}

static inline uint8_t mp_pattern_byte(uint64_t seed, size_t i)
{
    return (uint8_t)(mp_pattern_word(seed, i >> 3) >> (8 * (i & 7)));
}

static inline void mp_fill(void *buf, size_t size, uint64_t seed)
{
    uint8_t *b = buf;
    size_t w, i, j;
    for (w = 0; w < size / 8; w++) {
        uint64_t v = mp_pattern_word(seed, w);
        for (j = 0; j < 8; j++)
            b[w * 8 + j] = (uint8_t)(v >> (8 * j));
    }
    for (i = size / 8 * 8; i < size; i++)
        b[i] = mp_pattern_byte(seed, i);
}

/* Returns the number of wrong bytes; describes the first one. */
static inline size_t mp_verify(const void *buf, size_t size, uint64_t seed,
                               size_t *first_bad, uint8_t *want, uint8_t *got)
{
    const uint8_t *b = buf;
    size_t w, i, j, bad = 0;
    for (w = 0; w <= size / 8; w++) {
        uint64_t v = mp_pattern_word(seed, w);
        uint8_t e[8];
        size_t n = size - w * 8 < 8 ? size - w * 8 : 8;
        for (j = 0; j < 8; j++)
            e[j] = (uint8_t)(v >> (8 * j));
        if (n == 0 || memcmp(b + w * 8, e, n) == 0)
            continue;
        for (j = 0; j < n; j++) {
            i = w * 8 + j;
            if (b[i] != e[j]) {
                if (!bad) {
                    *first_bad = i;
                    *want = e[j];
                    *got = b[i];
                }
                bad++;
            }
        }
    }
    return bad;
}

/* Checks contents and reports one failure line describing the damage. */
#define MP_CHECK_PATTERN(buf, size, seed, ...)                                 \
    do {                                                                       \
        size_t bad_at_ = 0, nbad_;                                             \
        uint8_t w_ = 0, g_ = 0;                                                \
        char ctx_[256];                                                        \
        nbad_ = mp_verify((buf), (size), (seed), &bad_at_, &w_, &g_);          \
        if (nbad_) {                                                           \
            snprintf(ctx_, sizeof(ctx_), __VA_ARGS__);                         \
            mp_fail(__LINE__,                                                  \
                    "%s: %zu of %zu bytes wrong, first at offset %zu: "        \
                    "expected 0x%02x, saw 0x%02x",                             \
                    ctx_, nbad_, (size_t)(size), bad_at_, w_, g_);             \
        }                                                                      \
    } while (0)

static inline void *mp_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "[rank %d] %s: out of memory allocating %zu bytes\n",
                mp_rank, mp_test_name, n);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return p;
}

/* Parses "64M", "4k", "123" (binary units). */
static inline size_t mp_parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    switch (*end) {
    case 'k':
    case 'K':
        v <<= 10;
        break;
    case 'm':
    case 'M':
        v <<= 20;
        break;
    case 'g':
    case 'G':
        v <<= 30;
        break;
    default:
        break;
    }
    return (size_t)v;
}

/* Round-robin tournament: the partner of `rank` in `round` (0 <= round <
 * mp_rounds(n)), or `rank` itself when it has a bye (odd n, or n == 1) —
 * the bye round is used for self-sends. Every unordered pair meets exactly
 * once. */
static inline int mp_rounds(int n)
{
    return n % 2 ? n : n - 1;
}

static inline int mp_partner(int rank, int round, int n)
{
    int m = n % 2 ? n + 1 : n; /* even number of slots, slot n is the bye */
    int p;
    if (n == 1)
        return rank;
    /* Circle method: slot m-1 is fixed and meets `round`; slot i meets
     * 2*round - i (mod m-1), a bijection because m-1 is odd. */
    if (rank == m - 1)
        p = round;
    else if (rank == round)
        p = m - 1;
    else
        p = ((2 * round - rank) % (m - 1) + (m - 1)) % (m - 1);
    if (p >= n)
        return rank;
    return p;
}

#endif
