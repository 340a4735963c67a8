// SPDX-License-Identifier: GPL-2.0-only
/*
 * Nested EPT: programs run as L2 under the L1 hypervisor of src/hw/nested.c,
 * with every checker on, on the TDP MMU and on the shadow MMU's direct
 * pages (tdp_mmu=0).
 *
 * L1 launches L2 at the first entry; an EPT violation in L1's tables is
 * reflected to L1, which maps the page; KVM shadows L1's tables (guest_mode
 * roots, the memslots grow rmaps and write tracking at the first one); a
 * VMCALL makes L1 unmap a page and INVEPT, after which L2 faults to L1
 * again; unlinking a leaf table and linking it back are writes to a table
 * KVM write-tracks, which it emulates; KVM sets A/D in L1's entries as the
 * CPU would; a misconfigured entry of L1's is reflected as such; a store
 * through a read-only entry is L1's fault; L2's writes dirty L1's log; bad INVEPTs and EPT pointers fail; bad configurations are refused.
 *
 * The shadow MMU's metadata made at the first shadow root: aging skips the
 * rmaps before it and walks L2's after it, without mmu_lock; a memslot
 * deleted before it (no rmaps, no write tracking) or after it is poisoned
 * as far as it has arrays; the shadow MMU's books count L2's roots.  Each
 * test's teardown is checked too.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "check.h"
#include "host_mm.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "mmu.h"
#include "mmu_internal.h"
#include "rmap.h"
#include "spte.h"
#include "test.h"
#include "world.h"

#define MB (1ULL << 20)
#define L2_BASE (1ULL << 30)

static struct world w;
static int violations;

static void on_violation(void *arg)
{
	(*(int *)arg)++;
}

static int teardown(void **state)
{
	if (w.kvm)
		world_destroy(&w);
	memset(&w, 0, sizeof(w));
	return kvmmu_test_teardown(state);
}

#define NESTED_TEST(fn) cmocka_unit_test_setup_teardown(fn, kvmmu_test_setup, teardown)

/* A nested world: @vcpus vCPUs, 8M of L2 memory at 1G, every checker on. */
static void create(enum world_mmu mmu, int vcpus, u32 slot_flags)
{
	const struct world_config cfg = {
		.nr_vcpus = vcpus, .mmu = mmu, .nested = true,
		.mem = { { .size = 8 * MB, .gpa = L2_BASE, .nr_slots = 1,
			   .slot_flags = slot_flags } },
		.checks = CHECK_ALL, .on_violation = on_violation, .violation_arg = &violations,
	};
	char why[160];

	violations = 0;
	assert_int_equal(world_create(&w, &cfg, why, sizeof(why)), 0);
	assert_non_null(w.l1);
	assert_int_equal(world_check_begin(&w), 0);
}

/* Run @list on vCPU @v as L2 to its end; the exits to userspace are HLTs. */
static void run_l2(int v, struct hw_access *list, u64 n)
{
	struct hw_program p = { .list = list, .len = n, .nested = w.l1 };
	struct kvm_vcpu *vcpu = w.vcpus[v];
	int runs = 0;

	assert_int_equal(hw_vcpu_load_program(vcpu->hw, &p), 0);
	while (!hw_vcpu_done(vcpu->hw)) {
		struct kvmmu_run run;

		assert_true(++runs < 1000);
		assert_int_equal(kvmmu_vcpu_run(vcpu, &run), 0);
		assert_true(run.exit_reason == KVM_EXIT_HLT || run.exit_reason == KVM_EXIT_INTR);
	}
}

static struct hw_vcpu_stats stats(int v)
{
	struct hw_vcpu_stats st;

	hw_vcpu_get_stats(w.vcpus[v]->hw, &st);
	return st;
}

/* L1's leaf entry for L2's @gpa, as L1's memory holds it. */
static u64 l1_leaf(gpa_t gpa)
{
	const struct world_mem_config *t = &w.cfg.mem[1];
	gpa_t at = w.l1->pt_base + (gpa - w.l1->l2_base) / 4096 * 8;
	u64 v = 0;

	assert_int_equal(host_access(w.mm, t->hva + (at - t->gpa), false, &v), 0);
	return v;
}

