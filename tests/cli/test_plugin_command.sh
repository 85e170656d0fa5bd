#!/usr/bin/env bash
# rampartctl plugin NAME COMMAND [ARGS...] through the control socket to a
# real agent running the commands11 test plugin (on_command): an echo that
# shows the request rampartctl builds, a progress stream printed as it comes,
# a command past agent.plugin_command_timeout_ms (exit 75, and the plugin's
# late reply refused with RP_ERR_TIMEOUT), a plugin error (exit 70 with its
# message), a return without a last reply, an unknown plugin (64), a plugin
# without on_command (69), the per-plugin cap on commands in flight (75);
# each command logged and published as an agent.control event with the
# plugin, the command, the caller's uid and pid; no agent: one line, 69.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"

BUILD=$(cd "$(dirname "$RAMPARTD")/.." && pwd -P)
PLUGIN=$BUILD/tests/abi-plugins/abi_commands11.so
[ -f "$PLUGIN" ] || fail "test plugin not built: $PLUGIN"
CFG=$T/rampart.json
mkdir -p plugins
cp "$PLUGIN" plugins/commands11.so
cp "$BUILD/plugins/collector_synthetic.so" plugins/
write_cfg() {
    cat >"$CFG" <<JSON
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info",
            "plugin_command_timeout_ms": $1},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {"cmds": {"enabled": true, "file": "commands11.so"},
              "synthetic": {"enabled": true, "file": "collector_synthetic.so",
                            "config": {"count": 0, "rate": 10}}}
}
JSON
}
start_agent() {
    "$RAMPARTD" --foreground --config "$CFG" >>agent.out 2>>agent.err &
    APID=$!
    AGENT_PIDS+=("$APID")
    wait_for 10 "the control socket" test -S data/control.sock
    wait_for 10 "the plugin running" grep -q "plugin cmds: running" agent.err
}
write_cfg 700

# ---- no agent: one line, 69 ------------------------------------------------------
run_cmd na.out na.err "$RAMPARTCTL" --config "$CFG" plugin cmds echo
expect_rc 69 "plugin command without an agent"
[ "$(wc -l <na.err)" -eq 1 ] && grep -q "rampartd is not running" na.err ||
    fail "no agent: $(cat na.err)"

start_agent

# ---- echo: the request as rampartctl builds it ---------------------------------
run_cmd echo.out echo.err "$RAMPARTCTL" --config "$CFG" plugin cmds echo a 'b c' '"q"'
expect_rc 0 "echo: $(cat echo.err)"
[ "$(cat echo.out)" = '{"request":{"command":"echo","args":["a","b c","\"q\""]}}' ] ||
    fail "echo printed: $(cat echo.out)"

# ---- progress: every reply, in order, printed as it comes ------------------------
"$PY" - <<'PY' "$RAMPARTCTL" "$CFG" >prog.out 2>prog.err || fail "progress: $(cat prog.out prog.err)"
import subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "--config", sys.argv[2], "plugin", "cmds", "progress", "6"],
                     stdout=subprocess.PIPE, text=True)
t0 = time.time()
first = p.stdout.readline()
t_first = time.time() - t0
rest = p.stdout.read()
rc = p.wait(timeout=10)
t_all = time.time() - t0
print(first + rest, end="")
assert rc == 0, rc
# Six steps 50 ms apart: the first line comes well before the last.
assert first == '{"step":1,"of":6}\n', first
assert t_all - t_first >= 0.2, (t_first, t_all)
PY
[ "$(cat prog.out)" = "$(printf '{"step":%d,"of":6}\n' 1 2 3 4 5 6; echo '{"done":6}')" ] ||
    fail "progress printed: $(cat prog.out)"

