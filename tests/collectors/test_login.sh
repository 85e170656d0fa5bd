#!/usr/bin/env bash
# collector_login against the real agent. The files live in the test's own
# folder (this machine's wtmp is empty and it has no utmp); the records are
# written by glibc itself (updwtmpx, pututxline through python3 ctypes), as
# login, sshd and systemd write them. Checks: a login written to both utmp and
# wtmp is one event with the user, tty, pid, IPv4 source and record time; its
# logout carries the user from the session; a session open before the agent
# started is learned from utmp, not replayed, and its logout names the user;
# old wtmp history is not replayed; a btmp that does not exist at start is
# picked up when created (failed login, IPv6 source); a garbage record is
# counted and logged and the records after it still arrive; a partial record
# waits for its end; a truncated file is read again from its start; a rotated
# wtmp is followed; replay_existing publishes the history, in order, also
# when it takes more than one wakeup; the counters in status.json add up.
#   bash test_login.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
[ -f "$PLUGIN_DIR/collector_login.so" ] || fail "no $PLUGIN_DIR/collector_login.so"
cd "$T"
mkdir -p run log

# ut.py ACTION FILE [key=value...]: writes one struct utmpx with glibc.
#   wtmp FILE ...   updwtmpx(FILE, rec)        (appends; FILE must exist)
#   utmp FILE ...   utmpxname(FILE); pututxline(rec)  (rewrites the slot)
#   raw FILE N ...  appends the first N bytes of the record (N<0: the rest)
# keys: type (7 user, 8 dead, 6 login), user, line, id, host, ip, pid, sec.
cat >ut.py <<'PY'
import ctypes, socket, sys, time
class Tv(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_int32), ("tv_usec", ctypes.c_int32)]
class Utmpx(ctypes.Structure):
    _fields_ = [("ut_type", ctypes.c_short), ("ut_pid", ctypes.c_int),
                ("ut_line", ctypes.c_char * 32), ("ut_id", ctypes.c_char * 4),
                ("ut_user", ctypes.c_char * 32), ("ut_host", ctypes.c_char * 256),
                ("ut_exit", ctypes.c_short * 2), ("ut_session", ctypes.c_int32),
                ("ut_tv", Tv), ("ut_addr_v6", ctypes.c_uint8 * 16),
                ("reserved", ctypes.c_char * 20)]
assert ctypes.sizeof(Utmpx) == 384
libc = ctypes.CDLL("libc.so.6", use_errno=True)
action, path = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
n = int(args.pop(0)) if action == "raw" else 0
kv = dict(a.split("=", 1) for a in args)
r = Utmpx()
r.ut_type = int(kv.get("type", "7"))
r.ut_pid = int(kv.get("pid", "0"))
r.ut_line = kv.get("line", "").encode()
r.ut_id = kv.get("id", "").encode()
r.ut_user = kv.get("user", "").encode()
r.ut_host = kv.get("host", "").encode()
r.ut_tv.tv_sec = int(kv.get("sec", str(int(time.time()))))
r.ut_tv.tv_usec = int(kv.get("usec", "250000"))
ip = kv.get("ip")
if ip:
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    packed = socket.inet_pton(fam, ip)
    ctypes.memmove(r.ut_addr_v6, packed, len(packed))
if action == "wtmp":
    libc.updwtmpx(path.encode(), ctypes.byref(r))
elif action == "utmp":
    assert libc.utmpxname(path.encode()) == 0
    libc.setutxent()
    libc.pututxline.restype = ctypes.c_void_p
    ok = libc.pututxline(ctypes.byref(r))
    libc.endutxent()
    assert ok, "pututxline failed: errno %d" % ctypes.get_errno()
elif action == "raw":
    data = bytes(r)
    with open(path, "ab") as f:
        f.write(data[:n] if n >= 0 else data[n:])
else:
    sys.exit("unknown action " + action)
PY
ut() { "$PY" ut.py "$@" || fail "ut.py $*"; }

UTMP=$T/run/utmp
WTMP=$T/log/wtmp
BTMP=$T/log/btmp
NOW=$(date +%s)
# Before the agent starts: alice's session is open (utmp and wtmp), and the
# wtmp history holds an old login and logout that must not be replayed.
: >"$UTMP"
: >"$WTMP"
ut wtmp "$WTMP" type=7 user=olduser line=pts/4 id=ts/4 host=198.51.100.4 ip=198.51.100.4 pid=111 sec=$((NOW - 7200))
ut wtmp "$WTMP" type=8 line=pts/4 id=ts/4 pid=111 sec=$((NOW - 3600))
ut utmp "$UTMP" type=7 user=alice line=pts/3 id=ts/3 host=10.9.9.9 ip=10.9.9.9 pid=222 sec=$((NOW - 600))
ut wtmp "$WTMP" type=7 user=alice line=pts/3 id=ts/3 host=10.9.9.9 ip=10.9.9.9 pid=222 sec=$((NOW - 600))
[ "$(stat -c %s "$WTMP")" -eq $((3 * 384)) ] || fail "wtmp set-up: $(stat -c %s "$WTMP") bytes"

