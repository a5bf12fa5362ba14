/*
 * regcache_reuse — the registration cache stays correct when memory is
 * freed and re-allocated at the same address with different contents.
 *
 * Usage: mpirun -n 2 regcache_reuse [--rounds N]
 *
 * Ranks 0 and 1 exchange rendezvous-sized messages in both directions (so
 * both the sender's registration, read by the peer's RDMA READ, and the
 * receiver's, written into, are exercised). For each way of obtaining
 * memory, every round:
 *   1. fills the buffer in place with new contents and sends it twice (the
 *      second send must hit the cache: same pages, new bytes);
 *   2. releases the buffer and obtains a new one of the same size (at the
 *      same address whenever the allocator allows it; counted), fills it
 *      with contents unique to the round and sends it.
 * The receiver also releases and re-obtains its receive buffer each round,
 * pre-filled with garbage, and checks every byte received. A stale
 * registration shows as old contents (sender side) or as untouched
 * garbage (receiver side).
 *
 * Kinds:
 *   malloc-mmap  1 MiB malloc/free with the mmap threshold fixed at 128 KiB
 *                (glibc free() unmaps it with its internal munmap);
 *   malloc-heap  512 KiB malloc/free from the brk heap (threshold 32 MiB):
 *                free() trims the heap with brk when it is on top, and
 *                re-allocation at the same address gets fresh pages;
 *   small-heap   48 KiB heap chunks: freed but never unmapped (the cached
 *                registration stays valid and must show the new bytes);
 *   mmap-fixed   512 KiB munmap, then mmap MAP_FIXED at the same address;
 *   realloc      1 MiB -> 3 MiB -> 768 KiB realloc (mremap, may move);
 *   MPI_Alloc_mem 1 MiB MPI_Alloc_mem/MPI_Free_mem.
 * Rank 0 prints how many re-allocations landed at the same address; the
 * cache's hit counter is checked by the ctest driver from the RDMX_LOG=debug
 * line at finalize (see CMakeLists.txt).
 */
#include <malloc.h>
#include <sys/mman.h>

#include "../mp/mp_common.h"

enum kind {
    K_MALLOC_MMAP,
    K_MALLOC_HEAP,
    K_SMALL_HEAP,
    K_MMAP_FIXED,
    K_REALLOC,
    K_ALLOC_MEM,
    K_COUNT
};
static const char *kind_name[K_COUNT] = {"malloc-mmap", "malloc-heap",
                                         "small-heap",  "mmap-fixed",
                                         "realloc",     "MPI_Alloc_mem"};
/* Small enough for User-Mode Linux, where every fresh page is a slow
 * fault; all above the eager limit (rendezvous, registered). */
static const size_t kind_size[K_COUNT] = {1u << 20,   512u << 10, 48u << 10,
                                          512u << 10, 1u << 20,   1u << 20};

static void set_threshold(enum kind k)
{
    /* Fixed thresholds (this also turns glibc's dynamic threshold off, so
     * the allocation path is the same every round). */
    if (k == K_MALLOC_HEAP || k == K_SMALL_HEAP)
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
    else
        mallopt(M_MMAP_THRESHOLD, 128 << 10);
}

