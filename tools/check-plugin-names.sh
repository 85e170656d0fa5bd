#!/usr/bin/env bash
# Checks the naming scheme inside plugins (CONTRIBUTING.md, "Names inside a
# plugin"):
#
#   - the prefix of plugins/<name>/ is the initials of <name>'s words
#     (collector_file: cf); every name a plugin's header declares (macros,
#     struct/enum/union tags, enumerators, typedefs, functions) begins with
#     it (cf_ or CF_), except RP_UTIL_* settings of the SDK headers;
#   - every function a plugin's .c file defines without `static` is declared
#     for other files, so it begins with the prefix too (the plugin's entry,
#     rampart_plugin_entry_v1, excepted);
#   - the guard of plugins/<name>/<file>.h is RP_<NAME>_<FILE>_H, or
#     RP_<NAME>_H for the header named like the plugin.
#
# Usage: check-plugin-names.sh [--root DIR]. Prints one line per name that
# breaks the scheme ("plugins/x_y/a.h: ps_init does not begin with xy_") and
# exits 1 if there is one.
set -euo pipefail

root=.
if [ "${1:-}" = --root ]; then
    root=$2
fi
cd "$root"

exec python3 - <<'EOF'
import os, re, sys

def strip(text):
    """Comments, string and character literals out; line breaks kept."""
    pat = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
    return pat.sub(lambda m: '\n' * m.group(0).count('\n') + (' ' if m.group(0)[0] in '/' else '""'), text)

def without_bodies(text):
    """Every {...} replaced by one marker, innermost first."""
    prev = None
    while prev != text:
        prev = text
        text = re.sub(r'\{[^{}]*\}', ' @BODY@ ', text)
    return text

def no_preprocessor(text):
    out, cont = [], False
    for line in text.split('\n'):
        skip = cont or line.lstrip().startswith('#')
        cont = skip and line.rstrip().endswith('\\')
        out.append('' if skip else line)
    return '\n'.join(out)

def header_names(text):
    """(name, what) for every name a header declares at file scope."""
    names = []
    for m in re.finditer(r'^\s*#\s*define\s+(\w+)', text, re.M):
        names.append((m.group(1), 'macro'))
    code = no_preprocessor(text)
    for m in re.finditer(r'\benum\b\s*\w*\s*\{([^{}]*)\}', code):
        for item in m.group(1).split(','):
            item = item.split('=')[0].strip()
            if item:
                names.append((item, 'enumerator'))
    for m in re.finditer(r'\b(struct|enum|union)\s+(\w+)\s*\{', code):
        names.append((m.group(2), m.group(1)))
    flat = without_bodies(code)
    for stmt in flat.split(';'):
        stmt = ' '.join(stmt.split())
        if not stmt:
            continue
        m = re.fullmatch(r'(struct|enum|union) (\w+)', stmt)
        if m:  # a declaration of a tag defined elsewhere
            names.append((m.group(2), m.group(1)))
        elif stmt.startswith('typedef '):
            m = re.search(r'\(\s*\*\s*(\w+)\s*\)', stmt) or re.search(r'(\w+)\s*(\[[^\]]*\])*$', stmt)
            if m:
                names.append((m.group(1), 'typedef'))
        elif '(' in stmt:
            m = re.search(r'(\w+)\s*\(', stmt)
            if m:
                names.append((m.group(1), 'function'))
    return names

def exported_functions(text):
    """Names of functions a .c file defines without static."""
    flat = without_bodies(no_preprocessor(text))
    found = []
    for m in re.finditer(r'(\w+)\s*\(([^()]|\([^()]*\))*\)\s*@BODY@', flat):
        start = max(flat.rfind(';', 0, m.start()), flat.rfind('@BODY@', 0, m.start()))
        head = flat[start + 1:m.start()]
        if re.search(r'\bstatic\b', head) or '=' in head:
            continue
        found.append(m.group(1))
    return found

bad = []
if not os.path.isdir('plugins'):
    print('check-plugin-names: no plugins/ folder here', file=sys.stderr)
    sys.exit(2)
for plugin in sorted(os.listdir('plugins')):
    folder = os.path.join('plugins', plugin)
    if not os.path.isdir(folder):
        continue
    prefix = ''.join(w[0] for w in plugin.split('_') if w)
    ok = lambda n: n.lower() == prefix or n.lower().startswith(prefix + '_')
    for fname in sorted(os.listdir(folder)):
        path = os.path.join(folder, fname)
        if fname.endswith('.h'):
            raw = open(path, encoding='utf-8', errors='replace').read()
            text = strip(raw)
            base = fname[:-2]
            want = 'RP_' + plugin.upper() + ('' if base == plugin else '_' + base.upper()) + '_H'
            want = re.sub(r'[^A-Z0-9_]', '_', want)
            m = re.search(r'^\s*#\s*ifndef\s+(\w+)\s*\n\s*#\s*define\s+(\w+)', text, re.M)
            guard = m.group(1) if m and m.group(1) == m.group(2) else None
            if guard != want:
                bad.append(f'{path}: guard {guard or "(none)"}, expected {want}')
            for name, what in header_names(text):
                if name == guard or name.startswith('RP_UTIL_') or ok(name):
                    continue
                bad.append(f'{path}: {what} {name} does not begin with {prefix}_ or {prefix.upper()}_')
        elif fname.endswith('.c'):
            text = strip(open(path, encoding='utf-8', errors='replace').read())
            for name in exported_functions(text):
                if name == 'rampart_plugin_entry_v1' or ok(name):
                    continue
                bad.append(f'{path}: function {name} is neither static nor begins with {prefix}_')
for line in bad:
    print(line)
sys.exit(1 if bad else 0)
EOF
