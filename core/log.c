#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"

RDMX_CONFIG_VAR("RDMX_LOG", "warn",
                "log level: error, warn, info, debug or trace");

rdmx_log_level_t rdmx_log_threshold = RDMX_LOG_WARN;
static int log_rank = -1;
static char log_host[64];

static const char *const level_names[] = {"error", "warn", "info", "debug",
                                          "trace"};

void rdmx_log_init(void)
{
    const char *v = rdmx_config_str("RDMX_LOG");
    if (!v)
        return;
    for (int i = 0; i <= RDMX_LOG_TRACE; i++) {
        if (strcasecmp(v, level_names[i]) == 0) {
            rdmx_log_threshold = (rdmx_log_level_t)i;
            return;
        }
    }
    fprintf(stderr, "[rdmx:warn] RDMX_LOG=%s is not one of "
                    "error|warn|info|debug|trace; using warn\n", v);
}

void rdmx_log_set_identity(int rank, const char *host)
{
    log_rank = rank;
    if (host) {
        /* Short host name: logs are read by people, not parsers. */
        snprintf(log_host, sizeof(log_host), "%s", host);
        char *dot = strchr(log_host, '.');
        if (dot)
            *dot = '\0';
    }
}

void rdmx_log_write(rdmx_log_level_t level, const char *file, int line,
                    const char *fmt, ...)
{
    char msg[1024];
    int n;
    if (log_rank >= 0)
        n = snprintf(msg, sizeof(msg), "[rdmx:%s rank %d@%s] ",
                     level_names[level], log_rank, log_host);
    else
        n = snprintf(msg, sizeof(msg), "[rdmx:%s] ", level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(msg + n, sizeof(msg) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(msg) - 2)
        n = (int)sizeof(msg) - 2;
    if (rdmx_log_threshold >= RDMX_LOG_DEBUG) {
        const char *base = strrchr(file, '/');
        n += snprintf(msg + n, sizeof(msg) - (size_t)n - 1, " (%s:%d)",
                      base ? base + 1 : file, line);
        if (n > (int)sizeof(msg) - 2)
            n = (int)sizeof(msg) - 2;
    }
    msg[n++] = '\n';
    /* One write per line so lines of concurrent ranks do not interleave. */
    ssize_t w = write(STDERR_FILENO, msg, (size_t)n);
    (void)w;
}
