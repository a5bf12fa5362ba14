/*
 * init — the environment calls around MPI_Init_thread / MPI_Finalize.
 *
 * MPI_Initialized / MPI_Finalized before, during and after; MPI_Init_thread
 * reports a valid provided level that MPI_Query_thread repeats;
 * MPI_Is_thread_main; MPI_Get_version; MPI_Get_library_version;
 * MPI_Get_processor_name; MPI_Wtime monotonic and consistent with a sleep;
 * MPI_Wtick; MPI_Alloc_mem / MPI_Free_mem; a ring exchange over
 * MPI_COMM_WORLD and MPI_COMM_SELF.
 *
 * Usage: init [--required single|funneled|serialized|multiple] [--singleton]
 * --singleton: the program was started without a launcher and must be
 * rank 0 of a world of 1.
 */
#include "mp_common.h"

#include <time.h>

static int level_of(const char *s)
{
    if (!strcmp(s, "single"))
        return MPI_THREAD_SINGLE;
    if (!strcmp(s, "funneled"))
        return MPI_THREAD_FUNNELED;
    if (!strcmp(s, "serialized"))
        return MPI_THREAD_SERIALIZED;
    return MPI_THREAD_MULTIPLE;
}

int main(int argc, char **argv)
{
    int required = MPI_THREAD_MULTIPLE, provided = -1, q = -1, flag = -1;
    int singleton = 0, v = -1, sv = -1, len = -1, i;
    char lib[MPI_MAX_LIBRARY_VERSION_STRING + 1];
    char host[MPI_MAX_PROCESSOR_NAME + 1];
    int pre_init = -1, pre_fin = -1;
    long total;
    double t, prev, t0, tick;
    void *mem = NULL;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--required") && i + 1 < argc)
            required = level_of(argv[++i]);
        else if (!strcmp(argv[i], "--singleton"))
            singleton = 1;
    }
    /* Both are callable before MPI_Init. */
    MPI_Initialized(&pre_init);
    MPI_Finalized(&pre_fin);

    MPI_Init_thread(&argc, &argv, required, &provided);
    mp_init("init");
    MP_CHECK(pre_init == 0, "MPI_Initialized before MPI_Init gave %d",
             pre_init);
    MP_CHECK(pre_fin == 0, "MPI_Finalized before MPI_Init gave %d", pre_fin);

    mp_set_phase("thread level");
    MP_CHECK(provided >= MPI_THREAD_SINGLE && provided <= MPI_THREAD_MULTIPLE,
             "MPI_Init_thread(required %d) provided %d: not a thread level",
             required, provided);
    MP_CALL(MPI_Query_thread(&q));
    MP_CHECK(q == provided, "MPI_Query_thread=%d, MPI_Init_thread said %d", q,
             provided);
    MP_CALL(MPI_Is_thread_main(&flag));
    MP_CHECK(flag == 1, "MPI_Is_thread_main in the main thread gave %d", flag);
    if (mp_rank == 0)
        printf("init: required %d, provided %d\n", required, provided);

    mp_set_phase("Initialized/Finalized");
    flag = -1;
    MP_CALL(MPI_Initialized(&flag));
    MP_CHECK(flag == 1, "MPI_Initialized after MPI_Init gave %d", flag);
    flag = -1;
    MP_CALL(MPI_Finalized(&flag));
    MP_CHECK(flag == 0, "MPI_Finalized before MPI_Finalize gave %d", flag);

    mp_set_phase("versions and names");
    MP_CALL(MPI_Get_version(&v, &sv));
    MP_CHECK(v == MPI_VERSION && sv == MPI_SUBVERSION && v >= 3,
             "MPI_Get_version=%d.%d, header says %d.%d (expected >= 3)", v, sv,
             MPI_VERSION, MPI_SUBVERSION);
    memset(lib, 0, sizeof(lib));
    MP_CALL(MPI_Get_library_version(lib, &len));
#ifdef OMPI_MAJOR_VERSION
    /* Open MPI 4.1 counts the terminating NUL in resultlen; MPI-3.1 says
     * printable characters. Tolerated only there. */
    if (len == (int)strlen(lib) + 1)
        len--;
