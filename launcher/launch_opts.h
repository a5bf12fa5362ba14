/*
 * launch_opts.h — mpirun's command line.
 *
 * Both "-option" and "--option" are accepted for every long option (as
 * Open MPI and MPICH's Hydra do), and "--option=value" as well as
 * "--option value". The first argument that is not an option starts the
 * program and its arguments; "--" ends the options explicitly.
 */
#ifndef RDMX_LAUNCH_OPTS_H
#define RDMX_LAUNCH_OPTS_H

typedef struct rdmx_launch_opts {
    int np;         /* -n/-np; 0 = not given */
    int tag_output; /* --tag-output/-l: "[rank] " before each line */
    int pmi_port;   /* --pmi-port: ranks get PMI_PORT, not PMI_FD */
    int stdin_rank; /* --stdin N|none: -1 = none */
    int timeout;    /* --timeout S: kill the job after S seconds */
    int verbose;
    const char *wdir;     /* -wdir/--wdir/-wd */
    const char *hostfile; /* -f/--hostfile/--machinefile */
    const char *hosts;    /* --host/-H a:2,b:2 */
    const char *map_by;   /* --map-by slot|node|core|numa|socket|l3cache */
    const char *bind_to;  /* --bind-to core|l3cache|numa|socket|none */
    int report_bindings;
    int oversubscribe;        /* -1 = default, 0 = no, 1 = yes */
    const char *launch_agent; /* --launch-agent CMD (else RDMX_LAUNCH_AGENT
                                 or "ssh") */
    const char *proxy;        /* --proxy PATH of rdmx-proxy on the hosts */
    /* -x VAR[=value] and -genv VAR value, as "VAR=value" or "VAR" (copy
     * from mpirun's environment). */
    char **env;
    int nenv;
    char **argv; /* program and its arguments (points into main's argv) */
    int argc;
} rdmx_launch_opts_t;

/* Parse argv. Returns 0 to run, 1 when --help/--version was printed (exit
 * 0), -1 after printing an error (exit non-zero). */
int rdmx_launch_opts_parse(rdmx_launch_opts_t *o, int argc, char **argv);
void rdmx_launch_opts_free(rdmx_launch_opts_t *o);
void rdmx_launch_opts_usage(const char *prog, int fd);

#endif
