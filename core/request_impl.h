/*
 * request_impl.h — the request object, private to core/.
 */
#ifndef RDMX_REQUEST_IMPL_H
#define RDMX_REQUEST_IMPL_H

#include "../transport/transport.h"
#include "match.h"
#include "request.h"

typedef struct rdmx_unexpected rdmx_unexpected_t;

enum rdmx_req_state {
    RDMX_RS_FREE = 0,
    RDMX_RS_ACTIVE,
    RDMX_RS_DONE,
};

struct rdmx_request {
    struct rdmx_request_public pub;
    int state;
    int user_freed;   /* MPI_Request_free: recycle on completion */
    uint32_t gen;     /* generation for wire handles */
    uint32_t index;   /* slot in the handle table */
    rdmx_comm_t *comm;

    /* user buffer */
    void *buf;
    size_t count;
    const rdmx_datatype_t *dt;
    size_t bytes;     /* packed bytes of buf/count/dt */
    void *tmp;        /* packed copy for non-contiguous layouts */

    int peer;         /* world rank of the peer (receives: once matched) */
    int pending;      /* outstanding events before completion */
    rdmx_status_t error;

    /* receive side */
    rdmx_match_entry_t match;
    int matched;
    size_t msg_len;   /* incoming message bytes */
    size_t fetch_len; /* bytes a rendezvous GET brings (<= msg_len) */
    uint8_t sync_flags;  /* eager SYNC flag, kept until payload arrives */
    int awaiting_data;   /* CTS sent, DATA expected */
    uint64_t cts_payload; /* our handle, sent in the CTS */

    /* send side */
    int mode;
    rdmx_transport_t *tp;
    rdmx_memh_t *memh;
    rdmx_completion_t send_comp;
    rdmx_completion_t get_comp;
    uint64_t remote_req; /* peer's handle (CTS/DATA/FIN) */

    /* generic requests */
    rdmx_generic_poll_fn poll;
    rdmx_generic_free_fn free_fn;
    void *arg;
    rdmx_request_t *gnext, *gprev; /* active generic list */

    rdmx_request_t *next_free;
};

/* An arrived message no receive was waiting for. */
struct rdmx_unexpected {
    rdmx_match_entry_t match;
    rdmx_wire_hdr_t hdr;
    int peer;          /* world rank */
    void *data;        /* eager payload copy (hdr.len bytes) */
    int data_ready;    /* payload fully arrived (stream transports) */
    rdmx_request_t *waiting; /* receive matched before the payload arrived */
    rdmx_rndv_desc_t desc;   /* RTS on GET-capable transports */
    int has_desc;
};

rdmx_request_t *rdmx_request_alloc(rdmx_req_kind_t kind, rdmx_comm_t *comm);
/* Mark complete; recycle if the user already freed it. */
void rdmx_request_complete(rdmx_request_t *req);
/* Wire handle of a request and its validated lookup. */
uint64_t rdmx_request_handle(const rdmx_request_t *req);
rdmx_request_t *rdmx_request_lookup(uint64_t handle);
/* Active generic requests (polled by the progress engine). */
int rdmx_request_poll_generic(void);
/* The generic requests in flight (NULL: none; the progress loop checks
 * before calling rdmx_request_poll_generic). */
extern rdmx_request_t *rdmx_request_generic_head;

/* Block until cond(arg) is true, driving progress; spins briefly, then
 * sleeps on the transports' wait fds. */
rdmx_status_t rdmx_progress_wait(int (*cond)(void *arg), void *arg);

/* Matching engine of this process. */
extern rdmx_match_engine_t rdmx_matcher;

void rdmx_p2p_deliver_unexpected(rdmx_request_t *r, rdmx_unexpected_t *u);
void rdmx_p2p_send_data(rdmx_request_t *r);

int rdmx_p2p_init(void);
void rdmx_p2p_fini(void);

#endif
