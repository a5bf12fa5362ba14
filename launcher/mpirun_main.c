/*
 * mpirun_main.c — rdmx's local launcher: starts N ranks on this host,
 * serves PMI-1 to them, forwards their stdio and signals, and ends the job
 * as a whole when one rank fails (behaviour documented in --help,
 * launch_opts.c).
 *
 * Everything runs in one epoll loop; signals arrive through a signalfd, so
 * no work happens in signal handlers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netdb.h>

#include "rdmx_build_config.h"

#include "auth.h"
#include "bootstrap/pmi.h"
#include "hostfile.h"
#include "iofwd.h"
#include "launch_opts.h"
#include "launch_util.h"
#include "placement.h"
#include "pmi_server.h"
#include "proxy_proto.h"
#include "rankspawn.h"

extern char **environ;

/* Grace between SIGTERM and SIGKILL when ending a job. */
#define KILL_GRACE_MS 500
/* How long to wait for output pipes held open by leftover processes. */
#define DRAIN_MS 2000
#define ABANDON_MS 1500
#define AUTH_TIMEOUT_MS 10000

enum {
    T_SIG = 1,
    T_LISTEN,
    T_PMI,
    T_OUT,
    T_STDIN,
    T_STDIN_PIPE,
    T_PROXY_OUT,
    T_PROXY_ERR
};
#define TAG(t, i) (((uint64_t)(t) << 32) | (uint32_t)(i))

typedef struct rank_proc {
    pid_t pid; /* 0 until a remote proxy reports it */
    int running;
    int status;
    int pmi_conn;
    int host;  /* index into job.hl.hosts */
    int proxy; /* -1: started by mpirun itself */
    int local_rank;
    rdmx_iofwd_t io[2]; /* stdout, stderr */
} rank_proc_t;

/* One rdmx-proxy (through the launch agent) per remote host. */
typedef struct proxy {
    int host;
    pid_t pid;  /* the agent process (ssh) */
    int alive;  /* not reaped yet */
    int in_fd;  /* its stdin: control frames */
    int out_fd; /* its stdout: frames, -1 at EOF */
    rdmx_frame_reader_t rd;
    rdmx_iofwd_t err; /* its stderr (ssh messages), line by line */
    char remote_name[256];
} proxy_t;

typedef struct job {
    rdmx_launch_opts_t opts;
    int size;
    rank_proc_t *ranks;
    int nrunning;
    rdmx_pmisrv_t *srv;
    int epfd, sigfd, listen_fd;
    char job_id[64];
    char kvsname[96];
    uint8_t secret[32];
    char secret_hex[65];
    char port_text[64];

    int exit_code;   /* first failure, 0 = none yet */
    int terminating; /* ranks are being killed */
    int killed_hard;
    uint64_t kill_at_ms;
    uint64_t abandon_at_ms; /* after SIGKILL: stop waiting for proxies */
    uint64_t timeout_at_ms;
    uint64_t drain_until_ms;

    /* stdin forwarding to one rank */
    rdmx_hostlist_t hl;
    int *local_host; /* per host: 1 if it is this host */
    int nlocal;
    proxy_t *proxies;
    int nproxies;
    rdmx_place_t *place; /* per local rank */

    int stdin_fwd;  /* 1 when mpirun copies its stdin into a pipe */
    int stdin_src;  /* 0, or -1 once at EOF */
    int stdin_pipe; /* write end, -1 once closed */
    char stdin_buf[65536];
    size_t stdin_len;

    /* PMI relay: keys put since the last barrier (all hosts), sent to
     * every proxy when the barrier completes. */
    char *delta;
    size_t delta_len, delta_cap;

    int slurm; /* hosts from a Slurm allocation: launch through srun */
} job_t;

static job_t job;

static const char *signame(int sig)
{
    const char *s = strsignal(sig);
    return s ? s : "unknown signal";
}

static void ep_add(int fd, uint32_t events, uint64_t tag)
{
    struct epoll_event ev = {.events = events, .data.u64 = tag};

    if (epoll_ctl(job.epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST)
        rdmx_launch_msg("epoll_ctl(ADD, fd %d) failed: %s", fd,
                        strerror(errno));
}

static void ep_mod(int fd, uint32_t events, uint64_t tag)
{
    struct epoll_event ev = {.events = events, .data.u64 = tag};

    epoll_ctl(job.epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* ---- the end of the job -------------------------------------------------- */

static void record_failure(int code)
{
    if (job.exit_code == 0)
        job.exit_code = code ? code : 1;
}

static void signal_ranks(int sig)
{
    for (int p = 0; p < job.nproxies; p++)
        if (job.proxies[p].in_fd >= 0 &&
            rdmx_frame_send(job.proxies[p].in_fd, 'Z', sig, 0, NULL, 0) != 0) {
            close(job.proxies[p].in_fd);
            job.proxies[p].in_fd = -1;
        }
    for (int r = 0; r < job.size; r++) {
        if (!job.ranks[r].running || job.ranks[r].proxy >= 0 ||
            job.ranks[r].pid <= 0)
            continue;
        /* The rank leads its own process group: reach its children too. */
        if (kill(-job.ranks[r].pid, sig) != 0)
            kill(job.ranks[r].pid, sig);
    }
}

static void terminate_job(int sig, uint64_t grace_ms)
{
    if (!job.terminating) {
        job.terminating = 1;
        job.kill_at_ms = rdmx_pmisrv_now_ms() + grace_ms;
        signal_ranks(sig);
    }
}

static void kill_hard(void)
{
    if (!job.killed_hard) {
        job.killed_hard = 1;
        job.abandon_at_ms = rdmx_pmisrv_now_ms() + ABANDON_MS;
        signal_ranks(SIGKILL);
    }
}

/* Proxies that have not reported their ranks' ends ABANDON_MS after the
 * SIGKILL (an agent still connecting, a host gone silent) are not waited
 * for: end of file on their stdin makes them kill their ranks, and the
 * agent is terminated so that its connection closes. */
static void abandon_proxies(void)
{
    for (int p = 0; p < job.nproxies; p++) {
        proxy_t *px = &job.proxies[p];
        int left = 0;
        for (int r = 0; r < job.size; r++) {
            if (job.ranks[r].proxy == p && job.ranks[r].running) {
                job.ranks[r].running = 0;
                job.nrunning--;
                left++;
            }
        }
        if (!left)
            continue;
        rdmx_launch_debug("host %s: %d ranks did not report their end; "
                          "closing the connection",
                          job.hl.hosts[px->host].name, left);
        if (px->in_fd >= 0) {
            close(px->in_fd);
            px->in_fd = -1;
        }
        if (px->alive)
            kill(px->pid, SIGTERM);
    }
}

static void remove_shm_files(void)
{
    char prefix[128];
    size_t plen;
    DIR *d = opendir("/dev/shm");
    struct dirent *e;

    if (!d)
        return;
    plen = (size_t)snprintf(prefix, sizeof(prefix), "rdmx-%s-", job.job_id);
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, plen) == 0) {
            if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
                rdmx_launch_msg("cannot remove /dev/shm/%s: %s", e->d_name,
                                strerror(errno));
            else
                rdmx_launch_debug("removed leftover /dev/shm/%s", e->d_name);
        }
    }
    closedir(d);
}

