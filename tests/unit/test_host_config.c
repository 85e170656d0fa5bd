/*
 * tests/unit/test_host_config.c - the ABI 1.1 typed config getters, the
 * check_config call and declared capabilities (core/runtime/host_config.c),
 * through the host table a plugin gets. The plugin record is made by hand
 * (no plugin file): only its lock, config and descriptor are used.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/host.h"
#include "runtime/host_private.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIT(s) (s), (sizeof(s) - 1)

static const rp_host_api *H;

static const char config_text[] =
    "{\"threshold\":5,\"ratio\":2.5,\"neg\":-9223372036854775808,"
    "\"max\":9223372036854775807,\"on\":true,\"off\":false,\"name\":\"alice\","
    "\"esc\":\"a\\\"b\\u00e9\",\"none\":null,\"window\":{\"seconds\":30,\"deep\":{\"x\":[1,2]}},"
    "\"users\":[\"alice\",\"bob\"],\"mixed\":[\"a\",1],\"empty\":[],"
    "\"a/b\":1,\"m~n\":2,\"~1\":3,\"\":4}";

static struct rp_plugin *plugin_new(const char *json)
{
    struct rp_plugin *p = calloc(1, sizeof *p);
    assert_non_null(p);
    assert_int_equal(rp__os_mutex_create(&p->lock), 0);
    p->name = "test";
    if (json) {
        json_error_t err;
        json_t *doc = json_loads(json, JSON_REJECT_DUPLICATES, &err);
        assert_non_null(doc);
        assert_int_equal(rp__host_plugin_set_config(p, doc), 0);
        json_decref(doc);
    }
    return p;
}

static void plugin_free(struct rp_plugin *p)
{
    rp__host_plugin_config_free(p);
    free(p->config_json);
    rp__os_mutex_destroy(p->lock);
    free(p);
}

static int64_t get_i64(struct rp_plugin *p, const char *path, int *rc)
{
    int64_t v = -1;
    *rc = H->config_i64(p, path, strlen(path), &v);
    return v;
}

/* RFC 6901 pointers: escapes, the empty key, array indexes. */
static void test_pointer_syntax(void **state)
{
    (void)state;
    struct rp_plugin *p = plugin_new(config_text);
    int rc;
    assert_int_equal(get_i64(p, "/threshold", &rc), 5);
    assert_int_equal(rc, 0);
    assert_int_equal(get_i64(p, "/window/seconds", &rc), 30);
    assert_int_equal(rc, 0);
    assert_int_equal(get_i64(p, "/a~1b", &rc), 1); /* ~1 is "/" */
    assert_int_equal(rc, 0);
    assert_int_equal(get_i64(p, "/m~0n", &rc), 2); /* ~0 is "~" */
    assert_int_equal(rc, 0);
    assert_int_equal(get_i64(p, "/~01", &rc), 3); /* "~01" is "~1", not "/" */
    assert_int_equal(rc, 0);
    assert_int_equal(get_i64(p, "/", &rc), 4); /* the key "" */
    assert_int_equal(rc, 0);
    assert_int_equal(get_i64(p, "/window/deep/x/1", &rc), 2);
    assert_int_equal(rc, 0);
    /* Indexes: no leading zero, no "-", inside the array. */
    const char *absent[] = {"/window/deep/x/01",
                            "/window/deep/x/-",
                            "/window/deep/x/2",
                            "/window/deep/x/a",
                            "/window/deep/x/99999999999",
                            "/window/deep/x/",
                            "/nope",
                            "/threshold/x",
                            "/name/0",
                            "/window/seconds/0"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        get_i64(p, absent[i], &rc);
        if (rc != RP_ERR_NOTFOUND)
            fail_msg("%s: expected RP_ERR_NOTFOUND, got %s", absent[i], rp_errname(rc));
    }
    /* Malformed pointers are refused whatever the config holds. */
    const char *bad[] = {"threshold", "/~", "/~2", "/x~", "/nope/~x", "#/threshold"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        get_i64(p, bad[i], &rc);
        if (rc != RP_ERR_INVAL)
            fail_msg("%s: expected RP_ERR_INVAL, got %s", bad[i], rp_errname(rc));
    }
    int64_t v;
    assert_int_equal(H->config_i64(p, "/threshold\0x", 12, &v), RP_ERR_INVAL); /* NUL */
    assert_int_equal(H->config_i64(p, NULL, 0, &v), RP_ERR_INVAL);
    assert_int_equal(H->config_i64(NULL, LIT("/threshold"), &v), RP_ERR_INVAL);
    assert_int_equal(H->config_i64(p, LIT("/threshold"), NULL), RP_ERR_INVAL);
    /* The length given counts, not a NUL: "/threshold" cut to "/thresh". */
    assert_int_equal(H->config_i64(p, "/threshold", 7, &v), RP_ERR_NOTFOUND);
    /* Caps: 1024 bytes and 32 tokens. */
    char path[1100];
    memset(path, 'a', sizeof path);
    path[0] = '/';
    assert_int_equal(H->config_i64(p, path, 1024, &v), RP_ERR_NOTFOUND);
    assert_int_equal(H->config_i64(p, path, 1025, &v), RP_ERR_INVAL);
    for (int i = 0; i < 33; i++)
        memcpy(path + 2 * i, "/a", 2);
    assert_int_equal(H->config_i64(p, path, 64, &v), RP_ERR_NOTFOUND);
    assert_int_equal(H->config_i64(p, path, 66, &v), RP_ERR_INVAL);
    plugin_free(p);
}

