#!/usr/bin/env bash
# The supervisor (docs/supervisor.md) with the chaos test plugin:
#  1. a crash on a thread the plugin made itself is attributed by address;
#     with agent.plugin_faults.max 2 it is disabled after two;
#  2. a file that changed is another plugin for the ledger: loaded again;
#  3. an abort in a callback (start) is attributed to it and that callback;
#  4. the worker over its memory budget, then over its CPU budget, is
#     restarted with that cause in the log and status;
#  5. rampartctl plugins enable: usage, an unknown name;
#  6. the supervisor killed: its worker stops cleanly;
#  7. agent.supervisor.enabled false: one process, as before (a crash in a
#     plugin ends it).
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"

CFG=$T/rampart.json
CHAOS_SO=$(dirname "$RAMPARTD")/../tests/plugins/chaos.so
mkdir -p plugins
cp "$CHAOS_SO" plugins/chaos.so

# write_cfg CHAOS_CONFIG [AGENT_KEYS]
write_cfg() {
    cat >"$CFG" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info",
            "health_interval_ms": 200, "stop_grace_ms": 1000,
            "plugin_faults": {"max": 2, "window_s": 600}${2:+, $2}},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 50},
  "plugins": {"chaos": {"enabled": true, "file": "chaos.so", "config": $1}}
}
EOF
}
start() {
    "$RAMPARTD" --foreground --config "$CFG" >>agent.out 2>>agent.err &
    APID=$!
    AGENT_PIDS+=("$APID")
}
# stop [STATUS]: SIGTERM, and the exit status expected (0 by default).
stop() {
    kill -TERM "$APID"
    wait_for 10 "the agent to stop" pid_gone "$APID"
    RC=0
    wait "$APID" || RC=$?
    expect_rc "${1:-0}" "exit status after SIGTERM"
}
chaos_state() { json_get data/status.json 'd["plugins"]["chaos"]["state"]'; }
state_is() { [ "$(chaos_state)" = "$1" ]; }

# ---- 1. its own thread -------------------------------------------------------------
write_cfg '{"mode": "segv", "where": "thread", "nth": 3, "interval_ms": 100}'
start
wait_for 20 "chaos disabled after two crashes in its thread" state_is disabled
[ "$(count_lines agent.err "died of SIGSEGV in plugin chaos (its own thread)")" -eq 2 ] ||
    fail "crashes in the plugin's thread: $(grep 'died of' agent.err)"
grep -qE "rampartd\[$APID\] error: worker \(pid [0-9]+\) died of SIGSEGV in plugin chaos \(its own thread\): pc 0x[0-9a-f]+, address 0x0; restarting it$" agent.err ||
    fail "the supervisor's line: $(grep 'died of' agent.err)"
[ "$(json_get data/status.json 'd["supervisor"]["restarts"]')" = 2 ] || fail "restarts"
json_get data/status.json 'd["plugins"]["chaos"]["error"]' | grep -qF "disabled after 2 faults in 600 s (last: crash SIGSEGV in its own thread)" ||
    fail "chaos error: $(json_get data/status.json 'd["plugins"]["chaos"]["error"]')"
"$RAMPARTCTL" --config "$CFG" status >status.out 2>&1 || true
grep -qxF "  restart 2 by the supervisor (pid $APID); last: worker restarted after SIGSEGV in plugin chaos (its own thread); plugin chaos is now disabled" status.out ||
    fail "rampartctl status: $(cat status.out)"
"$RAMPARTCTL" --config "$CFG" plugins >plugins.out 2>&1 || true
grep -qE "^chaos +- +- +- +- +disabled " plugins.out || fail "rampartctl plugins: $(cat plugins.out)"
"$PY" - data/plugin_faults.json <<'PY' || fail "the ledger: $(cat data/plugin_faults.json)"
import json, sys
e = json.load(open(sys.argv[1]))["plugins"]["chaos"]
assert e["disabled"] is True, e
assert [f["callback"] for f in e["faults"]] == ["its own thread"] * 2, e
assert all(f["signal"] == "SIGSEGV" and f["kind"] == "crash" for f in e["faults"]), e
PY
[ "$(stat -c %a data/plugin_faults.json)" = 600 ] || fail "ledger mode $(stat -c %a data/plugin_faults.json)"
stop
# Still disabled at the next start.
start
wait_for 10 "status.json" test -s data/status.json
wait_for 10 "chaos still disabled" state_is disabled
stop

# ---- 2. a new file is another plugin -------------------------------------------------
rm -f data/status.json
printf 'x' >>plugins/chaos.so # another size: another identity (an ELF file still loads)
write_cfg '{"mode": "none"}'
start
wait_for 10 "chaos running from its changed file" state_is running
stop

