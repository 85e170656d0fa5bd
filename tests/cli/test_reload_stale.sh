#!/usr/bin/env bash
# rampartctl reload with a stale pid file: the agent died without removing it
# and its pid now belongs to another user's process (a sleep the test starts
# as an unprivileged user). reload must not signal it (SIGHUP would end the
# sleep), say the pid file is stale and exit 69; with the agent running again,
# reload reaches it.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/cli/attacker.sh
source "$(dirname "$0")/attacker.sh"
cd "$T"
make_attacker

CFG=$T/rampart.json
PIDFILE=$T/data/rampartd.pid
write_config "$CFG" info
mkdir -m 0750 data

spawn_attacker victim.out victim.err sleep 60
VICTIM=$ATK_LAST
victim_runs() { [ "$(stat -c %u "/proc/$VICTIM" 2>/dev/null)" = "$ATK_UID" ]; }
wait_for 5 "the unrelated process" victim_runs
printf '%s\n' "$VICTIM" >"$PIDFILE"

run_cmd stale.out stale.err "$RAMPARTCTL" --config "$CFG" reload
sleep 0.2
pid_alive "$VICTIM" || fail "rampartctl reload signalled pid $VICTIM, named by a stale pid file"
expect_rc 69 "reload with a stale pid file"
grep -qxF "rampartctl: $PIDFILE: no running agent found (no agent holds its lock; the pid in it, if any, is stale and was not signalled)" stale.err ||
    fail "stale pid file: $(cat stale.err)"

# A pid file that is a link (to a file naming the victim) is not followed.
rm "$PIDFILE"
printf '%s\n' "$VICTIM" >elsewhere.pid
ln -s "$T/elsewhere.pid" "$PIDFILE"
run_cmd link.out link.err "$RAMPARTCTL" --config "$CFG" reload
pid_alive "$VICTIM" || fail "rampartctl reload signalled pid $VICTIM through a linked pid file"
expect_rc 69 "reload with a linked pid file"
grep -qxF "rampartctl: $PIDFILE: not used: expected a regular file owned by root or this user, not a symbolic link" link.err ||
    fail "linked pid file: $(cat link.err)"
rm "$PIDFILE"

# With the agent running (it holds the lock), reload reaches it.
"$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "the pid file" file_has "$PIDFILE" "$APID"
# The pid file is written at start, the control socket once the loop runs:
# wait for the socket, which is how rampartctl reaches a running agent.
control_up() { [ -S "$T/data/control.sock" ]; }
wait_for 10 "the control socket" control_up
run_cmd live.out live.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 0 "reload of a running agent: $(cat live.err)"
grep -qxF "rampartctl: rampartd reloaded its configuration" live.out ||
    fail "reload said: $(cat live.out)"
wait_for 10 "the reload in the agent's log" file_has agent.err "reload"
pid_alive "$VICTIM" || fail "the unrelated process died"
echo "PASS"