static void test_getters(void **state)
{
    (void)state;
    struct rp_plugin *p = plugin_new(config_text);
    int32_t b = -1;
    int64_t v = -1;
    const char *s = NULL;
    uint64_t len = 0;
    uint32_t n = 0;

    assert_int_equal(H->config_bool(p, LIT("/on"), &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(H->config_bool(p, LIT("/off"), &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(H->config_bool(p, LIT("/threshold"), &b), RP_ERR_TYPE);
    assert_int_equal(H->config_bool(p, LIT("/none"), &b), RP_ERR_TYPE);
    assert_int_equal(H->config_bool(p, LIT("/gone"), &b), RP_ERR_NOTFOUND);
    assert_int_equal(H->config_bool(p, LIT("/on"), NULL), RP_ERR_INVAL);

    assert_int_equal(H->config_i64(p, LIT("/neg"), &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(H->config_i64(p, LIT("/max"), &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(H->config_i64(p, LIT("/ratio"), &v), RP_ERR_TYPE); /* integers only */
    assert_int_equal(H->config_i64(p, LIT("/name"), &v), RP_ERR_TYPE);
    assert_int_equal(H->config_i64(p, LIT("/gone"), &v), RP_ERR_NOTFOUND);

    assert_int_equal(H->config_str(p, LIT("/name"), &s, &len), 0);
    assert_int_equal(len, 5);
    assert_string_equal(s, "alice");
    assert_int_equal(H->config_str(p, LIT("/esc"), &s, &len), 0);
    assert_int_equal(len, 5); /* escapes decoded, UTF-8, NUL-terminated */
    assert_memory_equal(s, "a\"b\xc3\xa9", 6);
    assert_int_equal(H->config_str(p, LIT("/name"), &s, NULL), 0); /* len optional */
    assert_int_equal(H->config_str(p, LIT("/threshold"), &s, &len), RP_ERR_TYPE);
    assert_int_equal(H->config_str(p, LIT("/users"), &s, &len), RP_ERR_TYPE);
    assert_int_equal(H->config_str(p, LIT("/gone"), &s, &len), RP_ERR_NOTFOUND);
    assert_int_equal(H->config_str(p, LIT("/name"), NULL, &len), RP_ERR_INVAL);

    assert_int_equal(H->config_str_array_count(p, LIT("/users"), &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(H->config_str_array_count(p, LIT("/empty"), &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(H->config_str_array_count(p, LIT("/mixed"), &n), RP_ERR_TYPE);
    assert_int_equal(H->config_str_array_count(p, LIT("/name"), &n), RP_ERR_TYPE);
    assert_int_equal(H->config_str_array_count(p, LIT("/gone"), &n), RP_ERR_NOTFOUND);
    assert_int_equal(H->config_str_array_count(p, LIT("/users"), NULL), RP_ERR_INVAL);
    assert_int_equal(H->config_str_array_item(p, LIT("/users"), 1, &s, &len), 0);
    assert_int_equal(len, 3);
    assert_string_equal(s, "bob");
    assert_int_equal(H->config_str_array_item(p, LIT("/users"), 2, &s, &len), RP_ERR_RANGE);
    assert_int_equal(H->config_str_array_item(p, LIT("/mixed"), 0, &s, &len), RP_ERR_TYPE);
    assert_int_equal(H->config_str_array_item(p, LIT("/gone"), 0, &s, &len), RP_ERR_NOTFOUND);
    assert_int_equal(H->config_str_array_item(p, LIT("/users"), 0, NULL, &len), RP_ERR_INVAL);

    const char *j = NULL;
    assert_int_equal(H->config_json(p, LIT("/window"), &j, &len), 0);
    assert_string_equal(j, "{\"seconds\":30,\"deep\":{\"x\":[1,2]}}");
    assert_int_equal(len, strlen(j));
    const char *again = NULL;
    assert_int_equal(H->config_json(p, LIT("/window"), &again, NULL), 0);
    assert_ptr_equal(again, j); /* cached: one text per value */
    assert_int_equal(H->config_json(p, LIT("/threshold"), &j, &len), 0);
    assert_string_equal(j, "5");
    assert_int_equal(H->config_json(p, LIT("/name"), &j, &len), 0);
    assert_string_equal(j, "\"alice\"");
    assert_int_equal(H->config_json(p, LIT("/none"), &j, &len), 0);
    assert_string_equal(j, "null");
    assert_int_equal(H->config_json(p, "", 0, &j, &len), 0);
    const char *text;
    assert_int_equal(H->config_get(p, &text, NULL), 0);
    assert_string_equal(j, text); /* the whole config, as config_get has it */
    assert_int_equal(H->config_json(p, LIT("/gone"), &j, &len), RP_ERR_NOTFOUND);
    assert_int_equal(H->config_json(p, LIT("/window"), NULL, &len), RP_ERR_INVAL);
    plugin_free(p);

    /* A plugin whose config was never installed (refused before). */
    p = plugin_new(NULL);
    assert_int_equal(H->config_i64(p, LIT("/threshold"), &v), RP_ERR_NOTFOUND);
    plugin_free(p);
}

/* What the getters returned stays valid through the next replacement (the
 * plugin's reconfigure), and the getters then read the new config. Under
 * ASan a freed pointer fails here. */
static void test_borrowed_pointers(void **state)
{
    (void)state;
    struct rp_plugin *p = plugin_new("{\"name\":\"first\",\"users\":[\"u1\"],\"w\":{\"a\":1}}");
    const char *name, *user, *w, *text;
    assert_int_equal(H->config_str(p, LIT("/name"), &name, NULL), 0);
    assert_int_equal(H->config_str_array_item(p, LIT("/users"), 0, &user, NULL), 0);
    assert_int_equal(H->config_json(p, LIT("/w"), &w, NULL), 0);
    assert_int_equal(H->config_get(p, &text, NULL), 0);

    json_t *next = json_pack("{s:s, s:[s], s:{s:i}}", "name", "second", "users", "u2", "w", "a", 2);
    assert_non_null(next);
    assert_int_equal(rp__host_plugin_set_config(p, next), 0);
    json_decref(next);
    assert_string_equal(name, "first");
    assert_string_equal(user, "u1");
    assert_string_equal(w, "{\"a\":1}");
    assert_string_equal(text, "{\"name\":\"first\",\"users\":[\"u1\"],\"w\":{\"a\":1}}");

    const char *now;
    assert_int_equal(H->config_str(p, LIT("/name"), &now, NULL), 0);
    assert_string_equal(now, "second");
    assert_int_equal(H->config_json(p, LIT("/w"), &now, NULL), 0);
    assert_string_equal(now, "{\"a\":2}");
    assert_int_equal(H->config_get(p, &now, NULL), 0);
    assert_string_equal(now, "{\"name\":\"second\",\"users\":[\"u2\"],\"w\":{\"a\":2}}");
    assert_int_equal(rp__host_plugin_set_config(p, NULL), RP_ERR_INVAL);
    json_t *arr = json_array();
    assert_int_equal(rp__host_plugin_set_config(p, arr), RP_ERR_INVAL); /* an object only */
    json_decref(arr);
    plugin_free(p);
}

/* Getters from several threads at once (the plugin's loop and worker
 * callbacks): config_json fills its cache under the lock. TSan checks it. */
struct reader {
    struct rp_plugin *p;
    int failures;
};

static void *read_loop(void *arg)
{
    struct reader *r = arg;
    static const char *const paths[] = {"/window", "/users", "/window/deep", "", "/name"};
    for (int i = 0; i < 2000; i++) {
        const char *j;
        int64_t v;
        const char *path = paths[i % 5];
        if (H->config_json(r->p, path, strlen(path), &j, NULL) != 0)
            r->failures++;
        if (H->config_i64(r->p, LIT("/window/seconds"), &v) != 0 || v != 30)
            r->failures++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct rp_plugin *p = plugin_new(config_text);
    pthread_t t[4];
    struct reader r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (struct reader){p, 0};
        assert_int_equal(pthread_create(&t[i], NULL, read_loop, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].failures, 0);
    }
    plugin_free(p);
}

/* check_config: reads the candidate, not the installed config; everything
 * but the getters, config_get, log and set_error answers RP_ERR_BUSY. */
static int busy_seen;
static char seen_text[256];

static void tick(void *arg)
{
    (void)arg;
}

static void work(void *arg)
{
    (void)arg;
}

static int check_cb(rp_plugin *self, const rp_host_api *host)
{
    int64_t t;
    rp_event *ev = NULL;
    uint64_t id;
    uint32_t cid;
    rp_field_id f;
    const char *text;
    busy_seen = 0;
    busy_seen += host->event_create(self, LIT("test.x"), &ev) == RP_ERR_BUSY;
    busy_seen += host->subscribe(self, LIT("*"), 0) == RP_ERR_BUSY;
    busy_seen += host->timer_start(self, 1, 0, tick, NULL, &id) == RP_ERR_BUSY;
    busy_seen += host->work_submit(self, work, NULL, NULL) == RP_ERR_BUSY;
    busy_seen += host->counter_register(self, LIT("c"), &cid) == RP_ERR_BUSY;
    busy_seen += host->field_id(self, LIT("test.field"), RP_TYPE_STR, &f) == RP_ERR_BUSY;
    busy_seen += host->fd_watch(self, 0, RP_FD_READ, NULL, NULL, &id) == RP_ERR_BUSY;
    if (host->config_get(self, &text, NULL) == 0)
        snprintf(seen_text, sizeof seen_text, "%s", text);
    int rc = host->config_i64(self, LIT("/threshold"), &t);
    if (rc != 0)
        return rc;
    if (t > 100) {
        host->set_error(self, LIT("/threshold: must be at most 100"));
        return RP_ERR_CONFIG;
    }
    return 0;
}

static void test_check_config(void **state)
{
    (void)state;
    struct rp_plugin *p = plugin_new("{\"threshold\":5}");
    char why[512];
    json_t *cand = json_pack("{s:i}", "threshold", 500);
    /* No callback: nothing to refuse. */
    assert_int_equal(rp__host_plugin_check_config(p, cand, why, sizeof why), 0);

    p->desc.check_config = check_cb;
    assert_int_equal(rp__host_plugin_check_config(p, cand, why, sizeof why), RP_ERR_CONFIG);
    assert_string_equal(why, "check_config refused the config: /threshold: must be at most 100");
    assert_int_equal(busy_seen, 7);
    assert_string_equal(seen_text, "{\"threshold\":500}"); /* config_get: the candidate */
    json_decref(cand);

    /* Outside the check the installed config is read again, and the calls
     * are no longer refused as busy. */
    int64_t v;
    assert_int_equal(H->config_i64(p, LIT("/threshold"), &v), 0);
    assert_int_equal(v, 5);
    assert_false(rp__host_checking(p));
    assert_int_equal(rp__host_plugin_check_config(p, p->config_doc, why, sizeof why), 0);
    assert_string_equal(why, "");

    /* A code other than RP_ERR_CONFIG is named; the result is still a
     * config refusal. */
    cand = json_pack("{s:s}", "threshold", "x");
    assert_int_equal(rp__host_plugin_check_config(p, cand, why, sizeof why), RP_ERR_CONFIG);
    assert_string_equal(why, "check_config refused the config (RP_ERR_TYPE)");
    json_decref(cand);
    plugin_free(p);
}

static void caps_names(uint64_t caps, const char *expect)
{
    json_t *j = rp__host_caps_json(1, caps);
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT);
    assert_string_equal(s, expect);
    free(s);
    json_decref(j);
}

static void test_caps(void **state)
{
    (void)state;
    struct rp_plugin *p = plugin_new("{}");
    uint64_t caps = 0;
    /* A 1.1 descriptor with the flag: declared. */
    p->desc.struct_size = sizeof(rp_plugin_descriptor);
    p->desc.flags = RP_PLUGIN_CAPS_DECLARED;
    p->desc.capabilities = RP_CAP_NET_ADMIN | RP_CAP_SYS_ADMIN;
    assert_int_equal(rp__host_plugin_caps(p, &caps), 0);
    assert_true(caps == (RP_CAP_NET_ADMIN | RP_CAP_SYS_ADMIN));
    /* Declaring none is not the same as not declaring. */
    p->desc.capabilities = 0;
    assert_int_equal(rp__host_plugin_caps(p, &caps), 0);
    assert_true(caps == 0);
    /* Without the flag, or in a 1.0-sized descriptor: undeclared. */
    p->desc.flags = 0;
    p->desc.capabilities = RP_CAP_KILL;
    assert_int_equal(rp__host_plugin_caps(p, &caps), RP_ERR_NOTFOUND);
    p->desc.flags = RP_PLUGIN_CAPS_DECLARED;
    p->desc.struct_size = RP_DESCRIPTOR_SIZE_1_0;
    assert_int_equal(rp__host_plugin_caps(p, &caps), RP_ERR_NOTFOUND);
    plugin_free(p);

    caps_names(RP_CAP_NET_ADMIN | RP_CAP_SYS_PTRACE, "[\"CAP_NET_ADMIN\",\"CAP_SYS_PTRACE\"]");
    caps_names(RP_CAP_CHOWN | RP_CAP_BPF | RP_CAP(40),
               "[\"CAP_CHOWN\",\"CAP_BPF\",\"CAP_CHECKPOINT_RESTORE\"]");
    caps_names(RP_CAP(45), "[\"CAP_45\"]"); /* newer than the agent: by number */
    caps_names(0, "[]");
    json_t *u = rp__host_caps_json(0, RP_CAP_KILL);
    assert_string_equal(json_string_value(u), "undeclared");
    json_decref(u);
    /* The same names in one line, for the log and refusals; cut, never overrun. */
    char line[64];
    rp__host_caps_format(RP_CAP_KILL | RP_CAP_SYS_PTRACE, line, sizeof line);
    assert_string_equal(line, "CAP_KILL, CAP_SYS_PTRACE");
    rp__host_caps_format(0, line, sizeof line);
    assert_string_equal(line, "none");
    char small[12];
    rp__host_caps_format(RP_CAP_KILL | RP_CAP_SYS_PTRACE, small, sizeof small);
    assert_string_equal(small, "CAP_KILL");
}

int main(void)
{
    H = rp__host_api();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pointer_syntax),    cmocka_unit_test(test_getters),
        cmocka_unit_test(test_borrowed_pointers), cmocka_unit_test(test_threads),
        cmocka_unit_test(test_check_config),      cmocka_unit_test(test_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