# ---- 3. an abort in start ---------------------------------------------------------------
rm -f data/status.json data/plugin_faults.json
write_cfg '{"mode": "abort", "where": "start"}'
start
wait_for 20 "chaos disabled after two aborts in start" state_is disabled
[ "$(count_lines agent.err "died of SIGABRT in plugin chaos (start)")" -eq 2 ] ||
    fail "aborts in start: $(grep 'died of' agent.err | tail -n 3)"
stop

# ---- 4. budgets -------------------------------------------------------------------------
rm -f data/status.json data/plugin_faults.json
: >agent.err
write_cfg '{"mode": "alloc", "where": "timer", "interval_ms": 50, "alloc_mb": 16, "alloc_max_mb": 512}' \
    '"max_rss_bytes": 0, "supervisor": {"memory_mb": 64, "backoff_min_ms": 100}'
start
wait_for 20 "a restart over the memory budget" file_has agent.err "worker over its memory budget"
grep -qE "rampartd\[$APID\] error: supervisor: worker over its memory budget: [0-9]+ MiB resident > 64 MiB \(agent.supervisor.memory_mb\); stopping it$" agent.err ||
    fail "memory budget line: $(grep 'memory budget' agent.err)"
mem_restart() { json_get data/status.json 'd["supervisor"]["last_cause"]' | grep -q "memory budget"; }
wait_for 10 "status to say the memory restart" mem_restart
stop
rm -f data/status.json
: >agent.err
write_cfg '{"mode": "spin", "where": "timer", "nth": 1}' \
    '"supervisor": {"cpu_percent": 50, "cpu_window_s": 2, "backoff_min_ms": 100}'
start
wait_for 20 "a restart over the CPU budget" file_has agent.err "worker over its CPU budget"
grep -qE "error: supervisor: worker over its CPU budget: [0-9]+% of a CPU for 2 s > 50% \(agent.supervisor.cpu_percent\); stopping it$" agent.err ||
    fail "CPU budget line: $(grep 'CPU budget' agent.err)"
cpu_restart() { json_get data/status.json 'd["supervisor"]["last_cause"]' | grep -q "CPU budget"; }
wait_for 10 "status to say the CPU restart" cpu_restart
# A restarted worker reads the config files again: calm now, its loop runs
# (the health tick rewrites status.json), and it stops cleanly.
write_cfg '{"mode": "none"}' '"supervisor": {"cpu_percent": 50, "cpu_window_s": 2, "backoff_min_ms": 100}'
loop_runs() {
    local t1
    t1=$(json_get data/status.json 'd["time"]')
    sleep 0.5
    [ "$(json_get data/status.json 'd["time"]')" != "$t1" ] && state_is running
}
wait_for 20 "a calm worker after the CPU restarts" loop_runs
stop

# ---- 5. rampartctl plugins enable ---------------------------------------------------------
rm -f data/status.json
write_cfg '{"mode": "none"}'
start
wait_for 10 "chaos running" state_is running
run_cmd e1.out e1.err "$RAMPARTCTL" --config "$CFG" plugins enable
expect_rc 64 "plugins enable without a name"
run_cmd e2.out e2.err "$RAMPARTCTL" --config "$CFG" plugins enable nosuch
expect_rc 69 "plugins enable of an unknown plugin"
grep -qxF "rampartctl: plugins enable: no enabled plugin nosuch in the configuration" e2.err ||
    fail "unknown plugin: $(cat e2.err)"
run_cmd e3.out e3.err "$RAMPARTCTL" --config "$CFG" plugins enable chaos
expect_rc 0 "plugins enable of a running plugin"
grep -qxF "rampartctl: plugin chaos was not disabled" e3.out || fail "running plugin: $(cat e3.out)"
stop

# ---- 6. the supervisor killed: its worker stops, cleanly ----------------------------------
rm -f data/status.json
: >agent.err
start
wait_for 10 "chaos running" state_is running
WPID=$(worker_pid "$APID") || fail "no worker"
kill -KILL "$APID"
wait_for 15 "the worker to stop after its supervisor died" pid_gone "$WPID"
file_has agent.err "rampartd worker stopped" || fail "the worker did not stop cleanly: $(tail -n 3 agent.err)"
[ ! -e data/rampartd.pid ] || fail "the pid file was left behind"

# ---- 7. without the supervisor ------------------------------------------------------------
rm -f data/status.json data/plugin_faults.json
write_cfg '{"mode": "segv", "nth": 1, "where": "timer", "interval_ms": 100}' \
    '"supervisor": {"enabled": false}'
"$RAMPARTD" --foreground --config "$CFG" >>agent.out 2>solo.err &
SPID=$!
AGENT_PIDS+=("$SPID")
wait_for 10 "the single process to die" pid_gone "$SPID"
RC=0
wait "$SPID" || RC=$?
expect_rc 139 "a crash without the supervisor"
[ ! -e data/plugin_faults.json ] || fail "a ledger without the supervisor"
echo "ok"
