# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a do-nothing systemctl run with stop rsyslog.service"
trigger() {
    held "$(fake "$1" systemctl)" stop rsyslog.service
}
near_miss() {
    held "$(fake "$1" systemctl)" status rsyslog.service
}
