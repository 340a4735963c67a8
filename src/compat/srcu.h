/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sleepable RCU (SRCU), as KVM uses it for memslots and buses.
 *
 * liburcu has no SRCU, so kvmmu has its own, in both scheduling modes.  It is
 * the classic two-index algorithm: a reader increments the active count of
 * the current index and remembers the index; synchronize_srcu() waits for
 * stragglers on the inactive index, flips the index, and waits for the old
 * index to drain.  The counts are single atomics (not per-CPU sums), so a
 * drained count is exact.  Readers may sleep; grace periods of one
 * srcu_struct do not wait for readers of another.
 */
#ifndef KVMMU_COMPAT_SRCU_H
#define KVMMU_COMPAT_SRCU_H

#include <stdatomic.h>

#include "atomic.h"
#include "lock.h"
#include "thread.h"
#include "types.h"

struct srcu_struct {
	_Atomic unsigned long idx; /* low bit selects the active counter */
	_Atomic long active[2];    /* readers inside, per index */
	_Atomic u32 wake;          /* bumped when a count may have drained */
	_Atomic u32 waiters;       /* grace periods sleeping on @wake */
	struct mutex gp_mutex;     /* serialises grace periods */
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
