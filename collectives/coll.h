/*
 * coll.h — the collective engine: schedules, the algorithms that build
 * them, the selection table and the two executors (the real one on generic
 * requests, and the simulator that runs all ranks' schedules in one
 * process).
 *
 * A schedule is the list of rounds one rank performs. A round is a set of
 * sends and receives that are posted together, followed by local copies
 * and reductions that run, in order, once every message of the round has
 * completed. A round with no messages is a purely local step. Appending a
 * message after a local op starts a new round, so program order is kept.
 * Buffers are named, not pointed to: an operation refers to (buffer id, byte
 * offset), and the executor binds ids to memory. That keeps schedule
 * construction free of memory (the simulator builds schedules for 65536 ranks)
 * and lets the same schedule run on user buffers or on packed copies of them.
 *
 * All data in a schedule is a packed byte stream (rdmx_dt_pack): messages
 * are sent as MPI_BYTE, reductions run on packed elements of the
 * reduction datatype (rdmx_op_apply_packed). Messages between the same pair
 * of ranks in one collective are matched in posting order, which both
 * sides produce from the same deterministic construction; a collective uses
 * one tag (derived from the communicator's collective sequence number) in
 * the collective context, so concurrent collectives never match each other.
 */
#ifndef RDMX_COLL_H
#define RDMX_COLL_H

#include <stddef.h>
#include <stdint.h>

#include "comm.h"
#include "datatype.h"
#include "op.h"
#include "request.h"
#include "status.h"

/* ---- schedules -------------------------------------------------------------
 */
enum rdmx_sbuf {
    RDMX_SB_SEND = 0, /* the (packed) input */
    RDMX_SB_RECV = 1, /* the (packed) output */
    RDMX_SB_TMP = 2,  /* scratch, sched->tmp_bytes[0] */
    RDMX_SB_TMP2 = 3, /* scratch, sched->tmp_bytes[1] */
    /* A rank's collective area in node-shared memory (args->shared_bytes):
     * written only by its owner, read by local ops of every rank (the op's
     * `peer`/`opeer` name whose area). */
    RDMX_SB_SHARED = 4,
    RDMX_SB_COUNT = 5,
};

typedef enum rdmx_sop_kind {
    RDMX_SOP_SEND = 0,
    RDMX_SOP_RECV = 1,
    RDMX_SOP_COPY = 2,   /* dst <- src, bytes */
    RDMX_SOP_REDUCE = 3, /* dst <- src op dst (swap: dst <- dst op src) */
    /* dst <- src op other (swap: other op src): a reduction whose result
     * goes to a third buffer, so the input need not first be copied to the
     * output; run in cache-sized pieces. */
    RDMX_SOP_REDUCE3 = 4,
} rdmx_sop_kind_t;

typedef struct rdmx_sop {
    uint8_t kind;
    uint8_t sbuf, dbuf; /* send: sbuf; recv: dbuf; copy/reduce: both */
    uint8_t swap;
    uint8_t obuf; /* reduce3: the other operand */
    uint8_t get;  /* send: let the receiver read it (rendezvous) */
    /* recv (blocking executor): posted, not waited for; the next
     * collective that writes our RDMX_SB_SHARED area waits for it first
     * (rdmx_sched_recv0_release). */
    uint8_t deferred;
    /* copy: needs none of its round's messages (rdmx_sched_copy_early) */
    uint8_t early;
    /* send/recv: the other rank; local ops: whose RDMX_SB_SHARED area
     * sbuf (peer) and obuf (opeer) are; dbuf is always our own. */
    int peer, opeer;
    size_t soff, doff, ooff;
    size_t n; /* bytes (send/recv/copy) or elements (reduce) */
} rdmx_sop_t;

typedef struct rdmx_sched {
    int rank, size;
    rdmx_sop_t *ops;
    size_t nops, ops_cap;
    size_t *rounds; /* first op of each round */
    size_t nrounds, rounds_cap;
    int round_open, round_has_local;
    size_t tmp_bytes[2];
    const rdmx_op_t *op;       /* reduction, NULL for data movement */
    const rdmx_datatype_t *dt; /* reduction element type */
    size_t esize;              /* packed bytes per reduction element */
    rdmx_status_t err;         /* sticky construction error (NOMEM) */
    int writes_shared;         /* a local op writes our RDMX_SB_SHARED */
    int has_early;             /* some copy is early (rdmx_sched_copy_early) */
} rdmx_sched_t;

