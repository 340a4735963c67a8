// SPDX-License-Identifier: GPL-2.0-only
/*
 * The shadow MMU's direct-map mode (tdp_mmu=0, WORLD_MMU_TDP_LEGACY):
 * faults build direct shadow pages (one table per level and region, each
 * leaf in exactly one rmap, mapping what the host maps); the hash finds a
 * page by gfn and role and misses on another role; the two-phase zap
 * (prepare unlinks and invalidates, commit flushes and frees) after which
 * faults map the gfns again; a memslot delete under the slot-zap quirk
 * (fast zap: a new generation, no obsolete page left on the active list,
 * new roots at the next run); teardown that leaves no page, rmap
 * descriptor or page stat behind; and one root shared by two vCPUs.
 */
#include <errno.h>

#include "mmu.h"
#include "mmu_internal.h"
#include "shadow_mmu.h"
#include "test.h"
#include "vm_fixture.h"

#define MB (1UL << 20)
#define GB (1UL << 30)

static struct vm_fixture fix;

/*
 * kvm->srcu and mmu_lock as the test thread takes them, tracked so that a
 * failed assertion inside a section (cmocka jumps out of the test) does
 * not leave them held for the teardown to deadlock on.
 */
static int srcu_idx[4];
static int srcu_depth;
static bool mmu_write_locked;

static void srcu_begin(void)
{
	assert_true(srcu_depth < (int)ARRAY_SIZE(srcu_idx));
	srcu_idx[srcu_depth++] = srcu_read_lock(&fix.w.kvm->srcu);
}

static void srcu_end(void)
{
	srcu_read_unlock(&fix.w.kvm->srcu, srcu_idx[--srcu_depth]);
}

/* mmu_lock for write, inside an SRCU read section (rmaps look memslots up). */
static void mmu_write_begin(void)
{
	srcu_begin();
	write_lock(&fix.w.kvm->mmu_lock);
	mmu_write_locked = true;
}

static void mmu_write_end(void)
{
	mmu_write_locked = false;
	write_unlock(&fix.w.kvm->mmu_lock);
	srcu_end();
}

static int teardown_fix(void **state)
{
	if (mmu_write_locked) {
		mmu_write_locked = false;
		write_unlock(&fix.w.kvm->mmu_lock);
	}
	while (srcu_depth)
		srcu_end();
	if (vm_fixture_destroy(&fix))
		return -1;
	return kvmmu_test_teardown(state);
}

#define FIX_TEST(fn) cmocka_unit_test_setup_teardown(fn, kvmmu_test_setup, teardown_fix)

/* A VM on the shadow MMU: @mem_size of guest memory (one slot) at gpa 0. */
static void create(u64 mem_size, int nr_vcpus, enum world_backing backing)
{
	struct vm_fixture_opts o = { .mem_size = mem_size, .nr_vcpus = nr_vcpus,
				     .backing = backing, .mmu = WORLD_MMU_TDP_LEGACY };

	assert_int_equal(vm_fixture_create(&fix, &o), 0);
	assert_false(tdp_mmu_enabled(fix.w.kvm));
	assert_non_null(fix.w.kvm->arch.mmu_page_hash);
}

/* For tests that destroy the VM themselves: something for the hook to destroy. */
static void create_empty(void)
{
	struct vm_fixture_opts o = { .mmu = WORLD_MMU_TDP_LEGACY };

	assert_int_equal(vm_fixture_create(&fix, &o), 0);
}

/* A second memslot (id 1) of @size anonymous memory at @gpa; returns its hva. */
static unsigned long add_slot(gpa_t gpa, u64 size)
{
	struct host_mmap_args a = { .len = size, .vm_flags = VM_READ | VM_WRITE,
				    .backing = HOST_BACKING_ANON };
	unsigned long hva;

	assert_int_equal(host_mmap(fix.w.mm, &a, &hva), 0);
	assert_int_equal(world_set_memslot(&fix.w, 1, 0, gpa, size, hva), 0);
	return hva;
}

/* Replace @vcpu's program: @op at each of @gpas, the value of step i being i. */
static void program(int vcpu, u8 op, const gpa_t *gpas, size_t n)
{
	struct kvmmu_hw_vcpu *hv = fix.hw.vcpus[vcpu];
	size_t i;

	hv->len = 0;
	hv->pc = 0;
	for (i = 0; i < n; i++)
		fake_hw_push(hv, op, gpas[i], i);
}

