/*
 * pmi1.c — PMI-1 client over PMI_FD or PMI_PORT (wire format in
 * pmi_wire.h). Every call is a blocking request/reply; waiting happens in
 * poll(), so a rank blocked in a fence does not burn a core.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "pmi_auth.h"
#include "pmi_internal.h"

/* Also declared by core/init.c (the runtime keeps it); PMI_PORT needs it
 * first, to answer mpirun's challenge. */
RDMX_CONFIG_VAR("RDMX_JOB_SECRET", NULL,
                "per-job secret, hex (set by the launcher, removed from the "
                "environment at MPI_Init)");

rdmx_status_t rdmx_pmi_send_line(rdmx_pmi_t *pmi, const char *line)
{
    size_t len = strlen(line), off = 0;

    while (off < len) {
        ssize_t n = send(pmi->fd, line + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(pmi->fd, line + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd p = {.fd = pmi->fd, .events = POLLOUT};
                poll(&p, 1, -1);
                continue;
            }
            RDMX_ERROR("PMI: write to the launcher (fd %d) failed: %s", pmi->fd,
                       strerror(errno));
            return errno == EPIPE ? RDMX_ERR_PEER_GONE : RDMX_ERR_IO;
        }
        off += (size_t)n;
    }
    return RDMX_OK;
}

rdmx_status_t rdmx_pmi_recv_msg(rdmx_pmi_t *pmi, rdmx_pmi_msg_t *msg,
                                const char *expect)
{
    for (;;) {
        const char *line, *why = NULL;
        size_t len;
        char *p;
        size_t room;
        ssize_t n;
        int r = rdmx_pmi_linebuf_next(&pmi->lb, &line, &len);

        if (r < 0) {
            RDMX_ERROR("PMI: the launcher sent a line longer than %d bytes",
                       RDMX_PMI_LINE_MAX);
            return RDMX_ERR_PROTO;
        }
        if (r > 0) {
            if (rdmx_pmi_wire_parse(line, len, msg, &why) != RDMX_OK) {
                RDMX_ERROR("PMI: malformed reply from the launcher (%s): "
                           "\"%.*s\"",
                           why, (int)(len > 200 ? 200 : len), line);
                return RDMX_ERR_PROTO;
            }
            if (expect && strcmp(msg->cmd, expect) != 0) {
                RDMX_ERROR("PMI: expected cmd=%s from the launcher, got "
                           "cmd=%s",
                           expect, msg->cmd);
                return RDMX_ERR_PROTO;
            }
            return RDMX_OK;
        }
        rdmx_pmi_linebuf_space(&pmi->lb, &p, &room);
        n = read(pmi->fd, p, room);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd pf = {.fd = pmi->fd, .events = POLLIN};
                poll(&pf, 1, -1);
                continue;
            }
            RDMX_ERROR("PMI: read from the launcher (fd %d) failed: %s",
                       pmi->fd, strerror(errno));
            return RDMX_ERR_IO;
        }
        if (n == 0) {
            RDMX_ERROR("PMI: the launcher closed the connection (fd %d); "
                       "mpirun has probably exited",
                       pmi->fd);
            return RDMX_ERR_PEER_GONE;
        }
        rdmx_pmi_linebuf_commit(&pmi->lb, (size_t)n);
    }
}

static rdmx_status_t pmi1_rc(const rdmx_pmi_msg_t *msg)
{
    long rc;

    if (rdmx_pmi_msg_get_long(msg, "rc", -1000000, 1000000, &rc) != 0)
        return RDMX_OK; /* older servers omit rc on success */
    return rc == 0 ? RDMX_OK : RDMX_ERR_PROTO;
}

