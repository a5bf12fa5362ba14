/*
 * pmi_wire.c — the PMI-1 line parser and framer (format in pmi_wire.h).
 */
#include "pmi_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int key_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

rdmx_status_t rdmx_pmi_wire_parse(const char *line, size_t len,
                                  rdmx_pmi_msg_t *msg, const char **why)
{
    const char *reason = NULL;
    char *p, *end;

    msg->cmd = NULL;
    msg->multi = 0;
    msg->npairs = 0;
    if (!line) {
        reason = "no line";
        goto fail;
    }
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len > RDMX_PMI_LINE_MAX) {
        reason = "line too long";
        goto fail;
    }
    if (memchr(line, '\0', len)) {
        reason = "embedded NUL byte";
        goto fail;
    }
    memcpy(msg->buf, line, len);
    msg->buf[len] = '\0';

    p = msg->buf;
    end = msg->buf + len;
    while (p < end) {
        char *tok, *eq;

        while (p < end && *p == ' ')
            p++;
        if (p == end)
            break;
        tok = p;
        while (p < end && *p != ' ') {
            if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                reason = "control character";
                goto fail;
            }
            p++;
        }
        *p = '\0'; /* p == end is the terminating NUL already */
        if (p < end)
            p++;
        eq = strchr(tok, '=');
        if (!eq) {
            reason = "token without '='";
            goto fail;
        }
        if (eq == tok) {
            reason = "empty key";
            goto fail;
        }
        *eq = '\0';
        for (const char *k = tok; *k; k++) {
            if (!key_char_ok(*k)) {
                reason = "invalid character in key";
                goto fail;
            }
        }
        for (int i = 0; i < msg->npairs; i++) {
            if (strcmp(msg->pairs[i].key, tok) == 0) {
                reason = "duplicate key";
                goto fail;
            }
        }
        if (msg->npairs == RDMX_PMI_MAX_PAIRS) {
            reason = "too many keys";
            goto fail;
        }
        msg->pairs[msg->npairs].key = tok;
        msg->pairs[msg->npairs].value = eq + 1;
        msg->npairs++;
    }
    if (msg->npairs == 0) {
        reason = "empty line";
        goto fail;
    }
    if (strcmp(msg->pairs[0].key, "cmd") == 0) {
        msg->multi = 0;
    } else if (strcmp(msg->pairs[0].key, "mcmd") == 0) {
        msg->multi = 1;
    } else {
        reason = "line does not start with cmd=";
        goto fail;
    }
    if (msg->pairs[0].value[0] == '\0') {
        reason = "empty command name";
        goto fail;
    }
    msg->cmd = msg->pairs[0].value;
    return RDMX_OK;

fail:
    msg->cmd = NULL;
    msg->npairs = 0;
    if (why)
        *why = reason;
    return RDMX_ERR_PROTO;
}

const char *rdmx_pmi_msg_get(const rdmx_pmi_msg_t *msg, const char *key)
{
    for (int i = 0; i < msg->npairs; i++)
        if (strcmp(msg->pairs[i].key, key) == 0)
            return msg->pairs[i].value;
    return NULL;
}

int rdmx_pmi_msg_get_long(const rdmx_pmi_msg_t *msg, const char *key, long min,
                          long max, long *out)
{
    const char *v = rdmx_pmi_msg_get(msg, key);
    char *endp;
    long x;

    if (!v || !*v)
        return -1;
    errno = 0;
    x = strtol(v, &endp, 10);
    if (errno || *endp != '\0' || x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

const char *rdmx_pmi_wire_rest(const char *line, const char *key)
{
    size_t klen = strlen(key);
    const char *p = line;

    while ((p = strstr(p, key)) != NULL) {
        if ((p == line || p[-1] == ' ') && p[klen] == '=')
            return p + klen + 1;
        p += klen;
    }
    return NULL;
}

int rdmx_pmi_wire_token_ok(const char *s, size_t max, int nonempty)
{
    size_t n = 0;

    if (!s)
        return 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= max || c <= 0x20 || c == 0x7f || c == '=')
            return 0;
    }
    if (n >= max)
        return 0;
    return nonempty ? n > 0 : 1;
}

void rdmx_pmi_linebuf_init(rdmx_pmi_linebuf_t *lb)
{
    lb->start = 0;
    lb->len = 0;
    lb->discarding = 0;
}

void rdmx_pmi_linebuf_space(rdmx_pmi_linebuf_t *lb, char **p, size_t *room)
{
    if (lb->start > 0) {
        memmove(lb->data, lb->data + lb->start, lb->len);
        lb->start = 0;
    }
    *p = lb->data + lb->len;
    *room = sizeof(lb->data) - lb->len;
}

