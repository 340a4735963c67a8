// SPDX-License-Identifier: GPL-2.0-only
/*
 * The controlled executor (see sched_ctl.h).
 *
 * All executor state is touched only by the baton holder (or by the
 * controller while no controlled thread holds the baton), so it needs no
 * lock.  Hand-offs are seq_cst stores and exchanges of the per-thread baton
 * word, which also give ThreadSanitizer the happens-before edge from each
 * thread's step to the next.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitops.h"
#include "bug.h"
#include "futex.h"
#include "printk.h"
#include "rcu.h"
#include "sched_ctl.h"
#include "thread.h"

#define SCHED_MAX_THREADS 128

enum sched_thread_state {
	ST_RUNNABLE,
	ST_BLOCKED,
	ST_EXITED,
};

struct sched_thread {
	struct kvmmu_thread *t;
	int idx; /* registration order in this session */
	bool daemon;
	enum sched_thread_state state;
	_Atomic u32 *word; /* ST_BLOCKED: enabled once *word != val */
	u32 val;
	_Atomic u32 baton; /* 1: this thread may run */
	u64 prio;          /* PCT: higher runs first */
	u64 masked;        /* points passed in a row without a decision */
};

/*
 * PCT priorities: every thread starts above PCT_PRIO_BASE + PCT_MAX_DEPTH,
 * change points drop the runner to PCT_PRIO_BASE + 1..d-1, and a spinning
 * thread drops below PCT_PRIO_BASE (the latest spinner lowest), so a thread
 * that waits for another by busy-waiting cannot keep the CPU forever.
 */
#define PCT_PRIO_BASE (1ULL << 40)

/*
 * A thread that passes this many masked-out points in a row without a
 * decision is treated as spinning: a loop whose only exit is another
 * thread's step (a fault retried on a frozen SPTE, say) must not starve
 * the others just because its points are filtered out.
 */
#define SCHED_STARVE_POINTS 20000

#define PCT_MAX_DEPTH 16

static struct {
	bool active;
	_Atomic bool released; /* ending: controlled threads run freely */
	struct sched_ctl_config cfg;
	struct kvmmu_thread *controller;
	struct sched_thread *threads[SCHED_MAX_THREADS];
	int nr;
	int live; /* non-daemon threads that have not ended */
	u64 rng;
	struct sched_ctl_stats stats;
	u64 change_points[PCT_MAX_DEPTH]; /* PCT: steps where the runner drops */
	u64 spin_floor; /* PCT: priority given to the latest spinner */
	unsigned int nr_changes;
	bool limit_called;
	_Atomic u32 done;
	cpu_set_t saved_cpus;
	enum rcu_backend saved_backend;
} ctl;

