// SPDX-License-Identifier: GPL-2.0-only
/*
 * Locks: mutual exclusion, reader/writer exclusion, recursive read locking
 * behind a queued writer, writer progress, trylocks, cond_resched.
 */
#include <unistd.h>

#include "lock.h"
#include "sched_point.h"
#include "test.h"
#include "thread.h"
#include "wait.h"

#define NR_THREADS 4

/*
 * Writers keep two plain counters equal; readers check them.  A torn pair
 * seen by a reader, or a lost increment, is an exclusion failure (and a data
 * race TSan would report).
 */
static DEFINE_RWLOCK(pair_lock);
static u64 pair_a, pair_b;
static _Atomic u64 torn_reads;
static _Atomic u64 reads_done;

static int pair_writer(void *arg)
{
	u64 i, n = (u64)(uintptr_t)arg;

	for (i = 0; i < n; i++) {
		write_lock(&pair_lock);
		lockdep_assert_held_write(&pair_lock);
		pair_a++;
		pair_b++;
		write_unlock(&pair_lock);
	}
	return 0;
}

static int pair_reader(void *arg)
{
	u64 i, n = (u64)(uintptr_t)arg;

	for (i = 0; i < n; i++) {
		read_lock(&pair_lock);
		lockdep_assert_held_read(&pair_lock);
		if (pair_a != pair_b)
			atomic_fetch_add(&torn_reads, 1);
		read_unlock(&pair_lock);
		atomic_fetch_add(&reads_done, 1);
	}
	return 0;
}

static void test_rwlock_reader_writer_exclusion(void **state)
{
	struct kvmmu_thread *t[NR_THREADS];
	u64 n = scaled(2000, 50000, 500000);
	int i;

	pair_a = pair_b = 0;
	atomic_store(&torn_reads, 0);
	for (i = 0; i < NR_THREADS; i++)
		assert_int_equal(kvmmu_thread_create(&t[i], "rw", 0,
				 i < 2 ? pair_writer : pair_reader,
				 (void *)(uintptr_t)n), 0);
	for (i = 0; i < NR_THREADS; i++)
		kvmmu_thread_join(t[i]);
	assert_int_equal(atomic_load(&torn_reads), 0);
	assert_int_equal(pair_a, 2 * n);
	assert_int_equal(pair_b, 2 * n);
}

static DEFINE_SPINLOCK(spin);
static DEFINE_MUTEX(mutex);
static DECLARE_RWSEM(rwsem);
static u64 plain_counter;

enum excl_kind { EXCL_SPIN, EXCL_MUTEX, EXCL_RWSEM };

static int excl_worker(void *arg)
{
	enum excl_kind kind = (enum excl_kind)(uintptr_t)arg;
	u64 i, n = scaled(2000, 50000, 500000);

	for (i = 0; i < n; i++) {
		switch (kind) {
		case EXCL_SPIN:
			spin_lock(&spin);
			plain_counter++;
			spin_unlock(&spin);
			break;
		case EXCL_MUTEX:
			mutex_lock(&mutex);
			plain_counter++;
			mutex_unlock(&mutex);
			break;
		case EXCL_RWSEM:
			down_write(&rwsem);
			plain_counter++;
			up_write(&rwsem);
			break;
		}
	}
	return 0;
}

static void run_exclusion(enum excl_kind kind)
{
	struct kvmmu_thread *t[NR_THREADS];
	int i;

	plain_counter = 0;
	for (i = 0; i < NR_THREADS; i++)
		assert_int_equal(kvmmu_thread_create(&t[i], "excl", 0, excl_worker,
						     (void *)(uintptr_t)kind), 0);
	for (i = 0; i < NR_THREADS; i++)
		kvmmu_thread_join(t[i]);
	assert_int_equal(plain_counter, NR_THREADS * scaled(2000, 50000, 500000));
}

static void test_spinlock_mutual_exclusion(void **state)
{
	run_exclusion(EXCL_SPIN);
}

static void test_mutex_mutual_exclusion(void **state)
{
	run_exclusion(EXCL_MUTEX);
}

static void test_rwsem_mutual_exclusion(void **state)
{
	run_exclusion(EXCL_RWSEM);
}

/*
 * A thread that holds an rwlock for read may take it again for read even
 * while a writer is queued (the kernel allows it); a non-recursive reader
 * queues behind the writer.  The main thread holds a spinning lock here, so
 * it waits by polling, never by sleeping.
 */
static DEFINE_RWLOCK(rec_lock);
static _Atomic int fresh_result = -1;

static int fresh_reader(void *arg)
{
	bool ok = read_trylock(&rec_lock);

	if (ok)
		read_unlock(&rec_lock);
	atomic_store(&fresh_result, ok);
	return 0;
}

static int queued_writer(void *arg)
{
	write_lock(&rec_lock);
	write_unlock(&rec_lock);
	return 0;
}

