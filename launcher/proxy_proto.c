/*
 * proxy_proto.c — frame encoding and decoding (format in proxy_proto.h).
 */
#include "proxy_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "launch_util.h"

#define HDR_MAX 64

int rdmx_frame_send(int fd, char type, long a, long b, const void *data,
                    size_t len)
{
    char hdr[HDR_MAX];
    int n;

    if (len > RDMX_FRAME_MAX)
        return -1;
    n = snprintf(hdr, sizeof(hdr), "%c %ld %ld %zu\n", type, a, b, len);
    if (n < 0 || n >= (int)sizeof(hdr))
        return -1;
    if (rdmx_launch_write_all(fd, hdr, (size_t)n) != 0)
        return -1;
    return len ? rdmx_launch_write_all(fd, data, len) : 0;
}

int rdmx_frame_send_str(int fd, char type, long a, long b, const char *s)
{
    return rdmx_frame_send(fd, type, a, b, s, s ? strlen(s) : 0);
}

void rdmx_frame_reader_init(rdmx_frame_reader_t *r)
{
    memset(r, 0, sizeof(*r));
}

void rdmx_frame_reader_free(rdmx_frame_reader_t *r)
{
    free(r->buf);
    memset(r, 0, sizeof(*r));
}

static int reserve(rdmx_frame_reader_t *r, size_t more)
{
    if (r->start > 0 && r->start + r->len + more > r->cap) {
        memmove(r->buf, r->buf + r->start, r->len);
        r->start = 0;
    }
    if (r->len + more > r->cap) {
        size_t cap = r->cap ? r->cap : 65536;
        char *p;
        while (cap < r->len + more)
            cap *= 2;
        if (cap > 2 * RDMX_FRAME_MAX + 2 * HDR_MAX)
            return -1;
        p = realloc(r->buf, cap);
        if (!p)
            return -1;
        r->buf = p;
        r->cap = cap;
    }
    return 0;
}

int rdmx_frame_reader_feed(rdmx_frame_reader_t *r, const void *p, size_t n)
{
    if (reserve(r, n) != 0)
        return -1;
    memcpy(r->buf + r->start + r->len, p, n);
    r->len += n;
    return 0;
}

int rdmx_frame_reader_fill(rdmx_frame_reader_t *r, int fd)
{
    for (;;) {
        ssize_t n;
        if (reserve(r, 65536) != 0)
            return -1;
        n = read(fd, r->buf + r->start + r->len, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : -1;
        if (n == 0)
            return 0;
        r->len += (size_t)n;
        return 1;
    }
}

int rdmx_frame_next(rdmx_frame_reader_t *r, rdmx_frame_t *f)
{
    char *base = r->buf + r->start, *nl, hdr[HDR_MAX], *p, *end;
    size_t hlen, len;

    if (r->len == 0)
        return 0;
    nl = memchr(base, '\n', r->len < HDR_MAX ? r->len : HDR_MAX);
    if (!nl)
        return r->len >= HDR_MAX ? -1 : 0;
    hlen = (size_t)(nl - base);
    memcpy(hdr, base, hlen);
    hdr[hlen] = '\0';
    if (hlen < 7 || hdr[1] != ' ' || hdr[0] < 'A' || hdr[0] > 'z')
        return -1;
    f->type = hdr[0];
    errno = 0;
    f->a = strtol(hdr + 2, &p, 10);
    if (p == hdr + 2 || *p != ' ')
        return -1;
    f->b = strtol(p + 1, &end, 10);
    if (end == p + 1 || *end != ' ')
        return -1;
    p = end + 1;
    if (*p < '0' || *p > '9')
        return -1;
    len = strtoul(p, &end, 10);
    if (*end != '\0' || errno || len > RDMX_FRAME_MAX)
        return -1;
    if (r->len < hlen + 1 + len)
        return 0;
    f->data = base + hlen + 1;
    f->len = len;
    r->start += hlen + 1 + len;
    r->len -= hlen + 1 + len;
    return 1;
}
