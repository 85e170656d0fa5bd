/*
 * core/lib/uuid.c - UUIDv7 (RFC 9562) from a generator per thread.
 *
 * Layout (RFC 9562 section 5.7, counter by section 6.2 method 1):
 *
 *   unix_ts_ms (48) | ver 7 (4) | counter bits 25..14 (12, rand_a)
 *   | var 10 (2) | counter bits 13..0 (14) | node (48)
 *
 * Each thread has its own generator: the 26-bit counter starts at a random
 * value under 2^25 in each new millisecond and counts up within it, so the
 * ids of one thread are strictly increasing; at the counter's end the
 * timestamp moves on by one, as section 6.2 allows. The 48 node bits make
 * ids of different threads differ (section 6.4, distributed generation):
 * 20 bits number the thread in the process (distinct for the first 2^20
 * threads that make ids) and 28 are random per thread, which keeps two
 * processes, or two hosts, apart. No lock and no system call on the way:
 * the kernel's random bytes are read once per thread, and a fast generator
 * seeded from them draws each millisecond's counter start.
 */
#include "lib/uuid.h"
#include "os/os.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <stdatomic.h>
#include <string.h>

#define COUNTER_BITS 26
#define COUNTER_MAX  ((1u << COUNTER_BITS) - 1)
#define THREAD_BITS  20

struct generator {
    int seeded;
    int64_t last_ms;
    uint32_t counter;
    uint64_t node; /* the low 48 bits: thread number and random */
    uint64_t rng;  /* splitmix64 state */
};

static _Thread_local struct generator gen;
static atomic_uint_fast32_t thread_numbers;

/* A forked child's thread must not continue its parent's sequence: it
 * seeds a generator of its own (new node bits) on its next id. */
static void reseed_in_child(void)
{
    gen.seeded = 0;
}

static rp__os_once_flag atfork_once = RP__OS_ONCE_INIT;

static void register_atfork(void *arg)
{
    (void)arg;
    rp__os_atfork_child(reseed_in_child);
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int seed(struct generator *g)
{
    rp__os_once(&atfork_once, register_atfork, NULL);
    uint64_t r[2];
    int rc = rp__os_random(r, sizeof r);
    if (rc != 0)
        return rc;
    uint64_t number = atomic_fetch_add(&thread_numbers, 1) & ((1u << THREAD_BITS) - 1);
    g->node = number << (48 - THREAD_BITS) | (r[0] & ((1ull << (48 - THREAD_BITS)) - 1));
    g->rng = r[1];
    g->last_ms = -1;
    g->counter = 0;
    g->seeded = 1;
    return 0;
}

/* "00" to "ff" for each byte value. */
static const char hex_pairs[513] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

int rp__uuid7(int64_t unix_ms, char out[RP__UUID_STR_LEN + 1])
{
    struct generator *g = &gen;
    if (!g->seeded) {
        int rc = seed(g);
        if (rc != 0)
            return rc;
    }
    if (unix_ms > g->last_ms) {
        g->last_ms = unix_ms;
        /* Under 2^25: at least 2^25 ids fit in the millisecond. */
        g->counter = (uint32_t)(splitmix64(&g->rng) >> 39);
    } else if (g->counter < COUNTER_MAX) {
        g->counter++; /* same millisecond, or the clock stepped back */
    } else {
        g->last_ms++;
        g->counter = (uint32_t)(splitmix64(&g->rng) >> 39);
    }

    uint64_t ms = (uint64_t)g->last_ms;
    uint32_t c = g->counter;
    unsigned char b[16];
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (c >> 22));
    b[7] = (unsigned char)(c >> 14);
    b[8] = (unsigned char)(0x80 | ((c >> 8) & 0x3f));
    b[9] = (unsigned char)c;
    for (int i = 10; i < 16; i++)
        b[i] = (unsigned char)(g->node >> (8 * (15 - i)));

    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        memcpy(o, hex_pairs + 2 * b[i], 2);
        o += 2;
    }
    *o = '\0';
    return 0;
}
