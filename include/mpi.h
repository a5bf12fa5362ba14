/*
 * mpi.h — the MPI C API of rdmx (MPI-3.1 semantics for what is declared here).
 *
 * Handles are pointers to opaque rdmx objects, as in Open MPI; the
 * predefined handles (MPI_COMM_WORLD, MPI_INT, MPI_SUM, ...) are addresses of
 * objects inside librdmx, so they are link-time constants usable in static
 * initialisers but not in `switch` labels.
 *
 * Everything named MPI_ / PMPI_ is the API layer; librdmx's own code uses the
 * rdmx_ prefix. Programs include only this header and link with -lrdmx
 * (mpicc does both).
 */
#ifndef RDMX_MPI_H
#define RDMX_MPI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPI_VERSION 3
#define MPI_SUBVERSION 1

#define RDMX_VERSION_STRING "0.1.0"

/* ---- handle types -------------------------------------------------------- */
typedef struct rdmx_comm *MPI_Comm;
typedef struct rdmx_group *MPI_Group;
typedef struct rdmx_datatype *MPI_Datatype;
typedef struct rdmx_request *MPI_Request;
typedef struct rdmx_op *MPI_Op;
typedef struct rdmx_errhandler *MPI_Errhandler;
typedef struct rdmx_message *MPI_Message;
typedef struct rdmx_info *MPI_Info;

typedef intptr_t MPI_Aint;
typedef long long MPI_Count;
typedef long long MPI_Offset;
typedef int MPI_Fint;

typedef struct MPI_Status {
    int MPI_SOURCE;
    int MPI_TAG;
    int MPI_ERROR;
    /* implementation part: bytes received and cancellation flag */
    int rdmx_cancelled;
    size_t rdmx_count;
} MPI_Status;

/* ---- predefined objects (defined in librdmx) ----------------------------- */
extern struct rdmx_comm rdmx_comm_world_obj, rdmx_comm_self_obj;
extern struct rdmx_group rdmx_group_empty_obj;
extern struct rdmx_errhandler rdmx_errors_are_fatal_obj, rdmx_errors_return_obj;
extern struct rdmx_message rdmx_message_no_proc_obj;
extern struct rdmx_info rdmx_info_env_obj;

#define MPI_COMM_WORLD (&rdmx_comm_world_obj)
#define MPI_COMM_SELF (&rdmx_comm_self_obj)
#define MPI_COMM_NULL ((MPI_Comm)0)
#define MPI_GROUP_EMPTY (&rdmx_group_empty_obj)
#define MPI_GROUP_NULL ((MPI_Group)0)
#define MPI_DATATYPE_NULL ((MPI_Datatype)0)
#define MPI_REQUEST_NULL ((MPI_Request)0)
#define MPI_OP_NULL ((MPI_Op)0)
#define MPI_ERRHANDLER_NULL ((MPI_Errhandler)0)
#define MPI_MESSAGE_NULL ((MPI_Message)0)
#define MPI_MESSAGE_NO_PROC (&rdmx_message_no_proc_obj)
#define MPI_INFO_NULL ((MPI_Info)0)
#define MPI_INFO_ENV (&rdmx_info_env_obj)
#define MPI_ERRORS_ARE_FATAL (&rdmx_errors_are_fatal_obj)
#define MPI_ERRORS_RETURN (&rdmx_errors_return_obj)

/* Predefined datatypes. One object each; see core/datatype.c. */
#define RDMX_DECLARE_DT(name) extern struct rdmx_datatype rdmx_dt_##name
RDMX_DECLARE_DT(char); RDMX_DECLARE_DT(signed_char); RDMX_DECLARE_DT(unsigned_char);
RDMX_DECLARE_DT(byte); RDMX_DECLARE_DT(wchar); RDMX_DECLARE_DT(short);
RDMX_DECLARE_DT(unsigned_short); RDMX_DECLARE_DT(int); RDMX_DECLARE_DT(unsigned);
RDMX_DECLARE_DT(long); RDMX_DECLARE_DT(unsigned_long); RDMX_DECLARE_DT(long_long);
RDMX_DECLARE_DT(unsigned_long_long); RDMX_DECLARE_DT(float); RDMX_DECLARE_DT(double);
RDMX_DECLARE_DT(long_double); RDMX_DECLARE_DT(int8); RDMX_DECLARE_DT(int16);
RDMX_DECLARE_DT(int32); RDMX_DECLARE_DT(int64); RDMX_DECLARE_DT(uint8);
RDMX_DECLARE_DT(uint16); RDMX_DECLARE_DT(uint32); RDMX_DECLARE_DT(uint64);
RDMX_DECLARE_DT(c_bool); RDMX_DECLARE_DT(c_float_complex);
RDMX_DECLARE_DT(c_double_complex); RDMX_DECLARE_DT(c_long_double_complex);
RDMX_DECLARE_DT(aint); RDMX_DECLARE_DT(offset); RDMX_DECLARE_DT(count);
RDMX_DECLARE_DT(packed); RDMX_DECLARE_DT(float_int); RDMX_DECLARE_DT(double_int);
RDMX_DECLARE_DT(long_int); RDMX_DECLARE_DT(2int); RDMX_DECLARE_DT(short_int);
RDMX_DECLARE_DT(long_double_int); RDMX_DECLARE_DT(lb); RDMX_DECLARE_DT(ub);
#undef RDMX_DECLARE_DT

