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
 *   K 0 0 secret(64 hex)   J 0 0 job id   P 0 0 PMI_PORT host:port
 *   N size 0               T tag_output report_bindings
 *   W 0 0 wdir             A 0 0 argument (repeated: program, args)
 *   V 0 0 VAR=value (repeated)   B 0 0 "BIND MAP" (placement options)
 *   Q stdin_rank 0 (-1: none)
 *   R global_rank 0 (repeated, in local-rank order)   G 0 0 (start)
 * then at any time: I rank 0 stdin bytes; i rank 0 (stdin closed);
 *   Z signal 0 (signal every rank's process group).
 * proxy -> mpirun:
 *   H 0 0 hostname   S rank pid   O rank stream(1|2) output lines
 *   X rank wait_status (rank ended)   E 0 0 message for the user
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

void rdmx_frame_reader_init(rdmx_frame_reader_t *r);
void rdmx_frame_reader_free(rdmx_frame_reader_t *r);
/* Read available bytes from fd: 1 ok, 0 EOF, -1 error. */
int rdmx_frame_reader_fill(rdmx_frame_reader_t *r, int fd);
/* Feed bytes (for tests). */
int rdmx_frame_reader_feed(rdmx_frame_reader_t *r, const void *p, size_t n);
/* 1: a frame; 0: need more bytes; -1: malformed stream (give up). */
int rdmx_frame_next(rdmx_frame_reader_t *r, rdmx_frame_t *f);

#endif
