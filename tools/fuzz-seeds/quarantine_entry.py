#!/usr/bin/env python3
"""Seeds for tests/fuzz/fuzz_quarantine_entry.c: quarantine entry headers as
plugins/responder_quarantine/README.md ("File format") describes them,
written from that description (not from entry.c), valid and torn ones.

Usage: quarantine_entry.py OUTDIR
"""
import hashlib
import os
import struct
import sys

PREFIX = 4 + 4 + 4 + 12
FIXED = 8 + 4 + 4 + 4 + 8 + 8 + 32 + 2 + 2


def header(path, rule, size=5, mode=0o100644, version=1, meta_len=None, nonce=bytes(range(12))):
    p, r = path.encode(), rule.encode()
    meta = struct.pack("<QIIIqq", size, mode, 1000, 1000, 1600000000987654321,
                       1700000000000000000)
    meta += hashlib.sha256(b"hello").digest() + struct.pack("<HH", len(p), len(r)) + p + r
    if meta_len is None:
        meta_len = len(meta)
    return b"RQV1" + struct.pack("<II", version, meta_len) + nonce + meta


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    good = header("/home/user/eicar.com", "EICAR_test_rule")
    seeds = {
        "valid": good + b"\x00" * 5 + b"\x11" * 16,
        "valid_header_only": good,
        "empty_strings": header("", ""),
        "long_path": header("/" + "p" * 4095, "r" * 256),
        "path_over_cap": header("/" + "p" * 4096, "r"),
        "bad_version": header("/a", "r", version=2),
        "meta_len_short": header("/a", "r", meta_len=FIXED - 1),
        "meta_len_slack": header("/a", "r", meta_len=FIXED + 4) + b"\x00" * 8,
        "torn": good[: PREFIX + 30],
        "nul_in_path": header("/a\x00b", "r"),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
