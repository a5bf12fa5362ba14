/*
 * proxy_proto.h — framing between mpirun and rdmx-proxy.
 *
 * mpirun starts one rdmx-proxy per remote host through the launch agent
 * ("ssh HOST rdmx-proxy") and talks to it over the agent's stdin/stdout.
 * Both directions carry frames:
 *
 *     +-----+---+-----+---+-----+---+-----+----+------------------+
 *     | T   |' '|  a  |' '|  b  |' '| len |'\n'| len payload bytes|
 *     +-----+---+-----+---+-----+---+-----+----+------------------+
 *     T: one letter; a, b: decimal ints; len: decimal, <= 1 MiB;
 *     the header line is at most 64 bytes.
 *
 * mpirun -> proxy (in this order; the secret never appears on a command
 * line):
 *   K 0 0 secret(64 hex)   J 0 0 job id
 *   D 0 0 key-value lines (pre-seeded PMI keys, e.g. PMI_process_mapping)
 *   N size 0               T tag_output report_bindings
 *   W 0 0 wdir             A 0 0 argument (repeated: program, args)
 *   V 0 0 VAR=value (repeated)   B 0 0 "BIND MAP" (placement options)
 *   Q stdin_rank 0 (-1: none)
 *   R global_rank 0 (repeated, in local-rank order)   G 0 0 (start)
 * then at any time: I rank 0 stdin bytes; i rank 0 (stdin closed);
 *   Z signal 0 (signal every rank's process group);
 *   D 0 0 key-value lines put by any rank of the job since the last
 *   barrier, then F 0 0: the job-wide PMI barrier is complete.
 * proxy -> mpirun:
 *   H 0 0 hostname   S rank pid   O rank stream(1|2) output lines
 *   X rank wait_status (rank ended)   E 0 0 message for the user
 *   Y rank 1 (PMI init) / Y rank 2 (PMI finalize)
 *   a rank exitcode message (PMI abort)
 *   D 0 0 key-value lines put by this host's ranks, then F 0 0: every
 *   rank of this host entered the PMI barrier.
 *
 * PMI relay: ranks talk PMI-1 to their host's proxy over PMI_FD
 * socketpairs; the proxy answers init/get/... from its cached copy of the
 * key-value space and forwards only puts (batched per barrier), barrier
 * entry, init/finalize and aborts over its one connection to mpirun.
 * Key-value lines are "key=value\n" (key and value are PMI tokens, see
 * rdmx_pmi_wire_token_ok: no spaces, '=' or control characters; checked
 * again on receipt); a batch larger than a frame is split at line ends.
 * End of file on the proxy's stdin means mpirun is gone: the proxy kills
 * its ranks (SIGTERM, SIGKILL 0.5 s later) and exits.
 */
#ifndef RDMX_PROXY_PROTO_H
#define RDMX_PROXY_PROTO_H

#include <stddef.h>

#define RDMX_FRAME_MAX (1u << 20)

typedef struct rdmx_frame {
    char type;
    long a, b;
    const char *data; /* valid until the next call on the reader */
    size_t len;
} rdmx_frame_t;

typedef struct rdmx_frame_reader {
    char *buf;
    size_t start, len, cap;
} rdmx_frame_reader_t;

/* Write one frame (blocking). 0 or -1. */
int rdmx_frame_send(int fd, char type, long a, long b, const void *data,
                    size_t len);
int rdmx_frame_send_str(int fd, char type, long a, long b, const char *s);

/* Send `len` bytes of key-value lines as one or more `type` frames, each
 * split at a line end. 0 or -1. */
int rdmx_frame_send_lines(int fd, char type, const char *buf, size_t len);
/* Validate and hand over every "key=value" line of `data`. Returns the
 * number of lines, or -1 at the first malformed line (nothing after it
 * is applied). */
int rdmx_kv_lines_parse(const char *data, size_t len,
                        void (*fn)(void *arg, const char *key,
                                   const char *value),
                        void *arg);
/* Append "key=value\n" to a growing buffer. 0 or -1 (no memory). */
int rdmx_kv_lines_append(char **buf, size_t *len, size_t *cap, const char *key,
                         const char *value);

void rdmx_frame_reader_init(rdmx_frame_reader_t *r);
void rdmx_frame_reader_free(rdmx_frame_reader_t *r);
/* Read available bytes from fd: 1 ok, 0 EOF, -1 error. */
int rdmx_frame_reader_fill(rdmx_frame_reader_t *r, int fd);
/* Feed bytes (for tests). */
int rdmx_frame_reader_feed(rdmx_frame_reader_t *r, const void *p, size_t n);
/* 1: a frame; 0: need more bytes; -1: malformed stream (give up). */
int rdmx_frame_next(rdmx_frame_reader_t *r, rdmx_frame_t *f);

#endif
