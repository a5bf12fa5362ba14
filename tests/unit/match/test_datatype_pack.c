/*
 * Unit tests of the pack/unpack engine (core/datatype.c): partial ranges
 * of the packed stream (as pipelined protocols use them), padded pair types
 * and the copy between layouts, including truncation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/datatype.h"

static void predefined_are_contiguous(void **state)
{
    (void)state;
    assert_true(((rdmx_datatype_t *)MPI_INT)->contiguous);
    assert_int_equal(((rdmx_datatype_t *)MPI_DOUBLE)->size, 8);
    /* double_int has padding: 12 bytes of data in a 16-byte extent. */
    rdmx_datatype_t *di = (rdmx_datatype_t *)MPI_DOUBLE_INT;
    assert_int_equal(di->size, 12);
    assert_int_equal(rdmx_dt_extent(di), 16);
    assert_false(di->contiguous);
}

static void pair_type_pack_skips_padding(void **state)
{
    (void)state;
    struct { double v; int i; } in[3] = {{1.5, 1}, {2.5, 2}, {3.5, 3}}, out[3];
    memset(out, 0xee, sizeof(out));
    unsigned char packed[36];
    rdmx_datatype_t *di = (rdmx_datatype_t *)MPI_DOUBLE_INT;
    assert_int_equal(rdmx_dt_pack(di, in, 3, 0, packed, sizeof(packed)), 36);
    /* Unpack in odd-sized pieces, as a pipelined receive would. */
    size_t off = 0;
    while (off < 36) {
        size_t n = 36 - off < 5 ? 36 - off : 5;
        assert_int_equal(rdmx_dt_unpack(di, out, 3, off, packed + off, n), n);
        off += n;
    }
    for (int k = 0; k < 3; k++) {
        assert_true(out[k].v == in[k].v);
        assert_int_equal(out[k].i, in[k].i);
    }
}

static void vector_layout_roundtrip(void **state)
{
    (void)state;
    /* A hand-made vector: 3 blocks of 2 ints, stride 4 ints. */
    rdmx_dt_block_t b[3] = {{0, 8}, {16, 8}, {32, 8}};
    rdmx_datatype_t *v;
    assert_int_equal(rdmx_dt_create(&v, b, 3, RDMX_BASIC_INT, 6, 0, 40, 3),
                     RDMX_OK);
    v->committed = 1;
    int src[20], dst[20], packed[12];
    for (int i = 0; i < 20; i++)
        src[i] = i;
    memset(dst, 0, sizeof(dst));
    assert_int_equal(rdmx_dt_pack(v, src, 2, 0, packed, sizeof(packed)), 48);
    int expect[12] = {0, 1, 4, 5, 8, 9, 10, 11, 14, 15, 18, 19};
    assert_memory_equal(packed, expect, sizeof(expect));
    assert_int_equal(rdmx_dt_copy(src, 2, v, dst, 2, v), RDMX_OK);
    for (int i = 0; i < 20; i++)
        if (i % 10 == 0 || i % 10 == 1 || i % 10 == 4 || i % 10 == 5
            || i % 10 == 8 || i % 10 == 9)
            assert_int_equal(dst[i], src[i]);
        else
            assert_int_equal(dst[i], 0);
    rdmx_dt_release(v);
}

static void copy_truncates_without_overrun(void **state)
{
    (void)state;
    char src[16], dst[16];
    memset(src, 'a', sizeof(src));
    memset(dst, 'z', sizeof(dst));
    assert_int_equal(rdmx_dt_copy(src, 16, (rdmx_datatype_t *)MPI_BYTE, dst, 8,
                                  (rdmx_datatype_t *)MPI_BYTE),
                     RDMX_ERR_TRUNCATE);
    for (int i = 0; i < 8; i++)
        assert_int_equal(dst[i], 'a');
    for (int i = 8; i < 16; i++)
        assert_int_equal(dst[i], 'z');
}

static void bytes_overflow_is_an_error(void **state)
{
    (void)state;
    size_t n;
    assert_int_equal(rdmx_dt_bytes((rdmx_datatype_t *)MPI_DOUBLE, SIZE_MAX / 4,
                                   &n),
                     RDMX_ERR_COUNT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(predefined_are_contiguous),
        cmocka_unit_test(pair_type_pack_skips_padding),
        cmocka_unit_test(vector_layout_roundtrip),
        cmocka_unit_test(copy_truncates_without_overrun),
        cmocka_unit_test(bytes_overflow_is_an_error),
    };
    return cmocka_run_group_tests_name("datatype_pack", tests, NULL, NULL);
}
