/*
 * core/runtime/faults.h - reporting a plugin's fault (a crash, a hang, a
 * budget overrun, an isolated plugin's process that died) to the fault
 * ledger, and asking the ledger whether a plugin is disabled.
 *
 * The ledger counts faults per plugin file (its identity: device, inode,
 * size, modification time) in a window (agent.plugin_faults); at the limit
 * the plugin is disabled until its file changes or `rampartctl plugins
 * enable NAME`. It is kept on disk so that it survives restarts. Faults
 * that kill the worker are recorded by the supervisor, which reads the call
 * records (callrec.h) after the worker died; faults the worker survives (an
 * isolated plugin's process, a budget) are recorded by the worker through
 * rp__faults_report. Both may write: the ledger serialises them.
 */
#ifndef RP_CORE_FAULTS_H
#define RP_CORE_FAULTS_H

#include <stddef.h>
#include <stdint.h>

enum rp__fault_kind {
    RP__FAULT_CRASH = 1, /* a signal in its code or callback */
    RP__FAULT_HANG,      /* a callback overran its deadline */
    RP__FAULT_BUDGET,    /* over its CPU or memory budget */
    RP__FAULT_SANDBOX,   /* its isolated process died or stopped answering */
};

struct rp__fault {
    const char *plugin; /* the plugin's name (config key under plugins) */
    const char *path;   /* its file; NULL if unknown */
    uint64_t dev, ino, size;
    int64_t mtime_ns; /* the file's identity when loaded */
    enum rp__fault_kind kind;
    const char *callback; /* rp__callrec_kind_name, or NULL */
    int signo;            /* the signal for a crash, else 0 */
    const char *detail;   /* one sentence, or NULL */
};

/* Records one fault. Returns 1 when this fault disabled the plugin, 0 when
 * it did not, or a negative RP_ERR_*. */
int rp__faults_report(const struct rp__fault *f);

/* 1 when the ledger has the plugin disabled (why gets a sentence naming the
 * faults and how to enable it), 0 when not, or a negative RP_ERR_*. */
int rp__faults_disabled(const char *plugin, uint64_t dev, uint64_t ino, uint64_t size,
                        int64_t mtime_ns, char *why, size_t whylen);

/*
 * Where the ledger is and its limits (agent.plugin_faults): the file
 * <data_dir>/plugin_faults.json, written atomically under a lock file
 * (plugin_faults.lock) so that the supervisor and the worker may both
 * write. Without this call (or with max 0) nothing is disabled and
 * reports are only logged. The folder is opened at first use (it may not
 * exist yet when the supervisor starts). Returns 0 or RP_ERR_NOMEM.
 */
int rp__faults_open(const char *data_dir, uint32_t max, uint32_t window_s);
void rp__faults_close(void);

/* Clears the plugin's entry (rampartctl plugins enable NAME): 1 when it was
 * disabled, 0 when the ledger had it on already, or a negative RP_ERR_*. */
int rp__faults_enable(const char *plugin);

/* Tests only: the ledger's clock in seconds (0: the real one). */
void rp__faults_test_clock(int64_t now_s);

#endif
