/*
 * log.h — the logging module. One switch for the whole library:
 * RDMX_LOG=error|warn|info|debug|trace (default: warn). Lines go to stderr as
 *   [rdmx:LEVEL rank R@host] message
 * so that interleaved output from many ranks stays attributable.
 */
#ifndef RDMX_LOG_H
#define RDMX_LOG_H

typedef enum rdmx_log_level {
    RDMX_LOG_ERROR = 0,
    RDMX_LOG_WARN = 1,
    RDMX_LOG_INFO = 2,
    RDMX_LOG_DEBUG = 3,
    RDMX_LOG_TRACE = 4,
} rdmx_log_level_t;

extern rdmx_log_level_t rdmx_log_threshold;

/* Read RDMX_LOG; safe to call more than once. */
void rdmx_log_init(void);
/* Identity printed in every line; rank < 0 prints no rank. */
void rdmx_log_set_identity(int rank, const char *host);
void rdmx_log_write(rdmx_log_level_t level, const char *file, int line,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define rdmx_log(level, ...)                                                  \
    do {                                                                      \
        if ((level) <= rdmx_log_threshold)                                    \
            rdmx_log_write((level), __FILE__, __LINE__, __VA_ARGS__);         \
    } while (0)
#define RDMX_ERROR(...) rdmx_log(RDMX_LOG_ERROR, __VA_ARGS__)
#define RDMX_WARN(...) rdmx_log(RDMX_LOG_WARN, __VA_ARGS__)
#define RDMX_INFO(...) rdmx_log(RDMX_LOG_INFO, __VA_ARGS__)
#define RDMX_DEBUG(...) rdmx_log(RDMX_LOG_DEBUG, __VA_ARGS__)
#define RDMX_TRACE(...) rdmx_log(RDMX_LOG_TRACE, __VA_ARGS__)

#endif
