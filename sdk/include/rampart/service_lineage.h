/*
 * rampart/service_lineage.h - the process lineage service, offered by the
 * process collector (plugins/collector_process) to other plugins: a
 * process's parent, start time and entity id, and its children, from the
 * collector's process table. A responder that kills a process's descendants
 * walks them with it.
 *
 *     const rp_lineage_service *lin;
 *     uint64_t hold;
 *     if (host->service_acquire(self, RP_LINEAGE_SERVICE, sizeof RP_LINEAGE_SERVICE - 1,
 *                               RP_LINEAGE_VERSION, (const void **)&lin, &hold) == 0) {
 *         rp_lineage_process p = {sizeof p};
 *         int rc = lin->process(lin->ctx, pid, &p);
 *         host->service_release(self, hold); // in the same callback
 *     }
 *
 * The table is stable like plugin.h: members are only appended (a minor
 * version step), and every member is pinned below. The naming and versioning
 * rules are in sdk/docs/services.md. Compiles as C99, C11 and C++.
 */
#ifndef RAMPART_SERVICE_LINEAGE_H
#define RAMPART_SERVICE_LINEAGE_H

#include <rampart/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RP_LINEAGE_SERVICE "org.rampart.process.lineage"
#define RP_LINEAGE_VERSION RP_SERVICE_VERSION(1, 0)

/* Bytes of entity_id, its NUL included. */
#define RP_LINEAGE_ENTITY_MAX 64u

/* Flags of rp_lineage_process. */
#define RP_LINEAGE_EXITED 0x1u /* the process is gone; the table still remembers it */

/* One process as the collector's table knows it. */
typedef struct rp_lineage_process {
    uint32_t struct_size; /* set by the caller: sizeof(rp_lineage_process) as built */
    int32_t pid;
    int32_t ppid;     /* 0 when unknown */
    uint32_t flags;   /* RP_LINEAGE_* */
    int64_t start_ns; /* start, nanoseconds since the Unix epoch; 0 when unknown */
    /* process.entity_id of its events, NUL-terminated; "" when unknown. */
    char entity_id[RP_LINEAGE_ENTITY_MAX];
} rp_lineage_process;

/*
 * The service's table, owned by the collector; valid while the hold that
 * returned it is held. Every function may be called from any thread (each
 * takes the collector's lock for a moment); none blocks for long.
 */
typedef struct rp_lineage_service {
    uint32_t struct_size; /* sizeof(rp_lineage_service) as built by the provider */
    uint32_t reserved;    /* 0 */
    void *ctx;            /* passed back as the first argument of every function */
    /* The process pid: out->struct_size must be set first (RP_ERR_INVAL
     * when smaller than 1.0's struct). RP_ERR_NOTFOUND when the table does
     * not have it; RP_ERR_STOPPED once the collector stopped. */
    int (*process)(void *ctx, int32_t pid, rp_lineage_process *out);
    /* The live processes whose parent is pid: up to cap pids into pids (may
     * be NULL when cap is 0) and the number there are into *count, which may
     * be more than cap (call again with a larger array). Processes whose
     * parent the table never saw are not found. RP_ERR_STOPPED as above. */
    int (*children)(void *ctx, int32_t pid, int32_t *pids, uint32_t cap, uint32_t *count);
} rp_lineage_service;

/* Layout pins (see plugin.h): every member's offset and each struct's size. */
RP_STATIC_ASSERT(RP__OFF(rp_lineage_process, struct_size) == 0, lineage_process_struct_size);
RP_STATIC_ASSERT(RP__OFF(rp_lineage_process, pid) == 4, lineage_process_pid);
RP_STATIC_ASSERT(RP__OFF(rp_lineage_process, ppid) == 8, lineage_process_ppid);
RP_STATIC_ASSERT(RP__OFF(rp_lineage_process, flags) == 12, lineage_process_flags);
RP_STATIC_ASSERT(RP__OFF(rp_lineage_process, start_ns) == 16, lineage_process_start_ns);
RP_STATIC_ASSERT(RP__OFF(rp_lineage_process, entity_id) == 24, lineage_process_entity_id);
RP_STATIC_ASSERT(sizeof(rp_lineage_process) == 24u + RP_LINEAGE_ENTITY_MAX, lineage_process_size);
RP_STATIC_ASSERT(RP__OFF(rp_lineage_service, struct_size) == 0, lineage_service_struct_size);
RP_STATIC_ASSERT(RP__OFF(rp_lineage_service, reserved) == 4, lineage_service_reserved);
RP_STATIC_ASSERT(RP__OFF(rp_lineage_service, ctx) == 8, lineage_service_ctx);
RP_STATIC_ASSERT(RP__OFF(rp_lineage_service, process) == 8u + RP__PTR, lineage_service_process);
RP_STATIC_ASSERT(RP__OFF(rp_lineage_service, children) == 8u + 2u * RP__PTR,
                 lineage_service_children);
RP_STATIC_ASSERT(sizeof(rp_lineage_service) == 8u + 3u * RP__PTR, lineage_service_size);

#ifdef __cplusplus
}
#endif

#endif /* RAMPART_SERVICE_LINEAGE_H */
