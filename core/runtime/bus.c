/*
 * core/runtime/bus.c - the in-process publish/subscribe bus. docs/bus.md explains the
 * design; this comment maps it onto the code.
 *
 * Publish path (any thread, lock-free):
 *   reader_enter -> state check -> routing table row of the topic ->
 *   per subscription: ring_push (or drop / overflow) -> schedule -> reader_exit
 * Dispatch path (dispatcher threads):
 *   runq_pop -> owner_acquire -> deliver_batch -> linger -> owner_release ->
 *   unschedule (or back onto the run queue when a batch was full)
 *
 * Memory ordering. Two hand-offs are Dekker-style (each side stores, then
 * loads what the other side stores) and therefore use seq_cst on both
 * sides, never relaxed and never fences (ThreadSanitizer does not model
 * fences):
 *   1. publisher: ring cell seq store (or overflow depth increment), then
 *      load sub->scheduled; dispatcher: store sub->scheduled = 0, then load
 *      the ring cell seq and the overflow depth.
 *      Either the dispatcher sees the event or the publisher sees the
 *      subscription unscheduled and schedules it: no lost wake-up.
 *   2. run queue push, then load spinning/sleepers; a dispatcher going to
 *      sleep increments sleepers, decrements spinning, then checks the run
 *      queue under the sleep lock.
 * The routing table is protected by a small sleepable-RCU (reader_enter /
 * reader_exit / synchronize): publishers announce themselves in one of
 * READER_SLOTS counters chosen per thread, writers flip the epoch twice and
 * wait for the old counters to drain before freeing what they replaced.
 */
#include "runtime/bus.h"
#include "lib/log.h"
#include "os/os.h"
#include "os/os_thread.h"
#include "runtime/topic.h"

#include <rampart/plugin.h>

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHELINE       64
#define READER_SLOTS    16  /* publisher-side RCU counters; threads share them round-robin */
#define OVF_CHUNK       256 /* events per overflow chunk */
#define PREFETCH_AHEAD  8   /* queued events a dispatcher prefetches ahead of delivery */
#define TAKE_MAX        16  /* events taken from an overflow list per lock */
#define POLL_PAUSES_MAX 128 /* longest pause run between two polls of an idle queue */
#define SPIN_NS_MAX     1000000000u
#define BATCH_MAX       4096u

enum bus_state { ST_CREATED = 0, ST_RUNNING, ST_STOPPING, ST_STOPPED };

/* ---- queue cells: readable when seq == the cell's position + 1 ---- */

struct ev_cell {
    atomic_size_t seq;
    struct rp_event *ev; /* written before seq is published, read after */
};

/*
 * A subscription's queue. Many publishers; one dispatcher at a time drains
 * it (the one that holds sub->scheduled), so the consumer side needs no CAS.
 * A cell is readable when its seq equals its position + 1. Publishers write
 * cells, the drainer only reads them and advances head; whether there is
 * room is decided from head, cached on the publishers' own cache line and
 * re-read only when the cached value says full. So a publisher never reads
 * a line the drainer just wrote, and the drainer never writes a line a
 * publisher is about to write: on machines where a cache line takes a few
 * hundred ns to move between CPUs, that is most of the cost of a queue.
 */
struct ring {
    struct ev_cell *cells;
    size_t mask;
    _Alignas(CACHELINE) atomic_size_t tail; /* next position to claim (publishers) */
    atomic_size_t head_cache;               /* a past value of head: never ahead of it */
    _Alignas(CACHELINE) atomic_size_t head; /* next position to read (the drainer) */
};

/* LOSSLESS spill-over: unbounded, counted, guarded by a mutex because it is
 * only touched when the ring is full (the slow path by definition). */
struct ovf_chunk {
    struct ovf_chunk *next;
    uint32_t rd, wr;
    struct rp_event *ev[OVF_CHUNK];
};

struct overflow {
    rp__os_mutex *lock;
    struct ovf_chunk *first, *last; /* under lock */
    atomic_uint_least64_t depth;    /* events in the list; written under lock */
    int oom_logged;                 /* under lock */
};

struct owner;

struct sub {
    /* Read-mostly. */
    uint64_t id;
    uint32_t owner_id;
    uint32_t flags;
    uint32_t capacity;
    rp__bus_on_event on_event;
    void *arg;
    struct owner *owner;
    size_t plen;
    char pattern[RP__TOPIC_NAME_MAX + 1];
    struct sub *defer_next; /* owner's deferred list, under owner->lock */
    /* 1 while the subscription is on the run queue, deferred on its owner,
     * or being drained: whoever flips it 0 -> 1 owns the next drain. */
    atomic_int scheduled;
    atomic_int closing;              /* set by unsubscribe: deliver nothing more */
    atomic_uint_least64_t discarded; /* taken from the overflow list, then closed */
    atomic_int holders;              /* dispatchers inside unschedule(); unsubscribe waits for 0 */
    struct ring ring;
    struct overflow ovf;
    /* Its share of the byte cap (opts.sub_max_bytes), 0 = none: the bytes it
     * holds are in_bytes - out_bytes. */
    uint64_t max_bytes;
    /* Written by the draining dispatcher. */
    _Alignas(CACHELINE) atomic_uint_least64_t delivered;
    atomic_uint_least64_t errors;
    atomic_uint_least64_t high_water;
    atomic_uint_least64_t out_bytes; /* bytes of its events taken off its queue */
    atomic_uint_least64_t cpu_ns;    /* METERED: thread CPU time of its batches */
    /* METERED, while a batch runs: its dispatcher's CPU clock + 1 (0: no
     * batch) and that clock at the batch's start, so that a reader sees
     * the CPU of a long batch before it ends. */
    atomic_int_least64_t batch_clock;
    atomic_int_least64_t batch_cpu0;
    /* Written by publishers on their slow paths (in_bytes: on every enqueue
     * of a subscription with a share). */
    _Alignas(CACHELINE) atomic_uint_least64_t dropped;
    atomic_uint_least64_t overflowed;
    atomic_uint_least64_t in_bytes; /* bytes of its events queued */
    atomic_uint_least64_t share_dropped;
};

/* Serializes the callbacks of one plugin instance (ARCHITECTURE.md §3.9).
 * A dispatcher that finds the owner busy parks the subscription on the
 * owner's deferred list instead of waiting; the dispatcher that releases
 * the owner puts the deferred ones back on the run queue. */
struct owner {
    uint32_t id;
    uint32_t nsubs;     /* under bus->ctl */
    struct owner *next; /* bus->owners, under bus->ctl */
    rp__os_mutex *lock;
    int busy;                             /* under lock */
    struct sub *deferred, *deferred_last; /* under lock */
    atomic_int waiting; /* subscriptions deferred; lets a lingering holder step aside */
};

/* Routing table: immutable once published; replaced whole. */
struct row {
    uint32_t n;
    struct sub **subs;
};

struct table {
    uint32_t nrows; /* topic ids 0..nrows-1 are routed; later ids take the slow path */
    uint32_t nsubs;
    struct sub **all; /* every live subscription, ascending id (stats lookups) */
    struct table *retired_next;
    struct row rows[];
};

struct sub_cell {
    atomic_size_t seq;
    struct sub *sub;
};

/* Run queue of subscriptions with work. Each subscription is on it at most
 * once (sub->scheduled), so RP__BUS_MAX_SUBS cells can never fill up. */
struct runq {
    struct sub_cell *cells;
    size_t mask;
    _Alignas(CACHELINE) atomic_size_t tail;
    _Alignas(CACHELINE) atomic_size_t head;
};

struct reader_slot {
    _Alignas(CACHELINE) atomic_long cnt[2];
};

struct topic_counters {
    _Alignas(CACHELINE) atomic_uint_least64_t published;
    atomic_uint_least64_t dropped;
    atomic_uint_least64_t unrouted;
    atomic_uint_least64_t full; /* refused at the byte cap */
};

