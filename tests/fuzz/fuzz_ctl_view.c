/*
 * tests/fuzz/fuzz_ctl_view.c - libFuzzer target for what `rampartctl status`
 * and `rampartctl plugins` print from the agent's answer
 * (tools/rampartctl/view.c, compiled into this binary). The answer's
 * strings are not all the agent's own: plugin names, states, errors,
 * counter and gauge names come from plugins, third-party ones included,
 * and status.json is read from disk when the agent does not answer.
 *
 * Input layout:
 *   byte 0    bit 0: the rest is the plugins list (an array), else the
 *             status (an object); bit 1: the status says degraded
 *   the rest  the answer's JSON
 *
 * Checks, any failure aborts: the printer succeeds and prints exactly the
 * lines it promises (the status: five or six rows, then, with plugins, a
 * blank line, a header and one line per plugin; the list: a header and one
 * line per plugin), and nothing a terminal acts on: no byte below 0x20 but
 * the newlines, no DEL, so an answer cannot move the cursor, rewrite what
 * was printed or add lines of its own.
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads these lines):
 * fuzz-standalone: tools/rampartctl/view.c
 * fuzz-pkg: jansson
 */
#define _GNU_SOURCE
#include "view.h"
#include <rampart/plugin.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_ctl_view: check failed at line %d: %s\n", __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int plugins = data[0] & 1, degraded = (data[0] & 2) != 0;
    json_t *v = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (!v)
        return 0;
    if (plugins ? !json_is_array(v) : !json_is_object(v)) {
        json_decref(v);
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    CHECK(out != NULL);
    size_t want;
    if (plugins) {
        CHECK(rp__ctl_print_plugins(out, v) == 0);
        want = 1 + json_array_size(v);
    } else {
        CHECK(rp__ctl_print_status(out, v, degraded) == 0);
        size_t n = json_object_size(json_object_get(v, "plugins"));
        want = (json_object_get(v, "upload") ? 6 : 5) + (n ? 2 + n : 0);
    }
    CHECK(fclose(out) == 0);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            lines++;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            fprintf(stderr, "fuzz_ctl_view: byte 0x%02x at %zu of:\n%s\n", c, i, text);
            abort();
        }
    }
    CHECK(len > 0 && text[len - 1] == '\n');
    CHECK(lines == want);
    free(text);
    json_decref(v);
    return 0;
}
