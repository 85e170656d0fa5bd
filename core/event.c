/* core/event.c - event blocks: allocation and release. */
#include "event.h"

#include <stdlib.h>
#include <string.h>

struct rp_event {
    rp__event_head head;
    size_t payload_bytes;
    unsigned char payload[];
};

struct rp_event *rp__event_alloc(uint32_t topic, size_t payload_bytes)
{
    struct rp_event *ev = calloc(1, sizeof *ev + payload_bytes);
    if (!ev)
        return NULL;
    atomic_init(&ev->head.refs, 1);
    ev->head.topic = topic;
    ev->payload_bytes = payload_bytes;
    return ev;
}

void rp__event_free(struct rp_event *ev)
{
    free(ev);
}
