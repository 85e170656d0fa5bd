/*
 * The loader's side of the ABI contract, against real plugin binaries: a
 * plugin built against the frozen 1.0 header loads and runs; each broken
 * plugin is refused with a message naming the versions and the path; a
 * plugin whose init fails is left off; the others keep running.
 */
#include "config.h"
#include "runtime/host.h"

#include <jansson.h>
#include <rampart/plugin.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "host_runtime.h"

static char tmpdir[64];

static void copy_file(const char *from, const char *to, mode_t mode)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
    assert_int_equal(chmod(to, mode), 0);
}

static const rp__plugin_info *find(rp__host *host, const char *name, rp__plugin_info *info)
{
    for (size_t i = 0; i < rp__host_plugin_count(host); i++) {
        assert_int_equal(rp__host_plugin_info(host, i, info), 0);
        if (strcmp(info->name, name) == 0)
            return info;
    }
    fail_msg("plugin %s not in the host", name);
    return NULL;
}

static void expect_error(rp__host *host, const char *name, enum rp__plugin_state state,
                         const char *part1, const char *part2)
{
    rp__plugin_info info;
    find(host, name, &info);
    if (info.state != state || !strstr(info.error, part1) || (part2 && !strstr(info.error, part2)))
        fail_msg("plugin %s: state %d, error \"%s\"; wanted state %d with \"%s\" and \"%s\"", name,
                 info.state, info.error, state, part1, part2 ? part2 : "");
}

static json_t *entry(const char *file)
{
    return json_pack("{s:b, s:s}", "enabled", 1, "file", file);
}