cat >rampart.json <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info",
            "health_interval_ms": 300},
  "output": {"file": "events.ndjson", "stdout": false},
  "plugins": {
    "login": {"enabled": true, "file": "collector_login.so",
              "config": {"utmp": "$UTMP", "wtmp": "$WTMP", "btmp": "$BTMP"}}
  }
}
EOF
EVENTS=$T/data/events.ndjson
"$RAMPARTD" --foreground --config rampart.json >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "the plugin running" file_has agent.err "plugin login: running"
file_has agent.err "plugin login: following 3 of 3 files (utmp $UTMP, wtmp $WTMP, btmp $BTMP)" ||
    fail "start line: $(grep 'plugin login' agent.err)"
file_has agent.err "plugin login: btmp $BTMP: not present; watching $T/log for it" ||
    fail "no 'not present' line for btmp"

# n_events ACTION: how many events with that event.action were written.
n_events() { count_lines "$EVENTS" "\"event.action\":\"$1\""; }
has_events() { [ "$(n_events "$1")" -ge "$2" ]; }

# 1. bob logs in: written to utmp and wtmp like login(1) does; one event.
BOB_SEC=$((NOW - 5))
ut utmp "$UTMP" type=7 user=bob line=pts/7 id=ts/7 host=203.0.113.5 ip=203.0.113.5 pid=4321 sec=$BOB_SEC
ut wtmp "$WTMP" type=7 user=bob line=pts/7 id=ts/7 host=203.0.113.5 ip=203.0.113.5 pid=4321 sec=$BOB_SEC
wait_for 10 "bob's login" has_events logged-in 1

# 2. bob logs out (DEAD_PROCESS without a user, in both files).
ut utmp "$UTMP" type=8 line=pts/7 id=ts/7 pid=4321 sec=$((BOB_SEC + 3))
ut wtmp "$WTMP" type=8 line=pts/7 id=ts/7 pid=4321 sec=$((BOB_SEC + 3))
wait_for 10 "bob's logout" has_events logged-out 1

# 3. alice (open before the agent started) logs out, in wtmp only.
ut wtmp "$WTMP" type=8 line=pts/3 id=ts/3 pid=222 sec="$NOW"
wait_for 10 "alice's logout" has_events logged-out 2

# 4. btmp appears now, then sshd-style failed login from an IPv6 address.
: >"$BTMP"
ut wtmp "$BTMP" type=6 user=root line=ssh:notty host=2001:db8::7 ip=2001:db8::7 pid=999
wait_for 10 "the failed login" has_events login-failed 1

# 5. garbage in wtmp: counted and logged, the agent lives, carol still comes.
head -c 384 /dev/urandom | "$PY" -c '
import sys
d = bytearray(sys.stdin.buffer.read())
d[0:2] = (0x7777).to_bytes(2, "little")  # ut_type far out of range
sys.stdout.buffer.write(bytes(d))' >>"$WTMP"
wait_for 10 "the bad record warning" file_has agent.err "plugin login: wtmp $WTMP: bad record at offset $((6 * 384)) skipped (record type out of range)"
pid_alive "$APID" || fail "the agent died on a garbage record"
ut wtmp "$WTMP" type=7 user=carol line=tty2 id=tty2 pid=5555
wait_for 10 "carol's login after the garbage" has_events logged-in 2

# 6. a record written in two parts: nothing until it is whole.
ut raw "$WTMP" 200 type=7 user=erin line=pts/9 id=ts/9 host=erin-laptop pid=6666
sleep 1.5
[ "$(n_events logged-in)" -eq 2 ] || fail "a partial record was published"
ut raw "$WTMP" -184 type=7 user=erin line=pts/9 id=ts/9 host=erin-laptop pid=6666
wait_for 10 "erin's login once whole" has_events logged-in 3

# 6b. btmp: five bad records and a torn one in one write, then the file is
# truncated (size below the offset: read again from 0) and a real failed
# login follows.
"$PY" -c '
import sys
d = bytearray()
for i in range(5):
    r = bytearray(384)
    r[0:2] = (0x1234 + i).to_bytes(2, "little")
    d += r
