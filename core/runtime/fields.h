/*
 * core/runtime/fields.h - the field registry: interned field names with fixed types.
 *
 * The standard ECS fields Rampart emits are registered at start with their
 * types; plugins add custom fields outside the ECS field sets, typed by their
 * first registration. Ids are small integers, stable for the life of the
 * process, never reused. At most RP__FIELD_MAX fields exist (RP_ERR_FULL past
 * that); names are at most RP__FIELD_NAME_MAX bytes.
 */
#ifndef RP_CORE_FIELDS_H
#define RP_CORE_FIELDS_H

#include <rampart/plugin.h>

#include <stddef.h>
#include <stdint.h>

#define RP__FIELD_MAX      4096
#define RP__FIELD_NAME_MAX 128

/* Ids of the fields every event has; they are registered first, in this
 * order, so the core can use them without a lookup. */
#define RP__F_TIMESTAMP  ((rp_field_id)1)
#define RP__F_EVENT_ID   ((rp_field_id)2)
#define RP__F_EVENT_KIND ((rp_field_id)3)

/*
 * Interns name with the given RP_TYPE_*. Returns 0 and the id; RP_ERR_TYPE
 * when the name is known with another type; RP_ERR_NOTFOUND for an unknown
 * name inside an ECS field set (a typo like "process.pdi" must not become a
 * new field); RP_ERR_INVAL for a malformed name or type; RP_ERR_FULL at the
 * cap. Thread-safe.
 */
int rp__field_intern(const char *name, size_t len, uint32_t type, rp_field_id *out);

/* Looks a name up without registering it: 0 when unknown. Thread-safe. */
rp_field_id rp__field_lookup(const char *name, size_t len);

/* Name (NUL-terminated, static for the life of the process) and length, or
 * NULL for an unknown id. Lock-free. */
const char *rp__field_name(rp_field_id id, size_t *len);

/* Type of a known id, 0 for an unknown one. Lock-free. */
uint32_t rp__field_type(rp_field_id id);

/* Number of registered fields (ids are 1..count). */
uint32_t rp__field_count(void);

/* Name of a type ("i64", "string", ...) for messages. */
const char *rp__type_name(uint32_t type);

#endif
