/*
 * proxy_main.c — rdmx-proxy: mpirun's agent on one remote host.
 *
 * Started by the launch agent ("ssh HOST rdmx-proxy"), it reads the job
 * description from stdin (frames in proxy_proto.h; the job secret arrives
 * there, never on a command line), places and starts this host's ranks,
 * and reports their output and exit status on stdout. It relays PMI: its
 * ranks talk PMI-1 to it over PMI_FD socketpairs, it serves them from a
 * per-host cache of the key-value space and forwards puts, barriers,
 * init/finalize and aborts to mpirun (proxy_proto.h). If mpirun goes away
 * (EOF on stdin) the ranks are killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rdmx_build_config.h"

#include "auth.h"
#include "iofwd.h"
#include "launch_util.h"
#include "placement.h"
#include "pmi_server.h"
#include "proxy_proto.h"
#include "rankspawn.h"

extern char **environ;

#define KILL_GRACE_MS 500

enum { T_IN = 1, T_SIG, T_OUT, T_PMI };
#define TAG(t, i) (((uint64_t)(t) << 32) | (uint32_t)(i))

typedef struct prank {
    int rank; /* global */
    pid_t pid;
    int running;
    int in_fd;    /* write end of its stdin pipe, -1 */
    int pmi_conn; /* connection id in px.srv, -1 */
    rdmx_iofwd_t io[2];
} prank_t;

static struct {
    char secret[65], job_id[64], wdir[4096];
    char bind_map[64];
    int size, tag, report, have_wdir, stdin_rank;
    char **args;
    int nargs;
    char **envs;
    int nenvs;
    prank_t *ranks;
    int n, nrunning;
    int epfd, sigfd;
    int stdin_open;
    int terminating, killed;
    uint64_t kill_at;
    rdmx_frame_reader_t rd;
    /* PMI relay */
    rdmx_pmisrv_t *srv;
    char *seed; /* keys from mpirun before the server exists */
    size_t seed_len, seed_cap;
    char *batch; /* keys put here since the last barrier */
    size_t batch_len, batch_cap;
} px;

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    rdmx_frame_send_str(STDOUT_FILENO, 'E', 0, 0, buf);
}

static void sink(void *arg, int rank, int stream, const char *data, size_t len)
{
    /* Frames are at most 1 MiB; iofwd hands over at most 64 KiB lines
     * plus tags per call. */
    while (len > 0) {
        size_t n = len > RDMX_FRAME_MAX ? RDMX_FRAME_MAX : len;
        rdmx_frame_send(STDOUT_FILENO, 'O', rank, stream, data, n);
        data += n;
        len -= n;
    }
}