#define MPI_CHAR (&rdmx_dt_char)
#define MPI_SIGNED_CHAR (&rdmx_dt_signed_char)
#define MPI_UNSIGNED_CHAR (&rdmx_dt_unsigned_char)
#define MPI_BYTE (&rdmx_dt_byte)
#define MPI_WCHAR (&rdmx_dt_wchar)
#define MPI_SHORT (&rdmx_dt_short)
#define MPI_UNSIGNED_SHORT (&rdmx_dt_unsigned_short)
#define MPI_INT (&rdmx_dt_int)
#define MPI_UNSIGNED (&rdmx_dt_unsigned)
#define MPI_LONG (&rdmx_dt_long)
#define MPI_UNSIGNED_LONG (&rdmx_dt_unsigned_long)
#define MPI_LONG_LONG_INT (&rdmx_dt_long_long)
#define MPI_LONG_LONG (&rdmx_dt_long_long)
#define MPI_UNSIGNED_LONG_LONG (&rdmx_dt_unsigned_long_long)
#define MPI_FLOAT (&rdmx_dt_float)
#define MPI_DOUBLE (&rdmx_dt_double)
#define MPI_LONG_DOUBLE (&rdmx_dt_long_double)
#define MPI_INT8_T (&rdmx_dt_int8)
#define MPI_INT16_T (&rdmx_dt_int16)
#define MPI_INT32_T (&rdmx_dt_int32)
#define MPI_INT64_T (&rdmx_dt_int64)
#define MPI_UINT8_T (&rdmx_dt_uint8)
#define MPI_UINT16_T (&rdmx_dt_uint16)
#define MPI_UINT32_T (&rdmx_dt_uint32)
#define MPI_UINT64_T (&rdmx_dt_uint64)
#define MPI_C_BOOL (&rdmx_dt_c_bool)
#define MPI_C_FLOAT_COMPLEX (&rdmx_dt_c_float_complex)
#define MPI_C_COMPLEX (&rdmx_dt_c_float_complex)
#define MPI_C_DOUBLE_COMPLEX (&rdmx_dt_c_double_complex)
#define MPI_C_LONG_DOUBLE_COMPLEX (&rdmx_dt_c_long_double_complex)
#define MPI_AINT (&rdmx_dt_aint)
#define MPI_OFFSET (&rdmx_dt_offset)
#define MPI_COUNT (&rdmx_dt_count)
#define MPI_PACKED (&rdmx_dt_packed)
#define MPI_FLOAT_INT (&rdmx_dt_float_int)
#define MPI_DOUBLE_INT (&rdmx_dt_double_int)
#define MPI_LONG_INT (&rdmx_dt_long_int)
#define MPI_2INT (&rdmx_dt_2int)
#define MPI_SHORT_INT (&rdmx_dt_short_int)
#define MPI_LONG_DOUBLE_INT (&rdmx_dt_long_double_int)
#define MPI_LB (&rdmx_dt_lb)
#define MPI_UB (&rdmx_dt_ub)

