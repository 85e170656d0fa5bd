/*
 * plugins/responder_kill/responder_kill.c - the process-kill responder (issue
 * 15, item 3): on a prevent alert whose actions name "kill", it kills the
 * alert's process (and, with kill_descendants, its descendants) through the
 * safe-kill core of kill.h, and publishes one response.kill event saying
 * what it did (sdk/docs/responses.md). README.md lists the config keys and
 * the reason codes.
 *
 * Which process. An alert names a pid and process.entity_id, which
 * collector_process makes from the machine id, the pid and the start time
 * in clock ticks. The pid's current start is read from /proc and the entity
 * id made again from it: when it differs, the pid now names another process
 * and nothing is signalled (refused_pid_reused). The start that matched is
 * then handed to rk_kill_one / rk_kill_tree, which check it again through a
 * pidfd right before the signal.
 *
 * Threads. Everything runs on the plugin's event thread (on_event, one at a
 * time): a single kill is a few /proc reads and one syscall, well under the
 * 5 ms goal, and a tree kill is bounded by tree_max_ms and RK_TREE_MAX.
 * Commands (stats) read atomic counters only.
 */
#define _GNU_SOURCE
#include "kill.h"

#include <rampart/plugin.h>
#include <rampart/plugin_util.h>
#include <rampart/plugin_util_proc.h>
#include <rampart/plugin_util_response.h>
#include <rampart/service_lineage.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PATH_ITEM                                                                                  \
    "{\"type\":\"string\",\"format\":\"absolute-path\",\"minLength\":1,\"maxLength\":4095}"

static const char config_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"kill_descendants\":{\"type\":\"boolean\",\"default\":true,"
    "\"description\":\"also kill the process's descendants\"},"
    "\"protected_executables\":{\"type\":\"array\",\"maxItems\":63,"
    "\"default\":[\"/usr/lib/systemd/systemd\",\"/usr/lib/systemd/systemd-journald\","
    "\"/usr/lib/systemd/systemd-logind\",\"/usr/sbin/sshd\"],"
    "\"description\":\"programs never killed (kept by device and inode; the agent's own "
    "binary is always protected)\",\"items\":" PATH_ITEM "},"
    "\"protected_names\":{\"type\":\"array\",\"maxItems\":64,\"default\":[],"
    "\"description\":\"command names (comm) never killed\","
    "\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":15}},"
    "\"tree_max_ms\":{\"type\":\"integer\",\"minimum\":10,\"maximum\":10000,\"default\":2000,"
    "\"description\":\"time bound of one tree kill\"}}}";

enum counter {
    C_ALERTS,
    C_DONE,
    C_REFUSED,
    C_FAILED,
    C_DESCENDANTS,
    C_DESC_REFUSED,
    C_LINEAGE,
    C_PROC,
    C_LIMITED,
    C_PUBLISH_FAILED,
    C_ON_WORKER,
    C_COUNT
};
static const char *const counter_names[C_COUNT] = {
    "alerts",
    "done",
    "refused",
    "failed",
    "descendants_killed",
    "descendants_refused",
    "lineage",
    "proc_scan",
    "limited",
    "publish_failed",
    "on_worker",
};

enum field {
    F_PID,
    F_ENTITY_ID,
    F_EXECUTABLE,
    F_START,
    F_DESC_KILLED,
    F_DESC_REFUSED,
    F_DESC_SOURCE,
    F_LIMITED,
    F_PIDFD,
    F_COUNT
};
static const rp_util_field_def field_defs[F_COUNT] = {
    [F_PID] = {"process.pid", RP_TYPE_I64},
    [F_ENTITY_ID] = {"process.entity_id", RP_TYPE_STR},
    [F_EXECUTABLE] = {"process.executable", RP_TYPE_STR},
    [F_START] = {"process.start", RP_TYPE_TIMESTAMP},
    [F_DESC_KILLED] = {"kill.descendants_killed", RP_TYPE_U64},
    [F_DESC_REFUSED] = {"kill.descendants_refused", RP_TYPE_U64},
    [F_DESC_SOURCE] = {"kill.descendants_source", RP_TYPE_STR},
    [F_LIMITED] = {"kill.limited", RP_TYPE_BOOL},
    [F_PIDFD] = {"kill.pidfd", RP_TYPE_BOOL},
};

