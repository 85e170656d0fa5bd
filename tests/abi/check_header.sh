#!/usr/bin/env bash
# check_header.sh SDK_INCLUDE_DIR
# The SDK headers compile as C99, C11 and C++ with strict warnings, on their
# own, and include nothing but standard headers: plugin.h (the ABI) and
# plugin_util.h (the header-only helpers, which may include plugin.h too).
set -euo pipefail
inc=$1
hdr="$inc/rampart/plugin.h"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bad=$(grep -E '^\s*#\s*include' "$hdr" | grep -vE '<(stddef|stdint)\.h>' || true)
if [ -n "$bad" ]; then
    echo "FAIL: plugin.h includes more than standard headers: $bad" >&2
    exit 1
fi
cat > "$tmp/use.c" <<'C'
#include <rampart/plugin.h>
static int entry(const rp_host_api *host, const rp_plugin_descriptor **out)
{
    (void)host;
    *out = 0;
    return RP_HOST_HAS(host, monotonic_ns) ? RP_OK : RP_ERR_UNSUPPORTED;
}
int main(void)
{
    rp_plugin_entry_fn f = entry;
    return f != 0 && rp_strerror(RP_ERR_NOMEM)[0] != 0 ? 0 : 1;
}
C
cp "$tmp/use.c" "$tmp/use.cpp"
set -x
gcc -std=c99 -Wall -Wextra -Werror -pedantic -I "$inc" -o "$tmp/c99" "$tmp/use.c"
gcc -std=c11 -Wall -Wextra -Werror -pedantic -I "$inc" -o "$tmp/c11" "$tmp/use.c"
g++ -std=c++11 -Wall -Wextra -Werror -pedantic -I "$inc" -o "$tmp/cxx11" "$tmp/use.cpp"
g++ -std=c++17 -Wall -Wextra -Werror -pedantic -I "$inc" -o "$tmp/cxx17" "$tmp/use.cpp"
if command -v clang >/dev/null; then
    clang -std=c99 -Wall -Wextra -Werror -pedantic -I "$inc" -o "$tmp/clang99" "$tmp/use.c"
fi
# One command per line: under set -e a failure inside "a && b" would not stop
# the script.
"$tmp/c99"
"$tmp/c11"
"$tmp/cxx11"
"$tmp/cxx17"
echo "plugin.h: C99, C11, C++11, C++17 OK"

util="$inc/rampart/plugin_util.h"
bad=$(cat "$util" "$inc/rampart/plugin_util_json.h" | grep -E '^\s*#\s*include' |
    grep -vE '<(rampart/plugin|rampart/plugin_util|stdarg|stddef|stdint|stdio|stdlib|string)\.h>' || true)
if [ -n "$bad" ]; then
    echo "FAIL: plugin_util.h includes more than plugin.h and standard headers: $bad" >&2
    exit 1
fi
# Every helper is used, so each compiler checks every body in its language.
cat > "$tmp/util.c" <<'C'
#include <rampart/plugin_util.h>
#include <rampart/plugin_util.h>
#include <rampart/plugin_util_json.h>
#include <rampart/plugin_util_json.h>
/* A fake host's config getters: "/b" true, "/i" -7, "/s" "abc", and
 * "/exclude_rules/users" ["0"]. */
