/*
 * pmi2.c — PMI2 wire-protocol client over PMI_FD (Slurm's srun --mpi=pmi2;
 * format in pmi_wire.h). Used when PMI_VERSION=2 or RDMX_PMI=pmi2, and by
 * default under Slurm (see pmi.c).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pmi_internal.h"

static rdmx_status_t pmi2_write(rdmx_pmi_t *pmi, const char *body)
{
    char buf[RDMX_PMI_LINE_MAX + 8];
    size_t len = strlen(body);

    if (len == 0 || len > RDMX_PMI_LINE_MAX)
        return RDMX_ERR_INVALID;
    snprintf(buf, 7, "%-6zu", len);
    memcpy(buf + 6, body, len);
    buf[6 + len] = '\0';
    return rdmx_pmi_send_line(pmi, buf);
}

/* Exactly n bytes, through pmi->lb's buffer so nothing read is lost. */
static rdmx_status_t pmi2_read_exact(rdmx_pmi_t *pmi, char *out, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r;
        if (pmi->lb.len > 0) {
            size_t take = pmi->lb.len < n - got ? pmi->lb.len : n - got;
            memcpy(out + got, pmi->lb.data + pmi->lb.start, take);
            pmi->lb.start += take;
            pmi->lb.len -= take;
            got += take;
            continue;
        }
        r = read(pmi->fd, out + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {.fd = pmi->fd, .events = POLLIN};
            poll(&pf, 1, -1);
            continue;
        }
        if (r <= 0) {
            RDMX_ERROR("PMI2: the process manager closed PMI_FD %d%s%s",
                       pmi->fd, r < 0 ? ": " : "",
                       r < 0 ? strerror(errno) : "");
            return r < 0 ? RDMX_ERR_IO : RDMX_ERR_PEER_GONE;
        }
        got += (size_t)r;
    }
    return RDMX_OK;
}

static rdmx_status_t pmi2_recv(rdmx_pmi_t *pmi, rdmx_pmi_msg_t *msg,
                               const char *expect)
{
    char hdr[6], body[RDMX_PMI_LINE_MAX];
    const char *why = NULL;
    size_t len;
    rdmx_status_t st = pmi2_read_exact(pmi, hdr, 6);

    if (st != RDMX_OK)
        return st;
    if (rdmx_pmi2_wire_len(hdr, sizeof(body), &len) != 0) {
        RDMX_ERROR("PMI2: bad length field \"%.6s\" from the process "
                   "manager",
                   hdr);
        return RDMX_ERR_PROTO;
    }
    st = pmi2_read_exact(pmi, body, len);
    if (st != RDMX_OK)
        return st;
    if (rdmx_pmi2_wire_parse(body, len, msg, &why) != RDMX_OK) {
        RDMX_ERROR("PMI2: malformed reply (%s): \"%.*s\"", why,
                   (int)(len > 200 ? 200 : len), body);
        return RDMX_ERR_PROTO;
    }
    if (expect && strcmp(msg->cmd, expect) != 0) {
        RDMX_ERROR("PMI2: expected cmd=%s, got cmd=%s", expect, msg->cmd);
        return RDMX_ERR_PROTO;
    }
    return RDMX_OK;
}

static int pmi2_rc_ok(const rdmx_pmi_msg_t *msg)
{
    long rc;

    return rdmx_pmi_msg_get_long(msg, "rc", -1000000, 1000000, &rc) != 0 ||
           rc == 0;
}

static rdmx_status_t pmi2_call(rdmx_pmi_t *pmi, const char *body,
                               const char *expect, rdmx_pmi_msg_t *msg)
{
    rdmx_status_t st = pmi2_write(pmi, body);

    if (st == RDMX_OK)
        st = pmi2_recv(pmi, msg, expect);
    if (st == RDMX_OK && !pmi2_rc_ok(msg)) {
        const char *m = rdmx_pmi_msg_get(msg, "errmsg");
        RDMX_ERROR("PMI2: \"%s\" failed: %s", body, m ? m : "(no message)");
        st = RDMX_ERR_PROTO;
    }
    return st;
}

