/* core/runtime/event.c - event blocks: typed fields in one arena, refcounted. */
#include "runtime/event.h"
#include "runtime/fields.h"
#include "runtime/topic.h"
#include "os/os.h"
#include "lib/uuid.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* A process event with full enrichment has about 25 fields and 1 KiB of
 * values: the first event of a type gets room for that, so that it fits
 * without growing (each growth is a malloc and a copy on the publisher's
 * hot path). Later events of the type get what the type has needed so far
 * (see size_hint), never more than this. */
#define INLINE_FIELDS 32u
#define DEFAULT_DATA  1024u

struct entry {
    rp_field_id id;
    uint32_t type;
    union {
        int64_t i64;
        uint64_t u64;
        struct {
            uint32_t off, len;
        } ref;
    } v;
};

/* One heap block: this header, then inline_fields entries, then
 * inline_cap bytes of data. Past them, entries or data move to a heap
 * array of their own. */
struct rp_event {
    rp__event_head head;
    uint32_t nfields, cap_fields;
    uint32_t used, cap;
    uint32_t inline_fields, inline_cap;
    uint64_t present;      /* bit id % 64 set for every field id held: most
                              lookups of an absent field end here */
    struct entry *entries; /* the block's inline entries or a heap array */
    unsigned char *data;   /* the block's inline data or a heap buffer */
    _Alignas(8) unsigned char inline_area[];
};

static struct entry *inline_entries(const struct rp_event *ev)
{
    return (struct entry *)(void *)((struct rp_event *)ev)->inline_area;
}

static unsigned char *inline_data(const struct rp_event *ev)
{
    return ((struct rp_event *)ev)->inline_area + (size_t)ev->inline_fields * sizeof(struct entry);
}

static struct rp_event *alloc_block(uint32_t topic, uint32_t nfields, size_t payload_bytes)
{
    if (payload_bytes > RP__EVENT_MAX_DATA)
        payload_bytes = RP__EVENT_MAX_DATA;
    struct rp_event *ev = malloc(sizeof *ev + nfields * sizeof(struct entry) + payload_bytes);
    if (!ev)
        return NULL;
    /* The inline entries and data are written before they are read. */
    memset(ev, 0, sizeof *ev);
    atomic_init(&ev->head.refs, 1);
    atomic_init(&ev->head.queued, 0);
    ev->head.topic = topic;
    ev->cap_fields = ev->inline_fields = nfields;
    ev->cap = ev->inline_cap = (uint32_t)payload_bytes;
    ev->entries = inline_entries(ev);
    ev->data = inline_data(ev);
    return ev;
}

struct rp_event *rp__event_alloc(uint32_t topic, size_t payload_bytes)
{
    return alloc_block(topic, INLINE_FIELDS, payload_bytes);
}

uint32_t rp__event_mem_bytes(const struct rp_event *ev)
{
    size_t n = sizeof *ev + (size_t)ev->inline_fields * sizeof(struct entry) + ev->inline_cap;
    if (ev->entries != inline_entries(ev))
        n += (size_t)ev->cap_fields * sizeof(struct entry);
    if (ev->data != inline_data(ev))
        n += ev->cap;
    return (uint32_t)n;
}

/*
 * What events of each type have needed: fields in the high 16 bits, data
 * bytes in the low 16, the most seen at free, capped at INLINE_FIELDS and
 * DEFAULT_DATA. An event of a type starts with that room (plus a little),
 * so a 10-field event takes well under half the block of a full process
 * event, which saves memory, cache and bus bytes; the cap keeps any type at
 * or under the size every event had before. 0: nothing seen yet.
 */
static _Atomic uint32_t size_hint[RP__TOPIC_MAX + 1];

#define HINT_FIELDS(h) ((h) >> 16)
#define HINT_DATA(h)   ((h)&0xffffu)

