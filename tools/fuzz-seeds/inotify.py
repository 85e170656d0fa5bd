#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_inotify.c:
    python3 tools/fuzz-seeds/inotify.py OUT_DIR

The real seeds (real_*) are buffers read() from an inotify descriptor of
this machine's kernel, through ctypes, watching a temporary folder with the
mask collector_file uses: a file created, written and closed, renamed,
deleted; a folder created and removed; a long name (padded by the kernel).
The hand-made ones (malformed_*) each break one rule the walk checks: a
name length past the buffer, a name without NUL, a name with '/', a short
header at the end.
"""
import ctypes
import os
import struct
import sys
import tempfile

IN_CLOSE_WRITE, IN_MOVED_FROM, IN_MOVED_TO = 0x8, 0x40, 0x80
IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_MOVE_SELF = 0x100, 0x200, 0x400, 0x800
IN_NONBLOCK = 0o4000
MASK = IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | \
    IN_DELETE_SELF | IN_MOVE_SELF

libc = ctypes.CDLL(None, use_errno=True)


def read_all(fd):
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return out
        if not chunk:
            return out
        out += chunk


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {}
    with tempfile.TemporaryDirectory() as d:
        fd = libc.inotify_init1(IN_NONBLOCK)
        if fd < 0:
            sys.exit("inotify_init1: errno %d" % ctypes.get_errno())
        if libc.inotify_add_watch(fd, d.encode(), MASK) < 0:
            sys.exit("inotify_add_watch: errno %d" % ctypes.get_errno())
        p = os.path.join(d, "a.txt")
        with open(p, "w") as f:
            f.write("x")
        seeds["real_create"] = read_all(fd)
        os.rename(p, os.path.join(d, "b.txt"))
        seeds["real_rename"] = read_all(fd)
        os.unlink(os.path.join(d, "b.txt"))
        seeds["real_delete"] = read_all(fd)
        os.mkdir(os.path.join(d, "sub"))
        os.rmdir(os.path.join(d, "sub"))
        seeds["real_dir"] = read_all(fd)
        with open(os.path.join(d, "n" * 200), "w"):
            pass
        seeds["real_long_name"] = read_all(fd)
        os.close(fd)
    hdr = struct.Struct("=iIII")
    seeds["malformed_len_past_end"] = hdr.pack(1, IN_CREATE, 0, 64) + b"abc\0"
    seeds["malformed_no_nul"] = hdr.pack(1, IN_CREATE, 0, 4) + b"abcd" + \
        hdr.pack(1, IN_DELETE, 0, 4) + b"ok\0\0"
    seeds["malformed_slash"] = hdr.pack(1, IN_CREATE, 0, 8) + b"../etc\0\0"
    seeds["malformed_short_tail"] = hdr.pack(1, IN_CREATE, 0, 0) + b"\1\0\0\0\0\0"
    seeds["malformed_len_huge"] = hdr.pack(1, IN_CREATE, 0, 0xffffffff) + b"x\0"
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
