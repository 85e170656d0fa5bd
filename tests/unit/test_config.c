/*
 * tests/unit/test_config.c - loading the layered configuration from real files
 * (core/config.c): every bad input gives RP_ERR_CONFIG and one exact line
 * naming the file, the JSON path, what was expected and what was found.
 *
 * Each test runs in its own folder under /tmp and makes it the working
 * directory, so that file names in messages are the short relative names a
 * user would type ("rampart.json", "sites/north.json").
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "testutil.h"

#include <rampart/plugin.h>

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
    char dir[64];        /* the temporary folder, as created */
    char real[PATH_MAX]; /* its canonical path */
    char oldcwd[PATH_MAX];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || tu_mkdtemp("config", f->dir, sizeof f->dir) != 0)
        return -1;
    if (!realpath(f->dir, f->real) || !getcwd(f->oldcwd, sizeof f->oldcwd) || chdir(f->dir) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = chdir(f->oldcwd);
    rc |= tu_rm_rf(f->dir);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Writes a file relative to the test folder, creating its folder. */
static void put(const char *name, const char *text)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(name, '/');
    if (slash) {
        size_t n = (size_t)(slash - name);
        assert_true(n < sizeof dir);
        memcpy(dir, name, n);
        dir[n] = '\0';
        /* One level is all the tests need, plus config/sites. */
        char *inner = strchr(dir, '/');
        if (inner) {
            *inner = '\0';
            mkdir(dir, 0755);
            *inner = '/';
        }
        mkdir(dir, 0755);
    }
    assert_int_equal(tu_write(name, text), 0);
}

/* A minimal valid main file: the built-in defaults supply the rest. */
#define MAIN_OK "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\"}}"
#define MAIN_NORTH                                                                                 \
    "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\",\"site\":\"north\"}}"

/* rp__config_load must fail with RP_ERR_CONFIG and exactly this line. */
static void expect_error(const char *main_file, const char *site, const char *want)
{
    char err[RP__CONFIG_ERR_MAX];
    rp__config *cfg = NULL;
    memset(err, 0, sizeof err);
    int rc = rp__config_load(main_file, site, &cfg, err, sizeof err);
    if (rc != RP_ERR_CONFIG)
        fail_msg("%s (site %s): expected RP_ERR_CONFIG, got %d (%s)", main_file,
                 site ? site : "none", rc, err);
    assert_null(cfg);
    assert_string_equal(err, want);
    assert_null(strchr(err, '\n'));
    assert_null(strchr(err, '\r'));
}

static rp__config *load_ok(const char *main_file, const char *site)
{
    char err[RP__CONFIG_ERR_MAX] = "";
    rp__config *cfg = NULL;
    int rc = rp__config_load(main_file, site, &cfg, err, sizeof err);
    if (rc != 0)
        fail_msg("%s (site %s): expected success, got %d: %s", main_file, site ? site : "none", rc,
                 err);
    assert_non_null(cfg);
    return cfg;
}

static const json_t *at(const json_t *root, const char *a, const char *b)
{
    const json_t *v = json_object_get(root, a);
    return b ? json_object_get(v, b) : v;
}

/* ---- malformed JSON ---------------------------------------------------- */

static void test_malformed_json(void **state)
{
    (void)state;
    put("rampart.json", "{\n  \"agent\": {\n    \"log_level\": \"info\",\n  }\n}\n");
    expect_error("rampart.json", NULL,
                 "rampart.json: line 4, column 3: invalid JSON: string or '}' expected near '}'");
    put("rampart.json", "");
    expect_error("rampart.json", NULL,
                 "rampart.json: line 1, column 0: invalid JSON: '[' or '{' expected near end of "
                 "file");
    put("rampart.json", "{\"agent\":{}}\n{\"output\":{}}\n");
    expect_error("rampart.json", NULL,
                 "rampart.json: line 2, column 1: invalid JSON: end of file expected near '{'");
    put("rampart.json", "{\"agent\":{\"log_level\":\"in\nfo\"}}");
    expect_error("rampart.json", NULL,
                 "rampart.json: line 1, column 25: invalid JSON: unexpected newline near '\"in'");
    put("rampart.json", "{\"agent\":{\"site\":\"a\\u0000b\"}}");
    expect_error("rampart.json", NULL,
                 "rampart.json: line 1, column 27: invalid JSON: \\u0000 is not allowed without "
                 "JSON_ALLOW_NUL near '\"a\\u0000b\"'");
    put("rampart.json", "{\"plugins\":{\"p\":{\"config\":{\"n\":1e999}}}}");
    expect_error("rampart.json", NULL,
                 "rampart.json: line 1, column 36: invalid JSON: real number overflow near "
                 "'1e999'");
    /* In the overlay, the overlay is named. */
    put("rampart.json", MAIN_NORTH);
    put("sites/north.json", "{\"agent\": }");
    expect_error("rampart.json", NULL,
                 "sites/north.json: line 1, column 11: invalid JSON: unexpected token near '}'");
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    put("rampart.json", "{\"agent\":{},\"agent\":{}}");
    expect_error("rampart.json", NULL,
                 "rampart.json: line 1, column 19: invalid JSON: duplicate object key near "
                 "'\"agent\"'");
    put("rampart.json", MAIN_NORTH);
    put("sites/north.json", "{\"plugins\":{\"proc\":{\"enabled\":true,\"enabled\":false}}}");
    expect_error("rampart.json", NULL,
                 "sites/north.json: line 1, column 44: invalid JSON: duplicate object key near "
                 "'\"enabled\"'");
}

/* ---- wrong types ------------------------------------------------------- */

static void test_issue_example_wrong_type_in_overlay(void **state)
{
    (void)state;
    /* The example of issue 2, with the file named as the user named it. */
    put("config/rampart.json",
        "{\"agent\":{\"data_dir\":\"../data\",\"plugin_dir\":\"../plugins\",\"site\":\"north\"},"
        "\"plugins\":{\"proc\":{\"enabled\":false,\"file\":\"proc.so\"}}}");
    put("config/sites/north.json", "{\"plugins\":{\"proc\":{\"enabled\":\"yes\"}}}");
    expect_error("config/rampart.json", NULL,
                 "config/sites/north.json: plugins.proc.enabled: expected boolean, got string "
                 "\"yes\"");
    /* The same value in the main file names the main file. */
    put("config/rampart.json",
        "{\"agent\":{\"data_dir\":\"../data\",\"plugin_dir\":\"../plugins\"},"
        "\"plugins\":{\"proc\":{\"enabled\":\"yes\",\"file\":\"proc.so\"}}}");
    expect_error("config/rampart.json", NULL,
                 "config/rampart.json: plugins.proc.enabled: expected boolean, got string "
                 "\"yes\"");
}

