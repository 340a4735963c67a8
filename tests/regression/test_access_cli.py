#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""kvmmu access: kvm-unit-tests' x86/access.c permission test, from the command line.

Story: a KVM developer changes the shadow MMU's permission handling and runs
`kvmmu access --mmu shadow`; a random sample, each of access.c's six
sub-tests and a few cases whose outcome is known by heart must all match on
every MMU, by the CPU and by KVM's software walker (emulate), in 4- and
5-level guest paging.  The JSON document has the shape the command's help
gives; usage errors are one line on stderr and exit 2.

Known bugs of the models the command found are listed in KNOWN_BUGS: the
checks they break are reported as TODO (they fail without failing the
suite); a case that fails for any other reason fails the suite.  When a bug
is fixed its TODO check passes, which the test log reports as an
unexpected pass: remove the entry then.

Prints TAP.  Usage: test_access_cli.py KVMMU_EXECUTABLE
"""

import json
import os
import subprocess
import sys
import tempfile

KVMMU = os.path.abspath(sys.argv[1])
MMUS = ['tdp', 'tdp-legacy', 'shadow']
SUBTESTS = ['corrupt_hugepage_trigger', 'pfec_on_prefetch_pte', 'large_pte_dirty_for_nowp',
            'smep_andnot_wp', 'toggle_cr0_wp', 'effective_sp_permissions']
FLAGS = ['pte.p', 'pte.w', 'pte.u', 'pte.a', 'pte.d', 'pte.nx', 'pte.bit51',
         'pde.p', 'pde.w', 'pde.u', 'pde.a', 'pde.d', 'pde.ps', 'pde.nx', 'pde.bit51', 'pde.bit13',
         'pdpte.ro', 'pkru.ad', 'pkru.wd', 'pte.pkey1', 'user', 'write', 'fetch', 'twice',
         'efer.nxe', 'cr0.wp', 'cr4.smep', 'cr4.pke', 'emulate']
CASE_KEYS = {'flags': list, 'fault': bool, 'error_code': int, 'pte_before': int,
             'pte_after': int, 'pde_before': int, 'pde_after': int, 'expected': dict,
             'match': bool}

P, W, U, RSVD, ID, PK = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
A, D = 0x20, 0x40

# The protection-key flags: KVM offers PKU to a guest only with TDP.
PKU_FLAGS = {'cr4.pke', 'pkru.ad', 'pkru.wd'}

# Bugs of the models (not of the command), each: the MMUs it shows on, a
# predicate on a failing case's flags, and the sub-tests it breaks.  None
# is known: every check is strict.
KNOWN_BUGS = []

results = []


def kvmmu(*args):
    return subprocess.run([KVMMU, *args], capture_output=True, text=True, check=False,
                          timeout=300)


def check(name, ok, detail='', todo=None):
    results.append((name, ok, detail, todo))


def known_bug(mmu, flags):
    for bug in KNOWN_BUGS:
        if mmu in bug['mmus'] and bug['case'](set(flags)):
            return bug['what']
    return None


def known_subtest_bug(mmu, name):
    for bug in KNOWN_BUGS:
        if mmu in bug['mmus'] and name in bug['subtests']:
            return bug['what']
    return None


def run_json(*args):
    p = kvmmu('access', *args, '--json', '--quiet')
    try:
        return p, json.loads(p.stdout)
    except json.JSONDecodeError as e:
        return p, {'_error': f'{e}; stdout={p.stdout[:200]!r} stderr={p.stderr[-300:]!r}'}


def shape_problems(doc):
    """What is wrong with a document's shape, as a list of strings."""
    bad = []
    for key in ('mmu', 'paging', 'mode', 'seed', 'cases', 'subtests', 'cases_run',
                'subtests_run', 'failures', 'warnings'):
        if key not in doc:
            bad.append(f'missing {key}')
    if bad:
        return bad
    for c in doc['cases'] + [a for s in doc['subtests'] for a in s.get('accesses', [])]:
        for key, typ in CASE_KEYS.items():
            if not isinstance(c.get(key), typ) or (typ is int and isinstance(c[key], bool)):
                bad.append(f'case {c.get("flags")}: {key} is {c.get(key)!r}')
        if any(f not in FLAGS for f in c.get('flags', [])):
            bad.append(f'unknown flag in {c["flags"]}')
        if not c['fault'] and c['error_code']:
            bad.append(f'case {c["flags"]}: an error code without a fault')
    for s in doc['subtests']:
        if not isinstance(s.get('name'), str) or not isinstance(s.get('match'), bool) or \
                not isinstance(s.get('accesses'), list) or not s['accesses']:
            bad.append(f'sub-test {s}')
    counted = sum(not c['match'] for c in doc['cases']) + \
        sum(not s['match'] for s in doc['subtests'])
    if counted != doc['failures']:
        bad.append(f'failures {doc["failures"]} but {counted} cases/sub-tests do not match')
    return bad[:5]