static void set_l1_leaf(gpa_t gpa, u64 v)
{
	const struct world_mem_config *t = &w.cfg.mem[1];
	gpa_t at = w.l1->pt_base + (gpa - w.l1->l2_base) / 4096 * 8;

	assert_int_equal(host_access(w.mm, t->hva + (at - t->gpa), true, &v), 0);
}

/*
 * The run is clean, and so is the VM's teardown, which some checkers judge
 * too (freed slot metadata, the shadow MMU's books back at zero): the world
 * goes here, and what its teardown found is read after.
 */
static void end_clean(void)
{
	struct check_violation v;

	world_check_end(&w);
	if (check_violations(&v, 1))
		fail_msg("%s: %s", v.checker, v.description);
	assert_int_equal(violations, 0);
	world_destroy(&w);
	if (check_violations(&v, 1))
		fail_msg("teardown: %s: %s", v.checker, v.description);
}

/*
 * L2 stores to three pages and loads them back: each first touch is an
 * EPT violation L1 handles (it writes the leaf entry) and one KVM then
 * fixes in its shadow of L1's tables; the loads hit.  KVM set A and D in
 * L1's leaves as the walk went.
 */
static void demand_faults(enum world_mmu mmu)
{
	gpa_t pages[3] = { L2_BASE, L2_BASE + 0x5000, L2_BASE + 0x200000 };
	struct hw_access a[6];
	struct kvm_vcpu *vcpu;
	struct hw_vcpu_stats st;
	int i;

	create(mmu, 1, 0);
	vcpu = w.vcpus[0];
	for (i = 0; i < 3; i++) {
		a[i] = (struct hw_access){ .op = HW_STORE, .addr = pages[i] + 8, .value = 0x100 + i };
		a[3 + i] = (struct hw_access){ .op = HW_LOAD, .addr = pages[i] + 8 };
	}
	run_l2(0, a, 6);
	for (i = 0; i < 3; i++) {
		u64 leaf = l1_leaf(pages[i]);

		assert_int_equal(a[3 + i].value, 0x100 + i);
		assert_int_equal(leaf & ~(EPT_ACCESSED | EPT_DIRTY),
				 pages[i] | EPT_RWX_MASK | (EPT_MT_WB << EPT_MT_SHIFT));
		assert_true(leaf & EPT_ACCESSED);
		assert_true(leaf & EPT_DIRTY);
	}
	st = stats(0);
	assert_int_equal(st.l2_exits_to_l1, 3);
	assert_int_equal(st.l1_ept_writes, 3);
	assert_int_equal(st.l1_unhandled, 0);
	/* VMLAUNCH, and a VMRESUME after each exit. */
	assert_int_equal(vcpu->stat.nested_run, 4);
	assert_true(vcpu->arch.nested.guest_mode);
	assert_true(vcpu->arch.mmu == &vcpu->arch.guest_mmu);
	/* L2's root shadows L1's: guest_mode, indirect, with A/D as L1 asked. */
	assert_true(vcpu->arch.guest_mmu.root_role.guest_mode);
	assert_false(vcpu->arch.guest_mmu.root_role.direct);
	assert_false(vcpu->arch.guest_mmu.root_role.ad_disabled);
	assert_true(kvm_shadow_root_allocated(w.kvm));
	assert_true(kvm_memslots_have_rmaps(w.kvm));
	assert_true(w.kvm->arch.indirect_shadow_pages > 0);
	/* The TDP MMU maps L1 still; rmaps came with the first shadow root. */
	assert_true(tdp_mmu_enabled(w.kvm) == (mmu == WORLD_MMU_TDP));
	end_clean();
}

static void test_demand_faults_tdp_mmu(void **state)
{
	demand_faults(WORLD_MMU_TDP);
}

