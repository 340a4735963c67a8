#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""kvmmu scenario/replay --trace=FILE writes Chrome trace-event JSON.

Story: a trace is only useful if Perfetto and chrome://tracing load it.
Both want one JSON document whose events all carry ph, ts, pid and tid, and
read "B"/"E" pairs as a stack per thread, so an unbalanced or crossed pair
draws the wrong slices.  The scenario runner's threads emit spans and
notifier invalidations concurrently (freely, with --strategy free); the
trace must stay one valid document with a named track per thread, and
tracing a schedule must not change it (same event hash on replay).

Prints TAP.  Usage: test_trace_json.py KVMMU_EXECUTABLE
"""

import json
import os
import re
import subprocess
import sys
import tempfile

KVMMU = os.path.abspath(sys.argv[1])


def kvmmu(*args):
    return subprocess.run([KVMMU, *args], capture_output=True, text=True, check=False,
                          timeout=300)


def load(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def check_events(doc):
    """Problems with a trace document's shape, as a list of strings."""
    problems = []
    if not isinstance(doc, dict) or not isinstance(doc.get('traceEvents'), list):
        return ['no traceEvents list']
    if doc.get('displayTimeUnit') != 'ns':
        problems.append(f'displayTimeUnit is {doc.get("displayTimeUnit")!r}')
    stacks, named, last_ts = {}, {}, 0.0
    for i, ev in enumerate(doc['traceEvents']):
        missing = [k for k in ('ph', 'ts', 'pid', 'tid', 'name') if k not in ev]
        if missing:
            problems.append(f'event {i} lacks {missing}: {ev}')
            continue
        if ev['pid'] != 1 or not isinstance(ev['tid'], int):
            problems.append(f'event {i}: pid/tid {ev["pid"]}/{ev["tid"]}')
        if not isinstance(ev['ts'], (int, float)) or ev['ts'] < last_ts:
            problems.append(f'event {i}: ts {ev["ts"]} after {last_ts}')
        else:
            last_ts = ev['ts']
        tid, ph = ev['tid'], ev['ph']
        if ph == 'M':
            if ev['name'] == 'thread_name':
                if tid in named or tid in stacks:
                    problems.append(f'event {i}: thread {tid} named twice or late')
                named[tid] = ev['args']['name']
            continue
        if tid not in named:
            problems.append(f'event {i}: thread {tid} has no thread_name before it')
        stack = stacks.setdefault(tid, [])
        if ph == 'B':
            stack.append(ev['name'])
        elif ph == 'E':
            if not stack:
                problems.append(f'event {i}: E {ev["name"]} on thread {tid} with nothing open')
            elif stack.pop() != ev['name']:
                problems.append(f'event {i}: E {ev["name"]} on thread {tid} crosses a span')
        elif ph == 'i':
            if ev.get('s') != 't':
                problems.append(f'event {i}: instant without thread scope')
        else:
            problems.append(f'event {i}: unexpected phase {ph}')
    for tid, stack in stacks.items():
        if stack:
            problems.append(f'thread {tid} ends with {stack} open')
    return problems


def spans(doc, name):
    return [e for e in doc['traceEvents'] if e['ph'] == 'B' and e['name'] == name]


def case_scenario(tmp):
    path = os.path.join(tmp, 'fault-vs-host.json')
    res = kvmmu('scenario', 'fault-vs-host', '--schedules', '3', '--quiet', f'--trace={path}')
    if res.returncode != 0:
        return [f'exit {res.returncode}: {res.stderr.strip()}']
    doc = load(path)
    problems = check_events(doc)
    faults = spans(doc, 'fault')
    if not faults:
        problems.append('no fault spans')
    elif not all(re.fullmatch(r'0x[0-9a-f]+', f.get('args', {}).get('gpa', '')) for f in faults):
        problems.append(f'a fault span without a hex gpa: {faults[0]}')
    notifiers = spans(doc, 'notifier invalidate')
    if not notifiers or not all({'start', 'end', 'event'} <= set(n['args']) for n in notifiers):
        problems.append('no notifier invalidate spans with their range')
    names = {e['args']['name'] for e in doc['traceEvents'] if e['name'] == 'thread_name'}
    if not {'vcpu0', 'host'} <= names:
        problems.append(f'thread names {sorted(names)}')
    return problems


