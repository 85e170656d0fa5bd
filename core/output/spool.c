/*
 * core/output/spool.c - the write-ahead spool proper (spool.h): open and
 * close, the appender, the reader and acks. The format and recovery rules are
 * in docs/spool.md; the shared state and how threads use it in spool_int.h;
 * the bytes on disk in spool_codec.c; rebuilding at open in spool_recover.c.
 */
#include "output/spool_int.h"

#include "lib/crc32c.h"
#include "os/os.h"
#include "os/os_fs.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ids are reserved in the state file this many at a time, so that an id is
 * never used twice even if every segment and the acked file are lost. */
#define ID_RESERVE ((uint64_t)1 << 16)
/* Recovery problems logged one by one per open; the rest are only counted. */
#define LOG_PROBLEMS_MAX 16
int rp__spool_fsync_parse(const char *name, enum rp__spool_fsync *out)
{
    if (!name || !out)
        return RP_ERR_INVAL;
    if (strcmp(name, "always") == 0)
        *out = RP__SPOOL_FSYNC_ALWAYS;
    else if (strcmp(name, "batch") == 0 || strcmp(name, "interval") == 0)
        *out = RP__SPOOL_FSYNC_INTERVAL;
    else if (strcmp(name, "never") == 0)
        *out = RP__SPOOL_FSYNC_NEVER;
    else
        return RP_ERR_INVAL;
    return 0;
}

void rp__spool_opts_init(rp__spool_opts *o, const char *dir)
{
    memset(o, 0, sizeof *o);
    o->dir = dir;
    o->max_bytes = RP__SPOOL_DEFAULT_MAX_BYTES;
    o->fsync = RP__SPOOL_FSYNC_INTERVAL;
    o->fsync_interval_ms = RP__SPOOL_DEFAULT_INTERVAL_MS;
    o->max_inflight = RP__SPOOL_DEFAULT_INFLIGHT;
}

size_t rp__spool_idempotency_key(const rp__spool_batch *b, char out[RP__SPOOL_KEY_MAX])
{
    int n = snprintf(out, RP__SPOOL_KEY_MAX, "%016" PRIx64 "-%" PRIu64, b->uid, b->id);
    return n < 0 ? 0 : (size_t)n;
}

const char *rp__spool_seg_path(const rp__spool *sp, char *buf, uint64_t seq)
{
    snprintf(buf, sp->path_cap, "%s/%016" PRIx64 ".seg", sp->dir, seq);
    return buf;
}

static const char *file_path(const rp__spool *sp, char *buf, const char *name)
{
    snprintf(buf, sp->path_cap, "%s/%s", sp->dir, name);
    return buf;
}

