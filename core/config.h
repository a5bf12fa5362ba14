/*
 * config.h — every environment variable rdmx reads is declared with
 * RDMX_CONFIG_VAR beside the code that uses it. The declarations land in one
 * linker section, so rdmx-info can list every variable with its default,
 * current value and help text without a central table to keep in sync.
 * Nothing calls getenv("RDMX_...") directly; read values with the accessors.
 */
#ifndef RDMX_CONFIG_H
#define RDMX_CONFIG_H

#include <stddef.h>

typedef struct rdmx_config_var {
    const char *name;  /* "RDMX_TCP_EAGER_LIMIT" */
    const char *deflt; /* default as text; NULL = unset */
    const char *help;  /* one line */
} rdmx_config_var_t;

#define RDMX_CONFIG_CAT2(a, b) a##b
#define RDMX_CONFIG_CAT(a, b) RDMX_CONFIG_CAT2(a, b)
/* Declare a variable at file scope:
 *   RDMX_CONFIG_VAR("RDMX_TCP_EAGER_LIMIT", "64k", "largest eager message");
 */
#define RDMX_CONFIG_VAR(name_, deflt_, help_)                                 \
    __attribute__((used, section("rdmx_config"), aligned(sizeof(void *))))   \
    static const rdmx_config_var_t RDMX_CONFIG_CAT(rdmx_cfg_, __LINE__) = {   \
        (name_), (deflt_), (help_)}

/* Iterate over all declared variables (sorted by name). */
size_t rdmx_config_count(void);
const rdmx_config_var_t *rdmx_config_at(size_t i);

/* The value in force: the environment's, else the default (may be NULL).
 * Logs a warning once if `name` was never declared (a programming error). */
const char *rdmx_config_str(const char *name);
/* Sizes accept suffixes k, K, m, M, g, G (powers of 1024). Bad text falls
 * back to the default with a warning naming the variable. */
size_t rdmx_config_size(const char *name);
long rdmx_config_long(const char *name);
int rdmx_config_bool(const char *name); /* 1/0, yes/no, true/false, on/off */

/* Is `name` one of the comma-separated entries of `list`? */
int rdmx_config_list_has(const char *list, const char *name);

/* Parse "64k" etc.; returns 0 on success. */
int rdmx_parse_size(const char *text, size_t *out);

#endif
