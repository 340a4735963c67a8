/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvmmu threads: the task_struct of this userspace kernel.
 *
 * Every thread that touches kvmmu state has a struct kvmmu_thread, reached
 * with current_thread().  It carries the lockdep held-lock stack, the RCU and
 * SRCU read-side nesting, and the deterministic scheduler's per-thread data.
 * Threads made with kvmmu_thread_create() are known to the scheduler hooks
 * from birth; any other thread (main, a test framework's) is adopted on its
 * first use of a kvmmu primitive and is never under the scheduler's control.
 */
#ifndef KVMMU_COMPAT_THREAD_H
#define KVMMU_COMPAT_THREAD_H

#include <pthread.h>
#include <stdatomic.h>

#include "compiler.h"
#include "types.h"

#define KVMMU_THREAD_NAME_LEN 32
#define LOCKDEP_MAX_HELD 16

struct lockdep_map;

/* One entry of a thread's held-lock stack. */
struct held_lock {
	const struct lockdep_map *map;
	bool read;
	unsigned int count; /* recursion depth (read-recursive rwlocks) */
};

enum kvmmu_thread_flags {
	/* A service thread (RCU callbacks, ...): a controlled run may end while it waits. */
	KVMMU_THREAD_DAEMON = 1 << 0,
};

struct kvmmu_thread {
	int id; /* small, stable, in creation order */
	char name[KVMMU_THREAD_NAME_LEN];
	unsigned int flags;
	bool adopted; /* not made by kvmmu_thread_create() */
	pthread_t pthread;

	/* lockdep: locks held by this thread, innermost last. */
	int nr_held;
	struct held_lock held[LOCKDEP_MAX_HELD];

	/* RCU: read-side nesting and the backend's per-thread state. */
	int rcu_nesting;
	int rcu_section_backend; /* backend of the outermost open section */
	int rcu_slot;            /* own engine reader slot, -1 if none */
	bool urcu_registered;
	int srcu_nesting;

	/* Owned by the scheduler that controls this thread, if any. */
	void *sched;
	/* need_resched() calls counted for sched_force_resched() (and its epoch). */
	unsigned int resched_calls;
	unsigned int resched_epoch;

	/* Body and result of a created thread. */
	int (*fn)(void *arg);
	void *arg;
	int ret;
	_Atomic u32 started; /* start-up handshake with the creator */
	_Atomic u32 exited;  /* 1 once the body returned; a wait word */
};

extern __kvmmu_tls struct kvmmu_thread *__kvmmu_current;
struct kvmmu_thread *__kvmmu_thread_adopt(void);

/* The calling thread's kvmmu_thread; adopts foreign threads on first use. */
static inline struct kvmmu_thread *current_thread(void)
{
	struct kvmmu_thread *t = __kvmmu_current;

	if (likely(t))
		return t;
	return __kvmmu_thread_adopt();
}

/**
 * kvmmu_thread_create() - start a kvmmu thread
 * @out: receives the thread, to be passed to kvmmu_thread_join()
 * @name: a short name for reports and traces (truncated to 31 chars)
 * @flags: enum kvmmu_thread_flags
 * @fn: the body; its return value is returned by kvmmu_thread_join()
 * @arg: passed to @fn
 *
 * Return: 0, or -errno from pthread_create().
 */
int __must_check kvmmu_thread_create(struct kvmmu_thread **out,
				     const char *name, unsigned int flags,
				     int (*fn)(void *arg), void *arg);

/*
 * Wait for @t to finish and free it.  Blocks through kvmmu_block(), so a
 * controlled thread may join another.  Return: the body's return value.
 */
int kvmmu_thread_join(struct kvmmu_thread *t);

/* Name of the calling thread. */
const char *kvmmu_thread_name(void);

#endif /* KVMMU_COMPAT_THREAD_H */
