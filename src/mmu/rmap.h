/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reverse maps: for one gfn at one level, the set of SPTE pointers that map
 * it; and, with the same list type, a shadow page's parent SPTEs.
 *
 * The head is one word.  0: empty.  Bit 0 (KVM_RMAP_MANY) clear: the word
 * is the only SPTE pointer.  Bit 0 set: the word (without its low bits)
 * points to a chain of struct pte_list_desc.  Bit 1 (KVM_RMAP_LOCKED) is
 * the rmap lock.  New descriptors go at the head, so every descriptor
 * after the head is full, and the head's tail_count counts the entries of
 * all of them: a list's length is head.spte_count + head.tail_count,
 * without a walk.  Removing an entry moves the head's last one into the
 * hole (order is not kept) and frees an emptied head.
 *
 * Locking.  Every change needs mmu_lock for write, and takes the rmap lock
 * of the head for the time of the change: mmu_lock orders the writers
 * among themselves, the rmap lock keeps lockless readers out.  The only
 * lockless readers are aging (kvm_age_gfn() and kvm_test_age_gfn() without
 * mmu_lock): a reader locks the chain with kvm_rmap_lock_readonly(), walks
 * it from the head value that returned, and unlocks it unchanged.  An
 * empty chain is never locked, by readers or writers: a reader has nothing
 * to walk, and only writers, serialised by mmu_lock, fill it.  The lock
 * protects the chain (head, descriptors, the SPTE pointers in them) and so
 * keeps every shadow page whose SPTE is listed alive; it does not protect
 * the SPTEs' values, which a writer may zap while a reader holds the lock:
 * readers skip what is no longer present, and change an SPTE only
 * atomically against the value they read.  Walks under mmu_lock (held for
 * write) need no rmap lock: nobody else may change the chain.
 *
 * Descriptors come from a memory cache filled before mmu_lock is taken.  A
 * freed descriptor is poisoned and parked in the VM's quarantine until no
 * lockless walker can still hold it (see pte_list_desc_free()), so that a
 * reader that walks without the lock reads poison, which it reports
 * (KVMMU_EV_RMAP_FREED_READ), rather than freed memory.  The VM counts its
 * live descriptors (kvm->arch.nr_pte_list_descs) so that a teardown can
 * show none leaked.
 */
#ifndef KVMMU_MMU_RMAP_H
#define KVMMU_MMU_RMAP_H

#include "kvm_host.h"

/* Entries per descriptor: with the two counts and the link, 128 bytes. */
#define PTE_LIST_EXT 14

/* A chain longer than this is zapped whole rather than grown (KVM's cap). */
#define RMAP_RECYCLE_THRESHOLD 1000

/* The head's low bits. */
#define KVM_RMAP_MANY 1UL   /* the word points to a pte_list_desc chain */
#define KVM_RMAP_LOCKED 2UL /* the rmap lock */
#define KVM_RMAP_FLAGS (KVM_RMAP_MANY | KVM_RMAP_LOCKED)

/* What a freed descriptor's counts read (never a valid count). */
#define PTE_LIST_DESC_POISON 0x6b6b6b6bU

struct pte_list_desc {
	struct pte_list_desc *more;
	u32 spte_count; /* entries used in this descriptor */
	u32 tail_count; /* entries in all later descriptors (all full) */
	_Atomic u64 *sptes[PTE_LIST_EXT];
};

static_assert(sizeof(struct pte_list_desc) == 128, "pte_list_desc is two cache lines");

struct kvm_rmap_head {
	_Atomic unsigned long val;
};

/* The head's value without the lock bit: what the chain is. */
static inline unsigned long kvm_rmap_get(const struct kvm_rmap_head *rmap_head)
{
	return atomic_load_explicit(&((struct kvm_rmap_head *)rmap_head)->val,
				    memory_order_relaxed) & ~KVM_RMAP_LOCKED;
}

/*
 * The rmap lock for a writer (mmu_lock held for write): waits for a
 * reader to let go and returns the head's value, 0 for an empty chain,
 * which is not locked.  kvm_rmap_unlock() stores the new value (which may
 * be 0) and releases the lock.
 */
