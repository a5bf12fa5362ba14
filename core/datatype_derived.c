/*
 * datatype_derived.c — derived datatype constructors. Each one flattens
 * its typemap into (displacement, length) blocks in typemap order and
 * hands them to rdmx_dt_create (datatype.c), which merges touching blocks.
 *
 * Bounds follow MPI-3.1 §4.1: lb/ub are the min/max over all copies of the
 * old type's lb/ub at their displacements; resized replaces them. The
 * deprecated MPI_LB/MPI_UB markers only set bounds when they appear in a
 * struct.
 */
#include <stdlib.h>
#include <string.h>

#include "datatype.h"
#include "errors.h"

typedef struct builder {
    rdmx_dt_block_t *b;
    size_t n, cap;
    ptrdiff_t lb, ub;
    int have_bounds;
    size_t nelements;
    rdmx_basic_t basic;
    int basic_set;
    int nomem;
} builder_t;

static void note_basic(builder_t *bd, const rdmx_datatype_t *t)
{
    if (t->size == 0)
        return;
    if (!bd->basic_set) {
        bd->basic = t->basic;
        bd->basic_set = 1;
    } else if (bd->basic != t->basic) {
        bd->basic = RDMX_BASIC_NONE;
    }
}

/* Append `reps` copies of `t` at base, base + E, ..., E = extent(t). */
static void append(builder_t *bd, const rdmx_datatype_t *t, ptrdiff_t base,
                   size_t reps)
{
    if (reps == 0)
        return;
    ptrdiff_t e = rdmx_dt_extent(t);
    ptrdiff_t lo = base + t->lb, hi = base + t->ub;
    ptrdiff_t last = (ptrdiff_t)(reps - 1) * e;
    ptrdiff_t lb = e >= 0 ? lo : lo + last, ub = e >= 0 ? hi + last : hi;
    if (!bd->have_bounds || lb < bd->lb)
        bd->lb = lb;
    if (!bd->have_bounds || ub > bd->ub)
        bd->ub = ub;
    bd->have_bounds = 1;
    bd->nelements += reps * t->nelements;
    note_basic(bd, t);
    if (t->size == 0)
        return;
    size_t need = bd->n + reps * t->nblocks;
    if (need > bd->cap) {
        size_t cap = bd->cap ? bd->cap : 16;
        while (cap < need)
            cap *= 2;
        rdmx_dt_block_t *nb = realloc(bd->b, cap * sizeof(*nb));
        if (!nb) {
            bd->nomem = 1;
            return;
        }
        bd->b = nb;
        bd->cap = cap;
    }
    for (size_t j = 0; j < reps; j++)
        for (size_t k = 0; k < t->nblocks; k++) {
            bd->b[bd->n].disp = base + (ptrdiff_t)j * e + t->blocks[k].disp;
            bd->b[bd->n].len = t->blocks[k].len;
            bd->n++;
        }
}

static int finish(builder_t *bd, int combiner, MPI_Datatype *newtype,
                  const char *call)
{
    if (bd->nomem) {
        free(bd->b);
        return rdmx_mpi_error(NULL, MPI_ERR_NO_MEM, call, "out of memory");
    }
    rdmx_datatype_t *dt;
    rdmx_status_t st = rdmx_dt_create(
        &dt, bd->b, bd->n, bd->basic_set ? bd->basic : RDMX_BASIC_NONE,
        bd->nelements, bd->lb, bd->ub, combiner);
    free(bd->b);
    if (st != RDMX_OK)
        return rdmx_mpi_error(NULL, MPI_ERR_NO_MEM, call, "out of memory");
    *newtype = dt;
    return MPI_SUCCESS;
}

static int check_old(MPI_Datatype t, MPI_Datatype *newtype, const char *call)
{
    if (!t)
        return rdmx_mpi_error(NULL, MPI_ERR_TYPE, call,
                              "oldtype is MPI_DATATYPE_NULL");
    if (!newtype)
        return rdmx_mpi_error(NULL, MPI_ERR_ARG, call, "newtype is NULL");
    return MPI_SUCCESS;
}

static int check_count(int count, const char *what, const char *call)
{
    if (count < 0)
        return rdmx_mpi_error(NULL, MPI_ERR_COUNT, call, "%s %d is negative",
                              what, count);
    return MPI_SUCCESS;
}

int MPI_Type_contiguous(int count, MPI_Datatype oldtype, MPI_Datatype *newtype)
{
    static const char *call = "MPI_Type_contiguous";
    int rc = check_old(oldtype, newtype, call);
    if (rc || (rc = check_count(count, "count", call)))
        return rc;
    builder_t bd = {0};
    append(&bd, oldtype, 0, (size_t)count);
    return finish(&bd, MPI_COMBINER_CONTIGUOUS, newtype, call);
}