static void note_size(const struct rp_event *ev)
{
    uint32_t t = ev->head.topic;
    if (t > RP__TOPIC_MAX)
        return;
    uint32_t f = ev->nfields < INLINE_FIELDS ? ev->nfields : INLINE_FIELDS;
    uint32_t d = ev->used < DEFAULT_DATA ? ev->used : DEFAULT_DATA;
    uint32_t h = atomic_load_explicit(&size_hint[t], memory_order_relaxed);
    /* Written only when a type needs more than before: rare, so the hint's
     * cache line stays shared between the threads that read it. */
    while (f > HINT_FIELDS(h) || d > HINT_DATA(h)) {
        uint32_t nf = f > HINT_FIELDS(h) ? f : HINT_FIELDS(h);
        uint32_t nd = d > HINT_DATA(h) ? d : HINT_DATA(h);
        if (atomic_compare_exchange_weak_explicit(&size_hint[t], &h, nf << 16 | nd,
                                                  memory_order_relaxed, memory_order_relaxed))
            break;
    }
}

/* A new event's room: what its type needed so far with some slack (values
 * vary in length from event to event), or the full size for a first one. */
static struct rp_event *alloc_for_topic(uint32_t topic)
{
    uint32_t h =
        topic <= RP__TOPIC_MAX ? atomic_load_explicit(&size_hint[topic], memory_order_relaxed) : 0;
    if (h == 0)
        return alloc_block(topic, INLINE_FIELDS, DEFAULT_DATA);
    uint32_t f = HINT_FIELDS(h) + 2;
    uint32_t d = (HINT_DATA(h) + HINT_DATA(h) / 4 + 63) & ~63u;
    return alloc_block(topic, f < INLINE_FIELDS ? f : INLINE_FIELDS,
                       d < DEFAULT_DATA ? d : DEFAULT_DATA);
}

void rp__event_free(struct rp_event *ev)
{
    note_size(ev);
    if (ev->entries != inline_entries(ev))
        free(ev->entries);
    if (ev->data != inline_data(ev))
        free(ev->data);
    free(ev);
}

/* Field types never change once registered (fields.h), so the setters keep
 * a copy instead of asking the registry, which checks its once-flag on every
 * call, ten times an event. 0: not looked up yet. */
static _Atomic uint8_t type_cache[RP__FIELD_MAX + 1];

static uint32_t field_type(rp_field_id f)
{
    if (f <= RP__FIELD_MAX) {
        uint8_t t = atomic_load_explicit(&type_cache[f], memory_order_relaxed);
        if (t)
            return t;
    }
    uint32_t t = rp__field_type(f);
    if (t && f <= RP__FIELD_MAX)
        atomic_store_explicit(&type_cache[f], (uint8_t)t, memory_order_relaxed);
    return t;
}

static struct entry *find(const struct rp_event *ev, rp_field_id f)
{
    if (!(ev->present & ((uint64_t)1 << (f % 64))))
        return NULL;
    for (uint32_t i = 0; i < ev->nfields; i++)
        if (ev->entries[i].id == f)
            return &ev->entries[i];
    return NULL;
}

/* Finds or adds the entry for a field of the given type. */
static int slot_for(struct rp_event *ev, rp_field_id f, uint32_t type, struct entry **out,
                    int *added)
{
    *added = 0;
    uint32_t known = field_type(f);
    if (known == 0)
        return RP_ERR_NOTFOUND;
    if (known != type)
        return RP_ERR_TYPE;
    if (ev->head.flags & RP__EVENT_PUBLISHED)
        return RP_ERR_PERM;
    struct entry *e = find(ev, f);
    if (!e) {
        if (ev->nfields == ev->cap_fields) {
            if (ev->cap_fields >= RP__EVENT_MAX_FIELDS)
                return RP_ERR_FULL;
            uint32_t ncap = ev->cap_fields * 2;
            if (ncap > RP__EVENT_MAX_FIELDS)
                ncap = RP__EVENT_MAX_FIELDS; /* an inline room sized by a hint is no power of two */
            struct entry *n = malloc(sizeof *n * ncap);
            if (!n)
                return RP_ERR_NOMEM;
            memcpy(n, ev->entries, sizeof *n * ev->nfields);
            if (ev->entries != inline_entries(ev))
                free(ev->entries);
            ev->entries = n;
            ev->cap_fields = ncap;
        }
        e = &ev->entries[ev->nfields++];
        *added = 1;
        ev->present |= (uint64_t)1 << (f % 64);
        e->id = f;
        e->type = type;
        e->v.u64 = 0;
    }
    *out = e;
    return 0;
}

