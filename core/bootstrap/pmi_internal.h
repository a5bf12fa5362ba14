/*
 * pmi_internal.h — state shared by the PMI client back ends (pmi.c
 * dispatches, pmi1.c speaks PMI-1, pmi2.c speaks PMI2 wire).
 */
#ifndef RDMX_PMI_INTERNAL_H
#define RDMX_PMI_INTERNAL_H

#include "kvs.h"
#include "pmi.h"
#include "pmi_wire.h"

typedef enum rdmx_pmi_proto {
    RDMX_PMI_PROTO_SINGLETON,
    RDMX_PMI_PROTO_PMI1,
    RDMX_PMI_PROTO_PMI2,
    RDMX_PMI_PROTO_PMIX,
} rdmx_pmi_proto_t;

struct rdmx_pmi {
    rdmx_pmi_proto_t proto;
    int fd;
    rdmx_pmi_linebuf_t lb;
    rdmx_kvs_t *kvs; /* singleton only */
    int rank, size;
    char kvsname[256];
    int finalized;
};

/* Blocking exchange helpers over pmi->fd. */
rdmx_status_t rdmx_pmi_send_line(rdmx_pmi_t *pmi, const char *line);
/* Read the next line and parse it; the reply must be `expect`. */
rdmx_status_t rdmx_pmi_recv_msg(rdmx_pmi_t *pmi, rdmx_pmi_msg_t *msg,
                                const char *expect);

rdmx_status_t rdmx_pmi1_init(rdmx_pmi_t *pmi, rdmx_pmi_info_t *info);
rdmx_status_t rdmx_pmi1_put(rdmx_pmi_t *pmi, const char *key,
                            const char *value);
rdmx_status_t rdmx_pmi1_fence(rdmx_pmi_t *pmi);
rdmx_status_t rdmx_pmi1_get(rdmx_pmi_t *pmi, const char *key, char *value,
                            size_t value_len);
rdmx_status_t rdmx_pmi1_abort(rdmx_pmi_t *pmi, int code, const char *msg);
rdmx_status_t rdmx_pmi1_finalize(rdmx_pmi_t *pmi);
rdmx_status_t rdmx_pmi2_init(rdmx_pmi_t *pmi, rdmx_pmi_info_t *info);
rdmx_status_t rdmx_pmi2_put(rdmx_pmi_t *pmi, const char *key,
                            const char *value);
rdmx_status_t rdmx_pmi2_fence(rdmx_pmi_t *pmi);
rdmx_status_t rdmx_pmi2_get(rdmx_pmi_t *pmi, int rank, const char *key,
                            char *value, size_t value_len);
rdmx_status_t rdmx_pmi2_abort(rdmx_pmi_t *pmi, int code, const char *msg);
rdmx_status_t rdmx_pmi2_finalize(rdmx_pmi_t *pmi);
/* pmix.c, only when built with libpmix (RDMX_HAVE_PMIX). */
rdmx_status_t rdmx_pmix_init(rdmx_pmi_t *pmi, rdmx_pmi_info_t *info);
rdmx_status_t rdmx_pmix_put(rdmx_pmi_t *pmi, const char *key,
                            const char *value);
rdmx_status_t rdmx_pmix_fence(rdmx_pmi_t *pmi);
rdmx_status_t rdmx_pmix_get(rdmx_pmi_t *pmi, int rank, const char *key,
                            char *value, size_t value_len);
rdmx_status_t rdmx_pmix_abort(rdmx_pmi_t *pmi, int code, const char *msg);
rdmx_status_t rdmx_pmix_finalize(rdmx_pmi_t *pmi);
/* Connect to PMI_PORT ("host:port") and authenticate; sets pmi->fd. */
rdmx_status_t rdmx_pmi1_port_connect(rdmx_pmi_t *pmi, const char *port,
                                     int rank);

#endif
