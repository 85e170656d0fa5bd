# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="bash -c 'echo ping > /dev/udp/127.0.0.1/PORT' (one UDP datagram to loopback)"
trigger() {
    held bash -c "echo ping > /dev/udp/127.0.0.1/$LISTEN_PORT" "$1"
}
near_miss() {
    held bash -c 'test -e /dev/udp || echo "no /dev/udp device"' "$1"
}
