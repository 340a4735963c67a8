// SPDX-License-Identifier: GPL-2.0-only
/*
 * Shadow paging (ept=0) on the simulated CPU: a 64-bit guest's own page
 * tables, built in guest memory as a selftest's virt_map() does, shadowed
 * by KVM.  The CPU walks KVM's shadow tables by linear address and every
 * #PF exits: a missing SPTE is filled by FNAME(page_fault), the guest's
 * own fault is injected; the guest's tables are write-tracked (above 4K)
 * or write-protected, so its stores to them are emulated and zap what
 * they change; CR3 loads and INVLPG exit to KVM.  Unpaged, 32-bit and PAE
 * guests go through the PAE root.  Teardown leaves no page, rmap or write-track
 * count behind.
 */
#include <errno.h>
#include <string.h>

#include "mmu.h"
#include "mmu_internal.h"
#include "page_track.h"
#include "test.h"
#include "thread.h"
#include "vm_fixture.h"

#define MB (1UL << 20)

#define GPTE_P BIT_ULL(0)
#define GPTE_W BIT_ULL(1)
#define GPTE_U BIT_ULL(2)
#define GPTE_A BIT_ULL(5)
#define GPTE_D BIT_ULL(6)

/* The guest's tables: gva 0x40000000 + x -> gpa 0x200000 + x, x < 1 MiB. */
#define PML4 0x100000ULL
#define PDPT 0x101000ULL
#define PD 0x102000ULL
#define PT 0x103000ULL
#define GVA 0x40000000ULL
#define DATA 0x200000ULL

static struct vm_fixture fix;

static int teardown_fix(void **state)
{
	if (vm_fixture_destroy(&fix))
		return -1;
	return kvmmu_test_teardown(state);
}

#define FIX_TEST(fn) cmocka_unit_test_setup_teardown(fn, kvmmu_test_setup, teardown_fix)

static struct kvm *kvm(void)
{
	return fix.w.kvm;
}

static void create(void)
{
	struct vm_fixture_opts o = {
		.mem_size = 4 * MB, .nr_vcpus = 1, .real_hw = true, .mmu = WORLD_MMU_SHADOW,
	};

	assert_int_equal(vm_fixture_create(&fix, &o), 0);
	assert_false(kvm()->arch.tdp_enabled);
	assert_false(kvm()->arch.tdp_mmu_enabled);
}

static void guest_write(gpa_t gpa, u64 v)
{
	assert_int_equal(host_access(fix.w.mm, fix.w.cfg.mem[0].hva + gpa, true, &v), 0);
}

static u64 guest_read(gpa_t gpa)
{
	u64 v = 0;

	assert_int_equal(host_access(fix.w.mm, fix.w.cfg.mem[0].hva + gpa, false, &v), 0);
	return v;
}

static void build_guest_tables(void)
{
	u64 i;

	guest_write(PML4 + 0 * 8, PDPT | GPTE_P | GPTE_W);
	guest_write(PDPT + 1 * 8, PD | GPTE_P | GPTE_W);
	guest_write(PD + 0 * 8, PT | GPTE_P | GPTE_W);
	for (i = 0; i < 256; i++)
		guest_write(PT + i * 8, (DATA + i * PAGE_SIZE) | GPTE_P | GPTE_W);
}

/* Run @n accesses as a 64-bit kernel on the guest's tables, to the end. */
static void run(struct hw_access *list, u64 n, bool paging)
{
	struct hw_program p = { .list = list, .len = n, .paging = paging ? 4 : 0, .cr3 = PML4 };

	assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, 0), &p), 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_true(hw_vcpu_done(fix_hwv(&fix, 0)));
}

static u64 stat(const char *name)
{
	return kvmmu_vcpu_stat(fix.w.vcpus[0], name);
}

static u16 write_track(gfn_t gfn)
{
	const struct kvm_memory_slot *slot = gfn_to_memslot(kvm(), gfn);

	assert_non_null(slot);
	assert_non_null(slot->arch.gfn_write_track);
	return slot->arch.gfn_write_track[gfn - slot->base_gfn];
}

