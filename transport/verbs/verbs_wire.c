/*
 * verbs_wire.c — packing and validation of the verbs transport's own wire
 * formats. Integers are in host order like the core's header (rdmx jobs are
 * homogeneous) and copied with memcpy, so no format depends on struct
 * layout or alignment.
 */
#include <string.h>

#include "core/auth.h"
#include "core/log.h"
#include "verbs_wire.h"

#define PUT(buf, off, v) memcpy((buf) + (off), &(v), sizeof(v))
#define GET(buf, off, v) memcpy(&(v), (buf) + (off), sizeof(v))

/*
 * Per-rank address (40 bytes), the value of the "verbs" modex key:
 *
 *   0               4               8              12              16
 *   +---------------------------------------------------------------+
 *   |                        gid (16 bytes)                         |
 *   +---------------+-------+---+---+---------------+---------------+
 *16 |    ud_qpn     |  lid  |ll |mtu|  version (1)  | subnet prefix |
 *   +---------------+-------+---+---+---------------+               |
 *32 | (u64, bytes 28..35)   |  flags (u32, 0) |
 *   +-----------------------+-----------------+
 *   ll = link layer (IBV_LINK_LAYER_*), mtu = enum ibv_mtu
 */
void rdmx_verbs_addr_pack(const rdmx_verbs_addr_t *a,
                          uint8_t out[RDMX_VERBS_ADDR_LEN])
{
    uint32_t version = RDMX_VERBS_ADDR_VERSION;
    memset(out, 0, RDMX_VERBS_ADDR_LEN);
    memcpy(out, a->gid, 16);
    PUT(out, 16, a->ud_qpn);
    PUT(out, 20, a->lid);
    out[22] = a->link_layer;
    out[23] = a->mtu;
    PUT(out, 24, version);
    PUT(out, 28, a->subnet);
    PUT(out, 36, a->flags);
}

rdmx_status_t rdmx_verbs_addr_unpack(const uint8_t *in, size_t len,
                                     rdmx_verbs_addr_t *a)
{
    uint32_t version;
    if (len != RDMX_VERBS_ADDR_LEN)
        return RDMX_ERR_PROTO;
    GET(in, 24, version);
    if (version != RDMX_VERBS_ADDR_VERSION)
        return RDMX_ERR_PROTO;
    memcpy(a->gid, in, 16);
    GET(in, 16, a->ud_qpn);
    GET(in, 20, a->lid);
    a->link_layer = in[22];
    a->mtu = in[23];
    GET(in, 28, a->subnet);
    GET(in, 36, a->flags);
    if (a->mtu < 1 || a->mtu > 5 || a->ud_qpn == 0 || a->ud_qpn > 0xffffff)
        return RDMX_ERR_PROTO;
    return RDMX_OK;
}

/*
 * Connection message over UD (64 bytes):
 *
 *   0       4   5   6       8              12              16
 *   +-------+---+---+-------+---------------+---------------+
 *   | magic |typ|mtu| rsvd  |   src_rank    |   dst_rank    |
 *   +-------+---+---+-------+---------------+---------------+
 *16 |      qpn      |      psn      |    credits    |  rsvd  |
 *   +---------------+---------------+---------------+--------+
 *32 |                 reserved (16 bytes, zero)              |
 *48 |          MAC: HMAC-SHA256(secret, bytes 0..47)[0..16)  |
 *   +--------------------------------------------------------+
 */
void rdmx_verbs_conn_pack(const rdmx_verbs_conn_msg_t *m, const uint8_t *secret,
                          size_t secret_len, uint8_t out[RDMX_VERBS_CONN_LEN])
{
    uint32_t magic = RDMX_VERBS_CONN_MAGIC;
    uint8_t mac[RDMX_AUTH_MAC_LEN];
    memset(out, 0, RDMX_VERBS_CONN_LEN);
    PUT(out, 0, magic);
    out[4] = m->type;
    out[5] = m->mtu;
    PUT(out, 8, m->src_rank);
    PUT(out, 12, m->dst_rank);
    PUT(out, 16, m->qpn);
    PUT(out, 20, m->psn);
    PUT(out, 24, m->credits);
    rdmx_auth_hmac(secret, secret_len, out, 48, mac);
    memcpy(out + 48, mac, RDMX_VERBS_CONN_MAC_LEN);
}

