#!/usr/bin/env bash
# collector_network against the real kernel: the agent runs with only that
# plugin (poll every 100 ms); a python3 server listens on 127.0.0.1, accepts
# one connection from a python3 client, the two exchange 1000 and 300 bytes,
# hold the connection ~1.5 s and close it. The events must show the listener
# (server pid, port), the connect (client pid, ports), the accept (server pid,
# ports), the closes of both ends with byte counts, and the listener's close;
# then the same over IPv6 (::1). Counters are checked in status.json.
#
# The test runs in a network namespace of its own (root, unshare and ip): the
# machine's other connections then stay out of the events, and the plugin's
# change gate (skip_unchanged) really skips, so the test also shows that a
# quiet machine costs no dumps and that the gate still lets every new socket
# through. Without one it exits 77 (skipped), or 1 when RP_REQUIRE_ALL=1.
if [ -z "${RP_TEST_NETNS:-}" ]; then
    if command -v ip >/dev/null && unshare -n true 2>/dev/null; then
        RP_TEST_NETNS=1 exec unshare -n bash "$0" "$@"
    fi
    if [ "${RP_REQUIRE_ALL:-}" = 1 ]; then
        echo "FAIL: no network namespace of its own (needs root, unshare and ip)," \
            "and RP_REQUIRE_ALL=1 makes that a failure" >&2
        exit 1
    fi
    echo "skipped: no network namespace of its own (needs root, unshare and ip)" >&2
    exit 77
fi
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
if [ -n "${RP_TEST_NETNS:-}" ]; then
    ip link set lo up || fail "cannot bring up lo in the test's network namespace"
else
    echo "note: running in the machine's own network namespace" >&2
fi
PLUGIN_DIR=$(cd "${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}" && pwd -P)
cd "$T"

[ -f "$PLUGIN_DIR/collector_network.so" ] || fail "no $PLUGIN_DIR/collector_network.so"

CFG=$T/rampart.json
EVENTS=$T/data/events.ndjson
cat >"$CFG" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info",
            "health_interval_ms": 300},
  "output": {"file": "events.ndjson", "stdout": false},
  "plugins": {
    "net": {"enabled": true, "file": "collector_network.so",
            "config": {"poll_interval_ms": 100}}
  }
}
EOF

# The peers. The server writes its port once it listens, accepts one
# connection (0.5 s after the client connected, so the kernel lists it
# without an inode for a few polls first), reads 1000 bytes, answers 300,
# holds the connection until the client closes (at most 10 s), then closes
# its end and the listener. The
# client writes its own port, sends 1000 bytes, reads 300, holds 1.5 s so
# that several polls see the connection, and closes. Every socket call has a
# timeout, so neither can hang the test.
cat >server.py <<'PY'
import os, socket, sys, time
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
host = "::1" if sys.argv[1] == "6" else "127.0.0.1"
out = sys.argv[2]
l = socket.socket(fam, socket.SOCK_STREAM)
l.settimeout(10)
l.bind((host, 0))
l.listen(1)
with open(out + ".tmp", "w") as f:
    f.write("%d %d\n" % (l.getsockname()[1], os.getpid()))
os.rename(out + ".tmp", out)
# The connection waits in the queue for a few polls before it is accepted:
# until then the kernel lists it without an inode.
deadline = time.time() + 10
while not os.path.exists(out + ".client"):
    if time.time() > deadline:
        sys.exit("the client never connected")
    time.sleep(0.02)
time.sleep(0.5)
c, _ = l.accept()
c.settimeout(10)
got = b""
while len(got) < 1000:
    chunk = c.recv(1000 - len(got))
    if not chunk:
        sys.exit("short read")
    got += chunk
c.sendall(b"s" * 300)
while c.recv(100):
    pass
c.close()
l.close()
PY
cat >client.py <<'PY'
import os, socket, sys, time
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
host = "::1" if sys.argv[1] == "6" else "127.0.0.1"
port, out = int(sys.argv[2]), sys.argv[3]
c = socket.socket(fam, socket.SOCK_STREAM)
c.settimeout(10)
c.connect((host, port))
with open(out + ".tmp", "w") as f:
    f.write("%d %d\n" % (c.getsockname()[1], os.getpid()))
