/*
 * tests/unit/test_reload.c - the agent's lifecycle (core/agent.c): start on a
 * temporary data folder, reload with a bad and then a good config, the agent
 * id kept across runs, the pid file held and removed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent.h"
#include "config.h"
#include "lib/log.h"
#include "testutil.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct fixture {
    char dir[64];
    char main_file[PATH_MAX];
    char data_dir[PATH_MAX];
    char events[PATH_MAX];
    char pid_file[PATH_MAX];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char real[PATH_MAX];
    if (!f || tu_mkdtemp("reload", f->dir, sizeof f->dir) != 0 || !realpath(f->dir, real) ||
        strlen(real) > 512)
        return -1;
    snprintf(f->main_file, sizeof f->main_file, "%.512s/rampart.json", real);
    snprintf(f->data_dir, sizeof f->data_dir, "%.512s/data", real);
    snprintf(f->events, sizeof f->events, "%.512s/data/events.ndjson", real);
    snprintf(f->pid_file, sizeof f->pid_file, "%.512s/data/rampartd.pid", real);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = tu_rm_rf(f->dir);
    rp__log_set_level(RP__LOG_INFO);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* stdout stays quiet: events go to the file only. */
#define CONFIG_V1                                                                                  \
    "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\",\"log_level\":\"info\"},"        \
    "\"output\":{\"file\":\"events.ndjson\",\"stdout\":false},\"plugins\":{}}"

static rp__agent *new_agent(struct fixture *f)
{
    char err[RP__CONFIG_ERR_MAX] = "";
    rp__config *cfg = NULL;
    int rc = rp__config_load(f->main_file, NULL, &cfg, err, sizeof err);
    if (rc != 0)
        fail_msg("config: %s", err);
    rp__agent_opts opts = {.config_file = f->main_file, .site = NULL, .foreground = 1};
    rp__agent *a = NULL;
    assert_int_equal(rp__agent_create(&opts, cfg, &a), 0);
    assert_non_null(a);
    long holder = -1;
    rc = rp__agent_prepare(a, &holder, err, sizeof err);
    if (rc != 0)
        fail_msg("prepare: %d: %s", rc, err);
    return a;
}

/* The event.action of every line of the events file, comma-separated. */
static void event_actions(const struct fixture *f, char *buf, size_t len)
{
    char *text = tu_read(f->events);
    size_t pos = 0;
    buf[0] = '\0';
    assert_non_null(text);
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        assert_non_null(end); /* every event is a whole line */
        json_error_t jerr;
        json_t *ev = json_loadb(line, (size_t)(end - line), 0, &jerr);
        if (!ev)
            fail_msg("events file: not JSON: %s", jerr.text);
        const char *action = json_string_value(json_object_get(ev, "event.action"));
        assert_non_null(action);
        pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", pos ? "," : "", action);
        assert_true(pos < len);
        json_decref(ev);
        line = end + 1;
    }
    free(text);
}

/* Waits (5 s at most) until the events file holds at least n whole lines:
 * events may reach the file from another thread. */
