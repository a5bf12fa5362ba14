/*
 * exec.c — running a schedule on a generic request.
 *
 * The poll function (called by the progress engine) posts the messages of
 * the current round, and once they have all completed runs the round's
 * local operations and moves on; it loops while rounds finish without
 * waiting, so a schedule whose messages are already there advances
 * several rounds in one pass. Blocking collectives are this plus
 * rdmx_request_wait.
 */
#include "coll.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "group.h"
#include "log.h"
#include "request.h"

struct unpack {
    const void *packed;
    void *user;
    size_t count;
    const rdmx_datatype_t *dt;
};

struct block {
    void *mem;
    size_t bytes;
};

struct rdmx_coll_exec {
    rdmx_comm_t *comm;
    rdmx_sched_t s;
    void *buf[RDMX_SB_COUNT];
    void *const *shared; /* RDMX_SB_SHARED of each rank (args) */
    struct block *allocs;
    size_t nallocs, allocs_cap;
    struct unpack *unpacks;
    size_t nunpacks, unpacks_cap;
    int tag;
    size_t round;
    int posted;
    rdmx_request_t **reqs;
    size_t nreqs, reqs_cap;
    void *scratch; /* for swapped reductions */
    size_t scratch_bytes;
    rdmx_datatype_t *dt_hold; /* retained reduction datatype */
    rdmx_op_t *op_hold;
    int comm_held;
    rdmx_coll_args_t key; /* what the schedule in `s` was built for */
    int key_valid;
};

/*
 * Finished exec objects are kept (with their arrays and the schedule they
 * ran) for the next collective: a small collective otherwise spends more
 * time in malloc/free and in rebuilding the same schedule than in moving
 * its bytes (MPI_Bcast of 8 bytes on one rank: 88 ns, most of it that).
 */
#define EXEC_POOL 4
static rdmx_coll_exec_t *exec_pool[EXEC_POOL];
static int exec_pooled;

/*
 * Temporary buffers of collectives are kept for the next call instead of
 * being freed: a large malloc is an mmap (or a brk that free trims again),
 * and every call then pays a page fault and a page clear per 4 KiB — for a
 * 1 MiB reduce that cost more than the reduction. A few blocks, bounded in
 * bytes; the library is used from one thread at a time.
 */
RDMX_CONFIG_VAR("RDMX_COLL_SCRATCH_CACHE", "64m",
                "bytes of collective scratch buffers kept for reuse");
#define SCRATCH_SLOTS 8
static struct block scratch_cache[SCRATCH_SLOTS];
static size_t scratch_cached_bytes;
static size_t scratch_limit = (size_t)-1;

static void *scratch_get(size_t bytes)
{
    int best = -1;
    for (int i = 0; i < SCRATCH_SLOTS; i++)
        if (scratch_cache[i].mem && scratch_cache[i].bytes >= bytes &&
            (best < 0 || scratch_cache[i].bytes < scratch_cache[best].bytes))
            best = i;
    /* A block much larger than asked for would be wasted. */
    if (best >= 0 && scratch_cache[best].bytes / 4 <= bytes) {
        void *m = scratch_cache[best].mem;
        scratch_cached_bytes -= scratch_cache[best].bytes;
        scratch_cache[best].mem = NULL;
        return m;
    }
    return malloc(bytes ? bytes : 1);
}

static void scratch_put(void *mem, size_t bytes)
{
    int slot = -1;
    if (scratch_limit == (size_t)-1)
        scratch_limit = rdmx_config_size("RDMX_COLL_SCRATCH_CACHE");
    for (int i = 0; i < SCRATCH_SLOTS && slot < 0; i++)
        if (!scratch_cache[i].mem)
            slot = i;
    if (slot < 0) {
        /* Full: replace the smallest block if this one is larger. */
        slot = 0;
        for (int i = 1; i < SCRATCH_SLOTS; i++)
            if (scratch_cache[i].bytes < scratch_cache[slot].bytes)
                slot = i;
        if (scratch_cache[slot].bytes >= bytes) {
            free(mem);
            return;
        }
        scratch_cached_bytes -= scratch_cache[slot].bytes;
        free(scratch_cache[slot].mem);
        scratch_cache[slot].mem = NULL;
    }
    if (scratch_cached_bytes + bytes > scratch_limit) {
        free(mem);
        return;
    }
    scratch_cache[slot].mem = mem;
    scratch_cache[slot].bytes = bytes;
    scratch_cached_bytes += bytes;
}

