/*
 * mpi_coll.c — the MPI collective calls: argument validation, binding user
 * buffers (packed copies for non-contiguous datatypes), building the
 * schedule and running it. A blocking call and its nonblocking
 * counterpart build the same schedule; the blocking one runs it in place
 * (rdmx_coll_exec_run), the nonblocking one as a generic request driven by
 * the progress engine, so there is one implementation of each algorithm.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll.h"
#include "errors.h"
#include "request.h"
#include "runtime.h"

/* One collective being set up. */
typedef struct cctx {
    const char *call;
    rdmx_comm_t *comm;
    rdmx_coll_exec_t *x;
    rdmx_coll_args_t a;
    size_t *arrays; /* counts/offs for v variants, freed after build */
} cctx_t;

__attribute__((format(printf, 3, 4))) static int err(cctx_t *c, int cls,
                                                     const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->x) {
        rdmx_coll_exec_free(c->x);
        c->x = NULL;
    }
    free(c->arrays);
    c->arrays = NULL;
    return rdmx_mpi_error(c->comm, cls, c->call, "%s", msg);
}

static int nomem(cctx_t *c)
{
    return err(c, MPI_ERR_NO_MEM, "out of memory");
}

/* Whether all ranks of comm share this host (then large messages move by
 * single-copy reads between processes). Every rank reaches the same
 * answer: if one member is elsewhere, every rank sees a member elsewhere. */
static int comm_single_host(rdmx_comm_t *comm)
{
    if (!comm->single_host) {
        int same = 1;
        for (int i = 0; i < comm->size && same; i++)
            same = rdmx_rt_same_host(&rdmx_rt, rdmx_comm_world_rank(comm, i));
        comm->single_host = same ? 2 : 1;
    }
    return comm->single_host == 2;
}

/* Every rank's collective area (transport op coll_area), or none. Every
 * rank reaches the same answer as long as all run with the same transport
 * settings: the areas exist on every rank of a node or on none, and a
 * member reached by another transport has none for anybody. */
static void comm_shared_areas(rdmx_comm_t *comm)
{
    comm->coll_areas_known = 1;
    /* Ours first (we are served by self, not by the area's transport):
     * without one, no endpoint towards the others is made for nothing. */
    void *own = NULL;
    size_t bytes = 0;
    for (int t = 0; t < rdmx_rt.ntransports && !own; t++) {
        rdmx_transport_t *tp = rdmx_rt.transports[t];
        if (tp->ops->coll_area)
            own = tp->ops->coll_area(tp, NULL, &bytes);
    }
    if (!own)
        return;
    void **areas = calloc((size_t)comm->size, sizeof(*areas));
    if (!areas)
        return;
    for (int i = 0; i < comm->size; i++) {
        int w = rdmx_comm_world_rank(comm, i);
        rdmx_transport_t *tp;
        rdmx_ep_t *ep;
        size_t b = 0;
        if (w == rdmx_rt.rank) {
            areas[i] = own;
            continue;
        }
        if (rdmx_rt_get_ep(&rdmx_rt, w, &tp, &ep) == RDMX_OK &&
            tp->ops->coll_area)
            areas[i] = tp->ops->coll_area(tp, ep, &b);
        if (!areas[i] || b != bytes) {
            free(areas);
            return;
        }
    }
    comm->coll_areas = areas;
    comm->coll_area_bytes = bytes;
}

static int begin(cctx_t *c, MPI_Comm comm, const char *call,
                 rdmx_coll_kind_t kind)
{
    memset(c, 0, sizeof(*c));
    c->call = call;
    if (rdmx_comm_check(comm) != RDMX_OK)
        return rdmx_mpi_error(NULL, MPI_ERR_COMM, call, "invalid communicator");
    c->comm = comm;
    c->a.kind = kind;
    c->a.rank = comm->rank;
    c->a.size = comm->size;
    c->a.single_host = comm_single_host(comm);
    c->x = rdmx_coll_exec_new(comm);
    if (!c->x)
        return nomem(c);
    return MPI_SUCCESS;
}

static int check_count(cctx_t *c, int count, const char *what)
{
    if (count < 0)
        return err(c, MPI_ERR_COUNT, "%s %d is negative", what, count);
    return MPI_SUCCESS;
}

static int check_dt(cctx_t *c, MPI_Datatype dt, const char *what)
{
    if (!dt)
        return err(c, MPI_ERR_TYPE, "%s is MPI_DATATYPE_NULL", what);
    if (rdmx_dt_check(dt) != RDMX_OK)
        return err(c, MPI_ERR_TYPE, "%s is not committed", what);
    return MPI_SUCCESS;
}

