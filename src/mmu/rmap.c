// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reverse-map lists (see rmap.h): one word for one entry, a chain of
 * descriptors for more, the head descriptor the only one not full; the
 * rmap lock in bit 1 of the head; the quarantine of freed descriptors.
 */
#include <stdlib.h>
#include <string.h>

#include "lockdep.h"
#include "rmap.h"
#include "sched_point.h"

static struct pte_list_desc *rmap_desc(unsigned long val)
{
	return (struct pte_list_desc *)(val & ~KVM_RMAP_FLAGS);
}

/* ---- the rmap lock ------------------------------------------------------------------------ */

/*
 * Take the lock of a non-empty chain; returns the value it had (without
 * the lock bit), or 0 for an empty chain, which stays unlocked.  Spins
 * while the other side holds it: a reader holds it only for one walk of
 * one chain and takes no other lock meanwhile, a writer only for one
 * change of the chain.
 */
static unsigned long __kvm_rmap_lock(struct kvm_rmap_head *rmap_head)
{
	unsigned long old_val = atomic_load_explicit(&rmap_head->val, memory_order_relaxed);

	for (;;) {
		if (!old_val)
			return 0;
		if (old_val & KVM_RMAP_LOCKED) {
			/* Only the holder can help: a controlled scheduler switches here. */
			cpu_relax();
			old_val = atomic_load_explicit(&rmap_head->val, memory_order_relaxed);
			continue;
		}
		/*
		 * Acquire: nothing the holder does with the chain moves before
		 * the lock is taken.  Pairs with the release store of
		 * __kvm_rmap_unlock(), so the new holder sees every change the
		 * last one made to the head and its descriptors.
		 */
		if (atomic_compare_exchange_weak_explicit(&rmap_head->val, &old_val,
							  old_val | KVM_RMAP_LOCKED,
							  memory_order_acquire,
							  memory_order_relaxed))
			return old_val;
	}
}

static void __kvm_rmap_unlock(struct kvm_rmap_head *rmap_head, unsigned long val)
{
	WARN_ON_ONCE(val & KVM_RMAP_LOCKED);
	/*
	 * Release: every access to the chain inside the critical section is
	 * done before the lock is seen free.  Pairs with the acquire cmpxchg
	 * of __kvm_rmap_lock().
	 */
	atomic_store_explicit(&rmap_head->val, val, memory_order_release);
}

unsigned long kvm_rmap_lock(struct kvm *kvm, struct kvm_rmap_head *rmap_head)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	return __kvm_rmap_lock(rmap_head);
}

void kvm_rmap_unlock(struct kvm *kvm, struct kvm_rmap_head *rmap_head, unsigned long new_val)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	__kvm_rmap_unlock(rmap_head, new_val);
}

unsigned long kvm_rmap_lock_readonly(struct kvm_rmap_head *rmap_head)
{
	/* A writer may be about to change this chain: let it, or not. */
	sched_point(SP_LOCK_ACQUIRE, rmap_head);
	return __kvm_rmap_lock(rmap_head);
}

void kvm_rmap_unlock_readonly(struct kvm_rmap_head *rmap_head, unsigned long old_val)
{
	/* An empty chain was not locked. */
	if (!old_val)
		return;
	/* Writers were kept out: the chain is what the reader locked. */
	WARN_ON_ONCE(old_val != kvm_rmap_get(rmap_head));
	__kvm_rmap_unlock(rmap_head, old_val);
	sched_point(SP_LOCK_RELEASE, rmap_head);
}

/* ---- descriptors and the quarantine --------------------------------------------------- */

/* Try to empty the quarantine every this many frees. */
#define PTE_LIST_QUARANTINE_BATCH 64

static struct pte_list_desc *pte_list_desc_alloc(struct kvm *kvm,
						 struct kvm_mmu_memory_cache *cache)
{
	struct pte_list_desc *desc;

	/* The cache was topped up for the whole fault; running dry is a bug. */
	if (!WARN_ON_ONCE(!cache || !cache->nobjs)) {
		desc = cache->objects[--cache->nobjs];
	} else {
		desc = malloc(sizeof(*desc));
		if (!desc)
			abort();
	}
	/* Not yet linked: no reader can see it before the unlock publishes it. */
	memset(desc, 0, sizeof(*desc));
	atomic64_inc(&kvm->arch.nr_pte_list_descs);
	return desc;
}

