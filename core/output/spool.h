/*
 * core/output/spool.h - the write-ahead spool: batches of encoded events wait on
 * disk, in order, until the backend has accepted them.
 *
 * The sink appends a batch (the bytes it will upload, usually gzipped NDJSON)
 * before anything is sent; the uploader reads batches in order, uploads them
 * and acks each one after a 2xx; acked batches are deleted. The spool
 * survives kill -9 and power loss (per the fsync policy), is bounded in bytes
 * on disk (the oldest batches are dropped first, and counted), treats a full
 * disk like a full spool, and never crashes on a damaged file: torn and
 * corrupt records are cut or skipped and counted. docs/spool.md describes the
 * files, the record format and the recovery rules.
 *
 * Threads: one appender thread (rp__spool_append, rp__spool_sync) and one
 * reader thread (rp__spool_next, rp__spool_ack) may work at the same time;
 * rp__spool_get_stats may be called from any thread. Open and close must not
 * overlap any other call. Two processes must never open the same folder (the
 * agent's pid file guards its data folder).
 *
 * Caps: a payload is at most RP__SPOOL_PAYLOAD_MAX bytes (RP_ERR_RANGE);
 * the segment files together at most opts.max_bytes (the oldest batches are
 * dropped to make room; RP_ERR_FULL when nothing may be dropped); at most
 * opts.max_inflight batches are handed out and not yet acked (RP_ERR_BUSY);
 * at most RP__SPOOL_MAX_SEGMENTS segment files (the oldest is dropped).
 */
#ifndef RP_CORE_SPOOL_H
#define RP_CORE_SPOOL_H

#include "lib/buf.h"
#include "lib/crc32c.h" /* the records' checksum, for tests and tools */
#include "os/os_fs.h"

#include <stddef.h>
#include <stdint.h>

/* Record header bytes; see docs/spool.md for the layout. */
#define RP__SPOOL_HEADER_LEN 56u
/* The largest payload a record may hold (a record claiming more is corrupt). */
#define RP__SPOOL_PAYLOAD_MAX         (64u << 20)
#define RP__SPOOL_DEFAULT_MAX_BYTES   ((uint64_t)1 << 30)
#define RP__SPOOL_DEFAULT_INTERVAL_MS 1000u
#define RP__SPOOL_DEFAULT_INFLIGHT    64u
#define RP__SPOOL_MAX_INFLIGHT        (1u << 20) /* more is RP_ERR_INVAL at open */
/* Segment size when opts.segment_bytes is 0: max_bytes / 16, kept between
 * these two bounds. Dropping frees whole segments, so this is also the most
 * a drop may take beyond what the new batch needs. */
#define RP__SPOOL_SEGMENT_MIN  ((uint64_t)64 << 10)
#define RP__SPOOL_SEGMENT_MAX  ((uint64_t)8 << 20)
#define RP__SPOOL_MAX_SEGMENTS 65536u
/* An Idempotency-Key: 16 hex digits, '-', up to 20 decimal digits, NUL. */
#define RP__SPOOL_KEY_MAX 40

/* Payload flag bits the spool stores and hands back untouched. */
#define RP__SPOOL_FLAG_GZIP 0x1u

/*
 * When appended data is made durable (config spool.fsync):
 *   ALWAYS    every append syncs before it returns: a batch whose append
 *             returned survives power loss;
 *   INTERVAL  ("batch") the segment is synced when an append or
 *             rp__spool_sync finds fsync_interval_ms passed since the last
 *             sync, and always before a segment is closed: power loss loses at
 *             most the batches appended since the last sync (the window is
 *             fsync_interval_ms plus the gap between the sink's calls);
 *   NEVER     the operating system writes when it likes.
 * kill -9 of the agent alone loses nothing that an append returned, under any
 * policy: the data is in the kernel once write() returns.
 */
enum rp__spool_fsync {
    RP__SPOOL_FSYNC_INTERVAL = 0,
    RP__SPOOL_FSYNC_ALWAYS,
    RP__SPOOL_FSYNC_NEVER,
};

/* Parses "always", "batch" or "interval" (the same thing), or "never";
 * RP_ERR_INVAL for anything else. */
int rp__spool_fsync_parse(const char *name, enum rp__spool_fsync *out);

