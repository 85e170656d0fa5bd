/* tests/unit/test_fields.c - the field registry (core/runtime/fields.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/fields.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int intern(const char *name, uint32_t type, rp_field_id *out)
{
    return rp__field_intern(name, strlen(name), type, out);
}

static void test_standard_types(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint32_t type;
    } std[] = {
        {"@timestamp", RP_TYPE_TIMESTAMP},
        {"event.id", RP_TYPE_STR},
        {"event.kind", RP_TYPE_STR},
        {"event.category", RP_TYPE_STR_ARRAY},
        {"event.type", RP_TYPE_STR_ARRAY},
        {"event.action", RP_TYPE_STR},
        {"event.severity", RP_TYPE_I64},
        {"process.pid", RP_TYPE_I64},
        {"process.args", RP_TYPE_STR_ARRAY},
        {"process.executable", RP_TYPE_STR},
        {"process.start", RP_TYPE_TIMESTAMP},
        {"process.interactive", RP_TYPE_BOOL},
        {"process.parent.pid", RP_TYPE_I64},
        {"source.ip", RP_TYPE_IP},
        {"destination.ip", RP_TYPE_IP},
        {"host.ip", RP_TYPE_IP},
        {"source.port", RP_TYPE_I64},
        {"file.size", RP_TYPE_U64},
        {"network.bytes", RP_TYPE_U64},
        {"rule.id", RP_TYPE_STR},
        {"threat.technique.id", RP_TYPE_STR_ARRAY},
        {"tags", RP_TYPE_STR_ARRAY},
        {"message", RP_TYPE_STR},
    };
    for (size_t i = 0; i < sizeof std / sizeof std[0]; i++) {
        rp_field_id id = 0;
        int rc = intern(std[i].name, std[i].type, &id);
        if (rc != 0)
            fail_msg("%s as %s: %s", std[i].name, rp__type_name(std[i].type), rp_errname(rc));
        assert_int_not_equal(id, 0);
        assert_int_equal(rp__field_type(id), std[i].type);
        size_t len;
        assert_string_equal(rp__field_name(id, &len), std[i].name);
        assert_int_equal(len, strlen(std[i].name));
        assert_int_equal(rp__field_lookup(std[i].name, strlen(std[i].name)), id);
    }
    /* The fields every event has sit at their fixed ids. */
    rp_field_id id;
    assert_int_equal(intern("@timestamp", RP_TYPE_TIMESTAMP, &id), 0);
    assert_int_equal(id, RP__F_TIMESTAMP);
    assert_int_equal(intern("event.id", RP_TYPE_STR, &id), 0);
    assert_int_equal(id, RP__F_EVENT_ID);
    assert_int_equal(intern("event.kind", RP_TYPE_STR, &id), 0);
    assert_int_equal(id, RP__F_EVENT_KIND);
    assert_true(rp__field_count() >= 3);
}

static void test_same_name_same_id(void **state)
{
    (void)state;
    rp_field_id a, b;
    assert_int_equal(intern("process.pid", RP_TYPE_I64, &a), 0);
    assert_int_equal(intern("process.pid", RP_TYPE_I64, &b), 0);
    assert_int_equal(a, b);
    /* Length-delimited: the bytes after len do not matter. */
    assert_int_equal(rp__field_intern("process.pidXYZ", 11, RP_TYPE_I64, &b), 0);
    assert_int_equal(a, b);
    uint32_t before = rp__field_count();
    assert_int_equal(intern("acme.same", RP_TYPE_STR, &a), 0);
    assert_int_equal(intern("acme.same", RP_TYPE_STR, &b), 0);
    assert_int_equal(a, b);
    assert_int_equal(rp__field_count(), before + 1);
}

