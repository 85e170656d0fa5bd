#!/usr/bin/env bash
# Proves tools/check-plugin-names.sh passes a plugin that follows the naming
# scheme and names each kind of name that breaks it.
# Usage: check_plugin_names_selftest.sh CHECK_SCRIPT
set -euo pipefail
check=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$T/plugins/detector_x"
cat >"$T/plugins/detector_x/detector_x.h" <<'H'
/* detector_x.h - a header named like its plugin. */
#ifndef RP_DETECTOR_X_H
#define RP_DETECTOR_X_H
#define RP_UTIL_LOG_MAX 1024
#define DX_CAP 8
struct dx;
struct dx_rec { int a; struct { int b; } in; };
enum dx_kind { DX_ONE, DX_TWO = 2 };
typedef int (*dx_cb)(void *arg);
typedef struct dx_rec dx_rec;
int dx_parse(const char *s, struct dx_rec *out);
#endif
H
cat >"$T/plugins/detector_x/parse.h" <<'H'
#ifndef RP_DETECTOR_X_PARSE_H
#define RP_DETECTOR_X_PARSE_H
void dx_parse_more(void);
#endif
H
cat >"$T/plugins/detector_x/detector_x.c" <<'C'
#include "detector_x.h"
static const char schema[] = "{\"a\":{}} int not_a_function(void) {";
static int helper(int a) { return a; }
int dx_parse(const char *s, struct dx_rec *out) { (void)s; out->a = helper(1); return 0; }
const void *rampart_plugin_entry_v1(void) { return schema; }
C
bash "$check" --root "$T" >"$T/good.out" 2>&1 || fail "clean plugin refused: $(cat "$T/good.out")"

# Each kind of wrong name, once.
cat >"$T/plugins/detector_x/parse.h" <<'H'
#ifndef DETECTOR_X_PARSE_H
#define DETECTOR_X_PARSE_H
#define PARSE_MAX 4
struct ps;
struct nd_msg { int a; };
enum { K_ONE };
typedef void (*nd_cb)(void);
int ps_init(struct ps *ps);
#endif
H
printf 'int ps_init(struct ps *ps)\n{\n    (void)ps;\n    return 0;\n}\n' >"$T/plugins/detector_x/parse.c"
if bash "$check" --root "$T" >"$T/bad.out" 2>&1; then fail "wrong names passed"; fi
for want in \
    'plugins/detector_x/parse.h: guard DETECTOR_X_PARSE_H, expected RP_DETECTOR_X_PARSE_H' \
    'plugins/detector_x/parse.h: macro PARSE_MAX does not begin with dx_ or DX_' \
    'plugins/detector_x/parse.h: struct ps does not begin with dx_ or DX_' \
    'plugins/detector_x/parse.h: struct nd_msg does not begin with dx_ or DX_' \
    'plugins/detector_x/parse.h: enumerator K_ONE does not begin with dx_ or DX_' \
    'plugins/detector_x/parse.h: typedef nd_cb does not begin with dx_ or DX_' \
    'plugins/detector_x/parse.h: function ps_init does not begin with dx_ or DX_' \
    'plugins/detector_x/parse.c: function ps_init is neither static nor begins with dx_'; do
    grep -qxF "$want" "$T/bad.out" || fail "not named: $want; got: $(cat "$T/bad.out")"
done
[ "$(wc -l <"$T/bad.out")" -eq 8 ] || fail "expected 8 lines: $(cat "$T/bad.out")"
echo "check-plugin-names self-test passed"
