/*
 * request.h — requests and the internal nonblocking point-to-point API
 * that the MPI layer and the collectives are built on.
 */
#ifndef RDMX_REQUEST_H
#define RDMX_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "comm.h"
#include "datatype.h"
#include "mpi.h"
#include "status.h"

typedef enum rdmx_req_kind {
    RDMX_REQ_SEND = 1,
    RDMX_REQ_RECV = 2,
    RDMX_REQ_GENERIC = 3, /* collective schedules and other composite ops */
} rdmx_req_kind_t;

enum rdmx_send_mode {
    RDMX_SEND_STANDARD = 0,
    RDMX_SEND_SYNC = 1,
    RDMX_SEND_READY = 2,
    /* Flag on top of a mode: rendezvous even below the eager limit when
     * the transport can GET, so the receiver copies (collectives). */
    RDMX_SEND_FLAG_GET = 0x100,
};

typedef struct rdmx_request rdmx_request_t;

/* A generic request is driven by `poll`, which the progress engine calls
 * on every pass until it calls rdmx_request_generic_complete(). `poll`
 * returns RDMX_OK if it advanced (posted or finished a step), RDMX_INPROGRESS
 * if nothing changed (then the engine may put the rank to sleep until a
 * transport event), or an error (the engine completes the request with it). */
typedef rdmx_status_t (*rdmx_generic_poll_fn)(rdmx_request_t *req);
typedef void (*rdmx_generic_free_fn)(rdmx_request_t *req);

/* Requests are opaque outside core/request.c and core/p2p.c; the public
 * part is below. */
struct rdmx_request_public {
    rdmx_req_kind_t kind;
    volatile int complete;
    MPI_Status status; /* valid once complete */
};

/* Nonblocking send/receive on `comm` in context `ctx` (RDMX_CTX_P2P or
 * RDMX_CTX_COLL). `dest`/`src` are ranks in `comm` (or MPI_PROC_NULL,
 * MPI_ANY_SOURCE for receives). Arguments are validated. */
rdmx_status_t rdmx_isend(const void *buf, size_t count,
                         const rdmx_datatype_t *dt, int dest, int tag,
                         rdmx_comm_t *comm, int ctx, int mode,
                         rdmx_request_t **req);
rdmx_status_t rdmx_irecv(void *buf, size_t count, const rdmx_datatype_t *dt,
                         int src, int tag, rdmx_comm_t *comm, int ctx,
                         rdmx_request_t **req);

/* Blocking standard-mode send of a message that goes eagerly (contiguous,
 * within the transport's eager limit), without a request: returns once the
 * buffer may be reused. RDMX_ERR_AGAIN means the fast path does not apply
 * (use rdmx_isend). `dest` must be a valid rank of comm (not PROC_NULL). */
rdmx_status_t rdmx_send_eager_blocking(const void *buf, size_t count,
                                       const rdmx_datatype_t *dt, int dest,
                                       int tag, rdmx_comm_t *comm, int ctx);

/* 1 if complete. */
int rdmx_request_done(const rdmx_request_t *req);
/* The status of a complete request. */
const MPI_Status *rdmx_request_status(const rdmx_request_t *req);
/* Block (spin, then sleep) until `req` completes; does not free it. */
rdmx_status_t rdmx_request_wait(rdmx_request_t *req);
/* Block until all complete. */
rdmx_status_t rdmx_request_wait_all(rdmx_request_t **reqs, size_t n);
/* Drop the caller's reference; a still-running request completes and is
 * then recycled. */
void rdmx_request_free(rdmx_request_t *req);

/* Generic requests (collective schedules). `arg` is the owner's state;
 * `free_fn` releases it when the request is recycled. */
rdmx_request_t *rdmx_request_generic_new(rdmx_comm_t *comm,
                                         rdmx_generic_poll_fn poll,
                                         rdmx_generic_free_fn free_fn,
                                         void *arg);
void *rdmx_request_generic_arg(rdmx_request_t *req);
void rdmx_request_generic_complete(rdmx_request_t *req, rdmx_status_t st);

/* One pass of the progress engine over every transport and active generic
 * request; returns the number of events. */
int rdmx_progress(void);

#endif
