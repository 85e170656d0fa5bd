/* tools/rampartctl/rules_events.c - NDJSON lines and the event view of
 * `rampartctl rules test` (rules_events.h). */
#include "rules_events.h"

#include <rampart/plugin.h>

#include <stdlib.h>
#include <string.h>

#define CHUNK 65536u

int rp__ctl_lines_init(rp__ctl_lines *r, FILE *f)
{
    memset(r, 0, sizeof *r);
    r->f = f;
    r->line = malloc(RP__CTL_LINE_MAX + 1);
    r->chunk = malloc(CHUNK);
    if (!r->line || !r->chunk) {
        rp__ctl_lines_free(r);
        return RP_ERR_NOMEM;
    }
    return 0;
}

void rp__ctl_lines_free(rp__ctl_lines *r)
{
    free(r->line);
    free(r->chunk);
    r->line = r->chunk = NULL;
}

int rp__ctl_lines_next(rp__ctl_lines *r, char **line, size_t *len)
{
    size_t n = 0;
    int started = 0, too_long = 0;
    for (;;) {
        if (r->pos == r->end) {
            if (r->eof)
                break;
            size_t got = fread(r->chunk, 1, CHUNK, r->f);
            if (got == 0) {
                if (ferror(r->f))
                    return RP_ERR_IO;
                r->eof = 1;
                continue;
            }
            r->pos = 0;
            r->end = got;
        }
        started = 1;
        const char *p = r->chunk + r->pos;
        const char *nl = memchr(p, '\n', r->end - r->pos);
        size_t take = nl ? (size_t)(nl - p) : r->end - r->pos;
        /* The rest of a line past the cap is read and dropped, so that the
         * next line starts where it should. */
        if (!too_long && n + take > RP__CTL_LINE_MAX)
            too_long = 1;
        if (!too_long)
            memcpy(r->line + n, p, take);
        n += take;
        r->pos += take;
        if (nl) {
            r->pos++;
            break;
        }
    }
    if (!started)
        return 0;
    r->lineno++;
    if (too_long)
        return RP_ERR_RANGE;
    if (n && r->line[n - 1] == '\r')
        n--;
    r->line[n] = '\0';
    *line = r->line;
    *len = n;
    return 1;
}

json_t *rp__ctl_json_lookup(const json_t *obj, const char *name, size_t len)
{
    if (!json_is_object(obj))
        return NULL;
    json_t *v = json_object_getn(obj, name, len);
    if (v)
        return v;
    /* Each dot splits the name once; every split shortens what is left, so
     * the depth is bounded by the name's dots. */
    for (size_t i = 0; i < len; i++) {
        if (name[i] != '.')
            continue;
        json_t *sub = json_object_getn(obj, name, i);
        if (json_is_object(sub)) {
            v = rp__ctl_json_lookup(sub, name + i + 1, len - i - 1);
            if (v)
                return v;
        }
    }
    return NULL;
}

int rp__ctl_event_init(rp__ctl_event *e, const char *const *slots, uint32_t nslots)
{
    memset(e, 0, sizeof *e);
    e->slots = slots;
    e->nslots = nslots;
    if (nslots) {
        e->text = calloc(nslots, sizeof *e->text);
        e->text_cap = calloc(nslots, sizeof *e->text_cap);
        if (!e->text || !e->text_cap) {
            rp__ctl_event_free(e);
            return RP_ERR_NOMEM;
        }
    }
    return 0;
}

void rp__ctl_event_free(rp__ctl_event *e)
{
    for (uint32_t i = 0; e->text && i < e->nslots; i++)
        free(e->text[i]);
    free(e->text);
    free(e->text_cap);
    free(e->strs);
    free(e->lens);
    memset(e, 0, sizeof *e);
}

static int event_get(void *ctx, uint32_t slot, const char **value, size_t *len)
{
    return rp__ctl_event_get(ctx, slot, value, len);
}

static int event_string_at(void *ctx, uint32_t i, const char **value, size_t *len)
{
    return rp__ctl_event_string_at(ctx, i, value, len);
}

void rp__ctl_event_set(rp__ctl_event *e, const json_t *doc, struct ds_view *view)
{
    e->doc = doc;
    e->nstrs = 0;
    e->strs_ready = 0;
    view->get = event_get;
    view->string_at = event_string_at;
    view->ctx = e;
}

