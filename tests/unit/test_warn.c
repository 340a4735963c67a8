// SPDX-License-Identifier: GPL-2.0-only
/*
 * WARN_ON and friends: they return the condition, count every time, print
 * once for the _ONCE forms, and a warning fails the test that caused it.
 */
#include <string.h>
#include <unistd.h>

#include "bug.h"
#include "test.h"

struct kvm {
	bool vm_bugged;
};

static void kvm_vm_bugged(struct kvm *kvm)
{
	kvm->vm_bugged = true;
}

static void test_warn_on_returns_condition_and_counts(void **state)
{
	unsigned long before = kvmmu_warn_count();

	assert_false(WARN_ON(1 == 2));
	assert_int_equal(kvmmu_warn_count(), before);
	expect_warns(1);
	assert_true(WARN_ON(2 > 1));
	assert_int_equal(kvmmu_warn_count(), before + 1);
	expect_warns(1);
	if (WARN(true, "value %d", 42))
		assert_int_equal(kvmmu_warn_count(), before + 2);
}

static void warn_once_twice(void *arg)
{
	unsigned long before = kvmmu_warn_count();
	int i;

	for (i = 0; i < 2; i++)
		WARN_ON_ONCE(true);
	_exit((int)(kvmmu_warn_count() - before));
}

static void test_warn_once_prints_once_counts_always(void **state)
{
	struct child_result res;
	const char *first;

	run_in_child(warn_once_twice, NULL, &res);
	assert_true(res.exited);
	assert_int_equal(res.status, 2); /* counted twice */
	first = strstr(res.output, "WARNING");
	assert_non_null(first);
	assert_null(strstr(first + 1, "WARNING")); /* printed once */
}

static void test_kvm_bug_on_marks_vm(void **state)
{
	struct kvm kvm = { 0 };

	assert_false(KVM_BUG_ON(false, &kvm));
	assert_false(kvm.vm_bugged);
	expect_warns(1);
	assert_true(KVM_BUG_ON(true, &kvm));
	assert_true(kvm.vm_bugged);
}

/* A group whose only test warns without announcing it must fail. */
static void unannounced_warning(void **state)
{
	WARN_ON(true);
}

static void run_failing_group(void *arg)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(unannounced_warning),
	};

	_exit(kvmmu_run_tests(tests));
}

static void announced_warning(void **state)
{
	expect_warns(1);
	WARN_ON(true);
}

static void run_passing_group(void *arg)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(announced_warning),
	};

	_exit(kvmmu_run_tests(tests));
}

static void test_warning_fails_the_test(void **state)
{
	struct child_result res;

	run_in_child(run_failing_group, NULL, &res);
	assert_true(res.exited);
	assert_int_equal(res.status, 1); /* one failed test */

	run_in_child(run_passing_group, NULL, &res);
	assert_true(res.exited);
	assert_int_equal(res.status, 0);
}

static void bug_now(void *arg)
{
	BUG_ON(arg != NULL);
}

static void test_bug_on_aborts(void **state)
{
	struct child_result res;

	run_in_child(bug_now, (void *)1, &res);
	assert_false(res.exited);
	assert_non_null(strstr(res.output, "BUG:"));
	run_in_child(bug_now, NULL, &res);
	assert_true(res.exited);
	assert_int_equal(res.status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_warn_on_returns_condition_and_counts),
		KVMMU_TEST(test_warn_once_prints_once_counts_always),
		KVMMU_TEST(test_kvm_bug_on_marks_vm),
		KVMMU_TEST(test_warning_fails_the_test),
		KVMMU_TEST(test_bug_on_aborts),
	};

	return kvmmu_run_tests(tests);
}
