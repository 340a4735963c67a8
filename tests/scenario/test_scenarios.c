// SPDX-License-Identifier: GPL-2.0-only
/*
 * The race scenarios: every mutant of the contract's table is caught by its
 * checker in its scenario, within 2000 schedules, for every seed (1..3 in
 * make test, 1..10 in make stress, seed 1 under the sanitizers); the
 * violation replays from its token with the same event hash; and without
 * mutants every scenario runs clean (2,000 PCT schedules each here, 20,000
 * in make stress, fewer in other modes), under PCT, random and
 * free-running threads.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "mutant.h"
#include "scenario.h"
#include "test.h"

static u64 nr_seeds(void)
{
	return scaled(1, 3, 10);
}

static u64 mutant_mask(const char *name)
{
	int id = kvmmu_mutant_lookup(name);

	assert_true(id >= 0);
	return 1ULL << id;
}

/*
 * Find the mutant's violation with @seed in scenario @name (NULL: the
 * mutant's own); check it is the right one; replay it.
 */
static void catch_and_replay_in(const char *name, const char *mutant, enum scn_strategy strategy,
				u64 seed)
{
	enum checker_id chk;
	const struct scenario *scn = scn_for_mutant(mutant, &chk);
	struct scn_config cfg = {
		.scn = scn, .mutants = mutant_mask(mutant), .checks = CHECK_ALL,
		.strategy = strategy, .depth = 3, .seed = seed, .schedules = 2000,
	};
	struct scn_config rcfg;
	struct scn_result res, again;

	if (name)
		cfg.scn = scn = scn_find(name);
	assert_non_null(scn);
	assert_int_equal(scn_run(&cfg, &res), 0);
	if (!res.violated)
		fail_msg("%s: not caught in %s with seed %llu in %llu schedules", mutant,
			 scn->name, (unsigned long long)seed,
			 (unsigned long long)res.schedules_run);
	if (strcmp(res.violation.checker, checker_table[chk].name))
		fail_msg("%s: caught by %s (%s), expected %s", mutant, res.violation.checker,
			 res.violation.description, checker_table[chk].name);
	assert_string_equal(res.violation.invariant, checker_table[chk].invariant);

	/* The token re-runs that schedule: same violation, same event hash. */
	assert_int_equal(scn_replay(res.token, CHECK_ALL, &rcfg, &again), 0);
	assert_true(again.violated);
	assert_string_equal(again.violation.checker, res.violation.checker);
	assert_int_equal(again.event_hash, res.event_hash);
}

static void catch_and_replay(const char *mutant, enum scn_strategy strategy, u64 seed)
{
	catch_and_replay_in(NULL, mutant, strategy, seed);
}

static void catch_all_seeds(const char *mutant)
{
	u64 seed;

	for (seed = 1; seed <= nr_seeds(); seed++)
		catch_and_replay(mutant, SCN_PCT, seed);
}

static void test_notifier_skips_invalid_roots(void **state)
{
	catch_all_seeds("notifier-skips-invalid-roots");
}

static void test_ref_invalid_root(void **state)
{
	catch_all_seeds("ref-invalid-root");
}

static void test_zap_without_freeze(void **state)
{
	catch_all_seeds("zap-without-freeze");
}

static void test_unfreeze_before_flush(void **state)
{
	catch_all_seeds("unfreeze-before-flush");
}

static void test_ref_noncounted_page(void **state)
{
	catch_all_seeds("ref-noncounted-page");
}

static void test_tail_page_ref_count(void **state)
{
	catch_all_seeds("tail-page-ref-count");
}

static void test_free_table_without_grace(void **state)
{
	catch_all_seeds("free-table-without-grace");
}

static void test_fast_pf_no_dirty_log(void **state)
{
	catch_all_seeds("fast-pf-no-dirty-log");
}

static void test_split_child_pfn(void **state)
{
	catch_all_seeds("split-child-pfn");
}

static void test_resume_past_yield(void **state)
{
	catch_all_seeds("resume-past-yield");
}