/* The settings in force, read at init and on every reconfigure (which never
 * runs beside on_event). */
struct conf {
    int kill_descendants;
    uint32_t tree_max_ms;
    struct rk_protect protect;
};

/* What a tree kill works in: the event thread has one, a tree kill handed to
 * a worker brings its own. */
struct scratch {
    struct rk_proc work[RK_TREE_MAX];
    int32_t kids[RK_TREE_MAX];
};

struct rk_plugin {
    rp_plugin *self;
    const rp_host_api *host;
    rp_util_response resp;
    rp_field_id f[F_COUNT];
    rp_util_counters counters;
    _Atomic uint64_t totals[C_COUNT];
    struct conf conf;
    char machine_id[65];
    size_t mid_len;
    int64_t boot_wall_ns; /* wall clock at boot: process.start of a start in ticks */
    uint64_t tick_ns;
    struct scratch scratch; /* the event thread's */
    _Atomic uint32_t jobs;  /* tree kills on host workers */
    /* The settings the stats command shows: commands run on workers,
     * possibly beside a reconfigure, so they read these, not conf. */
    _Atomic uint32_t shown_exe, shown_comm, shown_descendants;
};

static void show_conf(struct rk_plugin *p)
{
    atomic_store(&p->shown_exe, p->conf.protect.n_exe);
    atomic_store(&p->shown_comm, p->conf.protect.n_comm);
    atomic_store(&p->shown_descendants, p->conf.kill_descendants ? 1u : 0u);
}

static void count(struct rk_plugin *p, enum counter c, uint64_t n)
{
    if (n == 0)
        return;
    atomic_fetch_add(&p->totals[c], n);
    rp_util_count(&p->counters, (uint32_t)c, n);
}

static int say_error(const rp_host_api *host, rp_plugin *self, int rc, const char *fmt, ...)
    RP_UTIL_PRINTF(4, 5);
static int say_error(const rp_host_api *host, rp_plugin *self, int rc, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n > 0)
        host->set_error(self, msg, (uint64_t)((size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1));
    return rc;
}

/* ---- config ---------------------------------------------------------------------------------- */

/* Reads the config into c. A protected executable that does not exist on
 * this machine is skipped with a warning (one list serves many machines);
 * one that is not a regular file is a config error. The agent's own binary
 * is always protected. check (check_config) only validates: no log. */
static int conf_read(const rp_host_api *host, rp_plugin *self, struct conf *c, int check)
{
    int64_t ms = 0;
    uint32_t n = 0;
    char buf[4096];
    int rc;
    memset(c, 0, sizeof *c);
    rc = rp_util_conf_bool(host, self, "/kill_descendants", 1, &c->kill_descendants);
    if (!rp_util_conf_ok(host, self, "/kill_descendants", rc))
        return RP_ERR_CONFIG;
    rc = rp_util_conf_i64(host, self, "/tree_max_ms", RK_TREE_MS, &ms);
    if (!rp_util_conf_ok(host, self, "/tree_max_ms", rc))
        return RP_ERR_CONFIG;
    if (ms < 10 || ms > 10000)
        return say_error(host, self, RP_ERR_CONFIG, "config /tree_max_ms: %lld is not 10 to 10000",
                         (long long)ms);
    c->tree_max_ms = (uint32_t)ms;
    if (!check && (rc = rk_protect_add_exe(&c->protect, "/proc/self/exe")) != 0)
        return say_error(host, self, rc, "cannot protect the agent's own binary: %s",
                         rp_strerror(rc));
    rc = rp_util_conf_str_count(host, self, "/protected_executables", &n);
    if (rc == RP_ERR_NOTFOUND) {
        /* Absent: the schema's default list, which a host may not fill. */
        static const char *const dflt[] = {"/usr/lib/systemd/systemd",
                                           "/usr/lib/systemd/systemd-journald",
                                           "/usr/lib/systemd/systemd-logind", "/usr/sbin/sshd"};
        for (size_t i = 0; !check && i < sizeof dflt / sizeof dflt[0]; i++)
            (void)rk_protect_add_exe(&c->protect, dflt[i]);
    } else if (!rp_util_conf_ok(host, self, "/protected_executables", rc)) {
        return RP_ERR_CONFIG;
    }
    for (uint32_t i = 0; i < n; i++) {
        char ptr[64];
        snprintf(ptr, sizeof ptr, "/protected_executables/%u", i);
        rc = rp_util_conf_str_item(host, self, "/protected_executables", i, buf, sizeof buf, NULL);
        if (rc != 0)
            return say_error(host, self, RP_ERR_CONFIG, "config %s: %s", ptr, rp_strerror(rc));
        if (buf[0] != '/')
            return say_error(host, self, RP_ERR_CONFIG, "config %s: \"%s\" is not an absolute path",
                             ptr, buf);
        struct rk_protect scratch;
        struct rk_protect *into = check ? &scratch : &c->protect;
        if (check)
            memset(&scratch, 0, sizeof scratch);
        rc = rk_protect_add_exe(into, buf);
        if (rc == RP_ERR_NOTFOUND) {
            if (!check)
                rp_util_logf(host, self, RP_LOG_WARN,
                             "config %s: %s does not exist here; not protected", ptr, buf);
        } else if (rc == RP_ERR_INVAL) {
            return say_error(host, self, RP_ERR_CONFIG, "config %s: %s is not a regular file", ptr,
                             buf);
        } else if (rc != 0) {
            return say_error(host, self, RP_ERR_CONFIG, "config %s: %s", ptr, rp_strerror(rc));
        }
    }
    rc = rp_util_conf_str_count(host, self, "/protected_names", &n);
    if (!rp_util_conf_ok(host, self, "/protected_names", rc))
        return RP_ERR_CONFIG;
    for (uint32_t i = 0; i < n; i++) {
        rc = rp_util_conf_str_item(host, self, "/protected_names", i, buf, sizeof buf, NULL);
        if (rc == 0)
            rc = rk_protect_add_comm(&c->protect, buf);
        if (rc != 0)
            return say_error(host, self, RP_ERR_CONFIG,
                             "config /protected_names/%u: \"%.64s\" is not a command name of 1 "
                             "to 15 bytes (%s)",
                             i, buf, rp_strerror(rc));
    }
    return 0;
}

