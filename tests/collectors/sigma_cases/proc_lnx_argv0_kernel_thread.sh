# shellcheck shell=bash disable=SC2034,SC2016 # DESC is read by test_sigma_ruleset.sh; $1 in single quotes is the inner script's
DESC="bash exec -a '[kworker/0:MARKER]' /bin/sleep 0.3"
trigger() {
    held bash -c 'exec -a "[kworker/0:$1]" /bin/sleep 0.3' _ "$1"
}
near_miss() {
    held bash -c 'exec -a "kworker-$1" /bin/sleep 0.3' _ "$1"
}
