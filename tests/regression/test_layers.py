#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The layer check passes on the tree and fails on each kind of breach.

Story: the core (src/kvm, src/mmu) must never reach the host model, the
hardware model, the checkers, the scheduler or the CLI, and no driver may
build a VM, a host or a simulated machine except through the world layer.  Per-directory
include paths stop "host_mm.h"; they do not stop "../host/host_mm.h", which
the compiler resolves beside the including file.  scripts/check-layers.py
must catch both, and an angle-bracket reach into src/, on a copy of the tree.

Prints TAP.  Usage: test_layers.py SOURCE_ROOT
"""

import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(sys.argv[1])
CHECK = os.path.join(ROOT, 'scripts', 'check-layers.py')


def run_check(root):
    res = subprocess.run([sys.executable, CHECK, '--root', root],
                         capture_output=True, text=True, check=False)
    return res.returncode, res.stderr


def tree_copy(tmp):
    dst = os.path.join(tmp, 'tree')
    shutil.copytree(os.path.join(ROOT, 'src'), os.path.join(dst, 'src'))
    shutil.copytree(os.path.join(ROOT, 'bench'), os.path.join(dst, 'bench'))
    return dst


def inject(root, layer, text, header=None):
    """Add a file to src/<layer> that includes @text (or, if @text is code, holds it);
    optionally create @header."""
    if header:
        hpath = os.path.join(root, 'src', header)
        os.makedirs(os.path.dirname(hpath), exist_ok=True)
        with open(hpath, 'w', encoding='utf-8') as f:
            f.write('/* a header of another layer */\n')
    path = os.path.join(root, 'src', layer, 'breach.c')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text + '\n' if text.endswith(';') else f'#include {text}\n')


CASES = [
    ('the tree as it is is clean', None, None, None, 0, None),
    ('mmu includes ../host/ relatively', 'mmu', '"../host/host_mm.h"',
     'host/host_mm.h', 1, 'which mmu/ may not include'),
    ('mmu includes a host header by bare name', 'mmu', '"host_mm.h"',
     'host/host_mm.h', 1, 'which mmu/ may not include'),
    ('kvm includes the hardware model', 'kvm', '"../hw/hw_tlb.h"',
     'hw/hw_tlb.h', 1, 'which kvm/ may not include'),
    ('hw includes the MMU software SPTE format', 'hw', '"../mmu/spte.h"',
     'mmu/spte.h', 1, 'which hw/ may not include'),
    ('compat includes the scheduler', 'compat', '"sched_ctl.h"',
     None, 1, 'which compat/ may not include'),
    ('an angle-bracket reach into src/', 'mmu', '<host/host_mm.h>',
     'host/host_mm.h', 1, 'reaches into src/'),
    ('a path include instead of a bare name', 'mmu', '"mmu/other.h"',
     None, 1, 'include layer headers by bare name'),
    ('a workload builds its own VM', 'workload', 'int r = kvmmu_vm_create(&cfg, &kvm);',
     None, 1, 'kvmmu_vm_create() outside the world layer'),
    ('a scenario builds its own host', 'scenario', 'r = host_phys_create(&pcfg, &phys);',
     None, 1, 'host_phys_create() outside the world layer'),
    ('the world layer builds the VM', 'world', 'int r = kvmmu_vm_create(&cfg, &kvm);',
     None, 0, None),
]


def main():
    print(f'1..{len(CASES)}')
    failed = 0
    for i, (name, layer, text, header, want_rc, want_msg) in enumerate(CASES, 1):
        with tempfile.TemporaryDirectory() as tmp:
            root = tree_copy(tmp)
            if layer:
                inject(root, layer, text, header)
            rc, err = run_check(root)
        ok = rc == want_rc and (want_msg is None or want_msg in err)
        if not ok:
            failed += 1
            print(f'not ok {i} - {name}')
            print(f'# exit {rc}, wanted {want_rc}; stderr: {err.strip()}')
        else:
            print(f'ok {i} - {name}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
