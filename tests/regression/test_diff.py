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

Guest writes (tests/diff/write-*.seq) are compared only where the host runs
the stub guest; elsewhere the command skips those sequences, and so does
this test.  kvmmu's side of them is checked on its own with --self, which
needs no KVM: the dirty pages each GET reports and each store's exit.

Prints TAP.  Usage: test_diff.py KVMMU_EXECUTABLE SEQUENCE_DIR
"""

import glob
import json
import os
import re
import subprocess
import sys
import tempfile

KVMMU = os.path.abspath(sys.argv[1])
SEQ_DIR = os.path.abspath(sys.argv[2])
SEQS = sorted(glob.glob(os.path.join(SEQ_DIR, '*.seq')))
WRITE_SEQS = sorted(glob.glob(os.path.join(SEQ_DIR, 'write-*.seq')))
SCALE = os.environ.get('KVMMU_SCALE', 'ci')
RANDOM = {'reduced': 200, 'ci': 1000, 'full': 5000}.get(SCALE, 1000)
SKIP = 77
FIELDS = ('skipped', 'host', 'kvmmu', 'caps', 'guest_writes', 'seed', 'sequences', 'outcomes',
          'bitmaps_with_bits_set', 'operations', 'sequences_skipped', 'differences',
          'config_differences', 'agree')

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
            'write without a gpa': 'write\n',
            'write with a key': 'write gpa=0x1000\n',
            'write unaligned': 'write 0x1004\n',
            'write a bad gpa': 'write 1Q\n',
            'write NRSLOTS': 'write NRSLOTS\n',
            'write 17 gpas': 'write' + ' 0x1000' * 17 + '\n',
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
                 ['diff', '--random', '1', '--print', '--json'],
                 ['diff', '--random', '1', '--self', '--json'],
                 ['diff', '--random', '1', '--self', '--print'],
                 ['diff', '--random', '1', '--self', '--device', '/dev/null']):
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


def test_print_writes():
    p = kvmmu('diff', '--random', '20', '--seed', '7', '--print')
    q = kvmmu('diff', '--random', '20', '--seed', '7', '--print', '--no-guest')
    a, b = p.stdout.splitlines(), q.stdout.splitlines()
    writes = [l for l in a if l.startswith('write ')]
    check('--print generates writes; --no-guest none',
          p.returncode == 0 and q.returncode == 0 and len(writes) > 0 and
          not any(l.startswith('write') for l in b), f'{len(writes)} writes: {q.stderr}')
    # Writes take the place of other operations; the rest are the same either way.
    check('with or without writes, the other generated operations are the same',
          len(a) == len(b) and all(x == y or x.startswith('write ') for x, y in zip(a, b)),
          '\n'.join(f'{x} | {y}' for x, y in zip(a, b) if x != y and
                    not x.startswith('write '))[:2000])


# kvmmu's results for the committed write sequences, from --self (no KVM):
# line -> the result as printed, or a prefix of it ending in '...'.
SELF_EXPECT = {
    'write-dirty-log.seq': {
        6: '0 (stored stored stored stored stored)', 7: '0 (dirty: 0 3 127)',
        8: '0 (dirty: none)', 10: '0 (dirty: 3)', 12: '0 (dirty: 3 4)', 14: '-ENOENT',
        15: '0 (stored stored)', 16: '-ENOENT'},
    'write-manual-clear.seq': {
        7: '0 (dirty: 0 1 2)', 9: '0 (dirty: 0 1 2)', 11: '0 (dirty: none)',
        13: '0 (dirty: 2 3)', 15: '0 (dirty: 3)', 17: '0 (dirty: 2 3)', 20: '0 (dirty: 63)'},
    'write-initially-set.seq': {
        5: '0 (stored stored)', 6: '0 (dirty: 0 1 2 3 4 5 6 7 8 9 10 ...',
        8: '0 (dirty: 0 1 2 3 4 5 6 7 16 17 ...', 10: '0 (dirty: 0 1 2 3 4 5 6 7 9 16 17 ...'},
    'write-readonly.seq': {
        6: '0 (mmio stored mmio mmio)', 7: '0 (dirty: none)', 8: '0 (dirty: 0)',
        11: '0 (stored mmio)', 12: '0 (dirty: 1)', 13: '0 (dirty: none)'},
    'write-no-slot.seq': {
        6: '0 (mmio mmio mmio mmio stored)', 7: '0 (dirty: 2)',
        8: '0 (beyond-maxphyaddr stored ...', 9: '0 (dirty: 3)', 11: '0 (mmio)',
        13: '0 (dirty: none)'},
    'write-move-delete.seq': {
        7: '0 (dirty: 1 2)', 8: '0 (mmio stored)', 9: '0 (dirty: 3)', 13: '0 (dirty: none)',
        15: '0 (dirty: 5)', 17: '0 (mmio)', 18: '-ENOENT', 20: '0 (dirty: none)',
        22: '0 (dirty: 0)'},
}


def self_results(out):
    """{(file, line): result} from --self's lines 'FILE:LINE: OP: RESULT'."""
    got = {}
    for line in out.splitlines():
        m = re.match(r'^([^:]+):(\d+): (.*?): (.*)$', line)
        if m:
            got[(m.group(1), int(m.group(2)))] = m.group(4)
    return got


