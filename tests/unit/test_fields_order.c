/* tests/unit/test_fields_order.c - the order in which an event's fields are
 * listed (ABI 1.1 event_field_count / event_field_at, core/runtime/event.c and
 * core/runtime/host_fields.c): the host's stamps first, then each field where
 * its first set put it, whatever is set again or refused later. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/event.h"
#include "runtime/fields.h"
#include "runtime/host.h"

#include <string.h>

static rp_field_id fid(const char *name, uint32_t type)
{
    rp_field_id id = 0;
    int rc = rp__field_intern(name, strlen(name), type, &id);
    if (rc != 0)
        fail_msg("intern %s: %s", name, rp_errname(rc));
    return id;
}

/* The names of ev's fields, in order, joined by spaces. */
static const char *order(const rp_event *ev)
{
    static char out[1024];
    const rp_host_api *h = rp__host_api();
    uint32_t n = 0;
    size_t used = 0;
    out[0] = '\0';
    assert_int_equal(h->event_field_count(ev, &n), 0);
    for (uint32_t i = 0; i < n; i++) {
        rp_field_id id;
        uint32_t type = 0;
        assert_int_equal(h->event_field_at(ev, i, &id, &type), 0);
        assert_int_equal(type, rp__field_type(id));
        size_t len;
        const char *name = rp__field_name(id, &len);
        assert_non_null(name);
        assert_true(used + len + 2 < sizeof out);
        if (used)
            out[used++] = ' ';
        memcpy(out + used, name, len);
        used += len;
        out[used] = '\0';
    }
    rp_field_id id;
    assert_int_equal(h->event_field_at(ev, n, &id, NULL), RP_ERR_RANGE);
    return out;
}

static void test_first_set_order(void **state)
{
    (void)state;
    rp_field_id pid = fid("process.pid", RP_TYPE_I64);
    rp_field_id name = fid("process.name", RP_TYPE_STR);
    rp_field_id args = fid("process.args", RP_TYPE_STR_ARRAY);
    rp_field_id seq = fid("ordertest.seq", RP_TYPE_U64);
    rp_event *ev = NULL;
    assert_int_equal(rp__event_create(1, "process.exec", 0, &ev), 0);
    assert_string_equal(order(ev), "@timestamp event.id event.kind");
    assert_int_equal(rp__event_set_str(ev, name, "bash", 4), 0);
    assert_int_equal(rp__event_set_i64(ev, pid, 42), 0);
    rp_str a[2] = {{"ls", 2}, {"-l", 2}};
    assert_int_equal(rp__event_set_str_array(ev, args, a, 2), 0);
    /* Set again: keeps its place. Refused (wrong type, too big): no entry. */
    assert_int_equal(rp__event_set_str(ev, name, "zsh", 3), 0);
    assert_int_equal(rp__event_set_i64(ev, seq, 1), RP_ERR_TYPE);
    static char big[RP__EVENT_MAX_DATA];
    assert_int_equal(
        rp__event_set_bytes(ev, fid("ordertest.blob", RP_TYPE_BYTES), big, sizeof big - 1),
        RP_ERR_FULL);
    assert_int_equal(rp__event_set_u64(ev, seq, 7), 0);
    /* The @timestamp set by the publisher keeps the host's place. */
    assert_int_equal(rp__event_set_timestamp(ev, RP__F_TIMESTAMP, 5), 0);
    const char *want =
        "@timestamp event.id event.kind process.name process.pid process.args ordertest.seq";
    assert_string_equal(order(ev), want);
    assert_string_equal(order(ev), want); /* stable across reads */

    /* A copy: the host's stamps, then the source's fields in its order. */
    rp_event *cp = NULL;
    assert_int_equal(rp__event_copy(ev, 2, "alert", 0, &cp), 0);
    assert_string_equal(order(cp), want);
    rp__event_release(cp);
    rp__event_release(ev);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    const rp_host_api *h = rp__host_api();
    uint32_t n;
    rp_field_id id;
    rp_event *ev = NULL;
    assert_int_equal(rp__event_create(1, "process.exec", 0, &ev), 0);
    assert_int_equal(h->event_field_count(NULL, &n), RP_ERR_INVAL);
    assert_int_equal(h->event_field_count(ev, NULL), RP_ERR_INVAL);
    assert_int_equal(h->event_field_at(NULL, 0, &id, NULL), RP_ERR_INVAL);
    assert_int_equal(h->event_field_at(ev, 0, NULL, NULL), RP_ERR_INVAL);
    assert_int_equal(h->event_field_at(ev, UINT32_MAX, &id, NULL), RP_ERR_RANGE);
    /* The registry calls need the caller's handle. */
    assert_int_equal(h->field_count(NULL, &n), RP_ERR_INVAL);
    assert_int_equal(h->field_lookup(NULL, "process.pid", 11, &id, NULL), RP_ERR_INVAL);
    assert_int_equal(h->field_provided(NULL, "process.exec", 12, 1, &n), RP_ERR_INVAL);
    rp__event_release(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_set_order),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
