/* Wire packing and validation (transport/verbs/verbs_wire.c): addresses,
 * connection messages, RC frames (bad-header rejection), packed rkeys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transport/verbs/verbs_wire.h"

static const uint8_t secret[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static void test_addr_roundtrip(void **state)
{
    rdmx_verbs_addr_t a = {.ud_qpn = 0x123456,
                           .lid = 7,
                           .link_layer = 2,
                           .mtu = 3,
                           .subnet = 0xfe80000000000000ull};
    a.gid[15] = 9;
    uint8_t raw[RDMX_VERBS_ADDR_LEN];
    rdmx_verbs_addr_pack(&a, raw);
    rdmx_verbs_addr_t b;
    assert_int_equal(rdmx_verbs_addr_unpack(raw, sizeof(raw), &b), RDMX_OK);
    assert_memory_equal(a.gid, b.gid, 16);
    assert_int_equal(b.ud_qpn, a.ud_qpn);
    assert_int_equal(b.lid, 7);
    assert_int_equal(b.mtu, 3);
    assert_true(b.subnet == a.subnet);
    /* Truncated, wrong version, impossible MTU or QPN. */
    assert_int_equal(rdmx_verbs_addr_unpack(raw, sizeof(raw) - 1, &b),
                     RDMX_ERR_PROTO);
    raw[24] ^= 0xff;
    assert_int_equal(rdmx_verbs_addr_unpack(raw, sizeof(raw), &b),
                     RDMX_ERR_PROTO);
    raw[24] ^= 0xff;
    raw[23] = 9;
    assert_int_equal(rdmx_verbs_addr_unpack(raw, sizeof(raw), &b),
                     RDMX_ERR_PROTO);
    raw[23] = 3;
    a.ud_qpn = 0x1000000;
    rdmx_verbs_addr_pack(&a, raw);
    assert_int_equal(rdmx_verbs_addr_unpack(raw, sizeof(raw), &b),
                     RDMX_ERR_PROTO);
}

static void test_conn_roundtrip_and_auth(void **state)
{
    rdmx_verbs_conn_msg_t m = {.type = RDMX_VERBS_CONN_REQ,
                               .mtu = 3,
                               .src_rank = 1,
                               .dst_rank = 0,
                               .qpn = 0x11,
                               .psn = 0xabcdef,
                               .credits = 32};
    uint8_t raw[RDMX_VERBS_CONN_LEN];
    rdmx_verbs_conn_pack(&m, secret, sizeof(secret), raw);
    rdmx_verbs_conn_msg_t o;
    assert_int_equal(rdmx_verbs_conn_unpack(raw, sizeof(raw), secret,
                                            sizeof(secret), 0, 2, &o),
                     RDMX_OK);
    assert_int_equal(o.qpn, 0x11);
    assert_int_equal(o.psn, 0xabcdef);
    assert_int_equal(o.credits, 32);
    assert_int_equal(o.src_rank, 1);
    /* Another job's secret, or any flipped bit: authentication fails. */
    uint8_t other[32] = {9};
    assert_int_equal(rdmx_verbs_conn_unpack(raw, sizeof(raw), other,
                                            sizeof(other), 0, 2, &o),
                     RDMX_ERR_AUTH);
    for (size_t i = 4; i < 48; i += 5) {
        raw[i] ^= 1;
        assert_int_equal(rdmx_verbs_conn_unpack(raw, sizeof(raw), secret,
                                                sizeof(secret), 0, 2, &o),
                         RDMX_ERR_AUTH);
        raw[i] ^= 1;
    }
    /* Meant for another rank, from outside the job, or from ourselves. */
    assert_int_equal(rdmx_verbs_conn_unpack(raw, sizeof(raw), secret,
                                            sizeof(secret), 1, 2, &o),
                     RDMX_ERR_PROTO);
    assert_int_equal(rdmx_verbs_conn_unpack(raw, sizeof(raw), secret,
                                            sizeof(secret), 0, 1, &o),
                     RDMX_ERR_PROTO);
    assert_int_equal(
        rdmx_verbs_conn_unpack(raw, 40, secret, sizeof(secret), 0, 2, &o),
        RDMX_ERR_PROTO);
    /* Well authenticated but nonsensical fields are still refused. */
    m.credits = 0;
    rdmx_verbs_conn_pack(&m, secret, sizeof(secret), raw);
    assert_int_equal(rdmx_verbs_conn_unpack(raw, sizeof(raw), secret,
                                            sizeof(secret), 0, 2, &o),
                     RDMX_ERR_PROTO);
    m.credits = 4;
    m.type = 9;
    rdmx_verbs_conn_pack(&m, secret, sizeof(secret), raw);
    assert_int_equal(rdmx_verbs_conn_unpack(raw, sizeof(raw), secret,
                                            sizeof(secret), 0, 2, &o),
                     RDMX_ERR_PROTO);
    m.type = RDMX_VERBS_CONN_REP;
    m.psn = 0x1000000;
    rdmx_verbs_conn_pack(&m, secret, sizeof(secret), raw);
    assert_int_equal(rdmx_verbs_conn_unpack(raw, sizeof(raw), secret,
                                            sizeof(secret), 0, 2, &o),
                     RDMX_ERR_PROTO);
}