def test_self():
    """kvmmu's side of guest writes on its own, on each MMU: no /dev/kvm needed."""
    for mmu in ('shadow', 'tdp', 'tdp-legacy'):
        p = kvmmu('diff', '--self', '--quiet', '--mmu', mmu, *WRITE_SEQS)
        got = self_results(p.stdout)
        bad = []
        for name, lines in SELF_EXPECT.items():
            for line, want in lines.items():
                have = got.get((name, line))
                ok = have is not None and (have.startswith(want[:-3]) if
                                           want.endswith('...') else have == want)
                if not ok:
                    bad.append(f'{name}:{line}: want {want}, got {have}')
        check(f'--self --mmu {mmu}: kvmmu\'s stores and dirty pages are as KVM documents',
              p.returncode == 0 and not bad and set(SELF_EXPECT) <= {n for n, _ in got},
              '\n'.join(bad) or f'exit {p.returncode}: {p.stderr}')
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'unmapped.seq')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('region slot=0 gpa=1G size=4K uaddr=0x7ffffffff000-4K\n'
                    'write 1G+8\n'
                    'region slot=1 gpa=2G size=8K flags=LOG_DIRTY_PAGES\n'
                    'write 2G+8 2G+4K\n'
                    'get slot=1\n')
        p = kvmmu('diff', '--self', '--quiet', '--mmu', 'shadow', path)
        got = self_results(p.stdout)
        check('--self: a store to a slot with no memory behind it: KVM_RUN -EFAULT',
              got.get(('unmapped.seq', 2)) == '-EFAULT (not-run)' and
              got.get(('unmapped.seq', 4)) == '0 (stored stored)' and
              got.get(('unmapped.seq', 5)) == '0 (dirty: 0 1)', p.stdout + p.stderr)
    p = kvmmu('diff', '--self', '--no-guest', *WRITE_SEQS)
    check('--self --no-guest: every sequence writes, all skipped: exit 77',
          p.returncode == SKIP and p.stdout.count(': skipped: ') == len(WRITE_SEQS),
          f'exit {p.returncode}: {p.stdout} {p.stderr}')


def test_help():
    p = kvmmu('diff', '--help')
    want = ['--random', '--seed', '--ops', '--device', '--mmu', '--address-spaces',
            '--verbose', '--print', '--no-guest', '--self', '--json',
            '--quiet', '77', 'docs/diff.md', 'guest writes', 'skipped']
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
    check(f'at least 4 committed sequences write', len(WRITE_SEQS) >= 4, str(len(WRITE_SEQS)))
    check_write_sequences(doc)
    # The sequences reach both sides' success and error paths.
    out = doc['outcomes']
    check('the sequences create slots, fail with -EINVAL and -EEXIST, harvest bitmaps',
          out['region'].get('0', 0) > 0 and out['region'].get('-EINVAL', 0) > 0 and
          out['region'].get('-EEXIST', 0) > 0 and out['get'].get('0', 0) > 0 and
          out['get'].get('-ENOENT', 0) > 0 and out['clear'].get('0', 0) > 0 and
          out['clear'].get('-EINVAL', 0) > 0 and doc['bitmaps_with_bits_set'] > 0, str(out))
    check_config(doc)


