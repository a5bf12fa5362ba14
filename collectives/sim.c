/*
 * sim.c — the schedule simulator: every rank's real schedule, executed in
 * one process (see rdmx_sim_run in coll.h). Used by the unit tests (data
 * mode: symbolic payloads checked at the end) and by the rdmx-collsim tool
 * (cost mode: up to 65536 ranks).
 *
 * Matching uses one "channel" per (destination, source) pair holding
 * either messages that arrived before their receive was posted or
 * receives posted before their message: O(1) per message, so a linear
 * gather on 65536 ranks costs 65536 steps and not 65536^2.
 */
#include "coll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct item {
    struct item *next;
    /* message */
    double arrival;
    size_t bytes;
    void *payload;
    /* pending receive */
    int is_recv;
    size_t op; /* index in the receiver's schedule */
} item_t;

typedef struct chan {
    struct chan *next; /* hash chain */
    int dst, src;
    item_t *head, *tail;
} chan_t;

typedef struct rstate {
    size_t round;
    int outstanding; /* receives of the current round not yet matched */
    double t;        /* time the current round started */
    double finish;   /* latest arrival / send completion in the round */
    int done;
    size_t msg_rounds;
    size_t sent, recvd, reduced;
    void *tmp[2];
    void *shared; /* RDMX_SB_SHARED */
} rstate_t;

typedef struct sim {
    int p;
    rdmx_sched_t *s;
    rstate_t *st;
    chan_t **buckets;
    size_t nbuckets;
    int *work;
    size_t nwork;
    char *inwork;
    void *(*mem)[2];
    const rdmx_sim_cost_t *cost;
    rdmx_sim_result_t *res;
    int failed;
} sim_t;

static chan_t *chan_get(sim_t *m, int dst, int src)
{
    uint64_t k = ((uint64_t)(unsigned)dst << 32) | (unsigned)src;
    k *= 0x9e3779b97f4a7c15ull;
    size_t h = (size_t)(k >> 20) & (m->nbuckets - 1);
    for (chan_t *c = m->buckets[h]; c; c = c->next)
        if (c->dst == dst && c->src == src)
            return c;
    chan_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->dst = dst;
    c->src = src;
    c->next = m->buckets[h];
    m->buckets[h] = c;
    return c;
}

static void push_work(sim_t *m, int r)
{
    if (!m->inwork[r]) {
        m->inwork[r] = 1;
        m->work[m->nwork++] = r;
    }
}

/* Rank r's buffer `buf`; its RDMX_SB_SHARED is rank `owner`'s. */
static char *addr_of(sim_t *m, int r, int buf, int owner, size_t off)
{
    void *base = buf == RDMX_SB_SHARED ? m->st[owner].shared
                 : buf < 2             ? m->mem[r][buf]
                                       : m->st[r].tmp[buf - 2];
    return (char *)base + off;
}

static char *addr(sim_t *m, int r, int buf, size_t off)
{
    return addr_of(m, r, buf, r, off);
}

static void fail(sim_t *m, const char *fmt, int a, int b, size_t c, size_t d)
{
    if (!m->failed)
        snprintf(m->res->error, sizeof(m->res->error), fmt, a, b, c, d);
    m->failed = 1;
}

/* Deliver message `msg` into receive op `op` of rank `dst`. */
static void deliver(sim_t *m, int dst, int src, size_t opi, item_t *msg)
{
    const rdmx_sop_t *o = &m->s[dst].ops[opi];
    rstate_t *st = &m->st[dst];
    if (o->n != msg->bytes)
        fail(m, "rank %d received from rank %d %zu bytes, expected %zu", dst,
             src, msg->bytes, o->n);
    if (m->mem && msg->payload && o->n == msg->bytes)
        memcpy(addr(m, dst, o->dbuf, o->doff), msg->payload, o->n);
    if (msg->arrival > st->finish)
        st->finish = msg->arrival;
    st->recvd += msg->bytes;
    free(msg->payload);
    free(msg);
    if (--st->outstanding == 0)
        push_work(m, dst);
}

