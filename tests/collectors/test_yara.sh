#!/usr/bin/env bash
# detector_yara on the real agent with the real file collector (fanotify or
# inotify feed), rules from a temporary folder of the test's own:
#  - a rule file that does not compile is reported with its file and line
#    (log and `rampartctl plugin yara rules`), and the other files load;
#  - writing the EICAR test file (built at run time) into a watched folder
#    raises an alert within 2 s naming the rule, with file.path,
#    file.hash.sha256, the rule's tags and meta, and the matching strings
#    counted;
#  - an unchanged file is not scanned again (a verdict cache hit, counted by
#    the stats command), a changed one is; a malicious file seen again from
#    the cache does not alert again inside the throttle window;
#  - a rule file added on disk is picked up by `rampartctl reload` (the
#    agent-config-reloaded path) and a config change (the reconfigure path)
#    applies its exclude list; a file over max_file_bytes is not scanned and
#    an event past the queue's byte cap is dropped, both counted;
#  - `rampartctl plugin yara scan PATH` lists the matching files (links and
#    excluded folders skipped), replies progress while a longer walk runs,
#    and refuses a relative path;
#  - verdicts persist across a restart: after a restart an unchanged file is
#    a cache hit, with nothing scanned, and the rules come from the compiled
#    cache;
#  - a program at exec is read through /proc/PID/exe (also when its path was
#    replaced right after it started); with memory_scan a marker only in a
#    new process's environment alerts once; a scheduled scan runs at start;
#  - --check-config refuses a path with ".." naming the key.
# Usage: bash test_yara.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"

PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
for so in collector_file detector_yara; do
    [ -f "$PLUGIN_DIR/$so.so" ] || fail "no $so.so in $PLUGIN_DIR"
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (fanotify)"; exit 77; }
cd "$T"

EVENTS=$T/data/events.ndjson
CFG=$T/rampart.json
export EVENTS T

mkdir rules watch watch/skip
MARK=rp-yara-$RANDOM$RANDOM
export MARK
# The EICAR test file, put together here so that no file of the project
# holds it whole (a scanner on a developer's machine would quarantine it).
eicar() {
    printf '%s%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$' 'EICAR-STANDARD-ANTIVIRUS' \
        '-TEST-FILE!$H+H*'
}
cat >rules/eicar.yar <<'EOF'
rule RP_Test_EICAR : test_tag malware
{
    meta:
        description = "The EICAR anti-virus test file"
        author = "Rampart tests"
        reference = "https://www.eicar.org/download-anti-malware-testfile/"
        severity = "critical"
        version = 3
    strings:
        $a = "EICAR-STANDARD-ANTIVIRUS"
        $b = "X5O!P%@AP"
    condition:
        $b at 0 and $a
}
EOF
# Line 6 does not compile; the other files still load.
cat >rules/broken.yar <<'EOF'
rule RP_Test_Broken
{
    strings:
        $a = "broken"
    condition:
        $a and no_such_identifier
}
EOF
cat >rules/other.yar <<EOF
rule RP_Test_Other
{
    strings:
        \$a = "$MARK-other"
    condition:
        \$a
}
EOF

# write_cfg EXTRA_YARA_CONFIG_JSON
write_cfg() {
    cat >"$CFG" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {
    "file": {"enabled": true, "file": "collector_file.so",
             "config": {"paths": ["$T/watch"], "events": ["create", "modify"]}},
    "yara": {"enabled": true, "file": "detector_yara.so",
             "config": {"rule_dirs": ["$T/rules"], "scan_execs": false${1:+, $1}}}
  }
}
EOF
}
write_cfg ""

