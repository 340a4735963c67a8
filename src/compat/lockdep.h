/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small lockdep: per-thread held-lock stacks, lock-rule assertions and a
 * rank (witness) check of acquisition order.
 *
 * Each lock embeds a struct lockdep_map.  Acquire and release record the lock
 * on the calling thread's stack, which gives:
 *  - lockdep_assert_held[_read|_write](), as in the kernel: a WARN when the
 *    calling thread does not hold the lock in that mode;
 *  - self-deadlock detection: taking a lock for write while holding it in
 *    any mode, or for read while holding it for write, is reported and the
 *    thread aborts (in the kernel it would hang forever).  Recursive read
 *    locking of an rwlock_t is legal, as in the kernel;
 *  - order checking: a lock with a non-zero rank may only be taken while
 *    every held ranked lock has a smaller rank (jemalloc's witness);
 *  - might_sleep(): a WARN when a thread could sleep while holding a
 *    spinning lock (spinlock_t, rwlock_t) or inside an RCU read section.
 */
#ifndef KVMMU_COMPAT_LOCKDEP_H
#define KVMMU_COMPAT_LOCKDEP_H

#include "bug.h"
#include "compiler.h"
#include "types.h"

enum lockdep_lock_type {
	LD_SPINLOCK,
	LD_RWLOCK,
	LD_MUTEX,
	LD_RWSEM,
};

struct lockdep_map {
	const char *name;
	u8 type;  /* enum lockdep_lock_type */
	u16 rank; /* 0: not ordered; else taken in increasing rank order */
};

#define LOCKDEP_MAP_INIT(_name, _type) { .name = (_name), .type = (_type) }

/* Which mode lock_is_held_type() asks about. */
enum lockdep_held_mode {
	LD_HELD_ANY = -1,
	LD_HELD_WRITE = 0,
	LD_HELD_READ = 1,
};

/*
 * Record an acquisition, before blocking on the lock (after success for a
 * trylock).  Checks self-deadlock and order first.  Returns true if this is
 * a recursive read acquisition, which must not wait behind queued writers.
 */
bool lock_acquire(const struct lockdep_map *map, bool read, bool trylock);
/* Record a release; WARNs if the lock is not held. */
void lock_release(const struct lockdep_map *map);
/* Is @map held by the calling thread in @mode? */
bool lock_is_held_type(const struct lockdep_map *map, enum lockdep_held_mode mode);

static inline void lockdep_set_rank(struct lockdep_map *map, u16 rank)
{
	map->rank = rank;
}

#define lockdep_is_held(l) lock_is_held_type(&(l)->dep_map, LD_HELD_ANY)

/*
 * The assertions are compiled out of release builds (make bench), as a
 * kernel without CONFIG_LOCKDEP has none; every other build, the tests'
 * and the sanitizers' included, checks them.  The tracking of held locks
 * stays: the deadlock reports and the checkers that ask lock_is_held_type()
 * need it.
 */
#ifndef KVMMU_LOCKDEP_ASSERTS
#define KVMMU_LOCKDEP_ASSERTS 1
#endif

#if KVMMU_LOCKDEP_ASSERTS
#define lockdep_assert_held(l) WARN_ON(!lock_is_held_type(&(l)->dep_map, LD_HELD_ANY))
#define lockdep_assert_held_read(l) WARN_ON(!lock_is_held_type(&(l)->dep_map, LD_HELD_READ))
#define lockdep_assert_held_write(l) WARN_ON(!lock_is_held_type(&(l)->dep_map, LD_HELD_WRITE))
#define lockdep_assert_not_held(l) WARN_ON(lock_is_held_type(&(l)->dep_map, LD_HELD_ANY))
#else
static inline int lockdep_assert_off(const void *lock)
{
	(void)lock;
	return 0;
}
#define lockdep_assert_held(l) lockdep_assert_off(l)
#define lockdep_assert_held_read(l) lockdep_assert_off(l)
#define lockdep_assert_held_write(l) lockdep_assert_off(l)
#define lockdep_assert_not_held(l) lockdep_assert_off(l)
#endif

/* Number of locks the calling thread holds. */
int lockdep_depth(void);

/* WARN if the calling thread may not sleep here. */
void might_sleep(void);

#endif /* KVMMU_COMPAT_LOCKDEP_H */
