// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host address space: every operation under a subscribed fake
 * secondary MMU, with its notifier ordering (the old mapping still valid at
 * start, the new one in place at end), reference balance, and the pfn
 * lookup's contract.
 */
#include <errno.h>
#include <string.h>

#include "fake_smmu.h"
#include "host_mm.h"
#include "mutant.h"
#include "rcu.h"
#include "test.h"

#define MB (1UL << 20)

static struct host_phys *phys;
static struct mm_struct *mm;
static struct fake_smmu fs;
static s64 kept_on_purpose; /* frames a test keeps out of the allocator */

static int setup(void **state)
{
	struct host_phys_config cfg = { .nr_frames = 1 << 20 };

	if (host_phys_create(&cfg, &phys) || host_mm_create(phys, &mm) ||
	    fake_smmu_init(&fs, mm))
		return -1;
	kept_on_purpose = 0;
	return kvmmu_test_setup(state);
}

static int teardown(void **state)
{
	fake_smmu_fini(&fs);
	host_mm_destroy(mm);
	/* Every page of the address space went back: nothing leaked. */
	if (atomic64_read(&phys->nr_allocated) != kept_on_purpose) {
		print_error("%lld frames leaked\n",
			    (long long)(atomic64_read(&phys->nr_allocated) - kept_on_purpose));
		return -1;
	}
	host_phys_destroy(phys);
	return kvmmu_test_teardown(state);
}

#define MM_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static unsigned long map_anon(unsigned long len, unsigned long flags)
{
	struct host_mmap_args a = {
		.len = len, .vm_flags = flags, .backing = HOST_BACKING_ANON,
	};
	unsigned long addr;

	assert_int_equal(host_mmap(mm, &a, &addr), 0);
	return addr;
}

static u64 entry_of(unsigned long addr, int *level)
{
	int l;
	u64 e;

	rcu_read_lock();
	e = host_pgtable_lookup(mm, addr, &l);
	rcu_read_unlock();
	if (level)
		*level = l;
	return e;
}

static u64 pfn_of(unsigned long addr)
{
	int level;
	u64 e = entry_of(addr, &level);

	return hpte_present(e) ? hpte_subpage_pfn(e, level, addr) : 0;
}

static u64 rd(unsigned long addr)
{
	u64 v = ~0ULL;

	assert_int_equal(host_access(mm, addr, false, &v), 0);
	return v;
}

static void wr(unsigned long addr, u64 v)
{
	assert_int_equal(host_access(mm, addr, true, &v), 0);
}

static void test_mmap_validation(void **state)
{
	struct host_mmap_args a = { .len = 4096, .vm_flags = VM_READ, .backing = HOST_BACKING_ANON };
	unsigned long addr, fixed;

	a.len = 100;
	assert_int_equal(host_mmap(mm, &a, &addr), -EINVAL);
	a.len = 0;
	assert_int_equal(host_mmap(mm, &a, &addr), -EINVAL);
	a.len = 4096;
	a.vm_flags = VM_SHARED; /* not a flag callers give */
	assert_int_equal(host_mmap(mm, &a, &addr), -EINVAL);
	a.vm_flags = VM_READ;
	a.backing = HOST_BACKING_HUGETLB;
	a.order = 9;
	assert_int_equal(host_mmap(mm, &a, &addr), -EINVAL); /* not 2M long */
	a.backing = HOST_BACKING_ANON;
	assert_int_equal(host_mmap(mm, &a, &fixed), 0);
	a.addr = fixed;
	assert_int_equal(host_mmap(mm, &a, &addr), -EEXIST);
	assert_int_equal(host_munmap(mm, fixed, 100), -EINVAL);
	assert_int_equal(host_mprotect(mm, fixed + 8192, 4096, VM_READ), -ENOMEM);
	assert_int_equal(host_munmap(mm, fixed, 4096), 0);
}

static void test_first_touch_and_access(void **state)
{
	unsigned long a = map_anon(4 * 4096, VM_READ | VM_WRITE);

	assert_int_equal(pfn_of(a), 0);
	assert_int_equal(rd(a + 8), 0); /* anonymous memory starts zeroed */
	assert_true(pfn_of(a) != 0);
	wr(a + 16, 0xabc);
	assert_int_equal(rd(a + 16), 0xabc);
	assert_true(entry_of(a, NULL) & HPTE_DIRTY);
	assert_int_equal(page_count(phys, pfn_to_page(phys, pfn_of(a))), 1);
	assert_int_equal(host_munmap(mm, a, 4 * 4096), 0);
	assert_int_equal(fake_smmu_last(&fs, false)->event, MMU_NOTIFY_UNMAP);
}