rdmx_status_t rdmx_pmi2_init(rdmx_pmi_t *pmi, rdmx_pmi_info_t *info)
{
    rdmx_pmi_msg_t *msg = malloc(sizeof(*msg));
    const char *r = getenv("PMI_RANK");
    char body[256];
    rdmx_status_t st;
    long rank = -1, size, x;
    const char *v;

    if (!msg)
        return RDMX_ERR_NOMEM;
    pmi->proto = RDMX_PMI_PROTO_PMI2;
    /* The version handshake is in PMI-1 text form. */
    st = rdmx_pmi_send_line(pmi, "cmd=init pmi_version=2 pmi_subversion=0\n");
    if (st == RDMX_OK)
        st = rdmx_pmi_recv_msg(pmi, msg, "response_to_init");
    if (st != RDMX_OK)
        goto out;
    if (rdmx_pmi_msg_get_long(msg, "pmi_version", 0, 100, &x) != 0 || x != 2 ||
        !pmi2_rc_ok(msg)) {
        RDMX_ERROR("PMI2: the process manager does not speak PMI2 on "
                   "PMI_FD (answered pmi_version=%s)",
                   rdmx_pmi_msg_get(msg, "pmi_version")
                       ? rdmx_pmi_msg_get(msg, "pmi_version")
                       : "?");
        st = RDMX_ERR_UNSUPPORTED;
        goto out;
    }
    if (r && *r)
        rank = strtol(r, NULL, 10);
    {
        /* Slurm requires pmijobid and pmirank (from PMI_JOBID/PMI_RANK). */
        const char *jobid = getenv("PMI_JOBID");
        int n = snprintf(body, sizeof(body), "cmd=fullinit;");
        if (jobid && *jobid && !strchr(jobid, ';') && strlen(jobid) < 100)
            n += snprintf(body + n, sizeof(body) - (size_t)n, "pmijobid=%s;",
                          jobid);
        if (rank >= 0)
            n += snprintf(body + n, sizeof(body) - (size_t)n, "pmirank=%ld;",
                          rank);
        snprintf(body + n, sizeof(body) - (size_t)n, "threaded=FALSE;");
    }
    st = pmi2_call(pmi, body, "fullinit-response", msg);
    if (st != RDMX_OK)
        goto out;
    if (rdmx_pmi_msg_get_long(msg, "rank", 0, 1 << 30, &rank) != 0 ||
        rdmx_pmi_msg_get_long(msg, "size", 1, 1 << 30, &size) != 0 ||
        rank >= size) {
        RDMX_ERROR("PMI2: fullinit-response without a usable rank/size");
        st = RDMX_ERR_PROTO;
        goto out;
    }
    pmi->rank = (int)rank;
    pmi->size = (int)size;
    info->rank = pmi->rank;
    info->size = pmi->size;
    info->appnum = 0;
    if (rdmx_pmi_msg_get_long(msg, "appnum", -1, 1 << 30, &x) == 0)
        info->appnum = (int)x;
    st = pmi2_call(pmi, "cmd=job-getid;", "job-getid-response", msg);
    if (st != RDMX_OK)
        goto out;
    v = rdmx_pmi_msg_get(msg, "jobid");
    if (!v || !rdmx_pmi_wire_token_ok(v, sizeof(pmi->kvsname), 1) ||
        strchr(v, ';')) {
        RDMX_ERROR("PMI2: job-getid-response without a usable jobid");
        st = RDMX_ERR_PROTO;
        goto out;
    }
    strcpy(pmi->kvsname, v);
    info->protocol = "pmi2";
    st = RDMX_OK;
out:
    free(msg);
    return st;
}

rdmx_status_t rdmx_pmi2_put(rdmx_pmi_t *pmi, const char *key, const char *value)
{
    char body[RDMX_PMI_LINE_MAX];
    rdmx_pmi_msg_t *msg;
    rdmx_status_t st;

    /* Slurm does not unescape ";;": refuse rather than corrupt. */
    if (strchr(key, ';') || strchr(value, ';')) {
        RDMX_ERROR("PMI2: key \"%s\" or its value contains ';'", key);
        return RDMX_ERR_INVALID;
    }
    snprintf(body, sizeof(body), "cmd=kvs-put;key=%s;value=%s;", key, value);
    msg = malloc(sizeof(*msg));
    if (!msg)
        return RDMX_ERR_NOMEM;
    st = pmi2_call(pmi, body, "kvs-put-response", msg);
    free(msg);
    return st;
}

rdmx_status_t rdmx_pmi2_fence(rdmx_pmi_t *pmi)
{
    rdmx_pmi_msg_t *msg = malloc(sizeof(*msg));
    rdmx_status_t st;

    if (!msg)
        return RDMX_ERR_NOMEM;
    st = pmi2_call(pmi, "cmd=kvs-fence;", "kvs-fence-response", msg);
    free(msg);
    return st;
}

rdmx_status_t rdmx_pmi2_get(rdmx_pmi_t *pmi, int rank, const char *key,
                            char *value, size_t value_len)
{
    char body[512];
    rdmx_pmi_msg_t *msg;
    rdmx_status_t st;
    const char *found, *v;

    if (strchr(key, ';'))
        return RDMX_ERR_INVALID;
    snprintf(body, sizeof(body), "cmd=kvs-get;jobid=%s;srcid=%d;key=%s;",
             pmi->kvsname, rank, key);
    msg = malloc(sizeof(*msg));
    if (!msg)
        return RDMX_ERR_NOMEM;
    st = pmi2_write(pmi, body);
    if (st == RDMX_OK)
        st = pmi2_recv(pmi, msg, "kvs-get-response");
    if (st != RDMX_OK)
        goto out;
    found = rdmx_pmi_msg_get(msg, "found");
    v = rdmx_pmi_msg_get(msg, "value");
    if (!pmi2_rc_ok(msg) || !found || strcasecmp(found, "TRUE") != 0 || !v) {
        st = RDMX_ERR_NOT_FOUND;
        goto out;
    }
    if (strlen(v) >= value_len) {
        st = RDMX_ERR_TRUNCATE;
        goto out;
    }
    strcpy(value, v);
out:
    free(msg);
    return st;
}

rdmx_status_t rdmx_pmi2_abort(rdmx_pmi_t *pmi, int code, const char *text)
{
    char body[1200];
    int n = snprintf(body, sizeof(body), "cmd=abort;isworld=TRUE;msg=");

    (void)code; /* PMI2 carries no exit code; the message says it */
    for (const char *p = text ? text : ""; *p && n < (int)sizeof(body) - 3; p++)
        body[n++] = (*p == ';' || (unsigned char)*p < 0x20) ? ' ' : *p;
    body[n++] = ';';
    body[n] = '\0';
    return pmi2_write(pmi, body);
}

rdmx_status_t rdmx_pmi2_finalize(rdmx_pmi_t *pmi)
{
    rdmx_pmi_msg_t *msg = malloc(sizeof(*msg));
    rdmx_status_t st;

    if (!msg)
        return RDMX_ERR_NOMEM;
    st = pmi2_call(pmi, "cmd=finalize;", "finalize-response", msg);
    free(msg);
    pmi->finalized = 1;
    return st;
}