/* The RSS ceiling must leave room for the queued events it also holds; the
 * error names the file that set the ceiling. */
static void test_rss_ceiling_above_bus_cap(void **state)
{
    (void)state;
    put("config/rampart.json",
        "{\"agent\":{\"data_dir\":\"../data\",\"plugin_dir\":\"../plugins\",\"site\":\"north\"}}");
    put("config/sites/north.json", "{\"agent\":{\"max_rss_bytes\":67108864}}");
    expect_error("config/rampart.json", NULL,
                 "config/sites/north.json: agent.max_rss_bytes: expected 0 (no ceiling) or at "
                 "least agent.bus_max_bytes + 33554432 = 100663296, got 67108864");
    /* Below the supervisor's memory budget, which restarts the worker. */
    put("config/sites/north.json",
        "{\"agent\":{\"max_rss_bytes\":1073741824,\"supervisor\":{\"memory_mb\":1024}}}");
    expect_error("config/rampart.json", NULL,
                 "config/sites/north.json: agent.max_rss_bytes: expected less than the "
                 "supervisor's memory budget (agent.supervisor.memory_mb 1024 = 1073741824 bytes), "
                 "got 1073741824");
    put("config/sites/north.json",
        "{\"agent\":{\"max_rss_bytes\":1073741824,\"supervisor\":{\"enabled\":false}}}");
    rp__config *nosup = NULL;
    char nerr[RP__CONFIG_ERR_MAX];
    assert_int_equal(rp__config_load("config/rampart.json", NULL, &nosup, nerr, sizeof nerr), 0);
    rp__config_destroy(nosup);
    put("config/sites/north.json", "{\"agent\":{\"max_rss_bytes\":0}}");
    rp__config *cfg = NULL;
    char err[RP__CONFIG_ERR_MAX];
    assert_int_equal(rp__config_load("config/rampart.json", NULL, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg->max_rss_bytes, 0);
    rp__config_destroy(cfg);
    put("config/sites/north.json",
        "{\"agent\":{\"bus_max_bytes\":1048576,\"max_rss_bytes\":34603008}}");
    assert_int_equal(rp__config_load("config/rampart.json", NULL, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg->max_rss_bytes, 34603008);
    rp__config_destroy(cfg);
}

static void test_wrong_types(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{\"agent\":\"x\"}", "rampart.json: agent: expected object, got string \"x\""},
        {"{\"agent\":{\"log_level\":5}}",
         "rampart.json: agent.log_level: expected string, got integer 5"},
        {"{\"agent\":{\"log_level\":\"loud\"}}",
         "rampart.json: agent.log_level: expected one of \"error\", \"warn\", \"info\", "
         "\"debug\", got string \"loud\""},
        {"{\"agent\":{\"log_target\":\"file\"}}",
         "rampart.json: agent.log_target: expected one of \"auto\", \"stderr\", \"syslog\", got "
         "string \"file\""},
        {"{\"agent\":{\"data_dir\":\"\"}}",
         "rampart.json: agent.data_dir: expected a string of at least 1 byte(s), got string "
         "\"\""},
        {"{\"agent\":{\"pid_file\":false}}",
         "rampart.json: agent.pid_file: expected string, got boolean false"},
        {"{\"agent\":{\"site\":5}}", "rampart.json: agent.site: expected string, got integer 5"},
        {"{\"output\":[]}", "rampart.json: output: expected object, got array"},
        {"{\"output\":{\"stdout\":\"yes\"}}",
         "rampart.json: output.stdout: expected one of true, false, \"json\", \"text\", got "
         "string \"yes\""},
        {"{\"output\":{\"file\":null}}", "rampart.json: output.file: required key missing"},
        {"{\"plugins\":[]}", "rampart.json: plugins: expected object, got array"},
        {"{\"plugins\":{\"proc\":true}}",
         "rampart.json: plugins.proc: expected object, got boolean true"},
        {"{\"plugins\":{\"proc\":{\"enabled\":true}}}",
         "rampart.json: plugins.proc.file: required key missing"},
        {"{\"plugins\":{\"proc\":{\"enabled\":1,\"file\":\"p.so\"}}}",
         "rampart.json: plugins.proc.enabled: expected boolean, got integer 1"},
        {"{\"plugins\":{\"proc\":{\"enabled\":true,\"file\":\"p.so\",\"config\":[]}}}",
         "rampart.json: plugins.proc.config: expected object, got array"},
        {"{\"plugins\":{\"bad/name\":{\"enabled\":true,\"file\":\"p.so\"}}}",
         "rampart.json: plugins[\"bad/name\"]: invalid key: expected a name of letters, digits, "
         "'_', '-' and '.' that does not start with '.' or '-' and has no \"..\", got string "
         "\"bad/name\""},
        {"{\"agent\":{\"log_level\":null}}", "rampart.json: agent.log_level: required key missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put("rampart.json", cases[i].text);
        expect_error("rampart.json", NULL, cases[i].want);
    }
}

/* ---- unknown keys ------------------------------------------------------ */

static void test_unknown_keys(void **state)
{
    (void)state;
    put("rampart.json", "{\"agnet\":{}}");
    expect_error("rampart.json", NULL,
                 "rampart.json: agnet: unknown key; did you mean \"agent\"? (allowed: agent, "
                 "output, spool, collectors, plugins, policy)");
    put("rampart.json", "{\"agent\":{\"log_levle\":\"debug\"}}");
    expect_error("rampart.json", NULL,
                 "rampart.json: agent.log_levle: unknown key; did you mean \"log_level\"? "
                 "(allowed: site, data_dir, plugin_dir, pid_file, log_level, log_target, "
                 "health_interval_ms, loop_slice_us, loop_realtime_max_cpu_pct, labels, "
                 "bus_max_bytes, stop_grace_ms, control_socket, plugin_command_timeout_ms, "
                 "plugin_file_reloads_max, trusted_keys, require_signed_plugins, max_rss_bytes, "
                 "drop_capabilities, deadlines, plugin_budget, supervisor, "
                 "plugin_faults)");
    put("rampart.json", "{\"agent\":{\"colour\":\"red\"}}");
    expect_error("rampart.json", NULL,
                 "rampart.json: agent.colour: unknown key (allowed: site, data_dir, plugin_dir, "
                 "pid_file, log_level, log_target, health_interval_ms, loop_slice_us, "
                 "loop_realtime_max_cpu_pct, labels, bus_max_bytes, stop_grace_ms, "
                 "control_socket, plugin_command_timeout_ms, plugin_file_reloads_max, "
                 "trusted_keys, require_signed_plugins, max_rss_bytes, drop_capabilities, "
                 "deadlines, plugin_budget, supervisor, plugin_faults)");
    put("rampart.json", "{\"output\":{\"fiel\":\"x\"}}");
    expect_error(
        "rampart.json", NULL,
        "rampart.json: output.fiel: unknown key; did you mean \"file\"? (allowed: file, "
        "file_max_bytes, file_keep, file_max_rotations_per_min, flush_interval_ms, stdout, "
        "url, format, ca_file, "
        "client_cert, client_key, pinned_pubkey, token_file, proxy, timeout_ms, "
        "batch_max_events, batch_max_bytes, gzip, auth_scheme, elastic, splunk, loki, "
        "otlp)");
    put("rampart.json",
        "{\"plugins\":{\"proc\":{\"enabled\":true,\"file\":\"p.so\",\"confg\":{}}}}");
    expect_error("rampart.json", NULL,
                 "rampart.json: plugins.proc.confg: unknown key; did you mean \"config\"? "
                 "(allowed: enabled, file, config, cpu_percent, isolation, sandbox)");
    /* Unknown keys in an overlay name the overlay. */
    put("rampart.json", MAIN_NORTH);
    put("sites/north.json", "{\"output\":{\"stdot\":false}}");
    expect_error("rampart.json", NULL,
                 "sites/north.json: output.stdot: unknown key; did you mean \"stdout\"? (allowed: "
                 "file, file_max_bytes, file_keep, file_max_rotations_per_min, flush_interval_ms, "
                 "stdout, url, format, ca_file, "
                 "client_cert, client_key, pinned_pubkey, token_file, proxy, timeout_ms, "
                 "batch_max_events, batch_max_bytes, gzip, auth_scheme, elastic, splunk, loki, "
                 "otlp)");
}

/* ---- files that cannot be read ---------------------------------------- */

static void test_missing_and_unreadable_files(void **state)
{
    (void)state;
    expect_error("missing.json", NULL, "missing.json: cannot read: No such file or directory");
    expect_error("nowhere/rampart.json", NULL,
                 "nowhere/rampart.json: cannot read: No such file or directory");
    /* A folder where the file should be (tests run as root, so a chmod 000
     * file would still be readable). */
    assert_int_equal(mkdir("adir", 0755), 0);
    expect_error("adir", NULL, "adir: not a regular file");
    /* A file used as a folder. */
    put("plain", "x");
    expect_error("plain/rampart.json", NULL, "plain/rampart.json: cannot read: Not a directory");
    /* Larger than the limit: refused before reading. */
    int fd = open("huge.json", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)RP__CONFIG_MAX_BYTES + 1), 0);
    close(fd);
    expect_error("huge.json", NULL, "huge.json: file is larger than 4194304 bytes");
    /* A missing or unreadable overlay names the overlay. */
    put("rampart.json", MAIN_NORTH);
    expect_error("rampart.json", NULL, "sites/north.json: cannot read: No such file or directory");
    assert_int_equal(mkdir("sites", 0755), 0);
    assert_int_equal(mkdir("sites/north.json", 0755), 0);
    expect_error("rampart.json", NULL, "sites/north.json: not a regular file");
    expect_error("rampart.json", "south",
                 "sites/south.json: cannot read: No such file or directory");
}