static void test_dontneed(void **state)
{
	unsigned long a = map_anon(2 * 4096, VM_READ | VM_WRITE);
	const struct fake_smmu_log *start, *end;
	u64 old, v;

	wr(a, 7);
	old = pfn_of(a);
	assert_false(is_error_pfn(fake_smmu_map(&fs, a, true)));
	assert_int_equal(host_madvise_dontneed(mm, a, 2 * 4096), 0);
	start = fake_smmu_last(&fs, false);
	end = fake_smmu_last(&fs, true);
	assert_int_equal(start->event, MMU_NOTIFY_CLEAR);
	assert_true(start->old_valid);                    /* still mapped at start */
	assert_int_equal(hpte_pfn(start->host_entry), old);
	assert_false(hpte_present(end->host_entry));      /* gone at end */
	assert_false(fake_smmu_mapped(&fs, a));
	assert_int_equal(page_state(pfn_to_page(phys, old)), KVMMU_FRAME_QUARANTINED);
	assert_int_equal(fake_smmu_read(&fs, a, &v), -1);
	assert_int_equal(rd(a), 0); /* reads back zero */
}

static void test_migrate(void **state)
{
	unsigned long a = map_anon(8 * 4096, VM_READ | VM_WRITE), moved;
	const struct fake_smmu_log *start, *end;
	struct kvm_follow_pfn foll = { .hva = a + 4096, .flags = FOLL_GET };
	u64 old, old1;
	int i;

	for (i = 0; i < 8; i++)
		wr(a + i * 4096, 100 + i);
	old = pfn_of(a);
	old1 = pfn_of(a + 4096);
	fake_smmu_map(&fs, a, false);
	/* A reference in flight (a lookup not yet released) pins its page. */
	assert_int_equal(host_follow_pfn(mm, &foll), old1);
	assert_non_null(foll.refcounted_page);
	assert_int_equal(host_migrate(mm, a, 8 * 4096, &moved), 0);
	assert_int_equal(moved, 7);
	assert_int_equal(pfn_of(a + 4096), old1);
	start = fake_smmu_last(&fs, false);
	end = fake_smmu_last(&fs, true);
	assert_true(start->old_valid);
	assert_int_equal(hpte_pfn(start->host_entry), old);
	assert_true(hpte_pfn(end->host_entry) != old); /* the new page at end */
	assert_int_equal(page_state(pfn_to_page(phys, old)), KVMMU_FRAME_QUARANTINED);
	put_page(phys, foll.refcounted_page);
	assert_int_equal(host_migrate(mm, a + 4096, 4096, &moved), 0);
	assert_int_equal(moved, 1);
	for (i = 0; i < 8; i++)
		assert_int_equal(rd(a + i * 4096), 100 + i);
}

static void test_swap_out_and_in(void **state)
{
	unsigned long a = map_anon(4 * 4096, VM_READ | VM_WRITE), n;
	struct kvm_follow_pfn foll = { .hva = a, .flags = FOLL_GET | FOLL_NOWAIT };
	s64 before;
	int i;

	for (i = 0; i < 4; i++)
		wr(a + i * 4096, 0x500 + i);
	before = atomic64_read(&phys->nr_allocated);
	fake_smmu_map(&fs, a + 4096, true);
	assert_int_equal(host_swap_out(mm, a, 4 * 4096, &n), 0);
	assert_int_equal(n, 4);
	assert_true(fake_smmu_last(&fs, false)->old_valid);
	assert_false(fake_smmu_mapped(&fs, a + 4096));
	assert_int_equal(atomic64_read(&phys->nr_allocated), before - 4);
	assert_true(entry_of(a, NULL) & HPTE_SWAP);
	/* A no-wait lookup will not do the I/O. */
	assert_int_equal(host_follow_pfn(mm, &foll), KVM_PFN_ERR_NEEDS_IO);
	for (i = 0; i < 4; i++)
		assert_int_equal(rd(a + i * 4096), 0x500 + i);
	assert_int_equal(atomic64_read(&mm->swap.in_use), 0);
}

