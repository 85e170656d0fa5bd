/*
 * core/runtime/isolate.h - isolated plugins: plugins.<name>.isolation
 * "process" runs a detector or responder in a sandbox process of its own
 * (core/sandbox/sandbox.c, sdk/docs/isolation.md) behind the same ABI.
 *
 * The loader calls rp__iso_load instead of loading the file: the file gets
 * the same trust and signature checks, then the sandbox is started with it
 * and sends the plugin's descriptor, of which the loader gets a copy whose
 * callbacks are proxies: init, start, stop, destroy, reconfigure,
 * check_config and on_command are calls into the sandbox (with a
 * deadline), on_event puts the event on a shared-memory ring and returns.
 * What the plugin does through its host table comes back on another ring
 * and is done by a thread of the worker on the plugin's behalf.
 *
 * When the sandbox dies or stops answering (a call, an event or a ping
 * past plugins.<name>.sandbox.deadline_ms) it is killed, the events it had
 * are counted lost, the fault is reported (faults.h) and, while the plugin
 * should run, a new sandbox is started with backoff and the plugin's init
 * and start are called again. Other plugins lose nothing.
 */
#ifndef RP_CORE_ISOLATE_H
#define RP_CORE_ISOLATE_H

#include <rampart/plugin.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct rp_plugin;
struct rp__host;
struct rp__iso;

/* The check of the plugin's bytes the loader applies (os.h's
 * rp__os_dl_check_fn), with its argument. */
typedef int (*rp__iso_check_fn)(void *arg, const void *data, size_t len, const char *sig,
                                size_t sig_len, char *err, size_t errlen);

/* Whether plugins.<name> asks for isolation; a malformed value is left to
 * the config schema. */
int rp__iso_wanted(const json_t *entry);

/* Starts p's sandbox and gets its descriptor (*out, valid until
 * rp__iso_free); entry is plugins.<name> (its sandbox settings).
 * RP_ERR_PERM with err when the file is refused (*refused_by_sig set when
 * the signature check refused it), another code when the sandbox cannot
 * start or load the plugin. p->iso is set on success. */
int rp__iso_load(struct rp__host *host, struct rp_plugin *p, const json_t *entry, int require_sig,
                 size_t sig_max, rp__iso_check_fn check, void *check_arg,
                 const rp_plugin_descriptor **out, char *err, size_t errlen);

/* Ends the sandbox (killed if still there) and frees the record. NULL is a
 * no-op. */
void rp__iso_free(struct rp__iso *iso);

/* Figures of an isolated plugin, for status and tests. */
typedef struct rp__iso_stats {
    int64_t pid;       /* the sandbox now, 0 while there is none */
    uint64_t restarts; /* sandboxes started after the first */
    uint64_t lost;     /* events lost with sandboxes that died or were dropped */
    uint64_t sent;     /* events put on the ring */
} rp__iso_stats;
void rp__iso_get_stats(const struct rp__iso *iso, rp__iso_stats *out);

#endif
