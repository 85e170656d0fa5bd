/* core/runtime/isolate.c - the worker's side of an isolated plugin: the
 * proxy descriptor, the sandbox's lifecycle, and the thread that serves
 * what the plugin does (isolate.h). */
#include "runtime/isolate.h"
#include "lib/log.h"
#include "os/os.h"
#include "os/os_sandbox.h"
#include "os/os_thread.h"
#include "runtime/callrec.h"
#include "runtime/event.h"
#include "runtime/faults.h"
#include "runtime/fields.h"
#include "runtime/host_private.h"
#include "runtime/isolate_proto.h"
#include "runtime/topic.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef RP_SANDBOX_PATH
#define RP_SANDBOX_PATH ""
#endif

/* Lifecycle calls may load rules (seconds); other calls answer at once. */
#define CALL_LIFECYCLE_MS 60000
#define DESC_WAIT_MS      10000
#define PING_EVERY_MS     1000
#define BACKOFF_MIN_MS    100
#define BACKOFF_MAX_MS    30000
#define NSTRS             7
#define ALERTS_KEPT       32
/* CAP_SETGID, CAP_SETUID, CAP_SETPCAP and CAP_KILL (linux/capability.h). */
#define RP__ISO_WORKER_CAPS (RP_CAP(6) | RP_CAP(7) | RP_CAP(8) | RP_CAP_KILL)

/* A call of the worker waiting for its reply (one at a time: call_lock). */
struct pending {
    uint64_t seq;
    int done;
    int rc;
    char msg[RP__ISO_MSG_MAX];
};

struct rp__iso {
    struct rp_plugin *p;
    rp__host *host;
    /* Settings (plugins.<name>.sandbox). */
    uint32_t uid, gid;
    uint64_t memory_mb;
    uint32_t nofile;
    int64_t deadline_ms;
    int plugin_fd, exe_fd;
    /* The descriptor the loader gets, and the strings it points at. */
    rp_plugin_descriptor desc;
    char *strs[NSTRS];
    rp_event_fields *provides;
    char **provide_strs;
    size_t nprovide_strs;
    const char **provide_lists;
    uint32_t real_cbs;

    /* The sandbox now. Swapped by the serving thread under out_lock. */
    rp__os_mutex *out_lock; /* the w2s ring's one producer; the instance */
    int64_t pid;
    int shm_fd;
    void *shm;
    int wake, rwake; /* the worker's ends */
    rp__iso_shared *sh;
    rp__iso_end w2s, s2w, rep;
    atomic_int up; /* the sandbox runs the plugin: events go to it */
    uint32_t fields_sent;
    unsigned char *evbuf, *inbuf, *repbuf;
    uint64_t sent_base; /* events_done of the sandbox counts from here */

    /* The serving thread. */
    rp__os_thread *thread;
    atomic_int thread_running; /* started at the first init, see proxy_init */
    atomic_int quit;
    const char *kill_reason; /* set before a kill: the fault's kind and words */
    enum rp__fault_kind kill_kind;

    /* Calls. */
    rp__os_mutex *call_lock;
    rp__os_mutex *lock; /* pending, and the condition */
    rp__os_cond *cond;
    struct pending pend;
    uint64_t seq;
    /* Alerts alert_create made for the plugin, not yet published (a ring
     * of the last ALERTS_KEPT, under lock): the policy fields of what the
     * plugin publishes are put back from them (guard_alert). */
    rp_event *made[ALERTS_KEPT];
    uint32_t made_next;
    rp_command *cmd; /* the command on_command runs now, under lock */
    uint64_t cmd_id, cmd_seq;
    int64_t call_deadline_ns; /* of the call under way, 0 none */

    /* What the plugin should be: 0 loaded, 1 initialised, 2 started, 3
     * stopped. A restarted sandbox is brought to it. */
    atomic_int want;
    char *config_text; /* the config of the last init or reconfigure */
    char *subs[MAX_SUBS];
    uint32_t nsubs;

    /* Figures. */
    atomic_uint_fast64_t sent, lost, restarts;
    atomic_int_fast64_t cur_pid;
    uint64_t done_seen;
    int64_t done_change_ns;
    uint64_t ping_seq;
    int64_t ping_sent_ns, last_ping_ns;
    int64_t started_ns; /* when the sandbox now was started */
};

static _Thread_local struct rp__iso *serving; /* the serving thread's own record */

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int rp__iso_wanted(const json_t *entry)
{
    const char *v = json_string_value(json_object_get(entry, "isolation"));
    return v && strcmp(v, "process") == 0;
}

/* ---- the w2s ring ------------------------------------------------------- */

/* Tells the sandbox the fields registered since it was last told; under
 * out_lock. */
static int send_fields(struct rp__iso *iso, uint32_t from)
{
    uint32_t count = rp__field_count();
    if (from > count)
        return 0;
    rp__iso_wr w;
    rp__iso_wr_init(&w, iso->evbuf, RP__ISO_REC_MAX);
    rp__iso_wr_u32(&w, from);
    rp__iso_wr_u32(&w, count - from + 1);
    for (uint32_t id = from; id <= count; id++) {
        size_t len;
        const char *name = rp__field_name(id, &len);
        rp__iso_wr_u32(&w, rp__field_type(id));
        rp__iso_wr_str(&w, name ? name : "", name ? len : 0);
    }
    if (!w.ok)
        return RP_ERR_FULL;
    int wake = 0;
    int rc = rp__iso_put(&iso->w2s, RP__ISO_FIELDS, 0, iso->evbuf, (uint32_t)w.len, NULL, 0, &wake);
    if (rc == 0)
        iso->fields_sent = count;
    if (wake)
        rp__os_wake_send(iso->wake);
    return rc;
}

static void kill_sandbox(struct rp__iso *iso, enum rp__fault_kind kind, const char *why)
{
    rp__os_mutex_lock(iso->lock);
    if (!iso->kill_reason) {
        iso->kill_kind = kind;
        iso->kill_reason = why;
    }
    rp__os_mutex_unlock(iso->lock);
    atomic_store(&iso->up, 0);
    rp__os_proc_kill(atomic_load(&iso->cur_pid));
}

/* Puts a record on the w2s ring (calls; events go through proxy_on_event).
 * A ring that stays full for the deadline means the sandbox hangs. */
static int w2s_put(struct rp__iso *iso, uint32_t type, uint64_t seq, const void *a, uint32_t alen)
{
    int64_t until = rp__os_monotonic_ns() + iso->deadline_ms * 1000000;
    for (;;) {
        int wake = 0, rc;
        rp__os_mutex_lock(iso->out_lock);
        if (iso->pid <= 0) {
            rp__os_mutex_unlock(iso->out_lock);
            return RP_ERR_STOPPED;
        }
        rc = iso->fields_sent < rp__field_count() ? send_fields(iso, iso->fields_sent + 1) : 0;
        if (rc == 0)
            rc = rp__iso_put(&iso->w2s, type, seq, a, alen, NULL, 0, &wake);
        rp__os_mutex_unlock(iso->out_lock);
        if (wake)
            rp__os_wake_send(iso->wake);
        if (rc != RP_ERR_FULL)
            return rc;
        if (rp__os_monotonic_ns() > until) {
            kill_sandbox(iso, RP__FAULT_HANG, "its ring stayed full past the deadline");
            return RP_ERR_TIMEOUT;
        }
        sleep_ms(1);
    }
}

/* ---- calls -------------------------------------------------------------- */

static int serve_one(struct rp__iso *iso, int wait_ms);
static int thread_up(struct rp__iso *iso);

/* Calls the sandbox and waits for the reply (timeout_ms); past it the
 * sandbox is killed as hung. msg (may be NULL) gets its set_error text. */
