/*
 * reduce.c — reduce: binomial tree, pipelined (segmented) binomial tree,
 * and Rabenseifner (recursive-halving reduce-scatter + binomial gather)
 * for large commutative reductions.
 *
 * Order: a non-commutative op must combine operands in rank order. The
 * trees are then rooted at rank 0 on absolute ranks, where vr's subtree is
 * the rank range [vr, vr + 2^k), each child's range follows the parent's,
 * so "acc = acc op child" keeps the order; the result then travels to the
 * root in one extra message if root != 0. Commutative ops use trees
 * rooted at the root.
 */
#include "coll.h"

#include <stdlib.h>

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

static int tree_root_of(const rdmx_coll_args_t *a)
{
    return a->commutative ? a->root : 0;
}

void rdmx_coll_reduce_tree_steps(rdmx_sched_t *s, const rdmx_coll_args_t *a,
                                 int acc, int *init, int tree_root)
{
    int p = a->size, vr = (a->rank - tree_root + p) % p;
    size_t bytes = a->count * a->esize;
    rdmx_sched_tmp(s, 1, bytes);
    for (int mask = 1; mask < p; mask <<= 1) {
        if (vr & mask) {
            rdmx_sched_send(s, (vr - mask + tree_root) % p, *init, 0, bytes);
            rdmx_sched_round(s);
            break;
        }
        if (vr + mask < p) {
            rdmx_sched_recv(s, (vr + mask + tree_root) % p, RDMX_SB_TMP2, 0,
                            bytes);
            rdmx_sched_reduce3(s, RDMX_SB_TMP2, 0, *init, 0, acc, 0, a->count,
                               1);
            *init = acc;
        }
    }
}

/* Where this rank accumulates. */
static int choose_acc(rdmx_sched_t *s, const rdmx_coll_args_t *a, int troot)
{
    if (a->rank == troot && a->rank == a->root)
        return RDMX_SB_RECV;
    rdmx_sched_tmp(s, 0, a->count * a->esize);
    return RDMX_SB_TMP;
}

/* ... and the initial copy of its input there. */
static int setup_acc(rdmx_sched_t *s, const rdmx_coll_args_t *a, int troot)
{
    int acc = choose_acc(s, a, troot);
    if (!(a->in_place && acc == RDMX_SB_RECV))
        rdmx_sched_copy(s, RDMX_SB_SEND, 0, acc, 0, a->count * a->esize);
    rdmx_sched_round(s);
    return acc;
}

/* The tree root forwards the result when it is not the real root. */
static void deliver(rdmx_sched_t *s, const rdmx_coll_args_t *a, int acc,
                    int troot)
{
    if (troot == a->root)
        return;
    size_t bytes = a->count * a->esize;
    if (a->rank == troot)
        rdmx_sched_send(s, a->root, acc, 0, bytes);
    else if (a->rank == a->root)
        rdmx_sched_recv(s, troot, RDMX_SB_RECV, 0, bytes);
    rdmx_sched_round(s);
}

rdmx_status_t rdmx_coll_reduce_binomial(rdmx_sched_t *s,
                                        const rdmx_coll_args_t *a)
{
    int troot = tree_root_of(a);
    int acc = choose_acc(s, a, troot), init = RDMX_SB_SEND;
    /* Leaves send their input as it is; the first reduction at an inner
     * rank writes the accumulator. In place, SEND is RECV's memory. */
    rdmx_coll_reduce_tree_steps(s, a, acc, &init, troot);
    if (a->rank == troot && init != acc &&
        !(a->in_place && acc == RDMX_SB_RECV)) /* one rank, or no child */
        rdmx_sched_copy(s, init, 0, acc, 0, a->count * a->esize);
    rdmx_sched_round(s);
    deliver(s, a, acc, troot);
    return s->err;
}

/* Round t: receive segment t from every child and send the finished
 * segment t-1 to the parent; the children's segments are reduced into the
 * accumulator in child order (ascending subtree = ascending ranks). */
rdmx_status_t rdmx_coll_reduce_pipelined(rdmx_sched_t *s,
                                         const rdmx_coll_args_t *a)
{
    int p = a->size, troot = tree_root_of(a);
    int vr = (a->rank - troot + p) % p, mask;
    size_t segel = a->segsize / (a->esize ? a->esize : 1);
    if (segel == 0)
        segel = 1;
    size_t nseg = (a->count + segel - 1) / segel;
    int parent = tree_parent(vr, p, &mask);
    int nchild = 0;
    for (int m = 1; m < mask; m <<= 1)
        if (vr + m < p)
            nchild++;
    int acc = setup_acc(s, a, troot);
    size_t segbytes = segel * a->esize;
    rdmx_sched_tmp(s, 1, (size_t)nchild * segbytes);
    for (size_t t = 0; t <= nseg; t++) {
        size_t n = 0, off = t * segel;
        if (t < nseg) {
            n = a->count - off < segel ? a->count - off : segel;
            int c = 0;
            for (int m = 1; m < mask; m <<= 1)
                if (vr + m < p)
                    rdmx_sched_recv(s, (vr + m + troot) % p, RDMX_SB_TMP2,
                                    (size_t)c++ * segbytes, n * a->esize);
        }
        if (parent >= 0 && t >= 1) {
            size_t po = (t - 1) * segel;
            size_t pn = a->count - po < segel ? a->count - po : segel;
            rdmx_sched_send(s, (parent + troot) % p, acc, po * a->esize,
                            pn * a->esize);
        }
        for (int c = 0; c < nchild && n; c++)
            rdmx_sched_reduce(s, RDMX_SB_TMP2, (size_t)c * segbytes, acc,
                              off * a->esize, n, 1);
    }
    rdmx_sched_round(s);
    deliver(s, a, acc, troot);
    return s->err;
}

