#!/usr/bin/env bash
# rampartctl rules check: without an agent, loads Sigma rules through the
# detector's engine and says per file what loaded, what can never match and
# what was skipped and why, in a table and in --json; exit 0 when all loaded
# or were skipped for scope, 1 for an input or language failure or a dead
# rule, 2 for a bad command line. Dead rules come from what the collectors'
# plugin files declare they fill (provides), read through the agent's trust
# check; without any, every field counts as filled and the output says so.
# With the SigmaHQ corpus present (RP_SIGMA_CORPUS), the whole tree is
# checked too: no crash, counts that add up.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"

BUILT_PLUGINS=$(cd "$(dirname "$RAMPARTCTL")/../plugins" && pwd -P)

mkdir -p rules
cat >rules/good.yml <<'EOF'
title: Curl writes into /tmp
id: 11111111-1111-4111-8111-111111111111
status: test
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        Image|endswith: '/curl'
        CommandLine|contains: '/tmp/'
    condition: selection
level: medium
EOF
cat >rules/broken.yml <<'EOF'
title: [this list is never closed
logsource:
    product: linux
EOF
cat >rules/badmod.yml <<'EOF'
title: A modifier Sigma does not have
id: 22222222-2222-4222-8222-222222222222
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        Image|sometimes: '/bin/sh'
    condition: selection
level: low
EOF
cat >rules/windows.yml <<'EOF'
title: Encoded PowerShell
id: 33333333-3333-4333-8333-333333333333
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\powershell.exe'
        CommandLine|contains: ' -enc '
    condition: selection
level: high
EOF
# LogonId has no ECS field on Linux (the built-in field map): dead whatever
# the collectors fill.
cat >rules/logon.yml <<'EOF'
title: System logon session
id: 44444444-4444-4444-8444-444444444444
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        LogonId: '0x3e7'
    condition: selection
level: low
EOF
# DestinationHostname maps to destination.domain, which collector_network
# does not fill: dead when the plugins are read, loaded when they are not.
cat >rules/dns.yml <<'EOF'
title: Connection to a paste site
id: 55555555-5555-4555-8555-555555555555
logsource:
    product: linux
    category: network_connection
detection:
    selection:
        DestinationHostname|endswith: '.pastebin.com'
    condition: selection
level: medium
EOF
cat >rules/corr.yml <<'EOF'
title: Many curls
id: 66666666-6666-4666-8666-666666666666
correlation:
    type: event_count
    rules: [11111111-1111-4111-8111-111111111111]
    group-by: [User]
    timespan: 5m
    condition:
        gte: 10
EOF

# A configuration without plugins: nothing declares what it fills. Every
# run names a configuration, this one unless it says otherwise, so that the
# machine's own (the default /etc/rampart/rampart.json) never decides.
cat >empty.json <<'EOF'
{"agent": {"data_dir": "data", "plugin_dir": "plugins"}, "plugins": {}}
EOF
RCTL=("$RAMPARTCTL" --config "$T/empty.json")

# row FILE BASENAME: the table row of rules/BASENAME, as "STATUS REASON".
row() {
    awk -v f="$T/rules/$2" '$1 == f {print $2, $3}' "$1"
}

# ---- every field counts as filled: no plugins declare anything -----------
run_cmd check.out check.err "${RCTL[@]}" rules check --config "$T/empty.json" "$T/rules"
expect_rc 1 "a yaml error, an unknown modifier and a dead rule"
[ "$(row check.out good.yml)" = "loaded -" ] || fail "good.yml: $(row check.out good.yml)"
[ "$(row check.out broken.yml)" = "skipped yaml_error" ] || fail "broken.yml: $(row check.out broken.yml)"
[ "$(row check.out badmod.yml)" = "skipped unknown_modifier" ] || fail "badmod.yml: $(row check.out badmod.yml)"
[ "$(row check.out windows.yml)" = "skipped not_linux_logsource" ] || fail "windows.yml: $(row check.out windows.yml)"
[ "$(row check.out corr.yml)" = "skipped correlation_rule" ] || fail "corr.yml: $(row check.out corr.yml)"
[ "$(row check.out logon.yml)" = "dead field_never_filled" ] || fail "logon.yml: $(row check.out logon.yml)"
[ "$(row check.out dns.yml)" = "loaded -" ] || fail "dns.yml without plugins: $(row check.out dns.yml)"
head -n 1 check.out | grep -qE '^FILE +STATUS +REASON +ID +TITLE +MESSAGE$' || fail "table header: $(head -n 1 check.out)"
grep -qE "^$T/rules/good.yml +loaded +- +11111111-1111-4111-8111-111111111111 +Curl writes into /tmp +-$" check.out ||
    fail "good.yml's row: $(grep good.yml check.out)"
grep -F "$T/rules/badmod.yml" check.out | grep -qF "sometimes" || fail "the unknown modifier is not named"
grep -F "$T/rules/logon.yml" check.out | grep -qF "LogonId" || fail "the dead field is not named"
grep -qxF "7 files: 2 loaded, 1 dead, 4 skipped (yaml_error 1, correlation_rule 1, unknown_modifier 1, not_linux_logsource 1)" check.out ||
    fail "summary: $(grep files: check.out)"
grep -qxF "3 failed (an input or language reason, or dead)" check.out || fail "failed count: $(grep failed check.out)"
grep -qE '^loaded in [0-9]+\.[0-9] ms; the engine holds [0-9.]+ KiB$' check.out || fail "load time line"
grep -qF "note: no plugin of the configuration $T/empty.json declares the fields it fills: every field counts as filled" check.out ||
    fail "no note that every field counts as filled"

# ---- --json: the same, as one document -----------------------------------
run_cmd check.json check.err "${RCTL[@]}" rules check --json --config "$T/empty.json" "$T/rules"
expect_rc 1 "--json"
"$PY" - check.json "$T/rules" <<'PY' || fail "--json document"
import json, sys
d = json.load(open(sys.argv[1]))
rules = sys.argv[2]
by = {f["path"][len(rules) + 1:]: f for f in d["files"]}
want = {
    "good.yml": ("loaded", None, "loaded", False),
    "broken.yml": ("skipped", "yaml_error", "input", True),
    "badmod.yml": ("skipped", "unknown_modifier", "language", True),
    "windows.yml": ("skipped", "not_linux_logsource", "scope", False),
    "corr.yml": ("skipped", "correlation_rule", "scope", False),
    "logon.yml": ("dead", "field_never_filled", "dead", True),
    "dns.yml": ("loaded", None, "loaded", False),
}
assert set(by) == set(want), sorted(by)
for name, (st, reason, cls, fails) in want.items():
    f = by[name]
    assert (f["status"], f["reason"], f["class"], f["fails"]) == (st, reason, cls, fails), (name, f)
assert by["good.yml"]["id"] == "11111111-1111-4111-8111-111111111111", by["good.yml"]
assert by["good.yml"]["title"] == "Curl writes into /tmp", by["good.yml"]
assert by["good.yml"]["logsource"] == "process_creation", by["good.yml"]
assert by["good.yml"]["message"] == "", by["good.yml"]
assert "sometimes" in by["badmod.yml"]["message"], by["badmod.yml"]
assert "LogonId" in by["logon.yml"]["message"], by["logon.yml"]
s = d["summary"]
assert (s["files"], s["loaded"], s["dead"], s["skipped"], s["failed"]) == (7, 2, 1, 4, 3), s
assert s["skipped_by_reason"] == {"yaml_error": 1, "unknown_modifier": 1,
                                  "not_linux_logsource": 1, "correlation_rule": 1}, s
assert s["load_ms"] >= 0 and s["memory_bytes"] > 0, s
assert d["fields"]["every_field_filled"] is True and d["fields"]["note"], d["fields"]
assert d["exit_status"] == 1, d
PY

# ---- the collectors' declarations: --fields-from the built plugins --------
run_cmd fields.out fields.err "${RCTL[@]}" rules check --fields-from "$BUILT_PLUGINS" "$T/rules"
expect_rc 1 "--fields-from"
[ "$(row fields.out dns.yml)" = "dead field_never_filled" ] || fail "dns.yml with the plugins: $(row fields.out dns.yml)"
grep -F "$T/rules/dns.yml" fields.out | grep -qF "DestinationHostname" || fail "dns.yml: the field is not named"
[ "$(row fields.out good.yml)" = "loaded -" ] || fail "good.yml with the plugins: $(row fields.out good.yml)"
grep -qE "^fields filled: as declared by [1-9][0-9]* of the [0-9]+ plugins of the plugin folder $BUILT_PLUGINS$" fields.out ||
    fail "where the fields came from: $(grep -i fields fields.out)"
file_has fields.out "note:" && fail "a note although the plugins declare their fields"

# ---- the agent configuration's enabled plugins (global --config) ----------
mkdir -p agent/plugins
cp "$BUILT_PLUGINS/collector_network.so" "$BUILT_PLUGINS/collector_process.so" agent/plugins/
cat >agent/rampart.json <<'EOF'
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins"},
  "plugins": {
    "network": {"enabled": true, "file": "collector_network.so"},
    "process": {"enabled": true, "file": "collector_process.so"},
    "gone": {"enabled": true, "file": "gone.so"},
    "off": {"enabled": false, "file": "off.so"}
  }
}
EOF
run_cmd cfg.out cfg.err "$RAMPARTCTL" --config "$T/agent/rampart.json" rules check "$T/rules"
expect_rc 1 "configuration"
[ "$(row cfg.out dns.yml)" = "dead field_never_filled" ] || fail "dns.yml with the configured plugins: $(row cfg.out dns.yml)"
grep -qF "fields filled: as declared by 2 of the 3 plugins of the configuration $T/agent/rampart.json" cfg.out ||
    fail "configured plugins: $(grep -i fields cfg.out)"