static int call(struct rp__iso *iso, uint32_t type, const void *a, uint32_t alen,
                int64_t timeout_ms, enum rp__cr_kind kind, char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = '\0';
    rp__os_mutex_lock(iso->call_lock);
    rp__os_mutex_lock(iso->lock);
    uint64_t seq = ++iso->seq;
    iso->pend.seq = seq;
    iso->pend.done = 0;
    iso->pend.rc = RP_ERR_INTERNAL;
    iso->pend.msg[0] = '\0';
    int64_t deadline = rp__os_monotonic_ns() + timeout_ms * 1000000;
    iso->call_deadline_ns = deadline;
    rp__os_mutex_unlock(iso->lock);
    int rc = w2s_put(iso, type, seq, a, alen);
    if (rc == 0) {
        int gone = 0;
        rp__os_mutex_lock(iso->lock);
        while (!iso->pend.done) {
            int64_t left = deadline - rp__os_monotonic_ns();
            if (left <= 0 || gone || atomic_load(&iso->cur_pid) <= 0)
                break;
            if (serving == iso || !atomic_load(&iso->thread_running)) {
                /* The serving thread itself (a restart), or a call before
                 * it runs (check_config at load): the caller serves the
                 * sandbox's requests while it waits. */
                rp__os_mutex_unlock(iso->lock);
                int s = serve_one(iso, 50);
                rp__os_mutex_lock(iso->lock);
                if (s < 0)
                    gone = 1;
            } else {
                rp__os_cond_timedwait(iso->cond, iso->lock, left / 1000000 + 1);
            }
        }
        if (iso->pend.done) {
            rc = iso->pend.rc;
            if (msg && msglen)
                snprintf(msg, msglen, "%s", iso->pend.msg);
        } else {
            rc = gone || atomic_load(&iso->cur_pid) <= 0 ? RP_ERR_STOPPED : RP_ERR_TIMEOUT;
        }
        iso->pend.seq = 0;
        iso->call_deadline_ns = 0;
        rp__os_mutex_unlock(iso->lock);
        if (rc == RP_ERR_TIMEOUT) {
            static char why[96];
            snprintf(why, sizeof why, "%s did not return within %lld ms",
                     rp__callrec_kind_name(kind), (long long)timeout_ms);
            kill_sandbox(iso, RP__FAULT_HANG, why);
        }
    }
    rp__os_mutex_unlock(iso->call_lock);
    return rc;
}

/* ---- serving the sandbox ------------------------------------------------- */

static int sreply(struct rp__iso *iso, uint64_t seq, int rc, const void *res, uint32_t rlen)
{
    int32_t code = rc;
    int wake = 0;
    int r = rp__iso_put(&iso->rep, RP__ISO_SREPLY, seq, &code, 4, res, rlen, &wake);
    if (wake || r == 0)
        rp__os_wake_send(iso->rwake);
    return r;
}

/* Reads an optional string (u32 present, str) of at most max bytes as a
 * NUL-terminated copy into buf; NULL when absent. */
