#!/usr/bin/env bash
# rampartctl status: what the running agent last reported in
# <data_dir>/status.json (plugins, counters, outputs), as text and as JSON;
# the agent.health event carries the same figures under rampart.*.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"

CFG=$T/rampart.json
mkdir -p plugins
cp "$(dirname "$RAMPARTD")/../plugins/collector_synthetic.so" plugins/
cat >"$CFG" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info",
            "health_interval_ms": 200},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {"synthetic": {"enabled": true, "file": "collector_synthetic.so",
                            "config": {"count": 300, "rate": 0}}}
}
EOF
run_cmd none.out none.err "$RAMPARTCTL" --config "$CFG" status
expect_rc 69 "status before any agent ran"
grep -q "no status yet" none.err || fail "status without an agent: $(cat none.err)"

"$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "300 events published in status.json" \
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["plugins"]["synthetic"]["published"] != 300)' data/status.json
run_cmd st.out st.err "$RAMPARTCTL" --config "$CFG" status
expect_rc 0 "status"
WPID=$(worker_pid "$APID") || fail "no worker under the supervisor $APID"
grep -q "^rampartd $VERSION, pid $WPID, up " st.out || fail "status header: $(head -1 st.out)"
grep -qxE "  synthetic +running +300 +0 +[0-9]+ +-" st.out || fail "status plugin row: $(cat st.out)"
grep -qxE "  state +ok" st.out || fail "status state line: $(cat st.out)"
grep -qxF "  restart 0 by the supervisor (pid $APID)" st.out || fail "status restart line: $(cat st.out)"
[ "$(json_get data/status.json 'd["state"]')" = ok ] || fail "status.json state"
run_cmd js.out js.err "$RAMPARTCTL" --config "$CFG" status --json
expect_rc 0 "status --json"
[ "$(json_get js.out 'd["plugins"]["synthetic"]["counters"]["published"]')" = 300 ] || fail "status --json counters"
WPID=$(worker_pid "$APID") || fail "no worker under the supervisor $APID"
[ "$(json_get js.out 'd["pid"]')" = "$WPID" ] || fail "status --json pid"
[ "$(json_get js.out 'd["supervisor"]["pid"]')" = "$APID" ] || fail "status --json supervisor pid"
[ "$(json_get js.out 'd["supervisor"]["restarts"]')" = 0 ] || fail "status --json supervisor restarts"
# The health event: kind metric, the same figures flattened under rampart.*.
wait_for 10 "an agent.health event" file_has data/events.ndjson '"event.action":"agent-health"'
"$PY" - data/events.ndjson <<'PY' || fail "agent.health event fields"
import json, sys
h = [json.loads(l) for l in open(sys.argv[1]) if '"agent-health"' in l][-1]
assert h["event.kind"] == "metric", h
assert h["rampart.plugins.synthetic.counters.published"] == 300, h
assert h["rampart.sink.events"] >= 300, h
assert "rampart.cpu_ms" in h and "rampart.peak_rss_bytes" in h, h
PY
run_cmd bad.out bad.err "$RAMPARTCTL" --config "$CFG" status --yaml
expect_rc 64 "status with a bad argument"
kill -TERM "$APID"
wait "$APID" || fail "agent exit status"
