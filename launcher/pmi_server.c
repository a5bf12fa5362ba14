/*
 * pmi_server.c — PMI-1 server state machine (contract in pmi_server.h,
 * wire format in core/bootstrap/pmi_wire.h).
 */
#include "pmi_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "bootstrap/kvs.h"
#include "bootstrap/pmi.h"
#include "bootstrap/pmi_auth.h"
#include "launch_util.h"

#define PMISRV_OUT_MAX (4u << 20)   /* unread replies before we give up */
#define PMISRV_KVS_MAX (256u << 20) /* bytes of keys+values per job */

typedef struct pmisrv_conn {
    int fd; /* -1 once closed */
    int rank;
    int authed;
    uint64_t t_open;
    rdmx_pmi_linebuf_t lb;
    char *out;
    size_t out_len, out_cap;
    uint8_t nonce[RDMX_AUTH_NONCE_LEN];
} pmisrv_conn_t;

struct rdmx_pmisrv {
    int size;
    char kvsname[256];
    uint8_t secret[64];
    size_t secret_len;
    rdmx_kvs_t *kvs;
    rdmx_pmisrv_ops_t ops;
    void *arg;
    pmisrv_conn_t *conns;
    int nconns, cap;
    int *rank_conn; /* rank -> conn id, -1 */
    unsigned char *inited, *finalized, *in_barrier;
    int nbarrier;
    int relay_nlocal;    /* > 0: relay mode, ranks served here */
    int barrier_pending; /* relay: local part complete, awaiting release */
    rdmx_pmi_msg_t msg;  /* scratch (large) */
};

uint64_t rdmx_pmisrv_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

rdmx_status_t rdmx_pmisrv_create(rdmx_pmisrv_t **srvp, int size,
                                 const char *kvsname, const uint8_t *secret,
                                 size_t secret_len,
                                 const rdmx_pmisrv_ops_t *ops, void *arg)
{
    rdmx_pmisrv_t *srv;

    if (size < 1 || !kvsname || strlen(kvsname) >= 256 ||
        secret_len > sizeof(srv->secret))
        return RDMX_ERR_INVALID;
    srv = calloc(1, sizeof(*srv));
    if (!srv)
        return RDMX_ERR_NOMEM;
    srv->size = size;
    strcpy(srv->kvsname, kvsname);
    if (secret_len)
        memcpy(srv->secret, secret, secret_len);
    srv->secret_len = secret_len;
    if (ops)
        srv->ops = *ops;
    srv->arg = arg;
    srv->rank_conn = malloc(sizeof(int) * (size_t)size);
    srv->inited = calloc((size_t)size, 1);
    srv->finalized = calloc((size_t)size, 1);
    srv->in_barrier = calloc((size_t)size, 1);
    if (!srv->rank_conn || !srv->inited || !srv->finalized ||
        !srv->in_barrier || rdmx_kvs_create(&srv->kvs, PMISRV_KVS_MAX)) {
        rdmx_pmisrv_destroy(srv);
        return RDMX_ERR_NOMEM;
    }
    for (int i = 0; i < size; i++)
        srv->rank_conn[i] = -1;
    *srvp = srv;
    return RDMX_OK;
}

void rdmx_pmisrv_destroy(rdmx_pmisrv_t *srv)
{
    if (!srv)
        return;
    for (int i = 0; i < srv->nconns; i++) {
        if (srv->conns[i].fd >= 0)
            close(srv->conns[i].fd);
        free(srv->conns[i].out);
    }
    free(srv->conns);
    free(srv->rank_conn);
    free(srv->inited);
    free(srv->finalized);
    free(srv->in_barrier);
    rdmx_kvs_destroy(srv->kvs);
    memset(srv->secret, 0, sizeof(srv->secret));
    free(srv);
}

rdmx_status_t rdmx_pmisrv_put(rdmx_pmisrv_t *srv, const char *key,
                              const char *value)
{
    return rdmx_kvs_put(srv->kvs, key, value);
}

