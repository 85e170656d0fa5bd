# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="setcap cap_net_bind_service+ep on a copy of true named python3 in the test's folder"
AS_ROOT="setting file capabilities needs CAP_SETFCAP"
trigger() {
    held "$(tool_or_fake "$1" setcap)" cap_net_bind_service+ep "$(fake "$1" python3)"
}
near_miss() {
    held "$(tool_or_fake "$1" setcap)" cap_net_bind_service+ep "$(fake "$1" webserver)"
}