static void test_demand_faults_tdp_legacy(void **state)
{
	demand_faults(WORLD_MMU_TDP_LEGACY);
}

/*
 * A VMCALL makes L1 clear a page's entry and INVEPT (single context, then
 * global): L2's next access to it exits to L1 again, and finds its data.
 */
static void test_unmap_and_invept(void **state)
{
	gpa_t page = L2_BASE + 0x3000;
	struct hw_access a[] = {
		{ .op = HW_STORE, .addr = page, .value = 0xabcd },
		{ .op = HW_VMCALL, .addr = page, .value = HW_HC_UNMAP },
		{ .op = HW_LOAD, .addr = page },
		{ .op = HW_VMCALL, .addr = page, .value = HW_HC_UNMAP_GLOBAL },
		{ .op = HW_LOAD, .addr = page },
	};
	struct hw_vcpu_stats st;

	create(WORLD_MMU_TDP, 1, 0);
	run_l2(0, a, ARRAY_SIZE(a));
	assert_int_equal(a[2].value, 0xabcd);
	assert_int_equal(a[4].value, 0xabcd);
	st = stats(0);
	/* Three faults, two VMCALLs. */
	assert_int_equal(st.l2_exits_to_l1, 5);
	assert_int_equal(st.vmcalls, 2);
	assert_int_equal(st.l1_invepts, 2);
	assert_int_equal(w.vcpus[0]->arch.nested.invepts, 2);
	end_clean();
}

/*
 * Memstress passes whose ends have L1 unmap the region: L1 clears the
 * leaves and unlinks the leaf tables; the next pass links them again.
 * Both are writes to L1's upper tables, which KVM write-tracks: emulated.
 */
static void test_unlink_relink_emulated(void **state)
{
	struct hw_program p = {
		.base = L2_BASE, .size = 4 * MB, .write_percent = 100, .passes = 1,
		.value = HW_VALUE_PATTERN, .nested = NULL, .unmap_each_pass = true,
	};
	struct kvm_vcpu *vcpu;
	int pass;

	create(WORLD_MMU_TDP, 1, 0);
	vcpu = w.vcpus[0];
	p.nested = w.l1;
	for (pass = 0; pass < 3; pass++) {
		struct kvmmu_run run;

		p.seed = (u64)pass;
		assert_int_equal(hw_vcpu_load_program(vcpu->hw, &p), 0);
		while (!hw_vcpu_done(vcpu->hw))
			assert_int_equal(kvmmu_vcpu_run(vcpu, &run), 0);
	}
	assert_int_equal(stats(0).vmcalls, 3);
	assert_int_equal(stats(0).l1_invepts, 3);
	/* Every pass faulted each page to L1. */
	assert_int_equal(stats(0).l2_exits_to_l1, 3 * (4 * MB / 4096) + 3);
	/* Two leaf tables unlinked and linked again, twice: L1's writes KVM emulated. */
	assert_true(vcpu->stat.pf_emulate >= 4);
	assert_true(w.kvm->stat.mmu_pte_write >= 4);
	end_clean();
}

/*
 * An entry of L1's with W but no R is a misconfiguration, and so is one
 * with X alone (kvmmu's EPT has no execute-only pages, so neither has
 * L1's): each is reflected to L1 as one, which cannot fix it (the access
 * is dropped).  A read-only entry lets L2 read, and a store there is an
 * EPT violation for L1, which maps the page writable.
 */
