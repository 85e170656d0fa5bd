/*
 * core/lib/buf.h - a growable byte buffer with a hard cap, the output buffer
 * of the encoders, the gzip wrapper, the sink and the spool's reader.
 *
 * Thread-safety: any thread; one rp__buf must not be used by two threads at
 * once.
 */
#ifndef RP_CORE_BUF_H
#define RP_CORE_BUF_H

#include <stddef.h>

/*
 * A growable byte buffer owned by the caller. data holds len bytes of
 * content (not NUL-terminated); cap is the allocated size; max is the most
 * content the buffer may ever hold. Memory never grows past max bytes:
 * an append that would make len exceed max fails with RP_ERR_FULL and leaves
 * the buffer exactly as it was (same len, same content), so a caller can
 * flush what it has and retry. Appends that run out of memory fail the same
 * way with RP_ERR_NOMEM.
 *
 * Initialise with rp__buf_init (or zero it and set max); release with
 * rp__buf_free. The struct itself may live anywhere.
 */
typedef struct rp__buf {
    char *data;
    size_t len, cap;
    size_t max;
} rp__buf;

/* No cap but memory itself; for tests and tools, never on the agent's paths. */
#define RP__BUF_NO_MAX ((size_t)-1 / 2)

/* Sets up an empty buffer that may hold up to max bytes. Allocates nothing. */
void rp__buf_init(rp__buf *b, size_t max);
/* Frees the memory and leaves an empty buffer (same max) that can be reused.
 * NULL is a no-op. */
void rp__buf_free(rp__buf *b);
/* Empties the buffer, keeping its memory for the next appends. */
void rp__buf_reset(rp__buf *b);
/* Cuts the content back to len bytes (len <= b->len), for undoing a partial
 * append sequence; no-op when len >= b->len. */
void rp__buf_truncate(rp__buf *b, size_t len);

/* Makes room for n more bytes without changing the content: after 0,
 * b->cap - b->len >= n. RP_ERR_FULL when len + n > max, RP_ERR_NOMEM. */
int rp__buf_reserve(rp__buf *b, size_t n);
/* Appends n bytes (p may be NULL when n is 0). All or nothing. */
int rp__buf_append(rp__buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string (without the NUL). All or nothing. */
int rp__buf_append_cstr(rp__buf *b, const char *s);

#endif
