#!/usr/bin/env bash
# The project's own Sigma ruleset (config/rules/sigma) against real actions,
# through the real collectors and the real detector: ONE agent runs
# collector_process, collector_file (on /etc and this test's folder),
# collector_network and detector_sigma with rule_dirs = the source tree's
# config/rules/sigma. For every rule, tests/collectors/sigma_cases/<rule>.sh
# defines `trigger MARKER` (a harmless real action that must raise the rule)
# and `near_miss MARKER` (a similar harmless action that must not); each
# marker is put in a path or argument. The cases run as a test user that the
# test creates and removes, except those that say why they need root. Then,
# waiting at most 20 s, and 20 s more after one retry of the triggers that
# raised nothing (shown in the report):
#  - every rule raised an alert (rule.id = the rule's id) whose
#    process.command_line, file.path or process.executable holds its
#    trigger's marker, and which names the rule's ATT&CK techniques;
#  - the near miss was seen by the collectors (an event holds its marker)
#    and raised no alert of that rule;
#  - every rule file has a case file and every case file a rule;
#  - the agent's log reports every project rule loaded, none dead or skipped.
# One line per rule: the rule file, what the trigger did, the alert seen.
#
# Triggers that touch the machine outside the test's folder (/etc files,
# /var/tmp) create uniquely named files through sigma_case_lib.sh, which
# records them first, so the exit trap removes them even when a case or the
# test fails. Needs root (fanotify, netlink, unshare).
# Usage: bash test_sigma_ruleset.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
PLUGIN_DIR=$(cd "${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}" && pwd -P)
HERE=$(cd "$(dirname "$0")" && pwd -P)
RULE_DIR=$SRC_DIR/config/rules/sigma
CASE_DIR=$HERE/sigma_cases

if [ "$(id -u)" -ne 0 ]; then
    [ "${RP_REQUIRE_ALL:-}" = 1 ] && fail "needs root (RP_REQUIRE_ALL=1)"
    echo "skipped: needs root (fanotify, the proc connector, unshare, a test user)" >&2
    exit 77
fi
for p in collector_process collector_file collector_network; do
    [ -f "$PLUGIN_DIR/$p.so" ] || fail "no $p.so in $PLUGIN_DIR"
done
if [ ! -f "$PLUGIN_DIR/detector_sigma.so" ]; then
    [ "${RP_REQUIRE_ALL:-}" = 1 ] && fail "no detector_sigma.so in $PLUGIN_DIR (RP_REQUIRE_ALL=1)"
    echo "skipped: no detector_sigma.so in $PLUGIN_DIR" >&2
    exit 77
fi
cd "$T"

# ---- what is undone on exit ------------------------------------------------
export RESTORE_LIST=$T/restore.list
: >"$RESTORE_LIST"
LISTENER_PID=
# restore : undoes, newest first, what the cases recorded: removes the files
# and folders they created outside $T (a tree only under
# /var/tmp/rampart-sigma-), puts back the modification time of a file they
# only touched.
restore() {
    local kind path extra
    [ -f "$RESTORE_LIST" ] || return 0
    while read -r kind path extra; do
        case $kind in
        file) rm -f -- "$path" ;;
        mtime) touch -c -m -d "@$extra" -- "$path" ;;
        dir) rmdir -- "$path" 2>/dev/null || true ;;
        tree) case $path in /var/tmp/rampart-sigma-*) rm -rf -- "$path" ;; esac ;;
        esac
    done < <(tac "$RESTORE_LIST")
    : >"$RESTORE_LIST"
}
TUSER=
ruleset_cleanup() {
    restore
    if [ -n "$LISTENER_PID" ]; then kill "$LISTENER_PID" 2>/dev/null || true; fi
    if [ -n "$TUSER" ]; then
        userdel "$TUSER" 2>/dev/null || true
        if getent group "$TUSER" >/dev/null; then groupdel "$TUSER" 2>/dev/null || true; fi
    fi
    cleanup
}
trap ruleset_cleanup EXIT