/* @cfg's mutant is never caught in its scenario, for any seed, without @why's mode. */
static void never_caught(struct scn_config *cfg, const char *why)
{
	struct scn_result res;

	cfg->checks = CHECK_ALL;
	cfg->strategy = SCN_PCT;
	cfg->depth = 3;
	cfg->schedules = scaled(200, 2000, 2000);
	for (cfg->seed = 1; cfg->seed <= nr_seeds(); cfg->seed++) {
		assert_int_equal(scn_run(cfg, &res), 0);
		if (res.violated)
			fail_msg("caught %s (seed %llu): %s", why, (unsigned long long)cfg->seed,
				 res.violation.description);
	}
}

/*
 * Only forced yields catch it: in its scenario nothing contends for
 * mmu_lock, so without them no walk yields and none loses its place.
 */
static void test_resume_past_yield_needs_forced_yields(void **state)
{
	struct scn_config cfg = {
		.scn = scn_find("logging-walks-yield"), .mutants = mutant_mask("resume-past-yield"),
		.set_yield_every = true, .yield_every = 0,
	};

	never_caught(&cfg, "without forced yields");
}

static void test_seq_snapshot_int(void **state)
{
	catch_all_seeds("seq-snapshot-int");
}

/* Only counters far from 0 catch it: below 2^31 an int holds the sequence. */
static void test_seq_snapshot_int_needs_counters(void **state)
{
	struct scn_config cfg = {
		.scn = scn_find("seq-wrap-vs-fault"), .mutants = mutant_mask("seq-snapshot-int"),
		.set_counters = true, .counters = WORLD_COUNTERS_ZERO,
	};
	struct scn_result res;

	never_caught(&cfg, "with the counters at 0");
	/* Any start from 2^31 on does, whichever boundary. */
	cfg.seed = 1;
	for (cfg.counters = WORLD_COUNTERS_2_31; cfg.counters <= WORLD_COUNTERS_2_63;
	     cfg.counters++) {
		assert_int_equal(scn_run(&cfg, &res), 0);
		assert_true(res.violated);
		assert_string_equal(res.violation.checker, "fault-liveness");
	}
}

static void test_ring_reset_no_protect(void **state)
{
	catch_all_seeds("ring-reset-no-protect");
}

static void test_atomic_update_ignores_dirty(void **state)
{
	catch_all_seeds("atomic-update-ignores-dirty");
}

/*
 * Only PML catches it: without PML, KVM makes every writable SPTE dirty
 * already, so the CPU never sets D and there is no D to lose.
 */
static void test_atomic_update_ignores_dirty_needs_pml(void **state)
{
	struct scn_config cfg = {
		.scn = scn_find("pml-dirty-vs-zap"),
		.mutants = mutant_mask("atomic-update-ignores-dirty"),
		.set_pml = true, .pml = false,
	};

	never_caught(&cfg, "without PML");
}

static void test_mmio_wrap_no_zap(void **state)
{
	catch_all_seeds("mmio-wrap-no-zap");
}

/* Only the mmio-wrap counters catch it: from 0 the 19 bits wrap after 2^18 updates. */
static void test_mmio_wrap_no_zap_needs_counters(void **state)
{
	struct scn_config cfg = {
		.scn = scn_find("mmio-gen-wrap"), .mutants = mutant_mask("mmio-wrap-no-zap"),
		.set_counters = true, .counters = WORLD_COUNTERS_ZERO,
	};

	never_caught(&cfg, "with the counters at 0");
}

static void test_commit_zap_without_flush(void **state)
{
	catch_all_seeds("commit-zap-without-flush");
}

/*
 * Seed 003: the PAE root has no page; only the pending reload says it is
 * obsolete.  What the mutant installs under the obsolete page inherits its
 * invalid role bit, so the teardown of each violating schedule (and of its
 * replay) also WARNs, as KVM's zap-all would, and leaves them behind:
 * those WARNs are expected.
 */
