// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulated hardware over the TDP MMU: guest programs (lists and
 * memstress passes), the walker's A/D updates, exits, the TLB that keeps
 * stale translations until a flush, paging-structure caches, guest paging
 * walked two-dimensionally, and guest data surviving what the host and
 * KVM do to memory: faults, zaps, migration, swap, reclaim, THP split and
 * collapse, memslot moves, with vCPUs running concurrently.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host_mm.h"
#include "mmu.h"
#include "mmu_internal.h"
#include "rcu.h"
#include "tdp_iter.h"
#include "test.h"
#include "thread.h"
#include "vm_fixture.h"

#define MB (1UL << 20)
#define GB (1UL << 30)

static struct vm_fixture fix;

static int teardown_fix(void **state)
{
	if (vm_fixture_destroy(&fix))
		return -1;
	return kvmmu_test_teardown(state);
}

#define FIX_TEST(fn) cmocka_unit_test_setup_teardown(fn, kvmmu_test_setup, teardown_fix)

static void create(struct vm_fixture_opts o)
{
	o.real_hw = true;
	assert_int_equal(vm_fixture_create(&fix, &o), 0);
}

static struct hw_vcpu_stats stats(int vcpu)
{
	struct hw_vcpu_stats st;

	hw_vcpu_get_stats(fix_hwv(&fix, vcpu), &st);
	return st;
}

/* Run a list of accesses on @vcpu to its end. */
static void run_list(int vcpu, struct hw_access *list, u64 n)
{
	struct hw_program p = { .list = list, .len = n };

	assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, vcpu), &p), 0);
	assert_int_equal(fix_run_to_hlt(&fix, vcpu), 0);
	assert_true(hw_vcpu_done(fix_hwv(&fix, vcpu)));
}

static void run_one(int vcpu, u8 op, u64 addr, u64 *value)
{
	struct hw_access a = { .op = op, .addr = addr, .value = value ? *value : 0 };

	run_list(vcpu, &a, 1);
	if (value)
		*value = a.value;
}

/* ---- basics ------------------------------------------------------------------------ */

static void test_list_program(void **state)
{
	struct hw_access prog[] = {
		{ .op = HW_STORE, .addr = 0x1000, .value = 0x1122334455667788ULL },
		{ .op = HW_LOAD, .addr = 0x1000 },
		{ .op = HW_STORE, .size = 1, .addr = 0x1003, .value = 0xab },
		{ .op = HW_LOAD, .addr = 0x1000 },
		{ .op = HW_LOAD, .size = 2, .addr = 0x1002 },
		{ .op = HW_FETCH, .size = 4, .addr = 0x1004 },
	};
	struct hw_vcpu_stats st;

	create((struct vm_fixture_opts){ .mem_size = 2 * MB, .nr_vcpus = 1 });
	run_list(0, prog, ARRAY_SIZE(prog));
	assert_int_equal(prog[1].value, 0x1122334455667788ULL);
	assert_int_equal(prog[3].value, 0x11223344ab667788ULL);
	assert_int_equal(prog[4].value, 0xab66);
	assert_int_equal(prog[5].value, 0x11223344);
	assert_int_equal(fix_host_read(&fix, 0x1000), 0x11223344ab667788ULL);
	st = stats(0);
	assert_int_equal(st.stores, 2);
	assert_int_equal(st.loads, 3);
	assert_int_equal(st.fetches, 1);
	/* One walk that faulted, one that filled; then hits. */
	assert_int_equal(st.exits_violation, 1);
	assert_int_equal(st.tlb_hits, 5);
	/* Misaligned accesses are refused. */
	{
		struct hw_access bad = { .op = HW_LOAD, .size = 4, .addr = 0x1002 };
		struct hw_program p = { .list = &bad, .len = 1 };

		assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, 0), &p), -EINVAL);
	}
}

