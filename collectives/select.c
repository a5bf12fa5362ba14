/*
 * select.c — the algorithm table and the size-aware selection.
 *
 * Every rank must pick the same algorithm for a collective: the choice
 * depends only on (kind, p, message size, op commutativity) and on
 * environment variables the launcher gives every rank alike. The switch
 * points are documented (with the measurements behind them) in
 * docs/COLLECTIVES.md.
 */
#include "coll.h"

#include <string.h>

#include "config.h"
#include "log.h"

RDMX_CONFIG_VAR("RDMX_COLL_BARRIER", NULL,
                "barrier algorithm: dissemination|linear");
RDMX_CONFIG_VAR("RDMX_COLL_BCAST", NULL,
                "bcast algorithm: binomial|linear|pipelined_binomial|"
                "scatter_allgather (unset: by size)");
RDMX_CONFIG_VAR("RDMX_COLL_BCAST_SEGMENT", "32k",
                "segment size of the pipelined bcast");
RDMX_CONFIG_VAR("RDMX_COLL_REDUCE", NULL,
                "reduce algorithm: binomial|pipelined|rabenseifner|shared "
                "(shared: blocking calls on one host)");
RDMX_CONFIG_VAR("RDMX_COLL_REDUCE_SEGMENT", "32k",
                "segment size of the pipelined reduce");
RDMX_CONFIG_VAR("RDMX_COLL_ALLREDUCE", NULL,
                "allreduce algorithm: recursive_doubling|rabenseifner|ring|"
                "reduce_bcast|direct|shared (shared: blocking calls, all "
                "ranks on one host with an shm collective area)");
RDMX_CONFIG_VAR("RDMX_COLL_GATHER", NULL, "gather algorithm: binomial|linear");
RDMX_CONFIG_VAR("RDMX_COLL_SCATTER", NULL,
                "scatter algorithm: binomial|linear");
RDMX_CONFIG_VAR("RDMX_COLL_ALLGATHER", NULL,
                "allgather algorithm: recursive_doubling|bruck|ring|shared "
                "(shared: blocking calls on one host)");
RDMX_CONFIG_VAR("RDMX_COLL_ALLTOALL", NULL,
                "alltoall algorithm: bruck|pairwise|shared (shared: "
                "blocking calls on one host)");
RDMX_CONFIG_VAR("RDMX_COLL_REDUCE_SCATTER", NULL,
                "reduce_scatter algorithm: ring|reduce_scatterv");

/* alpha / beta in bytes: the message size whose transfer time equals the
 * start-up latency (~1.5 us at ~10 GB/s). Switch points that trade rounds
 * for bytes are derived from it (docs/COLLECTIVES.md). */
#define RDMX_COLL_ALPHA_BYTES 15000

static int is_pow2(int p)
{
    return !(p & (p - 1));
}

static int need_pow2(const rdmx_coll_args_t *a)
{
    return is_pow2(a->size);
}

static int need_commutative(const rdmx_coll_args_t *a)
{
    return a->commutative;
}

/* Every rank has a collective area (allgather: half holds a byte). */
static int need_shared_area(const rdmx_coll_args_t *a)
{
    return a->shared_bytes >= 2;
}

/* Every rank has a collective area in which half holds a byte for every
 * rank (alltoall). */
static int need_shared_blocks(const rdmx_coll_args_t *a)
{
    return a->shared_bytes >= 2 * (size_t)a->size;
}

/* Every rank has a collective area, and half of one holds an element. */
static int need_shared(const rdmx_coll_args_t *a)
{
    return a->shared_bytes && a->esize <= a->shared_bytes / 2;
}