/* Loads and stores go through shadow pages of the guest's tables. */
static void test_guest_tables_are_shadowed(void **state)
{
	struct hw_access prog[] = {
		{ .op = HW_STORE, .addr = GVA + 0x3008, .value = 123 },
		{ .op = HW_LOAD, .addr = GVA + 0x3008 },
		{ .op = HW_STORE, .addr = GVA + 0xff000, .value = 456 },
		{ .op = HW_LOAD, .addr = GVA + 0xff000 },
	};
	struct kvm_mmu_page *sp;
	int indirect = 0;

	create();
	build_guest_tables();
	run(prog, 4, true);
	assert_int_equal(prog[1].value, 123);
	assert_int_equal(prog[3].value, 456);
	assert_int_equal(guest_read(DATA + 0x3008), 123);
	assert_int_equal(guest_read(DATA + 0xff000), 456);
	/* Two pages, each faulted in once (a store: W with D). */
	assert_int_equal(stat("pf_fixed"), 2);
	assert_int_equal(stat("pf_guest"), 0);

	/* One shadow page per guest table: the root shadows the PML4. */
	write_lock(&kvm()->mmu_lock);
	list_for_each_entry(sp, &kvm()->arch.active_mmu_pages, link) {
		assert_false(sp->role.direct);
		assert_true(sp->gfn == PML4 >> PAGE_SHIFT || sp->gfn == PDPT >> PAGE_SHIFT ||
			    sp->gfn == PD >> PAGE_SHIFT || sp->gfn == PT >> PAGE_SHIFT);
		indirect++;
	}
	write_unlock(&kvm()->mmu_lock);
	assert_int_equal(indirect, 4);
	assert_int_equal(kvm()->arch.indirect_shadow_pages, 4);
	assert_int_equal(root_to_sp(kvm(), fix.w.vcpus[0]->arch.mmu->root.hpa)->gfn,
			 PML4 >> PAGE_SHIFT);
	/* Upper-level tables are write-tracked; the 4K table is only write-protected. */
	assert_int_equal(write_track(PML4 >> PAGE_SHIFT), 1);
	assert_int_equal(write_track(PDPT >> PAGE_SHIFT), 1);
	assert_int_equal(write_track(PD >> PAGE_SHIFT), 1);
	assert_int_equal(write_track(PT >> PAGE_SHIFT), 0);
	/* The walk set A (and D for the stores) in the guest's own entries. */
	assert_true(guest_read(PT + 3 * 8) & GPTE_A);
	assert_true(guest_read(PT + 3 * 8) & GPTE_D);
	assert_true(guest_read(PML4) & GPTE_A);
}

/* A gva the guest does not map: the guest gets the #PF, with its error code. */
static void test_guest_fault_is_injected(void **state)
{
	struct hw_access prog[] = {
		{ .op = HW_STORE, .addr = GVA + 0x200000, .value = 1 },
		{ .op = HW_LOAD, .addr = GVA + 0x1000 },
	};
	u64 cr2, error_code;

	create();
	build_guest_tables();
	run(prog, 2, true);
	hw_vcpu_last_pf(fix_hwv(&fix, 0), &cr2, &error_code);
	assert_int_equal(cr2, GVA + 0x200000);
	/* Not present, a write, by the kernel. */
	assert_int_equal(error_code, PFERR_WRITE_MASK);
	assert_int_equal(stat("pf_guest"), 1);
	/* The program went on after the faulting store. */
	assert_int_equal(stat("pf_fixed"), 1);
}

/*
 * A CR3 outside every memslot: KVM loads the dummy root (no shadow page),
 * every access faults there and the guest's own walk fails, so the guest
 * gets the #PF.  Once a memslot shows the table, the fault's walk succeeds
 * on the dummy root: KVM reloads, and the store lands.
 */
static void test_dummy_root(void **state)
{
	const gpa_t cr3 = 0x900000; /* slot 1's, which does not exist yet */
	struct hw_access prog[] = { { .op = HW_STORE, .addr = GVA + 0x3008, .value = 77 } };
	struct hw_program p = { .list = prog, .len = 1, .paging = 4, .cr3 = cr3 };
	struct kvm_mmu_page *sp;
	u64 cr2, error_code;

	create();
	build_guest_tables();
	/* A copy of the PML4 at gpa 3M, which slot 1 will show at 9M. */
	guest_write(0x300000, PDPT | GPTE_P | GPTE_W);
	assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, 0), &p), 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_true(kvm_mmu_is_dummy_root(kvm(), fix.w.vcpus[0]->arch.mmu->root.hpa));
	assert_null(root_to_sp(kvm(), fix.w.vcpus[0]->arch.mmu->root.hpa));
	hw_vcpu_last_pf(fix_hwv(&fix, 0), &cr2, &error_code);
	assert_int_equal(cr2, GVA + 0x3008);
	assert_int_equal(error_code, PFERR_WRITE_MASK);
	assert_int_equal(stat("pf_guest"), 1);
	assert_int_equal(guest_read(DATA + 0x3008), 0);

	{
		const struct kvm_userspace_memory_region slot1 = {
			.slot = 1, .guest_phys_addr = 0x800000, .memory_size = 2 * MB,
			.userspace_addr = fix.w.cfg.mem[0].hva + 2 * MB,
		};

		assert_int_equal(kvmmu_set_user_memory_region(kvm(), &slot1), 0);
	}
	p.paging = 0; /* the same CPU state: KVM keeps the dummy root until a fault */
	assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, 0), &p), 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_int_equal(guest_read(DATA + 0x3008), 77);
	assert_int_equal(stat("pf_guest"), 1);
	sp = root_to_sp(kvm(), fix.w.vcpus[0]->arch.mmu->root.hpa);
	assert_non_null(sp);
	assert_int_equal(sp->gfn, cr3 >> PAGE_SHIFT);
}