/* The walker sets A on every level and D on the leaf of a write, atomically. */
static void ad_bits(enum kvmmu_tdp_format format, bool ad_off)
{
	u64 spte, a, d;
	int level;

	create((struct vm_fixture_opts){ .mem_size = 2 * MB, .nr_vcpus = 1, .format = format,
					 .ad_disabled = ad_off });
	a = format == KVMMU_TDP_NPT ? PT_ACCESSED_MASK : EPT_ACCESSED;
	d = format == KVMMU_TDP_NPT ? PT_DIRTY_MASK : EPT_DIRTY;
	/* Prefetch-free: map the page read-only-accessed by KVM, then see what hardware adds. */
	run_one(0, HW_LOAD, 0x5000, NULL);
	spte = fix_leaf_spte(&fix, 0, 0x5000, &level);
	if (!ad_off) {
		/* KVM made it writable and dirty at once (a read may map writable). */
		assert_true(spte & a);
	}
	/* Clear A and D behind everyone's back, flush, and touch again. */
	{
		tdp_ptep_t sptep = NULL;
		struct tdp_iter iter;

		rcu_read_lock();
		for_each_tdp_pte(iter, fix.w.kvm, root_to_sp(fix.w.kvm, fix.w.vcpus[0]->arch.mmu->root.hpa),
				 5, 6)
			if (iter.level == PG_LEVEL_4K)
				sptep = iter.sptep;
		rcu_read_unlock();
		atomic_fetch_and(sptep, ~(a | d));
	}
	kvm_flush_remote_tlbs(fix.w.kvm);
	run_one(0, HW_LOAD, 0x5000, NULL);
	spte = fix_leaf_spte(&fix, 0, 0x5000, NULL);
	if (ad_off) {
		assert_false(spte & d);
	} else {
		assert_true(spte & a);
		assert_false(spte & d);
	}
	run_one(0, HW_STORE, 0x5000, NULL);
	spte = fix_leaf_spte(&fix, 0, 0x5000, NULL);
	assert_int_equal(!!(spte & d), !ad_off);
	assert_int_equal(stats(0).ad_updates > 0, !ad_off);
}

static void test_ad_bits_ept(void **state)
{
	ad_bits(KVMMU_TDP_EPT, false);
}

static void test_ad_bits_npt(void **state)
{
	ad_bits(KVMMU_TDP_NPT, false);
}

static void test_ad_bits_ept_disabled(void **state)
{
	ad_bits(KVMMU_TDP_EPT, true);
}

/* MMIO: EPT misconfiguration or NPT reserved-bit fault, emulated by KVM. */
static void test_mmio_exits(void **state)
{
	static const enum kvmmu_tdp_format formats[] = { KVMMU_TDP_EPT, KVMMU_TDP_NPT };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(formats); i++) {
		struct hw_access prog[] = {
			{ .op = HW_STORE, .addr = GB, .value = 1 },
			{ .op = HW_LOAD, .addr = GB, .value = 99 },
			{ .op = HW_STORE, .addr = 0x2000, .value = 2 },
		};
		struct hw_program p = { .list = prog, .len = 3 };
		struct hw_vcpu_stats st;

		create((struct vm_fixture_opts){ .mem_size = 2 * MB, .nr_vcpus = 1,
						 .format = formats[i] });
		assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, 0), &p), 0);
		assert_int_equal(fix_run_to_hlt(&fix, 0), 2);
		assert_int_equal(prog[1].value, 0); /* an emulated MMIO read */
		assert_int_equal(fix_host_read(&fix, 0x2000), 2);
		st = stats(0);
		/* The first MMIO access faulted; the second met the MMIO SPTE. */
		if (formats[i] == KVMMU_TDP_EPT)
			assert_int_equal(st.exits_misconfig, 1);
		else
			assert_true(st.exits_violation >= 2);
		assert_int_equal(kvmmu_vcpu_stat(fix.w.vcpus[0], "pf_mmio_spte_created"), 1);
		assert_int_equal(vm_fixture_destroy(&fix), 0);
	}
	create((struct vm_fixture_opts){ .nr_vcpus = 0 });
}

/* memstress: one pass per KVM_RUN, every page touched once per pass. */
static void test_memstress_passes(void **state)
{
	struct hw_program p = { .base = 0, .size = 2 * MB, .write_percent = 100, .passes = 3 };
	struct hw_vcpu_stats st;
	int pass;

	create((struct vm_fixture_opts){ .mem_size = 2 * MB, .nr_vcpus = 1 });
	assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, 0), &p), 0);
	for (pass = 0; pass < 3; pass++) {
		assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
		assert_int_equal(hw_vcpu_progress(fix_hwv(&fix, 0)), pass + 1);
	}
	assert_true(hw_vcpu_done(fix_hwv(&fix, 0)));
	st = stats(0);
	assert_int_equal(st.stores, 3 * 512);
	/* The first pass faulted each page in; the others hit the TLB (512 entries). */
	assert_int_equal(kvmmu_vcpu_stat(fix.w.vcpus[0], "pf_fixed"), 512);
	/* The pattern: vcpu, pass and page in every stored word. */
	assert_int_equal(fix_host_read(&fix, 77 * PAGE_SIZE), (2ULL << 32) | 77);
}

