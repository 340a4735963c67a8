// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mmu_notifier chain of an mm.
 *
 * Subscriptions form an SRCU-protected list: dispatch walks it inside an
 * SRCU read section (callbacks may sleep), writers link and unlink under
 * notifier_lock and wait for a grace period before a subscription may be
 * freed.  After invalidate_range_start() has called every subscriber, the
 * host posts KVMMU_EV_NOTIFIER_START: that is the moment at which nothing
 * in the range may be mapped by a secondary MMU any more.
 */
#include <errno.h>

#include "bug.h"
#include "host_mm.h"
#include "observe.h"
#include "rcu.h"

#define for_each_subscription(mm, sub)                                        \
	for ((sub) = srcu_dereference((mm)->subscriptions, &(mm)->notifier_srcu); \
	     (sub); (sub) = srcu_dereference((sub)->next, &(mm)->notifier_srcu))

int host_mmu_notifier_register(struct mmu_notifier *sub, struct mm_struct *mm)
{
	might_sleep();
	spin_lock(&mm->notifier_lock);
	if (mm->released) {
		spin_unlock(&mm->notifier_lock);
		return -ESRCH;
	}
	sub->mm = mm;
	sub->next = mm->subscriptions;
	sub->pprev = &mm->subscriptions;
	if (sub->next)
		sub->next->pprev = &sub->next;
	/* Release: the subscription is initialised before readers can see it. */
	rcu_assign_pointer(mm->subscriptions, sub);
	spin_unlock(&mm->notifier_lock);
	return 0;
}

/* Under notifier_lock. */
static void unlink_subscription(struct mmu_notifier *sub)
{
	rcu_assign_pointer(*sub->pprev, sub->next);
	if (sub->next)
		sub->next->pprev = sub->pprev;
	sub->pprev = NULL;
}

void host_mmu_notifier_unregister(struct mmu_notifier *sub, struct mm_struct *mm)
{
	bool linked;
	int idx;

	might_sleep();
	spin_lock(&mm->notifier_lock);
	linked = sub->pprev != NULL;
	spin_unlock(&mm->notifier_lock);

	/*
	 * As in Linux: a subscriber that leaves a live mm is told to drop
	 * everything first, exactly as if the mm were being released.
	 */
	if (linked && sub->ops->release) {
		idx = srcu_read_lock(&mm->notifier_srcu);
		sub->ops->release(sub, mm);
		srcu_read_unlock(&mm->notifier_srcu, idx);
	}
	spin_lock(&mm->notifier_lock);
	if (sub->pprev)
		unlink_subscription(sub);
	spin_unlock(&mm->notifier_lock);
	synchronize_srcu(&mm->notifier_srcu);
}

void mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
	struct mm_struct *mm = range->mm;
	struct mmu_notifier *sub;
	int idx;

	idx = srcu_read_lock(&mm->notifier_srcu);
	for_each_subscription(mm, sub) {
		if (sub->ops->invalidate_range_start) {
			int ret = sub->ops->invalidate_range_start(sub, range);

			WARN_ON(ret && mmu_notifier_range_blockable(range));
		}
	}
	srcu_read_unlock(&mm->notifier_srcu, idx);
	kvmmu_observe(KVMMU_EV_NOTIFIER_START, notifier, .mm = mm,
		      .start = range->start, .end = range->end,
		      .event = range->event);
}

void mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range)
{
	struct mm_struct *mm = range->mm;
	struct mmu_notifier *sub;
	int idx;

	idx = srcu_read_lock(&mm->notifier_srcu);
	for_each_subscription(mm, sub) {
		if (sub->ops->invalidate_range_end)
			sub->ops->invalidate_range_end(sub, range);
	}
	srcu_read_unlock(&mm->notifier_srcu, idx);
	kvmmu_observe(KVMMU_EV_NOTIFIER_END, notifier, .mm = mm,
		      .start = range->start, .end = range->end,
		      .event = range->event);
}

void mmu_notifier_release(struct mm_struct *mm)
{
	struct mmu_notifier *sub;
	int idx;

	idx = srcu_read_lock(&mm->notifier_srcu);
	for_each_subscription(mm, sub) {
		if (sub->ops->release)
			sub->ops->release(sub, mm);
	}
	srcu_read_unlock(&mm->notifier_srcu, idx);

	spin_lock(&mm->notifier_lock);
	while (mm->subscriptions)
		unlink_subscription(mm->subscriptions);
	mm->released = true;
	spin_unlock(&mm->notifier_lock);
	synchronize_srcu(&mm->notifier_srcu);
}

static bool age_subscribers(struct mm_struct *mm, unsigned long start,
			    unsigned long end, int how)
{
	struct mmu_notifier *sub;
	bool young = false;
	int idx;

	/* The kernel ages what a page-table walk found: never an empty or wrapped range. */
	if (end <= start)
		return false;
	idx = srcu_read_lock(&mm->notifier_srcu);
	for_each_subscription(mm, sub) {
		const struct mmu_notifier_ops *ops = sub->ops;

		if (how == 0 && ops->clear_flush_young)
			young |= ops->clear_flush_young(sub, mm, start, end);
		else if (how == 1 && ops->clear_young)
			young |= ops->clear_young(sub, mm, start, end);
		else if (how == 2 && ops->test_young)
			young |= ops->test_young(sub, mm, start, end);
	}
	srcu_read_unlock(&mm->notifier_srcu, idx);
	return young;
}

/* Host accessed bits in [start, end): any set?  Clear them if @clear. */
static bool age_host_ptes(struct mm_struct *mm, unsigned long start,
			  unsigned long end, bool clear)
{
	unsigned long addr = start;
	bool young = false;

	spin_lock(&mm->ptl);
	while (addr < end) {
		int level;
		_Atomic u64 *slot = host_pgtable_leaf(mm, addr, &level);
		u64 size = host_level_size(level);
		u64 e = atomic_load(slot);

		if (hpte_present(e) && (e & HPTE_ACCESSED)) {
			young = true;
			if (clear)
				atomic_fetch_and(slot, ~HPTE_ACCESSED);
		}
		addr = ALIGN_DOWN(addr, size) + size;
	}
	spin_unlock(&mm->ptl);
	return young;
}

bool host_clear_flush_young(struct mm_struct *mm, unsigned long start,
			    unsigned long end)
{
	bool young = age_host_ptes(mm, start, end, true);

	return age_subscribers(mm, start, end, 0) || young;
}

bool host_clear_young(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	bool young = age_host_ptes(mm, start, end, true);

	return age_subscribers(mm, start, end, 1) || young;
}

bool host_test_young(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	bool young = age_host_ptes(mm, start, end, false);

	return age_subscribers(mm, start, end, 2) || young;
}
