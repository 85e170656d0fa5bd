/*
 * core/lib/schema.h - validation of JSON documents against a small, strict subset
 * of JSON Schema. It checks the core configuration and, before init, each
 * plugin's config against the schema the plugin declares.
 *
 * Supported keywords: type (a name or an array of names: object, array,
 * string, integer, number, boolean, null), enum, properties, required,
 * additionalProperties (boolean or schema), propertyNames, items, minItems,
 * maxItems, minimum, maximum, minLength, maxLength (in bytes), format ("name":
 * letters, digits, '_', '-' and '.', not starting with '.', no ".."; and
 * "absolute-path": an absolute path on this platform), pattern (a POSIX
 * extended regular expression of at most RP__SCHEMA_PATTERN_MAX bytes, not
 * anchored unless it says so: "^/"), and the annotations description,
 * default, title, examples and $comment, and secret (true: the value is a
 * secret; "userinfo": the user and password in a URL's user information
 * are): a secret value is never echoed in an error (its type alone is),
 * and rp__schema_redact hides it. Any other keyword makes the schema
 * itself invalid, so that a typo in a schema can never switch a check off
 * silently.
 */
#ifndef RP_CORE_SCHEMA_H
#define RP_CORE_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

#define RP__SCHEMA_MAX_DEPTH 32
/* rp__schema_validate_all reports at most this many errors, then stops. */
#define RP__SCHEMA_MAX_ERRORS  64
#define RP__SCHEMA_PATTERN_MAX 512

/* One step of a JSON path: an object key or an array index. */
struct rp__json_seg {
    const char *key; /* borrowed from the validated document; NULL for an index */
    size_t index;
};

/* The first error found. Keys in segv borrow from the document, so the
 * document must outlive the error. */
typedef struct rp__schema_error {
    char path[512];    /* "plugins.proc.enabled", "" for the top level */
    char message[512]; /* "expected boolean, got string \"yes\"" */
    struct rp__json_seg segv[RP__SCHEMA_MAX_DEPTH];
    int depth;
    int schema_is_broken; /* the schema, not the document, is at fault */
} rp__schema_error;

/*
 * Validates doc against schema. Returns 0 when valid, RP_ERR_CONFIG when the
 * document is invalid and RP_ERR_INVAL when the schema is; err describes the
 * first problem in both cases. Both inputs are borrowed.
 */
int rp__schema_validate(const json_t *schema, const json_t *doc, rp__schema_error *err);

/* Called once per error by rp__schema_validate_all; err is valid for the
 * call only. */
typedef void (*rp__schema_report_fn)(void *arg, const rp__schema_error *err);

/*
 * Validates doc against schema and reports every error (up to
 * RP__SCHEMA_MAX_ERRORS), each with its own path: a value of the wrong type
 * is one error and what lies below it is not looked at; siblings, items and
 * missing required keys are all reported. Returns 0 when valid,
 * RP_ERR_CONFIG when anything was reported, RP_ERR_INVAL when the schema is
 * broken (err says where; errors reported before it stand). err is scratch
 * space owned by the caller.
 */
int rp__schema_validate_all(const json_t *schema, const json_t *doc, rp__schema_report_fn report,
                            void *arg, rp__schema_error *err);

/* Checks a schema on its own (keywords and their types). 0 or RP_ERR_INVAL. */
int rp__schema_check(const json_t *schema, rp__schema_error *err);

/* True if the string is a valid "name" (site names, plugin instance names). */
int rp__schema_is_name(const char *s);

/* Levenshtein distance between two strings of at most 63 bytes (99 for
 * longer ones), for "did you mean" hints. */
size_t rp__edit_distance(const char *a, const char *b);

/* Formats a path from segments into buf (always terminated). */
void rp__json_path_format(const struct rp__json_seg *segv, int depth, char *buf, size_t len);

/* Describes a value for an error message: string "yes", integer 5, object...
 * Strings are escaped and cut to a short prefix. */
void rp__json_describe(const json_t *v, char *buf, size_t len);

/*
 * True if a merge-patch layer sets the value at the path or one of its
 * parents (to anything, null included): that layer is then where the value
 * at the path came from.
 */
int rp__json_layer_mentions(const json_t *layer, const struct rp__json_seg *segv, int depth);

/* Called by rp__schema_redact with each secret it finds (len bytes at s,
 * valid for the call only). */
typedef void (*rp__schema_secret_fn)(void *arg, const char *s, size_t len);

/*
 * Finds every non-empty string of doc at a place its schema marks "secret"
 * (anything inside a secret object or array too), hands it to found (may be
 * NULL), and with replace set replaces it in doc by "<redacted>" (for
 * "userinfo", the URL keeps everything but its user information:
 * "http://<redacted>@proxy:3128"). What the schema does not describe is
 * left alone. The schema is borrowed; doc is changed in place.
 */
void rp__schema_redact(const json_t *schema, json_t *doc, int replace, rp__schema_secret_fn found,
                       void *arg);

#endif
