/*
 * errors.h — turning internal failures into MPI errors.
 *
 * The MPI layer reports every error through rdmx_mpi_error(): it builds one
 * message naming the call, the rank and the offending value, hands it to the
 * communicator's error handler (MPI_ERRORS_ARE_FATAL prints it and ends the
 * whole job; MPI_ERRORS_RETURN keeps it for MPI_Error_string) and returns the
 * error class for the call to return. Error codes returned to users are the
 * error classes themselves, so `rc == MPI_ERR_TRUNCATE` works as users
 * expect.
 */
#ifndef RDMX_ERRORS_H
#define RDMX_ERRORS_H

#include "comm.h"
#include "mpi.h"
#include "status.h"

struct rdmx_errhandler {
    int predefined;
    int refcount;
    enum { RDMX_ERRH_FATAL, RDMX_ERRH_RETURN, RDMX_ERRH_USER } kind;
    MPI_Comm_errhandler_function *fn;
};

/* The MPI error class for an internal status. */
int rdmx_status_to_mpi_class(rdmx_status_t status);

/* Report an error on `comm` (NULL: MPI_COMM_WORLD's handler, as the
 * standard says for calls without a communicator). Returns `mpi_class`
 * unless the handler ends the job. */
int rdmx_mpi_error(rdmx_comm_t *comm, int mpi_class, const char *call,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Same, from an internal status. */
int rdmx_mpi_error_status(rdmx_comm_t *comm, rdmx_status_t st,
                          const char *call);

/* End the job: tell the launcher, then exit. Used by MPI_Abort and fatal
 * errors; never returns. */
void rdmx_abort_job(int code, const char *msg) __attribute__((noreturn));

#endif