struct rp__bus {
    rp__bus_opts opts;
    rp__os_mutex *life; /* start / stop / destroy */
    /* subs[], owners, next_id, retired, table rebuilds. Never held while
     * waiting for readers or dispatchers, so a publisher may take it. */
    rp__os_mutex *ctl;
    rp__os_mutex *gp;                   /* one grace period at a time */
    struct sub *subs[RP__BUS_MAX_SUBS]; /* ascending id; under ctl */
    uint32_t nsubs;
    struct owner *owners;
    uint64_t next_id;
    struct table *retired; /* replaced tables waiting for a grace period */
    _Atomic(struct table *) table;
    atomic_int state;
    atomic_int drain; /* set by stop after the last publisher left */
    atomic_uint_least64_t refused;
    atomic_uint nlive; /* live subscriptions, for stats */
    struct runq runq;
    rp__os_mutex *sleep_lock;
    rp__os_cond *sleep_cond;
    rp__os_thread *threads[RP__BUS_MAX_DISPATCHERS];
    uint32_t nthreads;
    _Alignas(CACHELINE)
        atomic_int spinning; /* dispatchers polling (not running callbacks, not asleep) */
    atomic_int sleepers;
    atomic_int active; /* dispatchers holding a subscription */
    _Alignas(CACHELINE) atomic_uint epoch;
    /* Bytes of the events queued for at least one subscription (each event
     * once, whatever its fan-out), and publishes refused at the cap. */
    _Alignas(CACHELINE) atomic_uint_least64_t queued_bytes;
    atomic_uint_least64_t full_refused;
    atomic_uint_least64_t peak_bytes; /* highest queued_bytes seen at a publish */
    atomic_int abandon;               /* rp__bus_abandon: discard instead of delivering */
    uint32_t alert_topic;             /* "alert": shares the core's reserve above the cap */
    atomic_uint_least64_t abandoned;
    struct reader_slot readers[READER_SLOTS];
    struct topic_counters topics[RP__TOPIC_MAX + 1];
};

/* The bus whose dispatcher runs on this thread: calls that would wait for
 * a dispatcher refuse to run on one. */
static _Thread_local const rp__bus *tl_dispatch_bus;
static _Thread_local unsigned tl_slot_plus1;
/* The dispatcher's own CPU clock + 1 for others to read, 0 = none. */
static _Thread_local int64_t tl_cpu_clock;
static atomic_uint slot_seq;

/* ---------------------------------------------------------------- helpers */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* For waits that are not on a hot path (grace periods, unsubscribe). */
static void backoff(unsigned *n)
{
    if ((*n)++ < 16) {
        sched_yield();
    } else {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

static void *alloc_aligned(size_t size)
{
    size_t rounded = (size + CACHELINE - 1) & ~(size_t)(CACHELINE - 1);
    void *p = rp__os_aligned_alloc(CACHELINE, rounded);
    if (p)
        memset(p, 0, rounded);
    return p;
}

static int is_pow2(uint32_t v)
{
    return v && (v & (v - 1)) == 0;
}

/* n more queues will hold ev: the first one puts its bytes on the cap.
 * Before the events are queued (a dispatcher may take them at once). */
static inline void charge(rp__bus *bus, rp__event_head *h, uint32_t n)
{
    if (atomic_fetch_add_explicit(&h->queued, n, memory_order_acq_rel) == 0)
        atomic_fetch_add_explicit(&bus->queued_bytes, h->bytes, memory_order_relaxed);
}

/* One queue let go of ev (delivered, dropped or discarded): the last one
 * takes its bytes off the cap. Before the queue's reference is released. */
static inline void uncharge(rp__bus *bus, const struct rp_event *ev)
{
    rp__event_head *h = rp__event_head_of(ev);
    if (atomic_fetch_sub_explicit(&h->queued, 1, memory_order_acq_rel) == 1)
        atomic_fetch_sub_explicit(&bus->queued_bytes, h->bytes, memory_order_relaxed);
}

/* ------------------------------------------------------------ event ring */

static int ring_init(struct ring *r, uint32_t cap)
{
    r->cells = malloc((size_t)cap * sizeof *r->cells);
    if (!r->cells)
        return RP_ERR_NOMEM;
    for (size_t i = 0; i < cap; i++) {
        atomic_init(&r->cells[i].seq, 0); /* != position + 1 for every position */
        r->cells[i].ev = NULL;
    }
    r->mask = cap - 1;
    atomic_init(&r->tail, 0);
    atomic_init(&r->head_cache, 0);
    atomic_init(&r->head, 0);
    return 0;
}

/* Returns 1 if queued, 0 if full. */
static int ring_push(struct ring *r, struct rp_event *ev)
{
    size_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
    for (;;) {
        /* Acquire (here and on head): the drainer read the cell a lap ago
         * before it advanced head, so that read happens before our write. */
        size_t hc = atomic_load_explicit(&r->head_cache, memory_order_acquire);
        if (pos - hc > r->mask) {
            size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
            if (head != hc)
                atomic_store_explicit(&r->head_cache, head, memory_order_release);
            if (pos - head > r->mask) {
                /* Full, unless pos is stale (then the difference wrapped). */
                size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
                if (tail == pos)
                    return 0;
                pos = tail;
                continue;
            }
        }
        if (atomic_compare_exchange_weak_explicit(&r->tail, &pos, pos + 1, memory_order_relaxed,
                                                  memory_order_relaxed))
            break;
    }
    struct ev_cell *c = &r->cells[pos & r->mask];
    c->ev = ev;
    /* seq_cst: first half of hand-off 1 (see the top comment). */
    atomic_store(&c->seq, pos + 1);
    return 1;
}

/* Only the subscription's current drainer calls this. */
static struct rp_event *ring_pop(struct ring *r)
{
    size_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
    struct ev_cell *c = &r->cells[pos & r->mask];
    if (atomic_load_explicit(&c->seq, memory_order_acquire) != pos + 1)
        return NULL; /* empty, or a publisher is between claim and write */
    struct rp_event *ev = c->ev;
    /* Release: frees the cell for a publisher that reads this head. */
    atomic_store_explicit(&r->head, pos + 1, memory_order_release);
    return ev;
}

/* The event d positions after head if it is readable, without taking it
 * (for prefetching). Only the current drainer calls this. */
static struct rp_event *ring_peek(struct ring *r, size_t d)
{
    size_t pos = atomic_load_explicit(&r->head, memory_order_relaxed) + d;
    struct ev_cell *c = &r->cells[pos & r->mask];
    if (atomic_load_explicit(&c->seq, memory_order_acquire) != pos + 1)
        return NULL;
    return c->ev;
}

/* Is the next cell readable? seq_cst: second half of hand-off 1. */
static int ring_ready(struct ring *r)
{
    size_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
    return atomic_load(&r->cells[pos & r->mask].seq) == pos + 1;
}

static uint64_t ring_depth(struct ring *r)
{
    /* head first: tail read later is >= tail then >= head then. */
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t d = tail - head;
    return d > r->mask + 1 ? r->mask + 1 : d;
}

/* ------------------------------------------------------------- overflow */

static int ovf_push(struct sub *s, struct rp_event *ev)
{
    struct overflow *o = &s->ovf;
    rp__os_mutex_lock(o->lock);
    struct ovf_chunk *c = o->last;
    if (!c || c->wr == OVF_CHUNK) {
        struct ovf_chunk *n = malloc(sizeof *n);
        if (!n) {
            int log_it = !o->oom_logged;
            o->oom_logged = 1;
            rp__os_mutex_unlock(o->lock);
            if (log_it)
                rp__log_error("bus: out of memory growing the overflow list of subscription "
                              "%llu (%s); events to it are dropped and counted",
                              (unsigned long long)s->id, s->pattern);
            return RP_ERR_NOMEM;
        }
        n->next = NULL;
        n->rd = n->wr = 0;
        if (c)
            c->next = n;
        else
            o->first = n;
        o->last = c = n;
    }
    c->ev[c->wr++] = ev;
    /* seq_cst: like the ring's seq store, pairs with unschedule()'s check. */
    atomic_fetch_add(&o->depth, 1);
    rp__os_mutex_unlock(o->lock);
    return 0;
}

/*
 * Takes up to max events from the overflow list, oldest first. Returns 0
 * without taking anything while the ring holds or is about to hold an event
 * (a position claimed, maybe not written yet): a publisher only spills after
 * finding the ring full or the list non-empty, so every ring position
 * claimed before a listed event of the same producer must be read first.
 */
static uint32_t ovf_take(struct sub *s, struct rp_event **out, uint32_t max)
{
    struct overflow *o = &s->ovf;
    uint32_t k = 0;
    rp__os_mutex_lock(o->lock);
    /* The lock orders this load after the claims of every listed event's
     * publisher (they claimed, then locked to spill). */
    if (atomic_load_explicit(&s->ring.tail, memory_order_relaxed) !=
        atomic_load_explicit(&s->ring.head, memory_order_relaxed)) {
        rp__os_mutex_unlock(o->lock);
        return 0;
    }
    while (k < max && o->first) {
        struct ovf_chunk *c = o->first;
        while (k < max && c->rd < c->wr)
            out[k++] = c->ev[c->rd++];
        if (c->rd < c->wr)
            break;
        if (c->next) {
            o->first = c->next;
            free(c);
        } else {
            c->rd = c->wr = 0; /* keep the last chunk for the next spill */
            break;
        }
    }
    if (k)
        atomic_fetch_sub(&o->depth, k);
    rp__os_mutex_unlock(o->lock);
    return k;
}

/* --------------------------------------------------------------- run queue */

static int runq_init(struct runq *q, uint32_t cap)
{
    q->cells = malloc((size_t)cap * sizeof *q->cells);
    if (!q->cells)
        return RP_ERR_NOMEM;
    for (size_t i = 0; i < cap; i++) {
        atomic_init(&q->cells[i].seq, i);
        q->cells[i].sub = NULL;
    }
    q->mask = cap - 1;
    atomic_init(&q->tail, 0);
    atomic_init(&q->head, 0);
    return 0;
}

static void runq_put(struct runq *q, struct sub *s)
{
    size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (;;) {
        struct sub_cell *c = &q->cells[pos & q->mask];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)pos;
        if (dif == 0) {
            /* seq_cst: runq_nonempty() compares tail and head (hand-off 2). */
            if (atomic_compare_exchange_weak(&q->tail, &pos, pos + 1)) {
                c->sub = s;
                atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
                return;
            }
        } else if (dif < 0) {
            /* Cannot happen: a subscription is queued at most once and the
             * queue holds RP__BUS_MAX_SUBS. Wait rather than lose it. */
            cpu_relax();
            pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
        } else {
            pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
        }
    }
}

static struct sub *runq_pop(struct runq *q)
{
    size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    for (;;) {
        struct sub_cell *c = &q->cells[pos & q->mask];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)(pos + 1);
        if (dif == 0) {
            if (atomic_compare_exchange_weak(&q->head, &pos, pos + 1)) {
                struct sub *s = c->sub;
                atomic_store_explicit(&c->seq, pos + q->mask + 1, memory_order_release);
                return s;
            }
        } else if (dif < 0) {
            return NULL;
        } else {
            pos = atomic_load_explicit(&q->head, memory_order_relaxed);
        }
    }
}

