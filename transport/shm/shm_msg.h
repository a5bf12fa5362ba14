/*
 * shm_msg.h — the two ring record formats of a message (full wire header
 * or the short header of a plain eager message) and their decoding. A
 * record's bytes come from another process: decoding checks every length
 * before the core sees the header.
 */
#ifndef RDMX_SHM_MSG_H
#define RDMX_SHM_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/proto.h"
#include "shm_ring.h"

/* The header of a plain eager message (no flags, nothing to acknowledge)
 * when it saves the record a cell: the fields of rdmx_wire_hdr_t that
 * matching needs, 12 bytes instead of 32. Up to 36 payload bytes then
 * share one cache line with the record header; with the full header, 17
 * bytes took a second line (2 ranks, 32 B ping-pong: 0.51 us against 0.37
 * with the short header). */
typedef struct rdmx_shm_short_hdr {
    uint32_t context_id;
    int32_t src;
    int32_t tag;
} rdmx_shm_short_hdr_t;

/* Does a message of `total` payload bytes go with the short header? */
static inline int rdmx_shm_msg_short_ok(const rdmx_wire_hdr_t *hdr,
                                        size_t total)
{
    return hdr->type == RDMX_MSG_EAGER && hdr->flags == 0 &&
           hdr->reserved == 0 &&
           rdmx_shm_rec_need(sizeof(rdmx_shm_short_hdr_t) + total) <
               rdmx_shm_rec_need(sizeof(*hdr) + total);
}

static inline void rdmx_shm_msg_short_write(void *dst,
                                            const rdmx_wire_hdr_t *hdr)
{
    rdmx_shm_short_hdr_t sh = {hdr->context_id, hdr->src, hdr->tag};
    __builtin_memcpy(dst, &sh, sizeof(sh));
}

/* Decode a record body of `len` bytes: a full wire header (`is_short` 0)
 * or a short one. Fills *hdr and *payload (hdr->len bytes at it); returns
 * NULL, or what is wrong with the record. */
const char *rdmx_shm_msg_decode(int is_short, const unsigned char *body,
                                size_t len, rdmx_wire_hdr_t *hdr,
                                const unsigned char **payload);

#endif
