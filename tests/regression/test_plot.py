#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""scripts/plot: bad input is one line and exit 2; real documents become SVGs.

The input checks need no matplotlib.  Drawing needs it, and matplotlib is
optional (make plot installs it): without it those cases are reported as
TAP skips, not passes.  The documents drawn are real ones, from tiny runs
of the kvmmu under test.

Prints TAP.  Usage: test_plot.py SOURCE_ROOT KVMMU
"""

import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(sys.argv[1])
KVMMU = os.path.abspath(sys.argv[2])
PLOT = os.path.join(ROOT, 'scripts', 'plot')

results = []


def check(name, ok, detail=''):
    results.append((name, 'ok' if ok else 'not ok', detail))


def skip(name, why):
    results.append((name, 'skip', why))


def plot(*args):
    return subprocess.run([sys.executable, PLOT, *args], capture_output=True, text=True,
                          check=False, timeout=300)


def one_line_error(p):
    lines = p.stderr.strip().splitlines()
    return p.returncode == 2 and len(lines) == 1 and lines[0].startswith('plot: ')


def have_matplotlib():
    for py in (sys.executable, '/usr/bin/python3'):
        if os.access(py, os.X_OK) and subprocess.run(
                [py, '-c', 'import matplotlib'], capture_output=True, check=False).returncode == 0:
            return True
    return False


def test_bad_input(tmp):
    p = plot()
    check('no input: one line, exit 2', one_line_error(p), p.stderr)
    p = plot(os.path.join(tmp, 'missing.json'))
    check('a missing file: one line, exit 2', one_line_error(p) and 'missing.json' in p.stderr,
          p.stderr)
    bad = os.path.join(tmp, 'bad.json')
    with open(bad, 'w', encoding='utf-8') as f:
        f.write('{"benchmarks": [')
    p = plot(bad)
    check('not JSON: one line, exit 2', one_line_error(p) and 'not JSON' in p.stderr, p.stderr)
    other = os.path.join(tmp, 'other.json')
    with open(other, 'w', encoding='utf-8') as f:
        json.dump({'scenario': 'x'}, f)
    p = plot(other)
    check('another document: one line, exit 2', one_line_error(p), p.stderr)
    p = plot('--sizes', 'huge')
    check('a bad option: exit 2', p.returncode == 2, p.stderr)


def record(tmp):
    """Tiny real documents: demand-paging at two sizes, with and without checkers."""
    docs = os.path.join(tmp, 'docs')
    os.makedirs(docs)
    runs = [('4M', 'none'), ('8M', 'none'), ('4M', 'all')]
    for mem, checks in runs:
        r = subprocess.run([KVMMU, 'run', 'demand-paging', '--vcpus', '1', '--mem-per-vcpu', mem,
                            '--check', checks, '--quiet',
                            f'--json={docs}/dp-{mem}-{checks}.json'],
                           capture_output=True, text=True, check=False, timeout=300)
        if r.returncode:
            return None, r.stderr
    return docs, ''


def test_draw(tmp):
    names = ('draws demand-paging.svg and checker-cost.svg',
             'leaves out the bench figures, saying why',
             '--json lists what was drawn',
             'the same input gives the same SVG')
    if not have_matplotlib():
        for n in names:
            skip(n, 'matplotlib is not installed (make plot installs python3-matplotlib)')
        return
    docs, err = record(tmp)
    if not docs:
        for n in names:
            check(n, False, f'kvmmu run failed: {err[-300:]}')
        return
    out = os.path.join(tmp, 'svg')
    p = plot('--out', out, '--json', docs)
    svgs = sorted(os.listdir(out)) if os.path.isdir(out) else []
    good = p.returncode == 0 and svgs == ['checker-cost.svg', 'demand-paging.svg']
    for s in svgs:
        with open(os.path.join(out, s), encoding='utf-8') as f:
            good = good and '<svg' in f.read(2000)
    check(names[0], good, f'{p.returncode} {svgs} {p.stderr[-300:]}')
    check(names[1], 'fault-scaling.svg left out' in p.stderr and
          'mmu-ratios.svg left out' in p.stderr, p.stderr)
    try:
        doc = json.loads(p.stdout)
        ok = doc['documents'] == 3 and len(doc['drawn']) == 2 and len(doc['left_out']) == 2
    except (json.JSONDecodeError, KeyError, TypeError):
        ok = False
    check(names[2], ok, p.stdout[:300])
    with open(os.path.join(out, 'demand-paging.svg'), 'rb') as f:
        first = f.read()
    plot('--out', out, docs)
    with open(os.path.join(out, 'demand-paging.svg'), 'rb') as f:
        check(names[3], f.read() == first)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for t in (test_bad_input, test_draw):
            try:
                t(tmp)
            except Exception as e:  # a crash of the test is a failure, not a skip
                check(t.__name__, False, repr(e))
    print(f'1..{len(results)}')
    for i, (name, status, detail) in enumerate(results, 1):
        if status == 'skip':
            print(f'ok {i} - {name} # SKIP {detail}')
            continue
        print(f'{status} {i} - {name}')
        if status != 'ok' and detail:
            for line in str(detail).splitlines():
                print(f'# {line}')
    return 0 if all(s != 'not ok' for _, s, _ in results) else 1


if __name__ == '__main__':
    sys.exit(main())
