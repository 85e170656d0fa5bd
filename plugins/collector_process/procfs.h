/*
 * procfs.h - bounded readers and parsers for the /proc files the process
 * collector needs. Every parser takes a buffer and its length, never reads
 * past it, and returns RP_ERR_PARSE on text it does not understand, so a
 * strange kernel or a process exiting mid-read cannot crash the plugin.
 */
#ifndef RP_COLLECTOR_PROCESS_PROCFS_H
#define RP_COLLECTOR_PROCESS_PROCFS_H

#include <rampart/plugin.h>

#include <stddef.h>
#include <stdint.h>

/* Reads at most cap bytes of the file rel (relative to dirfd) into buf.
 * *len gets the bytes read. A read shorter than asked ends the file: /proc
 * files hand out their whole content per read (seq_file) or loop until the
 * request is served (cmdline), so this saves the extra read() that would only
 * return 0. RP_ERR_NOTFOUND when the file (the process) is gone, RP_ERR_IO on
 * other errors. */
int cp_read_at(int dirfd, const char *rel, char *buf, size_t cap, size_t *len);

/* Fields of /proc/<pid>/stat that the collector uses. */
struct cp_stat {
    int32_t ppid;
    char state;          /* R, S, D, Z, ... */
    uint32_t flags;      /* PF_* flags; PF_KTHREAD = 0x00200000 */
    int64_t num_threads; /* threads not yet released, an exited leader included */
    uint64_t starttime;  /* clock ticks after boot */
    int32_t exit_code;   /* waitpid(2) status, when has_exit_code */
    int has_exit_code;   /* field 52 exists (Linux >= 3.5) */
    char comm[17];       /* NUL-terminated, at most 16 bytes */
};

#define CP_PF_KTHREAD 0x00200000u

int cp_parse_stat(const char *buf, size_t len, struct cp_stat *out);

/* Real and effective user and group ids from /proc/<pid>/status. */
struct cp_creds {
    uint32_t uid, euid, gid, egid;
};

int cp_parse_status(const char *buf, size_t len, struct cp_creds *out);

/* The container id (64 lower-case hex digits) in /proc/<pid>/cgroup, for
 * docker, containerd, CRI-O, podman and Kubernetes cgroup paths. Returns 0
 * and fills out (65 bytes with the NUL), or RP_ERR_NOTFOUND. */
int cp_container_id(const char *buf, size_t len, char out[65]);

/* Splits a NUL-separated argument vector (as in /proc/<pid>/cmdline) into at
 * most max items pointing into buf. A last item without its NUL counts too.
 * Returns the number of items. */
uint32_t cp_split_args(const char *buf, size_t len, rp_str *items, uint32_t max);

/* Joins an argument vector into a command line (arguments separated by one
 * space) in out (cap bytes, NUL-terminated, cut at cap - 1). Returns the
 * length written. */
size_t cp_join_args(const char *buf, size_t len, char *out, size_t cap);

/* Writes "<pid>/<name>" into out (cap >= 32 is always enough for the names
 * used here); returns out. */
const char *cp_pid_path(char *out, size_t cap, int32_t pid, const char *name);

#endif