/* A growing text buffer of one slot. */
struct text {
    char **p;
    size_t *cap;
    size_t len;
    int failed;
};

static void text_add(struct text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > *t->cap) {
        size_t cap = *t->cap ? *t->cap : 64;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(*t->p, cap);
        if (!p) {
            t->failed = 1;
            return;
        }
        *t->p = p;
        *t->cap = cap;
    }
    memcpy(*t->p + t->len, s, n);
    t->len += n;
    (*t->p)[t->len] = '\0';
}

/* A number or boolean as text into buf; 0 when v is neither. */
static size_t scalar_text(const json_t *v, char *buf, size_t cap)
{
    int w = -1;
    if (json_is_integer(v)) {
        w = snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        /* The shortest of 15 or 17 digits that reads back as the same
         * number: 0.1 stays "0.1". */
        double d = json_real_value(v);
        w = snprintf(buf, cap, "%.15g", d);
        if (w > 0 && strtod(buf, NULL) != d)
            w = snprintf(buf, cap, "%.17g", d);
    } else if (json_is_boolean(v)) {
        w = snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
    }
    return w > 0 && (size_t)w < cap ? (size_t)w : 0;
}

int rp__ctl_event_get(void *ctx, uint32_t slot, const char **value, size_t *len)
{
    rp__ctl_event *e = ctx;
    if (slot >= e->nslots || !e->slots[slot])
        return 0;
    const char *name = e->slots[slot];
    const json_t *v = rp__ctl_json_lookup(e->doc, name, strlen(name));
    if (!v)
        return 0;
    if (json_is_string(v)) {
        *value = json_string_value(v);
        *len = json_string_length(v);
        return 1;
    }
    struct text t = {.p = &e->text[slot], .cap = &e->text_cap[slot]};
    char num[64];
    if (json_is_array(v)) {
        size_t n = json_array_size(v), parts = 0;
        for (size_t k = 0; k < n; k++) {
            const json_t *item = json_array_get(v, k);
            const char *s = num;
            size_t sl;
            if (json_is_string(item)) {
                s = json_string_value(item);
                sl = json_string_length(item);
            } else if (!(sl = scalar_text(item, num, sizeof num))) {
                continue; /* null, objects and nested arrays have no text here */
            }
            if (parts++)
                text_add(&t, " ", 1);
            text_add(&t, s, sl);
        }
        if (!parts)
            text_add(&t, "", 0);
    } else {
        size_t sl = scalar_text(v, num, sizeof num);
        if (!sl)
            return 0; /* null or an object */
        text_add(&t, num, sl);
    }
    if (t.failed)
        return 0;
    *value = *t.p;
    *len = t.len;
    return 1;
}

static void gather(rp__ctl_event *e, const json_t *v, unsigned depth)
{
    if (depth > RP__CTL_NEST_MAX)
        return;
    if (json_is_string(v)) {
        if (e->nstrs == e->cap_strs) {
            if (e->cap_strs >= RP__CTL_STRINGS_MAX)
                return;
            uint32_t cap = e->cap_strs ? e->cap_strs * 2 : 64;
            const char **s = realloc(e->strs, cap * sizeof *s);
            if (s)
                e->strs = s;
            size_t *l = realloc(e->lens, cap * sizeof *l);
            if (l)
                e->lens = l;
            if (!s || !l)
                return;
            e->cap_strs = cap;
        }
        e->strs[e->nstrs] = json_string_value(v);
        e->lens[e->nstrs] = json_string_length(v);
        e->nstrs++;
    } else if (json_is_object(v)) {
        const char *key;
        json_t *m;
        json_object_foreach((json_t *)v, key, m)
        {
            gather(e, m, depth + 1);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            gather(e, m, depth + 1);
        }
    }
}

int rp__ctl_event_string_at(void *ctx, uint32_t i, const char **value, size_t *len)
{
    rp__ctl_event *e = ctx;
    if (!e->strs_ready) {
        e->nstrs = 0;
        gather(e, e->doc, 0);
        e->strs_ready = 1;
    }
    if (i >= e->nstrs)
        return 0;
    *value = e->strs[i];
    *len = e->lens[i];
    return 1;
}
