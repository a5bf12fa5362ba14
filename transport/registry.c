/*
 * registry.c — the transports rdmx knows, in preference order.
 *
 * Each entry is a weak reference: a transport compiled out (verbs without
 * libibverbs) simply is not there. The core picks, for each peer, the first
 * transport in this order that is open and reaches the peer; RDMX_TRANSPORTS
 * restricts the set.
 */
#include "transport.h"

extern const rdmx_transport_ops_t rdmx_self_ops __attribute__((weak));
extern const rdmx_transport_ops_t rdmx_shm_ops __attribute__((weak));
extern const rdmx_transport_ops_t rdmx_verbs_ops __attribute__((weak));
extern const rdmx_transport_ops_t rdmx_tcp_ops __attribute__((weak));

/* Entries may be NULL (weak, not linked): skip them. */
const rdmx_transport_ops_t *const rdmx_transport_registry[] = {
    &rdmx_self_ops, &rdmx_shm_ops, &rdmx_verbs_ops, &rdmx_tcp_ops,
};
const size_t rdmx_transport_registry_len =
    sizeof(rdmx_transport_registry) / sizeof(rdmx_transport_registry[0]);
