/*
 * plugins/detector_sigma/engine.h - a compiled, indexed set of Sigma rules
 * evaluated against events.
 *
 * The engine turns loaded rules (rule.h) into compiled rules: every field
 * name mapped from Sigma's taxonomy to the agent's ECS fields (fieldmap.h),
 * every value compiled into matchers (match.h), the condition kept as a tree
 * over selections. Rules are bucketed by event type (a log source stands for
 * one or more event types, DS_EVENT_TYPES), and what each rule requires is
 * indexed per field: exact values in a hash map, contains / startswith /
 * endswith literals (and the literal a regex needs) in one multi-pattern
 * automaton (ac.h). An event then only evaluates the rules whose
 * requirement one of its values meets, plus the rules that require nothing
 * the index can see (all requirements negated, or only numbers, cidr,
 * exists...), which run on every event of their bucket.
 *
 * Nothing is allocated per event: ds_engine_eval uses scratch memory sized
 * when the set was built.
 *
 * Threads: building is single-threaded; a built engine is evaluated from
 * one thread at a time (the scratch and the regex match data are shared).
 * The detector keeps one engine per rule set and swaps the whole set on
 * reload.
 *
 * Lifetime: ds_engine_create, ds_engine_add_* (any number), ds_engine_build
 * once, then ds_engine_eval any number of times; ds_engine_destroy frees
 * everything (NULL is a no-op). add after build returns RP_ERR_BUSY.
 */
#ifndef RP_DETECTOR_SIGMA_ENGINE_H
#define RP_DETECTOR_SIGMA_ENGINE_H

#include "fieldmap.h"
#include "match.h"
#include "rule.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The event types rules are bucketed by, and the log sources that cover
 * them (a rule of a log source joins the bucket of each of its types):
 *   process.exec     process_creation
 *   file.create      file_event
 *   file.modify      file_event, file_change
 *   file.rename      file_event (the new name), file_rename
 *   file.delete      file_delete
 *   network.connect  network_connection (Initiated: true)
 *   network.accept   network_connection (Initiated: false)
 * file_event covers modify and rename because a file written over or moved
 * into place (a cron entry, an ssh key) is what the public Linux rules mean
 * by "a file event at this path". */
enum ds_event_type {
    DS_EV_PROCESS_EXEC,
    DS_EV_FILE_CREATE,
    DS_EV_FILE_MODIFY,
    DS_EV_FILE_RENAME,
    DS_EV_FILE_DELETE,
    DS_EV_NETWORK_CONNECT,
    DS_EV_NETWORK_ACCEPT,
    DS_EV_COUNT
};

/* The type's name ("process.exec"); "?" out of range. */
const char *ds_event_type_name(int type);
/* The enum ds_event_type of name[0..len), or -1 when rules never see it. */
int ds_event_type_lookup(const char *name, size_t len);
/* Whether a rule of log source ls (enum ds_logsource) runs on type. */
bool ds_logsource_covers(int ls, int type);

/* How one event is read. The engine asks for fields by slot: a dense index
 * (0 .. ds_engine_slot_count - 1) it gave each ECS field name the rules use
 * (ds_engine_slot_name), so the caller resolves names once after build
 * (the detector to rp_field_id, rules test to JSON keys). */
struct ds_view {
    /* The value of slot's field as text: 1 and *value / *len (borrowed until
     * the evaluation returns) when the event has it, 0 when it has not.
     * Numbers in decimal, booleans "true" / "false", IP addresses in their
     * usual text form. Asked at most once per slot per evaluation. */
    int (*get)(void *ctx, uint32_t slot, const char **value, size_t *len);
    /* For keyword rules (values without a field): the event's i-th string
     * value, i from 0 upwards, 1 while there is one, 0 past the last. NULL:
     * the event has none. */
    int (*string_at)(void *ctx, uint32_t i, const char **value, size_t *len);
    void *ctx;
};

/* Whether any collector fills field (an ECS name) for events of type (enum
 * ds_event_type): nonzero yes. */
typedef int (*ds_filled_fn)(void *ctx, int type, const char *field);

struct ds_engine_opts {
    /* The field mapping; borrowed until ds_engine_destroy. NULL: the
     * built-in table (ds_fieldmap_builtin). */
    const struct ds_fieldmap *fieldmap;
    /* Field names are used as written, not mapped (rules test --raw-fields). */
    bool raw_fields;
    /* Every rule runs on every event whatever its log source, and rules of
     * any product and log source load (rules test). Events are then
     * evaluated with type -1. */
    bool any_logsource;
    /* Evaluate every rule of the bucket on every event (the benchmark's
     * comparison); the result is the same, only slower. */
    bool no_index;
    /* What the collectors fill. NULL: every field counts as filled, so no
     * rule is reported dead for it (an unmapped field still makes a rule
     * dead). Not asked with any_logsource or raw_fields. */
    ds_filled_fn filled;
    void *filled_ctx;
    /* Placeholders of the `expand` modifier and the regex limits (match.h);
     * the placeholders are borrowed until the last ds_engine_add_*, since
     * rules compile as they are added. */
    struct ds_match_opts match;
};

/* A rule's fate in the set, for reports. */
enum ds_status {
    DS_ST_LOADED,   /* compiled and in the index */
    DS_ST_DEAD,     /* compiled, but can never match here (msg says why) */
    DS_ST_SKIPPED,  /* not loaded: reason and msg say why */
    DS_ST_DISABLED, /* refused by the caller's accept filter (tuning) */
};