# ---- rules and cases match one to one ----------------------------------------
names() { # DIR EXT : the stems of DIR/*.EXT, sorted
    local f
    for f in "$1"/*."$2"; do
        [ -e "$f" ] && basename "$f" ".$2"
    done | LC_ALL=C sort
}
mapfile -t RULES < <(names "$RULE_DIR" yml)
mapfile -t CASES < <(names "$CASE_DIR" sh)
[ "${#RULES[@]}" -ge 40 ] || fail "only ${#RULES[@]} rules in $RULE_DIR"
missing=$(LC_ALL=C comm -23 <(printf '%s\n' "${RULES[@]}") <(printf '%s\n' "${CASES[@]}"))
[ -z "$missing" ] || fail "rules without a case file in $CASE_DIR: $missing"
orphans=$(LC_ALL=C comm -13 <(printf '%s\n' "${RULES[@]}") <(printf '%s\n' "${CASES[@]}"))
[ -z "$orphans" ] || fail "case files without a rule in $RULE_DIR: $orphans"

# ---- the listener the network cases connect to --------------------------------
# Accepts connections on 127.0.0.1 and holds each for 3 s (reading and
# discarding), so the network collector's polls see the connection and its
# process. Exits by itself after 300 s at the latest.
cat >listener.py <<'PY'
import socket, sys, threading, time, os
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(64)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % l.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
def hold(c):
    c.settimeout(0.2)
    end = time.time() + 3
    while time.time() < end:
        try:
            if not c.recv(4096):
                break
        except socket.timeout:
            pass
        except OSError:
            break
    c.close()
l.settimeout(1)
end = time.time() + 300
while time.time() < end:
    try:
        c, _ = l.accept()
    except socket.timeout:
        continue
    threading.Thread(target=hold, args=(c,), daemon=True).start()
PY
"$PY" listener.py "$T/listen.port" &
LISTENER_PID=$!
wait_for 10 "the listener" test -s "$T/listen.port"
LISTEN_PORT=$(cat "$T/listen.port")
export LISTEN_PORT PY

# ---- the agent ------------------------------------------------------------------
cat >rampart.json <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100,
             "file_max_bytes": 0},
  "plugins": {
    "process": {"enabled": true, "file": "collector_process.so", "config": {}},
    "file": {"enabled": true, "file": "collector_file.so",
             "config": {"paths": ["/etc", "$T"]}},
    "net": {"enabled": true, "file": "collector_network.so",
            "config": {"poll_interval_ms": 100}},
    "sigma": {"enabled": true, "file": "detector_sigma.so",
              "config": {"rule_dirs": ["$RULE_DIR"]}}
  }
}
EOF
"$RAMPARTD" --foreground --config rampart.json >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
for p in process file net sigma; do
    wait_for 30 "plugin $p running" file_has agent.err "plugin $p: running"
done

# ---- every project rule loaded ----------------------------------------------------
# The detector's summary line: "loaded N rule files from DIRS: L loaded, D
# dead, S skipped, X disabled, ...". Every file must be a rule that loaded.
summary=$(grep -m1 -E "plugin sigma: loaded [0-9]+ rule files from " agent.err) ||
    fail "no rule load summary from the detector"
echo "$summary"
n=${#RULES[@]}
[[ $summary =~ loaded\ ([0-9]+)\ rule\ files\ from\ .*:\ ([0-9]+)\ loaded,\ ([0-9]+)\ dead,\ ([0-9]+)\ skipped,\ ([0-9]+)\ disabled ]] ||
    fail "unexpected summary: $summary"
if [ "${BASH_REMATCH[1]}" != "$n" ] || [ "${BASH_REMATCH[2]}" != "$n" ] ||
    [ "${BASH_REMATCH[3]}" != 0 ] || [ "${BASH_REMATCH[4]}" != 0 ] || [ "${BASH_REMATCH[5]}" != 0 ]; then
    fail "expected all $n project rules loaded, none dead, skipped or disabled: $summary
$(grep 'plugin sigma' agent.err | head -n 30)"
fi

# ---- the cases --------------------------------------------------------------------
# The cases run as an unprivileged user that the test creates and removes,
# except those whose case file sets AS_ROOT (saying why: files under /etc,
# mounts, nsenter into PID 1, setcap).
TUSER=rptsig$$
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$TUSER" ||
    fail "cannot create the test user $TUSER"
TUID=$(id -u "$TUSER")
TGID=$(id -g "$TUSER")
export CASE_ROOT=$T/cases
mkdir -p "$CASE_ROOT"
chmod 755 "$T"
chown "$TUSER:" "$CASE_ROOT" "$RESTORE_LIST"

# case_var RULE NAME : a variable the rule's case file sets ("" if none).
case_var() {
    # shellcheck disable=SC2016 # the script's variables are its arguments
    bash -c 'source "$1"; printf "%s" "${!2:-}"' _ "$CASE_DIR/$1.sh" "$2"
}
# run_case RULE trigger|near_miss MARKER : one action in a fresh bash,
# bounded, as the test user unless the case sets AS_ROOT; what it prints
# goes to its log.
run_case() {
    local as=(setpriv --reuid="$TUID" --regid="$TGID" --clear-groups --)
    [ -z "$(case_var "$1" AS_ROOT)" ] || as=()
    # shellcheck disable=SC2016 # the script's variables are its arguments
    timeout -k 2 20 "${as[@]}" bash -c 'source "$1"; source "$2"; "$3" "$4"' _ \
        "$HERE/sigma_case_lib.sh" "$CASE_DIR/$1.sh" "$2" "$3" \
        >>"$T/case-$1.log" 2>&1 </dev/null || true
}

# cases.tsv: rule, id, trigger markers (comma-separated: a retry adds one),
# near-miss marker, what the trigger does, the ATT&CK techniques the alert
# must name (threat.technique.id).
: >cases.tsv
i=0
for r in "${RULES[@]}"; do
    i=$((i + 1))
    id=$(sed -n 's/^id: *//p' "$RULE_DIR/$r.yml" | tr -d "'\"")
    [ -n "$id" ] || fail "$r.yml has no id"
    desc=$(case_var "$r" DESC)
    [ -n "$desc" ] || fail "$r.sh sets no DESC"
    [ -z "$(case_var "$r" AS_ROOT)" ] || desc="$desc [as root]"
    techs=$(sed -n 's/^ *- attack\.\(t[0-9][0-9.]*\) *$/\1/p' "$RULE_DIR/$r.yml" |
        tr '[:lower:]' '[:upper:]' | paste -sd,)
    [ -n "$techs" ] || fail "$r.yml has no ATT&CK technique tag"
    tm=rpsig${i}t$RANDOM
    nm=rpsig${i}n$RANDOM
    run_case "$r" trigger "$tm"
    run_case "$r" near_miss "$nm"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$id" "$tm" "$nm" "$desc" "$techs" >>cases.tsv