/* Reserves len bytes of data aligned to align; returns the offset. */
static int reserve(struct rp_event *ev, uint64_t len, uint32_t align, uint32_t *off)
{
    uint64_t start = ((uint64_t)ev->used + align - 1) & ~(uint64_t)(align - 1);
    uint64_t end = start + len;
    if (end > RP__EVENT_MAX_DATA)
        return RP_ERR_FULL;
    if (end > ev->cap) {
        uint64_t ncap = ev->cap ? ev->cap : 64;
        while (ncap < end)
            ncap *= 2;
        if (ncap > RP__EVENT_MAX_DATA)
            ncap = RP__EVENT_MAX_DATA;
        unsigned char *n = malloc(ncap);
        if (!n)
            return RP_ERR_NOMEM;
        memcpy(n, ev->data, ev->used);
        if (ev->data != inline_data(ev))
            free(ev->data);
        ev->data = n;
        ev->cap = (uint32_t)ncap;
    }
    ev->used = (uint32_t)end;
    *off = (uint32_t)start;
    return 0;
}

static int is_readonly(rp_field_id f)
{
    return f == RP__F_EVENT_ID || f == RP__F_EVENT_KIND;
}

static int set_scalar(rp_event *ev, rp_field_id f, uint32_t type, uint64_t bits)
{
    struct entry *e;
    int added;
    int rc = slot_for(ev, f, type, &e, &added);
    if (rc == 0)
        e->v.u64 = bits;
    return rc;
}

/* Stores bytes (with a NUL after them, so strings come back terminated). */
static int set_blob(rp_event *ev, rp_field_id f, uint32_t type, const void *p, uint64_t len)
{
    if (len >= RP__EVENT_MAX_DATA)
        return RP_ERR_FULL;
    if (len && !p)
        return RP_ERR_INVAL;
    struct entry *e;
    int added;
    int rc = slot_for(ev, f, type, &e, &added);
    if (rc != 0)
        return rc;
    /* reserve may move the data buffer, never the entries. */
    uint32_t off;
    if ((rc = reserve(ev, len + 1, 1, &off)) != 0) {
        if (added)
            ev->nfields--; /* an entry without a value must not stay */
        return rc;
    }
    if (len)
        memcpy(ev->data + off, p, len);
    ev->data[off + len] = '\0';
    e->v.ref.off = off;
    e->v.ref.len = (uint32_t)len;
    return 0;
}

int rp__event_set_stamp(rp_event *ev, rp_field_id f, const char *v, uint64_t len)
{
    if (!is_readonly(f))
        return RP_ERR_INVAL;
    return set_blob(ev, f, RP_TYPE_STR, v, len);
}

int rp__event_set_i64(rp_event *ev, rp_field_id f, int64_t v)
{
    if (is_readonly(f))
        return RP_ERR_PERM;
    return set_scalar(ev, f, RP_TYPE_I64, (uint64_t)v);
}

int rp__event_set_u64(rp_event *ev, rp_field_id f, uint64_t v)
{
    if (is_readonly(f))
        return RP_ERR_PERM;
    return set_scalar(ev, f, RP_TYPE_U64, v);
}

int rp__event_set_bool(rp_event *ev, rp_field_id f, int32_t v)
{
    if (is_readonly(f))
        return RP_ERR_PERM;
    return set_scalar(ev, f, RP_TYPE_BOOL, v != 0);
}

int rp__event_set_timestamp(rp_event *ev, rp_field_id f, int64_t unix_ns)
{
    if (is_readonly(f))
        return RP_ERR_PERM;
    return set_scalar(ev, f, RP_TYPE_TIMESTAMP, (uint64_t)unix_ns);
}

/* The id of event.truncated, interned on first use. */
static atomic_uint truncated_field;

rp_field_id rp__event_truncated_field(void)
{
    rp_field_id f = atomic_load_explicit(&truncated_field, memory_order_relaxed);
    if (f == 0) {
        if (rp__field_intern(RP__EVENT_TRUNCATED_FIELD, strlen(RP__EVENT_TRUNCATED_FIELD),
                             RP_TYPE_BOOL, &f) != 0)
            return 0;
        atomic_store_explicit(&truncated_field, f, memory_order_relaxed);
    }
    return f;
}

