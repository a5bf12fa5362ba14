/*
 * coll_op_test.c — reduction operations: every predefined op on the types
 * MPI defines it for, rejection of the others (MPI_ERR_OP), MINLOC/MAXLOC
 * tie-breaking on padded and packed pairs, and user ops on a
 * non-contiguous type through the packed path.
 */
#include <complex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collectives/coll.h"

static void test_int_ops(void **state)
{
    int a[5] = {1, -2, 3, 0, 7}, b[5] = {4, 5, -6, 0, 7};
    int t[5];
    struct {
        rdmx_op_t *op;
        int want[5];
    } cases[] = {
        {&rdmx_op_sum, {5, 3, -3, 0, 14}},
        {&rdmx_op_prod, {4, -10, -18, 0, 49}},
        {&rdmx_op_max, {4, 5, 3, 0, 7}},
        {&rdmx_op_min, {1, -2, -6, 0, 7}},
        {&rdmx_op_land, {1, 1, 1, 0, 1}},
        {&rdmx_op_lor, {1, 1, 1, 0, 1}},
        {&rdmx_op_lxor, {0, 0, 0, 0, 0}},
        {&rdmx_op_band, {1 & 4, -2 & 5, 3 & -6, 0, 7}},
        {&rdmx_op_bor, {1 | 4, -2 | 5, 3 | -6, 0, 7}},
        {&rdmx_op_bxor, {1 ^ 4, -2 ^ 5, 3 ^ -6, 0, 0}},
        {&rdmx_op_replace, {1, -2, 3, 0, 7}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        memcpy(t, b, sizeof(t));
        assert_int_equal(rdmx_op_check(cases[c].op, &rdmx_dt_int), RDMX_OK);
        assert_int_equal(rdmx_op_apply(cases[c].op, a, t, 5, &rdmx_dt_int),
                         RDMX_OK);
        assert_memory_equal(t, cases[c].want, sizeof(t));
    }
}

static void test_unsigned_and_wide(void **state)
{
    uint8_t a[3] = {200, 1, 255}, b[3] = {100, 2, 1};
    assert_int_equal(rdmx_op_apply(&rdmx_op_max, a, b, 3, &rdmx_dt_uint8),
                     RDMX_OK);
    assert_int_equal(b[0], 200);
    assert_int_equal(b[2], 255);
    int8_t c[2] = {-100, 5}, d[2] = {3, -7};
    rdmx_op_apply(&rdmx_op_max, c, d, 2, &rdmx_dt_int8);
    assert_int_equal(d[0], 3);
    assert_int_equal(d[1], 5);
    long long e[2] = {1LL << 40, -5}, f[2] = {1, 5};
    rdmx_op_apply(&rdmx_op_sum, e, f, 2, &rdmx_dt_long_long);
    assert_true(f[0] == (1LL << 40) + 1 && f[1] == 0);
    double x[3] = {1.5, -2, 1e300}, y[3] = {2, 3, 1e300};
    rdmx_op_apply(&rdmx_op_prod, x, y, 3, &rdmx_dt_double);
    assert_true(y[0] == 3.0 && y[1] == -6.0);
    long double lx = 2, ly = 3;
    rdmx_op_apply(&rdmx_op_sum, &lx, &ly, 1, &rdmx_dt_long_double);
    assert_true(ly == 5);
    double _Complex cx = 1 + 2 * I, cy = 3 - 1 * I;
    rdmx_op_apply(&rdmx_op_prod, &cx, &cy, 1, &rdmx_dt_c_double_complex);
    assert_true(creal(cy) == 5 && cimag(cy) == 5);
    bool bx[2] = {true, false}, by[2] = {true, true};
    rdmx_op_apply(&rdmx_op_lxor, bx, by, 2, &rdmx_dt_c_bool);
    assert_true(!by[0] && by[1]);
    unsigned char bytes[2] = {0xf0, 0x0f}, bytes2[2] = {0xff, 0xff};
    rdmx_op_apply(&rdmx_op_band, bytes, bytes2, 2, &rdmx_dt_byte);
    assert_int_equal(bytes2[0], 0xf0);
}

static void test_type_mismatch(void **state)
{
    assert_int_equal(rdmx_op_check(&rdmx_op_sum, &rdmx_dt_2int), RDMX_ERR_OP);
    assert_int_equal(rdmx_op_check(&rdmx_op_band, &rdmx_dt_double),
                     RDMX_ERR_OP);
    assert_int_equal(rdmx_op_check(&rdmx_op_max, &rdmx_dt_c_double_complex),
                     RDMX_ERR_OP);
    assert_int_equal(rdmx_op_check(&rdmx_op_minloc, &rdmx_dt_int), RDMX_ERR_OP);
    assert_int_equal(rdmx_op_check(&rdmx_op_lor, &rdmx_dt_float), RDMX_ERR_OP);
    assert_int_equal(rdmx_op_check(&rdmx_op_sum, &rdmx_dt_char), RDMX_ERR_OP);
    assert_int_equal(rdmx_op_check(&rdmx_op_maxloc, &rdmx_dt_double_int),
                     RDMX_OK);
    assert_int_equal(rdmx_op_check(&rdmx_op_bxor, &rdmx_dt_aint), RDMX_OK);
    assert_int_equal(rdmx_op_check(&rdmx_op_land, &rdmx_dt_c_bool), RDMX_OK);
    assert_int_equal(rdmx_op_check(NULL, &rdmx_dt_int), RDMX_ERR_OP);
}

static void test_minloc_maxloc(void **state)
{
    /* double_int has padding: native layout through rdmx_op_apply */
    struct {
        double v;
        int i;
    } a[3] = {{1.0, 5}, {2.0, 1}, {3.0, 9}},
      b[3] = {{1.0, 2}, {1.0, 0}, {4.0, 3}};
    rdmx_op_apply(&rdmx_op_minloc, a, b, 3, &rdmx_dt_double_int);
    assert_true(b[0].v == 1.0 && b[0].i == 2); /* tie: lower index */
    assert_true(b[1].v == 1.0 && b[1].i == 0);
    assert_true(b[2].v == 3.0 && b[2].i == 9);
    int pa[4] = {7, 3, 7, 1}, pb[4] = {7, 2, 6, 8};
    rdmx_op_apply(&rdmx_op_maxloc, pa, pb, 2, &rdmx_dt_2int);
    assert_true(pb[0] == 7 && pb[1] == 2 && pb[2] == 7 && pb[3] == 1);
    /* packed pairs (no padding, unaligned) */
    unsigned char ka[12], kb[12];
    double v1 = 5, v2 = 6;
    int i1 = 4, i2 = 1;
    memcpy(ka, &v1, 8);
    memcpy(ka + 8, &i1, 4);
    memcpy(kb, &v2, 8);
    memcpy(kb + 8, &i2, 4);
    rdmx_op_apply_packed(&rdmx_op_maxloc, ka, kb, 1, &rdmx_dt_double_int);
    double rv;
    int ri;
    memcpy(&rv, kb, 8);
    memcpy(&ri, kb + 8, 4);
    assert_true(rv == 6 && ri == 1);
    rdmx_op_apply_packed(&rdmx_op_minloc, ka, kb, 1, &rdmx_dt_double_int);
    memcpy(&rv, kb, 8);
    memcpy(&ri, kb + 8, 4);
    assert_true(rv == 5 && ri == 4);
}

/* A user op sees the datatype's real layout even on packed data. */
static int user_calls;
static void strided_sum(void *in, void *io, int *len, MPI_Datatype *dt)
{
    user_calls++;
    int *a = in, *b = io;
    /* type = 2 ints at stride 3 ints, extent 6 ints */
    for (int e = 0; e < *len; e++) {
        b[6 * e] += a[6 * e];
        b[6 * e + 3] += a[6 * e + 3];
    }
}

static void test_user_op_noncontiguous(void **state)
{
    rdmx_dt_block_t blk[2] = {{0, 4}, {12, 4}};
    rdmx_datatype_t *dt;
    assert_int_equal(rdmx_dt_create(&dt, blk, 2, RDMX_BASIC_INT, 2, 0, 24,
                                    MPI_COMBINER_VECTOR),
                     RDMX_OK);
    dt->committed = 1;
    rdmx_op_t op = {0, RDMX_OP_USER, 1, strided_sum, 1};
    int in[4] = {1, 2, 3, 4}, io[4] = {10, 20, 30, 40}; /* packed: 2 elems */
    assert_int_equal(rdmx_op_apply_packed(&op, in, io, 2, dt), RDMX_OK);
    assert_int_equal(user_calls, 1);
    assert_int_equal(io[0], 11);
    assert_int_equal(io[1], 22);
    assert_int_equal(io[2], 33);
    assert_int_equal(io[3], 44);
    /* predefined op on the same type through the basic element */
    assert_int_equal(rdmx_op_apply_packed(&rdmx_op_max, in, io, 2, dt),
                     RDMX_OK);
    assert_int_equal(io[3], 44);
    rdmx_dt_release(dt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_ops),
        cmocka_unit_test(test_unsigned_and_wide),
        cmocka_unit_test(test_type_mismatch),
        cmocka_unit_test(test_minloc_maxloc),
        cmocka_unit_test(test_user_op_noncontiguous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
