#!/usr/bin/env bash
# Real collector events through every output format to a real backend. The
# real agent runs collector_process, collector_file, collector_network and
# collector_login on this machine's kernel feeds; the test makes real
# activity each time (an exec with known arguments, a file created, written
# and deleted in a watched folder, a TCP connection on loopback, a login
# record written by glibc) and checks what arrived:
# - format clickhouse into the schema shipped to users
#   (docs/clickhouse-schema.sql, loaded by the backend into database `ecs`):
#   every event the agent wrote (its local events.ndjson copy) is a row, the
#   activity's rows have their fields and the agent's identity (agent.id as
#   in <data_dir>/agent_id, host.name, host.id, labels.site), and nothing was
#   retried or dead-lettered;
# - format clickhouse into a JSONEachRow table (the backend's rampart.events):
#   the batch holding a TCP connect (event.category 1 item, event.type 2) is
#   refused with Code 190 and dead-lettered at once with that reason, not
#   retried;
# - formats ndjson, elastic-bulk, splunk-hec, loki and otlp to nginx routes
#   that keep each request body and answer as that backend does: the bodies
#   hold the activity's events with the identity in each format's place
#   (Splunk host, Loki stream label, OTLP resource). tests/e2e/real_events.py
#   reads them.
#   bash test_real_collectors.sh RAMPARTD PLUGIN_DIR
. "$(dirname "$0")/lib.sh"

# fanotify, the proc connector and other users' sockets need root.
if [ "$(id -u)" != 0 ]; then
    echo "skip: needs root (fanotify, proc connector, sock_diag of all users)"
    exit 77
fi
for p in process file network login; do
    [ -f "$PLUGIN_DIR/collector_$p.so" ] || fail "no $PLUGIN_DIR/collector_$p.so"
done
CHECK=$E2E_DIR/real_events.py
VERSION=$("$RAMPARTD" --version | awk '{ print $2 }')
HOST_NAME=$(uname -n)
HOST_ID=$(tr -d '\n' </etc/machine-id 2>/dev/null || true)
SITE=e2e-site
W=$T/watched
mkdir -p "$W" "$T/sites" "$T/login"
echo '{}' >"$T/sites/$SITE.json" # the site overlay, next to the main files
: >"$T/login/utmp"
: >"$T/login/wtmp"
: >"$T/login/btmp"
start_backend
[ -n "${RAMPART_E2E_CAPTURE_URL:-}" ] || fail "the backend has no /capture routes (nginx echo module missing)"

# ut.py FILE USER LINE IP PID: appends a login (USER_PROCESS) to a wtmp file
# with glibc's updwtmpx, as login and sshd do.
cat >"$T/ut.py" <<'PY'
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
path, user, line, ip, pid = sys.argv[1:6]
r = Utmpx()
r.ut_type = 7
r.ut_pid = int(pid)
r.ut_line = line.encode()
r.ut_id = line[-4:].encode()
r.ut_user = user.encode()
r.ut_host = ip.encode()
r.ut_tv.tv_sec = int(time.time())
ctypes.memmove(r.ut_addr_v6, socket.inet_pton(socket.AF_INET, ip), 4)
ctypes.CDLL("libc.so.6").updwtmpx(path.encode(), ctypes.byref(r))
PY

# net.py: a listener and a client on 127.0.0.1, connected for 0.6 s (the
# network collector polls every 100 ms), some bytes each way; prints
# "PORT PID" once connected.
cat >"$T/net.py" <<'PY'
import os, socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
port = s.getsockname()[1]
c = socket.create_connection(("127.0.0.1", port)); a, _ = s.accept()
print(port, os.getpid(), flush=True)
c.sendall(b"x" * 100); a.recv(100); a.sendall(b"y"); c.recv(1)
time.sleep(0.6)
c.close(); a.close(); s.close()
PY

# real_config FILE URL FORMAT [MORE_OUTPUT_KEYS]: the four real collectors,
# site $SITE, data in $T/data, uploading to URL as FORMAT.
real_config() {
    cat >"$1" <<EOF
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info",
            "site": "$SITE", "health_interval_ms": 500},
  "output": {"url": "$2", "format": "$3", "ca_file": "$RAMPART_E2E_CA",
             "token_file": "$RAMPART_E2E_TOKEN_FILE", "flush_interval_ms": 1000, "stdout": false ${4:-}},
  "spool": {"fsync": "batch"},
  "plugins": {
    "process": {"enabled": true, "file": "collector_process.so", "config": {}},
    "file": {"enabled": true, "file": "collector_file.so",
             "config": {"paths": ["$W"], "events": ["create", "modify", "delete"]}},
    "network": {"enabled": true, "file": "collector_network.so",
                "config": {"poll_interval_ms": 100, "exclude_self": true}},
    "login": {"enabled": true, "file": "collector_login.so",
              "config": {"utmp": "$T/login/utmp", "wtmp": "$T/login/wtmp", "btmp": "$T/login/btmp"}}
  }
}
EOF
}

