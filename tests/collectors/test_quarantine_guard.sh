#!/usr/bin/env bash
# responder_quarantine refuses what it must not touch, on the real agent with
# alerts raised by the test-only plugin alert_inject (the agent's policy
# asks for quarantine on the ruleset "test"), files made by an unprivileged
# test user:
#  - a file swapped between detection and action (the alert names the
#    original's device, inode and SHA-256; the user replaced it by another
#    file at the same path) is not quarantined, the other file is left as it
#    is, and the response says identity_changed; a file rewritten in place
#    (same inode, other bytes) is refused with hash_mismatch;
#  - a symbolic link is refused (symlink), its target untouched; a path
#    whose folder is a link into a refused folder is refused on what it
#    leads to (path_not_allowed);
#  - a path under a system folder (a folder of the test's own under /etc),
#    under refused_paths, or among the agent's own files (its events file)
#    is refused (path_not_allowed); allowed_paths lifts a refused prefix for
#    the folder it names;
#  - a file with a second name (hard link) is refused (hard_links), one over
#    max_file_bytes too (too_large), and one that would take the vault past
#    max_vault_bytes fails (vault_full); each is left in place;
#  - an alert without file.hash.sha256 is acted on by device and inode and
#    the response says so;
#  - nothing leaks: once the entries are deleted the vault is empty, no
#    temporary file is left beside the files acted on, and the folder under
#    /etc, the test user and its files are removed on exit.
# Usage: bash test_quarantine_guard.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
CFG=$T/rampart.json
EVENTS=$T/data/events.ndjson
export EVENTS
# shellcheck source=tests/collectors/quarantine_lib.sh
source "$(dirname "$0")/quarantine_lib.sh"
cd "$T"

mkdir -m 0755 work protected protected/ok
chown "$QUSER" work protected protected/ok
# A folder of the test's own under /etc, a system folder: never real files.
ETC_DIR=$(mktemp -d /etc/rampart-test-XXXXXX)
EXTRA_CLEAN+=("$ETC_DIR")
chmod 0755 "$ETC_DIR"
chown "$QUSER" "$ETC_DIR"

cat >"$CFG" <<JSON
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "policy": {"default": {"mode": "detect"},
             "rulesets": {"test": {"mode": "prevent", "actions": ["quarantine"]}}},
  "plugins": {
    "inject": {"enabled": true, "file": "$INJECT_SO"},
    "quarantine": {"enabled": true, "file": "responder_quarantine.so",
                   "config": {"refused_paths": ["$T/protected"],
                              "allowed_paths": ["$T/protected/ok"],
                              "max_file_bytes": 100000, "max_vault_bytes": 65536}}
  }
}
JSON
start_agent agent

# acted ALERT_ID: waits for the quarantine response of the alert, prints it.
acted() {
    wait_for 5 "the response to alert $1" has_response "$1" quarantine
    response "$1" quarantine
}
# with_path IDENTITY_JSON PATH: the identity with another file.path.
with_path() {
    "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); d["file.path"]=sys.argv[2]; print(json.dumps(d))' "$1" "$2"
}

# ---- a file swapped between detection and action -----------------------------------------
as_user sh -c "printf 'the file detected\n' >'$T/work/swapped'"
ID=$(identity "$T/work/swapped")
as_user sh -c "printf 'another file, put there after the detection\n' >'$T/work/other' && mv -f '$T/work/other' '$T/work/swapped'"
OTHER_SHA=$(sha256sum "$T/work/swapped" | cut -c1-64)
AID=$(inject t.swap "$ID")
R=$(acted "$AID")
expect_response "$R" refused identity_changed
"$PY" - "$R" "$ID" <<'PY' || fail "swap response fields: $R"
import json, sys
r, want = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert r["file.path"] == want["file.path"], r
assert "quarantine.id" not in r and "replaced" in r["message"], r
# The response names the file it found, not the alert's.
assert r["file.inode"] != want["file.inode"], r
PY
[ "$(sha256sum "$T/work/swapped" | cut -c1-64)" = "$OTHER_SHA" ] || fail "the other file was changed"
[ "$(stat -c %U "$T/work/swapped")" = "$QUSER" ] || fail "the other file changed owner"

# The same inode rewritten in place: the SHA-256 no longer matches.
as_user sh -c "printf 'detected bytes\n' >'$T/work/rewritten'"
ID=$(identity "$T/work/rewritten")
as_user sh -c "printf 'other bytes!!!\n' >'$T/work/rewritten'"
AID=$(inject t.rewrite "$ID")
expect_response "$(acted "$AID")" refused hash_mismatch
grep -qx 'other bytes!!!' "$T/work/rewritten" || fail "the rewritten file was changed"

