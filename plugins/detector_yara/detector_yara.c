/*
 * plugins/detector_yara/detector_yara.c - the YARA detector: the rules under
 * its rule_dirs run on files as they are written (file.create, file.modify),
 * on every program at process.exec, optionally on a new process's memory,
 * and, with block_exec, on programs about to be executed (guard.h), raising
 * an alert per matching rule (sdk/docs/alerts.md). README.md says what each
 * config key does.
 *
 * Threads. on_event (one dispatcher thread at a time) only queues: it keeps
 * a reference to the event and hands it to the plugin's own scanning threads
 * (1 to 4, nice 10), which open the file once, check it is the event's, scan
 * it (scan.h) and alert. The queue is bounded in requests and bytes; past
 * either cap a request is dropped and counted. Requests of the exec guard
 * (a program held by the kernel until it is answered) are taken before any
 * other. The rule set in use is a reference-counted `live` installed under
 * `lock`; a reload builds a new one (under build_lock, one build at a time)
 * and swaps it, and scans in flight finish on the set they took. Commands
 * (two worker threads at most) read the set they took.
 */
#define _GNU_SOURCE
#include "guard.h"
#include "ondemand.h"
#include "rules.h"
#include "scan.h"
#include "verdict.h"

#include <rampart/plugin.h>
#include <rampart/plugin_util.h>
#include <rampart/plugin_util_proc.h>
#include <rampart/plugin_util_response.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define LIT(s) (s), (sizeof(s) - 1)

#define DIRS_MAX        64u
#define PATHS_MAX       64u
#define THREADS_MAX     4u
#define NEVER_BLOCK_MAX (DY_GUARD_ALLOW_MAX - 8u)
/* Rule files failing or warning logged one line each at a load; the rest
 * are counted in one line (the rules command lists them all). */
#define LOG_RULES_MAX 50u
/* Meta of a rule in yara.meta: items, and bytes of one "key=value". */
#define META_ITEMS_MAX 32u
#define META_ITEM_MAX  256u
/* Tags of a rule in rule.tags (the alert contract's cap). */
#define TAGS_MAX 32u
/* The throttle table of repeated alerts: direct-mapped slots. */
#define THROTTLE_SLOTS 4096u
/* At most one fail-open alert per this many seconds (the rest counted). */
#define FAILOPEN_ALERT_S 60
#define VERDICTS_FILE    "yara-verdicts"
/* Bytes of one reply of the rules command. */
#define RULES_REPLY_MAX (512u * 1024u)

#define PATH_ITEM                                                                                  \
    "{\"type\":\"string\",\"format\":\"absolute-path\",\"minLength\":1,\"maxLength\":4095}"

static const char config_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"rule_dirs\":{\"type\":\"array\",\"maxItems\":64,\"default\":[\"/etc/rampart/rules/yara\"],"
    "\"description\":\"folders whose *.yar and *.yara rules are loaded, recursively\","
    "\"items\":" PATH_ITEM "},"
    "\"scan_writes\":{\"type\":\"boolean\",\"default\":true,"
    "\"description\":\"scan files at file.create and file.modify\"},"
    "\"scan_execs\":{\"type\":\"boolean\",\"default\":true,"
    "\"description\":\"scan every program at process.exec\"},"
    "\"block_exec\":{\"type\":\"boolean\",\"default\":false,"
    "\"description\":\"answer for every exec (fanotify); deny when the alert's policy is "
    "prevent\"},"
    "\"exec_deadline_ms\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10000,\"default\":200},"
    "\"never_block\":{\"type\":\"array\",\"maxItems\":64,\"default\":[],"
    "\"description\":\"programs and folders never blocked\",\"items\":" PATH_ITEM "},"
    "\"exclude\":{\"type\":\"array\",\"maxItems\":64,\"default\":[],"
    "\"description\":\"files and folders never scanned\",\"items\":" PATH_ITEM "},"
    "\"max_file_bytes\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1073741824,"
    "\"default\":67108864},"
    "\"scan_timeout_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":3600,\"default\":10},"
    "\"user_bytes_per_minute\":{\"type\":\"integer\",\"minimum\":1048576,"
    "\"maximum\":1099511627776,\"default\":536870912},"
    "\"max_strings_per_rule\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000000,"
    "\"default\":10000},"
    "\"max_match_data\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":4096,\"default\":64},"
    "\"threads\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":4,\"default\":1},"
    "\"queue\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"default\":{\"max_requests\":1024,\"max_bytes\":268435456},\"properties\":{"
    "\"max_requests\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":65536},"
    "\"max_bytes\":{\"type\":\"integer\",\"minimum\":1048576,\"maximum\":17179869184}}},"
    "\"verdict_cache\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"default\":{\"max_entries\":65536,\"max_bytes\":33554432,\"save_interval_s\":300},"
    "\"properties\":{"
    "\"max_entries\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":4194304},"
    "\"max_bytes\":{\"type\":\"integer\",\"minimum\":65536,\"maximum\":4294967296},"
    "\"save_interval_s\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":86400}}},"
    "\"memory_scan\":{\"type\":\"boolean\",\"default\":false,"
    "\"description\":\"also scan a new process's memory at process.exec\"},"
    "\"alert_throttle_s\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":86400,\"default\":60,"
    "\"description\":\"one alert per file and rule in this window; 0 alerts every time\"},"
    "\"scheduled_scan\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"default\":{\"paths\":[],\"interval_s\":86400,\"first_delay_s\":600,"
    "\"cross_fs\":false,\"max_depth\":64},"
    "\"description\":\"folders scanned every interval_s at idle I/O priority (none: off)\","
    "\"properties\":{"
    "\"paths\":{\"type\":\"array\",\"maxItems\":64,\"items\":" PATH_ITEM "},"
    "\"interval_s\":{\"type\":\"integer\",\"minimum\":60,\"maximum\":31622400},"
    "\"first_delay_s\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":86400},"
    "\"cross_fs\":{\"type\":\"boolean\"},"
    "\"max_depth\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":256}}}}}";

enum counter {
    C_EVENTS,
    C_EXCLUDED,
    C_OPEN_FAILED,
    C_IDENTITY_MISMATCH,
    C_EXEC_PATH_FALLBACK,
    C_SCANNED,
    C_CACHE_HITS,
    C_CLEAN,
    C_MALICIOUS,
    C_NOT_REGULAR,
    C_TOO_LARGE,
    C_TIMEOUT,
    C_BUDGET,
    C_CHANGING,
    C_SCAN_ERRORS,
    C_MATCH_LIMIT,
    C_MATCHES_DROPPED,
    C_MEM_SCANS,
    C_MEM_SKIPPED,
    C_QUEUE_DROPPED,
    C_QUEUE_DROPPED_BYTES,
    C_ALERTS,
    C_ALERTS_THROTTLED,
    C_ALERT_FAILURES,
    C_THROTTLE_EVICTIONS,
    C_GUARD_DENIED,
    C_GUARD_FAILED_OPEN,
    C_FAILOPEN_ALERTS_SUPPRESSED,
    C_GUARD_SUBMIT_REFUSED,
    C_RELOADS,
    C_RELOAD_FAILURES,
    C_RULE_FILES_FAILED,
    C_RULE_WARNINGS,
    C_VERDICT_SAVES,
    C_VERDICT_SAVE_FAILURES,
    C_OD_SCANS,
    C_SCHED_SCANS,
    C_OD_ERRORS,
    C_COUNT
};
static const char *const counter_names[C_COUNT] = {
    "events",
    "excluded",
    "open_failed",
    "identity_mismatch",
    "exec_path_fallback",
    "scanned",
    "cache_hits",
    "clean",
    "malicious",
    "not_regular",
    "too_large",
    "scan_timeouts",
    "user_budget_hit",
    "changing",
    "scan_errors",
    "match_limit_hit",
    "matches_dropped",
    "memory_scans",
    "memory_scans_skipped",
    "queue_dropped",
    "queue_dropped_bytes",
    "alerts",
    "alerts_throttled",
    "alert_failures",
    "throttle_evictions",
    "exec_denied",
    "exec_failed_open",
    "failopen_alerts_suppressed",
    "exec_submit_refused",
    "reloads",
    "reload_failures",
    "rule_files_failed",
    "rule_warnings",
    "verdict_saves",
    "verdict_save_failures",
    "ondemand_scans",
    "scheduled_scans",
    "ondemand_errors",
};

enum gauge { G_QUEUE_DEPTH, G_QUEUE_BYTES, G_CACHE_ENTRIES, G_RULES, G_FILES_FAILED, G_COUNT };
static const char *const gauge_names[G_COUNT] = {"queue_depth", "queue_bytes", "verdict_entries",
                                                 "rules_loaded", "rule_files_failed"};

enum field {
    F_ACTION,
    F_FILE_PATH,
    F_FILE_INODE,
    F_FILE_DEVICE,
    F_FILE_SIZE,
    F_FILE_SHA256,
    F_PID,
    F_ENTITY_ID,
    F_EXECUTABLE,
    F_USER_ID,
    F_AUTHOR,
    F_META,
    F_STRINGS,
    F_SCAN,
    F_FROM_CACHE,
    F_NOTE,
    F_EXEC_DENIED,
    F_MATCHES,
    F_MODE,
    F_COUNT
};
static const rp_util_field_def field_defs[F_COUNT] = {
    [F_ACTION] = {"event.action", RP_TYPE_STR},
    [F_FILE_PATH] = {"file.path", RP_TYPE_STR},
    [F_FILE_INODE] = {"file.inode", RP_TYPE_STR},
    [F_FILE_DEVICE] = {"file.device", RP_TYPE_STR},
    [F_FILE_SIZE] = {"file.size", RP_TYPE_U64},
    [F_FILE_SHA256] = {"file.hash.sha256", RP_TYPE_STR},
    [F_PID] = {"process.pid", RP_TYPE_I64},
    [F_ENTITY_ID] = {"process.entity_id", RP_TYPE_STR},
    [F_EXECUTABLE] = {"process.executable", RP_TYPE_STR},
    [F_USER_ID] = {"user.id", RP_TYPE_STR},
    [F_AUTHOR] = {"rule.author", RP_TYPE_STR_ARRAY},
    [F_META] = {"yara.meta", RP_TYPE_STR_ARRAY},
    [F_STRINGS] = {"yara.strings_matched", RP_TYPE_U64},
    [F_SCAN] = {"yara.scan", RP_TYPE_STR},
    [F_FROM_CACHE] = {"yara.from_cache", RP_TYPE_BOOL},
    [F_NOTE] = {"yara.note", RP_TYPE_STR},
    [F_EXEC_DENIED] = {"yara.exec_denied", RP_TYPE_BOOL},
    [F_MATCHES] = {"yara.rules_matched", RP_TYPE_U64},
    [F_MODE] = {"rampart.policy.mode", RP_TYPE_STR},
};

/* ---- config -------------------------------------------------------------- */

struct conf {
    char *rule_dirs[DIRS_MAX];
    uint32_t n_rule_dirs;
    char *never_block[PATHS_MAX];
    uint32_t n_never_block;
    char *exclude[PATHS_MAX];
    uint32_t n_exclude;
    bool scan_writes, scan_execs, block_exec, memory_scan;
    uint32_t exec_deadline_ms, scan_timeout_s, max_strings_per_rule, max_match_data, threads;
    uint64_t max_file_bytes, user_bytes_per_minute;
    uint32_t queue_max_requests;
    uint64_t queue_max_bytes;
    uint32_t vc_max_entries, vc_save_interval_s;
    uint64_t vc_max_bytes;
    uint32_t alert_throttle_s;
    char *sched_paths[PATHS_MAX];
    uint32_t n_sched_paths;
    uint32_t sched_interval_s, sched_first_delay_s, sched_max_depth;
    bool sched_cross_fs;
};

static void conf_free(struct conf *c)
{
    for (uint32_t i = 0; i < c->n_rule_dirs; i++)
        free(c->rule_dirs[i]);
    for (uint32_t i = 0; i < c->n_never_block; i++)
        free(c->never_block[i]);
    for (uint32_t i = 0; i < c->n_exclude; i++)
        free(c->exclude[i]);
    for (uint32_t i = 0; i < c->n_sched_paths; i++)
        free(c->sched_paths[i]);
    memset(c, 0, sizeof *c);
}

static int conf_err(char *err, size_t errlen, const char *fmt, ...) RP_UTIL_PRINTF(3, 4);
static int conf_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return RP_ERR_CONFIG;
}

static int conf_paths(json_t *root, const char *key, const char *name, char **out, uint32_t *n,
                      uint32_t max, const char *const *dflt, uint32_t n_dflt, char *err,
                      size_t errlen)
{
    json_t *a = json_object_get(root, key);
    *n = 0;
    if (!a) {
        for (uint32_t i = 0; i < n_dflt; i++) {
            if (!(out[i] = strdup(dflt[i])))
                return RP_ERR_NOMEM;
            (*n)++;
        }
        return 0;
    }
    if (!json_is_array(a))
        return conf_err(err, errlen, "%s: expected an array of absolute paths", name);
    if (json_array_size(a) > max)
        return conf_err(err, errlen, "%s: at most %u paths, got %zu", name, max,
                        json_array_size(a));
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s || !rp_util_path_normal(s) || strlen(s) >= PATH_MAX)
            return conf_err(err, errlen,
                            "%s[%zu]: expected an absolute path without \".\", \"..\" or \"//\", "
                            "got %s%.200s%s",
                            name, i, s ? "\"" : "", s ? s : "a value of another type",
                            s ? "\"" : "");
        /* A trailing "/" is dropped so prefix matches compare components. */
        size_t len = strlen(s);
        while (len > 1 && s[len - 1] == '/')
            len--;
        if (!(out[*n] = strndup(s, len)))
            return RP_ERR_NOMEM;
        (*n)++;
    }
    return 0;
}

