#!/usr/bin/env bash
# responder_isolate end to end, only inside network namespaces this test
# makes: the endpoint (where the agent runs, `ip netns exec`), a fake backend
# (a python HTTPS server the agent uploads to) and an "other host", joined by
# veth pairs created inside the namespaces, with addresses (198.18.0.0/15,
# fd52:7269::/32) that exist only there and no route leaving them.
#  - `rampartctl plugin isolate isolate drill`: the backend still receives
#    events (the response among them), the other host is unreachable (IPv4
#    and IPv6), a TCP session to it opened before is reset; `status` names
#    the backend and the resolvers of resolv.conf (dns "auto") with their
#    roles; the backend's name, moved, is followed at the next refresh;
#  - `release` restores everything;
#  - an alert under prevent with the action isolate (from the test plugin
#    alert_inject) isolates, the response linked to the alert; one under
#    detect does not;
#  - a restart of the agent keeps the isolation (re-applied, trigger start);
#    a simulated reboot (the table deleted while the agent is down)
#    re-applies it at start;
#  - a reload while isolated applies the new allowed set (`allow`) at once;
#  - output.proxy set by a reload while isolated: the proxy is allowed at
#    once and events go out through it;
#  - the backend made unreachable: the isolation is rolled back and the
#    response says so (failed, backend_unreachable);
#  - an unreadable state file is reported at start (state_unreadable) and
#    applies nothing; without a backend endpoint an isolation is refused
#    (no_backend);
#  - nothing is left: no namespace, veth or table of the test, and no table
#    outside the test's namespace at any time.
# Every wait is bounded. Usage: bash test_isolate.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"

PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
# The test-only plugins (tests/plugins): RP_TEST_PLUGIN_DIR, set by
# tests/collectors/CMakeLists.txt.
INJECT=${RP_TEST_PLUGIN_DIR:?RP_TEST_PLUGIN_DIR names the test plugins folder}/alert_inject.so
[ -f "$PLUGIN_DIR/responder_isolate.so" ] || fail "no responder_isolate.so in $PLUGIN_DIR"
[ -f "$INJECT" ] || fail "no $INJECT"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces, nftables)"; exit 77; }
for tool in ip nft openssl; do
    command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
cd "$T"

# Names unique to this run; interface names at most 15 bytes.
ID=$$
EP=rp-iso-$ID-ep
BE=rp-iso-$ID-be
OH=rp-iso-$ID-oh
BE_IP=198.18.1.1 BE_IP2=198.18.1.3 EP_BE_IP=198.18.1.2
BE_NAME=backend.rp-iso-$ID.test
OH_IP=198.18.2.1 EP_OH_IP=198.18.2.2
OH_IP6=fd52:7269:2::1 EP_OH_IP6=fd52:7269:2::2
DNS_IP=198.18.3.53 DNS_IP6=fd52:7269:3::53
PORT=8443 OH_PORT=8080 PROXY_PORT=3128
NS_PIDS=()

# The endpoint's /etc/hosts (`ip netns exec` mounts /etc/netns/NS/hosts over
# it) names the backend: its name is resolved, and re-resolved, by the
# plugin. MADE_NETNS_DIR: /etc/netns did not exist before the test.
MADE_NETNS_DIR=
[ -d /etc/netns ] || MADE_NETNS_DIR=1
ns_cleanup() {
    local pid ns
    for pid in "${NS_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    for ns in "$EP" "$BE" "$OH"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "/etc/netns/$EP"
    if [ -n "$MADE_NETNS_DIR" ]; then rmdir /etc/netns 2>/dev/null || true; fi
}
# The agents first (lib.sh's cleanup), then the namespaces.
trap 'ns_cleanup; cleanup' EXIT

# The table of nft.h must never appear outside the endpoint's namespace.
root_clean() { ! nft list table inet rampart_isolate >/dev/null 2>&1; }
root_clean || fail "an isolation table exists in the machine's own namespace before the test"

