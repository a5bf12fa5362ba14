/*
 * iofwd.c — line-atomic forwarding of rank output (contract in iofwd.h).
 */
#include "iofwd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launch_util.h"

void rdmx_iofwd_init(rdmx_iofwd_t *io, int fd, int out_fd, int rank, int tag)
{
    io->fd = fd;
    io->out_fd = out_fd;
    io->rank = rank;
    io->tag = tag;
    io->buf = NULL;
    io->len = 0;
    io->sink = NULL;
    io->sink_arg = NULL;
    io->stream = out_fd == 2 ? 2 : 1;
}

size_t rdmx_iofwd_format(const char *data, size_t len, int rank, int tag,
                         int final, char *out, size_t *consumed)
{
    size_t o = 0, pos = 0;

    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t n;
        int add_nl = 0;

        if (nl) {
            n = (size_t)(nl - (data + pos)) + 1;
        } else if (final || len - pos >= RDMX_IOFWD_LINE_MAX) {
            n = len - pos;
            if (n > RDMX_IOFWD_LINE_MAX)
                n = RDMX_IOFWD_LINE_MAX;
            add_nl = tag;
        } else {
            break;
        }
        if (tag)
            o += (size_t)sprintf(out + o, "[%d] ", rank);
        memcpy(out + o, data + pos, n);
        o += n;
        if (add_nl)
            out[o++] = '\n';
        pos += n;
    }
    *consumed = pos;
    return o;
}

static void iofwd_emit(rdmx_iofwd_t *io, int final)
{
    size_t lines = 1, consumed = 0, n;
    char *out;

    if (io->len == 0)
        return;
    for (size_t i = 0; i < io->len; i++)
        lines += io->buf[i] == '\n';
    out = malloc(io->len + lines * 16 + 16);
    if (!out)
        return;
    n = rdmx_iofwd_format(io->buf, io->len, io->rank, io->tag, final, out,
                          &consumed);
    /* A closed stdout (EPIPE) must not stop the job: drop the bytes. */
    if (n && io->sink)
        io->sink(io->sink_arg, io->rank, io->stream, out, n);
    else if (n)
        rdmx_launch_write_all(io->out_fd, out, n);
    free(out);
    memmove(io->buf, io->buf + consumed, io->len - consumed);
    io->len -= consumed;
}

int rdmx_iofwd_readable(rdmx_iofwd_t *io)
{
    if (io->fd < 0)
        return -1;
    if (!io->buf) {
        io->buf = malloc(RDMX_IOFWD_LINE_MAX);
        if (!io->buf) {
            rdmx_iofwd_close(io);
            return -1;
        }
    }
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t n =
            read(io->fd, io->buf + io->len, RDMX_IOFWD_LINE_MAX - io->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            rdmx_iofwd_close(io);
            return -1;
        }
        if (n == 0) {
            rdmx_iofwd_close(io);
            return -1;
        }
        io->len += (size_t)n;
        iofwd_emit(io, 0);
    }
    return 0;
}

void rdmx_iofwd_close(rdmx_iofwd_t *io)
{
    if (io->buf)
        iofwd_emit(io, 1);
    free(io->buf);
    io->buf = NULL;
    io->len = 0;
    if (io->fd >= 0)
        close(io->fd);
    io->fd = -1;
}
