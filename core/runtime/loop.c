/*
 * core/runtime/loop.c - the event loop: fd watches, a timer heap with coalescing,
 * a bounded post queue and intrusive tasks, over the OS poller
 * (core/os/os_poll.h). Design note: docs/loop.md.
 *
 * Locking: one mutex guards every table and queue. Callbacks always run with
 * it released; before running one the loop records what runs (running_id or
 * running_task) so that unwatch/cancel on another thread can wait for it to
 * return, which is what lets callers free args right after those calls.
 * Nothing ever keeps a pointer into a table across an unlock: tables grow by
 * realloc, so entries are found again by id.
 */
#include "runtime/loop.h"
#include "lib/log.h"
#include "os/os.h"
#include "os/os_poll.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(RP__LOOP_READ == RP__OS_POLL_IN && RP__LOOP_WRITE == RP__OS_POLL_OUT &&
                   RP__LOOP_ERROR == RP__OS_POLL_ERR && RP__LOOP_HUP == RP__OS_POLL_HUP,
               "loop and poller event bits must match");

#define NS_PER_MS INT64_C(1000000)
/* Coalescing: slack = period / SLACK_DIVISOR, capped, none below 8 ms. */
#define SLACK_DIVISOR 8
#define MAX_SLACK_NS  (1000 * NS_PER_MS)
/* Ready fds handled per wake-up; more stay ready (level-triggered) and are
 * picked up by the next wait, which then does not block. */
#define WAIT_EVENTS 64
/* Tables start this small and double up to their cap: an agent with a
 * handful of plugins never pays for 4096 slots. */
#define FIRST_SLOTS 16u

/*
 * Ids: bits 0-23 slot index + 1 (so never 0), bits 24-31 kind (a timer id
 * given to unwatch is simply not found), bits 32-63 the slot's generation,
 * bumped on every free so a stale id never matches a reused slot.
 */
#define SLOT_BITS  24
#define SLOT_MASK  ((UINT64_C(1) << SLOT_BITS) - 1)
#define KIND_WATCH 1u
#define KIND_TIMER 2u
#define NO_SLOT    UINT32_MAX
#define NO_HEAP    UINT32_MAX

_Static_assert(RP__LOOP_MAX_CAP < (1u << SLOT_BITS), "caps must fit the id's slot bits");

struct watch {
    uint32_t gen;
    uint32_t next_free; /* free-list link while free */
    int fd;             /* -1 while free */
    int fd_closed;      /* fd was closed (and its number reused) before unwatch */
    int paused;         /* taken out of the poller by rp__loop_watch_pause */
    uint32_t events;
    rp__loop_fd_cb cb;
    void *arg;
    void *owner;
};

struct timer {
    uint32_t gen;
    uint32_t next_free;
    uint32_t heap_pos; /* NO_HEAP while free or while its callback runs */
    int in_use;
    int64_t deadline; /* monotonic ns */
    int64_t interval; /* ns; 0 = one-shot */
    int64_t slack;    /* ns it may fire early */
    uint64_t seq;     /* add order: ties on deadline fire in this order */
    rp__loop_cb cb;
    void *arg;
    void *owner;
};

struct post {
    rp__loop_cb cb;
    void *arg;
    void *owner;
};

/* A timer found due in this wake-up, fired in (deadline, seq) order. */
struct due {
    int64_t deadline;
    uint64_t seq;
    uint64_t id;
};

struct rp__loop {
    rp__os_mutex *lock;
    rp__os_cond *idle_cv; /* broadcast when a callback someone waits for returns */
    rp__os_poller *poller;
    rp__os_thread *thread;

    uint32_t max_watches, max_timers, post_cap, slice_us;

    /* Real-time priority with a CPU cap (loop thread only, but for the two
     * atomics that rp__loop_get_stats reads). */
    uint32_t rt_cap_pct;
    uint32_t rt_backoff_ms;
    int rt_possible; /* 0 once the platform refused it */
    int64_t rt_window_ns, rt_window_cpu_ns, rt_until_ns;
    atomic_uint rt_on;
    atomic_uint_least64_t rt_demotions;

    /* Everything below up to the atomics is guarded by lock. */
    struct watch *watches;
    uint32_t watch_slots, watch_free, nwatches;

    struct timer *timers;
    uint32_t timer_slots, timer_free, ntimers;
    uint32_t *heap; /* slot indexes, min-heap on (deadline, seq); timer_slots long */
    uint32_t heap_len;
    struct due *due; /* scratch for dispatch_timers; timer_slots long */
    uint64_t timer_seq;

    struct post *posts; /* ring of post_cap */
    uint32_t post_head, post_count;

    rp__loop_task *task_head, *task_tail;
    uint32_t ntasks;

    uint64_t running_id;         /* watch or timer whose callback runs now, 0 if none */
    rp__loop_task *running_task; /* task whose fn runs now */
    uint32_t waiters;            /* threads blocked in wait_not_running */

    rp__loop_hooks hooks; /* written only while no thread runs callbacks */