typedef struct rp__spool_opts {
    /* The spool folder, opened once by the caller (the agent: rp__os_dir_sub
     * of its data folder, which checks it). Borrowed for rp__spool_open
     * only: the spool keeps a handle of its own. When NULL, dir is opened
     * instead (tests, benches, tools). */
    const rp__os_dir *folder;
    const char *dir;        /* the spool folder's path, when folder is NULL: created (0700)
                               if missing, opened once (see rp__spool_open). Borrowed for
                               rp__spool_open only. */
    uint64_t max_bytes;     /* cap on the segment files' bytes; 0 = default */
    uint64_t segment_bytes; /* a segment is closed once it would grow past
                              this; 0 = max_bytes / 16 within the bounds above */
    enum rp__spool_fsync fsync;
    uint32_t fsync_interval_ms; /* INTERVAL only; 0 = default */
    uint32_t max_inflight;      /* 0 = default */
    /* Called on the appender's thread after each successful append, with no
     * lock held, so the uploader can wake up. May be NULL. Must not call back
     * into the spool's appender functions. */
    void (*on_append)(void *ctx, uint64_t id);
    void *on_append_ctx;
} rp__spool_opts;

/* Fills *o with the defaults for folder dir. */
void rp__spool_opts_init(rp__spool_opts *o, const char *dir);

typedef struct rp__spool rp__spool;

/*
 * Opens (creating it if needed) the spool in opts->dir and recovers it. A
 * segment closed cleanly is taken at its footer's word (one read per file);
 * any other is checked record by record (magic, version, header checksum,
 * lengths against the cap and the file size): a torn tail is cut, a corrupt
 * stretch in the middle is skipped up to the next valid record, and both are
 * counted in the stats and logged. Payloads, and the records of segments
 * taken at their footer's word, are checked when each batch is read
 * (rp__spool_next), so opening a large spool reads almost nothing. Fails only
 * when the folder cannot be used (RP_ERR_PERM, RP_ERR_IO, RP_ERR_NOMEM,
 * RP_ERR_INVAL for bad options); never because of what the files hold. *out
 * is freed by rp__spool_close.
 *
 * The folder is opts->folder, or else opts->dir (absolute) opened once:
 * its parent as rp__os_dir_open_parent does (missing parents are created
 * first), the folder itself as rp__os_dir_sub with mode 0700 does, so a
 * symbolic link there, or a folder that is not root's or the agent's or
 * that group or others may write, is refused (RP_ERR_PERM; RP_ERR_INVAL for
 * a relative path). The open folder is kept, and every file after that is
 * opened, created, removed and listed by name in it (on Unix; docs/spool.md
 * says what Windows does), so a later rename of the folder or a link put at
 * its path redirects nothing.
 */
int rp__spool_open(const rp__spool_opts *opts, rp__spool **out);

/* Syncs per the policy, records the ack progress, closes the files and frees
 * the spool. NULL is a no-op. No other call may be running. */
void rp__spool_close(rp__spool *sp);

/*
 * Appends one batch: payload[0..len) with its event count and flags. When
 * this returns 0 the batch is on disk (and synced under ALWAYS), has the id
 * stored in *id_out (if not NULL) and may be uploaded. Ids are strictly
 * increasing for the life of the folder, across restarts.
 *
 * If the spool would grow past max_bytes, or the disk is full (ENOSPC,
 * EDQUOT), the oldest segments whose batches are not handed out to the reader
 * are dropped first, counted in dropped_full_*; RP_ERR_FULL when nothing
 * is left to drop (the spool is left exactly as it was). RP_ERR_RANGE when
 * len > RP__SPOOL_PAYLOAD_MAX or the record alone exceeds max_bytes.
 * RP_ERR_IO on other write errors (the partial record is cut away, the
 * segment is closed and the next append starts a new one).
 * Appender thread only. The payload is only read.
 */
int rp__spool_append(rp__spool *sp, const void *payload, size_t len, uint32_t events,
                     uint32_t flags, uint64_t *id_out);

/* Under INTERVAL: syncs the open segment if it has unsynced data and the
 * interval has passed, or at once when force is non-zero. Under ALWAYS
 * nothing is pending; under NEVER it syncs only when forced. The sink calls
 * it from its flush timer so the loss window stays bounded when appends
 * stop. Appender thread only. */