static void mark_truncated(rp_event *ev)
{
    rp_field_id f = rp__event_truncated_field();
    if (f)
        set_scalar(ev, f, RP_TYPE_BOOL, 1);
}

/* The length a string is stored with: at most RP__EVENT_STR_MAX bytes, cut
 * before a UTF-8 sequence that would not fit whole. */
static uint64_t capped_len(rp_event *ev, const char *v, uint64_t len)
{
    /* A length past the event's whole data cap cannot be a real string's:
     * refused by set_blob as before, never read. */
    if (len <= RP__EVENT_STR_MAX || !v || len >= RP__EVENT_MAX_DATA)
        return len;
    uint64_t n = RP__EVENT_STR_MAX;
    for (int k = 0; k < 3 && n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80; k++)
        n--;
    mark_truncated(ev);
    return n;
}

int rp__event_set_str(rp_event *ev, rp_field_id f, const char *v, uint64_t len)
{
    if (is_readonly(f))
        return RP_ERR_PERM;
    if (field_type(f) == RP_TYPE_STR && !(ev->head.flags & RP__EVENT_PUBLISHED))
        len = capped_len(ev, v, len);
    return set_blob(ev, f, RP_TYPE_STR, v, len);
}

int rp__event_set_bytes(rp_event *ev, rp_field_id f, const void *v, uint64_t len)
{
    if (is_readonly(f))
        return RP_ERR_PERM;
    return set_blob(ev, f, RP_TYPE_BYTES, v, len);
}

int rp__event_set_ip(rp_event *ev, rp_field_id f, const rp_ip *v)
{
    if (is_readonly(f))
        return RP_ERR_PERM;
    if (!v || (v->family != 4 && v->family != 6))
        return RP_ERR_INVAL;
    return set_blob(ev, f, RP_TYPE_IP, v, sizeof *v);
}

int rp__event_set_str_array(rp_event *ev, rp_field_id f, const rp_str *items, uint32_t count)
{
    if (is_readonly(f))
        return RP_ERR_PERM;
    if (count && !items)
        return RP_ERR_INVAL;
    if (field_type(f) != RP_TYPE_STR_ARRAY)
        return field_type(f) == 0 ? RP_ERR_NOTFOUND : RP_ERR_TYPE;
    if (ev->head.flags & RP__EVENT_PUBLISHED)
        return RP_ERR_PERM;
    uint64_t total = 4 + 8 * (uint64_t)count;
    int cut = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (items[i].len && !items[i].ptr)
            return RP_ERR_INVAL;
        if (items[i].len >= RP__EVENT_MAX_DATA) /* not a real length: never read */
            return RP_ERR_FULL;
        uint64_t ilen = items[i].len > RP__EVENT_STR_MAX ? RP__EVENT_STR_MAX : items[i].len;
        cut |= ilen != items[i].len;
        total += ilen + 1;
        if (total > RP__EVENT_MAX_DATA)
            return RP_ERR_FULL;
    }
    struct entry *e;
    int added;
    int rc = slot_for(ev, f, RP_TYPE_STR_ARRAY, &e, &added);
    if (rc != 0)
        return rc;
    uint32_t off;
    if ((rc = reserve(ev, total, 4, &off)) != 0) {
        if (added)
            ev->nfields--;
        return rc;
    }
    unsigned char *base = ev->data + off;
    memcpy(base, &count, 4);
    uint32_t pos = off + 4 + 8 * count;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len = (uint32_t)items[i].len;
        if (len > RP__EVENT_STR_MAX) {
            /* The same cut as capped_len, without marking per item. */
            len = RP__EVENT_STR_MAX;
            for (int k = 0; k < 3 && len > 0 && ((unsigned char)items[i].ptr[len] & 0xC0) == 0x80;
                 k++)
                len--;
        }
        memcpy(base + 4 + 8 * i, &pos, 4);
        memcpy(base + 8 + 8 * i, &len, 4);
        if (len)
            memcpy(ev->data + pos, items[i].ptr, len);
        ev->data[pos + len] = '\0';
        pos += len + 1;
    }
    e->v.ref.off = off;
    e->v.ref.len = (uint32_t)total;
    if (cut)
        mark_truncated(ev);
    return 0;
}

