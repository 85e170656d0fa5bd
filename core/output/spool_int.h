/*
 * core/output/spool_int.h - what the spool's files share, private to them:
 * the spool's state (struct rp__spool), its segment list entries, and the
 * few functions one file calls in another. spool.c is the spool proper
 * (open, append, read, ack, close); spool_recover.c rebuilds the segment list
 * from the folder at open; spool_codec.c encodes and checks the bytes.
 *
 * Layout in memory: a list of segments, oldest first, each with the sums of
 * its valid records and of those already retired (acked, dropped as corrupt,
 * or acked before a restart); a reader cursor (segment, offset); and a small
 * window of the batches handed out and not yet acked. Only sums are kept, not
 * one entry per batch, so memory grows with the number of segment files
 * (max_bytes / segment size), not with the number of batches.
 *
 * Threads: one mutex guards the list, the sums, the cursor, the window and the
 * counters. File I/O runs outside it: the appender owns the open segment's
 * handle and writes past the published size, which the reader never reads;
 * the reader owns its read handle and pins ("busy") the segment it reads so
 * that the appender cannot drop it meanwhile. Segment structs are freed only
 * by the thread that detached them under the mutex.
 */
#ifndef RP_CORE_SPOOL_INT_H
#define RP_CORE_SPOOL_INT_H

#include "output/spool.h"
#include "output/spool_codec.h"

#include "lib/log.h"
#include "os/os_fs.h"
#include "os/os_thread.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The short names the spool's files use for the format's constants. */
#define HDR         RP__SPOOL_HEADER_LEN
#define FOOTER_LEN  RP__SPOOL_FOOTER_LEN
#define STATE_MAGIC RP__SPOOL_STATE_MAGIC
#define ACKED_MAGIC RP__SPOOL_ACKED_MAGIC
#define SMALL_LEN   RP__SPOOL_SMALL_LEN
#define ID_MAX      RP__SPOOL_ID_MAX
/* The reader's and recovery's read size when looking for the next record
 * after damage. */
#define RESYNC_CHUNK ((size_t)64 << 10)

struct skip {
    uint64_t off, len;
};

struct seg {
    uint64_t seq;
    uint64_t size;                 /* end of the last record (records + skipped stretches) */
    uint64_t file_bytes;           /* on disk: size, the footer (or room kept for it), and
                                      any tail a failed cut left */
    uint64_t count, events, bytes; /* valid records */
    uint64_t first_id, last_id;
    uint64_t ret_count, ret_events, ret_bytes; /* of those, retired */
    uint64_t if_events, if_bytes;              /* of those, in flight */
    uint32_t inflight;
    int busy;           /* the reader is reading it without the lock */
    int sealed;         /* no more appends: may be deleted once all is retired */
    struct skip *skips; /* corrupt stretches found at open, by offset */
    size_t nskips, skip_next;
    struct seg *prev, *next;
};

struct win {
    uint64_t id;
    struct seg *seg;
    uint64_t off;
    uint64_t rec_len;
    uint32_t events;
    int done;
};

struct rp__spool {
    char *dir;
    size_t path_cap;
    /* The folder, opened once at open: every file is opened, created,
     * removed and listed in it by name, never by path again (the paths built
     * from dir are for log lines). Both threads use it; close frees it. */
    rp__os_dir *dirh;
    uint64_t max_bytes, seg_max;
    enum rp__spool_fsync fsync;
    int64_t interval_ns;
    uint32_t max_inflight;
    void (*on_append)(void *ctx, uint64_t id);
    void *on_append_ctx;
    uint64_t uid;

    rp__os_mutex *mu;
    /* Under mu. */
    struct seg *head, *tail;
    size_t nseg;
    uint64_t disk_bytes;
    struct seg *cur; /* reader cursor; NULL: everything listed has been passed */
    uint64_t cur_off, cur_last_id;
    struct win *win; /* ring of max_inflight */
    uint32_t win_head, win_count;
    uint64_t next_id, acked_id;
    rp__spool_stats st; /* the "since open" counters */
    int problems_logged;

    /* Appender only. */
    struct seg *wseg;
    rp__os_file wfd;
    int wfd_orphan; /* wseg was dropped: wfd must be closed */
    int dirty;
    int64_t last_sync_ns;
    uint64_t next_seq, id_limit;
    rp__os_file state_fd;
    char *wpath;

    /* Reader only. */
    rp__os_file rfd;
    uint64_t rfd_seq;
    rp__os_file acked_fd;
    uint64_t acked_written;
    char *rpath;
    uint8_t *rchunk; /* for resynchronising after damage; from malloc when needed */
};

static inline uint64_t sub_sat(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static inline void retire(struct seg *s, uint64_t count, uint64_t events, uint64_t bytes)
{
    s->ret_count += count;
    s->ret_events += events;
    s->ret_bytes += bytes;
}

static inline void seg_free(struct seg *s)
{
    if (!s)
        return;
    free(s->skips);
    free(s);
}

/* ---- in spool.c ---- */

/* The path of segment seq, written into buf (sp->path_cap bytes): "<dir>/<name>",
 * for log lines; files are opened by rp__spool_name of it in sp->dirh. */
const char *rp__spool_seg_path(const rp__spool *sp, char *buf, uint64_t seq);

/* The file name in a path that rp__spool_seg_path (or spool.c's file_path)
 * built: what follows "<dir>/". */
static inline const char *rp__spool_name(const rp__spool *sp, const char *path)
{
    return path + strlen(sp->dir) + 1;
}

/* Logs one recovery problem, or only counts it once a few were logged in
 * this open: a damaged disk must not flood the log. */
void rp__spool_problem(rp__spool *sp, const char *fmt, ...) RP__PRINTF(2, 3);

/* Puts s at the end of the segment list. Under mu, or at open. */
void rp__spool_list_append(rp__spool *sp, struct seg *s);

/* Removes file name from the spool's folder; a missing file is success
 * (someone else removed it). */
int rp__spool_unlink(rp__spool *sp, const char *name);

/* ---- in spool_recover.c ---- */

/* Returned by rp__spool_resync when the file cannot be read. */
#define RESYNC_IO_ERROR UINT64_MAX

/* Finds the first offset in (from, size) of file f where a valid record
 * starts and fits in the file; size when there is none, RESYNC_IO_ERROR when
 * the file cannot be read. chunk holds RESYNC_CHUNK bytes. */
uint64_t rp__spool_resync(rp__os_file f, uint64_t from, uint64_t size, uint8_t *chunk);

/* Lists the folder's segment files and appends an entry for each one that
 * still has something to send to the segment list, oldest first, cutting
 * torn tails, noting corrupt stretches and removing files with nothing left
 * (see rp__spool_open in spool.h). acked: every id up to it was acked.
 * Sets sp->next_seq past the names seen, and *last_id to the highest id the
 * files cover. chunk holds RESYNC_CHUNK bytes. At open, single-threaded.
 * Fails only when the folder cannot be listed or memory runs out. */
int rp__spool_recover(rp__spool *sp, uint64_t acked, uint8_t *chunk, uint64_t *last_id);

#endif
