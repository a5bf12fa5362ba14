#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "runtime.h"

struct rdmx_errhandler rdmx_errors_are_fatal_obj = {1, 1, RDMX_ERRH_FATAL,
                                                    NULL};
struct rdmx_errhandler rdmx_errors_return_obj = {1, 1, RDMX_ERRH_RETURN, NULL};

/* The most recent message per class, so that MPI_Error_string can say more
 * than the class name under MPI_ERRORS_RETURN. */
static char last_msg[MPI_ERR_LASTCODE + 1][256];

static const char *const class_names[] = {
    [MPI_SUCCESS] = "MPI_SUCCESS: no error",
    [MPI_ERR_BUFFER] = "MPI_ERR_BUFFER: invalid buffer pointer",
    [MPI_ERR_COUNT] = "MPI_ERR_COUNT: invalid count argument",
    [MPI_ERR_TYPE] = "MPI_ERR_TYPE: invalid datatype",
    [MPI_ERR_TAG] = "MPI_ERR_TAG: invalid tag",
    [MPI_ERR_COMM] = "MPI_ERR_COMM: invalid communicator",
    [MPI_ERR_RANK] = "MPI_ERR_RANK: invalid rank",
    [MPI_ERR_REQUEST] = "MPI_ERR_REQUEST: invalid request",
    [MPI_ERR_ROOT] = "MPI_ERR_ROOT: invalid root",
    [MPI_ERR_GROUP] = "MPI_ERR_GROUP: invalid group",
    [MPI_ERR_OP] = "MPI_ERR_OP: invalid reduce operation",
    [MPI_ERR_TOPOLOGY] = "MPI_ERR_TOPOLOGY: invalid topology",
    [MPI_ERR_DIMS] = "MPI_ERR_DIMS: invalid dimension argument",
    [MPI_ERR_ARG] = "MPI_ERR_ARG: invalid argument",
    [MPI_ERR_UNKNOWN] = "MPI_ERR_UNKNOWN: unknown error",
    [MPI_ERR_TRUNCATE] = "MPI_ERR_TRUNCATE: message truncated",
    [MPI_ERR_OTHER] = "MPI_ERR_OTHER: other error",
    [MPI_ERR_INTERN] = "MPI_ERR_INTERN: internal error",
    [MPI_ERR_IN_STATUS] = "MPI_ERR_IN_STATUS: error code is in status",
    [MPI_ERR_PENDING] = "MPI_ERR_PENDING: pending request",
    [MPI_ERR_NO_MEM] = "MPI_ERR_NO_MEM: out of memory",
    [MPI_ERR_UNSUPPORTED_OPERATION] =
        "MPI_ERR_UNSUPPORTED_OPERATION: operation not supported",
    [MPI_ERR_INFO] = "MPI_ERR_INFO: invalid info object",
    [MPI_ERR_KEYVAL] = "MPI_ERR_KEYVAL: invalid key value",
};

static const char *class_name(int mpi_class)
{
    if (mpi_class >= 0
        && mpi_class < (int)(sizeof(class_names) / sizeof(class_names[0]))
        && class_names[mpi_class])
        return class_names[mpi_class];
    return "MPI error";
}

int rdmx_status_to_mpi_class(rdmx_status_t status)
{
    switch (status) {
    case RDMX_OK:
    case RDMX_INPROGRESS: return MPI_SUCCESS;
    case RDMX_ERR_NOMEM: return MPI_ERR_NO_MEM;
    case RDMX_ERR_INVALID: return MPI_ERR_ARG;
    case RDMX_ERR_TRUNCATE: return MPI_ERR_TRUNCATE;
    case RDMX_ERR_UNSUPPORTED: return MPI_ERR_UNSUPPORTED_OPERATION;
    case RDMX_ERR_RANK: return MPI_ERR_RANK;
    case RDMX_ERR_TAG: return MPI_ERR_TAG;
    case RDMX_ERR_COUNT: return MPI_ERR_COUNT;
    case RDMX_ERR_TYPE: return MPI_ERR_TYPE;
    case RDMX_ERR_COMM: return MPI_ERR_COMM;
    case RDMX_ERR_OP: return MPI_ERR_OP;
    case RDMX_ERR_ROOT: return MPI_ERR_ROOT;
    case RDMX_ERR_REQUEST: return MPI_ERR_REQUEST;
    case RDMX_ERR_BUFFER: return MPI_ERR_BUFFER;
    case RDMX_ERR_GROUP: return MPI_ERR_GROUP;
    case RDMX_ERR_INTERNAL: return MPI_ERR_INTERN;
    default: return MPI_ERR_OTHER;
    }
}

void rdmx_abort_job(int code, const char *msg)
{
    /* Flush what the program wrote before the job disappears. */
    fflush(stdout);
    fflush(stderr);
    if (rdmx_rt.pmi)
        rdmx_pmi_abort(rdmx_rt.pmi, code, msg);
    _exit(code ? code : 1);
}

static int handle(rdmx_comm_t *comm, int mpi_class, const char *text)
{
    rdmx_comm_t *c = comm ? comm : (rdmx_comm_t *)MPI_COMM_WORLD;
    struct rdmx_errhandler *h = c->errhandler;
    if (mpi_class >= 0 && mpi_class <= MPI_ERR_LASTCODE)
        snprintf(last_msg[mpi_class], sizeof(last_msg[0]), "%s", text);
    if (!h || h->kind == RDMX_ERRH_FATAL) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s [%s]; MPI_ERRORS_ARE_FATAL ends the job",
                 text, class_name(mpi_class));
        RDMX_ERROR("%s", msg);
        rdmx_abort_job(mpi_class ? mpi_class : 1, msg);
    }
    if (h->kind == RDMX_ERRH_USER && h->fn) {
        MPI_Comm handle_comm = c;
        int code = mpi_class;
        h->fn(&handle_comm, &code);
    }
    RDMX_DEBUG("%s (returned to caller)", text);
    return mpi_class;
}

