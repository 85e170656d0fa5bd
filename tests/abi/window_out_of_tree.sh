#!/usr/bin/env bash
# window_out_of_tree.sh SOURCE_DIR RAMPARTD
# Builds the window detector (sdk/examples/window_detector) outside the tree
# with nothing but the SDK headers, the export map and the example's own
# CMakeLists.txt, as its README says, loads it into a real rampartd next to
# the synthetic collector, and checks its one alert: 20 process.exec events
# of user "teacher" against a threshold of 10 alert once, when the count
# goes over it, with the count in the example's custom field.
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
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/log" ] && tail -n 30 "$tmp/log" >&2
    exit 1
}

mkdir -p "$tmp/sdk/include/rampart" "$tmp/src" "$tmp/conf"
cp "$src/sdk/include/rampart/plugin.h" "$src/sdk/include/rampart/plugin_util.h" \
    "$tmp/sdk/include/rampart/"
cp "$src/sdk/rampart-plugin.map" "$tmp/sdk/"
cp "$src/sdk/examples/window_detector/CMakeLists.txt" \
    "$src/sdk/examples/window_detector/window_detector.c" "$tmp/src/"
cmake -S "$tmp/src" -B "$tmp/build" -DRAMPART_SDK="$tmp/sdk" -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" \
    >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "cmake configure"; }
cmake --build "$tmp/build" >>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "cmake build"; }
so=$tmp/build/window_detector.so
[ -f "$so" ] || fail "no $so"
chmod 755 "$tmp/build"

cat >"$tmp/conf/rampart.json" <<JSON
{
  "agent": {"data_dir": "$tmp/data", "plugin_dir": "$plugins", "log_target": "stderr"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {
    "synthetic": {"enabled": true, "file": "collector_synthetic.so",
                  "config": {"count": 20, "rate": 2000}},
    "window": {"enabled": true, "file": "$so",
               "config": {"window_seconds": 600, "threshold": 10, "severity": 73}}
  }
}
JSON
"$rampartd" --foreground --config "$tmp/conf/rampart.json" 2>"$tmp/log" &
pid=$!
events="$tmp/data/events.ndjson"
for _ in $(seq 1 100); do
    s=$(grep -c '"synthetic.seq"' "$events" 2>/dev/null || true)
    a=$(grep -c '"rule.id":"window-1"' "$events" 2>/dev/null || true)
    [ "${s:-0}" -ge 20 ] && [ "${a:-0}" -ge 1 ] && break
    sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || true
pid=
grep -q "plugin window: loaded org.rampart.example.window 1.0.0 (detector" "$tmp/log" ||
    fail "the detector was not loaded"
alerts=$(grep '"rule.id":"window-1"' "$events" || true)
[ "$(grep -c . <<<"$alerts")" -eq 1 ] || fail "expected 1 alert, got: $alerts"
for want in '"user.name":"teacher"' '"rule.ruleset":"window"' '"event.severity":73' \
    '"window_detector.exec_count":11' '"event.reason":"user teacher ran 11 programs in 600 s (threshold 10)"'; do
    grep -qF "$want" <<<"$alerts" || fail "the alert lacks $want: $alerts"
done
echo "window detector built out of tree: 1 alert as expected"
