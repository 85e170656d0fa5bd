#!/usr/bin/env bash
# Gauges (ABI 1.1) next to counters where a user reads a plugin's figures:
# <data_dir>/status.json, the agent.health event and `rampartctl plugins`.
# The plugin is the private-folder test plugin of tests/abi, which reports
# through gauges what private_dir gave it in a real agent.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"

SO=$(cd "$(dirname "$RAMPARTD")/../tests/abi-plugins" && pwd -P)/services11_dir.so
[ -f "$SO" ] || fail "test plugin not built: $SO"
CFG=$T/rampart.json
mkdir -p plugins
cp "$SO" plugins/
cat >"$CFG" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info",
            "health_interval_ms": 200},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {"dir": {"enabled": true, "file": "services11_dir.so"}}
}
EOF
"$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "gauges in status.json" \
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["plugins"]["dir"]["gauges"]["path_ok"] != 1)' data/status.json
"$PY" - data/status.json <<'PY' || fail "status.json gauges: $(cat data/status.json)"
import json, sys
p = json.load(open(sys.argv[1]))["plugins"]["dir"]
assert p["gauges"] == {"dir_rc": 0, "probe_rc": 0, "path_ok": 1, "same_fd": 1,
                       "g4": 0, "g5": 0, "g6": 0, "g7": 0}, p
assert p["counters"] == {}, p
PY
# The folder the plugin was given, as a user would look at it.
[ "$(stat -c %a data/plugins/dir)" = 700 ] || fail "private folder mode: $(stat -c %a data/plugins/dir)"
[ -f data/plugins/dir/probe ] || fail "the plugin's file is not in its private folder"

run_cmd pj.out pj.err "$RAMPARTCTL" --config "$CFG" plugins --json
expect_rc 0 "plugins --json: $(cat pj.err)"
"$PY" - pj.out <<'PY' || fail "plugins --json gauges: $(cat pj.out)"
import json, sys
s = json.load(open(sys.argv[1]))[0]
assert s["name"] == "dir" and s["gauges"]["path_ok"] == 1 and s["gauges"]["dir_rc"] == 0, s
PY
wait_for 10 "an agent.health event" file_has data/events.ndjson '"event.action":"agent-health"'
"$PY" - data/events.ndjson <<'PY' || fail "agent.health gauges"
import json, sys
h = [json.loads(l) for l in open(sys.argv[1]) if '"agent-health"' in l][-1]
assert h["rampart.plugins.dir.gauges.path_ok"] == 1, h
assert h["rampart.plugins.dir.gauges.same_fd"] == 1, h
PY
kill -TERM "$APID"
wait "$APID" || fail "agent exit status"