int rdmx_mpi_error(rdmx_comm_t *comm, int mpi_class, const char *call,
                   const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    char text[512];
    snprintf(text, sizeof(text), "%s on rank %d: %s", call,
             rdmx_rt.initialized ? rdmx_rt.rank : 0, detail);
    return handle(comm, mpi_class, text);
}

int rdmx_mpi_error_status(rdmx_comm_t *comm, rdmx_status_t st,
                          const char *call)
{
    return rdmx_mpi_error(comm, rdmx_status_to_mpi_class(st), call, "%s",
                          rdmx_status_str(st));
}

/* ---- MPI API ------------------------------------------------------------ */

int MPI_Error_class(int errorcode, int *errorclass)
{
    if (!errorclass)
        return MPI_ERR_ARG;
    if (errorcode < 0 || errorcode > MPI_ERR_LASTCODE) {
        *errorclass = MPI_ERR_UNKNOWN;
        return MPI_ERR_ARG;
    }
    *errorclass = errorcode;
    return MPI_SUCCESS;
}

int MPI_Error_string(int errorcode, char *string, int *resultlen)
{
    if (!string || !resultlen)
        return MPI_ERR_ARG;
    const char *name = NULL;
    if (errorcode >= 0 && errorcode < (int)(sizeof(class_names)
                                            / sizeof(class_names[0])))
        name = class_names[errorcode];
    int n;
    if (!name)
        n = snprintf(string, MPI_MAX_ERROR_STRING, "unknown error code %d",
                     errorcode);
    else if (errorcode > 0 && last_msg[errorcode][0])
        n = snprintf(string, MPI_MAX_ERROR_STRING, "%s (last: %s)", name,
                     last_msg[errorcode]);
    else
        n = snprintf(string, MPI_MAX_ERROR_STRING, "%s", name);
    if (n >= MPI_MAX_ERROR_STRING)
        n = MPI_MAX_ERROR_STRING - 1;
    *resultlen = n;
    return MPI_SUCCESS;
}

int MPI_Comm_set_errhandler(MPI_Comm comm, MPI_Errhandler errhandler)
{
    rdmx_comm_t *c = (rdmx_comm_t *)comm;
    if (rdmx_comm_check(c) != RDMX_OK)
        return rdmx_mpi_error(NULL, MPI_ERR_COMM, "MPI_Comm_set_errhandler",
                              "invalid communicator");
    if (!errhandler)
        return rdmx_mpi_error(c, MPI_ERR_ARG, "MPI_Comm_set_errhandler",
                              "MPI_ERRHANDLER_NULL");
    struct rdmx_errhandler *old = c->errhandler;
    errhandler->refcount++;
    c->errhandler = errhandler;
    if (old && !old->predefined && --old->refcount == 0)
        free(old);
    return MPI_SUCCESS;
}

int MPI_Comm_get_errhandler(MPI_Comm comm, MPI_Errhandler *errhandler)
{
    rdmx_comm_t *c = (rdmx_comm_t *)comm;
    if (rdmx_comm_check(c) != RDMX_OK)
        return rdmx_mpi_error(NULL, MPI_ERR_COMM, "MPI_Comm_get_errhandler",
                              "invalid communicator");
    if (!errhandler)
        return rdmx_mpi_error(c, MPI_ERR_ARG, "MPI_Comm_get_errhandler",
                              "errhandler is NULL");
    *errhandler = c->errhandler;
    c->errhandler->refcount++;
    return MPI_SUCCESS;
}

int MPI_Comm_create_errhandler(MPI_Comm_errhandler_function *fn,
                               MPI_Errhandler *errhandler)
{
    if (!fn || !errhandler)
        return rdmx_mpi_error(NULL, MPI_ERR_ARG, "MPI_Comm_create_errhandler",
                              "NULL argument");
    struct rdmx_errhandler *h = calloc(1, sizeof(*h));
    if (!h)
        return rdmx_mpi_error(NULL, MPI_ERR_NO_MEM,
                              "MPI_Comm_create_errhandler", "out of memory");
    h->refcount = 1;
    h->kind = RDMX_ERRH_USER;
    h->fn = fn;
    *errhandler = h;
    return MPI_SUCCESS;
}

int MPI_Errhandler_free(MPI_Errhandler *errhandler)
{
    if (!errhandler || !*errhandler)
        return rdmx_mpi_error(NULL, MPI_ERR_ARG, "MPI_Errhandler_free",
                              "invalid errhandler");
    struct rdmx_errhandler *h = *errhandler;
    if (!h->predefined && --h->refcount == 0)
        free(h);
    *errhandler = MPI_ERRHANDLER_NULL;
    return MPI_SUCCESS;
}

int MPI_Comm_call_errhandler(MPI_Comm comm, int errorcode)
{
    rdmx_comm_t *c = (rdmx_comm_t *)comm;
    if (rdmx_comm_check(c) != RDMX_OK)
        return MPI_ERR_COMM;
    handle(c, errorcode, "MPI_Comm_call_errhandler");
    return MPI_SUCCESS;
}
