/*
 * shm_internal.h — state shared by the files of the shm transport.
 *
 * Layout of one rank's inbound segment /dev/shm/rdmx-<job>-shm<rank>
 * (created by that rank in open(), mapped by every local peer in wireup()):
 *
 *   +------------------------------+ 0
 *   | rdmx_shm_ctl_t               |  magic, geometry, owner pid,
 *   |                              |  attach counter, "sleeping" flag
 *   +------------------------------+ coop_offset
 *   | shared-copy slots            |  rdmx_shm_coop_t, COOP_SLOTS per
 *   |                              |  local peer (shm_coop.c)
 *   +------------------------------+ ring_offset (page aligned)
 *   | ring from local rank 0       |  rdmx_shm_ring_shared_t + cells
 *   +------------------------------+ ring_offset + ring_stride
 *   | ring from local rank 1       |
 *   | ...                          |  (the owner's own slot is unused)
 *   +------------------------------+ fanout_offset (page aligned)
 *   | fan-out staging area         |  fanout_bytes (0 on 2-rank nodes):
 *   |                              |  a buffer the owner sends to several
 *   |                              |  peers at once, copied here once
 *   +------------------------------+ coll_offset (page aligned)
 *   | collective area              |  coll_bytes (0 on 2-rank nodes):
 *   |                              |  written only by the owner, read by
 *   |                              |  every local rank in blocking
 *   |                              |  collectives (shm_coll_area.c)
 *   +------------------------------+ seg_bytes
 *
 * Only local rank i produces into ring i of a segment; only the owner
 * consumes. Ring records carry one of the rdmx_shm_kind values below.
 */
#ifndef RDMX_SHM_INTERNAL_H
#define RDMX_SHM_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "shm_ring.h"
#include "transport/transport.h"

#define RDMX_SHM_MAGIC 0x72646d78u /* "rdmx" */
#define RDMX_SHM_VERSION 6u
#define RDMX_SHM_NAME_MAX 128

typedef struct rdmx_shm_ctl {
    uint32_t magic;
    uint32_t version;
    uint32_t local_size;
    uint32_t ring_cells;
    uint64_t seg_bytes;
    uint64_t ring_offset;
    uint64_t ring_stride;
    uint64_t coop_offset; /* rdmx_shm_coop_t[local_size][COOP_SLOTS] */
    uint64_t fanout_offset, fanout_bytes; /* staging area, may be empty */
    uint64_t coll_offset, coll_bytes;     /* collective area, may be empty */
    int32_t owner_rank;
    int32_t owner_pid;
    /* A reader checks with one process_vm_readv of cma_probe_addr (in the
     * owner's memory, holding cma_nonce) that CMA works and that owner_pid
     * names the owner in the reader's pid namespace. */
    uint64_t cma_probe_addr;
    uint64_t cma_nonce;
    /* 1: the owner sleeps with membarrier(2), so senders that registered
     * may skip their fence (shm_fence.c). */
    uint32_t membarrier;
    _Alignas(64) _Atomic uint32_t attached; /* peers that mapped us */
    _Alignas(64) _Atomic uint32_t sleeping; /* owner blocks on wake fd */
    /* What the staging area holds: the owner's buffer at fanout_base,
     * fanout_len bytes, under generation fanout_gen (stored last, with
     * release; 0 = nothing). Readers compare it with their rkey's. */
    _Alignas(64) _Atomic uint32_t fanout_gen;
    _Atomic uint64_t fanout_base;
    _Atomic uint64_t fanout_len;
} rdmx_shm_ctl_t;

/* Ring record kinds (values >= 1; 0 is the ring's PAD). */
enum rdmx_shm_kind {
    RDMX_SHM_KIND_MSG = 1,      /* rdmx_wire_hdr_t + payload */
    RDMX_SHM_KIND_GET_REQ = 2,  /* rdmx_shm_get_req_t (copy-mode GET) */
    RDMX_SHM_KIND_GET_DATA = 3, /* rdmx_shm_get_data_t + bytes */
    RDMX_SHM_KIND_COOP = 4,     /* rdmx_shm_coop_req_t: help copy */
    RDMX_SHM_KIND_MSG_SHORT = 5, /* rdmx_shm_short_hdr_t + payload */
};

