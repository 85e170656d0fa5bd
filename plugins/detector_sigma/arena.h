/*
 * plugins/detector_sigma/arena.h - a bump allocator. A loaded rule's parsed
 * form (strings, selections, condition tree) lives in one arena and is freed
 * at once with the rule; the loader's YAML tree lives in a second one that is
 * freed when loading ends.
 *
 * Cap: an arena never holds more than the cap given to ds_arena_init;
 * ds_arena_alloc returns NULL at it (and when malloc fails), which the loader
 * reports as a rule too large. Not thread-safe: one arena, one thread.
 */
#ifndef RP_DETECTOR_SIGMA_ARENA_H
#define RP_DETECTOR_SIGMA_ARENA_H

#include <stddef.h>

struct ds_arena_chunk;

struct ds_arena {
    struct ds_arena_chunk *head; /* owned: the chunks, newest first */
    size_t used;                 /* bytes handed out plus chunk overhead */
    size_t cap;                  /* most bytes the arena may take */
};

/* Starts an empty arena that will take at most cap bytes. */
void ds_arena_init(struct ds_arena *a, size_t cap);

/* size bytes, zeroed, aligned for any object; NULL at the cap or without
 * memory. The memory is the arena's until ds_arena_free. */
void *ds_arena_alloc(struct ds_arena *a, size_t size);

/* A NUL-terminated copy of len bytes of s (which may hold NULs of its own);
 * NULL as ds_arena_alloc. */
char *ds_arena_strndup(struct ds_arena *a, const char *s, size_t len);

/* Frees every chunk; the arena is empty and usable again. NULL is a no-op. */
void ds_arena_free(struct ds_arena *a);

#endif
