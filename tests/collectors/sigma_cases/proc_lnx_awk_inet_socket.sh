# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="awk 'BEGIN { s = \"/inet/tcp/0/127.0.0.1/PORT\"; exit }' (the system awk; opens nothing)"
trigger() {
    held awk 'BEGIN { s = "/inet/tcp/0/127.0.0.1/'"$LISTEN_PORT"'"; exit }' "$1"
}
near_miss() {
    held awk 'BEGIN { s = "/etc/inetd.conf"; exit }' "$1"
}