/*
 * Release tokens of the shared-memory collectives (shared.c) that a
 * blocking collective posted but did not wait for: the peers' word that
 * they are done reading our collective area. Waited for before a schedule
 * writes the area again, and at MPI_Finalize. Each holds its
 * communicator.
 */
static rdmx_request_t **guard;
static rdmx_comm_t **guard_comm;
static size_t nguard, guard_cap;

static rdmx_status_t guard_add(rdmx_request_t *r, rdmx_comm_t *comm)
{
    if (nguard == guard_cap) {
        size_t cap = guard_cap ? 2 * guard_cap : 16;
        rdmx_request_t **g = realloc(guard, cap * sizeof(*g));
        if (!g)
            return RDMX_ERR_NOMEM;
        guard = g;
        rdmx_comm_t **c = realloc(guard_comm, cap * sizeof(*c));
        if (!c)
            return RDMX_ERR_NOMEM;
        guard_comm = c;
        guard_cap = cap;
    }
    rdmx_comm_retain(comm);
    guard[nguard] = r;
    guard_comm[nguard++] = comm;
    return RDMX_OK;
}

rdmx_status_t rdmx_coll_area_guard_drain(void)
{
    rdmx_status_t st = RDMX_OK;
    if (!nguard)
        return RDMX_OK;
    rdmx_request_wait_all(guard, nguard);
    for (size_t i = 0; i < nguard; i++) {
        const MPI_Status *ms = rdmx_request_status(guard[i]);
        if (ms->MPI_ERROR != MPI_SUCCESS && st == RDMX_OK)
            st = RDMX_ERR_IO;
        rdmx_request_free(guard[i]);
        rdmx_comm_release(guard_comm[i]);
    }
    nguard = 0;
    if (st != RDMX_OK)
        RDMX_ERROR("collective area: a peer's release token failed");
    return st;
}

static void exec_destroy(rdmx_coll_exec_t *x)
{
    free(x->allocs);
    free(x->unpacks);
    free(x->reqs);
    free(x->scratch);
    rdmx_sched_fini(&x->s);
    free(x);
}

void rdmx_coll_scratch_release_all(void)
{
    while (exec_pooled > 0)
        exec_destroy(exec_pool[--exec_pooled]);
    for (int i = 0; i < SCRATCH_SLOTS; i++) {
        free(scratch_cache[i].mem);
        scratch_cache[i].mem = NULL;
    }
    scratch_cached_bytes = 0;
}

rdmx_coll_exec_t *rdmx_coll_exec_new(rdmx_comm_t *comm)
{
    rdmx_coll_exec_t *x;
    if (exec_pooled > 0) {
        x = exec_pool[--exec_pooled];
        /* Per-call state only; arrays and the last schedule stay. */
        memset(x->buf, 0, sizeof(x->buf));
        x->nallocs = x->nunpacks = x->nreqs = 0;
        x->round = 0;
        x->posted = 0;
        x->tag = 0;
        x->dt_hold = NULL;
        x->op_hold = NULL;
        x->comm_held = 0;
    } else {
        x = calloc(1, sizeof(*x));
        if (!x)
            return NULL;
        rdmx_sched_init(&x->s, comm->rank, comm->size);
    }
    x->comm = comm;
    return x;
}

static int same_schedule_args(const rdmx_coll_args_t *k,
                              const rdmx_coll_args_t *a)
{
    return k->kind == a->kind && k->rank == a->rank && k->size == a->size &&
           k->root == a->root && k->in_place == a->in_place &&
           k->count == a->count && k->esize == a->esize &&
           k->commutative == a->commutative &&
           k->single_host == a->single_host && k->bytes == a->bytes &&
           k->segsize == a->segsize && k->shared_bytes == a->shared_bytes;
}