static int check_root(cctx_t *c, int root)
{
    if (root < 0 || root >= c->comm->size)
        return err(c, MPI_ERR_ROOT, "root %d out of range [0,%d)", root,
                   c->comm->size);
    c->a.root = root;
    return MPI_SUCCESS;
}

static int check_buf(cctx_t *c, const void *buf, int count, MPI_Datatype dt,
                     const char *what)
{
    if (!buf && count > 0 && dt->contiguous && dt->size)
        return err(c, MPI_ERR_BUFFER, "%s is NULL with count %d", what, count);
    return MPI_SUCCESS;
}

static int check_op(cctx_t *c, MPI_Op op, MPI_Datatype dt)
{
    if (!op)
        return err(c, MPI_ERR_OP, "op is MPI_OP_NULL");
    if (rdmx_op_check(op, dt) != RDMX_OK) {
        char what[160];
        snprintf(what, sizeof(what), "%s is not defined on %s",
                 rdmx_op_name(op), dt->name[0] ? dt->name : "this datatype");
        return err(c, MPI_ERR_OP, "%s", what);
    }
    c->a.op = op;
    c->a.dt = dt;
    c->a.esize = dt->size;
    c->a.commutative = op->commutative;
    return MPI_SUCCESS;
}

/* ---- buffers --------------------------------------------------------- */

/* An input of `count` elements as a packed stream. */
static void *in_buf(cctx_t *c, const void *buf, size_t count, MPI_Datatype dt)
{
    if (dt->contiguous)
        return (void *)buf;
    void *p = rdmx_coll_exec_alloc(c->x, count * dt->size);
    if (p)
        rdmx_dt_pack(dt, buf, count, 0, p, count * dt->size);
    return p;
}

/* An output (prefill: it is also an input). */
static void *out_buf(cctx_t *c, void *buf, size_t count, MPI_Datatype dt,
                     int prefill, int unpack)
{
    if (dt->contiguous)
        return buf;
    void *p = rdmx_coll_exec_alloc(c->x, count * dt->size);
    if (!p)
        return NULL;
    if (prefill)
        rdmx_dt_pack(dt, buf, count, 0, p, count * dt->size);
    if (unpack &&
        rdmx_coll_exec_on_done_unpack(c->x, p, buf, count, dt) != RDMX_OK)
        return NULL;
    return p;
}

/* The p-block side of a v variant: byte offsets and lengths in *offs and
 * *lens (allocated in c->arrays). */
static void *v_buf(cctx_t *c, void *buf, const int *counts, const int *displs,
                   MPI_Datatype dt, int is_out, int prefill, size_t *offs,
                   size_t *lens)
{
    int p = c->comm->size;
    ptrdiff_t ext = rdmx_dt_extent(dt);
    if (dt->contiguous) {
        for (int i = 0; i < p; i++) {
            offs[i] = (size_t)((ptrdiff_t)displs[i] * ext);
            lens[i] = (size_t)counts[i] * dt->size;
        }
        return buf;
    }
    size_t total = 0;
    for (int i = 0; i < p; i++) {
        offs[i] = total;
        lens[i] = (size_t)counts[i] * dt->size;
        total += lens[i];
    }
    char *pk = rdmx_coll_exec_alloc(c->x, total);
    if (!pk)
        return NULL;
    for (int i = 0; i < p; i++) {
        char *u = (char *)buf + (ptrdiff_t)displs[i] * ext;
        if (!is_out || prefill)
            rdmx_dt_pack(dt, u, (size_t)counts[i], 0, pk + offs[i], lens[i]);
        if (is_out && counts[i] &&
            rdmx_coll_exec_on_done_unpack(c->x, pk + offs[i], u,
                                          (size_t)counts[i], dt) != RDMX_OK)
            return NULL;
    }
    return pk;
}

static int check_counts(cctx_t *c, const int *counts, const int *displs,
                        const char *what)
{
    if (!counts || (!displs && what))
        return err(c, MPI_ERR_ARG, "%s array is NULL",
                   counts ? "displacement" : "count");
    for (int i = 0; i < c->comm->size; i++)
        if (counts[i] < 0)
            return err(c, MPI_ERR_COUNT, "%s is negative (%d)",
                       what ? what : "recvcounts[i]", counts[i]);
    return MPI_SUCCESS;
}

static size_t *arrays(cctx_t *c, int n)
{
    c->arrays = calloc((size_t)n * (size_t)(c->comm->size + 1), sizeof(size_t));
    return c->arrays;
}

/* ---- running --------------------------------------------------------- */

#define TRY(expr)                                                              \
    do {                                                                       \
        int rc_ = (expr);                                                      \
        if (rc_ != MPI_SUCCESS)                                                \
            return rc_;                                                        \
    } while (0)

