// SPDX-License-Identifier: GPL-2.0-only
/*
 * The workloads at small sizes: each runs with every checker on and comes
 * out clean, with the figures its selftest prints and KVM's stats; the
 * selftests' own assertions hold (a full write pass is all dirty, a write
 * to read-only memory fails with EFAULT); bad configurations are refused;
 * and a mutant is caught on free-running threads.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "mutant.h"
#include "test.h"
#include "workload.h"

#define MB (1ULL << 20)

static struct wl_result res;

static void run_ok(const char *name, struct wl_config *cfg)
{
	const struct workload *wl = wl_find(name);
	char why[160] = "";
	int r;

	assert_non_null(wl);
	r = wl_run(wl, cfg, &res, why, sizeof(why));
	if (r)
		fail_msg("%s: %d (%s)", name, r, why);
	if (res.nr_found)
		fail_msg("%s: %s: %s", name, res.found[0].checker, res.found[0].description);
	if (res.failure[0])
		fail_msg("%s: %s", name, res.failure);
	assert_int_equal(res.warnings, 0);
	/* KVM's stats, by KVM's names, came back. */
	assert_true(wl_stat(&res, "pf_fixed") != -1ULL);
	assert_true(wl_stat(&res, "pf_fixed") > 0);
}

static struct wl_config small(int vcpus, u64 mem)
{
	return (struct wl_config){ .vcpus = vcpus, .mem_per_vcpu = mem, .write_percent = 100,
				   .seed = 1, .checks = CHECK_ALL };
}

static void test_demand_paging(void **state)
{
	struct wl_config cfg = small(2, 8 * MB);

	run_ok("demand-paging", &cfg);
	/* Each page of each slice was faulted in exactly once. */
	assert_int_equal(wl_stat(&res, "pf_fixed"), 2 * 8 * MB / 4096);
	assert_int_equal(wl_stat(&res, "pages_4k"), 2 * 8 * MB / 4096);
	assert_true(wl_metric(&res, "overall_rate_pgs") > 0);
	assert_true(wl_metric(&res, "total_guest_execution_s") > 0);
}

