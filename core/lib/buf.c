/* core/lib/buf.c - the capped growable byte buffer (buf.h). */
#include "lib/buf.h"

#include <rampart/plugin.h>

#include <stdlib.h>
#include <string.h>

void rp__buf_init(rp__buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void rp__buf_free(rp__buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void rp__buf_reset(rp__buf *b)
{
    b->len = 0;
}

void rp__buf_truncate(rp__buf *b, size_t len)
{
    if (len < b->len)
        b->len = len;
}

/* Grows the allocation so that n more bytes fit. Doubling keeps appends
 * amortised O(1); the allocation never exceeds max, which is the point of
 * having a max on a memory-starved machine. */
static int buf_grow(rp__buf *b, size_t n)
{
    if (b->len > b->max || n > b->max - b->len)
        return RP_ERR_FULL;
    size_t need = b->len + n;
    if (need <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > b->max / 2 ? b->max : ncap * 2;
    if (ncap > b->max)
        ncap = b->max;
    char *d = realloc(b->data, ncap);
    if (!d)
        return RP_ERR_NOMEM;
    b->data = d;
    b->cap = ncap;
    return 0;
}

int rp__buf_reserve(rp__buf *b, size_t n)
{
    return buf_grow(b, n);
}

int rp__buf_append(rp__buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = buf_grow(b, n);
    if (rc != 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int rp__buf_append_cstr(rp__buf *b, const char *s)
{
    return rp__buf_append(b, s, strlen(s));
}