/*
 * Shared single-copy GET (shm_coop.c). A reader of a large message splits
 * it into chunks described by a slot in its own segment; it copies chunks
 * with process_vm_readv and asks the owner, by a COOP record, to copy
 * others with process_vm_writev at the same time. Each side claims the next
 * chunk with a compare-and-swap on `claim` (generation in the high half, so
 * a claim can never land on a reused slot) and counts finished chunks in
 * `done`. Layout (64 bytes):
 *
 *   0        8        16       24       32       40   44   48   52   56
 *   | claim  | dst    | src    | len    | done   |chunk|nchk|reg |rgen|status|
 */
#define RDMX_SHM_COOP_SLOTS 4

typedef struct rdmx_shm_coop {
    _Alignas(64) _Atomic uint64_t claim; /* gen << 32 | next chunk */
    uint64_t dst; /* reader's address */
    uint64_t src; /* owner's address */
    uint64_t len;
    _Atomic uint32_t done; /* chunks finished by either side */
    uint32_t chunk;
    uint32_t nchunks;
    uint32_t region, rgen; /* owner's registration, from the rkey */
    _Atomic int32_t status; /* first error of the owner's copies */
} rdmx_shm_coop_t;

typedef struct rdmx_shm_coop_req {
    uint32_t slot;
    uint32_t gen;
} rdmx_shm_coop_req_t;

/* Reader's private view of its slots towards one peer. */
typedef struct rdmx_shm_coop_op {
    rdmx_completion_t *comp; /* NULL = slot free */
    uint32_t gen;
    uint32_t nchunks;
    rdmx_status_t status; /* of the reader's own chunks */
} rdmx_shm_coop_op_t;

/*
 * Copy-mode GET, used when the kernel refuses cross-memory attach:
 *
 *   reader                              owner of the memory
 *   GET_REQ{cookie, addr, len, region} ->
 *                                    <- GET_DATA{cookie, offset, status} +
 * chunk
 *                                    <- ... (pipelined through the ring)
 */
typedef struct rdmx_shm_get_req {
    uint64_t cookie; /* reader's pending-get slot (id | gen << 32) */
    uint64_t addr;   /* in the owner's address space */
    uint64_t len;
    uint32_t region; /* owner's registration id from the rkey */
    uint32_t gen;
} rdmx_shm_get_req_t;

typedef struct rdmx_shm_get_data {
    uint64_t cookie;
    uint64_t offset;
    int32_t status; /* RDMX_OK, or why the owner refused the request */
    uint32_t reserved;
} rdmx_shm_get_data_t;

/* Packed remote key (rdmx_memh_t.rkey), 16 bytes:
 *   0        4        8        12       16
 *   | magic  |  pid   | region |  gen   |                                 */
typedef struct rdmx_shm_rkey {
    uint32_t magic;
    int32_t pid;
    uint32_t region;
    uint32_t gen;
    uint32_t stage_gen; /* != 0: also in the owner's staging area */
} rdmx_shm_rkey_t;
#define RDMX_SHM_RKEY_MAGIC 0x73686d6bu /* "shmk" */

typedef struct rdmx_shm_memh {
    rdmx_memh_t base;
    uint32_t region;
    uint32_t gen;
    int get_dest; /* the destination of a read of ours, not exposed */
    int fanout;   /* counted in the transport's fanout_refs */
} rdmx_shm_memh_t;

/* Something waiting for ring room towards one peer, sent in order. */
typedef enum rdmx_shm_out_type {
    RDMX_SHM_OUT_MSG,   /* header + iov of a caller that gets comp->cb */
    RDMX_SHM_OUT_COPY,  /* a whole record body copied into `copy` */
    RDMX_SHM_OUT_SERVE, /* copy-mode GET being answered in chunks */
} rdmx_shm_out_type_t;

typedef struct rdmx_shm_out {
    struct rdmx_shm_out *next;
    rdmx_shm_out_type_t type;
    uint32_t kind; /* record kind for OUT_COPY */
    size_t body_len;
    rdmx_wire_hdr_t hdr;
    struct iovec *iov;
    int iovcnt;
    rdmx_completion_t *comp;
    unsigned char *copy;
    /* OUT_SERVE */
    uint64_t cookie;
    const unsigned char *src;
    uint64_t len, done;
} rdmx_shm_out_t;

struct rdmx_shm_transport;

struct rdmx_ep {
    struct rdmx_shm_transport *tp;
    int peer;  /* world rank */
    int local; /* index in rt->local_peers */
    pid_t pid;
    int cma; /* 1: read peer memory with process_vm_readv */
    int light; /* both sides use membarrier: no fence per message */
    int failed;
    rdmx_shm_ctl_t *ctl; /* peer's segment (we produce into it) */
    size_t seg_bytes;
    rdmx_shm_ring_producer_t prod;
    rdmx_shm_out_t *out_head, *out_tail;
    uint64_t stuck_since_ns; /* out queue blocked since (liveness check) */
    struct sockaddr_un wake_addr;
    socklen_t wake_len;
};

