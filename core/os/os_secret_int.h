/*
 * core/os/os_secret_int.h - what secret_unix.c and secret_win.c share, in
 * core/os/os_secret.c: the message writer and the bounded read to the end.
 * Private to core/os/.
 */
#ifndef RP_CORE_OS_SECRET_INT_H
#define RP_CORE_OS_SECRET_INT_H

#include <stddef.h>
#include <stdio.h> /* __MINGW_PRINTF_FORMAT, where there is one */

#if defined(__GNUC__) && defined(__MINGW_PRINTF_FORMAT)
#define RP__OS_SECRET_PRINTF __attribute__((format(__MINGW_PRINTF_FORMAT, 3, 4)))
#elif defined(__GNUC__)
#define RP__OS_SECRET_PRINTF __attribute__((format(printf, 3, 4)))
#else
#define RP__OS_SECRET_PRINTF
#endif

/* Writes a message to why when there is room for one (why may be NULL). */
void rp__os_secret_say(char *why, size_t whylen, const char *fmt, ...) RP__OS_SECRET_PRINTF;

/* Reads at most want bytes of the open file h into dst; *got is 0 at its
 * end. Returns 0, or RP_ERR_IO with a message in why. */
typedef int (*rp__os_secret_read_fn)(void *h, char *dst, size_t want, size_t *got, char *why,
                                     size_t whylen);

/* Reads the open file h with read_some to its end into a new buffer, as
 * rp__os_read_secret_file hands it out (NUL-terminated). The bound is max + 1
 * bytes rather than the file's size, so a file that grew since it was
 * examined is still refused. On failure the bytes read are wiped and freed.
 * The caller closes h. 0, RP_ERR_IO, RP_ERR_RANGE or RP_ERR_NOMEM. */
int rp__os_secret_read_to_end(rp__os_secret_read_fn read_some, void *h, size_t max, char **buf,
                              size_t *len, char *why, size_t whylen);

#endif