for ns in "$EP" "$BE" "$OH"; do
    ip netns add "$ns" || fail "cannot create namespace $ns"
    ip -n "$ns" link set lo up
done
# Each pair is made inside the namespaces: it never exists in the machine's.
ip link add name rpi$ID-e1 netns "$EP" type veth peer name rpi$ID-b netns "$BE" ||
    fail "cannot create the backend veth pair"
ip link add name rpi$ID-e2 netns "$EP" type veth peer name rpi$ID-o netns "$OH" ||
    fail "cannot create the other host's veth pair"
ip -n "$EP" addr add $EP_BE_IP/24 dev rpi$ID-e1
ip -n "$BE" addr add $BE_IP/24 dev rpi$ID-b
ip -n "$BE" addr add $BE_IP2/24 dev rpi$ID-b
mkdir -p "/etc/netns/$EP"
# backend_at ADDRESS: the backend's name resolves to ADDRESS in the endpoint
# (written in place: the mount shows the same file).
backend_at() { printf '127.0.0.1 localhost\n%s %s\n' "$1" "$BE_NAME" >"/etc/netns/$EP/hosts"; }
backend_at $BE_IP
# The resolvers of dns "auto": the endpoint's resolv.conf, likewise mounted.
printf 'search rp-iso.test\nnameserver %s\nnameserver %s\n' $DNS_IP $DNS_IP6 >"/etc/netns/$EP/resolv.conf"
ip -n "$EP" addr add $EP_OH_IP/24 dev rpi$ID-e2
ip -n "$OH" addr add $OH_IP/24 dev rpi$ID-o
ip -n "$EP" addr add $EP_OH_IP6/64 dev rpi$ID-e2 nodad
ip -n "$OH" addr add $OH_IP6/64 dev rpi$ID-o nodad
for l in "$EP rpi$ID-e1" "$EP rpi$ID-e2" "$BE rpi$ID-b" "$OH rpi$ID-o"; do
    # shellcheck disable=SC2086 # "namespace interface"
    set -- $l
    ip -n "$1" link set "$2" up
done

# A CA and the backend's certificate for its address.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -out ca.crt -days 2 -subj "/CN=rampart isolate test CA" 2>/dev/null || fail "openssl CA"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
    -out server.csr -subj "/CN=$BE_IP" 2>/dev/null || fail "openssl csr"
printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$BE_NAME" >server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out server.crt 2>/dev/null || fail "openssl sign"

