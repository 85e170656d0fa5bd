#!/usr/bin/env bash
# Signed plugins (issue 16 item 6), as an operator meets them: keys made with
# openssl, plugins signed with `rampartctl sign`, and one agent configured
# with agent.trusted_keys and agent.require_signed_plugins. The validly
# signed plugin loads ("signed by key <id>" in the log) and runs; a tampered
# one (one byte changed after signing), one signed by an unknown key, one with
# a malformed .sig, an unsigned one, and one in a folder writable by others
# are each refused with their reason in the log, `rampartctl plugins --json`,
# `rampartctl status` and `rampartd --check-config`, and the agent runs on
# with the good one. Without require_signed_plugins an unsigned plugin loads
# but a bad signature is still refused. A trusted key that is not P-256, or
# that others can write, is a config error naming the file and the key.
# A reload of the running plugin's file, tampered with, is refused and the
# running copy stays. `rampartctl verify` gives the same verdicts with its
# documented exit codes.
# (A plugin swapped on disk between the check and the load: unit test
# test_os_trust, test_dl_open_checked_swap.)
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"
command -v openssl >/dev/null || skip "needs openssl to make the test keys"
SYN="$(dirname "$RAMPARTD")/../plugins/collector_synthetic.so"
HELLO="$(dirname "$RAMPARTD")/../plugins/hello_detector.so"
[ -f "$SYN" ] && [ -f "$HELLO" ] || fail "no built plugins next to $RAMPARTD"

