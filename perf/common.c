/*
 * common.c — option parsing, iteration counts, output and validation shared
 * by every benchmark (see common.h for the methodology).
 */
#include "common.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    perf_format_t format;
    const perf_column_t *cols;
    int ncols;
    int has_size;
    int rows;
    int nranks;
    const char *bench;
    int active; /* rank 0 only */
} out;

static void usage(const perf_bench_t *b, FILE *f)
{
    fprintf(f,
            "Usage: mpirun -n N %s [options]\n"
            "%s\n\n"
            "Options:\n"
            "  --sizes MIN:MAX     message sizes, powers of two between MIN "
            "and MAX\n"
            "                      (suffixes K, M; default %zu:%zu; one value "
            "= one size)\n"
            "  --iterations N[:L]  timed iterations per size (default %ld, "
            "%ld above %d B);\n"
            "                      N:L sets small and large sizes apart\n"
            "  --warmup N[:L]      untimed warm-up iterations per size "
            "(default %ld:%ld)\n",
            b->name, b->description, b->default_min_size, b->default_max_size,
            b->iters_small, b->iters_large, PERF_LARGE_SIZE, b->warmup_small,
            b->warmup_large);
    if (b->uses_window)
        fprintf(f,
                "  --window N          messages in flight per window "
                "(default %d)\n",
                PERF_DEFAULT_WINDOW);
    fprintf(f,
            "  --validate          check received data (separate untimed "
            "pass per size)\n"
            "  --format FMT        text (OSU layout, default), csv or json\n"
            "  --help              this text\n"
            "Needs at least %d ranks%s.\n",
            b->min_ranks, b->even_ranks ? " (an even number)" : "");
}

/* Parses "64", "8K", "4M", "1G" into bytes. */
static int parse_bytes(const char *s, size_t *out_v)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    switch (*end) {
    case 'k':
    case 'K':
        v <<= 10;
        end++;
        break;
    case 'm':
    case 'M':
        v <<= 20;
        end++;
        break;
    case 'g':
    case 'G':
        v <<= 30;
        end++;
        break;
    default:
        break;
    }
    if (*end == 'i' || *end == 'B')
        end++;
    if (*end == 'B')
        end++;
    if (*end != '\0')
        return -1;
    *out_v = (size_t)v;
    return 0;
}

static int parse_long(const char *s, long min, long *out_v);

/* "N" sets both values, "N:L" small and large apart. */
static int parse_pair(const char *s, long min, long *small, long *large)
{
    char buf[64];
    const char *colon = strchr(s, ':');
    if (!colon)
        return parse_long(s, min, small) || parse_long(s, min, large);
    size_t l = (size_t)(colon - s);
    if (l >= sizeof(buf))
        return -1;
    memcpy(buf, s, l);
    buf[l] = '\0';
    return parse_long(buf, min, small) || parse_long(colon + 1, min, large);
}

static int parse_long(const char *s, long min, long *out_v)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min)
        return -1;
    *out_v = v;
    return 0;
}