static void test_misconfig_and_read_only(void **state)
{
	gpa_t wo = L2_BASE + 0x7000, xo = L2_BASE + 0x9000, ro = L2_BASE + 0xb000;
	struct hw_access a[] = {
		{ .op = HW_LOAD, .addr = wo },
		{ .op = HW_FETCH, .addr = xo },
		{ .op = HW_LOAD, .addr = ro },
		{ .op = HW_STORE, .addr = ro, .value = 5 },
		{ .op = HW_LOAD, .addr = ro },
	};
	struct hw_vcpu_stats st;

	create(WORLD_MMU_TDP, 1, 0);
	set_l1_leaf(wo, wo | EPT_WRITABLE | (EPT_MT_WB << EPT_MT_SHIFT));
	set_l1_leaf(xo, xo | EPT_EXECUTABLE | (EPT_MT_WB << EPT_MT_SHIFT));
	set_l1_leaf(ro, ro | EPT_READABLE | EPT_EXECUTABLE | (EPT_MT_WB << EPT_MT_SHIFT));
	run_l2(0, a, ARRAY_SIZE(a));
	st = stats(0);
	assert_int_equal(st.l1_unhandled, 2);
	assert_int_equal(st.fetches, 0);
	/* The two misconfigurations and the store to the read-only page. */
	assert_int_equal(st.l2_exits_to_l1, 3);
	assert_int_equal(l1_leaf(ro) & EPT_RWX_MASK, EPT_RWX_MASK);
	assert_int_equal(a[4].value, 5);
	end_clean();
}

/* L2's writes land in L1's memory: L1's dirty log has them. */
static void test_l2_writes_dirty_l1_log(void **state)
{
	unsigned long bitmap[8 * MB / 4096 / 64] = { 0 };
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = bitmap };
	struct hw_access a[] = {
		{ .op = HW_STORE, .addr = L2_BASE + 0x4000, .value = 1 },
		{ .op = HW_LOAD, .addr = L2_BASE + 0x6000 },
		{ .op = HW_STORE, .addr = L2_BASE + 0x400000, .value = 2 },
	};

	create(WORLD_MMU_TDP, 1, KVM_MEM_LOG_DIRTY_PAGES);
	run_l2(0, a, ARRAY_SIZE(a));
	assert_int_equal(kvmmu_get_dirty_log(w.kvm, &log), 0);
	assert_true(bitmap[4 / 64] & (1UL << 4));
	assert_false(bitmap[6 / 64] & (1UL << 6));
	assert_true(bitmap[0x400 / 64] & (1UL << (0x400 % 64)));
	/* Written again after the log was read: dirty again. */
	memset(bitmap, 0, sizeof(bitmap));
	a[0].value = 3;
	run_l2(0, a, 1);
	assert_int_equal(kvmmu_get_dirty_log(w.kvm, &log), 0);
	assert_true(bitmap[0] & (1UL << 4));
	end_clean();
}

/* INVEPT of an unknown type, or with an EPT pointer L0 cannot use, fails. */
static void test_bad_invept(void **state)
{
	struct kvm_vcpu *vcpu;
	u64 eptp;

	create(WORLD_MMU_TDP, 1, 0);
	vcpu = w.vcpus[0];
	eptp = w.l1->eptp;
	assert_int_equal(kvm_mmu_invept(vcpu, 3, eptp), -EINVAL);
	assert_int_equal(kvm_mmu_invept(vcpu, VMX_EPT_EXTENT_CONTEXT, eptp & ~7ULL) /* UC */, 0);
	assert_int_equal(kvm_mmu_invept(vcpu, VMX_EPT_EXTENT_CONTEXT, eptp | 1), -EINVAL);
	assert_int_equal(kvm_mmu_invept(vcpu, VMX_EPT_EXTENT_CONTEXT, eptp | BIT_ULL(7)),
			 -EINVAL);
	assert_int_equal(kvm_mmu_invept(vcpu, VMX_EPT_EXTENT_CONTEXT,
					(eptp & ~(7ULL << 3)) | (1ULL << 3)), -EINVAL);
	assert_int_equal(kvm_mmu_invept(vcpu, VMX_EPT_EXTENT_GLOBAL, 0), 0);
	end_clean();
}

