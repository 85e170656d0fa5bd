#!/usr/bin/env bash
# Least privilege (docs/capabilities.md), read where a user would check it:
# /proc/<pid>/task/*/status of the running agent (every thread, since
# capabilities belong to each), its log and `rampartctl status --json`.
#  1. the default collectors (process, network, file, login): every thread
#     holds exactly the union of what they declare and the core needs
#     (CapEff = CapPrm = CapBnd), nothing inheritable or ambient, and
#     NoNewPrivs 1; the log says what was kept, as does status;
#  2. the same with a 1.0 plugin (tests/abi's abi_frozen, which cannot
#     declare anything): the full set is kept, no_new_privs is not set, and
#     the log names the plugin;
#  3. a reload that enables responder_kill, which needs CAP_KILL the agent
#     dropped at start, leaves it failed saying to restart the agent (log,
#     status, plugins), while a reload-enabled plugin needing nothing runs
#     and the collector keeps running;
#  4. agent.drop_capabilities false keeps the full set.
# Needs root (an agent without capabilities has nothing to drop): skipped
# otherwise.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root to hold capabilities"; exit 77; }
BUILD=$(dirname "$(dirname "$RAMPARTD")")
mkdir -m 0755 plugins
mkdir -m 0750 data
for p in collector_process collector_network collector_file collector_login collector_synthetic \
    window_detector responder_kill; do
    cp "$BUILD/plugins/$p.so" plugins/
done
cp "$BUILD/tests/abi-plugins/abi_frozen.so" plugins/
CFG=$T/rampart.json

# What this shell holds: the agent can keep nothing beyond it.
own() { awk -v k="$1:" '$1 == k {print $2}' /proc/self/status; }
OWN_BND=$(own CapBnd)
OWN_PRM=$(own CapPrm)
# Bits, as in linux/capability.h: DAC_READ_SEARCH 2, KILL 5, NET_ADMIN 12,
# SYS_PTRACE 19, SYS_ADMIN 21, SYS_NICE 23.
hexmask() {
    local m=0 b
    for b in "$@"; do m=$((m | (1 << b))); done
    printf '%016x' "$m"
}
and_hex() { printf '%016x' $((0x$1 & 0x$2)); }
WANT=$(and_hex "$(hexmask 2 12 19 21 23)" "$OWN_PRM")

# write_cfg PLUGINS_JSON [AGENT_EXTRA]
write_cfg() {
    cat >"$CFG.tmp" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info",
            "health_interval_ms": 1000${2:+, $2}},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {$1}
}
EOF
    mv "$CFG.tmp" "$CFG"
}
COLLECTORS='"process": {"enabled": true, "file": "collector_process.so"},
  "network": {"enabled": true, "file": "collector_network.so"},
  "file": {"enabled": true, "file": "collector_file.so", "config": {"paths": ["'$T'"]}},
  "login": {"enabled": true, "file": "collector_login.so"}'

APID=
start_agent() {
    : >agent.err
    "$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
    APID=$!
    AGENT_PIDS+=("$APID")
    wait_for 20 "agent started" file_has agent.err "rampartd $VERSION started"
}
stop_agent() {
    kill -TERM "$APID"
    wait "$APID" || fail "agent exit status"
}