static char *dupn(const char *p, size_t n)
{
    char *s = malloc(n + 1);

    if (!s) {
        rdmx_launch_msg("out of memory");
        exit(1);
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static int append(char ***v, int *n, char *s)
{
    char **p = realloc(*v, sizeof(char *) * (size_t)(*n + 2));

    if (!p)
        return -1;
    *v = p;
    p[(*n)++] = s;
    p[*n] = NULL;
    return 0;
}

static void copy_field(char *dst, size_t cap, const rdmx_frame_t *f,
                       const char *what)
{
    if (f->len >= cap) {
        rdmx_launch_msg("%s from mpirun is too long (%zu bytes)", what, f->len);
        exit(1);
    }
    memcpy(dst, f->data, f->len);
    dst[f->len] = '\0';
}

/* Read the job description up to the start frame. */
static void read_description(void)
{
    int got_secret = 0;

    for (;;) {
        rdmx_frame_t f;
        int r = rdmx_frame_next(&px.rd, &f);

        if (r < 0) {
            rdmx_launch_msg("malformed job description from mpirun");
            exit(1);
        }
        if (r == 0) {
            r = rdmx_frame_reader_fill(&px.rd, STDIN_FILENO);
            if (r <= 0) {
                rdmx_launch_msg("mpirun closed the connection before "
                                "starting the job");
                exit(1);
            }
            continue;
        }
        if (!got_secret && f.type != 'K') {
            rdmx_launch_msg("mpirun did not send the job secret first");
            exit(1);
        }
        switch (f.type) {
        case 'K':
            copy_field(px.secret, sizeof(px.secret), &f, "job secret");
            if (strlen(px.secret) != 64 ||
                rdmx_hex_decode(px.secret, (uint8_t[32]){0}, 32) != 0) {
                rdmx_launch_msg("the job secret from mpirun is malformed");
                exit(1);
            }
            got_secret = 1;
            break;
        case 'J':
            copy_field(px.job_id, sizeof(px.job_id), &f, "job id");
            break;
        case 'D':
            /* Kept as received; validated when applied to the cache. */
            if (f.len > 0) {
                char *p = realloc(px.seed, px.seed_len + f.len);
                if (!p) {
                    rdmx_launch_msg("out of memory");
                    exit(1);
                }
                px.seed = p;
                memcpy(px.seed + px.seed_len, f.data, f.len);
                px.seed_len += f.len;
            }
            break;
        case 'N':
            px.size = (int)f.a;
            break;
        case 'T':
            px.tag = f.a != 0;
            px.report = f.b != 0;
            break;
        case 'W':
            copy_field(px.wdir, sizeof(px.wdir), &f, "working directory");
            px.have_wdir = 1;
            break;
        case 'A':
            append(&px.args, &px.nargs, dupn(f.data, f.len));
            break;
        case 'V':
            if (!memchr(f.data, '=', f.len)) {
                rdmx_launch_msg("environment entry without '=' from mpirun");
                exit(1);
            }
            append(&px.envs, &px.nenvs, dupn(f.data, f.len));
            break;
        case 'Q':
            px.stdin_rank = (int)f.a;
            break;
        case 'B':
            copy_field(px.bind_map, sizeof(px.bind_map), &f, "placement");
            break;
        case 'R': {
            prank_t *p = realloc(px.ranks, sizeof(*p) * (size_t)(px.n + 1));
            if (!p || f.a < 0 || f.a >= px.size) {
                rdmx_launch_msg("bad rank %ld from mpirun (size %d)", f.a,
                                px.size);
                exit(1);
            }
            px.ranks = p;
            memset(&p[px.n], 0, sizeof(*p));
            p[px.n].rank = (int)f.a;
            p[px.n].in_fd = -1;
            p[px.n].pmi_conn = -1;
            p[px.n].io[0].fd = p[px.n].io[1].fd = -1;
            px.n++;
            break;
        }
        case 'G':
            if (px.nargs == 0 || px.n == 0 || !px.job_id[0] || px.size < 1) {
                rdmx_launch_msg("incomplete job description from mpirun");
                exit(1);
            }
            return;
        default:
            rdmx_launch_msg("unexpected frame '%c' from mpirun", f.type);
            exit(1);
        }
    }
}

static void signal_ranks(int sig)
{
    for (int i = 0; i < px.n; i++)
        if (px.ranks[i].running && kill(-px.ranks[i].pid, sig) != 0)
            kill(px.ranks[i].pid, sig);
}

static void terminate(void)
{
    if (!px.terminating) {
        px.terminating = 1;
        px.kill_at = now_ms() + KILL_GRACE_MS;
        signal_ranks(SIGTERM);
    }
}

static prank_t *find_rank(long rank)
{
    for (int i = 0; i < px.n; i++)
        if (px.ranks[i].rank == rank)
            return &px.ranks[i];
    return NULL;
}

/* ---- PMI relay ---------------------------------------------------------- */

static void cache_put(void *arg, const char *key, const char *value)
{
    if (rdmx_pmisrv_put(px.srv, key, value) != RDMX_OK) {
        report("PMI key-value cache is full; ending the ranks");
        terminate();
    }
}

static void cb_want_write(void *arg, int conn, int fd, int on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                             .data.u64 = TAG(T_PMI, conn)};
    epoll_ctl(px.epfd, EPOLL_CTL_MOD, fd, &ev);
}

static void cb_inited(void *arg, int rank)
{
    rdmx_frame_send(STDOUT_FILENO, 'Y', rank, 1, NULL, 0);
}

static void cb_finalized(void *arg, int rank)
{
    rdmx_frame_send(STDOUT_FILENO, 'Y', rank, 2, NULL, 0);
}

static void cb_aborted(void *arg, int rank, int code, const char *msg)
{
    rdmx_frame_send_str(STDOUT_FILENO, 'a', rank, code, msg);
}

static void cb_put(void *arg, int rank, const char *key, const char *value)
{
    if (rdmx_kv_lines_append(&px.batch, &px.batch_len, &px.batch_cap, key,
                             value) != 0) {
        report("out of memory relaying PMI keys; ending the ranks");
        terminate();
    }
}

/* Every rank here entered the barrier: send their keys and say so. */
static void cb_barrier_local(void *arg)
{
    rdmx_frame_send_lines(STDOUT_FILENO, 'D', px.batch, px.batch_len);
    rdmx_frame_send(STDOUT_FILENO, 'F', 0, 0, NULL, 0);
    px.batch_len = 0;
}

static void handle_control(void)
{
    rdmx_frame_t f;
    int r = rdmx_frame_reader_fill(&px.rd, STDIN_FILENO), n;

    while ((n = rdmx_frame_next(&px.rd, &f)) > 0) {
        prank_t *p;
        switch (f.type) {
        case 'Z':
            if (f.a > 0 && f.a < 65)
                signal_ranks((int)f.a);
            if (f.a == SIGKILL)
                px.killed = 1;
            break;
        case 'I':
            p = find_rank(f.a);
            if (p && p->in_fd >= 0 &&
                rdmx_launch_write_all(p->in_fd, f.data, f.len) != 0) {
                close(p->in_fd);
                p->in_fd = -1;
            }
            break;
        case 'i':
            p = find_rank(f.a);
            if (p && p->in_fd >= 0) {
                close(p->in_fd);
                p->in_fd = -1;
            }
            break;
        case 'D':
            if (rdmx_kv_lines_parse(f.data, f.len, cache_put, NULL) < 0) {
                report("malformed PMI keys from mpirun; ending the ranks");
                terminate();
            }
            break;
        case 'F':
            rdmx_pmisrv_barrier_release(px.srv);
            break;
        default:
            report("unexpected frame '%c' from mpirun ignored", f.type);
        }
    }
    if (n < 0)
        r = -1;
    if (r <= 0) {
        if (r < 0)
            rdmx_launch_msg("lost or malformed control stream from mpirun; "
                            "ending the ranks");
        /* mpirun is gone (or confused): nobody would collect results. */
        epoll_ctl(px.epfd, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
        px.stdin_open = 0;
        terminate();
    }
}

static void reap(void)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        for (int i = 0; i < px.n; i++) {
            prank_t *p = &px.ranks[i];
            if (p->pid != pid || !p->running)
                continue;
            p->running = 0;
            px.nrunning--;
            for (int s = 0; s < 2; s++)
                rdmx_iofwd_readable(&p->io[s]);
            /* Its last PMI lines (finalize) go out before its exit. */
            if (p->pmi_conn >= 0) {
                rdmx_pmisrv_readable(px.srv, p->pmi_conn);
                rdmx_pmisrv_drop_rank(px.srv, p->rank);
                p->pmi_conn = -1;
            }
            rdmx_frame_send(STDOUT_FILENO, 'X', p->rank, status, NULL, 0);
        }
    }
}

