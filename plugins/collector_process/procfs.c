/* procfs.c - bounded /proc readers and parsers (see procfs.h). */
#define _GNU_SOURCE
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int cp_read_at(int dirfd, const char *rel, char *buf, size_t cap, size_t *len)
{
    *len = 0;
    int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT || errno == ESRCH ? RP_ERR_NOTFOUND : RP_ERR_IO;
    size_t got = 0;
    int rc = 0;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = errno == ESRCH ? RP_ERR_NOTFOUND : RP_ERR_IO;
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if ((size_t)n < cap - (got - (size_t)n))
            break; /* short read: the end of a /proc file, see procfs.h */
    }
    close(fd);
    *len = got;
    return rc;
}

/* Parses an unsigned decimal at *p (up to end); advances *p. */
static int parse_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (s >= end || *s < '0' || *s > '9')
        return RP_ERR_PARSE;
    while (s < end && *s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return RP_ERR_PARSE;
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

/* A signed or unsigned decimal: some stat fields are negative (priority),
 * others use the whole u64 range (rsslim = RLIM_INFINITY). The value is
 * returned as int64 (the fields read here are small). */
static int parse_num(const char **p, const char *end, int64_t *out)
{
    int neg = 0;
    if (*p < end && **p == '-') {
        neg = 1;
        (*p)++;
    }
    uint64_t v;
    int rc = parse_u64(p, end, &v);
    if (rc != 0)
        return RP_ERR_PARSE;
    *out = neg ? -(int64_t)(v & INT64_MAX) : (int64_t)v;
    return 0;
}

int cp_parse_stat(const char *buf, size_t len, struct cp_stat *out)
{
    memset(out, 0, sizeof *out);
    /* The command name may hold spaces and parentheses: it runs from the
     * first '(' to the last ')'. */
    const char *end = buf + len;
    const char *open = memchr(buf, '(', len);
    const char *close = NULL;
    for (const char *q = end; q > buf; q--)
        if (q[-1] == ')') {
            close = q - 1;
            break;
        }
    if (!open || !close || close < open)
        return RP_ERR_PARSE;
    size_t clen = (size_t)(close - open - 1);
    if (clen > 16)
        clen = 16;
    memcpy(out->comm, open + 1, clen);
    out->comm[clen] = '\0';
    const char *p = close + 1;
    /* Field 3 is the state; numbers follow, separated by single spaces. */
    if (p + 3 > end || p[0] != ' ')
        return RP_ERR_PARSE;
    out->state = p[1];
    p += 2;
    for (int field = 4; field <= 52; field++) {
        if (p >= end || *p != ' ')
            return field > 22 ? 0 : RP_ERR_PARSE; /* older kernels stop early */
        p++;
        int64_t v;
        if (parse_num(&p, end, &v) != 0)
            return field > 22 ? 0 : RP_ERR_PARSE;
        if (field == 4)
            out->ppid = v >= 0 && v <= INT32_MAX ? (int32_t)v : 0;
        else if (field == 9)
            out->flags = (uint32_t)v;
        else if (field == 20)
            out->num_threads = v;
        else if (field == 22)
            out->starttime = v >= 0 ? (uint64_t)v : 0;
        else if (field == 52) {
            out->exit_code = (int32_t)v;
            out->has_exit_code = 1;
        }
    }
    return 0;
}

/* Finds "\n<key>" (or <key> at the start) and returns the text after it. */
static const char *find_line(const char *buf, size_t len, const char *key, size_t klen)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        if ((size_t)(end - p) >= klen && memcmp(p, key, klen) == 0)
            return p + klen;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        p = nl + 1;
    }
    return NULL;
}

static int parse_id_pair(const char *p, const char *end, uint32_t *real, uint32_t *eff)
{
    uint64_t a, b;
    while (p < end && (*p == '\t' || *p == ' '))
        p++;
    if (parse_u64(&p, end, &a) != 0 || a > UINT32_MAX)
        return RP_ERR_PARSE;
    while (p < end && (*p == '\t' || *p == ' '))
        p++;
    if (parse_u64(&p, end, &b) != 0 || b > UINT32_MAX)
        return RP_ERR_PARSE;
    *real = (uint32_t)a;
    *eff = (uint32_t)b;
    return 0;
}

int cp_parse_status(const char *buf, size_t len, struct cp_creds *out)
{
    const char *end = buf + len;
    const char *u = find_line(buf, len, "Uid:", 4);
    const char *g = find_line(buf, len, "Gid:", 4);
    if (!u || !g)
        return RP_ERR_PARSE;
    if (parse_id_pair(u, end, &out->uid, &out->euid) != 0 ||
        parse_id_pair(g, end, &out->gid, &out->egid) != 0)
        return RP_ERR_PARSE;
    return 0;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int has_marker(const char *p, size_t len)
{
    static const char *const markers[] = {"docker",   "containerd", "libpod", "crio",
                                          "kubepods", "podman",     NULL};
    for (int i = 0; markers[i]; i++) {
        size_t ml = strlen(markers[i]);
        for (size_t k = 0; k + ml <= len; k++)
            if (memcmp(p + k, markers[i], ml) == 0)
                return 1;
    }
    return 0;
}

int cp_container_id(const char *buf, size_t len, char out[65])
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        /* "hierarchy-id:controllers:path": only the path matters, and only
         * when it names a container runtime, so a stray 64-hex unit name of
         * the host is not taken for a container. */
        const char *c1 = memchr(p, ':', (size_t)(le - p));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
        if (c2 && has_marker(c2 + 1, (size_t)(le - c2 - 1))) {
            /* The last run of exactly 64 hex digits: nested paths
             * (kubepods/.../pod<uid>/<id>) end with the container. */
            const char *found = NULL;
            const char *q = c2 + 1;
            while (q < le) {
                if (!is_hex(*q)) {
                    q++;
                    continue;
                }
                const char *s = q;
                while (q < le && is_hex(*q))
                    q++;
                if (q - s == 64)
                    found = s;
            }
            if (found) {
                memcpy(out, found, 64);
                out[64] = '\0';
                return 0;
            }
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    return RP_ERR_NOTFOUND;
}

uint32_t cp_split_args(const char *buf, size_t len, rp_str *items, uint32_t max)
{
    uint32_t n = 0;
    size_t i = 0;
    while (i < len && n < max) {
        const char *s = buf + i;
        const char *z = memchr(s, '\0', len - i);
        size_t l = z ? (size_t)(z - s) : len - i;
        items[n].ptr = s;
        items[n].len = l;
        n++;
        i += l + 1;
    }
    return n;
}

size_t cp_join_args(const char *buf, size_t len, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    /* Trailing NULs end the vector; they are not empty arguments. */
    while (len > 0 && buf[len - 1] == '\0')
        len--;
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = buf[i] == '\0' ? ' ' : buf[i];
    out[n] = '\0';
    return n;
}

const char *cp_pid_path(char *out, size_t cap, int32_t pid, const char *name)
{
    /* Digits backwards, then the name: cheaper than snprintf on the hot
     * path, which runs several times per exec. */
    char digits[16];
    int nd = 0;
    uint32_t v = pid > 0 ? (uint32_t)pid : 0;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && nd < (int)sizeof digits);
    size_t nl = strlen(name);
    size_t need = (size_t)nd + 1 + nl + 1;
    if (need > cap) {
        if (cap)
            out[0] = '\0';
        return out;
    }
    size_t k = 0;
    while (nd > 0)
        out[k++] = digits[--nd];
    out[k++] = '/';
    memcpy(out + k, name, nl + 1);
    return out;
}
