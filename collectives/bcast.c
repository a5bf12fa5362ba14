/*
 * bcast.c — broadcast: binomial tree, pipelined (segmented) binomial tree,
 * and scatter + ring allgather (van de Geijn) for large messages.
 *
 * All trees are built on ranks relative to the root (vr = r - root mod p):
 * the parent of vr clears its lowest set bit, its children are vr + 2^k
 * for the powers of two below that bit, largest subtree first so the deep
 * branch starts earliest.
 */
#include "coll.h"

#include <stdlib.h>

static int abs_rank(int vr, int root, int p)
{
    return (vr + root) % p;
}

/* Parent (relative, -1 for the root) and the mask below which children
 * hang. */
static int tree_parent(int vr, int p, int *mask_out)
{
    int mask = 1;
    while (mask < p) {
        if (vr & mask) {
            *mask_out = mask;
            return vr - mask;
        }
        mask <<= 1;
    }
    *mask_out = mask;
    return -1;
}

rdmx_status_t rdmx_coll_bcast_binomial(rdmx_sched_t *s,
                                       const rdmx_coll_args_t *a)
{
    int p = a->size, root = a->root, vr = (a->rank - root + p) % p, mask;
    int parent = tree_parent(vr, p, &mask);
    if (parent >= 0) {
        rdmx_sched_recv(s, abs_rank(parent, root, p), RDMX_SB_RECV, 0,
                        a->bytes);
        rdmx_sched_round(s);
    }
    for (mask >>= 1; mask > 0; mask >>= 1)
        if (vr + mask < p)
            rdmx_sched_send(s, abs_rank(vr + mask, root, p), RDMX_SB_RECV, 0,
                            a->bytes);
    rdmx_sched_round(s);
    return s->err;
}

/* The root sends the whole message to every rank in one round. On shared
 * memory a large message is one rendezvous each and every receiver copies
 * straight out of the root's buffer (CMA) at the same time: one level, one
 * hand-over per rank, which is what oversubscribed nodes need. */
rdmx_status_t rdmx_coll_bcast_linear(rdmx_sched_t *s, const rdmx_coll_args_t *a)
{
    int p = a->size, root = a->root;
    if (a->rank != root) {
        rdmx_sched_recv(s, root, RDMX_SB_RECV, 0, a->bytes);
    } else {
        /* Nearest ranks first, as the tree would. */
        for (int i = 1; i < p; i++) {
            if (a->single_host && a->bytes >= RDMX_COLL_GET_MIN)
                rdmx_sched_send_get(s, (root + i) % p, RDMX_SB_RECV, 0,
                                    a->bytes);
            else
                rdmx_sched_send(s, (root + i) % p, RDMX_SB_RECV, 0, a->bytes);
        }
    }
    rdmx_sched_round(s);
    return s->err;
}

/* Round t: receive segment t from the parent while forwarding segment t-1
 * to every child, so a segment moves one level down per round and the
 * tree fills like a pipeline: time ~ (depth + nseg) * (alpha + seg*beta). */
rdmx_status_t rdmx_coll_bcast_pipelined_binomial(rdmx_sched_t *s,
                                                 const rdmx_coll_args_t *a)
{
    int p = a->size, root = a->root, vr = (a->rank - root + p) % p, mask;
    size_t seg = a->segsize ? a->segsize : a->bytes;
    if (seg == 0)
        return RDMX_OK;
    size_t nseg = (a->bytes + seg - 1) / seg;
    int parent = tree_parent(vr, p, &mask);
    for (size_t t = 0; t <= nseg; t++) {
        if (parent >= 0 && t < nseg) {
            size_t off = t * seg;
            size_t n = a->bytes - off < seg ? a->bytes - off : seg;
            rdmx_sched_recv(s, abs_rank(parent, root, p), RDMX_SB_RECV, off, n);
        }
        /* The root has segment t already: it sends t in round t. */
        size_t st = parent >= 0 ? t - 1 : t;
        if ((parent >= 0 ? t >= 1 : t < nseg)) {
            size_t off = st * seg;
            size_t n = a->bytes - off < seg ? a->bytes - off : seg;
            for (int m = mask >> 1; m > 0; m >>= 1)
                if (vr + m < p)
                    rdmx_sched_send(s, abs_rank(vr + m, root, p), RDMX_SB_RECV,
                                    off, n);
        }
        rdmx_sched_round(s);
    }
    return s->err;
}

void rdmx_coll_ring_steps(rdmx_sched_t *s, int buf, const size_t *offs,
                          const size_t *lens, int vr, int root, int p,
                          int first)
{
    int right = abs_rank((vr + 1) % p, root, p);
    int left = abs_rank((vr - 1 + p) % p, root, p);
    for (int i = first; i < p - 1; i++) {
        int sb = (vr - i + p) % p, rb = (vr - i - 1 + p) % p;
        rdmx_sched_send(s, right, buf, offs[sb], lens[sb]);
        rdmx_sched_recv(s, left, buf, offs[rb], lens[rb]);
        rdmx_sched_round(s);
    }
}

rdmx_status_t rdmx_coll_bcast_scatter_allgather(rdmx_sched_t *s,
                                                const rdmx_coll_args_t *a)
{
    int p = a->size, root = a->root, vr = (a->rank - root + p) % p, mask;
    size_t *start = malloc((size_t)(p + 1) * sizeof(size_t));
    size_t *lens = malloc((size_t)p * sizeof(size_t));
    if (!start || !lens) {
        free(start);
        free(lens);
        return RDMX_ERR_NOMEM;
    }
    rdmx_coll_blocks(a->bytes, p, start);
    for (int i = 0; i < p; i++)
        lens[i] = start[i + 1] - start[i];
    /* Binomial scatter of relative blocks: vr's subtree owns the
     * contiguous range of blocks [vr, vr + subtree). */
    int parent = tree_parent(vr, p, &mask);
    if (parent >= 0) {
        int end = vr + mask < p ? vr + mask : p;
        rdmx_sched_recv(s, abs_rank(parent, root, p), RDMX_SB_RECV, start[vr],
                        start[end] - start[vr]);
        rdmx_sched_round(s);
    }
    for (int m = mask >> 1; m > 0; m >>= 1) {
        int c = vr + m;
        if (c < p) {
            int end = c + m < p ? c + m : p;
            rdmx_sched_send(s, abs_rank(c, root, p), RDMX_SB_RECV, start[c],
                            start[end] - start[c]);
        }
    }
    rdmx_sched_round(s);
    rdmx_coll_ring_steps(s, RDMX_SB_RECV, start, lens, vr, root, p, 0);
    free(start);
    free(lens);
    return s->err;
}
