/*
 * shm_segment.c — create, attach and unlink the per-rank inbound segments.
 *
 * Lifetime: the owner creates its segment in open(); every local peer maps
 * it in wireup() and increments `attached`; the peer that brings the count
 * to local_size - 1 unlinks the name at once, so after wireup nothing is
 * left in /dev/shm even if a rank is SIGKILLed later (the mappings keep the
 * memory alive). A job killed before wireup completes leaves names behind;
 * the launcher removes /dev/shm/rdmx-<job>-* at job end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/runtime.h"
#include "shm_internal.h"

rdmx_status_t rdmx_shm_segment_name(const char *job_id, int rank, char *buf,
                                    size_t len)
{
    char job[64];
    size_t i;
    int n;

    /* The job id comes from the launcher's environment: keep only
     * characters that are safe in a file name. */
    for (i = 0; job_id[i] && i < sizeof(job) - 1; i++) {
        char ch = job_id[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
                 ch == '.';
        job[i] = ok ? ch : '_';
    }
    job[i] = '\0';
    n = snprintf(buf, len, "/rdmx-%s-shm%d", job[0] ? job : "nojob", rank);
    if (n < 0 || (size_t)n >= len)
        return RDMX_ERR_INVALID;
    return RDMX_OK;
}

/* Map the pages of [addr, addr + len) now. Every page of a ring is
 * otherwise first touched in the middle of a message (a minor fault each,
 * tens of microseconds under some hypervisors) until the ring has gone
 * round once. Best effort: older kernels lack MADV_POPULATE_WRITE and only
 * lose the head start. */
static void rdmx_shm_prefault(void *addr, size_t len)
{
#ifdef MADV_POPULATE_WRITE
    uintptr_t lo = (uintptr_t)addr & ~(uintptr_t)4095;
    uintptr_t hi = ((uintptr_t)addr + len + 4095) & ~(uintptr_t)4095;

    if (madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) != 0)
        RDMX_DEBUG("shm: madvise(MADV_POPULATE_WRITE) failed: %s",
                   strerror(errno));
#else
    (void)addr;
    (void)len;
#endif
}

static rdmx_shm_ring_shared_t *rdmx_shm_ring_in(rdmx_shm_ctl_t *ctl, int i)
{
    return (rdmx_shm_ring_shared_t *)((char *)ctl + ctl->ring_offset +
                                      (size_t)i * ctl->ring_stride);
}