grep -qF "plugin gone ($T/agent/plugins/gone.so): not read: no such file" cfg.out || fail "the missing plugin is not named"
file_has cfg.out "off.so" && fail "a disabled plugin was read"

# ---- the sigma detector's own settings in the configuration ----------------
# Its field_map maps DestinationHostname to a field collector_network fills,
# so dns.yml loads; its placeholders let an `expand` rule load; without a
# path, its rule_dirs are checked.
mkdir -p sigma/plugins sigma/rules
cp "$BUILT_PLUGINS/collector_network.so" "$BUILT_PLUGINS/collector_process.so" \
    "$BUILT_PLUGINS/detector_sigma.so" sigma/plugins/
cp rules/dns.yml sigma/rules/
cat >sigma/rules/expand.yml <<'EOF'
title: A shell started
id: 77777777-7777-4777-8777-777777777777
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        Image|expand: '%shells%'
    condition: selection
level: high
EOF
cat >sigma/rampart.json <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins"},
  "plugins": {
    "network": {"enabled": true, "file": "collector_network.so"},
    "process": {"enabled": true, "file": "collector_process.so"},
    "sigma": {"enabled": true, "file": "detector_sigma.so",
              "config": {"rule_dirs": ["$T/sigma/rules"],
                         "placeholders": {"shells": ["/bin/bash", "/bin/sh"]},
                         "field_map": {"network_connection": {"DestinationHostname": "destination.ip"}}}}
  }
}
EOF
run_cmd sig.out sig.err "${RCTL[@]}" rules check --config "$T/sigma/rampart.json"
expect_rc 0 "the detector's rule_dirs with its field_map and placeholders"
sig_row() { awk -v f="$T/sigma/rules/$2" '$1 == f {print $2, $3}' "$1"; }
[ "$(sig_row sig.out dns.yml)" = "loaded -" ] || fail "dns.yml with the configured field_map: $(sig_row sig.out dns.yml)"
[ "$(sig_row sig.out expand.yml)" = "loaded -" ] || fail "expand.yml with the placeholders: $(sig_row sig.out expand.yml)"
grep -qxF "sigma settings: the field_map (1 entries) and placeholders (1) of plugin sigma in $T/sigma/rampart.json" sig.out ||
    fail "sigma settings line: $(grep -i sigma sig.out)"