static void test_demand_paging_backings(void **state)
{
	static const struct {
		enum world_backing b;
		u64 mem;
		bool tag;
		const char *stat;
	} cases[] = {
		{ WORLD_BACKING_THP, 8 * MB, false, "pages_2m" },
		{ WORLD_BACKING_SHARED, 8 * MB, false, "pages_4k" },
		{ WORLD_BACKING_SHARED_THP, 8 * MB, false, "pages_2m" },
		{ WORLD_BACKING_HUGETLB_2M, 8 * MB, false, "pages_2m" },
		{ WORLD_BACKING_HUGETLB_1G, 1024 * MB, true, "pages_1g" },
		/* A driver's PTEs are 4K: so are the SPTEs. */
		{ WORLD_BACKING_PFNMAP, 8 * MB, false, "pages_4k" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct wl_config cfg = small(1, cases[i].mem);

		cfg.backing = cases[i].b;
		cfg.tag_mode = cases[i].tag;
		run_ok("demand-paging", &cfg);
		/* The backing's page size is what the MMU mapped. */
		if (wl_stat(&res, cases[i].stat) == 0)
			fail_msg("%s: no %s", world_backing_name(cases[i].b), cases[i].stat);
	}
}

static void test_dirty_log(void **state)
{
	struct wl_config cfg = small(2, 4 * MB);

	cfg.iterations = 3;
	run_ok("dirty-log", &cfg);
	/* At 100% sequential writes every page is dirty in every iteration. */
	assert_true(wl_metric(&res, "iteration_1_dirty_pages") == 2 * 4 * MB / 4096);
	assert_true(wl_metric(&res, "iteration_3_dirty_pages") == 2 * 4 * MB / 4096);
	assert_false(isnan(wl_metric(&res, "iteration_3_clear_s")));
	/* Iteration 2 follows a CLEAR: every first write took the fast path. */
	assert_true(wl_stat(&res, "pf_fast") >= 2 * 4 * MB / 4096);
}

static void test_dirty_log_random_partial(void **state)
{
	struct wl_config cfg = small(1, 4 * MB);

	cfg.write_percent = 30;
	cfg.random = true;
	run_ok("dirty-log", &cfg);
	assert_true(wl_metric(&res, "iteration_2_dirty_pages") > 0);
	assert_true(wl_metric(&res, "iteration_2_dirty_pages") < 4 * MB / 4096);
}

static void test_access_tracking(void **state)
{
	struct wl_config cfg = small(2, 4 * MB);

	run_ok("access-tracking", &cfg);
	/* Populated and accessed: marking finds (nearly) everything young. */
	assert_true(wl_metric(&res, "still_idle_pct_1") < 10.0);
	/* Written since the first marking: the second finds it young again. */
	assert_true(wl_metric(&res, "still_idle_pct_2") < 10.0);
}

static void test_memslot_modification(void **state)
{
	struct wl_config cfg = small(2, 4 * MB);

	cfg.iterations = 3;
	run_ok("memslot-modification", &cfg);
	assert_true(wl_metric(&res, "memslot_modifications") >= 1);
}

static void test_memslot_perf(void **state)
{
	struct wl_config cfg = small(1, 8 * MB);

	cfg.slots = 16;
	cfg.iterations = 2;
	run_ok("memslot-perf", &cfg);
	assert_false(isnan(wl_metric(&res, "map_avg_s")));
	assert_false(isnan(wl_metric(&res, "rw_avg_s")));
	assert_false(isnan(wl_metric(&res, "best_slot_setup_s")));
}

static void test_mmu_stress(void **state)
{
	struct wl_config cfg = small(2, 8 * MB);

	/* run_ok() fails on "a vCPU wrote to read-only memory without EFAULT". */
	run_ok("mmu-stress", &cfg);
	assert_true(wl_metric(&res, "host_operations") > 0);
	assert_false(isnan(wl_metric(&res, "rw_s")));
}

/* Every walk that can yield mmu_lock yields at every step: still clean. */
static void test_mmu_stress_forced_yields(void **state)
{
	struct wl_config cfg = small(2, 4 * MB);

	cfg.yield_every = 1;
	run_ok("mmu-stress", &cfg);
	assert_true(wl_metric(&res, "host_operations") > 0);
	cfg.yield_every = 3;
	cfg.slots = 4;
	run_ok("mmu-stress", &cfg);
	cfg.yield_every = 1;
	cfg.iterations = 3;
	run_ok("dirty-log", &cfg);
}

/*
 * PML: logging clears D, the CPU logs what it dirties and KVM drains it at
 * exits.  Every page is still dirty in every iteration, and no write after
 * a CLEAR faults (nothing is write-protected); mmu-stress is clean too.
 */
static void test_pml(void **state)
{
	struct wl_config cfg = small(2, 4 * MB);

	cfg.pml = true;
	cfg.iterations = 3;
	run_ok("dirty-log", &cfg);
	assert_true(wl_metric(&res, "iteration_1_dirty_pages") == 2 * 4 * MB / 4096);
	assert_true(wl_metric(&res, "iteration_3_dirty_pages") == 2 * 4 * MB / 4096);
	assert_int_equal(wl_stat(&res, "pf_fast"), 0);
	cfg.random = true;
	cfg.write_percent = 30;
	run_ok("dirty-log", &cfg);
	cfg = small(2, 4 * MB);
	cfg.pml = true;
	run_ok("mmu-stress", &cfg);
	cfg.yield_every = 1;
	run_ok("mmu-stress", &cfg);
}

/*
 * Nested (-n): the vCPUs run in L2 under an L1 hypervisor, on the TDP MMU
 * and on the shadow MMU's direct pages.  Every page L2 touches first is an
 * exit L1 handles; L2's writes reach L1's dirty log, every page in every
 * iteration (with PML too: L2's SPTEs are write-protected for it);
 * mmu-stress's remapping pass has L1 unmap each slice and INVEPT.
 */
static void test_nested(void **state)
{
	static const enum world_mmu mmus[] = { WORLD_MMU_TDP, WORLD_MMU_TDP_LEGACY };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mmus); i++) {
		struct wl_config cfg = small(2, 4 * MB);

		cfg.mmu = mmus[i];
		cfg.nested = true;
		run_ok("demand-paging", &cfg);
		assert_true(wl_metric(&res, "l2_exits_to_l1") == 2 * 4 * MB / 4096);
		assert_true(wl_metric(&res, "l1_unhandled") == 0);
		assert_true(wl_stat(&res, "nested_run") > 2 * 4 * MB / 4096);
		cfg.iterations = 3;
		run_ok("dirty-log", &cfg);
		assert_true(wl_metric(&res, "iteration_3_dirty_pages") == 2 * 4 * MB / 4096);
		cfg.pml = true;
		run_ok("dirty-log", &cfg);
		assert_true(wl_metric(&res, "iteration_3_dirty_pages") == 2 * 4 * MB / 4096);
		cfg = small(2, 4 * MB);
		cfg.mmu = mmus[i];
		cfg.nested = true;
		run_ok("mmu-stress", &cfg);
		assert_true(wl_metric(&res, "l1_invepts") > 0);
		assert_true(wl_stat(&res, "pf_emulate") > 0);
		run_ok("access-tracking", &cfg);
		run_ok("memslot-modification", &cfg);
	}
}

