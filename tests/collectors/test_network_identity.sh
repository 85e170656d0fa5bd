#!/usr/bin/env bash
# collector_network: who holds a socket, told honestly. The real agent with
# the network collector (sock_diag, 100 ms polls) in a network namespace of
# the test's own, and unprivileged users the test creates and removes:
#  1. a process that renames itself "sshd" (prctl PR_SET_NAME) listens and
#     connects: its events name the program it runs (process.name and
#     process.executable from /proc/<pid>/exe), keep the comm in
#     process.thread.name, and carry event.dataset and the
#     process.entity_id collector_process would give it (issue 10, items
#     15a, 5c);
#  2. 20 connections opened and closed between two polls: each close either
#     names its process or says, in rampart.incomplete, that it cannot
#     (item 5d);
#  3. collectors.exclude: connections of an excluded program, of a program
#     run from an excluded folder and of an excluded user give no events;
#     each rule kind is counted; another user's connection is reported
#     (item 5e).
# Run as: bash test_network_identity.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
if [ -z "${RP_TEST_NETNS:-}" ] && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
    RP_TEST_NETNS=1 exec unshare -n bash "$0" "$@"
fi
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
[ -n "${RP_TEST_NETNS:-}" ] || { echo "skipped: needs a network namespace of its own (root, unshare, ip)"; exit 77; }
ip link set lo up || fail "cannot bring up lo in the test's network namespace"
PLUGIN_DIR=$(cd "${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}" && pwd -P)
cd "$T"

U1=rpna$$
U2=rpnb$$
useradd -M -N -d /nonexistent -s /usr/sbin/nologin "$U1" || fail "useradd $U1"
useradd -M -N -d /nonexistent -s /usr/sbin/nologin "$U2" || { userdel "$U1"; fail "useradd $U2"; }
remove_users() { userdel "$U1" 2>/dev/null || true; userdel "$U2" 2>/dev/null || true; }
trap 'remove_users; cleanup' EXIT
as_user() { # as_user USER CMD... (bounded in time)
    local u=$1
    shift
    timeout -k 2 20 setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups "$@"
}
chmod 755 "$T"
mkdir -m 1777 "$T/w"
mkdir -m 755 "$T/xdir"
cp /bin/bash "$T/xbash"
cp /bin/bash "$T/xdir/bash2"
chmod 755 "$T/xbash" "$T/xdir/bash2"
EVENTS=$T/data/events.ndjson
export EVENTS T

cat >"$T/agent.json" <<EOF
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info",
            "health_interval_ms": 300},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 50},
  "collectors": {"exclude": {"executables": ["$T/xbash"], "path_prefixes": ["$T/xdir"],
                             "users": ["$U2"]}},
  "plugins": {
    "net": {"enabled": true, "file": "collector_network.so",
            "config": {"poll_interval_ms": 100}}
  }
}
EOF
"$RAMPARTD" --foreground --config "$T/agent.json" >"$T/agent.out" 2>"$T/agent.err" &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "plugin net running" file_has "$T/agent.err" "plugin net: running"

# A listener the test holds (root) for the connections below.
cat >"$T/listen.py" <<'PY'
import os, socket, sys, time
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(64)
l.settimeout(0.2)
open(sys.argv[1] + ".tmp", "w").write(str(l.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
end = time.time() + 40
conns = []
while time.time() < end and not os.path.exists(sys.argv[1] + ".stop"):
    try:
        c, _ = l.accept()
        conns.append(c)
        if len(conns) > 32:
            conns.pop(0).close()
    except socket.timeout:
        pass
PY
"$PY" "$T/listen.py" "$T/port" &
LPID=$!
wait_for 10 "the listener" test -s "$T/port"
PORT=$(cat "$T/port")
export PORT

# ---- 1. a process that calls itself sshd -------------------------------------------
cat >"$T/w/spoof.py" <<'PY'
import ctypes, hashlib, json, os, socket, sys, time
ctypes.CDLL(None).prctl(15, b"sshd", 0, 0, 0)  # PR_SET_NAME
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
c = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=5)
mid = open("/etc/machine-id").read().strip()
start = open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]
ent = hashlib.sha256(("%s:%d:%s" % (mid, os.getpid(), start)).encode()).hexdigest()[:32]
info = {"pid": os.getpid(), "lport": l.getsockname()[1], "cport": c.getsockname()[1],
        "entity": ent, "exe": os.readlink("/proc/self/exe")}
