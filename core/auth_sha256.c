/*
 * auth_sha256.c — SHA-256 (FIPS 180-4), kept in-tree so that authenticating
 * sockets needs no crypto library. Only used on short handshake messages and
 * key derivation, so clarity beats speed here.
 */
#include <stdint.h>
#include <string.h>

#include "auth.h"

typedef struct rdmx_sha256_ctx {
    uint32_t h[8];
    uint64_t total; /* bytes absorbed so far */
    uint8_t block[64];
    size_t fill; /* bytes in block */
} rdmx_sha256_ctx_t;

static const uint32_t rdmx_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t rdmx_sha256_rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static void rdmx_sha256_compress(rdmx_sha256_ctx_t *ctx, const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rdmx_sha256_rotr(w[i - 15], 7) ^
                      rdmx_sha256_rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rdmx_sha256_rotr(w[i - 2], 17) ^
                      rdmx_sha256_rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = ctx->h[0], b = ctx->h[1], c = ctx->h[2], d = ctx->h[3];
    uint32_t e = ctx->h[4], f = ctx->h[5], g = ctx->h[6], h = ctx->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t s1 = rdmx_sha256_rotr(e, 6) ^ rdmx_sha256_rotr(e, 11) ^
                      rdmx_sha256_rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = h + s1 + ch + rdmx_sha256_k[i] + w[i];
        uint32_t s0 = rdmx_sha256_rotr(a, 2) ^ rdmx_sha256_rotr(a, 13) ^
                      rdmx_sha256_rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = s0 + maj;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    ctx->h[0] += a;
    ctx->h[1] += b;
    ctx->h[2] += c;
    ctx->h[3] += d;
    ctx->h[4] += e;
    ctx->h[5] += f;
    ctx->h[6] += g;
    ctx->h[7] += h;
}

static void rdmx_sha256_init(rdmx_sha256_ctx_t *ctx)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                   0xa54ff53a, 0x510e527f, 0x9b05688c,
                                   0x1f83d9ab, 0x5be0cd19};
    memcpy(ctx->h, iv, sizeof(iv));
    ctx->total = 0;
    ctx->fill = 0;
}

static void rdmx_sha256_update(rdmx_sha256_ctx_t *ctx, const void *data,
                               size_t len)
{
    const uint8_t *p = data;
    ctx->total += len;
    if (ctx->fill) {
        size_t take = 64 - ctx->fill < len ? 64 - ctx->fill : len;
        memcpy(ctx->block + ctx->fill, p, take);
        ctx->fill += take;
        p += take;
        len -= take;
        if (ctx->fill < 64)
            return;
        rdmx_sha256_compress(ctx, ctx->block);
        ctx->fill = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        rdmx_sha256_compress(ctx, p);
    memcpy(ctx->block, p, len);
    ctx->fill = len;
}

static void rdmx_sha256_final(rdmx_sha256_ctx_t *ctx, uint8_t out[32])
{
    uint64_t bits = ctx->total * 8;
    uint8_t pad[72] = {0x80};
    /* Pad to 56 mod 64, then the 64-bit big-endian bit count. */
    size_t padlen = ctx->fill < 56 ? 56 - ctx->fill : 120 - ctx->fill;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    rdmx_sha256_update(ctx, pad, padlen + 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(ctx->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)ctx->h[i];
    }
    memset(ctx, 0, sizeof(*ctx));
}

void rdmx_auth_sha256(const void *msg, size_t len, uint8_t out[32])
{
    rdmx_sha256_ctx_t ctx;
    rdmx_sha256_init(&ctx);
    rdmx_sha256_update(&ctx, msg, len);
    rdmx_sha256_final(&ctx, out);
}

/* HMAC (RFC 2104) with SHA-256: keys longer than the 64-byte block are
 * hashed first. */
void rdmx_auth_hmac(const uint8_t *key, size_t key_len, const void *msg,
                    size_t msg_len, uint8_t out[RDMX_AUTH_MAC_LEN])
{
    uint8_t k[64] = {0}, pad[64], inner[32];
    rdmx_sha256_ctx_t ctx;

    if (key_len > sizeof(k))
        rdmx_auth_sha256(key, key_len, k);
    else if (key_len)
        memcpy(k, key, key_len);

    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    rdmx_sha256_init(&ctx);
    rdmx_sha256_update(&ctx, pad, sizeof(pad));
    rdmx_sha256_update(&ctx, msg, msg_len);
    rdmx_sha256_final(&ctx, inner);

    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    rdmx_sha256_init(&ctx);
    rdmx_sha256_update(&ctx, pad, sizeof(pad));
    rdmx_sha256_update(&ctx, inner, sizeof(inner));
    rdmx_sha256_final(&ctx, out);

    /* Key material should not linger on the stack. */
    memset(k, 0, sizeof(k));
    memset(pad, 0, sizeof(pad));
    __asm__ __volatile__("" : : "r"(k), "r"(pad) : "memory");
}
