/*
 * core/runtime/host_table.h - the entries of the host table (rp_host_api)
 * that need no plugin record: memory and an event's reference count and
 * type. The agent's host (host.c) and an isolated plugin's sandbox
 * (core/sandbox/sandbox.c) hand out the same functions, so a plugin sees
 * the same behaviour in both.
 */
#ifndef RP_CORE_HOST_TABLE_H
#define RP_CORE_HOST_TABLE_H

#include <rampart/plugin.h>

#include <stdint.h>

/* alloc, realloc, free: the C library's; a size of 0 gets 1 byte (the ABI
 * promises a non-NULL pointer for 0), a size past SIZE_MAX gets NULL. */
void *rp__table_alloc(uint64_t size);
void *rp__table_realloc(void *ptr, uint64_t size);
void rp__table_free(void *ptr);
/* event_retain, event_release (NULL is a no-op) and event_type. */
void rp__table_event_retain(const rp_event *ev);
void rp__table_event_release(const rp_event *ev);
int rp__table_event_type(const rp_event *ev, const char **type, uint64_t *len);

#endif