/* The host a rank runs on, for messages. */
static const char *rank_host(int rank)
{
    static char me[256];
    const rank_proc_t *rp = &job.ranks[rank];

    if (rp->proxy >= 0)
        return job.hl.hosts[rp->host].name;
    if (!me[0] && gethostname(me, sizeof(me) - 1) != 0)
        strcpy(me, "localhost");
    return me;
}

/* ---- PMI server callbacks ------------------------------------------------ */

static void cb_want_write(void *arg, int conn, int fd, int on)
{
    ep_mod(fd, EPOLLIN | (on ? EPOLLOUT : 0), TAG(T_PMI, conn));
}

static void cb_bound(void *arg, int conn, int rank)
{
    job.ranks[rank].pmi_conn = conn;
    rdmx_launch_debug("rank %d connected to PMI_PORT", rank);
}

static void cb_finalized(void *arg, int rank)
{
    rdmx_launch_debug("rank %d finalized", rank);
}

static void cb_aborted(void *arg, int rank, int code, const char *msg)
{
    int status = code & 0xff;

    if (!job.terminating) {
        rdmx_launch_msg("rank %d (pid %d on %s) called MPI_Abort with error "
                        "code %d%s%s; ending the job",
                        rank, (int)job.ranks[rank].pid, rank_host(rank), code,
                        msg[0] ? ": " : "", msg);
        record_failure(status ? status : 1);
    }
    terminate_job(SIGTERM, KILL_GRACE_MS);
}

static void delta_add(const char *key, const char *value)
{
    if (job.nproxies == 0)
        return;
    if (rdmx_kv_lines_append(&job.delta, &job.delta_len, &job.delta_cap, key,
                             value) != 0) {
        rdmx_launch_msg("out of memory relaying PMI keys; ending the job");
        record_failure(1);
        terminate_job(SIGTERM, KILL_GRACE_MS);
    }
}

static void cb_put(void *arg, int rank, const char *key, const char *value)
{
    delta_add(key, value);
}

/* A key put by a rank on a remote host, relayed by its proxy. */
static void relay_put(void *arg, const char *key, const char *value)
{
    if (rdmx_pmisrv_put(job.srv, key, value) != RDMX_OK) {
        rdmx_launch_msg("PMI key-value space is full; ending the job");
        record_failure(1);
        terminate_job(SIGTERM, KILL_GRACE_MS);
        return;
    }
    delta_add(key, value);
}

/* The job-wide barrier is complete: every proxy gets the keys put since
 * the previous one, then releases its ranks. */
static void cb_barrier_done(void *arg)
{
    for (int p = 0; p < job.nproxies; p++) {
        proxy_t *px = &job.proxies[p];
        if (px->in_fd < 0 || !px->alive)
            continue;
        if (rdmx_frame_send_lines(px->in_fd, 'D', job.delta, job.delta_len) ||
            rdmx_frame_send(px->in_fd, 'F', 0, 0, NULL, 0))
            rdmx_launch_debug("host %s: cannot send the barrier release",
                              job.hl.hosts[px->host].name);
    }
    job.delta_len = 0;
}

/* ---- launching ---------------------------------------------------------- */

static char **rank_env(int rank, int local_rank, int nlocal, int pmi_fd)
{
    char *add[16];
    char **extra = NULL, **env;
    int na = 0, n;

    if (pmi_fd >= 0)
        n = asprintf(&add[na++], "PMI_FD=%d", pmi_fd);
    else
        n = asprintf(&add[na++], "PMI_PORT=%s", job.port_text);
    if (n < 0 || asprintf(&add[na++], "PMI_RANK=%d", rank) < 0 ||
        asprintf(&add[na++], "PMI_SIZE=%d", job.size) < 0 ||
        asprintf(&add[na++], "RDMX_JOB_ID=%s", job.job_id) < 0 ||
        asprintf(&add[na++], "RDMX_JOB_SECRET=%s", job.secret_hex) < 0 ||
        asprintf(&add[na++], "RDMX_LOCAL_RANK=%d", local_rank) < 0 ||
        asprintf(&add[na++], "RDMX_LOCAL_SIZE=%d", nlocal) < 0)
        return NULL;
    if (job.place && job.place[local_rank].bound &&
        asprintf(&add[na++], "RDMX_CPUSET=%s", job.place[local_rank].cpuset) <
            0)
        return NULL;
    extra = calloc((size_t)(na + job.opts.nenv + 1), sizeof(char *));
    if (!extra)
        return NULL;
    n = 0;
    /* -x/-genv first so that they cannot override the launcher's own. */
    for (int i = 0; i < job.opts.nenv; i++) {
        const char *e = job.opts.env[i];
        if (strchr(e, '=')) {
            extra[n++] = strdup(e);
        } else if (getenv(e)) {
            if (asprintf(&extra[n], "%s=%s", e, getenv(e)) >= 0)
                n++;
        }
    }
    for (int i = 0; i < na; i++)
        extra[n++] = add[i];
    env = rdmx_env_build(environ, extra, n);
    rdmx_env_free(extra);
    return env;
}

