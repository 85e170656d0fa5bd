#!/usr/bin/env bash
# The control socket (<data_dir>/control.sock) and rampartctl through it:
# status, plugins and reload answered by the running agent; a reload logged
# and published as an agent.control event with the caller's uid and pid; the
# pid-file signal as reload's fallback without the socket; an oversized
# request, slow and idle clients and more connections than the cap do not
# hold up the agent's loop (the synthetic collector's timer keeps publishing
# and the health tick keeps writing status.json); status falls back to
# status.json when the agent is down, and says so.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"

CFG=$T/rampart.json
mkdir -p plugins
cp "$(dirname "$RAMPARTD")/../plugins/collector_synthetic.so" plugins/
# health_interval_ms: long in the first part, so status.json stays as it was
# written at start-up and an answer with later figures can only come from
# the socket.
write_cfg() {
    cat >"$CFG" <<JSON
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info",
            "health_interval_ms": $1},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {"synthetic": {"enabled": true, "file": "collector_synthetic.so",
                            "config": {"count": 0, "rate": 200}}}
}
JSON
}
start_agent() {
    "$RAMPARTD" --foreground --config "$CFG" >>agent.out 2>>agent.err &
    APID=$!
    AGENT_PIDS+=("$APID")
    wait_for 10 "the control socket" test -S data/control.sock
}
published_in() { json_get "$1" 'd["plugins"]["synthetic"]["published"]'; }

# ---- 1. status, plugins, reload through the socket ---------------------------
write_cfg 600000
start_agent
[ "$(stat -c %a data/control.sock)" = 600 ] || fail "socket mode $(stat -c %a data/control.sock)"
[ "$(stat -c %u data/control.sock)" = "$(id -u)" ] || fail "socket owner"
wait_for 10 "status.json" test -s data/status.json
sleep 1
run_cmd js.out js.err "$RAMPARTCTL" --config "$CFG" status --json
expect_rc 0 "status --json through the socket: $(cat js.err)"
[ ! -s js.err ] || fail "status through the socket said: $(cat js.err)"
WPID=$(worker_pid "$APID") || fail "no worker under the supervisor $APID"
[ "$(json_get js.out 'd["pid"]')" = "$WPID" ] || fail "status --json pid"
[ "$(json_get js.out 'd["supervisor"]["pid"]')" = "$APID" ] || fail "status --json supervisor pid"
[ "$(json_get js.out 'd["supervisor"]["restarts"]')" = 0 ] || fail "status --json supervisor restarts"
sock_n=$(published_in js.out)
file_n=$(published_in data/status.json)
# The agent wrote status.json once, at start; the socket answers now.
[ "$sock_n" -gt $((file_n + 50)) ] ||
    fail "status did not come from the running agent: $sock_n published (socket) vs $file_n (status.json)"
run_cmd st.out st.err "$RAMPARTCTL" --config "$CFG" status
expect_rc 0 "status"
WPID=$(worker_pid "$APID") || fail "no worker under the supervisor $APID"
grep -q "^rampartd $VERSION, pid $WPID, up " st.out || fail "status header: $(head -1 st.out)"
grep -qxE "  state +ok" st.out || fail "status state line: $(cat st.out)"
# The plugins as an aligned table.
grep -qxE "  PLUGIN +STATE +PUBLISHED +DROPPED +CPU_MS +ERROR" st.out || fail "status plugin table head: $(cat st.out)"
grep -qxE "  synthetic +running +[0-9]+ +0 +[0-9]+ +-" st.out || fail "status plugin row: $(cat st.out)"
h=$(grep PLUGIN st.out); r=$(grep "^  synthetic " st.out)
pre=${h%%STATE*}
[ "$pre" != "$h" ] && [ "${r:${#pre}:7}" = running ] || fail "status table not aligned: $h / $r"

run_cmd pl.out pl.err "$RAMPARTCTL" --config "$CFG" plugins
expect_rc 0 "plugins: $(cat pl.err)"
head -n 1 pl.out | grep -qE '^NAME +ID +VERSION +VENDOR +KIND +STATE +IN +OUT +DROPPED +CPU_MS +COUNTERS$' ||
    fail "plugins header: $(head -n 1 pl.out)"
sed -n 2p pl.out | grep -qE '^synthetic +org\.rampart\.collector\.synthetic +[0-9.]+ +Rampart +collector +running +0 +[0-9]+ +0 +[0-9]+ +published=[0-9]+,' ||
    fail "plugins row: $(sed -n 2p pl.out)"
