// SPDX-License-Identifier: GPL-2.0-only
/*
 * Atomics: kernel semantics of try_cmpxchg64, cmpxchg64, xchg64 and the
 * atomic_t/atomic64_t helpers, and exact totals under contention.
 */
#include "atomic.h"
#include "test.h"
#include "thread.h"

static void test_try_cmpxchg64_success(void **state)
{
	_Atomic u64 w = 5;
	u64 old = 5;

	assert_true(try_cmpxchg64(&w, &old, 9));
	assert_int_equal(old, 5);
	assert_int_equal(atomic_load(&w), 9);
}

static void test_try_cmpxchg64_failure_returns_current(void **state)
{
	_Atomic u64 w = 0x1234;
	u64 old = 7;

	assert_false(try_cmpxchg64(&w, &old, 9));
	/* On failure the caller's snapshot is refreshed with the value found. */
	assert_int_equal(old, 0x1234);
	assert_int_equal(atomic_load(&w), 0x1234);
	/* ... so an immediate retry succeeds without a re-read. */
	assert_true(try_cmpxchg64(&w, &old, 9));
	assert_int_equal(atomic_load(&w), 9);
}

static void test_cmpxchg64_and_xchg64(void **state)
{
	_Atomic u64 w = 1;

	assert_int_equal(cmpxchg64(&w, 2, 3), 1); /* fails, returns current */
	assert_int_equal(atomic_load(&w), 1);
	assert_int_equal(cmpxchg64(&w, 1, 3), 1); /* succeeds, returns old */
	assert_int_equal(atomic_load(&w), 3);
	assert_int_equal(xchg64(&w, 8), 3);
	assert_int_equal(atomic_load(&w), 8);
}

static void test_atomic_t_helpers(void **state)
{
	atomic_t a = ATOMIC_INIT(0);
	atomic64_t b = ATOMIC64_INIT(1LL << 40);

	assert_false(atomic_inc_not_zero(&a));
	assert_int_equal(atomic_read(&a), 0);
	atomic_set(&a, 1);
	assert_true(atomic_inc_not_zero(&a));
	assert_int_equal(atomic_read(&a), 2);
	assert_false(atomic_dec_and_test(&a));
	assert_true(atomic_dec_and_test(&a));
	assert_int_equal(atomic_cmpxchg(&a, 0, 4), 0);
	assert_int_equal(atomic_read(&a), 4);

	assert_int_equal(atomic64_add_return(1, &b), (1LL << 40) + 1);
	assert_int_equal(atomic64_cmpxchg(&b, 0, 1), (1LL << 40) + 1);
	atomic64_sub(1LL << 40, &b);
	assert_int_equal(atomic64_read(&b), 1);
}

static void test_read_write_once(void **state)
{
	u64 plain = 0;

	WRITE_ONCE(plain, 0xdeadbeefULL);
	assert_int_equal(READ_ONCE(plain), 0xdeadbeefULL);
	smp_store_release(&plain, 3);
	assert_int_equal(smp_load_acquire(&plain), 3);
}

#define NR_THREADS 4
static _Atomic u64 shared_word;
static atomic64_t shared_counter;

static int cmpxchg_worker(void *arg)
{
	u64 i, n = (u64)(uintptr_t)arg;

	for (i = 0; i < n; i++) {
		u64 old = atomic_load_explicit(&shared_word, memory_order_relaxed);

		while (!try_cmpxchg64(&shared_word, &old, old + 1))
			;
		atomic64_inc(&shared_counter);
	}
	return 0;
}

static void test_concurrent_cmpxchg_loses_nothing(void **state)
{
	struct kvmmu_thread *t[NR_THREADS];
	u64 n = scaled(20000, 200000, 2000000);
	int i;

	atomic_store(&shared_word, 0);
	atomic64_set(&shared_counter, 0);
	for (i = 0; i < NR_THREADS; i++)
		assert_int_equal(kvmmu_thread_create(&t[i], "cmpxchg", 0,
						     cmpxchg_worker,
						     (void *)(uintptr_t)n), 0);
	for (i = 0; i < NR_THREADS; i++)
		assert_int_equal(kvmmu_thread_join(t[i]), 0);
	assert_int_equal(atomic_load(&shared_word), NR_THREADS * n);
	assert_int_equal(atomic64_read(&shared_counter), (s64)(NR_THREADS * n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_try_cmpxchg64_success),
		KVMMU_TEST(test_try_cmpxchg64_failure_returns_current),
		KVMMU_TEST(test_cmpxchg64_and_xchg64),
		KVMMU_TEST(test_atomic_t_helpers),
		KVMMU_TEST(test_read_write_once),
		KVMMU_TEST(test_concurrent_cmpxchg_loses_nothing),
	};

	return kvmmu_run_tests(tests);
}