/* ---- the TLB ------------------------------------------------------------------------- */

static tdp_ptep_t leaf_sptep(gpa_t gpa)
{
	struct kvm_mmu_page *root = root_to_sp(fix.w.kvm, fix.w.vcpus[0]->arch.mmu->root.hpa);
	tdp_ptep_t sptep = NULL;
	struct tdp_iter iter;

	rcu_read_lock();
	for_each_tdp_pte(iter, fix.w.kvm, root, gpa_to_gfn(gpa), gpa_to_gfn(gpa) + 1)
		if (is_shadow_present_pte(iter.old_spte) && is_last_spte(iter.old_spte, iter.level))
			sptep = iter.sptep;
	rcu_read_unlock();
	return sptep;
}

/*
 * The SPTE changes and nobody flushes: the vCPU goes on using the old
 * translation.  After a flush it walks again and sees the change.
 */
static void test_tlb_keeps_stale_until_flush(void **state)
{
	struct hw_tlb_view view[64];
	tdp_ptep_t sptep;
	u64 old, v = 0;
	int i, n, found = 0;

	create((struct vm_fixture_opts){ .mem_size = 2 * MB, .nr_vcpus = 1 });
	v = 5;
	run_one(0, HW_STORE, 0x7000, &v);
	sptep = leaf_sptep(0x7000);
	old = kvm_tdp_mmu_read_spte(sptep);

	/* The TLB holds it, with where it came from. */
	n = hw_tlb_snapshot(fix_hwv(&fix, 0), view, 64);
	for (i = 0; i < n && i < 64; i++) {
		if (view[i].kind == HW_TLB_LEAF && view[i].page == 7) {
			assert_ptr_equal(view[i].sptep, sptep);
			assert_int_equal(view[i].pfn, spte_to_pfn(old));
			found++;
		}
	}
	assert_int_equal(found, 1);

	/* Zap it without a flush (as a buggy zap would). */
	atomic_store(sptep, SHADOW_NONPRESENT_VALUE);
	run_one(0, HW_LOAD, 0x7000, &v);
	assert_int_equal(v, 5);
	assert_int_equal(stats(0).exits_violation, 1); /* only the first fault */
	n = hw_tlb_snapshot(fix_hwv(&fix, 0), view, 64);
	assert_true(n >= 1);

	/* A flush drops it: the next access walks, faults, and KVM maps it again. */
	kvm_flush_remote_tlbs(fix.w.kvm);
	run_one(0, HW_LOAD, 0x7000, &v);
	assert_int_equal(v, 5);
	assert_int_equal(stats(0).exits_violation, 2);
	assert_int_equal(stats(0).flushes_all, 1);
	/* KVM's own bookkeeping never saw the zap: put the stats right for teardown. */
	atomic64_inc(&fix.w.kvm->stat.pages_4k);
}

/*
 * A snapshot of the leaves over some gfns holds exactly the entries of the
 * whole snapshot that cover one of them, whether it probes slots (4K
 * entries of 2M of memory, no gva-keyed entries) or scans.
 */
