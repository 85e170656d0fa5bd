/* core/output/sink.c - the local NDJSON sink: buffered, rotated, lossless. */
#include "output/sink.h"
#include "output/console.h"
#include "output/gzip.h"
#include "lib/log.h"
#include "output/ndjson.h"
#include "output/spool.h"
#include "os/os.h"
#include "os/os_fs.h"
#include "os/os_thread.h"

#include <errno.h>
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

/* A sealed batch the spool refused for now. */
struct held {
    rp__buf payload;
    uint32_t events;
    uint32_t flags;
};

struct rp__sink {
    rp__os_mutex *lock;
    char *file;      /* the path, for messages */
    rp__os_dir *dir; /* its folder, opened once */
    char *name;      /* its name there */
    uint64_t file_max;
    uint32_t keep;
    int to_stdout;
    size_t flush_at;
    rp__os_file out; /* RP__OS_FILE_NONE when closed */
    uint64_t file_size;
    /* The times of the last max_rot + 1 rotations (a ring), to tell when
     * more than max_rot fell within a minute. */
    uint32_t max_rot;
    int64_t *rot_times;
    uint32_t rot_next;
    int in_burst;
    rp__buf line;         /* one event, encoded */
    rp__buf pending;      /* lines not yet written */
    size_t pending_shown; /* bytes of pending already on stdout (a failed
                             file write keeps them pending, not unshown) */
    rp__buf console;      /* text lines not yet on stdout (RP__SINK_STDOUT_TEXT) */
    const rp__ndjson_stamp *stamp;
    rp__sink_stats stats;
    /* Batch mode. */
    rp__spool *spool;
    uint32_t max_events;
    uint32_t max_bytes;
    int gzip;
    rp__gzip *gz;
    uint64_t (*backlog)(void *arg);
    void *backlog_arg;
    rp__buf batch; /* the batch being filled: NDJSON lines */
    uint32_t batch_events;
    rp__buf sealed; /* the batch being appended, compressed */
    struct held held[RP__SINK_HELD_BATCHES];
    uint32_t held_head, held_count;
    size_t held_bytes;
    /* Idle protocol (rp__sink_tick): asleep = no flush timer is armed. */
    void (*wake)(void *arg);
    void *wake_arg;
    int asleep;
};

static int open_file(rp__sink *s)
{
    int sys = 0;
    int rc = rp__os_dir_open_append(s->dir, s->name, 0640, &s->out, &sys);
    if (rc == RP_ERR_PERM && (sys == EPERM || sys == ELOOP)) {
        rp__log_error("%s: refused as the events file (output.file): expected a regular file "
                      "owned by root or the agent's user, with one name and no symbolic link",
                      s->file);
        return rc;
    }
    if (rc != 0) {
        rp__log_error("%s: cannot open the events file (output.file): %s", s->file,
                      sys ? strerror(sys) : rp_strerror(rc));
        return rc;
    }
    if (rp__os_file_size(s->out, &s->file_size) != 0)
        s->file_size = 0;
    return 0;
}

/* Takes (or opens) the events file's folder, kept for the sink's life:
 * rotations reopen the file in it, never by the path. */
static int open_folder(rp__sink *s, const rp__sink_opts *o)
{
    const char *name = o->file_name;
    char why[1024] = "";
    int rc = o->file_dir ? rp__os_dir_dup(o->file_dir, &s->dir)
                         : rp__os_dir_open_parent(s->file, &s->dir, &name, why, sizeof why);
    if (rc != 0) {
        rp__log_error("%s: cannot open the folder of the events file (output.file): %s", s->file,
                      why[0] ? why : rp_strerror(rc));
        return rc;
    }
    if (!name || !(s->name = strdup(name)))
        return name ? RP_ERR_NOMEM : RP_ERR_INVAL;
    return 0;
}

/* <file>.N-1 -> <file>.N, ..., <file> -> <file>.1; the oldest falls off.
 * With nothing to keep, the file starts over empty. */
