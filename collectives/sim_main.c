/*
 * sim_main.c — rdmx-collsim: run the real schedule builders for up to
 * 65536 ranks without processes and print, per algorithm, rounds,
 * messages, bytes per rank and the alpha-beta-gamma time.
 *
 *   rdmx-collsim [-k kind] [-a algo] [-p 2,8,1000,65536] [-n 8,65536,1m]
 *                [-A alpha_us] [-B GB/s] [-G GB/s reduce] [-s segment]
 *
 * Algorithms whose schedules hold O(p^2) operations in total (rings,
 * pairwise/Bruck alltoall, scatter+allgather bcast) are skipped above
 * 1024 ranks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll.h"
#include "config.h"

static int quadratic(const rdmx_coll_algo_t *al)
{
    return strstr(al->name, "ring") || strstr(al->name, "scatter_allgather") ||
           al->kind == RDMX_COLL_ALLTOALL ||
           al->kind == RDMX_COLL_REDUCE_SCATTER;
}

static int parse_list(char *s, size_t *out, int max)
{
    int n = 0;
    for (char *t = strtok(s, ","); t && n < max; t = strtok(NULL, ",")) {
        size_t v;
        if (rdmx_parse_size(t, &v) != 0) {
            fprintf(stderr, "rdmx-collsim: bad number '%s'\n", t);
            exit(2);
        }
        out[n++] = v;
    }
    return n;
}

static void usage(void)
{
    fprintf(stderr, "usage: rdmx-collsim [-k kind] [-a algo] [-p ranks,...] "
                    "[-n bytes,...]\n"
                    "                    [-A alpha_us] [-B link_GBps] "
                    "[-G reduce_GBps] [-s segment]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *kind = NULL, *algo = NULL;
    size_t ps[32] = {2, 3, 8, 64, 1000, 4096, 65536};
    size_t ns[32] = {8, 65536, 1048576};
    int nps = 7, nns = 3;
    double alpha_us = 1.5, bw = 10.0, rbw = 8.0;
    size_t seg = 32768;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (!strcmp(argv[i], "-k"))
            kind = argv[++i];
        else if (!strcmp(argv[i], "-a"))
            algo = argv[++i];
        else if (!strcmp(argv[i], "-p"))
            nps = parse_list(argv[++i], ps, 32);
        else if (!strcmp(argv[i], "-n"))
            nns = parse_list(argv[++i], ns, 32);
        else if (!strcmp(argv[i], "-A"))
            alpha_us = atof(argv[++i]);
        else if (!strcmp(argv[i], "-B"))
            bw = atof(argv[++i]);
        else if (!strcmp(argv[i], "-G"))
            rbw = atof(argv[++i]);
        else if (!strcmp(argv[i], "-s"))
            parse_list(argv[++i], &seg, 1);
        else
            usage();
    }
    rdmx_sim_cost_t cost = {alpha_us * 1e-6, 1.0 / (bw * 1e9),
                            1.0 / (rbw * 1e9)};
    printf("# alpha %.2f us, beta %.3f ns/B (%.1f GB/s), gamma %.3f ns/B\n",
           alpha_us, cost.beta * 1e9, bw, cost.gamma * 1e9);
    printf("%-15s %-20s %6s %9s %7s %10s %12s %12s %12s\n", "collective",
           "algorithm", "p", "bytes", "rounds", "messages", "sent/rank",
           "recv/rank", "time_us");
    for (size_t k = 0; k < rdmx_coll_nalgos; k++) {
        const rdmx_coll_algo_t *al = &rdmx_coll_algos[k];
        const char *kn = rdmx_coll_kind_name(al->kind);
        if (kind && strcmp(kind, kn))
            continue;
        if (algo && strcmp(algo, al->name))
            continue;
        if (strchr(kn, 'v') && strcmp(kn, "reduce_scatter")) /* *v */
            continue;
        for (int ip = 0; ip < nps; ip++) {
            int p = (int)ps[ip];
            if (p < 1 || p > 65536)
                continue;
            for (int in = 0; in < nns; in++) {
                size_t n = ns[in];
                if (al->kind == RDMX_COLL_BARRIER && in > 0)
                    break;
                rdmx_coll_args_t base = {.kind = al->kind,
                                         .size = p,
                                         .root = 0,
                                         .bytes = n,
                                         .segsize = seg,
                                         .op = &rdmx_op_sum,
                                         .dt = &rdmx_dt_int64,
                                         .esize = 8,
                                         .commutative = 1,
                                         .count = n / 8};
                if (al->usable && !al->usable(&base))
                    continue;
                if (quadratic(al) && p > 1024) {
                    printf("%-15s %-20s %6d %9zu  (skipped: O(p^2) "
                           "schedule)\n",
                           kn, al->name, p, n);
                    continue;
                }
                rdmx_coll_args_t *args = calloc((size_t)p, sizeof(*args));
                size_t *counts = NULL;
                if (!args)
                    return 1;
                if (al->kind == RDMX_COLL_REDUCE_SCATTER) {
                    counts = malloc(sizeof(size_t) * (size_t)p);
                    for (int r = 0; r < p; r++)
                        counts[r] = n / 8 / (size_t)p;
                    base.counts = counts;
                    base.count = counts[0] * (size_t)p;
                }
                for (int r = 0; r < p; r++) {
                    args[r] = base;
                    args[r].rank = r;
                }
                rdmx_sim_result_t res;
                rdmx_status_t st = rdmx_sim_run(args, al, &cost, NULL, &res);
                if (st != RDMX_OK || res.error[0])
                    printf("%-15s %-20s %6d %9zu  ERROR: %s\n", kn, al->name, p,
                           n, res.error[0] ? res.error : rdmx_status_str(st));
                else
                    printf("%-15s %-20s %6d %9zu %7zu %10zu %12zu %12zu "
                           "%12.1f\n",
                           kn, al->name, p, n, res.max_rounds, res.messages,
                           res.max_bytes_sent, res.max_bytes_recv,
                           res.time * 1e6);
                fflush(stdout);
                free(counts);
                free(args);
            }
        }
    }
    return 0;
}
