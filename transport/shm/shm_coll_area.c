/*
 * shm_coll_area.c — the collective area: a part of every local rank's
 * segment that the blocking collectives of a single-host communicator use
 * to combine data through memcpy instead of messages (allreduce, reduce,
 * allgather and alltoall in collectives/shared.c). On this kind of machine a copy from a
 * peer's mapped memory runs at memcpy speed, where process_vm_readv pays
 * for pinning every page (1 MiB: 27-37 us against 79-125 us).
 *
 * The transport only provides the memory. Who writes when is the
 * collective's business: each rank writes only its own area and tells the
 * others by zero-byte messages when they may read it, so no flag in the
 * area is trusted and a peer cannot make us read outside it.
 */
#include "core/config.h"
#include "shm_internal.h"

RDMX_CONFIG_VAR("RDMX_SHM_COLL_BYTES", "1m",
                "shm: collective area per rank (on nodes of 3 or more "
                "ranks) through which blocking collectives on one host "
                "combine data; must be the same for all ranks; 0 = none");

void rdmx_shm_coll_area_init(rdmx_shm_transport_t *tp)
{
    size_t b = rdmx_config_size("RDMX_SHM_COLL_BYTES");
    tp->coll_bytes = tp->local_size >= 3 ? (b + 4095) & ~(size_t)4095 : 0;
}

void *rdmx_shm_coll_area(rdmx_transport_t *base, rdmx_ep_t *ep, size_t *bytes)
{
    rdmx_shm_transport_t *tp = (rdmx_shm_transport_t *)base;
    rdmx_shm_ctl_t *ctl = ep ? ep->ctl : tp->ctl;
    *bytes = 0;
    if (!ctl || !tp->coll_bytes)
        return NULL;
    *bytes = ctl->coll_bytes;
    return (char *)ctl + ctl->coll_offset;
}