/* Two vCPUs, each in L2 on its own pages, under one L1 and one EPT pointer. */
static void test_two_vcpus_share_l1(void **state)
{
	struct hw_access a0[] = {
		{ .op = HW_STORE, .addr = L2_BASE + 0x1000, .value = 7 },
		{ .op = HW_VMCALL, .addr = L2_BASE + 0x1000, .value = HW_HC_UNMAP },
		{ .op = HW_LOAD, .addr = L2_BASE + 0x1000 },
	};
	struct hw_access a1[] = {
		{ .op = HW_STORE, .addr = L2_BASE + 0x2000, .value = 8 },
		{ .op = HW_LOAD, .addr = L2_BASE + 0x1000 },
	};

	create(WORLD_MMU_TDP, 2, 0);
	run_l2(0, a0, ARRAY_SIZE(a0));
	run_l2(1, a1, ARRAY_SIZE(a1));
	assert_int_equal(a0[2].value, 7);
	assert_int_equal(a1[1].value, 7);
	/* One shadow of L1's tables serves both: one root page for the EPT pointer. */
	assert_int_equal(w.vcpus[0]->arch.guest_mmu.root.hpa,
			 w.vcpus[1]->arch.guest_mmu.root.hpa);
	end_clean();
}

/* ---- lazily allocated shadow-MMU metadata ------------------------------------------------------ */

/* vCPU 0 runs @a unnested, as L1 on its own root (the TDP MMU's or a direct one). */
static void run_l1(struct hw_access *a, u64 n)
{
	struct hw_program p = { .list = a, .len = n };
	struct kvm_vcpu *vcpu = w.vcpus[0];

	assert_int_equal(hw_vcpu_load_program(vcpu->hw, &p), 0);
	while (!hw_vcpu_done(vcpu->hw)) {
		struct kvmmu_run run;

		assert_int_equal(kvmmu_vcpu_run(vcpu, &run), 0);
	}
}

static struct kvm_memory_slot *l2_slot(void)
{
	return gfn_to_memslot(w.kvm, gpa_to_gfn(L2_BASE));
}

/* The one SPTE in the 4K rmap of @gpa's gfn (L2's leaf: L1 maps L2 one to one). */
static u64 rmap_spte(gpa_t gpa)
{
	struct kvm_memory_slot *slot = l2_slot();
	gfn_t gfn = gpa_to_gfn(gpa);
	struct rmap_iterator iter;
	_Atomic u64 *sptep;

	sptep = rmap_get_first(&slot->arch.rmap[0][gfn - slot->base_gfn], &iter);
	assert_non_null(sptep);
	assert_null(rmap_get_next(&iter));
	return atomic_load(sptep);
}

/*
 * Aging with the TDP MMU: before the first shadow root the memslots have
 * no rmaps (kvm_memslots_have_rmaps() is false) and only the TDP MMU is
 * aged; once L2 runs, its SPTEs are in the rmaps, and aging walks them
 * without mmu_lock, each chain under its rmap lock: A is cleared in L2's
 * leaf as in L1's, and the page is old until the next access.
 */
static void test_aging_lazy_rmaps(void **state)
{
	gpa_t page = L2_BASE + 0x1000;
	struct hw_access l1 = { .op = HW_STORE, .addr = page, .value = 1 };
	struct hw_access l2[] = {
		{ .op = HW_STORE, .addr = page, .value = 2 },
		{ .op = HW_LOAD, .addr = page },
	};
	struct mmu_notifier *mn;
	unsigned long hva;

	create(WORLD_MMU_TDP, 1, 0);
	mn = &w.kvm->mmu_notifier;
	hva = w.cfg.mem[0].hva + (page - L2_BASE);
	run_l1(&l1, 1);
	assert_false(kvm_memslots_have_rmaps(w.kvm));
	assert_null(l2_slot()->arch.rmap[0]);
	assert_true(mn->ops->test_young(mn, w.mm, hva, hva + PAGE_SIZE));
	assert_true(mn->ops->clear_young(mn, w.mm, hva, hva + PAGE_SIZE));
	assert_false(mn->ops->test_young(mn, w.mm, hva, hva + PAGE_SIZE));

	run_l2(0, l2, ARRAY_SIZE(l2));
	assert_int_equal(l2[1].value, 2);
	assert_true(kvm_memslots_have_rmaps(w.kvm));
	assert_true(is_accessed_spte(&w.kvm->arch.masks, rmap_spte(page)));
	assert_true(mn->ops->test_young(mn, w.mm, hva, hva + PAGE_SIZE));
	assert_true(mn->ops->clear_young(mn, w.mm, hva, hva + PAGE_SIZE));
	assert_false(is_accessed_spte(&w.kvm->arch.masks, rmap_spte(page)));
	assert_false(mn->ops->test_young(mn, w.mm, hva, hva + PAGE_SIZE));
	assert_false(mn->ops->clear_young(mn, w.mm, hva, hva + PAGE_SIZE));
	end_clean();
}

