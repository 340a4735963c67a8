// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu threads: identity, names, results, adoption of foreign threads.
 */
#include <pthread.h>
#include <string.h>

#include "test.h"
#include "thread.h"

static int report_self(void *arg)
{
	struct kvmmu_thread **out = arg;

	*out = current_thread();
	return strcmp(kvmmu_thread_name(), "worker-7") == 0 ? 42 : -1;
}

static void test_create_join_name_result(void **state)
{
	struct kvmmu_thread *t, *seen = NULL;

	assert_int_equal(kvmmu_thread_create(&t, "worker-7", 0, report_self, &seen), 0);
	assert_int_equal(kvmmu_thread_join(t), 42);
	assert_non_null(seen);
	assert_ptr_not_equal(seen, current_thread());
}

static void test_main_is_adopted(void **state)
{
	struct kvmmu_thread *me = current_thread();

	assert_true(me->adopted);
	assert_string_equal(me->name, "main");
	assert_ptr_equal(current_thread(), me); /* stable */
}

static void *foreign(void *arg)
{
	struct kvmmu_thread *t = current_thread();
	int *id = arg;

	*id = t->adopted && strncmp(t->name, "thread-", 7) == 0 ? t->id : -1;
	return NULL;
}

static void test_foreign_thread_is_adopted(void **state)
{
	pthread_t p;
	int id = -2;

	pthread_create(&p, NULL, foreign, &id);
	pthread_join(p, NULL);
	assert_true(id > current_thread()->id);
}

static void test_ids_are_distinct(void **state)
{
	struct kvmmu_thread *a, *b, *sa = NULL, *sb = NULL;
	int ida, idb;

	assert_int_equal(kvmmu_thread_create(&a, "a", 0, report_self, &sa), 0);
	assert_int_equal(kvmmu_thread_create(&b, "b", 0, report_self, &sb), 0);
	ida = a->id;
	idb = b->id;
	kvmmu_thread_join(a);
	kvmmu_thread_join(b);
	assert_int_not_equal(ida, idb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_main_is_adopted),
		KVMMU_TEST(test_create_join_name_result),
		KVMMU_TEST(test_foreign_thread_is_adopted),
		KVMMU_TEST(test_ids_are_distinct),
	};

	return kvmmu_run_tests(tests);
}
