/*
 * core/output/spool_recover.c - rebuilding the spool's segment list from its
 * folder at open (spool_int.h): which files there are, what each holds, what
 * is torn (cut) or corrupt (skipped), and where the reader starts. The rules
 * are in docs/spool.md ("Recovery rules").
 */
#include "output/spool_int.h"

#include <rampart/plugin.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most segment files one open looks at; more is not something the spool
 * makes (RP__SPOOL_MAX_SEGMENTS), so the rest are left alone and logged. */
#define SCAN_MAX_FILES ((size_t)1 << 20)

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

/* Reads in chunks; the codec checks every occurrence of the magic's first
 * byte, so the work is linear in the bytes scanned plus one 52-byte checksum
 * per candidate. */
uint64_t rp__spool_resync(rp__os_file f, uint64_t from, uint64_t size, uint8_t *chunk)
{
    uint64_t pos = from + 1;
    while (pos + HDR <= size) {
        size_t want = RESYNC_CHUNK;
        if (size - pos < want)
            want = (size_t)(size - pos);
        size_t got = 0;
        if (rp__os_file_read_at(f, pos, chunk, want, &got) != 0)
            return RESYNC_IO_ERROR;
        if (got < HDR)
            return size;
        size_t i = rp__spool_find_record(chunk, got, size - pos);
        if (i != SIZE_MAX)
            return pos + i;
        pos += got - HDR + 1; /* past the last index where a whole header fits */
    }
    return size;
}

/* Sets the reader's starting point at open: the first segment that still
 * has something to send, at its first record not acked before. Skips before
 * that offset are behind the cursor already. */
/* Damage between off and end: reported, counted and skipped (never sent). */
static int skip_corrupt(rp__spool *sp, struct seg *s, const char *path, uint64_t off, uint64_t end)
{
    rp__spool_problem(sp, "%s: %" PRIu64 " corrupt bytes at offset %" PRIu64 "; skipped", path,
                      end - off, off);
    sp->st.corrupt_records++;
    sp->st.corrupt_bytes += end - off;
    return add_skip(s, off, end - off);
}

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
    const char *path = rp__spool_seg_path(sp, sp->wpath, seq);
    rp__os_file f;
    int err = 0, writable = 1;
    const char *name = rp__spool_name(sp, path);
    int rc = rp__os_file_open(sp->dirh, name, 1, 0, &f, &err);
    if (rc == RP_ERR_PERM) {
        writable = 0;
        rc = rp__os_file_open(sp->dirh, name, 0, 0, &f, &err);
    }
    if (rc != 0) {
        rp__log_warn("spool %s: cannot open %s (%s); left as it is", sp->dir, path,
                     rp_strerror(rc));
        return 0;
    }
    uint64_t size = 0;
    rc = rp__os_file_size(f, &size);
    if (rc != 0) {
        rp__os_file_close(&f);
        rp__log_warn("spool %s: %s is not a regular file; left as it is", sp->dir, path);
        return 0;
    }
    struct seg *s = calloc(1, sizeof *s);
    if (!s) {
        rp__os_file_close(&f);
        return RP_ERR_NOMEM;
    }
    s->seq = seq;
    s->sealed = 1;
    s->file_bytes = size;

    /* The footer, if any, bounds the records. */
    uint64_t data_end = size;
    int has_footer = 0;
    struct rp__spool_footer ft = {0};
    if (size >= FOOTER_LEN) {
        uint8_t fb[FOOTER_LEN];
        size_t got = 0;
        if (rp__os_file_read_at(f, size - FOOTER_LEN, fb, FOOTER_LEN, &got) == 0 &&
            got == FOOTER_LEN && rp__spool_footer_decode(fb, size - FOOTER_LEN, &ft) == 0) {
            has_footer = 1;
            data_end = size - FOOTER_LEN;
        }
    }
    if (has_footer && ft.first_id > *last_id && (ft.first_id > acked || ft.last_id <= acked)) {
        *last_id = ft.last_id;
        rp__os_file_close(&f);
        if (ft.last_id <= acked) {
            rp__spool_unlink(sp, name); /* all delivered */
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
        struct rp__spool_rec h;
        size_t got = 0;
        if (data_end - off >= HDR && rp__os_file_read_at(f, off, hb, HDR, &got) != 0) {
            io_error = 1;
            break;
        }
        if (got == HDR && rp__spool_rec_decode(hb, &h) == 0) {
            uint64_t rec = HDR + (uint64_t)h.len;
            if (rec > data_end - off)
                break; /* the payload runs past the end: torn */
            /* With a footer, ids outside its range are refused too: the
             * footer is what any open that trusts it goes by, so a walk
             * must not accept more (an id above it could be reused). */
            if (h.id <= *last_id || (has_footer && (h.id < ft.first_id || h.id > ft.last_id))) {
                rp__spool_problem(sp,
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
        uint64_t next = rp__spool_resync(f, off, data_end, chunk);
        if (next == RESYNC_IO_ERROR) {
            io_error = 1;
            break;
        }
        if (next >= data_end)
            break;
        if ((rc = skip_corrupt(sp, s, path, off, next)) != 0)
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
        rp__os_file_close(&f);
        seg_free(s);
        return 0;
    }
    if (off < data_end && has_footer) {
        /* The footer proves the segment was whole once: damage, not a torn
         * write. Skipped, and the footer kept. */
        if ((rc = skip_corrupt(sp, s, path, off, data_end)) != 0)
            goto fail;
        off = data_end;
    } else if (off < data_end) {
        rp__spool_problem(sp, "%s: torn record of %" PRIu64 " bytes at offset %" PRIu64 "; cut",
                          path, size - off, off);
        sp->st.cut_torn_records++;
        sp->st.cut_torn_bytes += size - off;
        if (writable && rp__os_file_truncate(f, off) == 0)
            s->file_bytes = off;
        else
            rp__log_warn("spool %s: cannot cut %s; its tail stays (and counts) until removed",
                         sp->dir, path);
    }
    s->size = off;
    rp__os_file_close(&f);
    if (s->ret_count == s->count) {
        /* Nothing left to send: the file goes now. */
        rp__spool_unlink(sp, name);
        seg_free(s);
        return 0;
    }
    place_cursor(sp, s, first_open);
    *out = s;
    return 0;
fail:
    rp__os_file_close(&f);
    seg_free(s);
    return rc;
}

int rp__spool_recover(rp__spool *sp, uint64_t acked, uint8_t *chunk, uint64_t *last_id_out)
{
    struct scan_names sn = {0};
    /* The segments, oldest first. */
    int rc = rp__os_dir_names(sp->dirh, collect_name, &sn);
    if (rc != 0) {
        rp__log_error("spool %s: cannot list the folder: %s", sp->dir, rp_strerror(rc));
        goto done;
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
            goto done;
        if (s)
            rp__spool_list_append(sp, s);
        sp->next_seq = sn.seqs[i] + 1;
    }
    *last_id_out = last_id;
done:
    free(sn.seqs);
    return rc;
}
