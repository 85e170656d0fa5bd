/*
 * plugins/detector_sigma/throttle.h - at most one alert per key per window.
 *
 * The detector keys its alerts by (rule, process): the hash of the rule id
 * and the hash of process.entity_id (process.pid when the event has no
 * entity id). The first alert of a key opens a window of `window_ns`; the
 * alerts of that key inside it are suppressed and counted, and the first
 * alert of the key after the window passes, carrying that count, and opens
 * the next window. A count whose key never alerts again stays in the table
 * until the key is evicted (it was counted by the caller when suppressed).
 *
 * Keys are two 64-bit hashes (FNV-1a, ds_throttle_hash); two distinct
 * (rule, process) pairs sharing both would share a window, which at 128
 * bits does not happen in practice.
 *
 * Cap: at most max_keys keys (1 .. DS_THROTTLE_KEYS_MAX). A new key at the
 * cap evicts the key seen least recently (any check touches its key); its
 * pending count is lost and ds_throttle_check says so, for the caller's
 * counter. Memory is allocated once, at create: nothing per check.
 *
 * Threads: one thread at a time (the detector's on_event).
 */
#ifndef RP_DETECTOR_SIGMA_THROTTLE_H
#define RP_DETECTOR_SIGMA_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#define DS_THROTTLE_KEYS_MAX (1u << 20)

struct ds_throttle;

/* A table of at most max_keys keys and a window of window_ns (0: every
 * check passes and nothing is kept). Returns 0, RP_ERR_INVAL for max_keys 0
 * or past the cap, RP_ERR_NOMEM. */
int ds_throttle_create(uint32_t max_keys, uint64_t window_ns, struct ds_throttle **out);
void ds_throttle_destroy(struct ds_throttle *t);

/* What a check decided. */
struct ds_throttle_result {
    int pass;         /* 1: raise the alert; 0: suppressed */
    uint64_t carried; /* pass: alerts of this key suppressed since its last alert */
    int evicted;      /* another key was evicted to make room */
    uint64_t lost;    /* evicted: that key's pending suppressed count */
};

/* One alert of key (k1, k2) at now_ns (a monotonic clock). */
void ds_throttle_check(struct ds_throttle *t, uint64_t k1, uint64_t k2, int64_t now_ns,
                       struct ds_throttle_result *res);

/* Keys held now. */
uint32_t ds_throttle_size(const struct ds_throttle *t);

/* FNV-1a over s[0..len), chained from h (start with DS_THROTTLE_HASH_SEED). */
#define DS_THROTTLE_HASH_SEED 0xcbf29ce484222325ull
uint64_t ds_throttle_hash(uint64_t h, const void *s, size_t len);

#endif
