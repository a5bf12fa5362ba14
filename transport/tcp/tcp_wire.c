/*
 * tcp_wire.c — everything the TCP transport puts on the wire besides the
 * core's 32-byte message header: the handshake messages, the address text
 * published through the modex, and the checks applied to a header read from
 * a stream before anything trusts it.
 *
 * Handshake message (64 bytes, integers little-endian):
 *
 *   0               4       6   7   8               12              16
 *   +---------------+-------+---+---+---------------+---------------+
 *   | magic "RDXT"  |version|typ|flg|  src (rank)   |  dst (rank)   |
 *   +---------------+-------+---+---+---------------+---------------+
 *   16                                                              32
 *   |              nonce (HELLO: nonce_c, CHALLENGE: nonce_a)       |
 *   +---------------------------------------------------------------+
 *   32                                                              64
 *   |              mac (HMAC-SHA256, zero in HELLO)                 |
 *   +---------------------------------------------------------------+
 *
 * Exchange, connector C (rank c) to acceptor A (rank a):
 *   C -> A  HELLO      src=c dst=a nonce=nonce_c
 *   A -> C  CHALLENGE  src=a dst=c nonce=nonce_a mac=M(CHALLENGE)
 *   C -> A  RESPONSE   src=c dst=a              mac=M(RESPONSE)
 *   A -> C  VERDICT    src=a dst=c flags=USE?   mac=M(VERDICT)
 * with M(t) = HMAC(secret, "rdmx-tcp-1" | t | flags | src | dst | nonce_c |
 * nonce_a). A proves the secret first (CHALLENGE), C second (RESPONSE); the
 * type in the MAC stops a proof from being reflected, the fresh nonces stop
 * replay, and the ranks in it bind the claimed identity to the secret. Only
 * after the VERDICT do message headers follow on the stream.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp.h"

static const char rdmx_tcp_mac_label[] = "rdmx-tcp-1";

static void rdmx_tcp_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t rdmx_tcp_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

void rdmx_tcp_hs_pack(const rdmx_tcp_hs_t *m, uint8_t out[RDMX_TCP_HS_LEN])
{
    rdmx_tcp_put_le32(out, RDMX_TCP_HS_MAGIC);
    out[4] = (uint8_t)RDMX_TCP_HS_VERSION;
    out[5] = (uint8_t)(RDMX_TCP_HS_VERSION >> 8);
    out[6] = m->type;
    out[7] = m->flags;
    rdmx_tcp_put_le32(out + 8, (uint32_t)m->src);
    rdmx_tcp_put_le32(out + 12, (uint32_t)m->dst);
    memcpy(out + 16, m->nonce, RDMX_AUTH_NONCE_LEN);
    memcpy(out + 32, m->mac, RDMX_AUTH_MAC_LEN);
}

rdmx_status_t rdmx_tcp_hs_unpack(const uint8_t *buf, size_t len,
                                 rdmx_tcp_hs_t *m, const char **why)
{
    static const uint8_t zero[RDMX_AUTH_MAC_LEN];
    const char *reason = NULL;

    if (!buf || len < RDMX_TCP_HS_LEN)
        reason = "truncated handshake message";
    else if (len > RDMX_TCP_HS_LEN)
        reason = "oversized handshake message";
    else if (rdmx_tcp_get_le32(buf) != RDMX_TCP_HS_MAGIC)
        reason = "bad magic (not an rdmx tcp peer)";
    else if ((buf[4] | buf[5] << 8) != RDMX_TCP_HS_VERSION)
        reason = "unsupported handshake version";
    else if (buf[6] < RDMX_TCP_HS_HELLO || buf[6] > RDMX_TCP_HS_VERDICT)
        reason = "unknown handshake message type";
    else if (buf[7] & ~RDMX_TCP_HS_FLAG_USE ||
             (buf[7] && buf[6] != RDMX_TCP_HS_VERDICT))
        reason = "unknown handshake flags";
    if (reason) {
        if (why)
            *why = reason;
        return RDMX_ERR_PROTO;
    }
    m->type = buf[6];
    m->flags = buf[7];
    m->src = (int32_t)rdmx_tcp_get_le32(buf + 8);
    m->dst = (int32_t)rdmx_tcp_get_le32(buf + 12);
    memcpy(m->nonce, buf + 16, RDMX_AUTH_NONCE_LEN);
    memcpy(m->mac, buf + 32, RDMX_AUTH_MAC_LEN);
    /* Fields a message type does not use must be zero, so that nothing
     * unauthenticated can ride along. */
    if ((m->type == RDMX_TCP_HS_HELLO &&
         memcmp(m->mac, zero, RDMX_AUTH_MAC_LEN) != 0) ||
        ((m->type == RDMX_TCP_HS_RESPONSE || m->type == RDMX_TCP_HS_VERDICT) &&
         memcmp(m->nonce, zero, RDMX_AUTH_NONCE_LEN) != 0)) {
        if (why)
            *why = "non-zero unused handshake field";
        return RDMX_ERR_PROTO;
    }
    return RDMX_OK;
}