static const char *rd_opt(rp__iso_rd *r, uint32_t max, char *buf, size_t cap, int *bad)
{
    uint32_t present = rp__iso_rd_u32(r), len;
    if (!r->ok || present > 1) {
        *bad = 1;
        return NULL;
    }
    if (!present)
        return NULL;
    const char *s = rp__iso_rd_str(r, max, &len);
    if (!s || len >= cap || memchr(s, '\0', len)) {
        *bad = 1;
        return NULL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return buf;
}

/* Reads a list (u32 0 = NULL, n + 1 = n items) of at most 64 strings of at
 * most 256 bytes into store. */
static const char *const *rd_list(rp__iso_rd *r, char (*store)[257], const char **items, int *bad)
{
    uint32_t n = rp__iso_rd_u32(r);
    if (!r->ok || n > 65) {
        *bad = 1;
        return NULL;
    }
    if (n == 0)
        return NULL;
    for (uint32_t i = 0; i + 1 < n; i++) {
        uint32_t len;
        const char *s = rp__iso_rd_str(r, 256, &len);
        if (!s || memchr(s, '\0', len)) {
            *bad = 1;
            return NULL;
        }
        memcpy(store[i], s, len);
        store[i][len] = '\0';
        items[i] = store[i];
    }
    items[n - 1] = NULL;
    return items;
}

/* alert_create for the sandbox: its sources come as events (with their
 * event.id, so rampart.alert.source_ids names the real ones), the alert is
 * made here (policy and all) and sent back whole. */
static int op_alert(struct rp__iso *iso, rp__iso_rd *r, uint64_t seq)
{
    struct alert_bufs {
        char s[6][RP_MAX_CONFIG_SCHEMA > 4096 ? 4096 : RP_MAX_CONFIG_SCHEMA];
        char lists[3][64][257];
        const char *items[3][65];
    } *b = malloc(sizeof *b);
    if (!b)
        return sreply(iso, seq, RP_ERR_NOMEM, NULL, 0);
    int bad = 0;
    rp_alert a = {.struct_size = sizeof(rp_alert)};
    uint32_t known = rp__iso_rd_u32(r); /* fields the sandbox knows */
    a.severity = rp__iso_rd_u32(r);
    a.rule_id = rd_opt(r, 4095, b->s[0], sizeof b->s[0], &bad);
    a.rule_name = rd_opt(r, 4095, b->s[1], sizeof b->s[1], &bad);
    a.ruleset = rd_opt(r, 4095, b->s[2], sizeof b->s[2], &bad);
    a.reason = rd_opt(r, 4095, b->s[3], sizeof b->s[3], &bad);
    a.rule_description = rd_opt(r, 4095, b->s[4], sizeof b->s[4], &bad);
    a.rule_reference = rd_opt(r, 4095, b->s[5], sizeof b->s[5], &bad);
    a.tags = rd_list(r, b->lists[0], b->items[0], &bad);
    a.tactic_ids = rd_list(r, b->lists[1], b->items[1], &bad);
    a.technique_ids = rd_list(r, b->lists[2], b->items[2], &bad);
    uint32_t n = rp__iso_rd_u32(r);
    rp_event *src[64];
    uint32_t got = 0;
    int rc = bad || !r->ok || n > 64 ? RP_ERR_PARSE : 0;
    for (; got < n && rc == 0; got++) {
        uint32_t len = rp__iso_rd_u32(r);
        if (!r->ok || len > r->left) {
            rc = RP_ERR_PARSE;
            break;
        }
        rp__iso_rd sub;
        rp__iso_rd_init(&sub, r->p, len);
        r->p += len;
        r->left -= len;
        rc = rp__iso_event_decode(&sub, RP__ISO_DECODE_EXACT, iso->p->index, &src[got]);
        if (rc != 0)
            break;
    }
    rp_event *alert = NULL;
    if (rc == 0)
        rc = rp__host_api()->alert_create(iso->p, &a, (const rp_event *const *)src, n, &alert);
    for (uint32_t i = 0; i < got; i++)
        rp__event_release(src[i]);
    free(b);
    if (rc != 0)
        return sreply(iso, seq, rc, NULL, 0);
    /* The sandbox must know every field of the alert before it decodes it:
     * the reply first gives those past the ones it said it knows. */
    rp__iso_wr w;
    rp__iso_wr_init(&w, iso->repbuf, RP__ISO_REC_MAX);
    uint32_t count = rp__field_count();
    if (known > count)
        known = count;
    rp__iso_wr_u32(&w, known + 1);
    rp__iso_wr_u32(&w, count - known);
    for (uint32_t id = known + 1; id <= count; id++) {
        size_t nlen;
        const char *fname = rp__field_name(id, &nlen);
        rp__iso_wr_u32(&w, rp__field_type(id));
        rp__iso_wr_str(&w, fname ? fname : "", fname ? nlen : 0);
    }
    rc = rp__iso_event_encode(&w, alert);
    rp__os_mutex_lock(iso->lock);
    rp_event *old = iso->made[iso->made_next];
    iso->made[iso->made_next] = alert; /* our reference, kept for guard_alert */
    iso->made_next = (iso->made_next + 1) % ALERTS_KEPT;
    rp__os_mutex_unlock(iso->lock);
    if (old)
        rp__event_release(old);
    if (rc == 0 && !w.ok)
        rc = RP_ERR_FULL;
    return rc == 0 ? sreply(iso, seq, 0, iso->repbuf, (uint32_t)w.len)
                   : sreply(iso, seq, rc, NULL, 0);
}

/* The host's subscriptions of the plugin outlive a sandbox (a restart
 * subscribes again: it still is), not a stop (the host ends them). */
static int op_subscribe(struct rp__iso *iso, const char *pat, uint32_t len, uint32_t flags)
{
    rp__os_mutex_lock(iso->lock);
    for (uint32_t i = 0; i < iso->nsubs; i++) {
        if (strlen(iso->subs[i]) == len && memcmp(iso->subs[i], pat, len) == 0) {
            rp__os_mutex_unlock(iso->lock);
            return 0;
        }
    }
    int full = iso->nsubs >= MAX_SUBS;
    rp__os_mutex_unlock(iso->lock);
    if (full)
        return RP_ERR_FULL;
    int rc = rp__host_api()->subscribe(iso->p, pat, len, flags);
    char *copy = rc == 0 ? malloc((size_t)len + 1) : NULL;
    if (copy) {
        memcpy(copy, pat, len);
        copy[len] = '\0';
        rp__os_mutex_lock(iso->lock);
        iso->subs[iso->nsubs++] = copy;
        rp__os_mutex_unlock(iso->lock);
    }
    return rc;
}

static void subs_forget(struct rp__iso *iso)
{
    rp__os_mutex_lock(iso->lock);
    for (uint32_t i = 0; i < iso->nsubs; i++)
        free(iso->subs[i]);
    iso->nsubs = 0;
    rp__os_mutex_unlock(iso->lock);
}

static int serve_scall(struct rp__iso *iso, uint64_t seq, rp__iso_rd *r)
{
    const rp_host_api *api = rp__host_api();
    struct rp_plugin *p = iso->p;
    uint32_t op = rp__iso_rd_u32(r);
    uint32_t len = 0, num = 0, out32[2] = {0, 0};
    const char *name = NULL;
    int rc;
    if (op >= RP__ISO_OP_FIELD_ID && op <= RP__ISO_OP_GAUGE_REG && op != RP__ISO_OP_FIELD_SYNC) {
        name = rp__iso_rd_str(r, 256, &len);
        num = rp__iso_rd_u32(r);
        if (!name || !r->ok)
            return RP_ERR_PARSE;
    }
    switch (op) {
    case RP__ISO_OP_FIELD_ID:
        rc = api->field_id(p, name, len, num, &out32[0]);
        return sreply(iso, seq, rc, out32, rc ? 0 : 8);
    case RP__ISO_OP_FIELD_LOOKUP:
        rc = api->field_lookup(p, name, len, &out32[0], &out32[1]);
        return sreply(iso, seq, rc, out32, rc ? 0 : 8);
    case RP__ISO_OP_FIELD_SYNC: {
        uint32_t from = rp__iso_rd_u32(r), count = rp__field_count();
        if (!r->ok || from == 0)
            return RP_ERR_PARSE;
        rp__iso_wr w;
        rp__iso_wr_init(&w, iso->repbuf, RP__ISO_REC_MAX);
        rp__iso_wr_u32(&w, from);
        rp__iso_wr_u32(&w, from <= count ? count - from + 1 : 0);
        for (uint32_t id = from; id <= count; id++) {
            size_t nlen;
            const char *fname = rp__field_name(id, &nlen);
            rp__iso_wr_u32(&w, rp__field_type(id));
            rp__iso_wr_str(&w, fname ? fname : "", fname ? nlen : 0);
        }
        return sreply(iso, seq, w.ok ? 0 : RP_ERR_FULL, iso->repbuf, w.ok ? (uint32_t)w.len : 0);
    }
    case RP__ISO_OP_FIELD_PROVIDED:
        rc = api->field_provided(p, name, len, num, &out32[0]);
        return sreply(iso, seq, rc, out32, rc ? 0 : 4);
    case RP__ISO_OP_SUBSCRIBE:
        return sreply(iso, seq, op_subscribe(iso, name, len, num), NULL, 0);
    case RP__ISO_OP_COUNTER_REG:
        rc = api->counter_register(p, name, len, &out32[0]);
        return sreply(iso, seq, rc, out32, rc ? 0 : 4);
    case RP__ISO_OP_GAUGE_REG:
        rc = api->gauge_register(p, name, len, &out32[0]);
        return sreply(iso, seq, rc, out32, rc ? 0 : 4);
    case RP__ISO_OP_DROPPED: {
        uint64_t d = 0;
        rc = api->dropped_get(p, &d);
        return sreply(iso, seq, rc, &d, rc ? 0 : 8);
    }
    case RP__ISO_OP_ALERT:
        return op_alert(iso, r, seq);
    case RP__ISO_OP_CMD_REPLY: {
        uint64_t id = rp__iso_rd_u64(r);
        uint32_t flags = rp__iso_rd_u32(r);
        const char *json = rp__iso_rd_str(r, RP_MAX_COMMAND_REPLY, &len);
        if (!json)
            return RP_ERR_PARSE;
        rp__os_mutex_lock(iso->lock);
        rp_command *cmd = iso->cmd && id == iso->cmd_id ? iso->cmd : NULL;
        rp__os_mutex_unlock(iso->lock);
        /* The caller's thread waits in the call until the last reply, so
         * cmd stays valid while it is answered here. */
        rc = cmd ? api->command_reply(cmd, json, len, flags) : RP_ERR_TIMEOUT;
        return sreply(iso, seq, rc, NULL, 0);
    }
    default:
        return RP_ERR_PARSE;
    }
}

/* The fields of an alert the policy decides, which a sandbox must not
 * choose: a responder acts on them. */
static const char *const guarded[] = {"rampart.policy.mode", "rampart.policy.actions",
                                      "rampart.policy.matched", "rampart.alert.source_ids", NULL};

static int has_field(const rp_event *ev, rp_field_id f)
{
    for (uint32_t i = 0; i < rp__event_field_count(ev); i++) {
        rp_field_id id;
        if (rp__event_field_id_at(ev, i, &id, NULL) == 0 && id == f)
            return 1;
    }
    return 0;
}

/* Copies field f (a string or string array) of src onto ev. */
static int copy_guarded(rp_event *ev, const rp_event *src, rp_field_id f)
{
    const char *str;
    uint64_t len;
    if (rp__field_type(f) == RP_TYPE_STR)
        return rp__event_get_str(src, f, &str, &len) == 0 ? rp__event_set_str(ev, f, str, len)
                                                          : RP_ERR_INTERNAL;
    uint32_t n = 0;
    if (rp__field_type(f) != RP_TYPE_STR_ARRAY || rp__event_get_str_array_count(src, f, &n) != 0)
        return RP_ERR_INTERNAL;
    rp_str *items = calloc(n ? n : 1, sizeof *items);
    if (!items)
        return RP_ERR_NOMEM;
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        rc = rp__event_get_str_array_item(src, f, i, &items[i].ptr, &len);
        items[i].len = len;
    }
    if (rc == 0)
        rc = rp__event_set_str_array(ev, f, items, n);
    free(items);
    return rc;
}

/* An alert the sandbox publishes: its policy fields are those alert_create
 * stamped on the alert of the same event.id (put back whatever the plugin
 * did to them), and an alert it made otherwise may carry none. RP_ERR_PERM
 * when it does: it is not published. */
static int guard_alert(struct rp__iso *iso, rp_event *ev)
{
    const char *id = NULL, *oid;
    uint64_t idlen = 0, olen;
    rp_event *orig = NULL;
    rp__event_get_str(ev, RP__F_EVENT_ID, &id, &idlen);
    rp__os_mutex_lock(iso->lock);
    for (uint32_t i = 0; id && i < ALERTS_KEPT && !orig; i++) {
        if (iso->made[i] && rp__event_get_str(iso->made[i], RP__F_EVENT_ID, &oid, &olen) == 0 &&
            olen == idlen && memcmp(oid, id, idlen) == 0) {
            orig = iso->made[i];
            iso->made[i] = NULL; /* published once */
        }
    }
    rp__os_mutex_unlock(iso->lock);
    int rc = 0;
    for (int k = 0; guarded[k] && rc == 0; k++) {
        rp_field_id f = rp__field_lookup(guarded[k], strlen(guarded[k]));
        if (!f)
            continue;
        if (orig && has_field(orig, f))
            rc = copy_guarded(ev, orig, f);
        else if (has_field(ev, f))
            rc = RP_ERR_PERM;
    }
    if (orig)
        rp__event_release(orig);
    return rc;
}

