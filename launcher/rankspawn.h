/*
 * rankspawn.h — starting one rank process (shared by mpirun and
 * rdmx-proxy).
 *
 * The child leads its own process group (so the launcher can signal the
 * rank and anything it started), dies with the launcher
 * (PR_SET_PDEATHSIG), has all signals unblocked, stdout/stderr on fresh
 * pipes, the given stdin, optionally a CPU binding, and is exec'd with an
 * explicit environment. If exec fails the child prints
 * "<prog>: rank R: cannot execute X: reason" and exits 127.
 */
#ifndef RDMX_RANKSPAWN_H
#define RDMX_RANKSPAWN_H

#include <sys/types.h>

typedef struct rdmx_spawn_req {
    int rank;
    char *const *argv;
    char **env;
    const char *wdir;   /* NULL: stay */
    int pmi_fd;         /* child's end of the PMI socketpair, or -1 */
    int stdin_fd;       /* becomes the child's fd 0 */
    const char *cpuset; /* hwloc list ("0-3,8"), NULL/"" = not bound */
} rdmx_spawn_req_t;

/* Fork and exec. On success *pid and the non-blocking, close-on-exec read
 * ends of the child's stdout/stderr pipes. 0 or -1 (message printed). */
int rdmx_spawn_rank(const rdmx_spawn_req_t *req, pid_t *pid, int *out_fd,
                    int *err_fd);

/* A copy of `base` without the variables the launcher owns (PMI_*,
 * PMIX_*, RDMX_JOB_*, RDMX_LOCAL_*, RDMX_CPUSET), followed by `add`
 * (entries "VAR=value"; a later entry replaces an earlier one). */
char **rdmx_env_build(char *const *base, char *const *add, int nadd);
void rdmx_env_free(char **env);

/* Parse a cpu list "0-3,8" into a cpu_set_t (opaque here). 0 or -1. */
int rdmx_cpulist_parse(const char *list, void *cpu_set /* cpu_set_t */);

#endif