# The fake backend: every POSTed batch appended to received.ndjson.
cat >backend.py <<'EOF'
import gzip, http.server, ssl, sys
addr, port, cert, key, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        with open(out, "ab") as f:
            f.write(body if body.endswith(b"\n") else body + b"\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer((addr, port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
EOF
# The other host: an echo server on IPv4 and IPv6.
cat >other.py <<'EOF'
import socket, socketserver, sys, threading
class H(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)
class S4(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
class S6(S4):
    address_family = socket.AF_INET6
s6 = S6((sys.argv[2], int(sys.argv[3])), H)
threading.Thread(target=s6.serve_forever, daemon=True).start()
S4((sys.argv[1], int(sys.argv[3])), H).serve_forever()
EOF
# probe HOST PORT: exit 0 connected and echoed, 1 refused or reset, 2 no
# answer within 2 s.
cat >probe.py <<'EOF'
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    s.sendall(b"ping\n")
    sys.exit(0 if s.recv(16) == b"ping\n" else 1)
except socket.timeout:
    sys.exit(2)
except OSError:
    sys.exit(1)
EOF
# session HOST PORT GO OUT: opens a session, says "up" in OUT.up, waits for
# the file GO (30 s at most), then talks again and writes what happened.
cat >session.py <<'EOF'
import os, socket, sys, time
host, port, go, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def say(w, where=out):
    with open(where + ".tmp", "w") as f:
        f.write(w)
    os.rename(where + ".tmp", where)
s = socket.create_connection((host, port), timeout=3)
s.sendall(b"one\n")
assert s.recv(16) == b"one\n"
say("up", out + ".up")
end = time.monotonic() + 30
while not os.path.exists(go) and time.monotonic() < end:
    time.sleep(0.05)
try:
    s.sendall(b"two\n")
    data = s.recv(16)
    say("alive" if data else "closed")
except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
    say("reset")
except socket.timeout:
    say("timeout")
except OSError as e:
    say("error %d" % e.errno)
EOF

# proxy ADDRESS PORT LOG: an HTTP CONNECT proxy (in the backend's namespace:
# every tunnel goes to the backend on 127.0.0.1), each CONNECT logged.
cat >proxy.py <<'EOF'
import socket, socketserver, sys, threading
log = sys.argv[3]
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
class H(socketserver.BaseRequestHandler):
    def handle(self):
        c, head = self.request, b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            d = c.recv(4096)
            if not d:
                return
            head += d
        line = head.split(b"\r\n", 1)[0].decode()
        method, target = line.split(" ")[:2]
        if method != "CONNECT":
            c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        with open(log, "a") as f:
            f.write(target + "\n")
        u = socket.create_connection(("127.0.0.1", int(target.rsplit(":", 1)[1])), timeout=5)
        u.settimeout(None)
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=pipe, args=(u, c), daemon=True).start()
        pipe(c, u)
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
S((sys.argv[1], int(sys.argv[2])), H).serve_forever()
EOF
ip netns exec "$BE" "$PY" proxy.py $BE_IP2 $PROXY_PORT "$T/proxy.log" >proxy.out 2>proxy.err &
NS_PIDS+=($!)
ip netns exec "$BE" "$PY" backend.py 0.0.0.0 $PORT server.crt server.key "$T/received.ndjson" \
    >backend.out 2>backend.err &
NS_PIDS+=($!)
ip netns exec "$OH" "$PY" other.py $OH_IP $OH_IP6 $OH_PORT >other.out 2>other.err &
NS_PIDS+=($!)

in_ep() { ip netns exec "$EP" "$@"; }
# reach HOST: the exit code of probe.py from the endpoint.
reach() {
    local rc=0
    in_ep "$PY" probe.py "$1" $OH_PORT || rc=$?
    echo $rc
}
reachable() { [ "$(reach "$1")" = 0 ]; }
refused() { [ "$(reach "$1")" = 1 ]; }
table_in_ep() { in_ep nft list table inet rampart_isolate >/dev/null 2>&1; }
no_table_in_ep() { ! table_in_ep; }
wait_for 10 "the other host's server" reachable $OH_IP
wait_for 10 "the other host's server on IPv6" reachable $OH_IP6
# The test's addresses exist only in its namespaces.
if "$PY" probe.py $OH_IP $OH_PORT >/dev/null 2>&1; then
    fail "the other host is reachable from the machine's own namespace"
fi

RULE_ID=rp.test.isolate

CFG=$T/rampart.json
cat >"$CFG" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info",
            "health_interval_ms": 200},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100,
             "url": "https://$BE_NAME:$PORT/ingest", "format": "ndjson", "gzip": false,
             "ca_file": "$T/ca.crt", "timeout_ms": 2000},
  "policy": {"default": {"mode": "detect"},
             "rules": {"$RULE_ID": {"mode": "prevent", "actions": ["isolate"]}}},
  "plugins": {
    "inject": {"enabled": true, "file": "$INJECT"},
    "isolate": {"enabled": true, "file": "responder_isolate.so",
                "config": {"dns": "auto", "refresh_interval_s": 2, "probe_interval_s": 1,
                           "probe_timeout_ms": 500, "rollback_after_s": 3}}
  }
}
EOF
EVENTS=$T/data/events.ndjson
RECEIVED=$T/received.ndjson

