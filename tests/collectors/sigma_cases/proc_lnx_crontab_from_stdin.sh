# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="sh -c \"(echo '# test'; echo '#*/5 * * * * true') | crontab -\" with a do-nothing crontab"
trigger() {
    local c
    c=$(fake "$1" crontab)
    held sh -c "(echo '# rampart test'; echo '#*/5 * * * * true') | $c -"
}
near_miss() {
    held "$(fake "$1" crontab)" -l
}
