#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_utmp.c:
    python3 tools/fuzz-seeds/utmp.py OUT_DIR

The real seeds are files written by this machine's glibc, through ctypes,
into temporary files (never the system's own utmp/wtmp/btmp):
  utmp_table   setutxent/pututxline into a file named with utmpxname: a boot
               record, a getty, an ssh login over IPv4 (ut_addr_v6[0]), a
               console login, an IPv6 login, then the console logout (which
               glibc writes over the login's slot)
  wtmp_log     updwtmpx: a login with the host only as an address literal,
               a login from an IPv4-mapped address, their logouts (DEAD
               records without a user, as sshd writes them), a run level
  btmp_log     updwtmpx: two failed logins (LOGIN_PROCESS, USER_PROCESS)
and hand-made malformed files (malformed_*): each record breaks one rule
the parser checks, plus truncated files (a short tail).
"""
import ctypes
import os
import socket
import struct
import sys
import tempfile

EMPTY, RUN_LVL, BOOT_TIME = 0, 1, 2
INIT_PROCESS, LOGIN_PROCESS, USER_PROCESS, DEAD_PROCESS = 5, 6, 7, 8
REC = 384


class ExitStatus(ctypes.Structure):
    _fields_ = [("e_termination", ctypes.c_short), ("e_exit", ctypes.c_short)]


class TimeVal32(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_int32), ("tv_usec", ctypes.c_int32)]


class Utmpx(ctypes.Structure):
    """glibc's struct utmpx on x86_64 (384 bytes)."""
    _fields_ = [
        ("ut_type", ctypes.c_short),
        ("ut_pid", ctypes.c_int32),
        ("ut_line", ctypes.c_char * 32),
        ("ut_id", ctypes.c_char * 4),
        ("ut_user", ctypes.c_char * 32),
        ("ut_host", ctypes.c_char * 256),
        ("ut_exit", ExitStatus),
        ("ut_session", ctypes.c_int32),
        ("ut_tv", TimeVal32),
        ("ut_addr_v6", ctypes.c_int32 * 4),
        ("reserved", ctypes.c_char * 20),
    ]


assert ctypes.sizeof(Utmpx) == REC


def rec(typ, pid, line, uid, user, host, sec, usec=0, addr=b""):
    u = Utmpx()
    u.ut_type = typ
    u.ut_pid = pid
    u.ut_line = line
    u.ut_id = uid
    u.ut_user = user
    u.ut_host = host
    u.ut_tv.tv_sec = sec
    u.ut_tv.tv_usec = usec
    a = addr.ljust(16, b"\0")
    for i in range(4):
        u.ut_addr_v6[i] = struct.unpack_from("=i", a, 4 * i)[0]
    return u


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.pututxline.restype = ctypes.c_void_p
    libc.pututxline.argtypes = [ctypes.POINTER(Utmpx)]
    libc.updwtmpx.argtypes = [ctypes.c_char_p, ctypes.POINTER(Utmpx)]
    libc.utmpxname.argtypes = [ctypes.c_char_p]
    t = 1732800000
    v4 = socket.inet_pton(socket.AF_INET, "192.0.2.10")
    v6 = socket.inet_pton(socket.AF_INET6, "2001:db8::7")
    mapped = socket.inet_pton(socket.AF_INET6, "::ffff:198.51.100.3")

    with tempfile.TemporaryDirectory() as tmp:
        # utmp: glibc only writes to a file that exists.
        path = os.path.join(tmp, "utmp").encode()
        open(path, "wb").close()
        if libc.utmpxname(path) != 0:
            raise OSError(ctypes.get_errno(), "utmpxname")
        for u in (rec(BOOT_TIME, 0, b"~", b"~~", b"reboot", b"6.1.0-test", t),
                  rec(LOGIN_PROCESS, 612, b"tty1", b"tty1", b"LOGIN", b"", t + 5),
                  rec(USER_PROCESS, 4242, b"pts/0", b"ts/0", b"alice", b"192.0.2.10", t + 60,
                      123456, v4),
                  rec(USER_PROCESS, 4300, b"tty2", b"tty2", b"bob", b"", t + 70),
                  rec(USER_PROCESS, 4400, b"pts/1", b"ts/1", b"carol", b"2001:db8::7", t + 80,
                      999999, v6),
                  rec(DEAD_PROCESS, 4300, b"tty2", b"tty2", b"", b"", t + 90)):
            # From the start each time, as login programs do: glibc looks
            # for the slot to reuse from the current position on.
            libc.setutxent()
            if not libc.pututxline(ctypes.byref(u)):
                raise OSError(ctypes.get_errno(), "pututxline")
        libc.endutxent()
        with open(path, "rb") as f:
            table = f.read()
        with open(os.path.join(outdir, "utmp_table"), "wb") as f:
            f.write(table)

        # updwtmpx, like pututxline, appends only to a file that exists.
        wtmp = os.path.join(tmp, "wtmp").encode()
        open(wtmp, "wb").close()
        for u in (rec(RUN_LVL, 53, b"~", b"~~", b"runlevel", b"6.1.0-test", t),
                  rec(USER_PROCESS, 5001, b"pts/2", b"ts/2", b"dave", b"203.0.113.5", t + 100),
                  rec(USER_PROCESS, 5002, b"pts/3", b"ts/3", b"erin", b"host.example", t + 110,
                      5, mapped),
                  rec(DEAD_PROCESS, 5001, b"pts/2", b"ts/2", b"", b"", t + 200),
                  rec(DEAD_PROCESS, 5002, b"pts/3", b"ts/3", b"", b"", t + 210)):
            libc.updwtmpx(wtmp, ctypes.byref(u))
        with open(wtmp, "rb") as f:
            log = f.read()
        with open(os.path.join(outdir, "wtmp_log"), "wb") as f:
            f.write(log)

        btmp = os.path.join(tmp, "btmp").encode()
        open(btmp, "wb").close()
        for u in (rec(LOGIN_PROCESS, 6001, b"ssh:notty", b"", b"root", b"198.51.100.9", t + 300,
                      0, socket.inet_pton(socket.AF_INET, "198.51.100.9")),
                  rec(USER_PROCESS, 6002, b"tty3", b"tty3", b"nobody", b"", t + 310)):
            libc.updwtmpx(btmp, ctypes.byref(u))
        with open(btmp, "rb") as f:
            bt = f.read()
        with open(os.path.join(outdir, "btmp_log"), "wb") as f:
            f.write(bt)

    assert len(table) % REC == 0 and len(log) == 5 * REC and len(bt) == 2 * REC
    good = bytearray(log[REC:2 * REC])  # dave's login

    def broken(**kw):
        r = bytearray(good)
        for off, data in kw.values():
            r[off:off + len(data)] = data
        return bytes(r)

    bad = [
        broken(t=(0, struct.pack("=h", 10))),             # type past ACCOUNTING
        broken(t=(0, struct.pack("=h", -1))),             # negative type
        broken(p=(4, struct.pack("=i", -5))),             # negative pid
        broken(u=(344, struct.pack("=i", 1000000))),      # usec out of range
        broken(u=(344, struct.pack("=i", -1))),
        broken(c=(44, b"ev\x1bil")),                      # control char in user
        broken(c=(76, b"host\x7f")),                      # DEL in host
        broken(c=(8, b"\x01")),                           # control char in line
        broken(e=(44, b"\0" * 32)),                       # login without a user
        broken(f=(44, b"u" * 32), l=(8, b"l" * 32),       # fields without a NUL
               h=(76, b"h" * 256)),
        broken(a=(348, bytes(16)), h=(76, b"::ffff:10.1.2.3\0")),   # address in host only
        broken(a=(348, bytes(16)), h=(76, b"not-an-address\0")),
        broken(s=(340, struct.pack("=I", 0xFFFFFFFF)), u=(344, struct.pack("=i", 999999))),
    ]
    with open(os.path.join(outdir, "malformed_records"), "wb") as f:
        f.write(b"".join(bad[:7]))
    with open(os.path.join(outdir, "malformed_records2"), "wb") as f:
        f.write(b"".join(bad[7:]))
    # Truncated files: a record cut short (a write in progress), and less
    # than one record.
    with open(os.path.join(outdir, "malformed_truncated"), "wb") as f:
        f.write(log[:2 * REC + 100])
    with open(os.path.join(outdir, "malformed_short"), "wb") as f:
        f.write(log[REC:REC + 50])


if __name__ == "__main__":
    main()
