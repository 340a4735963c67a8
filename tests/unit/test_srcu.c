// SPDX-License-Identifier: GPL-2.0-only
/*
 * SRCU: a grace period waits for every reader that began before it, even a
 * sleeping one, and only for readers of its own srcu_struct.
 */
#include <stdlib.h>
#include <unistd.h>

#include "rcu.h"
#include "srcu.h"
#include "test.h"
#include "thread.h"
#include "wait.h"

static struct srcu_struct ss_a, ss_b;
static DECLARE_COMPLETION(reader_in);
static DECLARE_COMPLETION(reader_may_leave);
static _Atomic int sync_done;
static _Atomic int reader_left;
static _Atomic int reader_saw_held;

static int sleeping_reader(void *arg)
{
	struct srcu_struct *ssp = arg;
	int idx = srcu_read_lock(ssp);

	atomic_store(&reader_saw_held, srcu_read_lock_held(ssp));
	complete(&reader_in);
	/* SRCU readers may sleep. */
	wait_for_completion(&reader_may_leave);
	atomic_store(&reader_left, 1);
	srcu_read_unlock(ssp, idx);
	return 0;
}

static int syncer(void *arg)
{
	synchronize_srcu(arg);
	/* If the reader was still inside, this is a violation. */
	atomic_store(&sync_done, atomic_load(&reader_left) ? 1 : -1);
	return 0;
}

static void test_synchronize_waits_for_sleeping_reader(void **state)
{
	struct kvmmu_thread *r, *s;

	init_srcu_struct(&ss_a);
	reinit_completion(&reader_in);
	reinit_completion(&reader_may_leave);
	atomic_store(&sync_done, 0);
	atomic_store(&reader_left, 0);

	assert_int_equal(kvmmu_thread_create(&r, "reader", 0, sleeping_reader, &ss_a), 0);
	wait_for_completion(&reader_in);
	assert_int_equal(kvmmu_thread_create(&s, "syncer", 0, syncer, &ss_a), 0);
	usleep(20000);
	assert_int_equal(atomic_load(&sync_done), 0);
	complete(&reader_may_leave);
	kvmmu_thread_join(r);
	kvmmu_thread_join(s);
	assert_int_equal(atomic_load(&sync_done), 1);
	assert_true(atomic_load(&reader_saw_held));
	cleanup_srcu_struct(&ss_a);
}

static void test_grace_periods_are_per_struct(void **state)
{
	struct kvmmu_thread *r;

	init_srcu_struct(&ss_a);
	init_srcu_struct(&ss_b);
	reinit_completion(&reader_in);
	reinit_completion(&reader_may_leave);
	assert_int_equal(kvmmu_thread_create(&r, "reader", 0, sleeping_reader, &ss_b), 0);
	wait_for_completion(&reader_in);
	synchronize_srcu(&ss_a); /* must not wait for ss_b's reader */
	synchronize_srcu(&ss_a);
	complete(&reader_may_leave);
	kvmmu_thread_join(r);
	cleanup_srcu_struct(&ss_a);
	cleanup_srcu_struct(&ss_b);
}

static void test_nesting_and_cleanup(void **state)
{
	int i1, i2;

	init_srcu_struct(&ss_a);
	i1 = srcu_read_lock(&ss_a);
	i2 = srcu_read_lock(&ss_a);
	srcu_read_unlock(&ss_a, i2);
	srcu_read_unlock(&ss_a, i1);
	assert_false(srcu_read_lock_held(&ss_a));
	synchronize_srcu(&ss_a);

	i1 = srcu_read_lock(&ss_a);
	expect_warns(1);
	cleanup_srcu_struct(&ss_a); /* a reader is still inside */
	srcu_read_unlock(&ss_a, i1);
}

/* Readers of a pointer the updater swaps and frees after synchronize_srcu(). */
struct box {
	unsigned int magic;
};

#define BOX_MAGIC 0xb0b0b0b0U
static struct box *shared_box;
static _Atomic bool stop;
static _Atomic int violations;
static _Atomic u64 reads;

static int box_reader(void *arg)
{
	while (!atomic_load(&stop)) {
		int idx = srcu_read_lock(&ss_a);
		struct box *b = srcu_dereference(shared_box, &ss_a);

		if (b->magic != BOX_MAGIC)
			atomic_fetch_add(&violations, 1);
		srcu_read_unlock(&ss_a, idx);
		atomic_fetch_add(&reads, 1);
	}
	return 0;
}

static void test_readers_never_see_freed_box(void **state)
{
	struct kvmmu_thread *r[3];
	u64 i, n = scaled(200, 2000, 20000);
	int k;

	init_srcu_struct(&ss_a);
	shared_box = malloc(sizeof(*shared_box));
	shared_box->magic = BOX_MAGIC;
	atomic_store(&stop, false);
	atomic_store(&violations, 0);
	atomic_store(&reads, 0);
	for (k = 0; k < 3; k++)
		assert_int_equal(kvmmu_thread_create(&r[k], "reader", 0, box_reader, NULL), 0);
	/* Let the readers get going, so that grace periods race with them. */
	while (atomic_load(&reads) < 3)
		usleep(50);
	for (i = 0; i < n; i++) {
		struct box *old = shared_box, *new = malloc(sizeof(*new));

		new->magic = BOX_MAGIC;
		rcu_assign_pointer(shared_box, new);
		synchronize_srcu(&ss_a);
		old->magic = 0;
		free(old);
	}
	atomic_store(&stop, true);
	for (k = 0; k < 3; k++)
		kvmmu_thread_join(r[k]);
	assert_int_equal(atomic_load(&violations), 0);
	free(shared_box);
	cleanup_srcu_struct(&ss_a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_synchronize_waits_for_sleeping_reader),
		KVMMU_TEST(test_grace_periods_are_per_struct),
		KVMMU_TEST(test_nesting_and_cleanup),
		KVMMU_TEST(test_readers_never_see_freed_box),
	};

	return kvmmu_run_tests(tests);
}