static void test_type_mismatch(void **state)
{
    (void)state;
    rp_field_id id = 12345;
    assert_int_equal(intern("process.pid", RP_TYPE_STR, &id), RP_ERR_TYPE);
    assert_int_equal(intern("process.args", RP_TYPE_STR, &id), RP_ERR_TYPE);
    assert_int_equal(intern("source.ip", RP_TYPE_STR, &id), RP_ERR_TYPE);
    assert_int_equal(intern("@timestamp", RP_TYPE_I64, &id), RP_ERR_TYPE);
    assert_int_equal(intern("file.size", RP_TYPE_I64, &id), RP_ERR_TYPE);
    assert_int_equal(id, 12345); /* untouched on failure */
    /* Invalid type numbers. */
    assert_int_equal(intern("acme.badtype", 0, &id), RP_ERR_INVAL);
    assert_int_equal(intern("acme.badtype", RP_TYPE_STR_ARRAY + 1, &id), RP_ERR_INVAL);
    assert_int_equal(rp__field_lookup("acme.badtype", 12), 0);
}

static void test_unknown_ecs_name(void **state)
{
    (void)state;
    rp_field_id id;
    uint32_t before = rp__field_count();
    assert_int_equal(intern("process.pdi", RP_TYPE_I64, &id), RP_ERR_NOTFOUND);
    assert_int_equal(intern("file.pathh", RP_TYPE_STR, &id), RP_ERR_NOTFOUND);
    assert_int_equal(intern("event.kindd", RP_TYPE_STR, &id), RP_ERR_NOTFOUND);
    assert_int_equal(intern("host.os.family.x", RP_TYPE_STR, &id), RP_ERR_NOTFOUND);
    assert_int_equal(intern("process", RP_TYPE_STR, &id), RP_ERR_NOTFOUND);
    assert_int_equal(intern("message.x", RP_TYPE_STR, &id), RP_ERR_NOTFOUND);
    assert_int_equal(rp__field_count(), before);
    assert_int_equal(rp__field_lookup("process.pdi", 11), 0);
    /* A name merely starting like a field set is not under it. */
    assert_int_equal(intern("processor.load", RP_TYPE_I64, &id), 0);
    assert_int_equal(intern("filex.y", RP_TYPE_I64, &id), 0);
}

static void test_custom_fields(void **state)
{
    (void)state;
    rp_field_id score, again;
    assert_int_equal(rp__field_lookup("acme.score", 10), 0);
    assert_int_equal(intern("acme.score", RP_TYPE_I64, &score), 0);
    assert_int_not_equal(score, 0);
    assert_int_equal(rp__field_type(score), RP_TYPE_I64);
    assert_int_equal(rp__field_lookup("acme.score", 10), score);
    /* Typed by the first registration. */
    assert_int_equal(intern("acme.score", RP_TYPE_STR, &again), RP_ERR_TYPE);
    assert_int_equal(intern("acme.score", RP_TYPE_I64, &again), 0);
    assert_int_equal(again, score);
    /* Every type works for a custom field, with or without dots. */
    for (uint32_t t = RP_TYPE_I64; t <= RP_TYPE_STR_ARRAY; t++) {
        char name[32];
        snprintf(name, sizeof name, "acme.typed_%u", t);
        rp_field_id id;
        assert_int_equal(intern(name, t, &id), 0);
        assert_int_equal(rp__field_type(id), t);
    }
    rp_field_id flat;
    assert_int_equal(intern("acmescore2", RP_TYPE_U64, &flat), 0);
    assert_int_equal(rp__field_type(flat), RP_TYPE_U64);
    /* Unknown ids. */
    assert_int_equal(rp__field_type(0), 0);
    assert_null(rp__field_name(0, NULL));
    assert_int_equal(rp__field_type(rp__field_count() + 1), 0);
    assert_null(rp__field_name(rp__field_count() + 1, NULL));
    assert_string_equal(rp__type_name(RP_TYPE_IP), "ip");
    assert_string_equal(rp__type_name(99), "unknown");
}