/* True also while a push is between claim and write: the caller then polls
 * again instead of sleeping, which is what we want. */
static int runq_nonempty(struct runq *q)
{
    size_t head = atomic_load(&q->head);
    return atomic_load(&q->tail) != head;
}

/* ------------------------------------------------------ sleeping and waking */

static void wake_one(rp__bus *bus)
{
    rp__os_mutex_lock(bus->sleep_lock);
    rp__os_cond_signal(bus->sleep_cond);
    rp__os_mutex_unlock(bus->sleep_lock);
}

static void wake_all(rp__bus *bus)
{
    rp__os_mutex_lock(bus->sleep_lock);
    rp__os_cond_broadcast(bus->sleep_cond);
    rp__os_mutex_unlock(bus->sleep_lock);
}

/* Puts a subscription on the run queue and makes sure a dispatcher will
 * look: a polling dispatcher will, otherwise wake a sleeping one. */
static void runq_push(rp__bus *bus, struct sub *s)
{
    runq_put(&bus->runq, s);
    if (atomic_load(&bus->spinning) == 0 && atomic_load(&bus->sleepers) > 0)
        wake_one(bus);
}

/* A polling dispatcher found work. If it was the last one polling and more
 * work is queued, wake a sleeper, since publishers saw a poller and did not. */
static void leave_spinning(rp__bus *bus)
{
    if (atomic_fetch_sub(&bus->spinning, 1) == 1 && runq_nonempty(&bus->runq) &&
        atomic_load(&bus->sleepers) > 0)
        wake_one(bus);
}

/* ---------------------------------------------- publisher-side grace periods */

static struct reader_slot *my_slot(rp__bus *bus)
{
    if (!tl_slot_plus1)
        tl_slot_plus1 =
            atomic_fetch_add_explicit(&slot_seq, 1, memory_order_relaxed) % READER_SLOTS + 1;
    return &bus->readers[tl_slot_plus1 - 1];
}

static unsigned reader_enter(rp__bus *bus, struct reader_slot *slot)
{
    unsigned e = atomic_load(&bus->epoch) & 1u;
    atomic_fetch_add(&slot->cnt[e], 1); /* seq_cst: ordered before the table load */
    return e;
}

static void reader_exit(struct reader_slot *slot, unsigned e)
{
    atomic_fetch_sub_explicit(&slot->cnt[e], 1, memory_order_release);
}

/*
 * Waits until every reader that could have seen the state before the call
 * has left. Two flips: a reader that read the epoch before the first flip
 * but incremented after it counts under the parity waited for second.
 * Must not run inside a reader section or on a dispatcher that a reader
 * might wait for (neither happens: readers never wait).
 */
static void synchronize(rp__bus *bus)
{
    rp__os_mutex_lock(bus->gp);
    for (int flip = 0; flip < 2; flip++) {
        unsigned old = atomic_fetch_add(&bus->epoch, 1) & 1u;
        unsigned n = 0;
        for (;;) {
            long sum = 0;
            for (int i = 0; i < READER_SLOTS; i++)
                sum += atomic_load(&bus->readers[i].cnt[old]);
            if (sum == 0)
                break;
            backoff(&n);
        }
    }
    rp__os_mutex_unlock(bus->gp);
}

/* ------------------------------------------------------------ routing table */

static void table_free_list(struct table *t)
{
    while (t) {
        struct table *next = t->retired_next;
        free(t);
        t = next;
    }
}

/* Builds the table for subs[0..n) over every topic interned so far. Under
 * ctl. Matching is by string here, once per change, so that publish does
 * none. */
static struct table *table_build(struct sub *const *subs, uint32_t n)
{
    uint32_t ntopics = rp__topic_count();
    uint32_t nrows = ntopics + 1;
    size_t total = 0;
    for (uint32_t t = 1; t <= ntopics; t++) {
        const char *name = rp__topic_name(t);
        for (uint32_t i = 0; i < n; i++)
            total += (size_t)rp__topic_matches(subs[i]->pattern, subs[i]->plen, name);
    }
    size_t head = sizeof(struct table) + (size_t)nrows * sizeof(struct row);
    size_t bytes = head + ((size_t)n + total) * sizeof(struct sub *);
    struct table *t = malloc(bytes);
    if (!t)
        return NULL;
    t->nrows = nrows;
    t->nsubs = n;
    t->retired_next = NULL;
    t->all = (struct sub **)(void *)((char *)t + head);
    if (n)
        memcpy(t->all, subs, (size_t)n * sizeof *subs);
    struct sub **next = t->all + n;
    t->rows[0].n = 0;
    t->rows[0].subs = next;
    for (uint32_t id = 1; id <= ntopics; id++) {
        const char *name = rp__topic_name(id);
        struct row *r = &t->rows[id];
        r->subs = next;
        r->n = 0;
        for (uint32_t i = 0; i < n; i++)
            if (rp__topic_matches(subs[i]->pattern, subs[i]->plen, name))
                r->subs[r->n++] = subs[i];
        next += r->n;
    }
    return t;
}