/* A valid shadow page of @gfn with gPTEs, or NULL. */
static struct kvm_mmu_page *shadow_page_of(gfn_t gfn)
{
	struct kvm_mmu_page *sp;

	list_for_each_entry(sp, &kvm()->arch.active_mmu_pages, link) {
		if (sp->gfn == gfn && !sp->role.direct && !sp->role.invalid)
			return sp;
	}
	return NULL;
}

/*
 * A string store to a page the guest used as a page directory elsewhere
 * (not in the store's own walk; a table above 4K is write-tracked, never
 * unsync): KVM unprotects the gfn, zapping its shadow page, and the CPU
 * redoes the store itself; nothing is emulated.  A MOV there, once the
 * page is a shadowed table again, is emulated.
 */
static void test_unprotect_and_retry(void **state)
{
	const gpa_t pd2 = 0x104000;
	const u64 gva2 = 0x80000000ULL; /* PDPT entry 2 -> pd2 -> the PT */
	struct hw_access prog[] = {
		{ .op = HW_LOAD, .addr = gva2 + 0x3000 },
		{ .op = HW_STOS, .addr = GVA + 200 * PAGE_SIZE + 0x10, .value = 0x5151 },
	};
	struct hw_access again[] = {
		{ .op = HW_LOAD, .addr = gva2 + 0x3000 },
		{ .op = HW_STORE, .addr = GVA + 200 * PAGE_SIZE + 0x18, .value = 0x6262 },
	};
	u64 emulated;

	create();
	build_guest_tables();
	guest_write(PDPT + 2 * 8, pd2 | GPTE_P | GPTE_W);
	guest_write(pd2, PT | GPTE_P | GPTE_W);
	/* gva GVA + 800K maps pd2 as data. */
	guest_write(PT + 200 * 8, pd2 | GPTE_P | GPTE_W);
	run(prog, 1, true);
	assert_non_null(shadow_page_of(pd2 >> PAGE_SHIFT));
	assert_int_equal(write_track(pd2 >> PAGE_SHIFT), 1);
	emulated = stat("pf_emulate");
	run(prog + 1, 1, false);
	assert_int_equal(guest_read(pd2 + 0x10), 0x5151);
	assert_int_equal(stat("pf_emulate"), emulated);
	assert_null(shadow_page_of(pd2 >> PAGE_SHIFT));

	run(again, 2, false);
	assert_non_null(shadow_page_of(pd2 >> PAGE_SHIFT));
	assert_int_equal(guest_read(pd2 + 0x18), 0x6262);
	assert_int_equal(stat("pf_emulate"), emulated + 1);
}

/*
 * A string store to the guest's own PML4: every walk goes through it, so
 * the unprotect cannot help (the retry shadows the PML4 again and faults
 * again); KVM's last_retry guard emulates the second fault, and the store
 * completes.
 */
static void test_unprotect_guard(void **state)
{
	struct hw_access prog[] = {
		{ .op = HW_LOAD, .addr = GVA },
		{ .op = HW_STOS, .addr = GVA + 201 * PAGE_SIZE, .value = 0 },
		{ .op = HW_LOAD, .addr = GVA + 0x3000 },
	};
	u64 emulated, zapped;

	create();
	build_guest_tables();
	guest_write(PT + 201 * 8, PML4 | GPTE_P | GPTE_W);
	run(prog, 1, true);
	assert_non_null(shadow_page_of(PML4 >> PAGE_SHIFT));
	/* The store writes the entry as it is (A set by the first walk). */
	prog[1].value = guest_read(PML4);
	emulated = stat("pf_emulate");
	zapped = kvm()->stat.mmu_shadow_zapped;
	run(prog + 1, 2, false);
	assert_int_equal(guest_read(PML4), prog[1].value);
	/* Unprotected once (the root and what hangs below it went), then emulated. */
	assert_true(kvm()->stat.mmu_shadow_zapped > zapped);
	assert_int_equal(stat("pf_emulate"), emulated + 1);
	assert_non_null(shadow_page_of(PML4 >> PAGE_SHIFT));
	assert_int_equal(fix.w.vcpus[0]->arch.last_retry_eip, 0);
}

