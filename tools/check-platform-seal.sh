#!/usr/bin/env bash
# Checks that the platform layer is sealed (core/README.md, issue 11): outside
# core/os/, no file of core/ names pthreads, opens or examines files by hand,
# or tests for Windows. Those go through core/os/*.h:
#   - pthread_* (calls and types) and <pthread.h>: os/os_thread.h;
#   - open(, openat(, fstat( calls: os/os.h, os/os_secret.h;
#   - _WIN32: shared code tests features, not OS names.
# Comments and string or character literals are left out (found by their
# delimiters, as in tools/check-banned.sh); a member named open (ops->open(,
# x.open() and longer names (fopen, rp__os_open) are not calls of open.
#
# Usage: check-platform-seal.sh [--root DIR]. Prints one line per use
# ("core/lib/x.c:12: pthread_mutex_lock: ...") and exits 1 if there is one.
set -euo pipefail
# Resolved before any cd: the C reader (strip-c.pl) lives beside this script.
tools=$(cd "$(dirname "$0")" && pwd)

root=.
if [ "${1:-}" = --root ]; then
    [ $# -ge 2 ] || { echo "usage: $0 [--root DIR]" >&2; exit 64; }
    root=$2
fi
cd "$root"
[ -d core ] || { echo "check-platform-seal: no core/ in $(pwd)" >&2; exit 66; }

files=()
while IFS= read -r -d '' f; do
    files+=("$f")
done < <(find core -path core/os -prune -o -type f \( -name '*.c' -o -name '*.h' \) -print0 |
    LC_ALL=C sort -z)
[ ${#files[@]} -gt 0 ] || { echo "check-platform-seal: no C files in core/ outside core/os/"; exit 0; }

# shellcheck disable=SC2016 # the perl program is in single quotes on purpose
hits=$(RP_TOOLS=$tools perl -ne '
    BEGIN { require "$ENV{RP_TOOLS}/strip-c.pl" }
    # An #include names its header in <> or "": keep the name visible.
    my $inc = m{^\s*#\s*include\s*[<"]([^>"]+)[>"]} ? $1 : "";
    my $code = rp_strip_c_line($_);
    my @why;
    push @why, "<pthread.h>: threads go through os/os_thread.h" if $inc eq "pthread.h";
    while ($code =~ /\b(pthread_\w*)/g) {
        push @why, "$1: threads go through os/os_thread.h";
    }
    while ($code =~ /(?<![\w.>])(open|openat|fstat)\s*\(/g) {
        push @why, "$1(: files are opened and examined in core/os/ (os/os.h, os/os_secret.h)";
    }
    while ($code =~ /\b(_WIN32)\b/g) {
        push @why, "$1: platform tests belong in core/os/; shared code tests features";
    }
    print "$ARGV:$.: $_\n" for @why;
    if (eof) { close ARGV; rp_strip_c_reset() }
' -- "${files[@]}")
if [ -n "$hits" ]; then
    echo "$hits"
    echo "check-platform-seal: $(printf '%s\n' "$hits" | wc -l) use(s) of the platform outside core/os/" >&2
    exit 1
fi
echo "check-platform-seal: ${#files[@]} files outside core/os/ clean"