static int conf_bool(json_t *root, const char *key, bool dflt, bool *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, key);
    *out = dflt;
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return conf_err(err, errlen, "%s: expected true or false", key);
    *out = json_is_true(v);
    return 0;
}

static int conf_int(json_t *obj, const char *path, const char *key, uint64_t min, uint64_t max,
                    uint64_t dflt, uint64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    *out = dflt;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < min ||
        (uint64_t)json_integer_value(v) > max)
        return conf_err(err, errlen, "%s: expected an integer from %llu to %llu", path,
                        (unsigned long long)min, (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* Parses the plugin's config text (already checked against the schema, but
 * parsed as if it were not: check_config and a test host see the same
 * errors). err names the key. */
static int conf_parse(const char *text, size_t len, struct conf *c, char *err, size_t errlen)
{
    static const char *const dflt_dirs[] = {"/etc/rampart/rules/yara"};
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return conf_err(err, errlen, "the config is not a JSON object");
    }
    uint64_t v;
    json_t *q = json_object_get(root, "queue"), *vc = json_object_get(root, "verdict_cache");
    int rc = conf_paths(root, "rule_dirs", "rule_dirs", c->rule_dirs, &c->n_rule_dirs, DIRS_MAX,
                        dflt_dirs, 1, err, errlen);
    if (rc == 0)
        rc = conf_paths(root, "never_block", "never_block", c->never_block, &c->n_never_block,
                        PATHS_MAX, NULL, 0, err, errlen);
    if (rc == 0)
        rc = conf_paths(root, "exclude", "exclude", c->exclude, &c->n_exclude, PATHS_MAX, NULL, 0,
                        err, errlen);
    if (rc == 0)
        rc = conf_bool(root, "scan_writes", true, &c->scan_writes, err, errlen);
    if (rc == 0)
        rc = conf_bool(root, "scan_execs", true, &c->scan_execs, err, errlen);
    if (rc == 0)
        rc = conf_bool(root, "block_exec", false, &c->block_exec, err, errlen);
    if (rc == 0)
        rc = conf_bool(root, "memory_scan", false, &c->memory_scan, err, errlen);
#define INT(obj, path, key, min, max, dflt, dst)                                                   \
    do {                                                                                           \
        if (rc == 0 && (rc = conf_int(obj, path, key, min, max, dflt, &v, err, errlen)) == 0)      \
            dst = v;                                                                               \
    } while (0)
    INT(root, "exec_deadline_ms", "exec_deadline_ms", 1, DY_GUARD_DEADLINE_MAX,
        DY_GUARD_DEADLINE_DEF, c->exec_deadline_ms);
    INT(root, "max_file_bytes", "max_file_bytes", 1, 1073741824ull, DY_FILE_BYTES_DEF,
        c->max_file_bytes);
    INT(root, "scan_timeout_s", "scan_timeout_s", 1, 3600, DY_TIMEOUT_S_DEF, c->scan_timeout_s);
    INT(root, "user_bytes_per_minute", "user_bytes_per_minute", 1048576, 1099511627776ull,
        DY_USER_BYTES_MIN_DEF, c->user_bytes_per_minute);
    INT(root, "max_strings_per_rule", "max_strings_per_rule", 1, 1000000, DY_MAX_STRINGS_RULE_DEF,
        c->max_strings_per_rule);
    INT(root, "max_match_data", "max_match_data", 1, 4096, DY_MAX_MATCH_DATA_DEF,
        c->max_match_data);
    INT(root, "threads", "threads", 1, THREADS_MAX, 1, c->threads);
    INT(root, "alert_throttle_s", "alert_throttle_s", 0, 86400, 60, c->alert_throttle_s);
    json_t *sc = json_object_get(root, "scheduled_scan");
    if (rc == 0 && sc && !json_is_object(sc))
        rc = conf_err(err, errlen, "scheduled_scan: expected an object");
    if (rc == 0)
        rc = conf_paths(sc, "paths", "scheduled_scan.paths", c->sched_paths, &c->n_sched_paths,
                        DY_OD_PATHS_MAX, NULL, 0, err, errlen);
    INT(sc, "scheduled_scan.interval_s", "interval_s", 60, DY_SCHED_INTERVAL_MAX, 86400,
        c->sched_interval_s);
    INT(sc, "scheduled_scan.first_delay_s", "first_delay_s", 0, 86400, 600, c->sched_first_delay_s);
    INT(sc, "scheduled_scan.max_depth", "max_depth", 1, DY_OD_DEPTH_MAX, DY_OD_DEPTH_DEF,
        c->sched_max_depth);
    if (rc == 0 && sc && json_object_get(sc, "cross_fs")) {
        json_t *cf = json_object_get(sc, "cross_fs");
        if (!json_is_boolean(cf))
            rc = conf_err(err, errlen, "scheduled_scan.cross_fs: expected true or false");
        else
            c->sched_cross_fs = json_is_true(cf);
    }
    if (rc == 0 && q && !json_is_object(q))
        rc = conf_err(err, errlen, "queue: expected an object");
    if (rc == 0 && vc && !json_is_object(vc))
        rc = conf_err(err, errlen, "verdict_cache: expected an object");
    INT(q, "queue.max_requests", "max_requests", 1, 65536, 1024, c->queue_max_requests);
    INT(q, "queue.max_bytes", "max_bytes", 1048576, 17179869184ull, 268435456ull,
        c->queue_max_bytes);
    INT(vc, "verdict_cache.max_entries", "max_entries", 1, DY_VERDICT_ENTRIES_MAX,
        DY_VERDICT_ENTRIES_DEF, c->vc_max_entries);
    INT(vc, "verdict_cache.max_bytes", "max_bytes", 65536, 4294967296ull, DY_VERDICT_BYTES_DEF,
        c->vc_max_bytes);
    INT(vc, "verdict_cache.save_interval_s", "save_interval_s", 0, 86400, 300,
        c->vc_save_interval_s);
#undef INT
    if (rc == 0 && c->vc_max_bytes < dy_verdict_entry_bytes())
        rc = conf_err(err, errlen, "verdict_cache.max_bytes: %llu bytes hold not one entry (%zu)",
                      (unsigned long long)c->vc_max_bytes, dy_verdict_entry_bytes());
    if (rc == 0 && c->n_never_block > NEVER_BLOCK_MAX)
        rc = conf_err(err, errlen, "never_block: at most %u paths", NEVER_BLOCK_MAX);
    json_decref(root);
    if (rc != 0)
        conf_free(c);
    return rc;
}

/* What the scanner is made with: a change needs a new scanner. */
static int conf_engine_differs(const struct conf *a, const struct conf *b)
{
    return a->max_file_bytes != b->max_file_bytes || a->scan_timeout_s != b->scan_timeout_s ||
           a->user_bytes_per_minute != b->user_bytes_per_minute ||
           a->max_strings_per_rule != b->max_strings_per_rule ||
           a->max_match_data != b->max_match_data || a->threads != b->threads ||
           a->vc_max_entries != b->vc_max_entries || a->vc_max_bytes != b->vc_max_bytes;
}

