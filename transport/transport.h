/*
 * transport.h — the interface between the core and a transport.
 *
 * A transport is a table of function pointers (rdmx_transport_ops_t), like
 * rdma-core's struct verbs_context_ops or UCX's uct_iface_ops: the core never
 * knows which transport serves a peer. Transports are registered in
 * transport/registry.c. MPI_Init runs:
 *   1. PMI init; publish host id; fence — rt->local_peers is then known;
 *   2. probe() + open() of each selected transport (publish addresses with
 *      rdmx_modex_put);
 *   3. fence; 4. wireup() of each open transport; 5. fence.
 * Then, per peer on first use, the first transport in preference order whose
 * reachable() says yes serves it, through an endpoint made by ep_create().
 *
 * The interface is shaped by RDMA: memory registration returns a remote key,
 * GET/PUT are one-sided and complete through a callback, a transport exposes
 * a file descriptor so a waiting rank can sleep (completion channel, epoll
 * set, socket) instead of spinning.
 *
 * Threading: all calls come from the thread that drives progress.
 */
#ifndef RDMX_TRANSPORT_H
#define RDMX_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../core/proto.h"
#include "../core/status.h"

struct rdmx_runtime;
typedef struct rdmx_transport rdmx_transport_t;
typedef struct rdmx_ep rdmx_ep_t;       /* per-peer endpoint, transport-owned */
typedef struct rdmx_memh rdmx_memh_t;   /* registered memory, transport-owned */

/* Completion of an asynchronous send/get/put. The core embeds this in its
 * request and recovers the request with container_of. */
typedef struct rdmx_completion {
    void (*cb)(struct rdmx_completion *comp, rdmx_status_t status);
} rdmx_completion_t;

enum rdmx_transport_cap {
    RDMX_TP_CAP_GET = 1u << 0, /* get(): one-sided read of peer memory */
    RDMX_TP_CAP_PUT = 1u << 1, /* put(): one-sided write into peer memory */
    RDMX_TP_CAP_WAIT_FD = 1u << 2, /* wait_fd() usable for blocking */
    /* progress() has work only while `pending` (below) is non-zero: the
     * progress loop skips the call otherwise (the self transport, whose
     * queue is in this process). */
    RDMX_TP_CAP_POLL_PENDING = 1u << 3,
};

typedef struct rdmx_transport_caps {
    unsigned flags;          /* RDMX_TP_CAP_* */
    size_t eager_limit;      /* payloads <= this go EAGER, larger: RTS */
    size_t max_eager_payload;/* hard limit a receiver accepts for EAGER */
    size_t get_max_chunk;    /* largest single get(); core splits above */
    unsigned priority;       /* higher wins when several reach a peer */
} rdmx_transport_caps_t;

/* Fields common to every transport; a transport's own struct starts with
 * this one. */
struct rdmx_transport {
    const struct rdmx_transport_ops *ops;
    struct rdmx_runtime *rt;
    rdmx_transport_caps_t caps;
    unsigned pending; /* with RDMX_TP_CAP_POLL_PENDING: work is queued */
};

/* Registered memory: the transport's own struct starts with this one. */
struct rdmx_memh {
    void *addr;
    size_t len;
    uint32_t rkey_len;
    uint8_t rkey[RDMX_RKEY_MAX]; /* packed remote key sent in an RTS */
};

/* Flags of get(). */
enum rdmx_get_flags {
    /* The sender offers blocks to many readers at once (a collective's
     * fan-out): a transport that can choose how to copy lets the readers
     * pull in parallel rather than asking the sender to push. */
    RDMX_GET_FLAG_FANOUT = 1u << 0,
};

