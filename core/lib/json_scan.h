/*
 * core/lib/json_scan.h - strict JSON scanning without a DOM or allocation:
 * check that a text is exactly one JSON object and find a few of its
 * top-level members, then decode a string member. For hot paths that read
 * one or two keys of many small objects (the output formats read every
 * native line with it); jansson is the tool for anything that needs the
 * whole tree.
 *
 * Thread-safety: no state; any thread may call any function.
 */
#ifndef RP_LIB_JSON_SCAN_H
#define RP_LIB_JSON_SCAN_H

#include <stddef.h>

enum rp__json_type {
    RP__JSON_ABSENT = 0,
    RP__JSON_STRING,
    RP__JSON_NUMBER,
    RP__JSON_OBJECT,
    RP__JSON_ARRAY,
    RP__JSON_TRUE,
    RP__JSON_FALSE,
    RP__JSON_NULL
};

/* A value inside the scanned text: ptr/len is its raw JSON text (a
 * string's includes its quotes and escapes). Borrowed from the text. */
typedef struct rp__json_span {
    const char *ptr;
    size_t len;
    enum rp__json_type type;
} rp__json_span;

/* Nesting deeper than this (the top-level object counts as 1) is refused. */
#define RP__JSON_SCAN_MAX_DEPTH 128

/*
 * Checks that s[0..len) is exactly one JSON object (RFC 8259: strict
 * grammar, valid UTF-8, escapes and surrogate pairs checked; whitespace
 * allowed around it) and finds the top-level members named keys[0..nkeys)
 * (compared after unescaping). vals[i] gets key i's value, or type
 * RP__JSON_ABSENT and ptr NULL. One pass, no allocation, no recursion.
 * Errors: RP_ERR_PARSE (not such an object), RP_ERR_RANGE (nested deeper
 * than RP__JSON_SCAN_MAX_DEPTH), RP_ERR_EXISTS (a wanted key appears twice:
 * which one counts is ambiguous). vals is unspecified on error.
 */
int rp__json_scan_object(const char *s, size_t len, const char *const *keys, size_t nkeys,
                         rp__json_span *vals);

/*
 * Decodes a string span from rp__json_scan_object (escapes resolved, UTF-8)
 * into out[0..cap); *out_len gets the length. No NUL is added. RP_ERR_TYPE
 * when v is not a string, RP_ERR_FULL when it does not fit (out unspecified).
 */
int rp__json_string_decode(const rp__json_span *v, char *out, size_t cap, size_t *out_len);

/* The index of the first byte at or after i in s[0..len) that is not JSON
 * whitespace (space, tab, CR, LF); len when there is none. */
size_t rp__json_skip_ws(const char *s, size_t len, size_t i);

#endif