/* Installs t, retiring the previous table. Under ctl. */
static void table_install(rp__bus *bus, struct table *t)
{
    struct table *old = atomic_exchange(&bus->table, t);
    if (old) {
        old->retired_next = bus->retired;
        bus->retired = old;
    }
}

/* ----------------------------------------------------------------- owners */

/* Under ctl. */
static struct owner *owner_get(rp__bus *bus, uint32_t id)
{
    for (struct owner *o = bus->owners; o; o = o->next)
        if (o->id == id) {
            o->nsubs++;
            return o;
        }
    struct owner *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    if (rp__os_mutex_create(&o->lock) != 0) {
        free(o);
        return NULL;
    }
    o->id = id;
    o->nsubs = 1;
    atomic_init(&o->waiting, 0);
    o->next = bus->owners;
    bus->owners = o;
    return o;
}

/* Under ctl. */
static void owner_put(rp__bus *bus, struct owner *o)
{
    if (--o->nsubs)
        return;
    for (struct owner **p = &bus->owners; *p; p = &(*p)->next)
        if (*p == o) {
            *p = o->next;
            break;
        }
    rp__os_mutex_destroy(o->lock);
    free(o);
}

/* Returns 1 when the caller may run s's callback; 0 when another
 * subscription of the same owner is running and s was parked on the owner
 * (it stays scheduled; owner_release puts it back on the run queue). */
static int owner_acquire(struct sub *s)
{
    if (s->flags & RP__BUS_CONCURRENT)
        return 1;
    struct owner *o = s->owner;
    rp__os_mutex_lock(o->lock);
    if (o->busy) {
        s->defer_next = NULL;
        if (o->deferred_last)
            o->deferred_last->defer_next = s;
        else
            o->deferred = s;
        o->deferred_last = s;
        atomic_fetch_add_explicit(&o->waiting, 1, memory_order_relaxed);
        rp__os_mutex_unlock(o->lock);
        return 0;
    }
    o->busy = 1;
    rp__os_mutex_unlock(o->lock);
    return 1;
}

static void owner_release(rp__bus *bus, struct sub *s)
{
    if (s->flags & RP__BUS_CONCURRENT)
        return;
    struct owner *o = s->owner;
    rp__os_mutex_lock(o->lock);
    o->busy = 0;
    struct sub *list = o->deferred;
    o->deferred = o->deferred_last = NULL;
    atomic_store_explicit(&o->waiting, 0, memory_order_relaxed);
    rp__os_mutex_unlock(o->lock);
    while (list) {
        struct sub *next = list->defer_next;
        runq_push(bus, list);
        list = next;
    }
}

/* --------------------------------------------------------------- dispatch */

static int sub_has_events(struct sub *s)
{
    if (ring_ready(&s->ring))
        return 1;
    return (s->flags & RP__BUS_LOSSLESS) && atomic_load(&s->ovf.depth) > 0;
}

/* Publisher side of hand-off 1: whoever flips scheduled 0 -> 1 queues it. */
static void schedule(rp__bus *bus, struct sub *s)
{
    if (atomic_load(&s->scheduled))
        return;
    if (atomic_exchange(&s->scheduled, 1))
        return;
    runq_push(bus, s);
}

/* Dispatcher side of hand-off 1: give up the subscription, then look again
 * so that an event published meanwhile is not left without a dispatcher. */
static void unschedule(rp__bus *bus, struct sub *s)
{
    atomic_fetch_add(&s->holders, 1);
    atomic_store(&s->scheduled, 0);
    if (!atomic_load(&s->closing) && sub_has_events(s) && !atomic_exchange(&s->scheduled, 1))
        runq_push(bus, s);
    /* Last touch of s: unsubscribe frees it once holders is 0. */
    atomic_fetch_sub_explicit(&s->holders, 1, memory_order_release);
}

static void deliver(rp__bus *bus, struct sub *s, struct rp_event *ev, uint64_t *errors)
{
    if (atomic_load_explicit(&bus->abandon, memory_order_relaxed))
        atomic_fetch_add_explicit(&bus->abandoned, 1, memory_order_relaxed);
    else if (s->on_event(s->arg, ev) != 0)
        (*errors)++;
    uncharge(bus, ev);
    rp__event_release(ev);
}

/* Delivers evs[0..k) unless the subscription closes meanwhile; events left
 * then were already out of the queue, so they are counted here (topic
 * dropped, sub discarded) and released. Returns how many were delivered. */
static uint32_t deliver_run(rp__bus *bus, struct sub *s, struct rp_event **evs, uint32_t k,
                            uint64_t *errors)
{
    uint32_t i = 0;
    for (; i < k && !atomic_load_explicit(&s->closing, memory_order_relaxed); i++)
        deliver(bus, s, evs[i], errors);
    for (uint32_t j = i; j < k; j++) {
        atomic_fetch_add_explicit(&bus->topics[rp__event_topic(evs[j])].dropped, 1,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&s->discarded, 1, memory_order_relaxed);
        uncharge(bus, evs[j]);
        rp__event_release(evs[j]);
    }
    return i;
}

/*
 * High-water mark (queue + overflow list), sampled once per batch. Reading
 * the ring's tail pulls the publishers' hottest cache line away from them,
 * so it is only read when the queue looks deep (PREFETCH_AHEAD events
 * readable: the case the mark is for); otherwise 1 or 0 is a lower bound
 * that costs nothing. The overflow depth only changes when spilling.
 */
static void sample_depth(struct sub *s, int lossless)
{
    uint64_t depth = 0;
    size_t deep = s->ring.mask < PREFETCH_AHEAD - 1 ? s->ring.mask : PREFETCH_AHEAD - 1;
    if (ring_peek(&s->ring, deep))
        depth = ring_depth(&s->ring);
    else if (ring_peek(&s->ring, 0))
        depth = 1;
    if (lossless)
        depth += atomic_load_explicit(&s->ovf.depth, memory_order_relaxed);
    if (depth > atomic_load_explicit(&s->high_water, memory_order_relaxed))
        atomic_store_explicit(&s->high_water, depth, memory_order_relaxed);
}

/*
 * Runs up to batch callbacks of s in queue order. Returns how many ran.
 * Before each callback the event PREFETCH_AHEAD places further in the queue
 * is prefetched: each event's header was last written by its publisher on
 * another CPU and the release after the callback needs it, so fetching
 * ahead overlaps those transfers instead of paying for them one by one.
 * Events stay in the queue until their turn, so its capacity bounds them.
 */
static uint32_t deliver_batch(rp__bus *bus, struct sub *s)
{
    uint32_t batch = bus->opts.batch;
    int lossless = (s->flags & RP__BUS_LOSSLESS) != 0;
    uint32_t n = 0, stalls = 0;
    uint64_t errors = 0, out_bytes = 0;
    int64_t cpu0 = 0;
    if (s->flags & RP__BUS_METERED) {
        cpu0 = rp__os_thread_cpu_ns();
        if (tl_cpu_clock) {
            atomic_store_explicit(&s->batch_cpu0, cpu0, memory_order_relaxed);
            atomic_store_explicit(&s->batch_clock, tl_cpu_clock, memory_order_release);
        }
    }
    sample_depth(s, lossless);
    for (size_t d = 1; d < PREFETCH_AHEAD; d++) {
        struct rp_event *ahead = ring_peek(&s->ring, d);
        if (!ahead)
            break;
        __builtin_prefetch(ahead, 1);
    }
    /* closing is checked per event so that unsubscribe waits for one
     * callback at most, not a whole batch. */
    while (n < batch && !atomic_load_explicit(&s->closing, memory_order_relaxed)) {
        struct rp_event *ev = ring_pop(&s->ring);
        if (ev) {
            struct rp_event *ahead = ring_peek(&s->ring, PREFETCH_AHEAD - 1);
            if (ahead)
                __builtin_prefetch(ahead, 1);
            if (s->max_bytes)
                out_bytes += rp__event_head_of(ev)->bytes; /* read before the release */
            deliver(bus, s, ev, &errors);
            n++;
            continue;
        }
        if (!lossless || atomic_load_explicit(&s->ovf.depth, memory_order_relaxed) == 0)
            break;
        /* Overflow events are outside the queue already: take a few per
         * lock and deliver them. */
        struct rp_event *evs[TAKE_MAX];
        uint32_t want = batch - n < TAKE_MAX ? batch - n : TAKE_MAX;
        uint32_t k = ovf_take(s, evs, want);
        if (k == 0) {
            /* A publisher claimed a ring position and has not written it
             * yet; its event comes before the listed ones. It is a few
             * instructions away unless it was preempted, so spin, then
             * yield in case it waits for this CPU. */
            if (++stalls < 256)
                cpu_relax();
            else
                sched_yield();
            continue;
        }
        for (uint32_t i = 0; i < k; i++)
            __builtin_prefetch(evs[i], 1);
        n += deliver_run(bus, s, evs, k, &errors);
    }
    if (n)
        atomic_fetch_add_explicit(&s->delivered, n, memory_order_relaxed);
    if (errors)
        atomic_fetch_add_explicit(&s->errors, errors, memory_order_relaxed);
    /* Release: a publisher that reads this sees in_bytes of these events. */
    if (out_bytes)
        atomic_fetch_add_explicit(&s->out_bytes, out_bytes, memory_order_release);
    if (s->flags & RP__BUS_METERED) {
        int64_t cpu = rp__os_thread_cpu_ns() - cpu0;
        /* The batch is over before its time counts: a reader in between
         * misses it once rather than counting it twice. */
        if (tl_cpu_clock)
            atomic_store_explicit(&s->batch_clock, 0, memory_order_relaxed);
        if (cpu > 0)
            atomic_fetch_add_explicit(&s->cpu_ns, (uint64_t)cpu, memory_order_relaxed);
    }
    return n;
}