const rdmx_coll_algo_t rdmx_coll_algos[] = {
    {"dissemination", RDMX_COLL_BARRIER, rdmx_coll_barrier_dissemination, NULL},
    {"linear", RDMX_COLL_BARRIER, rdmx_coll_barrier_linear, NULL},
    {"binomial", RDMX_COLL_BCAST, rdmx_coll_bcast_binomial, NULL},
    {"linear", RDMX_COLL_BCAST, rdmx_coll_bcast_linear, NULL},
    {"pipelined_binomial", RDMX_COLL_BCAST, rdmx_coll_bcast_pipelined_binomial,
     NULL},
    {"scatter_allgather", RDMX_COLL_BCAST, rdmx_coll_bcast_scatter_allgather,
     NULL},
    {"binomial", RDMX_COLL_REDUCE, rdmx_coll_reduce_binomial, NULL},
    {"pipelined", RDMX_COLL_REDUCE, rdmx_coll_reduce_pipelined, NULL},
    {"rabenseifner", RDMX_COLL_REDUCE, rdmx_coll_reduce_rabenseifner,
     need_commutative},
    {"shared", RDMX_COLL_REDUCE, rdmx_coll_reduce_shared, need_shared},
    {"recursive_doubling", RDMX_COLL_ALLREDUCE,
     rdmx_coll_allreduce_recursive_doubling, NULL},
    {"rabenseifner", RDMX_COLL_ALLREDUCE, rdmx_coll_allreduce_rabenseifner,
     NULL},
    {"ring", RDMX_COLL_ALLREDUCE, rdmx_coll_allreduce_ring, need_commutative},
    {"reduce_bcast", RDMX_COLL_ALLREDUCE, rdmx_coll_allreduce_reduce_bcast,
     NULL},
    {"direct", RDMX_COLL_ALLREDUCE, rdmx_coll_allreduce_direct, NULL},
    {"shared", RDMX_COLL_ALLREDUCE, rdmx_coll_allreduce_shared, need_shared},
    {"binomial", RDMX_COLL_GATHER, rdmx_coll_gather_binomial, NULL},
    {"linear", RDMX_COLL_GATHER, rdmx_coll_gather_linear, NULL},
    {"linear", RDMX_COLL_GATHERV, rdmx_coll_gatherv_linear, NULL},
    {"binomial", RDMX_COLL_SCATTER, rdmx_coll_scatter_binomial, NULL},
    {"linear", RDMX_COLL_SCATTER, rdmx_coll_scatter_linear, NULL},
    {"linear", RDMX_COLL_SCATTERV, rdmx_coll_scatterv_linear, NULL},
    {"recursive_doubling", RDMX_COLL_ALLGATHER,
     rdmx_coll_allgather_recursive_doubling, need_pow2},
    {"bruck", RDMX_COLL_ALLGATHER, rdmx_coll_allgather_bruck, NULL},
    {"ring", RDMX_COLL_ALLGATHER, rdmx_coll_allgather_ring, NULL},
    {"shared", RDMX_COLL_ALLGATHER, rdmx_coll_allgather_shared,
     need_shared_area},
    {"ring", RDMX_COLL_ALLGATHERV, rdmx_coll_allgatherv_ring, NULL},
    {"bruck", RDMX_COLL_ALLTOALL, rdmx_coll_alltoall_bruck, NULL},
    {"pairwise", RDMX_COLL_ALLTOALL, rdmx_coll_alltoall_pairwise, NULL},
    {"shared", RDMX_COLL_ALLTOALL, rdmx_coll_alltoall_shared,
     need_shared_blocks},
    {"pairwise", RDMX_COLL_ALLTOALLV, rdmx_coll_alltoallv_pairwise, NULL},
    {"ring", RDMX_COLL_REDUCE_SCATTER, rdmx_coll_reduce_scatter_ring,
     need_commutative},
    {"reduce_scatterv", RDMX_COLL_REDUCE_SCATTER,
     rdmx_coll_reduce_scatter_reduce_scatterv, NULL},
    {"recursive_doubling", RDMX_COLL_SCAN, rdmx_coll_scan_recursive_doubling,
     NULL},
    {"recursive_doubling", RDMX_COLL_EXSCAN,
     rdmx_coll_exscan_recursive_doubling, NULL},
};
const size_t rdmx_coll_nalgos =
    sizeof(rdmx_coll_algos) / sizeof(rdmx_coll_algos[0]);

static const char *const kind_names[RDMX_COLL_NKINDS] = {
    "barrier",  "bcast",     "reduce",         "allreduce", "gather",
    "gatherv",  "scatter",   "scatterv",       "allgather", "allgatherv",
    "alltoall", "alltoallv", "reduce_scatter", "scan",      "exscan",
};