/* Build the schedule; on failure the exec is gone and the error raised. */
static int build(cctx_t *c)
{
    if (c->a.kind == RDMX_COLL_BCAST || c->a.kind == RDMX_COLL_REDUCE)
        c->a.segsize = rdmx_coll_segsize(c->a.kind);
    rdmx_status_t st = rdmx_coll_exec_build(c->x, &c->a);
    free(c->arrays);
    c->arrays = NULL;
    if (st != RDMX_OK) {
        rdmx_coll_exec_free(c->x);
        c->x = NULL;
        return rdmx_mpi_error_status(c->comm, st, c->call);
    }
    return MPI_SUCCESS;
}

static int start(cctx_t *c, MPI_Request *request)
{
    TRY(build(c));
    rdmx_request_t *req;
    rdmx_status_t st = rdmx_coll_exec_start(c->x, &req);
    c->x = NULL;
    if (st != RDMX_OK)
        return rdmx_mpi_error_status(c->comm, st, c->call);
    *request = (MPI_Request)req;
    return MPI_SUCCESS;
}

static int run(cctx_t *c)
{
    /* Only blocking collectives use the areas: one runs at a time on a
     * rank (MPI_THREAD_SERIALIZED at most), and it ends only when every
     * rank is done reading them. Nonblocking ones never match blocking
     * ones, so they may choose differently. */
    if ((c->a.kind == RDMX_COLL_ALLREDUCE || c->a.kind == RDMX_COLL_REDUCE ||
         c->a.kind == RDMX_COLL_ALLGATHER ||
         c->a.kind == RDMX_COLL_ALLTOALL) &&
        c->a.single_host) {
        if (!c->comm->coll_areas_known)
            comm_shared_areas(c->comm);
        c->a.shared_bytes = c->comm->coll_area_bytes;
        c->a.shared_areas = c->comm->coll_areas;
    }
    TRY(build(c));
    rdmx_status_t st = rdmx_coll_exec_run(c->x);
    c->x = NULL;
    if (st != RDMX_OK)
        return rdmx_mpi_error(c->comm, rdmx_status_to_mpi_class(st), c->call,
                              "the collective failed (see the log above)");
    return MPI_SUCCESS;
}

static int null_req(cctx_t *c, MPI_Request *request)
{
    if (!request)
        return err(c, MPI_ERR_REQUEST, "request pointer is NULL");
    return MPI_SUCCESS;
}

#define NEED(ptr)                                                              \
    do {                                                                       \
        if (!(ptr) && c->x)                                                    \
            return nomem(c);                                                   \
    } while (0)

/* ---- setup per collective -------------------------------------------- */

static int barrier_setup(cctx_t *c, MPI_Comm comm, const char *call)
{
    return begin(c, comm, call, RDMX_COLL_BARRIER);
}

static int bcast_setup(cctx_t *c, void *buffer, int count, MPI_Datatype dt,
                       int root, MPI_Comm comm, const char *call)
{
    TRY(begin(c, comm, call, RDMX_COLL_BCAST));
    TRY(check_count(c, count, "count"));
    TRY(check_dt(c, dt, "datatype"));
    TRY(check_root(c, root));
    TRY(check_buf(c, buffer, count, dt, "buffer"));
    int me = comm->rank == root;
    void *b = out_buf(c, buffer, (size_t)count, dt, me, !me);
    if (!b && count && dt->size && !dt->contiguous)
        return nomem(c);
    rdmx_coll_exec_bind(c->x, RDMX_SB_RECV, b);
    c->a.bytes = (size_t)count * dt->size;
    return MPI_SUCCESS;
}

/* Reductions: allreduce/reduce/scan/exscan. */
static int red_setup(cctx_t *c, rdmx_coll_kind_t kind, const void *sendbuf,
                     void *recvbuf, int count, MPI_Datatype dt, MPI_Op op,
                     int root, MPI_Comm comm, const char *call)
{
    TRY(begin(c, comm, call, kind));
    TRY(check_count(c, count, "count"));
    TRY(check_dt(c, dt, "datatype"));
    if (kind == RDMX_COLL_REDUCE)
        TRY(check_root(c, root));
    TRY(check_op(c, op, dt));
    int is_root = kind != RDMX_COLL_REDUCE || comm->rank == root;
    int in_place = sendbuf == MPI_IN_PLACE;
    if (in_place && !is_root)
        return err(c, MPI_ERR_BUFFER,
                   "MPI_IN_PLACE is only valid at the root (%d)", root);
    TRY(check_buf(c, in_place ? recvbuf : sendbuf, count, dt, "sendbuf"));
    if (is_root)
        TRY(check_buf(c, recvbuf, count, dt, "recvbuf"));
    size_t n = (size_t)count;
    void *rb = NULL;
    if (is_root) {
        rb =
            out_buf(c, recvbuf, n, dt, in_place || kind == RDMX_COLL_EXSCAN, 1);
        NEED(rb || dt->contiguous);
    }
    void *sb = in_place ? rb : in_buf(c, sendbuf, n, dt);
    NEED(sb || dt->contiguous);
    rdmx_coll_exec_bind(c->x, RDMX_SB_SEND, sb);
    rdmx_coll_exec_bind(c->x, RDMX_SB_RECV, rb);
    c->a.count = n;
    c->a.in_place = in_place;
    return MPI_SUCCESS;
}

