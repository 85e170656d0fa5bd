/*
 * The field registry of ABI 1.1 against real plugin binaries
 * (tests/abi/plugins/fields11.c) in a real host: lookups, the fields of an
 * event in a stable order, what the running collectors declare (checked
 * against every event the synthetic collector publishes), custom field
 * namespaces and the refusals that name both plugins, a plugin built against
 * the frozen 1.0 header among them; and the loader's checks of provides and
 * field_namespace on crafted descriptors.
 */
#include "config.h"
#include "runtime/fields.h"
#include "runtime/host.h"

#include <jansson.h>
#include <rampart/plugin.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "host_runtime.h"

static char tmpdir[64];

static void find(rp__host *host, const char *name, rp__plugin_info *info, size_t *index)
{
    for (size_t i = 0; i < rp__host_plugin_count(host); i++) {
        assert_int_equal(rp__host_plugin_info(host, i, info), 0);
        if (strcmp(info->name, name) == 0) {
            if (index)
                *index = i;
            return;
        }
    }
    fail_msg("plugin %s not in the host", name);
}

static uint64_t counter(rp__host *host, const char *plugin, const char *name)
{
    rp__plugin_info info;
    size_t index;
    find(host, plugin, &info, &index);
    for (uint32_t c = 0; c < info.ncounters; c++) {
        const char *n;
        uint64_t v;
        assert_int_equal(rp__host_plugin_counter(host, index, c, &n, &v), 0);
        if (strcmp(n, name) == 0)
            return v;
    }
    fail_msg("plugin %s has no counter %s", plugin, name);
    return 0;
}

