/*
 * allow.h - checks on allowed peers shared by the files of responder_isolate
 * (allow.c): nft.c renders only peers that pass ri_allow_check, and
 * sessions.c asks ri_allow_covers which sockets a policy keeps. No host
 * calls and no libnftables here, so the parser is fuzzed on its own
 * (tests/fuzz/fuzz_isolate_allow.c).
 */
#ifndef RP_RESPONDER_ISOLATE_ALLOW_H
#define RP_RESPONDER_ISOLATE_ALLOW_H

#include "nft.h"

#include <stdarg.h>

/* The longest text ri_allow_parse reads: an IPv6 address, '/' and 3 digits. */
#define RI_ALLOW_TEXT_MAX 64

/* 0 when a is a peer the table can hold: family AF_INET or AF_INET6, prefix
 * 1..32 or 1..128 with no address bit set past it, proto 0, TCP or UDP, a
 * known role. RP_ERR_INVAL with a message in err (may be NULL) otherwise. */
int ri_allow_check(const struct ri_allow *a, char *err, size_t errcap);

/* 1 when the address addr of family (AF_INET: 4 bytes, AF_INET6: 16) lies in
 * a's prefix, else 0. Ports and protocols are not looked at. */
int ri_allow_covers(const struct ri_allow *a, int family, const uint8_t *addr);

/* Writes a message into err (NUL-terminated, cut to errcap); err may be NULL. */
void ri_errf(char *err, size_t errcap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* RP_RESPONDER_ISOLATE_ALLOW_H */