/* Predefined reduction operations. */
#define RDMX_DECLARE_OP(name) extern struct rdmx_op rdmx_op_##name
RDMX_DECLARE_OP(max); RDMX_DECLARE_OP(min); RDMX_DECLARE_OP(sum);
RDMX_DECLARE_OP(prod); RDMX_DECLARE_OP(land); RDMX_DECLARE_OP(band);
RDMX_DECLARE_OP(lor); RDMX_DECLARE_OP(bor); RDMX_DECLARE_OP(lxor);
RDMX_DECLARE_OP(bxor); RDMX_DECLARE_OP(minloc); RDMX_DECLARE_OP(maxloc);
RDMX_DECLARE_OP(replace); RDMX_DECLARE_OP(no_op);
#undef RDMX_DECLARE_OP

#define MPI_MAX (&rdmx_op_max)
#define MPI_MIN (&rdmx_op_min)
#define MPI_SUM (&rdmx_op_sum)
#define MPI_PROD (&rdmx_op_prod)
#define MPI_LAND (&rdmx_op_land)
#define MPI_BAND (&rdmx_op_band)
#define MPI_LOR (&rdmx_op_lor)
#define MPI_BOR (&rdmx_op_bor)
#define MPI_LXOR (&rdmx_op_lxor)
#define MPI_BXOR (&rdmx_op_bxor)
#define MPI_MINLOC (&rdmx_op_minloc)
#define MPI_MAXLOC (&rdmx_op_maxloc)
#define MPI_REPLACE (&rdmx_op_replace)
#define MPI_NO_OP (&rdmx_op_no_op)

/* ---- constants ----------------------------------------------------------- */
#define MPI_ANY_SOURCE (-1)
#define MPI_PROC_NULL (-2)
#define MPI_ROOT (-3)
#define MPI_ANY_TAG (-1)
#define MPI_UNDEFINED (-32766)
#define MPI_KEYVAL_INVALID (-1)
#define MPI_BSEND_OVERHEAD 0

#define MPI_MAX_PROCESSOR_NAME 256
#define MPI_MAX_ERROR_STRING 512
#define MPI_MAX_LIBRARY_VERSION_STRING 256
#define MPI_MAX_OBJECT_NAME 64
#define MPI_MAX_INFO_KEY 255
#define MPI_MAX_INFO_VAL 1024

#define MPI_STATUS_IGNORE ((MPI_Status *)0)
#define MPI_STATUSES_IGNORE ((MPI_Status *)0)
#define MPI_IN_PLACE ((void *)1)
#define MPI_BOTTOM ((void *)0)
#define MPI_UNWEIGHTED ((int *)2)
#define MPI_ERRCODES_IGNORE ((int *)0)

/* Threading levels. */
#define MPI_THREAD_SINGLE 0
#define MPI_THREAD_FUNNELED 1
#define MPI_THREAD_SERIALIZED 2
#define MPI_THREAD_MULTIPLE 3

/* Results of MPI_Comm_compare / MPI_Group_compare. */
#define MPI_IDENT 0
#define MPI_CONGRUENT 1
#define MPI_SIMILAR 2
#define MPI_UNEQUAL 3

/* Predefined attribute keys (MPI_Comm_get_attr on MPI_COMM_WORLD). */
#define MPI_TAG_UB 1
#define MPI_HOST 2
#define MPI_IO 3
#define MPI_WTIME_IS_GLOBAL 4
#define MPI_APPNUM 5
#define MPI_UNIVERSE_SIZE 6

/* Combiners (MPI_Type_get_envelope). */
#define MPI_COMBINER_NAMED 1
#define MPI_COMBINER_CONTIGUOUS 2
#define MPI_COMBINER_VECTOR 3
#define MPI_COMBINER_HVECTOR 4
#define MPI_COMBINER_INDEXED 5
#define MPI_COMBINER_HINDEXED 6
#define MPI_COMBINER_STRUCT 7
#define MPI_COMBINER_RESIZED 8
#define MPI_COMBINER_INDEXED_BLOCK 9
#define MPI_COMBINER_HINDEXED_BLOCK 10
#define MPI_COMBINER_DUP 11

