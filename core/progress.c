/*
 * progress.c — the progress engine and blocking waits.
 *
 * A waiting rank polls its transports for a bounded time (RDMX_WAIT_SPIN_US,
 * short when the host is oversubscribed), then arms every transport's
 * notification and sleeps in epoll on their file descriptors, so ranks that
 * share cores hand the CPU to each other instead of spinning. Sleeps are
 * bounded (a lost wake-up costs a few milliseconds, never a hang).
 */
#include <sched.h>
#include <sys/epoll.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "request_impl.h"
#include "runtime.h"

RDMX_CONFIG_VAR("RDMX_WAIT_SPIN_US", NULL,
                "microseconds a blocking call polls before it sleeps "
                "(default 1000, or 0 when ranks outnumber cores)");
RDMX_CONFIG_VAR("RDMX_WAIT_YIELD_US", NULL,
                "microseconds a blocking call keeps polling with sched_yield "
                "after the spin, before it sleeps (default 0, or 500 when "
                "ranks outnumber cores)");
RDMX_CONFIG_VAR("RDMX_WAIT_SLEEP_MS", "20",
                "longest single sleep of a waiting rank (it re-polls after)");

/* While spinning, a fruitless wait gives the core away this often. */
#define RDMX_SPIN_YIELD_NS 50000L

static long spin_ns = -1;
static long yield_ns = 0;
static int sleep_ms = 20;

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

void rdmx_progress_configure(int oversubscribed)
{
    const char *s = rdmx_config_str("RDMX_WAIT_SPIN_US");
    /* A rank with a core of its own loses nothing by polling a while
     * longer: a sleep costs a wake-up through the scheduler, which on a busy
     * host is hundreds of microseconds. Ranks sharing cores sleep almost at
     * once so the rank they wait for can run: with 8 ranks on 2 cores a
     * barrier took 77 us after a 2 us spin, 68 us without. */
    long us = oversubscribed ? 0 : 1000;
    if (s)
        us = rdmx_config_long("RDMX_WAIT_SPIN_US");
    spin_ns = us * 1000;
    /* Ranks sharing cores hand the CPU over with sched_yield first: the
     * rank they wait for is usually runnable, and a yield reaches it
     * without the cost of a sleep and a wake-up through a socket. */
    long yus = oversubscribed ? 500 : 0;
    if (rdmx_config_str("RDMX_WAIT_YIELD_US"))
        yus = rdmx_config_long("RDMX_WAIT_YIELD_US");
    yield_ns = yus * 1000;
    sleep_ms = (int)rdmx_config_long("RDMX_WAIT_SLEEP_MS");
    if (sleep_ms < 1)
        sleep_ms = 1;
}

/* Transports that serve no peer of this rank (tcp on a single host, say)
 * are still polled now and then, for connections and stray traffic. By
 * time, not by pass count: their progress is a system call, which under
 * some hypervisors costs tens of microseconds, and a pass count turned that
 * into a stall every 128 messages of a ping-pong. */
#define RDMX_IDLE_POLL_EVERY 256
#define RDMX_IDLE_POLL_NS 1000000L

int rdmx_progress(void)
{
    static unsigned pass;
    static long last_idle_poll;
    int events = 0;
    rdmx_runtime_t *rt = &rdmx_rt;
    int poll_idle = rt->nactive == 0;
    if ((++pass % RDMX_IDLE_POLL_EVERY) == 0 && !poll_idle) {
        long t = now_ns();
        if (t - last_idle_poll >= RDMX_IDLE_POLL_NS) {
            last_idle_poll = t;
            poll_idle = 1;
        }
    }
    if (poll_idle) {
        for (int i = 0; i < rt->ntransports; i++)
            events += rt->transports[i]->ops->progress(rt->transports[i]);
    } else {
        for (int i = 0; i < rt->nactive; i++) {
            rdmx_transport_t *tp = rt->active[i];
            /* An indirect call per pass is a visible part of a 0.4 us
             * message: skip the transports that say they have nothing. */
            if ((tp->caps.flags & RDMX_TP_CAP_POLL_PENDING) && !tp->pending)
                continue;
            events += tp->ops->progress(tp);
        }
    }
    if (rdmx_request_generic_head)
        events += rdmx_request_poll_generic();
    return events;
}

/* Arm every transport; 1 if the rank may sleep now. */
static int arm_all(void)
{
    rdmx_runtime_t *rt = &rdmx_rt;
    for (int i = 0; i < rt->ntransports; i++) {
        rdmx_transport_t *tp = rt->transports[i];
        if (!(tp->caps.flags & RDMX_TP_CAP_WAIT_FD))
            return 0; /* cannot be woken: keep polling */
        if (tp->ops->arm && tp->ops->arm(tp) != RDMX_OK)
            return 0;
    }
    return 1;
}

rdmx_status_t rdmx_progress_wait(int (*cond)(void *arg), void *arg)
{
    if (spin_ns < 0)
        rdmx_progress_configure(0);
    /* The spin window starts at the first clock check (64 empty passes
     * in): most waits end before it, and a clock read on entry cost a
     * vDSO call per received message. */
    long start = 0, last_yield = 0;
    unsigned idle = 0;
    /* Without a spin window (ranks outnumber cores) the first empty pass
     * already hands the core over: the rank we wait for is usually queued
     * behind us. */
    int yield_at_once = spin_ns == 0 && yield_ns > 0;
    int yielding = yield_at_once;
    while (!cond(arg)) {
        if (rdmx_progress() > 0) {
            idle = 0;
            yielding = yield_at_once;
            start = 0; /* something moved: restart the spin window */
            continue;
        }
        if (cond(arg))
            break;
        idle++;
        if ((idle & 63) != 0) {
            /* In the yield phase every idle pass hands the core over, as
             * Open MPI's yield_when_idle does: a yield every 64 passes
             * left the rank we wait for queued for microseconds (8-byte
             * allreduce, 8 ranks on 2 cores: 100 us against 80). */
            if (yielding)
                sched_yield();
            continue;
        }
        long t = now_ns();
        if (start == 0)
            start = last_yield = t;
        if (t - start < spin_ns) {
            /* The rank we wait for may be queued behind us on this core
             * (unbound ranks, other jobs on the host): let it run now and
             * then rather than at the end of our time slice. Alone on the
             * core, the yield returns at once. */
            if (t - last_yield >= RDMX_SPIN_YIELD_NS) {
                sched_yield();
                last_yield = t;
            }
            continue;
        }
        if (t - start < spin_ns + yield_ns) {
            yielding = 1;
            sched_yield();
            continue;
        }
        yielding = 0;
        if (rdmx_rt.epfd < 0 || !arm_all()) {
            sched_yield();
            continue;
        }
        struct epoll_event ev[8];
        int n = epoll_wait(rdmx_rt.epfd, ev, 8, sleep_ms);
        (void)n; /* whatever woke us, the next progress pass handles it */
        start = 0;
        idle = 0;
        yielding = yield_at_once;
    }
    return RDMX_OK;
}
