#!/usr/bin/env bash
# Live reload of plugins (docs/reload.md), end to end in one running agent:
# the synthetic collector publishes process.exec events of user "teacher"
# and the window detector (sdk/examples/window_detector) counts them per
# user over a 600 s window; every figure is read from the events file and
# from `rampartctl plugins --json`. Each step is one `rampartctl reload`:
#  1. enable: the detector, off at start, runs after the reload;
#  2. config changed, no reconfigure: the collector is re-created (its
#     sequence numbers start again from 0) and every event reaches the file;
#  3. config changed, with reconfigure: the detector's threshold falls under
#     the count it holds; counts kept, so it alerts at once with that count;
#  4. an invalid change (a threshold its schema refuses, a plugin whose file
#     is missing) is refused with why, and everything keeps running as it was;
#  5. file changed: a new copy is loaded (renamed over: a new inode; touched
#     in place: a private copy), counted in file_reloads; past
#     agent.plugin_file_reloads_max the old copy keeps running, counted in
#     file_reloads_refused;
#  6. disable: the detector stops, no alert after it.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"
BUILD_PLUGINS=$(dirname "$(dirname "$RAMPARTD")")/plugins
mkdir -m 0755 plugins
mkdir -m 0750 data
cp "$BUILD_PLUGINS/collector_synthetic.so" "$BUILD_PLUGINS/window_detector.so" plugins/
CFG=$T/rampart.json
EVENTS=$T/data/events.ndjson

# write_cfg SYN_COUNT WIN_ENABLED THRESHOLD [EXTRA_PLUGIN_JSON]
write_cfg() {
    cat >"$CFG.tmp" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info",
            "plugin_file_reloads_max": 2},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {
    "synthetic": {"enabled": true, "file": "collector_synthetic.so",
                  "config": {"count": $1, "rate": 2000}},
    "window": {"enabled": $2, "file": "window_detector.so",
               "config": {"window_seconds": 600, "threshold": $3}}${4:+,
    $4}
  }
}
EOF
    mv "$CFG.tmp" "$CFG"
}

reload_ok() {
    run_cmd reload.out reload.err "$RAMPARTCTL" --config "$CFG" reload
    expect_rc 0 "reload ($1): $(cat reload.err)"
}

# plugin NAME KEY : a plugin's value from the control socket.
plugin() {
    run_cmd plugins.out plugins.err "$RAMPARTCTL" --config "$CFG" plugins --json
    expect_rc 0 "rampartctl plugins: $(cat plugins.err)"
    "$PY" - "$1" "$2" plugins.out <<'PY'
import json, sys
for p in json.load(open(sys.argv[3])):
    if p["name"] == sys.argv[1]:
        v = p.get(sys.argv[2])
        if v is None:
            v = p["counters"].get(sys.argv[2])
        print(v)
        break
else:
    print("absent")
PY
}

plugin_is() { [ "$(plugin "$1" "$2")" = "$3" ]; }

# Lines of the events file: exec events, and alerts.
execs() { count_lines "$EVENTS" '"synthetic.seq":'; }
seq0() { count_lines "$EVENTS" '"synthetic.seq":0,'; }
alerts() { count_lines "$EVENTS" '"rule.id":"window-1"'; }
at_least() { [ "$("$1")" -ge "$2" ]; }

write_cfg 300 false 1000000
"$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "300 synthetic events" at_least execs 300
[ "$(plugin window state)" = absent ] || fail "a disabled plugin is listed: $(cat plugins.out)"

# 1. Enable.
write_cfg 300 true 1000000
reload_ok enable
wait_for 5 "the detector to run" plugin_is window state running
file_has agent.err "plugin window: enabling org.rampart.example.window" ||
    fail "no log line for the enabled plugin"

# 2. The collector has no reconfigure: re-created, its count starts again.
write_cfg 200 true 1000000
reload_ok "collector config"
wait_for 10 "200 more synthetic events" at_least execs 500
[ "$(seq0)" -eq 2 ] || fail "expected seq 0 twice (a re-created collector), got $(seq0)"
file_has agent.err "plugin synthetic: re-creating org.rampart.collector.synthetic" ||
    fail "no log line for the re-created collector"