/* Error classes. MPI_SUCCESS must be 0; the others follow MPI-3.1's list. */
#define MPI_SUCCESS 0
#define MPI_ERR_BUFFER 1
#define MPI_ERR_COUNT 2
#define MPI_ERR_TYPE 3
#define MPI_ERR_TAG 4
#define MPI_ERR_COMM 5
#define MPI_ERR_RANK 6
#define MPI_ERR_REQUEST 7
#define MPI_ERR_ROOT 8
#define MPI_ERR_GROUP 9
#define MPI_ERR_OP 10
#define MPI_ERR_TOPOLOGY 11
#define MPI_ERR_DIMS 12
#define MPI_ERR_ARG 13
#define MPI_ERR_UNKNOWN 14
#define MPI_ERR_TRUNCATE 15
#define MPI_ERR_OTHER 16
#define MPI_ERR_INTERN 17
#define MPI_ERR_IN_STATUS 18
#define MPI_ERR_PENDING 19
#define MPI_ERR_ACCESS 20
#define MPI_ERR_AMODE 21
#define MPI_ERR_ASSERT 22
#define MPI_ERR_BAD_FILE 23
#define MPI_ERR_BASE 24
#define MPI_ERR_CONVERSION 25
#define MPI_ERR_DISP 26
#define MPI_ERR_DUP_DATAREP 27
#define MPI_ERR_FILE_EXISTS 28
#define MPI_ERR_FILE_IN_USE 29
#define MPI_ERR_FILE 30
#define MPI_ERR_INFO_KEY 31
#define MPI_ERR_INFO_NOKEY 32
#define MPI_ERR_INFO_VALUE 33
#define MPI_ERR_INFO 34
#define MPI_ERR_IO 35
#define MPI_ERR_KEYVAL 36
#define MPI_ERR_LOCKTYPE 37
#define MPI_ERR_NAME 38
#define MPI_ERR_NO_MEM 39
#define MPI_ERR_NOT_SAME 40
#define MPI_ERR_NO_SPACE 41
#define MPI_ERR_NO_SUCH_FILE 42
#define MPI_ERR_PORT 43
#define MPI_ERR_QUOTA 44
#define MPI_ERR_READ_ONLY 45
#define MPI_ERR_RMA_CONFLICT 46
#define MPI_ERR_RMA_SYNC 47
#define MPI_ERR_SERVICE 48
#define MPI_ERR_SIZE 49
#define MPI_ERR_SPAWN 50
#define MPI_ERR_UNSUPPORTED_DATAREP 51
#define MPI_ERR_UNSUPPORTED_OPERATION 52
#define MPI_ERR_WIN 53
#define MPI_T_ERR_MEMORY 54
#define MPI_ERR_RMA_RANGE 55
#define MPI_ERR_RMA_ATTACH 56
#define MPI_ERR_RMA_SHARED 57
#define MPI_ERR_RMA_FLAVOR 58
#define MPI_ERR_LASTCODE 100

/* ---- callback types ------------------------------------------------------ */
typedef void MPI_User_function(void *invec, void *inoutvec, int *len,
                               MPI_Datatype *datatype);
typedef void MPI_Comm_errhandler_function(MPI_Comm *comm, int *errcode, ...);
typedef MPI_Comm_errhandler_function MPI_Comm_errhandler_fn;

/* ---- environment --------------------------------------------------------- */
int MPI_Init(int *argc, char ***argv);
int MPI_Init_thread(int *argc, char ***argv, int required, int *provided);
int MPI_Query_thread(int *provided);
int MPI_Is_thread_main(int *flag);
int MPI_Finalize(void);
int MPI_Initialized(int *flag);
int MPI_Finalized(int *flag);
int MPI_Abort(MPI_Comm comm, int errorcode);
int MPI_Get_processor_name(char *name, int *resultlen);
int MPI_Get_version(int *version, int *subversion);
int MPI_Get_library_version(char *version, int *resultlen);
double MPI_Wtime(void);
double MPI_Wtick(void);
int MPI_Alloc_mem(MPI_Aint size, MPI_Info info, void *baseptr);
int MPI_Free_mem(void *base);

/* ---- errors -------------------------------------------------------------- */
int MPI_Comm_set_errhandler(MPI_Comm comm, MPI_Errhandler errhandler);
int MPI_Comm_get_errhandler(MPI_Comm comm, MPI_Errhandler *errhandler);
int MPI_Comm_create_errhandler(MPI_Comm_errhandler_function *fn,
                               MPI_Errhandler *errhandler);
int MPI_Errhandler_free(MPI_Errhandler *errhandler);
int MPI_Comm_call_errhandler(MPI_Comm comm, int errorcode);
int MPI_Error_string(int errorcode, char *string, int *resultlen);
int MPI_Error_class(int errorcode, int *errorclass);

/* ---- point-to-point ------------------------------------------------------ */
int MPI_Send(const void *buf, int count, MPI_Datatype datatype, int dest,
             int tag, MPI_Comm comm);
