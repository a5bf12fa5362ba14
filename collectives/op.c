/*
 * op.c — reduction operations: the predefined MPI_Op objects, user ops and
 * the typed loops that apply them.
 *
 * Collectives move data as packed byte streams, so the schedules reduce
 * packed data (rdmx_op_apply_packed); MPI_Reduce_local works on the user's
 * layout (rdmx_op_apply) and goes through the packed path only for types
 * whose layout has holes. The per-type loops are plain `for` loops over
 * restrict pointers so the compiler vectorises them.
 */
#include "coll.h"

#include <complex.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "op.h"

#define PREDEF_OP(name, k)                                                     \
    struct rdmx_op rdmx_op_##name = {.predefined = 1,                          \
                                     .kind = (k),                              \
                                     .commutative = 1,                         \
                                     .user_fn = NULL,                          \
                                     .refcount = 1}
PREDEF_OP(max, RDMX_OP_MAX);
PREDEF_OP(min, RDMX_OP_MIN);
PREDEF_OP(sum, RDMX_OP_SUM);
PREDEF_OP(prod, RDMX_OP_PROD);
PREDEF_OP(land, RDMX_OP_LAND);
PREDEF_OP(band, RDMX_OP_BAND);
PREDEF_OP(lor, RDMX_OP_LOR);
PREDEF_OP(bor, RDMX_OP_BOR);
PREDEF_OP(lxor, RDMX_OP_LXOR);
PREDEF_OP(bxor, RDMX_OP_BXOR);
PREDEF_OP(minloc, RDMX_OP_MINLOC);
PREDEF_OP(maxloc, RDMX_OP_MAXLOC);
/* REPLACE keeps the later operand: not commutative in the MPI sense. */
struct rdmx_op rdmx_op_replace = {1, RDMX_OP_REPLACE, 0, NULL, 1};
PREDEF_OP(no_op, RDMX_OP_NO_OP);

/* ---- type classes (MPI-3.1 §5.9.2) ----------------------------------------
 */
enum {
    CL_INT = 1,     /* C integer */
    CL_MULTI = 2,   /* MPI_AINT, MPI_OFFSET, MPI_COUNT */
    CL_FLOAT = 4,   /* floating point */
    CL_LOGICAL = 8, /* MPI_C_BOOL */
    CL_COMPLEX = 16,
    CL_BYTE = 32,
    CL_PAIR = 64, /* MINLOC/MAXLOC pair types */
};

static int basic_class(rdmx_basic_t b)
{
    switch (b) {
    case RDMX_BASIC_SCHAR:
    case RDMX_BASIC_UCHAR:
    case RDMX_BASIC_SHORT:
    case RDMX_BASIC_USHORT:
    case RDMX_BASIC_INT:
    case RDMX_BASIC_UINT:
    case RDMX_BASIC_LONG:
    case RDMX_BASIC_ULONG:
    case RDMX_BASIC_LLONG:
    case RDMX_BASIC_ULLONG:
    case RDMX_BASIC_INT8:
    case RDMX_BASIC_INT16:
    case RDMX_BASIC_INT32:
    case RDMX_BASIC_INT64:
    case RDMX_BASIC_UINT8:
    case RDMX_BASIC_UINT16:
    case RDMX_BASIC_UINT32:
    case RDMX_BASIC_UINT64:
        return CL_INT;
    case RDMX_BASIC_AINT:
    case RDMX_BASIC_OFFSET:
    case RDMX_BASIC_COUNT:
        return CL_MULTI;
    case RDMX_BASIC_FLOAT:
    case RDMX_BASIC_DOUBLE:
    case RDMX_BASIC_LDOUBLE:
        return CL_FLOAT;
    case RDMX_BASIC_BOOL:
        return CL_LOGICAL;
    case RDMX_BASIC_CFLOAT:
    case RDMX_BASIC_CDOUBLE:
    case RDMX_BASIC_CLDOUBLE:
        return CL_COMPLEX;
    case RDMX_BASIC_BYTE:
        return CL_BYTE;
    case RDMX_BASIC_FLOAT_INT:
    case RDMX_BASIC_DOUBLE_INT:
    case RDMX_BASIC_LONG_INT:
    case RDMX_BASIC_2INT:
    case RDMX_BASIC_SHORT_INT:
    case RDMX_BASIC_LDOUBLE_INT:
        return CL_PAIR;
    default:
        return 0;
    }
}