static void conn_close(rdmx_pmisrv_t *srv, int id)
{
    pmisrv_conn_t *c = &srv->conns[id];

    if (c->fd < 0)
        return;
    if (c->out_len && srv->ops.want_write)
        srv->ops.want_write(srv->arg, id, c->fd, 0);
    close(c->fd);
    c->fd = -1;
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_cap = 0;
    if (c->rank >= 0 && c->authed && srv->rank_conn[c->rank] == id)
        srv->rank_conn[c->rank] = -1;
}

static const char *conn_who(const pmisrv_conn_t *c, char *buf, size_t len)
{
    if (c->rank >= 0 && c->authed)
        snprintf(buf, len, "rank %d", c->rank);
    else
        snprintf(buf, len, "an unauthenticated PMI_PORT connection");
    return buf;
}

static void conn_send(rdmx_pmisrv_t *srv, int id, const char *text)
{
    pmisrv_conn_t *c = &srv->conns[id];
    size_t len = strlen(text), off = 0;

    if (c->fd < 0)
        return;
    if (c->out_len == 0) {
        while (off < len) {
            ssize_t n = send(c->fd, text + off, len - off, MSG_NOSIGNAL);
            if (n < 0 && errno == ENOTSOCK)
                n = write(c->fd, text + off, len - off);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                /* The peer went away; its exit is reported by waitpid. */
                conn_close(srv, id);
                return;
            }
            off += (size_t)n;
        }
        if (off == len)
            return;
    }
    if (c->out_len + (len - off) > PMISRV_OUT_MAX) {
        char who[64];
        rdmx_launch_msg("%s does not read its PMI replies (%zu bytes "
                        "pending); closing its PMI connection",
                        conn_who(c, who, sizeof(who)), c->out_len);
        conn_close(srv, id);
        return;
    }
    if (c->out_len + (len - off) > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        char *p;
        while (cap < c->out_len + (len - off))
            cap *= 2;
        p = realloc(c->out, cap);
        if (!p) {
            conn_close(srv, id);
            return;
        }
        c->out = p;
        c->out_cap = cap;
    }
    if (c->out_len == 0 && srv->ops.want_write)
        srv->ops.want_write(srv->arg, id, c->fd, 1);
    memcpy(c->out + c->out_len, text + off, len - off);
    c->out_len += len - off;
}

int rdmx_pmisrv_add_conn(rdmx_pmisrv_t *srv, int fd, int rank)
{
    pmisrv_conn_t *c;
    int id;

    if (rank >= srv->size || fd < 0)
        return -1;
    if (srv->nconns == srv->cap) {
        int cap = srv->cap ? srv->cap * 2 : 16;
        pmisrv_conn_t *p = realloc(srv->conns, sizeof(*p) * (size_t)cap);
        if (!p)
            return -1;
        srv->conns = p;
        srv->cap = cap;
    }
    rdmx_launch_set_nonblock(fd);
    id = srv->nconns++;
    c = &srv->conns[id];
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->rank = rank;
    c->t_open = rdmx_pmisrv_now_ms();
    rdmx_pmi_linebuf_init(&c->lb);
    if (rank >= 0) {
        c->authed = 1;
        srv->rank_conn[rank] = id;
    } else {
        char hex[2 * RDMX_AUTH_NONCE_LEN + 1];
        char line[128];
        if (rdmx_auth_random(c->nonce, sizeof(c->nonce)) != RDMX_OK) {
            conn_close(srv, id);
            return -1;
        }
        rdmx_hex_encode(c->nonce, sizeof(c->nonce), hex);
        snprintf(line, sizeof(line), "cmd=auth_challenge nonce=%s\n", hex);
        conn_send(srv, id, line);
    }
    return id;
}

int rdmx_pmisrv_conn_fd(const rdmx_pmisrv_t *srv, int conn)
{
    return (conn >= 0 && conn < srv->nconns) ? srv->conns[conn].fd : -1;
}

int rdmx_pmisrv_rank_inited(const rdmx_pmisrv_t *srv, int rank)
{
    return rank >= 0 && rank < srv->size && srv->inited[rank];
}