static void run(int vcpu, u8 op, const gpa_t *gpas, size_t n)
{
	program(vcpu, op, gpas, n);
	assert_int_equal(fix_run_to_hlt(&fix, vcpu), 0);
}

static struct kvm_mmu_page *vcpu_root(int vcpu)
{
	return root_to_sp(fix.w.kvm, fix.w.vcpus[vcpu]->arch.mmu->root.hpa);
}

static unsigned long n_used(void)
{
	return fix.w.kvm->arch.n_used_mmu_pages;
}

static s64 pages_at(int level)
{
	static const char *const names[] = { "pages_4k", "pages_2m", "pages_1g" };

	/* Through the stats interface: the vCPUs' shares are folded in there. */
	return (s64)kvmmu_vm_stat(fix.w.kvm, names[level - 1]);
}

static bool on_list(const struct kvm_mmu_page *sp, struct list_head *head)
{
	struct kvm_mmu_page *pos;

	list_for_each_entry(pos, head, link) {
		if (pos == sp)
			return true;
	}
	return false;
}

static unsigned long list_len(struct list_head *head)
{
	struct kvm_mmu_page *pos;
	unsigned long n = 0;

	list_for_each_entry(pos, head, link)
		n++;
	return n;
}

/*
 * The tables a direct tree needs for @gpas: the root, and at each level
 * below it one per distinct region that level's table covers (512G for
 * level 3, 1G for level 2, 2M for level 1).
 */
static unsigned long expected_tables(const gpa_t *gpas, size_t n, int root_level)
{
	unsigned long tables = 1;
	int level;
	size_t i, j;

	for (level = PG_LEVEL_4K; level < root_level; level++) {
		unsigned int shift = PAGE_SHIFT + level * SPTE_LEVEL_BITS;

		for (i = 0; i < n; i++) {
			for (j = 0; j < i; j++) {
				if (gpas[j] >> shift == gpas[i] >> shift)
					break;
			}
			if (j == i)
				tables++;
		}
	}
	return tables;
}

/* The memslot holding @gfn (the caller holds kvm->srcu). */
static struct kvm_memory_slot *slot_of(gfn_t gfn)
{
	struct kvm_memory_slot *slot = __gfn_to_memslot(kvm_memslots(fix.w.kvm), gfn);

	assert_non_null(slot);
	return slot;
}

/* The 4K rmap of @gfn (the caller holds kvm->srcu). */
static struct kvm_rmap_head *rmap_4k(gfn_t gfn)
{
	struct kvm_memory_slot *slot = slot_of(gfn);

	assert_non_null(slot->arch.rmap[0]);
	return &slot->arch.rmap[0][gfn - slot->base_gfn];
}

/* The frame the host maps behind @gfn (the caller holds kvm->srcu). */
static kvm_pfn_t host_pfn(gfn_t gfn)
{
	unsigned long hva = __gfn_to_hva_memslot(slot_of(gfn), gfn);
	int level;
	u64 e = host_pgtable_lookup(fix.w.mm, hva, &level);

	assert_true(hpte_present(e));
	return hpte_subpage_pfn(e, level, hva);
}

/* The leaf SPTE for @gpa under @root, by a walk of the tables; NULL if none. */
static _Atomic u64 *walk_to_leaf(struct kvm_mmu_page *root, gpa_t gpa, int *level)
{
	_Atomic u64 *spt = root->spt;
	int l;

	for (l = root->role.level; l >= PG_LEVEL_4K; l--) {
		_Atomic u64 *sptep = spt + SPTE_INDEX(gpa, l);
		u64 spte = atomic_load(sptep);

		if (!is_shadow_present_pte(spte))
			return NULL;
		if (is_last_spte(spte, l)) {
			*level = l;
			return sptep;
		}
		spt = kvm_table_virt(fix.w.kvm, spte_to_pfn(spte));
	}
	return NULL;
}

/*
 * @gpa is mapped at 4K under @root, by a leaf that is the only entry of
 * its gfn's 4K rmap and maps the host's frame.
 */