    atomic_int running;        /* loop thread started and not yet joined */
    atomic_int stop_requested; /* tells the loop thread to return */
    atomic_int wake_pending;   /* a poller wake is in flight: skip redundant ones */

    atomic_uint_least64_t wakeups, callbacks, timers_fired, posts_rejected;
};

/* The loop whose callbacks the current thread runs: set on the loop thread,
 * inside rp__loop_run_once, and while rp__loop_stop hands tasks their
 * RP_ERR_STOPPED. It is what makes unwatch/cancel from a callback not wait
 * for itself. */
static _Thread_local rp__loop *tls_loop;

static uint64_t make_id(uint32_t gen, uint32_t kind, uint32_t idx)
{
    return ((uint64_t)gen << 32) | ((uint64_t)kind << SLOT_BITS) | ((uint64_t)idx + 1);
}

/* Slot index of id if it has the given kind, else NO_SLOT. */
static uint32_t id_slot(uint64_t id, uint32_t kind)
{
    if (((id >> SLOT_BITS) & 0xffu) != kind || (id & SLOT_MASK) == 0)
        return NO_SLOT;
    return (uint32_t)(id & SLOT_MASK) - 1;
}

static void count(atomic_uint_least64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* Makes the thread sleeping in the poller recompute its timeout and look at
 * the queues. One eventfd write per sleep is enough, so wakes collapse until
 * the loop clears wake_pending after its wait returned. */
static void wake(rp__loop *l)
{
    if (tls_loop == l)
        return; /* the loop re-reads everything before it sleeps again */
    if (!atomic_exchange(&l->wake_pending, 1))
        rp__os_poller_wake(l->poller);
}

/* Called with the lock held after removing id: returns once id's callback is
 * not running. The loop thread never waits: whatever runs there is its
 * caller. */
static void wait_not_running(rp__loop *l, uint64_t id, const rp__loop_task *task)
{
    if (tls_loop == l)
        return;
    while ((id && l->running_id == id) || (task && l->running_task == task)) {
        l->waiters++;
        rp__os_cond_wait(l->idle_cv, l->lock);
        l->waiters--;
    }
}

/* ---- callbacks and hooks ---- */

int64_t rp__loop_hooks_enter(const rp__loop_hooks *hooks, void *owner, int kind)
{
    if (hooks->enter)
        hooks->enter(hooks->ctx, owner, kind);
    return hooks->leave ? rp__os_thread_cpu_ns() : 0;
}

void rp__loop_hooks_leave(const rp__loop_hooks *hooks, void *owner, int64_t cpu0)
{
    if (hooks->leave)
        hooks->leave(hooks->ctx, owner, rp__os_thread_cpu_ns() - cpu0);
}

static int64_t hook_enter(rp__loop *l, void *owner, int kind)
{
    return rp__loop_hooks_enter(&l->hooks, owner, kind);
}

static void hook_leave(rp__loop *l, void *owner, int64_t cpu0)
{
    rp__loop_hooks_leave(&l->hooks, owner, cpu0);
    count(&l->callbacks);
}

/* Lock held on entry and exit: clears the running marks after a callback. */
static void callback_done(rp__loop *l)
{
    l->running_id = 0;
    l->running_task = NULL;
    if (l->waiters)
        rp__os_cond_broadcast(l->idle_cv);
}

static int stopping(rp__loop *l)
{
    return atomic_load_explicit(&l->stop_requested, memory_order_relaxed);
}

/* ---- slot tables ---- */

/* Grows a table of elem-sized slots from *slots to at most cap. Returns 0 or
 * RP_ERR_NOMEM / RP_ERR_FULL. The new slots are zeroed; the caller links them. */
static int grow(void **table, size_t elem, uint32_t *slots, uint32_t cap)
{
    if (*slots >= cap)
        return RP_ERR_FULL;
    uint32_t n = *slots ? *slots * 2 : FIRST_SLOTS;
    if (n > cap)
        n = cap;
    void *t = realloc(*table, (size_t)n * elem);
    if (!t)
        return RP_ERR_NOMEM;
    memset((char *)t + (size_t)*slots * elem, 0, (size_t)(n - *slots) * elem);
    *table = t;
    *slots = n;
    return 0;
}

/* A free watch slot, under the max_watches cap (RP_ERR_FULL). */
static int watch_alloc(rp__loop *l, uint32_t *idx)
{
    if (l->nwatches >= l->max_watches)
        return RP_ERR_FULL;
    if (l->watch_free == NO_SLOT) {
        uint32_t old = l->watch_slots;
        int rc = grow((void **)&l->watches, sizeof *l->watches, &l->watch_slots, l->max_watches);
        if (rc)
            return rc;
        for (uint32_t i = old; i < l->watch_slots; i++) {
            l->watches[i].gen = 1;
            l->watches[i].fd = -1;
            l->watches[i].next_free = i + 1 < l->watch_slots ? i + 1 : NO_SLOT;
        }
        l->watch_free = old;
    }
    *idx = l->watch_free;
    l->watch_free = l->watches[*idx].next_free;
    return 0;
}

static void watch_release(rp__loop *l, uint32_t idx)
{
    struct watch *w = &l->watches[idx];
    w->fd = -1;
    w->cb = NULL;
    w->arg = w->owner = NULL;
    w->gen++;
    w->next_free = l->watch_free;
    l->watch_free = idx;
}

static struct watch *watch_find(rp__loop *l, uint64_t id)
{
    uint32_t idx = id_slot(id, KIND_WATCH);
    if (idx >= l->watch_slots)
        return NULL;
    struct watch *w = &l->watches[idx];
    return (w->fd >= 0 && w->gen == (uint32_t)(id >> 32)) ? w : NULL;
}

/* A free timer slot, under the max_timers cap (RP_ERR_FULL). */
static int timer_alloc(rp__loop *l, uint32_t *idx)
{
    if (l->ntimers >= l->max_timers)
        return RP_ERR_FULL;
    if (l->timer_free == NO_SLOT) {
        uint32_t old = l->timer_slots, n = old;
        int rc = grow((void **)&l->timers, sizeof *l->timers, &n, l->max_timers);
        if (rc)
            return rc;
        /* heap and due always have one entry per timer slot. */
        uint32_t *h = realloc(l->heap, (size_t)n * sizeof *h);
        if (h)
            l->heap = h;
        struct due *d = h ? realloc(l->due, (size_t)n * sizeof *d) : NULL;
        if (d)
            l->due = d;
        if (!h || !d)
            return RP_ERR_NOMEM; /* timers grown but unused: harmless, retried next time */
        l->timer_slots = n;
        for (uint32_t i = old; i < n; i++) {
            l->timers[i].gen = 1;
            l->timers[i].heap_pos = NO_HEAP;
            l->timers[i].next_free = i + 1 < n ? i + 1 : NO_SLOT;
        }
        l->timer_free = old;
    }
    *idx = l->timer_free;
    l->timer_free = l->timers[*idx].next_free;
    return 0;
}

static void timer_release(rp__loop *l, uint32_t idx)
{
    struct timer *t = &l->timers[idx];
    t->in_use = 0;
    t->cb = NULL;
    t->arg = t->owner = NULL;
    t->gen++;
    t->next_free = l->timer_free;
    l->timer_free = idx;
    l->ntimers--;
}

static struct timer *timer_find(rp__loop *l, uint64_t id)
{
    uint32_t idx = id_slot(id, KIND_TIMER);
    if (idx >= l->timer_slots)
        return NULL;
    struct timer *t = &l->timers[idx];
    return (t->in_use && t->gen == (uint32_t)(id >> 32)) ? t : NULL;
}

/* ---- timer heap ---- */

static int timer_before(const struct timer *a, const struct timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(rp__loop *l, uint32_t pos, uint32_t idx)
{
    l->heap[pos] = idx;
    l->timers[idx].heap_pos = pos;
}

static void heap_up(rp__loop *l, uint32_t pos)
{
    uint32_t idx = l->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!timer_before(&l->timers[idx], &l->timers[l->heap[parent]]))
            break;
        heap_set(l, pos, l->heap[parent]);
        pos = parent;
    }
    heap_set(l, pos, idx);
}

