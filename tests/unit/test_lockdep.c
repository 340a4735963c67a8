// SPDX-License-Identifier: GPL-2.0-only
/*
 * lockdep: assertions fire exactly on misuse; self-deadlocks are reported
 * and stop the thread; rank order and might_sleep() are checked.
 */
#include <signal.h>
#include <string.h>

#include "lock.h"
#include "rcu.h"
#include "test.h"
#include "thread.h"
#include "wait.h"

static void test_assertions_hold_when_used_right(void **state)
{
	DEFINE_RWLOCK(rw);
	DEFINE_MUTEX(m);

	lockdep_assert_not_held(&rw);
	read_lock(&rw);
	lockdep_assert_held(&rw);
	lockdep_assert_held_read(&rw);
	read_unlock(&rw);
	write_lock(&rw);
	lockdep_assert_held(&rw);
	lockdep_assert_held_write(&rw);
	write_unlock(&rw);
	mutex_lock(&m);
	lockdep_assert_held(&m);
	mutex_unlock(&m);
	assert_int_equal(lockdep_depth(), 0);
}

static void test_assertions_fire_on_misuse(void **state)
{
	DEFINE_RWLOCK(rw);

	expect_warns(1);
	assert_true(lockdep_assert_held(&rw)); /* not held at all */

	read_lock(&rw);
	expect_warns(2);
	assert_true(lockdep_assert_held_write(&rw)); /* held for read */
	assert_true(lockdep_assert_not_held(&rw));
	read_unlock(&rw);

	write_lock(&rw);
	expect_warns(1);
	assert_true(lockdep_assert_held_read(&rw)); /* held for write */
	write_unlock(&rw);
}

/* Held by another thread is not held by this one. */
static DEFINE_MUTEX(other_mutex);
static DECLARE_COMPLETION(other_has_it);
static DECLARE_COMPLETION(other_may_go);

static int other_holder(void *arg)
{
	mutex_lock(&other_mutex);
	complete(&other_has_it);
	wait_for_completion(&other_may_go);
	mutex_unlock(&other_mutex);
	return 0;
}

static void test_assertion_is_per_thread(void **state)
{
	struct kvmmu_thread *t;

	assert_int_equal(kvmmu_thread_create(&t, "holder", 0, other_holder, NULL), 0);
	wait_for_completion(&other_has_it);
	assert_true(mutex_is_locked(&other_mutex));
	expect_warns(1);
	assert_true(lockdep_assert_held(&other_mutex));
	complete(&other_may_go);
	kvmmu_thread_join(t);
}

enum misuse { RW_WRITE_WRITE, RW_READ_WRITE, RW_WRITE_READ, SPIN_TWICE, MUTEX_TWICE };

static void do_misuse(void *arg)
{
	enum misuse m = (enum misuse)(uintptr_t)arg;
	DEFINE_RWLOCK(rw);
	DEFINE_SPINLOCK(s);
	DEFINE_MUTEX(mx);

	switch (m) {
	case RW_WRITE_WRITE:
		write_lock(&rw);
		write_lock(&rw);
		break;
	case RW_READ_WRITE: /* an upgrade: waits for its own read hold */
		read_lock(&rw);
		write_lock(&rw);
		break;
	case RW_WRITE_READ:
		write_lock(&rw);
		read_lock(&rw);
		break;
	case SPIN_TWICE:
		spin_lock(&s);
		spin_lock(&s);
		break;
	case MUTEX_TWICE:
		mutex_lock(&mx);
		mutex_lock(&mx);
		break;
	}
}

static void expect_self_deadlock_report(enum misuse m)
{
	struct child_result res;

	run_in_child(do_misuse, (void *)(uintptr_t)m, &res);
	assert_false(res.exited);
	assert_int_equal(res.signal, SIGABRT);
	assert_non_null(strstr(res.output, "recursive locking"));
	assert_non_null(strstr(res.output, "WARNING"));
}

static void test_recursive_write_lock_is_reported(void **state)
{
	expect_self_deadlock_report(RW_WRITE_WRITE);
}

