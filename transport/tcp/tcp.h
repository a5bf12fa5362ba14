/*
 * tcp.h — internals of the TCP transport, shared by its four files:
 *   tcp_wire.c   handshake framing, header checks, address-list text;
 *   tcp_conn.c   listening, connecting, the authenticated handshake, the
 *                simultaneous-connect rule, connection teardown;
 *   tcp_io.c     per-peer send queues, the receive state machine, progress;
 *   tcp_iface.c  the ops table, open/close, configuration.
 *
 * Model: one rdmx_tcp_ep_t per peer owns the FIFO of outgoing messages. A
 * peer is served by exactly one "adopted" connection (both sides agree which
 * one, see tcp_conn.c); messages are only ever written to, and accepted from,
 * an adopted connection, so a lost connect race can neither drop nor reorder
 * anything. Everything runs on the progress thread; no locks.
 */
#ifndef RDMX_TCP_H
#define RDMX_TCP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/auth.h"
#include "core/proto.h"
#include "core/runtime.h"
#include "transport/transport.h"

#define RDMX_TCP_MAX_ADDRS 8
#define RDMX_TCP_ADDRS_TEXT_MAX                                                \
    256 /* "a.b.c.d:ppppp," x RDMX_TCP_MAX_ADDRS                               \
         */

/* ---- wire (tcp_wire.c) --------------------------------------------------- */

#define RDMX_TCP_HS_LEN 64
#define RDMX_TCP_HS_MAGIC 0x54584452u /* "RDXT" read as little-endian u32 */
#define RDMX_TCP_HS_VERSION 1

enum rdmx_tcp_hs_type {
    RDMX_TCP_HS_HELLO = 1,     /* connector -> acceptor: who I am, nonce_c */
    RDMX_TCP_HS_CHALLENGE = 2, /* acceptor -> connector: nonce_a + proof */
    RDMX_TCP_HS_RESPONSE = 3,  /* connector -> acceptor: proof */
    RDMX_TCP_HS_VERDICT = 4,   /* acceptor -> connector: use it or not */
};

enum rdmx_tcp_hs_flags {
    RDMX_TCP_HS_FLAG_USE = 1u << 0, /* VERDICT: this connection is adopted */
};

/* A handshake message, unpacked. */
typedef struct rdmx_tcp_hs {
    uint8_t type;
    uint8_t flags;
    int32_t src; /* sender's world rank */
    int32_t dst; /* world rank the sender means to talk to */
    uint8_t nonce[RDMX_AUTH_NONCE_LEN];
    uint8_t mac[RDMX_AUTH_MAC_LEN];
} rdmx_tcp_hs_t;

void rdmx_tcp_hs_pack(const rdmx_tcp_hs_t *m, uint8_t out[RDMX_TCP_HS_LEN]);
/* Structural checks only (length, magic, version, type, flags, zero
 * fields). `why` gets a short reason on failure. */
rdmx_status_t rdmx_tcp_hs_unpack(const uint8_t *buf, size_t len,
                                 rdmx_tcp_hs_t *m, const char **why);
/* The MAC a message of `type` must carry: binds both ranks, both nonces and
 * the flags to the job secret. */
void rdmx_tcp_hs_mac(const uint8_t *secret, size_t secret_len, uint8_t type,
                     uint8_t flags, int32_t src, int32_t dst,
                     const uint8_t nonce_c[RDMX_AUTH_NONCE_LEN],
                     const uint8_t nonce_a[RDMX_AUTH_NONCE_LEN],
                     uint8_t out[RDMX_AUTH_MAC_LEN]);
/* Full check of a received message: type as expected, src/dst as expected
 * (src < 0 = any rank in [0, world_size) except dst), MAC (unless type is
 * HELLO, which carries none). */
rdmx_status_t rdmx_tcp_hs_verify(const rdmx_tcp_hs_t *m, uint8_t want_type,
                                 int32_t want_src, int32_t want_dst,
                                 int world_size, const uint8_t *secret,
                                 size_t secret_len, const uint8_t *nonce_c,
                                 const uint8_t *nonce_a, const char **why);

/* Transport-private message type on the stream, never passed to the core:
 * the peer is closing cleanly (rdmx_tcp close()), a following EOF is not a
 * failure. */
#define RDMX_TCP_MSG_BYE 0xf0

