/*
 * auth.c — nonces, MAC comparison and hex coding for the per-job secret
 * challenge-response (see auth.h). SHA-256/HMAC live in auth_sha256.c.
 */
#include "auth.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"

rdmx_status_t rdmx_auth_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            RDMX_ERROR("getrandom(%zu bytes) failed: %s", len, strerror(errno));
            return RDMX_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return RDMX_OK;
}

int rdmx_auth_mac_equal(const uint8_t *a, const uint8_t *b)
{
    /* Accumulate every difference so the time taken does not reveal the
     * position of the first mismatching byte. */
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < RDMX_AUTH_MAC_LEN; i++)
        diff |= a[i] ^ b[i];
    return diff == 0;
}

void rdmx_hex_encode(const void *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0xf];
    }
    out[2 * len] = '\0';
}

static int rdmx_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The text must be exactly 2*out_len hex digits: a shorter or longer secret
 * is a configuration error, not something to pad or truncate silently. */
int rdmx_hex_decode(const char *text, void *out, size_t out_len)
{
    uint8_t *p = out;
    if (!text || strnlen(text, 2 * out_len + 1) != 2 * out_len)
        return -1;
    for (size_t i = 0; i < out_len; i++) {
        int hi = rdmx_hex_digit(text[2 * i]);
        int lo = rdmx_hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        p[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