/* ---- site names -------------------------------------------------------- */

#define SITE_RULE                                                                                  \
    "expected a site name of letters, digits, '_', '-' and '.' that does not start with '.' or "   \
    "'-', has no \"..\" and is at most 64 bytes"

static void test_bad_site_names(void **state)
{
    (void)state;
    put("rampart.json", MAIN_OK);
    put("sites/ok.json", "{}");
    /* From --site. */
    expect_error("rampart.json", "a/b", "--site: " SITE_RULE ", got \"a/b\"");
    expect_error("rampart.json", "..", "--site: " SITE_RULE ", got \"..\"");
    expect_error("rampart.json", "../etc/passwd", "--site: " SITE_RULE ", got \"../etc/passwd\"");
    expect_error("rampart.json", "a..b", "--site: " SITE_RULE ", got \"a..b\"");
    expect_error("rampart.json", ".hidden", "--site: " SITE_RULE ", got \".hidden\"");
    expect_error("rampart.json", ".", "--site: " SITE_RULE ", got \".\"");
    expect_error("rampart.json", "", "--site: " SITE_RULE ", got \"\"");
    expect_error("rampart.json", "-x", "--site: " SITE_RULE ", got \"-x\"");
    expect_error("rampart.json", "/etc/passwd", "--site: " SITE_RULE ", got \"/etc/passwd\"");
    char long_name[66];
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    char want[512];
    /* The name is quoted cut to 64 bytes. */
    snprintf(want, sizeof want, "--site: " SITE_RULE ", got \"%.64s\"", long_name);
    expect_error("rampart.json", long_name, want);
    /* 64 bytes is allowed (and then simply missing here). */
    long_name[64] = '\0';
    snprintf(want, sizeof want, "sites/%s.json: cannot read: No such file or directory", long_name);
    expect_error("rampart.json", long_name, want);

    /* From agent.site in the main file. */
    put("rampart.json", "{\"agent\":{\"site\":\"../etc\"}}");
    expect_error("rampart.json", NULL, "rampart.json: agent.site: " SITE_RULE ", got \"../etc\"");
    put("rampart.json", "{\"agent\":{\"site\":\"a/b\"}}");
    expect_error("rampart.json", NULL, "rampart.json: agent.site: " SITE_RULE ", got \"a/b\"");
    put("rampart.json", "{\"agent\":{\"site\":\".north\"}}");
    expect_error("rampart.json", NULL, "rampart.json: agent.site: " SITE_RULE ", got \".north\"");
    put("rampart.json", "{\"agent\":{\"site\":\"\"}}");
    expect_error("rampart.json", NULL, "rampart.json: agent.site: " SITE_RULE ", got \"\"");
    /* A bad agent.site does not matter when --site overrides it. */
    rp__config *cfg = load_ok("rampart.json", "ok");
    assert_string_equal(cfg->site, "ok");
    rp__config_destroy(cfg);
}

/* ---- overlays ---------------------------------------------------------- */