def test_samples():
    """--sample 2000 on every MMU and paging depth: shape, and nothing but known bugs."""
    for mmu in MMUS:
        for paging in ('4', '5'):
            name = f'{mmu}, {paging}-level'
            p, doc = run_json('--mmu', mmu, '--paging', paging, '--sample', '2000', '--seed', '1')
            if '_error' in doc:
                check(f'{name}: --json parses', False, doc['_error'])
                continue
            bad = shape_problems(doc)
            check(f'{name}: the document has its shape', not bad, '\n'.join(bad))
            check(f'{name}: names its run', doc['mmu'] == mmu and doc['paging'] == int(paging)
                  and doc['mode'] == 'sample' and doc['seed'] == 1)
            check(f'{name}: 2000 cases and the six sub-tests ran',
                  doc['cases_run'] == 2000 and len(doc['cases']) == 2000 and
                  doc['subtests_run'] == 6 and [s['name'] for s in doc['subtests']] == SUBTESTS)
            # Without TDP KVM gives the guest no PKU: no key cases, no PK faults.
            want = set(FLAGS) - (PKU_FLAGS if mmu == 'shadow' else set())
            flags = set(f for c in doc['cases'] for f in c['flags'])
            check(f'{name}: the sample covers every flag it can', flags == want,
                  str(want ^ flags))
            kinds = {(c['fault'], c['error_code']) for c in doc['cases']}
            bits = (P, W, U, RSVD, ID) + (() if mmu == 'shadow' else (PK,))
            check(f'{name}: the sample has accesses and each kind of fault',
                  (False, 0) in kinds and all(any(ec & bit for _, ec in kinds)
                                              for bit in bits))
            failing = [c for c in doc['cases'] if not c['match']]
            unknown = [c for c in failing if not known_bug(mmu, c['flags'])]
            unknown_subs = [s['name'] for s in doc['subtests']
                            if not s['match'] and not known_subtest_bug(mmu, s['name'])]
            check(f'{name}: no failure but known bugs', not unknown and not unknown_subs,
                  '\n'.join(' '.join(c['flags']) + f' {c["problem"]}' for c in unknown[:5]) +
                  str(unknown_subs))
            todo = '; '.join(b['what'] for b in KNOWN_BUGS if mmu in b['mmus']) or None
            check(f'{name}: exit 0, failures 0, no WARN',
                  p.returncode == 0 and doc['failures'] == 0 and doc['warnings'] == 0,
                  f'exit {p.returncode}, failures {doc["failures"]}, warnings {doc["warnings"]}',
                  todo=todo)


def test_seed():
    """The same seed draws the same cases; another seed others."""
    _, a = run_json('--sample', '50', '--seed', '3')
    _, b = run_json('--sample', '50', '--seed', '3')
    _, c = run_json('--sample', '50', '--seed', '4')
    fa, fb, fc = ([x['flags'] for x in d.get('cases', [])] for d in (a, b, c))
    check('--seed: the same seed, the same cases', fa and fa == fb)
    check('--seed: another seed, other cases', fa != fc)


def test_subtests():
    """Each of access.c's six sub-tests, alone, on every MMU."""
    for mmu in MMUS:
        for sub in SUBTESTS:
            p, doc = run_json('--mmu', mmu, '--case', sub)
            if '_error' in doc:
                check(f'{sub} ({mmu}): --json parses', False, doc['_error'])
                continue
            ran = doc['subtests_run'] == 1 and doc['cases_run'] == 0 and \
                doc['subtests'][0]['name'] == sub
            check(f'{sub} ({mmu}): runs alone', ran and doc['mode'] == 'cases')
            steps = doc['subtests'][0]['accesses'] if ran else []
            detail = '\n'.join(f'{" ".join(s["flags"])}: fault {s["fault"]} '
                               f'{s["error_code"]:#x}, expected {s["expected"]} '
                               f'{s["problem"]}' for s in steps if not s['match'])
            check(f'{sub} ({mmu}): matches, exit 0',
                  ran and doc['subtests'][0]['match'] and p.returncode == 0, detail,
                  todo=known_subtest_bug(mmu, sub))


