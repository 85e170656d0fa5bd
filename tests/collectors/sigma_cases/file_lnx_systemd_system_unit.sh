# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="writes /etc/systemd/system/rampart-test-MARKER.service (a comment; never loaded; removed)"
AS_ROOT="it writes a uniquely named file under /etc"
trigger() {
    etc_file "/etc/systemd/system/rampart-test-$1.service"
}
near_miss() {
    etc_file "/etc/systemd/system/rampart-test-$1.txt"
}
