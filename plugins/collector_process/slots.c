/* slots.c - index-linked slots with hash chains and lists (see slots.h). */
#include "slots.h"

#include <stdlib.h>
#include <string.h>

int cp_slots_init(cp_slots *s, uint32_t cap, size_t stride, size_t off)
{
    memset(s, 0, sizeof *s);
    if (cap == 0 || stride < sizeof(cp_links) || off > stride - sizeof(cp_links))
        return -1;
    uint32_t nb = 1;
    while (nb < cap && nb < (1u << 30))
        nb <<= 1;
    s->e = calloc(cap, stride);
    s->buckets = malloc((size_t)nb * sizeof *s->buckets);
    if (!s->e || !s->buckets) {
        cp_slots_fini(s);
        return -1;
    }
    s->stride = stride;
    s->off = off;
    s->cap = cap;
    s->mask = nb - 1;
    for (uint32_t i = 0; i < nb; i++)
        s->buckets[i] = CP_SLOT_NONE;
    /* Entries never used are handed out in order (fresh) and only released
     * ones are chained: linking every entry here would write to all of them,
     * making the whole table resident (2.7 MB at the default 16384) on a
     * machine that runs a few hundred processes. */
    s->free_head = CP_SLOT_NONE;
    s->fresh = 0;
    return 0;
}

void cp_slots_fini(cp_slots *s)
{
    free(s->e);
    free(s->buckets);
    s->e = NULL;
    s->buckets = NULL;
}

/* Zeroes slot i but for its hash link, and leaves it in no list. */
static void clear(cp_slots *s, uint32_t i, uint32_t hnext)
{
    memset(cp_slots_at(s, i), 0, s->stride);
    cp_links *k = cp_slots_links(s, i);
    k->hnext = hnext;
    k->prev = k->next = CP_SLOT_NONE;
}

uint32_t cp_slots_take(cp_slots *s, uint32_t b)
{
    uint32_t i = s->free_head;
    if (i != CP_SLOT_NONE)
        s->free_head = cp_slots_links(s, i)->hnext;
    else if (s->fresh < s->cap)
        i = s->fresh++;
    else
        return CP_SLOT_NONE;
    clear(s, i, s->buckets[b & s->mask]);
    s->buckets[b & s->mask] = i;
    return i;
}

void cp_slots_release(cp_slots *s, uint32_t b, uint32_t i)
{
    uint32_t *link = &s->buckets[b & s->mask];
    while (*link != CP_SLOT_NONE && *link != i)
        link = &cp_slots_links(s, *link)->hnext;
    if (*link == i)
        *link = cp_slots_links(s, i)->hnext;
    clear(s, i, s->free_head);
    s->free_head = i;
}

void cp_list_init(cp_list *l)
{
    l->head = l->tail = CP_SLOT_NONE;
}

void cp_list_unlink(const cp_slots *s, cp_list *l, uint32_t i)
{
    cp_links *k = cp_slots_links(s, i);
    if (k->prev != CP_SLOT_NONE)
        cp_slots_links(s, k->prev)->next = k->next;
    else
        l->head = k->next;
    if (k->next != CP_SLOT_NONE)
        cp_slots_links(s, k->next)->prev = k->prev;
    else
        l->tail = k->prev;
    k->prev = k->next = CP_SLOT_NONE;
}

void cp_list_append(const cp_slots *s, cp_list *l, uint32_t i)
{
    cp_links *k = cp_slots_links(s, i);
    k->prev = l->tail;
    k->next = CP_SLOT_NONE;
    if (l->tail != CP_SLOT_NONE)
        cp_slots_links(s, l->tail)->next = i;
    else
        l->head = i;
    l->tail = i;
}
