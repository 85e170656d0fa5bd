/* core/lib/schema.c - a strict JSON Schema subset with error messages for people. */
#include "lib/schema.h"
#include "lib/secrets.h"
#include "os/os.h"

#include <rampart/plugin.h>

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vctx {
    rp__schema_error *err;
    struct rp__json_seg seg[RP__SCHEMA_MAX_DEPTH];
    int depth;
    /* Set by rp__schema_validate_all: every document error is handed to
     * report and validation goes on with the next value; NULL stops at the
     * first. */
    rp__schema_report_fn report;
    void *report_arg;
    unsigned reported;
    int in_key; /* validating a key against propertyNames */
    int secret; /* inside a value its schema marks "secret": never echoed */
} vctx;

static const char *const known_keywords[] = {
    "type",      "enum",      "properties", "required",      "additionalProperties",
    "items",     "minItems",  "maxItems",   "minimum",       "maximum",
    "minLength", "maxLength", "format",     "propertyNames", "description",
    "default",   "title",     "examples",   "$comment",      "pattern",
    "secret",    NULL,
};

static const char *const type_names[] = {"object", "array",   "string", "integer",
                                         "number", "boolean", "null",   NULL};

int rp__schema_is_name(const char *s)
{
    if (!s || !*s || s[0] == '.' || s[0] == '-')
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || c == '.';
        if (!ok || (c == '.' && p[1] == '.'))
            return 0;
    }
    return 1;
}

static int is_plain_key(const char *k)
{
    if (!*k)
        return 0;
    for (; *k; k++) {
        char c = *k;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '@'))
            return 0;
    }
    return 1;
}

/* Appends printf output at *pos without overflowing; the result stays terminated. */
#if defined(__GNUC__)
static void appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#endif

static void appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
    if (*pos >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    *pos += (size_t)n;
    if (*pos >= len)
        *pos = len - 1;
}

/* Escapes a string for a message: quotes, backslashes and control or
 * non-ASCII bytes shown as \xNN, cut after max bytes of input. */