static void heap_down(rp__loop *l, uint32_t pos)
{
    uint32_t idx = l->heap[pos];
    for (;;) {
        uint32_t c = 2 * pos + 1;
        if (c >= l->heap_len)
            break;
        if (c + 1 < l->heap_len && timer_before(&l->timers[l->heap[c + 1]], &l->timers[l->heap[c]]))
            c++;
        if (!timer_before(&l->timers[l->heap[c]], &l->timers[idx]))
            break;
        heap_set(l, pos, l->heap[c]);
        pos = c;
    }
    heap_set(l, pos, idx);
}

static void heap_push(rp__loop *l, uint32_t idx)
{
    l->heap[l->heap_len] = idx;
    l->heap_len++;
    heap_up(l, l->heap_len - 1);
}

static void heap_remove(rp__loop *l, uint32_t pos)
{
    uint32_t idx = l->heap[pos];
    l->timers[idx].heap_pos = NO_HEAP;
    l->heap_len--;
    if (pos == l->heap_len)
        return;
    /* The last entry fills the hole; it may belong above or below it. */
    uint32_t moved = l->heap[l->heap_len];
    heap_set(l, pos, moved);
    heap_down(l, pos);
    heap_up(l, l->timers[moved].heap_pos);
}

static int64_t slack_for(int64_t period_ns)
{
    if (period_ns < 8 * NS_PER_MS)
        return 0; /* short periods are precise on purpose (e.g. backoff steps) */
    int64_t s = period_ns / SLACK_DIVISOR;
    return s > MAX_SLACK_NS ? MAX_SLACK_NS : s;
}

/* ---- create / destroy / start / stop ---- */

