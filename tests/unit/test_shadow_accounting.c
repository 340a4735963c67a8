// SPDX-License-Identifier: GPL-2.0-only
/*
 * The shadow MMU's books (I39, shadow-accounting) and freed memslot
 * metadata (I37, memslot-consistency) on a shadow-paging world whose
 * guest runs on its own tables, kept in a memslot of their own.
 *
 * Clean: the guest's tables shadowed, their slot deleted (with the
 * slot-zap quirk and without), the VM torn down: no violation, no WARN.
 * Each count the accounting checker keeps is then thrown off by hand, by
 * one, under mmu_lock, and the end-of-run check names it (the count is
 * put back before the teardown); a write-track count left wrong is named
 * by the teardown's check.  And with the seed 002 mutant the pages left
 * behind by the slot zap touch the freed slot's write-track counts at
 * the teardown, which is reported, not warned about.
 */
#include <string.h>

#include "check.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "mmu_internal.h"
#include "mutant.h"
#include "shadow_mmu.h"
#include "test.h"
#include "world.h"

#define PAGES 16

static struct world w;

static void create(bool quirk, u64 mutants)
{
	struct world_config cfg = {
		.nr_vcpus = 1, .mmu = WORLD_MMU_SHADOW, .guest_paging = 4,
		.disabled_quirks = quirk ? 0 : KVM_X86_QUIRK_SLOT_ZAP_ALL,
		.mem = { { .size = PAGES * PAGE_SIZE, .nr_slots = 1 } },
		.checks = CHECK_ALL, .mutants = mutants,
	};
	char why[160];

	assert_int_equal(world_create(&w, &cfg, why, sizeof(why)), 0);
	assert_int_equal(world_check_begin(&w), 0);
}

/* vCPU 0 stores to (or loads from) @n pages from @first, through the guest's tables. */
static void run(u8 op, u64 first, u64 n)
{
	struct hw_access a[PAGES];
	struct hw_program p = { .list = a, .len = n, .paging = w.cfg.guest_paging,
				.cr3 = w.guest_cr3 };
	u64 i;

	for (i = 0; i < n; i++)
		a[i] = (struct hw_access){ .op = op, .addr = (first + i) * PAGE_SIZE,
					   .value = 0x100 + i };
	assert_int_equal(hw_vcpu_load_program(w.vcpus[0]->hw, &p), 0);
	while (!hw_vcpu_done(w.vcpus[0]->hw)) {
		struct kvmmu_run r;

		assert_int_equal(kvmmu_vcpu_run(w.vcpus[0], &r), 0);
	}
}

/* The violations so far of @checker whose description has @what. */
static int found(const char *checker, const char *what)
{
	struct check_violation v[16];
	int i, n = check_violations(v, 16), hits = 0;

	for (i = 0; i < n && i < 16; i++) {
		if (!strcmp(v[i].checker, checker) && strstr(v[i].description, what))
			hits++;
	}
	return hits;
}

static struct kvm_memory_slot *tables_slot(void)
{
	return gfn_to_memslot(w.kvm, gpa_to_gfn(w.guest_cr3));
}

/* ---- clean ------------------------------------------------------------------------------------ */

static void clean_run(bool quirk)
{
	unsigned long warns = kvmmu_warn_count();

	create(quirk, 0);
	run(HW_STORE, 0, PAGES / 2);
	assert_true(w.kvm->arch.indirect_shadow_pages > 0);
	assert_true(tables_slot()->arch.gfn_write_track[gpa_to_gfn(w.guest_cr3) -
							 tables_slot()->base_gfn] > 0);
	assert_int_equal(world_mem_delete_slots(&w, 1), 0);
	assert_int_equal(w.kvm->arch.indirect_shadow_pages, 0);
	/* The deleted slot's metadata is poisoned, and kept. */
	assert_non_null(w.kvm->freed_memslots);
	assert_true(w.kvm->freed_memslots->flags & KVM_MEMSLOT_FREED);
	assert_int_equal(w.kvm->freed_memslots->arch.gfn_write_track[0],
			 (u16)(KVM_MEMSLOT_POISON * 0x0101));
	world_destroy(&w);
	assert_int_equal(check_violations(NULL, 0), 0);
	assert_int_equal(kvmmu_warn_count(), warns);
}

static void test_clean_without_quirk(void **state)
{
	clean_run(false);
}

static void test_clean_with_quirk(void **state)
{
	clean_run(true);
}

/* ---- each count, off by one ---------------------------------------------------------------- */

enum tamper {
	T_INDIRECT,
	T_USED,
	T_WRITE_TRACK,
	T_DISALLOW,
	T_UNSYNC,
	T_NX,
	T_ROOT_COUNT,
};

