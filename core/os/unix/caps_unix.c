/* core/os/unix/caps_unix.c - Linux capabilities and no_new_privs through
 * capget/capset and prctl directly: the four calls are all the agent needs,
 * which does not warrant libcap as a dependency. Other Unixes have no
 * capability sets: the calls are no-ops there. */
#include "os/os_caps.h"

#include <rampart/plugin.h>

#include <stdio.h>

#ifdef __linux__
#include <dirent.h>
#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT           47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

static int caps_read(struct __user_cap_data_struct d[2])
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    memset(d, 0, 2 * sizeof d[0]);
    return syscall(SYS_capget, &h, d) == 0 ? 0 : -1;
}

static uint64_t mask_of(const struct __user_cap_data_struct d[2], int which)
{
    uint32_t lo = which == 0 ? d[0].permitted : which == 1 ? d[0].effective : d[0].inheritable;
    uint32_t hi = which == 0 ? d[1].permitted : which == 1 ? d[1].effective : d[1].inheritable;
    return (uint64_t)hi << 32 | lo;
}

/* Threads of this process, counted in /proc/self/task; -1 when unknown. */
static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

int rp__os_caps_permitted(uint64_t *out)
{
    struct __user_cap_data_struct d[2];
    if (caps_read(d) != 0)
        return errno == EINVAL ? RP_ERR_UNSUPPORTED : RP_ERR_IO;
    *out = mask_of(d, 0);
    return 0;
}

int rp__os_caps_limit(uint64_t keep, rp__os_caps_result *out, char *why, size_t whylen)
{
    rp__os_caps_result res = {0};
    if (why && whylen)
        why[0] = '\0';
    int threads = thread_count();
    if (threads != 1) {
        if (why && whylen)
            snprintf(why, whylen,
                     threads < 0 ? "cannot count the threads (/proc/self/task)"
                                 : "%d threads run; capabilities belong to each thread",
                     threads);
        return RP_ERR_BUSY;
    }
    struct __user_cap_data_struct d[2];
    if (caps_read(d) != 0) {
        if (why && whylen)
            snprintf(why, whylen, "capget: %s", strerror(errno));
        return errno == EINVAL ? RP_ERR_UNSUPPORTED : RP_ERR_IO;
    }
    uint64_t perm = mask_of(d, 0), inh = mask_of(d, 2);
    keep &= perm; /* nothing is gained */
    /* The bounding set first: dropping from it needs CAP_SETPCAP in the
     * effective set, which the capset below takes away. It is what a
     * program started later could get back, so it is reduced whenever the
     * process is allowed to. */
    if (mask_of(d, 1) & ((uint64_t)1 << CAP_SETPCAP)) {
        for (int cap = 0; cap < 64; cap++) {
            int in = prctl(PR_CAPBSET_READ, (unsigned long)cap, 0UL, 0UL, 0UL);
            if (in < 0)
                break; /* past the kernel's last capability */
            if (in == 0 || (keep & ((uint64_t)1 << cap)))
                continue;
            if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0UL, 0UL, 0UL) != 0) {
                if (why && whylen)
                    snprintf(why, whylen, "PR_CAPBSET_DROP %d: %s", cap, strerror(errno));
                return errno == EPERM ? RP_ERR_PERM : RP_ERR_IO;
            }
        }
        res.bounding_reduced = 1;
    }
    /* The ambient set holds what a program started later keeps; it is
     * cleared (kernels before 4.3 have none: EINVAL, nothing to clear). */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0UL, 0UL, 0UL) != 0 && errno != EINVAL) {
        if (why && whylen)
            snprintf(why, whylen, "PR_CAP_AMBIENT_CLEAR_ALL: %s", strerror(errno));
        return RP_ERR_IO;
    }
    uint64_t ninh = inh & keep;
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct nd[2] = {
        {.effective = (uint32_t)keep, .permitted = (uint32_t)keep, .inheritable = (uint32_t)ninh},
        {.effective = (uint32_t)(keep >> 32),
         .permitted = (uint32_t)(keep >> 32),
         .inheritable = (uint32_t)(ninh >> 32)}};
    if (syscall(SYS_capset, &h, nd) != 0) {
        if (why && whylen)
            snprintf(why, whylen, "capset: %s", strerror(errno));
        return errno == EPERM ? RP_ERR_PERM : RP_ERR_IO;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL) != 0) {
        if (why && whylen)
            snprintf(why, whylen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        return RP_ERR_IO;
    }
    res.no_new_privs = 1;
    /* What the kernel holds now, not what was asked. */
    res.kept = caps_read(nd) == 0 ? mask_of(nd, 0) : keep;
    if (out)
        *out = res;
    return 0;
}

#else /* a Unix without capability sets */

int rp__os_caps_permitted(uint64_t *out)
{
    *out = 0;
    return RP_ERR_UNSUPPORTED;
}

int rp__os_caps_limit(uint64_t keep, rp__os_caps_result *out, char *why, size_t whylen)
{
    (void)keep;
    if (out)
        *out = (rp__os_caps_result){0};
    if (why && whylen)
        snprintf(why, whylen, "no capability sets on this platform");
    return RP_ERR_UNSUPPORTED;
}

#endif
