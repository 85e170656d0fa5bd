/*
 * plugins/detector_sigma/engine_int.h - what the engine's files share
 * (engine.c: building and loading; compile.c: a rule into its compiled
 * form; eval.c: evaluation; index.c: the rule index). Not for callers:
 * engine.h is the interface.
 *
 * A compiled rule is flat: fields (one per detection item) grouped into
 * groups (AND), groups into selections (OR), and the condition as an array
 * of nodes over selections, with every part that depends only on absent
 * fields folded to a constant.
 */
#ifndef RP_DETECTOR_SIGMA_ENGINE_INT_H
#define RP_DETECTOR_SIGMA_ENGINE_INT_H

#include "arena.h"
#include "engine.h"
#include "strmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DS_NOSLOT UINT32_MAX

/* The bucket of every rule when any_logsource is set. */
#define DS_BUCKET_ANY DS_EV_COUNT
#define DS_BUCKETS    (DS_EV_COUNT + 1)

/* A compiled detection item. konst is -1 when it is evaluated per event,
 * else the item's fixed result (its field is absent for this rule). */
struct ds_cfield {
    struct ds_field *f;  /* owned (ds_field_destroy) */
    uint32_t slot;       /* the field's slot; DS_NOSLOT for keywords or an absent field */
    int8_t konst;        /* -1, 0 or 1 */
    bool keyword;        /* no field: searched in the event's string values */
    uint32_t *ref_slots; /* fieldref: the slot each value names (DS_NOSLOT: absent) */
    const char *sigma;   /* the field as the rule wrote it (NUL-terminated, arena) */
    const char *ecs;     /* the mapped name, NULL when unmapped (arena) */
};

struct ds_cgroup {
    uint32_t first, n; /* fields[first .. first + n), all must hold */
    int8_t konst;
};

struct ds_csel {
    const char *name;
    uint32_t first, n; /* groups[first .. first + n), one must hold */
    int8_t konst;
};

enum ds_cop { DS_CO_FALSE, DS_CO_TRUE, DS_CO_SEL, DS_CO_NOT, DS_CO_AND, DS_CO_OR };

struct ds_cnode {
    uint8_t op;   /* enum ds_cop */
    uint32_t arg; /* SEL: the selection; NOT, AND, OR: kids[arg .. arg + n) */
    uint32_t n;
};

struct ds_crule {
    struct ds_rule *rule; /* owned */
    const char *path;     /* arena */
    uint32_t index;       /* in the engine's load order */
    bool dead;
    struct ds_arena arena; /* everything below */
    struct ds_cfield *fields;
    uint32_t n_fields;
    struct ds_cgroup *groups;
    uint32_t n_groups;
    struct ds_csel *sels;
    uint32_t n_sels;
    uint32_t sel_base; /* where its selections' memo entries start in the engine */
    struct ds_cnode *nodes;
    uint32_t n_nodes;
    uint32_t *kids;
    uint32_t root;
    size_t mem; /* bytes of its matchers */
};

struct ds_index; /* index.c */

struct ds_engine {
    struct ds_engine_opts opts;
    struct ds_fieldmap *own_map; /* when opts.fieldmap was NULL */
    const struct ds_fieldmap *map;
    bool built;

    struct ds_crule **rules;
    uint32_t n_rules, cap_rules;
    struct ds_strmap ids; /* rule id -> index in rules */

    struct ds_strmap slots; /* ECS name -> slot */
    char **slot_names;      /* owned copies */
    uint32_t n_slots, cap_slots;

    uint32_t n_sels; /* selections over all rules: the memo's size */
    uint32_t max_refs;

    uint32_t *bucket[DS_BUCKETS]; /* rule indexes in load order */
    uint32_t n_bucket[DS_BUCKETS];

    /* Per-evaluation scratch, stamped with gen so nothing is cleared per
     * event. */
    uint32_t gen;
    const struct ds_view *view;
    uint32_t *slot_gen;
    const char **slot_val; /* NULL: the event lacks the field */
    size_t *slot_len;
    uint32_t *sel_gen;
    uint8_t *sel_val;
    const char **ref_val;
    size_t *ref_len;

    struct ds_index *index; /* NULL with no_index or any_logsource */
    size_t mem;             /* bytes of rules and scratch (the index adds its own) */
};

/* compile.c: turns rule into *out (owned by the caller, ds_crule_free);
 * fills rep (status LOADED, DEAD or SKIPPED with a reason and message).
 * Returns 0 or RP_ERR_NOMEM. */
int ds_crule_compile(struct ds_engine *eng, struct ds_rule *rule, const char *path,
                     struct ds_report *rep, struct ds_crule **out);
void ds_crule_free(struct ds_crule *r);
/* The slot of ECS name[0..len), made when new. Returns the slot or
 * DS_NOSLOT without memory. */
uint32_t ds_engine_slot(struct ds_engine *eng, const char *name, size_t len);
/* Whether the event types a rule runs on (bit t for each type, or every
 * bit with any_logsource). */
uint32_t ds_crule_types(const struct ds_engine *eng, const struct ds_crule *r);

/* eval.c: a new evaluation of view (the memo forgotten). */
void ds_eval_begin(struct ds_engine *eng, const struct ds_view *view);
/* The event's value of slot (memoised): true and *v, *len when present. */
bool ds_eval_slot(struct ds_engine *eng, uint32_t slot, const char **v, size_t *len);
bool ds_eval_crule(struct ds_engine *eng, const struct ds_crule *r);

/* index.c */
int ds_index_build(struct ds_engine *eng, struct ds_index **out);
void ds_index_destroy(struct ds_index *ix);
size_t ds_index_memory(const struct ds_index *ix);
/* Clears the candidate marks (when the generation counter wraps). */
void ds_index_forget(struct ds_index *ix, uint32_t n_rules);
/* Calls each candidate rule of bucket b for the event (ds_eval_begin
 * done), in load order; stops on a nonzero return of fn. */
int ds_index_eval(struct ds_engine *eng, struct ds_index *ix, int b,
                  int (*fn)(struct ds_engine *eng, uint32_t rule, void *ctx), void *ctx);

#endif
