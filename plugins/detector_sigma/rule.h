/*
 * plugins/detector_sigma/rule.h - one Sigma rule file parsed into a rule:
 * its metadata, log source, detection (named selections of field
 * conditions) and condition tree (cond.h). The loader checks the rule
 * language completely, so that a rule that loads here only waits for the
 * evaluator; it matches nothing itself.
 *
 * Each file ends as LOADED or SKIPPED with one reason code of
 * enum ds_reason and a message naming the file, the line and column, the
 * field and what was expected ("r.yml:12:9: detection.sel.Image|foo:
 * unknown modifier 'foo', expected a modifier of the Sigma specification").
 *
 * Caps, each reported as too_large with the cap named:
 *   DS_RULE_FILE_MAX   bytes in a rule file (1 MiB)
 *   DS_YAML_DEPTH_MAX  nesting of YAML maps and lists (32)
 *   DS_YAML_NODES_MAX  YAML nodes, scalars and containers (65536)
 *   DS_SCALAR_MAX      bytes in one YAML scalar (64 KiB)
 *   DS_MAP_MAX         entries in the rule's top map, in logsource and in
 *                      detection (256)
 *   DS_SEL_ITEMS_MAX   maps in one selection's list, fields in one map (1024)
 *   DS_VALUES_MAX      values of one field condition or keyword list (16384)
 *   DS_CONDITIONS_MAX  conditions in a condition list (16)
 *   DS_RULE_MEM_MAX    memory of one loaded rule (16 MiB)
 * YAML anchors and aliases are refused (yaml_alias) rather than expanded:
 * Sigma rules do not use them, and an alias bomb is a few lines of YAML.
 * A file with more than one YAML document (Sigma 1.x rule collections) is
 * skipped as rule_collection.
 *
 * Log sources: a rule loads when its logsource has product linux or no
 * product, no service, and a category this agent collects on Linux
 * (process_creation, file_event, file_change, file_delete, file_rename,
 * network_connection). Other products are not_linux_logsource; Linux rules
 * of other categories or services are logsource_not_collected. The language
 * is checked before the log source, so a Windows rule with an unknown
 * modifier is reported for the modifier: `rules check` then tells rule
 * authors about every language problem, whatever the rule's product.
 */
#ifndef RP_DETECTOR_SIGMA_RULE_H
#define RP_DETECTOR_SIGMA_RULE_H

#include "arena.h"
#include "cond.h"
#include "mod.h"

#include <stddef.h>
#include <stdint.h>

#define DS_RULE_FILE_MAX  (1024u * 1024u)
#define DS_YAML_DEPTH_MAX 32u
#define DS_YAML_NODES_MAX 65536u
#define DS_SCALAR_MAX     65536u
#define DS_MAP_MAX        256u
#define DS_SEL_ITEMS_MAX  1024u
#define DS_VALUES_MAX     16384u
#define DS_CONDITIONS_MAX 16u
#define DS_RULE_MEM_MAX   (16u * 1024u * 1024u)

/* How a file ended: DS_LOADED or why it was skipped. ds_reason_name gives
 * the code users see, ds_reason_class its kind. */
enum ds_reason {
    DS_LOADED,
    DS_SKIP_IO,               /* io_error: the file cannot be read */
    DS_SKIP_TOO_LARGE,        /* too_large: a cap above */
    DS_SKIP_YAML,             /* yaml_error: not well-formed YAML */
    DS_SKIP_YAML_ALIAS,       /* yaml_alias: an anchor or alias */
    DS_SKIP_RULE_COLLECTION,  /* rule_collection: several YAML documents */
    DS_SKIP_NOT_A_RULE,       /* not_a_rule: no map, or no detection */
    DS_SKIP_CORRELATION,      /* correlation_rule: a Sigma correlation (meta) rule */
    DS_SKIP_FILTER,           /* filter_rule: a Sigma filter (meta) rule */
    DS_SKIP_BAD_FIELD,        /* bad_field: a metadata field of the wrong type or value */
    DS_SKIP_BAD_DETECTION,    /* bad_detection: a selection of the wrong shape */
    DS_SKIP_UNKNOWN_MODIFIER, /* unknown_modifier: the message names it */
    DS_SKIP_BAD_MODIFIER,     /* bad_modifier: a combination or value a modifier refuses */
    DS_SKIP_BAD_CONDITION, /* bad_condition: the condition does not parse or names no selection */
    DS_SKIP_NOT_LINUX,     /* not_linux_logsource: another product */
    DS_SKIP_NOT_COLLECTED, /* logsource_not_collected: a Linux source the agent does not collect */
    DS_SKIP_DUPLICATE_ID,  /* duplicate_id: a rule with this id is already in the set (engine.h) */
    DS_SKIP_PLACEHOLDER,   /* placeholder_unset: `expand` names a placeholder config lacks */
    DS_REASON_COUNT
};

enum ds_reason_class {
    DS_CLASS_LOADED,
    DS_CLASS_INPUT,    /* the file: unreadable, too large, not YAML, not a rule */
    DS_CLASS_LANGUAGE, /* the rule language: fields, detection, modifiers, condition */
    DS_CLASS_SCOPE     /* a valid rule this engine does not run (log source, meta-rule) */
};

