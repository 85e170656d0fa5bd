/*
 * tests/fuzz/fuzz_ndjson.c - libFuzzer target for the NDJSON encoder.
 *
 * The input drives the building of one event: a series of records, each
 * choosing a field (and so a type) by its first byte, followed by the
 * value's bytes (strings and bytes are taken from the input as they are, so
 * every byte sequence reaches the escaper). The event is encoded and the
 * line is checked with jansson, field by field; any disagreement aborts.
 * The whole input is also escaped on its own as one string. Finally the
 * line is encoded again under a cap taken from the input, which must either
 * fit exactly or leave the buffer untouched.
 *
 * Input layout:
 *   byte 0         cap selector
 *   then records   [field selector] [value]
 *     i64/u64/timestamp  8 bytes, little-endian (zero-padded at the end)
 *     bool               1 byte
 *     string/bytes       1 length byte, then that many bytes
 *     ip                 1 byte (even: IPv4, odd: IPv6), then 16 bytes
 *     string array       1 count byte (mod 16), then per item as string
 */
#include "runtime/event.h"
#include "runtime/fields.h"
#include "output/console.h"
#include "output/ndjson.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_ndjson: check failed at line %d: %s\n", __LINE__, #cond);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const struct {
    const char *name;
    uint32_t type;
} field_defs[] = {
    {"@timestamp", RP_TYPE_TIMESTAMP},
    {"process.pid", RP_TYPE_I64},
    {"process.name", RP_TYPE_STR},
    {"process.args", RP_TYPE_STR_ARRAY},
    {"process.interactive", RP_TYPE_BOOL},
    {"process.start", RP_TYPE_TIMESTAMP},
    {"file.size", RP_TYPE_U64},
    {"source.ip", RP_TYPE_IP},
    {"destination.ip", RP_TYPE_IP},
    {"event.category", RP_TYPE_STR_ARRAY},
    {"message", RP_TYPE_STR},
    {"fuzz.i", RP_TYPE_I64},
    {"fuzz.u", RP_TYPE_U64},
    {"fuzz.b", RP_TYPE_BOOL},
    {"fuzz.s", RP_TYPE_STR},
    {"fuzz.raw", RP_TYPE_BYTES},
    {"fuzz.t", RP_TYPE_TIMESTAMP},
    {"fuzz.ip", RP_TYPE_IP},
    {"fuzz.list", RP_TYPE_STR_ARRAY},
    {"event.id", RP_TYPE_STR}, /* read-only: setting it must fail, harmlessly */
};
#define NFIELDS (sizeof field_defs / sizeof field_defs[0])

static rp_field_id ids[NFIELDS];

static void init_fields(void)
{
    static int done;
    if (done)
        return;
    for (size_t i = 0; i < NFIELDS; i++)
        CHECK(rp__field_intern(field_defs[i].name, strlen(field_defs[i].name), field_defs[i].type,
                               &ids[i]) == 0);
    done = 1;
}

struct reader {
    const uint8_t *p;
    size_t left;
};

static uint8_t rd_byte(struct reader *r)
{
    if (!r->left)
        return 0;
    r->left--;
    return *r->p++;
}

static uint64_t rd_u64(struct reader *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)rd_byte(r) << (8 * i);
    return v;
}

/* A string straight from the input (borrowed). */
static rp_str rd_str(struct reader *r)
{
    size_t len = rd_byte(r);
    if (len > r->left)
        len = r->left;
    rp_str s = {(const char *)r->p, len};
    r->p += len;
    r->left -= len;
    return s;
}

