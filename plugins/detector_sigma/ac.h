/*
 * plugins/detector_sigma/ac.h - a multi-pattern string matcher
 * (Aho-Corasick) over ASCII-case-folded text, for the rule index.
 *
 * The engine puts every literal one field's rules need (contains,
 * startswith, endswith, exact; already lower-cased by match.h) into one
 * automaton per field and event type, then scans each event's value once:
 * every occurrence of every pattern is reported with where it ends, so the
 * caller can tell a prefix (it ends at its own length), a suffix (it ends at
 * the value's end) or an exact value (both). The text is folded as it is
 * read (A-Z as a-z, every other byte as itself), so nothing is copied.
 *
 * Memory: transitions are kept dense over byte classes (the distinct bytes
 * the patterns use, plus one class for every other byte), so a scan is one
 * table load per byte; ds_ac_memory says what it holds. Caps:
 * DS_AC_PATTERNS_MAX patterns, DS_AC_PATTERN_MAX bytes each,
 * DS_AC_STATES_MAX states; ds_ac_add refuses past them (RP_ERR_RANGE).
 *
 * Threads: a built automaton is read-only; scans from several threads at
 * once are safe.
 */
#ifndef RP_DETECTOR_SIGMA_AC_H
#define RP_DETECTOR_SIGMA_AC_H

#include <stddef.h>
#include <stdint.h>

#define DS_AC_PATTERNS_MAX (1u << 20)
#define DS_AC_PATTERN_MAX  4096u
#define DS_AC_STATES_MAX   (1u << 22)

struct ds_ac;

int ds_ac_create(struct ds_ac **out);
void ds_ac_destroy(struct ds_ac *ac);

/* Adds pattern pat[0..len) (1 <= len; bytes A-Z are folded like the text)
 * with the caller's id; one pattern may be added under several ids, and
 * each is reported. Before ds_ac_build only (RP_ERR_BUSY after). */
int ds_ac_add(struct ds_ac *ac, const char *pat, size_t len, uint32_t id);

/* Builds the automaton. An automaton without patterns is valid and never
 * reports. Returns 0 or RP_ERR_NOMEM. */
int ds_ac_build(struct ds_ac *ac);

/* One occurrence: pattern id ends at text offset end (one past its last
 * byte) and is len bytes long. Return 0 to go on, nonzero to stop the scan
 * (ds_ac_scan then returns it). */
typedef int (*ds_ac_hit_fn)(void *ctx, uint32_t id, size_t end, size_t len);

/* Reports every occurrence of every pattern in text[0..len), in order of
 * their end. Never allocates. Returns 0 or what hit returned. */
int ds_ac_scan(const struct ds_ac *ac, const char *text, size_t len, ds_ac_hit_fn hit, void *ctx);

/* Patterns added, states built, and bytes held. */
uint32_t ds_ac_pattern_count(const struct ds_ac *ac);
uint32_t ds_ac_state_count(const struct ds_ac *ac);
size_t ds_ac_memory(const struct ds_ac *ac);

#endif