# Cases whose outcome follows from the SDM by hand: (flags, fault, error code).
# The upper levels are present, writable and user; every case also runs
# with emulate (KVM's walker), which must give the same.
KNOWN_CASES = [
    ('', True, 0),                                       # PDE not present, a read
    ('pde.p', True, 0),                                  # PTE not present
    ('pde.p pte.p', False, 0),                           # a supervisor read
    ('pde.p pte.p user write', True, P | W | U),         # user write to a supervisor page
    ('pde.p pte.p pde.u pte.u pde.w pte.w user write', False, 0),
    ('pde.p pte.p pde.u pte.u pde.w pte.w pdpte.ro user write', True, P | W | U),
    ('pde.p pte.p write', False, 0),                     # CR0.WP clear: W does not matter
    ('pde.p pte.p write cr0.wp', True, P | W),
    ('pde.p pte.p pte.bit51', True, P | RSVD),           # above MAXPHYADDR 46
    ('pde.p pde.bit51', True, P | RSVD),
    ('pde.p pde.ps pde.bit13 write', True, P | W | RSVD),  # reserved in a 2M PDE
    ('pde.p pte.p pte.nx fetch', True, P | RSVD),        # NX reserved without EFER.NXE; no I/D
    ('pde.p pte.p pte.nx fetch efer.nxe', True, P | ID),
    ('pde.p pte.p pde.u pte.u fetch cr4.smep', True, P | ID),   # SMEP
    ('pde.p pte.p pde.u pte.u user fetch cr4.smep', False, 0),  # SMEP: supervisor only
    ('pde.p pte.p pde.u pte.u pde.w pte.w pte.pkey1 pkru.ad cr4.pke user', True, P | U | PK),
    ('pde.p pte.p pde.u pte.u pde.w pte.w pkru.ad cr4.pke user', False, 0),  # key 0 free
    ('pde.p pte.p pde.u pte.u pde.w pte.w pte.pkey1 pkru.wd cr4.pke write', False, 0),
    ('pde.p pte.p pde.u pte.u pde.w pte.w pte.pkey1 pkru.wd cr4.pke write cr0.wp', True,
     P | W | PK),
    ('pde.p pte.p pde.u pte.u pte.pkey1 pkru.ad cr4.pke fetch', False, 0),  # keys: data only
    ('pde.p pte.p pte.pkey1 pkru.ad cr4.pke', False, 0),  # keys: user pages only
    ('pde.p pte.p pde.u pte.u pte.pkey1 user', False, 0),  # keys off without CR4.PKE
    ('pde.p pde.ps pde.u pde.w pte.pkey1 pkru.wd cr4.pke user write', True, P | W | U | PK),
]


def test_known_cases():
    for mmu in MMUS:
        for flags, fault, ec in KNOWN_CASES:
            if mmu == 'shadow' and set(flags.split()) & PKU_FLAGS:
                p = kvmmu('access', '--mmu', mmu, '--case', flags)
                check(f'--case "{flags}" ({mmu}): keys need PKU, refused with exit 2',
                      p.returncode == 2 and 'PKU' in p.stderr and
                      len(p.stderr.strip().splitlines()) == 1, p.stderr)
                continue
            for emulate in ('', ' emulate'):
                case = flags + emulate
                name = f'--case "{case}" ({mmu})'
                p, doc = run_json('--mmu', mmu, '--case', case)
                if '_error' in doc or len(doc.get('cases', [])) != 1:
                    check(f'{name}: runs', False, doc.get('_error', ''))
                    continue
                c = doc['cases'][0]
                got = (c['fault'], c['error_code'])
                check(f'{name}: {"#PF %#x" % ec if fault else "no fault"}',
                      got == (fault, ec) and c['expected']['fault'] == fault and
                      c['expected']['error_code'] == ec and c['match'] and p.returncode == 0,
                      f'got {got}, expected {c["expected"]}, problem {c["problem"]}')
    # A write that succeeds sets A in the PDE and A|D in the PTE; a fault sets neither.
    p, doc = run_json('--case', 'pde.p pte.p write', '--case', 'pde.p pte.p write cr0.wp')
    ok, wp = doc['cases']
    check('a write sets PDE.A and PTE.A|D',
          ok['pte_after'] == ok['pte_before'] | A | D and ok['pde_after'] == ok['pde_before'] | A,
          str(ok))
    check('a faulting write leaves the PTE as it was', wp['pte_after'] == wp['pte_before'], str(wp))
    # Under a 2M PDE no PTE is on the path.
    p, doc = run_json('--case', 'pde.p pde.ps')
    c = doc['cases'][0]
    check('pde.ps: the PDE is the leaf, no PTE reported',
          c['pte_before'] == 0 and c['pte_after'] == 0 and c['pde_after'] & A and
          c['pde_before'] & 0x80)