void rdmx_sched_init(rdmx_sched_t *s, int rank, int size);
void rdmx_sched_fini(rdmx_sched_t *s);
/* Empty the schedule, keeping its arrays for the next one. */
void rdmx_sched_reset(rdmx_sched_t *s, int rank, int size);
/* Append to the current round; zero-byte messages are dropped (both sides
 * drop them alike) unless `rdmx_sched_send0` is used. */
void rdmx_sched_send(rdmx_sched_t *s, int peer, int buf, size_t off,
                     size_t bytes);
void rdmx_sched_send0(rdmx_sched_t *s, int peer); /* zero-byte token */
/* A send the receiver reads from our buffer (rendezvous) even below the
 * transport's eager limit: a root sending distinct blocks to many ranks
 * of one host then leaves the copies to them, in parallel, instead of
 * writing every block into a ring itself. */
void rdmx_sched_send_get(rdmx_sched_t *s, int peer, int buf, size_t off,
                         size_t bytes);
/* Linear bcast on one host sends its buffer of at least this many bytes
 * with rdmx_sched_send_get: every reader pulls the same buffer at once
 * instead of the root writing it into p-1 rings. (Chosen with scatter
 * measurements made before the rings' later changes; scatter now has its
 * own threshold below.) */
#define RDMX_COLL_GET_MIN 16384
/* Scatter blocks differ per reader: up to the shm eager limit (64 KiB)
 * they go through the rings, where the readers copy out in parallel while
 * the root writes the next ring. On shm, medians of 2 runs, us: 2 ranks
 * 16-64 KiB 1.8-4.6 against 4.5-8.0 by GET; 8 ranks on 2 cores 5.6-12
 * against 13-20 (Open MPI's 64 KiB: 50). Above it both are rendezvous,
 * and GET lets the readers pull at once. */
#define RDMX_COLL_SCATTER_GET_MIN 65537
void rdmx_sched_recv(rdmx_sched_t *s, int peer, int buf, size_t off,
                     size_t bytes);
void rdmx_sched_recv0(rdmx_sched_t *s, int peer);
/* A zero-byte token that releases our RDMX_SB_SHARED area ("peer is done
 * reading it"): the blocking executor posts it and returns without
 * waiting; the next schedule that writes the area waits for it first. A
 * collective so ends without a last sync, and the wait usually finds the
 * token long arrived. Elsewhere (simulator, nonblocking) a plain recv0. */
void rdmx_sched_recv0_release(rdmx_sched_t *s, int peer);
void rdmx_sched_copy(rdmx_sched_t *s, int sbuf, size_t soff, int dbuf,
                     size_t doff, size_t bytes);
/* A copy that needs none of the messages of its round and touches none
 * of their bytes: it runs as soon as they are posted, while they move,
 * instead of after them: a scatter's root copies its own block while the
 * others' blocks move. The simulator checks the claim. */
void rdmx_sched_copy_early(rdmx_sched_t *s, int sbuf, size_t soff, int dbuf,
                           size_t doff, size_t bytes);
void rdmx_sched_reduce(rdmx_sched_t *s, int sbuf, size_t soff, int dbuf,
                       size_t doff, size_t count, int swap);
/* dst <- src op other (swap: other op src); a plain reduce when other is
 * dst. */
void rdmx_sched_reduce3(rdmx_sched_t *s, int sbuf, size_t soff, int obuf,
                        size_t ooff, int dbuf, size_t doff, size_t count,
                        int swap);
/* The same with sources in other ranks' RDMX_SB_SHARED areas: sbuf is
 * rank `peer`'s, obuf rank `opeer`'s (for other buffers, our own). */
void rdmx_sched_copy_from(rdmx_sched_t *s, int peer, int sbuf, size_t soff,
                          int dbuf, size_t doff, size_t bytes);
void rdmx_sched_reduce3_from(rdmx_sched_t *s, int peer, int sbuf, size_t soff,
                             int opeer, int obuf, size_t ooff, int dbuf,
                             size_t doff, size_t count, int swap);
/* Close the current round: later operations start a new one. */
void rdmx_sched_round(rdmx_sched_t *s);
/* Reserve scratch buffer `which` (0/1) of at least `bytes`. */
void rdmx_sched_tmp(rdmx_sched_t *s, int which, size_t bytes);
static inline size_t rdmx_sched_round_end(const rdmx_sched_t *s, size_t r)
{
    return r + 1 < s->nrounds ? s->rounds[r + 1] : s->nops;
}

