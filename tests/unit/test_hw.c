// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulated hardware over the TDP MMU: guest programs (lists and
 * memstress passes), the walker's A/D updates, exits, the TLB that keeps
 * stale translations until a flush, paging-structure caches, guest paging
 * walked two-dimensionally, shadow paging (KVM's table of gvas walked
 * directly, #PF and control-register exits), and guest data surviving
 * what the host and KVM do to memory: faults, zaps, migration, swap,
 * reclaim, THP split and collapse, memslot moves, with vCPUs running
 * concurrently.
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
	struct hw_program p = { .list = prog, .len = 3, .paging = 4, .cr3 = 0x100000 };
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

/* ---- shadow paging ------------------------------------------------------------------ */

/*
 * KVM's side of shadow paging, by hand: a shadow table of gvas built in
 * host frames (64-bit paging format), an entry with shadow_paging, and
 * runs whose exits come back to the test, which plays KVM.
 */
#define SH_MAX_FRAMES 64
#define SPTE_P PT_PRESENT_MASK
#define SPTE_W PT_WRITABLE_MASK
#define SPTE_U PT_USER_MASK
#define SPTE_TABLE (SPTE_P | SPTE_W | SPTE_U)

static struct {
	u64 frames[SH_MAX_FRAMES]; /* freed by sh_end() */
	int nr;
	_Atomic u32 kick_req, kick_ack;
	struct kvmmu_entry entry;
	struct hw_access list[16];
} sh;

static struct kvmmu_hw_vcpu *sh_hwv(void)
{
	return fix_hwv(&fix, 0);
}

/* A block of 1 << @order zeroed host frames. */
static u64 sh_frames(unsigned int order)
{
	u64 pfn = phys_alloc(fix.w.phys, order, 0);

	assert_true(pfn != 0);
	assert_true(sh.nr < SH_MAX_FRAMES);
	frame_fill(fix.w.phys, pfn, 1ULL << order, 0);
	sh.frames[sh.nr++] = pfn;
	return pfn;
}

static u64 sh_frame(void)
{
	return sh_frames(0);
}

static _Atomic u64 *sh_word(u64 pfn, u64 off)
{
	return frame_words(fix.w.phys, pfn) + off / 8;
}

/* A VM whose vCPU runs on the simulated CPU, and an empty shadow root of @levels. */
static void sh_begin(int levels)
{
	create((struct vm_fixture_opts){ .nr_vcpus = 1 });
	memset(&sh, 0, sizeof(sh));
	sh.entry = (struct kvmmu_entry){
		.root_level = levels, .npt = true, .ad_enabled = true,
		.kick_req = &sh.kick_req, .kick_ack = &sh.kick_ack, .shadow_paging = true,
	};
	sh.entry.root_pfn = sh_frame();
}

static void sh_end(void)
{
	while (sh.nr)
		phys_free(fix.w.phys, sh.frames[--sh.nr]);
}

/* The entry for @gva at @level (the tables above must exist). */
static _Atomic u64 *sh_entry(u64 gva, int level)
{
	u64 table = sh.entry.root_pfn;
	int l;

	for (l = sh.entry.root_level; l > level; l--) {
		u64 e = atomic_load(sh_word(table, 8 * PT64_INDEX(gva, l)));

		assert_true(e & SPTE_P);
		table = (e & PT64_PFN_MASK) >> PAGE_SHIFT;
	}
	return sh_word(table, 8 * PT64_INDEX(gva, level));
}

/* Map @gva to @pfn with a leaf at @level holding @bits; returns the leaf. */
static _Atomic u64 *sh_map(u64 gva, u64 pfn, int level, u64 bits)
{
	u64 table = sh.entry.root_pfn;
	_Atomic u64 *p;
	int l;

	for (l = sh.entry.root_level; l > level; l--) {
		u64 e;

		p = sh_word(table, 8 * PT64_INDEX(gva, l));
		e = atomic_load(p);
		if (!(e & SPTE_P)) {
			e = (sh_frame() << PAGE_SHIFT) | SPTE_TABLE;
			atomic_store(p, e);
		}
		table = (e & PT64_PFN_MASK) >> PAGE_SHIFT;
	}
	p = sh_word(table, 8 * PT64_INDEX(gva, level));
	atomic_store(p, (pfn << PAGE_SHIFT) | bits | (level > 1 ? PT_PAGE_SIZE_MASK : 0));
	return p;
}

/* The guest's registers: a 64-bit kernel at @cpl, CR4 with @cr4 besides PAE. */
static void sh_regs_64(u8 cpl, u64 cr4)
{
	const struct kvmmu_guest_regs r = {
		.cr0 = X86_CR0_PG | X86_CR0_WP | 1, .cr3 = 0x1000, .cr4 = X86_CR4_PAE | cr4,
		.efer = EFER_LME | EFER_LMA | EFER_NX, .rflags = 2, .cpl = cpl,
	};

	hw_ops.set_regs(sh_hwv(), &r);
}

static struct kvmmu_exit sh_run(void)
{
	struct kvmmu_exit exit;

	memset(&exit, 0xff, sizeof(exit));
	assert_int_equal(hw_ops.run(sh_hwv(), &sh.entry, &exit), 0);
	return exit;
}

/* Load sh.list[0..n) as the program. */
static void sh_load(u64 n)
{
	struct hw_program p = { .list = sh.list, .len = n };

	assert_int_equal(hw_vcpu_load_program(sh_hwv(), &p), 0);
}

/* One access as the whole program, run once: its exit. */
static struct kvmmu_exit sh_one(u8 op, u8 size, u64 gva, u64 value)
{
	sh.list[0] = (struct hw_access){ .op = op, .size = size, .addr = gva, .value = value };
	sh_load(1);
	return sh_run();
}

/* Run one access that must succeed; returns what it loaded. */
static u64 sh_ok(u8 op, u64 gva, u64 value)
{
	assert_int_equal(sh_one(op, 8, gva, value).reason, KVMMU_EXIT_HLT);
	return sh.list[0].value;
}

static void assert_pf(const struct kvmmu_exit *e, u64 gva, u64 error_code)
{
	assert_int_equal(e->reason, KVMMU_EXIT_PAGE_FAULT);
	assert_int_equal(e->gva, gva);
	assert_int_equal(e->error_code, error_code);
}

static const void *dirtied_sptep[8];
static u64 dirtied_old[8], dirtied_new[8];
static int nr_dirtied;

static void record_hw_dirty(struct kvmmu_observer *obs, const struct kvmmu_event *ev)
{
	if (nr_dirtied < 8) {
		dirtied_sptep[nr_dirtied] = ev->spte.sptep;
		dirtied_old[nr_dirtied] = ev->spte.old_spte;
		dirtied_new[nr_dirtied] = ev->spte.new_spte;
	}
	nr_dirtied++;
}

static struct kvmmu_observer hw_dirty_recorder = {
	.name = "hw-dirty",
	.mask = BIT_ULL(KVMMU_EV_SPTE_HW_DIRTY),
	.notify = record_hw_dirty,
};

/*
 * Loads and stores go through KVM's shadow table to the frames it maps,
 * with the guest's paging off (KVM's table maps its gpas as linear
 * addresses): A set on the path, D in the leaf of a store only (reported
 * as the TDP walker reports it), the result cached by gva with where it
 * came from, and hits served without a walk.
 */
static void test_shadow_translation(void **state)
{
	static struct hw_tlb_view view[64];
	const u64 gva_b = 0x7f1234567000ULL;
	_Atomic u64 *la, *lb, *lc;
	struct hw_vcpu_stats st;
	u64 a, b, c;
	int i, n, seen = 0;

	sh_begin(4);
	a = sh_frame();
	b = sh_frame();
	c = sh_frame();
	la = sh_map(0x400000, a, 1, SPTE_P | SPTE_W);
	lb = sh_map(gva_b, b, 1, SPTE_P | SPTE_W | SPTE_U);
	lc = sh_map(0x401000, c, 1, SPTE_P | SPTE_W);
	atomic_store(sh_word(c, 0x18), 0x77);
	sh.list[0] = (struct hw_access){ .op = HW_STORE, .addr = 0x400008,
					 .value = 0x1122334455667788ULL };
	sh.list[1] = (struct hw_access){ .op = HW_LOAD, .addr = 0x400008 };
	sh.list[2] = (struct hw_access){ .op = HW_STORE, .size = 4, .addr = gva_b + 0x10,
					 .value = 0xdeadbeef };
	sh.list[3] = (struct hw_access){ .op = HW_LOAD, .size = 4, .addr = gva_b + 0x10 };
	sh.list[4] = (struct hw_access){ .op = HW_LOAD, .addr = 0x401018 };
	sh.list[5] = (struct hw_access){ .op = HW_FETCH, .size = 4, .addr = 0x401018 };
	sh_load(6);
	nr_dirtied = 0;
	assert_int_equal(kvmmu_observer_register(&hw_dirty_recorder), 0);
	assert_int_equal(sh_run().reason, KVMMU_EXIT_HLT);
	kvmmu_observer_unregister(&hw_dirty_recorder);

	assert_int_equal(sh.list[1].value, 0x1122334455667788ULL);
	assert_int_equal(sh.list[3].value, 0xdeadbeef);
	assert_int_equal(sh.list[4].value, 0x77);
	assert_int_equal(sh.list[5].value, 0x77);
	assert_int_equal(atomic_load(sh_word(a, 8)), 0x1122334455667788ULL);
	assert_int_equal(atomic_load(sh_word(b, 0x10)), 0xdeadbeef);
	/* A on the whole path; D in the stored leaves only. */
	for (i = 4; i >= 2; i--)
		assert_true(atomic_load(sh_entry(0x400000, i)) & PT_ACCESSED_MASK);
	assert_true(atomic_load(la) & PT_ACCESSED_MASK);
	assert_true(atomic_load(la) & PT_DIRTY_MASK);
	assert_true(atomic_load(lb) & PT_DIRTY_MASK);
	assert_true(atomic_load(lc) & PT_ACCESSED_MASK);
	assert_false(atomic_load(lc) & PT_DIRTY_MASK);
	/* The observers heard of both D bits set, from the SPTEs' values as walked. */
	assert_int_equal(nr_dirtied, 2);
	assert_ptr_equal(dirtied_sptep[0], la);
	assert_ptr_equal(dirtied_sptep[1], lb);
	assert_false(dirtied_old[0] & PT_DIRTY_MASK);
	assert_int_equal(dirtied_new[0], atomic_load(la));
	assert_int_equal(dirtied_new[1], atomic_load(lb));
	/* Three walks; every other access a TLB hit. */
	st = stats(0);
	assert_int_equal(st.walks, 3);
	assert_int_equal(st.tlb_hits, 3);
	assert_int_equal(st.exits_page_fault, 0);
	/* A on two fresh paths (A|D at once in their leaves), A in 0x401000's leaf. */
	assert_int_equal(st.ad_updates, 4 + 4 + 1);
	/* Cached by gva: the frame, the shadow leaf, the tables, an unknown gfn. */
	n = hw_tlb_snapshot(sh_hwv(), view, 64);
	for (i = 0; i < n && i < 64; i++) {
		if (view[i].kind != HW_TLB_LEAF || view[i].page != 0x400)
			continue;
		assert_true(view[i].linear);
		assert_int_equal(view[i].pfn, a);
		assert_ptr_equal(view[i].sptep, la);
		assert_int_equal(view[i].spte, atomic_load(la));
		assert_int_equal(view[i].gfn, HW_GFN_UNKNOWN);
		assert_int_equal(view[i].root_pfn, sh.entry.root_pfn);
		assert_int_equal(view[i].tables[3], sh.entry.root_pfn);
		assert_true(view[i].tables[0] != 0);
		seen++;
	}
	assert_int_equal(seen, 1);
	/* No gfn to report: a snapshot of leaves over gfns never holds them. */
	assert_int_equal(hw_tlb_snapshot_leaves(sh_hwv(), 0, 1 << 20, view, 64), 0);
	sh_end();
}

/*
 * A hole in the shadow table: a #PF exit with the gva, the error code and
 * the access; not skipped, it runs again at each entry until KVM fills the
 * SPTE, then succeeds.
 */
static void test_shadow_page_fault_exit(void **state)
{
	struct kvmmu_exit e;
	u64 a;

	sh_begin(4);
	sh_regs_64(0, 0);
	a = sh_frame();
	sh.list[0] = (struct hw_access){ .op = HW_STORE, .size = 2, .addr = 0x600010,
					 .value = 0x12345 };
	sh.list[1] = (struct hw_access){ .op = HW_LOAD, .size = 2, .addr = 0x600010 };
	sh_load(2);
	e = sh_run();
	assert_pf(&e, 0x600010, PFERR_WRITE_MASK);
	assert_int_equal(e.insn.op, KVMMU_INSN_STORE);
	assert_int_equal(e.insn.size, 2);
	assert_int_equal(e.insn.value, 0x2345);
	assert_int_equal(hw_vcpu_progress(sh_hwv()), 0);
	/* Entered again without a fix: the same access faults again. */
	e = sh_run();
	assert_pf(&e, 0x600010, PFERR_WRITE_MASK);
	assert_int_equal(hw_vcpu_progress(sh_hwv()), 0);
	assert_int_equal(stats(0).exits_page_fault, 2);
	assert_int_equal(stats(0).guest_faults, 0);
	/* KVM fills the SPTE: the store is retried and lands, then the load. */
	sh_map(0x600000, a, 1, SPTE_P | SPTE_W);
	assert_int_equal(sh_run().reason, KVMMU_EXIT_HLT);
	assert_int_equal(atomic_load(sh_word(a, 0x10)), 0x2345);
	assert_int_equal(sh.list[1].value, 0x2345);

	/* At CPL 3 a hole reports U; a fetch reports I/D (NX is on). */
	sh_regs_64(3, 0);
	e = sh_one(HW_LOAD, 1, 0x800003, 0);
	assert_pf(&e, 0x800003, PFERR_USER_MASK);
	assert_int_equal(e.insn.op, KVMMU_INSN_LOAD);
	assert_int_equal(e.insn.size, 1);
	assert_int_equal(e.insn.value, 0);
	e = sh_one(HW_STORE, 8, 0x800008, 5);
	assert_pf(&e, 0x800008, PFERR_WRITE_MASK | PFERR_USER_MASK);
	assert_int_equal(e.insn.value, 5);
	sh_regs_64(0, 0);
	e = sh_one(HW_FETCH, 4, 0x800004, 0);
	assert_pf(&e, 0x800004, PFERR_FETCH_MASK);
	assert_int_equal(e.insn.op, KVMMU_INSN_FETCH);
	assert_int_equal(e.insn.size, 4);
	/* A reserved bit (above MAXPHYADDR) in the leaf: P|RSVD, as KVM's MMIO SPTEs. */
	sh_map(0x801000, a, 1, SPTE_P | SPTE_W | BIT_ULL(51));
	e = sh_one(HW_STORE, 8, 0x801000, 1);
	assert_pf(&e, 0x801000, PFERR_PRESENT_MASK | PFERR_WRITE_MASK | PFERR_RSVD_MASK);
	sh_end();
}

/*
 * Permissions, as the CPU judges them with the guest's registers: R/W with
 * CR0.WP forced on, U/S with the CPL, NX, SMEP, SMAP with RFLAGS.AC,
 * protection keys; a TLB hit is judged by the CPU state of the moment,
 * not of the fill.
 */
static void test_shadow_protection(void **state)
{
	const u64 ro = 0x10000, sup = 0x11000, usr = 0x12000, nx = 0x13000;
	struct kvmmu_guest_regs r;
	struct kvmmu_exit e;
	u64 f;

	sh_begin(4);
	sh_regs_64(0, 0);
	f = sh_frame();
	atomic_store(sh_word(f, 0), 0x42);
	sh_map(ro, f, 1, SPTE_P | SPTE_U);
	sh_map(sup, f, 1, SPTE_P | SPTE_W);
	sh_map(usr, f, 1, SPTE_P | SPTE_W | SPTE_U);
	sh_map(nx, f, 1, SPTE_P | SPTE_W | PT64_NX_MASK);

	/* Read-only: loads go, a store faults P|W even for the kernel (WP), and changes nothing. */
	assert_int_equal(sh_ok(HW_LOAD, ro, 0), 0x42);
	e = sh_one(HW_STORE, 8, ro, 7);
	assert_pf(&e, ro, PFERR_PRESENT_MASK | PFERR_WRITE_MASK);
	assert_int_equal(atomic_load(sh_word(f, 0)), 0x42);
	hw_ops.skip_instruction(sh_hwv());
	assert_true(hw_vcpu_done(sh_hwv()));

	/* A supervisor page: cached at CPL 0, a CPL-3 access faults P|U all the same. */
	assert_int_equal(sh_ok(HW_LOAD, sup, 0), 0x42);
	sh_regs_64(3, 0);
	e = sh_one(HW_LOAD, 8, sup, 0);
	assert_pf(&e, sup, PFERR_PRESENT_MASK | PFERR_USER_MASK);
	assert_int_equal(sh_ok(HW_LOAD, usr, 0), 0x42);
	/* And back at CPL 0 by HW_SET_CPL (not intercepted): allowed again. */
	sh.list[0] = (struct hw_access){ .op = HW_SET_CPL, .value = 0 };
	sh.list[1] = (struct hw_access){ .op = HW_LOAD, .addr = sup };
	sh_load(2);
	assert_int_equal(sh_run().reason, KVMMU_EXIT_HLT);
	assert_int_equal(sh.list[1].value, 0x42);
	hw_ops.get_regs(sh_hwv(), &r);
	assert_int_equal(r.cpl, 0);

	/* SMEP: the kernel fetching from a user page faults P|I/D; without SMEP it runs. */
	assert_int_equal(sh_one(HW_FETCH, 8, usr, 0).reason, KVMMU_EXIT_HLT);
	sh_regs_64(0, X86_CR4_SMEP);
	e = sh_one(HW_FETCH, 8, usr, 0);
	assert_pf(&e, usr, PFERR_PRESENT_MASK | PFERR_FETCH_MASK);
	/* ... but not with the guest's paging off (KVM's CR4 for it has no SMEP). */
	r.cr0 = 0;
	r.cr4 = X86_CR4_SMEP;
	r.efer = 0;
	hw_ops.set_regs(sh_hwv(), &r);
	assert_int_equal(sh_one(HW_FETCH, 8, usr, 0).reason, KVMMU_EXIT_HLT);

	/* NX: a fetch faults P|I/D, a load goes. */
	sh_regs_64(0, 0);
	e = sh_one(HW_FETCH, 8, nx, 0);
	assert_pf(&e, nx, PFERR_PRESENT_MASK | PFERR_FETCH_MASK);
	assert_int_equal(sh_ok(HW_LOAD, nx, 0), 0x42);

	/* SMAP: the kernel's load from a user page faults P, until STAC (not intercepted). */
	sh_regs_64(0, X86_CR4_SMAP);
	e = sh_one(HW_LOAD, 8, usr, 0);
	assert_pf(&e, usr, PFERR_PRESENT_MASK);
	sh.list[0] = (struct hw_access){ .op = HW_SET_AC, .value = 1 };
	sh.list[1] = (struct hw_access){ .op = HW_LOAD, .addr = usr };
	sh.list[2] = (struct hw_access){ .op = HW_SET_AC, .value = 0 };
	sh.list[3] = (struct hw_access){ .op = HW_LOAD, .addr = usr };
	sh_load(4);
	/* After CLAC the entry the first load cached does not serve the second. */
	e = sh_run();
	assert_pf(&e, usr, PFERR_PRESENT_MASK);
	assert_int_equal(sh.list[1].value, 0x42);
	assert_int_equal(hw_vcpu_progress(sh_hwv()), 3);

	/* Protection keys: WRPKRU (not intercepted) denying key 0 faults a user load P|PK. */
	sh_regs_64(0, X86_CR4_PKE);
	assert_int_equal(sh_ok(HW_LOAD, usr, 0), 0x42);
	sh.list[0] = (struct hw_access){ .op = HW_WRPKRU, .value = 1 };
	sh.list[1] = (struct hw_access){ .op = HW_LOAD, .addr = usr };
	sh_load(2);
	e = sh_run();
	assert_pf(&e, usr, PFERR_PRESENT_MASK | PFERR_PK_MASK);
	assert_int_equal(hw_vcpu_progress(sh_hwv()), 1);
	assert_int_equal(stats(0).exits_cr_access + stats(0).exits_invlpg, 0);
	sh_end();
}

static void assert_regs_equal(const struct kvmmu_guest_regs *a, const struct kvmmu_guest_regs *b)
{
	assert_int_equal(a->cr0, b->cr0);
	assert_int_equal(a->cr3, b->cr3);
	assert_int_equal(a->cr4, b->cr4);
	assert_int_equal(a->efer, b->efer);
	assert_int_equal(a->rflags, b->rflags);
	assert_int_equal(a->pkru, b->pkru);
	assert_int_equal(a->cpl, b->cpl);
	assert_memory_equal(a->pdptrs, b->pdptrs, sizeof(a->pdptrs));
}

/*
 * KVM intercepts the guest's CR0, CR3, CR4 and EFER writes and INVLPG (and
 * a full TLB flush, a MOV to CR3 of CR3): each exits with what it writes,
 * changes nothing in the CPU, and KVM's skip_instruction goes past it.
 * An illegal write takes #GP in the CPU and never reaches KVM.  CPL, AC
 * and PKRU changes run in the CPU.
 */
static void test_shadow_intercepts(void **state)
{
	static const struct {
		u8 op;
		u64 addr, value;
		enum kvmmu_exit_reason reason;
		u32 cr;
		u64 exit_value;
	} steps[] = {
		{ HW_MOV_CR3, 0, 0x5000, KVMMU_EXIT_CR_ACCESS, 3, 0x5000 },
		{ HW_MOV_CR4, 0, X86_CR4_PAE | X86_CR4_SMEP, KVMMU_EXIT_CR_ACCESS, 4,
		  X86_CR4_PAE | X86_CR4_SMEP },
		{ HW_MOV_CR4, 0, 0, KVMMU_EXIT_HLT, 0, 0 }, /* #GP: long mode needs PAE */
		{ HW_WRMSR_EFER, 0, EFER_LME | EFER_NX, KVMMU_EXIT_CR_ACCESS, KVMMU_CR_EFER,
		  EFER_LME | EFER_NX },
		{ HW_WRMSR_EFER, 0, EFER_NX, KVMMU_EXIT_HLT, 0, 0 }, /* #GP: LME with paging on */
		{ HW_MOV_CR0, 0, X86_CR0_PG | 1, KVMMU_EXIT_CR_ACCESS, 0, X86_CR0_PG | 1 },
		{ HW_INVLPG, 0x400128, 0, KVMMU_EXIT_INVLPG, 0, 0 },
		{ HW_FLUSH_TLB, 0, 0, KVMMU_EXIT_CR_ACCESS, 3, 0x1000 },
		{ HW_SET_CPL, 0, 3, KVMMU_EXIT_HLT, 0, 0 },
		{ HW_WRPKRU, 0, 0xc, KVMMU_EXIT_HLT, 0, 0 },
		{ HW_SET_AC, 0, 1, KVMMU_EXIT_HLT, 0, 0 },
		{ HW_LOAD, 0x400008, 0, KVMMU_EXIT_HLT, 0, 0 },
	};
	struct kvmmu_guest_regs before, after;
	struct kvmmu_exit e;
	u64 a, i, pc = 0, exits = 0;

	sh_begin(4);
	sh_regs_64(0, 0);
	a = sh_frame();
	atomic_store(sh_word(a, 8), 0x99);
	sh_map(0x400000, a, 1, SPTE_P | SPTE_W | SPTE_U);
	for (i = 0; i < ARRAY_SIZE(steps); i++)
		sh.list[i] = (struct hw_access){ .op = steps[i].op, .addr = steps[i].addr,
						 .value = steps[i].value };
	sh_load(ARRAY_SIZE(steps));
	hw_ops.get_regs(sh_hwv(), &before);
	/* Each intercepted instruction exits in its turn; the others run through. */
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		if (steps[i].reason == KVMMU_EXIT_HLT)
			continue;
		e = sh_run();
		assert_int_equal(e.reason, steps[i].reason);
		if (e.reason == KVMMU_EXIT_INVLPG) {
			assert_int_equal(e.gva, steps[i].addr);
		} else {
			assert_int_equal(e.cr, steps[i].cr);
			assert_int_equal(e.value, steps[i].exit_value);
		}
		/* Not executed: stopped at the instruction, the registers as they were. */
		assert_int_equal(hw_vcpu_progress(sh_hwv()), i);
		hw_ops.get_regs(sh_hwv(), &after);
		assert_regs_equal(&after, &before);
		/* Entered again without KVM: the same exit. */
		e = sh_run();
		assert_int_equal(e.reason, steps[i].reason);
		assert_int_equal(hw_vcpu_progress(sh_hwv()), i);
		hw_ops.skip_instruction(sh_hwv());
		assert_int_equal(hw_vcpu_progress(sh_hwv()), i + 1);
		exits++;
		pc = i + 1;
	}
	assert_int_equal(pc, 8);
	assert_int_equal(sh_run().reason, KVMMU_EXIT_HLT);
	assert_true(hw_vcpu_done(sh_hwv()));
	assert_int_equal(sh.list[ARRAY_SIZE(steps) - 1].value, 0x99);
	assert_int_equal(stats(0).guest_gps, 2);
	assert_int_equal(stats(0).exits_cr_access, 2 * (exits - 1));
	assert_int_equal(stats(0).exits_invlpg, 2);
	hw_ops.get_regs(sh_hwv(), &after);
	assert_int_equal(after.cr0, before.cr0);
	assert_int_equal(after.cr3, before.cr3);
	assert_int_equal(after.cr4, before.cr4);
	assert_int_equal(after.efer, before.efer);
	assert_int_equal(after.cpl, 3);
	assert_int_equal(after.pkru, 0xc);
	assert_int_equal(after.rflags, before.rflags | X86_EFLAGS_AC);
	sh_end();
}

