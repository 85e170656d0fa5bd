#!/usr/bin/env bash
# rampartctl rules test: evaluates rules, whatever their log source, on the
# events of an NDJSON file and says which events each rule matched (line,
# event.id) and why (the selections that held). Flat dotted keys and nested
# objects both work, numbers are read in decimal, a malformed or too long
# line is reported as FILE:LINE and the run goes on (exit 1 at the end);
# --raw-fields runs a Windows rule on Windows-style keys.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"

# Every run names a configuration without a sigma detector, so that the
# machine's own (the default /etc/rampart/rampart.json) never decides.
cat >empty.json <<'EOF'
{"agent": {"data_dir": "data", "plugin_dir": "plugins"}, "plugins": {}}
EOF
RCTL=("$RAMPARTCTL" --config "$T/empty.json")

mkdir -p rules
cat >rules/curl.yml <<'EOF'
title: Curl writes into /tmp
id: 11111111-1111-4111-8111-111111111111
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        Image|endswith: '/curl'
        CommandLine|contains: '/tmp/'
    filter_quiet:
        CommandLine|contains: '--silent-ok'
    condition: selection and not filter_quiet
level: medium
EOF
cat >rules/port.yml <<'EOF'
title: Connection to port 4444
id: 22222222-2222-4222-8222-222222222222
logsource:
    product: linux
    category: network_connection
detection:
    selection:
        DestinationPort: 4444
    condition: selection
level: high
EOF
cat >rules/keyword.yml <<'EOF'
title: A keyword anywhere
id: 33333333-3333-4333-8333-333333333333
logsource:
    product: linux
    category: process_creation
detection:
    keywords:
        - 'evil-keyword-xyz'
    condition: keywords
level: low
EOF
mkdir -p win
cat >win/powershell.yml <<'EOF'
title: Encoded PowerShell
id: 44444444-4444-4444-8444-444444444444
logsource:
    product: windows
    category: process_creation
detection:
    selection_img:
        Image|endswith: '\powershell.exe'
    selection_cli:
        CommandLine|contains: ' -enc '
    condition: all of selection_*
level: high
EOF

