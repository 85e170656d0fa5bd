#!/usr/bin/env bash
# hello_out_of_tree.sh SOURCE_DIR RAMPARTD
# Builds the hello detector outside the tree with nothing but the SDK header
# and the export map, loads it into a real rampartd next to the synthetic
# collector, and checks that exactly the expected alerts come out.
set -euo pipefail
src=$1
rampartd=$2
plugins=$(dirname "$(dirname "$rampartd")")/plugins
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# Only the SDK goes into the out-of-tree folder.
mkdir -p "$tmp/sdk/include/rampart" "$tmp/plugin" "$tmp/conf"
cp "$src/sdk/include/rampart/plugin.h" "$tmp/sdk/include/rampart/"
cp "$src/sdk/rampart-plugin.map" "$tmp/sdk/"
cp "$src/sdk/examples/hello_detector/hello_detector.c" "$tmp/plugin/"
(cd "$tmp/plugin" && cc -std=c11 -O2 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden \
    -I ../sdk/include -Wl,--version-script=../sdk/rampart-plugin.map -Wl,--no-undefined \
    -o hello_detector.so hello_detector.c)
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
grep -q 'plugin hello: loaded org.rampart.example.hello 1.0.0 (detector' "$tmp/log"
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
echo "hello detector built out of tree: 4 alerts as expected"
