// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TDP iterator (see tdp_iter.h).
 */
#include "tdp_iter.h"

static void tdp_iter_refresh_sptep(struct tdp_iter *iter)
{
	iter->sptep = iter->pt_path[iter->level - 1] +
		      SPTE_INDEX(iter->gfn << PAGE_SHIFT, iter->level);
	iter->old_spte = kvm_tdp_mmu_read_spte(iter->sptep);
}

void tdp_iter_restart(struct tdp_iter *iter)
{
	iter->yielded = false;
	iter->yielded_gfn = iter->next_last_level_gfn;
	iter->level = iter->root_level;
	iter->gfn = gfn_round_for_level(iter->next_last_level_gfn, iter->level);
	tdp_iter_refresh_sptep(iter);
	iter->valid = true;
}

void __tdp_iter_start(struct tdp_iter *iter, struct kvm *kvm, struct kvm_mmu_page *root,
		      int min_level, gfn_t next_last_level_gfn,
		      enum kvmmu_table_reader reader)
{
	int root_level = root ? sp_level(root) : 0;

	iter->kvm = kvm;
	iter->reader = (u8)reader;
	if (WARN_ON_ONCE(root_level < 1 || root_level > PT64_ROOT_MAX_LEVEL)) {
		iter->valid = false;
		return;
	}
	iter->next_last_level_gfn = next_last_level_gfn;
	iter->root_level = root_level;
	iter->min_level = min_level;
	iter->pt_path[root_level - 1] = root->spt;
	iter->as_id = kvm_mmu_page_as_id(root);
	tdp_iter_restart(iter);
}

static bool try_step_down(struct tdp_iter *iter)
{
	tdp_ptep_t child_pt;

	if (iter->level == iter->min_level)
		return false;
	/* Re-read: the table may have been unlinked since the last read. */
	iter->old_spte = kvm_tdp_mmu_read_spte(iter->sptep);
	child_pt = spte_to_child_pt(iter->kvm, iter->old_spte, iter->level);
	if (!child_pt)
		return false;
	if (!kvm_mmu_table_alive(iter->kvm, spte_to_pfn(iter->old_spte), iter->gfn,
				 iter->level - 1, iter->reader))
		return false;
	iter->level--;
	iter->pt_path[iter->level - 1] = child_pt;
	iter->gfn = gfn_round_for_level(iter->next_last_level_gfn, iter->level);
	tdp_iter_refresh_sptep(iter);
	return true;
}

static bool try_step_side(struct tdp_iter *iter)
{
	/* At the end of the table: nothing to the side. */
	if (SPTE_INDEX(iter->gfn << PAGE_SHIFT, iter->level) == SPTE_ENT_PER_PAGE - 1)
		return false;
	iter->gfn += KVM_PAGES_PER_HPAGE(iter->level);
	iter->next_last_level_gfn = iter->gfn;
	iter->sptep++;
	iter->old_spte = kvm_tdp_mmu_read_spte(iter->sptep);
	return true;
}

static bool try_step_up(struct tdp_iter *iter)
{
	if (iter->level == iter->root_level)
		return false;
	iter->level++;
	iter->gfn = gfn_round_for_level(iter->gfn, iter->level);
	tdp_iter_refresh_sptep(iter);
	return true;
}

void tdp_iter_next(struct tdp_iter *iter)
{
	if (iter->yielded) {
		/*
		 * Mutant: resume one entry further on, as if the entry the
		 * walk stopped at had been done (it has not: the walk yields
		 * before it processes an entry).
		 */
		if (kvmmu_mutant(MUT_RESUME_PAST_YIELD))
			iter->next_last_level_gfn = gfn_round_for_level(iter->next_last_level_gfn,
									iter->level) +
						    KVM_PAGES_PER_HPAGE(iter->level);
		tdp_iter_restart(iter);
		return;
	}
	if (try_step_down(iter))
		return;
	do {
		if (try_step_side(iter))
			return;
	} while (try_step_up(iter));
	iter->valid = false;
}