static int ranges_overlap(size_t a, size_t an, size_t b, size_t bn)
{
    return an && bn && a < b + bn && b < a + an;
}

/* An early copy (rdmx_sched_copy_early) runs while its round's messages
 * move: it must not read what a receive writes, nor write what a receive
 * writes or a send reads (a rendezvous send is read late), nor touch a
 * shared area (its readiness is told by messages). */
static void check_early_copy(sim_t *m, int r, size_t lo, size_t hi,
                             const rdmx_sop_t *c)
{
    const rdmx_sched_t *s = &m->s[r];
    if (c->sbuf == RDMX_SB_SHARED || c->dbuf == RDMX_SB_SHARED) {
        fail(m, "rank %d: early copy touches a shared area%.0d%.0zu%.0zu", r,
             0, 0, 0);
        return;
    }
    for (size_t i = lo; i < hi; i++) {
        const rdmx_sop_t *o = &s->ops[i];
        int clash = 0;
        if (o->kind == RDMX_SOP_RECV)
            clash = (o->dbuf == c->sbuf &&
                     ranges_overlap(o->doff, o->n, c->soff, c->n)) ||
                    (o->dbuf == c->dbuf &&
                     ranges_overlap(o->doff, o->n, c->doff, c->n));
        else if (o->kind == RDMX_SOP_SEND)
            clash = o->sbuf == c->dbuf &&
                    ranges_overlap(o->soff, o->n, c->doff, c->n);
        if (clash) {
            fail(m, "rank %d: an early copy overlaps a message of its round "
                    "(rank %d; copy to offset %zu, message at %zu)",
                 r, o->peer, c->doff,
                 o->kind == RDMX_SOP_RECV ? o->doff : o->soff);
            return;
        }
    }
}

static void copy_op(sim_t *m, int r, const rdmx_sop_t *o)
{
    if (m->mem)
        memmove(addr(m, r, o->dbuf, o->doff),
                addr_of(m, r, o->sbuf, o->peer, o->soff), o->n);
}

static void post_round(sim_t *m, int r)
{
    rdmx_sched_t *s = &m->s[r];
    rstate_t *st = &m->st[r];
    size_t lo = s->rounds[st->round], hi = rdmx_sched_round_end(s, st->round);
    double nic = st->t;
    int msgs = 0;
    st->finish = st->t;
    st->outstanding = 1; /* guard while posting */
    for (size_t i = lo; i < hi && !m->failed; i++) {
        const rdmx_sop_t *o = &s->ops[i];
        if (o->kind == RDMX_SOP_SEND) {
            msgs = 1;
            if (o->peer < 0 || o->peer >= m->p) {
                fail(m, "rank %d sends to invalid rank %d%.0zu%.0zu", r,
                     o->peer, 0, 0);
                return;
            }
            double depart = nic;
            nic += m->cost->beta * (double)o->n;
            if (nic > st->finish)
                st->finish = nic;
            item_t *msg = calloc(1, sizeof(*msg));
            msg->arrival =
                depart + m->cost->alpha + m->cost->beta * (double)o->n;
            msg->bytes = o->n;
            if (m->mem && o->n) {
                msg->payload = malloc(o->n);
                memcpy(msg->payload, addr(m, r, o->sbuf, o->soff), o->n);
            }
            st->sent += o->n;
            m->res->messages++;
            m->res->total_bytes += (double)o->n;
            chan_t *c = chan_get(m, o->peer, r);
            if (c->head && c->head->is_recv) {
                item_t *rv = c->head;
                c->head = rv->next;
                if (!c->head)
                    c->tail = NULL;
                deliver(m, o->peer, r, rv->op, msg);
                free(rv);
            } else {
                msg->next = NULL;
                if (c->tail)
                    c->tail->next = msg;
                else
                    c->head = msg;
                c->tail = msg;
            }
        } else if (o->kind == RDMX_SOP_RECV) {
            msgs = 1;
            st->outstanding++;
            chan_t *c = chan_get(m, r, o->peer);
            if (c->head && !c->head->is_recv) {
                item_t *msg = c->head;
                c->head = msg->next;
                if (!c->head)
                    c->tail = NULL;
                deliver(m, r, o->peer, i, msg);
            } else {
                item_t *rv = calloc(1, sizeof(*rv));
                rv->is_recv = 1;
                rv->op = i;
                if (c->tail)
                    c->tail->next = rv;
                else
                    c->head = rv;
                c->tail = rv;
            }
        }
    }
    st->msg_rounds += (size_t)msgs;
    for (size_t i = lo; i < hi && !m->failed; i++) {
        const rdmx_sop_t *o = &s->ops[i];
        if (o->early) {
            check_early_copy(m, r, lo, hi, o);
            copy_op(m, r, o);
        }
    }
    if (--st->outstanding == 0)
        push_work(m, r);
}

