/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The TDP MMU: two-dimensional paging tables (EPT/NPT) built and torn down
 * by many threads at once.
 *
 * Faults map under mmu_lock held for read, every change a cmpxchg on a
 * known old value; multi-step changes under the read lock pass through
 * FROZEN_SPTE.  Tables are freed after an RCU grace period.  Roots live on
 * kvm->arch.tdp_mmu_roots with a reference count: vCPUs and the MMU itself
 * hold long-lived references, iterators short ones.
 */
#ifndef KVMMU_MMU_TDP_MMU_H
#define KVMMU_MMU_TDP_MMU_H

#include "mmu_internal.h"

void kvm_mmu_init_tdp_mmu(struct kvm *kvm);
void kvm_mmu_uninit_tdp_mmu(struct kvm *kvm);

/* Roots. */
int kvm_tdp_mmu_alloc_root(struct kvm_vcpu *vcpu);
bool __must_check kvm_tdp_mmu_get_root(struct kvm *kvm, struct kvm_mmu_page *root);
void kvm_tdp_mmu_put_root(struct kvm *kvm, struct kvm_mmu_page *root);
void kvm_tdp_mmu_invalidate_all_roots(struct kvm *kvm);
void kvm_tdp_mmu_zap_invalidated_roots(struct kvm *kvm);

/* Faults. */
int kvm_tdp_mmu_map(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);
_Atomic u64 *kvm_tdp_mmu_fast_pf_get_last_sptep(struct kvm_vcpu *vcpu, gfn_t gfn,
						u64 *spte, int *level);
int kvm_tdp_mmu_get_walk(struct kvm_vcpu *vcpu, u64 addr, u64 *sptes, int *root_level);

/* Zaps. */
bool kvm_tdp_mmu_zap_leafs(struct kvm *kvm, gfn_t start, gfn_t end, bool flush);
bool kvm_tdp_mmu_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range,
				 bool flush);
void kvm_tdp_mmu_zap_all(struct kvm *kvm);
bool kvm_tdp_mmu_zap_possible_nx_huge_page(struct kvm *kvm, struct kvm_mmu_page *sp);

/* Aging, without mmu_lock. */
bool kvm_tdp_mmu_age_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range);
bool kvm_tdp_mmu_test_age_gfn(struct kvm *kvm, struct kvm_gfn_range *range);

/* Dirty logging and write protection. */
bool kvm_tdp_mmu_wrprot_slot(struct kvm *kvm, const struct kvm_memory_slot *slot,
			     int min_level);
bool kvm_tdp_mmu_clear_dirty_slot(struct kvm *kvm, const struct kvm_memory_slot *slot);
void kvm_tdp_mmu_clear_dirty_pt_masked(struct kvm *kvm, struct kvm_memory_slot *slot,
				       gfn_t gfn, unsigned long mask, bool wrprot);
bool kvm_tdp_mmu_write_protect_gfn(struct kvm *kvm, struct kvm_memory_slot *slot,
				   gfn_t gfn, int min_level);
int kvm_tdp_mmu_try_split_huge_pages(struct kvm *kvm, const struct kvm_memory_slot *slot,
				     gfn_t start, gfn_t end, int target_level, bool shared);
void kvm_tdp_mmu_recover_huge_pages(struct kvm *kvm, const struct kvm_memory_slot *slot);

/*
 * The read-lock zap for a change that owes a flush: FROZEN, remote TLB
 * flush, then the non-present value.  Returns -EBUSY if the SPTE was not
 * @iter->old_spte any more (which is then refreshed).
 */
struct tdp_iter;
int __must_check tdp_mmu_zap_spte_atomic(struct kvm *kvm, struct tdp_iter *iter);
int __must_check tdp_mmu_set_spte_atomic(struct kvm *kvm, struct tdp_iter *iter,
					 u64 new_spte);

/* Iterate over the roots, taking a reference on each, so the lock may be dropped. */
struct kvm_mmu_page *tdp_mmu_next_root(struct kvm *kvm, struct kvm_mmu_page *prev_root,
				       bool only_valid);

#define __for_each_tdp_mmu_root_yield_safe(_kvm, _root, _as_id, _only_valid)   \
	for (_root = tdp_mmu_next_root(_kvm, NULL, _only_valid);              \
	     ({ lockdep_assert_held(&(_kvm)->mmu_lock); }), _root;           \
	     _root = tdp_mmu_next_root(_kvm, _root, _only_valid))             \
		if ((_as_id) >= 0 && kvm_mmu_page_as_id(_root) != (_as_id)) { \
		} else

#define for_each_valid_tdp_mmu_root_yield_safe(_kvm, _root, _as_id)            \
	__for_each_tdp_mmu_root_yield_safe(_kvm, _root, _as_id, true)

#define for_each_tdp_mmu_root_yield_safe(_kvm, _root)                          \
	for (_root = tdp_mmu_next_root(_kvm, NULL, false);                    \
	     ({ lockdep_assert_held(&(_kvm)->mmu_lock); }), _root;           \
	     _root = tdp_mmu_next_root(_kvm, _root, false))

/* Without references: mmu_lock held for write, no yielding. */
#define for_each_tdp_mmu_root(_kvm, _root, _as_id)                             \
	list_for_each_entry(_root, &(_kvm)->arch.tdp_mmu_roots, link)         \
		if (({ lockdep_assert_held_write(&(_kvm)->mmu_lock); false; }) || \
		    ((_as_id) >= 0 && kvm_mmu_page_as_id(_root) != (_as_id))) { \
		} else

#define for_each_valid_tdp_mmu_root(_kvm, _root, _as_id)                       \
	for_each_tdp_mmu_root(_kvm, _root, _as_id)                            \
		if (sp_invalid(_root)) {                                      \
		} else

/* Without references or mmu_lock: inside rcu_read_lock(). */
#define for_each_valid_tdp_mmu_root_rcu(_kvm, _root, _as_id)                   \
	list_for_each_entry_rcu(_root, &(_kvm)->arch.tdp_mmu_roots, link)     \
		if (sp_invalid(_root) ||                                      \
		    ((_as_id) >= 0 && kvm_mmu_page_as_id(_root) != (_as_id))) { \
		} else

#endif /* KVMMU_MMU_TDP_MMU_H */
