/*
 * verbs_credit.c — eager credit accounting (policy in verbs_credit.h).
 */
#include "verbs_credit.h"

void rdmx_verbs_credit_init(rdmx_verbs_credit_t *c, uint32_t grant_to_us)
{
    c->avail = grant_to_us;
    c->initial = grant_to_us;
    c->owed = 0;
}

int rdmx_verbs_credit_take(rdmx_verbs_credit_t *c)
{
    if (c->avail == 0)
        return 0;
    c->avail--;
    return 1;
}

int rdmx_verbs_credit_returned(rdmx_verbs_credit_t *c, uint32_t n)
{
    if (n > c->initial || c->avail + n > c->initial)
        return -1;
    c->avail += n;
    return 0;
}

void rdmx_verbs_credit_consumed(rdmx_verbs_credit_t *c)
{
    c->owed++;
}

uint16_t rdmx_verbs_credit_piggyback(rdmx_verbs_credit_t *c)
{
    uint32_t n = c->owed > 0xffff ? 0xffff : c->owed;
    c->owed -= n;
    return (uint16_t)n;
}

int rdmx_verbs_credit_need_update(const rdmx_verbs_credit_t *c,
                                  uint32_t grant_to_peer)
{
    uint32_t half = grant_to_peer / 2 ? grant_to_peer / 2 : 1;
    return c->owed >= half;
}