/* Validate a message header read from the stream before anything uses it. */
rdmx_status_t rdmx_tcp_hdr_check(const rdmx_wire_hdr_t *hdr,
                                 size_t max_eager_payload, const char **why);

/* "ip:port,ip:port" <-> addresses. Parse rejects anything malformed. */
int rdmx_tcp_addrs_format(const struct sockaddr_in *addrs, int n, char *out,
                          size_t out_len);
int rdmx_tcp_addrs_parse(const char *text, size_t len,
                         struct sockaddr_in *addrs, int max);

/* ---- objects ------------------------------------------------------------- */

typedef struct rdmx_tcp_iface rdmx_tcp_iface_t;
typedef struct rdmx_tcp_ep rdmx_tcp_ep_t;

typedef enum rdmx_tcp_conn_state {
    RDMX_TCP_CONN_CONNECTING, /* nonblocking connect() in flight */
    RDMX_TCP_CONN_HANDSHAKE,
    RDMX_TCP_CONN_UP,      /* adopted: carries messages for ep */
    RDMX_TCP_CONN_CLOSING, /* flush hs_out (a VERDICT "no"), then close */
    RDMX_TCP_CONN_DEAD,    /* closed, freed at the end of progress */
} rdmx_tcp_conn_state_t;

typedef enum rdmx_tcp_rx_state {
    RDMX_TCP_RX_HDR,
    RDMX_TCP_RX_PAYLOAD,
} rdmx_tcp_rx_state_t;

typedef struct rdmx_tcp_conn {
    rdmx_tcp_iface_t *iface;
    struct rdmx_tcp_conn *next, *prev; /* iface->conns */
    int fd;
    rdmx_tcp_conn_state_t state;
    int initiator;     /* we called connect() */
    int peer;          /* world rank; -1 until the handshake proves it */
    rdmx_tcp_ep_t *ep; /* initiator: target; acceptor: once adopted */
    int addr_idx;      /* initiator: index into ep->addrs being tried */
    struct sockaddr_in remote; /* for logs */
    uint32_t ev_mask;          /* events registered with epoll */
    int peer_said_bye;
    int peer_authenticated;
    int counted_unauth; /* counts in iface->nunauth */
    int got_challenge;  /* initiator: CHALLENGE verified, RESPONSE sent */

    /* Handshake. */
    uint8_t nonce_c[RDMX_AUTH_NONCE_LEN], nonce_a[RDMX_AUTH_NONCE_LEN];
    uint8_t hs_in[RDMX_TCP_HS_LEN];
    size_t hs_in_len;
    uint8_t hs_out[RDMX_TCP_HS_LEN];
    size_t hs_out_len, hs_out_off;
    uint64_t deadline_ns;

    /* Receive. Small messages are read in batches into rxbuf; a payload is
     * read straight into sink.buf (readv with rxbuf as overflow). */
    rdmx_tcp_rx_state_t rx_state;
    uint8_t *rxbuf;
    size_t rx_head, rx_tail;
    rdmx_wire_hdr_t rx_hdr;
    rdmx_recv_sink_t sink;
    size_t sink_off;     /* bytes of sink.len already placed */
    size_t discard_left; /* bytes still to drop after sink.len */
} rdmx_tcp_conn_t;

/* A queued send: the header copy, then the caller's iovecs (their
 * descriptors copied; the data only when small or when there is no
 * completion to call). */
typedef struct rdmx_tcp_sendop {
    struct rdmx_tcp_sendop *next;
    rdmx_completion_t *comp; /* called once all bytes are in the socket */
    int iovcnt;              /* entries left from iov[iovpos] */
    int iovpos;
    rdmx_wire_hdr_t hdr;
    struct iovec iov[]; /* hdr, then payload entries; inline data follows */
} rdmx_tcp_sendop_t;

struct rdmx_tcp_ep {
    rdmx_tcp_iface_t *iface;
    int peer;
    int naddrs; /* < 0: the peer published no usable address */
    struct sockaddr_in addrs[RDMX_TCP_MAX_ADDRS];
    rdmx_tcp_conn_t *conn;    /* adopted connection, NULL until then */
    rdmx_tcp_conn_t *out;     /* our own connect attempt, not yet adopted */
    rdmx_tcp_conn_t *self_rx; /* self: the receiving end of the socketpair */
    int await_incoming;       /* our attempt lost the race: the peer's comes */
    int failed;               /* peer failure reported: everything errors */
    int closed_by_peer;       /* peer said BYE */
    rdmx_tcp_sendop_t *sq_head, *sq_tail;
};