static int op_classes(rdmx_op_kind_t k)
{
    switch (k) {
    case RDMX_OP_MAX:
    case RDMX_OP_MIN:
        return CL_INT | CL_MULTI | CL_FLOAT;
    case RDMX_OP_SUM:
    case RDMX_OP_PROD:
        return CL_INT | CL_MULTI | CL_FLOAT | CL_COMPLEX;
    case RDMX_OP_LAND:
    case RDMX_OP_LOR:
    case RDMX_OP_LXOR:
        return CL_INT | CL_LOGICAL;
    case RDMX_OP_BAND:
    case RDMX_OP_BOR:
    case RDMX_OP_BXOR:
        return CL_INT | CL_MULTI | CL_BYTE;
    case RDMX_OP_MINLOC:
    case RDMX_OP_MAXLOC:
        return CL_PAIR;
    default:
        return ~0;
    }
}

static const char *const op_names[] = {
    [RDMX_OP_USER] = "user op",      [RDMX_OP_MAX] = "MPI_MAX",
    [RDMX_OP_MIN] = "MPI_MIN",       [RDMX_OP_SUM] = "MPI_SUM",
    [RDMX_OP_PROD] = "MPI_PROD",     [RDMX_OP_LAND] = "MPI_LAND",
    [RDMX_OP_BAND] = "MPI_BAND",     [RDMX_OP_LOR] = "MPI_LOR",
    [RDMX_OP_BOR] = "MPI_BOR",       [RDMX_OP_LXOR] = "MPI_LXOR",
    [RDMX_OP_BXOR] = "MPI_BXOR",     [RDMX_OP_MINLOC] = "MPI_MINLOC",
    [RDMX_OP_MAXLOC] = "MPI_MAXLOC", [RDMX_OP_REPLACE] = "MPI_REPLACE",
    [RDMX_OP_NO_OP] = "MPI_NO_OP",
};

const char *rdmx_op_name(const rdmx_op_t *op)
{
    if (!op || (unsigned)op->kind > RDMX_OP_NO_OP)
        return "invalid op";
    return op_names[op->kind];
}

rdmx_status_t rdmx_op_check(const rdmx_op_t *op, const rdmx_datatype_t *dt)
{
    if (!op || (unsigned)op->kind > RDMX_OP_NO_OP)
        return RDMX_ERR_OP;
    if (op->kind == RDMX_OP_USER)
        return op->user_fn ? RDMX_OK : RDMX_ERR_OP;
    if (!dt)
        return RDMX_ERR_TYPE;
    if (op->kind == RDMX_OP_REPLACE || op->kind == RDMX_OP_NO_OP)
        return RDMX_OK;
    if (dt->size == 0)
        return RDMX_OK; /* nothing to combine */
    int cl = basic_class(dt->basic);
    if (!cl || !(cl & op_classes(op->kind)))
        return RDMX_ERR_OP;
    return RDMX_OK;
}

/* ---- typed loops ------------------------------------------------------------
 */
#define LOOP(name, T, expr)                                                    \
    static void name(const void *in_, void *io_, size_t n)                     \
    {                                                                          \
        const T *restrict a = in_;                                             \
        T *restrict b = io_;                                                   \
        for (size_t i = 0; i < n; i++)                                         \
            b[i] = (expr);                                                     \
    }

