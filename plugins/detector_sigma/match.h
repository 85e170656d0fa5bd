/*
 * plugins/detector_sigma/match.h - compiled value matchers for Sigma field
 * conditions (sigma-specification, rules format 2.x, "Value modifiers").
 *
 * One detection item `Field|mod1|mod2: value-or-list` compiles into one
 * ds_field: a list of ds_matcher (one per value), joined by OR, or by AND
 * under the `all` modifier. Compiling allocates; matching never does, so the
 * hot path of the detector can call ds_field_match on every event.
 *
 * Semantics chosen here (the specification leaves them open):
 *  - Strings compare ASCII-case-insensitively unless `cased`: only A-Z/a-z
 *    fold; bytes >= 0x80 (non-ASCII UTF-8) compare exactly, so "É" and "é"
 *    differ. `re` is case-sensitive unless `re|i` (as the specification says).
 *  - `re` is PCRE2 in UTF mode, unanchored (a search). A value that is not
 *    UTF-8 is still searched, but no pattern (not even `.`) matches its
 *    invalid bytes. Patterns over DS_MATCH_MAX_REGEX are refused; a match
 *    that exceeds the match, depth or heap limit counts as no match.
 *  - `?` matches one UTF-8 character (a lead byte with its continuation
 *    bytes; a byte that starts no valid sequence counts as one character),
 *    `*` any run of characters. `\*`, `\?` and `\\` are the literal `*`, `?`
 *    and `\`; a backslash before anything else stays a backslash.
 *  - A field given as NULL (value == NULL) is absent. `null` matches an
 *    absent field or an empty string; `exists: true` matches any present
 *    field (empty included), `exists: false` only an absent one. Every other
 *    matcher is false on an absent field.
 *  - base64/base64offset take the value's bytes after the utf16 family (if
 *    any) and refuse wildcards (as pySigma does: an encoded wildcard means
 *    nothing); the escapes are resolved first. They are matched with the
 *    same case rule as any string.
 *  - `windash` lets every `-`, `/`, en dash, em dash or horizontal bar that
 *    starts a flag (one preceded by a non-word character or the start and
 *    followed by a word character: the rule of pySigma's windash) match any
 *    of those five (UTF-8), without building the 5^n permutations.
 *  - `neq` (specification 2.1) matches a present field that equals none of
 *    the values (exact, number or fieldref comparison); an absent field does
 *    not match. It gives the index no literal.
 *  - lt/lte/gt/gte compare numbers (decimal, optional sign and fraction); a
 *    field that is not a number does not match.
 *  - cidr matches an IPv4 or IPv6 address given as text; an IPv4-mapped IPv6
 *    address (::ffff:a.b.c.d) matches IPv4 ranges too.
 *
 * Threads: a compiled ds_field is read-only except for the regex scratch
 * (match data) and the error counter, so one ds_field must not be matched
 * from two threads at once; the detector evaluates on one thread.
 */
#ifndef RP_DETECTOR_SIGMA_MATCH_H
#define RP_DETECTOR_SIGMA_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mod.h"

/* Modifiers come as the mask of mod.h's ds_field_spec: bit DS_MODBIT(mod)
 * for each enum ds_mod present. */
#define DS_MODBIT(mod) (1u << (mod))

/* The type a YAML scalar had. A number or bool keeps its text ("4688",
 * "true"); DS_MV_NULL has no text. */
enum ds_mvtype { DS_MV_STRING, DS_MV_NUMBER, DS_MV_BOOL, DS_MV_NULL };

struct ds_mvalue {
    enum ds_mvtype type;
    const char *str; /* borrowed for the call; not NUL-terminated */
    size_t len;
};

/* One %placeholder% of `expand` and the values it stands for. */
struct ds_placeholder {
    const char *name; /* without the percent signs, NUL-terminated */
    const char *const *values;
    size_t nvalues;
};

/* Caps. A value or regex over its cap, more values than DS_MATCH_MAX_VALUES,
 * or an expansion that would make more alternatives of one value than
 * DS_MATCH_MAX_ALTS, is refused at compile time. */
#define DS_MATCH_MAX_VALUE 4096u /* bytes of one value after expansion */
#define DS_MATCH_MAX_REGEX 4096u /* bytes of one `re` pattern */
/* Values (matchers) in one ds_field: the rule loader's cap on the values of
 * one item (rule.h DS_VALUES_MAX), since a public rule lists 1,090 package
 * names in one item. */
