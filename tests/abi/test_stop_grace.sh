#!/usr/bin/env bash
# agent.stop_grace_ms bounds a stop whatever a plugin does: a collector
# whose stop callback takes 30 s (the 1.0 test plugin abi_flood.so with
# stop_sleep_ms) must not hold SIGTERM up past the grace period. The agent
# says in its log what it gave up on and exits with status 70.
# Run as: bash test_stop_grace.sh RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
ABI_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR}
ABI_DIR=$(cd "$ABI_DIR" && pwd -P)
[ -f "$ABI_DIR/abi_flood.so" ] || fail "no abi_flood.so in $ABI_DIR"
cd "$T"
mkfifo "$T/feed"
GRACE_MS=1500
cat >"$T/agent.json" <<JSON
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$ABI_DIR", "log_level": "info",
            "stop_grace_ms": $GRACE_MS},
  "output": {"file": "events.ndjson", "stdout": false},
  "plugins": {"flood": {"enabled": true, "file": "abi_flood.so",
                        "config": {"path": "$T/feed", "stop_sleep_ms": 30000}}}
}
JSON
"$RAMPARTD" --foreground --config "$T/agent.json" >"$T/agent.out" 2>"$T/agent.err" &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "plugin flood running" file_has "$T/agent.err" "plugin flood: running"
TS=$(date +%s%N)
kill -TERM "$APID"
deadline=$((TS + 10 * 1000000000))
while kill -0 "$APID" 2>/dev/null && [ "$(date +%s%N)" -lt "$deadline" ]; do sleep 0.02; done
STOP_MS=$((($(date +%s%N) - TS) / 1000000))
kill -0 "$APID" 2>/dev/null && fail "still running ${STOP_MS} ms after SIGTERM (grace ${GRACE_MS} ms)"
RC=0
wait "$APID" || RC=$?
echo "stopped in ${STOP_MS} ms (grace ${GRACE_MS} ms), exit status $RC"
# The grace runs from when the agent starts stopping; 1 s of slack for the
# signal's delivery and the exit on a loaded machine.
[ "$STOP_MS" -le $((GRACE_MS + 1000)) ] || fail "stop took ${STOP_MS} ms (grace ${GRACE_MS} ms)"
expect_rc 70 "a stop cut short by the grace period"
file_has "$T/agent.err" "not done within agent.stop_grace_ms (${GRACE_MS} ms); exiting now" ||
    fail "the log does not say the stop was cut short"
echo PASS
