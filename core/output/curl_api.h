/*
 * core/output/curl_api.h - libcurl, loaded when the uploader first needs it.
 *
 * An agent that writes its events to a file or to stdout never needs HTTPS,
 * and libcurl brings about 28 libraries (OpenSSL, GnuTLS, Kerberos, LDAP...)
 * that cost an idle agent about 5.5 MB of resident memory just by being
 * mapped. So rampartd does not link libcurl: the first use (the uploader's
 * set-up, or a check of an output URL) loads libcurl.so.4 and fills this
 * table. Files that call libcurl include this header instead of
 * <curl/curl.h>: the macros below send their curl_* calls through the table,
 * so the calls read as plain libcurl. Every entry is valid only after
 * rp__curl_load() returned 0.
 */
#ifndef RP_CORE_CURL_API_H
#define RP_CORE_CURL_API_H

/* The type-checking macros of curl.h would wrap curl_easy_setopt in a
 * statement expression naming the function; the table's entry is checked
 * by its declared type instead. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include <stddef.h>

#define RP__CURL_SONAME "libcurl.so.4"

/* X(name): one libcurl function the core calls. */
#define RP__CURL_FUNCTIONS(X)                                                                      \
    X(curl_global_init)                                                                            \
    X(curl_version)                                                                                \
    X(curl_version_info)                                                                           \
    X(curl_free)                                                                                   \
    X(curl_getdate)                                                                                \
    X(curl_url)                                                                                    \
    X(curl_url_set)                                                                                \
    X(curl_url_get)                                                                                \
    X(curl_url_cleanup)                                                                            \
    X(curl_url_strerror)                                                                           \
    X(curl_easy_init)                                                                              \
    X(curl_easy_setopt)                                                                            \
    X(curl_easy_getinfo)                                                                           \
    X(curl_easy_strerror)                                                                          \
    X(curl_easy_cleanup)                                                                           \
    X(curl_easy_header)                                                                            \
    X(curl_multi_init)                                                                             \
    X(curl_multi_cleanup)                                                                          \
    X(curl_multi_add_handle)                                                                       \
    X(curl_multi_remove_handle)                                                                    \
    X(curl_multi_perform)                                                                          \
    X(curl_multi_info_read)                                                                        \
    X(curl_multi_poll)                                                                             \
    X(curl_multi_wakeup)                                                                           \
    X(curl_slist_append)                                                                           \
    X(curl_slist_free_all)

struct rp__curl_api {
#define RP__CURL_MEMBER(name) __typeof__(name) *name;
    RP__CURL_FUNCTIONS(RP__CURL_MEMBER)
#undef RP__CURL_MEMBER
};

extern struct rp__curl_api rp__curl;

/* Loads libcurl and fills rp__curl, once per process (later calls return
 * the first result). 0, or RP_ERR_UNSUPPORTED with err saying what is
 * missing (the library, or one of its functions). */
int rp__curl_load(char *err, size_t errlen);

#ifndef RP__CURL_API_IMPL
/* curl.h defines these two as macros that insist on three arguments. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init         rp__curl.curl_global_init
#define curl_version             rp__curl.curl_version
#define curl_version_info        rp__curl.curl_version_info
#define curl_free                rp__curl.curl_free
#define curl_getdate             rp__curl.curl_getdate
#define curl_url                 rp__curl.curl_url
#define curl_url_set             rp__curl.curl_url_set
#define curl_url_get             rp__curl.curl_url_get
#define curl_url_cleanup         rp__curl.curl_url_cleanup
#define curl_url_strerror        rp__curl.curl_url_strerror
#define curl_easy_init           rp__curl.curl_easy_init
#define curl_easy_setopt         rp__curl.curl_easy_setopt
#define curl_easy_getinfo        rp__curl.curl_easy_getinfo
#define curl_easy_strerror       rp__curl.curl_easy_strerror
#define curl_easy_cleanup        rp__curl.curl_easy_cleanup
#define curl_easy_header         rp__curl.curl_easy_header
#define curl_multi_init          rp__curl.curl_multi_init
#define curl_multi_cleanup       rp__curl.curl_multi_cleanup
#define curl_multi_add_handle    rp__curl.curl_multi_add_handle
#define curl_multi_remove_handle rp__curl.curl_multi_remove_handle
#define curl_multi_perform       rp__curl.curl_multi_perform
#define curl_multi_info_read     rp__curl.curl_multi_info_read
#define curl_multi_poll          rp__curl.curl_multi_poll
#define curl_multi_wakeup        rp__curl.curl_multi_wakeup
#define curl_slist_append        rp__curl.curl_slist_append
#define curl_slist_free_all      rp__curl.curl_slist_free_all
#endif

#endif
