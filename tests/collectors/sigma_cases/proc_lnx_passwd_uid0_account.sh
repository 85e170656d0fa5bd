# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="sh -c \"echo 'rptest:x:0:0::/nonexistent:/bin/false' >> DIR/etc/passwd\" (a dummy passwd in the test's folder)"
trigger() {
    local w
    w=$(work "$1")
    mkdir -p "$w/etc"
    held sh -c "echo 'rptest:x:0:0::/nonexistent:/bin/false' >> $w/etc/passwd"
}
near_miss() {
    local w
    w=$(work "$1")
    mkdir -p "$w/etc"
    held sh -c "echo 'rptest:x:1234:1234::/nonexistent:/bin/false' >> $w/etc/passwd"
}