static void wait_events(const struct fixture *f, int n)
{
    for (int tries = 0; tries < 500; tries++) {
        char *text = tu_read(f->events);
        int lines = 0;
        for (const char *p = text; p && *p; p++)
            lines += *p == '\n';
        free(text);
        if (lines >= n)
            return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("%s: fewer than %d events after 5 s", f->events, n);
}

/* The value of key in the last event of the file (copied into buf). */
static void last_event_field(const struct fixture *f, const char *key, char *buf, size_t len)
{
    char *text = tu_read(f->events);
    assert_non_null(text);
    size_t n = strlen(text);
    assert_true(n > 0 && text[n - 1] == '\n');
    text[n - 1] = '\0';
    char *last = strrchr(text, '\n');
    json_t *ev = json_loads(last ? last + 1 : text, 0, NULL);
    assert_non_null(ev);
    const char *v = json_string_value(json_object_get(ev, key));
    assert_non_null(v);
    snprintf(buf, len, "%s", v);
    json_decref(ev);
    free(text);
}

static void test_reload_keeps_old_config_on_error(void **state)
{
    struct fixture *f = *state;
    char buf[1024], want[PATH_MAX + 1024];
    assert_int_equal(tu_write(f->main_file, CONFIG_V1), 0);
    rp__agent *a = new_agent(f);
    assert_int_equal(rp__agent_start(a), 0);

    /* The pid file holds our pid while the agent runs. */
    char *pid = tu_read(f->pid_file);
    assert_non_null(pid);
    assert_int_equal(strtol(pid, NULL, 10), (long)getpid());
    free(pid);

    const rp__config *before = rp__agent_config(a);
    assert_int_equal(before->log_level, RP__LOG_INFO);

    /* An invalid value: rejected, the running config object stays as it was. */
    assert_int_equal(tu_write(f->main_file,
                              "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\","
                              "\"log_level\":\"loud\"},\"plugins\":{}}"),
                     0);
    assert_int_equal(rp__agent_reload(a), RP_ERR_CONFIG);
    assert_ptr_equal(rp__agent_config(a), before);
    assert_int_equal(before->log_level, RP__LOG_INFO);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(before->root, "agent"), "log_level")),
        "info");
    assert_int_equal(before->output_stdout, 0);
    /* The rejection is an event whose message is the one-line error. */
    wait_events(f, 2);
    last_event_field(f, "event.action", buf, sizeof buf);
    assert_string_equal(buf, "agent-config-rejected");
    last_event_field(f, "message", buf, sizeof buf);
    snprintf(want, sizeof want,
             "%s: agent.log_level: expected one of \"error\", \"warn\", \"info\", \"debug\", got "
             "string \"loud\"",
             f->main_file);
    assert_string_equal(buf, want);

    /* Malformed JSON and an unknown key: rejected the same way. */
    assert_int_equal(tu_write(f->main_file, "{\"agent\":"), 0);
    assert_int_equal(rp__agent_reload(a), RP_ERR_CONFIG);
    assert_ptr_equal(rp__agent_config(a), before);
    assert_int_equal(tu_write(f->main_file, "{\"plugins\":{\"proc\":{\"enabled\":true,"
                                            "\"file\":\"p.so\",\"enable\":true}}}"),
                     0);
    assert_int_equal(rp__agent_reload(a), RP_ERR_CONFIG);
    assert_ptr_equal(rp__agent_config(a), before);
    assert_int_equal(json_object_size(json_object_get(before->root, "plugins")), 0);
    /* A missing file too. */
    assert_int_equal(unlink(f->main_file), 0);
    assert_int_equal(rp__agent_reload(a), RP_ERR_CONFIG);
    assert_ptr_equal(rp__agent_config(a), before);

    /* A valid change: applied, new values visible. */
    assert_int_equal(tu_write(f->main_file,
                              "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\","
                              "\"log_level\":\"debug\"},"
                              "\"output\":{\"file\":\"events.ndjson\",\"stdout\":false},"
                              "\"plugins\":{\"proc\":{\"enabled\":false,\"file\":\"proc.so\"}}}"),
                     0);
    assert_int_equal(rp__agent_reload(a), 0);
    const rp__config *after = rp__agent_config(a);
    assert_non_null(after);
    assert_int_equal(after->log_level, RP__LOG_DEBUG);
    assert_int_equal(rp__log_get_level(), RP__LOG_DEBUG);
    const json_t *proc = json_object_get(json_object_get(after->root, "plugins"), "proc");
    assert_true(json_is_false(json_object_get(proc, "enabled")));
    assert_string_equal(json_string_value(json_object_get(proc, "file")), "proc.so");
    assert_string_equal(after->data_dir, f->data_dir);
    wait_events(f, 6);
    last_event_field(f, "event.action", buf, sizeof buf);
    assert_string_equal(buf, "agent-config-reloaded");

    /* data_dir and pid_file stay fixed until a restart, even when changed. */
    assert_int_equal(tu_write(f->main_file,
                              "{\"agent\":{\"data_dir\":\"elsewhere\",\"plugin_dir\":\"plugins\","
                              "\"pid_file\":\"other.pid\",\"log_level\":\"warn\"},"
                              "\"output\":{\"file\":\"events.ndjson\",\"stdout\":false}}"),
                     0);
    assert_int_equal(rp__agent_reload(a), 0);
    after = rp__agent_config(a);
    assert_int_equal(after->log_level, RP__LOG_WARN);
    assert_string_equal(after->data_dir, f->data_dir);
    assert_string_equal(after->pid_file, f->pid_file);
    assert_true(tu_exists(f->pid_file));

    rp__agent_stop(a);
    assert_false(tu_exists(f->pid_file));
    rp__agent_stop(a); /* twice is fine */
    rp__agent_destroy(a);

    event_actions(f, buf, sizeof buf);
    assert_string_equal(buf, "agent-started,agent-config-rejected,agent-config-rejected,"
                             "agent-config-rejected,agent-config-rejected,agent-config-reloaded,"
                             "agent-config-reloaded,agent-stopped");
}