/* ---- the kill -------------------------------------------------------------------------------- */

/* The outcome of one alert's kill, for its response. */
struct outcome {
    int code; /* enum rk_code of the alert's process */
    int err;
    uint32_t killed, refused;
    int limited, fallback;
    const char *source; /* how descendants were found: "lineage", "proc", "" (not asked) */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Index of pid in the first n entries of work, or -1. */
static long found_at(const struct rk_proc *work, size_t n, int32_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (work[i].pid == pid)
            return (long)i;
    return -1;
}

/*
 * The tree kill with descendants from the process collector's lineage: the
 * same order as rk_kill_tree (kill.h), with the children the collector's
 * table knows instead of /proc's. The root is stopped, then, round by round,
 * every descendant found is stopped (a stopped process cannot fork), until a
 * round finds no new one; then each gets SIGKILL, deepest first, and the
 * root last, every signal through rk_kill_one's pid and start re-check. A
 * child whose start is before its parent's is a reused pid and left out; a
 * refused (protected) one is spared, and its own children are still killed.
 * Processes the collector has not recorded yet (forked in the last
 * moments) are caught by one /proc look (rk_descendants) after the
 * lineage rounds; out->source says "lineage+proc" when it found any.
 */
static void tree_lineage(struct scratch *sc, const rp_lineage_service *lin, int32_t pid,
                         uint64_t start, const struct rk_opts *opts, struct outcome *out)
{
    struct rk_result r;
    struct rk_proc *work = sc->work;
    size_t n = 0;
    int64_t deadline = mono_ms() + (int64_t)opts->tree_max_ms;
    out->source = "lineage";
    rk_kill_one(pid, start, SIGSTOP, opts, &r);
    out->fallback |= r.used_fallback;
    if (r.code != RK_DONE) {
        out->code = r.code;
        out->err = r.err;
        return;
    }
    int grew = 1, proc_checked = 0;
    for (uint32_t round = 0; grew && round < RK_TREE_DEPTH_MAX * 2u; round++) {
        grew = 0;
        /* Parents to walk: the root (index -1), then everything found. */
        for (long i = -1; i < (long)n && n < RK_TREE_MAX; i++) {
            if (mono_ms() > deadline) {
                out->limited = 1;
                break;
            }
            int32_t parent = i < 0 ? pid : work[i].pid;
            uint64_t pstart = i < 0 ? start : work[i].start;
            uint32_t depth = i < 0 ? 1 : work[i].depth + 1;
            uint32_t nk = 0;
            if (depth > RK_TREE_DEPTH_MAX ||
                lin->children(lin->ctx, parent, sc->kids, RK_TREE_MAX, &nk) != 0)
                continue;
            if (nk > RK_TREE_MAX) {
                nk = RK_TREE_MAX;
                out->limited = 1;
            }
            for (uint32_t k = 0; k < nk && n < RK_TREE_MAX; k++) {
                int32_t c = sc->kids[k], cpp = 0;
                uint64_t cs = 0;
                /* The table may be behind: the pid must still be a child
                 * of this parent in /proc, and younger than it. pid and
                 * start name one process, so the checks below and the
                 * signals are about the one read here. */
                if (c <= 1 || c == pid || found_at(work, n, c) >= 0 ||
                    rk_proc_parent(c, &cpp, &cs) != 0 || cpp != parent || cs < pstart)
                    continue;
                rk_kill_one(c, cs, SIGSTOP, opts, &r);
                out->fallback |= r.used_fallback;
                if (r.code == RK_GONE)
                    continue;
                work[n].pid = c;
                work[n].start = cs;
                work[n].depth = depth;
                work[n].state = r.code == RK_DONE ? 'T' : 'R'; /* 'R': spared */
                n++;
                grew = 1;
                if (r.code != RK_DONE)
                    out->refused++;
            }
        }
        if (n >= RK_TREE_MAX)
            out->limited = 1;
        if (out->limited)
            break;
        /* The lineage is closed: one /proc look for what the collector has
         * not recorded yet. What it adds is walked in the next round. */
        if (!grew && proc_checked < 4) {
            proc_checked++;
            size_t m = 0;
            struct rk_proc extra[64 + 1]; /* + 1: the walk's root */
            (void)rk_descendants(pid, start, opts, extra, 64 + 1, &m);
            for (size_t e = 0; e < m && n < RK_TREE_MAX; e++) {
                if (found_at(work, n, extra[e].pid) >= 0)
                    continue;
                rk_kill_one(extra[e].pid, extra[e].start, SIGSTOP, opts, &r);
                if (r.code == RK_GONE)
                    continue;
                work[n] = extra[e];
                work[n].state = r.code == RK_DONE ? 'T' : 'R';
                if (r.code != RK_DONE)
                    out->refused++;
                n++;
                grew = 1;
                out->source = "lineage+proc";
            }
        }
    }
    /* Deepest first, the root last. */
    uint32_t maxd = 0;
    for (size_t i = 0; i < n; i++)
        if (work[i].depth > maxd)
            maxd = work[i].depth;
    for (uint32_t d = maxd; d >= 1; d--)
        for (size_t i = 0; i < n; i++) {
            if (work[i].depth != d || work[i].state != 'T')
                continue;
            rk_kill_one(work[i].pid, work[i].start, SIGKILL, opts, &r);
            out->fallback |= r.used_fallback;
            if (r.code == RK_DONE)
                out->killed++;
        }
    rk_kill_one(pid, start, SIGKILL, opts, &r);
    out->fallback |= r.used_fallback;
    /* The root was stopped by us: a kill that finds it gone now was
     * still ours to give only if it was done; else report what happened. */
    out->code = r.code;
    out->err = r.err;
}

/* Kills pid (whose start was checked against the alert) as configured. */
static void act(struct rk_plugin *p, const struct conf *conf, struct scratch *sc, int32_t pid,
                uint64_t start, struct outcome *out)
{
    struct rk_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.protect = &conf->protect;
    opts.tree_max_ms = conf->tree_max_ms;
    out->source = "";
    if (!conf->kill_descendants) {
        struct rk_result r;
        rk_kill_one(pid, start, SIGKILL, &opts, &r);
        out->code = r.code;
        out->err = r.err;
        out->fallback = r.used_fallback;
        return;
    }
    /* The lineage when the process collector offers it and knows this
     * process as the alert's; else /proc. */
    const rp_lineage_service *lin = NULL;
    uint64_t hold = 0;
    if (RP_HOST_HAS(p->host, service_acquire) &&
        p->host->service_acquire(p->self, RP_LINEAGE_SERVICE, sizeof RP_LINEAGE_SERVICE - 1,
                                 RP_LINEAGE_VERSION, (const void **)&lin, &hold) == 0) {
        rp_lineage_process lp;
        char want[RP_UTIL_ENTITY_ID_LEN + 1];
        memset(&lp, 0, sizeof lp);
        lp.struct_size = sizeof lp;
        rp_util_entity_id(p->machine_id, p->mid_len, pid, start, want);
        if (lin->struct_size >= sizeof *lin && lin->process(lin->ctx, pid, &lp) == 0 &&
            !(lp.flags & RP_LINEAGE_EXITED) && strcmp(lp.entity_id, want) == 0) {
            tree_lineage(sc, lin, pid, start, &opts, out);
            p->host->service_release(p->self, hold);
            count(p, C_LINEAGE, 1);
            return;
        }
        p->host->service_release(p->self, hold);
    }
    struct rk_tree_result tr;
    rk_kill_tree(pid, start, &opts, sc->work, RK_TREE_MAX, &tr);
    out->source = "proc";
    out->code = tr.code;
    out->err = 0;
    out->killed = tr.killed;
    out->refused = tr.refused;
    out->limited = tr.limited;
    out->fallback = tr.used_fallback;
    count(p, C_PROC, 1);
}

/* Why nothing was done, in words, for the message. */
static const char *why(int code)
{
    switch (code) {
    case RK_GONE:
        return "it had exited already";
    case RK_REFUSED_INIT:
        return "it is init (pid 1) or no process";
    case RK_REFUSED_KTHREAD:
        return "it is a kernel thread";
    case RK_REFUSED_SELF:
        return "it is the agent or one of its ancestors";
    case RK_REFUSED_PROTECTED_EXE:
        return "its executable is protected";
    case RK_REFUSED_PROTECTED_COMM:
        return "its command name is protected";
    case RK_REFUSED_REUSED:
        return "the pid now names another process";
    case RK_REFUSED_THREAD:
        return "the id is a thread's";
    default:
        return "it could not be checked or signalled";
    }
}

/* The start (clock ticks) of the process the alert meant, into *start:
 * the pid's current start when it gives the alert's process.entity_id, or,
 * for an alert without one, when it is within a few ticks of its
 * process.start. RK_REFUSED_REUSED when it does not; RK_GONE when pid has
 * no process; -1 when the alert has neither identity. */
static int alert_start(struct rk_plugin *p, const rp_event *ev, int32_t pid, uint64_t *start)
{
    const char *eid = NULL;
    uint64_t elen = 0;
    int64_t sns = 0;
    int has_eid = p->host->get_str(ev, p->f[F_ENTITY_ID], &eid, &elen) == 0 && elen > 0;
    int has_start = p->host->get_timestamp(ev, p->f[F_START], &sns) == 0 && sns > 0;
    if (!has_eid && !has_start)
        return -1;
    if (pid <= 1)
        return RK_REFUSED_INIT;
    if (rp_util_proc_start(pid, start) != 0)
        return RK_GONE;
    if (has_eid) {
        char want[RP_UTIL_ENTITY_ID_LEN + 1];
        rp_util_entity_id(p->machine_id, p->mid_len, pid, *start, want);
        return elen == RP_UTIL_ENTITY_ID_LEN && memcmp(eid, want, elen) == 0 ? RK_DONE
                                                                             : RK_REFUSED_REUSED;
    }
    /* process.start may come from the kernel's fork time rather than from
     * ticks, and the boot time drifts with the wall clock: a few ticks of
     * slack, far less than a pid takes to cycle. */
    int64_t have = p->boot_wall_ns + (int64_t)(*start * p->tick_ns);
    int64_t d = have > sns ? have - sns : sns - have;
    return d <= (int64_t)(3 * p->tick_ns) + 50000000 ? RK_DONE : RK_REFUSED_REUSED;
}

static void copy_str(struct rk_plugin *p, const rp_event *from, rp_event *to, enum field f)
{
    const char *s = NULL;
    uint64_t n = 0;
    if (p->host->get_str(from, p->f[f], &s, &n) == 0)
        (void)p->host->set_str(to, p->f[f], s, n);
}

/* Sets the outcome o of pid (id: how the alert's identity check ended) on
 * out and publishes it, dropping the reference to out. */
static void publish(struct rk_plugin *p, rp_event *out, const rp_event *ev, int32_t pid, int id,
                    const struct outcome *o)
{
    const rp_host_api *h = p->host;
    int rc;
    if (o->source[0]) {
        (void)h->set_str(out, p->f[F_DESC_SOURCE], o->source, strlen(o->source));
        (void)h->set_u64(out, p->f[F_DESC_KILLED], o->killed);
        (void)h->set_u64(out, p->f[F_DESC_REFUSED], o->refused);
        (void)h->set_bool(out, p->f[F_LIMITED], o->limited);
    }
    if (id == RK_DONE)
        (void)h->set_bool(out, p->f[F_PIDFD], !o->fallback);
    count(p, C_DESCENDANTS, o->killed);
    count(p, C_DESC_REFUSED, o->refused);
    count(p, C_LIMITED, o->limited ? 1 : 0);
    if (o->code == RK_DONE) {
        count(p, C_DONE, 1);
        rc = rp_util_response_finish(
            &p->resp, out, ev, RP_UTIL_RESPONSE_DONE, NULL,
            "process %d killed%s, and %u of its descendants (found by %s)%s", (int)pid,
            o->fallback ? " (no pidfd: /proc re-checked)" : "", o->killed,
            o->source[0] ? o->source : "none: not asked",
            o->limited ? "; the tree's bound was hit, some may live" : "");
    } else if (o->code == RK_FAILED) {
        count(p, C_FAILED, 1);
        rc = rp_util_response_finish(&p->resp, out, ev, RP_UTIL_RESPONSE_FAILED, "failed",
                                     "process %d not killed: %s", (int)pid,
                                     o->err ? strerror(o->err) : why(o->code));
    } else {
        count(p, C_REFUSED, 1);
        rc = rp_util_response_finish(&p->resp, out, ev, RP_UTIL_RESPONSE_REFUSED,
                                     o->code == RK_GONE ? "gone" : rk_code_name(o->code),
                                     "process %d not killed: %s", (int)pid, why(o->code));
    }
    if (rc != 0)
        count(p, C_PUBLISH_FAILED, 1);
}

/* ---- big trees on a worker ------------------------------------------------------------------- */

/* A tree with more descendants than this is killed on a host worker, so
 * the event thread goes on with the next alert: a few processes take well
 * under a millisecond, a big tree up to tree_max_ms. */
#define INLINE_TREE_MAX 32

/* 1 when pid (start) has more than INLINE_TREE_MAX descendants. */
static int tree_is_big(int32_t pid, uint64_t start)
{
    struct rk_proc few[INLINE_TREE_MAX + 1]; /* + 1: the walk's root */
    struct rk_opts opts;
    size_t n = 0;
    memset(&opts, 0, sizeof opts);
    return rk_descendants(pid, start, &opts, few, INLINE_TREE_MAX + 1, &n) == RP_ERR_FULL;
}

/* A tree kill handed to a worker: its own copy of the settings (a
 * reconfigure may replace them meanwhile), its own scratch, the alert
 * (retained) and the response to finish. */
struct job {
    struct rk_plugin *p;
    struct conf conf;
    struct scratch scratch;
    const rp_event *alert;
    rp_event *out;
    int32_t pid;
    uint64_t start;
    int ran;
};

static void job_work(void *arg)
{
    struct job *j = arg;
    struct outcome o;
    memset(&o, 0, sizeof o);
    o.source = "";
    act(j->p, &j->conf, &j->scratch, j->pid, j->start, &o);
    publish(j->p, j->out, j->alert, j->pid, RK_DONE, &o);
    j->out = NULL;
    j->ran = 1;
}

static void job_done(void *arg, int status)
{
    struct job *j = arg;
    (void)status;
    /* Not run (the plugin stopped first): nothing was signalled, and the
     * response is dropped with the agent stopping. */
    if (!j->ran) {
        count(j->p, C_FAILED, 1);
        if (j->out)
            j->p->host->event_release(j->out);
    }
    j->p->host->event_release(j->alert);
    atomic_fetch_sub(&j->p->jobs, 1);
    free(j);
}

/* Hands the tree kill of pid to a worker; 0 when taken (the job then owns
 * out), else an error and out is still the caller's. */
static int submit(struct rk_plugin *p, rp_event *out, const rp_event *ev, int32_t pid,
                  uint64_t start)
{
    struct job *j = malloc(sizeof *j);
    if (!j)
        return RP_ERR_NOMEM;
    j->p = p;
    j->conf = p->conf;
    j->alert = ev;
    j->out = out;
    j->pid = pid;
    j->start = start;
    j->ran = 0;
    p->host->event_retain(ev);
    atomic_fetch_add(&p->jobs, 1);
    int rc = p->host->work_submit(p->self, job_work, job_done, j);
    if (rc == 0)
        count(p, C_ON_WORKER, 1);
    if (rc != 0) {
        p->host->event_release(ev);
        atomic_fetch_sub(&p->jobs, 1);
        free(j);
    }
    return rc;
}

static void on_alert(struct rk_plugin *p, const rp_event *ev)
{
    const rp_host_api *h = p->host;
    rp_event *out = NULL;
    int64_t pid64 = 0;
    count(p, C_ALERTS, 1);
    if (rp_util_response_begin(&p->resp, ev, "kill", "process", "end", &out) != 0) {
        count(p, C_PUBLISH_FAILED, 1);
        return;
    }
    copy_str(p, ev, out, F_ENTITY_ID);
    copy_str(p, ev, out, F_EXECUTABLE);
    int rc;
    if (h->get_i64(ev, p->f[F_PID], &pid64) != 0 || pid64 > INT32_MAX || pid64 < INT32_MIN) {
        count(p, C_REFUSED, 1);
        rc = rp_util_response_finish(&p->resp, out, ev, RP_UTIL_RESPONSE_REFUSED, "no_process",
                                     "not killed: the alert names no process (process.pid)");
        if (rc != 0)
            count(p, C_PUBLISH_FAILED, 1);
        return;
    }
    int32_t pid = (int32_t)pid64;
    (void)h->set_i64(out, p->f[F_PID], pid64);
    uint64_t start = 0;
    int id = alert_start(p, ev, pid, &start);
    if (id == -1) {
        count(p, C_REFUSED, 1);
        rc =
            rp_util_response_finish(&p->resp, out, ev, RP_UTIL_RESPONSE_REFUSED, "no_identity",
                                    "process %d not killed: the alert has no process.entity_id "
                                    "or process.start to tell it from a later process with its pid",
                                    (int)pid);
        if (rc != 0)
            count(p, C_PUBLISH_FAILED, 1);
        return;
    }
    struct outcome o;
    memset(&o, 0, sizeof o);
    o.source = "";
    if (id != RK_DONE) {
        o.code = id;
    } else if (p->conf.kill_descendants && tree_is_big(pid, start)) {
        if (submit(p, out, ev, pid, start) == 0)
            return;
        /* No worker took it: the tree is killed here, bounded as ever. */
        act(p, &p->conf, &p->scratch, pid, start, &o);
    } else {
        act(p, &p->conf, &p->scratch, pid, start, &o);
    }
    publish(p, out, ev, pid, id, &o);
}

static int rk_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    struct rk_plugin *p = state;
    (void)self;
    if (rp_util_response_wants(&p->resp, ev, "kill"))
        on_alert(p, ev);
    return 0;
}

