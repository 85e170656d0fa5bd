/*
 * tests/fuzz/fuzz_rules_events.c - libFuzzer target for the events of
 * `rampartctl rules test` (tools/rampartctl/rules_events.c): the bounded
 * NDJSON line reader and the view the Sigma engine reads an event through.
 * Lines are parsed by jansson, as rampartctl does; whatever the file holds,
 * each line must come back within the cap and NUL-terminated, and every value
 * the view gives must be as long as it says, without crash, hang or leak.
 *
 * Input: the bytes of one events file (corpus/rules_events/ holds small
 * files of flat, nested, mixed and malformed events).
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads these lines):
 * fuzz-standalone: tools/rampartctl/rules_events.c plugins/detector_sigma
 * fuzz-pkg: jansson
 */
#define _POSIX_C_SOURCE 200809L
#include "rules_events.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_rules_events: %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Names the rules of the corpus use, flat and nested, and odd ones. */
static const char *const slots[] = {"process.executable",
                                    "process.command_line",
                                    "process.parent.name",
                                    "event.id",
                                    "destination.port",
                                    "a.b.c",
                                    "Image",
                                    "",
                                    ".",
                                    "x..y"};
#define NSLOTS (sizeof slots / sizeof slots[0])

/* Touches every byte of a value, so ASan sees a value shorter than said. */
static volatile unsigned char sink;
static void touch(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++)
        sink ^= (unsigned char)v[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f)
        return 0;
    rp__ctl_lines r;
    rp__ctl_event e;
    if (rp__ctl_lines_init(&r, f) != 0) {
        fclose(f);
        return 0;
    }
    CHECK(rp__ctl_event_init(&e, slots, (uint32_t)NSLOTS) == 0);
    uint64_t last = 0;
    for (;;) {
        char *line;
        size_t len;
        int rc = rp__ctl_lines_next(&r, &line, &len);
        if (rc == 0)
            break;
        CHECK(rc == 1 || rc == RP_ERR_RANGE);
        CHECK(r.lineno == last + 1);
        last = r.lineno;
        if (rc != 1)
            continue;
        CHECK(len <= RP__CTL_LINE_MAX && line[len] == '\0');
        json_error_t err;
        json_t *doc = json_loadb(line, len, JSON_ALLOW_NUL, &err);
        if (!json_is_object(doc)) {
            json_decref(doc);
            continue;
        }
        struct ds_view view;
        rp__ctl_event_set(&e, doc, &view);
        for (uint32_t s = 0; s <= NSLOTS; s++) {
            const char *v;
            size_t vlen;
            if (view.get(view.ctx, s, &v, &vlen)) {
                CHECK(s < NSLOTS && v);
                touch(v, vlen);
            }
        }
        const char *v;
        size_t vlen;
        uint32_t i = 0;
        while (view.string_at(view.ctx, i, &v, &vlen)) {
            touch(v, vlen);
            i++;
            CHECK(i <= RP__CTL_STRINGS_MAX);
        }
        json_decref(doc);
    }
    rp__ctl_event_free(&e);
    rp__ctl_lines_free(&r);
    fclose(f);
    return 0;
}