/*
 * The registers round-trip through set_regs/get_regs and set_regs flushes
 * nothing; an injected #PF skips the access that exited and leaves CR2
 * and the error code for the guest.
 */
static void test_shadow_regs_and_inject(void **state)
{
	const struct kvmmu_guest_regs r = {
		.cr0 = X86_CR0_PG | X86_CR0_WP | 1, .cr3 = 0x123000,
		.cr4 = X86_CR4_PAE | X86_CR4_PKE,
		.efer = EFER_LME | EFER_LMA | EFER_NX, .rflags = 2 | X86_EFLAGS_AC, .pkru = 0x55,
		.cpl = 3, .pdptrs = { 0x1001, 0x2001, 0x3001, 0x4001 },
	};
	struct kvmmu_guest_regs got;
	struct kvmmu_exit e;
	_Atomic u64 *leaf;
	u64 a, b, cr2, error_code;

	sh_begin(4);
	hw_ops.set_regs(sh_hwv(), &r);
	memset(&got, 0xff, sizeof(got));
	hw_ops.get_regs(sh_hwv(), &got);
	assert_regs_equal(&got, &r);

	sh_regs_64(0, 0);
	a = sh_frame();
	b = sh_frame();
	leaf = sh_map(0x400000, a, 1, SPTE_P | SPTE_W);
	sh.list[0] = (struct hw_access){ .op = HW_LOAD, .addr = 0x900000, .value = 0x99 };
	sh.list[1] = (struct hw_access){ .op = HW_STORE, .addr = 0x400000, .value = 0x1234 };
	sh_load(2);
	e = sh_run();
	assert_pf(&e, 0x900000, 0);
	/* KVM finds no guest mapping either: the guest's #PF. */
	hw_ops.inject_page_fault(sh_hwv(), e.gva, e.error_code);
	assert_int_equal(hw_vcpu_progress(sh_hwv()), 1);
	assert_int_equal(stats(0).guest_faults, 1);
	hw_vcpu_last_pf(sh_hwv(), &cr2, &error_code);
	assert_int_equal(cr2, 0x900000);
	assert_int_equal(error_code, 0);
	assert_int_equal(sh_run().reason, KVMMU_EXIT_HLT);
	assert_int_equal(sh.list[0].value, 0x99); /* skipped: nothing loaded */
	assert_int_equal(atomic_load(sh_word(a, 0)), 0x1234);
	/* A protection fault injected as such, at CPL 3. */
	sh_regs_64(3, 0);
	e = sh_one(HW_LOAD, 8, 0x400000, 0);
	assert_pf(&e, 0x400000, PFERR_PRESENT_MASK | PFERR_USER_MASK);
	hw_ops.inject_page_fault(sh_hwv(), e.gva, e.error_code);
	assert_true(hw_vcpu_done(sh_hwv()));
	hw_vcpu_last_pf(sh_hwv(), &cr2, &error_code);
	assert_int_equal(cr2, 0x400000);
	assert_int_equal(error_code, PFERR_PRESENT_MASK | PFERR_USER_MASK);
	assert_int_equal(stats(0).guest_faults, 2);

	/* set_regs flushes nothing: a stale translation stays, whatever CR3 says. */
	sh_regs_64(0, 0);
	atomic_store(sh_word(b, 0), 0x5678);
	assert_int_equal(sh_ok(HW_LOAD, 0x400000, 0), 0x1234);
	atomic_store(leaf, (b << PAGE_SHIFT) | SPTE_P | SPTE_W);
	got = r;
	got.cpl = 0;
	got.cr3 = 0x777000;
	got.cr4 = X86_CR4_PAE;
	hw_ops.set_regs(sh_hwv(), &got);
	assert_int_equal(sh_ok(HW_LOAD, 0x400000, 0), 0x1234);
	hw_ops.flush_tlb_current(sh_hwv(), sh.entry.root_pfn);
	assert_int_equal(sh_ok(HW_LOAD, 0x400000, 0), 0x5678);
	sh_end();
}

