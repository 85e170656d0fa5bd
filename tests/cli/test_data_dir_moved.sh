#!/usr/bin/env bash
# Never trust a path twice: the agent checks agent.data_dir, the folder of
# agent.pid_file and the folder of output.file once at start-up, and must
# write only through what it opened then. Here the running agent's data
# folder and pid folder are renamed away and symbolic links to folders of an
# unprivileged user are planted at their old paths. From then on:
#   - status.json keeps being rewritten in the original folder;
#   - the spool (opened by the agent with its data folder and handed to the
#     spool) keeps writing its segments and acked file there;
#   - the events file keeps growing and rotating there;
#   - a dead letter (the backend refuses every batch with 400, and holds its
#     answer to one request until the folders are swapped) is written there,
#     and the dead-letter cap trims only the agent's own files;
#   - at stop the pid file is removed from the original folder;
# and nothing appears in, or disappears from, the user's folders.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/cli/attacker.sh
source "$(dirname "$0")/attacker.sh"
cd "$T"
make_attacker
command -v openssl >/dev/null || skip "needs openssl for the test backend's certificate"

# A backend on loopback that refuses every batch (HTTP 400: dead-letter). It
# answers its fourth request only once the file "release" exists (having
# made "held"), so that the uploader writes that dead letter after the swap
# whatever the spool does then.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout key.pem -out cert.pem >openssl.out 2>&1 || fail "openssl: $(cat openssl.out)"
"$PY" - "$T/cert.pem" "$T/key.pem" "$T/port" >backend.out 2>backend.err <<'EOF' &
import http.server, os, ssl, sys, threading, time
lock = threading.Lock()
seen = [0]
folder = os.path.dirname(sys.argv[3])
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            seen[0] += 1
            n = seen[0]
        if n == 4:
            open(os.path.join(folder, "held"), "w").close()
            end = time.time() + 20
            while not os.path.exists(os.path.join(folder, "release")) and time.time() < end:
                time.sleep(0.02)
        body = b'{"error":"refused by the test"}'
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
open(sys.argv[3] + ".tmp", "w").write(str(srv.server_address[1]))
os.rename(sys.argv[3] + ".tmp", sys.argv[3])
srv.serve_forever()
EOF
AGENT_PIDS+=("$!")
wait_for 10 "the test backend" test -s port
PORT=$(cat port)

mkdir -m 0755 srv run
mkdir -m 0750 srv/data
DATA=$T/srv/data
cat >rampart.json <<JSON
{
  "agent": {"data_dir": "$DATA", "pid_file": "$T/run/rampartd.pid",
            "plugin_dir": "$T/plugins", "health_interval_ms": 100},
  "output": {"file": "events.ndjson", "stdout": false, "file_max_bytes": 4096, "file_keep": 2,
             "url": "https://127.0.0.1:$PORT/", "format": "ndjson", "ca_file": "$T/cert.pem",
             "flush_interval_ms": 50, "batch_max_events": 1},
  "spool": {"deadletter_max_bytes": 4500},
  "plugins": {}
}
JSON

"$RAMPARTD" --foreground --config "$T/rampart.json" >agent.out 2>agent.err &
AGENT=$!
AGENT_PIDS+=("$AGENT")

# dead_letters DIR : the number of dead letters (*.json notes) in DIR.
dead_letters() { find "$1" -maxdepth 1 -name '*.json' -type f 2>/dev/null | wc -l; }
has_dead_letters() { [ "$(dead_letters "$1")" -ge "$2" ]; }

wait_for 15 "status.json" test -s "$DATA/status.json"
wait_for 15 "a rotated events file" test -s "$DATA/events.ndjson.1"
wait_for 15 "the backend holding its answer to the fourth batch" test -e held
has_dead_letters "$DATA/deadletter" 1 || fail "no dead letter before the swap"
pid_alive "$AGENT" || fail "the agent exited: $(cat agent.err)"
[ -s run/rampartd.pid ] || fail "no pid file"

# The attacker's folders, each with a file the agent must not touch (an old
# dead letter first in name order, which a trim through the path would
# delete, and a pid file).
mkdir -m 1777 pub
as_attacker mkdir -m 0755 pub/atk pub/atk/deadletter pub/atkrun
as_attacker sh -c 'echo decoy >pub/atk/deadletter/00000000000000000000-decoy.json'
as_attacker sh -c 'echo 1 >pub/atkrun/rampartd.pid'
snapshot() { (cd pub && find . -printf '%p %s %y\n' | sort); }
BEFORE=$(snapshot)

mv srv/data srv/moved
ln -s "$T/pub/atk" srv/data
mv run run.moved
ln -s "$T/pub/atkrun" run
MOVED=$T/srv/moved

# What the agent writes from now on must land in the moved folders.
STATUS0=$(cat "$MOVED/status.json")
DEAD0=$(dead_letters "$MOVED/deadletter")
# Two rotations take the events file open now to events.ndjson.2: the
# events file and events.ndjson.1 then are files made after the move.
INO0=$(stat -c %i "$MOVED/events.ndjson")
status_changed() { [ "$(cat "$MOVED/status.json")" != "$STATUS0" ]; }
rotated_twice() { [ "$(stat -c %i "$MOVED/events.ndjson.2" 2>/dev/null)" = "$INO0" ]; }
spool_written() {
    find "$MOVED/spool" -maxdepth 1 -type f -newer "$T/moved-at" | grep -q .
}
newer_dead_letter() {
    find "$MOVED/deadletter" -maxdepth 1 -name '*.json' -newer "$T/moved-at" | grep -q .
}
# Every part is checked and every miss reported, so one run says which of
# the agent's writes went astray.
PROBLEMS=()
# expect SECONDS DESCRIPTION CMD... : waits (bounded) for CMD; notes a miss.
expect() {
    local secs=$1 what=$2
    local tries=$((secs * 20))
    shift 2
    until "$@" 2>/dev/null; do
        tries=$((tries - 1))
        if [ "$tries" -le 0 ]; then
            PROBLEMS+=("not within $secs s: $what")
            return 0
        fi
        sleep 0.05
    done
}
touch moved-at
touch release
expect 10 "status.json rewritten in the folder the agent opened" status_changed
expect 10 "two more rotations of the events file in the folder the agent opened" rotated_twice
expect 10 "a new dead letter in the folder the agent opened" newer_dead_letter
expect 10 "the spool's files written in the folder the agent opened" spool_written
pid_alive "$AGENT" || fail "the agent exited: $(cat agent.err)"
kill -TERM "$AGENT"
RC=0
wait "$AGENT" || RC=$?
[ "$RC" -eq 0 ] || fail "the agent exited $RC after SIGTERM: $(cat agent.err)"

AFTER=$(snapshot)
[ "$AFTER" = "$BEFORE" ] || PROBLEMS+=("the agent wrote through the planted paths: the user's folders
before:
$BEFORE
after:
$AFTER")
[ "$(cat pub/atkrun/rampartd.pid 2>/dev/null)" = 1 ] || PROBLEMS+=("the user's pid file changed")
[ ! -e run.moved/rampartd.pid ] || PROBLEMS+=("the pid file was not removed from the folder it was made in")
[ "$(cat "$MOVED/agent_id")" = "$(json_get "$MOVED/status.json" 'd["agent_id"]')" ] ||
    PROBLEMS+=("agent_id and status.json disagree")
if [ ${#PROBLEMS[@]} -gt 0 ]; then
    fail "$(printf '%s\n' "${PROBLEMS[@]}")"
fi
echo "PASS"
