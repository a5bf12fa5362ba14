#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

/* Bounds of the rdmx_config linker section (GNU ld provides them). */
extern const rdmx_config_var_t __start_rdmx_config[]
    __attribute__((weak, visibility("hidden")));
extern const rdmx_config_var_t __stop_rdmx_config[]
    __attribute__((weak, visibility("hidden")));

static const rdmx_config_var_t **sorted;
static size_t nsorted;

static int cmp_var(const void *a, const void *b)
{
    const rdmx_config_var_t *x = *(const rdmx_config_var_t *const *)a;
    const rdmx_config_var_t *y = *(const rdmx_config_var_t *const *)b;
    return strcmp(x->name, y->name);
}

static void build_index(void)
{
    if (sorted || !__start_rdmx_config)
        return;
    size_t n = (size_t)(__stop_rdmx_config - __start_rdmx_config);
    const rdmx_config_var_t **v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = &__start_rdmx_config[i];
    qsort(v, n, sizeof(*v), cmp_var);
    /* The same variable may be declared by two modules that share it:
     * list it once. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(v[k - 1]->name, v[i]->name) != 0)
            v[k++] = v[i];
    nsorted = k;
    sorted = v;
}

size_t rdmx_config_count(void)
{
    build_index();
    return nsorted;
}

const rdmx_config_var_t *rdmx_config_at(size_t i)
{
    build_index();
    return i < nsorted ? sorted[i] : NULL;
}

static const rdmx_config_var_t *find(const char *name)
{
    build_index();
    size_t lo = 0, hi = nsorted;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(sorted[mid]->name, name);
        if (c == 0)
            return sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *rdmx_config_str(const char *name)
{
    const rdmx_config_var_t *v = find(name);
    const char *env = getenv(name);
    if (!v) {
        RDMX_WARN("configuration variable %s is read but not declared "
                  "(rdmx-info will not list it)", name);
        return env;
    }
    return (env && *env) ? env : v->deflt;
}

int rdmx_parse_size(const char *text, size_t *out)
{
    if (!text || !*text)
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || text[0] == '-')
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: return -1;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end != '\0')
        return -1;
    if (shift && v > (~0ULL >> shift))
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}

size_t rdmx_config_size(const char *name)
{
    const char *s = rdmx_config_str(name);
    size_t v = 0;
    if (s && rdmx_parse_size(s, &v) == 0)
        return v;
    const rdmx_config_var_t *d = find(name);
    if (s)
        RDMX_WARN("%s=%s is not a size (e.g. 64k, 1M); using default %s",
                  name, s, d && d->deflt ? d->deflt : "0");
    if (d && d->deflt && rdmx_parse_size(d->deflt, &v) == 0)
        return v;
    return 0;
}

long rdmx_config_long(const char *name)
{
    const char *s = rdmx_config_str(name);
    if (s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 0);
        if (!errno && end != s && *end == '\0')
            return v;
        RDMX_WARN("%s=%s is not an integer; using the default", name, s);
    }
    const rdmx_config_var_t *d = find(name);
    return d && d->deflt ? strtol(d->deflt, NULL, 0) : 0;
}

int rdmx_config_bool(const char *name)
{
    const char *s = rdmx_config_str(name);
    if (!s)
        return 0;
    if (!strcasecmp(s, "1") || !strcasecmp(s, "yes") || !strcasecmp(s, "true")
        || !strcasecmp(s, "on"))
        return 1;
    if (!strcasecmp(s, "0") || !strcasecmp(s, "no") || !strcasecmp(s, "false")
        || !strcasecmp(s, "off"))
        return 0;
    RDMX_WARN("%s=%s is not a boolean (1/0, yes/no); treating as 0", name, s);
    return 0;
}

int rdmx_config_list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}
