#!/usr/bin/env python3
"""Checks that the ABI 1.1 conformance plugin uses every 1.1 member.

check_uses_all.py PLUGIN_H PLUGIN_C
    Every member that rampart/plugin.h lists in a "--- 1.1" section of
    rp_host_api must be called in PLUGIN_C as host->member( or H->member(,
    and every 1.1 member of rp_plugin_descriptor must be set there as
    .member = ..., so a call added to the header without a conformance check
    fails make test.
"""
import re
import sys


def members(text, struct, since):
    body = re.search(r"typedef struct " + struct + r" \{(.*?)\} " + struct + ";", text, re.S)
    if not body:
        sys.exit(f"FAIL: no struct {struct} in the header")
    part = body.group(1).split("--- " + since, 1)
    if len(part) != 2:
        sys.exit(f"FAIL: no '--- {since}' section in {struct}")
    part = re.sub(r"/\*.*?\*/", " ", part[1], flags=re.S)
    names = re.findall(r"\(\*(\w+)\)", part)
    names += re.findall(r"\b(?:const char|uint64_t|uint32_t) \*?\s*(\w+);", part)
    names += re.findall(r"const rp_event_fields \*(\w+);", part)
    return names


def main():
    header = open(sys.argv[1], encoding="utf-8").read()
    plugin = open(sys.argv[2], encoding="utf-8").read()
    missing = []
    host = members(header, "rp_host_api", "1.1")
    desc = members(header, "rp_plugin_descriptor", "1.1")
    for m in host:
        if not re.search(r"\b(?:host|H)->" + m + r"\(", plugin):
            missing.append(f"host call {m}")
    for m in desc:
        if not re.search(r"\." + m + r"\s*=", plugin):
            missing.append(f"descriptor member {m}")
    if len(host) < 21 or len(desc) < 5:
        sys.exit(f"FAIL: found only {len(host)} host calls and {len(desc)} descriptor members of 1.1")
    if missing:
        sys.exit("FAIL: " + sys.argv[2] + " does not use: " + ", ".join(missing))
    print(f"ok: {len(host)} host calls and {len(desc)} descriptor members of 1.1 used")


main()
