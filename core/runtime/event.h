/*
 * core/runtime/event.h - events inside the agent.
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
    atomic_uint refs;   /* references held; the block is freed at zero */
    uint32_t topic;     /* topic id from rp__topic_intern() */
    uint32_t producer;  /* id of the publishing plugin instance (0 = core) */
    uint32_t flags;     /* RP__EVENT_PUBLISHED once handed to the bus */
    uint32_t bytes;     /* memory the block holds, charged to the bus's byte cap */
    atomic_uint queued; /* bus queues holding it; its bytes are charged while > 0 */
    int64_t publish_ns; /* monotonic time of publish, for latency figures */
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
 * caller, no fields, and room for payload_bytes of field data inside the
 * block (more is allocated on demand). Benchmarks use it for bare events.
 * Returns NULL when out of memory.
 */
struct rp_event *rp__event_alloc(uint32_t topic, size_t payload_bytes);

/* Bytes of memory the event's block holds now (header, entries, data). The
 * bus charges this to its byte cap while the event is queued. */
uint32_t rp__event_mem_bytes(const struct rp_event *ev);

/* Caps: field data per event and fields per event. Setters return
 * RP_ERR_FULL past them. A value set again takes new space and its old bytes
 * stay counted, so setting one field many times can reach the cap. */
#define RP__EVENT_MAX_DATA   (64u * 1024)
#define RP__EVENT_MAX_FIELDS 256u

/* A string value (and each item of a string array) is stored with at most
 * RP__EVENT_STR_MAX bytes, cut before a UTF-8 sequence that would not fit;
 * the setter still succeeds, and the event gets the boolean field
 * RP__EVENT_TRUNCATED_FIELD = true so a consumer knows a value is
 * incomplete. Bounds what a hostile file name can cost per field. A length
 * of RP__EVENT_MAX_DATA or more is refused (RP_ERR_FULL) without reading
 * the value. Bytes values are not cut (the data cap bounds them). */
#define RP__EVENT_STR_MAX         4096u
#define RP__EVENT_TRUNCATED_FIELD "event.truncated"
/* Its field id (interned on first use; 0 if the registry is full). */
rp_field_id rp__event_truncated_field(void);

/*
 * Creates an event of a topic (id and name) for a producer, stamped with
 * @timestamp (now), event.id (UUIDv7) and event.kind ("alert" for the alert
 * topic, "metric" for agent.health, "event" otherwise). One reference for the
 * caller. Its block has room for what events of the topic needed before
 * (the most fields and data bytes seen at free, with slack), at most 32
 * fields and 1 KiB of data inline, which the first event of a topic gets;
 * more grows as for any event.
 */
int rp__event_create(uint32_t topic, const char *topic_name, uint32_t producer,
                     struct rp_event **out);

/* A new event of another topic with copies of src's fields, except event.id,
 * event.kind and @timestamp, which are stamped anew. */
int rp__event_copy(const struct rp_event *src, uint32_t topic, const char *topic_name,
                   uint32_t producer, struct rp_event **out);

/* Typed access with the signatures of the host API (rp_host_api.set_* and
 * get_*), which points at these directly. Setters fail with RP_ERR_PERM once
 * the event is published and for event.id and event.kind. */
int rp__event_set_i64(rp_event *ev, rp_field_id f, int64_t v);
int rp__event_set_u64(rp_event *ev, rp_field_id f, uint64_t v);
int rp__event_set_bool(rp_event *ev, rp_field_id f, int32_t v);
int rp__event_set_str(rp_event *ev, rp_field_id f, const char *v, uint64_t len);
int rp__event_set_bytes(rp_event *ev, rp_field_id f, const void *v, uint64_t len);
int rp__event_set_timestamp(rp_event *ev, rp_field_id f, int64_t unix_ns);
int rp__event_set_ip(rp_event *ev, rp_field_id f, const rp_ip *v);
int rp__event_set_str_array(rp_event *ev, rp_field_id f, const rp_str *items, uint32_t count);
int rp__event_get_i64(const rp_event *ev, rp_field_id f, int64_t *out);
int rp__event_get_u64(const rp_event *ev, rp_field_id f, uint64_t *out);
int rp__event_get_bool(const rp_event *ev, rp_field_id f, int32_t *out);
int rp__event_get_str(const rp_event *ev, rp_field_id f, const char **out, uint64_t *len);
int rp__event_get_bytes(const rp_event *ev, rp_field_id f, const void **out, uint64_t *len);
int rp__event_get_timestamp(const rp_event *ev, rp_field_id f, int64_t *out);
int rp__event_get_ip(const rp_event *ev, rp_field_id f, rp_ip *out);
int rp__event_get_str_array_count(const rp_event *ev, rp_field_id f, uint32_t *count);
int rp__event_get_str_array_item(const rp_event *ev, rp_field_id f, uint32_t index,
                                 const char **out, uint64_t *len);

/* Sets event.id or event.kind, which the setters refuse: an isolated
 * plugin's copy of an event keeps the original's (runtime/isolate_wire.h).
 * RP_ERR_INVAL for any other field. */
int rp__event_set_stamp(rp_event *ev, rp_field_id f, const char *v, uint64_t len);

/* A read-only view of one field, for encoders. ptr/len are set for strings,
 * bytes and IPs (ptr to an rp_ip); count for string arrays (items through
 * rp__event_get_str_array_item). Borrowed while a reference is held. */
typedef struct rp__field_view {
    rp_field_id id;
    uint32_t type;
    int64_t i64;
    uint64_t u64;
    const void *ptr;
    uint64_t len;
    uint32_t count;
} rp__field_view;

/* Fields in the order they were first set: the host's stamps first, then
 * each field where the first set put it (setting it again keeps its place),
 * so the order is stable for the event's life and the same for equal
 * sequences of calls. rp__event_field_id_at gives only id and type (type may
 * be NULL); both return RP_ERR_RANGE past the count. */
uint32_t rp__event_field_count(const rp_event *ev);
int rp__event_field_at(const rp_event *ev, uint32_t index, rp__field_view *out);
int rp__event_field_id_at(const rp_event *ev, uint32_t index, rp_field_id *id, uint32_t *type);

/* Marks the event published (immutable). The bus calls it. */
static inline void rp__event_freeze(struct rp_event *ev)
{
    rp__event_head_of(ev)->flags |= RP__EVENT_PUBLISHED;
}

#endif
