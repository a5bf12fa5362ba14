/*
 * rankspawn.c — fork/exec of one rank (contract in rankspawn.h).
 */
#include "rankspawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "launch_util.h"

int rdmx_cpulist_parse(const char *list, void *setp)
{
    cpu_set_t *set = setp;
    const char *p = list;

    CPU_ZERO(set);
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b;
        if (end == p || a < 0 || a >= CPU_SETSIZE)
            return -1;
        b = a;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a || b >= CPU_SETSIZE)
                return -1;
            p = end;
        }
        for (long c = a; c <= b; c++)
            CPU_SET((int)c, set);
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return CPU_COUNT(set) > 0 ? 0 : -1;
}

static int env_is_owned(const char *e)
{
    static const char *const prefixes[] = {
        "PMI_",
        "PMIX_",
        "RDMX_JOB_",
        "RDMX_LOCAL_RANK=",
        "RDMX_LOCAL_SIZE=",
        "RDMX_CPUSET=",
    };
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

char **rdmx_env_build(char *const *base, char *const *add, int nadd)
{
    size_t n = 0, k = 0;
    char **env;

    while (base && base[n])
        n++;
    env = calloc(n + (size_t)nadd + 1, sizeof(char *));
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (env_is_owned(base[i]))
            continue;
        if (!(env[k] = strdup(base[i])))
            goto nomem;
        k++;
    }
    for (int i = 0; i < nadd; i++) {
        const char *eq = strchr(add[i], '=');
        size_t nlen = eq ? (size_t)(eq - add[i]) : strlen(add[i]);
        for (size_t j = 0; j < k; j++) {
            if (strncmp(env[j], add[i], nlen) == 0 && env[j][nlen] == '=') {
                free(env[j]);
                env[j] = env[--k];
                env[k] = NULL;
                break;
            }
        }
        if (!(env[k] = strdup(add[i])))
            goto nomem;
        k++;
    }
    env[k] = NULL;
    return env;
nomem:
    rdmx_env_free(env);
    return NULL;
}

void rdmx_env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

static void child_fail(const rdmx_spawn_req_t *req, const char *what,
                       const char *arg)
{
    char msg[768];
    int n =
        snprintf(msg, sizeof(msg), "%s: rank %d: %s %s: %s\n",
                 rdmx_launch_progname, req->rank, what, arg, strerror(errno));
    if (n > 0)
        (void)!write(STDERR_FILENO, msg, (size_t)n);
    _exit(127);
}

/* Between fork and exec: async-signal-safe calls only. */
static void child_exec(const rdmx_spawn_req_t *req, pid_t parent, int out_w,
                       int err_w, const cpu_set_t *cpus)
{
    sigset_t none;

    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127); /* the launcher died before prctl took effect */
    signal(SIGPIPE, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(out_w, STDOUT_FILENO) < 0 || dup2(err_w, STDERR_FILENO) < 0)
        _exit(127);
    if (req->stdin_fd != STDIN_FILENO && dup2(req->stdin_fd, STDIN_FILENO) < 0)
        child_fail(req, "cannot set up stdin", "");
    if (req->pmi_fd >= 0)
        rdmx_launch_set_cloexec(req->pmi_fd, 0);
    if (cpus && sched_setaffinity(0, sizeof(*cpus), cpus) != 0)
        child_fail(req, "cannot bind to cpus", req->cpuset);
    if (req->wdir && chdir(req->wdir) != 0)
        child_fail(req, "cannot change to directory", req->wdir);
    execvpe(req->argv[0], req->argv, req->env);
    child_fail(req, "cannot execute", req->argv[0]);
}

int rdmx_spawn_rank(const rdmx_spawn_req_t *req, pid_t *pidp, int *out_fd,
                    int *err_fd)
{
    int outp[2] = {-1, -1}, errp[2] = {-1, -1};
    cpu_set_t cpus;
    int bind = req->cpuset && req->cpuset[0];
    pid_t pid, parent = getpid();

    if (bind && rdmx_cpulist_parse(req->cpuset, &cpus) != 0) {
        rdmx_launch_msg("rank %d: invalid cpu list \"%s\"", req->rank,
                        req->cpuset);
        return -1;
    }
    if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
        rdmx_launch_msg("pipe for rank %d failed: %s", req->rank,
                        strerror(errno));
        goto fail;
    }
    pid = fork();
    if (pid < 0) {
        rdmx_launch_msg("fork for rank %d failed: %s", req->rank,
                        strerror(errno));
        goto fail;
    }
    if (pid == 0)
        child_exec(req, parent, outp[1], errp[1], bind ? &cpus : NULL);
    setpgid(pid, pid); /* also done in the child: whichever runs first */
    close(outp[1]);
    close(errp[1]);
    rdmx_launch_set_nonblock(outp[0]);
    rdmx_launch_set_nonblock(errp[0]);
    *pidp = pid;
    *out_fd = outp[0];
    *err_fd = errp[0];
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    return -1;
}
