# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="writes /etc/init.d/rampart-test-MARKER (a comment, not executable, never enabled; removed)"
AS_ROOT="it writes a uniquely named file under /etc"
trigger() {
    etc_file "/etc/init.d/rampart-test-$1"
}
near_miss() {
    local d
    d=$(work "$1")/etc/init.d
    mkdir -p "$d"
    echo '# test' >"$d/rp"
}