N_START=0
start_agent() {
    N_START=$((N_START + 1))
    : >"agent$N_START.err"
    ip netns exec "$EP" "$RAMPARTD" --foreground --config "$CFG" >"agent$N_START.out" \
        2>"agent$N_START.err" &
    APID=$!
    AGENT_PIDS+=("$APID")
    wait_for 20 "the isolation responder to run" file_has "agent$N_START.err" \
        "plugin isolate: running"
    wait_for 20 "the alert injector to run" file_has "agent$N_START.err" "plugin inject: running"
}
stop_agent() {
    kill -TERM "$APID"
    wait_for 15 "the agent to stop" pid_gone "$APID"
    # A clean stop exits 0 (a sanitizer build exits otherwise on a leak).
    local rc=0
    wait "$APID" 2>/dev/null || rc=$?
    [ "$rc" = 0 ] || fail "the agent exited with status $rc after SIGTERM"
}
CTL=("$RAMPARTCTL" --config "$CFG" plugin isolate)

# count_responses FILE ACTION OUTCOME TRIGGER [REASON]: the response events
# of FILE that match.
count_responses() {
    "$PY" - "$@" <<'EOF'
import json, sys
path, action, outcome, trigger = sys.argv[1:5]
reason = sys.argv[5] if len(sys.argv) > 5 else None
n = 0
try:
    with open(path) as f:
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if (ev.get("rampart.response.action") == action
                    and ev.get("rampart.response.outcome") == outcome
                    and ev.get("rampart.response.trigger") == trigger
                    and (reason is None or ev.get("rampart.response.reason") == reason)):
                n += 1
except FileNotFoundError:
    pass
print(n)
EOF
}
responses_at_least() { [ "$(count_responses "$@" | tail -n1)" -ge "${RESP_MIN:-1}" ]; }
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
grows() { [ "$(lines "$1")" -gt "$2" ]; }
# last_response FILE ACTION TRIGGER EXPR: EXPR of the last matching response.
last_response() {
    "$PY" - "$@" <<'EOF'
import json, sys
path, action, trigger, expr = sys.argv[1:5]
last = None
with open(path) as f:
    for line in f:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("rampart.response.action") == action and ev.get("rampart.response.trigger") == trigger:
            last = ev
d = last or {}
print(eval(expr))
EOF
}

# ---- the agent runs and uploads; nothing is isolated yet
start_agent
wait_for 15 "the backend to receive events" grows "$RECEIVED" 0
reachable $OH_IP || fail "the other host is unreachable before any isolation"

# ---- isolation by command
in_ep "$PY" session.py $OH_IP $OH_PORT "$T/go1" "$T/session1" 2>session1.err &
SPID=$!
NS_PIDS+=("$SPID")
wait_for 10 "the session to the other host" file_has session1.up up
t0=$(date +%s%N)
run_cmd iso.out iso.err "${CTL[@]}" isolate drill
expect_rc 0 "isolate: $(cat iso.err)"
t1=$(date +%s%N)
note_ms=$(((t1 - t0) / 1000000))
json_get iso.out 'd["outcome"]' | grep -qx "done" || fail "isolate did not say done: $(cat iso.out)"
table_in_ep || fail "no isolation table in the endpoint's namespace after isolate"
root_clean || fail "the isolation table appeared in the machine's own namespace"
[ "$(reach $OH_IP)" != 0 ] || fail "the other host is still reachable after isolate"
[ "$(reach $OH_IP6)" != 0 ] || fail "the other host is still reachable over IPv6 after isolate"
: >go1
wait_for 10 "the old session's outcome" test -s session1
[ "$(cat session1)" = reset ] || fail "the session opened before isolation was not reset: $(cat session1)"
wait "$SPID" 2>/dev/null || true
wait_for 10 "the response of the isolation at the backend" \
    responses_at_least "$RECEIVED" isolate "done" command
n=$(lines "$RECEIVED")
wait_for 10 "more events at the backend while isolated" grows "$RECEIVED" "$n"
run_cmd st.out st.err "${CTL[@]}" status
expect_rc 0 "status: $(cat st.err)"
json_get st.out 'd["isolated"] and d["reason"] == "drill" and d["table_present"]' | grep -qx True ||
    fail "status does not say isolated for drill: $(cat st.out)"
