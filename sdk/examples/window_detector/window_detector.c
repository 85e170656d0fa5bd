/*
 * window_detector - a windowed Rampart detector, the SDK's second example.
 *
 * It counts process.exec events per user.name over a sliding window and
 * raises an alert when a user runs more than a threshold of programs in it.
 * It shows what a real detector needs beyond hello_detector: state shared
 * between threads under a lock, a timer (the window moves one slot each
 * window_seconds / WD_SLOTS), a worker job (forgetting users that went
 * quiet, off the loop thread), its own config, a custom field, counters,
 * and reconfigure (a new threshold or window applies at once, keeping the
 * counts). Built with the SDK header alone:
 *
 *   cc -std=c11 -pthread -shared -fPIC -fvisibility=hidden -I sdk/include \
 *      -Wl,--version-script=sdk/rampart-plugin.map -Wl,--no-undefined \
 *      -o window_detector.so window_detector.c
 *
 * Config: {"window_seconds": 60, "threshold": 100, "severity": 47}
 *
 * Threads (sdk/docs/host-api.md): on_event runs on a bus dispatcher, the
 * timer on the loop thread, the job on a worker, init/start/reconfigure/
 * stop/destroy on the control thread. The host never runs on_event during
 * reconfigure, but the timer and the job may run then, so everything they
 * share is under wd->lock.
 */
#include <rampart/plugin.h>
#include <rampart/plugin_util.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WD_SLOTS     10u   /* the window is this many slots; the timer moves it one */
#define WD_USERS_MAX 1024u /* users tracked at once; past it new users are not counted */
#define WD_NAME_MAX  64u   /* user names longer than this are cut */

static const char config_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"properties\":{"
    "\"window_seconds\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":86400,\"default\":60},"
    "\"threshold\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000000000,\"default\":100},"
    "\"severity\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":100,\"default\":47}}}";

struct user {
    char name[WD_NAME_MAX + 1];
    uint64_t slots[WD_SLOTS]; /* execs per slot; slots[wd->cur] is the current one */
    uint64_t total;           /* sum of slots: the count over the window */
    int alerted;              /* an alert was raised since the count last fell to the threshold */
    int used;
};

struct config {
    uint64_t window_seconds, threshold, severity;
};

struct wd {
    rp_plugin *self;
    const rp_host_api *host;
    pthread_mutex_t lock; /* guards everything below */
    struct config cfg;
    struct user users[WD_USERS_MAX];
    uint32_t cur;    /* current slot */
    uint64_t timer;  /* 0 when none */
    int job_pending; /* a prune job is queued or running */
    int stopping;    /* stop was called: no new job */
    rp_field_id user_name, count_field, lost_field;
    uint32_t c_alerts, c_untracked, c_rotations, c_pruned;
    uint32_t g_tracked;    /* gauge: users in the window */
    uint64_t dropped_seen; /* dropped_get at the last rotation */
    uint32_t lossy_slots;  /* slots in the window that lost events: counts may be low */
};

/* Reads the config through the host's typed getters (ABI 1.1). The host
 * validated it against config_schema and filled in the defaults, so every key
 * is there; a getter's error is still reported rather than guessed around. */
static int read_config(struct wd *wd, struct config *out)
{
    static const char *const keys[3] = {"window_seconds", "threshold", "severity"};
    uint64_t *dst[3] = {&out->window_seconds, &out->threshold, &out->severity};
    for (int i = 0; i < 3; i++) {
        char path[32];
        int n = snprintf(path, sizeof path, "/%s", keys[i]);
        int64_t v = 0;
        int rc = wd->host->config_i64(wd->self, path, (uint64_t)n, &v);
        if (rc != 0 || v < 0) {
            char msg[96];
            n = snprintf(msg, sizeof msg, "config.%s: expected a non-negative integer", keys[i]);
            wd->host->set_error(wd->self, msg, (uint64_t)n);
            return RP_ERR_CONFIG;
        }
        *dst[i] = (uint64_t)v;
    }
    if (out->window_seconds == 0 || out->threshold == 0) {
        wd->host->set_error(wd->self, "config: window_seconds and threshold must be at least 1",
                            55);
        return RP_ERR_CONFIG;
    }
    return 0;
}

