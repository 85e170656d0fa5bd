# shellcheck shell=bash disable=SC2034 # variables are for the scripts sourcing this
# tests/e2e/lib.sh - shared helpers for the end-to-end tests: the real agent
# (build/bin/rampartd with the real collector_synthetic plugin) against the
# real backend (tests/e2e/backend: ClickHouse behind nginx on loopback).
# Sourced by each tests/e2e/test_*.sh, run as: bash SCRIPT RAMPARTD PLUGIN_DIR.
#
# Every test gets its own folder ($T) and its own backend (started in
# $T/backend, about 1 s), both removed on exit with any agent it started;
# every wait is bounded.

set -euo pipefail

RAMPARTD=${1:?usage: $0 RAMPARTD PLUGIN_DIR}
PLUGIN_DIR=${2:?usage: $0 RAMPARTD PLUGIN_DIR}
RAMPARTD=$(cd "$(dirname "$RAMPARTD")" && pwd -P)/$(basename "$RAMPARTD")
PLUGIN_DIR=$(cd "$PLUGIN_DIR" && pwd -P)
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
BACKEND=$E2E_DIR/backend/backend.sh
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

T=$(mktemp -d /tmp/rampart-e2e.XXXXXX)
T=$(cd "$T" && pwd -P)
BK=$T/backend
mkdir -p "$BK"
AGENT_PID=
BACKEND_UP=

cleanup() {
    local rc=$?
    if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
        kill -KILL "$AGENT_PID" 2>/dev/null || true
    fi
    if [ -n "$BACKEND_UP" ]; then
        bash "$BACKEND" stop "$BK" >/dev/null 2>&1 || true
    fi
    if [ "$rc" -ne 0 ] && [ -n "${KEEP_E2E:-}" ]; then
        echo "kept $T" >&2
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/agent*.log; do
        [ -f "$f" ] || continue
        echo "---- $f (last 30 lines)" >&2
        tail -n 30 "$f" >&2
    done
    [ -f "$T/data/status.json" ] && { echo "---- status.json" >&2; cat "$T/data/status.json" >&2; }
    if [ -n "$BACKEND_UP" ]; then
        echo "---- synthetic events in ClickHouse (rows, distinct ids, distinct seq, min, max): $(arrived 2>&1)" >&2
    fi
    exit 1
}

note() { echo "e2e: $*"; }

# wait_for SECONDS DESCRIPTION CMD... : polls CMD every 100 ms until it succeeds.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local tries=$((secs * 10))
    while ! "$@" >/dev/null 2>&1; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "timed out after ${secs}s waiting for: $what"
        sleep 0.1
    done
}

start_backend() {
    bash "$BACKEND" start "$BK" >"$T/backend.out" 2>&1 || {
        cat "$T/backend.out" >&2
        fail "the backend did not start"
    }
    BACKEND_UP=1
    # shellcheck disable=SC1091
    . "$BK/env.sh"
}

# ch SQL : runs SQL on ClickHouse, prints the result.
ch() { bash "$BACKEND" query "$BK" "$1"; }

# The synthetic events that arrived: "<rows> <distinct event.id> <distinct seq>
# <min seq> <max seq>".
arrived() {
    ch "SELECT count(), uniqExact(\`event.id\`), uniqExact(\`synthetic.seq\`), min(\`synthetic.seq\`), max(\`synthetic.seq\`) FROM rampart.events WHERE \`event.action\` = 'exec' FORMAT TSV" | tr '\t' ' '
}

# distinct_exec : distinct event.id of the synthetic events in ClickHouse.
distinct_exec() { arrived | cut -d' ' -f2; }

distinct_is() { [ "$(distinct_exec)" = "$1" ]; }

# write_config FILE URL OUTPUT_JSON PLUGIN_CONFIG_JSON [SPOOL_JSON] : a main
# config with the data folder $T/data, uploading to URL; OUTPUT_JSON is more
# keys of "output" (leading comma included; $FORMAT sets output.format,
# clickhouse by default; $HEALTH_MS sets agent.health_interval_ms, 200 by
# default), PLUGIN_CONFIG_JSON the config of
# collector_synthetic ("" = the plugin disabled).
write_config() {
    local file=$1 url=$2 output=$3 plug=$4 spool=${5:-}
    local enabled=true
    [ -n "$plug" ] || { enabled=false; plug='{}'; }
    cat >"$file" <<EOF
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info",
            "health_interval_ms": ${HEALTH_MS:-200}},
  "output": {"url": "$url", "format": "${FORMAT:-clickhouse}", "ca_file": "$RAMPART_E2E_CA",
             "flush_interval_ms": 200 $output},
  "spool": {"fsync": "batch" $spool},
  "plugins": {"synthetic": {"enabled": $enabled, "file": "collector_synthetic.so",
                            "config": $plug}}
}
EOF
}

# start_agent CONFIG [LOG] : runs rampartd in the foreground, in the background.
start_agent() {
    local log=${2:-$T/agent.log}
    "$RAMPARTD" --foreground --config "$1" >>"$log" 2>&1 &
    AGENT_PID=$!
    wait_for 10 "the agent's status.json" test -s "$T/data/status.json"
}

# worker_pid SUPERVISOR_PID : the agent's worker, the child of the supervisor
# rampartd runs as (docs/supervisor.md); empty while none runs.
worker_pid() { pgrep -o -P "$1" || true; }

stop_agent() {
    [ -n "$AGENT_PID" ] || return 0
    kill -TERM "$AGENT_PID" 2>/dev/null || true
    local i
    for i in $(seq 150); do
        kill -0 "$AGENT_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$AGENT_PID" 2>/dev/null; then
        fail "the agent did not stop within 15 s of SIGTERM"
    fi
    local rc=0
    wait "$AGENT_PID" 2>/dev/null || rc=$?
    AGENT_PID=
    # A clean stop exits 0 (a sanitizer build exits non-zero on a leak or an
    # error, and the log says what it was).
    [ "$rc" = 0 ] || fail "the agent exited with status $rc after SIGTERM"
}

# status EXPR : a value from the agent's status.json, e.g. status 'd["upload"]["state"]'.
status() {
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
        "$T/data/status.json" "$1"
}

status_is() { [ "$(status "$1")" = "$2" ]; }

# drained : the spool holds at most one event. The agent's own health event
# of the previous tick may still be on its way when status.json is written,
# so an empty spool is not what a snapshot shows under load; every older
# batch has been sent, in order, by then.
drained() { status_is 'd["spool"]["queued_events"] <= 1' True; }

# requests PORT PATH_PREFIX : the access log lines of requests to PATH on PORT.
requests() {
    awk -v p="$1" -v path="$2" '$4 == p && index($6, path) == 1' "$BK/nginx/access.log" 2>/dev/null || true
}
