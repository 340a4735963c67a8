/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Locks with kernel names and semantics: spinlock_t, rwlock_t, struct mutex
 * and struct rw_semaphore.
 *
 * All four share one implementation (struct rwbase): a 32-bit state word
 * holding a writer bit and a reader count, a waiter count and a count of
 * waiting writers.  A waiting writer holds off new readers (as qrwlock
 * does), except a reader that already holds the lock: recursive read
 * locking of an rwlock_t works, as in the kernel.  Contended acquirers
 * sleep in kvmmu_block() on the state word, so under a controlled scheduler
 * they hand control to another thread rather than blocking the OS thread.
 *
 * Every acquire and release is a sched point and is recorded by lockdep,
 * which backs lockdep_assert_held*() and reports misuse.  Sleepers wait on
 * a release counter, never on the state, so no wake-up is lost to a state
 * that changed and changed back.  spinlock_t and
 * rwlock_t may not be held across anything that sleeps (might_sleep()).
 */
#ifndef KVMMU_COMPAT_LOCK_H
#define KVMMU_COMPAT_LOCK_H

#include <stdatomic.h>

#include "compiler.h"
#include "lockdep.h"
#include "types.h"

#define RWBASE_WRITER 0x80000000u

struct rwbase {
	_Atomic u32 state;           /* RWBASE_WRITER | number of readers */
	_Atomic u32 waiters;         /* threads sleeping on @seq */
	_Atomic u32 writers_waiting; /* writers that want the lock */
	/*
	 * Bumped by every release: sleepers wait for it to move.  (The state
	 * itself can go back to a value a sleeper saw, e.g. 0 -> writer -> 0,
	 * and a sleeper that only compares it would never wake.)
	 */
	_Atomic u32 seq;
};

#define RWBASE_INIT { 0, 0, 0, 0 }

typedef struct {
	struct rwbase b;
	struct lockdep_map dep_map;
} spinlock_t;

typedef struct {
	struct rwbase b;
	struct lockdep_map dep_map;
} rwlock_t;

struct mutex {
	struct rwbase b;
	struct lockdep_map dep_map;
};

struct rw_semaphore {
	struct rwbase b;
	struct lockdep_map dep_map;
};

#define __SPIN_LOCK_UNLOCKED(n) { RWBASE_INIT, LOCKDEP_MAP_INIT(#n, LD_SPINLOCK) }
#define __RW_LOCK_UNLOCKED(n) { RWBASE_INIT, LOCKDEP_MAP_INIT(#n, LD_RWLOCK) }
#define __MUTEX_INITIALIZER(n) { RWBASE_INIT, LOCKDEP_MAP_INIT(#n, LD_MUTEX) }
#define __RWSEM_INITIALIZER(n) { RWBASE_INIT, LOCKDEP_MAP_INIT(#n, LD_RWSEM) }
#define DEFINE_SPINLOCK(n) spinlock_t n = __SPIN_LOCK_UNLOCKED(n)
#define DEFINE_RWLOCK(n) rwlock_t n = __RW_LOCK_UNLOCKED(n)
#define DEFINE_MUTEX(n) struct mutex n = __MUTEX_INITIALIZER(n)
#define DECLARE_RWSEM(n) struct rw_semaphore n = __RWSEM_INITIALIZER(n)

void __rwbase_init(struct rwbase *b, struct lockdep_map *map,
		   const char *name, enum lockdep_lock_type type);

#define spin_lock_init(l) __rwbase_init(&(l)->b, &(l)->dep_map, #l, LD_SPINLOCK)
#define rwlock_init(l) __rwbase_init(&(l)->b, &(l)->dep_map, #l, LD_RWLOCK)
#define mutex_init(l) __rwbase_init(&(l)->b, &(l)->dep_map, #l, LD_MUTEX)
#define init_rwsem(l) __rwbase_init(&(l)->b, &(l)->dep_map, #l, LD_RWSEM)

/* Exclusive/shared acquisition of any lock type; used by the wrappers. */
void __rwbase_write_lock(struct rwbase *b, const struct lockdep_map *map);
bool __rwbase_write_trylock(struct rwbase *b, const struct lockdep_map *map);
void __rwbase_write_unlock(struct rwbase *b, const struct lockdep_map *map);
void __rwbase_read_lock(struct rwbase *b, const struct lockdep_map *map);
bool __rwbase_read_trylock(struct rwbase *b, const struct lockdep_map *map);
void __rwbase_read_unlock(struct rwbase *b, const struct lockdep_map *map);
bool __rwbase_is_locked(const struct rwbase *b);

