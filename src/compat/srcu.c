// SPDX-License-Identifier: GPL-2.0-only
/*
 * SRCU: the classic two-index algorithm with exact (single atomic) counts.
 *
 * Why two waits per grace period: a reader may sample idx, stall, and only
 * then increment active[old idx] after a flip.  The grace period that
 * flipped is safe from it (its increment comes after the flip in the seq_cst
 * order, so its loads see everything removed before the grace period), but
 * it sits on the now-inactive counter; the *next* grace period would miss
 * it if it only waited for the counter it flips away from.  So each grace
 * period first drains the inactive counter, then flips, then drains the old
 * active one.
 */
#include "bug.h"
#include "sched_point.h"
#include "srcu.h"
#include "wait.h"

int init_srcu_struct(struct srcu_struct *ssp)
{
	atomic_store(&ssp->idx, 0);
	atomic_store(&ssp->active[0], 0);
	atomic_store(&ssp->active[1], 0);
	atomic_store(&ssp->wake, 0);
	atomic_store(&ssp->waiters, 0);
	mutex_init(&ssp->gp_mutex);
	return 0;
}

void cleanup_srcu_struct(struct srcu_struct *ssp)
{
	WARN(atomic_load(&ssp->active[0]) || atomic_load(&ssp->active[1]),
	     "SRCU cleanup with readers inside");
}

int srcu_read_lock(struct srcu_struct *ssp)
{
	int idx;

	sched_point(SP_SRCU_READ_LOCK, ssp);
	idx = (int)(atomic_load_explicit(&ssp->idx, memory_order_relaxed) & 1);
	/*
	 * seq_cst RMW: the increment is ordered before every load of the
	 * section; pairs with the flip and drain loads in synchronize_srcu().
	 */
	atomic_fetch_add(&ssp->active[idx], 1);
	current_thread()->srcu_nesting++;
	return idx;
}

void srcu_read_unlock(struct srcu_struct *ssp, int idx)
{
	current_thread()->srcu_nesting--;
	/*
	 * seq_cst RMW: releases the section to the drain load in
	 * srcu_wait_drained(), and orders before the load of @waiters
	 * (Dekker with the sleeper there).
	 */
	if (atomic_fetch_sub(&ssp->active[idx], 1) == 1 &&
	    atomic_load(&ssp->waiters)) {
		atomic_fetch_add(&ssp->wake, 1);
		kvmmu_wake(&ssp->wake);
	}
	sched_point(SP_SRCU_READ_UNLOCK, ssp);
}

static void srcu_wait_drained(struct srcu_struct *ssp, int idx)
{
	while (atomic_load(&ssp->active[idx])) {
		u32 wake = atomic_load(&ssp->wake);

		atomic_fetch_add(&ssp->waiters, 1);
		if (atomic_load(&ssp->active[idx]))
			kvmmu_block(&ssp->wake, wake);
		atomic_fetch_sub(&ssp->waiters, 1);
	}
}

void synchronize_srcu(struct srcu_struct *ssp)
{
	unsigned long idx;

	might_sleep();
	sched_point(SP_SRCU_GP, ssp);
	mutex_lock(&ssp->gp_mutex);
	idx = atomic_load(&ssp->idx);
	srcu_wait_drained(ssp, (int)((idx + 1) & 1));
	/* seq_cst: readers that sample idx after this use the other counter. */
	atomic_store(&ssp->idx, idx + 1);
	srcu_wait_drained(ssp, (int)(idx & 1));
	mutex_unlock(&ssp->gp_mutex);
}