/*
 * Unsync: the guest re-points a PTE through its own mapping of its PT.
 * The PT's page becomes unsync instead of staying write-protected, so the
 * store is the CPU's (nothing emulated); INVLPG syncs that one entry and
 * the next access uses the new frame.  A second PTE re-pointed, then a
 * CR3 load: the whole page is synced, in sync again, write-protected again
 * (the next store to the PT unsyncs it anew).
 */
static void test_unsync_and_sync(void **state)
{
	struct hw_access prog[] = {
		{ .op = HW_LOAD, .addr = GVA + 0x5000 },
		{ .op = HW_LOAD, .addr = GVA + 0x6000 },
		/* PTE 5, through the guest's own mapping of its PT (PTE 254). */
		{ .op = HW_STORE, .addr = GVA + 0xfe000 + 5 * 8,
		  .value = (DATA + 0x7000) | GPTE_P | GPTE_W },
		{ .op = HW_INVLPG, .addr = GVA + 0x5000 },
		{ .op = HW_LOAD, .addr = GVA + 0x5000 },
	};
	struct hw_access flush[] = {
		{ .op = HW_STORE, .addr = GVA + 0xfe000 + 6 * 8,
		  .value = (DATA + 0x8000) | GPTE_P | GPTE_W },
		{ .op = HW_FLUSH_TLB },
		{ .op = HW_LOAD, .addr = GVA + 0x6000 },
		{ .op = HW_STORE, .addr = GVA + 0xfe000 + 7 * 8,
		  .value = (DATA + 0x8000) | GPTE_P | GPTE_W },
	};
	struct kvm_mmu_page *pt_sp;
	u64 emulated;

	create();
	build_guest_tables();
	/* PTE 254 maps the guest's PT itself, so the guest can write it. */
	guest_write(PT + 254 * 8, PT | GPTE_P | GPTE_W);
	guest_write(DATA + 0x5000, 0x5555);
	guest_write(DATA + 0x6000, 0x6666);
	guest_write(DATA + 0x7000, 0x7777);
	guest_write(DATA + 0x8000, 0x8888);
	emulated = stat("pf_emulate");
	run(prog, ARRAY_SIZE(prog), true);
	assert_int_equal(prog[0].value, 0x5555);
	assert_int_equal(prog[4].value, 0x7777);
	assert_int_equal((guest_read(PT + 5 * 8) & ~(GPTE_A | GPTE_D)),
			 (DATA + 0x7000) | GPTE_P | GPTE_W);
	assert_int_equal(stat("pf_emulate"), emulated);
	assert_int_equal(stat("invlpg"), 1);
	pt_sp = shadow_page_of(PT >> PAGE_SHIFT);
	assert_non_null(pt_sp);
	assert_true(pt_sp->unsync);
	assert_int_equal(kvm()->stat.mmu_unsync, 1);
	/* The parents know: the PD's page has an unsync child. */
	assert_true(shadow_page_of(PD >> PAGE_SHIFT)->unsync_children > 0);

	run(flush, 3, false);
	assert_int_equal(flush[2].value, 0x8888);
	assert_false(pt_sp->unsync);
	assert_int_equal(kvm()->stat.mmu_unsync, 0);
	assert_int_equal(stat("pf_emulate"), emulated);
	/* Write-protected again: the next store unsyncs the page again. */
	run(flush + 3, 1, false);
	assert_true(pt_sp->unsync);
	assert_int_equal(kvm()->stat.mmu_unsync, 1);
}

/* A new CR3 gets its own root; the old one stays in the hash for later. */
static void test_cr3_load_exits(void **state)
{
	struct hw_access prog[] = {
		{ .op = HW_LOAD, .addr = GVA },
		{ .op = HW_MOV_CR3, .addr = 0, .value = 0x104000 },
		{ .op = HW_LOAD, .addr = GVA + 0x1000 },
	};
	hpa_t root;

	create();
	build_guest_tables();
	/* A second PML4 at 0x104000 with the same lower tables. */
	guest_write(0x104000, PDPT | GPTE_P | GPTE_W);
	run(prog, 1, true);
	root = fix.w.vcpus[0]->arch.mmu->root.hpa;
	assert_int_equal(root_to_sp(kvm(), root)->gfn, PML4 >> PAGE_SHIFT);
	run(prog + 1, 2, false);
	assert_int_equal(fix.w.vcpus[0]->arch.cr3, 0x104000);
	assert_int_not_equal(fix.w.vcpus[0]->arch.mmu->root.hpa, root);
	assert_int_equal(root_to_sp(kvm(), fix.w.vcpus[0]->arch.mmu->root.hpa)->gfn, 0x104);
	/* Both PML4s are shadowed and write-tracked. */
	assert_int_equal(write_track(PML4 >> PAGE_SHIFT), 1);
	assert_int_equal(write_track(0x104), 1);
}

