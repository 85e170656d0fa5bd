/* core/lib/secrets.c - secret values kept out of what the agent prints. */
#include "lib/secrets.h"
#include "os/os_secret.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static rp__os_static_mutex lock = RP__OS_STATIC_MUTEX_INIT;
static char *values[RP__SECRETS_MAX];
static size_t lens[RP__SECRETS_MAX];
static atomic_size_t count; /* read without the lock: 0 means nothing to do */

int rp__secrets_add(const char *value, size_t len)
{
    if (!value || len < RP__SECRET_MIN_LEN)
        return RP_ERR_INVAL;
    if (len > RP__SECRET_MAX_LEN)
        return RP_ERR_RANGE;
    int rc = 0;
    rp__os_static_mutex_lock(&lock);
    size_t n = atomic_load(&count);
    for (size_t i = 0; i < n; i++)
        if (lens[i] == len && memcmp(values[i], value, len) == 0)
            goto out;
    if (n == RP__SECRETS_MAX) {
        rc = RP_ERR_FULL;
        goto out;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        rc = RP_ERR_NOMEM;
        goto out;
    }
    memcpy(copy, value, len);
    copy[len] = '\0';
    values[n] = copy;
    lens[n] = len;
    atomic_store(&count, n + 1);
out:
    rp__os_static_mutex_unlock(&lock);
    return rc;
}

void rp__secrets_clear(void)
{
    rp__os_static_mutex_lock(&lock);
    size_t n = atomic_load(&count);
    atomic_store(&count, 0);
    for (size_t i = 0; i < n; i++) {
        rp__os_secret_wipe(values[i], lens[i]);
        free(values[i]);
        values[i] = NULL;
    }
    rp__os_static_mutex_unlock(&lock);
}

/* Replaces value i everywhere in buf; the lock is held. */
static size_t scrub_one(char *buf, size_t cap, size_t i)
{
    static const char red[] = RP__REDACTED;
    const size_t rlen = sizeof red - 1;
    size_t done = 0, at = 0;
    for (;;) {
        char *hit = strstr(buf + at, values[i]);
        if (!hit)
            return done;
        size_t pos = (size_t)(hit - buf), len = strlen(buf);
        size_t tail = len - pos - lens[i]; /* bytes after the value */
        /* Move the tail to its new place (cut at the end of buf), then write
         * the marker, itself cut if it does not fit. */
        size_t tail_to = pos + rlen;
        if (tail_to < cap - 1) {
            size_t keep = tail_to + tail < cap - 1 ? tail : cap - 1 - tail_to;
            memmove(buf + tail_to, hit + lens[i], keep);
            buf[tail_to + keep] = '\0';
        } else {
            buf[cap - 1] = '\0';
        }
        size_t put = pos + rlen < cap - 1 ? rlen : cap - 1 - pos;
        memcpy(buf + pos, red, put);
        if (pos + put >= cap - 1)
            buf[cap - 1] = '\0';
        done++;
        at = pos + put;
        if (at >= strlen(buf))
            return done;
    }
}

size_t rp__secrets_scrub(char *buf, size_t cap)
{
    if (!buf || cap == 0 || atomic_load(&count) == 0)
        return 0;
    size_t done = 0;
    rp__os_static_mutex_lock(&lock);
    size_t n = atomic_load(&count);
    for (size_t i = 0; i < n; i++)
        done += scrub_one(buf, cap, i);
    rp__os_static_mutex_unlock(&lock);
    return done;
}

static int holds_secret(const char *s)
{
    int found = 0;
    rp__os_static_mutex_lock(&lock);
    size_t n = atomic_load(&count);
    for (size_t i = 0; i < n && !found; i++)
        found = strstr(s, values[i]) != NULL;
    rp__os_static_mutex_unlock(&lock);
    return found;
}

/* A string value with every secret replaced: a new string, or NULL when it
 * holds none (or on no memory, when it is replaced by the marker alone). */
static json_t *scrubbed(const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || !holds_secret(s))
        return NULL;
    /* Each replacement grows the text by at most the marker's length. */
    size_t len = json_string_length(v);
    size_t cap = len + 1 + (len / RP__SECRET_MIN_LEN + 1) * (sizeof RP__REDACTED);
    char *buf = malloc(cap);
    if (!buf)
        return json_string(RP__REDACTED);
    memcpy(buf, s, len + 1);
    rp__secrets_scrub(buf, cap);
    json_t *out = json_string(buf);
    rp__os_secret_wipe(buf, cap);
    free(buf);
    return out ? out : json_string(RP__REDACTED);
}

size_t rp__secrets_scrub_json(json_t *doc)
{
    size_t done = 0;
    if (!doc || atomic_load(&count) == 0)
        return 0;
    if (json_is_object(doc)) {
        const char *key;
        json_t *v;
        json_object_foreach(doc, key, v)
        {
            json_t *s = scrubbed(v);
            if (s) {
                json_object_set_new(doc, key, s);
                done++;
            } else {
                done += rp__secrets_scrub_json(v);
            }
        }
    } else if (json_is_array(doc)) {
        size_t i;
        json_t *v;
        json_array_foreach(doc, i, v)
        {
            json_t *s = scrubbed(v);
            if (s) {
                json_array_set_new(doc, i, s);
                done++;
            } else {
                done += rp__secrets_scrub_json(v);
            }
        }
    }
    return done;
}

int rp__secrets_url_userinfo(const char *url, size_t *off, size_t *len)
{
    const char *sep = url ? strstr(url, "://") : NULL;
    if (!sep)
        return RP_ERR_NOTFOUND;
    const char *auth = sep + 3;
    size_t end = strcspn(auth, "/?#"); /* the authority: [userinfo@]host[:port] */
    const char *at = NULL;
    for (size_t i = 0; i < end; i++)
        if (auth[i] == '@')
            at = auth + i; /* the last one: a password may hold '@' */
    if (!at)
        return RP_ERR_NOTFOUND;
    *off = (size_t)(auth - url);
    *len = (size_t)(at - auth);
    return 0;
}
