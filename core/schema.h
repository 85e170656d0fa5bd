/*
 * core/schema.h - validation of JSON documents against a small, strict subset
 * of JSON Schema. It checks the core configuration and, before init, each
 * plugin's config against the schema the plugin declares.
 *
 * Supported keywords: type (a name or an array of names: object, array,
 * string, integer, number, boolean, null), enum, properties, required,
 * additionalProperties (boolean or schema), propertyNames, items, minItems,
 * maxItems, minimum, maximum, minLength, maxLength (in bytes), format ("name":
 * letters, digits, '_', '-' and '.', not starting with '.', no ".."), and the
 * annotations description, default, title, examples and $comment. Any other
 * keyword makes the schema itself invalid, so that a typo in a schema can
 * never switch a check off silently.
 */
#ifndef RP_CORE_SCHEMA_H
#define RP_CORE_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

#define RP__SCHEMA_MAX_DEPTH 32

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

/* Checks a schema on its own (keywords and their types). 0 or RP_ERR_INVAL. */
int rp__schema_check(const json_t *schema, rp__schema_error *err);

/* True if the string is a valid "name" (site names, plugin instance names). */
int rp__schema_is_name(const char *s);

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

#endif
