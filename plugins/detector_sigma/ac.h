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
 * Memory: transitions are precomputed through the failure links over byte
 * classes (the distinct bytes the patterns use, plus one class for every
 * other byte). The states nearest the root, where a scan spends nearly all
 * of its bytes, have dense rows (one table load per byte) up to a budget,
 * DS_AC_DENSE_DEFAULT bytes unless ds_ac_set_dense_max says otherwise; the
 * deeper states keep only the few classes where they differ from a dense
 * state on their failure chain (a short search, then one load), because
 * dense rows for all of them would take tens of MB for a few thousand
 * patterns. ds_ac_memory says what it holds. Caps: DS_AC_PATTERNS_MAX
 * patterns, DS_AC_PATTERN_MAX bytes each, DS_AC_STATES_MAX states; ds_ac_add
 * refuses past them (RP_ERR_RANGE). Each pattern is held once (a state
 * links to the next state on its failure chain that ends patterns), so
 * patterns that are suffixes of each other cost no more than others.
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
/* Bytes of dense rows by default: every state of the SigmaHQ Linux rules'
 * automata (the biggest, CommandLine: 2,666 states, 57 classes, 0.6 MB),
 * while the thousands of Windows literals a `rules test` run may load stay
 * near 3 MB instead of 48. */
#define DS_AC_DENSE_DEFAULT (1024u * 1024u)

struct ds_ac;

int ds_ac_create(struct ds_ac **out);
void ds_ac_destroy(struct ds_ac *ac);

/* Adds pattern pat[0..len) (1 <= len; bytes A-Z are folded like the text)
 * with the caller's id; one pattern may be added under several ids, and
 * each is reported. Before ds_ac_build only (RP_ERR_BUSY after). */
int ds_ac_add(struct ds_ac *ac, const char *pat, size_t len, uint32_t id);

/* At most bytes of dense rows (the root's row is always dense; 0 makes
 * every other state sparse, SIZE_MAX every state dense). Before ds_ac_build
 * only (RP_ERR_BUSY after). */
int ds_ac_set_dense_max(struct ds_ac *ac, size_t bytes);

/* Builds the automaton, once (RP_ERR_BUSY after). An automaton without
 * patterns is valid and never reports. Returns 0 or RP_ERR_NOMEM; on an
 * error the automaton stays unbuilt and can only be destroyed. */
int ds_ac_build(struct ds_ac *ac);

/* One occurrence: pattern id ends at text offset end (one past its last
 * byte) and is len bytes long. Return 0 to go on, nonzero to stop the scan
 * (ds_ac_scan then returns it). */
typedef int (*ds_ac_hit_fn)(void *ctx, uint32_t id, size_t end, size_t len);

/* Reports every occurrence of every pattern in text[0..len), in order of
 * their end; hits with one end longest first, the ids of one pattern in the
 * order they were added. Never allocates. Returns 0, what hit returned, or
 * RP_ERR_INVAL before ds_ac_build. */
int ds_ac_scan(const struct ds_ac *ac, const char *text, size_t len, ds_ac_hit_fn hit, void *ctx);

/* Reports what the rule index needs, at a cost that the text's length
 * does not multiply: the first occurrence of each pattern (at its earliest
 * end; a prefix can only occur there), and every pattern that ends at the
 * text's end (suffixes, exact values). Other occurrences may or may not be
 * reported. ds_ac_scan reports every occurrence, so a pattern set whose
 * patterns are suffixes of each other ("a", "aa", ... 400 of them) makes it
 * report 400 hits per byte of "aaaa..."; this reports each pattern once, at
 * most 2 * patterns hits per scan whatever the text. seen is the caller's
 * scratch of ds_ac_state_count entries, gen a nonzero number no entry of it
 * holds (a new one per scan; clear seen when it wraps), so that scans from
 * several threads at once stay safe. Never allocates. Returns 0, what hit
 * returned, or RP_ERR_INVAL. */
int ds_ac_scan_first(const struct ds_ac *ac, const char *text, size_t len, uint32_t *seen,
                     uint32_t gen, ds_ac_hit_fn hit, void *ctx);

/* Patterns added, states (trie nodes before the build, the root
 * included), and bytes held. */
uint32_t ds_ac_pattern_count(const struct ds_ac *ac);
uint32_t ds_ac_state_count(const struct ds_ac *ac);
size_t ds_ac_memory(const struct ds_ac *ac);

#endif
