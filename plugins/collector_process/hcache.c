/* hcache.c - the executable hash cache (see hcache.h). */
#include "hcache.h"

#include <stddef.h>
#include <stdlib.h>

struct cp_hcache {
    cp_slots s;
    cp_list lru; /* finished and pending entries, least recently used first */
};

static uint32_t key_hash(const cp_hkey *k)
{
    uint64_t h = k->ino * 0x9e3779b97f4a7c15ull;
    h ^= k->dev + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
    h ^= k->size + (uint64_t)k->mtime_ns + (h << 6) + (h >> 2);
    return (uint32_t)(h ^ (h >> 32));
}

static int key_eq(const cp_hkey *a, const cp_hkey *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

static cp_hentry *entry(const cp_hcache *c, uint32_t i)
{
    return cp_slots_at(&c->s, i);
}

cp_hcache *cp_hcache_new(uint32_t cap)
{
    cp_hcache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (cp_slots_init(&c->s, cap, sizeof(cp_hentry), offsetof(cp_hentry, links)) != 0) {
        free(c);
        return NULL;
    }
    cp_list_init(&c->lru);
    return c;
}

void cp_hcache_free(cp_hcache *c)
{
    if (!c)
        return;
    cp_slots_fini(&c->s);
    free(c);
}

cp_hentry *cp_hcache_get(cp_hcache *c, const cp_hkey *key)
{
    for (uint32_t i = cp_slots_bucket(&c->s, key_hash(key)); i != CP_SLOT_NONE;
         i = entry(c, i)->links.hnext) {
        cp_hentry *e = entry(c, i);
        if (key_eq(&e->key, key)) {
            if (c->lru.tail != i) {
                cp_list_unlink(&c->s, &c->lru, i);
                cp_list_append(&c->s, &c->lru, i);
            }
            return e;
        }
    }
    return NULL;
}

void cp_hcache_del(cp_hcache *c, cp_hentry *e)
{
    uint32_t idx = cp_slots_index(&c->s, e);
    cp_list_unlink(&c->s, &c->lru, idx);
    cp_slots_release(&c->s, key_hash(&e->key), idx);
}

cp_hentry *cp_hcache_add(cp_hcache *c, const cp_hkey *key)
{
    if (cp_slots_full(&c->s)) {
        /* The least recently used entry that is not being hashed. */
        uint32_t v = c->lru.head;
        while (v != CP_SLOT_NONE && entry(c, v)->state == CP_H_PENDING)
            v = entry(c, v)->links.next;
        if (v == CP_SLOT_NONE)
            return NULL;
        cp_hcache_del(c, entry(c, v));
    }
    uint32_t idx = cp_slots_take(&c->s, key_hash(key));
    cp_hentry *e = entry(c, idx);
    e->key = *key;
    e->state = CP_H_PENDING;
    e->used = 1;
    cp_list_append(&c->s, &c->lru, idx);
    return e;
}

uint32_t cp_hcache_index(const cp_hcache *c, const cp_hentry *e)
{
    return cp_slots_index(&c->s, e);
}

cp_hentry *cp_hcache_at(cp_hcache *c, uint32_t idx)
{
    return idx < c->s.cap && entry(c, idx)->used ? entry(c, idx) : NULL;
}
