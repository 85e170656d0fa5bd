#!/usr/bin/env bash
# A plugin swapped on disk between its check and its load (issue 16, tests:
# the last bullet), in the real agent: under agent.require_signed_plugins, a
# signed plugin is replaced by an unsigned one whose constructor leaves a
# marker, at the last moment possible: an LD_PRELOAD shim renames the
# attacker's file over the plugin's inside the agent's dlopen call for it,
# after every check has passed. The agent loads the bytes it checked (the
# open file, not the path): the marker never appears, the plugin runs signed
# beside the other one, and the agent runs on. The swapped file is then
# what a reload sees: refused for its signature, with the reason, while the
# checked copy keeps running. (The same window in the platform layer alone:
# tests/unit/test_os_trust.c, test_dl_open_checked_swap.)
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"
CC=${CC:-cc}
command -v "$CC" >/dev/null || { echo "SKIP: needs a C compiler ($CC)"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: needs openssl to make the test key"; exit 77; }
SYN="$(dirname "$RAMPARTD")/../plugins/collector_synthetic.so"
HELLO="$(dirname "$RAMPARTD")/../plugins/hello_detector.so"
[ -f "$SYN" ] && [ -f "$HELLO" ] || fail "no built plugins next to $RAMPARTD"

mkdir -p keys plugins
chmod 0755 keys plugins
openssl ecparam -name prime256v1 -genkey -noout -out signer.pem 2>/dev/null
openssl ec -in signer.pem -pubout -out keys/vendor.pub.pem 2>/dev/null
chmod 0644 keys/vendor.pub.pem
KEY_ID=$(openssl pkey -pubin -in keys/vendor.pub.pem -outform DER | sha256sum | cut -c1-16)
install -m 0644 "$SYN" plugins/swapped.so
install -m 0644 "$HELLO" plugins/other.so
"$RAMPARTCTL" sign --key signer.pem plugins/swapped.so >/dev/null || fail "sign swapped.so"
"$RAMPARTCTL" sign --key signer.pem plugins/other.so >/dev/null || fail "sign other.so"
chmod 0644 plugins/*.sig

MARKER=$T/marker
cat >evil.c <<CSRC
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void evil(void)
{
    close(open("$MARKER", O_WRONLY | O_CREAT, 0644));
}
CSRC
"$CC" -shared -fPIC -o plugins/evil.tmp evil.c || fail "cannot build the attacker's library"
chmod 0644 plugins/evil.tmp

# The shim: on the first dlopen of a plugin (by its path, by a descriptor of
# its file, or by the sealed private copy a signature is checked on, a
# memfd), rename the attacker's file over the target, then load what was
# asked. "swapped" comes first in the config, so that is its load.
cat >shim.c <<'CSRC'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static int done;
void *dlopen(const char *file, int mode)
{
    void *(*real)(const char *, int) = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
    const char *target = getenv("SWAP_TARGET"), *evil = getenv("SWAP_EVIL");
    char link[PATH_MAX] = "";
    if (file && strncmp(file, "/proc/self/fd/", 14) == 0) {
        ssize_t n = readlink(file, link, sizeof link - 1);
        link[n > 0 ? n : 0] = '\0';
    }
    if (!done && file && target && evil &&
        (strcmp(file, target) == 0 || strcmp(link, target) == 0 ||
         strncmp(link, "/memfd:", 7) == 0)) {
        done = 1;
        int rc = rename(evil, target);
        fprintf(stderr, "shim: %s renamed over %s before dlopen(%s): %s\n", evil, target, file,
                rc == 0 ? "done" : "failed");
    }
    return real(file, mode);
}
CSRC
"$CC" -shared -fPIC -o shim.so shim.c -ldl || fail "cannot build the shim"

CFG=$T/rampart.json
cat >"$CFG" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info",
            "health_interval_ms": 200, "trusted_keys": ["keys/vendor.pub.pem"],
            "require_signed_plugins": true},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 50},
  "plugins": {
    "swapped": {"enabled": true, "file": "swapped.so", "config": {"count": 5, "rate": 0}},
    "other": {"enabled": true, "file": "other.so", "config": {"substring": "mimikatz"}}
  }
}
EOF
mkdir -m 0750 data
LD_PRELOAD=$T/shim.so SWAP_TARGET=$T/plugins/swapped.so SWAP_EVIL=$T/plugins/evil.tmp \
    "$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "the start-up line" file_has agent.err "rampartd $VERSION started"
grep -qF "shim: $T/plugins/evil.tmp renamed over $T/plugins/swapped.so before dlopen(" agent.err ||
    fail "the swap did not happen between the check and the load: $(grep shim agent.err)"
[ ! -e "$MARKER" ] || fail "the attacker's library ran inside the agent"
grep -qE "info: plugin swapped: loaded .* from $T/plugins/swapped.so, signed by key $KEY_ID$" agent.err ||
    fail "the checked plugin is not what runs: $(grep 'plugin swapped' agent.err)"
cmp -s plugins/swapped.so plugins/evil.tmp 2>/dev/null && fail "evil.tmp still there"
cmp -s "$SYN" plugins/swapped.so && fail "the file on disk was not swapped"
run_cmd pl.out pl.err "$RAMPARTCTL" --config "$CFG" plugins --json
expect_rc 0 "plugins --json: $(cat pl.err)"
"$PY" - pl.out <<'PY' || fail "plugins after the swap: $(cat pl.out)"
import json, sys
p = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert p["swapped"]["state"] == "running", p["swapped"]
assert p["other"]["state"] == "running", p["other"]
PY

# A reload sees the file on disk now: refused for its signature, with the
# reason; the checked copy and the other plugin run on.
run_cmd rl.out rl.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 78 "reload of the swapped file: $(cat rl.out rl.err)"
grep -qF "plugins.swapped.file: $T/plugins/swapped.so: bad signature: the file changed after it was signed" rl.out rl.err ||
    fail "reload: no reason: $(cat rl.out rl.err)"
[ ! -e "$MARKER" ] || fail "the attacker's library ran at the reload"
run_cmd pl.out pl.err "$RAMPARTCTL" --config "$CFG" plugins --json
"$PY" - pl.out <<'PY' || fail "plugins after the refused reload: $(cat pl.out)"
import json, sys
p = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert p["swapped"]["state"] == "running", p["swapped"]
assert p["other"]["state"] == "running", p["other"]
PY
pid_alive "$APID" || fail "the agent died"
kill -TERM "$APID"
wait "$APID" || fail "agent exit status"
echo PASS
