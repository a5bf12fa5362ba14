#include "status.h"

const char *rdmx_status_str(rdmx_status_t status)
{
    switch (status) {
    case RDMX_OK: return "success";
    case RDMX_INPROGRESS: return "in progress";
    case RDMX_ERR_NOMEM: return "out of memory";
    case RDMX_ERR_INVALID: return "invalid argument";
    case RDMX_ERR_IO: return "input/output error";
    case RDMX_ERR_PROTO: return "protocol error (malformed message from peer)";
    case RDMX_ERR_AUTH: return "peer failed authentication";
    case RDMX_ERR_UNREACHABLE: return "no transport reaches the peer";
    case RDMX_ERR_TRUNCATE: return "message truncated";
    case RDMX_ERR_UNSUPPORTED: return "operation not supported";
    case RDMX_ERR_TIMEOUT: return "timed out";
    case RDMX_ERR_PEER_GONE: return "connection to peer lost";
    case RDMX_ERR_NO_DEVICE: return "no usable device";
    case RDMX_ERR_AGAIN: return "resource temporarily unavailable";
    case RDMX_ERR_RANK: return "invalid rank";
    case RDMX_ERR_TAG: return "invalid tag";
    case RDMX_ERR_COUNT: return "invalid count";
    case RDMX_ERR_TYPE: return "invalid datatype";
    case RDMX_ERR_COMM: return "invalid communicator";
    case RDMX_ERR_OP: return "invalid reduction operation";
    case RDMX_ERR_ROOT: return "invalid root";
    case RDMX_ERR_REQUEST: return "invalid request";
    case RDMX_ERR_BUFFER: return "invalid buffer";
    case RDMX_ERR_GROUP: return "invalid group";
    case RDMX_ERR_INTERNAL: return "internal error";
    case RDMX_ERR_NOT_FOUND: return "not found";
    case RDMX_ERR_CANCELLED: return "cancelled";
    }
    return "unknown status";
}