int rdmx_pmisrv_rank_finalized(const rdmx_pmisrv_t *srv, int rank)
{
    return rank >= 0 && rank < srv->size && srv->finalized[rank];
}

void rdmx_pmisrv_drop_rank(rdmx_pmisrv_t *srv, int rank)
{
    if (rank >= 0 && rank < srv->size && srv->rank_conn[rank] >= 0)
        conn_close(srv, srv->rank_conn[rank]);
}

static void handle_auth(rdmx_pmisrv_t *srv, int id, const rdmx_pmi_msg_t *m)
{
    pmisrv_conn_t *c = &srv->conns[id];
    uint8_t cnonce[RDMX_AUTH_NONCE_LEN], mac[RDMX_AUTH_MAC_LEN];
    uint8_t theirs[RDMX_AUTH_MAC_LEN];
    char hex[2 * RDMX_AUTH_MAC_LEN + 1], line[160];
    const char *nonce = rdmx_pmi_msg_get(m, "nonce");
    const char *mactext = rdmx_pmi_msg_get(m, "mac");
    long rank;

    if (strcmp(m->cmd, "auth_response") != 0 ||
        rdmx_pmi_msg_get_long(m, "rank", 0, srv->size - 1, &rank) != 0 ||
        !nonce || rdmx_hex_decode(nonce, cnonce, sizeof(cnonce)) != 0 ||
        !mactext || rdmx_hex_decode(mactext, theirs, sizeof(theirs)) != 0) {
        rdmx_launch_msg("PMI_PORT connection sent cmd=%s before "
                        "authenticating; closing it",
                        m->cmd);
        goto refuse;
    }
    rdmx_pmi_auth_mac(srv->secret, srv->secret_len, c->nonce,
                      RDMX_PMI_AUTH_CLIENT, (int)rank, mac);
    if (!rdmx_auth_mac_equal(mac, theirs)) {
        rdmx_launch_msg("PMI_PORT connection claiming rank %ld failed "
                        "authentication (wrong job secret); closing it",
                        rank);
        goto refuse;
    }
    if (srv->rank_conn[rank] >= 0) {
        rdmx_launch_msg("rank %ld connected to PMI_PORT twice; closing the "
                        "second connection",
                        rank);
        goto refuse;
    }
    c->rank = (int)rank;
    c->authed = 1;
    srv->rank_conn[rank] = id;
    rdmx_pmi_auth_mac(srv->secret, srv->secret_len, cnonce,
                      RDMX_PMI_AUTH_SERVER, (int)rank, mac);
    rdmx_hex_encode(mac, sizeof(mac), hex);
    snprintf(line, sizeof(line), "cmd=auth_result rc=0 mac=%s\n", hex);
    conn_send(srv, id, line);
    if (srv->ops.bound)
        srv->ops.bound(srv->arg, id, (int)rank);
    return;
refuse:
    conn_send(srv, id, "cmd=auth_result rc=-1 msg=authentication_failed\n");
    conn_close(srv, id);
}

static void reply_error(rdmx_pmisrv_t *srv, int id, const char *what)
{
    char line[160];

    snprintf(line, sizeof(line), "cmd=error rc=-1 msg=%s\n", what);
    conn_send(srv, id, line);
}

static void barrier_release_all(rdmx_pmisrv_t *srv)
{
    srv->nbarrier = 0;
    srv->barrier_pending = 0;
    for (int r = 0; r < srv->size; r++) {
        if (!srv->in_barrier[r])
            continue;
        srv->in_barrier[r] = 0;
        if (srv->rank_conn[r] >= 0)
            conn_send(srv, srv->rank_conn[r], "cmd=barrier_out rc=0\n");
    }
}

