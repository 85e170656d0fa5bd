# shellcheck shell=bash disable=SC2034 # the variables are for the scripts sourcing this
# tests/cli/lib.sh - shared helpers for the command-line tests. Sourced by each
# test script, which is run as: bash SCRIPT RAMPARTD RAMPARTCTL VERSION.
#
# Every test gets its own temporary folder ($T), removed on exit together with
# any agent the test started; every wait is bounded.

set -euo pipefail

RAMPARTD=${1:?usage: $0 RAMPARTD RAMPARTCTL VERSION}
RAMPARTCTL=${2:?usage: $0 RAMPARTD RAMPARTCTL VERSION}
VERSION=${3:?usage: $0 RAMPARTD RAMPARTCTL VERSION}

# The checkout, for the committed config files.
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)

# python3 parses JSON for the checks; the system one starts fastest.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

T=$(mktemp -d /tmp/rampart-cli.XXXXXX)
T=$(cd "$T" && pwd -P)

# A per-machine site file (/etc/rampart/site) on the machine running the
# tests must not choose their site; the tests that want one point this at it.
export RAMPART_SITE_FILE=$T/no-site-file
AGENT_PIDS=()

cleanup() {
    local pid
    for pid in "${AGENT_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.out "$T"/*.err; do
        [ -f "$f" ] || continue
        echo "---- $f" >&2
        tail -n 40 "$f" >&2
    done
    exit 1
}

# run_cmd OUT ERR CMD... : runs a command that should finish at once (10 s at
# most), stdout and stderr to files; sets RC.
run_cmd() {
    local out=$1 err=$2
    shift 2
    RC=0
    timeout -k 2 10 "$@" >"$out" 2>"$err" || RC=$?
    if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then fail "timed out: $*"; fi
}

expect_rc() {
    [ "$RC" -eq "$1" ] || fail "expected exit status $1, got $RC${2:+ ($2)}"
}

# wait_for SECONDS DESCRIPTION CMD... : polls CMD every 50 ms until it succeeds.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local tries=$((secs * 20))
    while ! "$@" 2>/dev/null; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "timed out after ${secs}s waiting for: $what"
        sleep 0.05
    done
}

# The worker of the agent whose supervisor is SPID: rampartd runs the agent in
# a child process (docs/supervisor.md), whose pid is the one in its events,
# log lines and status; the pid file and signals name the supervisor.
worker_pid() { pgrep -o -P "$1"; }

file_has() { grep -qF -- "$2" "$1"; }
pid_alive() { kill -0 "$1"; }
pid_gone() { ! kill -0 "$1"; }

# Number of lines of FILE that contain TEXT (0 if the file is missing).
count_lines() {
    [ -f "$1" ] || { echo 0; return; }
    grep -cF -- "$2" "$1" || true
}

# json_get FILE EXPR : prints a value from a JSON document with python3, e.g.
# json_get f.json 'd["agent"]["site"]'.
json_get() {
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# ndjson_actions FILE : the event.action of each line, one per line; fails if
# any line is not a JSON object.
ndjson_actions() {
    "$PY" - "$1" <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    for n, line in enumerate(f, 1):
        ev = json.loads(line)
        assert isinstance(ev, dict), "line %d is not an object" % n
        print(ev["event.action"])
EOF
}

# write_config FILE LOG_LEVEL [EXTRA_AGENT_JSON] : a main config whose data
# folder is $T/data; EXTRA is added inside "agent" (e.g. '"site":"north"').
write_config() {
    local extra=${3:-}
    cat >"$1" <<EOF
{
  "agent": {
    "data_dir": "data",
    "plugin_dir": "plugins",
    "log_level": "$2"${extra:+,
    $extra}
  },
  "output": {"file": "events.ndjson", "stdout": true},
  "plugins": {}
}
EOF
}
