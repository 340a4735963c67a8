// SPDX-License-Identifier: GPL-2.0-only
/*
 * The SPTE format, on EPT (with and without A/D) and on NPT: every
 * constructor and predicate, the special values (non-present, FROZEN, MMIO)
 * and the legal writable combinations.
 */
#include <string.h>

#include "mmu_internal.h"
#include "spte.h"
#include "test.h"
#include "vm_fixture.h"

static struct vm_fixture fix;

enum fmt { EPT_AD, EPT_NOAD, NPT, NR_FMTS };

static void create(enum fmt f, bool nx)
{
	struct vm_fixture_opts o = {
		.nr_vcpus = 1,
		.format = f == NPT ? KVMMU_TDP_NPT : KVMMU_TDP_EPT,
		.ad_disabled = f == EPT_NOAD,
		.nx_huge_pages = nx,
	};

	assert_int_equal(vm_fixture_create(&fix, &o), 0);
}

static void destroy(void)
{
	assert_int_equal(vm_fixture_destroy(&fix), 0);
}

static const struct kvm_mmu_masks *masks(void)
{
	return &fix.w.kvm->arch.masks;
}

/* A table of @level, as the fault path would hand to make_spte(). */
static struct kvm_mmu_page table(int level)
{
	struct kvm_mmu_page sp;

	memset(&sp, 0, sizeof(sp));
	sp.role.level = level;
	sp.role.direct = 1;
	sp.role.access = ACC_ALL;
	sp.role.ad_disabled = !masks()->ad_enabled;
	sp.tdp_mmu_page = true;
	return sp;
}

static u64 leaf(int level, kvm_pfn_t pfn, bool host_writable, bool prefetch)
{
	struct kvm_mmu_page sp = table(level);
	u64 spte = 0;

	assert_false(make_spte(fix.w.vcpus[0], &sp, NULL, ACC_ALL, 0, pfn, 0, prefetch,
			       false, host_writable, &spte));
	return spte;
}

static void test_special_values(void **state)
{
	int f;

	for (f = 0; f < NR_FMTS; f++) {
		create((enum fmt)f, false);
		/* Neither is present, to KVM or to hardware, nor MMIO. */
		assert_false(is_shadow_present_pte(SHADOW_NONPRESENT_VALUE));
		assert_false(is_shadow_present_pte(FROZEN_SPTE));
		assert_false(is_mmio_spte(masks(), SHADOW_NONPRESENT_VALUE));
		assert_false(is_mmio_spte(masks(), FROZEN_SPTE));
		assert_false(FROZEN_SPTE & masks()->present_mask & ~EPT_SUPPRESS_VE);
		assert_true(is_frozen_spte(FROZEN_SPTE));
		assert_false(is_frozen_spte(SHADOW_NONPRESENT_VALUE));
		assert_int_equal(spte_to_pfn(FROZEN_SPTE), 0);
		/* A leaf is none of those. */
		assert_false(is_frozen_spte(leaf(PG_LEVEL_4K, 0x1234, true, false)));
		assert_false(is_mmio_spte(masks(), leaf(PG_LEVEL_4K, 0x1234, true, false)));
		destroy();
	}
}

static void test_leaf(void **state)
{
	int f;

	for (f = 0; f < NR_FMTS; f++) {
		u64 w, ro, huge;

		create((enum fmt)f, false);
		w = leaf(PG_LEVEL_4K, 0x1234, true, false);
		assert_true(is_shadow_present_pte(w));
		assert_true(is_last_spte(w, PG_LEVEL_4K));
		assert_false(is_large_pte(w));
		assert_int_equal(spte_to_pfn(w), 0x1234);
		assert_true(w & PT_PRESENT_MASK); /* EPT R and NPT P are both bit 0 */
		assert_true(is_writable_pte(w));
		assert_true(is_host_writable_spte(masks(), w));
		assert_true(is_mmu_writable_spte(masks(), w));
		assert_true(is_executable_pte(masks(), w));
		assert_true(is_accessed_spte(masks(), w));
		assert_true(is_dirty_spte(masks(), w));
		assert_true(spte_writable_invariants_hold(masks(), w));
		assert_int_equal(spte_ad_enabled(w), f != EPT_NOAD);
		if (f != NPT)
			assert_int_equal(w & (EPT_MT_MASK | EPT_IPAT), masks()->memtype_mask);

		/* Host read-only: none of the three writable bits. */
		ro = leaf(PG_LEVEL_4K, 0x1234, false, false);
		assert_false(is_writable_pte(ro));
		assert_false(is_host_writable_spte(masks(), ro));
		assert_false(is_mmu_writable_spte(masks(), ro));
		assert_true(spte_writable_invariants_hold(masks(), ro));
		/* Nothing can change it behind the lock, unless A/D is off (aging). */
		assert_int_equal(spte_needs_atomic_update(masks(), ro), f == EPT_NOAD);

		huge = leaf(PG_LEVEL_2M, 0x200, true, false);
		assert_true(is_large_pte(huge));
		assert_true(is_last_spte(huge, PG_LEVEL_2M));
		assert_true(is_executable_pte(masks(), huge));
		destroy();
	}
}

