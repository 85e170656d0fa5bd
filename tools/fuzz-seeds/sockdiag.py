#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_sockdiag.c from this machine's
kernel:  python3 tools/fuzz-seeds/sockdiag.py OUT_DIR   (as root: the destroy
groups need CAP_NET_ADMIN).

Each seed is one control byte (see fuzz_sockdiag.c: 0x01 = assume UDP) and
one datagram exactly as recvfrom() returned it on a NETLINK_SOCK_DIAG socket:
  dump_tcp4_info   a TCP/IPv4 dump asking for tcp_info (INET_DIAG_INFO) of a
                   listener and a connection this script opens on 127.0.0.1
  dump_tcp6        a TCP/IPv6 dump of the same on ::1, base messages only
  dump_udp4        a UDP/IPv4 dump (assume-UDP bit set) of a bound socket
  dump_done        the datagram that ends a dump (NLMSG_DONE)
  dump_error       the kernel's answer to a dump of an unknown protocol (an
                   NLMSG_DONE carrying -ENOENT)
  destroy_tcp4_N   messages of the TCP/IPv4 destroy group for a closed
                   listener and connection (tcp_info, INET_DIAG_PROTOCOL)
  destroy_udp6     the same for a UDP/IPv6 socket
Datagrams are cut after whole messages to stay under 4 KiB.
Then a few hand-made malformed ones (malformed_*) are derived from them.
"""
import os
import socket
import struct
import sys
import time

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
INET_DIAG_INFO = 2
SKNLGRP_INET_TCP_DESTROY, SKNLGRP_INET6_UDP_DESTROY = 1, 4
MAX_SEED = 4096


def cut(dgram):
    """The longest prefix of whole messages that fits in MAX_SEED bytes."""
    off = 0
    while off + 16 <= len(dgram):
        ln = struct.unpack_from("=I", dgram, off)[0]
        nxt = off + ((ln + 3) & ~3)
        if ln < 16 or nxt > MAX_SEED:
            break
        off = nxt
    return dgram[:max(off, min(len(dgram), 16))]


def dump(family, proto, states, ext, seq):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
    s.settimeout(2)
    # inet_diag_req_v2: family, protocol, ext, pad, states, then a zero
    # inet_diag_sockid (48 bytes).
    req = struct.pack("=BBBBI", family, proto, ext, 0, states) + bytes(48)
    hdr = struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP,
                      seq, 0)
    s.sendto(hdr + req, (0, 0))
    out = []
    while True:
        d = s.recv(65536)
        out.append(d)
        # The last datagram of a dump holds NLMSG_DONE (or an error).
        off, last = 0, False
        while off + 16 <= len(d):
            ln, typ = struct.unpack_from("=IH", d, off)
            if typ in (NLMSG_DONE, NLMSG_ERROR):
                last = True
            if ln < 16:
                break
            off += (ln + 3) & ~3
        if last:
            break
    s.close()
    return out


def destroy_msgs(group, make_and_close, most):
    """The first datagrams (at most `most`) the destroy group sends while
    make_and_close runs."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
    s.bind((0, 1 << (group - 1)))
    s.settimeout(2)
    make_and_close()
    out = [s.recv(65536)]
    s.settimeout(0.5)
    try:
        while len(out) < most:
            out.append(s.recv(65536))
    except socket.timeout:
        pass
    s.close()
    return out


def write(outdir, name, ctl, data):
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(bytes([ctl]) + data)


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)

    # Sockets to be seen: a listener and a connection on each family.
    socks = []
    for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.bind((addr, 0))
        ls.listen(4)
        c = socket.socket(fam, socket.SOCK_STREAM)
        c.connect(ls.getsockname()[:2])
        a, _ = ls.accept()
        c.sendall(b"x" * 1000)
        a.recv(1000)
        socks += [ls, c, a]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    socks.append(u)

    all_states = 0xFFF
    tcp4 = dump(socket.AF_INET, socket.IPPROTO_TCP, all_states, 1 << (INET_DIAG_INFO - 1), 101)
    write(outdir, "dump_tcp4_info", 0x00, cut(tcp4[0]))
    tcp6 = dump(socket.AF_INET6, socket.IPPROTO_TCP, all_states, 0, 102)
    write(outdir, "dump_tcp6", 0x00, cut(tcp6[0]))
    udp4 = dump(socket.AF_INET, socket.IPPROTO_UDP, all_states, 0, 103)
    write(outdir, "dump_udp4", 0x01, cut(udp4[0]))
    write(outdir, "dump_done", 0x00, cut(tcp6[-1][-20:] if len(tcp6[-1]) >= 20 else tcp6[-1]))
    # No diag handler for this protocol: the kernel answers with an error.
    err = dump(socket.AF_INET, 250, all_states, 0, 104)
    write(outdir, "dump_error", 0x00, cut(err[0]))

    def close_tcp4():
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        c = socket.create_connection(ls.getsockname())
        a, _ = ls.accept()
        c.sendall(b"y" * 300)
        a.recv(300)
        ls.close()
        c.close()
        a.close()

    def close_udp6():
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s6.bind(("::1", 0))
        s6.connect(("::1", 9))
        s6.close()

    # The listener's, then both ends of the connection (with byte counts).
    for i, d in enumerate(destroy_msgs(SKNLGRP_INET_TCP_DESTROY, close_tcp4, 3)):
        write(outdir, "destroy_tcp4_%d" % (i + 1), 0x00, cut(d))
    write(outdir, "destroy_udp6", 0x00, cut(destroy_msgs(SKNLGRP_INET6_UDP_DESTROY, close_udp6, 1)[0]))
    for s in socks:
        s.close()

    # Hand-made malformed datagrams, from a real message.
    msg = cut(tcp4[0])
    first_len = struct.unpack_from("=I", msg, 0)[0]
    one = bytearray(msg[:(first_len + 3) & ~3])
    z = bytearray(one)
    struct.pack_into("=I", z, 0, 0)
    write(outdir, "malformed_zero_len", 0x00, bytes(z))
    h = bytearray(one)
    struct.pack_into("=I", h, 0, 0xFFFFFFF0)
    write(outdir, "malformed_huge_len", 0x00, bytes(h))
    write(outdir, "malformed_truncated", 0x00, bytes(one[:60]))
    # An attribute whose length runs past the message, and one of length 0.
    a = bytearray(one[:88]) + struct.pack("=HH", 400, INET_DIAG_INFO) + bytes(8)
    struct.pack_into("=I", a, 0, len(a))
    write(outdir, "malformed_attr_len", 0x00, bytes(a))
    a0 = bytearray(one[:88]) + struct.pack("=HH", 0, INET_DIAG_INFO) + bytes(8)
    struct.pack_into("=I", a0, 0, len(a0))
    write(outdir, "malformed_attr_zero", 0x00, bytes(a0))
    # A datagram whose length is not a multiple of 4, its last message's
    # padding missing: stepping to the next message must not pass its end.
    odd = bytearray(one) + bytearray(one[:17])
    struct.pack_into("=I", odd, len(one), 17)
    write(outdir, "malformed_odd_tail", 0x00, bytes(odd[:len(one) + 18]))


if __name__ == "__main__":
    main()