sys.stdout.buffer.write(bytes(d + bytes(range(100))))' >>"$BTMP"
wait_for 10 "the bad btmp record warning" file_has agent.err "plugin login: btmp $BTMP: bad record at offset 384 skipped (record type out of range)"
: >"$BTMP"
ut wtmp "$BTMP" type=6 user=admin line=ssh:notty host=198.51.100.23 ip=198.51.100.23 pid=1001
wait_for 10 "the failed login after truncation" has_events login-failed 2
grep -qE "plugin login: btmp $BTMP: truncated \((0|384) bytes, was at 2304\): reading from the start$" agent.err ||
    fail "no truncation line: $(grep 'plugin login: btmp' agent.err)"
pid_alive "$APID" || fail "the agent died on a garbage btmp"

# 7. logrotate: wtmp renamed, a new one created; dave lands in the new one.
mv "$WTMP" "$WTMP.1"
: >"$WTMP"
ut wtmp "$WTMP" type=7 user=dave line=pts/1 id=ts/1 host=192.0.2.44 ip=192.0.2.44 pid=7777
wait_for 10 "dave's login after rotation" has_events logged-in 4
sleep 1.2 # one more flush: anything extra would show up now

# The plugin's counters, as rampartctl status shows them (status.json).
counters_are() {
    "$PY" - "$T/data/status.json" "$1" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["plugins"]["login"]["counters"]
want = dict(kv.split("=") for kv in sys.argv[2].split())
sys.exit(0 if all(c.get(k) == int(v) for k, v in want.items()) else 1)
PY
}
want="records_read=16 logins=4 logouts=2 failures=2 bad_records=6 publish_failed=0 duplicates=2 rotations=1 logouts_unmatched=0 records_ignored=0 inotify_overflows=0"
for _ in $(seq 200); do # 10 s at most; status.json is rewritten every 300 ms
    counters_are "$want" 2>/dev/null && break
    sleep 0.05
done
counters_are "$want" 2>/dev/null ||
    fail "counters: $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["plugins"]["login"]["counters"])' "$T/data/status.json" 2>&1)"

kill -TERM "$APID"
wait_for 10 "the agent to exit" pid_gone "$APID"
RC=0
wait "$APID" || RC=$?
expect_rc 0 "agent exit status"
file_has agent.err "plugin login: stopped: 16 records read, 4 logins, 2 logouts, 2 failed logins, 6 bad records, 0 publish failures" ||
    fail "summary: $(grep 'plugin login: stopped' agent.err)"

"$PY" - "$EVENTS" "$NOW" "$BOB_SEC" "$UTMP" "$WTMP" "$BTMP" <<'PY' || fail "event checks"
import datetime, json, sys
path, now, bob_sec, utmp, wtmp, btmp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
evs = [json.loads(l) for l in open(path)]
logins = [e for e in evs if e.get("event.action") in ("logged-in", "logged-out", "login-failed")]
for e in logins:
    assert e.get("event.dataset") == "rampart.login", "event.dataset: %s" % e
