#!/usr/bin/env bash
# hello_out_of_tree.sh SOURCE_DIR RAMPARTD [guide]
# Builds the hello detector outside the tree with nothing but the SDK headers
# and the export map, using the build line of sdk/docs/plugin-guide.md
# (section "Build"), loads it into a real rampartd next to the synthetic
# collector, and checks that exactly the expected alerts come out. With
# "guide", the plugin is the guide's own code: its blocks marked
# <!-- guide-example N --> put together in that order, so the code a vendor
# copies from the guide is known to compile and to work.
set -euo pipefail
src=$1
rampartd=$2
mode=${3:-example}
plugins=$(dirname "$(dirname "$rampartd")")/plugins
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# Only the SDK goes into the out-of-tree folder.
mkdir -p "$tmp/plugin/sdk/include/rampart" "$tmp/conf"
cp "$src/sdk/include/rampart/plugin.h" "$src/sdk/include/rampart/plugin_util.h" \
    "$tmp/plugin/sdk/include/rampart/"
cp "$src/sdk/rampart-plugin.map" "$tmp/plugin/sdk/"
guide="$src/sdk/docs/plugin-guide.md"
if [ "$mode" = guide ]; then
    want_id=org.example.hello
    python3 - "$guide" >"$tmp/plugin/hello_detector.c" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
blocks = re.findall(r"<!-- guide-example (\d+) -->\n```c\n(.*?)```", text, re.S)
nums = [int(n) for n, _ in blocks]
if not blocks or sorted(nums) != list(range(1, len(nums) + 1)):
    sys.exit(f"FAIL: guide-example blocks must be numbered 1..N once each, got {nums}")
for _, code in sorted(blocks, key=lambda b: int(b[0])):
    sys.stdout.write(code + "\n")
PY
else
    want_id=org.rampart.example.hello
    cp "$src/sdk/examples/hello_detector/hello_detector.c" "$tmp/plugin/"
fi
# The guide's build line, run as written (plus -Werror, so a warning in the
# code fails the test), from a folder where sdk/ and hello_detector.c are.
build=$(python3 - "$guide" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r"<!-- guide-build -->\n```sh\n(.*?)```", text, re.S)
if not m:
    sys.exit("FAIL: no <!-- guide-build --> block in the guide")
print(m.group(1).replace("\\\n", " ").strip())
PY
)
echo "guide's build line: $build"
(cd "$tmp/plugin" && eval "$build -Werror")
chmod 755 "$tmp/plugin"

# 20 synthetic events; their executables cycle through 5 programs, so
# python3 runs for seq 1, 6, 11, 16: four alerts.
cat > "$tmp/conf/rampart.json" <<JSON
{
  "agent": {"data_dir": "$tmp/data", "plugin_dir": "$plugins", "log_target": "stderr"},
  "output": {"file": "events.ndjson", "stdout": false},
  "plugins": {
    "synthetic": {"enabled": true, "file": "collector_synthetic.so",
                  "config": {"count": 20, "rate": 2000}},
    "hello": {"enabled": true, "file": "$tmp/plugin/hello_detector.so",
              "config": {"substring": "python3", "severity": 73}}
  }
}
JSON
"$rampartd" --foreground --config "$tmp/conf/rampart.json" 2>"$tmp/log" &
pid=$!
events="$tmp/data/events.ndjson"
for _ in $(seq 1 100); do
    n=$(grep -c '"event.kind":"alert"' "$events" 2>/dev/null || true)
    s=$(grep -c '"synthetic.seq"' "$events" 2>/dev/null || true)
    [ "${s:-0}" -ge 24 ] && break
    sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
pid=
cat "$tmp/log"
grep -q "plugin hello: loaded $want_id 1.0.0 (detector" "$tmp/log"
alerts=$(grep -c '"event.kind":"alert"' "$events" || true)
echo "alerts=$alerts exec events with seq=$(grep -c '"synthetic.seq"' "$events")"
[ "$alerts" -eq 4 ] || { echo "FAIL: expected 4 alerts, got $alerts" >&2; exit 1; }
# Each alert carries the triggering event's fields and the rule. (Read into a
# variable first: `grep -q` at the end of a pipe would break it under pipefail.)
alert_lines=$(grep '"event.kind":"alert"' "$events")
for seq in 1 6 11 16; do
    grep -q "\"synthetic.seq\":$seq[,}]" <<<"$alert_lines" ||
        { echo "FAIL: no alert for seq $seq" >&2; exit 1; }
done
for want in '"rule.id":"hello-1"' '"rule.ruleset":"hello"' '"event.severity":73' \
    '"process.executable":"/usr/bin/python3"'; do
    n=$(grep -cF "$want" <<<"$alert_lines" || true)
    [ "$n" -eq 4 ] || { echo "FAIL: $n of 4 alerts have $want" >&2; exit 1; }
done
# The example and the guide build their alerts with alert_create (ABI 1.1):
# the alert contract of sdk/docs/alerts.md. Each alert has a reason, ATT&CK
# ids, the default policy (detect) stamped, and cites the exec event it came
# from by its event.id; the exec event's categorisation stays out of it.
python3 - "$events" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
by_id = {e["event.id"]: e for e in lines}
alerts = [e for e in lines if e.get("event.kind") == "alert"]
for a in alerts:
    def need(cond, what):
        if not cond:
            sys.exit(f"FAIL: alert {a.get('event.id')}: {what}: {json.dumps(a)}")
    need(a.get("event.reason"), "no event.reason")
    need(a.get("rule.name"), "no rule.name")
    need(a.get("event.category") == ["intrusion_detection"], "event.category not the alert's own")
    need(a.get("event.type") == ["info"], "event.type not the alert's own")
    need("event.action" not in a, "event.action of the source leaked")
    need(a.get("threat.framework") == "MITRE ATT&CK", "threat.framework")
    need(a.get("threat.technique.id") == ["T1059"], "threat.technique.id")
    need(a.get("rampart.policy.mode") == "detect", "rampart.policy.mode")
    need(a.get("rampart.policy.actions") == [], "rampart.policy.actions")
    ids = a.get("rampart.alert.source_ids") or []
    need(len(ids) == 1 and ids[0] in by_id, "rampart.alert.source_ids does not cite an event")
    src = by_id[ids[0]]
    need(src.get("synthetic.seq") == a.get("synthetic.seq"), "cites another event than its subject")
    need(src.get("event.kind") == "event" and src.get("event.action"), "source is not the exec")
print(f"{len(alerts)} alerts follow the alert contract")
PY
echo "hello detector ($mode) built out of tree: 4 alerts as expected"