rdmx_status_t rdmx_verbs_conn_unpack(const uint8_t *in, size_t len,
                                     const uint8_t *secret, size_t secret_len,
                                     int me, int world,
                                     rdmx_verbs_conn_msg_t *m)
{
    uint32_t magic;
    uint8_t mac[RDMX_AUTH_MAC_LEN];
    uint8_t want[RDMX_AUTH_MAC_LEN];
    if (len < RDMX_VERBS_CONN_LEN)
        return RDMX_ERR_PROTO;
    GET(in, 0, magic);
    if (magic != RDMX_VERBS_CONN_MAGIC)
        return RDMX_ERR_PROTO;
    rdmx_auth_hmac(secret, secret_len, in, 48, want);
    memset(mac, 0, sizeof(mac));
    memcpy(mac, in + 48, RDMX_VERBS_CONN_MAC_LEN);
    memset(want + RDMX_VERBS_CONN_MAC_LEN, 0,
           RDMX_AUTH_MAC_LEN - RDMX_VERBS_CONN_MAC_LEN);
    if (!rdmx_auth_mac_equal(mac, want))
        return RDMX_ERR_AUTH;
    m->type = in[4];
    m->mtu = in[5];
    GET(in, 8, m->src_rank);
    GET(in, 12, m->dst_rank);
    GET(in, 16, m->qpn);
    GET(in, 20, m->psn);
    GET(in, 24, m->credits);
    if (m->type != RDMX_VERBS_CONN_REQ && m->type != RDMX_VERBS_CONN_REP)
        return RDMX_ERR_PROTO;
    if (m->src_rank < 0 || m->src_rank >= world || m->src_rank == me ||
        m->dst_rank != me)
        return RDMX_ERR_PROTO;
    if (m->qpn == 0 || m->qpn > 0xffffff || m->psn > 0xffffff)
        return RDMX_ERR_PROTO;
    if (m->mtu < 1 || m->mtu > 5 || m->credits == 0 || m->credits > 0xffff)
        return RDMX_ERR_PROTO;
    return RDMX_OK;
}

/*
 * RC frame header (8 bytes), followed for MSG by the 32-byte core header and
 * hdr.len payload bytes:
 *
 *   0       1       2               4                               8
 *   +-------+-------+---------------+-------------------------------+
 *   | kind  | rsvd  |   credits     |   len (bytes after this hdr)  |
 *   +-------+-------+---------------+-------------------------------+
 */
void rdmx_verbs_frame_pack(const rdmx_verbs_frame_t *f,
                           uint8_t out[RDMX_VERBS_FRAME_HDR])
{
    out[0] = f->kind;
    out[1] = 0;
    PUT(out, 2, f->credits);
    PUT(out, 4, f->len);
}

rdmx_status_t rdmx_verbs_frame_unpack(const uint8_t *in, size_t byte_len,
                                      size_t max_payload, rdmx_verbs_frame_t *f)
{
    if (byte_len < RDMX_VERBS_FRAME_HDR)
        return RDMX_ERR_PROTO;
    f->kind = in[0];
    GET(in, 2, f->credits);
    GET(in, 4, f->len);
    if (in[1] != 0 || (size_t)f->len != byte_len - RDMX_VERBS_FRAME_HDR)
        return RDMX_ERR_PROTO;
    switch (f->kind) {
    case RDMX_VERBS_FRAME_CREDIT:
        return f->len == 0 ? RDMX_OK : RDMX_ERR_PROTO;
    case RDMX_VERBS_FRAME_MSG: {
        rdmx_wire_hdr_t h;
        if (f->len < sizeof(h))
            return RDMX_ERR_PROTO;
        memcpy(&h, in + RDMX_VERBS_FRAME_HDR, sizeof(h));
        /* The core header's own length must match what arrived: never
         * trust a length the peer wrote. */
        if (h.len > max_payload || h.len != f->len - sizeof(h))
            return RDMX_ERR_PROTO;
        return RDMX_OK;
    }
    default:
        return RDMX_ERR_PROTO;
    }
}

/*
 * Packed remote key (24 bytes) in rdmx_memh_t.rkey and RTS descriptors. It
 * carries the registered range so that a reader can check a request against
 * it before posting (a bad READ would otherwise kill the QP):
 *
 *   0               4               8                              16
 *   +---------------+---------------+-------------------------------+
 *   |  rkey (u32)   |  reserved (0) |          base (u64)           |
 *   +---------------+---------------+-------------------------------+
 *16 |          len (u64)            |
 *   +-------------------------------+
 */
void rdmx_verbs_rkey_pack(uint64_t base, uint64_t len, uint32_t rkey,
                          uint8_t *out, uint32_t *out_len)
{
    uint32_t zero = 0;
    PUT(out, 0, rkey);
    PUT(out, 4, zero);
    PUT(out, 8, base);
    PUT(out, 16, len);
    *out_len = RDMX_VERBS_RKEY_LEN;
}

rdmx_status_t rdmx_verbs_rkey_unpack(const uint8_t *in, uint32_t in_len,
                                     uint64_t addr, uint64_t len,
                                     uint32_t *rkey)
{
    uint32_t rsvd;
    uint64_t base, rlen;
    if (in_len != RDMX_VERBS_RKEY_LEN)
        return RDMX_ERR_PROTO;
    GET(in, 0, *rkey);
    GET(in, 4, rsvd);
    GET(in, 8, base);
    GET(in, 16, rlen);
    if (rsvd != 0 || base + rlen < base)
        return RDMX_ERR_PROTO;
    if (addr < base || len > rlen || addr - base > rlen - len)
        return RDMX_ERR_PROTO;
    return RDMX_OK;
}