done

# ---- the alerts ---------------------------------------------------------------------
# check.py MODE : "wait" succeeds once every trigger's alert and every near
# miss's event are in, and prints the rules still without an alert for their
# trigger; "final" prints the report and fails on any problem.
cat >check.py <<'PY'
import glob, json, sys
mode = sys.argv[1]
cases = [l.rstrip("\n").split("\t") for l in open("cases.tsv")]
want = set()
for rule, rid, tms, nm, desc, techs in cases:
    want.update(tms.split(","))
    want.add(nm)
alerts = {}       # (rule id, marker) -> count
alert_techs = {}  # (rule id, marker) -> threat.technique.id of the first
seen = set()      # markers seen in any event that is not an alert
keys = ("process.command_line", "file.path", "process.executable")
for path in sorted(glob.glob("data/events.ndjson*")):
    with open(path, errors="replace") as f:
        for line in f:
            if "rpsig" not in line:
                continue
            ev = json.loads(line)
            text = " ".join(str(ev.get(k, "")) for k in keys)
            for m in want:
                if m in text:
                    if ev.get("event.kind") == "alert":
                        k = (ev.get("rule.id"), m)
                        alerts[k] = alerts.get(k, 0) + 1
                        alert_techs.setdefault(k, ev.get("threat.technique.id") or [])
                    else:
                        seen.add(m)
