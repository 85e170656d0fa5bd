#!/usr/bin/env bash
# agent.control_socket: the socket in a folder of its own (as /run/rampart
# when installed), found by rampartctl from the same configuration; the
# folder checked like the data folder (a group-writable one is refused: the
# agent runs without the socket, says why, and rampartctl says it is not
# running); relative to data_dir when relative; the default is
# <data_dir>/control.sock.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"

CFG=$T/rampart.json
mkdir -p plugins
cp "$(dirname "$RAMPARTD")/../plugins/collector_synthetic.so" plugins/
write_cfg() {
    cat >"$CFG" <<JSON
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info"$1},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {"synthetic": {"enabled": true, "file": "collector_synthetic.so",
                            "config": {"count": 0, "rate": 10}}}
}
JSON
}
start_agent() {
    : >agent.err
    "$RAMPARTD" --foreground --config "$CFG" >>agent.out 2>>agent.err &
    APID=$!
    AGENT_PIDS+=("$APID")
    wait_for 10 "the agent started" grep -q "rampartd .* started" agent.err
}
stop_agent() {
    kill -TERM "$APID"
    wait "$APID" || fail "agent exit status"
}

# ---- 1. a folder of its own, absolute -----------------------------------------
mkdir -m 0700 run
write_cfg ", \"control_socket\": \"$T/run/ctl.sock\""
start_agent
wait_for 10 "the socket in run/" test -S run/ctl.sock
[ ! -e data/control.sock ] || fail "a socket was made in the data folder too"
[ "$(stat -c %a run/ctl.sock)" = 600 ] || fail "socket mode $(stat -c %a run/ctl.sock)"
run_cmd st.out st.err "$RAMPARTCTL" --config "$CFG" status --json
expect_rc 0 "status through run/ctl.sock: $(cat st.err)"
WPID=$(worker_pid "$APID") || fail "no worker under the supervisor $APID"
[ "$(json_get st.out 'd["pid"]')" = "$WPID" ] || fail "status pid"
run_cmd pl.out pl.err "$RAMPARTCTL" --config "$CFG" plugins
expect_rc 0 "plugins through run/ctl.sock: $(cat pl.err)"
stop_agent
[ ! -e run/ctl.sock ] || fail "the socket outlived the agent"
run_cmd dn.out dn.err "$RAMPARTCTL" --config "$CFG" plugins
expect_rc 69 "plugins with the agent down"
grep -qxF "rampartctl: rampartd is not running (no control socket answers at $T/run/ctl.sock)" dn.err ||
    fail "agent down said: $(cat dn.err)"

# ---- 2. a group-writable folder: refused, the agent runs without it -------------
chmod 0770 run
start_agent
grep -qE "warn: control socket not available: agent.control_socket \($T/run/ctl.sock\): .*$T/run" agent.err ||
    fail "refused folder not said: $(grep -i control agent.err)"
[ ! -e run/ctl.sock ] || fail "a socket was made in a group-writable folder"
pid_alive "$APID" || fail "the agent stopped over its socket's folder"
run_cmd gw.out gw.err "$RAMPARTCTL" --config "$CFG" plugins
expect_rc 69 "plugins with the socket refused"
stop_agent

# ---- 3. relative to data_dir; and the default ------------------------------------
write_cfg ', "control_socket": "ctl/agent.sock"'
mkdir -p -m 0700 data/ctl
start_agent
wait_for 10 "the socket in data/ctl/" test -S data/ctl/agent.sock
run_cmd rl.out rl.err "$RAMPARTCTL" --config "$CFG" status --json
expect_rc 0 "status through data/ctl/agent.sock: $(cat rl.err)"
stop_agent
write_cfg ''
start_agent
wait_for 10 "the default socket" test -S data/control.sock
run_cmd df.out df.err "$RAMPARTCTL" --config "$CFG" status --json
expect_rc 0 "status through the default socket: $(cat df.err)"
stop_agent
echo PASS
