/*
 * core/os/os_secret.c - the portable part of os_secret.h, built on every
 * platform: wiping, messages and the bounded read, around the open and the
 * checks that core/os/unix/secret_unix.c and core/os/win/secret_win.c make.
 */
#include "os/os_secret.h"
#include "os/os_secret_int.h"

#include <rampart/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void rp__os_secret_wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

void rp__os_secret_say(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || whylen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

int rp__os_secret_read_to_end(rp__os_secret_read_fn read_some, void *h, size_t max, char **buf_out,
                              size_t *len_out, char *why, size_t whylen)
{
    char *buf = malloc(max + 1);
    if (!buf)
        return RP_ERR_NOMEM;
    size_t len = 0;
    int rc = 0;
    for (;;) {
        size_t got = 0;
        rc = read_some(h, buf + len, max + 1 - len, &got, why, whylen);
        if (rc != 0 || got == 0)
            break;
        len += got;
        if (len > max) {
            rp__os_secret_say(why, whylen, "more than the %zu bytes allowed", max);
            rc = RP_ERR_RANGE;
            break;
        }
    }
    if (rc != 0) {
        rp__os_secret_wipe(buf, max + 1);
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *buf_out = buf;
    *len_out = len;
    return 0;
}
