/* core/lib/uuid.c - UUIDv7 with a 12-bit sequence in rand_a for monotonic ids. */
#include "lib/uuid.h"
#include "os/os.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <string.h>

static rp__os_static_mutex uuid_lock = RP__OS_STATIC_MUTEX_INIT;
static int64_t last_ms = -1;
static unsigned seq;

/* Random bytes are fetched from the kernel a pool at a time: one getrandom
 * per event was the largest single cost of publishing (a system call per
 * event). Ids need uniqueness, not secrecy, and the kernel's CSPRNG still
 * supplies every byte. Each thread has its own pool. */
#define POOL_BYTES 1024
static _Thread_local unsigned char pool[POOL_BYTES];
static _Thread_local size_t pool_left;

/* A forked child must not reuse its parent's unused bytes: the child's
 * (only) thread drops the pool it inherited. */
static void drop_pool_in_child(void)
{
    pool_left = 0;
}

static rp__os_once_flag atfork_once = RP__OS_ONCE_INIT;

static void register_atfork(void *arg)
{
    (void)arg;
    rp__os_atfork_child(drop_pool_in_child);
}

static void once_per_process(void)
{
    rp__os_once(&atfork_once, register_atfork, NULL);
}

static int take_random(unsigned char *out, size_t n)
{
    once_per_process();
    if (pool_left < n) {
        int rc = rp__os_random(pool, sizeof pool);
        if (rc != 0)
            return rc;
        pool_left = sizeof pool;
    }
    memcpy(out, pool + (sizeof pool - pool_left), n);
    pool_left -= n;
    return 0;
}

int rp__uuid7(int64_t unix_ms, char out[RP__UUID_STR_LEN + 1])
{
    unsigned char b[16];
    int rc = take_random(b + 6, 10);
    if (rc != 0)
        return rc;

    /* Within one millisecond the 12-bit counter orders ids; when it wraps the
     * timestamp is pushed forward by one, as RFC 9562 section 6.2 allows. */
    rp__os_static_mutex_lock(&uuid_lock);
    if (unix_ms > last_ms) {
        last_ms = unix_ms;
        seq = (unsigned)(b[6] & 0x03) << 8 | b[7]; /* random start, room to count */
    } else {
        unix_ms = last_ms;
        if (++seq > 0xfff) {
            last_ms = ++unix_ms;
            seq = 0;
        }
    }
    unsigned s = seq;
    rp__os_static_mutex_unlock(&uuid_lock);

    uint64_t ms = (uint64_t)unix_ms;
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (s >> 8));
    b[7] = (unsigned char)(s & 0xff);
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 0xf];
    }
    *o = '\0';
    return 0;
}
