/*
 * rdmx-info — what this rdmx build is and can do on this machine: version,
 * build options, which transports are usable here (and why not), and every
 * configuration variable with its default and current value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mpi.h"
#include "rdmx_build_config.h"
#include "transport/transport.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: rdmx-info [--transports] [--config] [--help]\n"
            "Shows the rdmx version and build, which transports work on this\n"
            "machine (and why the others do not), and every RDMX_* variable\n"
            "with its default and current value. No option: everything.\n");
}

static void show_build(void)
{
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len;
    MPI_Get_library_version(version, &len);
    printf("rdmx %s\n", RDMX_VERSION_STRING);
    printf("  library:   %s\n", version);
    printf("  MPI:       %d.%d\n", MPI_VERSION, MPI_SUBVERSION);
    printf("  build:     %s, compiler %s\n", RDMX_BUILD_TYPE, RDMX_C_COMPILER);
    printf("  verbs:     %s\n", RDMX_HAVE_VERBS ? "built in" : "not built "
                                                           "(no libibverbs)");
    printf("  hwloc:     %s\n", RDMX_HAVE_HWLOC ? "built in" : "not built");
}

static void show_transports(void)
{
    printf("transports (in order of preference per peer):\n");
    if (!RDMX_HAVE_VERBS)
        printf("  %-6s not usable: not built (libibverbs was not found when "
               "rdmx was built)\n", "verbs");
    for (size_t i = 0; i < rdmx_transport_registry_len; i++) {
        const rdmx_transport_ops_t *ops = rdmx_transport_registry[i];
        char why[256] = "";
        rdmx_status_t st = ops->probe(why, sizeof(why));
        if (st == RDMX_OK)
            printf("  %-6s usable\n", ops->name);
        else
            printf("  %-6s not usable: %s\n", ops->name,
                   why[0] ? why : rdmx_status_str(st));
    }
}

static void show_config(void)
{
    printf("configuration variables (environment):\n");
    size_t n = rdmx_config_count();
    for (size_t i = 0; i < n; i++) {
        const rdmx_config_var_t *v = rdmx_config_at(i);
        const char *cur = getenv(v->name);
        printf("  %s\n      %s\n      default: %s   current: %s\n", v->name,
               v->help, v->deflt ? v->deflt : "(unset)",
               cur ? cur : "(default)");
    }
}

int main(int argc, char **argv)
{
    int transports = 0, config = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--transports"))
            transports = 1;
        else if (!strcmp(argv[i], "--config"))
            config = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "rdmx-info: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!transports && !config) {
        show_build();
        transports = config = 1;
    }
    if (transports)
        show_transports();
    if (config)
        show_config();
    return 0;
}
