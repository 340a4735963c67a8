/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The TDP iterator: a pre-order walk over the SPTEs of one root that map
 * [start, end), down to a minimum level.
 *
 * The walk steps down into a present non-leaf SPTE (re-read at that
 * moment), else sideways within its table, else up.  After a yield
 * (tdp_mmu_iter_cond_resched()) the next step restarts from the root at
 * next_last_level_gfn, since the old path may have been freed; yielded_gfn
 * makes sure a yield only happens after progress.  Walks run inside
 * rcu_read_lock(), which keeps every table they can reach allocated.
 */
#ifndef KVMMU_MMU_TDP_ITER_H
#define KVMMU_MMU_TDP_ITER_H

#include "mmu_internal.h"

struct tdp_iter {
	/* The lowest gfn of the walk still to visit. */
	gfn_t next_last_level_gfn;
	/* next_last_level_gfn at the last yield: no yield again before progress. */
	gfn_t yielded_gfn;
	/* The tables on the path, by level - 1. */
	tdp_ptep_t pt_path[PT64_ROOT_MAX_LEVEL];
	/* The current SPTE ... */
	tdp_ptep_t sptep;
	/* ... the first gfn it maps, and its level. */
	gfn_t gfn;
	int level;
	int root_level;
	int min_level;
	int as_id;
	/* The SPTE's value when the iterator read it. */
	u64 old_spte;
	/* The walk has not run off the root. */
	bool valid;
	/* mmu_lock was dropped: the next step restarts from the root. */
	bool yielded;
	/* Who walks, for KVMMU_EV_TABLE_READ (enum kvmmu_table_reader). */
	u8 reader;
	struct kvm *kvm;
};

void __tdp_iter_start(struct tdp_iter *iter, struct kvm *kvm, struct kvm_mmu_page *root,
		      int min_level, gfn_t next_last_level_gfn,
		      enum kvmmu_table_reader reader);

static inline void tdp_iter_start(struct tdp_iter *iter, struct kvm *kvm,
				  struct kvm_mmu_page *root, int min_level,
				  gfn_t next_last_level_gfn)
{
	__tdp_iter_start(iter, kvm, root, min_level, next_last_level_gfn,
			 KVMMU_READER_ITER);
}
void tdp_iter_next(struct tdp_iter *iter);
void tdp_iter_restart(struct tdp_iter *iter);

/* The table a non-leaf SPTE points to, or NULL for anything else. */
static inline tdp_ptep_t spte_to_child_pt(struct kvm *kvm, u64 spte, int level)
{
	if (!is_shadow_present_pte(spte) || is_last_spte(spte, level))
		return NULL;
	return kvm_table_virt(kvm, spte_to_pfn(spte));
}

static inline gfn_t gfn_round_for_level(gfn_t gfn, int level)
{
	return gfn & ~(KVM_PAGES_PER_HPAGE(level) - 1);
}

#define for_each_tdp_pte_min_level(iter, kvm, root, min_level, start, end)   \
	for (tdp_iter_start(&(iter), kvm, root, min_level, start);            \
	     (iter).valid && (iter).gfn < (end);                              \
	     tdp_iter_next(&(iter)))

#define for_each_tdp_pte(iter, kvm, root, start, end)                         \
	for_each_tdp_pte_min_level(iter, kvm, root, PG_LEVEL_4K, start, end)

/* A walk without mmu_lock (inside rcu_read_lock()), by @reader. */
#define for_each_tdp_pte_lockless(iter, kvm, root, start, end, reader)        \
	for (__tdp_iter_start(&(iter), kvm, root, PG_LEVEL_4K, start, reader); \
	     (iter).valid && (iter).gfn < (end);                              \
	     tdp_iter_next(&(iter)))

#endif /* KVMMU_MMU_TDP_ITER_H */
