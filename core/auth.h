/*
 * auth.h — proving knowledge of the per-job secret.
 *
 * Every listening socket of rdmx (TCP transport, PMI_PORT server, proxies)
 * runs a challenge-response before trusting a peer: the acceptor sends a
 * random nonce, the connector answers HMAC-SHA256(secret, nonce || context),
 * and (mutual) the connector's own nonce is answered the same way. The secret
 * itself never crosses the wire.
 */
#ifndef RDMX_AUTH_H
#define RDMX_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define RDMX_AUTH_NONCE_LEN 16
#define RDMX_AUTH_MAC_LEN 32

/* Fill `buf` with cryptographically random bytes (getrandom). */
rdmx_status_t rdmx_auth_random(void *buf, size_t len);
/* HMAC-SHA256 of `msg` under `key`. */
void rdmx_auth_hmac(const uint8_t *key, size_t key_len, const void *msg,
                    size_t msg_len, uint8_t out[RDMX_AUTH_MAC_LEN]);
/* Constant-time comparison of two MACs: 1 if equal. */
int rdmx_auth_mac_equal(const uint8_t *a, const uint8_t *b);
/* SHA-256 (exposed for tests and key derivation). */
void rdmx_auth_sha256(const void *msg, size_t len, uint8_t out[32]);
/* Hex helpers for secrets passed through the environment/KVS. Returns 0 on
 * success, -1 on malformed text. */
void rdmx_hex_encode(const void *data, size_t len, char *out /* 2*len+1 */);
int rdmx_hex_decode(const char *text, void *out, size_t out_len);

#endif