static int gs_check(cctx_t *c, const void *buf, int count, MPI_Datatype dt,
                    const char *cname, const char *tname)
{
    TRY(check_count(c, count, cname));
    TRY(check_dt(c, dt, tname));
    return check_buf(c, buf, count, dt, cname);
}

static int gather_setup(cctx_t *c, const void *sendbuf, int sendcount,
                        MPI_Datatype sendtype, void *recvbuf, int recvcount,
                        MPI_Datatype recvtype, int root, MPI_Comm comm,
                        const char *call)
{
    TRY(begin(c, comm, call, RDMX_COLL_GATHER));
    TRY(check_root(c, root));
    int me = comm->rank == root, p = comm->size;
    int in_place = me && sendbuf == MPI_IN_PLACE;
    if (!in_place)
        TRY(gs_check(c, sendbuf, sendcount, sendtype, "sendcount", "sendtype"));
    if (me)
        TRY(gs_check(c, recvbuf, recvcount, recvtype, "recvcount", "recvtype"));
    size_t b = me ? (size_t)recvcount * recvtype->size
                  : (size_t)sendcount * sendtype->size;
    if (me && !in_place && (size_t)sendcount * sendtype->size != b)
        return err(c, MPI_ERR_TRUNCATE,
                   "root's send block of %lld bytes differs from its receive "
                   "block",
                   (long long)sendcount * sendtype->size);
    char *rb = NULL;
    if (me) {
        rb = out_buf(c, recvbuf, (size_t)recvcount * p, recvtype, in_place, 1);
        NEED(rb || recvtype->contiguous);
    }
    void *sb = in_place ? rb + (size_t)root * b
                        : in_buf(c, sendbuf, (size_t)sendcount, sendtype);
    NEED(sb || in_place || sendtype->contiguous);
    rdmx_coll_exec_bind(c->x, RDMX_SB_SEND, sb);
    rdmx_coll_exec_bind(c->x, RDMX_SB_RECV, rb);
    c->a.bytes = b;
    c->a.in_place = in_place;
    return MPI_SUCCESS;
}

static int scatter_setup(cctx_t *c, const void *sendbuf, int sendcount,
                         MPI_Datatype sendtype, void *recvbuf, int recvcount,
                         MPI_Datatype recvtype, int root, MPI_Comm comm,
                         const char *call)
{
    TRY(begin(c, comm, call, RDMX_COLL_SCATTER));
    TRY(check_root(c, root));
    int me = comm->rank == root, p = comm->size;
    int in_place = me && recvbuf == MPI_IN_PLACE;
    if (me)
        TRY(gs_check(c, sendbuf, sendcount, sendtype, "sendcount", "sendtype"));
    if (!in_place)
        TRY(gs_check(c, recvbuf, recvcount, recvtype, "recvcount", "recvtype"));
    size_t b = me ? (size_t)sendcount * sendtype->size
                  : (size_t)recvcount * recvtype->size;
    if (me && !in_place && (size_t)recvcount * recvtype->size != b)
        return err(c, MPI_ERR_TRUNCATE,
                   "root's receive block %lld bytes differs from its send "
                   "block",
                   (long long)recvcount * recvtype->size);
    char *sb = NULL;
    if (me) {
        sb = in_buf(c, sendbuf, (size_t)sendcount * p, sendtype);
        NEED(sb || sendtype->contiguous);
    }
    void *rb = in_place
                   ? sb + (size_t)root * b
                   : out_buf(c, recvbuf, (size_t)recvcount, recvtype, 0, 1);
    NEED(rb || in_place || recvtype->contiguous);
    rdmx_coll_exec_bind(c->x, RDMX_SB_SEND, sb);
    rdmx_coll_exec_bind(c->x, RDMX_SB_RECV, rb);
    c->a.bytes = b;
    c->a.in_place = in_place;
    return MPI_SUCCESS;
}

