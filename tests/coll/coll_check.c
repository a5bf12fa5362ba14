/*
 * coll_check.c — every collective checked against a locally computed
 * reference on MPI_COMM_WORLD, on sub-communicators from MPI_Comm_split
 * (reversed key order, so comm ranks differ from world ranks) and on a
 * duplicate, for every root, with MPI_IN_PLACE variants and a
 * non-commutative user operator (intervals of ranks: combining out of rank
 * order poisons the result).
 *
 * Usage: coll_check [-n counts] [-b bigcount] [-k kinds] [-q]
 *   -n 0,1,3,1000   element counts for all collectives (default)
 *   -b N            also run bcast/reduce/allreduce/allgather with N
 *                   elements (e.g. 1048581 = 1Mi+5) on the world only
 *   -k list         only these kinds: bcast,reduce,allreduce,scan,gather,
 *                   scatter,allgather,alltoall,v,rs,barrier,nb
 *   -q              roots 0, p/2, p-1 only (default: every root)
 * The same program runs under Open MPI (tests/coll/run_openmpi.sh) to
 * validate the test itself. Exits non-zero (MPI_Abort) on any mismatch.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int wrank, errors;
static const char *cname = "world";
static char kinds[256] = "bcast,reduce,allreduce,scan,gather,scatter,"
                         "allgather,alltoall,v,rs,barrier,nb";
static int quick_roots;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            if (errors++ < 20) {                                               \
                fprintf(stderr, "FAIL world rank %d comm %s: ", wrank, cname); \
                fprintf(stderr, __VA_ARGS__);                                  \
                fprintf(stderr, "\n");                                         \
            }                                                                  \
        }                                                                      \
    } while (0)

/* Is `k` one of the comma-separated names in `kinds`? */
static int want(const char *k)
{
    size_t n = strlen(k);
    for (const char *s = kinds; (s = strstr(s, k)); s += n)
        if ((s == kinds || s[-1] == ',') && (s[n] == ',' || s[n] == 0))
            return 1;
    return 0;
}

static int val(int r, long i)
{
    return (int)((r * 7919L + i * 31L) % 1009L) - 300;
}

/* ---- the interval operator (non-commutative) -------------------------------
 */
typedef struct {
    int lo, hi, idx;
} ival_t;
static MPI_Datatype ival_type;
static MPI_Op ival_op;

static void ival_fn(void *in_, void *io_, int *len, MPI_Datatype *dt)
{
    ival_t *a = in_, *b = io_;
    for (int i = 0; i < *len; i++) {
        if (a[i].lo < 0 || b[i].lo < 0 || a[i].idx != b[i].idx ||
            a[i].hi + 1 != b[i].lo)
            b[i].lo = b[i].hi = -1000000;
        else
            b[i].lo = a[i].lo;
    }
}

static int is_root(int r, int p)
{
    return !quick_roots || r == 0 || r == p / 2 || r == p - 1;
}

/* ---- bcast
 * ---------------------------------------------------------------------------
 */
static void t_bcast(MPI_Comm c, int p, int me, long n)
{
    int *b = malloc(sizeof(int) * (size_t)(n + 1));
    for (int root = 0; root < p; root++) {
        if (!is_root(root, p))
            continue;
        for (long i = 0; i < n; i++)
            b[i] = me == root ? val(root, i) : -7;
        MPI_Bcast(b, (int)n, MPI_INT, root, c);
        for (long i = 0; i < n; i++)
            if (b[i] != val(root, i)) {
                CHECK(0, "bcast n=%ld root=%d: elem %ld = %d want %d", n, root,
                      i, b[i], val(root, i));
                break;
            }
    }
    free(b);
}

/* ---- reductions ------------------------------------------------------ */
static long sum_ref(int lo, int hi, long i)
{
    long s = 0;
    for (int r = lo; r <= hi; r++)
        s += val(r, i);
    return s;
}