/* Memory without a struct page (a device BAR): no EPT memory type. */
static void test_leaf_mmio_pfn(void **state)
{
	u64 spte;

	create(EPT_AD, false);
	spte = leaf(PG_LEVEL_4K, 1ULL << 30, true, false);
	assert_int_equal(spte & (EPT_MT_MASK | EPT_IPAT), 0);
	assert_int_equal(spte_to_pfn(spte), 1ULL << 30);
	destroy();
}

/* Prefetched (pre-fault) SPTEs start not accessed. */
static void test_prefetch(void **state)
{
	int f;

	for (f = 0; f < NR_FMTS; f++) {
		u64 spte;

		create((enum fmt)f, false);
		spte = leaf(PG_LEVEL_4K, 0x1234, true, true);
		assert_true(is_shadow_present_pte(spte));
		assert_false(is_accessed_spte(masks(), spte));
		/* Without A/D, not accessed means access-tracked: not present to hardware. */
		assert_int_equal(is_access_track_spte(masks(), spte), f == EPT_NOAD);
		assert_int_equal(!!(spte & PT_PRESENT_MASK), f != EPT_NOAD);
		destroy();
	}
}

static void test_nx_huge_pages(void **state)
{
	int f;

	for (f = 0; f < NR_FMTS; f++) {
		struct kvm_mmu_page child;
		u64 huge, small;
		int i;

		create((enum fmt)f, true);
		child = table(PG_LEVEL_4K);
		/* No executable huge page ... */
		huge = leaf(PG_LEVEL_2M, 0x400, true, false);
		assert_false(is_executable_pte(masks(), huge));
		/* ... but its 4K pieces are executable again. */
		for (i = 0; i < 512; i += 97) {
			small = make_small_spte(fix.w.kvm, huge, child.role, i);
			assert_true(is_executable_pte(masks(), small));
			assert_false(is_large_pte(small));
			assert_int_equal(spte_to_pfn(small), 0x400 + (u64)i);
		}
		/* Collapsing drops exec again and aligns the pfn. */
		huge = make_huge_spte(fix.w.kvm, small, PG_LEVEL_2M);
		assert_false(is_executable_pte(masks(), huge));
		assert_int_equal(spte_to_pfn(huge), 0x400);
		assert_true(is_large_pte(huge));
		/* A 4K leaf stays executable. */
		assert_true(is_executable_pte(masks(), leaf(PG_LEVEL_4K, 0x1234, true, false)));
		destroy();
	}
}

static void test_split_and_collapse(void **state)
{
	int f;

	for (f = 0; f < NR_FMTS; f++) {
		struct kvm_mmu_page mid, low;
		u64 g, m, s;

		create((enum fmt)f, false);
		mid = table(PG_LEVEL_2M);
		low = table(PG_LEVEL_4K);
		g = leaf(PG_LEVEL_1G, 0x40000, true, false);
		/* 1G -> 2M: pieces stay huge, 512 pages apart. */
		m = make_small_spte(fix.w.kvm, g, mid.role, 3);
		assert_true(is_large_pte(m));
		assert_int_equal(spte_to_pfn(m), 0x40000 + 3 * 512);
		/* 2M -> 4K. */
		s = make_small_spte(fix.w.kvm, m, low.role, 7);
		assert_false(is_large_pte(s));
		assert_int_equal(spte_to_pfn(s), 0x40000 + 3 * 512 + 7);
		/* Everything else is inherited. */
		assert_int_equal(s & ~PT64_PFN_MASK & ~PT_PAGE_SIZE_MASK,
				 g & ~PT64_PFN_MASK & ~PT_PAGE_SIZE_MASK);
		/* And back. */
		assert_int_equal(make_huge_spte(fix.w.kvm, s, PG_LEVEL_2M), m);
		assert_int_equal(make_huge_spte(fix.w.kvm, s, PG_LEVEL_1G), g);
		destroy();
	}
}