int MPI_Ssend(const void *buf, int count, MPI_Datatype datatype, int dest,
              int tag, MPI_Comm comm);
int MPI_Rsend(const void *buf, int count, MPI_Datatype datatype, int dest,
              int tag, MPI_Comm comm);
int MPI_Bsend(const void *buf, int count, MPI_Datatype datatype, int dest,
              int tag, MPI_Comm comm);
int MPI_Recv(void *buf, int count, MPI_Datatype datatype, int source, int tag,
             MPI_Comm comm, MPI_Status *status);
int MPI_Isend(const void *buf, int count, MPI_Datatype datatype, int dest,
              int tag, MPI_Comm comm, MPI_Request *request);
int MPI_Issend(const void *buf, int count, MPI_Datatype datatype, int dest,
               int tag, MPI_Comm comm, MPI_Request *request);
int MPI_Irsend(const void *buf, int count, MPI_Datatype datatype, int dest,
               int tag, MPI_Comm comm, MPI_Request *request);
int MPI_Ibsend(const void *buf, int count, MPI_Datatype datatype, int dest,
               int tag, MPI_Comm comm, MPI_Request *request);
int MPI_Irecv(void *buf, int count, MPI_Datatype datatype, int source, int tag,
              MPI_Comm comm, MPI_Request *request);
int MPI_Sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                 int dest, int sendtag, void *recvbuf, int recvcount,
                 MPI_Datatype recvtype, int source, int recvtag, MPI_Comm comm,
                 MPI_Status *status);
int MPI_Sendrecv_replace(void *buf, int count, MPI_Datatype datatype, int dest,
                         int sendtag, int source, int recvtag, MPI_Comm comm,
                         MPI_Status *status);
int MPI_Wait(MPI_Request *request, MPI_Status *status);
int MPI_Waitall(int count, MPI_Request requests[], MPI_Status statuses[]);
int MPI_Waitany(int count, MPI_Request requests[], int *index,
                MPI_Status *status);
int MPI_Waitsome(int incount, MPI_Request requests[], int *outcount,
                 int indices[], MPI_Status statuses[]);
int MPI_Test(MPI_Request *request, int *flag, MPI_Status *status);
int MPI_Testall(int count, MPI_Request requests[], int *flag,
                MPI_Status statuses[]);
int MPI_Testany(int count, MPI_Request requests[], int *index, int *flag,
                MPI_Status *status);
int MPI_Testsome(int incount, MPI_Request requests[], int *outcount,
                 int indices[], MPI_Status statuses[]);
int MPI_Request_free(MPI_Request *request);
int MPI_Request_get_status(MPI_Request request, int *flag, MPI_Status *status);
int MPI_Cancel(MPI_Request *request);
int MPI_Test_cancelled(const MPI_Status *status, int *flag);
int MPI_Probe(int source, int tag, MPI_Comm comm, MPI_Status *status);
int MPI_Iprobe(int source, int tag, MPI_Comm comm, int *flag,
               MPI_Status *status);
int MPI_Mprobe(int source, int tag, MPI_Comm comm, MPI_Message *message,
               MPI_Status *status);
int MPI_Improbe(int source, int tag, MPI_Comm comm, int *flag,
                MPI_Message *message, MPI_Status *status);
int MPI_Mrecv(void *buf, int count, MPI_Datatype datatype,
              MPI_Message *message, MPI_Status *status);
int MPI_Imrecv(void *buf, int count, MPI_Datatype datatype,
               MPI_Message *message, MPI_Request *request);
int MPI_Get_count(const MPI_Status *status, MPI_Datatype datatype, int *count);
int MPI_Get_elements(const MPI_Status *status, MPI_Datatype datatype,
                     int *count);
int MPI_Get_elements_x(const MPI_Status *status, MPI_Datatype datatype,
                       MPI_Count *count);
int MPI_Status_set_elements(MPI_Status *status, MPI_Datatype datatype,
                            int count);
int MPI_Status_set_cancelled(MPI_Status *status, int flag);
int MPI_Buffer_attach(void *buffer, int size);
int MPI_Buffer_detach(void *buffer_addr, int *size);