# Aligned: the column STATE starts at the same place in both lines.
h=$(head -n 1 pl.out); r=$(sed -n 2p pl.out)
pre=${h%%STATE*}
[ "$pre" != "$h" ] && [ "${r:${#pre}:7}" = running ] || fail "plugins table not aligned: $h / $r"
run_cmd pj.out pj.err "$RAMPARTCTL" --config "$CFG" plugins --json
expect_rc 0 "plugins --json"
"$PY" - pj.out <<'PY' || fail "plugins --json: $(cat pj.out)"
import json, sys
p = json.load(open(sys.argv[1]))
assert len(p) == 1, p
s = p[0]
for k, v in {"name": "synthetic", "id": "org.rampart.collector.synthetic", "vendor": "Rampart",
             "kind": "collector", "state": "running"}.items():
    assert s[k] == v, (k, s)
assert s["events_out"] > 0 and s["events_in"] == 0 and s["dropped"] == 0, s
assert s["counters"]["published"] > 0 and "cpu_ms" in s and s["version"], s
PY

# A reload: answered with its result, logged and published with the caller.
run_cmd rl.out rl.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 0 "reload through the socket: $(cat rl.err)"
grep -qxF "rampartctl: rampartd reloaded its configuration" rl.out || fail "reload said: $(cat rl.out)"
grep -qE "info: control: reload asked by uid $(id -u) \(pid [0-9]+\): configuration reloaded$" agent.err ||
    fail "reload log line: $(grep control agent.err)"
wait_for 10 "the agent.control event" file_has data/events.ndjson '"event.action":"control-reload"'
"$PY" - data/events.ndjson "$(id -u)" <<'PY' || fail "agent.control event: $(grep control-reload data/events.ndjson)"
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if '"control-reload"' in l][-1]
assert e["event.outcome"] == "success", e
assert e["user.id"] == sys.argv[2] and e["rampart.control.uid"] == int(sys.argv[2]), e
assert e["rampart.control.pid"] > 0 and e["rampart.control.pid"] != e["process.pid"], e
assert e["event.category"] == ["configuration"] and e["event.type"] == ["change"], e
PY
# A rejected reload: exit 78 with the reason, the agent keeps running.
cp "$CFG" good.json
printf '{"agent": {"data_dir": "data", "log_level": "loud"}}' >"$CFG"
run_cmd rj.out rj.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 78 "rampartctl reload with a config it cannot load"
cp good.json "$CFG"
# The config turns bad after rampartctl read it: the agent refuses it.
"$PY" - <<PY &
import socket, time
s = socket.socket(socket.AF_UNIX)
s.connect("data/control.sock")
open("$CFG", "w").write('{"agent": {"data_dir": "data", "log_level": "loud"}}')
s.sendall(b'{"cmd":"reload"}\n')
s.settimeout(10)
open("rejected.out", "wb").write(s.makefile("rb").readline())
PY
wait $! || fail "raw reload request"
cp good.json "$CFG"
"$PY" - rejected.out <<'PY' || fail "rejected reload reply: $(cat rejected.out)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] is False and "log_level" in r["error"], r
PY
wait_for 10 "the failed control-reload event" grep -q '"event.action":"control-reload","event.outcome":"failure"' data/events.ndjson
pid_alive "$APID" || fail "the agent died after a rejected reload"

# Without the socket (an older agent), reload signals through the pid file.
mv data/control.sock moved.sock
run_cmd sg.out sg.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 0 "reload by signal: $(cat sg.err)"
grep -qxF "rampartctl: asked rampartd (pid $APID) to reload; the result is in its log" sg.out ||
    fail "reload by signal said: $(cat sg.out)"
reloaded_twice() { [ "$(count_lines agent.err 'info: configuration reloaded')" -ge 2 ]; }
wait_for 10 "the signalled reload" reloaded_twice
mv moved.sock data/control.sock
kill -TERM "$APID"
wait "$APID" || fail "agent exit status"
[ ! -e data/control.sock ] || fail "the socket outlived the agent"

# ---- 2. hostile and slow clients do not hold the loop --------------------------
rm -f data/status.json
write_cfg 200
start_agent
cat >clients.py <<'PY'
import json, os, socket, sys, time
results = {}
# An oversized request: 70 000 bytes and no newline; answered and closed.
big = socket.socket(socket.AF_UNIX)
big.connect("data/control.sock")
big.settimeout(5)
# The whole request fits the socket's buffer, and what the agent wrote
# before it closed is read before the reset its close causes.
big.sendall(b"{" + b" " * 70000)
results["oversized"] = big.makefile("rb").readline().decode()
big.close()
# Idle and slow clients up to the cap of 8: one sends nothing, the others one
# byte every 0.3 s; a ninth is told "busy" at once.
held = []
for i in range(8):
    s = socket.socket(socket.AF_UNIX)
    s.connect("data/control.sock")
    held.append(s)