/* Delete L2's memslot and make it again, over the same memory. */
static void recreate_l2_slot(void)
{
	const struct world_mem_config *m = &w.cfg.mem[0];

	assert_int_equal(world_mem_delete_slots(&w, 0), 0);
	assert_int_equal(world_set_memslot(&w, m->first_slot, 0, m->gpa, m->size, m->hva), 0);
}

/*
 * A memslot deleted before the first shadow root never had rmaps or
 * write-tracking counts under the TDP MMU (under the legacy MMU it had
 * rmaps): the freed slot's poisoning leaves the arrays it lacks alone.
 * One deleted after it had both, and L2's SPTEs in the rmaps: they are
 * zapped with the slot, the arrays poisoned.  L2 runs on through either,
 * and nothing is reported, at run time or in the teardown.
 */
static void lazy_metadata_freed(enum world_mmu mmu)
{
	gpa_t page = L2_BASE + 0x2000;
	struct hw_access a[] = {
		{ .op = HW_STORE, .addr = page, .value = 3 },
		{ .op = HW_LOAD, .addr = page },
	};
	unsigned long warns = kvmmu_warn_count();
	struct kvm_memory_slot *freed;

	create(mmu, 1, 0);
	recreate_l2_slot();
	freed = w.kvm->freed_memslots;
	assert_non_null(freed);
	assert_true(freed->flags & KVM_MEMSLOT_FREED);
	assert_null(freed->arch.gfn_write_track);
	if (mmu == WORLD_MMU_TDP)
		assert_null(freed->arch.rmap[0]);
	else
		assert_int_equal(kvm_rmap_get(&freed->arch.rmap[0][0]),
				 (unsigned long)0x6b6b6b6b6b6b6b6bULL & ~KVM_RMAP_LOCKED);

	run_l2(0, a, ARRAY_SIZE(a));
	assert_int_equal(a[1].value, 3);
	assert_true(kvm_shadow_root_allocated(w.kvm));
	assert_non_null(l2_slot()->arch.rmap[0]);
	assert_non_null(l2_slot()->arch.gfn_write_track);
	recreate_l2_slot();
	freed = w.kvm->freed_memslots;
	assert_true(freed->flags & KVM_MEMSLOT_FREED);
	assert_int_equal(freed->arch.gfn_write_track[0], (u16)(KVM_MEMSLOT_POISON * 0x0101));

	a[0].value = 4;
	run_l2(0, a, ARRAY_SIZE(a));
	assert_int_equal(a[1].value, 4);
	assert_non_null(l2_slot()->arch.rmap[0]);
	end_clean();
	assert_int_equal(kvmmu_warn_count(), warns);
}

static void test_lazy_metadata_freed_tdp_mmu(void **state)
{
	lazy_metadata_freed(WORLD_MMU_TDP);
}

static void test_lazy_metadata_freed_tdp_legacy(void **state)
{
	lazy_metadata_freed(WORLD_MMU_TDP_LEGACY);
}

/*
 * The shadow MMU's books count L2's roots: an L2 root's root_count is
 * the root slots of guest_mmu that hold it (current and cached), as L1's
 * are root_mmu's; one off is reported at the end of the run.
 */
