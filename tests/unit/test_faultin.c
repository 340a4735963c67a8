// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fault path and the host's memory: page references from the pfn
 * lookup released exactly once, none ever on PFNMAP memory, folios dirtied
 * when KVM maps them writable (through a THP tail page too), read-only
 * memslots, 1 GiB pages from hugetlbfs, memory failure, and the
 * notifier's release.  The seed-001 mutants show what each rule prevents.
 */
#include <errno.h>
#include <string.h>

#include "host_mm.h"
#include "mmu_internal.h"
#include "mutant.h"
#include "rcu.h"
#include "test.h"
#include "vm_fixture.h"

#define MB (1UL << 20)
#define GB (1UL << 30)

static struct vm_fixture fix;

static int teardown_fix(void **state)
{
	kvmmu_mutant_set_mask(0);
	if (vm_fixture_destroy(&fix))
		return -1;
	return kvmmu_test_teardown(state);
}

#define FIX_TEST(fn) cmocka_unit_test_setup_teardown(fn, kvmmu_test_setup, teardown_fix)

static void create(const struct vm_fixture_opts *o)
{
	assert_int_equal(vm_fixture_create(&fix, o), 0);
}

static void run(u8 op, gpa_t first, u64 n, u64 stride)
{
	struct kvmmu_hw_vcpu *hv = fix.hw.vcpus[0];
	u64 i;

	hv->len = 0;
	hv->pc = 0;
	for (i = 0; i < n; i++)
		fake_hw_push(hv, op, first + i * stride, i + 1);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
}

static struct page *host_page(gpa_t gpa)
{
	unsigned long addr = fix.w.cfg.mem[0].hva + (gpa - fix.w.cfg.mem[0].gpa);
	int level;
	u64 e;

	rcu_read_lock();
	e = host_pgtable_lookup(fix.w.mm, addr, &level);
	rcu_read_unlock();
	assert_true(hpte_present(e));
	return pfn_to_page(fix.w.phys, hpte_subpage_pfn(e, level, addr));
}

static s64 misuse(enum kvmmu_frame_misuse kind)
{
	return atomic64_read(&fix.w.phys->misuse[kind]);
}

/* Every lookup's reference goes back: only the host's own mapping holds one. */
static void test_references_released(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1 };
	u64 i;

	create(&o);
	run(FAKE_WRITE, 0, 64, PAGE_SIZE);
	run(FAKE_READ, 64 * PAGE_SIZE, 64, PAGE_SIZE);
	for (i = 0; i < 128; i++)
		assert_int_equal(page_count(fix.w.phys, host_page(i * PAGE_SIZE)), 1);
	assert_int_equal(kvmmu_vcpu_stat(fix.w.vcpus[0], "pf_fixed"), 128);
}

/*
 * The host's fault for a secondary MMU never dirties a folio: KVM does,
 * when it maps the page writable, under mmu_lock.  A read of a shared file
 * page is mapped read-only by the host, so KVM maps it read-only and leaves
 * the folio clean; the write that follows dirties it.  (A read fault the
 * host lets map writable dirties the folio at once: the write that may
 * follow takes no fault.)
 */
static void test_folio_dirtied_when_mapped_writable(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1,
				     .backing = WORLD_BACKING_SHARED };

	create(&o);
	run(FAKE_WRITE, 0x1000, 1, 0);
	assert_true(page_flags(host_page(0x1000)) & PG_dirty);
	run(FAKE_READ, 0x2000, 1, 0);
	assert_false(is_writable_pte(fix_leaf_spte(&fix, 0, 0x2000, NULL)));
	assert_false(page_flags(host_page(0x2000)) & PG_dirty);
	run(FAKE_WRITE, 0x2000, 1, 0);
	assert_true(page_flags(host_page(0x2000)) & PG_dirty);
}

static void test_anon_read_mapped_writable_dirties(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1 };
	struct page *page;

	create(&o);
	run(FAKE_READ, 0x2000, 1, 0);
	page = host_page(0x2000);
	assert_true(is_writable_pte(fix_leaf_spte(&fix, 0, 0x2000, NULL)));
	assert_true(page_flags(page) & PG_dirty);
}