/*
 * After draining s, keep polling it for up to the spin budget while nothing
 * else wants this dispatcher. A steady producer then never has to put s back
 * on the run queue (which would cost both sides a cache-line round trip per
 * event). Returns 1 when s has events again.
 *
 * Polls back off (1, 2, 4 ... POLL_PAUSES_MAX pauses, about 2.5 us at
 * most on current x86) while nothing comes: a consumer that reads the ring
 * right behind its producer pulls each cell line back after every single
 * write, so both sides pay a cross-CPU transfer per event; letting the
 * producer run ahead a little turns that into one transfer per few events.
 */
static int linger(rp__bus *bus, struct sub *s, int64_t until)
{
    if (bus->opts.spin_ns == 0)
        return 0;
    atomic_fetch_add(&bus->spinning, 1);
    int got = 0;
    unsigned pauses = 1;
    for (unsigned i = 1;; i++) {
        if (sub_has_events(s)) {
            got = 1;
            break;
        }
        if (runq_nonempty(&bus->runq) || atomic_load(&bus->state) != ST_RUNNING ||
            (!(s->flags & RP__BUS_CONCURRENT) &&
             atomic_load_explicit(&s->owner->waiting, memory_order_relaxed)))
            break;
        if ((i & 7) == 0 && rp__os_monotonic_ns() >= until)
            break;
        for (unsigned k = 0; k < pauses; k++)
            cpu_relax();
        if (pauses < POLL_PAUSES_MAX)
            pauses <<= 1;
    }
    leave_spinning(bus);
    return got;
}

static void run_sub(rp__bus *bus, struct sub *s, int64_t *last_work)
{
    if (atomic_load(&s->closing)) {
        unschedule(bus, s);
        return;
    }
    if (!owner_acquire(s))
        return;
    for (;;) {
        uint32_t n = deliver_batch(bus, s);
        if (n)
            *last_work = rp__os_monotonic_ns();
        if (atomic_load(&s->closing))
            break;
        if (n >= bus->opts.batch) {
            /* Full batch: more is likely queued. Go to the back of the run
             * queue if anything else waits for a turn; otherwise carry on
             * (re-queueing would only wake another dispatcher to do the
             * same work on a cold cache). */
            if (!runq_nonempty(&bus->runq) &&
                ((s->flags & RP__BUS_CONCURRENT) ||
                 !atomic_load_explicit(&s->owner->waiting, memory_order_relaxed)))
                continue;
            owner_release(bus, s);
            runq_push(bus, s);
            return;
        }
        if (!linger(bus, s, *last_work + bus->opts.spin_ns))
            break;
    }
    owner_release(bus, s);
    unschedule(bus, s);
}

static void dispatcher_main(void *arg)
{
    rp__bus *bus = arg;
    tl_dispatch_bus = bus;
    int64_t clock;
    tl_cpu_clock = rp__os_thread_cpu_clock(&clock) == 0 ? clock + 1 : 0;
    int64_t last_work = rp__os_monotonic_ns();
    atomic_fetch_add(&bus->spinning, 1);
    for (;;) {
        struct sub *s = runq_pop(&bus->runq);
        if (s) {
            leave_spinning(bus);
            atomic_fetch_add(&bus->active, 1);
            run_sub(bus, s, &last_work);
            atomic_fetch_add(&bus->spinning, 1);
            if (atomic_fetch_sub(&bus->active, 1) == 1 && atomic_load(&bus->drain))
                wake_all(bus); /* sleepers re-check the exit condition */
            continue;
        }
        /* Stopping: leave once no dispatcher holds a subscription and the
         * run queue is empty (active first: a holder pushes before it
         * decrements, so the run queue is then up to date). */
        if (atomic_load(&bus->drain) && atomic_load(&bus->active) == 0 &&
            !runq_nonempty(&bus->runq))
            break;
        if (rp__os_monotonic_ns() - last_work < (int64_t)bus->opts.spin_ns) {
            cpu_relax();
            continue;
        }
        rp__os_mutex_lock(bus->sleep_lock);
        atomic_fetch_add(&bus->sleepers, 1);
        atomic_fetch_sub(&bus->spinning, 1);
        while (!runq_nonempty(&bus->runq) &&
               !(atomic_load(&bus->drain) && atomic_load(&bus->active) == 0))
            rp__os_cond_wait(bus->sleep_cond, bus->sleep_lock);
        atomic_fetch_add(&bus->spinning, 1);
        atomic_fetch_sub(&bus->sleepers, 1);
        rp__os_mutex_unlock(bus->sleep_lock);
        last_work = rp__os_monotonic_ns();
    }
    atomic_fetch_sub(&bus->spinning, 1);
    wake_all(bus);
}

/* ------------------------------------------------------------------ public */

void rp__bus_opts_init(rp__bus_opts *opts)
{
    opts->dispatchers = RP__BUS_DEFAULT_DISPATCHERS;
    opts->queue_capacity = RP__BUS_DEFAULT_QUEUE;
    opts->spin_ns = RP__BUS_DEFAULT_SPIN_NS;
    opts->batch = RP__BUS_DEFAULT_BATCH;
    opts->max_bytes = RP__BUS_DEFAULT_MAX_BYTES;
    opts->sub_max_bytes = 0;
}

/* Frees what rp__bus_create made; every part may be missing. */
static void bus_free(rp__bus *bus)
{
    table_free_list(bus->retired);
    free(atomic_load(&bus->table));
    free(bus->runq.cells);
    rp__os_cond_destroy(bus->sleep_cond);
    rp__os_mutex_destroy(bus->sleep_lock);
    rp__os_mutex_destroy(bus->gp);
    rp__os_mutex_destroy(bus->ctl);
    rp__os_mutex_destroy(bus->life);
    rp__os_aligned_free(bus);
}

static int queue_capacity_ok(uint32_t cap)
{
    return is_pow2(cap) && cap >= RP__BUS_QUEUE_MIN && cap <= RP__BUS_QUEUE_MAX;
}