static void append_escaped(char *buf, size_t len, size_t *pos, const char *s, size_t slen,
                           size_t max)
{
    appendf(buf, len, pos, "\"");
    for (size_t i = 0; i < slen && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            appendf(buf, len, pos, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            appendf(buf, len, pos, "\\x%02x", c);
        else
            appendf(buf, len, pos, "%c", c);
    }
    appendf(buf, len, pos, slen > max ? "\"..." : "\"");
}

/* The JSON Schema name of the type of v. */
static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

void rp__json_describe(const json_t *v, char *buf, size_t len)
{
    size_t pos = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    switch (json_typeof(v)) {
    case JSON_STRING:
        appendf(buf, len, &pos, "string ");
        append_escaped(buf, len, &pos, json_string_value(v), json_string_length(v), 40);
        break;
    case JSON_INTEGER:
        appendf(buf, len, &pos, "integer %" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        appendf(buf, len, &pos, "number %g", json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        appendf(buf, len, &pos, "boolean %s", json_is_true(v) ? "true" : "false");
        break;
    default: /* null, an object or an array: the type says it */
        appendf(buf, len, &pos, "%s", type_of(v));
        break;
    }
}

void rp__json_path_format(const struct rp__json_seg *segv, int depth, char *buf, size_t len)
{
    size_t pos = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    for (int i = 0; i < depth; i++) {
        if (!segv[i].key) {
            appendf(buf, len, &pos, "[%zu]", segv[i].index);
        } else if (is_plain_key(segv[i].key)) {
            appendf(buf, len, &pos, "%s%s", i ? "." : "", segv[i].key);
        } else {
            appendf(buf, len, &pos, "[");
            append_escaped(buf, len, &pos, segv[i].key, strlen(segv[i].key), 64);
            appendf(buf, len, &pos, "]");
        }
    }
}

int rp__json_layer_mentions(const json_t *layer, const struct rp__json_seg *segv, int depth)
{
    const json_t *v = layer;
    for (int i = 0; i < depth; i++) {
        /* A layer that sets a parent to a non-object replaces everything below. */
        if (!json_is_object(v))
            return v != NULL && i > 0;
        if (!segv[i].key)
            return 1;
        v = json_object_get(v, segv[i].key);
        if (!v)
            return 0;
    }
    return v != NULL;
}

static int fail(vctx *c, int broken, const char *fmt, ...)
{
    rp__schema_error *e = c->err;
    size_t off = 0;
    if (c->in_key && !broken)
        off = (size_t)snprintf(e->message, sizeof e->message, "invalid key: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message + off, sizeof e->message - off, fmt, ap);
    va_end(ap);
    rp__json_path_format(c->seg, c->depth, e->path, sizeof e->path);
    memcpy(e->segv, c->seg, sizeof(c->seg[0]) * (size_t)c->depth);
    e->depth = c->depth;
    e->schema_is_broken = broken;
    if (broken)
        return RP_ERR_INVAL;
    if (c->report) {
        c->report(c->report_arg, e);
        /* Past the cap the first-error mode takes over: validation unwinds. */
        if (++c->reported >= RP__SCHEMA_MAX_ERRORS)
            c->report = NULL;
    }
    return RP_ERR_CONFIG;
}

/* After a child failed with rc: true when validation goes on with the next
 * value (collecting every error), false when rc must be returned. */
static int keep_going(const vctx *c, int rc)
{
    return rc == RP_ERR_CONFIG && c->report != NULL;
}

static int push(vctx *c, const char *key, size_t index)
{
    if (c->depth >= RP__SCHEMA_MAX_DEPTH)
        return fail(c, 0, "nesting deeper than %d levels", RP__SCHEMA_MAX_DEPTH);
    c->seg[c->depth].key = key;
    c->seg[c->depth].index = index;
    c->depth++;
    return 0;
}

static int type_matches(const char *want, const json_t *v)
{
    if (strcmp(want, "number") == 0)
        return json_is_number(v);
    return strcmp(want, type_of(v)) == 0;
}

size_t rp__edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int validate(vctx *c, const json_t *schema, const json_t *v);

/* 1 if the string (n bytes) matches the POSIX extended regular expression,
 * 0 if not (a string holding NUL bytes never does), -1 if the expression does
 * not compile. Like JSON Schema, the pattern is not anchored by itself. */
static int pattern_match(const char *pattern, const char *s, size_t n)
{
    regex_t re;
    if (!pattern || strlen(pattern) > RP__SCHEMA_PATTERN_MAX ||
        regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return -1;
    int m = strlen(s) == n && regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return m;
}

static int unknown_key(vctx *c, const json_t *props, const char *key)
{
    char allowed[384];
    size_t pos = 0;
    const char *name, *best = NULL;
    size_t best_d = 3;
    json_t *sub;
    allowed[0] = '\0';
    if (props)
        json_object_foreach((json_t *)props, name, sub)
        {
            (void)sub;
            appendf(allowed, sizeof allowed, &pos, "%s%s", pos ? ", " : "", name);
            size_t d = rp__edit_distance(key, name);
            if (d < best_d && strlen(name) > 2) {
                best_d = d;
                best = name;
            }
        }
    if (best)
        return fail(c, 0, "unknown key; did you mean \"%s\"? (allowed: %s)", best, allowed);
    if (pos == 0)
        return fail(c, 0, "unknown key (no keys are allowed here)");
    return fail(c, 0, "unknown key (allowed: %s)", allowed);
}

static int validate_object(vctx *c, const json_t *schema, const json_t *v)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *extra = json_object_get(schema, "additionalProperties");
    const json_t *names = json_object_get(schema, "propertyNames");
    const json_t *required = json_object_get(schema, "required");
    const char *key;
    json_t *val;
    int rc, bad = 0, depth0 = c->depth;

    json_object_foreach((json_t *)v, key, val)
    {
        if ((rc = push(c, key, 0)) != 0) {
            if (!keep_going(c, rc))
                return rc;
            bad = 1;
            continue;
        }
        if (names) {
            json_t *kstr = json_string(key);
            if (!kstr)
                return RP_ERR_NOMEM;
            /* Say that the key, not a value, is wrong. */
            c->in_key = 1;
            rc = validate(c, names, kstr);
            c->in_key = 0;
            json_decref(kstr);
            if (rc != 0) {
                if (!keep_going(c, rc))
                    return rc;
                /* The value under a refused key is not looked at. */
                bad = 1;
                c->depth = depth0;
                continue;
            }
        }
        const json_t *sub = props ? json_object_get(props, key) : NULL;
        if (sub)
            rc = validate(c, sub, val);
        else if (json_is_false(extra))
            rc = unknown_key(c, props, key);
        else if (json_is_object(extra))
            rc = validate(c, extra, val);
        else
            rc = 0;
        if (rc != 0) {
            if (!keep_going(c, rc))
                return rc;
            bad = 1;
        }
        c->depth = depth0;
    }
    if (json_is_array(required)) {
        size_t i;
        json_t *r;
        json_array_foreach(required, i, r)
        {
            const char *name = json_string_value(r);
            if (!name)
                return fail(c, 1, "schema: \"required\" must list strings");
            if (!json_object_get(v, name)) {
                if ((rc = push(c, name, 0)) == 0)
                    rc = fail(c, 0, "required key missing");
                if (!keep_going(c, rc))
                    return rc;
                bad = 1;
                c->depth = depth0;
            }
        }
    }
    return bad ? RP_ERR_CONFIG : 0;
}

/* What a schema's "secret" says: 0 not secret, 1 the whole value, 2 the
 * user information of a URL. */
static int secret_kind(const json_t *schema)
{
    const json_t *s = json_is_object(schema) ? json_object_get(schema, "secret") : NULL;
    if (json_is_true(s))
        return 1;
    if (json_is_string(s) && strcmp(json_string_value(s), "userinfo") == 0)
        return 2;
    return 0;
}

/* rp__json_describe, but a secret value is shown by its type alone. */
static void describe(const vctx *c, const json_t *v, char *buf, size_t len)
{
    if (c->secret && len)
        snprintf(buf, len, "%s " RP__REDACTED, type_of(v));
    else
        rp__json_describe(v, buf, len);
}

static int validate_value(vctx *c, const json_t *schema, const json_t *v);

static int validate(vctx *c, const json_t *schema, const json_t *v)
{
    int secret = secret_kind(schema) != 0;
    c->secret += secret;
    int rc = validate_value(c, schema, v);
    c->secret -= secret;
    return rc;
}

static int validate_value(vctx *c, const json_t *schema, const json_t *v)
{
    char got[96];
    int rc;

    if (json_is_true(schema))
        return 0;
    if (json_is_false(schema)) {
        describe(c, v, got, sizeof got);
        return fail(c, 0, "no value is allowed here, got %s", got);
    }
    if (!json_is_object(schema))
        return fail(c, 1, "schema: expected an object or a boolean");

    const json_t *type = json_object_get(schema, "type");
    if (type) {
        int ok = 0;
        char want[128];
        size_t pos = 0;
        want[0] = '\0';
        if (json_is_string(type)) {
            ok = type_matches(json_string_value(type), v);
            appendf(want, sizeof want, &pos, "%s", json_string_value(type));
        } else if (json_is_array(type)) {
            size_t i, n = json_array_size(type);
            for (i = 0; i < n; i++) {
                const char *t = json_string_value(json_array_get(type, i));
                if (!t)
                    return fail(c, 1, "schema: \"type\" must name types");
                ok |= type_matches(t, v);
                appendf(want, sizeof want, &pos, "%s%s", i == 0 ? "" : (i + 1 == n ? " or " : ", "),
                        t);
            }
        } else {
            return fail(c, 1, "schema: \"type\" must be a string or an array");
        }
        if (!ok) {
            describe(c, v, got, sizeof got);
            return fail(c, 0, "expected %s, got %s", want, got);
        }
    }

    const json_t *en = json_object_get(schema, "enum");
    if (json_is_array(en)) {
        size_t i;
        json_t *item;
        int found = 0;
        json_array_foreach(en, i, item) found |= json_equal((json_t *)item, (json_t *)v);
        if (!found) {
            char list[256];
            size_t pos = 0;
            list[0] = '\0';
            json_array_foreach(en, i, item)
            {
                char *s = json_dumps(item, JSON_ENCODE_ANY | JSON_COMPACT);
                appendf(list, sizeof list, &pos, "%s%s", i ? ", " : "", s ? s : "?");
                free(s);
            }
            describe(c, v, got, sizeof got);
            return fail(c, 0, "expected one of %s, got %s", list, got);
        }
    }

    if (json_is_object(v))
        return validate_object(c, schema, v);

    if (json_is_array(v)) {
        const json_t *items = json_object_get(schema, "items");
        const json_t *lo = json_object_get(schema, "minItems");
        const json_t *hi = json_object_get(schema, "maxItems");
        size_t n = json_array_size(v);
        if (lo && (json_int_t)n < json_integer_value(lo))
            return fail(c, 0, "expected at least %" JSON_INTEGER_FORMAT " item(s), got %zu",
                        json_integer_value(lo), n);
        if (hi && (json_int_t)n > json_integer_value(hi))
            return fail(c, 0, "expected at most %" JSON_INTEGER_FORMAT " item(s), got %zu",
                        json_integer_value(hi), n);
        int bad = 0, depth0 = c->depth;
        for (size_t i = 0; items && i < n; i++) {
            if ((rc = push(c, NULL, i)) == 0)
                rc = validate(c, items, json_array_get(v, i));
            if (rc != 0) {
                if (!keep_going(c, rc))
                    return rc;
                bad = 1;
            }
            c->depth = depth0;
        }
        return bad ? RP_ERR_CONFIG : 0;
    }

    if (json_is_string(v)) {
        const json_t *lo = json_object_get(schema, "minLength");
        const json_t *hi = json_object_get(schema, "maxLength");
        const char *fmt = json_string_value(json_object_get(schema, "format"));
        size_t n = json_string_length(v);
        describe(c, v, got, sizeof got);
        if (lo && (json_int_t)n < json_integer_value(lo))
            return fail(c, 0,
                        "expected a string of at least %" JSON_INTEGER_FORMAT " byte(s), got %s",
                        json_integer_value(lo), got);
        if (hi && (json_int_t)n > json_integer_value(hi))
            return fail(c, 0, "expected a string of at most %" JSON_INTEGER_FORMAT " bytes, got %s",
                        json_integer_value(hi), got);
        if (fmt && strcmp(fmt, "name") == 0 &&
            (strlen(json_string_value(v)) != n || !rp__schema_is_name(json_string_value(v))))
            return fail(c, 0,
                        "expected a name of letters, digits, '_', '-' and '.' that does not "
                        "start with '.' or '-' and has no \"..\", got %s",
                        got);
        if (fmt && strcmp(fmt, "absolute-path") == 0 &&
            (strlen(json_string_value(v)) != n || !rp__os_path_is_absolute(json_string_value(v))))
            return fail(c, 0, "expected an absolute path, got %s", got);
        const json_t *pattern = json_object_get(schema, "pattern");
        if (pattern) {
            int m = pattern_match(json_string_value(pattern), json_string_value(v), n);
            if (m < 0)
                return fail(c, 1,
                            "schema: \"pattern\" is not a POSIX extended regular "
                            "expression");
            if (m == 0) {
                char shown[96];
                size_t pos = 0;
                shown[0] = '\0';
                append_escaped(shown, sizeof shown, &pos, json_string_value(pattern),
                               json_string_length(pattern), 64);
                return fail(c, 0, "expected a string matching the pattern %s, got %s", shown, got);
            }
        }
        return 0;
    }

    if (json_is_number(v)) {
        const json_t *lo = json_object_get(schema, "minimum");
        const json_t *hi = json_object_get(schema, "maximum");
        double x = json_number_value(v);
        describe(c, v, got, sizeof got);
        if (lo && x < json_number_value(lo))
            return fail(c, 0, "expected a number >= %g, got %s", json_number_value(lo), got);
        if (hi && x > json_number_value(hi))
            return fail(c, 0, "expected a number <= %g, got %s", json_number_value(hi), got);
    }
    return 0;
}

static int check(vctx *c, const json_t *schema, int level)
{
    if (level > RP__SCHEMA_MAX_DEPTH)
        return fail(c, 1, "schema: nested deeper than %d levels", RP__SCHEMA_MAX_DEPTH);
    if (json_is_boolean(schema))
        return 0;
    if (!json_is_object(schema))
        return fail(c, 1, "schema: expected an object or a boolean");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)schema, key, val)
    {
        int known = 0;
        for (int i = 0; known_keywords[i]; i++)
            known |= strcmp(known_keywords[i], key) == 0;
        if (!known)
            return fail(c, 1, "schema: unknown keyword \"%s\"", key);
        int rc = 0;
        if (strcmp(key, "type") == 0) {
            int ok = json_is_string(val) || json_is_array(val);
            size_t i;
            json_t *t;
            if (json_is_string(val)) {
                ok = 0;
                for (int k = 0; type_names[k]; k++)
                    ok |= strcmp(type_names[k], json_string_value(val)) == 0;
            }
            if (json_is_array(val)) {
                json_array_foreach(val, i, t)
                {
                    int one = 0;
                    for (int k = 0; json_is_string(t) && type_names[k]; k++)
                        one |= strcmp(type_names[k], json_string_value(t)) == 0;
                    ok &= one;
                }
            }
            if (!ok)
                return fail(c, 1,
                            "schema: \"type\" must be one of object, array, string, "
                            "integer, number, boolean, null (or an array of them)");
        } else if (strcmp(key, "properties") == 0) {
            const char *pk;
            json_t *sub;
            if (!json_is_object(val))
                return fail(c, 1, "schema: \"properties\" must be an object");
            json_object_foreach(val, pk, sub) if ((rc = check(c, sub, level + 1)) != 0) return rc;
        } else if (strcmp(key, "additionalProperties") == 0 || strcmp(key, "items") == 0 ||
                   strcmp(key, "propertyNames") == 0) {
            rc = check(c, val, level + 1);
        } else if (strcmp(key, "required") == 0 || strcmp(key, "enum") == 0) {
            size_t i;
            json_t *r;
            if (!json_is_array(val))
                return fail(c, 1, "schema: \"%s\" must be an array", key);
            if (key[0] == 'r')
                json_array_foreach(val, i, r) if (!json_is_string(r)) return fail(
                    c, 1, "schema: \"required\" must list strings");
        } else if (strcmp(key, "minimum") == 0 || strcmp(key, "maximum") == 0) {
            if (!json_is_number(val))
                return fail(c, 1, "schema: \"%s\" must be a number", key);
        } else if (strncmp(key, "min", 3) == 0 || strncmp(key, "max", 3) == 0) {
            if (!json_is_integer(val) || json_integer_value(val) < 0)
                return fail(c, 1, "schema: \"%s\" must be a non-negative integer", key);
        } else if (strcmp(key, "format") == 0) {
            if (!json_is_string(val) || (strcmp(json_string_value(val), "name") != 0 &&
                                         strcmp(json_string_value(val), "absolute-path") != 0))
                return fail(c, 1,
                            "schema: \"format\" supports only \"name\" and "
                            "\"absolute-path\"");
        } else if (strcmp(key, "secret") == 0) {
            if (!json_is_boolean(val) &&
                !(json_is_string(val) && strcmp(json_string_value(val), "userinfo") == 0))
                return fail(c, 1, "schema: \"secret\" must be true, false or \"userinfo\"");
        } else if (strcmp(key, "pattern") == 0) {
            if (!json_is_string(val) || pattern_match(json_string_value(val), "", 0) < 0)
                return fail(c, 1,
                            "schema: \"pattern\" must be a POSIX extended regular expression "
                            "of at most %d bytes",
                            RP__SCHEMA_PATTERN_MAX);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

int rp__schema_check(const json_t *schema, rp__schema_error *err)
{
    vctx c = {.err = err, .depth = 0};
    memset(err, 0, sizeof *err);
    return check(&c, schema, 0);
}

int rp__schema_validate(const json_t *schema, const json_t *doc, rp__schema_error *err)
{
    vctx c = {.err = err, .depth = 0};
    memset(err, 0, sizeof *err);
    return validate(&c, schema, doc);
}

int rp__schema_validate_all(const json_t *schema, const json_t *doc, rp__schema_report_fn report,
                            void *arg, rp__schema_error *err)
{
    vctx c = {.err = err, .depth = 0, .report = report, .report_arg = arg};
    memset(err, 0, sizeof *err);
    int rc = validate(&c, schema, doc);
    return rc == 0 && c.reported ? RP_ERR_CONFIG : rc;
}

/* Replaces one secret string (kind 1: all of it, 2: a URL's user
 * information) and tells found what it held. */
static void redact_string(json_t *parent, const char *key, size_t index, const json_t *v, int kind,
                          rp__schema_secret_fn found, void *arg)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v), off = 0, ulen = len;
    if (!s || len == 0)
        return; /* nothing set: "" says so and hides nothing */
    if (kind == 2 && rp__secrets_url_userinfo(s, &off, &ulen) != 0)
        return;
    if (found)
        found(arg, s + off, ulen);
    if (!parent)
        return;
    json_t *r;
    if (kind == 2) {
        size_t n = len - ulen + sizeof RP__REDACTED;
        char *buf = malloc(n);
        if (!buf)
            return;
        snprintf(buf, n, "%.*s" RP__REDACTED "%s", (int)off, s, s + off + ulen);
        r = json_string(buf);
        free(buf);
    } else {
        r = json_string(RP__REDACTED);
    }
    if (!r)
        return;
    if (key)
        json_object_set_new(parent, key, r);
    else
        json_array_set_new(parent, index, r);
}

static void redact(const json_t *schema, json_t *parent, const char *key, size_t index, json_t *v,
                   int kind, rp__schema_secret_fn found, void *arg, int level)
{
    if (level > RP__SCHEMA_MAX_DEPTH || !v)
        return;
    if (!kind)
        kind = secret_kind(schema);
    if (json_is_string(v)) {
        if (kind)
            redact_string(parent, key, index, v, kind, found, arg);
        return;
    }
    const json_t *sch = json_is_object(schema) ? schema : NULL;
    if (json_is_object(v)) {
        const json_t *props = json_object_get(sch, "properties");
        const json_t *extra = json_object_get(sch, "additionalProperties");
        const char *k;
        json_t *sub;
        json_object_foreach(v, k, sub)
        {
            const json_t *ss = json_object_get(props, k);
            redact(ss ? ss : extra, parent ? v : NULL, k, 0, sub, kind, found, arg, level + 1);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *sub;
        json_array_foreach(v, i, sub)
        {
            redact(json_object_get(sch, "items"), parent ? v : NULL, NULL, i, sub, kind, found, arg,
                   level + 1);
        }
    }
}

void rp__schema_redact(const json_t *schema, json_t *doc, int replace, rp__schema_secret_fn found,
                       void *arg)
{
    /* The top level itself is never replaced, only what it holds. */
    static json_t *const no_parent = NULL;
    if (!json_is_object(doc) && !json_is_array(doc))
        return;
    const char *k;
    json_t *sub;
    const json_t *sch = json_is_object(schema) ? schema : NULL;
    int kind = secret_kind(schema);
    if (json_is_object(doc)) {
        const json_t *props = json_object_get(sch, "properties");
        const json_t *extra = json_object_get(sch, "additionalProperties");
        json_object_foreach(doc, k, sub)
        {
            const json_t *ss = json_object_get(props, k);
            redact(ss ? ss : extra, replace ? doc : no_parent, k, 0, sub, kind, found, arg, 1);
        }
    } else {
        size_t i;
        json_array_foreach(doc, i, sub)
        {
            redact(json_object_get(sch, "items"), replace ? doc : no_parent, NULL, i, sub, kind,
                   found, arg, 1);
        }
    }
}
