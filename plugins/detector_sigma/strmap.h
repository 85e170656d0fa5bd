/*
 * plugins/detector_sigma/strmap.h - a small open-addressing hash map from
 * byte strings to a uint32_t, for the engine: field slots by ECS name, rule
 * ids, and the index's exact values. Keys are borrowed: the caller keeps
 * them alive (and unchanged) as long as the map. A map made with fold set
 * compares and hashes keys with A-Z read as a-z, so an event's value is
 * looked up without a folded copy.
 *
 * Cap: DS_STRMAP_MAX keys; ds_strmap_put refuses past it (RP_ERR_RANGE).
 * Lookups never allocate.
 */
#ifndef RP_DETECTOR_SIGMA_STRMAP_H
#define RP_DETECTOR_SIGMA_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DS_STRMAP_MAX (1u << 24)

struct ds_strmap_ent {
    const char *key; /* NULL: empty */
    uint32_t len;
    uint32_t hash;
    uint32_t val;
};

struct ds_strmap {
    struct ds_strmap_ent *ents; /* owned */
    uint32_t cap;               /* a power of two, or 0 */
    uint32_t n;
    bool fold;
};

void ds_strmap_init(struct ds_strmap *m, bool fold);
void ds_strmap_free(struct ds_strmap *m);

/* The value stored for key[0..len), or NULL. */
uint32_t *ds_strmap_get(const struct ds_strmap *m, const char *key, size_t len);

/* Stores val for key unless the key is there: *out (may be NULL) then points
 * at the stored value (the old one when the key existed, and *existed is
 * set). Returns 0, RP_ERR_RANGE past the cap, RP_ERR_NOMEM. */
int ds_strmap_put(struct ds_strmap *m, const char *key, size_t len, uint32_t val, uint32_t **out,
                  bool *existed);

/* Bytes the map holds. */
size_t ds_strmap_memory(const struct ds_strmap *m);

#endif
