// SPDX-License-Identifier: GPL-2.0-only
/*
 * Files: the page cache, writeback through the notifier protocol, reclaim
 * that writes dirty pages back and drops clean ones, file THP and the
 * seed-001 mechanism: a write through a secondary MMU that nobody reports
 * is lost when reclaim drops the "clean" page.
 */
#include <errno.h>

#include "fake_smmu.h"
#include "host_mm.h"
#include "rcu.h"
#include "test.h"

#define MB (1UL << 20)

static struct host_phys *phys;
static struct mm_struct *mm;
static struct fake_smmu fs;
static struct host_file *file;

static int setup_with(void **state, bool thp)
{
	struct host_phys_config cfg = { .nr_frames = 1 << 18 };

	if (host_phys_create(&cfg, &phys) || host_mm_create(phys, &mm) ||
	    fake_smmu_init(&fs, mm) || host_file_create(phys, 2048, thp, &file))
		return -1;
	return kvmmu_test_setup(state);
}

static int setup(void **state)
{
	return setup_with(state, false);
}

static int setup_thp(void **state)
{
	return setup_with(state, true);
}

static int teardown(void **state)
{
	fake_smmu_fini(&fs);
	host_mm_destroy(mm);
	host_file_destroy(file);
	if (atomic64_read(&phys->nr_allocated) != 0) {
		print_error("%lld frames leaked\n",
			    (long long)atomic64_read(&phys->nr_allocated));
		return -1;
	}
	host_phys_destroy(phys);
	return kvmmu_test_teardown(state);
}

#define FILE_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define THP_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup_thp, teardown)

