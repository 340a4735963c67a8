/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The controlled executor: run kvmmu threads one at a time, switching only
 * at sched points, with every decision drawn from a seeded generator.
 *
 * A run:
 *   sched_ctl_begin(&cfg);          install the hooks, pin to one CPU,
 *                                   switch RCU to the own engine
 *   kvmmu_thread_create(...) x N;   threads are adopted, parked until run
 *   sched_ctl_run();                hand out the baton until every
 *                                   non-daemon controlled thread has ended
 *   kvmmu_thread_join(...) x N;
 *   sched_ctl_end();                release daemons, restore everything
 *
 * Exactly one controlled thread holds the baton at any time; the others
 * sleep on their own futex.  At each sched point the holder asks the
 * strategy which enabled thread runs next.  A thread blocked in
 * kvmmu_block(word, val) is enabled again only once *word != val, so a
 * blocked thread never spins and never runs before its wake-up.  If every
 * remaining thread is blocked, the run is deadlocked: the executor reports
 * each thread's wait and aborts.
 *
 * The thread calling sched_ctl_begin() (the controller) is not controlled;
 * threads it creates while the executor is active are, and so are the
 * threads they create (the RCU callback thread among them, as a daemon).
 */
#ifndef KVMMU_SCHED_SCHED_CTL_H
#define KVMMU_SCHED_SCHED_CTL_H

#include "sched_point.h"
#include "types.h"

enum sched_strategy {
	SCHED_STRATEGY_RANDOM, /* uniform choice among enabled threads */
	/*
	 * PCT (Burckhardt et al., ASPLOS 2010): threads get random distinct
	 * priorities, the highest-priority enabled thread runs, and at d - 1
	 * random steps among the first k the running thread drops below all
	 * others.  Finds any bug of depth d with probability >= 1/(n k^(d-1)).
	 */
	SCHED_STRATEGY_PCT,
};

struct sched_ctl_config {
	u64 seed;
	enum sched_strategy strategy;
	/*
	 * BIT(kind) for the sched point kinds that are decision points;
	 * 0 means all.  Blocking and thread exit always switch.
	 */
	u64 point_mask;
	/* Probability, in 1/1024, that need_resched() answers yes. */
	unsigned int resched_per_1024;
	/* PCT: the bug depth d (>= 1) and the expected number of steps k. */
	unsigned int depth;
	u64 steps;
	/*
	 * After this many decision steps (0: no limit) @on_limit is called,
	 * once, from the thread at the limit, to make the threads wind down
	 * (it must not block); scheduling goes on until they end.
	 */
	u64 max_steps;
	void (*on_limit)(void *arg);
	void *limit_arg;
};

/* Start a controlled session.  -EBUSY if one is active. */
int sched_ctl_begin(const struct sched_ctl_config *cfg);

/* Run the threads created since sched_ctl_begin(); returns when every
 * non-daemon controlled thread has ended.  Returns 0. */
int sched_ctl_run(void);

/* End the session: release parked daemons, restore CPU affinity, RCU
 * backend and hooks. */
void sched_ctl_end(void);

struct sched_ctl_stats {
	u64 points;    /* sched points seen in controlled threads */
	u64 switches;  /* baton hand-offs */
	u64 decisions; /* strategy choices made */
	u64 hash;      /* FNV-1a over (thread index, point kind) per point */
	int threads;   /* controlled threads, daemons included */
	u64 steps;     /* decision steps (points that count, blocks, exits) */
	bool limited;  /* max_steps was reached */
	u64 spins;     /* decisions taken because a thread busy-waited */
};

/* The calling thread's index in the session (creation order), or -1. */
int sched_ctl_thread_index(void);

/* Statistics of the last (or current) session. */
void sched_ctl_get_stats(struct sched_ctl_stats *stats);

#endif /* KVMMU_SCHED_SCHED_CTL_H */