/* Builds a MSG frame with a core header of `hlen` and `plen` payload
 * bytes actually present; returns the total length. */
static size_t msg_frame(uint8_t *buf, uint64_t hlen, size_t plen)
{
    rdmx_wire_hdr_t h = {.type = RDMX_MSG_EAGER, .len = hlen};
    rdmx_verbs_frame_t f = {.kind = RDMX_VERBS_FRAME_MSG,
                            .credits = 3,
                            .len = (uint32_t)(sizeof(h) + plen)};
    rdmx_verbs_frame_pack(&f, buf);
    memcpy(buf + RDMX_VERBS_FRAME_HDR, &h, sizeof(h));
    return RDMX_VERBS_FRAME_HDR + sizeof(h) + plen;
}

static void test_frame_good(void **state)
{
    uint8_t buf[256];
    rdmx_verbs_frame_t f;
    size_t n = msg_frame(buf, 100, 100);
    assert_int_equal(rdmx_verbs_frame_unpack(buf, n, 128, &f), RDMX_OK);
    assert_int_equal(f.kind, RDMX_VERBS_FRAME_MSG);
    assert_int_equal(f.credits, 3);
    rdmx_verbs_frame_t c = {.kind = RDMX_VERBS_FRAME_CREDIT, .credits = 9};
    rdmx_verbs_frame_pack(&c, buf);
    assert_int_equal(rdmx_verbs_frame_unpack(buf, 8, 128, &f), RDMX_OK);
    assert_int_equal(f.credits, 9);
}

static void test_frame_bad_headers(void **state)
{
    uint8_t buf[256];
    rdmx_verbs_frame_t f;
    /* Core header claims more than arrived. */
    size_t n = msg_frame(buf, 101, 100);
    assert_int_equal(rdmx_verbs_frame_unpack(buf, n, 128, &f), RDMX_ERR_PROTO);
    /* Claims less (trailing garbage). */
    n = msg_frame(buf, 99, 100);
    assert_int_equal(rdmx_verbs_frame_unpack(buf, n, 128, &f), RDMX_ERR_PROTO);
    /* Above the eager limit. */
    n = msg_frame(buf, 200, 200);
    assert_int_equal(rdmx_verbs_frame_unpack(buf, n, 128, &f), RDMX_ERR_PROTO);
    /* A huge length (never trust a length). */
    n = msg_frame(buf, UINT64_MAX, 10);
    assert_int_equal(rdmx_verbs_frame_unpack(buf, n, 128, &f), RDMX_ERR_PROTO);
    /* Frame length disagrees with the completion's byte count. */
    n = msg_frame(buf, 10, 10);
    assert_int_equal(rdmx_verbs_frame_unpack(buf, n - 1, 128, &f),
                     RDMX_ERR_PROTO);
    /* Shorter than the verbs header, or than a core header. */
    assert_int_equal(rdmx_verbs_frame_unpack(buf, 7, 128, &f), RDMX_ERR_PROTO);
    rdmx_verbs_frame_t g = {.kind = RDMX_VERBS_FRAME_MSG, .len = 8};
    rdmx_verbs_frame_pack(&g, buf);
    assert_int_equal(rdmx_verbs_frame_unpack(buf, 16, 128, &f), RDMX_ERR_PROTO);
    /* Unknown kind, reserved byte set, CREDIT with a body. */
    n = msg_frame(buf, 10, 10);
    buf[0] = 7;
    assert_int_equal(rdmx_verbs_frame_unpack(buf, n, 128, &f), RDMX_ERR_PROTO);
    n = msg_frame(buf, 10, 10);
    buf[1] = 1;
    assert_int_equal(rdmx_verbs_frame_unpack(buf, n, 128, &f), RDMX_ERR_PROTO);
    rdmx_verbs_frame_t c = {.kind = RDMX_VERBS_FRAME_CREDIT, .len = 4};
    rdmx_verbs_frame_pack(&c, buf);
    assert_int_equal(rdmx_verbs_frame_unpack(buf, 12, 128, &f), RDMX_ERR_PROTO);
}

