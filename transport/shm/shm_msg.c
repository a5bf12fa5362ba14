/*
 * shm_msg.c — decoding of message records (see shm_msg.h).
 */
#include <string.h>

#include "shm_msg.h"

const char *rdmx_shm_msg_decode(int is_short, const unsigned char *body,
                                size_t len, rdmx_wire_hdr_t *hdr,
                                const unsigned char **payload)
{
    if (is_short) {
        rdmx_shm_short_hdr_t sh;

        if (len < sizeof(sh))
            return "ring record shorter than a short message header";
        memcpy(&sh, body, sizeof(sh));
        /* The rest of the wire header is implied: a plain eager message. */
        memset(hdr, 0, sizeof(*hdr));
        hdr->type = RDMX_MSG_EAGER;
        hdr->context_id = sh.context_id;
        hdr->src = sh.src;
        hdr->tag = sh.tag;
        hdr->len = len - sizeof(sh);
        *payload = body + sizeof(sh);
        return NULL;
    }
    if (len < sizeof(*hdr))
        return "ring record shorter than a wire header";
    memcpy(hdr, body, sizeof(*hdr));
    if (hdr->len != len - sizeof(*hdr))
        return "wire header length disagrees with the ring record";
    *payload = body + sizeof(*hdr);
    return NULL;
}
