# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="writes /etc/udev/rules.d/99-rampart-test-MARKER.rules (a comment; removed, with the folders it needed)"
AS_ROOT="it writes a uniquely named file under /etc"
trigger() {
    etc_file "/etc/udev/rules.d/99-rampart-test-$1.rules"
}
near_miss() {
    local d
    d=$(work "$1")/udev/rules.d
    mkdir -p "$d"
    echo '# test' >"$d/99-rp.rules"
}
