/*
 * verbs.h — internals of the RDMA verbs transport, shared by its files:
 *   verbs_wire.c      wire formats (address, UD connection message, RC frame
 *                     header, packed rkey) and their validation;
 *   verbs_gid.c       RoCE GID ranking;          verbs_credit.c  eager credits;
 *   verbs_regcache.c  registration cache (intervals, LRU, invalidation);
 *   verbs_memhook.c   libc unmap functions patched to feed the cache;
 *   verbs_device.c    device/port/GID discovery, probe();
 *   verbs_conn.c      the UD connection manager and RC QP state changes;
 *   verbs_io.c        sends, receives, RDMA READ/WRITE, the CQ, progress;
 *   verbs_iface.c     the ops table, open/close, memory registration.
 *
 * Model. One device port per rank. open() creates a protection domain, one
 * CQ with a completion channel (the rank sleeps on its fd), a shared receive
 * queue of eager bounce buffers, and a UD QP, and publishes {GID/LID, UD
 * QPN, MTU} with rdmx_modex_put. No RC QP exists before a peer is used: the
 * first send to a peer creates an RC QP for it and sends a connection
 * request (its QPN, PSN, credit grant; HMAC'd with the job secret) to the
 * peer's UD QP; the peer creates its own RC QP for us, moves it to RTS and
 * answers with a reply carrying its QPN; the requester then moves its QP to
 * RTS and flushes the queued sends. Requests cross harmlessly (both sides
 * requested: each answers the other, each connects its single QP to the
 * QPN it was told). UD is unreliable, so an unanswered request is re-sent
 * every RDMX_VERBS_CONN_RETRY_MS until RDMX_VERBS_CONN_TIMEOUT.
 *
 * Everything runs on the progress thread; no locks.
 */
#ifndef RDMX_VERBS_H
#define RDMX_VERBS_H

#include <infiniband/verbs.h>
#include <stddef.h>
#include <stdint.h>

#include "core/proto.h"
#include "core/runtime.h"
#include "transport/transport.h"
#include "verbs_credit.h"
#include "verbs_regcache.h"
#include "verbs_wire.h"

/* wr_id tags in the low 3 bits (ops are 8-byte aligned pointers). */
enum {
    RDMX_VERBS_WR_OP = 0,      /* rdmx_verbs_op_t * on an RC send queue */
    RDMX_VERBS_WR_SRQ = 1,     /* index of an eager receive slot */
    RDMX_VERBS_WR_UD_RECV = 2, /* index of a UD receive slot */
    RDMX_VERBS_WR_UD_SEND = 3, /* index of a UD send slot */
    RDMX_VERBS_WR_TAG_MASK = 7,
};

#define RDMX_VERBS_UD_SLOTS 64 /* UD receive buffers */
#define RDMX_VERBS_UD_SEND_SLOTS 16
#define RDMX_VERBS_GRH 40 /* UD receives start with a GRH */

/* The port a rank uses, found by rdmx_verbs_device_find(). */
typedef struct rdmx_verbs_port {
    char dev_name[IBV_SYSFS_NAME_MAX];
    uint8_t port;
    int gid_index; /* -1 on IB without a usable GID (LID routing) */
    union ibv_gid gid;
    uint16_t lid;
    uint8_t link_layer;
    enum ibv_mtu active_mtu;
    char why[160]; /* why not usable, when not found */
} rdmx_verbs_port_t;

/* Finds the port (RDMX_IB_DEVICE / RDMX_IB_GID_INDEX honoured). On success
 * *ctx is the opened device (if ctx != NULL). */
rdmx_status_t rdmx_verbs_device_find(rdmx_verbs_port_t *p,
                                     struct ibv_context **ctx);

typedef struct rdmx_verbs_iface rdmx_verbs_iface_t;
typedef struct rdmx_verbs_op rdmx_verbs_op_t;

/* An eager receive buffer; wr_id of its SRQ WR points here. */
typedef struct rdmx_verbs_rslot {
    uint8_t *buf;
    uint32_t lkey;
} rdmx_verbs_rslot_t;

