/*
 * tests/fuzz/fuzz_control.c - libFuzzer target for the control socket's
 * request parser (rp__control_parse_request and rp__control_parse,
 * core/control.c), which reads what any
 * local process that reaches the socket sends (the peer check comes first,
 * but root's or the agent's own user's processes may still be hostile).
 *
 * The whole input is one request line. Checks, any failure aborts:
 *   - the result is 0 or RP_ERR_PARSE; on RP_ERR_PARSE the message is
 *     non-empty and terminated within the buffer, also in a tiny buffer;
 *   - on 0 the command is one of the four, the input is a JSON object
 *     (parsed again here) whose "cmd" names that command; status, plugins
 *     and reload have no other member; plugin has exactly "name" (the
 *     request's plugin, printable ASCII, at most RP__CONTROL_NAME_MAX
 *     bytes) and "command" (an object, whose compact text is the
 *     request's command and parses back to an equal object);
 *   - both parsers agree on the result and the command;
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

static const char *const names[] = {NULL, "status", "plugins", "reload", "plugin"};

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
    CHECK(cmd >= RP__CONTROL_STATUS && cmd <= RP__CONTROL_PLUGIN);
    json_t *j = json_loadb(s, size, 0, NULL);
    CHECK(j && json_is_object(j));

    rp__control_request req;
    memset(&req, 'x', sizeof req);
    CHECK(rp__control_parse_request(s, size, &req, err, sizeof err) == 0);
    CHECK(req.cmd == cmd);
    if (cmd == RP__CONTROL_PLUGIN) {
        CHECK(json_object_size(j) == 3);
        const json_t *name = json_object_get(j, "name");
        CHECK(json_is_string(name));
        size_t n = strlen(req.plugin);
        CHECK(n >= 1 && n <= RP__CONTROL_NAME_MAX && n == json_string_length(name));
        CHECK(strcmp(req.plugin, json_string_value(name)) == 0);
        for (size_t i = 0; i < n; i++)
            CHECK(req.plugin[i] > 0x20 && req.plugin[i] < 0x7f);
        CHECK(memchr(req.command_name, '\0', sizeof req.command_name) != NULL);
        CHECK(req.command && strlen(req.command) == req.command_len);
        json_t *back = json_loads(req.command, 0, NULL);
        CHECK(json_is_object(back) && json_equal(back, json_object_get(j, "command")));
        json_decref(back);
    } else {
        CHECK(json_object_size(j) == 1);
        CHECK(req.command == NULL);
    }
    rp__control_request_clear(&req);
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
