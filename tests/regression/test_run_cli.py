#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""kvmmu run: every workload from the command line, its JSON, its trace, its errors;
and, for every command that writes files, a bad output path refused before any work.

Story: scripts read `kvmmu run --json` and people open `--trace` files in
Perfetto; a document that does not parse, a field that is missing, or a bad
option that crashes instead of saying what is wrong each breaks a user.  The
contract (section 1 and 2) fixes the shapes: the run document has workload,
mmu, config, metrics, stats, violations and warnings; usage errors are one
line on stderr and exit 2; a clean run exits 0.

Prints TAP.  Usage: test_run_cli.py KVMMU_EXECUTABLE
"""

import json
import re
import os
import subprocess
import sys
import tempfile

KVMMU = os.path.abspath(sys.argv[1])
WORKLOADS = ['demand-paging', 'dirty-log', 'access-tracking', 'memslot-modification',
             'memslot-perf', 'mmu-stress', 'guest-kernel']
SMALL = {
    'memslot-perf': ['--mem-per-vcpu', '8M', '--slots', '8', '--iterations', '2'],
    'memslot-modification': ['--vcpus', '2', '--mem-per-vcpu', '4M', '--iterations', '2'],
    'guest-kernel': ['--vcpus', '2', '--mem-per-vcpu', '2M', '--iterations', '2', '--ops', '300'],
}

results = []


def kvmmu(*args):
    return subprocess.run([KVMMU, *args], capture_output=True, text=True, check=False,
                          timeout=600)


def check(name, ok, detail=''):
    results.append((name, ok, detail))


def small(workload):
    return SMALL.get(workload, ['--vcpus', '2', '--mem-per-vcpu', '4M'])


def test_json_of_every_workload(mmu='tdp'):
    for w in WORKLOADS:
        p = kvmmu('run', w, *small(w), '--mmu', mmu, '--json', '--quiet')
        try:
            doc = json.loads(p.stdout)
        except json.JSONDecodeError as e:
            check(f'{w} ({mmu}): --json parses', False, f'{e}; stdout={p.stdout[:200]!r}')
            continue
        missing = [k for k in ('workload', 'mmu', 'config', 'metrics', 'stats', 'violations',
                               'warnings') if k not in doc]
        check(f'{w} ({mmu}): exit 0', p.returncode == 0, p.stderr[-300:])
        check(f'{w} ({mmu}): every field present', not missing, f'missing {missing}')
        check(f'{w} ({mmu}): names itself', doc.get('workload') == w and doc.get('mmu') == mmu)
        check(f'{w} ({mmu}): clean', doc.get('violations') == [] and doc.get('warnings') == 0,
              str(doc.get('violations'))[:300])
        check(f'{w} ({mmu}): KVM stats by name', isinstance(doc['stats'].get('pf_fixed'), int)
              and doc['stats']['pf_fixed'] > 0)
        nums = all(isinstance(v, (int, float)) for v in doc['metrics'].values())
        check(f'{w} ({mmu}): metrics are numbers', nums and len(doc['metrics']) > 1)
        # With --json on stdout, the selftest lines go to stderr.
        check(f'{w} ({mmu}): human lines on stderr', '---' in p.stderr)


def test_every_workload_on_tdp_legacy():
    """tdp_mmu=0: the shadow MMU's direct pages run every workload, clean."""
    test_json_of_every_workload('tdp-legacy')


def test_every_workload_on_shadow():
    """ept=0: shadow paging of the guests' own tables runs every workload, clean."""
    test_json_of_every_workload('shadow')