/* ---- communicators and groups -------------------------------------------- */
int MPI_Comm_rank(MPI_Comm comm, int *rank);
int MPI_Comm_size(MPI_Comm comm, int *size);
int MPI_Comm_dup(MPI_Comm comm, MPI_Comm *newcomm);
int MPI_Comm_split(MPI_Comm comm, int color, int key, MPI_Comm *newcomm);
int MPI_Comm_create(MPI_Comm comm, MPI_Group group, MPI_Comm *newcomm);
int MPI_Comm_free(MPI_Comm *comm);
int MPI_Comm_compare(MPI_Comm comm1, MPI_Comm comm2, int *result);
int MPI_Comm_group(MPI_Comm comm, MPI_Group *group);
int MPI_Comm_test_inter(MPI_Comm comm, int *flag);
int MPI_Comm_get_attr(MPI_Comm comm, int keyval, void *attribute_val,
                      int *flag);
int MPI_Attr_get(MPI_Comm comm, int keyval, void *attribute_val, int *flag);
int MPI_Comm_set_name(MPI_Comm comm, const char *name);
int MPI_Comm_get_name(MPI_Comm comm, char *name, int *resultlen);
int MPI_Group_size(MPI_Group group, int *size);
int MPI_Group_rank(MPI_Group group, int *rank);
int MPI_Group_incl(MPI_Group group, int n, const int ranks[],
                   MPI_Group *newgroup);
int MPI_Group_excl(MPI_Group group, int n, const int ranks[],
                   MPI_Group *newgroup);
int MPI_Group_translate_ranks(MPI_Group group1, int n, const int ranks1[],
                              MPI_Group group2, int ranks2[]);
int MPI_Group_compare(MPI_Group group1, MPI_Group group2, int *result);
int MPI_Group_free(MPI_Group *group);

/* ---- datatypes ----------------------------------------------------------- */
int MPI_Type_contiguous(int count, MPI_Datatype oldtype,
                        MPI_Datatype *newtype);
int MPI_Type_vector(int count, int blocklength, int stride,
                    MPI_Datatype oldtype, MPI_Datatype *newtype);
int MPI_Type_create_hvector(int count, int blocklength, MPI_Aint stride,
                            MPI_Datatype oldtype, MPI_Datatype *newtype);
int MPI_Type_indexed(int count, const int blocklengths[],
                     const int displacements[], MPI_Datatype oldtype,
                     MPI_Datatype *newtype);
int MPI_Type_create_hindexed(int count, const int blocklengths[],
                             const MPI_Aint displacements[],
                             MPI_Datatype oldtype, MPI_Datatype *newtype);
int MPI_Type_create_indexed_block(int count, int blocklength,
                                  const int displacements[],
                                  MPI_Datatype oldtype, MPI_Datatype *newtype);
int MPI_Type_create_struct(int count, const int blocklengths[],
                           const MPI_Aint displacements[],
                           const MPI_Datatype types[], MPI_Datatype *newtype);
int MPI_Type_create_resized(MPI_Datatype oldtype, MPI_Aint lb, MPI_Aint extent,
                            MPI_Datatype *newtype);
int MPI_Type_dup(MPI_Datatype oldtype, MPI_Datatype *newtype);
int MPI_Type_commit(MPI_Datatype *datatype);
int MPI_Type_free(MPI_Datatype *datatype);
int MPI_Type_size(MPI_Datatype datatype, int *size);
int MPI_Type_size_x(MPI_Datatype datatype, MPI_Count *size);
int MPI_Type_get_extent(MPI_Datatype datatype, MPI_Aint *lb, MPI_Aint *extent);
int MPI_Type_get_extent_x(MPI_Datatype datatype, MPI_Count *lb,
                          MPI_Count *extent);
int MPI_Type_get_true_extent(MPI_Datatype datatype, MPI_Aint *true_lb,
                             MPI_Aint *true_extent);
int MPI_Type_extent(MPI_Datatype datatype, MPI_Aint *extent);
int MPI_Get_address(const void *location, MPI_Aint *address);
int MPI_Pack(const void *inbuf, int incount, MPI_Datatype datatype,
             void *outbuf, int outsize, int *position, MPI_Comm comm);
int MPI_Unpack(const void *inbuf, int insize, int *position, void *outbuf,
               int outcount, MPI_Datatype datatype, MPI_Comm comm);
int MPI_Pack_size(int incount, MPI_Datatype datatype, MPI_Comm comm,
                  int *size);