static int setup_placement(rdmx_place_t *pl)
{
#if RDMX_HAVE_HWLOC
    char bind_s[32] = "default", map_s[32] = "core";
    rdmx_bind_t bind = RDMX_BIND_DEFAULT;
    rdmx_pmap_t map = RDMX_PMAP_CORE;
    hwloc_topology_t topo;
    char err[256];
    int over, bynode;

    if (px.bind_map[0])
        sscanf(px.bind_map, "%31s %31s", bind_s, map_s);
    if (strcmp(bind_s, "default") != 0 &&
        rdmx_place_parse_bind(bind_s, &bind) != 0)
        return -1;
    rdmx_place_parse_map(map_s, &map, &bynode);
    if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0) {
        report("cannot read the hwloc topology; ranks are not bound");
        return 0;
    }
    if (rdmx_place_plan(topo, px.n, bind, map, pl, &over, err, sizeof(err)) !=
        RDMX_OK) {
        report("placement failed: %s", err);
        hwloc_topology_destroy(topo);
        return -1;
    }
    hwloc_topology_destroy(topo);
#else
    (void)pl;
#endif
    return 0;
}

int main(int argc, char **argv)
{
    char host[256] = "?";
    rdmx_place_t *pl;
    sigset_t mask;

    rdmx_launch_progname = "rdmx-proxy";
    if (argc > 1 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Usage: rdmx-proxy\n"
               "Started by mpirun on each remote host through the launch "
               "agent (ssh);\nreads the job description from stdin. Not "
               "meant to be run by hand.\n");
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    rdmx_frame_reader_init(&px.rd);
    px.stdin_rank = -1;
    read_description();
    gethostname(host, sizeof(host) - 1);
    rdmx_frame_send_str(STDOUT_FILENO, 'H', 0, 0, host);

    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    px.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    px.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (px.sigfd < 0 || px.epfd < 0) {
        report("signalfd/epoll on %s failed: %s", host, strerror(errno));
        return 1;
    }
    {
        static const rdmx_pmisrv_ops_t ops = {
            .want_write = cb_want_write,
            .inited = cb_inited,
            .finalized = cb_finalized,
            .aborted = cb_aborted,
            .put = cb_put,
            .barrier_local = cb_barrier_local,
        };
        char kvsname[96];
        snprintf(kvsname, sizeof(kvsname), "kvs_%s", px.job_id);
        /* Ranks here are bound to their socketpairs: no secret needed. */
        if (rdmx_pmisrv_create(&px.srv, px.size, kvsname, NULL, 0, &ops,
                               NULL) != RDMX_OK) {
            report("cannot create the PMI relay on %s", host);
            return 1;
        }
        rdmx_pmisrv_set_relay(px.srv, px.n);
        if (rdmx_kv_lines_parse(px.seed, px.seed_len, cache_put, NULL) < 0) {
            report("malformed PMI keys from mpirun");
            return 1;
        }
        free(px.seed);
        px.seed = NULL;
    }
    pl = calloc((size_t)px.n, sizeof(*pl));
    if (!pl || setup_placement(pl) != 0) {
        report("cannot place %d ranks on %s", px.n, host);
        return 1;
    }

    for (int i = 0; i < px.n; i++) {
        prank_t *p = &px.ranks[i];
        char *add[16], **env;
        int na = 0, in_pipe[2] = {-1, -1}, sv[2] = {-1, -1}, out_fd, err_fd;
        rdmx_spawn_req_t req = {0};
        char **extra = NULL;
        int nextra = 0;

        for (int e = 0; e < px.nenvs; e++)
            append(&extra, &nextra, strdup(px.envs[e]));
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            report("socketpair for rank %d on %s failed: %s", p->rank, host,
                   strerror(errno));
            return 1;
        }
        if (asprintf(&add[na++], "PMI_FD=%d", sv[1]) < 0 ||
            asprintf(&add[na++], "PMI_RANK=%d", p->rank) < 0 ||
            asprintf(&add[na++], "PMI_SIZE=%d", px.size) < 0 ||
            asprintf(&add[na++], "RDMX_JOB_ID=%s", px.job_id) < 0 ||
            asprintf(&add[na++], "RDMX_JOB_SECRET=%s", px.secret) < 0 ||
            asprintf(&add[na++], "RDMX_LOCAL_RANK=%d", i) < 0 ||
            asprintf(&add[na++], "RDMX_LOCAL_SIZE=%d", px.n) < 0)
            return 1;
        if (pl[i].bound &&
            asprintf(&add[na++], "RDMX_CPUSET=%s", pl[i].cpuset) < 0)
            return 1;
        for (int k = 0; k < na; k++)
            append(&extra, &nextra, add[k]);
        env = rdmx_env_build(environ, extra, nextra);
        rdmx_env_free(extra);
        if (!env)
            return 1;
        if (px.report)
            report("rank %d on %s: %s%s%s", p->rank, host,
                   pl[i].bound ? "bound to " : "not bound (", pl[i].where,
                   pl[i].bound ? "" : ")");
        if (p->rank == px.stdin_rank && pipe2(in_pipe, O_CLOEXEC) == 0)
            req.stdin_fd = in_pipe[0];
        else
            req.stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        req.rank = p->rank;
        req.argv = px.args;
        req.env = env;
        req.wdir = px.have_wdir ? px.wdir : NULL;
        req.pmi_fd = sv[1];
        req.cpuset = pl[i].bound ? pl[i].cpuset : NULL;
        if (rdmx_spawn_rank(&req, &p->pid, &out_fd, &err_fd) != 0) {
            rdmx_env_free(env);
            close(sv[0]);
            close(sv[1]);
            report("cannot start rank %d on %s", p->rank, host);
            /* Report it as failed; mpirun ends the job. */
            rdmx_frame_send(STDOUT_FILENO, 'X', p->rank, 127 << 8, NULL, 0);
            continue;
        }
        rdmx_env_free(env);
        close(req.stdin_fd);
        close(sv[1]);
        p->pmi_conn = rdmx_pmisrv_add_conn(px.srv, sv[0], p->rank);
        if (p->pmi_conn >= 0) {
            struct epoll_event ev = {.events = EPOLLIN,
                                     .data.u64 = TAG(T_PMI, p->pmi_conn)};
            epoll_ctl(px.epfd, EPOLL_CTL_ADD, sv[0], &ev);
        }
        p->in_fd = in_pipe[1];
        p->running = 1;
        px.nrunning++;
        rdmx_iofwd_init(&p->io[0], out_fd, STDOUT_FILENO, p->rank, px.tag);
        rdmx_iofwd_init(&p->io[1], err_fd, STDERR_FILENO, p->rank, px.tag);
        for (int s = 0; s < 2; s++) {
            p->io[s].sink = sink;
            p->io[s].stream = s + 1;
            struct epoll_event ev = {.events = EPOLLIN,
                                     .data.u64 = TAG(T_OUT, i * 2 + s)};
            epoll_ctl(px.epfd, EPOLL_CTL_ADD, p->io[s].fd, &ev);
        }
        rdmx_frame_send(STDOUT_FILENO, 'S', p->rank, p->pid, NULL, 0);
    }
    free(pl);

    {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(T_SIG, 0)};
        epoll_ctl(px.epfd, EPOLL_CTL_ADD, px.sigfd, &ev);
        ev.data.u64 = TAG(T_IN, 0);
        rdmx_launch_set_nonblock(STDIN_FILENO);
        if (epoll_ctl(px.epfd, EPOLL_CTL_ADD, STDIN_FILENO, &ev) == 0)
            px.stdin_open = 1;
    }
    /* Frames already buffered behind the start frame. */
    if (px.rd.len)
        handle_control();

    for (;;) {
        struct epoll_event evs[32];
        int timeout = -1, n;
        int open_out = 0;

        for (int i = 0; i < px.n; i++)
            open_out |= px.ranks[i].io[0].fd >= 0 || px.ranks[i].io[1].fd >= 0;
        if (px.nrunning == 0 && !open_out)
            break;
        if (px.nrunning == 0)
            timeout = 2000; /* pipes held by leftovers: give up soon */
        if (px.terminating && px.nrunning > 0) {
            uint64_t t = now_ms();
            if (t >= px.kill_at) {
                signal_ranks(SIGKILL);
                px.kill_at = t + 1000;
            }
            timeout = (int)(px.kill_at - (t < px.kill_at ? t : px.kill_at));
        }
        n = epoll_wait(px.epfd, evs, 32, timeout);
        if (n < 0 && errno != EINTR)
            break;
        if (n == 0 && px.nrunning == 0)
            break;
        for (int i = 0; i < n; i++) {
            uint32_t type = (uint32_t)(evs[i].data.u64 >> 32);
            int idx = (int)(uint32_t)evs[i].data.u64;
            if (type == T_IN) {
                handle_control();
            } else if (type == T_SIG) {
                struct signalfd_siginfo si;
                while (read(px.sigfd, &si, sizeof(si)) == sizeof(si)) {
                    if (si.ssi_signo == SIGCHLD)
                        reap();
                    else
                        terminate();
                }
            } else if (type == T_OUT) {
                rdmx_iofwd_readable(&px.ranks[idx / 2].io[idx % 2]);
            } else if (type == T_PMI) {
                if (evs[i].events & EPOLLOUT)
                    rdmx_pmisrv_writable(px.srv, idx);
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    rdmx_pmisrv_readable(px.srv, idx);
            }
        }
    }
    /* Leave nothing behind in the ranks' process groups. */
    for (int i = 0; i < px.n; i++)
        if (px.ranks[i].pid > 0)
            kill(-px.ranks[i].pid, SIGKILL);
    for (int i = 0; i < px.n; i++)
        for (int s = 0; s < 2; s++)
            rdmx_iofwd_close(&px.ranks[i].io[s]);
    rdmx_pmisrv_destroy(px.srv);
    free(px.batch);
    return 0;
}
