#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Every violation token replays exactly, in a fresh process.

Story: `kvmmu scenario dirty-log-fast-pf --inject=fast-pf-no-dirty-log
--seed 3` reported a violation in schedule 0 whose token, given to `kvmmu
replay`, ran a schedule with another event hash and no violation, every
time.  The run had numbered its events from where the calibration schedule
before it had stopped; the replay, in a fresh process, from 0; and the
dirty-log checker read the event index 0 as "never protected".  So the
same schedule was judged differently depending on what the process had
run before.  Now every checked run numbers its events from 0, and a
checker never reads an index as a flag.

For every mutant of `kvmmu list`, with each seed and both strategies, the
first violation is found by `kvmmu scenario` and its token is replayed by
`kvmmu replay` in another process: the same event hash, and the same
violation (checker, invariant, description, thread, gfn, pfn, event index).

Prints TAP.  Usage: test_replay.py KVMMU_EXECUTABLE (KVMMU_SCALE: reduced
one seed and PCT only, ci seeds 1..3, full seeds 1..10).
"""

import json
import os
import subprocess
import sys

KVMMU = os.path.abspath(sys.argv[1])
SCALE = os.environ.get('KVMMU_SCALE', 'ci')
SEEDS = {'reduced': [1], 'ci': [1, 2, 3], 'full': list(range(1, 11))}[SCALE]
STRATEGIES = ['pct'] if SCALE == 'reduced' else ['pct', 'random']
FIELDS = ('checker', 'invariant', 'description', 'thread', 'gfn', 'pfn', 'event_index')


# Mutants whose teardown leaks by design (tables it never reaches, pages made
# under an obsolete parent): a LeakSanitizer build must not turn that into a
# crash of the command.
LEAKY = {'max-gfn-round-down', 'no-retry-special-root'}


def kvmmu_json(*args, leaky=False):
    env = dict(os.environ, ASAN_OPTIONS='detect_leaks=0') if leaky else None
    p = subprocess.run([KVMMU, *args, '--quiet', '--json'], capture_output=True, text=True,
                       check=False, timeout=900, env=env)
    return p.returncode, json.loads(p.stdout) if p.stdout.strip() else None, p.stderr


def main():
    mutants = kvmmu_json('list')[1]['mutants']
    results = []
    for m in mutants:
        for strategy in STRATEGIES:
            for seed in SEEDS:
                name = f'{m["name"]} in {m["scenario"]}, {strategy}, seed {seed}'
                leaky = m['name'] in LEAKY
                rc, doc, err = kvmmu_json('scenario', m['scenario'], '--inject', m['name'],
                                          '--strategy', strategy, '--seed', str(seed),
                                          '--schedules', '2000', leaky=leaky)
                found = doc and doc['violation']
                if rc != 1 or not found:
                    results.append((name, False, f'not found: rc={rc} {err[-200:]}'))
                    continue
                rc2, again, err2 = kvmmu_json('replay', found['replay'], leaky=leaky)
                got = again and again['violation']
                if not got:
                    results.append((name, False, f'replay found nothing: rc={rc2} '
                                    f'hash {again and again.get("event_hash")} {err2[-200:]}'))
                    continue
                diff = [f'{k}: {found[k]!r} != {got[k]!r}' for k in FIELDS + ('event_hash',)
                        if found[k] != got[k]]
                results.append((name, rc2 == 1 and not diff, '; '.join(diff)))
    print(f'1..{len(results)}')
    for i, (name, ok, detail) in enumerate(results, 1):
        print(f'{"ok" if ok else "not ok"} {i} - {name}: the token replays exactly')
        if not ok and detail:
            print(f'# {detail}')
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == '__main__':
    sys.exit(main())