static void test_agent_id_persists(void **state)
{
    struct fixture *f = *state;
    char id_path[PATH_MAX + 16], buf[128];
    snprintf(id_path, sizeof id_path, "%s/agent_id", f->data_dir);
    assert_int_equal(tu_write(f->main_file, CONFIG_V1), 0);

    /* First run: the data folder and the id are created. */
    assert_false(tu_exists(f->data_dir));
    rp__agent *a = new_agent(f);
    assert_int_equal(rp__agent_start(a), 0);
    char *first = tu_read(id_path);
    assert_non_null(first);
    assert_int_equal(strlen(first), 37);
    assert_int_equal(first[36], '\n');
    first[36] = '\0';
    assert_int_equal(first[14], '7'); /* a UUIDv7 */
    wait_events(f, 1);
    last_event_field(f, "agent.id", buf, sizeof buf);
    assert_string_equal(buf, first);
    rp__agent_destroy(a); /* stops first */
    assert_false(tu_exists(f->pid_file));

    /* Second run on the same data folder: the same id. */
    a = new_agent(f);
    assert_int_equal(rp__agent_start(a), 0);
    char *second = tu_read(id_path);
    assert_non_null(second);
    second[36] = '\0';
    assert_string_equal(first, second);
    wait_events(f, 3);
    last_event_field(f, "agent.id", buf, sizeof buf);
    assert_string_equal(buf, first);
    rp__agent_destroy(a);

    char actions[512];
    event_actions(f, actions, sizeof actions);
    assert_string_equal(actions, "agent-started,agent-stopped,agent-started,agent-stopped");
    free(second);
    free(first);
}

static void test_second_agent_is_refused(void **state)
{
    struct fixture *f = *state;
    char err[RP__CONFIG_ERR_MAX] = "", want[PATH_MAX + 128];
    assert_int_equal(tu_write(f->main_file, CONFIG_V1), 0);
    rp__agent *a = new_agent(f);
    assert_int_equal(rp__agent_start(a), 0);

    rp__config *cfg = NULL;
    assert_int_equal(rp__config_load(f->main_file, NULL, &cfg, err, sizeof err), 0);
    rp__agent_opts opts = {.config_file = f->main_file, .foreground = 1};
    rp__agent *b = NULL;
    assert_int_equal(rp__agent_create(&opts, cfg, &b), 0);
    long holder = 0;
    assert_int_equal(rp__agent_prepare(b, &holder, err, sizeof err), RP_ERR_BUSY);
    assert_int_equal(holder, (long)getpid());
    snprintf(want, sizeof want, "%s: another rampartd (pid %ld) is running on this data folder",
             f->pid_file, (long)getpid());
    assert_string_equal(err, want);
    rp__agent_destroy(b);
    /* The refused agent left the running one's pid file alone. */
    assert_true(tu_exists(f->pid_file));

    rp__agent_destroy(a);
    assert_false(tu_exists(f->pid_file));
}

