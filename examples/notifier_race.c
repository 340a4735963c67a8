// SPDX-License-Identifier: GPL-2.0-only
/*
 * A race with the checkers on, from outside kvmmu, with only its installed
 * headers and `pkg-config --cflags --libs kvmmu`.
 *
 * Part 1, free-running threads: two vCPUs write and read 2 MiB of guest
 * memory each, pass after pass, through the simulated CPU (TLBs, page walkers,
 * EPT violations into KVM's TDP MMU) while a host thread of the VMM
 * migrates pages under them and drops others with MADV_DONTNEED: each
 * call runs the host's mmu_notifier invalidation, which zaps KVM's SPTEs
 * and flushes the vCPUs' TLBs, while the faults retry on
 * mmu_invalidate_seq.  Every checker watches; none may fire.
 *
 * Part 2, the controlled executor: the scenario of the mutant
 * notifier-skips-invalid-roots (seed 000: the notifier's unmap walks only
 * valid roots, so an invalidated root a vCPU still holds keeps mapping an
 * unmapped page) is run schedule after schedule with the mutant on, until
 * notifier completeness (I26) catches it; its replay token runs that
 * schedule again to the same event hash; without the mutant the same
 * schedules run clean.
 *
 * Exit 0 when all of that holds.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvmmu/kvmmu.h>

#define MEM_SIZE (4UL << 20)
#define PASSES 8  /* at least, per vCPU */
#define ROUNDS 64  /* at least, of the host's migrate and drop */
#define MUTANT "notifier-skips-invalid-roots"

static int failures;

#define EXPECT(cond, ...)                                                    \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "notifier_race: " __VA_ARGS__);      \
			fputc('\n', stderr);                                 \
			failures++;                                          \
		}                                                            \
	} while (0)

struct race {
	struct kvmmu_world *w;
	struct kvmmu_mem_config mem;
	unsigned long migrated, dropped;
};

struct vcpu_arg {
	struct race *race;
	int idx;
};

/*
 * vCPU @idx's program: memstress passes until the VMM is done and stops it.
 * Loaded before the vCPU's thread starts, so that the host thread may
 * watch its progress.
 */
static int load_vcpu(struct race *race, int idx)
{
	/*
	 * Each vCPU on its own half, as memstress partitions guest memory:
	 * two vCPUs storing to one word without synchronisation have no
	 * "last value stored" for a load to be judged against.
	 */
	const struct kvmmu_program prog = {
		.base = race->mem.gpa + idx * (race->mem.size / 2),
		.size = race->mem.size / 2,
		.write_percent = 50,
		.random = true,
		.seed = 1 + idx,
		.passes = 0, /* until stopped */
	};

	return kvmmu_world_vcpu_load(race->w, idx, &prog);
}

static int vcpu_body(void *p)
{
	struct vcpu_arg *a = p;
	int r = kvmmu_world_vcpu_run(a->race->w, a->idx);

	return r == -EINTR ? 0 : r;
}

static bool vcpus_passed(struct race *race, uint64_t passes)
{
	return kvmmu_world_vcpu_progress(race->w, 0) >= passes &&
	       kvmmu_world_vcpu_progress(race->w, 1) >= passes;
}

/*
 * The VMM: once both vCPUs run, migrate a 64K window and drop a page, move
 * on, ROUNDS times and until both did PASSES passes; then stop them.
 */
static int host_body(void *p)
{
	struct race *race = p;
	unsigned long off = 0, moved;
	int r = 0, round;

	while (!vcpus_passed(race, 1))
		sched_yield();
	for (round = 0; !r && (round < ROUNDS || !vcpus_passed(race, PASSES)); round++) {
		r = kvmmu_world_migrate(race->w, race->mem.hva + off, 64 * 1024, &moved);
		race->migrated += moved;
		if (!r) {
			r = kvmmu_world_madvise_dontneed(race->w, race->mem.hva + off + 64 * 1024,
							 4096);
			race->dropped++;
		}
		off = (off + 68 * 1024) % (race->mem.size - 128 * 1024);
	}
	kvmmu_world_stop_vcpus(race->w);
	return r;
}

