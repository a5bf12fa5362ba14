/*
 * sched.c — building schedules (see coll.h for the model).
 */
#include "coll.h"

#include <stdlib.h>
#include <string.h>

void rdmx_sched_init(rdmx_sched_t *s, int rank, int size)
{
    memset(s, 0, sizeof(*s));
    s->rank = rank;
    s->size = size;
}

void rdmx_sched_reset(rdmx_sched_t *s, int rank, int size)
{
    rdmx_sop_t *ops = s->ops;
    size_t *rounds = s->rounds;
    size_t ops_cap = s->ops_cap, rounds_cap = s->rounds_cap;
    rdmx_sched_init(s, rank, size);
    s->ops = ops;
    s->ops_cap = ops_cap;
    s->rounds = rounds;
    s->rounds_cap = rounds_cap;
}

void rdmx_sched_fini(rdmx_sched_t *s)
{
    free(s->ops);
    free(s->rounds);
    s->ops = NULL;
    s->rounds = NULL;
    s->nops = s->nrounds = 0;
}

static rdmx_sop_t *push(rdmx_sched_t *s, int is_msg)
{
    if (s->err)
        return NULL;
    /* A round is [messages][local ops]: a message after a local op starts
     * the next round, so locals never run before earlier messages. */
    if (s->round_open && is_msg && s->round_has_local)
        s->round_open = 0;
    if (!s->round_open) {
        s->round_has_local = 0;
        if (s->nrounds == s->rounds_cap) {
            size_t cap = s->rounds_cap ? 2 * s->rounds_cap : 16;
            size_t *r = realloc(s->rounds, cap * sizeof(*r));
            if (!r) {
                s->err = RDMX_ERR_NOMEM;
                return NULL;
            }
            s->rounds = r;
            s->rounds_cap = cap;
        }
        s->rounds[s->nrounds++] = s->nops;
        s->round_open = 1;
    }
    if (s->nops == s->ops_cap) {
        size_t cap = s->ops_cap ? 2 * s->ops_cap : 32;
        rdmx_sop_t *o = realloc(s->ops, cap * sizeof(*o));
        if (!o) {
            s->err = RDMX_ERR_NOMEM;
            return NULL;
        }
        s->ops = o;
        s->ops_cap = cap;
    }
    rdmx_sop_t *op = &s->ops[s->nops++];
    memset(op, 0, sizeof(*op));
    if (!is_msg)
        s->round_has_local = 1;
    return op;
}

static void msg(rdmx_sched_t *s, int kind, int peer, int buf, size_t off,
                size_t bytes)
{
    rdmx_sop_t *o = push(s, 1);
    if (!o)
        return;
    o->kind = (uint8_t)kind;
    o->peer = peer;
    if (kind == RDMX_SOP_SEND) {
        o->sbuf = (uint8_t)buf;
        o->soff = off;
    } else {
        o->dbuf = (uint8_t)buf;
        o->doff = off;
    }
    o->n = bytes;
}

void rdmx_sched_send(rdmx_sched_t *s, int peer, int buf, size_t off,
                     size_t bytes)
{
    if (bytes && peer != s->rank)
        msg(s, RDMX_SOP_SEND, peer, buf, off, bytes);
}

void rdmx_sched_recv(rdmx_sched_t *s, int peer, int buf, size_t off,
                     size_t bytes)
{
    if (bytes && peer != s->rank)
        msg(s, RDMX_SOP_RECV, peer, buf, off, bytes);
}

void rdmx_sched_send_get(rdmx_sched_t *s, int peer, int buf, size_t off,
                         size_t bytes)
{
    size_t n = s->nops;
    rdmx_sched_send(s, peer, buf, off, bytes);
    if (s->nops > n)
        s->ops[n].get = 1;
}

void rdmx_sched_send0(rdmx_sched_t *s, int peer)
{
    msg(s, RDMX_SOP_SEND, peer, RDMX_SB_SEND, 0, 0);
}

void rdmx_sched_recv0(rdmx_sched_t *s, int peer)
{
    msg(s, RDMX_SOP_RECV, peer, RDMX_SB_RECV, 0, 0);
}

void rdmx_sched_recv0_release(rdmx_sched_t *s, int peer)
{
    size_t before = s->nops;
    rdmx_sched_recv0(s, peer);
    if (s->nops > before)
        s->ops[s->nops - 1].deferred = 1;
}

void rdmx_sched_copy(rdmx_sched_t *s, int sbuf, size_t soff, int dbuf,
                     size_t doff, size_t bytes)
{
    rdmx_sched_copy_from(s, s->rank, sbuf, soff, dbuf, doff, bytes);
}

void rdmx_sched_copy_early(rdmx_sched_t *s, int sbuf, size_t soff, int dbuf,
                           size_t doff, size_t bytes)
{
    size_t before = s->nops;
    rdmx_sched_copy(s, sbuf, soff, dbuf, doff, bytes);
    if (s->nops > before) {
        s->ops[s->nops - 1].early = 1;
        s->has_early = 1;
    }
}

