/* core/lib/uuid.h - UUIDv7 (RFC 9562): time-ordered unique ids for events. */
#ifndef RP_CORE_UUID_H
#define RP_CORE_UUID_H

#include <stdint.h>

#define RP__UUID_STR_LEN 36

/* Writes a new UUIDv7 for the time unix_ms as 36 characters plus NUL into
 * out (37 bytes). Ids made by one thread are strictly increasing, even
 * within one millisecond and when the clock steps back; ids of different
 * threads (and processes, forked ones included) differ, but need not be in
 * the order of their making. Thread-safe and lock-free: each thread has its
 * own generator, seeded from the kernel on its first id. */
int rp__uuid7(int64_t unix_ms, char out[RP__UUID_STR_LEN + 1]);

#endif