static void tamper(enum tamper t, int by)
{
	struct kvm *kvm = w.kvm;
	struct kvm_memory_slot *slot = tables_slot();
	gfn_t cr3 = gpa_to_gfn(w.guest_cr3);

	write_lock(&kvm->mmu_lock);
	switch (t) {
	case T_INDIRECT:
		kvm->arch.indirect_shadow_pages += by;
		break;
	case T_USED:
		kvm->arch.n_used_mmu_pages += by;
		break;
	case T_WRITE_TRACK:
		slot->arch.gfn_write_track[cr3 - slot->base_gfn] += by;
		break;
	case T_DISALLOW:
		slot->arch.lpage_info[0][0].disallow_lpage += by;
		break;
	case T_UNSYNC:
		kvm->stat.mmu_unsync += by;
		break;
	case T_NX:
		kvm->arch.nr_possible_nx_huge_pages += by;
		break;
	case T_ROOT_COUNT:
		root_to_sp(kvm, w.vcpus[0]->arch.root_mmu.root.hpa)->root_count += by;
		break;
	}
	write_unlock(&kvm->mmu_lock);
}

static void off_by_one(enum tamper t, const char *what)
{
	unsigned long warns = kvmmu_warn_count();

	create(true, 0);
	run(HW_STORE, 0, PAGES / 2);
	tamper(t, 1);
	/* The end of the run checks the books. */
	world_check_end(&w);
	assert_int_equal(found("shadow-accounting", what), 1);
	assert_int_equal(check_violations(NULL, 0), 1);
	tamper(t, -1);
	world_destroy(&w);
	assert_int_equal(check_violations(NULL, 0), 1);
	assert_int_equal(kvmmu_warn_count(), warns);
}

static void test_indirect_shadow_pages(void **state)
{
	off_by_one(T_INDIRECT, "indirect_shadow_pages is");
}

static void test_n_used_mmu_pages(void **state)
{
	off_by_one(T_USED, "n_used_mmu_pages is");
}

static void test_write_track(void **state)
{
	off_by_one(T_WRITE_TRACK, "1 valid pages above 4K shadow the guest table at gfn");
}

static void test_disallow_lpage(void **state)
{
	off_by_one(T_DISALLOW, "disallow_lpage of the 2M unit");
}

static void test_mmu_unsync(void **state)
{
	off_by_one(T_UNSYNC, "the mmu_unsync stat is 1");
}

static void test_nx_count(void **state)
{
	off_by_one(T_NX, "nr_possible_nx_huge_pages is 1, the list holds 0");
}

static void test_root_count(void **state)
{
	off_by_one(T_ROOT_COUNT, "has root_count 2, but 1 vCPU root slots hold it");
}

/* A write-track count nobody drops is still there when the MMU goes. */
static void test_teardown_write_track(void **state)
{
	create(true, 0);
	run(HW_STORE, 0, PAGES / 2);
	world_check_end(&w);
	assert_int_equal(check_violations(NULL, 0), 0);
	tamper(T_WRITE_TRACK, 1);
	world_destroy(&w);
	assert_int_equal(check_violations(NULL, 0), 1);
	assert_int_equal(found("shadow-accounting", "is write-tracked 1 times, but 0 valid pages"),
			 1);
}

/* ---- seed 002: the freed slot's metadata touched at the teardown ------------------------------- */

static void test_slot_zap_leafs_only_touches_freed_slot(void **state)
{
	unsigned long warns = kvmmu_warn_count();

	create(false, BIT_ULL(kvmmu_mutant_lookup("slot-zap-leafs-only")));
	run(HW_STORE, 0, PAGES / 2);
	assert_int_equal(world_mem_delete_slots(&w, 1), 0);
	/* The slot zap left the pages of the guest's tables: caught at once. */
	assert_int_equal(found("memslot-consistency", "remains, its accounting in the slot"), 1);
	assert_int_equal(found("memslot-consistency", "after the slot was deleted"), 0);
	world_destroy(&w);
	/* The teardown zapped them, and they updated the freed slot's counts: reported. */
	assert_true(found("memslot-consistency",
			  "write-track counts of memslot") >= 1);
	assert_true(found("memslot-consistency", "were updated at gfn") >= 1);
	/* Reported instead of warned about. */
	assert_int_equal(kvmmu_warn_count(), warns);
}

static const struct CMUnitTest tests[] = {
	KVMMU_TEST(test_clean_without_quirk),
	KVMMU_TEST(test_clean_with_quirk),
	KVMMU_TEST(test_indirect_shadow_pages),
	KVMMU_TEST(test_n_used_mmu_pages),
	KVMMU_TEST(test_write_track),
	KVMMU_TEST(test_disallow_lpage),
	KVMMU_TEST(test_mmu_unsync),
	KVMMU_TEST(test_nx_count),
	KVMMU_TEST(test_root_count),
	KVMMU_TEST(test_teardown_write_track),
	KVMMU_TEST(test_slot_zap_leafs_only_touches_freed_slot),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
