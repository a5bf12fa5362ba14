/*
 * runtime.h — the process-wide state of an initialised rdmx rank.
 */
#ifndef RDMX_RUNTIME_H
#define RDMX_RUNTIME_H

#include <stdint.h>

#include "../transport/transport.h"
#include "bootstrap/pmi.h"
#include "status.h"

#define RDMX_MAX_TRANSPORTS 8
#define RDMX_HOST_MAX 256
#define RDMX_SECRET_LEN 32

typedef struct rdmx_peer {
    rdmx_transport_t *tp; /* transport chosen for this peer, NULL = not yet */
    rdmx_ep_t *ep;        /* created on first use */
} rdmx_peer_t;

typedef struct rdmx_runtime {
    int rank; /* world rank */
    int size; /* world size */
    /* Ranks sharing this host (same host name and boot id), known after the
     * first fence: local_peers[0..local_size) are world ranks, ascending;
     * local_rank is this rank's index there. */
    int local_rank, local_size;
    int *local_peers;
    char hostname[RDMX_HOST_MAX];
    char host_id[RDMX_HOST_MAX + 40]; /* hostname + '/' + boot id */
    char job_id[64];
    /* Per-job secret every listening socket checks (hex in the KVS). */
    uint8_t secret[RDMX_SECRET_LEN];

    rdmx_pmi_t *pmi;
    rdmx_pmi_info_t pmi_info;

    rdmx_transport_t *transports[RDMX_MAX_TRANSPORTS];
    int ntransports;
    /* Transports that serve at least one peer: polled on every progress
     * pass. The others (a tcp listener in a shm-only job) are polled only
     * every RDMX_IDLE_POLL_EVERY passes, so that their system calls stay
     * off the fast path. */
    rdmx_transport_t *active[RDMX_MAX_TRANSPORTS];
    int nactive;
    rdmx_peer_t *peers; /* size entries */

    int epfd; /* epoll set of the transports' wait fds */
    int initialized, finalized;
    int finalizing; /* peers may disconnect now without it being an error */
    int thread_level;
    /* Why each registry transport is not in use ("" if it is). */
    char why_not[RDMX_MAX_TRANSPORTS][160];
} rdmx_runtime_t;

extern rdmx_runtime_t rdmx_rt;

/* First use of `peer`: choose its transport and create the endpoint. */
rdmx_status_t rdmx_rt_connect_ep(rdmx_runtime_t *rt, int peer,
                                 rdmx_transport_t **tp, rdmx_ep_t **ep);

/* The endpoint towards world rank `peer`, created on first call. Inline:
 * every eager send asks, and a call was a visible part of a 1-byte send. */
static inline rdmx_status_t rdmx_rt_get_ep(rdmx_runtime_t *rt, int peer,
                                           rdmx_transport_t **tp,
                                           rdmx_ep_t **ep)
{
    rdmx_peer_t *p = &rt->peers[peer];
    if (p->ep) {
        *tp = p->tp;
        *ep = p->ep;
        return RDMX_OK;
    }
    return rdmx_rt_connect_ep(rt, peer, tp, ep);
}

#endif
