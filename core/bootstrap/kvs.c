/*
 * kvs.c — open-addressing string map behind the PMI key-value spaces.
 */
#include "kvs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct rdmx_kvs_slot {
    char *key; /* NULL = empty; never deleted, so no tombstones */
    char *value;
} rdmx_kvs_slot_t;

struct rdmx_kvs {
    rdmx_kvs_slot_t *slots;
    size_t nslots; /* power of two */
    size_t count;
    size_t bytes, max_bytes;
};

static uint64_t kvs_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

static rdmx_kvs_slot_t *kvs_find(rdmx_kvs_slot_t *slots, size_t nslots,
                                 const char *key)
{
    size_t i = (size_t)kvs_hash(key) & (nslots - 1);

    while (slots[i].key && strcmp(slots[i].key, key) != 0)
        i = (i + 1) & (nslots - 1);
    return &slots[i];
}

rdmx_status_t rdmx_kvs_create(rdmx_kvs_t **kvs, size_t max_bytes)
{
    rdmx_kvs_t *k = calloc(1, sizeof(*k));

    if (!k)
        return RDMX_ERR_NOMEM;
    k->nslots = 64;
    k->slots = calloc(k->nslots, sizeof(*k->slots));
    if (!k->slots) {
        free(k);
        return RDMX_ERR_NOMEM;
    }
    k->max_bytes = max_bytes;
    *kvs = k;
    return RDMX_OK;
}

void rdmx_kvs_destroy(rdmx_kvs_t *kvs)
{
    if (!kvs)
        return;
    for (size_t i = 0; i < kvs->nslots; i++) {
        free(kvs->slots[i].key);
        free(kvs->slots[i].value);
    }
    free(kvs->slots);
    free(kvs);
}

static rdmx_status_t kvs_grow(rdmx_kvs_t *kvs)
{
    size_t n = kvs->nslots * 2;
    rdmx_kvs_slot_t *s = calloc(n, sizeof(*s));

    if (!s)
        return RDMX_ERR_NOMEM;
    for (size_t i = 0; i < kvs->nslots; i++)
        if (kvs->slots[i].key)
            *kvs_find(s, n, kvs->slots[i].key) = kvs->slots[i];
    free(kvs->slots);
    kvs->slots = s;
    kvs->nslots = n;
    return RDMX_OK;
}

rdmx_status_t rdmx_kvs_put(rdmx_kvs_t *kvs, const char *key, const char *value)
{
    rdmx_kvs_slot_t *slot;
    size_t vlen = strlen(value), klen = strlen(key);
    char *v;

    if (!kvs || !key || !value)
        return RDMX_ERR_INVALID;
    if ((kvs->count + 1) * 2 > kvs->nslots && kvs_grow(kvs) != RDMX_OK)
        return RDMX_ERR_NOMEM;
    slot = kvs_find(kvs->slots, kvs->nslots, key);
    if (slot->key) {
        size_t old = strlen(slot->value);
        if (kvs->bytes - old + vlen > kvs->max_bytes)
            return RDMX_ERR_NOMEM;
        v = strdup(value);
        if (!v)
            return RDMX_ERR_NOMEM;
        free(slot->value);
        slot->value = v;
        kvs->bytes = kvs->bytes - old + vlen;
        return RDMX_OK;
    }
    if (kvs->bytes + klen + vlen > kvs->max_bytes)
        return RDMX_ERR_NOMEM;
    v = strdup(value);
    slot->key = strdup(key);
    if (!v || !slot->key) {
        free(v);
        free(slot->key);
        slot->key = NULL;
        return RDMX_ERR_NOMEM;
    }
    slot->value = v;
    kvs->count++;
    kvs->bytes += klen + vlen;
    return RDMX_OK;
}

const char *rdmx_kvs_get(const rdmx_kvs_t *kvs, const char *key)
{
    rdmx_kvs_slot_t *slot;

    if (!kvs || !key)
        return NULL;
    slot = kvs_find(kvs->slots, kvs->nslots, key);
    return slot->key ? slot->value : NULL;
}

size_t rdmx_kvs_count(const rdmx_kvs_t *kvs)
{
    return kvs ? kvs->count : 0;
}
