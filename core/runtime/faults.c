/* core/runtime/faults.c - the fault ledger (faults.h).
 *
 * <data_dir>/plugin_faults.json:
 *   {"version":1,"plugins":{"NAME":{"path":..,"dev":..,"ino":..,"size":..,
 *    "mtime_ns":..,"faults":[{"time":S,"kind":"crash","callback":"on_event",
 *    "signal":"SIGSEGV","detail":".."}],"disabled":true,"reason":".."}}}
 * An entry belongs to one file identity: a fault of a changed file starts a
 * new entry, and a disabled entry of another identity disables nothing.
 * Bounded: MAX_PLUGINS entries, MAX_FAULTS faults each (the newest kept),
 * every text cut; the file is read with a size cap, so a damaged or huge
 * one is set aside (logged) rather than trusted.
 */
#include "runtime/faults.h"
#include "lib/log.h"
#include "os/os.h"
#include "os/os_fs.h"
#include "os/os_sup.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEDGER_FILE "plugin_faults.json"
#define LEDGER_LOCK "plugin_faults.lock"
#define LEDGER_MAX  (256u * 1024u)
#define MAX_PLUGINS 128u
#define MAX_FAULTS  32u
#define DETAIL_MAX  256u
#define REASON_MAX  512u

static struct {
    char *data_dir;
    rp__os_dir *dir;
    uint32_t max, window_s;
    int64_t test_now;
} L;

int rp__faults_open(const char *data_dir, uint32_t max, uint32_t window_s)
{
    rp__faults_close();
    if (!data_dir)
        return RP_ERR_INVAL;
    if (!(L.data_dir = strdup(data_dir)))
        return RP_ERR_NOMEM;
    L.max = max;
    L.window_s = window_s ? window_s : 1;
    return 0;
}

void rp__faults_close(void)
{
    rp__os_dir_close(L.dir);
    free(L.data_dir);
    L.dir = NULL;
    L.data_dir = NULL;
}

void rp__faults_test_clock(int64_t now_s)
{
    L.test_now = now_s;
}

static int64_t now_s(void)
{
    return L.test_now ? L.test_now : rp__os_time_ns() / 1000000000;
}

/* The data folder, opened (and checked) once it exists. */
static rp__os_dir *ledger_dir(void)
{
    if (L.dir || !L.data_dir)
        return L.dir;
    char why[512];
    int rc = rp__os_dir_open(L.data_dir, &L.dir, why, sizeof why);
    if (rc != 0) {
        L.dir = NULL;
        /* Before the first start the folder is not there yet: no faults. */
        if (rc != RP_ERR_NOTFOUND)
            rp__log_warn("fault ledger: %s: %s", L.data_dir, why);
    }
    return L.dir;
}

/* The ledger as JSON; an empty one when missing or unreadable. */
static json_t *load(rp__os_dir *dir)
{
    char *text = NULL, why[512];
    size_t len = 0;
    json_t *doc = NULL;
    int rc = rp__os_dir_read_small(dir, LEDGER_FILE, LEDGER_MAX, &text, &len, why, sizeof why);
    if (rc == 0) {
        doc = json_loadb(text, len, 0, NULL);
        if (!doc || !json_is_object(json_object_get(doc, "plugins"))) {
            rp__log_warn("fault ledger %s/%s: not a ledger; starting a new one", L.data_dir,
                         LEDGER_FILE);
            json_decref(doc);
            doc = NULL;
        }
    } else if (rc != RP_ERR_NOTFOUND) {
        rp__log_warn("fault ledger %s/%s: %s; starting a new one", L.data_dir, LEDGER_FILE,
                     rc == RP_ERR_PERM ? why : rp_strerror(rc));
    }
    free(text);
    if (!doc) {
        doc = json_object();
        json_object_set_new(doc, "version", json_integer(1));
        json_object_set_new(doc, "plugins", json_object());
    }
    return doc;
}

