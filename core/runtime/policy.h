/*
 * core/runtime/policy.h - the response policy: which alerts are only reported
 * (detect) and which are acted on (prevent), and with which actions.
 *
 * The policy is the top-level "policy" object of the agent configuration
 * (docs/config.md), objects keyed by id so that a site overlay (an RFC 7386
 * merge patch) can change or delete one entry:
 *
 *   {"default":  {"mode": "detect"},
 *    "rulesets": {"sigma": {"mode": "prevent", "actions": ["kill"]}},
 *    "rules":    {"<rule id>": {...}},
 *    "tags":     {"attack.t1059": {...}}}
 *
 * Resolution for one alert takes the single most specific entry that
 * matches, whole (no field is inherited from a less specific one): the
 * alert's rule id, else its tags, else its ruleset, else the default. When
 * several tag entries match, prevent wins over detect and the actions of
 * every matching prevent entry are united (in the order of the alert's
 * tags), so the result does not depend on the order of the tags. Tags match
 * ASCII case-insensitively; rule ids and rulesets exactly.
 *
 * A policy is immutable once made and reference-counted, so the host can
 * swap it at a reload while alerts are being resolved on other threads.
 */
#ifndef RP_CORE_POLICY_H
#define RP_CORE_POLICY_H

#include "lib/schema.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Caps, checked when a policy is made (errors name the key). */
#define RP__POLICY_MAX_ACTIONS  8u    /* actions of one entry */
#define RP__POLICY_ACTION_MAX   32u   /* bytes of an action name */
#define RP__POLICY_KEY_MAX      128u  /* bytes of a rule id or tag */
#define RP__POLICY_RULESET_MAX  64u   /* bytes of a ruleset name */
#define RP__POLICY_MAX_RULES    4096u /* entries of policy.rules */
#define RP__POLICY_MAX_TAGS     1024u /* entries of policy.tags */
#define RP__POLICY_MAX_RULESETS 256u  /* entries of policy.rulesets */
/* Actions of one decision (the union of several tag entries): past it the
 * rest are left out and the decision says so (truncated). */
#define RP__POLICY_DECISION_ACTIONS 32u
/* Entries named in one decision's matched list. */
#define RP__POLICY_DECISION_MATCHED 8u

typedef struct rp__policy rp__policy;

/* What applies to one alert. Strings are borrowed from the policy, valid
 * while the caller holds a reference to it. */
typedef struct rp__policy_decision {
    uint32_t mode; /* RP_POLICY_DETECT or RP_POLICY_PREVENT */
    uint32_t nactions;
    const char *actions[RP__POLICY_DECISION_ACTIONS]; /* empty in detect mode */
    int truncated;                                    /* more actions than fit */
    uint32_t nmatched;
    /* The entries that decided, as config paths: "policy.rules.<id>",
     * "policy.tags.<tag>", "policy.rulesets.<name>" or "policy.default". */
    const char *matched[RP__POLICY_DECISION_MATCHED];
} rp__policy_decision;

/* Called once per error by rp__policy_create: segv[0..depth) is the path of
 * the value at fault ("policy", "rules", id, ...) and msg says what is wrong
 * ("expected \"detect\" or \"prevent\", got \"block\""). Both borrowed for the
 * call. */
typedef void (*rp__policy_report_fn)(void *arg, const struct rp__json_seg *segv, int depth,
                                     const char *msg);

/*
 * Makes a policy from the "policy" object (borrowed; NULL or absent keys mean
 * "detect, no actions" for everything). Every error is reported through
 * report (may be NULL) and makes the call return RP_ERR_CONFIG; RP_ERR_NOMEM
 * when out of memory. With out NULL the object is only checked. On success
 * *out holds one reference for the caller.
 */
int rp__policy_create(const json_t *policy, rp__policy_report_fn report, void *arg,
                      rp__policy **out);

/* References: any thread. Releasing NULL is a no-op. */
void rp__policy_retain(rp__policy *p);
void rp__policy_release(rp__policy *p);

/*
 * The decision for an alert with this rule id, ruleset and tags (tags: ntags
 * NUL-terminated strings, or NULL when ntags is 0). A NULL policy decides
 * "detect, no actions" (policy.default). Any thread.
 */
void rp__policy_resolve(const rp__policy *p, const char *rule_id, const char *ruleset,
                        const char *const *tags, uint32_t ntags, rp__policy_decision *out);

/* The forms the policy and alert_create share: a rule id or a tag is 1 to
 * RP__POLICY_KEY_MAX bytes of printable ASCII without spaces ('!' to '~');
 * a ruleset is a name (letters, digits, '_', '-', '.'; not starting with '.',
 * no "..") of at most RP__POLICY_RULESET_MAX bytes; an action is a lowercase
 * letter then lowercase letters, digits and '_', at most
 * RP__POLICY_ACTION_MAX bytes. s is NUL-terminated. */
int rp__policy_is_key(const char *s);
int rp__policy_is_ruleset(const char *s);
int rp__policy_is_action(const char *s);

/* "detect" or "prevent". */
const char *rp__policy_mode_name(uint32_t mode);

#endif