typedef struct rdmx_shm_get_op {
    rdmx_completion_t *comp; /* NULL = slot free */
    unsigned char *dst;
    uint64_t len, received;
    uint32_t gen;
    int peer_local;
    rdmx_status_t status;
} rdmx_shm_get_op_t;

typedef struct rdmx_shm_done {
    rdmx_completion_t *comp;
    rdmx_status_t status;
} rdmx_shm_done_t;

typedef struct rdmx_shm_transport {
    rdmx_transport_t base;
    int local_size, local_rank;
    uint32_t ring_cells;
    size_t max_body; /* largest ring record body */
    int cma_enabled;
    /* Point-to-point reads from this size up go through the two-copy
     * pipeline if the calibration says it is faster (0 = never), and the
     * calibration's verdict: 0 not run, 1 pipeline, 2 CMA. */
    size_t pipeline_min;
    int pipeline_verdict;
    /* Fan-out staging (shm_get.c): the buffer registered for several
     * readers, how many live registrations name it, whether and under
     * which generation it sits in our staging area. */
    size_t fanout_bytes;
    const void *fanout_addr;
    size_t fanout_len;
    int fanout_refs, fanout_staged;
    uint32_t fanout_gen;
    /* Bytes of the collective area in every local rank's segment. */
    size_t coll_bytes;
    pid_t pid; /* ours, put in every rkey (getpid() is a system call) */
    int membarrier; /* registered for, and able to issue, membarrier */

    char seg_name[RDMX_SHM_NAME_MAX];
    rdmx_shm_ctl_t *ctl; /* own inbound segment */
    size_t seg_bytes;
    int seg_unlinked;
    rdmx_shm_ring_consumer_t *cons; /* [local_size], own slot unused */
    rdmx_ep_t *eps;                 /* [local_size], own slot unused */
    int wired;

    int wake_fd; /* bound abstract datagram socket, also used to send */
    int armed;
    int in_progress;

    /* Registered regions (copy-mode GET validates requests against them). */
    rdmx_shm_memh_t **regions;
    uint32_t nregions, regions_cap;
    uint32_t free_region; /* hint */
    uint32_t region_gen;
    /* Registrations exposed to peers (not the destination of a read of
     * ours): a large send of ours is in flight while this is non-zero. */
    uint32_t nexposed;

    /* Outstanding copy-mode GETs issued by this rank. */
    rdmx_shm_get_op_t *gets;
    uint32_t ngets_cap;

    /* Shared-copy GETs: [local_size][COOP_SLOTS], and how many wait for
     * chunks the owner still copies. */
    rdmx_shm_coop_op_t *coops;
    int ncoop_waiting;
    int nout_eps; /* endpoints with records queued behind a full ring */
    size_t coop_min, coop_chunk;

    /* Completions to deliver from the next progress(). */
    rdmx_shm_done_t *done;
    size_t ndone, done_cap;
} rdmx_shm_transport_t;

/* shm_segment.c */
rdmx_status_t rdmx_shm_segment_name(const char *job_id, int rank, char *buf,
                                    size_t len);
rdmx_status_t rdmx_shm_segment_create(rdmx_shm_transport_t *tp);
rdmx_status_t rdmx_shm_segment_attach(rdmx_shm_transport_t *tp, rdmx_ep_t *ep);
void rdmx_shm_segment_destroy(rdmx_shm_transport_t *tp);

/* shm_fence.c */
/* Register for membarrier; 1 if this rank may use the asymmetric fences. */
int rdmx_shm_fence_setup(void);
/* The rare side of a handshake (about to sleep): membarrier, else a fence. */
void rdmx_shm_fence_heavy(const rdmx_shm_transport_t *tp);

/* The frequent side (per message) towards ep: a compiler barrier when the
 * peer's rare side uses membarrier, else a full fence. */
static inline void rdmx_shm_fence_light(const rdmx_ep_t *ep)
{
    if (ep->light)
        __asm__ __volatile__("" ::: "memory");
    else
        rdmx_shm_fence();
}