/* ---- reduction operations ------------------------------------------------ */
int MPI_Op_create(MPI_User_function *user_fn, int commute, MPI_Op *op);
int MPI_Op_free(MPI_Op *op);
int MPI_Op_commutative(MPI_Op op, int *commute);
int MPI_Reduce_local(const void *inbuf, void *inoutbuf, int count,
                     MPI_Datatype datatype, MPI_Op op);

/* ---- collectives --------------------------------------------------------- */
int MPI_Barrier(MPI_Comm comm);
int MPI_Bcast(void *buffer, int count, MPI_Datatype datatype, int root,
              MPI_Comm comm);
int MPI_Gather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
               void *recvbuf, int recvcount, MPI_Datatype recvtype, int root,
               MPI_Comm comm);
int MPI_Gatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                void *recvbuf, const int recvcounts[], const int displs[],
                MPI_Datatype recvtype, int root, MPI_Comm comm);
int MPI_Scatter(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                void *recvbuf, int recvcount, MPI_Datatype recvtype, int root,
                MPI_Comm comm);
int MPI_Scatterv(const void *sendbuf, const int sendcounts[],
                 const int displs[], MPI_Datatype sendtype, void *recvbuf,
                 int recvcount, MPI_Datatype recvtype, int root,
                 MPI_Comm comm);
int MPI_Allgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                  void *recvbuf, int recvcount, MPI_Datatype recvtype,
                  MPI_Comm comm);
int MPI_Allgatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                   void *recvbuf, const int recvcounts[], const int displs[],
                   MPI_Datatype recvtype, MPI_Comm comm);
int MPI_Alltoall(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                 void *recvbuf, int recvcount, MPI_Datatype recvtype,
                 MPI_Comm comm);
int MPI_Alltoallv(const void *sendbuf, const int sendcounts[],
                  const int sdispls[], MPI_Datatype sendtype, void *recvbuf,
                  const int recvcounts[], const int rdispls[],
                  MPI_Datatype recvtype, MPI_Comm comm);
int MPI_Reduce(const void *sendbuf, void *recvbuf, int count,
               MPI_Datatype datatype, MPI_Op op, int root, MPI_Comm comm);
int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count,
                  MPI_Datatype datatype, MPI_Op op, MPI_Comm comm);
int MPI_Reduce_scatter(const void *sendbuf, void *recvbuf,
                       const int recvcounts[], MPI_Datatype datatype,
                       MPI_Op op, MPI_Comm comm);
int MPI_Reduce_scatter_block(const void *sendbuf, void *recvbuf,
                             int recvcount, MPI_Datatype datatype, MPI_Op op,
                             MPI_Comm comm);
int MPI_Scan(const void *sendbuf, void *recvbuf, int count,
             MPI_Datatype datatype, MPI_Op op, MPI_Comm comm);
int MPI_Exscan(const void *sendbuf, void *recvbuf, int count,
               MPI_Datatype datatype, MPI_Op op, MPI_Comm comm);

int MPI_Ibarrier(MPI_Comm comm, MPI_Request *request);
int MPI_Ibcast(void *buffer, int count, MPI_Datatype datatype, int root,
               MPI_Comm comm, MPI_Request *request);
int MPI_Ireduce(const void *sendbuf, void *recvbuf, int count,
                MPI_Datatype datatype, MPI_Op op, int root, MPI_Comm comm,
                MPI_Request *request);
int MPI_Iallreduce(const void *sendbuf, void *recvbuf, int count,
                   MPI_Datatype datatype, MPI_Op op, MPI_Comm comm,
                   MPI_Request *request);
int MPI_Igather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                void *recvbuf, int recvcount, MPI_Datatype recvtype, int root,
                MPI_Comm comm, MPI_Request *request);
int MPI_Iscatter(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                 void *recvbuf, int recvcount, MPI_Datatype recvtype, int root,
                 MPI_Comm comm, MPI_Request *request);
int MPI_Iallgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                   void *recvbuf, int recvcount, MPI_Datatype recvtype,
                   MPI_Comm comm, MPI_Request *request);
int MPI_Ialltoall(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                  void *recvbuf, int recvcount, MPI_Datatype recvtype,
                  MPI_Comm comm, MPI_Request *request);

/* ---- info (minimal: enough for MPI_Alloc_mem callers) ------------------- */
int MPI_Info_create(MPI_Info *info);
int MPI_Info_set(MPI_Info info, const char *key, const char *value);
int MPI_Info_free(MPI_Info *info);

#ifdef __cplusplus
}
#endif
#endif /* RDMX_MPI_H */