collectors_running() {
    status_is 'all(d["plugins"][p]["state"] == "running" for p in ("process", "file", "network", "login"))' True
}

# activity TAG: the real activity, marked by TAG; sets EXPECT (the JSON that
# real_events.py checks against).
activity() {
    local tag=$1 marker file user port pid
    marker="rampart-e2e-$tag-$$"
    file="$W/$marker.txt"
    user="e2e$tag"
    /bin/sh -c 'sleep 0.5; :' "$marker" &
    local sh_pid=$!
    echo one >"$file"
    sleep 0.2
    echo two >>"$file"
    sleep 0.2
    rm -f "$file"
    read -r port pid < <("$PY" "$T/net.py")
    [ -n "$port" ] || fail "net.py printed no port"
    "$PY" "$T/ut.py" "$T/login/wtmp" "$user" "pts/42" 192.0.2.77 $$ || fail "ut.py failed"
    wait "$sh_pid"
    sleep 0.7 # net.py's connection stays open 0.6 s more: wait for its close
    EXPECT=$(
        "$PY" -c 'import json,sys; print(json.dumps(dict(zip(sys.argv[1::2], sys.argv[2::2]))))' \
            exec_marker "$marker" sh_executable "$(readlink -f /bin/sh)" uid "$(id -u)" \
            file_path "$file" port "$port" net_pid "$pid" login_user "$user" login_ip 192.0.2.77 \
            agent_id "$(cat "$T/data/agent_id")" host_name "$HOST_NAME" host_id "$HOST_ID" \
            site "$SITE" version "$VERSION"
    )
}

# wait_for_quiet SECONDS CMD...: polls CMD every 200 ms until it succeeds
# (0); 1 at once when CMD says a value is wrong (exit 1), or at the time out.
wait_for_quiet() {
    local tries=$(($1 * 5)) rc
    shift
    while :; do
        rc=0
        "$@" >/dev/null 2>&1 || rc=$?
        [ "$rc" = 0 ] && return 0
        [ "$rc" = 1 ] && return 1
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 1
        sleep 0.2
    done
}

no_retries_no_dead_letters() { # no_retries_no_dead_letters WHAT
    local r d
    r=$(status 'd["upload"]["retries"]')
    d=$(status 'd["upload"]["dead_batches"]')
    if [ "$r" != 0 ] || [ "$d" != 0 ]; then
        fail "$1: $r retries, $d dead batches: $(status 'd["upload"]["last_error"]')"
    fi
    [ -z "$(ls -A "$T/data/deadletter" 2>/dev/null)" ] || fail "$1: dead letters: $(cat "$T"/data/deadletter/*.json)"
}

# ---------------------------------------------------------------- ClickHouse, the shipped schema
real_config "$T/ch.json" "$RAMPART_E2E_ECS_URL" clickhouse
start_agent "$T/ch.json"
wait_for 20 "the four collectors running" collectors_running
activity ch
ch_rows() { # all rows as JSONEachRow, the Array columns under their ECS names too
    ch "SELECT *, \`event.category\`, \`event.type\`, \`process.args\`, \`related.ip\`, \`related.user\`
        FROM $RAMPART_E2E_ECS_DB.events FORMAT JSONEachRow" >"$T/ch.rows"
}
ch_has_all() { ch_rows && "$PY" "$CHECK" clickhouse "$T/ch.rows" "$EXPECT" >"$T/ch.check"; }
if ! wait_for_quiet 30 ch_has_all; then
    fail "ClickHouse (shipped schema): $(cat "$T/ch.check")"
