#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Write the seed corpus of fuzz_api_seq: one input per scenario shape and
per workload shape (kvmmu list), each the sequential analogue of its
threads, and for the races, their threads as parallel blocks under a few
schedules, in the encoding of fuzz/api_seq.h.

Usage: gen_corpus.py OUT_DIR    (fuzz/corpus/fuzz_api_seq in the tree)

The output is a pure function of this file: re-run it after changing the
encoding or a shape, and commit the result.
"""
import os
import struct
import sys

KB, MB, GB = 1 << 10, 1 << 20, 1 << 30
PAGE = 4096

# enum api_op (fuzz/api_seq.c), in order.
(SLOT_SET, SLOT_DELETE, SLOT_MOVE, SLOT_FLAGS, GET_DIRTY_LOG, CLEAR_DIRTY_LOG,
 RING_RESET, ACCESS, ACCESS_RANGE, PRE_FAULT, NX_RECOVERY, HOST_MUNMAP,
 HOST_MPROTECT, HOST_MIGRATE, HOST_SWAP_OUT, HOST_THP_SPLIT, HOST_THP_COLLAPSE,
 HOST_DONTNEED, HOST_RECLAIM, HOST_AGING, ENABLE_CAP, SET_NR_MMU_PAGES,
 VMM_ACCESS, CLEAN_PASS, PARALLEL) = range(25)

LOAD, STORE, FETCH, STOS = range(4)
TDP, TDP_LEGACY, SHADOW = range(3)
ANON, THP, SHARED, SHARED_THP, HUGETLB_2M, PFNMAP = range(6)
SZ_64K, SZ_2M, SZ_4M, SZ_16K = range(4)
LOG_DIRTY, READONLY = 1, 2


def header(mmu=TDP, npt=False, level5=False, ad_off=False, pml=False, nx=False,
           no_split=False, counters=0, yields=0, manual=False, init_set=False,
           quirk_off=False, ring=0, vcpus=1, phys=0, paging=None, top=False,
           r0=(ANON, SZ_64K), r0_slots=1, r0_log=False, r0_ro=False, populate=False,
           r1=(ANON, SZ_16K), r1_slots=1, r1_log=False, no_r1=False, seed=0):
    """The 8 header bytes; phys: index into (46, 39, 43, 48, 52, 36);
    yields: index into (0, 1, 2, 7); ring: 0 off, 1 16K, 2 64K;
    paging: None, or levels 4, 5, 3, 2."""
    h0 = (mmu | npt << 2 | level5 << 3 | ad_off << 4 | pml << 5 | nx << 6 | no_split << 7)
    h1 = counters | yields << 3 | manual << 5 | init_set << 6 | quirk_off << 7
    h2 = ring | (vcpus > 1) << 2 | phys << 3 | (paging is not None) << 6 | top << 7
    h3 = {None: 0, 4: 0, 5: 1, 3: 2, 2: 3}[paging]

    def region(r, slots, log):
        return r[0] | r[1] << 3 | (slots > 1) << 5 | log << 6

    h4 = region(r0, r0_slots, r0_log)
    h5 = region(r1, r1_slots, r1_log) | no_r1 << 7
    h6 = r0_ro | populate << 1
    return bytes([h0, h1, h2, h3, h4, h5, h6, seed])


def op(code, a=0, b=0, c=0, x=0, y=0):
    return struct.pack('<BBBBIQ', code, a, b, c, x & 0xffffffff, y & 0xffffffffffffffff)


# Region-relative guest addresses: c's high nibble 0 = region (c & 1), page x.
def access(vcpu, kind, region, page, offset=0, size8=True):
    return op(ACCESS, vcpu, kind, region, page, offset)


def access_range(vcpu, store, region, page, n, stride=1):
    return op(ACCESS_RANGE, vcpu, (n - 1) | (64 if store else 0), region,
              page | (stride - 1) << 24)


def access_gpa(vcpu, kind, gpa):
    return op(ACCESS, vcpu, kind, 8 << 4, 0, gpa)


def host(code, region, page, pages, b=0):
    return op(code, 0, b, region, page, pages - 1)


def live(index):
    """slot_id() selector of the model's slot @index (the world's own first)."""
    return index


def slot_set(slot_sel, flags, region, gpa_page, pages, hva_page=0, gpa_shape=0):
    return op(SLOT_SET, slot_sel, flags, region | gpa_shape << 4, gpa_page,
              pages | hva_page << 32)


def slot_new(slot, flags, region, gpa_page, pages, hva_page=0, gpa_shape=0):
    """A slot of id @slot (0..15) that need not exist yet."""
    return slot_set(0x40 | slot, flags, region, gpa_page, pages, hva_page, gpa_shape)


def slot_delete(slot):
    return op(SLOT_DELETE, 0x40 | slot)


def slot_move(model_index, gpa_page, region=0, gpa_shape=0):
    return op(SLOT_MOVE, model_index, 0, region | gpa_shape << 4, gpa_page)


def slot_flags(model_index, flags):
    return op(SLOT_FLAGS, model_index, flags)


def get_log(model_index):
    return op(GET_DIRTY_LOG, model_index, 0, 1)


def clear_log_all(model_index, fill=0xff):
    return op(CLEAR_DIRTY_LOG, model_index, 0, 1 | 1 << 5, 0, fill << 32)


CLEAN = op(CLEAN_PASS)


def parallel(*ops):
    """@ops in two threads of the controlled session: the even ones in the
    first (memslots, capabilities, vCPU 0), the odd ones in the second (the
    last vCPU)."""
    assert 2 <= len(ops) <= 9
    return op(PARALLEL, len(ops) - 2) + b''.join(ops)
# slot_id() selector of the guest tables' memslot (the world's WORLD_GUEST_TABLE_SLOT).
TABLE_SLOT = 0xc0

# The world's slots: region 0's are model slots 0 (and 1), ids 0 (and 1);
# region 1's come next, ids 2 (and 3).
SCENARIOS = {
    'notifier-vs-fast-zap': header(r0=(ANON, SZ_64K), r1=(ANON, SZ_16K)) + b''.join([
        access_range(0, True, 0, 0, 16), slot_delete(2),
        host(HOST_DONTNEED, 0, 12, 4), access_range(0, False, 0, 0, 16), CLEAN]),
    'root-reload-vs-invalidate': header(vcpus=2) + b''.join([
        access_range(0, True, 0, 0, 4), slot_delete(2), access_range(1, False, 0, 0, 2),
        access_range(0, False, 0, 0, 4)]),
    'nx-recovery-vs-fault': header(nx=True, vcpus=2, r0=(THP, SZ_2M)) + b''.join([
        access(0, FETCH, 0, 1), access(0, LOAD, 0, 2), op(NX_RECOVERY, 1),
        access(1, LOAD, 0, 3), access(0, LOAD, 0, 2), op(NX_RECOVERY, 0), CLEAN]),
    'pfnmap-tail-pages': header(r0=(PFNMAP, SZ_16K), no_r1=True) + b''.join([
        access_range(0, False, 0, 0, 4), access_range(0, True, 0, 0, 4), slot_delete(0)]),
    'thp-tail-writeback': header(r0=(SHARED_THP, SZ_2M), no_r1=True) + b''.join([
        op(VMM_ACCESS, 0, 0, 0, 0), access(0, STORE, 0, 5, 8),
        op(HOST_RECLAIM, 0, 1, 0, 0, 512), op(HOST_RECLAIM, 0, 0, 0, 0, 512),
        access(0, LOAD, 0, 5, 8), CLEAN]),
    'table-free-vs-walker': header(nx=True, r0=(THP, SZ_2M)) + b''.join([
        access(0, FETCH, 0, 1), access(0, LOAD, 0, 2), access(0, LOAD, 0, 4),
        host(HOST_AGING, 0, 0, 512, 0), op(NX_RECOVERY, 1), access(0, LOAD, 0, 4)]),
    'dirty-log-fast-pf': header(manual=True, r0=(ANON, SZ_64K)) + b''.join([
        access_range(0, True, 0, 0, 16), slot_flags(0, LOG_DIRTY), get_log(0),
        clear_log_all(0), access_range(0, True, 0, 0, 16), get_log(0), clear_log_all(0),
        access(0, STORE, 0, 3), get_log(0)]),
    'eager-split-vs-access': header(r0=(THP, SZ_2M)) + b''.join([
        access(0, STORE, 0, 0), access(0, LOAD, 0, 511), slot_flags(0, LOG_DIRTY),
        access(0, LOAD, 0, 511), access(0, STORE, 0, 256), access(0, LOAD, 0, 256),
        access(0, LOAD, 0, 0), CLEAN]),
    'fault-vs-host': header(vcpus=2) + b''.join([
        access_range(0, True, 0, 0, 4), access_range(1, False, 0, 0, 4),
        host(HOST_MIGRATE, 0, 0, 2), host(HOST_DONTNEED, 0, 2, 1),
        access_range(1, True, 0, 0, 4), access_range(0, False, 0, 0, 4)]),
    'shadow-fault-vs-host': header(mmu=SHADOW, vcpus=2) + b''.join([
        access_range(0, True, 0, 0, 4), access_range(1, False, 0, 0, 4),
        host(HOST_MIGRATE, 0, 0, 2), host(HOST_DONTNEED, 0, 2, 1),
        access_range(1, True, 0, 0, 4), access_range(0, False, 0, 0, 4)]),
    'memslot-move-vs-fault': header() + b''.join([
        access(0, LOAD, 0, 1), slot_move(0, 0x10000, gpa_shape=9), access(0, LOAD, 0, 1),
        access_gpa(0, LOAD, 0x10000 * PAGE + PAGE), slot_move(0, 0), access(0, LOAD, 0, 1),
        CLEAN]),
    'dirty-log-harvest': header(vcpus=2, manual=True, r0_log=True) + b''.join([
        access_range(0, True, 0, 0, 8), access_range(1, True, 0, 8, 8), get_log(0),
        clear_log_all(0), access_range(1, True, 0, 0, 16), get_log(0),
        op(CLEAR_DIRTY_LOG, 0, 0, 1 | 2 << 5, 3, 0xff << 32), get_log(0)]),
    'logging-walks-yield': header(yields=1, r0=(ANON, SZ_4M)) + b''.join([
        access_range(0, True, 0, 0, 64), slot_flags(0, LOG_DIRTY),
        access_range(0, False, 0, 8, 4, 16), get_log(0), CLEAN]),
    'seq-wrap-vs-fault': header(counters=1) + b''.join([
        access_range(0, True, 0, 0, 4), host(HOST_MIGRATE, 0, 0, 1),
        host(HOST_DONTNEED, 0, 1, 1), access_range(0, False, 0, 0, 4),
        access_range(0, False, 0, 0, 4)]),
    'dirty-ring-reset': header(ring=1, r0_log=True, r0=(ANON, SZ_64K)) + b''.join([
        access_range(0, True, 0, 0, 8), op(RING_RESET), access_range(0, True, 0, 0, 8),
        op(RING_RESET), access_range(0, True, 0, 0, 8), op(RING_RESET)]),
    'odd-width-teardown': header(phys=2, level5=True, top=True, r1=(ANON, SZ_64K)) + b''.join([
        access_range(0, True, 1, 0, 16)]),
    'pml-dirty-vs-zap': header(pml=True, r0_log=True) + b''.join([
        access_range(0, True, 0, 0, 8), get_log(0), access_range(0, True, 0, 0, 8),
        host(HOST_DONTNEED, 0, 0, 4), get_log(0), access_range(0, True, 0, 0, 8),
        get_log(0)]),
    'mmio-gen-wrap': header(counters=4, r0=(ANON, SZ_16K), no_r1=True) + b''.join(
        [access_gpa(0, LOAD, GB), access_gpa(0, LOAD, GB + PAGE),
         slot_new(1, 0, 0, 0x80000, 4, gpa_shape=9), slot_delete(1)] * 3 +
        [access_gpa(0, LOAD, GB), CLEAN]),
    'shadow-zap-vs-fault': header(mmu=TDP_LEGACY, nx=True, vcpus=2, r0=(THP, SZ_2M)) + b''.join([
        access(0, FETCH, 0, 1), access(0, LOAD, 0, 2), op(NX_RECOVERY, 1),
        access(1, LOAD, 0, 3), access(0, LOAD, 0, 2), CLEAN]),
    'pae-root-vs-fast-zap': header(mmu=SHADOW, paging=3) + b''.join([
        access_range(0, True, 0, 0, 4), slot_delete(2), access_range(0, False, 0, 0, 4),
        CLEAN]),
    'slot-zap-gptes': header(mmu=SHADOW, quirk_off=True) + b''.join([
        access_range(0, True, 0, 0, 4), op(SLOT_DELETE, TABLE_SLOT),
        access_range(0, False, 0, 0, 4)]),
    'slot-zap-ept-tables': header(mmu=TDP_LEGACY, quirk_off=True, vcpus=2) + b''.join([
        access_range(0, True, 0, 0, 4), access_range(1, True, 1, 0, 4), slot_delete(2),
        access_range(0, False, 0, 0, 4)]),
    'unsync-vs-sync': header(mmu=SHADOW, vcpus=2) + b''.join([
        access_range(0, True, 0, 0, 8), access(1, STOS, 0, 2), access_range(1, False, 0, 0, 8),
        access(0, STORE, 0, 2), CLEAN]),
    'unprotect-own-walk': header(mmu=SHADOW, vcpus=2) + b''.join([
        access(0, STOS, 0, 0), access(1, LOAD, 0, 0), access(0, STOS, 0, 1),
        access_range(1, True, 0, 0, 4), CLEAN]),
    'invlpg-unsync-pte': header(mmu=SHADOW, vcpus=2, paging=5) + b''.join([
        access_range(0, True, 0, 0, 4), access_range(1, False, 0, 0, 4),
        host(HOST_MIGRATE, 0, 1, 1), access_range(0, False, 0, 0, 4)]),
    'invept-vs-l2-fault': header(mmu=TDP_LEGACY, vcpus=2, paging=4) + b''.join([
        access_range(0, True, 0, 0, 8), access_range(1, False, 0, 0, 8),
        host(HOST_DONTNEED, 0, 0, 1), access_range(1, False, 0, 0, 8)]),
    'aging-vs-rmap-removal': header(mmu=SHADOW) + b''.join([
        access_range(0, True, 0, 0, 8), host(HOST_AGING, 0, 0, 8, 1),
        host(HOST_DONTNEED, 0, 0, 8), host(HOST_AGING, 0, 0, 8, 2),
        access_range(0, False, 0, 0, 8)]),
}

# The races themselves: the scenarios' threads as parallel blocks, a few
# schedules (seeds) each.
RACES = {}
for seed in (1, 11, 17):
    RACES['notifier-vs-fast-zap-%d' % seed] = header(yields=1, seed=seed) + b''.join([
        access_range(0, True, 0, 0, 16),
        parallel(slot_delete(2), host(HOST_DONTNEED, 0, 12, 4)),
        access_range(0, False, 0, 0, 16)])
    RACES['root-reload-vs-invalidate-%d' % seed] = header(vcpus=2, yields=2, seed=seed) + \
        b''.join([access_range(0, True, 0, 0, 4),
                  parallel(slot_delete(2), access_range(1, False, 0, 0, 2)),
                  access_range(0, False, 0, 0, 4)])
    RACES['nx-recovery-vs-fault-%d' % seed] = header(nx=True, vcpus=2, r0=(THP, SZ_2M),
                                                     seed=seed) + b''.join([
        access(0, FETCH, 0, 1), access(0, LOAD, 0, 2),
        parallel(op(NX_RECOVERY, 1), access(1, LOAD, 0, 3), access(0, LOAD, 0, 2),
                 access(1, STORE, 0, 4)),
        access(0, LOAD, 0, 2)])
    RACES['table-free-vs-walker-%d' % seed] = header(nx=True, r0=(THP, SZ_2M), seed=seed) + \
        b''.join([access(0, FETCH, 0, 1), access(0, LOAD, 0, 2), access(0, LOAD, 0, 4),
                  parallel(op(NX_RECOVERY, 1), host(HOST_AGING, 0, 0, 512, 0))])
    RACES['pml-dirty-vs-zap-%d' % seed] = header(pml=True, vcpus=2, r0_log=True, seed=seed) + \
        b''.join([access_range(0, True, 0, 0, 8), get_log(0),
                  parallel(host(HOST_DONTNEED, 0, 0, 4), access_range(1, True, 0, 0, 8),
                           get_log(0)),
                  get_log(0)])
    RACES['pae-root-vs-fast-zap-%d' % seed] = header(mmu=SHADOW, paging=3, vcpus=2,
                                                     seed=seed) + b''.join([
        access_range(0, True, 0, 0, 4),
        parallel(slot_delete(2), access_range(1, False, 0, 0, 4)), CLEAN])
    RACES['aging-vs-rmap-removal-%d' % seed] = header(mmu=SHADOW, vcpus=2, seed=seed) + \
        b''.join([access_range(0, True, 0, 0, 8),
                  parallel(host(HOST_DONTNEED, 0, 0, 8), host(HOST_AGING, 0, 0, 8, 1)),
                  access_range(0, False, 0, 0, 8)])
    RACES['fault-vs-host-%d' % seed] = header(vcpus=2, seed=seed) + b''.join([
        access_range(0, True, 0, 0, 4),
        parallel(host(HOST_MIGRATE, 0, 0, 2), access_range(1, True, 0, 0, 4),
                 host(HOST_DONTNEED, 0, 2, 1), access_range(1, False, 0, 0, 4)), CLEAN])

WORKLOADS = {
    'demand-paging': header(vcpus=2, r0=(ANON, SZ_4M)) + b''.join([
        access_range(0, True, 0, 0, 64, 8), access_range(1, True, 0, 512, 64, 8), CLEAN]),
    'dirty-log': header(vcpus=2, manual=True, init_set=True, r0=(ANON, SZ_2M)) + b''.join(
        [access_range(0, True, 0, 0, 64), slot_flags(0, LOG_DIRTY)] +
        [access_range(0, True, 0, 0, 64), access_range(1, True, 0, 64, 64), get_log(0),
         clear_log_all(0)] * 3 + [slot_flags(0, 0), CLEAN]),
    'access-tracking': header(ad_off=True, r0=(ANON, SZ_2M)) + b''.join([
        access_range(0, True, 0, 0, 64), host(HOST_AGING, 0, 0, 512, 1),
        access_range(0, False, 0, 0, 64), host(HOST_AGING, 0, 0, 512, 0),
        host(HOST_AGING, 0, 0, 512, 2), access_range(0, True, 0, 0, 64)]),
    'memslot-modification': header(vcpus=2) + b''.join(
        [access_range(0, True, 0, 0, 16), slot_new(9, 0, 1, 0x80000, 4, gpa_shape=9),
         access_range(1, False, 0, 0, 16), slot_delete(9)] * 4 + [CLEAN]),
    'memslot-perf': header(r0=(ANON, SZ_4M), r0_slots=2, r1=(ANON, SZ_64K)) + b''.join([
        access_range(0, True, 0, 0, 32, 32), slot_move(1, 0x100000, gpa_shape=9),
        access_range(0, True, 0, 0, 16, 32), slot_move(1, 512), slot_delete(2),
        slot_new(2, 0, 1, 0x40000, 16, gpa_shape=9), slot_flags(0, LOG_DIRTY),
        access_range(0, True, 0, 0, 64, 8), CLEAN]),
    'mmu-stress': header(vcpus=2, r0=(THP, SZ_4M), r1=(ANON, SZ_64K)) + b''.join([
        access_range(0, True, 0, 0, 64, 8), host(HOST_MIGRATE, 0, 0, 512),
        access_range(1, False, 0, 0, 64, 8), host(HOST_SWAP_OUT, 1, 0, 16),
        op(HOST_THP_SPLIT, 0, 0, 0, 0), host(HOST_DONTNEED, 0, 16, 16),
        op(HOST_THP_COLLAPSE, 0, 0, 0, 0), access_range(0, True, 0, 0, 64, 8),
        host(HOST_MPROTECT, 1, 0, 4, 1), access_range(0, True, 1, 0, 4),
        host(HOST_MPROTECT, 1, 0, 4, 3), access_range(0, True, 1, 0, 4),
        slot_delete(0), slot_new(0, 0, 0, 0, 1024), access_range(1, True, 0, 0, 64, 8),
        CLEAN]),
    'guest-kernel': header(mmu=SHADOW, vcpus=2, paging=4, r0=(ANON, SZ_2M)) + b''.join([
        access_range(0, True, 0, 0, 64), access(0, FETCH, 0, 3), access(1, STOS, 0, 5),
        access_range(1, False, 0, 0, 64), host(HOST_DONTNEED, 0, 0, 8),
        access_range(0, True, 0, 0, 64), CLEAN]),
}


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: gen_corpus.py OUT_DIR')
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for kind, table in (('scenario', SCENARIOS), ('race', RACES), ('workload', WORKLOADS)):
        for name, data in table.items():
            with open(os.path.join(out, '%s-%s' % (kind, name)), 'wb') as f:
                f.write(data)


if __name__ == '__main__':
    main()
