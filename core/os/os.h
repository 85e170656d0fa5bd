/*
 * core/os/os.h - the platform layer. Shared core code calls only these
 * functions (and those of os_fs.h, os_thread.h, os_poll.h) for anything
 * that differs between operating systems; the implementations live in
 * core/os/unix/ and core/os/win/. Files and folders: core/os/os_fs.h.
 *
 * All functions return 0 or a negative RP_ERR_* code unless stated otherwise.
 */
#ifndef RP_CORE_OS_H
#define RP_CORE_OS_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock in nanoseconds since the Unix epoch. */
int64_t rp__os_time_ns(void);
/* Monotonic clock in nanoseconds, for intervals. */
int64_t rp__os_monotonic_ns(void);

/* Fills buf with len bytes from the system's CSPRNG. */
int rp__os_random(void *buf, size_t len);
/* Tunes the allocator for the agent's pattern (events made on one thread,
 * freed on another, in bursts). Call once at start, before threads. */
void rp__os_tune_memory(void);
/* This process's CPU time (user + system, all threads) and peak resident
 * memory in bytes. */
int rp__os_process_usage(int64_t *cpu_ns, uint64_t *peak_rss_bytes);
/* This process's resident memory now, in bytes (a few microseconds: the
 * RSS ceiling samples it while events flow). Any thread. */
int rp__os_process_rss(uint64_t *rss_bytes);
/* Gives memory the allocator holds free back to the system (glibc keeps
 * freed memory in its arenas; after a burst that shows as resident). */
void rp__os_trim_memory(void);
/* size bytes aligned to align (a power of two, at least sizeof(void *));
 * NULL when out of memory. The Windows C runtime has no aligned_alloc, so
 * such memory is freed only with rp__os_aligned_free (NULL is a no-op). */
void *rp__os_aligned_alloc(size_t align, size_t size);
void rp__os_aligned_free(void *p);
/* size bytes of zeroed pages; shared: MAP_SHARED, so a child made by fork
 * writes to the same memory its parent reads (the supervisor's call
 * records). NULL when out of memory. Freed with rp__os_pages_free. */
void *rp__os_pages_alloc(size_t size, int shared);
void rp__os_pages_free(void *p, size_t size);

/* Host name into buf (always terminated). */
int rp__os_hostname(char *buf, size_t len);
/* The machine's stable id as lowercase hex or a GUID (/etc/machine-id; on
 * Windows the MachineGuid of the registry), for host.id. A copied disk image
 * shares it until it is regenerated, which is what installers do. buf gets
 * at most len - 1 bytes and a NUL; RP_ERR_NOTFOUND when there is none,
 * RP_ERR_PARSE when it is not what it should be (never trusted as text). */
int rp__os_machine_id(char *buf, size_t len);

/* Current process id. */
long rp__os_getpid(void);

/* True if path is absolute on this platform. */
int rp__os_path_is_absolute(const char *path);

/* Current working directory into buf. */
int rp__os_getcwd(char *buf, size_t len);

/* Canonical absolute path of an existing file or folder, from malloc (caller
 * frees). */
int rp__os_realpath(const char *path, char **out);

/* Broken-down UTC time of a Unix time in seconds. */
struct tm;
int rp__os_gmtime(int64_t unix_secs, struct tm *out);

/* Detaches from the terminal: double fork, new session, stdio to /dev/null,
 * working directory "/". Returns in the grandchild only. */
int rp__os_daemonize(void);

/* Signals the agent acts on. */
enum rp__os_signal { RP__OS_SIG_NONE = 0, RP__OS_SIG_STOP, RP__OS_SIG_RELOAD };

/* Blocks the stop and reload signals in the calling thread and every thread
 * it creates later, so that only rp__os_signal_wait() receives them. Call it
 * before any thread starts. */
int rp__os_signals_block(void);
/* Waits up to timeout_ms (-1 = forever) for a stop or reload signal and
 * stores which in *sig (RP__OS_SIG_NONE on timeout). */
int rp__os_signal_wait(int timeout_ms, enum rp__os_signal *sig);
/* Sends this process the stop signal, as `kill -TERM` would: the thread in
 * rp__os_signal_wait() gets RP__OS_SIG_STOP. Any thread (the hang watchdog
 * stops the worker this way). */
int rp__os_stop_self(void);

/*
 * Plugins as shared libraries. rp__os_dl_open_trusted loads an absolute path
 * with every symbol bound now and none exported to later loads (RTLD_NOW |
 * RTLD_LOCAL on Unix; LoadLibraryExW with a restricted search path on
 * Windows), after the trust check (ARCHITECTURE section 3 rule 11), without
 * ever trusting the path twice:
 *   - every folder from the root down to the file's folder, reached one
 *     component at a time from a descriptor of its parent (symbolic links
 *     followed the same way), must be owned by root or by the agent's own
 *     user and not writable by group or others. A folder writable by group
 *     or others is accepted above the file's folder only when it has the
 *     sticky bit (like /tmp): there, only an entry's owner may rename or
 *     remove it, and every entry the walk passes through must itself be owned
 *     by root or the agent's user, so no one else can swap it;
 *   - the file's own folder is never writable by group or others;
 *   - the file is opened once (no symbolic link as its last component), and
 *     that descriptor is checked (a regular file, owned by root or the
 *     agent's user, not writable by group or others) and loaded
 *     (/proc/self/fd/N). The descriptor stays open for the life of the
 *     process: the C library knows loaded objects by name, and a reused N
 *     would give back the plugin loaded before.
 * Returns 0; RP_ERR_PERM when the trust check refuses, with the reason in
 * err ("/x/y: writable by group (mode 0775); expected ..."); another code
 * (RP_ERR_IO) when the system cannot load the file, with its reason in err.
 */