/* The variable that overrides a kind (NULL: no choice to make). */
static const char *const kind_env[RDMX_COLL_NKINDS] = {
    [RDMX_COLL_BARRIER] = "RDMX_COLL_BARRIER",
    [RDMX_COLL_BCAST] = "RDMX_COLL_BCAST",
    [RDMX_COLL_REDUCE] = "RDMX_COLL_REDUCE",
    [RDMX_COLL_ALLREDUCE] = "RDMX_COLL_ALLREDUCE",
    [RDMX_COLL_GATHER] = "RDMX_COLL_GATHER",
    [RDMX_COLL_SCATTER] = "RDMX_COLL_SCATTER",
    [RDMX_COLL_ALLGATHER] = "RDMX_COLL_ALLGATHER",
    [RDMX_COLL_ALLTOALL] = "RDMX_COLL_ALLTOALL",
    [RDMX_COLL_REDUCE_SCATTER] = "RDMX_COLL_REDUCE_SCATTER",
};

const char *rdmx_coll_kind_name(rdmx_coll_kind_t kind)
{
    return (unsigned)kind < RDMX_COLL_NKINDS ? kind_names[kind] : "?";
}

const rdmx_coll_algo_t *rdmx_coll_algo_find(rdmx_coll_kind_t kind,
                                            const char *name)
{
    for (size_t i = 0; i < rdmx_coll_nalgos; i++)
        if (rdmx_coll_algos[i].kind == kind &&
            strcmp(rdmx_coll_algos[i].name, name) == 0)
            return &rdmx_coll_algos[i];
    return NULL;
}

static const rdmx_coll_algo_t *pick(rdmx_coll_kind_t k, const char *name)
{
    const rdmx_coll_algo_t *al = rdmx_coll_algo_find(k, name);
    return al;
}

/* The default table. Sizes are the bytes each rank contributes or
 * receives (bcast/reduce/allreduce: the whole vector; gather/allgather/
 * alltoall: one block). */