os.rename(out + ".tmp", out)
open(sys.argv[4], "w").close()  # tells the server it may accept
c.sendall(b"c" * 1000)
got = b""
while len(got) < 300:
    chunk = c.recv(300 - len(got))
    if not chunk:
        sys.exit("short read")
    got += chunk
time.sleep(1.5)
c.close()
PY

"$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
# agent_said TEXT : the agent's log has TEXT; fails at once if it exited.
agent_said() {
    pid_alive "$APID" || fail "the agent exited"
    file_has agent.err "$1"
}
wait_for 10 "the plugin running" agent_said "plugin net: running"
# Sockets created before the first poll would be reported as existing ones
# (event.type info); wait for it so the test's sockets are new.
wait_for 10 "the plugin's first poll" agent_said "plugin net: first poll:"

# run_pair FAMILY : runs one server and one client, each under timeout(1);
# sets SPID, CPID (the python processes' own pids, which they write next to
# their ports), SPORT, CPORT. Both must exit 0.
run_pair() {
    local fam=$1 s c rc
    rm -f "port$fam" "cport$fam" "port$fam.client"
    timeout -k 2 25 "$PY" server.py "$fam" "port$fam" >"server$fam.out" 2>"server$fam.err" &
    s=$!
    wait_for 10 "the IPv$fam server's port" test -s "port$fam"
    read -r SPORT SPID <"port$fam"
    timeout -k 2 20 "$PY" client.py "$fam" "$SPORT" "cport$fam" "port$fam.client" \
        >"client$fam.out" 2>"client$fam.err" &
    c=$!
    wait_for 10 "the IPv$fam client's port" test -s "cport$fam"
    read -r CPORT CPID <"cport$fam"
    rc=0
    wait "$c" || rc=$?
    [ "$rc" -eq 0 ] || fail "IPv$fam client exited $rc: $(cat "client$fam.err")"
    wait "$s" || rc=$?
    [ "$rc" -eq 0 ] || fail "IPv$fam server exited $rc: $(cat "server$fam.err")"
}

# The checks, in python: exits 0 when every expected event is there, else
# prints what is missing or wrong. Other processes of this machine make
# connections too, so events are picked by the test's ports.
cat >check.py <<'PY'
import json, sys
events_file, fam, spid, cpid, sport, cport = sys.argv[1:7]
spid, cpid, sport, cport = int(spid), int(cpid), int(sport), int(cport)
lo = "::1" if fam == "6" else "127.0.0.1"
ntype = "ipv6" if fam == "6" else "ipv4"
evs = []
with open(events_file) as f:
    for line in f:
        try:
            ev = json.loads(line)
        except ValueError:
            sys.exit("not JSON: " + line[:200])
        if str(ev.get("event.action", "")) in ("connect", "accept", "listen", "close"):
            evs.append(ev)

def pick(action, **want):
    out = []
    for ev in evs:
        if ev.get("event.action") != action:
            continue
        if all(ev.get(k.replace("__", ".")) == v for k, v in want.items()):
            out.append(ev)
    return out

def one(what, action, **want):
    found = pick(action, **want)
    if len(found) != 1:
        print("%s: expected 1 event, found %d; the events of port %d:" % (what, len(found), sport))
        for ev in evs:
            if sport in (ev.get("source.port"), ev.get("destination.port")):
                print("  ", json.dumps(ev))
        sys.exit(1)
    return found[0]

def expect(what, ev, **want):
    for k, v in want.items():
        key = k.replace("__", ".")
        if ev.get(key) != v:
            sys.exit("%s: %s is %r, expected %r: %s" % (what, key, ev.get(key), v, json.dumps(ev)))

def bytes_near(what, ev, key, n):
    v = ev.get(key)
    # tcp_info counts sequence space: a SYN or FIN may add one.
    if not isinstance(v, int) or not n <= v <= n + 2:
        sys.exit("%s: %s is %r, expected %d..%d: %s" % (what, key, v, n, n + 2, json.dumps(ev)))

common = dict(network__transport="tcp", network__type=ntype, event__category=["network"],
              event__kind="event", event__dataset="rampart.network")
# process.name is the executable's file name (python3 is a link to it);
# process.thread.name is the comm the process goes by.
import os
pyname = os.path.basename(os.path.realpath("/usr/bin/python3"))
lis = one("listen", "listen", destination__port=sport, source__port=None)
expect("listen", lis, process__pid=spid, process__name=pyname, process__thread__name="python3", destination__ip=lo,
       network__direction="ingress", event__type=["start"], **common)
