/*
 * plugins/detector_sigma/ruleset.h - one loaded rule set: the engine built
 * from a config (its rule_dirs, field_map, placeholders and tuning), the
 * compiled exceptions, what each rule's alerts say, and the fate of every
 * rule file for reports. The detector builds a new set at start and at each
 * reload and swaps the whole set, so a reload that fails leaves the running
 * set untouched.
 *
 * Rule ids: an alert's rule.id is the rule's Sigma `id`. A rule without
 * one, or whose id the alert contract refuses (1 to 128 bytes of printable
 * ASCII without spaces), gets "sigma-" and the first 16 hex digits of the
 * SHA-256 of its path under its rule_dir ("linux/x.yml"): stable while the
 * file keeps its place under the folder, whatever folder that is. Tuning
 * entries (rules.<id>) use the same id.
 *
 * Exceptions: each text of rules.<id>.exceptions and of the exceptions of
 * every tag of the rule is compiled, as the selection of a one-selection
 * rule of the rule's own log source (so Sigma field names map as the
 * rule's do), into a second engine made with any_logsource; the detector
 * evaluates them with ds_engine_eval_rule after a match. One that can never
 * hold (a field with no ECS field here) is noted and left out.
 *
 * A set is built on one thread and then only read, except its engines,
 * which the detector evaluates from its on_event thread alone.
 */
#ifndef RP_DETECTOR_SIGMA_RULESET_H
#define RP_DETECTOR_SIGMA_RULESET_H

#include "arena.h"
#include "engine.h"
#include "tune.h"

#include <stdint.h>

/* Caps: tags, tactics, techniques and authors an alert carries (the alert
 * contract's 32), notes kept (exceptions that can never hold). */
#define DS_ALERT_LIST_MAX 32u
#define DS_SET_NOTES_MAX  64u

/* What the alerts of one compiled rule say, prepared at build time. */
struct ds_rinfo {
    const struct ds_crule *crule;
    const char *id;   /* rule.id */
    const char *name; /* rule.name: the title, control characters blanked, cut at 256 bytes */
    const char *description, *reference, *license; /* NULL when the rule has none */
    const char *path;                              /* the file */
    const char *level;                             /* the level's name ("medium" when none) */
    uint32_t severity;                             /* event.severity from the level */
    uint64_t id_hash;                              /* ds_throttle_hash of id */
    /* NULL-terminated lists, or NULL when empty. */
    const char **tags, **tactic_ids, **tactic_names, **technique_ids, **authors;
    uint32_t n_tactic_names, n_authors;
    const struct ds_crule **exc; /* exceptions, in the set's exc engine */
    uint32_t n_exc;
};

/* Every rule file's fate, for `rampartctl plugin sigma rules`. */
struct ds_file {
    const char *path;
    const char *id, *title, *level; /* NULL when the file did not parse */
    enum ds_status status;
    const char *reason; /* ds_reason_name; NULL unless skipped */
    const char *msg;    /* "" when loaded */
};

struct ds_set {
    struct ds_engine *eng;
    struct ds_engine *exc; /* NULL without exceptions */
    struct ds_fieldmap *fmap;
    struct ds_arena arena;  /* every string and array below */
    struct ds_rinfo *rules; /* by ds_crule_index */
    uint32_t n_rules;
    struct ds_file *files;
    uint32_t n_files;
    uint32_t n_loaded, n_dead, n_skipped, n_disabled, n_exceptions;
    uint32_t types; /* bit 1 << t for each enum ds_event_type a live rule runs on */
    const char *notes[DS_SET_NOTES_MAX];
    uint32_t n_notes, notes_dropped;
    uint64_t build_ns; /* wall time the build took */
};

/* Checks what the schema cannot: each field_map entry (ds_fieldmap_set)
 * and that each exception is a valid Sigma selection. RP_ERR_CONFIG with
 * err naming the key; RP_ERR_NOMEM. */
int ds_conf_check(const struct ds_conf *c, char *err, size_t errlen);

/* Builds a set from c (which must outlive it: the engine keeps the
 * placeholders). filled (may be NULL) says what the collectors fill. Returns
 * 0; RP_ERR_IO when a rule_dir cannot be read, RP_ERR_CONFIG for a config
 * the engine refuses (err says which folder or key and why); RP_ERR_NOMEM;
 * RP_ERR_RANGE past a cap of ds_engine_add_dir. */
int ds_set_build(const struct ds_conf *c, ds_filled_fn filled, void *filled_ctx,
                 struct ds_set **out, char *err, size_t errlen);
void ds_set_destroy(struct ds_set *s);

/* The alert's rule.id for a rule (its Sigma id when the alert contract
 * takes it) at relpath under its rule_dir, into buf (at least 23 bytes). */
const char *ds_rule_alert_id(const struct ds_rule *rule, const char *relpath, char *buf,
                             size_t buflen);

/* The `rules` reply: a JSON object {"rules": [...]} of the files from
 * *next on, at most max_bytes long; *next moves past the files given and
 * equals n_files at the end. malloc'd text (free), or NULL without memory. */
char *ds_set_rules_json(const struct ds_set *s, uint32_t *next, size_t max_bytes);

/* The status's name: "loaded", "dead", "skipped", "disabled". */
const char *ds_status_name(int status);

#endif
