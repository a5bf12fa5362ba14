/*
 * proto.h — the message header every transport carries in front of a
 * payload, and the core's upcalls that transports invoke on arrival.
 *
 * Wire header (32 bytes, host byte order: rdmx jobs are homogeneous):
 *
 *   0       1       2               4                               8
 *   +-------+-------+---------------+-------------------------------+
 *   | type  | flags |   reserved    |          context_id           |
 *   +-------+-------+---------------+-------------------------------+
 *   |          src (comm rank)      |              tag              |
 *   +-------------------------------+-------------------------------+
 *   |                  len (payload / message bytes)                |
 *   +---------------------------------------------------------------+
 *   |           sreq / rreq (request handle, see per type)          |
 *   +---------------------------------------------------------------+
 *
 * `len` is always the number of payload bytes that follow the header on the
 * wire, so a stream transport can frame messages without knowing the types.
 *
 * Types:
 *   EAGER     payload = message data. flags may hold SYNC: the receiver
 *             answers SYNC_ACK(req = sender's handle) once matched.
 *   RTS       ready-to-send of a rendezvous; req = sender's handle; payload =
 *             rdmx_rndv_desc_t (desc.len = message bytes; addr/rkey set when
 *             the transport can GET, rkey_len = 0 otherwise).
 *   CTS       clear-to-send (transports without GET): req = sender's handle,
 *             payload = the receiver's 8-byte handle.
 *   DATA      rendezvous data; req = receiver's handle; payload = data.
 *   FIN       receiver finished its GET; req = sender's handle; no payload.
 *   SYNC_ACK  a synchronous eager send was matched; req = sender's handle.
 *
 * Every field is validated by the core before use: type in range, len within
 * the transport's limit for the type, src within the communicator, request
 * handles looked up in a table with a generation check (never dereferenced).
 */
#ifndef RDMX_PROTO_H
#define RDMX_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

enum rdmx_msg_type {
    RDMX_MSG_EAGER = 1,
    RDMX_MSG_RTS = 2,
    RDMX_MSG_CTS = 3,
    RDMX_MSG_DATA = 4,
    RDMX_MSG_FIN = 5,
    RDMX_MSG_SYNC_ACK = 6,
    RDMX_MSG_TYPE_MAX = 6,
};

enum rdmx_msg_flags {
    RDMX_MSG_FLAG_SYNC = 1u << 0,
    /* RTS: one of several blocks a sender offers to many readers at once
     * (a collective's fan-out): each reader should pull its own. */
    RDMX_MSG_FLAG_FANOUT = 1u << 1,
};

typedef struct rdmx_wire_hdr {
    uint8_t type;
    uint8_t flags;
    uint16_t reserved;
    uint32_t context_id;
    int32_t src;
    int32_t tag;
    uint64_t len;
    uint64_t req;
} rdmx_wire_hdr_t;

_Static_assert(sizeof(rdmx_wire_hdr_t) == 32, "wire header is 32 bytes");

#define RDMX_RKEY_MAX 24

/* Payload of an RTS on transports that support GET: where to read from. */
typedef struct rdmx_rndv_desc {
    uint64_t addr;
    uint64_t len;
    uint32_t rkey_len;
    uint32_t reserved;
    uint8_t rkey[RDMX_RKEY_MAX];
} rdmx_rndv_desc_t;

struct rdmx_runtime;

/*
 * Where an arriving payload must go. Filled by rdmx_proto_on_header() when
 * the transport could not hand over the payload in memory.
 */
typedef struct rdmx_recv_sink {
    void *buf;        /* destination, NULL = nothing more to do */
    size_t len;       /* bytes to place at buf (<= hdr->len) */
    size_t discard;   /* bytes after those to read and drop (truncation) */
    void *cookie;     /* core's: passed back in on_payload_done */
    unsigned kind;    /* core's */
} rdmx_recv_sink_t;

/*
 * A message header arrived from world rank `peer`.
 *
 * If `payload` is not NULL the whole payload (hdr->len bytes) is readable
 * there for the duration of the call (shm ring cell, verbs bounce buffer,
 * self): the core consumes it and sets sink->buf = NULL.
 *
 * If `payload` is NULL (stream transports), the core fills `sink`: the
 * transport then moves sink->len bytes into sink->buf, drops sink->discard
 * more, and calls rdmx_proto_on_payload_done(). A sink with buf == NULL and
 * len == 0 but discard > 0 means: drop the payload.
 *
 * Returns RDMX_ERR_PROTO for a header that fails validation; the transport
 * then drops the connection and logs the peer.
 */
rdmx_status_t rdmx_proto_on_header(struct rdmx_runtime *rt, int peer,
                                   const rdmx_wire_hdr_t *hdr,
                                   const void *payload,
                                   rdmx_recv_sink_t *sink);
void rdmx_proto_on_payload_done(struct rdmx_runtime *rt, int peer,
                                rdmx_recv_sink_t *sink);

/* Requests the core has completed so far (it only grows). A transport that
 * drains several records per progress() call stops after one that changed
 * it: the caller waiting for that request then returns before the
 * transport looks at the next record, whose cache line the sender usually
 * still owns. That look cost 150 ns on the critical path of the first
 * message after a barrier (rdtsc probes, shm, 2 ranks). */
extern unsigned long rdmx_proto_completions;

/* A transport lost its connection to `peer` (or saw a fatal error on it):
 * the core fails every request towards that peer and ends the job with a
 * message naming both ranks (a dead rank is fatal in MPI-3.1). */
void rdmx_proto_on_peer_failure(struct rdmx_runtime *rt, int peer,
                                rdmx_status_t why, const char *detail);

#endif