static void test_tlb_snapshot_leaves(void **state)
{
	static struct hw_tlb_view all[1024], some[1024];
	struct hw_program p = { .base = 0, .size = 2 * MB, .write_percent = 100, .passes = 1 };
	static const u64 ranges[][2] = { { 0, 1 }, { 7, 3 }, { 100, 50 }, { 0, 512 },
					 { 511, 5 }, { 600, 10 } };
	size_t r;
	int i, j, n, m;

	create((struct vm_fixture_opts){ .mem_size = 2 * MB, .nr_vcpus = 1 });
	assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, 0), &p), 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	n = hw_tlb_snapshot(fix_hwv(&fix, 0), all, 1024);
	assert_true(n > 256 && n < 1024);
	for (r = 0; r < ARRAY_SIZE(ranges); r++) {
		u64 first = ranges[r][0], end = first + ranges[r][1];
		int want = 0;

		for (i = 0; i < n; i++) {
			u64 pages = 1ULL << (9 * (all[i].level - 1));

			want += all[i].kind == HW_TLB_LEAF && all[i].gfn < end &&
				all[i].gfn + pages > first;
		}
		m = hw_tlb_snapshot_leaves(fix_hwv(&fix, 0), first, ranges[r][1], some, 1024);
		assert_int_equal(m, want);
		for (j = 0; j < m; j++) {
			assert_int_equal(some[j].kind, HW_TLB_LEAF);
			assert_true(some[j].gfn < end && some[j].gfn + 1 > first);
		}
	}
}

static u64 table_reads;

static void count_table_reads(struct kvmmu_observer *obs, const struct kvmmu_event *ev)
{
	if (ev->table.reader == KVMMU_READER_WALKER)
		table_reads++;
}

static struct kvmmu_observer table_counter = {
	.name = "table-reads",
	.mask = BIT_ULL(KVMMU_EV_TABLE_READ),
	.notify = count_table_reads,
};

/* A miss next to a cached upper-level entry reads only the last table. */
static void test_paging_structure_cache(void **state)
{
	create((struct vm_fixture_opts){ .mem_size = 2 * MB, .nr_vcpus = 1 });
	run_one(0, HW_STORE, 0x1000, NULL);
	run_one(0, HW_STORE, 0x2000, NULL);
	table_reads = 0;
	assert_int_equal(kvmmu_observer_register(&table_counter), 0);
	run_one(0, HW_LOAD, 0x2000, NULL); /* a TLB hit: no walk */
	assert_int_equal(table_reads, 0);
	kvmmu_observer_unregister(&table_counter);

	/*
	 * A page never touched, in the same 2M: the PDE cache knows its table.
	 * Two walks (the one that faults, the one after KVM mapped it), each
	 * reading only that table instead of all four.
	 */
	table_reads = 0;
	assert_int_equal(kvmmu_observer_register(&table_counter), 0);
	run_one(0, HW_LOAD, 0x4000, NULL);
	kvmmu_observer_unregister(&table_counter);
	assert_int_equal(table_reads, 2);
}

/* ---- guest paging ------------------------------------------------------------------- */

#define GPTE_P BIT_ULL(0)
#define GPTE_W BIT_ULL(1)
#define GPTE_U BIT_ULL(2)
#define GPTE_A BIT_ULL(5)

static void guest_write(gpa_t gpa, u64 v)
{
	assert_int_equal(host_access(fix.w.mm, fix.w.cfg.mem[0].hva + gpa, true, &v), 0);
}

/*
 * Build 4-level guest page tables at gpa 0x100000.. that map gva
 * 0x40000000 + x to gpa 0x200000 + x for x < 1 MiB, as a selftest's
 * virt_map() does from the VMM.
 */
static void build_guest_tables(void)
{
	u64 pml4 = 0x100000, pdpt = 0x101000, pd = 0x102000, pt = 0x103000, i;

	guest_write(pml4 + 0 * 8, pdpt | GPTE_P | GPTE_W);
	guest_write(pdpt + 1 * 8, pd | GPTE_P | GPTE_W);
	guest_write(pd + 0 * 8, pt | GPTE_P | GPTE_W);
	for (i = 0; i < 256; i++)
		guest_write(pt + i * 8, (0x200000 + i * PAGE_SIZE) | GPTE_P | GPTE_W);
}