def check_write_sequences(doc):
    """Compared where the host runs the stub; reported skipped, not passed, elsewhere."""
    name = f'the {len(WRITE_SEQS)} write sequences are compared with the host and agree'
    by_name = {s['name']: s for s in doc['sequences']}
    mine = [by_name.get(os.path.basename(w)) for w in WRITE_SEQS]
    if doc['guest_writes']['stub'] is None:
        why = doc['guest_writes']['why']
        check('the host runs no stub: the write sequences are reported skipped',
              all(s and isinstance(s['skipped'], str) and not s['differences'] for s in mine)
              and doc['sequences_skipped'] == len(WRITE_SEQS), json.dumps(mine)[:2000])
        check(name, True, skip=f'guest writes not compared on this host: {why}')
        return
    out = doc['outcomes'].get('write', {})
    check(name, all(s and s['skipped'] is None and not s['differences'] for s in mine) and
          doc['sequences_skipped'] == 0 and out.get('stored', 0) > 0 and
          out.get('mmio', 0) > 0 and out.get('beyond-maxphyaddr', 0) > 0,
          json.dumps([doc['guest_writes'], out, mine])[:2000])


def test_no_guest(skip):
    """A host that runs no stub, made with --no-guest: writes skipped, the rest run."""
    name = '--no-guest: the write sequences are skipped, the others run and agree'
    name77 = '--no-guest: nothing but write sequences: exit 77, a line for each'
    if skip:
        check(name, True, skip=skip)
        check(name77, True, skip=skip)
        return
    p = kvmmu('diff', '--json', '--quiet', '--no-guest', *SEQS)
    try:
        doc = json.loads(p.stdout)
        skipped = [s['name'] for s in doc['sequences'] if s['skipped'] is not None]
        ran = [s for s in doc['sequences'] if s['skipped'] is None]
        ok = p.returncode == 0 and doc['agree'] and doc['differences'] == 0 and \
            sorted(skipped) == sorted(os.path.basename(w) for w in WRITE_SEQS) and \
            doc['sequences_skipped'] == len(WRITE_SEQS) and \
            len(ran) == len(SEQS) - len(WRITE_SEQS) and \
            doc['guest_writes'] == {'stub': None, 'why': '--no-guest'} and \
            not doc['outcomes']['write'] and all(k in doc for k in FIELDS)
        detail = f'exit {p.returncode}: {skipped} {doc["guest_writes"]}'
    except (json.JSONDecodeError, KeyError) as e:
        ok, detail = False, f'exit {p.returncode}: {e!r}: {p.stderr}'
    check(name, ok, detail)
    p = kvmmu('diff', '--no-guest', *WRITE_SEQS)
    lines = [l for l in p.stdout.splitlines() if ': skipped: it writes' in l]
    check(name77, p.returncode == SKIP and len(lines) == len(WRITE_SEQS) and
          f'{len(WRITE_SEQS)} sequences skipped' in p.stdout,
          f'exit {p.returncode}: {p.stdout} {p.stderr}')


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
    writes = doc['outcomes'].get('write', {})
    if doc['guest_writes']['stub'] is None:
        check('--random: no writes where the host runs no stub, nothing skipped',
              not writes and doc['sequences_skipped'] == 0, str(writes))
    else:
        check('--random: writes, compared, some stored and some MMIO',
              writes.get('stored', 0) > 0 and writes.get('mmio', 0) > 0 and
              doc['sequences_skipped'] == 0, str(writes))
    check('the JSON document has every field',
          all(k in doc for k in FIELDS) and doc['seed'] == 1 and doc['skipped'] is None,
          str(list(doc)))


def main():
    tests = [test_usage_errors, test_skip_without_device, test_print_round_trip,
             test_print_writes, test_self, test_help]
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
    for t in (test_sequences, test_no_guest, test_mismatch_is_caught, test_random):
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
