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

#include "bootstrap/pmi.h"
#include "bootstrap/pmi_wire.h"
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

int rdmx_frame_send_lines(int fd, char type, const char *buf, size_t len)
{
    while (len > 0) {
        size_t n = len;
        if (n > RDMX_FRAME_MAX) {
            n = RDMX_FRAME_MAX;
            while (n > 0 && buf[n - 1] != '\n')
                n--;
            if (n == 0)
                return -1; /* a line longer than a frame: cannot happen */
        }
        if (rdmx_frame_send(fd, type, 0, 0, buf, n) != 0)
            return -1;
        buf += n;
        len -= n;
    }
    return 0;
}

int rdmx_kv_lines_parse(const char *data, size_t len,
                        void (*fn)(void *arg, const char *key,
                                   const char *value),
                        void *arg)
{
    char line[RDMX_PMI_KEY_MAX + RDMX_PMI_VALUE_MAX + 4];
    int count = 0;

    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t n;
        char *eq;

        if (!nl)
            return -1;
        n = (size_t)(nl - data);
        if (n >= sizeof(line))
            return -1;
        memcpy(line, data, n);
        line[n] = '\0';
        eq = strchr(line, '=');
        if (!eq)
            return -1;
        *eq = '\0';
        if (!rdmx_pmi_wire_token_ok(line, RDMX_PMI_KEY_MAX + 1, 1) ||
            !rdmx_pmi_wire_token_ok(eq + 1, RDMX_PMI_VALUE_MAX + 1, 0))
            return -1;
        fn(arg, line, eq + 1);
        count++;
        data += n + 1;
        len -= n + 1;
    }
    return count;
}

int rdmx_kv_lines_append(char **buf, size_t *len, size_t *cap, const char *key,
                         const char *value)
{
    size_t kl = strlen(key), vl = strlen(value), need = *len + kl + vl + 2;

    if (need > *cap) {
        size_t c = *cap ? *cap : 4096;
        char *p;
        while (c < need)
            c *= 2;
        p = realloc(*buf, c);
        if (!p)
            return -1;
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *len, key, kl);
    (*buf)[*len + kl] = '=';
    memcpy(*buf + *len + kl + 1, value, vl);
    (*buf)[need - 1] = '\n';
    *len = need;
    return 0;
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