/* One record of the sandbox. A negative return is a protocol violation:
 * the sandbox is killed. */
static int serve_record(struct rp__iso *iso, const rp__iso_hdr *h)
{
    rp__iso_rd r;
    rp__iso_rd_init(&r, iso->inbuf, h->len);
    const rp_host_api *api = rp__host_api();
    switch (h->type) {
    case RP__ISO_PUBLISH: {
        rp_event *ev = NULL;
        int rc = rp__iso_event_decode(&r, RP__ISO_DECODE_PUBLISH, iso->p->index, &ev);
        if (rc != 0) {
            rp__log_warn("plugin %s: an event from its sandbox was refused: %s", iso->p->name,
                         rp_strerror(rc));
            return rc == RP_ERR_PARSE ? rc : 0;
        }
        const char *type = rp__topic_name(rp__event_topic(ev));
        if (type && strcmp(type, "alert") == 0 && (rc = guard_alert(iso, ev)) != 0) {
            rp__log_warn("plugin %s: an alert from its sandbox was refused: %s", iso->p->name,
                         rc == RP_ERR_PERM ? "it sets rampart.policy or rampart.alert fields "
                                             "alert_create did not make"
                                           : rp_strerror(rc));
            rp__event_release(ev);
            return 0;
        }
        api->event_publish(iso->p, ev);
        return 0;
    }
    case RP__ISO_REPLY: {
        int32_t rc = (int32_t)rp__iso_rd_u32(&r);
        uint32_t len;
        const char *msg = rp__iso_rd_str(&r, RP__ISO_MSG_MAX, &len);
        if (!msg)
            return RP_ERR_PARSE;
        if (h->seq == iso->ping_seq && h->seq) {
            iso->ping_sent_ns = 0;
            return 0;
        }
        rp__os_mutex_lock(iso->lock);
        if (iso->pend.seq == h->seq && !iso->pend.done) {
            iso->pend.rc = rc > 0 || rc < RP_ERR_INTERNAL ? RP_ERR_INTERNAL : rc;
            size_t n = len < sizeof iso->pend.msg ? len : sizeof iso->pend.msg - 1;
            memcpy(iso->pend.msg, msg, n);
            iso->pend.msg[n] = '\0';
            iso->pend.done = 1;
            rp__os_cond_broadcast(iso->cond);
        }
        rp__os_mutex_unlock(iso->lock);
        return 0;
    }
    case RP__ISO_LOG: {
        uint32_t level = rp__iso_rd_u32(&r), len;
        const char *msg = rp__iso_rd_str(&r, RP__ISO_MSG_MAX, &len);
        if (!msg || level > RP_LOG_DEBUG)
            return RP_ERR_PARSE;
        api->log(iso->p, (int32_t)level, msg, len);
        return 0;
    }
    case RP__ISO_COUNTER: {
        uint32_t id = rp__iso_rd_u32(&r);
        uint64_t delta = rp__iso_rd_u64(&r);
        if (!r.ok)
            return RP_ERR_PARSE;
        api->counter_add(iso->p, id, delta);
        return 0;
    }
    case RP__ISO_GAUGE: {
        uint32_t id = rp__iso_rd_u32(&r);
        uint64_t v = rp__iso_rd_u64(&r);
        if (!r.ok)
            return RP_ERR_PARSE;
        api->gauge_set(iso->p, id, (int64_t)v);
        return 0;
    }
    case RP__ISO_SCALL:
        return serve_scall(iso, h->seq, &r);
    case RP__ISO_FATAL: {
        uint32_t len;
        const char *msg = rp__iso_rd_str(&r, RP__ISO_MSG_MAX, &len);
        if (msg)
            rp__log_error("plugin %s: its sandbox gives up: %.*s", iso->p->name, (int)len, msg);
        return 0;
    }
    default:
        return RP_ERR_PARSE;
    }
}

/* Serves what the sandbox sent, or waits up to wait_ms for it. 1 served
 * something, 0 nothing came, RP_ERR_STOPPED the sandbox is gone (or was
 * killed for a bad record). */
static int serve_one(struct rp__iso *iso, int wait_ms)
{
    rp__iso_hdr h;
    int n = 0;
    for (;;) {
        int got = rp__iso_get(&iso->s2w, &h, iso->inbuf, RP__ISO_REC_MAX);
        if (got < 0 || (got == 1 && h.type == RP__ISO_DESC)) {
            kill_sandbox(iso, RP__FAULT_SANDBOX, "it broke the protocol");
            return RP_ERR_STOPPED;
        }
        if (got == 0)
            break;
        if (serve_record(iso, &h) < 0) {
            rp__log_error("plugin %s: malformed record %u from its sandbox", iso->p->name,
                          (unsigned)h.type);
            kill_sandbox(iso, RP__FAULT_SANDBOX, "it sent a malformed record");
            return RP_ERR_STOPPED;
        }
        if (++n >= 256)
            return 1; /* let the caller look at its deadlines */
    }
    if (n)
        return 1;
    if (rp__iso_sleep_prepare(&iso->s2w)) {
        rp__iso_awake(&iso->s2w);
        return 1;
    }
    int w = rp__os_wake_wait(iso->wake, wait_ms);
    rp__iso_awake(&iso->s2w);
    return w == RP_ERR_STOPPED ? RP_ERR_STOPPED : 0;
}

/* ---- the sandbox's lifecycle -------------------------------------------- */

static void instance_close(struct rp__iso *iso)
{
    rp__os_mutex_lock(iso->out_lock);
    atomic_store(&iso->up, 0);
    iso->pid = 0;
    atomic_store(&iso->cur_pid, 0);
    rp__os_fd_close(iso->wake);
    rp__os_fd_close(iso->rwake);
    rp__os_fd_close(iso->shm_fd);
    rp__os_shm_unmap(iso->shm, RP__ISO_SHM_SIZE);
    iso->wake = iso->rwake = iso->shm_fd = -1;
    iso->shm = NULL;
    iso->sh = NULL;
    rp__os_mutex_unlock(iso->out_lock);
}

/* Starts a sandbox and waits for its descriptor, which stays in inbuf
 * (*len bytes). */