/* ---- collective arguments -------------------------------------------- */
typedef enum rdmx_coll_kind {
    RDMX_COLL_BARRIER,
    RDMX_COLL_BCAST,
    RDMX_COLL_REDUCE,
    RDMX_COLL_ALLREDUCE,
    RDMX_COLL_GATHER,
    RDMX_COLL_GATHERV,
    RDMX_COLL_SCATTER,
    RDMX_COLL_SCATTERV,
    RDMX_COLL_ALLGATHER,
    RDMX_COLL_ALLGATHERV,
    RDMX_COLL_ALLTOALL,
    RDMX_COLL_ALLTOALLV,
    RDMX_COLL_REDUCE_SCATTER,
    RDMX_COLL_SCAN,
    RDMX_COLL_EXSCAN,
    RDMX_COLL_NKINDS
} rdmx_coll_kind_t;

/*
 * What a schedule builder is told. Sizes are packed bytes.
 *   bcast:          RECV holds `bytes` everywhere (the root's input).
 *   reduce/allreduce/scan/exscan: SEND holds `count` elements of
 *                   `esize` bytes; the result goes to RECV (root only for
 *                   reduce). in_place: SEND is bound to RECV's memory.
 *   gather/scatter/allgather/alltoall: `bytes` per rank block; the p-block
 *                   side is laid out densely (block i at i * bytes).
 *   *v variants:    per-rank byte counts `counts[i]` at byte offsets
 *                   `offs[i]` (the p-block side), `sendbytes`/`recvbytes`
 *                   for the one-block side; alltoallv has both arrays.
 *   reduce_scatter: SEND holds the whole vector, RECV gets rank i's block
 *                   of `counts[i]` elements (elements, not bytes).
 */
typedef struct rdmx_coll_args {
    rdmx_coll_kind_t kind;
    int rank, size, root;
    int in_place;
    size_t count, esize; /* reductions */
    const rdmx_op_t *op;
    const rdmx_datatype_t *dt;
    int commutative;
    int single_host; /* every rank of the communicator on one host */
    size_t bytes;          /* per block / bcast message */
    const size_t *counts;  /* v variants: bytes per rank (p-block side) */
    const size_t *offs;    /* v variants: offsets (p-block side) */
    const size_t *rcounts; /* alltoallv: receive side */
    const size_t *roffs;
    size_t segsize; /* pipelining segment, bytes */
    /* Blocking collectives on one host: bytes of every rank's collective
     * area (RDMX_SB_SHARED; 0 = none) and the areas, indexed by rank in the
     * communicator, mapped here (NULL in the simulator, which makes its
     * own). */
    size_t shared_bytes;
    void *const *shared_areas;
} rdmx_coll_args_t;

typedef rdmx_status_t (*rdmx_coll_build_fn)(rdmx_sched_t *s,
                                            const rdmx_coll_args_t *a);

typedef struct rdmx_coll_algo {
    const char *name;
    rdmx_coll_kind_t kind;
    rdmx_coll_build_fn build;
    /* Usable for these arguments? (NULL: always.) */
    int (*usable)(const rdmx_coll_args_t *a);
} rdmx_coll_algo_t;

/* All algorithms, in a table (select.c); `rdmx_coll_algo_find` looks one up
 * by kind and name. */
extern const rdmx_coll_algo_t rdmx_coll_algos[];
extern const size_t rdmx_coll_nalgos;
const rdmx_coll_algo_t *rdmx_coll_algo_find(rdmx_coll_kind_t kind,
                                            const char *name);
const char *rdmx_coll_kind_name(rdmx_coll_kind_t kind);
/* The algorithm for these arguments: the env override if set and usable,
 * else the size-aware default. Deterministic given (kind, size, bytes,
 * op commutativity) so every rank picks the same one. */
const rdmx_coll_algo_t *rdmx_coll_select(const rdmx_coll_args_t *a);
/* Pipelining segment for bcast/reduce from the environment (bytes). */
size_t rdmx_coll_segsize(rdmx_coll_kind_t kind);
/* Build the schedule with a given algorithm (NULL: select). */
rdmx_status_t rdmx_coll_build(rdmx_sched_t *s, const rdmx_coll_args_t *a,
                              const rdmx_coll_algo_t *algo);

/* ---- algorithm builders ---------------------------------------------- */
#define RDMX_DECLARE_BUILD(n)                                                  \
    rdmx_status_t rdmx_coll_##n(rdmx_sched_t *s, const rdmx_coll_args_t *a)