static int spawn_rank(int rank)
{
    rank_proc_t *rp = &job.ranks[rank];
    int sv[2] = {-1, -1}, in_pipe[2] = {-1, -1}, out_fd, err_fd;
    rdmx_spawn_req_t req = {0};
    char **env = NULL;
    int ret = -1;

    if (!job.opts.pmi_port &&
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        rdmx_launch_msg("socketpair for rank %d failed: %s", rank,
                        strerror(errno));
        goto out;
    }
    if (rank == job.opts.stdin_rank && job.stdin_fwd) {
        if (pipe2(in_pipe, O_CLOEXEC) != 0) {
            rdmx_launch_msg("pipe for stdin failed: %s", strerror(errno));
            goto out;
        }
        req.stdin_fd = in_pipe[0];
    } else if (rank == job.opts.stdin_rank) {
        req.stdin_fd = STDIN_FILENO; /* a file: the rank reads it directly */
    } else {
        req.stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (req.stdin_fd < 0) {
            rdmx_launch_msg("cannot open /dev/null: %s", strerror(errno));
            goto out;
        }
    }
    env = rank_env(rank, rp->local_rank, job.nlocal, sv[1]);
    if (!env) {
        rdmx_launch_msg("out of memory building the environment of rank %d",
                        rank);
        goto out;
    }
    req.rank = rank;
    req.argv = job.opts.argv;
    req.env = env;
    req.wdir = job.opts.wdir;
    req.pmi_fd = sv[1];
    req.cpuset = (job.place && job.place[rp->local_rank].bound)
                     ? job.place[rp->local_rank].cpuset
                     : NULL;
    if (rdmx_spawn_rank(&req, &rp->pid, &out_fd, &err_fd) != 0)
        goto out;
    rp->running = 1;
    job.nrunning++;
    rdmx_launch_debug("started rank %d as pid %d", rank, (int)rp->pid);

    if (sv[0] >= 0) {
        rp->pmi_conn = rdmx_pmisrv_add_conn(job.srv, sv[0], rank);
        if (rp->pmi_conn >= 0)
            ep_add(sv[0], EPOLLIN, TAG(T_PMI, rp->pmi_conn));
        sv[0] = -1;
    }
    rdmx_iofwd_init(&rp->io[0], out_fd, STDOUT_FILENO, rank,
                    job.opts.tag_output);
    rdmx_iofwd_init(&rp->io[1], err_fd, STDERR_FILENO, rank,
                    job.opts.tag_output);
    ep_add(out_fd, EPOLLIN, TAG(T_OUT, rank * 2));
    ep_add(err_fd, EPOLLIN, TAG(T_OUT, rank * 2 + 1));
    if (in_pipe[1] >= 0) {
        job.stdin_pipe = in_pipe[1];
        in_pipe[1] = -1;
        rdmx_launch_set_nonblock(job.stdin_pipe);
    }
    ret = 0;
out:
    rdmx_env_free(env);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    if (in_pipe[1] >= 0)
        close(in_pipe[1]);
    if (req.stdin_fd > STDIN_FILENO)
        close(req.stdin_fd);
    return ret;
}

/* ---- stdin ------------------------------------------------------------- */

static void stdin_setup(void)
{
    struct stat sb;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(T_STDIN, 0)};

    job.stdin_src = -1;
    job.stdin_pipe = -1;
    if (job.opts.stdin_rank < 0)
        return;
    if (fstat(STDIN_FILENO, &sb) != 0)
        return; /* stdin closed: the rank gets whatever fd 0 is, nothing */
    if (S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode))
        return; /* handed to the rank as is */
    if (epoll_ctl(job.epfd, EPOLL_CTL_ADD, STDIN_FILENO, &ev) != 0)
        return; /* not pollable (/dev/null): handed over as is */
    job.stdin_fwd = 1;
    job.stdin_src = STDIN_FILENO;
}

static void stdin_close_pipe(void)
{
    if (job.stdin_pipe >= 0) {
        close(job.stdin_pipe);
        job.stdin_pipe = -1;
    }
}

static void stdin_stop_reading(void)
{
    if (job.stdin_src >= 0) {
        epoll_ctl(job.epfd, EPOLL_CTL_DEL, job.stdin_src, NULL);
        job.stdin_src = -1;
    }
}

static void stdin_flush(void)
{
    while (job.stdin_len > 0 && job.stdin_pipe >= 0) {
        ssize_t n = write(job.stdin_pipe, job.stdin_buf, job.stdin_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                ep_add(job.stdin_pipe, EPOLLOUT, TAG(T_STDIN_PIPE, 0));
                if (job.stdin_src >= 0)
                    ep_mod(job.stdin_src, 0, TAG(T_STDIN, 0));
                return;
            }
            /* The rank closed its stdin: discard the rest. */
            job.stdin_len = 0;
            stdin_close_pipe();
            stdin_stop_reading();
            return;
        }
        memmove(job.stdin_buf, job.stdin_buf + n, job.stdin_len - (size_t)n);
        job.stdin_len -= (size_t)n;
    }
    if (job.stdin_pipe >= 0)
        epoll_ctl(job.epfd, EPOLL_CTL_DEL, job.stdin_pipe, NULL);
    if (job.stdin_src >= 0)
        ep_mod(job.stdin_src, EPOLLIN, TAG(T_STDIN, 0));
    else
        stdin_close_pipe(); /* EOF reached and everything delivered */
}

static proxy_t *stdin_proxy(void)
{
    int r = job.opts.stdin_rank;

    if (r < 0 || job.ranks[r].proxy < 0)
        return NULL;
    return &job.proxies[job.ranks[r].proxy];
}

static void stdin_readable(void)
{
    proxy_t *px = stdin_proxy();
    ssize_t n;

    if (px) {
        /* The rank is remote: its proxy buffers into the rank's pipe. */
        char buf[65536];
        n = read(job.stdin_src, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            return;
        if (px->in_fd >= 0)
            rdmx_frame_send(px->in_fd, n > 0 ? 'I' : 'i', job.opts.stdin_rank,
                            0, buf, n > 0 ? (size_t)n : 0);
        if (n <= 0)
            stdin_stop_reading();
        return;
    }
    n = read(job.stdin_src, job.stdin_buf + job.stdin_len,
             sizeof(job.stdin_buf) - job.stdin_len);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        stdin_stop_reading();
        if (job.stdin_len == 0)
            stdin_close_pipe();
        return;
    }
    job.stdin_len += (size_t)n;
    stdin_flush();
}

/* ---- remote hosts ---------------------------------------------------------
 */

static int is_local_host(const char *name)
{
    char me[256] = "";
    size_t n;

    if (!strcmp(name, "localhost") || !strcmp(name, "127.0.0.1") ||
        !strcmp(name, "::1"))
        return 1;
    gethostname(me, sizeof(me) - 1);
    if (!strcmp(name, me))
        return 1;
    /* "node1" vs "node1.cluster": compare the short names */
    n = strcspn(me, ".");
    return strlen(name) == n && !strncmp(name, me, n) ? 1 : 0;
}

static int split_words(const char *text, char ***argv)
{
    char *copy = strdup(text), *save = NULL, *w;
    int n = 0;

    *argv = calloc(strlen(text) / 2 + 4, sizeof(char *));
    if (!copy || !*argv)
        return -1;
    for (w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
        (*argv)[n++] = w;
    return n;
}

static void proxy_default_path(char *out, size_t len)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 16);
    char *slash;

    if (n <= 0) {
        snprintf(out, len, "rdmx-proxy");
        return;
    }
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    if (strlen(self) + sizeof("/rdmx-proxy") > len) {
        snprintf(out, len, "rdmx-proxy");
        return;
    }
    strcpy(out, self);
    strcat(out, "/rdmx-proxy");
}

