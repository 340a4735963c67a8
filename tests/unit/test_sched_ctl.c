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

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_one_thread_at_a_time),
		KVMMU_TEST(test_blocking_primitives_never_deadlock),
		KVMMU_TEST(test_same_seed_same_schedule),
		KVMMU_TEST(test_deadlock_is_reported),
		KVMMU_TEST(test_begin_twice_is_busy),
	};

	return kvmmu_run_tests(tests);
}