int rp__loop_create(const rp__loop_opts *opts, rp__loop **out)
{
    if (!out)
        return RP_ERR_INVAL;
    rp__loop_opts o = opts ? *opts : (rp__loop_opts){0};
    if (!o.max_watches)
        o.max_watches = RP__LOOP_DEFAULT_MAX_WATCHES;
    if (!o.max_timers)
        o.max_timers = RP__LOOP_DEFAULT_MAX_TIMERS;
    if (!o.post_cap)
        o.post_cap = RP__LOOP_DEFAULT_POST_CAP;
    if (o.max_watches > RP__LOOP_MAX_CAP || o.max_timers > RP__LOOP_MAX_CAP ||
        o.post_cap > RP__LOOP_MAX_CAP)
        return RP_ERR_RANGE;

    rp__loop *l = calloc(1, sizeof *l);
    if (!l)
        return RP_ERR_NOMEM;
    l->max_watches = o.max_watches;
    l->max_timers = o.max_timers;
    l->slice_us = o.slice_us;
    l->rt_cap_pct = o.realtime_max_cpu_pct > 100 ? 100 : o.realtime_max_cpu_pct;
    l->rt_backoff_ms = o.realtime_backoff_ms ? o.realtime_backoff_ms : RP__LOOP_RT_BACKOFF_MS;
    l->post_cap = o.post_cap;
    l->watch_free = NO_SLOT;
    l->timer_free = NO_SLOT;
    atomic_init(&l->running, 0);
    atomic_init(&l->stop_requested, 0);
    atomic_init(&l->wake_pending, 0);
    atomic_init(&l->wakeups, 0);
    atomic_init(&l->callbacks, 0);
    atomic_init(&l->timers_fired, 0);
    atomic_init(&l->posts_rejected, 0);

    int rc = rp__os_mutex_create(&l->lock);
    if (!rc)
        rc = rp__os_cond_create(&l->idle_cv);
    if (!rc)
        rc = rp__os_poller_create(&l->poller);
    /* The post ring is the one table allocated up front: post must not fail
     * for memory once the loop exists. */
    if (!rc && !(l->posts = calloc(l->post_cap, sizeof *l->posts)))
        rc = RP_ERR_NOMEM;
    if (rc) {
        rp__loop_destroy(l);
        return rc;
    }
    *out = l;
    return 0;
}

/* Takes the first queued task off the queue (under l->lock; one is queued)
 * and marks it running: rp__loop_task_cancel waits for its call until
 * callback_done clears the mark. */
static rp__loop_task *task_take(rp__loop *l)
{
    rp__loop_task *t = l->task_head;
    l->task_head = t->next_;
    if (!l->task_head)
        l->task_tail = NULL;
    l->ntasks--;
    t->next_ = NULL;
    t->queued_ = 0;
    l->running_task = t;
    return t;
}

/* Discards queued posts and hands queued tasks RP_ERR_STOPPED, one at a time
 * on the calling thread (the loop thread is gone or never started). */
static void drop_pending(rp__loop *l)
{
    rp__loop *prev = tls_loop;
    tls_loop = l;
    rp__os_mutex_lock(l->lock);
    l->post_head = l->post_count = 0;
    while (l->task_head) {
        rp__loop_task *t = task_take(l);
        rp__os_mutex_unlock(l->lock);
        t->fn(t->arg, RP_ERR_STOPPED);
        rp__os_mutex_lock(l->lock);
        callback_done(l);
    }
    rp__os_mutex_unlock(l->lock);
    tls_loop = prev;
}

void rp__loop_destroy(rp__loop *l)
{
    if (!l)
        return;
    if (l->thread)
        rp__loop_stop(l);
    if (l->lock)
        drop_pending(l);
    rp__os_poller_destroy(l->poller);
    rp__os_cond_destroy(l->idle_cv);
    rp__os_mutex_destroy(l->lock);
    free(l->watches);
    free(l->timers);
    free(l->heap);
    free(l->due);
    free(l->posts);
    free(l);
}

int rp__loop_set_hooks(rp__loop *l, const rp__loop_hooks *hooks)
{
    if (!l)
        return RP_ERR_INVAL;
    if (atomic_load(&l->running) || tls_loop == l)
        return RP_ERR_BUSY;
    l->hooks = hooks ? *hooks : (rp__loop_hooks){0};
    return 0;
}

static void iterate(rp__loop *l, int max_timeout_ms);

static void set_slice(rp__loop *l)
{
    if (!l->slice_us)
        return;
    int rc = rp__os_thread_set_slice(l->slice_us);
    if (rc == 0)
        rp__log_debug("loop thread: time slice %u us", (unsigned)l->slice_us);
    else
        rp__log_info("loop thread: cannot set a %u us time slice (%s)", (unsigned)l->slice_us,
                     rp_strerror(rc));
}

static void rt_enter(rp__loop *l)
{
    int rc = rp__os_thread_set_realtime(1);
    if (rc != 0) {
        l->rt_possible = 0;
        rp__log_info("loop thread: real-time priority refused (%s); it keeps normal "
                     "scheduling, so collectors that read /proc at exec time may miss the "
                     "details of more short-lived processes",
                     rp_strerror(rc));
        return;
    }
    atomic_store(&l->rt_on, 1);
}

