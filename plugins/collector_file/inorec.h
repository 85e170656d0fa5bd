/*
 * inorec.h - the parser of what read() returns from collector_file's inotify
 * descriptor: the walk over a buffer's struct inotify_event records. Pure: no
 * system calls, no state, so tests/fuzz/fuzz_inotify.c can feed it any
 * bytes. Private to the plugin.
 */
#ifndef RP_COLLECTOR_FILE_INOREC_H
#define RP_COLLECTOR_FILE_INOREC_H

#include <stddef.h>
#include <stdint.h>

/* One record. name points into the buffer walked (valid as long as it is),
 * NUL-terminated within the record, without '/'; "" for a record without
 * a name. */
struct cf_inorec {
    int32_t wd;
    uint32_t mask;
    uint32_t cookie;
    const char *name;
};

/* A walk over one buffer as read() returned it. */
struct cf_inowalk {
    const unsigned char *buf;
    size_t len;
    size_t off;
};

void cf_inowalk_init(struct cf_inowalk *w, const void *buf, size_t len);

/* The next record into *r. Returns 0; RP_ERR_NOTFOUND when no whole record
 * header is left; RP_ERR_PARSE when the record's name length runs past the
 * buffer (the records after it cannot be found: the walk ends there); or
 * RP_ERR_INVAL for a record whose name has no NUL inside it or holds a '/'
 * (that record is skipped, the walk goes on after it). */
int cf_inowalk_next(struct cf_inowalk *w, struct cf_inorec *r);

#endif