static void assert_mapped_4k(struct kvm_mmu_page *root, gpa_t gpa)
{
	struct kvm *kvm = fix.w.kvm;
	gfn_t gfn = gpa_to_gfn(gpa);
	struct kvm_rmap_head *head;
	struct rmap_iterator iter;
	_Atomic u64 *sptep, *leaf;
	struct kvm_mmu_page *sp;
	int level = 0;
	u64 spte;

	srcu_begin();
	head = rmap_4k(gfn);
	assert_int_equal(pte_list_count(head), 1);
	sptep = rmap_get_first(head, &iter);
	assert_non_null(sptep);
	spte = atomic_load(sptep);
	assert_true(is_shadow_present_pte(spte));
	assert_true(is_last_spte(spte, PG_LEVEL_4K));
	assert_int_equal(spte_to_pfn(spte), host_pfn(gfn));
	/* The rmap entry is the leaf the tree reaches. */
	leaf = walk_to_leaf(root, gpa, &level);
	assert_ptr_equal(leaf, sptep);
	assert_int_equal(level, PG_LEVEL_4K);
	/* In the direct level-1 table for the 2M region. */
	sp = sptep_to_sp(kvm, sptep);
	assert_int_equal(sp->role.level, PG_LEVEL_4K);
	assert_true(sp->role.direct);
	assert_int_equal(sp->gfn, gfn & ~(gfn_t)(KVM_PAGES_PER_HPAGE(PG_LEVEL_2M) - 1));
	srcu_end();
}

static unsigned int rmap_count_4k(gfn_t gfn)
{
	unsigned int n;

	srcu_begin();
	n = pte_list_count(rmap_4k(gfn));
	srcu_end();
	return n;
}

/* Every page on active_mmu_pages: direct, valid, of the current generation. */
static void assert_active_pages_current(void)
{
	struct kvm *kvm = fix.w.kvm;
	struct kvm_mmu_page *sp;

	list_for_each_entry(sp, &kvm->arch.active_mmu_pages, link) {
		assert_false(is_tdp_mmu_page(sp));
		assert_true(sp->role.direct);
		assert_false(sp->role.invalid);
		assert_int_equal(sp->mmu_valid_gen, kvm->arch.mmu_valid_gen);
	}
}

/* The first level-@level page on the active list (optionally with @gfn). */
static struct kvm_mmu_page *find_page(int level, bool match_gfn, gfn_t gfn)
{
	struct kvm_mmu_page *sp;

	list_for_each_entry(sp, &fix.w.kvm->arch.active_mmu_pages, link) {
		if (sp->role.level == level && (!match_gfn || sp->gfn == gfn))
			return sp;
	}
	return NULL;
}

/* ---- a. faults build direct shadow pages ----------------------------------------------------- */

static const gpa_t spread_gpas[] = {
	0, 0x1000, 0x5000, 2 * MB - PAGE_SIZE,        /* the first 2M region */
	2 * MB, 2 * MB + 0x3000,                       /* the second */
	6 * MB + 0x10000,                              /* the fourth */
	GB, GB + 0x7000,                               /* slot 1: another 1G region */
};

static void test_faults_build_direct_pages(void **state)
{
	const size_t n = ARRAY_SIZE(spread_gpas);
	struct kvm *kvm;
	struct kvm_mmu_page *root;
	size_t i;

	create(8 * MB, 2, WORLD_BACKING_ANON);
	kvm = fix.w.kvm;
	add_slot(GB, 2 * MB);
	run(0, FAKE_WRITE, spread_gpas, n);

	/* 1 root + 1 level-3 + 2 level-2 (0, 1G) + 4 level-1 (0, 2M, 6M, 1G). */
	assert_int_equal(expected_tables(spread_gpas, n, 4), 8);
	assert_int_equal(n_used(), expected_tables(spread_gpas, n, 4));
	assert_int_equal(list_len(&kvm->arch.active_mmu_pages), n_used());
	assert_active_pages_current();

	/* One root, of vCPU 0; vCPU 1 never ran and holds none. */
	root = vcpu_root(0);
	assert_non_null(root);
	assert_true(on_list(root, &kvm->arch.active_mmu_pages));
	assert_int_equal(root->role.level, 4);
	assert_int_equal(root->gfn, 0);
	assert_int_equal(root->root_count, 1);
	assert_int_equal(root->parent_ptes.val, 0);
	assert_int_equal(fix.w.vcpus[1]->arch.mmu->root.hpa, INVALID_PAGE);

	assert_int_equal(pages_at(PG_LEVEL_4K), n);
	assert_int_equal(pages_at(PG_LEVEL_2M), 0);
	for (i = 0; i < n; i++)
		assert_mapped_4k(root, spread_gpas[i]);
	/* Direct pages have no indirect shadow, nor write tracking. */
	assert_int_equal(kvm->arch.indirect_shadow_pages, 0);
}