unsigned long kvm_rmap_lock(struct kvm *kvm, struct kvm_rmap_head *rmap_head);
void kvm_rmap_unlock(struct kvm *kvm, struct kvm_rmap_head *rmap_head, unsigned long new_val);

/*
 * The rmap lock for a lockless reader: returns the value to walk from, 0
 * (not locked) for an empty chain.  The reader must not change the chain;
 * kvm_rmap_unlock_readonly() puts the value back, without the lock bit.
 */
unsigned long kvm_rmap_lock_readonly(struct kvm_rmap_head *rmap_head);
void kvm_rmap_unlock_readonly(struct kvm_rmap_head *rmap_head, unsigned long old_val);

/*
 * Add @spte to @rmap_head, taking a descriptor from @cache when one is
 * needed.  Returns the number of entries before the add.  mmu_lock for
 * write.
 */
int pte_list_add(struct kvm *kvm, struct kvm_mmu_memory_cache *cache, _Atomic u64 *spte,
		 struct kvm_rmap_head *rmap_head);
/* Remove @spte, which must be there (a missing one is a KVM_BUG).  mmu_lock for write. */
void pte_list_remove(struct kvm *kvm, _Atomic u64 *spte, struct kvm_rmap_head *rmap_head);
/*
 * Empty the list, freeing its descriptors.  The caller owns the chain:
 * mmu_lock for write, or the memslot it belongs to is gone.
 */
void pte_list_destroy(struct kvm *kvm, struct kvm_rmap_head *rmap_head);
unsigned int pte_list_count(const struct kvm_rmap_head *rmap_head);

/*
 * Around a lockless walk of rmaps: while one runs, no quarantined
 * descriptor is freed.  No lock, no sched point.
 */
void kvm_rmap_walk_lockless_begin(struct kvm *kvm);
void kvm_rmap_walk_lockless_end(struct kvm *kvm);

/*
 * Free the quarantined descriptors, all of them: only when no lockless
 * walker can exist any more (the VM is being destroyed).
 */
void pte_list_quarantine_free_all(struct kvm *kvm);

/* Descriptors a vCPU's cache must hold before an add may run dry (KVM's). */
#define PTE_PREFETCH_NUM 8

/*
 * Iteration under mmu_lock.  The list must not change during a walk,
 * except that the entry just returned may be removed if the walk then
 * restarts with rmap_get_first() (as the zappers do).
 */
struct rmap_iterator {
	struct pte_list_desc *desc; /* NULL: the head is a single pointer */
	int pos;
	/* Lockless walks: the freed descriptor the walk stopped at, or NULL. */
	struct pte_list_desc *freed;
};

_Atomic u64 *rmap_get_first(const struct kvm_rmap_head *rmap_head, struct rmap_iterator *iter);
_Atomic u64 *rmap_get_next(struct rmap_iterator *iter);

#define for_each_rmap_spte(_rmap_head_, _iter_, _sptep_)                     \
	for (_sptep_ = rmap_get_first(_rmap_head_, _iter_); _sptep_;          \
	     _sptep_ = rmap_get_next(_iter_))

/*
 * Lockless iteration, from the value kvm_rmap_lock_readonly() returned.
 * Under the lock it is the walk above; without it (a bug) a descriptor
 * may be freed under the walker, which then reads its poison: the walk
 * ends there with iter->freed set, for the caller to report.
 */
_Atomic u64 *rmap_get_first_lockless(unsigned long rmap_val, struct rmap_iterator *iter);
_Atomic u64 *rmap_get_next_lockless(struct rmap_iterator *iter);

#define for_each_rmap_spte_lockless(_rmap_val_, _iter_, _sptep_)             \
	for (_sptep_ = rmap_get_first_lockless(_rmap_val_, _iter_); _sptep_;  \
	     _sptep_ = rmap_get_next_lockless(_iter_))

#endif /* KVMMU_MMU_RMAP_H */