/* ---- commands -------------------------------------------------------------------------------- */

static int rk_on_command(rp_plugin *self, void *state, rp_command *cmd, const char *request,
                         uint64_t len)
{
    struct rk_plugin *p = state;
    json_t *req = json_loadb(request, (size_t)len, 0, NULL);
    const char *name = json_string_value(json_object_get(req, "command"));
    int known = name && strcmp(name, "stats") == 0;
    size_t nargs = json_array_size(json_object_get(req, "args"));
    json_decref(req);
    if (!known)
        return say_error(p->host, self, RP_ERR_NOTFOUND, "unknown command; try: stats");
    if (nargs > 0)
        return say_error(p->host, self, RP_ERR_INVAL, "stats takes no argument");
    char buf[1024];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"counters\":{");
    for (int c = 0; c < C_COUNT && n < sizeof buf; c++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"%s\":%llu", c ? "," : "",
                              counter_names[c], (unsigned long long)atomic_load(&p->totals[c]));
    if (n < sizeof buf)
        n += (size_t)snprintf(buf + n, sizeof buf - n,
                              "},\"kill_descendants\":%s,\"protected_executables\":%u,"
                              "\"protected_names\":%u,\"tree_kills_running\":%u}",
                              atomic_load(&p->shown_descendants) ? "true" : "false",
                              (unsigned)atomic_load(&p->shown_exe),
                              (unsigned)atomic_load(&p->shown_comm),
                              (unsigned)atomic_load(&p->jobs));
    if (n >= sizeof buf)
        return RP_ERR_FULL;
    return p->host->command_reply(cmd, buf, n, 0);
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