static void rotate(rp__sink *s)
{
    char from[4096], to[4096];
    rp__os_file_sync(s->out, NULL);
    rp__os_file_close(&s->out);
    if (s->keep == 0) {
        rp__os_dir_write_atomic(s->dir, s->name, "", 0, 0640);
    } else {
        for (uint32_t i = s->keep; i >= 1; i--) {
            if (i == 1)
                snprintf(from, sizeof from, "%s", s->name);
            else
                snprintf(from, sizeof from, "%s.%u", s->name, i - 1);
            snprintf(to, sizeof to, "%s.%u", s->name, i);
            rp__os_dir_rename(s->dir, from, to); /* a missing older file is fine */
        }
    }
    s->stats.rotations++;
    if (s->rot_times) {
        /* The slot written now held the rotation max_rot + 1 ago: if that
         * one is less than a minute old, the last minute saw more than
         * max_rot. One burst is counted until a rotation finds it over. */
        int64_t now = rp__os_monotonic_ns();
        int64_t oldest = s->rot_times[s->rot_next];
        s->rot_times[s->rot_next] = now;
        s->rot_next = (s->rot_next + 1) % (s->max_rot + 1);
        int burst = oldest != 0 && now - oldest < 60 * (int64_t)1000000000;
        if (burst && !s->in_burst)
            s->stats.rotation_bursts++;
        s->in_burst = burst;
    }
    open_file(s);
}

/* Writes the pending lines; on failure they stay pending. Lock held. */
static int write_pending(rp__sink *s)
{
    if (s->console.len > 0) {
        fwrite(s->console.data, 1, s->console.len, stdout);
        fflush(stdout);
        rp__buf_reset(&s->console);
    }
    if (s->pending.len == 0)
        return 0;
    if (s->to_stdout == RP__SINK_STDOUT_JSON && s->pending_shown < s->pending.len) {
        fwrite(s->pending.data + s->pending_shown, 1, s->pending.len - s->pending_shown, stdout);
        fflush(stdout);
        s->pending_shown = s->pending.len;
    }
    if (!s->file) {
        rp__buf_reset(&s->pending);
        s->pending_shown = 0;
        return 0;
    }
    if (!rp__os_file_is_open(s->out) && open_file(s) != 0) {
        s->stats.write_errors++;
        return RP_ERR_IO;
    }
    if (s->file_max && s->file_size > 0 && s->file_size + s->pending.len > s->file_max)
        rotate(s);
    if (!rp__os_file_is_open(s->out))
        return RP_ERR_IO;
    int rc = rp__os_file_write(s->out, s->pending.data, s->pending.len);
    if (rc != 0) {
        /* A short write may have left part of a line: the next successful
         * write starts on a fresh line so the file stays parseable. */
        s->stats.write_errors++;
        rp__log_error("%s: cannot write events: %s; keeping them to retry", s->file,
                      rp_strerror(rc));
        rp__os_file_close(&s->out);
        return rc;
    }
    s->file_size += s->pending.len;
    rp__buf_reset(&s->pending);
    s->pending_shown = 0;
    return 0;
}

/* Queues one encoded line for the events file and the console. The line
 * went to the spool already in batch mode, so a failure here costs only the
 * local copy (counted in write_errors); in local mode it is the event's
 * fate. Lock held. */
static int local_put(rp__sink *s, const char *line, size_t len, const struct rp_event *ev)
{
    int rc = 0;
    if (s->to_stdout == RP__SINK_STDOUT_TEXT) {
        int crc = rp__console_format(ev, &s->console);
        if (crc == RP_ERR_FULL) {
            write_pending(s);
            crc = rp__console_format(ev, &s->console);
        }
        if (crc != 0)
            s->stats.write_errors++;
    }
    if (s->file || s->to_stdout == RP__SINK_STDOUT_JSON) {
        rc = rp__buf_append(&s->pending, line, len);
        if (rc == RP_ERR_FULL) {
            /* The disk has been failing for a while: try once more, then
             * give up on this line, counted. */
            write_pending(s);
            rc = rp__buf_append(&s->pending, line, len);
        }
        if (rc != 0)
            s->stats.write_errors++;
    }
    if (s->pending.len >= s->flush_at || s->console.len >= s->flush_at)
        write_pending(s);
    return rc;
}

