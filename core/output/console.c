/* core/output/console.c - the one-line text form of an event for the console. */
#include "output/console.h"
#include "runtime/event.h"
#include "runtime/fields.h"
#include "runtime/topic.h"

#include <stdio.h>
#include <string.h>

/* Fields left off the console line: the event's bookkeeping and the agent's
 * identity, which are the same on every line of one machine's console. */
static int hidden(const char *name, size_t len)
{
    static const char *const names[] = {
        "@timestamp",    "event.id",      "event.kind", "event.category", "event.type",
        "event.dataset", "agent.id",      "agent.type", "agent.version",  "agent.name",
        "host.name",     "host.hostname", "host.id",    "ecs.version",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return 1;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (1..4) and its code point, or 0
 * when the bytes there are not one. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

static int terminal_control(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* Plain: printable ASCII but space, quotes, backslash and '=' ; or valid
 * UTF-8 that is no terminal control. Such a value is written bare. */
static int plain(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k;
        if (s[i] > 0x20 && s[i] < 0x7f) {
            if (s[i] == '"' || s[i] == '\\' || s[i] == '=')
                return 0;
            i++;
        } else if (s[i] >= 0x80 && (k = utf8_seq(s + i, n - i, &cp)) && !terminal_control(cp)) {
            i += k;
        } else {
            return 0;
        }
    }
    return 1;
}

static int put(rp__buf *b, const char *s, size_t n)
{
    return rp__buf_append(b, s, n);
}

/* Writes a string value, quoted and escaped when it is not plain, cut at
 * RP__CONSOLE_VALUE_MAX input bytes (never inside a UTF-8 sequence). */
static int put_value(rp__buf *b, const char *sv, size_t n, int force_quotes)
{
    const unsigned char *s = (const unsigned char *)sv;
    size_t use = n;
    if (use > RP__CONSOLE_VALUE_MAX) {
        use = RP__CONSOLE_VALUE_MAX;
        while (use > 0 && (s[use] & 0xc0) == 0x80)
            use--;
    }
    int rc;
    if (!force_quotes && plain(s, use)) {
        rc = put(b, sv, use);
    } else {
        rc = put(b, "\"", 1);
        for (size_t i = 0; rc == 0 && i < use;) {
            char esc[16];
            uint32_t cp = 0;
            size_t k = s[i] >= 0x80 ? utf8_seq(s + i, use - i, &cp) : 0;
            if (s[i] >= 0x20 && s[i] < 0x7f) {
                if (s[i] == '"' || s[i] == '\\')
                    rc = put(b, s[i] == '"' ? "\\\"" : "\\\\", 2);
                else
                    rc = put(b, (const char *)s + i, 1);
                i++;
            } else if (k && !terminal_control(cp)) {
                rc = put(b, (const char *)s + i, k);
                i += k;
            } else if (k) {
                int m = snprintf(esc, sizeof esc, "\\u{%04x}", (unsigned)cp);
                rc = put(b, esc, (size_t)m);
                i += k;
            } else {
                int m = snprintf(esc, sizeof esc, "\\x%02x", s[i]);
                rc = put(b, esc, (size_t)m);
                i++;
            }
        }
        if (rc == 0)
            rc = put(b, "\"", 1);
    }
    if (rc == 0 && use < n) {
        char more[40];
        int m = snprintf(more, sizeof more, "...(+%zu)", n - use);
        rc = put(b, more, (size_t)m);
    }
    return rc;
}

static int put_field(rp__buf *b, const rp_event *ev, const rp__field_view *v)
{
    char tmp[64];
    int m;
    switch (v->type) {
    case RP_TYPE_I64:
        m = snprintf(tmp, sizeof tmp, "%lld", (long long)v->i64);
        return put(b, tmp, (size_t)m);
    case RP_TYPE_U64:
        m = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v->u64);
        return put(b, tmp, (size_t)m);
    case RP_TYPE_BOOL:
        return v->u64 ? put(b, "true", 4) : put(b, "false", 5);
    case RP_TYPE_STR:
        return put_value(b, v->ptr, (size_t)v->len, 0);
    case RP_TYPE_BYTES: {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = v->ptr;
        size_t n = v->len > RP__CONSOLE_VALUE_MAX / 2 ? RP__CONSOLE_VALUE_MAX / 2 : (size_t)v->len;
        int rc = 0;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            char h[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
            rc = put(b, h, 2);
        }
        if (rc == 0 && n < v->len) {
            m = snprintf(tmp, sizeof tmp, "...(+%llu)", (unsigned long long)(v->len - n));
            rc = put(b, tmp, (size_t)m);
        }
        return rc;
    }
    case RP_TYPE_TIMESTAMP: {
        char ts[RP__JSON_TIMESTAMP_MAX + 1];
        return put(b, ts, rp__json_format_timestamp(v->i64, ts));
    }
    case RP_TYPE_IP: {
        rp_ip ip;
        char s[RP__IP_STR_MAX + 1];
        memcpy(&ip, v->ptr, sizeof ip);
        return put(b, s, rp__ip_format(&ip, s));
    }
    case RP_TYPE_STR_ARRAY: {
        int rc = put(b, "[", 1);
        for (uint32_t k = 0; rc == 0 && k < v->count; k++) {
            const char *s;
            uint64_t len;
            if (rp__event_get_str_array_item(ev, v->id, k, &s, &len) != 0)
                return RP_ERR_INTERNAL;
            if (k)
                rc = put(b, ",", 1);
            if (rc == 0)
                rc = put_value(b, s, (size_t)len, 1);
        }
        return rc == 0 ? put(b, "]", 1) : rc;
    }
    default:
        return RP_ERR_INTERNAL;
    }
}

int rp__console_format(const rp_event *ev, rp__buf *out)
{
    size_t start = out->len;
    size_t line_max = start + RP__CONSOLE_LINE_MAX;
    int rc = 0;
    char ts[RP__JSON_TIMESTAMP_MAX + 1];
    rp_field_id ts_id = rp__field_lookup("@timestamp", 10);
    int64_t t;
    if (ts_id && rp__event_get_timestamp(ev, ts_id, &t) == 0) {
        size_t n = rp__json_format_timestamp(t, ts);
        /* "YYYY-MM-DDT" is dropped: a console shows today's events. */
        rc = n > 11 ? put(out, ts + 11, n - 11) : put(out, ts, n);
    } else {
        rc = put(out, "-", 1);
    }
    const char *topic = rp__topic_name(rp__event_topic(ev));
    if (rc == 0)
        rc = put(out, " ", 1);
    if (rc == 0)
        rc = topic ? put_value(out, topic, strlen(topic), 0) : put(out, "?", 1);
    uint32_t n = rp__event_field_count(ev);
    uint32_t i = 0;
    for (; rc == 0 && i < n; i++) {
        rp__field_view v;
        size_t nlen;
        if (rp__event_field_at(ev, i, &v) != 0)
            break;
        const char *name = rp__field_name(v.id, &nlen);
        if (!name || hidden(name, nlen))
            continue;
        size_t before = out->len;
        rc = put(out, " ", 1);
        if (rc == 0)
            rc = put(out, name, nlen);
        if (rc == 0)
            rc = put(out, "=", 1);
        if (rc == 0)
            rc = put_field(out, ev, &v);
        if (rc == 0 && out->len > line_max) {
            /* This field takes the line past its cap: leave it and the rest
             * off, and say how many were left out. */
            rp__buf_truncate(out, before);
            break;
        }
    }
    if (rc == 0 && i < n) {
        char more[48];
        int m = snprintf(more, sizeof more, " ...(+%u fields)", n - i);
        rc = put(out, more, (size_t)m);
    }
    if (rc == 0)
        rc = put(out, "\n", 1);
    if (rc != 0)
        rp__buf_truncate(out, start);
    return rc;
}