static void test_invalid_names(void **state)
{
    (void)state;
    rp_field_id id;
    static const char *const bad[] = {
        "Acme.score", "acme.Score", "ACME",       "acme..score", ".acme",      "acme.",
        ".",          "..",         "acme score", "acme-score",  "acme/score", "acme\xc3\xa9",
        "@acme",      "acme@x",     "acme\"x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = intern(bad[i], RP_TYPE_STR, &id);
        if (rc != RP_ERR_INVAL)
            fail_msg("'%s': %s", bad[i], rp_errname(rc));
    }
    assert_int_equal(rp__field_intern("", 0, RP_TYPE_STR, &id), RP_ERR_INVAL);
    assert_int_equal(rp__field_intern(NULL, 0, RP_TYPE_STR, &id), RP_ERR_INVAL);
    assert_int_equal(rp__field_intern("acme\0x", 6, RP_TYPE_STR, &id), RP_ERR_INVAL);
    /* 128 bytes is the longest name; 129 is refused. */
    char name[RP__FIELD_NAME_MAX + 2];
    memset(name, 'a', sizeof name);
    memcpy(name, "acme.", 5);
    assert_int_equal(rp__field_intern(name, RP__FIELD_NAME_MAX + 1, RP_TYPE_STR, &id),
                     RP_ERR_INVAL);
    assert_int_equal(rp__field_intern(name, RP__FIELD_NAME_MAX, RP_TYPE_STR, &id), 0);
    size_t len;
    assert_non_null(rp__field_name(id, &len));
    assert_int_equal(len, RP__FIELD_NAME_MAX);
    assert_int_equal(rp__field_lookup(name, RP__FIELD_NAME_MAX + 1), 0);
}

/* Four threads intern the same names (standard and new custom ones) in
 * different orders: everyone gets the same id for a name, ids are distinct
 * across names, and each new name was added once. */
#define THREADS 4
#define NAMES   600

static rp_field_id seen[THREADS][NAMES];

static void name_of(int i, char *buf, size_t len)
{
    if (i % 10 == 0)
        snprintf(buf, len, "process.pid");
    else
        snprintf(buf, len, "acme.conc.f%d", i);
}

static void *intern_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int k = 0; k < NAMES; k++) {
        int i = t % 2 ? NAMES - 1 - k : (k * 7 + t) % NAMES;
        char name[32];
        name_of(i, name, sizeof name);
        uint32_t type = i % 10 == 0 ? RP_TYPE_I64 : RP_TYPE_STR;
        if (rp__field_intern(name, strlen(name), type, &seen[t][i]) != 0)
            return (void *)1;
        /* Readers race with writers: a returned id is readable at once. */
        if (rp__field_type(seen[t][i]) != type)
            return (void *)1;
    }
    return NULL;
}

static void test_concurrent_intern(void **state)
{
    (void)state;
    uint32_t before = rp__field_count();
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, intern_thread, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++) {
        void *ret;
        assert_int_equal(pthread_join(th[t], &ret), 0);
        assert_null(ret);
    }
    /* 7 is coprime with 600, so thread 0's order visits every name. */
    for (int i = 0; i < NAMES; i++) {
        for (int t = 1; t < THREADS; t++)
            assert_int_equal(seen[t][i], seen[0][i]);
        char name[32];
        name_of(i, name, sizeof name);
        size_t len;
        assert_string_equal(rp__field_name(seen[0][i], &len), name);
    }
    for (int i = 1; i < NAMES; i++)
        if (i % 10 != 0)
            assert_int_not_equal(seen[0][i], seen[0][i - 1]);
    assert_int_equal(rp__field_count(), before + NAMES - NAMES / 10);
}

/* Past RP__FIELD_MAX fields the registry refuses new names. Runs last: it
 * fills the registry for the rest of the process. */
static void test_registry_full(void **state)
{
    (void)state;
    rp_field_id id;
    int rc = 0;
    for (int i = 0; rc == 0 && i < RP__FIELD_MAX + 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "acme.fill.f%d", i);
        rc = intern(name, RP_TYPE_I64, &id);
    }
    assert_int_equal(rc, RP_ERR_FULL);
    assert_int_equal(rp__field_count(), RP__FIELD_MAX);
    /* Known names still resolve. */
    assert_int_equal(intern("process.pid", RP_TYPE_I64, &id), 0);
    assert_int_equal(intern("acme.fill.f0", RP_TYPE_I64, &id), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_types),    cmocka_unit_test(test_same_name_same_id),
        cmocka_unit_test(test_type_mismatch),     cmocka_unit_test(test_unknown_ecs_name),
        cmocka_unit_test(test_custom_fields),     cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_concurrent_intern), cmocka_unit_test(test_registry_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
