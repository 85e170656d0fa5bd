/*
 * core/event.h - events inside the agent.
 *
 * An event is one heap block: a header the bus uses (reference count, topic)
 * followed by the field storage. Events are immutable once published and
 * shared by reference: each holder owns one reference, and the last release
 * frees the block. The public type is struct rp_event from the SDK, opaque to
 * plugins.
 */
#ifndef RP_CORE_EVENT_H
#define RP_CORE_EVENT_H

#include <rampart/plugin.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* The part of an event the bus touches. First member of struct rp_event. */
typedef struct rp__event_head {
    atomic_uint refs;      /* references held; the block is freed at zero */
    uint32_t topic;        /* topic id from rp__topic_intern() */
    uint32_t producer;     /* id of the publishing plugin instance (0 = core) */
    uint32_t flags;        /* RP__EVENT_PUBLISHED once handed to the bus */
    int64_t publish_ns;    /* monotonic time of publish, for latency figures */
} rp__event_head;

#define RP__EVENT_PUBLISHED 0x1u

static inline rp__event_head *rp__event_head_of(const struct rp_event *ev)
{
    return (rp__event_head *)(void *)ev;
}

/* Frees the block; called by rp__event_release() at the last reference. */
void rp__event_free(struct rp_event *ev);

static inline void rp__event_retain(const struct rp_event *ev)
{
    atomic_fetch_add_explicit(&rp__event_head_of(ev)->refs, 1, memory_order_relaxed);
}

static inline void rp__event_release(const struct rp_event *ev)
{
    if (atomic_fetch_sub_explicit(&rp__event_head_of(ev)->refs, 1, memory_order_acq_rel) == 1)
        rp__event_free((struct rp_event *)ev);
}

static inline uint32_t rp__event_topic(const struct rp_event *ev)
{
    return rp__event_head_of(ev)->topic;
}

/*
 * Allocates an event of the given topic with one reference held by the
 * caller and payload_bytes of zeroed field storage (an event with no fields
 * when 0). Used by the field layer and by benchmarks that need bare events.
 * Returns NULL when out of memory.
 */
struct rp_event *rp__event_alloc(uint32_t topic, size_t payload_bytes);

#endif