int perf_parse_args(int argc, char **argv, const perf_bench_t *b,
                    perf_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->min_size = b->default_min_size;
    o->max_size = b->default_max_size;
    o->warmup = o->warmup_large = -1;
    o->window = PERF_DEFAULT_WINDOW;
    o->format = PERF_FMT_TEXT;
    MPI_Comm_rank(MPI_COMM_WORLD, &o->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &o->nranks);
    int quiet = o->rank != 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        char name[32];
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (nlen >= sizeof(name))
            nlen = sizeof(name) - 1;
        memcpy(name, a, nlen);
        name[nlen] = '\0';

        if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
            if (!quiet)
                usage(b, stdout);
            return 1;
        }
        if (!strcmp(name, "--validate")) {
            o->validate = 1;
            continue;
        }
        if (!strcmp(name, "--sizes") || !strcmp(name, "--iterations") ||
            !strcmp(name, "--warmup") || !strcmp(name, "--window") ||
            !strcmp(name, "--format")) {
            if (eq) {
                val = eq + 1;
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                if (!quiet)
                    fprintf(stderr, "%s: option %s needs a value\n", b->name,
                            name);
                return -1;
            }
        } else {
            if (!quiet) {
                fprintf(stderr, "%s: unknown option '%s'\n", b->name, a);
                usage(b, stderr);
            }
            return -1;
        }

        int bad = 0;
        if (!strcmp(name, "--sizes")) {
            const char *colon = strchr(val, ':');
            char lo[64];
            if (colon) {
                size_t l = (size_t)(colon - val);
                if (l >= sizeof(lo))
                    l = sizeof(lo) - 1;
                memcpy(lo, val, l);
                lo[l] = '\0';
                bad = parse_bytes(lo, &o->min_size) ||
                      parse_bytes(colon + 1, &o->max_size);
            } else {
                bad = parse_bytes(val, &o->min_size);
                o->max_size = o->min_size;
            }
            if (!bad &&
                (o->max_size < o->min_size || o->max_size > ((size_t)1 << 30)))
                bad = 1;
        } else if (!strcmp(name, "--iterations")) {
            bad = parse_pair(val, 1, &o->iterations, &o->iterations_large);
        } else if (!strcmp(name, "--warmup")) {
            bad = parse_pair(val, 0, &o->warmup, &o->warmup_large);
        } else if (!strcmp(name, "--window")) {
            long w;
            bad = parse_long(val, 1, &w) || w > 1 << 16;
            o->window = (int)w;
        } else if (!strcmp(name, "--format")) {
            if (!strcmp(val, "text"))
                o->format = PERF_FMT_TEXT;
            else if (!strcmp(val, "csv"))
                o->format = PERF_FMT_CSV;
            else if (!strcmp(val, "json"))
                o->format = PERF_FMT_JSON;
            else
                bad = 1;
        }
        if (bad) {
            if (!quiet)
                fprintf(stderr, "%s: bad value '%s' for %s\n", b->name, val,
                        name);
            return -1;
        }
    }

    if (o->nranks < b->min_ranks || (b->even_ranks && o->nranks % 2)) {
        if (!quiet)
            fprintf(stderr, "%s: needs %s%d ranks, started with %d\n", b->name,
                    b->even_ranks ? "an even number of, at least "
                                  : "at least ",
                    b->min_ranks, o->nranks);
        return -1;
    }
    return 0;
}

long perf_iterations(const perf_bench_t *b, const perf_opts_t *o, size_t size)
{
    if (o->iterations > 0)
        return size > PERF_LARGE_SIZE ? o->iterations_large : o->iterations;
    return size > PERF_LARGE_SIZE ? b->iters_large : b->iters_small;
}

long perf_warmup(const perf_bench_t *b, const perf_opts_t *o, size_t size)
{
    if (o->warmup >= 0)
        return size > PERF_LARGE_SIZE ? o->warmup_large : o->warmup;
    return size > PERF_LARGE_SIZE ? b->warmup_large : b->warmup_small;
}

void *perf_alloc(size_t bytes)
{
    void *p = NULL;
    long page = sysconf(_SC_PAGESIZE);
    if (bytes == 0)
        bytes = 1;
    if (posix_memalign(&p, page > 0 ? (size_t)page : 4096, bytes) != 0) {
        fprintf(stderr, "perf: cannot allocate %zu bytes\n", bytes);
        MPI_Abort(MPI_COMM_WORLD, 2);
        return NULL;
    }
    memset(p, 0, bytes); /* fault pages in before any timing */
    return p;
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

void perf_out_begin(const perf_bench_t *b, const perf_opts_t *o,
                    const perf_column_t *cols, int ncols, int has_size)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    out.active = rank == 0;
    out.format = o->format;
    out.cols = cols;
    out.ncols = ncols;
    out.has_size = has_size;
    out.rows = 0;
    out.nranks = o->nranks;
    out.bench = b->name;
    if (!out.active)
        return;

    char lib[MPI_MAX_LIBRARY_VERSION_STRING + 1] = "";
    int len = 0;
    MPI_Get_library_version(lib, &len);
    lib[MPI_MAX_LIBRARY_VERSION_STRING] = '\0';
    char *nl = strchr(lib, '\n'); /* first line is enough */
    if (nl)
        *nl = '\0';
    for (char *c = lib; *c; c++)
        if (*c == ',' && o->format == PERF_FMT_CSV)
            *c = ';';

    switch (o->format) {
    case PERF_FMT_TEXT:
        printf("# rdmx-perf %s: %s\n", b->name, b->description);
        printf("# %s\n", lib);
        printf("# ranks %d", o->nranks);
        if (b->uses_window)
            printf(", window %d", o->window);
        if (o->iterations > 0)
            printf(", iterations %ld:%ld", o->iterations, o->iterations_large);
        printf("%s\n", o->validate ? ", validated" : "");
        if (has_size)
            printf("%-10s", "# Size");
        else
            printf("# ");
        for (int i = 0; i < ncols; i++)
            printf("%*s", i == 0 && !has_size ? 18 : 20, cols[i].text);
        printf("\n");
        break;
    case PERF_FMT_CSV:
        printf("# benchmark=%s ranks=%d library=%s\n", b->name, o->nranks, lib);
        printf("benchmark,ranks%s", has_size ? ",size" : "");
        for (int i = 0; i < ncols; i++)
            printf(",%s", cols[i].key);
        printf("\n");
        break;
    case PERF_FMT_JSON:
        printf("{\"benchmark\": ");
        json_string(b->name);
        printf(", \"ranks\": %d, \"window\": %d, \"validated\": %s, "
               "\"library\": ",
               o->nranks, b->uses_window ? o->window : 0,
               o->validate ? "true" : "false");
        json_string(lib);
        printf(", \"results\": [");
        break;
    }
    fflush(stdout);
}