/* Once per window of at least a second (judged when the loop wakes): drop
 * to normal scheduling when the loop used more than its cap, come back
 * after the back-off once a window is under half the cap. */
static void rt_check(rp__loop *l)
{
    int64_t now = rp__os_monotonic_ns();
    int64_t span = now - l->rt_window_ns;
    if (span < 1000000000)
        return;
    int64_t cpu = rp__os_thread_cpu_ns();
    int64_t used_pct100 = (cpu - l->rt_window_cpu_ns) * 10000 / span; /* hundredths of % */
    l->rt_window_ns = now;
    l->rt_window_cpu_ns = cpu;
    int64_t cap = (int64_t)l->rt_cap_pct * 100;
    if (atomic_load(&l->rt_on)) {
        if (used_pct100 <= cap)
            return;
        rp__os_thread_set_realtime(0);
        set_slice(l);
        atomic_store(&l->rt_on, 0);
        atomic_fetch_add(&l->rt_demotions, 1);
        l->rt_until_ns = now + (int64_t)l->rt_backoff_ms * 1000000;
        rp__log_warn("loop thread: used %.1f%% of a CPU over %.1f s, above its real-time cap "
                     "of %u%% (agent.loop_realtime_max_cpu_pct); normal scheduling for %.1f s",
                     (double)used_pct100 / 100.0, (double)span / 1e9, (unsigned)l->rt_cap_pct,
                     (double)l->rt_backoff_ms / 1000.0);
    } else if (now >= l->rt_until_ns && used_pct100 * 2 <= cap) {
        rt_enter(l);
        if (atomic_load(&l->rt_on))
            rp__log_info("loop thread: back to real-time priority");
    }
}

static void loop_main(void *arg)
{
    rp__loop *l = arg;
    tls_loop = l;
    set_slice(l);
    l->rt_possible = l->rt_cap_pct > 0;
    if (l->rt_possible) {
        l->rt_window_ns = rp__os_monotonic_ns();
        l->rt_window_cpu_ns = rp__os_thread_cpu_ns();
        rt_enter(l);
    }
    while (!stopping(l)) {
        iterate(l, -1);
        if (l->rt_possible)
            rt_check(l);
    }
    if (atomic_load(&l->rt_on)) {
        rp__os_thread_set_realtime(0);
        atomic_store(&l->rt_on, 0);
    }
    tls_loop = NULL;
}

int rp__loop_start(rp__loop *l)
{
    if (!l)
        return RP_ERR_INVAL;
    if (atomic_load(&l->running) || tls_loop == l)
        return RP_ERR_BUSY;
    atomic_store(&l->stop_requested, 0);
    atomic_store(&l->running, 1);
    int rc = rp__os_thread_start(&l->thread, "rp-loop", loop_main, l);
    if (rc) {
        l->thread = NULL;
        atomic_store(&l->running, 0);
    }
    return rc;
}

int rp__loop_stop(rp__loop *l)
{
    if (!l)
        return RP_ERR_INVAL;
    if (tls_loop == l)
        return RP_ERR_BUSY;
    if (!l->thread)
        return 0;
    atomic_store(&l->stop_requested, 1);
    rp__os_poller_wake(l->poller); /* not wake(): it may think a wake is in flight */
    rp__os_thread_join(l->thread);
    l->thread = NULL;
    atomic_store(&l->wake_pending, 0);
    atomic_store(&l->running, 0);
    drop_pending(l);
    return 0;
}

int rp__loop_is_running(rp__loop *l)
{
    return l && atomic_load(&l->running);
}

int rp__loop_in_loop_thread(rp__loop *l)
{
    return l && tls_loop == l;
}

/* ---- dispatch (on the thread running the loop) ---- */

/* Poller timeout for the next wait: 0 if work is queued, else until the
 * earliest deadline (rounded up: waking a little late is fine, waking early
 * would only spin), -1 with no timers. Lock held. */
static int next_timeout_ms(rp__loop *l)
{
    if (l->post_count || l->task_head)
        return 0;
    if (!l->heap_len)
        return -1;
    int64_t left = l->timers[l->heap[0]].deadline - rp__os_monotonic_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + NS_PER_MS - 1) / NS_PER_MS;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static void dispatch_fd(rp__loop *l, const rp__os_poll_event *ev)
{
    rp__os_mutex_lock(l->lock);
    struct watch *w = watch_find(l, ev->token);
    if (!w || w->paused || stopping(l)) {
        /* Unwatched since the wait returned (the token's generation no
         * longer matches), or stop was asked: drop the event. */
        rp__os_mutex_unlock(l->lock);
        return;
    }
    rp__loop_fd_cb cb = w->cb;
    void *arg = w->arg, *owner = w->owner;
    int fd = w->fd;
    l->running_id = ev->token;
    rp__os_mutex_unlock(l->lock);

    int64_t cpu0 = hook_enter(l, owner, RP__LOOP_CALL_FD);
    cb(arg, fd, ev->revents);
    hook_leave(l, owner, cpu0);

    rp__os_mutex_lock(l->lock);
    callback_done(l);
    rp__os_mutex_unlock(l->lock);
}