static void test_no_retry_special_root(void **state)
{
	unsigned long warns = kvmmu_warn_count();

	/* The pages the mutant leaves behind leak, which LeakSanitizer reports at exit. */
	if (KVMMU_ASAN)
		skip();

	catch_all_seeds("no-retry-special-root");
	if (kvmmu_warn_count() > warns)
		expect_warns(kvmmu_warn_count() - warns);
}

/*
 * Every teardown under this mutant also WARNs, as KVM would, that TDP MMU
 * pages are still accounted when the VM goes: the calibration schedule's,
 * each schedule's until the violation, and the replay's.
 */
static void test_max_gfn_round_down(void **state)
{
	u64 seed;

	/*
	 * The mutant leaks by design: the headers of the tables its teardown
	 * never reaches, which LeakSanitizer reports when the process exits.
	 */
	if (KVMMU_ASAN)
		skip();

	for (seed = 1; seed <= nr_seeds(); seed++) {
		unsigned long warns = kvmmu_warn_count();
		struct scn_config cfg = {
			.scn = scn_find("odd-width-teardown"),
			.mutants = mutant_mask("max-gfn-round-down"), .checks = CHECK_ALL,
			.strategy = SCN_PCT, .depth = 3, .seed = seed, .schedules = 2000,
		};
		struct scn_config rcfg;
		struct scn_result res, again;

		assert_int_equal(scn_run(&cfg, &res), 0);
		assert_true(res.violated);
		assert_string_equal(res.violation.checker, "page-references");
		assert_int_equal(scn_replay(res.token, CHECK_ALL, &rcfg, &again), 0);
		assert_true(again.violated);
		assert_int_equal(again.event_hash, res.event_hash);
		assert_int_equal(kvmmu_warn_count() - warns, 1 + res.schedules_run + 1);
		expect_warns(1 + res.schedules_run + 1);
	}
}

/* Only an odd guest physical width catches it: 4-level paging at 46 bits is whole. */
static void test_max_gfn_round_down_needs_odd_width(void **state)
{
	struct scn_config cfg = {
		.scn = scn_find("fault-vs-host"), .mutants = mutant_mask("max-gfn-round-down"),
	};

	never_caught(&cfg, "at 46 bits with 4-level paging");
}

/* The random strategy finds the seed races too. */
/*
 * Seed 002: the quirk off, a slot holding guest tables deleted, leaves only.
 * The pages left behind WARN when the VM's teardown zaps them (their slot
 * is gone), as KVM would crash there: expected, once per caught schedule.
 */
static void test_slot_zap_leafs_only(void **state)
{
	unsigned long warns = kvmmu_warn_count();

	catch_all_seeds("slot-zap-leafs-only");
	if (kvmmu_warn_count() > warns)
		expect_warns(kvmmu_warn_count() - warns);
}

/* The same seed under nested EPT: L1's EPT tables in the slot deleted. */
static void test_slot_zap_leafs_only_nested(void **state)
{
	unsigned long warns = kvmmu_warn_count();
	u64 seed;

	for (seed = 1; seed <= nr_seeds(); seed++)
		catch_and_replay_in("slot-zap-ept-tables", "slot-zap-leafs-only", SCN_PCT, seed);
	catch_and_replay_in("slot-zap-ept-tables", "slot-zap-leafs-only", SCN_RANDOM, 1);
	if (kvmmu_warn_count() > warns)
		expect_warns(kvmmu_warn_count() - warns);
}

/* INVEPT that keeps L2's roots: L2 uses a translation L1 removed and invalidated. */
static void test_invept_keeps_root(void **state)
{
	catch_all_seeds("invept-keeps-root");
}

/* INVLPG without the sync of an unsync SPTE: the guest reads through the PTE it changed. */
static void test_invlpg_skips_sync(void **state)
{
	catch_all_seeds("invlpg-skips-sync");
}

/* Unsync that ignores write tracking: an upper-level guest table mapped writable. */
static void test_unsync_tracked_gfn(void **state)
{
	catch_all_seeds("unsync-tracked-gfn");
}