static bool pte_list_desc_poisoned(const struct pte_list_desc *desc)
{
	return READ_ONCE(desc->spte_count) == PTE_LIST_DESC_POISON;
}

/* Free a list of quarantined descriptors linked through ->more. */
static void pte_list_free_chain(struct pte_list_desc *desc)
{
	struct pte_list_desc *next;

	for (; desc; desc = next) {
		next = desc->more;
		free(desc);
	}
}

static void pte_list_quarantine_push(struct kvm *kvm, struct pte_list_desc *first,
				     struct pte_list_desc *last)
{
	struct pte_list_desc *top = atomic_load(&kvm->arch.pte_list_quarantine);

	/* seq_cst: see pte_list_quarantine_drain(). */
	do {
		WRITE_ONCE(last->more, top);
	} while (!atomic_compare_exchange_weak(&kvm->arch.pte_list_quarantine, &top, first));
}

/*
 * Free what the quarantine holds if no lockless walker runs.  The
 * descriptors taken were unlinked from their chains before they were
 * pushed, and the exchange that takes them reads those pushes; the full
 * barrier then orders the unlinks before the read of the walker count.
 * It pairs with the barrier of kvm_rmap_walk_lockless_begin() between the
 * walker's increment and its first read of a head: either the walker is
 * counted here (and the descriptors go back), or it reads the heads after
 * the unlinks and can never reach a descriptor taken.
 */
static void pte_list_quarantine_drain(struct kvm *kvm)
{
	struct pte_list_desc *list = atomic_exchange(&kvm->arch.pte_list_quarantine, NULL);
	struct pte_list_desc *last;

	if (!list)
		return;
	smp_mb();
	if (!atomic_read(&kvm->arch.rmap_lockless_walkers)) {
		pte_list_free_chain(list);
		return;
	}
	for (last = list; last->more; last = last->more)
		;
	pte_list_quarantine_push(kvm, list, last);
}

/*
 * A descriptor leaves its chain (already unlinked, under the rmap lock):
 * poison it and park it.  Its counts read PTE_LIST_DESC_POISON and its
 * entries NULL, so a walker that reaches it without the lock sees that it
 * was freed; the memory stays valid until no such walker can exist.
 */
static void pte_list_desc_free(struct kvm *kvm, struct pte_list_desc *desc)
{
	int i;

	atomic64_dec(&kvm->arch.nr_pte_list_descs);
	/* The count first: a walker checks it after it read an entry. */
	WRITE_ONCE(desc->spte_count, PTE_LIST_DESC_POISON);
	WRITE_ONCE(desc->tail_count, PTE_LIST_DESC_POISON);
	smp_wmb();
	for (i = 0; i < PTE_LIST_EXT; i++)
		WRITE_ONCE(desc->sptes[i], NULL);
	pte_list_quarantine_push(kvm, desc, desc);
	atomic64_inc(&kvm->arch.pte_list_desc_frees);
}

/*
 * After a change that freed descriptors, once the head no longer leads to
 * them (the rmap lock released): every so many frees, try to empty the
 * quarantine.
 */
static void pte_list_quarantine_maybe_drain(struct kvm *kvm)
{
	if (atomic64_read(&kvm->arch.pte_list_desc_frees) < PTE_LIST_QUARANTINE_BATCH)
		return;
	atomic64_set(&kvm->arch.pte_list_desc_frees, 0);
	pte_list_quarantine_drain(kvm);
}

void pte_list_quarantine_free_all(struct kvm *kvm)
{
	WARN_ON_ONCE(atomic_read(&kvm->arch.rmap_lockless_walkers));
	pte_list_free_chain(atomic_exchange(&kvm->arch.pte_list_quarantine, NULL));
}

void kvm_rmap_walk_lockless_begin(struct kvm *kvm)
{
	atomic_inc(&kvm->arch.rmap_lockless_walkers);
	/*
	 * The count is up before any head is read.  Pairs with the smp_mb()
	 * of pte_list_quarantine_drain().
	 */
	smp_mb__after_atomic();
}

