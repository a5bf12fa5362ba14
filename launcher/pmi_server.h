/*
 * pmi_server.h — the PMI-1 server inside mpirun (and, later, rdmx-proxy).
 *
 * Owns one key-value space for the job, the barrier and one connection per
 * rank. Connections are either pre-bound to a rank (PMI_FD socketpairs) or
 * accepted on the PMI_PORT listening socket, in which case the peer must
 * first prove the job secret (handshake in core/bootstrap/pmi_wire.h and
 * pmi_auth.h) and thereby names its rank.
 *
 * The server does no polling itself: the caller's event loop reports
 * readable/writable connections and is told through callbacks when a
 * connection wants write interest and when a rank inits, finalizes or
 * aborts. Malformed input is answered with `cmd=error rc=-1 msg=...` and a
 * message naming the rank; it never ends the job by itself.
 */
#ifndef RDMX_PMI_SERVER_H
#define RDMX_PMI_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "bootstrap/pmi_wire.h"
#include "status.h"

typedef struct rdmx_pmisrv rdmx_pmisrv_t;

typedef struct rdmx_pmisrv_ops {
    /* Start/stop watching conn's fd for writability. */
    void (*want_write)(void *arg, int conn, int fd, int on);
    /* A TCP connection authenticated as `rank`. */
    void (*bound)(void *arg, int conn, int rank);
    void (*finalized)(void *arg, int rank);
    /* cmd=abort: `msg` may be empty, never NULL. */
    void (*aborted)(void *arg, int rank, int code, const char *msg);
    /* Optional. A rank sent cmd=init. */
    void (*inited)(void *arg, int rank);
    /* Optional. A put was stored (not called for rdmx_pmisrv_put). */
    void (*put)(void *arg, int rank, const char *key, const char *value);
    /* Optional. Every rank entered the barrier; barrier_out was sent to
     * every rank connected here. */
    void (*barrier_done)(void *arg);
    /* Relay mode only: every local rank entered the barrier; the caller
     * forwards that and later calls rdmx_pmisrv_barrier_release. */
    void (*barrier_local)(void *arg);
} rdmx_pmisrv_ops_t;

rdmx_status_t rdmx_pmisrv_create(rdmx_pmisrv_t **srv, int size,
                                 const char *kvsname, const uint8_t *secret,
                                 size_t secret_len,
                                 const rdmx_pmisrv_ops_t *ops, void *arg);
void rdmx_pmisrv_destroy(rdmx_pmisrv_t *srv);

/* Relay mode (rdmx-proxy): the server serves `nlocal` ranks of a larger
 * job from a cached key-value space; its barrier completes locally when
 * those ranks entered it (ops.barrier_local), and barrier_out is sent only
 * by rdmx_pmisrv_barrier_release, once the job-wide barrier is done. */
void rdmx_pmisrv_set_relay(rdmx_pmisrv_t *srv, int nlocal);
void rdmx_pmisrv_barrier_release(rdmx_pmisrv_t *srv);
/* `rank` is served elsewhere (by a proxy) and entered the barrier. */
void rdmx_pmisrv_barrier_enter(rdmx_pmisrv_t *srv, int rank);
/* Record state reported by a proxy for a rank served elsewhere. */
void rdmx_pmisrv_mark_inited(rdmx_pmisrv_t *srv, int rank);
void rdmx_pmisrv_mark_finalized(rdmx_pmisrv_t *srv, int rank);

/* Pre-seed a key (e.g. PMI_process_mapping, or keys relayed from
 * mpirun); does not call ops.put. */
rdmx_status_t rdmx_pmisrv_put(rdmx_pmisrv_t *srv, const char *key,
                              const char *value);

/* Register a connected fd (made non-blocking here). rank >= 0: bound
 * (PMI_FD); rank < 0: must authenticate first, a challenge is queued.
 * Returns a connection id >= 0, or -1. The server owns and closes fd. */
int rdmx_pmisrv_add_conn(rdmx_pmisrv_t *srv, int fd, int rank);
/* Read what is available and handle complete lines. Returns 0, or -1 when
 * the connection is gone (EOF, error, failed authentication): the caller
 * must stop polling its fd; the server has closed it. */
int rdmx_pmisrv_readable(rdmx_pmisrv_t *srv, int conn);
int rdmx_pmisrv_writable(rdmx_pmisrv_t *srv, int conn);
/* Handle one line as if read from `conn` (exposed for tests). */
void rdmx_pmisrv_handle_line(rdmx_pmisrv_t *srv, int conn, const char *line,
                             size_t len);
/* Close connections that have not authenticated by `now_ms` - timeout. */
void rdmx_pmisrv_expire(rdmx_pmisrv_t *srv, uint64_t now_ms,
                        uint64_t timeout_ms);
int rdmx_pmisrv_conn_fd(const rdmx_pmisrv_t *srv, int conn);
int rdmx_pmisrv_rank_inited(const rdmx_pmisrv_t *srv, int rank);
int rdmx_pmisrv_rank_finalized(const rdmx_pmisrv_t *srv, int rank);
/* Close the connection of `rank` (it exited). */
void rdmx_pmisrv_drop_rank(rdmx_pmisrv_t *srv, int rank);

uint64_t rdmx_pmisrv_now_ms(void);

#endif
