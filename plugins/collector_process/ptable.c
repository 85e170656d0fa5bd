/* ptable.c - the process table (see ptable.h). */
#include "ptable.h"

#include <stdlib.h>
#include <string.h>

cp_blob *cp_blob_new(const char *p, size_t len)
{
    if (len > UINT32_MAX - 1)
        return NULL;
    cp_blob *b = malloc(sizeof *b + len + 1);
    if (!b)
        return NULL;
    b->refs = 1;
    b->len = (uint32_t)len;
    if (len)
        memcpy(b->data, p, len);
    b->data[len] = '\0';
    return b;
}

cp_blob *cp_blob_ref(cp_blob *b)
{
    if (b)
        b->refs++;
    return b;
}

void cp_blob_unref(cp_blob *b)
{
    if (b && --b->refs == 0)
        free(b);
}

void cp_blob_set(cp_blob **slot, cp_blob *b)
{
    cp_blob_unref(*slot);
    *slot = b;
}

enum { L_NONE, L_LIVE, L_EXITED };

struct list {
    uint32_t head, tail;
};

struct cp_table {
    cp_proc *e;
    uint32_t cap, count;
    uint32_t *buckets;
    uint32_t mask;
    uint32_t free_head; /* through hnext */
    struct list lists[3];
};

static uint32_t bucket_of(const cp_table *t, int32_t pid)
{
    return ((uint32_t)pid * 2654435761u) & t->mask;
}

cp_table *cp_table_new(uint32_t cap)
{
    if (cap == 0)
        return NULL;
    cp_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    uint32_t nb = 1;
    while (nb < cap && nb < (1u << 30))
        nb <<= 1;
    t->e = calloc(cap, sizeof *t->e);
    t->buckets = malloc((size_t)nb * sizeof *t->buckets);
    if (!t->e || !t->buckets) {
        free(t->e);
        free(t->buckets);
        free(t);
        return NULL;
    }
    t->cap = cap;
    t->mask = nb - 1;
    for (uint32_t i = 0; i < nb; i++)
        t->buckets[i] = CP_NONE;
    for (uint32_t i = 0; i < cap; i++)
        t->e[i].hnext = i + 1 < cap ? i + 1 : CP_NONE;
    t->free_head = 0;
    for (int l = 0; l < 3; l++)
        t->lists[l].head = t->lists[l].tail = CP_NONE;
    return t;
}

void cp_table_free(cp_table *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->cap; i++) {
        if (t->e[i].used) {
            cp_blob_unref(t->e[i].exe);
            cp_blob_unref(t->e[i].args);
        }
    }
    free(t->e);
    free(t->buckets);
    free(t);
}

static void list_unlink(cp_table *t, cp_proc *p)
{
    struct list *l = &t->lists[p->list];
    if (p->list == L_NONE)
        return;
    if (p->prev != CP_NONE)
        t->e[p->prev].next = p->next;
    else
        l->head = p->next;
    if (p->next != CP_NONE)
        t->e[p->next].prev = p->prev;
    else
        l->tail = p->prev;
    p->prev = p->next = CP_NONE;
    p->list = L_NONE;
}

static void list_append(cp_table *t, cp_proc *p, uint8_t which)
{
    struct list *l = &t->lists[which];
    uint32_t idx = (uint32_t)(p - t->e);
    p->prev = l->tail;
    p->next = CP_NONE;
    if (l->tail != CP_NONE)
        t->e[l->tail].next = idx;
    else
        l->head = idx;
    l->tail = idx;
    p->list = which;
}

cp_proc *cp_table_get(cp_table *t, int32_t pid)
{
    for (uint32_t i = t->buckets[bucket_of(t, pid)]; i != CP_NONE; i = t->e[i].hnext)
        if (t->e[i].pid == pid)
            return &t->e[i];
    return NULL;
}

/* Removes p from its hash chain and list, releases its strings and puts the
 * slot on the free list. */
static void drop(cp_table *t, cp_proc *p)
{
    uint32_t idx = (uint32_t)(p - t->e);
    uint32_t *link = &t->buckets[bucket_of(t, p->pid)];
    while (*link != CP_NONE && *link != idx)
        link = &t->e[*link].hnext;
    if (*link == idx)
        *link = p->hnext;
    list_unlink(t, p);
    cp_blob_unref(p->exe);
    cp_blob_unref(p->args);
    memset(p, 0, sizeof *p);
    p->prev = p->next = CP_NONE;
    p->hnext = t->free_head;
    t->free_head = idx;
    t->count--;
}

static void reset(cp_proc *p, int32_t pid)
{
    cp_blob_unref(p->exe);
    cp_blob_unref(p->args);
    uint32_t hnext = p->hnext, prev = p->prev, next = p->next;
    uint8_t list = p->list;
    memset(p, 0, sizeof *p);
    p->hnext = hnext;
    p->prev = prev;
    p->next = next;
    p->list = list;
    p->used = 1;
    p->pid = pid;
}

cp_proc *cp_table_put(cp_table *t, int32_t pid, uint64_t *evicted, uint64_t *evicted_live)
{
    cp_proc *p = cp_table_get(t, pid);
    if (p) {
        reset(p, pid);
        list_unlink(t, p);
        list_append(t, p, L_LIVE);
        return p;
    }
    if (t->free_head == CP_NONE) {
        uint32_t victim = t->lists[L_EXITED].head;
        if (victim == CP_NONE) {
            victim = t->lists[L_LIVE].head;
            if (evicted_live)
                (*evicted_live)++;
        }
        if (evicted)
            (*evicted)++;
        drop(t, &t->e[victim]);
    }
    uint32_t idx = t->free_head;
    p = &t->e[idx];
    t->free_head = p->hnext;
    memset(p, 0, sizeof *p);
    p->used = 1;
    p->pid = pid;
    uint32_t b = bucket_of(t, pid);
    p->hnext = t->buckets[b];
    t->buckets[b] = idx;
    p->prev = p->next = CP_NONE;
    p->list = L_NONE;
    list_append(t, p, L_LIVE);
    t->count++;
    return p;
}

void cp_table_touch(cp_table *t, cp_proc *p)
{
    if (p->list != L_LIVE || t->lists[L_LIVE].tail == (uint32_t)(p - t->e))
        return;
    list_unlink(t, p);
    list_append(t, p, L_LIVE);
}

void cp_table_exit(cp_table *t, cp_proc *p)
{
    p->flags |= CP_F_EXITED;
    list_unlink(t, p);
    list_append(t, p, L_EXITED);
}

cp_proc *cp_table_next(cp_table *t, uint32_t *i)
{
    while (*i < t->cap) {
        cp_proc *p = &t->e[(*i)++];
        if (p->used)
            return p;
    }
    return NULL;
}

uint32_t cp_table_count(const cp_table *t)
{
    return t->count;
}
