/*
 * self.c — messages from a rank to itself.
 *
 * Eager messages are copied into a queue and delivered from progress(), not
 * from inside send(): delivering inside send() would re-enter the core while
 * it is still setting up the send. Large messages use GET, which here is a
 * plain memcpy from the sender's buffer: one copy, like CMA for shm.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/config.h"
#include "../../core/log.h"
#include "../../core/runtime.h"
#include "../transport.h"

RDMX_CONFIG_VAR("RDMX_SELF_EAGER_LIMIT", "16k",
                "largest self-send copied eagerly (larger: one memcpy by GET)");

typedef struct self_msg {
    struct self_msg *next;
    rdmx_wire_hdr_t hdr;
    unsigned char payload[];
} self_msg_t;

typedef struct self_transport {
    rdmx_transport_t base;
    self_msg_t *head, *tail;
} self_transport_t;

struct rdmx_ep {
    self_transport_t *tp;
};

static rdmx_status_t self_probe(char *why, size_t len)
{
    (void)why;
    (void)len;
    return RDMX_OK;
}

static rdmx_status_t self_open(rdmx_runtime_t *rt, rdmx_transport_t **out)
{
    (void)rt;
    self_transport_t *tp = calloc(1, sizeof(*tp));
    if (!tp)
        return RDMX_ERR_NOMEM;
    tp->base.caps.flags =
        RDMX_TP_CAP_GET | RDMX_TP_CAP_WAIT_FD | RDMX_TP_CAP_POLL_PENDING;
    tp->base.caps.eager_limit = rdmx_config_size("RDMX_SELF_EAGER_LIMIT");
    tp->base.caps.max_eager_payload = tp->base.caps.eager_limit;
    tp->base.caps.priority = 100;
    *out = &tp->base;
    return RDMX_OK;
}

static int self_reachable(rdmx_transport_t *tp, int peer)
{
    return peer == tp->rt->rank;
}

static rdmx_status_t self_ep_create(rdmx_transport_t *tp, int peer,
                                    rdmx_ep_t **out)
{
    (void)peer;
    rdmx_ep_t *ep = malloc(sizeof(*ep));
    if (!ep)
        return RDMX_ERR_NOMEM;
    ep->tp = (self_transport_t *)tp;
    *out = ep;
    return RDMX_OK;
}

static rdmx_status_t self_send(rdmx_ep_t *ep, const rdmx_wire_hdr_t *hdr,
                               const struct iovec *iov, int iovcnt,
                               rdmx_completion_t *comp)
{
    (void)comp;
    self_msg_t *m = malloc(sizeof(*m) + hdr->len);
    if (!m)
        return RDMX_ERR_NOMEM;
    m->next = NULL;
    m->hdr = *hdr;
    size_t off = 0;
    for (int i = 0; i < iovcnt && off < hdr->len; i++) {
        size_t n = iov[i].iov_len;
        if (n > hdr->len - off)
            n = hdr->len - off;
        memcpy(m->payload + off, iov[i].iov_base, n);
        off += n;
    }
    self_transport_t *tp = ep->tp;
    if (tp->tail)
        tp->tail->next = m;
    else
        tp->head = m;
    tp->tail = m;
    tp->base.pending = 1;
    return RDMX_OK;
}

static rdmx_status_t self_mem_reg(rdmx_transport_t *tp, void *addr, size_t len,
                                  rdmx_memh_t **out)
{
    (void)tp;
    rdmx_memh_t *m = calloc(1, sizeof(*m));
    if (!m)
        return RDMX_ERR_NOMEM;
    m->addr = addr;
    m->len = len;
    m->rkey_len = 1; /* non-empty: tells the receiver GET is possible */
    *out = m;
    return RDMX_OK;
}

static void self_mem_dereg(rdmx_transport_t *tp, rdmx_memh_t *m)
{
    (void)tp;
    free(m);
}

static rdmx_status_t self_get(rdmx_ep_t *ep, void *local, size_t len,
                              rdmx_memh_t *local_memh, uint64_t remote_addr,
                              const uint8_t *rkey, uint32_t rkey_len,
                              unsigned flags,
                              rdmx_completion_t *comp)
{
    (void)ep;
    (void)local_memh;
    (void)rkey;
    (void)rkey_len;
    (void)comp;
    memcpy(local, (const void *)(uintptr_t)remote_addr, len);
    return RDMX_OK;
}

static int self_progress(rdmx_transport_t *base)
{
    self_transport_t *tp = (self_transport_t *)base;
    int n = 0;
    /* Deliver only what is queued now: deliveries may queue more (a
     * SYNC_ACK to ourselves), which the next pass handles. */
    self_msg_t *m = tp->head, *stop = tp->tail;
    if (!m)
        return 0;
    tp->head = tp->tail = NULL;
    tp->base.pending = 0; /* deliveries below may queue more */
    while (m) {
        self_msg_t *next = m->next;
        rdmx_recv_sink_t sink;
        rdmx_status_t st = rdmx_proto_on_header(base->rt, base->rt->rank,
                                                &m->hdr, m->payload, &sink);
        if (st != RDMX_OK)
            RDMX_ERROR("self message rejected: %s", rdmx_status_str(st));
        free(m);
        n++;
        if (m == stop)
            break;
        m = next;
    }
    return n;
}

static int self_wait_fd(rdmx_transport_t *tp)
{
    (void)tp;
    return -1; /* nothing arrives from outside this thread */
}

static rdmx_status_t self_arm(rdmx_transport_t *base)
{
    return ((self_transport_t *)base)->head ? RDMX_ERR_AGAIN : RDMX_OK;
}

static void self_close(rdmx_transport_t *base)
{
    self_transport_t *tp = (self_transport_t *)base;
    while (tp->head) {
        self_msg_t *n = tp->head->next;
        free(tp->head);
        tp->head = n;
    }
    free(tp);
}

static void self_describe(rdmx_ep_t *ep, char *buf, size_t len)
{
    (void)ep;
    snprintf(buf, len, "self (memcpy)");
}

const rdmx_transport_ops_t rdmx_self_ops = {
    .size = sizeof(rdmx_transport_ops_t),
    .name = "self",
    .probe = self_probe,
    .open = self_open,
    .reachable = self_reachable,
    .ep_create = self_ep_create,
    .send = self_send,
    .mem_reg = self_mem_reg,
    .mem_dereg = self_mem_dereg,
    .get = self_get,
    .put = NULL,
    .progress = self_progress,
    .wait_fd = self_wait_fd,
    .arm = self_arm,
    .close = self_close,
    .describe_ep = self_describe,
};