static int allgather_setup(cctx_t *c, rdmx_coll_kind_t kind,
                           const void *sendbuf, int sendcount,
                           MPI_Datatype sendtype, void *recvbuf, int recvcount,
                           MPI_Datatype recvtype, MPI_Comm comm,
                           const char *call)
{
    TRY(begin(c, comm, call, kind));
    int p = comm->size, r = comm->rank;
    int in_place = sendbuf == MPI_IN_PLACE;
    if (in_place && kind == RDMX_COLL_ALLTOALL)
        TRY(gs_check(c, recvbuf, recvcount, recvtype, "recvcount", "recvtype"));
    else if (!in_place)
        TRY(gs_check(c, sendbuf, sendcount, sendtype, "sendcount", "sendtype"));
    TRY(gs_check(c, recvbuf, recvcount, recvtype, "recvcount", "recvtype"));
    size_t b = (size_t)recvcount * recvtype->size;
    if (!in_place && (size_t)sendcount * sendtype->size != b)
        return err(c, MPI_ERR_TRUNCATE,
                   "send block of %lld bytes differs from the receive "
                   "block",
                   (long long)sendcount * sendtype->size);
    size_t n = (size_t)recvcount * p;
    char *rb = out_buf(c, recvbuf, n, recvtype,
                       in_place && kind == RDMX_COLL_ALLGATHER, 1);
    NEED(rb || recvtype->contiguous);
    void *sb;
    if (kind == RDMX_COLL_ALLGATHER) {
        sb = in_place ? rb + (size_t)r * b
                      : in_buf(c, sendbuf, (size_t)sendcount, sendtype);
    } else if (in_place) {
        /* alltoall in place: the input is a copy of the receive buffer */
        sb = rdmx_coll_exec_alloc(c->x, n * recvtype->size);
        NEED(sb);
        rdmx_dt_pack(recvtype, recvbuf, n, 0, sb, n * recvtype->size);
    } else {
        sb = in_buf(c, sendbuf, (size_t)sendcount * p, sendtype);
    }
    NEED(sb || in_place || sendtype->contiguous);
    rdmx_coll_exec_bind(c->x, RDMX_SB_SEND, sb);
    rdmx_coll_exec_bind(c->x, RDMX_SB_RECV, rb);
    c->a.bytes = b;
    c->a.in_place = in_place;
    return MPI_SUCCESS;
}

/* ---- MPI API --------------------------------------------------------- */

int MPI_Barrier(MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(barrier_setup(c, comm, "MPI_Barrier"));
    return run(c);
}

int MPI_Ibarrier(MPI_Comm comm, MPI_Request *request)
{
    cctx_t cc, *c = &cc;
    TRY(barrier_setup(c, comm, "MPI_Ibarrier"));
    TRY(null_req(c, request));
    return start(c, request);
}

int MPI_Bcast(void *buffer, int count, MPI_Datatype datatype, int root,
              MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(bcast_setup(c, buffer, count, datatype, root, comm, "MPI_Bcast"));
    return run(c);
}

int MPI_Ibcast(void *buffer, int count, MPI_Datatype datatype, int root,
               MPI_Comm comm, MPI_Request *request)
{
    cctx_t cc, *c = &cc;
    TRY(bcast_setup(c, buffer, count, datatype, root, comm, "MPI_Ibcast"));
    TRY(null_req(c, request));
    return start(c, request);
}

int MPI_Reduce(const void *sendbuf, void *recvbuf, int count,
               MPI_Datatype datatype, MPI_Op op, int root, MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(red_setup(c, RDMX_COLL_REDUCE, sendbuf, recvbuf, count, datatype, op,
                  root, comm, "MPI_Reduce"));
    return run(c);
}

int MPI_Ireduce(const void *sendbuf, void *recvbuf, int count,
                MPI_Datatype datatype, MPI_Op op, int root, MPI_Comm comm,
                MPI_Request *request)
{
    cctx_t cc, *c = &cc;
    TRY(red_setup(c, RDMX_COLL_REDUCE, sendbuf, recvbuf, count, datatype, op,
                  root, comm, "MPI_Ireduce"));
    TRY(null_req(c, request));
    return start(c, request);
}

int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count,
                  MPI_Datatype datatype, MPI_Op op, MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(red_setup(c, RDMX_COLL_ALLREDUCE, sendbuf, recvbuf, count, datatype, op,
                  0, comm, "MPI_Allreduce"));
    return run(c);
}

int MPI_Iallreduce(const void *sendbuf, void *recvbuf, int count,
                   MPI_Datatype datatype, MPI_Op op, MPI_Comm comm,
                   MPI_Request *request)
{
    cctx_t cc, *c = &cc;
    TRY(red_setup(c, RDMX_COLL_ALLREDUCE, sendbuf, recvbuf, count, datatype, op,
                  0, comm, "MPI_Iallreduce"));
    TRY(null_req(c, request));
    return start(c, request);
}

