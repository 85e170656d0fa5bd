#!/usr/bin/env bash
# rampartd as a daemon (no --foreground; log_target auto goes to the system
# log): returns 0 at once, the pid file holds the live daemon, SIGHUP reloads,
# SIGTERM stops it and removes the pid file.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"

CFG=$T/rampart.json
PIDFILE=$T/data/rampartd.pid
EVENTS=$T/data/events.ndjson
write_config "$CFG" info

# Alive and not a zombie (the daemon is not our child; whoever reaps it may be slow).
running() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$state" != Z ]
}
stopped() { ! running "$1"; }

# The pid file names a live rampartd (the first pid written is the parent's,
# replaced after the double fork).
daemon_ready() {
    [ -s "$PIDFILE" ] || return 1
    local pid
    pid=$(cat "$PIDFILE")
    running "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q rampartd
}

# Started from the test folder with a relative --config, as a user would.
run_cmd d.out d.err "$RAMPARTD" --config rampart.json
expect_rc 0 "daemon start: $(cat d.err)"
[ ! -s d.out ] || fail "the daemon wrote to our stdout: $(cat d.out)"
[ ! -s d.err ] || fail "the daemon wrote to our stderr: $(cat d.err)"

wait_for 10 "the daemon's pid file" daemon_ready
DPID=$(cat "$PIDFILE")
AGENT_PIDS+=("$DPID")
wait_for 10 "agent-started in events.ndjson" file_has "$EVENTS" '"event.action":"agent-started"'
[ "$(readlink "/proc/$DPID/cwd")" = / ] || fail "the daemon's working folder is $(readlink "/proc/$DPID/cwd")"
[ "$("$PY" -c 'import os,sys; print(os.getsid(int(sys.argv[1])) != os.getsid(0))' "$DPID")" = True ] ||
    fail "the daemon shares our session"
WPID=$(worker_pid "$DPID") || fail "no worker under the supervisor $DPID"
"$PY" - "$EVENTS" "$WPID" <<'PY' || fail "agent-started pid"
import json, sys
ev = json.loads(open(sys.argv[1]).readline())
assert ev["process.pid"] == int(sys.argv[2]), ev
PY

# A second daemon on the same data folder fails before detaching: 69.
run_cmd s.out s.err "$RAMPARTD" --config "$CFG"
expect_rc 69 "second daemon"
grep -qF "another rampartd (pid $DPID) is running on this data folder" s.err || fail "second daemon said: $(cat s.err)"

# Reload after the daemon changed its working folder to "/".
cat >"$CFG" <<'JSON'
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "debug"},
  "plugins": {"proc": {"enabled": false, "file": "proc.so"}}
}
JSON
run_cmd ctl.out ctl.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 0 "rampartctl reload: $(cat ctl.err)"
# Through the control socket: the agent's reload event, then the audit
# event of the request (control-reload).
wait_for 10 "the control-reload event" grep -qF '"event.action":"control-reload"' "$EVENTS"
[ "$(ndjson_actions "$EVENTS" | tail -n 2 | tr '\n' ' ')" = "agent-config-reloaded control-reload " ] ||
    fail "reload in daemon mode: $(tail -n 2 "$EVENTS")"

kill -TERM "$DPID"
wait_for 10 "the daemon to stop" stopped "$DPID"
wait_for 5 "the pid file to go" test ! -e "$PIDFILE"
[ "$(ndjson_actions "$EVENTS" | tr '\n' ' ')" = "agent-started agent-config-reloaded control-reload agent-stopped " ] ||
    fail "events: $(ndjson_actions "$EVENTS" | tr '\n' ' ')"

echo "ok"