/*
 * Inline: long walks ask this once per entry they visit (the kernel's
 * rwlock_is_contended() is inline too).  Relaxed loads: a hint, not a
 * synchronisation; the lock's own RMWs order everything else.
 */
static inline bool __rwbase_is_contended(const struct rwbase *b)
{
	return atomic_load_explicit(&((struct rwbase *)b)->waiters, memory_order_relaxed) ||
	       atomic_load_explicit(&((struct rwbase *)b)->writers_waiting,
				    memory_order_relaxed);
}

/* ---- spinlock_t --------------------------------------------------------- */

static inline void spin_lock(spinlock_t *l)
{
	__rwbase_write_lock(&l->b, &l->dep_map);
}

static inline bool spin_trylock(spinlock_t *l)
{
	return __rwbase_write_trylock(&l->b, &l->dep_map);
}

static inline void spin_unlock(spinlock_t *l)
{
	__rwbase_write_unlock(&l->b, &l->dep_map);
}

static inline bool spin_is_locked(const spinlock_t *l)
{
	return __rwbase_is_locked(&l->b);
}

/* ---- rwlock_t ----------------------------------------------------------- */

static inline void read_lock(rwlock_t *l)
{
	__rwbase_read_lock(&l->b, &l->dep_map);
}

static inline bool read_trylock(rwlock_t *l)
{
	return __rwbase_read_trylock(&l->b, &l->dep_map);
}

static inline void read_unlock(rwlock_t *l)
{
	__rwbase_read_unlock(&l->b, &l->dep_map);
}

static inline void write_lock(rwlock_t *l)
{
	__rwbase_write_lock(&l->b, &l->dep_map);
}

static inline bool write_trylock(rwlock_t *l)
{
	return __rwbase_write_trylock(&l->b, &l->dep_map);
}

static inline void write_unlock(rwlock_t *l)
{
	__rwbase_write_unlock(&l->b, &l->dep_map);
}

/* Does another thread wait for @l?  (The kernel's rwlock_is_contended().) */
static inline bool rwlock_is_contended(const rwlock_t *l)
{
	return __rwbase_is_contended(&l->b);
}

/* Should a long walk under @l drop it?  Waiters say so. */
static inline bool rwlock_needbreak(const rwlock_t *l)
{
	return rwlock_is_contended(l);
}

/*
 * Drop and retake @l if it is contended or a reschedule is due.  Returns
 * true if the lock was dropped: anything read under it may be stale.
 */
bool cond_resched_rwlock_read(rwlock_t *l);
bool cond_resched_rwlock_write(rwlock_t *l);

/* ---- struct mutex ------------------------------------------------------- */

static inline void mutex_lock(struct mutex *l)
{
	might_sleep();
	__rwbase_write_lock(&l->b, &l->dep_map);
}

static inline bool mutex_trylock(struct mutex *l)
{
	return __rwbase_write_trylock(&l->b, &l->dep_map);
}

static inline void mutex_unlock(struct mutex *l)
{
	__rwbase_write_unlock(&l->b, &l->dep_map);
}

static inline bool mutex_is_locked(const struct mutex *l)
{
	return __rwbase_is_locked(&l->b);
}

/* ---- struct rw_semaphore ------------------------------------------------ */

static inline void down_read(struct rw_semaphore *l)
{
	might_sleep();
	__rwbase_read_lock(&l->b, &l->dep_map);
}

static inline bool down_read_trylock(struct rw_semaphore *l)
{
	return __rwbase_read_trylock(&l->b, &l->dep_map);
}

static inline void up_read(struct rw_semaphore *l)
{
	__rwbase_read_unlock(&l->b, &l->dep_map);
}

static inline void down_write(struct rw_semaphore *l)
{
	might_sleep();
	__rwbase_write_lock(&l->b, &l->dep_map);
}

static inline bool down_write_trylock(struct rw_semaphore *l)
{
	return __rwbase_write_trylock(&l->b, &l->dep_map);
}

static inline void up_write(struct rw_semaphore *l)
{
	__rwbase_write_unlock(&l->b, &l->dep_map);
}

#endif /* KVMMU_COMPAT_LOCK_H */