# ---- past the deadline: 75, and the late reply is refused -----------------------
SECONDS=0
run_cmd slow.out slow.err "$RAMPARTCTL" --config "$CFG" plugin cmds slow 1500
expect_rc 75 "slow command past the deadline: $(cat slow.err)"
[ "$SECONDS" -le 3 ] || fail "the timeout took $SECONDS s"
grep -q "RP_ERR_TIMEOUT\|did not finish the command within 700 ms" slow.err || fail "timeout said: $(cat slow.err)"
[ ! -s slow.out ] || fail "a reply was printed past the deadline: $(cat slow.out)"
late_timeout() {
    "$RAMPARTCTL" --config "$CFG" plugins --json >pj.out 2>/dev/null &&
        [ "$(json_get pj.out '[p for p in d if p["name"] == "cmds"][0]["counters"]["late_timeout"]')" = 1 ]
}
wait_for 10 "command_reply after the deadline refused with RP_ERR_TIMEOUT" late_timeout
[ "$(json_get pj.out '[p for p in d if p["name"] == "cmds"][0]["counters"]["late_other"]')" = 0 ] ||
    fail "late reply not refused with RP_ERR_TIMEOUT: $(cat pj.out)"

# ---- a plugin error: 70, with rp_errname and the plugin's message ---------------
run_cmd fail.out fail.err "$RAMPARTCTL" --config "$CFG" plugin cmds fail
expect_rc 70 "failing command"
grep -qxF "rampartctl: plugin cmds: RP_ERR_IO: the fail command always fails" fail.err ||
    fail "plugin error said: $(cat fail.err)"
run_cmd nr.out nr.err "$RAMPARTCTL" --config "$CFG" plugin cmds noreply
expect_rc 70 "command without a last reply"
grep -q "RP_ERR_INTERNAL: plugin cmds returned without a last reply" nr.err || fail "noreply said: $(cat nr.err)"
# command_reply's refusals, seen from inside the plugin.
run_cmd ck.out ck.err "$RAMPARTCTL" --config "$CFG" plugin cmds checks
expect_rc 0 "checks: $(cat ck.err)"
[ "$(cat ck.out)" = '{"not_json":1,"bad_flags":1,"null_text":1,"too_big":1}' ] || fail "checks: $(cat ck.out)"

# ---- unknown plugin, plugin without on_command -----------------------------------
run_cmd un.out un.err "$RAMPARTCTL" --config "$CFG" plugin nosuch list
expect_rc 64 "unknown plugin"
grep -qF 'no plugin instance named "nosuch"' un.err || fail "unknown plugin said: $(cat un.err)"
run_cmd ns.out ns.err "$RAMPARTCTL" --config "$CFG" plugin synthetic list
expect_rc 69 "plugin without on_command"
grep -qF "plugin synthetic takes no commands" ns.err || fail "no on_command said: $(cat ns.err)"
run_cmd us.out us.err "$RAMPARTCTL" --config "$CFG" plugin cmds
expect_rc 64 "plugin without a command"

# ---- at most 2 commands of one plugin at once: the third is told busy -----------
"$RAMPARTCTL" --config "$CFG" plugin cmds slow 600 >b1.out 2>b1.err &
B1=$!
"$RAMPARTCTL" --config "$CFG" plugin cmds slow 600 >b2.out 2>b2.err &
B2=$!
sleep 0.2
run_cmd b3.out b3.err "$RAMPARTCTL" --config "$CFG" plugin cmds echo
expect_rc 75 "third command at once"
grep -q "runs 2 commands already" b3.err || fail "busy said: $(cat b3.err)"
wait "$B1" || true
wait "$B2" || true

# ---- the log and the audit events ------------------------------------------------
grep -qE "info: control: plugin cmds command \"echo\" asked by uid $(id -u) \(pid [0-9]+\): answered \(1 replies\)$" agent.err ||
    fail "log line of echo: $(grep 'control: plugin' agent.err)"
grep -qE "warn: control: plugin cmds command \"slow\" asked by uid $(id -u) \(pid [0-9]+\): plugin cmds did not finish" agent.err ||
    fail "log line of the timeout: $(grep 'control: plugin' agent.err)"
