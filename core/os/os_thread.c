/*
 * core/os/os_thread.c - the portable part of os_thread.h: rp__os_once needs
 * only C11 atomics and a yield, so Unix and Windows share this one copy
 * (core/CMakeLists.txt builds the files of core/os/ itself on every
 * platform).
 */
#include "os/os_thread.h"

void rp__os_once(rp__os_once_flag *flag, void (*fn)(void *arg), void *arg)
{
    if (atomic_load_explicit(&flag->state, memory_order_acquire) == 2)
        return;
    int expected = 0;
    if (atomic_compare_exchange_strong_explicit(&flag->state, &expected, 1, memory_order_acq_rel,
                                                memory_order_acquire)) {
        fn(arg);
        atomic_store_explicit(&flag->state, 2, memory_order_release);
        return;
    }
    /* Another thread runs fn: wait for it. This happens at most once per
     * flag and thread, and fn is short. */
    while (atomic_load_explicit(&flag->state, memory_order_acquire) != 2)
        rp__os_thread_yield();
}
