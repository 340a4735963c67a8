// SPDX-License-Identifier: GPL-2.0-only
/*
 * Completions and wait queues.
 */
#include <unistd.h>

#include "test.h"
#include "thread.h"
#include "wait.h"

static void test_completion_counts(void **state)
{
	DECLARE_COMPLETION(c);

	assert_false(completion_done(&c));
	assert_false(try_wait_for_completion(&c));
	complete(&c);
	complete(&c);
	assert_true(try_wait_for_completion(&c));
	wait_for_completion(&c); /* the second complete() lets this through */
	assert_false(try_wait_for_completion(&c));

	complete_all(&c);
	wait_for_completion(&c);
	wait_for_completion(&c);
	assert_true(completion_done(&c));
	reinit_completion(&c);
	assert_false(completion_done(&c));
}

static DECLARE_COMPLETION(ping);
static DECLARE_COMPLETION(pong);

static int ponger(void *arg)
{
	int i, n = (int)(uintptr_t)arg;

	for (i = 0; i < n; i++) {
		wait_for_completion(&ping);
		complete(&pong);
	}
	return n;
}

static void test_completion_ping_pong(void **state)
{
	int i, n = (int)scaled(200, 5000, 50000);
	struct kvmmu_thread *t;

	assert_int_equal(kvmmu_thread_create(&t, "ponger", 0, ponger,
					     (void *)(uintptr_t)n), 0);
	for (i = 0; i < n; i++) {
		complete(&ping);
		wait_for_completion(&pong);
	}
	assert_int_equal(kvmmu_thread_join(t), n);
}

static DECLARE_COMPLETION(gate);
static _Atomic int passed;

static int gate_waiter(void *arg)
{
	wait_for_completion(&gate);
	atomic_fetch_add(&passed, 1);
	return 0;
}

static void test_complete_all_releases_every_waiter(void **state)
{
	struct kvmmu_thread *t[4];
	int i;

	reinit_completion(&gate);
	atomic_store(&passed, 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(kvmmu_thread_create(&t[i], "waiter", 0, gate_waiter, NULL), 0);
	usleep(2000);
	assert_int_equal(atomic_load(&passed), 0);
	complete_all(&gate);
	for (i = 0; i < 4; i++)
		kvmmu_thread_join(t[i]);
	assert_int_equal(atomic_load(&passed), 4);
}

static DECLARE_WAIT_QUEUE_HEAD(wq);
static _Atomic int level;

static int level_waiter(void *arg)
{
	int want = (int)(uintptr_t)arg;

	wait_event(&wq, atomic_load(&level) >= want);
	return atomic_load(&level) >= want;
}

static void test_wait_event_sees_condition(void **state)
{
	struct kvmmu_thread *t[3];
	int i;

	atomic_store(&level, 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(kvmmu_thread_create(&t[i], "level", 0, level_waiter,
						     (void *)(uintptr_t)(i + 1)), 0);
	for (i = 1; i <= 3; i++) {
		usleep(500);
		atomic_store(&level, i);
		wake_up_all(&wq);
	}
	for (i = 0; i < 3; i++)
		assert_int_equal(kvmmu_thread_join(t[i]), 1);
}

static void test_wait_event_true_condition_does_not_sleep(void **state)
{
	DECLARE_WAIT_QUEUE_HEAD(q);

	wait_event(&q, true);
	assert_int_equal(atomic_load(&q.waiters), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_completion_counts),
		KVMMU_TEST(test_completion_ping_pong),
		KVMMU_TEST(test_complete_all_releases_every_waiter),
		KVMMU_TEST(test_wait_event_sees_condition),
		KVMMU_TEST(test_wait_event_true_condition_does_not_sleep),
	};

	return kvmmu_run_tests(tests);
}