static void check_sum(const int *got, long n, int lo, int hi, const char *what,
                      int root)
{
    for (long i = 0; i < n; i++) {
        long w = sum_ref(lo, hi, i);
        if (got[i] != (int)w) {
            CHECK(0, "%s n=%ld root=%d: elem %ld = %d want %ld", what, n, root,
                  i, got[i], w);
            return;
        }
    }
}

static void check_ival(const ival_t *got, long n, int lo, int hi,
                       const char *what, int root)
{
    for (long i = 0; i < n; i++)
        if (got[i].lo != lo || got[i].hi != hi || got[i].idx != (int)i) {
            CHECK(0,
                  "%s (non-commutative) n=%ld root=%d: elem %ld = "
                  "(%d,%d,%d) want (%d,%d,%ld)",
                  what, n, root, i, got[i].lo, got[i].hi, got[i].idx, lo, hi,
                  i);
            return;
        }
}

static void t_reduce(MPI_Comm c, int p, int me, long n)
{
    int *s = malloc(sizeof(int) * (size_t)(n + 1));
    int *r = malloc(sizeof(int) * (size_t)(n + 1));
    ival_t *is = malloc(sizeof(ival_t) * (size_t)(n + 1));
    ival_t *ir = malloc(sizeof(ival_t) * (size_t)(n + 1));
    for (int root = 0; root < p; root++) {
        if (!is_root(root, p))
            continue;
        for (long i = 0; i < n; i++) {
            s[i] = val(me, i);
            r[i] = -1;
        }
        MPI_Reduce(s, r, (int)n, MPI_INT, MPI_SUM, root, c);
        if (me == root)
            check_sum(r, n, 0, p - 1, "reduce", root);
        /* in place at the root */
        for (long i = 0; i < n; i++)
            r[i] = val(me, i);
        MPI_Reduce(me == root ? MPI_IN_PLACE : r, me == root ? r : NULL, (int)n,
                   MPI_INT, MPI_SUM, root, c);
        if (me == root)
            check_sum(r, n, 0, p - 1, "reduce in place", root);
        if (n <= 70000) {
            for (long i = 0; i < n; i++)
                is[i] = (ival_t){me, me, (int)i};
            MPI_Reduce(is, ir, (int)n, ival_type, ival_op, root, c);
            if (me == root)
                check_ival(ir, n, 0, p - 1, "reduce", root);
        }
    }
    free(s);
    free(r);
    free(is);
    free(ir);
}

