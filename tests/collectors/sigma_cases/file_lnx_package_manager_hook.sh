# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="writes /etc/apt/apt.conf.d/99rampart-test-MARKER (an APT comment; removed)"
AS_ROOT="it writes a uniquely named file under /etc"
trigger() {
    etc_file "/etc/apt/apt.conf.d/99rampart-test-$1" "// rampart sigma ruleset test: harmless, removed by the test"
}
near_miss() {
    local d
    d=$(work "$1")/etc/apt/apt.conf.d
    mkdir -p "$d"
    echo '// test' >"$d/99rp"
}
