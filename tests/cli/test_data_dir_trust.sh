#!/usr/bin/env bash
# agent.data_dir, attacked by an unprivileged user: the agent (root) must not
# write through a folder or file the user planted, nor take its identity from
# a planted agent_id.
#   1. the user pre-creates data_dir (in a sticky world-writable folder, like
#      /tmp) with events.ndjson a symbolic link to a root-only file: start-up
#      refuses the folder, naming it and what was expected (so does
#      --check-config); the file is untouched;
#   2. data_dir of root's inside a folder the user's group can write: refused;
#   3. data_dir of root's, holding a link events.ndjson (left from before):
#      the link is refused, its target untouched; a link as spool/ is refused;
#   4. agent_id with content that is no UUID, and a well-formed one owned by
#      the user: neither is used; each is replaced by a new id, with a warning.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/cli/attacker.sh
source "$(dirname "$0")/attacker.sh"
cd "$T"
make_attacker

printf 'root only\n' >secret
chmod 0600 secret
SECRET_SUM=$(sha256sum <secret)
secret_intact() {
    [ "$(sha256sum <secret)" = "$SECRET_SUM" ] || fail "$1: the root-only file was written: $(cat secret)"
}

# config DATA_DIR : a main config with that data folder and no plugins.
config() {
    cat >rampart.json <<JSON
{
  "agent": {"data_dir": "$1", "plugin_dir": "$T/plugins", "health_interval_ms": 100},
  "output": {"file": "events.ndjson", "stdout": false},
  "plugins": {}
}
JSON
}

# run_agent NAME : starts the agent in the foreground; stops it once it has
# written status.json or exited, within 10 s. Sets RC (0 when it ran).
run_agent() {
    "$RAMPARTD" --foreground --config "$T/rampart.json" >"$1.out" 2>"$1.err" &
    local pid=$!
    AGENT_PIDS+=("$pid")
    local tries=200
    while [ "$tries" -gt 0 ] && pid_alive "$pid" 2>/dev/null && [ ! -s "$DATA/status.json" ]; do
        tries=$((tries - 1))
        sleep 0.05
    done
    [ "$tries" -gt 0 ] || fail "$1: the agent neither started nor exited in 10 s"
    kill -TERM "$pid" 2>/dev/null || true
    RC=0
    wait "$pid" || RC=$?
}

# 1. A folder the attacker made, in a sticky world-writable one.
mkdir pub
chmod 1777 pub
DATA=$T/pub/data
as_attacker mkdir "$DATA"
as_attacker ln -s "$T/secret" "$DATA/events.ndjson"
config "$DATA"
run_agent planted
secret_intact "planted data folder"
[ "$RC" -eq 73 ] || fail "planted data folder: expected exit 73, got $RC: $(cat planted.err)"
grep -qxF "rampartd: agent.data_dir: $DATA: owned by uid $ATK_UID; expected root or the agent's user (uid 0)" planted.err ||
    fail "planted data folder: $(cat planted.err)"
[ ! -e "$DATA/agent_id" ] || fail "planted data folder: the agent wrote agent_id in it"
# --check-config says the same.
run_cmd chk.out chk.err "$RAMPARTD" --check-config --config "$T/rampart.json"
expect_rc 78 "--check-config with a planted data folder: $(cat chk.out)"
grep -qxF "rampartd: $T/rampart.json: agent.data_dir: $DATA: owned by uid $ATK_UID; expected root or the agent's user (uid 0)" chk.err ||
    fail "--check-config with a planted data folder: $(cat chk.err)"

# 2. Root's folder, but its parent is writable by the attacker's group.
mkdir -p grp/data
chown "root:$ATK_GID" grp
chmod 0775 grp
DATA=$T/grp/data
config "$DATA"
run_agent group
[ "$RC" -eq 73 ] || fail "group-writable parent: expected exit 73, got $RC: $(cat group.err)"
grep -qxF "rampartd: agent.data_dir: $T/grp: writable by group (mode 0775); expected a folder only root or the agent's user can change (or one with the sticky bit, like /tmp)" group.err ||
    fail "group-writable parent: $(cat group.err)"