start_agent() {
    "$RAMPARTD" --foreground --config "$CFG" >"$1.out" 2>"$1.err" &
    APID=$!
    AGENT_PIDS+=("$APID")
    wait_for 20 "the detector to run" file_has "$1.err" "plugin yara: running"
    wait_for 20 "the file collector to run" file_has "$1.err" "plugin file: running"
}
stop_agent() {
    kill -TERM "$APID"
    wait_for 30 "the agent to exit" pid_gone "$APID"
    wait "$APID" || fail "the agent exited with status $?"
}
stats() {
    run_cmd stats.out stats.err "$RAMPARTCTL" --config "$CFG" plugin yara stats
    expect_rc 0 "stats: $(cat stats.err)"
}
# stat_of EXPR: a value of the stats reply, e.g. 'd["scanner"]["scanned"]'.
stat_of() {
    stats
    json_get stats.out "$1"
}
# alerts_of RULE_ID [PATH]: alerts of the rule (about PATH).
alerts_of() {
    [ -f "$EVENTS" ] || { echo 0; return; }
    "$PY" - "$1" "${2:-}" <<'PY'
import json, os, sys
n = 0
for line in open(os.environ["EVENTS"]):
    ev = json.loads(line)
    if ev.get("event.kind") == "alert" and ev.get("rule.id") == sys.argv[1] and \
            (not sys.argv[2] or ev.get("file.path") == sys.argv[2]):
        n += 1
print(n)
PY
}
has_alert() { [ "$(alerts_of "$@")" -ge 1 ]; }
# events_about PATH: file events of the collector about PATH.
events_about() {
    [ -f "$EVENTS" ] || { echo 0; return; }
    "$PY" - "$1" <<'PY'
import json, os, sys
print(sum(1 for l in open(os.environ["EVENTS"])
          if json.loads(l).get("event.kind") == "event" and json.loads(l).get("file.path") == sys.argv[1]))
PY
}
more_events() { [ "$(events_about "$1")" -gt "$2" ]; }
# more_lines FILE TEXT N: FILE has more than N lines with TEXT.
more_lines() { [ "$(count_lines "$1" "$2")" -gt "$3" ]; }
# stored PATH STORES: makes sure the verdict of PATH is in the cache (the
# stores counter above STORES). The scanner does not store a verdict while
# the kernel's clock has not passed the file's ctime (scan.h), so a file
# scanned right after its write may need one more (unchanged) event.
stored() {
    local i n
    for i in 1 2 3 4 5 6; do
        sleep 0.3
        stat_above 'd["verdicts"]["stores"]' "$2" && return 0
        n=$(events_about "$1")
        : >>"$1"
        wait_for 5 "the event of $1" more_events "$1" "$n"
    done
    fail "the verdict of $1 was never stored: $(cat stats.out)"
}
# stat_above EXPR N: the stats value is above N.
stat_above() { [ "$(stat_of "$1")" -gt "$2" ]; }

start_agent agent

# ---- the load report: a broken file with its line, the others load -----------------
grep -qF "plugin yara: rule file $T/rules/broken.yar failed (undefined_identifier) at line 6" agent.err ||
    fail "the broken rule file is not reported with its line: $(grep -F 'plugin yara' agent.err)"
grep -qF "plugin yara: loaded 3 rule files: 2 compiled, 1 failed, 0 skipped, 2 rules" agent.err ||
    fail "load summary: $(grep -F 'plugin yara: loaded' agent.err)"
run_cmd rules.out rules.err "$RAMPARTCTL" --config "$CFG" plugin yara rules
expect_rc 0 "rules: $(cat rules.err)"
"$PY" - rules.out <<'PY' || fail "rules command: $(cat rules.out)"
import json, os, sys
files = {os.path.basename(f["path"]): f for f in json.load(open(sys.argv[1]))["files"]}
assert sorted(files) == ["broken.yar", "eicar.yar", "other.yar"], files
b = files["broken.yar"]
assert b["status"] == "failed" and b["reason"] == "undefined_identifier" and b["line"] == 6, b
assert b["message"] and b["path"] == os.environ["T"] + "/rules/broken.yar", b
for f in ("eicar.yar", "other.yar"):
    assert files[f]["status"] == "compiled" and files[f]["rules"] == 1, files[f]
PY

# ---- EICAR: an alert within 2 s, with the file's path and hash -------------------------
EPATH=$T/watch/eicar-$MARK.com
eicar >"$EPATH"
wait_for 2 "the EICAR alert" has_alert yara.RP_Test_EICAR "$EPATH"
export EPATH ESHA=$(sha256sum "$EPATH" | cut -c1-64)
"$PY" - <<'PY' || fail "EICAR alert fields"
import json, os
env = os.environ
evs = [json.loads(l) for l in open(env["EVENTS"])]
alerts = [e for e in evs if e.get("event.kind") == "alert"]
assert len(alerts) == 1, alerts
a = alerts[0]
want = {
    "rule.id": "yara.RP_Test_EICAR",
    "rule.name": "RP_Test_EICAR",
    "rule.ruleset": "yara",
    "rule.description": "The EICAR anti-virus test file",
    "rule.reference": "https://www.eicar.org/download-anti-malware-testfile/",
    "rule.author": ["Rampart tests"],
    "rule.tags": ["test_tag", "malware"],
    "event.severity": 99,
    "event.category": ["intrusion_detection"],
    "file.path": env["EPATH"],
    "file.hash.sha256": env["ESHA"],
    "yara.strings_matched": 2,
    "yara.scan": "file",
    "yara.from_cache": False,
}
for k, v in want.items():
    assert a.get(k) == v, "alert %s: %r, expected %r\n%s" % (k, a.get(k), v, a)
