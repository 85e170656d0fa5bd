#!/usr/bin/env bash
# Compiles (no link) the sources meant to build on Windows with mingw-w64, so
# the Windows port cannot rot while Linux is the only platform that runs:
# every core/os/win/*.c plus the shared core files already free of Unix calls.
#   tools/check-mingw.sh
# Uses $MINGW_CC (default x86_64-w64-mingw32-gcc; Debian package
# gcc-mingw-w64-x86-64-win32, installed by tools/deps.sh test). Without that
# compiler it says so and exits 77, which ctest shows as skipped (never as
# passed), or 1 when RP_REQUIRE_ALL=1 (.ci/run: the CI machine must run it).
# Prints each file's diagnostics and exits 1 if any file fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cc=${MINGW_CC:-x86_64-w64-mingw32-gcc}

if ! command -v "$cc" >/dev/null 2>&1; then
    if [ "${RP_REQUIRE_ALL:-}" = 1 ]; then
        echo "check-mingw: $cc not found, and RP_REQUIRE_ALL=1 makes that a failure" \
            "(apt-get install gcc-mingw-w64-x86-64-win32)" >&2
        exit 1
    fi
    echo "check-mingw: $cc not found; skipped (apt-get install gcc-mingw-w64-x86-64-win32)"
    exit 77
fi

# Windows 8 (0x0602) is the oldest target: GetSystemTimePreciseAsFileTime and
# LoadLibraryExW's LOAD_LIBRARY_SEARCH_* flags need it.
flags=(-std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -D_WIN32_WINNT=0x0602
    -I core -I sdk/include)
# Shared core files that must stay portable; add one here once it builds.
files=(core/lib/log.c core/lib/path.c core/lib/uuid.c core/lib/buf.c core/lib/crc32c.c core/runtime/loop.c core/runtime/workers.c core/output/retry.c core/output/spool.c core/output/spool_codec.c core/output/spool_recover.c)
for f in core/os/win/*.c; do
    [ -f "$f" ] && files+=("$f")
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=()
for f in "${files[@]}"; do
    if "$cc" "${flags[@]}" -c "$f" -o "$out/$(basename "$f" .c).o"; then
        echo "check-mingw: ok   $f"
    else
        echo "check-mingw: FAIL $f"
        failed+=("$f")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "check-mingw: ${#failed[@]} of ${#files[@]} files do not compile for Windows: ${failed[*]}" >&2
    exit 1
fi
echo "check-mingw: ${#files[@]} files compile for Windows"
