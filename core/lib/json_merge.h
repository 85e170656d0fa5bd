/* core/lib/json_merge.h - RFC 7386 JSON merge patch. */
#ifndef RP_CORE_JSON_MERGE_H
#define RP_CORE_JSON_MERGE_H

#include <jansson.h>

/*
 * Applies patch to target as RFC 7386 describes and returns the result as a
 * new reference (caller decrefs), or NULL when out of memory. Neither input is
 * modified; target may be NULL (treated as absent). Recursion is bounded by
 * the nesting of the patch, which jansson's parser caps at 2048 levels.
 */
json_t *rp__json_merge_patch(const json_t *target, const json_t *patch);

#endif