static void *obtain(enum kind k, size_t len, void *hint)
{
    if (k == K_MMAP_FIXED) {
        int flags = MAP_PRIVATE | MAP_ANONYMOUS | (hint ? MAP_FIXED : 0);
        void *p = mmap(hint, len, PROT_READ | PROT_WRITE, flags, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    if (k == K_ALLOC_MEM) {
        void *p = NULL;
        if (MPI_Alloc_mem((MPI_Aint)len, MPI_INFO_NULL, &p) != MPI_SUCCESS)
            return NULL;
        return p;
    }
    return malloc(len);
}

static void release(enum kind k, void *p, size_t len)
{
    if (k == K_MMAP_FIXED)
        munmap(p, len);
    else if (k == K_ALLOC_MEM)
        MPI_Free_mem(p);
    else
        free(p);
}

static inline uint8_t pat(uint64_t seed, size_t j)
{
    uint64_t x = seed + (j >> 3) * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    return (uint8_t)(x >> (8 * (j & 7)));
}

static void fill(uint8_t *p, size_t len, uint64_t seed)
{
    for (size_t j = 0; j < len; j++)
        p[j] = pat(seed, j);
}

static long check(const uint8_t *p, size_t len, uint64_t seed, const char *what)
{
    long bad = 0;
    size_t first = 0;
    for (size_t j = 0; j < len; j++)
        if (p[j] != pat(seed, j) && bad++ == 0)
            first = j;
    if (bad)
        mp_fail(__LINE__,
                "%s: %ld of %zu bytes wrong, first at %zu: 0x%02x, expected "
                "0x%02x",
                what, bad, len, first, p[first], pat(seed, first));
    return bad;
}

/* One message each way: 0 -> 1 then 1 -> 0, from sbuf into rbuf. */
static void exchange(uint8_t *sbuf, uint8_t *rbuf, size_t len, uint64_t seed,
                     int tag, const char *what)
{
    int peer = 1 - mp_rank;
    for (int dir = 0; dir < 2; dir++) {
        int sender = dir;
        uint64_t s = seed * 2 + (uint64_t)dir;
        if (mp_rank == sender) {
            fill(sbuf, len, s);
            MP_CALL(
                MPI_Send(sbuf, (int)len, MPI_BYTE, peer, tag, MPI_COMM_WORLD));
        } else {
            memset(rbuf, 0xee, len);
            MPI_Status st;
            int n = -1;
            MP_CALL(MPI_Recv(rbuf, (int)len, MPI_BYTE, peer, tag,
                             MPI_COMM_WORLD, &st));
            MPI_Get_count(&st, MPI_BYTE, &n);
            MP_CHECK(n == (int)len, "%s: received %d bytes, expected %zu", what,
                     n, len);
            check(rbuf, len, s, what);
        }
    }
}

int main(int argc, char **argv)
{
    int rounds = 6;
    MPI_Init(&argc, &argv);
    mp_init("regcache_reuse");
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
    if (mp_size < 2 || mp_rank > 1) {
        if (mp_size < 2)
            mp_fail(__LINE__, "needs 2 ranks, got %d", mp_size);
        return mp_finish();
    }

    int tag = 0;
    for (int k = 0; k < K_COUNT; k++) {
        char what[96];
        size_t len = kind_size[k];
        long same_s = 0, same_r = 0;
        mp_set_phase(kind_name[k]);
        set_threshold((enum kind)k);
        uint8_t *sbuf = obtain((enum kind)k, len, NULL);
        uint8_t *rbuf = obtain((enum kind)k, len, NULL);
        if (!sbuf || !rbuf) {
            mp_fail(__LINE__, "%s: cannot obtain 2 x %zu bytes", kind_name[k],
                    len);
            break;
        }
        for (int r = 0; r < rounds; r++) {
            uint64_t seed = ((uint64_t)k << 32) + (uint64_t)r * 4;
            /* 1. reuse in place: same pages, new contents, twice. */
            snprintf(what, sizeof(what), "%s round %d in place", kind_name[k],
                     r);
            exchange(sbuf, rbuf, len, seed, tag++, what);
            exchange(sbuf, rbuf, len, seed + 1, tag++, what);
            /* 2. release and obtain again. */
            if (k == K_REALLOC) {
                /* grow (moves or extends the mapping), then shrink */
                size_t big = 3 * len, small = len - len / 4;
                uint8_t *s2 = realloc(sbuf, big), *r2 = realloc(rbuf, big);
                if (!s2 || !r2) {
                    mp_fail(__LINE__, "realloc to %zu failed", big);
                    break;
                }
                same_s += s2 == sbuf;
                same_r += r2 == rbuf;
                snprintf(what, sizeof(what), "realloc round %d grown", r);
                exchange(s2, r2, big, seed + 2, tag++, what);
                sbuf = realloc(s2, small);
                rbuf = realloc(r2, small);
                snprintf(what, sizeof(what), "realloc round %d shrunk", r);
                exchange(sbuf, rbuf, small, seed + 3, tag++, what);
                sbuf = realloc(sbuf, len);
                rbuf = realloc(rbuf, len);
                continue;
            }
            uintptr_t old_s = (uintptr_t)sbuf, old_r = (uintptr_t)rbuf;
            release((enum kind)k, sbuf, len);
            release((enum kind)k, rbuf, len);
            /* mmap-fixed maps the same address back on purpose. */
            sbuf = obtain((enum kind)k, len,
                          k == K_MMAP_FIXED ? (void *)old_s : NULL);
            rbuf = obtain((enum kind)k, len,
                          k == K_MMAP_FIXED ? (void *)old_r : NULL);
            if (!sbuf || !rbuf) {
                mp_fail(__LINE__, "%s: cannot obtain memory again",
                        kind_name[k]);
                break;
            }
            same_s += (uintptr_t)sbuf == old_s;
            same_r += (uintptr_t)rbuf == old_r;
            snprintf(what, sizeof(what), "%s round %d re-allocated%s",
                     kind_name[k], r,
                     (uintptr_t)sbuf == old_s ? " at the same address" : "");
            exchange(sbuf, rbuf, len, seed + 2, tag++, what);
        }
        if (k == K_MMAP_FIXED)
            MP_CHECK(same_s == rounds && same_r == rounds,
                     "mmap-fixed: MAP_FIXED gave other addresses");
        printf("[rank %d] %s: %zu bytes, %d rounds, re-allocated at the same "
               "address: send buffer %ld, receive buffer %ld\n",
               mp_rank, kind_name[k], len, rounds, same_s, same_r);
        if (sbuf)
            release((enum kind)k, sbuf, len);
        if (rbuf)
            release((enum kind)k, rbuf, len);
        mp_barrier();
    }
    return mp_finish();
}
