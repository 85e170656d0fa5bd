# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="sh -c 'wget -q -O F http://127.0.0.1:PORT/p; chmod +x F' with a do-nothing wget"
trigger() {
    local w g
    w=$(work "$1")
    g=$(fake "$1" wget)
    touch "$w/payload"
    held sh -c "$g -q -O $w/payload http://127.0.0.1:$LISTEN_PORT/p; chmod +x $w/payload"
}
near_miss() {
    local w g
    w=$(work "$1")
    g=$(fake "$1" wget)
    touch "$w/data.json"
    held sh -c "$g -q -O $w/data.json http://127.0.0.1:$LISTEN_PORT/d; chmod 644 $w/data.json"
}
