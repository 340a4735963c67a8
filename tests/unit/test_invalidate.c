// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mmu_notifier retry protocol: mmu_invalidate_seq, in-progress ranges
 * and their union, the retry checks (locked and unlocked) including the
 * sequence crossing 2^31, 2^63 and 2^64, and faults racing with host
 * invalidations through the real fault path.
 */
#include <errno.h>
#include <string.h>

#include "host_mm.h"
#include "kvm_host.h"
#include "mmu_internal.h"
#include "rcu.h"
#include "test.h"
#include "vm_fixture.h"

#define MB (1UL << 20)

static struct vm_fixture fix;

static int teardown_fix(void **state)
{
	if (vm_fixture_destroy(&fix))
		return -1;
	return kvmmu_test_teardown(state);
}

#define FIX_TEST(fn) cmocka_unit_test_setup_teardown(fn, kvmmu_test_setup, teardown_fix)

static void create(const struct vm_fixture_opts *o)
{
	assert_int_equal(vm_fixture_create(&fix, o), 0);
}

static void begin(gfn_t start, gfn_t end)
{
	write_lock(&fix.w.kvm->mmu_lock);
	kvm_mmu_invalidate_begin(fix.w.kvm);
	kvm_mmu_invalidate_range_add(fix.w.kvm, start, end);
	write_unlock(&fix.w.kvm->mmu_lock);
}

static void end(void)
{
	write_lock(&fix.w.kvm->mmu_lock);
	kvm_mmu_invalidate_end(fix.w.kvm);
	write_unlock(&fix.w.kvm->mmu_lock);
}

/* What a fault that sampled @seq is told under mmu_lock. */
static bool retry(u64 seq, gfn_t gfn)
{
	bool r;

	read_lock(&fix.w.kvm->mmu_lock);
	r = mmu_invalidate_retry_gfn(fix.w.kvm, seq, gfn);
	read_unlock(&fix.w.kvm->mmu_lock);
	/* The unlocked precheck may not say "go" when the locked one says "retry". */
	if (r)
		assert_true(mmu_invalidate_retry_gfn_unsafe(fix.w.kvm, seq, gfn));
	return r;
}

static void test_retry_rules(void **state)
{
	struct vm_fixture_opts o = { 0 };
	u64 seq;

	create(&o);
	seq = fix.w.kvm->mmu_invalidate_seq;
	assert_false(retry(seq, 15));

	begin(10, 20);
	/* In progress: gfns in the range retry, others do not. */
	assert_true(retry(seq, 10));
	assert_true(retry(seq, 19));
	assert_false(retry(seq, 9));
	assert_false(retry(seq, 20));

	/* A second, overlapping invalidation: the range is the union. */
	begin(50, 60);
	assert_int_equal(fix.w.kvm->mmu_invalidate_in_progress, 2);
	assert_true(retry(seq, 30)); /* between the two, inside the union */
	end();
	/* One still runs: the union stays, and the sequence moved. */
	assert_int_equal(fix.w.kvm->mmu_invalidate_range_start, 10);
	assert_int_equal(fix.w.kvm->mmu_invalidate_range_end, 60);
	assert_true(retry(seq, 100));
	assert_true(retry(fix.w.kvm->mmu_invalidate_seq, 55));
	assert_false(retry(fix.w.kvm->mmu_invalidate_seq, 100));
	end();

	/* All done: a fresh sample goes, an old one retries anywhere. */
	assert_int_equal(fix.w.kvm->mmu_invalidate_in_progress, 0);
	assert_int_equal(fix.w.kvm->mmu_invalidate_seq, seq + 2);
	assert_true(retry(seq, 1000));
	assert_false(retry(fix.w.kvm->mmu_invalidate_seq, 15));

	/* A new invalidation starts its own range. */
	begin(70, 71);
	assert_false(retry(fix.w.kvm->mmu_invalidate_seq, 15));
	assert_true(retry(fix.w.kvm->mmu_invalidate_seq, 70));
	end();
}