/* The shadow MMU's rmap unmap without its flush: a gva's TLB entry outlives the notifier. */
static void test_rmap_unmap_no_flush(void **state)
{
	catch_all_seeds("rmap-unmap-no-flush");
}

/*
 * A zap of the guest's upper-level tables that keeps their gfns
 * write-tracked: the accounting is checked with mmu_lock held at the slot
 * zap that makes them go, under either strategy.
 */
static void test_unaccount_skips_write_track(void **state)
{
	u64 seed;

	catch_all_seeds("unaccount-skips-write-track");
	for (seed = 1; seed <= nr_seeds(); seed++)
		catch_and_replay("unaccount-skips-write-track", SCN_RANDOM, seed);
}

/* Unprotect-and-retry without its guard loops for ever on a table of the store's own walk. */
static void test_no_unprotect_guard(void **state)
{
	catch_all_seeds("no-unprotect-guard");
}

/* Lockless aging that skips the rmap lock reads a descriptor a zap freed under it. */
static void test_aging_no_rmap_lock(void **state)
{
	catch_all_seeds("aging-no-rmap-lock");
}

static void test_random_strategy_finds_seed_races(void **state)
{
	catch_and_replay("zap-without-freeze", SCN_RANDOM, 1);
	catch_and_replay("notifier-skips-invalid-roots", SCN_RANDOM, 1);
}

/* Every scenario without mutants, in the modes of @modes (its own where unset). */
static void run_clean_modes(enum scn_strategy strategy, u64 schedules,
			    const struct scn_config *modes)
{
	int i;

	for (i = 0; i < nr_scenarios; i++) {
		struct scn_config cfg = *modes;
		struct world_config wc;
		struct scn_result res;
		char why[160];

		cfg.scn = scenario_table[i];
		/* A mode the scenario's world cannot take (PML under shadow paging) is not run. */
		wc = cfg.scn->world;
		wc.pml = scn_pml(&cfg);
		wc.mmu = scn_mmu(&cfg);
		if (world_config_check(&wc, why, sizeof(why)))
			continue;
		cfg.checks = CHECK_ALL;
		cfg.strategy = strategy;
		cfg.depth = 3;
		cfg.seed = 1;
		cfg.schedules = schedules;
		assert_int_equal(scn_run(&cfg, &res), 0);
		if (res.violated)
			fail_msg("%s without mutants (%s, yields every %u, counters %s, schedule "
				 "%llu, PML %d, MMU %s): %s: %s", scenario_table[i]->name,
				 scn_strategy_name(strategy), scn_yield_every(&cfg),
				 world_counters_name(scn_counters(&cfg)),
				 (unsigned long long)res.schedule_index, scn_pml(&cfg),
				 world_mmu_name(scn_mmu(&cfg)), res.violation.checker,
				 res.violation.description);
		assert_int_equal(res.schedules_run, schedules);
	}
}

static void run_clean(enum scn_strategy strategy, u64 schedules)
{
	const struct scn_config own = { 0 };

	run_clean_modes(strategy, schedules, &own);
}

static void test_clean_pct(void **state)
{
	run_clean(SCN_PCT, scaled(20, 2000, 20000));
}

static void test_clean_random(void **state)
{
	run_clean(SCN_RANDOM, scaled(10, 100, 5000));
}

static void test_clean_free(void **state)
{
	run_clean(SCN_FREE, scaled(5, 50, 2000));
}

/* Every scenario on the shadow MMU's direct pages (tdp_mmu=0): clean. */
static void test_clean_tdp_legacy(void **state)
{
	struct scn_config legacy = { .set_mmu = true, .mmu = WORLD_MMU_TDP_LEGACY };
	/* The rmap walks over whole slots yield mmu_lock at every step. */
	struct scn_config yields = { .set_mmu = true, .mmu = WORLD_MMU_TDP_LEGACY,
				     .set_yield_every = true, .yield_every = 1 };

	run_clean_modes(SCN_PCT, scaled(10, 200, 5000), &legacy);
	run_clean_modes(SCN_FREE, scaled(5, 20, 500), &legacy);
	run_clean_modes(SCN_PCT, scaled(5, 50, 1000), &yields);
}