/*
 * flush_tlb_gva drops the gva's translation and no other: a shadow entry
 * changed without a flush keeps being used, until INVLPG's flush.  A 2M
 * shadow leaf, cached 4K at a time, goes entirely on a flush of any gva
 * of it.  flush_tlb_current and flush_tlb_all work for shadow contexts.
 */
static void test_shadow_flush_gva(void **state)
{
	const u64 huge = 0x40000000;
	_Atomic u64 *l0, *l1, *l2m;
	struct kvmmu_exit e;
	u64 a, b, c, d, big;

	sh_begin(4);
	sh_regs_64(0, 0);
	a = sh_frame();
	b = sh_frame();
	c = sh_frame();
	d = sh_frame();
	atomic_store(sh_word(a, 0), 1);
	atomic_store(sh_word(b, 0), 2);
	atomic_store(sh_word(c, 0), 3);
	atomic_store(sh_word(d, 0), 4);
	l0 = sh_map(0x400000, a, 1, SPTE_P | SPTE_W);
	l1 = sh_map(0x401000, c, 1, SPTE_P | SPTE_W);
	assert_int_equal(sh_ok(HW_LOAD, 0x400000, 0), 1);
	assert_int_equal(sh_ok(HW_LOAD, 0x401000, 0), 3);
	/* Both SPTEs repointed, no flush: both old frames still in use. */
	atomic_store(l0, (b << PAGE_SHIFT) | SPTE_P | SPTE_W);
	atomic_store(l1, (d << PAGE_SHIFT) | SPTE_P | SPTE_W);
	assert_int_equal(sh_ok(HW_LOAD, 0x400000, 0), 1);
	assert_int_equal(sh_ok(HW_LOAD, 0x401000, 0), 3);
	/* INVLPG 0x400000: that gva walks again, its neighbour does not. */
	hw_ops.flush_tlb_gva(sh_hwv(), 0x400abc);
	assert_int_equal(sh_ok(HW_LOAD, 0x400000, 0), 2);
	assert_int_equal(sh_ok(HW_LOAD, 0x401000, 0), 3);
	assert_int_equal(stats(0).flushes_gva, 1);
	/* The whole context. */
	hw_ops.flush_tlb_current(sh_hwv(), sh.entry.root_pfn);
	assert_int_equal(sh_ok(HW_LOAD, 0x401000, 0), 4);
	atomic_store(l1, (c << PAGE_SHIFT) | SPTE_P | SPTE_W);
	hw_ops.flush_tlb_all(sh_hwv());
	assert_int_equal(sh_ok(HW_LOAD, 0x401000, 0), 3);

	/* A 2M leaf: two of its 4K pages cached. */
	big = sh_frames(9);
	assert_int_equal(big & 511, 0);
	atomic_store(sh_word(big + 1, 0), 0x11);
	atomic_store(sh_word(big + 3, 0), 0x33);
	l2m = sh_map(huge, big, 2, SPTE_P | SPTE_W);
	assert_int_equal(sh_ok(HW_LOAD, huge + 0x1000, 0), 0x11);
	assert_int_equal(sh_ok(HW_LOAD, huge + 0x3000, 0), 0x33);
	/* Zapped without a flush: still cached, and another 4K entry is stale too. */
	atomic_store(l2m, 0);
	atomic_store(l1, (d << PAGE_SHIFT) | SPTE_P | SPTE_W);
	assert_int_equal(sh_ok(HW_LOAD, huge + 0x1000, 0), 0x11);
	/* INVLPG of a gva of the 2M page never touched: the whole page goes. */
	hw_ops.flush_tlb_gva(sh_hwv(), huge + 0x5000);
	e = sh_one(HW_LOAD, 8, huge + 0x1000, 0);
	assert_pf(&e, huge + 0x1000, 0);
	e = sh_one(HW_LOAD, 8, huge + 0x3000, 0);
	assert_pf(&e, huge + 0x3000, 0);
	/* ... and only that page. */
	assert_int_equal(sh_ok(HW_LOAD, 0x401000, 0), 3);
	sh_end();
}