static void build_event(rp_event *ev, struct reader *r)
{
    while (r->left) {
        size_t f = rd_byte(r) % NFIELDS;
        rp_field_id id = ids[f];
        switch (field_defs[f].type) {
        case RP_TYPE_I64:
            rp__event_set_i64(ev, id, (int64_t)rd_u64(r));
            break;
        case RP_TYPE_U64:
            rp__event_set_u64(ev, id, rd_u64(r));
            break;
        case RP_TYPE_TIMESTAMP:
            rp__event_set_timestamp(ev, id, (int64_t)rd_u64(r));
            break;
        case RP_TYPE_BOOL:
            rp__event_set_bool(ev, id, rd_byte(r));
            break;
        case RP_TYPE_STR: {
            rp_str s = rd_str(r);
            rp__event_set_str(ev, id, s.ptr, s.len);
            break;
        }
        case RP_TYPE_BYTES: {
            rp_str s = rd_str(r);
            rp__event_set_bytes(ev, id, s.ptr, s.len);
            break;
        }
        case RP_TYPE_IP: {
            rp_ip ip;
            memset(&ip, 0, sizeof ip);
            ip.family = rd_byte(r) & 1 ? 6 : 4;
            for (int i = 0; i < 16; i++)
                ip.addr[i] = rd_byte(r);
            rp__event_set_ip(ev, id, &ip);
            break;
        }
        case RP_TYPE_STR_ARRAY: {
            rp_str items[16];
            uint32_t n = rd_byte(r) % 16;
            for (uint32_t i = 0; i < n; i++)
                items[i] = rd_str(r);
            rp__event_set_str_array(ev, id, items, n);
            break;
        }
        }
    }
}

/* The JSON string j must say exactly what s holds when s is valid UTF-8
 * (jansson's json_stringn refuses anything else), and otherwise hold
 * U+FFFD where s did not make sense. */
static void check_string(json_t *j, const char *s, size_t len)
{
    CHECK(json_is_string(j));
    json_t *probe = json_stringn(s, len);
    if (probe) {
        CHECK(json_string_length(j) == len);
        CHECK(len == 0 || memcmp(json_string_value(j), s, len) == 0);
        json_decref(probe);
    } else {
        /* By length: the value may hold NULs before the replacement. */
        const char *v = json_string_value(j);
        size_t n = json_string_length(j), k = 0;
        while (k + 3 <= n && memcmp(v + k, "\xef\xbf\xbd", 3) != 0)
            k++;
        CHECK(k + 3 <= n);
    }
}

static void check_timestamp(json_t *j, int64_t ns)
{
    int64_t secs = ns / 1000000000, frac = ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    CHECK(gmtime_r(&t, &tm) != NULL);
    char want[64];
    int n = snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%09lld", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)frac);
    while (n > 23 && memcmp(want + n - 3, "000", 3) == 0)
        n -= 3;
    want[n] = 'Z';
    want[n + 1] = '\0';
    CHECK(json_is_string(j));
    CHECK(strcmp(json_string_value(j), want) == 0);
}

/* First occurrence of needle in line[0..len) (the line has no NUL end). */
static const char *find_in(const char *line, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(line + i, needle, n) == 0)
            return line + i;
    return NULL;
}