static int instance_start(struct rp__iso *iso, uint32_t *desc_len, char *err, size_t errlen)
{
    int shm_fd = -1, wake[2] = {-1, -1}, rwake[2] = {-1, -1};
    void *shm = NULL;
    int rc = rp__os_shm_create(RP__ISO_SHM_SIZE, &shm_fd, &shm);
    if (rc == 0)
        rc = rp__os_wake_pair(wake);
    if (rc == 0)
        rc = rp__os_wake_pair(rwake);
    if (rc != 0) {
        snprintf(err, errlen, "cannot make the shared memory: %s", rp_strerror(rc));
        goto fail;
    }
    unsigned char *base = shm;
    rp__os_mutex_lock(iso->out_lock);
    rp__iso_end_init(&iso->w2s, base + RP__ISO_OFF_W2S, RP__ISO_W2S_SIZE, 1);
    rp__iso_end_init(&iso->s2w, base + RP__ISO_OFF_S2W, RP__ISO_S2W_SIZE, 1);
    rp__iso_end_init(&iso->rep, base + RP__ISO_OFF_REPLY, RP__ISO_REPLY_SIZE, 1);
    iso->sh = shm;
    iso->shm = shm;
    iso->shm_fd = shm_fd;
    iso->wake = wake[0];
    iso->rwake = rwake[0];
    iso->fields_sent = 0;
    iso->sent_base = atomic_load(&iso->sent);
    iso->done_seen = 0;
    iso->done_change_ns = rp__os_monotonic_ns();
    iso->ping_seq = 0;
    iso->ping_sent_ns = 0;
    iso->last_ping_ns = rp__os_monotonic_ns();
    rp__os_mutex_lock(iso->lock);
    iso->kill_reason = NULL;
    rp__os_mutex_unlock(iso->lock);
    iso->started_ns = rp__os_monotonic_ns();
    char a_uid[24], a_gid[24], a_mem[24], a_nofile[24];
    snprintf(a_uid, sizeof a_uid, "%u", (unsigned)iso->uid);
    snprintf(a_gid, sizeof a_gid, "%u", (unsigned)iso->gid);
    snprintf(a_mem, sizeof a_mem, "%llu", (unsigned long long)iso->memory_mb);
    snprintf(a_nofile, sizeof a_nofile, "%u", (unsigned)iso->nofile);
    char *argv[] = {"rampart-sandbox", iso->p->name, a_uid, a_gid, a_mem, a_nofile, NULL};
    int fds[4] = {iso->plugin_fd, shm_fd, wake[1], rwake[1]};
    int64_t pid = 0;
    rc = rp__os_sandbox_spawn(iso->exe_fd, fds, 4, argv, &pid, err, errlen);
    if (rc == 0) {
        iso->pid = pid;
        atomic_store(&iso->cur_pid, pid);
    }
    rp__os_mutex_unlock(iso->out_lock);
    rp__os_fd_close(wake[1]);
    rp__os_fd_close(rwake[1]);
    wake[1] = rwake[1] = -1;
    if (rc != 0) {
        instance_close(iso);
        return rc;
    }
    /* Its first record is the descriptor. */
    int64_t until = rp__os_monotonic_ns() + (int64_t)DESC_WAIT_MS * 1000000;
    for (;;) {
        rp__iso_hdr h;
        int got = rp__iso_get(&iso->s2w, &h, iso->inbuf, RP__ISO_REC_MAX);
        if (got == 1 && h.type == RP__ISO_DESC) {
            *desc_len = h.len;
            return 0;
        }
        if (got == 1 && h.type == RP__ISO_FATAL) {
            rp__iso_rd r;
            uint32_t len;
            rp__iso_rd_init(&r, iso->inbuf, h.len);
            const char *msg = rp__iso_rd_str(&r, RP__ISO_MSG_MAX, &len);
            snprintf(err, errlen, "the sandbox failed: %.*s", msg ? (int)len : 0, msg ? msg : "");
            rc = RP_ERR_IO;
            break;
        }
        if (got != 0) {
            snprintf(err, errlen, "the sandbox sent no descriptor");
            rc = RP_ERR_IO;
            break;
        }
        int w = rp__os_wake_wait(iso->wake, 100);
        if (w == RP_ERR_STOPPED && rp__iso_pending(&iso->s2w) == 0) {
            int signo = 0, status = 0;
            rp__os_proc_reap(pid, 1, &signo, &status);
            iso->pid = -1; /* reaped */
            if (signo)
                snprintf(err, errlen,
                         "the sandbox was killed by signal %d before it sent the "
                         "descriptor%s",
                         signo, signo == 31 ? " (a system call the seccomp filter forbids)" : "");
            else
                snprintf(err, errlen,
                         "the sandbox exited with status %d before it sent the "
                         "descriptor (its reason is in the agent's error output)",
                         status);
            rc = RP_ERR_IO;
            break;
        }
        if (rp__os_monotonic_ns() > until) {
            snprintf(err, errlen, "the sandbox sent no descriptor within %d ms", DESC_WAIT_MS);
            rc = RP_ERR_TIMEOUT;
            break;
        }
    }
    if (iso->pid > 0) {
        int signo, status;
        rp__os_proc_kill(pid);
        rp__os_proc_reap(pid, 1, &signo, &status);
    }
    instance_close(iso);
    return rc;
fail:
    rp__os_shm_unmap(shm, RP__ISO_SHM_SIZE);
    rp__os_fd_close(shm_fd);
    for (int i = 0; i < 2; i++) {
        rp__os_fd_close(wake[i]);
        rp__os_fd_close(rwake[i]);
    }
    return rc;
}

/* The sandbox is gone (reaped): counts, logs, reports. */
static void instance_died(struct rp__iso *iso, int64_t pid, int signo, int status)
{
    uint64_t done = iso->sh ? atomic_load(&iso->sh->events_done) : 0;
    uint32_t cb = iso->sh ? atomic_load(&iso->sh->callback) : 0;
    uint64_t sent = atomic_load(&iso->sent) - iso->sent_base;
    uint64_t lost = sent > done ? sent - done : 0;
    atomic_fetch_add(&iso->lost, lost);
    rp__os_mutex_lock(iso->lock);
    const char *reason = iso->kill_reason;
    enum rp__fault_kind kind = reason  ? iso->kill_kind
                               : signo ? RP__FAULT_CRASH
                                       : RP__FAULT_SANDBOX;
    rp__os_mutex_unlock(iso->lock);
    int quiet = atomic_load(&iso->quit) || (atomic_load(&iso->want) == 3 && !reason && signo == 0);
    instance_close(iso);
    if (quiet)
        return; /* it exited after destroy */
    char detail[256];
    const char *cbname = cb ? rp__callrec_kind_name(cb) : NULL;
    if (reason)
        snprintf(detail, sizeof detail, "its sandbox (pid %lld) was killed: %s", (long long)pid,
                 reason);
    else if (signo)
        snprintf(detail, sizeof detail, "its sandbox (pid %lld) died of signal %d%s%s%s",
                 (long long)pid, signo, cbname ? " in " : "", cbname ? cbname : "",
                 signo == 31 ? " (a system call the seccomp filter forbids)" : "");
    else
        snprintf(detail, sizeof detail, "its sandbox (pid %lld) exited with status %d",
                 (long long)pid, status);
    rp__log_error("plugin %s: %s; %llu event(s) it had were lost; the other plugins are not "
                  "affected",
                  iso->p->name, detail, (unsigned long long)lost);
    struct rp__fault f = {
        .plugin = iso->p->name,
        .path = iso->p->path,
        .dev = iso->p->file_id.dev,
        .ino = iso->p->file_id.ino,
        .size = iso->p->file_id.size,
        .mtime_ns = iso->p->file_id.mtime_ns,
        .kind = kind,
        .callback = cbname,
        .signo = signo,
        .detail = detail,
    };
    if (rp__faults_report(&f) == 1) {
        rp__log_error("plugin %s: disabled by the fault ledger; its sandbox is not restarted",
                      iso->p->name);
        atomic_store(&iso->want, 3);
    }
}

/* Brings a new sandbox to where the plugin should be (init, start). On the
 * serving thread. */
static int instance_restore(struct rp__iso *iso)
{
    char err[512];
    uint32_t dlen;
    int rc = instance_start(iso, &dlen, err, sizeof err);
    if (rc != 0) {
        rp__log_error("plugin %s: cannot restart its sandbox: %s", iso->p->name, err);
        return rc;
    }
    char msg[RP__ISO_MSG_MAX];
    int want = atomic_load(&iso->want);
    if (want >= 1 && want < 3) {
        /* A reconfigure may replace the text meanwhile: copied under lock. */
        rp__os_mutex_lock(iso->lock);
        uint32_t n = (uint32_t)strlen(iso->config_text);
        unsigned char *buf = malloc(4 + (size_t)n);
        if (buf) {
            memcpy(buf, &n, 4);
            memcpy(buf + 4, iso->config_text, n);
        }
        rp__os_mutex_unlock(iso->lock);
        if (!buf)
            return RP_ERR_NOMEM;
        rc = call(iso, RP__ISO_INIT, buf, 4 + n, CALL_LIFECYCLE_MS, RP__CR_INIT, msg, sizeof msg);
        free(buf);
        if (rc == 0 && want == 2 && atomic_load(&iso->want) == 2) {
            atomic_store(&iso->up, 1); /* events flow once start returns */
            rc =
                call(iso, RP__ISO_START, NULL, 0, CALL_LIFECYCLE_MS, RP__CR_START, msg, sizeof msg);
        }
        if (rc != 0) {
            atomic_store(&iso->up, 0);
            rp__log_error("plugin %s: its restarted sandbox failed: %s%s%s", iso->p->name,
                          rp_strerror(rc), msg[0] ? ": " : "", msg);
            return rc;
        }
    }
    atomic_fetch_add(&iso->restarts, 1);
    rp__log_info("plugin %s: its sandbox was restarted (pid %lld)", iso->p->name,
                 (long long)iso->pid);
    return 0;
}