json_get st.out "any(a['address'] == '$BE_IP' and a['port'] == $PORT and a['role'] == 'backend' for a in d['allowed'])" |
    grep -qx True || fail "status does not list the backend: $(cat st.out)"
json_get st.out "any(a['address'] == '$DNS_IP' and a['port'] == 53 and a['role'] == 'dns' for a in d['allowed'])" |
    grep -qx True || fail "status does not list the resolver: $(cat st.out)"
json_get st.out "any(a['address'] == '$DNS_IP6' and a['port'] == 53 and a['role'] == 'dns' for a in d['allowed'])" |
    grep -qx True || fail "status does not list the IPv6 resolver: $(cat st.out)"
# backend_is ADDRESS: status lists the backend at ADDRESS alone, and the
# last probe reached it.
backend_is() {
    "${CTL[@]}" status >st3.out 2>st3.err || return 1
    "$PY" - "$1" st3.out <<'EOF'
import json, sys
d = json.load(open(sys.argv[2]))
be = [a["address"] for a in d["allowed"] if a["role"] == "backend"]
sys.exit(0 if be == [sys.argv[1]] and d["backend_reachable"] is True and d["last_refresh_ok"] else 1)
EOF
}
wait_for 10 "a probe that reached the backend" backend_is $BE_IP
# The backend's name moves: the refresh (every 2 s) follows it, and back.
backend_at $BE_IP2
wait_for 10 "the refresh to the backend's new address" backend_is $BE_IP2
# (Read whole first: grep -q would end nft early, which pipefail reports.)
table=$(in_ep nft list table inet rampart_isolate 2>&1 || true)
grep -qF "$BE_IP2" <<<"$table" || fail "the table does not hold the backend's new address: $table"
backend_at $BE_IP
# The resolvers of dns "auto": the endpoint's resolv.conf, likewise mounted.
printf 'search rp-iso.test\nnameserver %s\nnameserver %s\n' $DNS_IP $DNS_IP6 >"/etc/netns/$EP/resolv.conf"
wait_for 10 "the refresh back to the backend's first address" backend_is $BE_IP
echo "isolate by command: applied in ${note_ms} ms (rampartctl round trip)"

# ---- release
run_cmd rel.out rel.err "${CTL[@]}" release
expect_rc 0 "release: $(cat rel.err)"
no_table_in_ep || fail "the table is still there after release"
reachable $OH_IP || fail "the other host is unreachable after release"
reachable $OH_IP6 || fail "the other host is unreachable over IPv6 after release"
wait_for 10 "the response of the release at the backend" \
    responses_at_least "$RECEIVED" release "done" command
run_cmd rel2.out rel2.err "${CTL[@]}" release
expect_rc 70 "a second release"
file_has rel2.err not_isolated || fail "a second release does not say not_isolated: $(cat rel2.err)"

# ---- isolation by an alert under prevent, actions [isolate]; an alert
# under detect first, which must change nothing
run_cmd inj0.out inj0.err "$RAMPARTCTL" --config "$CFG" plugin inject inject \
    '{"rule_id":"rp.test.other","ruleset":"test","reason":"detect only","severity":73,"tags":[],"fields":{}}'
expect_rc 0 "inject (detect): $(cat inj0.err)"
run_cmd inj.out inj.err "$RAMPARTCTL" --config "$CFG" plugin inject inject \
    '{"rule_id":"'$RULE_ID'","ruleset":"test","reason":"isolate me","severity":73,"tags":[],"fields":{}}'
expect_rc 0 "inject: $(cat inj.err)"
json_get inj.out 'd["mode"] == "prevent" and d["actions"] == ["isolate"]' | grep -qx True ||
    fail "the injected alert is not under prevent with isolate: $(cat inj.out)"