static void check_line(const rp_event *ev, const char *line, size_t len)
{
    CHECK(len >= 3 && line[len - 1] == '\n');
    CHECK(memchr(line, '\n', len - 1) == NULL);
    json_error_t jerr;
    /* Integers as reals: jansson's integers stop at INT64_MAX. */
    json_t *obj = json_loadb(
        line, len - 1, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
    if (!obj) {
        fprintf(stderr, "fuzz_ndjson: not JSON (%s): %.*s\n", jerr.text, (int)len, line);
        abort();
    }
    CHECK(json_is_object(obj));
    uint32_t n = rp__event_field_count(ev);
    CHECK(json_object_size(obj) == n);
    for (uint32_t i = 0; i < n; i++) {
        rp__field_view v;
        CHECK(rp__event_field_at(ev, i, &v) == 0);
        const char *name = rp__field_name(v.id, NULL);
        json_t *j = json_object_get(obj, name);
        CHECK(j != NULL);
        switch (v.type) {
        case RP_TYPE_I64:
        case RP_TYPE_U64: {
            CHECK(json_is_number(j));
            /* The exact digits, next to their key. */
            char want[200];
            if (v.type == RP_TYPE_I64)
                snprintf(want, sizeof want, "\"%s\":%lld", name, (long long)v.i64);
            else
                snprintf(want, sizeof want, "\"%s\":%llu", name, (unsigned long long)v.u64);
            const char *at = find_in(line, len, want);
            CHECK(at != NULL);
            /* A following digit would mean the number was cut short. */
            char next = at[strlen(want)];
            CHECK(next == ',' || next == '}');
            break;
        }
        case RP_TYPE_BOOL:
            CHECK(json_is_boolean(j) && json_is_true(j) == (v.u64 != 0));
            break;
        case RP_TYPE_STR:
            check_string(j, v.ptr, v.len);
            break;
        case RP_TYPE_BYTES: {
            CHECK(json_is_string(j) && json_string_length(j) == 2 * v.len);
            const unsigned char *b = v.ptr;
            for (uint64_t k = 0; k < v.len; k++) {
                char hx[3];
                snprintf(hx, sizeof hx, "%02x", b[k]);
                CHECK(memcmp(json_string_value(j) + 2 * k, hx, 2) == 0);
            }
            break;
        }
        case RP_TYPE_TIMESTAMP:
            check_timestamp(j, v.i64);
            break;
        case RP_TYPE_IP: {
            rp_ip ip;
            memcpy(&ip, v.ptr, sizeof ip);
            unsigned char back[16];
            CHECK(json_is_string(j));
            CHECK(inet_pton(ip.family == 4 ? AF_INET : AF_INET6, json_string_value(j), back) == 1);
            CHECK(memcmp(back, ip.addr, ip.family == 4 ? 4 : 16) == 0);
            break;
        }
        case RP_TYPE_STR_ARRAY:
            CHECK(json_is_array(j) && json_array_size(j) == v.count);
            for (uint32_t k = 0; k < v.count; k++) {
                const char *s;
                uint64_t slen;
                CHECK(rp__event_get_str_array_item(ev, v.id, k, &s, &slen) == 0);
                check_string(json_array_get(j, k), s, slen);
            }
            break;
        default:
            CHECK(!"unknown type");
        }
    }
    json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_fields();

    /* The whole input as one string. */
    rp__buf b;
    rp__buf_init(&b, 8 * size + 16);
    CHECK(rp__json_append_string((const char *)data, size, &b) == 0);
    json_error_t jerr;
    json_t *str = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!str) {
        fprintf(stderr, "fuzz_ndjson: escaped string is not JSON (%s)\n", jerr.text);
        abort();
    }
    check_string(str, (const char *)data, size);
    json_decref(str);
    rp__buf_free(&b);

    /* An event from the input. */
    struct reader r = {data, size};
    size_t cap_sel = rd_byte(&r);
    rp_event *ev;
    CHECK(rp__event_create(1, "process.exec", 0, &ev) == 0);
    build_event(ev, &r);
    rp__buf_init(&b, RP__BUF_NO_MAX);
    CHECK(rp__ndjson_encode(ev, &b) == 0);
    check_line(ev, b.data, b.len);

    /* Again after some content, under a cap: whole or nothing. */
    rp__buf capped;
    size_t line_len = b.len;
    rp__buf_init(&capped, 5 + (line_len * cap_sel) / 200);
    CHECK(rp__buf_append(&capped, "prev\n", 5) == 0);
    int rc = rp__ndjson_encode(ev, &capped);
    if (5 + line_len <= capped.max) {
        CHECK(rc == 0);
        CHECK(capped.len == 5 + line_len);
        CHECK(memcmp(capped.data + 5, b.data, line_len) == 0);
    } else {
        CHECK(rc == RP_ERR_FULL);
        CHECK(capped.len == 5 && memcmp(capped.data, "prev\n", 5) == 0);
    }
    CHECK(capped.cap <= capped.max);
    rp__buf_free(&capped);

    /* The console line of the same event: bounded, one line, and nothing a
     * terminal acts on (no byte below 0x20 but the final newline, no DEL). */
    rp__buf text;
    rp__buf_init(&text, RP__BUF_NO_MAX);
    CHECK(rp__console_format(ev, &text) == 0);
    CHECK(text.len > 0 && text.data[text.len - 1] == '\n');
    CHECK(text.len <= RP__CONSOLE_LINE_MAX + 2 * RP__CONSOLE_VALUE_MAX * 10 + 64);
    for (size_t i = 0; i + 1 < text.len; i++)
        CHECK((unsigned char)text.data[i] >= 0x20 && text.data[i] != 0x7f);
    rp__buf_free(&text);

    rp__buf_free(&b);
    rp__event_release(ev);
    return 0;
}