static int get_entry(const rp_event *ev, rp_field_id f, uint32_t type, const struct entry **out)
{
    const struct entry *e = find(ev, f);
    if (!e)
        return RP_ERR_NOTFOUND;
    if (e->type != type)
        return RP_ERR_TYPE;
    *out = e;
    return 0;
}

int rp__event_get_i64(const rp_event *ev, rp_field_id f, int64_t *out)
{
    const struct entry *e;
    int rc = get_entry(ev, f, RP_TYPE_I64, &e);
    if (rc == 0)
        *out = e->v.i64;
    return rc;
}

int rp__event_get_u64(const rp_event *ev, rp_field_id f, uint64_t *out)
{
    const struct entry *e;
    int rc = get_entry(ev, f, RP_TYPE_U64, &e);
    if (rc == 0)
        *out = e->v.u64;
    return rc;
}

int rp__event_get_bool(const rp_event *ev, rp_field_id f, int32_t *out)
{
    const struct entry *e;
    int rc = get_entry(ev, f, RP_TYPE_BOOL, &e);
    if (rc == 0)
        *out = e->v.u64 != 0;
    return rc;
}

int rp__event_get_timestamp(const rp_event *ev, rp_field_id f, int64_t *out)
{
    const struct entry *e;
    int rc = get_entry(ev, f, RP_TYPE_TIMESTAMP, &e);
    if (rc == 0)
        *out = e->v.i64;
    return rc;
}

int rp__event_get_str(const rp_event *ev, rp_field_id f, const char **out, uint64_t *len)
{
    const struct entry *e;
    int rc = get_entry(ev, f, RP_TYPE_STR, &e);
    if (rc == 0) {
        *out = (const char *)ev->data + e->v.ref.off;
        if (len)
            *len = e->v.ref.len;
    }
    return rc;
}

int rp__event_get_bytes(const rp_event *ev, rp_field_id f, const void **out, uint64_t *len)
{
    const struct entry *e;
    int rc = get_entry(ev, f, RP_TYPE_BYTES, &e);
    if (rc == 0) {
        *out = ev->data + e->v.ref.off;
        *len = e->v.ref.len;
    }
    return rc;
}

int rp__event_get_ip(const rp_event *ev, rp_field_id f, rp_ip *out)
{
    const struct entry *e;
    int rc = get_entry(ev, f, RP_TYPE_IP, &e);
    if (rc == 0)
        memcpy(out, ev->data + e->v.ref.off, sizeof *out);
    return rc;
}

int rp__event_get_str_array_count(const rp_event *ev, rp_field_id f, uint32_t *count)
{
    const struct entry *e;
    int rc = get_entry(ev, f, RP_TYPE_STR_ARRAY, &e);
    if (rc == 0)
        memcpy(count, ev->data + e->v.ref.off, 4);
    return rc;
}

int rp__event_get_str_array_item(const rp_event *ev, rp_field_id f, uint32_t index,
                                 const char **out, uint64_t *len)
{
    const struct entry *e;
    int rc = get_entry(ev, f, RP_TYPE_STR_ARRAY, &e);
    if (rc != 0)
        return rc;
    const unsigned char *base = ev->data + e->v.ref.off;
    uint32_t count, pos, n;
    memcpy(&count, base, 4);
    if (index >= count)
        return RP_ERR_RANGE;
    memcpy(&pos, base + 4 + 8 * index, 4);
    memcpy(&n, base + 8 + 8 * index, 4);
    *out = (const char *)ev->data + pos;
    if (len)
        *len = n;
    return 0;
}

uint32_t rp__event_field_count(const rp_event *ev)
{
    return ev->nfields;
}

int rp__event_field_id_at(const rp_event *ev, uint32_t index, rp_field_id *id, uint32_t *type)
{
    if (index >= ev->nfields)
        return RP_ERR_RANGE;
    *id = ev->entries[index].id;
    if (type)
        *type = ev->entries[index].type;
    return 0;
}