typedef struct rdmx_verbs_rchunk {
    struct rdmx_verbs_rchunk *next;
    struct ibv_mr *mr;
    uint8_t *mem;
    rdmx_verbs_rslot_t *slots;
    int n;
} rdmx_verbs_rchunk_t;

/* A one-sided operation as the core sees it: several READs/WRITEs. */
typedef struct rdmx_verbs_rma {
    rdmx_completion_t *comp;
    unsigned pending; /* posted or queued WRs not yet completed */
    rdmx_status_t status;
} rdmx_verbs_rma_t;

enum rdmx_verbs_op_kind {
    RDMX_VERBS_OP_SEND = 1, /* a frame in a send slot (or staged copy) */
    RDMX_VERBS_OP_READ = 2,
    RDMX_VERBS_OP_WRITE = 3,
};

struct rdmx_verbs_op {
    rdmx_verbs_op_t *next;
    rdmx_ep_t *ep;
    int kind;
    int signaled;
    /* SEND: the frame (a send slot once posted, malloc'd while queued) */
    uint8_t *frame;
    uint32_t frame_len;
    int slot;         /* send slot index, -1 = none yet */
    int needs_credit; /* MSG frames take a credit; CREDIT frames do not */
    /* READ/WRITE */
    void *local;
    uint32_t len, lkey, rkey;
    uint64_t raddr;
    rdmx_verbs_rma_t *rma;
};

enum rdmx_verbs_ep_state {
    RDMX_VERBS_EP_NEW = 0,    /* QP created, not yet connected */
    RDMX_VERBS_EP_CONNECTING, /* request sent, waiting for the reply */
    RDMX_VERBS_EP_CONNECTED,
    RDMX_VERBS_EP_FAILED,
};

struct rdmx_ep {
    rdmx_verbs_iface_t *iface;
    int peer;
    int state;
    struct ibv_qp *qp;
    uint32_t psn; /* our initial send PSN */
    uint32_t remote_qpn;
    rdmx_verbs_addr_t addr; /* the peer's published address */
    struct ibv_ah *ud_ah;   /* towards the peer's UD QP */
    long conn_sent_ns, conn_start_ns;
    rdmx_verbs_credit_t credit;
    /* Send queue accounting: WRs posted and not known complete. */
    unsigned sq_used;
    unsigned unsignaled; /* posted since the last signaled WR */
    rdmx_verbs_op_t *posted_head, *posted_tail; /* in post order */
    rdmx_verbs_op_t *queued_head, *queued_tail; /* not posted yet */
    int credit_frame_pending; /* post a CREDIT frame (also the RTU) */
    rdmx_ep_t *next_busy;     /* on iface->busy list when queued ops wait */
    int on_busy;
};

/* Registered memory handed to the core. */
typedef struct rdmx_verbs_memh {
    rdmx_memh_t super;
    rdmx_verbs_reg_t *reg;
} rdmx_verbs_memh_t;

struct rdmx_verbs_iface {
    rdmx_transport_t super;
    rdmx_runtime_t *rt;
    rdmx_verbs_port_t port;
    struct ibv_context *ctx;
    struct ibv_pd *pd;
    struct ibv_comp_channel *channel;
    struct ibv_cq *cq;
    int cq_size;
    unsigned cq_events; /* received, not yet acked */
    struct ibv_srq *srq;
    struct ibv_qp *ud_qp;
    struct ibv_device_attr dev_attr;

    /* Eager receive slots (SRQ), one registered chunk per connection. */
    rdmx_verbs_rchunk_t *rchunks;
    size_t rslot_size;
    int rslots_posted; /* handed to the SRQ (grows with connections) */
    int rslots_max;    /* the SRQ's size */

    /* Eager send slots. */
    uint8_t *sbuf;
    struct ibv_mr *sbuf_mr;
    size_t sslot_size;
    int sslots;
    int *sfree; /* stack of free send slots */
    int nsfree;

    /* UD connection manager buffers: recv slots then send slots. */
    uint8_t *udbuf;
    struct ibv_mr *udbuf_mr;
    int ud_send_busy[RDMX_VERBS_UD_SEND_SLOTS];