static void do_barrier(rdmx_pmisrv_t *srv, int rank)
{
    if (srv->in_barrier[rank])
        return; /* a second barrier_in before barrier_out: ignore */
    srv->in_barrier[rank] = 1;
    srv->nbarrier++;
    if (srv->relay_nlocal > 0) {
        if (srv->nbarrier == srv->relay_nlocal && !srv->barrier_pending) {
            srv->barrier_pending = 1;
            if (srv->ops.barrier_local)
                srv->ops.barrier_local(srv->arg);
        }
        return;
    }
    if (srv->nbarrier < srv->size)
        return;
    barrier_release_all(srv);
    if (srv->ops.barrier_done)
        srv->ops.barrier_done(srv->arg);
}

void rdmx_pmisrv_set_relay(rdmx_pmisrv_t *srv, int nlocal)
{
    srv->relay_nlocal = nlocal > 0 && nlocal <= srv->size ? nlocal : 0;
}

void rdmx_pmisrv_barrier_release(rdmx_pmisrv_t *srv)
{
    if (srv->relay_nlocal > 0 && srv->barrier_pending)
        barrier_release_all(srv);
}

void rdmx_pmisrv_barrier_enter(rdmx_pmisrv_t *srv, int rank)
{
    if (rank >= 0 && rank < srv->size && srv->rank_conn[rank] < 0)
        do_barrier(srv, rank);
}

void rdmx_pmisrv_mark_inited(rdmx_pmisrv_t *srv, int rank)
{
    if (rank >= 0 && rank < srv->size)
        srv->inited[rank] = 1;
}

void rdmx_pmisrv_mark_finalized(rdmx_pmisrv_t *srv, int rank)
{
    if (rank >= 0 && rank < srv->size)
        srv->finalized[rank] = 1;
}

static int kvsname_ok(rdmx_pmisrv_t *srv, const rdmx_pmi_msg_t *m)
{
    const char *k = rdmx_pmi_msg_get(m, "kvsname");

    return !k || strcmp(k, srv->kvsname) == 0;
}

static void handle_abort(rdmx_pmisrv_t *srv, int id, const char *line,
                         size_t len)
{
    char raw[RDMX_PMI_LINE_MAX + 1], text[1100];
    const char *rest;
    long code = 1;
    const char *why = NULL;

    memcpy(raw, line, len);
    raw[len] = '\0';
    text[0] = '\0';
    rest = rdmx_pmi_wire_rest(raw, "message");
    if (!rest)
        rest = rdmx_pmi_wire_rest(raw, "msg");
    if (rest) {
        rdmx_launch_quote(rest, strlen(rest), text, 256);
        /* cut the message off before parsing the keys ahead of it */
        size_t keylen = (size_t)(rest - raw);
        while (keylen > 0 && raw[keylen - 1] != ' ')
            keylen--;
        raw[keylen] = '\0';
        len = keylen;
    }
    if (rdmx_pmi_wire_parse(raw, len, &srv->msg, &why) == RDMX_OK)
        rdmx_pmi_msg_get_long(&srv->msg, "exitcode", -2147483647L - 1,
                              2147483647L, &code);
    if (srv->ops.aborted)
        srv->ops.aborted(srv->arg, srv->conns[id].rank, (int)code, text);
}

