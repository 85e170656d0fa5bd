/*
 * core/output/ndjson.h - the flat-ECS NDJSON encoder. It writes into an rp__buf
 * (lib/buf.h), which this header includes for its users.
 *
 * One event becomes one line of JSON: an object whose keys are the field
 * names exactly as registered ("process.pid", dotted, never nested), in the
 * event's field order, followed by "\n":
 *
 *   {"@timestamp":"2026-11-28T16:52:02.123456789Z","event.id":"0193...",
 *    "event.kind":"event","process.pid":4242,"process.args":["a","b"]}
 *
 * Values by type:
 *   i64, u64    JSON numbers (exact decimal, any 64-bit value)
 *   bool        true / false
 *   string      JSON string; see rp__json_escape for what happens to bytes
 *   bytes       lowercase hex string ("00ff")
 *   timestamp   RFC 3339 UTC string with 'Z', see rp__json_format_timestamp
 *   ip          string: dotted quad, or RFC 5952 canonical IPv6
 *   str array   JSON array of strings
 *
 * The output is always valid UTF-8 and valid JSON, whatever bytes the event
 * holds. Its size is bounded too, whatever the bytes: a string value (and
 * each array item) writes at most RP__NDJSON_STR_OUT_MAX bytes between its
 * quotes, and once a line has RP__NDJSON_LINE_BUDGET bytes the values after
 * it are cut to what is left (keys and numbers are always written whole). A
 * bytes value is cut likewise, hex digit pairs whole. A line with a value
 * cut carries "event.truncated":true (once). So control bytes, escaped to
 * six bytes each, cannot make a line more than about twice the budget.
 * Thread-safety: every function may run on any thread; one rp__buf
 * must not be used by two threads at once.
 */
#ifndef RP_CORE_NDJSON_H
#define RP_CORE_NDJSON_H

#define RP__NDJSON_STR_OUT_MAX (8u * 1024)
#define RP__NDJSON_LINE_BUDGET (64u * 1024)

#include "lib/buf.h"

#include <rampart/plugin.h>

#include <stddef.h>
#include <stdint.h>

/*
 * Appends s[0..len) escaped for the inside of a JSON string (no quotes
 * added). All or nothing: RP_ERR_FULL / RP_ERR_NOMEM leave the buffer as it
 * was. Rules:
 *   - '"' and '\\' become \" and \\;
 *   - control characters become \b \f \n \r \t, or \u00XX (lowercase hex)
 *     for the others, NUL included; DEL (0x7f) is copied as it is;
 *   - valid UTF-8 is copied unchanged (U+2028/U+2029 too: they are valid
 *     JSON);
 *   - invalid UTF-8 (a byte that cannot start a sequence, overlong forms,
 *     UTF-16 surrogates encoded in UTF-8, code points above U+10FFFF,
 *     truncated sequences) is replaced by U+FFFD (EF BF BD), one per maximal
 *     subpart as Unicode (chapter 3, "U+FFFD Substitution of Maximal
 *     Subparts") and the WHATWG decoder specify, so the output is always
 *     valid UTF-8.
 * s may be NULL when len is 0.
 */
int rp__json_escape(const char *s, size_t len, rp__buf *out);
/* The same between double quotes: a complete JSON string value. */
int rp__json_append_string(const char *s, size_t len, rp__buf *out);

/*
 * Formats a time (nanoseconds since the Unix epoch, UTC; any int64 value,
 * which spans the years 1677 to 2262) as RFC 3339 with a 'Z' offset:
 * "YYYY-MM-DDTHH:MM:SS.fffZ". The fraction has 3, 6 or 9 digits: the
 * fewest of those that hold the value exactly, milliseconds at least (a
 * whole second is ".000", so every value has a fraction). Trimming in steps
 * of three keeps lines short for the common coarse clocks and never loses
 * precision; ClickHouse's best_effort parser and Elasticsearch's
 * strict_date_optional_time accept all three lengths. Writes up to
 * RP__JSON_TIMESTAMP_MAX bytes plus a NUL into out; returns the length
 * without the NUL.
 */
#define RP__JSON_TIMESTAMP_MAX 30
size_t rp__json_format_timestamp(int64_t unix_ns, char out[RP__JSON_TIMESTAMP_MAX + 1]);

/*
 * Formats an IP address: family 4 as a dotted quad, family 6 in the RFC 5952
 * canonical form (lowercase hex, no leading zeros, the longest run of two or
 * more zero groups - the first one on a tie - written "::", a single zero
 * group written "0"), with IPv4-mapped addresses (::ffff:0:0/96) written in
 * mixed notation "::ffff:192.0.2.1" as RFC 5952 section 5 recommends. Any
 * other family is formatted as IPv6. Writes up to RP__IP_STR_MAX bytes plus
 * a NUL; returns the length without the NUL.
 */
#define RP__IP_STR_MAX 45
size_t rp__ip_format(const rp_ip *ip, char out[RP__IP_STR_MAX + 1]);

/*
 * Appends one event as one NDJSON line (terminated by "\n") to out. All or
 * nothing: on RP_ERR_FULL (the line does not fit under out->max) or
 * RP_ERR_NOMEM, out keeps its previous length and content. RP_ERR_INTERNAL
 * for a field the registry does not know (cannot happen for events built
 * through the setters). The event is only read; any thread may encode it
 * while it holds a reference. No allocation happens beyond growing out and,
 * the first time each field id is met, caching its quoted key.
 */
int rp__ndjson_encode(const rp_event *ev, rp__buf *out);

/*
 * The agent's identity, written on every line. 2,000 desktops must be told
 * apart at the backend, but storing the same host and agent fields in every
 * event would cost memory and copies for nothing: they are constant for the
 * life of the sink. So the encoder appends them, ready-made, to each line
 * (`,"host.name":"pc-17",...` before the closing brace), and skips a field
 * of that name that the event itself holds, so a line never carries a key
 * twice and no plugin can set another machine's identity.
 *
 * The owner builds a stamp with rp__ndjson_stamp_init, adds string fields
 * with rp__ndjson_stamp_add and then shares it read-only: any thread may
 * encode with it while nobody adds to it. At most RP__NDJSON_STAMP_MAX bytes
 * of encoded fields (RP_ERR_FULL past it).
 */
#define RP__NDJSON_STAMP_MAX 8192u
typedef struct rp__ndjson_stamp {
    rp__buf text;                        /* `,"name":"value"` per field, in the order added */
    uint64_t skip[(4096 + 1 + 63) / 64]; /* field ids the stamp replaces */
} rp__ndjson_stamp;

void rp__ndjson_stamp_init(rp__ndjson_stamp *st);
/* Adds a string field (an ECS name such as "host.id", or "labels.<name>").
 * The name is registered as a string field if it is not yet, so events that
 * set it are recognised; RP_ERR_TYPE when it is registered with another type.
 * A name added twice keeps its first value (RP_ERR_EXISTS). value may be any
 * bytes: it is escaped like every string. */
int rp__ndjson_stamp_add(rp__ndjson_stamp *st, const char *name, const char *value, size_t len);
/* Frees the text; the stamp can be initialised again. NULL is a no-op. */
void rp__ndjson_stamp_free(rp__ndjson_stamp *st);

/* rp__ndjson_encode with the stamp's fields on the line (st may be NULL:
 * then exactly rp__ndjson_encode). Same all-or-nothing rule. */
int rp__ndjson_encode_stamped(const rp_event *ev, const rp__ndjson_stamp *st, rp__buf *out);

#endif
