#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Sharded scenario runs add up to the unsharded run; long runs stop cleanly.

Story: a search of a million schedules is spread over machines with
`kvmmu scenario NAME --shard I/M` and put back together with `kvmmu merge`.
If a shard ran another schedule than the unsharded run has at that index
(another seed, another PCT k), or merge counted a shard twice or missed one,
a clean merged result would claim schedules nobody ran, and a violation's
token would not replay.  And a run of a million schedules stopped with
Ctrl-C must not lose what it ran: it finishes the schedule in progress,
writes its JSON marked "complete": false, and exits within a second.

Checked here:
  - 4 shards of a clean run: disjoint index sets whose union is the whole,
    and a merged document equal to the unsharded one (schedules run, their
    digest, no violation), exit 0;
  - 4 shards of a mutant's run: the merged first violation is the unsharded
    run's (schedule, token, event hash, description), and its token replays
    alone in a fresh process;
  - kvmmu merge reports a missing, a duplicated and an interrupted shard
    (exit 2, the document still written), and refuses bad files and files
    of another run with one line on stderr (exit 2, nothing on stdout);
  - --shard I/M out of range or malformed is a usage error;
  - SIGINT (and SIGTERM) during --schedules 1000000, and SIGINT during
    kvmmu run workloads of a million rounds: exit within a second,
    130 (143), with valid JSON marked incomplete; progress on stderr only
    with --progress (stderr is no terminal here).  "Within a second" is
    measured in the CPU time the program spends from the signal to its
    exit, which a loaded machine does not stretch; the wall time, which
    it does, only has to stay under 10 seconds.