static int lists_differ(char *const *a, uint32_t na, char *const *b, uint32_t nb)
{
    if (na != nb)
        return 1;
    for (uint32_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 1;
    return 0;
}

static int conf_sched_differs(const struct conf *a, const struct conf *b)
{
    return lists_differ(a->sched_paths, a->n_sched_paths, b->sched_paths, b->n_sched_paths) ||
           lists_differ(a->exclude, a->n_exclude, b->exclude, b->n_exclude) ||
           a->sched_interval_s != b->sched_interval_s ||
           a->sched_first_delay_s != b->sched_first_delay_s ||
           a->sched_max_depth != b->sched_max_depth || a->sched_cross_fs != b->sched_cross_fs;
}

static int conf_guard_differs(const struct conf *a, const struct conf *b)
{
    return a->block_exec != b->block_exec || a->exec_deadline_ms != b->exec_deadline_ms ||
           lists_differ(a->never_block, a->n_never_block, b->never_block, b->n_never_block);
}

/* ---- the plugin's state ---------------------------------------------------- */

/* A rule set in use: the set, what its load reported, and its rules by
 * name (for verdicts of the cache, which name their first rule). */
struct live {
    atomic_int refs;
    struct dy_ruleset *rs;
    json_t *report; /* the rules command's "files" array */
    struct dy_load_stats stats;
    const YR_RULE **by_name;
    uint32_t n_rules;
};

enum rkind { R_FILE, R_EXEC_EVENT, R_GUARD, R_PUBLISH };

struct req {
    struct req *next;
    enum rkind kind;
    const rp_event *ev; /* R_FILE, R_EXEC_EVENT: retained */
    rp_event *alert;    /* R_PUBLISH */
    int fd;             /* R_GUARD: owned */
    uint64_t token;     /* R_GUARD */
    pid_t pid;          /* R_GUARD */
    struct dy_file_id id;
    uint64_t bytes; /* counted against the queue's byte cap */
};

struct rqueue {
    struct req *head, *tail;
    uint32_t n;
};

struct throttle_slot {
    uint64_t key;
    int64_t until_ns;
};

struct yp {
    rp_plugin *self;
    const rp_host_api *host;
    rp_util_counters counters;
    _Atomic uint64_t totals[C_COUNT];
    uint32_t gauges[G_COUNT];
    rp_field_id f[F_COUNT];
    rp_util_response resp; /* the response events of exec denials */
    char machine_id[65];
    size_t mid_len;
    int dirfd; /* the private folder, the host's */
    char data_dir[PATH_MAX], plugin_dir[PATH_MAX], self_exe[PATH_MAX];

    pthread_mutex_t lock; /* cur, conf, last_error */
    pthread_mutex_t build_lock;
    struct live *cur;
    struct conf conf;
    char last_error[512];
    atomic_int skip_lifecycle, reload_pending, reload_again;

    /* The engine: scanner, threads, queue. */
    struct dy_scanner *scanner;
    pthread_t threads[THREADS_MAX];
    uint32_t n_threads;
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    struct rqueue q_guard, q_norm;
    uint64_t q_bytes;
    uint32_t q_max_requests;
    uint64_t q_max_bytes;
    bool q_stop;
    uint32_t q_high; /* the most requests queued at once */

    /* Live settings read by the scanning threads (under lock). */
    atomic_bool scan_writes, scan_execs, memory_scan;
    atomic_uint alert_throttle_s;
    _Atomic uint64_t hash_max; /* max_file_bytes, for hashing cached files */

    struct dy_guard *guard;
    atomic_int_fast64_t failopen_last_ns;
    /* scanner and guard are replaced (reconfigure) under elock; commands
     * and the verdict saves read them under it. */
    pthread_rwlock_t elock;
    struct dy_sched *sched;
    struct od_ctx *sched_ctx; /* the scheduler's callbacks' context */
    /* Set while the scanner is replaced or the plugin stops: on-demand
     * scans under way end at their next progress report. */
    atomic_bool od_cancel;

    pthread_mutex_t tlock;
    struct throttle_slot *throttle;

    uint64_t save_timer;
    bool save_timer_on;
    atomic_int save_pending;
};

static void count(struct yp *p, enum counter c, uint64_t n)
{
    if (n == 0)
        return;
    atomic_fetch_add_explicit(&p->totals[c], n, memory_order_relaxed);
    rp_util_count(&p->counters, c, n);
}

static void gauge(struct yp *p, enum gauge g, int64_t v)
{
    p->host->gauge_set(p->self, p->gauges[g], v);
}

static int refuse(struct yp *p, int rc, const char *msg)
{
    p->host->set_error(p->self, msg, strlen(msg));
    return rc;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- rule sets --------------------------------------------------------------- */

static void live_release(struct live *l)
{
    if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    dy_ruleset_unref(l->rs);
    json_decref(l->report);
    free(l->by_name);
    free(l);
}

static struct live *live_take(struct yp *p)
{
    pthread_mutex_lock(&p->lock);
    struct live *l = p->cur;
    if (l)
        atomic_fetch_add(&l->refs, 1);
    pthread_mutex_unlock(&p->lock);
    return l;
}

static int rule_cmp(const void *a, const void *b)
{
    return strcmp((*(const YR_RULE *const *)a)->identifier,
                  (*(const YR_RULE *const *)b)->identifier);
}

/* The rule of a cached verdict, by its name (NULL when the set has none of
 * that name, or the name was cut in the cache). */
static const YR_RULE *live_rule(const struct live *l, const char *name)
{
    size_t lo = 0, hi = l->n_rules;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, l->by_name[mid]->identifier);
        if (c == 0)
            return l->by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

struct load_ctx {
    struct yp *p;
    json_t *files;
    uint32_t logged, more, failed, warnings;
};

/* One rule file's fate: kept for the rules command, logged (bounded). */
static void on_report(void *ctx, const struct dy_file_report *rep)
{
    struct load_ctx *lc = ctx;
    struct yp *p = lc->p;
    json_t *warns = json_array();
    for (uint32_t i = 0; i < rep->n_warnings; i++) {
        const struct dy_warning *w = &rep->warnings[i];
        json_array_append_new(warns, json_pack("{s:I,s:s,s:s}", "line", (json_int_t)w->line, "rule",
                                               w->rule, "message", w->msg));
    }
    json_t *f =
        json_pack("{s:s,s:s,s:s,s:I,s:s,s:I,s:o,s:I}", "path", rep->path, "status",
                  dy_status_name(rep->status), "reason", dy_reason_name(rep->reason), "line",
                  (json_int_t)rep->line, "message", rep->msg, "rules", (json_int_t)rep->rules,
                  "warnings", warns, "warnings_dropped", (json_int_t)rep->warnings_dropped);
    if (f)
        json_array_append_new(lc->files, f);
    if (rep->status == DY_ST_FAILED)
        lc->failed++;
    lc->warnings += rep->n_warnings + rep->warnings_dropped;
    if (rep->status != DY_ST_COMPILED) {
        if (lc->logged < LOG_RULES_MAX) {
            lc->logged++;
            if (rep->line)
                rp_util_logf(p->host, p->self, RP_LOG_WARN, "rule file %s %s (%s) at line %u: %s",
                             rep->path, dy_status_name(rep->status), dy_reason_name(rep->reason),
                             rep->line, rep->msg);
            else
                rp_util_logf(p->host, p->self, RP_LOG_WARN, "rule file %s %s (%s)%s%s", rep->path,
                             dy_status_name(rep->status), dy_reason_name(rep->reason),
                             rep->msg[0] ? ": " : "", rep->msg);
        } else {
            lc->more++;
        }
    }
    for (uint32_t i = 0; i < rep->n_warnings; i++) {
        const struct dy_warning *w = &rep->warnings[i];
        if (lc->logged >= LOG_RULES_MAX) {
            lc->more++;
            continue;
        }
        lc->logged++;
        rp_util_logf(p->host, p->self, RP_LOG_WARN, "rule file %s line %u%s%s: %s", rep->path,
                     w->line, w->rule[0] ? " rule " : "", w->rule, w->msg);
    }
}

/* Loads the rules of c into a new live set; err says why not. */
static int live_build(struct yp *p, const struct conf *c, struct live **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    struct live *l = calloc(1, sizeof *l);
    if (!l)
        return RP_ERR_NOMEM;
    atomic_init(&l->refs, 1);
    l->report = json_array();
    struct load_ctx lc = {.p = p, .files = l->report};
    struct dy_load_opts o = {
        .dirs = (const char *const *)c->rule_dirs,
        .n_dirs = c->n_rule_dirs,
        .cache_dirfd = p->dirfd,
    };
    struct dy_rules *rules = NULL;
    int rc = dy_rules_load(&o, on_report, &lc, &rules, &l->stats, err, errlen);
    if (rc == 0 && (rc = dy_ruleset_create(rules, &l->rs)) != 0)
        dy_rules_destroy(rules);
    if (rc == 0) {
        YR_RULES *yr = dy_rules_yara(dy_ruleset_rules(l->rs));
        const YR_RULE *rule;
        uint32_t n = 0;
        yr_rules_foreach(yr, rule) n++;
        l->by_name = calloc(n ? n : 1, sizeof *l->by_name);
        if (!l->by_name)
            rc = RP_ERR_NOMEM;
        else {
            yr_rules_foreach(yr, rule) l->by_name[l->n_rules++] = rule;
            qsort(l->by_name, l->n_rules, sizeof *l->by_name, rule_cmp);
        }
    }
    if (rc != 0) {
        if (rc == RP_ERR_NOMEM && !err[0])
            snprintf(err, errlen, "out of memory");
        live_release(l);
        return rc;
    }
    if (lc.more)
        rp_util_logf(p->host, p->self, RP_LOG_WARN,
                     "%u more rule file failures and warnings not logged; the plugin's rules "
                     "command lists every file",
                     lc.more);
    count(p, C_RULE_FILES_FAILED, lc.failed);
    count(p, C_RULE_WARNINGS, lc.warnings);
    *out = l;
    return 0;
}

static void log_live(struct yp *p, const struct live *l, const char *what)
{
    const struct dy_load_stats *s = &l->stats;
    rp_util_logf(p->host, p->self, RP_LOG_INFO,
                 "%s %u rule files: %u compiled, %u failed, %u skipped, %u rules, %u warnings "
                 "(compiled cache: %s%s%s; %.1f ms compiling)",
                 what, s->files, s->compiled, s->failed, s->skipped, s->rules, s->warnings,
                 dy_cache_state_name(s->cache), s->cache_msg[0] ? ", " : "", s->cache_msg,
                 s->compile_ms);
    if (s->cache_save_rc != 0)
        rp_util_logf(p->host, p->self, RP_LOG_WARN,
                     "the compiled rules could not be saved in the private folder (%s): the "
                     "next start compiles them again",
                     rp_strerror(s->cache_save_rc));
}

static void install(struct yp *p, struct live *l)
{
    pthread_mutex_lock(&p->lock);
    struct live *old = p->cur;
    p->cur = l;
    p->last_error[0] = '\0';
    pthread_mutex_unlock(&p->lock);
    gauge(p, G_RULES, l->stats.rules);
    gauge(p, G_FILES_FAILED, l->stats.failed);
    live_release(old);
}

static void note_failure(struct yp *p, const char *why)
{
    pthread_mutex_lock(&p->lock);
    snprintf(p->last_error, sizeof p->last_error, "%.*s", (int)(sizeof p->last_error - 1), why);
    pthread_mutex_unlock(&p->lock);
}

/* ---- alerts ------------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const uint8_t *b = data;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* 1 when an alert for (file, rule) may go out now: the first in the
 * window. A slot taken by another key is overwritten (counted): at worst
 * one alert more. */
static int throttle_pass(struct yp *p, const struct dy_file_id *id, const char *rule)
{
    uint32_t window = atomic_load(&p->alert_throttle_s);
    if (window == 0 || !id || (id->dev == 0 && id->ino == 0))
        return 1;
    uint64_t k = fnv(14695981039346656037ull, id, sizeof *id);
    k = fnv(k, rule, strlen(rule));
    if (k == 0)
        k = 1;
    int64_t now = mono_ns();
    struct throttle_slot *s = &p->throttle[k % THROTTLE_SLOTS];
    int pass = 1;
    pthread_mutex_lock(&p->tlock);
    if (s->key == k && now < s->until_ns)
        pass = 0;
    else {
        if (s->key != 0 && s->key != k && now < s->until_ns)
            count(p, C_THROTTLE_EVICTIONS, 1);
        s->key = k;
        s->until_ns = now + (int64_t)window * 1000000000;
    }
    pthread_mutex_unlock(&p->tlock);
    if (!pass)
        count(p, C_ALERTS_THROTTLED, 1);
    return pass;
}

static uint32_t severity_of(const YR_RULE *rule)
{
    const YR_META *m;
    if (!rule)
        return RP_SEVERITY_HIGH;
    yr_rule_metas_foreach(rule, m)
    {
        if (strcasecmp(m->identifier, "severity") != 0 && strcasecmp(m->identifier, "score") != 0)
            continue;
        if (m->type == META_TYPE_INTEGER && m->integer >= 0 && m->integer <= 100)
            return (uint32_t)m->integer;
        if (m->type != META_TYPE_STRING || !m->string)
            continue;
        static const struct {
            const char *name;
            uint32_t v;
        } lv[] = {{"informational", RP_SEVERITY_INFO},
                  {"info", RP_SEVERITY_INFO},
                  {"low", RP_SEVERITY_LOW},
                  {"medium", RP_SEVERITY_MEDIUM},
                  {"high", RP_SEVERITY_HIGH},
                  {"critical", RP_SEVERITY_CRITICAL}};
        for (size_t i = 0; i < sizeof lv / sizeof lv[0]; i++)
            if (strcasecmp(m->string, lv[i].name) == 0)
                return lv[i].v;
        char *end;
        long n = strtol(m->string, &end, 10);
        if (end != m->string && *end == '\0' && n >= 0 && n <= 100)
            return (uint32_t)n;
    }
    return RP_SEVERITY_HIGH;
}

static const char *meta_str(const YR_RULE *rule, const char *a, const char *b)
{
    const YR_META *m;
    if (!rule)
        return NULL;
    yr_rule_metas_foreach(rule, m)
    {
        if (m->type == META_TYPE_STRING && m->string && m->string[0] &&
            (strcasecmp(m->identifier, a) == 0 || (b && strcasecmp(m->identifier, b) == 0)))
            return m->string;
    }
    return NULL;
}

/* A tag usable in rule.tags: 1-128 printable ASCII bytes, no spaces. */
static int tag_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] <= ' ' || t[i] > '~')
            return 0;
    return 1;
}

/* What an alert is about besides the rule. */
struct subject {
    const rp_event *src; /* the event that raised it, or NULL (the guard) */
    const char *scan;    /* "file", "exec", "memory" */
    const char *path;    /* the file scanned (NULL for memory) */
    pid_t pid;           /* without a source: the exec's process */
    const struct dy_file_id *id;
    const uint8_t *sha256; /* NULL: not known */
    bool from_cache;
    const char *note;
};

/* Makes an alert for one matching rule (rule may be NULL when only its name
 * is known, from the cache); the caller publishes it. */
static rp_event *make_alert(struct yp *p, const YR_RULE *rule, const char *name,
                            uint32_t strings_matched, uint32_t n_rules, const struct subject *s)
{
    const rp_host_api *h = p->host;
    char rule_id[129], reason[1024];
    snprintf(rule_id, sizeof rule_id, "yara.%s", name);
    const char *exe = NULL;
    uint64_t n;
    if (s->src && h->get_str(s->src, p->f[F_EXECUTABLE], &exe, &n) != 0)
        exe = NULL;
    if (strcmp(s->scan, "memory") == 0)
        snprintf(reason, sizeof reason, "YARA rule \"%s\" matched the memory of process %d (%s)",
                 name, (int)s->pid, s->path ? s->path : "unknown program");
    else if (strcmp(s->scan, "exec") == 0)
        snprintf(reason, sizeof reason, "YARA rule \"%s\" matched the program %s executed%s%s",
                 name, s->path ? s->path : "?", s->src ? "" : " (held at exec)", "");
    else
        snprintf(reason, sizeof reason, "YARA rule \"%s\" matched %s, written by %s", name,
                 s->path ? s->path : "?", exe ? exe : "an unknown program");
    const char *tags[TAGS_MAX + 1];
    uint32_t nt = 0;
    if (rule) {
        const char *t;
        yr_rule_tags_foreach(rule, t)
        {
            if (nt < TAGS_MAX && tag_ok(t))
                tags[nt++] = t;
        }
    }
    tags[nt] = NULL;
    rp_alert a = {
        .struct_size = sizeof a,
        .severity = severity_of(rule),
        .rule_id = rule_id,
        .rule_name = name,
        .ruleset = "yara",
        .reason = reason,
        .rule_description = meta_str(rule, "description", "desc"),
        .rule_reference = meta_str(rule, "reference", "url"),
        .tags = nt ? tags : NULL,
    };
    rp_event *alert;
    const rp_event *src[1] = {s->src};
    if (h->alert_create(p->self, &a, s->src ? src : NULL, s->src ? 1 : 0, &alert) != 0) {
        count(p, C_ALERT_FAILURES, 1);
        return NULL;
    }
    /* What the contract leaves to the detector; a field that does not fit
     * is left out rather than losing the alert. */
    const char *author = meta_str(rule, "author", NULL);
    if (author) {
        rp_str item = {author, strlen(author)};
        h->set_str_array(alert, p->f[F_AUTHOR], &item, 1);
    }
    if (rule) {
        static _Thread_local char mbuf[META_ITEMS_MAX][META_ITEM_MAX];
        rp_str items[META_ITEMS_MAX];
        uint32_t nm = 0;
        const YR_META *m;
        yr_rule_metas_foreach(rule, m)
        {
            if (nm == META_ITEMS_MAX)
                break;
            int k;
            if (m->type == META_TYPE_STRING)
                k = snprintf(mbuf[nm], META_ITEM_MAX, "%s=%s", m->identifier,
                             m->string ? m->string : "");
            else if (m->type == META_TYPE_BOOLEAN)
                k = snprintf(mbuf[nm], META_ITEM_MAX, "%s=%s", m->identifier,
                             m->integer ? "true" : "false");
            else
                k = snprintf(mbuf[nm], META_ITEM_MAX, "%s=%lld", m->identifier,
                             (long long)m->integer);
            if (k < 0)
                continue;
            items[nm].ptr = mbuf[nm];
            items[nm].len = (size_t)k < META_ITEM_MAX ? (size_t)k : META_ITEM_MAX - 1;
            nm++;
        }
        if (nm)
            h->set_str_array(alert, p->f[F_META], items, nm);
    }
    if (!s->from_cache)
        h->set_u64(alert, p->f[F_STRINGS], strings_matched);
    h->set_u64(alert, p->f[F_MATCHES], n_rules);
    h->set_str(alert, p->f[F_SCAN], s->scan, strlen(s->scan));
    h->set_bool(alert, p->f[F_FROM_CACHE], s->from_cache);
    if (s->path)
        h->set_str(alert, p->f[F_FILE_PATH], s->path, strlen(s->path));
    if (s->sha256) {
        char hex[65];
        rp_util_hex(s->sha256, 32, hex);
        h->set_str(alert, p->f[F_FILE_SHA256], hex, 64);
    }
    if (!s->src && s->pid > 0)
        h->set_i64(alert, p->f[F_PID], s->pid);
    if (s->note)
        h->set_str(alert, p->f[F_NOTE], s->note, strlen(s->note));
    return alert;
}

/* SHA-256 of the open file from its start (rp_util_sha256_fd), at most max
 * bytes, through this thread's buffer. */
static int hash_file(int fd, uint64_t max, uint8_t out[32])
{
    static _Thread_local uint8_t buf[65536];
    return rp_util_sha256_fd(fd, max, buf, sizeof buf, out);
}

static int is_prevent(struct yp *p, const rp_event *alert)
{
    const char *mode;
    uint64_t n;
    return p->host->get_str(alert, p->f[F_MODE], &mode, &n) == 0 && n == 7 &&
           memcmp(mode, "prevent", 7) == 0;
}

static void copy_str(struct yp *p, const rp_event *from, rp_event *to, int field)
{
    const char *v;
    uint64_t n;
    if (p->host->get_str(from, p->f[field], &v, &n) == 0)
        p->host->set_str(to, p->f[field], v, n);
}

/* The response to a held exec under prevent (sdk/docs/responses.md): the
 * deny is an action like a kill, so it is reported the same way, linked to
 * its alert. A deny the guard could not give (the exec was answered already,
 * by the deadline's watchdog) is a failure. */