static void test_read_to_write_upgrade_is_reported(void **state)
{
	expect_self_deadlock_report(RW_READ_WRITE);
}

static void test_read_under_write_is_reported(void **state)
{
	expect_self_deadlock_report(RW_WRITE_READ);
}

static void test_recursive_spinlock_is_reported(void **state)
{
	expect_self_deadlock_report(SPIN_TWICE);
}

static void test_recursive_mutex_is_reported(void **state)
{
	expect_self_deadlock_report(MUTEX_TWICE);
}

static void test_recursive_down_read_warns(void **state)
{
	DECLARE_RWSEM(sem);

	down_read(&sem);
	expect_warns(1);
	down_read(&sem);
	up_read(&sem);
	up_read(&sem);
	assert_int_equal(lockdep_depth(), 0);
}

static void test_rank_order(void **state)
{
	DEFINE_MUTEX(outer);
	DEFINE_MUTEX(inner);
	DEFINE_MUTEX(unranked);

	lockdep_set_rank(&outer.dep_map, 1);
	lockdep_set_rank(&inner.dep_map, 2);

	mutex_lock(&outer);
	mutex_lock(&unranked);
	mutex_lock(&inner);
	mutex_unlock(&inner);
	mutex_unlock(&unranked);
	mutex_unlock(&outer);

	mutex_lock(&inner);
	assert_true(mutex_trylock(&outer)); /* trylocks cannot deadlock: no warning */
	mutex_unlock(&outer);
	expect_warns(1);
	mutex_lock(&outer); /* inverted order */
	mutex_unlock(&outer);
	mutex_unlock(&inner);
}

static void test_might_sleep(void **state)
{
	DEFINE_SPINLOCK(s);
	DEFINE_RWLOCK(rw);
	DEFINE_MUTEX(m);

	might_sleep(); /* nothing held */
	mutex_lock(&m);
	might_sleep(); /* sleeping locks may be held */
	mutex_unlock(&m);

	expect_warns(1);
	spin_lock(&s);
	might_sleep();
	spin_unlock(&s);

	expect_warns(1);
	read_lock(&rw);
	might_sleep();
	read_unlock(&rw);

	expect_warns(1);
	rcu_read_lock();
	might_sleep();
	rcu_read_unlock();

	/* A mutex taken under a spinlock is a sleep under a spinlock. */
	expect_warns(1);
	spin_lock(&s);
	mutex_lock(&m);
	mutex_unlock(&m);
	spin_unlock(&s);
}

static void test_release_of_unheld_lock_warns(void **state)
{
	DEFINE_MUTEX(m);

	expect_warns(1);
	mutex_unlock(&m);
	assert_int_equal(lockdep_depth(), 0);
}

static DEFINE_MUTEX(leaked);

static int exits_holding(void *arg)
{
	mutex_lock(&leaked);
	return 0;
}

static void test_exit_with_lock_held_warns(void **state)
{
	struct kvmmu_thread *t;

	assert_int_equal(kvmmu_thread_create(&t, "leaker", 0, exits_holding, NULL), 0);
	expect_warns(1);
	kvmmu_thread_join(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_assertions_hold_when_used_right),
		KVMMU_TEST(test_assertions_fire_on_misuse),
		KVMMU_TEST(test_assertion_is_per_thread),
		KVMMU_TEST(test_recursive_write_lock_is_reported),
		KVMMU_TEST(test_read_to_write_upgrade_is_reported),
		KVMMU_TEST(test_read_under_write_is_reported),
		KVMMU_TEST(test_recursive_spinlock_is_reported),
		KVMMU_TEST(test_recursive_mutex_is_reported),
		KVMMU_TEST(test_recursive_down_read_warns),
		KVMMU_TEST(test_rank_order),
		KVMMU_TEST(test_might_sleep),
		KVMMU_TEST(test_release_of_unheld_lock_warns),
		KVMMU_TEST(test_exit_with_lock_held_warns),
	};

	return kvmmu_run_tests(tests);
}