static void run_locals(sim_t *m, int r)
{
    rdmx_sched_t *s = &m->s[r];
    rstate_t *st = &m->st[r];
    size_t lo = s->rounds[st->round], hi = rdmx_sched_round_end(s, st->round);
    for (size_t i = lo; i < hi; i++) {
        const rdmx_sop_t *o = &s->ops[i];
        if (o->early)
            continue; /* ran when the round was posted */
        if (o->kind == RDMX_SOP_COPY) {
            copy_op(m, r, o);
        } else if (o->kind == RDMX_SOP_REDUCE ||
                   o->kind == RDMX_SOP_REDUCE3) {
            size_t bytes = o->n * s->esize;
            st->reduced += bytes;
            st->finish += m->cost->gamma * (double)bytes;
            if (m->mem) {
                char *src = addr_of(m, r, o->sbuf, o->peer, o->soff);
                char *dst = addr(m, r, o->dbuf, o->doff);
                if (o->kind == RDMX_SOP_REDUCE3) {
                    /* The other operand first goes where the result goes
                     * (memmove: in place they are the same memory). */
                    memmove(dst, addr_of(m, r, o->obuf, o->opeer, o->ooff),
                            bytes);
                }
                if (!o->swap) {
                    rdmx_op_apply_packed(s->op, src, dst, o->n, s->dt);
                } else {
                    char *tmp = malloc(bytes);
                    memcpy(tmp, src, bytes);
                    rdmx_op_apply_packed(s->op, dst, tmp, o->n, s->dt);
                    memcpy(dst, tmp, bytes);
                    free(tmp);
                }
            }
        }
    }
}

/* Advance rank r as far as it can go. */
static void advance(sim_t *m, int r)
{
    rdmx_sched_t *s = &m->s[r];
    rstate_t *st = &m->st[r];
    while (!st->done && !m->failed && st->outstanding == 0) {
        run_locals(m, r);
        st->t = st->finish;
        if (++st->round >= s->nrounds) {
            st->done = 1;
            break;
        }
        post_round(m, r);
    }
}