fi
note "$(cat "$T/ch.check")"
# Every event the agent wrote locally up to now is a row, once: network
# events (arrays of 1 and 2 items) from the whole machine included. (The
# spool is never empty for long here: the collectors see the whole machine.)
cp "$T/data/events.ndjson" "$T/local.ndjson"
all_in_ch() { ch_rows && "$PY" "$CHECK" clickhouse "$T/ch.rows" "$EXPECT" "$T/local.ndjson" >"$T/ch.check"; }
wait_for_quiet 60 all_in_ch || fail "ClickHouse (shipped schema): $(cat "$T/ch.check")"
note "$(tail -n 1 "$T/ch.check")"
nets=$(ch "SELECT count() FROM $RAMPART_E2E_ECS_DB.events WHERE length(\`event.category\`) != length(\`event.type\`)")
[ "$nets" -ge 2 ] || fail "ClickHouse (shipped schema): only $nets rows with arrays of unequal length"
no_retries_no_dead_letters "clickhouse (shipped schema)"
refused=$(requests "$RAMPART_E2E_BEARER_PORT" "/?query=INSERT%20INTO%20$RAMPART_E2E_ECS_DB" | awk '$1 != 200' | wc -l)
[ "$refused" = 0 ] || fail "ClickHouse (shipped schema): $refused requests not answered 200"
stop_agent
rm -rf "$T/data"

# ---------------------------------------------------------------- ClickHouse, JSONEachRow table
# rampart.events takes JSONEachRow with event.category and event.type as
# Array columns: ClickHouse refuses a batch with a TCP connect whole (Code
# 190). The adapter knows that a resend cannot succeed: dead letter at once,
# ClickHouse's reason in the note, no retry.
real_config "$T/old.json" "$RAMPART_E2E_BEARER_URL" clickhouse
start_agent "$T/old.json" "$T/agent-old.log"
wait_for 20 "the four collectors running" collectors_running
activity old
port=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["port"])' "$EXPECT")
dead_connect() { grep -l "\"destination.port\":$port" "$T"/data/deadletter/*.ndjson 2>/dev/null | grep -q .; }
wait_for_quiet 20 dead_connect ||
    fail "the TCP connect's batch was not dead-lettered within 20 s: $(status 'd["upload"]["retries"]') retries, last error: $(status 'd["upload"]["last_error"]')"
f=$(grep -l "\"destination.port\":$port" "$T"/data/deadletter/*.ndjson | head -n 1)
grep -q '"event.action":"connect"' "$f" || fail "the dead letter lacks the connect event"
grep -q 'Code: 190' "${f%.ndjson}.json" || fail "the note does not give ClickHouse's reason: $(cat "${f%.ndjson}.json")"
r=$(status 'd["upload"]["retries"]')
[ "$r" = 0 ] || fail "JSONEachRow table: $r retries of batches ClickHouse can never take"
note "clickhouse (JSONEachRow table): $(status 'd["upload"]["dead_batches"]') batches dead-lettered at once with Code 190, 0 retries"
stop_agent
rm -rf "$T/data"

# ---------------------------------------------------------------- the other formats
for fmt in ndjson elastic-bulk splunk-hec loki otlp; do
    route=${fmt%%-*}
    more=""
    # Each format's own settings from config (output.elastic, .splunk,
    # .loki, .otlp) must reach the wire; real_events.py checks them. The
    # backend's Bearer port wants "Bearer"; Splunk's own scheme is "Splunk".
    case $fmt in
    elastic-bulk) more=', "elastic": {"index": "rampart-e2e"}' ;;
    splunk-hec)
        more=', "auth_scheme": "Bearer", "splunk": {"index": "edr", "source": "rampart:e2e",
               "sourcetype": "rampart:ecs", "channel": ""}' ;;
    loki) more=', "loki": {"tenant": "district-east", "job": "edr-e2e", "labels": {"district": "east"}}' ;;
    otlp) more=', "otlp": {"resource_attributes": {"deployment.environment": "schools"}}' ;;
    esac
    real_config "$T/$route.json" "$RAMPART_E2E_CAPTURE_URL/$route" "$fmt" "$more"
    start_agent "$T/$route.json" "$T/agent-$route.log"
    wait_for 20 "the four collectors running ($fmt)" collectors_running
    activity "$route"
    got() { "$PY" "$CHECK" "$fmt" "$RAMPART_E2E_CAPTURE_DIR/$route" "$EXPECT" >"$T/$route.check"; }
    wait_for_quiet 30 got || fail "$fmt: $(cat "$T/$route.check")"
    note "$(cat "$T/$route.check")"
    cp "$T/data/events.ndjson" "$T/local.ndjson"
    all_got() { "$PY" "$CHECK" "$fmt" "$RAMPART_E2E_CAPTURE_DIR/$route" "$EXPECT" "$T/local.ndjson" >"$T/$route.check"; }
    wait_for_quiet 30 all_got || fail "$fmt: $(cat "$T/$route.check")"
    note "$(tail -n 1 "$T/$route.check")"
    no_retries_no_dead_letters "$fmt"
    stop_agent
    rm -rf "$T/data"
done
note "ok"
