/* core/runtime/isolate_wire.c - rings and the binary event form between the
 * worker and an isolated plugin's sandbox (isolate_wire.h). */
#include "runtime/isolate_wire.h"
#include "runtime/event.h"
#include "runtime/fields.h"
#include "runtime/topic.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN8(n) (((uint64_t)(n) + 7u) & ~(uint64_t)7u)

int rp__iso_end_init(rp__iso_end *e, void *mem, uint64_t size, int init)
{
    if (!e || !mem || size < 4096 || (size & (size - 1)) != 0)
        return RP_ERR_INVAL;
    e->ring = mem;
    e->data = (unsigned char *)mem + RP__ISO_RING_HDR;
    e->size = size;
    if (init) {
        atomic_store(&e->ring->head, 0);
        atomic_store(&e->ring->tail, 0);
        atomic_store(&e->ring->sleeping, 0);
    }
    e->pos = 0;
    return 0;
}

/* Copies len bytes into the ring at position pos, wrapping at the end. */
static void ring_write(rp__iso_end *e, uint64_t pos, const void *src, uint64_t len)
{
    uint64_t off = pos & (e->size - 1);
    uint64_t first = e->size - off < len ? e->size - off : len;
    memcpy(e->data + off, src, (size_t)first);
    if (len > first)
        memcpy(e->data, (const unsigned char *)src + first, (size_t)(len - first));
}

static void ring_read(const rp__iso_end *e, uint64_t pos, void *dst, uint64_t len)
{
    uint64_t off = pos & (e->size - 1);
    uint64_t first = e->size - off < len ? e->size - off : len;
    memcpy(dst, e->data + off, (size_t)first);
    if (len > first)
        memcpy((unsigned char *)dst + first, e->data, (size_t)(len - first));
}

int rp__iso_put(rp__iso_end *e, uint32_t type, uint64_t seq, const void *a, uint32_t alen,
                const void *b, uint32_t blen, int *wake)
{
    uint64_t len = (uint64_t)alen + blen;
    if (len > RP__ISO_REC_MAX)
        return RP_ERR_RANGE;
    uint64_t need = sizeof(rp__iso_hdr) + ALIGN8(len);
    uint64_t tail = atomic_load_explicit(&e->ring->tail, memory_order_acquire);
    uint64_t used = e->pos - tail;
    /* The consumer's position comes from the other side: one past our own
     * or more than a ring behind it is nonsense. */
    if (tail > e->pos || used > e->size)
        return RP_ERR_PARSE;
    if (need > e->size - used)
        return RP_ERR_FULL;
    rp__iso_hdr h = {(uint32_t)len, type, seq};
    ring_write(e, e->pos, &h, sizeof h);
    if (alen)
        ring_write(e, e->pos + sizeof h, a, alen);
    if (blen)
        ring_write(e, e->pos + sizeof h + alen, b, blen);
    e->pos += need;
    atomic_store_explicit(&e->ring->head, e->pos, memory_order_seq_cst);
    if (atomic_load_explicit(&e->ring->sleeping, memory_order_seq_cst))
        *wake = 1;
    return 0;
}

int rp__iso_get(rp__iso_end *e, rp__iso_hdr *hdr, void *buf, uint32_t cap)
{
    uint64_t head = atomic_load_explicit(&e->ring->head, memory_order_acquire);
    if (head == e->pos)
        return 0;
    uint64_t avail = head - e->pos;
    if (head < e->pos || avail > e->size || avail < sizeof *hdr)
        return RP_ERR_PARSE;
    rp__iso_hdr h;
    ring_read(e, e->pos, &h, sizeof h);
    if (h.len > cap || h.len > RP__ISO_REC_MAX || sizeof h + ALIGN8(h.len) > avail)
        return RP_ERR_PARSE;
    if (h.len)
        ring_read(e, e->pos + sizeof h, buf, h.len);
    e->pos += sizeof h + ALIGN8(h.len);
    atomic_store_explicit(&e->ring->tail, e->pos, memory_order_release);
    *hdr = h;
    return 1;
}

int rp__iso_sleep_prepare(rp__iso_end *e)
{
    atomic_store_explicit(&e->ring->sleeping, 1, memory_order_seq_cst);
    /* A record put before the flag was seen must not be slept over. */
    return atomic_load_explicit(&e->ring->head, memory_order_seq_cst) != e->pos;
}

void rp__iso_awake(rp__iso_end *e)
{
    atomic_store_explicit(&e->ring->sleeping, 0, memory_order_relaxed);
}

uint64_t rp__iso_pending(const rp__iso_end *e)
{
    uint64_t head = atomic_load_explicit(&e->ring->head, memory_order_acquire);
    return head >= e->pos && head - e->pos <= e->size ? head - e->pos : 0;
}