void rdmx_sched_copy_from(rdmx_sched_t *s, int peer, int sbuf, size_t soff,
                          int dbuf, size_t doff, size_t bytes)
{
    if (!bytes || (sbuf == dbuf && soff == doff &&
                   (sbuf != RDMX_SB_SHARED || peer == s->rank)))
        return;
    rdmx_sop_t *o = push(s, 0);
    if (!o)
        return;
    o->kind = RDMX_SOP_COPY;
    o->sbuf = (uint8_t)sbuf;
    o->dbuf = (uint8_t)dbuf;
    if (dbuf == RDMX_SB_SHARED)
        s->writes_shared = 1;
    o->peer = peer;
    o->opeer = s->rank;
    o->soff = soff;
    o->doff = doff;
    o->n = bytes;
}

void rdmx_sched_reduce(rdmx_sched_t *s, int sbuf, size_t soff, int dbuf,
                       size_t doff, size_t count, int swap)
{
    if (!count)
        return;
    rdmx_sop_t *o = push(s, 0);
    if (!o)
        return;
    o->kind = RDMX_SOP_REDUCE;
    o->sbuf = (uint8_t)sbuf;
    o->dbuf = (uint8_t)dbuf;
    if (dbuf == RDMX_SB_SHARED)
        s->writes_shared = 1;
    o->peer = o->opeer = s->rank;
    o->soff = soff;
    o->doff = doff;
    o->n = count;
    o->swap = (uint8_t)(swap ? 1 : 0);
}

void rdmx_sched_reduce3(rdmx_sched_t *s, int sbuf, size_t soff, int obuf,
                        size_t ooff, int dbuf, size_t doff, size_t count,
                        int swap)
{
    rdmx_sched_reduce3_from(s, s->rank, sbuf, soff, s->rank, obuf, ooff, dbuf,
                            doff, count, swap);
}

void rdmx_sched_reduce3_from(rdmx_sched_t *s, int peer, int sbuf, size_t soff,
                             int opeer, int obuf, size_t ooff, int dbuf,
                             size_t doff, size_t count, int swap)
{
    size_t before = s->nops;
    rdmx_sched_reduce(s, sbuf, soff, dbuf, doff, count, swap);
    if (s->nops == before)
        return;
    rdmx_sop_t *o = &s->ops[s->nops - 1];
    o->peer = peer;
    if (obuf == dbuf && ooff == doff &&
        (obuf != RDMX_SB_SHARED || opeer == s->rank))
        return;
    o->kind = RDMX_SOP_REDUCE3;
    o->obuf = (uint8_t)obuf;
    o->opeer = opeer;
    o->ooff = ooff;
}

void rdmx_sched_round(rdmx_sched_t *s)
{
    s->round_open = 0;
}

void rdmx_sched_tmp(rdmx_sched_t *s, int which, size_t bytes)
{
    if (bytes > s->tmp_bytes[which])
        s->tmp_bytes[which] = bytes;
}

void rdmx_coll_blocks(size_t count, int p, size_t *start)
{
    size_t q = count / (size_t)p, r = count % (size_t)p;
    start[0] = 0;
    for (int i = 0; i < p; i++)
        start[i + 1] = start[i] + q + ((size_t)i < r ? 1 : 0);
}

void rdmx_coll_halving_reduce_scatter(rdmx_sched_t *s, int rank, int newrank,
                                      int rem, int pof2, const size_t *disp,
                                      size_t es, int acc, int *init, int tmp,
                                      int ordered, int *send_idx_out,
                                      int *last_idx_out)
{
    int send_idx = 0, recv_idx = 0, last_idx = pof2, mask = 1;
    while (mask < pof2) {
        int newdst = newrank ^ mask, dst = rdmx_coll_unfold(newdst, rem);
        int slo, shi, rlo, rhi;
        if (newrank < newdst) {
            send_idx = recv_idx + pof2 / (mask * 2);
            slo = send_idx, shi = last_idx, rlo = recv_idx, rhi = send_idx;
        } else {
            recv_idx = send_idx + pof2 / (mask * 2);
            slo = send_idx, shi = recv_idx, rlo = recv_idx, rhi = last_idx;
        }
        rdmx_sched_send(s, dst, *init, disp[slo] * es,
                        (disp[shi] - disp[slo]) * es);
        rdmx_sched_recv(s, dst, tmp, disp[rlo] * es,
                        (disp[rhi] - disp[rlo]) * es);
        rdmx_sched_reduce3(s, tmp, disp[rlo] * es, *init, disp[rlo] * es, acc,
                           disp[rlo] * es, disp[rhi] - disp[rlo],
                           ordered ? dst > rank : 0);
        rdmx_sched_round(s);
        /* Only the half kept is read from now on, and it is in acc. */
        *init = acc;
        send_idx = recv_idx;
        mask <<= 1;
        if (mask < pof2)
            last_idx = recv_idx + pof2 / mask;
    }
    *send_idx_out = send_idx;
    *last_idx_out = last_idx;
}
