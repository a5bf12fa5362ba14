/*
 * pmi_wire.h — framing and parsing of the PMI-1 text protocol (MPICH's
 * "simple PMI", also spoken by Hydra and by rdmx's mpirun).
 *
 * A message is one line of at most RDMX_PMI_LINE_MAX bytes ending in '\n':
 *
 *     cmd=<name> key1=value1 key2=value2 ...\n
 *
 * Tokens are separated by one or more spaces; the first token must be
 * `cmd=` (or `mcmd=`, MPICH's multi-line spawn form, which rdmx only
 * recognises in order to reject it). A key is [A-Za-z0-9_.-]+; a value is
 * everything after the first '=' up to the next space and may be empty.
 * Embedded NUL bytes and control characters are rejected. Both the client
 * (core/bootstrap/pmi1.c) and the server (launcher/pmi_server.c) use this
 * one parser so that they agree on what is well formed.
 *
 * Commands used by rdmx (request -> reply):
 *   cmd=init pmi_version=1 pmi_subversion=1
 *       -> cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0
 *   cmd=get_maxes -> cmd=maxes kvsname_max=256 keylen_max=64 vallen_max=1024
 * rc=0 cmd=get_appnum -> cmd=appnum appnum=0 rc=0 cmd=get_universe_size ->
 * cmd=universe_size size=N rc=0 cmd=get_my_kvsname -> cmd=my_kvsname
 * kvsname=NAME rc=0 cmd=put kvsname=K key=X value=V -> cmd=put_result rc=0
 * msg=success cmd=get kvsname=K key=X -> cmd=get_result rc=0 msg=success
 * value=V |  cmd=get_result rc=-1 msg=key_X_not_found cmd=barrier_in -> (once
 * every rank is in) cmd=barrier_out rc=0 cmd=finalize -> cmd=finalize_ack rc=0
 *   cmd=abort exitcode=N [message=free text to the end of the line]
 * and, on a PMI_PORT connection to rdmx's mpirun, before anything else
 * (see pmi_auth.h):
 *   server: cmd=auth_challenge nonce=HEX32
 *   client: cmd=auth_response rank=R nonce=HEX32 mac=HEX64
 *   server: cmd=auth_result rc=0 mac=HEX64   (or rc=-1 msg=... and close)
 */
#ifndef RDMX_PMI_WIRE_H
#define RDMX_PMI_WIRE_H

#include <stddef.h>

#include "../status.h"

/* Longest line, newline excluded: room for a 1024-byte value, a 64-byte
 * key and a 256-byte kvs name with the keywords around them. */
#define RDMX_PMI_LINE_MAX 2048
#define RDMX_PMI_MAX_PAIRS 16

typedef struct rdmx_pmi_pair {
    const char *key;
    const char *value;
} rdmx_pmi_pair_t;

/* A parsed line. Keys and values point into `buf`, a private copy. */
typedef struct rdmx_pmi_msg {
    char buf[RDMX_PMI_LINE_MAX + 1];
    const char *cmd; /* value of the leading cmd= (or mcmd=) */
    int multi;       /* 1 if the line started with mcmd= */
    int npairs;      /* including the leading cmd= */
    rdmx_pmi_pair_t pairs[RDMX_PMI_MAX_PAIRS];
} rdmx_pmi_msg_t;

/* Parse `len` bytes of `line` (no trailing '\n'; a trailing '\r' is
 * tolerated). Pure: no I/O, no logging. On failure returns RDMX_ERR_PROTO
 * and sets *why (if non-NULL) to a static English reason. */
rdmx_status_t rdmx_pmi_wire_parse(const char *line, size_t len,
                                  rdmx_pmi_msg_t *msg, const char **why);

/*
 * PMI2 wire format (Slurm's mpi/pmi2 plugin, MPICH's PMI2 client): after a
 * PMI-1 style "cmd=init pmi_version=2 pmi_subversion=0\n" exchange, every
 * message is a 6-character decimal length, left-aligned and space padded,
 * followed by that many bytes of "cmd=NAME;key=value;...;" (a literal ';'
 * inside a value is written ";;").
 *
 *     +--------+------------------------------------------+
 *     |"42    "|cmd=kvs-put;key=rdmx.addr.3;value=0a0b0c;|
 *     +--------+------------------------------------------+
 *
 * Parse such a body (without the length field) into `msg`.
 */
rdmx_status_t rdmx_pmi2_wire_parse(const char *body, size_t len,
                                   rdmx_pmi_msg_t *msg, const char **why);
/* Parse the 6-byte length field: 0 on success with *len <= max. */
int rdmx_pmi2_wire_len(const char hdr[6], size_t max, size_t *len);

/* Value of `key` in `msg`, NULL if absent. */
const char *rdmx_pmi_msg_get(const rdmx_pmi_msg_t *msg, const char *key);

/* Integer value of `key`: 0 on success, -1 if absent or not a decimal
 * integer within [min, max]. */
int rdmx_pmi_msg_get_long(const rdmx_pmi_msg_t *msg, const char *key, long min,
                          long max, long *out);

/* Free text following " key=" in a raw line up to its end (used for the
 * message of cmd=abort, which may contain spaces). NULL if absent. */
const char *rdmx_pmi_wire_rest(const char *line, const char *key);

/* 1 if `s` can be sent as a key or value: shorter than `max` bytes (so it
 * fits a buffer of `max` with its NUL), printable,
 * no space, '=' or newline; keys must also be non-empty (`nonempty`). */
int rdmx_pmi_wire_token_ok(const char *s, size_t max, int nonempty);

/*
 * Line framing over a stream. Usage:
 *     rdmx_pmi_linebuf_space(&lb, &p, &room);  n = read(fd, p, room);
 *     rdmx_pmi_linebuf_commit(&lb, n);
 *     while ((r = rdmx_pmi_linebuf_next(&lb, &line, &len)) != 0) ...
 * next() returns 1 with a line (valid until the next call on `lb`), 0 when
 * more bytes are needed, or -1 once for each line longer than
 * RDMX_PMI_LINE_MAX, whose bytes are then skipped up to its newline.
 */
typedef struct rdmx_pmi_linebuf {
    char data[RDMX_PMI_LINE_MAX + 1];
    size_t start, len; /* unread bytes are data[start, start+len) */
    int discarding;    /* inside an overlong line */
} rdmx_pmi_linebuf_t;

void rdmx_pmi_linebuf_init(rdmx_pmi_linebuf_t *lb);
void rdmx_pmi_linebuf_space(rdmx_pmi_linebuf_t *lb, char **p, size_t *room);
void rdmx_pmi_linebuf_commit(rdmx_pmi_linebuf_t *lb, size_t n);
int rdmx_pmi_linebuf_next(rdmx_pmi_linebuf_t *lb, const char **line,
                          size_t *len);

#endif