meta = a["yara.meta"]
for m in ("description=The EICAR anti-virus test file", "author=Rampart tests", "severity=critical",
          "version=3"):
    assert m in meta, (m, meta)
assert env["EPATH"] in a["event.reason"] and "RP_Test_EICAR" in a["event.reason"], a
# The source event is cited, and never the matched bytes.
src = [e for e in evs if e.get("event.id") in a["rampart.alert.source_ids"]]
assert len(src) == 1 and src[0]["file.path"] == env["EPATH"], src
assert "EICAR-STANDARD" not in json.dumps(a), a
PY

# ---- the verdict cache: unchanged not rescanned, changed rescanned ------------------------
CPATH=$T/watch/clean-$MARK.txt
stores=$(stat_of 'd["verdicts"]["stores"]')
echo "nothing to see" >"$CPATH"
stored "$CPATH" "$stores"
scanned=$(stat_of 'd["scanner"]["scanned"]')
hits=$(stat_of 'd["verdicts"]["hits"]')
# Opened for writing and closed unchanged: a close-write event, the same
# identity (no write moved mtime or ctime).
n=$(events_about "$CPATH")
: >>"$CPATH"
wait_for 5 "the event of the unchanged file" more_events "$CPATH" "$n"
wait_for 5 "a cache hit" stat_above 'd["verdicts"]["hits"]' "$hits"
[ "$(stat_of 'd["scanner"]["scanned"]')" -eq "$scanned" ] ||
    fail "the unchanged file was scanned again: $(cat stats.out)"
echo "more" >>"$CPATH"
wait_for 5 "the changed file scanned" stat_above 'd["scanner"]["scanned"]' "$scanned"

# The malicious file again, unchanged (a cache hit, or a scan when its
# verdict was not stored): no second alert inside the throttle window.
throttled=$(stat_of 'd["counters"]["alerts_throttled"]')
n=$(events_about "$EPATH")
: >>"$EPATH"
wait_for 5 "the event of the unchanged EICAR file" more_events "$EPATH" "$n"
wait_for 5 "the repeated alert throttled" stat_above 'd["counters"]["alerts_throttled"]' "$throttled"
[ "$(alerts_of yara.RP_Test_EICAR)" -eq 1 ] || fail "the unchanged EICAR file alerted again"

# ---- reload: a new rule file, then a config change ----------------------------------------
cat >rules/new.yar <<EOF
rule RP_Test_New
{
    meta:
        score = 40
    strings:
        \$a = "$MARK-new"
    condition:
        \$a
}
EOF
NPATH=$T/watch/new-$MARK.txt
echo "$MARK-new before the reload" >"$NPATH"
wait_for 5 "the file scanned with the old rules" stat_above 'd["scanner"]["scanned"]' "$scanned"
sleep 0.5
[ "$(alerts_of yara.RP_Test_New)" -eq 0 ] || fail "the new rule alerted before the reload"
before=$(count_lines agent.err "plugin yara: reloaded")
run_cmd reload.out reload.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 0 "reload: $(cat reload.err)"
wait_for 15 "the rules reloaded" more_lines agent.err "plugin yara: reloaded" "$before"
grep -F "plugin yara: reloaded" agent.err | tail -n1 | grep -qF "4 rule files: 3 compiled, 1 failed" ||
    fail "reload summary: $(grep -F 'plugin yara: reloaded' agent.err | tail -n1)"
NPATH2=$T/watch/new2-$MARK.txt
echo "$MARK-new after the reload" >"$NPATH2"
wait_for 5 "the new rule's alert" has_alert yara.RP_Test_New "$NPATH2"
[ "$(json_get <(grep -F '"yara.RP_Test_New"' "$EVENTS" | tail -n1) 'd["event.severity"]')" -eq 40 ] ||
    fail "the score meta is not the severity: $(grep -F RP_Test_New "$EVENTS")"