static const rdmx_coll_algo_t *by_size(const rdmx_coll_args_t *a)
{
    int p = a->size;
    size_t n = a->kind == RDMX_COLL_REDUCE || a->kind == RDMX_COLL_ALLREDUCE
                   ? a->count * a->esize
                   : a->bytes;
    switch (a->kind) {
    case RDMX_COLL_BARRIER:
        /* One host, ranks sharing cores: fan-in to rank 0 and fan-out
         * take two hand-overs where dissemination takes log p rounds of
         * all ranks. perf/barrier, two runs each, us: 8 ranks 42-61
         * against 63-68, 16 ranks 88-102 against 192-201, 4 ranks 23
         * against 15-23. Two ranks: one exchange, dissemination. */
        if (a->single_host && p > 2 && p <= 16)
            return pick(a->kind, "linear");
        return pick(a->kind, "dissemination");
    case RDMX_COLL_BCAST: {
        /* Two ranks: one message; segmenting it only adds round trips
         * (1 MiB on shm: 45 us whole, 400 us in 32 KiB segments). */
        if (p <= 2)
            return pick(a->kind, "binomial");
        /* One host: every receiver reads the root's buffer directly and at
         * once, and the root's p-1 sends need one scheduling pass over the
         * ranks where the tree needs one per level. 8 ranks on 2 cores,
         * quiet machine: 8 B to 16 KiB linear 14-29 us, binomial 28-73
         * (three runs); 64 KiB linear 39-62 us, binomial 62-73; 1 MiB
         * linear 173-224, binomial 317-335 (loaded: pipelined 2140-2530,
         * scatter+allgather 4100-11300). Segmenting and scattering only
         * add hand-overs between processes that share cores. */
        if (a->single_host && p <= 16)
            return pick(a->kind, "linear");
        if (n <= 16384 || a->single_host)
            return pick(a->kind, "binomial");
        /* scatter + ring allgather costs (p-1)a + 2nb against the tree's
         * log p (a + nb): it wins once n b (log p - 2) > (p-1-log p) a. */
        int lg = 0;
        while ((1 << lg) < p)
            lg++;
        if (lg > 2 &&
            n * (size_t)(lg - 2) > (size_t)(p - 1 - lg) * RDMX_COLL_ALPHA_BYTES)
            return pick(a->kind, "scatter_allgather");
        return pick(a->kind, "pipelined_binomial");
    }
    case RDMX_COLL_REDUCE:
        /* Blocking, one host, collective areas (shared.c): 8 ranks on 2
         * cores, us: 32 KiB 75 against 112-149, 64 KiB 148 against 228,
         * 1 MiB 788 against 1407; equal at 16 KiB. 4 ranks: better from
         * 16 KiB (34 against 49, 1 MiB 334 against 576). */
        if (p > 2 && p <= 16 && need_shared(a) &&
            n > (p <= 4 ? 8192u : 16384u))
            return pick(a->kind, "shared");
        /* Two ranks: one message and one local reduction, except from
         * 128 KiB to 512 KiB, where 32 KiB segments are reduced while
         * still in the cache. 2 ranks on shm, us (3 runs): 128 KiB 6.7-7.0
         * against binomial's 10.7-12.7 (Open MPI 8.8), 256 KiB 13-21
         * against 17-24 (18.0), 512 KiB 37-38 against 40-47 (43.5); level
         * at 1 MiB, and at 2 MiB 177-185 against 114-142. */
        if (p <= 2 && n >= 131072 && n <= 524288)
            return pick(a->kind, "pipelined");
        if (n <= 16384 || p <= 2)
            return pick(a->kind, "binomial");
        if (a->commutative && a->count >= (size_t)p)
            return pick(a->kind, "rabenseifner");
        return pick(a->kind, "pipelined");
    case RDMX_COLL_ALLREDUCE:
        /* One host, small vectors: one round in which everyone sends to
         * everyone beats log p dependent rounds when ranks share cores
         * (8 ranks on 2 cores, 8 B: 52 us against recursive doubling's 69,
         * Open MPI 73, medians of 5; equal at 8 KiB, worse above). */
        if (a->single_host && p > 2 && p <= 16 && n <= 2048)
            return pick(a->kind, "direct");
        /* Blocking calls on one host with shm collective areas: every
         * byte moves by memcpy through node-shared memory, at the price
         * of two syncs and release tokens (shared.c). 8 ranks on 2 cores:
         * 1 MiB 769 us against reduce_bcast's 1513-1967 (Open MPI
         * 1725-1868), 64 KiB 137-143 against 182-195, 16 KiB 117-157
         * against 218-245, 8 KiB 112 against 95. 4 ranks: from 16 KiB
         * (29-31 against 54-80). */
        if (p > 2 && p <= 16 && need_shared(a) && n > 8192)
            return pick(a->kind, "shared");
        if (n <= 8192 || a->count < (size_t)p)
            return pick(a->kind, "recursive_doubling");
        /* Two ranks: one exchange of the whole vector and one reduction
         * (input and received vector straight into the output) beats the
         * ring's two exchanges of halves at every size. shm, us, two runs:
         * 64 KiB 8.0-9.5 (ring 10.0, reduce+bcast 11.5), 256 KiB 30-37
         * (ring 38-45, reduce+bcast 64-67), 1 MiB 124-154 (ring 140-171,
         * reduce+bcast 204-207). */
        if (p == 2)
            return pick(a->kind, "recursive_doubling");
        /* One host, medium vectors: reduce to a root and broadcast (whole
         * messages read in one copy each) needs the fewest hand-overs
         * between processes sharing cores. 8 ranks on 2 cores: 64 KiB
         * 177 us (Rabenseifner 237, Open MPI 417), 256 KiB 521-694 us
         * (ring 599-624, Rabenseifner 2139-2308, Open MPI 628-635), 512 KiB
         * 1224 us (Rabenseifner 2158, ring 1293). With the bcast read from
         * the shm staging area (up to RDMX_SHM_FANOUT_BYTES, 1 MiB), also at
         * 1 MiB: 1479-1870 us, Rabenseifner 1760-1976, Open MPI 1721-1785
         * (3 alternating runs). */
        if (a->single_host && n <= 1048576)
            return pick(a->kind, "reduce_bcast");
        if (a->commutative && n >= 1048576 && p <= 64 && !is_pow2(p))
            return pick(a->kind, "ring");
        return pick(a->kind, "rabenseifner");
    case RDMX_COLL_GATHER:
    case RDMX_COLL_SCATTER:
        /* One host: the root's p-1 messages take one scheduling pass; the
         * tree's levels each take one, and forward blocks twice. Medians
         * of a sweep 1 B-16 KiB, us: 8 ranks on 2 cores scatter 12-32
         * against binomial 24-83, gather 8-13 against 20-38; 4 ranks
         * scatter 7-18 against 15-44, gather 2-7 against 8-19; 16 ranks
         * scatter 26-71 against 65-159, gather 11-45 against 75-181. */
        if (a->single_host && p <= 16)
            return pick(a->kind, "linear");
        return pick(a->kind, n <= 16384 ? "binomial" : "linear");
    case RDMX_COLL_ALLGATHER:
        /* Blocking, one host, collective areas (shared.c): each block is
         * copied in once and out p-1 times, one sync and release tokens.
         * 8 ranks on 2 cores, us: 64 B 67 against bruck's 88-94, 16 KiB
         * 67-82 against 90-113 (Open MPI 221), 128 KiB 274 against ring's
         * 780 (598), 1 MiB 1973 against 6505 (4772); 4 and 16 ranks
         * better or equal at every size measured (64 B-64 KiB, 8 B-8 KiB). */
        if (p > 2 && p <= 16 && need_shared_area(a))
            return pick(a->kind, "shared");
        if (n * (size_t)p <= 65536)
            return pick(a->kind, is_pow2(p) ? "recursive_doubling" : "bruck");
        if (is_pow2(p) && n * (size_t)p <= 524288)
            return pick(a->kind, "recursive_doubling");
        return pick(a->kind, "ring");
    case RDMX_COLL_ALLTOALL:
        /* The same for alltoall: 8 ranks, 128 B 60-61 us against bruck's
         * 79-81 (Open MPI 48), 64 KiB 166 against 840 (298), 1 MiB 5009
         * against 6204 (4640), equal around 8 KiB; 4 and 16 ranks better
         * or equal at every size measured. */
        if (p > 2 && p <= 16 && need_shared_blocks(a))
            return pick(a->kind, "shared");
        return pick(a->kind, n <= 256 && p >= 8 ? "bruck" : "pairwise");
    case RDMX_COLL_REDUCE_SCATTER:
        return pick(a->kind, a->commutative ? "ring" : "reduce_scatterv");
    default:
        for (size_t i = 0; i < rdmx_coll_nalgos; i++)
            if (rdmx_coll_algos[i].kind == a->kind)
                return &rdmx_coll_algos[i];
        return NULL;
    }
}