static int send_description(proxy_t *px)
{
    int fd = px->in_fd, ok = 0;
    char placement[80];
    extern char **environ;

    snprintf(placement, sizeof(placement), "%s %s",
             job.opts.bind_to ? job.opts.bind_to : "default",
             job.opts.map_by ? job.opts.map_by : "core");
    ok |= rdmx_frame_send_str(fd, 'K', 0, 0, job.secret_hex);
    ok |= rdmx_frame_send_str(fd, 'J', 0, 0, job.job_id);
    ok |= rdmx_frame_send(fd, 'N', job.size, 0, NULL, 0);
    ok |= rdmx_frame_send(fd, 'T', job.opts.tag_output,
                          job.opts.report_bindings, NULL, 0);
    if (job.opts.wdir)
        ok |= rdmx_frame_send_str(fd, 'W', 0, 0, job.opts.wdir);
    for (int i = 0; i < job.opts.argc; i++)
        ok |= rdmx_frame_send_str(fd, 'A', 0, 0, job.opts.argv[i]);
    /* The remote environment is the agent's (ssh login): pass on rdmx's
     * own settings and what -x/-genv asked for. */
    for (int i = 0; environ[i]; i++)
        if (!strncmp(environ[i], "RDMX_", 5) &&
            strncmp(environ[i], "RDMX_JOB_", 9) &&
            strncmp(environ[i], "RDMX_LOCAL_", 11) &&
            strncmp(environ[i], "RDMX_CPUSET=", 12) &&
            strncmp(environ[i], "RDMX_LAUNCH_AGENT=", 18))
            ok |= rdmx_frame_send_str(fd, 'V', 0, 0, environ[i]);
    for (int i = 0; i < job.opts.nenv; i++) {
        const char *e = job.opts.env[i];
        if (strchr(e, '=')) {
            ok |= rdmx_frame_send_str(fd, 'V', 0, 0, e);
        } else if (getenv(e)) {
            char *kv;
            if (asprintf(&kv, "%s=%s", e, getenv(e)) >= 0) {
                ok |= rdmx_frame_send_str(fd, 'V', 0, 0, kv);
                free(kv);
            }
        }
    }
    ok |= rdmx_frame_send_str(fd, 'B', 0, 0, placement);
    ok |= rdmx_frame_send(fd, 'Q', job.opts.stdin_rank, 0, NULL, 0);
    for (int r = 0; r < job.size; r++)
        if (job.ranks[r].host == px->host)
            ok |= rdmx_frame_send(fd, 'R', r, 0, NULL, 0);
    /* Pre-seeded keys (no rank runs yet, so the delta holds only them). */
    ok |= rdmx_frame_send_lines(fd, 'D', job.delta, job.delta_len);
    ok |= rdmx_frame_send(fd, 'G', 0, 0, NULL, 0);
    return ok ? -1 : 0;
}

