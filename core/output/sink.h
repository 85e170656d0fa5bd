/*
 * core/output/sink.h - the sink: the lossless bus subscriber that takes every event
 * off the bus and writes it out as one flat-ECS NDJSON line.
 *
 * Two modes:
 *  - local (no output.url): a local events file (rotated by size, a bounded
 *    number of old files kept) and, in the foreground, stdout. Lines are
 *    gathered in a buffer of buffer_bytes and written when it fills, on
 *    rp__sink_flush and at destroy;
 *  - batch (opts.spool set): lines are gathered into a batch that is cut
 *    when it holds batch_max_events events, when the next line would take it
 *    past batch_max_bytes, or on rp__sink_flush; a cut batch is gzipped (when
 *    opts.gzip) and appended to the spool, from which the uploader sends it.
 * The agent calls rp__sink_tick from a loop timer every flush_interval_ms
 * while the sink holds anything, so at most one flush interval of events is
 * only in memory at any time (what a kill -9 can lose); the spool's own
 * fsync policy bounds what a power cut can lose. When a tick leaves nothing
 * behind, the timer stops and the next event calls opts.wake to arm it
 * again: an idle agent has no flush wake-ups at all.
 *
 * When the spool refuses a batch (an I/O error, or full with every batch in
 * flight), the sealed batch is held in memory, up to RP__SINK_HELD_MAX bytes
 * and RP__SINK_HELD_BATCHES batches, and offered again on every flush; past
 * that cap the oldest held batch is dropped and counted in dropped_*.
 *
 * Threads: rp__sink_on_event runs on one bus dispatcher at a time (the
 * subscription is not concurrent); rp__sink_flush may run on another thread
 * at the same time. Both take the sink's lock.
 */
#ifndef RP_CORE_SINK_H
#define RP_CORE_SINK_H

#include <rampart/plugin.h>

#include <stdint.h>

typedef struct rp__sink rp__sink;
struct rp__spool;
struct rp__os_dir;
struct rp__ndjson_stamp;

#define RP__SINK_HELD_MAX      ((size_t)64 << 20)
#define RP__SINK_HELD_BATCHES  64u
#define RP__SINK_ROTATIONS_MAX 10000u

typedef struct rp__sink_opts {
    const char *file; /* absolute path of the events file, or NULL; copied */
    /* The events file's folder, opened and checked by the caller (borrowed;
     * the sink keeps a handle of its own), and the file's name in it
     * (copied). Every open, rotation and rename of the events file goes
     * through that folder, never through the path again. NULL: the sink
     * opens the folder of file itself (rp__os_dir_open_parent). */
    struct rp__os_dir *file_dir;
    const char *file_name;
    uint64_t file_max_bytes; /* rotate before the file passes this; 0 = never */
    uint32_t file_keep;      /* rotated files kept: <file>.1 (newest) .. <file>.N */
    /* More rotations than this within 60 s is a burst (counted once per
     * burst in rotation_bursts; the agent alerts on it). 0 = not watched;
     * at most RP__SINK_ROTATIONS_MAX. */
    uint32_t max_rotations_per_min;
    int to_stdout;         /* also write every event to stdout: RP__SINK_STDOUT_* */
    uint32_t buffer_bytes; /* write out when this much is buffered; 0 = 64 KiB */
    /* The agent's identity, written on every line (core/output/ndjson.h); borrowed,
     * must outlive the sink; NULL = none. */
    const struct rp__ndjson_stamp *stamp;
    /* Batch mode when spool is set (borrowed; must outlive the sink; the sink
     * is its only appender). file and to_stdout still get every event: an
     * operator keeps a local copy of what is uploaded unless output.file is
     * empty. */
    struct rp__spool *spool;
    uint32_t batch_max_events; /* 0 = 1000 */
    uint32_t batch_max_bytes;  /* NDJSON bytes before compression; 0 = 1 MiB */
    int gzip;                  /* compress each batch (RP__SPOOL_FLAG_GZIP) */
    /* Events waiting on the bus for the sink (may be NULL). Above
     * RP__SINK_SPILL_BACKLOG, batches are spooled without compressing them:
     * the sink is one serial stage, gzip is most of its cost, and the
     * uploader compresses them on its own thread on the way out. So a burst
     * waits on disk instead of in memory, as long as the spool is less than
     * half full. */
    uint64_t (*backlog)(void *arg);
    void *backlog_arg;
    /* Called (outside the sink's lock, on the bus thread delivering the
     * event) by the first event after a tick found the sink idle, and by the
     * first event ever: the agent arms its flush timer. May be NULL. */
    void (*wake)(void *arg);
    void *wake_arg;
} rp__sink_opts;

#define RP__SINK_SPILL_BACKLOG 4096u

/* rp__sink_opts.to_stdout */
#define RP__SINK_STDOUT_OFF  0
#define RP__SINK_STDOUT_JSON 1 /* the NDJSON lines */
#define RP__SINK_STDOUT_TEXT 2 /* one readable line an event (core/output/console.h) */

typedef struct rp__sink_stats {
    uint64_t events;        /* lines written or buffered */
    uint64_t bytes;         /* bytes of those lines */
    uint64_t encode_errors; /* events that could not be encoded (logged) */
    uint64_t write_errors;  /* failed writes (logged; the lines are kept and retried) */
    uint64_t rotations;
    uint64_t rotation_bursts; /* times rotations passed max_rotations_per_min */
    /* Batch mode. */
    uint64_t batches;         /* batches appended to the spool */
    uint64_t batch_raw_bytes; /* their NDJSON bytes */
    uint64_t batch_bytes;     /* their stored (compressed) bytes */
    uint64_t spilled_batches; /* stored uncompressed because of a backlog */
    uint64_t spool_errors;    /* appends the spool refused (the batch was held) */
    uint64_t held_batches;    /* batches held in memory now */
    uint64_t dropped_batches; /* held batches dropped at the cap, and their events */
    uint64_t dropped_events;
} rp__sink_stats;

/* Opens the events file (creating it, mode 0640), or in batch mode sets up
 * the batch buffers (and the compressor). */
int rp__sink_create(const rp__sink_opts *opts, rp__sink **out);

/* The bus callback: arg is the sink, ev is borrowed. */
int rp__sink_on_event(void *arg, const struct rp_event *ev);

/* Writes out what is buffered; in batch mode cuts the batch being filled,
 * offers held batches to the spool again and lets the spool sync per its
 * policy. Any thread. */
int rp__sink_flush(rp__sink *sink);

/* rp__sink_flush for the flush timer. *idle is set to 1 when nothing is
 * left for a later flush: the caller then lets its timer lapse, and the
 * sink calls opts.wake on its next event. Otherwise 0: tick again after
 * the flush interval. Any thread. */
int rp__sink_tick(rp__sink *sink, int *idle);

void rp__sink_get_stats(rp__sink *sink, rp__sink_stats *out);

/* Flushes, syncs and closes. NULL is a no-op. */
void rp__sink_destroy(rp__sink *sink);

#endif