open(sys.argv[1] + ".tmp", "w").write(json.dumps(info))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(1.5)
PY
as_user "$U1" /usr/bin/python3 "$T/w/spoof.py" "$T/w/spoof.json" "$PORT" || fail "spoof.py"

# ---- 2. short connections --------------------------------------------------------------
as_user "$U1" /usr/bin/python3 - "$PORT" <<'PY' || fail "short connections"
import socket, sys
for _ in range(20):
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5).close()
PY

# ---- 3. exclusions ---------------------------------------------------------------------
# bash holds the connection itself (no child inherits it) for 1 s.
HOLD="exec 3<>/dev/tcp/127.0.0.1/$PORT; read -t 1 -u 3; exit 0"
as_user "$U1" "$T/xbash" -c "$HOLD" || fail "xbash"
as_user "$U1" "$T/xdir/bash2" -c "$HOLD" || fail "bash2"
as_user "$U2" /bin/bash -c "$HOLD" || fail "u2 bash"
as_user "$U1" /bin/bash -c "$HOLD" || fail "u1 bash"
UID1=$(id -u "$U1")
UID2=$(id -u "$U2")
export UID1 UID2

cat >"$T/check.py" <<'PY'
import json, os, sys
env = os.environ
port = int(env["PORT"])
info = json.load(open(os.path.join(env["T"], "w", "spoof.json")))
evs = [json.loads(l) for l in open(env["EVENTS"])]
nev = [e for e in evs if e.get("event.category") == ["network"]]
# 1.
mine = [e for e in nev if e.get("process.pid") == info["pid"] and e["event.action"] in ("listen", "connect")]
acts = sorted(e["event.action"] for e in mine)
assert acts == ["connect", "listen"], "the spoofer's events: %s" % acts
base = os.path.basename(info["exe"])
for e in mine:
    assert e.get("process.name") == base, "process.name %r, expected %r (the executable), comm sshd: %s" % (
        e.get("process.name"), base, e)
    assert e.get("process.executable") == info["exe"], e
    assert e.get("process.thread.name") == "sshd", e
    assert e.get("event.dataset") == "rampart.network", e
    assert e.get("process.entity_id") == info["entity"], "entity %r, expected %r" % (
        e.get("process.entity_id"), info["entity"])
    assert e.get("user.id") == env["UID1"], e
# 2.
closes = [e for e in nev if e["event.action"] == "close" and e.get("destination.port") == port
          and e.get("network.direction") == "egress"]
assert len(closes) >= 20, "only %d closes of connections to the listener" % len(closes)
for e in closes:
    assert "process.pid" in e or "process.pid" in e.get("rampart.incomplete", []), \
        "a close without a process that does not say so: %s" % e
# 3.
starts = [e for e in nev if e["event.action"] == "connect" and e.get("destination.port") == port]
exes = [e.get("process.executable") for e in starts]
for x in (env["T"] + "/xbash", env["T"] + "/xdir/bash2"):
    assert x not in exes, "an excluded program's connection was published: " + x
assert env["UID2"] not in [e.get("user.id") for e in starts], "an excluded user's connection"
assert any(e.get("user.id") == env["UID1"] and (e.get("process.executable") or "").endswith("bash")
           for e in starts), "the control connection (user 1, /bin/bash) is missing"
print("ok")
PY
deadline=$((SECONDS + 15))
until "$PY" "$T/check.py" >"$T/check.out" 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "network identity: $(cat "$T/check.out")"
    sleep 0.3
done
touch "$T/port.stop"
wait "$LPID" || true

cat >"$T/counters.py" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["plugins"]["net"]["counters"]
for k in ("excluded_executable", "excluded_path", "excluded_user"):
    if c.get(k, 0) < 1:
        sys.exit("counter %s is %r" % (k, c.get(k)))
print(" ".join("%s %d" % (k, c[k]) for k in ("excluded_executable", "excluded_path", "excluded_user")))
PY
wait_for 10 "the exclusion counters in status.json" "$PY" "$T/counters.py" "$T/data/status.json"
"$PY" "$T/counters.py" "$T/data/status.json"
kill -TERM "$APID"
wait_for 15 "the agent to exit" pid_gone "$APID"
echo "ok"
