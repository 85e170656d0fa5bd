#!/usr/bin/env bash
# tests/e2e/backend/backend.sh - the real backend of Rampart's end-to-end tests:
# ClickHouse (Debian's clickhouse-server 18.16) on 127.0.0.1 behind nginx,
# which terminates TLS with certificates made here. See tests/e2e/README.md.
#
#   backend.sh install                 apt-get the packages (only those missing)
#   backend.sh start DIR               certs, configs, ClickHouse, nginx; prints
#                                      `export` lines, also written to DIR/env.sh
#                                      (RAMPART_E2E_CH_BUFFER=1: Buffer table)
#   backend.sh stop DIR                stop nginx and ClickHouse (by PID)
#   backend.sh stop-clickhouse DIR     stop ClickHouse only (nginx answers 502)
#   backend.sh start-clickhouse DIR    start it again, same ports, same data
#   backend.sh count DIR               "count()<TAB>uniqExact(event.id)"
#   backend.sh query DIR SQL           run SQL on ClickHouse, print the result
#   backend.sh reset DIR               empty rampart.events (and events_store)
#   backend.sh status DIR              which of the two processes run
#
# Everything listens on 127.0.0.1 only, on free ports picked at start; all
# files are under DIR. Every wait is bounded.
set -euo pipefail

PKGS=(clickhouse-server clickhouse-client nginx-light openssl curl)
CH_BIN=${RAMPART_E2E_CLICKHOUSE_SERVER:-clickhouse-server}
NGINX_BIN=${RAMPART_E2E_NGINX:-nginx}
ECHO_MODULE=/usr/lib/nginx/modules/ngx_http_echo_module.so
CH_START_TIMEOUT=${RAMPART_E2E_CH_START_TIMEOUT:-30} # seconds
STOP_TIMEOUT=${RAMPART_E2E_STOP_TIMEOUT:-15}         # seconds, then SIGKILL
BUFFER=${RAMPART_E2E_CH_BUFFER:-0} # start: 1 = rampart.events is a Buffer table
# ClickHouse settings every insert needs (see README): RFC 3339 times, and
# fields the table has no column for (Rampart emits more than it stores).
INSERT_SETTINGS='date_time_input_format=best_effort&input_format_skip_unknown_fields=1'
INSERT_QUERY="?query=INSERT%20INTO%20rampart.events%20FORMAT%20JSONEachRow&${INSERT_SETTINGS}"

log() { printf 'backend: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
now() { date +%s.%N; }
# curl to 127.0.0.1 only, never through a proxy from the environment.
lcurl() { curl --noproxy '*' -sS "$@"; }

# ---------------------------------------------------------------- install

pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

# The packages' maintainer scripts may start nginx (:80) and clickhouse-server
# (:8123/:9000) as system services; the tests use their own instances only.
stop_packaged_services() {
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now clickhouse-server.service nginx.service >/dev/null 2>&1 || true
    fi
    local pidfile pid
    for pidfile in /run/nginx.pid /run/clickhouse-server/clickhouse-server.pid \
        /var/run/clickhouse-server/clickhouse-server.pid; do
        [ -r "$pidfile" ] || continue
        pid=$(tr -dc '0-9' <"$pidfile")
        [ -n "$pid" ] || continue
        case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
        nginx | clickhouse-serv*)
            log "stopping the packaged service (pid $pid from $pidfile)"
            kill_pid "$pid" "" ;;
        esac
    done
}

cmd_install() {
    local missing=() p
    for p in "${PKGS[@]}"; do pkg_installed "$p" || missing+=("$p"); done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "packages already installed: ${PKGS[*]}"
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "installing ${missing[*]} needs root"
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then # forbid service starts during the install
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        made_policy=1
    fi
    local need_update=0
    for p in "${missing[@]}"; do
        apt-cache policy "$p" 2>/dev/null | grep -q '^ *Candidate: *[^( ]' || need_update=1
    done
    local rc=0
    local opts=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef
        -o Dpkg::Options::=--force-confold)
    if [ "$need_update" = 1 ]; then apt-get update -q || rc=$?; fi
    if [ "$rc" = 0 ]; then apt-get install "${opts[@]}" "${missing[@]}" || rc=$?; fi
    if [ "$rc" != 0 ] && [ "$need_update" = 0 ]; then
        log "install failed ($rc); updating the package lists once and retrying"
        rc=0
        { apt-get update -q && apt-get install "${opts[@]}" "${missing[@]}"; } || rc=$?
    fi
    if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
    [ "$rc" = 0 ] || die "apt-get failed ($rc)"
    stop_packaged_services
}