/* The rendezvous descriptor's key: the range travels with it and a read
 * outside it is refused before it could kill the QP. */
static void test_rkey(void **state)
{
    uint8_t raw[RDMX_RKEY_MAX];
    uint32_t len = 0, rkey = 0;
    rdmx_verbs_rkey_pack(0x10000, 0x4000, 0xdeadbeef, raw, &len);
    assert_int_equal(len, RDMX_VERBS_RKEY_LEN);
    assert_true(len <= RDMX_RKEY_MAX);
    assert_int_equal(rdmx_verbs_rkey_unpack(raw, len, 0x10000, 0x4000, &rkey),
                     RDMX_OK);
    assert_int_equal(rkey, 0xdeadbeef);
    assert_int_equal(rdmx_verbs_rkey_unpack(raw, len, 0x12000, 0x2000, &rkey),
                     RDMX_OK);
    assert_int_equal(rdmx_verbs_rkey_unpack(raw, len, 0x12000, 0x2001, &rkey),
                     RDMX_ERR_PROTO);
    assert_int_equal(rdmx_verbs_rkey_unpack(raw, len, 0xffff, 1, &rkey),
                     RDMX_ERR_PROTO);
    assert_int_equal(
        rdmx_verbs_rkey_unpack(raw, len, UINT64_MAX - 1, 0x4000, &rkey),
        RDMX_ERR_PROTO);
    assert_int_equal(rdmx_verbs_rkey_unpack(raw, len - 1, 0x10000, 1, &rkey),
                     RDMX_ERR_PROTO);
    raw[4] = 1; /* reserved */
    assert_int_equal(rdmx_verbs_rkey_unpack(raw, len, 0x10000, 1, &rkey),
                     RDMX_ERR_PROTO);
    /* A range that wraps around the address space. */
    rdmx_verbs_rkey_pack(UINT64_MAX - 10, 100, 1, raw, &len);
    assert_int_equal(
        rdmx_verbs_rkey_unpack(raw, len, UINT64_MAX - 10, 1, &rkey),
        RDMX_ERR_PROTO);
}

/* The RTS descriptor the core sends carries our packed key unchanged. */
static void test_rndv_desc_carries_key(void **state)
{
    rdmx_rndv_desc_t d;
    memset(&d, 0, sizeof(d));
    d.addr = 0x20000;
    d.len = 5000;
    rdmx_verbs_rkey_pack(0x1f000, 0x3000, 77, d.rkey, &d.rkey_len);
    uint8_t wire[sizeof(d)];
    memcpy(wire, &d, sizeof(d));
    rdmx_rndv_desc_t e;
    memcpy(&e, wire, sizeof(e));
    uint32_t rkey;
    assert_int_equal(
        rdmx_verbs_rkey_unpack(e.rkey, e.rkey_len, e.addr, e.len, &rkey),
        RDMX_OK);
    assert_int_equal(rkey, 77);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_roundtrip),
        cmocka_unit_test(test_conn_roundtrip_and_auth),
        cmocka_unit_test(test_frame_good),
        cmocka_unit_test(test_frame_bad_headers),
        cmocka_unit_test(test_rkey),
        cmocka_unit_test(test_rndv_desc_carries_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
