// SPDX-License-Identifier: GPL-2.0-only
/*
 * SRCU: the kernel's two-index algorithm over per-thread reader counts.
 *
 * Why two waits per grace period: a reader may sample idx, stall, and only
 * then bump the lock count of the old idx after a flip.  The grace period that
 * flipped is safe from it (its increment comes after the flip in the seq_cst
 * order, so its loads see everything removed before the grace period), but
 * it counts on the now-inactive index; the *next* grace period would miss
 * it if it only waited for the index it flips away from.  So each grace
 * period first drains the inactive index, then flips, then drains the old
 * active one.
 *
 * Why unlocks are summed before locks: a reader's unlock is ordered after its
 * lock (program order, both seq_cst RMWs), so a sum of unlocks that includes
 * it is followed by a sum of locks that includes its lock.  Equal sums then
 * mean no counted lock lacks its unlock.  A reader that locks between the
 * two sums only makes the locks larger: "not drained", and we look again.
 * The counts are 64-bit and only grow, so they never wrap in practice.
 */
#include "bug.h"
#include "sched_point.h"
#include "srcu.h"
#include "wait.h"

int init_srcu_struct(struct srcu_struct *ssp)
{
	int i;

	atomic_store(&ssp->idx, 0);
	atomic_store(&ssp->wake, 0);
	atomic_store(&ssp->waiters, 0);
	for (i = 0; i < SRCU_NR_SHARDS; i++) {
		atomic_store(&ssp->shards[i].lock[0], 0);
		atomic_store(&ssp->shards[i].lock[1], 0);
		atomic_store(&ssp->shards[i].unlock[0], 0);
		atomic_store(&ssp->shards[i].unlock[1], 0);
	}
	mutex_init(&ssp->gp_mutex);
	return 0;
}

static struct srcu_shard *srcu_this_shard(struct srcu_struct *ssp)
{
	return &ssp->shards[(unsigned int)current_thread()->id % SRCU_NR_SHARDS];
}

/* Does index @idx have no reader inside?  See the comment at the top. */
static bool srcu_readers_drained(struct srcu_struct *ssp, int idx)
{
	unsigned long unlocks = 0, locks = 0;
	int i;

	/* seq_cst loads: pair with the readers' seq_cst RMWs. */
	for (i = 0; i < SRCU_NR_SHARDS; i++)
		unlocks += atomic_load(&ssp->shards[i].unlock[idx]);
	for (i = 0; i < SRCU_NR_SHARDS; i++)
		locks += atomic_load(&ssp->shards[i].lock[idx]);
	return locks == unlocks;
}

void cleanup_srcu_struct(struct srcu_struct *ssp)
{
	WARN(!srcu_readers_drained(ssp, 0) || !srcu_readers_drained(ssp, 1),
	     "SRCU cleanup with readers inside");
}

int srcu_read_lock(struct srcu_struct *ssp)
{
	int idx;

	sched_point(SP_SRCU_READ_LOCK, ssp);
	idx = (int)(atomic_load_explicit(&ssp->idx, memory_order_relaxed) & 1);
	/*
	 * seq_cst RMW: the increment is ordered before every load of the
	 * section; pairs with the flip and the drain loads in synchronize_srcu().
	 */
	atomic_fetch_add(&srcu_this_shard(ssp)->lock[idx], 1);
	current_thread()->srcu_nesting++;
	return idx;
}

void srcu_read_unlock(struct srcu_struct *ssp, int idx)
{
	current_thread()->srcu_nesting--;
	/*
	 * seq_cst RMW: releases the section to the drain loads in
	 * srcu_readers_drained(), and orders before the load of @waiters
	 * (Dekker with the sleeper in srcu_wait_drained()).  Any unlock may be
	 * the last one, so each wakes a sleeping grace period to look again.
	 */
	atomic_fetch_add(&srcu_this_shard(ssp)->unlock[idx], 1);
	if (atomic_load(&ssp->waiters)) {
		atomic_fetch_add(&ssp->wake, 1);
		kvmmu_wake(&ssp->wake);
	}
	sched_point(SP_SRCU_READ_UNLOCK, ssp);
}

static void srcu_wait_drained(struct srcu_struct *ssp, int idx)
{
	while (!srcu_readers_drained(ssp, idx)) {
		u32 wake = atomic_load(&ssp->wake);

		/* seq_cst: Dekker with the unlock-then-load-waiters above. */
		atomic_fetch_add(&ssp->waiters, 1);
		if (!srcu_readers_drained(ssp, idx))
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
	/* seq_cst: readers that sample idx after this use the other index. */
	atomic_store(&ssp->idx, idx + 1);
	srcu_wait_drained(ssp, (int)(idx & 1));
	mutex_unlock(&ssp->gp_mutex);
}