static uint64_t slot_ms(const struct config *c)
{
    uint64_t ms = c->window_seconds * 1000 / WD_SLOTS;
    return ms ? ms : 1;
}

/* An alert for user u (lock held); published after the lock is dropped. The
 * host builds it by the alert contract (sdk/docs/alerts.md) and stamps the
 * policy; the detector adds the subject and its own count. */
static rp_event *make_alert(struct wd *wd, const struct user *u)
{
    const rp_host_api *h = wd->host;
    char reason[192];
    snprintf(reason, sizeof reason, "user %s ran %llu programs in %llu s (threshold %llu)", u->name,
             (unsigned long long)u->total, (unsigned long long)wd->cfg.window_seconds,
             (unsigned long long)wd->cfg.threshold);
    static const char *const techniques[] = {"T1059", NULL};
    rp_alert a = {
        .struct_size = sizeof a,
        .severity = (uint32_t)wd->cfg.severity,
        .rule_id = "window-1",
        .rule_name = "Many programs run by one user in a short time",
        .ruleset = "window",
        .reason = reason,
        .technique_ids = techniques,
    };
    rp_event *ev;
    if (h->alert_create(wd->self, &a, NULL, 0, &ev) != 0)
        return NULL;
    if (h->set_str(ev, wd->user_name, u->name, strlen(u->name)) != 0 ||
        h->set_u64(ev, wd->count_field, u->total) != 0 ||
        /* The bus dropped events for us inside this window: the count may
         * be low, and whoever reads the alert should know. */
        (wd->lossy_slots && h->set_bool(ev, wd->lost_field, 1) != 0)) {
        h->event_release(ev);
        return NULL;
    }
    return ev;
}

static void publish(struct wd *wd, rp_event *ev)
{
    if (ev && wd->host->event_publish(wd->self, ev) == 0)
        wd->host->counter_add(wd->self, wd->c_alerts, 1);
}

/* Marks u alerted and makes its alert when it is over the threshold. */
static rp_event *check_user(struct wd *wd, struct user *u)
{
    if (u->total <= wd->cfg.threshold) {
        u->alerted = 0;
        return NULL;
    }
    if (u->alerted)
        return NULL;
    u->alerted = 1;
    return make_alert(wd, u);
}

static struct user *find_user(struct wd *wd, const char *name, size_t len)
{
    struct user *free_slot = NULL;
    if (len > WD_NAME_MAX)
        len = WD_NAME_MAX;
    for (uint32_t i = 0; i < WD_USERS_MAX; i++) {
        struct user *u = &wd->users[i];
        if (!u->used) {
            if (!free_slot)
                free_slot = u;
            continue;
        }
        if (strlen(u->name) == len && memcmp(u->name, name, len) == 0)
            return u;
    }
    if (free_slot) {
        memset(free_slot, 0, sizeof *free_slot);
        memcpy(free_slot->name, name, len);
        free_slot->used = 1;
    }
    return free_slot;
}

static int wd_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    struct wd *wd = state;
    const char *name;
    uint64_t len;
    (void)self;
    if (wd->host->get_str(ev, wd->user_name, &name, &len) != 0)
        return 0; /* no user: nothing to count */
    pthread_mutex_lock(&wd->lock);
    struct user *u = find_user(wd, name, (size_t)len);
    rp_event *alert = NULL;
    if (u) {
        u->slots[wd->cur]++;
        u->total++;
        alert = check_user(wd, u);
    }
    pthread_mutex_unlock(&wd->lock);
    if (!u)
        wd->host->counter_add(wd->self, wd->c_untracked, 1);
    publish(wd, alert);
    return 0;
}

/* Worker job: forgets users with nothing left in the window, so the table
 * has room for new ones. */
