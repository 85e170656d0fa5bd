/*
 * tests/fuzz/fuzz_control.c - libFuzzer target for the control socket's
 * request parser (rp__control_parse, core/control.c), which reads what any
 * local process that reaches the socket sends (the peer check comes first,
 * but root's or the agent's own user's processes may still be hostile).
 *
 * The whole input is one request line. Checks, any failure aborts:
 *   - the result is 0 or RP_ERR_PARSE; on RP_ERR_PARSE the message is
 *     non-empty and terminated within the buffer, also in a tiny buffer;
 *   - on 0 the command is one of the three, the input is a JSON object
 *     (parsed again here) whose "cmd" names that command, and it has no
 *     other member;
 *   - the same request written back by jansson parses to the same command.
 */
#include "control.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_control: check failed at line %d: %s\n", __LINE__, #cond);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char *const names[] = {NULL, "status", "plugins", "reload"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    enum rp__control_cmd cmd = 0;
    char err[256];
    memset(err, 'x', sizeof err);
    int rc = rp__control_parse(s, size, &cmd, err, sizeof err);
    CHECK(rc == 0 || rc == RP_ERR_PARSE);

    /* A tiny buffer: the message is cut, still terminated. */
    char small[8];
    memset(small, 'x', sizeof small);
    enum rp__control_cmd cmd2 = 0;
    CHECK(rp__control_parse(s, size, &cmd2, small, sizeof small) == rc);
    CHECK(memchr(small, '\0', sizeof small) != NULL);

    if (rc != 0) {
        CHECK(memchr(err, '\0', sizeof err) != NULL);
        CHECK(err[0] != '\0');
        return 0;
    }
    CHECK(cmd2 == cmd);
    CHECK(cmd >= RP__CONTROL_STATUS && cmd <= RP__CONTROL_RELOAD);
    json_t *j = json_loadb(s, size, 0, NULL);
    CHECK(j && json_is_object(j));
    CHECK(json_object_size(j) == 1);
    const json_t *v = json_object_get(j, "cmd");
    CHECK(json_is_string(v));
    CHECK(strcmp(json_string_value(v), names[cmd]) == 0);
    CHECK(json_string_length(v) == strlen(names[cmd]));
    char *back = json_dumps(j, JSON_COMPACT);
    CHECK(back);
    enum rp__control_cmd cmd3 = 0;
    CHECK(rp__control_parse(back, strlen(back), &cmd3, err, sizeof err) == 0 && cmd3 == cmd);
    free(back);
    json_decref(j);
    return 0;
}