# A config change (the reconfigure path): files under exclude are never
# scanned.
write_cfg '"exclude": ["'"$T"'/watch/skip"]'
before=$(count_lines agent.err "plugin yara: reloaded")
excluded=$(stat_of 'd["counters"]["excluded"]')
run_cmd reload.out reload.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 0 "reload (exclude): $(cat reload.err)"
wait_for 15 "the reconfigure" more_lines agent.err "plugin yara: reloaded" "$before"
eicar >"$T/watch/skip/eicar.com"
wait_for 5 "the excluded file counted" stat_above 'd["counters"]["excluded"]' "$excluded"
sleep 0.5
[ "$(alerts_of yara.RP_Test_EICAR "$T/watch/skip/eicar.com")" -eq 0 ] ||
    fail "a file under exclude was scanned"

# ---- the caps: a file over max_file_bytes is not scanned, an event past the
# queue's byte cap is dropped; both counted. max_file_bytes makes the scanner
# again (its verdicts carried over through the saved file).
write_cfg '"exclude": ["'"$T"'/watch/skip"], "max_file_bytes": 1000, "queue": {"max_requests": 1024, "max_bytes": 1048576}'
before=$(count_lines agent.err "verdicts loaded from yara-verdicts")
large=$(stat_of 'd["counters"]["too_large"]')
dropped=$(stat_of 'd["counters"]["queue_dropped"]')
run_cmd reload.out reload.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 0 "reload (caps): $(cat reload.err)"
wait_for 15 "the scanner made again" more_lines agent.err "verdicts loaded from yara-verdicts" "$before"
head -c 1500 /dev/zero >"$T/watch/large-$MARK.bin"
wait_for 5 "the large file counted" stat_above 'd["counters"]["too_large"]' "$large"
head -c 2097152 /dev/zero >"$T/watch/huge-$MARK.bin"
wait_for 5 "the event past the byte cap dropped" stat_above 'd["counters"]["queue_dropped"]' "$dropped"
[ "$(stat_of 'd["limits"]["queue_dropped"]')" -gt "$dropped" ] &&
    [ "$(json_get stats.out 'd["counters"]["queue_dropped_bytes"]')" -ge 2097152 ] &&
    [ "$(json_get stats.out 'd["queue"]["max_bytes"]')" -eq 1048576 ] ||
    fail "queue figures: $(cat stats.out)"

# ---- on-demand and scheduled scans ------------------------------------------------------------
# The scan command walks the watched folder: the EICAR file is listed and
# alerted (throttled: it alerted as a write already), a link is skipped.
ln -s "$EPATH" "$T/watch/link-$MARK"
run_cmd scan.out scan.err "$RAMPARTCTL" --config "$CFG" plugin yara scan "$T/watch"
expect_rc 0 "scan: $(cat scan.err)"
"$PY" - scan.out <<'PY' || fail "scan reply: $(cat scan.out)"
import json, os, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
last = lines[-1]
s = last["summary"]
assert s["final"] and not s["cancelled"] and s["matches"] >= 1 and s["files"] == 4, s
assert s["skip"]["symlink"] == 1 and s["skip"]["excluded"] == 1, s
paths = {m["path"]: m["rules"] for m in last["matches"]}
assert paths.get(os.environ["EPATH"]) == ["RP_Test_EICAR"], paths
PY
# A walk longer than a second replies its progress while it runs.
timeout -k 2 60 "$RAMPARTCTL" --config "$CFG" plugin yara scan /usr/bin >scan2.out 2>scan2.err ||
    fail "scan /usr/bin: $(cat scan2.err)"
"$PY" - scan2.out <<'PY' || fail "scan progress: $(head -c 2000 scan2.out)"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
prog = [l["progress"] for l in lines if "progress" in l]
assert lines[-1]["summary"]["final"], lines[-1]
if lines[-1]["summary"]["elapsed_s"] > 1.5:
    assert prog and all(p["files"] > 0 and p["files_per_s"] > 0 for p in prog), prog
