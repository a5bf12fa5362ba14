/*
 * shm_fence.c — asymmetric fences for the sleep/wake handshakes.
 *
 * Two handshakes need store-load ordering between processes:
 *   sender:   write record;  [fence]  read receiver's "sleeping"
 *   sleeper:  set "sleeping"; [fence]  look at the rings again
 * (and the same shape for a producer waiting for ring room). A full fence
 * on the sender's side costs a drain of its store buffer on every message,
 * including the store into the cache line the receiver is polling: in a
 * message-rate test it was the hottest instruction of the library.
 *
 * The sides are not equally frequent: senders run per message, sleepers a
 * few times per millisecond at most. So the frequent side keeps only a
 * compiler barrier and the rare side issues membarrier(GLOBAL_EXPEDITED),
 * which runs a full barrier on every CPU currently executing a registered
 * process (a process not on a CPU has passed a context switch, which is a
 * full barrier too). This is the pattern of the membarrier(2) man page.
 *
 * Both ends must agree: a rank sends without a fence towards a peer only
 * if it is registered itself (so the peer's membarrier reaches it) and the
 * peer announced in its segment that it sleeps with membarrier. When the
 * kernel or a seccomp filter refuses, everything falls back to fences.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "shm_internal.h"

RDMX_CONFIG_VAR("RDMX_SHM_MEMBARRIER", "1",
                "shm: 1 = senders skip the per-message fence and sleepers "
                "use membarrier(2); 0 = a fence on both sides");

static int rdmx_membarrier(int cmd)
{
#ifdef __NR_membarrier
    return (int)syscall(__NR_membarrier, cmd, 0, 0);
#else
    (void)cmd;
    errno = ENOSYS;
    return -1;
#endif
}

int rdmx_shm_fence_setup(void)
{
    int want = MEMBARRIER_CMD_GLOBAL_EXPEDITED |
               MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED;
    int have;

    if (!rdmx_config_bool("RDMX_SHM_MEMBARRIER"))
        return 0;
    have = rdmx_membarrier(MEMBARRIER_CMD_QUERY);
    if (have < 0 || (have & want) != want) {
        RDMX_DEBUG("shm: membarrier(GLOBAL_EXPEDITED) unavailable (%s): "
                   "fences on both sides of the wake-up handshake",
                   have < 0 ? strerror(errno) : "not supported");
        return 0;
    }
    if (rdmx_membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) != 0 ||
        rdmx_membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0) {
        RDMX_DEBUG("shm: membarrier registration failed (%s): fences on "
                   "both sides of the wake-up handshake",
                   strerror(errno));
        return 0;
    }
    return 1;
}

void rdmx_shm_fence_heavy(const rdmx_shm_transport_t *tp)
{
    if (tp->membarrier && rdmx_membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0)
        return;
    /* Registered at start, so this cannot fail short of a kernel bug; a
     * plain fence is then still right for peers that fence themselves. */
    rdmx_shm_fence();
}