static int rk_check_config(rp_plugin *self, const rp_host_api *host)
{
    struct conf c;
    return conf_read(host, self, &c, 1);
}

static int rk_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    if (!RP_HOST_HAS(host, command_reply))
        return RP_ERR_VERSION;
    struct rk_plugin *p = calloc(1, sizeof *p);
    if (!p)
        return RP_ERR_NOMEM;
    p->self = self;
    p->host = host;
    int rc = rp_util_counters_register(&p->counters, host, self, counter_names, C_COUNT, 0);
    if (rc == 0)
        rc = rp_util_fields_register(host, self, field_defs, F_COUNT, p->f);
    if (rc == 0)
        rc = rp_util_response_init(&p->resp, host, self);
    if (rc == 0)
        rc = conf_read(host, self, &p->conf, 0);
    if (rc != 0) {
        free(p);
        return rc;
    }
    show_conf(p);
    rp_util_machine_id(p->machine_id, sizeof p->machine_id, &p->mid_len);
    long hz = sysconf(_SC_CLK_TCK);
    p->tick_ns = hz > 0 ? (uint64_t)(1000000000 / hz) : 10000000;
    struct timespec r, b;
    clock_gettime(CLOCK_REALTIME, &r);
    clock_gettime(CLOCK_BOOTTIME, &b);
    p->boot_wall_ns = ((int64_t)r.tv_sec - b.tv_sec) * 1000000000 + (r.tv_nsec - b.tv_nsec);
    *state = p;
    return 0;
}

