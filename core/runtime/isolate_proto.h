/*
 * core/runtime/isolate_proto.h - the protocol between the worker's proxy of
 * an isolated plugin (isolate.c) and the sandbox process that runs it
 * (core/sandbox/sandbox.c): the shared memory's layout, the descriptors the
 * sandbox is started with, and the records each way. Both sides are built
 * from one tree, so the layout is not versioned; the worker still parses
 * every record of the sandbox as untrusted input (isolate_wire.h).
 */
#ifndef RP_CORE_ISOLATE_PROTO_H
#define RP_CORE_ISOLATE_PROTO_H

#include "runtime/isolate_wire.h"

#include <stdatomic.h>
#include <stdint.h>

/* Descriptors of the sandbox (rp__os_sandbox_spawn puts them there). */
#define RP__ISO_FD_PLUGIN 3 /* the checked plugin file (or its sealed copy) */
#define RP__ISO_FD_SHM    4 /* the shared memory below */
#define RP__ISO_FD_WAKE   5 /* wakes: events and calls both ways */
#define RP__ISO_FD_REPLY  6 /* wakes: replies to the sandbox's calls */

/* Ring sizes (data bytes) and the shared memory's layout: a page of
 * counters, then the worker-to-sandbox ring, the sandbox-to-worker ring and
 * the ring of replies to the sandbox's calls, each a header and its data.
 * Each holds a record of RP__ISO_REC_MAX; the worker-to-sandbox ring holds
 * some 10,000 events of a process exec's size, more than the bus queues
 * for a subscriber. The pages count in the worker's resident memory once
 * the rings went round them: 6 MiB per isolated plugin at most. */
#define RP__ISO_W2S_SIZE   ((uint64_t)2 << 20)
#define RP__ISO_S2W_SIZE   ((uint64_t)2 << 20)
#define RP__ISO_REPLY_SIZE ((uint64_t)2 << 20)
#define RP__ISO_OFF_W2S    4096u
#define RP__ISO_OFF_S2W    (RP__ISO_OFF_W2S + RP__ISO_RING_HDR + RP__ISO_W2S_SIZE)
#define RP__ISO_OFF_REPLY  (RP__ISO_OFF_S2W + RP__ISO_RING_HDR + RP__ISO_S2W_SIZE)
#define RP__ISO_SHM_SIZE   (RP__ISO_OFF_REPLY + RP__ISO_RING_HDR + RP__ISO_REPLY_SIZE)

/* The first page. Written by the sandbox: only figures for the worker's
 * counts (events it finished), never trusted for memory safety. */
typedef struct rp__iso_shared {
    _Atomic uint64_t events_done; /* on_event calls returned */
    _Atomic uint32_t callback;    /* RP__CR_* kind of the callback running, 0 none */
} rp__iso_shared;

/* Worker to sandbox (w2s ring). */
enum {
    RP__ISO_EVENT = 1,      /* an event for on_event (isolate_wire.h form) */
    RP__ISO_FIELDS = 2,     /* registry entries: u32 first id, u32 count, (u32 type, str)* */
    RP__ISO_INIT = 3,       /* call: str config JSON */
    RP__ISO_START = 4,      /* call */
    RP__ISO_STOP = 5,       /* call */
    RP__ISO_DESTROY = 6,    /* call */
    RP__ISO_RECONF = 7,     /* call: str config JSON */
    RP__ISO_CHECK = 8,      /* call: str candidate config JSON */
    RP__ISO_COMMAND = 9,    /* call: u64 command id, str request */
    RP__ISO_PING = 10,      /* call: nothing; the reply says the sandbox's main thread runs */
    RP__ISO_CMD_CANCEL = 11 /* u64 command id: the command's caller is gone */
};

/* Sandbox to worker (s2w ring). */
enum {
    RP__ISO_DESC = 20,    /* the plugin's descriptor (see sandbox.c send_desc) */
    RP__ISO_REPLY = 21,   /* to a call (seq): i32 rc, str set_error text */
    RP__ISO_PUBLISH = 22, /* an event to publish */
    RP__ISO_LOG = 23,     /* u32 level, str text */
    RP__ISO_COUNTER = 24, /* u32 counter id, u64 delta */
    RP__ISO_GAUGE = 25,   /* u32 gauge id, u64 value */
    RP__ISO_SCALL = 26,   /* the sandbox's call (seq): u32 op, arguments */
    RP__ISO_FATAL = 27    /* str: why the sandbox gives up (before exiting) */
};

/* Replies to the sandbox's calls (reply ring): seq, i32 rc, results. */
#define RP__ISO_SREPLY 30

/* Operations of RP__ISO_SCALL. */
enum {
    RP__ISO_OP_FIELD_ID = 1,       /* str name, u32 type -> u32 id */
    RP__ISO_OP_FIELD_LOOKUP = 2,   /* str name -> u32 id, u32 type */
    RP__ISO_OP_FIELD_SYNC = 3,     /* u32 first id -> a FIELDS payload */
    RP__ISO_OP_FIELD_PROVIDED = 4, /* str event type, u32 field -> u32 collectors */
    RP__ISO_OP_SUBSCRIBE = 5,      /* str pattern, u32 flags */
    RP__ISO_OP_COUNTER_REG = 6,    /* str name -> u32 id */
    RP__ISO_OP_GAUGE_REG = 7,      /* str name -> u32 id */
    RP__ISO_OP_DROPPED = 8,        /* -> u64 dropped */
    RP__ISO_OP_ALERT = 9,          /* alert (see sandbox.c) -> an event */
    RP__ISO_OP_CMD_REPLY = 10      /* u64 command id, u32 flags, str JSON */
};

/* Callbacks a descriptor has (RP__ISO_DESC's mask). */
enum {
    RP__ISO_CB_INIT = 1u << 0,
    RP__ISO_CB_START = 1u << 1,
    RP__ISO_CB_STOP = 1u << 2,
    RP__ISO_CB_DESTROY = 1u << 3,
    RP__ISO_CB_RECONF = 1u << 4,
    RP__ISO_CB_EVENT = 1u << 5,
    RP__ISO_CB_CHECK = 1u << 6,
    RP__ISO_CB_COMMAND = 1u << 7
};

/* Caps on what a descriptor sends (the loader applies the same again). */
#define RP__ISO_DESC_STR_MAX    RP_MAX_CONFIG_SCHEMA
#define RP__ISO_PROVIDES_TYPES  64u
#define RP__ISO_PROVIDES_FIELDS RP_MAX_EVENT_FIELDS
#define RP__ISO_MSG_MAX         4096u /* a log line or set_error text */

#endif
