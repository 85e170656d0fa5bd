/*
 * tests/abi/plugins/life11.c - a plugin that tries every lifetime rule of
 * sdk/docs/host-api.md ("Threads and lifetimes") and counts each breach in
 * a counter, for tests/abi/test_life11.c to read after the host stopped it:
 *
 * - on_event, subscribed in init to a flood the test publishes, counts calls
 *   that come before start returned or after stop began ("life11_outside");
 * - start submits many slow jobs, so that some are still queued at stop,
 *   and a chain of jobs whose done submits the next; every done checks it
 *   runs once, with status 0 after its work ran or RP_ERR_STOPPED when it
 *   never ran, and before destroy;
 * - start leaves a periodic timer and an always-ready fd watch running; the
 *   watch starts a one-shot timer each time it fires, so a watch or timer
 *   added while the host cleans up would escape it. Nothing may fire after
 *   destroy, and from stop on new timers and jobs are refused;
 * - the lifecycle runs on one control thread, which is not the loop thread;
 *   config_get and get_str take a NULL length.
 *
 * The state is static (one instance per process), so that a late callback
 * can still be counted instead of touching freed memory.
 */
#define _POSIX_C_SOURCE 200809L
#include <rampart/plugin.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LIFE11_JOBS        600
#define LIFE11_CHAIN_LINKS 20000

enum {
    LIFE11_OUTSIDE,         /* on_event before start returned or after stop began */
    LIFE11_SEEN,            /* on_event calls */
    LIFE11_SUBMITTED,       /* jobs taken by work_submit (not the chain) */
    LIFE11_DONE_OK,         /* done with status 0 after work ran */
    LIFE11_DONE_STOPPED,    /* done with RP_ERR_STOPPED, work never ran */
    LIFE11_DONE_BAD,        /* a second done, or a status that does not match */
    LIFE11_DONE_LATE,       /* done after destroy */
    LIFE11_PENDING,         /* jobs (chain included) without done at destroy */
    LIFE11_CHAIN_AFTER,     /* chain jobs accepted after stop returned */
    LIFE11_REFUSED,         /* timer_start or work_submit refused with RP_ERR_STOPPED */
    LIFE11_LATE,            /* a timer or watch callback after destroy */
    LIFE11_LOOP_CALLS,      /* timer and watch callbacks */
    LIFE11_LOOP_IS_CONTROL, /* a loop callback on the control thread */
    LIFE11_WRONG_THREAD,    /* a lifecycle call off the control thread */
    LIFE11_CONFIG_OK,       /* config_get with a NULL len gave "{}" */
    LIFE11_GET_STR_BAD,     /* get_str with a NULL len failed or gave another value */
    LIFE11_NCOUNTERS
};

static const char *const counter_names[LIFE11_NCOUNTERS] = {
    "life11_outside",      "life11_seen",         "life11_submitted", "life11_done_ok",
    "life11_done_stopped", "life11_done_bad",     "life11_done_late", "life11_pending",
    "life11_chain_after",  "life11_refused",      "life11_late",      "life11_loop_calls",
    "life11_loop_is_ctl",  "life11_wrong_thread", "life11_config_ok", "life11_get_str_bad",
};

struct life11_job {
    atomic_int work_ran;
    atomic_int dones;
};

static rp_plugin *self_;
static const rp_host_api *host_;
static uint32_t counters[LIFE11_NCOUNTERS];
static pthread_t control;
static rp_field_id kind_field;
static int pipe_fds[2] = {-1, -1};
static struct life11_job jobs[LIFE11_JOBS];
static atomic_uint_fast64_t submitted, done_count, chain_submitted, chain_done;
static atomic_int running, stop_returned, destroyed;

static void count(int which)
{
    host_->counter_add(self_, counters[which], 1);
}

static void check_control(void)
{
    if (!pthread_equal(pthread_self(), control))
        count(LIFE11_WRONG_THREAD);
}

