/*
 * auth_test.c — SHA-256 against FIPS 180-2 vectors, HMAC-SHA256 against
 * RFC 4231, constant-time compare, nonces and hex coding with bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/auth.h"

static void hex_expect(const uint8_t *got, size_t len, const char *want)
{
    char text[2 * 64 + 1];
    assert_true(len <= 64);
    rdmx_hex_encode(got, len, text);
    assert_string_equal(text, want);
}

static void test_sha256_fips(void **state)
{
    uint8_t out[32];
    rdmx_auth_sha256("abc", 3, out);
    hex_expect(out, 32,
               "ba7816bf8f01cfea414140de5dae2223"
               "b00361a396177a9cb410ff61f20015ad");
    const char *two =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    rdmx_auth_sha256(two, strlen(two), out);
    hex_expect(out, 32,
               "248d6a61d20638b8e5c026930c3e6039"
               "a33ce45964ff2167f6ecedd419db06c1");
    rdmx_auth_sha256("", 0, out);
    hex_expect(out, 32,
               "e3b0c44298fc1c149afbf4c8996fb924"
               "27ae41e4649b934ca495991b7852b855");
    char *million = malloc(1000000);
    assert_non_null(million);
    memset(million, 'a', 1000000);
    rdmx_auth_sha256(million, 1000000, out);
    free(million);
    hex_expect(out, 32,
               "cdc76e5c9914fb9281a1c7e284d73e67"
               "f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the padding boundary (55, 56, 63, 64 bytes) exercise the
 * one- and two-block final paths. Digests of 'a' * n from sha256sum. */
static void test_sha256_padding_boundaries(void **state)
{
    static const struct {
        size_t n;
        const char *hex;
    } cases[] = {
        {55,
         "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56,
         "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63,
         "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64,
         "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
    };
    char buf[64];
    uint8_t out[32];
    memset(buf, 'a', sizeof(buf));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rdmx_auth_sha256(buf, cases[i].n, out);
        hex_expect(out, 32, cases[i].hex);
    }
}

static void test_hmac_rfc4231(void **state)
{
    uint8_t key[131], data[152], out[32];

    memset(key, 0x0b, 20);
    rdmx_auth_hmac(key, 20, "Hi There", 8, out);
    hex_expect(out, 32,
               "b0344c61d8db38535ca8afceaf0bf12b"
               "881dc200c9833da726e9376c2e32cff7");

    rdmx_auth_hmac((const uint8_t *)"Jefe", 4, "what do ya want for nothing?",
                   28, out);
    hex_expect(out, 32,
               "5bdcc146bf60754e6a042426089575c7"
               "5a003f089d2739839dec58b964ec3843");

    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    rdmx_auth_hmac(key, 20, data, 50, out);
    hex_expect(out, 32,
               "773ea91e36800e46854db8ebd09181a7"
               "2959098b3ef8c122d9635514ced565fe");

    for (int i = 0; i < 25; i++)
        key[i] = (uint8_t)(i + 1);
    memset(data, 0xcd, 50);
    rdmx_auth_hmac(key, 25, data, 50, out);
    hex_expect(out, 32,
               "82558a389a443c0ea4cc819899f2083a"
               "85f0faa3e578f8077a2e3ff46729665b");

    /* Keys longer than the block size are hashed first. */
    memset(key, 0xaa, 131);
    const char *t6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    rdmx_auth_hmac(key, 131, t6, strlen(t6), out);
    hex_expect(out, 32,
               "60e431591ee0b67f0d8a26aacbf5b77f"
               "8e0bc6213728c5140546040f0ee37f54");
    const char *t7 = "This is a test using a larger than block-size key and "
                     "a larger than block-size data. The key needs to be "
                     "hashed before being used by the HMAC algorithm.";
    rdmx_auth_hmac(key, 131, t7, strlen(t7), out);
    hex_expect(out, 32,
               "9b09ffa71b942fcb27635fbcd5b0e944"
               "bfdc63644f0713938a7f51535c3a35e2");
}