static void test_books_count_l2_roots(void **state)
{
	struct hw_access a = { .op = HW_STORE, .addr = L2_BASE, .value = 5 };
	struct check_violation v;
	struct kvm_mmu_page *root;

	create(WORLD_MMU_TDP, 1, 0);
	run_l2(0, &a, 1);
	root = root_to_sp(w.kvm, w.vcpus[0]->arch.guest_mmu.root.hpa);
	assert_non_null(root);
	assert_true(root->role.guest_mode);
	assert_int_equal(root->root_count, 1);
	write_lock(&w.kvm->mmu_lock);
	root->root_count++;
	write_unlock(&w.kvm->mmu_lock);
	world_check_end(&w);
	assert_int_equal(check_violations(&v, 1), 1);
	assert_string_equal(v.checker, "shadow-accounting");
	assert_non_null(strstr(v.description, "has root_count 2, but 1 vCPU root slots hold it"));
	write_lock(&w.kvm->mmu_lock);
	root->root_count--;
	write_unlock(&w.kvm->mmu_lock);
	world_destroy(&w);
	assert_int_equal(check_violations(NULL, 0), 1);
}

/* What nested runs need is checked before anything is built. */
static void test_bad_configs(void **state)
{
	struct world_config cfg = {
		.nr_vcpus = 1, .nested = true, .mem = { { .size = 8 * MB, .nr_slots = 1 } },
	};
	char why[160];

	cfg.mmu = WORLD_MMU_SHADOW;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "EPT"));
	cfg.mmu = WORLD_MMU_TDP;
	cfg.format = KVMMU_TDP_NPT;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), -EINVAL);
	cfg.format = KVMMU_TDP_EPT;
	cfg.tag_mode = true;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), -EINVAL);
	cfg.tag_mode = false;
	/* L2 with its own tables: a region for them and one for L1's. */
	cfg.guest_paging = 4;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), 0);
	cfg.mem[1] = cfg.mem[0];
	cfg.mem[1].gpa = 64 * MB;
	cfg.mem[2] = cfg.mem[1];
	cfg.mem[2].gpa = 128 * MB;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "region"));
	cfg.guest_paging = 0;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), 0);
}

/*
 * L2 on page tables of its own (the world's identity map, in a region L1
 * maps like the others): every guest table read is an L2 gpa translated
 * through KVM's shadow of L1's EPT, so L2's first walks fault to L1; then
 * L2 stores and loads through its tables, INVLPGs, reloads CR3, and takes
 * a #PF of its own (not an exit to L1) at a gva its tables do not map.
 */
static void l2_guest_paging(enum world_mmu mmu, int paging)
{
	const struct world_config cfg = {
		.nr_vcpus = 1, .mmu = mmu, .nested = true, .guest_paging = paging,
		.mem = { { .size = 8 * MB, .gpa = L2_BASE, .nr_slots = 1 } },
		.checks = CHECK_ALL, .on_violation = on_violation, .violation_arg = &violations,
	};
	u64 unmapped = paging >= 4 ? 1ULL << 39 : 4 * MB;
	struct hw_access a[] = {
		{ .op = HW_STORE, .addr = L2_BASE + 0x3000, .value = 0x1234 },
		{ .op = HW_LOAD, .addr = L2_BASE + 0x3000 },
		{ .op = HW_INVLPG, .addr = L2_BASE + 0x3000 },
		{ .op = HW_MOV_CR3 },
		{ .op = HW_LOAD, .addr = L2_BASE + 0x3000 },
		{ .op = HW_LOAD, .addr = unmapped, .value = 77 },
		{ .op = HW_STORE, .addr = L2_BASE + 0x5008, .value = 0x5678 },
	};
	struct hw_program p = { .list = a, .len = ARRAY_SIZE(a), .nested = NULL };
	struct hw_vcpu_stats st;
	char why[160];
	u64 cr2, code, v = 0;
	int runs = 0;

	violations = 0;
	assert_int_equal(world_create(&w, &cfg, why, sizeof(why)), 0);
	assert_int_equal(world_check_begin(&w), 0);
	a[3].value = w.guest_cr3;
	p.nested = w.l1;
	p.paging = paging;
	p.cr3 = w.guest_cr3;
	assert_int_equal(hw_vcpu_load_program(w.vcpus[0]->hw, &p), 0);
	while (!hw_vcpu_done(w.vcpus[0]->hw)) {
		struct kvmmu_run run;

		assert_true(++runs < 1000);
		assert_int_equal(kvmmu_vcpu_run(w.vcpus[0], &run), 0);
	}
	assert_int_equal(a[1].value, 0x1234);
	assert_int_equal(a[4].value, 0x1234);
	/* L2's own #PF: the load is skipped, L1 hears nothing of it. */
	assert_int_equal(a[5].value, 77);
	st = stats(0);
	assert_int_equal(st.guest_faults, 1);
	assert_int_equal(st.l1_unhandled, 0);
	assert_true(st.l2_exits_to_l1 >= 3);
	assert_true(st.guest_walks > 0);
	hw_vcpu_last_pf(w.vcpus[0]->hw, &cr2, &code);
	assert_int_equal(cr2, unmapped);
	assert_int_equal(code & PFERR_PRESENT_MASK, 0);
	/* The stores landed where L2's tables and L1's EPT say (both identity maps). */
	assert_int_equal(host_access(w.mm, w.cfg.mem[0].hva + 0x5008, false, &v), 0);
	assert_int_equal(v, 0x5678);
	end_clean();
}