static void check_loop_callback(void)
{
    count(LIFE11_LOOP_CALLS);
    if (pthread_equal(pthread_self(), control))
        count(LIFE11_LOOP_IS_CONTROL);
    if (atomic_load(&destroyed))
        count(LIFE11_LATE);
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void job_work(void *arg)
{
    struct life11_job *j = arg;
    atomic_store(&j->work_ran, 1);
    sleep_us(1000);
}

static void job_done(void *arg, int status)
{
    struct life11_job *j = arg;
    if (atomic_load(&destroyed))
        count(LIFE11_DONE_LATE);
    if (atomic_fetch_add(&j->dones, 1) != 0)
        count(LIFE11_DONE_BAD);
    else if (status == 0 && atomic_load(&j->work_ran))
        count(LIFE11_DONE_OK);
    else if (status == RP_ERR_STOPPED && !atomic_load(&j->work_ran))
        count(LIFE11_DONE_STOPPED);
    else
        count(LIFE11_DONE_BAD);
    atomic_fetch_add(&done_count, 1);
}

static void chain_work(void *arg)
{
    (void)arg;
}

/* Each link submits the next: a plugin that keeps work going until the
 * host refuses it. */
static void chain_done_cb(void *arg, int status)
{
    (void)arg;
    (void)status;
    if (atomic_load(&destroyed))
        count(LIFE11_DONE_LATE);
    atomic_fetch_add(&chain_done, 1);
    if (atomic_load(&chain_submitted) >= LIFE11_CHAIN_LINKS)
        return;
    int rc = host_->work_submit(self_, chain_work, chain_done_cb, NULL);
    if (rc == 0) {
        atomic_fetch_add(&chain_submitted, 1);
        if (atomic_load(&stop_returned))
            count(LIFE11_CHAIN_AFTER);
    } else if (rc == RP_ERR_STOPPED) {
        count(LIFE11_REFUSED);
    }
}

static void on_tick(void *arg)
{
    (void)arg;
    check_loop_callback();
}

static void on_oneshot(void *arg)
{
    (void)arg;
    check_loop_callback();
}

/* Always ready: each call adds a one-shot timer, up to the handle cap. */
static void on_writable(void *arg, int64_t fd, uint32_t revents)
{
    (void)arg;
    (void)fd;
    (void)revents;
    check_loop_callback();
    uint64_t id;
    if (host_->timer_start(self_, 5, 0, on_oneshot, NULL, &id) == RP_ERR_STOPPED)
        count(LIFE11_REFUSED);
    /* Without this the callback would keep the loop thread busy. */
    sleep_us(100);
}

static int l_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    (void)self;
    (void)state;
    count(LIFE11_SEEN);
    if (!atomic_load(&running) || atomic_load(&destroyed))
        count(LIFE11_OUTSIDE);
    const char *kind = NULL;
    if (host_->get_str(ev, kind_field, &kind, NULL) != 0 || strcmp(kind, "event") != 0)
        count(LIFE11_GET_STR_BAD);
    return 0;
}

static int l_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    self_ = self;
    host_ = host;
    control = pthread_self();
    *state = NULL;
    int rc;
    for (int i = 0; i < LIFE11_NCOUNTERS; i++)
        if ((rc = host->counter_register(self, counter_names[i], strlen(counter_names[i]),
                                         &counters[i])) != 0)
            return rc;
    const char *json = NULL;
    if (host->config_get(self, &json, NULL) == 0 && json && strcmp(json, "{}") == 0)
        count(LIFE11_CONFIG_OK);
    if ((rc = host->field_id(self, "event.kind", 10, RP_TYPE_STR, &kind_field)) != 0 ||
        (rc = host->subscribe(self, "life11.tick", 11, 0)) != 0)
        return rc;
    if (pipe(pipe_fds) != 0)
        return RP_ERR_IO;
    return 0;
}

static int l_start(rp_plugin *self, void *state)
{
    (void)state;
    check_control();
    for (int i = 0; i < LIFE11_JOBS; i++) {
        if (host_->work_submit(self, job_work, job_done, &jobs[i]) != 0)
            break;
        atomic_fetch_add(&submitted, 1);
        count(LIFE11_SUBMITTED);
    }
    if (host_->work_submit(self, chain_work, chain_done_cb, NULL) == 0)
        atomic_fetch_add(&chain_submitted, 1);
    uint64_t id;
    int rc;
    if ((rc = host_->timer_start(self, 1, 1, on_tick, NULL, &id)) != 0 ||
        (rc = host_->fd_watch(self, pipe_fds[1], RP_FD_WRITE, on_writable, NULL, &id)) != 0)
        return rc;
    /* Events are flowing and subscribed since init: none may reach
     * on_event before this returns. */
    sleep_us(50 * 1000);
    atomic_store(&running, 1);
    return 0;
}

static int l_stop(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    atomic_store(&running, 0);
    check_control();
    /* Events still flow: none may reach on_event while this runs. The
     * timers, the watch and the jobs are left for the host to end. */
    sleep_us(20 * 1000);
    atomic_store(&stop_returned, 1);
    return 0;
}

static void l_destroy(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    check_control();
    uint64_t owed = atomic_load(&submitted) - atomic_load(&done_count) +
                    atomic_load(&chain_submitted) - atomic_load(&chain_done);
    host_->counter_add(self_, counters[LIFE11_PENDING], owed);
    atomic_store(&destroyed, 1);
    /* The fds stay open: a watch that escaped the clean-up must find them. */
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 0,
    .kind = RP_KIND_DETECTOR,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.test.life11",
    .version = "1.0.0",
    .vendor = "Rampart tests",
    .license = "Apache-2.0",
    .description = "Counts every breach of the host's lifetime rules",
    .init = l_init,
    .start = l_start,
    .stop = l_stop,
    .destroy = l_destroy,
    .on_event = l_on_event,
};

RP_PLUGIN_ENTRY(descriptor)
