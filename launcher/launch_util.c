/*
 * launch_util.c — launcher messages and fd helpers.
 */
#include "launch_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *rdmx_launch_progname = "mpirun";
int rdmx_launch_verbose;

static void launch_vmsg(const char *fmt, va_list ap)
{
    char buf[4096];
    int n = snprintf(buf, sizeof(buf), "%s: ", rdmx_launch_progname);
    int m;

    if (n < 0)
        return;
    m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
    if (m < 0)
        return;
    n += m;
    if (n > (int)sizeof(buf) - 2)
        n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    rdmx_launch_write_all(STDERR_FILENO, buf, (size_t)n);
}

void rdmx_launch_msg(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    launch_vmsg(fmt, ap);
    va_end(ap);
}

void rdmx_launch_debug(const char *fmt, ...)
{
    va_list ap;

    if (!rdmx_launch_verbose)
        return;
    va_start(ap, fmt);
    launch_vmsg(fmt, ap);
    va_end(ap);
}

void rdmx_launch_quote(const char *in, size_t len, char *out, size_t max)
{
    size_t o = 0;

    for (size_t i = 0; i < len && i < max; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, 5, "\\x%02x", c);
            o += 4;
        }
    }
    if (len > max) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

int rdmx_launch_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

int rdmx_launch_set_cloexec(int fd, int on)
{
    int fl = fcntl(fd, F_GETFD);

    if (fl < 0)
        return -1;
    fl = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
    return fcntl(fd, F_SETFD, fl) < 0 ? -1 : 0;
}

int rdmx_launch_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd pf = {.fd = fd, .events = POLLOUT};
                poll(&pf, 1, 1000);
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
