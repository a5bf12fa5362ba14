/*
 * tests/rxe/sockbuf.c — LD_PRELOAD shim for the User-Mode Linux process of
 * a two-node rxe run (tests/rxe/run --nodes 2): gives every UDP socket it
 * opens large socket buffers.
 *
 * Why. The VMs' link is UML's vector L2TPv3 transport: one UDP socket on
 * the host's 127.0.0.1 per VM. Its receive buffer is the host's default
 * (net.core.rmem_default, 208 KiB: ~90 full-size frames), and soft-RoCE
 * sends a whole RDMA message (a 1 MiB READ response is 1024 packets) at
 * once, without congestion control. Whenever the receiving VM is not on a
 * CPU at that moment, the host drops the overflow (UDP RcvbufErrors), RC
 * retransmits only after its ACK timeout, and both perftest and rdmx then
 * measure the loss recovery, not the transport (seen: 17,000 drops out of
 * 110,000 frames in one 8 s ib_write_bw run; 8.4 MB/s, against 42.6 MB/s
 * and no drop with this shim). UML takes no socket-buffer option, hence
 * the shim.
 *
 * RDMX_RXE_SOCKBUF (bytes) is the size asked for. SO_RCVBUFFORCE works as
 * root (CAP_NET_ADMIN); otherwise the kernel caps SO_RCVBUF at
 * net.core.rmem_max (tests/rxe/run says so). Only the UML process loads
 * this; the guest's programs never see it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol)
{
    static int (*real_socket)(int, int, int);
    if (!real_socket)
        real_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
    if (!real_socket)
        return -1;
    int fd = real_socket(domain, type, protocol);
    const char *want = getenv("RDMX_RXE_SOCKBUF");
    if (fd < 0 || !want || (domain != AF_INET && domain != AF_INET6) ||
        (type & 0xff) != SOCK_DGRAM)
        return fd;
    int size = atoi(want);
    if (size <= 0)
        return fd;
    /* Best effort: a smaller buffer still works, just with more loss. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    return fd;
}