/* The code of a reason ("unknown_modifier"); "?" out of range. */
const char *ds_reason_name(int reason);
/* The enum ds_reason_class of a reason. */
int ds_reason_class(int reason);

/* The log sources collected on Linux; DS_LS_NONE for every other one. */
enum ds_logsource {
    DS_LS_NONE,
    DS_LS_PROCESS_CREATION,
    DS_LS_FILE_EVENT,
    DS_LS_FILE_CHANGE,
    DS_LS_FILE_DELETE,
    DS_LS_FILE_RENAME,
    DS_LS_NETWORK_CONNECTION,
    DS_LS_COUNT
};

/* The category name of a log source ("process_creation"); "none" for NONE. */
const char *ds_logsource_name(int ls);

enum ds_level {
    DS_LEVEL_NONE,
    DS_LEVEL_INFO,
    DS_LEVEL_LOW,
    DS_LEVEL_MEDIUM,
    DS_LEVEL_HIGH,
    DS_LEVEL_CRITICAL
};

/* A value of a field condition or keyword list as YAML wrote it. Plain
 * (unquoted) scalars are typed: null / ~ / empty is DS_VAL_NULL, true and
 * false DS_VAL_BOOL, decimal integers DS_VAL_INT (i holds them); everything
 * else, and every quoted scalar, is DS_VAL_STRING. s is always the text. */
enum ds_value_kind { DS_VAL_STRING, DS_VAL_NULL, DS_VAL_BOOL, DS_VAL_INT };

struct ds_value {
    const char *s; /* NUL-terminated; len bytes (a YAML escape may put a NUL inside) */
    size_t len;
    enum ds_value_kind kind;
    int64_t i; /* DS_VAL_INT: the number; DS_VAL_BOOL: 1 or 0 */
};

/* One `field|mods: values` entry. spec.field is NULL (field_len 0) for a
 * keyword list or a `|mod` key without a field: then the values are searched
 * in the event's string fields. The values are ORed unless spec has `all`. */
struct ds_field_cond {
    struct ds_field_spec spec; /* spec.field points into key */
    const char *key;           /* the whole key as written ("Image|endswith") */
    struct ds_value *values;
    uint32_t n_values;
    uint32_t line, col; /* of the key, 1-based */
};

/* A map of field conditions, all of which must hold. */
struct ds_group {
    struct ds_field_cond *conds;
    uint32_t n_conds;
};

enum ds_sel_kind {
    DS_SEL_MAP,     /* a map: one group */
    DS_SEL_MAPS,    /* a list of maps: one of the groups holds */
    DS_SEL_KEYWORDS /* a list of values: one group of one keyword condition */
};

struct ds_selection {
    const char *name;
    enum ds_sel_kind kind;
    struct ds_group *groups;
    uint32_t n_groups;
    uint32_t line, col;
};

struct ds_strs {
    const char **v;
    uint32_t n;
};

/* A loaded rule. Everything it points to lives in its arena and is freed by
 * ds_rule_destroy. Absent optional fields are NULL (strings) or empty. */
struct ds_rule {
    struct ds_arena arena;
    const char *path;
    const char *id, *title, *status, *level_name, *description, *author, *license;
    enum ds_level level;
    struct ds_strs references, tags, falsepositives;
    const char *product, *category, *service;
    enum ds_logsource logsource;
    struct ds_selection *sels;
    const char **sel_names; /* sels[i].name, for ds_cond_parse */
    uint32_t n_sels;
    const char **conditions; /* as written */
    uint32_t n_conditions;
    struct ds_cond_node *cond; /* the condition, or the OR of a condition list */
};

/* What loading a file gave. logsource and linux_product are filled as soon
 * as the logsource was read, also for a rule skipped later, so a report can
 * count Linux rules refused for their language. */
struct ds_load_result {
    enum ds_reason reason;
    enum ds_logsource logsource;
    int linux_product; /* logsource.product is linux */
    char msg[512];     /* "" when loaded */
};

/* Parses the rule in data[0..len) (borrowed); name is the file name the
 * messages give. Returns 0 and *out (the caller's, ds_rule_destroy) when the
 * rule loaded; 0 and *out NULL when it was skipped (res says why); RP_ERR_NOMEM
 * without memory. res is always filled. */
int ds_rule_load_buffer(const char *name, const char *data, size_t len, struct ds_rule **out,
                        struct ds_load_result *res);

/* Flags of ds_rule_load_buffer_flags. DS_LOAD_ANY_LOGSOURCE: the log
 * source is not checked, so rules of every product and category load (for
 * `rules test`); logsource is DS_LS_NONE for a category not collected. */
#define DS_LOAD_ANY_LOGSOURCE 1u

/* ds_rule_load_buffer with flags (0: the same). */
int ds_rule_load_buffer_flags(const char *name, const char *data, size_t len, unsigned flags,
                              struct ds_rule **out, struct ds_load_result *res);

/* The same for the file at path, read once (at most DS_RULE_FILE_MAX bytes). */
int ds_rule_load_file(const char *path, struct ds_rule **out, struct ds_load_result *res);

/* Frees a rule; NULL is a no-op. */
void ds_rule_destroy(struct ds_rule *rule);

#endif
