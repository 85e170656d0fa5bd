#!/usr/bin/env bash
# Reloads while events flow lose none (docs/reload.md): the synthetic
# collector publishes 12000 process.exec events at 4000 a second while the
# window detector counts them; meanwhile four reloads change the output
# settings, the detector's threshold (its reconfigure, run with on_event held
# off), the detector's file (a new copy) and the detector's window again.
# Every synthetic event reaches the events file exactly once, in order, and
# the detector keeps running on the latest settings.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"
BUILD_PLUGINS=$(dirname "$(dirname "$RAMPARTD")")/plugins
mkdir -m 0755 plugins
mkdir -m 0750 data
cp "$BUILD_PLUGINS/collector_synthetic.so" "$BUILD_PLUGINS/window_detector.so" plugins/
CFG=$T/rampart.json
EVENTS=$T/data/events.ndjson
N=12000

# write_cfg FLUSH_MS WINDOW_S THRESHOLD
write_cfg() {
    cat >"$CFG.tmp" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": $1},
  "plugins": {
    "synthetic": {"enabled": true, "file": "collector_synthetic.so",
                  "config": {"count": $N, "rate": 4000}},
    "window": {"enabled": true, "file": "window_detector.so",
               "config": {"window_seconds": $2, "threshold": $3}}
  }
}
EOF
    mv "$CFG.tmp" "$CFG"
}

reload_ok() {
    run_cmd reload.out reload.err "$RAMPARTCTL" --config "$CFG" reload
    expect_rc 0 "reload ($1): $(cat reload.err)"
}
execs() { count_lines "$EVENTS" '"synthetic.seq":'; }
at_least() { [ "$("$1")" -ge "$2" ]; }
running_as() {
    run_cmd plugins.out plugins.err "$RAMPARTCTL" --config "$CFG" plugins --json
    "$PY" -c 'import json,sys
p = [x for x in json.load(open(sys.argv[1])) if x["name"] == "window"][0]
sys.exit(0 if p["state"] == "running" and p["file_reloads"] == 1 else 1)' plugins.out
}

write_cfg 100 600 100000000
"$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "the first events" at_least execs 500

write_cfg 300 600 100000000
reload_ok "output settings"
write_cfg 300 600 50000000
reload_ok "threshold"
cp plugins/window_detector.so plugins/.wd.new
mv plugins/.wd.new plugins/window_detector.so
reload_ok "file"
write_cfg 300 1200 50000000
reload_ok "window"
pid_alive "$APID" || fail "the agent died"
[ "$(execs)" -lt "$N" ] || fail "the reloads came after the last event; nothing was tested"

wait_for 30 "all $N events" at_least execs "$N"
kill -TERM "$APID"
wait_for 10 "the agent to stop" pid_gone "$APID"
"$PY" - "$EVENTS" "$N" <<'PY' || fail "events lost or repeated across the reloads"
import json, sys
seqs = [json.loads(l)["synthetic.seq"] for l in open(sys.argv[1]) if '"synthetic.seq"' in l]
n = int(sys.argv[2])
if seqs != list(range(n)):
    missing = sorted(set(range(n)) - set(seqs))
    print("got %d events, %d missing (first %s), in order: %s"
          % (len(seqs), len(missing), missing[:5], seqs == sorted(seqs)), file=sys.stderr)
    sys.exit(1)
PY
[ "$(grep -c 'info: configuration reloaded: ' agent.err)" -eq 4 ] || fail "not every reload was applied"
grep -qF 'plugin window: reconfigured' agent.err || fail "no reconfigure"
grep -qF 'plugin window: re-creating' agent.err || fail "the new copy was not started"
grep -qF 'plugin window: window 1200 s, threshold 50000000' agent.err ||
    fail "the last window was not applied"
echo "PASS"
