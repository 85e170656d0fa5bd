/* core/sink.c - the local NDJSON sink: buffered, rotated, lossless. */
#include "sink.h"
#include "log.h"
#include "ndjson.h"
#include "os/os.h"
#include "os/os_thread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BUFFER (64u * 1024)
/* A line this long or longer cannot come from one event (64 KiB of field
 * data, escaped at most 6x); the encoder refuses beyond it. */
#define LINE_MAX (64u * 1024 * 8)
/* Lines kept across failed writes before new events are counted as errors;
 * bounds memory when the disk is gone. */
#define PENDING_MAX (16u * 1024 * 1024)

struct rp__sink {
    rp__os_mutex *lock;
    char *file;
    uint64_t file_max;
    uint32_t keep;
    int to_stdout;
    size_t flush_at;
    rp__os_file *out;
    uint64_t file_size;
    rp__buf line;    /* one event, encoded */
    rp__buf pending; /* lines not yet written */
    rp__sink_stats stats;
};

static int open_file(rp__sink *s)
{
    int sys = 0;
    int rc = rp__os_file_open_append(s->file, 0640, &s->out, &sys);
    if (rc != 0) {
        rp__log_error("%s: cannot open the events file (output.file): %s", s->file,
                      sys ? strerror(sys) : rp_strerror(rc));
        return rc;
    }
    if (rp__os_file_size(s->out, &s->file_size) != 0)
        s->file_size = 0;
    return 0;
}

/* <file>.N-1 -> <file>.N, ..., <file> -> <file>.1; the oldest falls off.
 * With nothing to keep, the file starts over empty. */
static void rotate(rp__sink *s)
{
    char from[4096], to[4096];
    rp__os_file_sync(s->out);
    rp__os_file_close(s->out);
    s->out = NULL;
    if (s->keep == 0) {
        rp__os_write_file_atomic(s->file, "", 0, 0640);
    } else {
        for (uint32_t i = s->keep; i >= 1; i--) {
            if (i == 1)
                snprintf(from, sizeof from, "%s", s->file);
            else
                snprintf(from, sizeof from, "%s.%u", s->file, i - 1);
            snprintf(to, sizeof to, "%s.%u", s->file, i);
            rp__os_rename(from, to); /* a missing older file is fine */
        }
    }
    s->stats.rotations++;
    open_file(s);
}

/* Writes the pending lines; on failure they stay pending. Lock held. */
static int write_pending(rp__sink *s)
{
    if (s->pending.len == 0)
        return 0;
    if (s->to_stdout) {
        fwrite(s->pending.data, 1, s->pending.len, stdout);
        fflush(stdout);
    }
    if (!s->file) {
        rp__buf_reset(&s->pending);
        return 0;
    }
    if (!s->out && open_file(s) != 0) {
        s->stats.write_errors++;
        return RP_ERR_IO;
    }
    if (s->file_max && s->file_size > 0 && s->file_size + s->pending.len > s->file_max)
        rotate(s);
    if (!s->out)
        return RP_ERR_IO;
    int rc = rp__os_file_write(s->out, s->pending.data, s->pending.len);
    if (rc != 0) {
        /* A short write may have left part of a line: the next successful
         * write starts on a fresh line so the file stays parseable. */
        s->stats.write_errors++;
        rp__log_error("%s: cannot write events: %s; keeping them to retry", s->file,
                      rp_strerror(rc));
        rp__os_file_close(s->out);
        s->out = NULL;
        return rc;
    }
    s->file_size += s->pending.len;
    rp__buf_reset(&s->pending);
    return 0;
}

int rp__sink_create(const rp__sink_opts *opts, rp__sink **out)
{
    rp__sink *s = calloc(1, sizeof *s);
    if (!s)
        return RP_ERR_NOMEM;
    if (rp__os_mutex_create(&s->lock) != 0) {
        free(s);
        return RP_ERR_NOMEM;
    }
    s->file_max = opts->file_max_bytes;
    s->keep = opts->file_keep;
    s->to_stdout = opts->to_stdout;
    s->flush_at = opts->buffer_bytes ? opts->buffer_bytes : DEFAULT_BUFFER;
    rp__buf_init(&s->line, LINE_MAX);
    rp__buf_init(&s->pending, PENDING_MAX);
    int rc = 0;
    if (opts->file && !(s->file = strdup(opts->file)))
        rc = RP_ERR_NOMEM;
    if (rc == 0 && s->file)
        rc = open_file(s);
    if (rc != 0) {
        rp__sink_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

int rp__sink_on_event(void *arg, const struct rp_event *ev)
{
    rp__sink *s = arg;
    rp__os_mutex_lock(s->lock);
    rp__buf_reset(&s->line);
    int rc = rp__ndjson_encode(ev, &s->line);
    if (rc != 0) {
        s->stats.encode_errors++;
        rp__os_mutex_unlock(s->lock);
        rp__log_error("cannot encode an event: %s", rp_strerror(rc));
        return rc;
    }
    rc = rp__buf_append(&s->pending, s->line.data, s->line.len);
    if (rc == RP_ERR_FULL) {
        /* The disk has been failing for a while: try once more, then give up
         * on this event, counted. */
        write_pending(s);
        rc = rp__buf_append(&s->pending, s->line.data, s->line.len);
    }
    if (rc == 0) {
        s->stats.events++;
        s->stats.bytes += s->line.len;
        if (s->pending.len >= s->flush_at)
            write_pending(s);
    } else {
        s->stats.write_errors++;
    }
    rp__os_mutex_unlock(s->lock);
    return rc;
}

int rp__sink_flush(rp__sink *s)
{
    rp__os_mutex_lock(s->lock);
    int rc = write_pending(s);
    rp__os_mutex_unlock(s->lock);
    return rc;
}

void rp__sink_get_stats(rp__sink *s, rp__sink_stats *out)
{
    rp__os_mutex_lock(s->lock);
    *out = s->stats;
    rp__os_mutex_unlock(s->lock);
}

void rp__sink_destroy(rp__sink *s)
{
    if (!s)
        return;
    rp__os_mutex_lock(s->lock);
    write_pending(s);
    if (s->out) {
        rp__os_file_sync(s->out);
        rp__os_file_close(s->out);
    }
    rp__os_mutex_unlock(s->lock);
    rp__os_mutex_destroy(s->lock);
    rp__buf_free(&s->line);
    rp__buf_free(&s->pending);
    free(s->file);
    free(s);
}
