/*
 * plugins/detector_sigma/tune.h - the detector's config (its `config`
 * object) read into a struct, and the tuning decision that keeps a rule in
 * the set or leaves it out.
 *
 * Every setting a site changes is an object keyed by rule id, tag, level,
 * status or folder, so a site overlay (RFC 7386 merge patch) changes one
 * entry without restating the others (README.md lists the keys).
 *
 * Which setting decides whether a rule loads (ds_tune_accept):
 *  1. rules.<id>.enabled, when present, decides alone (a site can turn one
 *     rule on that a tag, level, status or folder turned off);
 *  2. otherwise the rule is left out when one of its tags has
 *     tags.<tag>.enabled false, levels.<level> or statuses.<status> is
 *     false, the deepest folders entry above its file is false, or its
 *     level is below min_level. A rule without a level counts as medium.
 * Tags compare without regard to ASCII case (as the response policy's do);
 * rule ids, statuses and folders exactly.
 *
 * Exceptions (rules.<id>.exceptions, tags.<tag>.exceptions) are kept as
 * YAML text (JSON is YAML) of one selection each, for ruleset.c to compile.
 *
 * Caps, refused with a message naming the key: DS_CONF_DIRS_MAX rule_dirs,
 * DS_CONF_ENTRIES_MAX entries in each of rules, tags, folders and
 * field_map, DS_CONF_EXCEPTIONS_MAX exceptions per entry, DS_CONF_KEY_MAX
 * bytes per key, DS_PLACEHOLDERS_MAX placeholders of at most
 * DS_PLACEHOLDER_VALUES_MAX values.
 *
 * A parsed conf is read-only: any thread may read it.
 */
#ifndef RP_DETECTOR_SIGMA_TUNE_H
#define RP_DETECTOR_SIGMA_TUNE_H

#include "match.h"
#include "rule.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DS_CONF_DIRS_MAX          64u
#define DS_CONF_ENTRIES_MAX       65536u
#define DS_CONF_EXCEPTIONS_MAX    64u
#define DS_CONF_KEY_MAX           256u
#define DS_PLACEHOLDERS_MAX       256u
#define DS_PLACEHOLDER_VALUES_MAX 1024u

/* Defaults of the keys a config leaves out. */
#define DS_THROTTLE_SECONDS_DEFAULT  60u
#define DS_THROTTLE_MAX_KEYS_DEFAULT 4096u

/* An entry of rules or tags. */
struct ds_tune_entry {
    char *key;         /* the rule id, or the tag lower-cased */
    int enabled;       /* -1 not set, 0 false, 1 true */
    char **exceptions; /* YAML text of each exception (a map, or a list of maps) */
    uint32_t n_exceptions;
};

/* An entry of statuses or folders. */
struct ds_tune_flag {
    char *key; /* a status, or a folder under a rule_dir without ./ or a trailing / */
    int on;
};

/* An entry of field_map. */
struct ds_tune_field {
    char *logsource; /* "process_creation", or "*" */
    char *sigma;
    char *ecs; /* "" : no field here */
};

struct ds_conf {
    char **rule_dirs;
    uint32_t n_rule_dirs;
    struct ds_tune_field *fields;
    uint32_t n_fields;
    struct ds_placeholder *placeholders; /* names and values owned by the conf */
    uint32_t n_placeholders;
    int min_level;                      /* enum ds_level, DS_LEVEL_INFO by default */
    int levels[6];                      /* by enum ds_level: -1 not set, 0 false, 1 true */
    struct ds_tune_entry *rules, *tags; /* sorted by key */
    uint32_t n_rules, n_tags;
    struct ds_tune_flag *statuses, *folders; /* sorted by key */
    uint32_t n_statuses, n_folders;
    uint32_t throttle_seconds; /* 0: no throttling */
    uint32_t throttle_max_keys;
};

/* Reads the config's JSON text json[0..len) (the host validated it against
 * the schema; the checks are made again here, since unit tests and
 * rampartctl hand in text of their own). Returns 0 and *out (the caller's:
 * ds_conf_destroy); RP_ERR_CONFIG with a sentence in err naming the key
 * ("rule_dirs[1]: \"rules\" is not an absolute path"); RP_ERR_NOMEM. */
int ds_conf_parse(const char *json, size_t len, struct ds_conf **out, char *err, size_t errlen);
void ds_conf_destroy(struct ds_conf *c);

/* The entry for a rule id / a tag (any case), or NULL. */
const struct ds_tune_entry *ds_conf_rule(const struct ds_conf *c, const char *id);
const struct ds_tune_entry *ds_conf_tag(const struct ds_conf *c, const char *tag);

/* Whether the rule (its id as the alerts give it, its metadata and its
 * file's path under its rule_dir) loads; false with why[0..whylen) naming
 * the setting that left it out ("disabled by tags.attack.t1059.enabled"). */
bool ds_tune_accept(const struct ds_conf *c, const char *id, const struct ds_rule *rule,
                    const char *relpath, char *why, size_t whylen);

/* enum ds_level of a Sigma level name ("high"), or -1; its name back. */
int ds_level_parse(const char *name);
const char *ds_level_name(int level);

#endif