/* Every scenario under shadow paging (ept=0; their guests are unpaged): clean. */
static void test_clean_shadow(void **state)
{
	struct scn_config shadow = { .set_mmu = true, .mmu = WORLD_MMU_SHADOW };

	run_clean_modes(SCN_PCT, scaled(10, 100, 5000), &shadow);
	run_clean_modes(SCN_FREE, scaled(5, 20, 500), &shadow);
}

/* Every walk yields at every step (and at every third): still clean. */
static void test_clean_forced_yields(void **state)
{
	struct scn_config every = { .set_yield_every = true, .yield_every = 1 };
	struct scn_config third = { .set_yield_every = true, .yield_every = 3 };

	run_clean_modes(SCN_PCT, scaled(10, 100, 2000), &every);
	run_clean_modes(SCN_PCT, scaled(10, 100, 2000), &third);
	run_clean_modes(SCN_FREE, scaled(5, 20, 500), &every);
}

/* PML on for every scenario on EPT with A/D (all of them): still clean. */
static void test_clean_pml(void **state)
{
	struct scn_config pml = { .set_pml = true, .pml = true };
	struct scn_config pml_yields = { .set_pml = true, .pml = true,
					 .set_yield_every = true, .yield_every = 1 };

	run_clean_modes(SCN_PCT, scaled(10, 100, 2000), &pml);
	run_clean_modes(SCN_RANDOM, scaled(5, 50, 1000), &pml);
	run_clean_modes(SCN_FREE, scaled(5, 20, 500), &pml);
	run_clean_modes(SCN_PCT, scaled(3, 20, 500), &pml_yields);
}

/* The counters start near every boundary (and the MMIO generation's wrap): clean. */
static void test_clean_counters(void **state)
{
	struct scn_config modes = { .set_counters = true };

	for (modes.counters = WORLD_COUNTERS_ZERO; modes.counters < NR_WORLD_COUNTERS;
	     modes.counters++) {
		run_clean_modes(SCN_PCT, scaled(5, 50, 2000), &modes);
		/* And with forced yields on top. */
		modes.set_yield_every = true;
		modes.yield_every = 1;
		run_clean_modes(SCN_PCT, scaled(3, 20, 500), &modes);
		modes.set_yield_every = false;
	}
}

/* A schedule without a violation replays with its hash too. */
static void test_same_seed_same_hash(void **state)
{
	struct scn_config cfg = {
		.scn = scn_find("fault-vs-host"), .checks = CHECK_ALL, .strategy = SCN_PCT,
		.depth = 3, .seed = 7, .schedules = 3,
	};
	struct scn_result a, b;

	assert_int_equal(scn_run(&cfg, &a), 0);
	assert_int_equal(scn_run(&cfg, &b), 0);
	assert_false(a.violated);
	assert_int_equal(a.event_hash, b.event_hash);
	cfg.seed = 8;
	assert_int_equal(scn_run(&cfg, &b), 0);
	assert_true(a.event_hash != b.event_hash);
}

/*
 * Shards of a run are its schedules: shard I of M runs the indices that
 * are I modulo M, each as the unsharded run has it, so the shards' counts
 * and digests add up to the unsharded run's.
 */