static void respond_exec(struct yp *p, const rp_event *alert, int denied)
{
    rp_event *r;
    if (rp_util_response_begin(&p->resp, alert, "block_exec", "process", "denied", &r) != 0)
        return;
    int64_t pid;
    if (p->host->get_i64(alert, p->f[F_PID], &pid) == 0)
        p->host->set_i64(r, p->f[F_PID], pid);
    copy_str(p, alert, r, F_ENTITY_ID);
    copy_str(p, alert, r, F_EXECUTABLE);
    copy_str(p, alert, r, F_FILE_PATH);
    copy_str(p, alert, r, F_FILE_SHA256);
    const char *path = "";
    uint64_t n = 0;
    if (p->host->get_str(alert, p->f[F_FILE_PATH], &path, &n) != 0 &&
        p->host->get_str(alert, p->f[F_EXECUTABLE], &path, &n) != 0) {
        path = "(unknown)";
        n = 9;
    }
    if (denied)
        rp_util_response_finish(&p->resp, r, alert, RP_UTIL_RESPONSE_DONE, NULL,
                                "exec of %.*s denied", (int)(n < 400 ? n : 400), path);
    else
        rp_util_response_finish(&p->resp, r, alert, RP_UTIL_RESPONSE_FAILED, "already_answered",
                                "exec of %.*s could not be denied: it was answered already "
                                "(exec_deadline_ms passed)",
                                (int)(n < 400 ? n : 400), path);
}

static void publish(struct yp *p, rp_event *alert)
{
    /* The alert is read after publishing (immutable by then) to report an
     * exec held under prevent. */
    int32_t denied = 0;
    int held = p->host->get_bool(alert, p->f[F_EXEC_DENIED], &denied) == 0 &&
               (denied || is_prevent(p, alert));
    if (held)
        p->host->event_retain(alert);
    if (p->host->event_publish(p->self, alert) != 0)
        count(p, C_ALERT_FAILURES, 1);
    else
        count(p, C_ALERTS, 1);
    if (held) {
        respond_exec(p, alert, denied);
        p->host->event_release(alert);
    }
}

/* Alerts for a scan's result (each matching rule kept, or the cached
 * first rule), throttled per file and rule. fd (may be -1) hashes a file
 * whose result has no hash. Returns 1 when any alert's policy is prevent
 * (only used when the caller may still deny). When guard_token is nonzero
 * the exec is answered before the alerts are published. */
static int alert_result(struct yp *p, struct live *l, const struct dy_scan_result *res,
                        struct subject *s, int fd, uint64_t guard_token)
{
    uint8_t sha[32];
    /* A held exec is answered before a file is hashed (below). */
    bool hash_later = false;
    if (res->has_sha256)
        s->sha256 = res->sha256;
    else if (fd >= 0 && strcmp(s->scan, "memory") != 0 && guard_token)
        hash_later = true;
    else if (fd >= 0 && strcmp(s->scan, "memory") != 0 &&
             hash_file(fd, atomic_load(&p->hash_max), sha) == 0)
        s->sha256 = sha;
    s->from_cache = res->from_cache;
    rp_event *alerts[DY_SCAN_MATCHES_MAX];
    uint32_t na = 0;
    int prevent = 0;
    if (res->from_cache || res->n_matches == 0) {
        const char *name = res->cached_rule[0] ? res->cached_rule : "unknown";
        /* With a guard answer pending the alert is made even when throttled:
         * its policy decides the answer. */
        int pass = throttle_pass(p, s->id, name);
        if (pass || guard_token) {
            rp_event *a = make_alert(p, live_rule(l, name), name, 0, res->n_rules, s);
            if (a) {
                prevent |= is_prevent(p, a);
                if (pass)
                    alerts[na++] = a;
                else
                    p->host->event_release(a);
            }
        }
    } else {
        for (uint32_t i = 0; i < res->n_matches; i++) {
            const YR_RULE *r = res->matches[i].rule;
            int pass = throttle_pass(p, s->id, r->identifier);
            if (!pass && !guard_token)
                continue;
            rp_event *a =
                make_alert(p, r, r->identifier, res->matches[i].strings_matched, res->n_rules, s);
            if (!a)
                continue;
            prevent |= is_prevent(p, a);
            if (pass)
                alerts[na++] = a;
            else
                p->host->event_release(a);
        }
        count(p, C_MATCHES_DROPPED, res->matches_dropped);
    }
    if (guard_token && p->guard) {
        int denied = 0;
        if (prevent)
            denied = dy_guard_answer(p->guard, guard_token, DY_GUARD_DENY) == 0;
        else
            dy_guard_answer(p->guard, guard_token, DY_GUARD_ALLOW);
        if (denied)
            count(p, C_GUARD_DENIED, 1);
        for (uint32_t i = 0; i < na; i++)
            p->host->set_bool(alerts[i], p->f[F_EXEC_DENIED], denied);
    }
    if (hash_later && na > 0 && hash_file(fd, atomic_load(&p->hash_max), sha) == 0) {
        char hex[65];
        rp_util_hex(sha, 32, hex);
        for (uint32_t i = 0; i < na; i++)
            p->host->set_str(alerts[i], p->f[F_FILE_SHA256], hex, 64);
    }
    for (uint32_t i = 0; i < na; i++)
        publish(p, alerts[i]);
    return prevent;
}

/* Counts a result by outcome. */
static void count_result(struct yp *p, const struct dy_scan_result *res)
{
    static const enum counter by_outcome[DY_SCAN_OUTCOME_COUNT] = {
        [DY_SCAN_CLEAN] = C_CLEAN,
        [DY_SCAN_MALICIOUS] = C_MALICIOUS,
        [DY_SCAN_NOT_REGULAR] = C_NOT_REGULAR,
        [DY_SCAN_TOO_LARGE] = C_TOO_LARGE,
        [DY_SCAN_BUDGET] = C_BUDGET,
        [DY_SCAN_TIMEOUT] = C_TIMEOUT,
        [DY_SCAN_CHANGING] = C_CHANGING,
        [DY_SCAN_ERROR] = C_SCAN_ERRORS,
    };
    if ((unsigned)res->outcome < DY_SCAN_OUTCOME_COUNT)
        count(p, by_outcome[res->outcome], 1);
    if (res->from_cache)
        count(p, C_CACHE_HITS, 1);
    else if (res->bytes)
        count(p, C_SCANNED, 1);
    if (res->match_limit)
        count(p, C_MATCH_LIMIT, 1);
}

/* ---- the queue ------------------------------------------------------------------ */

static void req_free(struct yp *p, struct req *r)
{
    if (r->ev)
        p->host->event_release(r->ev);
    if (r->alert)
        p->host->event_release(r->alert);
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

static void rq_push(struct rqueue *q, struct req *r)
{
    r->next = NULL;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->n++;
}

static struct req *rq_pop(struct rqueue *q)
{
    struct req *r = q->head;
    if (r) {
        q->head = r->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
    }
    return r;
}

/* Queues r; past the caps (requests or bytes) it is refused: the caller
 * frees it and counts the drop. Guard requests and alerts to publish have a
 * reserve of their own (DY_GUARD_PENDING_MAX) so a flood of writes never
 * turns a held exec away. */
static int enqueue(struct yp *p, struct req *r)
{
    bool urgent = r->kind == R_GUARD || r->kind == R_PUBLISH;
    pthread_mutex_lock(&p->qlock);
    uint32_t n = p->q_guard.n + p->q_norm.n;
    int ok = !p->q_stop &&
             (urgent ? p->q_guard.n < DY_GUARD_PENDING_MAX + 64u
                     : p->q_norm.n < p->q_max_requests && p->q_bytes + r->bytes <= p->q_max_bytes);
    if (ok) {
        rq_push(urgent ? &p->q_guard : &p->q_norm, r);
        p->q_bytes += r->bytes;
        if (n + 1 > p->q_high)
            p->q_high = n + 1;
        pthread_cond_signal(&p->qcond);
    }
    uint64_t bytes = p->q_bytes;
    pthread_mutex_unlock(&p->qlock);
    if (ok) {
        gauge(p, G_QUEUE_DEPTH, n + 1);
        gauge(p, G_QUEUE_BYTES, (int64_t)bytes);
    }
    return ok ? 0 : RP_ERR_FULL;
}

/* ---- scanning --------------------------------------------------------------------- */

/* Whole-component prefix match against the exclude list. */
static int excluded(const struct conf *c, const char *path, size_t len)
{
    for (uint32_t i = 0; i < c->n_exclude; i++) {
        size_t n = strlen(c->exclude[i]);
        if (n == 1 && c->exclude[i][0] == '/')
            return 1;
        if (len >= n && memcmp(path, c->exclude[i], n) == 0 && (len == n || path[n] == '/'))
            return 1;
    }
    return 0;
}

static int is_excluded(struct yp *p, const char *path, size_t len)
{
    pthread_mutex_lock(&p->lock);
    int x = excluded(&p->conf, path, len);
    pthread_mutex_unlock(&p->lock);
    if (x)
        count(p, C_EXCLUDED, 1);
    return x;
}

/* A string field as a NUL-terminated copy (paths hold no NUL; one that does
 * is refused). */
static int get_path(struct yp *p, const rp_event *ev, enum field f, char *buf, size_t cap)
{
    const char *s;
    uint64_t n;
    if (p->host->get_str(ev, p->f[f], &s, &n) != 0 || n == 0 || n >= cap || memchr(s, 0, n))
        return RP_ERR_NOTFOUND;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

/* The descriptor is the event's file when the event's device ("major:minor")
 * and inode (decimal) say so; absent fields are not held against it. */
static int same_file(struct yp *p, const rp_event *ev, const struct stat *st)
{
    char buf[64];
    if (get_path(p, ev, F_FILE_INODE, buf, sizeof buf) == 0) {
        char *end;
        unsigned long long ino = strtoull(buf, &end, 10);
        if (*end || ino != (unsigned long long)st->st_ino)
            return 0;
    }
    if (get_path(p, ev, F_FILE_DEVICE, buf, sizeof buf) == 0) {
        unsigned ma, mi;
        char tail;
        if (sscanf(buf, "%u:%u%c", &ma, &mi, &tail) != 2 || ma != major(st->st_dev) ||
            mi != minor(st->st_dev))
            return 0;
    }
    return 1;
}

static void do_file(struct yp *p, struct dy_scan_thread *t, struct req *r)
{
    char path[PATH_MAX];
    if (!atomic_load(&p->scan_writes) || get_path(p, r->ev, F_FILE_PATH, path, sizeof path) != 0)
        return;
    if (is_excluded(p, path, strlen(path)))
        return;
    /* Opened once; every later look is at this descriptor, never the path.
     * O_NONBLOCK: a FIFO planted at the name must not hold the thread. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        count(p, C_OPEN_FAILED, 1);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        count(p, C_OPEN_FAILED, 1);
        close(fd);
        return;
    }
    if (!same_file(p, r->ev, &st)) {
        /* Replaced after the event: the new file has events of its own. */
        count(p, C_IDENTITY_MISMATCH, 1);
        close(fd);
        return;
    }
    struct live *l = live_take(p);
    if (!l) {
        close(fd);
        return;
    }
    struct dy_scan_result res;
    dy_scan_fd(t, l->rs, fd, (uint32_t)st.st_uid, 0, &res);
    count_result(p, &res);
    if (res.outcome == DY_SCAN_MALICIOUS) {
        struct subject s = {.src = r->ev, .scan = "file", .path = path, .id = &res.id};
        alert_result(p, l, &res, &s, fd, 0);
    }
    live_release(l);
    close(fd);
}

/* Opens /proc/PID as the process of the event: its start (field 22 of
 * stat, read through the folder's descriptor) must give the event's
 * process.entity_id. The folder's descriptor then pins the process: once
 * it exits, lookups through it fail even if the pid is reused. */
static int proc_open(struct yp *p, const rp_event *ev, pid_t pid, uint64_t *ticks)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    int sfd = openat(dfd, "stat", O_RDONLY | O_CLOEXEC);
    char buf[1024];
    ssize_t n = sfd >= 0 ? read(sfd, buf, sizeof buf - 1) : -1;
    if (sfd >= 0)
        close(sfd);
    if (n <= 0) {
        close(dfd);
        return -1;
    }
    buf[n] = '\0';
    char *q = strrchr(buf, ')');
    for (int field = 3; q && field <= 22; field++) {
        q = strchr(q + 1, ' ');
    }
    if (!q) {
        close(dfd);
        return -1;
    }
    *ticks = strtoull(q + 1, NULL, 10);
    char want[RP_UTIL_ENTITY_ID_LEN + 1];
    const char *have;
    uint64_t hl;
    if (ev && p->host->get_str(ev, p->f[F_ENTITY_ID], &have, &hl) == 0) {
        rp_util_entity_id(p->machine_id, p->mid_len, (int32_t)pid, *ticks, want);
        if (hl != RP_UTIL_ENTITY_ID_LEN || memcmp(have, want, hl) != 0) {
            close(dfd);
            return -1;
        }
    }
    return dfd;
}

