/*
 * core/os/os_caps.h - the process's privileges: Linux capabilities, the
 * capability bounding set and no_new_privs (core/privileges.c decides what
 * to keep; docs/capabilities.md).
 *
 * Implementations: core/os/unix/caps_unix.c (Linux; a no-op on other
 * Unixes) and core/os/win/caps_win.c (a no-op). Capability n is bit n of a
 * mask, as RP_CAP_* in <rampart/plugin.h>.
 */
#ifndef RP_CORE_OS_CAPS_H
#define RP_CORE_OS_CAPS_H

#include <stddef.h>
#include <stdint.h>

/* What rp__os_caps_limit did. */
typedef struct rp__os_caps_result {
    uint64_t kept;        /* the permitted and effective sets afterwards */
    int bounding_reduced; /* the bounding set is kept too (needs CAP_SETPCAP) */
    int no_new_privs;     /* PR_SET_NO_NEW_PRIVS is set */
} rp__os_caps_result;

/*
 * Reduces the permitted, effective and inheritable sets to keep (a subset of
 * what the process holds: nothing is gained), clears the ambient set, reduces
 * the bounding set to keep when the process holds CAP_SETPCAP (an
 * unprivileged process cannot, and holds nothing to lose), and sets
 * no_new_privs, so that nothing this process runs later gains a privilege.
 * Capabilities belong to each thread: it must be called while the process
 * has a single thread, so that every thread started later inherits the
 * result. RP_ERR_BUSY when more threads run (nothing changed),
 * RP_ERR_UNSUPPORTED on a system without capabilities (nothing to do),
 * RP_ERR_PERM or RP_ERR_IO when the kernel refused (why says what).
 */
int rp__os_caps_limit(uint64_t keep, rp__os_caps_result *out, char *why, size_t whylen);

/* The calling thread's permitted set. RP_ERR_UNSUPPORTED without capabilities. */
int rp__os_caps_permitted(uint64_t *out);

#endif
