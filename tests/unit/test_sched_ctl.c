// SPDX-License-Identifier: GPL-2.0-only
/*
 * The controlled executor: one thread at a time, no deadlock with any
 * blocking primitive (locks, completions, wait queues, RCU and SRCU grace
 * periods, call_rcu and rcu_barrier, join), determinism from the seed, and
 * a report when every thread really is blocked.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bitops.h"
#include "lock.h"
#include "rcu.h"
#include "sched_ctl.h"
#include "srcu.h"
#include "test.h"
#include "thread.h"
#include "wait.h"

static _Atomic int violations;

/* ---- one thread at a time ----------------------------------------------- */

static _Atomic int inside;

static int exclusive_stepper(void *arg)
{
	int i, j, n = (int)(uintptr_t)arg;

	for (i = 0; i < n; i++) {
		/* No sched point between entry and exit: nobody else may run. */
		if (atomic_fetch_add(&inside, 1) != 0)
			atomic_fetch_add(&violations, 1);
		for (j = 0; j < 200; j++)
			atomic_signal_fence(memory_order_seq_cst);
		atomic_fetch_sub(&inside, 1);
		sched_point(SP_SCENARIO, NULL);
	}
	return 0;
}

static void test_one_thread_at_a_time(void **state)
{
	struct sched_ctl_config cfg = { .seed = 1 };
	struct sched_ctl_stats st;
	struct kvmmu_thread *t[4];
	int i, n = (int)scaled(200, 2000, 20000);

	atomic_store(&violations, 0);
	assert_int_equal(sched_ctl_begin(&cfg), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(kvmmu_thread_create(&t[i], "stepper", 0,
						     exclusive_stepper,
						     (void *)(uintptr_t)n), 0);
	assert_int_equal(sched_ctl_run(), 0);
	for (i = 0; i < 4; i++)
		kvmmu_thread_join(t[i]);
	sched_ctl_get_stats(&st);
	sched_ctl_end();
	assert_int_equal(atomic_load(&violations), 0);
	assert_int_equal(st.threads, 4);
	assert_true(st.points >= (u64)(4 * n));
	assert_true(st.switches > 0);
}

/* ---- every blocking primitive, under the executor ----------------------- */

#define OBJ_MAGIC 0x0b1ec7U

struct obj {
	unsigned int magic;
	struct rcu_head rcu;
};

static struct {
	rwlock_t rw;
	u64 a, b;
	struct mutex m;
	u64 c;
	struct completion ping, pong;
	struct wait_queue_head wq;
	_Atomic int level;
	struct obj *gp;
	struct srcu_struct ss;
	int iters;
} w;

static void free_obj(struct rcu_head *head)
{
	struct obj *o = container_of(head, struct obj, rcu);

	o->magic = 0;
	free(o);
}

static struct obj *obj_new(void)
{
	struct obj *o = calloc(1, sizeof(*o));

	o->magic = OBJ_MAGIC;
	return o;
}

static int mixed_writer(void *arg)
{
	int i;

	for (i = 0; i < w.iters; i++) {
		write_lock(&w.rw);
		w.a++;
		w.b++;
		write_unlock(&w.rw);
		mutex_lock(&w.m);
		w.c++;
		if (i % 4 == 0) {
			struct obj *old = w.gp;

			rcu_assign_pointer(w.gp, obj_new());
			call_rcu(&old->rcu, free_obj);
		}
		mutex_unlock(&w.m);
	}
	return 0;
}

static int mixed_reader(void *arg)
{
	int i;

	for (i = 0; i < w.iters; i++) {
		struct obj *o;
		int idx;

		read_lock(&w.rw);
		if (w.a != w.b)
			atomic_fetch_add(&violations, 1);
		cond_resched_rwlock_read(&w.rw);
		if (w.a != w.b)
			atomic_fetch_add(&violations, 1);
		read_unlock(&w.rw);

		rcu_read_lock();
		o = rcu_dereference(w.gp);
		cond_resched();
		if (o->magic != OBJ_MAGIC)
			atomic_fetch_add(&violations, 1);
		rcu_read_unlock();

		idx = srcu_read_lock(&w.ss);
		cond_resched();
		srcu_read_unlock(&w.ss, idx);
	}
	return 0;
}

static int pinger(void *arg)
{
	int i;

	for (i = 0; i < w.iters; i++) {
		complete(&w.ping);
		wait_for_completion(&w.pong);
	}
	atomic_store(&w.level, 1);
	wake_up_all(&w.wq);
	return 0;
}

static int ponger(void *arg)
{
	int i;

	for (i = 0; i < w.iters; i++) {
		wait_for_completion(&w.ping);
		complete(&w.pong);
	}
	wait_event(&w.wq, atomic_load(&w.level) == 1);
	synchronize_srcu(&w.ss);
	synchronize_rcu();
	rcu_barrier();
	return 0;
}

static int joiner(void *arg)
{
	struct kvmmu_thread *child;

	/* A controlled thread creates and joins another controlled thread. */
	if (kvmmu_thread_create(&child, "child", 0, mixed_reader, NULL))
		return -1;
	return kvmmu_thread_join(child);
}

static void run_mixed(u64 seed, struct sched_ctl_stats *st)
{
	struct sched_ctl_config cfg = { .seed = seed, .resched_per_1024 = 256 };
	int (*const fns[])(void *) = { mixed_writer, mixed_writer, mixed_reader,
				       pinger, ponger, joiner };
	struct kvmmu_thread *t[ARRAY_SIZE(fns)];
	size_t i;

	memset(&w, 0, sizeof(w));
	rwlock_init(&w.rw);
	mutex_init(&w.m);
	init_completion(&w.ping);
	init_completion(&w.pong);
	init_waitqueue_head(&w.wq);
	init_srcu_struct(&w.ss);
	w.gp = obj_new();
	w.iters = (int)scaled(8, 24, 64);
	atomic_store(&violations, 0);

	assert_int_equal(sched_ctl_begin(&cfg), 0);
	for (i = 0; i < ARRAY_SIZE(fns); i++)
		assert_int_equal(kvmmu_thread_create(&t[i], "mixed", 0, fns[i], NULL), 0);
	assert_int_equal(sched_ctl_run(), 0);
	for (i = 0; i < ARRAY_SIZE(fns); i++)
		assert_int_equal(kvmmu_thread_join(t[i]), 0);
	sched_ctl_get_stats(st);
	sched_ctl_end();

	assert_int_equal(atomic_load(&violations), 0);
	assert_int_equal(w.a, 2 * (u64)w.iters);
	assert_int_equal(w.b, 2 * (u64)w.iters);
	assert_int_equal(w.c, 2 * (u64)w.iters);
	free(w.gp);
	cleanup_srcu_struct(&w.ss);
}

static void test_blocking_primitives_never_deadlock(void **state)
{
	u64 seed, seeds = scaled(4, 40, 400);
	struct sched_ctl_stats st;

	for (seed = 1; seed <= seeds; seed++) {
		run_mixed(seed, &st);
		/* The six threads, the child and the RCU callback daemon. */
		assert_int_equal(st.threads, 8);
	}
}

static void test_same_seed_same_schedule(void **state)
{
	struct sched_ctl_stats s1, s2, other;
	bool any_differs = false;
	u64 seed;

	run_mixed(7, &s1);
	run_mixed(7, &s2);
	assert_int_equal(s1.hash, s2.hash);
	assert_int_equal(s1.points, s2.points);
	assert_int_equal(s1.switches, s2.switches);
	assert_int_equal(s1.decisions, s2.decisions);
	for (seed = 8; seed < 12; seed++) {
		run_mixed(seed, &other);
		any_differs |= other.hash != s1.hash;
	}
	assert_true(any_differs);
}

/* ---- a real deadlock is reported ---------------------------------------- */

static struct completion never_a, never_b;

static int wait_a(void *arg)
{
	wait_for_completion(&never_a);
	return 0;
}

static int wait_b(void *arg)
{
	wait_for_completion(&never_b);
	return 0;
}

static void deadlock_run(void *arg)
{
	struct sched_ctl_config cfg = { .seed = 3 };
	struct kvmmu_thread *a, *b;

	init_completion(&never_a);
	init_completion(&never_b);
	sched_ctl_begin(&cfg);
	if (kvmmu_thread_create(&a, "wait-a", 0, wait_a, NULL) ||
	    kvmmu_thread_create(&b, "wait-b", 0, wait_b, NULL))
		return;
	sched_ctl_run();
}

static void test_deadlock_is_reported(void **state)
{
	struct child_result res;

	run_in_child(deadlock_run, NULL, &res);
	assert_false(res.exited);
	assert_int_equal(res.signal, SIGABRT);
	assert_non_null(strstr(res.output, "deadlock"));
	assert_non_null(strstr(res.output, "wait-a: blocked"));
	assert_non_null(strstr(res.output, "wait-b: blocked"));
}

static void test_begin_twice_is_busy(void **state)
{
	struct sched_ctl_config cfg = { .seed = 1 };

	assert_int_equal(sched_ctl_begin(&cfg), 0);
	assert_int_equal(sched_ctl_begin(&cfg), -EBUSY);
	assert_int_equal(sched_ctl_run(), 0); /* no threads: returns at once */
	sched_ctl_end();
}

/* ---- PCT ------------------------------------------------------------------ */

#define PCT_THREADS 3
#define PCT_ITERS   40

static struct {
	_Atomic int log[PCT_THREADS * PCT_ITERS];
	_Atomic int len;
} order;

/* Log the thread's id once per step, with a counted point after each. */
static int pct_stepper(void *arg)
{
	int i, id = (int)(uintptr_t)arg;

	for (i = 0; i < PCT_ITERS; i++) {
		atomic_store(&order.log[atomic_fetch_add(&order.len, 1)], id);
		sched_point(SP_SCENARIO, NULL);
	}
	return 0;
}

/* Run three steppers under PCT; returns how often the log changes thread. */
static int run_pct(u64 seed, unsigned int depth, struct sched_ctl_stats *st)
{
	struct sched_ctl_config cfg = {
		.seed = seed,
		.strategy = SCHED_STRATEGY_PCT,
		.depth = depth,
		.steps = PCT_THREADS * PCT_ITERS,
	};
	struct kvmmu_thread *t[PCT_THREADS];
	int i, changes = 0;

	memset(&order, 0, sizeof(order));
	assert_int_equal(sched_ctl_begin(&cfg), 0);
	for (i = 0; i < PCT_THREADS; i++)
		assert_int_equal(kvmmu_thread_create(&t[i], "pct", 0, pct_stepper,
						     (void *)(uintptr_t)i), 0);
	assert_int_equal(sched_ctl_run(), 0);
	for (i = 0; i < PCT_THREADS; i++)
		kvmmu_thread_join(t[i]);
	sched_ctl_get_stats(st);
	sched_ctl_end();
	assert_int_equal(atomic_load(&order.len), PCT_THREADS * PCT_ITERS);
	for (i = 1; i < PCT_THREADS * PCT_ITERS; i++)
		changes += atomic_load(&order.log[i]) != atomic_load(&order.log[i - 1]);
	return changes;
}

/*
 * With nothing blocking, PCT switches only when a thread ends or at one of
 * its d - 1 change points: depth 1 runs the threads one after the other, and
 * depth d interleaves them at most d - 1 extra times.
 */
static void test_pct_preempts_only_at_change_points(void **state)
{
	struct sched_ctl_stats st;
	unsigned int depth;
	u64 seed;
	bool preempted = false;

	for (seed = 1; seed <= 20; seed++) {
		assert_int_equal(run_pct(seed, 1, &st), PCT_THREADS - 1);
		for (depth = 2; depth <= 4; depth++) {
			int changes = run_pct(seed, depth, &st);

			assert_true(changes <= PCT_THREADS - 1 + (int)depth - 1);
			preempted |= changes > PCT_THREADS - 1;
		}
	}
	/* The change points do fall inside the run (k is its length). */
	assert_true(preempted);
}

static void test_pct_same_seed_same_schedule(void **state)
{
	struct sched_ctl_stats s1, s2;
	int log1[PCT_THREADS * PCT_ITERS], i;
	bool any_differs = false;
	u64 seed;

	run_pct(5, 3, &s1);
	for (i = 0; i < PCT_THREADS * PCT_ITERS; i++)
		log1[i] = atomic_load(&order.log[i]);
	run_pct(5, 3, &s2);
	assert_int_equal(s1.hash, s2.hash);
	assert_int_equal(s1.steps, s2.steps);
	for (i = 0; i < PCT_THREADS * PCT_ITERS; i++)
		assert_int_equal(log1[i], atomic_load(&order.log[i]));
	for (seed = 6; seed < 12; seed++) {
		run_pct(seed, 3, &s2);
		any_differs |= s2.hash != s1.hash;
	}
	assert_true(any_differs);
}

/* ---- busy-waiting ----------------------------------------------------------- */

static _Atomic bool spin_flag;

/* Waits for the setter by spinning; @arg says how each iteration yields. */
static int spinner(void *arg)
{
	bool relax = arg != NULL;

	while (!atomic_load(&spin_flag)) {
		if (relax)
			cpu_relax();
		else
			cond_resched(); /* a point the mask filters out */
	}
	return 0;
}

static int setter(void *arg)
{
	sched_point(SP_SCENARIO, NULL);
	atomic_store(&spin_flag, true);
	return 0;
}

/*
 * A busy-waiting thread must let the thread it waits for run, even at the
 * highest PCT priority and with its points filtered out by the mask:
 * cpu_relax() always hands over, and a long run of filtered points counts
 * as a spin.
 */
static void test_spinner_lets_others_run(void **state)
{
	int relax, strategy;
	u64 seed;

	for (relax = 0; relax <= 1; relax++) {
		u64 spins = 0;

		for (strategy = 0; strategy <= 1; strategy++) {
			for (seed = 1; seed <= 8; seed++) {
				struct sched_ctl_config cfg = {
					.seed = seed,
					.strategy = strategy ? SCHED_STRATEGY_PCT
							     : SCHED_STRATEGY_RANDOM,
					.point_mask = BIT_ULL(SP_SCENARIO),
				};
				struct sched_ctl_stats st;
				struct kvmmu_thread *a, *b;

				atomic_store(&spin_flag, false);
				assert_int_equal(sched_ctl_begin(&cfg), 0);
				assert_int_equal(kvmmu_thread_create(&a, "spinner", 0, spinner,
								     relax ? (void *)1 : NULL), 0);
				assert_int_equal(kvmmu_thread_create(&b, "setter", 0, setter,
								     NULL), 0);
				assert_int_equal(sched_ctl_run(), 0);
				kvmmu_thread_join(a);
				kvmmu_thread_join(b);
				sched_ctl_get_stats(&st);
				sched_ctl_end();
				assert_true(atomic_load(&spin_flag));
				spins += st.spins;
			}
		}
		/* Some seeds ran the spinner first, and it had to hand over. */
		assert_true(spins > 0);
	}
}

/* ---- the step limit ----------------------------------------------------------- */

static _Atomic bool wind_down;
static _Atomic int limit_calls;

static void on_limit(void *arg)
{
	atomic_fetch_add(&limit_calls, 1);
	atomic_store(&wind_down, true);
}

static int until_told(void *arg)
{
	while (!atomic_load(&wind_down))
		sched_point(SP_SCENARIO, NULL);
	return 0;
}

/* A run that would go on forever is wound down once, at max_steps. */
static void test_step_limit_winds_down_once(void **state)
{
	struct sched_ctl_config cfg = {
		.seed = 2,
		.max_steps = 500,
		.on_limit = on_limit,
	};
	struct sched_ctl_stats st;
	struct kvmmu_thread *t[2];
	int i;

	atomic_store(&wind_down, false);
	atomic_store(&limit_calls, 0);
	assert_int_equal(sched_ctl_begin(&cfg), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(kvmmu_thread_create(&t[i], "forever", 0, until_told, NULL), 0);
	assert_int_equal(sched_ctl_run(), 0);
	for (i = 0; i < 2; i++)
		kvmmu_thread_join(t[i]);
	sched_ctl_get_stats(&st);
	sched_ctl_end();
	assert_int_equal(atomic_load(&limit_calls), 1);
	assert_true(st.limited);
	assert_true(st.steps >= 500 && st.steps < 520);
}

/* ---- a waiter whose lock state changed and changed back ---------------------- */

static rwlock_t aba_lock;
static _Atomic int aba_done;

static int aba_writer(void *arg)
{
	int i;

	for (i = 0; i < 3; i++) {
		write_lock(&aba_lock);
		sched_point(SP_SCENARIO, NULL);
		write_unlock(&aba_lock);
	}
	atomic_fetch_add(&aba_done, 1);
	return 0;
}

static int aba_reader(void *arg)
{
	int i;

	for (i = 0; i < 3; i++) {
		read_lock(&aba_lock);
		sched_point(SP_SCENARIO, NULL);
		read_unlock(&aba_lock);
	}
	atomic_fetch_add(&aba_done, 1);
	return 0;
}

/*
 * A reader that found the lock free but a writer queued sleeps; the writer
 * takes and drops the lock, so the state is what the reader saw again.  The
 * reader must still be woken: every schedule of two writers and two readers
 * completes (a waiter keyed on the lock state would be reported deadlocked).
 */
static void test_rwlock_waiter_survives_aba(void **state)
{
	u64 seed, seeds = scaled(100, 300, 3000);
	int i;

	for (seed = 1; seed <= seeds; seed++) {
		struct sched_ctl_config cfg = { .seed = seed };
		int (*const fns[])(void *) = { aba_writer, aba_reader, aba_writer, aba_reader };
		struct kvmmu_thread *t[4];

		rwlock_init(&aba_lock);
		atomic_store(&aba_done, 0);
		assert_int_equal(sched_ctl_begin(&cfg), 0);
		for (i = 0; i < 4; i++)
			assert_int_equal(kvmmu_thread_create(&t[i], "aba", 0, fns[i], NULL), 0);
		assert_int_equal(sched_ctl_run(), 0);
		for (i = 0; i < 4; i++)
			kvmmu_thread_join(t[i]);
		sched_ctl_end();
		assert_int_equal(atomic_load(&aba_done), 4);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_one_thread_at_a_time),
		KVMMU_TEST(test_blocking_primitives_never_deadlock),
		KVMMU_TEST(test_same_seed_same_schedule),
		KVMMU_TEST(test_deadlock_is_reported),
		KVMMU_TEST(test_begin_twice_is_busy),
		KVMMU_TEST(test_pct_preempts_only_at_change_points),
		KVMMU_TEST(test_pct_same_seed_same_schedule),
		KVMMU_TEST(test_spinner_lets_others_run),
		KVMMU_TEST(test_step_limit_winds_down_once),
		KVMMU_TEST(test_rwlock_waiter_survives_aba),
	};

	return kvmmu_run_tests(tests);
}