static int start_proxy(int pidx)
{
    proxy_t *px = &job.proxies[pidx];
    const char *host = job.hl.hosts[px->host].name;
    const char *agent = job.opts.launch_agent;
    char proxy_path[4096];
    char **words = NULL, **argv;
    int nw, inp[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    pid_t pid;

    if (!agent)
        agent = getenv("RDMX_LAUNCH_AGENT");
    if ((!agent || !*agent) && job.slurm)
        /* One single-task step per host, sharing the allocation's CPUs
         * with the ranks started from it; unbuffered for the frames.
         * --export=ALL: remote ranks get mpirun's environment like local
         * ones even under `sbatch --export=NONE` (SLURM_EXPORT_ENV). */
        agent = "srun --nodes=1 --ntasks=1 --overlap --unbuffered "
                "--mpi=none --quiet --export=ALL --nodelist";
    if (!agent || !*agent)
        agent = "ssh";
    if (job.opts.proxy)
        snprintf(proxy_path, sizeof(proxy_path), "%s", job.opts.proxy);
    else
        proxy_default_path(proxy_path, sizeof(proxy_path));
    nw = split_words(agent, &words);
    if (nw <= 0) {
        rdmx_launch_msg("--launch-agent \"%s\" is empty", agent);
        return -1;
    }
    argv = words;
    argv[nw++] = (char *)host;
    argv[nw++] = proxy_path;
    argv[nw] = NULL;
    if (pipe2(inp, O_CLOEXEC) || pipe2(outp, O_CLOEXEC) ||
        pipe2(errp, O_CLOEXEC)) {
        rdmx_launch_msg("pipe for the agent of host %s failed: %s", host,
                        strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        rdmx_launch_msg("fork for the agent of host %s failed: %s", host,
                        strerror(errno));
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        setpgid(0, 0); /* a Ctrl-C on the terminal is mpirun's to handle */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(inp[0], 0);
        dup2(outp[1], 1);
        dup2(errp[1], 2);
        execvp(argv[0], argv);
        dprintf(2, "cannot execute launch agent %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    close(inp[0]);
    close(outp[1]);
    close(errp[1]);
    free(words[0]);
    free(words);
    px->pid = pid;
    px->alive = 1;
    px->in_fd = inp[1];
    px->out_fd = outp[0];
    rdmx_launch_set_nonblock(px->out_fd);
    rdmx_frame_reader_init(&px->rd);
    rdmx_launch_set_nonblock(errp[0]);
    rdmx_iofwd_init(&px->err, errp[0], STDERR_FILENO, -1, 0);
    ep_add(px->out_fd, EPOLLIN, TAG(T_PROXY_OUT, pidx));
    ep_add(errp[0], EPOLLIN, TAG(T_PROXY_ERR, pidx));
    rdmx_launch_debug("host %s: started \"%s %s %s\" (pid %d)", host, agent,
                      host, proxy_path, (int)pid);
    if (send_description(px) != 0) {
        rdmx_launch_msg("cannot send the job to host %s (launch agent "
                        "\"%s\" exited?)",
                        host, agent);
        return -1;
    }
    for (int r = 0; r < job.size; r++) {
        if (job.ranks[r].host == px->host) {
            job.ranks[r].running = 1;
            job.nrunning++;
        }
    }
    return 0;
}

static void rank_exited(int rank, int status);

/* The proxy of host `px` is gone: its unfinished ranks are lost. */
static void proxy_lost(proxy_t *px, const char *why)
{
    int lost = 0;
    char list[200] = "";
    size_t off = 0;

    for (int r = 0; r < job.size; r++) {
        rank_proc_t *rp = &job.ranks[r];
        if (rp->proxy != px - job.proxies || !rp->running)
            continue;
        rp->running = 0;
        job.nrunning--;
        rdmx_pmisrv_drop_rank(job.srv, r);
        lost++;
        if (off < sizeof(list) - 16)
            off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%d",
                                    lost > 1 ? "," : "", r);
        else if (off < sizeof(list) - 4)
            off += (size_t)snprintf(list + off, sizeof(list) - off, "...");
    }
    if (lost && !job.terminating) {
        rdmx_launch_msg("lost rdmx-proxy on host %s (%s) with %d ranks "
                        "still running (rank %s); ending the job",
                        job.hl.hosts[px->host].name, why, lost, list);
        record_failure(1);
        terminate_job(SIGTERM, KILL_GRACE_MS);
    }
}

static void proxy_readable(int pidx)
{
    proxy_t *px = &job.proxies[pidx];
    const char *host = job.hl.hosts[px->host].name;
    rdmx_frame_t f;
    int r = rdmx_frame_reader_fill(&px->rd, px->out_fd);

    int n;

    while ((n = rdmx_frame_next(&px->rd, &f)) > 0) {
        rank_proc_t *rp = (f.a >= 0 && f.a < job.size) ? &job.ranks[f.a] : NULL;
        if (rp && rp->proxy != pidx && f.type != 'E' && f.type != 'H')
            rp = NULL; /* a proxy may only speak for its own ranks */
        switch (f.type) {
        case 'H':
            snprintf(px->remote_name, sizeof(px->remote_name), "%.*s",
                     (int)f.len, f.data);
            break;
        case 'S':
            if (rp)
                rp->pid = (pid_t)f.b;
            break;
        case 'O':
            if (rp)
                rdmx_launch_write_all(f.b == 2 ? STDERR_FILENO : STDOUT_FILENO,
                                      f.data, f.len);
            break;
        case 'X':
            if (rp && rp->running)
                rank_exited((int)f.a, (int)f.b);
            break;
        case 'E':
            rdmx_launch_msg("host %s: %.*s", host, (int)f.len, f.data);
            break;
        case 'Y':
            if (rp && f.b == 1)
                rdmx_pmisrv_mark_inited(job.srv, (int)f.a);
            else if (rp && f.b == 2)
                rdmx_pmisrv_mark_finalized(job.srv, (int)f.a);
            break;
        case 'a':
            if (rp) {
                char msg[300];
                snprintf(msg, sizeof(msg), "%.*s",
                         (int)(f.len < 256 ? f.len : 256), f.data);
                cb_aborted(NULL, (int)f.a, (int)f.b, msg);
            }
            break;
        case 'D':
            if (rdmx_kv_lines_parse(f.data, f.len, relay_put, NULL) < 0) {
                rdmx_launch_msg("host %s: malformed PMI keys from "
                                "rdmx-proxy; ending the job",
                                host);
                record_failure(1);
                terminate_job(SIGTERM, KILL_GRACE_MS);
            }
            break;
        case 'F':
            /* Every rank of that host is in the barrier. */
            for (int k = 0; k < job.size; k++)
                if (job.ranks[k].proxy == pidx)
                    rdmx_pmisrv_barrier_enter(job.srv, k);
            break;
        default:
            rdmx_launch_msg("host %s: unexpected frame '%c' from rdmx-proxy",
                            host, f.type);
        }
    }
    if (n < 0) {
        rdmx_launch_msg("host %s: malformed data from rdmx-proxy", host);
        r = -1;
    }
    if (r <= 0 && px->out_fd >= 0) {
        epoll_ctl(job.epfd, EPOLL_CTL_DEL, px->out_fd, NULL);
        close(px->out_fd);
        px->out_fd = -1;
        proxy_lost(px, r < 0 ? "read error" : "connection closed");
    }
}

static int rank_of_pid(pid_t pid);

/* ---- hosts and placement --------------------------------------------------
 */

#if RDMX_HAVE_HWLOC
/* Loaded once: discovery is the slowest part of starting a small job. */
static hwloc_topology_t local_topology(void)
{
    static hwloc_topology_t topo;
    static int tried;

    if (!tried) {
        tried = 1;
        if (hwloc_topology_init(&topo) != 0)
            return NULL;
        if (hwloc_topology_load(topo) != 0) {
            hwloc_topology_destroy(topo);
            topo = NULL;
        }
    }
    return topo;
}
#endif

static int local_cores(void)
{
#if RDMX_HAVE_HWLOC
    hwloc_topology_t t = local_topology();
    int n = -1;
    if (t) {
        n = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
        if (n <= 0)
            n = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
    }
    if (n > 0)
        return n;
#endif
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (int)c : 1;
}

/* Inside a Slurm allocation without -f/--host: the allocation's nodes
 * (scontrol expands SLURM_JOB_NODELIST itself), as many slots per node as
 * Slurm gives it tasks; remote nodes are then reached through srun.
 * Inside a job step (`srun -n1 mpirun ...`, an interactive `srun --pty`
 * shell) SLURM_TASKS_PER_NODE describes that step ("1") while the node
 * list is the job's: the slots are then the job's CPUs per node. */
static rdmx_status_t slurm_hosts(char *err, size_t errlen)
{
    const char *per =
        getenv("SLURM_STEP_ID") ? NULL : getenv("SLURM_TASKS_PER_NODE");
    char names[65536];
    size_t len = 0;
    FILE *f;
    int rc;

    if (!per)
        per = getenv("SLURM_JOB_CPUS_PER_NODE");
    f = popen("scontrol show hostnames 2>&1", "r");
    if (!f) {
        snprintf(err, errlen, "Slurm allocation %s: cannot run scontrol: %s",
                 getenv("SLURM_JOB_ID"), strerror(errno));
        return RDMX_ERR_IO;
    }
    while (len < sizeof(names) - 1) {
        size_t n = fread(names + len, 1, sizeof(names) - 1 - len, f);
        if (n == 0)
            break;
        len += n;
    }
    names[len] = '\0';
    rc = pclose(f);
    if (rc != 0) {
        snprintf(err, errlen,
                 "Slurm allocation %s: \"scontrol show hostnames\" failed "
                 "(%.200s); give the hosts with -f or --host",
                 getenv("SLURM_JOB_ID"), names);
        return RDMX_ERR_IO;
    }
    job.slurm = 1;
    return rdmx_hostlist_from_slurm(names, per, &job.hl, err, errlen);
}

static int setup_hosts(void)
{
    char err[512], me[256] = "localhost";
    rdmx_pmap_t pmap = RDMX_PMAP_CORE;
    int by_node = 0, over = job.opts.oversubscribe, *rank_host;
    rdmx_status_t st = RDMX_OK;

    if (job.opts.map_by)
        rdmx_place_parse_map(job.opts.map_by, &pmap, &by_node);
    if (job.opts.hostfile) {
        st = rdmx_hostfile_load(job.opts.hostfile, &job.hl, err, sizeof(err));
    } else if (job.opts.hosts) {
        st = rdmx_hostlist_parse_arg(job.opts.hosts, &job.hl, err, sizeof(err));
    } else if (getenv("SLURM_JOB_ID") && getenv("SLURM_JOB_NODELIST")) {
        st = slurm_hosts(err, sizeof(err));
    } else {
        gethostname(me, sizeof(me) - 1);
        snprintf(err, sizeof(err), "%d", local_cores());
        job.hl.hosts = calloc(1, sizeof(rdmx_host_t));
        if (!job.hl.hosts)
            return -1;
        job.hl.n = 1;
        snprintf(job.hl.hosts[0].name, sizeof(job.hl.hosts[0].name), "%s", me);
        job.hl.hosts[0].slots = atoi(err);
        snprintf(job.hl.hosts[0].origin, sizeof(job.hl.hosts[0].origin),
                 "this host's %d cores", job.hl.hosts[0].slots);
        /* On one's own machine oversubscribing is allowed unless refused. */
        if (over < 0)
            over = 1;
    }
    if (st != RDMX_OK) {
        rdmx_launch_msg("%s", err);
        return -1;
    }
    if (over < 0)
        over = 0;
    rank_host = calloc((size_t)job.size, sizeof(int));
    job.local_host = calloc((size_t)job.hl.n, sizeof(int));
    job.proxies = calloc((size_t)job.hl.n, sizeof(proxy_t));
    if (!rank_host || !job.local_host || !job.proxies)
        return -1;
    if (rdmx_hostlist_map(&job.hl, job.size,
                          by_node ? RDMX_MAP_BY_NODE : RDMX_MAP_BY_SLOT, over,
                          rank_host, err, sizeof(err)) != RDMX_OK) {
        rdmx_launch_msg("%s", err);
        free(rank_host);
        return -1;
    }
    for (int h = 0; h < job.hl.n; h++) {
        job.local_host[h] = is_local_host(job.hl.hosts[h].name);
        if (!job.local_host[h]) {
            int used = 0;
            for (int r = 0; r < job.size; r++)
                used |= rank_host[r] == h;
            if (used) {
                proxy_t *px = &job.proxies[job.nproxies++];
                px->host = h;
                px->in_fd = px->out_fd = -1;
                px->err.fd = -1;
            }
        }
    }
    for (int r = 0; r < job.size; r++) {
        rank_proc_t *rp = &job.ranks[r];
        rp->host = rank_host[r];
        rp->proxy = -1;
        if (job.local_host[rp->host]) {
            rp->local_rank = job.nlocal++;
        } else {
            for (int p = 0; p < job.nproxies; p++)
                if (job.proxies[p].host == rp->host)
                    rp->proxy = p;
        }
    }
    free(rank_host);
    return 0;
}

/* PMI_process_mapping as MPICH reads it: (vector,(node,nnodes,ppn),...)
 * — one triple per run of consecutive ranks on one host, merged when
 * consecutive hosts get equal runs. */
static void put_process_mapping(void)
{
    char buf[RDMX_PMI_VALUE_MAX + 1];
    int n = snprintf(buf, sizeof(buf), "(vector");
    int r = 0, last_node = -2, last_cnt = 0, last_len = -1, ok = 1;

    while (r < job.size && ok) {
        int h = job.ranks[r].host, len = 0;
        while (r < job.size && job.ranks[r].host == h) {
            len++;
            r++;
        }
        if (last_len == len && h == last_node + last_cnt) {
            last_cnt++;
            continue;
        }
        if (last_len >= 0)
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",(%d,%d,%d)",
                          last_node, last_cnt, last_len);
        last_node = h;
        last_cnt = 1;
        last_len = len;
        ok = n < (int)sizeof(buf) - 40;
    }
    if (!ok)
        return; /* too irregular to describe: clients fall back */
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",(%d,%d,%d))", last_node,
                  last_cnt, last_len);
    rdmx_pmisrv_put(job.srv, "PMI_process_mapping", buf);
    delta_add("PMI_process_mapping", buf);
}

static int plan_local(void)
{
    if (job.nlocal == 0)
        return 0;
    job.place = calloc((size_t)job.nlocal, sizeof(rdmx_place_t));
    if (!job.place)
        return -1;
#if RDMX_HAVE_HWLOC
    {
        rdmx_bind_t bind = RDMX_BIND_DEFAULT;
        rdmx_pmap_t map = RDMX_PMAP_CORE;
        hwloc_topology_t topo;
        char err[256];
        int over, by_node;

        if (job.opts.bind_to)
            rdmx_place_parse_bind(job.opts.bind_to, &bind);
        if (job.opts.map_by)
            rdmx_place_parse_map(job.opts.map_by, &map, &by_node);
        topo = local_topology();
        if (!topo) {
            rdmx_launch_msg("cannot read this host's topology (hwloc); "
                            "ranks are not bound");
            return 0;
        }
        if (rdmx_place_plan(topo, job.nlocal, bind, map, job.place, &over, err,
                            sizeof(err)) != RDMX_OK) {
            rdmx_launch_msg("placement failed: %s", err);
            return -1;
        }
        if (over && job.opts.oversubscribe == 0 && !job.opts.hostfile &&
            !job.opts.hosts) {
            rdmx_launch_msg("%d ranks but this host has only %d cores and "
                            "--nooversubscribe was given",
                            job.nlocal, local_cores());
            return -1;
        }
        if (over && job.opts.bind_to && bind != RDMX_BIND_NONE)
            rdmx_launch_msg("warning: %d ranks share %d cores and "
                            "--bind-to %s was asked for: ranks bound to the "
                            "same core compete for it",
                            job.nlocal, local_cores(), job.opts.bind_to);
    }
#else
    if (job.opts.bind_to && strcmp(job.opts.bind_to, "none") != 0)
        rdmx_launch_msg("warning: built without hwloc: --bind-to %s ignored",
                        job.opts.bind_to);
#endif
    if (job.opts.report_bindings) {
        char me[256] = "?";
        gethostname(me, sizeof(me) - 1);
        for (int r = 0; r < job.size; r++) {
            rank_proc_t *rp = &job.ranks[r];
            rdmx_place_t *pl;
            if (rp->proxy >= 0)
                continue;
            pl = &job.place[rp->local_rank];
            if (pl->bound)
                rdmx_launch_msg("rank %d on %s: bound to %s: cpus %s", r, me,
                                pl->where, pl->cpuset);
            else
                rdmx_launch_msg("rank %d on %s: not bound (%s)", r, me,
                                pl->where[0] ? pl->where : "no topology");
        }
    }
    return 0;
}

/* ---- rank exit ----------------------------------------------------------- */

/* Only ranks started here: remote pids live in other pid spaces. */
static int rank_of_pid(pid_t pid)
{
    for (int r = 0; r < job.size; r++)
        if (job.ranks[r].proxy < 0 && job.ranks[r].pid == pid)
            return r;
    return -1;
}

static void rank_exited(int rank, int status)
{
    rank_proc_t *rp = &job.ranks[rank];
    int finalized, inited;

    rp->running = 0;
    rp->status = status;
    job.nrunning--;
    /* A rank often writes its last words (an abort, an error message)
     * right before dying: take them in before judging its exit. */
    if (rp->pmi_conn >= 0)
        rdmx_pmisrv_readable(job.srv, rp->pmi_conn);
    for (int s = 0; s < 2; s++)
        rdmx_iofwd_readable(&rp->io[s]);
    finalized = rdmx_pmisrv_rank_finalized(job.srv, rank);
    inited = rdmx_pmisrv_rank_inited(job.srv, rank);
    rdmx_pmisrv_drop_rank(job.srv, rank);

    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (!job.terminating) {
            rdmx_launch_msg("rank %d (pid %d on %s) killed by signal %d (%s); "
                            "killing the other ranks",
                            rank, (int)rp->pid, rank_host(rank), sig,
                            signame(sig));
            record_failure(128 + sig);
            terminate_job(SIGTERM, KILL_GRACE_MS);
        }
        return;
    }
    if (!WIFEXITED(status))
        return;
    int code = WEXITSTATUS(status);
    if (job.terminating) {
        return; /* the first failure was reported already */
    }
    if (code != 0 && finalized) {
        rdmx_launch_msg("rank %d (pid %d on %s) exited with status %d after "
                        "MPI_Finalize",
                        rank, (int)rp->pid, rank_host(rank), code);
        record_failure(code);
    } else if (code != 0) {
        rdmx_launch_msg("rank %d (pid %d on %s) exited with status %d%s; "
                        "killing the other ranks",
                        rank, (int)rp->pid, rank_host(rank), code,
                        inited ? " before MPI_Finalize" : "");
        record_failure(code);
        terminate_job(SIGTERM, KILL_GRACE_MS);
    } else if (inited && !finalized) {
        rdmx_launch_msg("rank %d (pid %d on %s) exited with status 0 "
                        "without calling MPI_Finalize; killing the other "
                        "ranks",
                        rank, (int)rp->pid, rank_host(rank));
        record_failure(1);
        terminate_job(SIGTERM, KILL_GRACE_MS);
    }
}

