/*
 * plugins/detector_sigma/strmap.c - the hash map of strmap.h: FNV-1a over
 * the (optionally folded) bytes, linear probing, grown at 3/4 load.
 */
#include "strmap.h"

#include <rampart/plugin.h>

#include <stdlib.h>
#include <string.h>

static inline unsigned char ds_sm_fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static uint32_t ds_sm_hash(const char *s, size_t n, bool fold)
{
    uint32_t h = 2166136261u;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        h ^= fold ? ds_sm_fold(u[i]) : u[i];
        h *= 16777619u;
    }
    return h;
}

static bool ds_sm_eq(const char *a, const char *b, size_t n, bool fold)
{
    if (!fold)
        return memcmp(a, b, n) == 0;
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    for (size_t i = 0; i < n; i++)
        if (ds_sm_fold(x[i]) != ds_sm_fold(y[i]))
            return false;
    return true;
}

void ds_strmap_init(struct ds_strmap *m, bool fold)
{
    memset(m, 0, sizeof(*m));
    m->fold = fold;
}

void ds_strmap_free(struct ds_strmap *m)
{
    if (!m)
        return;
    free(m->ents);
    bool fold = m->fold;
    ds_strmap_init(m, fold);
}

uint32_t *ds_strmap_get(const struct ds_strmap *m, const char *key, size_t len)
{
    if (m->cap == 0 || len > UINT32_MAX)
        return NULL;
    uint32_t h = ds_sm_hash(key, len, m->fold);
    for (uint32_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct ds_strmap_ent *e = &m->ents[i];
        if (!e->key)
            return NULL;
        if (e->hash == h && e->len == len && ds_sm_eq(e->key, key, len, m->fold))
            return &e->val;
    }
}

static int ds_sm_grow(struct ds_strmap *m)
{
    uint32_t ncap = m->cap ? m->cap * 2 : 16;
    struct ds_strmap_ent *ne = calloc(ncap, sizeof(*ne));
    if (!ne)
        return RP_ERR_NOMEM;
    for (uint32_t i = 0; i < m->cap; i++) {
        struct ds_strmap_ent *e = &m->ents[i];
        if (!e->key)
            continue;
        uint32_t j = e->hash & (ncap - 1);
        while (ne[j].key)
            j = (j + 1) & (ncap - 1);
        ne[j] = *e;
    }
    free(m->ents);
    m->ents = ne;
    m->cap = ncap;
    return 0;
}

int ds_strmap_put(struct ds_strmap *m, const char *key, size_t len, uint32_t val, uint32_t **out,
                  bool *existed)
{
    if (existed)
        *existed = false;
    uint32_t *old = ds_strmap_get(m, key, len);
    if (old) {
        if (existed)
            *existed = true;
        if (out)
            *out = old;
        return 0;
    }
    if (m->n >= DS_STRMAP_MAX || len > UINT32_MAX)
        return RP_ERR_RANGE;
    if ((m->n + 1) * 4 > m->cap * 3) {
        int rc = ds_sm_grow(m);
        if (rc)
            return rc;
    }
    uint32_t h = ds_sm_hash(key, len, m->fold);
    uint32_t i = h & (m->cap - 1);
    while (m->ents[i].key)
        i = (i + 1) & (m->cap - 1);
    m->ents[i] = (struct ds_strmap_ent){.key = key, .len = (uint32_t)len, .hash = h, .val = val};
    m->n++;
    if (out)
        *out = &m->ents[i].val;
    return 0;
}

size_t ds_strmap_memory(const struct ds_strmap *m)
{
    return (size_t)m->cap * sizeof(struct ds_strmap_ent);
}
