#include "match.h"

#include <stdlib.h>
#include <string.h>

static size_t hash_key(uint32_t ctx, int32_t src, int32_t tag)
{
    uint64_t h = ((uint64_t)ctx << 40) ^ ((uint64_t)(uint32_t)src << 20)
                 ^ (uint64_t)(uint32_t)tag;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h;
}

static int table_init(rdmx_match_table_t *t)
{
    t->nbuckets = 256;
    t->nfifos = 0;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    return t->buckets ? 0 : -1;
}

static void table_grow(rdmx_match_table_t *t)
{
    size_t n = t->nbuckets * 2;
    rdmx_match_fifo_t **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* keep working with longer chains */
    for (size_t i = 0; i < t->nbuckets; i++) {
        rdmx_match_fifo_t *f = t->buckets[i];
        while (f) {
            rdmx_match_fifo_t *next = f->hnext;
            size_t k = hash_key(f->ctx, f->src, f->tag) & (n - 1);
            f->hnext = b[k];
            b[k] = f;
            f = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

static rdmx_match_fifo_t *table_find(rdmx_match_table_t *t, uint32_t ctx,
                                     int32_t src, int32_t tag)
{
    rdmx_match_fifo_t *f = t->last;
    if (f && f->ctx == ctx && f->src == src && f->tag == tag)
        return f;
    if (t->nfifos == 0)
        return NULL;
    size_t k = hash_key(ctx, src, tag) & (t->nbuckets - 1);
    for (f = t->buckets[k]; f; f = f->hnext)
        if (f->ctx == ctx && f->src == src && f->tag == tag) {
            t->last = f;
            return f;
        }
    return NULL;
}

static rdmx_match_fifo_t *table_get(rdmx_match_engine_t *m,
                                    rdmx_match_table_t *t, uint32_t ctx,
                                    int32_t src, int32_t tag)
{
    rdmx_match_fifo_t *f = table_find(t, ctx, src, tag);
    if (f)
        return f;
    if (m->free_fifos) {
        f = m->free_fifos;
        m->free_fifos = f->hnext;
    } else {
        f = malloc(sizeof(*f));
        if (!f)
            return NULL;
    }
    f->ctx = ctx;
    f->src = src;
    f->tag = tag;
    f->head = f->tail = NULL;
    if (t->nfifos >= t->nbuckets)
        table_grow(t);
    size_t k = hash_key(ctx, src, tag) & (t->nbuckets - 1);
    f->hnext = t->buckets[k];
    t->buckets[k] = f;
    t->nfifos++;
    t->last = f;
    return f;
}

static void table_unlink(rdmx_match_engine_t *m, rdmx_match_table_t *t,
                         rdmx_match_fifo_t *f)
{
    size_t k = hash_key(f->ctx, f->src, f->tag) & (t->nbuckets - 1);
    for (rdmx_match_fifo_t **p = &t->buckets[k]; *p; p = &(*p)->hnext) {
        if (*p == f) {
            *p = f->hnext;
            t->nfifos--;
            if (t->last == f)
                t->last = NULL;
            f->hnext = m->free_fifos;
            m->free_fifos = f;
            return;
        }
    }
}

/* An empty FIFO: park it, and drop the one parked before if that is still
 * empty, so that tags used once do not pile up (at most one empty FIFO per
 * table stays). */
static void table_release(rdmx_match_engine_t *m, rdmx_match_table_t *t,
                          rdmx_match_fifo_t *f)
{
    rdmx_match_fifo_t *old = t->parked;
    if (old == f)
        return;
    t->parked = f;
    if (old && !old->head)
        table_unlink(m, t, old);
}

static void fifo_push(rdmx_match_fifo_t *f, rdmx_match_entry_t *e)
{
    e->next = NULL;
    e->prev = f->tail;
    if (f->tail)
        f->tail->next = e;
    else
        f->head = e;
    f->tail = e;
    e->fifo = f;
}

static void fifo_remove(rdmx_match_entry_t *e)
{
    rdmx_match_fifo_t *f = e->fifo;
    if (e->prev)
        e->prev->next = e->next;
    else
        f->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        f->tail = e->prev;
    e->next = e->prev = NULL;
    e->fifo = NULL;
}

int rdmx_match_init(rdmx_match_engine_t *m)
{
    memset(m, 0, sizeof(*m));
    if (table_init(&m->posted) || table_init(&m->unexpected)) {
        free(m->posted.buckets);
        return -1;
    }
    return 0;
}

static void table_free(rdmx_match_table_t *t)
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        rdmx_match_fifo_t *f = t->buckets[i];
        while (f) {
            rdmx_match_fifo_t *n = f->hnext;
            free(f);
            f = n;
        }
    }
    free(t->buckets);
    t->buckets = NULL;
    t->last = t->parked = NULL;
}

void rdmx_match_fini(rdmx_match_engine_t *m)
{
    table_free(&m->posted);
    table_free(&m->unexpected);
    while (m->free_fifos) {
        rdmx_match_fifo_t *n = m->free_fifos->hnext;
        free(m->free_fifos);
        m->free_fifos = n;
    }
}

static int matches(const rdmx_match_entry_t *recv, uint32_t ctx, int32_t src,
                   int32_t tag)
{
    return recv->ctx == ctx && (recv->src == RDMX_MATCH_ANY || recv->src == src)
           && (recv->tag == RDMX_MATCH_ANY || recv->tag == tag);
}

static void arrival_remove(rdmx_match_engine_t *m, rdmx_match_entry_t *u)
{
    if (u->aprev)
        u->aprev->anext = u->anext;
    else
        m->arrival_head = u->anext;
    if (u->anext)
        u->anext->aprev = u->aprev;
    else
        m->arrival_tail = u->aprev;
    u->anext = u->aprev = NULL;
}

void rdmx_match_remove_unexpected(rdmx_match_engine_t *m,
                                  rdmx_match_entry_t *u)
{
    rdmx_match_fifo_t *f = u->fifo;
    fifo_remove(u);
    if (!f->head)
        table_release(m, &m->unexpected, f);
    arrival_remove(m, u);
    m->nunexpected--;
}

rdmx_match_entry_t *rdmx_match_probe(rdmx_match_engine_t *m, uint32_t ctx,
                                     int32_t src, int32_t tag)
{
    if (m->nunexpected == 0)
        return NULL;
    if (src != RDMX_MATCH_ANY && tag != RDMX_MATCH_ANY) {
        rdmx_match_fifo_t *f = table_find(&m->unexpected, ctx, src, tag);
        return f ? f->head : NULL;
    }
    rdmx_match_entry_t probe = {.ctx = ctx, .src = src, .tag = tag};
    for (rdmx_match_entry_t *u = m->arrival_head; u; u = u->anext)
        if (matches(&probe, u->ctx, u->src, u->tag))
            return u;
    return NULL;
}

rdmx_match_entry_t *rdmx_match_post_recv(rdmx_match_engine_t *m,
                                         rdmx_match_entry_t *r)
{
    rdmx_match_entry_t *u = rdmx_match_probe(m, r->ctx, r->src, r->tag);
    if (u) {
        rdmx_match_remove_unexpected(m, u);
        return u;
    }
    r->seq = m->next_seq++;
    if (r->src == RDMX_MATCH_ANY || r->tag == RDMX_MATCH_ANY) {
        fifo_push(&m->posted_wild, r);
    } else {
        rdmx_match_fifo_t *f = table_get(m, &m->posted, r->ctx, r->src,
                                         r->tag);
        if (!f) {
            /* Out of memory for a FIFO: the wildcard FIFO accepts any
             * receive and keeps order by sequence, only slower. */
            fifo_push(&m->posted_wild, r);
        } else {
            fifo_push(f, r);
        }
    }
    m->nposted++;
    return NULL;
}

rdmx_match_entry_t *rdmx_match_take_posted(rdmx_match_engine_t *m,
                                           uint32_t ctx, int32_t src,
                                           int32_t tag)
{
    rdmx_match_entry_t key = {.ctx = ctx, .src = src, .tag = tag};
    const rdmx_match_entry_t *u = &key;
    rdmx_match_fifo_t *f = table_find(&m->posted, u->ctx, u->src, u->tag);
    rdmx_match_entry_t *specific = f ? f->head : NULL;
    rdmx_match_entry_t *wild = NULL;
    for (rdmx_match_entry_t *w = m->posted_wild.head; w; w = w->next) {
        if (specific && w->seq > specific->seq)
            break; /* the specific receive was posted first */
        if (matches(w, u->ctx, u->src, u->tag)) {
            wild = w;
            break;
        }
    }
    rdmx_match_entry_t *r = wild ? wild : specific;
    if (r) {
        fifo_remove(r);
        if (r == specific && !f->head)
            table_release(m, &m->posted, f);
        m->nposted--;
    }
    return r;
}

int rdmx_match_add_unexpected(rdmx_match_engine_t *m, rdmx_match_entry_t *u)
{
    rdmx_match_fifo_t *f = table_get(m, &m->unexpected, u->ctx, u->src,
                                     u->tag);
    if (!f)
        return -1;
    u->seq = m->next_seq++;
    fifo_push(f, u);
    u->anext = NULL;
    u->aprev = m->arrival_tail;
    if (m->arrival_tail)
        m->arrival_tail->anext = u;
    else
        m->arrival_head = u;
    m->arrival_tail = u;
    m->nunexpected++;
    return 0;
}

rdmx_match_entry_t *rdmx_match_arrive(rdmx_match_engine_t *m,
                                      rdmx_match_entry_t *u)
{
    rdmx_match_entry_t *r = rdmx_match_take_posted(m, u->ctx, u->src, u->tag);
    if (r)
        return r;
    rdmx_match_add_unexpected(m, u); /* failure leaves u->fifo NULL */
    return NULL;
}

int rdmx_match_cancel_recv(rdmx_match_engine_t *m, rdmx_match_entry_t *r)
{
    if (!r->fifo)
        return 0;
    rdmx_match_fifo_t *f = r->fifo;
    fifo_remove(r);
    if (f != &m->posted_wild && !f->head)
        table_release(m, &m->posted, f);
    m->nposted--;
    return 1;
}
