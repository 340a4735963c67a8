/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reverse maps: for one gfn at one level, the set of SPTE pointers that map
 * it; and, with the same list type, a shadow page's parent SPTEs.
 *
 * The head is one word.  0: empty.  Bit 0 clear: the word is the only
 * SPTE pointer.  Bit 0 set: the word (without bit 0) points to a chain of
 * struct pte_list_desc.  New descriptors go at the head, so every
 * descriptor after the head is full, and the head's tail_count counts the
 * entries of all of them: a list's length is head.spte_count +
 * head.tail_count, without a walk.  Removing an entry moves the head's
 * last one into the hole (order is not kept) and frees an emptied head.
 *
 * Every change needs mmu_lock for write.  Descriptors come from a memory
 * cache filled before the lock is taken; a removal frees at once.  The VM
 * counts its live descriptors (kvm->arch.nr_pte_list_descs) so that a
 * teardown can show none leaked.
 */
#ifndef KVMMU_MMU_RMAP_H
#define KVMMU_MMU_RMAP_H

#include "kvm_host.h"

/* Entries per descriptor: with the two counts and the link, 128 bytes. */
#define PTE_LIST_EXT 14

/* A chain longer than this is zapped whole rather than grown (KVM's cap). */
#define RMAP_RECYCLE_THRESHOLD 1000

struct pte_list_desc {
	struct pte_list_desc *more;
	u32 spte_count; /* entries used in this descriptor */
	u32 tail_count; /* entries in all later descriptors (all full) */
	_Atomic u64 *sptes[PTE_LIST_EXT];
};

static_assert(sizeof(struct pte_list_desc) == 128, "pte_list_desc is two cache lines");

struct kvm_rmap_head {
	unsigned long val;
};

/*
 * Add @spte to @rmap_head, taking a descriptor from @cache when one is
 * needed.  Returns the number of entries before the add.
 */
int pte_list_add(struct kvm *kvm, struct kvm_mmu_memory_cache *cache, _Atomic u64 *spte,
		 struct kvm_rmap_head *rmap_head);
/* Remove @spte, which must be there (a missing one is a KVM_BUG). */
void pte_list_remove(struct kvm *kvm, _Atomic u64 *spte, struct kvm_rmap_head *rmap_head);
/* Empty the list, freeing its descriptors. */
void pte_list_destroy(struct kvm *kvm, struct kvm_rmap_head *rmap_head);
unsigned int pte_list_count(const struct kvm_rmap_head *rmap_head);

/* Descriptors a vCPU's cache must hold before an add may run dry (KVM's). */
#define PTE_PREFETCH_NUM 8

/*
 * Iteration.  The list must not change during a walk, except that the
 * entry just returned may be removed if the walk then restarts with
 * rmap_get_first() (as the zappers do).
 */
struct rmap_iterator {
	struct pte_list_desc *desc; /* NULL: the head is a single pointer */
	int pos;
};

_Atomic u64 *rmap_get_first(const struct kvm_rmap_head *rmap_head, struct rmap_iterator *iter);
_Atomic u64 *rmap_get_next(struct rmap_iterator *iter);

#define for_each_rmap_spte(_rmap_head_, _iter_, _sptep_)                     \
	for (_sptep_ = rmap_get_first(_rmap_head_, _iter_); _sptep_;          \
	     _sptep_ = rmap_get_next(_iter_))

#endif /* KVMMU_MMU_RMAP_H */