static int is(const char *path, uint64_t len, const char *want)
{
    return len == strlen(want) && memcmp(path, want, len) == 0;
}
static int cbool_fn(rp_plugin *self, const char *path, uint64_t len, int32_t *out)
{
    (void)self;
    *out = 1;
    return is(path, len, "/b") ? 0 : RP_ERR_NOTFOUND;
}
static int ci64_fn(rp_plugin *self, const char *path, uint64_t len, int64_t *out)
{
    (void)self;
    *out = -7;
    return is(path, len, "/i") ? 0 : RP_ERR_NOTFOUND;
}
static int cstr_fn(rp_plugin *self, const char *path, uint64_t len, const char **out,
                   uint64_t *n)
{
    (void)self;
    *out = "abc";
    *n = 3;
    return is(path, len, "/s") ? 0 : RP_ERR_NOTFOUND;
}
static int ccount_fn(rp_plugin *self, const char *path, uint64_t len, uint32_t *count)
{
    (void)self;
    *count = 1;
    return is(path, len, "/exclude_rules/users") ? 0 : RP_ERR_NOTFOUND;
}
static int citem_fn(rp_plugin *self, const char *path, uint64_t len, uint32_t index,
                    const char **out, uint64_t *n)
{
    (void)self;
    *out = "0";
    *n = 1;
    return is(path, len, "/exclude_rules/users") && index == 0 ? 0 : RP_ERR_RANGE;
}
static char logged[64];
static void log_fn(rp_plugin *self, int32_t level, const char *msg, uint64_t len)
{
    (void)self;
    (void)level;
    memcpy(logged, msg, len < sizeof logged - 1 ? (size_t)len : sizeof logged - 1);
}
static int reg_fn(rp_plugin *self, const char *name, uint64_t len, uint32_t *id)
{
    (void)self;
    (void)name;
    *id = (uint32_t)len;
    return 0;
}
static int add_fn(rp_plugin *self, uint32_t id, uint64_t delta)
{
    (void)self;
    return id == 2 && delta == 3 ? 0 : RP_ERR_INVAL;
}
static int field_fn(rp_plugin *self, const char *name, uint64_t len, uint32_t type,
                    rp_field_id *out)
{
    (void)self;
    (void)name;
    *out = (rp_field_id)(len + type);
    return 0;
}
int main(void)
{
    static const char json[] = "{\"n\":[\"x\",\"\\u00e9\"],\"u\":7,\"i\":-7,\"b\":true,\"s\":\"a\"}";
    static const char *const names[] = {"ab"};
    rp_host_api host;
    rp_util_counters ctr;
    rp_util_config_iter it;
    uint64_t u = 0;
    int64_t i = 0;
    int b = 0, items = 0;
    char buf[16];
    size_t n = 0, len = sizeof json - 1;
    memset(&host, 0, sizeof host);
    host.log = log_fn;
    host.counter_register = reg_fn;
    host.counter_add = add_fn;
    if (rp_util_logf(&host, 0, RP_LOG_INFO, "%s %d", "x", 1) != 0 || strcmp(logged, "x 1") != 0)
        return 1;
    static const rp_util_field_def defs[] = {{"process.pid", RP_TYPE_I64}};
    rp_field_id fid = 0;
    const char *text = 0;
    size_t tlen = 0;
    host.field_id = field_fn;
    if (rp_util_fields_register(&host, 0, defs, 1, &fid) != 0 || fid == 0)
        return 6;
    rp_util_config_text(&host, 0, &text, &tlen);
    if (tlen != 2 || text[0] != '{')
        return 7;
    if (rp_util_counters_register(&ctr, &host, 0, names, 1, RP_UTIL_COUNTERS_TOTALS) != 0 ||
        rp_util_count(&ctr, 0, 3) != 0 || rp_util_counter_total(&ctr, 0) != 3)
        return 2;
    if (rp_util_config_valid(json, len) != 0 || rp_util_config_uint(json, len, "u", 0, &u) != 0 ||
        u != 7 || rp_util_config_int(json, len, "i", 0, &i) != 0 || i != -7 ||
        rp_util_config_bool(json, len, "b", 0, &b) != 0 || b != 1 ||
        rp_util_config_str(json, len, "s", 0, buf, sizeof buf, &n) != 0 || n != 1)
        return 3;
    if (rp_util_config_array(json, len, "n", &it) != 0)
        return 4;
    while (rp_util_config_next_str(&it, buf, sizeof buf, &n) == 0)
        items += n == 2 && strcmp(buf, "\xc3\xa9") == 0 ? 10 : 1;
    if (items != 11)
        return 5;
    /* The wrappers over the 1.1 getters: nothing there on this 1.0-style
     * table, then the fake getters. */
    if (rp_util_conf_bool(&host, 0, "/b", 0, &b) != RP_ERR_UNSUPPORTED || b != 0)
        return 8;
    host.struct_size = (uint32_t)sizeof host;
    host.config_bool = cbool_fn;
    host.config_i64 = ci64_fn;
    host.config_str = cstr_fn;
    host.config_str_array_count = ccount_fn;
    host.config_str_array_item = citem_fn;
    rp_util_exclude x;
    char err[128];
    uint32_t count = 0;
    if (rp_util_conf_bool(&host, 0, "/b", 0, &b) != 0 || b != 1 ||
        rp_util_conf_i64(&host, 0, "/i", 0, &i) != 0 || i != -7 ||
        rp_util_conf_u64(&host, 0, "/i", 5, &u) != RP_ERR_RANGE || u != 5 ||
        rp_util_conf_str(&host, 0, "/s", "d", buf, sizeof buf, &n) != 0 || n != 3 ||
        rp_util_conf_str(&host, 0, "/s", "d", buf, 3, &n) != RP_ERR_FULL || strcmp(buf, "d") != 0 ||
        rp_util_conf_str_count(&host, 0, "/exclude_rules/users", &count) != 0 || count != 1 ||
        rp_util_conf_str_item(&host, 0, "/exclude_rules/users", 1, buf, sizeof buf, &n) !=
            RP_ERR_RANGE)
        return 9;
    if (rp_util_exclude_read(&host, 0, &x, 0, err, sizeof err) != 0 || x.nuid != 1 ||
        !rp_util_exclude_uid(&x, 0))
        return 10;
    rp_util_exclude_free(&x);
    return 0;
}
C
cp "$tmp/util.c" "$tmp/util.cpp"
strict="-Wall -Wextra -Werror -pedantic -Wshadow -Wconversion -Wsign-conversion -Wformat=2"
gcc -std=c99 $strict -Wstrict-prototypes -I "$inc" -o "$tmp/u_c99" "$tmp/util.c"
gcc -std=c11 $strict -Wstrict-prototypes -I "$inc" -o "$tmp/u_c11" "$tmp/util.c"
g++ -std=c++11 $strict -I "$inc" -o "$tmp/u_cxx11" "$tmp/util.cpp"
g++ -std=c++17 $strict -I "$inc" -o "$tmp/u_cxx17" "$tmp/util.cpp"
# One command a line: a failure inside an && list would not stop set -e.
"$tmp/u_c99"
"$tmp/u_c11"
"$tmp/u_cxx11"
"$tmp/u_cxx17"
if command -v clang >/dev/null; then
    clang -std=c99 $strict -Wstrict-prototypes -I "$inc" -o "$tmp/u_clang99" "$tmp/util.c"
    clang -std=c11 $strict -Wstrict-prototypes -I "$inc" -o "$tmp/u_clang11" "$tmp/util.c"
    "$tmp/u_clang99"
    "$tmp/u_clang11"
