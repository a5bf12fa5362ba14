/*
 * hostfile.c — hostfile/--host parsing and rank-to-host mapping (rules in
 * hostfile.h). Pure: no I/O except rdmx_hostfile_load reading the file.
 */
#include "hostfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOSTFILE_MAX_BYTES (16u << 20)
#define SLOTS_MAX (1 << 20)

static int host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static int parse_count(const char *s, size_t len, int min, int *out)
{
    long v = 0;

    if (len == 0 || len > 8)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > SLOTS_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

static rdmx_status_t add_host(rdmx_hostlist_t *hl, const char *name,
                              size_t nlen, int slots, int max_slots,
                              const char *origin, char *err, size_t errlen)
{
    rdmx_host_t *h;

    for (int i = 0; i < hl->n; i++) {
        h = &hl->hosts[i];
        if (strlen(h->name) == nlen && memcmp(h->name, name, nlen) == 0) {
            h->slots += slots;
            if (max_slots && (!h->max_slots || max_slots > h->max_slots))
                h->max_slots = max_slots;
            if (h->max_slots && h->slots > h->max_slots) {
                snprintf(err, errlen,
                         "%s: host %s now has %d slots, more than its "
                         "max_slots=%d",
                         origin, h->name, h->slots, h->max_slots);
                return RDMX_ERR_INVALID;
            }
            return RDMX_OK;
        }
    }
    h = realloc(hl->hosts, sizeof(*h) * (size_t)(hl->n + 1));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return RDMX_ERR_NOMEM;
    }
    hl->hosts = h;
    h = &hl->hosts[hl->n++];
    memset(h, 0, sizeof(*h));
    memcpy(h->name, name, nlen);
    h->slots = slots;
    h->max_slots = max_slots;
    snprintf(h->origin, sizeof(h->origin), "%s", origin);
    return RDMX_OK;
}

/* One "host[:slots]" token of a hostfile line or --host list. */
static rdmx_status_t parse_host_token(const char *tok, size_t len,
                                      const char **name, size_t *nlen,
                                      int *slots, const char *origin, char *err,
                                      size_t errlen)
{
    const char *colon = memchr(tok, ':', len);
    size_t n = colon ? (size_t)(colon - tok) : len;

    if (n == 0 || n >= RDMX_HOSTNAME_MAX) {
        snprintf(err, errlen, "%s: %s host name", origin,
                 n ? "overlong" : "empty");
        return RDMX_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        if (!host_char_ok(tok[i])) {
            snprintf(err, errlen,
                     "%s: invalid character '%c' in host name \"%.*s\"", origin,
                     tok[i], (int)n, tok);
            return RDMX_ERR_INVALID;
        }
    }
    *name = tok;
    *nlen = n;
    *slots = 1;
    if (colon && parse_count(colon + 1, len - n - 1, 1, slots) != 0) {
        snprintf(err, errlen,
                 "%s: \"%.*s\": the slot count after ':' must be a number "
                 "from 1 to %d",
                 origin, (int)len, tok, SLOTS_MAX);
        return RDMX_ERR_INVALID;
    }
    return RDMX_OK;
}

static rdmx_status_t parse_line(const char *line, size_t len,
                                const char *origin, rdmx_hostlist_t *hl,
                                char *err, size_t errlen)
{
    const char *p = line, *end = line + len, *name = NULL;
    size_t nlen = 0;
    int slots = 1, max_slots = 0, ntok = 0, have_slots_kw = 0;
    int colon_slots = 0;

    while (p < end) {
        const char *tok;
        size_t tlen;

        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        if (p == end)
            break;
        tok = p;
        while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
        tlen = (size_t)(p - tok);
        if (ntok++ == 0) {
            rdmx_status_t st = parse_host_token(tok, tlen, &name, &nlen, &slots,
                                                origin, err, errlen);
            if (st != RDMX_OK)
                return st;
            colon_slots = memchr(tok, ':', tlen) != NULL;
            continue;
        }
        if (tlen > 6 && strncmp(tok, "slots=", 6) == 0) {
            if (parse_count(tok + 6, tlen - 6, 1, &slots) != 0)
                goto bad_value;
            have_slots_kw = 1;
        } else if (tlen > 10 && (strncmp(tok, "max_slots=", 10) == 0 ||
                                 strncmp(tok, "max-slots=", 10) == 0)) {
            if (parse_count(tok + 10, tlen - 10, 1, &max_slots) != 0)
                goto bad_value;
        } else {
            snprintf(err, errlen,
                     "%s: unknown keyword \"%.*s\" (expected slots=N or "
                     "max_slots=N)",
                     origin, (int)tlen, tok);
            return RDMX_ERR_INVALID;
        }
        continue;
    bad_value:
        snprintf(err, errlen, "%s: \"%.*s\" needs a number from 1 to %d",
                 origin, (int)tlen, tok, SLOTS_MAX);
        return RDMX_ERR_INVALID;
    }
    if (ntok == 0)
        return RDMX_OK;
    if (have_slots_kw && colon_slots) {
        snprintf(err, errlen, "%s: slots given twice (host:N and slots=N)",
                 origin);
        return RDMX_ERR_INVALID;
    }
    if (max_slots && slots > max_slots) {
        snprintf(err, errlen, "%s: slots=%d is more than max_slots=%d", origin,
                 slots, max_slots);
        return RDMX_ERR_INVALID;
    }
    return add_host(hl, name, nlen, slots, max_slots, origin, err, errlen);
}

