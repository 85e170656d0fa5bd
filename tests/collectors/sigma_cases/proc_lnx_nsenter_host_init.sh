# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="nsenter -t 1 -m -u -- /bin/true (the test already runs in PID 1's namespaces)"
AS_ROOT="entering PID 1's mount namespace needs CAP_SYS_ADMIN"
trigger() {
    held nsenter -t 1 -m -u -- /bin/true "$1"
}
near_miss() {
    held nsenter -t "$$" -m -- /bin/true "$1"
}
