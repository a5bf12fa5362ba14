/*
 * verbs_wire.h — what the verbs transport puts on the wire besides the
 * core's 32-byte header, packed and validated in verbs_wire.c. Pure code (no
 * libibverbs), so the formats are unit-tested without a device.
 */
#ifndef RDMX_VERBS_WIRE_H
#define RDMX_VERBS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/proto.h"
#include "core/status.h"

/* ---- per-rank address, published with rdmx_modex_put ------------------- */
#define RDMX_VERBS_ADDR_VERSION 1
#define RDMX_VERBS_ADDR_LEN 40

typedef struct rdmx_verbs_addr {
    uint8_t gid[16];    /* RoCE: the chosen GID; IB: port GID 0 */
    uint32_t ud_qpn;    /* connection-manager UD QP */
    uint16_t lid;       /* IB: port LID (0 on RoCE) */
    uint8_t link_layer; /* IBV_LINK_LAYER_* */
    uint8_t mtu;        /* enum ibv_mtu of the port */
    uint64_t subnet;    /* IB subnet prefix (reachability on IB) */
    uint32_t flags;     /* reserved, 0 */
} rdmx_verbs_addr_t;

void rdmx_verbs_addr_pack(const rdmx_verbs_addr_t *a,
                          uint8_t out[RDMX_VERBS_ADDR_LEN]);
rdmx_status_t rdmx_verbs_addr_unpack(const uint8_t *in, size_t len,
                                     rdmx_verbs_addr_t *a);

/* ---- connection request/reply over the UD QP ---------------------------- */
#define RDMX_VERBS_CONN_MAGIC 0x43584452u /* "RDXC" */
#define RDMX_VERBS_CONN_LEN 64
#define RDMX_VERBS_CONN_MAC_LEN 16

enum rdmx_verbs_conn_type {
    RDMX_VERBS_CONN_REQ = 1, /* here is my QP for you; answer with yours */
    RDMX_VERBS_CONN_REP = 2, /* here is my QP for you (no answer wanted) */
};

typedef struct rdmx_verbs_conn_msg {
    uint8_t type;
    uint8_t mtu;      /* sender's port MTU (enum ibv_mtu) */
    int32_t src_rank; /* sender's world rank */
    int32_t dst_rank; /* receiver's world rank */
    uint32_t qpn;     /* sender's RC QP dedicated to the receiver */
    uint32_t psn;     /* its initial send PSN (24 bits) */
    uint32_t credits; /* eager buffers the receiver may use at once */
} rdmx_verbs_conn_msg_t;

/* The MAC is HMAC-SHA256(job secret, bytes 0..47) truncated to 16 bytes: a
 * UD QP accepts datagrams from anyone who learns its QPN. */
void rdmx_verbs_conn_pack(const rdmx_verbs_conn_msg_t *m, const uint8_t *secret,
                          size_t secret_len, uint8_t out[RDMX_VERBS_CONN_LEN]);
/* Validates length, magic, MAC, type, ranks (`me`, `world`), PSN and MTU
 * range. */
rdmx_status_t rdmx_verbs_conn_unpack(const uint8_t *in, size_t len,
                                     const uint8_t *secret, size_t secret_len,
                                     int me, int world,
                                     rdmx_verbs_conn_msg_t *m);

/* ---- frame on an RC QP: 8-byte verbs header + core header + payload ----- */
#define RDMX_VERBS_FRAME_HDR 8

enum rdmx_verbs_frame_kind {
    RDMX_VERBS_FRAME_MSG = 1,    /* core header + payload follow */
    RDMX_VERBS_FRAME_CREDIT = 2, /* credits only; no core header */
};

typedef struct rdmx_verbs_frame {
    uint8_t kind;
    uint16_t credits; /* eager buffers the sender has re-posted for us */
    uint32_t len;     /* bytes after this 8-byte header */
} rdmx_verbs_frame_t;

void rdmx_verbs_frame_pack(const rdmx_verbs_frame_t *f,
                           uint8_t out[RDMX_VERBS_FRAME_HDR]);
/* `byte_len` is what the completion says arrived; `max_payload` the eager
 * payload limit. For MSG the core header follows the 8 bytes, its len
 * checked against byte_len. */
rdmx_status_t rdmx_verbs_frame_unpack(const uint8_t *in, size_t byte_len,
                                      size_t max_payload,
                                      rdmx_verbs_frame_t *f);

/* ---- packed remote key of a registration (rdmx_memh_t.rkey) -------------- */
#define RDMX_VERBS_RKEY_LEN 24
void rdmx_verbs_rkey_pack(uint64_t base, uint64_t len, uint32_t rkey,
                          uint8_t *out, uint32_t *out_len);
/* Checks that [addr, addr+len) lies inside the registration the key names. */
rdmx_status_t rdmx_verbs_rkey_unpack(const uint8_t *in, uint32_t in_len,
                                     uint64_t addr, uint64_t len,
                                     uint32_t *rkey);

#endif