static void prune_work(void *arg)
{
    struct wd *wd = arg;
    uint64_t pruned = 0;
    pthread_mutex_lock(&wd->lock);
    for (uint32_t i = 0; i < WD_USERS_MAX; i++)
        if (wd->users[i].used && wd->users[i].total == 0) {
            wd->users[i].used = 0;
            pruned++;
        }
    pthread_mutex_unlock(&wd->lock);
    if (pruned)
        wd->host->counter_add(wd->self, wd->c_pruned, pruned);
}

static void prune_done(void *arg, int status)
{
    struct wd *wd = arg;
    (void)status; /* RP_ERR_STOPPED when cancelled: nothing to undo */
    pthread_mutex_lock(&wd->lock);
    wd->job_pending = 0;
    pthread_mutex_unlock(&wd->lock);
}

/* Timer: the window moves one slot; the oldest slot's counts leave it. */
static void rotate(void *arg)
{
    struct wd *wd = arg;
    int submit = 0;
    /* Events the bus dropped for us since the last rotation mark the slot
     * (and so the window, for WD_SLOTS rotations) as having lost events. */
    uint64_t dropped = 0;
    wd->host->dropped_get(wd->self, &dropped);
    int64_t tracked = 0;
    pthread_mutex_lock(&wd->lock);
    wd->lossy_slots = (wd->lossy_slots << 1) & ((1u << WD_SLOTS) - 1);
    if (dropped != wd->dropped_seen)
        wd->lossy_slots |= 1;
    wd->dropped_seen = dropped;
    wd->cur = (wd->cur + 1) % WD_SLOTS;
    for (uint32_t i = 0; i < WD_USERS_MAX; i++) {
        struct user *u = &wd->users[i];
        if (!u->used)
            continue;
        tracked++;
        u->total -= u->slots[wd->cur];
        u->slots[wd->cur] = 0;
        if (u->total <= wd->cfg.threshold)
            u->alerted = 0;
    }
    if (!wd->job_pending && !wd->stopping) {
        wd->job_pending = 1;
        submit = 1;
    }
    pthread_mutex_unlock(&wd->lock);
    wd->host->counter_add(wd->self, wd->c_rotations, 1);
    wd->host->gauge_set(wd->self, wd->g_tracked, tracked);
    if (submit && wd->host->work_submit(wd->self, prune_work, prune_done, wd) != 0)
        prune_done(wd, RP_ERR_FULL); /* not taken: try again at the next rotation */
}

static int timer_arm(struct wd *wd)
{
    uint64_t ms = slot_ms(&wd->cfg), id = 0;
    int rc = wd->host->timer_start(wd->self, ms, ms, rotate, wd, &id);
    if (rc == 0)
        wd->timer = id;
    return rc;
}

static int wd_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    struct wd *wd = calloc(1, sizeof *wd);
    int rc;
    if (!wd)
        return RP_ERR_NOMEM;
    wd->self = self;
    wd->host = host;
    /* abi_minor = 1 keeps a 1.0 agent from loading it; this says why if one
     * does anyway. */
    if (!RP_HOST_HAS(host, alert_create) || !RP_HOST_HAS(host, gauge_set)) {
        host->set_error(self, "needs a Rampart agent of plugin ABI 1.1", 39);
        free(wd);
        return RP_ERR_VERSION;
    }
    if ((rc = read_config(wd, &wd->cfg)) != 0) {
        free(wd);
        return rc;
    }
    if ((rc = host->field_id(self, "user.name", 9, RP_TYPE_STR, &wd->user_name)) ||
        /* The custom fields, under the plugin's namespace. */
        (rc = host->field_id(self, "window_detector.exec_count", 26, RP_TYPE_U64,
                             &wd->count_field)) ||
        (rc = host->field_id(self, "window_detector.events_lost", 27, RP_TYPE_BOOL,
                             &wd->lost_field)) ||
        (rc = host->gauge_register(self, "users_tracked", 13, &wd->g_tracked)) ||
        (rc = host->counter_register(self, "alerts", 6, &wd->c_alerts)) ||
        (rc = host->counter_register(self, "untracked", 9, &wd->c_untracked)) ||
        (rc = host->counter_register(self, "rotations", 9, &wd->c_rotations)) ||
        (rc = host->counter_register(self, "pruned", 6, &wd->c_pruned)) ||
        (rc = host->subscribe(self, "process.exec", 12, 0))) {
        free(wd);
        return rc;
    }
    if (pthread_mutex_init(&wd->lock, NULL) != 0) {
        free(wd);
        return RP_ERR_NOMEM;
    }
    *state = wd;
    return 0;
}