static void test_overlay_not_an_object(void **state)
{
    (void)state;
    put("rampart.json", MAIN_NORTH);
    put("sites/north.json", "[{\"agent\":{}}]");
    expect_error("rampart.json", NULL,
                 "sites/north.json: (top level): expected object (a JSON merge patch), got array");
    /* Scalars are not JSON documents to the parser (no JSON_DECODE_ANY). */
    put("sites/north.json", "\"debug\"");
    expect_error("rampart.json", NULL,
                 "sites/north.json: line 1, column 7: invalid JSON: '[' or '{' expected near "
                 "'\"debug\"'");
    put("sites/north.json", "42");
    expect_error("rampart.json", NULL,
                 "sites/north.json: line 1, column 2: invalid JSON: '[' or '{' expected near '42'");
    put("sites/north.json", "null");
    expect_error("rampart.json", NULL,
                 "sites/north.json: line 1, column 4: invalid JSON: '[' or '{' expected near "
                 "'null'");
}

/* The same through rp__config_from_docs, which sees already parsed scalars. */
static void test_from_docs_scalars(void **state)
{
    (void)state;
    json_t *main_doc = json_loads(MAIN_OK, 0, NULL);
    json_t *str = json_string("debug"), *num = json_integer(42), *arr = json_array();
    char err[RP__CONFIG_ERR_MAX];
    rp__config *cfg = NULL;
    assert_int_equal(rp__config_from_docs(main_doc, "m.json", str, "sites/x.json", "x", "/tmp",
                                          &cfg, err, sizeof err),
                     RP_ERR_CONFIG);
    assert_string_equal(err, "sites/x.json: (top level): expected object (a JSON merge patch), "
                             "got string \"debug\"");
    assert_int_equal(rp__config_from_docs(main_doc, "m.json", num, "sites/x.json", "x", "/tmp",
                                          &cfg, err, sizeof err),
                     RP_ERR_CONFIG);
    assert_string_equal(err, "sites/x.json: (top level): expected object (a JSON merge patch), "
                             "got integer 42");
    assert_int_equal(
        rp__config_from_docs(num, "m.json", NULL, NULL, NULL, "/tmp", &cfg, err, sizeof err),
        RP_ERR_CONFIG);
    assert_string_equal(err, "m.json: (top level): expected object, got integer 42");
    assert_int_equal(
        rp__config_from_docs(arr, "m.json", NULL, NULL, NULL, "/tmp", &cfg, err, sizeof err),
        RP_ERR_CONFIG);
    assert_string_equal(err, "m.json: (top level): expected object, got array");
    assert_null(cfg);
    /* And a good pair. */
    json_t *overlay = json_loads("{\"agent\":{\"log_level\":\"warn\"}}", 0, NULL);
    assert_int_equal(rp__config_from_docs(main_doc, "m.json", overlay, "sites/x.json", "x",
                                          "/etc/rampart", &cfg, err, sizeof err),
                     0);
    assert_int_equal(cfg->log_level, RP__LOG_WARN);
    assert_string_equal(cfg->data_dir, "/etc/rampart/data");
    assert_string_equal(cfg->site_file, "sites/x.json");
    rp__config_destroy(cfg);
    json_decref(overlay);
    json_decref(arr);
    json_decref(num);
    json_decref(str);
    json_decref(main_doc);
}

static void test_overlay_cannot_choose_site(void **state)
{
    (void)state;
    put("rampart.json", MAIN_NORTH);
    put("sites/north.json", "{\"agent\":{\"site\":\"south\"}}");
    expect_error("rampart.json", NULL,
                 "sites/north.json: agent.site: a site overlay cannot choose the site; expected "
                 "\"north\" or nothing, got string \"south\"");
    put("sites/north.json", "{\"agent\":{\"site\":null}}");
    expect_error("rampart.json", NULL,
                 "sites/north.json: agent.site: a site overlay cannot choose the site; expected "
                 "\"north\" or nothing, got null");
    /* Naming its own site is harmless. */
    put("sites/north.json", "{\"agent\":{\"site\":\"north\"}}");
    rp__config *cfg = load_ok("rampart.json", NULL);
    assert_string_equal(cfg->site, "north");
    rp__config_destroy(cfg);
}

static void test_overlay_deletes_required_key(void **state)
{
    (void)state;
    put("rampart.json", MAIN_NORTH);
    put("sites/north.json", "{\"agent\":{\"data_dir\":null}}");
    expect_error("rampart.json", NULL, "sites/north.json: agent.data_dir: required key missing");
    put("sites/north.json", "{\"output\":null}");
    expect_error("rampart.json", NULL, "sites/north.json: output: required key missing");
    put("sites/north.json", "{\"agent\":null}");
    expect_error("rampart.json", NULL, "sites/north.json: agent: required key missing");
    /* A required key of a plugin entry the main file declares. */
    put("rampart.json",
        "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\",\"site\":\"north\"},"
        "\"plugins\":{\"proc\":{\"enabled\":true,\"file\":\"proc.so\"}}}");
    put("sites/north.json", "{\"plugins\":{\"proc\":{\"file\":null}}}");
    expect_error("rampart.json", NULL, "sites/north.json: plugins.proc.file: required key missing");
    /* Deleting a whole plugin entry is fine: that is how a site drops one. */
    put("sites/north.json", "{\"plugins\":{\"proc\":null}}");
    rp__config *cfg = load_ok("rampart.json", NULL);
    assert_int_equal(json_object_size(at(cfg->root, "plugins", NULL)), 0);
    rp__config_destroy(cfg);
}

/* A plugin entry without its required "file" is blamed on the file that wrote
 * the entry, never on the built-in defaults. */
static void test_missing_key_names_the_layer_that_wrote_the_entry(void **state)
{
    (void)state;
    put("rampart.json", MAIN_NORTH);
    put("sites/north.json", "{\"plugins\":{\"proc\":{\"enabled\":true}}}");
    /* An entry the overlay adds without a file is no plugin the main file
     * knows: said as such, not as the keys it lacks. */
    expect_error("rampart.json", NULL,
                 "sites/north.json: plugins.proc: no plugin \"proc\" in rampart.json; a new "
                 "plugin needs \"enabled\" and \"file\"");
    /* The main file wrote the incomplete entry, the overlay only switches it on. */
    put("rampart.json",
        "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\",\"site\":\"north\"},"
        "\"plugins\":{\"proc\":{\"enabled\":false}}}");
    expect_error("rampart.json", NULL, "rampart.json: plugins.proc.file: required key missing");
    /* Missing enabled in an entry the overlay adds. */
    put("rampart.json", MAIN_NORTH);
    put("sites/north.json", "{\"plugins\":{\"fim\":{\"file\":\"fim.so\"}}}");
    expect_error("rampart.json", NULL,
                 "sites/north.json: plugins.fim.enabled: required key missing");
}

