/*
 * launch_opts.c — command-line parsing and --help text of mpirun.
 */
#include "launch_opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launch_util.h"
#include "placement.h"
#include "rdmx_build_config.h"

#ifndef RDMX_VERSION_STRING
#define RDMX_VERSION_STRING "0.1.0"
#endif

static const char usage_text[] =
    "Usage: %s [options] program [arguments...]\n"
    "Start `program` as an rdmx (MPI) job of N ranks on this host.\n"
    "\n"
    "Options (each may be written -opt or --opt, and --opt=value):\n"
    "  -n, -np N            number of ranks to start (required)\n"
    "  --tag-output, -l     prefix every output line with \"[rank] \",\n"
    "                       e.g. \"[1] hello\" (also --prepend-rank)\n"
    "  --stdin N|none       forward mpirun's stdin to rank N (default 0);\n"
    "                       other ranks read /dev/null\n"
    "  -x VAR[=VALUE]       set VAR in every rank (without =VALUE: copy\n"
    "                       mpirun's own value)\n"
    "  -genv VAR VALUE      set VAR=VALUE in every rank\n"
    "  -wdir, --wdir DIR    working directory of the ranks (also -wd)\n"
    "  --timeout S          end the job (non-zero exit) after S seconds\n"
    "\n"
    "Hosts and placement:\n"
    "  -f, --hostfile, --machinefile FILE\n"
    "                       hosts to run on, one per line: \"host\",\n"
    "                       \"host:SLOTS\" (MPICH) or \"host slots=N\n"
    "                       [max_slots=M]\" (Open MPI); '#' comments\n"
    "  -H, --host LIST      hosts as \"a:2,b:2\" (a host listed twice gets\n"
    "                       two slots)\n"
    "  --map-by POLICY      slot (default: fill each host's slots), node\n"
    "                       (one rank per host in turn), or within a\n"
    "                       host: core, numa, socket, l3cache\n"
    "  --bind-to LEVEL      core, l3cache, numa, socket or none. Default:\n"
    "                       core when a host runs no more ranks than it\n"
    "                       has cores, otherwise none\n"
    "  --report-bindings    print where each rank is bound\n"
    "  --oversubscribe      allow more ranks than slots (default on the\n"
    "                       local host only)\n"
    "  --nooversubscribe    refuse more ranks than slots/cores\n"
    "  --launch-agent CMD   how to start rdmx-proxy on another host:\n"
    "                       \"CMD HOST rdmx-proxy\" (default: ssh; also\n"
    "                       RDMX_LAUNCH_AGENT)\n"
    "  --proxy PATH         rdmx-proxy on the other hosts (default: next to\n"
    "                       this mpirun)\n"
    "\n"
    "Other:\n"
    "  --pmi-port           ranks reach the PMI server over an\n"
    "                       authenticated TCP socket on 127.0.0.1\n"
    "                       (PMI_PORT) instead of an inherited socketpair\n"
    "                       (PMI_FD)\n"
    "  -v, --verbose        print what the launcher does\n"
    "  -h, --help           print this help and exit\n"
    "  -V, --version        print the version and exit\n"
    "\n"
    "Each rank gets PMI_FD (or PMI_PORT), PMI_RANK, PMI_SIZE, RDMX_JOB_ID,\n"
    "RDMX_JOB_SECRET, RDMX_LOCAL_RANK, RDMX_LOCAL_SIZE and, when bound,\n"
    "RDMX_CPUSET (hwloc list syntax, e.g. 2-3).\n"
    "\n"
    "Other hosts: mpirun starts one rdmx-proxy per host through the launch\n"
    "agent and sends it the job (secret included) over the agent's stdin.\n"
    "The proxy starts that host's ranks and relays their PMI traffic; only\n"
    "RDMX_* and -x/-genv variables reach them. An unreachable host, a lost\n"
    "proxy or a failed rank ends the job, naming the host and rank.\n"
    "Example hostfile:\n"
    "    node1 slots=4\n"
    "    node2:4\n"
    "    mpirun -n 8 -f hosts --map-by node --bind-to core ./app\n"
    "Under Slurm use srun --mpi=pmi2 ./app (or --mpi=pmix when rdmx was\n"
    "built with libpmix); without any launcher ./app runs as one rank.\n"
    "mpirun inside a Slurm allocation (SLURM_JOB_ID set) without -f/--host\n"
    "runs on the allocation's nodes, slots = tasks per node, and starts\n"
    "the other nodes' proxies through srun instead of ssh:\n"
    "    #SBATCH --nodes=3\n"
    "    #SBATCH --ntasks-per-node=4\n"
    "    mpirun -n \"$SLURM_NTASKS\" ./app\n"
    "\n"
    "Exit status: 0 if every rank exited 0; otherwise the exit status of\n"
    "the first rank that failed (128+N if it was killed by signal N), or\n"
    "the code passed to MPI_Abort. When a rank dies abnormally (signal, or\n"
    "non-zero exit before MPI_Finalize) or aborts, mpirun kills the others\n"
    "(SIGTERM, then SIGKILL 0.5 s later). SIGINT, SIGTERM and SIGHUP sent\n"
    "to mpirun are forwarded to every rank and end the job; SIGUSR1/SIGUSR2\n"
    "are forwarded only. Leftover /dev/shm/rdmx-<RDMX_JOB_ID>-* files are\n"
    "removed when the job ends.\n"
    "\n"
    "Also installed as mpiexec and rdmxrun.\n";

