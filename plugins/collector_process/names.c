/* names.c - user and group names from the local files (see names.h). */
#define _GNU_SOURCE
#include "names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NAME_MAX_LEN 64

struct slot {
    uint32_t id;
    uint8_t used, found;
    char name[NAME_MAX_LEN + 1];
};

struct cp_names {
    char path[64];
    struct slot *slots;
    uint32_t nslots, count, cap;
    struct stat st; /* of the file when last read */
    int have_st;
};

cp_names *cp_names_new(const char *path, uint32_t cap)
{
    cp_names *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    size_t pl = strlen(path);
    if (pl >= sizeof n->path || cap == 0) {
        free(n);
        return NULL;
    }
    memcpy(n->path, path, pl + 1);
    n->cap = cap;
    n->nslots = cap * 2;
    n->slots = calloc(n->nslots, sizeof *n->slots);
    if (!n->slots) {
        free(n);
        return NULL;
    }
    return n;
}

void cp_names_free(cp_names *n)
{
    if (!n)
        return;
    free(n->slots);
    free(n);
}

static void clear(cp_names *n)
{
    memset(n->slots, 0, (size_t)n->nslots * sizeof *n->slots);
    n->count = 0;
}

/* Looks id up in the file: "name:password:id:...". Lines too long for the
 * buffer are skipped whole. */
static int lookup_file(cp_names *n, uint32_t id, char *out, size_t cap)
{
    FILE *f = fopen(n->path, "re");
    if (!f)
        return 0;
    struct stat st;
    if (fstat(fileno(f), &st) == 0) {
        n->st = st;
        n->have_st = 1;
    }
    char line[1024];
    int found = 0, skipping = 0;
    while (!found && fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        int whole = l > 0 && line[l - 1] == '\n';
        if (skipping) {
            skipping = !whole;
            continue;
        }
        skipping = !whole && !feof(f);
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || c1 == line)
            continue;
        char *end;
        unsigned long v = strtoul(c2 + 1, &end, 10);
        if (end == c2 + 1 || *end != ':' || v != id)
            continue;
        size_t nl = (size_t)(c1 - line);
        if (nl >= cap)
            nl = cap - 1;
        memcpy(out, line, nl);
        out[nl] = '\0';
        found = 1;
    }
    fclose(f);
    return found;
}

const char *cp_names_get(cp_names *n, uint32_t id)
{
    uint32_t i = (id * 2654435761u) % n->nslots;
    while (n->slots[i].used) {
        if (n->slots[i].id == id)
            return n->slots[i].found ? n->slots[i].name : NULL;
        i = (i + 1) % n->nslots;
    }
    if (n->count >= n->cap) {
        clear(n);
        i = (id * 2654435761u) % n->nslots;
    }
    struct slot *s = &n->slots[i];
    s->used = 1;
    s->id = id;
    s->found = (uint8_t)lookup_file(n, id, s->name, sizeof s->name);
    n->count++;
    return s->found ? s->name : NULL;
}

void cp_names_check(cp_names *n)
{
    struct stat st;
    if (!n->have_st || n->count == 0)
        return;
    if (stat(n->path, &st) != 0 || st.st_ino != n->st.st_ino || st.st_size != n->st.st_size ||
        st.st_mtim.tv_sec != n->st.st_mtim.tv_sec || st.st_mtim.tv_nsec != n->st.st_mtim.tv_nsec)
        clear(n);
}