static void t_allreduce(MPI_Comm c, int p, int me, long n)
{
    int *s = calloc((size_t)(n + 1), sizeof(int));
    int *r = calloc((size_t)(n + 1), sizeof(int));
    for (long i = 0; i < n; i++)
        s[i] = val(me, i);
    MPI_Allreduce(s, r, (int)n, MPI_INT, MPI_SUM, c);
    check_sum(r, n, 0, p - 1, "allreduce", -1);
    for (long i = 0; i < n; i++)
        r[i] = val(me, i);
    MPI_Allreduce(MPI_IN_PLACE, r, (int)n, MPI_INT, MPI_SUM, c);
    check_sum(r, n, 0, p - 1, "allreduce in place", -1);
    /* MAX and MINLOC */
    MPI_Allreduce(s, r, (int)n, MPI_INT, MPI_MAX, c);
    for (long i = 0; i < n; i++) {
        int w = val(0, i);
        for (int q = 1; q < p; q++)
            w = val(q, i) > w ? val(q, i) : w;
        if (r[i] != w) {
            CHECK(0, "allreduce MAX n=%ld elem %ld = %d want %d", n, i, r[i],
                  w);
            break;
        }
    }
    if (n <= 70000) {
        struct {
            double v;
            int i;
        } *ps = malloc(16 * (size_t)(n + 1)),
          *pr = malloc(16 * (size_t)(n + 1));
        for (long i = 0; i < n; i++) {
            ps[i].v = (double)(val(me, i) % 50);
            ps[i].i = me;
        }
        MPI_Allreduce(ps, pr, (int)n, MPI_DOUBLE_INT, MPI_MINLOC, c);
        for (long i = 0; i < n; i++) {
            double wv = 1e9;
            int wi = -1;
            for (int q = 0; q < p; q++)
                if ((double)(val(q, i) % 50) < wv) {
                    wv = (double)(val(q, i) % 50);
                    wi = q;
                }
            if (pr[i].v != wv || pr[i].i != wi) {
                CHECK(0,
                      "allreduce MINLOC n=%ld elem %ld = (%g,%d) want "
                      "(%g,%d)",
                      n, i, pr[i].v, pr[i].i, wv, wi);
                break;
            }
        }
        free(ps);
        free(pr);
        ival_t *is = malloc(sizeof(ival_t) * (size_t)(n + 1));
        ival_t *ir = malloc(sizeof(ival_t) * (size_t)(n + 1));
        for (long i = 0; i < n; i++)
            is[i] = (ival_t){me, me, (int)i};
        MPI_Allreduce(is, ir, (int)n, ival_type, ival_op, c);
        check_ival(ir, n, 0, p - 1, "allreduce", -1);
        MPI_Allreduce(MPI_IN_PLACE, is, (int)n, ival_type, ival_op, c);
        check_ival(is, n, 0, p - 1, "allreduce in place", -1);
        free(is);
        free(ir);
    }
    free(s);
    free(r);
}

static void t_scan(MPI_Comm c, int p, int me, long n)
{
    int *s = malloc(sizeof(int) * (size_t)(n + 1));
    int *r = malloc(sizeof(int) * (size_t)(n + 1));
    ival_t *is = malloc(sizeof(ival_t) * (size_t)(n + 1));
    ival_t *ir = malloc(sizeof(ival_t) * (size_t)(n + 1));
    for (long i = 0; i < n; i++)
        s[i] = val(me, i);
    MPI_Scan(s, r, (int)n, MPI_INT, MPI_SUM, c);
    check_sum(r, n, 0, me, "scan", -1);
    memcpy(r, s, sizeof(int) * (size_t)n);
    MPI_Scan(MPI_IN_PLACE, r, (int)n, MPI_INT, MPI_SUM, c);
    check_sum(r, n, 0, me, "scan in place", -1);
    MPI_Exscan(s, r, (int)n, MPI_INT, MPI_SUM, c);
    if (me > 0)
        check_sum(r, n, 0, me - 1, "exscan", -1);
    for (long i = 0; i < n; i++)
        is[i] = (ival_t){me, me, (int)i};
    MPI_Scan(is, ir, (int)n, ival_type, ival_op, c);
    check_ival(ir, n, 0, me, "scan", -1);
    MPI_Exscan(is, ir, (int)n, ival_type, ival_op, c);
    if (me > 0)
        check_ival(ir, n, 0, me - 1, "exscan", -1);
    free(s);
    free(r);
    free(is);
    free(ir);
}

/* ---- block collectives ----------------------------------------------- */
static int bval(int from, int to, long i)
{
    return from * 1000003 + to * 1009 + (int)(i % 1000);
}