rdmx_status_t rdmx_hostfile_parse(const char *text, size_t len,
                                  const char *fname, rdmx_hostlist_t *hl,
                                  char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    int lineno = 0;

    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "%s: contains a NUL byte (not a text file?)",
                 fname);
        return RDMX_ERR_INVALID;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *hash = memchr(p, '#', (size_t)(le - p));
        char origin[300];
        rdmx_status_t st;

        lineno++;
        snprintf(origin, sizeof(origin), "%s:%d", fname, lineno);
        st = parse_line(p, (size_t)((hash ? hash : le) - p), origin, hl, err,
                        errlen);
        if (st != RDMX_OK)
            return st;
        p = nl ? nl + 1 : end;
    }
    return RDMX_OK;
}

rdmx_status_t rdmx_hostfile_load(const char *path, rdmx_hostlist_t *hl,
                                 char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *buf;
    size_t n;
    rdmx_status_t st;

    if (!f) {
        snprintf(err, errlen, "cannot open hostfile %s: %s", path,
                 strerror(errno));
        return RDMX_ERR_IO;
    }
    buf = malloc(HOSTFILE_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return RDMX_ERR_NOMEM;
    }
    n = fread(buf, 1, HOSTFILE_MAX_BYTES + 1, f);
    if (ferror(f) || n > HOSTFILE_MAX_BYTES) {
        snprintf(err, errlen, "cannot read hostfile %s: %s", path,
                 ferror(f) ? strerror(errno) : "larger than 16 MiB");
        fclose(f);
        free(buf);
        return RDMX_ERR_IO;
    }
    fclose(f);
    st = rdmx_hostfile_parse(buf, n, path, hl, err, errlen);
    if (st == RDMX_OK && hl->n == 0) {
        snprintf(err, errlen, "hostfile %s lists no hosts", path);
        st = RDMX_ERR_INVALID;
    }
    free(buf);
    return st;
}

rdmx_status_t rdmx_hostlist_parse_arg(const char *arg, rdmx_hostlist_t *hl,
                                      char *err, size_t errlen)
{
    const char *p = arg;

    if (!arg || !*arg) {
        snprintf(err, errlen, "--host: empty host list");
        return RDMX_ERR_INVALID;
    }
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *name;
        size_t nlen;
        int slots;
        char origin[300];
        rdmx_status_t st;

        snprintf(origin, sizeof(origin), "--host %s", arg);
        st =
            parse_host_token(p, len, &name, &nlen, &slots, origin, err, errlen);
        if (st != RDMX_OK)
            return st;
        st = add_host(hl, name, nlen, slots, 0, origin, err, errlen);
        if (st != RDMX_OK)
            return st;
        p = comma ? comma + 1 : p + len;
        if (comma && !*p) {
            snprintf(err, errlen, "--host %s: trailing comma", arg);
            return RDMX_ERR_INVALID;
        }
    }
    return RDMX_OK;
}

void rdmx_hostlist_free(rdmx_hostlist_t *hl)
{
    free(hl->hosts);
    hl->hosts = NULL;
    hl->n = 0;
}

int rdmx_hostlist_total_slots(const rdmx_hostlist_t *hl)
{
    int total = 0;

    for (int i = 0; i < hl->n; i++)
        total += hl->hosts[i].slots;
    return total;
}

