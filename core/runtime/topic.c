/*
 * core/runtime/topic.c - interned event types (bus topics) and subscription patterns.
 *
 * Adding a topic is rare and takes a mutex. Finding a known one is
 * lock-free, because event_create does it for every event a plugin makes:
 * a name is written completely before the hash slot that leads to it is
 * published with release ordering, and slots and names never change
 * afterwards. Reading a name by id is lock-free for the same reason (the
 * count that makes an id visible is published last), for the bus and the
 * encoders.
 */
#include "runtime/topic.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <stdatomic.h>
#include <string.h>

/* Open-addressing hash of ids, twice the id cap so probes stay short. */
#define HASH_SLOTS (2 * RP__TOPIC_MAX)

_Static_assert((HASH_SLOTS & (HASH_SLOTS - 1)) == 0, "HASH_SLOTS must be a power of two");
_Static_assert(RP__TOPIC_MAX < 65536, "ids are stored as uint16_t in the hash");

static rp__os_static_mutex topic_lock = RP__OS_STATIC_MUTEX_INIT;
/* Index 0 is unused: id 0 means "no topic" everywhere. */
static char topic_names[RP__TOPIC_MAX + 1][RP__TOPIC_NAME_MAX + 1];
static uint8_t topic_lens[RP__TOPIC_MAX + 1];
static _Atomic uint16_t topic_hash[HASH_SLOTS]; /* 0 = empty slot, else an id */
static atomic_uint_least32_t topic_count;

static int is_segment_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

int rp__topic_valid(const char *name, size_t len)
{
    if (!name || len == 0 || len > RP__TOPIC_NAME_MAX)
        return 0;
    /* Segments are non-empty: no leading, trailing or doubled dot. */
    int prev_dot = 1;
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '.') {
            if (prev_dot)
                return 0;
            prev_dot = 1;
        } else if (is_segment_char(name[i])) {
            prev_dot = 0;
        } else {
            return 0;
        }
    }
    return !prev_dot;
}

/* FNV-1a: short keys, no adversary (names come from plugins we loaded). */
static uint32_t hash_name(const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 16777619u;
    }
    return h;
}

int rp__topic_intern(const char *name, size_t len, uint32_t *id)
{
    if (!id || !name || len == 0 || len > RP__TOPIC_NAME_MAX)
        return RP_ERR_INVAL;
    /* A thread makes events of one type after another: the last one it
     * interned is checked first (names never change once interned). */
    static _Thread_local uint32_t last;
    if (last && topic_lens[last] == len && memcmp(topic_names[last], name, len) == 0) {
        *id = last;
        return 0;
    }
    uint32_t first = hash_name(name, len) & (HASH_SLOTS - 1);
    /* A known topic, without the lock. Only valid names are ever added, so
     * a name equal to one of them is valid too: checking it can wait for a
     * miss. */
    for (uint32_t slot = first;; slot = (slot + 1) & (HASH_SLOTS - 1)) {
        uint16_t cur = atomic_load_explicit(&topic_hash[slot], memory_order_acquire);
        if (cur == 0)
            break;
        if (topic_lens[cur] == len && memcmp(topic_names[cur], name, len) == 0) {
            *id = last = cur;
            return 0;
        }
    }
    if (!rp__topic_valid(name, len))
        return RP_ERR_INVAL;
    uint32_t slot = first;
    int rc = 0;
    rp__os_static_mutex_lock(&topic_lock);
    for (;;) {
        uint16_t cur = atomic_load_explicit(&topic_hash[slot], memory_order_relaxed);
        if (cur == 0)
            break;
        if (topic_lens[cur] == len && memcmp(topic_names[cur], name, len) == 0) {
            *id = cur;
            goto out;
        }
        slot = (slot + 1) & (HASH_SLOTS - 1);
    }
    uint32_t count = atomic_load_explicit(&topic_count, memory_order_relaxed);
    if (count >= RP__TOPIC_MAX) {
        rc = RP_ERR_FULL;
        goto out;
    }
    uint32_t new_id = count + 1;
    memcpy(topic_names[new_id], name, len);
    topic_names[new_id][len] = '\0';
    topic_lens[new_id] = (uint8_t)len;
    /* Release, both: a reader that finds the slot or sees the new count
     * sees the finished name. */
    atomic_store_explicit(&topic_hash[slot], (uint16_t)new_id, memory_order_release);
    atomic_store_explicit(&topic_count, new_id, memory_order_release);
    *id = new_id;
out:
    rp__os_static_mutex_unlock(&topic_lock);
    return rc;
}

const char *rp__topic_name(uint32_t id)
{
    if (id == 0 || id > atomic_load_explicit(&topic_count, memory_order_acquire))
        return NULL;
    return topic_names[id];
}

uint32_t rp__topic_count(void)
{
    return atomic_load_explicit(&topic_count, memory_order_acquire);
}

/* A pattern is "*", a valid topic, or a valid topic followed by ".*"; the
 * whole pattern fits in RP__TOPIC_NAME_MAX like a topic does. */
int rp__topic_pattern_valid(const char *pattern, size_t len)
{
    if (!pattern || len == 0 || len > RP__TOPIC_NAME_MAX)
        return 0;
    if (len == 1 && pattern[0] == '*')
        return 1;
    if (len > 2 && pattern[len - 2] == '.' && pattern[len - 1] == '*')
        return rp__topic_valid(pattern, len - 2);
    return rp__topic_valid(pattern, len);
}

int rp__topic_matches(const char *pattern, size_t plen, const char *topic)
{
    if (!topic || !rp__topic_pattern_valid(pattern, plen))
        return 0;
    size_t tlen = strnlen(topic, RP__TOPIC_NAME_MAX + 1);
    if (!rp__topic_valid(topic, tlen))
        return 0;
    if (plen == 1)
        return 1; /* "*" */
    if (pattern[plen - 1] == '*') {
        /* "file.*": the topic starts with "file." and has more after it; a
         * valid topic cannot end in a dot, so "file." + something suffices. */
        size_t keep = plen - 1;
        return tlen > keep && memcmp(pattern, topic, keep) == 0;
    }
    return tlen == plen && memcmp(pattern, topic, plen) == 0;
}