static void t_gather(MPI_Comm c, int p, int me, long n)
{
    int *s = malloc(sizeof(int) * (size_t)(n + 1));
    int *r = malloc(sizeof(int) * (size_t)(n * p + 1));
    for (int root = 0; root < p; root++) {
        if (!is_root(root, p))
            continue;
        for (long i = 0; i < n; i++)
            s[i] = bval(me, 0, i);
        for (long i = 0; i < n * p; i++)
            r[i] = -1;
        MPI_Gather(s, (int)n, MPI_INT, r, (int)n, MPI_INT, root, c);
        if (me == root)
            for (long i = 0; i < n * p; i++)
                if (r[i] != bval((int)(i / n), 0, i % n)) {
                    CHECK(0, "gather n=%ld root=%d elem %ld", n, root, i);
                    break;
                }
        /* in place */
        for (long i = 0; i < n * p; i++)
            r[i] = me == root && i / n == me ? bval(me, 0, i % n) : -1;
        MPI_Gather(me == root ? MPI_IN_PLACE : s, (int)n, MPI_INT, r, (int)n,
                   MPI_INT, root, c);
        if (me == root)
            for (long i = 0; i < n * p; i++)
                if (r[i] != bval((int)(i / n), 0, i % n)) {
                    CHECK(0, "gather in place n=%ld root=%d elem %ld", n, root,
                          i);
                    break;
                }
    }
    free(s);
    free(r);
}

static void t_scatter(MPI_Comm c, int p, int me, long n)
{
    int *s = malloc(sizeof(int) * (size_t)(n * p + 1));
    int *r = malloc(sizeof(int) * (size_t)(n + 1));
    for (int root = 0; root < p; root++) {
        if (!is_root(root, p))
            continue;
        for (long i = 0; i < n * p; i++)
            s[i] = bval(root, (int)(i / n), i % n);
        for (long i = 0; i < n; i++)
            r[i] = -1;
        MPI_Scatter(s, (int)n, MPI_INT, r, (int)n, MPI_INT, root, c);
        for (long i = 0; i < n; i++)
            if (r[i] != bval(root, me, i)) {
                CHECK(0, "scatter n=%ld root=%d elem %ld", n, root, i);
                break;
            }
        MPI_Scatter(s, (int)n, MPI_INT, me == root ? MPI_IN_PLACE : r, (int)n,
                    MPI_INT, root, c);
        for (long i = 0; i < n && me != root; i++)
            if (r[i] != bval(root, me, i)) {
                CHECK(0, "scatter (root in place) n=%ld root=%d elem %ld", n,
                      root, i);
                break;
            }
    }
    free(s);
    free(r);
}

static void t_allgather(MPI_Comm c, int p, int me, long n)
{
    int *s = malloc(sizeof(int) * (size_t)(n + 1));
    int *r = malloc(sizeof(int) * (size_t)(n * p + 1));
    for (long i = 0; i < n; i++)
        s[i] = bval(me, 0, i);
    MPI_Allgather(s, (int)n, MPI_INT, r, (int)n, MPI_INT, c);
    for (long i = 0; i < n * p; i++)
        if (r[i] != bval((int)(i / n), 0, i % n)) {
            CHECK(0, "allgather n=%ld elem %ld", n, i);
            break;
        }
    for (long i = 0; i < n * p; i++)
        r[i] = i / n == me ? bval(me, 0, i % n) : -1;
    MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, r, (int)n, MPI_INT, c);
    for (long i = 0; i < n * p; i++)
        if (r[i] != bval((int)(i / n), 0, i % n)) {
            CHECK(0, "allgather in place n=%ld elem %ld", n, i);
            break;
        }
    free(s);
    free(r);
}

static void t_alltoall(MPI_Comm c, int p, int me, long n)
{
    int *s = malloc(sizeof(int) * (size_t)(n * p + 1));
    int *r = malloc(sizeof(int) * (size_t)(n * p + 1));
    for (long i = 0; i < n * p; i++)
        s[i] = bval(me, (int)(i / n), i % n);
    MPI_Alltoall(s, (int)n, MPI_INT, r, (int)n, MPI_INT, c);
    for (long i = 0; i < n * p; i++)
        if (r[i] != bval((int)(i / n), me, i % n)) {
            CHECK(0, "alltoall n=%ld elem %ld = %d", n, i, r[i]);
            break;
        }
    memcpy(r, s, sizeof(int) * (size_t)(n * p));
    MPI_Alltoall(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, r, (int)n, MPI_INT, c);
    for (long i = 0; i < n * p; i++)
        if (r[i] != bval((int)(i / n), me, i % n)) {
            CHECK(0, "alltoall in place n=%ld elem %ld", n, i);
            break;
        }
    free(s);
    free(r);
}