/* shm_wake.c */
rdmx_status_t rdmx_shm_wake_open(rdmx_shm_transport_t *tp);
void rdmx_shm_wake_addr(const char *job_id, int rank, struct sockaddr_un *sa,
                        socklen_t *len);
void rdmx_shm_wake_peer(rdmx_shm_transport_t *tp, rdmx_ep_t *ep);
void rdmx_shm_wake_drain(rdmx_shm_transport_t *tp);
void rdmx_shm_wake_close(rdmx_shm_transport_t *tp);

/* shm_get.c */
void rdmx_shm_cma_publish(rdmx_shm_ctl_t *ctl);
int rdmx_shm_cma_check(rdmx_ep_t *ep);
rdmx_status_t rdmx_shm_mem_reg(rdmx_transport_t *tp, void *addr, size_t len,
                               rdmx_memh_t **memh);
void rdmx_shm_mem_dereg(rdmx_transport_t *tp, rdmx_memh_t *memh);
rdmx_status_t rdmx_shm_mem_reg_shared(rdmx_transport_t *tp, void *addr,
                                      size_t len, rdmx_memh_t **memh);
/* Read the large-read settings: pipeline threshold, staging area size. */
void rdmx_shm_get_init(rdmx_shm_transport_t *tp);
/* shm_coll_area.c: the collective area's size from the environment, and
 * the transport op that hands it to the collectives. */
void rdmx_shm_coll_area_init(rdmx_shm_transport_t *tp);
void *rdmx_shm_coll_area(rdmx_transport_t *tp, rdmx_ep_t *ep, size_t *bytes);
rdmx_status_t rdmx_shm_get(rdmx_ep_t *ep, void *local, size_t len,
                           rdmx_memh_t *local_memh, uint64_t remote_addr,
                           const uint8_t *rkey, uint32_t rkey_len,
                           unsigned flags,
                           rdmx_completion_t *comp);
void rdmx_shm_get_on_request(rdmx_shm_transport_t *tp, rdmx_ep_t *ep,
                             const void *body, size_t len);
void rdmx_shm_get_on_data(rdmx_shm_transport_t *tp, rdmx_ep_t *ep,
                          const void *body, size_t len);
void rdmx_shm_get_fail_peer(rdmx_shm_transport_t *tp, int local);
void rdmx_shm_get_cleanup(rdmx_shm_transport_t *tp);

/* shm_coop.c */
void rdmx_shm_coop_init(rdmx_shm_transport_t *tp);
void rdmx_shm_coop_cleanup(rdmx_shm_transport_t *tp);
/* Large CMA GET shared with the owner; RDMX_ERR_AGAIN: not applicable. */
rdmx_status_t rdmx_shm_coop_get(rdmx_ep_t *ep, void *local, size_t len,
                                uint64_t remote_addr,
                                const rdmx_shm_rkey_t *key,
                                rdmx_completion_t *comp);
void rdmx_shm_coop_on_request(rdmx_shm_transport_t *tp, rdmx_ep_t *ep,
                              const void *body, size_t len);
int rdmx_shm_coop_progress(rdmx_shm_transport_t *tp);
/* 1 if a waiting shared copy has all its chunks (progress() would finish
 * it). */
int rdmx_shm_coop_any_done(rdmx_shm_transport_t *tp);
void rdmx_shm_coop_fail_peer(rdmx_shm_transport_t *tp, int local);
rdmx_shm_coop_t *rdmx_shm_coop_slot(rdmx_shm_ctl_t *ctl, int local, int slot);
/* shm_get.c: validated lookup of one of our registrations. */
rdmx_shm_memh_t *rdmx_shm_region_find(rdmx_shm_transport_t *tp,
                                      uint32_t region, uint32_t gen,
                                      uint64_t addr, uint64_t len);
rdmx_status_t rdmx_shm_get_cma(rdmx_ep_t *ep, void *local, size_t len,
                               uint64_t remote_addr);

/* shm.c */
rdmx_status_t rdmx_shm_complete_later(rdmx_shm_transport_t *tp,
                                      rdmx_completion_t *comp,
                                      rdmx_status_t status);
/* Queue or write a record (copied) towards ep; never blocks. */
rdmx_status_t rdmx_shm_post_copy(rdmx_ep_t *ep, uint32_t kind, const void *a,
                                 size_t alen, const void *b, size_t blen);
void rdmx_shm_out_append(rdmx_ep_t *ep, rdmx_shm_out_t *o);
/* Tell the peer new records are there if it sleeps. */
void rdmx_shm_notify(rdmx_ep_t *ep);

#endif
