/*
 * datatype.c — predefined datatypes and the pack/unpack engine over the
 * flattened block list (see datatype.h). Derived-type constructors live in
 * datatype_derived.c.
 */
#include "datatype.h"

#include <complex.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define PREDEF(var, kind, ctype, label)                                       \
    struct rdmx_datatype rdmx_dt_##var = {                                    \
        .predefined = 1, .committed = 1, .refcount = 1, .basic = (kind),      \
        .size = sizeof(ctype), .nelements = 1, .lb = 0,                       \
        .ub = sizeof(ctype), .true_lb = 0, .true_ub = sizeof(ctype),          \
        .contiguous = 1, .nblocks = 1, .blocks = &rdmx_dt_##var.inline_block, \
        .inline_block = {0, sizeof(ctype)},                                   \
        .combiner = MPI_COMBINER_NAMED, .name = label}

PREDEF(char, RDMX_BASIC_CHAR, char, "MPI_CHAR");
PREDEF(signed_char, RDMX_BASIC_SCHAR, signed char, "MPI_SIGNED_CHAR");
PREDEF(unsigned_char, RDMX_BASIC_UCHAR, unsigned char, "MPI_UNSIGNED_CHAR");
PREDEF(byte, RDMX_BASIC_BYTE, unsigned char, "MPI_BYTE");
PREDEF(wchar, RDMX_BASIC_WCHAR, wchar_t, "MPI_WCHAR");
PREDEF(short, RDMX_BASIC_SHORT, short, "MPI_SHORT");
PREDEF(unsigned_short, RDMX_BASIC_USHORT, unsigned short, "MPI_UNSIGNED_SHORT");
PREDEF(int, RDMX_BASIC_INT, int, "MPI_INT");
PREDEF(unsigned, RDMX_BASIC_UINT, unsigned, "MPI_UNSIGNED");
PREDEF(long, RDMX_BASIC_LONG, long, "MPI_LONG");
PREDEF(unsigned_long, RDMX_BASIC_ULONG, unsigned long, "MPI_UNSIGNED_LONG");
PREDEF(long_long, RDMX_BASIC_LLONG, long long, "MPI_LONG_LONG");
PREDEF(unsigned_long_long, RDMX_BASIC_ULLONG, unsigned long long,
       "MPI_UNSIGNED_LONG_LONG");
PREDEF(float, RDMX_BASIC_FLOAT, float, "MPI_FLOAT");
PREDEF(double, RDMX_BASIC_DOUBLE, double, "MPI_DOUBLE");
PREDEF(long_double, RDMX_BASIC_LDOUBLE, long double, "MPI_LONG_DOUBLE");
PREDEF(int8, RDMX_BASIC_INT8, int8_t, "MPI_INT8_T");
PREDEF(int16, RDMX_BASIC_INT16, int16_t, "MPI_INT16_T");
PREDEF(int32, RDMX_BASIC_INT32, int32_t, "MPI_INT32_T");
PREDEF(int64, RDMX_BASIC_INT64, int64_t, "MPI_INT64_T");
PREDEF(uint8, RDMX_BASIC_UINT8, uint8_t, "MPI_UINT8_T");
PREDEF(uint16, RDMX_BASIC_UINT16, uint16_t, "MPI_UINT16_T");
PREDEF(uint32, RDMX_BASIC_UINT32, uint32_t, "MPI_UINT32_T");
PREDEF(uint64, RDMX_BASIC_UINT64, uint64_t, "MPI_UINT64_T");
PREDEF(c_bool, RDMX_BASIC_BOOL, bool, "MPI_C_BOOL");
PREDEF(c_float_complex, RDMX_BASIC_CFLOAT, float _Complex,
       "MPI_C_FLOAT_COMPLEX");
PREDEF(c_double_complex, RDMX_BASIC_CDOUBLE, double _Complex,
       "MPI_C_DOUBLE_COMPLEX");
PREDEF(c_long_double_complex, RDMX_BASIC_CLDOUBLE, long double _Complex,
       "MPI_C_LONG_DOUBLE_COMPLEX");
