/*
 * ptable.h - the collector's in-memory process table: what is known of every
 * process (and, for lineage, of recently exited ones) by pid.
 *
 * Cap: a fixed number of entries chosen at creation (config max_processes).
 * When it is full, a new entry takes the slot of the process that exited
 * longest ago; only when no exited process is left does it take the least
 * recently used live one. Both kinds of eviction are counted. All memory is
 * allocated at creation except the strings, which are shared, reference
 * counted blobs (a forked child shares its parent's until it execs) and are
 * bounded in size by the caller.
 *
 * Threads: none of its own; the plugin calls it under its lock.
 */
#ifndef RP_COLLECTOR_PROCESS_PTABLE_H
#define RP_COLLECTOR_PROCESS_PTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "slots.h"

/* An immutable, reference-counted string (NUL-terminated after len bytes). */
typedef struct cp_blob {
    uint32_t refs;
    uint32_t len;
    char data[];
} cp_blob;

cp_blob *cp_blob_new(const char *p, size_t len); /* NULL when out of memory */
cp_blob *cp_blob_ref(cp_blob *b);                /* NULL-safe */
void cp_blob_unref(cp_blob *b);                  /* NULL-safe */
/* Replaces *slot by b (taking over the caller's reference). */
void cp_blob_set(cp_blob **slot, cp_blob *b);

#define CP_NONE       UINT32_MAX
#define CP_ENTITY_LEN 32

/* Entry flags. */
#define CP_F_EXITED      0x01u  /* the process is gone */
#define CP_F_CREDS       0x02u  /* uid/gid known */
#define CP_F_EXACT       0x04u  /* start_ticks read from /proc, not estimated */
#define CP_F_KTHREAD     0x08u  /* a kernel thread: never execs, no exe */
#define CP_F_FORKED      0x10u  /* created by a fork event seen live: ppid is the forker */
#define CP_F_RESCAN      0x20u  /* created or closed by a rescan at scan_mono */
#define CP_F_EXECED      0x40u  /* an exec of this process was handled (its image is its own) */
#define CP_F_THREADS     0x80u  /* has had more than one thread: its leader may exit first */
#define CP_F_LEADER_GONE 0x100u /* the leader thread exited while other threads ran */
#define CP_F_EXE_DELETED 0x200u /* its executable had been deleted (exe is its last name) */
#define CP_F_EXE_MEMFD   0x400u /* it runs an anonymous memory file: exe is NULL */

typedef struct cp_proc {
    int32_t pid;
    int32_t ppid;
    uint32_t uid, euid, gid, egid;
    uint64_t start_ticks; /* /proc/<pid>/stat starttime (clock ticks after boot) */
    int64_t start_ns;     /* start, wall clock ns */
    int64_t scan_mono;    /* monotonic ns of the rescan behind CP_F_RESCAN */
    uint32_t gen;         /* last scan generation that saw the process */
    uint32_t flags;
    uint64_t lost_at_fork; /* the plugin's overrun count when the fork was seen */
    int64_t exec_mono;     /* kernel time of the last exec handled (CP_F_EXECED) */
    uint8_t inc_reason;    /* why the exec's image is not (wholly) known; 0: it is */
    uint8_t excluded;      /* the collectors.exclude rule that dropped its exec (a C_EXCL_*
                            * counter of the plugin), 0: none; its exit is dropped too */
    char comm[17];
    char entity_id[CP_ENTITY_LEN + 1];
    cp_blob *exe;  /* executable path, or NULL */
    cp_blob *args; /* NUL-separated argument vector (capped), or NULL */
    /* Table links (private). They come last: a reset entry is cleared up
     * to them. */
    cp_links links;
    uint8_t used, list;
} cp_proc;

typedef struct cp_table cp_table;

cp_table *cp_table_new(uint32_t cap);
void cp_table_free(cp_table *t);

/* The entry of pid, or NULL. Does not change the eviction order. */
cp_proc *cp_table_get(cp_table *t, int32_t pid);

/* A fresh entry for pid: any previous entry of pid is reset (its strings
 * released), else a free or evicted slot is used. Counts evictions in
 * *evicted / *evicted_live (may be NULL). Never fails. */
cp_proc *cp_table_put(cp_table *t, int32_t pid, uint64_t *evicted, uint64_t *evicted_live);

/* Marks a live process used now (last to be evicted among the live). */
void cp_table_touch(cp_table *t, cp_proc *p);

/* Marks the process exited: it stays for lineage, first in line for
 * eviction among the exited, oldest exit first. */
void cp_table_exit(cp_table *t, cp_proc *p);

/* Iteration over the entries in use: start with i = 0; returns NULL at the
 * end. */
cp_proc *cp_table_next(cp_table *t, uint32_t *i);

uint32_t cp_table_count(const cp_table *t);

#endif
