/*
 * pmi_auth.h — the MACs of the PMI_PORT handshake (messages in pmi_wire.h).
 *
 * The server's nonce is answered by the client with
 *     HMAC-SHA256(secret, server_nonce || "rdmx-pmi-client:" || rank)
 * and the client's nonce by the server with
 *     HMAC-SHA256(secret, client_nonce || "rdmx-pmi-server:" || rank)
 * so a MAC can neither be reflected back nor replayed for another rank.
 * The secret is the 32-byte per-job secret (RDMX_JOB_SECRET, hex).
 */
#ifndef RDMX_PMI_AUTH_H
#define RDMX_PMI_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "../auth.h"

#define RDMX_PMI_AUTH_CLIENT "rdmx-pmi-client"
#define RDMX_PMI_AUTH_SERVER "rdmx-pmi-server"

void rdmx_pmi_auth_mac(const uint8_t *secret, size_t secret_len,
                       const uint8_t nonce[RDMX_AUTH_NONCE_LEN],
                       const char *role, int rank,
                       uint8_t out[RDMX_AUTH_MAC_LEN]);

#endif