int rp__bus_create(const rp__bus_opts *opts, rp__bus **out)
{
    if (!out)
        return RP_ERR_INVAL;
    *out = NULL;
    rp__bus_opts o;
    rp__bus_opts_init(&o);
    if (opts)
        o = *opts;
    if (o.dispatchers < 1 || o.dispatchers > RP__BUS_MAX_DISPATCHERS ||
        !queue_capacity_ok(o.queue_capacity) || o.spin_ns > SPIN_NS_MAX || o.batch < 1 ||
        o.batch > BATCH_MAX)
        return RP_ERR_INVAL;

    rp__bus *bus = alloc_aligned(sizeof *bus);
    if (!bus)
        return RP_ERR_NOMEM;
    bus->opts = o;
    atomic_init(&bus->state, ST_CREATED);
    struct table *t = NULL;
    if (rp__os_mutex_create(&bus->life) != 0 || rp__os_mutex_create(&bus->ctl) != 0 ||
        rp__os_mutex_create(&bus->gp) != 0 || rp__os_mutex_create(&bus->sleep_lock) != 0 ||
        rp__os_cond_create(&bus->sleep_cond) != 0 || runq_init(&bus->runq, RP__BUS_MAX_SUBS) != 0 ||
        !(t = table_build(NULL, 0))) {
        bus_free(bus);
        return RP_ERR_NOMEM;
    }
    atomic_init(&bus->table, t);
    if (rp__topic_intern("alert", 5, &bus->alert_topic) != 0)
        bus->alert_topic = 0; /* the topic table is full: no reserve for alerts */
    *out = bus;
    return 0;
}

/* Joins the threads started so far; used by stop and by a failed start. */
static void join_dispatchers(rp__bus *bus)
{
    atomic_store(&bus->drain, 1);
    wake_all(bus);
    for (uint32_t i = 0; i < bus->nthreads; i++)
        rp__os_thread_join(bus->threads[i]);
    bus->nthreads = 0;
}

int rp__bus_start(rp__bus *bus)
{
    if (!bus)
        return RP_ERR_INVAL;
    rp__os_mutex_lock(bus->life);
    if (atomic_load(&bus->state) != ST_CREATED) {
        rp__os_mutex_unlock(bus->life);
        return RP_ERR_INVAL;
    }
    atomic_store(&bus->state, ST_RUNNING);
    int rc = 0;
    for (uint32_t i = 0; i < bus->opts.dispatchers; i++) {
        char name[24]; /* the platform cuts it to its limit */
        snprintf(name, sizeof name, "rp-bus-%u", i);
        rc = rp__os_thread_start(&bus->threads[i], name, dispatcher_main, bus);
        if (rc) {
            rp__log_error("bus: cannot start dispatcher thread %u: %s", i, rp_strerror(rc));
            break;
        }
        bus->nthreads++;
    }
    if (rc) {
        atomic_store(&bus->state, ST_STOPPING);
        synchronize(bus);
        join_dispatchers(bus);
        atomic_store(&bus->state, ST_STOPPED);
    }
    rp__os_mutex_unlock(bus->life);
    return rc;
}

int rp__bus_stop(rp__bus *bus)
{
    if (!bus)
        return RP_ERR_INVAL;
    if (tl_dispatch_bus == bus)
        return RP_ERR_BUSY;
    rp__os_mutex_lock(bus->life);
    int st = atomic_load(&bus->state);
    if (st == ST_RUNNING) {
        atomic_store(&bus->state, ST_STOPPING);
        /* Every publisher that saw RUNNING has queued (and scheduled) its
         * event once this returns; only then may dispatchers run dry. */
        synchronize(bus);
        join_dispatchers(bus);
    }
    atomic_store(&bus->state, ST_STOPPED);
    rp__os_mutex_unlock(bus->life);
    return 0;
}

/* Releases every event still queued for s, counting them per topic. */
static uint64_t sub_discard(rp__bus *bus, struct sub *s)
{
    uint64_t n = 0;
    struct rp_event *ev;
    while ((ev = ring_pop(&s->ring)) != NULL) {
        atomic_fetch_add_explicit(&bus->topics[rp__event_topic(ev)].dropped, 1,
                                  memory_order_relaxed);
        uncharge(bus, ev);
        rp__event_release(ev);
        n++;
    }
    rp__os_mutex_lock(s->ovf.lock);
    struct ovf_chunk *c = s->ovf.first;
    s->ovf.first = s->ovf.last = NULL;
    atomic_store(&s->ovf.depth, 0);
    rp__os_mutex_unlock(s->ovf.lock);
    while (c) {
        for (uint32_t i = c->rd; i < c->wr; i++) {
            atomic_fetch_add_explicit(&bus->topics[rp__event_topic(c->ev[i])].dropped, 1,
                                      memory_order_relaxed);
            uncharge(bus, c->ev[i]);
            rp__event_release(c->ev[i]);
            n++;
        }
        struct ovf_chunk *next = c->next;
        free(c);
        c = next;
    }
    return n;
}

static void sub_free(struct sub *s)
{
    rp__os_mutex_destroy(s->ovf.lock);
    free(s->ring.cells);
    rp__os_aligned_free(s);
}

void rp__bus_destroy(rp__bus *bus)
{
    if (!bus)
        return;
    if (tl_dispatch_bus == bus) {
        rp__log_error("bus: rp__bus_destroy called from a bus callback; ignored");
        return;
    }
    rp__bus_stop(bus);
    for (uint32_t i = 0; i < bus->nsubs; i++) {
        struct sub *s = bus->subs[i];
        uint64_t n = sub_discard(bus, s);
        if (n)
            rp__log_warn("bus: %llu undelivered events of subscription %llu (%s) released",
                         (unsigned long long)n, (unsigned long long)s->id, s->pattern);
        owner_put(bus, s->owner);
        sub_free(s);
    }
    bus_free(bus);
}

int rp__bus_subscribe(rp__bus *bus, const char *pattern, rp__bus_on_event on_event, void *arg,
                      uint32_t owner, uint32_t flags, uint32_t queue_capacity, uint64_t *sub_id)
{
    if (!bus || !pattern || !on_event || !sub_id ||
        (flags & ~(RP__BUS_LOSSLESS | RP__BUS_CONCURRENT | RP__BUS_METERED)))
        return RP_ERR_INVAL;
    size_t plen = strnlen(pattern, RP__TOPIC_NAME_MAX + 1);
    if (!rp__topic_pattern_valid(pattern, plen))
        return RP_ERR_INVAL;
    uint32_t cap = queue_capacity ? queue_capacity : bus->opts.queue_capacity;
    if (!queue_capacity_ok(cap))
        return RP_ERR_INVAL;
    if (atomic_load(&bus->state) >= ST_STOPPING)
        return RP_ERR_STOPPED;

    struct sub *s = alloc_aligned(sizeof *s);
    if (!s)
        return RP_ERR_NOMEM;
    if (rp__os_mutex_create(&s->ovf.lock) != 0 || ring_init(&s->ring, cap) != 0) {
        sub_free(s);
        return RP_ERR_NOMEM;
    }
    s->flags = flags;
    s->capacity = cap;
    s->owner_id = owner;
    /* A plugin's subscription gets a share of the cap; the core's (the
     * sink) and a lossless one do not. */
    s->max_bytes = owner != 0 && !(flags & RP__BUS_LOSSLESS) ? bus->opts.sub_max_bytes : 0;
    s->on_event = on_event;
    s->arg = arg;
    s->plen = plen;
    memcpy(s->pattern, pattern, plen);
    s->pattern[plen] = '\0';

    int rc = 0;
    struct table *grab = NULL;
    int in_dispatcher = tl_dispatch_bus == bus;
    rp__os_mutex_lock(bus->ctl);
    if (bus->nsubs == RP__BUS_MAX_SUBS) {
        rc = RP_ERR_FULL;
        goto fail;
    }
    s->owner = owner_get(bus, owner);
    if (!s->owner) {
        rc = RP_ERR_NOMEM;
        goto fail;
    }
    s->id = ++bus->next_id;
    bus->subs[bus->nsubs] = s; /* ids grow, so the array stays sorted */
    struct table *t = table_build(bus->subs, bus->nsubs + 1);
    if (!t) {
        owner_put(bus, s->owner);
        bus->next_id--;
        rc = RP_ERR_NOMEM;
        goto fail;
    }
    bus->nsubs++;
    atomic_fetch_add(&bus->nlive, 1);
    table_install(bus, t);
    /* A dispatcher must not wait for a grace period (a publisher it runs
     * could be the reader); its retired table is freed by a later call. */
    if (!in_dispatcher) {
        grab = bus->retired;
        bus->retired = NULL;
    }
    rp__os_mutex_unlock(bus->ctl);
    if (grab) {
        synchronize(bus);
        table_free_list(grab);
    }
    *sub_id = s->id;
    return 0;
fail:
    rp__os_mutex_unlock(bus->ctl);
    sub_free(s);
    return rc;
}

