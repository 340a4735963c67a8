// SPDX-License-Identifier: GPL-2.0-only
/*
 * The one lock implementation behind spinlock_t, rwlock_t, struct mutex and
 * struct rw_semaphore.
 *
 * state: RWBASE_WRITER while write-held, plus the number of readers.
 * A writer acquires with a cmpxchg from 0; a reader counts itself in with
 * one fetch_add and backs out if a writer holds the lock or waits for it
 * (as the kernel's qrwlock does), so a reader that gets the lock moves
 * the lock's cache line once.  Release is a seq_cst RMW, which also
 * orders it before the load of @waiters (Dekker pairing with
 * rwbase_wait(): a sleeper counts itself in, then re-checks @state, so
 * either it sees the release or the releaser sees it).  A writer's
 * release clears only its bit: readers backing out may still be counted.
 */
#include "lock.h"
#include "sched_point.h"
#include "wait.h"

void __rwbase_init(struct rwbase *b, struct lockdep_map *map,
		   const char *name, enum lockdep_lock_type type)
{
	atomic_store(&b->state, 0);
	atomic_store(&b->waiters, 0);
	atomic_store(&b->writers_waiting, 0);
	atomic_store(&b->seq, 0);
	map->name = name;
	map->type = (u8)type;
	map->rank = 0;
}

/*
 * Sleep until a release after @seen.  seq_cst: the waiter count goes up
 * before the counter is looked at, and a releaser bumps the counter before
 * it looks at the waiter count (a Dekker pairing with rwbase_wake()).
 */
static void rwbase_wait(struct rwbase *b, u32 seen)
{
	atomic_fetch_add(&b->waiters, 1);
	if (atomic_load(&b->seq) == seen)
		kvmmu_block(&b->seq, seen);
	atomic_fetch_sub(&b->waiters, 1);
}

/* Called after a seq_cst release of @state. */
static void rwbase_wake(struct rwbase *b)
{
	atomic_fetch_add(&b->seq, 1);
	if (atomic_load(&b->waiters))
		kvmmu_wake(&b->seq);
}

static bool rwbase_try_write(struct rwbase *b)
{
	u32 s = 0;

	return atomic_compare_exchange_strong_explicit(&b->state, &s,
						       RWBASE_WRITER,
						       memory_order_acquire,
						       memory_order_relaxed);
}

void __rwbase_write_lock(struct rwbase *b, const struct lockdep_map *map)
{
	sched_point(SP_LOCK_ACQUIRE, b);
	lock_acquire(map, false, false);
	if (rwbase_try_write(b))
		return;

	/* Queued writers hold off new (non-recursive) readers. */
	atomic_fetch_add(&b->writers_waiting, 1);
	for (;;) {
		/* The counter first: a release after this wakes us. */
		u32 seq = atomic_load(&b->seq);

		if (rwbase_try_write(b))
			break;
		rwbase_wait(b, seq);
	}
	atomic_fetch_sub(&b->writers_waiting, 1);
}

bool __rwbase_write_trylock(struct rwbase *b, const struct lockdep_map *map)
{
	sched_point(SP_LOCK_ACQUIRE, b);
	if (!rwbase_try_write(b))
		return false;
	lock_acquire(map, false, true);
	return true;
}

void __rwbase_write_unlock(struct rwbase *b, const struct lockdep_map *map)
{
	lock_release(map);
	/* seq_cst: release of the critical section, and Dekker with rwbase_wait(). */
	atomic_fetch_and(&b->state, ~RWBASE_WRITER);
	rwbase_wake(b);
	sched_point(SP_LOCK_RELEASE, b);
}

/*
 * Sleep until no writer holds @b or waits for it: what a reader that
 * backed out waits for.  Not "until the next release": the reader's own
 * back-out may have bumped @seq, and two readers backing out in turn
 * would otherwise wake each other for ever while the writer never runs
 * (under the controlled scheduler, which runs one thread at a time).
 */
static void rwbase_wait_writers(struct rwbase *b)
{
	for (;;) {
		/* The counter first: a release after this wakes us. */
		u32 seq = atomic_load(&b->seq);

		if (!(atomic_load(&b->state) & RWBASE_WRITER) &&
		    !atomic_load(&b->writers_waiting))
			return;
		rwbase_wait(b, seq);
	}
}

/* One attempt at a read acquisition; false if it must wait. */
static bool rwbase_try_read(struct rwbase *b, bool recursive)
{
	/*
	 * seq_cst RMW: acquires the section if we stay, and is Dekker with a
	 * writer's seq_cst increment of @writers_waiting before its try:
	 * either the writer's cmpxchg from 0 sees us counted, or we see it
	 * waiting and back out.
	 */
	u32 s = atomic_fetch_add(&b->state, 1);

	if (!(s & RWBASE_WRITER) &&
	    (recursive || !atomic_load(&b->writers_waiting)))
		return true;
	/*
	 * Back out.  If that leaves the lock free, a writer may have failed
	 * its try because of our count alone: wake it to try again.
	 */
	if (atomic_fetch_sub(&b->state, 1) == 1)
		rwbase_wake(b);
	return false;
}

void __rwbase_read_lock(struct rwbase *b, const struct lockdep_map *map)
{
	bool recursive;

	sched_point(SP_LOCK_ACQUIRE, b);
	recursive = lock_acquire(map, true, false);
	/* Uncontended: one RMW. */
	while (unlikely(!rwbase_try_read(b, recursive)))
		rwbase_wait_writers(b);
}

bool __rwbase_read_trylock(struct rwbase *b, const struct lockdep_map *map)
{
	bool recursive = lock_is_held_type(map, LD_HELD_READ);

	sched_point(SP_LOCK_ACQUIRE, b);
	if (!rwbase_try_read(b, recursive))
		return false;
	lock_acquire(map, true, true);
	return true;
}

void __rwbase_read_unlock(struct rwbase *b, const struct lockdep_map *map)
{
	lock_release(map);
	/*
	 * seq_cst RMW: release of the read section, and Dekker with a writer's
	 * seq_cst increment of @writers_waiting before its try: either we see
	 * the writer here, or its try sees our release.  Only the last reader
	 * wakes (nobody can make progress on a reader count that is still
	 * non-zero), and only if a writer waits: a reader's release cannot
	 * help a reader, so two readers taking turns do not write @seq.
	 */
	if (atomic_fetch_sub(&b->state, 1) == 1 &&
	    (atomic_load(&b->writers_waiting) || atomic_load(&b->waiters)))
		rwbase_wake(b);
	sched_point(SP_LOCK_RELEASE, b);
}

bool __rwbase_is_locked(const struct rwbase *b)
{
	return atomic_load_explicit(&((struct rwbase *)b)->state,
				    memory_order_relaxed) != 0;
}

bool cond_resched_rwlock_read(rwlock_t *l)
{
	lockdep_assert_held_read(l);
	if (!rwlock_needbreak(l) && !need_resched())
		return false;
	read_unlock(l);
	cond_resched();
	read_lock(l);
	return true;
}

bool cond_resched_rwlock_write(rwlock_t *l)
{
	lockdep_assert_held_write(l);
	if (!rwlock_needbreak(l) && !need_resched())
		return false;
	write_unlock(l);
	cond_resched();
	write_lock(l);
	return true;
}
