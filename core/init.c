/*
 * init.c — bringing a rank up and down: PMI, host identity, the job secret,
 * transport selection and wire-up (see transport/transport.h for the
 * sequence), MPI_Init/MPI_Finalize/MPI_Abort.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "errors.h"
#include "log.h"
#include "request_impl.h"
#include "runtime.h"

RDMX_CONFIG_VAR("RDMX_TRANSPORTS", NULL,
                "comma-separated transports to use (self,shm,verbs,tcp); "
                "default: every usable one");
RDMX_CONFIG_VAR("RDMX_JOB_ID", NULL,
                "job identifier (set by the launcher; names shared segments)");
RDMX_CONFIG_VAR("RDMX_JOB_SECRET", NULL,
                "per-job secret, hex (set by the launcher, removed from the "
                "environment at MPI_Init)");

rdmx_runtime_t rdmx_rt = {.epfd = -1};

rdmx_status_t rdmx_comm_world_init(int rank, int size);
void rdmx_comm_world_fini(void);
void rdmx_progress_configure(int oversubscribed);
rdmx_status_t rdmx_internal_barrier(void);
void rdmx_coll_scratch_release_all(void); /* collectives/exec.c */
rdmx_status_t rdmx_coll_area_guard_drain(void); /* collectives/exec.c */

/* ---- key-value exchange ------------------------------------------------- */

rdmx_status_t rdmx_modex_put(rdmx_runtime_t *rt, const char *transport,
                             const void *data, size_t len)
{
    char key[RDMX_PMI_KEY_MAX], value[RDMX_PMI_VALUE_MAX];
    if (2 * len + 1 > sizeof(value))
        return RDMX_ERR_INVALID;
    snprintf(key, sizeof(key), "rdmx.%s.%d", transport, rt->rank);
    rdmx_hex_encode(data, len, value);
    return rdmx_pmi_put(rt->pmi, key, value);
}

rdmx_status_t rdmx_modex_get(rdmx_runtime_t *rt, int peer,
                             const char *transport, void *data, size_t cap,
                             size_t *len)
{
    char key[RDMX_PMI_KEY_MAX], value[RDMX_PMI_VALUE_MAX];
    snprintf(key, sizeof(key), "rdmx.%s.%d", transport, peer);
    rdmx_status_t st = rdmx_pmi_get(rt->pmi, peer, key, value, sizeof(value));
    if (st != RDMX_OK)
        return st;
    size_t n = strlen(value);
    if (n % 2 || n / 2 > cap)
        return RDMX_ERR_PROTO;
    if (rdmx_hex_decode(value, data, n / 2) != 0)
        return RDMX_ERR_PROTO;
    *len = n / 2;
    return RDMX_OK;
}

/* ---- host identity -------------------------------------------------------- */

static void read_host_id(rdmx_runtime_t *rt)
{
    if (gethostname(rt->hostname, sizeof(rt->hostname) - 1) != 0)
        snprintf(rt->hostname, sizeof(rt->hostname), "localhost");
    char boot[64] = "noboot";
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, boot, sizeof(boot) - 1);
        boot[n > 0 ? n : 0] = '\0';
        close(fd);
        boot[strcspn(boot, "\n")] = '\0';
    }
    /* Host name alone is not enough (containers share names); boot id
     * alone is not either (network namespaces on one kernel are separate
     * hosts to us). Both together identify a shared-memory domain. */
    snprintf(rt->host_id, sizeof(rt->host_id), "%s/%s", rt->hostname, boot);
}

static char **peer_host_ids;

int rdmx_rt_same_host(rdmx_runtime_t *rt, int peer)
{
    if (peer == rt->rank)
        return 1;
    if (!peer_host_ids || peer < 0 || peer >= rt->size || !peer_host_ids[peer])
        return 0;
    return strcmp(peer_host_ids[peer], rt->host_id) == 0;
}