static void test_recursive_read_behind_queued_writer(void **state)
{
	struct kvmmu_thread *w, *r;

	atomic_store(&fresh_result, -1);
	read_lock(&rec_lock);
	assert_int_equal(kvmmu_thread_create(&w, "writer", 0, queued_writer, NULL), 0);
	while (!atomic_load(&rec_lock.b.writers_waiting))
		usleep(100);
	/* A fresh reader (another thread) must not pass the queued writer ... */
	assert_int_equal(kvmmu_thread_create(&r, "reader", 0, fresh_reader, NULL), 0);
	while (atomic_load(&fresh_result) < 0)
		usleep(100);
	assert_int_equal(atomic_load(&fresh_result), 0);
	/* ... but a recursive one must, or this would deadlock. */
	read_lock(&rec_lock);
	assert_true(lock_is_held_type(&rec_lock.dep_map, LD_HELD_READ));
	read_unlock(&rec_lock);
	read_unlock(&rec_lock);
	kvmmu_thread_join(w);
	kvmmu_thread_join(r);
	assert_false(lockdep_is_held(&rec_lock));
}

/* A writer is not starved by a stream of readers. */
static DEFINE_RWLOCK(starve_lock);
static _Atomic bool writer_done;

static int churning_reader(void *arg)
{
	while (!atomic_load(&writer_done)) {
		read_lock(&starve_lock);
		read_unlock(&starve_lock);
	}
	return 0;
}

static int lone_writer(void *arg)
{
	write_lock(&starve_lock);
	write_unlock(&starve_lock);
	atomic_store(&writer_done, true);
	return 0;
}

static void test_writer_makes_progress(void **state)
{
	struct kvmmu_thread *r[3], *w;
	int i;

	atomic_store(&writer_done, false);
	for (i = 0; i < 3; i++)
		assert_int_equal(kvmmu_thread_create(&r[i], "reader", 0, churning_reader, NULL), 0);
	usleep(1000);
	assert_int_equal(kvmmu_thread_create(&w, "writer", 0, lone_writer, NULL), 0);
	kvmmu_thread_join(w);
	for (i = 0; i < 3; i++)
		kvmmu_thread_join(r[i]);
	assert_true(atomic_load(&writer_done));
}

static void test_trylocks(void **state)
{
	DEFINE_RWLOCK(l);
	DEFINE_SPINLOCK(s);
	DEFINE_MUTEX(m);

	assert_true(write_trylock(&l));
	assert_true(rwlock_is_contended(&l) == false);
	write_unlock(&l);
	assert_true(read_trylock(&l));
	assert_true(read_trylock(&l)); /* recursive read */
	read_unlock(&l);
	read_unlock(&l);

	assert_true(spin_trylock(&s));
	assert_true(spin_is_locked(&s));
	spin_unlock(&s);
	assert_false(spin_is_locked(&s));

	assert_true(mutex_trylock(&m));
	assert_true(mutex_is_locked(&m));
	mutex_unlock(&m);
}

/* A trylock of a lock held elsewhere fails without blocking. */
static DEFINE_MUTEX(held_elsewhere);
static DECLARE_COMPLETION(taken);
static DECLARE_COMPLETION(may_release);

static int holder(void *arg)
{
	mutex_lock(&held_elsewhere);
	complete(&taken);
	wait_for_completion(&may_release);
	mutex_unlock(&held_elsewhere);
	return 0;
}

static void test_trylock_fails_when_held(void **state)
{
	struct kvmmu_thread *t;

	reinit_completion(&taken);
	reinit_completion(&may_release);
	assert_int_equal(kvmmu_thread_create(&t, "holder", 0, holder, NULL), 0);
	wait_for_completion(&taken);
	assert_false(mutex_trylock(&held_elsewhere));
	complete(&may_release);
	kvmmu_thread_join(t);
	assert_true(mutex_trylock(&held_elsewhere));
	mutex_unlock(&held_elsewhere);
}

/* cond_resched_rwlock_read() lets a waiting writer in. */
static DEFINE_RWLOCK(resched_lock);
static _Atomic int writer_passed;

static int resched_writer(void *arg)
{
	write_lock(&resched_lock);
	atomic_store(&writer_passed, 1);
	write_unlock(&resched_lock);
	return 0;
}

static void test_cond_resched_rwlock_read_yields_to_writer(void **state)
{
	struct kvmmu_thread *w;
	bool dropped = false;

	atomic_store(&writer_passed, 0);
	read_lock(&resched_lock);
	assert_false(cond_resched_rwlock_read(&resched_lock)); /* nobody waits */
	assert_int_equal(kvmmu_thread_create(&w, "writer", 0, resched_writer, NULL), 0);
	while (!rwlock_needbreak(&resched_lock))
		usleep(100);
	while (!atomic_load(&writer_passed))
		dropped |= cond_resched_rwlock_read(&resched_lock);
	assert_true(dropped);
	lockdep_assert_held_read(&resched_lock);
	read_unlock(&resched_lock);
	kvmmu_thread_join(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_rwlock_reader_writer_exclusion),
		KVMMU_TEST(test_spinlock_mutual_exclusion),
		KVMMU_TEST(test_mutex_mutual_exclusion),
		KVMMU_TEST(test_rwsem_mutual_exclusion),
		KVMMU_TEST(test_recursive_read_behind_queued_writer),
		KVMMU_TEST(test_writer_makes_progress),
		KVMMU_TEST(test_trylocks),
		KVMMU_TEST(test_trylock_fails_when_held),
		KVMMU_TEST(test_cond_resched_rwlock_read_yields_to_writer),
	};

	return kvmmu_run_tests(tests);
}
