# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="writes /etc/pam.d/rampart-test-MARKER (a comment for a service nothing uses; removed)"
AS_ROOT="it writes a uniquely named file under /etc"
trigger() {
    etc_file "/etc/pam.d/rampart-test-$1"
}
near_miss() {
    local d
    d=$(work "$1")/etc/pam.d
    mkdir -p "$d"
    echo '# test' >"$d/rp"
}
