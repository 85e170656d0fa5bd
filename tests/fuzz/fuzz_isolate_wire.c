/*
 * tests/fuzz/fuzz_isolate_wire.c - libFuzzer target for what the worker
 * reads from an isolated plugin's sandbox (core/runtime/isolate_wire.c),
 * which is untrusted: the binary event form and the ring's record framing.
 *
 * Input layout: byte 0 picks the decoder (0: an event the sandbox publishes,
 * 1: an event copied exactly, 2: the bytes as a ring's shared memory, its
 * head at the input's length); the rest is the record or the ring.
 *
 * Checked: nothing is read out of bounds (ASan); an event that decodes
 * encodes again and that record decodes to an event of the same type with
 * the same number of fields; the ring hands out only records that lie
 * inside what was written, and stops at a corrupt one.
 */
#include "runtime/event.h"
#include "runtime/isolate_wire.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_isolate_wire: check failed at line %d: %s\n", __LINE__, #cond);  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define RING 4096u

static void fuzz_event(const uint8_t *data, size_t size, int mode)
{
    rp__iso_rd r;
    rp__iso_rd_init(&r, data, size);
    rp_event *ev = NULL;
    if (rp__iso_event_decode(&r, mode, 1, &ev) != 0) {
        CHECK(ev == NULL);
        return;
    }
    static unsigned char buf[RP__ISO_REC_MAX];
    rp__iso_wr w;
    rp__iso_wr_init(&w, buf, sizeof buf);
    CHECK(rp__iso_event_encode(&w, ev) == 0);
    rp__iso_rd_init(&r, buf, w.len);
    rp_event *again = NULL;
    CHECK(rp__iso_event_decode(&r, RP__ISO_DECODE_EXACT, 1, &again) == 0);
    CHECK(rp__event_topic(again) == rp__event_topic(ev));
    CHECK(rp__event_field_count(again) == rp__event_field_count(ev));
    rp__event_release(again);
    rp__event_release(ev);
}

static void fuzz_ring(const uint8_t *data, size_t size)
{
    static _Alignas(64) unsigned char mem[RP__ISO_RING_HDR + RING];
    memset(mem, 0, sizeof mem);
    size_t n = size > RING ? RING : size;
    memcpy(mem + RP__ISO_RING_HDR, data, n);
    rp__iso_end e;
    CHECK(rp__iso_end_init(&e, mem, RING, 1) == 0);
    atomic_store(&e.ring->head, (uint64_t)n);
    static unsigned char out[RING];
    rp__iso_hdr h;
    uint64_t at = 0;
    for (int i = 0; i < 1024; i++) {
        int rc = rp__iso_get(&e, &h, out, sizeof out);
        if (rc != 1)
            break;
        /* A record handed out lies within what was written. */
        CHECK(e.pos <= n);
        CHECK(e.pos > at);
        CHECK(h.len <= sizeof out);
        at = e.pos;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        fuzz_event(data + 1, size - 1, RP__ISO_DECODE_PUBLISH);
        break;
    case 1:
        fuzz_event(data + 1, size - 1, RP__ISO_DECODE_EXACT);
        break;
    default:
        fuzz_ring(data + 1, size - 1);
        break;
    }
    return 0;
}
