# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a do-nothing chattr run with +i /root/.ssh/authorized_keys"
trigger() {
    held "$(fake "$1" chattr)" +i /root/.ssh/authorized_keys
}
near_miss() {
    held "$(fake "$1" chattr)" +i "$(work "$1")/archive.tar"
}
