/*
 * tcp_wire_test.c — the TCP transport's wire checks against hostile input:
 * handshake messages (wrong MAC, reflected or replayed proofs, out-of-range
 * or mismatched ranks, truncated/oversized/garbled messages), message header
 * validation and the published address text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "transport/tcp/tcp.h"

static const uint8_t secret[RDMX_SECRET_LEN] =
    "0123456789abcdef0123456789abcde";
static const uint8_t nonce_c[RDMX_AUTH_NONCE_LEN] = "connector-nonce";
static const uint8_t nonce_a[RDMX_AUTH_NONCE_LEN] = "acceptor-nonce!";

/* A correct CHALLENGE from acceptor rank 3 to connector rank 5. */
static rdmx_tcp_hs_t make_challenge(void)
{
    rdmx_tcp_hs_t m = {.type = RDMX_TCP_HS_CHALLENGE, .src = 3, .dst = 5};
    memcpy(m.nonce, nonce_a, sizeof(m.nonce));
    rdmx_tcp_hs_mac(secret, sizeof(secret), m.type, 0, 3, 5, nonce_c, nonce_a,
                    m.mac);
    return m;
}

static rdmx_status_t verify_challenge(const rdmx_tcp_hs_t *m, const char **why)
{
    return rdmx_tcp_hs_verify(m, RDMX_TCP_HS_CHALLENGE, 3, 5, 8, secret,
                              sizeof(secret), nonce_c, nonce_a, why);
}

static void test_hs_roundtrip(void **state)
{
    rdmx_tcp_hs_t m = make_challenge(), back;
    uint8_t buf[RDMX_TCP_HS_LEN];
    const char *why = NULL;
    rdmx_tcp_hs_pack(&m, buf);
    assert_int_equal(rdmx_tcp_hs_unpack(buf, sizeof(buf), &back, &why),
                     RDMX_OK);
    assert_int_equal(back.type, m.type);
    assert_int_equal(back.src, 3);
    assert_int_equal(back.dst, 5);
    assert_memory_equal(back.nonce, m.nonce, sizeof(m.nonce));
    assert_memory_equal(back.mac, m.mac, sizeof(m.mac));
    assert_int_equal(verify_challenge(&back, &why), RDMX_OK);
    /* The magic is "RDXT" on the wire. */
    assert_memory_equal(buf, "RDXT", 4);
}

static void test_hs_wrong_mac(void **state)
{
    const char *why = NULL;
    rdmx_tcp_hs_t m = make_challenge();
    for (size_t i = 0; i < RDMX_AUTH_MAC_LEN; i++) {
        rdmx_tcp_hs_t bad = m;
        bad.mac[i] ^= 0x40;
        assert_int_equal(verify_challenge(&bad, &why), RDMX_ERR_AUTH);
    }
    /* Computed with another secret. */
    uint8_t other[RDMX_SECRET_LEN];
    memcpy(other, secret, sizeof(other));
    other[0] ^= 1;
    rdmx_tcp_hs_mac(other, sizeof(other), m.type, 0, 3, 5, nonce_c, nonce_a,
                    m.mac);
    why = NULL;
    assert_int_equal(verify_challenge(&m, &why), RDMX_ERR_AUTH);
    assert_non_null(why);
    assert_non_null(strstr(why, "MAC"));
}

/* The MAC binds type, flags, ranks and both nonces: changing any of them
 * after the fact invalidates it. */
