/*
 * core/lib/uuid.c - UUIDv7 (RFC 9562) from a generator per thread.
 *
 * Layout (RFC 9562 section 5.7, counter by section 6.2 method 1):
 *
 *   unix_ts_ms (48) | ver 7 (4) | counter (12, rand_a) | var 10 (2) | rand_b (62)
 *
 * Each thread has its own generator, so no lock is taken: the 12-bit
 * counter starts at a random value under 2^11 in each new millisecond and
 * counts up within it, so the ids of one thread are strictly increasing; at
 * the counter's end the timestamp moves on by one, as section 6.2 allows.
 *
 * rand_b is a fixed bijection of the 62-bit pair (thread number, the
 * thread's id sequence), keyed per process: two ids of one process differ
 * in rand_b alone, by construction, for the first 2^20 threads that make
 * ids (a thread's sequence starts at a random point, so even past that a
 * clash needs the same millisecond, counter and 42-bit sequence). The
 * bijection spreads the bits as random ones would (ids look and compress
 * as before), and the per-process key keeps processes and hosts apart. The
 * kernel's random bytes are read once per thread and per process; a forked
 * child takes a new key and new generators.
 */
#include "lib/uuid.h"
#include "os/os.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <stdatomic.h>
#include <string.h>

#define COUNTER_MAX 0xfffu
#define THREAD_BITS 20
#define SEQ_BITS    42 /* THREAD_BITS + SEQ_BITS = 62, rand_b */
#define B62         ((1ull << 62) - 1)

struct generator {
    int seeded;
    int64_t last_ms;
    uint32_t counter;
    uint64_t thread; /* the thread's number, shifted into place */
    uint64_t seq;    /* SEQ_BITS bits */
    uint64_t rng;    /* splitmix64 state: each millisecond's counter start */
};

static _Thread_local struct generator gen;
static atomic_uint_fast32_t thread_numbers;
static _Atomic uint64_t process_key; /* 0: not drawn yet */

/* A forked child must not go on with its parent's ids: it has one thread,
 * which draws a new key and seeds a new generator on its next id. */
static void rekey_in_child(void)
{
    atomic_store(&process_key, 0);
    gen.seeded = 0;
}

static rp__os_once_flag atfork_once = RP__OS_ONCE_INIT;

static void register_atfork(void *arg)
{
    (void)arg;
    rp__os_atfork_child(rekey_in_child);
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A bijection of [0, 2^62): adding the key, xor-shifts and multiplying by
 * odd constants, each modulo 2^62, are all invertible there. */
static uint64_t mix62(uint64_t x, uint64_t key)
{
    x = (x + key) & B62;
    x ^= x >> 31;
    x = (x * 0x7fb5d329728ea185ull) & B62;
    x ^= x >> 27;
    x = (x * 0x81dadef4bc2dd44dull) & B62;
    x ^= x >> 33;
    return x;
}

static int seed(struct generator *g)
{
    rp__os_once(&atfork_once, register_atfork, NULL);
    /* Two threads may both find no key and draw one: the first stored is
     * the one every thread uses. */
    if (atomic_load(&process_key) == 0) {
        uint64_t k = 0;
        while (k == 0) {
            int rc = rp__os_random(&k, sizeof k);
            if (rc != 0)
                return rc;
            k &= B62;
        }
        uint64_t none = 0;
        atomic_compare_exchange_strong(&process_key, &none, k);
    }
    uint64_t r[2];
    int rc = rp__os_random(r, sizeof r);
    if (rc != 0)
        return rc;
    uint64_t number = atomic_fetch_add(&thread_numbers, 1) & ((1u << THREAD_BITS) - 1);
    g->thread = number << SEQ_BITS;
    g->seq = r[0] & ((1ull << SEQ_BITS) - 1);
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
        g->counter = (uint32_t)(splitmix64(&g->rng) >> 53); /* under 2^11 */
    } else if (g->counter < COUNTER_MAX) {
        g->counter++; /* same millisecond, or the clock stepped back */
    } else {
        g->last_ms++;
        g->counter = (uint32_t)(splitmix64(&g->rng) >> 53);
    }
    g->seq = (g->seq + 1) & ((1ull << SEQ_BITS) - 1);
    uint64_t rand_b =
        mix62(g->thread | g->seq, atomic_load_explicit(&process_key, memory_order_relaxed));

    uint64_t ms = (uint64_t)g->last_ms;
    unsigned char b[16];
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (g->counter >> 8));
    b[7] = (unsigned char)g->counter;
    b[8] = (unsigned char)(0x80 | (rand_b >> 56));
    for (int i = 9; i < 16; i++)
        b[i] = (unsigned char)(rand_b >> (8 * (15 - i)));

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
