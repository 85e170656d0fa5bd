/*
 * plugins/detector_sigma/arena.c - the bump allocator of arena.h.
 */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Chunks grow with the arena so that a big rule does not take many small
 * mallocs, and a small rule does not hold a big block. */
#define DS_ARENA_FIRST_CHUNK 4096u
#define DS_ARENA_MAX_CHUNK   (256u * 1024u)
#define DS_ARENA_ALIGN       16u

struct ds_arena_chunk {
    struct ds_arena_chunk *next;
    size_t size; /* bytes of data[] */
    size_t off;  /* bytes of data[] handed out */
    _Alignas(16) unsigned char data[];
};

void ds_arena_init(struct ds_arena *a, size_t cap)
{
    a->head = NULL;
    a->used = 0;
    a->cap = cap;
}

void *ds_arena_alloc(struct ds_arena *a, size_t size)
{
    size_t need = (size + DS_ARENA_ALIGN - 1) & ~(size_t)(DS_ARENA_ALIGN - 1);
    if (need < size)
        return NULL;
    struct ds_arena_chunk *c = a->head;
    if (!c || c->size - c->off < need) {
        size_t want = c ? c->size * 2 : DS_ARENA_FIRST_CHUNK;
        if (want > DS_ARENA_MAX_CHUNK)
            want = DS_ARENA_MAX_CHUNK;
        if (want < need)
            want = need;
        if (want > a->cap || a->used > a->cap - want)
            return NULL;
        c = malloc(sizeof(*c) + want);
        if (!c)
            return NULL;
        c->next = a->head;
        c->size = want;
        c->off = 0;
        a->head = c;
        a->used += want;
    }
    void *p = c->data + c->off;
    c->off += need;
    memset(p, 0, size);
    return p;
}

char *ds_arena_strndup(struct ds_arena *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = ds_arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void ds_arena_free(struct ds_arena *a)
{
    if (!a)
        return;
    struct ds_arena_chunk *c = a->head;
    while (c) {
        struct ds_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}