/* rp__config_load must fail with RP_ERR_CONFIG and exactly these lines. */
static void expect_errors(const char *main_file, const char *site, const char *const *want,
                          size_t n)
{
    char err[RP__CONFIG_ERR_MAX];
    char joined[RP__CONFIG_ERR_MAX] = "";
    rp__config *cfg = NULL;
    memset(err, 0, sizeof err);
    int rc = rp__config_load(main_file, site, &cfg, err, sizeof err);
    if (rc != RP_ERR_CONFIG)
        fail_msg("%s: expected RP_ERR_CONFIG, got %d (%s)", main_file, rc, err);
    assert_null(cfg);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += (size_t)snprintf(joined + pos, sizeof joined - pos, "%s%s", i ? "\n" : "", want[i]);
    assert_string_equal(err, joined);
}

static void test_every_error_is_reported(void **state)
{
    (void)state;
    /* Three mistakes in the main file and two in the overlay: five lines,
     * each naming its own file and path. */
    put("rampart.json",
        "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\",\"site\":\"north\","
        "\"log_level\":\"loud\",\"health_interval_ms\":5},"
        "\"output\":{\"stdout\":\"yes\"}}");
    put("sites/north.json", "{\"spool\":{\"fsync\":\"sometimes\"},\"output\":{\"gzpi\":true}}");
    static const char *const want[] = {
        "rampart.json: agent.log_level: expected one of \"error\", \"warn\", \"info\", \"debug\", "
        "got string \"loud\"",
        "rampart.json: agent.health_interval_ms: expected a number >= 100, got integer 5",
        "rampart.json: output.stdout: expected one of true, false, \"json\", \"text\", got string "
        "\"yes\"",
        "sites/north.json: output.gzpi: unknown key; did you mean \"gzip\"? (allowed: file, "
        "file_max_bytes, file_keep, file_max_rotations_per_min, flush_interval_ms, stdout, url, "
        "format, ca_file, client_cert, "
        "client_key, pinned_pubkey, token_file, proxy, timeout_ms, batch_max_events, "
        "batch_max_bytes, gzip, auth_scheme, elastic, splunk, loki, otlp)",
        "sites/north.json: spool.fsync: expected one of \"always\", \"batch\", \"never\", got "
        "string \"sometimes\"",
    };
    expect_errors("rampart.json", NULL, want, sizeof want / sizeof want[0]);
}

static void test_misspelt_plugin_in_overlay(void **state)
{
    (void)state;
    /* The issue's example: "files" for "file" in a site overlay. */
    put("rampart.json",
        "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\",\"site\":\"north\"},"
        "\"plugins\":{\"file\":{\"enabled\":false,\"file\":\"collector_file.so\"},"
        "\"process\":{\"enabled\":false,\"file\":\"collector_process.so\"}}}");
    put("sites/north.json", "{\"plugins\":{\"files\":{\"enabled\":true}}}");
    expect_error("rampart.json", NULL,
                 "sites/north.json: plugins.files: no plugin \"files\" in rampart.json; did you "
                 "mean \"file\"?");
    /* With settings too: still one line, not one per missing key. */
    put("sites/north.json", "{\"plugins\":{\"proces\":{\"config\":{\"mode\":\"poll\"}}}}");
    expect_error("rampart.json", NULL,
                 "sites/north.json: plugins.proces: no plugin \"proces\" in rampart.json; did you "
                 "mean \"process\"?");
    /* Next to other errors, each still reported. */
    put("sites/north.json",
        "{\"agent\":{\"log_level\":\"lots\"},\"plugins\":{\"files\":{\"enabled\":true}}}");
    static const char *const want[] = {
        "sites/north.json: plugins.files: no plugin \"files\" in rampart.json; did you mean "
        "\"file\"?",
        "sites/north.json: agent.log_level: expected one of \"error\", \"warn\", \"info\", "
        "\"debug\", got string \"lots\"",
    };
    expect_errors("rampart.json", NULL, want, 2);
    /* A new plugin with its file is fine. */
    put("sites/north.json", "{\"plugins\":{\"files\":{\"enabled\":false,\"file\":\"f.so\"}}}");
    rp__config_destroy(load_ok("rampart.json", NULL));
}

static void test_error_list_is_bounded(void **state)
{
    (void)state;
    char err[300];
    memset(err, 'x', sizeof err);
    err[0] = '\0';
    for (int i = 0; i < 100; i++)
        rp__config_err_add(err, sizeof err, "rampart.json: plugins.p%d: something is wrong", i);
    assert_true(strlen(err) < sizeof err);
    const char *last = strrchr(err, '\n');
    assert_non_null(last);
    assert_string_equal(last + 1, "(more errors were found; fix these and check again)");
    assert_true(strncmp(err, "rampart.json: plugins.p0: something is wrong\n", 45) == 0);
}

/* Points RAMPART_SITE_FILE at name in the test folder. */
static void site_file_at(const char *name)
{
    char path[PATH_MAX];
    assert_non_null(getcwd(path, sizeof path));
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, "/%s", name);
    assert_int_equal(setenv(RP__SITE_FILE_ENV, path, 1), 0);
}

