/*
 * core/runtime/bus.h - the in-process publish/subscribe bus (ARCHITECTURE.md §5).
 *
 * Producers (the loop thread, workers, detectors from dispatcher threads)
 * publish refcounted events by topic id; the bus routes each one through a
 * precomputed table (topic id -> subscriptions) and queues one reference per
 * matching subscription. A small pool of dispatcher threads runs the
 * subscribers' callbacks. See docs/bus.md for the design.
 *
 * Guarantees:
 * - rp__bus_publish never blocks on a subscriber: each subscription has a
 *   bounded lock-free queue. When it is full the event is dropped for that
 *   subscription only and counted (per subscription and per topic).
 * - A LOSSLESS subscription (the sink) never drops: past its queue, events go
 *   to an overflow list, counted and exposed (rp__bus_stats_sub() ->
 *   overflow_depth) so its owner can spill to disk. The list is bounded by
 *   the bus's byte cap below. The only loss left is an allocation failure of
 *   the list, counted as a drop.
 * - One byte cap (opts.max_bytes) covers the events queued for every
 *   subscription, the overflow lists included; each event counts once,
 *   whatever its fan-out, from publish until the last queue lets it go. At
 *   the cap rp__bus_publish refuses with RP_ERR_FULL (counted per topic and
 *   in total); what it accepted before is still delivered, so memory never
 *   grows with the input while the sink stays lossless for what entered.
 * - Fan-out is by reference (no copies); callbacks see events read-only.
 * - Order per producer: events published by one thread reach each
 *   subscription in publish order. There is no order across threads.
 * - A subscription's callback never runs on two threads at once, and
 *   callbacks of different subscriptions with the same owner id never
 *   overlap unless those subscriptions are RP__BUS_CONCURRENT.
 * - An idle bus costs no CPU: dispatchers spin for a short time after their
 *   last work, then sleep on a condition variable until a publish wakes
 *   them.
 *
 * Caps (and what happens at them):
 * - RP__BUS_MAX_SUBS live subscriptions per bus: rp__bus_subscribe returns
 *   RP_ERR_FULL.
 * - queue capacity per subscription (a power of two, RP__BUS_QUEUE_MIN ..
 *   RP__BUS_QUEUE_MAX): full -> drop and count (or overflow if LOSSLESS).
 * - RP__BUS_MAX_DISPATCHERS dispatcher threads.
 * - topics: RP__TOPIC_MAX (core/runtime/topic.h); ids beyond it are refused.
 */
#ifndef RP_CORE_BUS_H
#define RP_CORE_BUS_H

#include "runtime/event.h"

#include <stdint.h>

typedef struct rp__bus rp__bus;

#define RP__BUS_MAX_SUBS        1024u
#define RP__BUS_MAX_DISPATCHERS 16u
#define RP__BUS_QUEUE_MIN       2u
#define RP__BUS_QUEUE_MAX       (1u << 20)

#define RP__BUS_DEFAULT_DISPATCHERS 2u /* the target machines have 2 cores */
#define RP__BUS_DEFAULT_QUEUE       4096u
#define RP__BUS_DEFAULT_SPIN_NS     50000u /* 50 us */
#define RP__BUS_DEFAULT_BATCH       64u
#define RP__BUS_DEFAULT_MAX_BYTES   ((uint64_t)64 << 20)

typedef struct rp__bus_opts {
    /* Dispatcher threads, 1..RP__BUS_MAX_DISPATCHERS. */
    uint32_t dispatchers;
    /* Queue capacity of a subscription that asks for 0: a power of two in
     * RP__BUS_QUEUE_MIN..RP__BUS_QUEUE_MAX. */
    uint32_t queue_capacity;
    /* How long an idle dispatcher polls for work before it sleeps, in ns
     * (0 = sleep at once). Spinning saves a wake-up under steady load; the
     * cap (1 s) keeps an idle bus from burning a core. */
    uint32_t spin_ns;
    /* Events a dispatcher delivers from one subscription before it moves on
     * (fairness between subscriptions), 1..4096. */
    uint32_t batch;
    /* Cap on the bytes of queued events (see the guarantees above); 0 = no
     * cap. Events of the core (producer 0) and of the "alert" topic may go a
     * sixteenth past it, so alerts, the agent's own about a full bus
     * included, get through a flood of other events. */
    uint64_t max_bytes;
    /* Cap on the bytes of events queued for one subscription whose owner is
     * a plugin (owner != 0) and which is not LOSSLESS: its share of
     * max_bytes, so that one slow subscriber cannot hold the memory the
     * others (the sink) need. Past it, events to that subscription are
     * dropped and counted (dropped and share_dropped). Concurrent
     * publishers may pass it together by one event each. 0 = no cap. */
    uint64_t sub_max_bytes;
} rp__bus_opts;

/* Fills opts with the defaults above. */
void rp__bus_opts_init(rp__bus_opts *opts);

