/*
 * pmi_auth.c — MAC computation shared by the PMI_PORT client and server.
 */
#include "pmi_auth.h"

#include <stdio.h>
#include <string.h>

void rdmx_pmi_auth_mac(const uint8_t *secret, size_t secret_len,
                       const uint8_t nonce[RDMX_AUTH_NONCE_LEN],
                       const char *role, int rank,
                       uint8_t out[RDMX_AUTH_MAC_LEN])
{
    uint8_t msg[RDMX_AUTH_NONCE_LEN + 64];
    int n;

    memcpy(msg, nonce, RDMX_AUTH_NONCE_LEN);
    n = snprintf((char *)msg + RDMX_AUTH_NONCE_LEN, 64, "%s:%d", role, rank);
    if (n < 0 || n >= 64)
        n = 63;
    rdmx_auth_hmac(secret, secret_len, msg, RDMX_AUTH_NONCE_LEN + (size_t)n,
                   out);
}