# The same files without those settings: dead, and the placeholder unset.
run_cmd nosig.out nosig.err "${RCTL[@]}" rules check --fields-from "$T/sigma/plugins" "$T/sigma/rules"
expect_rc 1 "without the detector's settings: a dead rule"
[ "$(sig_row nosig.out dns.yml)" = "dead field_never_filled" ] || fail "dns.yml without the field_map: $(sig_row nosig.out dns.yml)"
[ "$(sig_row nosig.out expand.yml)" = "skipped placeholder_unset" ] || fail "expand.yml without placeholders: $(sig_row nosig.out expand.yml)"
# A field_map entry the detector refuses is a configuration error: 2.
sed 's/"destination.ip"/"not a field!"/' sigma/rampart.json >sigma/bad.json
run_cmd sbad.out sbad.err "${RCTL[@]}" rules check --config "$T/sigma/bad.json"
expect_rc 2 "a refused field_map"
grep -qF "plugins.sigma.config.field_map.network_connection.DestinationHostname: ECS field name 'not a field!'" sbad.err ||
    fail "refused field_map: $(cat sbad.err)"
# No path and no detector in the configuration: 2.
run_cmd snone.out snone.err "${RCTL[@]}" rules check --config "$T/empty.json"
expect_rc 2 "no path and no detector_sigma"
file_has snone.err "no rule file or folder given, and $T/empty.json names no enabled detector_sigma plugin with rule_dirs" ||
    fail "no path: $(cat snone.err)"

# ---- the trust check: a group-writable plugin file counts for nothing -----
mkdir -p untrusted
cp "$BUILT_PLUGINS/collector_network.so" untrusted/
chmod 0775 untrusted/collector_network.so
run_cmd trust.out trust.err "${RCTL[@]}" rules check --fields-from "$T/untrusted" "$T/rules/dns.yml"
expect_rc 0 "an untrusted plugin and a rule it would have made dead"
[ "$(row trust.out dns.yml)" = "loaded -" ] || fail "dns.yml with an untrusted plugin: $(row trust.out dns.yml)"
grep -qE "plugin collector_network.so \(.*\): refused: untrusted file: .*writable by group" trust.out ||
    fail "the untrusted plugin's reason: $(grep plugin trust.out)"
