#!/usr/bin/env bash
# rampartd in the foreground: start-up line and events, a second instance
# refused (69), SIGHUP with an invalid then a valid config (rampartctl reload),
# SIGTERM and SIGINT stop it cleanly (exit 0, agent-stopped, pid file gone).
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"

CFG=$T/rampart.json
PIDFILE=$T/data/rampartd.pid
EVENTS=$T/data/events.ndjson
write_config "$CFG" info

"$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")

wait_for 10 "the start-up line" file_has agent.err "rampartd $VERSION started"
WPID=$(worker_pid "$APID") || fail "no worker under the supervisor $APID"
grep -qE "^[0-9T:.-]+Z rampartd\[$WPID\] info: rampartd $VERSION started: pid $WPID, config $CFG, data $T/data, 0 of 0 plugins enabled, 0 running$" agent.err ||
    fail "start-up line: $(grep started agent.err)"
wait_for 10 "agent-started on stdout" file_has agent.out '"event.action":"agent-started"'
wait_for 10 "agent-started in events.ndjson" file_has "$EVENTS" '"event.action":"agent-started"'
# The event carries the agent's identity.
"$PY" - "$EVENTS" "$WPID" "$VERSION" <<'PY' || fail "agent-started event fields"
import json, sys
ev = json.loads(open(sys.argv[1]).readline())
assert ev["event.action"] == "agent-started", ev
assert ev["event.outcome"] == "success", ev
assert ev["process.pid"] == int(sys.argv[2]), ev
assert ev["agent.version"] == sys.argv[3], ev
assert len(ev["agent.id"]) == 36 and ev["agent.id"][14] == "7", ev
PY
wait_for 5 "the pid file" file_has "$PIDFILE" "$APID"
[ "$(cat "$PIDFILE")" = "$APID" ] || fail "pid file holds '$(cat "$PIDFILE")', not $APID"
[ "$(wc -c <data/agent_id)" -eq 37 ] || fail "data/agent_id"

# A second instance on the same data folder is refused with the running pid.
run_cmd second.out second.err "$RAMPARTD" --foreground --config "$CFG"
expect_rc 69 "second instance"
grep -qxF "rampartd: $PIDFILE: another rampartd (pid $APID) is running on this data folder" second.err ||
    fail "second instance said: $(cat second.err)"
pid_alive "$APID" || fail "the first agent died"
[ "$(cat "$PIDFILE")" = "$APID" ] || fail "the second instance touched the pid file"

# SIGHUP with an invalid config: rejected, still running on the old one.
write_config "$CFG" loud
kill -HUP "$APID"
wait_for 10 "the reload rejection" file_has agent.err "reload rejected"
grep -qF "error: reload rejected, keeping the running configuration: $CFG: agent.log_level: expected one of \"error\", \"warn\", \"info\", \"debug\", got string \"loud\"" agent.err ||
    fail "rejection line: $(grep 'reload rejected' agent.err)"
wait_for 10 "agent-config-rejected event" file_has "$EVENTS" '"event.action":"agent-config-rejected"'
sleep 0.2
pid_alive "$APID" || fail "the agent died after an invalid reload"

# rampartctl checks the config itself and refuses to signal with a bad one.
run_cmd ctl1.out ctl1.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 78 "rampartctl reload with an invalid config"
[ "$(count_lines agent.err 'reload rejected')" -eq 1 ] || fail "rampartctl signalled despite the invalid config"

# A valid change through rampartctl: applied.
cat >"$CFG" <<'JSON'
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "debug"},
  "output": {"file": "events.ndjson", "stdout": true},
  "plugins": {"proc": {"enabled": false, "file": "proc.so"}}
}
JSON
run_cmd ctl2.out ctl2.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 0 "rampartctl reload: $(cat ctl2.err)"
# Through the control socket: rampartctl says the result, not only that it asked.
grep -qxF "rampartctl: rampartd reloaded its configuration" ctl2.out ||
    fail "rampartctl said: $(cat ctl2.out)"
wait_for 10 "configuration reloaded" file_has agent.err "configuration reloaded"
grep -qF "info: configuration reloaded: $CFG, 0 of 1 plugins enabled" agent.err ||
    fail "reload line: $(grep 'configuration reloaded' agent.err)"
wait_for 10 "agent-config-reloaded event" file_has "$EVENTS" '"event.action":"agent-config-reloaded"'
wait_for 10 "agent-config-reloaded on stdout" file_has agent.out '"event.action":"agent-config-reloaded"'

# SIGTERM: exit 0, agent-stopped written, pid file removed.
kill -TERM "$APID"
wait_for 10 "the agent to exit after SIGTERM" pid_gone "$APID"
RC=0
wait "$APID" || RC=$?
expect_rc 0 "exit status after SIGTERM"
[ ! -e "$PIDFILE" ] || fail "pid file left behind"
file_has agent.err "rampartd stopping" || fail "no 'stopping' line"
file_has agent.err "rampartd stopped" || fail "no 'stopped' line"
# The reload through rampartctl went through the control socket: its audit
# event (control-reload) follows the agent's own.
expected="agent-started
agent-config-rejected
agent-config-reloaded
control-reload
agent-stopped"
[ "$(ndjson_actions "$EVENTS")" = "$expected" ] || fail "events.ndjson: $(ndjson_actions "$EVENTS" | tr '\n' ' ')"
[ "$(ndjson_actions agent.out)" = "$expected" ] || fail "stdout: $(ndjson_actions agent.out | tr '\n' ' ')"

# The data folder is free again: a new agent starts, SIGINT stops it too.
"$RAMPARTD" --foreground --config "$CFG" >agent2.out 2>agent2.err &
APID2=$!
AGENT_PIDS+=("$APID2")
wait_for 10 "the second start-up line" file_has agent2.err "rampartd $VERSION started"
wait_for 10 "the second agent-started" file_has agent2.out '"event.action":"agent-started"'
kill -INT "$APID2"
wait_for 10 "the agent to exit after SIGINT" pid_gone "$APID2"
RC=0
wait "$APID2" || RC=$?
expect_rc 0 "exit status after SIGINT"
[ ! -e "$PIDFILE" ] || fail "pid file left behind after SIGINT"
[ "$(ndjson_actions agent2.out | tail -n 1)" = agent-stopped ] || fail "no agent-stopped after SIGINT"
# Same agent id on both runs.
id1=$(head -n 1 agent.out | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["agent.id"])')
id2=$(head -n 1 agent2.out | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["agent.id"])')
[ "$id1" = "$id2" ] || fail "agent id changed across restarts: $id1 $id2"

echo "ok"
