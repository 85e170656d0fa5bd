# shellcheck shell=bash disable=SC2034 # the variables are for the scripts sourcing this
# tests/collectors/process_lib.sh - helpers for the collector_process attack
# tests (test_process_*.sh): an agent with only the process collector, an
# unprivileged user that the test creates and removes, and event queries.
# Sourced after tests/cli/lib.sh, which provides $T, fail and wait_for.

PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
[ -f "$PLUGIN_DIR/collector_process.so" ] || fail "no collector_process.so in $PLUGIN_DIR"
cd "$T" || exit 1
# The programs run as the test user, who must reach them.
chmod 755 "$T"

EVENTS=$T/data/events.ndjson
APID=
TUSER=
TUID=
TGID=
USER_PIDS=()

# The user is removed and its processes (all started by this test, by pid)
# are ended on exit, before lib.sh removes $T.
process_cleanup() {
    local pid
    for pid in "${USER_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ -n "$TUSER" ]; then
        userdel "$TUSER" 2>/dev/null || true
        if getent group "$TUSER" >/dev/null; then groupdel "$TUSER" 2>/dev/null || true; fi
    fi
    cleanup
}
trap process_cleanup EXIT

# make_user : creates an unprivileged user with no home and no login shell,
# sets TUSER and TUID, and a folder $T/u it owns.
make_user() {
    TUSER=rpt$$
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$TUSER" ||
        fail "cannot create the test user $TUSER"
    TUID=$(id -u "$TUSER")
    TGID=$(id -g "$TUSER")
    mkdir -p "$T/u"
    chown "$TUSER:" "$T/u"
    export TUSER TUID
}

# as_user CMD... : runs CMD as the test user (same process: setpriv execs).
as_user() {
    setpriv --reuid="$TUID" --regid="$TGID" --clear-groups -- "$@"
}

# start_agent CONFIG_JSON_OF_THE_PLUGIN : a fresh agent with only the process
# collector, writing NDJSON to $EVENTS; waits until the plugin runs.
start_agent() {
    rm -rf "$T/data" "$T/agent.out" "$T/agent.err"
    cat >"$T/rampart.json" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {"process": {"enabled": true, "file": "collector_process.so", "config": $1}}
}
EOF
    "$RAMPARTD" --foreground --config "$T/rampart.json" >"$T/agent.out" 2>"$T/agent.err" &
    APID=$!
    AGENT_PIDS+=("$APID")
    wait_for 15 "the plugin to run" file_has "$T/agent.err" "plugin process: running"
}

stop_agent() {
    kill -TERM "$APID"
    wait_for 30 "the agent to exit" pid_gone "$APID"
    wait "$APID" || fail "the agent exited with status $?"
}

# events_match PYTHON_CONDITION MIN : true when at least MIN events satisfy the
# condition on ev (a dict); the condition sees the test's variables in env.
events_match() {
    [ -f "$EVENTS" ] || return 1
    "$PY" - "$EVENTS" "$1" "$2" <<'PY'
import json, os, sys
env = os.environ
n = 0
with open(sys.argv[1]) as f:
    for line in f:
        ev = json.loads(line)
        if eval(sys.argv[2]):
            n += 1
sys.exit(0 if n >= int(sys.argv[3]) else 1)
PY
}
