/*
 * pmi_prog.c — a rank for launcher tests that uses only the PMI client.
 *
 * Usage: pmi_prog MODE [ARG]
 *   kvs              every rank puts, fences, reads every other rank's key
 *                    (checks values), fences again, finalizes; exit 0
 *   fence N          N rounds of put/fence/get with fresh keys
 *   abort R CODE     rank R aborts with CODE after the first fence; the
 *                    others wait in a second fence (must be killed)
 *   late-abort       rank 0 waits until every other rank has finalized and
 *                    exited (marker files), then aborts with code 9
 *   exit-after-fin R CODE   rank R exits CODE after finalize; others 0
 *   no-finalize R    rank R exits 0 without finalize; others wait in fence
 *   die R SIG        rank R raises SIG after init; others wait in fence
 *   info             print rank/size/local/protocol and exit 0
 *   garbage          first write malformed lines straight to PMI_FD (the
 *                    launcher must answer cmd=error and keep serving),
 *                    then do the kvs exchange
 * PMI_PROG_VALLEN=N (40..1024) sets the length of the exchanged values.
 * Ranks that are expected to be killed sleep with their argv as marker.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootstrap/pmi.h"

static rdmx_pmi_t *pmi;
static rdmx_pmi_info_t info;

static void fail(const char *what, rdmx_status_t st)
{
    fprintf(stderr, "pmi_prog rank %d: %s failed (status %d)\n", info.rank,
            what, (int)st);
    exit(50);
}

static void check(rdmx_status_t st, const char *what)
{
    if (st != RDMX_OK)
        fail(what, st);
}

/* Value length: 1024 exercises the contract's limit; PMI-1 through Slurm
 * only carries ~900 (its lines are 1024 bytes), so tests may lower it. */
static int vallen = RDMX_PMI_VALUE_MAX;

static void exchange(int round)
{
    char key[64], val[RDMX_PMI_VALUE_MAX + 1], want[RDMX_PMI_VALUE_MAX + 1];

    snprintf(key, sizeof(key), "k%d-%d", round, info.rank);
    memset(val, 'a' + info.rank % 26, (size_t)vallen);
    val[vallen] = '\0';
    snprintf(val, 32, "r%d-round%d-", info.rank, round);
    val[strlen(val)] = 'x';
    check(rdmx_pmi_put(pmi, key, val), "put");
    check(rdmx_pmi_fence(pmi), "fence");
    for (int r = 0; r < info.size; r++) {
        snprintf(key, sizeof(key), "k%d-%d", round, r);
        memset(want, 'a' + r % 26, (size_t)vallen);
        want[vallen] = '\0';
        snprintf(want, 32, "r%d-round%d-", r, round);
        want[strlen(want)] = 'x';
        check(rdmx_pmi_get(pmi, r, key, val, sizeof(val)), "get");
        if (strcmp(val, want) != 0) {
            fprintf(stderr,
                    "rank %d: key %s: expected \"%.40s...\", got "
                    "\"%.40s...\"\n",
                    info.rank, key, want, val);
            exit(51);
        }
    }
    if (rdmx_pmi_get(pmi, 0, "no-such-key", val, sizeof(val)) !=
        RDMX_ERR_NOT_FOUND) {
        fprintf(stderr,
                "rank %d: get of a missing key did not say "
                "NOT_FOUND\n",
                info.rank);
        exit(52);
    }
}

static void wait_forever(void)
{
    /* Block in a fence that can never complete, or sleep if PMI broke. */
    rdmx_pmi_fence(pmi);
    for (;;)
        pause();
}

/* Malformed input from a real rank: no '=', overlong, unknown command,
 * embedded NUL. Each gets one "cmd=error" line back. */
static void send_garbage(int fd)
{
    static char big[5000];
    char c;
    int lines = 0;

    memset(big, 'x', sizeof(big));
    big[sizeof(big) - 1] = '\n';
    if (write(fd, "garbage without equals\n", 23) != 23 ||
        write(fd, big, sizeof(big)) != (ssize_t)sizeof(big) ||
        write(fd, "cmd=frobnicate\n", 15) != 15 ||
        write(fd, "cmd=put key=a\0b value=c\n", 24) != 24) {
        perror("pmi_prog: write to PMI_FD");
        exit(53);
    }
    while (lines < 4 && read(fd, &c, 1) == 1)
        lines += c == '\n';
    if (lines != 4) {
        fprintf(stderr, "pmi_prog: expected 4 error replies\n");
        exit(54);
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "kvs";
    int a1 = argc > 2 ? atoi(argv[2]) : 0;
    int a2 = argc > 3 ? atoi(argv[3]) : 0;

    if (getenv("PMI_PROG_VALLEN")) {
        vallen = atoi(getenv("PMI_PROG_VALLEN"));
        if (vallen < 40 || vallen > RDMX_PMI_VALUE_MAX)
            vallen = RDMX_PMI_VALUE_MAX;
    }
    if (strcmp(mode, "garbage") == 0 && getenv("PMI_FD"))
        send_garbage(atoi(getenv("PMI_FD")));
    check(rdmx_pmi_init(&pmi, &info), "init");
    if (strcmp(mode, "info") == 0) {
        printf("rank %d size %d local %d/%d protocol %s kvs %s\n", info.rank,
               info.size, info.local_rank, info.local_size, info.protocol,
               info.kvsname);
    } else if (strcmp(mode, "kvs") == 0 || strcmp(mode, "garbage") == 0) {
        exchange(0);
        check(rdmx_pmi_fence(pmi), "fence");
        printf("rank %d of %d: kvs ok\n", info.rank, info.size);
    } else if (strcmp(mode, "fence") == 0) {
        for (int i = 0; i < a1; i++)
            exchange(i);
        printf("rank %d of %d: %d rounds ok\n", info.rank, info.size, a1);
    } else if (strcmp(mode, "abort") == 0) {
        check(rdmx_pmi_fence(pmi), "fence");
        if (info.rank == a1) {
            rdmx_pmi_abort(pmi, a2, "pmi_prog test abort");
            for (;;)
                pause();
        }
        wait_forever();
    } else if (strcmp(mode, "late-abort") == 0) {
        if (info.rank == 0) {
            /* The others finalize and exit first. */
            sleep(1);
            rdmx_pmi_abort(pmi, 9, "late abort");
            for (;;)
                pause();
        }
    } else if (strcmp(mode, "exit-after-fin") == 0) {
        check(rdmx_pmi_finalize(pmi), "finalize");
        return info.rank == a1 ? a2 : 0;
    } else if (strcmp(mode, "no-finalize") == 0) {
        if (info.rank == a1)
            _exit(0);
        wait_forever();
    } else if (strcmp(mode, "die") == 0) {
        if (info.rank == a1) {
            signal(a2, SIG_DFL);
            raise(a2);
        }
        wait_forever();
    } else {
        fprintf(stderr, "pmi_prog: unknown mode %s\n", mode);
        return 2;
    }
    check(rdmx_pmi_finalize(pmi), "finalize");
    return 0;
}
