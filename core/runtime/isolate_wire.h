/*
 * core/runtime/isolate_wire.h - what crosses between the worker and an
 * isolated plugin's sandbox (runtime/isolate.h): single-producer,
 * single-consumer byte rings in shared memory, the records they hold, and
 * the binary form of an event.
 *
 * Trust: the sandbox is not trusted. Everything the worker reads from the
 * shared memory (the ring's positions, record headers, payloads) is bounded
 * and checked before use, and a payload is copied out of the ring before it
 * is parsed, so the sandbox cannot change it under the parser. A ring whose
 * positions make no sense is "corrupt": the worker then kills the sandbox.
 *
 * Ownership: the rings live in the caller's shared mapping; an endpoint
 * (rp__iso_end) is the caller's private state (its own position, never read
 * back from the shared memory).
 */
#ifndef RP_CORE_ISOLATE_WIRE_H
#define RP_CORE_ISOLATE_WIRE_H

#include <rampart/plugin.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A record's payload is at most this many bytes (an event is at most 64 KiB
 * of data and 256 fields; a command reply 1 MiB). */
#define RP__ISO_REC_MAX ((uint32_t)(1u << 20) + 4096u)

/* The shared part of one ring. head is written by the producer only, tail
 * by the consumer only; sleeping is set by a consumer about to wait. The
 * data follow the header; their size is known to both ends (not read from
 * the shared memory). */
typedef struct rp__iso_ring {
    _Atomic uint64_t head;
    char pad0[56];
    _Atomic uint64_t tail;
    char pad1[56];
    _Atomic uint32_t sleeping;
    char pad2[60];
} rp__iso_ring;

#define RP__ISO_RING_HDR ((uint64_t)sizeof(rp__iso_ring))

/* One end of a ring: the ring, the size of its data (a power of two), and
 * this end's position. */
typedef struct rp__iso_end {
    rp__iso_ring *ring;
    unsigned char *data;
    uint64_t size;
    uint64_t pos;
} rp__iso_end;

/* A record's header, in the ring before its payload. */
typedef struct rp__iso_hdr {
    uint32_t len;  /* payload bytes */
    uint32_t type; /* RP__ISO_* */
    uint64_t seq;  /* a call's number (its reply carries it), else 0 */
} rp__iso_hdr;

/* Sets up an end over mem (RP__ISO_RING_HDR + size bytes, size a power of
 * two of at least 4096). init: zero the shared header (the creator). */
int rp__iso_end_init(rp__iso_end *e, void *mem, uint64_t size, int init);

/* Producer: appends one record whose payload is the two parts one after
 * the other (either may be empty). 0, or RP_ERR_FULL (nothing written: the
 * consumer is behind), RP_ERR_RANGE (a payload over RP__ISO_REC_MAX),
 * RP_ERR_PARSE (the ring is corrupt). *wake is set to 1 when the consumer
 * sleeps and must be woken (after any number of puts). */
int rp__iso_put(rp__iso_end *e, uint32_t type, uint64_t seq, const void *a, uint32_t alen,
                const void *b, uint32_t blen, int *wake);

/* Consumer: takes the next record, its payload copied into buf (cap bytes).
 * 1 with *hdr filled, 0 when the ring is empty, RP_ERR_PARSE when the ring
 * is corrupt or the record larger than cap. */
int rp__iso_get(rp__iso_end *e, rp__iso_hdr *hdr, void *buf, uint32_t cap);

/* Consumer about to sleep: announces it, then returns 1 when a record came
 * in the meantime (do not sleep), 0 when it may sleep. After waking, call
 * rp__iso_awake. */
int rp__iso_sleep_prepare(rp__iso_end *e);
void rp__iso_awake(rp__iso_end *e);
/* Bytes waiting to be read (the consumer's view; 0 when corrupt). */
uint64_t rp__iso_pending(const rp__iso_end *e);

/* ---- records ------------------------------------------------------------ */

/* A cursor over a payload: reads fail (return 0) past the end and from then
 * on (ok = 0). Every length read is checked against what is left. */
typedef struct rp__iso_rd {
    const unsigned char *p;
    size_t left;
    int ok;
} rp__iso_rd;

/* A writer into a caller's buffer: writes past cap set ok = 0. */
typedef struct rp__iso_wr {
    unsigned char *p;
    size_t len, cap;
    int ok;
} rp__iso_wr;

void rp__iso_rd_init(rp__iso_rd *r, const void *p, size_t len);
uint32_t rp__iso_rd_u32(rp__iso_rd *r);
uint64_t rp__iso_rd_u64(rp__iso_rd *r);
/* A string of at most max bytes (u32 length, bytes): borrowed from the
 * payload; NULL with ok = 0 when malformed. */
const char *rp__iso_rd_str(rp__iso_rd *r, uint32_t max, uint32_t *len);
void rp__iso_wr_init(rp__iso_wr *w, void *buf, size_t cap);
void rp__iso_wr_u32(rp__iso_wr *w, uint32_t v);
void rp__iso_wr_u64(rp__iso_wr *w, uint64_t v);
void rp__iso_wr_bytes(rp__iso_wr *w, const void *p, size_t len);
void rp__iso_wr_str(rp__iso_wr *w, const char *s, size_t len);

/* An event in binary form: its type, then each field (id, type, value) in
 * the event's order. Ids and types must be in the reader's field registry
 * (the worker tells the sandbox every field before it may meet one). */
int rp__iso_event_encode(rp__iso_wr *w, const rp_event *ev);

/* Decoding modes. EXACT: the event as it was, stamps included (the
 * sandbox's copy of an event it is given). PUBLISH: a new event of the
 * worker (its own @timestamp, event.id and event.kind, then the record's
 * fields over them: @timestamp and event.id are kept when the record has
 * them, event.kind never), produced by producer. */
#define RP__ISO_DECODE_EXACT   1
#define RP__ISO_DECODE_PUBLISH 2

/* Parses an event record (untrusted): every length bounded, every field id
 * known with the record's type, the event's caps enforced. 0 and a new
 * event (one reference), or RP_ERR_PARSE (malformed), RP_ERR_NOTFOUND or
 * RP_ERR_TYPE (a field the registry does not know so), RP_ERR_FULL,
 * RP_ERR_INVAL (a bad type name), RP_ERR_NOMEM. */
int rp__iso_event_decode(rp__iso_rd *r, int mode, uint32_t producer, rp_event **out);

#endif
