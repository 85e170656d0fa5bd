#!/usr/bin/env bash
# Every event says where it came from: a collector's events (the synthetic
# collector here) carry agent.id, agent.version, host.name, host.hostname,
# host.id, labels.site and the operator's labels, with no key twice and no
# plugin able to set them; output.stdout "text" gives one readable line an
# event on the console.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"

PLUGINS=$(cd "$(dirname "$RAMPARTD")/../plugins" && pwd -P)
[ -f "$PLUGINS/collector_synthetic.so" ] || fail "no collector_synthetic.so in $PLUGINS"
mkdir -p sites
cat >rampart.json <<JSON
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGINS", "log_level": "info",
            "labels": {"building": "B", "room": "lab \"2\""}},
  "output": {"file": "events.ndjson", "stdout": "text"},
  "plugins": {"synthetic": {"enabled": false, "file": "collector_synthetic.so",
                            "config": {"count": 50, "rate": 500}}}
}
JSON
cat >sites/north.json <<'JSON'
{"plugins": {"synthetic": {"enabled": true}}}
JSON

"$RAMPARTD" --foreground --config rampart.json --site north >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 15 "50 synthetic events" "$PY" -c '
import sys
n = sum(1 for l in open("data/events.ndjson") if "synthetic.seq" in l)
sys.exit(0 if n >= 50 else 1)'
kill -TERM "$APID"
wait_for 10 "the agent to exit" pid_gone "$APID"

"$PY" - data/events.ndjson data/agent_id "$VERSION" "$(hostname)" <<'PY' || fail "identity fields"
import json, sys
path, idfile, version, hostname = sys.argv[1:5]
agent_id = open(idfile).read().strip()
machine = open("/etc/machine-id").read().strip()
def no_dupes(pairs):
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "a key repeats: %r" % keys
    return dict(pairs)
want = {"agent.id": agent_id, "agent.version": version, "agent.type": "rampart",
        "host.name": hostname, "host.hostname": hostname, "host.id": machine,
        "labels.site": "north", "labels.building": "B", "labels.room": 'lab "2"'}
lines = open(path).read().splitlines()
synthetic = 0
for line in lines:
    ev = json.loads(line, object_pairs_hook=no_dupes)
    for k, v in want.items():
        assert ev.get(k) == v, "%s: %r, expected %r, in %s" % (k, ev.get(k), v, line[:200])
    synthetic += "synthetic.seq" in ev
assert synthetic == 50, synthetic
print("identity on all %d lines (%d from the collector)" % (len(lines), synthetic))
PY

# The console: one line an event, the time first, no JSON, no identity.
"$PY" - agent.out <<'PY' || fail "console text lines"
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
syn = [l for l in lines if " process.exec " in l]
assert len(syn) == 50, len(syn)
for l in lines:
    assert re.match(r"^\d\d:\d\d:\d\d\.\d+Z [a-z.]+ ", l), l
    assert not l.startswith("{") and "agent.id=" not in l and "host.name=" not in l, l
    assert not any(ord(c) < 32 for c in l), l
assert any("synthetic.seq=49" in l for l in syn)
print("console: %d text lines" % len(lines))
PY
echo "ok: identity and console"
