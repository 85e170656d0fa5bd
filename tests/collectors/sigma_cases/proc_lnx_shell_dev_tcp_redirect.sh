# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="bash -c 'exec 3<>/dev/tcp/127.0.0.1/PORT; echo ping >&3' to the test's listener"
trigger() {
    held bash -c "exec 3<>/dev/tcp/127.0.0.1/$LISTEN_PORT; echo ping >&3; exec 3>&-" "$1"
}
near_miss() {
    held bash -c 'echo "see /dev/tcp in bash(1)" >&2' "$1"
}
