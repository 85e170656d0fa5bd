/* core/runtime/host_table.c - host table entries without a plugin record
 * (host_table.h). */
#include "runtime/host_table.h"
#include "runtime/event.h"
#include "runtime/topic.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *rp__table_alloc(uint64_t size)
{
    if (size > SIZE_MAX)
        return NULL;
    return malloc(size ? (size_t)size : 1);
}

void *rp__table_realloc(void *ptr, uint64_t size)
{
    if (size > SIZE_MAX)
        return NULL;
    return realloc(ptr, size ? (size_t)size : 1);
}

void rp__table_free(void *ptr)
{
    free(ptr);
}

void rp__table_event_retain(const rp_event *ev)
{
    if (ev)
        rp__event_retain(ev);
}

void rp__table_event_release(const rp_event *ev)
{
    if (ev)
        rp__event_release(ev);
}

int rp__table_event_type(const rp_event *ev, const char **type, uint64_t *len)
{
    if (!ev || !type)
        return RP_ERR_INVAL;
    const char *name = rp__topic_name(rp__event_topic(ev));
    if (!name)
        return RP_ERR_INTERNAL;
    *type = name;
    if (len)
        *len = strlen(name);
    return 0;
}