rdmx_status_t rdmx_coll_exec_build(rdmx_coll_exec_t *x,
                                   const rdmx_coll_args_t *a)
{
    rdmx_sched_t *s = &x->s;
    x->shared = a->shared_areas;
    /* v variants depend on their arrays' contents: always built. */
    int keyable = !a->counts && !a->offs && !a->rcounts && !a->roffs;
    if (keyable && x->key_valid && same_schedule_args(&x->key, a)) {
        s->op = a->op;
        s->dt = a->dt;
        s->esize = a->esize;
        return RDMX_OK;
    }
    x->key_valid = 0;
    rdmx_sched_reset(s, a->rank, a->size);
    rdmx_status_t st = rdmx_coll_build(s, a, NULL);
    if (st == RDMX_OK && keyable) {
        x->key = *a;
        x->key_valid = 1;
    }
    return st;
}

void rdmx_coll_exec_bind(rdmx_coll_exec_t *x, int buf, void *mem)
{
    x->buf[buf] = mem;
}

void *rdmx_coll_exec_alloc(rdmx_coll_exec_t *x, size_t bytes)
{
    if (x->nallocs == x->allocs_cap) {
        size_t cap = x->allocs_cap ? 2 * x->allocs_cap : 8;
        struct block *a = realloc(x->allocs, cap * sizeof(*a));
        if (!a)
            return NULL;
        x->allocs = a;
        x->allocs_cap = cap;
    }
    void *m = scratch_get(bytes);
    if (m)
        x->allocs[x->nallocs++] = (struct block){m, bytes ? bytes : 1};
    return m;
}

rdmx_status_t rdmx_coll_exec_on_done_unpack(rdmx_coll_exec_t *x,
                                            const void *packed, void *user,
                                            size_t count,
                                            const rdmx_datatype_t *dt)
{
    if (x->nunpacks == x->unpacks_cap) {
        size_t cap = x->unpacks_cap ? 2 * x->unpacks_cap : 4;
        struct unpack *u = realloc(x->unpacks, cap * sizeof(*u));
        if (!u)
            return RDMX_ERR_NOMEM;
        x->unpacks = u;
        x->unpacks_cap = cap;
    }
    x->unpacks[x->nunpacks++] = (struct unpack){packed, user, count, dt};
    return RDMX_OK;
}

void rdmx_coll_exec_free(rdmx_coll_exec_t *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->nreqs; i++)
        rdmx_request_free(x->reqs[i]);
    for (size_t i = 0; i < x->nallocs; i++)
        scratch_put(x->allocs[i].mem, x->allocs[i].bytes);
    x->nreqs = 0;
    x->nallocs = 0;
    rdmx_dt_release(x->dt_hold);
    rdmx_op_release(x->op_hold);
    x->dt_hold = NULL;
    x->op_hold = NULL;
    if (x->comm_held)
        rdmx_comm_release(x->comm);
    x->comm_held = 0;
    x->comm = NULL;
    if (x->s.err || exec_pooled == EXEC_POOL) {
        exec_destroy(x);
        return;
    }
    exec_pool[exec_pooled++] = x;
}

/* Buffer `buf` at `off`; a RDMX_SB_SHARED buffer is rank `owner`'s. */
static char *addr_of(rdmx_coll_exec_t *x, int buf, int owner, size_t off)
{
    if (buf == RDMX_SB_SHARED)
        return (char *)x->shared[owner] + off;
    return (char *)x->buf[buf] + off;
}

static char *addr(rdmx_coll_exec_t *x, int buf, size_t off)
{
    return addr_of(x, buf, x->s.rank, off);
}

/* `inline_sends`: the caller is a blocking collective (not a poll from the
 * progress engine, which must not wait), so an eager send is written out
 * at once without a request (rdmx_send_eager_blocking). */