typedef struct rp__os_dl rp__os_dl;
typedef void (*rp__os_fn)(void);
int rp__os_dl_open_trusted(const char *abs_path, rp__os_dl **out, char *err, size_t errlen);
/* The address of an exported function, or NULL. */
rp__os_fn rp__os_dl_sym(rp__os_dl *dl, const char *name);
/* A system library by its file name ("libcurl.so.4"), searched where the
 * dynamic linker searches, loaded for the life of the process (never
 * closed): for a dependency only some configurations need, so the others
 * do not pay its memory. NULL with err set when it cannot be loaded. */
void *rp__os_lib_open(const char *soname, char *err, size_t errlen);
rp__os_fn rp__os_lib_sym(void *lib, const char *name);
/* Frees the handle record and keeps the library loaded (and its descriptor
 * open) for the life of the process (what production does). NULL is a
 * no-op. */
void rp__os_dl_forget(rp__os_dl *dl);
/* Unloads. Production code never unloads a plugin (its code may still be on
 * a stack or referenced by a callback); tests may. NULL is a no-op. */
void rp__os_dl_close(rp__os_dl *dl);

/*
 * Live reload of a changed plugin file. A file's identity is what a reload
 * compares to decide whether a plugin's file changed since it was loaded.
 * rp__os_dl_file_id: the identity of the file a handle was loaded from, as
 * checked when it was opened (for a private copy, the file copied).
 * rp__os_path_file_id: the identity of what a path names now; only a hint
 * that the file changed, never a reason to trust it (loading opens and
 * checks it again).
 * rp__os_dl_open_trusted_copy: as rp__os_dl_open_trusted, but the checked
 * descriptor is copied (at most RP__OS_DL_COPY_MAX bytes) into a private,
 * sealed, anonymous file of the agent that is loaded instead, so that the
 * C library, which knows a loaded object by its file's device and inode,
 * maps the new contents even when the file was rewritten in place. The copy
 * stays open for the life of the process, like the descriptor of
 * rp__os_dl_open_trusted. RP_ERR_UNSUPPORTED where the platform has none.
 */
typedef struct rp__os_file_id {
    uint64_t dev, ino, size;
    int64_t mtime_ns;
} rp__os_file_id;
#define RP__OS_DL_COPY_MAX ((uint64_t)256 << 20)
int rp__os_dl_file_id(const rp__os_dl *dl, rp__os_file_id *out);
int rp__os_path_file_id(const char *abs_path, rp__os_file_id *out);
/* The executable segments of a loaded library ([lo, hi) pairs, at most cap):
 * a crash whose address falls in one is that plugin's (callrec.h).
 * RP_ERR_UNSUPPORTED where the platform cannot say. */
int rp__os_dl_text_ranges(rp__os_dl *dl, uint64_t *lo, uint64_t *hi, size_t cap, size_t *n);
int rp__os_dl_open_trusted_copy(const char *abs_path, rp__os_dl **out, char *err, size_t errlen);

/*
 * Signed plugins (runtime/plugin_sig.h). rp__os_dl_open_checked is
 * rp__os_dl_open_trusted (copy == 0) or rp__os_dl_open_trusted_copy (copy !=
 * 0) that also opens "<file>.sig" in the same checked folder, by its open
 * descriptor, without following a link, and checks it as the plugin file is
 * checked (a regular file of one name, owned by root or the agent's user,
 * writable by neither group nor others), reading at most sig_max bytes. When
 * the .sig is there, or require_sig is set, the plugin's open descriptor is
 * copied into a sealed anonymous file, check is called on the bytes of that
 * copy (and the .sig's text, NULL when there is none) and that copy is what is
 * loaded: the bytes checked are the bytes loaded, whatever happens to the
 * file on disk from its open on. A non-zero return from check refuses the
 * load with that code and check's reason in err. Without a .sig and without
 * require_sig, check is not called and nothing is copied (unless copy).
 * RP_ERR_PERM for an untrusted .sig, RP_ERR_RANGE for one larger than sig_max;
 * RP_ERR_UNSUPPORTED where the platform cannot make the copy.
 */
typedef int (*rp__os_dl_check_fn)(void *arg, const void *data, size_t len, const char *sig,
                                  size_t sig_len, char *err, size_t errlen);
int rp__os_dl_open_checked(const char *abs_path, int copy, int require_sig, size_t sig_max,
                           rp__os_dl_check_fn check, void *arg, rp__os_dl **out, char *err,
                           size_t errlen);

/* Isolated plugins (runtime/isolate.h): the trust and signature checks of
 * rp__os_dl_open_checked (check may be NULL: no signature is read) without
 * the load: *fd is the checked file (or its sealed copy), close-on-exec,
 * owned by the caller, and *id its identity. rp__os_dl_open_fd loads such a
 * descriptor, in the sandbox that got it; the handle keeps fd. */
int rp__os_file_open_checked(const char *abs_path, int require_sig, size_t sig_max,
                             rp__os_dl_check_fn check, void *arg, int *fd, rp__os_file_id *id,
                             char *err, size_t errlen);
int rp__os_dl_open_fd(int fd, rp__os_dl **out, char *err, size_t errlen);

/* Asks the agent with this pid to reload its configuration (SIGHUP). */
int rp__os_send_reload(long pid);

/* System log (syslog/journald on Unix, the event log on Windows). level is an
 * rp__log_level value. */
void rp__os_syslog_open(const char *ident);
void rp__os_syslog_write(int level, const char *msg);
void rp__os_syslog_close(void);

#endif