audit_n() { [ "$(count_lines data/events.ndjson '"control-plugin-command"')" -ge 10 ]; }
wait_for 10 "the agent.control events" audit_n
"$PY" - data/events.ndjson "$(id -u)" <<'PY' || fail "audit events: $(grep control-plugin-command data/events.ndjson)"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"control-plugin-command"' in l]
by = {}
for e in ev:
    assert e["user.id"] == sys.argv[2] and e["rampart.control.uid"] == int(sys.argv[2]), e
    assert e["rampart.control.pid"] > 0 and e["rampart.control.pid"] != e["process.pid"], e
    by.setdefault((e["rampart.control.plugin"], e["rampart.control.command"]), []).append(e["event.outcome"])
assert by[("cmds", "echo")][0] == "success", by
assert "success" in by[("cmds", "progress")], by
assert by[("cmds", "slow")][0] == "failure", by
assert by[("cmds", "fail")] == ["failure"], by
assert by[("nosuch", "list")] == ["failure"], by
assert by[("synthetic", "list")] == ["failure"], by
assert "failure" in by[("cmds", "echo")], by  # the busy one
PY

# The figures: status (socket and status.json alike) counts the commands.
run_cmd st.out st.err "$RAMPARTCTL" --config "$CFG" status --json
python3 - st.out <<'PY' || fail "plugin_commands in status: $(cat st.out)"
import json, sys
c = json.load(open(sys.argv[1]))["plugin_commands"]
assert c["started"] >= 5 and c["failed"] >= 1 and c["replies"] >= 3, c
assert c["refused_busy"] >= 1 and c["timeouts"] >= 1, c
PY

# ---- a stop waits for a running command, which ends; none runs after ------------
kill -TERM "$APID"
wait "$APID" || fail "agent exit status"
: >agent.err
write_cfg 30000
start_agent
"$RAMPARTCTL" --config "$CFG" plugin cmds block >blk.out 2>blk.err &
BLK=$!
wait_for 5 "the blocking command" grep -q waiting blk.out
kill -TERM "$APID"
wait "$APID" || fail "agent exit status after a stop with a command running"
BRC=0
wait "$BLK" || BRC=$?
[ "$BRC" = 69 ] || fail "the blocked command's exit status: $BRC ($(cat blk.err))"
grep -q "RP_ERR_STOPPED" blk.err || fail "the blocked command said: $(cat blk.err)"
grep -qE "command \"block\" asked by uid [0-9]+ \(pid [0-9]+\): RP_ERR_STOPPED" agent.err ||
    fail "the blocked command's end: $(grep 'control: plugin' agent.err | tail -3)"
grep -q "commands still run" agent.err && fail "the stop did not wait for the command"

# ---- rampartctl plugins shows a plugin's gauges when it reports any ------------
# (The agent reports them once the gauges part of ABI 1.1 is in: a stand-in
# socket answers here.)
rm -f data/control.sock
"$PY" - <<'PY' &
import json, socket
s = socket.socket(socket.AF_UNIX)
s.bind("data/control.sock")
s.listen(1)
s.settimeout(10)
c, _ = s.accept()
c.makefile("rb").readline()
p = {"name": "cmds", "id": "org.x", "version": "1", "vendor": "V", "kind": "responder",
     "state": "running", "events_in": 0, "events_out": 0, "dropped": 0, "cpu_ms": 1,
     "counters": {"a": 1}, "gauges": {"users_tracked": 3, "ratio": 0.5}}
c.sendall((json.dumps({"ok": True, "plugins": [p]}) + "\n").encode())
c.close()
PY
FAKE=$!
wait_for 5 "the stand-in socket" test -S data/control.sock
run_cmd pg.out pg.err "$RAMPARTCTL" --config "$CFG" plugins
wait "$FAKE" || fail "stand-in socket"
expect_rc 0 "plugins with gauges: $(cat pg.err)"
head -n 1 pg.out | grep -qE ' +COUNTERS +GAUGES$' || fail "plugins header with gauges: $(cat pg.out)"
sed -n 2p pg.out | grep -qE ' +a=1 +users_tracked=3,ratio=0.5$' || fail "plugins gauges cell: $(cat pg.out)"
echo PASS