static rdmx_status_t post_round(rdmx_coll_exec_t *x, int inline_sends)
{
    rdmx_sched_t *s = &x->s;
    size_t lo = s->rounds[x->round], hi = rdmx_sched_round_end(s, x->round);
    x->nreqs = 0;
    for (size_t i = lo; i < hi; i++) {
        const rdmx_sop_t *o = &s->ops[i];
        if (o->kind != RDMX_SOP_SEND && o->kind != RDMX_SOP_RECV)
            continue;
        if (x->nreqs == x->reqs_cap) {
            size_t cap = x->reqs_cap ? 2 * x->reqs_cap : 8;
            rdmx_request_t **r = realloc(x->reqs, cap * sizeof(*r));
            if (!r)
                return RDMX_ERR_NOMEM;
            x->reqs = r;
            x->reqs_cap = cap;
        }
        rdmx_request_t *r = NULL;
        rdmx_status_t st;
        if (o->kind == RDMX_SOP_RECV && o->deferred && inline_sends) {
            st = rdmx_irecv(NULL, 0, MPI_BYTE, o->peer, x->tag, x->comm,
                            RDMX_CTX_COLL, &r);
            if (st == RDMX_OK && (st = guard_add(r, x->comm)) != RDMX_OK)
                rdmx_request_free(r); /* recycled once the token arrives */
            if (st != RDMX_OK) {
                RDMX_ERROR("collective on comm %u: release token from rank "
                           "%d: %s",
                           (unsigned)x->comm->context_id, o->peer,
                           rdmx_status_str(st));
                return st;
            }
            continue;
        }
        if (o->kind == RDMX_SOP_SEND && inline_sends && !o->get) {
            st = rdmx_send_eager_blocking(addr(x, o->sbuf, o->soff), o->n,
                                          MPI_BYTE, o->peer, x->tag, x->comm,
                                          RDMX_CTX_COLL);
            if (st == RDMX_OK)
                continue;
            if (st != RDMX_ERR_AGAIN) {
                RDMX_ERROR("collective on comm %u: send to rank %d failed: %s",
                           (unsigned)x->comm->context_id, o->peer,
                           rdmx_status_str(st));
                return st;
            }
        }
        if (o->kind == RDMX_SOP_SEND)
            st = rdmx_isend(addr(x, o->sbuf, o->soff), o->n, MPI_BYTE, o->peer,
                            x->tag, x->comm, RDMX_CTX_COLL,
                            RDMX_SEND_STANDARD |
                                (o->get ? RDMX_SEND_FLAG_GET : 0),
                            &r);
        else
            st = rdmx_irecv(addr(x, o->dbuf, o->doff), o->n, MPI_BYTE, o->peer,
                            x->tag, x->comm, RDMX_CTX_COLL, &r);
        if (st != RDMX_OK) {
            RDMX_ERROR("collective on comm %u: %s to rank %d failed: %s",
                       (unsigned)x->comm->context_id,
                       o->kind == RDMX_SOP_SEND ? "send" : "receive", o->peer,
                       rdmx_status_str(st));
            return st;
        }
        x->reqs[x->nreqs++] = r;
    }
    return RDMX_OK;
}

/* dst <- src op dst (swap: dst <- dst op src). */
static rdmx_status_t reduce2(rdmx_coll_exec_t *x, const char *src, char *dst,
                             size_t n, int swap)
{
    rdmx_sched_t *s = &x->s;
    if (!swap)
        return rdmx_op_apply_packed(s->op, src, dst, n, s->dt);
    /* dst = dst op src: reduce into a copy of src. */
    size_t bytes = n * s->esize;
    if (bytes > x->scratch_bytes) {
        void *m = realloc(x->scratch, bytes);
        if (!m)
            return RDMX_ERR_NOMEM;
        x->scratch = m;
        x->scratch_bytes = bytes;
    }
    memcpy(x->scratch, src, bytes);
    rdmx_status_t st = rdmx_op_apply_packed(s->op, dst, x->scratch, n, s->dt);
    memcpy(dst, x->scratch, bytes);
    return st;
}

/* dst <- src op other (swap: other op src), a piece at a time: the piece
 * copied into dst is still in the cache when the reduction reads it back,
 * so the result costs one pass over memory instead of a copy pass and a
 * reduction pass. */