Prints TAP.  Usage: test_shard.py KVMMU_EXECUTABLE (KVMMU_SCALE: reduced
runs fewer schedules and the mutant whose first violation comes earliest).
"""

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

KVMMU = os.path.abspath(sys.argv[1])
SCALE = os.environ.get('KVMMU_SCALE', 'ci')
CLEAN = ('fault-vs-host', 20 if SCALE == 'reduced' else 200)
# Found at schedule 131 (ci) or 8 (reduced) with seed 1: past the first
# round of four shards, so the shard that finds it is not shard 0 by luck.
MUTANT = (('table-free-vs-walker', 'free-table-without-grace') if SCALE == 'reduced' else
          ('notifier-vs-fast-zap', 'notifier-skips-invalid-roots'))
VFIELDS = ('invariant', 'checker', 'description', 'thread', 'gfn', 'pfn', 'event_index',
           'replay', 'schedule_index', 'event_hash')

results = []


def check(name, ok, detail=''):
    results.append((name, bool(ok), detail))


def kvmmu(*args):
    return subprocess.run([KVMMU, *args], capture_output=True, text=True, check=False,
                          timeout=300)


def load(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def one_line_error(p):
    return p.returncode == 2 and not p.stdout and p.stderr.count('\n') == 1 and \
        p.stderr.startswith('kvmmu: ')


def run_shards(tmp, tag, args, m):
    """The unsharded run and its m shards, each with --json=FILE."""
    whole = os.path.join(tmp, f'{tag}-all.json')
    p = kvmmu('scenario', *args, '--json=' + whole)
    files = []
    rcs = []
    for i in range(m):
        f = os.path.join(tmp, f'{tag}-{i}.json')
        q = kvmmu('scenario', *args, '--shard', f'{i}/{m}', '--json=' + f)
        rcs.append(q.returncode)
        files.append(f)
    return p, whole, files, rcs


def test_clean(tmp):
    name, n = CLEAN
    args = [name, '--schedules', str(n), '--seed', '2']
    p, whole, files, rcs = run_shards(tmp, 'clean', args, 4)
    check('clean: the unsharded run exits 0 with nothing on stderr',
          p.returncode == 0 and not p.stderr, p.stderr[-300:])
    check('clean: every shard exits 0', rcs == [0] * 4, str(rcs))
    a = load(whole)
    docs = [load(f) for f in files]
    indices = []
    for i, d in enumerate(docs):
        s = d['shard']
        mine = list(range(i, n, 4))
        ok = (s['index'] == i and s['count'] == 4 and s['first'] == i and s['stride'] == 4
              and s['schedules'] == len(mine) and s['last'] == mine[-1]
              and d['schedules_run'] == len(mine) and d['complete'] is True
              and d['interrupted'] is None and d['seed'] == 2 and d['schedules'] == n)
        check(f'clean: shard {i}/4 says it ran indices {i}, {i + 4}, ... {mine[-1]}', ok,
              json.dumps(s))
        indices += range(s['first'], s['last'] + 1, s['stride'])
    check('clean: the shards are disjoint and cover every schedule',
          sorted(indices) == list(range(n)))
    check('clean: the unsharded document says shard 0/1, complete',
          a['shard'] == {'index': 0, 'count': 1, 'first': 0, 'stride': 1, 'last': n - 1,
                         'schedules': n} and a['complete'] is True, json.dumps(a['shard']))
    q = kvmmu('merge', *reversed(files), '--json')
    check('clean: merge exits 0, its summary on stderr', q.returncode == 0 and q.stderr,
          q.stderr[-300:])
    m = json.loads(q.stdout)
    check('clean: merged = unsharded: schedules run, their digest, no violation',
          m['schedules_run'] == a['schedules_run'] == n
          and m['schedules_digest'] == a['schedules_digest']
          and m['violation'] is None and a['violation'] is None and m['violations'] == [],
          f'{m["schedules_run"]} {m["schedules_digest"]} / {a["schedules_run"]} '
          f'{a["schedules_digest"]}')
    check('clean: merged set is whole',
          m['complete'] is True and m['shards'] == {'count': 4, 'present': [0, 1, 2, 3],
                                                    'missing': [], 'duplicated': [],
                                                    'incomplete': []}
          and m['prefix_run'] == n, json.dumps(m['shards']))
    check('clean: merged keeps the run\'s identity',
          all(m[k] == a[k] for k in ('scenario', 'mutants', 'strategy', 'seed', 'depth',
                                     'checks', 'build', 'schedules')))
    check('clean: an exploration rate',
          m['schedules_per_s'] > 0 and m['aggregate_schedules_per_s'] >= m['schedules_per_s']
          and m['elapsed_s'] >= m['wall_s'] > 0)
    return files, a


def test_mutant(tmp):
    scn, mutant = MUTANT
    args = [scn, '--inject', mutant, '--seed', '1', '--schedules', '2000']
    p, whole, files, rcs = run_shards(tmp, 'mutant', args, 4)
    a = load(whole)
    found = a['violation']
    check('mutant: the unsharded run finds it (exit 1)', p.returncode == 1 and found,
          p.stderr[-300:])
    if not found:
        return
    check('mutant: a shard that holds no earlier violation finds it too',
          rcs[found['schedule_index'] % 4] == 1, str(rcs))
    q = kvmmu('merge', *files, '--json')
    m = json.loads(q.stdout) if q.stdout else {}
    got = m.get('violation') or {}
    diff = [f'{k}: {found[k]!r} != {got.get(k)!r}' for k in VFIELDS if found[k] != got.get(k)]
    check('mutant: merge exits 1', q.returncode == 1, q.stderr[-300:])
    check('mutant: the merged first violation is the unsharded run\'s', not diff,
          '; '.join(diff))
    check('mutant: it comes from the shard its index names',
          got.get('shard') == found['schedule_index'] % 4)
    check('mutant: every schedule before it ran',
          m.get('prefix_run', 0) > found['schedule_index'], str(m.get('prefix_run')))
    idx = [v['schedule_index'] for v in m.get('violations', [])]
    check('mutant: each shard\'s violation is listed, first first',
          idx == sorted(idx) and len(idx) == sum(rc == 1 for rc in rcs), str(idx))
    r = kvmmu('replay', got.get('replay', ''), '--json')
    again = json.loads(r.stdout) if r.stdout else {}
    v = again.get('violation') or {}
    check('mutant: the merged token replays alone, same event hash',
          r.returncode == 1 and v.get('event_hash') == found['event_hash'],
          f'rc={r.returncode} {r.stderr[-200:]}')


def test_merge_set(tmp, files, whole):
    q = kvmmu('merge', files[0], files[1], files[3], '--json')
    m = json.loads(q.stdout) if q.stdout else {}
    check('merge: a missing shard: exit 2, reported, document still written',
          q.returncode == 2 and m.get('complete') is False
          and m['shards']['missing'] == [2] and m['shards']['present'] == [0, 1, 3]
          and 'missing 2' in q.stderr, q.stderr[-300:])
    check('merge: a missing shard bounds what is known to have run',
          m.get('prefix_run') == 2, str(m.get('prefix_run')))
    q = kvmmu('merge', *files, files[1], '--json')
    m = json.loads(q.stdout) if q.stdout else {}
    check('merge: a duplicated shard: exit 2, reported, counted once',
          q.returncode == 2 and m['shards']['duplicated'] == [1]
          and m['schedules_run'] == whole['schedules_run'] and 'given twice 1' in q.stderr,
          q.stderr[-300:])
    q = kvmmu('merge', files[0])
    check('merge: one shard of four alone: exit 2, summary on stdout',
          q.returncode == 2 and '1 of 4 shards' in q.stdout and 'missing 1, 2, 3' in q.stderr,
          q.stdout + q.stderr)


def test_merge_bad_files(tmp, files):
    def write(name, text):
        path = os.path.join(tmp, name)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)
        return path

    doc = load(files[0])
    other_seed = dict(doc, seed=doc['seed'] + 1)
    other_count = dict(doc, shard=dict(doc['shard'], count=8, stride=8))
    bad_shard = dict(doc, shard=dict(doc['shard'], index=7))
    cases = {
        'a file that does not exist': [os.path.join(tmp, 'nonexistent.json')],
        'a file that is not JSON': [write('text.json', 'fault-vs-host: no violation\n')],
        'truncated JSON': [write('cut.json', json.dumps(doc)[:-20])],
        'JSON that is no scenario document': [write('list.json', '[1, 2, 3]\n')],
        'a document without its shard': [write('noshard.json', json.dumps(
            {k: v for k, v in doc.items() if k != 'shard'}))],
        'a shard index beyond its count': [write('badshard.json', json.dumps(bad_shard))],
        'files of another seed': [files[0], write('seed.json', json.dumps(other_seed))],
        'files of another shard count': [files[0], write('count.json', json.dumps(other_count))],
        'a directory': [tmp],
    }
    for what, args in cases.items():
        q = kvmmu('merge', *args)
        check(f'merge: {what}: one line on stderr, exit 2', one_line_error(q),
              f'rc={q.returncode} stdout={q.stdout[:100]!r} stderr={q.stderr[:300]!r}')
    q = kvmmu('merge')
    check('merge: no file: one line on stderr, exit 2', one_line_error(q), q.stderr)
    q = kvmmu('merge', *files, '--json=/nonexistent/kvmmu/merged.json')
    check('merge: a --json path that cannot be written: one line on stderr, exit 2',
          one_line_error(q) and '/nonexistent/kvmmu/merged.json' in q.stderr, q.stderr)
    q = kvmmu('merge', *files, '--frobnicate')
    check('merge: an unknown option: one line on stderr, exit 2', one_line_error(q), q.stderr)


def test_shard_usage():
    for bad in ('4/4', '5/4', '0/0', '1', 'a/b', '-1/4', '1/4x', '/4', '1/', '1/-4',
                '99999999999999999999/4'):
        q = kvmmu('scenario', CLEAN[0], '--shard', bad, '--schedules', '4')
        check(f'scenario --shard {bad}: one line on stderr, exit 2', one_line_error(q),
              f'rc={q.returncode} {q.stderr[:200]!r}')


def test_more_shards_than_schedules(tmp):
    files = []
    for i in range(6):
        f = os.path.join(tmp, f'tiny-{i}.json')
        q = kvmmu('scenario', CLEAN[0], '--schedules', '3', '--shard', f'{i}/6', '--json=' + f)
        files.append(f)
    empty = load(files[5])
    check('6 shards of 3 schedules: the empty ones run none',
          empty['schedules_run'] == 0 and empty['shard']['last'] is None
          and empty['shard']['schedules'] == 0 and empty['complete'] is True)
    q = kvmmu('merge', *files, '--json')
    m = json.loads(q.stdout) if q.stdout else {}
    a = json.loads(kvmmu('scenario', CLEAN[0], '--schedules', '3', '--json').stdout)
    check('6 shards of 3 schedules: merged = unsharded',
          q.returncode == 0 and m['schedules_run'] == 3
          and m['schedules_digest'] == a['schedules_digest'], q.stderr[-200:])


def cpu_seconds(pid):
    """User + system time of a live process so far, from /proc (0: it is gone)."""
    try:
        with open(f'/proc/{pid}/stat', encoding='ascii') as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def interrupt(sig, progress, args=None, after=3):
    """Start a run of a million schedules, signal it once it runs, time its exit.

    Returns the exit status, the wall time and the CPU time from the signal
    to the exit, stdout, the first stderr line (with progress) and the rest.
    The CPU time is what the program itself spends stopping; the wall time
    also counts how long a loaded machine keeps it waiting for a CPU.
    """
    args = [KVMMU, *(args or ['scenario', CLEAN[0], '--schedules', '1000000']), '--json']
    if progress:
        args.append('--progress')
    # stderr to a file: a workload's selftest lines would fill a pipe.
    err = tempfile.TemporaryFile(mode='w+')
    p = subprocess.Popen(args, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE if progress else err, text=True)
    first = ''
    if progress:
        # The first progress line comes once the run has lasted 2 seconds.
        ready, _, _ = select.select([p.stderr], [], [], 30)
        first = p.stderr.readline() if ready else ''
    else:
        time.sleep(after)
    cpu0 = cpu_seconds(p.pid)
    t0 = time.monotonic()
    p.send_signal(sig)
    # What it writes is small: the pipes hold it until it has exited.
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    p.returncode = os.waitstatus_to_exitcode(status)
    out = p.stdout.read()
    if progress:
        rest = p.stderr.read()
    else:
        err.seek(0)
        rest = err.read()
    err.close()
    return p.returncode, wall, cpu, out, first, rest


def exits_in_time(name, wall, cpu):
    check(f'{name}: exits within a second (its own CPU time; wall time under 10 s on a '
          'loaded machine)', cpu < 1.0 and wall < 10.0, f'cpu {cpu:.3f} s, wall {wall:.3f} s')


def test_interrupt(tmp):
    rc, wall, cpu, out, first, rest = interrupt(signal.SIGINT, True)
    exits_in_time('SIGINT', wall, cpu)
    check('SIGINT: exit status 130', rc == 130, str(rc))
    try:
        doc = json.loads(out)
    except json.JSONDecodeError as e:
        check('SIGINT: valid JSON on stdout', False, f'{e}: {out[:200]!r}')
        return
    check('SIGINT: the JSON is marked incomplete', doc['complete'] is False
          and doc['interrupted'] == 'SIGINT', json.dumps(doc)[:300])
    check('SIGINT: it says what ran', 0 < doc['schedules_run'] < 1000000
          and doc['shard']['last'] == doc['schedules_run'] - 1, str(doc['schedules_run']))
    check('--progress: a line with rate and ETA on stderr', '/s, ETA ' in first
          and 'schedule ' in first, repr(first))
    check('SIGINT: the summary says it was interrupted', 'interrupted (SIGINT)' in rest,
          rest[-300:])
    path = os.path.join(tmp, 'interrupted.json')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(out)
    q = kvmmu('merge', path, '--json')
    m = json.loads(q.stdout) if q.stdout else {}
    check('merge: an interrupted shard: exit 2, reported as stopped early',
          q.returncode == 2 and m['shards']['incomplete'] == [0] and m['complete'] is False
          and m['prefix_run'] == doc['schedules_run'], q.stderr[-300:])

    rc, wall, cpu, out, _, rest = interrupt(signal.SIGTERM, False)
    doc = json.loads(out) if out.strip() else {}
    exits_in_time('SIGTERM', wall, cpu)
    check('SIGTERM: exit status 143, JSON marked incomplete',
          rc == 143 and doc.get('complete') is False and doc.get('interrupted') == 'SIGTERM',
          f'rc={rc}')
    check('no --progress, no terminal: no progress lines after 3 s',
          'ETA' not in rest, rest[:300])


def test_interrupt_workloads():
    """kvmmu run winds down as after a violation and still writes its document."""
    for args in (['guest-kernel', '--vcpus', '2', '--iterations', '1000000'],
                 ['memslot-modification', '--mem-per-vcpu', '4M', '--iterations', '1000000']):
        rc, wall, cpu, out, _, rest = interrupt(signal.SIGINT, False, ['run', *args], 1.5)
        name = f'run {args[0]}: SIGINT'
        exits_in_time(name, wall, cpu)
        try:
            doc = json.loads(out)
        except json.JSONDecodeError as e:
            check(f'{name}: valid JSON on stdout', False, f'{e}: {out[:200]!r} {rest[-300:]}')
            continue
        check(f'{name}: exit 130, JSON marked incomplete, clean',
              rc == 130 and doc['complete'] is False and doc['interrupted'] == 'SIGINT'
              and doc['violations'] == [] and doc['warnings'] == 0 and doc['failure'] is None,
              f'rc={rc} {json.dumps(doc)[-300:]}')
        check(f'{name}: the summary says so', 'interrupted (SIGINT)' in rest, rest[-300:])


def main():
    with tempfile.TemporaryDirectory() as tmp:
        files, whole = test_clean(tmp)
        test_mutant(tmp)
        test_merge_set(tmp, files, whole)
        test_merge_bad_files(tmp, files)
        test_shard_usage()
        test_more_shards_than_schedules(tmp)
        test_interrupt(tmp)
    test_interrupt_workloads()
    print(f'1..{len(results)}')
    for i, (name, ok, detail) in enumerate(results, 1):
        print(f'{"ok" if ok else "not ok"} {i} - {name}')
        if not ok and detail:
            print(f'# {detail}')
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == '__main__':
    sys.exit(main())