static unsigned long map_file(u64 pgoff, unsigned long len, unsigned long hint)
{
	struct host_mmap_args a = {
		.len = len, .vm_flags = VM_READ | VM_WRITE,
		.backing = HOST_BACKING_FILE, .file = file, .pgoff = pgoff,
		.addr = hint,
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

static struct page *page_at(unsigned long addr)
{
	int level;
	u64 e = entry_of(addr, &level);

	return pfn_to_page(phys, hpte_subpage_pfn(e, level, addr));
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

static void test_read_maps_readonly_write_dirties(void **state)
{
	unsigned long a = map_file(0, 4 * 4096, 0);

	assert_int_equal(rd(a), 0);
	assert_false(entry_of(a, NULL) & HPTE_WRITE); /* read faults map RO */
	assert_false(page_flags(page_at(a)) & PG_dirty);
	wr(a + 8, 5);
	assert_true(entry_of(a, NULL) & HPTE_WRITE);
	assert_true(page_flags(page_at(a)) & PG_dirty);
	/* cache + mapping */
	assert_int_equal(page_count(phys, page_at(a)), 2);
	assert_int_equal(atomic64_read(&file->nr_cached), 1);
}

static void test_writeback_then_reclaim(void **state)
{
	unsigned long a = map_file(0, 4 * 4096, 0), dropped;
	const struct fake_smmu_log *start;

	wr(a + 8, 5);
	fake_smmu_map(&fs, a, true);
	assert_int_equal(host_file_writeback(file, 0, 4), 0);
	start = fake_smmu_last(&fs, false);
	assert_int_equal(start->event, MMU_NOTIFY_PROTECTION_PAGE);
	assert_true(start->old_valid);
	assert_false(fake_smmu_mapped(&fs, a));
	assert_int_equal(host_file_stored_word(file, 0, 8), 5);
	assert_false(page_flags(page_at(a)) & PG_dirty);
	assert_false(entry_of(a, NULL) & HPTE_WRITE); /* write-protected again */

	assert_int_equal(host_file_reclaim(file, 0, 4, &dropped), 0);
	assert_int_equal(dropped, 1);
	assert_false(hpte_present(entry_of(a, NULL)));
	assert_int_equal(atomic64_read(&file->nr_cached), 0);
	assert_int_equal(rd(a + 8), 5); /* read back from the file */
}

static void test_reclaim_writes_dirty_pages_first(void **state)
{
	unsigned long a = map_file(8, 2 * 4096, 0), dropped;

	wr(a, 11);
	wr(a + 4096, 12);
	assert_int_equal(host_file_reclaim(file, 8, 2, &dropped), 0);
	assert_int_equal(dropped, 2);
	assert_int_equal(host_file_stored_word(file, 8, 0), 11);
	assert_int_equal(rd(a), 11);
	assert_int_equal(rd(a + 4096), 12);
}

/*
 * Seed 001's mechanism.  A secondary MMU looks a page up for writing (which
 * never dirties it by itself) and writes through its own mapping.  If it
 * does not mark the folio dirty, reclaim sees a clean page and drops it:
 * the write is lost.  If it does, the write survives.
 */
static void test_unreported_write_is_lost_reported_survives(void **state)
{
	unsigned long a = map_file(16, 2 * 4096, 0), b = a + 4096, dropped;
	struct kvm_follow_pfn foll = { .hva = b, .flags = FOLL_WRITE | FOLL_GET };

	fake_smmu_map(&fs, a, true);
	assert_false(page_flags(page_at(a)) & PG_dirty);
	assert_false(entry_of(a, NULL) & HPTE_DIRTY);
	assert_int_equal(fake_smmu_write(&fs, a, 99), 0);

	assert_false(is_error_pfn(host_follow_pfn(mm, &foll)));
	fake_smmu_map(&fs, b, true);
	assert_int_equal(fake_smmu_write(&fs, b, 98), 0);
	set_page_dirty(phys, foll.refcounted_page); /* what KVM must do */
	put_page(phys, foll.refcounted_page);

	assert_int_equal(host_file_reclaim(file, 16, 2, &dropped), 0);
	assert_int_equal(dropped, 2);
	assert_int_equal(rd(a), 0);  /* stale: the unreported write is gone */
	assert_int_equal(rd(b), 98); /* written back, read back */
}

static void test_reclaim_skips_referenced_pages(void **state)
{
	unsigned long a = map_file(32, 4096, 0), dropped;
	struct kvm_follow_pfn foll = { .hva = a, .flags = FOLL_GET };

	assert_false(is_error_pfn(host_follow_pfn(mm, &foll)));
	assert_int_equal(host_file_reclaim(file, 32, 1, &dropped), 0);
	assert_int_equal(dropped, 0); /* a lookup in flight pins it */
	put_page(phys, foll.refcounted_page);
	assert_int_equal(host_file_reclaim(file, 32, 1, &dropped), 0);
	assert_int_equal(dropped, 1);
}

static void test_two_mappings_share_the_page(void **state)
{
	unsigned long a = map_file(40, 4096, 0), b = map_file(40, 4096, 0);

	assert_true(a != b);
	wr(a, 1234);
	assert_int_equal(rd(b), 1234);
	assert_ptr_equal(page_at(a), page_at(b));
	assert_int_equal(page_count(phys, page_at(a)), 3); /* cache + 2 maps */
	assert_int_equal(host_munmap(mm, a, 4096), 0);
	assert_int_equal(rd(b), 1234);
}

static void test_migrate_file_page(void **state)
{
	unsigned long a = map_file(48, 4096, 0), moved;
	struct page *old;

	wr(a, 4321);
	old = page_at(a);
	assert_int_equal(host_migrate(mm, a, 4096, &moved), 0);
	assert_int_equal(moved, 1);
	assert_ptr_not_equal(page_at(a), old);
	assert_true(page_flags(page_at(a)) & PG_dirty); /* dirt moves along */
	assert_int_equal(rd(a), 4321);
	assert_int_equal(host_file_writeback(file, 48, 1), 0);
	assert_int_equal(host_file_stored_word(file, 48, 0), 4321);
}

static void test_file_thp(void **state)
{
	unsigned long a = map_file(0, 4 * MB, 0), b;
	struct kvm_follow_pfn foll = { .hva = a + 7 * 4096, .flags = FOLL_GET };
	struct page *tail;
	int level;

	assert_true(IS_ALIGNED(a, 2 * MB));
	wr(a + 7 * 4096, 7);
	entry_of(a, &level);
	assert_int_equal(level, 2); /* the 2M folio is mapped by one PMD */
	assert_false(is_error_pfn(host_follow_pfn(mm, &foll)));
	tail = foll.refcounted_page;
	assert_true(page_flags(tail) & PG_tail);
	assert_int_equal(page_ref_count(tail), 0);
	assert_int_equal(page_count(phys, tail), 3); /* cache + PMD + lookup */
	put_page(phys, tail);

	/* Misaligned with the folio: its tails are mapped by PTEs. */
	b = map_file(1, 2 * 4096, 0);
	assert_int_equal(rd(b), 0);
	entry_of(b, &level);
	assert_int_equal(level, 1);
	assert_true(page_flags(page_at(b)) & PG_tail);
	assert_int_equal(page_count(phys, page_at(b)), 3); /* cache + PMD + PTE */
	assert_int_equal(host_munmap(mm, b, 2 * 4096), 0);

	/* Reclaim works on the whole folio. */
	assert_int_equal(host_file_writeback(file, 0, 512), 0);
	assert_int_equal(host_file_stored_word(file, 7, 0), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FILE_TEST(test_read_maps_readonly_write_dirties),
		FILE_TEST(test_writeback_then_reclaim),
		FILE_TEST(test_reclaim_writes_dirty_pages_first),
		FILE_TEST(test_unreported_write_is_lost_reported_survives),
		FILE_TEST(test_reclaim_skips_referenced_pages),
		FILE_TEST(test_two_mappings_share_the_page),
		FILE_TEST(test_migrate_file_page),
		THP_TEST(test_file_thp),
	};
	int ret = kvmmu_run_tests(tests);

	rcu_shutdown();
	return ret;
}