/* What every guest-kernel run must have done, and checked. */
static void guest_kernel_did_it_all(void)
{
	static const char *const nonzero[] = {
		"context_switches", "context_switches_per_s", "pte_writes", "pte_writes_per_s",
		"invlpgs", "tlb_flushes", "maps", "unmaps", "mprotects", "forks", "exits",
		"cow_faults", "cow_copies", "protection_faults", "not_present_faults",
		"checked_loads", "checked_frame_words",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(nonzero); i++) {
		if (!(wl_metric(&res, nonzero[i]) > 0))
			fail_msg("guest-kernel: %s is %f", nonzero[i], wl_metric(&res, nonzero[i]));
	}
}

/*
 * guest-kernel under every MMU, every checker on: processes with their own
 * tables, fork and copy-on-write, mprotect and unmap faults, switches and
 * flushes, every load and every live frame as the kernel wrote it (a
 * mismatch, or a #PF that did or did not come, is a failure run_ok()
 * reports).  With two-dimensional paging the CPU does the guest's paging
 * alone; under shadow paging KVM shadows the processes' tables: the PTE
 * writes are emulated or let through unsync pages, INVLPG and CR3 loads
 * sync them, and the #PFs are KVM's to inject.
 */
static void test_guest_kernel(void **state)
{
	static const enum world_mmu mmus[] = {
		WORLD_MMU_TDP, WORLD_MMU_TDP_LEGACY, WORLD_MMU_SHADOW,
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mmus); i++) {
		struct wl_config cfg = small(2, 2 * MB);

		cfg.mmu = mmus[i];
		cfg.iterations = 2;
		cfg.ops = 300;
		run_ok("guest-kernel", &cfg);
		assert_int_equal(res.config.guest_paging, 4);
		assert_int_equal(res.config.processes, 4);
		guest_kernel_did_it_all();
		if (mmus[i] != WORLD_MMU_SHADOW) {
			assert_int_equal(wl_stat(&res, "invlpg"), 0);
			assert_int_equal(wl_stat(&res, "pf_guest"), 0);
			continue;
		}
		assert_true(wl_metric(&res, "mmu_unsync_peak") > 0);
		assert_true(wl_stat(&res, "mmu_pte_write") > 0);
		assert_true(wl_stat(&res, "invlpg") >= wl_metric(&res, "invlpgs"));
		assert_true(wl_stat(&res, "pf_guest") >=
			    wl_metric(&res, "cow_faults") + wl_metric(&res, "protection_faults") +
			    wl_metric(&res, "not_present_faults"));
	}
}