if not str(lis.get("process.executable", "")).split("/")[-1].startswith("python3"):
    sys.exit("listen: process.executable %r" % lis.get("process.executable"))

con = one("connect", "connect", source__port=cport, destination__port=sport)
expect("connect", con, process__pid=cpid, process__name=pyname, process__thread__name="python3", source__ip=lo,
       destination__ip=lo, network__direction="egress", event__type=["connection", "start"],
       **common)

acc = one("accept", "accept", source__port=cport, destination__port=sport)
expect("accept", acc, process__pid=spid, process__name=pyname, process__thread__name="python3", source__ip=lo,
       destination__ip=lo, network__direction="ingress", event__type=["connection", "start"],
       **common)

# The client's end: it sent 1000 bytes (source) and got 300 (destination).
cc = one("client close", "close", source__port=cport, destination__port=sport,
         network__direction="egress")
expect("client close", cc, process__pid=cpid, process__name=pyname, process__thread__name="python3",
       event__type=["connection", "end"], **common)
bytes_near("client close", cc, "source.bytes", 1000)
bytes_near("client close", cc, "destination.bytes", 300)

# The server's end: the client (source) sent 1000, the server 300.
sc = one("server close", "close", source__port=cport, destination__port=sport,
         network__direction="ingress")
expect("server close", sc, process__pid=spid, event__type=["connection", "end"], **common)
bytes_near("server close", sc, "source.bytes", 1000)
bytes_near("server close", sc, "destination.bytes", 300)

lc = one("listener close", "close", destination__port=sport, source__port=None)
expect("listener close", lc, process__pid=spid, event__type=["end"], **common)

# Each start event comes before its close.
order = [e["event.id"] for e in evs]
for start, end in ((con, cc), (acc, sc), (lis, lc)):
    if order.index(start["event.id"]) > order.index(end["event.id"]):
        sys.exit("close before start: %s / %s" % (json.dumps(start), json.dumps(end)))
PY

check() {
    "$PY" check.py "$EVENTS" "$@" >check.out 2>&1
}

# wait_check SECONDS ARGS... : runs check until it passes; on a timeout fails
# with what the last check said.
wait_check() {
    local deadline=$((SECONDS + $1))
    shift
    until check "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "IPv$1 events: $(cat check.out)"
        sleep 0.2
    done
}

run_pair 4
wait_check 10 4 "$SPID" "$CPID" "$SPORT" "$CPORT"
V4="$SPID $CPID $SPORT $CPORT"

run_pair 6
wait_check 10 6 "$SPID" "$CPID" "$SPORT" "$CPORT"

# The counters reach status.json (rewritten every 300 ms).
cat >counters.py <<'PY'
import json, os, sys
c = json.load(open(sys.argv[1]))["plugins"]["net"]["counters"]
need = {"dumps": 10, "sockets_seen": 6, "connect_published": 2, "accept_published": 2,
        "listen_published": 2, "close_published": 6, "destroy_messages": 6}
if os.environ.get("RP_TEST_NETNS"):
    # Quiet namespace: most polls find nothing changed; nothing is unknown.
    need["dumps_skipped"] = 5
    for k in ("pid_unresolved", "close_unmatched", "close_expired"):
        if c.get(k) != 0:
            sys.exit("%s = %s, expected 0: %s" % (k, c.get(k), json.dumps(c)))
for k, v in need.items():
    if c.get(k, 0) < v:
        sys.exit("%s = %s, expected at least %d: %s" % (k, c.get(k), v, json.dumps(c)))
for k in ("kernel_drops", "table_evictions", "pid_unresolved", "close_unmatched",
          "parse_errors", "publish_failed", "dump_errors", "close_expired"):
    if k not in c:
        sys.exit("counter %s missing: %s" % (k, json.dumps(c)))
PY
wait_for 10 "the counters in status.json" "$PY" counters.py data/status.json
"$PY" counters.py data/status.json || fail "counters"

kill -TERM "$APID"
wait_for 10 "the agent to exit" pid_gone "$APID"
RC=0
wait "$APID" || RC=$?
expect_rc 0 "agent exit status"
# The IPv4 events are still right after the IPv6 run (no duplicates).
# shellcheck disable=SC2086 # four numbers
check 4 $V4 || fail "IPv4 events after the IPv6 run: $(cat check.out)"
echo "ok"