int MPI_Scan(const void *sendbuf, void *recvbuf, int count,
             MPI_Datatype datatype, MPI_Op op, MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(red_setup(c, RDMX_COLL_SCAN, sendbuf, recvbuf, count, datatype, op, 0,
                  comm, "MPI_Scan"));
    return run(c);
}

int MPI_Exscan(const void *sendbuf, void *recvbuf, int count,
               MPI_Datatype datatype, MPI_Op op, MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(red_setup(c, RDMX_COLL_EXSCAN, sendbuf, recvbuf, count, datatype, op, 0,
                  comm, "MPI_Exscan"));
    return run(c);
}

int MPI_Gather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
               void *recvbuf, int recvcount, MPI_Datatype recvtype, int root,
               MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(gather_setup(c, sendbuf, sendcount, sendtype, recvbuf, recvcount,
                     recvtype, root, comm, "MPI_Gather"));
    return run(c);
}

int MPI_Igather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                void *recvbuf, int recvcount, MPI_Datatype recvtype, int root,
                MPI_Comm comm, MPI_Request *request)
{
    cctx_t cc, *c = &cc;
    TRY(gather_setup(c, sendbuf, sendcount, sendtype, recvbuf, recvcount,
                     recvtype, root, comm, "MPI_Igather"));
    TRY(null_req(c, request));
    return start(c, request);
}

int MPI_Scatter(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                void *recvbuf, int recvcount, MPI_Datatype recvtype, int root,
                MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(scatter_setup(c, sendbuf, sendcount, sendtype, recvbuf, recvcount,
                      recvtype, root, comm, "MPI_Scatter"));
    return run(c);
}

int MPI_Iscatter(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                 void *recvbuf, int recvcount, MPI_Datatype recvtype, int root,
                 MPI_Comm comm, MPI_Request *request)
{
    cctx_t cc, *c = &cc;
    TRY(scatter_setup(c, sendbuf, sendcount, sendtype, recvbuf, recvcount,
                      recvtype, root, comm, "MPI_Iscatter"));
    TRY(null_req(c, request));
    return start(c, request);
}

int MPI_Allgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                  void *recvbuf, int recvcount, MPI_Datatype recvtype,
                  MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(allgather_setup(c, RDMX_COLL_ALLGATHER, sendbuf, sendcount, sendtype,
                        recvbuf, recvcount, recvtype, comm, "MPI_Allgather"));
    return run(c);
}

int MPI_Iallgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                   void *recvbuf, int recvcount, MPI_Datatype recvtype,
                   MPI_Comm comm, MPI_Request *request)
{
    cctx_t cc, *c = &cc;
    TRY(allgather_setup(c, RDMX_COLL_ALLGATHER, sendbuf, sendcount, sendtype,
                        recvbuf, recvcount, recvtype, comm, "MPI_Iallgather"));
    TRY(null_req(c, request));
    return start(c, request);
}

int MPI_Alltoall(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                 void *recvbuf, int recvcount, MPI_Datatype recvtype,
                 MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(allgather_setup(c, RDMX_COLL_ALLTOALL, sendbuf, sendcount, sendtype,
                        recvbuf, recvcount, recvtype, comm, "MPI_Alltoall"));
    return run(c);
}

int MPI_Ialltoall(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                  void *recvbuf, int recvcount, MPI_Datatype recvtype,
                  MPI_Comm comm, MPI_Request *request)
{
    cctx_t cc, *c = &cc;
    TRY(allgather_setup(c, RDMX_COLL_ALLTOALL, sendbuf, sendcount, sendtype,
                        recvbuf, recvcount, recvtype, comm, "MPI_Ialltoall"));
    TRY(null_req(c, request));
    return start(c, request);
}

/* ---- v variants ------------------------------------------------------ */