/* ---- b. the hash ----------------------------------------------------------------------------- */

static void test_hash_finds_page_by_gfn_and_role(void **state)
{
	struct kvm_mmu_page *root, *sp, *got, *other;
	struct kvm_vcpu *vcpu;
	union kvm_mmu_page_role role;
	struct kvm *kvm;
	LIST_HEAD(invalid_list);
	unsigned long used;
	u64 misses;

	create(8 * MB, 1, WORLD_BACKING_ANON);
	kvm = fix.w.kvm;
	vcpu = fix.w.vcpus[0];
	run(0, FAKE_WRITE, spread_gpas, 7);
	root = vcpu_root(0);
	sp = find_page(PG_LEVEL_4K, true, gpa_to_gfn(2 * MB));
	assert_non_null(sp);
	used = n_used();

	assert_int_equal(mmu_topup_memory_caches(vcpu), 0);
	mmu_write_begin();
	misses = kvm->stat.mmu_cache_miss;

	/* Existing (gfn, role) pairs: the pages themselves, no miss. */
	got = kvm_mmu_get_shadow_page(vcpu, sp->gfn, sp->role);
	assert_ptr_equal(got, sp);
	got = kvm_mmu_get_shadow_page(vcpu, root->gfn, root->role);
	assert_ptr_equal(got, root);
	assert_int_equal(root->root_count, 1); /* a lookup takes no root reference */
	/* Same gfn, another level: the level-2 page, not the level-1 one. */
	role = sp->role;
	role.level = PG_LEVEL_2M;
	got = kvm_mmu_get_shadow_page(vcpu, gpa_to_gfn(0), role);
	assert_int_equal(got->role.level, PG_LEVEL_2M);
	assert_true(got != sp);
	assert_int_equal(kvm->stat.mmu_cache_miss, misses);
	assert_int_equal(n_used(), used);

	/* Same gfn, another role word (access): a miss and a new page. */
	role = sp->role;
	role.access = ACC_EXEC_MASK | ACC_USER_MASK;
	assert_true(role.word != sp->role.word);
	other = kvm_mmu_get_shadow_page(vcpu, sp->gfn, role);
	assert_non_null(other);
	assert_true(other != sp);
	assert_int_equal(other->gfn, sp->gfn);
	assert_int_equal(other->role.word, role.word);
	assert_int_equal(kvm->stat.mmu_cache_miss, misses + 1);
	assert_int_equal(n_used(), used + 1);
	/* New pages go at the head of the active list, in this generation. */
	assert_ptr_equal(kvm->arch.active_mmu_pages.next, &other->link);
	assert_int_equal(other->mmu_valid_gen, kvm->arch.mmu_valid_gen);
	assert_int_equal(other->root_count, 0);
	assert_int_equal(other->parent_ptes.val, 0);
	/* Found now; the first page is still found for its own role. */
	assert_ptr_equal(kvm_mmu_get_shadow_page(vcpu, sp->gfn, role), other);
	assert_ptr_equal(kvm_mmu_get_shadow_page(vcpu, sp->gfn, sp->role), sp);
	assert_int_equal(kvm->stat.mmu_cache_miss, misses + 1);

	/* Zap the extra page, so that teardown finds the tree as the faults left it. */
	kvm_mmu_prepare_zap_page(kvm, other, &invalid_list);
	kvm_mmu_commit_zap_page(kvm, &invalid_list);
	assert_true(list_empty(&invalid_list));
	assert_int_equal(n_used(), used);
	mmu_write_end();

	/* The tree still works. */
	run(0, FAKE_READ, spread_gpas, 7);
	assert_int_equal(n_used(), used);
}

/* ---- c. the two-phase zap -------------------------------------------------------------------- */

