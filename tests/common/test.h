/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kvmmu test harness, on cmocka.
 *
 *  - KVMMU_TEST(fn) wraps a test so that any WARN it causes fails it,
 *    unless the test announced the warnings with expect_warns(n).
 *  - kvmmu_run_tests(group) prints TAP, which the summary reads.
 *  - test_scale() says how big a test may be: reduced under sanitizers,
 *    ci for make test, full for make stress (KVMMU_SCALE in the
 *    environment).
 *  - run_in_child() runs a function in a forked child and reports how it
 *    ended, for tests of code that must abort.
 */
#ifndef KVMMU_TESTS_COMMON_TEST_H
#define KVMMU_TESTS_COMMON_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "types.h"

enum test_scale {
	SCALE_REDUCED, /* sanitizer builds */
	SCALE_CI,      /* make test */
	SCALE_FULL,    /* make stress */
};

enum test_scale test_scale(void);

/* Pick a size by scale. */
static inline u64 scaled(u64 reduced, u64 ci, u64 full)
{
	switch (test_scale()) {
	case SCALE_REDUCED:
		return reduced;
	case SCALE_FULL:
		return full;
	default:
		return ci;
	}
}

int kvmmu_test_setup(void **state);
int kvmmu_test_teardown(void **state);

/* The running test expects exactly @n more WARNs. */
void expect_warns(unsigned long n);

#define KVMMU_TEST(fn) cmocka_unit_test_setup_teardown(fn, kvmmu_test_setup, kvmmu_test_teardown)

#define kvmmu_run_tests(group)                                                \
	_kvmmu_run_tests(#group, group, sizeof(group) / sizeof((group)[0]))
int _kvmmu_run_tests(const char *name, const struct CMUnitTest *tests, size_t n);

struct child_result {
	bool exited;  /* exited normally, with @status */
	int status;
	int signal;   /* killed by this signal, if !exited */
	char output[4096]; /* what it wrote to stdout and stderr, truncated */
};

/* Fork, run @fn(@arg) in the child (which then exits 0), wait for it. */
void run_in_child(void (*fn)(void *arg), void *arg, struct child_result *res);

#endif /* KVMMU_TESTS_COMMON_TEST_H */