static rdmx_status_t exchange_hosts(rdmx_runtime_t *rt)
{
    char key[RDMX_PMI_KEY_MAX], value[RDMX_PMI_VALUE_MAX];
    peer_host_ids = calloc((size_t)rt->size, sizeof(char *));
    rt->local_peers = calloc((size_t)rt->size, sizeof(int));
    if (!peer_host_ids || !rt->local_peers)
        return RDMX_ERR_NOMEM;
    rt->local_size = 0;
    for (int i = 0; i < rt->size; i++) {
        if (i == rt->rank) {
            peer_host_ids[i] = strdup(rt->host_id);
        } else {
            snprintf(key, sizeof(key), "rdmx.host.%d", i);
            rdmx_status_t st = rdmx_pmi_get(rt->pmi, i, key, value,
                                            sizeof(value));
            if (st != RDMX_OK) {
                RDMX_ERROR("no host identity from rank %d: %s", i,
                           rdmx_status_str(st));
                return st;
            }
            peer_host_ids[i] = strdup(value);
        }
        if (!peer_host_ids[i])
            return RDMX_ERR_NOMEM;
        if (strcmp(peer_host_ids[i], rt->host_id) == 0) {
            if (i == rt->rank)
                rt->local_rank = rt->local_size;
            rt->local_peers[rt->local_size++] = i;
        }
    }
    return RDMX_OK;
}

/* ---- the per-job secret --------------------------------------------------- */

static rdmx_status_t setup_secret(rdmx_runtime_t *rt, int *from_env)
{
    const char *hex = rdmx_config_str("RDMX_JOB_SECRET");
    *from_env = 0;
    if (hex) {
        if (strlen(hex) != 2 * RDMX_SECRET_LEN
            || rdmx_hex_decode(hex, rt->secret, RDMX_SECRET_LEN) != 0) {
            RDMX_ERROR("RDMX_JOB_SECRET is not %d hex digits",
                       2 * RDMX_SECRET_LEN);
            return RDMX_ERR_INVALID;
        }
        /* Programs the rank starts must not inherit it. */
        unsetenv("RDMX_JOB_SECRET");
        *from_env = 1;
        return RDMX_OK;
    }
    /* Started by a launcher that does not hand out a secret (srun): rank 0
     * draws one and shares it through the launcher's key-value store,
     * which only the job's processes can read. */
    if (rt->rank == 0) {
        char value[2 * RDMX_SECRET_LEN + 1];
        rdmx_status_t st = rdmx_auth_random(rt->secret, RDMX_SECRET_LEN);
        if (st != RDMX_OK)
            return st;
        rdmx_hex_encode(rt->secret, RDMX_SECRET_LEN, value);
        return rdmx_pmi_put(rt->pmi, "rdmx.secret", value);
    }
    return RDMX_OK;
}

static rdmx_status_t fetch_secret(rdmx_runtime_t *rt)
{
    char value[RDMX_PMI_VALUE_MAX];
    rdmx_status_t st = rdmx_pmi_get(rt->pmi, 0, "rdmx.secret", value,
                                    sizeof(value));
    if (st != RDMX_OK)
        return st;
    if (rdmx_hex_decode(value, rt->secret, RDMX_SECRET_LEN) != 0)
        return RDMX_ERR_PROTO;
    return RDMX_OK;
}

/* ---- transports ------------------------------------------------------------ */