static void do_exec_event(struct yp *p, struct dy_scan_thread *t, struct req *r)
{
    int64_t pid64;
    char path[PATH_MAX] = "";
    const char *note = NULL;
    if (!atomic_load(&p->scan_execs) && !atomic_load(&p->memory_scan))
        return;
    if (p->host->get_i64(r->ev, p->f[F_PID], &pid64) != 0 || pid64 <= 0 || pid64 > INT32_MAX)
        return;
    pid_t pid = (pid_t)pid64;
    uint64_t ticks = 0;
    int fd = -1, dfd = proc_open(p, r->ev, pid, &ticks);
    if (dfd >= 0) {
        /* The executed file itself, even when its path was replaced or
         * removed since. */
        fd = openat(dfd, "exe", O_RDONLY | O_CLOEXEC);
        ssize_t n = readlinkat(dfd, "exe", path, sizeof path - 1);
        path[n > 0 ? n : 0] = '\0';
    }
    if (fd < 0) {
        /* The process is gone (or is another one now): the program by its
         * path, once, checked to be a regular file. */
        if (get_path(p, r->ev, F_EXECUTABLE, path, sizeof path) != 0) {
            count(p, C_OPEN_FAILED, 1);
            if (dfd >= 0)
                close(dfd);
            return;
        }
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        note = "the process was gone before it could be read: the program was scanned by its "
               "path, which may name another file now";
        count(p, C_EXEC_PATH_FALLBACK, 1);
        if (fd < 0) {
            count(p, C_OPEN_FAILED, 1);
            if (dfd >= 0)
                close(dfd);
            return;
        }
    }
    if (path[0] && is_excluded(p, path, strlen(path))) {
        close(fd);
        if (dfd >= 0)
            close(dfd);
        return;
    }
    uint32_t uid = 0;
    char ubuf[32];
    if (get_path(p, r->ev, F_USER_ID, ubuf, sizeof ubuf) == 0)
        uid = (uint32_t)strtoul(ubuf, NULL, 10);
    struct live *l = live_take(p);
    if (!l) {
        close(fd);
        if (dfd >= 0)
            close(dfd);
        return;
    }
    struct dy_scan_result res;
    if (atomic_load(&p->scan_execs)) {
        dy_scan_fd(t, l->rs, fd, uid, 0, &res);
        count_result(p, &res);
        if (res.outcome == DY_SCAN_MALICIOUS) {
            struct subject s = {.src = r->ev,
                                .scan = "exec",
                                .path = path[0] ? path : NULL,
                                .id = &res.id,
                                .note = note};
            alert_result(p, l, &res, &s, fd, 0);
        }
    }
    if (atomic_load(&p->memory_scan)) {
        /* Only while the folder's descriptor still names the process: a
         * reused pid is another process's memory. */
        int sfd = dfd >= 0 ? openat(dfd, "stat", O_RDONLY | O_CLOEXEC) : -1;
        if (sfd < 0) {
            count(p, C_MEM_SKIPPED, 1);
        } else {
            close(sfd);
            count(p, C_MEM_SCANS, 1);
            dy_scan_pid(t, l->rs, pid, uid, 0, &res);
            uint64_t again;
            int still = proc_open(p, r->ev, pid, &again);
            if (still >= 0)
                close(still);
            if (still < 0 || again != ticks) {
                count(p, C_MEM_SKIPPED, 1);
            } else {
                count_result(p, &res);
                if (res.outcome == DY_SCAN_MALICIOUS) {
                    /* Throttled per process (pid and start) and rule: the exec event of
                     * each image of one process scans the same memory. */
                    struct dy_file_id mid = {
                        .dev = UINT64_MAX, .ino = (uint64_t)pid, .size = ticks};
                    struct subject s = {.src = r->ev,
                                        .scan = "memory",
                                        .path = path[0] ? path : NULL,
                                        .pid = pid,
                                        .id = &mid};
                    alert_result(p, l, &res, &s, -1, 0);
                }
            }
        }
    }
    live_release(l);
    close(fd);
    if (dfd >= 0)
        close(dfd);
}

/* An exec the guard holds: scanned now, answered, then alerted. */
static void do_guard(struct yp *p, struct dy_scan_thread *t, struct req *r)
{
    struct live *l = live_take(p);
    if (!l) {
        dy_guard_answer(p->guard, r->token, DY_GUARD_ALLOW);
        return;
    }
    uint32_t uid = 0;
    rp_util_proc_uid(r->pid, &uid);
    struct dy_scan_result res;
    dy_scan_fd(t, l->rs, r->fd, uid, 0, &res);
    count_result(p, &res);
    if (res.outcome == DY_SCAN_MALICIOUS) {
        char path[PATH_MAX], link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", r->fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        path[n > 0 ? n : 0] = '\0';
        struct subject s = {
            .scan = "exec", .path = path[0] ? path : NULL, .pid = r->pid, .id = &res.id};
        alert_result(p, l, &res, &s, r->fd, r->token);
    } else {
        dy_guard_answer(p->guard, r->token, DY_GUARD_ALLOW);
    }
    live_release(l);
}

struct thread_arg {
    struct yp *p;
    uint32_t index;
};

static void *scan_thread(void *arg)
{
    struct yp *p = arg;
    /* Below the agent's loop: a scan never takes the CPU from event
     * delivery (Linux sets nice per thread). */
    setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
    struct dy_scan_thread *t = NULL;
    if (dy_scan_thread_create(p->scanner, &t) != 0)
        rp_util_logf(p->host, p->self, RP_LOG_ERROR, "a scanning thread cannot start: no memory");
    for (;;) {
        pthread_mutex_lock(&p->qlock);
        while (!p->q_stop && !p->q_guard.head && !p->q_norm.head)
            pthread_cond_wait(&p->qcond, &p->qlock);
        if (p->q_stop) {
            pthread_mutex_unlock(&p->qlock);
            break;
        }
        struct req *r = rq_pop(&p->q_guard);
        if (!r)
            r = rq_pop(&p->q_norm);
        p->q_bytes -= r->bytes;
        uint32_t n = p->q_guard.n + p->q_norm.n;
        uint64_t bytes = p->q_bytes;
        pthread_mutex_unlock(&p->qlock);
        gauge(p, G_QUEUE_DEPTH, n);
        gauge(p, G_QUEUE_BYTES, (int64_t)bytes);
        if (!t) {
            if (r->kind == R_GUARD && p->guard)
                dy_guard_answer(p->guard, r->token, DY_GUARD_ALLOW);
        } else if (r->kind == R_FILE) {
            do_file(p, t, r);
        } else if (r->kind == R_EXEC_EVENT) {
            do_exec_event(p, t, r);
        } else if (r->kind == R_GUARD) {
            do_guard(p, t, r);
        } else if (r->kind == R_PUBLISH) {
            uint8_t sha[32];
            if (r->fd >= 0 && hash_file(r->fd, atomic_load(&p->hash_max), sha) == 0) {
                char hex[65];
                rp_util_hex(sha, 32, hex);
                p->host->set_str(r->alert, p->f[F_FILE_SHA256], hex, 64);
            }
            publish(p, r->alert);
            r->alert = NULL;
        }
        req_free(p, r);
        gauge(p, G_CACHE_ENTRIES, dy_verdict_count(dy_scanner_verdicts(p->scanner)));
    }
    dy_scan_thread_destroy(t);
    return NULL;
}

/* ---- the exec guard's callbacks ------------------------------------------------------- */

/* On the guard's answering thread: the verdict cache answers, or the exec
 * is held for a scan. Never blocks. */
static int guard_decide(void *ctx, const struct dy_guard_event *ev)
{
    struct yp *p = ctx;
    struct live *l = live_take(p);
    if (!l)
        return DY_GUARD_ALLOW;
    struct dy_verdict v;
    int rc = dy_verdict_get(dy_scanner_verdicts(p->scanner), &ev->id,
                            dy_rules_hash(dy_ruleset_rules(l->rs)), &v);
    int d = DY_GUARD_PENDING;
    if (rc == 0 && v.kind != DY_VERDICT_MALICIOUS) {
        d = DY_GUARD_ALLOW;
    } else if (rc == 0) {
        count(p, C_CACHE_HITS, 1);
        char path[PATH_MAX], link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", ev->fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        path[n > 0 ? n : 0] = '\0';
        struct subject s = {.scan = "exec",
                            .path = path[0] ? path : NULL,
                            .pid = ev->pid,
                            .id = &ev->id,
                            .from_cache = true};
        int pass = throttle_pass(p, &ev->id, v.rule);
        rp_event *a =
            make_alert(p, live_rule(l, v.rule), v.rule[0] ? v.rule : "unknown", 0, v.matches, &s);
        d = DY_GUARD_ALLOW;
        if (a && is_prevent(p, a))
            d = DY_GUARD_DENY;
        if (d == DY_GUARD_DENY)
            count(p, C_GUARD_DENIED, 1);
        if (a && pass) {
            p->host->set_bool(a, p->f[F_EXEC_DENIED], d == DY_GUARD_DENY);
            /* Published by a scanning thread, after the answer is written. */
            struct req *r = calloc(1, sizeof *r);
            if (r) {
                r->kind = R_PUBLISH;
                /* Hashed by the scanning thread, after the answer. */
                r->fd = fcntl(ev->fd, F_DUPFD_CLOEXEC, 0);
                r->alert = a;
                if (enqueue(p, r) != 0) {
                    r->alert = NULL;
                    req_free(p, r);
                    publish(p, a);
                }
            } else {
                publish(p, a);
            }
        } else if (a) {
            p->host->event_release(a);
        }
    }
    live_release(l);
    return d;
}

static int guard_submit(void *ctx, const struct dy_guard_event *ev, int fd_owned)
{
    struct yp *p = ctx;
    struct req *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd_owned);
        count(p, C_GUARD_SUBMIT_REFUSED, 1);
        return RP_ERR_NOMEM;
    }
    r->kind = R_GUARD;
    r->fd = fd_owned;
    r->token = ev->token;
    r->pid = ev->pid;
    r->id = ev->id;
    if (enqueue(p, r) != 0) {
        free(r);
        close(fd_owned);
        count(p, C_GUARD_SUBMIT_REFUSED, 1);
        return RP_ERR_FULL;
    }
    return 0;
}

/* On the watchdog thread: an exec ran unscanned past its deadline. One
 * alert per FAILOPEN_ALERT_S at most; the others are counted. */
static void guard_failed_open(void *ctx, pid_t pid, const struct dy_file_id *id)
{
    struct yp *p = ctx;
    count(p, C_GUARD_FAILED_OPEN, 1);
    int64_t now = mono_ns(), last = atomic_load(&p->failopen_last_ns);
    if ((last != 0 && now - last < (int64_t)FAILOPEN_ALERT_S * 1000000000) ||
        !atomic_compare_exchange_strong(&p->failopen_last_ns, &last, now)) {
        count(p, C_FAILOPEN_ALERTS_SUPPRESSED, 1);
        return;
    }
    char reason[512];
    snprintf(reason, sizeof reason,
             "an exec by process %d (file %llu:%llu) was allowed unscanned: the scan did not end "
             "within exec_deadline_ms; more such execs in the next %d s are only counted "
             "(exec_failed_open)",
             (int)pid, (unsigned long long)id->dev, (unsigned long long)id->ino, FAILOPEN_ALERT_S);
    rp_alert a = {
        .struct_size = sizeof a,
        .severity = RP_SEVERITY_LOW,
        .rule_id = "yara.exec-deadline-passed",
        .rule_name = "YARA exec scan past its deadline (allowed)",
        .ruleset = "yara",
        .reason = reason,
        .rule_description = "The exec guard allows a program it could not judge in time (fail "
                            "open), so the machine never waits on the scanner.",
    };
    rp_event *ev;
    if (p->host->alert_create(p->self, &a, NULL, 0, &ev) != 0) {
        count(p, C_ALERT_FAILURES, 1);
        return;
    }
    p->host->set_i64(ev, p->f[F_PID], pid);
    publish(p, ev);
}

/* ---- the engine: scanner, threads, guard ------------------------------------------------- */

/* The scanner is made before the rules are loaded: it sets libyara's
 * process-wide limits, which the compiler reads too (scan.h). */
static int scanner_create(struct yp *p, const struct conf *c, char *err, size_t errlen)
{
    struct dy_scan_opts o = {
        .max_file_bytes = c->max_file_bytes,
        .timeout_s = c->scan_timeout_s,
        .user_bytes_per_min = c->user_bytes_per_minute,
        .max_strings_per_rule = c->max_strings_per_rule,
        .max_match_data = c->max_match_data,
        .verdicts = {.max_entries = c->vc_max_entries, .max_bytes = c->vc_max_bytes},
    };
    struct dy_scanner *sc = NULL;
    int rc = dy_scanner_create(&o, &sc);
    if (rc != 0)
        snprintf(err, errlen, "cannot create the scanner: %s", rp_strerror(rc));
    pthread_rwlock_wrlock(&p->elock);
    p->scanner = sc;
    pthread_rwlock_unlock(&p->elock);
    return rc;
}

/* Loads the saved verdicts of l's rules into a new scanner. */
static void verdicts_load(struct yp *p, struct live *l)
{
    int rc;
    struct dy_verdict_load_report rep;
    memset(&rep, 0, sizeof rep);
    rc = dy_scanner_verdicts_load(p->scanner, p->dirfd, VERDICTS_FILE, l->rs, &rep);
    if (rc == 0)
        rp_util_logf(p->host, p->self, RP_LOG_INFO, "%u verdicts loaded from %s%s%s", rep.loaded,
                     VERDICTS_FILE, rep.msg[0] ? ": " : "", rep.msg);
    else if (rc != RP_ERR_NOTFOUND)
        rp_util_logf(p->host, p->self, RP_LOG_WARN, "the saved verdicts were not loaded: %s%s%s",
                     rp_strerror(rc), rep.msg[0] ? ": " : "", rep.msg);
    gauge(p, G_CACHE_ENTRIES, dy_verdict_count(dy_scanner_verdicts(p->scanner)));
}

static int threads_start(struct yp *p, const struct conf *c, char *err, size_t errlen)
{
    int rc;
    pthread_mutex_lock(&p->qlock);
    p->q_stop = false;
    p->q_max_requests = c->queue_max_requests;
    p->q_max_bytes = c->queue_max_bytes;
    pthread_mutex_unlock(&p->qlock);
    p->n_threads = 0;
    for (uint32_t i = 0; i < c->threads; i++) {
        if ((rc = pthread_create(&p->threads[i], NULL, scan_thread, p)) != 0) {
            snprintf(err, errlen, "cannot start a scanning thread: %s", strerror(rc));
            return RP_ERR_NOMEM;
        }
        p->n_threads++;
    }
    return 0;
}