#define REDUCE3_PIECE 16384
static rdmx_status_t reduce3(rdmx_coll_exec_t *x, const rdmx_sop_t *o)
{
    rdmx_sched_t *s = &x->s;
    const char *src = addr_of(x, o->sbuf, o->peer, o->soff);
    const char *other = addr_of(x, o->obuf, o->opeer, o->ooff);
    char *dst = addr(x, o->dbuf, o->doff);
    /* In place, the input is the output's memory under another name. */
    if (other == dst)
        return reduce2(x, src, dst, o->n, o->swap);
    size_t es = s->esize;
    if (!es)
        return RDMX_OK; /* elements without bytes: nothing to combine */
    size_t step = es < REDUCE3_PIECE ? REDUCE3_PIECE / es : 1;
    /* Copy the right-hand operand into dst, reduce the left one into it. */
    const char *right = o->swap ? src : other, *left = o->swap ? other : src;
    for (size_t i = 0; i < o->n; i += step) {
        size_t k = o->n - i < step ? o->n - i : step;
        memcpy(dst + i * es, right + i * es, k * es);
        rdmx_status_t st =
            rdmx_op_apply_packed(s->op, left + i * es, dst + i * es, k, s->dt);
        if (st != RDMX_OK)
            return st;
    }
    return RDMX_OK;
}

/* The current round's local operations: the early ones (right after its
 * messages are posted) or the others (after they completed). */
static rdmx_status_t run_locals(rdmx_coll_exec_t *x, int early)
{
    rdmx_sched_t *s = &x->s;
    size_t lo = s->rounds[x->round], hi = rdmx_sched_round_end(s, x->round);
    for (size_t i = lo; i < hi; i++) {
        const rdmx_sop_t *o = &s->ops[i];
        rdmx_status_t st = RDMX_OK;
        if (o->early != early)
            continue;
        if (o->kind == RDMX_SOP_COPY)
            memmove(addr(x, o->dbuf, o->doff),
                    addr_of(x, o->sbuf, o->peer, o->soff), o->n);
        else if (o->kind == RDMX_SOP_REDUCE)
            st = reduce2(x, addr_of(x, o->sbuf, o->peer, o->soff),
                         addr(x, o->dbuf, o->doff), o->n, o->swap);
        else if (o->kind == RDMX_SOP_REDUCE3)
            st = reduce3(x, o);
        if (st != RDMX_OK)
            return st;
    }
    return RDMX_OK;
}

static void finish(rdmx_coll_exec_t *x)
{
    for (size_t i = 0; i < x->nunpacks; i++) {
        struct unpack *u = &x->unpacks[i];
        rdmx_dt_unpack(u->dt, u->user, u->count, 0, u->packed,
                       u->count * u->dt->size);
    }
}

/* The messages of the current round have all completed: check them, free
 * them and run the round's local operations. */
static rdmx_status_t end_round(rdmx_coll_exec_t *x)
{
    rdmx_status_t st = RDMX_OK;
    for (size_t i = 0; i < x->nreqs; i++) {
        const MPI_Status *ms = rdmx_request_status(x->reqs[i]);
        if (ms->MPI_ERROR != MPI_SUCCESS && st == RDMX_OK)
            st = ms->MPI_ERROR == MPI_ERR_TRUNCATE ? RDMX_ERR_TRUNCATE
                                                   : RDMX_ERR_IO;
        rdmx_request_free(x->reqs[i]);
    }
    x->nreqs = 0;
    if (st != RDMX_OK) {
        RDMX_ERROR("collective on comm %u: a message failed in round %zu: %s",
                   (unsigned)x->comm->context_id, x->round,
                   rdmx_status_str(st));
        return st;
    }
    st = run_locals(x, 0);
    x->round++;
    x->posted = 0;
    return st;
}