void rdmx_tcp_hs_mac(const uint8_t *secret, size_t secret_len, uint8_t type,
                     uint8_t flags, int32_t src, int32_t dst,
                     const uint8_t nonce_c[RDMX_AUTH_NONCE_LEN],
                     const uint8_t nonce_a[RDMX_AUTH_NONCE_LEN],
                     uint8_t out[RDMX_AUTH_MAC_LEN])
{
    uint8_t
        msg[sizeof(rdmx_tcp_mac_label) - 1 + 2 + 8 + 2 * RDMX_AUTH_NONCE_LEN];
    uint8_t *p = msg;
    memcpy(p, rdmx_tcp_mac_label, sizeof(rdmx_tcp_mac_label) - 1);
    p += sizeof(rdmx_tcp_mac_label) - 1;
    *p++ = type;
    *p++ = flags;
    rdmx_tcp_put_le32(p, (uint32_t)src);
    rdmx_tcp_put_le32(p + 4, (uint32_t)dst);
    p += 8;
    memcpy(p, nonce_c, RDMX_AUTH_NONCE_LEN);
    memcpy(p + RDMX_AUTH_NONCE_LEN, nonce_a, RDMX_AUTH_NONCE_LEN);
    rdmx_auth_hmac(secret, secret_len, msg, sizeof(msg), out);
}

rdmx_status_t rdmx_tcp_hs_verify(const rdmx_tcp_hs_t *m, uint8_t want_type,
                                 int32_t want_src, int32_t want_dst,
                                 int world_size, const uint8_t *secret,
                                 size_t secret_len, const uint8_t *nonce_c,
                                 const uint8_t *nonce_a, const char **why)
{
    const char *reason = NULL;
    rdmx_status_t st = RDMX_ERR_PROTO;

    if (m->type != want_type)
        reason = "unexpected handshake message type";
    else if (m->dst != want_dst)
        reason = "handshake addressed to another rank";
    else if (m->src < 0 || m->src >= world_size)
        reason = "claimed rank out of range";
    else if (want_src >= 0 && m->src != want_src)
        reason = "peer claims another rank than the one dialled";
    else if (want_src < 0 && m->src == want_dst)
        reason = "peer claims to be this rank";
    if (!reason && want_type != RDMX_TCP_HS_HELLO) {
        uint8_t mac[RDMX_AUTH_MAC_LEN];
        rdmx_tcp_hs_mac(secret, secret_len, m->type, m->flags, m->src, m->dst,
                        nonce_c, nonce_a, mac);
        if (!rdmx_auth_mac_equal(mac, m->mac)) {
            reason = "wrong MAC (peer does not know this job's secret)";
            st = RDMX_ERR_AUTH;
        }
    }
    if (reason) {
        if (why)
            *why = reason;
        return st;
    }
    return RDMX_OK;
}

/* The transport checks what it relies on itself (type, eager length); the
 * meaning of the other fields is the core's to check in on_header. How many
 * payload bytes follow on the stream is decided by the sink the core returns,
 * never by hdr->len alone. */
rdmx_status_t rdmx_tcp_hdr_check(const rdmx_wire_hdr_t *hdr,
                                 size_t max_eager_payload, const char **why)
{
    const char *reason = NULL;
    if (hdr->type < RDMX_MSG_EAGER || hdr->type > RDMX_MSG_TYPE_MAX)
        reason = "message type out of range";
    else if (hdr->type == RDMX_MSG_EAGER && hdr->len > max_eager_payload)
        reason = "eager payload larger than the eager limit (is "
                 "RDMX_TCP_EAGER_LIMIT the same on every rank?)";
    if (reason) {
        if (why)
            *why = reason;
        return RDMX_ERR_PROTO;
    }
    return RDMX_OK;
}

int rdmx_tcp_addrs_format(const struct sockaddr_in *addrs, int n, char *out,
                          size_t out_len)
{
    size_t used = 0;
    if (out_len == 0)
        return -1;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        char ip[INET_ADDRSTRLEN];
        if (!inet_ntop(AF_INET, &addrs[i].sin_addr, ip, sizeof(ip)))
            return -1;
        int w = snprintf(out + used, out_len - used, "%s%s:%u", i ? "," : "",
                         ip, ntohs(addrs[i].sin_port));
        if (w < 0 || (size_t)w >= out_len - used)
            return -1;
        used += (size_t)w;
    }
    return 0;
}

/* The text comes from another process: every field is checked, and a
 * single bad entry rejects the whole list. */
int rdmx_tcp_addrs_parse(const char *text, size_t len,
                         struct sockaddr_in *addrs, int max)
{
    char buf[RDMX_TCP_ADDRS_TEXT_MAX];
    int n = 0;

    if (!text || len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (strlen(buf) != len)
        return -1; /* embedded NUL */

    /* Split by hand: strtok would silently skip empty entries. */
    for (char *tok = buf; tok;) {
        char *comma = strchr(tok, ',');
        if (comma)
            *comma = '\0';
        char *colon = strrchr(tok, ':');
        if (!colon || colon == tok || n >= max)
            return -1;
        *colon = '\0';
        const char *port_text = colon + 1;
        if (*port_text < '0' || *port_text > '9')
            return -1;
        char *end;
        unsigned long port = strtoul(port_text, &end, 10);
        if (*end != '\0' || port == 0 || port > 65535)
            return -1;
        memset(&addrs[n], 0, sizeof(addrs[n]));
        addrs[n].sin_family = AF_INET;
        addrs[n].sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, tok, &addrs[n].sin_addr) != 1)
            return -1;
        n++;
        tok = comma ? comma + 1 : NULL;
    }
    return n > 0 ? n : -1;
}
