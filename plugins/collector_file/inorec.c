/*
 * inorec.c - the inotify buffer parser of collector_file (see inorec.h).
 *
 * A buffer comes from the kernel, but a bug or a kernel of another version
 * must not make the plugin read past it: each header is copied out with
 * memcpy and its name length checked against what is left before the name
 * is read.
 */
#include "inorec.h"

#include <rampart/plugin.h>

#include <string.h>
#include <sys/inotify.h>

void cf_inowalk_init(struct cf_inowalk *w, const void *buf, size_t len)
{
    w->buf = buf;
    w->len = len;
    w->off = 0;
}

int cf_inowalk_next(struct cf_inowalk *w, struct cf_inorec *r)
{
    struct inotify_event ie;
    if (w->off > w->len || w->len - w->off < sizeof ie)
        return RP_ERR_NOTFOUND;
    memcpy(&ie, w->buf + w->off, sizeof ie);
    if (ie.len > w->len - w->off - sizeof ie) {
        w->off = w->len;
        return RP_ERR_PARSE;
    }
    const char *name = (const char *)w->buf + w->off + sizeof ie;
    w->off += sizeof ie + ie.len;
    if (ie.len && !memchr(name, '\0', ie.len))
        return RP_ERR_INVAL;
    /* A name is one path component (joined to the watch's folder); anything
     * else is not to be trusted. */
    if (ie.len && strchr(name, '/'))
        return RP_ERR_INVAL;
    r->wd = ie.wd;
    r->mask = ie.mask;
    r->cookie = ie.cookie;
    r->name = ie.len ? name : "";
    return 0;
}