def case_free_threads(tmp):
    path = os.path.join(tmp, 'free.json')
    res = kvmmu('scenario', 'fault-vs-host', '--schedules', '20', '--strategy', 'free',
                '--quiet', f'--trace={path}')
    if res.returncode != 0:
        return [f'exit {res.returncode}: {res.stderr.strip()}']
    doc = load(path)
    problems = check_events(doc)
    if len(spans(doc, 'fault')) < 20:
        problems.append(f'only {len(spans(doc, "fault"))} faults in 20 schedules')
    return problems


def event_hash(out):
    m = re.search(r'event hash ([0-9a-f]{16})', out)
    return m.group(1) if m else None


def case_violation_and_replay(tmp):
    path = os.path.join(tmp, 'violation.json')
    res = kvmmu('scenario', 'nx-recovery-vs-fault', '--inject', 'zap-without-freeze',
                '--quiet', f'--trace={path}')
    if res.returncode != 1:
        return [f'scenario exit {res.returncode}, wanted 1: {res.stderr.strip()}']
    token = re.search(r'kvmmu replay (\S+)', res.stdout)
    if not token:
        return [f'no replay token in {res.stdout!r}']
    doc = load(path)
    problems = check_events(doc)
    marks = [e for e in doc['traceEvents'] if e['ph'] == 'i' and e['name'] == 'violation']
    if len(marks) != 1 or not marks[0]['args']['detail'].startswith('I27 '):
        problems.append(f'violation instants {marks}')

    plain = kvmmu('replay', token.group(1))
    rpath = os.path.join(tmp, 'replay.json')
    traced = kvmmu('replay', token.group(1), f'--trace={rpath}')
    if plain.returncode != 1 or traced.returncode != 1:
        problems.append(f'replay exits {plain.returncode}, {traced.returncode}')
    if event_hash(plain.stdout) is None or event_hash(plain.stdout) != event_hash(traced.stdout):
        problems.append(f'tracing changed the schedule: {plain.stdout!r} vs {traced.stdout!r}')
    doc = load(rpath)
    problems += check_events(doc)
    if not spans(doc, 'fault'):
        problems.append('replay trace has no fault spans')
    if not [e for e in doc['traceEvents'] if e['name'] == 'violation']:
        problems.append('replay trace has no violation instant')
    return problems


def case_usage_errors(tmp):
    problems = []
    for args in (['scenario', 'fault-vs-host', '--trace='],
                 ['scenario', 'fault-vs-host', '--trace', os.path.join(tmp, 'no', 'dir.json')],
                 ['replay', 'not-a-token', '--trace=']):
        res = kvmmu(*args)
        lines = res.stderr.strip().splitlines()
        if res.returncode != 2 or len(lines) != 1 or 'trace' not in lines[0]:
            problems.append(f'{args}: exit {res.returncode}, stderr {res.stderr!r}')
    return problems


CASES = [
    ('scenario --trace: valid, balanced, named tracks, fault and notifier spans',
     case_scenario),
    ('free-running threads write one valid, balanced trace', case_free_threads),
    ('a violation is an instant; replay traces the same schedule', case_violation_and_replay),
    ('a bad --trace is a one-line usage error', case_usage_errors),
]


def main():
    print(f'1..{len(CASES)}')
    failed = 0
    for i, (name, fn) in enumerate(CASES, 1):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                problems = fn(tmp)
            except (OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
                problems = [f'{type(e).__name__}: {e}']
        if problems:
            failed += 1
            print(f'not ok {i} - {name}')
            for p in problems[:10]:
                print(f'# {p}')
        else:
            print(f'ok {i} - {name}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
