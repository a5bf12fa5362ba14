/*
 * gather.c — gather and scatter: binomial trees (log p rounds, for small
 * blocks) and linear (root talks to everyone at once, for large blocks
 * where the tree's forwarding only adds bytes), plus the v variants.
 *
 * The binomial trees work on root-relative ranks, where vr's subtree owns
 * the contiguous relative blocks [vr, vr + subtree); the root converts
 * between relative and absolute block order with two copies.
 */
#include "coll.h"

static int subtree(int vr, int p)
{
    int mask = 1;
    while (mask < p && !(vr & mask))
        mask <<= 1;
    /* mask is vr's lowest set bit (or >= p for the root). */
    return vr + mask < p ? mask : p - vr;
}

rdmx_status_t rdmx_coll_gather_binomial(rdmx_sched_t *s,
                                        const rdmx_coll_args_t *a)
{
    int p = a->size, root = a->root, vr = (a->rank - root + p) % p;
    size_t b = a->bytes;
    int sub = subtree(vr, p);
    /* The root with root == 0 gathers straight into RECV. */
    int buf = (vr == 0 && root == 0) ? RDMX_SB_RECV : RDMX_SB_TMP;
    if (buf == RDMX_SB_TMP)
        rdmx_sched_tmp(s, 0, (size_t)sub * b);
    rdmx_sched_copy(s, RDMX_SB_SEND, 0, buf, 0, b);
    rdmx_sched_round(s);
    int mask = 1;
    for (; mask < p; mask <<= 1) {
        if (vr & mask)
            break;
        int c = vr + mask;
        if (c < p) {
            int n = c + mask < p ? mask : p - c;
            rdmx_sched_recv(s, (c + root) % p, buf, (size_t)mask * b,
                            (size_t)n * b);
        }
    }
    rdmx_sched_round(s);
    if (vr) {
        rdmx_sched_send(s, (vr - mask + root) % p, buf, 0, (size_t)sub * b);
        rdmx_sched_round(s);
    } else if (root != 0) {
        /* relative block j is rank (j + root) % p */
        rdmx_sched_copy(s, RDMX_SB_TMP, 0, RDMX_SB_RECV, (size_t)root * b,
                        (size_t)(p - root) * b);
        rdmx_sched_copy(s, RDMX_SB_TMP, (size_t)(p - root) * b, RDMX_SB_RECV, 0,
                        (size_t)root * b);
        rdmx_sched_round(s);
    }
    return s->err;
}

rdmx_status_t rdmx_coll_scatter_binomial(rdmx_sched_t *s,
                                         const rdmx_coll_args_t *a)
{
    int p = a->size, root = a->root, vr = (a->rank - root + p) % p;
    size_t b = a->bytes;
    int sub = subtree(vr, p);
    int buf = RDMX_SB_TMP;
    if (vr == 0) {
        if (root == 0) {
            buf = RDMX_SB_SEND;
        } else {
            rdmx_sched_tmp(s, 0, (size_t)p * b);
            rdmx_sched_copy(s, RDMX_SB_SEND, (size_t)root * b, RDMX_SB_TMP, 0,
                            (size_t)(p - root) * b);
            rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_TMP,
                            (size_t)(p - root) * b, (size_t)root * b);
            rdmx_sched_round(s);
        }
    } else if (sub == 1) {
        buf = RDMX_SB_RECV; /* a leaf receives its block in place */
    } else {
        rdmx_sched_tmp(s, 0, (size_t)sub * b);
    }
    int mask = 1;
    while (mask < p && !(vr & mask))
        mask <<= 1;
    if (vr) {
        rdmx_sched_recv(s, (vr - mask + root) % p, buf, 0, (size_t)sub * b);
        rdmx_sched_round(s);
    }
    for (int m = mask >> 1; m > 0; m >>= 1) {
        int c = vr + m;
        if (c < p) {
            int n = c + m < p ? m : p - c;
            rdmx_sched_send(s, (c + root) % p, buf, (size_t)m * b,
                            (size_t)n * b);
        }
    }
    rdmx_sched_copy(s, buf, 0, RDMX_SB_RECV, 0, b);
    rdmx_sched_round(s);
    return s->err;
}

rdmx_status_t rdmx_coll_gather_linear(rdmx_sched_t *s,
                                      const rdmx_coll_args_t *a)
{
    int p = a->size, root = a->root;
    size_t b = a->bytes;
    if (a->rank == root) {
        for (int i = 0; i < p; i++)
            rdmx_sched_recv(s, i, RDMX_SB_RECV, (size_t)i * b, b);
        /* After the receives, not early: the root reads the others'
         * blocks itself, and each sender waits until its block is read
         * (2 ranks, 128-256 KiB: an early copy made the gather 8-12%
         * slower). */
        rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_RECV, (size_t)root * b, b);
    } else {
        rdmx_sched_send(s, root, RDMX_SB_SEND, 0, b);
    }
    rdmx_sched_round(s);
    return s->err;
}

rdmx_status_t rdmx_coll_scatter_linear(rdmx_sched_t *s,
                                       const rdmx_coll_args_t *a)
{
    int p = a->size, root = a->root;
    size_t b = a->bytes;
    if (a->rank == root) {
        for (int i = 0; i < p; i++) {
            if (a->single_host && b >= RDMX_COLL_SCATTER_GET_MIN)
                rdmx_sched_send_get(s, i, RDMX_SB_SEND, (size_t)i * b, b);
            else
                rdmx_sched_send(s, i, RDMX_SB_SEND, (size_t)i * b, b);
        }
        /* While the blocks move to the others. */
        rdmx_sched_copy_early(s, RDMX_SB_SEND, (size_t)root * b, RDMX_SB_RECV,
                              0, b);
    } else {
        rdmx_sched_recv(s, root, RDMX_SB_RECV, 0, b);
    }
    rdmx_sched_round(s);
    return s->err;
}

/* v variants: the root's side is counts[i] bytes at offs[i]; the other
 * side is `bytes`. */
rdmx_status_t rdmx_coll_gatherv_linear(rdmx_sched_t *s,
                                       const rdmx_coll_args_t *a)
{
    int p = a->size, root = a->root;
    if (a->rank == root) {
        for (int i = 0; i < p; i++)
            rdmx_sched_recv(s, i, RDMX_SB_RECV, a->offs[i], a->counts[i]);
        rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_RECV, a->offs[root],
                        a->counts[root]);
    } else {
        rdmx_sched_send(s, root, RDMX_SB_SEND, 0, a->bytes);
    }
    rdmx_sched_round(s);
    return s->err;
}

rdmx_status_t rdmx_coll_scatterv_linear(rdmx_sched_t *s,
                                        const rdmx_coll_args_t *a)
{
    int p = a->size, root = a->root;
    if (a->rank == root) {
        for (int i = 0; i < p; i++)
            rdmx_sched_send(s, i, RDMX_SB_SEND, a->offs[i], a->counts[i]);
        rdmx_sched_copy_early(s, RDMX_SB_SEND, a->offs[root], RDMX_SB_RECV,
                              0, a->counts[root]);
    } else {
        rdmx_sched_recv(s, root, RDMX_SB_RECV, 0, a->bytes);
    }
    rdmx_sched_round(s);
    return s->err;
}
