/*
 * core/os/os_poll.h - the readiness poller behind the event loop.
 *
 * The smallest interface the loop (core/runtime/loop.c) needs from the OS: register
 * fds with an opaque 64-bit token, wait for readiness with a timeout, and wake
 * a waiter from another thread. Backends: core/os/unix/poll_epoll.c (epoll +
 * eventfd, Linux) and core/os/win/poll_win.c (WSAPoll sketch, not built on
 * Linux). Shared code never calls epoll itself.
 *
 * Registrations are level-triggered: a ready fd is reported by every wait
 * until the condition is consumed. Hang-up and error conditions are always
 * reported, whatever was asked for.
 *
 * Thread safety: add/modify/remove/wake may be called from any thread, also
 * while another thread is in rp__os_poller_wait (only one thread waits at a
 * time). All functions return 0 or a negative RP_ERR_* code.
 */
#ifndef RP_CORE_OS_POLL_H
#define RP_CORE_OS_POLL_H

#include <stdint.h>

/* Interest and readiness bits. The loop's RP__LOOP_* bits have the same
 * values (checked in core/runtime/loop.c), so no translation is needed there. */
#define RP__OS_POLL_IN  0x1u /* readable (or end-of-file pending) */
#define RP__OS_POLL_OUT 0x2u /* writable */
#define RP__OS_POLL_ERR 0x4u /* error condition on the fd (reported only) */
#define RP__OS_POLL_HUP 0x8u /* peer hung up / write end closed (reported only) */

typedef struct rp__os_poll_event {
    uint64_t token;   /* as given to rp__os_poller_add/modify */
    uint32_t revents; /* RP__OS_POLL_* */
} rp__os_poll_event;

typedef struct rp__os_poller rp__os_poller;

/* A poller with its own wake-up channel (an eventfd on Linux). */
int rp__os_poller_create(rp__os_poller **out);
/* Closes the poller's own handles; registered fds are not closed (they belong
 * to whoever registered them). NULL is a no-op. */
void rp__os_poller_destroy(rp__os_poller *p);

/* Registers fd for events (RP__OS_POLL_IN | RP__OS_POLL_OUT, may be 0 to
 * hear only errors and hang-ups). RP_ERR_EXISTS if fd is already registered,
 * RP_ERR_INVAL if it cannot be polled (e.g. a regular file on Linux). */
int rp__os_poller_add(rp__os_poller *p, int fd, uint32_t events, uint64_t token);
/* Changes the interest set and token of a registered fd. */
int rp__os_poller_modify(rp__os_poller *p, int fd, uint32_t events, uint64_t token);
/* Unregisters fd. RP_ERR_NOTFOUND if it was not registered or is already
 * closed (closing an fd unregisters it unless it was duplicated). */
int rp__os_poller_remove(rp__os_poller *p, int fd);

/*
 * Waits up to timeout_ms (-1: forever, 0: do not block) and stores up to max
 * ready events in out, their number in *n. A wake-up from rp__os_poller_wake
 * makes the wait return (possibly with *n == 0) and is consumed here, never
 * reported as an event. An interrupted wait returns 0 with *n == 0.
 */
int rp__os_poller_wait(rp__os_poller *p, int timeout_ms, rp__os_poll_event *out, int max, int *n);

/* Makes the current or next rp__os_poller_wait return. Wakes issued before
 * that wait returns collapse into one. Safe from any thread. */
int rp__os_poller_wake(rp__os_poller *p);

#endif
