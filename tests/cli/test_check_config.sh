#!/usr/bin/env bash
# --check-config, --print-config and --site: exit 0 when valid, 78 with one
# line naming the file and the JSON path when not.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"
mkdir sites

# Exactly one line on stderr, equal to $1.
expect_one_line() {
    [ "$(wc -l <"$2")" -eq 1 ] || fail "expected one line on stderr, got: $(cat "$2")"
    [ "$(cat "$2")" = "$1" ] || fail "stderr: expected [$1], got [$(cat "$2")]"
}

# Good config.
write_config rampart.json info
run_cmd ok.out ok.err "$RAMPARTD" --check-config --config "$T/rampart.json"
expect_rc 0 "valid config"
grep -qxF "rampartd: configuration OK: $T/rampart.json" ok.out || fail "check-config said: $(cat ok.out)"
[ ! -s ok.err ] || fail "valid config wrote to stderr: $(cat ok.err)"
[ ! -e data ] || fail "--check-config created the data folder"

# The committed default config is valid too (relative to the checkout).
run_cmd def.out def.err "$RAMPARTD" --check-config --config "$SRC_DIR/config/rampart.json"
expect_rc 0 "config/rampart.json: $(cat def.err)"

# Bad value in the site overlay: the issue's example, file named as given.
cat >rampart.json <<'JSON'
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "site": "north"},
  "plugins": {"proc": {"enabled": false, "file": "proc.so"}}
}
JSON
echo '{"plugins": {"proc": {"enabled": "yes"}}}' >sites/north.json
run_cmd bad.out bad.err "$RAMPARTD" --check-config --config rampart.json
expect_rc 78 "wrong type in overlay"
expect_one_line 'rampartd: sites/north.json: plugins.proc.enabled: expected boolean, got string "yes"' bad.err
[ ! -s bad.out ] || fail "invalid config wrote to stdout"

# The same with an absolute path, without --check-config (start-up validates).
run_cmd bad2.out bad2.err "$RAMPARTD" --foreground --config "$T/rampart.json"
expect_rc 78 "wrong type at start-up"
expect_one_line "rampartd: $T/sites/north.json: plugins.proc.enabled: expected boolean, got string \"yes\"" bad2.err
[ ! -e data ] || fail "an invalid config still created the data folder"

# Malformed JSON: line and column.
printf '{\n  "agent": {\n    "log_level": "info",\n  }\n}\n' >broken.json
run_cmd mal.out mal.err "$RAMPARTD" --check-config --config broken.json
expect_rc 78 "malformed JSON"
expect_one_line "rampartd: broken.json: line 4, column 3: invalid JSON: string or '}' expected near '}'" mal.err

# Unknown key with a hint.
echo '{"agent": {"log_levle": "debug"}}' >typo.json
run_cmd typo.out typo.err "$RAMPARTD" --check-config --config typo.json
expect_rc 78 "unknown key"
expect_one_line 'rampartd: typo.json: agent.log_levle: unknown key; did you mean "log_level"? (allowed: site, data_dir, plugin_dir, pid_file, log_level, log_target, health_interval_ms, loop_slice_us, loop_realtime_max_cpu_pct, labels, bus_max_bytes, stop_grace_ms, control_socket, plugin_command_timeout_ms, plugin_file_reloads_max, trusted_keys, require_signed_plugins, max_rss_bytes, drop_capabilities)' typo.err

# Missing main file, a folder as the main file.
run_cmd miss.out miss.err "$RAMPARTD" --check-config --config nothere.json
expect_rc 78 "missing main file"
expect_one_line "rampartd: nothere.json: cannot read: No such file or directory" miss.err
run_cmd dir.out dir.err "$RAMPARTD" --check-config --config sites
expect_rc 78 "folder as main file"
expect_one_line "rampartd: sites: not a regular file" dir.err

# --print-config: the merged document (defaults <- main <- overlay).
write_config rampart.json info '"site": "north"'
echo '{"agent": {"log_level": "debug"}, "plugins": {"fim": {"enabled": true, "file": "fim.so"}}}' >sites/north.json
echo '{"agent": {"log_level": "error"}, "output": {"stdout": false}}' >sites/south.json
run_cmd p.out p.err "$RAMPARTD" --print-config --config "$T/rampart.json"
expect_rc 0 "--print-config: $(cat p.err)"
[ "$(json_get p.out 'd["agent"]["site"]')" = north ] || fail "print-config: agent.site"
[ "$(json_get p.out 'd["agent"]["log_level"]')" = debug ] || fail "print-config: overlay log_level not merged"
[ "$(json_get p.out 'd["agent"]["data_dir"]')" = data ] || fail "print-config: agent.data_dir"
[ "$(json_get p.out 'd["agent"]["log_target"]')" = auto ] || fail "print-config: default log_target missing"
[ "$(json_get p.out 'd["plugins"]["fim"]["enabled"]')" = True ] || fail "print-config: overlay plugin"
[ "$(json_get p.out 'sorted(d)')" = "['agent', 'output', 'plugins', 'policy', 'spool']" ] || fail "print-config: top-level keys"

# --site overrides agent.site.
run_cmd s.out s.err "$RAMPARTD" --print-config --config "$T/rampart.json" --site south
expect_rc 0 "--site south: $(cat s.err)"
[ "$(json_get s.out 'd["agent"]["site"]')" = south ] || fail "--site did not override agent.site"
[ "$(json_get s.out 'd["agent"]["log_level"]')" = error ] || fail "--site: south overlay not applied"
[ "$(json_get s.out 'd["output"]["stdout"]')" = False ] || fail "--site: south overlay not applied"
[ "$(json_get s.out '"fim" in d["plugins"]')" = False ] || fail "--site: north overlay applied too"
run_cmd s2.out s2.err "$RAMPARTD" --check-config -c "$T/rampart.json" -s south
expect_rc 0 "-s south"
grep -qxF "rampartd: configuration OK: $T/rampart.json + $T/sites/south.json" s2.out || fail "check-config with site: $(cat s2.out)"

# Missing overlay, bad site names.
run_cmd mo.out mo.err "$RAMPARTD" --check-config --config "$T/rampart.json" --site west
expect_rc 78 "missing overlay"
expect_one_line "rampartd: $T/sites/west.json: cannot read: No such file or directory" mo.err
rule="expected a site name of letters, digits, '_', '-' and '.' that does not start with '.' or '-', has no \"..\" and is at most 64 bytes"
for site in ../north a/b .hidden ""; do
    run_cmd bs.out bs.err "$RAMPARTD" --check-config --config "$T/rampart.json" --site "$site"
    expect_rc 78 "--site '$site'"
    expect_one_line "rampartd: --site: $rule, got \"$site\"" bs.err
done

# An overlay that is not an object.
echo '["debug"]' >sites/north.json
run_cmd no.out no.err "$RAMPARTD" --check-config --config "$T/rampart.json"
expect_rc 78 "overlay not an object"
expect_one_line "rampartd: $T/sites/north.json: (top level): expected object (a JSON merge patch), got array" no.err

echo "ok"
