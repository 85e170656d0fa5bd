/*
 * tests/fuzz/fuzz_inotify.c - libFuzzer target for collector_file's inotify
 * buffer parser (plugins/collector_file/inorec.c, compiled into this binary:
 * plugins never link the host). Whatever a buffer read from the inotify
 * descriptor holds, walking its records must never read past it, loop
 * forever, or hand out a name that is not NUL-terminated inside its record
 * or holds a '/' (the name is joined to the watched folder's path).
 *
 * Input layout: one buffer as read() returns it (corpus/inotify/ holds real
 * ones captured with tools/fuzz-seeds/inotify.py). It is walked in a heap
 * copy of exactly its size, so a read past its end is caught by ASan; the
 * walk's results are checked against a reference walk written here.
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads this line):
 * fuzz-standalone: plugins/collector_file/inorec.c
 */
#define _GNU_SOURCE
#include "inorec.h"
#include <rampart/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_inotify: check failed at line %d: %s\n", __LINE__, #cond);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf = malloc(size ? size : 1);
    CHECK(buf != NULL);
    memcpy(buf, data, size);

    struct cf_inowalk w;
    cf_inowalk_init(&w, buf, size);
    size_t off = 0, steps = 0;
    for (;;) {
        struct cf_inorec r;
        memset(&r, 0, sizeof r);
        int rc = cf_inowalk_next(&w, &r);
        steps++;
        CHECK(steps <= size / sizeof(struct inotify_event) + 1);
        /* The reference: the header at off, its name length, its name. */
        if (size - off < sizeof(struct inotify_event)) {
            CHECK(rc == RP_ERR_NOTFOUND);
            break;
        }
        struct inotify_event ie;
        memcpy(&ie, data + off, sizeof ie);
        size_t room = size - off - sizeof ie;
        if (ie.len > room) {
            CHECK(rc == RP_ERR_PARSE);
            /* The walk ends: the records after it cannot be found. */
            CHECK(cf_inowalk_next(&w, &r) == RP_ERR_NOTFOUND);
            break;
        }
        const char *name = (const char *)buf + off + sizeof ie;
        off += sizeof ie + ie.len;
        CHECK(w.off == off);
        if (ie.len && (!memchr(name, '\0', ie.len) || memchr(name, '/', strnlen(name, ie.len)))) {
            CHECK(rc == RP_ERR_INVAL);
            continue;
        }
        CHECK(rc == 0);
        CHECK(r.wd == ie.wd && r.mask == ie.mask && r.cookie == ie.cookie);
        if (ie.len == 0) {
            CHECK(r.name != NULL && r.name[0] == '\0');
        } else {
            CHECK(r.name == name);
            CHECK(strlen(r.name) < ie.len && !strchr(r.name, '/'));
        }
    }
    free(buf);
    return 0;
}