/* The other paging modes, shadowed: 32-bit (4-byte gPTEs), PAE (PDPTEs), 5-level. */
static void test_guest_kernel_paging_modes(void **state)
{
	static const int modes[] = { 2, 3, 5 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		struct wl_config cfg = small(1, 2 * MB);

		cfg.mmu = WORLD_MMU_SHADOW;
		cfg.guest_paging = modes[i];
		cfg.iterations = 2;
		cfg.ops = 300;
		run_ok("guest-kernel", &cfg);
		guest_kernel_did_it_all();
		assert_true(wl_metric(&res, "mmu_unsync_peak") > 0);
	}
}

/*
 * A process's leaf table unsync when its root is rebuilt (a fork after a
 * process exited, under shadow paging): the new path to the unsync page
 * must be marked, or the CR3 load that follows the fork's PTE writes
 * leaves a writable SPTE behind and the copy-on-write store goes through.
 */
static void test_guest_kernel_unsync_relinked(void **state)
{
	u64 seed;

	for (seed = 1; seed <= 3; seed++) {
		struct wl_config cfg = small(1, 2 * MB);

		cfg.mmu = WORLD_MMU_SHADOW;
		cfg.seed = seed;
		run_ok("guest-kernel", &cfg);
		assert_true(wl_metric(&res, "forks") > 0);
	}
}

/*
 * guest-kernel in L2, on its own tables under nested EPT: L1 maps them
 * and the processes' frames on demand, and unmaps every frame the kernel
 * frees (INVEPT).
 */
static void test_guest_kernel_nested(void **state)
{
	static const enum world_mmu mmus[] = { WORLD_MMU_TDP, WORLD_MMU_TDP_LEGACY };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mmus); i++) {
		struct wl_config cfg = small(2, 2 * MB);

		cfg.mmu = mmus[i];
		cfg.nested = true;
		cfg.iterations = 2;
		cfg.ops = 300;
		run_ok("guest-kernel", &cfg);
		guest_kernel_did_it_all();
		assert_true(wl_metric(&res, "l2_exits_to_l1") > 0);
		assert_true(wl_metric(&res, "l1_invepts") > 0);
		assert_true(wl_metric(&res, "l1_free_hints") > 0);
		assert_true(wl_metric(&res, "l1_unhandled") == 0);
	}
}

/* The sequence counters start near every boundary: still clean. */
static void test_counters_near_wrap(void **state)
{
	enum world_counters c;

	for (c = WORLD_COUNTERS_ZERO; c < NR_WORLD_COUNTERS; c++) {
		struct wl_config cfg = small(2, 4 * MB);

		cfg.counters = c;
		run_ok("mmu-stress", &cfg);
		cfg.iterations = 3;
		run_ok("dirty-log", &cfg);
		cfg.iterations = 2;
		cfg.slots = 4;
		run_ok("memslot-modification", &cfg);
	}
}