static void test_thp_counts_split_collapse(void **state)
{
	unsigned long a = map_anon(4 * MB, VM_READ | VM_WRITE | VM_HUGEPAGE);
	unsigned long h = ALIGN(a, 2 * MB);
	struct kvm_follow_pfn foll = { .hva = h + 5 * 4096, .flags = FOLL_GET };
	struct page *tail;
	kvmmu_pfn_t pfn;
	int level, i;

	wr(h + 5 * 4096, 55);
	entry_of(h, &level);
	assert_int_equal(level, 2);
	assert_int_equal(host_mapping_level(mm, h + 4096), 2);
	pfn = host_follow_pfn(mm, &foll);
	tail = foll.refcounted_page;
	assert_ptr_equal(tail, pfn_to_page(phys, pfn));
	assert_true(page_flags(tail) & PG_tail);
	assert_int_equal(page_ref_count(tail), 0);     /* the tail's own field */
	assert_int_equal(page_count(phys, tail), 2);   /* the folio: PMD + ours */
	/* A folio with a reference in flight does not split. */
	assert_int_equal(host_thp_split(mm, h), -EAGAIN);
	put_page(phys, tail);

	fake_smmu_map(&fs, h + 5 * 4096, false);
	assert_int_equal(host_thp_split(mm, h), 0);
	assert_int_equal(host_mapping_level(mm, h), 1);
	assert_false(fake_smmu_mapped(&fs, h + 5 * 4096));
	assert_int_equal(fake_smmu_last(&fs, false)->end - fake_smmu_last(&fs, false)->start, 2 * MB);
	assert_int_equal(pfn_of(h + 5 * 4096), pfn); /* same frames, now base pages */
	assert_int_equal(page_ref_count(pfn_to_page(phys, pfn)), 1);
	assert_false(page_flags(pfn_to_page(phys, pfn)) & PG_tail);
	assert_int_equal(rd(h + 5 * 4096), 55);

	for (i = 0; i < 512; i += 64)
		wr(h + i * 4096, 1000 + i);
	assert_int_equal(host_thp_collapse(mm, h), 0);
	assert_int_equal(host_mapping_level(mm, h), 2);
	assert_int_equal(rd(h + 5 * 4096), 55);
	for (i = 0; i < 512; i += 64)
		assert_int_equal(rd(h + i * 4096), 1000 + i);
	/* Partial DONTNEED of a THP splits its PMD first. */
	assert_int_equal(host_madvise_dontneed(mm, h + 4096, 4096), 0);
	assert_int_equal(host_mapping_level(mm, h), 1);
	assert_int_equal(rd(h + 4096), 0);
	assert_int_equal(rd(h + 5 * 4096), 55);
}

static void test_hugetlb_2m(void **state)
{
	struct host_mmap_args a2 = { .len = 4 * MB, .vm_flags = VM_READ | VM_WRITE,
				     .backing = HOST_BACKING_HUGETLB, .order = 9 };
	unsigned long m2, moved;
	u64 old;

	assert_int_equal(host_mmap(mm, &a2, &m2), 0);
	assert_true(IS_ALIGNED(m2, 2 * MB));
	wr(m2 + 3 * MB, 9);
	assert_int_equal(host_mapping_level(mm, m2 + 2 * MB), 2);
	assert_int_equal(host_madvise_dontneed(mm, m2, 4096), -EINVAL);
	assert_int_equal(host_munmap(mm, m2, 4096), -EINVAL);
	old = pfn_of(m2 + 2 * MB);
	assert_true(page_flags(pfn_to_page(phys, old)) & PG_hugetlb);
	assert_int_equal(host_migrate(mm, m2, 4 * MB, &moved), 0);
	assert_int_equal(moved, 512);
	assert_true(pfn_of(m2 + 2 * MB) != old);
	assert_int_equal(rd(m2 + 3 * MB), 9);
}