static void expect_state(rp__host *host, const char *name, enum rp__plugin_state state,
                         const char *part)
{
    rp__plugin_info info;
    find(host, name, &info, NULL);
    if (info.state != state || (part && !strstr(info.error, part)))
        fail_msg("plugin %s: state %d, error \"%s\"; wanted state %d with \"%s\"", name, info.state,
                 info.error, state, part ? part : "");
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The lines of log that contain what (at most 4 KiB of them). */
static const char *lines_of(const char *log, const char *what)
{
    static char out[4096];
    size_t used = 0;
    out[0] = '\0';
    for (const char *p = strstr(log, what); p; p = strstr(p + 1, what)) {
        const char *start = p, *end = strchr(p, '\n');
        while (start > log && start[-1] != '\n')
            start--;
        size_t n = end ? (size_t)(end - start) + 1 : strlen(start);
        if (used + n >= sizeof out)
            break;
        memcpy(out + used, start, n);
        used += n;
        out[used] = '\0';
    }
    return out;
}

static json_t *entry(const char *dir, const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.so", dir, file);
    return json_pack("{s:b, s:s}", "enabled", 1, "file", path);
}

static void test_registry_in_a_real_host(void **state)
{
    (void)state;
    /* The order is the order of load and init: acme registers its field
     * before squat tries it. */
    json_t *plugins = json_object();
    json_object_set_new(plugins, "acme", entry(RP_ABI_PLUGIN_DIR, "fields11_acme"));
    json_object_set_new(plugins, "acme_dup", entry(RP_ABI_PLUGIN_DIR, "fields11_acme_dup"));
    json_object_set_new(plugins, "squat", entry(RP_ABI_PLUGIN_DIR, "fields11_squat"));
    json_object_set_new(plugins, "frozen", entry(RP_ABI_PLUGIN_DIR, "abi_frozen"));
    json_object_set_new(plugins, "bad_ns", entry(RP_ABI_PLUGIN_DIR, "fields11_bad_ns"));
    json_object_set_new(plugins, "bad_provides", entry(RP_ABI_PLUGIN_DIR, "fields11_bad_provides"));
    json_object_set_new(plugins, "check", entry(RP_ABI_PLUGIN_DIR, "fields11_check"));
    json_object_set_new(plugins, "synthetic",
                        json_pack("{s:b, s:s, s:{s:i, s:i}}", "enabled", 1, "file",
                                  RP_PLUGIN_DIR "/collector_synthetic.so", "config", "count", 20,
                                  "rate", 1000));
    json_t *doc = json_pack("{s:{s:s, s:s}, s:o}", "agent", "data_dir", tmpdir, "plugin_dir",
                            RP_PLUGIN_DIR, "plugins", plugins);
    rp__config *cfg = NULL;
    char err[1024];
    assert_int_equal(
        rp__config_from_docs(doc, "test.json", NULL, NULL, NULL, tmpdir, &cfg, err, sizeof err), 0);

    /* The agent's log (stderr) goes to a file, to find the lines that name
     * both plugins. */
    char logpath[128];
    snprintf(logpath, sizeof logpath, "%s/log", tmpdir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    close(fd);

    struct host_runtime rt;
    host_runtime_create(&rt, cfg, 0);
    rp__host *host = rt.host;
    assert_int_equal(rp__host_load(host, err, sizeof err), 0);
    assert_int_equal(host_runtime_start(&rt), 0);
    rp__plugin_info info;
    for (int i = 0; i < 500; i++) {
        if (counter(host, "check", "events") >= 20)
            break;
        usleep(10 * 1000);
    }
    host_runtime_stop(&rt);
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    const char *log = slurp(logpath);

    /* Every event of the synthetic collector: each field declared, the
     * host's first; and the registry calls answered as the ABI says. */
    find(host, "synthetic", &info, NULL);
    assert_int_equal(info.published, 20);
    assert_int_equal(counter(host, "check", "events"), 20);
    if (counter(host, "check", "undeclared") || counter(host, "check", "order_bad") ||
        counter(host, "check", "failed"))
        fail_msg("the check plugin found undeclared fields, a bad order or a wrong answer:\n%s",
                 lines_of(log, "plugin check: "));

    /* A namespace of its own, and a field outside it refused. */
    expect_state(host, "acme", RP__PLUGIN_STOPPED, NULL);
    assert_int_equal(counter(host, "acme", "own_ok"), 1);
    assert_int_equal(counter(host, "acme", "outside_perm"), 1);
    assert_non_null(strstr(log, "plugin acme: custom field \"elsewhere.count\" refused: it lies "
                                "outside the plugin's field namespace \"acme\""));
    /* The same namespace twice: the second is refused, naming the first. */
    expect_state(host, "acme_dup", RP__PLUGIN_REFUSED,
                 "field_namespace \"acme\" is claimed already by plugin acme "
                 "(org.rampart.test.fields11.acme)");
    /* A 1.0 plugin can neither create a field in acme's namespace nor take
     * acme's field with another type; it still uses acme's field as typed. */
    expect_state(host, "squat", RP__PLUGIN_STOPPED, NULL);
    assert_int_equal(counter(host, "squat", "squat_perm"), 1);
    assert_int_equal(counter(host, "squat", "type_refused"), 1);
    assert_int_equal(counter(host, "squat", "existing_ok"), 1);
    assert_non_null(strstr(log, "plugin squat: custom field \"acme.squat\" refused: it lies in "
                                "field namespace \"acme\" of plugin acme "
                                "(org.rampart.test.fields11.acme)"));
    assert_non_null(strstr(log, "plugin squat: field \"acme.count\" as string refused: acme "
                                "(org.rampart.test.fields11.acme) registered it as u64"));
    /* The frozen 1.0 plugin loads and runs as before. */
    find(host, "frozen", &info, NULL);
    assert_int_equal(info.state, RP__PLUGIN_STOPPED);
    assert_int_equal(info.published, 1);
    /* Bad declarations are refused at load, saying what is wrong. */
    expect_state(host, "bad_ns", RP__PLUGIN_REFUSED,
                 "field_namespace \"process\" is an ECS field set");
    expect_state(host, "bad_provides", RP__PLUGIN_REFUSED,
                 "provides[\"process.exec\"]: \"process.pdi\" is not a field the agent knows");

    host_runtime_destroy(&rt);
    rp__config_destroy(cfg);
    json_decref(doc);
    unlink(logpath);
}

/* ---- the loader's checks on crafted descriptors ------------------------------ */

static rp_plugin_descriptor desc_with(const char *ns, const rp_event_fields *provides)
{
    rp_plugin_descriptor d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.abi_major = RP_ABI_MAJOR;
    d.kind = RP_KIND_COLLECTOR;
    d.id = "org.rampart.test.crafted";
    d.field_namespace = ns;
    d.provides = provides;
    return d;
}

static void check_gives(const char *ns, const rp_event_fields *provides, int rc, const char *part)
{
    rp_plugin_descriptor d = desc_with(ns, provides);
    char why[512];
    int got = rp__host_check_fields(&d, why, sizeof why);
    if (got != rc || (part && !strstr(why, part)))
        fail_msg("check gave %s \"%s\"; wanted %s with \"%s\"", rp_errname(got), why,
                 rp_errname(rc), part ? part : "");
}

static void test_namespace_forms(void **state)
{
    (void)state;
    check_gives(NULL, NULL, 0, NULL);
    check_gives("acme", NULL, 0, NULL);
    check_gives("acme_2", NULL, 0, NULL);
    check_gives("", NULL, RP_ERR_INVAL, "is empty");
    check_gives("acme.sub", NULL, RP_ERR_INVAL, "one segment of [a-z0-9_]");
    check_gives("Acme", NULL, RP_ERR_INVAL, "one segment of [a-z0-9_]");
    check_gives("file", NULL, RP_ERR_INVAL, "is an ECS field set");
    check_gives("rampart", NULL, RP_ERR_INVAL, "is reserved for the agent");
    check_gives("labels", NULL, RP_ERR_INVAL, "is reserved for the agent");
    char longns[80];
    memset(longns, 'a', 65);
    longns[65] = '\0';
    check_gives(longns, NULL, RP_ERR_INVAL, "longer than 64 bytes");
}

static void test_provides_checks(void **state)
{
    (void)state;
    static const char *const ok[] = {"process.pid", "crafted.count", NULL};
    static const char *const typo[] = {"process.pdi", NULL};
    static const char *const bad_name[] = {"Process.Pid", NULL};
    static const char *const twice[] = {"process.pid", "process.pid", NULL};
    const rp_event_fields good[] = {{"process.exec", ok}, {"*", ok}, {NULL, NULL}};
    check_gives("crafted", good, 0, NULL);
    /* A custom field outside the namespace, or under an ECS field set. */
    const rp_event_fields outside[] = {{"process.exec", ok}, {NULL, NULL}};
    check_gives(
        "other", outside, RP_ERR_INVAL,
        "custom field \"crafted.count\" lies outside the plugin's field namespace \"other\"");
    const rp_event_fields t1[] = {{"process.exec", typo}, {NULL, NULL}};
    check_gives(NULL, t1, RP_ERR_INVAL, "\"process.pdi\" is not a field the agent knows");
    const rp_event_fields t2[] = {{"process.exec", bad_name}, {NULL, NULL}};
    check_gives(NULL, t2, RP_ERR_INVAL, "\"Process.Pid\" is not a field name");
    const rp_event_fields t3[] = {{"process.exec", twice}, {NULL, NULL}};
    check_gives(NULL, t3, RP_ERR_INVAL, "lists \"process.pid\" twice");
    const rp_event_fields t4[] = {{"process.exec", ok}, {"process.exec", ok}, {NULL, NULL}};
    check_gives("crafted", t4, RP_ERR_INVAL, "lists event type \"process.exec\" twice");
    const rp_event_fields t5[] = {{"Process exec", ok}, {NULL, NULL}};
    check_gives("crafted", t5, RP_ERR_INVAL, "\"Process exec\" is not an event type");
    const rp_event_fields t6[] = {{"process.exec", NULL}, {NULL, NULL}};
    check_gives("crafted", t6, RP_ERR_INVAL, "fields is NULL");

    /* The caps: 64 event types, 256 fields per type. */
    static char types[65][16];
    static rp_event_fields many[66];
    for (int i = 0; i < 65; i++) {
        snprintf(types[i], sizeof types[i], "t.n%d", i);
        many[i] = (rp_event_fields){types[i], ok};
    }
    many[65] = (rp_event_fields){NULL, NULL};
    check_gives("crafted", many, RP_ERR_INVAL, "more than 64 event types");
    many[64] = (rp_event_fields){NULL, NULL};
    check_gives("crafted", many, 0, NULL);
    static char names[257][32];
    static const char *fields[258];
    for (int i = 0; i < 257; i++) {
        snprintf(names[i], sizeof names[i], "crafted.f%d", i);
        fields[i] = names[i];
    }
    fields[257] = NULL;
    const rp_event_fields wide[] = {{"process.exec", fields}, {NULL, NULL}};
    check_gives("crafted", wide, RP_ERR_INVAL, "lists more than 256 fields");
    fields[256] = NULL;
    check_gives("crafted", wide, 0, NULL);
}

/* The registry keeps who registered a field and names it on a type clash. */
static void test_owner_is_named(void **state)
{
    (void)state;
    rp_field_id a, b;
    const char *other = NULL;
    assert_int_equal(
        rp__field_intern_owned("ownertest.x", 11, RP_TYPE_U64, "one (org.x.one)", &a, &other), 0);
    assert_int_equal(
        rp__field_intern_owned("ownertest.x", 11, RP_TYPE_U64, "two (org.x.two)", &b, &other), 0);
    assert_int_equal(a, b);
    assert_string_equal(rp__field_owner(a), "one (org.x.one)");
    assert_int_equal(
        rp__field_intern_owned("ownertest.x", 11, RP_TYPE_STR, "two (org.x.two)", &b, &other),
        RP_ERR_TYPE);
    assert_string_equal(other, "one (org.x.one)");
    assert_string_equal(rp__field_owner(rp__field_lookup("process.pid", 11)), "the agent");
    assert_null(rp__field_owner(0));
}

static int setup(void **state)
{
    (void)state;
    return host_runtime_tmpdir(tmpdir, sizeof tmpdir, "fields11");
}

static int teardown(void **state)
{
    (void)state;
    return host_runtime_tmpdir_remove(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_in_a_real_host),
        cmocka_unit_test(test_namespace_forms),
        cmocka_unit_test(test_provides_checks),
        cmocka_unit_test(test_owner_is_named),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