static void test_hs_mac_binds_fields(void **state)
{
    const char *why;
    rdmx_tcp_hs_t m = make_challenge();

    /* Replayed into a session with a different connector nonce. */
    uint8_t nonce_c2[RDMX_AUTH_NONCE_LEN];
    memcpy(nonce_c2, nonce_c, sizeof(nonce_c2));
    nonce_c2[7] ^= 1;
    assert_int_equal(rdmx_tcp_hs_verify(&m, RDMX_TCP_HS_CHALLENGE, 3, 5, 8,
                                        secret, sizeof(secret), nonce_c2,
                                        nonce_a, &why),
                     RDMX_ERR_AUTH);

    /* A rank claiming to be another with a proof made for its own rank:
     * the verifier expects src 4 (it dialled 4); the message says 3. */
    assert_int_equal(rdmx_tcp_hs_verify(&m, RDMX_TCP_HS_CHALLENGE, 4, 5, 8,
                                        secret, sizeof(secret), nonce_c,
                                        nonce_a, &why),
                     RDMX_ERR_PROTO);
    /* Rewriting src to match does not carry the MAC along. */
    rdmx_tcp_hs_t forged = m;
    forged.src = 4;
    assert_int_equal(rdmx_tcp_hs_verify(&forged, RDMX_TCP_HS_CHALLENGE, 4, 5, 8,
                                        secret, sizeof(secret), nonce_c,
                                        nonce_a, &why),
                     RDMX_ERR_AUTH);

    /* Reflection: a connector's RESPONSE proof replayed as a CHALLENGE. */
    rdmx_tcp_hs_t refl = {.type = RDMX_TCP_HS_CHALLENGE, .src = 3, .dst = 5};
    memcpy(refl.nonce, nonce_a, sizeof(refl.nonce));
    rdmx_tcp_hs_mac(secret, sizeof(secret), RDMX_TCP_HS_RESPONSE, 0, 3, 5,
                    nonce_c, nonce_a, refl.mac);
    assert_int_equal(verify_challenge(&refl, &why), RDMX_ERR_AUTH);

    /* A VERDICT "no" whose flag is flipped to "use" in flight. */
    rdmx_tcp_hs_t v = {.type = RDMX_TCP_HS_VERDICT, .src = 3, .dst = 5};
    rdmx_tcp_hs_mac(secret, sizeof(secret), v.type, 0, 3, 5, nonce_c, nonce_a,
                    v.mac);
    assert_int_equal(rdmx_tcp_hs_verify(&v, RDMX_TCP_HS_VERDICT, 3, 5, 8,
                                        secret, sizeof(secret), nonce_c,
                                        nonce_a, &why),
                     RDMX_OK);
    v.flags = RDMX_TCP_HS_FLAG_USE;
    assert_int_equal(rdmx_tcp_hs_verify(&v, RDMX_TCP_HS_VERDICT, 3, 5, 8,
                                        secret, sizeof(secret), nonce_c,
                                        nonce_a, &why),
                     RDMX_ERR_AUTH);
}

static void test_hs_ranks(void **state)
{
    const char *why;
    rdmx_tcp_hs_t hello = {.type = RDMX_TCP_HS_HELLO, .src = 2, .dst = 0};
    /* A HELLO is checked for ranks only (it cannot carry a proof yet). */
    assert_int_equal(rdmx_tcp_hs_verify(&hello, RDMX_TCP_HS_HELLO, -1, 0, 4,
                                        NULL, 0, NULL, NULL, &why),
                     RDMX_OK);
    int32_t bad_src[] = {-1, 4, 5, INT32_MAX, INT32_MIN, 0};
    for (size_t i = 0; i < sizeof(bad_src) / sizeof(bad_src[0]); i++) {
        hello.src = bad_src[i];
        why = NULL;
        assert_int_equal(rdmx_tcp_hs_verify(&hello, RDMX_TCP_HS_HELLO, -1, 0, 4,
                                            NULL, 0, NULL, NULL, &why),
                         RDMX_ERR_PROTO);
        assert_non_null(why);
    }
    /* Addressed to another rank (stale address of another job's rank). */
    hello.src = 2;
    hello.dst = 1;
    assert_int_equal(rdmx_tcp_hs_verify(&hello, RDMX_TCP_HS_HELLO, -1, 0, 4,
                                        NULL, 0, NULL, NULL, &why),
                     RDMX_ERR_PROTO);
    /* Wrong message type where a HELLO is due. */
    rdmx_tcp_hs_t m = make_challenge();
    assert_int_equal(rdmx_tcp_hs_verify(&m, RDMX_TCP_HS_HELLO, -1, 5, 8, NULL,
                                        0, NULL, NULL, &why),
                     RDMX_ERR_PROTO);
}

