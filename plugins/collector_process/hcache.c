/* hcache.c - the executable hash cache (see hcache.h). */
#include "hcache.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

struct cp_hcache {
    cp_hentry *e;
    uint32_t cap;
    uint32_t *buckets;
    uint32_t mask;
    uint32_t free_head;
    uint32_t head, tail; /* LRU of finished and pending entries, oldest first */
};

static uint32_t key_hash(const cp_hcache *c, const cp_hkey *k)
{
    uint64_t h = k->ino * 0x9e3779b97f4a7c15ull;
    h ^= k->dev + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
    h ^= k->size + (uint64_t)k->mtime_ns + (h << 6) + (h >> 2);
    return (uint32_t)(h ^ (h >> 32)) & c->mask;
}

static int key_eq(const cp_hkey *a, const cp_hkey *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

cp_hcache *cp_hcache_new(uint32_t cap)
{
    if (cap == 0)
        return NULL;
    cp_hcache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    uint32_t nb = 1;
    while (nb < cap && nb < (1u << 30))
        nb <<= 1;
    c->e = calloc(cap, sizeof *c->e);
    c->buckets = malloc((size_t)nb * sizeof *c->buckets);
    if (!c->e || !c->buckets) {
        free(c->e);
        free(c->buckets);
        free(c);
        return NULL;
    }
    c->cap = cap;
    c->mask = nb - 1;
    for (uint32_t i = 0; i < nb; i++)
        c->buckets[i] = NONE;
    for (uint32_t i = 0; i < cap; i++)
        c->e[i].hnext = i + 1 < cap ? i + 1 : NONE;
    c->free_head = 0;
    c->head = c->tail = NONE;
    return c;
}

void cp_hcache_free(cp_hcache *c)
{
    if (!c)
        return;
    free(c->e);
    free(c->buckets);
    free(c);
}

static void unlink_lru(cp_hcache *c, cp_hentry *e)
{
    if (e->prev != NONE)
        c->e[e->prev].next = e->next;
    else
        c->head = e->next;
    if (e->next != NONE)
        c->e[e->next].prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NONE;
}

static void append_lru(cp_hcache *c, cp_hentry *e)
{
    uint32_t idx = (uint32_t)(e - c->e);
    e->prev = c->tail;
    e->next = NONE;
    if (c->tail != NONE)
        c->e[c->tail].next = idx;
    else
        c->head = idx;
    c->tail = idx;
}

cp_hentry *cp_hcache_get(cp_hcache *c, const cp_hkey *key)
{
    for (uint32_t i = c->buckets[key_hash(c, key)]; i != NONE; i = c->e[i].hnext) {
        cp_hentry *e = &c->e[i];
        if (key_eq(&e->key, key)) {
            if (c->tail != i) {
                unlink_lru(c, e);
                append_lru(c, e);
            }
            return e;
        }
    }
    return NULL;
}

void cp_hcache_del(cp_hcache *c, cp_hentry *e)
{
    uint32_t idx = (uint32_t)(e - c->e);
    uint32_t *link = &c->buckets[key_hash(c, &e->key)];
    while (*link != NONE && *link != idx)
        link = &c->e[*link].hnext;
    if (*link == idx)
        *link = e->hnext;
    unlink_lru(c, e);
    memset(e, 0, sizeof *e);
    e->prev = e->next = NONE;
    e->hnext = c->free_head;
    c->free_head = idx;
}

cp_hentry *cp_hcache_add(cp_hcache *c, const cp_hkey *key)
{
    if (c->free_head == NONE) {
        /* The least recently used entry that is not being hashed. */
        uint32_t v = c->head;
        while (v != NONE && c->e[v].state == CP_H_PENDING)
            v = c->e[v].next;
        if (v == NONE)
            return NULL;
        cp_hcache_del(c, &c->e[v]);
    }
    uint32_t idx = c->free_head;
    cp_hentry *e = &c->e[idx];
    c->free_head = e->hnext;
    memset(e, 0, sizeof *e);
    e->key = *key;
    e->state = CP_H_PENDING;
    e->used = 1;
    uint32_t b = key_hash(c, key);
    e->hnext = c->buckets[b];
    c->buckets[b] = idx;
    append_lru(c, e);
    return e;
}

uint32_t cp_hcache_index(const cp_hcache *c, const cp_hentry *e)
{
    return (uint32_t)(e - c->e);
}

cp_hentry *cp_hcache_at(cp_hcache *c, uint32_t idx)
{
    return idx < c->cap && c->e[idx].used ? &c->e[idx] : NULL;
}
