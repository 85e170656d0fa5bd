/*
 * core/output/spool.c - the write-ahead spool (spool.h; format and recovery rules in
 * docs/spool.md).
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
#include "output/spool.h"

#include "lib/byteorder.h"
#include "lib/crc32c.h"
#include "lib/log.h"
#include "os/os.h"
#include "os/os_spool.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the on-disk format (docs/spool.md) ---- */

#define HDR           RP__SPOOL_HEADER_LEN
#define REC_MAGIC     0x31535052u /* "RPS1" */
#define REC_VERSION   1u
#define FOOTER_MAGIC  0x46535052u /* "RPSF" */
#define FOOTER_LEN    64u
#define STATE_MAGIC   0x54535052u /* "RPST" */
#define ACKED_MAGIC   0x4b415052u /* "RPAK" */
#define SMALL_VERSION 1u
#define SMALL_LEN     32u
/* Ids are reserved in the state file this many at a time, so that an id is
 * never used twice even if every segment and the acked file are lost. */
#define ID_RESERVE ((uint64_t)1 << 16)
/* Larger ids are damage (2^62 batches would take 146,000 years at a million
 * a second); the bound keeps id arithmetic far from overflow. */
#define ID_MAX ((uint64_t)1 << 62)
/* Most segment files one open looks at; more is not something the spool
 * makes (RP__SPOOL_MAX_SEGMENTS), so the rest are left alone and logged. */
#define SCAN_MAX_FILES ((size_t)1 << 20)
/* Recovery problems logged one by one per open; the rest are only counted. */
#define LOG_PROBLEMS_MAX 16
#define RESYNC_CHUNK     ((size_t)64 << 10)

struct rec_hdr {
    uint32_t flags, events, len, payload_crc;
    uint64_t id, uid;
    int64_t created_ns;
};

void rp__spool_encode_header(uint8_t out[RP__SPOOL_HEADER_LEN], uint64_t id, uint64_t uid,
                             uint32_t events, uint32_t flags, int64_t created_ns,
                             const void *payload, uint32_t len)
{
    rp__store_le32(out + 0, REC_MAGIC);
    rp__store_le16(out + 4, REC_VERSION);
    rp__store_le16(out + 6, HDR);
    rp__store_le32(out + 8, flags);
    rp__store_le32(out + 12, events);
    rp__store_le64(out + 16, id);
    rp__store_le64(out + 24, uid);
    rp__store_le64(out + 32, (uint64_t)created_ns);
    rp__store_le32(out + 40, len);
    rp__store_le32(out + 44, rp__crc32c(0, payload, len));
    rp__store_le32(out + 48, 0);
    rp__store_le32(out + 52, rp__crc32c(0, out, 52));
}

/* 0 when p holds a whole, self-consistent v1 header. The payload is not
 * looked at. */
static int hdr_decode(const uint8_t *p, struct rec_hdr *h)
{
    if (rp__load_le32(p) != REC_MAGIC || rp__load_le16(p + 4) != REC_VERSION || rp__load_le16(p + 6) != HDR)
        return -1;
    if (rp__load_le32(p + 52) != rp__crc32c(0, p, 52))
        return -1;
    h->flags = rp__load_le32(p + 8);
    h->events = rp__load_le32(p + 12);
    h->id = rp__load_le64(p + 16);
    h->uid = rp__load_le64(p + 24);
    h->created_ns = (int64_t)rp__load_le64(p + 32);
    h->len = rp__load_le32(p + 40);
    h->payload_crc = rp__load_le32(p + 44);
    if (h->len > RP__SPOOL_PAYLOAD_MAX || h->id == 0 || h->id > ID_MAX)
        return -1;
    return 0;
}

/* The state and acked files: magic, version, length, uid, value, CRC. */
static void small_encode(uint8_t out[SMALL_LEN], uint32_t magic, uint64_t uid, uint64_t value)
{
    memset(out, 0, SMALL_LEN);
    rp__store_le32(out, magic);
    rp__store_le16(out + 4, SMALL_VERSION);
    rp__store_le16(out + 6, SMALL_LEN);
    rp__store_le64(out + 8, uid);
    rp__store_le64(out + 16, value);
    rp__store_le32(out + 28, rp__crc32c(0, out, 28));
}