static void test_hs_malformed(void **state)
{
    rdmx_tcp_hs_t m = make_challenge(), out;
    uint8_t buf[RDMX_TCP_HS_LEN * 2];
    const char *why;

    rdmx_tcp_hs_pack(&m, buf);
    /* Truncated at every length. */
    for (size_t len = 0; len < RDMX_TCP_HS_LEN; len++) {
        why = NULL;
        assert_int_equal(rdmx_tcp_hs_unpack(buf, len, &out, &why),
                         RDMX_ERR_PROTO);
        assert_non_null(why);
    }
    assert_int_equal(rdmx_tcp_hs_unpack(NULL, RDMX_TCP_HS_LEN, &out, &why),
                     RDMX_ERR_PROTO);
    /* Oversized. */
    assert_int_equal(rdmx_tcp_hs_unpack(buf, RDMX_TCP_HS_LEN + 1, &out, &why),
                     RDMX_ERR_PROTO);
    assert_int_equal(rdmx_tcp_hs_unpack(buf, SIZE_MAX, &out, &why),
                     RDMX_ERR_PROTO);

    /* Any single corrupted byte in magic, version, type or flags. */
    for (size_t pos = 0; pos < 8; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            rdmx_tcp_hs_pack(&m, buf);
            buf[pos] ^= (uint8_t)(1u << bit);
            rdmx_status_t st =
                rdmx_tcp_hs_unpack(buf, RDMX_TCP_HS_LEN, &out, &why);
            if (pos == 6 && st == RDMX_OK) {
                /* Another valid type: must then fail verification. */
                assert_int_not_equal(out.type, RDMX_TCP_HS_CHALLENGE);
                assert_int_not_equal(verify_challenge(&out, &why), RDMX_OK);
                continue;
            }
            assert_int_equal(st, RDMX_ERR_PROTO);
        }
    }
    /* Garbage. */
    memset(buf, 0xff, RDMX_TCP_HS_LEN);
    assert_int_equal(rdmx_tcp_hs_unpack(buf, RDMX_TCP_HS_LEN, &out, &why),
                     RDMX_ERR_PROTO);
    memset(buf, 0, RDMX_TCP_HS_LEN);
    assert_int_equal(rdmx_tcp_hs_unpack(buf, RDMX_TCP_HS_LEN, &out, &why),
                     RDMX_ERR_PROTO);
    /* An HTTP request someone pointed at the port. */
    memset(buf, 0, sizeof(buf));
    memcpy(buf, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    assert_int_equal(rdmx_tcp_hs_unpack(buf, RDMX_TCP_HS_LEN, &out, &why),
                     RDMX_ERR_PROTO);

    /* Unused fields must be zero: a HELLO with a "MAC", a RESPONSE with a
     * nonce, a flag on anything but a VERDICT. */
    rdmx_tcp_hs_t h = {.type = RDMX_TCP_HS_HELLO, .src = 1, .dst = 0};
    h.mac[5] = 1;
    rdmx_tcp_hs_pack(&h, buf);
    assert_int_equal(rdmx_tcp_hs_unpack(buf, RDMX_TCP_HS_LEN, &out, &why),
                     RDMX_ERR_PROTO);
    rdmx_tcp_hs_t r = {.type = RDMX_TCP_HS_RESPONSE, .src = 1, .dst = 0};
    r.nonce[0] = 1;
    rdmx_tcp_hs_pack(&r, buf);
    assert_int_equal(rdmx_tcp_hs_unpack(buf, RDMX_TCP_HS_LEN, &out, &why),
                     RDMX_ERR_PROTO);
    h.mac[5] = 0;
    h.flags = RDMX_TCP_HS_FLAG_USE;
    rdmx_tcp_hs_pack(&h, buf);
    assert_int_equal(rdmx_tcp_hs_unpack(buf, RDMX_TCP_HS_LEN, &out, &why),
                     RDMX_ERR_PROTO);
}

