/* core/uuid.c - UUIDv7 with a 12-bit sequence in rand_a for monotonic ids. */
#include "uuid.h"
#include "os/os.h"

#include <rampart/plugin.h>

#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_ms = -1;
static unsigned seq;

int rp__uuid7(int64_t unix_ms, char out[RP__UUID_STR_LEN + 1])
{
    unsigned char b[16];
    int rc = rp__os_random(b, sizeof b);
    if (rc != 0)
        return rc;

    /* Within one millisecond the 12-bit counter orders ids; when it wraps the
     * timestamp is pushed forward by one, as RFC 9562 section 6.2 allows. */
    pthread_mutex_lock(&uuid_lock);
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
    pthread_mutex_unlock(&uuid_lock);

    uint64_t ms = (uint64_t)unix_ms;
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (s >> 8));
    b[7] = (unsigned char)(s & 0xff);
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
    snprintf(out, RP__UUID_STR_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return 0;
}
