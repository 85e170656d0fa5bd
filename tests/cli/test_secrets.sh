#!/usr/bin/env bash
# Secrets never appear in what the agent prints (docs/config.md, "Secrets"):
# a distinctive value in every place the config can hold one (the proxy's
# password in output.proxy, the upload token in output.token_file, and a
# plugin key its schema marks "secret": tests/abi's config11 "api_key") is
# looked for in `rampartd --print-config`, `--check-config` errors that
# quote those values, `rampartctl status` (text and --json), status.json,
# `rampartctl plugins --json` and the agent's log: it must be in none. The
# agent still uses the real values: a proxy on loopback records the
# Proxy-Authorization the uploader sends, and the test plugin logs its key
# reversed (it also logs it as it is, which the agent must redact).
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"
BUILD=$(dirname "$(dirname "$RAMPARTD")")
mkdir -m 0755 plugins
mkdir -m 0750 data
cp "$BUILD/tests/abi-plugins/config11_check.so" plugins/
CFG=$T/rampart.json

TOK_PROXY=Prx$$Zq7kWv3
TOK_UPLOAD=Upl$$Jx4mTt9
TOK_PLUGIN=Plg$$Hb2nRc5
printf '%s\n' "$TOK_UPLOAD" >token
chmod 600 token

# A proxy that records the Proxy-Authorization of each request and refuses
# it; bounded: it exits after 60 s whatever happens.
cat >proxy.py <<'PY'
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.settimeout(1)
end = time.time() + 60
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    c.settimeout(2)
    data = b""
    try:
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    for line in data.split(b"\r\n"):
        if line.lower().startswith(b"proxy-authorization:"):
            with open(sys.argv[2], "ab") as f:
                f.write(line.split(b":", 1)[1].strip() + b"\n")
    c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    c.close()
PY
"$PY" proxy.py proxy.port proxy.auth &
AGENT_PIDS+=("$!")
wait_for 10 "the proxy" test -s proxy.port
PPORT=$(cat proxy.port)

# write_cfg PROXY_URL
write_cfg() {
    cat >"$CFG" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "debug",
            "health_interval_ms": 500},
  "output": {"file": "", "stdout": false, "url": "https://127.0.0.1:9/ingest",
             "proxy": "$1", "token_file": "token", "timeout_ms": 2000},
  "plugins": {
    "c11": {"enabled": true, "file": "config11_check.so",
            "config": {"threshold": 50, "api_key": "$TOK_PLUGIN"}}
  }
}
EOF
}

# no_secret FILE... : none of the three values is in any of the files.
no_secret() {
    local f t
    for f in "$@"; do
        [ -f "$f" ] || fail "no $f to look in"
        for t in "$TOK_PROXY" "$TOK_UPLOAD" "$TOK_PLUGIN"; do
            if grep -qF -- "$t" "$f"; then
                fail "$f shows a secret: $(grep -F -- "$t" "$f" | head -3)"
            fi
        done
    done
}

# 1. --print-config: the values are replaced, the rest is shown.
write_cfg "http://rpuser:$TOK_PROXY@127.0.0.1:$PPORT"
run_cmd print.out print.err "$RAMPARTD" --config "$CFG" --print-config
expect_rc 0 "--print-config: $(cat print.err)"
no_secret print.out print.err
[ "$(json_get print.out 'd["output"]["proxy"]')" = "http://<redacted>@127.0.0.1:$PPORT" ] ||
    fail "printed proxy: $(json_get print.out 'd["output"]["proxy"]')"
[ "$(json_get print.out 'd["plugins"]["c11"]["config"]["api_key"]')" = "<redacted>" ] ||
    fail "printed api_key: $(json_get print.out 'd["plugins"]["c11"]["config"]')"
[ "$(json_get print.out 'd["plugins"]["c11"]["config"]["threshold"]')" = 50 ] ||
    fail "printed threshold: the rest must still show"

# 2. Config errors that quote the values: a proxy URL past its length cap,
# and an upload URL curl cannot parse that carries a password.
long=$(printf 'x%.0s' $(seq 1 1100))
write_cfg "http://rpuser:$TOK_PROXY@127.0.0.1:$PPORT/$long"
run_cmd check1.out check1.err "$RAMPARTD" --config "$CFG" --check-config
expect_rc 78 "--check-config with a long proxy"
grep -qF "output.proxy: expected a string of at most 1024 bytes, got string <redacted>" check1.err ||
    fail "the proxy's error: $(cat check1.err)"
no_secret check1.out check1.err
write_cfg "http://rpuser:$TOK_PROXY@127.0.0.1:$PPORT"
sed -i "s|\"url\": \"https://127.0.0.1:9/ingest\"|\"url\": \"https://u:$TOK_PROXY@[bad/ingest\"|" "$CFG"
run_cmd check2.out check2.err "$RAMPARTD" --config "$CFG" --check-config
expect_rc 78 "--check-config with a bad URL"
grep -qF '<redacted>@[bad/ingest" is not a URL' check2.err || fail "the URL's error: $(cat check2.err)"
no_secret check2.out check2.err

# 3. The running agent.
write_cfg "http://rpuser:$TOK_PROXY@127.0.0.1:$PPORT"
"$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 20 "agent started" file_has agent.err "rampartd $VERSION started"
# It uses the real values: the proxy saw the password...
wait_for 20 "the uploader at the proxy" test -s proxy.auth
want=$(printf 'rpuser:%s' "$TOK_PROXY" | base64)
grep -qxF "Basic $want" proxy.auth || fail "Proxy-Authorization: $(cat proxy.auth), want Basic $want"
# ...and the plugin its key, which the log shows redacted.
rev=$(printf '%s' "$TOK_PLUGIN" | rev)
wait_for 10 "the plugin's line" file_has agent.err "config11: api_key=<redacted> reversed=$rev"
wait_for 10 "an upload error in status.json" \
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not d["upload"]["last_error"])' data/status.json
run_cmd st.out st.err "$RAMPARTCTL" --config "$CFG" status
expect_rc 0 "status: $(cat st.err)"
run_cmd stj.out stj.err "$RAMPARTCTL" --config "$CFG" status --json
expect_rc 0 "status --json: $(cat stj.err)"
run_cmd pl.out pl.err "$RAMPARTCTL" --config "$CFG" plugins --json
expect_rc 0 "plugins --json: $(cat pl.err)"
kill -TERM "$APID"
wait "$APID" || fail "agent exit status"
no_secret agent.out agent.err st.out stj.out pl.out data/status.json
echo PASS
