/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The race scenarios: small programs of threads on tiny VMs, each run
 * schedule after schedule under the controlled executor with checkers on,
 * as `kvmmu scenario` runs them.  A violation comes with a replay token
 * that `kvmmu replay` (or kvmmu_scenario_replay()) runs again, to the same
 * event hash.
 */
#ifndef KVMMU_SCENARIO_H
#define KVMMU_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kvmmu/check.h>

/* The number of scenarios. */
int kvmmu_scenario_count(void);
/*
 * Scenario @i's name and description, and the mutants it exists for
 * (a comma-separated list, "" for none) in @mutants.  0 or -EINVAL.
 */
int kvmmu_scenario_info(int i, const char **name, const char **description,
			char *mutants, size_t mutants_len);

/**
 * struct kvmmu_scenario_config - a run of a scenario
 * @name:      the scenario (kvmmu_scenario_info(), `kvmmu list`)
 * @mutants:   mutants switched on (kvmmu_mutant_parse())
 * @checks:    checkers attached (kvmmu_check_parse(); 0: none)
 * @strategy:  "pct" (NULL too), "random", or "free" (free-running threads,
 *             no replay)
 * @depth:     PCT's bug depth (0: 3)
 * @seed:      the first schedule's seed
 * @schedules: schedules to run at most (0: 1000)
 */
struct kvmmu_scenario_config {
	const char *name;
	uint64_t mutants;
	uint64_t checks;
	const char *strategy;
	unsigned int depth;
	uint64_t seed;
	uint64_t schedules;
};

/**
 * struct kvmmu_scenario_result - what a run found
 * @schedules_run:  schedules run
 * @violated:       a violation stopped the run
 * @violation:      the first one
 * @schedule_index: the schedule it was found in
 * @event_hash:     that schedule's event hash (or the last schedule's)
 * @replay:         its replay token (for `kvmmu replay`), "" if none
 */
struct kvmmu_scenario_result {
	uint64_t schedules_run;
	bool violated;
	struct kvmmu_violation violation;
	uint64_t schedule_index;
	uint64_t event_hash;
	char replay[160];
};

/*
 * Run schedules of a scenario until a violation or @cfg->schedules.
 * Returns 0 (@res says what was found), -EFAULT for a NULL @cfg, @res or
 * name, -ENOENT for an unknown scenario, -EINVAL for a bad strategy, depth
 * or mask, or the runner's -errno.  Not while a
 * world has checkers attached.
 */
int kvmmu_scenario_run(const struct kvmmu_scenario_config *cfg,
		       struct kvmmu_scenario_result *res);
/*
 * Run the schedule @token names again with the checkers of @checks.
 * Returns 0, -EFAULT for a NULL @token or @res, -EINVAL for a malformed
 * token, -ESTALE for one from another build, -ENOENT for an unknown
 * scenario.
 */
int kvmmu_scenario_replay(const char *token, uint64_t checks,
			  struct kvmmu_scenario_result *res);

#endif /* KVMMU_SCENARIO_H */