static int save(rp__os_dir *dir, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return RP_ERR_NOMEM;
    int rc = rp__os_dir_write_atomic(dir, LEDGER_FILE, text, strlen(text), 0600);
    free(text);
    if (rc != 0)
        rp__log_error("fault ledger %s/%s: cannot write: %s", L.data_dir, LEDGER_FILE,
                      rp_strerror(rc));
    return rc;
}

static json_int_t jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static int same_file(const json_t *e, uint64_t dev, uint64_t ino, uint64_t size, int64_t mtime_ns)
{
    return jint(e, "dev") == (json_int_t)dev && jint(e, "ino") == (json_int_t)ino &&
           jint(e, "size") == (json_int_t)size && jint(e, "mtime_ns") == (json_int_t)mtime_ns;
}

static json_t *cut_string(const char *s, size_t cap)
{
    size_t n = s ? strlen(s) : 0;
    return json_stringn(s ? s : "", n < cap ? n : cap);
}

static const char *kind_name(enum rp__fault_kind k)
{
    switch (k) {
    case RP__FAULT_CRASH:
        return "crash";
    case RP__FAULT_HANG:
        return "hang";
    case RP__FAULT_BUDGET:
        return "budget";
    case RP__FAULT_SANDBOX:
        return "sandbox";
    }
    return "fault";
}

/* Keeps the faults of the window, the newest MAX_FAULTS; returns how many. */
static size_t prune(json_t *faults, int64_t now)
{
    size_t i = 0;
    while (i < json_array_size(faults)) {
        if (jint(json_array_get(faults, i), "time") <= now - (int64_t)L.window_s)
            json_array_remove(faults, i);
        else
            i++;
    }
    while (json_array_size(faults) > MAX_FAULTS)
        json_array_remove(faults, 0);
    return json_array_size(faults);
}

/* At most MAX_PLUGINS entries: the one whose last fault is oldest and that
 * disables nothing goes first. */
static void bound_entries(json_t *plugins)
{
    while (json_object_size(plugins) > MAX_PLUGINS) {
        const char *key, *victim = NULL;
        json_t *e;
        json_int_t oldest = INT64_MAX;
        json_object_foreach(plugins, key, e)
        {
            json_t *f = json_object_get(e, "faults");
            json_int_t last =
                json_array_size(f) ? jint(json_array_get(f, json_array_size(f) - 1), "time") : 0;
            if (!json_is_true(json_object_get(e, "disabled")) && last < oldest) {
                oldest = last;
                victim = key;
            }
        }
        if (!victim)
            return; /* all disabled: kept, the file stays bounded by MAX_FAULTS each */
        json_object_del(plugins, victim);
    }
}