/*
 * 5-level shadow tables: the gva's bits 56:48 index the root, and gvas
 * that differ only in bits 56:52 are different pages to the TLB too.
 */
static void test_shadow_five_level(void **state)
{
	static struct hw_tlb_view view[16];
	const u64 gva = 0x00f0123456789000ULL, alias = 0x00e0123456789000ULL;
	_Atomic u64 *leaf;
	struct kvmmu_exit e;
	u64 a, b;
	int i, n;

	sh_begin(5);
	sh_regs_64(0, X86_CR4_LA57);
	a = sh_frame();
	b = sh_frame();
	leaf = sh_map(gva, a, 1, SPTE_P | SPTE_W);
	assert_int_equal(PT64_INDEX(gva, 5), 0xf0);
	sh.list[0] = (struct hw_access){ .op = HW_STORE, .addr = gva + 8, .value = 0x5a };
	sh.list[1] = (struct hw_access){ .op = HW_LOAD, .addr = gva + 8 };
	sh_load(2);
	assert_int_equal(sh_run().reason, KVMMU_EXIT_HLT);
	assert_int_equal(sh.list[1].value, 0x5a);
	assert_int_equal(atomic_load(sh_word(a, 8)), 0x5a);
	assert_true(atomic_load(sh_entry(gva, 5)) & PT_ACCESSED_MASK);
	assert_true(atomic_load(leaf) & PT_DIRTY_MASK);
	n = hw_tlb_snapshot(sh_hwv(), view, 16);
	assert_int_equal(n, 1);
	assert_int_equal(view[0].page, gva >> PAGE_SHIFT);
	assert_int_equal(view[0].tables[4], sh.entry.root_pfn);
	for (i = 0; i < 5; i++)
		assert_true(view[0].tables[i] != 0);
	/* Another level-5 index, bits 51:0 the same (all a TLB key holds of a gva): a hole. */
	assert_int_equal(alias, gva ^ BIT_ULL(52));
	e = sh_one(HW_LOAD, 8, alias + 8, 0);
	assert_pf(&e, alias + 8, 0);
	/* Mapped, it has its own frame, and each gva keeps its own. */
	atomic_store(sh_word(b, 8), 0xb);
	sh_map(alias, b, 1, SPTE_P | SPTE_W);
	assert_int_equal(sh_ok(HW_LOAD, alias + 8, 0), 0xb);
	assert_int_equal(sh_ok(HW_LOAD, gva + 8, 0), 0x5a);
	/* INVLPG of the alias leaves the gva's translation alone. */
	atomic_store(leaf, (b << PAGE_SHIFT) | SPTE_P | SPTE_W);
	hw_ops.flush_tlb_gva(sh_hwv(), alias);
	assert_int_equal(sh_ok(HW_LOAD, gva + 8, 0), 0x5a);
	hw_ops.flush_tlb_gva(sh_hwv(), gva);
	assert_int_equal(sh_ok(HW_LOAD, gva + 8, 0), 0xb);
	sh_end();
}

