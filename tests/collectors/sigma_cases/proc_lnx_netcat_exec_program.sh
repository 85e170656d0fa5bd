# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a do-nothing ncat (copy of true) run with --sh-exec 'cat /etc/hostname' 127.0.0.1 PORT"
trigger() {
    held "$(fake "$1" ncat)" --sh-exec "cat /etc/hostname" 127.0.0.1 "$LISTEN_PORT"
}
near_miss() {
    held "$(fake "$1" ncat)" -z -w 1 127.0.0.1 "$LISTEN_PORT"
}
