/*
 * plugins/detector_sigma/attack.h - MITRE ATT&CK ids from Sigma tags, for
 * the alert's threat.* fields.
 *
 * Sigma tags a rule with `attack.t1059.004` (a technique or sub-technique)
 * and `attack.execution` (a tactic, by its name). The 14 tactics of the
 * ATT&CK Enterprise matrix are mapped to their ids (TA0002) and names
 * ("Execution"); Sigma 1.x wrote multi-word names with underscores
 * (`attack.defense_evasion`), 2.x with hyphens, and both are read. Tags are
 * compared without regard to ASCII case. Other tags (`attack.g0032` groups,
 * `attack.s0002` software, `cve.*`, `detection.*`) give no id.
 *
 * Pure functions over their arguments: any thread.
 */
#ifndef RP_DETECTOR_SIGMA_ATTACK_H
#define RP_DETECTOR_SIGMA_ATTACK_H

#include <stddef.h>

/* One tactic of the Enterprise matrix. */
struct ds_tactic {
    const char *tag;  /* the Sigma tag without "attack.", hyphenated: "defense-evasion" */
    const char *id;   /* "TA0005" */
    const char *name; /* "Defense Evasion", as ECS threat.tactic.name */
};

#define DS_TACTIC_COUNT 14u

/* The tactic a tag names ("attack.execution"), or NULL. */
const struct ds_tactic *ds_attack_tactic(const char *tag);

/* The i-th tactic (0 .. DS_TACTIC_COUNT - 1), or NULL past them. */
const struct ds_tactic *ds_attack_tactic_at(size_t i);

/* Whether tag is a technique ("attack.t1059" or "attack.t1059.004"): then
 * 1, with its id upper-cased ("T1059.004") in buf (at least 10 bytes);
 * else 0 and buf untouched. */
int ds_attack_technique(const char *tag, char *buf, size_t buflen);

#endif