def test_guest_paging_modes():
    """--guest-paging 2..5: mmu-stress remaps the guest's own tables under every MMU, clean."""
    for mmu in ('shadow', 'tdp', 'tdp-legacy'):
        for gp in ('2', '3', '4', '5'):
            p = kvmmu('run', 'mmu-stress', '--vcpus', '2', '--mem-per-vcpu', '8M', '--mmu', mmu,
                      '--guest-paging', gp, '--json', '--quiet')
            name = f'mmu-stress --mmu {mmu} --guest-paging {gp}'
            try:
                doc = json.loads(p.stdout)
            except json.JSONDecodeError as e:
                check(f'{name}: --json parses', False, f'{e}; stderr={p.stderr[-300:]!r}')
                continue
            check(f'{name}: clean', p.returncode == 0 and doc.get('violations') == []
                  and doc.get('warnings') == 0 and not doc.get('failure'), p.stderr[-300:])
            check(f'{name}: the config says so', doc['config'].get('guest_paging') == int(gp))
            # 2 vCPUs x 8M: 2 (4M) or 4 (2M) large pages each, remapped in each of 3 passes.
            want = 2 * 3 * (2 if gp == '2' else 4)
            check(f'{name}: the guest rewrote its page directory',
                  doc['metrics'].get('guest_pde_writes') == want,
                  str(doc['metrics'].get('guest_pde_writes')))
    p = kvmmu('run', 'demand-paging', '--mmu', 'shadow', '--guest-paging', '2', '--mem-per-vcpu',
              '4G', '--quiet')
    check('--guest-paging 2 above 4G: usage error', p.returncode == 2 and '4G' in p.stderr,
          p.stderr[-300:])
    p = kvmmu('run', '--guest-paging', '6')
    check('--guest-paging 6: usage error', p.returncode == 2, p.stderr[-300:])


def test_guest_kernel():
    """guest-kernel: its lines, its options in the config, nested, and its refusals."""
    for extra in ([], ['--nested'], ['--nested', '--mmu', 'tdp-legacy', '--guest-paging', '3']):
        args = ['run', 'guest-kernel', '--vcpus', '2', '--processes', '3', '--process-pages',
                '16', '--ops', '200', '--iterations', '2', *extra, '--json', '--quiet']
        p = kvmmu(*args)
        name = ' '.join(['guest-kernel', *extra])
        try:
            doc = json.loads(p.stdout)
        except json.JSONDecodeError as e:
            check(f'{name}: --json parses', False, f'{e}; stderr={p.stderr[-300:]!r}')
            continue
        check(f'{name}: clean', p.returncode == 0 and doc.get('violations') == []
              and doc.get('warnings') == 0 and not doc.get('failure'), p.stderr[-300:])
        cfg = doc['config']
        check(f'{name}: its options in the config', cfg.get('processes') == 3 and
              cfg.get('process_pages') == 16 and cfg.get('ops') == 200, str(cfg))
        m = doc['metrics']
        check(f'{name}: switches, PTE writes, COW faults', m.get('context_switches_per_s', 0) > 0
              and m.get('pte_writes_per_s', 0) > 0 and m.get('cow_faults', 0) > 0, str(m)[:300])
        want = ['Testing guest kernels: ', 'Round 1 time: ', 'Context switches: ', 'PTE writes: ',
                'INVLPGs: ', 'Data integrity: ', 'all as written', 'KVM: mmu_pte_write=']
        missing = [w for w in want if w not in p.stderr]
        check(f'{name}: prints its lines', not missing, f'missing {missing}')
        if extra:
            check(f'{name}: in L2, L1 unmapped freed frames', m.get('l1_invepts', 0) > 0 and
                  'L2' in p.stderr, str(m)[:300])
    p = kvmmu('run', 'demand-paging', '--processes', '2', '--quiet')
    check('--processes elsewhere: usage error', p.returncode == 2 and 'guest-kernel' in p.stderr,
          p.stderr[-300:])
    p = kvmmu('run', 'guest-kernel', '--mem-per-vcpu', '64K', '--quiet')
    check('guest-kernel too small: usage error', p.returncode == 2 and 'mem-per-vcpu' in p.stderr,
          p.stderr[-300:])
    p = kvmmu('run', '--help')
    check('--help documents guest-kernel\'s options', all(o in p.stdout for o in
          ('--processes', '--process-pages', '--ops')), p.stdout[-300:])