/* Bad sizes and impossible combinations are refused before anything runs. */
static void test_bad_configurations(void **state)
{
	const struct workload *dl = wl_find("dirty-log"), *dp = wl_find("demand-paging");
	const struct workload *gk = wl_find("guest-kernel");
	struct wl_config cfg = small(1, 8 * MB);
	char why[160];

	assert_null(wl_find("no-such-workload"));
	cfg.iterations = 1;
	assert_int_equal(wl_validate(dl, &cfg, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "iterations"));
	cfg = small(1, 3 * MB);
	cfg.backing = WORLD_BACKING_HUGETLB_2M;
	assert_int_equal(wl_validate(dp, &cfg, why, sizeof(why)), -EINVAL);
	cfg = small(1, 6 * 1024 * 1024 * MB / 64);
	assert_int_equal(wl_validate(dp, &cfg, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "tag-mode"));
	cfg = small(0, 8 * MB);
	assert_int_equal(wl_validate(dp, &cfg, why, sizeof(why)), -EINVAL);
	cfg = small(1, 8 * MB + 1);
	assert_int_equal(wl_validate(dp, &cfg, why, sizeof(why)), -EINVAL);
	cfg = small(1, 8 * MB);
	cfg.slots = 3;
	assert_int_equal(wl_validate(dp, &cfg, why, sizeof(why)), -EINVAL);
	/* guest-kernel's own options: its own, in range, and room for them. */
	cfg = small(1, 8 * MB);
	cfg.processes = 2;
	assert_int_equal(wl_validate(dp, &cfg, why, sizeof(why)), -EINVAL);
	assert_int_equal(wl_validate(gk, &cfg, why, sizeof(why)), 0);
	cfg.processes = WL_MAX_PROCESSES + 1;
	assert_int_equal(wl_validate(gk, &cfg, why, sizeof(why)), -EINVAL);
	cfg.processes = 0;
	cfg.process_pages = 513;
	assert_int_equal(wl_validate(gk, &cfg, why, sizeof(why)), -EINVAL);
	cfg = small(1, 64 * 1024);
	assert_int_equal(wl_validate(gk, &cfg, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "mem-per-vcpu"));
	cfg = small(1, 8 * MB);
	cfg.tag_mode = true;
	assert_int_equal(wl_validate(gk, &cfg, why, sizeof(why)), -EINVAL);
}

/* The checkers work on free-running workloads: a lost dirty bit is caught. */
static void test_mutant_caught_in_workload(void **state)
{
	const struct workload *wl = wl_find("dirty-log");
	struct wl_config cfg = small(1, 4 * MB);
	char why[160];
	int i;
	bool found = false;

	cfg.mutants = BIT_ULL(kvmmu_mutant_lookup("fast-pf-no-dirty-log"));
	assert_int_equal(wl_run(wl, &cfg, &res, why, sizeof(why)), 0);
	for (i = 0; i < res.nr_found && i < WL_MAX_FOUND; i++)
		found |= !strcmp(res.found[i].checker, "dirty-log-completeness");
	assert_true(found);

	/*
	 * A fault that can never complete: the first violation stops the run,
	 * or it would never end.
	 */
	cfg = small(2, 4 * MB);
	cfg.counters = WORLD_COUNTERS_2_32;
	cfg.mutants = BIT_ULL(kvmmu_mutant_lookup("seq-snapshot-int"));
	assert_int_equal(wl_run(wl_find("mmu-stress"), &cfg, &res, why, sizeof(why)), 0);
	assert_true(res.nr_found >= 1);
	assert_string_equal(res.found[0].checker, "fault-liveness");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_demand_paging),
		KVMMU_TEST(test_demand_paging_backings),
		KVMMU_TEST(test_dirty_log),
		KVMMU_TEST(test_dirty_log_random_partial),
		KVMMU_TEST(test_access_tracking),
		KVMMU_TEST(test_memslot_modification),
		KVMMU_TEST(test_memslot_perf),
		KVMMU_TEST(test_mmu_stress),
		KVMMU_TEST(test_mmu_stress_forced_yields),
		KVMMU_TEST(test_counters_near_wrap),
		KVMMU_TEST(test_pml),
		KVMMU_TEST(test_nested),
		KVMMU_TEST(test_guest_kernel),
		KVMMU_TEST(test_guest_kernel_paging_modes),
		KVMMU_TEST(test_guest_kernel_unsync_relinked),
		KVMMU_TEST(test_guest_kernel_nested),
		KVMMU_TEST(test_bad_configurations),
		KVMMU_TEST(test_mutant_caught_in_workload),
	};

	return kvmmu_run_tests(tests);
}
