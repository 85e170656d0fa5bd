/*
 * tests/fuzz/fuzz_proc_connector.c - libFuzzer target for collector_process's
 * proc connector decoder (cp_nl_decode in plugins/collector_process/netlink.c,
 * compiled into this binary: plugins never link the host). Whatever a
 * datagram from the NETLINK_CONNECTOR socket holds, decoding it must never
 * read past it, loop forever, hand out more events than it was given room
 * for, or an event of a kind the collector uses without positive ids; and a
 * datagram that is not from the kernel yields nothing.
 *
 * Input layout: one datagram as recvmmsg() returns it (corpus/proc_connector/
 * holds real ones captured with tools/fuzz-seeds/proc_connector.c). It is
 * copied into a buffer of exactly its size, aligned as the collector's
 * receive buffers are, so a read past its end is caught by ASan.
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads this line):
 * fuzz-standalone: plugins/collector_process/netlink.c
 */
#include "netlink.h"

#include <linux/cn_proc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_proc_connector: check failed at line %d: %s\n", __LINE__,        \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Room for events: the collector hands the decoder what is left of its
 * buffer, which can be little. A smaller room yields the first events of a
 * larger one, the same ones. */
static const int rooms[] = {64, 2, 1};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    struct cp_kev all[64], out[64];
    int n_all = 0;
    /* Each message takes at least a netlink header. */
    const uint64_t most = size / sizeof(struct nlmsghdr) + 1;
    for (size_t r = 0; r < sizeof rooms / sizeof rooms[0]; r++) {
        struct sockaddr_nl kernel = {.nl_family = AF_NETLINK, .nl_pid = 0};
        uint64_t bad = 0;
        memset(out, 0xa5, sizeof out);
        int n = cp_nl_decode(buf, size, &kernel, out, rooms[r], &bad);
        CHECK(n >= 0 && n <= rooms[r]);
        CHECK(bad <= most);
        for (int i = 0; i < n; i++) {
            const struct cp_kev *k = &out[i];
            CHECK(k->what == PROC_EVENT_NONE || k->what == PROC_EVENT_FORK ||
                  k->what == PROC_EVENT_EXEC || k->what == PROC_EVENT_EXIT ||
                  k->what == PROC_EVENT_UID || k->what == PROC_EVENT_GID);
            CHECK(k->what == PROC_EVENT_NONE || (k->pid > 0 && k->tgid > 0));
            /* The collector's bookkeeping starts cleared. */
            CHECK(k->from_b == 0 && k->later_exec == 0 && k->later_exit == 0 && k->cap == 0 &&
                  k->seq == 0);
        }
        if (r == 0) {
            n_all = n;
            memcpy(all, out, sizeof out);
        } else {
            CHECK(n == (n_all < rooms[r] ? n_all : rooms[r]));
            CHECK(n == 0 || memcmp(out, all, (size_t)n * sizeof *out) == 0);
        }
    }
    /* Anyone but the kernel: ignored whole, counted once. */
    struct sockaddr_nl other = {.nl_family = AF_NETLINK, .nl_pid = 4242};
    uint64_t bad = 0;
    CHECK(cp_nl_decode(buf, size, &other, out, 64, &bad) == 0 && bad == 1);
    free(buf);
    return 0;
}
