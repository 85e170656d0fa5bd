/* ptable.c - the process table (see ptable.h). */
#include "ptable.h"

#include <stddef.h>
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

struct cp_table {
    cp_slots s;
    uint32_t count;
    cp_list lists[3]; /* by L_*: none (unused), live, exited; oldest first */
};

static uint32_t hash_pid(int32_t pid)
{
    return (uint32_t)pid * 2654435761u;
}

static cp_proc *entry(const cp_table *t, uint32_t i)
{
    return cp_slots_at(&t->s, i);
}

cp_table *cp_table_new(uint32_t cap)
{
    cp_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (cp_slots_init(&t->s, cap, sizeof(cp_proc), offsetof(cp_proc, links)) != 0) {
        free(t);
        return NULL;
    }
    for (int l = 0; l < 3; l++)
        cp_list_init(&t->lists[l]);
    return t;
}

void cp_table_free(cp_table *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->s.cap; i++) {
        cp_proc *p = entry(t, i);
        if (p->used) {
            cp_blob_unref(p->exe);
            cp_blob_unref(p->args);
        }
    }
    cp_slots_fini(&t->s);
    free(t);
}

static void list_unlink(cp_table *t, cp_proc *p)
{
    if (p->list == L_NONE)
        return;
    cp_list_unlink(&t->s, &t->lists[p->list], cp_slots_index(&t->s, p));
    p->list = L_NONE;
}

static void list_append(cp_table *t, cp_proc *p, uint8_t which)
{
    cp_list_append(&t->s, &t->lists[which], cp_slots_index(&t->s, p));
    p->list = which;
}

cp_proc *cp_table_get(cp_table *t, int32_t pid)
{
    for (uint32_t i = cp_slots_bucket(&t->s, hash_pid(pid)); i != CP_SLOT_NONE;
         i = entry(t, i)->links.hnext)
        if (entry(t, i)->pid == pid)
            return entry(t, i);
    return NULL;
}

/* Removes p from its hash chain and list, releases its strings and puts the
 * slot on the free list. */
static void drop(cp_table *t, cp_proc *p)
{
    list_unlink(t, p);
    cp_blob_unref(p->exe);
    cp_blob_unref(p->args);
    cp_slots_release(&t->s, hash_pid(p->pid), cp_slots_index(&t->s, p));
    t->count--;
}

static void reset(cp_proc *p, int32_t pid)
{
    cp_blob_unref(p->exe);
    cp_blob_unref(p->args);
    memset(p, 0, offsetof(cp_proc, links)); /* all but the table's own members */
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
    if (cp_slots_full(&t->s)) {
        uint32_t victim = t->lists[L_EXITED].head;
        if (victim == CP_SLOT_NONE) {
            victim = t->lists[L_LIVE].head;
            if (evicted_live)
                (*evicted_live)++;
        }
        if (evicted)
            (*evicted)++;
        drop(t, entry(t, victim));
    }
    p = entry(t, cp_slots_take(&t->s, hash_pid(pid)));
    p->used = 1;
    p->pid = pid;
    p->list = L_NONE;
    list_append(t, p, L_LIVE);
    t->count++;
    return p;
}

void cp_table_touch(cp_table *t, cp_proc *p)
{
    if (p->list != L_LIVE || t->lists[L_LIVE].tail == cp_slots_index(&t->s, p))
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
    while (*i < t->s.cap) {
        cp_proc *p = entry(t, (*i)++);
        if (p->used)
            return p;
    }
    return NULL;
}

uint32_t cp_table_count(const cp_table *t)
{
    return t->count;
}
