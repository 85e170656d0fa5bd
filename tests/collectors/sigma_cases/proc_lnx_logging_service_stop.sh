# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a do-nothing systemctl run with stop rsyslog.service"
trigger() {
    "$(fake "$1" systemctl)" stop rsyslog.service
}
near_miss() {
    "$(fake "$1" systemctl)" status rsyslog.service
}
