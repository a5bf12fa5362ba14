/*
 * status.h — the one status type of librdmx.
 *
 * Every internal function that can fail returns an rdmx_status_t: RDMX_OK
 * (zero) or a negative code. The MPI layer maps codes to MPI error classes
 * in one place (core/errors.c, rdmx_status_to_mpi_class).
 */
#ifndef RDMX_STATUS_H
#define RDMX_STATUS_H

typedef enum rdmx_status {
    RDMX_OK = 0,
    RDMX_INPROGRESS = 1, /* not an error: the operation completes later */
    RDMX_ERR_NOMEM = -1,
    RDMX_ERR_INVALID = -2,     /* bad argument */
    RDMX_ERR_IO = -3,          /* a system call failed */
    RDMX_ERR_PROTO = -4,       /* a peer sent something malformed */
    RDMX_ERR_AUTH = -5,        /* a peer failed authentication */
    RDMX_ERR_UNREACHABLE = -6, /* no transport reaches the peer */
    RDMX_ERR_TRUNCATE = -7,
    RDMX_ERR_UNSUPPORTED = -8,
    RDMX_ERR_TIMEOUT = -9,
    RDMX_ERR_PEER_GONE = -10, /* connection to a peer was lost */
    RDMX_ERR_NO_DEVICE = -11,
    RDMX_ERR_AGAIN = -12, /* try again: resources busy or events pending */
    RDMX_ERR_RANK = -13,
    RDMX_ERR_TAG = -14,
    RDMX_ERR_COUNT = -15,
    RDMX_ERR_TYPE = -16,
    RDMX_ERR_COMM = -17,
    RDMX_ERR_OP = -18,
    RDMX_ERR_ROOT = -19,
    RDMX_ERR_REQUEST = -20,
    RDMX_ERR_BUFFER = -21,
    RDMX_ERR_GROUP = -22,
    RDMX_ERR_INTERNAL = -23,
    RDMX_ERR_NOT_FOUND = -24,
    RDMX_ERR_CANCELLED = -25,
} rdmx_status_t;

/* Short English text for a status ("connection to peer lost"). */
const char *rdmx_status_str(rdmx_status_t status);

#endif