rdmx_status_t rdmx_shm_segment_create(rdmx_shm_transport_t *tp)
{
    rdmx_runtime_t *rt = tp->base.rt;
    size_t stride, off, coop_off, bytes, fanout_off, coll_off;
    rdmx_shm_ctl_t *ctl;
    rdmx_status_t st;
    int fd, err;

    st = rdmx_shm_segment_name(rt->job_id, rt->rank, tp->seg_name,
                               sizeof(tp->seg_name));
    if (st != RDMX_OK)
        return st;
    stride = rdmx_shm_ring_footprint(tp->ring_cells);
    coop_off = (sizeof(rdmx_shm_ctl_t) + 63) & ~(size_t)63;
    off = coop_off + (size_t)tp->local_size * RDMX_SHM_COOP_SLOTS *
                         sizeof(rdmx_shm_coop_t);
    off = (off + 4095) & ~(size_t)4095;
    bytes = off + stride * (size_t)tp->local_size;
    bytes = (bytes + 4095) & ~(size_t)4095;
    fanout_off = bytes;
    bytes += tp->fanout_bytes;
    coll_off = bytes; /* both sizes are whole pages */
    bytes += tp->coll_bytes;

    /* A leftover of an earlier job with the same id would be stale. */
    shm_unlink(tp->seg_name);
    fd = shm_open(tp->seg_name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        RDMX_ERROR("shm: shm_open(%s) failed on %s: %s", tp->seg_name,
                   rt->hostname, strerror(errno));
        return RDMX_ERR_IO;
    }
    /* Reserve the pages now: a full /dev/shm must fail here with a clear
     * message, not with SIGBUS at the first message. */
    err = posix_fallocate(fd, 0, (off_t)bytes);
    if (err != 0) {
        RDMX_ERROR("shm: cannot allocate %zu bytes for %s in /dev/shm on "
                   "%s: %s (free space in /dev/shm, or lower "
                   "RDMX_SHM_RING_CELLS)",
                   bytes, tp->seg_name, rt->hostname, strerror(err));
        st = RDMX_ERR_NOMEM;
        goto err_unlink;
    }
    ctl = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ctl == MAP_FAILED) {
        RDMX_ERROR("shm: mmap(%s, %zu) failed: %s", tp->seg_name, bytes,
                   strerror(errno));
        st = RDMX_ERR_IO;
        goto err_unlink;
    }
    close(fd);
    fd = -1;

    ctl->version = RDMX_SHM_VERSION;
    ctl->local_size = (uint32_t)tp->local_size;
    ctl->ring_cells = tp->ring_cells;
    ctl->seg_bytes = bytes;
    ctl->ring_offset = off;
    ctl->ring_stride = stride;
    ctl->coop_offset = coop_off;
    ctl->fanout_offset = fanout_off;
    ctl->fanout_bytes = tp->fanout_bytes;
    ctl->coll_offset = coll_off;
    ctl->coll_bytes = tp->coll_bytes;
    atomic_store_explicit(&ctl->fanout_gen, 0, memory_order_relaxed);
    ctl->owner_rank = rt->rank;
    ctl->owner_pid = (int32_t)getpid();
    rdmx_shm_cma_publish(ctl);
    ctl->membarrier = (uint32_t)tp->membarrier;
    atomic_store_explicit(&ctl->attached, 0, memory_order_relaxed);
    atomic_store_explicit(&ctl->sleeping, 0, memory_order_relaxed);
    for (int i = 0; i < tp->local_size; i++) {
        if (i == tp->local_rank)
            continue;
        rdmx_shm_ring_init(rdmx_shm_ring_in(ctl, i), tp->ring_cells);
        if (rdmx_shm_ring_consumer_attach(
                &tp->cons[i], rdmx_shm_ring_in(ctl, i), stride) != 0) {
            st = RDMX_ERR_INTERNAL;
            munmap(ctl, bytes);
            goto err_unlink;
        }
    }
    /* Magic last: a peer never sees a half-initialised segment (it maps
     * after the PMI fence anyway). */
    atomic_thread_fence(memory_order_release);
    ctl->magic = RDMX_SHM_MAGIC;
    tp->ctl = ctl;
    tp->seg_bytes = bytes;
    /* We consume every ring of our segment. */
    rdmx_shm_prefault(ctl, bytes);
    return RDMX_OK;

err_unlink:
    if (fd >= 0)
        close(fd);
    shm_unlink(tp->seg_name);
    return st;
}