/* A read-only mapping of the file: read-only SPTEs, and a clean folio. */
static void test_readonly_memslot(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1,
				     .slot_flags = KVM_MEM_READONLY };
	struct kvmmu_hw_vcpu *hv;
	u64 spte, v = 77;

	create(&o);
	hv = fix.hw.vcpus[0];
	assert_int_equal(host_access(fix.w.mm, fix.w.cfg.mem[0].hva + 0x3000, true, &v), 0);
	run(FAKE_READ, 0x3000, 1, 0);
	assert_int_equal(hv->prog[0].value, 77);
	spte = fix_leaf_spte(&fix, 0, 0x3000, NULL);
	assert_false(is_writable_pte(spte));
	assert_false(is_host_writable_spte(&fix.w.kvm->arch.masks, spte));
	/* A write is MMIO to userspace, and memory keeps its value. */
	hv->len = 0;
	hv->pc = 0;
	fake_hw_push(hv, FAKE_WRITE, 0x3000, 5);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 1);
	assert_int_equal(fix_host_read(&fix, 0x3000), 77);
	assert_int_equal(kvmmu_vcpu_stat(fix.w.vcpus[0], "pf_emulate"), 1);
}

/* PFNMAP memory: mapped without ever taking a reference. */
static void test_pfnmap_no_references(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 64 * PAGE_SIZE, .nr_vcpus = 1,
				     .backing = WORLD_BACKING_PFNMAP,
				     .pfnmap_block = 64 * PAGE_SIZE };
	u64 i;

	create(&o);
	run(FAKE_READ, 0, 64, PAGE_SIZE);
	for (i = 0; i < 64; i++)
		assert_true(is_shadow_present_pte(fix_leaf_spte(&fix, 0, i * PAGE_SIZE, NULL)));
	assert_int_equal(misuse(KVMMU_MISUSE_REF_FROM_ZERO), 0);
	assert_int_equal(misuse(KVMMU_MISUSE_REF_NONCOUNTED), 0);
	/* Driver memory is not KVM's to mark. */
	assert_int_equal(misuse(KVMMU_MISUSE_MARK_FREED), 0);
}

/* The seed-001 mutant: a reference raised from 0 on a driver's tail page. */
static void test_pfnmap_mutant_takes_references(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 64 * PAGE_SIZE, .nr_vcpus = 1,
				     .backing = WORLD_BACKING_PFNMAP,
				     .pfnmap_block = 64 * PAGE_SIZE };

	create(&o);
	kvmmu_mutant_set_mask(BIT_ULL(MUT_REF_NONCOUNTED_PAGE));
	run(FAKE_READ, 5 * PAGE_SIZE, 1, 0);
	kvmmu_mutant_set_mask(0);
	assert_true(misuse(KVMMU_MISUSE_REF_FROM_ZERO) > 0);
	assert_true(misuse(KVMMU_MISUSE_REF_NONCOUNTED) > 0);
}

/*
 * A write through a tail page of a file THP: the folio (its head) is
 * dirtied.  The seed-001 mutant asks page_ref_count(), which is 0 on a
 * tail, and leaves the folio clean: reclaim would drop the write.
 */
static bool tail_page_write_dirties(bool mutant)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1,
				     .backing = WORLD_BACKING_SHARED_THP };
	struct page *page, *head;
	bool dirty;
	u64 v;

	create(&o);
	/* Populate the file's page cache with a THP, clean, through a read. */
	assert_int_equal(host_access(fix.w.mm, fix.w.cfg.mem[0].hva, false, &v), 0);
	page = host_page(0x5000);
	head = compound_head(fix.w.phys, page);
	assert_ptr_not_equal(page, head);
	assert_int_equal(page_ref_count(page), 0);
	assert_false(page_flags(head) & PG_dirty);

	kvmmu_mutant_set_mask(mutant ? BIT_ULL(MUT_TAIL_PAGE_REF_COUNT) : 0);
	run(FAKE_WRITE, 0x5000, 1, 0);
	kvmmu_mutant_set_mask(0);
	dirty = page_flags(head) & PG_dirty;
	assert_int_equal(vm_fixture_destroy(&fix), 0);
	create(&(struct vm_fixture_opts){ .nr_vcpus = 0 });
	return dirty;
}