static void test_two_phase_zap(void **state)
{
	static gpa_t gpas[24];
	struct kvmmu_hw_vcpu *hv;
	struct kvm_mmu_page *sp, *root;
	struct rmap_iterator iter;
	_Atomic u64 *parent_sptep;
	struct kvm *kvm;
	LIST_HEAD(invalid_list);
	unsigned long used;
	u64 zapped, flushes;
	gfn_t leaves[SPTE_ENT_PER_PAGE];
	int nr_leaves = 0, i;

	/* 16 pages in the first 2M region, 8 in the second. */
	for (i = 0; i < 16; i++)
		gpas[i] = (gpa_t)i * 3 * PAGE_SIZE;
	for (i = 16; i < 24; i++)
		gpas[i] = 2 * MB + (gpa_t)(i - 16) * PAGE_SIZE;
	create(4 * MB, 1, WORLD_BACKING_ANON);
	kvm = fix.w.kvm;
	hv = fix.hw.vcpus[0];
	run(0, FAKE_WRITE, gpas, ARRAY_SIZE(gpas));
	root = vcpu_root(0);
	used = n_used();
	assert_int_equal(used, expected_tables(gpas, ARRAY_SIZE(gpas), 4));
	assert_int_equal(pages_at(PG_LEVEL_4K), ARRAY_SIZE(gpas));

	/* The level-1 table of the first region, linked from one parent. */
	sp = find_page(PG_LEVEL_4K, true, 0);
	assert_non_null(sp);
	assert_int_equal(pte_list_count(&sp->parent_ptes), 1);
	parent_sptep = rmap_get_first(&sp->parent_ptes, &iter);
	assert_true(is_shadow_present_pte(atomic_load(parent_sptep)));
	assert_int_equal(spte_to_pfn(atomic_load(parent_sptep)), sp->pfn);
	for (i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		if (is_shadow_present_pte(atomic_load(&sp->spt[i])))
			leaves[nr_leaves++] = sp->gfn + (gfn_t)i;
	}
	assert_int_equal(nr_leaves, 16);
	for (i = 0; i < nr_leaves; i++)
		assert_int_equal(rmap_count_4k(leaves[i]), 1);

	mmu_write_begin();
	zapped = kvm->stat.mmu_shadow_zapped;
	flushes = kvm->stat.remote_tlb_flush_requests;

	/* Phase one: unlinked, invalid, on the caller's list; nothing flushed or freed yet. */
	kvm_mmu_prepare_zap_page(kvm, sp, &invalid_list);
	assert_true(sp->role.invalid);
	assert_true(on_list(sp, &invalid_list));
	assert_false(on_list(sp, &kvm->arch.active_mmu_pages));
	assert_int_equal(list_len(&invalid_list), 1);
	assert_false(is_shadow_present_pte(atomic_load(parent_sptep)));
	assert_int_equal(sp->parent_ptes.val, 0);
	for (i = 0; i < SPTE_ENT_PER_PAGE; i++)
		assert_false(is_shadow_present_pte(atomic_load(&sp->spt[i])));
	for (i = 0; i < nr_leaves; i++)
		assert_int_equal(pte_list_count(rmap_4k(leaves[i])), 0);
	assert_int_equal(n_used(), used - 1);
	assert_int_equal(pages_at(PG_LEVEL_4K), ARRAY_SIZE(gpas) - 16);
	assert_int_equal(kvm->stat.mmu_shadow_zapped, zapped + 1);
	assert_int_equal(kvm->stat.remote_tlb_flush_requests, flushes);
	/* The hash skips it: a lookup for its gfn and role makes a new page. */
	assert_true(is_obsolete_sp(kvm, sp));
	/* The other region is untouched. */
	assert_int_equal(pte_list_count(rmap_4k(gpa_to_gfn(2 * MB))), 1);
	assert_ptr_equal(vcpu_root(0), root);

	/* Phase two: one remote flush, then the list is freed (and emptied). */
	kvm_mmu_commit_zap_page(kvm, &invalid_list);
	assert_int_equal(kvm->stat.remote_tlb_flush_requests, flushes + 1);
	assert_true(list_empty(&invalid_list));
	assert_int_equal(n_used(), used - 1);
	mmu_write_end();
	sp = NULL; /* freed after a grace period */

	/* The vCPU reads the pages again: they fault back in, to the same frames. */
	run(0, FAKE_READ, gpas, ARRAY_SIZE(gpas));
	for (i = 0; i < (int)ARRAY_SIZE(gpas); i++)
		assert_int_equal(hv->prog[i].value, i);
	assert_ptr_equal(vcpu_root(0), root);
	assert_int_equal(n_used(), used);
	assert_int_equal(pages_at(PG_LEVEL_4K), ARRAY_SIZE(gpas));
	assert_active_pages_current();
	for (i = 0; i < (int)ARRAY_SIZE(gpas); i++)
		assert_mapped_4k(root, gpas[i]);
}

/* ---- d. fast zap and obsolete pages ---------------------------------------------------------- */