static void free_running_race(void)
{
	struct kvmmu_world_config cfg = {
		.nr_vcpus = 2,
		.mem = { { .size = MEM_SIZE, .backing = KVMMU_BACKING_ANON, .gpa = 1UL << 30,
			   .nr_slots = 1 } },
	};
	struct vcpu_arg args[2];
	struct kvmmu_thread *vcpus[2], *host;
	struct kvmmu_violation v[4];
	struct race race = { 0 };
	char why[160];
	int r, i, nr;

	if (kvmmu_check_parse("all", &cfg.checks, why, sizeof(why))) {
		EXPECT(0, "--check all: %s", why);
		return;
	}
	r = kvmmu_world_create(&cfg, &race.w, why, sizeof(why));
	if (r) {
		EXPECT(0, "world: %s", why);
		return;
	}
	kvmmu_world_mem(race.w, 0, &race.mem);
	EXPECT(!kvmmu_world_check_begin(race.w), "check_begin");

	for (i = 0; i < 2; i++) {
		char name[16];

		args[i] = (struct vcpu_arg){ .race = &race, .idx = i };
		r = load_vcpu(&race, i);
		EXPECT(!r, "vcpu%d: program: %d", i, r);
		snprintf(name, sizeof(name), "vcpu%d", i);
		r = kvmmu_thread_create(&vcpus[i], name, 0, vcpu_body, &args[i]);
		EXPECT(!r, "thread %s: %d", name, r);
	}
	r = kvmmu_thread_create(&host, "host", 0, host_body, &race);
	EXPECT(!r, "host thread: %d", r);
	/* The host stops the vCPUs: join it first. */
	r = kvmmu_thread_join(host);
	EXPECT(!r, "host: %d", r);
	for (i = 0; i < 2; i++) {
		r = kvmmu_thread_join(vcpus[i]);
		EXPECT(!r, "vcpu%d: KVM_RUN returned %d", i, r);
		EXPECT(kvmmu_world_vcpu_progress(race.w, i) >= PASSES, "vcpu%d: %" PRIu64
		       " passes", i, kvmmu_world_vcpu_progress(race.w, i));
	}

	kvmmu_world_check_end(race.w);
	nr = kvmmu_check_violations(v, 4);
	for (i = 0; i < nr && i < 4; i++)
		fprintf(stderr, "notifier_race: violation of %s (%s) by %s: %s\n", v[i].invariant,
			v[i].checker, v[i].thread, v[i].description);
	EXPECT(nr == 0, "the checkers found %d violations in the free-running race", nr);
	printf("free-running: %" PRIu64 "+%" PRIu64 " passes of 2 vCPUs, %lu pages migrated, "
	       "%lu dropped, %" PRIu64 " events checked, %d violations\n",
	       kvmmu_world_vcpu_progress(race.w, 0), kvmmu_world_vcpu_progress(race.w, 1),
	       race.migrated, race.dropped, kvmmu_check_events_seen(), nr);
	EXPECT(race.migrated > 0, "the host migrated nothing while the vCPUs ran");
	EXPECT(kvmmu_world_destroy(race.w) == 0, "frames leaked");
}

static const char *scenario_of(const char *mutant)
{
	int i;

	for (i = 0; i < kvmmu_scenario_count(); i++) {
		const char *name;
		char mutants[256];

		kvmmu_scenario_info(i, &name, NULL, mutants, sizeof(mutants));
		if (strstr(mutants, mutant))
			return name;
	}
	return NULL;
}

static void controlled_race(void)
{
	struct kvmmu_scenario_config cfg = { .seed = 1, .schedules = 2000 };
	struct kvmmu_scenario_result res, again;
	int r;

	cfg.name = scenario_of(MUTANT);
	EXPECT(cfg.name, "no scenario for %s", MUTANT);
	if (!cfg.name)
		return;
	EXPECT(!kvmmu_check_parse("all", &cfg.checks, NULL, 0), "--check all");
	EXPECT(!kvmmu_mutant_parse(MUTANT, &cfg.mutants, NULL, 0), "--inject " MUTANT);

	r = kvmmu_scenario_run(&cfg, &res);
	EXPECT(!r, "%s: %d", cfg.name, r);
	EXPECT(res.violated, "%s with %s: no violation in %" PRIu64 " schedules", cfg.name,
	       MUTANT, res.schedules_run);
	if (r || !res.violated)
		return;
	printf("%s with %s: violation of %s (%s) in schedule %" PRIu64 ", thread %s:\n  %s\n"
	       "  replay: kvmmu replay %s\n", cfg.name, MUTANT, res.violation.invariant,
	       res.violation.checker, res.schedule_index, res.violation.thread,
	       res.violation.description, res.replay);
	EXPECT(!strcmp(res.violation.invariant, "I26"), "caught as %s, not I26",
	       res.violation.invariant);

	r = kvmmu_scenario_replay(res.replay, cfg.checks, &again);
	EXPECT(!r && again.violated && again.event_hash == res.event_hash,
	       "replay: %d, violated %d, event hash %016" PRIx64 " for %016" PRIx64, r,
	       again.violated, again.event_hash, res.event_hash);

	cfg.mutants = 0;
	cfg.schedules = res.schedules_run;
	r = kvmmu_scenario_run(&cfg, &again);
	EXPECT(!r && !again.violated, "%s without the mutant: %d, violated %d", cfg.name, r,
	       again.violated);
	printf("%s without it: %" PRIu64 " schedules, no violation\n", cfg.name,
	       again.schedules_run);
}

int main(void)
{
	printf("kvmmu %s\n", kvmmu_version());
	free_running_race();
	controlled_race();
	EXPECT(kvmmu_check_warnings() == 0, "%lu WARNs", kvmmu_check_warnings());
	printf("notifier_race: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
