# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="python copies /bin/sleep into a memfd and execs /proc/self/fd/N (argv[0] carries the marker)"
trigger() {
    held "$PY" - "$1" <<'PY'
import os, sys
fd = os.memfd_create("rp", 0)
with open("/bin/sleep", "rb") as f:
    os.write(fd, f.read())
pid = os.fork()
if pid == 0:
    os.execv("/proc/self/fd/%d" % fd, ["rp-memfd-" + sys.argv[1], "0.3"])
os.waitpid(pid, 0)
PY
}
near_miss() {
    # The same exec through /proc/self/fd, of a regular file.
    held "$PY" - "$1" "$(copy_tool "$1" sleep)" <<'PY'
import os, sys
fd = os.open(sys.argv[2], os.O_RDONLY)
pid = os.fork()
if pid == 0:
    os.execv("/proc/self/fd/%d" % fd, ["rp-fdexec-" + sys.argv[1], "0.3"])
os.waitpid(pid, 0)
PY
}