static void test_slot_delete_fast_zaps(void **state)
{
	static const gpa_t gpas0[] = { 0, 0x4000, 2 * MB + 0x2000 };
	static const gpa_t gpas1[] = { GB, GB + 0x1000, GB + MB };
	static const gpa_t both[] = { 0, 0x4000, 2 * MB + 0x2000, GB, GB + 0x1000, GB + MB };
	struct kvm_mmu_page *old_root, *root;
	hpa_t old_hpa;
	struct kvm *kvm;
	unsigned long hva;
	u8 old_gen;
	int i;

	create(4 * MB, 2, WORLD_BACKING_ANON);
	kvm = fix.w.kvm;
	hva = add_slot(GB, 2 * MB);
	run(0, FAKE_WRITE, gpas0, ARRAY_SIZE(gpas0));
	run(1, FAKE_WRITE, gpas1, ARRAY_SIZE(gpas1));
	old_root = vcpu_root(0);
	assert_ptr_equal(vcpu_root(1), old_root);
	assert_int_equal(old_root->root_count, 2);
	old_hpa = fix.w.vcpus[0]->arch.mmu->root.hpa;
	old_gen = kvm->arch.mmu_valid_gen;
	assert_int_equal(n_used(), expected_tables(both, ARRAY_SIZE(both), 4));
	assert_true(kvm_check_has_quirk(kvm, KVM_X86_QUIRK_SLOT_ZAP_ALL));

	/* Delete slot 1: a fast zap. */
	assert_int_equal(world_set_memslot(&fix.w, 1, 0, GB, 0, 0), 0);
	assert_int_not_equal(kvm->arch.mmu_valid_gen, old_gen);
	/* No obsolete page is left on the active list: nothing is left at all. */
	assert_true(list_empty(&kvm->arch.active_mmu_pages));
	assert_int_equal(pages_at(PG_LEVEL_4K), 0);
	/* The root in use survives, invalid and unlinked, until its vCPUs drop it. */
	assert_true(old_root->role.invalid);
	assert_true(is_obsolete_sp(kvm, old_root));
	assert_int_equal(old_root->root_count, 2);
	for (i = 0; i < SPTE_ENT_PER_PAGE; i++)
		assert_false(is_shadow_present_pte(atomic_load(&old_root->spt[i])));
	assert_int_equal(n_used(), 1);
	assert_int_equal(atomic64_read(&kvm->arch.nr_pte_list_descs), 0);
	assert_true(kvm_test_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, fix.w.vcpus[0]));
	assert_true(kvm_test_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, fix.w.vcpus[1]));

	/* vCPU 0 runs: a new root of the new generation; the old one is still vCPU 1's. */
	run(0, FAKE_READ, gpas0, ARRAY_SIZE(gpas0));
	root = vcpu_root(0);
	assert_true(fix.w.vcpus[0]->arch.mmu->root.hpa != old_hpa);
	assert_true(root != old_root);
	assert_false(root->role.invalid);
	assert_int_equal(root->mmu_valid_gen, kvm->arch.mmu_valid_gen);
	assert_int_equal(root->root_count, 1);
	assert_int_equal(old_root->root_count, 1);
	assert_false(on_list(old_root, &kvm->arch.active_mmu_pages));
	assert_int_equal(fix.hw.vcpus[0]->prog[0].value, 0); /* slot 0 kept its data */

	/* vCPU 1 runs: it drops the old root (zapped and freed) and shares the new one. */
	run(1, FAKE_READ, gpas0, 1);
	assert_ptr_equal(vcpu_root(1), root);
	assert_int_equal(root->root_count, 2);
	old_root = NULL;
	assert_int_equal(n_used(), expected_tables(gpas0, ARRAY_SIZE(gpas0), 4));
	assert_int_equal(list_len(&kvm->arch.active_mmu_pages), n_used());
	assert_active_pages_current();

	/* The slot is back, over the same memory: faults map it again. */
	assert_int_equal(world_set_memslot(&fix.w, 1, 0, GB, 2 * MB, hva), 0);
	run(1, FAKE_READ, gpas1, ARRAY_SIZE(gpas1));
	for (i = 0; i < (int)ARRAY_SIZE(gpas1); i++)
		assert_int_equal(fix.hw.vcpus[1]->prog[i].value, i);
	assert_int_equal(n_used(), expected_tables(both, ARRAY_SIZE(both), 4));
	assert_int_equal(pages_at(PG_LEVEL_4K), ARRAY_SIZE(both));
	for (i = 0; i < (int)ARRAY_SIZE(both); i++)
		assert_mapped_4k(root, both[i]);
	assert_active_pages_current();
}

