/*
 * pmi_server_test.c — the PMI-1 server state machine through socketpairs,
 * the PMI_PORT handshake, output line formatting and option parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "bootstrap/pmi_auth.h"
#include "iofwd.h"
#include "launch_opts.h"
#include "pmi_server.h"
#include "proxy_proto.h"

#define NR 3

typedef struct fixture {
    rdmx_pmisrv_t *srv;
    int client[NR];
    int conn[NR];
    int aborted_rank, aborted_code, finalized;
    char aborted_msg[256];
    uint8_t secret[32];
} fixture_t;

static void cb_aborted(void *arg, int rank, int code, const char *msg)
{
    fixture_t *f = arg;
    f->aborted_rank = rank;
    f->aborted_code = code;
    snprintf(f->aborted_msg, sizeof(f->aborted_msg), "%s", msg);
}

static void cb_finalized(void *arg, int rank)
{
    ((fixture_t *)arg)->finalized++;
}

static int setup(void **state)
{
    static const rdmx_pmisrv_ops_t ops = {.aborted = cb_aborted,
                                          .finalized = cb_finalized};
    fixture_t *f = calloc(1, sizeof(*f));

    memset(f->secret, 0x5a, sizeof(f->secret));
    f->aborted_rank = -1;
    assert_int_equal(rdmx_pmisrv_create(&f->srv, NR, "kvs_test", f->secret,
                                        sizeof(f->secret), &ops, f),
                     RDMX_OK);
    for (int r = 0; r < NR; r++) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        f->client[r] = sv[0];
        f->conn[r] = rdmx_pmisrv_add_conn(f->srv, sv[1], r);
        assert_true(f->conn[r] >= 0);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    for (int r = 0; r < NR; r++)
        close(f->client[r]);
    rdmx_pmisrv_destroy(f->srv);
    free(f);
    return 0;
}

/* Send `line` from rank r's side and let the server handle it. */
static void say(fixture_t *f, int r, const char *line)
{
    assert_int_equal(write(f->client[r], line, strlen(line)),
                     (ssize_t)strlen(line));
    assert_int_equal(rdmx_pmisrv_readable(f->srv, f->conn[r]), 0);
}

