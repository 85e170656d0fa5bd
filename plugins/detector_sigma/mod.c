/*
 * plugins/detector_sigma/mod.c - the modifier syntax of mod.h.
 */
#include "mod.h"

#include <string.h>

static const char *const ds_mod_names[DS_MOD_COUNT] = {
    [DS_MOD_CONTAINS] = "contains",
    [DS_MOD_STARTSWITH] = "startswith",
    [DS_MOD_ENDSWITH] = "endswith",
    [DS_MOD_ALL] = "all",
    [DS_MOD_RE] = "re",
    [DS_MOD_RE_I] = "i",
    [DS_MOD_RE_M] = "m",
    [DS_MOD_RE_S] = "s",
    [DS_MOD_BASE64] = "base64",
    [DS_MOD_BASE64OFFSET] = "base64offset",
    [DS_MOD_UTF16LE] = "utf16le",
    [DS_MOD_UTF16BE] = "utf16be",
    [DS_MOD_UTF16] = "utf16",
    [DS_MOD_WIDE] = "wide",
    [DS_MOD_WINDASH] = "windash",
    [DS_MOD_CIDR] = "cidr",
    [DS_MOD_LT] = "lt",
    [DS_MOD_LTE] = "lte",
    [DS_MOD_GT] = "gt",
    [DS_MOD_GTE] = "gte",
    [DS_MOD_EXISTS] = "exists",
    [DS_MOD_CASED] = "cased",
    [DS_MOD_FIELDREF] = "fieldref",
    [DS_MOD_EXPAND] = "expand",
    [DS_MOD_NEQ] = "neq",
};

const char *ds_mod_name(int mod)
{
    if (mod < 0 || mod >= DS_MOD_COUNT)
        return "?";
    return ds_mod_names[mod];
}

int ds_mod_lookup(const char *s, size_t len)
{
    for (int i = 0; i < DS_MOD_COUNT; i++)
        if (strlen(ds_mod_names[i]) == len && memcmp(ds_mod_names[i], s, len) == 0)
            return i;
    return -1;
}

#define BIT(m) (1u << (m))

/* The ways of comparing a value: a key may have at most one of them (plain
 * equality when it has none). */
#define DS_MATCH_KINDS                                                                             \
    (BIT(DS_MOD_CONTAINS) | BIT(DS_MOD_STARTSWITH) | BIT(DS_MOD_ENDSWITH) | BIT(DS_MOD_RE) |       \
     BIT(DS_MOD_CIDR) | BIT(DS_MOD_LT) | BIT(DS_MOD_LTE) | BIT(DS_MOD_GT) | BIT(DS_MOD_GTE) |      \
     BIT(DS_MOD_EXISTS))
#define DS_RE_FLAGS (BIT(DS_MOD_RE_I) | BIT(DS_MOD_RE_M) | BIT(DS_MOD_RE_S))
#define DS_ENCODINGS                                                                               \
    (BIT(DS_MOD_UTF16LE) | BIT(DS_MOD_UTF16BE) | BIT(DS_MOD_UTF16) | BIT(DS_MOD_WIDE))
#define DS_BASE64S (BIT(DS_MOD_BASE64) | BIT(DS_MOD_BASE64OFFSET))
/* Kinds whose value is not a string to transform: no encoding, base64,
 * windash or expansion applies to them. */
#define DS_NON_STRING                                                                              \
    (BIT(DS_MOD_CIDR) | BIT(DS_MOD_LT) | BIT(DS_MOD_LTE) | BIT(DS_MOD_GT) | BIT(DS_MOD_GTE) |      \
     BIT(DS_MOD_EXISTS))

static int ds_popcount(uint32_t v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

static const char *ds_conflict(uint32_t m)
{
    if (ds_popcount(m & DS_MATCH_KINDS) > 1)
        return "at most one of contains, startswith, endswith, re, cidr, lt, lte, gt, gte, exists";
    if ((m & DS_RE_FLAGS) && !(m & BIT(DS_MOD_RE)))
        return "i, m and s only after re";
    if (ds_popcount(m & DS_ENCODINGS) > 1)
        return "at most one of utf16le, utf16be, utf16, wide";
    if (ds_popcount(m & DS_BASE64S) > 1)
        return "base64 or base64offset, not both";
    if ((m & DS_ENCODINGS) && !(m & DS_BASE64S))
        return "utf16le, utf16be, utf16 and wide only with base64 or base64offset";
    if ((m & DS_NON_STRING) && (m & (DS_ENCODINGS | DS_BASE64S | BIT(DS_MOD_WINDASH) |
                                     BIT(DS_MOD_EXPAND) | BIT(DS_MOD_FIELDREF) | BIT(DS_MOD_ALL))))
        return "cidr, lt, lte, gt, gte and exists alone (no all, encoding, base64, windash, "
               "expand or fieldref)";
    if ((m & BIT(DS_MOD_RE)) && (m & (DS_ENCODINGS | DS_BASE64S | BIT(DS_MOD_WINDASH))))
        return "re without encodings, base64 or windash";
    if ((m & BIT(DS_MOD_FIELDREF)) && (m & (DS_ENCODINGS | DS_BASE64S | BIT(DS_MOD_EXPAND))))
        return "fieldref without encodings, base64 or expand";
    return NULL;
}

int ds_mods_parse(const char *key, size_t len, struct ds_field_spec *out, const char **bad_at,
                  size_t *bad_len, const char **why)
{
    memset(out, 0, sizeof(*out));
    if (bad_at)
        *bad_at = key;
    if (bad_len)
        *bad_len = 0;
    if (why)
        *why = NULL;
    if (len > DS_KEY_MAX) {
        if (why)
            *why = "a key of at most 1024 bytes";
        return DS_MODS_TOO_LONG;
    }
    const char *bar = memchr(key, '|', len);
    out->field = key;
    out->field_len = bar ? (size_t)(bar - key) : len;
    while (bar) {
        const char *m = bar + 1;
        const char *end = key + len;
        bar = memchr(m, '|', (size_t)(end - m));
        size_t mlen = (size_t)((bar ? bar : end) - m);
        if (bad_at)
            *bad_at = m;
        if (bad_len)
            *bad_len = mlen;
        if (mlen == 0) {
            if (why)
                *why = "a modifier name between '|' signs";
            return DS_MODS_EMPTY;
        }
        int mod = ds_mod_lookup(m, mlen);
        if (mod < 0) {
            if (why)
                *why = "a modifier of the Sigma specification";
            return DS_MODS_UNKNOWN;
        }
        if (out->mask & BIT(mod)) {
            if (why)
                *why = "each modifier once";
            return DS_MODS_DUPLICATE;
        }
        if (out->n_mods == DS_MODS_MAX) {
            if (why)
                *why = "at most 8 modifiers";
            return DS_MODS_TOO_MANY;
        }
        out->mods[out->n_mods++] = (uint8_t)mod;
        out->mask |= BIT(mod);
    }
    const char *c = ds_conflict(out->mask);
    if (c) {
        if (bad_at)
            *bad_at = out->field + out->field_len;
        if (bad_len)
            *bad_len = len - out->field_len;
        if (why)
            *why = c;
        return DS_MODS_CONFLICT;
    }
    return DS_MODS_OK;
}
