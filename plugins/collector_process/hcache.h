/*
 * hcache.h - the cache of executable hashes, keyed by what identifies a file
 * version: device, inode, size, modification time and change time. The
 * change time is in the key on top of the mtime because anyone who can
 * write a file can also set its mtime back (touch -d), but no one can set
 * its ctime, so a rewritten binary is always hashed again.
 *
 * An entry is PENDING while a worker hashes the file (later execs of the same
 * file wait for that one job instead of starting their own), then READY (hex
 * digest) or FAILED (unreadable; retried at the next exec after eviction).
 *
 * Cap: a fixed number of entries chosen at creation. At the cap a new entry
 * evicts the least recently used finished one; PENDING entries are never
 * evicted, so when every entry is pending, cp_hcache_add fails and that exec
 * goes without a hash (counted by the caller).
 */
#ifndef RP_COLLECTOR_PROCESS_HCACHE_H
#define RP_COLLECTOR_PROCESS_HCACHE_H

#include <stdint.h>

#include "slots.h"

#define CP_H_PENDING 1
#define CP_H_READY   2
#define CP_H_FAILED  3

typedef struct cp_hkey {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
} cp_hkey;

typedef struct cp_hentry {
    cp_hkey key;
    uint8_t state;
    char hex[65];
    /* Links (private). */
    cp_links links;
    uint8_t used;
} cp_hentry;

typedef struct cp_hcache cp_hcache;

cp_hcache *cp_hcache_new(uint32_t cap);
void cp_hcache_free(cp_hcache *c);
/* The entry for key (made most recently used), or NULL. */
cp_hentry *cp_hcache_get(cp_hcache *c, const cp_hkey *key);
/* A new PENDING entry for key, or NULL when every entry is pending. */
cp_hentry *cp_hcache_add(cp_hcache *c, const cp_hkey *key);
/* Index of an entry (stable while it is not evicted) and back. */
uint32_t cp_hcache_index(const cp_hcache *c, const cp_hentry *e);
cp_hentry *cp_hcache_at(cp_hcache *c, uint32_t idx);
/* Removes an entry (used when its job could not be queued). */
void cp_hcache_del(cp_hcache *c, cp_hentry *e);

#endif