/* Hang checks, on the serving thread between records. */
static void check_deadlines(struct rp__iso *iso)
{
    if (!iso->sh || iso->pid <= 0)
        return;
    int64_t now = rp__os_monotonic_ns(), limit = iso->deadline_ms * 1000000;
    rp__os_mutex_lock(iso->lock);
    int in_call = iso->call_deadline_ns != 0;
    rp__os_mutex_unlock(iso->lock);
    if (in_call && atomic_load(&iso->sh->callback) != RP__CR_EVENT) {
        /* A call (a start loading rules, say) has its own deadline; events
         * wait behind it on the ring. A call queued behind an on_event
         * that does not return is not: that on_event is timed below. */
        iso->done_change_ns = now;
        iso->last_ping_ns = now;
        iso->ping_sent_ns = 0;
        return;
    }
    uint64_t done = atomic_load(&iso->sh->events_done);
    uint64_t sent = atomic_load(&iso->sent) - iso->sent_base;
    if (done != iso->done_seen) {
        iso->done_seen = done;
        iso->done_change_ns = now;
    } else if (sent > done && now - iso->done_change_ns > limit) {
        kill_sandbox(iso, RP__FAULT_HANG, "on_event did not return within the deadline");
        return;
    } else if (sent <= done) {
        iso->done_change_ns = now;
    }
    if (iso->ping_sent_ns && now - iso->ping_sent_ns > limit) {
        kill_sandbox(iso, RP__FAULT_HANG, "it did not answer a ping within the deadline");
        return;
    }
    /* Only while it runs and no call is under way, a ping proves its main
     * thread still turns (a hang outside on_event and the calls). */
    if (atomic_load(&iso->up) && !iso->ping_sent_ns &&
        now - iso->last_ping_ns > (int64_t)PING_EVERY_MS * 1000000 && sent <= done) {
        rp__os_mutex_lock(iso->lock);
        uint64_t seq = ++iso->seq;
        rp__os_mutex_unlock(iso->lock);
        iso->ping_seq = seq;
        iso->last_ping_ns = iso->ping_sent_ns = now;
        int wake = 0;
        rp__os_mutex_lock(iso->out_lock);
        if (rp__iso_put(&iso->w2s, RP__ISO_PING, seq, NULL, 0, NULL, 0, &wake) != 0)
            iso->ping_sent_ns = 0;
        rp__os_mutex_unlock(iso->out_lock);
        if (wake)
            rp__os_wake_send(iso->wake);
    }
}

static void serve_thread(void *arg)
{
    struct rp__iso *iso = arg;
    serving = iso;
    int64_t backoff = BACKOFF_MIN_MS;
    while (!atomic_load(&iso->quit)) {
        if (iso->pid > 0) {
            int s = serve_one(iso, 100);
            check_deadlines(iso);
            if (s != RP_ERR_STOPPED)
                continue;
            /* Served what it left, then reaped. */
            int64_t pid = iso->pid;
            int signo = 0, status = 0;
            rp__os_proc_kill(pid);
            while (serve_one(iso, 0) == 1)
                ;
            rp__os_proc_reap(pid, 1, &signo, &status);
            rp__os_mutex_lock(iso->lock);
            rp__os_cond_broadcast(iso->cond); /* a waiting call fails now */
            rp__os_mutex_unlock(iso->lock);
            instance_died(iso, pid, signo, status);
            continue;
        }
        int want = atomic_load(&iso->want);
        if (want == 0 || want == 3) {
            sleep_ms(50);
            continue;
        }
        /* Backoff before a restart, in steps so a stop is not delayed. */
        for (int64_t t = 0; t < backoff && !atomic_load(&iso->quit); t += 50)
            sleep_ms(50);
        if (atomic_load(&iso->quit) || atomic_load(&iso->want) == 3)
            continue;
        /* A sandbox that ran a minute earns the shortest wait again. */
        if (rp__os_monotonic_ns() - iso->started_ns > (int64_t)60 * 1000000000)
            backoff = BACKOFF_MIN_MS;
        if (instance_restore(iso) != 0 && iso->pid > 0)
            kill_sandbox(iso, RP__FAULT_SANDBOX, "its restart failed");
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    serving = NULL;
}

/* ---- the proxy descriptor ------------------------------------------------- */

static struct rp__iso *iso_of(rp_plugin *self)
{
    return self ? ((struct rp_plugin *)self)->iso : NULL;
}

static int lifecycle(struct rp__iso *iso, uint32_t type, const char *config, enum rp__cr_kind kind)
{
    /* stop and destroy have the deadline (the host's stop is bounded); the
     * others may load rules for a while. */
    int64_t timeout =
        type == RP__ISO_STOP || type == RP__ISO_DESTROY ? iso->deadline_ms : CALL_LIFECYCLE_MS;
    char msg[RP__ISO_MSG_MAX];
    unsigned char *buf = NULL;
    uint32_t n = 0;
    if (config) {
        n = (uint32_t)strlen(config);
        if (!(buf = malloc(4 + (size_t)n)))
            return RP_ERR_NOMEM;
        memcpy(buf, &n, 4);
        memcpy(buf + 4, config, n);
        n += 4;
    }
    int rc = call(iso, type, buf, n, timeout, kind, msg, sizeof msg);
    free(buf);
    if (rc != 0 && msg[0])
        rp__host_api()->set_error(iso->p, msg, strlen(msg));
    return rc;
}

static int keep_config(struct rp__iso *iso, const char *text)
{
    char *copy = strdup(text ? text : "{}");
    if (!copy)
        return RP_ERR_NOMEM;
    rp__os_mutex_lock(iso->lock);
    char *old = iso->config_text;
    iso->config_text = copy;
    rp__os_mutex_unlock(iso->lock);
    free(old);
    return 0;
}

static int proxy_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    (void)host;
    struct rp__iso *iso = iso_of(self);
    if (!iso)
        return RP_ERR_INTERNAL;
    *state = iso;
    int rc = keep_config(iso, self->config_json);
    if (rc == 0)
        rc = thread_up(iso);
    if (rc == 0 && atomic_load(&iso->cur_pid) <= 0)
        rc = RP_ERR_STOPPED; /* its sandbox died since the load */
    if (rc == 0)
        rc =
            lifecycle(iso, RP__ISO_INIT, self->config_json ? self->config_json : "{}", RP__CR_INIT);
    if (rc == 0)
        atomic_store(&iso->want, 1);
    return rc;
}

static int proxy_start(rp_plugin *self, void *state)
{
    struct rp__iso *iso = state;
    (void)self;
    /* Events put on the ring before start returns wait there: the sandbox
     * calls on_event only after its start returned. */
    atomic_store(&iso->up, 1);
    int rc = lifecycle(iso, RP__ISO_START, NULL, RP__CR_START);
    if (rc == 0)
        atomic_store(&iso->want, 2);
    else
        atomic_store(&iso->up, 0);
    return rc;
}

static int proxy_stop(rp_plugin *self, void *state)
{
    struct rp__iso *iso = state;
    (void)self;
    atomic_store(&iso->want, 3);
    atomic_store(&iso->up, 0);
    subs_forget(iso); /* the host ended them before this stop */
    if (atomic_load(&iso->cur_pid) <= 0)
        return 0; /* no sandbox now: nothing runs */
    return lifecycle(iso, RP__ISO_STOP, NULL, RP__CR_STOP);
}

static void proxy_destroy(rp_plugin *self, void *state)
{
    struct rp__iso *iso = state;
    (void)self;
    atomic_store(&iso->want, 3);
    atomic_store(&iso->up, 0);
    subs_forget(iso); /* a failed init or start: the host ended them */
    if (atomic_load(&iso->cur_pid) > 0)
        lifecycle(iso, RP__ISO_DESTROY, NULL, RP__CR_DESTROY);
}

static int proxy_reconfigure(rp_plugin *self, void *state)
{
    struct rp__iso *iso = state;
    int rc = keep_config(iso, self->config_json);
    return rc ? rc
              : lifecycle(iso, RP__ISO_RECONF, self->config_json ? self->config_json : "{}",
                          RP__CR_RECONFIGURE);
}

static int proxy_check_config(rp_plugin *self, const rp_host_api *host)
{
    struct rp__iso *iso = iso_of(self);
    const char *json = NULL;
    if (!iso || host->config_get(self, &json, NULL) != 0 || !json)
        return RP_ERR_INTERNAL;
    if (atomic_load(&iso->cur_pid) <= 0)
        return RP_ERR_STOPPED;
    return lifecycle(iso, RP__ISO_CHECK, json, RP__CR_CHECK_CONFIG);
}