static int small_decode(const uint8_t *p, size_t got, uint32_t magic, uint64_t *uid,
                        uint64_t *value)
{
    if (got < SMALL_LEN || rp__load_le32(p) != magic || rp__load_le16(p + 4) != SMALL_VERSION ||
        rp__load_le16(p + 6) != SMALL_LEN || rp__load_le32(p + 28) != rp__crc32c(0, p, 28))
        return -1;
    *uid = rp__load_le64(p + 8);
    *value = rp__load_le64(p + 16);
    return *uid && *value <= ID_MAX ? 0 : -1;
}

/*
 * The footer a sealed segment ends with: the sums of its records, so that an
 * open reads one block per segment instead of every record's header.
 */
struct footer {
    uint64_t data_end, count, events, first_id, last_id, bytes;
};

static void footer_encode(uint8_t out[FOOTER_LEN], const struct footer *f)
{
    memset(out, 0, FOOTER_LEN);
    rp__store_le32(out, FOOTER_MAGIC);
    rp__store_le16(out + 4, 1);
    rp__store_le16(out + 6, FOOTER_LEN);
    rp__store_le64(out + 8, f->data_end);
    rp__store_le64(out + 16, f->count);
    rp__store_le64(out + 24, f->events);
    rp__store_le64(out + 32, f->first_id);
    rp__store_le64(out + 40, f->last_id);
    rp__store_le64(out + 48, f->bytes);
    rp__store_le32(out + 60, rp__crc32c(0, out, 60));
}

/* 0 when p is a footer that is consistent with itself and sits at the end
 * of its data (at data_end). */
static int footer_decode(const uint8_t *p, uint64_t at, struct footer *f)
{
    if (rp__load_le32(p) != FOOTER_MAGIC || rp__load_le16(p + 4) != 1 || rp__load_le16(p + 6) != FOOTER_LEN ||
        rp__load_le32(p + 60) != rp__crc32c(0, p, 60))
        return -1;
    f->data_end = rp__load_le64(p + 8);
    f->count = rp__load_le64(p + 16);
    f->events = rp__load_le64(p + 24);
    f->first_id = rp__load_le64(p + 32);
    f->last_id = rp__load_le64(p + 40);
    f->bytes = rp__load_le64(p + 48);
    if (f->data_end != at || f->count == 0 || f->first_id == 0 || f->last_id < f->first_id ||
        f->last_id > ID_MAX || f->last_id - f->first_id + 1 < f->count || f->bytes > f->data_end ||
        f->count > f->bytes / HDR)
        return -1;
    return 0;
}

/* ---- the spool ---- */

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
    rp__os_sfile wfd;
    int wfd_orphan; /* wseg was dropped: wfd must be closed */
    int dirty;
    int64_t last_sync_ns;
    uint64_t next_seq, id_limit;
    rp__os_sfile state_fd;
    char *wpath;

    /* Reader only. */
    rp__os_sfile rfd;
    uint64_t rfd_seq;
    rp__os_sfile acked_fd;
    uint64_t acked_written;
    char *rpath;
    uint8_t *rchunk; /* for resynchronising after damage; from malloc when needed */
};

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

static const char *seg_path(const rp__spool *sp, char *buf, uint64_t seq)
{
    snprintf(buf, sp->path_cap, "%s/%016" PRIx64 ".seg", sp->dir, seq);
    return buf;
}

static const char *file_path(const rp__spool *sp, char *buf, const char *name)
{
    snprintf(buf, sp->path_cap, "%s/%s", sp->dir, name);
    return buf;
}

/* Logs one recovery problem, or only counts it once LOG_PROBLEMS_MAX were
 * logged in this open: a damaged disk must not flood the log. */
static void problem(rp__spool *sp, const char *fmt, ...) RP__PRINTF(2, 3);
static void problem(rp__spool *sp, const char *fmt, ...)
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

static void list_append(rp__spool *sp, struct seg *s)
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

