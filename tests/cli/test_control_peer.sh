#!/usr/bin/env bash
# Only root and the agent's own user may use the control socket, checked on
# each connection with the peer's credentials from the kernel (SO_PEERCRED),
# not only by the socket file's mode: with the mode loosened to 0666 and the
# folder opened to all, an unprivileged user created by the test is refused
# (status and reload alike), and the refusal is logged and published as an
# agent.control event naming its uid. Needs root (skipped otherwise).
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/cli/attacker.sh
source "$(dirname "$0")/attacker.sh"
cd "$T"
make_attacker

CFG=$T/rampart.json
mkdir -p plugins
cp "$(dirname "$RAMPARTD")/../plugins/collector_synthetic.so" plugins/
cat >"$CFG" <<'JSON'
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info",
            "health_interval_ms": 200},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {"synthetic": {"enabled": true, "file": "collector_synthetic.so",
                            "config": {"count": 10, "rate": 0}}}
}
JSON
chmod 0644 "$CFG"
"$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "the control socket" test -S data/control.sock
# The file mode no longer keeps anyone out: only the peer check is left.
chmod 0755 data
chmod 0666 data/control.sock

# run_cmd runs a command under timeout, so the user is set by setpriv
# directly (as_attacker is a shell function).
ATK=(setpriv --reuid "$ATK_UID" --regid "$ATK_GID" --clear-groups --)
cat >ask.py <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
try:
    s.sendall(sys.argv[2].encode() + b"\n")
except OSError:
    pass
sys.stdout.write(s.makefile("rb").readline().decode())
PY
run_cmd as.out as.err "${ATK[@]}" "$PY" ask.py "$T/data/control.sock" '{"cmd":"status"}'
[ "$RC" -eq 0 ] || fail "the attacker could not connect at all (mode not loosened?): $(cat as.err)"
grep -qF '"ok":false' as.out && grep -qF 'permission denied' as.out || fail "status as another user: $(cat as.out)"
grep -qF '"status"' as.out && fail "status leaked to another user"
run_cmd ar.out ar.err "${ATK[@]}" "$PY" ask.py "$T/data/control.sock" '{"cmd":"reload"}'
grep -qF 'permission denied' ar.out || fail "reload as another user: $(cat ar.out)"
run_cmd ap.out ap.err "${ATK[@]}" "$RAMPARTCTL" --config "$CFG" plugins
expect_rc 77 "rampartctl plugins as another user"
grep -qxF "rampartctl: plugins: permission denied: only root and the agent's user may use the control socket" ap.err ||
    fail "rampartctl as another user: $(cat ap.err)"
grep -qF "control: refused a connection from uid $ATK_UID (pid " agent.err || fail "no refusal in the log: $(cat agent.err)"
grep -qF "reload asked" agent.err && fail "a refused caller's reload was carried out"
wait_for 10 "the control-refused event" file_has data/events.ndjson '"event.action":"control-refused"'
"$PY" - data/events.ndjson "$ATK_UID" <<'PY' || fail "control-refused event: $(grep control-refused data/events.ndjson | head -1)"
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if '"control-refused"' in l][0]
assert e["user.id"] == sys.argv[2] and e["rampart.control.uid"] == int(sys.argv[2]), e
assert e["event.outcome"] == "failure" and e["rampart.control.pid"] > 0, e
PY
# Root is still served through the same socket.
run_cmd ok.out ok.err "$RAMPARTCTL" --config "$CFG" plugins
expect_rc 0 "rampartctl plugins as root: $(cat ok.err)"
kill -TERM "$APID"
wait "$APID" || fail "agent exit status"
echo PASS