static void test_guest_paging_two_dimensional(void **state)
{
	struct hw_access prog[] = {
		{ .op = HW_STORE, .addr = 0x40003008, .value = 123 },
		{ .op = HW_LOAD, .addr = 0x40003008 },
		{ .op = HW_STORE, .addr = 0x400ff000, .value = 456 },
	};
	struct hw_program p = { .list = prog, .len = 3, .paging = true, .cr3 = 0x100000 };
	struct hw_vcpu_stats st;
	u64 pte = 0, cr2, error_code;

	create((struct vm_fixture_opts){ .mem_size = 4 * MB, .nr_vcpus = 1 });
	build_guest_tables();
	assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, 0), &p), 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_int_equal(prog[1].value, 123);
	assert_int_equal(fix_host_read(&fix, 0x203008), 123);
	assert_int_equal(fix_host_read(&fix, 0x2ff000), 456);
	/* The walk set A in the guest's entries, through the TDP tables. */
	assert_int_equal(host_access(fix.w.mm, fix.w.cfg.mem[0].hva + 0x103000 + 3 * 8, false, &pte), 0);
	assert_true(pte & GPTE_A);
	st = stats(0);
	assert_true(st.guest_walks >= 2);
	/* The guest tables' pages were faulted in by the walks themselves. */
	assert_true(is_shadow_present_pte(fix_leaf_spte(&fix, 0, 0x103000, NULL)));
	assert_true(kvmmu_vcpu_stat(fix.w.vcpus[0], "pf_fixed") >= 4 + 2);
	/* A gva with no guest mapping: a guest fault, skipped. */
	prog[0] = (struct hw_access){ .op = HW_LOAD, .addr = 0x80000000 };
	p.len = 1;
	assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, 0), &p), 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_int_equal(stats(0).guest_faults, 1);
	hw_vcpu_last_pf(fix_hwv(&fix, 0), &cr2, &error_code);
	assert_int_equal(cr2, 0x80000000);
	assert_int_equal(error_code, 0);
	/* A write through a read-only guest PTE: a protection fault, P|W. */
	guest_write(0x103000 + 5 * 8, (0x200000 + 5 * PAGE_SIZE) | GPTE_P);
	prog[0] = (struct hw_access){ .op = HW_STORE, .addr = 0x40005010, .value = 7 };
	assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, 0), &p), 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_int_equal(stats(0).guest_faults, 2);
	hw_vcpu_last_pf(fix_hwv(&fix, 0), &cr2, &error_code);
	assert_int_equal(cr2, 0x40005010);
	assert_int_equal(error_code, PFERR_PRESENT_MASK | PFERR_WRITE_MASK);
	assert_int_equal(fix_host_read(&fix, 0x205010), 0);
}

/*
 * A guest that turns paging on itself, as a kernel boots: it writes its
 * page tables with paging off, loads CR3, enables PAE and long mode, then
 * paging; a bad order takes #GP.  Then it edits a PTE through a mapping of
 * its own page table: the old translation stays until INVLPG.  At CPL 3 a
 * supervisor page faults with P|U.
 */
static void test_guest_kernel_instructions(void **state)
{
	const u64 pml4 = 0x100000, pdpt = 0x101000, pd = 0x102000, pt = 0x103000;
	struct hw_access prog[300];
	struct hw_program p = { .list = prog };
	u64 n = 0, i, cr2, error_code;

#define OP(o, a, v) (prog[n++] = (struct hw_access){ .op = (o), .addr = (a), .value = (v) })
	create((struct vm_fixture_opts){ .mem_size = 4 * MB, .nr_vcpus = 1 });
	OP(HW_STORE, pml4, pdpt | GPTE_P | GPTE_W | GPTE_U);
	OP(HW_STORE, pdpt + 8, pd | GPTE_P | GPTE_W | GPTE_U);
	OP(HW_STORE, pd, pt | GPTE_P | GPTE_W | GPTE_U);
	for (i = 0; i < 255; i++)
		OP(HW_STORE, pt + i * 8,
		   (0x200000 + i * PAGE_SIZE) | GPTE_P | GPTE_W | (i == 10 ? 0 : GPTE_U));
	/* gva 0x400ff000 maps the page table itself. */
	OP(HW_STORE, pt + 255 * 8, pt | GPTE_P | GPTE_W);
	OP(HW_MOV_CR3, 0, pml4);
	OP(HW_WRMSR_EFER, 0, EFER_LME | EFER_NX);
	OP(HW_MOV_CR0, 0, X86_CR0_PG | X86_CR0_WP);         /* #GP: long mode needs PAE */
	OP(HW_MOV_CR4, 0, X86_CR4_PAE);
	OP(HW_MOV_CR0, 0, X86_CR0_PG | X86_CR0_WP);
	OP(HW_STORE, 0x40003008, 77);
	OP(HW_LOAD, 0x40003008, 0);
	/* Point gva page 3 at gpa 0x204000: the old translation is still cached. */
	OP(HW_STORE, 0x400ff000 + 3 * 8, 0x204000 | GPTE_P | GPTE_W | GPTE_U);
	OP(HW_LOAD, 0x40003008, 0);
	OP(HW_INVLPG, 0x40003000, 0);
	OP(HW_LOAD, 0x40003008, 0);
	OP(HW_WRMSR_EFER, 0, EFER_NX);                         /* #GP: LME with paging on */
	OP(HW_SET_CPL, 0, 3);
	OP(HW_LOAD, 0x4000a000, 0);                             /* supervisor page: #PF */
#undef OP
	p.len = n;
	assert_true(n <= ARRAY_SIZE(prog));
	assert_int_equal(fix_host_read(&fix, 0x204008), 0);
	{
		u64 v = 0x5555;

		assert_int_equal(host_access(fix.w.mm, fix.w.cfg.mem[0].hva + 0x204008, true, &v),
				 0);
	}
	assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, 0), &p), 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_int_equal(stats(0).guest_gps, 2);
	assert_int_equal(fix_host_read(&fix, 0x203008), 77);
	assert_int_equal(prog[n - 8].value, 77);     /* the load right after the store */
	assert_int_equal(prog[n - 6].value, 77);     /* stale: no INVLPG yet */
	assert_int_equal(prog[n - 4].value, 0x5555); /* after INVLPG: the new page */
	assert_int_equal(stats(0).guest_faults, 1);
	hw_vcpu_last_pf(fix_hwv(&fix, 0), &cr2, &error_code);
	assert_int_equal(cr2, 0x4000a000);
	assert_int_equal(error_code, PFERR_PRESENT_MASK | PFERR_USER_MASK);
	/* The walks set A in the guest's own entries. */
	assert_true(fix_host_read(&fix, pt + 3 * 8) & GPTE_A);
}