PREDEF(aint, RDMX_BASIC_AINT, MPI_Aint, "MPI_AINT");
PREDEF(offset, RDMX_BASIC_OFFSET, MPI_Offset, "MPI_OFFSET");
PREDEF(count, RDMX_BASIC_COUNT, MPI_Count, "MPI_COUNT");
PREDEF(packed, RDMX_BASIC_PACKED, unsigned char, "MPI_PACKED");

/* Pair types for MINLOC/MAXLOC: C structs with their natural padding, so
 * the data is not always contiguous (double_int has 4 bytes of padding). */
#define PAIR(var, kind, vtype, label)                                         \
    struct rdmx_pair_##var {                                                  \
        vtype v;                                                              \
        int i;                                                                \
    };                                                                        \
    static rdmx_dt_block_t pair_blocks_##var[2] = {                           \
        {0, sizeof(vtype)},                                                   \
        {offsetof(struct rdmx_pair_##var, i), sizeof(int)}};                  \
    struct rdmx_datatype rdmx_dt_##var = {                                    \
        .predefined = 1, .committed = 1, .refcount = 1, .basic = (kind),      \
        .size = sizeof(vtype) + sizeof(int), .nelements = 2, .lb = 0,         \
        .ub = sizeof(struct rdmx_pair_##var), .true_lb = 0,                   \
        .true_ub = offsetof(struct rdmx_pair_##var, i) + sizeof(int),         \
        .contiguous = (sizeof(vtype) + sizeof(int)                            \
                       == sizeof(struct rdmx_pair_##var))                     \
                      && offsetof(struct rdmx_pair_##var, i) == sizeof(vtype),\
        .nblocks = 2, .blocks = pair_blocks_##var,                            \
        .combiner = MPI_COMBINER_NAMED, .name = label}

PAIR(float_int, RDMX_BASIC_FLOAT_INT, float, "MPI_FLOAT_INT");
PAIR(double_int, RDMX_BASIC_DOUBLE_INT, double, "MPI_DOUBLE_INT");
PAIR(long_int, RDMX_BASIC_LONG_INT, long, "MPI_LONG_INT");
PAIR(2int, RDMX_BASIC_2INT, int, "MPI_2INT");
PAIR(short_int, RDMX_BASIC_SHORT_INT, short, "MPI_SHORT_INT");
PAIR(long_double_int, RDMX_BASIC_LDOUBLE_INT, long double,
     "MPI_LONG_DOUBLE_INT");

/* Deprecated bound markers: no data. */
struct rdmx_datatype rdmx_dt_lb = {
    .predefined = 1, .committed = 1, .refcount = 1, .basic = RDMX_BASIC_LB,
    .combiner = MPI_COMBINER_NAMED, .name = "MPI_LB"};
struct rdmx_datatype rdmx_dt_ub = {
    .predefined = 1, .committed = 1, .refcount = 1, .basic = RDMX_BASIC_UB,
    .combiner = MPI_COMBINER_NAMED, .name = "MPI_UB"};

size_t rdmx_basic_size(rdmx_basic_t b)
{
    static const size_t sizes[RDMX_BASIC_COUNT_] = {
        [RDMX_BASIC_CHAR] = sizeof(char),
        [RDMX_BASIC_SCHAR] = sizeof(signed char),
        [RDMX_BASIC_UCHAR] = 1, [RDMX_BASIC_BYTE] = 1,
        [RDMX_BASIC_WCHAR] = sizeof(wchar_t),
        [RDMX_BASIC_SHORT] = sizeof(short),
        [RDMX_BASIC_USHORT] = sizeof(short), [RDMX_BASIC_INT] = sizeof(int),
        [RDMX_BASIC_UINT] = sizeof(int), [RDMX_BASIC_LONG] = sizeof(long),
        [RDMX_BASIC_ULONG] = sizeof(long),
        [RDMX_BASIC_LLONG] = sizeof(long long),
        [RDMX_BASIC_ULLONG] = sizeof(long long),
        [RDMX_BASIC_FLOAT] = sizeof(float),
        [RDMX_BASIC_DOUBLE] = sizeof(double),
        [RDMX_BASIC_LDOUBLE] = sizeof(long double), [RDMX_BASIC_INT8] = 1,
        [RDMX_BASIC_INT16] = 2, [RDMX_BASIC_INT32] = 4, [RDMX_BASIC_INT64] = 8,
        [RDMX_BASIC_UINT8] = 1, [RDMX_BASIC_UINT16] = 2,
        [RDMX_BASIC_UINT32] = 4, [RDMX_BASIC_UINT64] = 8,
        [RDMX_BASIC_BOOL] = sizeof(bool),
        [RDMX_BASIC_CFLOAT] = sizeof(float _Complex),
        [RDMX_BASIC_CDOUBLE] = sizeof(double _Complex),
        [RDMX_BASIC_CLDOUBLE] = sizeof(long double _Complex),
        [RDMX_BASIC_AINT] = sizeof(MPI_Aint),
        [RDMX_BASIC_OFFSET] = sizeof(MPI_Offset),
        [RDMX_BASIC_COUNT] = sizeof(MPI_Count), [RDMX_BASIC_PACKED] = 1,
        [RDMX_BASIC_FLOAT_INT] = sizeof(float) + sizeof(int),
        [RDMX_BASIC_DOUBLE_INT] = sizeof(double) + sizeof(int),
        [RDMX_BASIC_LONG_INT] = sizeof(long) + sizeof(int),
        [RDMX_BASIC_2INT] = 2 * sizeof(int),
        [RDMX_BASIC_SHORT_INT] = sizeof(short) + sizeof(int),
        [RDMX_BASIC_LDOUBLE_INT] = sizeof(long double) + sizeof(int),
    };
    return (unsigned)b < RDMX_BASIC_COUNT_ ? sizes[b] : 0;
}

rdmx_status_t rdmx_dt_check(const rdmx_datatype_t *dt)
{
    if (!dt)
        return RDMX_ERR_TYPE;
    if (!dt->committed)
        return RDMX_ERR_TYPE;
    return RDMX_OK;
}

rdmx_status_t rdmx_dt_bytes(const rdmx_datatype_t *dt, size_t count,
                            size_t *bytes)
{
    if (dt->size && count > SIZE_MAX / dt->size)
        return RDMX_ERR_COUNT;
    *bytes = count * dt->size;
    return RDMX_OK;
}

/*
 * Walk the packed stream of `count` elements from byte `offset`, calling
 * the copy for each piece. `to_user` selects direction.
 */
static size_t walk(const rdmx_datatype_t *dt, char *user, size_t count,
                   size_t offset, char *packed, size_t len, int to_user)
{
    if (dt->size == 0 || len == 0)
        return 0;
    size_t total = dt->size * count;
    if (offset >= total)
        return 0;
    if (len > total - offset)
        len = total - offset;
    if (dt->contiguous) {
        if (to_user)
            memcpy(user + offset, packed, len);
        else
            memcpy(packed, user + offset, len);
        return len;
    }
    ptrdiff_t extent = rdmx_dt_extent(dt);
    size_t elem = offset / dt->size;
    size_t in_elem = offset % dt->size;
    size_t b = 0;
    /* Find the block holding byte `in_elem` of the element. */
    while (in_elem >= dt->blocks[b].len) {
        in_elem -= dt->blocks[b].len;
        b++;
    }
    size_t done = 0;
    while (done < len) {
        const rdmx_dt_block_t *blk = &dt->blocks[b];
        char *u = user + (ptrdiff_t)elem * extent + blk->disp + in_elem;
        size_t n = blk->len - in_elem;
        if (n > len - done)
            n = len - done;
        if (to_user)
            memcpy(u, packed + done, n);
        else
            memcpy(packed + done, u, n);
        done += n;
        in_elem = 0;
        if (++b == dt->nblocks) {
            b = 0;
            elem++;
        }
    }
    return done;
}

size_t rdmx_dt_pack(const rdmx_datatype_t *dt, const void *buf, size_t count,
                    size_t offset, void *out, size_t len)
{
    return walk(dt, (char *)buf, count, offset, out, len, 0);
}

size_t rdmx_dt_unpack(const rdmx_datatype_t *dt, void *buf, size_t count,
                      size_t offset, const void *in, size_t len)
{
    return walk(dt, buf, count, offset, (char *)in, len, 1);
}

rdmx_status_t rdmx_dt_copy(const void *src, size_t scount,
                           const rdmx_datatype_t *sdt, void *dst,
                           size_t rcount, const rdmx_datatype_t *rdt)
{
    size_t sbytes = sdt->size * scount, rbytes = rdt->size * rcount;
    size_t n = sbytes < rbytes ? sbytes : rbytes;
    rdmx_status_t st = sbytes > rbytes ? RDMX_ERR_TRUNCATE : RDMX_OK;
    if (n == 0)
        return st;
    if (sdt->contiguous && rdt->contiguous) {
        if (src != dst)
            memmove(dst, src, n);
        return st;
    }
    if (sdt->contiguous) {
        rdmx_dt_unpack(rdt, dst, rcount, 0, src, n);
        return st;
    }
    if (rdt->contiguous) {
        rdmx_dt_pack(sdt, src, scount, 0, dst, n);
        return st;
    }
    /* Both scattered: stream through a bounded bounce buffer. */
    char tmp[16384];
    for (size_t off = 0; off < n;) {
        size_t chunk = n - off < sizeof(tmp) ? n - off : sizeof(tmp);
        rdmx_dt_pack(sdt, src, scount, off, tmp, chunk);
        rdmx_dt_unpack(rdt, dst, rcount, off, tmp, chunk);
        off += chunk;
    }
    return st;
}

rdmx_status_t rdmx_dt_create(rdmx_datatype_t **out, const rdmx_dt_block_t *b,
                             size_t nblocks, rdmx_basic_t basic,
                             size_t nelements, ptrdiff_t lb, ptrdiff_t ub,
                             int combiner)
{
    rdmx_datatype_t *dt = calloc(1, sizeof(*dt));
    if (!dt)
        return RDMX_ERR_NOMEM;
    dt->blocks = calloc(nblocks ? nblocks : 1, sizeof(*dt->blocks));
    if (!dt->blocks) {
        free(dt);
        return RDMX_ERR_NOMEM;
    }
    /* Merge blocks that touch: fewer, longer memcpy calls. */
    size_t k = 0, size = 0;
    ptrdiff_t tlb = 0, tub = 0;
    for (size_t i = 0; i < nblocks; i++) {
        if (b[i].len == 0)
            continue;
        if (k && dt->blocks[k - 1].disp + (ptrdiff_t)dt->blocks[k - 1].len
                     == b[i].disp)
            dt->blocks[k - 1].len += b[i].len;
        else
            dt->blocks[k++] = b[i];
        ptrdiff_t lo = b[i].disp, hi = b[i].disp + (ptrdiff_t)b[i].len;
        if (size == 0 || lo < tlb)
            tlb = lo;
        if (size == 0 || hi > tub)
            tub = hi;
        size += b[i].len;
    }
    dt->nblocks = k;
    dt->size = size;
    dt->basic = basic;
    dt->nelements = nelements;
    dt->lb = lb;
    dt->ub = ub;
    dt->true_lb = size ? tlb : lb;
    dt->true_ub = size ? tub : lb;
    dt->contiguous = (k == 1 && dt->blocks[0].disp == 0 && lb == 0
                      && ub == (ptrdiff_t)size)
                     || size == 0;
    dt->refcount = 1;
    dt->combiner = combiner;
    *out = dt;
    return RDMX_OK;
}

void rdmx_dt_retain(rdmx_datatype_t *dt)
{
    if (dt && !dt->predefined)
        dt->refcount++;
}

void rdmx_dt_release(rdmx_datatype_t *dt)
{
    if (!dt || dt->predefined)
        return;
    if (--dt->refcount == 0) {
        free(dt->blocks);
        free(dt);
    }
}