/* ---- cursors ------------------------------------------------------------ */

void rp__iso_rd_init(rp__iso_rd *r, const void *p, size_t len)
{
    r->p = p;
    r->left = len;
    r->ok = 1;
}

static const unsigned char *take(rp__iso_rd *r, size_t n)
{
    if (!r->ok || n > r->left) {
        r->ok = 0;
        return NULL;
    }
    const unsigned char *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

uint32_t rp__iso_rd_u32(rp__iso_rd *r)
{
    uint32_t v = 0;
    const unsigned char *p = take(r, 4);
    if (p)
        memcpy(&v, p, 4);
    return v;
}

uint64_t rp__iso_rd_u64(rp__iso_rd *r)
{
    uint64_t v = 0;
    const unsigned char *p = take(r, 8);
    if (p)
        memcpy(&v, p, 8);
    return v;
}

const char *rp__iso_rd_str(rp__iso_rd *r, uint32_t max, uint32_t *len)
{
    uint32_t n = rp__iso_rd_u32(r);
    if (!r->ok || n > max) {
        r->ok = 0;
        *len = 0;
        return NULL;
    }
    const unsigned char *p = take(r, n);
    *len = p ? n : 0;
    return p ? (const char *)p : NULL;
}

void rp__iso_wr_init(rp__iso_wr *w, void *buf, size_t cap)
{
    w->p = buf;
    w->len = 0;
    w->cap = cap;
    w->ok = 1;
}

void rp__iso_wr_bytes(rp__iso_wr *w, const void *p, size_t len)
{
    if (!w->ok || len > w->cap - w->len) {
        w->ok = 0;
        return;
    }
    if (len)
        memcpy(w->p + w->len, p, len);
    w->len += len;
}

void rp__iso_wr_u32(rp__iso_wr *w, uint32_t v)
{
    rp__iso_wr_bytes(w, &v, 4);
}

void rp__iso_wr_u64(rp__iso_wr *w, uint64_t v)
{
    rp__iso_wr_bytes(w, &v, 8);
}

void rp__iso_wr_str(rp__iso_wr *w, const char *s, size_t len)
{
    if (len > UINT32_MAX) {
        w->ok = 0;
        return;
    }
    rp__iso_wr_u32(w, (uint32_t)len);
    rp__iso_wr_bytes(w, s, len);
}

/* ---- events ------------------------------------------------------------- */

int rp__iso_event_encode(rp__iso_wr *w, const rp_event *ev)
{
    const char *type = rp__topic_name(rp__event_topic(ev));
    if (!type)
        return RP_ERR_INTERNAL;
    uint32_t n = rp__event_field_count(ev);
    rp__iso_wr_str(w, type, strlen(type));
    rp__iso_wr_u32(w, n);
    for (uint32_t i = 0; i < n; i++) {
        rp__field_view v;
        if (rp__event_field_at(ev, i, &v) != 0)
            return RP_ERR_INTERNAL;
        rp__iso_wr_u32(w, v.id);
        rp__iso_wr_u32(w, v.type);
        switch (v.type) {
        case RP_TYPE_I64:
        case RP_TYPE_TIMESTAMP:
            rp__iso_wr_u64(w, (uint64_t)v.i64);
            break;
        case RP_TYPE_U64:
        case RP_TYPE_BOOL:
            rp__iso_wr_u64(w, v.u64);
            break;
        case RP_TYPE_STR_ARRAY:
            rp__iso_wr_u32(w, v.count);
            for (uint32_t k = 0; k < v.count; k++) {
                const char *s;
                uint64_t len;
                if (rp__event_get_str_array_item(ev, v.id, k, &s, &len) != 0)
                    return RP_ERR_INTERNAL;
                rp__iso_wr_str(w, s, (size_t)len);
            }
            break;
        default: /* strings, bytes, IPs */
            rp__iso_wr_str(w, v.ptr, (size_t)v.len);
            break;
        }
    }
    return w->ok ? 0 : RP_ERR_FULL;
}

/* Items of one string array at most: the event's 64 KiB of data hold no
 * more than this many (each takes 9 bytes at least). */
#define MAX_ITEMS (RP__EVENT_MAX_DATA / 9u)

static int decode_field(rp__iso_rd *r, rp_event *ev, int mode)
{
    rp_field_id id = rp__iso_rd_u32(r);
    uint32_t type = rp__iso_rd_u32(r);
    if (!r->ok)
        return RP_ERR_PARSE;
    uint32_t known = rp__field_type(id);
    if (known == 0)
        return RP_ERR_NOTFOUND;
    if (known != type)
        return RP_ERR_TYPE;
    uint32_t len = 0;
    const char *s;
    switch (type) {
    case RP_TYPE_I64: {
        int64_t v = (int64_t)rp__iso_rd_u64(r);
        return r->ok ? rp__event_set_i64(ev, id, v) : RP_ERR_PARSE;
    }
    case RP_TYPE_TIMESTAMP: {
        int64_t v = (int64_t)rp__iso_rd_u64(r);
        return r->ok ? rp__event_set_timestamp(ev, id, v) : RP_ERR_PARSE;
    }
    case RP_TYPE_U64: {
        uint64_t v = rp__iso_rd_u64(r);
        return r->ok ? rp__event_set_u64(ev, id, v) : RP_ERR_PARSE;
    }
    case RP_TYPE_BOOL: {
        uint64_t v = rp__iso_rd_u64(r);
        if (!r->ok || v > 1)
            return RP_ERR_PARSE;
        return rp__event_set_bool(ev, id, (int32_t)v);
    }
    case RP_TYPE_STR:
        if (!(s = rp__iso_rd_str(r, RP__EVENT_MAX_DATA - 1, &len)))
            return RP_ERR_PARSE;
        if (id == RP__F_EVENT_ID || id == RP__F_EVENT_KIND) {
            /* The worker stamps its own kind; an id must look like one. */
            if (mode == RP__ISO_DECODE_PUBLISH && id == RP__F_EVENT_KIND)
                return 0;
            if (len == 0 || len > 64)
                return RP_ERR_PARSE;
            return rp__event_set_stamp(ev, id, s, len);
        }
        return rp__event_set_str(ev, id, s, len);
    case RP_TYPE_BYTES:
        if (!(s = rp__iso_rd_str(r, RP__EVENT_MAX_DATA - 1, &len)))
            return RP_ERR_PARSE;
        return rp__event_set_bytes(ev, id, s, len);
    case RP_TYPE_IP: {
        rp_ip ip;
        if (!(s = rp__iso_rd_str(r, sizeof ip, &len)) || len != sizeof ip)
            return RP_ERR_PARSE;
        memcpy(&ip, s, sizeof ip);
        if (ip.family != 4 && ip.family != 6)
            return RP_ERR_PARSE;
        return rp__event_set_ip(ev, id, &ip);
    }
    case RP_TYPE_STR_ARRAY: {
        uint32_t count = rp__iso_rd_u32(r);
        /* Each item takes 4 bytes of the record at least: a count the
         * record cannot hold is refused before anything is allocated. */
        if (!r->ok || count > MAX_ITEMS || (size_t)count * 4 > r->left)
            return RP_ERR_PARSE;
        rp_str items[64];
        rp_str *v = count <= 64 ? items : malloc(sizeof *v * count);
        if (!v)
            return RP_ERR_NOMEM;
        int rc = 0;
        for (uint32_t k = 0; k < count && rc == 0; k++) {
            v[k].ptr = rp__iso_rd_str(r, RP__EVENT_MAX_DATA - 1, &len);
            v[k].len = len;
            if (!v[k].ptr)
                rc = RP_ERR_PARSE;
        }
        if (rc == 0)
            rc = rp__event_set_str_array(ev, id, v, count);
        if (v != items)
            free(v);
        return rc;
    }
    default:
        return RP_ERR_PARSE;
    }
}

int rp__iso_event_decode(rp__iso_rd *r, int mode, uint32_t producer, rp_event **out)
{
    uint32_t tlen;
    const char *type = rp__iso_rd_str(r, RP__TOPIC_NAME_MAX, &tlen);
    uint32_t n = rp__iso_rd_u32(r);
    if (!type || !r->ok || n > RP__EVENT_MAX_FIELDS)
        return RP_ERR_PARSE;
    uint32_t topic;
    int rc = rp__topic_intern(type, tlen, &topic);
    if (rc != 0)
        return rc;
    rp_event *ev = NULL;
    if (mode == RP__ISO_DECODE_PUBLISH) {
        rc = rp__event_create(topic, rp__topic_name(topic), producer, &ev);
        if (rc != 0)
            return rc;
    } else {
        if (!(ev = rp__event_alloc(topic, 1024)))
            return RP_ERR_NOMEM;
        rp__event_head_of(ev)->producer = producer;
    }
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = decode_field(r, ev, mode);
    if (rc == 0 && r->left != 0)
        rc = RP_ERR_PARSE; /* trailing bytes: not a record this side wrote */
    if (rc != 0) {
        rp__event_release(ev);
        return rc;
    }
    *out = ev;
    return 0;
}
