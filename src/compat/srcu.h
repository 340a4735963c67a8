/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sleepable RCU (SRCU), as KVM uses it for memslots and buses.
 *
 * liburcu has no SRCU, so kvmmu has its own, in both scheduling modes.  It is
 * the kernel's two-index algorithm with its per-CPU counters made per thread:
 * a reader bumps the lock count of the current index in its own shard (a
 * cache line no other thread writes, unless more threads than shards run)
 * and remembers the index; srcu_read_unlock() bumps the unlock count of that
 * index in its shard.  The counts only grow, so an index has no readers when
 * the sum of its unlock counts, read first, equals the sum of its lock
 * counts, read after: every unlock that was seen has its lock seen too.
 * synchronize_srcu() waits for stragglers on the inactive index, flips the
 * index, and waits for the old index to drain.  Readers may sleep; grace
 * periods of one srcu_struct do not wait for readers of another.
 */
#ifndef KVMMU_COMPAT_SRCU_H
#define KVMMU_COMPAT_SRCU_H

#include <stdatomic.h>

#include "atomic.h"
#include "compiler.h"
#include "lock.h"
#include "thread.h"
#include "types.h"

/* Shards of reader counts; thread N uses shard N % SRCU_NR_SHARDS. */
#define SRCU_NR_SHARDS 16

/* One thread's (or a few threads') reader counts, alone in its cache line. */
struct srcu_shard {
	_Atomic unsigned long lock[2];   /* srcu_read_lock() calls, per index */
	_Atomic unsigned long unlock[2]; /* srcu_read_unlock() calls, per index */
} ____cacheline_aligned;

struct srcu_struct {
	/* Read by every reader, written once per grace period. */
	_Atomic unsigned long idx; /* low bit selects the active index */
	_Atomic u32 waiters;       /* grace periods sleeping on @wake */
	/* Written by an unlocking reader only while a grace period sleeps. */
	_Atomic u32 wake ____cacheline_aligned;
	struct mutex gp_mutex; /* serialises grace periods */
	struct srcu_shard shards[SRCU_NR_SHARDS];
};

int init_srcu_struct(struct srcu_struct *ssp);
/* WARNs if readers are still inside. */
void cleanup_srcu_struct(struct srcu_struct *ssp);

/* Enter a read-side section; pass the result to srcu_read_unlock(). */
int srcu_read_lock(struct srcu_struct *ssp);
void srcu_read_unlock(struct srcu_struct *ssp, int idx);

/* Wait for every reader of @ssp that began before the call. */
void synchronize_srcu(struct srcu_struct *ssp);
#define synchronize_srcu_expedited(ssp) synchronize_srcu(ssp)

/* Is the calling thread inside some SRCU read-side section? */
static inline bool srcu_read_lock_held(const struct srcu_struct *ssp)
{
	(void)ssp;
	return current_thread()->srcu_nesting > 0;
}

#define srcu_dereference(p, ssp) smp_load_acquire(&(p))

#endif /* KVMMU_COMPAT_SRCU_H */
