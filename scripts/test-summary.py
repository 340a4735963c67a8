#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Summarise a meson test log as kvmmu's final line.

Counts test cases, from the TAP each test program prints.  A program that
printed no TAP counts as one case.  A program whose run failed (crash,
sanitizer report, timeout) while its TAP shows no failure counts one more
failure, and cases its TAP plan announced but never reported count as
failed.  Prints the failing cases, then "N passed, N failed[, N skipped]".
"""

import json
import re
import sys

RESULT_RE = re.compile(r'^(not ok|ok)\b(.*)$')
PLAN_RE = re.compile(r'^1\.\.(\d+)')


def summarise(path):
    passed = failed = skipped = 0
    failures = []
    try:
        lines = open(path, encoding='utf-8').read().splitlines()
    except OSError as e:
        print(f'test-summary: {e}', file=sys.stderr)
        return 0, 1, 0, ['no test log']
    for line in lines:
        t = json.loads(line)
        name = t['name']
        plan = None
        seen = p = f = s = 0
        for out in (t.get('stdout') or '').splitlines():
            m = PLAN_RE.match(out)
            if m and plan is None:
                plan = int(m.group(1))
                continue
            m = RESULT_RE.match(out)
            if not m:
                continue
            seen += 1
            if '# SKIP' in m.group(2).upper():
                s += 1
            elif m.group(1) == 'ok':
                p += 1
            else:
                f += 1
                failures.append(f'{name}:{m.group(2)}')
        ok_run = t['result'] in ('OK', 'SKIP', 'EXPECTEDFAIL')
        if seen == 0:
            if t['result'] == 'SKIP':
                s = 1
            elif ok_run:
                p = 1
            else:
                f = 1
                failures.append(f'{name}: {t["result"]}')
        else:
            if plan is not None and seen < plan:
                f += plan - seen
                failures.append(f'{name}: {plan - seen} case(s) never reported ({t["result"]})')
            elif not ok_run and f == 0:
                f += 1
                failures.append(f'{name}: program {t["result"]} (exit {t.get("returncode")})')
        passed += p
        failed += f
        skipped += s
    return passed, failed, skipped, failures


def main():
    passed, failed, skipped, failures = summarise(sys.argv[1])
    for f in failures:
        print(f'FAILED {f}')
    line = f'{passed} passed, {failed} failed'
    if skipped:
        line += f', {skipped} skipped'
    print(line)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
