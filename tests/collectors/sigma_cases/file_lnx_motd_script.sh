# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="writes /etc/update-motd.d/99-rampart-test-MARKER (a comment, not executable: run-parts skips it; removed)"
AS_ROOT="it writes a uniquely named file under /etc"
trigger() {
    etc_file "/etc/update-motd.d/99-rampart-test-$1"
}
near_miss() {
    local d
    d=$(work "$1")/update-motd.d
    mkdir -p "$d"
    echo '# test' >"$d/99-rp"
}