/* Everything the server has sent to rank r so far. */
static char *hear(fixture_t *f, int fd)
{
    static char buf[8192];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void test_init_and_queries(void **state)
{
    fixture_t *f = *state;

    say(f, 0, "cmd=init pmi_version=1 pmi_subversion=1\n");
    assert_string_equal(hear(f, f->client[0]),
                        "cmd=response_to_init pmi_version=1 "
                        "pmi_subversion=1 rc=0\n");
    assert_true(rdmx_pmisrv_rank_inited(f->srv, 0));
    assert_false(rdmx_pmisrv_rank_inited(f->srv, 1));
    say(f, 0, "cmd=get_maxes\n");
    assert_string_equal(hear(f, f->client[0]),
                        "cmd=maxes kvsname_max=256 keylen_max=64 "
                        "vallen_max=1024 rc=0\n");
    say(f, 0, "cmd=get_my_kvsname\ncmd=get_appnum\ncmd=get_universe_size\n");
    assert_string_equal(hear(f, f->client[0]),
                        "cmd=my_kvsname kvsname=kvs_test rc=0\n"
                        "cmd=appnum appnum=0 rc=0\n"
                        "cmd=universe_size size=3 rc=0\n");
    say(f, 1, "cmd=init pmi_version=2 pmi_subversion=0\n");
    assert_non_null(strstr(hear(f, f->client[1]), "rc=-1"));
}

static void test_put_get(void **state)
{
    fixture_t *f = *state;

    say(f, 0, "cmd=put kvsname=kvs_test key=a value=1\n");
    assert_string_equal(hear(f, f->client[0]),
                        "cmd=put_result rc=0 msg=success\n");
    say(f, 1, "cmd=get kvsname=kvs_test key=a\n");
    assert_string_equal(hear(f, f->client[1]),
                        "cmd=get_result rc=0 msg=success value=1\n");
    say(f, 1, "cmd=get kvsname=kvs_test key=b\n");
    assert_string_equal(hear(f, f->client[1]),
                        "cmd=get_result rc=-1 msg=key_b_not_found\n");
    say(f, 1, "cmd=get kvsname=other key=a\n");
    assert_string_equal(hear(f, f->client[1]),
                        "cmd=get_result rc=-1 msg=unknown_kvsname\n");
    say(f, 2, "cmd=put kvsname=kvs_test key=a\n");
    assert_non_null(strstr(hear(f, f->client[2]), "put_result rc=-1"));
}

static void test_barrier(void **state)
{
    fixture_t *f = *state;

    say(f, 0, "cmd=barrier_in\n");
    say(f, 1, "cmd=barrier_in\n");
    say(f, 1, "cmd=barrier_in\n"); /* repeated: counted once */
    assert_string_equal(hear(f, f->client[0]), "");
    assert_string_equal(hear(f, f->client[1]), "");
    say(f, 2, "cmd=barrier_in\n");
    for (int r = 0; r < NR; r++)
        assert_string_equal(hear(f, f->client[r]), "cmd=barrier_out rc=0\n");
    /* a second round works the same way */
    for (int r = 0; r < NR; r++)
        say(f, r, "cmd=barrier_in\n");
    for (int r = 0; r < NR; r++)
        assert_string_equal(hear(f, f->client[r]), "cmd=barrier_out rc=0\n");
}

static void test_malformed_lines_do_not_kill(void **state)
{
    fixture_t *f = *state;
    char big[RDMX_PMI_LINE_MAX + 500];

    say(f, 0, "garbage without equals\n");
    assert_string_equal(hear(f, f->client[0]),
                        "cmd=error rc=-1 msg=malformed_line\n");
    say(f, 0, "cmd=frobnicate\n");
    assert_string_equal(hear(f, f->client[0]),
                        "cmd=error rc=-1 msg=unknown_command\n");
    say(f, 0, "mcmd=spawn\n");
    assert_string_equal(hear(f, f->client[0]),
                        "cmd=error rc=-1 msg=spawn_not_supported\n");
    memset(big, 'x', sizeof(big));
    big[sizeof(big) - 1] = '\n';
    assert_int_equal(write(f->client[0], big, sizeof(big)),
                     (ssize_t)sizeof(big));
    assert_int_equal(rdmx_pmisrv_readable(f->srv, f->conn[0]), 0);
    assert_string_equal(hear(f, f->client[0]),
                        "cmd=error rc=-1 msg=line_too_long\n");
    assert_int_equal(write(f->client[0], "cmd=put key=a\0b value=c\n", 24), 24);
    assert_int_equal(rdmx_pmisrv_readable(f->srv, f->conn[0]), 0);
    assert_string_equal(hear(f, f->client[0]),
                        "cmd=error rc=-1 msg=malformed_line\n");
    /* still served */
    say(f, 0, "cmd=get_appnum\n");
    assert_string_equal(hear(f, f->client[0]), "cmd=appnum appnum=0 rc=0\n");
}

static void test_abort_and_finalize(void **state)
{
    fixture_t *f = *state;

    say(f, 2, "cmd=finalize\n");
    assert_string_equal(hear(f, f->client[2]), "cmd=finalize_ack rc=0\n");
    assert_int_equal(f->finalized, 1);
    assert_true(rdmx_pmisrv_rank_finalized(f->srv, 2));
    say(f, 1, "cmd=abort exitcode=7 message=disk full: x=1\n");
    assert_int_equal(f->aborted_rank, 1);
    assert_int_equal(f->aborted_code, 7);
    assert_string_equal(f->aborted_msg, "disk full: x=1");
    say(f, 0, "cmd=abort\n");
    assert_int_equal(f->aborted_rank, 0);
    assert_int_equal(f->aborted_code, 1);
}

static void test_eof(void **state)
{
    fixture_t *f = *state;

    close(f->client[1]);
    assert_int_equal(rdmx_pmisrv_readable(f->srv, f->conn[1]), -1);
    assert_int_equal(rdmx_pmisrv_conn_fd(f->srv, f->conn[1]), -1);
    f->client[1] = socket(AF_UNIX, SOCK_STREAM, 0); /* for teardown */
}

/* Authenticate an unbound connection as `rank` with `secret`. Returns the
 * server's answer. */
static char *port_login(fixture_t *f, int *cid, int *cfd, int rank,
                        const uint8_t *secret)
{
    int sv[2];
    char *challenge, line[256], hn[33], hm[65];
    uint8_t snonce[RDMX_AUTH_NONCE_LEN], cnonce[RDMX_AUTH_NONCE_LEN];
    uint8_t mac[RDMX_AUTH_MAC_LEN];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    *cfd = sv[0];
    *cid = rdmx_pmisrv_add_conn(f->srv, sv[1], -1);
    assert_true(*cid >= 0);
    challenge = hear(f, *cfd);
    assert_int_equal(strncmp(challenge, "cmd=auth_challenge nonce=", 25), 0);
    assert_int_equal(
        rdmx_hex_decode(strndup(challenge + 25, 32), snonce, sizeof(snonce)),
        0);
    memset(cnonce, 0x11, sizeof(cnonce));
    rdmx_pmi_auth_mac(secret, 32, snonce, RDMX_PMI_AUTH_CLIENT, rank, mac);
    rdmx_hex_encode(cnonce, sizeof(cnonce), hn);
    rdmx_hex_encode(mac, sizeof(mac), hm);
    snprintf(line, sizeof(line), "cmd=auth_response rank=%d nonce=%s mac=%s\n",
             rank, hn, hm);
    assert_int_equal(write(*cfd, line, strlen(line)), (ssize_t)strlen(line));
    rdmx_pmisrv_readable(f->srv, *cid);
    return hear(f, *cfd);
}

static void test_port_auth(void **state)
{
    fixture_t *f = *state;
    uint8_t wrong[32], mac[RDMX_AUTH_MAC_LEN], cnonce[RDMX_AUTH_NONCE_LEN];
    char hm[65];
    int cid, cfd;
    char *reply;

    /* wrong secret: refused and closed */
    memset(wrong, 0x33, sizeof(wrong));
    reply = port_login(f, &cid, &cfd, 0, wrong);
    assert_string_equal(reply,
                        "cmd=auth_result rc=-1 msg=authentication_failed\n");
    assert_int_equal(rdmx_pmisrv_conn_fd(f->srv, cid), -1);
    close(cfd);

    /* rank 1 is already bound through its socketpair: refused */
    reply = port_login(f, &cid, &cfd, 1, f->secret);
    assert_non_null(strstr(reply, "rc=-1"));
    close(cfd);

    /* the server proves the secret back */
    rdmx_pmisrv_drop_rank(f->srv, 2);
    reply = port_login(f, &cid, &cfd, 2, f->secret);
    memset(cnonce, 0x11, sizeof(cnonce));
    rdmx_pmi_auth_mac(f->secret, 32, cnonce, RDMX_PMI_AUTH_SERVER, 2, mac);
    rdmx_hex_encode(mac, sizeof(mac), hm);
    assert_int_equal(strncmp(reply, "cmd=auth_result rc=0 mac=", 25), 0);
    assert_memory_equal(reply + 25, hm, 64);
    /* and the connection now speaks PMI as rank 2 */
    assert_int_equal(write(cfd, "cmd=finalize\n", 13), 13);
    rdmx_pmisrv_readable(f->srv, cid);
    assert_string_equal(hear(f, cfd), "cmd=finalize_ack rc=0\n");
    assert_true(rdmx_pmisrv_rank_finalized(f->srv, 2));
    close(cfd);

    /* a PMI command before authenticating closes the connection */
    {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        cid = rdmx_pmisrv_add_conn(f->srv, sv[1], -1);
        hear(f, sv[0]);
        assert_int_equal(write(sv[0], "cmd=init\n", 9), 9);
        assert_int_equal(rdmx_pmisrv_readable(f->srv, cid), -1);
        close(sv[0]);
    }
    /* an idle unauthenticated connection expires */
    {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        cid = rdmx_pmisrv_add_conn(f->srv, sv[1], -1);
        rdmx_pmisrv_expire(f->srv, rdmx_pmisrv_now_ms() + 20000, 10000);
        assert_int_equal(rdmx_pmisrv_conn_fd(f->srv, cid), -1);
        close(sv[0]);
    }
}

/* ---- PMI relay: a proxy's server in relay mode in front of mpirun's ---- */

typedef struct relay {
    char *lines; /* proxy batch, or mpirun delta */
    size_t len, cap;
    int local_done, job_done;
} relay_t;

static void relay_cb_put(void *arg, int rank, const char *key,
                         const char *value)
{
    relay_t *r = arg;
    assert_int_equal(
        rdmx_kv_lines_append(&r->lines, &r->len, &r->cap, key, value), 0);
}

static void relay_cb_local(void *arg)
{
    ((relay_t *)arg)->local_done++;
}

static void relay_cb_done(void *arg)
{
    ((relay_t *)arg)->job_done++;
}

static rdmx_pmisrv_t *relay_apply_srv;
static relay_t *relay_apply_delta;
static void relay_apply(void *arg, const char *key, const char *value)
{
    assert_int_equal(rdmx_pmisrv_put(relay_apply_srv, key, value), RDMX_OK);
    if (relay_apply_delta)
        relay_cb_put(relay_apply_delta, -1, key, value);
}

static void relay_say(rdmx_pmisrv_t *srv, int conn, int fd, const char *line)
{
    assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
    assert_int_equal(rdmx_pmisrv_readable(srv, conn), 0);
}

static void test_relay(void **state)
{
    static const rdmx_pmisrv_ops_t mops = {.put = relay_cb_put,
                                           .barrier_done = relay_cb_done};
    static const rdmx_pmisrv_ops_t pops = {.put = relay_cb_put,
                                           .barrier_local = relay_cb_local};
    relay_t m = {0}, p = {0};
    rdmx_pmisrv_t *srv_m, *srv_p;
    int fd[3], conn[3], sv[2];
    rdmx_pmisrv_t *owner[3];

    (void)state;
    /* rank 0 runs beside mpirun; ranks 1 and 2 behind one proxy */
    assert_int_equal(rdmx_pmisrv_create(&srv_m, 3, "kvs_r", NULL, 0, &mops, &m),
                     RDMX_OK);
    assert_int_equal(rdmx_pmisrv_create(&srv_p, 3, "kvs_r", NULL, 0, &pops, &p),
                     RDMX_OK);
    rdmx_pmisrv_set_relay(srv_p, 2);
    for (int r = 0; r < 3; r++) {
        owner[r] = r == 0 ? srv_m : srv_p;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        fd[r] = sv[0];
        conn[r] = rdmx_pmisrv_add_conn(owner[r], sv[1], r);
        assert_true(conn[r] >= 0);
    }
    for (int r = 0; r < 3; r++) {
        char line[80];
        snprintf(line, sizeof(line),
                 "cmd=put kvsname=kvs_r key=k%d value=v%d\n", r, r);
        relay_say(owner[r], conn[r], fd[r], line);
        hear(NULL, fd[r]);
    }
    assert_int_equal(p.len, 12);
    assert_memory_equal(p.lines, "k1=v1\nk2=v2\n", 12);
    relay_say(srv_p, conn[1], fd[1], "cmd=barrier_in\n");
    assert_int_equal(p.local_done, 0);
    relay_say(srv_p, conn[2], fd[2], "cmd=barrier_in\n");
    assert_int_equal(p.local_done, 1);
    assert_string_equal(hear(NULL, fd[1]), ""); /* held until released */
    /* the proxy's batch and "all in" reach mpirun */
    relay_apply_srv = srv_m;
    relay_apply_delta = &m;
    assert_int_equal(rdmx_kv_lines_parse(p.lines, p.len, relay_apply, NULL), 2);
    p.len = 0;
    rdmx_pmisrv_barrier_enter(srv_m, 1);
    rdmx_pmisrv_barrier_enter(srv_m, 2);
    rdmx_pmisrv_barrier_enter(srv_m, 0); /* has a connection: ignored */
    assert_int_equal(m.job_done, 0);
    relay_say(srv_m, conn[0], fd[0], "cmd=barrier_in\n");
    assert_int_equal(m.job_done, 1);
    assert_string_equal(hear(NULL, fd[0]), "cmd=barrier_out rc=0\n");
    /* mpirun's delta (all three keys) reaches the proxy's cache */
    relay_apply_srv = srv_p;
    relay_apply_delta = NULL;
    assert_int_equal(rdmx_kv_lines_parse(m.lines, m.len, relay_apply, NULL), 3);
    rdmx_pmisrv_barrier_release(srv_p);
    assert_string_equal(hear(NULL, fd[1]), "cmd=barrier_out rc=0\n");
    assert_string_equal(hear(NULL, fd[2]), "cmd=barrier_out rc=0\n");
    relay_say(srv_p, conn[1], fd[1], "cmd=get kvsname=kvs_r key=k0\n");
    assert_string_equal(hear(NULL, fd[1]),
                        "cmd=get_result rc=0 msg=success value=v0\n");
    relay_say(srv_m, conn[0], fd[0], "cmd=get kvsname=kvs_r key=k2\n");
    assert_string_equal(hear(NULL, fd[0]),
                        "cmd=get_result rc=0 msg=success value=v2\n");
    /* a second round: a release without a pending barrier does nothing */
    rdmx_pmisrv_barrier_release(srv_p);
    assert_string_equal(hear(NULL, fd[1]), "");
    relay_say(srv_p, conn[1], fd[1], "cmd=barrier_in\n");
    relay_say(srv_p, conn[2], fd[2], "cmd=barrier_in\n");
    assert_int_equal(p.local_done, 2);
    for (int r = 0; r < 3; r++)
        close(fd[r]);
    rdmx_pmisrv_destroy(srv_m);
    rdmx_pmisrv_destroy(srv_p);
    free(m.lines);
    free(p.lines);
}

static void count_kv(void *arg, const char *key, const char *value)
{
    (*(int *)arg)++;
}

static void test_kv_lines_reject(void **state)
{
    int n = 0;
    static const char *bad[] = {"k\n", "=v\n",    "k=v w\n",
                                "k=v", "k=a=b\n", "k\x01=v\n"};

    (void)state;
    assert_int_equal(rdmx_kv_lines_parse("a=1\nb=2\n", 8, count_kv, &n), 2);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            rdmx_kv_lines_parse(bad[i], strlen(bad[i]), count_kv, &n), -1);
    assert_int_equal(n, 2);
}