static int rk_start(rp_plugin *self, void *state)
{
    struct rk_plugin *p = state;
    int rc = p->host->subscribe(self, "alert", 5, 0);
    if (rc != 0)
        return say_error(p->host, self, rc, "cannot subscribe to alerts: %s", rp_strerror(rc));
    rp_util_logf(p->host, self, RP_LOG_INFO,
                 "killing the processes of prevent alerts asking for kill%s; %u protected "
                 "executables, %u protected names",
                 p->conf.kill_descendants ? ", with their descendants" : "", p->conf.protect.n_exe,
                 p->conf.protect.n_comm);
    return 0;
}

static int rk_stop(rp_plugin *self, void *state)
{
    struct rk_plugin *p = state;
    rp_util_logf(p->host, self, RP_LOG_INFO, "stopped: %llu alerts, %llu killed, %llu refused",
                 (unsigned long long)atomic_load(&p->totals[C_ALERTS]),
                 (unsigned long long)atomic_load(&p->totals[C_DONE]),
                 (unsigned long long)atomic_load(&p->totals[C_REFUSED]));
    return 0;
}

static void rk_destroy(rp_plugin *self, void *state)
{
    (void)self;
    free(state);
}

static int rk_reconfigure(rp_plugin *self, void *state)
{
    struct rk_plugin *p = state;
    struct conf c;
    int rc = conf_read(p->host, self, &c, 0);
    if (rc != 0)
        return rc; /* the old settings stay */
    p->conf = c;
    show_conf(p);
    return 0;
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1, /* services, config getters, commands */
    .kind = RP_KIND_RESPONDER,
    .flags = RP_PLUGIN_CAPS_DECLARED,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.responder.kill",
    .version = "1.0.0",
    .vendor = "Rampart",
    .license = "Apache-2.0",
    .description = "kills the process of a prevent alert, re-checked through a pidfd",
    .config_schema = config_schema,
    .init = rk_init,
    .start = rk_start,
    .stop = rk_stop,
    .destroy = rk_destroy,
    .reconfigure = rk_reconfigure,
    .on_event = rk_on_event,
    .field_namespace = "kill",
    .check_config = rk_check_config,
    .on_command = rk_on_command,
    /* Signalling other users' processes, and reading their /proc/<pid>/exe
     * and status for the checks. */
    .capabilities = RP_CAP_KILL | RP_CAP_SYS_PTRACE | RP_CAP_DAC_READ_SEARCH,
};

RP_PLUGIN_ENTRY(descriptor)