int rp__spool_sync(rp__spool *sp, int force);

/* 1 when appended data waits for a sync that rp__spool_sync would do once
 * its interval passes (INTERVAL policy only), else 0. The sink keeps its
 * flush timer running while this holds. Appender thread only. */
int rp__spool_sync_pending(const rp__spool *sp);

/* One batch handed to the reader. payload points into the caller's buffer. */
typedef struct rp__spool_batch {
    uint64_t id;
    uint64_t uid; /* the spool's identity when the batch was written */
    uint32_t events;
    uint32_t flags;
    int64_t created_ns; /* wall clock at append */
    const void *payload;
    size_t len;
} rp__spool_batch;

/*
 * Hands out the oldest batch with an id above after_id that is not acked:
 * pass 0 (or a smaller id) to get again the batches already handed out and
 * not acked, oldest first; pass the id last received to go on to the next
 * batch. A batch handed out is "in flight" until acked: it is never dropped
 * to make room. The payload is read into buf (reset first; its max must be at
 * least the payload's length, RP__SPOOL_PAYLOAD_MAX is always enough) and
 * its checksum verified; a batch that fails is dropped, counted in
 * corrupt_*, and the next one is tried.
 * Returns 0, RP_ERR_NOTFOUND when there is nothing to hand out,
 * RP_ERR_BUSY when max_inflight batches are in flight, RP_ERR_RANGE when
 * buf->max is too small (nothing is consumed), RP_ERR_IO, RP_ERR_NOMEM.
 * Reader thread only. *out stays valid until buf is changed.
 */
int rp__spool_next(rp__spool *sp, uint64_t after_id, rp__buf *buf, rp__spool_batch *out);

/*
 * The backend accepted batch id (or the uploader gave it up, e.g. to the
 * dead-letter folder): it leaves the spool. Its segment file is deleted once
 * every batch in it is acked or dropped. RP_ERR_NOTFOUND when id is not in
 * flight. Reader thread only.
 */
int rp__spool_ack(rp__spool *sp, uint64_t id);

/* The Idempotency-Key of a batch, "<uid as 16 hex digits>-<id>", stable for
 * the life of the batch (across retries and restarts). Returns the length. */
size_t rp__spool_idempotency_key(const rp__spool_batch *b, char out[RP__SPOOL_KEY_MAX]);

/* Counters for agent.health. "Bytes" of a batch are its record: header plus
 * payload. */
typedef struct rp__spool_stats {
    /* Now. */
    uint64_t queued_batches, queued_events, queued_bytes; /* not acked, in flight included */
    uint64_t inflight_batches;
    uint64_t disk_bytes; /* bytes of the segment files: what max_bytes bounds */
    uint64_t segments;
    uint64_t max_bytes;
    uint64_t next_id;  /* the id the next append gets */
    uint64_t acked_id; /* every batch up to this id is acked or gone */
    uint64_t uid;
    /* Since open. */
    uint64_t appended_batches, appended_events, appended_bytes;
    uint64_t acked_batches, acked_events, acked_bytes;
    uint64_t dropped_full_batches, dropped_full_events, dropped_full_bytes;
    uint64_t refused_full; /* appends that returned RP_ERR_FULL */
    uint64_t enospc;       /* times the disk said it was full */
    uint64_t cut_torn_records, cut_torn_bytes;
    uint64_t corrupt_records, corrupt_events, corrupt_bytes; /* events: when the header was good */
    uint64_t io_errors;
    uint64_t syncs;
    uint64_t state_resets; /* the state file was missing or damaged: new uid */
} rp__spool_stats;

/* A consistent snapshot. Any thread. */
void rp__spool_get_stats(rp__spool *sp, rp__spool_stats *out);

/* Builds the record header for a payload (used by the spool; exposed so that
 * tests and the fuzz target write records exactly as docs/spool.md says). */
void rp__spool_encode_header(uint8_t out[RP__SPOOL_HEADER_LEN], uint64_t id, uint64_t uid,
                             uint32_t events, uint32_t flags, int64_t created_ns,
                             const void *payload, uint32_t len);

#endif