int rp__faults_report(const struct rp__fault *f)
{
    if (!f || !f->plugin || !f->plugin[0])
        return RP_ERR_INVAL;
    rp__log_error("plugin %s: %s%s%s%s%s", f->plugin, kind_name(f->kind), f->callback ? " in " : "",
                  f->callback ? f->callback : "", f->detail ? ": " : "",
                  f->detail ? f->detail : "");
    rp__os_dir *dir = ledger_dir();
    if (!dir)
        return 0;
    int lock = -1;
    int rc = rp__os_dir_lock(dir, LEDGER_LOCK, &lock);
    if (rc != 0) {
        rp__log_error("fault ledger %s/%s: cannot lock: %s", L.data_dir, LEDGER_LOCK,
                      rp_strerror(rc));
        return rc;
    }
    json_t *doc = load(dir);
    json_t *plugins = json_object_get(doc, "plugins");
    json_t *e = json_object_get(plugins, f->plugin);
    if (!e || !same_file(e, f->dev, f->ino, f->size, f->mtime_ns)) {
        /* A new file is a new plugin for the ledger. */
        e = json_object();
        json_object_set_new(e, "path", cut_string(f->path, 1024));
        json_object_set_new(e, "dev", json_integer((json_int_t)f->dev));
        json_object_set_new(e, "ino", json_integer((json_int_t)f->ino));
        json_object_set_new(e, "size", json_integer((json_int_t)f->size));
        json_object_set_new(e, "mtime_ns", json_integer((json_int_t)f->mtime_ns));
        json_object_set_new(e, "faults", json_array());
        json_object_set_new(e, "disabled", json_false());
        json_object_set_new(plugins, f->plugin, e);
    }
    int64_t now = now_s();
    json_t *faults = json_object_get(e, "faults");
    json_t *one = json_object();
    json_object_set_new(one, "time", json_integer(now));
    json_object_set_new(one, "kind", json_string(kind_name(f->kind)));
    if (f->callback)
        json_object_set_new(one, "callback", cut_string(f->callback, 64));
    if (f->signo) {
        char sig[32];
        json_object_set_new(one, "signal",
                            json_string(rp__os_signal_name(f->signo, sig, sizeof sig)));
    }
    if (f->detail)
        json_object_set_new(one, "detail", cut_string(f->detail, DETAIL_MAX));
    json_array_append_new(faults, one);
    size_t n = prune(faults, now);
    int disabled_now = 0;
    if (L.max > 0 && n >= L.max && !json_is_true(json_object_get(e, "disabled"))) {
        char reason[REASON_MAX], sig[32] = "";
        if (f->signo)
            rp__os_signal_name(f->signo, sig, sizeof sig);
        snprintf(reason, sizeof reason,
                 "disabled after %zu faults in %u s (last: %s%s%s%s%s); it stays off until its "
                 "file changes or `rampartctl plugins enable %.64s`",
                 n, L.window_s, kind_name(f->kind), sig[0] ? " " : "", sig,
                 f->callback ? " in " : "", f->callback ? f->callback : "", f->plugin);
        json_object_set_new(e, "disabled", json_true());
        json_object_set_new(e, "disabled_time", json_integer(now));
        json_object_set_new(e, "reason", json_string(reason));
        disabled_now = 1;
        rp__log_error("plugin %s %s", f->plugin, reason);
    }
    bound_entries(plugins);
    rc = save(dir, doc);
    json_decref(doc);
    rp__os_dir_unlock(lock);
    return rc != 0 ? rc : disabled_now;
}

int rp__faults_disabled(const char *plugin, uint64_t dev, uint64_t ino, uint64_t size,
                        int64_t mtime_ns, char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    if (!plugin || L.max == 0)
        return 0;
    rp__os_dir *dir = ledger_dir();
    if (!dir)
        return 0;
    /* Written by rename: a reader sees one whole version, no lock needed. */
    json_t *doc = load(dir);
    json_t *e = json_object_get(json_object_get(doc, "plugins"), plugin);
    int off =
        e && json_is_true(json_object_get(e, "disabled")) && same_file(e, dev, ino, size, mtime_ns);
    if (off && why && whylen)
        snprintf(why, whylen, "%s", json_string_value(json_object_get(e, "reason")));
    json_decref(doc);
    return off;
}

int rp__faults_enable(const char *plugin)
{
    if (!plugin)
        return RP_ERR_INVAL;
    rp__os_dir *dir = ledger_dir();
    if (!dir)
        return RP_ERR_NOTFOUND;
    int lock = -1;
    int rc = rp__os_dir_lock(dir, LEDGER_LOCK, &lock);
    if (rc != 0)
        return rc;
    json_t *doc = load(dir);
    json_t *plugins = json_object_get(doc, "plugins");
    json_t *e = json_object_get(plugins, plugin);
    int was = e && json_is_true(json_object_get(e, "disabled"));
    if (e) {
        json_object_del(plugins, plugin);
        rc = save(dir, doc);
    }
    json_decref(doc);
    rp__os_dir_unlock(lock);
    if (rc != 0)
        return rc;
    if (was)
        rp__log_info("plugin %s enabled again: its faults are forgotten", plugin);
    return was;
}