static u64 read_tables[8];
static int nr_read_tables;

static void record_table_read(struct kvmmu_observer *obs, const struct kvmmu_event *ev)
{
	if (ev->table.reader == KVMMU_READER_WALKER && nr_read_tables < 8)
		read_tables[nr_read_tables++] = ev->table.pfn;
}

static struct kvmmu_observer table_recorder = {
	.name = "table-reads",
	.mask = BIT_ULL(KVMMU_EV_TABLE_READ),
	.notify = record_table_read,
};

/* A shadow entry pointing at a freed table: reported, not read, a not-present #PF. */
static void test_shadow_freed_table(void **state)
{
	struct kvmmu_exit e;
	u64 pt;
	int i;

	sh_begin(4);
	sh_regs_64(0, 0);
	sh_map(0x400000, sh_frame(), 1, SPTE_P | SPTE_W);
	/* Free the last table, which the PDE still points at. */
	pt = (atomic_load(sh_entry(0x400000, 2)) & PT64_PFN_MASK) >> PAGE_SHIFT;
	for (i = 0; i < sh.nr; i++)
		if (sh.frames[i] == pt)
			sh.frames[i] = sh.frames[--sh.nr];
	phys_free(fix.w.phys, pt);
	nr_read_tables = 0;
	assert_int_equal(kvmmu_observer_register(&table_recorder), 0);
	e = sh_one(HW_STORE, 8, 0x400000, 1);
	kvmmu_observer_unregister(&table_recorder);
	assert_pf(&e, 0x400000, PFERR_WRITE_MASK);
	assert_int_equal(stats(0).freed_table_reads, 1);
	assert_int_equal(nr_read_tables, 4);
	assert_int_equal(read_tables[0], sh.entry.root_pfn);
	assert_int_equal(read_tables[3], pt);
	sh_end();
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
	FIX_TEST(test_shadow_translation),
	FIX_TEST(test_shadow_page_fault_exit),
	FIX_TEST(test_shadow_protection),
	FIX_TEST(test_shadow_intercepts),
	FIX_TEST(test_shadow_regs_and_inject),
	FIX_TEST(test_shadow_flush_gva),
	FIX_TEST(test_shadow_five_level),
	FIX_TEST(test_shadow_freed_table),
	FIX_TEST(test_data_survives_host_operations),
	FIX_TEST(test_data_survives_reclaim),
	FIX_TEST(test_data_with_concurrent_churn),
	FIX_TEST(test_ad_survive_dirty_logging),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