/* A config that uploads to url in format fmt, trusting the CA in ca_file. */
static void write_upload_config(const struct fixture *f, const char *url, const char *fmt,
                                const char *ca_file)
{
    char text[PATH_MAX * 2 + 512];
    snprintf(text, sizeof text,
             "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\",\"log_level\":\"info\"},"
             "\"output\":{\"stdout\":false,\"url\":\"%s\",\"format\":\"%s\",\"ca_file\":\"%s\"},"
             "\"plugins\":{}}",
             url, fmt, ca_file);
    assert_int_equal(tu_write(f->main_file, text), 0);
}

static void assert_output(const rp__config *cfg, const char *url, const char *fmt,
                          const char *ca_file)
{
    assert_string_equal(cfg->output_url, url);
    assert_string_equal(cfg->output_format, fmt);
    assert_string_equal(cfg->output_ca_file, ca_file);
}

/* A reload whose upload settings the uploader refuses (here a CA file that
 * cannot be read, which the config schema cannot see) is a failed reload:
 * RP_ERR_CONFIG, and the running configuration, url and format included,
 * stays. A reload that changes url, format and CA together is applied. */
static void test_reload_refused_by_uploader_fails(void **state)
{
    struct fixture *f = *state;
    char ca1[PATH_MAX], ca2[PATH_MAX], missing[PATH_MAX];
    snprintf(ca1, sizeof ca1, "%.*s/ca1.pem", (int)(strlen(f->main_file) - 13), f->main_file);
    snprintf(ca2, sizeof ca2, "%.*s/ca2.pem", (int)(strlen(f->main_file) - 13), f->main_file);
    snprintf(missing, sizeof missing, "%.*s/missing.pem", (int)(strlen(f->main_file) - 13),
             f->main_file);
    assert_int_equal(tu_write(ca1, "not checked before a connection\n"), 0);
    assert_int_equal(tu_write(ca2, "not checked before a connection\n"), 0);
    /* Port 9 (discard) refuses on loopback: uploads fail and back off. */
    write_upload_config(f, "https://127.0.0.1:9/a", "ndjson", ca1);
    rp__agent *a = new_agent(f);
    assert_int_equal(rp__agent_start(a), 0);
    const rp__config *before = rp__agent_config(a);
    assert_output(before, "https://127.0.0.1:9/a", "ndjson", ca1);

    /* New url and format, but a CA file the uploader cannot read. */
    write_upload_config(f, "https://127.0.0.1:9/b", "elastic-bulk", missing);
    assert_int_equal(rp__agent_reload(a), RP_ERR_CONFIG);
    assert_ptr_equal(rp__agent_config(a), before);
    assert_output(rp__agent_config(a), "https://127.0.0.1:9/a", "ndjson", ca1);

    /* url, format and CA all changed and readable: applied. */
    write_upload_config(f, "https://127.0.0.1:9/b", "elastic-bulk", ca2);
    assert_int_equal(rp__agent_reload(a), 0);
    assert_output(rp__agent_config(a), "https://127.0.0.1:9/b", "elastic-bulk", ca2);

    /* Refused again after a good reload: the good one stays. */
    write_upload_config(f, "https://127.0.0.1:9/c", "ndjson", missing);
    assert_int_equal(rp__agent_reload(a), RP_ERR_CONFIG);
    assert_output(rp__agent_config(a), "https://127.0.0.1:9/b", "elastic-bulk", ca2);
    rp__agent_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reload_keeps_old_config_on_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_refused_by_uploader_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_id_persists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_agent_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