void rdmx_launch_opts_usage(const char *prog, int fd)
{
    dprintf(fd, usage_text, prog);
}

static int parse_int(const char *opt, const char *text, int min, int max,
                     int *out)
{
    char *end;
    long v;

    errno = 0;
    v = text ? strtol(text, &end, 10) : 0;
    if (!text || !*text || errno || *end || v < min || v > max) {
        rdmx_launch_msg("option %s needs a number between %d and %d, got "
                        "\"%s\"",
                        opt, min, max, text ? text : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int add_env(rdmx_launch_opts_t *o, const char *text)
{
    char **p = realloc(o->env, sizeof(char *) * (size_t)(o->nenv + 1));

    if (!p)
        return -1;
    o->env = p;
    o->env[o->nenv] = strdup(text);
    if (!o->env[o->nenv])
        return -1;
    o->nenv++;
    return 0;
}

static int valid_env_name(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (i > 0 && c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

int rdmx_launch_opts_parse(rdmx_launch_opts_t *o, int argc, char **argv)
{
    const char *prog = rdmx_launch_progname;
    int i;

    memset(o, 0, sizeof(*o));
    o->stdin_rank = 0;
    o->oversubscribe = -1;
    for (i = 1; i < argc; i++) {
        char *arg = argv[i], namebuf[64];
        const char *name, *val = NULL;
        char *eq;

        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0')
            break;
        name = arg + 1 + (arg[1] == '-');
        eq = strchr(name, '=');
        if (eq) {
            size_t n = (size_t)(eq - name);
            if (n >= sizeof(namebuf))
                n = sizeof(namebuf) - 1;
            memcpy(namebuf, name, n);
            namebuf[n] = '\0';
            name = namebuf;
            val = eq + 1;
        }

#define NEED_VALUE()                                                           \
    do {                                                                       \
        if (!val) {                                                            \
            if (i + 1 >= argc) {                                               \
                rdmx_launch_msg("option %s needs a value (see %s --help)",     \
                                arg, prog);                                    \
                return -1;                                                     \
            }                                                                  \
            val = argv[++i];                                                   \
        }                                                                      \
    } while (0)
#define IS(s) (strcmp(name, (s)) == 0)

        if (IS("n") || IS("np") || IS("c")) {
            NEED_VALUE();
            if (parse_int(arg, val, 1, 1 << 20, &o->np))
                return -1;
        } else if (IS("tag-output") || IS("l") || IS("prepend-rank")) {
            o->tag_output = 1;
        } else if (IS("pmi-port")) {
            o->pmi_port = 1;
        } else if (IS("stdin")) {
            NEED_VALUE();
            if (strcmp(val, "none") == 0)
                o->stdin_rank = -1;
            else if (parse_int(arg, val, 0, 1 << 20, &o->stdin_rank))
                return -1;
        } else if (IS("timeout")) {
            NEED_VALUE();
            if (parse_int(arg, val, 1, 1 << 30, &o->timeout))
                return -1;
        } else if (IS("x")) {
            const char *e;
            NEED_VALUE();
            e = strchr(val, '=');
            if (!valid_env_name(val, e ? (size_t)(e - val) : strlen(val))) {
                rdmx_launch_msg("-x %s: not a valid environment variable "
                                "name",
                                val);
                return -1;
            }
            if (add_env(o, val))
                return -1;
        } else if (IS("genv") || IS("env")) {
            char buf[8192];
            const char *var;
            NEED_VALUE();
            var = val;
            if (i + 1 >= argc) {
                rdmx_launch_msg("option %s needs a variable name and a "
                                "value",
                                arg);
                return -1;
            }
            val = argv[++i];
            if (!valid_env_name(var, strlen(var))) {
                rdmx_launch_msg("%s %s: not a valid environment variable "
                                "name",
                                arg, var);
                return -1;
            }
            snprintf(buf, sizeof(buf), "%s=%s", var, val);
            if (add_env(o, buf))
                return -1;
        } else if (IS("wdir") || IS("wd")) {
            NEED_VALUE();
            o->wdir = val;
        } else if (IS("f") || IS("hostfile") || IS("machinefile")) {
            NEED_VALUE();
            o->hostfile = val;
        } else if (IS("H") || IS("host") || IS("hosts")) {
            NEED_VALUE();
            o->hosts = val;
        } else if (IS("map-by")) {
            NEED_VALUE();
            o->map_by = val;
        } else if (IS("bind-to")) {
            NEED_VALUE();
            o->bind_to = val;
        } else if (IS("report-bindings")) {
            o->report_bindings = 1;
        } else if (IS("oversubscribe")) {
            o->oversubscribe = 1;
        } else if (IS("nooversubscribe") || IS("no-oversubscribe")) {
            o->oversubscribe = 0;
        } else if (IS("launch-agent") || IS("launcher-exec")) {
            NEED_VALUE();
            o->launch_agent = val;
        } else if (IS("proxy")) {
            NEED_VALUE();
            o->proxy = val;
        } else if (IS("v") || IS("verbose")) {
            o->verbose = 1;
        } else if (IS("h") || IS("help")) {
            rdmx_launch_opts_usage(prog, STDOUT_FILENO);
            return 1;
        } else if (IS("V") || IS("version")) {
            printf("%s (rdmx) %s\n", prog, RDMX_VERSION_STRING);
            return 1;
        } else {
            rdmx_launch_msg("unknown option \"%s\" (see %s --help)", arg, prog);
            return -1;
        }
#undef IS
#undef NEED_VALUE
    }
    if (i >= argc) {
        rdmx_launch_msg("no program to run (see %s --help)", prog);
        return -1;
    }
    if (o->np == 0) {
        rdmx_launch_msg("the number of ranks is missing: use -n N (see %s "
                        "--help)",
                        prog);
        return -1;
    }
    if (o->stdin_rank >= o->np) {
        rdmx_launch_msg("--stdin %d: there are only %d ranks", o->stdin_rank,
                        o->np);
        return -1;
    }
    if (o->hostfile && o->hosts) {
        rdmx_launch_msg("give either --hostfile or --host, not both");
        return -1;
    }
    if (o->bind_to && rdmx_place_parse_bind(o->bind_to, &(rdmx_bind_t){0})) {
        rdmx_launch_msg("--bind-to %s: expected core, l3cache, numa, socket "
                        "or none",
                        o->bind_to);
        return -1;
    }
    if (o->map_by &&
        rdmx_place_parse_map(o->map_by, &(rdmx_pmap_t){0}, &(int){0})) {
        rdmx_launch_msg("--map-by %s: expected slot, node, core, numa, "
                        "socket or l3cache",
                        o->map_by);
        return -1;
    }
    o->argv = argv + i;
    o->argc = argc - i;
    return 0;
}

void rdmx_launch_opts_free(rdmx_launch_opts_t *o)
{
    for (int i = 0; i < o->nenv; i++)
        free(o->env[i]);
    free(o->env);
    o->env = NULL;
    o->nenv = 0;
}
