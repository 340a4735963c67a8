// SPDX-License-Identifier: GPL-2.0-only
/*
 * RCU, on both backends: a reader that holds a pointer across a grace
 * period started by another thread keeps the object alive (no callback, no
 * synchronize_rcu() return, until it leaves); readers traversing a list
 * that an updater rewrites never see freed memory; barrier and shutdown.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "compiler.h"
#include "rcu.h"
#include "test.h"
#include "thread.h"
#include "wait.h"

#define MAGIC 0x5eed5eedU
#define POISON 0xdeadU

struct obj {
	unsigned int magic;
	unsigned int value;
	struct obj *next;
	struct rcu_head rcu;
};

static struct obj *gp;
static _Atomic int phase;
static _Atomic int callbacks_ran;
static _Atomic int sync_returned;
static _Atomic int violations;

static void free_obj(struct rcu_head *head)
{
	struct obj *o = container_of(head, struct obj, rcu);

	o->magic = POISON;
	atomic_fetch_add(&callbacks_ran, 1);
	free(o);
}

static struct obj *obj_new(unsigned int value)
{
	struct obj *o = calloc(1, sizeof(*o));

	o->magic = MAGIC;
	o->value = value;
	return o;
}

static void use_backend(enum rcu_backend b)
{
	rcu_barrier();
	assert_int_equal(rcu_set_backend(b), 0);
	assert_int_equal(rcu_get_backend(), b);
}

/* Holds the old object across the updater's grace period. */
static int holding_reader(void *arg)
{
	struct obj *p;
	int i;

	rcu_read_lock();
	p = rcu_dereference(gp);
	atomic_store(&phase, 1);
	while (atomic_load(&phase) != 2)
		cpu_relax();
	/* The grace period has started; it must not end while we are here. */
	for (i = 0; i < 200; i++) {
		if (p->magic != MAGIC || p->value != 1 ||
		    atomic_load(&callbacks_ran) || atomic_load(&sync_returned))
			atomic_fetch_add(&violations, 1);
		usleep(100);
	}
	rcu_read_unlock();
	return 0;
}

static int updater(void *arg)
{
	bool use_sync = arg != NULL;
	struct obj *old;

	while (atomic_load(&phase) != 1)
		cpu_relax();
	old = gp;
	rcu_assign_pointer(gp, obj_new(2));
	if (use_sync) {
		atomic_store(&phase, 2);
		synchronize_rcu();
		atomic_store(&sync_returned, 1);
		free_obj(&old->rcu);
	} else {
		call_rcu(&old->rcu, free_obj);
		atomic_store(&phase, 2);
	}
	return 0;
}

static void reader_holds_across_grace_period(enum rcu_backend b, bool use_sync)
{
	struct kvmmu_thread *r, *u;

	use_backend(b);
	gp = obj_new(1);
	atomic_store(&phase, 0);
	atomic_store(&callbacks_ran, 0);
	atomic_store(&sync_returned, 0);
	atomic_store(&violations, 0);

	assert_int_equal(kvmmu_thread_create(&r, "reader", 0, holding_reader, NULL), 0);
	assert_int_equal(kvmmu_thread_create(&u, "updater", 0, updater,
					     use_sync ? (void *)1 : NULL), 0);
	kvmmu_thread_join(r);
	kvmmu_thread_join(u);
	rcu_barrier();
	assert_int_equal(atomic_load(&violations), 0);
	assert_int_equal(atomic_load(&callbacks_ran), 1);
	free(gp);
	gp = NULL;
}

static void test_call_rcu_waits_for_reader_urcu(void **state)
{
	reader_holds_across_grace_period(RCU_BACKEND_URCU, false);
}

static void test_call_rcu_waits_for_reader_own(void **state)
{
	reader_holds_across_grace_period(RCU_BACKEND_OWN, false);
}

static void test_synchronize_waits_for_reader_urcu(void **state)
{
	reader_holds_across_grace_period(RCU_BACKEND_URCU, true);
}

static void test_synchronize_waits_for_reader_own(void **state)
{
	reader_holds_across_grace_period(RCU_BACKEND_OWN, true);
}

/* ---- readers traverse a list that an updater keeps replacing ------------ */

#define LIST_LEN 16
static struct obj *list_head;
static _Atomic bool stop_readers;
static _Atomic u64 walks;

