#!/usr/bin/env bash
# rampartd and rampartctl: --version, --help and usage errors (exit 64).
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"

run_cmd v.out v.err "$RAMPARTD" --version
expect_rc 0 "--version"
grep -qE "^rampartd $VERSION \(plugin ABI [0-9]+\.[0-9]+\)$" v.out || fail "--version printed: $(cat v.out)"
[ "$(wc -l <v.out)" -eq 1 ] || fail "--version printed more than one line"
[ ! -s v.err ] || fail "--version wrote to stderr"

run_cmd v2.out v2.err "$RAMPARTD" -V
expect_rc 0 "-V"
cmp -s v.out v2.out || fail "-V and --version differ"

run_cmd h.out h.err "$RAMPARTD" --help
expect_rc 0 "--help"
head -n 1 h.out | grep -q '^usage: rampartd ' || fail "--help does not start with usage"
for opt in --config --site --foreground --check-config --print-config --version; do
    file_has h.out "$opt" || fail "--help does not mention $opt"
done
[ ! -s h.err ] || fail "--help wrote to stderr"

run_cmd u.out u.err "$RAMPARTD" --bogus
expect_rc 64 "unknown option"
head -n 1 u.err | grep -qxF "rampartd: unknown option '--bogus'" || fail "unknown option: $(head -n 1 u.err)"
file_has u.err "usage: rampartd" || fail "unknown option: no usage on stderr"
[ ! -s u.out ] || fail "unknown option wrote to stdout"

run_cmd t.out t.err "$RAMPARTD" --check-confg
expect_rc 64 "misspelt option"
head -n 1 t.err | grep -qxF "rampartd: unknown option '--check-confg'; did you mean '--check-config'?" || fail "misspelt option: $(head -n 1 t.err)"

run_cmd m.out m.err "$RAMPARTD" --config
expect_rc 64 "--config without a value"
head -n 1 m.err | grep -qxF "rampartd: option '--config' needs a value" || fail "missing value: $(head -n 1 m.err)"

run_cmd a.out a.err "$RAMPARTD" --check-config stray
expect_rc 64 "stray argument"
head -n 1 a.err | grep -qxF "rampartd: unexpected argument 'stray'" || fail "stray argument: $(head -n 1 a.err)"

# A usage error wins over a missing config file: nothing is read.
run_cmd x.out x.err "$RAMPARTD" --config /nonexistent/rampart.json -x
expect_rc 64 "unknown short option"

run_cmd cv.out cv.err "$RAMPARTCTL" --version
expect_rc 0 "rampartctl --version"
grep -qxF "rampartctl $VERSION" cv.out || fail "rampartctl --version printed: $(cat cv.out)"

run_cmd ch.out ch.err "$RAMPARTCTL" --help
expect_rc 0 "rampartctl --help"
head -n 1 ch.out | grep -q '^usage: rampartctl ' || fail "rampartctl --help"
file_has ch.out "reload" || fail "rampartctl --help does not mention reload"

run_cmd cn.out cn.err "$RAMPARTCTL"
expect_rc 64 "rampartctl without a command"
head -n 1 cn.err | grep -qxF "rampartctl: no command given" || fail "rampartctl no command: $(head -n 1 cn.err)"

run_cmd cu.out cu.err "$RAMPARTCTL" frobnicate
expect_rc 64 "rampartctl unknown command"
head -n 1 cu.err | grep -qxF "rampartctl: unknown command 'frobnicate'" || fail "rampartctl unknown command: $(head -n 1 cu.err)"
run_cmd cs.out cs.err "$RAMPARTCTL" stauts
expect_rc 64 "rampartctl misspelt command"
head -n 1 cs.err | grep -qxF "rampartctl: unknown command 'stauts'; did you mean 'status'?" || fail "rampartctl misspelt command: $(head -n 1 cs.err)"
# rampartctl --help documents the status exit codes (degraded is 1).
file_has ch.out "1 it reported state" || fail "rampartctl --help does not document the degraded exit status"

echo "ok"