file_has trust.out "note: no plugin of the plugin folder $T/untrusted declares the fields it fills" ||
    fail "no note for an untrusted-only folder"

# ---- exit 0: files that all load or are out of scope ----------------------
run_cmd ok.out ok.err "${RCTL[@]}" rules check --config "$T/empty.json" "$T/rules/good.yml" \
    "$T/rules/windows.yml" "$T/rules/corr.yml"
expect_rc 0 "good, windows and correlation rules"
grep -qE '^3 files: 1 loaded, 0 dead, 2 skipped' ok.out || fail "summary of three: $(grep files: ok.out)"

# A file that does not exist is an input failure of its own row.
run_cmd gone.out gone.err "${RCTL[@]}" rules check --config "$T/empty.json" "$T/rules/nope.yml"
expect_rc 1 "a missing file"
[ "$(row gone.out nope.yml)" = "skipped io_error" ] || fail "nope.yml: $(row gone.out nope.yml)"

# ---- usage errors: 2 ------------------------------------------------------
run_cmd u1.out u1.err "${RCTL[@]}" rules test --events x.ndjson
expect_rc 2 "no path"
file_has u1.err "no rule file or folder given" || fail "no path: $(cat u1.err)"
run_cmd u2.out u2.err "${RCTL[@]}" rules check --frobnicate "$T/rules"
expect_rc 2 "unknown option"
file_has u2.err "unknown option '--frobnicate'" || fail "unknown option: $(cat u2.err)"
run_cmd u3.out u3.err "${RCTL[@]}" rules check --fields-from "$T/no-such-dir" "$T/rules"
expect_rc 2 "--fields-from a missing folder"
file_has u3.err "--fields-from $T/no-such-dir: no such folder" || fail "missing folder: $(cat u3.err)"
run_cmd u4.out u4.err "${RCTL[@]}" rules check --config "$T/no-such.json" "$T/rules"
expect_rc 2 "an explicit configuration that does not load"
run_cmd u5.out u5.err "${RCTL[@]}" rules frob
expect_rc 2 "unknown subcommand"
run_cmd u6.out u6.err "${RCTL[@]}" rules check --fields-from
expect_rc 2 "option without a value"
file_has u6.err "--fields-from needs a value" || fail "missing value: $(cat u6.err)"

# ---- the SigmaHQ corpus, when present --------------------------------------
CORPUS=${RP_SIGMA_CORPUS:-${RP_SIGMA_CORPUS_DEFAULT:-/work/shared/corpus/sigma}}
if [ -d "$CORPUS" ]; then
    RC=0
    timeout -k 2 100 "${RCTL[@]}" rules check --json --fields-from "$BUILT_PLUGINS" "$CORPUS" \
        >corpus.json 2>corpus.err || RC=$?
    [ "$RC" -eq 0 ] || [ "$RC" -eq 1 ] || fail "corpus: exit status $RC (crash, hang or usage error)"
    n_files=$(find "$CORPUS" -type f \( -name '*.yml' -o -name '*.yaml' \) | wc -l)
    "$PY" - corpus.json "$n_files" "$RC" <<'PY' || fail "corpus report"
import json, sys
d = json.load(open(sys.argv[1]))
n_files, rc = int(sys.argv[2]), int(sys.argv[3])
s = d["summary"]
files = d["files"]
assert len(files) == s["files"] == n_files, (len(files), s["files"], n_files)
count = lambda st: sum(f["status"] == st for f in files)
assert (count("loaded"), count("dead"), count("skipped"), count("disabled")) == \
    (s["loaded"], s["dead"], s["skipped"], s["disabled"]), s
assert s["loaded"] + s["dead"] + s["skipped"] + s["disabled"] == s["files"], s
assert sum(s["skipped_by_reason"].values()) == s["skipped"], s
assert sum(f["fails"] for f in files) == s["failed"], s
assert d["exit_status"] == rc == (1 if s["failed"] else 0), (d["exit_status"], rc, s)
assert s["loaded"] > 0, s
print("corpus: %d files, %d loaded, %d dead, %d skipped %s, %d failed, %.1f ms, %d bytes"
      % (s["files"], s["loaded"], s["dead"], s["skipped"], json.dumps(s["skipped_by_reason"]),
         s["failed"], s["load_ms"], s["memory_bytes"]))
PY
else
    echo "no Sigma corpus at $CORPUS: the whole-tree check was not run"
fi

echo "ok"