void rdmx_pmi_linebuf_commit(rdmx_pmi_linebuf_t *lb, size_t n)
{
    size_t room = sizeof(lb->data) - lb->start - lb->len;

    lb->len += n < room ? n : room;
}

int rdmx_pmi_linebuf_next(rdmx_pmi_linebuf_t *lb, const char **line,
                          size_t *len)
{
    for (;;) {
        char *base = lb->data + lb->start;
        char *nl = memchr(base, '\n', lb->len);

        if (lb->discarding) {
            if (!nl) {
                lb->start = 0;
                lb->len = 0;
                return 0;
            }
            lb->discarding = 0;
            lb->len -= (size_t)(nl + 1 - base);
            lb->start += (size_t)(nl + 1 - base);
            continue;
        }
        if (nl) {
            size_t n = (size_t)(nl - base);
            *line = base;
            *len = n;
            lb->start += n + 1;
            lb->len -= n + 1;
            return 1;
        }
        if (lb->start + lb->len == sizeof(lb->data) && lb->start == 0) {
            /* A full buffer without a newline: the line is overlong. */
            lb->discarding = 1;
            lb->start = 0;
            lb->len = 0;
            return -1;
        }
        return 0;
    }
}

int rdmx_pmi2_wire_len(const char hdr[6], size_t max, size_t *len)
{
    size_t v = 0;
    int i = 0, digits = 0;

    while (i < 6 && hdr[i] == ' ')
        i++;
    for (; i < 6 && hdr[i] >= '0' && hdr[i] <= '9'; i++, digits++)
        v = v * 10 + (size_t)(hdr[i] - '0');
    for (; i < 6; i++)
        if (hdr[i] != ' ')
            return -1;
    if (!digits || v == 0 || v > max)
        return -1;
    *len = v;
    return 0;
}

rdmx_status_t rdmx_pmi2_wire_parse(const char *body, size_t len,
                                   rdmx_pmi_msg_t *msg, const char **why)
{
    const char *reason = NULL;
    size_t i = 0, o = 0;

    msg->cmd = NULL;
    msg->multi = 0;
    msg->npairs = 0;
    if (!body || len == 0) {
        reason = "empty message";
        goto fail;
    }
    if (len > RDMX_PMI_LINE_MAX) {
        reason = "message too long";
        goto fail;
    }
    if (memchr(body, '\0', len)) {
        reason = "embedded NUL byte";
        goto fail;
    }
    while (i < len) {
        char *key = msg->buf + o, *val;

        /* key up to '=' */
        while (i < len && body[i] != '=' && body[i] != ';') {
            if (!key_char_ok(body[i])) {
                reason = "invalid character in key";
                goto fail;
            }
            msg->buf[o++] = body[i++];
        }
        if (i == len || body[i] != '=') {
            reason = "key without '='";
            goto fail;
        }
        if (msg->buf + o == key) {
            reason = "empty key";
            goto fail;
        }
        msg->buf[o++] = '\0';
        i++;
        val = msg->buf + o;
        /* value up to a single ';' (";;" is a literal ';') */
        for (;;) {
            if (i == len) {
                reason = "value not terminated by ';'";
                goto fail;
            }
            if (body[i] == ';') {
                if (i + 1 < len && body[i + 1] == ';') {
                    msg->buf[o++] = ';';
                    i += 2;
                    continue;
                }
                i++;
                break;
            }
            if ((unsigned char)body[i] < 0x20 || body[i] == 0x7f) {
                reason = "control character";
                goto fail;
            }
            msg->buf[o++] = body[i++];
        }
        msg->buf[o++] = '\0';
        for (int k = 0; k < msg->npairs; k++) {
            if (strcmp(msg->pairs[k].key, key) == 0) {
                reason = "duplicate key";
                goto fail;
            }
        }
        if (msg->npairs == RDMX_PMI_MAX_PAIRS) {
            reason = "too many keys";
            goto fail;
        }
        msg->pairs[msg->npairs].key = key;
        msg->pairs[msg->npairs].value = val;
        msg->npairs++;
    }
    if (msg->npairs == 0 || strcmp(msg->pairs[0].key, "cmd") != 0) {
        reason = "message does not start with cmd=";
        goto fail;
    }
    if (msg->pairs[0].value[0] == '\0') {
        reason = "empty command name";
        goto fail;
    }
    msg->cmd = msg->pairs[0].value;
    return RDMX_OK;

fail:
    msg->cmd = NULL;
    msg->npairs = 0;
    if (why)
        *why = reason;
    return RDMX_ERR_PROTO;
}
