#!/usr/bin/env bash
# Compiles (no link) every C file of core/ for Windows with mingw-w64, so the
# Windows port cannot rot while Linux is the only platform that runs. The
# list is found, not kept: every core/**/*.c except core/os/unix/ (the Unix
# platform layer, which Windows replaces with core/os/win/).
#   tools/check-mingw.sh
# A file is skipped only when a header it needs belongs to a library that has
# no mingw-w64 build here (jansson.h, curl/curl.h, libdeflate.h...): the
# check names the file and the library (the host's package that holds the
# header) it waits for. Any other error fails the check, a missing system
# header (sys/epoll.h, dlfcn.h) included: shared code must not use one.
# Files on WAITS_FOR_SEAL below are reported, not failed, until the platform
# layer is sealed (issue 11 item 5); the list is to become empty.
# Uses $MINGW_CC (default x86_64-w64-mingw32-gcc; Debian package
# gcc-mingw-w64-x86-64-win32, installed by tools/deps.sh test). Without that
# compiler it says so and exits 77, which ctest shows as skipped (never as
# passed), or 1 when RP_REQUIRE_ALL=1 (.ci/run: the CI machine must run it).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cc=${MINGW_CC:-x86_64-w64-mingw32-gcc}
host_cc=${CC:-cc}

# Files that still fail for a reason the platform seal removes (Unix calls
# outside core/os/), with that reason. Empty this list as they are fixed.
declare -A WAITS_FOR_SEAL=()

if ! command -v "$cc" >/dev/null 2>&1; then
    if [ "${RP_REQUIRE_ALL:-}" = 1 ]; then
        echo "check-mingw: $cc not found, and RP_REQUIRE_ALL=1 makes that a failure" \
            "(apt-get install gcc-mingw-w64-x86-64-win32)" >&2
        exit 1
    fi
    echo "check-mingw: $cc not found; skipped (apt-get install gcc-mingw-w64-x86-64-win32)"
    exit 77
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The build generates version.h (core/CMakeLists.txt); its values do not
# matter for compiling.
mkdir "$out/generated"
sed 's/@[A-Za-z_]*@/0/g' core/version.h.in >"$out/generated/version.h"

# Windows 8 (0x0602) is the oldest target: GetSystemTimePreciseAsFileTime and
# LoadLibraryExW's LOAD_LIBRARY_SEARCH_* flags need it. The C99 printf of
# mingw-w64 (__USE_MINGW_ANSI_STDIO) is what the port uses: %zu and %lld
# work, and format checks follow it.
# The warning flags are the build's own (cmake/warnings.txt).
mapfile -t warnings < <(grep '^-' cmake/warnings.txt)
flags=(-std=c11 "${warnings[@]}" -fno-common -D_WIN32_WINNT=0x0602
    -D__USE_MINGW_ANSI_STDIO=1 -I core -I sdk/include -I "$out/generated")

# library_of HEADER : the host package (or folder) that holds HEADER when it
# is a library's; nothing when it is the C library's or the kernel's (a
# system header) or not on the host at all.
library_of() {
    local path pkg
    path=$(printf '#include <%s>\n' "$1" | "$host_cc" -M -x c - 2>/dev/null |
        tr ' \\' '\n\n' | grep -m1 -F "/$1" || true)
    [ -n "$path" ] || return 0
    if command -v dpkg >/dev/null 2>&1 && pkg=$(dpkg -S "$path" 2>/dev/null); then
        pkg=${pkg%%:*}
        case $pkg in
        libc6-dev | linux-libc-dev | libgcc-* | gcc-*) return 0 ;;
        esac
        echo "$pkg"
        return 0
    fi
    case $path in
    /usr/include/*/sys/* | /usr/include/sys/* | /usr/include/linux/* | /usr/include/asm*) return 0 ;;
    esac
    echo "${1%%/*}"
}

mapfile -t files < <(find core -name '*.c' -not -path 'core/os/unix/*' | LC_ALL=C sort)
failed=()
skipped=()
waiting=()
ok=0
for f in "${files[@]}"; do
    err=$out/err
    if "$cc" "${flags[@]}" -c "$f" -o "$out/obj.o" 2>"$err"; then
        echo "check-mingw: ok   $f"
        ok=$((ok + 1))
        if [ -n "${WAITS_FOR_SEAL[$f]:-}" ]; then
            echo "check-mingw: $f compiles now: remove it from WAITS_FOR_SEAL in $0" >&2
            failed+=("$f")
        fi
        continue
    fi
    # The first missing header decides: a library's (skip) or not (fail).
    missing=$(sed -n 's/.*fatal error: \(.*\): No such file or directory/\1/p' "$err" | head -n1)
    lib=
    [ -z "$missing" ] || lib=$(library_of "$missing")
    if [ -n "$lib" ]; then
        echo "check-mingw: skip $f: needs $missing ($lib), not available to $cc"
        skipped+=("$f: $missing ($lib)")
    elif [ -n "${WAITS_FOR_SEAL[$f]:-}" ]; then
        echo "check-mingw: wait $f: waits for the platform seal: ${WAITS_FOR_SEAL[$f]}"
        waiting+=("$f: ${WAITS_FOR_SEAL[$f]}")
    else
        cat "$err" >&2
        echo "check-mingw: FAIL $f"
        failed+=("$f")
    fi
done

echo "check-mingw: ${ok} of ${#files[@]} files of core/ compile for Windows;" \
    "${#skipped[@]} skipped, ${#waiting[@]} waiting for the platform seal"
for s in "${skipped[@]}"; do
    echo "check-mingw:   skipped: $s"
done
for s in "${waiting[@]}"; do
    echo "check-mingw:   waiting: $s"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "check-mingw: ${#failed[@]} files fail: ${failed[*]}" >&2
    exit 1
fi