/* ---- batch mode ----------------------------------------------------------- */

static void held_drop_oldest(rp__sink *s)
{
    struct held *h = &s->held[s->held_head];
    s->stats.dropped_batches++;
    s->stats.dropped_events += h->events;
    rp__log_error("spool: cannot store batches; dropped a held batch of %u events (%zu bytes)",
                  h->events, h->payload.len);
    s->held_bytes -= h->payload.len;
    rp__buf_free(&h->payload);
    s->held_head = (s->held_head + 1) % RP__SINK_HELD_BATCHES;
    s->held_count--;
}

/* Keeps a batch the spool refused, dropping the oldest held ones past the
 * cap. */
static void hold(rp__sink *s, const void *payload, size_t len, uint32_t events, uint32_t flags)
{
    while (s->held_count > 0 &&
           (s->held_count == RP__SINK_HELD_BATCHES || s->held_bytes + len > RP__SINK_HELD_MAX))
        held_drop_oldest(s);
    struct held *h = &s->held[(s->held_head + s->held_count) % RP__SINK_HELD_BATCHES];
    rp__buf_init(&h->payload, len ? len : 1);
    if (len > RP__SINK_HELD_MAX || rp__buf_append(&h->payload, payload, len) != 0) {
        rp__buf_free(&h->payload);
        s->stats.dropped_batches++;
        s->stats.dropped_events += events;
        rp__log_error("spool: cannot hold a batch of %u events in memory; dropped", events);
        return;
    }
    h->events = events;
    h->flags = flags;
    s->held_bytes += len;
    s->held_count++;
}

/* Appends to the spool; 0 or the spool's error (logged once per error run). */
static int spool_put(rp__sink *s, const void *payload, size_t len, uint32_t events, uint32_t flags)
{
    int rc = rp__spool_append(s->spool, payload, len, events, flags, NULL);
    if (rc == 0) {
        s->stats.batches++;
        s->stats.batch_bytes += len;
        return 0;
    }
    if (s->stats.spool_errors++ == 0 || rc != RP_ERR_FULL)
        rp__log_error("spool: cannot append a batch of %u events: %s; holding it in memory", events,
                      rp_strerror(rc));
    return rc;
}

/* Offers the held batches to the spool, oldest first, until one is refused. */
static void retry_held(rp__sink *s)
{
    while (s->held_count > 0) {
        struct held *h = &s->held[s->held_head];
        if (spool_put(s, h->payload.data, h->payload.len, h->events, h->flags) != 0)
            return;
        s->held_bytes -= h->payload.len;
        rp__buf_free(&h->payload);
        s->held_head = (s->held_head + 1) % RP__SINK_HELD_BATCHES;
        s->held_count--;
    }
}

/* Seals batch[0..len) (len_events events): compresses and appends it, or
 * holds it when the spool refuses. Lock held. */
static void seal(rp__sink *s, size_t len, uint32_t events)
{
    if (events == 0)
        return;
    const void *payload = s->batch.data;
    size_t plen = len;
    uint32_t flags = 0;
    /* Spooling uncompressed takes ~17x the disk: only while the spool is
     * less than half full (a backend outage fills it; then the memory
     * backlog is the lesser evil, and compression keeps 17x more events). */
    int behind = s->backlog && s->backlog(s->backlog_arg) > RP__SINK_SPILL_BACKLOG;
    if (behind) {
        rp__spool_stats st;
        rp__spool_get_stats(s->spool, &st);
        behind = st.disk_bytes + len < st.max_bytes / 2;
    }
    if (behind)
        s->stats.spilled_batches++;
    if (s->gzip && !behind) {
        rp__buf_reset(&s->sealed);
        int rc = rp__gzip_compress(s->gz, s->batch.data, len, &s->sealed);
        if (rc == 0) {
            payload = s->sealed.data;
            plen = s->sealed.len;
            flags = RP__SPOOL_FLAG_GZIP;
        } else {
            /* Out of memory for the compressed copy: store the batch as it
             * is rather than lose it; the uploader compresses on the way. */
            rp__log_warn("cannot compress a batch (%s); spooling it uncompressed", rp_strerror(rc));
        }
    }
    s->stats.batch_raw_bytes += len;
    /* Held batches go first, so the spool keeps the order of events. */
    retry_held(s);
    if (s->held_count > 0 || spool_put(s, payload, plen, events, flags) != 0)
        hold(s, payload, plen, events, flags);
}

