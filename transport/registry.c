/*
 * registry.c — the transports rdmx knows, in preference order.
 *
 * References are strong so that static links (librdmx.a) pull every
 * transport in; verbs is present only when libibverbs was found at build
 * time. The core picks, for each peer, the highest-priority open transport
 * that reaches it; RDMX_TRANSPORTS restricts the set.
 */
#include "rdmx_build_config.h"
#include "transport.h"

extern const rdmx_transport_ops_t rdmx_self_ops;
extern const rdmx_transport_ops_t rdmx_shm_ops;
extern const rdmx_transport_ops_t rdmx_tcp_ops;
#if RDMX_HAVE_VERBS
extern const rdmx_transport_ops_t rdmx_verbs_ops;
#endif

const rdmx_transport_ops_t *const rdmx_transport_registry[] = {
    &rdmx_self_ops,
    &rdmx_shm_ops,
#if RDMX_HAVE_VERBS
    &rdmx_verbs_ops,
#endif
    &rdmx_tcp_ops,
};
const size_t rdmx_transport_registry_len =
    sizeof(rdmx_transport_registry) / sizeof(rdmx_transport_registry[0]);
