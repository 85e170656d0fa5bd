#!/usr/bin/env python3
"""tests/e2e/real_events.py - reads what one output format delivered and
checks the real collector events of tests/e2e/test_real_collectors.sh in it.

    real_events.py FORMAT SOURCE EXPECT_JSON [LOCAL_NDJSON]

FORMAT is ndjson, elastic-bulk, splunk-hec, loki or otlp (SOURCE: the folder
of request bodies nginx kept, gzip or not), or clickhouse (SOURCE: a file of
rows from ClickHouse, JSONEachRow). EXPECT_JSON names the markers of the
activity and the agent's identity. With LOCAL_NDJSON (a copy of the agent's
events.ndjson), every event in it must have arrived too, and none twice.
Exit 0: every expected event is there, with the identity where the format
puts it; 3: not (yet) all there; 1: a wrong value. What was found or wrong
is printed either way.
"""
import gzip
import json
import os
import sys


class Wrong(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Wrong(what)


def bodies(folder):
    """Each kept request body, decompressed. A body still being written
    (torn gzip) is skipped: the caller polls again."""
    out = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (EOFError, OSError):
                continue
        out.append(data.decode("utf-8"))
    return out


def events_ndjson(t, exp):
    return [json.loads(l) for l in t.splitlines() if l.strip()]


def events_elastic(t, exp):
    evs = []
    lines = [l for l in t.split("\n") if l]
    check(len(lines) % 2 == 0, "elastic-bulk: odd number of lines in a body")
    for action, doc in zip(lines[0::2], lines[1::2]):
        a, d = json.loads(action), json.loads(doc)
        check(a.get("create", {}).get("_id") == d.get("event.id"),
              "elastic-bulk: action %s does not name the document's event.id" % action)
        check(a["create"].get("_index") == "rampart-e2e",
              "elastic-bulk: action %s does not name output.elastic.index" % action)
        evs.append(d)
    return evs


def events_splunk(t, exp):
    evs = []
    dec = json.JSONDecoder()
    i = 0
    while i < len(t):
        if t[i].isspace():
            i += 1
            continue
        env, i = dec.raw_decode(t, i)
        check(env.get("host") == exp["host_name"],
              "splunk-hec: envelope host %r, want %r" % (env.get("host"), exp["host_name"]))
        check(isinstance(env.get("time"), (int, float)), "splunk-hec: no numeric time")
        check((env.get("index"), env.get("source"), env.get("sourcetype"))
              == ("edr", "rampart:e2e", "rampart:ecs"),
              "splunk-hec: index/source/sourcetype %r, want output.splunk's"
              % ((env.get("index"), env.get("source"), env.get("sourcetype")),))
        evs.append(env["event"])
    return evs


def events_loki(t, exp):
    evs = []
    for s in json.loads(t)["streams"]:
        check(s["stream"].get("host") == exp["host_name"],
              "loki: stream label host %r, want %r" % (s["stream"].get("host"), exp["host_name"]))
        check((s["stream"].get("job"), s["stream"].get("district")) == ("edr-e2e", "east"),
              "loki: stream labels %r, want output.loki's job and labels" % s["stream"])
        for ts, line in s["values"]:
            check(ts.isdigit(), "loki: time %r is not nanoseconds" % ts)
            evs.append(json.loads(line))
    return evs


def events_otlp(t, exp):
    evs = []
    for rl in json.loads(t)["resourceLogs"]:
        attrs = {a["key"]: a["value"].get("stringValue") for a in rl["resource"]["attributes"]}
        check(attrs.get("host.name") == exp["host_name"],
              "otlp: resource host.name %r, want %r" % (attrs.get("host.name"), exp["host_name"]))
        check(attrs.get("service.instance.id") == exp["agent_id"],
              "otlp: resource service.instance.id %r, want the agent id %r"
              % (attrs.get("service.instance.id"), exp["agent_id"]))
        check(attrs.get("deployment.environment") == "schools",
              "otlp: resource attributes %r lack output.otlp.resource_attributes" % attrs)
        for sl in rl["scopeLogs"]:
            for rec in sl["logRecords"]:
                ev = json.loads(rec["body"]["stringValue"])
                ra = {a["key"]: a["value"].get("stringValue") for a in rec.get("attributes", [])}
                check(ra.get("event.id") == ev.get("event.id"),
                      "otlp: record attribute event.id differs from the body's")
                evs.append(ev)
    return evs


def events_clickhouse(path, exp):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def same(v, want):
    """ClickHouse prints 64-bit integers as strings; compare as text."""
    return str(v) == str(want)


def main():
    fmt, source, exp = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    readers = {"ndjson": events_ndjson, "elastic-bulk": events_elastic,
               "splunk-hec": events_splunk, "loki": events_loki, "otlp": events_otlp}
    try:
        unreadable = 0
        if fmt == "clickhouse":
            evs = events_clickhouse(source, exp)
        else:
            evs = []
            for text in bodies(source):
                try:
                    evs += readers[fmt](text, exp)
                except (ValueError, KeyError, TypeError):
                    unreadable += 1  # still being written; read again next time
        # Every event, whichever collector made it, carries the identity.
        for ev in evs:
            for k in ("agent.id", "host.name", "host.hostname", "labels.site", "agent.type",
                      "agent.version") + (("host.id",) if exp.get("host_id") else ()):
                want = {"agent.id": exp["agent_id"], "host.name": exp["host_name"],
                        "host.hostname": exp["host_name"], "labels.site": exp["site"],
                        "agent.type": "rampart", "agent.version": exp["version"],
                        "host.id": exp.get("host_id")}[k]
                check(ev.get(k) == want, "%s: event %s (%s) has %s=%r, want %r"
                      % (fmt, ev.get("event.id"), ev.get("event.action"), k, ev.get(k), want))
        found = {}
        for ev in evs:
            act = ev.get("event.action")
            args = ev.get("process.args") or []
            # The marked sh only (the marker is also an argument of other
            # programs the test runs).
            if act == "exec" and args[:1] == ["/bin/sh"] and exp["exec_marker"] in args:
                check(args == ["/bin/sh", "-c", "sleep 0.5; :", exp["exec_marker"]],
                      "exec: process.args %r" % args)
                check(ev.get("process.executable") == exp["sh_executable"],
                      "exec: process.executable %r, want %r"
                      % (ev.get("process.executable"), exp["sh_executable"]))
                check(same(ev.get("user.id"), exp["uid"]), "exec: user.id %r" % ev.get("user.id"))
                check(ev.get("event.category") == ["process"] and ev.get("event.type") == ["start"],
                      "exec: category/type %r/%r" % (ev.get("event.category"), ev.get("event.type")))
                check(ev.get("process.entity_id"), "exec: no process.entity_id")
                found["exec"] = ev
            elif ev.get("file.path") == exp["file_path"] and act in ("creation", "modification", "deletion"):
                check(ev.get("file.name") == os.path.basename(exp["file_path"]), "file: file.name %r" % ev.get("file.name"))
                check(ev.get("file.directory") == os.path.dirname(exp["file_path"]),
                      "file: file.directory %r" % ev.get("file.directory"))
                check(ev.get("event.category") == ["file"], "file: category %r" % ev.get("event.category"))
                found["file-" + act] = ev
            elif (act in ("connect", "accept") and same(ev.get("destination.port"), exp["port"])
                  and ev.get("destination.ip") == "127.0.0.1"):
                # The pair whose arrays differ in length (1 and 2): what
                # ClickHouse refused with its Nested check (Code 190).
                check(ev.get("event.category") == ["network"]
                      and ev.get("event.type") == ["connection", "start"],
                      "network: category/type %r/%r" % (ev.get("event.category"), ev.get("event.type")))
                check(ev.get("source.ip") == "127.0.0.1" and ev.get("network.transport") == "tcp",
                      "network: source.ip %r transport %r" % (ev.get("source.ip"), ev.get("network.transport")))
                check(same(ev.get("process.pid"), exp["net_pid"]),
                      "network: %s process.pid %r, want %r" % (act, ev.get("process.pid"), exp["net_pid"]))
                found["network-" + act] = ev
            elif act == "logged-in" and ev.get("user.name") == exp["login_user"]:
                check(ev.get("source.ip") == exp["login_ip"], "login: source.ip %r" % ev.get("source.ip"))
                check(ev.get("event.category") == ["authentication", "session"]
                      and ev.get("event.type") == ["start"],
                      "login: category/type %r/%r" % (ev.get("event.category"), ev.get("event.type")))
                check(ev.get("related.user") == [exp["login_user"]], "login: related.user %r" % ev.get("related.user"))
                check(ev.get("event.outcome") == "success", "login: outcome %r" % ev.get("event.outcome"))
                found["login"] = ev
        want = ["exec", "file-creation", "file-deletion", "network-connect", "network-accept", "login"]
        missing = [w for w in want if w not in found]
        print("%s: %d events%s; found %s; missing %s" % (
            fmt, len(evs), " (%d bodies unreadable)" % unreadable if unreadable else "",
            sorted(found), missing or "none"))
        if missing:
            return 3
        if len(sys.argv) > 4:
            with open(sys.argv[4], encoding="utf-8") as f:
                # Only whole lines: the copy may end in the middle of one.
                local = [json.loads(l)["event.id"] for l in f.read().split("\n")[:-1] if l]
            got = {}
            for ev in evs:
                got[ev.get("event.id")] = got.get(ev.get("event.id"), 0) + 1
            twice = [i for i, n in got.items() if n > 1]
            check(not twice, "%s: %d events arrived twice, e.g. %s" % (fmt, len(twice), twice[:3]))
            lost = [i for i in local if i not in got]
            print("%s: %d of the agent's %d local events arrived, none twice"
                  % (fmt, len(local) - len(lost), len(local)))
            if lost:
                return 3
        return 0
    except Wrong as e:
        print("WRONG: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