rdmx_status_t rdmx_hostlist_map(const rdmx_hostlist_t *hl, int np,
                                rdmx_map_policy_t policy, int oversubscribe,
                                int *rank_host, char *err, size_t errlen)
{
    int total = rdmx_hostlist_total_slots(hl), r = 0;
    int *used;

    if (hl->n == 0) {
        snprintf(err, errlen, "no hosts to run on");
        return RDMX_ERR_INVALID;
    }
    if (np > total && !oversubscribe) {
        snprintf(err, errlen,
                 "%d ranks requested but the hosts provide only %d slots "
                 "(first host %s from %s); use --oversubscribe or fewer "
                 "ranks",
                 np, total, hl->hosts[0].name, hl->hosts[0].origin);
        return RDMX_ERR_INVALID;
    }
    used = calloc((size_t)hl->n, sizeof(int));
    if (!used) {
        snprintf(err, errlen, "out of memory");
        return RDMX_ERR_NOMEM;
    }
    if (policy == RDMX_MAP_BY_SLOT) {
        for (int h = 0; h < hl->n && r < np; h++)
            while (used[h] < hl->hosts[h].slots && r < np) {
                rank_host[r++] = h;
                used[h]++;
            }
    } else {
        int progress = 1;
        while (r < np && progress) {
            progress = 0;
            for (int h = 0; h < hl->n && r < np; h++) {
                if (used[h] < hl->hosts[h].slots) {
                    rank_host[r++] = h;
                    used[h]++;
                    progress = 1;
                }
            }
        }
    }
    /* Oversubscription: round robin over hosts below max_slots. */
    while (r < np) {
        int placed = 0;
        for (int h = 0; h < hl->n && r < np; h++) {
            if (hl->hosts[h].max_slots && used[h] >= hl->hosts[h].max_slots)
                continue;
            rank_host[r++] = h;
            used[h]++;
            placed = 1;
        }
        if (!placed) {
            snprintf(err, errlen,
                     "%d ranks requested but every host is at its "
                     "max_slots (e.g. %s: max_slots=%d, from %s)",
                     np, hl->hosts[0].name, hl->hosts[0].max_slots,
                     hl->hosts[0].origin);
            free(used);
            return RDMX_ERR_INVALID;
        }
    }
    free(used);
    return RDMX_OK;
}

rdmx_status_t rdmx_hostlist_from_slurm(const char *names, const char *per_node,
                                       rdmx_hostlist_t *hl, char *err,
                                       size_t errlen)
{
    const char *p = per_node ? per_node : "", *n = names;
    char *text = NULL, *end;
    size_t len = 0, cap = 0;
    long count = 0, reps = 0; /* current "count(xreps)" entry, reps left */
    rdmx_status_t st;
    int nodes = 0;

    while (*n) {
        size_t nl = strcspn(n, "\n");
        char line[RDMX_HOSTNAME_MAX + 32];
        int w;

        if (nl == 0) {
            n++;
            continue;
        }
        if (reps == 0) {
            if (!*p) {
                snprintf(err, errlen,
                         "Slurm: more nodes than the tasks-per-node list "
                         "\"%s\" describes",
                         per_node ? per_node : "");
                goto fail;
            }
            count = strtol(p, &end, 10);
            reps = 1;
            if (end != p && end[0] == '(' && end[1] == 'x') {
                reps = strtol(end + 2, &end, 10);
                if (*end == ')')
                    end++;
                else
                    reps = 0;
            }
            if (end == p || count < 1 || reps < 1 || (*end && *end != ',')) {
                snprintf(err, errlen,
                         "Slurm: malformed tasks-per-node list \"%s\"",
                         per_node);
                goto fail;
            }
            p = *end ? end + 1 : end;
        }
        reps--;
        w = snprintf(
            line, sizeof(line), "%.*s slots=%ld\n",
            (int)(nl < RDMX_HOSTNAME_MAX - 1 ? nl : RDMX_HOSTNAME_MAX - 1), n,
            count);
        if (len + (size_t)w + 1 > cap) {
            char *q;
            cap = cap ? cap * 2 : 1024;
            while (cap < len + (size_t)w + 1)
                cap *= 2;
            q = realloc(text, cap);
            if (!q) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            text = q;
        }
        memcpy(text + len, line, (size_t)w + 1);
        len += (size_t)w;
        nodes++;
        n += nl;
    }
    if (nodes == 0) {
        snprintf(err, errlen, "Slurm: the allocation lists no nodes");
        goto fail;
    }
    st =
        rdmx_hostfile_parse(text, len, "the Slurm allocation", hl, err, errlen);
    free(text);
    return st;
fail:
    free(text);
    return RDMX_ERR_INVALID;
}