bad, pending, no_hit = [], [], []
for rule, rid, tms, nm, desc, techs in cases:
    tms = tms.split(",")
    hits = [m for m in tms if alerts.get((rid, m))]
    miss = alerts.get((rid, nm), 0)
    if not hits or nm not in seen:
        pending.append(rule)
    if not hits:
        no_hit.append(rule)
    if mode != "final":
        continue
    if not hits:
        state = "NO ALERT"
    elif hits[0] == tms[0]:
        state = "alert seen"
    else:
        state = "alert seen on try %d" % (tms.index(hits[0]) + 1)
    print("%-45s %s: %s" % (rule + ".yml", desc, state))
    if not hits:
        bad.append("%s: no alert for its trigger (markers %s)" % (rule, ",".join(tms)))
    elif sorted(alert_techs[(rid, hits[0])]) != sorted(techs.split(",")):
        bad.append("%s: the alert names techniques %s, the rule %s" % (rule, alert_techs[(rid, hits[0])], techs))
    if nm not in seen:
        bad.append("%s: the near miss left no event (marker %s)" % (rule, nm))
    if miss:
        bad.append("%s: %d alert(s) for its near miss (marker %s)" % (rule, miss, nm))
if mode == "wait":
    print(" ".join(no_hit))
    sys.exit(1 if pending else 0)
for b in bad:
    print("FAIL: " + b, file=sys.stderr)
print("%d rules, %d raised by their trigger, %d near misses quiet" % (
    len(cases), sum(1 for c in cases if any(alerts.get((c[1], m)) for m in c[2].split(","))),
    sum(1 for c in cases if not alerts.get((c[1], c[3])) and c[3] in seen)))
sys.exit(1 if bad else 0)
PY
# wait_alerts SECONDS : polls until every trigger's alert and every near
# miss's event are in, at most SECONDS; PENDING gets the rules still without
# an alert for their trigger.
wait_alerts() {
    local tries=$1
    until PENDING=$("$PY" check.py wait); do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 0
        sleep 1
    done
}
wait_alerts 20
# A rule whose trigger raised nothing gets one more try with a new marker
# (shown as "alert seen on try 2"): on a loaded machine a program can still
# end before the collectors have read it, which says nothing of the rule.
# A rule that does not match its trigger fails both.
if [ -n "$PENDING" ]; then
    echo "note: retrying the triggers of: $PENDING" >&2
    for r in $PENDING; do
        m=rpsigr$RANDOM$RANDOM
        run_case "$r" trigger "$m"
        "$PY" - "$r" "$m" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open("cases.tsv")]
for row in rows:
    if row[0] == sys.argv[1]:
        row[2] += "," + sys.argv[2]
with open("cases.tsv", "w") as f:
    f.writelines("\t".join(row) + "\n" for row in rows)
PY
    done
    wait_alerts 20
fi
# Alerts of the last near misses, if any, come with their events: one more
# flush interval lets them land.
sleep 1
restore
"$PY" check.py final || fail "ruleset alerts (case logs: $T/case-*.log)"
kill -TERM "$APID"
wait_for 30 "the agent to exit" pid_gone "$APID"
wait "$APID" || fail "the agent exited with status $?"
echo "PASS"
