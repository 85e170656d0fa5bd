/*
 * plugins/detector_sigma/mod.h - Sigma value modifiers: the `field|mod|mod`
 * syntax of a detection key split into the field name and the list of known
 * modifiers (Sigma specification 2.x, appendix "modifiers"). Nothing here
 * matches values; the order of the modifiers is kept because transforming
 * ones (utf16le, base64offset, windash) apply in the order written.
 */
#ifndef RP_DETECTOR_SIGMA_MOD_H
#define RP_DETECTOR_SIGMA_MOD_H

#include <stddef.h>
#include <stdint.h>

/* One value per modifier; DS_MOD_COUNT is the number of them. */
enum ds_mod {
    DS_MOD_CONTAINS,
    DS_MOD_STARTSWITH,
    DS_MOD_ENDSWITH,
    DS_MOD_ALL,
    DS_MOD_RE,
    DS_MOD_RE_I, /* i: regular expression ignores case */
    DS_MOD_RE_M, /* m: ^ and $ match at line breaks */
    DS_MOD_RE_S, /* s: . matches a line break */
    DS_MOD_BASE64,
    DS_MOD_BASE64OFFSET,
    DS_MOD_UTF16LE,
    DS_MOD_UTF16BE,
    DS_MOD_UTF16,
    DS_MOD_WIDE,
    DS_MOD_WINDASH,
    DS_MOD_CIDR,
    DS_MOD_LT,
    DS_MOD_LTE,
    DS_MOD_GT,
    DS_MOD_GTE,
    DS_MOD_EXISTS,
    DS_MOD_CASED,
    DS_MOD_FIELDREF,
    DS_MOD_EXPAND,
    DS_MOD_NEQ, /* 2.1: the field differs from every value */
    DS_MOD_COUNT
};

/* Caps: a key is at most DS_KEY_MAX bytes and has at most DS_MODS_MAX
 * modifiers; beyond either ds_mods_parse fails with DS_MODS_TOO_MANY or
 * DS_MODS_TOO_LONG. */
#define DS_KEY_MAX  1024u
#define DS_MODS_MAX 8u

/* A parsed detection key. field points into the key passed in (borrowed,
 * not NUL-terminated); field_len 0 means no field: the values are keywords
 * searched in the event's string fields. */
struct ds_field_spec {
    const char *field;
    size_t field_len;
    uint8_t mods[DS_MODS_MAX]; /* enum ds_mod, in the order written */
    uint8_t n_mods;
    uint32_t mask; /* bit (1u << mod) set for each modifier present */
};

/* Outcomes of ds_mods_parse beside 0. */
enum ds_mods_error {
    DS_MODS_OK = 0,
    DS_MODS_UNKNOWN,   /* a modifier this engine does not know: bad_at names it */
    DS_MODS_EMPTY,     /* `a||b` or a trailing `|` */
    DS_MODS_TOO_MANY,  /* more than DS_MODS_MAX */
    DS_MODS_TOO_LONG,  /* the key is longer than DS_KEY_MAX */
    DS_MODS_DUPLICATE, /* one modifier twice */
    DS_MODS_CONFLICT   /* a combination with no meaning (why: a static string) */
};

/* Splits key[0..len) at '|' into out. Returns DS_MODS_OK or an enum
 * ds_mods_error; on an error *bad_at / *bad_len (when not NULL) point at the
 * offending modifier in key and *why (when not NULL) is a static sentence
 * saying what was expected. */
int ds_mods_parse(const char *key, size_t len, struct ds_field_spec *out, const char **bad_at,
                  size_t *bad_len, const char **why);

/* The modifier's name as written in rules ("contains"); "?" out of range. */
const char *ds_mod_name(int mod);

/* The modifier named s[0..len), or -1 when there is none. */
int ds_mod_lookup(const char *s, size_t len);

#endif