static void test_nonleaf(void **state)
{
	int f;

	for (f = 0; f < NR_FMTS; f++) {
		u64 spte;

		create((enum fmt)f, false);
		spte = make_nonleaf_spte(masks(), 0x777, !masks()->ad_enabled);
		assert_true(is_shadow_present_pte(spte));
		assert_false(is_large_pte(spte));
		assert_false(is_last_spte(spte, PG_LEVEL_2M));
		assert_int_equal(spte_to_pfn(spte), 0x777);
		/* Permissive: leaves carry the restrictions. */
		assert_true(is_writable_pte(spte));
		assert_true(is_executable_pte(masks(), spte));
		assert_true(spte & PT_PRESENT_MASK);
		assert_int_equal(spte_ad_enabled(spte), f != EPT_NOAD);
		destroy();
	}
}

static void test_mmio(void **state)
{
	int f;

	for (f = 0; f < NR_FMTS; f++) {
		u64 gen, spte;

		create((enum fmt)f, false);
		gen = READ_ONCE(kvm_memslots(fix.w.kvm)->generation);
		spte = make_mmio_spte(fix.w.vcpus[0], 0xabcde, ACC_ALL);
		assert_true(is_mmio_spte(masks(), spte));
		assert_false(is_shadow_present_pte(spte));
		assert_false(is_frozen_spte(spte));
		assert_int_equal(get_mmio_spte_gfn(spte), 0xabcde);
		assert_int_equal(get_mmio_spte_generation(spte), gen & MMIO_SPTE_GEN_MASK);
		assert_true(check_mmio_spte(gen, spte));
		/* Another generation, or one being updated, never matches. */
		assert_false(check_mmio_spte(gen + 2, spte));
		assert_false(check_mmio_spte(gen | KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS, spte));
		if (f == NPT) {
			/* The reserved bit makes it fault with PFERR_RSVD. */
			assert_true(spte & NPT_MMIO_RSVD_BIT);
			assert_true(spte & PT_PRESENT_MASK);
		} else {
			/* W|X without R: an EPT misconfiguration. */
			assert_int_equal(spte & EPT_RWX_MASK, EPT_WRITABLE | EPT_EXECUTABLE);
		}
		destroy();
	}
}

/* The generation's 19 bits land at SPTE bits 10:3 and 62:52, and come back. */
static void test_mmio_generation_bits(void **state)
{
	u64 gen;

	for (gen = 0; gen <= MMIO_SPTE_GEN_MASK; gen += 0x1357) {
		u64 bits = generation_mmio_spte_mask(gen);

		assert_int_equal(bits & ~(MMIO_SPTE_GEN_LOW_MASK | MMIO_SPTE_GEN_HIGH_MASK), 0);
		assert_int_equal(get_mmio_spte_generation(bits), gen);
		assert_false(bits & SPTE_MMU_PRESENT_MASK);
	}
	assert_int_equal(generation_mmio_spte_mask(0xff), MMIO_SPTE_GEN_LOW_MASK);
	assert_int_equal(generation_mmio_spte_mask(MMIO_SPTE_GEN_MASK & ~0xffULL),
			 MMIO_SPTE_GEN_HIGH_MASK);
}

/* NPT with MAXPHYADDR 52 has no reserved bit: no MMIO caching at all. */
static void test_no_mmio_caching_at_52_bits(void **state)
{
	struct kvm_mmu_masks m;

	kvm_mmu_reset_all_pte_masks(&m, 52);
	assert_int_equal(m.mmio_value, 0);
	assert_false(is_mmio_spte(&m, NPT_MMIO_RSVD_BIT | PT_PRESENT_MASK));
	kvm_mmu_reset_all_pte_masks(&m, 46);
	assert_true(is_mmio_spte(&m, NPT_MMIO_RSVD_BIT | PT_PRESENT_MASK));
}