/*
 * prev_roots: switching back to a CR3 takes the root cached for it, no new
 * page, and flushes the CPU's context of that root (a CR3 load flushes);
 * a fast zap makes the cached roots obsolete and the next entry frees them.
 */
static void test_prev_roots(void **state)
{
	struct hw_access prog[] = {
		{ .op = HW_LOAD, .addr = GVA },
		{ .op = HW_MOV_CR3, .value = 0x104000 },
		{ .op = HW_LOAD, .addr = GVA + 0x1000 },
		{ .op = HW_MOV_CR3, .value = PML4 },
		{ .op = HW_LOAD, .addr = GVA + 0x2000 },
	};
	struct kvm_userspace_memory_region slot1 = {
		.slot = 1, .guest_phys_addr = 0x800000, .memory_size = 2 * MB,
	};
	struct kvm_mmu *mmu;
	struct hw_vcpu_stats st0, st1;
	hpa_t root_a, root_b;
	u64 misses;
	int i;

	create();
	mmu = fix.w.vcpus[0]->arch.mmu;
	build_guest_tables();
	guest_write(0x104000, PDPT | GPTE_P | GPTE_W);
	run(prog, 3, true);
	root_a = mmu->prev_roots[0].hpa;
	root_b = mmu->root.hpa;
	assert_int_equal(root_to_sp(kvm(), root_a)->gfn, PML4 >> PAGE_SHIFT);
	assert_int_equal(root_to_sp(kvm(), root_b)->gfn, 0x104);
	assert_int_equal(mmu->prev_roots[0].pgd, PML4);

	misses = kvm()->stat.mmu_cache_miss;
	hw_vcpu_get_stats(fix_hwv(&fix, 0), &st0);
	run(prog + 3, 2, false);
	hw_vcpu_get_stats(fix_hwv(&fix, 0), &st1);
	assert_int_equal(mmu->root.hpa, root_a);
	assert_int_equal(mmu->prev_roots[0].hpa, root_b);
	assert_int_equal(mmu->prev_roots[1].hpa, INVALID_PAGE);
	assert_int_equal(kvm()->stat.mmu_cache_miss, misses);
	assert_true(st1.flushes_current > st0.flushes_current);

	/* A memslot delete's fast zap: every root obsolete, the cached ones freed at entry. */
	slot1.userspace_addr = fix.w.cfg.mem[0].hva + 2 * MB;
	{
		struct kvm_userspace_memory_region gone = slot1;

		assert_int_equal(kvmmu_set_user_memory_region(kvm(), &slot1), 0);
		gone.memory_size = 0;
		assert_int_equal(kvmmu_set_user_memory_region(kvm(), &gone), 0);
	}
	run(prog + 4, 1, false);
	for (i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++)
		assert_int_equal(mmu->prev_roots[i].hpa, INVALID_PAGE);
	assert_int_not_equal(mmu->root.hpa, root_a);
	assert_false(is_obsolete_sp(kvm(), root_to_sp(kvm(), mmu->root.hpa)));
}

/* A fast zap (memslot delete) and teardown leave nothing behind. */
static void test_teardown_counts(void **state)
{
	struct hw_access prog[] = {
		{ .op = HW_STORE, .addr = GVA + 0x9000, .value = 9 },
	};

	create();
	build_guest_tables();
	run(prog, 1, true);
	assert_int_equal(kvm()->arch.n_used_mmu_pages, 4);
	kvm_arch_flush_shadow_all(kvm());
	assert_true(list_empty(&kvm()->arch.active_mmu_pages));
	assert_int_equal(kvm()->arch.indirect_shadow_pages, 0);
	assert_int_equal(write_track(PML4 >> PAGE_SHIFT), 0);
	assert_int_equal(write_track(PD >> PAGE_SHIFT), 0);
	assert_int_equal(atomic64_read(&kvm()->arch.nr_pte_list_descs), 0);
	assert_int_equal(kvmmu_vm_stat(kvm(), "pages_4k"), 0);
}