time.sleep(0.3)
extra = socket.socket(socket.AF_UNIX)
extra.connect("data/control.sock")
extra.settimeout(5)
results["ninth"] = extra.makefile("rb").readline().decode()
t0 = time.time()
while time.time() - t0 < 3:
    for s in held[1:]:
        try:
            s.send(b" ")
        except OSError:
            pass
    time.sleep(0.3)
# The deadline (5 s) closes them all: each reads end-of-file.
closed = 0
for s in held:
    s.settimeout(8)
    try:
        if s.recv(100) == b"":
            closed += 1
    except OSError:
        closed += 1
results["closed_by_deadline"] = closed
results["held_for"] = time.time() - t0
json.dump(results, open("clients.json", "w"))
PY
"$PY" clients.py &
CPID=$!
sleep 1
# While the clients hold every slot: the loop still runs timers.
cp data/status.json before.json
sleep 1.5
cp data/status.json during.json
[ "$(published_in during.json)" -gt $(($(published_in before.json) + 100)) ] ||
    fail "the synthetic collector stopped publishing while clients held the socket: $(published_in before.json) then $(published_in during.json)"
[ "$(json_get during.json 'd["time"]')" != "$(json_get before.json 'd["time"]')" ] ||
    fail "the health tick stopped while clients held the socket"
run_cmd busy.out busy.err "$RAMPARTCTL" --config "$CFG" status
grep -qF "busy: too many control connections" busy.err || fail "ninth connection through rampartctl: $(cat busy.err)"
wait "$CPID" || fail "clients.py"
"$PY" - clients.json <<'PY' || fail "clients: $(cat clients.json)"
import json, sys
r = json.load(open(sys.argv[1]))
assert '"request longer than the cap of 65536 bytes"' in r["oversized"], r
assert '"busy: too many control connections"' in r["ninth"], r
assert r["closed_by_deadline"] == 8, r
PY
# Slots are free again and the agent answers at once.
run_cmd st2.out st2.err "$RAMPARTCTL" --config "$CFG" status
expect_rc 0 "status after the clients: $(cat st2.err)"
many_health() { [ "$(count_lines data/events.ndjson '"agent-health"')" -ge 20 ]; }
wait_for 10 "agent.health events" many_health

# ---- 3. the agent down ------------------------------------------------------------
WPID=$(worker_pid "$APID") || fail "no worker under the supervisor $APID"
kill -TERM "$APID"
wait "$APID" || fail "agent exit status"
run_cmd dn.out dn.err "$RAMPARTCTL" --config "$CFG" status
expect_rc 69 "status with the agent down"
grep -qxE "rampartctl: rampartd is not running \(no control socket answers at $T/data/control.sock\); showing what it last wrote to $T/data/status.json \(as of .*\)" dn.err ||
    fail "status fallback note: $(cat dn.err)"
grep -q "^rampartd $VERSION, pid $WPID, up " dn.out || fail "status fallback body: $(cat dn.out)"
run_cmd dj.out dj.err "$RAMPARTCTL" --config "$CFG" status --json
expect_rc 69 "status --json with the agent down"
[ "$(json_get dj.out 'd["pid"]')" = "$WPID" ] || fail "status --json fallback"
run_cmd dp.out dp.err "$RAMPARTCTL" --config "$CFG" plugins
expect_rc 69 "plugins with the agent down"
[ "$(wc -l <dp.err)" -eq 1 ] && grep -qxF "rampartctl: rampartd is not running (no control socket answers at $T/data/control.sock)" dp.err ||
    fail "plugins with the agent down: $(cat dp.err)"
# A socket left behind by an agent that died: no one listens.
"$PY" -c 'import socket; s = socket.socket(socket.AF_UNIX); s.bind("data/control.sock")'
run_cmd ds.out ds.err "$RAMPARTCTL" --config "$CFG" plugins
expect_rc 69 "plugins with a dead socket"
rm -f data/status.json data/control.sock
run_cmd nn.out nn.err "$RAMPARTCTL" --config "$CFG" status
expect_rc 69 "status with the agent down and no status.json"
grep -q "no status yet" nn.err || fail "no status: $(cat nn.err)"
echo PASS