    rdmx_ep_t **eps; /* world size, NULL = not created */
    rdmx_ep_t *busy; /* endpoints with queued operations */
    int nconnected;  /* endpoints created */
    int nconnecting; /* endpoints waiting for a REP */
    /* Local QPN -> endpoint (receive completions name only the QP). */
    rdmx_ep_t **qpmap;
    unsigned qpmap_cap;       /* power of two */
    rdmx_verbs_op_t *op_free; /* recycled op structs */
    int armed;   /* notification requested: drain the channel on progress */
    int closing; /* close() runs: peers closing first is no failure */

    rdmx_verbs_regcache_t regcache;
    int regcache_hooked; /* the memory hook feeds regcache */

    /* Configuration. */
    size_t eager_limit;
    uint32_t credits; /* grant per connection */
    unsigned sq_depth;
    unsigned signal_every;
    uint32_t max_inline;
    size_t rdma_chunk;
    uint8_t timeout, retry_cnt, rnr_retry, min_rnr_timer;
    uint8_t rd_atomic, dest_rd_atomic;
    long conn_retry_ns, conn_timeout_ns;
    enum ibv_mtu mtu;
};

/* verbs_conn.c */
rdmx_status_t rdmx_verbs_ud_create(rdmx_verbs_iface_t *vi);
rdmx_status_t rdmx_verbs_ep_get(rdmx_verbs_iface_t *vi, int peer,
                                rdmx_ep_t **out);
/* Starts connecting if not yet; RDMX_OK once connected. */
rdmx_status_t rdmx_verbs_ep_connect(rdmx_ep_t *ep);
void rdmx_verbs_ud_recv(rdmx_verbs_iface_t *vi, int slot, uint32_t byte_len);
void rdmx_verbs_conn_timers(rdmx_verbs_iface_t *vi, long now);
void rdmx_verbs_ep_destroy(rdmx_ep_t *ep);
rdmx_status_t rdmx_verbs_ud_post_recv(rdmx_verbs_iface_t *vi, int slot);
long rdmx_verbs_now_ns(void);

/* verbs_io.c */
rdmx_status_t rdmx_verbs_qpmap_add(rdmx_verbs_iface_t *vi, rdmx_ep_t *ep);
void rdmx_verbs_qpmap_del(rdmx_verbs_iface_t *vi, rdmx_ep_t *ep);
void rdmx_verbs_ep_mark_busy(rdmx_ep_t *ep);
rdmx_status_t rdmx_verbs_srq_post(rdmx_verbs_iface_t *vi, int slot);
/* Posts more eager buffers for a new connection (grant + reserve). */
void rdmx_verbs_srq_grow(rdmx_verbs_iface_t *vi);
void rdmx_verbs_ep_flush(rdmx_ep_t *ep);
void rdmx_verbs_ep_fail(rdmx_ep_t *ep, rdmx_status_t why, const char *detail);
int rdmx_verbs_progress(rdmx_transport_t *tp);
rdmx_status_t rdmx_verbs_arm(rdmx_transport_t *tp);
rdmx_status_t rdmx_verbs_send(rdmx_ep_t *ep, const rdmx_wire_hdr_t *hdr,
                              const struct iovec *iov, int iovcnt,
                              rdmx_completion_t *comp);
rdmx_status_t rdmx_verbs_get(rdmx_ep_t *ep, void *local, size_t len,
                             rdmx_memh_t *local_memh, uint64_t remote_addr,
                             const uint8_t *rkey, uint32_t rkey_len,
                             unsigned flags,
                             rdmx_completion_t *comp);
rdmx_status_t rdmx_verbs_put(rdmx_ep_t *ep, const void *local, size_t len,
                             rdmx_memh_t *local_memh, uint64_t remote_addr,
                             const uint8_t *rkey, uint32_t rkey_len,
                             rdmx_completion_t *comp);
void rdmx_verbs_ep_drop_ops(rdmx_ep_t *ep);

#endif