/* The environment is read once per kind: a small collective is cheaper
 * than a getenv walk over the whole environment. */
static const char *kind_env_value(rdmx_coll_kind_t kind)
{
    static const char *value[RDMX_COLL_NKINDS];
    static char loaded[RDMX_COLL_NKINDS];
    if (!loaded[kind]) {
        value[kind] = kind_env[kind] ? rdmx_config_str(kind_env[kind]) : NULL;
        loaded[kind] = 1;
    }
    return value[kind];
}

const rdmx_coll_algo_t *rdmx_coll_select(const rdmx_coll_args_t *a)
{
    const char *env = kind_env_value(a->kind);
    if (env && *env) {
        const rdmx_coll_algo_t *al = rdmx_coll_algo_find(a->kind, env);
        if (!al) {
            static int warned[RDMX_COLL_NKINDS];
            if (!warned[a->kind]++)
                RDMX_WARN("%s=%s: no such %s algorithm; using the default",
                          kind_env[a->kind], env, rdmx_coll_kind_name(a->kind));
        } else if (!al->usable || al->usable(a)) {
            return al;
        } else {
            RDMX_DEBUG("%s=%s not usable here (p=%d%s); using the default",
                       kind_env[a->kind], env, a->size,
                       a->commutative ? "" : ", non-commutative op");
        }
    }
    return by_size(a);
}

rdmx_status_t rdmx_coll_build(rdmx_sched_t *s, const rdmx_coll_args_t *a,
                              const rdmx_coll_algo_t *algo)
{
    if (!algo)
        algo = rdmx_coll_select(a);
    if (!algo)
        return RDMX_ERR_INTERNAL;
    if (algo->usable && !algo->usable(a))
        return RDMX_ERR_INVALID;
    s->op = a->op;
    s->dt = a->dt;
    s->esize = a->esize;
    rdmx_status_t st = algo->build(s, a);
    if (st == RDMX_OK)
        st = s->err;
    return st;
}

size_t rdmx_coll_segsize(rdmx_coll_kind_t kind)
{
    static size_t bcast_seg, reduce_seg;
    size_t *seg = kind == RDMX_COLL_REDUCE ? &reduce_seg : &bcast_seg;
    if (!*seg) {
        *seg = rdmx_config_size(kind == RDMX_COLL_REDUCE
                                    ? "RDMX_COLL_REDUCE_SEGMENT"
                                    : "RDMX_COLL_BCAST_SEGMENT");
        if (!*seg)
            *seg = 32768;
    }
    return *seg;
}