static rdmx_status_t check_transport_list(const char *list)
{
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int known = 0;
        for (size_t i = 0; i < rdmx_transport_registry_len; i++) {
            const rdmx_transport_ops_t *ops = rdmx_transport_registry[i];
            if (ops && strlen(ops->name) == len
                && strncmp(ops->name, p, len) == 0)
                known = 1;
        }
        if (!known && len) {
            RDMX_ERROR("RDMX_TRANSPORTS names '%.*s', which this build does "
                       "not have (rdmx-info lists the transports)", (int)len,
                       p);
            return RDMX_ERR_INVALID;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return RDMX_OK;
}

static rdmx_status_t open_transports(rdmx_runtime_t *rt)
{
    const char *list = rdmx_config_str("RDMX_TRANSPORTS");
    if (list && check_transport_list(list) != RDMX_OK)
        return RDMX_ERR_INVALID;
    for (size_t i = 0; i < rdmx_transport_registry_len; i++) {
        const rdmx_transport_ops_t *ops = rdmx_transport_registry[i];
        char *why = rt->why_not[i < RDMX_MAX_TRANSPORTS ? i : 0];
        if (!ops)
            continue;
        if (list && !rdmx_config_list_has(list, ops->name)) {
            snprintf(why, sizeof(rt->why_not[0]), "not in RDMX_TRANSPORTS");
            continue;
        }
        char reason[160] = "";
        rdmx_status_t st = ops->probe(reason, sizeof(reason));
        if (st == RDMX_OK) {
            rdmx_transport_t *tp = NULL;
            st = ops->open(rt, &tp);
            if (st == RDMX_OK) {
                tp->ops = ops;
                tp->rt = rt;
                rt->transports[rt->ntransports++] = tp;
                why[0] = '\0';
                continue;
            }
            if (!reason[0])
                snprintf(reason, sizeof(reason), "open failed: %s",
                         rdmx_status_str(st));
        }
        snprintf(why, sizeof(rt->why_not[0]), "%s", reason);
        if (list) {
            RDMX_ERROR("RDMX_TRANSPORTS asks for %s, but it is not usable "
                       "here: %s", ops->name, reason);
            return RDMX_ERR_NO_DEVICE;
        }
        RDMX_INFO("%s not used: %s", ops->name, reason);
    }
    if (rt->ntransports == 0) {
        RDMX_ERROR("no transport is usable (RDMX_TRANSPORTS=%s)",
                   list ? list : "(unset)");
        return RDMX_ERR_NO_DEVICE;
    }
    return RDMX_OK;
}

static rdmx_transport_t *choose_transport(rdmx_runtime_t *rt, int peer)
{
    rdmx_transport_t *best = NULL;
    /* Selection is symmetric (both sides of a pair pick the same transport
     * from the same facts), which lets transports that serve nobody be
     * polled rarely (see rdmx_progress). */
    for (int i = 0; i < rt->ntransports; i++) {
        rdmx_transport_t *tp = rt->transports[i];
        if (!tp->ops->reachable(tp, peer))
            continue;
        if (!best || tp->caps.priority > best->caps.priority)
            best = tp;
    }
    return best;
}

rdmx_status_t rdmx_rt_connect_ep(rdmx_runtime_t *rt, int peer,
                                 rdmx_transport_t **tp, rdmx_ep_t **ep)
{
    rdmx_peer_t *p = &rt->peers[peer];
    if (!p->tp)
        p->tp = choose_transport(rt, peer);
    if (!p->tp) {
        RDMX_ERROR("no transport reaches rank %d from rank %d", peer,
                   rt->rank);
        return RDMX_ERR_UNREACHABLE;
    }
    rdmx_status_t st = p->tp->ops->ep_create(p->tp, peer, &p->ep);
    if (st != RDMX_OK) {
        RDMX_ERROR("connecting rank %d to rank %d over %s failed: %s",
                   rt->rank, peer, p->tp->ops->name, rdmx_status_str(st));
        return st;
    }
    *tp = p->tp;
    *ep = p->ep;
    return RDMX_OK;
}

/* One line per rank at RDMX_LOG=info: which transport serves which peers,
 * and why the others are not used. */
static void log_selection(rdmx_runtime_t *rt)
{
    char line[1024];
    size_t off = 0;
    off += (size_t)snprintf(line + off, sizeof(line) - off, "transports:");
    for (int t = 0; t < rt->ntransports; t++) {
        rdmx_transport_t *tp = rt->transports[t];
        int first = -1, last = -2, any = 0;
        for (int peer = 0; peer <= rt->size && off < sizeof(line) - 64;
             peer++) {
            int mine = peer < rt->size && rt->peers[peer].tp == tp;
            if (mine && peer == last + 1) {
                last = peer;
                continue;
            }
            if (first >= 0) {
                off += (size_t)snprintf(line + off, sizeof(line) - off,
                                        first == last ? "%s%d" : "%s%d-%d",
                                        any++ ? "," : " ranks ", first, last);
                first = -1;
            }
            if (mine)
                first = last = peer;
        }
        if (any)
            off += (size_t)snprintf(line + off, sizeof(line) - off,
                                    " via %s;", tp->ops->name);
    }
    for (size_t i = 0; i < rdmx_transport_registry_len
                       && i < RDMX_MAX_TRANSPORTS && off < sizeof(line) - 64;
         i++) {
        if (rdmx_transport_registry[i] && rt->why_not[i][0])
            off += (size_t)snprintf(line + off, sizeof(line) - off,
                                    " %s not used: %s;",
                                    rdmx_transport_registry[i]->name,
                                    rt->why_not[i]);
    }
    RDMX_INFO("%s", line);
}

static rdmx_status_t setup_wait_set(rdmx_runtime_t *rt)
{
    rt->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (rt->epfd < 0) {
        RDMX_ERROR("epoll_create1: %s", strerror(errno));
        return RDMX_ERR_IO;
    }
    for (int i = 0; i < rt->ntransports; i++) {
        rdmx_transport_t *tp = rt->transports[i];
        int fd = tp->ops->wait_fd ? tp->ops->wait_fd(tp) : -1;
        if (fd < 0)
            continue;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tp};
        if (epoll_ctl(rt->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            RDMX_ERROR("epoll_ctl(%s fd %d): %s", tp->ops->name, fd,
                       strerror(errno));
            return RDMX_ERR_IO;
        }
    }
    return RDMX_OK;
}

/* CPUs of the host, not of this rank's affinity mask: the launcher binds
 * each rank to one core, and a bound rank is not an oversubscribed one. */
static int count_host_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static rdmx_status_t runtime_init(rdmx_runtime_t *rt)
{
    rdmx_status_t st;
    rdmx_log_init();
    if ((st = rdmx_pmi_init(&rt->pmi, &rt->pmi_info)) != RDMX_OK) {
        RDMX_ERROR("cannot reach the launcher: %s", rdmx_status_str(st));
        return st;
    }
    rt->rank = rt->pmi_info.rank;
    rt->size = rt->pmi_info.size;
    read_host_id(rt);
    rdmx_log_set_identity(rt->rank, rt->hostname);
    const char *job = rdmx_config_str("RDMX_JOB_ID");
    snprintf(rt->job_id, sizeof(rt->job_id), "%.63s",
             job ? job : rt->pmi_info.kvsname);
    /* Segment names are built from the job id: keep it to safe chars. */
    for (char *p = rt->job_id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            *p = '_';

    int secret_from_env;
    char key[RDMX_PMI_KEY_MAX];
    snprintf(key, sizeof(key), "rdmx.host.%d", rt->rank);
    if ((st = setup_secret(rt, &secret_from_env)) != RDMX_OK
        || (st = rdmx_pmi_put(rt->pmi, key, rt->host_id)) != RDMX_OK
        || (st = rdmx_pmi_fence(rt->pmi)) != RDMX_OK)
        return st;
    if (!secret_from_env && rt->rank != 0
        && (st = fetch_secret(rt)) != RDMX_OK) {
        RDMX_ERROR("no job secret from rank 0: %s", rdmx_status_str(st));
        return st;
    }
    if ((st = exchange_hosts(rt)) != RDMX_OK)
        return st;

    rt->peers = calloc((size_t)rt->size, sizeof(*rt->peers));
    if (!rt->peers)
        return RDMX_ERR_NOMEM;
    if ((st = rdmx_comm_world_init(rt->rank, rt->size)) != RDMX_OK)
        return st;
    if (rdmx_p2p_init() != 0)
        return RDMX_ERR_NOMEM;
    if ((st = open_transports(rt)) != RDMX_OK)
        return st;
    if ((st = rdmx_pmi_fence(rt->pmi)) != RDMX_OK)
        return st;
    for (int i = 0; i < rt->ntransports; i++) {
        rdmx_transport_t *tp = rt->transports[i];
        if (tp->ops->wireup && (st = tp->ops->wireup(tp)) != RDMX_OK) {
            RDMX_ERROR("%s wire-up failed: %s", tp->ops->name,
                       rdmx_status_str(st));
            return st;
        }
    }
    if ((st = rdmx_pmi_fence(rt->pmi)) != RDMX_OK)
        return st;
    for (int peer = 0; peer < rt->size; peer++)
        rt->peers[peer].tp = choose_transport(rt, peer);
    rt->nactive = 0;
    for (int i = 0; i < rt->ntransports; i++)
        for (int peer = 0; peer < rt->size; peer++)
            if (rt->peers[peer].tp == rt->transports[i]) {
                rt->active[rt->nactive++] = rt->transports[i];
                break;
            }
    if ((st = setup_wait_set(rt)) != RDMX_OK)
        return st;
    rdmx_progress_configure(rt->local_size > count_host_cpus());
    log_selection(rt);
    rt->initialized = 1;
    return RDMX_OK;
}

RDMX_CONFIG_VAR("RDMX_FINALIZE_FLUSH_TIMEOUT", "30",
                "seconds MPI_Finalize waits for queued outgoing data");

/* Drive progress until no transport holds queued outgoing data. */
static void flush_transports(rdmx_runtime_t *rt)
{
    double limit = MPI_Wtime()
                   + (double)rdmx_config_long("RDMX_FINALIZE_FLUSH_TIMEOUT");
    for (;;) {
        int pending = 0;
        for (int i = 0; i < rt->ntransports; i++) {
            rdmx_transport_t *tp = rt->transports[i];
            if (tp->ops->flush && tp->ops->flush(tp) == RDMX_ERR_AGAIN)
                pending = 1;
        }
        if (!pending)
            return;
        if (MPI_Wtime() > limit) {
            RDMX_WARN("MPI_Finalize: outgoing data still queued after %lds; "
                      "closing anyway",
                      rdmx_config_long("RDMX_FINALIZE_FLUSH_TIMEOUT"));
            return;
        }
        if (rdmx_progress() == 0)
            sched_yield();
    }
}

static void runtime_fini(rdmx_runtime_t *rt)
{
    for (int i = rt->ntransports - 1; i >= 0; i--)
        rt->transports[i]->ops->close(rt->transports[i]);
    rt->ntransports = 0;
    rt->nactive = 0;
    if (rt->epfd >= 0)
        close(rt->epfd);
    rt->epfd = -1;
    rdmx_p2p_fini();
    if (rt->pmi)
        rdmx_pmi_finalize(rt->pmi);
    rt->pmi = NULL;
    if (peer_host_ids)
        for (int i = 0; i < rt->size; i++)
            free(peer_host_ids[i]);
    free(peer_host_ids);
    peer_host_ids = NULL;
    free(rt->local_peers);
    free(rt->peers);
    rt->local_peers = NULL;
    rt->peers = NULL;
    rdmx_comm_world_fini();
}

/* ---- MPI API ---------------------------------------------------------------- */

int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    (void)argc;
    (void)argv;
    if (rdmx_rt.initialized || rdmx_rt.finalized)
        return rdmx_mpi_error(NULL, MPI_ERR_OTHER, "MPI_Init",
                              "MPI is already %s",
                              rdmx_rt.finalized ? "finalized" : "initialized");
    rdmx_status_t st = runtime_init(&rdmx_rt);
    if (st != RDMX_OK) {
        char msg[256];
        snprintf(msg, sizeof(msg), "MPI_Init failed on rank %d: %s",
                 rdmx_rt.rank, rdmx_status_str(st));
        fprintf(stderr, "%s\n", msg);
        rdmx_abort_job(1, msg);
    }
    /* The progress engine is single-threaded: callers may use threads as
     * long as they do not call MPI concurrently. */
    rdmx_rt.thread_level = required < MPI_THREAD_SERIALIZED
                               ? (required < MPI_THREAD_SINGLE
                                      ? MPI_THREAD_SINGLE
                                      : required)
                               : MPI_THREAD_SERIALIZED;
    if (provided)
        *provided = rdmx_rt.thread_level;
    return MPI_SUCCESS;
}

int MPI_Init(int *argc, char ***argv)
{
    return MPI_Init_thread(argc, argv, MPI_THREAD_SINGLE, NULL);
}

int MPI_Query_thread(int *provided)
{
    *provided = rdmx_rt.thread_level;
    return MPI_SUCCESS;
}

int MPI_Is_thread_main(int *flag)
{
    *flag = 1;
    return MPI_SUCCESS;
}

int MPI_Initialized(int *flag)
{
    if (!flag)
        return MPI_ERR_ARG;
    *flag = rdmx_rt.initialized || rdmx_rt.finalized;
    return MPI_SUCCESS;
}

int MPI_Finalized(int *flag)
{
    if (!flag)
        return MPI_ERR_ARG;
    *flag = rdmx_rt.finalized;
    return MPI_SUCCESS;
}

int MPI_Finalize(void)
{
    if (!rdmx_rt.initialized)
        return rdmx_mpi_error(NULL, MPI_ERR_OTHER, "MPI_Finalize",
                              "MPI is not initialized");
    /* Peers' release tokens of the last shared-memory collective. */
    if (rdmx_coll_area_guard_drain() != RDMX_OK)
        RDMX_WARN("finalize: a collective's release token failed");
    /* From here on a peer that closes its connections is finishing too, not
     * failing (the launcher reports ranks that really die). */
    rdmx_rt.finalizing = 1;
    /* A barrier that drives progress: control messages still queued towards
     * a peer (a FIN it waits for) leave before anyone stops polling. */
    rdmx_status_t st = rdmx_internal_barrier();
    if (st != RDMX_OK)
        RDMX_WARN("finalize barrier: %s", rdmx_status_str(st));
    flush_transports(&rdmx_rt);
    rdmx_coll_scratch_release_all();
    if (rdmx_rt.pmi)
        rdmx_pmi_fence(rdmx_rt.pmi);
    runtime_fini(&rdmx_rt);
    rdmx_rt.initialized = 0;
    rdmx_rt.finalized = 1;
    return MPI_SUCCESS;
}

int MPI_Abort(MPI_Comm comm, int errorcode)
{
    (void)comm;
    char msg[256];
    snprintf(msg, sizeof(msg), "MPI_Abort called by rank %d with error code %d",
             rdmx_rt.rank, errorcode);
    RDMX_ERROR("%s", msg);
    rdmx_abort_job(errorcode, msg);
}
