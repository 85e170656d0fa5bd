#!/usr/bin/env bash
# ABI 1.1 check_config, config getters and capabilities, as a user sees them.
# The test detector config11_check.so refuses "threshold" over 100 in its
# check_config: `rampartd --check-config` then exits 78 naming the plugin and
# the key, and a real agent start leaves the plugin off (refused, with the
# same reason in status.json) while the agent runs. With a good value the
# plugin reads its settings through the typed getters (JSON Pointer, ~1 and
# ~0 escapes included) and status.json lists its declared capabilities; the
# 1.0 test plugin abi_frozen.so shows "undeclared".
# Run as: bash test_config11.sh RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
ABI_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR}
ABI_DIR=$(cd "$ABI_DIR" && pwd -P)
for f in config11_check.so abi_frozen.so; do
    [ -f "$ABI_DIR/$f" ] || fail "no $f in $ABI_DIR"
done
PLUGINS=$(cd "$(dirname "$RAMPARTD")/../plugins" && pwd -P)
cd "$T"

# write THRESHOLD : the agent's config with the test detector and the 1.0 plugin.
write() {
    cat >"$T/agent.json" <<JSON
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$ABI_DIR", "log_level": "info",
            "health_interval_ms": 200},
  "output": {"file": "events.ndjson", "stdout": false},
  "plugins": {
    "c11": {"enabled": true, "file": "config11_check.so",
            "config": {"threshold": $1, "window": {"seconds": 30},
                       "users": ["alice", "bob"], "a/b~c": true}},
    "frozen": {"enabled": true, "file": "abi_frozen.so"},
    "syn": {"enabled": true, "file": "$PLUGINS/collector_synthetic.so",
            "config": {"count": 1, "rate": 0}}
  }
}
JSON
}

# 1. --check-config refuses the value, naming the plugin and the key.
write 500
run_cmd bad.out bad.err "$RAMPARTD" --check-config --config "$T/agent.json"
expect_rc 78 "check_config refusing threshold 500"
WHY="check_config refused the config: /threshold: must be at most 100, got 500"
grep -qxF "rampartd: $T/agent.json: plugins.c11: $WHY" bad.err ||
    fail "--check-config did not name plugin and key: $(cat bad.err)"
[ "$(grep -c '^rampartd: ' bad.err)" -eq 1 ] || fail "expected one error line, got: $(cat bad.err)"

# 2. The same config at start: the agent runs, the plugin is left off.
"$RAMPARTD" --foreground --config "$T/agent.json" >agent1.out 2>agent1.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "status.json" test -s "$T/data/status.json"
grep -qF "plugin c11 refused: $WHY" agent1.err || fail "agent log does not say why c11 is off"
grep -qF "config11: threshold=" agent1.err && fail "init ran after check_config refused"
[ "$(json_get data/status.json 'd["plugins"]["c11"]["state"]')" = refused ] ||
    fail "status.json: c11 is not refused"
[ "$(json_get data/status.json 'd["plugins"]["c11"]["error"]')" = "$WHY" ] ||
    fail "status.json: c11 error: $(json_get data/status.json 'd["plugins"]["c11"]')"
[ "$(json_get data/status.json 'd["plugins"]["frozen"]["state"]')" = running ] ||
    fail "status.json: the other plugin does not run"
kill -TERM "$APID"
wait "$APID" || fail "agent exit status"

# 3. A good value: check passes, init reads every setting through the getters.
write 50
run_cmd ok.out ok.err "$RAMPARTD" --check-config --config "$T/agent.json"
expect_rc 0 "check_config accepting threshold 50: $(cat ok.err)"
rm -rf "$T/data"
"$RAMPARTD" --foreground --config "$T/agent.json" >agent2.out 2>agent2.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "status.json" test -s "$T/data/status.json"
wait_for 10 "c11 running" file_has agent2.err "plugin c11: running"
grep -qF "plugin c11: config11: threshold=50 seconds=30 flag=1 users=2 first=alice" agent2.err ||
    fail "init did not read its config through the getters: $(grep config11 agent2.err)"
[ "$(json_get data/status.json 'd["plugins"]["c11"]["capabilities"]')" = "['CAP_NET_ADMIN', 'CAP_SYS_PTRACE']" ] ||
    fail "status.json capabilities: $(json_get data/status.json 'd["plugins"]["c11"]')"
[ "$(json_get data/status.json 'd["plugins"]["frozen"]["capabilities"]')" = undeclared ] ||
    fail "status.json capabilities of a 1.0 plugin: $(json_get data/status.json 'd["plugins"]["frozen"]')"
# An in-tree plugin declares what it needs; this one needs nothing.
[ "$(json_get data/status.json 'd["plugins"]["syn"]["capabilities"]')" = "[]" ] ||
    fail "status.json capabilities of collector_synthetic: $(json_get data/status.json 'd["plugins"]["syn"]')"
kill -TERM "$APID"
wait "$APID" || fail "agent exit status"
echo "ok"
