#!/usr/bin/env python3
"""Checks the layout of the public structs of rampart/plugin.h (and service_*.h).

check_layout.py pins SDK_INCLUDE
    Every member of every public struct (a struct whose tag does not start
    with "rp__") has an offset pin, RP_STATIC_ASSERT(RP__OFF(type, member) ==
    ...), and every struct a size pin, RP_STATIC_ASSERT(sizeof(type) == ...).
    A compiled check proves the parser saw every member: the members it found
    must tile the struct with no gap beyond alignment padding.

check_layout.py frozen FROZEN_INCLUDE SDK_INCLUDE
    Every member of the frozen header's structs has the same offset and size
    in the current header; so has every struct without a struct_size member
    (rp_str, rp_ip: they are passed by value and in arrays, so they never
    grow). Checked natively by running a program built against each header,
    and for other targets (i386, armv7, aarch64, x86_64 and i686 Windows) by
    comparing the data the compiler emits, when clang is installed.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

CROSS = ["i386-linux-gnu", "armv7-linux-gnueabihf", "aarch64-linux-gnu", "x86_64-w64-mingw32",
         "i686-w64-mingw32"]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def parse_structs(path):
    """Returns [(struct name, [member, ...]), ...] in header order."""
    text = strip_comments(open(path, encoding="utf-8").read())
    structs = []
    for m in re.finditer(r"\bstruct\s+(\w+)\s*\{", text):
        name = m.group(1)
        depth, i = 1, m.end()
        while depth:
            if i >= len(text):
                fail(f"{path}: struct {name}: no closing brace")
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        body = text[m.end():i - 1]
        if "{" in body:
            fail(f"{path}: struct {name} has a nested struct or union; teach {sys.argv[0]} it")
        members = []
        for decl in body.split(";"):
            decl = " ".join(decl.split())
            if not decl:
                continue
            fn = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", decl)
            if fn:
                members.append(fn.group(1))
                continue
            if ":" in decl:
                fail(f"{path}: struct {name}: bit-field in '{decl}' (not allowed in the ABI)")
            # "uint8_t addr[16]" or "uint32_t a, b".
            for part in decl.split(","):
                mem = re.search(r"(\w+)\s*(\[[^\]]*\]\s*)*$", part.strip())
                if not mem:
                    fail(f"{path}: struct {name}: cannot read the member in '{decl}'")
                members.append(mem.group(1))
        if not members:
            fail(f"{path}: struct {name} has no members")
        structs.append((name, members))
    if not structs:
        fail(f"{path}: no struct definitions found")
    return structs


def public(structs):
    return [(n, ms) for n, ms in structs if not n.startswith("rp__")]


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        print(" ".join(cmd), file=sys.stderr)
        print(r.stdout, file=sys.stderr)
    return r


def cc():
    return os.environ.get("CC") or "cc"


def check_pins(inc):
    """plugin.h and every public service header (rampart/service_*.h)."""
    names = ["plugin.h"] + sorted(n for n in os.listdir(os.path.join(inc, "rampart"))
                                  if n.startswith("service_") and n.endswith(".h"))
    for header in names:
        check_header_pins(inc, header)


def check_header_pins(inc, header):
    hdr = os.path.join(inc, "rampart", header)
    structs = public(parse_structs(hdr))
    text = strip_comments(open(hdr, encoding="utf-8").read())
    pins = set(re.findall(r"RP_STATIC_ASSERT\(\s*RP__OFF\(\s*(\w+)\s*,\s*(\w+)\s*\)\s*==", text))
    sizes = set(re.findall(r"RP_STATIC_ASSERT\(\s*sizeof\(\s*(\w+)\s*\)\s*==", text))
    errors = []
    known = set()
    for name, members in structs:
        if name not in sizes:
            errors.append(f"{name}: no size pin RP_STATIC_ASSERT(sizeof({name}) == ...)")
        for mem in members:
            known.add((name, mem))
            if (name, mem) not in pins:
                errors.append(f"{name}.{mem}: no offset pin "
                              f"RP_STATIC_ASSERT(RP__OFF({name}, {mem}) == ...)")
    for name, mem in sorted(pins - known):
        if not name.startswith("rp__"):
            errors.append(f"pin for {name}.{mem}, which is no member of a public struct")
    if errors:
        fail(f"{hdr}: unpinned or stray members:\n  " + "\n  ".join(errors))

    # The parser found every member if the members it found tile each struct.
    lines = [f"#include <rampart/{header}>",
             "#define SZ(T, m) sizeof(((T *)0)->m)",
             "#define AL(T, m) __alignof__(((T *)0)->m)",
             "#define UP(x, a) (((x) + (a)-1) / (a) * (a))"]
    for name, members in structs:
        lines.append(f'_Static_assert(offsetof({name}, {members[0]}) == 0, '
                     f'"{name}: a member before {members[0]} was not parsed");')
        for a, b in zip(members, members[1:]):
            lines.append(f"_Static_assert(offsetof({name}, {b}) == "
                         f"UP(offsetof({name}, {a}) + SZ({name}, {a}), AL({name}, {b})), "
                         f'"{name}: a member between {a} and {b} was not parsed");')
        last = members[-1]
        lines.append(f"_Static_assert(sizeof({name}) == "
                     f"UP(offsetof({name}, {last}) + SZ({name}, {last}), __alignof__({name})), "
                     f'"{name}: a member after {last} was not parsed");')
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "tiling.c")
        open(src, "w").write("\n".join(lines) + "\n")
        targets = [[cc()]]
        if shutil.which("clang"):
            targets += [["clang", "--target=" + t, "-ffreestanding"] for t in CROSS]
        for t in targets:
            # The header's own pins are checked here on every target too.
            if run(t + ["-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                        "-I", inc, src]).returncode != 0:
                fail(f"layout check of {hdr} with {' '.join(t)}")
    total = sum(len(ms) for _, ms in structs)
    print(f"{hdr}: {total} members of {len(structs)} structs, each pinned "
          f"({', '.join(f'{n} {len(ms)}' for n, ms in structs)}); checked on "
          f"{len(targets)} target(s)")


def check_frozen(frozen_inc, inc):
    frozen = public(parse_structs(os.path.join(frozen_inc, "rampart", "plugin.h")))
    names, exprs = [], []
    for name, members in frozen:
        for mem in members:
            names.append(f"{name}.{mem}")
            exprs.append(f"offsetof({name}, {mem})")
            names.append(f"sizeof {name}.{mem}")
            exprs.append(f"sizeof(((const {name} *)0)->{mem})")
        # Tables with struct_size grow at the end; the other structs never do.
        if "struct_size" not in members:
            names.append(f"sizeof {name}")
            exprs.append(f"sizeof({name})")
    for macro in ("RP_HOST_API_SIZE_1_0", "RP_DESCRIPTOR_SIZE_1_0"):
        names.append(macro)
        exprs.append(macro)
    src = ["#ifdef RP_LAYOUT_MAIN", "#include <stdio.h>", "#endif", "#include <rampart/plugin.h>",
           "const unsigned long long rp_layout[] = {"]
    src += [f"    (unsigned long long)({e})," for e in exprs]
    src += ["};", "#ifdef RP_LAYOUT_MAIN", "static const char *const rp_names[] = {"]
    src += [f'    "{n}",' for n in names]
    src += ["};", "int main(void)", "{",
            "    for (size_t i = 0; i < sizeof rp_layout / sizeof rp_layout[0]; i++)",
            '        printf("%s %llu\\n", rp_names[i], rp_layout[i]);',
            "    return 0;", "}", "#endif"]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "layout.c")
        open(path, "w").write("\n".join(src) + "\n")
        out = {}
        for label, include in (("frozen", frozen_inc), ("current", inc)):
            exe = os.path.join(tmp, label)
            if run([cc(), "-std=c11", "-Wall", "-Wextra", "-Werror", "-DRP_LAYOUT_MAIN",
                    "-I", include, "-o", exe, path]).returncode != 0:
                fail(f"cannot build the layout table against the {label} header")
            out[label] = run([exe]).stdout.splitlines()
        diff = [f"  {f}   frozen | current {c}" for f, c in zip(out["frozen"], out["current"])
                if f != c]
        if diff:
            fail("the current header moves 1.0 members (native target):\n" + "\n".join(diff))
        checked = ["native"]
        if shutil.which("clang"):
            for t in CROSS:
                asm = {}
                for label, include in (("frozen", frozen_inc), ("current", inc)):
                    s = os.path.join(tmp, f"{label}-{t}.s")
                    if run(["clang", "--target=" + t, "-ffreestanding", "-std=c11", "-S",
                            "-I", include, "-o", s, path]).returncode != 0:
                        fail(f"cannot compile the layout table for {t} ({label} header)")
                    asm[label] = open(s).read().splitlines()
                if asm["frozen"] != asm["current"]:
                    fail(f"the current header moves 1.0 members on {t}: the emitted "
                         f"layout tables differ:\n" + "\n".join(
                             f"  frozen {a.strip()} | current {b.strip()}"
                             for a, b in zip(asm["frozen"], asm["current"]) if a != b))
                checked.append(t)
    print("\n".join(out["current"]))
    print(f"{len(names)} offsets and sizes of the frozen 1.0 structs equal in the current "
          f"header on: {', '.join(checked)}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "pins":
        check_pins(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "frozen":
        check_frozen(sys.argv[2], sys.argv[3])
    else:
        fail("usage: check_layout.py pins SDK_INCLUDE | frozen FROZEN_INCLUDE SDK_INCLUDE")


if __name__ == "__main__":
    main()