rdmx_status_t rdmx_sim_run(const rdmx_coll_args_t *args,
                           const rdmx_coll_algo_t *algo,
                           const rdmx_sim_cost_t *cost, void *(*mem)[2],
                           rdmx_sim_result_t *res)
{
    int p = args[0].size;
    sim_t m = {.p = p, .mem = mem, .cost = cost, .res = res};
    rdmx_status_t ret = RDMX_OK;
    memset(res, 0, sizeof(*res));
    m.s = calloc((size_t)p, sizeof(*m.s));
    m.st = calloc((size_t)p, sizeof(*m.st));
    m.work = calloc((size_t)p, sizeof(int));
    m.inwork = calloc((size_t)p, 1);
    if (!m.s || !m.st || !m.work || !m.inwork) {
        ret = RDMX_ERR_NOMEM;
        goto out;
    }
    for (int r = 0; r < p; r++) {
        rdmx_sched_init(&m.s[r], r, p);
        rdmx_status_t st = rdmx_coll_build(&m.s[r], &args[r], algo);
        if (st != RDMX_OK) {
            snprintf(res->error, sizeof(res->error),
                     "rank %d: building the schedule failed: %s", r,
                     rdmx_status_str(st));
            ret = st;
            goto out;
        }
        if (mem) {
            for (int i = 0; i < 2; i++)
                if (m.s[r].tmp_bytes[i])
                    m.st[r].tmp[i] = calloc(1, m.s[r].tmp_bytes[i]);
            if (args[r].shared_bytes)
                m.st[r].shared = calloc(1, args[r].shared_bytes);
        }
    }
    /* Channels: at most one per message; keep chains short. */
    size_t nmsg = 0;
    for (int r = 0; r < p; r++)
        nmsg += m.s[r].nops;
    m.nbuckets = 1;
    while (m.nbuckets < nmsg * 2 && m.nbuckets < ((size_t)1 << 26))
        m.nbuckets <<= 1;
    m.buckets = calloc(m.nbuckets, sizeof(*m.buckets));
    if (!m.buckets) {
        ret = RDMX_ERR_NOMEM;
        goto out;
    }
    /* Start everyone: post round 0 of every non-empty schedule. */
    for (int r = 0; r < p; r++) {
        if (m.s[r].nrounds == 0)
            m.st[r].done = 1;
        else
            post_round(&m, r);
    }
    while (m.nwork && !m.failed) {
        int r = m.work[--m.nwork];
        m.inwork[r] = 0;
        advance(&m, r);
    }
    for (int r = 0; r < p && !m.failed; r++) {
        if (!m.st[r].done) {
            /* find whom it waits for */
            const rdmx_sched_t *s = &m.s[r];
            size_t lo = s->rounds[m.st[r].round];
            size_t hi = rdmx_sched_round_end(s, m.st[r].round);
            int peer = -1;
            for (size_t i = lo; i < hi; i++)
                if (s->ops[i].kind == RDMX_SOP_RECV)
                    peer = s->ops[i].peer;
            fail(&m,
                 "deadlock: rank %d blocked waiting for rank %d in "
                 "round %zu%.0zu",
                 r, peer, m.st[r].round, 0);
        }
    }
    /* Unconsumed messages mean a receive was missing somewhere. */
    for (size_t b = 0; b < m.nbuckets && !m.failed; b++)
        for (chan_t *c = m.buckets[b]; c; c = c->next)
            if (c->head && !c->head->is_recv) {
                fail(&m,
                     "rank %d never received a message from rank %d "
                     "(%zu bytes)%.0zu",
                     c->dst, c->src, c->head->bytes, 0);
                break;
            }
    for (int r = 0; r < p; r++) {
        rstate_t *st = &m.st[r];
        if (st->t > res->time)
            res->time = st->t;
        if (st->msg_rounds > res->max_rounds)
            res->max_rounds = st->msg_rounds;
        if (st->sent > res->max_bytes_sent)
            res->max_bytes_sent = st->sent;
        if (st->recvd > res->max_bytes_recv)
            res->max_bytes_recv = st->recvd;
        if (st->reduced > res->max_reduce_bytes)
            res->max_reduce_bytes = st->reduced;
    }
    if (m.failed && ret == RDMX_OK)
        ret = RDMX_ERR_PROTO;
out:
    if (m.buckets) {
        for (size_t b = 0; b < m.nbuckets; b++) {
            chan_t *c = m.buckets[b];
            while (c) {
                chan_t *n = c->next;
                for (item_t *it = c->head; it;) {
                    item_t *nx = it->next;
                    free(it->payload);
                    free(it);
                    it = nx;
                }
                free(c);
                c = n;
            }
        }
    }
    if (m.s)
        for (int r = 0; r < p; r++)
            rdmx_sched_fini(&m.s[r]);
    if (m.st)
        for (int r = 0; r < p; r++) {
            free(m.st[r].tmp[0]);
            free(m.st[r].tmp[1]);
            free(m.st[r].shared);
        }
    free(m.s);
    free(m.st);
    free(m.work);
    free(m.inwork);
    free(m.buckets);
    return ret;
}