/* Returns RDMX_OK when it advanced, RDMX_INPROGRESS when waiting. */
static rdmx_status_t exec_poll(rdmx_request_t *req)
{
    rdmx_coll_exec_t *x = rdmx_request_generic_arg(req);
    rdmx_sched_t *s = &x->s;
    int advanced = 0;
    rdmx_status_t st = RDMX_OK;
    while (x->round < s->nrounds) {
        if (!x->posted) {
            st = post_round(x, 0);
            if (st == RDMX_OK && s->has_early)
                st = run_locals(x, 1);
            if (st != RDMX_OK)
                goto fail;
            x->posted = 1;
            advanced = 1;
        }
        for (size_t i = 0; i < x->nreqs; i++)
            if (!rdmx_request_done(x->reqs[i]))
                return advanced ? RDMX_OK : RDMX_INPROGRESS;
        st = end_round(x);
        if (st != RDMX_OK)
            goto fail;
        advanced = 1;
    }
    finish(x);
    rdmx_request_generic_complete(req, RDMX_OK);
    return RDMX_OK;
fail:
    rdmx_request_generic_complete(req, st);
    return st;
}

static void exec_free(rdmx_request_t *req)
{
    rdmx_coll_exec_free(rdmx_request_generic_arg(req));
}

static rdmx_status_t bind_scratch(rdmx_coll_exec_t *x)
{
    rdmx_sched_t *s = &x->s;
    for (int i = 0; i < 2; i++) {
        if (s->tmp_bytes[i]) {
            x->buf[RDMX_SB_TMP + i] = rdmx_coll_exec_alloc(x, s->tmp_bytes[i]);
            if (!x->buf[RDMX_SB_TMP + i])
                return RDMX_ERR_NOMEM;
        }
    }
    return RDMX_OK;
}

/*
 * A blocking collective runs its schedule here, round by round, waiting on
 * the round's messages directly: the same schedule as the nonblocking
 * call, without a generic request for the progress engine to poll (8-byte
 * bcasts streamed on 2 ranks: 0.085-0.093 us per call against
 * 0.105-0.115 through the request).
 */
rdmx_status_t rdmx_coll_exec_run(rdmx_coll_exec_t *x)
{
    rdmx_sched_t *s = &x->s;
    rdmx_status_t st = bind_scratch(x);
    x->tag = (int)(x->comm->coll_seq++ & 0x7fffffff);
    /* Our area may still be read by the last collective's peers. */
    if (st == RDMX_OK && s->writes_shared)
        st = rdmx_coll_area_guard_drain();
    while (st == RDMX_OK && x->round < s->nrounds) {
        st = post_round(x, 1);
        if (st == RDMX_OK && s->has_early)
            st = run_locals(x, 1);
        if (st != RDMX_OK)
            break;
        rdmx_request_wait_all(x->reqs, x->nreqs);
        st = end_round(x);
    }
    if (st == RDMX_OK)
        finish(x);
    rdmx_coll_exec_free(x);
    return st;
}

rdmx_status_t rdmx_coll_exec_start(rdmx_coll_exec_t *x, rdmx_request_t **req)
{
    rdmx_sched_t *s = &x->s;
    if (bind_scratch(x) != RDMX_OK) {
        rdmx_coll_exec_free(x);
        return RDMX_ERR_NOMEM;
    }
    /* Keep user-defined reduction objects alive while nonblocking
     * collectives run even if the user frees them. */
    if (s->dt && !s->dt->predefined) {
        x->dt_hold = (rdmx_datatype_t *)s->dt;
        rdmx_dt_retain(x->dt_hold);
    }
    if (s->op && !s->op->predefined) {
        x->op_hold = (rdmx_op_t *)s->op;
        rdmx_op_retain(x->op_hold);
    }
    rdmx_comm_retain(x->comm);
    x->comm_held = 1;
    x->tag = (int)(x->comm->coll_seq++ & 0x7fffffff);
    rdmx_request_t *r =
        rdmx_request_generic_new(x->comm, exec_poll, exec_free, x);
    if (!r) {
        rdmx_coll_exec_free(x);
        return RDMX_ERR_NOMEM;
    }
    *req = r;
    exec_poll(r);
    return RDMX_OK;
}
