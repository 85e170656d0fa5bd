#!/usr/bin/env python3
"""Reads a spool folder as it is on disk (docs/spool.md), without the agent,
so an end-to-end test can compare what arrives with what was persisted.

  spool_read.py events SPOOL_DIR   one line per event of every intact record
                                   not yet acked: "<event.id>\t<synthetic.seq or ->"
  spool_read.py records SPOOL_DIR  one JSON object per record or damaged
                                   stretch: segment, offset, payload offset
                                   and length, id, events, status (ok,
                                   corrupt: payload checksum, torn: cut by the
                                   end of the file, garbage: no valid header)

Checks what the agent checks: magic, version, header length and CRC-32C of
the header; the payload's CRC-32C; a segment's footer when it has one. Past
a bad header it looks for the next valid one, as recovery does.
"""
import gzip
import json
import os
import struct
import sys

HDR = 56
FOOTER = 64
REC_MAGIC = 0x31535052  # "RPS1"
FOOT_MAGIC = 0x46535052  # "RPSF"
PAYLOAD_MAX = 64 << 20


def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_T = _table()


def crc32c(data):
    c = 0xFFFFFFFF
    t = _T
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def header_at(buf, off, end):
    """The record header at off, or None when there is no valid one."""
    if off + HDR > end:
        return None
    magic, ver, hlen, flags, events, bid, uid, ts, plen, pcrc, _res, hcrc = struct.unpack_from(
        "<IHHIIQQqIIII", buf, off)
    if magic != REC_MAGIC or ver != 1 or hlen != HDR or plen > PAYLOAD_MAX:
        return None
    if crc32c(buf[off:off + 52]) != hcrc:
        return None
    return {"flags": flags, "events": events, "id": bid, "uid": uid, "ts": ts, "len": plen,
            "crc": pcrc}


def data_end(buf):
    """Where the records stop: the footer's word when it is valid."""
    size = len(buf)
    if size >= FOOTER:
        f = size - FOOTER
        magic, ver, flen, end = struct.unpack_from("<IHHQ", buf, f)
        (fcrc,) = struct.unpack_from("<I", buf, f + 60)
        if magic == FOOT_MAGIC and ver == 1 and flen == FOOTER and end == f and \
                crc32c(buf[f:f + 60]) == fcrc:
            return f
    return size


def acked_watermark(spool):
    try:
        with open(os.path.join(spool, "acked"), "rb") as f:
            b = f.read(32)
        magic, ver, length, uid, mark = struct.unpack_from("<IHHQQ", b, 0)
        (crc,) = struct.unpack_from("<I", b, 28)
        if magic == 0x4B415052 and crc32c(b[:28]) == crc:  # "RPAK"
            return mark
    except (OSError, struct.error):
        pass
    return 0


def records(spool):
    segs = sorted(n for n in os.listdir(spool) if n.endswith(".seg"))
    for name in segs:
        with open(os.path.join(spool, name), "rb") as f:
            buf = f.read()
        end = data_end(buf)
        off = 0
        while off < end:
            h = header_at(buf, off, end)
            if h is None:
                # No valid header here: a torn header at the end, or damage;
                # look for the next valid header, as recovery does.
                nxt = off + 1
                while nxt + HDR <= end and header_at(buf, nxt, end) is None:
                    nxt += 1
                if nxt + HDR > end:
                    yield {"seg": name, "off": off, "bytes": end - off, "status": "torn"}
                    break
                yield {"seg": name, "off": off, "bytes": nxt - off, "status": "garbage"}
                off = nxt
                continue
            p = off + HDR
            r = dict(h, seg=name, off=off, payload_off=p)
            if p + h["len"] > end:
                r["status"] = "torn"
                yield r
                break
            payload = buf[p:p + h["len"]]
            r["status"] = "ok" if crc32c(payload) == h["crc"] else "corrupt"
            if r["status"] == "ok":
                r["payload"] = payload
            yield r
            off = p + h["len"]


def events(spool):
    acked = acked_watermark(spool)
    for r in records(spool):
        if r["status"] != "ok" or r["id"] <= acked:
            continue
        payload = r["payload"]
        if r["flags"] & 1:
            payload = gzip.decompress(payload)
        lines = payload.decode().splitlines()
        if len(lines) != r["events"]:
            sys.exit("batch %d: %d lines, header says %d" % (r["id"], len(lines), r["events"]))
        for line in lines:
            ev = json.loads(line)
            seq = ev.get("synthetic.seq")
            yield ev["event.id"], "-" if seq is None else str(seq)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("events", "records"):
        sys.exit(__doc__)
    spool = sys.argv[2]
    if sys.argv[1] == "events":
        for eid, seq in events(spool):
            print("%s\t%s" % (eid, seq))
    else:
        for r in records(spool):
            r.pop("payload", None)
            print(json.dumps(r, sort_keys=True))


if __name__ == "__main__":
    main()
