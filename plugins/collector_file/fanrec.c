/*
 * fanrec.c - the fanotify buffer parser of collector_file (see fanrec.h).
 *
 * A buffer comes from the kernel, but a bug or a kernel of another version
 * must not make the plugin read past it: every header is copied out with
 * memcpy (records are only 4-byte aligned) and every length checked against
 * what is left before anything behind it is read.
 */
#define _GNU_SOURCE
#include "fanrec.h"

#include <rampart/plugin.h>

#include <string.h>
#include <sys/fanotify.h>

/* Older headers: the values are the kernel's ABI. */
#ifndef FAN_EVENT_INFO_TYPE_PIDFD
#define FAN_EVENT_INFO_TYPE_PIDFD 4
#endif
#ifndef FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
#define FAN_EVENT_INFO_TYPE_OLD_DFID_NAME 10
#endif
#ifndef FAN_EVENT_INFO_TYPE_NEW_DFID_NAME
#define FAN_EVENT_INFO_TYPE_NEW_DFID_NAME 12
#endif

/* An info record's header, as in <linux/fanotify.h>. */
#define INFO_HDR_LEN 4u
/* header (4) + fsid (8) + struct file_handle's handle_bytes and handle_type (8) */
#define FID_FIXED_LEN 20u
/* header (4) + pidfd (4) */
#define PIDFD_LEN 8u

void cf_fanwalk_init(struct cf_fanwalk *w, const void *buf, size_t len)
{
    w->buf = buf;
    w->len = len;
    w->off = 0;
}

/* Reads one FID info record of len bytes; 0 and ref filled, or an error for
 * a malformed one (which the caller skips). */
static int parse_fid(const unsigned char *rec, uint32_t len, int with_name, struct cf_fid_ref *ref)
{
    if (len < FID_FIXED_LEN)
        return RP_ERR_PARSE;
    uint32_t hbytes;
    int32_t htype;
    memcpy(&hbytes, rec + 12, 4);
    memcpy(&htype, rec + 16, 4);
    if (hbytes > CF_FAN_HANDLE_MAX || hbytes > len - FID_FIXED_LEN)
        return RP_ERR_PARSE;
    ref->fsid = rec + 4;
    ref->handle_bytes = hbytes;
    ref->handle_type = (uint32_t)htype;
    ref->handle = rec + FID_FIXED_LEN;
    ref->name = NULL;
    if (with_name) {
        const char *name = (const char *)rec + FID_FIXED_LEN + hbytes;
        size_t room = len - FID_FIXED_LEN - hbytes;
        if (room == 0 || !memchr(name, '\0', room))
            return RP_ERR_PARSE;
        /* A name is one path component; anything else is not to be trusted. */
        if (strchr(name, '/'))
            return RP_ERR_PARSE;
        ref->name = name;
    }
    return 0;
}

/* The info records between the metadata and the record's end. base is the
 * record, event_len its checked length. */
static void parse_info(const unsigned char *base, uint32_t metadata_len, uint32_t event_len,
                       struct cf_fanrec *r)
{
    size_t off = metadata_len;
    while (off + INFO_HDR_LEN <= event_len) {
        struct fanotify_event_info_header hdr;
        memcpy(&hdr, base + off, sizeof hdr);
        if (hdr.len < sizeof hdr || hdr.len > event_len - off) {
            r->bad_info++;
            break; /* the next one cannot be found: use what came before */
        }
        const unsigned char *rec = base + off;
        switch (hdr.info_type) {
        case FAN_EVENT_INFO_TYPE_DFID_NAME:
            r->have_dfid = parse_fid(rec, hdr.len, 1, &r->dfid) == 0;
            r->bad_info += !r->have_dfid;
            break;
        case FAN_EVENT_INFO_TYPE_DFID:
            /* A name, when there is one, says more than the folder alone. */
            if (!r->have_dfid) {
                r->have_dfid = parse_fid(rec, hdr.len, 0, &r->dfid) == 0;
                r->bad_info += !r->have_dfid;
            }
            break;
        case FAN_EVENT_INFO_TYPE_FID:
            r->have_fid = parse_fid(rec, hdr.len, 0, &r->fid) == 0;
            r->bad_info += !r->have_fid;
            break;
        case FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
            r->have_old = parse_fid(rec, hdr.len, 1, &r->old_dfid) == 0;
            r->bad_info += !r->have_old;
            break;
        case FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
            r->have_new = parse_fid(rec, hdr.len, 1, &r->new_dfid) == 0;
            r->bad_info += !r->have_new;
            break;
        case FAN_EVENT_INFO_TYPE_PIDFD:
            if (hdr.len >= PIDFD_LEN) {
                memcpy(&r->pidfd, rec + INFO_HDR_LEN, sizeof r->pidfd);
                r->have_pidfd = 1;
            } else {
                r->bad_info++;
            }
            break;
        default:
            break; /* types of later kernels */
        }
        off += hdr.len;
    }
}

int cf_fanwalk_next(struct cf_fanwalk *w, struct cf_fanrec *r)
{
    if (w->off > w->len || w->len - w->off < FAN_EVENT_METADATA_LEN)
        return RP_ERR_NOTFOUND;
    struct fanotify_event_metadata m;
    memcpy(&m, w->buf + w->off, sizeof m);
    if (m.event_len < FAN_EVENT_METADATA_LEN || m.event_len > w->len - w->off ||
        m.metadata_len < FAN_EVENT_METADATA_LEN || m.metadata_len > m.event_len) {
        w->off = w->len; /* cannot find the next record: drop the rest */
        return RP_ERR_PARSE;
    }
    const unsigned char *base = w->buf + w->off;
    w->off += m.event_len;

    memset(r, 0, sizeof *r);
    r->mask = m.mask;
    r->pid = m.pid;
    r->fd = m.fd;
    r->vers = m.vers;
    r->pidfd = -1;
    if (m.vers == FANOTIFY_METADATA_VERSION)
        parse_info(base, m.metadata_len, m.event_len, r);
    return 0;
}