/* At most LOG_PROBLEMS_MAX are logged per open. */
void rp__spool_problem(rp__spool *sp, const char *fmt, ...)
{
    int n = sp->problems_logged++;
    if (n > LOG_PROBLEMS_MAX)
        return;
    if (n == LOG_PROBLEMS_MAX) {
        rp__log_warn("spool %s: more damaged records; see the spool counters", sp->dir);
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rp__log_warn("spool %s: %s", sp->dir, msg);
}

/* ---- segment list (under mu) ---- */

void rp__spool_list_append(rp__spool *sp, struct seg *s)
{
    s->prev = sp->tail;
    s->next = NULL;
    if (sp->tail)
        sp->tail->next = s;
    else
        sp->head = s;
    sp->tail = s;
    sp->nseg++;
    sp->disk_bytes += s->file_bytes;
}

/* Takes s off the list; a cursor inside it moves to the start of the next
 * segment, which nobody has read yet. */
static void list_detach(rp__spool *sp, struct seg *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        sp->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        sp->tail = s->prev;
    if (sp->cur == s) {
        sp->cur = s->next;
        sp->cur_off = 0;
        if (sp->cur)
            sp->cur->skip_next = 0;
    }
    sp->nseg--;
    sp->disk_bytes -= s->file_bytes;
    s->prev = s->next = NULL;
}

static int seg_done(const struct seg *s)
{
    return s->sealed && s->ret_count >= s->count && s->inflight == 0 && !s->busy;
}

/* Detached segments wait on a chain (through ->next) until the lock is
 * released; then their files are removed and the structs freed. */
static void chain_push(struct seg **chain, struct seg *s)
{
    s->next = *chain;
    *chain = s;
}

static void chain_remove(rp__spool *sp, struct seg *chain, char *path_buf, rp__os_file *cached,
                         uint64_t *cached_seq)
{
    while (chain) {
        struct seg *next = chain->next;
        if (cached && cached->h != RP__OS_FILE_NONE && *cached_seq == chain->seq)
            rp__os_file_close(cached);
        int rc =
            rp__spool_unlink(sp, rp__spool_name(sp, rp__spool_seg_path(sp, path_buf, chain->seq)));
        if (rc != 0)
            rp__log_warn("spool %s: cannot remove %s: %s", sp->dir, path_buf, rp_strerror(rc));
        seg_free(chain);
        chain = next;
    }
}

/* Drops the oldest segment that has nothing in flight and is not being read,
 * counting its unretired batches as dropped. With for_space, segments without
 * records are passed over: dropping them frees (next to) nothing, and the
 * append would only make a new empty one again. Appender thread, under mu. */
static struct seg *drop_oldest_locked(rp__spool *sp, int for_space)
{
    struct seg *s = sp->head;
    while (s && (s->inflight || s->busy || (for_space && s->size == 0)))
        s = s->next;
    if (!s)
        return NULL;
    uint64_t n = sub_sat(s->count, s->ret_count), ev = sub_sat(s->events, s->ret_events),
             by = sub_sat(s->bytes, s->ret_bytes);
    sp->st.dropped_full_batches += n;
    sp->st.dropped_full_events += ev;
    sp->st.dropped_full_bytes += by;
    retire(s, n, ev, by);
    if (s == sp->wseg) {
        sp->wseg = NULL;
        sp->wfd_orphan = 1;
    }
    s->sealed = 1;
    list_detach(sp, s);
    return s;
}

static int write_small(rp__os_file f, uint32_t magic, uint64_t uid, uint64_t value, int sync)
{
    uint8_t b[SMALL_LEN];
    rp__spool_small_encode(b, magic, uid, value);
    /* One 32-byte write at offset 0 lies in one disk sector, so it lands
     * whole or not at all; the CRC catches the rare device that tears it. */
    int rc = rp__os_file_write_at(f, 0, b, sizeof b, NULL, 0, NULL);
    if (rc == 0 && sync)
        rc = rp__os_file_sync(f, NULL);
    return rc;
}

static void spool_free(rp__spool *sp)
{
    struct seg *s = sp->head;
    while (s) {
        struct seg *next = s->next;
        seg_free(s);
        s = next;
    }
    rp__os_file_close(&sp->wfd);
    rp__os_file_close(&sp->rfd);
    rp__os_file_close(&sp->state_fd);
    rp__os_file_close(&sp->acked_fd);
    rp__os_dir_close(sp->dirh);
    rp__os_mutex_destroy(sp->mu);
    free(sp->win);
    free(sp->rchunk);
    free(sp->wpath);
    free(sp->rpath);
    free(sp->dir);
    free(sp);
}

/* Opens the spool folder by path (when no folder handle is given: tests,
 * benches, tools): created 0700 with its parents when missing, as the path
 * API always did, then opened once as every folder of the agent's is, every
 * folder from the root checked and the folder itself private and not a
 * symbolic link. */
static int open_folder(const char *path, rp__os_dir **out, char *why, size_t len)
{
    int rc = rp__os_mkdir_p(path, 0700);
    if (rc != 0) {
        snprintf(why, len, "%s: cannot create the folder: %s", path, rp_strerror(rc));
        return rc;
    }
    return rp__os_dir_open_nolink(path, out, why, len);
}

int rp__spool_unlink(rp__spool *sp, const char *name)
{
    int rc = rp__os_dir_remove(sp->dirh, name);
    /* Missing is success: someone else removed it already. */
    return rc == RP_ERR_NOTFOUND ? 0 : rc;
}

int rp__spool_open(const rp__spool_opts *opts, rp__spool **out)
{
    if (!opts || !out || (!opts->folder && (!opts->dir || !opts->dir[0])) ||
        opts->fsync > RP__SPOOL_FSYNC_NEVER || opts->max_inflight > RP__SPOOL_MAX_INFLIGHT)
        return RP_ERR_INVAL;
    *out = NULL;
    rp__spool *sp = calloc(1, sizeof *sp);
    if (!sp)
        return RP_ERR_NOMEM;
    sp->wfd.h = sp->rfd.h = sp->state_fd.h = sp->acked_fd.h = RP__OS_FILE_NONE;
    /* The path names the folder in log lines only. */
    const char *dpath = opts->folder ? rp__os_dir_path(opts->folder) : opts->dir;
    size_t dlen = strlen(dpath);
    while (dlen > 1 && dpath[dlen - 1] == '/')
        dlen--;
    sp->path_cap = dlen + 32;
    sp->dir = malloc(dlen + 1);
    sp->wpath = malloc(sp->path_cap);
    sp->rpath = malloc(sp->path_cap);
    sp->max_inflight = opts->max_inflight ? opts->max_inflight : RP__SPOOL_DEFAULT_INFLIGHT;
    sp->win = calloc(sp->max_inflight, sizeof *sp->win);
    uint8_t *chunk = malloc(RESYNC_CHUNK);
    int rc = RP_ERR_NOMEM;
    if (!sp->dir || !sp->wpath || !sp->rpath || !sp->win || !chunk)
        goto fail;
    memcpy(sp->dir, dpath, dlen);
    sp->dir[dlen] = '\0';
    sp->max_bytes = opts->max_bytes ? opts->max_bytes : RP__SPOOL_DEFAULT_MAX_BYTES;
    sp->seg_max = opts->segment_bytes;
    if (!sp->seg_max) {
        sp->seg_max = sp->max_bytes / 16;
        if (sp->seg_max < RP__SPOOL_SEGMENT_MIN)
            sp->seg_max = RP__SPOOL_SEGMENT_MIN;
        if (sp->seg_max > RP__SPOOL_SEGMENT_MAX)
            sp->seg_max = RP__SPOOL_SEGMENT_MAX;
    }
    sp->fsync = opts->fsync;
    sp->interval_ns = (int64_t)(opts->fsync_interval_ms ? opts->fsync_interval_ms
                                                        : RP__SPOOL_DEFAULT_INTERVAL_MS) *
                      1000000;
    sp->on_append = opts->on_append;
    sp->on_append_ctx = opts->on_append_ctx;
    if ((rc = rp__os_mutex_create(&sp->mu)) != 0)
        goto fail;
    /* The folder is looked up (by the caller or here) this once; see dirh. */
    char why[1024] = "";
    if (opts->folder)
        rc = rp__os_dir_dup(opts->folder, &sp->dirh);
    else
        rc = open_folder(sp->dir, &sp->dirh, why, sizeof why);
    if (rc != 0) {
        rp__log_error("spool %s: cannot open the folder: %s", sp->dir,
                      why[0] ? why : rp_strerror(rc));
        goto fail;
    }

    /* The state file: the spool's uid and the ids reserved so far. */
    int err = 0;
    rc = rp__os_file_open(sp->dirh, "state", 1, 1, &sp->state_fd, &err);
    if (rc != 0) {
        rp__log_error("spool %s: cannot open %s: %s", sp->dir, file_path(sp, sp->wpath, "state"),
                      rp_strerror(rc));
        goto fail;
    }
    uint8_t small[SMALL_LEN];
    size_t got = 0;
    uint64_t id_floor = 0, acked = 0;
    int new_state = 0;
    if (rp__os_file_read_at(sp->state_fd, 0, small, sizeof small, &got) != 0 ||
        rp__spool_small_decode(small, got, STATE_MAGIC, &sp->uid, &id_floor) != 0) {
        /* A new spool, or a damaged state file: a fresh uid keeps every
         * Idempotency-Key unique whatever ids were used before. */
        if (got > 0) {
            rp__log_warn("spool %s: state file damaged; new spool identity", sp->dir);
            sp->st.state_resets++;
        }
        new_state = 1;
        id_floor = 0;
        if ((rc = rp__os_random(&sp->uid, sizeof sp->uid)) != 0)
            goto fail;
        if (!sp->uid)
            sp->uid = 1;
    }
    /* The acked file: every batch up to this id was acked. */
    rc = rp__os_file_open(sp->dirh, "acked", 1, 1, &sp->acked_fd, &err);
    if (rc != 0) {
        rp__log_error("spool %s: cannot open %s: %s", sp->dir, file_path(sp, sp->wpath, "acked"),
                      rp_strerror(rc));
        goto fail;
    }
    uint64_t acked_uid = 0;
    if (rp__os_file_read_at(sp->acked_fd, 0, small, sizeof small, &got) != 0 ||
        rp__spool_small_decode(small, got, ACKED_MAGIC, &acked_uid, &acked) != 0 ||
        acked_uid != sp->uid)
        acked = 0; /* unknown: everything is sent again (the keys dedupe) */

    uint64_t last_id = 0;
    if ((rc = rp__spool_recover(sp, acked, chunk, &last_id)) != 0)
        goto fail;
    /* Segments beyond the cap (an older, larger configuration): the oldest
     * go, counted like any drop. */
    while (sp->nseg > RP__SPOOL_MAX_SEGMENTS) {
        struct seg *s = drop_oldest_locked(sp, 0);
        if (!s)
            break;
        chain_remove(sp, s, sp->wpath, NULL, NULL);
    }
    /* max_bytes may have shrunk since the files were written: that is applied
     * by the next append, which drops what does not fit. */
    sp->acked_id = sp->acked_written = acked;
    sp->cur_last_id = acked > last_id ? acked : last_id;
    if (sp->cur)
        sp->cur_last_id = acked;

    sp->next_id = id_floor;
    if (sp->next_id < last_id + 1)
        sp->next_id = last_id + 1;
    if (sp->next_id < acked + 1)
        sp->next_id = acked + 1;
    sp->id_limit = sp->next_id + ID_RESERVE;
    if ((rc = write_small(sp->state_fd, STATE_MAGIC, sp->uid, sp->id_limit, 1)) != 0) {
        rp__log_error("spool %s: cannot write the state file: %s", sp->dir, rp_strerror(rc));
        goto fail;
    }
    if (new_state)
        rp__os_dir_sync(sp->dirh);
    if (acked == 0 && sp->acked_written == 0)
        write_small(sp->acked_fd, ACKED_MAGIC, sp->uid, 0, 0);
    if (sp->next_seq == 0)
        sp->next_seq = 1; /* names start at 1: 0 is left for tools and tests */
    sp->last_sync_ns = rp__os_monotonic_ns();
    free(chunk);
    if (sp->st.corrupt_records || sp->st.cut_torn_records)
        rp__log_warn("spool %s: recovered: %" PRIu64 " torn bytes cut, %" PRIu64
                     " corrupt records (%" PRIu64 " bytes) skipped",
                     sp->dir, sp->st.cut_torn_bytes, sp->st.corrupt_records, sp->st.corrupt_bytes);
    *out = sp;
    return 0;
fail:
    free(chunk);
    spool_free(sp);
    return rc;
}

/* ---- appender ---- */

static void count_io_error(rp__spool *sp, int rc)
{
    rp__os_mutex_lock(sp->mu);
    if (rc == RP_ERR_FULL)
        sp->st.enospc++;
    else
        sp->st.io_errors++;
    rp__os_mutex_unlock(sp->mu);
}

static int sync_writer(rp__spool *sp)
{
    if (!sp->dirty || sp->wfd.h == RP__OS_FILE_NONE)
        return 0;
    int err = 0;
    int rc = rp__os_file_sync(sp->wfd, &err);
    /* After a failed fsync the kernel may have dropped the dirty pages and
     * cleared the error, so trying again proves nothing: report it once. */
    sp->dirty = 0;
    sp->last_sync_ns = rp__os_monotonic_ns();
    rp__os_mutex_lock(sp->mu);
    sp->st.syncs++;
    rp__os_mutex_unlock(sp->mu);
    if (rc != 0) {
        count_io_error(sp, rc);
        rp__log_error("spool %s: sync failed: %s; batches since the last sync may be lost on "
                      "power failure",
                      sp->dir, rp_strerror(rc));
    }
    return rc;
}

/* Writes the open segment's footer after its last record. On failure the
 * footer is cut away again: a segment without one is walked at open. */
static void write_footer(rp__spool *sp)
{
    struct seg *s = sp->wseg;
    rp__os_mutex_lock(sp->mu);
    struct rp__spool_footer ft = {s->size, s->count, s->events, s->first_id, s->last_id, s->bytes};
    rp__os_mutex_unlock(sp->mu);
    if (ft.count == 0)
        return;
    uint8_t fb[FOOTER_LEN];
    rp__spool_footer_encode(fb, &ft);
    if (rp__os_file_write_at(sp->wfd, ft.data_end, fb, FOOTER_LEN, NULL, 0, NULL) == 0) {
        sp->dirty = 1;
        return;
    }
    if (rp__os_file_truncate(sp->wfd, ft.data_end) != 0)
        rp__log_warn("spool %s: cannot cut a failed footer; the next open walks the segment",
                     sp->dir);
}

/* Closes the open segment: its footer written (when clean), synced (per
 * policy) and sealed; removed at once when everything in it is acked. */
static void seal_writer(rp__spool *sp, int clean)
{
    struct seg *done = NULL;
    if (sp->wseg) {
        if (clean)
            write_footer(sp);
        if (sp->fsync != RP__SPOOL_FSYNC_NEVER)
            sync_writer(sp);
        rp__os_mutex_lock(sp->mu);
        struct seg *s = sp->wseg;
        s->sealed = 1;
        sp->wseg = NULL;
        if (seg_done(s)) {
            list_detach(sp, s);
            chain_push(&done, s);
        }
        rp__os_mutex_unlock(sp->mu);
    }
    sp->dirty = 0;
    sp->wfd_orphan = 0;
    rp__os_file_close(&sp->wfd);
    chain_remove(sp, done, sp->wpath, NULL, NULL);
}

/* Starts a new segment file. RP_ERR_FULL when the disk has no room for it. */
static int rotate(rp__spool *sp)
{
    seal_writer(sp, 1);
    struct seg *s = calloc(1, sizeof *s);
    if (!s)
        return RP_ERR_NOMEM;
    int rc = RP_ERR_EXISTS, err = 0;
    /* A name in use (a file this open left alone) is skipped, a few times. */
    for (int tries = 0; tries < 16 && rc == RP_ERR_EXISTS; tries++) {
        s->seq = sp->next_seq++;
        rp__spool_seg_path(sp, sp->wpath, s->seq);
        rc = rp__os_file_create(sp->dirh, rp__spool_name(sp, sp->wpath), &sp->wfd, &err);
    }
    if (rc != 0) {
        if (rc != RP_ERR_FULL)
            rp__log_error("spool %s: cannot create %s: %s", sp->dir, sp->wpath, rp_strerror(rc));
        free(s);
        return rc;
    }
    /* The new name must be durable before a record in it is called durable. */
    if (sp->fsync != RP__SPOOL_FSYNC_NEVER && (rc = rp__os_dir_sync(sp->dirh)) != 0)
        rp__log_warn("spool %s: folder sync failed: %s", sp->dir, rp_strerror(rc));
    /* Room for the footer is counted from the start, so sealing never takes
     * the spool past max_bytes. */
    s->file_bytes = FOOTER_LEN;
    rp__os_mutex_lock(sp->mu);
    rp__spool_list_append(sp, s);
    if (!sp->cur) {
        sp->cur = s;
        sp->cur_off = 0;
    }
    sp->wseg = s;
    rp__os_mutex_unlock(sp->mu);
    return 0;
}

/* Cuts a failed record off the open segment; when even that fails the
 * segment is closed, its unknown tail counted on disk until it is removed. */
static void undo_write(rp__spool *sp, uint64_t off, uint64_t rec)
{
    if (rp__os_file_truncate(sp->wfd, off) == 0)
        return;
    rp__os_mutex_lock(sp->mu);
    if (sp->wseg) {
        sp->wseg->file_bytes += rec;
        sp->disk_bytes += rec;
    }
    rp__os_mutex_unlock(sp->mu);
    seal_writer(sp, 0);
}

static int reserve_ids(rp__spool *sp)
{
    if (sp->next_id > ID_MAX)
        return RP_ERR_RANGE; /* unreachable in practice: see ID_MAX */
    if (sp->next_id < sp->id_limit)
        return 0;
    uint64_t limit = sp->next_id + ID_RESERVE;
    int rc = write_small(sp->state_fd, STATE_MAGIC, sp->uid, limit, 1);
    if (rc != 0) {
        count_io_error(sp, rc);
        rp__log_error("spool %s: cannot write the state file: %s", sp->dir, rp_strerror(rc));
        return rc == RP_ERR_FULL ? RP_ERR_FULL : RP_ERR_IO;
    }
    sp->id_limit = limit;
    return 0;
}

int rp__spool_append(rp__spool *sp, const void *payload, size_t len, uint32_t events,
                     uint32_t flags, uint64_t *id_out)
{
    if (len > RP__SPOOL_PAYLOAD_MAX)
        return RP_ERR_RANGE;
    if (!sp || (!payload && len))
        return RP_ERR_INVAL;
    uint64_t rec = HDR + (uint64_t)len;
    if (rec + FOOTER_LEN > sp->max_bytes)
        return RP_ERR_RANGE;
    int rc = reserve_ids(sp);
    if (rc != 0)
        return rc;
    uint64_t id = sp->next_id;
    uint8_t hdr[HDR];
    rp__spool_encode_header(hdr, id, sp->uid, events, flags, rp__os_time_ns(), payload,
                            (uint32_t)len);

    uint64_t off;
    for (;;) {
        struct seg *dropped = NULL;
        int need_new;
        rp__os_mutex_lock(sp->mu);
        for (;;) {
            need_new = !sp->wseg || (sp->wseg->size > 0 && sp->wseg->size + rec > sp->seg_max);
            int too_many = need_new && sp->nseg >= RP__SPOOL_MAX_SEGMENTS;
            uint64_t need = rec + (need_new ? FOOTER_LEN : 0);
            if (sp->disk_bytes + need <= sp->max_bytes && !too_many)
                break;
            struct seg *v = drop_oldest_locked(sp, !too_many);
            if (!v) {
                sp->st.refused_full++;
                rp__os_mutex_unlock(sp->mu);
                chain_remove(sp, dropped, sp->wpath, NULL, NULL);
                if (sp->wfd_orphan)
                    seal_writer(sp, 0);
                return RP_ERR_FULL;
            }
            chain_push(&dropped, v);
        }
        off = sp->wseg ? sp->wseg->size : 0;
        rp__os_mutex_unlock(sp->mu);
        if (sp->wfd_orphan)
            seal_writer(sp, 0);
        chain_remove(sp, dropped, sp->wpath, NULL, NULL);

        if (need_new) {
            off = 0;
            rc = rotate(sp);
        } else {
            rc = 0;
        }
        if (rc == 0) {
            int err = 0;
            rc = rp__os_file_write_at(sp->wfd, off, hdr, HDR, payload, len, &err);
            if (rc == 0 && sp->fsync == RP__SPOOL_FSYNC_ALWAYS)
                rc = rp__os_file_sync(sp->wfd, &err);
            if (rc == 0)
                break;
            undo_write(sp, off, rec);
        }
        count_io_error(sp, rc);
        if (rc != RP_ERR_FULL) {
            rp__log_error("spool %s: write failed: %s", sp->dir, rp_strerror(rc));
            if (sp->wseg)
                seal_writer(sp, 0); /* the next append starts a clean segment */
            return rc == RP_ERR_NOMEM ? rc : RP_ERR_IO;
        }
        /* The disk is full: like a full spool, the oldest go first. */
        rp__os_mutex_lock(sp->mu);
        struct seg *v = drop_oldest_locked(sp, 1);
        if (!v)
            sp->st.refused_full++;
        rp__os_mutex_unlock(sp->mu);
        if (sp->wfd_orphan)
            seal_writer(sp, 0);
        if (!v)
            return RP_ERR_FULL;
        v->next = NULL;
        chain_remove(sp, v, sp->wpath, NULL, NULL);
    }

    rp__os_mutex_lock(sp->mu);
    struct seg *s = sp->wseg;
    s->size = off + rec;
    s->file_bytes = off + rec + FOOTER_LEN;
    if (!s->first_id)
        s->first_id = id;
    s->last_id = id;
    s->count++;
    s->events += events;
    s->bytes += rec;
    sp->disk_bytes += rec;
    sp->next_id = id + 1;
    sp->st.appended_batches++;
    sp->st.appended_events += events;
    sp->st.appended_bytes += rec;
    rp__os_mutex_unlock(sp->mu);
    if (sp->fsync != RP__SPOOL_FSYNC_ALWAYS)
        sp->dirty = 1;
    if (id_out)
        *id_out = id;
    if (sp->on_append)
        sp->on_append(sp->on_append_ctx, id);
    if (sp->fsync == RP__SPOOL_FSYNC_INTERVAL)
        rp__spool_sync(sp, 0);
    return 0;
}

int rp__spool_sync(rp__spool *sp, int force)
{
    if (!sp || sp->fsync == RP__SPOOL_FSYNC_ALWAYS)
        return 0;
    if (!force && (sp->fsync == RP__SPOOL_FSYNC_NEVER ||
                   rp__os_monotonic_ns() - sp->last_sync_ns < sp->interval_ns))
        return 0;
    return sync_writer(sp);
}

int rp__spool_sync_pending(const rp__spool *sp)
{
    return sp && sp->fsync == RP__SPOOL_FSYNC_INTERVAL && sp->dirty &&
           sp->wfd.h != RP__OS_FILE_NONE;
}

/* ---- reader ---- */

enum { READ_OK = 0, READ_BAD_HEADER = 1, READ_BAD_PAYLOAD = 2 };

/* Reads and checks the record at off (which must end by limit) of segment
 * seq into buf. Returns READ_OK, READ_BAD_HEADER (not a whole valid record
 * there: the file changed since it was checked), READ_BAD_PAYLOAD (*h and
 * *rec_len valid), or a negative RP_ERR_* that leaves the record for later. */
static int read_record(rp__spool *sp, uint64_t seq, uint64_t off, uint64_t limit, rp__buf *buf,
                       struct rp__spool_rec *h, uint64_t *rec_len)
{
    if (sp->rfd.h == RP__OS_FILE_NONE || sp->rfd_seq != seq) {
        rp__os_file_close(&sp->rfd);
        rp__spool_seg_path(sp, sp->rpath, seq);
        int rc = rp__os_file_open(sp->dirh, rp__spool_name(sp, sp->rpath), 0, 0, &sp->rfd, NULL);
        if (rc == RP_ERR_NOTFOUND)
            return READ_BAD_HEADER;
        if (rc != 0)
            return rc;
        sp->rfd_seq = seq;
    }
    uint8_t hb[HDR];
    size_t got = 0;
    int rc = rp__os_file_read_at(sp->rfd, off, hb, HDR, &got);
    if (rc != 0)
        return rc;
    if (got < HDR || rp__spool_rec_decode(hb, h) != 0 || limit - off < HDR + (uint64_t)h->len)
        return READ_BAD_HEADER;
    *rec_len = HDR + (uint64_t)h->len;
    if (h->len > buf->max)
        return RP_ERR_RANGE;
    rp__buf_reset(buf);
    rc = rp__buf_reserve(buf, h->len);
    if (rc != 0)
        return rc == RP_ERR_FULL ? RP_ERR_RANGE : rc;
    rc = rp__os_file_read_at(sp->rfd, off + HDR, buf->data, h->len, &got);
    if (rc != 0)
        return rc;
    if (got < h->len)
        return READ_BAD_HEADER;
    if (rp__crc32c(0, buf->data, h->len) != h->payload_crc)
        return READ_BAD_PAYLOAD;
    buf->len = h->len;
    return READ_OK;
}

static struct win *win_at(rp__spool *sp, uint32_t i)
{
    return &sp->win[(sp->win_head + i) % sp->max_inflight];
}

/* Drops finished entries from the front of the window and moves the acked
 * watermark: every id below the first unfinished entry (or up to the cursor
 * when none is left) is retired. Under mu. */
static void win_settle(rp__spool *sp)
{
    while (sp->win_count && win_at(sp, 0)->done) {
        sp->win_head = (sp->win_head + 1) % sp->max_inflight;
        sp->win_count--;
    }
    uint64_t w = sp->win_count ? win_at(sp, 0)->id - 1 : sp->cur_last_id;
    if (w > sp->acked_id)
        sp->acked_id = w;
}

static void corrupt_seen(rp__spool *sp, struct seg *s, uint64_t off, uint64_t events,
                         uint64_t bytes)
{
    sp->st.corrupt_records++;
    sp->st.corrupt_events += events;
    sp->st.corrupt_bytes += bytes;
    rp__spool_problem(sp,
                      "%016" PRIx64 ".seg: batch at offset %" PRIu64 " fails its checksum; dropped",
                      s->seq, off);
}

/* The cursor has passed the whole of a sealed segment: batches in it that
 * are neither retired nor in flight were inside damaged stretches (counted
 * there as corrupt records). Their events count as corrupt now, and they
 * are retired so the segment can go. Under mu. */
static void reconcile(rp__spool *sp, struct seg *s)
{
    if (s->ret_count + s->inflight >= s->count)
        return;
    uint64_t n = s->count - s->ret_count - s->inflight;
    uint64_t ev = sub_sat(s->events, s->ret_events + s->if_events);
    uint64_t by = sub_sat(s->bytes, s->ret_bytes + s->if_bytes);
    sp->st.corrupt_events += ev;
    retire(s, n, ev, by);
}

/* After a header that does not read as it should at off: where the next
 * valid record starts, or limit when none does. Reader, without the lock. */
static uint64_t reader_resync(rp__spool *sp, uint64_t seq, uint64_t off, uint64_t limit)
{
    if (!sp->rchunk && !(sp->rchunk = malloc(RESYNC_CHUNK)))
        return limit;
    if (sp->rfd.h == RP__OS_FILE_NONE || sp->rfd_seq != seq)
        return limit; /* the file is gone */
    uint64_t next = rp__spool_resync(sp->rfd, off, limit, sp->rchunk);
    return next == RESYNC_IO_ERROR ? limit : next;
}

static void fill_batch(const struct rp__spool_rec *h, const rp__buf *buf, rp__spool_batch *out)
{
    out->id = h->id;
    out->uid = h->uid;
    out->events = h->events;
    out->flags = h->flags;
    out->created_ns = h->created_ns;
    out->payload = buf->data;
    out->len = h->len;
}

int rp__spool_next(rp__spool *sp, uint64_t after_id, rp__buf *buf, rp__spool_batch *out)
{
    if (!sp || !buf || !out)
        return RP_ERR_INVAL;
    struct seg *done = NULL;
    int ret;
    rp__os_mutex_lock(sp->mu);
    for (;;) {
        /* A batch in flight the caller asks for again. */
        struct win *e = NULL;
        for (uint32_t i = 0; i < sp->win_count; i++) {
            struct win *w = win_at(sp, i);
            if (!w->done && w->id > after_id) {
                e = w;
                break;
            }
        }
        if (e) {
            struct seg *s = e->seg;
            uint64_t off = e->off, id = e->id;
            s->busy++;
            rp__os_mutex_unlock(sp->mu);
            struct rp__spool_rec h;
            uint64_t rec = 0;
            int rc = read_record(sp, s->seq, off, off + e->rec_len, buf, &h, &rec);
            rp__os_mutex_lock(sp->mu);
            s->busy--;
            if (rc == READ_OK && h.id == id) {
                fill_batch(&h, buf, out);
                ret = 0;
                break;
            }
            if (rc < 0) {
                ret = rc;
                break;
            }
            /* It was good when handed out; now it is not. */
            corrupt_seen(sp, s, off, e->events, e->rec_len);
            e->done = 1;
            s->inflight--;
            s->if_events -= e->events;
            s->if_bytes -= e->rec_len;
            retire(s, 1, e->events, e->rec_len);
            win_settle(sp);
            if (seg_done(s)) {
                list_detach(sp, s);
                chain_push(&done, s);
            }
            continue;
        }

        /* The next batch at the cursor. */
        if (sp->win_count >= sp->max_inflight) {
            ret = RP_ERR_BUSY;
            break;
        }
        struct seg *s = sp->cur;
        if (!s) {
            ret = RP_ERR_NOTFOUND;
            break;
        }
        while (s->skip_next < s->nskips && s->skips[s->skip_next].off <= sp->cur_off) {
            if (s->skips[s->skip_next].off == sp->cur_off)
                sp->cur_off += s->skips[s->skip_next].len;
            s->skip_next++;
        }
        if (sp->cur_off >= s->size) {
            if (s->sealed)
                reconcile(sp, s);
            if (seg_done(s)) {
                list_detach(sp, s); /* the cursor moves to the next one */
                chain_push(&done, s);
                continue;
            }
            if (!s->next) {
                ret = RP_ERR_NOTFOUND;
                break;
            }
            sp->cur = s->next;
            sp->cur_off = 0;
            sp->cur->skip_next = 0;
            continue;
        }
        uint64_t off = sp->cur_off, limit = s->size;
        s->busy++;
        rp__os_mutex_unlock(sp->mu);
        struct rp__spool_rec h;
        uint64_t rec = 0, resume = 0;
        int rc = read_record(sp, s->seq, off, limit, buf, &h, &rec);
        if (rc == READ_BAD_HEADER)
            resume = reader_resync(sp, s->seq, off, limit);
        rp__os_mutex_lock(sp->mu);
        s->busy--;
        if (rc < 0) {
            ret = rc;
            break;
        }
        if (rc == READ_BAD_HEADER) {
            /* Damage found now: in a segment taken at its footer's word, or
             * a file changed since open. Skipped up to the next record. */
            rp__spool_problem(
                sp, "%016" PRIx64 ".seg: %" PRIu64 " corrupt bytes at offset %" PRIu64 "; skipped",
                s->seq, resume - off, off);
            sp->st.corrupt_records++;
            sp->st.corrupt_bytes += resume - off;
            sp->cur_off = resume;
            continue;
        }
        if (h.id <= sp->cur_last_id || h.id > s->last_id) {
            /* Whole but out of order, or beyond the ids this segment was
             * opened with (a footer that does not match its records): the
             * id could collide with a batch appended since, so it is not
             * trusted. */
            corrupt_seen(sp, s, off, h.events, rec);
            retire(s, 1, h.events, rec);
            sp->cur_off = off + rec;
            continue;
        }
        sp->cur_off = off + rec;
        sp->cur_last_id = h.id;
        if (rc == READ_BAD_PAYLOAD) {
            corrupt_seen(sp, s, off, h.events, rec);
            retire(s, 1, h.events, rec);
            if (!sp->win_count)
                win_settle(sp);
            continue;
        }
        struct win *w = win_at(sp, sp->win_count++);
        w->id = h.id;
        w->seg = s;
        w->off = off;
        w->rec_len = rec;
        w->events = h.events;
        w->done = 0;
        s->inflight++;
        s->if_events += h.events;
        s->if_bytes += rec;
        fill_batch(&h, buf, out);
        ret = 0;
        break;
    }
    rp__os_mutex_unlock(sp->mu);
    chain_remove(sp, done, sp->rpath, &sp->rfd, &sp->rfd_seq);
    /* Caught up: let go of the file, so that a segment the appender drops
     * meanwhile really frees its space (a full disk needs it back). */
    if (ret == RP_ERR_NOTFOUND)
        rp__os_file_close(&sp->rfd);
    return ret;
}

int rp__spool_ack(rp__spool *sp, uint64_t id)
{
    if (!sp)
        return RP_ERR_INVAL;
    struct seg *done = NULL;
    rp__os_mutex_lock(sp->mu);
    struct win *e = NULL;
    for (uint32_t i = 0; i < sp->win_count; i++) {
        struct win *w = win_at(sp, i);
        if (w->id == id && !w->done) {
            e = w;
            break;
        }
    }
    if (!e) {
        rp__os_mutex_unlock(sp->mu);
        return RP_ERR_NOTFOUND;
    }
    struct seg *s = e->seg;
    e->done = 1;
    s->inflight--;
    s->if_events -= e->events;
    s->if_bytes -= e->rec_len;
    retire(s, 1, e->events, e->rec_len);
    sp->st.acked_batches++;
    sp->st.acked_events += e->events;
    sp->st.acked_bytes += e->rec_len;
    win_settle(sp);
    if (seg_done(s)) {
        list_detach(sp, s);
        chain_push(&done, s);
    }
    uint64_t w = sp->acked_id;
    rp__os_mutex_unlock(sp->mu);
    chain_remove(sp, done, sp->rpath, &sp->rfd, &sp->rfd_seq);
    if (w > sp->acked_written) {
        /* Not synced: a stale value after power loss only resends batches,
         * which their Idempotency-Keys let the backend ignore. */
        if (write_small(sp->acked_fd, ACKED_MAGIC, sp->uid, w, 0) == 0)
            sp->acked_written = w;
    }
    return 0;
}

void rp__spool_get_stats(rp__spool *sp, rp__spool_stats *out)
{
    if (!sp || !out)
        return;
    rp__os_mutex_lock(sp->mu);
    *out = sp->st;
    out->queued_batches = out->queued_events = out->queued_bytes = 0;
    for (const struct seg *s = sp->head; s; s = s->next) {
        out->queued_batches += sub_sat(s->count, s->ret_count);
        out->queued_events += sub_sat(s->events, s->ret_events);
        out->queued_bytes += sub_sat(s->bytes, s->ret_bytes);
    }
    out->inflight_batches = 0;
    for (uint32_t i = 0; i < sp->win_count; i++)
        out->inflight_batches += !win_at(sp, i)->done;
    out->disk_bytes = sp->disk_bytes;
    out->segments = sp->nseg;
    out->max_bytes = sp->max_bytes;
    out->next_id = sp->next_id;
    out->acked_id = sp->acked_id;
    out->uid = sp->uid;
    rp__os_mutex_unlock(sp->mu);
}

void rp__spool_close(rp__spool *sp)
{
    if (!sp)
        return;
    seal_writer(sp, 1);
    /* Everything acked goes now; the rest waits for the next open. */
    struct seg *done = NULL;
    for (struct seg *s = sp->head, *next; s; s = next) {
        next = s->next;
        if (s->sealed && s->ret_count >= s->count && s->inflight == 0) {
            list_detach(sp, s);
            chain_push(&done, s);
        }
    }
    rp__os_file_close(&sp->rfd);
    chain_remove(sp, done, sp->wpath, NULL, NULL);
    if (sp->acked_id > sp->acked_written)
        write_small(sp->acked_fd, ACKED_MAGIC, sp->uid, sp->acked_id,
                    sp->fsync != RP__SPOOL_FSYNC_NEVER);
    spool_free(sp);
}