static void test_access_tracking(void **state)
{
	u64 spte, tracked, back;

	/* Without A/D: R and X are saved, the SPTE stops being present to hardware. */
	create(EPT_NOAD, false);
	spte = leaf(PG_LEVEL_4K, 0x1234, true, false);
	tracked = mark_spte_for_access_track(masks(), spte);
	assert_true(is_access_track_spte(masks(), tracked));
	assert_true(is_shadow_present_pte(tracked));
	assert_int_equal(tracked & EPT_RWX_MASK, 0);
	assert_false(is_accessed_spte(masks(), tracked));
	assert_int_equal(spte_to_pfn(tracked), 0x1234);
	assert_true(spte_writable_invariants_hold(masks(), tracked));
	assert_true(spte_needs_atomic_update(masks(), tracked));
	/* Marking twice changes nothing. */
	assert_int_equal(mark_spte_for_access_track(masks(), tracked), tracked);
	/* Restore gives back R and X; W comes back only through a write fault. */
	back = restore_acc_track_spte(masks(), tracked) | masks()->accessed_mask;
	assert_int_equal(back & EPT_RWX_MASK, EPT_READABLE | EPT_EXECUTABLE);
	assert_int_equal(back | PT_WRITABLE_MASK, spte);
	destroy();

	/* With A/D: aging only clears A. */
	create(EPT_AD, false);
	spte = leaf(PG_LEVEL_4K, 0x1234, true, false);
	tracked = mark_spte_for_access_track(masks(), spte);
	assert_int_equal(tracked, spte & ~EPT_ACCESSED);
	assert_false(is_access_track_spte(masks(), tracked));
	destroy();
}

/* Which SPTEs can change behind mmu_lock, and which changes need a flush. */
static void test_atomic_update_and_flush_rules(void **state)
{
	const struct kvm_mmu_masks *m;
	u64 w, wprot;

	create(EPT_AD, false);
	m = masks();
	w = leaf(PG_LEVEL_4K, 0x1234, true, false);
	/* Writable and dirty: nothing can change it without the lock. */
	assert_false(spte_needs_atomic_update(m, w));
	/* Writable, not yet dirty: hardware may set D. */
	assert_true(spte_needs_atomic_update(m, w & ~EPT_DIRTY));
	/* Write-protected for dirty logging: fast page fault may set W. */
	wprot = w & ~PT_WRITABLE_MASK;
	assert_true(spte_needs_atomic_update(m, wprot));
	assert_false(spte_needs_atomic_update(m, SHADOW_NONPRESENT_VALUE));
	/* Clearing only W may leave stale writable TLB entries; clearing MMU-writable may not. */
	assert_false(leaf_spte_change_needs_tlb_flush(m, w, wprot));
	assert_true(leaf_spte_change_needs_tlb_flush(m, w, wprot & ~m->mmu_writable_mask));
	assert_true(leaf_spte_change_needs_tlb_flush(m, wprot, wprot & ~m->mmu_writable_mask));
	/* The illegal writable combinations. */
	assert_false(spte_writable_invariants_hold(m, w & ~m->mmu_writable_mask));
	assert_false(spte_writable_invariants_hold(m, w & ~m->host_writable_mask));
	assert_true(spte_writable_invariants_hold(m, wprot & ~m->mmu_writable_mask));
	destroy();
}

static void test_dirty_and_exec_per_format(void **state)
{
	u64 spte;

	/* NPT: exec is the absence of NX. */
	create(NPT, false);
	spte = leaf(PG_LEVEL_4K, 0x1234, true, false);
	assert_false(spte & PT64_NX_MASK);
	assert_false(is_executable_pte(masks(), spte | PT64_NX_MASK));
	assert_true(is_dirty_spte(masks(), spte));
	assert_false(is_dirty_spte(masks(), spte & ~PT_DIRTY_MASK));
	destroy();
	/* EPT without A/D: dirty means writable. */
	create(EPT_NOAD, false);
	spte = leaf(PG_LEVEL_4K, 0x1234, true, false);
	assert_true(is_dirty_spte(masks(), spte));
	assert_false(is_dirty_spte(masks(), spte & ~PT_WRITABLE_MASK));
	assert_false(is_executable_pte(masks(), spte & ~EPT_EXECUTABLE));
	destroy();
}

static const struct CMUnitTest tests[] = {
	KVMMU_TEST(test_special_values),
	KVMMU_TEST(test_leaf),
	KVMMU_TEST(test_leaf_mmio_pfn),
	KVMMU_TEST(test_prefetch),
	KVMMU_TEST(test_nx_huge_pages),
	KVMMU_TEST(test_split_and_collapse),
	KVMMU_TEST(test_nonleaf),
	KVMMU_TEST(test_mmio),
	KVMMU_TEST(test_mmio_generation_bits),
	KVMMU_TEST(test_no_mmio_caching_at_52_bits),
	KVMMU_TEST(test_access_tracking),
	KVMMU_TEST(test_atomic_update_and_flush_rules),
	KVMMU_TEST(test_dirty_and_exec_per_format),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
