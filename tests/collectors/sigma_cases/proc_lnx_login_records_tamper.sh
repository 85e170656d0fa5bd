# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a do-nothing utmpdump run with -r -o /var/log/wtmp DIR/forged.txt"
trigger() {
    held "$(fake "$1" utmpdump)" -r -o /var/log/wtmp "$(work "$1")/forged.txt"
}
near_miss() {
    held "$(fake "$1" utmpdump)" /var/log/wtmp
}