/* Send `line` and wait for `expect`; checks rc=. */
static rdmx_status_t pmi1_call(rdmx_pmi_t *pmi, const char *line,
                               const char *expect, rdmx_pmi_msg_t *msg)
{
    rdmx_status_t st = rdmx_pmi_send_line(pmi, line);

    if (st != RDMX_OK)
        return st;
    st = rdmx_pmi_recv_msg(pmi, msg, expect);
    if (st != RDMX_OK)
        return st;
    if (pmi1_rc(msg) != RDMX_OK) {
        const char *m = rdmx_pmi_msg_get(msg, "msg");
        RDMX_ERROR("PMI: the launcher refused \"%.*s\": %s",
                   (int)strcspn(line, "\n"), line, m ? m : "(no message)");
        return RDMX_ERR_PROTO;
    }
    return RDMX_OK;
}

rdmx_status_t rdmx_pmi1_init(rdmx_pmi_t *pmi, rdmx_pmi_info_t *info)
{
    rdmx_pmi_msg_t *msg = malloc(sizeof(*msg));
    rdmx_status_t st;
    const char *v;
    long x;

    if (!msg)
        return RDMX_ERR_NOMEM;
    pmi->proto = RDMX_PMI_PROTO_PMI1;
    st = pmi1_call(pmi, "cmd=init pmi_version=1 pmi_subversion=1\n",
                   "response_to_init", msg);
    if (st != RDMX_OK)
        goto out;
    st = pmi1_call(pmi, "cmd=get_maxes\n", "maxes", msg);
    if (st != RDMX_OK)
        goto out;
    if (rdmx_pmi_msg_get_long(msg, "vallen_max", 1, 1 << 30, &x) == 0 &&
        x < RDMX_PMI_VALUE_MAX) {
        RDMX_WARN("PMI: the launcher stores values of at most %ld bytes "
                  "(rdmx wants %d)",
                  x, RDMX_PMI_VALUE_MAX);
    }
    st = pmi1_call(pmi, "cmd=get_my_kvsname\n", "my_kvsname", msg);
    if (st != RDMX_OK)
        goto out;
    v = rdmx_pmi_msg_get(msg, "kvsname");
    if (!v || !rdmx_pmi_wire_token_ok(v, sizeof(pmi->kvsname), 1)) {
        RDMX_ERROR("PMI: the launcher sent no usable kvsname");
        st = RDMX_ERR_PROTO;
        goto out;
    }
    strcpy(pmi->kvsname, v);
    st = pmi1_call(pmi, "cmd=get_appnum\n", "appnum", msg);
    if (st != RDMX_OK)
        goto out;
    if (rdmx_pmi_msg_get_long(msg, "appnum", -1, 1 << 30, &x) == 0)
        info->appnum = (int)x;

    /* Rank and size come from the environment in PMI-1 (PMI_RANK and
     * PMI_SIZE, set by mpirun, Hydra and Slurm's pmi1). */
    {
        const char *r = getenv("PMI_RANK"), *s = getenv("PMI_SIZE");
        char *end;
        long rank = r ? strtol(r, &end, 10) : -1;
        if (!r || *end || rank < 0) {
            RDMX_ERROR("PMI: PMI_RANK is missing or malformed (\"%s\")",
                       r ? r : "");
            st = RDMX_ERR_INVALID;
            goto out;
        }
        long size = s ? strtol(s, &end, 10) : -1;
        if (!s || *end || size < 1 || rank >= size) {
            st =
                pmi1_call(pmi, "cmd=get_universe_size\n", "universe_size", msg);
            if (st != RDMX_OK ||
                rdmx_pmi_msg_get_long(msg, "size", 1, 1 << 30, &size) != 0 ||
                rank >= size) {
                RDMX_ERROR("PMI: PMI_SIZE is missing or malformed (\"%s\") "
                           "for rank %ld",
                           s ? s : "", rank);
                st = RDMX_ERR_INVALID;
                goto out;
            }
        }
        pmi->rank = (int)rank;
        pmi->size = (int)size;
    }
    info->rank = pmi->rank;
    info->size = pmi->size;
    info->protocol = "pmi1";
    st = RDMX_OK;
out:
    free(msg);
    return st;
}

