/*
 * op.h — reduction operations (implemented in collectives/op.c).
 */
#ifndef RDMX_OP_H
#define RDMX_OP_H

#include <stddef.h>

#include "datatype.h"
#include "mpi.h"
#include "status.h"

typedef enum rdmx_op_kind {
    RDMX_OP_USER = 0, RDMX_OP_MAX, RDMX_OP_MIN, RDMX_OP_SUM, RDMX_OP_PROD,
    RDMX_OP_LAND, RDMX_OP_BAND, RDMX_OP_LOR, RDMX_OP_BOR, RDMX_OP_LXOR,
    RDMX_OP_BXOR, RDMX_OP_MINLOC, RDMX_OP_MAXLOC, RDMX_OP_REPLACE,
    RDMX_OP_NO_OP,
} rdmx_op_kind_t;

typedef struct rdmx_op {
    int predefined;
    rdmx_op_kind_t kind;
    int commutative;
    MPI_User_function *user_fn;
    int refcount;
} rdmx_op_t;

/* Is `op` defined on `dt`? RDMX_ERR_OP if not (e.g. MPI_SUM on MPI_2INT). */
rdmx_status_t rdmx_op_check(const rdmx_op_t *op, const rdmx_datatype_t *dt);
/* inout[i] = in[i] op inout[i] for `count` elements of `dt`. */
rdmx_status_t rdmx_op_apply(const rdmx_op_t *op, const void *in, void *inout,
                            size_t count, const rdmx_datatype_t *dt);

#endif