mkdir -p keys plugins open
chmod 0755 keys plugins
openssl ecparam -name prime256v1 -genkey -noout -out keys/vendor.pem 2>/dev/null
openssl ec -in keys/vendor.pem -pubout -out keys/vendor.pub.pem 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out stranger.pem 2>/dev/null
openssl genrsa -out rsa.pem 2048 2>/dev/null
openssl rsa -in rsa.pem -pubout -out keys/rsa.pub.pem 2>/dev/null
chmod 0644 keys/*.pub.pem
KEY_FULL=$(openssl pkey -pubin -in keys/vendor.pub.pem -outform DER | sha256sum | cut -c1-64)
KEY_ID=${KEY_FULL:0:16}
STRANGER_ID=$(openssl ec -in stranger.pem -pubout -outform DER 2>/dev/null | sha256sum | cut -c1-16)

install -m 0644 "$SYN" plugins/good.so
install -m 0644 "$SYN" plugins/tampered.so
install -m 0644 "$SYN" plugins/stranger.so
install -m 0644 "$SYN" plugins/malformed.so
install -m 0644 "$SYN" plugins/unsigned.so
install -m 0644 "$SYN" open/opened.so
run_cmd s1.out s1.err "$RAMPARTCTL" sign --key keys/vendor.pem plugins/good.so
expect_rc 0 "sign: $(cat s1.err)"
grep -qxF "plugins/good.so.sig: signed by key $KEY_ID" s1.out || fail "sign output: $(cat s1.out)"
"$RAMPARTCTL" sign --key keys/vendor.pem plugins/tampered.so >/dev/null
"$RAMPARTCTL" sign --key stranger.pem plugins/stranger.so >/dev/null
"$RAMPARTCTL" sign --key keys/vendor.pem open/opened.so >/dev/null
printf 'rampart-plugin-signature 1\nkey-id %s\n' "$KEY_FULL" >plugins/malformed.so.sig
# One byte changed after signing, where the library still loads (a letter of
# the compiler's note in .comment): only the signature can tell.
off=$(grep -boa 'GCC: ' plugins/tampered.so | head -n1 | cut -d: -f1)
[ -n "$off" ] || fail "no .comment note in the plugin to change"
printf 'X' | dd of=plugins/tampered.so bs=1 seek="$off" conv=notrunc status=none
chmod 0644 plugins/*.sig open/*.sig
chmod 0777 open # writable by others, no sticky bit

# rampartctl verify: the same verdicts, exit 0 or 1.
run_cmd v.out v.err "$RAMPARTCTL" verify --key keys/vendor.pub.pem plugins/good.so
expect_rc 0 "verify good: $(cat v.out v.err)"
grep -qxF "plugins/good.so: signature OK, signed by key $KEY_ID" v.out || fail "verify good: $(cat v.out)"
run_cmd v.out v.err "$RAMPARTCTL" verify --key keys/vendor.pub.pem plugins/tampered.so
expect_rc 1 "verify tampered"
grep -qF "plugins/tampered.so: refused: bad signature: the file changed after it was signed" v.out ||
    fail "verify tampered: $(cat v.out)"
run_cmd v.out v.err "$RAMPARTCTL" verify --key keys/vendor.pub.pem plugins/stranger.so
expect_rc 1 "verify stranger"
grep -qxF "plugins/stranger.so: refused: signed by an unknown key $STRANGER_ID; trusted: $KEY_ID" v.out ||
    fail "verify stranger: $(cat v.out)"
run_cmd v.out v.err "$RAMPARTCTL" verify --key keys/vendor.pub.pem plugins/unsigned.so
expect_rc 1 "verify unsigned"
grep -qxF "plugins/unsigned.so: refused: not signed (no plugins/unsigned.so.sig)" v.out ||
    fail "verify unsigned: $(cat v.out)"
run_cmd v.out v.err "$RAMPARTCTL" verify --key keys/rsa.pub.pem plugins/good.so
expect_rc 78 "verify with an RSA key"
grep -qxF "rampartctl: key keys/rsa.pub.pem: an RSA key; expected an EC key on P-256 (prime256v1, secp256r1)" v.err ||
    fail "verify RSA key: $(cat v.err)"
run_cmd v.out v.err "$RAMPARTCTL" sign --key rsa.pem plugins/unsigned.so
expect_rc 65 "sign with an RSA key"
[ ! -e plugins/unsigned.so.sig ] || fail "an RSA key wrote a signature"

CFG=$T/rampart.json
cat >"$CFG" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info",
            "health_interval_ms": 200, "trusted_keys": ["keys/vendor.pub.pem"],
            "require_signed_plugins": true},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 50},
  "plugins": {
    "good": {"enabled": true, "file": "good.so", "config": {"count": 5, "rate": 0}},
    "tampered": {"enabled": true, "file": "tampered.so"},
    "stranger": {"enabled": true, "file": "stranger.so"},
    "malformed": {"enabled": true, "file": "malformed.so"},
    "unsigned": {"enabled": true, "file": "unsigned.so"},
    "opened": {"enabled": true, "file": "$T/open/opened.so"}
  }
}
EOF
declare -A WHY=(
    [tampered]="$T/plugins/tampered.so: bad signature: the file changed after it was signed (SHA-256 "
    [stranger]="$T/plugins/stranger.so: signed by an unknown key $STRANGER_ID; trusted: $KEY_ID"
    [malformed]="$T/plugins/malformed.so: malformed signature file $T/plugins/malformed.so.sig: line 3: expected \"file-sha256 \" and 64 lower-case hex digits, ended by a newline"
    [unsigned]="$T/plugins/unsigned.so: not signed (no $T/plugins/unsigned.so.sig next to it) and agent.require_signed_plugins is true"
    [opened]="untrusted file: $T/open: writable by others (mode 0777); expected a folder only root or the agent's user can change"
)

# --check-config reports every refusal, one line each, and exits 78.
run_cmd cc.out cc.err "$RAMPARTD" --check-config --config "$CFG"
expect_rc 78 "check-config with refused plugins: $(cat cc.err)"
for name in "${!WHY[@]}"; do
    grep -qF "rampartd: $CFG: plugins.$name: ${WHY[$name]}" cc.err ||
        fail "check-config: no line for $name [${WHY[$name]}]"
done
grep -qF "plugins.good" cc.err && fail "check-config refused the validly signed plugin"

# The agent: the good plugin runs and says who signed it; the others are
# refused with their reason, and the agent runs on.
"$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "the start-up line" file_has agent.err "rampartd $VERSION started"
grep -qE "info: plugin good: loaded .* from $T/plugins/good.so, signed by key $KEY_ID$" agent.err ||
    fail "no 'signed by key' load line: $(grep 'plugin good' agent.err)"
for name in "${!WHY[@]}"; do
    grep -qF "error: plugin $name refused: ${WHY[$name]}" agent.err ||
        fail "log: no refusal of $name [${WHY[$name]}]"
done
wait_for 10 "the good plugin's five events" \
    "$PY" -c 'import sys; sys.exit(sum("\"process.entity_id\"" in l for l in open(sys.argv[1])) < 5)' data/events.ndjson
run_cmd pj.out pj.err "$RAMPARTCTL" --config "$CFG" plugins --json
expect_rc 0 "plugins --json: $(cat pj.err)"
"$PY" - pj.out "$(declare -p WHY)" <<'PY' || fail "rampartctl plugins --json"
import json, re, sys
d = json.load(open(sys.argv[1]))
ps = d["plugins"] if isinstance(d, dict) and "plugins" in d else d
byname = {p["name"]: p for p in ps}
assert byname["good"]["state"] == "running", byname["good"]
why = dict(re.findall(r'\[(\w+)\]="((?:[^"\\]|\\.)*)"', sys.argv[2]))
assert len(why) == 5, why
for name, text in why.items():
    text = text.replace('\\"', '"').replace("\\$", "$")
    p = byname[name]
    assert p["state"] == "refused", p
    assert text in p["error"], (name, p["error"], text)
PY
run_cmd st.out st.err "$RAMPARTCTL" --config "$CFG" status
expect_rc 1 "status of an agent with refused plugins"
grep -qE "^  good +running +5 " st.out || fail "status: good not running: $(cat st.out)"
grep -qE "^  tampered +refused .*bad signature: the file changed after it was signed" st.out ||
    fail "status: tampered row: $(cat st.out)"
# The running good plugin's file tampered with in place (the agent runs a
# sealed copy of it, so this cannot reach the running code), then a reload:
# the changed file is refused for its signature and the running copy stays.
off=$(grep -boa 'GCC: ' plugins/good.so | head -n1 | cut -d: -f1)
printf 'Y' | dd of=plugins/good.so bs=1 seek="$off" conv=notrunc status=none
run_cmd rl.out rl.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 78 "reload of a tampered plugin file: $(cat rl.out rl.err)"
grep -qF "bad signature: the file changed after it was signed" rl.out rl.err ||
    fail "reload: no reason: $(cat rl.out rl.err)"
echo "reload refused: $(cat rl.out rl.err)"
run_cmd st2.out st2.err "$RAMPARTCTL" --config "$CFG" status
grep -qE "^  good +running +5 " st2.out || fail "status after the refused reload: $(cat st2.out)"
pid_alive "$APID" || fail "the agent died"
kill -TERM "$APID"
wait "$APID" || fail "agent exit status"

# Without require_signed_plugins: an unsigned plugin loads, a bad signature
# is still refused.
"$PY" - "$CFG" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["agent"]["require_signed_plugins"] = False
for n in ("good", "stranger", "malformed", "opened"):
    c["plugins"][n]["enabled"] = False
c["plugins"]["unsigned"]["config"] = {"count": 1, "rate": 0}
json.dump(c, open(sys.argv[1], "w"))
PY
run_cmd cc2.out cc2.err "$RAMPARTD" --check-config --config "$CFG"
expect_rc 78 "check-config, signatures not required: $(cat cc2.err)"
grep -qF "plugins.tampered: ${WHY[tampered]}" cc2.err || fail "tampered not refused: $(cat cc2.err)"
grep -qF "plugins.unsigned" cc2.err && fail "unsigned refused without require_signed_plugins: $(cat cc2.err)"

# A trusted key that is not P-256, and one others can write: errors naming
# the file and the key, for the check and for start-up.
"$PY" - "$CFG" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["agent"]["trusted_keys"] = ["keys/vendor.pub.pem", "keys/rsa.pub.pem", "open/w.pub.pem"]
c["plugins"]["tampered"]["enabled"] = False
json.dump(c, open(sys.argv[1], "w"))
PY
cp keys/vendor.pub.pem open/w.pub.pem
chmod 0644 open/w.pub.pem
run_cmd k.out k.err "$RAMPARTD" --check-config --config "$CFG"
expect_rc 78 "check-config with bad keys"
grep -qxF "rampartd: $CFG: agent.trusted_keys[1]: $T/keys/rsa.pub.pem: an RSA key; expected an EC key on P-256 (prime256v1, secp256r1)" k.err ||
    fail "RSA key error: $(cat k.err)"
grep -qF "rampartd: $CFG: agent.trusted_keys[2]: $T/open/w.pub.pem: untrusted file: $T/open: writable by others (mode 0777)" k.err ||
    fail "writable key error: $(cat k.err)"
# Start-up stops on them too, as on any config error.
run_cmd ks.out ks.err "$RAMPARTD" --foreground --config "$CFG"
expect_rc 78 "start-up with bad keys: $(cat ks.err)"
grep -qF "agent.trusted_keys[1]: $T/keys/rsa.pub.pem: an RSA key" ks.err || fail "start-up: $(cat ks.err)"
echo "PASS"