static void test_mac_equal(void **state)
{
    uint8_t a[RDMX_AUTH_MAC_LEN], b[RDMX_AUTH_MAC_LEN];
    for (int i = 0; i < RDMX_AUTH_MAC_LEN; i++)
        a[i] = b[i] = (uint8_t)(i * 7);
    assert_int_equal(rdmx_auth_mac_equal(a, b), 1);
    /* A difference in any position, including first and last, is caught. */
    for (int pos = 0; pos < RDMX_AUTH_MAC_LEN; pos++) {
        b[pos] ^= 0x01;
        assert_int_equal(rdmx_auth_mac_equal(a, b), 0);
        b[pos] ^= 0x01;
    }
    b[RDMX_AUTH_MAC_LEN - 1] ^= 0x80;
    assert_int_equal(rdmx_auth_mac_equal(a, b), 0);
}

static void test_random(void **state)
{
    uint8_t a[RDMX_AUTH_NONCE_LEN], b[RDMX_AUTH_NONCE_LEN];
    uint8_t zero[RDMX_AUTH_NONCE_LEN] = {0};
    assert_int_equal(rdmx_auth_random(a, sizeof(a)), 0);
    assert_int_equal(rdmx_auth_random(b, sizeof(b)), 0);
    /* 2^-128 chance of a false failure. */
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, zero, sizeof(a));
    /* Large requests may come back short from getrandom: must be looped. */
    uint8_t *big = calloc(1, 1 << 20);
    assert_non_null(big);
    assert_int_equal(rdmx_auth_random(big, 1 << 20), 0);
    size_t zeros = 0;
    for (size_t i = 0; i < (1 << 20); i++)
        zeros += big[i] == 0;
    assert_true(zeros < 8192); /* expected 4096 */
    free(big);
}

static void test_hex_roundtrip(void **state)
{
    uint8_t in[256], back[256];
    char text[2 * sizeof(in) + 1];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    rdmx_hex_encode(in, sizeof(in), text);
    assert_int_equal(strlen(text), 2 * sizeof(in));
    assert_int_equal(rdmx_hex_decode(text, back, sizeof(back)), 0);
    assert_memory_equal(in, back, sizeof(in));
    /* Upper case is accepted. */
    uint8_t two[2];
    assert_int_equal(rdmx_hex_decode("aBcD", two, 2), 0);
    assert_int_equal(two[0], 0xab);
    assert_int_equal(two[1], 0xcd);
    /* Zero-length. */
    rdmx_hex_encode(in, 0, text);
    assert_string_equal(text, "");
    assert_int_equal(rdmx_hex_decode("", back, 0), 0);
}

static void test_hex_malformed(void **state)
{
    uint8_t out[4];
    assert_int_equal(rdmx_hex_decode(NULL, out, 4), -1);
    assert_int_equal(rdmx_hex_decode("", out, 4), -1);
    assert_int_equal(rdmx_hex_decode("0011223", out, 4), -1);   /* short */
    assert_int_equal(rdmx_hex_decode("001122334", out, 4), -1); /* long */
    assert_int_equal(rdmx_hex_decode("0011223g", out, 4), -1);
    assert_int_equal(rdmx_hex_decode("0x112233", out, 4), -1);
    assert_int_equal(rdmx_hex_decode("00 11223", out, 4), -1);
    assert_int_equal(rdmx_hex_decode("001122-3", out, 4), -1);
    assert_int_equal(
        rdmx_hex_decode("\xff\xff\xff\xff\xff\xff\xff\xff", out, 4), -1);
    assert_int_equal(rdmx_hex_decode("00112233", out, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_fips),
        cmocka_unit_test(test_sha256_padding_boundaries),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_mac_equal),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_hex_roundtrip),
        cmocka_unit_test(test_hex_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
