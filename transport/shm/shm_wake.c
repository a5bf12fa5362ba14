/*
 * shm_wake.c — waking a rank that sleeps in epoll.
 *
 * Each rank binds an abstract-namespace unix datagram socket named
 * "rdmx-<job>-wake<rank>" (nothing in the file system to clean up; it
 * disappears with the process) and hands it to the core as its wait fd.
 * A producer sends one byte only when it wins the exchange of the
 * receiver's shared "sleeping" flag from 1 to 0, so a busy receiver never
 * costs its peers a system call. The datagram carries no information (the
 * work is in the rings), so a stray datagram from another process can cause
 * at most a spurious wake-up.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/runtime.h"
#include "shm_internal.h"

void rdmx_shm_wake_addr(const char *job_id, int rank, struct sockaddr_un *sa,
                        socklen_t *len)
{
    int n;

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    /* sun_path[0] = '\0': abstract namespace; the name is not
     * NUL-terminated, its length is part of the address. */
    n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1,
                 "rdmx-%.60s-wake%d", job_id, rank);
    if (n < 0 || (size_t)n >= sizeof(sa->sun_path) - 1)
        n = (int)sizeof(sa->sun_path) - 2;
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

rdmx_status_t rdmx_shm_wake_open(rdmx_shm_transport_t *tp)
{
    rdmx_runtime_t *rt = tp->base.rt;
    struct sockaddr_un sa;
    socklen_t len;
    int fd;

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        RDMX_ERROR("shm: socket(AF_UNIX, SOCK_DGRAM) failed: %s",
                   strerror(errno));
        return RDMX_ERR_IO;
    }
    rdmx_shm_wake_addr(rt->job_id, rt->rank, &sa, &len);
    if (bind(fd, (struct sockaddr *)&sa, len) != 0) {
        RDMX_ERROR("shm: rank %d cannot bind its wake-up socket @%s on %s: "
                   "%s",
                   rt->rank, sa.sun_path + 1, rt->hostname, strerror(errno));
        close(fd);
        return RDMX_ERR_IO;
    }
    tp->wake_fd = fd;
    return RDMX_OK;
}

void rdmx_shm_wake_peer(rdmx_shm_transport_t *tp, rdmx_ep_t *ep)
{
    char b = 1;

    if (sendto(tp->wake_fd, &b, 1, MSG_DONTWAIT,
               (struct sockaddr *)&ep->wake_addr, ep->wake_len) < 0 &&
        errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED)
        /* ECONNREFUSED: the peer is exiting; EAGAIN: a wake-up is already
         * queued. Anything else means the peer may sleep forever. */
        RDMX_WARN("shm: cannot wake rank %d: %s", ep->peer, strerror(errno));
}

void rdmx_shm_wake_drain(rdmx_shm_transport_t *tp)
{
    char buf[64];

    while (recv(tp->wake_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
}

void rdmx_shm_wake_close(rdmx_shm_transport_t *tp)
{
    if (tp->wake_fd >= 0)
        close(tp->wake_fd);
    tp->wake_fd = -1;
}