static void reap_children(void)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        int r;

        if (pid <= 0)
            return;
        r = rank_of_pid(pid);
        if (r >= 0 && job.ranks[r].running) {
            rank_exited(r, status);
            continue;
        }
        for (int p = 0; p < job.nproxies; p++) {
            proxy_t *px = &job.proxies[p];
            char why[96];
            if (px->pid != pid || !px->alive)
                continue;
            px->alive = 0;
            /* Take in its last frames (exit reports) before judging. */
            if (px->out_fd >= 0)
                proxy_readable(p);
            rdmx_iofwd_readable(&px->err);
            if (WIFSIGNALED(status))
                snprintf(why, sizeof(why), "agent killed by signal %d",
                         WTERMSIG(status));
            else
                snprintf(why, sizeof(why), "agent exited with status %d",
                         WEXITSTATUS(status));
            proxy_lost(px, why);
        }
    }
}

static void handle_signal(void)
{
    struct signalfd_siginfo si;

    while (read(job.sigfd, &si, sizeof(si)) == sizeof(si)) {
        int sig = (int)si.ssi_signo;
        switch (sig) {
        case SIGCHLD:
            reap_children();
            break;
        case SIGUSR1:
        case SIGUSR2:
            signal_ranks(sig);
            break;
        default: /* SIGINT, SIGTERM, SIGHUP, SIGQUIT */
            if (job.terminating) {
                kill_hard();
                break;
            }
            rdmx_launch_msg("received signal %d (%s); forwarding it to the "
                            "ranks and ending the job",
                            sig, signame(sig));
            record_failure(128 + sig);
            terminate_job(sig, 1000);
            break;
        }
    }
}

