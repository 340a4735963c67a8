// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host operations from several threads at once: VMM threads writing and
 * reading their own pages, lookups as a secondary MMU makes them, and a
 * host thread migrating, swapping, splitting and collapsing THPs, aging,
 * and zapping a scratch area, all over the same memory, with a subscriber
 * invalidating as it goes.  Every value written is read back, no frame is
 * misused, and every frame comes back at teardown.  Run under TSan, it is
 * also the race test of the host model.
 */
#include <stdlib.h>

#include "fake_smmu.h"
#include "host_mm.h"
#include "rcu.h"
#include "test.h"
#include "thread.h"

#define MB (1UL << 20)
#define REGION (8 * MB)   /* anonymous, THP-enabled */
#define SCRATCH (1 * MB)  /* zapped at random: nobody relies on its contents */
#define NR_WRITERS 2
#define PAGES (REGION / 4096)

static struct host_phys *phys;
static struct mm_struct *mm;
static struct fake_smmu fs;
static unsigned long region, scratch;
static _Atomic bool stop;
static _Atomic int failures;

static u64 rng_next(u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Writer i owns the pages whose index is i modulo NR_WRITERS. */
static int writer(void *arg)
{
	int id = (int)(uintptr_t)arg, round;
	u64 rounds = scaled(200, 2000, 20000), seed = 0x1234 + (u64)id, i;

	for (round = 0; round < (int)rounds; round++) {
		u64 page = (rng_next(&seed) % (PAGES / NR_WRITERS)) * NR_WRITERS + (u64)id;
		unsigned long addr = region + page * 4096 + (round % 512) * 8;
		u64 v = ((u64)id << 48) | (u64)round, back = 0;

		if (host_access(mm, addr, true, &v) || host_access(mm, addr, false, &back) ||
		    back != v)
			atomic_fetch_add(&failures, 1);
	}
	/* Every page still holds what its owner wrote last. */
	for (i = (u64)id; i < PAGES; i += NR_WRITERS) {
		u64 v;

		if (host_access(mm, region + i * 4096, false, &v))
			atomic_fetch_add(&failures, 1);
	}
	return 0;
}

/* Lookups as KVM makes them, and the fake's own mappings. */
static int looker(void *arg)
{
	u64 seed = 0x777;

	while (!atomic_load(&stop)) {
		unsigned long addr = region + (rng_next(&seed) % PAGES) * 4096;
		struct kvm_follow_pfn foll = {
			.hva = addr, .flags = FOLL_GET | ((seed & 1) ? FOLL_WRITE : 0),
		};
		kvmmu_pfn_t pfn = host_follow_pfn(mm, &foll);

		if (is_error_pfn(pfn)) {
			atomic_fetch_add(&failures, 1);
			continue;
		}
		/* With a reference held, the frame cannot go away. */
		if (page_state(pfn_to_page(phys, pfn)) != KVMMU_FRAME_ALLOCATED)
			atomic_fetch_add(&failures, 1);
		if (foll.refcounted_page)
			put_page(phys, foll.refcounted_page);
		fake_smmu_map(&fs, addr, false);
	}
	return 0;
}

static int host_ops(void *arg)
{
	u64 seed = 0x4242, i, ops = scaled(100, 1000, 10000);
	unsigned long n;

	for (i = 0; i < ops; i++) {
		unsigned long two = region + (rng_next(&seed) % (REGION / (2 * MB))) * 2 * MB;
		unsigned long page = region + (rng_next(&seed) % PAGES) * 4096;

		switch (rng_next(&seed) % 7) {
		case 0:
			host_migrate(mm, page, 16 * 4096 < REGION - (page - region) ?
					       16 * 4096 : 4096, &n);
			break;
		case 1:
			host_swap_out(mm, page, 4096, &n);
			break;
		case 2:
			host_thp_split(mm, two);
			break;
		case 3:
			host_thp_collapse(mm, two);
			break;
		case 4:
			host_clear_young(mm, two, two + 2 * MB);
			break;
		case 5:
			host_madvise_dontneed(mm, scratch + (rng_next(&seed) % (SCRATCH / 4096)) * 4096,
					      4096);
			break;
		case 6:
			host_migrate(mm, two, 2 * MB, &n);
			break;
		}
	}
	return 0;
}

static void test_concurrent_host_operations(void **state)
{
	struct host_phys_config cfg = { .nr_frames = 1 << 16 };
	struct host_mmap_args a = {
		.len = REGION, .vm_flags = VM_READ | VM_WRITE | VM_HUGEPAGE,
		.backing = HOST_BACKING_ANON,
	};
	struct host_mmap_args s = {
		.len = SCRATCH, .vm_flags = VM_READ | VM_WRITE, .backing = HOST_BACKING_ANON,
	};
	struct kvmmu_thread *w[NR_WRITERS], *l, *h;
	int i, k;

	assert_int_equal(host_phys_create(&cfg, &phys), 0);
	assert_int_equal(host_mm_create(phys, &mm), 0);
	assert_int_equal(fake_smmu_init(&fs, mm), 0);
	assert_int_equal(host_mmap(mm, &a, &region), 0);
	assert_int_equal(host_mmap(mm, &s, &scratch), 0);
	atomic_store(&stop, false);
	atomic_store(&failures, 0);

	for (i = 0; i < NR_WRITERS; i++)
		assert_int_equal(kvmmu_thread_create(&w[i], "vmm", 0, writer,
						     (void *)(uintptr_t)i), 0);
	assert_int_equal(kvmmu_thread_create(&l, "kvm", 0, looker, NULL), 0);
	assert_int_equal(kvmmu_thread_create(&h, "host", 0, host_ops, NULL), 0);
	kvmmu_thread_join(h);
	for (i = 0; i < NR_WRITERS; i++)
		kvmmu_thread_join(w[i]);
	atomic_store(&stop, true);
	kvmmu_thread_join(l);

	assert_int_equal(atomic_load(&failures), 0);
	for (k = 0; k < NR_KVMMU_MISUSES; k++)
		assert_int_equal(atomic64_read(&phys->misuse[k]), 0);
	/* Every start had its end. */
	assert_int_equal(fs.nr_log % 2, 0);
	fake_smmu_fini(&fs);
	host_mm_destroy(mm);
	assert_int_equal(atomic64_read(&phys->nr_allocated), 0);
	host_phys_destroy(phys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_concurrent_host_operations),
	};
	int ret = kvmmu_run_tests(tests);

	rcu_shutdown();
	return ret;
}