static void save_verdicts(struct yp *p)
{
    struct live *l = live_take(p);
    pthread_rwlock_rdlock(&p->elock);
    if (!l || !p->scanner) {
        pthread_rwlock_unlock(&p->elock);
        live_release(l);
        return;
    }
    uint32_t saved = 0;
    int rc = dy_scanner_verdicts_save(p->scanner, p->dirfd, VERDICTS_FILE, l->rs, &saved);
    pthread_rwlock_unlock(&p->elock);
    live_release(l);
    if (rc == 0) {
        count(p, C_VERDICT_SAVES, 1);
    } else {
        count(p, C_VERDICT_SAVE_FAILURES, 1);
        rp_util_logf(p->host, p->self, RP_LOG_WARN, "cannot save the verdicts: %s",
                     rp_strerror(rc));
    }
}

/* Stops the threads; alerts still queued are published and held execs
 * allowed (the guard's stop allowed them already). Other requests are
 * dropped and counted, unless keep: a reconfigure leaves them for the
 * threads it starts again. */
static void threads_stop(struct yp *p, bool keep)
{
    pthread_mutex_lock(&p->qlock);
    p->q_stop = true;
    pthread_cond_broadcast(&p->qcond);
    pthread_mutex_unlock(&p->qlock);
    for (uint32_t i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    p->n_threads = 0;
    uint64_t dropped = 0;
    pthread_mutex_lock(&p->qlock);
    struct req *r;
    while ((r = rq_pop(&p->q_guard)) || (!keep && (r = rq_pop(&p->q_norm)))) {
        if (r->kind == R_PUBLISH) {
            publish(p, r->alert);
            r->alert = NULL;
        } else {
            dropped++;
        }
        if (r->kind == R_GUARD && p->guard)
            dy_guard_answer(p->guard, r->token, DY_GUARD_ALLOW);
        p->q_bytes -= r->bytes;
        req_free(p, r);
    }
    uint32_t n = p->q_norm.n;
    uint64_t bytes = p->q_bytes;
    pthread_mutex_unlock(&p->qlock);
    count(p, C_QUEUE_DROPPED, dropped);
    gauge(p, G_QUEUE_DEPTH, n);
    gauge(p, G_QUEUE_BYTES, (int64_t)bytes);
}

/* Saves the verdicts and frees the scanner (threads and guard stopped). */
static void scanner_teardown(struct yp *p)
{
    if (!p->scanner)
        return;
    save_verdicts(p);
    /* On-demand scans hold the scanner (read lock): they end at their next
     * progress report. */
    atomic_store(&p->od_cancel, true);
    pthread_rwlock_wrlock(&p->elock);
    dy_scanner_destroy(p->scanner);
    p->scanner = NULL;
    pthread_rwlock_unlock(&p->elock);
    atomic_store(&p->od_cancel, false);
}

static int guard_start(struct yp *p, const struct conf *c, char *err, size_t errlen)
{
    if (!c->block_exec)
        return 0;
    const char *allow[DY_GUARD_ALLOW_MAX];
    uint32_t n = 0;
    if (p->self_exe[0])
        allow[n++] = p->self_exe;
    if (p->plugin_dir[0])
        allow[n++] = p->plugin_dir;
    if (p->data_dir[0])
        allow[n++] = p->data_dir;
    for (uint32_t i = 0; i < c->n_never_block && n < DY_GUARD_ALLOW_MAX; i++)
        allow[n++] = c->never_block[i];
    struct dy_guard_opts o = {
        .deadline_ms = c->exec_deadline_ms,
        .allow_paths = allow,
        .n_allow_paths = n,
        .agent_pid = getpid(),
    };
    struct dy_guard_callbacks cb = {
        .ctx = p,
        .decide = guard_decide,
        .submit = guard_submit,
        .failed_open = guard_failed_open,
    };
    char gerr[256] = "";
    int rc = dy_guard_create(&o, &cb, &p->guard, gerr, sizeof gerr);
    if (rc == 0)
        rc = dy_guard_start(p->guard, gerr, sizeof gerr);
    if (rc != 0) {
        dy_guard_destroy(p->guard);
        p->guard = NULL;
        snprintf(err, errlen, "block_exec: %s", gerr[0] ? gerr : rp_strerror(rc));
        return rc;
    }
    rp_util_logf(p->host, p->self, RP_LOG_INFO,
                 "blocking execs of malicious programs under policy prevent (deadline %u ms, %u "
                 "paths never blocked)",
                 c->exec_deadline_ms, n);
    return 0;
}

/* Allows everything held; the guard stays for answers of scans in flight
 * until guard_destroy, after the threads stopped (guard.h). */
static void guard_stop(struct yp *p)
{
    if (p->guard)
        dy_guard_stop(p->guard);
}

static void guard_destroy(struct yp *p)
{
    if (!p->guard)
        return;
    pthread_rwlock_wrlock(&p->elock);
    dy_guard_destroy(p->guard);
    p->guard = NULL;
    pthread_rwlock_unlock(&p->elock);
}

static void apply_live_settings(struct yp *p, const struct conf *c)
{
    atomic_store(&p->scan_writes, c->scan_writes);
    atomic_store(&p->scan_execs, c->scan_execs);
    atomic_store(&p->memory_scan, c->memory_scan);
    atomic_store(&p->alert_throttle_s, c->alert_throttle_s);
    atomic_store(&p->hash_max, c->max_file_bytes);
    pthread_mutex_lock(&p->qlock);
    p->q_max_requests = c->queue_max_requests;
    p->q_max_bytes = c->queue_max_bytes;
    pthread_mutex_unlock(&p->qlock);
}

/* ---- verdict saving ------------------------------------------------------------------------ */

static void save_work(void *arg)
{
    save_verdicts(arg);
}

static void save_done(void *arg, int status)
{
    struct yp *p = arg;
    (void)status;
    atomic_store(&p->save_pending, 0);
}

static void save_tick(void *arg)
{
    struct yp *p = arg;
    if (atomic_exchange(&p->save_pending, 1))
        return;
    if (p->host->work_submit(p->self, save_work, save_done, p) != 0)
        atomic_store(&p->save_pending, 0);
}

static void save_timer_set(struct yp *p, uint32_t interval_s)
{
    if (p->save_timer_on) {
        p->host->timer_stop(p->self, p->save_timer);
        p->save_timer_on = false;
    }
    if (interval_s == 0)
        return;
    uint64_t ms = (uint64_t)interval_s * 1000u;
    if (p->host->timer_start(p->self, ms, ms, save_tick, p, &p->save_timer) == 0)
        p->save_timer_on = true;
}

/* ---- reloads -------------------------------------------------------------------------------- */

static void rebuild(struct yp *p)
{
    char err[512] = "";
    pthread_mutex_lock(&p->build_lock);
    struct live *l = NULL;
    struct live *old = live_take(p);
    int rc = live_build(p, &p->conf, &l, err, sizeof err);
    if (rc != 0) {
        count(p, C_RELOAD_FAILURES, 1);
        rp_util_logf(p->host, p->self, RP_LOG_ERROR,
                     "reload failed: %s; the %u rules loaded before stay in use",
                     err[0] ? err : rp_strerror(rc), old ? old->stats.rules : 0);
        note_failure(p, err[0] ? err : rp_strerror(rc));
    } else {
        count(p, C_RELOADS, 1);
        log_live(p, l, "reloaded");
        install(p, l);
    }
    live_release(old);
    pthread_mutex_unlock(&p->build_lock);
}

static void reload_work(void *arg)
{
    struct yp *p = arg;
    do {
        rebuild(p);
    } while (atomic_exchange(&p->reload_again, 0));
}

static void reload_done(void *arg, int status)
{
    struct yp *p = arg;
    (void)status;
    atomic_store(&p->reload_pending, 0);
    if (atomic_exchange(&p->reload_again, 0)) {
        atomic_store(&p->reload_pending, 1);
        if (p->host->work_submit(p->self, reload_work, reload_done, p) != 0)
            atomic_store(&p->reload_pending, 0);
    }
}

/* The agent reloaded its config: rule files may have changed even when
 * this plugin's config did not. */
static void lifecycle(struct yp *p, const rp_event *ev)
{
    const char *action;
    uint64_t len;
    if (p->host->get_str(ev, p->f[F_ACTION], &action, &len) != 0 ||
        len != strlen("agent-config-reloaded") || memcmp(action, "agent-config-reloaded", len) != 0)
        return;
    if (atomic_exchange(&p->skip_lifecycle, 0))
        return;
    if (atomic_exchange(&p->reload_pending, 1)) {
        atomic_store(&p->reload_again, 1);
        return;
    }
    int rc = p->host->work_submit(p->self, reload_work, reload_done, p);
    if (rc != 0) {
        atomic_store(&p->reload_pending, 0);
        count(p, C_RELOAD_FAILURES, 1);
        rp_util_logf(p->host, p->self, RP_LOG_ERROR,
                     "cannot reload the rules: no worker took the job (%s)", rp_strerror(rc));
    }
}

/* ---- events ------------------------------------------------------------------------------------
 */

static int dy_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    struct yp *p = state;
    const rp_host_api *h = p->host;
    (void)self;
    const char *tname;
    uint64_t tlen;
    if (h->event_type(ev, &tname, &tlen) != 0)
        return 0;
    enum rkind kind;
    if (tlen == strlen("agent.lifecycle") && memcmp(tname, "agent.lifecycle", tlen) == 0) {
        lifecycle(p, ev);
        return 0;
    } else if (tlen == strlen("process.exec") && memcmp(tname, "process.exec", tlen) == 0) {
        if (!atomic_load(&p->scan_execs) && !atomic_load(&p->memory_scan))
            return 0;
        kind = R_EXEC_EVENT;
    } else if (tlen > 5 && memcmp(tname, "file.", 5) == 0) {
        if (!atomic_load(&p->scan_writes))
            return 0;
        kind = R_FILE;
    } else {
        return 0;
    }
    count(p, C_EVENTS, 1);
    struct req *r = calloc(1, sizeof *r);
    if (!r) {
        count(p, C_QUEUE_DROPPED, 1);
        return 0;
    }
    r->kind = kind;
    r->fd = -1;
    uint64_t size = 0;
    if (kind == R_FILE && h->get_u64(ev, p->f[F_FILE_SIZE], &size) == 0)
        r->bytes = size;
    h->event_retain(ev);
    r->ev = ev;
    if (enqueue(p, r) != 0) {
        count(p, C_QUEUE_DROPPED, 1);
        count(p, C_QUEUE_DROPPED_BYTES, r->bytes);
        req_free(p, r);
    }
    return 0;
}

/* ---- commands
 * ------------------------------------------------------------------------------------ */

static int reply(struct yp *p, rp_command *cmd, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return RP_ERR_NOMEM;
    int rc = p->host->command_reply(cmd, text, strlen(text), 0);
    free(text);
    return rc;
}

static json_t *latency_json(const struct dy_guard_latency *l)
{
    return json_pack("{s:I,s:I,s:I,s:I}", "count", (json_int_t)l->count, "p50_ns",
                     (json_int_t)l->p50_ns, "p99_ns", (json_int_t)l->p99_ns, "max_ns",
                     (json_int_t)l->max_ns);
}

static json_t *od_json(const struct dy_od_progress *g);