static void test_shards_add_up(void **state)
{
	struct scn_config cfg = {
		.scn = scn_find("fault-vs-host"), .checks = CHECK_ALL, .strategy = SCN_PCT,
		.depth = 3, .seed = 5, .schedules = 30,
	};
	static const u64 sizes[4] = { 8, 8, 7, 7 };
	struct scn_result whole, part;
	u64 digest = 0, run = 0, i;

	assert_int_equal(scn_shard_schedules(&cfg), 30);
	assert_int_equal(scn_run(&cfg, &whole), 0);
	assert_false(whole.violated);
	assert_int_equal(whole.schedules_run, 30);
	assert_int_equal(whole.last_index, 29);
	cfg.shard_count = 4;
	for (i = 0; i < 4; i++) {
		cfg.shard_index = i;
		assert_int_equal(scn_shard_schedules(&cfg), sizes[i]);
		assert_int_equal(scn_run(&cfg, &part), 0);
		assert_false(part.violated || part.interrupted);
		assert_int_equal(part.schedules_run, sizes[i]);
		assert_int_equal(part.last_index, i + 4 * (sizes[i] - 1));
		/* Index 29, the unsharded run's last, is shard 1's last. */
		if (i == 1)
			assert_int_equal(part.event_hash, whole.event_hash);
		digest += part.schedules_digest;
		run += part.schedules_run;
	}
	assert_int_equal(run, whole.schedules_run);
	assert_int_equal(digest, whole.schedules_digest);

	/* No shard 4 of 4; shard 35 of 40 holds none of 30 schedules. */
	cfg.shard_index = 4;
	assert_int_equal(scn_run(&cfg, &part), -EINVAL);
	cfg.shard_index = 35;
	cfg.shard_count = 40;
	assert_int_equal(scn_shard_schedules(&cfg), 0);
	assert_int_equal(scn_run(&cfg, &part), 0);
	assert_int_equal(part.schedules_run, 0);
}

static void stop_after_three(u64 done, u64 total, void *arg)
{
	if (done == 3)
		atomic_store((_Atomic bool *)arg, true);
}

/* The stop flag ends a run between two schedules, with what it ran. */
static void test_stop_between_schedules(void **state)
{
	_Atomic bool stop = true;
	struct scn_config cfg = {
		.scn = scn_find("fault-vs-host"), .checks = CHECK_ALL, .strategy = SCN_PCT,
		.depth = 3, .seed = 5, .schedules = 1000000, .stop = &stop,
	};
	struct scn_result res, first;

	assert_int_equal(scn_run(&cfg, &res), 0);
	assert_true(res.interrupted);
	assert_int_equal(res.schedules_run, 0);

	atomic_store(&stop, false);
	cfg.progress = stop_after_three;
	cfg.arg = &stop;
	cfg.shard_index = 2;
	cfg.shard_count = 5;
	assert_int_equal(scn_run(&cfg, &res), 0);
	assert_true(res.interrupted);
	assert_int_equal(res.schedules_run, 3);
	assert_int_equal(res.last_index, 12);

	/* What it ran is what a run of just those schedules has. */
	cfg.stop = NULL;
	cfg.progress = NULL;
	cfg.schedules = 13;
	assert_int_equal(scn_run(&cfg, &first), 0);
	assert_false(first.interrupted);
	assert_int_equal(first.schedules_run, 3);
	assert_int_equal(first.schedules_digest, res.schedules_digest);
}