#endif
    MP_CHECK(len > 0 && len < MPI_MAX_LIBRARY_VERSION_STRING &&
                 (int)strlen(lib) == len,
             "MPI_Get_library_version: resultlen %d, strlen %zu for \"%s\"",
             len, strlen(lib), lib);
    memset(host, 0, sizeof(host));
    len = -1;
    MP_CALL(MPI_Get_processor_name(host, &len));
    MP_CHECK(len > 0 && len < MPI_MAX_PROCESSOR_NAME &&
                 (int)strlen(host) == len,
             "MPI_Get_processor_name: length %d for \"%s\"", len, host);
    if (mp_rank == 0)
        printf("init: library \"%.80s\", host \"%s\"\n", lib, host);

    mp_set_phase("MPI_Wtime/MPI_Wtick");
    tick = MPI_Wtick();
    MP_CHECK(tick > 0 && tick <= 0.01, "MPI_Wtick=%g, expected (0, 0.01]",
             tick);
    prev = t0 = MPI_Wtime();
    for (i = 0; i < 100000; i++) {
        t = MPI_Wtime();
        if (t < prev) {
            MP_CHECK(0, "MPI_Wtime went backwards: %.9f after %.9f", t, prev);
            break;
        }
        prev = t;
    }
    {
        struct timespec ts = {0, 50 * 1000 * 1000};
        t0 = MPI_Wtime();
        nanosleep(&ts, NULL);
        t = MPI_Wtime() - t0;
        MP_CHECK(t >= 0.045 && t < 30,
                 "MPI_Wtime measured a 50 ms sleep as %.6f s", t);
    }

    mp_set_phase("MPI_Alloc_mem");
    MP_CALL(MPI_Alloc_mem(1 << 20, MPI_INFO_NULL, &mem));
    MP_CHECK(mem != NULL, "MPI_Alloc_mem(1 MiB) returned NULL");
    if (mem) {
        mp_fill(mem, 1 << 20, 77);
        MP_CHECK_PATTERN(mem, 1 << 20, 77, "MPI_Alloc_mem memory");
        /* Alloc_mem memory is usable as a message buffer. */
        MP_CALL(MPI_Sendrecv_replace(mem, 1 << 20, MPI_BYTE, mp_rank, 3,
                                     mp_rank, 3, MPI_COMM_WORLD,
                                     MPI_STATUS_IGNORE));
        MP_CHECK_PATTERN(mem, 1 << 20, 77, "MPI_Alloc_mem after self-send");
        MP_CALL(MPI_Free_mem(mem));
    }

    mp_set_phase("world");
    MP_CHECK(mp_size >= 1 && mp_rank >= 0 && mp_rank < mp_size,
             "rank %d of size %d", mp_rank, mp_size);
    if (singleton)
        MP_CHECK(mp_size == 1 && mp_rank == 0,
                 "started without a launcher: rank %d of %d, expected rank 0 "
                 "of 1",
                 mp_rank, mp_size);
    {
        int next = (mp_rank + 1) % mp_size,
            prevr = (mp_rank + mp_size - 1) % mp_size;
        int out = mp_rank, in = -1, sr = -1, ss = -1;
        MP_CALL(MPI_Sendrecv(&out, 1, MPI_INT, next, 4, &in, 1, MPI_INT, prevr,
                             4, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        MP_CHECK(in == prevr, "ring: got %d from rank %d", in, prevr);
        MP_CALL(MPI_Comm_rank(MPI_COMM_SELF, &sr));
        MP_CALL(MPI_Comm_size(MPI_COMM_SELF, &ss));
        MP_CHECK(sr == 0 && ss == 1, "MPI_COMM_SELF: rank %d size %d", sr, ss);
        in = -1;
        MP_CALL(MPI_Sendrecv(&out, 1, MPI_INT, 0, 5, &in, 1, MPI_INT, 0, 5,
                             MPI_COMM_SELF, MPI_STATUS_IGNORE));
        MP_CHECK(in == mp_rank, "COMM_SELF self-send: got %d", in);
    }

    mp_set_phase("finish");
    total = mp_total_failures();
    mp_set_phase("MPI_Finalize");
    MP_CALL(MPI_Finalize());
    flag = -1;
    MPI_Finalized(&flag);
    MP_CHECK(flag == 1, "MPI_Finalized after MPI_Finalize gave %d", flag);
    flag = -1;
    MPI_Initialized(&flag);
    MP_CHECK(flag == 1, "MPI_Initialized after MPI_Finalize gave %d", flag);
    alarm(0);
    if (mp_rank == 0) {
        if (total == 0 && mp_failures == 0)
            printf("init: PASS (%d ranks)\n", mp_size);
        else
            printf("init: FAILED (%ld failed checks before finalize)\n", total);
    }
    return mp_failures ? 1 : 0;
}