static int hvector(int count, int blocklength, MPI_Aint stride,
                   MPI_Datatype oldtype, MPI_Datatype *newtype, int combiner,
                   const char *call)
{
    int rc = check_old(oldtype, newtype, call);
    if (rc || (rc = check_count(count, "count", call)) ||
        (rc = check_count(blocklength, "blocklength", call)))
        return rc;
    builder_t bd = {0};
    for (int i = 0; i < count; i++)
        append(&bd, oldtype, (ptrdiff_t)i * stride, (size_t)blocklength);
    return finish(&bd, combiner, newtype, call);
}

int MPI_Type_vector(int count, int blocklength, int stride,
                    MPI_Datatype oldtype, MPI_Datatype *newtype)
{
    ptrdiff_t e = oldtype ? rdmx_dt_extent(oldtype) : 0;
    return hvector(count, blocklength, (MPI_Aint)stride * e, oldtype, newtype,
                   MPI_COMBINER_VECTOR, "MPI_Type_vector");
}

int MPI_Type_create_hvector(int count, int blocklength, MPI_Aint stride,
                            MPI_Datatype oldtype, MPI_Datatype *newtype)
{
    return hvector(count, blocklength, stride, oldtype, newtype,
                   MPI_COMBINER_HVECTOR, "MPI_Type_create_hvector");
}

/* Indexed family: displacement i is disps_i * scale bytes. */
static int indexed(int count, const int *bls, int bl_all, const int *idisps,
                   const MPI_Aint *adisps, MPI_Datatype oldtype,
                   MPI_Datatype *newtype, int combiner, const char *call)
{
    int rc = check_old(oldtype, newtype, call);
    if (rc || (rc = check_count(count, "count", call)))
        return rc;
    if (count && ((!bls && bl_all < 0) || (!idisps && !adisps)))
        return rdmx_mpi_error(NULL, MPI_ERR_ARG, call,
                              "NULL blocklength or displacement array");
    ptrdiff_t e = rdmx_dt_extent(oldtype);
    builder_t bd = {0};
    for (int i = 0; i < count; i++) {
        int bl = bls ? bls[i] : bl_all;
        if (bl < 0) {
            free(bd.b);
            return rdmx_mpi_error(NULL, MPI_ERR_COUNT, call,
                                  "blocklength[%d] = %d is negative", i, bl);
        }
        ptrdiff_t d = idisps ? (ptrdiff_t)idisps[i] * e : adisps[i];
        append(&bd, oldtype, d, (size_t)bl);
    }
    return finish(&bd, combiner, newtype, call);
}

int MPI_Type_indexed(int count, const int blocklengths[],
                     const int displacements[], MPI_Datatype oldtype,
                     MPI_Datatype *newtype)
{
    return indexed(count, blocklengths, -1, displacements, NULL, oldtype,
                   newtype, MPI_COMBINER_INDEXED, "MPI_Type_indexed");
}

int MPI_Type_create_hindexed(int count, const int blocklengths[],
                             const MPI_Aint displacements[],
                             MPI_Datatype oldtype, MPI_Datatype *newtype)
{
    return indexed(count, blocklengths, -1, NULL, displacements, oldtype,
                   newtype, MPI_COMBINER_HINDEXED, "MPI_Type_create_hindexed");
}

int MPI_Type_create_indexed_block(int count, int blocklength,
                                  const int displacements[],
                                  MPI_Datatype oldtype, MPI_Datatype *newtype)
{
    if (blocklength < 0)
        return rdmx_mpi_error(NULL, MPI_ERR_COUNT,
                              "MPI_Type_create_indexed_block",
                              "blocklength %d is negative", blocklength);
    return indexed(count, NULL, blocklength, displacements, NULL, oldtype,
                   newtype, MPI_COMBINER_INDEXED_BLOCK,
                   "MPI_Type_create_indexed_block");
}

/* Alignment of a type's data, for the padding MPI adds at the end of a
 * struct (MPI-3.1 §4.1.6, "epsilon"). Derived types carry no alignment:
 * use their basic type's, or for mixed types the largest power of two up
 * to 8 that fits their extent. */
static ptrdiff_t type_align(const rdmx_datatype_t *t)
{
    struct {
        char c;
        long double v;
    } ld;
    ptrdiff_t ld_align = (char *)&ld.v - &ld.c;
    switch (t->basic) {
    case RDMX_BASIC_LDOUBLE:
    case RDMX_BASIC_CLDOUBLE:
    case RDMX_BASIC_LDOUBLE_INT:
        return ld_align;
    case RDMX_BASIC_CFLOAT:
    case RDMX_BASIC_FLOAT_INT:
    case RDMX_BASIC_2INT:
        return 4;
    case RDMX_BASIC_CDOUBLE:
    case RDMX_BASIC_DOUBLE_INT:
    case RDMX_BASIC_LONG_INT:
        return 8;
    case RDMX_BASIC_SHORT_INT:
        return 4;
    case RDMX_BASIC_NONE: {
        ptrdiff_t e = rdmx_dt_extent(t), a = 1;
        while (a < 8 && a * 2 <= e)
            a *= 2;
        return a;
    }
    default: {
        size_t sz = rdmx_basic_size(t->basic);
        return sz && sz <= 16 ? (ptrdiff_t)sz : 1;
    }
    }
}

