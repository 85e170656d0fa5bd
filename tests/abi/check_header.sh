#!/usr/bin/env bash
# check_header.sh SDK_INCLUDE_DIR
# The SDK header compiles as C99, C11 and C++ with strict warnings, on its own,
# and includes nothing but standard headers.
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
"$tmp/c99" && "$tmp/c11" && "$tmp/cxx11" && "$tmp/cxx17"
echo "plugin.h: C99, C11, C++11, C++17 OK"
