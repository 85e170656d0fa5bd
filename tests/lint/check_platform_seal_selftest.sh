#!/usr/bin/env bash
# Proves tools/check-platform-seal.sh catches each forbidden form outside
# core/os/ (pthread calls and types, <pthread.h>, open/openat/fstat calls,
# _WIN32) and passes what only looks like them (comments, strings, other
# names, members, core/os/ itself). Usage: check_platform_seal_selftest.sh CHECK_SCRIPT
set -euo pipefail
check=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$T/core/os/unix" "$T/core/lib" "$T/core/runtime" "$T/core/output"
# The platform layer may do all of it.
cat >"$T/core/os/unix/x.c" <<'C'
#include <pthread.h>
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
int f(const char *p) { struct stat st; int fd = open(p, 0); fstat(fd, &st); return openat(fd, p, 0); }
#ifdef _WIN32
#endif
C
# Look-alikes outside it: comments, strings, characters, longer names, members.
cat >"$T/core/lib/good.c" <<'C'
/* pthread_mutex_lock(&m) and open(p) and _WIN32 in a comment */
// fstat(fd, &st) in a line comment
/*
 * pthread_once(&o, f);
 * openat(dfd, p, 0);
 */
static const char *s = "pthread_create( open( fstat( _WIN32";
static const char c = '(';
int g(struct ops *ops, struct file x, const char *p)
{
    FILE *f = fopen(p, "r");
    rp__os_open(p);
    ops->open(p);
    x.fstat(1);
    int reopen(const char *q);
    return my_open(p) + rp__os_fstat(1) + (f != 0) + (s != 0) + c;
}
C
bash "$check" --root "$T" >"$T/good.out" 2>&1 || fail "clean tree refused: $(cat "$T/good.out")"

# Each forbidden form, one per line of its own file, named with its line.
printf 'int a;\n#include <pthread.h>\n' >"$T/core/runtime/inc.c"
printf 'void f(void) { pthread_mutex_lock(&m); }\n' >"$T/core/runtime/lock.c"
printf 'static pthread_once_t once;\n' >"$T/core/output/type.c"
printf '/* a comment first */ int fd = open(path, O_RDONLY);\n' >"$T/core/output/open.c"
printf 'int x;\n\n int fd = openat (dfd, name, 0);\n' >"$T/core/lib/openat.c"
printf '/*\n * why\n */\n    *ok = fstat(fd, &st) == 0;\n' >"$T/core/lib/fstat.c"
printf '#ifdef _WIN32\n#endif\n' >"$T/core/lib/win.c"
printf 'int y;\n#if defined(_WIN32) && 1\n#endif\n' >"$T/core/runtime/win.h"
if bash "$check" --root "$T" >"$T/bad.out" 2>&1; then fail "forbidden forms passed"; fi
want=(
    'core/runtime/inc.c:2: <pthread.h>'
    'core/runtime/lock.c:1: pthread_mutex_lock'
    'core/output/type.c:1: pthread_once_t'
    'core/output/open.c:1: open('
    'core/lib/openat.c:3: openat('
    'core/lib/fstat.c:4: fstat('
    'core/lib/win.c:1: _WIN32'
    'core/runtime/win.h:2: _WIN32'
)
for w in "${want[@]}"; do
    grep -qF "$w" "$T/bad.out" || fail "not named: $w; got: $(cat "$T/bad.out")"
done
# Nothing else: the look-alikes and core/os/ stay quiet.
n=$(grep -c '^core/' "$T/bad.out")
[ "$n" -eq ${#want[@]} ] || fail "expected ${#want[@]} lines, got $n: $(cat "$T/bad.out")"
echo "check-platform-seal self-test passed"
