#!/usr/bin/env bash
# Installs the Debian 12 packages the build and the tests need, and only those that
# are missing, so `make run` and `make test` work on a fresh machine and cost
# nothing on a prepared one. Usage: tools/deps.sh [build|test|bench]
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config libjansson-dev libcurl4-openssl-dev libdeflate-dev
    libmbedtls-dev libyaml-dev libpcre2-dev libyara-dev libnftables-dev)
test_pkgs=(libcmocka-dev clang libclang-rt-14-dev g++ binutils procps python3
    gcc-mingw-w64-x86-64-win32 nginx-light openssl iproute2 nftables)
# The peers the benchmarks measure against (auditd for exec_burst, the yara
# command-line tool for yara_scan).
bench_pkgs=(auditd yara)

want=("${build_pkgs[@]}")
case "${1:-build}" in
build) ;;
test) want+=("${test_pkgs[@]}") ;;
bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
*)
    echo "usage: $0 [build|test|bench]" >&2
    exit 64
    ;;
esac

missing=()
for p in "${want[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    *"install ok installed"*) ;;
    *) missing+=("$p") ;;
    esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]}; run as root or install them" >&2
    exit 69
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Servers the tests start themselves (nginx) must not also start as system
# services on the machine's own ports: policy-rc.d refuses that during the
# install, unless the machine already has a policy of its own.
guard=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    guard=1
fi
trap '[ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
