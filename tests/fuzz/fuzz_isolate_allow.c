/*
 * tests/fuzz/fuzz_isolate_allow.c - libFuzzer target for responder_isolate's
 * parser of allowed peers (plugins/responder_isolate/allow.c, compiled into
 * this binary: plugins never link the host). The addresses come from the
 * site's config and end up in a firewall table that cuts the machine off:
 * whatever the text, ri_allow_parse must not read past its NUL or its cap,
 * must leave the output untouched when it refuses, must say why in a
 * terminated message that fits its buffer, and what it accepts must pass
 * every check the table's renderer makes, cover its own address, and parse
 * back to the same peer from inet_ntop's text (which is what the table gets).
 *
 * Input layout:
 *   byte 0    the role (any value: out-of-range roles must be refused)
 *   byte 1    the size of the message buffer (0 to 255)
 *   then      the text (a NUL inside ends it, as in a C string).
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads this line):
 * fuzz-standalone: plugins/responder_isolate/allow.c
 */
#define _GNU_SOURCE
#include "allow.h"

#include <rampart/plugin.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ri_policy policy;
    if (size < 2)
        return 0;
    int role = (int8_t)data[0];
    size_t errcap = data[1];
    /* The text in a buffer of its own size, so a read past its end is
     * caught by the sanitizers. */
    char *text = malloc(size - 2 + 1);
    char *err = malloc(errcap ? errcap : 1);
    CHECK(text && err);
    memcpy(text, data + 2, size - 2);
    text[size - 2] = '\0';
    if (errcap)
        memset(err, 'X', errcap);

    struct ri_allow a, untouched;
    memset(&a, 0xa5, sizeof a);
    untouched = a;
    int rc = ri_allow_parse(text, role, &a, errcap ? err : NULL, errcap);
    if (rc != 0) {
        CHECK(rc == RP_ERR_INVAL);
        CHECK(memcmp(&a, &untouched, sizeof a) == 0);
        if (errcap) {
            CHECK(memchr(err, '\0', errcap) != NULL);
            CHECK(errcap == 1 || err[0] != '\0');
        }
    } else {
        CHECK(a.family == AF_INET || a.family == AF_INET6);
        CHECK(a.role == role);
        CHECK(a.proto == 0 && a.port == 0);
        CHECK(ri_allow_check(&a, NULL, 0) == 0);
        CHECK(ri_allow_covers(&a, a.family, a.addr) == 1);

        /* The table's text of the peer parses back to the same peer. */
        char addr[INET6_ADDRSTRLEN], again[INET6_ADDRSTRLEN + 8];
        CHECK(inet_ntop(a.family, a.addr, addr, sizeof addr) != NULL);
        snprintf(again, sizeof again, "%s/%u", addr, a.prefix_bits);
        struct ri_allow b;
        CHECK(ri_allow_parse(again, role, &b, NULL, 0) == 0);
        CHECK(b.family == a.family && b.prefix_bits == a.prefix_bits);
        CHECK(memcmp(b.addr, a.addr, a.family == AF_INET ? 4 : 16) == 0);

        /* The policy list stays bounded and free of duplicates. */
        uint32_t before = policy.n_allow;
        int added = ri_policy_add(&policy, &a);
        CHECK(added == 0 || (added == RP_ERR_FULL && before == RI_ALLOW_MAX));
        uint32_t after = policy.n_allow;
        CHECK(after <= RI_ALLOW_MAX && (after == before || after == before + 1));
        CHECK(ri_policy_add(&policy, &a) == added);
        CHECK(policy.n_allow == after);
        if (policy.n_allow == RI_ALLOW_MAX)
            memset(&policy, 0, sizeof policy);
    }
    free(text);
    free(err);
    return 0;
}