/* splitmix64: small, fast, and every seed gives a good stream. */
static u64 ctl_rand(void)
{
	u64 z = (ctl.rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void hash_step(u64 v)
{
	int i;

	for (i = 0; i < 8; i++) {
		ctl.stats.hash ^= (v >> (i * 8)) & 0xff;
		ctl.stats.hash *= 0x100000001b3ULL;
	}
}

/* The calling thread's executor record, if the executor controls it now. */
static struct sched_thread *controlled_self(void)
{
	struct sched_thread *st = current_thread()->sched;

	if (!st || atomic_load(&ctl.released))
		return NULL;
	return st;
}

static bool is_enabled(const struct sched_thread *st)
{
	switch (st->state) {
	case ST_RUNNABLE:
		return true;
	case ST_BLOCKED:
		return atomic_load(st->word) != st->val;
	default:
		return false;
	}
}

/* One decision step: PCT priority changes and the step limit happen here. */
static void count_step(struct sched_thread *running)
{
	unsigned int i;

	ctl.stats.steps++;
	if (ctl.cfg.strategy == SCHED_STRATEGY_PCT && running) {
		for (i = 0; i < ctl.nr_changes; i++) {
			/* The i-th change point drops the runner to priority d - 1 - i. */
			if (ctl.change_points[i] == ctl.stats.steps)
				running->prio = PCT_PRIO_BASE + ctl.nr_changes - i;
		}
	}
	if (ctl.cfg.max_steps && ctl.stats.steps >= ctl.cfg.max_steps && !ctl.limit_called) {
		ctl.limit_called = true;
		ctl.stats.limited = true;
		if (ctl.cfg.on_limit)
			ctl.cfg.on_limit(ctl.cfg.limit_arg);
	}
}

/*
 * @spinning: @running busy-waits for another thread, so it runs next only
 * if nobody else can.
 */
static struct sched_thread *pick_next(struct sched_thread *running, bool spinning)
{
	struct sched_thread *cand[SCHED_MAX_THREADS], *best = NULL;
	int i, n = 0;

	count_step(running);
	if (running)
		running->masked = 0;
	if (spinning) {
		ctl.stats.spins++;
		running->prio = --ctl.spin_floor;
	}
	for (i = 0; i < ctl.nr; i++) {
		if (spinning && ctl.threads[i] == running)
			continue;
		if (is_enabled(ctl.threads[i]))
			cand[n++] = ctl.threads[i];
	}
	if (!n && spinning)
		return running;
	if (!n)
		return NULL;
	ctl.stats.decisions++;
	if (ctl.cfg.strategy != SCHED_STRATEGY_PCT)
		return cand[ctl_rand() % (u64)n];
	for (i = 0; i < n; i++) {
		if (!best || cand[i]->prio > best->prio)
			best = cand[i];
	}
	return best;
}

static void give_baton(struct sched_thread *st)
{
	atomic_store(&st->baton, 1);
	futex_wake_all(&st->baton);
}

static void take_baton(struct sched_thread *st)
{
	while (!atomic_exchange(&st->baton, 0))
		futex_wait(&st->baton, 0);
}

static void switch_to(struct sched_thread *me, struct sched_thread *next)
{
	if (next == me)
		return;
	ctl.stats.switches++;
	give_baton(next);
	take_baton(me);
}

static const char *const state_names[] = {
	[ST_RUNNABLE] = "runnable",
	[ST_BLOCKED] = "blocked",
	[ST_EXITED] = "exited",
};

static __noreturn void report_deadlock(void)
{
	int i;

	pr_err("sched: deadlock: every controlled thread is blocked\n");
	for (i = 0; i < ctl.nr; i++) {
		struct sched_thread *st = ctl.threads[i];

		if (st->state == ST_BLOCKED)
			pr_err("  %s: blocked on %p (value %u)\n", st->t->name,
			       (void *)st->word, st->val);
		else
			pr_err("  %s: %s\n", st->t->name, state_names[st->state]);
	}
	WARN(1, "sched: deadlock");
	abort();
}

static void ctl_point(enum sched_point_kind kind, const void *obj)
{
	struct sched_thread *me = controlled_self();

	if (!me)
		return;
	ctl.stats.points++;
	hash_step(((u64)me->idx << 8) | (u64)kind);
	if (kind != SP_SPIN && ctl.cfg.point_mask && !(ctl.cfg.point_mask & BIT_ULL(kind))) {
		if (++me->masked < SCHED_STARVE_POINTS)
			return;
		kind = SP_SPIN;
	}
	switch_to(me, pick_next(me, kind == SP_SPIN));
}

static void ctl_block(_Atomic u32 *word, u32 val)
{
	struct sched_thread *me = controlled_self();
	struct sched_thread *next;

	if (!me) {
		futex_wait(word, val);
		return;
	}
	me->state = ST_BLOCKED;
	me->word = word;
	me->val = val;
	next = pick_next(me, false);
	if (!next)
		report_deadlock();
	switch_to(me, next);
	me->state = ST_RUNNABLE;
}

static void ctl_thread_register(struct kvmmu_thread *t)
{
	struct kvmmu_thread *creator = current_thread();
	struct sched_thread *st;

	if (!ctl.active || atomic_load(&ctl.released))
		return;
	if (creator != ctl.controller && !creator->sched)
		return;
	BUG_ON(ctl.nr == SCHED_MAX_THREADS);
	st = calloc(1, sizeof(*st));
	BUG_ON(!st);
	st->t = t;
	st->idx = ctl.nr;
	st->daemon = t->flags & KVMMU_THREAD_DAEMON;
	st->state = ST_RUNNABLE;
	/* PCT: a random priority above every change-point priority, unique. */
	st->prio = ((ctl_rand() >> 16) << 8 | (u64)st->idx) + PCT_PRIO_BASE + PCT_MAX_DEPTH + 1;
	ctl.threads[ctl.nr++] = st;
	if (!st->daemon)
		ctl.live++;
	t->sched = st;
}

static void ctl_thread_start(struct kvmmu_thread *t)
{
	struct sched_thread *st = t->sched;

	if (st && !atomic_load(&ctl.released))
		take_baton(st);
}

static void ctl_thread_exit(struct kvmmu_thread *t)
{
	struct sched_thread *st = t->sched;
	struct sched_thread *next;

	if (!st)
		return;
	st->state = ST_EXITED;
	if (atomic_load(&ctl.released))
		return;
	if (!st->daemon && --ctl.live == 0) {
		/* seq_cst: the controller sees every step made under the baton. */
		atomic_store(&ctl.done, 1);
		futex_wake_all(&ctl.done);
		return;
	}
	next = pick_next(st, false);
	if (!next)
		report_deadlock();
	ctl.stats.switches++;
	give_baton(next);
}

static bool ctl_need_resched(void)
{
	if (!controlled_self() || !ctl.cfg.resched_per_1024)
		return false;
	ctl.stats.decisions++;
	return (ctl_rand() & 1023) < ctl.cfg.resched_per_1024;
}

static const struct sched_hooks ctl_hooks = {
	.point = ctl_point,
	.block = ctl_block,
	.thread_register = ctl_thread_register,
	.thread_start = ctl_thread_start,
	.thread_exit = ctl_thread_exit,
	.need_resched = ctl_need_resched,
};

/* Pin the controller, and so every thread it creates, to one CPU. */
static void pin_to_one_cpu(void)
{
	cpu_set_t one;
	int cpu;

	CPU_ZERO(&one);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &ctl.saved_cpus)) {
			CPU_SET(cpu, &one);
			break;
		}
	}
	if (sched_setaffinity(0, sizeof(one), &one))
		pr_warn("sched: cannot pin to CPU %d; running unpinned\n", cpu);
}