rdmx_status_t rdmx_shm_segment_attach(rdmx_shm_transport_t *tp, rdmx_ep_t *ep)
{
    rdmx_runtime_t *rt = tp->base.rt;
    char name[RDMX_SHM_NAME_MAX];
    rdmx_shm_ctl_t *ctl;
    struct stat sb;
    rdmx_status_t st;
    size_t bytes;
    int fd, rc;

    st = rdmx_shm_segment_name(rt->job_id, ep->peer, name, sizeof(name));
    if (st != RDMX_OK)
        return st;
    fd = shm_open(name, O_RDWR, 0);
    if (fd < 0) {
        RDMX_ERROR("shm: rank %d cannot open the segment %s of rank %d on "
                   "%s: %s",
                   rt->rank, name, ep->peer, rt->hostname, strerror(errno));
        return RDMX_ERR_IO;
    }
    if (fstat(fd, &sb) != 0 || sb.st_size < (off_t)sizeof(*ctl)) {
        RDMX_ERROR("shm: segment %s of rank %d is truncated", name, ep->peer);
        close(fd);
        return RDMX_ERR_PROTO;
    }
    bytes = (size_t)sb.st_size;
    ctl = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (ctl == MAP_FAILED) {
        RDMX_ERROR("shm: mmap of %s (rank %d, %zu bytes) failed: %s", name,
                   ep->peer, bytes, strerror(errno));
        return RDMX_ERR_IO;
    }
    /* Validate the geometry before using any offset from it. */
    if (ctl->magic != RDMX_SHM_MAGIC || ctl->version != RDMX_SHM_VERSION ||
        ctl->local_size != (uint32_t)tp->local_size ||
        ctl->owner_rank != ep->peer || ctl->seg_bytes != bytes ||
        ctl->ring_offset < sizeof(*ctl) || ctl->ring_stride == 0 ||
        ctl->coop_offset < sizeof(*ctl) ||
        ctl->coop_offset + (uint64_t)ctl->local_size * RDMX_SHM_COOP_SLOTS *
                sizeof(rdmx_shm_coop_t) >
            ctl->ring_offset ||
        ctl->ring_offset + ctl->ring_stride * ctl->local_size > bytes ||
        ctl->fanout_offset < ctl->ring_offset ||
        ctl->fanout_offset > bytes ||
        ctl->fanout_bytes > bytes - ctl->fanout_offset ||
        ctl->coll_offset < ctl->ring_offset || ctl->coll_offset > bytes ||
        ctl->coll_bytes > bytes - ctl->coll_offset) {
        RDMX_ERROR("shm: segment %s of rank %d on %s is not a valid rdmx "
                   "v%u segment for a node of %d ranks",
                   name, ep->peer, rt->hostname, RDMX_SHM_VERSION,
                   tp->local_size);
        munmap(ctl, bytes);
        return RDMX_ERR_PROTO;
    }
    /* Collectives choose by the area's size: it must be one job-wide. */
    if (ctl->coll_bytes != tp->coll_bytes) {
        RDMX_ERROR("shm: rank %d has a collective area of %llu bytes, rank "
                   "%d of %zu: set RDMX_SHM_COLL_BYTES alike for all ranks",
                   ep->peer, (unsigned long long)ctl->coll_bytes, rt->rank,
                   tp->coll_bytes);
        munmap(ctl, bytes);
        return RDMX_ERR_PROTO;
    }
    rc = rdmx_shm_ring_producer_attach(
        &ep->prod, rdmx_shm_ring_in(ctl, tp->local_rank), ctl->ring_stride);
    if (rc != 0) {
        if (rc == RDMX_SHM_RING_NOMEM)
            RDMX_ERROR("shm: rank %d has no memory for the bookkeeping of its "
                       "ring to rank %d",
                       rt->rank, ep->peer);
        else
            RDMX_ERROR("shm: ring %d in segment %s of rank %d is corrupt",
                       tp->local_rank, name, ep->peer);
        munmap(ctl, bytes);
        return rc == RDMX_SHM_RING_NOMEM ? RDMX_ERR_NOMEM : RDMX_ERR_PROTO;
    }
    /* Our records to the peer carry how far we have read its records. */
    rdmx_shm_ring_pair(&ep->prod, &tp->cons[ep->local]);
    ep->ctl = ctl;
    ep->seg_bytes = bytes;
    /* Of the peer's segment we write the control page, our shared-copy
     * slots and the ring we produce into. */
    rdmx_shm_prefault(ctl, ctl->ring_offset);
    rdmx_shm_prefault(rdmx_shm_ring_in(ctl, tp->local_rank), ctl->ring_stride);
    ep->pid = ctl->owner_pid;
    ep->light = tp->membarrier && ctl->membarrier == 1;
    /* The last peer to attach removes the name. */
    if (atomic_fetch_add_explicit(&ctl->attached, 1, memory_order_acq_rel) +
            1 ==
        (uint32_t)tp->local_size - 1) {
        if (shm_unlink(name) != 0 && errno != ENOENT)
            RDMX_WARN("shm: shm_unlink(%s) failed: %s", name, strerror(errno));
    }
    return RDMX_OK;
}

void rdmx_shm_segment_destroy(rdmx_shm_transport_t *tp)
{
    for (int i = 0; tp->eps && i < tp->local_size; i++) {
        rdmx_shm_ring_producer_detach(&tp->eps[i].prod);
        if (tp->eps[i].ctl)
            munmap(tp->eps[i].ctl, tp->eps[i].seg_bytes);
        tp->eps[i].ctl = NULL;
    }
    if (tp->ctl) {
        /* Normally unlinked by the last attacher already; not when a peer
         * never attached (failed init). */
        if (shm_unlink(tp->seg_name) != 0 && errno != ENOENT)
            RDMX_WARN("shm: shm_unlink(%s) failed: %s", tp->seg_name,
                      strerror(errno));
        munmap(tp->ctl, tp->seg_bytes);
        tp->ctl = NULL;
    }
}
