/*
 * request.c — request allocation, wire handles and generic requests.
 *
 * Requests live in slabs and are recycled through a free list, so the hot
 * path never calls malloc. A wire handle is (generation << 32 | slot): a
 * handle that comes back from a peer is looked up by slot and accepted only
 * if the generation matches, so a forged or stale handle can never reach a
 * recycled request.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "request_impl.h"

#define SLAB 256

static rdmx_request_t **slots;
static uint32_t nslots, cap_slots;
static rdmx_request_t *free_list;
rdmx_request_t *rdmx_request_generic_head;
unsigned long rdmx_proto_completions;

static int grow(void)
{
    if (nslots + SLAB > cap_slots) {
        uint32_t ncap = cap_slots ? cap_slots * 2 : 1024;
        rdmx_request_t **s = realloc(slots, ncap * sizeof(*s));
        if (!s)
            return -1;
        slots = s;
        cap_slots = ncap;
    }
    rdmx_request_t *slab = calloc(SLAB, sizeof(*slab));
    if (!slab)
        return -1;
    for (int i = SLAB - 1; i >= 0; i--) {
        slab[i].index = nslots + (uint32_t)i;
        slab[i].gen = 1;
        slots[nslots + (uint32_t)i] = &slab[i];
        slab[i].next_free = free_list;
        free_list = &slab[i];
    }
    nslots += SLAB;
    return 0;
}

rdmx_request_t *rdmx_request_alloc(rdmx_req_kind_t kind, rdmx_comm_t *comm)
{
    if (!free_list && grow() != 0)
        return NULL;
    rdmx_request_t *r = free_list;
    free_list = r->next_free;
    uint32_t index = r->index, gen = r->gen;
    memset(r, 0, sizeof(*r));
    r->index = index;
    r->gen = gen;
    r->pub.kind = kind;
    r->state = RDMX_RS_ACTIVE;
    r->comm = comm;
    r->peer = -1;
    return r;
}

static void recycle(rdmx_request_t *r)
{
    if (r->pub.kind == RDMX_REQ_GENERIC && r->free_fn)
        r->free_fn(r);
    free(r->tmp);
    r->tmp = NULL;
    r->state = RDMX_RS_FREE;
    r->gen++;
    if (r->gen == 0)
        r->gen = 1;
    r->next_free = free_list;
    free_list = r;
}

void rdmx_request_complete(rdmx_request_t *r)
{
    if (r->state != RDMX_RS_ACTIVE)
        return;
    r->state = RDMX_RS_DONE;
    r->pub.complete = 1;
    rdmx_proto_completions++;
    if (r->user_freed)
        recycle(r);
}

void rdmx_request_free(rdmx_request_t *r)
{
    if (!r)
        return;
    if (r->state == RDMX_RS_DONE)
        recycle(r);
    else if (r->state == RDMX_RS_ACTIVE)
        r->user_freed = 1;
}

uint64_t rdmx_request_handle(const rdmx_request_t *r)
{
    return ((uint64_t)r->gen << 32) | r->index;
}

rdmx_request_t *rdmx_request_lookup(uint64_t handle)
{
    uint32_t index = (uint32_t)handle, gen = (uint32_t)(handle >> 32);
    if (index >= nslots)
        return NULL;
    rdmx_request_t *r = slots[index];
    if (r->gen != gen || r->state == RDMX_RS_FREE)
        return NULL;
    return r;
}

int rdmx_request_done(const rdmx_request_t *req)
{
    return req->pub.complete;
}

const MPI_Status *rdmx_request_status(const rdmx_request_t *req)
{
    return &req->pub.status;
}

static int done_cond(void *arg)
{
    return ((rdmx_request_t *)arg)->pub.complete;
}

rdmx_status_t rdmx_request_wait(rdmx_request_t *req)
{
    if (req->pub.complete)
        return RDMX_OK;
    return rdmx_progress_wait(done_cond, req);
}

struct all_arg {
    rdmx_request_t **reqs;
    size_t n, first_open;
};

static int all_cond(void *arg)
{
    struct all_arg *a = arg;
    while (a->first_open < a->n
           && (!a->reqs[a->first_open] || a->reqs[a->first_open]->pub.complete))
        a->first_open++;
    return a->first_open == a->n;
}

rdmx_status_t rdmx_request_wait_all(rdmx_request_t **reqs, size_t n)
{
    struct all_arg a = {reqs, n, 0};
    if (all_cond(&a))
        return RDMX_OK;
    return rdmx_progress_wait(all_cond, &a);
}

/* ---- generic requests ---------------------------------------------------- */

rdmx_request_t *rdmx_request_generic_new(rdmx_comm_t *comm,
                                         rdmx_generic_poll_fn poll,
                                         rdmx_generic_free_fn free_fn,
                                         void *arg)
{
    rdmx_request_t *r = rdmx_request_alloc(RDMX_REQ_GENERIC, comm);
    if (!r)
        return NULL;
    r->poll = poll;
    r->free_fn = free_fn;
    r->arg = arg;
    r->pub.status.MPI_SOURCE = MPI_ANY_SOURCE;
    r->pub.status.MPI_TAG = MPI_ANY_TAG;
    r->gnext = rdmx_request_generic_head;
    r->gprev = NULL;
    if (rdmx_request_generic_head)
        rdmx_request_generic_head->gprev = r;
    rdmx_request_generic_head = r;
    return r;
}

void *rdmx_request_generic_arg(rdmx_request_t *req)
{
    return req->arg;
}

void rdmx_request_generic_complete(rdmx_request_t *r, rdmx_status_t st)
{
    if (r->state != RDMX_RS_ACTIVE)
        return;
    if (r->gprev)
        r->gprev->gnext = r->gnext;
    else if (rdmx_request_generic_head == r)
        rdmx_request_generic_head = r->gnext;
    if (r->gnext)
        r->gnext->gprev = r->gprev;
    r->gnext = r->gprev = NULL;
    r->error = st;
    r->pub.status.MPI_ERROR = st == RDMX_OK ? MPI_SUCCESS : MPI_ERR_OTHER;
    rdmx_request_complete(r);
}

int rdmx_request_poll_generic(void)
{
    int events = 0;
    rdmx_request_t *r = rdmx_request_generic_head;
    while (r) {
        /* poll may complete (and unlink) r: take the successor first. */
        rdmx_request_t *next = r->gnext;
        rdmx_status_t st = r->poll(r);
        if (st != RDMX_OK && st != RDMX_INPROGRESS) {
            rdmx_request_generic_complete(r, st);
            events++;
        } else if (st == RDMX_OK || r->pub.complete) {
            events++;
        }
        r = next;
    }
    return events;
}
