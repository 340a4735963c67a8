// SPDX-License-Identifier: GPL-2.0-only
/*
 * The public API (include/kvmmu): a world built, driven and checked through
 * world.h, check.h and scenario.h alone, the way an outside program does,
 * and bad input answered with the errno KVM would give, never a crash.
 * Only public headers are included here, besides the test harness.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <kvmmu/kvmmu.h>

#include "test.h"

#define MB (1ULL << 20)

static void test_version(void **state)
{
	char v[32];

	snprintf(v, sizeof(v), "%d.%d.%d", KVMMU_VERSION_MAJOR, KVMMU_VERSION_MINOR,
		 KVMMU_VERSION_PATCH);
	assert_string_equal(v, KVMMU_VERSION);
	assert_string_equal(kvmmu_version(), KVMMU_VERSION);
	assert_true(KVMMU_VERSION_NUMBER >= KVMMU_VERSION_AT(0, 1, 0));
}

/* A world with two regions: the geometry, the memslots, guest and VMM accesses. */
static void test_world_round_trip(void **state)
{
	struct kvmmu_world_config cfg = {
		.nr_vcpus = 2,
		.mem = {
			{ .size = 4 * MB, .backing = KVMMU_BACKING_ANON, .gpa = 0, .nr_slots = 2 },
			{ .size = 4 * MB, .backing = KVMMU_BACKING_HUGETLB_2M, .gpa = 1ULL << 32,
			  .nr_slots = 1, .first_slot = 5 },
		},
	};
	const struct kvmmu_program prog = { .base = 1ULL << 32, .size = 4 * MB,
					    .write_percent = 100, .passes = 2 };
	struct kvmmu_mem_config mem;
	struct kvmmu_world *w;
	unsigned long hva;
	uint64_t gpa, size, val;
	char why[160];

	assert_int_equal(kvmmu_check_parse("all", &cfg.checks, NULL, 0), 0);
	assert_int_equal(kvmmu_world_create(&cfg, &w, why, sizeof(why)), 0);
	assert_int_equal(kvmmu_world_nr_vcpus(w), 2);
	assert_non_null(kvmmu_world_kvm(w));
	assert_non_null(kvmmu_world_mm(w));
	assert_non_null(kvmmu_world_vcpu(w, 1));
	assert_null(kvmmu_world_vcpu(w, 2));
	assert_null(kvmmu_world_vcpu(w, -1));

	/* Defaults resolved: the first region at 1 GiB in the VMM. */
	assert_int_equal(kvmmu_world_mem(w, 0, &mem), 0);
	assert_int_equal(mem.hva, 1ULL << 30);
	assert_int_equal(kvmmu_world_mem(w, 2, &mem), -EINVAL);
	assert_int_equal(kvmmu_world_mem_slot(w, 0, 1, &gpa, &size, &hva), 0);
	assert_int_equal(gpa, 2 * MB);
	assert_int_equal(size, 2 * MB);
	assert_int_equal(hva, (1ULL << 30) + 2 * MB);
	assert_int_equal(kvmmu_world_mem_slot(w, 0, 2, &gpa, &size, &hva), -EINVAL);
	assert_int_equal(kvmmu_world_mem_slot(w, 1, 0, &gpa, NULL, NULL), 0);
	assert_int_equal(gpa, 1ULL << 32);

	assert_int_equal(kvmmu_world_check_begin(w), 0);
	assert_int_equal(kvmmu_world_check_begin(w), -EBUSY);

	/* The guest stores through the CPU; the VMM and the other vCPU see it. */
	val = 0x1234;
	assert_int_equal(kvmmu_world_vcpu_access(w, 0, KVMMU_ACCESS_STORE, 3 * MB + 8, &val), 0);
	assert_int_equal(kvmmu_world_host_read(w, (1ULL << 30) + 3 * MB + 8, &val), 0);
	assert_int_equal(val, 0x1234);
	assert_int_equal(kvmmu_world_host_write(w, (1ULL << 30) + 3 * MB + 16, 0x5678), 0);
	assert_int_equal(kvmmu_world_vcpu_access(w, 1, KVMMU_ACCESS_LOAD, 3 * MB + 16, &val), 0);
	assert_int_equal(val, 0x5678);
	assert_true(kvmmu_world_vcpu_done(w, 1));
	assert_int_equal(kvmmu_world_vcpu_progress(w, 1), 1);

	/* The host takes the page away; the guest reads the zero page after it. */
	assert_int_equal(kvmmu_world_madvise_dontneed(w, (1ULL << 30) + 3 * MB, 4096), 0);
	assert_int_equal(kvmmu_world_vcpu_access(w, 0, KVMMU_ACCESS_LOAD, 3 * MB + 8, &val), 0);
	assert_int_equal(val, 0);

	/* A memstress loop of two passes: two HLTs, one KVM_RUN loop. */
	assert_int_equal(kvmmu_world_vcpu_load(w, 0, &prog), 0);
	assert_int_equal(kvmmu_world_vcpu_run(w, 0), 0);
	assert_int_equal(kvmmu_world_vcpu_progress(w, 0), 2);

	/* Memslots: flags of a region, a slot of one's own, deletion. */
	assert_int_equal(kvmmu_world_mem_set_flags(w, 0, KVM_MEM_LOG_DIRTY_PAGES), 0);
	assert_int_equal(kvmmu_world_mem(w, 0, &mem), 0);
	assert_int_equal(mem.slot_flags, KVM_MEM_LOG_DIRTY_PAGES);
	assert_int_equal(kvmmu_world_mem_delete_slots(w, 1), 0);
	assert_int_equal(kvmmu_world_set_memslot(w, 9, 0, 1ULL << 32, 2 * MB,
						 (1ULL << 31) + 0), 0);
	assert_int_equal(kvmmu_world_set_memslot(w, 10, 0, 1ULL << 32, 2 * MB,
						 (1ULL << 31)), -EEXIST);
	assert_int_equal(kvmmu_world_munmap(w, (1ULL << 30) + 3 * MB, 4096), 0);

	kvmmu_world_check_end(w);
	assert_int_equal(kvmmu_check_violations(NULL, 0), 0);
	assert_true(kvmmu_check_events_seen() > 0);
	assert_int_equal(kvmmu_world_destroy(w), 0);
	assert_int_equal(kvmmu_check_warnings(), 0);
}