struct rdmx_tcp_iface {
    rdmx_transport_t super;
    int listen_fd;
    int epfd;
    int naddrs;
    struct sockaddr_in addrs[RDMX_TCP_MAX_ADDRS]; /* published */
    rdmx_tcp_ep_t **eps;    /* rt->size entries, created on demand */
    rdmx_tcp_conn_t *conns; /* every open connection */
    rdmx_tcp_conn_t *dead;  /* closed, freed when no caller can hold them */
    int nunauth;            /* accepted, not yet authenticated */
    int max_unauth;
    int in_progress;
    unsigned idle_polls;
    int closing;  /* close() runs: peer failures are expected */
    int draining; /* close() waits for EOFs: drop whatever arrives */
    size_t sndbuf, rcvbuf;
    uint64_t hs_timeout_ns;
    uint64_t next_sweep_ns;
};

/* ---- tcp_conn.c ---------------------------------------------------------- */

uint64_t rdmx_tcp_now_ns(void);
rdmx_status_t rdmx_tcp_listen(rdmx_tcp_iface_t *iface,
                              const struct sockaddr_in *bind_addr);
void rdmx_tcp_accept_all(rdmx_tcp_iface_t *iface);
rdmx_tcp_ep_t *rdmx_tcp_ep_get(rdmx_tcp_iface_t *iface, int peer);
/* Make sure a connection to ep's peer exists or is being made. */
rdmx_status_t rdmx_tcp_ep_connect(rdmx_tcp_ep_t *ep);
/* Epoll said something about a connection that is not UP yet. */
void rdmx_tcp_conn_handshake_event(rdmx_tcp_conn_t *conn, uint32_t events);
rdmx_status_t rdmx_tcp_conn_set_events(rdmx_tcp_conn_t *conn, uint32_t ev);
/* Write what is left of conn->hs_out: 1 when done, 0 when it would block
 * (EPOLLOUT is then armed), -errno on failure. */
int rdmx_tcp_conn_hs_flush(rdmx_tcp_conn_t *conn);
/* Close the socket now; the struct is freed at the end of progress. */
void rdmx_tcp_conn_close(rdmx_tcp_conn_t *conn);
/* The connection failed: drop it and, if it served (or was the last hope
 * for) a peer, fail that peer once. */
void rdmx_tcp_conn_fail(rdmx_tcp_conn_t *conn, rdmx_status_t why,
                        const char *detail);
void rdmx_tcp_ep_fail(rdmx_tcp_ep_t *ep, rdmx_status_t why, const char *detail);
void rdmx_tcp_sweep_handshakes(rdmx_tcp_iface_t *iface, uint64_t now);
void rdmx_tcp_free_dead(rdmx_tcp_iface_t *iface);
const char *rdmx_tcp_addr_str(const struct sockaddr_in *sa, char *buf,
                              size_t len);

/* ---- tcp_io.c ------------------------------------------------------------ */

rdmx_status_t rdmx_tcp_send(rdmx_ep_t *ep, const rdmx_wire_hdr_t *hdr,
                            const struct iovec *iov, int iovcnt,
                            rdmx_completion_t *comp);
/* Write queued messages of ep on its adopted connection. */
rdmx_status_t rdmx_tcp_ep_flush(rdmx_tcp_ep_t *ep);
/* Complete every queued send of ep with `status`. */
void rdmx_tcp_ep_drop_queue(rdmx_tcp_ep_t *ep, rdmx_status_t status);
/* Epoll event on an UP connection. */
void rdmx_tcp_conn_io_event(rdmx_tcp_conn_t *conn, uint32_t events);
/* A connection just became UP. */
rdmx_status_t rdmx_tcp_conn_up(rdmx_tcp_conn_t *conn);
int rdmx_tcp_progress(rdmx_transport_t *tp);
/* Queue a transport-private BYE to ep's peer. */
rdmx_status_t rdmx_tcp_ep_send_bye(rdmx_tcp_ep_t *ep);

#endif