/* ---- v variants and reduce_scatter ----------------------------------- */
static int vc(int a, int b, long n)
{
    return (int)((a * 3 + b * 5) % 4 * n / 3); /* includes 0 */
}

static void t_v(MPI_Comm c, int p, int me, long n)
{
    int *cnt = calloc((size_t)p, sizeof(int)), *dsp = calloc((size_t)p, 4);
    int *rc = calloc((size_t)p, 4), *rd = calloc((size_t)p, 4);
    int *sc = calloc((size_t)p, 4), *sd = calloc((size_t)p, 4);
    long tot = 0;
    /* gaps of 2 between blocks, reversed order */
    for (int q = p - 1; q >= 0; q--) {
        cnt[q] = vc(q, 0, n);
        dsp[q] = (int)tot + 2;
        tot += cnt[q] + 2;
    }
    int *big = malloc(sizeof(int) * (size_t)(tot + 2));
    int *mine = malloc(sizeof(int) * (size_t)(cnt[me] + 1));
    for (int root = 0; root < p; root++) {
        if (!is_root(root, p))
            continue;
        /* gatherv */
        for (long i = 0; i < cnt[me]; i++)
            mine[i] = bval(me, 0, i);
        for (long i = 0; i < tot + 2; i++)
            big[i] = -5;
        MPI_Gatherv(mine, cnt[me], MPI_INT, big, cnt, dsp, MPI_INT, root, c);
        if (me == root)
            for (int q = 0; q < p; q++) {
                for (long i = 0; i < cnt[q]; i++)
                    if (big[dsp[q] + i] != bval(q, 0, i)) {
                        CHECK(0, "gatherv n=%ld root=%d block %d", n, root, q);
                        break;
                    }
                CHECK(big[dsp[q] - 1] == -5, "gatherv wrote into a gap");
            }
        /* scatterv */
        for (int q = 0; q < p; q++)
            for (long i = 0; i < cnt[q]; i++)
                big[dsp[q] + i] = bval(root, q, i);
        for (long i = 0; i < cnt[me]; i++)
            mine[i] = -1;
        MPI_Scatterv(big, cnt, dsp, MPI_INT, mine, cnt[me], MPI_INT, root, c);
        for (long i = 0; i < cnt[me]; i++)
            if (mine[i] != bval(root, me, i)) {
                CHECK(0, "scatterv n=%ld root=%d elem %ld", n, root, i);
                break;
            }
    }
    /* allgatherv (and in place) */
    for (long i = 0; i < cnt[me]; i++)
        mine[i] = bval(me, 0, i);
    for (int pass = 0; pass < 2; pass++) {
        for (long i = 0; i < tot + 2; i++)
            big[i] = -5;
        if (pass)
            for (long i = 0; i < cnt[me]; i++)
                big[dsp[me] + i] = bval(me, 0, i);
        MPI_Allgatherv(pass ? MPI_IN_PLACE : mine, cnt[me], MPI_INT, big, cnt,
                       dsp, MPI_INT, c);
        for (int q = 0; q < p; q++)
            for (long i = 0; i < cnt[q]; i++)
                if (big[dsp[q] + i] != bval(q, 0, i)) {
                    CHECK(0, "allgatherv%s n=%ld block %d",
                          pass ? " in place" : "", n, q);
                    break;
                }
    }
    /* alltoallv: I send vc(me, q) to q */
    long st = 0, rt = 0;
    for (int q = 0; q < p; q++) {
        sc[q] = vc(me, q, n);
        sd[q] = (int)st;
        st += sc[q];
        rc[q] = vc(q, me, n);
        rd[q] = (int)rt + 1;
        rt += rc[q] + 1;
    }
    int *sb = malloc(sizeof(int) * (size_t)(st + 1));
    int *rb = malloc(sizeof(int) * (size_t)(rt + 1));
    for (int q = 0; q < p; q++)
        for (long i = 0; i < sc[q]; i++)
            sb[sd[q] + i] = bval(me, q, i);
    MPI_Alltoallv(sb, sc, sd, MPI_INT, rb, rc, rd, MPI_INT, c);
    for (int q = 0; q < p; q++)
        for (long i = 0; i < rc[q]; i++)
            if (rb[rd[q] + i] != bval(q, me, i)) {
                CHECK(0, "alltoallv n=%ld from %d elem %ld", n, q, i);
                break;
            }
    free(sb);
    free(rb);
    free(big);
    free(mine);
    free(cnt);
    free(dsp);
    free(rc);
    free(rd);
    free(sc);
    free(sd);
}

