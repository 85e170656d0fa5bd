#!/usr/bin/env bash
# Proves tools/check-banned.sh catches a banned call and lets clean code and
# comments through:  bash check_banned_selftest.sh PATH/TO/check-banned.sh
set -euo pipefail
script=${1:?usage: $0 CHECK_BANNED_SCRIPT}
T=$(mktemp -d /tmp/rampart-lint.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$T/core" "$T/plugins/p" "$T/docs"
cat >"$T/core/good.c" <<'C'
#include <stdio.h>
/* sprintf( in a block comment is fine */
// strcpy(dst, src) in a line comment is fine
/*
 * atoi( in a comment continuation line
 */
/*
   strcat( in prose of a comment without leading stars
*/
static const char *msg = "never call sprintf( or system(";
static const char quote = '"'; /* a quote character does not start a string: strcpy( */
static int f(char *b, size_t n, const char *s) { return snprintf(b, n, "%s", s); }
static long g(const char *s) { return strtol(s, NULL, 10); } /* fgets( is fine */
static int my_system_check(void) { return 0; }
C
# Outside the checked folders: ignored.
printf 'void x(void) { sprintf(b, "x"); }\n' >"$T/docs/ignored.c"

# Clean tree: exit 0.
rc=0
timeout 30 bash "$script" --root "$T" >"$T/clean.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "clean tree: exit $rc: $(cat "$T/clean.out")"

# A banned call in a header of a plugin and one in core: exit 1, both listed.
cat >"$T/core/bad.c" <<'C'
#include <stdio.h>
void f(char *b) { sprintf (b, "%d", 1); }
C
printf '#define X(s) atoi(s)\n' >"$T/plugins/p/bad.h"
# Code lines that begin with an operator or follow a comment on the same
# line: a check that skips lines by their first character lets these through.
cat >"$T/core/ops.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
void f(int *n, const char *s, char *b, char *d)
{
    *n = atoi(s);
    &b[0] == d ? (void)0 : (void)strcpy(d, s);
    (void)sprintf(b, "%d", *n);
    !system(s);
    /* a comment first */ *n = (int)atol(s);
    /* a comment
       that ends here */ strcat(d, s);
    n[0] = 1; // atoll( in a trailing comment is fine
    b[0] = "gets(" [0]; /* and in a string */
}
#define SET(p, s) \
    *(p) = atoi(s)
C
rc=0
timeout 30 bash "$script" --root "$T" >"$T/bad.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "banned calls: expected exit 1, got $rc: $(cat "$T/bad.out")"
grep -q '^core/bad.c:2:' "$T/bad.out" || fail "core/bad.c:2 not listed: $(cat "$T/bad.out")"
grep -q '^plugins/p/bad.h:1:' "$T/bad.out" || fail "plugins/p/bad.h:1 not listed: $(cat "$T/bad.out")"
for line in 5 6 7 8 9 11 16; do
    grep -q "^core/ops.c:$line:" "$T/bad.out" || fail "core/ops.c:$line not listed: $(cat "$T/bad.out")"
done
for line in 12 13; do
    ! grep -q "^core/ops.c:$line:" "$T/bad.out" || fail "core/ops.c:$line (comment, string) listed: $(cat "$T/bad.out")"
done
! grep -q 'good.c' "$T/bad.out" || fail "good.c listed: $(cat "$T/bad.out")"
! grep -q 'ignored.c' "$T/bad.out" || fail "docs/ignored.c listed: $(cat "$T/bad.out")"

# Usage errors.
rc=0
bash "$script" --root >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 64 ] || fail "--root without a folder: exit $rc"
echo "ok"