def ts(e):
    return datetime.datetime.strptime(e["@timestamp"][:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
got = [(e["event.action"], e.get("user.name")) for e in logins]
want = [("logged-in", "bob"), ("logged-out", "bob"), ("logged-out", "alice"),
        ("login-failed", "root"), ("logged-in", "carol"), ("logged-in", "erin"),
        ("login-failed", "admin"), ("logged-in", "dave")]
assert got == want, "events in order: %s" % got
bob_in, bob_out, alice_out, fail_, carol, erin, admin, dave = logins
assert admin["source.ip"] == "198.51.100.23" and admin["event.outcome"] == "failure", admin
for e in logins:
    assert e["event.kind"] == "event", e
# bob's login: every field a user would look at.
assert bob_in["event.category"] == ["authentication", "session"], bob_in
assert bob_in["event.type"] == ["start"], bob_in
assert bob_in["event.outcome"] == "success", bob_in
assert bob_in["source.ip"] == "203.0.113.5", bob_in
assert bob_in["source.address"] == "203.0.113.5", bob_in
assert bob_in["process.pid"] == 4321, bob_in
assert bob_in["login.tty"] == "pts/7", bob_in
assert bob_in["related.user"] == ["bob"] and bob_in["related.ip"] == ["203.0.113.5"], bob_in
assert ts(bob_in) == bob_sec and bob_in["@timestamp"][19:23] == ".250", bob_in
assert bob_in["event.provider"] in ("utmp", "wtmp"), bob_in
# bob's logout: the user and source come from the session.
assert bob_out["event.category"] == ["session"] and bob_out["event.type"] == ["end"], bob_out
assert bob_out["login.tty"] == "pts/7" and bob_out["process.pid"] == 4321, bob_out
assert bob_out["source.ip"] == "203.0.113.5", bob_out
assert bob_out["event.duration"] == 3 * 10**9, bob_out
assert ts(bob_out) == bob_sec + 3, bob_out
# alice's session was learned from utmp at start.
assert alice_out["source.ip"] == "10.9.9.9" and alice_out["login.tty"] == "pts/3", alice_out
assert alice_out["event.duration"] == 600 * 10**9, alice_out
assert alice_out["event.provider"] == "wtmp" and alice_out["log.file.path"] == wtmp, alice_out
# the failed login from btmp, created after the start.
assert fail_["event.outcome"] == "failure", fail_
assert fail_["event.category"] == ["authentication"] and fail_["event.type"] == ["start"], fail_
assert fail_["source.ip"] == "2001:db8::7", fail_
assert fail_["source.address"] == "2001:db8::7", fail_
assert fail_["process.pid"] == 999 and fail_["login.tty"] == "ssh:notty", fail_
assert fail_["event.provider"] == "btmp" and fail_["log.file.path"] == btmp, fail_
# no address at all: no source.ip; a host name only: source.address only.
assert "source.ip" not in carol and "source.address" not in carol, carol
assert carol["login.tty"] == "tty2" and carol["process.pid"] == 5555, carol
assert erin["source.address"] == "erin-laptop" and "source.ip" not in erin, erin
assert dave["source.ip"] == "192.0.2.44", dave
# nothing from before the start was replayed.
assert not any(e.get("user.name") in ("olduser", "alice") and e["event.action"] == "logged-in"
               for e in evs), "history replayed"
PY
# Depending on when the loop looks, the rename and the new file are seen
# apart ("moved away") or together ("replaced").
grep -qE "plugin login: wtmp $WTMP: (replaced|moved away or removed; waiting for a new one)$" agent.err ||
    fail "no rotation line"
[ "$(count_lines agent.err "plugin login: wtmp $WTMP: new file; reading it from the start")" -eq 1 ] ||
    fail "no new-file line for the rotated wtmp"
file_has agent.err "plugin login: btmp $BTMP: new file; reading it from the start" ||
    fail "no new-file line for btmp"

# replay_existing: a second agent on the rotated file publishes its history,
# and all 9000 records of a large btmp (more than one wakeup's worth: the
# rest are read on a short timer).
ut raw "$T/log/big-btmp" 384 type=6 user=u0 line=ssh:notty pid=1
"$PY" - "$T/log/big-btmp" <<'PY'
import sys
rec = open(sys.argv[1], "rb").read()
assert len(rec) == 384
with open(sys.argv[1], "ab") as f:
    for i in range(1, 9000):
        r = bytearray(rec)
        r[4:8] = (i + 1).to_bytes(4, "little")           # ut_pid
        name = ("u%d" % i).encode()
        r[44:76] = name + bytes(32 - len(name))          # ut_user
        f.write(r)
PY
cat >rampart2.json <<EOF
{
  "agent": {"data_dir": "data2", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false},
  "plugins": {
    "login": {"enabled": true, "file": "collector_login.so",
              "config": {"utmp": "", "wtmp": "$WTMP.1", "btmp": "$T/log/big-btmp",
                         "replay_existing": true}}
  }
}
EOF
"$RAMPARTD" --foreground --config rampart2.json >agent2.out 2>agent2.err &
APID2=$!
AGENT_PIDS+=("$APID2")
EVENTS=$T/data2/events.ndjson
wait_for 10 "the replayed logins" has_events logged-in 4
wait_for 20 "the 9000 replayed failures" has_events login-failed 9000
kill -TERM "$APID2"
wait_for 10 "the second agent to exit" pid_gone "$APID2"
file_has agent2.err "plugin login: following 2 of 3 files (utmp off, wtmp $WTMP.1, btmp $T/log/big-btmp), replaying existing records" ||
    fail "replay start line: $(grep 'plugin login' agent2.err)"
"$PY" - "$EVENTS" <<'PY' || fail "replayed events"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
got = [(e["event.action"], e.get("user.name")) for e in evs
       if e.get("event.action") in ("logged-in", "logged-out")]
want = [("logged-in", "olduser"), ("logged-out", "olduser"), ("logged-in", "alice"),
        ("logged-in", "bob"), ("logged-out", "bob"), ("logged-out", "alice"),
        ("logged-in", "carol"), ("logged-in", "erin")]
assert got == want, got
users = [e["user.name"] for e in evs if e.get("event.action") == "login-failed"]
assert users == ["u%d" % i for i in range(9000)], "failures out of order or missing: %d" % len(users)
PY
file_has agent2.err "plugin login: stopped: 9009 records read, 5 logins, 3 logouts, 9000 failed logins, 1 bad records, 0 publish failures" ||
    fail "replay summary: $(grep 'plugin login: stopped' agent2.err)"
echo "ok"