static void t_rs(MPI_Comm c, int p, int me, long n)
{
    int *cnt = calloc((size_t)p, sizeof(int));
    long tot = 0, off = 0;
    for (int q = 0; q < p; q++) {
        cnt[q] = vc(q, 1, n);
        if (q < me)
            off += cnt[q];
        tot += cnt[q];
    }
    int *s = malloc(sizeof(int) * (size_t)(tot + n * p + 1));
    int *r = malloc(sizeof(int) * (size_t)(tot + n * p + 1));
    for (long i = 0; i < tot; i++)
        s[i] = val(me, i);
    MPI_Reduce_scatter(s, r, cnt, MPI_INT, MPI_SUM, c);
    for (long i = 0; i < cnt[me]; i++)
        if (r[i] != (int)sum_ref(0, p - 1, off + i)) {
            CHECK(0, "reduce_scatter n=%ld elem %ld", n, i);
            break;
        }
    memcpy(r, s, sizeof(int) * (size_t)tot);
    MPI_Reduce_scatter(MPI_IN_PLACE, r, cnt, MPI_INT, MPI_SUM, c);
    for (long i = 0; i < cnt[me]; i++)
        if (r[i] != (int)sum_ref(0, p - 1, off + i)) {
            CHECK(0, "reduce_scatter in place n=%ld elem %ld", n, i);
            break;
        }
    for (long i = 0; i < n * p; i++)
        s[i] = val(me, i);
    MPI_Reduce_scatter_block(s, r, (int)n, MPI_INT, MPI_SUM, c);
    for (long i = 0; i < n; i++)
        if (r[i] != (int)sum_ref(0, p - 1, me * n + i)) {
            CHECK(0, "reduce_scatter_block n=%ld elem %ld", n, i);
            break;
        }
    /* non-commutative */
    ival_t *is = malloc(sizeof(ival_t) * (size_t)(tot + 1));
    ival_t *ir = malloc(sizeof(ival_t) * (size_t)(tot + 1));
    for (long i = 0; i < tot; i++)
        is[i] = (ival_t){me, me, (int)i};
    MPI_Reduce_scatter(is, ir, cnt, ival_type, ival_op, c);
    for (long i = 0; i < cnt[me]; i++)
        if (ir[i].lo != 0 || ir[i].hi != p - 1 || ir[i].idx != (int)(off + i)) {
            CHECK(0, "reduce_scatter non-commutative n=%ld elem %ld", n, i);
            break;
        }
    free(is);
    free(ir);
    free(s);
    free(r);
    free(cnt);
}