/* Collects into l->due every timer in the subtree at pos whose deadline is
 * within its slack of now. No slack exceeds MAX_SLACK_NS, so a subtree whose
 * root (its earliest deadline) is further out than that is skipped whole. */
static void collect_due(rp__loop *l, uint32_t pos, int64_t now, uint32_t *n)
{
    if (pos >= l->heap_len)
        return;
    const struct timer *t = &l->timers[l->heap[pos]];
    if (t->deadline - now > MAX_SLACK_NS)
        return;
    if (t->deadline - t->slack <= now) {
        uint32_t idx = l->heap[pos];
        l->due[*n] = (struct due){t->deadline, t->seq, make_id(t->gen, KIND_TIMER, idx)};
        (*n)++;
    }
    collect_due(l, 2 * pos + 1, now, n);
    collect_due(l, 2 * pos + 2, now, n);
}

static int due_cmp(const void *a, const void *b)
{
    const struct due *x = a, *y = b;
    if (x->deadline != y->deadline)
        return x->deadline < y->deadline ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void dispatch_timers(rp__loop *l)
{
    rp__os_mutex_lock(l->lock);
    int64_t now = rp__os_monotonic_ns();
    uint32_t n = 0;
    collect_due(l, 0, now, &n);
    if (n > 1)
        qsort(l->due, n, sizeof *l->due, due_cmp);
    /* l->due is indexed afresh after every unlock: a callback adding timers
     * may move it. Timers added meanwhile are not in this round. */
    for (uint32_t i = 0; i < n && !stopping(l); i++) {
        uint64_t id = l->due[i].id;
        struct timer *t = timer_find(l, id);
        if (!t)
            continue; /* cancelled by an earlier callback of this round */
        heap_remove(l, t->heap_pos);
        rp__loop_cb cb = t->cb;
        void *arg = t->arg, *owner = t->owner;
        l->running_id = id;
        rp__os_mutex_unlock(l->lock);

        int64_t cpu0 = hook_enter(l, owner, RP__LOOP_CALL_TIMER);
        cb(arg);
        hook_leave(l, owner, cpu0);
        count(&l->timers_fired);

        rp__os_mutex_lock(l->lock);
        callback_done(l);
        t = timer_find(l, id);
        if (!t)
            continue; /* cancelled from inside the callback */
        if (!t->interval) {
            timer_release(l, id_slot(id, KIND_TIMER));
            continue;
        }
        /* Keep the phase; skip periods already missed. The next deadline is
         * not due at this now, so each timer fires at most once per round
         * (the slack is below the interval, so one exists). */
        int64_t next = t->deadline + t->interval;
        if (next - t->slack <= now)
            next += ((now - (next - t->slack)) / t->interval + 1) * t->interval;
        t->deadline = next;
        heap_push(l, id_slot(id, KIND_TIMER));
    }
    rp__os_mutex_unlock(l->lock);
}

static void dispatch_posts(rp__loop *l)
{
    rp__os_mutex_lock(l->lock);
    /* Only what was queued before this point: posts made by these callbacks
     * wait for the next round, so a self-reposting callback cannot starve
     * fds and timers. */
    uint32_t budget = l->post_count;
    while (budget-- && l->post_count && !stopping(l)) {
        struct post p = l->posts[l->post_head];
        l->post_head = (l->post_head + 1) % l->post_cap;
        l->post_count--;
        rp__os_mutex_unlock(l->lock);

        /* A post runs like a one-shot timer of its owner. */
        int64_t cpu0 = hook_enter(l, p.owner, RP__LOOP_CALL_TIMER);
        p.cb(p.arg);
        hook_leave(l, p.owner, cpu0);

        rp__os_mutex_lock(l->lock);
    }
    rp__os_mutex_unlock(l->lock);
}

static void dispatch_tasks(rp__loop *l)
{
    rp__os_mutex_lock(l->lock);
    uint32_t budget = l->ntasks;
    while (budget-- && l->task_head && !stopping(l)) {
        rp__loop_task *t = task_take(l);
        rp__os_mutex_unlock(l->lock);

        /* After fn returns t may be freed: not touched again. */
        t->fn(t->arg, 0);
        count(&l->callbacks);

        rp__os_mutex_lock(l->lock);
        callback_done(l);
    }
    rp__os_mutex_unlock(l->lock);
}

static void iterate(rp__loop *l, int max_timeout_ms)
{
    rp__os_poll_event evs[WAIT_EVENTS];
    int n = 0;

    rp__os_mutex_lock(l->lock);
    int timeout = next_timeout_ms(l);
    rp__os_mutex_unlock(l->lock);
    if (max_timeout_ms >= 0 && (timeout < 0 || timeout > max_timeout_ms))
        timeout = max_timeout_ms;

    rp__os_poller_wait(l->poller, timeout, evs, WAIT_EVENTS, &n);
    count(&l->wakeups);
    /* Cleared before looking at the queues: a post that lands after this
     * point either is seen below or writes a fresh wake. */
    atomic_store(&l->wake_pending, 0);

    for (int i = 0; i < n && !stopping(l); i++)
        dispatch_fd(l, &evs[i]);
    dispatch_timers(l);
    dispatch_posts(l);
    dispatch_tasks(l);
}

int rp__loop_run_once(rp__loop *l, int timeout_ms)
{
    if (!l)
        return RP_ERR_INVAL;
    if (atomic_load(&l->running) || tls_loop == l)
        return RP_ERR_BUSY;
    rp__loop *prev = tls_loop;
    tls_loop = l;
    iterate(l, timeout_ms);
    tls_loop = prev;
    return 0;
}

/* ---- watches ---- */

int rp__loop_watch_fd(rp__loop *l, void *owner, int fd, uint32_t events, rp__loop_fd_cb cb,
                      void *arg, uint64_t *watch_id)
{
    if (!l || fd < 0 || !cb || !watch_id || (events & ~(RP__LOOP_READ | RP__LOOP_WRITE)))
        return RP_ERR_INVAL;
    rp__os_mutex_lock(l->lock);
    uint32_t idx;
    int rc = watch_alloc(l, &idx);
    if (rc) {
        rp__os_mutex_unlock(l->lock);
        return rc;
    }
    struct watch *w = &l->watches[idx];
    uint64_t id = make_id(w->gen, KIND_WATCH, idx);
    /* Registered under the lock, slot filled first: an event the loop sees
     * right away finds the watch complete. */
    *w = (struct watch){
        .gen = w->gen, .fd = fd, .events = events, .cb = cb, .arg = arg, .owner = owner};
    rc = rp__os_poller_add(l->poller, fd, events, id);
    if (rc) {
        watch_release(l, idx);
        rp__os_mutex_unlock(l->lock);
        return rc;
    }
    /* The kernel accepted fd, so any other watch still naming this number
     * lost its registration when its fd was closed without unwatch. Its
     * later unwatch must not remove the new registration. */
    for (uint32_t i = 0; i < l->watch_slots; i++) {
        struct watch *o = &l->watches[i];
        if (i != idx && o->fd == fd && !o->fd_closed) {
            o->fd_closed = 1;
            rp__log_warn("loop: fd %d was closed before its watch was removed (unwatch first)", fd);
        }
    }
    l->nwatches++;
    /* Stored under the lock, which the loop takes before any callback: the
     * callback (which may unwatch itself) always sees the id. */
    *watch_id = id;
    rp__os_mutex_unlock(l->lock);
    return 0;
}

int rp__loop_watch_set_events(rp__loop *l, uint64_t watch_id, uint32_t events)
{
    if (!l || (events & ~(RP__LOOP_READ | RP__LOOP_WRITE)))
        return RP_ERR_INVAL;
    rp__os_mutex_lock(l->lock);
    struct watch *w = watch_find(l, watch_id);
    int rc = (!w || w->fd_closed) ? RP_ERR_NOTFOUND
             : w->paused          ? 0 /* applied on resume */
                                  : rp__os_poller_modify(l->poller, w->fd, events, watch_id);
    if (!rc)
        w->events = events;
    rp__os_mutex_unlock(l->lock);
    return rc;
}

int rp__loop_watch_pause(rp__loop *l, uint64_t watch_id, int paused)
{
    if (!l)
        return RP_ERR_INVAL;
    rp__os_mutex_lock(l->lock);
    struct watch *w = watch_find(l, watch_id);
    int rc = 0;
    if (!w || w->fd_closed)
        rc = RP_ERR_NOTFOUND;
    else if (paused && !w->paused)
        rc = rp__os_poller_remove(l->poller, w->fd);
    else if (!paused && w->paused)
        rc = rp__os_poller_add(l->poller, w->fd, w->events, watch_id);
    if (rc == 0 && w)
        w->paused = paused != 0;
    rp__os_mutex_unlock(l->lock);
    return rc;
}

int rp__loop_unwatch(rp__loop *l, uint64_t watch_id)
{
    if (!l)
        return RP_ERR_INVAL;
    rp__os_mutex_lock(l->lock);
    struct watch *w = watch_find(l, watch_id);
    if (!w) {
        rp__os_mutex_unlock(l->lock);
        return RP_ERR_NOTFOUND;
    }
    /* Fails harmlessly if the caller closed the fd first; events already
     * returned by the poller are dropped by the generation check. */
    if (!w->fd_closed && !w->paused)
        rp__os_poller_remove(l->poller, w->fd);
    w->paused = 0;
    watch_release(l, id_slot(watch_id, KIND_WATCH));
    l->nwatches--;
    wait_not_running(l, watch_id, NULL);
    rp__os_mutex_unlock(l->lock);
    return 0;
}

/* ---- timers ---- */

int rp__loop_timer_add(rp__loop *l, void *owner, uint64_t first_ms, uint64_t interval_ms,
                       rp__loop_cb cb, void *arg, uint64_t *timer_id)
{
    if (!l || !cb || !timer_id)
        return RP_ERR_INVAL;
    if (first_ms > RP__LOOP_MAX_MS || interval_ms > RP__LOOP_MAX_MS)
        return RP_ERR_RANGE;
    int64_t now = rp__os_monotonic_ns();
    rp__os_mutex_lock(l->lock);
    uint32_t idx;
    int rc = timer_alloc(l, &idx);
    if (rc) {
        rp__os_mutex_unlock(l->lock);
        return rc;
    }
    struct timer *t = &l->timers[idx];
    t->in_use = 1;
    t->deadline = now + (int64_t)first_ms * NS_PER_MS;
    t->interval = (int64_t)interval_ms * NS_PER_MS;
    t->slack = slack_for(interval_ms ? t->interval : (int64_t)first_ms * NS_PER_MS);
    t->seq = ++l->timer_seq;
    t->cb = cb;
    t->arg = arg;
    t->owner = owner;
    l->ntimers++;
    heap_push(l, idx);
    uint64_t id = make_id(t->gen, KIND_TIMER, idx);
    /* Only a new earliest deadline shortens the loop's current sleep. */
    int earliest = t->heap_pos == 0;
    *timer_id = id; /* under the lock, as for watches: the callback sees it */
    rp__os_mutex_unlock(l->lock);
    if (earliest)
        wake(l);
    return 0;
}

int rp__loop_timer_cancel(rp__loop *l, uint64_t timer_id)
{
    if (!l)
        return RP_ERR_INVAL;
    rp__os_mutex_lock(l->lock);
    struct timer *t = timer_find(l, timer_id);
    if (!t) {
        rp__os_mutex_unlock(l->lock);
        return RP_ERR_NOTFOUND;
    }
    if (t->heap_pos != NO_HEAP)
        heap_remove(l, t->heap_pos);
    /* A timer whose callback runs now is not in the heap; releasing it here
     * tells dispatch_timers not to re-arm or release it afterwards. */
    timer_release(l, id_slot(timer_id, KIND_TIMER));
    wait_not_running(l, timer_id, NULL);
    rp__os_mutex_unlock(l->lock);
    return 0;
}

/* ---- posts and tasks ---- */

int rp__loop_post(rp__loop *l, void *owner, rp__loop_cb cb, void *arg)
{
    if (!l || !cb)
        return RP_ERR_INVAL;
    rp__os_mutex_lock(l->lock);
    if (l->post_count >= l->post_cap) {
        rp__os_mutex_unlock(l->lock);
        count(&l->posts_rejected);
        return RP_ERR_FULL;
    }
    l->posts[(l->post_head + l->post_count) % l->post_cap] = (struct post){cb, arg, owner};
    l->post_count++;
    rp__os_mutex_unlock(l->lock);
    wake(l);
    return 0;
}

int rp__loop_post_task(rp__loop *l, rp__loop_task *task)
{
    if (!l || !task || !task->fn)
        return RP_ERR_INVAL;
    rp__os_mutex_lock(l->lock);
    if (!task->queued_) {
        task->queued_ = 1;
        task->next_ = NULL;
        if (l->task_tail)
            l->task_tail->next_ = task;
        else
            l->task_head = task;
        l->task_tail = task;
        l->ntasks++;
    }
    rp__os_mutex_unlock(l->lock);
    wake(l);
    return 0;
}

int rp__loop_task_cancel(rp__loop *l, rp__loop_task *task)
{
    if (!l || !task)
        return RP_ERR_INVAL;
    int removed = 0;
    rp__os_mutex_lock(l->lock);
    if (task->queued_) {
        rp__loop_task **pp = &l->task_head, *prev = NULL;
        while (*pp && *pp != task) {
            prev = *pp;
            pp = &(*pp)->next_;
        }
        if (*pp) {
            *pp = task->next_;
            if (l->task_tail == task)
                l->task_tail = prev;
            l->ntasks--;
        }
        task->queued_ = 0;
        task->next_ = NULL;
        removed = 1;
    }
    wait_not_running(l, 0, task);
    rp__os_mutex_unlock(l->lock);
    return removed;
}

void rp__loop_get_stats(rp__loop *l, rp__loop_stats *out)
{
    if (!l) {
        *out = (rp__loop_stats){0};
        return;
    }
    out->wakeups = atomic_load_explicit(&l->wakeups, memory_order_relaxed);
    out->callbacks = atomic_load_explicit(&l->callbacks, memory_order_relaxed);
    out->timers_fired = atomic_load_explicit(&l->timers_fired, memory_order_relaxed);
    out->posts_rejected = atomic_load_explicit(&l->posts_rejected, memory_order_relaxed);
    out->realtime = atomic_load_explicit(&l->rt_on, memory_order_relaxed);
    out->rt_demotions = atomic_load_explicit(&l->rt_demotions, memory_order_relaxed);
    rp__os_mutex_lock(l->lock);
    out->watches = l->nwatches;
    out->timers = l->ntimers;
    out->posts_queued = l->post_count;
    rp__os_mutex_unlock(l->lock);
}