rdmx_status_t rdmx_pmi1_put(rdmx_pmi_t *pmi, const char *key, const char *value)
{
    char line[RDMX_PMI_LINE_MAX + 2];
    rdmx_pmi_msg_t *msg;
    rdmx_status_t st;
    int n = snprintf(line, sizeof(line), "cmd=put kvsname=%s key=%s value=%s\n",
                     pmi->kvsname, key, value);

    if (n < 0 || (size_t)n >= sizeof(line))
        return RDMX_ERR_INVALID;
    msg = malloc(sizeof(*msg));
    if (!msg)
        return RDMX_ERR_NOMEM;
    st = pmi1_call(pmi, line, "put_result", msg);
    free(msg);
    return st;
}

rdmx_status_t rdmx_pmi1_fence(rdmx_pmi_t *pmi)
{
    rdmx_pmi_msg_t *msg = malloc(sizeof(*msg));
    rdmx_status_t st;

    if (!msg)
        return RDMX_ERR_NOMEM;
    st = pmi1_call(pmi, "cmd=barrier_in\n", "barrier_out", msg);
    free(msg);
    return st;
}

rdmx_status_t rdmx_pmi1_get(rdmx_pmi_t *pmi, const char *key, char *value,
                            size_t value_len)
{
    char line[512];
    rdmx_pmi_msg_t *msg;
    rdmx_status_t st;
    const char *v;
    int n = snprintf(line, sizeof(line), "cmd=get kvsname=%s key=%s\n",
                     pmi->kvsname, key);

    if (n < 0 || (size_t)n >= sizeof(line))
        return RDMX_ERR_INVALID;
    msg = malloc(sizeof(*msg));
    if (!msg)
        return RDMX_ERR_NOMEM;
    st = rdmx_pmi_send_line(pmi, line);
    if (st == RDMX_OK)
        st = rdmx_pmi_recv_msg(pmi, msg, "get_result");
    if (st != RDMX_OK)
        goto out;
    v = rdmx_pmi_msg_get(msg, "value");
    if (pmi1_rc(msg) != RDMX_OK || !v) {
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

rdmx_status_t rdmx_pmi1_abort(rdmx_pmi_t *pmi, int code, const char *text)
{
    char line[1200];
    int n =
        snprintf(line, sizeof(line), "cmd=abort exitcode=%d message=", code);

    /* The message runs to the end of the line: keep it on one line. */
    for (const char *p = text ? text : ""; *p && n < (int)sizeof(line) - 2; p++)
        line[n++] = ((unsigned char)*p < 0x20) ? ' ' : *p;
    line[n++] = '\n';
    line[n] = '\0';
    /* No reply: the launcher kills the job. */
    return rdmx_pmi_send_line(pmi, line);
}

rdmx_status_t rdmx_pmi1_finalize(rdmx_pmi_t *pmi)
{
    rdmx_pmi_msg_t *msg = malloc(sizeof(*msg));
    rdmx_status_t st;

    if (!msg)
        return RDMX_ERR_NOMEM;
    st = pmi1_call(pmi, "cmd=finalize\n", "finalize_ack", msg);
    free(msg);
    close(pmi->fd);
    pmi->fd = -1;
    pmi->finalized = 1;
    return st;
}

static rdmx_status_t pmi1_tcp_connect(const char *port, int *fdp)
{
    char host[256];
    const char *colon = strrchr(port, ':');
    struct addrinfo hints = {0}, *res = NULL, *ai;
    int fd = -1, err;

    if (!colon || colon == port || (size_t)(colon - port) >= sizeof(host) ||
        !colon[1]) {
        RDMX_ERROR("PMI_PORT=\"%s\" is not host:port", port);
        return RDMX_ERR_INVALID;
    }
    memcpy(host, port, (size_t)(colon - port));
    host[colon - port] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    hints.ai_socktype = SOCK_STREAM;
    err = getaddrinfo(host, colon + 1, &hints, &res);
    if (err) {
        RDMX_ERROR("PMI_PORT=%s: cannot resolve: %s", port, gai_strerror(err));
        return RDMX_ERR_UNREACHABLE;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
        errno = err;
    }
    if (fd < 0) {
        RDMX_ERROR("PMI_PORT=%s: connect failed: %s", port, strerror(errno));
        freeaddrinfo(res);
        return RDMX_ERR_UNREACHABLE;
    }
    freeaddrinfo(res);
    *fdp = fd;
    return RDMX_OK;
}

rdmx_status_t rdmx_pmi1_port_connect(rdmx_pmi_t *pmi, const char *port,
                                     int rank)
{
    uint8_t secret[32], snonce[RDMX_AUTH_NONCE_LEN];
    uint8_t cnonce[RDMX_AUTH_NONCE_LEN], mac[RDMX_AUTH_MAC_LEN];
    uint8_t theirs[RDMX_AUTH_MAC_LEN];
    char hex_nonce[2 * RDMX_AUTH_NONCE_LEN + 1], hex_mac[2 * 32 + 1];
    char line[256];
    const char *stext = rdmx_config_str("RDMX_JOB_SECRET");
    rdmx_pmi_msg_t *msg = NULL;
    rdmx_status_t st;
    const char *v;

    st = pmi1_tcp_connect(port, &pmi->fd);
    if (st != RDMX_OK)
        return st;
    if (!stext) {
        /* A foreign launcher (Hydra): no rdmx handshake. */
        return RDMX_OK;
    }
    if (rdmx_hex_decode(stext, secret, sizeof(secret)) != 0) {
        RDMX_ERROR("RDMX_JOB_SECRET is not 64 hex digits");
        st = RDMX_ERR_INVALID;
        goto fail;
    }
    msg = malloc(sizeof(*msg));
    if (!msg) {
        st = RDMX_ERR_NOMEM;
        goto fail;
    }
    st = rdmx_pmi_recv_msg(pmi, msg, "auth_challenge");
    if (st != RDMX_OK)
        goto fail;
    v = rdmx_pmi_msg_get(msg, "nonce");
    if (!v || rdmx_hex_decode(v, snonce, sizeof(snonce)) != 0) {
        RDMX_ERROR("PMI_PORT=%s: malformed challenge", port);
        st = RDMX_ERR_PROTO;
        goto fail;
    }
    st = rdmx_auth_random(cnonce, sizeof(cnonce));
    if (st != RDMX_OK)
        goto fail;
    rdmx_pmi_auth_mac(secret, sizeof(secret), snonce, RDMX_PMI_AUTH_CLIENT,
                      rank, mac);
    rdmx_hex_encode(cnonce, sizeof(cnonce), hex_nonce);
    rdmx_hex_encode(mac, sizeof(mac), hex_mac);
    snprintf(line, sizeof(line), "cmd=auth_response rank=%d nonce=%s mac=%s\n",
             rank, hex_nonce, hex_mac);
    st = rdmx_pmi_send_line(pmi, line);
    if (st != RDMX_OK)
        goto fail;
    st = rdmx_pmi_recv_msg(pmi, msg, "auth_result");
    if (st != RDMX_OK)
        goto fail;
    v = rdmx_pmi_msg_get(msg, "mac");
    rdmx_pmi_auth_mac(secret, sizeof(secret), cnonce, RDMX_PMI_AUTH_SERVER,
                      rank, mac);
    if (pmi1_rc(msg) != RDMX_OK || !v ||
        rdmx_hex_decode(v, theirs, sizeof(theirs)) != 0 ||
        !rdmx_auth_mac_equal(mac, theirs)) {
        const char *m = rdmx_pmi_msg_get(msg, "msg");
        RDMX_ERROR("PMI_PORT=%s: authentication of rank %d failed: %s", port,
                   rank, m ? m : "the server did not prove the job secret");
        st = RDMX_ERR_AUTH;
        goto fail;
    }
    free(msg);
    memset(secret, 0, sizeof(secret));
    return RDMX_OK;

fail:
    free(msg);
    memset(secret, 0, sizeof(secret));
    close(pmi->fd);
    pmi->fd = -1;
    return st;
}