static void test_bad_input(void **state)
{
	struct kvmmu_world_config cfg = { .nr_vcpus = 1,
		.mem = { { .size = 2 * MB, .nr_slots = 1 } } };
	struct kvmmu_access a = { .op = 7, .addr = 0 };
	struct kvmmu_program p = { .list = &a, .len = 1 };
	struct kvmmu_world *w = NULL;
	uint64_t mask, val = 0;
	char why[160] = "";

	assert_int_equal(kvmmu_world_create(NULL, &w, why, sizeof(why)), -EFAULT);
	cfg.mmu = (enum kvmmu_mmu)9;
	assert_int_equal(kvmmu_world_create(&cfg, &w, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "unknown mmu");
	cfg.mmu = KVMMU_MMU_TDP;
	cfg.mem[0].backing = (enum kvmmu_backing)42;
	assert_int_equal(kvmmu_world_create(&cfg, &w, why, sizeof(why)), -EINVAL);
	cfg.mem[0].backing = KVMMU_BACKING_ANON;
	cfg.mutants = 1ULL << 63;
	assert_int_equal(kvmmu_world_create(&cfg, &w, why, sizeof(why)), -EINVAL);
	cfg.mutants = 0;
	cfg.nr_vcpus = KVMMU_WORLD_MAX_VCPUS + 1;
	assert_int_equal(kvmmu_world_create(&cfg, &w, why, sizeof(why)), -EINVAL);
	assert_true(strlen(why) > 0);
	assert_null(w);
	cfg.nr_vcpus = 1;

	/* No world: no crash, an errno or nothing. */
	assert_null(kvmmu_world_kvm(NULL));
	assert_null(kvmmu_world_vcpu(NULL, 0));
	assert_int_equal(kvmmu_world_check_begin(NULL), -EBADF);
	assert_int_equal(kvmmu_world_munmap(NULL, 1ULL << 30, 4096), -EBADF);
	assert_int_equal(kvmmu_world_vcpu_run(NULL, 0), -EBADF);
	assert_int_equal(kvmmu_world_mem(NULL, 0, NULL), -EBADF);
	assert_int_equal(kvmmu_check_violations(NULL, 1), -EFAULT);
	kvmmu_world_check_end(NULL);
	kvmmu_world_stop_vcpus(NULL);

	assert_int_equal(kvmmu_world_create(&cfg, &w, NULL, 0), 0);
	assert_int_equal(kvmmu_world_vcpu_load(w, 0, NULL), -EFAULT);
	assert_int_equal(kvmmu_world_mem(w, 0, NULL), -EFAULT);
	assert_int_equal(kvmmu_world_host_read(w, 1ULL << 30, NULL), -EFAULT);
	assert_int_equal(kvmmu_world_vcpu_load(w, 0, &p), -EINVAL);
	assert_int_equal(kvmmu_world_vcpu_load(w, 1, &p), -EINVAL);
	assert_int_equal(kvmmu_world_vcpu_access(w, 0, KVMMU_ACCESS_LOAD, 4, &val), -EINVAL);
	assert_int_equal(kvmmu_world_vcpu_access(w, 0, (enum kvmmu_access_op)5, 0, &val),
			 -EINVAL);
	assert_int_equal(kvmmu_world_vcpu_run(w, 3), -EINVAL);
	assert_int_equal(kvmmu_world_host_read(w, (1ULL << 30) + 3, &val), -EINVAL);
	assert_int_equal(kvmmu_world_mem_set_flags(w, 3, 0), -EINVAL);
	assert_int_equal(kvmmu_world_mem_delete_slots(w, -1), -EINVAL);
	assert_int_equal(kvmmu_world_destroy(w), 0);
	assert_int_equal(kvmmu_world_destroy(NULL), 0);

	assert_int_equal(kvmmu_check_parse("coherence,nonsense", &mask, why, sizeof(why)),
			 -ENOENT);
	assert_string_equal(why, "nonsense");
	assert_int_equal(kvmmu_mutant_parse("zap-without-freeze,", &mask, NULL, 0), -EINVAL);
	assert_int_equal(kvmmu_mutant_lookup("no-such-bug"), -ENOENT);
}

static void test_names(void **state)
{
	struct kvmmu_check_info info;
	uint64_t mask;
	int i;

	assert_int_equal(kvmmu_check_parse("all", &mask, NULL, 0), 0);
	assert_int_equal(mask, (1ULL << kvmmu_checker_count()) - 1);
	for (i = 0; i < kvmmu_checker_count(); i++) {
		assert_int_equal(kvmmu_checker_info(i, &info), 0);
		assert_int_equal(kvmmu_check_parse(info.name, &mask, NULL, 0), 0);
		assert_int_equal(mask, 1ULL << i);
		assert_true(info.invariant[0] == 'I');
	}
	assert_int_equal(kvmmu_checker_info(i, &info), -EINVAL);
	for (i = 0; i < kvmmu_mutant_count(); i++) {
		assert_int_equal(kvmmu_mutant_info(i, &info), 0);
		assert_int_equal(kvmmu_mutant_lookup(info.name), i);
	}
	assert_int_equal(kvmmu_mutant_info(-1, &info), -EINVAL);
	assert_true(kvmmu_scenario_count() > 0);
	assert_int_equal(kvmmu_scenario_info(kvmmu_scenario_count(), NULL, NULL, NULL, 0),
			 -EINVAL);
}

/* A mutant's scenario through scenario.h: caught, replayed to the same hash. */
static void test_scenario(void **state)
{
	struct kvmmu_scenario_config cfg = { .name = "dirty-log-fast-pf", .seed = 1,
					     .schedules = 2000 };
	struct kvmmu_scenario_result res, again;
	char mutants[128];
	const char *name;
	int i;

	for (i = 0; i < kvmmu_scenario_count(); i++) {
		assert_int_equal(kvmmu_scenario_info(i, &name, NULL, mutants, sizeof(mutants)), 0);
		if (!strcmp(name, cfg.name))
			break;
	}
	assert_string_equal(mutants, "fast-pf-no-dirty-log");
	assert_int_equal(kvmmu_check_parse("all", &cfg.checks, NULL, 0), 0);
	assert_int_equal(kvmmu_mutant_parse(mutants, &cfg.mutants, NULL, 0), 0);
	assert_int_equal(kvmmu_scenario_run(&cfg, &res), 0);
	assert_true(res.violated);
	assert_string_equal(res.violation.invariant, "I32");
	assert_int_equal(kvmmu_scenario_replay(res.replay, cfg.checks, &again), 0);
	assert_true(again.violated);
	assert_int_equal(again.event_hash, res.event_hash);

	cfg.mutants = 0;
	cfg.schedules = 50;
	assert_int_equal(kvmmu_scenario_run(&cfg, &res), 0);
	assert_false(res.violated);
	assert_int_equal(res.schedules_run, 50);
	assert_string_equal(res.replay, "");

	cfg.name = "no-such-scenario";
	assert_int_equal(kvmmu_scenario_run(&cfg, &res), -ENOENT);
	cfg.name = "dirty-log-fast-pf";
	cfg.strategy = "sideways";
	assert_int_equal(kvmmu_scenario_run(&cfg, &res), -EINVAL);
	assert_int_equal(kvmmu_scenario_replay("kvmmu1.garbage", cfg.checks, &res), -EINVAL);
}

static const struct CMUnitTest tests[] = {
	KVMMU_TEST(test_version),
	KVMMU_TEST(test_world_round_trip),
	KVMMU_TEST(test_bad_input),
	KVMMU_TEST(test_names),
	KVMMU_TEST(test_scenario),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
