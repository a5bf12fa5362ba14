/*
 * mpi_datatype_query.c — datatype queries and MPI_Pack/MPI_Unpack. The
 * constructors are in datatype_derived.c.
 */
#include <string.h>

#include "datatype.h"
#include "errors.h"

static int check_dt(MPI_Datatype dt, const char *call)
{
    if (!dt)
        return rdmx_mpi_error(NULL, MPI_ERR_TYPE, call,
                              "datatype is MPI_DATATYPE_NULL");
    return MPI_SUCCESS;
}

int MPI_Type_size_x(MPI_Datatype datatype, MPI_Count *size)
{
    int rc = check_dt(datatype, "MPI_Type_size");
    if (rc != MPI_SUCCESS)
        return rc;
    *size = (MPI_Count)datatype->size;
    return MPI_SUCCESS;
}

int MPI_Type_size(MPI_Datatype datatype, int *size)
{
    MPI_Count n;
    int rc = MPI_Type_size_x(datatype, &n);
    if (rc == MPI_SUCCESS)
        *size = n > 0x7fffffff ? MPI_UNDEFINED : (int)n;
    return rc;
}

int MPI_Type_get_extent(MPI_Datatype datatype, MPI_Aint *lb, MPI_Aint *extent)
{
    int rc = check_dt(datatype, "MPI_Type_get_extent");
    if (rc != MPI_SUCCESS)
        return rc;
    *lb = datatype->lb;
    *extent = rdmx_dt_extent(datatype);
    return MPI_SUCCESS;
}

int MPI_Type_get_extent_x(MPI_Datatype datatype, MPI_Count *lb,
                          MPI_Count *extent)
{
    MPI_Aint l, e;
    int rc = MPI_Type_get_extent(datatype, &l, &e);
    if (rc == MPI_SUCCESS) {
        *lb = l;
        *extent = e;
    }
    return rc;
}

int MPI_Type_get_true_extent(MPI_Datatype datatype, MPI_Aint *true_lb,
                             MPI_Aint *true_extent)
{
    int rc = check_dt(datatype, "MPI_Type_get_true_extent");
    if (rc != MPI_SUCCESS)
        return rc;
    *true_lb = datatype->true_lb;
    *true_extent = datatype->true_ub - datatype->true_lb;
    return MPI_SUCCESS;
}

int MPI_Type_extent(MPI_Datatype datatype, MPI_Aint *extent)
{
    MPI_Aint lb;
    return MPI_Type_get_extent(datatype, &lb, extent);
}

int MPI_Get_address(const void *location, MPI_Aint *address)
{
    *address = (MPI_Aint)(intptr_t)location;
    return MPI_SUCCESS;
}

int MPI_Pack_size(int incount, MPI_Datatype datatype, MPI_Comm comm,
                  int *size)
{
    (void)comm;
    int rc = check_dt(datatype, "MPI_Pack_size");
    if (rc != MPI_SUCCESS)
        return rc;
    if (incount < 0)
        return rdmx_mpi_error(comm, MPI_ERR_COUNT, "MPI_Pack_size",
                              "negative count %d", incount);
    size_t n = (size_t)incount * datatype->size;
    if (n > 0x7fffffff)
        return rdmx_mpi_error(comm, MPI_ERR_COUNT, "MPI_Pack_size",
                              "%d elements need %zu bytes, more than an int",
                              incount, n);
    *size = (int)n;
    return MPI_SUCCESS;
}

int MPI_Pack(const void *inbuf, int incount, MPI_Datatype datatype,
             void *outbuf, int outsize, int *position, MPI_Comm comm)
{
    int rc = check_dt(datatype, "MPI_Pack");
    if (rc != MPI_SUCCESS)
        return rc;
    if (incount < 0 || outsize < 0 || !position || *position < 0)
        return rdmx_mpi_error(comm, MPI_ERR_ARG, "MPI_Pack",
                              "invalid count %d, outsize %d or position",
                              incount, outsize);
    size_t n = (size_t)incount * datatype->size;
    if ((size_t)*position + n > (size_t)outsize)
        return rdmx_mpi_error(comm, MPI_ERR_TRUNCATE, "MPI_Pack",
                              "%zu bytes at position %d overflow outsize %d",
                              n, *position, outsize);
    rdmx_dt_pack(datatype, inbuf, (size_t)incount, 0,
                 (char *)outbuf + *position, n);
    *position += (int)n;
    return MPI_SUCCESS;
}

int MPI_Unpack(const void *inbuf, int insize, int *position, void *outbuf,
               int outcount, MPI_Datatype datatype, MPI_Comm comm)
{
    int rc = check_dt(datatype, "MPI_Unpack");
    if (rc != MPI_SUCCESS)
        return rc;
    if (outcount < 0 || insize < 0 || !position || *position < 0)
        return rdmx_mpi_error(comm, MPI_ERR_ARG, "MPI_Unpack",
                              "invalid count %d, insize %d or position",
                              outcount, insize);
    size_t n = (size_t)outcount * datatype->size;
    if ((size_t)*position + n > (size_t)insize)
        return rdmx_mpi_error(comm, MPI_ERR_TRUNCATE, "MPI_Unpack",
                              "%zu bytes at position %d overrun insize %d", n,
                              *position, insize);
    rdmx_dt_unpack(datatype, outbuf, (size_t)outcount, 0,
                   (const char *)inbuf + *position, n);
    *position += (int)n;
    return MPI_SUCCESS;
}