# ---- links -----------------------------------------------------------------------------------
as_user sh -c "printf 'link target\n' >'$T/work/target' && ln -s '$T/work/target' '$T/work/link'"
AID=$(inject t.link "$(with_path "$(identity "$T/work/target")" "$T/work/link")")
expect_response "$(acted "$AID")" refused symlink
[ -L "$T/work/link" ] && grep -qx 'link target' "$T/work/target" || fail "the link or its target changed"

as_user sh -c "printf 'under etc\n' >'$ETC_DIR/file' && ln -s '$ETC_DIR' '$T/work/dirlink'"
AID=$(inject t.dirlink "$(with_path "$(identity "$ETC_DIR/file")" "$T/work/dirlink/file")")
R=$(acted "$AID")
expect_response "$R" refused path_not_allowed
case $R in *"once links are followed"*) ;; *) fail "dirlink message: $R" ;; esac

# ---- refused prefixes --------------------------------------------------------------------------
AID=$(inject t.etc "$(identity "$ETC_DIR/file")")
R=$(acted "$AID")
expect_response "$R" refused path_not_allowed
case $R in *"a system folder"*) ;; *) fail "etc message: $R" ;; esac
grep -qx 'under etc' "$ETC_DIR/file" || fail "the file under /etc was changed"

as_user sh -c "printf 'protected\n' >'$T/protected/file' && printf 'allowed\n' >'$T/protected/ok/file'"
AID=$(inject t.protected "$(identity "$T/protected/file")")
R=$(acted "$AID")
expect_response "$R" refused path_not_allowed
case $R in *"under refused_paths"*) ;; *) fail "refused_paths message: $R" ;; esac
[ -f "$T/protected/file" ] || fail "the refused file was removed"

wait_for 5 "the events file" test -s "$EVENTS"
AID=$(inject t.own "$(identity "$EVENTS")")
R=$(acted "$AID")
expect_response "$R" refused path_not_allowed
case $R in *"the agent's own files"*) ;; *) fail "own files message: $R" ;; esac

# allowed_paths names a folder under the refused one: quarantined.
AID=$(inject t.allowed "$(identity "$T/protected/ok/file")")
expect_response "$(acted "$AID")" done
[ ! -e "$T/protected/ok/file" ] || fail "the allowed file is still there"

# ---- hard links and the caps ----------------------------------------------------------------------
as_user sh -c "printf 'two names\n' >'$T/work/linked' && ln '$T/work/linked' '$T/work/linked2'"
expect_response "$(acted "$(inject t.hardlink "$(identity "$T/work/linked")")")" refused hard_links
[ -f "$T/work/linked" ] && [ -f "$T/work/linked2" ] || fail "a name of the hard-linked file was removed"
as_user sh -c "head -c 120000 /dev/zero >'$T/work/large'"
expect_response "$(acted "$(inject t.large "$(identity "$T/work/large")")")" refused too_large
[ "$(stat -c %s "$T/work/large")" -eq 120000 ] || fail "the large file was changed"
# Under max_file_bytes, over what the vault (64 KiB) has room for.
as_user sh -c "head -c 70000 /dev/zero >'$T/work/big'"
expect_response "$(acted "$(inject t.big "$(identity "$T/work/big")")")" failed vault_full
[ "$(stat -c %s "$T/work/big")" -eq 70000 ] || fail "the file refused by the vault was changed"

# ---- without a hash: device and inode only, and said ---------------------------------------------
as_user sh -c "printf 'no hash given\n' >'$T/work/nohash'"
ID=$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); del d["file.hash.sha256"]; print(json.dumps(d))' \
    "$(identity "$T/work/nohash")")
AID=$(inject t.nohash "$ID")
R=$(acted "$AID")
expect_response "$R" done
case $R in *"device and inode only"*) ;; *) fail "no-hash message: $R" ;; esac
[ ! -e "$T/work/nohash" ] || fail "the file without a hash is still there"

# ---- nothing leaks ---------------------------------------------------------------------------------
qctl list.out list.err list
expect_rc 0 "list: $(cat list.err)"
[ "$(json_get list.out 'd["count"]')" -eq 2 ] || fail "expected 2 entries: $(cat list.out)"
for id in $(json_get list.out '" ".join(e["id"] for e in d["entries"])'); do
    qctl del.out del.err delete "$id"
    expect_rc 0 "delete $id: $(cat del.err)"
    wait_for 5 "the delete response" has_command_response delete "$id" done
done
qctl list.out list.err list
[ "$(json_get list.out 'd["count"]')" -eq 0 ] || fail "entries left: $(cat list.out)"
[ -z "$(vault_files)" ] || fail "files left in the vault: $(vault_files)"
left=$(find "$T/work" "$T/protected" "$ETC_DIR" -name '.rq-*')
[ -z "$left" ] || fail "temporary files left: $left"
stop_agent
echo "responder_quarantine: swapped, rewritten, linked, refused and own files left alone; said why"