struct ds_report {
    const char *path; /* the file, borrowed for the callback */
    enum ds_status status;
    enum ds_reason reason; /* DS_LOADED unless skipped */
    enum ds_logsource logsource;
    int linux_product;
    const struct ds_rule *rule; /* the rule's metadata; NULL when skipped */
    /* Why dead, skipped or disabled; "" when loaded. Dead: "can never match: "
     * and, for each absent field, "field process.parent.executable (Sigma
     * ParentImage) is not filled for file_event", "field LogonId (Sigma
     * LogonId) has no ECS field on this agent (process_creation)" or "field
     * Foo (Sigma Foo) has no ECS mapping for process_creation", joined by
     * "; ". */
    char msg[512];
};

struct ds_engine;
struct ds_crule; /* a compiled rule, owned by its engine */

int ds_engine_create(const struct ds_engine_opts *opts, struct ds_engine **out);
void ds_engine_destroy(struct ds_engine *eng);

/* Called for each parsed rule before it is compiled: return false to leave
 * it out (DS_ST_DISABLED, with why[0..whylen) saying which setting did).
 * relpath is the file's path under the folder given to ds_engine_add_dir. */
typedef bool (*ds_accept_fn)(void *ctx, const struct ds_rule *rule, const char *relpath, char *why,
                             size_t whylen);
/* Called once per file with its fate; the report is borrowed for the call. */
typedef void (*ds_report_fn)(void *ctx, const struct ds_report *rep);

/* Loads every *.yml / *.yaml file under dir (recursively, in name order,
 * at most DS_DIR_DEPTH_MAX folders deep and DS_DIR_FILES_MAX files; symbolic
 * links are not followed, each file is opened once with O_NOFOLLOW and
 * checked to be a regular file). accept and report may be NULL. A file that
 * does not load is reported and the others still load. A rule whose id is
 * already in the set is skipped (reason duplicate id). Returns 0, or
 * RP_ERR_IO when dir itself cannot be read (err says why), RP_ERR_RANGE past
 * a cap, RP_ERR_NOMEM. */
#define DS_DIR_DEPTH_MAX 16u
#define DS_DIR_FILES_MAX 65536u
int ds_engine_add_dir(struct ds_engine *eng, const char *dir, ds_accept_fn accept,
                      ds_report_fn report, void *ctx, char *err, size_t errlen);

/* Loads one file (any name): the same as one file of a folder. */
int ds_engine_add_file(struct ds_engine *eng, const char *path, ds_accept_fn accept,
                       ds_report_fn report, void *ctx);

/* Adds an already loaded rule; the engine takes it (also on failure).
 * *out (may be NULL) gets the compiled rule, NULL unless it is LOADED or
 * DEAD. rep (may be NULL) is filled. */
int ds_engine_add_rule(struct ds_engine *eng, struct ds_rule *rule, const char *path,
                       struct ds_report *rep, const struct ds_crule **out);

/* Builds the buckets, the index and the scratch. Returns 0 or RP_ERR_NOMEM. */
int ds_engine_build(struct ds_engine *eng);

/* Field slots, after build. */
uint32_t ds_engine_slot_count(const struct ds_engine *eng);
const char *ds_engine_slot_name(const struct ds_engine *eng, uint32_t slot);

/* Rules in the set (LOADED and DEAD), in load order, and their metadata. */
uint32_t ds_engine_rule_count(const struct ds_engine *eng);
const struct ds_crule *ds_engine_rule_at(const struct ds_engine *eng, uint32_t i);
const struct ds_rule *ds_crule_rule(const struct ds_crule *r);
const char *ds_crule_path(const struct ds_crule *r);
bool ds_crule_dead(const struct ds_crule *r);
uint32_t ds_crule_index(const struct ds_crule *r); /* its i in ds_engine_rule_at */

/* A match: the rule (owned by the engine) for the callback. Return 0 to go
 * on, nonzero to stop the evaluation (ds_engine_eval then returns it). */
typedef int (*ds_match_fn)(void *ctx, const struct ds_crule *rule);

struct ds_eval_stats {
    uint32_t candidates; /* rules whose condition was tested beyond the index */
    uint32_t matched;
};

/* Evaluates the event (type: enum ds_event_type, or -1 with any_logsource)
 * and calls match for each rule whose condition holds, in load order.
 * stats may be NULL. Never allocates. Returns 0 or what match returned. */
int ds_engine_eval(struct ds_engine *eng, int type, const struct ds_view *view, ds_match_fn match,
                   void *ctx, struct ds_eval_stats *stats);

/* Whether one rule's condition holds for the event, without the index
 * (exceptions, and `rules test` explaining a match). */
bool ds_engine_eval_rule(struct ds_engine *eng, const struct ds_crule *rule,
                         const struct ds_view *view);

/* The names of the rule's selections that hold for the event, joined by
 * ", " into buf (NUL-terminated, cut at buflen): why a rule matched. */
int ds_engine_explain(struct ds_engine *eng, const struct ds_crule *rule,
                      const struct ds_view *view, char *buf, size_t buflen);

/* Regex matches that hit a PCRE2 limit, over every rule (counted as no
 * match). */
uint64_t ds_engine_regex_errors(const struct ds_engine *eng);
/* Bytes the engine holds (rules, matchers, index), for reports. */
size_t ds_engine_memory(const struct ds_engine *eng);

#endif
