/*
 * shm_ring_exchange.c — every rank passes messages to its right neighbour
 * and receives from its left, many rounds, small and large. Run with more
 * ranks than cores: a waiting rank must sleep and be woken by its sender,
 * or the exchange crawls (each round then costs scheduler time slices).
 * Prints the time per round so regressions are visible; asserts only on
 * correctness.
 */
#include <time.h>

#include "../mp/mp_common.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const size_t sizes[] = {8, 4000, 100000};
    const int rounds = argc > 1 ? atoi(argv[1]) : 200;
    char *sb, *rb;

    MPI_Init(&argc, &argv);
    mp_init("shm_ring_exchange");
    sb = malloc(100000);
    rb = malloc(100000);
    if (!sb || !rb)
        MPI_Abort(MPI_COMM_WORLD, 2);
    int right = (mp_rank + 1) % mp_size,
        left = (mp_rank + mp_size - 1) % mp_size;

    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        double t0;

        mp_set_phase("exchange");
        mp_barrier();
        t0 = now();
        for (int it = 0; it < rounds; it++) {
            mp_fill(sb, n, mp_seed(mp_rank, right, n, it));
            MP_CALL(MPI_Sendrecv(sb, (int)n, MPI_BYTE, right, it, rb, (int)n,
                                 MPI_BYTE, left, it, MPI_COMM_WORLD,
                                 MPI_STATUS_IGNORE));
            MP_CHECK_PATTERN(rb, n, mp_seed(left, mp_rank, n, it),
                             "round %d, %zu bytes from %d", it, n, left);
        }
        mp_barrier();
        if (mp_rank == 0)
            printf("ring exchange %d ranks, %zu bytes: %.1f us per round\n",
                   mp_size, n, (now() - t0) * 1e6 / rounds);
    }
    free(sb);
    free(rb);
    return mp_finish();
}
