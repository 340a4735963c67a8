#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""kvmmu diff: kvmmu against the host's /dev/kvm.

Story: a KVM developer changes how kvmmu validates a memslot or harvests a
dirty log and runs `kvmmu diff tests/diff/*.seq --random 1000`: every
committed sequence and every generated one must return what the host's
KVM returns, errno for errno and bitmap for bitmap, once kvmmu is
configured as the host is.  Differences that remain are listed in
docs/diff.md; there are none today, so every check here is strict.

Without a usable /dev/kvm the command exits 77; the checks that need KVM
are then reported as skipped (TAP "# SKIP"), never as passed.  The checks
of the command line itself (usage errors, --print, --help, the skip)
need no KVM and always run.

Prints TAP.  Usage: test_diff.py KVMMU_EXECUTABLE SEQUENCE_DIR
"""

import glob
import json
import os
import subprocess
import sys
import tempfile

KVMMU = os.path.abspath(sys.argv[1])
SEQ_DIR = os.path.abspath(sys.argv[2])
SEQS = sorted(glob.glob(os.path.join(SEQ_DIR, '*.seq')))
SCALE = os.environ.get('KVMMU_SCALE', 'ci')
RANDOM = {'reduced': 200, 'ci': 1000, 'full': 5000}.get(SCALE, 1000)
SKIP = 77
FIELDS = ('skipped', 'host', 'kvmmu', 'caps', 'seed', 'sequences', 'outcomes',
          'bitmaps_with_bits_set', 'operations', 'differences', 'config_differences', 'agree')

results = []


def kvmmu(*args):
    return subprocess.run([KVMMU, *args], capture_output=True, text=True, check=False,
                          timeout=600)


def check(name, ok, detail='', skip=None):
    results.append((name, ok, detail, skip))


def usage_error(p):
    lines = p.stderr.strip().splitlines()
    return p.returncode == 2 and len(lines) == 1 and lines[0].startswith('kvmmu: diff:')


def test_usage_errors():
    with tempfile.TemporaryDirectory() as d:
        bad = {
            'unknown operation': 'frobnicate slot=0\n',
            'missing key': 'region slot=0 gpa=0\n',
            'unknown key': 'get slot=0 gpa=0\n',
            'bad number': 'region slot=0 gpa=1Q size=4K\n',
            'bad flag': 'region slot=0 gpa=0 size=4K flags=DIRTY\n',
            'key twice': 'get slot=0 slot=1\n',
            'unknown capability': 'check-extension NO_SUCH_CAP\n',
            'hva and uaddr': 'region slot=0 gpa=0 size=4K hva=0 uaddr=0\n',
            'no operations': '# nothing\n',
        }
        for what, text in bad.items():
            path = os.path.join(d, 'bad.seq')
            with open(path, 'w', encoding='utf-8') as f:
                f.write(text)
            # A bad file is refused before /dev/kvm is opened: exit 2 even without KVM.
            p = kvmmu('diff', path)
            check(f'bad input exits 2 with one line: {what}', usage_error(p),
                  f'exit {p.returncode}: {p.stdout} {p.stderr}')
            check(f'bad input names the file and line: {what}',
                  what == 'no operations' or 'bad.seq:1:' in p.stderr, p.stderr)
    for args in (['diff'], ['diff', '--seed', '3'], ['diff', '--random', '0'],
                 ['diff', '--random', 'x'], ['diff', '--bogus'], ['diff', '/no/such/file.seq'],
                 ['diff', '--random', '1', '--mmu', 'ept'],
                 ['diff', '--random', '1', '--address-spaces', '3'],
                 ['diff', '--random', '1', '--print', '--json']):
        p = kvmmu(*args)
        check(f'usage error: {" ".join(args[1:]) or "(nothing)"}', usage_error(p),
              f'exit {p.returncode}: {p.stdout} {p.stderr}')


def test_skip_without_device():
    p = kvmmu('diff', '--device', '/nonexistent/kvm', SEQS[0])
    check('no device: exit 77 (skipped)', p.returncode == SKIP and 'skipped' in p.stderr,
          f'exit {p.returncode}: {p.stdout} {p.stderr}')
    p = kvmmu('diff', '--device', '/nonexistent/kvm', '--random', '1', '--json')
    try:
        doc = json.loads(p.stdout)
        ok = p.returncode == SKIP and isinstance(doc['skipped'], str) and \
            doc['differences'] == 0 and doc['sequences'] == [] and doc['agree'] is False and \
            all(k in doc for k in FIELDS)
    except (json.JSONDecodeError, KeyError) as e:
        ok, doc = False, repr(e)
    check('no device: the JSON document says skipped', ok, str(doc))


def test_print_round_trip():
    p = kvmmu('diff', '--random', '5', '--seed', '7', '--print')
    check('--print writes the generated sequences', p.returncode == 0 and
          p.stdout.count('# random seed 7 #') == 5, p.stderr)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'gen.seq')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(p.stdout)
        q = kvmmu('diff', path, '--print')
        body = [l for l in p.stdout.splitlines() if not l.startswith('#')]
        again = [l for l in q.stdout.splitlines() if not l.startswith('#')]
        check('--print output parses back to the same operations',
              q.returncode == 0 and body == again and len(body) == 5 * 32,
              q.stderr)
    q = kvmmu('diff', '--random', '5', '--seed', '7', '--print')
    check('the same seed generates the same sequences', q.stdout == p.stdout)
    q = kvmmu('diff', '--random', '5', '--seed', '8', '--print')
    check('another seed generates other sequences', q.stdout != p.stdout)


def test_help():
    p = kvmmu('diff', '--help')
    want = ['--random', '--seed', '--ops', '--device', '--mmu', '--address-spaces',
            '--verbose', '--print', '--json',
            '--quiet', '77', 'docs/diff.md']
    missing = [w for w in want if w not in p.stdout]
    check('diff --help names every option and the skip status',
          p.returncode == 0 and not missing, str(missing))
    p = kvmmu('--help')
    check('kvmmu --help lists diff', ' diff ' in p.stdout)


def kvm_usable():
    p = kvmmu('diff', '--quiet', os.path.join(SEQ_DIR, 'caps.seq'))
    if p.returncode == SKIP:
        return p.stderr.strip() or 'no usable /dev/kvm'
    return None


def test_sequences(skip):
    name = f'the {len(SEQS)} committed sequences agree with the host KVM'
    check('at least 40 sequences are committed', len(SEQS) >= 40, str(len(SEQS)))
    if skip:
        check(name, True, skip=skip)
        return
    p = kvmmu('diff', '--json', '--quiet', *SEQS)
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError as e:
        check(name, False, f'exit {p.returncode}: {e}: {p.stderr}')
        return
    diffs = [f'{s["name"]}: {d["op"]}: KVM {d["kvm"]}, kvmmu {d["kvmmu"]}'
             for s in doc['sequences'] for d in s['differences']]
    check(name, p.returncode == 0 and doc['differences'] == 0 and doc['agree'] and
          len(doc['sequences']) == len(SEQS), '\n'.join(diffs) or p.stderr)
    # The sequences reach both sides' success and error paths.
    out = doc['outcomes']
    check('the sequences create slots, fail with -EINVAL and -EEXIST, harvest bitmaps',
          out['region'].get('0', 0) > 0 and out['region'].get('-EINVAL', 0) > 0 and
          out['region'].get('-EEXIST', 0) > 0 and out['get'].get('0', 0) > 0 and
          out['get'].get('-ENOENT', 0) > 0 and out['clear'].get('0', 0) > 0 and
          out['clear'].get('-EINVAL', 0) > 0 and doc['bitmaps_with_bits_set'] > 0, str(out))
    check_config(doc)


def check_config(doc):
    host, mine = doc['host'], doc['kvmmu']
    ok = mine['address_spaces'] == host['address_spaces'] and \
        (mine['mmu'] == 'shadow') == (not host['tdp']) and \
        (not host['tdp'] or mine['phys_bits'] == host['max_gpa_bits']) and \
        (host['tdp'] or host['max_gpa_bits'] == 52)
    check('kvmmu is configured as the host: MMU, MAXPHYADDR, address spaces', ok,
          json.dumps([host, mine]))
    caps = {c['cap']: c for c in doc['caps']}
    matched = ['USER_MEMORY', 'USER_MEMORY2', 'READONLY_MEM', 'NR_MEMSLOTS',
               'MULTI_ADDRESS_SPACE', 'X86_SMM', 'MANUAL_DIRTY_LOG_PROTECT2']
    bad = [c for c in matched if not caps[c]['match']]
    check('the memslot and dirty-log capabilities match the host\'s', not bad,
          json.dumps([caps[c] for c in bad]))


def test_mismatch_is_caught(skip):
    """kvmmu configured unlike the host, on purpose: the comparison must see it."""
    name = 'a kvmmu MMU unlike the host\'s: the max-gpa sequence differs (exit 1)'
    name_as = 'another number of address spaces: the address-space sequence differs (exit 1)'
    if skip:
        check(name, True, skip=skip)
        check(name_as, True, skip=skip)
        return
    seq = os.path.join(SEQ_DIR, 'limits-max-gpa.seq')
    p = kvmmu('diff', '--json', '--quiet', seq)
    doc = json.loads(p.stdout)
    other = 'tdp' if not doc['host']['tdp'] else 'shadow'
    p = kvmmu('diff', '--json', '--quiet', '--mmu', other, seq)
    try:
        doc = json.loads(p.stdout)
        lines = [d['line'] for d in doc['sequences'][0]['differences']]
        ok = p.returncode == 1 and doc['differences'] > 0 and 2 in lines and \
            doc['kvmmu']['matched'] is False and doc['kvmmu']['mmu'] == other and \
            all(d['what'] == 'return' for d in doc['sequences'][0]['differences'])
    except (json.JSONDecodeError, KeyError, IndexError) as e:
        ok, lines = False, repr(e)
    check(name, ok, f'exit {p.returncode}: {lines}: {p.stderr}')
    seq = os.path.join(SEQ_DIR, 'limits-address-spaces.seq')
    other = '2' if doc['host']['address_spaces'] == 1 else '1'
    p = kvmmu('diff', '--quiet', '--address-spaces', other, seq)
    check(name_as, p.returncode == 1 and 'limits-address-spaces.seq:3: region' in p.stdout,
          f'exit {p.returncode}: {p.stdout} {p.stderr}')


def test_random(skip):
    name = f'--random {RANDOM} --seed 1 agrees with the host KVM'
    if skip:
        check(name, True, skip=skip)
        return
    p = kvmmu('diff', '--random', str(RANDOM), '--seed', '1', '--json', '--quiet')
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError as e:
        check(name, False, f'exit {p.returncode}: {e}: {p.stderr}')
        return
    check(name, p.returncode == 0 and doc['differences'] == 0 and
          len(doc['sequences']) == RANDOM and doc['operations'] == 32 * RANDOM,
          p.stderr[-2000:])
    check('the JSON document has every field',
          all(k in doc for k in FIELDS) and doc['seed'] == 1 and doc['skipped'] is None,
          str(list(doc)))


def main():
    tests = [test_usage_errors, test_skip_without_device, test_print_round_trip, test_help]
    for t in tests:
        try:
            t()
        except Exception as e:  # a crash of the test is a failure, not a skip
            check(t.__name__, False, repr(e))
    try:
        skip = kvm_usable()
    except Exception as e:
        skip = None
        check('kvm_usable', False, repr(e))
    for t in (test_sequences, test_mismatch_is_caught, test_random):
        try:
            t(skip)
        except Exception as e:
            check(t.__name__, False, repr(e))
    print(f'1..{len(results)}')
    for i, (name, ok, detail, skip) in enumerate(results, 1):
        if skip:
            print(f'ok {i} - {name} # SKIP {skip}')
            continue
        print(f'{"ok" if ok else "not ok"} {i} - {name}')
        if not ok and detail:
            for line in str(detail).splitlines():
                print(f'# {line}')
    return 0 if all(ok for _, ok, _, _ in results) else 1


if __name__ == '__main__':
    sys.exit(main())