/* The sequence is compared in full: no truncation at 32 bits, no sign trouble. */
static void test_seq_width(void **state)
{
	static const u64 starts[] = { (1ULL << 31) - 1, (1ULL << 32) - 1, (1ULL << 63) - 1,
				      ~0ULL };
	struct vm_fixture_opts o = { 0 };
	size_t i;

	create(&o);
	for (i = 0; i < ARRAY_SIZE(starts); i++) {
		u64 seq;

		fix.w.kvm->mmu_invalidate_seq = starts[i];
		seq = fix.w.kvm->mmu_invalidate_seq;
		assert_false(retry(seq, 5));
		begin(0, 1);
		end();
		assert_int_equal(fix.w.kvm->mmu_invalidate_seq, starts[i] + 1);
		assert_true(retry(seq, 5));
		assert_false(retry(starts[i] + 1, 5));
		/* A sample that differs only above bit 31 or at bit 63 still retries. */
		assert_true(retry(seq ^ (1ULL << 32), 5));
		assert_true(retry(seq ^ (1ULL << 63), 5));
	}
}

/* ---- through the fault path ---------------------------------------------------------------- */

/*
 * A host whose pfn lookup lets something happen in the middle of a fault,
 * after the fault sampled mmu_invalidate_seq and looked up the pfn, before
 * it takes mmu_lock: as if another CPU ran then.
 */
static struct kvmmu_host_ops racy_ops;
static void (*in_lookup)(void);
static int lookups;

static kvmmu_pfn_t racy_follow_pfn(struct mm_struct *mm, struct kvm_follow_pfn *foll)
{
	kvmmu_pfn_t pfn = host_kvm_ops.follow_pfn(mm, foll);

	lookups++;
	if (in_lookup) {
		void (*fn)(void) = in_lookup;

		in_lookup = NULL;
		fn();
	}
	return pfn;
}

static void create_racy(void)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1, .host_ops = &racy_ops };

	racy_ops = host_kvm_ops;
	racy_ops.follow_pfn = racy_follow_pfn;
	lookups = 0;
	create(&o);
}

static u64 host_pfn_of(gpa_t gpa)
{
	int level;
	u64 e;

	rcu_read_lock();
	e = host_pgtable_lookup(fix.w.mm, fix.w.cfg.mem[0].hva + gpa, &level);
	rcu_read_unlock();
	return hpte_present(e) ? hpte_subpage_pfn(e, level, fix.w.cfg.mem[0].hva + gpa) : 0;
}

static void dontneed_page_1(void)
{
	assert_int_equal(host_madvise_dontneed(fix.w.mm, fix.w.cfg.mem[0].hva + PAGE_SIZE, PAGE_SIZE), 0);
}

/*
 * The host drops the page while the fault holds its pfn: the fault must not
 * install that pfn.  It retries, and maps the page the host has now.
 */
static void test_fault_racing_invalidation_retries(void **state)
{
	struct kvmmu_hw_vcpu *hv;
	u64 old_pfn, spte;

	create_racy();
	hv = fix.hw.vcpus[0];
	/* Give the page contents first, through the host. */
	{
		u64 v = 7;

		assert_int_equal(host_access(fix.w.mm, fix.w.cfg.mem[0].hva + PAGE_SIZE, true, &v), 0);
	}
	old_pfn = host_pfn_of(PAGE_SIZE);
	assert_true(old_pfn != 0);

	in_lookup = dontneed_page_1;
	fake_hw_push(hv, FAKE_READ, PAGE_SIZE, 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);

	/* Two lookups: the first one's result was thrown away. */
	assert_int_equal(lookups, 2);
	assert_int_equal(kvmmu_vcpu_stat(fix.w.vcpus[0], "pf_taken"), 2);
	assert_int_equal(kvmmu_vcpu_stat(fix.w.vcpus[0], "pf_fixed"), 1);
	/* DONTNEED: the guest reads zero from a new page. */
	assert_int_equal(hv->prog[0].value, 0);
	spte = fix_leaf_spte(&fix, 0, PAGE_SIZE, NULL);
	assert_true(is_shadow_present_pte(spte));
	assert_int_equal(spte_to_pfn(spte), host_pfn_of(PAGE_SIZE));
}

