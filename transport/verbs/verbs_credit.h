/*
 * verbs_credit.h — eager flow control towards one peer. Pure code.
 *
 * Receive buffers live on one shared receive queue (SRQ). When a connection
 * is made, the receiver posts `initial + RDMX_VERBS_CREDIT_RESERVE` more
 * buffers and grants the peer `initial` credits: one credit = one eager
 * message the peer may have in flight. Every MSG frame costs the sender one
 * credit. The receiver counts the buffers it re-posts after handling a
 * peer's MSG frames and returns them: piggybacked on its next frame to that
 * peer, or in an explicit CREDIT frame once half the grant is owed and
 * nothing else is going that way.
 *
 * CREDIT frames cost no credit, so they need their own buffers: a receiver
 * sends one only after consuming >= initial/2 MSG frames, and the peer can
 * send no more than `initial` MSG frames without handling the CREDIT
 * frames already sent to it; so at most 2 CREDIT frames (+1 in transit) are
 * unhandled at any time, plus the RTU (an empty CREDIT frame that ends the
 * connection handshake, see verbs_conn.c): RDMX_VERBS_CREDIT_RESERVE = 5
 * buffers per connection cover them. RNR retry is infinite on top, as a
 * safety net.
 */
#ifndef RDMX_VERBS_CREDIT_H
#define RDMX_VERBS_CREDIT_H

#include <stdint.h>

#define RDMX_VERBS_CREDIT_RESERVE 5

typedef struct rdmx_verbs_credit {
    uint32_t avail;   /* MSG frames we may still send to the peer */
    uint32_t owed;    /* buffers re-posted for the peer, not yet returned */
    uint32_t initial; /* the grant both ways (the peer's grant to us) */
} rdmx_verbs_credit_t;

void rdmx_verbs_credit_init(rdmx_verbs_credit_t *c, uint32_t grant_to_us);
/* 1 and consumes a credit if a MSG frame may be sent now. */
int rdmx_verbs_credit_take(rdmx_verbs_credit_t *c);
/* The peer returned n credits; -1 if that exceeds its grant (protocol
 * error), else 0. */
int rdmx_verbs_credit_returned(rdmx_verbs_credit_t *c, uint32_t n);
/* We consumed (and re-posted) one buffer of the peer's MSG frame. */
void rdmx_verbs_credit_consumed(rdmx_verbs_credit_t *c);
/* Credits to piggyback on the frame being sent now (resets owed). */
uint16_t rdmx_verbs_credit_piggyback(rdmx_verbs_credit_t *c);
/* 1 if an explicit CREDIT frame should be sent now. `grant_to_peer` is the
 * grant we gave the peer. */
int rdmx_verbs_credit_need_update(const rdmx_verbs_credit_t *c,
                                  uint32_t grant_to_peer);

#endif