/*
 * Creates a stopped bus (no threads yet). opts is borrowed for the call; NULL
 * means the defaults. RP_ERR_INVAL for an out-of-range option, RP_ERR_NOMEM.
 * The caller owns *out and frees it with rp__bus_destroy().
 */
int rp__bus_create(const rp__bus_opts *opts, rp__bus **out);

/*
 * Starts the dispatcher threads; publish is accepted from then on. Control
 * thread only (not concurrently with stop/destroy, never from a callback).
 * RP_ERR_INVAL if already started or stopped (a bus runs once), or the
 * pthread error mapped to RP_ERR_NOMEM / RP_ERR_INTERNAL.
 */
int rp__bus_start(rp__bus *bus);

/*
 * Stops the bus: publish is refused from now on (RP_ERR_STOPPED, also from
 * callbacks, so an alert raised while draining is released, not queued),
 * then everything already queued, overflow lists included, is delivered
 * before the dispatcher threads are joined. Nothing queued is lost, which
 * is what the sink needs at shutdown. Returns when the dispatchers are gone.
 * Control thread only; RP_ERR_BUSY from a callback (a dispatcher cannot join
 * itself). Idempotent: 0 if never started or already stopped. A stopped bus
 * cannot be started again.
 */
int rp__bus_stop(rp__bus *bus);

/*
 * Stops (see above) if running, then frees the bus and releases every event
 * it still holds. NULL is a no-op. Control thread only, never from a
 * callback (logged and ignored: freeing the bus under a running callback
 * would be a use after free).
 */
void rp__bus_destroy(rp__bus *bus);

/*
 * A subscriber's callback. ev is borrowed for the call (rp__event_retain()
 * to keep it) and read-only. Runs on a dispatcher thread. A non-zero return
 * is counted in the subscription's errors and does not stop delivery.
 */
typedef int (*rp__bus_on_event)(void *arg, const struct rp_event *ev);

/* Subscription flags. */
/* Never drop: past the queue, spill to the counted overflow list (the sink). */
#define RP__BUS_LOSSLESS 0x1u
/* This subscription's callback may run at the same time as other
 * subscriptions of the same owner (the owner declared its on_event safe to
 * call concurrently). Events of one subscription are still delivered by
 * one thread at a time, which is what keeps per-producer order. */
#define RP__BUS_CONCURRENT 0x2u
/* The dispatcher measures the thread CPU time of each batch of this
 * subscription's callbacks (cpu_ns in its stats): a plugin's CPU budget.
 * Once per batch, not per event: the thread CPU clock is a system call. */
#define RP__BUS_METERED 0x4u

/*
 * Subscribes on_event(arg, ev) to the events whose topic matches pattern: an
 * exact topic ("process.exec"), a prefix ("file.*") or "*". pattern is
 * copied; arg is passed back untouched and must stay valid until
 * rp__bus_unsubscribe (or destroy) returns. owner is the plugin instance id:
 * callbacks of non-CONCURRENT subscriptions of one owner are serialized
 * (0, the core, is an owner like any other). Serializing never blocks a
 * dispatcher: a subscription whose owner is busy waits on the owner and
 * the dispatcher moves on. A subscription from inside a callback is fine;
 * the table it replaces is freed by a later subscribe/unsubscribe from a
 * non-dispatcher thread, or at destroy.
 * queue_capacity 0 means the bus default; otherwise a power of two in
 * RP__BUS_QUEUE_MIN..RP__BUS_QUEUE_MAX. The new id (never 0, never reused)
 * goes to *sub_id.
 *
 * Safe from any thread at any time before stop, including while events
 * flow and from a callback: the routing table is rebuilt and swapped
 * atomically. Events published before the call returns may or may not
 * reach the new subscription. RP_ERR_INVAL (bad pattern, capacity, flags or
 * NULL), RP_ERR_FULL (RP__BUS_MAX_SUBS), RP_ERR_NOMEM, RP_ERR_STOPPED.
 */
int rp__bus_subscribe(rp__bus *bus, const char *pattern, rp__bus_on_event on_event, void *arg,
                      uint32_t owner, uint32_t flags, uint32_t queue_capacity, uint64_t *sub_id);

/*
 * Removes a subscription. Returns once its callback is not running and will
 * never run again (it waits for the callback in progress, if any: at most
 * one); events still queued for it are released undelivered, counted in
 * the topics' dropped figures and stored in *discarded (may be NULL). arg
 * may be freed afterwards. Safe from any thread except a dispatcher
 * (RP_ERR_BUSY from a callback: it would wait for itself). RP_ERR_NOTFOUND
 * for an unknown id; RP_ERR_NOMEM if the new routing table cannot be
 * allocated (the subscription is then left as it was).
 */
int rp__bus_unsubscribe(rp__bus *bus, uint64_t sub_id, uint64_t *discarded);