/* 1 GiB pages, on a tag-mode host so that zeroing one costs a word a page. */
static void test_hugetlb_1g(void **state)
{
	struct host_phys_config cfg = { .nr_frames = 1 << 19, .tag_mode = true };
	struct host_mmap_args a1 = { .len = 1UL << 30, .vm_flags = VM_READ | VM_WRITE,
				     .backing = HOST_BACKING_HUGETLB, .order = 18 };
	struct host_phys *tp;
	struct mm_struct *tm;
	unsigned long m1;
	u64 v = 3;
	int level;

	assert_int_equal(host_phys_create(&cfg, &tp), 0);
	assert_int_equal(host_mm_create(tp, &tm), 0);
	assert_int_equal(host_mmap(tm, &a1, &m1), 0);
	assert_true(IS_ALIGNED(m1, 1UL << 30));
	assert_int_equal(host_access(tm, m1 + 12345 * 4096, true, &v), 0);
	assert_int_equal(host_mapping_level(tm, m1), 3);
	rcu_read_lock();
	assert_true(host_pgtable_lookup(tm, m1 + 7, &level) & HPTE_HUGE);
	rcu_read_unlock();
	assert_int_equal(level, 3);
	assert_int_equal(host_munmap(tm, m1, 1UL << 30), 0);
	host_mm_destroy(tm);
	assert_int_equal(atomic64_read(&tp->nr_allocated), 0);
	host_phys_destroy(tp);
}

static void test_mprotect_and_readonly_refusal(void **state)
{
	unsigned long a = map_anon(2 * 4096, VM_READ | VM_WRITE);
	struct kvm_follow_pfn w = { .hva = a, .flags = FOLL_WRITE | FOLL_GET };
	struct kvm_follow_pfn r = { .hva = a, .flags = FOLL_GET, .map_writable = true };
	u64 v = 1;

	wr(a, 3);
	fake_smmu_map(&fs, a, true);
	assert_int_equal(host_mprotect(mm, a, 4096, VM_READ), 0);
	assert_int_equal(fake_smmu_last(&fs, false)->event, MMU_NOTIFY_PROTECTION_VMA);
	assert_false(fake_smmu_mapped(&fs, a));
	assert_false(entry_of(a, NULL) & HPTE_WRITE);
	assert_int_equal(host_follow_pfn(mm, &w), KVM_PFN_ERR_FAULT);
	assert_null(w.refcounted_page);
	assert_false(is_error_pfn(host_follow_pfn(mm, &r)));
	assert_false(r.map_writable);
	put_page(phys, r.refcounted_page);
	assert_int_equal(host_access(mm, a, true, &v), -EFAULT);

	assert_int_equal(host_mprotect(mm, a, 4096, VM_READ | VM_WRITE), 0);
	w.refcounted_page = NULL;
	assert_false(is_error_pfn(host_follow_pfn(mm, &w)));
	assert_true(w.map_writable);
	put_page(phys, w.refcounted_page);
	assert_int_equal(rd(a), 3);
}

static void test_holes_and_hwpoison(void **state)
{
	unsigned long a = map_anon(2 * 4096, VM_READ | VM_WRITE);
	struct kvm_follow_pfn foll = { .hva = a - 4096, .flags = FOLL_GET };
	u64 v;

	assert_int_equal(host_follow_pfn(mm, &foll), KVM_PFN_ERR_FAULT);
	wr(a, 1);
	fake_smmu_map(&fs, a, false);
	assert_int_equal(host_memory_failure(mm, a), 0);
	assert_false(fake_smmu_mapped(&fs, a));
	foll.hva = a;
	assert_int_equal(host_follow_pfn(mm, &foll), KVM_PFN_ERR_HWPOISON);
	assert_int_equal(host_access(mm, a, false, &v), -EHWPOISON);
	/* The poisoned frame stays out of the allocator for good. */
	assert_int_equal(host_munmap(mm, a, 2 * 4096), 0);
	assert_int_equal(atomic64_read(&phys->nr_allocated), atomic64_read(&mm->nr_tables) + 1);
	kept_on_purpose = 1;
}