#define ARITH(T, tag)                                                          \
    LOOP(sum_##tag, T, a[i] + b[i])                                            \
    LOOP(prod_##tag, T, a[i] * b[i])
#define ORDER(T, tag)                                                          \
    LOOP(max_##tag, T, a[i] > b[i] ? a[i] : b[i])                              \
    LOOP(min_##tag, T, a[i] < b[i] ? a[i] : b[i])
#define LOGIC(T, tag)                                                          \
    LOOP(land_##tag, T, (a[i] && b[i]))                                        \
    LOOP(lor_##tag, T, (a[i] || b[i]))                                         \
    LOOP(lxor_##tag, T, ((!a[i]) != (!b[i])))
#define BITS(T, tag)                                                           \
    LOOP(band_##tag, T, a[i] & b[i])                                           \
    LOOP(bor_##tag, T, a[i] | b[i])                                            \
    LOOP(bxor_##tag, T, a[i] ^ b[i])
#define INTEGER(T, tag) ARITH(T, tag) ORDER(T, tag) LOGIC(T, tag) BITS(T, tag)

/* Sums of integers wrap as two's complement (the unsigned loops do the
 * arithmetic), matching what every MPI does in practice without UB. */
ORDER(int8_t, i8)
INTEGER(uint8_t, u8)
ORDER(int16_t, i16)
INTEGER(uint16_t, u16)
ORDER(int32_t, i32)
INTEGER(uint32_t, u32)
ORDER(int64_t, i64)
INTEGER(uint64_t, u64)
ARITH(float, f)
ORDER(float, f)
ARITH(double, d)
ORDER(double, d)
ARITH(long double, ld)
ORDER(long double, ld)
ARITH(float _Complex, cf)
ARITH(double _Complex, cd)
ARITH(long double _Complex, cld)
LOGIC(bool, b)

typedef void (*loop_fn)(const void *, void *, size_t);

/* Signed integer + and * through the unsigned type of the same width. */
static loop_fn int_fn(rdmx_op_kind_t k, size_t width, int is_signed)
{
#define PICK(tag)                                                              \
    switch (k) {                                                               \
    case RDMX_OP_SUM:                                                          \
        return sum_u##tag;                                                     \
    case RDMX_OP_PROD:                                                         \
        return prod_u##tag;                                                    \
    case RDMX_OP_MAX:                                                          \
        return is_signed ? max_i##tag : max_u##tag;                            \
    case RDMX_OP_MIN:                                                          \
        return is_signed ? min_i##tag : min_u##tag;                            \
    case RDMX_OP_LAND:                                                         \
        return land_u##tag;                                                    \
    case RDMX_OP_LOR:                                                          \
        return lor_u##tag;                                                     \
    case RDMX_OP_LXOR:                                                         \
        return lxor_u##tag;                                                    \
    case RDMX_OP_BAND:                                                         \
        return band_u##tag;                                                    \
    case RDMX_OP_BOR:                                                          \
        return bor_u##tag;                                                     \
    case RDMX_OP_BXOR:                                                         \
        return bxor_u##tag;                                                    \
    default:                                                                   \
        return NULL;                                                           \
    }
    switch (width) {
    case 1:
        PICK(8)
    case 2:
        PICK(16)
    case 4:
        PICK(32)
    case 8:
        PICK(64)
    default:
        return NULL;
    }
#undef PICK
}

static int basic_signed(rdmx_basic_t b)
{
    switch (b) {
    case RDMX_BASIC_SCHAR:
    case RDMX_BASIC_SHORT:
    case RDMX_BASIC_INT:
    case RDMX_BASIC_LONG:
    case RDMX_BASIC_LLONG:
    case RDMX_BASIC_INT8:
    case RDMX_BASIC_INT16:
    case RDMX_BASIC_INT32:
    case RDMX_BASIC_INT64:
    case RDMX_BASIC_AINT:
    case RDMX_BASIC_OFFSET:
    case RDMX_BASIC_COUNT:
        return 1;
    default:
        return 0;
    }
}

static loop_fn basic_fn(rdmx_op_kind_t k, rdmx_basic_t b)
{
    int cl = basic_class(b);
    if (cl & (CL_INT | CL_MULTI | CL_BYTE))
        return int_fn(k, rdmx_basic_size(b), basic_signed(b));
#define FP(tag)                                                                \
    switch (k) {                                                               \
    case RDMX_OP_SUM:                                                          \
        return sum_##tag;                                                      \
    case RDMX_OP_PROD:                                                         \
        return prod_##tag;                                                     \
    case RDMX_OP_MAX:                                                          \
        return max_##tag;                                                      \
    case RDMX_OP_MIN:                                                          \
        return min_##tag;                                                      \
    default:                                                                   \
        return NULL;                                                           \
    }
#define CX(tag)                                                                \
    switch (k) {                                                               \
    case RDMX_OP_SUM:                                                          \
        return sum_##tag;                                                      \
    case RDMX_OP_PROD:                                                         \
        return prod_##tag;                                                     \
    default:                                                                   \
        return NULL;                                                           \
    }
    switch (b) {
    case RDMX_BASIC_FLOAT:
        FP(f)
    case RDMX_BASIC_DOUBLE:
        FP(d)
    case RDMX_BASIC_LDOUBLE:
        FP(ld)
    case RDMX_BASIC_CFLOAT:
        CX(cf)
    case RDMX_BASIC_CDOUBLE:
        CX(cd)
    case RDMX_BASIC_CLDOUBLE:
        CX(cld)
    case RDMX_BASIC_BOOL:
        switch (k) {
        case RDMX_OP_LAND:
            return land_b;
        case RDMX_OP_LOR:
            return lor_b;
        case RDMX_OP_LXOR:
            return lxor_b;
        default:
            return NULL;
        }
    default:
        return NULL;
    }
#undef FP
#undef CX
}

/* MINLOC/MAXLOC on packed pairs {value, int} with no padding; values are
 * read through memcpy because packed pairs are not aligned. */
#define PAIRLOOP(tag, VT)                                                      \
    static void pair_##tag(const char *in, char *io, size_t n, int is_max)     \
    {                                                                          \
        const size_t w = sizeof(VT) + sizeof(int);                             \
        for (size_t i = 0; i < n; i++, in += w, io += w) {                     \
            VT va, vb;                                                         \
            int ia, ib;                                                        \
            memcpy(&va, in, sizeof(VT));                                       \
            memcpy(&vb, io, sizeof(VT));                                       \
            memcpy(&ia, in + sizeof(VT), sizeof(int));                         \
            memcpy(&ib, io + sizeof(VT), sizeof(int));                         \
            int take_a = is_max ? va > vb : va < vb;                           \
            if (take_a) {                                                      \
                memcpy(io, in, w);                                             \
            } else if (va == vb && ia < ib) {                                  \
                memcpy(io + sizeof(VT), &ia, sizeof(int));                     \
            }                                                                  \
        }                                                                      \
    }
PAIRLOOP(f, float)
PAIRLOOP(d, double)
PAIRLOOP(l, long)
PAIRLOOP(i, int)
PAIRLOOP(s, short)
PAIRLOOP(ld, long double)

static void pair_apply(rdmx_basic_t b, const void *in, void *io, size_t n,
                       int is_max)
{
    switch (b) {
    case RDMX_BASIC_FLOAT_INT:
        pair_f(in, io, n, is_max);
        break;
    case RDMX_BASIC_DOUBLE_INT:
        pair_d(in, io, n, is_max);
        break;
    case RDMX_BASIC_LONG_INT:
        pair_l(in, io, n, is_max);
        break;
    case RDMX_BASIC_2INT:
        pair_i(in, io, n, is_max);
        break;
    case RDMX_BASIC_SHORT_INT:
        pair_s(in, io, n, is_max);
        break;
    case RDMX_BASIC_LDOUBLE_INT:
        pair_ld(in, io, n, is_max);
        break;
    default:
        break;
    }
}

/* Reduce `count` elements of `dt` given as packed streams. */
static rdmx_status_t apply_packed_predef(const rdmx_op_t *op, const void *in,
                                         void *inout, size_t count,
                                         const rdmx_datatype_t *dt)
{
    size_t bytes = count * dt->size;
    if (bytes == 0 || op->kind == RDMX_OP_NO_OP)
        return RDMX_OK;
    if (op->kind == RDMX_OP_REPLACE) {
        memmove(inout, in, bytes);
        return RDMX_OK;
    }
    size_t bsz = rdmx_basic_size(dt->basic);
    if (!bsz)
        return RDMX_ERR_OP;
    size_t n = bytes / bsz;
    if (basic_class(dt->basic) == CL_PAIR) {
        if (op->kind != RDMX_OP_MINLOC && op->kind != RDMX_OP_MAXLOC)
            return RDMX_ERR_OP;
        pair_apply(dt->basic, in, inout, n, op->kind == RDMX_OP_MAXLOC);
        return RDMX_OK;
    }
    loop_fn fn = basic_fn(op->kind, dt->basic);
    if (!fn)
        return RDMX_ERR_OP;
    fn(in, inout, n);
    return RDMX_OK;
}

/* Memory able to hold `count` elements of `dt` in its own layout: returns
 * the allocation in *mem and the buffer address (mem - true_lb). */
static char *layout_alloc(const rdmx_datatype_t *dt, size_t count, void **mem)
{
    ptrdiff_t ext = rdmx_dt_extent(dt);
    size_t span = count ? (size_t)((ptrdiff_t)(count - 1) * ext +
                                   (dt->true_ub - dt->true_lb))
                        : 0;
    *mem = malloc(span ? span : 1);
    if (!*mem)
        return NULL;
    return (char *)*mem - dt->true_lb;
}

static void call_user(const rdmx_op_t *op, const void *in, void *inout,
                      size_t count, const rdmx_datatype_t *dt)
{
    MPI_Datatype d = (MPI_Datatype)dt;
    /* User functions take an int count: hand over INT_MAX-sized chunks. */
    ptrdiff_t ext = rdmx_dt_extent(dt);
    while (count) {
        int n = count > 0x40000000 ? 0x40000000 : (int)count;
        op->user_fn((void *)in, inout, &n, &d);
        in = (const char *)in + (ptrdiff_t)n * ext;
        inout = (char *)inout + (ptrdiff_t)n * ext;
        count -= (size_t)n;
    }
}

rdmx_status_t rdmx_op_apply_packed(const rdmx_op_t *op, const void *in,
                                   void *inout, size_t count,
                                   const rdmx_datatype_t *dt)
{
    if (count == 0)
        return RDMX_OK;
    if (op->kind != RDMX_OP_USER)
        return apply_packed_predef(op, in, inout, count, dt);
    if (dt->contiguous) {
        call_user(op, in, inout, count, dt);
        return RDMX_OK;
    }
    /* A user function sees the type's real layout: unpack both operands. */
    void *ma, *mb;
    char *a = layout_alloc(dt, count, &ma);
    if (!a)
        return RDMX_ERR_NOMEM;
    char *b = layout_alloc(dt, count, &mb);
    if (!b) {
        free(ma);
        return RDMX_ERR_NOMEM;
    }
    size_t bytes = count * dt->size;
    rdmx_dt_unpack(dt, a, count, 0, in, bytes);
    rdmx_dt_unpack(dt, b, count, 0, inout, bytes);
    call_user(op, a, b, count, dt);
    rdmx_dt_pack(dt, b, count, 0, inout, bytes);
    free(mb);
    free(ma);
    return RDMX_OK;
}

rdmx_status_t rdmx_op_apply(const rdmx_op_t *op, const void *in, void *inout,
                            size_t count, const rdmx_datatype_t *dt)
{
    if (count == 0)
        return RDMX_OK;
    if (op->kind == RDMX_OP_USER) {
        call_user(op, in, inout, count, dt);
        return RDMX_OK;
    }
    if (dt->contiguous)
        return apply_packed_predef(op, in, inout, count, dt);
    size_t bytes = count * dt->size;
    char *pa = malloc(bytes), *pb = malloc(bytes);
    rdmx_status_t st = RDMX_ERR_NOMEM;
    if (pa && pb) {
        rdmx_dt_pack(dt, in, count, 0, pa, bytes);
        rdmx_dt_pack(dt, inout, count, 0, pb, bytes);
        st = apply_packed_predef(op, pa, pb, count, dt);
        if (st == RDMX_OK)
            rdmx_dt_unpack(dt, inout, count, 0, pb, bytes);
    }
    free(pa);
    free(pb);
    return st;
}

/* ---- MPI API --------------------------------------------------------- */
int MPI_Op_create(MPI_User_function *user_fn, int commute, MPI_Op *op)
{
    if (!user_fn || !op)
        return rdmx_mpi_error(NULL, MPI_ERR_ARG, "MPI_Op_create", "%s is NULL",
                              op ? "user_fn" : "op");
    rdmx_op_t *o = calloc(1, sizeof(*o));
    if (!o)
        return rdmx_mpi_error(NULL, MPI_ERR_NO_MEM, "MPI_Op_create",
                              "out of memory");
    o->kind = RDMX_OP_USER;
    o->commutative = commute ? 1 : 0;
    o->user_fn = user_fn;
    o->refcount = 1;
    *op = o;
    return MPI_SUCCESS;
}

int MPI_Op_free(MPI_Op *op)
{
    if (!op || !*op)
        return rdmx_mpi_error(NULL, MPI_ERR_OP, "MPI_Op_free",
                              "op is MPI_OP_NULL");
    if ((*op)->predefined)
        return rdmx_mpi_error(NULL, MPI_ERR_OP, "MPI_Op_free",
                              "cannot free predefined %s", rdmx_op_name(*op));
    rdmx_op_release(*op);
    *op = MPI_OP_NULL;
    return MPI_SUCCESS;
}

void rdmx_op_retain(rdmx_op_t *op)
{
    if (op && !op->predefined)
        op->refcount++;
}

void rdmx_op_release(rdmx_op_t *op)
{
    if (op && !op->predefined && --op->refcount == 0)
        free(op);
}

int MPI_Op_commutative(MPI_Op op, int *commute)
{
    if (!op || !commute)
        return rdmx_mpi_error(NULL, op ? MPI_ERR_ARG : MPI_ERR_OP,
                              "MPI_Op_commutative", "%s is NULL",
                              op ? "commute" : "op");
    *commute = op->commutative;
    return MPI_SUCCESS;
}

int MPI_Reduce_local(const void *inbuf, void *inoutbuf, int count,
                     MPI_Datatype datatype, MPI_Op op)
{
    static const char *call = "MPI_Reduce_local";
    if (count < 0)
        return rdmx_mpi_error(NULL, MPI_ERR_COUNT, call, "count %d < 0", count);
    if (rdmx_dt_check(datatype) != RDMX_OK)
        return rdmx_mpi_error(NULL, MPI_ERR_TYPE, call,
                              "datatype is NULL or not committed");
    if (rdmx_op_check(op, datatype) != RDMX_OK)
        return rdmx_mpi_error(
            NULL, MPI_ERR_OP, call, "%s is not defined on %s", rdmx_op_name(op),
            datatype->name[0] ? datatype->name : "this datatype");
    if (count && (!inbuf || !inoutbuf || inbuf == MPI_IN_PLACE))
        return rdmx_mpi_error(NULL, MPI_ERR_BUFFER, call, "invalid buffer");
    rdmx_status_t st =
        rdmx_op_apply(op, inbuf, inoutbuf, (size_t)count, datatype);
    if (st != RDMX_OK)
        return rdmx_mpi_error_status(NULL, st, call);
    return MPI_SUCCESS;
}