static void test_tail_page_folio_dirtied(void **state)
{
	assert_true(tail_page_write_dirties(false));
}

static void test_tail_page_mutant_leaves_folio_clean(void **state)
{
	assert_false(tail_page_write_dirties(true));
}

/* hugetlbfs 1 GiB pages map as 1 GiB SPTEs (a tag-mode host keeps it cheap). */
static void test_hugetlb_1g(void **state)
{
	struct vm_fixture_opts o = { .mem_size = GB, .gpa = 4 * GB, .nr_vcpus = 1,
				     .backing = WORLD_BACKING_HUGETLB_1G,
				     .tag_mode = true };
	struct kvmmu_hw_vcpu *hv;
	int level = 0;
	u64 spte;

	create(&o);
	hv = fix.hw.vcpus[0];
	fake_hw_push(hv, FAKE_WRITE, 4 * GB + 12345 * PAGE_SIZE, 9);
	fake_hw_push(hv, FAKE_READ, 4 * GB + 12345 * PAGE_SIZE, 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_int_equal(hv->prog[1].value, 9);
	spte = fix_leaf_spte(&fix, 0, 4 * GB + 77 * PAGE_SIZE, &level);
	assert_int_equal(level, PG_LEVEL_1G);
	assert_true(is_large_pte(spte));
	assert_int_equal(spte_to_pfn(spte) & ((1UL << 18) - 1), 0);
	assert_int_equal(kvmmu_vm_stat(fix.w.kvm, "pages_1g"), 1);
	assert_int_equal(kvmmu_vcpu_stat(fix.w.vcpus[0], "pf_fixed"), 1);
}

/* Memory failure: the SPTE goes, and the next access reports it to the VMM. */
static void test_memory_failure(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1 };
	struct kvmmu_run r;

	create(&o);
	run(FAKE_WRITE, 0x4000, 1, 0);
	assert_int_equal(host_memory_failure(fix.w.mm, fix.w.cfg.mem[0].hva + 0x4000), 0);
	fix.w.kept_frames = 1; /* the poisoned frame never goes back */
	assert_false(is_shadow_present_pte(fix_leaf_spte(&fix, 0, 0x4000, NULL)));
	fix.hw.vcpus[0]->pc = 0;
	assert_int_equal(fix_run(&fix, 0, &r), -EHWPOISON);
	assert_int_equal(r.gpa, 0x4000);
	/* Other pages still work. */
	run(FAKE_WRITE, 0x5000, 1, 0);
}

/* The mm goes away: release() drops every mapping, in every root. */
static void test_notifier_release(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1 };
	struct mmu_notifier *mn;

	create(&o);
	mn = &fix.w.kvm->mmu_notifier;
	run(FAKE_WRITE, 0, 32, PAGE_SIZE);
	assert_int_equal(fix_count_leaves(&fix, 0, 0, 2 * MB), 32);
	mn->ops->release(mn, fix.w.mm);
	assert_int_equal(fix_count_leaves(&fix, 0, 0, 2 * MB), 0);
	assert_int_equal(kvmmu_vm_stat(fix.w.kvm, "pages_4k"), 0);
}

static const struct CMUnitTest tests[] = {
	FIX_TEST(test_references_released),
	FIX_TEST(test_folio_dirtied_when_mapped_writable),
	FIX_TEST(test_anon_read_mapped_writable_dirties),
	FIX_TEST(test_readonly_memslot),
	FIX_TEST(test_pfnmap_no_references),
	FIX_TEST(test_pfnmap_mutant_takes_references),
	FIX_TEST(test_tail_page_folio_dirtied),
	FIX_TEST(test_tail_page_mutant_leaves_folio_clean),
	FIX_TEST(test_hugetlb_1g),
	FIX_TEST(test_memory_failure),
	FIX_TEST(test_notifier_release),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