static void test_iofwd_format(void **state)
{
    char out[256];
    size_t used, n;

    n = rdmx_iofwd_format("a\nbc\npartial", 12, 3, 1, 0, out, &used);
    out[n] = '\0';
    assert_string_equal(out, "[3] a\n[3] bc\n");
    assert_int_equal(used, 5);
    n = rdmx_iofwd_format("partial", 7, 3, 1, 1, out, &used);
    out[n] = '\0';
    assert_string_equal(out, "[3] partial\n");
    n = rdmx_iofwd_format("partial", 7, 3, 0, 1, out, &used);
    out[n] = '\0';
    assert_string_equal(out, "partial");
    n = rdmx_iofwd_format("x\n", 2, 12, 0, 0, out, &used);
    out[n] = '\0';
    assert_string_equal(out, "x\n");
}

static int parse(rdmx_launch_opts_t *o, const char *const *args)
{
    char *argv[32];
    int argc = 0;

    argv[argc++] = "mpirun";
    while (*args)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    return rdmx_launch_opts_parse(o, argc, argv);
}

static void test_opts(void **state)
{
    rdmx_launch_opts_t o;

    assert_int_equal(
        parse(&o, (const char *const[]){"-np", "4", "--tag-output", "-x", "A=1",
                                        "-genv", "B", "2", "prog", "-n", "9",
                                        NULL}),
        0);
    assert_int_equal(o.np, 4);
    assert_int_equal(o.tag_output, 1);
    assert_int_equal(o.nenv, 2);
    assert_string_equal(o.env[1], "B=2");
    assert_int_equal(o.argc, 3); /* "-n 9" belongs to the program */
    assert_string_equal(o.argv[0], "prog");
    rdmx_launch_opts_free(&o);

    assert_int_equal(parse(&o, (const char *const[]){"--n=2", "--stdin=none",
                                                     "--", "-prog", NULL}),
                     0);
    assert_int_equal(o.np, 2);
    assert_int_equal(o.stdin_rank, -1);
    assert_string_equal(o.argv[0], "-prog");
    rdmx_launch_opts_free(&o);

    assert_int_equal(parse(&o, (const char *const[]){"-n", "0", "p", NULL}),
                     -1);
    assert_int_equal(parse(&o, (const char *const[]){"-n", "x", "p", NULL}),
                     -1);
    assert_int_equal(parse(&o, (const char *const[]){"-n", NULL}), -1);
    assert_int_equal(parse(&o, (const char *const[]){"--frob", "p", NULL}), -1);
    assert_int_equal(parse(&o, (const char *const[]){"p", NULL}), -1);
    assert_int_equal(parse(&o, (const char *const[]){"-n", "2", NULL}), -1);
    assert_int_equal(
        parse(&o, (const char *const[]){"-n", "2", "-x", "1A", "p", NULL}), -1);
    assert_int_equal(
        parse(&o, (const char *const[]){"-n", "2", "--stdin", "5", "p", NULL}),
        -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init_and_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_barrier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_lines_do_not_kill, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_abort_and_finalize, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_auth, setup, teardown),
        cmocka_unit_test(test_relay),
        cmocka_unit_test(test_kv_lines_reject),
        cmocka_unit_test(test_iofwd_format),
        cmocka_unit_test(test_opts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