wait_for 5 "the detector to count 200" plugin_is window events_in 200
[ "$(alerts)" -eq 0 ] || fail "an alert under the threshold"

# 3. The detector's reconfigure: the counts stay, the new threshold applies.
write_cfg 200 true 150
reload_ok "detector threshold"
wait_for 5 "the alert of the lowered threshold" at_least alerts 1
grep '"rule.id":"window-1"' "$EVENTS" | grep -qF '"window_detector.exec_count":200,' ||
    fail "the alert does not carry the 200 events counted before the reload: $(grep window-1 "$EVENTS")"
grep -qF 'plugin window: reconfigured' agent.err || fail "no reconfigure in the log"
! grep -qF 'plugin window: re-creating' agent.err || fail "the detector was re-created"

# 4. Invalid changes are refused and change nothing.
write_cfg 200 true 0
run_cmd bad.out bad.err "$RAMPARTCTL" --config "$CFG" reload
[ "$RC" -ne 0 ] || fail "a threshold of 0 was accepted"
grep -qF 'plugins.window.config.threshold' bad.err || fail "the refusal does not say why: $(cat bad.err)"
write_cfg 200 true 150 '"ghost": {"enabled": true, "file": "missing.so"}'
run_cmd bad2.out bad2.err "$RAMPARTCTL" --config "$CFG" reload
[ "$RC" -ne 0 ] || fail "a plugin without a file was accepted"
grep -qF 'plugins.ghost' bad2.err || fail "the refusal does not name the plugin: $(cat bad2.err)"
[ "$(plugin ghost state)" = absent ] || fail "the refused plugin was added"
plugin_is window state running || fail "the detector stopped after a refused reload"
plugin_is synthetic state running || fail "the collector stopped after a refused reload"
[ "$(alerts)" -eq 1 ] || fail "a refused reload changed the alerts: $(alerts)"

# 5. A changed file: renamed over (a new inode), then touched in place (the
# same inode, which the C library would take for the loaded copy).
write_cfg 200 true 150
cp plugins/window_detector.so plugins/.wd.new
mv plugins/.wd.new plugins/window_detector.so
reload_ok "renamed file"
wait_for 5 "one new copy" plugin_is window file_reloads 1
plugin_is window state running || fail "the new copy does not run"
grep -qF 'plugin window: re-creating org.rampart.example.window' agent.err ||
    fail "the new copy was not re-created"
touch -d '+1 minute' plugins/window_detector.so
reload_ok "touched file"
wait_for 5 "a second copy" plugin_is window file_reloads 2
WPID=$(worker_pid "$APID") || fail "no worker under the supervisor $APID"
grep -q 'memfd:rampart-plugin' "/proc/$WPID/maps" ||
    fail "a file changed in place was not loaded from a private copy"
touch -d '+2 minutes' plugins/window_detector.so
reload_ok "past the cap"
wait_for 5 "the refusal at the cap" plugin_is window file_reloads_refused 1
plugin_is window file_reloads 2 || fail "a copy was loaded past the cap"
plugin_is window state running || fail "the old copy stopped at the cap"
file_has agent.err "loaded 2 new copies of it already (agent.plugin_file_reloads_max 2): not loaded" ||
    fail "no log line at the cap"

# 6. Disable: stopped, and no alert from it after.
write_cfg 400 false 150
reload_ok disable
wait_for 5 "the detector to stop" plugin_is window state stopped
wait_for 10 "400 more synthetic events" at_least execs 900
[ "$(alerts)" -eq 1 ] || fail "a disabled detector alerted: $(alerts)"
file_has agent.err "plugin window: disabled" || fail "no log line for the disabled plugin"

kill -TERM "$APID"
wait_for 10 "the agent to stop" pid_gone "$APID"
echo "PASS"