RDMX_DECLARE_BUILD(barrier_dissemination);
RDMX_DECLARE_BUILD(barrier_linear);
RDMX_DECLARE_BUILD(bcast_binomial);
RDMX_DECLARE_BUILD(bcast_linear);
RDMX_DECLARE_BUILD(bcast_pipelined_binomial);
RDMX_DECLARE_BUILD(bcast_scatter_allgather);
RDMX_DECLARE_BUILD(reduce_binomial);
RDMX_DECLARE_BUILD(reduce_pipelined);
RDMX_DECLARE_BUILD(reduce_rabenseifner);
RDMX_DECLARE_BUILD(reduce_shared);
RDMX_DECLARE_BUILD(allreduce_recursive_doubling);
RDMX_DECLARE_BUILD(allreduce_rabenseifner);
RDMX_DECLARE_BUILD(allreduce_ring);
RDMX_DECLARE_BUILD(allreduce_reduce_bcast);
RDMX_DECLARE_BUILD(allreduce_direct);
RDMX_DECLARE_BUILD(allreduce_shared);
RDMX_DECLARE_BUILD(gather_binomial);
RDMX_DECLARE_BUILD(gather_linear);
RDMX_DECLARE_BUILD(gatherv_linear);
RDMX_DECLARE_BUILD(scatter_binomial);
RDMX_DECLARE_BUILD(scatter_linear);
RDMX_DECLARE_BUILD(scatterv_linear);
RDMX_DECLARE_BUILD(allgather_recursive_doubling);
RDMX_DECLARE_BUILD(allgather_bruck);
RDMX_DECLARE_BUILD(allgather_ring);
RDMX_DECLARE_BUILD(allgather_shared);
RDMX_DECLARE_BUILD(allgatherv_ring);
RDMX_DECLARE_BUILD(alltoall_bruck);
RDMX_DECLARE_BUILD(alltoall_pairwise);
RDMX_DECLARE_BUILD(alltoall_shared);
RDMX_DECLARE_BUILD(alltoallv_pairwise);
RDMX_DECLARE_BUILD(reduce_scatter_ring);
RDMX_DECLARE_BUILD(reduce_scatter_reduce_scatterv);
RDMX_DECLARE_BUILD(scan_recursive_doubling);
RDMX_DECLARE_BUILD(exscan_recursive_doubling);
#undef RDMX_DECLARE_BUILD

/* Shared pieces used by several families (append to an open schedule). */
/* Ring allgather over blocks indexed by relative rank (vr = rank - root):
 * steps first .. p - 2, one round each (step i sends block vr - i right
 * and receives block vr - i - 1 from the left), block i at offs[i] of
 * lens[i] bytes in `buf`. */
void rdmx_coll_ring_steps(rdmx_sched_t *s, int buf, const size_t *offs,
                          const size_t *lens, int vr, int root, int p,
                          int first);
/* A sync of the shared-memory collectives (shared.c): every rank of the
 * communicator has reached this point once it completes. */
void rdmx_coll_shared_sync(rdmx_sched_t *s, int r, int p);
/* Wait for every pending release token (rdmx_sched_recv0_release); MPI_Finalize
 * calls it before the transports stop. */
rdmx_status_t rdmx_coll_area_guard_drain(void);
/* Binomial-tree reduction of `a->count` elements into ACC at `tree_root`,
 * children received in TMP2. `*init` names the buffer that holds this
 * rank's contribution until the first reduction writes ACC (it may be ACC
 * itself); it is set to ACC once ACC holds it, and left alone on a rank
 * that only sends. With a non-commutative op the tree must be rooted at 0
 * (rank order). */
void rdmx_coll_reduce_tree_steps(rdmx_sched_t *s, const rdmx_coll_args_t *a,
                                 int acc, int *init, int tree_root);
static inline int rdmx_coll_pof2_floor(int p)
{
    int q = 1;
    while (q * 2 <= p)
        q *= 2;
    return q;
}
/* Split `count` elements into p blocks: block i = [start[i], start[i+1]). */
void rdmx_coll_blocks(size_t count, int p, size_t *start);

/* Real rank of a rank of the power-of-two group left after folding the
 * first 2*rem ranks pairwise. */
static inline int rdmx_coll_unfold(int newrank, int rem)
{
    return newrank < rem ? newrank * 2 + 1 : newrank + rem;
}