static int cmd_stats(struct yp *p, rp_command *cmd, struct live *l)
{
    json_t *counters = json_object();
    for (int c = 0; c < C_COUNT; c++)
        json_object_set_new(counters, counter_names[c],
                            json_integer((json_int_t)atomic_load(&p->totals[c])));
    struct dy_scan_stats ss;
    memset(&ss, 0, sizeof ss);
    struct dy_verdict_stats vs;
    memset(&vs, 0, sizeof vs);
    uint32_t entries = 0, cap = 0;
    pthread_rwlock_rdlock(&p->elock);
    if (p->scanner) {
        dy_scanner_stats(p->scanner, &ss);
        struct dy_verdict_cache *vc = dy_scanner_verdicts(p->scanner);
        dy_verdict_stats(vc, &vs);
        entries = dy_verdict_count(vc);
        cap = dy_verdict_capacity(vc);
    }
    json_t *outcomes = json_object();
    for (int o = 0; o < DY_SCAN_OUTCOME_COUNT; o++)
        json_object_set_new(outcomes, dy_scan_outcome_name(o),
                            json_integer((json_int_t)ss.outcome[o]));
    json_t *scanner = json_pack(
        "{s:I,s:I,s:I,s:I,s:o,s:I,s:I,s:I}", "scans", (json_int_t)ss.scans, "scanned",
        (json_int_t)ss.scanned, "bytes", (json_int_t)ss.bytes, "cache_hits",
        (json_int_t)ss.cache_hits, "outcomes", outcomes, "match_limit", (json_int_t)ss.match_limit,
        "retries", (json_int_t)ss.retries, "budget_users", (json_int_t)ss.budget_users);
    json_t *verdicts =
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "entries", (json_int_t)entries,
                  "capacity", (json_int_t)cap, "hits", (json_int_t)vs.hits, "misses",
                  (json_int_t)vs.misses, "stores", (json_int_t)vs.stores, "refused",
                  (json_int_t)vs.refused, "evictions", (json_int_t)vs.evictions, "loaded",
                  (json_int_t)vs.loaded, "dropped", (json_int_t)vs.dropped);
    json_t *sched = json_null();
    if (p->sched) {
        struct dy_sched_stats st;
        dy_sched_stats(p->sched, &st);
        sched =
            json_pack("{s:I,s:I,s:b,s:o}", "runs", (json_int_t)st.runs, "no_rules",
                      (json_int_t)st.no_rules, "running", st.running, "last", od_json(&st.last));
    }
    json_t *guard = json_null();
    if (p->guard) {
        struct dy_guard_stats g;
        dy_guard_stats(p->guard, &g);
        guard = json_pack(
            "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:{s:o,s:o}}", "events",
            (json_int_t)g.events, "allowed", (json_int_t)g.allowed, "denied", (json_int_t)g.denied,
            "allowed_listed", (json_int_t)g.allowed_listed, "allowed_agent",
            (json_int_t)g.allowed_agent, "held", (json_int_t)g.held, "deadline_allowed",
            (json_int_t)g.deadline_allowed, "overflow", (json_int_t)g.overflow, "submit_refused",
            (json_int_t)g.submit_refused, "late_answers", (json_int_t)g.late_answers, "held_now",
            (json_int_t)g.held_now, "marks", (json_int_t)g.marks, "errors", (json_int_t)g.errors,
            "mark_errors", (json_int_t)g.mark_errors, "realtime", (json_int_t)g.realtime, "latency",
            "at_once", latency_json(&g.at_once), "scanned", latency_json(&g.scanned));
    }
    pthread_rwlock_unlock(&p->elock);
    pthread_mutex_lock(&p->qlock);
    json_t *queue =
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "requests", (json_int_t)p->q_norm.n, "exec_requests",
                  (json_int_t)p->q_guard.n, "bytes", (json_int_t)p->q_bytes, "max_requests",
                  (json_int_t)p->q_max_requests, "max_bytes", (json_int_t)p->q_max_bytes,
                  "high_water", (json_int_t)p->q_high);
    pthread_mutex_unlock(&p->qlock);
    json_t *limits =
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "too_large",
                  (json_int_t)atomic_load(&p->totals[C_TOO_LARGE]), "scan_timeouts",
                  (json_int_t)atomic_load(&p->totals[C_TIMEOUT]), "user_budget_hit",
                  (json_int_t)atomic_load(&p->totals[C_BUDGET]), "match_limit_hit",
                  (json_int_t)atomic_load(&p->totals[C_MATCH_LIMIT]), "matches_dropped",
                  (json_int_t)atomic_load(&p->totals[C_MATCHES_DROPPED]), "queue_dropped",
                  (json_int_t)atomic_load(&p->totals[C_QUEUE_DROPPED]), "changing",
                  (json_int_t)atomic_load(&p->totals[C_CHANGING]), "exec_failed_open",
                  (json_int_t)atomic_load(&p->totals[C_GUARD_FAILED_OPEN]));
    const struct dy_load_stats *s = &l->stats;
    char hash[65];
    rp_util_hex(dy_rules_hash(dy_ruleset_rules(l->rs)), 32, hash);
    json_t *rules = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:f,s:s}", "files", (json_int_t)s->files, "compiled",
        (json_int_t)s->compiled, "failed", (json_int_t)s->failed, "skipped", (json_int_t)s->skipped,
        "rules", (json_int_t)s->rules, "warnings", (json_int_t)s->warnings, "cache",
        dy_cache_state_name(s->cache), "compile_ms", s->compile_ms, "hash", hash);
    pthread_mutex_lock(&p->lock);
    json_t *last = p->last_error[0] ? json_string(p->last_error) : json_null();
    pthread_mutex_unlock(&p->lock);
    json_t *j =
        json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "rules", rules, "scanner", scanner,
                  "verdicts", verdicts, "guard", guard, "scheduled", sched, "queue", queue,
                  "limits", limits, "counters", counters, "last_reload_error", last);
    if (!j)
        return RP_ERR_NOMEM;
    return reply(p, cmd, j);
}

/* rules: every rule file with its fate, in replies of at most
 * RULES_REPLY_MAX bytes. */
static int cmd_rules(struct yp *p, rp_command *cmd, struct live *l)
{
    size_t n = json_array_size(l->report), i = 0;
    do {
        json_t *files = json_array();
        size_t bytes = 0;
        while (i < n && (bytes < RULES_REPLY_MAX || json_array_size(files) == 0)) {
            json_t *f = json_array_get(l->report, i);
            char *t = json_dumps(f, JSON_COMPACT);
            bytes += t ? strlen(t) + 1 : 0;
            free(t);
            if (bytes > RULES_REPLY_MAX && json_array_size(files) > 0)
                break;
            json_array_append(files, f);
            i++;
        }
        json_t *j = json_pack("{s:o}", "files", files);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!text)
            return RP_ERR_NOMEM;
        int rc = p->host->command_reply(cmd, text, strlen(text), i < n ? RP_REPLY_MORE : 0);
        free(text);
        if (rc != 0)
            return rc;
    } while (i < n);
    return 0;
}

/* ---- on-demand and scheduled scans (ondemand.h) ------------------------------------------------
 */

/* Matching files listed in the scan command's last reply, and errors (all
 * matches are alerted; the summary counts everything). */
#define SCAN_LIST_MAX   100u
#define SCAN_ERRORS_MAX 20u

struct od_ctx {
    struct yp *p;
    struct live *l;
    rp_command *cmd;  /* NULL for a scheduled scan */
    const char *scan; /* yara.scan of its alerts */
    atomic_bool cancel;
    json_t *matches, *errors;
    uint64_t matches_over, errors_over;
    int reply_rc;
};

static json_t *od_json(const struct dy_od_progress *g)
{
    json_t *skip = json_object();
    for (int i = 0; i < DY_OD_SKIP_COUNT; i++)
        json_object_set_new(skip, dy_od_skip_name(i), json_integer((json_int_t)g->skip[i]));
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I,s:f,s:f,s:f,s:b,s:b}", "files",
                     (json_int_t)g->files, "bytes", (json_int_t)g->bytes, "bytes_read",
                     (json_int_t)g->bytes_read, "cache_hits", (json_int_t)g->cache_hits, "matches",
                     (json_int_t)g->matches, "errors", (json_int_t)g->errors, "skipped",
                     (json_int_t)g->skipped, "skip", skip, "dirs", (json_int_t)g->dirs, "elapsed_s",
                     g->elapsed_s, "mb_per_s", g->mb_per_s, "files_per_s", g->files_per_s, "final",
                     g->final, "cancelled", g->cancelled);
}

/* Once a second: a progress reply (files, bytes, matches, rate). A reply
 * that fails (the caller went away, the plugin stops) ends the walk, and
 * so does a scanner being replaced. */
static void od_progress(void *ctx, const struct dy_od_progress *g)
{
    struct od_ctx *oc = ctx;
    if (atomic_load(&oc->p->od_cancel))
        atomic_store(&oc->cancel, true);
    if (g->final || !oc->cmd || oc->reply_rc != 0)
        return;
    json_t *j = json_pack("{s:o}", "progress", od_json(g));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return;
    int rc = oc->p->host->command_reply(oc->cmd, text, strlen(text), RP_REPLY_MORE);
    free(text);
    if (rc != 0) {
        oc->reply_rc = rc;
        atomic_store(&oc->cancel, true);
    }
}

static void od_match(void *ctx, const char *path, const struct dy_scan_result *res)
{
    struct od_ctx *oc = ctx;
    struct subject s = {.scan = oc->scan, .path = path, .id = &res->id};
    alert_result(oc->p, oc->l, res, &s, -1, 0);
    if (!oc->matches)
        return;
    if (json_array_size(oc->matches) >= SCAN_LIST_MAX) {
        oc->matches_over++;
        return;
    }
    json_t *rules = json_array();
    if (res->n_matches == 0)
        json_array_append_new(rules, json_string(res->cached_rule));
    for (uint32_t i = 0; i < res->n_matches; i++)
        json_array_append_new(rules, json_string(res->matches[i].rule->identifier));
    json_array_append_new(oc->matches, json_pack("{s:s,s:o,s:b}", "path", path, "rules", rules,
                                                 "from_cache", res->from_cache));
}

static void od_error(void *ctx, const char *path, int err, const char *what)
{
    struct od_ctx *oc = ctx;
    count(oc->p, C_OD_ERRORS, 1);
    if (!oc->errors)
        return;
    if (json_array_size(oc->errors) >= SCAN_ERRORS_MAX) {
        oc->errors_over++;
        return;
    }
    json_array_append_new(oc->errors, json_pack("{s:s,s:s,s:s}", "path", path, "error",
                                                rp_errname(err), "what", what ? what : ""));
}

/* scan PATH...: walks the paths on this command's worker thread. */
static int cmd_scan(struct yp *p, rp_command *cmd, struct live *l, json_t *args)
{
    size_t n = json_array_size(args);
    const char *paths[DY_OD_PATHS_MAX];
    if (n == 0 || n > DY_OD_PATHS_MAX)
        return refuse(p, RP_ERR_INVAL, "scan takes 1 to 64 absolute paths");
    for (size_t i = 0; i < n; i++) {
        paths[i] = json_string_value(json_array_get(args, i));
        if (!paths[i] || !rp_util_path_normal(paths[i]))
            return refuse(p, RP_ERR_INVAL,
                          "scan: each path must be absolute, without \".\", \"..\" or \"//\"");
    }
    struct od_ctx oc = {.p = p, .l = l, .cmd = cmd, .scan = "ondemand"};
    oc.matches = json_array();
    oc.errors = json_array();
    atomic_init(&oc.cancel, false);
    pthread_rwlock_rdlock(&p->elock);
    pthread_mutex_lock(&p->lock);
    /* The exclude list is copied: a reconfigure may replace it meanwhile. */
    char *excl[PATHS_MAX];
    uint32_t nx = 0;
    for (uint32_t i = 0; i < p->conf.n_exclude; i++)
        if ((excl[nx] = strdup(p->conf.exclude[i])))
            nx++;
    pthread_mutex_unlock(&p->lock);
    struct dy_od_opts o = {
        .paths = paths,
        .n_paths = n,
        .excludes = (const char *const *)excl,
        .n_excludes = nx,
        .cancel = &oc.cancel,
        .progress = od_progress,
        .match = od_match,
        .error = od_error,
        .ctx = &oc,
    };
    struct dy_od_progress sum;
    memset(&sum, 0, sizeof sum);
    int rc = p->scanner ? dy_ondemand_run(p->scanner, l->rs, &o, &sum) : RP_ERR_AGAIN;
    pthread_rwlock_unlock(&p->elock);
    for (uint32_t i = 0; i < nx; i++)
        free(excl[i]);
    count(p, C_OD_SCANS, 1);
    if (rc != 0) {
        json_decref(oc.matches);
        json_decref(oc.errors);
        return refuse(p, rc,
                      rc == RP_ERR_INVAL   ? "scan: a path is not absolute or has . or .."
                      : rc == RP_ERR_AGAIN ? "scan: the scanner is being replaced"
                                           : "scan: the walk could not start");
    }
    if (oc.reply_rc != 0) {
        json_decref(oc.matches);
        json_decref(oc.errors);
        return oc.reply_rc;
    }
    rp_util_logf(p->host, p->self, RP_LOG_INFO,
                 "on-demand scan of %zu paths: %llu files, %llu cache hits, %llu matches, %llu "
                 "errors, %llu skipped (%.1f s%s)",
                 n, (unsigned long long)sum.files, (unsigned long long)sum.cache_hits,
                 (unsigned long long)sum.matches, (unsigned long long)sum.errors,
                 (unsigned long long)sum.skipped, sum.elapsed_s,
                 sum.cancelled ? ", cancelled" : "");
    json_t *j = json_pack("{s:o,s:o,s:I,s:o,s:I}", "summary", od_json(&sum), "matches", oc.matches,
                          "matches_not_listed", (json_int_t)oc.matches_over, "errors", oc.errors,
                          "errors_not_listed", (json_int_t)oc.errors_over);
    if (!j)
        return RP_ERR_NOMEM;
    return reply(p, cmd, j);
}

static struct dy_ruleset *sched_rules(void *ctx)
{
    struct od_ctx *oc = ctx;
    struct live *l = live_take(oc->p);
    struct dy_ruleset *rs = l ? dy_ruleset_ref(l->rs) : NULL;
    /* The alerts of the scan look rules up in the set current then. */
    live_release(oc->l);
    oc->l = l;
    return rs;
}

static void sched_done(void *ctx, const struct dy_od_progress *g)
{
    struct od_ctx *oc = ctx;
    count(oc->p, C_SCHED_SCANS, 1);
    /* The set is not held between scans. */
    live_release(oc->l);
    oc->l = NULL;
    rp_util_logf(oc->p->host, oc->p->self, RP_LOG_INFO,
                 "scheduled scan: %llu files (%llu from the cache), %.1f MB read, %llu matches, "
                 "%llu errors, %llu skipped in %.1f s%s",
                 (unsigned long long)g->files, (unsigned long long)g->cache_hits,
                 g->bytes_read / 1e6, (unsigned long long)g->matches, (unsigned long long)g->errors,
                 (unsigned long long)g->skipped, g->elapsed_s, g->cancelled ? " (cancelled)" : "");
}

static int sched_start(struct yp *p, const struct conf *c, char *err, size_t errlen)
{
    if (c->n_sched_paths == 0)
        return 0;
    struct od_ctx *oc = calloc(1, sizeof *oc);
    if (!oc) {
        snprintf(err, errlen, "scheduled_scan: out of memory");
        return RP_ERR_NOMEM;
    }
    oc->p = p;
    oc->scan = "scheduled";
    struct dy_sched_opts o = {
        .scan =
            {
                .paths = (const char *const *)c->sched_paths,
                .n_paths = c->n_sched_paths,
                .excludes = (const char *const *)c->exclude,
                .n_excludes = c->n_exclude,
                .max_depth = c->sched_max_depth,
                .cross_fs = c->sched_cross_fs,
                .match = od_match,
                .error = od_error,
                .ctx = oc,
            },
        .interval_s = c->sched_interval_s,
        .first_delay_s = c->sched_first_delay_s,
        .rules = sched_rules,
        .done = sched_done,
    };
    char serr[256] = "";
    struct dy_sched *sc = NULL;
    int rc = dy_sched_start(p->scanner, &o, &sc, serr, sizeof serr);
    if (rc != 0) {
        free(oc);
        snprintf(err, errlen, "scheduled_scan: %s", serr[0] ? serr : rp_strerror(rc));
        return rc;
    }
    p->sched_ctx = oc;
    pthread_rwlock_wrlock(&p->elock);
    p->sched = sc;
    pthread_rwlock_unlock(&p->elock);
    rp_util_logf(p->host, p->self, RP_LOG_INFO,
                 "scheduled scans of %u paths every %u s (first in %u s), at idle I/O priority",
                 c->n_sched_paths, c->sched_interval_s, c->sched_first_delay_s);
    return 0;
}

