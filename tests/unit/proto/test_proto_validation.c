/*
 * The core's arrival upcall against hostile headers: unknown types, ranks
 * and tags out of range, lengths that do not fit the type, forged request
 * handles. Each must be refused with RDMX_ERR_PROTO, leave no state behind
 * and never write outside a receive buffer. Runs in a singleton rank (the
 * real runtime, self transport only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/proto.h"
#include "core/request_impl.h"
#include "core/runtime.h"
#include "mpi.h"

static int init_mpi(void **state)
{
    (void)state;
    return MPI_Init(NULL, NULL) == MPI_SUCCESS ? 0 : -1;
}

static int fini_mpi(void **state)
{
    (void)state;
    return MPI_Finalize() == MPI_SUCCESS ? 0 : -1;
}

static rdmx_status_t arrive(const rdmx_wire_hdr_t *hdr, const void *payload)
{
    rdmx_recv_sink_t sink;
    return rdmx_proto_on_header(&rdmx_rt, 0, hdr, payload, &sink);
}

static void unknown_types_are_refused(void **state)
{
    (void)state;
    rdmx_wire_hdr_t h = {.type = 0};
    assert_int_equal(arrive(&h, NULL), RDMX_ERR_PROTO);
    h.type = RDMX_MSG_TYPE_MAX + 1;
    assert_int_equal(arrive(&h, NULL), RDMX_ERR_PROTO);
    h.type = 255;
    assert_int_equal(arrive(&h, NULL), RDMX_ERR_PROTO);
}

static void bad_ranks_and_tags_are_refused(void **state)
{
    (void)state;
    char payload[8] = {0};
    rdmx_wire_hdr_t h = {.type = RDMX_MSG_EAGER, .len = 8, .src = -1};
    assert_int_equal(arrive(&h, payload), RDMX_ERR_PROTO);
    h.src = 1; /* world size is 1 */
    assert_int_equal(arrive(&h, payload), RDMX_ERR_PROTO);
    h.src = 0;
    h.tag = -5;
    assert_int_equal(arrive(&h, payload), RDMX_ERR_PROTO);
    /* The peer argument itself is checked too. */
    rdmx_recv_sink_t sink;
    h.tag = 0;
    assert_int_equal(rdmx_proto_on_header(&rdmx_rt, 7, &h, payload, &sink),
                     RDMX_ERR_PROTO);
    assert_int_equal(rdmx_matcher.nunexpected, 0);
}

static void hostile_lengths_are_refused(void **state)
{
    (void)state;
    rdmx_wire_hdr_t h = {.type = RDMX_MSG_EAGER, .len = (uint64_t)1 << 40};
    /* An eager message far over the eager limit: no giant allocation. */
    assert_int_equal(arrive(&h, NULL), RDMX_ERR_PROTO);
    h.len = UINT64_MAX;
    assert_int_equal(arrive(&h, NULL), RDMX_ERR_PROTO);
    /* RTS must carry exactly one descriptor. */
    h.type = RDMX_MSG_RTS;
    h.len = sizeof(rdmx_rndv_desc_t) + 1;
    assert_int_equal(arrive(&h, NULL), RDMX_ERR_PROTO);
    h.len = 0;
    assert_int_equal(arrive(&h, NULL), RDMX_ERR_PROTO);
    assert_int_equal(rdmx_matcher.nunexpected, 0);
}

static void forged_handles_are_refused(void **state)
{
    (void)state;
    uint64_t rh = 1;
    rdmx_wire_hdr_t h = {.type = RDMX_MSG_CTS, .len = 8, .req = 0x12345678};
    assert_int_equal(arrive(&h, &rh), RDMX_ERR_PROTO);
    h.type = RDMX_MSG_DATA;
    h.len = 4;
    assert_int_equal(arrive(&h, "abcd"), RDMX_ERR_PROTO);
    h.type = RDMX_MSG_FIN;
    h.len = 0;
    assert_int_equal(arrive(&h, NULL), RDMX_ERR_PROTO);
    h.type = RDMX_MSG_SYNC_ACK;
    h.req = UINT64_MAX;
    assert_int_equal(arrive(&h, NULL), RDMX_ERR_PROTO);

    /* A real receive's handle is still refused as the target of a FIN (a
     * FIN names a send) and of DATA (no CTS was sent for it). */
    char buf[4];
    rdmx_request_t *r;
    assert_int_equal(rdmx_irecv(buf, 4, (rdmx_datatype_t *)MPI_BYTE, 0, 3,
                                (rdmx_comm_t *)MPI_COMM_WORLD, RDMX_CTX_P2P,
                                &r),
                     RDMX_OK);
    h.type = RDMX_MSG_FIN;
    h.req = rdmx_request_handle(r);
    assert_int_equal(arrive(&h, NULL), RDMX_ERR_PROTO);
    h.type = RDMX_MSG_DATA;
    h.len = 4;
    assert_int_equal(arrive(&h, "abcd"), RDMX_ERR_PROTO);
    assert_false(rdmx_request_done(r));
    MPI_Request mr = r;
    MPI_Cancel(&mr);
    MPI_Wait(&mr, MPI_STATUS_IGNORE);
}

static void truncation_never_overruns(void **state)
{
    (void)state;
    unsigned char buf[16];
    memset(buf, 0xab, sizeof(buf));
    rdmx_request_t *r;
    assert_int_equal(rdmx_irecv(buf, 8, (rdmx_datatype_t *)MPI_BYTE, 0, 9,
                                (rdmx_comm_t *)MPI_COMM_WORLD, RDMX_CTX_P2P,
                                &r),
                     RDMX_OK);
    unsigned char payload[12];
    memset(payload, 0x11, sizeof(payload));
    rdmx_wire_hdr_t h = {.type = RDMX_MSG_EAGER, .len = sizeof(payload),
                         .tag = 9, .context_id = 0};
    assert_int_equal(arrive(&h, payload), RDMX_OK);
    assert_true(rdmx_request_done(r));
    for (int i = 0; i < 8; i++)
        assert_int_equal(buf[i], 0x11);
    for (int i = 8; i < 16; i++)
        assert_int_equal(buf[i], 0xab);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Request mr = r;
    MPI_Status st;
    assert_int_equal(MPI_Wait(&mr, &st), MPI_ERR_TRUNCATE);
    int count;
    MPI_Get_count(&st, MPI_BYTE, &count);
    assert_int_equal(count, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unknown_types_are_refused),
        cmocka_unit_test(bad_ranks_and_tags_are_refused),
        cmocka_unit_test(hostile_lengths_are_refused),
        cmocka_unit_test(forged_handles_are_refused),
        cmocka_unit_test(truncation_never_overruns),
    };
    return cmocka_run_group_tests_name("proto_validation", tests, init_mpi,
                                       fini_mpi);
}