/* An unpaged guest: gva = gpa, through the PAE root and direct level-2 pages. */
static void test_unpaged_guest(void **state)
{
	struct hw_access prog[] = {
		{ .op = HW_STORE, .addr = 0x1000, .value = 11 },
		{ .op = HW_STORE, .addr = 0x301000, .value = 33 },
		{ .op = HW_LOAD, .addr = 0x1000 },
	};
	struct kvm_mmu *mmu;
	int i, present = 0;

	create();
	run(prog, 3, false);
	assert_int_equal(prog[2].value, 11);
	assert_int_equal(guest_read(0x301000), 33);
	mmu = fix.w.vcpus[0]->arch.mmu;
	/* The PAE root has no page of its own; its PDPTEs lead to direct level-2 pages. */
	assert_int_equal(mmu->root.hpa, mmu->pae_root_pfn << PAGE_SHIFT);
	assert_null(root_to_sp(kvm(), mmu->root.hpa));
	for (i = 0; i < 4; i++) {
		u64 pdpte = atomic_load(&mmu->pae_root[i]);
		struct kvm_mmu_page *sp = root_to_sp(kvm(), pdpte & PT64_BASE_ADDR_MASK);

		assert_true(pdpte & PT_PRESENT_MASK);
		assert_non_null(sp);
		assert_true(sp->role.direct);
		assert_int_equal(sp->role.level, 2);
		assert_int_equal(sp->gfn, (gfn_t)i << (30 - PAGE_SHIFT));
		assert_int_equal(sp->root_count, 1);
		present++;
	}
	assert_int_equal(present, 4);
	assert_int_equal(kvm()->arch.indirect_shadow_pages, 0);
}

/*
 * A PAE guest turns paging on itself: MOV CR4 (PAE), MOV CR3, MOV CR0
 * (PG) exit to KVM, which loads the PDPTEs and shadows the PDs they point
 * to under the PAE root.
 */
static void test_pae_guest(void **state)
{
	struct hw_access prog[] = {
		{ .op = HW_MOV_CR4, .value = X86_CR4_PAE },
		{ .op = HW_MOV_CR3, .value = 0x100000 },
		{ .op = HW_MOV_CR0, .value = X86_CR0_PG | 1 /* PE */ | X86_CR0_WP },
		{ .op = HW_STORE, .addr = 0x40003000, .value = 77 },
		{ .op = HW_LOAD, .addr = 0x40003000 },
	};
	struct kvm_mmu *mmu;
	struct kvm_mmu_page *sp;
	u64 i;

	create();
	/* PDPTE 1 -> PD at 0x102000 -> PT at 0x103000 -> 0x200000..: gva 0x40000000. */
	guest_write(0x100000 + 1 * 8, PD | GPTE_P);
	guest_write(PD + 0 * 8, PT | GPTE_P | GPTE_W);
	for (i = 0; i < 16; i++)
		guest_write(PT + i * 8, (DATA + i * PAGE_SIZE) | GPTE_P | GPTE_W);
	run(prog, 5, false);
	assert_int_equal(prog[4].value, 77);
	assert_int_equal(guest_read(DATA + 0x3000), 77);
	mmu = fix.w.vcpus[0]->arch.mmu;
	assert_int_equal(mmu->cpu_role.base.level, 3);
	assert_int_equal(fix.w.vcpus[0]->arch.pdptrs[1], PD | GPTE_P);
	assert_int_equal(mmu->root.hpa, mmu->pae_root_pfn << PAGE_SHIFT);
	/* Only PDPTE 1 is present: one level-2 page, shadowing the guest's PD. */
	assert_int_equal(atomic_load(&mmu->pae_root[0]), 0);
	sp = root_to_sp(kvm(), atomic_load(&mmu->pae_root[1]) & PT64_BASE_ADDR_MASK);
	assert_non_null(sp);
	assert_false(sp->role.direct);
	assert_int_equal(sp->gfn, PD >> PAGE_SHIFT);
	assert_int_equal(write_track(PD >> PAGE_SHIFT), 1);
	assert_int_equal(stat("pf_guest"), 0);
}

static void guest_write32(gpa_t gpa, u32 v)
{
	u64 word = guest_read(gpa & ~7ULL);

	word &= ~(0xffffffffULL << (8 * (gpa & 7)));
	word |= (u64)v << (8 * (gpa & 7));
	guest_write(gpa & ~7ULL, word);
}