static void seg_free(struct seg *s)
{
    if (!s)
        return;
    free(s->skips);
    free(s);
}

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static void retire(struct seg *s, uint64_t count, uint64_t events, uint64_t bytes)
{
    s->ret_count += count;
    s->ret_events += events;
    s->ret_bytes += bytes;
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

static void chain_remove(rp__spool *sp, struct seg *chain, char *path_buf, rp__os_sfile *cached,
                         uint64_t *cached_seq)
{
    while (chain) {
        struct seg *next = chain->next;
        if (cached && cached->h != RP__OS_SFILE_NONE && *cached_seq == chain->seq)
            rp__os_sfile_close(cached);
        int rc = rp__os_spool_unlink(seg_path(sp, path_buf, chain->seq));
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

/* ---- open: recovery ---- */

struct scan_names {
    uint64_t *seqs;
    size_t n, cap;
    size_t ignored;
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int collect_name(void *ctx, const char *name)
{
    struct scan_names *sn = ctx;
    if (strlen(name) != 20 || strcmp(name + 16, ".seg") != 0)
        return 0;
    uint64_t seq = 0;
    for (int i = 0; i < 16; i++) {
        int v = hexval(name[i]);
        if (v < 0)
            return 0;
        seq = seq << 4 | (uint64_t)v;
    }
    if (sn->n == sn->cap) {
        if (sn->cap >= SCAN_MAX_FILES) {
            sn->ignored++;
            return 0;
        }
        size_t cap = sn->cap ? sn->cap * 2 : 64;
        uint64_t *p = realloc(sn->seqs, cap * sizeof *p);
        if (!p)
            return RP_ERR_NOMEM;
        sn->seqs = p;
        sn->cap = cap;
    }
    sn->seqs[sn->n++] = seq;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int add_skip(struct seg *s, uint64_t off, uint64_t len)
{
    if ((s->nskips & (s->nskips - 1)) == 0) { /* grow at 0, 1, 2, 4, 8... */
        size_t cap = s->nskips ? s->nskips * 2 : 1;
        struct skip *p = realloc(s->skips, cap * sizeof *p);
        if (!p)
            return RP_ERR_NOMEM;
        s->skips = p;
    }
    s->skips[s->nskips].off = off;
    s->skips[s->nskips].len = len;
    s->nskips++;
    return 0;
}

#define RESYNC_IO_ERROR UINT64_MAX

/* Finds the first offset in (from, size) where a valid record starts and
 * fits in the file; size when there is none, RESYNC_IO_ERROR when the file
 * cannot be read. Reads in chunks and checks
 * every occurrence of the magic's first byte, so the work is linear in the
 * bytes scanned plus one 52-byte checksum per candidate. */
static uint64_t resync(rp__os_sfile f, uint64_t from, uint64_t size, uint8_t *chunk)
{
    uint64_t pos = from + 1;
    while (pos + HDR <= size) {
        size_t want = RESYNC_CHUNK;
        if (size - pos < want)
            want = (size_t)(size - pos);
        size_t got = 0;
        if (rp__os_sfile_read_at(f, pos, chunk, want, &got) != 0)
            return RESYNC_IO_ERROR;
        if (got < HDR)
            return size;
        size_t last = got - HDR; /* last index where a whole header fits */
        for (size_t i = 0; i <= last; i++) {
            const uint8_t *p = memchr(chunk + i, 'R', last - i + 1);
            if (!p)
                break;
            i = (size_t)(p - chunk);
            struct rec_hdr h;
            if (hdr_decode(p, &h) == 0 && pos + i + HDR + h.len <= size)
                return pos + i;
        }
        pos += last + 1;
    }
    return size;
}

/* Sets the reader's starting point at open: the first segment that still
 * has something to send, at its first record not acked before. Skips before
 * that offset are behind the cursor already. */
static void place_cursor(rp__spool *sp, struct seg *s, uint64_t off)
{
    if (sp->cur)
        return;
    sp->cur = s;
    sp->cur_off = off;
    while (s->skip_next < s->nskips && s->skips[s->skip_next].off < off)
        s->skip_next++;
}

/*
 * Builds one segment's entry. A sealed segment whose footer is intact and
 * whose ids follow the segments before it is taken at its footer's word (one
 * read); damage inside it is then found when its batches are read. Any other
 * segment is walked header by header: torn tails are cut and corrupt
 * stretches noted as skips; records whose id is not above *last_id (out of
 * order or repeated: the file was tampered with) are skipped too; records up
 * to acked are retired. *out is NULL when nothing is left to send (the file
 * is then removed) or the file was left alone.
 */
static int scan_segment(rp__spool *sp, uint64_t seq, uint64_t acked, uint64_t *last_id,
                        uint8_t *chunk, struct seg **out)
{
    *out = NULL;
    const char *path = seg_path(sp, sp->wpath, seq);
    rp__os_sfile f;
    int err = 0, writable = 1;
    int rc = rp__os_sfile_open(path, 1, 0, &f, &err);
    if (rc == RP_ERR_PERM) {
        writable = 0;
        rc = rp__os_sfile_open(path, 0, 0, &f, &err);
    }
    if (rc != 0) {
        rp__log_warn("spool %s: cannot open %s (%s); left as it is", sp->dir, path,
                     rp_strerror(rc));
        return 0;
    }
    uint64_t size = 0;
    rc = rp__os_sfile_size(f, &size);
    if (rc != 0) {
        rp__os_sfile_close(&f);
        rp__log_warn("spool %s: %s is not a regular file; left as it is", sp->dir, path);
        return 0;
    }
    struct seg *s = calloc(1, sizeof *s);
    if (!s) {
        rp__os_sfile_close(&f);
        return RP_ERR_NOMEM;
    }
    s->seq = seq;
    s->sealed = 1;
    s->file_bytes = size;

    /* The footer, if any, bounds the records. */
    uint64_t data_end = size;
    int has_footer = 0;
    struct footer ft = {0};
    if (size >= FOOTER_LEN) {
        uint8_t fb[FOOTER_LEN];
        size_t got = 0;
        if (rp__os_sfile_read_at(f, size - FOOTER_LEN, fb, FOOTER_LEN, &got) == 0 &&
            got == FOOTER_LEN && footer_decode(fb, size - FOOTER_LEN, &ft) == 0) {
            has_footer = 1;
            data_end = size - FOOTER_LEN;
        }
    }
    if (has_footer && ft.first_id > *last_id && (ft.first_id > acked || ft.last_id <= acked)) {
        *last_id = ft.last_id;
        rp__os_sfile_close(&f);
        if (ft.last_id <= acked) {
            rp__os_spool_unlink(path); /* all delivered */
            seg_free(s);
            return 0;
        }
        s->size = data_end;
        s->count = ft.count;
        s->events = ft.events;
        s->bytes = ft.bytes;
        s->first_id = ft.first_id;
        s->last_id = ft.last_id;
        place_cursor(sp, s, 0);
        *out = s;
        return 0;
    }

    uint64_t off = 0, first_open = UINT64_MAX;
    int io_error = 0;
    while (off < data_end) {
        uint8_t hb[HDR];
        struct rec_hdr h;
        size_t got = 0;
        if (data_end - off >= HDR && rp__os_sfile_read_at(f, off, hb, HDR, &got) != 0) {
            io_error = 1;
            break;
        }
        if (got == HDR && hdr_decode(hb, &h) == 0) {
            uint64_t rec = HDR + (uint64_t)h.len;
            if (rec > data_end - off)
                break; /* the payload runs past the end: torn */
            /* With a footer, ids outside its range are refused too: the
             * footer is what any open that trusts it goes by, so a walk
             * must not accept more (an id above it could be reused). */
            if (h.id <= *last_id || (has_footer && (h.id < ft.first_id || h.id > ft.last_id))) {
                problem(sp,
                        "%s: batch %" PRIu64 " at offset %" PRIu64
                        " is out of order (after %" PRIu64 "); skipped",
                        path, h.id, off, *last_id);
                sp->st.corrupt_records++;
                sp->st.corrupt_events += h.events;
                sp->st.corrupt_bytes += rec;
                if ((rc = add_skip(s, off, rec)) != 0)
                    goto fail;
                off += rec;
                continue;
            }
            *last_id = h.id;
            if (!s->first_id)
                s->first_id = h.id;
            s->last_id = h.id;
            s->count++;
            s->events += h.events;
            s->bytes += rec;
            if (h.id <= acked)
                retire(s, 1, h.events, rec);
            else if (first_open == UINT64_MAX)
                first_open = off;
            off += rec;
            continue;
        }
        /* Not a record: look for the next one. None means a torn tail. */
        uint64_t next = resync(f, off, data_end, chunk);
        if (next == RESYNC_IO_ERROR) {
            io_error = 1;
            break;
        }
        if (next >= data_end)
            break;
        problem(sp, "%s: %" PRIu64 " corrupt bytes at offset %" PRIu64 "; skipped", path,
                next - off, off);
        sp->st.corrupt_records++;
        sp->st.corrupt_bytes += next - off;
        if ((rc = add_skip(s, off, next - off)) != 0)
            goto fail;
        off = next;
    }
    if (has_footer && ft.last_id > *last_id)
        *last_id = ft.last_id; /* new ids go above whatever the footer covers */
    if (io_error) {
        /* A read error is no proof of damage: nothing is cut or removed, the
         * file is left alone (not sent, not counted) for a later open. */
        rp__log_warn("spool %s: read error in %s at offset %" PRIu64 "; file left for later",
                     sp->dir, path, off);
        sp->st.io_errors++;
        rp__os_sfile_close(&f);
        seg_free(s);
        return 0;
    }
    if (off < data_end && has_footer) {
        /* The footer proves the segment was whole once: damage, not a torn
         * write. Skipped, and the footer kept. */
        problem(sp, "%s: %" PRIu64 " corrupt bytes at offset %" PRIu64 "; skipped", path,
                data_end - off, off);
        sp->st.corrupt_records++;
        sp->st.corrupt_bytes += data_end - off;
        if ((rc = add_skip(s, off, data_end - off)) != 0)
            goto fail;
        off = data_end;
    } else if (off < data_end) {
        problem(sp, "%s: torn record of %" PRIu64 " bytes at offset %" PRIu64 "; cut", path,
                size - off, off);
        sp->st.cut_torn_records++;
        sp->st.cut_torn_bytes += size - off;
        if (writable && rp__os_sfile_truncate(f, off) == 0)
            s->file_bytes = off;
        else
            rp__log_warn("spool %s: cannot cut %s; its tail stays (and counts) until removed",
                         sp->dir, path);
    }
    s->size = off;
    rp__os_sfile_close(&f);
    if (s->ret_count == s->count) {
        /* Nothing left to send: the file goes now. */
        rp__os_spool_unlink(path);
        seg_free(s);
        return 0;
    }
    place_cursor(sp, s, first_open);
    *out = s;
    return 0;
fail:
    rp__os_sfile_close(&f);
    seg_free(s);
    return rc;
}

static int write_small(rp__os_sfile f, uint32_t magic, uint64_t uid, uint64_t value, int sync)
{
    uint8_t b[SMALL_LEN];
    small_encode(b, magic, uid, value);
    /* One 32-byte write at offset 0 lies in one disk sector, so it lands
     * whole or not at all; the CRC catches the rare device that tears it. */
    int rc = rp__os_sfile_write_at(f, 0, b, sizeof b, NULL, 0, NULL);
    if (rc == 0 && sync)
        rc = rp__os_sfile_sync(f, NULL);
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
    rp__os_sfile_close(&sp->wfd);
    rp__os_sfile_close(&sp->rfd);
    rp__os_sfile_close(&sp->state_fd);
    rp__os_sfile_close(&sp->acked_fd);
    rp__os_mutex_destroy(sp->mu);
    free(sp->win);
    free(sp->rchunk);
    free(sp->wpath);
    free(sp->rpath);
    free(sp->dir);
    free(sp);
}

int rp__spool_open(const rp__spool_opts *opts, rp__spool **out)
{
    if (!opts || !out || !opts->dir || !opts->dir[0] || opts->fsync > RP__SPOOL_FSYNC_NEVER ||
        opts->max_inflight > RP__SPOOL_MAX_INFLIGHT)
        return RP_ERR_INVAL;
    *out = NULL;
    rp__spool *sp = calloc(1, sizeof *sp);
    if (!sp)
        return RP_ERR_NOMEM;
    sp->wfd.h = sp->rfd.h = sp->state_fd.h = sp->acked_fd.h = RP__OS_SFILE_NONE;
    size_t dlen = strlen(opts->dir);
    while (dlen > 1 && opts->dir[dlen - 1] == '/')
        dlen--;
    sp->path_cap = dlen + 32;
    sp->dir = malloc(dlen + 1);
    sp->wpath = malloc(sp->path_cap);
    sp->rpath = malloc(sp->path_cap);
    sp->max_inflight = opts->max_inflight ? opts->max_inflight : RP__SPOOL_DEFAULT_INFLIGHT;
    sp->win = calloc(sp->max_inflight, sizeof *sp->win);
    uint8_t *chunk = malloc(RESYNC_CHUNK);
    struct scan_names sn = {0};
    int rc = RP_ERR_NOMEM;
    if (!sp->dir || !sp->wpath || !sp->rpath || !sp->win || !chunk)
        goto fail;
    memcpy(sp->dir, opts->dir, dlen);
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
    if ((rc = rp__os_mkdir_p(sp->dir, 0700)) != 0) {
        rp__log_error("spool %s: cannot create the folder: %s", sp->dir, rp_strerror(rc));
        goto fail;
    }

    /* The state file: the spool's uid and the ids reserved so far. */
    int err = 0;
    rc = rp__os_sfile_open(file_path(sp, sp->wpath, "state"), 1, 1, &sp->state_fd, &err);
    if (rc != 0) {
        rp__log_error("spool %s: cannot open %s: %s", sp->dir, sp->wpath, rp_strerror(rc));
        goto fail;
    }
    uint8_t small[SMALL_LEN];
    size_t got = 0;
    uint64_t id_floor = 0, acked = 0;
    int new_state = 0;
    if (rp__os_sfile_read_at(sp->state_fd, 0, small, sizeof small, &got) != 0 ||
        small_decode(small, got, STATE_MAGIC, &sp->uid, &id_floor) != 0) {
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
    rc = rp__os_sfile_open(file_path(sp, sp->wpath, "acked"), 1, 1, &sp->acked_fd, &err);
    if (rc != 0) {
        rp__log_error("spool %s: cannot open %s: %s", sp->dir, sp->wpath, rp_strerror(rc));
        goto fail;
    }
    uint64_t acked_uid = 0;
    if (rp__os_sfile_read_at(sp->acked_fd, 0, small, sizeof small, &got) != 0 ||
        small_decode(small, got, ACKED_MAGIC, &acked_uid, &acked) != 0 || acked_uid != sp->uid)
        acked = 0; /* unknown: everything is sent again (the keys dedupe) */

    /* The segments, oldest first. */
    rc = rp__os_spool_dir_list(sp->dir, collect_name, &sn);
    if (rc != 0) {
        rp__log_error("spool %s: cannot list the folder: %s", sp->dir, rp_strerror(rc));
        goto fail;
    }
    if (sn.ignored)
        rp__log_warn("spool %s: %llu segment files beyond %llu ignored", sp->dir,
                     (unsigned long long)sn.ignored, (unsigned long long)SCAN_MAX_FILES);
    if (sn.n)
        qsort(sn.seqs, sn.n, sizeof *sn.seqs, cmp_u64);
    uint64_t last_id = 0;
    for (size_t i = 0; i < sn.n; i++) {
        struct seg *s;
        if ((rc = scan_segment(sp, sn.seqs[i], acked, &last_id, chunk, &s)) != 0)
            goto fail;
        if (s)
            list_append(sp, s);
        sp->next_seq = sn.seqs[i] + 1;
    }
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
        rp__os_spool_dir_sync(sp->dir);
    if (acked == 0 && sp->acked_written == 0)
        write_small(sp->acked_fd, ACKED_MAGIC, sp->uid, 0, 0);
    if (sp->next_seq == 0)
        sp->next_seq = 1; /* names start at 1: 0 is left for tools and tests */
    sp->last_sync_ns = rp__os_monotonic_ns();
    free(sn.seqs);
    free(chunk);
    if (sp->st.corrupt_records || sp->st.cut_torn_records)
        rp__log_warn("spool %s: recovered: %" PRIu64 " torn bytes cut, %" PRIu64
                     " corrupt records (%" PRIu64 " bytes) skipped",
                     sp->dir, sp->st.cut_torn_bytes, sp->st.corrupt_records, sp->st.corrupt_bytes);
    *out = sp;
    return 0;
fail:
    free(sn.seqs);
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
    if (!sp->dirty || sp->wfd.h == RP__OS_SFILE_NONE)
        return 0;
    int err = 0;
    int rc = rp__os_sfile_sync(sp->wfd, &err);
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
    struct footer ft = {s->size, s->count, s->events, s->first_id, s->last_id, s->bytes};
    rp__os_mutex_unlock(sp->mu);
    if (ft.count == 0)
        return;
    uint8_t fb[FOOTER_LEN];
    footer_encode(fb, &ft);
    if (rp__os_sfile_write_at(sp->wfd, ft.data_end, fb, FOOTER_LEN, NULL, 0, NULL) == 0) {
        sp->dirty = 1;
        return;
    }
    if (rp__os_sfile_truncate(sp->wfd, ft.data_end) != 0)
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
    rp__os_sfile_close(&sp->wfd);
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
        rc = rp__os_sfile_create(seg_path(sp, sp->wpath, s->seq), &sp->wfd, &err);
    }
    if (rc != 0) {
        if (rc != RP_ERR_FULL)
            rp__log_error("spool %s: cannot create %s: %s", sp->dir, sp->wpath, rp_strerror(rc));
        free(s);
        return rc;
    }
    /* The new name must be durable before a record in it is called durable. */
    if (sp->fsync != RP__SPOOL_FSYNC_NEVER && (rc = rp__os_spool_dir_sync(sp->dir)) != 0)
        rp__log_warn("spool %s: folder sync failed: %s", sp->dir, rp_strerror(rc));
    /* Room for the footer is counted from the start, so sealing never takes
     * the spool past max_bytes. */
    s->file_bytes = FOOTER_LEN;
    rp__os_mutex_lock(sp->mu);
    list_append(sp, s);
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
    if (rp__os_sfile_truncate(sp->wfd, off) == 0)
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
            rc = rp__os_sfile_write_at(sp->wfd, off, hdr, HDR, payload, len, &err);
            if (rc == 0 && sp->fsync == RP__SPOOL_FSYNC_ALWAYS)
                rc = rp__os_sfile_sync(sp->wfd, &err);
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
           sp->wfd.h != RP__OS_SFILE_NONE;
}

/* ---- reader ---- */

enum { READ_OK = 0, READ_BAD_HEADER = 1, READ_BAD_PAYLOAD = 2 };

/* Reads and checks the record at off (which must end by limit) of segment
 * seq into buf. Returns READ_OK, READ_BAD_HEADER (not a whole valid record
 * there: the file changed since it was checked), READ_BAD_PAYLOAD (*h and
 * *rec_len valid), or a negative RP_ERR_* that leaves the record for later. */
static int read_record(rp__spool *sp, uint64_t seq, uint64_t off, uint64_t limit, rp__buf *buf,
                       struct rec_hdr *h, uint64_t *rec_len)
{
    if (sp->rfd.h == RP__OS_SFILE_NONE || sp->rfd_seq != seq) {
        rp__os_sfile_close(&sp->rfd);
        int rc = rp__os_sfile_open(seg_path(sp, sp->rpath, seq), 0, 0, &sp->rfd, NULL);
        if (rc == RP_ERR_NOTFOUND)
            return READ_BAD_HEADER;
        if (rc != 0)
            return rc;
        sp->rfd_seq = seq;
    }
    uint8_t hb[HDR];
    size_t got = 0;
    int rc = rp__os_sfile_read_at(sp->rfd, off, hb, HDR, &got);
    if (rc != 0)
        return rc;
    if (got < HDR || hdr_decode(hb, h) != 0 || limit - off < HDR + (uint64_t)h->len)
        return READ_BAD_HEADER;
    *rec_len = HDR + (uint64_t)h->len;
    if (h->len > buf->max)
        return RP_ERR_RANGE;
    rp__buf_reset(buf);
    rc = rp__buf_reserve(buf, h->len);
    if (rc != 0)
        return rc == RP_ERR_FULL ? RP_ERR_RANGE : rc;
    rc = rp__os_sfile_read_at(sp->rfd, off + HDR, buf->data, h->len, &got);
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
    problem(sp, "%016" PRIx64 ".seg: batch at offset %" PRIu64 " fails its checksum; dropped",
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
    if (sp->rfd.h == RP__OS_SFILE_NONE || sp->rfd_seq != seq)
        return limit; /* the file is gone */
    uint64_t next = resync(sp->rfd, off, limit, sp->rchunk);
    return next == RESYNC_IO_ERROR ? limit : next;
}

static void fill_batch(const struct rec_hdr *h, const rp__buf *buf, rp__spool_batch *out)
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
            struct rec_hdr h;
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
        struct rec_hdr h;
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
            problem(sp,
                    "%016" PRIx64 ".seg: %" PRIu64 " corrupt bytes at offset %" PRIu64 "; skipped",
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
        rp__os_sfile_close(&sp->rfd);
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
    rp__os_sfile_close(&sp->rfd);
    chain_remove(sp, done, sp->wpath, NULL, NULL);
    if (sp->acked_id > sp->acked_written)
        write_small(sp->acked_fd, ACKED_MAGIC, sp->uid, sp->acked_id,
                    sp->fsync != RP__SPOOL_FSYNC_NEVER);
    spool_free(sp);
}
