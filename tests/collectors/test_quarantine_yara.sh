#!/usr/bin/env bash
# responder_quarantine with the YARA detector on the real agent: the file
# collector watches a folder of an unprivileged test user, detector_yara runs
# the project's rules (config/rules/yara), and the policy is prevent with the
# action quarantine for the EICAR rule.
#  - the EICAR test file written by the user is gone within 2 s, an entry is
#    listed (`rampartctl plugin quarantine list`) with the file's path,
#    SHA-256, size, mode and owner, and the response.quarantine event is in
#    the output with rampart.response.alert_id the alert's event.id, outcome
#    done and the entry's quarantine.id;
#  - `restore ID` brings back identical bytes (cmp), mode, owner and mtime,
#    and publishes response.restore; a second restore over the file is
#    refused (target_exists) unless --overwrite;
#  - the entry with one byte of its content flipped, and separately one
#    byte of its metadata, refuses to restore (tag_mismatch, said in the
#    reply and in a response.restore event) and writes nothing at the
#    target; flipped back, it restores again;
#  - `delete ID` empties the vault; nothing of the test is left.
# Usage: bash test_quarantine_yara.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
CFG=$T/rampart.json
EVENTS=$T/data/events.ndjson
export EVENTS
# shellcheck source=tests/collectors/quarantine_lib.sh
source "$(dirname "$0")/quarantine_lib.sh"
for so in collector_file detector_yara; do
    [ -f "$PLUGIN_DIR/$so.so" ] || fail "no $so.so in $PLUGIN_DIR"
done
RULES=$SRC_DIR/config/rules/yara
[ -f "$RULES/eicar.yar" ] || fail "no $RULES/eicar.yar"
cd "$T"

mkdir -m 0755 watch
chown "$QUSER" watch
cat >"$CFG" <<JSON
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "policy": {"default": {"mode": "detect"},
             "rules": {"yara.Rampart_EICAR_Test_File": {"mode": "prevent", "actions": ["quarantine"]}}},
  "plugins": {
    "file": {"enabled": true, "file": "collector_file.so",
             "config": {"paths": ["$T/watch"], "events": ["create", "modify"]}},
    "yara": {"enabled": true, "file": "detector_yara.so",
             "config": {"rule_dirs": ["$RULES"], "scan_execs": false}},
    "quarantine": {"enabled": true, "file": "responder_quarantine.so", "config": {}}
  }
}
JSON
start_agent agent
wait_for 20 "the detector to run" file_has agent.err "plugin yara: running"
wait_for 20 "the file collector to run" file_has agent.err "plugin file: running"

# The EICAR test file, put together here so that no file of the project
# holds it whole; a reference copy stays out of the watched folder.
printf '%s%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$' 'EICAR-STANDARD-ANTIVIRUS' '-TEST-FILE!$H+H*' >eicar.ref
chmod 0644 eicar.ref
EPATH=$T/watch/eicar-$$.com
export EPATH ESHA=$(sha256sum eicar.ref | cut -c1-64)
before_ns=$(date +%s%N)
as_user sh -c "umask 027 && cat '$T/eicar.ref' >'$EPATH'"
after_ns=$(date +%s%N)
gone() { [ ! -e "$EPATH" ]; }
wait_for 2 "the EICAR file to be quarantined" gone

# The alert and its response, linked by the alert's event.id.
quarantine_response() {
    "$PY" - <<'PY'
import json, os, sys
evs = [json.loads(l) for l in open(os.environ["EVENTS"])]
alerts = [e for e in evs if e.get("event.kind") == "alert" and
          e.get("rule.id") == "yara.Rampart_EICAR_Test_File" and e.get("file.path") == os.environ["EPATH"]]
resp = [e for e in evs if e.get("rampart.response.action") == "quarantine" and
        any(e.get("rampart.response.alert_id") == a["event.id"] for a in alerts)]
done = [e for e in resp if e["rampart.response.outcome"] == "done"]
if len(done) != 1:
    sys.exit(1)
print(json.dumps(done[0]))
PY
}
wait_for 5 "the response.quarantine event" quarantine_response
R=$(quarantine_response)
expect_response "$R" done
qctl list.out list.err list
expect_rc 0 "list: $(cat list.err)"
"$PY" - "$R" list.out <<'PY' || fail "entry or response: $R $(cat list.out)"
import json, os, sys
r, lst = json.loads(sys.argv[1]), json.load(open(sys.argv[2]))
env = os.environ
assert lst["count"] == 1 and len(lst["entries"]) == 1, lst
e = lst["entries"][0]
assert e["valid"] and e["path"] == env["EPATH"] and e["sha256"] == env["ESHA"], e
assert e["size"] == 68 and e["mode"] == "0640" and e["uid"] == int(env["QUID"]), e
assert e["gid"] == int(env["QGID"]) and e["rule"] == "yara.Rampart_EICAR_Test_File", e
assert r["quarantine.id"] == e["id"] and r["file.path"] == env["EPATH"], r
assert r["file.hash.sha256"] == env["ESHA"] and r["file.size"] == 68, r
assert r["event.category"] == ["file"] and r["event.type"] == ["deletion"], r
assert r["rampart.response.trigger"] == "alert" and r["rampart.response.latency_us"] > 0, r
assert r["rule.id"] == "yara.Rampart_EICAR_Test_File", r
assert r["rampart.policy.matched"] == ["policy.rules.yara.Rampart_EICAR_Test_File"], r
PY
QID=$(json_get list.out 'd["entries"][0]["id"]')
MTIME_NS=$(json_get list.out 'd["entries"][0]["mtime_ns"]')
# The recorded mtime is the write's, so a restore that left "now" would differ.
[ "$MTIME_NS" -ge $((before_ns - 1000000000)) ] && [ "$MTIME_NS" -le "$after_ns" ] ||
    fail "recorded mtime $MTIME_NS outside the write ($before_ns..$after_ns)"