int rp__bus_unsubscribe(rp__bus *bus, uint64_t sub_id, uint64_t *discarded)
{
    if (discarded)
        *discarded = 0;
    if (!bus)
        return RP_ERR_INVAL;
    if (tl_dispatch_bus == bus)
        return RP_ERR_BUSY;
    rp__os_mutex_lock(bus->ctl);
    uint32_t idx = 0;
    while (idx < bus->nsubs && bus->subs[idx]->id != sub_id)
        idx++;
    if (idx == bus->nsubs) {
        rp__os_mutex_unlock(bus->ctl);
        return RP_ERR_NOTFOUND;
    }
    struct sub *s = bus->subs[idx];
    /* Build the new table before changing anything, so NOMEM leaves the
     * subscription intact. */
    struct sub *rest[RP__BUS_MAX_SUBS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < bus->nsubs; i++)
        if (i != idx)
            rest[n++] = bus->subs[i];
    struct table *t = table_build(rest, n);
    if (!t) {
        rp__os_mutex_unlock(bus->ctl);
        return RP_ERR_NOMEM;
    }
    memcpy(bus->subs, rest, (size_t)n * sizeof *rest);
    bus->nsubs = n;
    atomic_fetch_sub(&bus->nlive, 1);
    atomic_store(&s->closing, 1);
    table_install(bus, t);
    struct table *grab = bus->retired;
    bus->retired = NULL;
    rp__os_mutex_unlock(bus->ctl);

    /* No publisher can reach s after this ... */
    synchronize(bus);
    table_free_list(grab);
    /* ... and no dispatcher once we own its scheduled flag: a scheduled s
     * is on the run queue, parked on its owner or being drained, and each
     * of those ends in unschedule() because closing is set. */
    unsigned spins = 0;
    for (;;) {
        int zero = 0;
        if (atomic_compare_exchange_strong(&s->scheduled, &zero, 1))
            break;
        backoff(&spins);
    }
    while (atomic_load_explicit(&s->holders, memory_order_acquire) != 0)
        backoff(&spins);

    uint64_t dropped = sub_discard(bus, s) + atomic_load(&s->discarded);
    if (discarded)
        *discarded = dropped;
    if (dropped)
        rp__log_info("bus: unsubscribe %llu (%s) released %llu queued events",
                     (unsigned long long)s->id, s->pattern, (unsigned long long)dropped);
    rp__os_mutex_lock(bus->ctl);
    owner_put(bus, s->owner);
    rp__os_mutex_unlock(bus->ctl);
    sub_free(s);
    return 0;
}

/* Queues one reference for s (the caller's share of ev's references). */
static void enqueue(rp__bus *bus, struct sub *s, struct rp_event *ev, struct topic_counters *tc)
{
    if (s->flags & RP__BUS_LOSSLESS) {
        /* Once something is in the overflow list, later events follow it
         * there, or they could overtake it. */
        if (atomic_load(&s->ovf.depth) == 0 && ring_push(&s->ring, ev)) {
            schedule(bus, s);
            return;
        }
        if (ovf_push(s, ev) == 0) {
            atomic_fetch_add_explicit(&s->overflowed, 1, memory_order_relaxed);
            schedule(bus, s);
            return;
        }
    } else if (s->max_bytes) {
        /* Its share of the byte cap: out_bytes first (acquire), so in_bytes
         * read after it includes every event counted out. The add comes
         * before the push, so a dispatcher never counts out what was not
         * counted in. */
        uint64_t b = rp__event_head_of(ev)->bytes;
        uint64_t out = atomic_load_explicit(&s->out_bytes, memory_order_acquire);
        uint64_t in = atomic_load_explicit(&s->in_bytes, memory_order_relaxed);
        if ((in > out ? in - out : 0) + b > s->max_bytes) {
            atomic_fetch_add_explicit(&s->share_dropped, 1, memory_order_relaxed);
        } else {
            atomic_fetch_add_explicit(&s->in_bytes, b, memory_order_relaxed);
            if (ring_push(&s->ring, ev)) {
                schedule(bus, s);
                return;
            }
            atomic_fetch_sub_explicit(&s->in_bytes, b, memory_order_relaxed);
        }
    } else if (ring_push(&s->ring, ev)) {
        schedule(bus, s);
        return;
    }
    atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&tc->dropped, 1, memory_order_relaxed);
    uncharge(bus, ev);
    rp__event_release(ev);
}

/* A topic interned after the table was built: rebuild the table. */
static void publish_slow(rp__bus *bus, struct table **tp, struct rp_event *ev, uint32_t topic,
                         struct topic_counters *tc)
{
    /* Taking ctl inside a reader section is safe: no ctl holder waits for
     * readers or dispatchers. It happens once per new topic. */
    rp__os_mutex_lock(bus->ctl);
    struct table *cur = atomic_load(&bus->table);
    if (topic >= cur->nrows) {
        struct table *nt = table_build(bus->subs, bus->nsubs);
        if (nt)
            table_install(bus, nt); /* the old one is freed after a grace period */
    }
    rp__os_mutex_unlock(bus->ctl);
    *tp = atomic_load_explicit(&bus->table, memory_order_acquire);
    if (topic < (*tp)->nrows)
        return; /* routed by the caller */
    /* Out of memory for the new table: match by name this once. */
    const char *name = rp__topic_name(topic);
    struct table *t = *tp;
    uint32_t matched = 0;
    /* The publisher holds a share of the charge while it queues, so the
     * bytes stay counted until every match is queued. */
    charge(bus, rp__event_head_of(ev), 1);
    for (uint32_t i = 0; i < t->nsubs; i++) {
        struct sub *s = t->all[i];
        if (!rp__topic_matches(s->pattern, s->plen, name))
            continue;
        rp__event_retain(ev);
        charge(bus, rp__event_head_of(ev), 1);
        enqueue(bus, s, ev, tc);
        matched++;
    }
    if (!matched)
        atomic_fetch_add_explicit(&tc->unrouted, 1, memory_order_relaxed);
    uncharge(bus, ev);
    rp__event_release(ev);
    *tp = NULL;
}