/* Rabenseifner's first phase, shared by reduce and allreduce: recursive
 * halving over the pof2 folded ranks, reducing into ACC the block range
 * this rank ends up owning (blocks of `disp`, elements of `es` bytes),
 * receiving partners' halves in `tmp`. `*init` names the buffer holding
 * this rank's vector until the first step writes ACC (it may be ACC); it is
 * ACC on return when pof2 > 1. `ordered` passes rank order to the
 * reduction (non-commutative-safe operand order). On return the owned
 * block range is [*send_idx, *last_idx). */
void rdmx_coll_halving_reduce_scatter(rdmx_sched_t *s, int rank, int newrank,
                                      int rem, int pof2, const size_t *disp,
                                      size_t es, int acc, int *init, int tmp,
                                      int ordered, int *send_idx,
                                      int *last_idx);

/* ---- reductions on packed data (op.c) -------------------------------- */
rdmx_status_t rdmx_op_apply_packed(const rdmx_op_t *op, const void *in,
                                   void *inout, size_t count,
                                   const rdmx_datatype_t *dt);
const char *rdmx_op_name(const rdmx_op_t *op);
void rdmx_op_retain(rdmx_op_t *op);
void rdmx_op_release(rdmx_op_t *op);

/* ---- real execution (exec.c) ----------------------------------------- */
typedef struct rdmx_coll_exec rdmx_coll_exec_t;

/* A running collective: the schedule, the bound buffers, and what to do
 * on completion (unpack packed outputs into user memory, free copies). */
rdmx_coll_exec_t *rdmx_coll_exec_new(rdmx_comm_t *comm);
void rdmx_coll_exec_bind(rdmx_coll_exec_t *x, int buf, void *mem);
/* Memory freed with the collective. */
void *rdmx_coll_exec_alloc(rdmx_coll_exec_t *x, size_t bytes);
/* On completion unpack `bytes` of packed data at `packed` into `count`
 * elements of `dt` at `user` from packed offset `off`. */
rdmx_status_t rdmx_coll_exec_on_done_unpack(rdmx_coll_exec_t *x,
                                            const void *packed, void *user,
                                            size_t count,
                                            const rdmx_datatype_t *dt);
/* Build the schedule for `a` (rdmx_coll_build with the selected algorithm)
 * into the exec, or keep the one already there when it was built for the
 * same arguments: a loop calling one collective builds its schedule once. */
rdmx_status_t rdmx_coll_exec_build(rdmx_coll_exec_t *x,
                                   const rdmx_coll_args_t *a);
/* Start: the tag comes from comm->coll_seq (incremented here). Returns a
 * generic request; on error the exec is freed. */
rdmx_status_t rdmx_coll_exec_start(rdmx_coll_exec_t *x, rdmx_request_t **req);
void rdmx_coll_exec_free(rdmx_coll_exec_t *x);
/* Run to completion in the calling thread (blocking collectives); the exec
 * is freed. */
rdmx_status_t rdmx_coll_exec_run(rdmx_coll_exec_t *x);
/* Free the scratch buffers and exec objects kept for reuse
 * (MPI_Finalize). */
void rdmx_coll_scratch_release_all(void);

/* ---- simulation (sim.c) ---------------------------------------------- */
typedef struct rdmx_sim_cost {
    double alpha, beta, gamma; /* s, s/byte, s/byte reduced */
} rdmx_sim_cost_t;

typedef struct rdmx_sim_result {
    double time;           /* alpha-beta-gamma completion time (max rank) */
    size_t max_rounds;     /* rounds of the longest schedule */
    size_t messages;       /* total messages */
    size_t max_bytes_sent; /* bytes sent by the busiest rank */
    size_t max_bytes_recv;
    double total_bytes;
    size_t max_reduce_bytes;
    char error[256]; /* deadlock / mismatch, "" if none */
} rdmx_sim_result_t;

/* Build every rank's schedule for `args[0..p)` (one entry per rank, p =
 * args[0].size) with `algo` and simulate them: messages are matched per
 * (source, destination) in posting order as in the real engine, times
 * follow the alpha-beta-gamma model (a rank injects its sends one after
 * the other; a round ends when its last message has arrived or left, plus
 * gamma per reduced byte). A schedule that waits for a message nobody
 * sends, or receives a different size than was sent, is reported in
 * res->error. If `mem` is non-NULL, mem[rank][0] / [1] are the SEND/RECV
 * buffers of each rank, scratch is allocated here and data really moves,
 * so the caller can check the results. */
rdmx_status_t rdmx_sim_run(const rdmx_coll_args_t *args,
                           const rdmx_coll_algo_t *algo,
                           const rdmx_sim_cost_t *cost, void *(*mem)[2],
                           rdmx_sim_result_t *res);

#endif