void rdmx_pmisrv_handle_line(rdmx_pmisrv_t *srv, int id, const char *line,
                             size_t len)
{
    pmisrv_conn_t *c = &srv->conns[id];
    rdmx_pmi_msg_t *m = &srv->msg;
    char out[RDMX_PMI_LINE_MAX + 128], who[64], quoted[4 * 100 + 8];
    const char *why = NULL;
    int rank = c->rank;

    if (c->fd < 0)
        return;
    if (c->authed && len >= 9 && memcmp(line, "cmd=abort", 9) == 0 &&
        (len == 9 || line[9] == ' ')) {
        handle_abort(srv, id, line, len);
        return;
    }
    if (rdmx_pmi_wire_parse(line, len, m, &why) != RDMX_OK) {
        rdmx_launch_quote(line, len, quoted, 100);
        rdmx_launch_msg("%s sent a malformed PMI line (%s): \"%s\"",
                        conn_who(c, who, sizeof(who)), why, quoted);
        if (!c->authed) {
            conn_close(srv, id);
            return;
        }
        reply_error(srv, id, "malformed_line");
        return;
    }
    if (!c->authed) {
        handle_auth(srv, id, m);
        return;
    }
    if (m->multi) {
        rdmx_launch_msg("rank %d asked for an MPI_Comm_spawn-style "
                        "\"mcmd=%s\", which rdmx does not support",
                        rank, m->cmd);
        reply_error(srv, id, "spawn_not_supported");
        return;
    }
    if (strcmp(m->cmd, "init") == 0) {
        long v = 1;
        if (rdmx_pmi_msg_get(m, "pmi_version") &&
            (rdmx_pmi_msg_get_long(m, "pmi_version", 0, 100, &v) || v != 1)) {
            conn_send(srv, id,
                      "cmd=response_to_init pmi_version=1 "
                      "pmi_subversion=1 rc=-1 "
                      "msg=only_pmi_version_1_is_supported\n");
            return;
        }
        srv->inited[rank] = 1;
        conn_send(srv, id,
                  "cmd=response_to_init pmi_version=1 "
                  "pmi_subversion=1 rc=0\n");
        if (srv->ops.inited)
            srv->ops.inited(srv->arg, rank);
    } else if (strcmp(m->cmd, "get_maxes") == 0) {
        snprintf(out, sizeof(out),
                 "cmd=maxes kvsname_max=256 keylen_max=%d vallen_max=%d "
                 "rc=0\n",
                 RDMX_PMI_KEY_MAX, RDMX_PMI_VALUE_MAX);
        conn_send(srv, id, out);
    } else if (strcmp(m->cmd, "get_appnum") == 0) {
        conn_send(srv, id, "cmd=appnum appnum=0 rc=0\n");
    } else if (strcmp(m->cmd, "get_universe_size") == 0) {
        snprintf(out, sizeof(out), "cmd=universe_size size=%d rc=0\n",
                 srv->size);
        conn_send(srv, id, out);
    } else if (strcmp(m->cmd, "get_my_kvsname") == 0) {
        snprintf(out, sizeof(out), "cmd=my_kvsname kvsname=%s rc=0\n",
                 srv->kvsname);
        conn_send(srv, id, out);
    } else if (strcmp(m->cmd, "put") == 0) {
        const char *key = rdmx_pmi_msg_get(m, "key");
        const char *val = rdmx_pmi_msg_get(m, "value");
        if (!kvsname_ok(srv, m)) {
            conn_send(srv, id, "cmd=put_result rc=-1 msg=unknown_kvsname\n");
        } else if (!key || !val ||
                   !rdmx_pmi_wire_token_ok(key, RDMX_PMI_KEY_MAX + 1, 1) ||
                   !rdmx_pmi_wire_token_ok(val, RDMX_PMI_VALUE_MAX + 1, 0)) {
            rdmx_launch_msg("rank %d: PMI put with a missing or too long "
                            "key or value",
                            rank);
            conn_send(srv, id,
                      "cmd=put_result rc=-1 msg=invalid_key_or_value\n");
        } else if (rdmx_kvs_put(srv->kvs, key, val) != RDMX_OK) {
            rdmx_launch_msg("rank %d: PMI key-value space is full", rank);
            conn_send(srv, id, "cmd=put_result rc=-1 msg=kvs_full\n");
        } else {
            conn_send(srv, id, "cmd=put_result rc=0 msg=success\n");
            if (srv->ops.put)
                srv->ops.put(srv->arg, rank, key, val);
        }
    } else if (strcmp(m->cmd, "get") == 0) {
        const char *key = rdmx_pmi_msg_get(m, "key");
        const char *val;
        if (!kvsname_ok(srv, m)) {
            conn_send(srv, id, "cmd=get_result rc=-1 msg=unknown_kvsname\n");
        } else if (!key ||
                   !rdmx_pmi_wire_token_ok(key, RDMX_PMI_KEY_MAX + 1, 1)) {
            conn_send(srv, id, "cmd=get_result rc=-1 msg=invalid_key\n");
        } else if (!(val = rdmx_kvs_get(srv->kvs, key))) {
            snprintf(out, sizeof(out),
                     "cmd=get_result rc=-1 msg=key_%s_not_found\n", key);
            conn_send(srv, id, out);
        } else {
            snprintf(out, sizeof(out),
                     "cmd=get_result rc=0 msg=success value=%s\n", val);
            conn_send(srv, id, out);
        }
    } else if (strcmp(m->cmd, "barrier_in") == 0) {
        do_barrier(srv, rank);
    } else if (strcmp(m->cmd, "finalize") == 0) {
        srv->finalized[rank] = 1;
        conn_send(srv, id, "cmd=finalize_ack rc=0\n");
        if (srv->ops.finalized)
            srv->ops.finalized(srv->arg, rank);
    } else if (strcmp(m->cmd, "abort") == 0) {
        handle_abort(srv, id, line, len);
    } else {
        rdmx_launch_quote(m->cmd, strlen(m->cmd), quoted, 64);
        rdmx_launch_msg("rank %d sent an unknown PMI command \"%s\"", rank,
                        quoted);
        reply_error(srv, id, "unknown_command");
    }
}

