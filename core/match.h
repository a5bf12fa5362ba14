/*
 * match.h — the matching engine: posted receives and unexpected messages.
 *
 * MPI matches a message (context, source, tag) to the earliest posted
 * receive whose (source, tag) equal the message's or are wildcards, and a
 * receive to the earliest-arrived matching message. Doing that with one list
 * costs a linear scan per message once thousands are queued. Here:
 *
 *  - every fully specified key (context, source, tag) has its own FIFO,
 *    found through a hash table: a specific receive and a message looking
 *    for a specific receive touch one FIFO head — O(1);
 *  - receives with a wildcard wait in one FIFO of their own; an arriving
 *    message compares the head of its key's FIFO with the first matching
 *    wildcard receive and takes whichever was posted first (a global post
 *    sequence number decides), so ordering stays exact;
 *  - unexpected messages are also threaded on one arrival-ordered list, which
 *    only wildcard receives and probes walk.
 *
 * Entries are embedded in the owner's object (request or unexpected message)
 * and never allocated here; only per-key FIFOs are, and they are recycled.
 */
#ifndef RDMX_MATCH_H
#define RDMX_MATCH_H

#include <stddef.h>
#include <stdint.h>

#define RDMX_MATCH_ANY (-1)

typedef struct rdmx_match_entry rdmx_match_entry_t;
typedef struct rdmx_match_fifo rdmx_match_fifo_t;

struct rdmx_match_entry {
    uint32_t ctx;
    int32_t src; /* RDMX_MATCH_ANY allowed for receives */
    int32_t tag; /* RDMX_MATCH_ANY allowed for receives */
    uint64_t seq;
    /* key FIFO (or wildcard FIFO) links */
    rdmx_match_entry_t *next, *prev;
    rdmx_match_fifo_t *fifo; /* NULL while not queued */
    /* arrival-ordered list links (unexpected only) */
    rdmx_match_entry_t *anext, *aprev;
};

struct rdmx_match_fifo {
    uint32_t ctx;
    int32_t src, tag;
    rdmx_match_entry_t *head, *tail;
    rdmx_match_fifo_t *hnext; /* hash chain */
};

typedef struct rdmx_match_table {
    rdmx_match_fifo_t **buckets;
    size_t nbuckets; /* power of two */
    size_t nfifos;
    /* The FIFO found last: a ping-pong uses one key over and over, and a
     * look at it first skips the hash. Cleared when that FIFO is released. */
    rdmx_match_fifo_t *last;
    /* One empty FIFO stays in the table instead of being released at once,
     * so that a key used again right away (every blocking receive of a
     * loop) needs neither a release nor an insertion. */
    rdmx_match_fifo_t *parked;
} rdmx_match_table_t;

typedef struct rdmx_match_engine {
    rdmx_match_table_t posted;     /* specific receives by key */
    rdmx_match_fifo_t posted_wild; /* receives with a wildcard */
    rdmx_match_table_t unexpected; /* messages by key */
    rdmx_match_entry_t *arrival_head, *arrival_tail; /* all unexpected */
    rdmx_match_fifo_t *free_fifos;
    uint64_t next_seq;
    size_t nposted, nunexpected;
} rdmx_match_engine_t;

int rdmx_match_init(rdmx_match_engine_t *m);
void rdmx_match_fini(rdmx_match_engine_t *m);

/* Post receive `r` (ctx, src, tag set; wildcards allowed). If an unexpected
 * message matches, it is removed and returned and `r` is not queued;
 * otherwise `r` is queued and NULL returned. */
rdmx_match_entry_t *rdmx_match_post_recv(rdmx_match_engine_t *m,
                                         rdmx_match_entry_t *r);

/* A message `u` (specific ctx, src, tag) arrived. If a posted receive
 * matches, it is removed and returned and `u` is not queued; otherwise `u`
 * is queued as unexpected and NULL returned. */
rdmx_match_entry_t *rdmx_match_arrive(rdmx_match_engine_t *m,
                                      rdmx_match_entry_t *u);

/* The two halves of rdmx_match_arrive, for callers that want to avoid
 * building an unexpected record when a receive is waiting: remove and
 * return the receive that matches (ctx, src, tag), or NULL; queue `u` as
 * unexpected (0, or -1 when out of memory). */
rdmx_match_entry_t *rdmx_match_take_posted(rdmx_match_engine_t *m,
                                           uint32_t ctx, int32_t src,
                                           int32_t tag);
int rdmx_match_add_unexpected(rdmx_match_engine_t *m, rdmx_match_entry_t *u);

/* The earliest unexpected message matching (ctx, src, tag), not removed. */
rdmx_match_entry_t *rdmx_match_probe(rdmx_match_engine_t *m, uint32_t ctx,
                                     int32_t src, int32_t tag);
/* Remove an unexpected message found by probe (matched probe, MPI_Mprobe). */
void rdmx_match_remove_unexpected(rdmx_match_engine_t *m,
                                  rdmx_match_entry_t *u);
/* Remove a posted receive that has not matched (MPI_Cancel). Returns 1 if
 * it was still queued. */
int rdmx_match_cancel_recv(rdmx_match_engine_t *m, rdmx_match_entry_t *r);

#endif