int rp__bus_publish(rp__bus *bus, struct rp_event *ev)
{
    if (!ev)
        return RP_ERR_INVAL;
    rp__event_head *h = rp__event_head_of(ev);
    uint32_t topic = h->topic;
    if (!bus || topic == 0 || topic > RP__TOPIC_MAX) {
        if (bus)
            atomic_fetch_add_explicit(&bus->refused, 1, memory_order_relaxed);
        rp__event_release(ev);
        return RP_ERR_INVAL;
    }
    /* Stamp once: a republished event is already shared and immutable. */
    if (!(h->flags & RP__EVENT_PUBLISHED)) {
        h->publish_ns = rp__os_monotonic_ns();
        h->bytes = rp__event_mem_bytes(ev);
        rp__event_freeze(ev);
    }

    struct reader_slot *slot = my_slot(bus);
    unsigned e = reader_enter(bus, slot);
    int st = atomic_load(&bus->state);
    if (st != ST_RUNNING) {
        reader_exit(slot, e);
        atomic_fetch_add_explicit(&bus->refused, 1, memory_order_relaxed);
        rp__event_release(ev);
        return st == ST_CREATED ? RP_ERR_AGAIN : RP_ERR_STOPPED;
    }
    struct topic_counters *tc = &bus->topics[topic];
    struct table *t = atomic_load_explicit(&bus->table, memory_order_acquire);
    if (topic >= t->nrows && topic > rp__topic_count()) {
        /* Never interned: nothing could have subscribed to it by name. */
        reader_exit(slot, e);
        atomic_fetch_add_explicit(&bus->refused, 1, memory_order_relaxed);
        rp__event_release(ev);
        return RP_ERR_INVAL;
    }
    /* The byte cap. Checked, then charged, without a lock: concurrent
     * publishers can pass it together by at most one event each (64 KiB
     * of data, RP__EVENT_MAX_DATA). The core's own events (health, loss
     * alerts) and every alert get a reserve of a sixteenth above it: a
     * flood of ordinary events must not blind the detectors' output, nor
     * refuse the alert that says the bus is full. */
    if (bus->opts.max_bytes) {
        uint64_t q = atomic_load_explicit(&bus->queued_bytes, memory_order_relaxed);
        int reserved = h->producer == 0 || topic == bus->alert_topic;
        uint64_t limit = bus->opts.max_bytes + (reserved ? bus->opts.max_bytes / 16 : 0);
        if (q + h->bytes > limit) {
            reader_exit(slot, e);
            atomic_fetch_add_explicit(&tc->full, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&bus->full_refused, 1, memory_order_relaxed);
            rp__event_release(ev);
            return RP_ERR_FULL;
        }
        if (q > atomic_load_explicit(&bus->peak_bytes, memory_order_relaxed))
            atomic_store_explicit(&bus->peak_bytes, q, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&tc->published, 1, memory_order_relaxed);
    if (topic >= t->nrows) {
        publish_slow(bus, &t, ev, topic, tc);
        if (!t) {
            reader_exit(slot, e);
            return 0;
        }
    }
    const struct row *r = &t->rows[topic];
    uint32_t n = r->n;
    if (n == 0) {
        reader_exit(slot, e);
        atomic_fetch_add_explicit(&tc->unrouted, 1, memory_order_relaxed);
        rp__event_release(ev);
        return 0;
    }
    /* One reference per subscription: the caller's plus n - 1 more. */
    if (n > 1)
        atomic_fetch_add_explicit(&h->refs, n - 1, memory_order_relaxed);
    charge(bus, h, n);
    for (uint32_t i = 0; i < n; i++)
        enqueue(bus, r->subs[i], ev, tc);
    reader_exit(slot, e);
    return 0;
}

int rp__bus_stats_sub(rp__bus *bus, uint64_t sub_id, rp__bus_sub_stats *out)
{
    if (!bus || !out)
        return RP_ERR_INVAL;
    struct reader_slot *slot = my_slot(bus);
    unsigned e = reader_enter(bus, slot);
    struct table *t = atomic_load_explicit(&bus->table, memory_order_acquire);
    uint32_t lo = 0, hi = t->nsubs;
    struct sub *s = NULL;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t->all[mid]->id < sub_id) {
            lo = mid + 1;
        } else if (t->all[mid]->id > sub_id) {
            hi = mid;
        } else {
            s = t->all[mid];
            break;
        }
    }
    if (!s) {
        reader_exit(slot, e);
        return RP_ERR_NOTFOUND;
    }
    memset(out, 0, sizeof *out);
    out->id = s->id;
    out->owner = s->owner_id;
    out->flags = s->flags;
    out->capacity = s->capacity;
    out->delivered = atomic_load_explicit(&s->delivered, memory_order_relaxed);
    out->errors = atomic_load_explicit(&s->errors, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&s->dropped, memory_order_relaxed);
    out->overflowed = atomic_load_explicit(&s->overflowed, memory_order_relaxed);
    out->queued = ring_depth(&s->ring);
    out->overflow_depth = atomic_load_explicit(&s->ovf.depth, memory_order_relaxed);
    out->high_water = atomic_load_explicit(&s->high_water, memory_order_relaxed);
    if (s->max_bytes) {
        uint64_t o = atomic_load_explicit(&s->out_bytes, memory_order_acquire);
        uint64_t i = atomic_load_explicit(&s->in_bytes, memory_order_relaxed);
        out->held_bytes = i > o ? i - o : 0;
    }
    out->share_dropped = atomic_load_explicit(&s->share_dropped, memory_order_relaxed);
    out->cpu_ns = atomic_load_explicit(&s->cpu_ns, memory_order_relaxed);
    reader_exit(slot, e);
    return 0;
}

uint64_t rp__bus_owner_dropped(rp__bus *bus, uint32_t owner)
{
    if (!bus)
        return 0;
    struct reader_slot *slot = my_slot(bus);
    unsigned e = reader_enter(bus, slot);
    struct table *t = atomic_load_explicit(&bus->table, memory_order_acquire);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < t->nsubs; i++)
        if (t->all[i]->owner_id == owner)
            sum += atomic_load_explicit(&t->all[i]->dropped, memory_order_relaxed);
    reader_exit(slot, e);
    return sum;
}

void rp__bus_owner_usage(rp__bus *bus, uint32_t owner, rp__bus_usage *out)
{
    memset(out, 0, sizeof *out);
    if (!bus)
        return;
    struct reader_slot *slot = my_slot(bus);
    unsigned e = reader_enter(bus, slot);
    struct table *t = atomic_load_explicit(&bus->table, memory_order_acquire);
    for (uint32_t i = 0; i < t->nsubs; i++) {
        struct sub *s = t->all[i];
        if (s->owner_id != owner)
            continue;
        out->cpu_ns += atomic_load_explicit(&s->cpu_ns, memory_order_relaxed);
        /* A batch under way counts from its start. */
        int64_t clock = atomic_load_explicit(&s->batch_clock, memory_order_acquire);
        if (clock) {
            int64_t cpu0 = atomic_load_explicit(&s->batch_cpu0, memory_order_relaxed);
            int64_t now = rp__os_cpu_clock_ns(clock - 1);
            if (now > cpu0)
                out->cpu_ns += (uint64_t)(now - cpu0);
        }
        out->share_dropped += atomic_load_explicit(&s->share_dropped, memory_order_relaxed);
        if (s->max_bytes) {
            uint64_t o = atomic_load_explicit(&s->out_bytes, memory_order_acquire);
            uint64_t in = atomic_load_explicit(&s->in_bytes, memory_order_relaxed);
            out->held_bytes += in > o ? in - o : 0;
        }
    }
    reader_exit(slot, e);
}

int rp__bus_stats_topic(const rp__bus *bus, uint32_t topic, rp__bus_topic_stats *out)
{
    if (!bus || !out || topic == 0 || topic > RP__TOPIC_MAX)
        return RP_ERR_INVAL;
    /* Counters are atomics inside a const bus: reading them changes nothing. */
    struct topic_counters *tc = &((rp__bus *)bus)->topics[topic];
    out->published = atomic_load_explicit(&tc->published, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&tc->dropped, memory_order_relaxed);
    out->unrouted = atomic_load_explicit(&tc->unrouted, memory_order_relaxed);
    out->full = atomic_load_explicit(&tc->full, memory_order_relaxed);
    return 0;
}

void rp__bus_stats_total(const rp__bus *bus, rp__bus_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!bus)
        return;
    rp__bus *b = (rp__bus *)bus;
    uint32_t count = rp__topic_count();
    for (uint32_t t = 1; t <= count && t <= RP__TOPIC_MAX; t++) {
        out->published += atomic_load_explicit(&b->topics[t].published, memory_order_relaxed);
        out->dropped += atomic_load_explicit(&b->topics[t].dropped, memory_order_relaxed);
        out->unrouted += atomic_load_explicit(&b->topics[t].unrouted, memory_order_relaxed);
    }
    out->refused = atomic_load_explicit(&b->refused, memory_order_relaxed);
    out->subscriptions = atomic_load_explicit(&b->nlive, memory_order_relaxed);
    out->full = atomic_load_explicit(&b->full_refused, memory_order_relaxed);
    out->queued_bytes = atomic_load_explicit(&b->queued_bytes, memory_order_relaxed);
    out->peak_bytes = atomic_load_explicit(&b->peak_bytes, memory_order_relaxed);
    out->max_bytes = b->opts.max_bytes;
    out->abandoned = atomic_load_explicit(&b->abandoned, memory_order_relaxed);
}

void rp__bus_abandon(rp__bus *bus)
{
    if (bus)
        atomic_store(&bus->abandon, 1);
}

uint64_t rp__bus_queued_bytes(const rp__bus *bus)
{
    return bus ? atomic_load_explicit(&((rp__bus *)bus)->queued_bytes, memory_order_relaxed) : 0;
}