static void print_value(const perf_column_t *c, double v, int width)
{
    if (c->precision < 0)
        printf("%*.0f", width, v);
    else
        printf("%*.*f", width, c->precision, v);
}

void perf_out_row(size_t size, const double *v)
{
    if (!out.active)
        return;
    switch (out.format) {
    case PERF_FMT_TEXT:
        if (out.has_size)
            printf("%-10zu", size);
        else
            printf("  ");
        for (int i = 0; i < out.ncols; i++)
            print_value(&out.cols[i], v[i], i == 0 && !out.has_size ? 18 : 20);
        printf("\n");
        break;
    case PERF_FMT_CSV:
        printf("%s,%d", out.bench, out.nranks);
        if (out.has_size)
            printf(",%zu", size);
        for (int i = 0; i < out.ncols; i++) {
            putchar(',');
            print_value(&out.cols[i], v[i], 0);
        }
        printf("\n");
        break;
    case PERF_FMT_JSON:
        printf("%s\n  {", out.rows ? "," : "");
        if (out.has_size)
            printf("\"size\": %zu, ", size);
        for (int i = 0; i < out.ncols; i++) {
            printf("\"%s\": ", out.cols[i].key);
            print_value(&out.cols[i], v[i], 0);
            printf("%s", i + 1 < out.ncols ? ", " : "");
        }
        printf("}");
        break;
    }
    out.rows++;
    fflush(stdout);
}

void perf_out_end(void)
{
    if (!out.active)
        return;
    if (out.format == PERF_FMT_JSON)
        printf("\n]}\n");
    fflush(stdout);
}

/* The pattern is a cheap hash so every byte position differs between
 * senders, sizes and sequence numbers. */
static inline unsigned char pattern_byte(size_t i, int sender, size_t size,
                                         long seq)
{
    uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ull ^
                 ((uint64_t)sender << 48) ^ ((uint64_t)size << 8) ^
                 (uint64_t)seq;
    return (unsigned char)(x ^ (x >> 29) ^ (x >> 41));
}

void perf_fill(void *buf, size_t bytes, int sender, size_t size, long seq)
{
    unsigned char *p = buf;
    for (size_t i = 0; i < bytes; i++)
        p[i] = pattern_byte(i, sender, size, seq);
}

long perf_check(const void *buf, size_t bytes, int sender, size_t size,
                long seq, const char *what)
{
    const unsigned char *p = buf;
    long bad = 0;
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    for (size_t i = 0; i < bytes; i++) {
        unsigned char want = pattern_byte(i, sender, size, seq);
        if (p[i] != want) {
            if (bad == 0)
                fprintf(stderr,
                        "perf: validation failed on rank %d (%s, size %zu, "
                        "data from rank %d): byte %zu is 0x%02x, expected "
                        "0x%02x\n",
                        rank, what, size, sender, i, p[i], want);
            bad++;
        }
    }
    return bad;
}

void perf_validation_result(long local_errors, const char *bench, size_t size)
{
    long total = 0;
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Allreduce(&local_errors, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (total != 0) {
        if (rank == 0)
            fprintf(stderr,
                    "%s: validation FAILED at size %zu: %ld wrong "
                    "bytes in total\n",
                    bench, size, total);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
}

void perf_reduce_stats(double local, double *min_us, double *avg_us,
                       double *max_us)
{
    double mn = 0, mx = 0, sum = 0;
    int n;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    MPI_Reduce(&local, &mn, 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
    MPI_Reduce(&local, &mx, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&local, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    *min_us = mn * 1e6;
    *max_us = mx * 1e6;
    *avg_us = sum / n * 1e6;
}
