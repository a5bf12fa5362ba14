/*
 * iofwd.h — forwarding of a rank's stdout/stderr, line by line.
 *
 * Bytes read from a rank's pipe are held until a newline, then the complete
 * line (prefixed with "[rank] " under --tag-output) is written to mpirun's
 * own stdout/stderr in one write(2). Lines of different ranks therefore
 * never interleave. A line longer than RDMX_IOFWD_LINE_MAX is passed on in
 * pieces of that size (each piece tagged). At end of file an unterminated
 * last line is written as is, plus a newline when tagging.
 */
#ifndef RDMX_IOFWD_H
#define RDMX_IOFWD_H

#include <stddef.h>

#define RDMX_IOFWD_LINE_MAX 65536

typedef struct rdmx_iofwd {
    int fd;     /* read end of the rank's pipe, -1 at EOF */
    int out_fd; /* where lines go */
    int rank;
    int tag;
    char *buf;
    size_t len;
    /* When set, complete (tagged) lines go here instead of out_fd: the
     * proxy sends them to mpirun in frames. */
    void (*sink)(void *arg, int rank, int stream, const char *data, size_t len);
    void *sink_arg;
    int stream; /* 1 stdout, 2 stderr: for the sink */
} rdmx_iofwd_t;

void rdmx_iofwd_init(rdmx_iofwd_t *io, int fd, int out_fd, int rank, int tag);
/* Read what is available. Returns 0 while open, -1 once at EOF (the fd is
 * then closed and the remainder flushed). */
int rdmx_iofwd_readable(rdmx_iofwd_t *io);
/* Flush and close now (used when giving up on a pipe held open by a
 * grandchild). */
void rdmx_iofwd_close(rdmx_iofwd_t *io);
/* Format complete lines of `data` into `out` (pure; exposed for tests).
 * Returns bytes written to out; *consumed = bytes of data used. `out`
 * must hold len + (number of lines)*16 bytes. */
size_t rdmx_iofwd_format(const char *data, size_t len, int rank, int tag,
                         int final, char *out, size_t *consumed);

#endif
