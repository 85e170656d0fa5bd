/*
 * core/os/os_secret.h - the files that hold upload credentials: secrets read
 * by the agent (the token, the TLS client key) and the files libcurl opens
 * itself at each handshake (the CA bundle, the client certificate).
 *
 * Implementations: core/os/unix/secret_unix.c, core/os/win/secret_win.c, and
 * core/os/os_secret.c for what they share.
 * Each file is opened once and every check is made on the open handle, so
 * the file cannot be swapped between the check and the read. Messages go to
 * why (may be NULL) without the file's name, which the caller puts in front
 * with the option that named it ("output.token_file /etc/x: <why>"); no
 * message ever quotes a secret's bytes.
 */
#ifndef RP_CORE_OS_SECRET_H
#define RP_CORE_OS_SECRET_H

#include <stddef.h>

/*
 * Reads the whole of a file that holds a secret. It must be a regular file
 * that only its owner may access (no permission for group or others; on
 * Windows, no read access for Everyone, Authenticated Users or Users), and
 * hold at most max bytes: the file is read to its end rather than trusting
 * its size, so a file that grows meanwhile is still refused. A FIFO planted
 * at the path cannot hang the caller. On success *buf is a new buffer of *len
 * bytes and a terminating NUL; the caller wipes and frees it.
 * RP_ERR_NOTFOUND (no such file), RP_ERR_PERM (cannot open it, or others may
 * access it), RP_ERR_CONFIG (not a regular file), RP_ERR_RANGE (more than
 * max bytes), RP_ERR_IO, RP_ERR_NOMEM.
 */
int rp__os_read_secret_file(const char *path, size_t max, char **buf, size_t *len, char *why,
                            size_t whylen);

/*
 * Checks that a file another library will read later (a CA bundle, a
 * certificate) opens for reading and is a regular file, so a typo is a
 * configuration error at start rather than a TLS error at every upload.
 * RP_ERR_NOTFOUND, RP_ERR_PERM (cannot open it), RP_ERR_CONFIG (anything
 * else: not a regular file, cannot be examined).
 */
int rp__os_check_readable_file(const char *path, char *why, size_t whylen);

/* Overwrites n bytes of a secret before its memory is freed, so that it does
 * not linger there; the stores are made through a volatile pointer, which
 * the compiler may not drop. */
void rp__os_secret_wipe(void *p, size_t n);

#endif