int rp__event_field_at(const rp_event *ev, uint32_t index, rp__field_view *out)
{
    if (index >= ev->nfields)
        return RP_ERR_RANGE;
    const struct entry *e = &ev->entries[index];
    memset(out, 0, sizeof *out);
    out->id = e->id;
    out->type = e->type;
    switch (e->type) {
    case RP_TYPE_I64:
    case RP_TYPE_TIMESTAMP:
        out->i64 = e->v.i64;
        break;
    case RP_TYPE_U64:
    case RP_TYPE_BOOL:
        out->u64 = e->v.u64;
        break;
    case RP_TYPE_STR_ARRAY:
        memcpy(&out->count, ev->data + e->v.ref.off, 4);
        break;
    default:
        out->ptr = ev->data + e->v.ref.off;
        out->len = e->v.ref.len;
        break;
    }
    return 0;
}

/* Sets the host-owned fields, bypassing the read-only rule. */
static int stamp(struct rp_event *ev, const char *topic_name)
{
    char id[RP__UUID_STR_LEN + 1];
    int64_t now = rp__os_time_ns();
    int rc = rp__uuid7(now / 1000000, id);
    if (rc != 0)
        return rc;
    const char *kind = "event";
    if (topic_name && strcmp(topic_name, "alert") == 0)
        kind = "alert";
    else if (topic_name && strcmp(topic_name, "agent.health") == 0)
        kind = "metric";
    if ((rc = set_scalar(ev, RP__F_TIMESTAMP, RP_TYPE_TIMESTAMP, (uint64_t)now)) != 0 ||
        (rc = set_blob(ev, RP__F_EVENT_ID, RP_TYPE_STR, id, RP__UUID_STR_LEN)) != 0 ||
        (rc = set_blob(ev, RP__F_EVENT_KIND, RP_TYPE_STR, kind, strlen(kind))) != 0)
        return rc;
    return 0;
}

int rp__event_create(uint32_t topic, const char *topic_name, uint32_t producer,
                     struct rp_event **out)
{
    struct rp_event *ev = alloc_for_topic(topic);
    if (!ev)
        return RP_ERR_NOMEM;
    ev->head.producer = producer;
    int rc = stamp(ev, topic_name);
    if (rc != 0) {
        rp__event_free(ev);
        return rc;
    }
    *out = ev;
    return 0;
}

int rp__event_copy(const struct rp_event *src, uint32_t topic, const char *topic_name,
                   uint32_t producer, struct rp_event **out)
{
    size_t want = (size_t)src->used + 64;
    struct rp_event *ev = rp__event_alloc(topic, want < DEFAULT_DATA ? DEFAULT_DATA : want);
    if (!ev)
        return RP_ERR_NOMEM;
    ev->head.producer = producer;
    int rc = stamp(ev, topic_name);
    for (uint32_t i = 0; rc == 0 && i < src->nfields; i++) {
        const struct entry *e = &src->entries[i];
        if (e->id == RP__F_TIMESTAMP || is_readonly(e->id))
            continue;
        switch (e->type) {
        case RP_TYPE_I64:
        case RP_TYPE_U64:
        case RP_TYPE_BOOL:
        case RP_TYPE_TIMESTAMP:
            rc = set_scalar(ev, e->id, e->type, e->v.u64);
            break;
        case RP_TYPE_STR_ARRAY: {
            struct entry *d;
            uint32_t off;
            int added;
            rc = slot_for(ev, e->id, e->type, &d, &added);
            if (rc == 0)
                rc = reserve(ev, e->v.ref.len, 4, &off);
            if (rc == 0) {
                /* Item offsets are absolute: rebase them. */
                unsigned char *base = ev->data + off;
                memcpy(base, src->data + e->v.ref.off, e->v.ref.len);
                uint32_t count;
                memcpy(&count, base, 4);
                for (uint32_t k = 0; k < count; k++) {
                    uint32_t pos;
                    memcpy(&pos, base + 4 + 8 * k, 4);
                    pos = pos - e->v.ref.off + off;
                    memcpy(base + 4 + 8 * k, &pos, 4);
                }
                d->v.ref.off = off;
                d->v.ref.len = e->v.ref.len;
            }
            break;
        }
        default:
            rc = set_blob(ev, e->id, e->type, src->data + e->v.ref.off, e->v.ref.len);
            break;
        }
    }
    if (rc != 0) {
        rp__event_free(ev);
        return rc;
    }
    *out = ev;
    return 0;
}
