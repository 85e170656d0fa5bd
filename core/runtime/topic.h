/*
 * core/runtime/topic.h - interned event types (bus topics) and subscription patterns.
 *
 * Topics are dotted names ("process.exec", "file.create", "alert"). Each
 * distinct name gets a small stable id for the life of the process, so the
 * bus routes by integer. At most RP__TOPIC_MAX topics exist; interning more
 * fails with RP_ERR_FULL.
 */
#ifndef RP_CORE_TOPIC_H
#define RP_CORE_TOPIC_H

#include <stddef.h>
#include <stdint.h>

#define RP__TOPIC_MAX      1024
#define RP__TOPIC_NAME_MAX 64

/* Valid topic: 1..64 bytes of [a-z0-9_] segments separated by single dots. */
int rp__topic_valid(const char *name, size_t len);

/* Interns a topic name (copied) and stores its id (>= 1) in *id. Thread-safe.
 * RP_ERR_INVAL for an invalid name, RP_ERR_FULL past RP__TOPIC_MAX. */
int rp__topic_intern(const char *name, size_t len, uint32_t *id);

/* The name of an id (static storage for the life of the process), or NULL. */
const char *rp__topic_name(uint32_t id);

/* Number of ids handed out so far (ids are 1..count). */
uint32_t rp__topic_count(void);

/*
 * Subscription patterns: an exact topic ("process.exec"), a prefix ending in
 * ".*" ("file.*" matches "file.create" and "file.x.y", not "file"), or "*"
 * for every topic. Returns 1 on a match, 0 otherwise.
 */
int rp__topic_pattern_valid(const char *pattern, size_t len);
int rp__topic_matches(const char *pattern, size_t plen, const char *topic);

#endif
