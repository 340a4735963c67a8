// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tag mode: 64 GiB of guest-visible memory, populated at 4K, in under 2 GiB
 * of resident memory.  The RSS bound is asserted in the plain build only:
 * the sanitizers' shadow memory is not ours to count, so there the check is
 * reported as skipped (and the size reduced).
 */
#include <stdio.h>
#include <string.h>

#include "host_mm.h"
#include "procinfo.h"
#include "rcu.h"
#include "test.h"

#define GB (1ULL << 30)

static void populate_and_check(u64 bytes)
{
	u64 pages = bytes >> PAGE_SHIFT, i;
	struct host_phys_config cfg = {
		.nr_frames = pages + pages / 256 + 4096, .tag_mode = true,
	};
	struct host_mmap_args a = {
		.len = bytes, .vm_flags = VM_READ | VM_WRITE,
		.backing = HOST_BACKING_ANON,
	};
	struct host_phys *phys;
	struct mm_struct *mm;
	unsigned long addr;

	assert_int_equal(host_phys_create(&cfg, &phys), 0);
	assert_int_equal(host_mm_create(phys, &mm), 0);
	assert_int_equal(host_mmap(mm, &a, &addr), 0);
	for (i = 0; i < pages; i++) {
		struct kvm_follow_pfn foll = {
			.hva = addr + (i << PAGE_SHIFT), .flags = FOLL_WRITE,
		};
		kvmmu_pfn_t pfn = host_follow_pfn(mm, &foll);

		if (is_error_pfn(pfn))
			fail_msg("page %llu: error pfn %llx", (unsigned long long)i,
				 (unsigned long long)pfn);
		frame_write_word(phys, pfn, 0, i);
	}
	assert_int_equal(atomic64_read(&phys->nr_allocated) - atomic64_read(&mm->nr_tables),
			 (s64)pages);
	for (i = 0; i < pages; i += pages / 1024) {
		u64 v = 0;

		assert_int_equal(host_access(mm, addr + (i << PAGE_SHIFT) + 1000, false, &v), 0);
		assert_int_equal(v, i);
	}
	host_mm_destroy(mm);
	assert_int_equal(atomic64_read(&phys->nr_allocated), 0);
	host_phys_destroy(phys);
}

static void test_tag_mode_64g_under_2g_rss(void **state)
{
	long rss;

	if (KVMMU_ASAN || KVMMU_TSAN) {
		populate_and_check(1 * GB);
		skip(); /* the RSS bound is not measurable under a sanitizer */
	}
	populate_and_check(64 * GB);
	rss = kvmmu_peak_rss_kib();
	print_message("peak RSS after populating 64 GiB in tag mode: %ld MiB\n",
		      rss / 1024);
	assert_true(rss > 0);
	assert_true(rss < 2 * 1024 * 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_tag_mode_64g_under_2g_rss),
	};
	int ret = kvmmu_run_tests(tests);

	rcu_shutdown();
	return ret;
}
