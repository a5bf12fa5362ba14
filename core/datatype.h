/*
 * datatype.h — datatypes as flattened byte maps.
 *
 * Every datatype, predefined or derived, is described for one element by a
 * list of (displacement, length) byte blocks in typemap order plus its
 * bounds. Pack/unpack walk that list; a datatype whose data is one block at
 * displacement 0 with size == extent is `contiguous` and the fast paths
 * (zero-copy send, direct receive) use the user buffer as is.
 *
 * `basic` is the one predefined type all data of the datatype consists of,
 * or RDMX_BASIC_NONE for mixed types: reductions need it (MPI allows
 * predefined reductions only on such types).
 */
#ifndef RDMX_DATATYPE_H
#define RDMX_DATATYPE_H

#include <stddef.h>
#include <stdint.h>

#include "mpi.h"
#include "status.h"

typedef enum rdmx_basic {
    RDMX_BASIC_NONE = 0,
    RDMX_BASIC_CHAR, RDMX_BASIC_SCHAR, RDMX_BASIC_UCHAR, RDMX_BASIC_BYTE,
    RDMX_BASIC_WCHAR, RDMX_BASIC_SHORT, RDMX_BASIC_USHORT, RDMX_BASIC_INT,
    RDMX_BASIC_UINT, RDMX_BASIC_LONG, RDMX_BASIC_ULONG, RDMX_BASIC_LLONG,
    RDMX_BASIC_ULLONG, RDMX_BASIC_FLOAT, RDMX_BASIC_DOUBLE,
    RDMX_BASIC_LDOUBLE, RDMX_BASIC_INT8, RDMX_BASIC_INT16, RDMX_BASIC_INT32,
    RDMX_BASIC_INT64, RDMX_BASIC_UINT8, RDMX_BASIC_UINT16, RDMX_BASIC_UINT32,
    RDMX_BASIC_UINT64, RDMX_BASIC_BOOL, RDMX_BASIC_CFLOAT,
    RDMX_BASIC_CDOUBLE, RDMX_BASIC_CLDOUBLE, RDMX_BASIC_AINT,
    RDMX_BASIC_OFFSET, RDMX_BASIC_COUNT, RDMX_BASIC_PACKED,
    /* pair types for MINLOC/MAXLOC */
    RDMX_BASIC_FLOAT_INT, RDMX_BASIC_DOUBLE_INT, RDMX_BASIC_LONG_INT,
    RDMX_BASIC_2INT, RDMX_BASIC_SHORT_INT, RDMX_BASIC_LDOUBLE_INT,
    RDMX_BASIC_LB, RDMX_BASIC_UB, /* markers, size 0 */
    RDMX_BASIC_COUNT_
} rdmx_basic_t;

typedef struct rdmx_dt_block {
    ptrdiff_t disp; /* bytes from the element's start */
    size_t len;     /* bytes */
} rdmx_dt_block_t;

typedef struct rdmx_datatype {
    int predefined;
    int committed;
    int refcount;      /* derived types: freed when it reaches 0 */
    rdmx_basic_t basic;
    size_t size;       /* data bytes in one element */
    size_t nelements;  /* basic elements in one element (MPI_Get_elements) */
    ptrdiff_t lb, ub;  /* extent = ub - lb */
    ptrdiff_t true_lb, true_ub;
    int contiguous;    /* one block at 0 of `size` bytes and extent == size */
    size_t nblocks;
    rdmx_dt_block_t *blocks;
    rdmx_dt_block_t inline_block; /* storage for predefined types */
    int combiner;      /* MPI_COMBINER_* */
    char name[MPI_MAX_OBJECT_NAME];
} rdmx_datatype_t;

static inline ptrdiff_t rdmx_dt_extent(const rdmx_datatype_t *dt)
{
    return dt->ub - dt->lb;
}

/* Validate a datatype handle for communication (committed, not NULL). */
rdmx_status_t rdmx_dt_check(const rdmx_datatype_t *dt);

/* Bytes of data in `count` elements; RDMX_ERR_COUNT on overflow. */
rdmx_status_t rdmx_dt_bytes(const rdmx_datatype_t *dt, size_t count,
                            size_t *bytes);

/* Pack the packed-stream bytes [offset, offset+len) of `count` elements at
 * `buf` into `out`. Returns bytes written (< len only at the end). */
size_t rdmx_dt_pack(const rdmx_datatype_t *dt, const void *buf, size_t count,
                    size_t offset, void *out, size_t len);
/* Inverse of rdmx_dt_pack. */
size_t rdmx_dt_unpack(const rdmx_datatype_t *dt, void *buf, size_t count,
                      size_t offset, const void *in, size_t len);

/* Copy `count` elements of `sdt` at `src` to `rcount` of `rdt` at `dst`
 * (through the packed stream; no temporary when both are contiguous). */
rdmx_status_t rdmx_dt_copy(const void *src, size_t scount,
                           const rdmx_datatype_t *sdt, void *dst,
                           size_t rcount, const rdmx_datatype_t *rdt);

/* Build a derived type from its flattened blocks (used by constructors). */
rdmx_status_t rdmx_dt_create(rdmx_datatype_t **out, const rdmx_dt_block_t *b,
                             size_t nblocks, rdmx_basic_t basic,
                             size_t nelements, ptrdiff_t lb, ptrdiff_t ub,
                             int combiner);
void rdmx_dt_retain(rdmx_datatype_t *dt);
void rdmx_dt_release(rdmx_datatype_t *dt);

/* Size in bytes of one basic element (0 for markers). */
size_t rdmx_basic_size(rdmx_basic_t b);

#endif