ENTRY=$T/data/plugins/quarantine/vault/$QID
[ -f "$ENTRY" ] || fail "no vault file $ENTRY"
! grep -qF 'EICAR-STANDARD' "$ENTRY" || fail "the vault entry holds the plain bytes"

# ---- restore: identical bytes, mode, owner and mtime -----------------------------------------
qctl restore.out restore.err restore "$QID"
expect_rc 0 "restore: $(cat restore.err)"
cmp eicar.ref "$EPATH" || fail "the restored bytes differ"
[ "$(stat -c '%a %u %g' "$EPATH")" = "640 $QUID $QGID" ] ||
    fail "restored mode/owner: $(stat -c '%a %u %g' "$EPATH"), expected 640 $QUID $QGID"
[ "$("$PY" -c 'import os,sys; print(os.stat(sys.argv[1]).st_mtime_ns)' "$EPATH")" = "$MTIME_NS" ] ||
    fail "restored mtime differs from $MTIME_NS"
wait_for 5 "the response.restore event" has_command_response restore "$QID" done
# Over the restored file: refused unless asked.
qctl again.out again.err restore "$QID"
expect_rc 70 "restore over an existing file"
grep -qF "target_exists" again.err || fail "restore over a file: $(cat again.err)"
qctl over.out over.err restore "$QID" --overwrite
expect_rc 0 "restore --overwrite: $(cat over.err)"
cmp eicar.ref "$EPATH" || fail "the overwritten bytes differ"
rm -f "$EPATH"

# ---- one flipped byte refuses to restore, and writes nothing -----------------------------------
# flip OFFSET: flips the low bit of the byte at OFFSET (negative: from the end).
flip() {
    "$PY" - "$ENTRY" "$1" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
off = int(sys.argv[2])
if off < 0:
    off += os.fstat(fd).st_size
b = os.pread(fd, 1, off)
os.pwrite(fd, bytes([b[0] ^ 1]), off)
os.close(fd)
PY
}
mkdir -m 0755 restored
# refused_restore TARGET WHAT: restore --to TARGET fails with tag_mismatch,
# nothing appears in the folder, and a refused response is published.
refused_restore() {
    local n
    n=$(command_responses restore "$QID" | grep -cF '"tag_mismatch"' || true)
    qctl bad.out bad.err restore "$QID" --to "$1"
    expect_rc 70 "restore of the entry with $2 flipped"
    grep -qF "authentication failed" bad.err && grep -qF "(tag_mismatch)" bad.err ||
        fail "restore with $2 flipped: $(cat bad.err)"
    [ -z "$(ls -A restored)" ] || fail "restore with $2 flipped wrote: $(ls -A restored)"
    wait_for 5 "the refused response.restore" \
        eval '[ "$(command_responses restore "$QID" | grep -cF "\"tag_mismatch\"")" -gt "$n" ]'
}
# Content: the last byte before the 16-byte tag.
flip -17
refused_restore "$T/restored/content" content
flip -17
# Metadata: a byte of the recorded mtime (offset 44, see README.md).
flip 44
refused_restore "$T/restored/meta" metadata
flip 44
# Flipped back, the same entry restores: the refusals were the flips'.
qctl ok.out ok.err restore "$QID" --to "$T/restored/ok"
expect_rc 0 "restore of the entry flipped back: $(cat ok.err)"
cmp eicar.ref restored/ok || fail "the bytes restored after flipping back differ"
rm -f restored/ok

# ---- delete: nothing left ----------------------------------------------------------------------
qctl del.out del.err delete "$QID"
expect_rc 0 "delete: $(cat del.err)"
wait_for 5 "the response.delete event" has_command_response delete "$QID" done
[ -z "$(vault_files)" ] || fail "files left in the vault: $(vault_files)"
left=$(find "$T/watch" "$T/restored" -mindepth 1)
[ -z "$left" ] || fail "files left: $left"
stop_agent
echo "responder_quarantine: EICAR quarantined within 2 s, restored identical; altered entries refused"