static void test_machine_site_file(void **state)
{
    (void)state;
    put("rampart.json", MAIN_NORTH);
    put("sites/north.json", "{\"agent\":{\"log_level\":\"warn\"}}");
    put("sites/south.json", "{\"agent\":{\"log_level\":\"error\"}}");
    put("sites/east.json", "{\"agent\":{\"log_level\":\"debug\"}}");
    mkdir("machine", 0755);
    put("machine/site", "south\n");
    chmod("machine/site", 0644);
    site_file_at("machine/site");

    /* The per-machine file beats agent.site. */
    rp__config *cfg = load_ok("rampart.json", NULL);
    assert_string_equal(cfg->site, "south");
    assert_string_equal(cfg->site_file, "sites/south.json");
    assert_string_equal(cfg->site_from, getenv(RP__SITE_FILE_ENV));
    assert_int_equal(cfg->log_level, RP__LOG_ERROR);
    assert_string_equal(json_string_value(at(cfg->root, "agent", "site")), "south");
    rp__config_destroy(cfg);
    /* --site beats the file. */
    cfg = load_ok("rampart.json", "east");
    assert_string_equal(cfg->site, "east");
    assert_string_equal(cfg->site_from, "--site");
    rp__config_destroy(cfg);
    /* Without the file, agent.site. */
    site_file_at("machine/none");
    cfg = load_ok("rampart.json", NULL);
    assert_string_equal(cfg->site, "north");
    assert_string_equal(cfg->site_from, "agent.site");
    rp__config_destroy(cfg);
    /* A main file without agent.site, one file per machine. */
    site_file_at("machine/site");
    put("rampart.json", MAIN_OK);
    cfg = load_ok("rampart.json", NULL);
    assert_string_equal(cfg->site, "south");
    rp__config_destroy(cfg);
    /* Surrounding blank space is dropped; the name is checked like --site. */
    put("machine/site", "  east \r\n");
    cfg = load_ok("rampart.json", NULL);
    assert_string_equal(cfg->site, "east");
    rp__config_destroy(cfg);

    char want[PATH_MAX + 512];
    const char *path = getenv(RP__SITE_FILE_ENV);
    put("machine/site", "../north\n");
    snprintf(want, sizeof want,
             "%s (per-machine site file): expected a site name of letters, digits, '_', '-' and "
             "'.' that does not start with '.' or '-', has no \"..\" and is at most 64 bytes, got "
             "string \"../north\"",
             path);
    expect_error("rampart.json", NULL, want);
    put("machine/site", "south\nnorth\n");
    snprintf(want, sizeof want,
             "%s (per-machine site file): expected a site name of letters, digits, '_', '-' and "
             "'.' that does not start with '.' or '-', has no \"..\" and is at most 64 bytes, got "
             "string \"south\\x0anorth\"",
             path);
    expect_error("rampart.json", NULL, want);
    /* Someone else could choose the site: refused, not ignored. */
    put("machine/site", "south\n");
    chmod("machine/site", 0664);
    snprintf(want, sizeof want,
             "%s (per-machine site file): %s: writable by group (mode 0664); chmod go-w it", path,
             path);
    expect_error("rampart.json", NULL, want);
    chmod("machine/site", 0644);
    chmod("machine", 0777);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(path, '/') - path), path);
    snprintf(want, sizeof want,
             "%s (per-machine site file): %s: writable by others (mode 0777); chmod go-w it", path,
             dir);
    expect_error("rampart.json", NULL, want);
    chmod("machine", 0755);
    /* A symbolic link is not followed. */
    assert_int_equal(rename("machine/site", "machine/real"), 0);
    assert_int_equal(symlink("real", "machine/site"), 0);
    snprintf(want, sizeof want,
             "%s (per-machine site file): %s: a symbolic link; expected a regular file", path,
             path);
    expect_error("rampart.json", NULL, want);
    assert_int_equal(setenv(RP__SITE_FILE_ENV, "/nonexistent/rampart-test/site", 1), 0);
}

static void test_missing_overlay_hint(void **state)
{
    (void)state;
    put("rampart.json", MAIN_OK);
    put("sites/north.json", "{}");
    put("sites/south.json", "{}");
    /* A misspelt site gets the closest overlay that exists. */
    expect_error("rampart.json", "nroth",
                 "sites/nroth.json: cannot read: No such file or directory; did you mean "
                 "\"north\"?");
    /* Nothing close: no guess. */
    expect_error("rampart.json", "west", "sites/west.json: cannot read: No such file or directory");
    /* Chosen by the per-machine file: the file is named, as the user may not
     * know that it chose the site. */
    mkdir("machine", 0755);
    put("machine/site", "sotuh\n");
    chmod("machine/site", 0644);
    site_file_at("machine/site");
    char want[PATH_MAX + 256];
    snprintf(
        want, sizeof want,
        "sites/sotuh.json: cannot read: No such file or directory (the site \"sotuh\" is named "
        "in %s); did you mean \"south\"?",
        getenv(RP__SITE_FILE_ENV));
    expect_error("rampart.json", NULL, want);
    /* An overlay that exists but is broken gets no guess. */
    put("sites/sotuh.json", "{");
    expect_error(
        "rampart.json", NULL,
        "sites/sotuh.json: line 1, column 1: invalid JSON: string or '}' expected near end "
        "of file");
    assert_int_equal(setenv(RP__SITE_FILE_ENV, "/nonexistent/rampart-test/site", 1), 0);
}

static void test_main_not_an_object(void **state)
{
    (void)state;
    put("rampart.json", "[]");
    expect_error("rampart.json", NULL, "rampart.json: (top level): expected object, got array");
    put("rampart.json", "[{\"agent\":{}}]");
    expect_error("rampart.json", NULL, "rampart.json: (top level): expected object, got array");
    put("rampart.json", "true");
    expect_error("rampart.json", NULL,
                 "rampart.json: line 1, column 4: invalid JSON: '[' or '{' expected near 'true'");
}

/* ---- good paths -------------------------------------------------------- */