static int proxy_on_command(rp_plugin *self, void *state, rp_command *cmd, const char *request,
                            uint64_t len)
{
    struct rp__iso *iso = state;
    (void)self;
    if (len > RP_MAX_COMMAND_REQUEST)
        return RP_ERR_INVAL;
    unsigned char *buf = malloc(12 + (size_t)len);
    if (!buf)
        return RP_ERR_NOMEM;
    rp__iso_wr w;
    rp__iso_wr_init(&w, buf, 12 + (size_t)len);
    /* Calls go one at a time, so the command the sandbox answers is the one
     * made last; its id tells a late reply of an earlier one. */
    rp__os_mutex_lock(iso->lock);
    uint64_t id = ++iso->cmd_seq;
    iso->cmd = cmd;
    iso->cmd_id = id;
    rp__os_mutex_unlock(iso->lock);
    rp__iso_wr_u64(&w, id);
    rp__iso_wr_str(&w, request, (size_t)len);
    char msg[RP__ISO_MSG_MAX];
    int rc = call(iso, RP__ISO_COMMAND, buf, (uint32_t)w.len, CALL_LIFECYCLE_MS, RP__CR_COMMAND,
                  msg, sizeof msg);
    rp__os_mutex_lock(iso->lock);
    iso->cmd = NULL;
    rp__os_mutex_unlock(iso->lock);
    free(buf);
    if (rc != 0 && msg[0])
        rp__host_api()->set_error(iso->p, msg, strlen(msg));
    return rc;
}

/* The hot path: the event goes on the ring, on_event returns. A ring that
 * is full (the sandbox is behind) or no sandbox (it is restarting) costs
 * this event, counted as lost. */
static int proxy_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    struct rp__iso *iso = state;
    (void)self;
    if (!atomic_load_explicit(&iso->up, memory_order_acquire)) {
        atomic_fetch_add_explicit(&iso->lost, 1, memory_order_relaxed);
        return 0;
    }
    int wake = 0, rc;
    rp__os_mutex_lock(iso->out_lock);
    if (iso->pid <= 0) {
        rp__os_mutex_unlock(iso->out_lock);
        atomic_fetch_add_explicit(&iso->lost, 1, memory_order_relaxed);
        return 0;
    }
    rc = iso->fields_sent < rp__field_count() ? send_fields(iso, iso->fields_sent + 1) : 0;
    rp__iso_wr w;
    rp__iso_wr_init(&w, iso->evbuf, RP__ISO_REC_MAX);
    if (rc == 0)
        rc = rp__iso_event_encode(&w, ev);
    if (rc == 0)
        rc = rp__iso_put(&iso->w2s, RP__ISO_EVENT, 0, iso->evbuf, (uint32_t)w.len, NULL, 0, &wake);
    if (rc == 0)
        atomic_fetch_add_explicit(&iso->sent, 1, memory_order_relaxed);
    rp__os_mutex_unlock(iso->out_lock);
    if (wake)
        rp__os_wake_send(iso->wake);
    if (rc != 0)
        atomic_fetch_add_explicit(&iso->lost, 1, memory_order_relaxed);
    if (rc == RP_ERR_PARSE)
        kill_sandbox(iso, RP__FAULT_SANDBOX, "it corrupted its ring");
    return 0;
}

/* ---- the descriptor from the sandbox ---------------------------------- */

static char *rd_dup(rp__iso_rd *r, uint32_t max, int *bad)
{
    uint32_t present = rp__iso_rd_u32(r), len;
    if (!r->ok || present > 1) {
        *bad = 1;
        return NULL;
    }
    if (!present)
        return NULL;
    const char *s = rp__iso_rd_str(r, max, &len);
    char *c = s && !memchr(s, '\0', len) ? malloc((size_t)len + 1) : NULL;
    if (!c) {
        *bad = 1;
        return NULL;
    }
    memcpy(c, s, len);
    c[len] = '\0';
    return c;
}

static char *rd_req(rp__iso_rd *r, uint32_t max, int *bad)
{
    uint32_t len;
    const char *s = rp__iso_rd_str(r, max, &len);
    char *c = s && !memchr(s, '\0', len) ? malloc((size_t)len + 1) : NULL;
    if (!c) {
        *bad = 1;
        return NULL;
    }
    memcpy(c, s, len);
    c[len] = '\0';
    return c;
}

static void desc_free(struct rp__iso *iso)
{
    for (int i = 0; i < NSTRS; i++) {
        free(iso->strs[i]);
        iso->strs[i] = NULL;
    }
    for (size_t i = 0; i < iso->nprovide_strs; i++)
        free(iso->provide_strs[i]);
    free(iso->provide_strs);
    free(iso->provide_lists);
    free(iso->provides);
    iso->provide_strs = NULL;
    iso->provide_lists = NULL;
    iso->provides = NULL;
    iso->nprovide_strs = 0;
}

/* Builds the loader's descriptor from the sandbox's record (untrusted):
 * the loader then checks it as it checks any plugin's. */
static int desc_parse(struct rp__iso *iso, uint32_t len, char *err, size_t errlen)
{
    rp__iso_rd r;
    rp__iso_rd_init(&r, iso->inbuf, len);
    int32_t entry_rc = (int32_t)rp__iso_rd_u32(&r);
    if (r.ok && entry_rc != 0) {
        snprintf(err, errlen, "entry point failed: %s", rp_strerror(entry_rc));
        return entry_rc < 0 ? entry_rc : RP_ERR_INVAL;
    }
    rp_plugin_descriptor *d = &iso->desc;
    memset(d, 0, sizeof *d);
    d->struct_size = rp__iso_rd_u32(&r);
    d->abi_major = (uint16_t)rp__iso_rd_u32(&r);
    d->abi_minor = (uint16_t)rp__iso_rd_u32(&r);
    d->kind = rp__iso_rd_u32(&r);
    d->flags = rp__iso_rd_u32(&r);
    d->event_schema_version = rp__iso_rd_u32(&r);
    d->reserved = rp__iso_rd_u32(&r);
    d->capabilities = rp__iso_rd_u64(&r);
    iso->real_cbs = rp__iso_rd_u32(&r);
    int bad = !r.ok;
    for (int i = 0; i < NSTRS && !bad; i++)
        iso->strs[i] = rd_dup(&r, RP__ISO_DESC_STR_MAX, &bad);
    uint32_t ntypes = bad ? 0 : rp__iso_rd_u32(&r);
    if (!r.ok || ntypes > RP__ISO_PROVIDES_TYPES + 1)
        bad = 1;
    if (!bad && ntypes > 0) {
        uint32_t nt = ntypes - 1;
        size_t cap = (size_t)nt * (RP__ISO_PROVIDES_FIELDS + 2) + 1;
        iso->provides = calloc((size_t)nt + 1, sizeof *iso->provides);
        iso->provide_strs = calloc(cap, sizeof *iso->provide_strs);
        iso->provide_lists = calloc(cap, sizeof *iso->provide_lists);
        if (!iso->provides || !iso->provide_strs || !iso->provide_lists)
            bad = 1;
        size_t at = 0;
        for (uint32_t t = 0; t < nt && !bad; t++) {
            char *type = rd_req(&r, RP_MAX_EVENT_TYPE + 1, &bad);
            if (bad)
                break;
            iso->provide_strs[iso->nprovide_strs++] = type;
            iso->provides[t].event_type = type;
            uint32_t nf = rp__iso_rd_u32(&r);
            if (!r.ok || nf > RP__ISO_PROVIDES_FIELDS + 2) {
                bad = 1;
                break;
            }
            if (nf == 0)
                continue; /* fields NULL */
            iso->provides[t].fields = &iso->provide_lists[at];
            for (uint32_t k = 0; k + 1 < nf && !bad; k++) {
                char *f = rd_req(&r, RP_MAX_FIELD_NAME + 1, &bad);
                if (f) {
                    iso->provide_strs[iso->nprovide_strs++] = f;
                    iso->provide_lists[at++] = f;
                }
            }
            iso->provide_lists[at++] = NULL;
        }
    }
    if (bad || r.left != 0) {
        desc_free(iso);
        snprintf(err, errlen, "the sandbox sent a malformed descriptor");
        return RP_ERR_PARSE;
    }
    d->id = iso->strs[0];
    d->version = iso->strs[1];
    d->vendor = iso->strs[2];
    d->license = iso->strs[3];
    d->description = iso->strs[4];
    d->config_schema = iso->strs[5];
    d->field_namespace = iso->strs[6];
    d->provides = iso->provides;
    uint32_t c = iso->real_cbs;
    /* The plugin's own callbacks decide which proxies there are, so that
     * the loader's checks (required callbacks, on_event for subscribe) see
     * what the plugin has. */
    d->init = c & RP__ISO_CB_INIT ? proxy_init : NULL;
    d->start = c & RP__ISO_CB_START ? proxy_start : NULL;
    d->stop = c & RP__ISO_CB_STOP ? proxy_stop : NULL;
    d->destroy = c & RP__ISO_CB_DESTROY ? proxy_destroy : NULL;
    d->reconfigure = c & RP__ISO_CB_RECONF ? proxy_reconfigure : NULL;
    d->on_event = c & RP__ISO_CB_EVENT ? proxy_on_event : NULL;
    d->check_config = c & RP__ISO_CB_CHECK ? proxy_check_config : NULL;
    d->on_command = c & RP__ISO_CB_COMMAND ? proxy_on_command : NULL;
    /* The sandbox serialises its on_event calls; the proxy's are short. */
    d->flags &= ~(uint32_t)RP_PLUGIN_CONCURRENT_EVENTS;
    /* The plugin's code gets no capability in the sandbox, whatever it
     * declares; what the worker keeps for it (agent.drop_capabilities) is
     * what starting and ending its sandbox takes: another user and group,
     * the bounding set emptied, a signal to that user's process. A
     * descriptor too small for ABI 1.0 keeps its size, for the loader to
     * refuse; the others are whole (zero past the plugin's own members). */
    if (d->struct_size >= RP_DESCRIPTOR_SIZE_1_0) {
        d->struct_size = sizeof *d;
        d->flags |= RP_PLUGIN_CAPS_DECLARED;
        d->capabilities = RP__ISO_WORKER_CAPS;
    }
    return 0;
}