/*
 * A 32-bit guest (4-byte entries, CR4.PSE): its 1024-entry PD is shadowed
 * by four level-2 pages under the PAE root (quadrants), each PT by two
 * level-1 pages, and a 4 MiB page by direct pages.  A store to a gPTE
 * makes its PT's page unsync, and INVLPG syncs the entry with the 4-byte
 * geometry (quadrant and index of the 1024-entry table).
 */
static void test_32bit_guest(void **state)
{
	/* PD at 0x100000, PT at 0x101000; PDE 256 -> PT (gva 0x40000000), PDE 300 -> 4M at 4M. */
	struct hw_access prog[] = {
		{ .op = HW_MOV_CR4, .value = X86_CR4_PSE },
		{ .op = HW_MOV_CR3, .value = 0x100000 },
		{ .op = HW_MOV_CR0, .value = X86_CR0_PG | 1 /* PE */ | X86_CR0_WP },
		{ .op = HW_STORE, .addr = 0x40003000, .value = 31 },
		{ .op = HW_STORE, .addr = 0x40203000, .value = 32 },
		{ .op = HW_STORE, .addr = 0x4b0091a0, .value = 44 },
		/* The guest maps its PT at gva 0x400fe000 (PTE 254) and re-points PTE 3. */
		{ .op = HW_STORE, .addr = 0x400fe000 + 3 * 4, .size = 4,
		  .value = (DATA + 0x9000) | GPTE_P | GPTE_W },
		{ .op = HW_INVLPG, .addr = 0x40003000 },
		{ .op = HW_LOAD, .addr = 0x40003000 },
	};
	struct kvm_mmu *mmu;
	int i;

	struct vm_fixture_opts o = {
		.mem_size = 16 * MB, .nr_vcpus = 1, .real_hw = true, .mmu = WORLD_MMU_SHADOW,
	};

	assert_int_equal(vm_fixture_create(&fix, &o), 0);
	guest_write32(0x100000 + 256 * 4, 0x101000 | GPTE_P | GPTE_W);
	guest_write32(0x100000 + 300 * 4, 0x400000 | GPTE_P | GPTE_W | PT_PAGE_SIZE_MASK);
	for (i = 0; i < 1024; i++)
		guest_write32(0x101000 + (u64)i * 4, (u32)(DATA + (u64)i * PAGE_SIZE) | GPTE_P | GPTE_W);
	guest_write32(0x101000 + 254 * 4, 0x101000 | GPTE_P | GPTE_W);
	guest_write(DATA + 0x9000, 0x9999);
	run(prog, ARRAY_SIZE(prog), false);
	assert_int_equal(guest_read(DATA + 0x3000), 31);
	assert_int_equal(guest_read(DATA + 0x203000), 32);
	assert_int_equal(guest_read(0x400000 + 0x91a0), 44);
	assert_int_equal(prog[8].value, 0x9999);
	assert_int_equal(stat("pf_guest"), 0);
	assert_int_equal(stat("pf_emulate"), 0);
	assert_true(kvm()->stat.mmu_unsync >= 1);

	mmu = fix.w.vcpus[0]->arch.mmu;
	assert_int_equal(mmu->cpu_role.base.level, 2);
	assert_true(mmu->root_role.has_4_byte_gpte);
	/* Four quadrants of the one PD, each a level-2 root. */
	for (i = 0; i < 4; i++) {
		struct kvm_mmu_page *sp = root_to_sp(kvm(), atomic_load(&mmu->pae_root[i]) &
							      PT64_BASE_ADDR_MASK);

		assert_non_null(sp);
		assert_int_equal(sp->gfn, 0x100);
		assert_int_equal(sp->role.quadrant, i);
		assert_true(sp->role.has_4_byte_gpte);
	}
	assert_int_equal(write_track(0x100), 4);
}

/* ---- concurrency: two vCPUs, their own tables changing, the host and logging -------------- */

#define ROUNDS 40

/*
 * vCPU 0 re-points one of its PTEs back and forth (emulated stores to its
 * PT, INVLPG) and writes through it; vCPU 1 writes its own pages under the
 * same tables.  Meanwhile the host drops vCPU 1's pages (the notifier zaps
 * through rmaps) and dirty logging goes on and off (write protection
 * through rmaps).  The sanitizer builds run this too.
 */
static int host_churn(void *arg)
{
	unsigned long hva = fix.w.cfg.mem[0].hva;
	int i, r = 0;

	for (i = 0; i < ROUNDS && !r; i++) {
		r = host_madvise_dontneed(fix.w.mm, hva + DATA + 0x40000, 4 * PAGE_SIZE);
		if (!r)
			r = world_mem_set_flags(&fix.w, 0, (i & 1) ? 0 : KVM_MEM_LOG_DIRTY_PAGES);
	}
	return r ?: world_mem_set_flags(&fix.w, 0, 0);
}

