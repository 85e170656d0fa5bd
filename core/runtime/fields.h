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

/*
 * rp__field_intern with the registering plugin recorded as the field's owner
 * (a short text such as "name (id)", copied; NULL stands for the agent). A
 * field's owner is whoever registered it first; on RP_ERR_TYPE *other (when
 * not NULL) is the owner's text, static for the life of the process, so a
 * refusal can name both plugins. Thread-safe.
 */
int rp__field_intern_owned(const char *name, size_t len, uint32_t type, const char *owner,
                           rp_field_id *out, const char **other);

/* The owner text of a known id ("the agent" for the host's own fields and
 * those registered without an owner), static for the life of the process;
 * NULL for an unknown id. */
const char *rp__field_owner(rp_field_id id);

/* 1 when name is a well-formed field name (see rp__field_intern). */
int rp__field_name_valid(const char *name, size_t len);

/* 1 when name is an ECS field set ("process") or lies under one
 * ("process.pid"): names there are only the ones the agent knows. */
int rp__field_under_ecs(const char *name, size_t len);

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