/* ---- load and free ------------------------------------------------------- */

static int settings(struct rp__iso *iso, const json_t *entry, char *err, size_t errlen)
{
    const json_t *sb = json_object_get(entry, "sandbox");
    const char *user = json_string_value(json_object_get(sb, "user"));
    json_t *v;
    iso->memory_mb =
        (v = json_object_get(sb, "memory_mb")) ? (uint64_t)json_integer_value(v) : 1024;
    iso->nofile = (v = json_object_get(sb, "max_files")) ? (uint32_t)json_integer_value(v) : 256;
    iso->deadline_ms = (v = json_object_get(sb, "deadline_ms")) ? json_integer_value(v) : 5000;
    if (!user)
        user = "nobody";
    if (rp__os_user_ids(user, &iso->uid, &iso->gid) != 0) {
        snprintf(err, errlen, "plugins.%s.sandbox.user: no user \"%s\" on this system",
                 iso->p->name, user);
        return RP_ERR_CONFIG;
    }
    if (iso->uid == 0) {
        snprintf(err, errlen,
                 "plugins.%s.sandbox.user: \"%s\" is root; a sandbox runs as an "
                 "unprivileged user",
                 iso->p->name, user);
        return RP_ERR_CONFIG;
    }
    return 0;
}

int rp__iso_load(struct rp__host *host, struct rp_plugin *p, const json_t *entry, int require_sig,
                 size_t sig_max, rp__iso_check_fn check, void *check_arg,
                 const rp_plugin_descriptor **out, char *err, size_t errlen)
{
    struct rp__iso *iso = calloc(1, sizeof *iso);
    if (!iso)
        return RP_ERR_NOMEM;
    iso->p = p;
    iso->host = host;
    iso->plugin_fd = iso->exe_fd = iso->wake = iso->rwake = iso->shm_fd = -1;
    p->iso = iso;
    int rc = settings(iso, entry, err, errlen);
    if (rc != 0)
        return rc;
    if (rp__os_mutex_create(&iso->out_lock) != 0 || rp__os_mutex_create(&iso->call_lock) != 0 ||
        rp__os_mutex_create(&iso->lock) != 0 || rp__os_cond_create(&iso->cond) != 0 ||
        !(iso->evbuf = malloc(RP__ISO_REC_MAX)) || !(iso->inbuf = malloc(RP__ISO_REC_MAX)) ||
        !(iso->repbuf = malloc(RP__ISO_REC_MAX)))
        return RP_ERR_NOMEM;
    /* The sandbox program is trusted as a plugin is: its folders and the
     * file, opened once and run from that descriptor. */
    char exe[1024];
    rp__os_file_id exe_id;
    if (rp__os_sandbox_exe(RP_SANDBOX_PATH, exe, sizeof exe) != 0) {
        snprintf(err, errlen, "isolation \"process\" needs rampart-sandbox next to rampartd");
        return RP_ERR_NOTFOUND;
    }
    if ((rc = rp__os_file_open_checked(exe, 0, 0, NULL, NULL, &iso->exe_fd, &exe_id, err,
                                       errlen)) != 0)
        return rc;
    rc = rp__os_file_open_checked(p->path, require_sig, sig_max, check, check_arg, &iso->plugin_fd,
                                  &p->file_id, err, errlen);
    if (rc != 0)
        return rc;
    p->has_file_id = 1;
    uint32_t dlen = 0;
    if ((rc = instance_start(iso, &dlen, err, errlen)) != 0)
        return rc;
    if ((rc = desc_parse(iso, dlen, err, errlen)) != 0)
        return rc;
    *out = &iso->desc;
    return 0;
}

/* The serving thread starts at the plugin's first init, not at its load:
 * the agent drops its capabilities between the two, while it has one
 * thread (privileges.h), and a thread made after inherits the drop. */
static int thread_up(struct rp__iso *iso)
{
    if (atomic_load(&iso->thread_running))
        return 0;
    atomic_store(&iso->thread_running, 1);
    if (rp__os_thread_start(&iso->thread, "rp-iso", serve_thread, iso) != 0) {
        atomic_store(&iso->thread_running, 0);
        iso->thread = NULL;
        return RP_ERR_NOMEM;
    }
    return 0;
}

void rp__iso_free(struct rp__iso *iso)
{
    if (!iso)
        return;
    atomic_store(&iso->want, 3);
    atomic_store(&iso->quit, 1);
    /* The serving thread may be closing the instance meanwhile: the atomic
     * copy of the pid, not iso->pid, until it is joined. */
    int64_t running = atomic_load(&iso->cur_pid);
    if (running > 0)
        rp__os_proc_kill(running); /* quit: its death is not a fault */
    rp__os_thread_join(iso->thread);
    if (iso->pid > 0) {
        int signo, status;
        rp__os_proc_reap(iso->pid, 1, &signo, &status);
    }
    instance_close(iso);
    rp__os_fd_close(iso->plugin_fd);
    rp__os_fd_close(iso->exe_fd);
    desc_free(iso);
    subs_forget(iso);
    for (uint32_t i = 0; i < ALERTS_KEPT; i++)
        if (iso->made[i])
            rp__event_release(iso->made[i]);
    free(iso->config_text);
    free(iso->evbuf);
    free(iso->inbuf);
    free(iso->repbuf);
    rp__os_cond_destroy(iso->cond);
    rp__os_mutex_destroy(iso->lock);
    rp__os_mutex_destroy(iso->call_lock);
    rp__os_mutex_destroy(iso->out_lock);
    if (iso->p)
        iso->p->iso = NULL;
    free(iso);
}

void rp__iso_get_stats(const struct rp__iso *iso, rp__iso_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!iso)
        return;
    out->pid = atomic_load(&((struct rp__iso *)iso)->cur_pid);
    out->restarts = atomic_load(&((struct rp__iso *)iso)->restarts);
    out->lost = atomic_load(&((struct rp__iso *)iso)->lost);
    out->sent = atomic_load(&((struct rp__iso *)iso)->sent);
}