int MPI_Gatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                void *recvbuf, const int recvcounts[], const int displs[],
                MPI_Datatype recvtype, int root, MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(begin(c, comm, "MPI_Gatherv", RDMX_COLL_GATHERV));
    TRY(check_root(c, root));
    int me = comm->rank == root, p = comm->size;
    int in_place = me && sendbuf == MPI_IN_PLACE;
    if (!in_place)
        TRY(gs_check(c, sendbuf, sendcount, sendtype, "sendcount", "sendtype"));
    char *rb = NULL;
    if (me) {
        TRY(check_dt(c, recvtype, "recvtype"));
        TRY(check_counts(c, recvcounts, displs, "recvcounts[i]"));
        size_t *ar = arrays(c, 2);
        NEED(ar);
        c->a.offs = ar;
        c->a.counts = ar + p;
        rb = v_buf(c, recvbuf, recvcounts, displs, recvtype, 1, in_place, ar,
                   ar + p);
        NEED(rb || recvtype->contiguous);
        if (!in_place && (size_t)sendcount * sendtype->size != ar[p + root])
            return err(c, MPI_ERR_TRUNCATE,
                       "root's send block (%lld bytes) differs from "
                       "recvcounts[root]",
                       (long long)sendcount * sendtype->size);
    }
    void *sb = in_place ? rb + c->a.offs[root]
                        : in_buf(c, sendbuf, (size_t)sendcount, sendtype);
    NEED(sb || in_place || sendtype->contiguous);
    rdmx_coll_exec_bind(c->x, RDMX_SB_SEND, sb);
    rdmx_coll_exec_bind(c->x, RDMX_SB_RECV, rb);
    c->a.bytes = in_place ? 0 : (size_t)sendcount * sendtype->size;
    return run(c);
}

int MPI_Scatterv(const void *sendbuf, const int sendcounts[],
                 const int displs[], MPI_Datatype sendtype, void *recvbuf,
                 int recvcount, MPI_Datatype recvtype, int root, MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(begin(c, comm, "MPI_Scatterv", RDMX_COLL_SCATTERV));
    TRY(check_root(c, root));
    int me = comm->rank == root, p = comm->size;
    int in_place = me && recvbuf == MPI_IN_PLACE;
    if (!in_place)
        TRY(gs_check(c, recvbuf, recvcount, recvtype, "recvcount", "recvtype"));
    char *sb = NULL;
    if (me) {
        TRY(check_dt(c, sendtype, "sendtype"));
        TRY(check_counts(c, sendcounts, displs, "sendcounts[i]"));
        size_t *ar = arrays(c, 2);
        NEED(ar);
        c->a.offs = ar;
        c->a.counts = ar + p;
        sb = v_buf(c, (void *)sendbuf, sendcounts, displs, sendtype, 0, 0, ar,
                   ar + p);
        NEED(sb || sendtype->contiguous);
        if (!in_place && (size_t)recvcount * recvtype->size != ar[p + root])
            return err(c, MPI_ERR_TRUNCATE,
                       "root's receive block (%lld bytes) differs from "
                       "sendcounts[root]",
                       (long long)recvcount * recvtype->size);
    }
    void *rb = in_place
                   ? sb + c->a.offs[root]
                   : out_buf(c, recvbuf, (size_t)recvcount, recvtype, 0, 1);
    NEED(rb || in_place || recvtype->contiguous);
    rdmx_coll_exec_bind(c->x, RDMX_SB_SEND, sb);
    rdmx_coll_exec_bind(c->x, RDMX_SB_RECV, rb);
    c->a.bytes = in_place ? 0 : (size_t)recvcount * recvtype->size;
    return run(c);
}

int MPI_Allgatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                   void *recvbuf, const int recvcounts[], const int displs[],
                   MPI_Datatype recvtype, MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(begin(c, comm, "MPI_Allgatherv", RDMX_COLL_ALLGATHERV));
    int p = comm->size, r = comm->rank;
    int in_place = sendbuf == MPI_IN_PLACE;
    if (!in_place)
        TRY(gs_check(c, sendbuf, sendcount, sendtype, "sendcount", "sendtype"));
    TRY(check_dt(c, recvtype, "recvtype"));
    TRY(check_counts(c, recvcounts, displs, "recvcounts[i]"));
    size_t *ar = arrays(c, 2);
    NEED(ar);
    c->a.offs = ar;
    c->a.counts = ar + p;
    char *rb = v_buf(c, recvbuf, recvcounts, displs, recvtype, 1, in_place, ar,
                     ar + p);
    NEED(rb || recvtype->contiguous);
    if (!in_place && (size_t)sendcount * sendtype->size != ar[p + r])
        return err(c, MPI_ERR_TRUNCATE,
                   "send block (%lld bytes) differs from recvcounts[rank]",
                   (long long)sendcount * sendtype->size);
    void *sb =
        in_place ? rb + ar[r] : in_buf(c, sendbuf, (size_t)sendcount, sendtype);
    NEED(sb || in_place || sendtype->contiguous);
    rdmx_coll_exec_bind(c->x, RDMX_SB_SEND, sb);
    rdmx_coll_exec_bind(c->x, RDMX_SB_RECV, rb);
    c->a.in_place = in_place;
    return run(c);
}