/* ---- e. teardown ----------------------------------------------------------------------------- */

/* Zap everything (as the notifier's release does), then destroy: nothing left, no WARN. */
static void test_flush_all_then_destroy(void **state)
{
	static const gpa_t gpas[] = { 0, 0x3000, 2 * MB + 0x5000, 6 * MB };
	struct kvm_mmu_page *root;
	struct kvm *kvm;

	/* THP: 2M leaves (and their rmaps) as well as 4K ones. */
	create(8 * MB, 2, WORLD_BACKING_THP);
	kvm = fix.w.kvm;
	run(0, FAKE_WRITE, gpas, ARRAY_SIZE(gpas));
	run(1, FAKE_READ, gpas, 2);
	root = vcpu_root(0);
	assert_int_equal(root->root_count, 2);
	assert_true(pages_at(PG_LEVEL_2M) >= 1);
	assert_true(n_used() > 1);

	srcu_begin();
	kvm_arch_flush_shadow_all(kvm);
	srcu_end();
	assert_true(list_empty(&kvm->arch.active_mmu_pages));
	assert_int_equal(pages_at(PG_LEVEL_4K), 0);
	assert_int_equal(pages_at(PG_LEVEL_2M), 0);
	assert_int_equal(pages_at(PG_LEVEL_1G), 0);
	assert_int_equal(atomic64_read(&kvm->arch.nr_pte_list_descs), 0);
	/* Only the root both vCPUs hold, invalid, until they drop it. */
	assert_int_equal(n_used(), 1);
	assert_true(root->role.invalid);
	assert_int_equal(root->root_count, 2);
	assert_true(kvm_test_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, fix.w.vcpus[0]));

	/* The vCPUs go with the VM: n_used_mmu_pages reaches 0 or uninit WARNs. */
	assert_int_equal(vm_fixture_destroy(&fix), 0);
	create_empty();
}

/* Destroy with everything still mapped: no leaked frame, no WARN (the hook checks both). */
static void test_destroy_with_live_pages(void **state)
{
	static const gpa_t gpas[] = { 0, 0x1000, 2 * MB, 4 * MB + 0x8000, 6 * MB + 0x1000 };

	create(8 * MB, 2, WORLD_BACKING_THP);
	add_slot(GB, 2 * MB);
	run(0, FAKE_WRITE, gpas, ARRAY_SIZE(gpas));
	run(1, FAKE_WRITE, (const gpa_t[]){ GB, GB + 0x2000 }, 2);
	assert_true(n_used() > 1);
	assert_int_equal(vcpu_root(0)->root_count, 2);
	assert_int_equal(vm_fixture_destroy(&fix), 0);
	create_empty();
}

/* ---- f. two vCPUs, one root ------------------------------------------------------------------ */

/*
 * KVM_SET_NR_MMU_PAGES: a budget of 64 pages, and a guest that touches one
 * page per 2M of 256 MiB (128 level-1 pages, each 2M of 4K host pages):
 * the oldest pages that are not roots are recycled (mmu_recycled) and the
 * budget holds; memslot changes no longer size it once it is set.
 */
static void test_page_budget(void **state)
{
	gpa_t gpas[128];
	size_t i;

	create(256 * MB, 1, WORLD_BACKING_ANON);
	assert_int_equal(kvmmu_vm_set_nr_mmu_pages(fix.w.kvm, 63), -EINVAL);
	assert_int_equal(kvmmu_vm_set_nr_mmu_pages(fix.w.kvm, 64), 0);
	assert_int_equal(kvmmu_vm_get_nr_mmu_pages(fix.w.kvm), 64);
	for (i = 0; i < ARRAY_SIZE(gpas); i++)
		gpas[i] = i * 2 * MB;
	run(0, HW_STORE, gpas, ARRAY_SIZE(gpas));
	assert_true(fix.w.kvm->stat.mmu_recycled > 0);
	assert_true(n_used() <= 64);
	/* The root stays: recycling skips roots in use. */
	assert_non_null(vcpu_root(0));
	assert_false(vcpu_root(0)->role.invalid);
	/* A new memslot keeps the budget userspace set. */
	add_slot(1 * GB, 2 * MB);
	assert_int_equal(kvmmu_vm_get_nr_mmu_pages(fix.w.kvm), 64);
	/* Raised again: the pages come back without recycling. */
	assert_int_equal(kvmmu_vm_set_nr_mmu_pages(fix.w.kvm, 1000), 0);
	{
		u64 recycled = fix.w.kvm->stat.mmu_recycled;

		run(0, HW_LOAD, gpas, ARRAY_SIZE(gpas));
		assert_int_equal(fix.w.kvm->stat.mmu_recycled, recycled);
		assert_true(n_used() > 64);
	}
}

