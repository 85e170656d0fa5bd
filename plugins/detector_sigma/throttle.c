/*
 * plugins/detector_sigma/throttle.c - alert throttling per (rule, process)
 * key (throttle.h): an open-addressing hash table of entry indexes (linear
 * probing, deletion by backward shift, so there are no tombstones to
 * rehash) over a fixed array of entries linked in least-recently-seen
 * order.
 */
#include "throttle.h"

#include <rampart/plugin.h>

#include <stdlib.h>

#define NONE UINT32_MAX

struct entry {
    uint64_t k1, k2;
    int64_t window_start;
    uint64_t suppressed;
    uint32_t prev, next; /* the LRU list: head is the most recent */
    uint32_t slot;       /* where the hash table points at it */
};

struct ds_throttle {
    uint64_t window_ns;
    uint32_t cap, used;
    uint32_t mask;      /* table size - 1 (a power of two >= 2 * cap) */
    uint32_t *table;    /* entry index or NONE */
    struct entry *ents; /* cap entries; 0 .. used - 1 are in use */
    uint32_t head, tail;
};

uint64_t ds_throttle_hash(uint64_t h, const void *s, size_t len)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int ds_throttle_create(uint32_t max_keys, uint64_t window_ns, struct ds_throttle **out)
{
    *out = NULL;
    if (max_keys == 0 || max_keys > DS_THROTTLE_KEYS_MAX)
        return RP_ERR_INVAL;
    struct ds_throttle *t = calloc(1, sizeof *t);
    if (!t)
        return RP_ERR_NOMEM;
    t->window_ns = window_ns;
    t->cap = max_keys;
    uint32_t size = 4;
    while (size < 2u * max_keys)
        size <<= 1;
    t->mask = size - 1;
    t->head = t->tail = NONE;
    if (window_ns > 0) {
        t->table = malloc((size_t)size * sizeof *t->table);
        t->ents = malloc((size_t)max_keys * sizeof *t->ents);
        if (!t->table || !t->ents) {
            ds_throttle_destroy(t);
            return RP_ERR_NOMEM;
        }
        for (uint32_t i = 0; i < size; i++)
            t->table[i] = NONE;
    }
    *out = t;
    return 0;
}

void ds_throttle_destroy(struct ds_throttle *t)
{
    if (!t)
        return;
    free(t->table);
    free(t->ents);
    free(t);
}

uint32_t ds_throttle_size(const struct ds_throttle *t)
{
    return t ? t->used : 0;
}

static uint32_t home(const struct ds_throttle *t, uint64_t k1, uint64_t k2)
{
    uint64_t h = k1 ^ (k2 * 0x9e3779b97f4a7c15ull);
    h ^= h >> 29;
    return (uint32_t)h & t->mask;
}

static void lru_unlink(struct ds_throttle *t, uint32_t i)
{
    struct entry *e = &t->ents[i];
    if (e->prev != NONE)
        t->ents[e->prev].next = e->next;
    else
        t->head = e->next;
    if (e->next != NONE)
        t->ents[e->next].prev = e->prev;
    else
        t->tail = e->prev;
}

static void lru_push(struct ds_throttle *t, uint32_t i)
{
    struct entry *e = &t->ents[i];
    e->prev = NONE;
    e->next = t->head;
    if (t->head != NONE)
        t->ents[t->head].prev = i;
    t->head = i;
    if (t->tail == NONE)
        t->tail = i;
}

/* Empties table slot s and shifts the entries after it back, so every entry
 * stays reachable from its home slot without tombstones. */
static void table_remove(struct ds_throttle *t, uint32_t s)
{
    uint32_t hole = s;
    for (uint32_t j = (s + 1) & t->mask; t->table[j] != NONE; j = (j + 1) & t->mask) {
        struct entry *e = &t->ents[t->table[j]];
        uint32_t h = home(t, e->k1, e->k2);
        /* The entry at j may move to the hole when its home is not in
         * (hole, j], cyclically. */
        int stays = (hole <= j) ? (h > hole && h <= j) : (h > hole || h <= j);
        if (stays)
            continue;
        t->table[hole] = t->table[j];
        e->slot = hole;
        hole = j;
    }
    t->table[hole] = NONE;
}

void ds_throttle_check(struct ds_throttle *t, uint64_t k1, uint64_t k2, int64_t now_ns,
                       struct ds_throttle_result *res)
{
    res->pass = 1;
    res->carried = 0;
    res->evicted = 0;
    res->lost = 0;
    if (!t || t->window_ns == 0)
        return;
    uint32_t s = home(t, k1, k2);
    while (t->table[s] != NONE) {
        uint32_t i = t->table[s];
        struct entry *e = &t->ents[i];
        if (e->k1 == k1 && e->k2 == k2) {
            lru_unlink(t, i);
            lru_push(t, i);
            if (now_ns - e->window_start < (int64_t)t->window_ns) {
                e->suppressed++;
                res->pass = 0;
                return;
            }
            res->carried = e->suppressed;
            e->suppressed = 0;
            e->window_start = now_ns;
            return;
        }
        s = (s + 1) & t->mask;
    }
    uint32_t i;
    if (t->used < t->cap) {
        i = t->used++;
    } else {
        /* At the cap: the key seen least recently makes room. */
        i = t->tail;
        res->evicted = 1;
        res->lost = t->ents[i].suppressed;
        lru_unlink(t, i);
        table_remove(t, t->ents[i].slot);
        /* The removal may have shifted the free slot found above. */
        s = home(t, k1, k2);
        while (t->table[s] != NONE)
            s = (s + 1) & t->mask;
    }
    struct entry *e = &t->ents[i];
    e->k1 = k1;
    e->k2 = k2;
    e->window_start = now_ns;
    e->suppressed = 0;
    e->slot = s;
    t->table[s] = i;
    lru_push(t, i);
}
