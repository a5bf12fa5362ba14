/*
 * dt_check.c — derived datatypes in point-to-point and collectives, and
 * argument validation of the collectives.
 *
 *  - vector (matrix column), indexed (triangle), struct with padding,
 *    resized (column type with extent of one element, so consecutive
 *    columns interleave), hvector of a struct: sent with MPI_Send/Recv
 *    into a different layout and compared element by element;
 *  - MPI_Bcast / MPI_Gather / MPI_Allreduce / MPI_Alltoall on those types;
 *  - errors under MPI_ERRORS_RETURN: root out of range (MPI_ERR_ROOT),
 *    negative count (MPI_ERR_COUNT), MPI_DATATYPE_NULL (MPI_ERR_TYPE),
 *    MPI_SUM on MPI_2INT (MPI_ERR_OP), MPI_OP_NULL (MPI_ERR_OP).
 */
#include <mpi.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size, errors;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond) && errors++ < 20) {                                        \
            fprintf(stderr, "FAIL rank %d: ", rank);                           \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
        }                                                                      \
    } while (0)

#define N 8 /* matrix N x N of doubles */

struct rec {
    char c;
    double d;
    int i[3];
};

static void test_p2p(void)
{
    if (size < 2)
        return;
    double m[N][N];
    MPI_Datatype col, tri, srec, recvec;
    MPI_Type_vector(N, 1, N, MPI_DOUBLE, &col);
    MPI_Type_commit(&col);
    int bl[N], dp[N];
    for (int i = 0; i < N; i++) {
        bl[i] = N - i;
        dp[i] = i * N + i;
    }
    MPI_Type_indexed(N, bl, dp, MPI_DOUBLE, &tri);
    MPI_Type_commit(&tri);
    int sbl[3] = {1, 1, 3};
    MPI_Aint sdp[3] = {offsetof(struct rec, c), offsetof(struct rec, d),
                       offsetof(struct rec, i)};
    MPI_Datatype st[3] = {MPI_CHAR, MPI_DOUBLE, MPI_INT};
    MPI_Type_create_struct(3, sbl, sdp, st, &srec);
    MPI_Type_commit(&srec);
    MPI_Type_create_hvector(2, 1, 2 * (MPI_Aint)sizeof(struct rec), srec,
                            &recvec);
    MPI_Type_commit(&recvec);

    if (rank == 0) {
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                m[i][j] = i * 100 + j;
        MPI_Send(&m[0][3], 1, col, 1, 1, MPI_COMM_WORLD);
        MPI_Send(m, 1, tri, 1, 2, MPI_COMM_WORLD);
        struct rec r[4];
        memset(r, 0, sizeof(r));
        for (int k = 0; k < 4; k++) {
            r[k].c = (char)('a' + k);
            r[k].d = k + 0.5;
            r[k].i[0] = k;
            r[k].i[1] = 2 * k;
            r[k].i[2] = 3 * k;
        }
        MPI_Send(r, 1, recvec, 1, 3, MPI_COMM_WORLD);
    } else if (rank == 1) {
        double c[N];
        MPI_Status s;
        MPI_Recv(c, N, MPI_DOUBLE, 0, 1, MPI_COMM_WORLD, &s);
        int cnt;
        MPI_Get_count(&s, MPI_DOUBLE, &cnt);
        CHECK(cnt == N, "column count %d", cnt);
        for (int i = 0; i < N; i++)
            CHECK(c[i] == i * 100 + 3, "column elem %d = %g", i, c[i]);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                m[i][j] = -1;
        MPI_Recv(m, 1, tri, 0, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                CHECK(m[i][j] == (j >= i ? i * 100 + j : -1),
                      "triangle (%d,%d) = %g", i, j, m[i][j]);
        struct rec r[2];
        memset(r, 0, sizeof(r));
        MPI_Recv(r, 2, srec, 0, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        for (int k = 0; k < 2; k++) {
            int src = 2 * k; /* every other record was sent */
            CHECK(r[k].c == 'a' + src && r[k].d == src + 0.5 &&
                      r[k].i[2] == 3 * src,
                  "struct record %d", k);
        }
    }
    MPI_Type_free(&col);
    MPI_Type_free(&tri);
    MPI_Type_free(&srec);
    MPI_Type_free(&recvec);
}

static void test_coll(void)
{
    /* bcast of a column */
    double m[N][N];
    MPI_Datatype col, col1;
    MPI_Type_vector(N, 1, N, MPI_DOUBLE, &col);
    MPI_Type_commit(&col);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            m[i][j] = rank == size - 1 ? i * 10 + j : -1;
    MPI_Bcast(&m[0][2], 1, col, size - 1, MPI_COMM_WORLD);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double w = (j == 2 || rank == size - 1) ? i * 10 + j : -1;
            CHECK(m[i][j] == w, "bcast column (%d,%d) = %g", i, j, m[i][j]);
        }

    /* gather rows into columns: resized column type, extent one double */
    MPI_Type_create_resized(col, 0, sizeof(double), &col1);
    MPI_Type_commit(&col1);
    double row[N], *all = calloc((size_t)size * N * N, sizeof(double));
    for (int j = 0; j < N; j++)
        row[j] = rank * 1000 + j;
    /* rank q's row lands in column q of an N x size matrix... use N x N
     * blocks: gather into a (N x size) matrix stored row-major with
     * stride size: build the column type for that stride. */
    MPI_Datatype gcol, gcol1;
    MPI_Type_vector(N, 1, size, MPI_DOUBLE, &gcol);
    MPI_Type_create_resized(gcol, 0, sizeof(double), &gcol1);
    MPI_Type_commit(&gcol1);
    MPI_Gather(row, N, MPI_DOUBLE, all, 1, gcol1, 0, MPI_COMM_WORLD);
    if (rank == 0)
        for (int i = 0; i < N; i++)
            for (int q = 0; q < size; q++)
                CHECK(all[i * size + q] == q * 1000 + i,
                      "gather into columns (%d,%d) = %g", i, q,
                      all[i * size + q]);
    /* and back: scatter columns into rows */
    double back[N];
    MPI_Scatter(all, 1, gcol1, back, N, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    for (int j = 0; j < N; j++)
        CHECK(back[j] == rank * 1000 + j, "scatter columns elem %d", j);

        /* allreduce on a vector of ints (a predefined op on a derived type
         * made of one basic type: MPICH and rdmx accept it, Open MPI does
         * not) */
#ifndef OPEN_MPI
    int v[12], r[12];
    MPI_Datatype every3;
    MPI_Type_vector(4, 1, 3, MPI_INT, &every3);
    MPI_Type_commit(&every3);
    for (int i = 0; i < 12; i++) {
        v[i] = rank + i;
        r[i] = -9;
    }
    MPI_Allreduce(v, r, 1, every3, MPI_SUM, MPI_COMM_WORLD);
    for (int i = 0; i < 12; i++) {
        int w = i % 3 == 0 ? size * (size - 1) / 2 + size * i : -9;
        CHECK(r[i] == w, "allreduce vector elem %d = %d want %d", i, r[i], w);
    }
    MPI_Type_free(&every3);
#endif
    /* MINLOC on double_int (padded pair) */
    struct {
        double v;
        int i;
    } pin = {(double)((rank * 7) % 5), rank}, pout;
    MPI_Allreduce(&pin, &pout, 1, MPI_DOUBLE_INT, MPI_MINLOC, MPI_COMM_WORLD);
    double mv = 1e9;
    int mi = -1;
    for (int q = 0; q < size; q++)
        if ((q * 7) % 5 < mv) {
            mv = (q * 7) % 5;
            mi = q;
        }
    CHECK(pout.v == mv && pout.i == mi, "minloc (%g,%d)", pout.v, pout.i);

    /* alltoall with a struct type */
    struct rec *sr = calloc((size_t)size, sizeof(*sr));
    struct rec *rr = calloc((size_t)size, sizeof(*rr));
    int sbl[3] = {1, 1, 3};
    MPI_Aint sdp[3] = {offsetof(struct rec, c), offsetof(struct rec, d),
                       offsetof(struct rec, i)};
    MPI_Datatype st[3] = {MPI_CHAR, MPI_DOUBLE, MPI_INT}, srec;
    MPI_Type_create_struct(3, sbl, sdp, st, &srec);
    MPI_Type_commit(&srec);
    for (int q = 0; q < size; q++) {
        sr[q].c = (char)('A' + q);
        sr[q].d = rank + q * 0.25;
        sr[q].i[1] = rank * 100 + q;
    }
    MPI_Alltoall(sr, 1, srec, rr, 1, srec, MPI_COMM_WORLD);
    for (int q = 0; q < size; q++)
        CHECK(rr[q].c == 'A' + rank && rr[q].d == q + rank * 0.25 &&
                  rr[q].i[1] == q * 100 + rank,
              "alltoall struct from %d", q);
    free(sr);
    free(rr);
    free(all);
    MPI_Type_free(&srec);
    MPI_Type_free(&gcol);
    MPI_Type_free(&gcol1);
    MPI_Type_free(&col);
    MPI_Type_free(&col1);
}

static void test_errors(void)
{
    MPI_Comm c;
    MPI_Comm_dup(MPI_COMM_WORLD, &c);
    MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN);
    int x[4] = {0}, y[4] = {0}, cls;
    int rc = MPI_Bcast(x, 1, MPI_INT, size + 3, c);
    MPI_Error_class(rc, &cls);
    CHECK(cls == MPI_ERR_ROOT, "bcast bad root gave %d", rc);
#ifndef OPEN_MPI
    /* the message names the call, the rank and the bad value */
    char msg[MPI_MAX_ERROR_STRING];
    int len;
    MPI_Error_string(rc, msg, &len);
    char want[64];
    snprintf(want, sizeof(want), "root %d out of range [0,%d)", size + 3, size);
    CHECK(strstr(msg, "MPI_Bcast") && strstr(msg, want),
          "error string '%s' lacks '%s'", msg, want);
#endif
    rc = MPI_Reduce(x, y, -1, MPI_INT, MPI_SUM, 0, c);
    MPI_Error_class(rc, &cls);
    CHECK(cls == MPI_ERR_COUNT, "reduce negative count gave %d", rc);
    rc = MPI_Allreduce(x, y, 1, MPI_DATATYPE_NULL, MPI_SUM, c);
    MPI_Error_class(rc, &cls);
#ifdef OPEN_MPI /* Open MPI checks the op against the type first */
    if (cls == MPI_ERR_OP)
        cls = MPI_ERR_TYPE;
#endif
    CHECK(cls == MPI_ERR_TYPE, "allreduce null type gave %d", rc);
    rc = MPI_Allreduce(x, y, 1, MPI_2INT, MPI_SUM, c);
    MPI_Error_class(rc, &cls);
    CHECK(cls == MPI_ERR_OP, "allreduce SUM on 2INT gave %d", rc);
    rc = MPI_Allreduce(x, y, 1, MPI_INT, MPI_OP_NULL, c);
    MPI_Error_class(rc, &cls);
    CHECK(cls == MPI_ERR_OP, "allreduce OP_NULL gave %d", rc);
    rc = MPI_Gather(x, 1, MPI_INT, y, 1, MPI_INT, -1, c);
    MPI_Error_class(rc, &cls);
    CHECK(cls == MPI_ERR_ROOT, "gather root -1 gave %d", rc);
    /* the communicator still works after the errors */
    x[0] = 1;
    MPI_Allreduce(x, y, 1, MPI_INT, MPI_SUM, c);
    CHECK(y[0] == size, "allreduce after errors = %d", y[0]);
    MPI_Comm_free(&c);
}

/* Decimal concatenation: associative, not commutative. */
static void rev_sum(void *in, void *io, int *len, MPI_Datatype *dt)
{
    int *a = in, *b = io;
    for (int i = 0; i < *len; i++) {
        int shift = 1;
        for (int v = b[i]; v > 0; v /= 10)
            shift *= 10;
        b[i] = a[i] * shift + b[i];
    }
}

/* User ops through MPI_Reduce_local, and a nonblocking collective
 * completed by polling MPI_Test. */
static void test_ops(void)
{
    MPI_Op op;
    int commute = -1;
    MPI_Op_create(rev_sum, 0, &op);
    MPI_Op_commutative(op, &commute);
    CHECK(commute == 0, "MPI_Op_commutative = %d", commute);
    int a[2] = {1, 2}, b[2] = {3, 4};
    MPI_Reduce_local(a, b, 2, MPI_INT, op);
    CHECK(b[0] == 13 && b[1] == 24, "reduce_local user op %d %d", b[0], b[1]);
    MPI_Reduce_local(a, b, 2, MPI_INT, MPI_MAX);
    CHECK(b[0] == 13 && b[1] == 24, "reduce_local max %d %d", b[0], b[1]);
    /* digits in rank order: rank r contributes digit r % 9 + 1 */
    int mine = rank % 9 + 1, res = -1;
    MPI_Request q;
    MPI_Iallreduce(&mine, &res, 1, MPI_INT, op, MPI_COMM_WORLD, &q);
    int flag = 0;
    while (!flag)
        MPI_Test(&q, &flag, MPI_STATUS_IGNORE);
    int want = 0;
    for (int r = 0; r < size; r++)
        want = want * 10 + r % 9 + 1;
    CHECK(size > 9 || res == want, "iallreduce user op %d want %d", res, want);
    MPI_Op_free(&op);
    CHECK(op == MPI_OP_NULL, "MPI_Op_free did not reset the handle");
}

/* Communicator and group management built on the collectives. */
static void test_comms(void)
{
    /* split with MPI_UNDEFINED for rank 0 */
    MPI_Comm c;
    MPI_Comm_split(MPI_COMM_WORLD, rank == 0 ? MPI_UNDEFINED : 1, rank, &c);
    if (rank == 0) {
        CHECK(c == MPI_COMM_NULL, "split with MPI_UNDEFINED gave a comm");
    } else {
        int r, s, x = 1, y = 0;
        MPI_Comm_rank(c, &r);
        MPI_Comm_size(c, &s);
        CHECK(r == rank - 1 && s == size - 1, "split rank %d size %d", r, s);
        MPI_Allreduce(&x, &y, 1, MPI_INT, MPI_SUM, c);
        CHECK(y == size - 1, "allreduce on split = %d", y);
        MPI_Comm_free(&c);
    }
    /* groups: the odd world ranks, reversed, via incl; create a comm */
    MPI_Group wg, og, eg;
    MPI_Comm_group(MPI_COMM_WORLD, &wg);
    int n = size / 2, *ranks = malloc(sizeof(int) * (size_t)(n + 1));
    for (int i = 0; i < n; i++)
        ranks[i] = size - 1 - (size % 2) - 2 * i; /* odd ranks, descending */
    MPI_Group_incl(wg, n, ranks, &og);
    int gs, gr;
    MPI_Group_size(og, &gs);
    MPI_Group_rank(og, &gr);
    CHECK(gs == n, "group size %d want %d", gs, n);
    CHECK(rank % 2 ? gr == (size - 1 - (size % 2) - rank) / 2
                   : gr == MPI_UNDEFINED,
          "group rank %d", gr);
    int back[64], in0[64];
    for (int i = 0; i < n && i < 64; i++)
        in0[i] = i;
    MPI_Group_translate_ranks(og, n < 64 ? n : 64, in0, wg, back);
    for (int i = 0; i < n && i < 64; i++)
        CHECK(back[i] == ranks[i], "translate %d -> %d", i, back[i]);
    MPI_Comm oc;
    MPI_Comm_create(MPI_COMM_WORLD, og, &oc);
    if (rank % 2) {
        int r, tok = 0;
        MPI_Comm_rank(oc, &r);
        CHECK(r == gr, "created comm rank %d want %d", r, gr);
        /* rank 0 of the new comm is the highest odd world rank */
        if (r == 0)
            tok = rank;
        MPI_Bcast(&tok, 1, MPI_INT, 0, oc);
        CHECK(tok == ranks[0], "bcast on created comm %d", tok);
        MPI_Comm_free(&oc);
    } else {
        CHECK(oc == MPI_COMM_NULL, "non-member got a communicator");
    }
    int res;
    MPI_Group_excl(wg, n, ranks, &eg);
    MPI_Group_size(eg, &gs);
    CHECK(gs == size - n, "excl size %d", gs);
    MPI_Group_compare(wg, wg, &res);
    CHECK(res == MPI_IDENT, "group compare ident %d", res);
    MPI_Comm d;
    MPI_Comm_dup(MPI_COMM_WORLD, &d);
    MPI_Comm_compare(MPI_COMM_WORLD, d, &res);
    CHECK(res == MPI_CONGRUENT, "dup compare %d", res);
    MPI_Comm_compare(d, d, &res);
    CHECK(res == MPI_IDENT, "self compare %d", res);
    /* many dups: context ids must stay distinct */
    MPI_Comm many[20];
    for (int i = 0; i < 20; i++)
        MPI_Comm_dup(i ? many[i - 1] : d, &many[i]);
    int tok = rank, sum = 0;
    for (int i = 0; i < 20; i++) {
        MPI_Allreduce(&tok, &sum, 1, MPI_INT, MPI_SUM, many[19 - i]);
        CHECK(sum == size * (size - 1) / 2, "allreduce on dup %d", i);
    }
    for (int i = 0; i < 20; i++)
        MPI_Comm_free(&many[i]);
    /* freeing a communicator with a nonblocking collective pending is
     * legal: the operation still completes (Open MPI 4's libnbc crashes
     * here, so the check is rdmx-only) */
#ifndef OPEN_MPI
    MPI_Comm tmp;
    MPI_Request q;
    int one = 1, got = 0;
    MPI_Comm_dup(MPI_COMM_WORLD, &tmp);
    MPI_Iallreduce(&one, &got, 1, MPI_INT, MPI_SUM, tmp, &q);
    MPI_Comm_free(&tmp);
    MPI_Wait(&q, MPI_STATUS_IGNORE);
    CHECK(got == size, "iallreduce on a freed comm = %d", got);
#endif
    MPI_Comm_free(&d);
    MPI_Group_free(&og);
    MPI_Group_free(&eg);
    MPI_Group_free(&wg);
    free(ranks);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    test_p2p();
    test_coll();
    test_errors();
    test_comms();
    test_ops();
    int total;
    MPI_Allreduce(&errors, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("dt_check: %s (%d errors)\n", total ? "FAILED" : "ok", total);
    MPI_Finalize();
    return total ? 1 : 0;
}