/* ---- data under everything ---------------------------------------------------------- */

/* Each vCPU writes its pages, then reads them back; returns mismatches. */
static u64 write_then_verify(int vcpu, gpa_t base, u64 pages, u64 round, u64 stride_vcpus)
{
	struct hw_access *list = calloc(2 * pages, sizeof(*list));
	struct hw_program p = { .list = list, .len = 2 * pages };
	u64 i, bad = 0;
	int r;

	for (i = 0; i < pages; i++) {
		u64 addr = base + (i * stride_vcpus + (u64)vcpu) * PAGE_SIZE;
		u64 value = ((u64)vcpu << 56) | (round << 32) | i;

		list[i] = (struct hw_access){ .op = HW_STORE, .addr = addr, .value = value };
		list[pages + i] = (struct hw_access){ .op = HW_LOAD, .addr = addr };
	}
	if (hw_vcpu_load_program(fix_hwv(&fix, vcpu), &p)) {
		free(list);
		return ~0ULL;
	}
	r = fix_run_until_hlt(&fix, vcpu);
	if (r < 0)
		bad = ~0ULL;
	for (i = 0; i < pages && !bad; i++)
		if (list[pages + i].value != list[i].value)
			bad++;
	free(list);
	return bad;
}

/* Sequential: write everything, do host operations, read everything back. */
static void test_data_survives_host_operations(void **state)
{
	unsigned long moved;
	int i;

	create((struct vm_fixture_opts){ .mem_size = 8 * MB, .nr_vcpus = 1,
					 .backing = WORLD_BACKING_THP });
	assert_int_equal(write_then_verify(0, 0, 2048, 1, 1), 0);
	assert_int_equal(host_migrate(fix.w.mm, fix.w.cfg.mem[0].hva, 2 * MB, &moved), 0);
	assert_true(moved > 0);
	assert_int_equal(host_thp_split(fix.w.mm, fix.w.cfg.mem[0].hva + 2 * MB), 0);
	assert_int_equal(host_swap_out(fix.w.mm, fix.w.cfg.mem[0].hva + 2 * MB, MB, &moved), 0);
	assert_true(moved > 0);
	/* The guest reads what it wrote everywhere (swapping in what went out). */
	for (i = 0; i < 2048; i++) {
		u64 v = 0;

		run_one(0, HW_LOAD, (u64)i * PAGE_SIZE, &v);
		assert_int_equal(v, (1ULL << 32) | (u64)i);
	}
	/* Collapse the split region again (everything is back), and read it. */
	assert_int_equal(host_thp_collapse(fix.w.mm, fix.w.cfg.mem[0].hva + 2 * MB), 0);
	for (i = 512; i < 1024; i++) {
		u64 v = 0;

		run_one(0, HW_LOAD, (u64)i * PAGE_SIZE, &v);
		assert_int_equal(v, (1ULL << 32) | (u64)i);
	}
	/* And a memslot move: the same memory at a new gpa. */
	{
		struct kvm_userspace_memory_region2 m = {
			.slot = 0, .guest_phys_addr = 4 * GB, .memory_size = 8 * MB,
			.userspace_addr = fix.w.cfg.mem[0].hva,
		};
		u64 v = 0;

		assert_int_equal(kvmmu_set_user_memory_region2(fix.w.kvm, &m), 0);
		run_one(0, HW_LOAD, 4 * GB + 1234 * PAGE_SIZE, &v);
		assert_int_equal(v, (1ULL << 32) | 1234);
	}
}