def test_many_iterations():
    """dirty-log: iterations beyond those with their own figures still run clean."""
    p = kvmmu('run', 'dirty-log', '--mem-per-vcpu', '1M', '--iterations', '20', '--json', '--quiet')
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError:
        doc = {}
    m = doc.get('metrics', {})
    check('dirty-log --iterations 20: clean, totals over all, 8 with their own figures',
          p.returncode == 0 and doc.get('warnings') == 0 and 'dirty_memory_total_s' in m
          and 'iteration_8_get_s' in m and 'iteration_9_get_s' not in m
          and 'Iteration 20 clear dirty log time' in p.stderr, p.stderr[-300:])


def test_progress_rate_eta():
    """--progress: a line a second with how far the passes are, the rate and the ETA."""
    # Sized for about six seconds on this build (sanitizers are 5-50x slower).
    p = kvmmu('run', 'demand-paging', '--vcpus', '2', '--mem-per-vcpu', '256M', '--tag-mode',
              '--check', 'none', '--quiet', '--json')
    try:
        t = max(json.loads(p.stdout)['metrics']['total_s'], 0.01)
    except (json.JSONDecodeError, KeyError):
        t = 0.1
    mb = min(16384, max(256, int(256 * 6.0 / t)))
    p = kvmmu('run', 'demand-paging', '--vcpus', '2', '--mem-per-vcpu', f'{mb}M', '--tag-mode',
              '--check', 'none', '--progress')
    lines = [l for l in p.stderr.splitlines() if l.startswith('demand-paging: populate, pass ')]
    ok = p.returncode == 0 and any(re.search(r'pass \d+%, [0-9.e+]+M accesses/s, pass ETA \d', l)
                                   for l in lines)
    check('run --progress: pass %, accesses/s and ETA on stderr', ok, p.stderr[-400:])
    p = kvmmu('run', 'demand-paging', '--vcpus', '2', '--mem-per-vcpu', '256M', '--tag-mode',
              '--check', 'none', '--progress', '--quiet')
    check('run --progress --quiet: quiet wins', p.returncode == 0 and 'accesses/s' not in p.stderr,
          p.stderr[-300:])


def test_selftest_lines():
    p = kvmmu('run', 'dirty-log', '--mem-per-vcpu', '4M', '--quiet')
    want = ['Populate memory time: ', 'Enabling dirty logging time: ',
            'Iteration 1 dirty memory time: ', 'Iteration 2 get dirty log time: ',
            'Iteration 2 clear dirty log time: ', 'Disabling dirty logging time: ',
            'Get dirty log over 2 iterations took ', 'Clear dirty log over 2 iterations took ']
    missing = [w for w in want if w not in p.stdout]
    check('dirty-log prints the selftest lines', p.returncode == 0 and not missing,
          f'missing {missing}')
    p = kvmmu('run', 'demand-paging', '--mem-per-vcpu', '4M', '--quiet')
    check('demand-paging prints its rates', 'Overall demand paging rate: ' in p.stdout and
          'pgs/sec' in p.stdout)


def test_trace_of_mmu_stress():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 't.json')
        p = kvmmu('run', 'mmu-stress', '--vcpus', '2', '--mem-per-vcpu', '4M', '--quiet',
                  f'--trace={path}')
        check('mmu-stress --trace runs clean', p.returncode == 0, p.stderr[-300:])
        try:
            with open(path, encoding='utf-8') as f:
                doc = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            check('mmu-stress trace parses', False, str(e))
            return
        events = doc.get('traceEvents', [])
        check('mmu-stress trace parses', isinstance(events, list) and len(events) > 0)
        bad = [e for e in events if not all(k in e for k in ('ph', 'ts', 'pid', 'tid'))]
        check('every event has ph, ts, pid, tid', not bad, str(bad[:2]))
        names = {e.get('name') for e in events}
        check('faults, zaps and notifier spans are there',
              {'fault', 'notifier invalidate'} <= names, str(sorted(n for n in names if n)))
        tracks = {e['args']['name'] for e in events if e.get('ph') == 'M'}
        check('a named track per vCPU', {'vcpu0', 'vcpu1'} <= tracks, str(sorted(tracks)))
        depth = {}
        ok = True
        for e in events:
            if e.get('ph') == 'B':
                depth[e['tid']] = depth.get(e['tid'], 0) + 1
            elif e.get('ph') == 'E':
                depth[e['tid']] = depth.get(e['tid'], 0) - 1
                ok &= depth[e['tid']] >= 0
        check('spans balance per thread', ok and all(v == 0 for v in depth.values()))