wait_for 10 "the isolation asked by the alert" table_in_ep
[ "$(reach $OH_IP)" != 0 ] || fail "the other host is reachable after the alert's isolation"
wait_for 10 "the alert's response at the backend" responses_at_least "$RECEIVED" isolate "done" alert
alert_id=$(last_response "$RECEIVED" isolate alert 'd.get("rampart.response.alert_id", "")')
[ "$alert_id" = "$(json_get inj.out 'd["event_id"]')" ] ||
    fail "the alert's response names alert '$alert_id', not the injected one: $(cat inj.out)"
[ "$(count_responses "$RECEIVED" isolate "done" alert)" = 1 ] ||
    fail "the detect alert was acted on too"
"$PY" - "$RECEIVED" "$alert_id" <<'EOF' || fail "the alert $alert_id is not among the events the backend got"
import json, sys
ids = set()
for line in open(sys.argv[1]):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("event.kind") == "alert":
        ids.add(ev.get("event.id"))
sys.exit(0 if sys.argv[2] in ids else 1)
EOF

# ---- restart: the isolation stays, and is applied again at start
stop_agent
table_in_ep || fail "the table went away when the agent stopped"
[ "$(reach $OH_IP)" != 0 ] || fail "the other host is reachable while the agent is down"
n=$(lines "$RECEIVED")
start_agent
wait_for 10 "the re-apply at start at the backend" responses_at_least "$RECEIVED" isolate "done" start
last_response "$RECEIVED" isolate start 'd["message"]' | grep -q "the table was there" ||
    fail "the response at start does not say the table was there"
[ "$(last_response "$RECEIVED" isolate start 'd.get("rampart.response.alert_id")')" = "$alert_id" ] ||
    fail "the response at start does not name the alert"
table_in_ep || fail "no table after the restart"
[ "$(reach $OH_IP)" != 0 ] || fail "the other host is reachable after the restart"
wait_for 10 "events at the backend after the restart" grows "$RECEIVED" "$n"

# ---- reboot: the table is gone when the agent starts
stop_agent
in_ep nft delete table inet rampart_isolate || fail "cannot delete the table (simulated reboot)"
reachable $OH_IP || fail "the other host is unreachable without the table"
start_agent
table_in_ep || fail "the isolation was not applied again at start after the reboot"
[ "$(reach $OH_IP)" != 0 ] || fail "the other host is reachable after the reboot"
RESP_MIN=2 wait_for 10 "the second re-apply at the backend" \
    responses_at_least "$RECEIVED" isolate "done" start
last_response "$RECEIVED" isolate start 'd["message"]' | grep -q "the table was gone" ||
    fail "the response after the reboot does not say the table was gone"