# check_threads FIELD WANT : every thread of the agent shows FIELD = WANT.
check_threads() {
    local t v n=0
    for t in /proc/"$APID"/task/*; do
        v=$(awk -v k="$1:" '$1 == k {print $2}' "$t/status" 2>/dev/null) || continue
        [ -n "$v" ] || continue # the thread ended meanwhile
        [ "$v" = "$2" ] || fail "thread $(cat "$t/comm" 2>/dev/null) ($t): $1 $v, expected $2"
        n=$((n + 1))
    done
    [ "$n" -ge 4 ] || fail "only $n threads read in /proc/$APID/task"
}

status_json() {
    run_cmd st.out st.err "$RAMPARTCTL" --config "$CFG" status --json
    expect_rc 0 "status --json: $(cat st.err)"
}

# 1. The default collectors.
write_cfg "$COLLECTORS"
start_agent
wait_for 10 "four plugins running" file_has agent.err "4 of 4 plugins enabled, 4 running"
for f in CapEff CapPrm CapBnd; do check_threads "$f" "$WANT"; done
check_threads CapInh 0000000000000000
check_threads CapAmb 0000000000000000
check_threads NoNewPrivs 1
grep -qE "capabilities: kept CAP_DAC_READ_SEARCH, CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_SYS_NICE \(core: CAP_SYS_NICE; process .*\); bounding set reduced to them; no_new_privs set" agent.err ||
    fail "log line of what was kept: $(grep capabilities agent.err)"
status_json
[ "$(json_get st.out 'd["capabilities"]["kept"]')" = "['CAP_DAC_READ_SEARCH', 'CAP_NET_ADMIN', 'CAP_SYS_PTRACE', 'CAP_SYS_ADMIN', 'CAP_SYS_NICE']" ] ||
    fail "status capabilities: $(json_get st.out 'd["capabilities"]')"
[ "$(json_get st.out 'd["capabilities"]["no_new_privs"]')" = True ] || fail "status no_new_privs"
# The collectors still work with what they kept: a file made here is seen.
echo x >"$T/seen-file"
wait_for 10 "the file collector's event" file_has data/events.ndjson "$T/seen-file"
stop_agent

# 2. A 1.0 plugin beside them: nothing is dropped, and the log says why.
write_cfg "$COLLECTORS,
  \"frozen\": {\"enabled\": true, \"file\": \"abi_frozen.so\"}"
start_agent
for f in CapEff CapPrm; do check_threads "$f" "$OWN_PRM"; done
check_threads CapBnd "$OWN_BND"
check_threads NoNewPrivs 0
file_has agent.err "capabilities: all kept, no_new_privs not set: plugin frozen (" ||
    fail "log naming the plugin: $(grep capabilities agent.err)"
status_json
[ "$(json_get st.out 'd["capabilities"]["dropped"]')" = False ] || fail "status dropped"
json_get st.out 'd["capabilities"]["reason"]' | grep -q "plugin frozen" || fail "status reason"
stop_agent

# 3. A reload that needs what was dropped.
write_cfg '"synthetic": {"enabled": true, "file": "collector_synthetic.so",
                "config": {"count": 1000000, "rate": 100}}'
start_agent
check_threads CapEff "$(and_hex "$(hexmask 23)" "$OWN_PRM")"
write_cfg '"synthetic": {"enabled": true, "file": "collector_synthetic.so",
                "config": {"count": 1000000, "rate": 100}},
  "window": {"enabled": true, "file": "window_detector.so"},
  "kill": {"enabled": true, "file": "responder_kill.so"}'
run_cmd reload.out reload.err "$RAMPARTCTL" --config "$CFG" reload
wait_for 10 "the reload's log line" file_has agent.err "reload: plugins: 2 enabled"
MSG="needs CAP_DAC_READ_SEARCH, CAP_KILL, CAP_SYS_PTRACE, which the agent dropped at start-up (agent.drop_capabilities); restart the agent to run it"
file_has agent.err "reload: plugin kill (org.rampart.responder.kill): $MSG" ||
    fail "log of the refused plugin: $(grep -i kill agent.err)"
run_cmd pl.out pl.err "$RAMPARTCTL" --config "$CFG" plugins --json
"$PY" - pl.out "$MSG" <<'PY' || fail "plugins after the reload: $(cat pl.out)"
import json, sys
p = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert p["kill"]["state"] == "failed", p["kill"]
assert p["kill"]["error"] == sys.argv[2], p["kill"]["error"]
assert p["window"]["state"] == "running", p["window"]
assert p["synthetic"]["state"] == "running", p["synthetic"]
PY
wait_for 10 "status.json saying so" grep -qF "restart the agent to run it" data/status.json
run_cmd st.out st.err "$RAMPARTCTL" --config "$CFG" status
grep -qE "^  kill +failed" st.out || fail "status row of kill: $(cat st.out)"
grep -qF "restart the agent" st.out || fail "status text names the restart: $(cat st.out)"
# Nothing was gained back by the reload.
check_threads CapEff "$(and_hex "$(hexmask 23)" "$OWN_PRM")"
stop_agent

# 4. Turned off.
write_cfg "$COLLECTORS" '"drop_capabilities": false'
start_agent
check_threads CapEff "$OWN_PRM"
check_threads NoNewPrivs 0
file_has agent.err "capabilities: all kept (agent.drop_capabilities is false)" || fail "log when off"
stop_agent
echo "PASS"