static void test_no_site(void **state)
{
    struct fixture *f = *state;
    put("rampart.json", MAIN_OK);
    rp__config *cfg = load_ok("rampart.json", NULL);
    assert_null(cfg->site);
    assert_null(cfg->site_file);
    assert_null(at(cfg->root, "agent", "site"));
    assert_string_equal(cfg->main_file, "rampart.json");
    assert_string_equal(cfg->config_dir, f->real);
    /* The built-in defaults fill what the file leaves out. */
    assert_int_equal(cfg->log_level, RP__LOG_INFO);
    assert_int_equal(cfg->log_target, RP__LOG_TARGET_AUTO);
    assert_int_equal(cfg->output_stdout, 1);
    json_t *want = json_loads(
        "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\","
        "\"pid_file\":\"\",\"log_level\":\"info\",\"log_target\":\"auto\","
        "\"health_interval_ms\":60000,\"loop_slice_us\":100,\"loop_realtime_max_cpu_pct\":20,"
        "\"bus_max_bytes\":67108864,\"stop_grace_ms\":10000,\"control_socket\":\"\",\"plugin_"
        "command_timeout_ms\":30000,\"plugin_file_reloads_max\":8,\"trusted_keys\":[],"
        "\"require_signed_plugins\":false,\"max_rss_bytes\":268435456,\"drop_capabilities\":true,"
        "\"deadlines\":{\"action\":\"restart\",\"sample_ms\":200,\"event_ms\":5000,\"command_ms\":"
        "30000,\"timer_ms\":5000,\"fd_ms\":5000,\"job_ms\":120000,\"init_ms\":60000,\"start_ms\":"
        "30000,\"stop_ms\":30000,\"reconfigure_ms\":60000},\"plugin_budget\":{\"cpu_percent\":50,"
        "\"window_s\":10,\"bus_share_percent\":25},\"supervisor\":{\"enabled\":true,"
        "\"backoff_min_ms\":1000,\"backoff_max_ms\":60000,\"cpu_percent\":90,"
        "\"cpu_window_s\":120,\"memory_mb\":1024},\"plugin_faults\":{\"max\":3,"
        "\"window_s\":600}},"
        "\"output\":{\"file\":\"events.ndjson\",\"stdout\":true,"
        "\"file_max_bytes\":67108864,\"file_keep\":5,\"file_max_rotations_per_min\":6,"
        "\"flush_interval_ms\":1000,"
        "\"url\":\"\",\"format\":\"ndjson\",\"ca_file\":\"\",\"client_cert\":\"\","
        "\"client_key\":\"\",\"pinned_pubkey\":\"\",\"token_file\":\"\","
        "\"proxy\":\"\",\"timeout_ms\":30000,\"batch_max_events\":1000,"
        "\"batch_max_bytes\":1048576,\"gzip\":true,\"auth_scheme\":\"auto\","
        "\"elastic\":{\"index\":\"\"},\"splunk\":{\"index\":\"\",\"source\":\"rampart\","
        "\"sourcetype\":\"_json\",\"channel\":\"\"},\"loki\":{\"tenant\":\"\","
        "\"job\":\"rampart\",\"labels\":{}},\"otlp\":{\"resource_attributes\":{}}},"
        "\"spool\":{\"max_bytes\":1073741824,\"fsync\":\"batch\","
        "\"deadletter_max_bytes\":268435456},"
        "\"plugins\":{},"
        "\"policy\":{\"default\":{\"mode\":\"detect\",\"actions\":[]},\"rulesets\":{},"
        "\"rules\":{},\"tags\":{}}}",
        0, NULL);
    assert_true(json_equal(cfg->root, want));
    json_decref(want);
    rp__config_destroy(cfg);

    /* An empty main file is all defaults. */
    put("rampart.json", "{}");
    cfg = load_ok("rampart.json", NULL);
    assert_string_equal(cfg->data_dir, "/var/lib/rampart");
    assert_string_equal(cfg->plugin_dir, "/usr/lib/rampart/plugins");
    assert_string_equal(cfg->pid_file, "/var/lib/rampart/rampartd.pid");
    assert_string_equal(cfg->output_file, "/var/lib/rampart/events.ndjson");
    rp__config_destroy(cfg);
}