int sched_ctl_begin(const struct sched_ctl_config *cfg)
{
	if (ctl.active)
		return -EBUSY;
	/* Callbacks queued in free mode must not run on an uncontrolled thread. */
	rcu_shutdown();
	memset(&ctl, 0, sizeof(ctl));
	ctl.saved_backend = rcu_get_backend();
	if (rcu_set_backend(RCU_BACKEND_OWN))
		return -EBUSY;
	ctl.cfg = *cfg;
	ctl.rng = cfg->seed;
	ctl.spin_floor = PCT_PRIO_BASE;
	if (cfg->strategy == SCHED_STRATEGY_PCT) {
		unsigned int d = cfg->depth ? cfg->depth : 3;
		u64 k = cfg->steps ? cfg->steps : 1000;
		unsigned int i;

		if (d > PCT_MAX_DEPTH)
			d = PCT_MAX_DEPTH;
		/* d - 1 change points, uniform in [1, k]. */
		ctl.nr_changes = d - 1;
		for (i = 0; i < ctl.nr_changes; i++)
			ctl.change_points[i] = 1 + ctl_rand() % k;
	}
	ctl.stats.hash = 0xcbf29ce484222325ULL;
	ctl.controller = current_thread();
	if (sched_getaffinity(0, sizeof(ctl.saved_cpus), &ctl.saved_cpus))
		CPU_ZERO(&ctl.saved_cpus);
	pin_to_one_cpu();
	ctl.active = true;
	sched_set_hooks(&ctl_hooks);
	return 0;
}

int sched_ctl_run(void)
{
	struct sched_thread *first;

	if (!ctl.live)
		return 0;
	first = pick_next(NULL, false);
	if (!first)
		report_deadlock();
	give_baton(first);
	while (!atomic_load(&ctl.done))
		futex_wait(&ctl.done, 0);
	return 0;
}

void sched_ctl_end(void)
{
	int i;

	/* Parked daemons now run freely, to finish and to be joined. */
	atomic_store(&ctl.released, true);
	for (i = 0; i < ctl.nr; i++)
		give_baton(ctl.threads[i]);
	rcu_shutdown();
	for (i = 0; i < ctl.nr; i++)
		WARN(ctl.threads[i]->state != ST_EXITED,
		     "sched: controlled thread %s outlives its session",
		     ctl.threads[i]->t->name);
	sched_set_hooks(NULL);
	if (CPU_COUNT(&ctl.saved_cpus))
		sched_setaffinity(0, sizeof(ctl.saved_cpus), &ctl.saved_cpus);
	WARN_ON(rcu_set_backend(ctl.saved_backend));
	ctl.stats.threads = ctl.nr;
	for (i = 0; i < ctl.nr; i++)
		free(ctl.threads[i]);
	ctl.nr = 0;
	ctl.active = false;
}

int sched_ctl_thread_index(void)
{
	struct sched_thread *st = controlled_self();

	return st ? st->idx : -1;
}

void sched_ctl_get_stats(struct sched_ctl_stats *stats)
{
	*stats = ctl.stats;
	if (ctl.active)
		stats->threads = ctl.nr;
}