fi
if command -v clang++ >/dev/null; then
    clang++ -std=c++11 $strict -I "$inc" -o "$tmp/u_clangxx11" "$tmp/util.cpp"
    clang++ -std=c++17 $strict -I "$inc" -o "$tmp/u_clangxx17" "$tmp/util.cpp"
    "$tmp/u_clangxx11"
    "$tmp/u_clangxx17"
fi
echo "plugin_util.h, plugin_util_json.h: C99, C11, C++11, C++17 OK"

# The response helper: plugin_util.h and standard headers only; its bodies
# are compiled (and so checked) in every language with the strict flags.
resp="$inc/rampart/plugin_util_response.h"
bad=$(grep -E '^\s*#\s*include' "$resp" | grep -vE '<(rampart/plugin_util)\.h>' || true)
if [ -n "$bad" ]; then
    echo "FAIL: plugin_util_response.h includes more than plugin_util.h: $bad" >&2
    exit 1
fi
cat > "$tmp/resp.c" <<'C'
#include <rampart/plugin_util_response.h>
#include <rampart/plugin_util_response.h>
int main(void)
{
    rp_util_response r;
    rp_event *ev = 0;
    /* NULL arguments are refused without touching the host. */
    return rp_util_response_init(&r, 0, 0) == RP_ERR_INVAL &&
                   rp_util_response_wants(0, 0, "kill") == 0 &&
                   rp_util_response_begin(0, 0, "kill", 0, 0, &ev) == RP_ERR_INVAL &&
                   rp_util_response_finish(0, 0, 0, RP_UTIL_RESPONSE_DONE, 0, "%s", "x") ==
                       RP_ERR_INVAL
               ? 0
               : 1;
}
C
cp "$tmp/resp.c" "$tmp/resp.cpp"
gcc -std=c99 $strict -Wstrict-prototypes -I "$inc" -o "$tmp/r_c99" "$tmp/resp.c"
gcc -std=c11 $strict -Wstrict-prototypes -I "$inc" -o "$tmp/r_c11" "$tmp/resp.c"
g++ -std=c++11 $strict -I "$inc" -o "$tmp/r_cxx11" "$tmp/resp.cpp"
"$tmp/r_c99"
"$tmp/r_c11"
"$tmp/r_cxx11"
if command -v clang >/dev/null; then
    clang -std=c11 $strict -Wstrict-prototypes -I "$inc" -o "$tmp/r_clang11" "$tmp/resp.c"
    "$tmp/r_clang11"
fi
echo "plugin_util_response.h: C99, C11, C++11 OK"

# Service headers: plugin.h and standard headers only, every language.
for svc in "$inc"/rampart/service_*.h; do
    name=$(basename "$svc")
    bad=$(grep -E '^\s*#\s*include' "$svc" | grep -vE '<(rampart/plugin|stddef|stdint)\.h>' || true)
    if [ -n "$bad" ]; then
        echo "FAIL: $name includes more than plugin.h and standard headers: $bad" >&2
        exit 1
    fi
    printf '#include <rampart/%s>\n#include <rampart/%s>\nint main(void) { return 0; }\n' \
        "$name" "$name" >"$tmp/svc.c"
    cp "$tmp/svc.c" "$tmp/svc.cpp"
    gcc -std=c99 -Wall -Wextra -Werror -pedantic -I "$inc" -o "$tmp/svc99" "$tmp/svc.c"
    gcc -std=c11 -Wall -Wextra -Werror -pedantic -I "$inc" -o "$tmp/svc11" "$tmp/svc.c"
    g++ -std=c++11 -Wall -Wextra -Werror -pedantic -I "$inc" -o "$tmp/svcxx11" "$tmp/svc.cpp"
    echo "$name: C99, C11, C++11 OK"
done