void kvm_rmap_walk_lockless_end(struct kvm *kvm)
{
	/* Every read of the walk is done before the count goes down. */
	smp_mb__before_atomic();
	atomic_dec(&kvm->arch.rmap_lockless_walkers);
}

/* ---- changes (mmu_lock for write, the rmap lock held) -------------------------------- */

int pte_list_add(struct kvm *kvm, struct kvm_mmu_memory_cache *cache, _Atomic u64 *spte,
		 struct kvm_rmap_head *rmap_head)
{
	unsigned long old_val, new_val;
	struct pte_list_desc *desc;
	int count = 0;

	old_val = kvm_rmap_lock(kvm, rmap_head);
	if (!old_val) {
		new_val = (unsigned long)spte;
	} else if (!(old_val & KVM_RMAP_MANY)) {
		/* One entry becomes a descriptor holding two. */
		desc = pte_list_desc_alloc(kvm, cache);
		desc->sptes[0] = (_Atomic u64 *)old_val;
		desc->sptes[1] = spte;
		desc->spte_count = 2;
		desc->tail_count = 0;
		new_val = (unsigned long)desc | KVM_RMAP_MANY;
		count = 1;
	} else {
		desc = rmap_desc(old_val);
		count = (int)(desc->tail_count + desc->spte_count);
		new_val = old_val;
		/* A full head gets a new, empty head in front of it. */
		if (desc->spte_count == PTE_LIST_EXT) {
			struct pte_list_desc *head = pte_list_desc_alloc(kvm, cache);

			head->more = desc;
			head->tail_count = (u32)count;
			head->spte_count = 0;
			desc = head;
			new_val = (unsigned long)desc | KVM_RMAP_MANY;
		}
		WRITE_ONCE(desc->sptes[desc->spte_count], spte);
		WRITE_ONCE(desc->spte_count, desc->spte_count + 1);
	}
	kvm_rmap_unlock(kvm, rmap_head, new_val);
	return count;
}

/*
 * Fill the hole at @desc->sptes[@i] with the head's last entry.  Returns
 * the head's new value.
 */
static unsigned long pte_list_desc_remove_entry(struct kvm *kvm, unsigned long val,
						struct pte_list_desc *desc, int i)
{
	struct pte_list_desc *head = rmap_desc(val);
	int j = (int)head->spte_count - 1;

	/*
	 * Tails are full, so the entry to move is the head's last.  A
	 * mismatch in the counts means a corrupted chain.
	 */
	if (KVM_BUG_ON(j < 0, kvm))
		return val;
	WRITE_ONCE(desc->sptes[i], head->sptes[j]);
	WRITE_ONCE(head->sptes[j], NULL);
	WRITE_ONCE(head->spte_count, head->spte_count - 1);
	if (head->spte_count)
		return val;

	/* The head is empty: the next descriptor (full) takes its place. */
	val = head->more ? (unsigned long)head->more | KVM_RMAP_MANY : 0;
	pte_list_desc_free(kvm, head);
	return val;
}

void pte_list_remove(struct kvm *kvm, _Atomic u64 *spte, struct kvm_rmap_head *rmap_head)
{
	unsigned long val = kvm_rmap_lock(kvm, rmap_head);
	struct pte_list_desc *desc;
	int i;

	if (KVM_BUG_ON(!val, kvm))
		goto out;
	if (!(val & KVM_RMAP_MANY)) {
		if (!KVM_BUG_ON((_Atomic u64 *)val != spte, kvm))
			val = 0;
		goto out;
	}
	for (desc = rmap_desc(val); desc; desc = desc->more) {
		for (i = 0; i < (int)desc->spte_count; i++) {
			if (desc->sptes[i] == spte) {
				/*
				 * The head's new value is stored (unlinking
				 * an emptied head) only at the unlock, after
				 * the free: a locked chain has no readers.
				 */
				val = pte_list_desc_remove_entry(kvm, val, desc, i);
				goto out;
			}
		}
	}
	KVM_BUG_ON(true, kvm);
out:
	kvm_rmap_unlock(kvm, rmap_head, val);
	pte_list_quarantine_maybe_drain(kvm);
}

