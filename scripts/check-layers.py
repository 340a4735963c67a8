#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Check kvmmu's layer rules on every #include under src/.

The rules are in src/layers: for each directory under src/, the directories
whose headers it may include.  The build enforces them with per-directory
include paths; this script also catches what include paths cannot:

  - relative includes ("../host/host_mm.h") that leave the allowed set;
  - angle-bracket includes that reach into src/;
  - a header name used in two layers (bare includes must be unambiguous);
  - a VM, a host or a simulated machine built outside the world layer
    (src/world): the drivers (scenarios, workloads, benchmarks, the CLI,
    the tests' fixture in tests/common) build theirs with world_create(),
    so that every driver gets the same world and the same teardown;
  - with --hermetic, headers that do not compile on their own.

Usage: check-layers.py [--root DIR] [--hermetic] [--cc CC]
Exit status: 0 clean, 1 violations found, 2 usage error.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')

# What assembles a world, and the layer that defines each; only that layer
# and the world layer may call it.
BUILDERS = {
    'kvmmu_vm_create': 'kvm',
    'host_phys_create': 'host',
    'host_mm_create': 'host',
    'hw_machine_create': 'hw',
}
BUILDER_RE = re.compile(r'\b(' + '|'.join(BUILDERS) + r')\s*\(')
COMMENT_RE = re.compile(r'^\s*(/?\*|//)')


def load_rules(root):
    rules = {}
    path = os.path.join(root, 'src', 'layers')
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            name, _, allowed = line.partition(':')
            rules[name.strip()] = allowed.split()
    return rules


def layer_dir(root, layer):
    """A layer lives in src/<layer>, or (bench) at the top of the tree."""
    under_src = os.path.join(root, 'src', layer)
    return under_src if os.path.isdir(under_src) else os.path.join(root, layer)


def source_files(root, layer):
    top = layer_dir(root, layer)
    for dirpath, _, files in os.walk(top):
        for name in sorted(files):
            if name.endswith(('.c', '.h')):
                yield os.path.join(dirpath, name)


def layer_of(root, rules, path):
    """The layer a path belongs to, or None if it is in none."""
    real = os.path.realpath(path)
    for layer in rules:
        top = os.path.realpath(layer_dir(root, layer))
        if os.path.commonpath([real, top]) == top:
            return layer
    return None


def check(root, rules):
    problems = []
    headers = {}  # basename -> [layer]
    for layer in rules:
        for path in source_files(root, layer):
            if path.endswith('.h'):
                headers.setdefault(os.path.basename(path), []).append(layer)

    for name, layers in sorted(headers.items()):
        if len(layers) > 1:
            problems.append(f'header name {name} is used by several layers: {", ".join(layers)}')

    for layer, allowed in rules.items():
        for path in source_files(root, layer):
            rel = os.path.relpath(path, root)
            with open(path, encoding='utf-8', errors='replace') as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE_RE.match(line)
                    if not m:
                        continue
                    kind, target = m.groups()
                    where = f'{rel}:{lineno}'
                    if kind == '<':
                        if target.startswith('kvmmu/'):
                            continue
                        cand = os.path.normpath(os.path.join(root, 'src', target))
                        if '..' in target.split('/') or os.path.exists(cand):
                            problems.append(f'{where}: <{target}> reaches into src/')
                        continue
                    # A quoted include is first looked up beside the includer.
                    beside = os.path.normpath(os.path.join(os.path.dirname(path), target))
                    if os.path.exists(beside):
                        owner = layer_of(root, rules, beside)
                        if owner is None:
                            problems.append(f'{where}: "{target}" is in no layer')
                        elif owner not in allowed:
                            problems.append(f'{where}: "{target}" is in {owner}/, which {layer}/ may not include')
                        continue
                    if '/' in target:
                        problems.append(f'{where}: "{target}": include layer headers by bare name')
                        continue
                    owners = headers.get(target, [])
                    if not owners:
                        problems.append(f'{where}: "{target}" is not a header of any layer')
                    elif not any(o in allowed for o in owners):
                        problems.append(f'{where}: "{target}" is in {owners[0]}/, which {layer}/ may not include')
    return problems


def check_builders(root, rules):
    """Worlds are built by the world layer alone (and the tests' fixture uses it)."""
    places = [(layer, source_files(root, layer)) for layer in rules]
    common = os.path.join(root, 'tests', 'common')
    places.append(('tests/common', (os.path.join(common, n) for n in sorted(os.listdir(common))
                                    if n.endswith(('.c', '.h'))) if os.path.isdir(common) else ()))
    problems = []
    for layer, paths in places:
        for path in paths:
            rel = os.path.relpath(path, root)
            with open(path, encoding='utf-8', errors='replace') as f:
                for lineno, line in enumerate(f, 1):
                    m = BUILDER_RE.search(line)
                    if not m or COMMENT_RE.match(line) or layer in ('world', BUILDERS[m.group(1)]):
                        continue
                    problems.append(f'{rel}:{lineno}: {m.group(1)}() outside the world layer '
                                    '(build worlds with world_create())')
    return problems


def check_hermetic(root, rules, cc):
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for layer, allowed in rules.items():
            flags = []
            for d in allowed:
                flags += ['-iquote', layer_dir(root, d)]
            for path in source_files(root, layer):
                # A template (paging_tmpl.h) is compiled by the .c that sets
                # its parameters and includes it, once per instance.
                if not path.endswith('.h') or path.endswith('_tmpl.h'):
                    continue
                unit = os.path.join(tmp, 'unit.c')
                with open(unit, 'w', encoding='utf-8') as f:
                    f.write(f'#include "{os.path.basename(path)}"\n')
                cmd = [cc, '-std=gnu11', '-D_GNU_SOURCE', '-fsyntax-only', '-Wall', '-Wextra',
                       '-Wno-unused-parameter', '-Werror', '-I', os.path.join(root, 'include')] + flags + [unit]
                res = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if res.returncode:
                    first = (res.stderr.strip().splitlines() or ['?'])[0]
                    problems.append(f'{os.path.relpath(path, root)} does not compile on its own: {first}')
    return problems


def main():
    ap = argparse.ArgumentParser(description='Check the layer rules of kvmmu.')
    ap.add_argument('--root', default=os.path.join(os.path.dirname(__file__), '..'))
    ap.add_argument('--hermetic', action='store_true', help='also compile every header on its own')
    ap.add_argument('--cc', default=os.environ.get('CC', 'cc'))
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    try:
        rules = load_rules(root)
    except OSError as e:
        print(f'check-layers: {e}', file=sys.stderr)
        return 2

    problems = check(root, rules) + check_builders(root, rules)
    if args.hermetic:
        problems += check_hermetic(root, rules, args.cc)
    for p in problems:
        print(f'check-layers: {p}', file=sys.stderr)
    if problems:
        print(f'check-layers: {len(problems)} violation(s)', file=sys.stderr)
        return 1
    print('check-layers: clean')
    return 0


if __name__ == '__main__':
    sys.exit(main())
