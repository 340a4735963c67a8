/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Race scenarios: small programs of threads (vCPUs, host operations,
 * memslot updates, MMU background work) on tiny VMs, run schedule after
 * schedule under the controlled executor with every checker watching, so
 * that a race is found in seconds and replayed from a token.
 *
 * A schedule builds a fresh world (src/world: host, simulated CPUs, VM,
 * memory) from the scenario's configuration, lets the scenario set it up
 * (pre-fault, enable logging), starts the checkers, creates the scenario's threads
 * under the executor, runs them to the end, stops the checkers and tears
 * everything down (checking that every frame went back).  A violation, or
 * a WARN, ends the run; the schedule that showed it is named by a replay
 * token that re-runs exactly that schedule.
 */
#ifndef KVMMU_SCENARIO_SCENARIO_H
#define KVMMU_SCENARIO_SCENARIO_H

#include "check.h"
#include "host_mm.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "thread.h"
#include "wait.h"
#include "world.h"

#define SCN_MAX_VCPUS 4
#define SCN_MAX_THREADS 8

/* One schedule's world, and the scenario's state around it. */
struct scn_world {
	struct world world;
	struct kvmmu_thread *threads[SCN_MAX_THREADS];
	int nr_threads;
	/* Set when the schedule must wind down (a violation, the step limit). */
	_Atomic bool aborting;
	/* Programs loaded per vCPU since the scenario's threads started. */
	_Atomic u32 programs[SCN_MAX_VCPUS];
	/* Scenario-private state, zeroed per schedule. */
	struct completion done[4];
	u64 scratch[8];
};

struct scenario {
	const char *name;
	const char *description;
	/* The contract's mutants this scenario exists for (NULL: none). */
	const char *mutants[3];
	/* Sched point kinds that are decisions (0: all); need_resched odds. */
	u64 point_mask;
	unsigned int resched_per_1024;
	/*
	 * The VM, its vCPUs (up to SCN_MAX_VCPUS) and its memory; the runner
	 * adds the checkers and mutants of the run.
	 */
	struct world_config world;
	/* Bring the VM into its starting state, in the controller, before threads. */
	int (*setup)(struct scn_world *w);
	/* Create the threads (scn_thread()), in the controller. */
	int (*start)(struct scn_world *w);
};

extern const struct scenario *const scenario_table[];
extern const int nr_scenarios;
const struct scenario *scn_find(const char *name);
/* The scenario a mutant is caught by, and its checker, or NULL. */
const struct scenario *scn_for_mutant(const char *mutant, enum checker_id *checker);

/* ---- driving a world (for setup and start) ------------------------------------------ */

/* Run a list of accesses on @vcpu to its end (setup, or inside a thread). */
int scn_vcpu_run_list(struct scn_world *w, int vcpu, struct hw_access *list, u64 n);
/* One access. */
int scn_vcpu_access(struct scn_world *w, int vcpu, u8 op, u64 addr, u64 *value);
/* Create a scenario thread (controlled when the executor is on). */
int scn_thread(struct scn_world *w, const char *name, int (*fn)(struct scn_world *w));
/* Make every thread wind down: vCPUs leave KVM_RUN with -EINTR, spins end. */
void scn_abort(struct scn_world *w);

/* ---- running ----------------------------------------------------------------------------- */

enum scn_strategy {
	SCN_PCT,
	SCN_RANDOM,
	SCN_FREE, /* free-running threads, for comparison */
};

const char *scn_strategy_name(enum scn_strategy s);
int scn_strategy_parse(const char *s, enum scn_strategy *out);

struct scn_config {
	const struct scenario *scn;
	u64 mutants;    /* mask of enum kvmmu_mutant_id */
	u64 checks;     /* mask of enum checker_id */
	enum scn_strategy strategy;
	unsigned int depth;
	u64 seed;
	u64 schedules;
	/* Modes (world_config's meanings): the scenario's own, unless set here. */
	bool set_yield_every;
	unsigned int yield_every;
	bool set_counters;
	enum world_counters counters;
	bool set_pml;
	bool pml;
	bool set_mmu;
	enum world_mmu mmu;
	/*
	 * Sharding: run only the schedules whose index i has i % shard_count ==
	 * shard_index, of the @schedules an unsharded run would try (0 or 1
	 * shards: all of them).  Each schedule keeps its index, so its seed,
	 * its event hash and its token are what the unsharded run has.
	 */
	u64 shard_index;
	u64 shard_count;
	/* Set (a signal handler may) to stop before the next schedule; may be NULL. */
	const _Atomic bool *stop;
	/* Called after each schedule (may be NULL): done and total of this shard. */
	void (*progress)(u64 done, u64 total, void *arg);
	void *arg;
};

struct scn_result {
	u64 schedules_run;
	bool violated;
	struct check_violation violation;
	u64 schedule_index;  /* of the violation */
	u64 event_hash;      /* of that schedule (or of the last one) */
	u64 steps;           /* PCT's k */
	char token[160];
	/*
	 * Of the schedules run: the sum, modulo 2^64, of scn_digest() of each
	 * one's index and event hash.  The order does not matter, so the
	 * digests of disjoint shards add up to the digest of their union.
	 */
	u64 schedules_digest;
	u64 last_index;      /* the last schedule run (if any ran) */
	bool interrupted;    /* *@cfg->stop ended the run early */
};

/*
 * Run the schedules of @cfg's shard, in index order, until a violation,
 * the end, or *@cfg->stop.  Returns 0 or -errno.
 */
int scn_run(const struct scn_config *cfg, struct scn_result *res);
/* How many schedules the shard of @cfg holds (all of them when unsharded). */
u64 scn_shard_schedules(const struct scn_config *cfg);
/* One schedule's share of a schedules digest. */
u64 scn_digest(u64 index, u64 event_hash);

/*
 * Re-run the schedule a token names, with the checkers in @checks.
 * Returns 0, -EINVAL for a malformed token, -ESTALE for one from another
 * build, -ENOENT for an unknown scenario.
 */
int scn_replay(const char *token, u64 checks, struct scn_config *cfg, struct scn_result *res);
/* Whether scn_replay() would take @token: 0, or its -EINVAL, -ESTALE, -ENOENT. */
int scn_token_check(const char *token);

/* The forced yields and the counters a run of @cfg has. */
unsigned int scn_yield_every(const struct scn_config *cfg);
enum world_counters scn_counters(const struct scn_config *cfg);
bool scn_pml(const struct scn_config *cfg);
enum world_mmu scn_mmu(const struct scn_config *cfg);

/* This build's identifier (tokens carry it). */
const char *scn_build_id(void);

#endif /* KVMMU_SCENARIO_SCENARIO_H */