/* ---- barrier and nonblocking ----------------------------------------- */
static void t_barrier(MPI_Comm c, int p, int me)
{
    /* A rank that leaves the barrier early would see the flag unset. */
    int token = 0, flag = 0;
    for (int k = 0; k < 3; k++)
        MPI_Barrier(c);
    if (me == 0) {
        token = 1;
        for (int q = 1; q < p; q++)
            MPI_Send(&token, 1, MPI_INT, q, 99, c);
    }
    MPI_Barrier(c);
    if (me != 0) {
        MPI_Iprobe(0, 99, c, &flag, MPI_STATUS_IGNORE);
        /* the message may still be in flight: just drain it */
        MPI_Recv(&token, 1, MPI_INT, 0, 99, c, MPI_STATUS_IGNORE);
        CHECK(token == 1, "barrier token");
    }
}

static void t_nb(MPI_Comm c, int p, int me, long n)
{
    /* Several nonblocking collectives in flight at once, completed in
     * reverse order: their tags must keep them apart. */
    int *b = malloc(sizeof(int) * (size_t)(n + 1));
    int *s = malloc(sizeof(int) * (size_t)(n + 1));
    int *r = malloc(sizeof(int) * (size_t)(n + 1));
    int *g = malloc(sizeof(int) * (size_t)(n * p + 1));
    int *a2 = malloc(sizeof(int) * (size_t)(n * p + 1));
    int *a2r = malloc(sizeof(int) * (size_t)(n * p + 1));
    int *sc = malloc(sizeof(int) * (size_t)(n + 1));
    int *rr = malloc(sizeof(int) * (size_t)(n + 1));
    int *gg = malloc(sizeof(int) * (size_t)(n * p + 1));
    int *ss = malloc(sizeof(int) * (size_t)(n * p + 1));
    for (long i = 0; i < n * p; i++)
        ss[i] = bval(0, (int)(i / n), i % n);
    MPI_Request q[8];
    int root = p - 1;
    for (long i = 0; i < n; i++) {
        b[i] = me == root ? val(root, i) : 0;
        s[i] = val(me, i);
    }
    for (long i = 0; i < n * p; i++)
        a2[i] = bval(me, (int)(i / n), i % n);
    MPI_Ibarrier(c, &q[0]);
    MPI_Ibcast(b, (int)n, MPI_INT, root, c, &q[1]);
    MPI_Iallreduce(s, r, (int)n, MPI_INT, MPI_SUM, c, &q[2]);
    MPI_Iallgather(s, (int)n, MPI_INT, g, (int)n, MPI_INT, c, &q[3]);
    MPI_Ialltoall(a2, (int)n, MPI_INT, a2r, (int)n, MPI_INT, c, &q[4]);
    MPI_Ireduce(s, rr, (int)n, MPI_INT, MPI_SUM, 0, c, &q[5]);
    MPI_Igather(s, (int)n, MPI_INT, gg, (int)n, MPI_INT, 0, c, &q[6]);
    MPI_Iscatter(ss, (int)n, MPI_INT, sc, (int)n, MPI_INT, 0, c, &q[7]);
    for (int k = 7; k >= 0; k--)
        MPI_Wait(&q[k], MPI_STATUS_IGNORE);
    for (long i = 0; i < n; i++)
        if (b[i] != val(root, i)) {
            CHECK(0, "ibcast n=%ld elem %ld", n, i);
            break;
        }
    check_sum(r, n, 0, p - 1, "iallreduce", -1);
    if (me == 0)
        check_sum(rr, n, 0, p - 1, "ireduce", 0);
    for (long i = 0; i < n * p; i++)
        if (g[i] != val((int)(i / n), i % n)) {
            CHECK(0, "iallgather n=%ld elem %ld", n, i);
            break;
        }
    for (long i = 0; i < n * p; i++)
        if (a2r[i] != bval((int)(i / n), me, i % n)) {
            CHECK(0, "ialltoall n=%ld elem %ld", n, i);
            break;
        }
    if (me == 0)
        for (long i = 0; i < n * p; i++)
            if (gg[i] != val((int)(i / n), i % n)) {
                CHECK(0, "igather n=%ld elem %ld", n, i);
                break;
            }
    for (long i = 0; i < n; i++)
        if (sc[i] != bval(0, me, i)) {
            CHECK(0, "iscatter n=%ld elem %ld", n, i);
            break;
        }
    free(b);
    free(s);
    free(r);
    free(g);
    free(a2);
    free(a2r);
    free(sc);
    free(rr);
    free(gg);
    free(ss);
}