static void test_l2_guest_paging(void **state)
{
	l2_guest_paging(WORLD_MMU_TDP, 4);
	world_destroy(&w);
	memset(&w, 0, sizeof(w));
	l2_guest_paging(WORLD_MMU_TDP_LEGACY, 3);
	world_destroy(&w);
	memset(&w, 0, sizeof(w));
	l2_guest_paging(WORLD_MMU_TDP, 2);
	world_destroy(&w);
	memset(&w, 0, sizeof(w));
	l2_guest_paging(WORLD_MMU_TDP_LEGACY, 5);
}

/* A program of L2's may not carry L1's instructions, nor a VMCALL without an L1. */
static void test_bad_programs(void **state)
{
	struct hw_access a = { .op = HW_VMCALL, .value = HW_HC_UNMAP };
	struct hw_program p = { .list = &a, .len = 1 };

	create(WORLD_MMU_TDP, 1, 0);
	assert_int_equal(hw_vcpu_load_program(w.vcpus[0]->hw, &p), -EINVAL);
	a.op = HW_INVEPT;
	p.nested = w.l1;
	assert_int_equal(hw_vcpu_load_program(w.vcpus[0]->hw, &p), -EINVAL);
	a.op = HW_VMRESUME;
	assert_int_equal(hw_vcpu_load_program(w.vcpus[0]->hw, &p), -EINVAL);
	p.list = NULL;
	p.base = L2_BASE;
	p.size = MB;
	p.unmap_each_pass = true;
	p.nested = NULL;
	assert_int_equal(hw_vcpu_load_program(w.vcpus[0]->hw, &p), -EINVAL);
	end_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		NESTED_TEST(test_demand_faults_tdp_mmu),
		NESTED_TEST(test_demand_faults_tdp_legacy),
		NESTED_TEST(test_unmap_and_invept),
		NESTED_TEST(test_unlink_relink_emulated),
		NESTED_TEST(test_misconfig_and_read_only),
		NESTED_TEST(test_l2_writes_dirty_l1_log),
		NESTED_TEST(test_bad_invept),
		NESTED_TEST(test_two_vcpus_share_l1),
		NESTED_TEST(test_aging_lazy_rmaps),
		NESTED_TEST(test_lazy_metadata_freed_tdp_mmu),
		NESTED_TEST(test_lazy_metadata_freed_tdp_legacy),
		NESTED_TEST(test_books_count_l2_roots),
		NESTED_TEST(test_bad_configs),
		NESTED_TEST(test_l2_guest_paging),
		NESTED_TEST(test_bad_programs),
	};

	return kvmmu_run_tests(tests);
}