static void test_overlay_selected_by_agent_site(void **state)
{
    (void)state;
    put("rampart.json",
        "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\",\"site\":\"north\"},"
        "\"plugins\":{\"proc\":{\"enabled\":false,\"file\":\"proc.so\"},"
        "\"net\":{\"enabled\":true,\"file\":\"net.so\",\"config\":{\"a\":1,\"b\":2}}}}");
    put("sites/north.json", "{\"agent\":{\"log_level\":\"debug\"},"
                            "\"output\":{\"stdout\":false},"
                            "\"plugins\":{\"proc\":{\"enabled\":true},"
                            "\"net\":{\"config\":{\"a\":null,\"c\":[3]}},"
                            "\"fim\":{\"enabled\":true,\"file\":\"/opt/fim.so\"}}}");
    put("sites/south.json", "{\"agent\":{\"log_level\":\"error\"}}");
    rp__config *cfg = load_ok("rampart.json", NULL);
    assert_string_equal(cfg->site, "north");
    assert_string_equal(cfg->site_file, "sites/north.json");
    assert_int_equal(cfg->log_level, RP__LOG_DEBUG);
    assert_int_equal(cfg->output_stdout, 0);
    /* The merged document, site included. */
    json_t *want = json_loads(
        "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\",\"pid_file\":\"\","
        "\"log_level\":\"debug\",\"log_target\":\"auto\",\"site\":\"north\","
        "\"health_interval_ms\":60000,\"loop_slice_us\":100,\"loop_realtime_max_cpu_pct\":20,"
        "\"bus_max_bytes\":67108864,\"stop_grace_ms\":10000,\"control_socket\":\"\",\"plugin_"
        "command_timeout_ms\":30000,\"plugin_file_reloads_max\":8,\"trusted_keys\":[],"
        "\"require_signed_plugins\":false,\"max_rss_bytes\":268435456,\"drop_capabilities\":true,"
        "\"deadlines\":{\"action\":\"restart\",\"sample_ms\":200,\"event_ms\":5000,\"command_ms\":"
        "30000,\"timer_ms\":5000,\"fd_ms\":5000,\"job_ms\":120000,\"init_ms\":60000,\"start_ms\":"
        "30000,\"stop_ms\":30000,\"reconfigure_ms\":60000},\"plugin_budget\":{\"cpu_percent\":50,"
        "\"window_s\":10,\"bus_share_percent\":25},\"supervisor\":{\"enabled\":true,"
        "\"backoff_min_ms\":1000,\"backoff_max_ms\":60000,\"cpu_percent\":90,"
        "\"cpu_window_s\":120,\"memory_mb\":1024},\"plugin_faults\":{\"max\":3,"
        "\"window_s\":600}},"
        "\"output\":{\"file\":\"events.ndjson\",\"stdout\":false,"
        "\"file_max_bytes\":67108864,\"file_keep\":5,\"file_max_rotations_per_min\":6,\"flush_"
        "interval_ms\":1000,"
        "\"url\":\"\",\"format\":\"ndjson\",\"ca_file\":\"\",\"client_cert\":\"\","
        "\"client_key\":\"\",\"pinned_pubkey\":\"\",\"token_file\":\"\","
        "\"proxy\":\"\",\"timeout_ms\":30000,\"batch_max_events\":1000,"
        "\"batch_max_bytes\":1048576,\"gzip\":true,\"auth_scheme\":\"auto\","
        "\"elastic\":{\"index\":\"\"},\"splunk\":{\"index\":\"\",\"source\":\"rampart\","
        "\"sourcetype\":\"_json\",\"channel\":\"\"},\"loki\":{\"tenant\":\"\","
        "\"job\":\"rampart\",\"labels\":{}},\"otlp\":{\"resource_attributes\":{}}},"
        "\"spool\":{\"max_bytes\":1073741824,\"fsync\":\"batch\","
        "\"deadletter_max_bytes\":268435456},"
        "\"plugins\":{\"proc\":{\"enabled\":true,\"file\":\"proc.so\"},"
        "\"net\":{\"enabled\":true,\"file\":\"net.so\",\"config\":{\"b\":2,\"c\":[3]}},"
        "\"fim\":{\"enabled\":true,\"file\":\"/opt/fim.so\"}},"
        "\"policy\":{\"default\":{\"mode\":\"detect\",\"actions\":[]},\"rulesets\":{},"
        "\"rules\":{},\"tags\":{}}}",
        0, NULL);
    assert_non_null(want);
    if (!json_equal(cfg->root, want)) {
        char *s = json_dumps(cfg->root, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("merged config: %s", s ? s : "?");
    }
    json_decref(want);
    rp__config_destroy(cfg);
}

static void test_site_override_wins(void **state)
{
    (void)state;
    put("rampart.json", MAIN_NORTH);
    /* north.json is broken: choosing south must not even read it. */
    put("sites/north.json", "{broken");
    put("sites/south.json", "{\"agent\":{\"log_level\":\"error\"}}");
    rp__config *cfg = load_ok("rampart.json", "south");
    assert_string_equal(cfg->site, "south");
    assert_string_equal(cfg->site_file, "sites/south.json");
    assert_string_equal(json_string_value(at(at(cfg->root, "agent", NULL), "site", NULL)), "south");
    assert_int_equal(cfg->log_level, RP__LOG_ERROR);
    rp__config_destroy(cfg);
    /* Without agent.site in the main file, too. */
    put("rampart.json", MAIN_OK);
    cfg = load_ok("rampart.json", "south");
    assert_string_equal(cfg->site, "south");
    assert_string_equal(json_string_value(at(cfg->root, "agent", "site")), "south");
    rp__config_destroy(cfg);
    /* And the overlay sits next to the main file, wherever that is. */
    put("etc/rampart.json", MAIN_OK);
    put("etc/sites/east.json", "{\"agent\":{\"log_level\":\"warn\"}}");
    cfg = load_ok("etc/rampart.json", "east");
    assert_string_equal(cfg->site_file, "etc/sites/east.json");
    assert_int_equal(cfg->log_level, RP__LOG_WARN);
    rp__config_destroy(cfg);
}

static void test_relative_paths(void **state)
{
    struct fixture *f = *state;
    char want[PATH_MAX + 64];
    put("conf/rampart.json",
        "{\"agent\":{\"data_dir\":\"../state/./x/..\",\"plugin_dir\":\"plug\","
        "\"pid_file\":\"run/agent.pid\"},\"output\":{\"file\":\"out/ev.ndjson\"}}");
    rp__config *cfg = load_ok("conf/rampart.json", NULL);
    snprintf(want, sizeof want, "%s/conf", f->real);
    assert_string_equal(cfg->config_dir, want);
    /* data_dir and plugin_dir: relative to the main file's folder. */
    snprintf(want, sizeof want, "%s/state", f->real);
    assert_string_equal(cfg->data_dir, want);
    snprintf(want, sizeof want, "%s/conf/plug", f->real);
    assert_string_equal(cfg->plugin_dir, want);
    /* pid_file and output.file: relative to data_dir. */
    snprintf(want, sizeof want, "%s/state/run/agent.pid", f->real);
    assert_string_equal(cfg->pid_file, want);
    snprintf(want, sizeof want, "%s/state/out/ev.ndjson", f->real);
    assert_string_equal(cfg->output_file, want);
    rp__config_destroy(cfg);

    /* The same file named by an absolute path resolves the same way. */
    char abs_main[PATH_MAX + 32];
    snprintf(abs_main, sizeof abs_main, "%s/conf/rampart.json", f->real);
    cfg = load_ok(abs_main, NULL);
    snprintf(want, sizeof want, "%s/state", f->real);
    assert_string_equal(cfg->data_dir, want);
    assert_string_equal(cfg->main_file, abs_main);
    rp__config_destroy(cfg);

    /* Absolute paths are kept; an empty pid_file is <data_dir>/rampartd.pid and
     * an empty output.file means no file. */
    put("rampart.json", "{\"agent\":{\"data_dir\":\"/var/tmp/rp\",\"plugin_dir\":\"/opt/p\","
                        "\"pid_file\":\"\"},\"output\":{\"file\":\"\"}}");
    cfg = load_ok("rampart.json", NULL);
    assert_string_equal(cfg->data_dir, "/var/tmp/rp");
    assert_string_equal(cfg->plugin_dir, "/opt/p");
    assert_string_equal(cfg->pid_file, "/var/tmp/rp/rampartd.pid");
    assert_null(cfg->output_file);
    rp__config_destroy(cfg);

    put("rampart.json",
        "{\"agent\":{\"data_dir\":\"d\",\"plugin_dir\":\"p\","
        "\"pid_file\":\"/run/rampartd.pid\"},\"output\":{\"file\":\"/var/log/e\"}}");
    cfg = load_ok("rampart.json", NULL);
    snprintf(want, sizeof want, "%s/d", f->real);
    assert_string_equal(cfg->data_dir, want);
    assert_string_equal(cfg->pid_file, "/run/rampartd.pid");
    assert_string_equal(cfg->output_file, "/var/log/e");
    rp__config_destroy(cfg);

    /* A symlinked folder resolves to the real one. */
    assert_int_equal(symlink("conf", "link"), 0);
    cfg = load_ok("link/rampart.json", NULL);
    snprintf(want, sizeof want, "%s/conf", f->real);
    assert_string_equal(cfg->config_dir, want);
    snprintf(want, sizeof want, "%s/state", f->real);
    assert_string_equal(cfg->data_dir, want);
    rp__config_destroy(cfg);
}

static void test_committed_config_validates(void **state)
{
    (void)state;
    const char *main_file = RP_SOURCE_DIR "/config/rampart.json";
    rp__config *cfg = load_ok(main_file, NULL);
    rp__config_destroy(cfg);

    DIR *d = opendir(RP_SOURCE_DIR "/config/sites");
    assert_non_null(d);
    struct dirent *e;
    int sites = 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n <= 5 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        char site[256];
        snprintf(site, sizeof site, "%.*s", (int)(n - 5), e->d_name);
        cfg = load_ok(main_file, site);
        assert_string_equal(cfg->site, site);
        rp__config_destroy(cfg);
        sites++;
    }
    closedir(d);
    assert_true(sites >= 1);
}

int main(void)
{
    /* A site file on the machine running the tests must not change them. */
    setenv(RP__SITE_FILE_ENV, "/nonexistent/rampart-test/site", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rss_ceiling_above_bus_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_error_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misspelt_plugin_in_overlay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_list_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_machine_site_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_overlay_hint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue_example_wrong_type_in_overlay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_unreadable_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_site_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_not_an_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_docs_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_cannot_choose_site, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_deletes_required_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_key_names_the_layer_that_wrote_the_entry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_main_not_an_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_site, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_selected_by_agent_site, setup, teardown),
        cmocka_unit_test_setup_teardown(test_site_override_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_committed_config_validates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
