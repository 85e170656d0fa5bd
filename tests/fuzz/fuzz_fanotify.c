/*
 * tests/fuzz/fuzz_fanotify.c - libFuzzer target for collector_file's
 * fanotify buffer parser (plugins/collector_file/fanrec.c, compiled into
 * this binary: plugins never link the host). Whatever a buffer read from
 * the fanotify fd holds, walking its event records and their info records
 * must never read past the buffer, loop forever, or hand out a reference
 * that lies outside its record, a handle longer than the kernel's largest,
 * or a name that is not NUL-terminated inside its record or holds a '/'.
 *
 * Input layout: one buffer as read() returns it from a group made with
 * FAN_REPORT_DFID_NAME | FAN_REPORT_FID | FAN_REPORT_TARGET_FID
 * (corpus/fanotify/ holds real ones captured with
 * tools/fuzz-seeds/fanotify.c). It is walked in place, so a read past the
 * input's end is caught by ASan.
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads this line):
 * fuzz-standalone: plugins/collector_file/fanrec.c
 */
#define _GNU_SOURCE
#include "fanrec.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_fanotify: check failed at line %d: %s\n", __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The size of struct fanotify_event_metadata, the smallest record. */
#define META_LEN 24u

/* Everything a reference points at lies inside its record [lo, hi), and is
 * read here the way fan.c reads it (the fsid and handle into the cache key
 * and the file handle, the name into a path), so ASan sees any overread. */
static unsigned check_ref(const struct cf_fid_ref *ref, int want_name, const unsigned char *lo,
                          const unsigned char *hi)
{
    unsigned sum = 0;
    CHECK(ref->fsid != NULL && ref->fsid >= lo && ref->fsid + 8 <= hi);
    CHECK(ref->handle_bytes <= CF_FAN_HANDLE_MAX);
    CHECK(ref->handle != NULL && ref->handle >= lo && ref->handle + ref->handle_bytes <= hi);
    for (int i = 0; i < 8; i++)
        sum += ref->fsid[i];
    for (uint32_t i = 0; i < ref->handle_bytes; i++)
        sum += ref->handle[i];
    if (!want_name) {
        CHECK(ref->name == NULL);
        return sum;
    }
    const unsigned char *name = (const unsigned char *)ref->name;
    CHECK(name != NULL && name >= lo && name < hi);
    const unsigned char *nul = memchr(name, '\0', (size_t)(hi - name));
    CHECK(nul != NULL);
    CHECK(memchr(name, '/', (size_t)(nul - name)) == NULL);
    return sum + (unsigned)(nul - name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_fanwalk w;
    struct cf_fanrec r;
    size_t records = 0, prev = 0;
    volatile unsigned sink = 0;
    int rc;

    cf_fanwalk_init(&w, data, size);
    while ((rc = cf_fanwalk_next(&w, &r)) == 0) {
        /* Each record takes at least its header, so the walk ends. */
        CHECK(w.off >= prev + META_LEN && w.off <= size);
        CHECK(++records <= size / META_LEN);
        const unsigned char *lo = data + prev, *hi = data + w.off;
        if (r.have_dfid)
            sink += check_ref(&r.dfid, r.dfid.name != NULL, lo, hi);
        if (r.have_fid)
            sink += check_ref(&r.fid, 0, lo, hi);
        if (r.have_old)
            sink += check_ref(&r.old_dfid, 1, lo, hi);
        if (r.have_new)
            sink += check_ref(&r.new_dfid, 1, lo, hi);
        CHECK(r.have_pidfd || r.pidfd == -1);
        /* Only a record whose version is known has its info records read. */
        if (r.vers != FANOTIFY_METADATA_VERSION)
            CHECK(!r.have_dfid && !r.have_fid && !r.have_old && !r.have_new && !r.have_pidfd &&
                  r.bad_info == 0);
        prev = w.off;
    }
    CHECK(rc == RP_ERR_NOTFOUND || rc == RP_ERR_PARSE);
    /* A bad record drops the rest of the buffer; otherwise less than a
     * header is left. */
    CHECK(rc == RP_ERR_PARSE ? w.off == size : size - w.off < META_LEN);
    /* The walk stays ended. */
    CHECK(cf_fanwalk_next(&w, &r) == RP_ERR_NOTFOUND);
    (void)sink;
    return 0;
}