static void test_pfnmap_driver_pages(void **state)
{
	struct host_mmap_args d = { .len = 16 * 4096, .vm_flags = VM_READ,
				    .backing = HOST_BACKING_DRIVER, .order = 4 };
	struct kvm_follow_pfn foll = { .flags = FOLL_GET };
	unsigned long a;
	kvmmu_pfn_t pfn;

	assert_int_equal(host_mmap(mm, &d, &a), 0);
	foll.hva = a + 3 * 4096;
	pfn = host_follow_pfn(mm, &foll);
	assert_false(is_error_pfn(pfn));
	assert_null(foll.refcounted_page); /* never a reference on PFNMAP */
	assert_int_equal(page_count(phys, pfn_to_page(phys, pfn)), 0);
	foll.flags = FOLL_GET | FOLL_WRITE;
	assert_int_equal(host_follow_pfn(mm, &foll), KVM_PFN_ERR_RO_FAULT);
	assert_int_equal(atomic64_read(&phys->misuse[KVMMU_MISUSE_REF_FROM_ZERO]), 0);

	/* The seed-001 mutant takes one, and the host reports it. */
	kvmmu_mutant_set_mask(BIT_ULL(MUT_REF_NONCOUNTED_PAGE));
	foll.flags = FOLL_GET;
	pfn = host_follow_pfn(mm, &foll);
	kvmmu_mutant_set_mask(0);
	assert_non_null(foll.refcounted_page);
	assert_int_equal(atomic64_read(&phys->misuse[KVMMU_MISUSE_REF_FROM_ZERO]), 1);
	assert_int_equal(atomic64_read(&phys->misuse[KVMMU_MISUSE_REF_NONCOUNTED]), 1);
	/* ... and releasing it frees a page the driver still maps. */
	put_page(phys, foll.refcounted_page);
	assert_int_equal(page_state(pfn_to_page(phys, pfn)), KVMMU_FRAME_QUARANTINED);
	assert_int_equal(host_munmap(mm, a, 16 * 4096), 0);
	assert_int_equal(atomic64_read(&phys->misuse[KVMMU_MISUSE_DOUBLE_FREE]), 1);
}

static void test_aging(void **state)
{
	unsigned long a = map_anon(4096, VM_READ | VM_WRITE);

	wr(a, 1);
	assert_true(host_test_young(mm, a, a + 4096));
	assert_true(host_test_young(mm, a, a + 4096)); /* test does not clear */
	assert_true(host_clear_young(mm, a, a + 4096));
	assert_false(host_clear_young(mm, a, a + 4096));
	fs.young_answer = true; /* the secondary MMU saw an access */
	assert_true(host_clear_flush_young(mm, a, a + 4096));
	assert_int_equal(fs.young_calls, 5);
}

static void test_release_and_unregister(void **state)
{
	struct fake_smmu other;
	unsigned long a = map_anon(4096, VM_READ | VM_WRITE);

	assert_int_equal(fake_smmu_init(&other, mm), 0);
	fake_smmu_map(&other, a, true);
	/* Leaving a live mm drops everything first. */
	fake_smmu_fini(&other);
	assert_int_equal(other.releases, 1);
	assert_false(fake_smmu_mapped(&other, a));
	assert_int_equal(fs.releases, 0);
}

/*
 * A secondary MMU that ignores invalidations keeps mapping a page the host
 * freed: its next access is reported, not silently served.
 */
static struct kvmmu_observer misuse_obs;
static int misuses_seen;

static void count_misuse(struct kvmmu_observer *obs, const struct kvmmu_event *ev)
{
	if (ev->misuse.kind == KVMMU_MISUSE_ACCESS_FREED)
		misuses_seen++;
}

static void test_late_access_is_reported(void **state)
{
	unsigned long a = map_anon(4096, VM_READ | VM_WRITE);
	u64 v = 0;

	misuse_obs = (struct kvmmu_observer){ .name = "misuse",
		.mask = BIT_ULL(KVMMU_EV_FRAME_MISUSE), .notify = count_misuse };
	kvmmu_observer_register(&misuse_obs);
	misuses_seen = 0;
	wr(a, 77);
	fs.ignore_invalidations = true;
	fake_smmu_map(&fs, a, false);
	assert_int_equal(host_madvise_dontneed(mm, a, 4096), 0);
	assert_int_equal(fake_smmu_read(&fs, a, &v), 0); /* still "mapped" */
	kvmmu_observer_unregister(&misuse_obs);
	assert_int_equal(misuses_seen, 1);
	assert_int_equal(v, POISON_WORD); /* poison, not someone's data */
	fs.ignore_invalidations = false;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		MM_TEST(test_mmap_validation),
		MM_TEST(test_first_touch_and_access),
		MM_TEST(test_dontneed),
		MM_TEST(test_migrate),
		MM_TEST(test_swap_out_and_in),
		MM_TEST(test_thp_counts_split_collapse),
		MM_TEST(test_hugetlb_2m),
		MM_TEST(test_hugetlb_1g),
		MM_TEST(test_mprotect_and_readonly_refusal),
		MM_TEST(test_holes_and_hwpoison),
		MM_TEST(test_pfnmap_driver_pages),
		MM_TEST(test_aging),
		MM_TEST(test_release_and_unregister),
		MM_TEST(test_late_access_is_reported),
	};
	int ret = kvmmu_run_tests(tests);

	rcu_shutdown();
	return ret;
}
