#!/usr/bin/env bash
# Trust before load, attacked: a user who can write a folder above plugin_dir
# swaps folders (renameat2 RENAME_EXCHANGE) in a loop while root runs
# `rampartd --check-config`, which loads the plugins. The attacker's plugin
# constructor (it leaves a marker when it runs as root) must never run; every
# run refuses the folder the attacker can write, naming it and what was
# expected. A sticky world-writable ancestor (like /tmp) stays accepted.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/cli/attacker.sh
source "$(dirname "$0")/attacker.sh"
# The plugins built with this rampartd, for a genuine one to copy.
BUILD_PLUGINS=$(cd "$(dirname "$(readlink -f "$RAMPARTD")")/../plugins" && pwd -P)
cd "$T"
make_attacker
CC=${CC:-cc}
command -v "$CC" >/dev/null || skip "needs a C compiler ($CC) to build the attacker's plugin"

[ -f "$BUILD_PLUGINS/collector_synthetic.so" ] || fail "no $BUILD_PLUGINS/collector_synthetic.so"

# $T/g: root's, but writable by the attacker's group (the mistake the attack
# needs). real/ holds the genuine plugin; evil/ is the attacker's, same shape.
mkdir -p g/real/plugins
cp "$BUILD_PLUGINS/collector_synthetic.so" g/real/plugins/synthetic.so
chmod 0755 g/real g/real/plugins
chmod 0644 g/real/plugins/synthetic.so
chown "root:$ATK_GID" g
chmod 0775 g

MARKER=$T/marker
cat >evil.c <<CSRC
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void pwn(void)
{
    if (geteuid() == 0)
        close(open("$MARKER", O_WRONLY | O_CREAT, 0644));
}
CSRC
"$CC" -shared -fPIC -o evil.so evil.c || fail "cannot build the attacker's plugin"
as_attacker mkdir -p g/evil/plugins
as_attacker cp evil.so g/evil/plugins/synthetic.so

cat >rampart.json <<JSON
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$T/g/real/plugins"},
  "plugins": {"synthetic": {"enabled": true, "file": "synthetic.so",
                            "config": {"count": 1, "rate": 1}}}
}
JSON

# 1. No race: the group-writable ancestor is refused, with a clear reason.
run_cmd one.out one.err "$RAMPARTD" --check-config --config "$T/rampart.json"
expect_rc 78 "a plugin below a group-writable folder: $(cat one.out one.err)"
want="rampartd: $T/rampart.json: plugins.synthetic: untrusted file: $T/g: writable by group (mode 0775); expected a folder only root or the agent's user can change (or one with the sticky bit, like /tmp)"
grep -qxF "$want" one.err || fail "stderr: expected the line [$want], got [$(cat one.err)]"

# 2. The race, bounded: 400 checks or 60 s, the attacker swapping all along.
cat >swap.py <<'PY'
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
a, b, stop = (s.encode() for s in sys.argv[1:4])
end = time.monotonic() + 90
n = 0
while time.monotonic() < end and not os.path.exists(stop):
    if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
        sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
    n += 1
print(n)
PY
spawn_attacker swap.out swap.err "$PY" swap.py "$T/g/real" "$T/g/evil" "$T/stop"
swapper=$ATK_LAST
sleep 0.2
pid_alive "$swapper" || fail "the attacker cannot swap the folders: $(cat swap.err)"

runs=0 refused=0
deadline=$((SECONDS + 60))
while [ "$runs" -lt 400 ] && [ "$SECONDS" -lt "$deadline" ] && [ ! -e "$MARKER" ]; do
    RC=0
    "$RAMPARTD" --check-config --config "$T/rampart.json" >race.out 2>race.err || RC=$?
    runs=$((runs + 1))
    if [ "$RC" -eq 78 ] && grep -qF "$T/g: writable by group" race.err; then
        refused=$((refused + 1))
    else
        echo "run $runs: exit $RC: $(cat race.out race.err)"
    fi
done
touch "$T/stop"
wait "$swapper" || fail "the attacker's swap loop failed: $(cat swap.err)"
echo "$runs checks while the attacker swapped the folders $(cat swap.out) times; $refused refused"
[ "$(cat swap.out)" -gt 1000 ] || fail "the attacker hardly swapped ($(cat swap.out) times): the race was not run"
[ ! -e "$MARKER" ] || fail "the attacker's constructor ran as root (after $runs checks)"
[ "$refused" -eq "$runs" ] || fail "only $refused of $runs checks refused the group-writable folder"

# 3. Sticky and world-writable above (like /tmp): accepted, since no one but
# an entry's owner may rename it there.
mkdir -p sticky/plugins
cp "$BUILD_PLUGINS/collector_synthetic.so" sticky/plugins/synthetic.so
chmod 1777 sticky
sed -i "s#$T/g/real/plugins#$T/sticky/plugins#" rampart.json
run_cmd st.out st.err "$RAMPARTD" --check-config --config "$T/rampart.json"
expect_rc 0 "a plugin below a sticky world-writable folder: $(cat st.err)"

# 4. The plugin's own folder is never acceptable writable, sticky or not.
chmod 1777 sticky/plugins
run_cmd own.out own.err "$RAMPARTD" --check-config --config "$T/rampart.json"
expect_rc 78 "a plugin in a sticky world-writable folder"
grep -qF "untrusted file: $T/sticky/plugins: writable by others (mode 1777); expected a folder only root or the agent's user can change" own.err ||
    fail "own folder: $(cat own.err)"
echo "PASS"