/*
 * Publishes ev, taking over the caller's reference in every case (on error
 * the event is released). Never blocks and never waits for a subscriber.
 * On the first publish of an event the bus stamps head.publish_ns (monotonic
 * clock) and freezes it (RP__EVENT_PUBLISHED); publishing it again, which
 * needs another reference, keeps the first stamp, so the bus never writes to
 * an event others may be reading.
 *
 * Safe from any thread, callbacks included. Returns 0 once the event is
 * routed (also when no subscription matched: counted as unrouted, and when
 * some subscriptions dropped it: counted as dropped); RP_ERR_FULL when the
 * queued bytes would pass opts.max_bytes (counted per topic in full);
 * RP_ERR_AGAIN before start, RP_ERR_STOPPED from stop on, RP_ERR_INVAL for
 * NULL or a topic id that was never interned.
 */
int rp__bus_publish(rp__bus *bus, struct rp_event *ev);

/* Counters of one subscription. Totals only grow; depths are a snapshot. */
typedef struct rp__bus_sub_stats {
    uint64_t id;
    uint32_t owner;
    uint32_t flags;
    uint32_t capacity;       /* queue capacity */
    uint64_t delivered;      /* callbacks run */
    uint64_t errors;         /* callbacks that returned non-zero */
    uint64_t dropped;        /* not queued: queue full (or overflow allocation failed) */
    uint64_t overflowed;     /* LOSSLESS: events that went to the overflow list */
    uint64_t queued;         /* events in the queue now */
    uint64_t overflow_depth; /* LOSSLESS: events in the overflow list now */
    uint64_t high_water;     /* largest queued + overflow_depth a dispatcher saw at
                                the start of a batch (exact once 8+ are queued) */
    uint64_t held_bytes;     /* bytes of its queued events, when opts.sub_max_bytes caps it
                                (else 0); events in the batch being delivered included */
    uint64_t share_dropped;  /* of dropped: refused at opts.sub_max_bytes */
    uint64_t cpu_ns;         /* METERED: thread CPU time of its callbacks */
} rp__bus_sub_stats;

/*
 * Copies the counters of a live subscription into *out. Lock-free, safe from
 * any thread (callbacks included: the sink reads its own overflow_depth to
 * decide when to spill). RP_ERR_NOTFOUND for an unknown id.
 */
int rp__bus_stats_sub(rp__bus *bus, uint64_t sub_id, rp__bus_sub_stats *out);

/* Events dropped (queue full) by the live subscriptions of owner, summed:
 * what a plugin instance lost since it subscribed. Lock-free, any thread. */
uint64_t rp__bus_owner_dropped(rp__bus *bus, uint32_t owner);

/* What the live subscriptions of owner use, summed: the CPU time of their
 * METERED callbacks (a batch under way included, read from its
 * dispatcher's CPU clock: one system call per such batch), events dropped
 * at their share of the byte cap, and the bytes they hold now. Lock-free,
 * any thread (the watchdog's budget checks). */
typedef struct rp__bus_usage {
    uint64_t cpu_ns;
    uint64_t share_dropped;
    uint64_t held_bytes;
} rp__bus_usage;
void rp__bus_owner_usage(rp__bus *bus, uint32_t owner, rp__bus_usage *out);

/* Counters of one topic. */
typedef struct rp__bus_topic_stats {
    uint64_t published; /* accepted by rp__bus_publish */
    uint64_t dropped;   /* per-subscription drops: an event dropped by two
                           subscriptions counts twice; unsubscribe discards too */
    uint64_t unrouted;  /* published with no matching subscription */
    uint64_t full;      /* refused at the byte cap (not in published) */
} rp__bus_topic_stats;

/* Copies the counters of a topic id. Safe from any thread. RP_ERR_INVAL for
 * an id out of range (a valid id never published reads as zeros). */
int rp__bus_stats_topic(const rp__bus *bus, uint32_t topic, rp__bus_topic_stats *out);

/* Totals over all topics, plus publishes refused (before start / after
 * stop / invalid topic) and live subscriptions. Safe from any thread. */
typedef struct rp__bus_stats {
    uint64_t published;
    uint64_t dropped;
    uint64_t unrouted;
    uint64_t refused;
    uint32_t subscriptions;
    uint64_t full;         /* publishes refused at the byte cap */
    uint64_t queued_bytes; /* bytes of queued events now */
    uint64_t peak_bytes;   /* the most queued bytes a publish saw */
    uint64_t max_bytes;    /* the cap (0 = none) */
    uint64_t abandoned;    /* deliveries skipped after rp__bus_abandon */
} rp__bus_stats;
void rp__bus_stats_total(const rp__bus *bus, rp__bus_stats *out);

/*
 * For a stop that has run out of time: from now on, queued events are
 * released without running callbacks (counted in abandoned), so a drain in
 * rp__bus_stop finishes at once. The callback running now completes. Any
 * thread, lock-free; cannot be undone.
 */
void rp__bus_abandon(rp__bus *bus);

/* Bytes of the events queued now (each event once). Lock-free, any thread. */
uint64_t rp__bus_queued_bytes(const rp__bus *bus);

#endif
