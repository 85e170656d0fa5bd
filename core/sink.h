/*
 * core/sink.h - the sink: the lossless bus subscriber that takes every event
 * off the bus and writes it out as one flat-ECS NDJSON line.
 *
 * This version writes to a local events file (rotated by size, a bounded
 * number of old files kept) and, in the foreground, to stdout. Lines are
 * gathered in a buffer of buffer_bytes and written when it fills, on
 * rp__sink_flush (the agent calls it from a loop timer every
 * flush_interval_ms) and at destroy, so at most one flush interval of events
 * is in memory at any time.
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

typedef struct rp__sink_opts {
    const char *file;        /* absolute path of the events file, or NULL; copied */
    uint64_t file_max_bytes; /* rotate before the file passes this; 0 = never */
    uint32_t file_keep;      /* rotated files kept: <file>.1 (newest) .. <file>.N */
    int to_stdout;           /* also write every line to stdout */
    uint32_t buffer_bytes;   /* write out when this much is buffered; 0 = 64 KiB */
} rp__sink_opts;

typedef struct rp__sink_stats {
    uint64_t events;         /* lines written or buffered */
    uint64_t bytes;          /* bytes of those lines */
    uint64_t encode_errors;  /* events that could not be encoded (logged) */
    uint64_t write_errors;   /* failed writes (logged; the lines are kept and retried) */
    uint64_t rotations;
} rp__sink_stats;

/* Opens the events file (creating it, mode 0640). */
int rp__sink_create(const rp__sink_opts *opts, rp__sink **out);

/* The bus callback: arg is the sink, ev is borrowed. */
int rp__sink_on_event(void *arg, const struct rp_event *ev);

/* Writes out what is buffered. Any thread. */
int rp__sink_flush(rp__sink *sink);

void rp__sink_get_stats(rp__sink *sink, rp__sink_stats *out);

/* Flushes, syncs and closes. NULL is a no-op. */
void rp__sink_destroy(rp__sink *sink);

#endif
