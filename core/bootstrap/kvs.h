/*
 * kvs.h — a string key-value store (open addressing, FNV-1a).
 *
 * Used by the PMI server in mpirun/proxies and by the singleton PMI client.
 * Keys and values are copied. The store refuses to grow past `max_bytes` of
 * keys+values so that a misbehaving rank cannot exhaust the launcher's
 * memory.
 */
#ifndef RDMX_KVS_H
#define RDMX_KVS_H

#include <stddef.h>

#include "../status.h"

typedef struct rdmx_kvs rdmx_kvs_t;

rdmx_status_t rdmx_kvs_create(rdmx_kvs_t **kvs, size_t max_bytes);
void rdmx_kvs_destroy(rdmx_kvs_t *kvs);
/* Insert or replace. RDMX_ERR_NOMEM when the byte budget is exhausted. */
rdmx_status_t rdmx_kvs_put(rdmx_kvs_t *kvs, const char *key, const char *value);
/* The stored value or NULL; valid until the key is replaced. */
const char *rdmx_kvs_get(const rdmx_kvs_t *kvs, const char *key);
size_t rdmx_kvs_count(const rdmx_kvs_t *kvs);

#endif