int MPI_Alltoallv(const void *sendbuf, const int sendcounts[],
                  const int sdispls[], MPI_Datatype sendtype, void *recvbuf,
                  const int recvcounts[], const int rdispls[],
                  MPI_Datatype recvtype, MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(begin(c, comm, "MPI_Alltoallv", RDMX_COLL_ALLTOALLV));
    int p = comm->size;
    int in_place = sendbuf == MPI_IN_PLACE;
    TRY(check_dt(c, recvtype, "recvtype"));
    TRY(check_counts(c, recvcounts, rdispls, "recvcounts[i]"));
    if (!in_place) {
        TRY(check_dt(c, sendtype, "sendtype"));
        TRY(check_counts(c, sendcounts, sdispls, "sendcounts[i]"));
    }
    size_t *ar = arrays(c, 4);
    NEED(ar);
    c->a.offs = ar;
    c->a.counts = ar + p;
    c->a.roffs = ar + 2 * p;
    c->a.rcounts = ar + 3 * p;
    char *rb = v_buf(c, recvbuf, recvcounts, rdispls, recvtype, 1, 0,
                     ar + 2 * p, ar + 3 * p);
    NEED(rb || recvtype->contiguous);
    void *sb;
    if (in_place) {
        /* The input is a packed copy of the receive buffer. */
        size_t total = 0;
        for (int i = 0; i < p; i++) {
            ar[i] = total;
            ar[p + i] = ar[3 * p + i];
            total += ar[p + i];
        }
        char *pk = rdmx_coll_exec_alloc(c->x, total);
        NEED(pk);
        for (int i = 0; i < p; i++)
            rdmx_dt_pack(recvtype,
                         (char *)recvbuf +
                             (ptrdiff_t)rdispls[i] * rdmx_dt_extent(recvtype),
                         (size_t)recvcounts[i], 0, pk + ar[i], ar[p + i]);
        sb = pk;
    } else {
        sb = v_buf(c, (void *)sendbuf, sendcounts, sdispls, sendtype, 0, 0, ar,
                   ar + p);
        NEED(sb || sendtype->contiguous);
    }
    rdmx_coll_exec_bind(c->x, RDMX_SB_SEND, sb);
    rdmx_coll_exec_bind(c->x, RDMX_SB_RECV, rb);
    return run(c);
}

static int rs_common(cctx_t *c, const void *sendbuf, void *recvbuf,
                     const int *recvcounts, int block, MPI_Datatype dt,
                     MPI_Op op)
{
    int p = c->comm->size, r = c->comm->rank;
    TRY(check_dt(c, dt, "datatype"));
    TRY(check_op(c, op, dt));
    size_t *ar = arrays(c, 1);
    NEED(ar);
    size_t total = 0;
    for (int i = 0; i < p; i++) {
        int n = recvcounts ? recvcounts[i] : block;
        if (n < 0)
            return err(c, MPI_ERR_COUNT, "%s %d is negative",
                       recvcounts ? "recvcounts[i]" : "recvcount", n);
        ar[i] = (size_t)n;
        total += ar[i];
    }
    c->a.counts = ar;
    int in_place = sendbuf == MPI_IN_PLACE;
    size_t mine = ar[r];
    void *rb, *sb;
    if (in_place) {
        rb = out_buf(c, recvbuf, total, dt, 1, 1);
        NEED(rb || dt->contiguous);
        sb = rb;
    } else {
        rb = out_buf(c, recvbuf, mine, dt, 0, 1);
        NEED(rb || dt->contiguous);
        sb = in_buf(c, sendbuf, total, dt);
        NEED(sb || dt->contiguous);
    }
    rdmx_coll_exec_bind(c->x, RDMX_SB_SEND, sb);
    rdmx_coll_exec_bind(c->x, RDMX_SB_RECV, rb);
    c->a.count = total;
    c->a.in_place = in_place;
    return MPI_SUCCESS;
}

int MPI_Reduce_scatter(const void *sendbuf, void *recvbuf,
                       const int recvcounts[], MPI_Datatype datatype, MPI_Op op,
                       MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(begin(c, comm, "MPI_Reduce_scatter", RDMX_COLL_REDUCE_SCATTER));
    if (!recvcounts)
        return err(c, MPI_ERR_ARG, "recvcounts is NULL");
    TRY(rs_common(c, sendbuf, recvbuf, recvcounts, 0, datatype, op));
    return run(c);
}

int MPI_Reduce_scatter_block(const void *sendbuf, void *recvbuf, int recvcount,
                             MPI_Datatype datatype, MPI_Op op, MPI_Comm comm)
{
    cctx_t cc, *c = &cc;
    TRY(begin(c, comm, "MPI_Reduce_scatter_block", RDMX_COLL_REDUCE_SCATTER));
    TRY(check_count(c, recvcount, "recvcount"));
    TRY(rs_common(c, sendbuf, recvbuf, NULL, recvcount, datatype, op));
    return run(c);
}