def test_usage_errors():
    cases = [
        (['run', 'no-such-workload'], 'unknown workload'),
        (['run', 'demand-paging', '--mem-per-vcpu', '12Q'], 'bad size'),
        (['run', 'demand-paging', '--mem-per-vcpu', '3M', '--backing', 'hugetlb-2m'],
         'multiple of 2M'),
        (['run', 'demand-paging', '--mmu', 'ept'], 'unknown MMU'),
        (['scenario', 'fault-vs-host', '--mmu', 'ept'], 'unknown MMU'),
        (['scenario', 'pml-dirty-vs-zap', '--mmu', 'shadow'], 'PML'),
        (['run', 'dirty-log', '--iterations', '1'], 'iterations >= 2'),
        (['run', 'demand-paging', '--vcpus', '0'], '--vcpus'),
        (['run', 'demand-paging', '--backing', 'floppy'], 'unknown backing'),
        (['run', 'demand-paging', '--check', 'nope'], 'unknown checker'),
        (['run', 'demand-paging', '--bogus'], 'unknown option'),
        (['run', 'demand-paging', '--trace='], 'needs a FILE'),
        (['run', 'demand-paging', '--mem-per-vcpu', '128G'], 'tag-mode'),
        (['run', 'demand-paging', '--counters', '2^64'], 'unknown --counters'),
        (['run', 'demand-paging', '--yield-every', '-1'], '--yield-every'),
        (['scenario', 'fault-vs-host', '--counters', 'huge'], 'unknown --counters'),
        (['scenario', 'fault-vs-host', '--yield-every', 'x'], '--yield-every'),
    ]
    for args, text in cases:
        p = kvmmu(*args)
        lines = p.stderr.strip().splitlines()
        check(f'{" ".join(args[1:])}: exit 2, one line saying "{text}"',
              p.returncode == 2 and len(lines) == 1 and text in lines[0],
              f'rc={p.returncode} stderr={p.stderr[-200:]!r}')


def test_bad_output_paths():
    """Every output path is checked before any work: exit 2 at once, one line, no output."""
    token = json.loads(kvmmu('scenario', 'notifier-vs-fast-zap', '--inject',
                             'notifier-skips-invalid-roots', '--seed', '1', '--quiet',
                             '--json').stdout)['violation']['replay']
    bad = '/nonexistent/kvmmu/out.json'
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            ['run', 'demand-paging', '--mem-per-vcpu', '1G', f'--json={bad}'],
            ['run', 'demand-paging', '--mem-per-vcpu', '1G', f'--trace={bad}'],
            ['run', 'demand-paging', '--mem-per-vcpu', '1G', f'--json={tmp}'],
            ['run', f'--trace={bad}'],
            ['scenario', 'fault-vs-host', '--schedules', '1000000', f'--json={bad}'],
            ['scenario', 'fault-vs-host', '--schedules', '1000000', f'--trace={bad}'],
            ['replay', token, f'--json={bad}'],
            ['replay', token, f'--trace={bad}'],
            ['bench', f'--json={bad}'],
        ]
        for args in cases:
            opt, path = args[-1].split('=')
            name = f'{args[0]} {args[1] if args[1][0] != "-" else ""} {opt} {path}'
            try:
                p = subprocess.run([KVMMU, *args], capture_output=True, text=True,
                                   check=False, timeout=60)
            except subprocess.TimeoutExpired:
                check(f'{name}: exits at once', False, 'still running after 60 s')
                continue
            lines = p.stderr.strip().splitlines()
            check(f'{name}: exit 2 at once, one line, nothing run',
                  p.returncode == 2 and len(lines) == 1 and path in lines[0]
                  and p.stdout == '', f'rc={p.returncode} stderr={p.stderr[-300:]!r} '
                  f'stdout={p.stdout[:200]!r}')
        # A bad token is refused before the outputs are created.
        out = os.path.join(tmp, 'replay.json')
        p = kvmmu('replay', 'kvmmu1.nope', f'--json={out}')
        check('replay: a bad token creates no output file',
              p.returncode == 2 and 'not a replay token' in p.stderr and not os.path.exists(out),
              p.stderr[-200:])