static int list_reader(void *arg)
{
	while (!atomic_load(&stop_readers)) {
		struct obj *o;
		int n = 0;

		rcu_read_lock();
		for (o = rcu_dereference(list_head); o; o = rcu_dereference(o->next)) {
			if (o->magic != MAGIC)
				atomic_fetch_add(&violations, 1);
			n++;
		}
		rcu_read_unlock();
		if (n != LIST_LEN)
			atomic_fetch_add(&violations, 1);
		atomic_fetch_add(&walks, 1);
	}
	return 0;
}

/* Replace node @i (copy-update), retiring the old one. */
static void replace_node(int i, bool sync)
{
	struct obj **pp = &list_head, *old, *new;

	while (i--)
		pp = &(*pp)->next;
	old = *pp;
	new = obj_new(old->value + 1);
	new->next = old->next;
	rcu_assign_pointer(*pp, new);
	if (sync) {
		synchronize_rcu();
		free_obj(&old->rcu);
	} else {
		call_rcu(&old->rcu, free_obj);
	}
}

static void readers_never_see_freed_nodes(enum rcu_backend b)
{
	struct kvmmu_thread *r[3];
	u64 i, n = scaled(300, 3000, 30000);
	struct obj *o, *next;
	int k;

	use_backend(b);
	atomic_store(&violations, 0);
	atomic_store(&stop_readers, false);
	list_head = NULL;
	for (k = 0; k < LIST_LEN; k++) {
		o = obj_new(0);
		o->next = list_head;
		list_head = o;
	}
	atomic_store(&walks, 0);
	for (k = 0; k < 3; k++)
		assert_int_equal(kvmmu_thread_create(&r[k], "walker", 0, list_reader, NULL), 0);
	/* Let the walkers get going, so that updates race with walks. */
	while (atomic_load(&walks) < 3)
		usleep(50);
	for (i = 0; i < n; i++)
		replace_node((int)(i % LIST_LEN), i % 64 == 0);
	atomic_store(&stop_readers, true);
	for (k = 0; k < 3; k++)
		assert_int_equal(kvmmu_thread_join(r[k]), 0);
	rcu_barrier();
	assert_int_equal(atomic_load(&violations), 0);
	for (o = list_head; o; o = next) {
		next = o->next;
		free(o);
	}
	list_head = NULL;
}

static void test_list_readers_urcu(void **state)
{
	readers_never_see_freed_nodes(RCU_BACKEND_URCU);
}

static void test_list_readers_own(void **state)
{
	readers_never_see_freed_nodes(RCU_BACKEND_OWN);
}

/* ---- nesting, barrier, shutdown ----------------------------------------- */

static void test_nesting(void **state)
{
	assert_false(rcu_read_lock_held());
	rcu_read_lock();
	rcu_read_lock();
	assert_true(rcu_read_lock_held());
	rcu_read_unlock();
	assert_true(rcu_read_lock_held());
	/* The backend may not change under an open section. */
	assert_int_equal(rcu_set_backend(RCU_BACKEND_OWN), -EBUSY);
	rcu_read_unlock();
	assert_false(rcu_read_lock_held());
}

static void test_barrier_and_shutdown(void **state)
{
	int i;

	atomic_store(&callbacks_ran, 0);
	for (i = 0; i < 100; i++)
		call_rcu(&obj_new(0)->rcu, free_obj);
	rcu_barrier();
	assert_int_equal(atomic_load(&callbacks_ran), 100);
	rcu_shutdown();
	rcu_shutdown(); /* idempotent */
	call_rcu(&obj_new(0)->rcu, free_obj); /* restarts the thread */
	rcu_barrier();
	assert_int_equal(atomic_load(&callbacks_ran), 101);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_call_rcu_waits_for_reader_urcu),
		KVMMU_TEST(test_call_rcu_waits_for_reader_own),
		KVMMU_TEST(test_synchronize_waits_for_reader_urcu),
		KVMMU_TEST(test_synchronize_waits_for_reader_own),
		KVMMU_TEST(test_list_readers_urcu),
		KVMMU_TEST(test_list_readers_own),
		KVMMU_TEST(test_nesting),
		KVMMU_TEST(test_barrier_and_shutdown),
	};
	int ret = kvmmu_run_tests(tests);

	rcu_shutdown();
	return ret;
}
