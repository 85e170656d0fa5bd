/*
 * procscan.h - which process holds a socket: an incremental map from socket
 * inode to pid, filled by reading /proc/<pid>/fd only of processes that are
 * new or whose number of open files changed (or, on a forced pass, that were
 * not read since a given time). Private to collector_network; single thread
 * (the host loop).
 */
#ifndef RP_COLLECTOR_NETWORK_PROCSCAN_H
#define RP_COLLECTOR_NETWORK_PROCSCAN_H

#include <stddef.h>
#include <stdint.h>

/* Socket inodes remembered at most; at the cap the map is cleared (counted),
 * which only costs rescans. Slots are twice that. */
#define CN_PS_INODE_CAP 12288u
/* Processes remembered at most; past it a process is read whenever an
 * unknown socket is looked for (correct, only slower). */
#define CN_PS_PROC_CAP 8192u

struct cn_ps_proc;

struct cn_ps {
    int procfd;         /* /proc, O_DIRECTORY */
    uint64_t *ino_keys; /* open addressing, 0 = empty */
    int32_t *ino_pids;  /* -1 = the holder was gone when looked up */
    uint32_t ino_count;
    struct cn_ps_proc **proc_slots; /* chained by pid */
    uint32_t proc_count;
    uint32_t pass_gen;
    /* Statistics for the plugin's counters, read and cleared by the caller. */
    uint64_t fd_dirs_read;
    uint64_t links_read;
    uint64_t map_resets;
};

int cn_ps_init(struct cn_ps *ps);
void cn_ps_fini(struct cn_ps *ps);

/* The pid that held inode when it was last seen, 0 if unknown. */
int32_t cn_ps_lookup(const struct cn_ps *ps, uint64_t inode);
/* Marks inode's holder as unknown again (its process is gone). */
void cn_ps_forget(struct cn_ps *ps, uint64_t inode);

/* What a pass looks for: sorted socket inodes; found[i] is set when
 * inodes[i] is seen. */
struct cn_ps_want {
    const uint64_t *inodes;
    uint8_t *found;
    size_t n;
    size_t left; /* not yet found; a pass stops early at 0 */
};

/* Reads /proc/<pid>/fd if force or the process changed since it was last
 * read, or if it was read before not_before_ns (monotonic). *budget is the
 * number of links that may still be read; reading stops at 0. */
int cn_ps_scan_pid(struct cn_ps *ps, int32_t pid, int64_t not_before_ns, int64_t now_ns,
                   struct cn_ps_want *want, uint64_t *budget);

/* One walk over /proc. Without force, reads the processes that are new or
 * whose count of open files changed; with force, also those read before
 * not_before_ns. Stops early when want->left reaches 0 or the budget runs
 * out. Sets *complete when every process was considered (and then forgets
 * processes that are gone). */
int cn_ps_pass(struct cn_ps *ps, int force, int64_t not_before_ns, int64_t now_ns,
               struct cn_ps_want *want, uint64_t *budget, int *complete);

/* The process's comm (NUL-terminated, at most 15 bytes) and executable path
 * (NUL-terminated, truncated to exe_len - 1). Returns RP_ERR_NOTFOUND when
 * the process is gone; the exe may be empty (kernel threads, no access). */
int cn_ps_identity(const struct cn_ps *ps, int32_t pid, char comm[16], char *exe, size_t exe_len);

#endif