/* ---- setup --------------------------------------------------------------- */

static int make_job_identity(void)
{
    char host[256] = "localhost";
    uint8_t rnd[4];
    char rhex[9];
    uint32_t h = 2166136261u;

    gethostname(host, sizeof(host) - 1);
    for (const char *p = host; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 16777619u;
    }
    if (rdmx_auth_random(rnd, sizeof(rnd)) != RDMX_OK ||
        rdmx_auth_random(job.secret, sizeof(job.secret)) != RDMX_OK) {
        rdmx_launch_msg("cannot get random bytes for the job secret: %s",
                        strerror(errno));
        return -1;
    }
    rdmx_hex_encode(rnd, sizeof(rnd), rhex);
    snprintf(job.job_id, sizeof(job.job_id), "%08x-%d-%s", h, (int)getpid(),
             rhex);
    snprintf(job.kvsname, sizeof(job.kvsname), "kvs_%s", job.job_id);
    rdmx_hex_encode(job.secret, sizeof(job.secret), job.secret_hex);
    return 0;
}

/* --pmi-port: local ranks connect over TCP on the loopback (every
 * connection must prove the job secret before it is served). Remote ranks
 * never connect here: their proxy relays PMI. */
static int open_listen_socket(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0) {
        rdmx_launch_msg("socket: %s", strerror(errno));
        return -1;
    }
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        rdmx_launch_msg("cannot listen on 127.0.0.1 for PMI_PORT: %s",
                        strerror(errno));
        close(fd);
        return -1;
    }
    snprintf(job.port_text, sizeof(job.port_text), "127.0.0.1:%d",
             ntohs(sa.sin_port));
    job.listen_fd = fd;
    ep_add(fd, EPOLLIN, TAG(T_LISTEN, 0));
    return 0;
}

static void accept_conns(void)
{
    for (;;) {
        int fd = accept4(job.listen_fd, NULL, NULL, SOCK_CLOEXEC);
        int id;
        if (fd < 0)
            return;
        id = rdmx_pmisrv_add_conn(job.srv, fd, -1);
        if (id >= 0 && rdmx_pmisrv_conn_fd(job.srv, id) >= 0)
            ep_add(fd, EPOLLIN, TAG(T_PMI, id));
    }
}

static int outputs_open(void)
{
    for (int p = 0; p < job.nproxies; p++)
        if (job.proxies[p].alive || job.proxies[p].out_fd >= 0)
            return 1;
    for (int r = 0; r < job.size; r++)
        for (int s = 0; s < 2; s++)
            if (job.ranks[r].io[s].fd >= 0)
                return 1;
    return 0;
}

static void close_outputs(void)
{
    for (int r = 0; r < job.size; r++)
        for (int s = 0; s < 2; s++)
            rdmx_iofwd_close(&job.ranks[r].io[s]);
}

static int next_timeout(uint64_t now)
{
    uint64_t next = UINT64_MAX;

    if (job.terminating && !job.killed_hard)
        next = job.kill_at_ms;
    if (job.killed_hard && job.nrunning > 0)
        next = job.abandon_at_ms;
    if (job.timeout_at_ms && !job.terminating && job.timeout_at_ms < next)
        next = job.timeout_at_ms;
    if (job.nrunning == 0 && job.drain_until_ms < next)
        next = job.drain_until_ms;
    if (job.listen_fd >= 0 && now + 1000 < next)
        next = now + 1000;
    if (next == UINT64_MAX)
        return -1;
    return next <= now ? 0 : (int)(next - now);
}