#define DS_MATCH_MAX_VALUES 16384u
#define DS_MATCH_MAX_ALTS   1024u /* alternatives of one value (expand, base64offset) */

/* Compile options; all members may be zero (then the defaults apply). */
struct ds_match_opts {
    const struct ds_placeholder *placeholders; /* for `expand`; borrowed for the call */
    size_t nplaceholders;
    uint32_t re_match_limit; /* pcre2_set_match_limit; default 100000 */
    uint32_t re_depth_limit; /* pcre2_set_depth_limit (interpreter only); default 10000 */
    bool re_no_jit;          /* interpret even where PCRE2's JIT is available */
};

/* What a string matcher needs from a value, for the rule index. The bytes
 * are lower-cased (ASCII) when the matcher is case-insensitive. */
enum ds_lit_kind {
    DS_LIT_EXACT,    /* the whole value equals bytes */
    DS_LIT_PREFIX,   /* the value starts with bytes */
    DS_LIT_SUFFIX,   /* the value ends with bytes */
    DS_LIT_CONTAINS, /* bytes appear somewhere in the value */
};

struct ds_literal {
    const char *bytes; /* owned by the matcher */
    size_t len;
    enum ds_lit_kind kind;
    bool folded; /* bytes are lower-cased: compare with the value lower-cased */
};

struct ds_matcher;
struct ds_field;

/* ds_field_compile: compiles values[0..n) under mods (ds_field_spec.mask)
 * into *out (owned by the caller: ds_field_destroy). An empty list (n == 0)
 * is refused, and so are combinations with no meaning (one match kind; i, m,
 * s only with re; base64offset only as contains; ...), even when
 * ds_mods_parse let them through. Encodings apply in one order whatever the
 * order written: utf16 family, then base64/base64offset. Returns 0;
 * RP_ERR_PARSE or RP_ERR_RANGE with a sentence in err naming the value and
 * what was expected; RP_ERR_NOMEM. */
int ds_field_compile(uint32_t mods, const struct ds_mvalue *values, size_t n,
                     const struct ds_match_opts *opts, struct ds_field **out, char *err,
                     size_t errlen);

void ds_field_destroy(struct ds_field *f);

/* ds_field_match: whether the field's value (value[0..len), not necessarily
 * NUL-terminated; NULL: the field is absent) satisfies the item. A regex
 * that hits its limits counts as no match and is counted in
 * ds_field_errors. Never allocates. */
bool ds_field_match(struct ds_field *f, const char *value, size_t len);

/* ds_field_match_ref: the same for a `fieldref` item, whose values name
 * other fields: refs[i] (refs_len[i] bytes, NULL if absent) is the event's
 * value of the field ds_field_ref_name(f, i) names. */
bool ds_field_match_ref(struct ds_field *f, const char *value, size_t len, const char *const *refs,
                        const size_t *refs_len);

/* Number of matchers (values after expansion) and the i-th of them. */
size_t ds_field_count(const struct ds_field *f);
const struct ds_matcher *ds_field_matcher(const struct ds_field *f, size_t i);
uint32_t ds_field_mods(const struct ds_field *f);
/* For `fieldref`: the field the i-th value names (NUL-terminated), else NULL. */
const char *ds_field_ref_name(const struct ds_field *f, size_t i);
/* Regex matches that failed on a limit (PCRE2_ERROR_MATCHLIMIT and the like). */
uint64_t ds_field_errors(const struct ds_field *f);
/* Bytes the compiled field holds (matchers, literals, compiled regexes with
 * their JIT code), for the engine's memory report. */
size_t ds_field_memory(const struct ds_field *f);

/* ds_matcher_match: one value's matcher on its own (see ds_field_match). */
bool ds_matcher_match(const struct ds_matcher *m, const char *value, size_t len);

/* ds_matcher_literals: the literals of matcher m the index may rely on, in
 * out[0..cap); returns how many there are (may exceed cap). They are
 * alternatives: the value can only match if one of them holds (base64offset
 * has three, a plain string one). 0 means the matcher gives no literal (cidr,
 * numbers, exists, null, neq, only wildcards), so the index must not skip
 * it. For a value with wildcards the literal is its longest run without any.
 * For `re` it is the longest run of plain characters the pattern requires
 * outside any group or class (DS_LIT_CONTAINS, always folded, since a
 * case-sensitive pattern needs it in the lower-cased value as well); none
 * when the pattern has a top-level alternation, inline options or escapes
 * this reading does not follow. */
size_t ds_matcher_literals(const struct ds_matcher *m, struct ds_literal *out, size_t cap);

#endif