static void run_all(MPI_Comm c, const long *counts, int ncounts)
{
    int p, me;
    MPI_Comm_size(c, &p);
    MPI_Comm_rank(c, &me);
    if (want("barrier"))
        t_barrier(c, p, me);
    for (int k = 0; k < ncounts; k++) {
        long n = counts[k];
        if (want("bcast"))
            t_bcast(c, p, me, n);
        if (want("reduce"))
            t_reduce(c, p, me, n);
        if (want("allreduce"))
            t_allreduce(c, p, me, n);
        if (want("scan"))
            t_scan(c, p, me, n);
        if (want("gather"))
            t_gather(c, p, me, n);
        if (want("scatter"))
            t_scatter(c, p, me, n);
        if (want("allgather"))
            t_allgather(c, p, me, n);
        if (want("alltoall"))
            t_alltoall(c, p, me, n);
        if (want("v"))
            t_v(c, p, me, n);
        if (want("rs"))
            t_rs(c, p, me, n);
        if (want("nb"))
            t_nb(c, p, me, n);
    }
}

int main(int argc, char **argv)
{
    long counts[16] = {0, 1, 3, 1000};
    int ncounts = 4;
    long big = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            ncounts = 0;
            for (char *t = strtok(argv[++i], ","); t && ncounts < 16;
                 t = strtok(NULL, ","))
                counts[ncounts++] = atol(t);
        } else if (!strcmp(argv[i], "-b") && i + 1 < argc) {
            big = atol(argv[++i]);
        } else if (!strcmp(argv[i], "-k") && i + 1 < argc) {
            snprintf(kinds, sizeof(kinds), "%s", argv[++i]);
        } else if (!strcmp(argv[i], "-q")) {
            quick_roots = 1;
        }
    }
    MPI_Type_contiguous(3, MPI_INT, &ival_type);
    MPI_Type_commit(&ival_type);
    MPI_Op_create(ival_fn, 0, &ival_op);

    run_all(MPI_COMM_WORLD, counts, ncounts);

    /* Sub-communicators: halves with reversed rank order, and a dup. */
    int wsize;
    MPI_Comm_size(MPI_COMM_WORLD, &wsize);
    MPI_Comm half, dup;
    MPI_Comm_split(MPI_COMM_WORLD, wrank % 2, wsize - wrank, &half);
    cname = "split";
    run_all(half, counts, ncounts);
    MPI_Comm_dup(half, &dup);
    cname = "split+dup";
    run_all(dup, counts, ncounts > 3 ? 3 : ncounts);
    MPI_Comm_free(&dup);
    MPI_Comm_free(&half);

    if (big) {
        cname = "world (big)";
        quick_roots = 1;
        char saved[256];
        snprintf(saved, sizeof(saved), "%s", kinds);
        int p;
        MPI_Comm_size(MPI_COMM_WORLD, &p);
        if (want("bcast"))
            t_bcast(MPI_COMM_WORLD, p, wrank, big);
        if (want("reduce"))
            t_reduce(MPI_COMM_WORLD, p, wrank, big);
        if (want("allreduce"))
            t_allreduce(MPI_COMM_WORLD, p, wrank, big);
        if (want("allgather"))
            t_allgather(MPI_COMM_WORLD, p, wrank, big / p);
    }

    MPI_Op_free(&ival_op);
    MPI_Type_free(&ival_type);
    int total = 0;
    MPI_Allreduce(&errors, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (wrank == 0)
        printf("coll_check: %s (%d errors)\n", total ? "FAILED" : "ok", total);
    MPI_Finalize();
    return total ? 1 : 0;
}
