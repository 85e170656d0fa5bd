/*
 * tests/unit/alloc_count.h - counts the allocations a test program makes
 * while `counting` is set, for the tests that promise no allocation on a hot
 * path (a Sigma match, an automaton scan, an engine evaluation, a verdict
 * lookup). Under ASan or TSan it uses the sanitizer's malloc hook (the
 * sanitizer's allocator owns every block); otherwise it interposes malloc,
 * calloc and realloc of the whole program (libraries included) over glibc's.
 *
 * It defines those functions, so include it in one file of a test program
 * only (each tests/unit/test_*.c is a program of its own), and call
 * counting_install() once before counting.
 */
#ifndef RP_TESTS_ALLOC_COUNT_H
#define RP_TESTS_ALLOC_COUNT_H

#include <stddef.h>

static volatile int counting;
static volatile size_t allocations;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RP_TEST_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RP_TEST_SANITIZER 1
#endif
#endif
#ifdef RP_TEST_SANITIZER
/* From the sanitizer runtime (sanitizer/allocator_interface.h, which gcc's
 * packages do not ship). */
int __sanitizer_install_malloc_and_free_hooks(void (*m)(const volatile void *, size_t),
                                              void (*f)(const volatile void *));
static void count_malloc(const volatile void *p, size_t n)
{
    (void)p;
    (void)n;
    if (counting)
        allocations++;
}
static void count_free(const volatile void *p)
{
    (void)p;
}
static void counting_install(void)
{
    __sanitizer_install_malloc_and_free_hooks(count_malloc, count_free);
}
#else
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void *malloc(size_t n)
{
    if (counting)
        allocations++;
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t size)
{
    if (counting)
        allocations++;
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n)
{
    if (counting)
        allocations++;
    return __libc_realloc(p, n);
}
static void counting_install(void)
{
}
#endif

#endif