/* Before the scanner goes: a scan under way is cancelled and joined. */
static void sched_stop(struct yp *p)
{
    if (!p->sched)
        return;
    pthread_rwlock_wrlock(&p->elock);
    struct dy_sched *sc = p->sched;
    p->sched = NULL;
    pthread_rwlock_unlock(&p->elock);
    dy_sched_stop(sc);
    live_release(p->sched_ctx->l);
    free(p->sched_ctx);
    p->sched_ctx = NULL;
}

static int dy_on_command(rp_plugin *self, void *state, rp_command *cmd, const char *request,
                         uint64_t len)
{
    struct yp *p = state;
    (void)self;
    json_t *req = json_loadb(request, (size_t)len, 0, NULL);
    const char *name = json_string_value(json_object_get(req, "command"));
    json_t *args = json_object_get(req, "args");
    size_t nargs = json_array_size(args);
    char cname[32];
    snprintf(cname, sizeof cname, "%s", name ? name : "");
    int which = strcmp(cname, "rules") == 0   ? 1
                : strcmp(cname, "stats") == 0 ? 2
                : strcmp(cname, "scan") == 0  ? 3
                                              : 0;
    int rc = 0;
    if (!which)
        rc = refuse(p, RP_ERR_NOTFOUND, "unknown command; try: rules, stats, scan PATH...");
    else if (which != 3 && nargs > 0)
        rc = refuse(p, RP_ERR_INVAL,
                    which == 1 ? "rules takes no argument" : "stats takes no argument");
    struct live *l = rc == 0 ? live_take(p) : NULL;
    if (rc == 0 && !l)
        rc = refuse(p, RP_ERR_AGAIN, "no rule set is loaded");
    if (rc == 0)
        rc = which == 1   ? cmd_rules(p, cmd, l)
             : which == 2 ? cmd_stats(p, cmd, l)
                          : cmd_scan(p, cmd, l, args);
    live_release(l);
    json_decref(req);
    return rc;
}

/* ---- lifecycle ----------------------------------------------------------------------------------
 */

static int dy_check_config(rp_plugin *self, const rp_host_api *host)
{
    const char *json;
    uint64_t len;
    char err[512] = "";
    struct conf c;
    int rc = host->config_get(self, &json, &len);
    if (rc != 0)
        return rc;
    rc = conf_parse(json, (size_t)len, &c, err, sizeof err);
    if (rc == 0)
        conf_free(&c);
    if (rc == RP_ERR_CONFIG)
        host->set_error(self, err, strlen(err));
    return rc;
}

static int read_conf(struct yp *p, struct conf *c, char *err, size_t errlen)
{
    const char *json;
    uint64_t len;
    int rc = p->host->config_get(p->self, &json, &len);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read the config: %s", rp_strerror(rc));
        return rc;
    }
    return conf_parse(json, (size_t)len, c, err, errlen);
}

static void plugin_free(struct yp *p)
{
    dy_guard_destroy(p->guard);
    dy_scanner_destroy(p->scanner);
    live_release(p->cur);
    conf_free(&p->conf);
    free(p->throttle);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->build_lock);
    pthread_mutex_destroy(&p->qlock);
    pthread_mutex_destroy(&p->tlock);
    pthread_rwlock_destroy(&p->elock);
    pthread_cond_destroy(&p->qcond);
    free(p);
}

/* The agent's own files, never blocked: its executable, the folder this
 * plugin was loaded from, and the agent's data folder (the private folder
 * is <data_dir>/plugins/<name>). */
static void own_paths(struct yp *p, const char *private_path)
{
    ssize_t n = readlink("/proc/self/exe", p->self_exe, sizeof p->self_exe - 1);
    p->self_exe[n > 0 ? n : 0] = '\0';
    Dl_info info;
    if (dladdr((void *)own_paths, &info) && info.dli_fname && info.dli_fname[0] == '/') {
        char real[PATH_MAX];
        rp_util_path_dir(realpath(info.dli_fname, real) ? real : info.dli_fname, p->plugin_dir,
                         sizeof p->plugin_dir);
    }
    char up[PATH_MAX];
    rp_util_path_dir(private_path, up, sizeof up);
    rp_util_path_dir(up, p->data_dir, sizeof p->data_dir);
}

static int dy_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    if (!RP_HOST_HAS(host, command_reply))
        return RP_ERR_VERSION;
    struct yp *p = calloc(1, sizeof *p);
    if (!p)
        return RP_ERR_NOMEM;
    p->self = self;
    p->host = host;
    p->dirfd = -1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->build_lock, NULL);
    pthread_mutex_init(&p->qlock, NULL);
    pthread_mutex_init(&p->tlock, NULL);
    pthread_rwlock_init(&p->elock, NULL);
    pthread_cond_init(&p->qcond, NULL);
    p->throttle = calloc(THROTTLE_SLOTS, sizeof *p->throttle);
    int rc = p->throttle ? 0 : RP_ERR_NOMEM;
    if (rc == 0)
        rc = rp_util_counters_register(&p->counters, host, self, counter_names, C_COUNT, 0);
    for (int g = 0; rc == 0 && g < G_COUNT; g++) {
        rc = host->gauge_register(self, gauge_names[g], strlen(gauge_names[g]), &p->gauges[g]);
        if (rc != 0)
            refuse(p, rc, "cannot register a gauge");
    }
    if (rc == 0)
        rc = rp_util_fields_register(host, self, field_defs, F_COUNT, p->f);
    if (rc == 0)
        rc = rp_util_response_init(&p->resp, host, self);
    char err[512] = "";
    if (rc == 0 && (rc = read_conf(p, &p->conf, err, sizeof err)) != 0)
        refuse(p, rc, err);
    if (rc == 0) {
        int64_t fd;
        const char *path;
        uint64_t plen;
        rc = host->private_dir(self, &fd, &path, &plen);
        if (rc != 0)
            refuse(p, rc, "cannot open the plugin's private folder");
        else {
            p->dirfd = (int)fd;
            own_paths(p, path);
        }
    }
    if (rc != 0) {
        plugin_free(p);
        return rc;
    }
    rp_util_machine_id(p->machine_id, sizeof p->machine_id, &p->mid_len);
    *state = p;
    return 0;
}

static int dy_start(rp_plugin *self, void *state)
{
    struct yp *p = state;
    char err[512] = "";
    struct live *l;
    int rc = scanner_create(p, &p->conf, err, sizeof err);
    if (rc != 0)
        return refuse(p, rc, err);
    pthread_mutex_lock(&p->build_lock);
    rc = live_build(p, &p->conf, &l, err, sizeof err);
    pthread_mutex_unlock(&p->build_lock);
    if (rc != 0) {
        scanner_teardown(p);
        char msg[600];
        snprintf(msg, sizeof msg, "cannot load the rules: %s", err[0] ? err : rp_strerror(rc));
        return refuse(p, rc, msg);
    }
    log_live(p, l, "loaded");
    install(p, l);
    apply_live_settings(p, &p->conf);
    static const char *const subs[] = {"file.create", "file.modify", "process.exec",
                                       "agent.lifecycle"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if ((rc = p->host->subscribe(self, subs[i], strlen(subs[i]), 0)) != 0)
            return refuse(p, rc, "cannot subscribe to file, exec and lifecycle events");
    verdicts_load(p, l);
    if ((rc = threads_start(p, &p->conf, err, sizeof err)) != 0 ||
        (rc = guard_start(p, &p->conf, err, sizeof err)) != 0 ||
        (rc = sched_start(p, &p->conf, err, sizeof err)) != 0) {
        sched_stop(p);
        guard_stop(p);
        threads_stop(p, false);
        guard_destroy(p);
        scanner_teardown(p);
        return refuse(p, rc, err);
    }
    save_timer_set(p, p->conf.vc_save_interval_s);
    const struct conf *c = &p->conf;
    rp_util_logf(p->host, p->self, RP_LOG_INFO, "scanning %s%s%s with %u thread%s%s",
                 c->scan_writes ? "written files" : "",
                 c->scan_writes && c->scan_execs ? " and " : "",
                 c->scan_execs    ? "executed programs"
                 : c->scan_writes ? ""
                                  : "no file or exec events (the exec guard only)",
                 c->threads, c->threads == 1 ? "" : "s", c->memory_scan ? ", memory at exec" : "");
    return 0;
}

static int dy_stop(rp_plugin *self, void *state)
{
    (void)self;
    struct yp *p = state;
    save_timer_set(p, 0);
    /* The guard first: everything it holds is allowed, nothing waits on the
     * threads stopping below. */
    sched_stop(p);
    guard_stop(p);
    threads_stop(p, false);
    guard_destroy(p);
    scanner_teardown(p);
    rp_util_logf(p->host, p->self, RP_LOG_INFO,
                 "stopped: %llu events, %llu scanned, %llu cache hits, %llu alerts, %llu execs "
                 "denied",
                 (unsigned long long)atomic_load(&p->totals[C_EVENTS]),
                 (unsigned long long)atomic_load(&p->totals[C_SCANNED]),
                 (unsigned long long)atomic_load(&p->totals[C_CACHE_HITS]),
                 (unsigned long long)atomic_load(&p->totals[C_ALERTS]),
                 (unsigned long long)atomic_load(&p->totals[C_GUARD_DENIED]));
    return 0;
}

static void dy_destroy(rp_plugin *self, void *state)
{
    (void)self;
    if (state)
        plugin_free(state);
}

/* A new config: the rules are loaded again (the old set stays when that
 * fails), then what changed is applied: the scanner is made again when its
 * limits or threads changed (its verdicts are carried over through the
 * saved file), the guard when its settings did. */
static int dy_reconfigure(rp_plugin *self, void *state)
{
    struct yp *p = state;
    (void)self;
    char err[512] = "";
    struct conf c;
    atomic_store(&p->skip_lifecycle, 1);
    int rc = read_conf(p, &c, err, sizeof err);
    if (rc != 0) {
        count(p, C_RELOAD_FAILURES, 1);
        note_failure(p, err);
        return refuse(p, rc, err);
    }
    bool engine = conf_engine_differs(&p->conf, &c), guard = conf_guard_differs(&p->conf, &c);
    bool sched = engine || conf_sched_differs(&p->conf, &c);
    if (sched)
        sched_stop(p);
    if (guard || engine) {
        guard_stop(p);
        threads_stop(p, true);
        guard_destroy(p);
    }
    /* A new scanner before the rules are compiled (its limits are the
     * compiler's too); the old one's verdicts are saved and loaded back. */
    if (engine) {
        scanner_teardown(p);
        if ((rc = scanner_create(p, &c, err, sizeof err)) != 0 &&
            scanner_create(p, &p->conf, err, sizeof err) != 0) {
            conf_free(&c);
            rp_util_logf(p->host, p->self, RP_LOG_ERROR, "no scanner: %s", err);
            return refuse(p, rc, err);
        }
    }
    struct live *l = NULL;
    if (rc == 0) {
        pthread_mutex_lock(&p->build_lock);
        rc = live_build(p, &c, &l, err, sizeof err);
        pthread_mutex_unlock(&p->build_lock);
    }
    char msg[700] = "";
    if (rc != 0) {
        count(p, C_RELOAD_FAILURES, 1);
        struct live *old = live_take(p);
        snprintf(msg, sizeof msg, "new config not applied: %s; the %u rules loaded before stay",
                 err[0] ? err : rp_strerror(rc), old ? old->stats.rules : 0);
        live_release(old);
        rp_util_logf(p->host, p->self, RP_LOG_ERROR, "%s", msg);
        note_failure(p, msg);
        conf_free(&c);
    } else {
        count(p, C_RELOADS, 1);
        log_live(p, l, "reloaded");
        install(p, l);
        pthread_mutex_lock(&p->lock);
        conf_free(&p->conf);
        p->conf = c;
        pthread_mutex_unlock(&p->lock);
        apply_live_settings(p, &p->conf);
    }
    /* What was stopped runs again, with the new settings or the old ones. */
    int rc2 = 0;
    struct live *cur = live_take(p);
    if (engine && cur)
        verdicts_load(p, cur);
    live_release(cur);
    if (guard || engine)
        rc2 = threads_start(p, &p->conf, err, sizeof err);
    if (rc2 == 0 && (guard || engine))
        rc2 = guard_start(p, &p->conf, err, sizeof err);
    if (rc2 == 0 && sched)
        rc2 = sched_start(p, &p->conf, err, sizeof err);
    save_timer_set(p, p->conf.vc_save_interval_s);
    if (rc2 != 0) {
        rp_util_logf(p->host, p->self, RP_LOG_ERROR, "new config applied in part: %s", err);
        note_failure(p, err);
        return refuse(p, rc2, err);
    }
    return rc != 0 ? refuse(p, rc, msg) : 0;
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1, /* alert_create, gauges, commands, private_dir */
    .kind = RP_KIND_DETECTOR,
    .flags = RP_PLUGIN_CAPS_DECLARED,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.detector.yara",
    .version = "1.0.0",
    .vendor = "Rampart",
    .license = "Apache-2.0",
    .description = "YARA rules on written files, executed programs and process memory",
    .config_schema = config_schema,
    .init = dy_init,
    .start = dy_start,
    .stop = dy_stop,
    .destroy = dy_destroy,
    .reconfigure = dy_reconfigure,
    .on_event = dy_on_event,
    .field_namespace = "yara",
    .check_config = dy_check_config,
    .on_command = dy_on_command,
    /* Reading any file and /proc/PID/mem, and the fanotify group of the
     * exec guard. */
    .capabilities = RP_CAP_DAC_READ_SEARCH | RP_CAP_SYS_PTRACE | RP_CAP_SYS_ADMIN,
};

RP_PLUGIN_ENTRY(descriptor)