static int wd_start(rp_plugin *self, void *state)
{
    (void)self;
    return timer_arm(state);
}

/* A new config: checked whole first, so a refusal changes nothing (the host
 * then keeps the previous config); the counts stay. A user already over a
 * lowered threshold is alerted at once. */
static int wd_reconfigure(rp_plugin *self, void *state)
{
    struct wd *wd = state;
    struct config next;
    int rc = read_config(wd, &next);
    if (rc != 0)
        return rc;
    if (next.window_seconds != wd->cfg.window_seconds) {
        /* The timer runs on the loop thread; the new interval replaces it. */
        uint64_t old = wd->timer;
        struct config prev = wd->cfg;
        pthread_mutex_lock(&wd->lock);
        wd->cfg = next;
        pthread_mutex_unlock(&wd->lock);
        if ((rc = timer_arm(wd)) != 0) {
            pthread_mutex_lock(&wd->lock);
            wd->cfg = prev;
            pthread_mutex_unlock(&wd->lock);
            wd->host->set_error(self, "cannot start the window timer", 29);
            return rc;
        }
        wd->host->timer_stop(self, old);
    }
    rp_event *alerts[WD_USERS_MAX];
    uint32_t n = 0;
    pthread_mutex_lock(&wd->lock);
    wd->cfg = next;
    for (uint32_t i = 0; i < WD_USERS_MAX; i++) {
        if (!wd->users[i].used)
            continue;
        rp_event *ev = check_user(wd, &wd->users[i]);
        if (ev)
            alerts[n++] = ev;
    }
    pthread_mutex_unlock(&wd->lock);
    for (uint32_t i = 0; i < n; i++)
        publish(wd, alerts[i]);
    rp_util_logf(wd->host, self, RP_LOG_INFO, "window %llu s, threshold %llu",
                 (unsigned long long)next.window_seconds, (unsigned long long)next.threshold);
    return 0;
}

static int wd_stop(rp_plugin *self, void *state)
{
    struct wd *wd = state;
    if (wd->timer)
        wd->host->timer_stop(self, wd->timer);
    wd->timer = 0;
    /* A queued job is cancelled by the host before destroy. */
    pthread_mutex_lock(&wd->lock);
    wd->stopping = 1;
    pthread_mutex_unlock(&wd->lock);
    return 0;
}

static void wd_destroy(rp_plugin *self, void *state)
{
    struct wd *wd = state;
    (void)self;
    pthread_mutex_destroy(&wd->lock);
    free(wd);
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1, /* config getters, alert_create, dropped_get, gauges */
    .kind = RP_KIND_DETECTOR,
    .flags = RP_PLUGIN_CAPS_DECLARED, /* .capabilities below: none */
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.example.window",
    .version = "1.0.0",
    .vendor = "Rampart examples",
    .license = "Apache-2.0",
    .description = "Alerts when one user runs more than a threshold of programs in a window",
    .config_schema = config_schema,
    .init = wd_init,
    .start = wd_start,
    .stop = wd_stop,
    .destroy = wd_destroy,
    .reconfigure = wd_reconfigure,
    .on_event = wd_on_event,
    .field_namespace = "window_detector",
    .capabilities = 0, /* reads events only: the agent may drop every privilege for it */
};

RP_PLUGIN_ENTRY(descriptor)
