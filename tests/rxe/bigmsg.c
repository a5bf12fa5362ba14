/*
 * bigmsg — the largest messages of the p2p suite, quickly: ranks 0 and 1
 * exchange one message of each size in --sizes (default 0, 1, 8193,
 * 4 MiB + 1, 64 MiB) in both directions, blocking (Send/Recv) then
 * non-blocking (Isend/Irecv posted by both sides at once), and check every
 * byte and the status. Sized for User-Mode Linux runs, where p2p_pairs up to
 * 64 MiB takes minutes; p2p_pairs covers the modes and the sizes between.
 *
 * Usage: mpirun -n 2 bigmsg [--max-size N[k|M]] [--largest-once]
 * --largest-once: the largest size only once, rank 0 to rank 1 (links
 * between VMs carry 64 MiB in about a minute).
 */
#include "../mp/mp_common.h"

static inline uint8_t pat(uint64_t seed, size_t j)
{
    uint64_t x = seed ^ ((uint64_t)j * 0x9e3779b97f4a7c15ull);
    return (uint8_t)(x >> 56) ^ (uint8_t)j;
}

static void check(const uint8_t *p, size_t len, uint64_t seed, int n,
                  const char *what)
{
    MP_CHECK(n == (int)len, "%s: received %d bytes, expected %zu", what, n,
             len);
    for (size_t j = 0; j < len; j++)
        if (p[j] != pat(seed, j)) {
            mp_fail(__LINE__, "%s: byte %zu is 0x%02x, expected 0x%02x", what,
                    j, p[j], pat(seed, j));
            return;
        }
}

int main(int argc, char **argv)
{
    size_t max = (size_t)64 << 20;
    int largest_once = 0;
    MPI_Init(&argc, &argv);
    mp_init("bigmsg");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--max-size") && i + 1 < argc)
            max = mp_parse_size(argv[++i]);
        else if (!strcmp(argv[i], "--largest-once"))
            largest_once = 1;
    }
    if (mp_size != 2) {
        mp_fail(__LINE__, "needs exactly 2 ranks, got %d", mp_size);
        return mp_finish();
    }
    size_t sizes[] = {0, 1, 8193, ((size_t)4 << 20) + 1, max};
    uint8_t *s = mp_xmalloc(max), *r = mp_xmalloc(max);
    int peer = 1 - mp_rank;
    char what[96];
    for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t len = sizes[k];
        MPI_Status st;
        int n = -1;
        if (len > max)
            continue;
        /* Blocking, 0 -> 1 then 1 -> 0. */
        mp_set_phase("blocking");
        int once = largest_once && len == max;
        for (int dir = 0; dir < (once ? 1 : 2); dir++) {
            uint64_t seed = k * 4 + (uint64_t)dir;
            snprintf(what, sizeof(what), "Send/Recv %zu B from rank %d", len,
                     dir);
            if (mp_rank == dir) {
                for (size_t j = 0; j < len; j++)
                    s[j] = pat(seed, j);
                MP_CALL(MPI_Send(s, (int)len, MPI_BYTE, peer, (int)k,
                                 MPI_COMM_WORLD));
            } else {
                memset(r, 0x5a, len);
                MP_CALL(MPI_Recv(r, (int)len, MPI_BYTE, peer, (int)k,
                                 MPI_COMM_WORLD, &st));
                MPI_Get_count(&st, MPI_BYTE, &n);
                check(r, len, seed, n, what);
            }
        }
        if (once) {
            if (mp_rank == 0)
                printf("bigmsg: %zu B ok (rank 0 to 1 only)\n", len);
            continue;
        }
        /* Both directions at once. */
        mp_set_phase("non-blocking");
        MPI_Request rq[2];
        uint64_t mine = k * 4 + 2 + (uint64_t)mp_rank;
        uint64_t theirs = k * 4 + 2 + (uint64_t)peer;
        for (size_t j = 0; j < len; j++)
            s[j] = pat(mine, j);
        memset(r, 0x5a, len);
        MP_CALL(MPI_Irecv(r, (int)len, MPI_BYTE, peer, 100 + (int)k,
                          MPI_COMM_WORLD, &rq[0]));
        MP_CALL(MPI_Isend(s, (int)len, MPI_BYTE, peer, 100 + (int)k,
                          MPI_COMM_WORLD, &rq[1]));
        MPI_Status sts[2];
        MP_CALL(MPI_Waitall(2, rq, sts));
        MPI_Get_count(&sts[0], MPI_BYTE, &n);
        snprintf(what, sizeof(what), "Isend/Irecv %zu B both ways", len);
        check(r, len, theirs, n, what);
        if (mp_rank == 0)
            printf("bigmsg: %zu B ok\n", len);
    }
    free(s);
    free(r);
    return mp_finish();
}