int main(int argc, char **argv)
{
    static const rdmx_pmisrv_ops_t ops = {
        .want_write = cb_want_write,
        .bound = cb_bound,
        .finalized = cb_finalized,
        .aborted = cb_aborted,
        .put = cb_put,
        .barrier_done = cb_barrier_done,
    };
    const char *base = strrchr(argv[0], '/');
    sigset_t mask;
    int r;

    rdmx_launch_progname = base ? base + 1 : argv[0];
    r = rdmx_launch_opts_parse(&job.opts, argc, argv);
    if (r != 0)
        return r > 0 ? 0 : 1;
    rdmx_launch_verbose = job.opts.verbose;
    {
        /* Every local rank costs mpirun three descriptors. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    job.size = job.opts.np;
    job.listen_fd = -1;
    job.ranks = calloc((size_t)job.size, sizeof(*job.ranks));
    if (!job.ranks) {
        rdmx_launch_msg("out of memory for %d ranks", job.size);
        return 1;
    }
    for (r = 0; r < job.size; r++) {
        job.ranks[r].pmi_conn = -1;
        job.ranks[r].io[0].fd = job.ranks[r].io[1].fd = -1;
    }
    if (make_job_identity() != 0)
        return 1;
    if (setup_hosts() != 0 || plan_local() != 0)
        return 1;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGQUIT);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    job.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    job.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (job.sigfd < 0 || job.epfd < 0) {
        rdmx_launch_msg("signalfd/epoll_create1 failed: %s", strerror(errno));
        return 1;
    }
    ep_add(job.sigfd, EPOLLIN, TAG(T_SIG, 0));

    if (rdmx_pmisrv_create(&job.srv, job.size, job.kvsname, job.secret,
                           sizeof(job.secret), &ops, NULL) != RDMX_OK) {
        rdmx_launch_msg("cannot create the PMI server");
        return 1;
    }
    put_process_mapping();
    if (job.opts.pmi_port && open_listen_socket() != 0)
        return 1;
    stdin_setup();
    rdmx_launch_debug("job %s: starting %d ranks of %s", job.job_id, job.size,
                      job.opts.argv[0]);

    /* Remote hosts first: their start-up (ssh) is the slow part. */
    for (int p = 0; p < job.nproxies && !job.terminating; p++) {
        if (start_proxy(p) != 0) {
            record_failure(1);
            terminate_job(SIGTERM, KILL_GRACE_MS);
        }
    }
    for (r = 0; r < job.size && !job.terminating; r++) {
        if (job.ranks[r].proxy >= 0)
            continue;
        if (spawn_rank(r) != 0) {
            record_failure(1);
            terminate_job(SIGTERM, KILL_GRACE_MS);
            break;
        }
        /* A rank that fails at once stops the launch early. */
        if ((r & 63) == 63)
            handle_signal();
    }
    if (job.timeout_at_ms == 0 && job.opts.timeout)
        job.timeout_at_ms =
            rdmx_pmisrv_now_ms() + (uint64_t)job.opts.timeout * 1000u;

    for (;;) {
        struct epoll_event evs[64];
        uint64_t now = rdmx_pmisrv_now_ms();
        int n;

        if (job.nrunning == 0) {
            if (job.drain_until_ms == 0) {
                /* No rank left: end whatever they left behind in their
                 * process groups, then wait briefly for pipes to close. */
                for (r = 0; r < job.size; r++)
                    if (job.ranks[r].proxy < 0 && job.ranks[r].pid > 0)
                        kill(-job.ranks[r].pid, SIGKILL);
                /* Proxies exit once their ranks are done and stdin closes. */
                for (int p = 0; p < job.nproxies; p++)
                    if (job.proxies[p].in_fd >= 0) {
                        close(job.proxies[p].in_fd);
                        job.proxies[p].in_fd = -1;
                    }
                job.drain_until_ms = now + DRAIN_MS;
            }
            if (!outputs_open() || now >= job.drain_until_ms)
                break;
        }
        if (job.terminating && !job.killed_hard && now >= job.kill_at_ms)
            kill_hard();
        if (job.killed_hard && job.nrunning > 0 && now >= job.abandon_at_ms)
            abandon_proxies();
        if (job.timeout_at_ms && !job.terminating && now >= job.timeout_at_ms) {
            rdmx_launch_msg("job timed out after %d s (--timeout); killing "
                            "%d running ranks",
                            job.opts.timeout, job.nrunning);
            record_failure(124);
            terminate_job(SIGTERM, KILL_GRACE_MS);
        }
        if (job.listen_fd >= 0)
            rdmx_pmisrv_expire(job.srv, now, AUTH_TIMEOUT_MS);

        n = epoll_wait(job.epfd, evs, 64, next_timeout(now));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rdmx_launch_msg("epoll_wait failed: %s", strerror(errno));
            record_failure(1);
            terminate_job(SIGKILL, 0);
            break;
        }
        for (int i = 0; i < n; i++) {
            uint32_t type = (uint32_t)(evs[i].data.u64 >> 32);
            int idx = (int)(uint32_t)evs[i].data.u64;
            uint32_t e = evs[i].events;

            switch (type) {
            case T_SIG:
                handle_signal();
                break;
            case T_LISTEN:
                accept_conns();
                break;
            case T_PMI:
                if (e & EPOLLOUT)
                    rdmx_pmisrv_writable(job.srv, idx);
                if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    rdmx_pmisrv_readable(job.srv, idx);
                break;
            case T_OUT:
                rdmx_iofwd_readable(&job.ranks[idx / 2].io[idx % 2]);
                break;
            case T_STDIN:
                stdin_readable();
                break;
            case T_STDIN_PIPE:
                stdin_flush();
                break;
            case T_PROXY_OUT:
                proxy_readable(idx);
                break;
            case T_PROXY_ERR:
                rdmx_iofwd_readable(&job.proxies[idx].err);
                break;
            }
        }
    }

    /* Normal or not, leave nothing behind. */
    for (int p = 0; p < job.nproxies; p++) {
        proxy_t *px = &job.proxies[p];
        if (px->in_fd >= 0)
            close(px->in_fd);
        px->in_fd = -1;
        if (px->alive) {
            kill(px->pid, SIGKILL);
            waitpid(px->pid, NULL, 0);
            px->alive = 0;
        }
        rdmx_iofwd_close(&px->err);
        rdmx_frame_reader_free(&px->rd);
    }
    for (r = 0; r < job.size; r++) {
        if (job.ranks[r].proxy >= 0 && job.ranks[r].running) {
            job.ranks[r].running = 0; /* died with its proxy */
            job.nrunning--;
        }
    }
    if (job.nrunning > 0) {
        signal_ranks(SIGKILL);
        while (job.nrunning > 0) {
            int status;
            pid_t pid = waitpid(-1, &status, 0);
            if (pid < 0)
                break;
            r = rank_of_pid(pid);
            if (r >= 0 && job.ranks[r].running) {
                job.ranks[r].running = 0;
                job.nrunning--;
            }
        }
    }
    close_outputs();
    stdin_close_pipe();
    remove_shm_files();
    rdmx_pmisrv_destroy(job.srv);
    rdmx_launch_opts_free(&job.opts);
    free(job.ranks);
    free(job.delta);
    return job.exit_code;
}
