/*
 * common.h — shared parts of the rdmx perf benchmarks: option parsing,
 * iteration counts, buffers, result output and data validation.
 *
 * The benchmarks use only the standard MPI C API so the same sources build
 * against rdmx, Open MPI and MPICH; nothing here includes an rdmx header.
 *
 * Methodology (OSU Micro-Benchmarks): message sizes are powers of two from
 * --sizes MIN to MAX (default 1 B .. 4 MiB); every size runs `warmup`
 * untimed iterations and then `iterations` timed ones, fewer for sizes above
 * PERF_LARGE_SIZE; bandwidth tests post a window of 64 messages and wait for
 * a 4-byte acknowledgement after each window; collectives time every call
 * separately with a barrier in between and report the average, minimum and
 * maximum over ranks of each rank's mean time. Validation (--validate) runs
 * in a separate, untimed pass after the timed loop of each size.
 *
 * Only rank 0 prints. Output formats: OSU-style text (default), csv, json.
 */
#ifndef RDMX_PERF_COMMON_H
#define RDMX_PERF_COMMON_H

#include <mpi.h>
#include <stddef.h>

/* Sizes above this use the "large" iteration counts, as in OSU. */
#define PERF_LARGE_SIZE 8192
#define PERF_DEFAULT_MAX_SIZE (4u << 20)
#define PERF_DEFAULT_WINDOW 64

typedef enum { PERF_FMT_TEXT, PERF_FMT_CSV, PERF_FMT_JSON } perf_format_t;

/* What a benchmark tells the common code about itself. */
typedef struct perf_bench {
    const char *name;        /* "latency", "bcast", ... */
    const char *description; /* one line for --help and the text banner */
    int min_ranks;           /* refuse to run with fewer ranks */
    int even_ranks;          /* pairs of ranks (multi-pair bandwidth) */
    int uses_window;         /* accepts --window */
    size_t default_min_size; /* usually 1 (4 for float reductions) */
    size_t default_max_size;
    long iters_small, warmup_small; /* sizes <= PERF_LARGE_SIZE */
    long iters_large, warmup_large;
} perf_bench_t;

typedef struct perf_opts {
    size_t min_size, max_size;
    /* Overrides from --iterations/--warmup; [0] for sizes up to
     * PERF_LARGE_SIZE, [1] above. 0 (iterations) / -1 (warmup): default. */
    long iterations, iterations_large;
    long warmup, warmup_large;
    int window;
    int validate;
    perf_format_t format;
    int rank, nranks;
} perf_opts_t;

/* One output column: `text` is the OSU header, `key` the csv/json name. */
typedef struct perf_column {
    const char *text;
    const char *key;
    int precision; /* digits after the point; -1 prints an integer */
} perf_column_t;

/*
 * Parses the command line after MPI_Init. Returns 0 to run, 1 when the
 * program should finalize and exit 0 (--help), -1 on a usage error (already
 * reported by rank 0; exit non-zero). Every rank parses the same arguments so
 * no communication is needed.
 */
int perf_parse_args(int argc, char **argv, const perf_bench_t *bench,
                    perf_opts_t *opts);

/* Timed iterations and warm-up iterations for one message size. */
long perf_iterations(const perf_bench_t *bench, const perf_opts_t *opts,
                     size_t size);
long perf_warmup(const perf_bench_t *bench, const perf_opts_t *opts,
                 size_t size);

/* Sizes are 0 (only when asked for), then powers of two: 1, 2, 4, ... */
static inline size_t perf_next_size(size_t s)
{
    return s == 0 ? 1 : s * 2;
}

/* Page-aligned, zero-filled buffer; aborts the job when out of memory. */
void *perf_alloc(size_t bytes);

/* Output. perf_out_begin prints the banner/header; each row passes `size`
 * (printed first unless `has_size` is 0) and one value per column. */
void perf_out_begin(const perf_bench_t *bench, const perf_opts_t *opts,
                    const perf_column_t *cols, int ncols, int has_size);
void perf_out_row(size_t size, const double *values);
void perf_out_end(void);

/* Validation helpers: a byte pattern that depends on who sent it, the size
 * and a sequence number, so stale or misrouted data is caught. */
void perf_fill(void *buf, size_t bytes, int sender, size_t size, long seq);
/* Returns the number of wrong bytes (0 = good); reports the first one. */
long perf_check(const void *buf, size_t bytes, int sender, size_t size,
                long seq, const char *what);

/* Combines a per-rank error count; on any error rank 0 reports and the
 * job aborts so a failed validation can never look like a result. */
void perf_validation_result(long local_errors, const char *bench, size_t size);

/* Min/avg/max over ranks of `local` (seconds), returned in microseconds. */
void perf_reduce_stats(double local, double *min_us, double *avg_us,
                       double *max_us);

#endif /* RDMX_PERF_COMMON_H */
