#!/usr/bin/env bash
# --check-config runs every check start-up runs and reports every error, one
# line each naming the file, the JSON path and what was expected; start-up
# refuses the same config with the same lines (status 78 for both), and
# neither creates anything.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"
mkdir plugins
cp "$(dirname "$RAMPARTD")/../plugins/collector_file.so" plugins/

# config OUTPUT_JSON PATHS_JSON : a main file uploading with OUTPUT_JSON
# (extra keys of "output") and the file collector watching PATHS_JSON.
config() {
    cat >rampart.json <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, $1},
  "plugins": {"file": {"enabled": true, "file": "collector_file.so",
                       "config": {"paths": $2}}}
}
EOF
}

# check_both EXPECTED_FILE WHAT : --check-config and a start in the
# foreground both exit 78 with exactly these error lines (the lines of
# stderr that are not time-stamped log lines), and create nothing.
check_both() {
    run_cmd c.out c.err "$RAMPARTD" --check-config --config rampart.json
    expect_rc 78 "--check-config: $2"
    grep -v '^[0-9]\{4\}-' c.err >c.lines.out || true
    diff -u "$1" c.lines.out >diff.out || fail "--check-config ($2): errors differ: $(cat diff.out)"
    [ ! -s c.out ] || fail "--check-config ($2) wrote to stdout: $(cat c.out)"
    run_cmd s.out s.err "$RAMPARTD" --foreground --config rampart.json
    expect_rc 78 "start-up: $2"
    grep -v '^[0-9]\{4\}-' s.err >s.lines.out || true
    diff -u "$1" s.lines.out >diff.out || fail "start-up ($2): errors differ: $(cat diff.out)"
    [ ! -e data ] || fail "start-up ($2) created the data folder"
}

echo 'a-token' >token
chmod 600 token
GOOD='"url": "https://127.0.0.1:9/ingest", "token_file": "token"'
PIN_MSG="output.pinned_pubkey: expected sha256//<base64 of the SHA-256 of the server's public key> (44 characters), several separated by ';'"

# A good config passes.
config "$GOOD" '["/etc"]'
run_cmd ok.out ok.err "$RAMPARTD" --check-config --config rampart.json
expect_rc 0 "good config: $(cat ok.err)"
rm -rf data

# Each mistake on its own: the same line from --check-config and start-up.
config '"url": "http://127.0.0.1:9/ingest"' '["/etc"]'
echo 'rampartd: rampart.json: output.url: "http://127.0.0.1:9/ingest" is not an https:// URL; events only travel over TLS' >want
check_both want "http URL"

config '"url": "https://ingest:s3cret-pw@127.0.0.1:9/ingest"' '["/etc"]'
echo 'rampartd: rampart.json: output.url: the URL carries a user name or password; put the secret in output.token_file instead' >want
check_both want "credentials in the URL"
! grep -q s3cret-pw c.err s.err || fail "the URL's password was printed"

chmod 644 token
config "$GOOD" '["/etc"]'
echo "rampartd: rampart.json: output.token_file $T/token: mode 0644 lets group or others access it; it holds a secret, so allow its owner only (chmod 600 $T/token)" >want
check_both want "token file mode 0644"
chmod 600 token

config '"url": "https://127.0.0.1:9/ingest", "token_file": "missing-token"' '["/etc"]'
echo "rampartd: rampart.json: output.token_file $T/missing-token: No such file or directory" >want
check_both want "missing token file"

config "$GOOD"', "ca_file": "missing-ca.pem"' '["/etc"]'
echo "rampartd: rampart.json: output.ca_file $T/missing-ca.pem: No such file or directory" >want
check_both want "missing CA file"

config "$GOOD"', "pinned_pubkey": "sha256//tooshort="' '["/etc"]'
echo "rampartd: rampart.json: $PIN_MSG" >want
check_both want "bad pin"

config "$GOOD" '["/etc", "tmp"]'
echo 'rampartd: rampart.json: plugins.file.config.paths[1]: expected an absolute path, got string "tmp"' >want
check_both want "relative path in the file collector's paths"

# All of them at once: every error reported, in one run, the same both ways.
chmod 644 token
config '"url": "http://127.0.0.1:9/ingest", "token_file": "token", "ca_file": "missing-ca.pem", "pinned_pubkey": "sha256//x"' \
    '["tmp", "/etc", "var/log"]'
cat >want <<EOF
rampartd: rampart.json: output.url: "http://127.0.0.1:9/ingest" is not an https:// URL; events only travel over TLS
rampartd: rampart.json: output.ca_file $T/missing-ca.pem: No such file or directory
rampartd: rampart.json: $PIN_MSG
rampartd: rampart.json: output.token_file $T/token: mode 0644 lets group or others access it; it holds a secret, so allow its owner only (chmod 600 $T/token)
rampartd: rampart.json: plugins.file.config.paths[0]: expected an absolute path, got string "tmp"
rampartd: rampart.json: plugins.file.config.paths[2]: expected an absolute path, got string "var/log"
EOF
check_both want "six mistakes at once"

# Structure errors of the core config are all reported too.
cat >rampart.json <<'EOF'
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "loud", "health_interval_ms": 1},
  "output": {"stdout": "yes", "gzpi": true},
  "plugins": {}
}
EOF
cat >want <<'EOF'
rampartd: rampart.json: agent.log_level: expected one of "error", "warn", "info", "debug", got string "loud"
rampartd: rampart.json: agent.health_interval_ms: expected a number >= 100, got integer 1
rampartd: rampart.json: output.stdout: expected one of true, false, "json", "text", got string "yes"
rampartd: rampart.json: output.gzpi: unknown key; did you mean "gzip"? (allowed: file, file_max_bytes, file_keep, file_max_rotations_per_min, flush_interval_ms, stdout, url, format, ca_file, client_cert, client_key, pinned_pubkey, token_file, proxy, timeout_ms, batch_max_events, batch_max_bytes, gzip, auth_scheme, elastic, splunk, loki, otlp)
EOF
check_both want "four structure errors"

echo "ok"