#define unfold rdmx_coll_unfold

rdmx_status_t rdmx_coll_reduce_rabenseifner(rdmx_sched_t *s,
                                            const rdmx_coll_args_t *a)
{
    int r = a->rank, p = a->size;
    int pof2 = rdmx_coll_pof2_floor(p), rem = p - pof2;
    size_t es = a->esize, bytes = a->count * es;
    size_t *disp = malloc((size_t)(pof2 + 1) * sizeof(size_t));
    if (!disp)
        return RDMX_ERR_NOMEM;
    rdmx_coll_blocks(a->count, pof2, disp);
#define CNT(lo, hi) (disp[hi] - disp[lo])

    int acc = RDMX_SB_TMP;
    rdmx_sched_tmp(s, 0, bytes);
    rdmx_sched_tmp(s, 1, bytes);
    rdmx_sched_copy(s, RDMX_SB_SEND, 0, acc, 0, bytes);
    rdmx_sched_round(s);

    /* Fold the first 2*rem ranks pairwise so pof2 ranks remain. */
    int newrank;
    if (r < 2 * rem) {
        if (r % 2 == 0) {
            rdmx_sched_send(s, r + 1, acc, 0, bytes);
            newrank = -1;
        } else {
            rdmx_sched_recv(s, r - 1, RDMX_SB_TMP2, 0, bytes);
            newrank = r / 2;
        }
        if (newrank >= 0)
            rdmx_sched_reduce(s, RDMX_SB_TMP2, 0, acc, 0, a->count, 0);
        rdmx_sched_round(s);
    } else {
        newrank = r - rem;
    }
    int root = a->root;
    int newroot = root < 2 * rem ? root / 2 : root - rem;

    if (newrank >= 0) {
        int send_idx, last_idx, recv_idx, mask;
        int init = acc;
        rdmx_coll_halving_reduce_scatter(s, r, newrank, rem, pof2, disp, es,
                                         acc, &init, RDMX_SB_TMP2, 0,
                                         &send_idx, &last_idx);
        recv_idx = send_idx;
        /* Binomial gather of the blocks to newroot (reverse halving). */
        int j = 0;
        mask = 1;
        while (mask < pof2) {
            mask <<= 1;
            j++;
        }
        mask >>= 1;
        j--;
        while (mask > 0) {
            int newdst = newrank ^ mask, dst = unfold(newdst, rem);
            int dtree = (newdst >> j) << j, rtree = (newroot >> j) << j;
            int slo, shi, rlo, rhi;
            if (newrank < newdst) {
                if (mask != pof2 / 2)
                    last_idx = last_idx + pof2 / (mask * 2);
                recv_idx = send_idx + pof2 / (mask * 2);
                slo = send_idx, shi = recv_idx, rlo = recv_idx, rhi = last_idx;
            } else {
                recv_idx = send_idx - pof2 / (mask * 2);
                slo = send_idx, shi = last_idx, rlo = recv_idx, rhi = send_idx;
            }
            if (dtree == rtree) {
                rdmx_sched_send(s, dst, acc, disp[slo] * es,
                                CNT(slo, shi) * es);
                rdmx_sched_round(s);
                break;
            }
            rdmx_sched_recv(s, dst, acc, disp[rlo] * es, CNT(rlo, rhi) * es);
            rdmx_sched_round(s);
            if (newrank > newdst)
                send_idx = recv_idx;
            mask >>= 1;
            j--;
        }
    }
    /* newroot's real rank has the result; hand it to the root. */
    int holder = unfold(newroot, rem);
    if (holder == root) {
        if (r == root)
            rdmx_sched_copy(s, acc, 0, RDMX_SB_RECV, 0, bytes);
    } else if (r == holder) {
        rdmx_sched_send(s, root, acc, 0, bytes);
    } else if (r == root) {
        rdmx_sched_recv(s, holder, RDMX_SB_RECV, 0, bytes);
    }
    rdmx_sched_round(s);
#undef CNT
    free(disp);
    return s->err;
}
