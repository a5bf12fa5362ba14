/*
 * scan.c — inclusive and exclusive prefix reductions by recursive
 * doubling (any p): in step k rank r exchanges its partial reduction of
 * the aligned 2^k ranks with r ^ 2^k; a partner below contributes to the
 * result, and operands from lower ranks always go on the left, so
 * non-commutative ops are honoured.
 */
#include "coll.h"

static rdmx_status_t scan(rdmx_sched_t *s, const rdmx_coll_args_t *a,
                          int exclusive)
{
    int r = a->rank, p = a->size;
    size_t bytes = a->count * a->esize;
    rdmx_sched_tmp(s, 0, bytes); /* partial: reduction over my group */
    rdmx_sched_tmp(s, 1, bytes); /* partner's partial */
    rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_TMP, 0, bytes);
    rdmx_sched_round(s);
    if (!exclusive && !a->in_place)
        rdmx_sched_copy(s, RDMX_SB_SEND, 0, RDMX_SB_RECV, 0, bytes);
    rdmx_sched_round(s);
    int have = !exclusive;
    for (int mask = 1; mask < p; mask <<= 1) {
        int dst = r ^ mask;
        if (dst >= p)
            continue;
        rdmx_sched_send(s, dst, RDMX_SB_TMP, 0, bytes);
        rdmx_sched_recv(s, dst, RDMX_SB_TMP2, 0, bytes);
        if (dst < r) {
            if (have) {
                rdmx_sched_reduce(s, RDMX_SB_TMP2, 0, RDMX_SB_RECV, 0, a->count,
                                  0);
            } else {
                rdmx_sched_copy(s, RDMX_SB_TMP2, 0, RDMX_SB_RECV, 0, bytes);
                have = 1;
            }
            rdmx_sched_reduce(s, RDMX_SB_TMP2, 0, RDMX_SB_TMP, 0, a->count, 0);
        } else {
            rdmx_sched_reduce(s, RDMX_SB_TMP2, 0, RDMX_SB_TMP, 0, a->count, 1);
        }
        rdmx_sched_round(s);
    }
    return s->err;
}

rdmx_status_t rdmx_coll_scan_recursive_doubling(rdmx_sched_t *s,
                                                const rdmx_coll_args_t *a)
{
    return scan(s, a, 0);
}

rdmx_status_t rdmx_coll_exscan_recursive_doubling(rdmx_sched_t *s,
                                                  const rdmx_coll_args_t *a)
{
    return scan(s, a, 1);
}