# 3. Root's folder holding a link named events.ndjson.
mkdir -m 0750 own
DATA=$T/own
ln -s "$T/secret" "$DATA/events.ndjson"
config "$DATA"
run_agent link
secret_intact "events.ndjson a link"
[ "$RC" -eq 73 ] || fail "events.ndjson a link: expected exit 73, got $RC: $(cat link.err)"
grep -qF "error: $DATA/events.ndjson: refused as the events file (output.file): expected a regular file owned by root or the agent's user, with one name and no symbolic link" link.err ||
    fail "events.ndjson a link: $(cat link.err)"
rm "$DATA/events.ndjson"

# 3b. Root's folder holding a link named spool: refused before the spool
# (or the dead letters) could be written through it.
mkdir -m 0700 elsewhere
ln -s "$T/elsewhere" "$DATA/spool"
run_agent spoollink
[ "$RC" -eq 73 ] || fail "spool a link: expected exit 73, got $RC: $(cat spoollink.err)"
grep -qxF "rampartd: agent.data_dir: $DATA/spool: a symbolic link; expected a folder" spoollink.err ||
    fail "spool a link: $(cat spoollink.err)"
rm "$DATA/spool"

# 3c. Symbolic links above the data folder are followed by walking their
# target: a link of root's is fine (like /var/run -> /run); one of the
# attacker's, in a sticky folder it can write, is refused.
ln -s own "$T/rootlink"
config "$T/rootlink/."
DATA=$T/own
run_agent rootlink
[ "$RC" -eq 0 ] || fail "data folder through root's link: exit $RC: $(cat rootlink.err)"
rm -f "$DATA/status.json"
as_attacker ln -s "$T/own" "$T/pub/atklink"
config "$T/pub/atklink"
run_agent atklink
[ "$RC" -eq 73 ] || fail "data folder through the attacker's link: expected exit 73, got $RC: $(cat atklink.err)"
grep -qxF "rampartd: agent.data_dir: $T/pub/atklink: symbolic link owned by uid $ATK_UID; expected root or the agent's user (uid 0)" atklink.err ||
    fail "data folder through the attacker's link: $(cat atklink.err)"
config "$DATA"

# 4. agent_id planted: content that is no UUID, then a good one of the
# attacker's. The agent must use a new id and say why.
id_in_status() { json_get "$DATA/status.json" 'd["agent_id"]'; }
BAD='x","agent.id":"spoofed-0000000000000000000000'
printf '%s\n' "$BAD" >"$DATA/agent_id"
run_agent badid
[ "$RC" -eq 0 ] || fail "bad agent_id: the agent exited $RC: $(cat badid.err)"
ID=$(id_in_status)
[[ "$ID" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] ||
    fail "bad agent_id: the agent runs as [$ID]"
grep -qF "warn: $DATA/agent_id: expected one UUID like 0190c7e4-5b8a-7c3d-9e2f-1a2b3c4d5e6f; not used as the agent id: a new one, $ID, replaces it" badid.err ||
    fail "bad agent_id: no warning: $(cat badid.err)"
[ "$(cat "$DATA/agent_id")" = "$ID" ] || fail "bad agent_id: the file holds $(cat "$DATA/agent_id"), not $ID"

rm -f "$DATA/status.json"
FORGED=11111111-2222-4333-8444-555555555555
printf '%s\n' "$FORGED" >"$DATA/agent_id"
chown "$ATK_UID" "$DATA/agent_id"
run_agent forged
[ "$RC" -eq 0 ] || fail "forged agent_id: the agent exited $RC: $(cat forged.err)"
ID2=$(id_in_status)
[ "$ID2" != "$FORGED" ] || fail "forged agent_id: the agent took the identity the attacker chose"
grep -qF "warn: $DATA/agent_id: owned by uid $ATK_UID; expected root or the agent's user (uid 0); not used as the agent id: a new one, $ID2, replaces it" forged.err ||
    fail "forged agent_id: no warning: $(cat forged.err)"
[ "$(stat -c %u "$DATA/agent_id")" -eq 0 ] || fail "forged agent_id: the file is not root's now"

# The new id is kept: the next start uses it without a warning.
rm -f "$DATA/status.json"
run_agent again
[ "$(id_in_status)" = "$ID2" ] || fail "the agent id changed again: $(id_in_status), not $ID2"
! grep -qF "agent_id" again.err || fail "a warning about a good agent_id: $(cat again.err)"
echo "PASS"