def test_help():
    p = kvmmu('run', '--help')
    opts = ['--vcpus', '--mem-per-vcpu', '--slots', '--backing', '--write-percent', '--random',
            '--iterations', '--seed', '--mmu', '--guest-paging', '--tag-mode', '--yield-every', '--counters',
            '--check', '--inject', '--json', '--trace', '--quiet']
    missing = [o for o in opts if o not in p.stdout]
    check('run --help names every option', p.returncode == 0 and not missing, str(missing))


def test_bench_options():
    """kvmmu bench --mmu: the help names it, a bad MMU is a usage error (the run is make bench's)."""
    p = kvmmu('bench', '--help')
    check('bench --help names --mmu', p.returncode == 0 and '--mmu' in p.stdout, p.stdout[-300:])
    p = kvmmu('bench', '--mmu', 'ept')
    check('bench --mmu ept: usage error', p.returncode == 2 and 'mmu' in p.stderr, p.stderr[-300:])
    p = kvmmu('bench', '--filter', 'fault_4k,nope')
    check('bench --filter with an unknown name: usage error naming the figures',
          p.returncode == 2 and 'cr3_switch' in p.stderr, p.stderr[-300:])
    p = kvmmu('bench', '--repeat', '0')
    check('bench --repeat 0: usage error', p.returncode == 2, p.stderr[-300:])
    p = kvmmu('bench', '--filter', 'cr3_switch', '--repeat', '2', '--json', '--quiet')
    try:
        doc = json.loads(p.stdout)
        runs = [(b['name'], b['run']) for b in doc['benchmarks']]
    except (json.JSONDecodeError, KeyError) as e:
        doc, runs = None, repr(e)
    check('bench --filter cr3_switch --repeat 2: that figure, twice',
          p.returncode == 0 and doc and doc['repeat'] == 2
          and runs == [('cr3_switch', 1), ('cr3_switch', 2)], str(runs))


def test_list_names_workloads():
    p = kvmmu('list', '--json')
    doc = json.loads(p.stdout)
    names = [w['name'] for w in doc['workloads']]
    check('list --json names every workload', names == WORKLOADS, str(names))


def test_checks_in_the_config():
    """The config names the checkers the figures paid for: every one, some, or none."""
    every = [c['name'] for c in json.loads(kvmmu('list', '--json').stdout)['checkers']]
    for arg, want in (('all', every), ('none', []), ('coherence,dirty-log-completeness',
                                                     ['coherence', 'dirty-log-completeness'])):
        p = kvmmu('run', 'demand-paging', *small('demand-paging'), '--check', arg, '--json',
                  '--quiet')
        try:
            got = json.loads(p.stdout)['config'].get('checks')
        except (json.JSONDecodeError, KeyError) as e:
            got = repr(e)
        check(f'--check {arg}: config.checks', p.returncode == 0 and got == want, str(got))


def main():
    for t in (test_json_of_every_workload, test_checks_in_the_config, test_every_workload_on_tdp_legacy,
              test_every_workload_on_shadow, test_guest_paging_modes, test_guest_kernel,
              test_selftest_lines, test_many_iterations, test_progress_rate_eta,
              test_trace_of_mmu_stress,
              test_usage_errors, test_bad_output_paths, test_help, test_bench_options,
              test_list_names_workloads):
        try:
            t()
        except Exception as e:  # a crash of the test is a failure, not a skip
            check(t.__name__, False, repr(e))
    print(f'1..{len(results)}')
    for i, (name, ok, detail) in enumerate(results, 1):
        print(f'{"ok" if ok else "not ok"} {i} - {name}')
        if not ok and detail:
            for line in str(detail).splitlines():
                print(f'# {line}')
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == '__main__':
    sys.exit(main())