/* File memory: writeback and reclaim in between, with THP folios. */
static void test_data_survives_reclaim(void **state)
{
	unsigned long dropped;
	int i;

	create((struct vm_fixture_opts){ .mem_size = 4 * MB, .nr_vcpus = 1,
					 .backing = WORLD_BACKING_SHARED_THP });
	assert_int_equal(write_then_verify(0, 0, 1024, 7, 1), 0);
	assert_int_equal(host_file_reclaim(fix.w.files[0], 0, 1024, &dropped), 0);
	assert_true(dropped > 0);
	for (i = 0; i < 1024; i += 13) {
		u64 v = 0;

		run_one(0, HW_LOAD, (u64)i * PAGE_SIZE, &v);
		assert_int_equal(v, (7ULL << 32) | (u64)i);
	}
}

static _Atomic bool churn_stop;
static u64 vcpu_bad[4];

struct verify_arg {
	int vcpu, nr_vcpus;
	u64 rounds;
};

static int verify_fn(void *p)
{
	struct verify_arg *a = p;
	u64 r;

	/* At least @rounds, and on until the host is done churning. */
	for (r = 1; r <= a->rounds || !atomic_load(&churn_stop); r++) {
		u64 bad = write_then_verify(a->vcpu, 0, 512 / (u64)a->nr_vcpus, r, (u64)a->nr_vcpus);

		if (bad) {
			vcpu_bad[a->vcpu] = bad;
			return -1;
		}
	}
	return 0;
}

static int churn_fn(void *p)
{
	u64 seed = 7, ops = scaled(200, 1000, 20000), i;

	for (i = 0; i < ops; i++) {
		unsigned long off, n;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		off = ((seed >> 24) % 512) << PAGE_SHIFT;
		switch ((seed >> 8) % 4) {
		case 0:
			if (host_migrate(fix.w.mm, fix.w.cfg.mem[0].hva + off, 4 * PAGE_SIZE, &n))
				return -1;
			break;
		case 1:
			if (host_swap_out(fix.w.mm, fix.w.cfg.mem[0].hva + off, 2 * PAGE_SIZE, &n))
				return -1;
			break;
		case 2:
			host_thp_split(fix.w.mm, fix.w.cfg.mem[0].hva);
			break;
		default:
			host_thp_collapse(fix.w.mm, fix.w.cfg.mem[0].hva);
			break;
		}
	}
	atomic_store(&churn_stop, true);
	return 0;
}

/* 1..4 vCPUs write and verify while the host moves their memory around. */
static void test_data_with_concurrent_churn(void **state)
{
	int nr;

	for (nr = 1; nr <= 4; nr *= 2) {
		struct verify_arg args[4];
		struct kvmmu_thread *t[5];
		int v;

		create((struct vm_fixture_opts){ .mem_size = 2 * MB, .nr_vcpus = nr,
						 .backing = WORLD_BACKING_THP });
		atomic_store(&churn_stop, false);
		memset(vcpu_bad, 0, sizeof(vcpu_bad));
		assert_int_equal(kvmmu_thread_create(&t[nr], "host", 0, churn_fn, NULL), 0);
		for (v = 0; v < nr; v++) {
			args[v] = (struct verify_arg){ .vcpu = v, .nr_vcpus = nr, .rounds = 3 };
			assert_int_equal(kvmmu_thread_create(&t[v], "vcpu", 0, verify_fn, &args[v]), 0);
		}
		assert_int_equal(kvmmu_thread_join(t[nr]), 0);
		for (v = 0; v < nr; v++)
			assert_int_equal(kvmmu_thread_join(t[v]), 0);
		for (v = 0; v < nr; v++)
			assert_int_equal(vcpu_bad[v], 0);
		assert_int_equal(vm_fixture_destroy(&fix), 0);
	}
	create((struct vm_fixture_opts){ .nr_vcpus = 0 });
}