int rdmx_pmisrv_readable(rdmx_pmisrv_t *srv, int id)
{
    pmisrv_conn_t *c;
    char who[64];

    if (id < 0 || id >= srv->nconns)
        return -1;
    c = &srv->conns[id];
    for (int rounds = 0; rounds < 64 && c->fd >= 0; rounds++) {
        const char *line;
        size_t len, room;
        char *p;
        ssize_t n;
        int r;

        rdmx_pmi_linebuf_space(&c->lb, &p, &room);
        n = read(c->fd, p, room);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno != ECONNRESET)
                rdmx_launch_msg("read from the PMI connection of %s "
                                "failed: %s",
                                conn_who(c, who, sizeof(who)), strerror(errno));
            conn_close(srv, id);
            return -1;
        }
        if (n == 0) {
            conn_close(srv, id);
            return -1;
        }
        rdmx_pmi_linebuf_commit(&c->lb, (size_t)n);
        while (c->fd >= 0 &&
               (r = rdmx_pmi_linebuf_next(&c->lb, &line, &len)) != 0) {
            if (r < 0) {
                rdmx_launch_msg("%s sent a PMI line longer than %d bytes; "
                                "ignoring it",
                                conn_who(c, who, sizeof(who)),
                                RDMX_PMI_LINE_MAX);
                if (!c->authed) {
                    conn_close(srv, id);
                    return -1;
                }
                reply_error(srv, id, "line_too_long");
                continue;
            }
            rdmx_pmisrv_handle_line(srv, id, line, len);
        }
    }
    return c->fd >= 0 ? 0 : -1;
}

int rdmx_pmisrv_writable(rdmx_pmisrv_t *srv, int id)
{
    pmisrv_conn_t *c;
    size_t off = 0;

    if (id < 0 || id >= srv->nconns || srv->conns[id].fd < 0)
        return -1;
    c = &srv->conns[id];
    while (off < c->out_len) {
        ssize_t n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(c->fd, c->out + off, c->out_len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            conn_close(srv, id);
            return -1;
        }
        off += (size_t)n;
    }
    memmove(c->out, c->out + off, c->out_len - off);
    c->out_len -= off;
    if (c->out_len == 0 && srv->ops.want_write)
        srv->ops.want_write(srv->arg, id, c->fd, 0);
    return 0;
}

void rdmx_pmisrv_expire(rdmx_pmisrv_t *srv, uint64_t now_ms,
                        uint64_t timeout_ms)
{
    for (int i = 0; i < srv->nconns; i++) {
        pmisrv_conn_t *c = &srv->conns[i];
        if (c->fd >= 0 && !c->authed && now_ms - c->t_open > timeout_ms) {
            rdmx_launch_msg("a PMI_PORT connection did not authenticate "
                            "within %llu ms; closing it",
                            (unsigned long long)timeout_ms);
            conn_close(srv, i);
        }
    }
}