static void test_two_vcpus_concurrent(void **state)
{
	struct hw_access prog0[ROUNDS * 4], prog1[ROUNDS * 2];
	struct hw_program p0 = { .list = prog0, .len = ARRAY_SIZE(prog0), .paging = 4,
				 .cr3 = PML4 };
	struct hw_program p1 = { .list = prog1, .len = ARRAY_SIZE(prog1), .paging = 4,
				 .cr3 = PML4 };
	struct kvm_vcpu *v0;
	struct kvmmu_thread *t[3];
	struct vm_fixture_opts o = {
		.mem_size = 4 * MB, .nr_vcpus = 2, .real_hw = true, .mmu = WORLD_MMU_SHADOW,
	};
	int i;

	assert_int_equal(vm_fixture_create(&fix, &o), 0);
	build_guest_tables();
	/* PTE 254 maps the guest's PT, so that vCPU 0 can rewrite PTE 5. */
	guest_write(PT + 254 * 8, PT | GPTE_P | GPTE_W);
	for (i = 0; i < ROUNDS; i++) {
		u64 frame = DATA + ((i & 1) ? 0x7000 : 0x5000);

		prog0[4 * i] = (struct hw_access){ .op = HW_STORE, .addr = GVA + 0xfe000 + 5 * 8,
						   .value = frame | GPTE_P | GPTE_W };
		prog0[4 * i + 1] = (struct hw_access){ .op = HW_INVLPG, .addr = GVA + 0x5000 };
		prog0[4 * i + 2] = (struct hw_access){ .op = HW_STORE, .addr = GVA + 0x5000,
						       .value = 0x1000 + (u64)i };
		prog0[4 * i + 3] = (struct hw_access){ .op = HW_LOAD, .addr = GVA + 0x5000 };
		prog1[2 * i] = (struct hw_access){ .op = HW_STORE,
						   .addr = GVA + 0x40000 + (u64)(i & 3) * PAGE_SIZE,
						   .value = 0x2000 + (u64)i };
		prog1[2 * i + 1] = (struct hw_access){ .op = HW_LOAD,
						       .addr = GVA + 0x40000 + (u64)(i & 3) * PAGE_SIZE };
	}
	assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, 0), &p0), 0);
	assert_int_equal(hw_vcpu_load_program(fix_hwv(&fix, 1), &p1), 0);
	t[0] = fix_start_vcpu(&fix, 0);
	t[1] = fix_start_vcpu(&fix, 1);
	assert_int_equal(kvmmu_thread_create(&t[2], "host", 0, host_churn, NULL), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(kvmmu_thread_join(t[i]), 0);

	/* Each of vCPU 0's loads saw its own store, through whichever frame. */
	for (i = 0; i < ROUNDS; i++)
		assert_int_equal(prog0[4 * i + 3].value, 0x1000 + (u64)i);
	for (i = 0; i < ROUNDS; i++)
		assert_int_equal(prog1[2 * i + 1].value, 0x2000 + (u64)i);
	/* The last round pointed PTE 5 at the frame of its parity. */
	assert_int_equal(guest_read(DATA + (((ROUNDS - 1) & 1) ? 0x7000 : 0x5000)),
			 0x1000 + ROUNDS - 1);
	v0 = fix.w.vcpus[0];
	assert_int_equal(kvmmu_vcpu_stat(v0, "invlpg"), ROUNDS);
	/*
	 * The PT stayed shadowed throughout: its PTE stores went through an
	 * unsync page (the CPU's) or, while logging write-protected it, were
	 * redone after a fault; INVLPG synced the entry every round.
	 */
	assert_non_null(shadow_page_of(PT >> PAGE_SHIFT));
}

static const struct CMUnitTest tests[] = {
	FIX_TEST(test_guest_tables_are_shadowed),
	FIX_TEST(test_guest_fault_is_injected),
	FIX_TEST(test_dummy_root),
	FIX_TEST(test_unprotect_and_retry),
	FIX_TEST(test_unprotect_guard),
	FIX_TEST(test_unsync_and_sync),
	FIX_TEST(test_cr3_load_exits),
	FIX_TEST(test_prev_roots),
	FIX_TEST(test_teardown_counts),
	FIX_TEST(test_unpaged_guest),
	FIX_TEST(test_pae_guest),
	FIX_TEST(test_32bit_guest),
	FIX_TEST(test_two_vcpus_concurrent),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