# ---- a reload while isolated applies the new allowed set at once
set_allow() {
    "$PY" - "$CFG" "$1" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["plugins"]["isolate"]["config"]["allow"] = json.loads(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"))
EOF
}
set_allow '["'$OH_IP'/32"]'
run_cmd rl.out rl.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 0 "reload: $(cat rl.err)"
wait_for 10 "the other host allowed by the new config" reachable $OH_IP
[ "$(reach $OH_IP6)" != 0 ] || fail "the reload opened more than the new config allows"
set_allow '[]'
run_cmd rl.out rl.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 0 "reload: $(cat rl.err)"
wait_for 10 "the other host cut again by the config" refused $OH_IP
# The gauges say so too (status.json, `rampartctl plugins`).
gauge() {
    "$PY" - "$T/data/status.json" "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))["plugins"]
p = d["isolate"] if isinstance(d, dict) else [x for x in d if x.get("name") == "isolate"][0]
print(p["gauges"][sys.argv[2]])
EOF
}
gauge_is() { [ "$(gauge "$1")" = "$2" ]; }
wait_for 10 "the isolated gauge" gauge_is isolated 1

# ---- rollback: the backend made unreachable
ip -n "$BE" link set dev rpi$ID-b down
wait_for 15 "the rollback" no_table_in_ep
# The rollback is a step of the isolation the alert began: its trigger and
# alert id are that isolation's.
wait_for 5 "the rollback's response" responses_at_least "$EVENTS" isolate failed alert \
    backend_unreachable
last_response "$EVENTS" isolate alert 'd["message"]' | grep -q "rolled back" ||
    fail "the rollback's response does not say rolled back"
reachable $OH_IP || fail "the other host is unreachable after the rollback"
run_cmd st2.out st2.err "${CTL[@]}" status
json_get st2.out 'd["isolated"]' | grep -qx False || fail "status still isolated after the rollback"
wait_for 10 "the isolated gauge back to 0" gauge_is isolated 0
ip -n "$BE" link set dev rpi$ID-b up
stop_agent
[ ! -e data/plugins/isolate/isolated.json ] || fail "the state file stays after the rollback"

# ---- a proxy added by a reload while isolated: the endpoints the host
# offers change, the plugin refreshes at once (the periodic refresh is an
# hour away here), the proxy is allowed (role proxy) and the events go out
# through it
set_output() {
    "$PY" - "$CFG" "$1" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["output"].update(json.loads(sys.argv[2]))
for k in [k for k, v in c["output"].items() if v is None]:
    del c["output"][k]
json.dump(c, open(sys.argv[1], "w"))
EOF
}
"$PY" - "$CFG" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["plugins"]["isolate"]["config"]["refresh_interval_s"] = 3600
json.dump(c, open(sys.argv[1], "w"))
EOF
start_agent
run_cmd px.out px.err "${CTL[@]}" isolate proxy
expect_rc 0 "isolate before the proxy: $(cat px.err)"
set_output '{"proxy": "http://'$BE_IP2:$PROXY_PORT'"}'
run_cmd rl.out rl.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 0 "reload with a proxy: $(cat rl.err)"
wait_for 10 "an upload through the proxy" file_has proxy.log "$BE_NAME:$PORT"
n=$(lines "$RECEIVED")
wait_for 10 "events through the proxy while isolated" grows "$RECEIVED" "$n"
run_cmd px.out px.err "${CTL[@]}" status
json_get px.out "any(a['address'] == '$BE_IP2' and a['port'] == $PROXY_PORT and a['role'] == 'proxy' for a in d['allowed'])" |
    grep -qx True || fail "status does not list the proxy: $(cat px.out)"
run_cmd px.out px.err "${CTL[@]}" release
expect_rc 0 "release with a proxy: $(cat px.err)"
stop_agent
set_output '{"proxy": null}'

# ---- a state file that cannot be read: said at start, nothing applied;
# without a backend endpoint, isolating is refused
"$PY" - "$CFG" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
del c["output"]["url"]
json.dump(c, open(sys.argv[1], "w"))
EOF
printf '{"isolated": true, "since_ns": "yesterday"' >data/plugins/isolate/isolated.json
start_agent
wait_for 5 "the response about the unreadable state" \
    responses_at_least "$EVENTS" isolate failed start state_unreadable
no_table_in_ep || fail "a table was applied from an unreadable state file"
rm data/plugins/isolate/isolated.json
run_cmd nb.out nb.err "${CTL[@]}" isolate no backend
expect_rc 70 "isolate without a backend"
file_has nb.err no_backend || fail "isolate without a backend does not say no_backend: $(cat nb.err)"
no_table_in_ep || fail "a table was made without a backend"
wait_for 5 "the refusal's response" responses_at_least "$EVENTS" isolate refused command no_backend
stop_agent

# ---- nothing left
ns_cleanup
namespaces=$(ip netns list)
links=$(ip -o link show)
for ns in "$EP" "$BE" "$OH"; do
    ! grep -qw "$ns" <<<"$namespaces" || fail "namespace $ns left"
done
! grep -q "rpi$ID-" <<<"$links" || fail "a veth of the test is left in the machine's namespace"
root_clean || fail "an isolation table is left in the machine's own namespace"
[ ! -e "/etc/netns/$EP" ] || fail "/etc/netns/$EP is left"
echo "PASS: isolation by command and by alert, release, restart, reboot, rollback"
