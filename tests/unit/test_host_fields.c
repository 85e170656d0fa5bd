/*
 * tests/unit/test_host_fields.c - what field_provided answers for a
 * collector's descriptor provides (core/runtime/host_fields.c), with the
 * plugin records and their host made by hand (no plugin file): a "*" entry
 * beside named types covers those types only, and alone covers any type.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/fields.h"
#include "runtime/host.h"
#include "runtime/host_private.h"

#include <string.h>

static const char *const common[] = {"event.action", "file.path", NULL};
static const char *const renamed[] = {"file.name", NULL};
static const char *const none[] = {NULL};
static const rp_event_fields files[] = {
    {"*", common}, {"file.create", none}, {"file.rename", renamed}, {NULL, NULL}};
static const char *const any[] = {"process.name", NULL};
static const rp_event_fields anything[] = {{"*", any}, {NULL, NULL}};

static struct rp_plugin plugins[2];

/* How many running collectors declare field for type. */
static uint32_t provided(const char *type, const char *field)
{
    rp_field_id id = rp__field_lookup(field, strlen(field));
    assert_true(id != 0);
    uint32_t n = 99;
    assert_int_equal(rp__host_api()->field_provided(&plugins[0], type, strlen(type), id, &n), 0);
    return n;
}

static void test_star_beside_named_types(void **state)
{
    (void)state;
    /* The fields under "*" count for each named type, with its own. */
    assert_int_equal(provided("file.create", "file.path"), 1);
    assert_int_equal(provided("file.rename", "file.path"), 1);
    assert_int_equal(provided("file.rename", "file.name"), 1);
    assert_int_equal(provided("file.create", "file.name"), 0);
    /* A type the collector does not name is not one it publishes. */
    assert_int_equal(provided("process.exec", "file.path"), 0);
    assert_int_equal(provided("process.exec", "event.action"), 0);
    assert_int_equal(provided("process.exec", "@timestamp"), 1); /* the other one */
    assert_int_equal(provided("file.create", "@timestamp"), 2);
    /* "*" as the question asks about any type. */
    assert_int_equal(provided("*", "file.path"), 1);
    assert_int_equal(provided("*", "file.name"), 1);
}

static void test_star_alone(void **state)
{
    (void)state;
    assert_int_equal(provided("process.exec", "process.name"), 1);
    assert_int_equal(provided("network.connect", "process.name"), 1);
    assert_int_equal(provided("*", "process.name"), 1);
    assert_int_equal(provided("network.connect", "event.id"), 1);
}

static int setup(void **state)
{
    (void)state;
    static rp__host host;
    static struct rp_plugin *list[2] = {&plugins[0], &plugins[1]};
    host.plugins = list;
    host.nplugins = 2;
    const rp_event_fields *provides[2] = {files, anything};
    static char *names[2] = {"files", "anything"};
    for (int i = 0; i < 2; i++) {
        struct rp_plugin *p = &plugins[i];
        p->host = &host;
        p->name = names[i];
        p->desc.struct_size = sizeof p->desc;
        p->desc.id = names[i];
        p->desc.kind = RP_KIND_COLLECTOR;
        p->desc.provides = provides[i];
        char why[256];
        if (rp__hf_load(&host, p, why, sizeof why) != 0)
            fail_msg("%s: %s", names[i], why);
        rp__hf_set_live(p, 1);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++)
        rp__hf_free(&plugins[i]);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_star_beside_named_types),
        cmocka_unit_test(test_star_alone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