/* ---- A/D under concurrent MMU updates ------------------------------------------------ */

static _Atomic int writers_running;

static int memstress_fn(void *p)
{
	int v = (int)(uintptr_t)p;
	int r = 0;

	while (!r && !hw_vcpu_done(fix_hwv(&fix, v)))
		r = fix_run_until_hlt(&fix, v) < 0;
	atomic_fetch_sub(&writers_running, 1);
	return r;
}

/*
 * Dirty logging on, vCPUs writing, GET re-protecting in a loop: every page
 * is harvested, and no D bit set by the walker is lost to a racing SPTE
 * update (every writable SPTE left is dirty).
 */
static void test_ad_survive_dirty_logging(void **state)
{
	unsigned long bm[8], seen[8] = { 0 };
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = bm };
	struct kvm_userspace_memory_region2 m = {
		.slot = 0, .flags = KVM_MEM_LOG_DIRTY_PAGES, .memory_size = 2 * MB,
	};
	struct kvmmu_thread *t[2];
	struct tdp_iter iter;
	int v, i;

	create((struct vm_fixture_opts){ .mem_size = 2 * MB, .nr_vcpus = 2 });
	m.userspace_addr = fix.w.cfg.mem[0].hva;
	assert_int_equal(kvmmu_set_user_memory_region2(fix.w.kvm, &m), 0);
	atomic_store(&writers_running, 2);
	for (v = 0; v < 2; v++) {
		struct hw_program p = { .base = (u64)v * MB, .size = MB, .write_percent = 100,
					.passes = scaled(3, 10, 100), .seed = (u64)v };

		assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, v), &p), 0);
		assert_int_equal(kvmmu_thread_create(&t[v], "vcpu", 0, memstress_fn,
						     (void *)(uintptr_t)v), 0);
	}
	for (;;) {
		bool last = atomic_load(&writers_running) == 0;

		assert_int_equal(kvmmu_get_dirty_log(fix.w.kvm, &log), 0);
		for (i = 0; i < 8; i++)
			seen[i] |= bm[i];
		if (last)
			break;
		sched_yield();
	}
	for (v = 0; v < 2; v++)
		assert_int_equal(kvmmu_thread_join(t[v]), 0);
	for (i = 0; i < 8; i++)
		assert_int_equal(seen[i], ~0UL);
	rcu_read_lock();
	for_each_tdp_pte(iter, fix.w.kvm, root_to_sp(fix.w.kvm, fix.w.vcpus[0]->arch.mmu->root.hpa), 0,
			 512) {
		if (is_shadow_present_pte(iter.old_spte) && is_last_spte(iter.old_spte, iter.level) &&
		    is_writable_pte(iter.old_spte))
			assert_true(iter.old_spte & EPT_DIRTY);
	}
	rcu_read_unlock();
}

static const struct CMUnitTest tests[] = {
	FIX_TEST(test_list_program),
	FIX_TEST(test_tlb_snapshot_leaves),
	FIX_TEST(test_ad_bits_ept),
	FIX_TEST(test_ad_bits_npt),
	FIX_TEST(test_ad_bits_ept_disabled),
	FIX_TEST(test_mmio_exits),
	FIX_TEST(test_memstress_passes),
	FIX_TEST(test_tlb_keeps_stale_until_flush),
	FIX_TEST(test_paging_structure_cache),
	FIX_TEST(test_guest_paging_two_dimensional),
	FIX_TEST(test_guest_kernel_instructions),
	FIX_TEST(test_data_survives_host_operations),
	FIX_TEST(test_data_survives_reclaim),
	FIX_TEST(test_data_with_concurrent_churn),
	FIX_TEST(test_ad_survive_dirty_logging),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
