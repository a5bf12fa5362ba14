/*
 * copy_small.h — inline copy for the few bytes of a latency-bound message.
 *
 * A 1-byte MPI message is copied twice (into the shm ring, out of it). A
 * libc memcpy call of unknown length goes through the PLT and the ifunc-
 * selected routine: about 30 instructions for one byte, which callgrind
 * showed as a visible part of a 0.38 us ping-pong. Up to 64 bytes, two
 * possibly overlapping fixed-size moves do it in a handful of instructions;
 * anything larger goes to memcpy, which is faster there.
 */
#ifndef RDMX_COPY_SMALL_H
#define RDMX_COPY_SMALL_H

#include <stddef.h>
#include <string.h>

static inline void rdmx_copy_small(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    if (n > 64) {
        memcpy(d, s, n);
    } else if (n >= 16) {
        /* Fixed-size memcpy calls compile to plain moves. */
        if (n > 32) {
            unsigned char a[32], b[32];
            memcpy(a, s, 32);
            memcpy(b, s + n - 32, 32);
            memcpy(d, a, 32);
            memcpy(d + n - 32, b, 32);
        } else {
            unsigned char a[16], b[16];
            memcpy(a, s, 16);
            memcpy(b, s + n - 16, 16);
            memcpy(d, a, 16);
            memcpy(d + n - 16, b, 16);
        }
    } else if (n >= 8) {
        unsigned long long a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        unsigned a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n > 0) {
        /* 1..3 bytes: first, middle and last (they overlap for n < 3). */
        unsigned char a = s[0], b = s[n / 2], c = s[n - 1];
        d[0] = a;
        d[n / 2] = b;
        d[n - 1] = c;
    }
}

#endif