print("scan of /usr/bin: %d progress replies, %s" % (len(prog), lines[-1]["summary"]))
PY
run_cmd scan3.out scan3.err "$RAMPARTCTL" --config "$CFG" plugin yara scan relative/path
[ "$RC" -ne 0 ] && grep -qF "must be absolute" scan3.err || fail "scan of a relative path: $(cat scan3.err)"

# ---- persistence: a restart keeps the verdicts and the compiled rules -----------------------
# Verdicts are kept for the rules that made them: a file judged under the
# rules in use now.
PPATH=$T/watch/persist-$MARK.txt
stores=$(stat_of 'd["verdicts"]["stores"]')
echo "judged before the restart" >"$PPATH"
stored "$PPATH" "$stores"
stop_agent
[ -f data/plugins/yara/yara-verdicts ] || fail "no verdicts saved: $(ls -la data/plugins/yara)"
grep -qF "plugin yara: stopped:" agent.err || fail "no stop line"
start_agent agent2
grep -F "plugin yara: loaded" agent2.err | grep -qF "compiled cache: hit" ||
    fail "the rules were compiled again: $(grep -F 'plugin yara' agent2.err)"
grep -qE "plugin yara: [1-9][0-9]* verdicts loaded" agent2.err ||
    fail "no verdicts loaded: $(grep -F 'plugin yara' agent2.err)"
n=$(events_about "$PPATH")
: >>"$PPATH"
wait_for 5 "the event after the restart" more_events "$PPATH" "$n"
wait_for 5 "a cache hit after the restart" stat_above 'd["verdicts"]["hits"]' 0
[ "$(stat_of 'd["scanner"]["scanned"]')" -eq 0 ] ||
    fail "the unchanged file was scanned after the restart: $(cat stats.out)"
stop_agent

# ---- execs: the program the process runs, read through /proc/PID/exe -------------------------
# A copy of sleep with a marker appended (it still runs); a second copy is
# replaced by a clean file right after it starts: the scan must still read
# the program the process runs, never the file now at its path.
[ -f "$PLUGIN_DIR/collector_process.so" ] || fail "no collector_process.so in $PLUGIN_DIR"
mkdir -m 755 bin
cat >rules/exec.yar <<EOF
rule RP_Test_Exec : exec_tag
{
    strings:
        \$a = "$MARK-exec-marker"
    condition:
        \$a
}
EOF
# The memory scan's rule: a marker only ever in a process's environment.
cat >rules/mem.yar <<EOF
rule RP_Test_Mem
{
    strings:
        \$a = "$MARK-mem-marker"
    condition:
        \$a
}
EOF
XPROG=$T/bin/prog-$MARK
XPROG2=$T/bin/prog2-$MARK
cp /bin/sleep "$XPROG"
printf '%s' "$MARK-exec-marker" >>"$XPROG"
cp "$XPROG" "$XPROG2"
cp /bin/sleep "$T/bin/clean"
chmod 755 "$XPROG" "$XPROG2" "$T/bin/clean"
XSHA=$(sha256sum "$XPROG" | cut -c1-64)
export XPROG XPROG2 XSHA
write_cfg ""
# The process collector too, and scans at exec.
"$PY" - "$CFG" <<'PY'
import json, os, sys
c = json.load(open(sys.argv[1]))
c["plugins"]["process"] = {"enabled": True, "file": "collector_process.so", "config": {}}
c["plugins"]["yara"]["config"]["scan_execs"] = True
c["plugins"]["yara"]["config"]["memory_scan"] = True
# Every exec on the machine is scanned, memory too, charged to its user: a
# suite running beside this test spends root's default budget (512 MiB a
# minute) in seconds, after which nothing of root's is scanned.
c["plugins"]["yara"]["config"]["user_bytes_per_minute"] = 1099511627776
c["plugins"]["yara"]["config"]["scheduled_scan"] = {"paths": [os.environ["T"] + "/watch"],
                                                    "interval_s": 60, "first_delay_s": 0}