# Line 1 matches curl (flat keys), 2 is a near miss (wget), 3 is cut short,
# 4 matches curl (nested objects), 5 is a near miss (curl, not /tmp),
# 6 is an array, 7 is blank, 8 has the keyword deep inside, 9 a number port,
# 10 curl but filtered out.
cat >events.ndjson <<'EOF'
{"event.id":"e1","event.action":"exec","process.executable":"/usr/bin/curl","process.command_line":"curl -o /tmp/x http://a"}
{"event.id":"e2","process.executable":"/usr/bin/wget","process.command_line":"wget -O /tmp/x http://a"}
{"event.id": "e3", "process.executable":
{"event":{"id":"e4"},"process":{"executable":"/bin/curl","command_line":"curl http://x -o /tmp/y"}}
{"event.id":"e5","process.executable":"/usr/bin/curl","process.command_line":"curl https://example.com"}
[1, 2]

{"event.id":"e8","process":{"args":["sh","-c","evil-keyword-xyz"]}}
{"event.id":"e9","destination.ip":"10.0.0.1","destination.port":4444,"network.direction":"egress"}
{"event.id":"e10","process.executable":"/usr/bin/curl","process.command_line":"curl --silent-ok -o /tmp/z"}
EOF

run_cmd t.out t.err "${RCTL[@]}" rules test "$T/rules" --events events.ndjson
expect_rc 1 "two malformed lines"
grep -qE '^events\.ndjson:3: expected a JSON object: .+ \(column [0-9]+\)$' t.err || fail "line 3: $(cat t.err)"
grep -qxF "events.ndjson:6: expected a JSON object, found an array" t.err || fail "line 6: $(cat t.err)"
[ "$(wc -l <t.err)" -eq 2 ] || fail "stderr has more than the two lines: $(cat t.err)"
grep -qxF "$T/rules/curl.yml: Curl writes into /tmp (id 11111111-1111-4111-8111-111111111111): matched 2 of 7 events" t.out ||
    fail "curl summary: $(cat t.out)"
grep -A2 -F "$T/rules/curl.yml:" t.out | grep -qxF "  line 1 (event.id e1): selection" || fail "curl line 1: $(cat t.out)"
grep -A2 -F "$T/rules/curl.yml:" t.out | grep -qxF "  line 4 (event.id e4): selection" || fail "curl line 4 (nested): $(cat t.out)"
grep -qxF "$T/rules/port.yml: Connection to port 4444 (id 22222222-2222-4222-8222-222222222222): matched 1 of 7 events" t.out ||
    fail "port summary: $(cat t.out)"
grep -qxF "  line 9 (event.id e9): selection" t.out || fail "port line 9: $(cat t.out)"
grep -qxF "$T/rules/keyword.yml: A keyword anywhere (id 33333333-3333-4333-8333-333333333333): matched 1 of 7 events" t.out ||
    fail "keyword summary: $(cat t.out)"
grep -qxF "  line 8 (event.id e8): keywords" t.out || fail "keyword line 8: $(cat t.out)"
grep -qxF "7 events read from events.ndjson (2 malformed lines); 3 rules loaded, 0 files not loaded; 3 rules matched, 4 matches" t.out ||
    fail "summary: $(tail -n 1 t.out)"

# --json: the same, as one document.
run_cmd t.json t.err "${RCTL[@]}" rules test --json --events events.ndjson "$T/rules"
expect_rc 1 "--json, two malformed lines"
"$PY" - t.json "$T/rules" <<'PY' || fail "--json document"
import json, sys
d = json.load(open(sys.argv[1]))
rules = {r["path"][len(sys.argv[2]) + 1:]: r for r in d["rules"]}
assert set(rules) == {"curl.yml", "port.yml", "keyword.yml"}, sorted(rules)
def lines(name):
    return [(m["line"], m["event_id"], m["why"]) for m in rules[name]["matches"]]
assert lines("curl.yml") == [(1, "e1", "selection"), (4, "e4", "selection")], lines("curl.yml")
assert lines("port.yml") == [(9, "e9", "selection")], lines("port.yml")
assert lines("keyword.yml") == [(8, "e8", "keywords")], lines("keyword.yml")
assert rules["curl.yml"]["matched"] == 2 and rules["curl.yml"]["status"] == "loaded", rules["curl.yml"]
assert rules["curl.yml"]["id"] == "11111111-1111-4111-8111-111111111111"
assert [e["line"] for e in d["errors"]] == [3, 6], d["errors"]
assert d["errors"][1]["message"] == "expected a JSON object, found an array", d["errors"]
s = d["summary"]
assert (s["events"], s["malformed"], s["blank"], s["rules"], s["rules_matched"], s["matches"]) == \
    (7, 2, 1, 3, 3, 4), s
assert s["event_cap_reached"] is False and s["files_not_loaded"] == 0, s
assert d["files"] == [] and d["exit_status"] == 1, d
PY

# Only well-formed events: exit 0, matches or not.
grep -v -e '"e3"' -e '^\[' events.ndjson >clean.ndjson
run_cmd c.out c.err "${RCTL[@]}" rules test "$T/rules/curl.yml" --events clean.ndjson
expect_rc 0 "clean events"
grep -qF "matched 2 of 7 events" c.out || fail "clean: $(cat c.out)"
[ ! -s c.err ] || fail "clean: stderr: $(cat c.err)"
echo '{"event.id":"n1","process.executable":"/usr/bin/wget","process.command_line":"wget /tmp/"}' >miss.ndjson
run_cmd m.out m.err "${RCTL[@]}" rules test "$T/rules/curl.yml" --events miss.ndjson
expect_rc 0 "a near miss only"
grep -qF "(id 11111111-1111-4111-8111-111111111111): matched none of 1 events" m.out || fail "near miss: $(cat m.out)"

# A line past the 1 MiB cap is reported and skipped; the next one is read.
"$PY" - <<'PY' >long.ndjson
import json
print(json.dumps({"event.id": "big", "process.executable": "/usr/bin/curl",
                  "process.command_line": "curl -o /tmp/" + "a" * (1024 * 1024)}))
print(json.dumps({"event.id": "after", "process.executable": "/usr/bin/curl",
                  "process.command_line": "curl -o /tmp/after"}))
PY
run_cmd l.out l.err "${RCTL[@]}" rules test "$T/rules/curl.yml" --events long.ndjson
expect_rc 1 "a line past the cap"
grep -qxF "long.ndjson:1: line longer than 1048576 bytes (the cap); expected one JSON object per line" l.err ||
    fail "long line: $(cat l.err)"
grep -qxF "  line 2 (event.id after): selection" l.out || fail "the line after the long one: $(cat l.out)"

# Windows rule on Windows-style keys: only with --raw-fields.
cat >win.ndjson <<'EOF'
{"EventID":1,"Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","CommandLine":"powershell -nop -enc SQBFAFgA"}
{"EventID":1,"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c powershell -enc SQBFAFgA"}
{"EventID":1,"Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","CommandLine":"powershell -File x.ps1"}
EOF
run_cmd w.out w.err "${RCTL[@]}" rules test "$T/win" --events win.ndjson --raw-fields
expect_rc 0 "--raw-fields"
grep -qxF "$T/win/powershell.yml: Encoded PowerShell (id 44444444-4444-4444-8444-444444444444): matched 1 of 3 events" w.out ||
    fail "--raw-fields: $(cat w.out)"
grep -qxF "  line 1: selection_img, selection_cli" w.out || fail "--raw-fields why: $(cat w.out)"
run_cmd w2.out w2.err "${RCTL[@]}" rules test "$T/win" --events win.ndjson
expect_rc 0 "a Windows rule without --raw-fields"
grep -qF "(id 44444444-4444-4444-8444-444444444444): matched none of 3 events" w2.out ||
    fail "without --raw-fields the Windows keys must not match: $(cat w2.out)"

# A rule that does not load is listed and fails the run; the others run.
printf 'title: [broken\n' >rules/broken.yml
run_cmd b.out b.err "${RCTL[@]}" rules test "$T/rules" --events clean.ndjson
expect_rc 1 "a broken rule"
grep -qE "^not loaded: $T/rules/broken.yml: yaml_error: " b.out || fail "broken rule: $(cat b.out)"
grep -qF "matched 2 of 7 events" b.out || fail "the other rules did not run: $(cat b.out)"
rm rules/broken.yml

# The sigma detector's placeholders in the configuration: an `expand` rule
# matches what they list (and is not loaded without them).
mkdir -p exp
cat >exp/expand.yml <<'EOF'
title: A shell started
id: 55555555-5555-4555-8555-555555555555
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        Image|expand: '%shells%'
    condition: selection
level: high
EOF
cat >sigma.json <<'EOF'
{"agent": {"data_dir": "data", "plugin_dir": "plugins"},
 "plugins": {"sigma": {"enabled": true, "file": "detector_sigma.so",
                       "config": {"placeholders": {"shells": ["/bin/bash", "/bin/sh"]}}}}}
EOF
printf '%s\n' '{"event.id":"x1","process.executable":"/bin/sh"}' \
    '{"event.id":"x2","process.executable":"/usr/bin/python3"}' >shells.ndjson
run_cmd x.out x.err "$RAMPARTCTL" rules test "$T/exp" --events shells.ndjson --config "$T/sigma.json"
expect_rc 0 "expand with the configuration's placeholders"
grep -qxF "  line 1 (event.id x1): selection" x.out || fail "expand: $(cat x.out)"
grep -qF "matched 1 of 2 events" x.out || fail "expand count: $(cat x.out)"
run_cmd x2.out x2.err "${RCTL[@]}" rules test "$T/exp" --events shells.ndjson
expect_rc 0 "expand without placeholders (skipped for scope)"
grep -qE "^not loaded: $T/exp/expand.yml: placeholder_unset: " x2.out || fail "expand without placeholders: $(cat x2.out)"

# Events on standard input.
RC=0
timeout -k 2 10 "${RCTL[@]}" rules test "$T/rules/curl.yml" --events - <clean.ndjson >s.out 2>s.err || RC=$?
expect_rc 0 "stdin"
grep -qF "7 events read from - (0 malformed lines)" s.out || fail "stdin: $(cat s.out)"

# Usage: 2.
run_cmd u1.out u1.err "${RCTL[@]}" rules test "$T/rules"
expect_rc 2 "no --events"
file_has u1.err "--events FILE is required" || fail "no --events: $(cat u1.err)"
run_cmd u2.out u2.err "${RCTL[@]}" rules test "$T/rules" --events "$T/none.ndjson"
expect_rc 2 "missing events file"
file_has u2.err "--events $T/none.ndjson: cannot be opened" || fail "missing events: $(cat u2.err)"
run_cmd u3.out u3.err "${RCTL[@]}" rules test --events events.ndjson
expect_rc 2 "no rules"
run_cmd u4.out u4.err "${RCTL[@]}" rules test "$T/rules" --events events.ndjson --fields-from /x
expect_rc 2 "a check-only option"

echo "ok"