static struct mmu_notifier_range pending_range;

/* An invalidation of page 1 starts, and is still running when the fault locks. */
static void start_invalidation_of_page_1(void)
{
	struct mmu_notifier *mn = &fix.w.kvm->mmu_notifier;

	pending_range = (struct mmu_notifier_range){
	    .mm = fix.w.mm,
	    .start = fix.w.cfg.mem[0].hva + PAGE_SIZE,
	    .end = fix.w.cfg.mem[0].hva + 2 * PAGE_SIZE,
	    .flags = MMU_NOTIFIER_RANGE_BLOCKABLE,
	    .event = MMU_NOTIFY_CLEAR,
	};
	assert_int_equal(mn->ops->invalidate_range_start(mn, &pending_range), 0);
}

/* A fault outside an in-progress invalidation is not held up by it. */
static void test_fault_outside_invalidation_proceeds(void **state)
{
	struct mmu_notifier *mn;
	struct kvmmu_hw_vcpu *hv;

	create_racy();
	mn = &fix.w.kvm->mmu_notifier;
	hv = fix.hw.vcpus[0];
	in_lookup = start_invalidation_of_page_1;
	fake_hw_push(hv, FAKE_WRITE, 3 * PAGE_SIZE, 9);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);

	assert_int_equal(fix.w.kvm->mmu_invalidate_in_progress, 1);
	assert_int_equal(lookups, 1);
	assert_int_equal(kvmmu_vcpu_stat(fix.w.vcpus[0], "pf_fixed"), 1);
	assert_true(is_shadow_present_pte(fix_leaf_spte(&fix, 0, 3 * PAGE_SIZE, NULL)));

	/* A fault inside the range waits for the end (the unsafe precheck retries). */
	assert_true(mmu_invalidate_retry_gfn_unsafe(fix.w.kvm, fix.w.kvm->mmu_invalidate_seq, 1));
	mn->ops->invalidate_range_end(mn, &pending_range);
	fake_hw_push(hv, FAKE_READ, PAGE_SIZE, 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_true(is_shadow_present_pte(fix_leaf_spte(&fix, 0, PAGE_SIZE, NULL)));
}

/* A host change in the range zaps the SPTE, and flushes, before the host goes on. */
static void test_host_unmap_zaps(void **state)
{
	struct kvmmu_hw_vcpu *hv;
	u64 seq;

	create_racy();
	hv = fix.hw.vcpus[0];
	fake_hw_push(hv, FAKE_WRITE, 0, 1);
	fake_hw_push(hv, FAKE_WRITE, PAGE_SIZE, 2);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_int_equal(fix_count_leaves(&fix, 0, 0, 2 * MB), 2);

	seq = fix.w.kvm->mmu_invalidate_seq;
	assert_int_equal(host_madvise_dontneed(fix.w.mm, fix.w.cfg.mem[0].hva + PAGE_SIZE, PAGE_SIZE), 0);
	assert_int_equal(fix.w.kvm->mmu_invalidate_seq, seq + 1);
	assert_int_equal(fix_count_leaves(&fix, 0, 0, 2 * MB), 1);
	assert_false(is_shadow_present_pte(fix_leaf_spte(&fix, 0, PAGE_SIZE, NULL)));
	/* A flush was owed (a valid root) and done before the notifier returned. */
	assert_true(kvmmu_vm_stat(fix.w.kvm, "remote_tlb_flush") >= 1);
	assert_int_equal(kvmmu_vm_stat(fix.w.kvm, "pages_4k"), 1);
}

static const struct CMUnitTest tests[] = {
	FIX_TEST(test_retry_rules),
	FIX_TEST(test_seq_width),
	FIX_TEST(test_fault_racing_invalidation_retries),
	FIX_TEST(test_fault_outside_invalidation_proceeds),
	FIX_TEST(test_host_unmap_zaps),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
