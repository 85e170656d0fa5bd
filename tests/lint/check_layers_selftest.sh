#!/usr/bin/env bash
# Proves tools/check-layers.sh catches includes against the direction and
# passes the ones along it. Usage: check_layers_selftest.sh CHECK_SCRIPT
set -euo pipefail
check=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$T/core/os" "$T/core/lib" "$T/core/runtime" "$T/core/output"
touch "$T/core/os/os.h" "$T/core/lib/log.h" "$T/core/runtime/bus.h" \
      "$T/core/output/sink.h" "$T/core/agent.h"
# Along the direction: every room includes its right-hand neighbours.
printf '#include "output/sink.h"\n#include "runtime/bus.h"\n' >"$T/core/agent.c"
printf '#include "runtime/bus.h"\n#include "lib/log.h"\n#include "os/os.h"\n' >"$T/core/output/sink.c"
printf '#include "lib/log.h"\n#include "os/os.h"\n#include "version.h"\n' >"$T/core/runtime/bus.c"
printf '#include "log.h"\n#include "os/os.h"\n' >"$T/core/lib/log.c"
printf '#include "os/os.h"\n#include <stdio.h>\n' >"$T/core/os/x.c"
bash "$check" --root "$T" >"$T/good.out" 2>&1 || fail "clean tree refused: $(cat "$T/good.out")"

# Against it: one line per wrong include, exit 1.
printf '#include "output/sink.h"\n' >"$T/core/runtime/bad.c"
printf '#include "agent.h"\n' >"$T/core/lib/bad.c"
printf '/* x */\n#include "lib/log.h"\n' >"$T/core/os/bad.c"
if bash "$check" --root "$T" >"$T/bad.out" 2>&1; then fail "wrong includes passed"; fi
grep -q '^core/runtime/bad.c:1: runtime includes output/sink.h' "$T/bad.out" || fail "runtime->output not named: $(cat "$T/bad.out")"
grep -q '^core/lib/bad.c:1: lib includes agent.h' "$T/bad.out" || fail "lib->top not named: $(cat "$T/bad.out")"
grep -q '^core/os/bad.c:2: os includes lib/log.h' "$T/bad.out" || fail "os->lib not named: $(cat "$T/bad.out")"
[ "$(wc -l <"$T/bad.out")" -eq 3 ] || fail "expected 3 lines: $(cat "$T/bad.out")"
echo "check-layers self-test passed"