static void test_hdr_check(void **state)
{
    const char *why;
    rdmx_wire_hdr_t h = {.type = RDMX_MSG_EAGER, .len = 65536};
    assert_int_equal(rdmx_tcp_hdr_check(&h, 65536, &why), RDMX_OK);
    h.len = 65537;
    why = NULL;
    assert_int_equal(rdmx_tcp_hdr_check(&h, 65536, &why), RDMX_ERR_PROTO);
    assert_non_null(why);
    h.len = UINT64_MAX;
    assert_int_equal(rdmx_tcp_hdr_check(&h, 65536, &why), RDMX_ERR_PROTO);
    /* Types outside 1..MAX. */
    uint8_t bad_types[] = {0, RDMX_MSG_TYPE_MAX + 1, 0x7f, 0xff,
                           RDMX_TCP_MSG_BYE};
    for (size_t i = 0; i < sizeof(bad_types); i++) {
        h.type = bad_types[i];
        h.len = 0;
        assert_int_equal(rdmx_tcp_hdr_check(&h, 65536, &why), RDMX_ERR_PROTO);
    }
    /* Every core type is accepted; only EAGER is length-limited here
     * (DATA may be as long as a message). */
    for (uint8_t t = 1; t <= RDMX_MSG_TYPE_MAX; t++) {
        h.type = t;
        h.len = t == RDMX_MSG_EAGER ? 10 : 0;
        assert_int_equal(rdmx_tcp_hdr_check(&h, 65536, &why), RDMX_OK);
    }
    h.type = RDMX_MSG_DATA;
    h.len = (uint64_t)1 << 40;
    assert_int_equal(rdmx_tcp_hdr_check(&h, 65536, &why), RDMX_OK);
}

static void test_addrs(void **state)
{
    struct sockaddr_in a[RDMX_TCP_MAX_ADDRS], b[RDMX_TCP_MAX_ADDRS];
    char text[RDMX_TCP_ADDRS_TEXT_MAX];
    memset(a, 0, sizeof(a));
    for (int i = 0; i < RDMX_TCP_MAX_ADDRS; i++) {
        a[i].sin_family = AF_INET;
        a[i].sin_addr.s_addr = htonl(0xfffffff0u + (uint32_t)i);
        a[i].sin_port = htons((uint16_t)(65535 - i));
    }
    /* The longest list fits. */
    assert_int_equal(
        rdmx_tcp_addrs_format(a, RDMX_TCP_MAX_ADDRS, text, sizeof(text)), 0);
    assert_int_equal(
        rdmx_tcp_addrs_parse(text, strlen(text), b, RDMX_TCP_MAX_ADDRS),
        RDMX_TCP_MAX_ADDRS);
    for (int i = 0; i < RDMX_TCP_MAX_ADDRS; i++) {
        assert_int_equal(b[i].sin_addr.s_addr, a[i].sin_addr.s_addr);
        assert_int_equal(b[i].sin_port, a[i].sin_port);
    }
    assert_int_equal(rdmx_tcp_addrs_parse("127.0.0.1:5", 11, b, 8), 1);
    assert_int_equal(ntohs(b[0].sin_port), 5);

    const char *bad[] = {
        "",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:-1",
        "127.0.0.1:12x",
        "1.2.3:80",
        "host:80",
        ":80",
        "127.0.0.1:+80",
        "1.2.3.4:5,",
        "1.2.3.4:5,,",
        ("1.1.1.1:1,1.1.1.1:1,1.1.1.1:1,1.1.1.1:1,1.1.1.1:1,1.1.1.1:1,"
         "1.1.1.1:1,1.1.1.1:1,1.1.1.1:1"), /* one too many */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int n =
            rdmx_tcp_addrs_parse(bad[i], strlen(bad[i]), b, RDMX_TCP_MAX_ADDRS);
        if (n >= 0)
            fail_msg("address list \"%s\" accepted (%d entries)", bad[i], n);
    }
    /* Embedded NUL, oversized text, NULL. */
    assert_int_equal(rdmx_tcp_addrs_parse("1.2.3.4:5\0x", 11, b, 8), -1);
    char big[1024];
    memset(big, '1', sizeof(big));
    assert_int_equal(rdmx_tcp_addrs_parse(big, sizeof(big), b, 8), -1);
    assert_int_equal(rdmx_tcp_addrs_parse(NULL, 4, b, 8), -1);
    /* A buffer too small to format into. */
    assert_int_equal(rdmx_tcp_addrs_format(a, 2, text, 10), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hs_roundtrip),
        cmocka_unit_test(test_hs_wrong_mac),
        cmocka_unit_test(test_hs_mac_binds_fields),
        cmocka_unit_test(test_hs_ranks),
        cmocka_unit_test(test_hs_malformed),
        cmocka_unit_test(test_hdr_check),
        cmocka_unit_test(test_addrs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