json.dump(c, open(sys.argv[1], "w"))
PY
start_agent agent3
wait_for 20 "the process collector to run" file_has agent3.err "plugin process: running"
"$XPROG" 1 &
XPID=$!
wait "$XPID" || fail "the marked program did not run"
# It lives until its alert is seen (killed below): a process gone before the
# plugin reads /proc/PID/exe is scanned by its path, which now holds the
# clean program, and under load the scan can come seconds after the exec.
"$XPROG2" 60 >/dev/null 2>&1 &
XPID2=$!
mv -f "$T/bin/clean" "$XPROG2"
# exec_alert PID: an alert of the exec rule for the process PID.
exec_alert() {
    "$PY" - "$1" <<'PY'
import json, os, sys
sys.exit(0 if any(json.loads(l).get("rule.id") == "yara.RP_Test_Exec" and
                  json.loads(l).get("process.pid") == int(sys.argv[1])
                  for l in open(os.environ["EVENTS"])) else 1)
PY
}
wait_for 10 "the exec alert" exec_alert "$XPID"
wait_for 10 "the alert of the replaced program" exec_alert "$XPID2"
kill "$XPID2" 2>/dev/null || true
wait "$XPID2" 2>/dev/null || true
# The memory of a new process: the marker is in its environment only (the
# program's file is a plain sleep). One alert for the process, although two
# exec events (env, then sleep) scan its memory.
# It lives until its alert is seen, as above: memory is only scanned while
# the process is there.
env RPMARK="$MARK-mem-marker" /bin/sh -c 'exec /bin/sleep 60' >/dev/null 2>&1 &
MPID=$!
export MPID
wait_for 10 "the memory alert" "$PY" -c '
import json, os, sys
sys.exit(0 if any(json.loads(l).get("rule.id") == "yara.RP_Test_Mem" and
                  json.loads(l).get("process.pid") == int(os.environ["MPID"])
                  for l in open(os.environ["EVENTS"])) else 1)'
kill "$MPID" 2>/dev/null || true
wait "$MPID" 2>/dev/null || true
sleep 1
export XPID XPID2 MPID
"$PY" - <<'PY' || fail "exec alert fields"
import json, os
env = os.environ
evs = [json.loads(l) for l in open(env["EVENTS"])]
# (Another agent on the machine may hold the marker too: its collectors read
# the process's environment.)
m = [e for e in evs if e.get("rule.id") == "yara.RP_Test_Mem" and e["process.pid"] == int(env["MPID"])]
assert len(m) == 1 and m[0]["yara.scan"] == "memory", m
assert "memory of process %s" % env["MPID"] in m[0]["event.reason"], m[0]
assert "file.hash.sha256" not in m[0] and m[0]["yara.strings_matched"] == 1, m[0]
evs = [e for e in evs if e.get("yara.scan") != "memory"]
a = [e for e in evs if e.get("rule.id") == "yara.RP_Test_Exec" and e.get("process.pid") == int(env["XPID"])]
assert len(a) == 1, a
a = a[0]
want = {"yara.scan": "exec", "file.path": env["XPROG"], "file.hash.sha256": env["XSHA"],
        "process.pid": int(env["XPID"]), "rule.tags": ["exec_tag"], "event.severity": 73,
        "yara.strings_matched": 1}
for k, v in want.items():
    assert a.get(k) == v, "alert %s: %r, expected %r\n%s" % (k, a.get(k), v, a)
assert a["process.executable"] == env["XPROG"], a
src = [e for e in evs if e.get("event.id") in a["rampart.alert.source_ids"]]
assert len(src) == 1 and src[0].get("event.action") == "exec", src
b = [e for e in evs if e.get("rule.id") == "yara.RP_Test_Exec" and e.get("process.pid") == int(env["XPID2"])]
assert len(b) == 1, b
# The file scanned is the one the process ran (gone from its path now).
assert b[0]["file.hash.sha256"] == env["XSHA"], b[0]
assert "yara.note" not in b[0], b[0]
PY
wait_for 10 "the scheduled scan" file_has agent3.err "plugin yara: scheduled scan: "
grep -F "plugin yara: scheduled scans of 1 paths every 60 s" agent3.err >/dev/null ||
    fail "no scheduled scan start line: $(grep -F 'plugin yara' agent3.err)"
stop_agent

# ---- what the schema cannot check: refused with its key -----------------------------------------
write_cfg '"exclude": ["'"$T"'/watch/../etc"]'
run_cmd cc.out cc.err "$RAMPARTD" --check-config --config "$CFG"
expect_rc 78 "check-config with a .. path"
grep -qF "plugins.yara: check_config refused the config: exclude[0]: expected an absolute path" cc.err ||
    fail "check-config: $(cat cc.err)"
echo "detector_yara: alerts, verdict cache, reloads, persistence, scans and exec scans as expected"
