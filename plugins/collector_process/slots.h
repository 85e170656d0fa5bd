/*
 * slots.h - what the process table (ptable.c) and the executable hash cache
 * (hcache.c) share: a fixed array of entries addressed by index, each holding
 * a cp_links; a power-of-two array of hash buckets whose chains, like the
 * list of free slots, run through hnext; and lists in recency order through
 * prev and next. Nothing is allocated after cp_slots_init, so a full table
 * evicts instead of growing.
 */
#ifndef RP_COLLECTOR_PROCESS_SLOTS_H
#define RP_COLLECTOR_PROCESS_SLOTS_H

#include <stddef.h>
#include <stdint.h>

/* No entry: the end of a chain or list. */
#define CP_SLOT_NONE UINT32_MAX

typedef struct cp_links {
    uint32_t hnext, prev, next;
} cp_links;

typedef struct cp_list {
    uint32_t head, tail; /* oldest first */
} cp_list;

typedef struct cp_slots {
    char *e;       /* cap entries, stride bytes apart, zeroed at init */
    size_t stride; /* the size of an entry */
    size_t off;    /* where its cp_links lies in it */
    uint32_t cap, mask;
    uint32_t *buckets;
    uint32_t free_head; /* released entries, chained by hnext */
    uint32_t fresh;     /* entries from here on were never used */
} cp_slots;

/* Allocates cap entries (all free) and at least cap buckets (at most 2^30).
 * 0, or -1 when cap is 0 or memory is short. */
int cp_slots_init(cp_slots *s, uint32_t cap, size_t stride, size_t off);
void cp_slots_fini(cp_slots *s);

/* 1 when every entry is in use: take would return CP_SLOT_NONE. */
static inline int cp_slots_full(const cp_slots *s)
{
    return s->free_head == CP_SLOT_NONE && s->fresh >= s->cap;
}

static inline void *cp_slots_at(const cp_slots *s, uint32_t i)
{
    return s->e + (size_t)i * s->stride;
}

static inline cp_links *cp_slots_links(const cp_slots *s, uint32_t i)
{
    return (cp_links *)(s->e + (size_t)i * s->stride + s->off);
}

/* The index of an entry. */
static inline uint32_t cp_slots_index(const cp_slots *s, const void *entry)
{
    return (uint32_t)((size_t)((const char *)entry - s->e) / s->stride);
}

/* The first entry of bucket b's chain (follow hnext), or CP_SLOT_NONE. */
static inline uint32_t cp_slots_bucket(const cp_slots *s, uint32_t b)
{
    return s->buckets[b & s->mask];
}

/* Takes a free slot, zeroed, into bucket b's chain, in no list: its index,
 * or CP_SLOT_NONE when no slot is free. */
uint32_t cp_slots_take(cp_slots *s, uint32_t b);

/* Takes slot i (in no list) out of bucket b's chain, zeroes it and frees it. */
void cp_slots_release(cp_slots *s, uint32_t b, uint32_t i);

void cp_list_init(cp_list *l);
/* Takes slot i out of list l (it must be in l). */
void cp_list_unlink(const cp_slots *s, cp_list *l, uint32_t i);
/* Puts slot i (in no list) last in list l. */
void cp_list_append(const cp_slots *s, cp_list *l, uint32_t i);

#endif