int MPI_Type_create_struct(int count, const int blocklengths[],
                           const MPI_Aint displacements[],
                           const MPI_Datatype types[], MPI_Datatype *newtype)
{
    static const char *call = "MPI_Type_create_struct";
    int rc = check_count(count, "count", call);
    if (rc)
        return rc;
    if (!newtype || (count && (!blocklengths || !displacements || !types)))
        return rdmx_mpi_error(NULL, MPI_ERR_ARG, call, "NULL argument");
    builder_t bd = {0};
    int have_lb = 0, have_ub = 0;
    ptrdiff_t mlb = 0, mub = 0, align = 1;
    for (int i = 0; i < count; i++) {
        if (!types[i] || blocklengths[i] < 0) {
            free(bd.b);
            if (!types[i])
                return rdmx_mpi_error(NULL, MPI_ERR_TYPE, call,
                                      "types[%d] is MPI_DATATYPE_NULL", i);
            return rdmx_mpi_error(NULL, MPI_ERR_COUNT, call,
                                  "blocklengths[%d] = %d is negative", i,
                                  blocklengths[i]);
        }
        if (types[i]->basic == RDMX_BASIC_LB) {
            if (!have_lb || displacements[i] < mlb)
                mlb = displacements[i];
            have_lb = 1;
            continue;
        }
        if (types[i]->basic == RDMX_BASIC_UB) {
            if (!have_ub || displacements[i] > mub)
                mub = displacements[i];
            have_ub = 1;
            continue;
        }
        append(&bd, types[i], displacements[i], (size_t)blocklengths[i]);
        if (blocklengths[i] && type_align(types[i]) > align)
            align = type_align(types[i]);
    }
    /* Pad the extent to the strictest alignment, as C pads a struct. */
    ptrdiff_t ext = bd.ub - bd.lb;
    if (ext % align)
        bd.ub += align - ext % align;
    if (have_lb)
        bd.lb = mlb;
    if (have_ub)
        bd.ub = mub;
    return finish(&bd, MPI_COMBINER_STRUCT, newtype, call);
}

int MPI_Type_create_resized(MPI_Datatype oldtype, MPI_Aint lb, MPI_Aint extent,
                            MPI_Datatype *newtype)
{
    static const char *call = "MPI_Type_create_resized";
    int rc = check_old(oldtype, newtype, call);
    if (rc)
        return rc;
    builder_t bd = {0};
    append(&bd, oldtype, 0, 1);
    bd.lb = lb;
    bd.ub = lb + extent;
    return finish(&bd, MPI_COMBINER_RESIZED, newtype, call);
}

int MPI_Type_dup(MPI_Datatype oldtype, MPI_Datatype *newtype)
{
    static const char *call = "MPI_Type_dup";
    int rc = check_old(oldtype, newtype, call);
    if (rc)
        return rc;
    builder_t bd = {0};
    append(&bd, oldtype, 0, 1);
    bd.lb = oldtype->lb;
    bd.ub = oldtype->ub;
    rc = finish(&bd, MPI_COMBINER_DUP, newtype, call);
    if (rc == MPI_SUCCESS) {
        (*newtype)->basic = oldtype->basic;
        (*newtype)->committed = oldtype->committed;
    }
    return rc;
}

int MPI_Type_commit(MPI_Datatype *datatype)
{
    if (!datatype || !*datatype)
        return rdmx_mpi_error(NULL, MPI_ERR_TYPE, "MPI_Type_commit",
                              "datatype is MPI_DATATYPE_NULL");
    (*datatype)->committed = 1;
    return MPI_SUCCESS;
}

int MPI_Type_free(MPI_Datatype *datatype)
{
    if (!datatype || !*datatype)
        return rdmx_mpi_error(NULL, MPI_ERR_TYPE, "MPI_Type_free",
                              "datatype is MPI_DATATYPE_NULL");
    if ((*datatype)->predefined)
        return rdmx_mpi_error(NULL, MPI_ERR_TYPE, "MPI_Type_free",
                              "cannot free the predefined %s",
                              (*datatype)->name);
    rdmx_dt_release(*datatype);
    *datatype = MPI_DATATYPE_NULL;
    return MPI_SUCCESS;
}
