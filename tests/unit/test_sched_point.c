// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sched points: a hook sees the points it should, blocking goes through
 * the block hook, need_resched() is the scheduler's to answer, and nothing
 * is seen once the hooks are removed.
 */
#include <sched.h>
#include <string.h>

#include "futex.h"
#include "lock.h"
#include "rcu.h"
#include "sched_point.h"
#include "srcu.h"
#include "test.h"
#include "thread.h"
#include "wait.h"

static _Atomic u64 counts[NR_SCHED_POINT_KINDS];
static _Atomic u64 blocks;
static _Atomic bool answer_resched;

static void count_point(enum sched_point_kind kind, const void *obj)
{
	atomic_fetch_add(&counts[kind], 1);
}

static void count_block(_Atomic u32 *word, u32 val)
{
	atomic_fetch_add(&blocks, 1);
	futex_wait(word, val);
}

static bool say_resched(void)
{
	return atomic_load(&answer_resched);
}

static const struct sched_hooks counting_hooks = {
	.point = count_point,
	.block = count_block,
	.need_resched = say_resched,
};

static void reset_counts(void)
{
	int i;

	for (i = 0; i < NR_SCHED_POINT_KINDS; i++)
		atomic_store(&counts[i], 0);
	atomic_store(&blocks, 0);
}

static u64 count(enum sched_point_kind kind)
{
	return atomic_load(&counts[kind]);
}

static int setup(void **state)
{
	reset_counts();
	sched_set_hooks(&counting_hooks);
	return kvmmu_test_setup(state);
}

static int teardown(void **state)
{
	sched_set_hooks(NULL);
	return kvmmu_test_teardown(state);
}

#define HOOKED_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static void test_lock_points(void **state)
{
	DEFINE_RWLOCK(rw);
	DEFINE_MUTEX(m);

	read_lock(&rw);
	read_unlock(&rw);
	write_lock(&rw);
	write_unlock(&rw);
	mutex_lock(&m);
	mutex_unlock(&m);
	assert_int_equal(count(SP_LOCK_ACQUIRE), 3);
	assert_int_equal(count(SP_LOCK_RELEASE), 3);
	assert_int_equal(atomic_load(&blocks), 0); /* nothing contended */
}

static void test_rcu_points(void **state)
{
	struct srcu_struct ss;

	rcu_read_lock();
	rcu_read_lock(); /* nested: a boundary too */
	rcu_read_unlock();
	rcu_read_unlock();
	assert_int_equal(count(SP_RCU_READ_LOCK), 2);
	assert_int_equal(count(SP_RCU_READ_UNLOCK), 2);

	synchronize_rcu();
	assert_int_equal(count(SP_RCU_GP_START), 1);
	assert_int_equal(count(SP_RCU_GP_END), 1);

	init_srcu_struct(&ss);
	srcu_read_unlock(&ss, srcu_read_lock(&ss));
	synchronize_srcu(&ss);
	assert_int_equal(count(SP_SRCU_READ_LOCK), 1);
	assert_int_equal(count(SP_SRCU_READ_UNLOCK), 1);
	assert_int_equal(count(SP_SRCU_GP), 1);
	cleanup_srcu_struct(&ss);
}

static void test_misc_points(void **state)
{
	cond_resched();
	cpu_relax();
	sched_point(SP_SCENARIO, NULL);
	assert_int_equal(count(SP_RESCHED), 1);
	assert_int_equal(count(SP_SPIN), 1);
	assert_int_equal(count(SP_SCENARIO), 1);
}

static int nothing(void *arg)
{
	return 0;
}

static void test_thread_points(void **state)
{
	struct kvmmu_thread *t;

	assert_int_equal(kvmmu_thread_create(&t, "t", 0, nothing, NULL), 0);
	kvmmu_thread_join(t);
	assert_int_equal(count(SP_THREAD_START), 1);
	assert_int_equal(count(SP_THREAD_EXIT), 1);
}

static DEFINE_MUTEX(contended);
static DECLARE_COMPLETION(holding);

static int hold_a_while(void *arg)
{
	mutex_lock(&contended);
	complete(&holding);
	while (!atomic_load(&contended.b.waiters))
		sched_yield();
	mutex_unlock(&contended);
	return 0;
}

static void test_contended_lock_blocks_through_hook(void **state)
{
	struct kvmmu_thread *t;

	reinit_completion(&holding);
	assert_int_equal(kvmmu_thread_create(&t, "holder", 0, hold_a_while, NULL), 0);
	wait_for_completion(&holding);
	mutex_lock(&contended); /* must wait: through the block hook */
	mutex_unlock(&contended);
	kvmmu_thread_join(t);
	assert_true(atomic_load(&blocks) >= 1);
	assert_true(count(SP_WAKE) >= 1);
}

static void test_need_resched_is_the_hooks(void **state)
{
	DEFINE_RWLOCK(rw);

	atomic_store(&answer_resched, false);
	assert_false(need_resched());
	read_lock(&rw);
	assert_false(cond_resched_rwlock_read(&rw));
	atomic_store(&answer_resched, true);
	assert_true(need_resched());
	assert_true(cond_resched_rwlock_read(&rw)); /* dropped and retaken */
	lockdep_assert_held_read(&rw);
	read_unlock(&rw);
	atomic_store(&answer_resched, false);
}

/* A hook can act at the Nth point, e.g. to force a yield there. */
static _Atomic int nth_target, nth_seen;
static _Atomic int nth_kind = -1;

static void yield_at_nth(enum sched_point_kind kind, const void *obj)
{
	if (atomic_fetch_add(&nth_seen, 1) + 1 == atomic_load(&nth_target)) {
		atomic_store(&nth_kind, (int)kind);
		sched_yield();
	}
}

static const struct sched_hooks nth_hooks = { .point = yield_at_nth };

static void test_hook_at_nth_point(void **state)
{
	DEFINE_SPINLOCK(s);

	sched_set_hooks(&nth_hooks);
	atomic_store(&nth_seen, 0);
	atomic_store(&nth_target, 3);
	spin_lock(&s);    /* 1: lock_acquire */
	spin_unlock(&s);  /* 2: lock_release */
	rcu_read_lock();  /* 3: rcu_read_lock */
	rcu_read_unlock(); /* 4 */
	cond_resched();   /* 5 */
	sched_set_hooks(&counting_hooks);
	assert_int_equal(atomic_load(&nth_seen), 5);
	assert_int_equal(atomic_load(&nth_kind), SP_RCU_READ_LOCK);
	assert_string_equal(sched_point_name(SP_RCU_READ_LOCK), "rcu_read_lock");
}

static void test_no_hooks_no_points(void **state)
{
	DEFINE_SPINLOCK(s);

	sched_set_hooks(NULL);
	spin_lock(&s);
	spin_unlock(&s);
	cond_resched();
	assert_false(need_resched());
	assert_int_equal(count(SP_LOCK_ACQUIRE), 0);
	assert_int_equal(count(SP_RESCHED), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		HOOKED_TEST(test_lock_points),
		HOOKED_TEST(test_rcu_points),
		HOOKED_TEST(test_misc_points),
		HOOKED_TEST(test_thread_points),
		HOOKED_TEST(test_contended_lock_blocks_through_hook),
		HOOKED_TEST(test_need_resched_is_the_hooks),
		HOOKED_TEST(test_hook_at_nth_point),
		HOOKED_TEST(test_no_hooks_no_points),
	};
	int ret;

	/* The RCU callback thread must not add points of its own. */
	rcu_shutdown();
	ret = kvmmu_run_tests(tests);
	rcu_shutdown();
	return ret;
}
