#!/usr/bin/env bash
# A plugin that fails to start is loud: the start-up line says how many
# plugins run and which failed and why, the agent-started event has
# event.outcome failure and the reason, one rampart.plugin.failed alert per
# failed plugin (not one per health tick), agent.health and status.json say
# "degraded" with the reason, and rampartctl status prints it and exits 1.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"

CFG=$T/rampart.json
mkdir -p plugins
cp "$(dirname "$RAMPARTD")/../plugins/collector_synthetic.so" plugins/
cp "$(dirname "$RAMPARTD")/../plugins/collector_file.so" plugins/
# file: inotify on a folder that does not exist, so its start fails (a real
# start failure, not a config error); gone: no such plugin file.
cat >"$CFG" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info",
            "health_interval_ms": 200},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 50},
  "plugins": {
    "synthetic": {"enabled": true, "file": "collector_synthetic.so", "config": {"count": 5, "rate": 0}},
    "file": {"enabled": true, "file": "collector_file.so",
             "config": {"mode": "inotify", "paths": ["$T/no-such-folder"]}},
    "gone": {"enabled": true, "file": "gone.so"},
    "off": {"enabled": false, "file": "off.so"}
  }
}
EOF

"$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "the start-up line" file_has agent.err "rampartd $VERSION started"
WPID=$(worker_pid "$APID") || fail "no worker under the supervisor $APID"
FILE_WHY="start failed: not found: cannot start inotify (see the log)"
GONE_WHY="$T/plugins/gone.so: no such file"
REASON="plugin file: $FILE_WHY; plugin gone: $GONE_WHY"
grep -qxE "^[0-9T:.-]+Z rampartd\[$WPID\] warn: rampartd $VERSION started degraded: pid $WPID, config $CFG, data $T/data, 3 of 4 plugins enabled, 1 running; failed: .*" agent.err ||
    fail "start-up line: $(grep started agent.err)"
grep -qF "1 running; failed: $REASON" agent.err || fail "start-up line reason: $(grep started agent.err)"

# Wait for a few health ticks: the alerts must not repeat.
wait_for 10 "three agent.health events" \
    "$PY" -c 'import sys; sys.exit(sum("\"agent-health\"" in l for l in open(sys.argv[1])) < 3)' data/events.ndjson
"$PY" - data/events.ndjson "$REASON" "$FILE_WHY" "$GONE_WHY" <<'PY' || fail "events of a degraded start"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
reason, file_why, gone_why = sys.argv[2:5]
start = [e for e in evs if e.get("event.action") == "agent-started"]
assert len(start) == 1, start
s = start[0]
assert s["event.outcome"] == "failure", s
assert s["event.reason"] == reason, s
assert s["rampart.state"] == "degraded", s
assert s["message"] == "rampartd started degraded: 1 of 3 enabled plugins running", s
alerts = [e for e in evs if e.get("rule.id") == "rampart.plugin.failed"]
assert len(alerts) == 2, alerts
for a in alerts:
    assert a["event.kind"] == "alert", a
    assert a["event.severity"] == 73, a
msgs = sorted(a["message"] for a in alerts)
assert msgs == sorted([
    "plugin file is not running, the agent is degraded: " + file_why,
    "plugin gone is not running, the agent is degraded: " + gone_why]), msgs
health = [e for e in evs if e.get("event.action") == "agent-health"]
h = health[-1]
assert h["rampart.state"] == "degraded", h
assert h["rampart.state_reason"] == reason, h
assert h["rampart.plugins.file.state"] == "failed", h
assert h["rampart.plugins.file.error"] == file_why, h
PY

[ "$(json_get data/status.json 'd["state"]')" = degraded ] || fail "status.json state"
[ "$(json_get data/status.json 'd["state_reason"]')" = "$REASON" ] || fail "status.json state_reason"
[ "$(json_get data/status.json 'd["plugins"]["gone"]["error"]')" = "$GONE_WHY" ] || fail "status.json plugin error"

run_cmd st.out st.err "$RAMPARTCTL" --config "$CFG" status
expect_rc 1 "rampartctl status of a degraded agent"
grep -qxF "  state   degraded: $REASON" st.out || fail "status state line: $(cat st.out)"
# The failed plugin's row ends with why it failed.
row=$(grep -E "^  file +failed +0 +0 +0 " st.out) && [[ "$row" == *"  $FILE_WHY" ]] ||
    fail "status plugin row: $(cat st.out)"
grep -qE "^  synthetic +running +5 " st.out || fail "status running plugin: $(cat st.out)"
run_cmd js.out js.err "$RAMPARTCTL" --config "$CFG" status --json
expect_rc 1 "rampartctl status --json of a degraded agent"
[ "$(json_get js.out 'd["state"]')" = degraded ] || fail "status --json state"

kill -TERM "$APID"
wait "$APID" || fail "agent exit status"

# The same agent with the failing plugins off is ok: exit 0, success.
"$PY" - "$CFG" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["plugins"]["file"]["enabled"] = False
c["plugins"]["gone"]["enabled"] = False
json.dump(c, open(sys.argv[1], "w"))
PY
rm -rf data
"$RAMPARTD" --foreground --config "$CFG" >agent2.out 2>agent2.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "status.json" test -s data/status.json
WPID=$(worker_pid "$APID") || fail "no worker under the supervisor $APID"
grep -qE "info: rampartd $VERSION started: pid $WPID, .*, 1 of 4 plugins enabled, 1 running$" agent2.err ||
    fail "healthy start-up line: $(grep started agent2.err)"
run_cmd ok.out ok.err "$RAMPARTCTL" --config "$CFG" status
expect_rc 0 "rampartctl status of a healthy agent"
grep -qxE "  state +ok" ok.out || fail "healthy state line: $(cat ok.out)"
wait_for 10 "agent-started" file_has data/events.ndjson '"agent-started"'
"$PY" - data/events.ndjson <<'PY' || fail "healthy start event"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
s = [e for e in evs if e.get("event.action") == "agent-started"][0]
assert s["event.outcome"] == "success" and "event.reason" not in s, s
assert not [e for e in evs if e.get("rule.id") == "rampart.plugin.failed"]
PY
kill -TERM "$APID"
wait "$APID" || fail "agent exit status"
echo "ok"