/* Cuts the batch being filled. Lock held. */
static void cut(rp__sink *s)
{
    seal(s, s->batch.len, s->batch_events);
    rp__buf_reset(&s->batch);
    s->batch_events = 0;
}

static int batch_on_event(rp__sink *s, const struct rp_event *ev)
{
    size_t before = s->batch.len;
    int rc = rp__ndjson_encode_stamped(ev, s->stamp, &s->batch);
    if (rc != 0) {
        s->stats.encode_errors++;
        rp__log_error("cannot encode an event: %s", rp_strerror(rc));
        return rc;
    }
    size_t line = s->batch.len - before;
    s->stats.events++;
    s->stats.bytes += line;
    if (s->file || s->to_stdout)
        local_put(s, s->batch.data + before, line, ev);
    if (s->batch.len > s->max_bytes && s->batch_events > 0) {
        /* This line takes the batch past its cap: seal what came before it,
         * and the line starts the next batch. */
        seal(s, before, s->batch_events);
        memmove(s->batch.data, s->batch.data + before, line);
        s->batch.len = line;
        s->batch_events = 0;
    }
    if (++s->batch_events >= s->max_events || s->batch.len >= s->max_bytes)
        cut(s);
    return 0;
}

int rp__sink_create(const rp__sink_opts *opts, rp__sink **out)
{
    rp__sink *s = calloc(1, sizeof *s);
    if (!s)
        return RP_ERR_NOMEM;
    s->out.h = RP__OS_FILE_NONE;
    if (rp__os_mutex_create(&s->lock) != 0) {
        free(s);
        return RP_ERR_NOMEM;
    }
    s->file_max = opts->file_max_bytes;
    s->keep = opts->file_keep;
    s->max_rot = opts->max_rotations_per_min;
    if (s->max_rot > RP__SINK_ROTATIONS_MAX)
        s->max_rot = RP__SINK_ROTATIONS_MAX;
    if (s->max_rot && !(s->rot_times = calloc((size_t)s->max_rot + 1, sizeof *s->rot_times))) {
        rp__os_mutex_destroy(s->lock);
        free(s);
        return RP_ERR_NOMEM;
    }
    s->to_stdout = opts->to_stdout;
    s->stamp = opts->stamp;
    s->flush_at = opts->buffer_bytes ? opts->buffer_bytes : DEFAULT_BUFFER;
    s->wake = opts->wake;
    s->wake_arg = opts->wake_arg;
    s->asleep = 1;
    rp__buf_init(&s->line, LINE_MAX);
    rp__buf_init(&s->pending, PENDING_MAX);
    rp__buf_init(&s->console, PENDING_MAX);
    int rc = 0;
    if (opts->spool) {
        s->spool = opts->spool;
        s->max_events = opts->batch_max_events ? opts->batch_max_events : 1000;
        s->max_bytes = opts->batch_max_bytes ? opts->batch_max_bytes : (1u << 20);
        s->gzip = opts->gzip;
        s->backlog = opts->backlog;
        s->backlog_arg = opts->backlog_arg;
        /* One line past max_bytes fits, then the batch is cut. */
        rp__buf_init(&s->batch, (size_t)s->max_bytes + LINE_MAX);
        rp__buf_init(&s->sealed, RP__SPOOL_PAYLOAD_MAX);
        if (s->gzip)
            rc = rp__gzip_create(RP__GZIP_LEVEL, &s->gz);
        if (rc != 0) {
            rp__sink_destroy(s);
            return rc;
        }
    }
    if (opts->file && !(s->file = strdup(opts->file)))
        rc = RP_ERR_NOMEM;
    if (rc == 0 && s->file)
        rc = open_folder(s, opts);
    if (rc == 0 && s->file)
        rc = open_file(s);
    if (rc != 0) {
        rp__sink_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Local mode: encodes one event into the write buffer. Under the lock. */
static int local_on_event(rp__sink *s, const struct rp_event *ev)
{
    rp__buf_reset(&s->line);
    int rc = rp__ndjson_encode_stamped(ev, s->stamp, &s->line);
    if (rc != 0) {
        s->stats.encode_errors++;
        rp__log_error("cannot encode an event: %s", rp_strerror(rc));
        return rc;
    }
    rc = local_put(s, s->line.data, s->line.len, ev);
    if (rc == 0) {
        s->stats.events++;
        s->stats.bytes += s->line.len;
    }
    return rc;
}

int rp__sink_on_event(void *arg, const struct rp_event *ev)
{
    rp__sink *s = arg;
    rp__os_mutex_lock(s->lock);
    int rc = s->spool ? batch_on_event(s, ev) : local_on_event(s, ev);
    int wake = s->asleep;
    s->asleep = 0;
    rp__os_mutex_unlock(s->lock);
    /* Outside the lock: the callback arms a loop timer, and the timer's
     * callback takes this lock. */
    if (wake && s->wake)
        s->wake(s->wake_arg);
    return rc;
}

static int flush_locked(rp__sink *s)
{
    if (s->spool) {
        cut(s);
        retry_held(s);
        int src = rp__spool_sync(s->spool, 0);
        s->stats.held_batches = s->held_count;
        write_pending(s); /* the local copy's failure is not the batch's */
        return src;
    }
    return write_pending(s);
}

int rp__sink_flush(rp__sink *s)
{
    rp__os_mutex_lock(s->lock);
    int rc = flush_locked(s);
    rp__os_mutex_unlock(s->lock);
    return rc;
}

int rp__sink_tick(rp__sink *s, int *idle)
{
    rp__os_mutex_lock(s->lock);
    int rc = flush_locked(s);
    /* Anything a later flush would still act on: lines a failing disk did
     * not take, a batch the spool refused, or a sync the fsync interval has
     * not allowed yet. */
    int left = s->pending.len > 0 || s->console.len > 0 ||
               (s->spool &&
                (s->batch_events > 0 || s->held_count > 0 || rp__spool_sync_pending(s->spool)));
    s->asleep = !left;
    *idle = !left;
    rp__os_mutex_unlock(s->lock);
    return rc;
}

void rp__sink_get_stats(rp__sink *s, rp__sink_stats *out)
{
    rp__os_mutex_lock(s->lock);
    s->stats.held_batches = s->held_count;
    *out = s->stats;
    rp__os_mutex_unlock(s->lock);
}

void rp__sink_destroy(rp__sink *s)
{
    if (!s)
        return;
    rp__os_mutex_lock(s->lock);
    if (s->spool) {
        cut(s);
        retry_held(s);
        rp__spool_sync(s->spool, 1);
        while (s->held_count > 0)
            held_drop_oldest(s);
    }
    write_pending(s);
    if (rp__os_file_is_open(s->out)) {
        rp__os_file_sync(s->out, NULL);
        rp__os_file_close(&s->out);
    }
    rp__os_mutex_unlock(s->lock);
    rp__os_mutex_destroy(s->lock);
    rp__buf_free(&s->line);
    rp__buf_free(&s->pending);
    rp__buf_free(&s->console);
    rp__buf_free(&s->batch);
    rp__buf_free(&s->sealed);
    rp__gzip_destroy(s->gz);
    free(s->rot_times);
    rp__os_dir_close(s->dir);
    free(s->name);
    free(s->file);
    free(s);
}
