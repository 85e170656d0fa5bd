/*
 * fanrec.h - the parser of what read() returns from collector_file's
 * fanotify group (FAN_REPORT_DFID_NAME | FAN_REPORT_FID |
 * FAN_REPORT_TARGET_FID): the walk over a buffer's event records and each
 * record's info records, to plain structs. Pure: no system calls, no state,
 * so tests/fuzz/fuzz_fanotify.c can feed it any bytes. Private to the plugin.
 */
#ifndef RP_COLLECTOR_FILE_FANREC_H
#define RP_COLLECTOR_FILE_FANREC_H

#include <stddef.h>
#include <stdint.h>

/* The largest file handle accepted (the kernel's MAX_HANDLE_SZ). */
#define CF_FAN_HANDLE_MAX 128

/* A file handle (and, for the *_NAME info types, a name) from one info
 * record, pointing into the buffer walked (valid as long as it is). */
struct cf_fid_ref {
    const unsigned char *fsid; /* 8 bytes */
    uint32_t handle_type;
    uint32_t handle_bytes; /* at most CF_FAN_HANDLE_MAX */
    const unsigned char *handle;
    const char *name; /* NUL-terminated inside the info record, no '/'; NULL
                       * for info types without a name */
};

/* One event record. When vers is not FANOTIFY_METADATA_VERSION only the
 * header fields are filled (the layout of the rest is unknown). For each
 * have_* that is 0 the matching ref is not to be used. */
struct cf_fanrec {
    uint64_t mask;
    int32_t pid;
    int32_t fd; /* the record's fd: FAN_NOFD with FID reporting; the
                 * caller closes any other (cf_fan_* does) */
    uint8_t vers;
    int have_dfid;  /* DFID_NAME (dir + name), else DFID (dir alone) */
    int have_fid;   /* FID: the object's own handle */
    int have_old;   /* OLD_DFID_NAME (FAN_RENAME) */
    int have_new;   /* NEW_DFID_NAME (FAN_RENAME) */
    int have_pidfd; /* PIDFD (only with FAN_REPORT_PIDFD, which the plugin
                     * does not ask for) */
    struct cf_fid_ref dfid, fid, old_dfid, new_dfid;
    int32_t pidfd;
    uint32_t bad_info; /* info records skipped as malformed */
};

/* A walk over one buffer as read() returned it. */
struct cf_fanwalk {
    const unsigned char *buf;
    size_t len;
    size_t off;
};

void cf_fanwalk_init(struct cf_fanwalk *w, const void *buf, size_t len);

/* The next event record into *r. Returns 0, RP_ERR_NOTFOUND when no whole
 * record header is left, or RP_ERR_PARSE when a record's lengths do not fit
 * (the records after it cannot be found: the rest of the buffer is dropped
 * and the walk ends). Every length is checked before it is used: the
 * record's event_len and metadata_len, each info header's len, a file
 * handle's handle_bytes and a name's NUL. A malformed info record ends the
 * record's info walk (what came before is kept); a malformed handle or name
 * leaves its have_* at 0. */
int cf_fanwalk_next(struct cf_fanwalk *w, struct cf_fanrec *r);

#endif
