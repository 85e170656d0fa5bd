/*
 * core/lib/secrets.h - the secret values this process knows (config values
 * whose schema marks them "secret", the upload token), kept out of what it
 * prints: every log line (lib/log.c), config errors, status and the
 * control socket's answers replace each with RP__REDACTED.
 *
 * The values are registered as they are read (core/config.c, the plugin
 * loader, the uploader) and stay registered for the life of the process, so
 * a value a reload replaced is still hidden from lines about the old one.
 * Every function is safe from any thread.
 */
#ifndef RP_CORE_SECRETS_H
#define RP_CORE_SECRETS_H

#include <jansson.h>
#include <stddef.h>

#define RP__REDACTED "<redacted>"
/* At most this many values, each of RP__SECRET_MIN_LEN to RP__SECRET_MAX_LEN
 * bytes. A shorter value is not registered: replacing every "ab" in every
 * line would hide more than it protects (and such a secret protects little). */
#define RP__SECRETS_MAX    64
#define RP__SECRET_MIN_LEN 4
#define RP__SECRET_MAX_LEN 8192

/* Registers a copy of len bytes of value (a value already known is not
 * added twice). 0; RP_ERR_INVAL when shorter than RP__SECRET_MIN_LEN (not
 * registered); RP_ERR_FULL past RP__SECRETS_MAX or RP_ERR_RANGE past
 * RP__SECRET_MAX_LEN (not registered: the caller should say so);
 * RP_ERR_NOMEM. */
int rp__secrets_add(const char *value, size_t len);

/* Wipes and forgets every value (tests). */
void rp__secrets_clear(void);

/* Replaces every registered value in the NUL-terminated text in buf (cap
 * bytes of room) by RP__REDACTED, in place; a text that grows is cut to
 * fit. Returns how many were replaced. */
size_t rp__secrets_scrub(char *buf, size_t cap);

/* The same for every string (values and keys' values, not keys) of doc, in
 * place. Returns how many strings changed. */
size_t rp__secrets_scrub_json(json_t *doc);

/* Where a URL's user information (user:password@) lies: 0 with *off and
 * *len when "scheme://userinfo@host..." has one, RP_ERR_NOTFOUND otherwise. */
int rp__secrets_url_userinfo(const char *url, size_t *off, size_t *len);

#endif
