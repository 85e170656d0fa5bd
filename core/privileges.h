/*
 * core/privileges.h - least privilege (docs/capabilities.md): at start-up the
 * worker keeps only the capabilities the core and its enabled plugins need
 * and sets no_new_privs.
 */
#ifndef RP_CORE_PRIVILEGES_H
#define RP_CORE_PRIVILEGES_H

#include "config.h"
#include "runtime/host.h"

#include <jansson.h>
#include <stdint.h>

/* What rp__privileges_drop did, for the log and status. */
typedef struct rp__privileges {
    int dropped;          /* the sets were reduced to kept */
    uint64_t kept;        /* what the process holds afterwards (when dropped) */
    int bounding_reduced; /* the bounding set was reduced too */
    int no_new_privs;
    char why[512]; /* when not dropped: why ("agent.drop_capabilities is false", a plugin) */
} rp__privileges;

/*
 * Reduces the process's capabilities to the union of what the core needs
 * (CAP_SYS_NICE while agent.loop_realtime_max_cpu_pct allows the loop
 * real-time priority) and what the host's loaded plugins declare, sets
 * no_new_privs, tells the host what it kept (rp__host_caps_limit) and logs
 * one line saying so. Keeps everything, and logs which plugin prevents the
 * drop, when one declares nothing (a 1.0 plugin or an undeclared 1.1 one),
 * or when agent.drop_capabilities is false. Called in the start path before
 * any thread starts: capabilities belong to each thread, and every thread
 * started afterwards (the workers, the loop, the plugins') inherits them.
 */
void rp__privileges_drop(const rp__config *cfg, rp__host *host, rp__privileges *out);

/* The "capabilities" object of status: a new reference, NULL on no memory. */
json_t *rp__privileges_json(const rp__privileges *p);

#endif