static void test_refusals_and_survivors(void **state)
{
    (void)state;
    char path[512], wdir[128], wfile[256];
    snprintf(wdir, sizeof wdir, "%s/writable", tmpdir);
    assert_int_equal(mkdir(wdir, 0755), 0);
    snprintf(wfile, sizeof wfile, "%s/abi_frozen.so", wdir);
    copy_file(RP_ABI_PLUGIN_DIR "/abi_frozen.so", wfile, 0666);

    json_t *plugins = json_object();
    /* Order matters for the duplicate check: frozen first, dup_id later. */
    static const char *const variants[] = {
        "frozen", "newer_minor", "other_major",  "small_descriptor", "missing_stop",
        "dup_id", "init_fails",  "not_a_plugin", "newer_schema",     "reserved_set"};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        snprintf(path, sizeof path, RP_ABI_PLUGIN_DIR "/abi_%s.so", variants[i]);
        json_object_set_new(plugins, variants[i], entry(path));
    }
    json_object_set_new(plugins, "world_writable", entry(wfile));
    json_object_set_new(plugins, "missing", entry("/nonexistent/nothing.so"));
    json_object_set_new(plugins, "disabled",
                        json_pack("{s:b, s:s}", "enabled", 0, "file", "/nonexistent/x.so"));
    json_object_set_new(plugins, "synthetic",
                        json_pack("{s:b, s:s, s:{s:i, s:i}}", "enabled", 1, "file",
                                  RP_PLUGIN_DIR "/collector_synthetic.so", "config", "count", 10,
                                  "rate", 1000));

    json_t *doc = json_pack("{s:{s:s, s:s}, s:o}", "agent", "data_dir", tmpdir, "plugin_dir",
                            RP_PLUGIN_DIR, "plugins", plugins);
    rp__config *cfg = NULL;
    char err[1024];
    assert_int_equal(
        rp__config_from_docs(doc, "test.json", NULL, NULL, NULL, tmpdir, &cfg, err, sizeof err), 0);

    struct host_runtime rt;
    host_runtime_create(&rt, cfg, 0);
    rp__host *host = rt.host;
    assert_int_equal(rp__host_load(host, err, sizeof err), 0);
    /* Disabled plugins are not even looked at. */
    assert_int_equal(rp__host_plugin_count(host), 13);
    assert_int_equal(host_runtime_start(&rt), 0);

    rp__plugin_info info;
    find(host, "frozen", &info);
    assert_int_equal(info.state, RP__PLUGIN_RUNNING);
    assert_string_equal(info.id, "org.rampart.test.frozen");
    assert_int_equal(info.published, 1);
    find(host, "synthetic", &info);
    assert_int_equal(info.state, RP__PLUGIN_RUNNING);

    /* The variant asks for three minors more than this header provides. */
    char wants[64], provides[64];
    snprintf(wants, sizeof wants, "requires plugin ABI %d.%d", RP_ABI_MAJOR, RP_ABI_MINOR + 3);
    snprintf(provides, sizeof provides, "this agent provides ABI %d.%d", RP_ABI_MAJOR,
             RP_ABI_MINOR);
    expect_error(host, "newer_minor", RP__PLUGIN_REFUSED, wants, provides);
    expect_error(host, "newer_minor", RP__PLUGIN_REFUSED, RP_ABI_PLUGIN_DIR "/abi_newer_minor.so",
                 NULL);
    expect_error(host, "other_major", RP__PLUGIN_REFUSED, "built for plugin ABI 2.x", provides);
    expect_error(host, "small_descriptor", RP__PLUGIN_REFUSED, "descriptor too small (16 bytes",
                 NULL);
    expect_error(host, "missing_stop", RP__PLUGIN_REFUSED, "lacks the required stop callback",
                 NULL);
    expect_error(host, "dup_id", RP__PLUGIN_REFUSED,
                 "duplicate plugin id \"org.rampart.test.frozen\"",
                 "already loaded as plugin frozen");
    expect_error(host, "init_fails", RP__PLUGIN_FAILED, "init failed: not supported",
                 "cannot open /dev/test-device");
    expect_error(host, "not_a_plugin", RP__PLUGIN_REFUSED,
                 "does not export rampart_plugin_entry_v1", NULL);
    expect_error(host, "newer_schema", RP__PLUGIN_REFUSED, "needs event schema 2",
                 "this agent provides 1");
    expect_error(host, "reserved_set", RP__PLUGIN_REFUSED, "reserved member is 7; expected 0",
                 NULL);
    expect_error(host, "world_writable", RP__PLUGIN_REFUSED, "untrusted file",
                 "writable by others (mode 0666)");
    expect_error(host, "missing", RP__PLUGIN_REFUSED, "/nonexistent/nothing.so", "no such file");

    /* The survivors still run after all that: the collector publishes its
     * 10 events (waiting at most 5 s on a busy machine). */
    for (int i = 0; i < 500; i++) {
        find(host, "synthetic", &info);
        if (info.published >= 10)
            break;
        usleep(10 * 1000);
    }
    assert_int_equal(info.state, RP__PLUGIN_RUNNING);
    assert_int_equal(info.published, 10);

    host_runtime_stop(&rt);
    find(host, "frozen", &info);
    assert_int_equal(info.state, RP__PLUGIN_STOPPED);
    host_runtime_destroy(&rt);
    rp__config_destroy(cfg);
    json_decref(doc);
    unlink(wfile);
    rmdir(wdir);
}

static void test_plugin_config_error_names_file_and_path(void **state)
{
    (void)state;
    json_t *doc = json_pack("{s:{s:s, s:s}, s:{s:{s:b, s:s, s:{s:s}}}}", "agent", "data_dir",
                            tmpdir, "plugin_dir", RP_PLUGIN_DIR, "plugins", "synthetic", "enabled",
                            1, "file", "collector_synthetic.so", "config", "rate", "fast");
    rp__config *cfg = NULL;
    char err[1024];
    assert_int_equal(
        rp__config_from_docs(doc, "main.json", NULL, NULL, NULL, tmpdir, &cfg, err, sizeof err), 0);
    struct host_runtime rt;
    host_runtime_create(&rt, cfg, 1);
    assert_int_equal(rp__host_load(rt.host, err, sizeof err), RP_ERR_CONFIG);
    assert_string_equal(err, "main.json: plugins.synthetic.config.rate: expected integer, got "
                             "string \"fast\"");
    host_runtime_destroy(&rt);
    rp__config_destroy(cfg);
    json_decref(doc);
}

static int setup(void **state)
{
    (void)state;
    return host_runtime_tmpdir(tmpdir, sizeof tmpdir, "abi");
}

static int teardown(void **state)
{
    (void)state;
    return host_runtime_tmpdir_remove(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals_and_survivors),
        cmocka_unit_test(test_plugin_config_error_names_file_and_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