# ---------------------------------------------------------------- processes

# 0 if pid runs (a zombie does not count: PID 1 may not reap here).
alive() {
    local line st
    [ -n "${1:-}" ] || return 1
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    st=${line##*) } # comm, in parentheses, may hold anything
    st=${st%% *}
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# 0 if pid runs and its command line contains the string (PID reuse guard).
owns() {
    alive "$1" || return 1
    [ -z "$2" ] && return 0
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

children_of() { # one pass over /proc: field 4 of stat is the parent
    cat /proc/[0-9]*/stat 2>/dev/null |
        awk -v p="$1" '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); if (f[2] == p) print $1 }' || true
}

# kill_pid PID MATCH: TERM, wait up to STOP_TIMEOUT s, then KILL (its direct
# children too, e.g. nginx workers). Only if the command line contains MATCH.
kill_pid() {
    local pid=$1 match=$2 kids i
    owns "$pid" "$match" || return 0
    kids=$(children_of "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 20; i++)); do
        alive "$pid" || break
        sleep 0.05
    done
    if alive "$pid"; then
        log "pid $pid still runs after ${STOP_TIMEOUT}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            alive "$pid" || break
            sleep 0.05
        done
    fi
    for pid in $kids; do
        if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    done
}

# ---------------------------------------------------------------- ports

used_ports() {
    local f
    for f in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$f" ] || continue
        # local_address is field 2, "ADDR:PORT" with PORT in hex
        awk 'NR > 1 { split($2, a, ":"); print a[2] }' "$f"
    done | while read -r hex; do printf '%d\n' "0x$hex"; done | sort -un
}

# free_ports N: N distinct ports that no socket uses now, below the
# ephemeral range so outgoing connections cannot take them meanwhile.
free_ports() {
    local n=$1 used p picked=" " tries=0
    used=" $(used_ports | tr '\n' ' ') "
    while [ "$n" -gt 0 ]; do
        tries=$((tries + 1))
        [ "$tries" -lt 10000 ] || die "no free port found"
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        case "$used$picked" in *" $p "*) continue ;; esac
        picked="$picked$p "
        n=$((n - 1))
    done
    echo "$picked"
}

# ---------------------------------------------------------------- certificates

make_certs() {
    local d=$1/tls
    mkdir -p "$d"
    chmod 0700 "$d"
    [ -s "$d/client.crt" ] && [ -s "$d/rogue.crt" ] && return 0
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    (
        cd "$d"
        umask 077
        openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 30 \
            -subj "/CN=Rampart e2e test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >server.ext
        printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=clientAuth" >client.ext
        local who
        for who in server client; do
            openssl req -new "${ec[@]}" -keyout "$who.key" -out "$who.csr" \
                -subj "/CN=$([ "$who" = server ] && echo localhost || echo rampart-e2e-agent)" 2>/dev/null
            openssl x509 -req -in "$who.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
                -days 30 -extfile "$who.ext" -out "$who.crt" 2>/dev/null
        done
        # a client certificate from no CA nginx knows, for negative tests
        openssl req -x509 "${ec[@]}" -keyout rogue.key -out rogue.crt -days 30 \
            -subj "/CN=rogue" -addext "extendedKeyUsage=clientAuth" 2>/dev/null
        rm -f ./*.csr ./*.srl
        chmod 0644 ./*.crt
    ) || die "openssl failed"
}

server_pin() { # libcurl CURLOPT_PINNEDPUBLICKEY form
    printf 'sha256//%s' "$(openssl x509 -in "$1" -pubkey -noout |
        openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | openssl base64 -A)"
}

# ---------------------------------------------------------------- ClickHouse

write_clickhouse_config() {
    local d=$1/clickhouse http=$2 tcp=$3
    mkdir -p "$d/data" "$d/tmp" "$d/user_files" "$d/format_schemas" "$d/log"
    cat >"$d/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Made by tests/e2e/backend/backend.sh: a throw-away instance for tests. -->
<yandex>
  <logger>
    <level>warning</level>
    <log>$d/log/server.log</log>
    <errorlog>$d/log/error.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$http</http_port>
  <tcp_port>$tcp</tcp_port>
  <keep_alive_timeout>10</keep_alive_timeout>
  <max_connections>256</max_connections>
  <max_concurrent_queries>64</max_concurrent_queries>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/user_files/</user_files_path>
  <format_schema_path>$d/format_schemas/</format_schema_path>
  <users_config>$d/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <mlock_executable>false</mlock_executable>
  <max_table_size_to_drop>0</max_table_size_to_drop>
  <merge_tree>
    <parts_to_delay_insert>1000</parts_to_delay_insert>
    <parts_to_throw_insert>3000</parts_to_throw_insert>
  </merge_tree>
</yandex>
EOF
    cat >"$d/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>2000000000</max_memory_usage>
      <background_pool_size>4</background_pool_size>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
        <read_rows>0</read_rows><execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
EOF
}

ch_sql() { # ch_sql PORT SQL: the result on stdout; ClickHouse's error too, and rc 22
    lcurl --max-time 60 --fail-with-body "http://127.0.0.1:$1/" --data-binary "$2"
}

# The ECS columns Rampart emits, flat dotted names. Two Array columns whose
# names share the part before the first dot form a ClickHouse "Nested"
# structure and must hold arrays of equal length in every row; so this table
# has only event.category + event.type (equal, one item each in Rampart's
# events) and process.args (alone under "process."). See README.md.
# DEFAULTs are documentation: 18.16's JSONEachRow fills an omitted field with
# the type's default ('' / 0 / [] / 0000-00-00 00:00:00), not the expression.
EVENTS_DDL=$(
    cat <<'SQL'
CREATE TABLE IF NOT EXISTS rampart.TABLE (
  `@timestamp` DateTime DEFAULT now(),
  `event.id` String DEFAULT '',
  `event.kind` String DEFAULT '',
  `event.category` Array(String) DEFAULT [],
  `event.type` Array(String) DEFAULT [],
  `event.action` String DEFAULT '',
  `event.severity` Int64 DEFAULT 0,
  `message` String DEFAULT '',
  `agent.id` String DEFAULT '',
  `host.hostname` String DEFAULT '',
  `host.name` String DEFAULT '',
  `process.pid` Int64 DEFAULT 0,
  `process.name` String DEFAULT '',
  `process.executable` String DEFAULT '',
  `process.args` Array(String) DEFAULT [],
  `process.command_line` String DEFAULT '',
  `process.working_directory` String DEFAULT '',
  `process.entity_id` String DEFAULT '',
  `process.start` DateTime DEFAULT now(),
  `process.hash.sha256` String DEFAULT '',
  `process.interactive` UInt8 DEFAULT 0,
  `process.parent.pid` Int64 DEFAULT 0,
  `process.parent.name` String DEFAULT '',
  `process.parent.executable` String DEFAULT '',
  `process.parent.command_line` String DEFAULT '',
  `process.parent.entity_id` String DEFAULT '',
  `user.id` String DEFAULT '',
  `user.name` String DEFAULT '',
  `group.id` String DEFAULT '',
  `rule.id` String DEFAULT '',
  `rule.name` String DEFAULT '',
  `synthetic.seq` UInt64 DEFAULT 0
) ENGINE = MergeTree ORDER BY tuple()
SQL
)

# The schema shipped to users (docs/clickhouse-schema.sql), loaded into the
# database `ecs` (the file's `rampart.` replaced) so the tests prove that very
# file takes real events; rampart.events above stays the tests' own table.
SCHEMA_FILE=${RAMPART_E2E_SCHEMA:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd -P)/docs/clickhouse-schema.sql}
ECS_DB=ecs
ECS_INSERT_QUERY="?query=INSERT%20INTO%20${ECS_DB}.events_ingest%20FORMAT%20CSV&format_csv_delimiter=%01"

# load_schema PORT: runs each statement of SCHEMA_FILE (they end with ";" at
# the end of a line) over HTTP, which takes one statement per request.
load_schema() {
    local port=$1 stmt
    [ -r "$SCHEMA_FILE" ] || die "schema file not found: $SCHEMA_FILE"
    sed -e "s/\<rampart\./${ECS_DB}./g" -e "s/^CREATE DATABASE IF NOT EXISTS rampart;/CREATE DATABASE IF NOT EXISTS ${ECS_DB};/" \
        "$SCHEMA_FILE" | awk 'BEGIN { RS = ";\n" } NF { printf "%s%c", $0, 0 }' |
        while IFS= read -r -d '' stmt; do
            ch_sql "$port" "$stmt" >/dev/null || die "schema $SCHEMA_FILE: ClickHouse refused: ${stmt:0:200}"
        done
}

[ "$BUFFER" = 0 ] || [ "$BUFFER" = 1 ] || die "RAMPART_E2E_CH_BUFFER must be 0 or 1"

# Starts clickhouse-server in the background (its own session, stdio to
# files so a caller's pipe is never held), waits until SELECT 1 answers.
spawn_clickhouse() { # spawn_clickhouse DIR: starts the process, does not wait
    local dir=$1 d=$1/clickhouse
    : >"$d/log/stdout.log"
    setsid "$CH_BIN" --config-file="$d/config.xml" </dev/null >>"$d/log/stdout.log" 2>&1 &
    echo "$!" >"$dir/clickhouse.pid"
}

wait_clickhouse() { # wait_clickhouse DIR PORT: 0 once SELECT 1 answers
    local dir=$1 port=$2 d=$1/clickhouse pid i
    pid=$(cat "$dir/clickhouse.pid")
    for ((i = 0; i < CH_START_TIMEOUT * 20; i++)); do
        if lcurl --max-time 2 -f "http://127.0.0.1:$port/?query=SELECT%201" 2>/dev/null | grep -qx 1; then
            return 0
        fi
        alive "$pid" || break
        sleep 0.05
    done
    if alive "$pid"; then
        log "clickhouse-server did not answer within ${CH_START_TIMEOUT}s; its logs:"
        kill_pid "$pid" "$d/config.xml"
    else
        log "clickhouse-server exited; its logs:"
    fi
    rm -f "$dir/clickhouse.pid"
    tail -n 20 "$d/log/stdout.log" "$d/log/error.log" >&2 2>/dev/null || true
    return 1
}

# ---------------------------------------------------------------- nginx

write_nginx_config() {
    local dir=$1 ch=$2 bearer=$3 mtls=$4 discard=$5 token=$6
    local n=$dir/nginx t=$dir/tls user_line="" echo_line="" discard_body
    mkdir -p "$n/tmp/body" "$n/tmp/proxy" "$n/tmp/fastcgi" "$n/tmp/uwsgi" "$n/tmp/scgi"
    if [ "$(id -u)" = 0 ]; then user_line="user root;"; fi # workers write under DIR
    # The echo module (a dependency of Debian 12's nginx-light) reads the whole
    # body before answering; plain `return 200` may answer before it arrived.
    if [ -r "$ECHO_MODULE" ]; then
        echo_line="load_module $ECHO_MODULE;"
        discard_body='echo_read_request_body; echo "ok";'
    else
        discard_body='return 200 "ok\n";'
    fi
    cat >"$n/routes.conf" <<EOF
# shared by the Bearer and the mTLS server
location / {
    rewrite ^ / break;               # any path; the query string is kept
    proxy_pass http://clickhouse;
}
location = /discard { $discard_body }
location = /status/429 { add_header Retry-After 2 always; return 429; }
location = /status/503 { add_header Retry-After 3 always; return 503; }
$(for c in 400 401 403 404 409 413 422 500 502 504; do echo "location = /status/$c { return $c; }"; done)
location = /flaky {                  # 503 while DIR/flaky exists, else ClickHouse
    if (-f $dir/flaky) { add_header Retry-After 2 always; return 503; }
    rewrite ^ / break;
    proxy_pass http://clickhouse;
}
location = /bulk2 {                  # an Elasticsearch _bulk answer for 2 lines: the 2nd refused
    default_type application/json;
    return 200 '{"took":3,"errors":true,"items":[{"create":{"_index":"r","_id":"a","status":201}},{"create":{"_index":"r","_id":"b","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [process.pid]"}}}]}';
}
$(capture_routes "$dir")
location = /flaky429 {               # 429 while DIR/flaky exists, else ClickHouse
    if (-f $dir/flaky) { add_header Retry-After 3 always; return 429; }
    rewrite ^ / break;
    proxy_pass http://clickhouse;
}
EOF
    cat >"$dir/nginx.conf" <<EOF
# Made by tests/e2e/backend/backend.sh: run as nginx -p $dir/ -c $dir/nginx.conf
$echo_line
$user_line
daemon on;
worker_processes 2;
pid $dir/nginx.pid;
error_log $n/error.log warn;
events { worker_connections 512; }
http {
    # status, request_length (body included), seconds, port: selftest reads these
    log_format e2e '\$status \$request_length \$request_time \$server_port "\$request" \$remote_addr [\$time_local] \$msec';
    access_log $n/access.log e2e;
    client_body_temp_path $n/tmp/body;
    proxy_temp_path $n/tmp/proxy;
    fastcgi_temp_path $n/tmp/fastcgi;
    uwsgi_temp_path $n/tmp/uwsgi;
    scgi_temp_path $n/tmp/scgi;
    default_type text/plain;
    server_tokens off;
    client_max_body_size 64m;
    client_body_buffer_size 1m;
    keepalive_timeout 60s;
    keepalive_requests 100000;
    ssl_certificate $t/server.crt;
    ssl_certificate_key $t/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:rampart_e2e:1m;

    # One connection per request to ClickHouse (cheap on loopback): an idle
    # kept-alive one would hold ClickHouse's graceful stop for up to 5 s
    # (shutdown_wait_unfinished) and could race its keep-alive timeout.
    upstream clickhouse {
        server 127.0.0.1:$ch max_fails=0;
    }
    proxy_http_version 1.1;
    proxy_set_header Connection close;
    # ClickHouse reads Authorization as its own (Basic) login: 500 "Basic
    # authentication expected" for a Bearer header. Never forward it.
    proxy_set_header Authorization "";
    proxy_connect_timeout 2s;
    proxy_read_timeout 120s;
    proxy_send_timeout 120s;
    proxy_request_buffering on;
    proxy_buffering off;

    # empty when the token is right: then no header and no 401
    map_hash_bucket_size 256;       # the token is 64 hex digits
    map \$http_authorization \$rampart_www_auth {
        default 'Bearer realm="rampart-e2e"';
        "Bearer $token" "";
    }

    server {                          # BEARER
        listen 127.0.0.1:$bearer ssl;
        add_header WWW-Authenticate \$rampart_www_auth always;
        if (\$rampart_www_auth) { return 401; }
        include $n/routes.conf;
    }
    server {                          # MTLS
        listen 127.0.0.1:$mtls ssl;
        ssl_client_certificate $t/ca.crt;
        ssl_verify_client on;
        ssl_verify_depth 2;
        include $n/routes.conf;
    }
    server {                          # DISCARD: 200 to anything, after the whole body
        listen 127.0.0.1:$discard ssl;
        location / { $discard_body }
    }
}
EOF
}

# /capture/FORMAT: keeps each request body in DIR/capture/FORMAT/ (one file
# per request, as sent: gzip when the agent compressed it) and answers as
# that backend answers a success. Needs the echo module (read the body
# before answering, set the status); without it there are no such routes.
capture_routes() {
    local dir=$1 f answer
    [ -r "$ECHO_MODULE" ] || return 0
    mkdir -p "$dir/capture"
    for f in ndjson elastic splunk loki otlp; do
        case $f in
        ndjson) answer='echo "ok";' ;;
        elastic) answer="default_type application/json; echo '{\"took\":1,\"errors\":false,\"items\":[]}';" ;;
        splunk) answer="default_type application/json; echo '{\"text\":\"Success\",\"code\":0}';" ;;
        loki) answer='echo_status 204;' ;;
        otlp) answer="default_type application/json; echo '{}';" ;;
        esac
        echo "location = /capture/$f {"
        echo "    client_body_in_file_only on; client_body_temp_path $dir/capture/$f;"
        echo "    echo_read_request_body; $answer"
        echo "}"
    done
}

launch_nginx() {
    local dir=$1 i pid
    rm -f "$dir/nginx.pid"
    if ! "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" </dev/null >>"$dir/nginx/stdout.log" 2>&1; then
        log "nginx failed to start:"
        tail -n 20 "$dir/nginx/stdout.log" "$dir/nginx/error.log" >&2 2>/dev/null || true
        return 1
    fi
    for ((i = 0; i < 100; i++)); do # daemon on: the pid file comes soon after
        pid=$(tr -dc '0-9' 2>/dev/null <"$dir/nginx.pid" || true)
        if [ -n "$pid" ] && alive "$pid"; then return 0; fi
        sleep 0.05
    done
    log "nginx wrote no pid file"
    return 1
}

# ---------------------------------------------------------------- commands

absdir() {
    local d
    [ -n "${1:-}" ] || usage
    [ -d "$1" ] || die "no such folder: $1"
    d=$(cd "$1" && pwd -P)
    case "$d" in # it goes unquoted into nginx.conf and XML
    *[!A-Za-z0-9._/+@,=-]*) die "DIR may hold only letters, digits and ._/+@,=- : $d" ;;
    esac
    echo "$d"
}

load_env() {
    [ -r "$1/env.sh" ] || die "$1/env.sh not found: was the backend started there?"
    # shellcheck disable=SC1091
    . "$1/env.sh"
}

cmd_start() {
    local dir t0 ch_http ch_tcp bearer mtls discard attempt token
    dir=$(absdir "${1:-}")
    t0=$(now)
    command -v "$CH_BIN" >/dev/null || die "$CH_BIN not found: run '$0 install'"
    command -v "$NGINX_BIN" >/dev/null || die "$NGINX_BIN not found: run '$0 install'"
    if owns "$(cat "$dir/clickhouse.pid" 2>/dev/null || true)" "$dir/" ||
        owns "$(cat "$dir/nginx.pid" 2>/dev/null || true)" "$dir/"; then
        die "a backend already runs in $dir: stop it first"
    fi
    rm -f "$dir/flaky"
    # A start that fails half-way stops what it started.
    START_DIR=$dir
    trap 'if [ -n "${START_DIR:-}" ]; then log "start failed: stopping"; cmd_stop "$START_DIR"; fi' EXIT

    # ClickHouse boots while the certificates are made. Ports are free when
    # picked; another process may still take one before the bind, so a failed
    # start is retried with new ports.
    read -r ch_http ch_tcp <<<"$(free_ports 2)"
    write_clickhouse_config "$dir" "$ch_http" "$ch_tcp"
    spawn_clickhouse "$dir"
    make_certs "$dir"
    if [ ! -s "$dir/token" ]; then
        (umask 077 && openssl rand -hex 32 | tr -d '\n' >"$dir/token")
    fi
    chmod 0600 "$dir/token"
    token=$(cat "$dir/token")
    for attempt in 1 2 3; do
        wait_clickhouse "$dir" "$ch_http" && break
        [ "$attempt" = 3 ] && die "clickhouse-server did not start"
        log "retrying with other ports"
        read -r ch_http ch_tcp <<<"$(free_ports 2)"
        write_clickhouse_config "$dir" "$ch_http" "$ch_tcp"
        spawn_clickhouse "$dir"
    done
    ch_sql "$ch_http" 'CREATE DATABASE IF NOT EXISTS rampart' >/dev/null
    if [ "$BUFFER" = 1 ]; then
        # rampart.events is a Buffer in memory, flushed to rampart.events_store
        # every 2 s (and at a graceful stop); see README.md.
        ch_sql "$ch_http" "${EVENTS_DDL/rampart.TABLE/rampart.events_store}" >/dev/null
        ch_sql "$ch_http" "CREATE TABLE IF NOT EXISTS rampart.events AS rampart.events_store
            ENGINE = Buffer(rampart, events_store, 2, 1, 2, 10000, 1000000, 10000000, 100000000)" >/dev/null
    else
        ch_sql "$ch_http" "${EVENTS_DDL/rampart.TABLE/rampart.events}" >/dev/null
    fi
    load_schema "$ch_http"
    for attempt in 1 2 3; do
        read -r bearer mtls discard <<<"$(free_ports 3)"
        case " $ch_http $ch_tcp " in *" $bearer "* | *" $mtls "* | *" $discard "*) continue ;; esac
        write_nginx_config "$dir" "$ch_http" "$bearer" "$mtls" "$discard" "$token"
        launch_nginx "$dir" && break
        [ "$attempt" = 3 ] && die "nginx did not start"
        log "retrying with other ports"
    done
    [ -s "$dir/nginx.pid" ] || die "nginx did not start"

    local ch_pid ng_pid base
    ch_pid=$(cat "$dir/clickhouse.pid")
    ng_pid=$(tr -dc '0-9' <"$dir/nginx.pid")
    {
        echo "# Rampart e2e backend in $dir (made by backend.sh start; source it)"
        for kv in \
            "DIR=$dir" \
            "CA=$dir/tls/ca.crt" \
            "SERVER_CERT=$dir/tls/server.crt" \
            "SERVER_KEY=$dir/tls/server.key" \
            "SERVER_PIN=$(server_pin "$dir/tls/server.crt")" \
            "CLIENT_CERT=$dir/tls/client.crt" \
            "CLIENT_KEY=$dir/tls/client.key" \
            "ROGUE_CERT=$dir/tls/rogue.crt" \
            "ROGUE_KEY=$dir/tls/rogue.key" \
            "TOKEN_FILE=$dir/token" \
            "TOKEN=$token" \
            "FLAKY_FILE=$dir/flaky" \
            "CH_HTTP_PORT=$ch_http" \
            "CH_TCP_PORT=$ch_tcp" \
            "CH_URL=http://127.0.0.1:$ch_http/" \
            "INSERT_QUERY=$INSERT_QUERY" \
            "BEARER_PORT=$bearer" \
            "MTLS_PORT=$mtls" \
            "DISCARD_PORT=$discard" \
            "BEARER_URL=https://127.0.0.1:$bearer/$INSERT_QUERY" \
            "MTLS_URL=https://127.0.0.1:$mtls/$INSERT_QUERY" \
            "FLAKY_URL=https://127.0.0.1:$bearer/flaky$INSERT_QUERY" \
            "FLAKY429_URL=https://127.0.0.1:$bearer/flaky429$INSERT_QUERY" \
            "BULK2_URL=https://127.0.0.1:$bearer/bulk2" \
            "DISCARD_URL=https://127.0.0.1:$discard/" \
            "ECS_DB=$ECS_DB" \
            "ECS_URL=https://127.0.0.1:$bearer/$ECS_INSERT_QUERY" \
            "CAPTURE_URL=https://127.0.0.1:$bearer/capture" \
            "CAPTURE_DIR=$dir/capture" \
            "STATUS_URL=https://127.0.0.1:$bearer/status" \
            "CH_BUFFER=$BUFFER" \
            "CLICKHOUSE_PID=$ch_pid" \
            "NGINX_PID=$ng_pid"; do
            printf "export RAMPART_E2E_%s='%s'\n" "${kv%%=*}" "${kv#*=}"
        done
    } >"$dir/env.sh.tmp" # it holds the token: 0600 like the token file
    chmod 0600 "$dir/env.sh.tmp"
    mv "$dir/env.sh.tmp" "$dir/env.sh"
    START_DIR=
    cat "$dir/env.sh"
    base=$(now)
    log "started in $(awk -v a="$t0" -v b="$base" 'BEGIN { printf "%.2f", b - a }') s: ClickHouse pid $ch_pid (http $ch_http), nginx pid $ng_pid (bearer $bearer, mtls $mtls, discard $discard)"
}

cmd_stop() {
    local dir pid
    dir=$(absdir "${1:-}")
    pid=$(tr -dc '0-9' 2>/dev/null <"$dir/nginx.pid" || true)
    if [ -n "$pid" ]; then kill_pid "$pid" "$dir/"; fi
    rm -f "$dir/nginx.pid"
    cmd_stop_clickhouse "$dir"
}

cmd_stop_clickhouse() {
    local dir pid
    dir=$(absdir "${1:-}")
    pid=$(tr -dc '0-9' 2>/dev/null <"$dir/clickhouse.pid" || true)
    if [ -n "$pid" ]; then kill_pid "$pid" "$dir/"; fi
    rm -f "$dir/clickhouse.pid"
}

cmd_start_clickhouse() {
    local dir pid
    dir=$(absdir "${1:-}")
    load_env "$dir"
    pid=$(tr -dc '0-9' 2>/dev/null <"$dir/clickhouse.pid" || true)
    if owns "$pid" "$dir/"; then
        log "ClickHouse already runs (pid $pid)"
        return 0
    fi
    spawn_clickhouse "$dir"
    wait_clickhouse "$dir" "$RAMPART_E2E_CH_HTTP_PORT" || die "clickhouse-server did not start"
    pid=$(cat "$dir/clickhouse.pid")
    sed -i "s/^export RAMPART_E2E_CLICKHOUSE_PID=.*/export RAMPART_E2E_CLICKHOUSE_PID='$pid'/" "$dir/env.sh"
    echo "export RAMPART_E2E_CLICKHOUSE_PID='$pid'"
}

cmd_query() {
    local dir
    dir=$(absdir "${1:-}")
    [ -n "${2:-}" ] || usage
    load_env "$dir"
    ch_sql "$RAMPART_E2E_CH_HTTP_PORT" "$2"
}

cmd_reset() {
    local dir
    dir=$(absdir "${1:-}")
    load_env "$dir"
    if [ "${RAMPART_E2E_CH_BUFFER:-0}" = 1 ]; then
        ch_sql "$RAMPART_E2E_CH_HTTP_PORT" 'OPTIMIZE TABLE rampart.events' >/dev/null # flushes the Buffer
        ch_sql "$RAMPART_E2E_CH_HTTP_PORT" 'TRUNCATE TABLE rampart.events_store'
    else
        ch_sql "$RAMPART_E2E_CH_HTTP_PORT" 'TRUNCATE TABLE rampart.events'
    fi
    ch_sql "$RAMPART_E2E_CH_HTTP_PORT" "TRUNCATE TABLE ${RAMPART_E2E_ECS_DB:-ecs}.events"
}

cmd_status() {
    local dir rc=0 pid
    dir=$(absdir "${1:-}")
    pid=$(tr -dc '0-9' 2>/dev/null <"$dir/clickhouse.pid" || true)
    if owns "$pid" "$dir/"; then echo "clickhouse running $pid"; else echo "clickhouse stopped"; rc=1; fi
    pid=$(tr -dc '0-9' 2>/dev/null <"$dir/nginx.pid" || true)
    if owns "$pid" "$dir/"; then echo "nginx running $pid"; else echo "nginx stopped"; rc=1; fi
    return "$rc"
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start "${2:-}" ;;
stop) cmd_stop "${2:-}" ;;
stop-clickhouse) cmd_stop_clickhouse "${2:-}" ;;
start-clickhouse) cmd_start_clickhouse "${2:-}" ;;
count) cmd_query "${2:-}" "SELECT count(), uniqExact(\`event.id\`) FROM rampart.events" ;;
query) cmd_query "${2:-}" "${3:-}" ;;
reset) cmd_reset "${2:-}" ;;
status) cmd_status "${2:-}" ;;
*) usage ;;
esac