void pte_list_destroy(struct kvm *kvm, struct kvm_rmap_head *rmap_head)
{
	unsigned long val = __kvm_rmap_lock(rmap_head);
	struct pte_list_desc *desc, *next;

	if (val & KVM_RMAP_MANY) {
		for (desc = rmap_desc(val); desc; desc = next) {
			next = desc->more;
			pte_list_desc_free(kvm, desc);
		}
	}
	__kvm_rmap_unlock(rmap_head, 0);
	pte_list_quarantine_maybe_drain(kvm);
}

unsigned int pte_list_count(const struct kvm_rmap_head *rmap_head)
{
	unsigned long val = kvm_rmap_get(rmap_head);
	struct pte_list_desc *desc;

	if (!val)
		return 0;
	if (!(val & KVM_RMAP_MANY))
		return 1;
	desc = rmap_desc(val);
	return desc->tail_count + desc->spte_count;
}

/* ---- walks ------------------------------------------------------------------------------ */

static _Atomic u64 *__rmap_get_first(unsigned long val, struct rmap_iterator *iter)
{
	iter->freed = NULL;
	if (!val)
		return NULL;
	if (!(val & KVM_RMAP_MANY)) {
		iter->desc = NULL;
		return (_Atomic u64 *)val;
	}
	iter->desc = rmap_desc(val);
	iter->pos = 0;
	return iter->desc->sptes[0];
}

_Atomic u64 *rmap_get_first(const struct kvm_rmap_head *rmap_head, struct rmap_iterator *iter)
{
	/* A lockless reader may hold the lock bit meanwhile: not our concern. */
	return __rmap_get_first(kvm_rmap_get(rmap_head), iter);
}

_Atomic u64 *rmap_get_next(struct rmap_iterator *iter)
{
	if (!iter->desc)
		return NULL;
	if (iter->pos < PTE_LIST_EXT - 1) {
		++iter->pos;
		if (iter->pos < (int)iter->desc->spte_count && iter->desc->sptes[iter->pos])
			return iter->desc->sptes[iter->pos];
	}
	iter->desc = iter->desc->more;
	if (iter->desc) {
		iter->pos = 0;
		/* Descriptors after the head are full. */
		return iter->desc->sptes[0];
	}
	return NULL;
}

/*
 * Entry @pos of @iter->desc for a lockless walker: read the entry, then
 * the count.  A descriptor is poisoned count first (pte_list_desc_free()),
 * so an entry read from a descriptor being freed comes with the poison.
 */
static _Atomic u64 *rmap_lockless_entry(struct rmap_iterator *iter)
{
	struct pte_list_desc *desc = iter->desc;
	_Atomic u64 *sptep = READ_ONCE(desc->sptes[iter->pos]);
	u32 count;

	/* Pairs with the smp_wmb() of pte_list_desc_free(). */
	smp_rmb();
	count = READ_ONCE(desc->spte_count);
	if (count == PTE_LIST_DESC_POISON) {
		iter->freed = desc;
		iter->desc = NULL;
		return NULL;
	}
	return iter->pos < (int)count ? sptep : NULL;
}

_Atomic u64 *rmap_get_first_lockless(unsigned long rmap_val, struct rmap_iterator *iter)
{
	iter->freed = NULL;
	if (!rmap_val)
		return NULL;
	if (!(rmap_val & KVM_RMAP_MANY)) {
		iter->desc = NULL;
		return (_Atomic u64 *)rmap_val;
	}
	iter->desc = rmap_desc(rmap_val);
	iter->pos = 0;
	return rmap_lockless_entry(iter);
}

_Atomic u64 *rmap_get_next_lockless(struct rmap_iterator *iter)
{
	struct pte_list_desc *desc = iter->desc;
	_Atomic u64 *sptep;

	if (!desc)
		return NULL;
	if (++iter->pos < PTE_LIST_EXT) {
		sptep = rmap_lockless_entry(iter);
		if (sptep || iter->freed)
			return sptep;
	}
	/* ->more is the quarantine's link once freed: check the poison after it. */
	iter->desc = READ_ONCE(desc->more);
	smp_rmb();
	if (pte_list_desc_poisoned(desc)) {
		iter->freed = desc;
		iter->desc = NULL;
		return NULL;
	}
	if (!iter->desc)
		return NULL;
	iter->pos = 0;
	return rmap_lockless_entry(iter);
}