/*
 * Dirty logging on a THP-backed slot maps 4K; turned off, the shadow MMU
 * zaps the collapsible 4K leaves (kvm_rmap_zap_collapsible_sptes()) and
 * the next faults map 2M again.
 */
static void test_logging_off_recovers_huge_pages(void **state)
{
	gpa_t gpas[8];
	size_t i;

	create(4 * MB, 1, WORLD_BACKING_THP);
	for (i = 0; i < ARRAY_SIZE(gpas); i++)
		gpas[i] = i * 512 * 1024;
	run(0, FAKE_WRITE, gpas, ARRAY_SIZE(gpas));
	assert_int_equal(pages_at(PG_LEVEL_2M), 2);

	assert_int_equal(world_mem_set_flags(&fix.w, 0, KVM_MEM_LOG_DIRTY_PAGES), 0);
	run(0, FAKE_WRITE, gpas, ARRAY_SIZE(gpas));
	assert_int_equal(pages_at(PG_LEVEL_2M), 0);
	assert_int_equal(pages_at(PG_LEVEL_4K), ARRAY_SIZE(gpas));

	assert_int_equal(world_mem_set_flags(&fix.w, 0, 0), 0);
	assert_int_equal(pages_at(PG_LEVEL_4K), 0);
	run(0, FAKE_READ, gpas, ARRAY_SIZE(gpas));
	assert_int_equal(pages_at(PG_LEVEL_2M), 2);
	assert_int_equal(pages_at(PG_LEVEL_4K), 0);
}

static void test_two_vcpus_share_root(void **state)
{
	static const gpa_t gpas0[] = { 0, 0x1000, 0x2000, MB };
	static const gpa_t gpas1[] = { 4 * MB, 4 * MB + 0x1000, 6 * MB + 0x3000 };
	static const gpa_t both[] = { 0, 0x1000, 0x2000, MB, 4 * MB, 4 * MB + 0x1000,
				      6 * MB + 0x3000 };
	struct kvmmu_thread *t[2];
	struct kvm_mmu_page *root, *sp;
	struct kvm *kvm;
	int roots = 0, i;

	create(8 * MB, 2, WORLD_BACKING_ANON);
	kvm = fix.w.kvm;
	program(0, FAKE_WRITE, gpas0, ARRAY_SIZE(gpas0));
	program(1, FAKE_WRITE, gpas1, ARRAY_SIZE(gpas1));
	/* At once: both load the root and fault under the write lock. */
	t[0] = fix_start_vcpu(&fix, 0);
	t[1] = fix_start_vcpu(&fix, 1);
	assert_int_equal(kvmmu_thread_join(t[0]), 0);
	assert_int_equal(kvmmu_thread_join(t[1]), 0);

	root = vcpu_root(0);
	assert_non_null(root);
	assert_ptr_equal(vcpu_root(1), root);
	assert_int_equal(root->root_count, 2);
	list_for_each_entry(sp, &kvm->arch.active_mmu_pages, link) {
		if (sp->role.level == 4)
			roots++;
	}
	assert_int_equal(roots, 1);
	assert_int_equal(n_used(), expected_tables(both, ARRAY_SIZE(both), 4));
	assert_int_equal(pages_at(PG_LEVEL_4K), ARRAY_SIZE(both));
	for (i = 0; i < (int)ARRAY_SIZE(both); i++)
		assert_mapped_4k(root, both[i]);
	assert_active_pages_current();
}

static const struct CMUnitTest tests[] = {
	FIX_TEST(test_faults_build_direct_pages),
	FIX_TEST(test_hash_finds_page_by_gfn_and_role),
	FIX_TEST(test_two_phase_zap),
	FIX_TEST(test_slot_delete_fast_zaps),
	FIX_TEST(test_flush_all_then_destroy),
	FIX_TEST(test_destroy_with_live_pages),
	FIX_TEST(test_two_vcpus_share_root),
	FIX_TEST(test_page_budget),
	FIX_TEST(test_logging_off_recovers_huge_pages),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
