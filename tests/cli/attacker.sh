# shellcheck shell=bash disable=SC2034 # the variables are for the scripts sourcing this
# tests/cli/attacker.sh - an unprivileged local user for the attack tests,
# created by the test and removed on exit with every process it started.
# Source after lib.sh; needs root, useradd/userdel and setpriv, else the test
# is skipped (exit 77, ctest's SKIP_RETURN_CODE for cli tests).
#
#   make_attacker            sets ATK_USER, ATK_UID, ATK_GID
#   as_attacker CMD...       runs CMD as that user (its own group only)
#   spawn_attacker OUT ERR CMD...
#                            starts CMD as that user in the background, output
#                            to OUT and ERR; its pid (CMD's own) in ATK_LAST,
#                            killed on exit

skip() {
    echo "SKIP: $*"
    exit 77
}

ATK_USER=
ATK_PIDS=()

attacker_cleanup() {
    local pid
    for pid in "${ATK_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    for pid in "${ATK_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$ATK_USER" ]; then
        userdel "$ATK_USER" || echo "WARNING: could not remove user $ATK_USER" >&2
        groupdel "$ATK_USER" 2>/dev/null || true
    fi
}
trap 'attacker_cleanup; cleanup' EXIT

make_attacker() {
    [ "$(id -u)" -eq 0 ] || skip "needs root to create the attacking user"
    if ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
        skip "needs useradd and setpriv (packages passwd, util-linux)"
    fi
    local name="rpatk$$"
    useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$name" ||
        fail "useradd $name"
    ATK_USER=$name
    ATK_UID=$(id -u "$name")
    ATK_GID=$(id -g "$name")
    # The test folder is created 0700; the attacker must be able to reach it.
    chmod 0755 "$T"
}

as_attacker() {
    setpriv --reuid "$ATK_UID" --regid "$ATK_GID" --clear-groups -- "$@"
}

spawn_attacker() {
    local out=$1 err=$2
    shift 2
    setpriv --reuid "$ATK_UID" --regid "$ATK_GID" --clear-groups -- "$@" >"$out" 2>"$err" &
    ATK_LAST=$!
    ATK_PIDS+=("$ATK_LAST")
}
