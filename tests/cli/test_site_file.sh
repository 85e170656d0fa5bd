#!/usr/bin/env bash
# The site chosen per machine: a one-line file an installer writes
# (/etc/rampart/site; $RAMPART_SITE_FILE here) beats agent.site of the shared
# main file and loses to --site, for --print-config, --check-config and the
# running agent alike; an unsafe file is refused; a plugin misspelt in an
# overlay is named as such, with the closest name.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"
mkdir sites machine

cat >rampart.json <<'EOF'
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info", "site": "north"},
  "output": {"file": "events.ndjson", "stdout": false},
  "plugins": {"file": {"enabled": false, "file": "collector_file.so"}}
}
EOF
echo '{"agent": {"log_level": "warn"}}' >sites/north.json
echo '{"agent": {"log_level": "error"}}' >sites/south.json
echo '{"agent": {"log_level": "debug"}}' >sites/east.json
echo south >machine/site
chmod 644 machine/site
export RAMPART_SITE_FILE=$T/machine/site

# The machine's file beats agent.site.
run_cmd p.out p.err "$RAMPARTD" --print-config --config rampart.json
expect_rc 0 "--print-config: $(cat p.err)"
[ "$(json_get p.out 'd["agent"]["site"]')" = south ] || fail "site file not used: $(json_get p.out 'd["agent"]["site"]')"
[ "$(json_get p.out 'd["agent"]["log_level"]')" = error ] || fail "south overlay not applied"
run_cmd c.out c.err "$RAMPARTD" --check-config --config rampart.json
expect_rc 0 "--check-config: $(cat c.err)"
grep -qxF "rampartd: configuration OK: rampart.json + sites/south.json" c.out || fail "check-config: $(cat c.out)"

# --site beats the file.
run_cmd p.out p.err "$RAMPARTD" --print-config --config rampart.json --site east
expect_rc 0 "--site east"
[ "$(json_get p.out 'd["agent"]["site"]')" = east ] || fail "--site did not win over the site file"

# The running agent labels its events with the machine's site.
"$RAMPARTD" --foreground --config "$T/rampart.json" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "the agent-started event" file_has data/events.ndjson '"agent-started"'
kill -TERM "$APID"
wait "$APID" || fail "agent exit status"
"$PY" - data/events.ndjson <<'PY' || fail "labels.site of the start event"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"agent-started"' in l][0]
assert ev["labels.site"] == "south", ev
PY

# Without the file, agent.site again.
mv machine/site machine/site.off
run_cmd p.out p.err "$RAMPARTD" --print-config --config rampart.json
[ "$(json_get p.out 'd["agent"]["site"]')" = north ] || fail "agent.site not used without the file"
mv machine/site.off machine/site

# A file others may write is refused, for the check and for start-up.
chmod 666 machine/site
want="rampartd: $T/machine/site (per-machine site file): $T/machine/site: writable by others (mode 0666); chmod go-w it"
run_cmd c.out c.err "$RAMPARTD" --check-config --config rampart.json
expect_rc 78 "site file mode 0666"
[ "$(cat c.err)" = "$want" ] || fail "site file mode 0666: $(cat c.err)"
run_cmd s.out s.err "$RAMPARTD" --foreground --config rampart.json
expect_rc 78 "start with a site file of mode 0666"
[ "$(cat s.err)" = "$want" ] || fail "start, site file mode 0666: $(cat s.err)"
chmod 644 machine/site
# A bad name in it.
echo '../north' >machine/site
run_cmd c.out c.err "$RAMPARTD" --check-config --config rampart.json
expect_rc 78 "bad site name in the file"
grep -qF "rampartd: $T/machine/site (per-machine site file): expected a site name" c.err || fail "bad name: $(cat c.err)"
# A misspelt site in it: the file is named and the closest overlay offered.
echo sotuh >machine/site
run_cmd c.out c.err "$RAMPARTD" --check-config --config rampart.json
expect_rc 78 "misspelt site in the file"
[ "$(cat c.err)" = "rampartd: sites/sotuh.json: cannot read: No such file or directory (the site \"sotuh\" is named in $T/machine/site); did you mean \"south\"?" ] ||
    fail "misspelt site: $(cat c.err)"
echo south >machine/site

# A misspelt plugin in the overlay: named, with the closest name, not
# "required key missing".
echo '{"plugins": {"files": {"enabled": true}}}' >sites/south.json
run_cmd m.out m.err "$RAMPARTD" --check-config --config rampart.json
expect_rc 78 "misspelt plugin"
[ "$(cat m.err)" = 'rampartd: sites/south.json: plugins.files: no plugin "files" in rampart.json; did you mean "file"?' ] ||
    fail "misspelt plugin: $(cat m.err)"
! grep -q "required key missing" m.err || fail "still says required key missing"

echo "ok"