static void test_bad_tokens(void **state)
{
	struct scn_config cfg;
	struct scn_result res;
	char token[200];

	assert_int_equal(scn_replay("nonsense", CHECK_ALL, &cfg, &res), -EINVAL);
	snprintf(token, sizeof(token), "kvmmu1.%s.no-such-scenario.0.pct.3.10.1.0.y0.c0.p0.m0",
		 scn_build_id());
	assert_int_equal(scn_replay(token, CHECK_ALL, &cfg, &res), -ENOENT);
	/* Cut short, or with more after it. */
	snprintf(token, sizeof(token), "kvmmu1.%s.fault-vs-host.0.pct.3.10.1.0", scn_build_id());
	assert_int_equal(scn_token_check(token), -EINVAL);
	snprintf(token, sizeof(token), "kvmmu1.%s.fault-vs-host.0.pct.3.10.1.0.y0.c0.p0.m0x",
		 scn_build_id());
	assert_int_equal(scn_token_check(token), -EINVAL);
	/* A counters mode this build does not have. */
	snprintf(token, sizeof(token), "kvmmu1.%s.fault-vs-host.0.pct.3.10.1.0.y0.c%d.p0.m0",
		 scn_build_id(), NR_WORLD_COUNTERS);
	assert_int_equal(scn_token_check(token), -EINVAL);
	/* PML is on or off. */
	snprintf(token, sizeof(token), "kvmmu1.%s.fault-vs-host.0.pct.3.10.1.0.y0.c0.p2.m0",
		 scn_build_id());
	assert_int_equal(scn_token_check(token), -EINVAL);
	/* An MMU this build does not have. */
	snprintf(token, sizeof(token), "kvmmu1.%s.fault-vs-host.0.pct.3.10.1.0.y0.c0.p0.m%d",
		 scn_build_id(), NR_WORLD_MMUS);
	assert_int_equal(scn_token_check(token), -EINVAL);
	assert_int_equal(scn_replay("kvmmu1.00000000.fault-vs-host.0.pct.3.10.1.0.y0.c0.p0.m0", CHECK_ALL,
				    &cfg, &res), strcmp(scn_build_id(), "00000000") ? -ESTALE : 0);
}

static const struct CMUnitTest tests[] = {
	KVMMU_TEST(test_notifier_skips_invalid_roots),
	KVMMU_TEST(test_ref_invalid_root),
	KVMMU_TEST(test_zap_without_freeze),
	KVMMU_TEST(test_unfreeze_before_flush),
	KVMMU_TEST(test_ref_noncounted_page),
	KVMMU_TEST(test_tail_page_ref_count),
	KVMMU_TEST(test_free_table_without_grace),
	KVMMU_TEST(test_fast_pf_no_dirty_log),
	KVMMU_TEST(test_split_child_pfn),
	KVMMU_TEST(test_resume_past_yield),
	KVMMU_TEST(test_resume_past_yield_needs_forced_yields),
	KVMMU_TEST(test_seq_snapshot_int),
	KVMMU_TEST(test_seq_snapshot_int_needs_counters),
	KVMMU_TEST(test_ring_reset_no_protect),
	KVMMU_TEST(test_max_gfn_round_down),
	KVMMU_TEST(test_max_gfn_round_down_needs_odd_width),
	KVMMU_TEST(test_atomic_update_ignores_dirty),
	KVMMU_TEST(test_atomic_update_ignores_dirty_needs_pml),
	KVMMU_TEST(test_mmio_wrap_no_zap),
	KVMMU_TEST(test_mmio_wrap_no_zap_needs_counters),
	KVMMU_TEST(test_commit_zap_without_flush),
	KVMMU_TEST(test_no_retry_special_root),
	KVMMU_TEST(test_no_unprotect_guard),
	KVMMU_TEST(test_slot_zap_leafs_only),
	KVMMU_TEST(test_unsync_tracked_gfn),
	KVMMU_TEST(test_rmap_unmap_no_flush),
	KVMMU_TEST(test_slot_zap_leafs_only_nested),
	KVMMU_TEST(test_invept_keeps_root),
	KVMMU_TEST(test_invlpg_skips_sync),
	KVMMU_TEST(test_aging_no_rmap_lock),
	KVMMU_TEST(test_unaccount_skips_write_track),
	KVMMU_TEST(test_random_strategy_finds_seed_races),
	KVMMU_TEST(test_clean_pct),
	KVMMU_TEST(test_clean_pml),
	KVMMU_TEST(test_clean_tdp_legacy),
	KVMMU_TEST(test_clean_shadow),
	KVMMU_TEST(test_clean_random),
	KVMMU_TEST(test_clean_free),
	KVMMU_TEST(test_clean_forced_yields),
	KVMMU_TEST(test_clean_counters),
	KVMMU_TEST(test_same_seed_same_hash),
	KVMMU_TEST(test_shards_add_up),
	KVMMU_TEST(test_stop_between_schedules),
	KVMMU_TEST(test_bad_tokens),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