typedef struct rdmx_transport_ops {
    size_t size; /* sizeof(rdmx_transport_ops_t) at build time */
    const char *name;

    /* Can this transport work on this machine? On "no", write a one-line
     * reason ("no RDMA device (libibverbs found 0 devices)"). Cheap and
     * side-effect free: rdmx-info calls it without MPI_Init. */
    rdmx_status_t (*probe)(char *why, size_t why_len);

    /* Create the interface and publish its address with rdmx_modex_put.
     * Called before the PMI fence. */
    rdmx_status_t (*open)(struct rdmx_runtime *rt, rdmx_transport_t **tp);

    /* Optional (may be NULL). Called on every rank after the address
     * exchange (every rank's open() has published), before the first
     * message: attach to peers' shared segments and the like. The core
     * runs one more PMI fence after all wireups, so state created here by
     * one rank is visible to all afterwards. */
    rdmx_status_t (*wireup)(rdmx_transport_t *tp);

    /* After the fence: can this transport serve world rank `peer`? */
    int (*reachable)(rdmx_transport_t *tp, int peer);

    /* Endpoint towards `peer`; connection may be established lazily. */
    rdmx_status_t (*ep_create)(rdmx_transport_t *tp, int peer,
                               rdmx_ep_t **ep);

    /* Send `hdr` followed by the payload in iov (total hdr->len bytes).
     * The header itself is copied before send() returns (the caller's copy
     * may live on its stack); only the iov buffers must stay valid.
     * Never fails for lack of room: queue and finish from progress().
     * Returns RDMX_OK if the buffers may be reused at once (copied or sent),
     * RDMX_INPROGRESS if `comp->cb` will be called when they may (the
     * buffers stay untouched by the caller until then), or an error. */
    rdmx_status_t (*send)(rdmx_ep_t *ep, const rdmx_wire_hdr_t *hdr,
                          const struct iovec *iov, int iovcnt,
                          rdmx_completion_t *comp);

    /* Register memory for remote access (rendezvous). NULL without CAP_GET
     * and CAP_PUT. */
    rdmx_status_t (*mem_reg)(rdmx_transport_t *tp, void *addr, size_t len,
                             rdmx_memh_t **memh);
    void (*mem_dereg)(rdmx_transport_t *tp, rdmx_memh_t *memh);

    /* One-sided read of `len` bytes at the peer's `remote_addr` (described by
     * the packed `rkey`) into local memory `local` (registered as
     * `local_memh`, may be NULL for transports that need none). Completes by
     * comp->cb. */
    rdmx_status_t (*get)(rdmx_ep_t *ep, void *local, size_t len,
                         rdmx_memh_t *local_memh, uint64_t remote_addr,
                         const uint8_t *rkey, uint32_t rkey_len,
                         unsigned flags, rdmx_completion_t *comp);
    rdmx_status_t (*put)(rdmx_ep_t *ep, const void *local, size_t len,
                         rdmx_memh_t *local_memh, uint64_t remote_addr,
                         const uint8_t *rkey, uint32_t rkey_len,
                         rdmx_completion_t *comp);

    /* Make progress without blocking; returns the number of events handled
     * (0 = nothing happened). */
    int (*progress)(rdmx_transport_t *tp);

    /* A file descriptor that becomes readable when progress() has work, or
     * -1 if the transport cannot wake a sleeper (then the core polls it). */
    int (*wait_fd)(rdmx_transport_t *tp);

    /* Called right before the core sleeps on wait_fd: arm notifications
     * (ibv_req_notify_cq, "I sleep" flag in shm). Returns RDMX_ERR_AGAIN if
     * work is already pending and the caller must not sleep. */
    rdmx_status_t (*arm)(rdmx_transport_t *tp);

    /* Optional (NULL = nothing is ever queued). Push out everything that
     * send() accepted but has not yet handed to the wire/peer (queued
     * bytes, unfinished connection handshakes, unsignalled work requests).
     * Returns RDMX_OK when nothing is pending, RDMX_ERR_AGAIN while data is
     * still queued (the core calls progress() and asks again). MPI_Finalize
     * flushes before it stops driving progress: a rank whose last message
     * still sits in a user-space queue would otherwise leave its peer
     * waiting forever. */
    rdmx_status_t (*flush)(rdmx_transport_t *tp);

    /* Free everything. Called after flush() returned RDMX_OK and every rank
     * has passed the finalize fence. */
    void (*close)(rdmx_transport_t *tp);

    /* One line for rdmx-info / RDMX_LOG=info describing the peer's path,
     * e.g. "tcp 127.0.0.1:40123". May be NULL. */
    void (*describe_ep)(rdmx_ep_t *ep, char *buf, size_t len);

    /* Optional (NULL: the core uses mem_reg). mem_reg for a buffer that
     * several peers will read at once (a collective's fan-out, RTS flag
     * RDMX_MSG_FLAG_FANOUT): the transport may copy it once to where the
     * readers copy from faster. Released with mem_dereg. */
    rdmx_status_t (*mem_reg_shared)(rdmx_transport_t *tp, void *addr,
                                    size_t len, rdmx_memh_t **memh);

    /* Optional (NULL: none). Memory that every rank of the node maps: the
     * collective area of `ep`'s peer (ep NULL: our own), mapped in this
     * process, `*bytes` long and the same size on every rank; NULL if there
     * is none. Blocking collectives on one host stage data there
     * (collectives/shared.c): a rank writes only its own area,
     * and synchronises with zero-byte messages before others read it. */
    void *(*coll_area)(rdmx_transport_t *tp, rdmx_ep_t *ep, size_t *bytes);
} rdmx_transport_ops_t;

/* Registered transports, in preference order (see registry.c). */
extern const rdmx_transport_ops_t *const rdmx_transport_registry[];
extern const size_t rdmx_transport_registry_len;

/* Key-value exchange of transport addresses through the launcher (PMI).
 * Values are binary; they are hex-encoded on the wire. */
rdmx_status_t rdmx_modex_put(struct rdmx_runtime *rt, const char *transport,
                             const void *data, size_t len);
rdmx_status_t rdmx_modex_get(struct rdmx_runtime *rt, int peer,
                             const char *transport, void *data, size_t cap,
                             size_t *len);

/* Shared helper: look at whether two world ranks share a host (same host
 * name and boot id). Available after the fence. */
int rdmx_rt_same_host(struct rdmx_runtime *rt, int peer);

#endif
