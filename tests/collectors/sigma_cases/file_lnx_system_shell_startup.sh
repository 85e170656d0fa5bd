# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="writes /etc/profile.d/rampart-test-MARKER.disabled (not *.sh: never sourced; removed)"
AS_ROOT="it writes a uniquely named file under /etc"
trigger() {
    etc_file "/etc/profile.d/rampart-test-$1.disabled"
}
near_miss() {
    local d
    d=$(work "$1")/etc/profile.d
    mkdir -p "$d"
    echo '# test' >"$d/rp.sh"
}
