/*
 * rampart/plugin.h - the one header a Rampart plugin includes.
 *
 * This header is the stable ABI between the agent and its plugins. It compiles
 * as C99, C11 and C++, includes only standard headers, and never anything from
 * the agent's core. See sdk/docs/abi-policy.md for what may change and how.
 */
#ifndef RAMPART_PLUGIN_H
#define RAMPART_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version. Majors must be equal; the host's minor must be >= the minor a
 * plugin requires. The major is also part of the entry symbol's name. */
#define RP_ABI_MAJOR 1
#define RP_ABI_MINOR 0

/*
 * Error codes. Every function of the ABI returns int: 0 on success or one of
 * these negative codes. The numbers are part of the ABI and never change; new
 * codes are only appended. The table is an X-macro so that the names, the
 * numbers and the messages of rp_strerror() come from one place.
 */
#define RP_ERROR_TABLE(X)                                                      \
    X(RP_OK, 0, "success")                                                     \
    X(RP_ERR_NOMEM, -1, "out of memory")                                       \
    X(RP_ERR_INVAL, -2, "invalid argument")                                    \
    X(RP_ERR_IO, -3, "input/output error")                                     \
    X(RP_ERR_NOTFOUND, -4, "not found")                                        \
    X(RP_ERR_PERM, -5, "permission denied")                                    \
    X(RP_ERR_CONFIG, -6, "invalid configuration")                              \
    X(RP_ERR_VERSION, -7, "incompatible ABI version")                          \
    X(RP_ERR_FULL, -8, "queue or buffer full")                                 \
    X(RP_ERR_BUSY, -9, "resource busy")                                        \
    X(RP_ERR_UNSUPPORTED, -10, "not supported")                                \
    X(RP_ERR_PARSE, -11, "malformed input")                                    \
    X(RP_ERR_RANGE, -12, "value out of range")                                 \
    X(RP_ERR_TIMEOUT, -13, "timed out")                                        \
    X(RP_ERR_AGAIN, -14, "try again later")                                    \
    X(RP_ERR_STOPPED, -15, "shutting down")                                     \
    X(RP_ERR_EXISTS, -16, "already exists")                                    \
    X(RP_ERR_TYPE, -17, "wrong type")                                          \
    X(RP_ERR_INTERNAL, -18, "internal error")

#define RP__ERROR_ENUM(name, value, text) name = (value),
enum rp_error { RP_ERROR_TABLE(RP__ERROR_ENUM) RP__ERROR_END_ };
#undef RP__ERROR_ENUM

/* rp_strerror: a static description of an error code. Never returns NULL; the
 * string is static and must not be freed. Safe from any thread. */
static inline const char *rp_strerror(int code)
{
    switch (code) {
#define RP__ERROR_TEXT(name, value, text)                                      \
    case (value):                                                              \
        return (text);
        RP_ERROR_TABLE(RP__ERROR_TEXT)
#undef RP__ERROR_TEXT
    default:
        return "unknown error";
    }
}

/* rp_errname: the symbolic name of an error code ("RP_ERR_NOMEM"), or
 * "RP_ERR_UNKNOWN". Static string; safe from any thread. */
static inline const char *rp_errname(int code)
{
    switch (code) {
#define RP__ERROR_NAME(name, value, text)                                      \
    case (value):                                                              \
        return #name;
        RP_ERROR_TABLE(RP__ERROR_NAME)
#undef RP__ERROR_NAME
    default:
        return "RP_ERR_UNKNOWN";
    }
}

/* An event: opaque to plugins, reached only through host calls. */
typedef struct rp_event rp_event;

#ifdef __cplusplus
}
#endif

#endif /* RAMPART_PLUGIN_H */