def test_text_output():
    p = kvmmu('access', '--case', 'pde.p pte.p user write', '--case', 'pde.p pte.p')
    lines = p.stdout.splitlines()
    check('text: one line per --case and a total',
          p.returncode == 0 and len(lines) == 3 and lines[0].startswith('ok ') and
          '#PF 0x7 (P|W|U)' in lines[0] and 'no fault' in lines[1] and
          lines[2].startswith('access: 2 cases and 0 sub-tests on tdp') and
          '0 failures' in lines[2], p.stdout)
    p = kvmmu('access', '--sample', '20', '--quiet')
    check('text: a sample prints its total', p.returncode in (0, 1) and
          'access: 20 cases and 6 sub-tests on tdp, 4-level guest paging' in p.stdout,
          p.stdout[-300:])


def test_json_to_file():
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'a.json')
        p = kvmmu('access', '--case', 'pde.p', f'--json={out}')
        with open(out, encoding='utf-8') as f:
            doc = json.load(f)
        check('--json=FILE: the document in FILE, the summary on stdout',
              p.returncode == 0 and doc['cases_run'] == 1 and doc['seed'] is None and
              'access: 1 case' in p.stdout)


def test_usage_errors():
    bad = [
        (['--case', 'pte.p bogus'], "unknown flag 'bogus'"),
        (['--case', 'pde.p pte.p write fetch'], 'pick one'),
        (['--case', 'pde.p pde.bit13'], 'needs'),
        (['--case', 'corrupt_hugepage_trigger pte.p'], 'without flags'),
        (['--mmu', 'ept'], "unknown MMU 'ept'"),
        (['--paging', '3'], '--paging is 4 or 5'),
        (['--sample', '0'], '--sample'),
        (['--sample', 'many'], '--sample'),
        (['--seed', '-1'], '--seed'),
        (['--exhaustive', '--sample', '5'], '--exhaustive'),
        (['--case', 'pde.p', '--seed', '3'], '--case'),
        (['--nope'], "unknown option '--nope'"),
        (['extra'], "unexpected argument 'extra'"),
    ]
    for args, want in bad:
        p = kvmmu('access', *args)
        check(f'usage: {" ".join(args)}',
              p.returncode == 2 and p.stderr.startswith('kvmmu: ') and want in p.stderr and
              p.stderr.count('\n') == 1 and not p.stdout,
              f'exit {p.returncode}, stderr {p.stderr!r}')


def test_help():
    p = kvmmu('access', '--help')
    want = ['--mmu', '--paging', '--sample', '--seed', '--exhaustive', '--case', '--json',
            '--quiet'] + FLAGS + SUBTESTS
    missing = [w for w in want if w not in p.stdout]
    check('access --help names every option, flag and sub-test',
          p.returncode == 0 and not missing, str(missing))
    p = kvmmu('--help')
    check('kvmmu --help lists access', ' access ' in p.stdout)


def main():
    for t in (test_samples, test_seed, test_subtests, test_known_cases, test_text_output,
              test_json_to_file, test_usage_errors, test_help):
        try:
            t()
        except Exception as e:  # a crash of the test is a failure, not a skip
            check(t.__name__, False, repr(e))
    print(f'1..{len(results)}')
    for i, (name, ok, detail, todo) in enumerate(results, 1):
        print(f'{"ok" if ok else "not ok"} {i} - {name}' + (f' # TODO {todo}' if todo else ''))
        if not ok and detail:
            for line in str(detail).splitlines():
                print(f'# {line}')
    return 0 if all(ok or todo for _, ok, _, todo in results) else 1


if __name__ == '__main__':
    sys.exit(main())
