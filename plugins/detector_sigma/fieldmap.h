/*
 * plugins/detector_sigma/fieldmap.h - Sigma's field taxonomy mapped to the
 * agent's ECS fields, per log source, in one table users extend in config
 * (detector config key `field_map`).
 *
 * The built-in table covers the fields of SigmaHQ's Linux rules for the log
 * sources the agent collects (Image -> process.executable, CommandLine ->
 * process.command_line, TargetFilename -> file.path, DestinationIp ->
 * destination.ip, ...). Lookup order: the entry for the rule's log source,
 * then the entry for every log source ("*"); a name with a dot that no entry
 * maps is taken as an ECS name as written ("process.name"). A Sigma name
 * mapped to "" is known to have no ECS field here (LogonId): a rule on it is
 * reported "can never match".
 *
 * Some Sigma fields hold values the agent writes differently: Initiated
 * ('true' / 'false') is network.direction ("egress" / "ingress"). An entry
 * may carry such a value map; the engine rewrites the rule's values when it
 * compiles them.
 *
 * Caps: DS_FIELDMAP_MAX entries (the built-in ones included), names of at
 * most DS_FIELDMAP_NAME_MAX bytes; past them ds_fieldmap_set refuses.
 */
#ifndef RP_DETECTOR_SIGMA_FIELDMAP_H
#define RP_DETECTOR_SIGMA_FIELDMAP_H

#include <stddef.h>

#define DS_FIELDMAP_MAX      1024u
#define DS_FIELDMAP_NAME_MAX 128u

struct ds_fieldmap;

/* One value rewrite of an entry: a rule value equal to sigma (ASCII case
 * ignored) becomes ecs. */
struct ds_valuemap {
    const char *sigma;
    const char *ecs;
};

/* A table holding the built-in entries. The caller owns it. */
int ds_fieldmap_create(struct ds_fieldmap **out);
void ds_fieldmap_destroy(struct ds_fieldmap *m);

/* Adds or replaces the entry for sigma_name under logsource (a category
 * name such as "process_creation", or "*" for every log source). ecs "" means
 * "no field here". Names are copied. Returns 0, RP_ERR_INVAL for an empty or
 * malformed name (err says which and why), RP_ERR_RANGE past a cap. */
int ds_fieldmap_set(struct ds_fieldmap *m, const char *logsource, const char *sigma_name,
                    const char *ecs, char *err, size_t errlen);

/* The ECS name for sigma[0..len) in a rule of log source ls (enum
 * ds_logsource): the name, "" when mapped to nothing, NULL when the table
 * has no entry and the name has no dot. A dotted name without an entry is
 * returned as sigma itself (the same pointer: len bytes, not necessarily
 * NUL-terminated). Sigma names compare ignoring ASCII case. *values (may be
 * NULL) gets the entry's value map, ending with a NULL sigma, or NULL. */
const char *ds_fieldmap_get(const struct ds_fieldmap *m, int ls, const char *sigma, size_t len,
                            const struct ds_valuemap **values);

#endif
