/*
 * launch_util.h — small helpers shared by mpirun and rdmx-proxy: the one
 * place user-facing launcher messages are printed, and fd utilities.
 */
#ifndef RDMX_LAUNCH_UTIL_H
#define RDMX_LAUNCH_UTIL_H

#include <stddef.h>

/* Program name printed before every message ("mpirun"). */
extern const char *rdmx_launch_progname;
extern int rdmx_launch_verbose;

/* "mpirun: <message>\n" on stderr, written with one write(2) so messages
 * from several launcher processes do not interleave. */
void rdmx_launch_msg(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* Same, only when --verbose was given. */
void rdmx_launch_debug(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Copy at most `max` bytes of `in` (length `len`) into `out` (size >= 4*max+1)
 * with non-printable bytes shown as \xNN, for quoting untrusted input. */
void rdmx_launch_quote(const char *in, size_t len, char *out, size_t max);

int rdmx_launch_set_nonblock(int fd);
int rdmx_launch_set_cloexec(int fd, int on);
/* write() the whole buffer, retrying on EINTR/EAGAIN (polls). 0 or -1. */
int rdmx_launch_write_all(int fd, const void *buf, size_t len);

#endif
