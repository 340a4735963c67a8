// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TDP MMU (see tdp_mmu.h).
 *
 * Rules kept here, with the invariants of docs/invariants.md they serve:
 *  - every SPTE change under the read lock is a cmpxchg on the value the
 *    walker read; a lost race retries or gives up, never overwrites;
 *  - a change that must be flushed before anyone may install a new value
 *    passes through FROZEN_SPTE (tdp_mmu_zap_spte_atomic());
 *  - a table unlinked from the tree is emptied into FROZEN_SPTEs and freed
 *    after an RCU grace period, never at once;
 *  - a root gets new long-lived references only while valid; the MMU's
 *    own reference is put only after an invalidated root is zapped empty;
 *  - the notifier and memslot unmap path walks every root, valid or not.
 */
#include <errno.h>

#include "tdp_iter.h"
#include "tdp_mmu.h"

/* ---- events ------------------------------------------------------------------------- */

static void tdp_mmu_spte_event(struct kvm *kvm, int as_id, tdp_ptep_t sptep, gfn_t gfn,
			       u64 old_spte, u64 new_spte, int level, bool shared,
			       bool preserves, bool plain)
{
	kvmmu_observe(KVMMU_EV_SPTE_CHANGE, spte, .kvm = kvm, .sptep = (const void *)sptep,
		      .old_spte = old_spte, .new_spte = new_spte, .gfn = gfn,
		      .level = (u8)level, .as_id = (u8)as_id, .shared = shared,
		      .preserves = preserves, .plain = plain);
}

/*
 * A walk over [@start, @end) of @root tells the range checker what it will
 * leave behind there (enum kvmmu_range_op), when it starts and when it is
 * done, so that an entry the walk skipped (after a yield, say) is found.
 */
static struct kvmmu_ev_range tdp_mmu_range_begin(struct kvm *kvm, struct kvm_mmu_page *root,
						 enum kvmmu_range_op op, int level, gfn_t start,
						 gfn_t end, u64 mask)
{
	struct kvmmu_ev_range r = {
		.kvm = kvm, .root = root, .op = (u8)op, .level = (u8)level,
		.start = start, .end = end, .mask = mask,
		.begin_index = kvmmu_observe_index(),
	};

	kvmmu_observe_payload(KVMMU_EV_RANGE_BEGIN, range, r);
	return r;
}

static void tdp_mmu_range_end(struct kvmmu_ev_range *r, bool done)
{
	r->done = done;
	kvmmu_observe_payload(KVMMU_EV_RANGE_END, range, *r);
}

static void tdp_mmu_root_event(enum kvmmu_event_type type, struct kvm *kvm,
			       struct kvm_mmu_page *root, bool long_lived)
{
	kvmmu_observe(type, root, .kvm = kvm, .root = root, .pfn = root->pfn,
		      .refcount = atomic_read(&root->tdp_mmu_root_count),
		      .long_lived = long_lived, .invalid = sp_invalid(root));
}

/* ---- pages ------------------------------------------------------------------------- */

void kvm_mmu_init_tdp_mmu(struct kvm *kvm)
{
	INIT_LIST_HEAD(&kvm->arch.tdp_mmu_roots);
	spin_lock_init(&kvm->arch.tdp_mmu_pages_lock);
	lockdep_set_rank(&kvm->arch.tdp_mmu_pages_lock.dep_map, KVM_RANK_TDP_MMU_PAGES_LOCK);
	INIT_LIST_HEAD(&kvm->arch.possible_nx_huge_pages);
}

static void tdp_mmu_free_sp_rcu_callback(struct rcu_head *head)
{
	struct kvm_mmu_page *sp = container_of(head, struct kvm_mmu_page, rcu_head);

	kvm_mmu_free_page(sp->kvm, sp);
}

static void tdp_mmu_init_sp(struct kvm *kvm, struct kvm_mmu_page *sp, tdp_ptep_t sptep,
			    gfn_t gfn, union kvm_mmu_page_role role)
{
	INIT_LIST_HEAD(&sp->possible_nx_huge_page_link);
	sp->role = role;
	sp->gfn = gfn;
	sp->ptep = sptep;
	sp->tdp_mmu_page = true;
	sp->kvm = kvm;
	kvm->host->set_table_owner(kvm->mm, sp->pfn, sp);
	kvmmu_observe(KVMMU_EV_TABLE_ALLOC, table, .kvm = kvm, .pfn = sp->pfn, .gfn = gfn,
		      .level = (u8)role.level);
}

static void tdp_mmu_init_child_sp(struct kvm *kvm, struct kvm_mmu_page *child_sp,
				  struct tdp_iter *iter)
{
	union kvm_mmu_page_role role = sp_role(sptep_to_sp(kvm, iter->sptep));

	role.level--;
	tdp_mmu_init_sp(kvm, child_sp, iter->sptep, iter->gfn, role);
}

static void tdp_account_mmu_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	atomic64_inc(&kvm->arch.tdp_mmu_pages);
}

static void tdp_unaccount_mmu_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	atomic64_dec(&kvm->arch.tdp_mmu_pages);
}

/* A table leaves the tree: stop counting it and stop tracking it for NX recovery. */
static void tdp_mmu_unlink_sp(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	tdp_unaccount_mmu_page(kvm, sp);
	if (!READ_ONCE(sp->nx_huge_page_disallowed))
		return;
	spin_lock(&kvm->arch.tdp_mmu_pages_lock);
	WRITE_ONCE(sp->nx_huge_page_disallowed, false);
	untrack_possible_nx_huge_page(kvm, sp);
	spin_unlock(&kvm->arch.tdp_mmu_pages_lock);
}

/* ---- roots --------------------------------------------------------------------------- */

bool kvm_tdp_mmu_get_root(struct kvm *kvm, struct kvm_mmu_page *root)
{
	if (!atomic_inc_not_zero(&root->tdp_mmu_root_count))
		return false;
	tdp_mmu_root_event(KVMMU_EV_ROOT_GET, kvm, root, false);
	return true;
}

void kvm_tdp_mmu_put_root(struct kvm *kvm, struct kvm_mmu_page *root)
{
	int count = atomic_dec_return(&root->tdp_mmu_root_count);

	kvmmu_observe(KVMMU_EV_ROOT_PUT, root, .kvm = kvm, .root = root, .pfn = root->pfn,
		      .refcount = count, .invalid = sp_invalid(root));
	if (count) {
		WARN_ON_ONCE(count < 0);
		return;
	}
	/* The MMU's own reference keeps a valid root above zero. */
	KVM_BUG_ON(!is_tdp_mmu_page(root) || !sp_invalid(root), kvm);

	spin_lock(&kvm->arch.tdp_mmu_pages_lock);
	list_del_rcu(&root->link);
	spin_unlock(&kvm->arch.tdp_mmu_pages_lock);
	call_rcu(&root->rcu_head, tdp_mmu_free_sp_rcu_callback);
}

/*
 * The root after @prev_root (the first if NULL), with a reference taken;
 * the reference on @prev_root is put.  With @only_valid, invalid roots
 * are skipped.  Returns NULL at the end.
 */
struct kvm_mmu_page *tdp_mmu_next_root(struct kvm *kvm, struct kvm_mmu_page *prev_root,
				       bool only_valid)
{
	struct kvm_mmu_page *next_root;

	/* RCU: a root whose last reference goes is unlinked, then freed later. */
	rcu_read_lock();
	if (prev_root)
		next_root = list_next_or_null_rcu(&kvm->arch.tdp_mmu_roots, &prev_root->link,
						  struct kvm_mmu_page, link);
	else
		next_root = list_first_or_null_rcu(&kvm->arch.tdp_mmu_roots,
						   struct kvm_mmu_page, link);
	while (next_root) {
		if ((!only_valid || !sp_invalid(next_root)) &&
		    kvm_tdp_mmu_get_root(kvm, next_root))
			break;
		next_root = list_next_or_null_rcu(&kvm->arch.tdp_mmu_roots, &next_root->link,
						  struct kvm_mmu_page, link);
	}
	rcu_read_unlock();

	if (prev_root)
		kvm_tdp_mmu_put_root(kvm, prev_root);
	return next_root;
}

/* Does @root serve a vCPU whose root role is @role? */
static bool tdp_mmu_root_matches(struct kvm_mmu_page *root, union kvm_mmu_page_role role)
{
	union kvm_mmu_page_role r = sp_role(root);

	/* Mutant: the invalid bit is ignored, so an invalid root can match. */
	if (kvmmu_mutant(MUT_REF_INVALID_ROOT))
		r.invalid = role.invalid;
	return r.word == role.word;
}

int kvm_tdp_mmu_alloc_root(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	union kvm_mmu_page_role role = mmu->root_role;
	int as_id = kvm_mmu_role_as_id(role);
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu_page *root;

	read_lock(&kvm->mmu_lock);

	/*
	 * Look for a root to share first, without the pages lock, so that
	 * vCPUs loading roots together do not serialise.  Breaking out keeps
	 * the iterator's reference: it becomes the vCPU's.
	 */
	for_each_valid_tdp_mmu_root_yield_safe(kvm, root, as_id) {
		if (sp_role(root).word == role.word)
			goto out_read_unlock;
	}

	spin_lock(&kvm->arch.tdp_mmu_pages_lock);
	/*
	 * Again under the pages lock: another vCPU may have added one.  The
	 * pages lock is held while roots are added, and invalidation needs
	 * mmu_lock for write, so what matches here is valid and stays so.
	 */
	list_for_each_entry(root, &kvm->arch.tdp_mmu_roots, link) {
		if (tdp_mmu_root_matches(root, role) && kvm_tdp_mmu_get_root(kvm, root))
			goto out_spin_unlock;
	}

	root = kvm_mmu_alloc_page_from_cache(vcpu);
	tdp_mmu_init_sp(kvm, root, NULL, 0, role);
	/* One reference for the vCPU, one for the MMU until invalidation. */
	atomic_set(&root->tdp_mmu_root_count, 2);
	list_add_rcu(&root->link, &kvm->arch.tdp_mmu_roots);

out_spin_unlock:
	spin_unlock(&kvm->arch.tdp_mmu_pages_lock);
out_read_unlock:
	tdp_mmu_root_event(KVMMU_EV_ROOT_GET, kvm, root, true);
	read_unlock(&kvm->mmu_lock);

	/* WRITE_ONCE: observers read other vCPUs' roots (chk_vcpu_root()). */
	WRITE_ONCE(mmu->root.hpa, root->pfn << PAGE_SHIFT);
	mmu->root.pgd = 0;
	return 0;
}

/*
 * Mark every valid root invalid and schedule it for zapping.  Under
 * mmu_lock for write, in the same critical section as the request that
 * makes vCPUs drop their references (kvm_mmu_zap_all_fast()).
 */
void kvm_tdp_mmu_invalidate_all_roots(struct kvm *kvm)
{
	struct kvm_mmu_page *root;

	lockdep_assert_held_write(&kvm->mmu_lock);
	rcu_read_lock();
	list_for_each_entry_rcu(root, &kvm->arch.tdp_mmu_roots, link) {
		union kvm_mmu_page_role role = sp_role(root);

		if (role.invalid)
			continue;
		/* The MMU's reference now belongs to whoever zaps the root. */
		root->tdp_mmu_scheduled_root_to_zap = true;
		role.invalid = 1;
		/* Lockless walkers (aging) read the role: one atomic store. */
		__atomic_store_n(&root->role.word, role.word, __ATOMIC_RELAXED);
		tdp_mmu_root_event(KVMMU_EV_ROOT_INVALIDATE, kvm, root, false);
	}
	rcu_read_unlock();
}

/* ---- SPTE changes -------------------------------------------------------------------- */

static void handle_changed_spte(struct kvm *kvm, int as_id, gfn_t gfn, u64 old_spte,
				u64 new_spte, int level, bool shared);

/*
 * A table was unlinked: take each of its entries (FROZEN, so nobody else
 * changes them any more), account for what they mapped, and free the table
 * after a grace period.  It stays FROZEN until then.
 */
static void handle_removed_pt(struct kvm *kvm, tdp_ptep_t pt, bool shared)
{
	struct kvm_mmu_page *sp = sptep_to_sp(kvm, pt);
	union kvm_mmu_page_role role = sp_role(sp);
	int level = role.level, as_id = kvm_mmu_role_as_id(role), i;
	gfn_t base_gfn = sp->gfn;

	tdp_mmu_unlink_sp(kvm, sp);

	for (i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		tdp_ptep_t sptep = pt + i;
		gfn_t gfn = base_gfn + (u64)i * KVM_PAGES_PER_HPAGE(level);
		u64 old_spte;
		bool plain = false;

		if (shared) {
			/*
			 * A thread that froze this entry before the table
			 * was unlinked still owns it: wait for its final
			 * value, then take the entry.
			 */
			for (;;) {
				old_spte = kvm_tdp_mmu_write_spte_atomic(sptep, FROZEN_SPTE);
				if (!is_frozen_spte(old_spte))
					break;
				cpu_relax();
			}
		} else {
			/*
			 * Nothing else changes tables under the write lock,
			 * but hardware may still set A/D through cached
			 * upper-level entries and fast page fault may set W:
			 * present entries are exchanged, not stored.
			 */
			old_spte = kvm_tdp_mmu_read_spte(sptep);
			if (!is_shadow_present_pte(old_spte))
				continue;
			plain = !spte_needs_atomic_update(&kvm->arch.masks, old_spte);
			old_spte = kvm_tdp_mmu_write_spte(&kvm->arch.masks, sptep, old_spte,
							  FROZEN_SPTE, level);
		}
		tdp_mmu_spte_event(kvm, as_id, sptep, gfn, old_spte, FROZEN_SPTE, level,
				   shared, false, plain);
		handle_changed_spte(kvm, as_id, gfn, old_spte, FROZEN_SPTE, level, shared);
	}

	if (kvmmu_mutant(MUT_FREE_TABLE_WITHOUT_GRACE)) {
		/*
		 * Mutant: the frame goes back to the host at once, while
		 * lockless walkers may still be inside it.  (The header still
		 * waits, so the model's own memory stays valid.)
		 */
		kvm_mmu_free_table_frame(kvm, sp);
	}
	call_rcu(&sp->rcu_head, tdp_mmu_free_sp_rcu_callback);
}

/*
 * Account for an SPTE change that has happened: page counts, and the
 * teardown of a child table that was replaced.
 */
static void handle_changed_spte(struct kvm *kvm, int as_id, gfn_t gfn, u64 old_spte,
				u64 new_spte, int level, bool shared)
{
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	bool was_present = is_shadow_present_pte(old_spte);
	bool is_present = is_shadow_present_pte(new_spte);
	bool was_leaf = was_present && is_last_spte(old_spte, level);
	bool is_leaf = is_present && is_last_spte(new_spte, level);
	bool pfn_changed = spte_to_pfn(old_spte) != spte_to_pfn(new_spte);

	WARN_ON_ONCE(level > PT64_ROOT_MAX_LEVEL);
	WARN_ON_ONCE(level < PG_LEVEL_4K);
	WARN_ON_ONCE(gfn & (KVM_PAGES_PER_HPAGE(level) - 1));

	/*
	 * A present leaf re-pointed at another pfn without a zap in between
	 * means a missed notifier or a missed zap-then-flush: fatal.
	 */
	if (was_leaf && is_leaf && pfn_changed) {
		pr_err("SPTE %#llx replaced by %#llx at gfn %#llx level %d as_id %d",
		       (unsigned long long)old_spte, (unsigned long long)new_spte,
		       (unsigned long long)gfn, level, as_id);
		BUG();
	}
	if (old_spte == new_spte)
		return;
	if (is_leaf)
		WARN_ON_ONCE(!spte_writable_invariants_hold(m, new_spte));

	if (!was_present && !is_present) {
		/* Only MMIO SPTEs and freezing change one non-present value into another. */
		WARN_ONCE(!is_mmio_spte(m, old_spte) && !is_mmio_spte(m, new_spte) &&
			  !is_frozen_spte(new_spte),
			  "non-present SPTE %#llx replaced by non-present %#llx at gfn %#llx level %d",
			  (unsigned long long)old_spte, (unsigned long long)new_spte,
			  (unsigned long long)gfn, level);
		return;
	}

	if (is_leaf != was_leaf)
		kvm_update_page_stats(kvm, level, is_leaf ? 1 : -1);

	/* A table replaced by a leaf or by nothing: tear it down. */
	if (was_present && !was_leaf &&
	    (is_leaf || !is_present || WARN_ON_ONCE(pfn_changed)))
		handle_removed_pt(kvm, spte_to_child_pt(kvm, old_spte, level), shared);
}

/* cmpxchg iter->old_spte to @new_spte; on failure iter->old_spte is refreshed. */
static int __tdp_mmu_set_spte_atomic(struct kvm *kvm, struct tdp_iter *iter, u64 new_spte,
				     bool preserves)
{
	/* Nobody but its owner touches a frozen SPTE. */
	WARN_ON_ONCE(iter->yielded || is_frozen_spte(iter->old_spte));
	if (!kvm_tdp_mmu_cmpxchg_spte(iter->sptep, &iter->old_spte, new_spte))
		return -EBUSY;
	tdp_mmu_spte_event(kvm, iter->as_id, iter->sptep, iter->gfn, iter->old_spte,
			   new_spte, iter->level, true, preserves, false);
	return 0;
}

static int __tdp_mmu_set_spte_atomic_handle(struct kvm *kvm, struct tdp_iter *iter,
					    u64 new_spte, bool preserves)
{
	int ret;

	lockdep_assert_held_read(&kvm->mmu_lock);
	ret = __tdp_mmu_set_spte_atomic(kvm, iter, new_spte, preserves);
	if (ret)
		return ret;
	handle_changed_spte(kvm, iter->as_id, iter->gfn, iter->old_spte, new_spte,
			    iter->level, true);
	return 0;
}

int tdp_mmu_set_spte_atomic(struct kvm *kvm, struct tdp_iter *iter, u64 new_spte)
{
	return __tdp_mmu_set_spte_atomic_handle(kvm, iter, new_spte, false);
}

int tdp_mmu_zap_spte_atomic(struct kvm *kvm, struct tdp_iter *iter)
{
	int ret;

	lockdep_assert_held_read(&kvm->mmu_lock);

	if (kvmmu_mutant(MUT_ZAP_WITHOUT_FREEZE)) {
		/* Mutant: cleared outright, so a fault may refill it before the flush. */
		ret = __tdp_mmu_set_spte_atomic(kvm, iter, SHADOW_NONPRESENT_VALUE, false);
		if (ret)
			return ret;
		kvm_flush_remote_tlbs_gfn(kvm, iter->gfn, iter->level);
		goto handle;
	}

	/*
	 * Freeze: faults that meet the SPTE retry and nobody else may change
	 * it, until the flush has removed every translation derived from the
	 * old value.  Only then may the SPTE become non-present, and so
	 * refillable.
	 */
	ret = __tdp_mmu_set_spte_atomic(kvm, iter, FROZEN_SPTE, false);
	if (ret)
		return ret;

	if (kvmmu_mutant(MUT_UNFREEZE_BEFORE_FLUSH)) {
		/* Mutant: unfrozen first, leaving a window before the flush. */
		__kvm_tdp_mmu_write_spte(iter->sptep, SHADOW_NONPRESENT_VALUE);
		tdp_mmu_spte_event(kvm, iter->as_id, iter->sptep, iter->gfn, FROZEN_SPTE,
				   SHADOW_NONPRESENT_VALUE, iter->level, true, false, false);
		kvm_flush_remote_tlbs_gfn(kvm, iter->gfn, iter->level);
		goto handle;
	}

	kvm_flush_remote_tlbs_gfn(kvm, iter->gfn, iter->level);
	/* A plain store: nobody else modifies a frozen SPTE. */
	__kvm_tdp_mmu_write_spte(iter->sptep, SHADOW_NONPRESENT_VALUE);
	tdp_mmu_spte_event(kvm, iter->as_id, iter->sptep, iter->gfn, FROZEN_SPTE,
			   SHADOW_NONPRESENT_VALUE, iter->level, true, false, false);
handle:
	/* Child tables go after the unfreeze, to keep the frozen window short. */
	handle_changed_spte(kvm, iter->as_id, iter->gfn, iter->old_spte,
			    SHADOW_NONPRESENT_VALUE, iter->level, true);
	return 0;
}

/*
 * Under the write lock: set an SPTE, exchanging it if it can change behind
 * the lock (fast page fault, hardware A/D).  Returns the value replaced.
 */
static u64 tdp_mmu_set_spte(struct kvm *kvm, int as_id, tdp_ptep_t sptep, u64 old_spte,
			    u64 new_spte, gfn_t gfn, int level)
{
	bool plain;

	lockdep_assert_held_write(&kvm->mmu_lock);
	/* Nobody can own a frozen SPTE while the write lock is held. */
	WARN_ON_ONCE(is_frozen_spte(old_spte) || is_frozen_spte(new_spte));
	plain = !spte_needs_atomic_update(&kvm->arch.masks, old_spte);
	old_spte = kvm_tdp_mmu_write_spte(&kvm->arch.masks, sptep, old_spte, new_spte, level);
	tdp_mmu_spte_event(kvm, as_id, sptep, gfn, old_spte, new_spte, level, false, false, plain);
	handle_changed_spte(kvm, as_id, gfn, old_spte, new_spte, level, false);
	return old_spte;
}

static void tdp_mmu_iter_set_spte(struct kvm *kvm, struct tdp_iter *iter, u64 new_spte)
{
	WARN_ON_ONCE(iter->yielded);
	iter->old_spte = tdp_mmu_set_spte(kvm, iter->as_id, iter->sptep, iter->old_spte,
					  new_spte, iter->gfn, iter->level);
}

#define tdp_root_for_each_pte(_iter, _kvm, _root, _start, _end)               \
	for_each_tdp_pte(_iter, _kvm, _root, _start, _end)

#define tdp_root_for_each_leaf_pte(_iter, _kvm, _root, _start, _end)          \
	tdp_root_for_each_pte(_iter, _kvm, _root, _start, _end)               \
		if (!is_shadow_present_pte(_iter.old_spte) ||                 \
		    !is_last_spte(_iter.old_spte, _iter.level))               \
			continue;                                             \
		else

/* ---- yielding -------------------------------------------------------------------------- */

static bool tdp_mmu_iter_need_resched(struct kvm *kvm, struct tdp_iter *iter)
{
	if (!need_resched() && !rwlock_needbreak(&kvm->mmu_lock))
		return false;
	/* Yield only after progress, so that every walk ends. */
	return iter->next_last_level_gfn != iter->yielded_gfn;
}

/*
 * Yield mmu_lock if someone needs it or the CPU, after doing any flush the
 * walk owes: nobody may see the lock free while a zapped SPTE's
 * translations survive.  The next step restarts from the root.
 */
static bool __must_check tdp_mmu_iter_cond_resched(struct kvm *kvm, struct tdp_iter *iter,
						   bool flush, bool shared)
{
	WARN_ON_ONCE(iter->yielded);
	if (!tdp_mmu_iter_need_resched(kvm, iter))
		return false;
	if (flush)
		kvm_flush_remote_tlbs(kvm);
	rcu_read_unlock();
	if (shared)
		cond_resched_rwlock_read(&kvm->mmu_lock);
	else
		cond_resched_rwlock_write(&kvm->mmu_lock);
	rcu_read_lock();
	WARN_ON_ONCE(iter->gfn > iter->next_last_level_gfn);
	iter->yielded = true;
	return true;
}

static gfn_t tdp_mmu_max_gfn_exclusive(struct kvm *kvm)
{
	gfn_t end = kvm_mmu_max_gfn_of(kvm) + 1;

	/*
	 * Mutant: the bound rounded down to whole top-level entries, which
	 * only a guest physical width short of a top-level entry's span
	 * (5-level paging below 48 bits, 4-level below 39) turns into a walk
	 * that misses everything.
	 */
	if (kvmmu_mutant(MUT_MAX_GFN_ROUND_DOWN))
		end = round_down(end, KVM_PAGES_PER_HPAGE(kvm->arch.tdp_root_level));
	/* No memslot and no MMIO SPTE lies above host MAXPHYADDR. */
	return end;
}

/* ---- zapping ------------------------------------------------------------------------------ */

static void __tdp_mmu_zap_root(struct kvm *kvm, struct kvm_mmu_page *root, bool shared,
			       int zap_level)
{
	struct tdp_iter iter;

	for_each_tdp_pte_min_level(iter, kvm, root, zap_level, 0,
				   tdp_mmu_max_gfn_exclusive(kvm)) {
retry:
		if (tdp_mmu_iter_cond_resched(kvm, &iter, false, shared))
			continue;
		if (!is_shadow_present_pte(iter.old_spte))
			continue;
		if (iter.level > zap_level)
			continue;
		if (!shared)
			tdp_mmu_iter_set_spte(kvm, &iter, SHADOW_NONPRESENT_VALUE);
		else if (tdp_mmu_set_spte_atomic(kvm, &iter, SHADOW_NONPRESENT_VALUE))
			goto retry;
	}
}

/*
 * Zap a whole root.  The caller holds a reference, so notifiers still find
 * the root while this walk yields mmu_lock.  Passes of decreasing
 * granularity (4K leaves, then 2M, 1G, then the root's entries) bound how
 * much one step frees.  No flush: only invalid roots, which no vCPU will
 * enter again, or a dead VM, are zapped whole.
 */
static void tdp_mmu_zap_root(struct kvm *kvm, struct kvm_mmu_page *root, bool shared)
{
	struct kvmmu_ev_range r;

	WARN_ON_ONCE(!atomic_read(&root->tdp_mmu_root_count));
	lockdep_assert_held(&kvm->mmu_lock);

	r = tdp_mmu_range_begin(kvm, root, KVMMU_RANGE_ZAP, PG_LEVEL_4K, 0,
				tdp_mmu_max_gfn_exclusive(kvm), 0);
	kvm_page_stats_batch_begin(kvm);
	rcu_read_lock();
	__tdp_mmu_zap_root(kvm, root, shared, PG_LEVEL_4K);
	__tdp_mmu_zap_root(kvm, root, shared, PG_LEVEL_2M);
	__tdp_mmu_zap_root(kvm, root, shared, PG_LEVEL_1G);
	__tdp_mmu_zap_root(kvm, root, shared, sp_level(root));
	rcu_read_unlock();
	kvm_page_stats_batch_end(kvm);
	tdp_mmu_range_end(&r, true);
}

/*
 * tdp_mmu_zap_leafs()'s steps over the rest of a 4K table, in one loop:
 * from the iterator's entry to the table's end or @end, each present
 * entry (a leaf, at 4K) exchanged or stored non-present as
 * tdp_mmu_iter_set_spte() would, with the same events, the page counts
 * taken once.  Only while nothing can ask the walk to yield but a waiter
 * on mmu_lock (sched_resched_off()): it stops after an entry if one
 * waits, and the caller's next step yields.  The iterator is left on the
 * last entry done.  Returns whether anything was zapped.
 */
static bool tdp_mmu_zap_4k_run(struct kvm *kvm, struct tdp_iter *iter, gfn_t end, bool can_yield)
{
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	tdp_ptep_t sptep = iter->sptep;
	gfn_t gfn = iter->gfn;
	/* The run ends with the table or the range, whichever comes first. */
	gfn_t stop = min(end, round_down(gfn, SPTE_ENT_PER_PAGE) + SPTE_ENT_PER_PAGE);
	u64 old = iter->old_spte;
	s64 zapped = 0;

	for (;;) {
		if (is_shadow_present_pte(old)) {
			bool plain = !spte_needs_atomic_update(m, old);

			WARN_ON_ONCE(is_frozen_spte(old));
			old = kvm_tdp_mmu_write_spte(m, sptep, old, SHADOW_NONPRESENT_VALUE,
						     PG_LEVEL_4K);
			tdp_mmu_spte_event(kvm, iter->as_id, sptep, gfn, old,
					   SHADOW_NONPRESENT_VALUE, PG_LEVEL_4K, false, false, plain);
			/* handle_changed_spte() of a 4K leaf going: its count, nothing else. */
			if (is_shadow_present_pte(old))
				zapped++;
		}
		old = SHADOW_NONPRESENT_VALUE;
		if (gfn + 1 >= stop)
			break;
		/* A waiter is noticed within 16 entries, not at each one. */
		if (can_yield && !((gfn + 1) & 15) && rwlock_needbreak(&kvm->mmu_lock))
			break;
		sptep++;
		gfn++;
		old = kvm_tdp_mmu_read_spte(sptep);
	}
	iter->sptep = sptep;
	iter->gfn = gfn;
	iter->next_last_level_gfn = gfn;
	iter->old_spte = old;
	if (zapped)
		kvm_update_page_stats(kvm, PG_LEVEL_4K, (int)-zapped);
	return zapped;
}

/*
 * Zap the leaves mapping [start, end) in @root, under the write lock.
 * Tables stay.  Returns whether a flush is owed: zaps in valid roots owe
 * one; zaps in invalid roots do not (no vCPU will use them again, and a
 * vCPU loading a new root flushes).
 */
static bool tdp_mmu_zap_leafs(struct kvm *kvm, struct kvm_mmu_page *root, gfn_t start,
			      gfn_t end, bool can_yield, bool flush)
{
	/* Under a controlled schedule or forced yields, step by step. */
	bool fast = sched_resched_off();
	struct kvmmu_ev_range r;
	struct tdp_iter iter;

	end = min(end, tdp_mmu_max_gfn_exclusive(kvm));
	lockdep_assert_held_write(&kvm->mmu_lock);

	r = tdp_mmu_range_begin(kvm, root, KVMMU_RANGE_ZAP, PG_LEVEL_4K, start, end, 0);
	kvm_page_stats_batch_begin(kvm);
	rcu_read_lock();
	for_each_tdp_pte_min_level(iter, kvm, root, PG_LEVEL_4K, start, end) {
		if (can_yield && tdp_mmu_iter_cond_resched(kvm, &iter, flush, false)) {
			flush = false;
			continue;
		}
		if (iter.level == PG_LEVEL_4K && fast) {
			if (tdp_mmu_zap_4k_run(kvm, &iter, end, can_yield) && !sp_invalid(root))
				flush = true;
			continue;
		}
		if (!is_shadow_present_pte(iter.old_spte) ||
		    !is_last_spte(iter.old_spte, iter.level))
			continue;
		tdp_mmu_iter_set_spte(kvm, &iter, SHADOW_NONPRESENT_VALUE);
		if (!sp_invalid(root))
			flush = true;
	}
	rcu_read_unlock();
	kvm_page_stats_batch_end(kvm);
	tdp_mmu_range_end(&r, true);
	return flush;
}

/* Zap leaves in every valid root (kvm_zap_gfn_range()). */
bool kvm_tdp_mmu_zap_leafs(struct kvm *kvm, gfn_t start, gfn_t end, bool flush)
{
	struct kvm_mmu_page *root;

	lockdep_assert_held_write(&kvm->mmu_lock);
	for_each_valid_tdp_mmu_root_yield_safe(kvm, root, -1)
		flush = tdp_mmu_zap_leafs(kvm, root, start, end, true, flush);
	return flush;
}

/*
 * The notifier and memslot path: every root, valid or not.  A root that a
 * fast zap invalidated and is zapping (yielding now and then) still maps
 * pages until it is done; once this returns, nothing may map the range.
 */
bool kvm_tdp_mmu_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range, bool flush)
{
	/* Mutant: invalid roots are skipped, as before the 2022 fix. */
	bool only_valid = kvmmu_mutant(MUT_NOTIFIER_SKIPS_INVALID_ROOTS);
	struct kvm_mmu_page *root;

	__for_each_tdp_mmu_root_yield_safe(kvm, root, range->slot->as_id, only_valid)
		flush = tdp_mmu_zap_leafs(kvm, root, range->start, range->end,
					  range->may_block, flush);
	return flush;
}

/*
 * Zap the roots a fast zap invalidated, under the read lock, yielding as
 * it goes.  The MMU's reference is put only once a root is empty, so that
 * notifiers reach the root all the while.  No flush: vCPUs were told to
 * drop these roots and flush when they load a new one.
 */
void kvm_tdp_mmu_zap_invalidated_roots(struct kvm *kvm)
{
	struct kvm_mmu_page *root;

	read_lock(&kvm->mmu_lock);
	for_each_tdp_mmu_root_yield_safe(kvm, root) {
		if (!root->tdp_mmu_scheduled_root_to_zap)
			continue;
		root->tdp_mmu_scheduled_root_to_zap = false;
		KVM_BUG_ON(!sp_invalid(root), kvm);
		tdp_mmu_zap_root(kvm, root, true);
		kvm_tdp_mmu_put_root(kvm, root);
	}
	read_unlock(&kvm->mmu_lock);
}

/*
 * Zap everything, every root.  Only when no vCPU will run again (VM
 * teardown, notifier release), so no flush.
 */
void kvm_tdp_mmu_zap_all(struct kvm *kvm)
{
	struct kvm_mmu_page *root;

	lockdep_assert_held_write(&kvm->mmu_lock);
	for_each_tdp_mmu_root_yield_safe(kvm, root)
		tdp_mmu_zap_root(kvm, root, false);
}

void kvm_mmu_uninit_tdp_mmu(struct kvm *kvm)
{
	/* Invalidating hands the MMU's references to the zap, which puts them. */
	write_lock(&kvm->mmu_lock);
	kvm_tdp_mmu_invalidate_all_roots(kvm);
	write_unlock(&kvm->mmu_lock);
	kvm_tdp_mmu_zap_invalidated_roots(kvm);

	WARN_ON(atomic64_read(&kvm->arch.tdp_mmu_pages));
	WARN_ON(!list_empty(&kvm->arch.tdp_mmu_roots));
	/* The callbacks that free the last tables must run before the VM goes. */
	rcu_barrier();
}

/*
 * NX recovery: zap the SPTE that links @sp, under the read lock, with the
 * freeze -> flush -> clear helper, so that no new value appears in it
 * while vCPUs may still hold translations through @sp.  The caller holds
 * RCU (so @sp is not freed under us) and has taken @sp off the NX list.
 */
bool kvm_tdp_mmu_zap_possible_nx_huge_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	struct tdp_iter iter = {
		.old_spte = sp->ptep ? kvm_tdp_mmu_read_spte(sp->ptep) : 0,
		.sptep = sp->ptep,
		.level = sp_level(sp) + 1,
		.gfn = sp->gfn,
		.as_id = kvm_mmu_page_as_id(sp),
		.kvm = kvm,
	};

	lockdep_assert_held_read(&kvm->mmu_lock);
	if (WARN_ON_ONCE(!is_tdp_mmu_page(sp)))
		return false;
	/* Roots have no parent and are never NX candidates. */
	if (WARN_ON_ONCE(!sp->ptep))
		return false;
	/*
	 * The parent may have been zapped or re-pointed since @sp was listed:
	 * zap only if it still points at @sp.  (A frozen or non-present SPTE
	 * has no child table.)
	 */
	if (sp->spt != spte_to_child_pt(kvm, iter.old_spte, iter.level))
		return false;
	if (tdp_mmu_zap_spte_atomic(kvm, &iter)) {
		/* Non-leaf SPTEs change only by being replaced. */
		WARN_ON_ONCE(sp->spt == spte_to_child_pt(kvm, iter.old_spte, iter.level));
		return false;
	}
	return true;
}

/* ---- page faults ---------------------------------------------------------------------------- */

static int tdp_mmu_link_sp(struct kvm *kvm, struct tdp_iter *iter, struct kvm_mmu_page *sp,
			   bool shared, bool preserves)
{
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	u64 spte = make_nonleaf_spte(m, sp->pfn, !m->ad_enabled);
	int ret;

	if (shared) {
		ret = __tdp_mmu_set_spte_atomic_handle(kvm, iter, spte, preserves);
		if (ret)
			return ret;
	} else {
		bool plain = !spte_needs_atomic_update(m, iter->old_spte);

		WARN_ON_ONCE(iter->yielded);
		lockdep_assert_held_write(&kvm->mmu_lock);
		iter->old_spte = kvm_tdp_mmu_write_spte(m, iter->sptep, iter->old_spte, spte,
							iter->level);
		tdp_mmu_spte_event(kvm, iter->as_id, iter->sptep, iter->gfn, iter->old_spte,
				   spte, iter->level, false, preserves, plain);
		handle_changed_spte(kvm, iter->as_id, iter->gfn, iter->old_spte, spte,
				    iter->level, false);
	}
	tdp_account_mmu_page(kvm, sp);
	return 0;
}

/*
 * Replace a huge SPTE by a table of 512 SPTEs that map the same memory.
 * The table is unreachable until linked, so it is filled with plain
 * stores; linking needs no flush (same translations).
 */
static int tdp_mmu_split_huge_page(struct kvm *kvm, struct tdp_iter *iter,
				   struct kvm_mmu_page *sp, bool shared)
{
	const u64 huge_spte = iter->old_spte;
	union kvm_mmu_page_role role = sp->role;
	const int level = iter->level;
	int ret, i;

	for (i = 0; i < SPTE_ENT_PER_PAGE; i++)
		atomic_store_explicit(&sp->spt[i], make_small_spte(kvm, huge_spte, role, i),
				      memory_order_relaxed);
	ret = tdp_mmu_link_sp(kvm, iter, sp, shared, true);
	if (ret)
		return ret;
	/* Linking took the huge page off the stats; add its pieces. */
	kvm_update_page_stats(kvm, level - 1, SPTE_ENT_PER_PAGE);
	return 0;
}

static int tdp_mmu_map_handle_target_level(struct kvm_vcpu *vcpu,
					   struct kvm_page_fault *fault,
					   struct tdp_iter *iter)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu_page *sp = sptep_to_sp(kvm, iter->sptep);
	bool wrprot = false, collapse;
	int ret = RET_PF_FIXED;
	u64 new_spte;

	if (WARN_ON_ONCE(sp_level(sp) != fault->goal_level))
		return RET_PF_RETRY;

	/*
	 * Another vCPU got here first (or a stale TLB entry faulted): the
	 * access is allowed already.  Rebuilding the SPTE would only lose
	 * A/D state the hardware has set since.
	 */
	if (is_shadow_present_pte(iter->old_spte) &&
	    (fault->prefetch || is_access_allowed(fault, &kvm->arch.masks, iter->old_spte)) &&
	    is_last_spte(iter->old_spte, iter->level)) {
		WARN_ON_ONCE(fault->pfn != spte_to_pfn(iter->old_spte));
		return RET_PF_SPURIOUS;
	}

	if (unlikely(!fault->slot))
		new_spte = make_mmio_spte(vcpu, iter->gfn, ACC_ALL);
	else
		wrprot = make_spte(vcpu, sp, fault->slot, ACC_ALL, iter->gfn, fault->pfn,
				   iter->old_spte, fault->prefetch, false,
				   fault->map_writable, &new_spte);

	/*
	 * A table replaced by a huge leaf: the same host mapping (the seq
	 * check vouches for it) seen through one entry instead of 512.
	 */
	collapse = is_shadow_present_pte(iter->old_spte) &&
		   !is_last_spte(iter->old_spte, iter->level);

	if (new_spte == iter->old_spte)
		ret = RET_PF_SPURIOUS;
	else if (__tdp_mmu_set_spte_atomic_handle(kvm, iter, new_spte, collapse))
		return RET_PF_RETRY;
	else if (collapse)
		kvm_flush_remote_tlbs_gfn(kvm, iter->gfn, iter->level);

	/* A write the gfn's protection refused: the vCPU would fault again. */
	if (wrprot && fault->write)
		ret = RET_PF_WRITE_PROTECTED;

	if (unlikely(is_mmio_spte(&kvm->arch.masks, new_spte))) {
		kvm_stat_inc(vcpu->stat.pf_mmio_spte_created);
		ret = RET_PF_EMULATE;
	}
	return ret;
}

/*
 * Map fault->gfn under the read lock: walk down, linking tables (or
 * splitting a huge page) with cmpxchg where there are none, then install
 * the leaf.  Any lost race returns RET_PF_RETRY.
 */
int kvm_tdp_mmu_map(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu_page *root = root_to_sp(kvm, vcpu->arch.mmu->root.hpa);
	struct kvm_mmu_page *sp;
	struct tdp_iter iter;
	int ret = RET_PF_RETRY;

	lockdep_assert_held_read(&kvm->mmu_lock);
	kvm_mmu_hugepage_adjust(vcpu, fault);

	rcu_read_lock();
	for_each_tdp_pte(iter, kvm, root, fault->gfn, fault->gfn + 1) {
		int r;

		if (fault->nx_huge_page_workaround_enabled)
			disallowed_hugepage_adjust(kvm, fault, iter.old_spte, iter.level);

		/* Owned by another thread: retry rather than build a table for nothing. */
		if (is_frozen_spte(iter.old_spte))
			goto retry;
		if (iter.level == fault->goal_level)
			goto map_target_level;
		/* A table is there: step down into it. */
		if (is_shadow_present_pte(iter.old_spte) && !is_large_pte(iter.old_spte))
			continue;

		/* Nothing, or a huge page to split: link a table. */
		sp = kvm_mmu_alloc_page_from_cache(vcpu);
		tdp_mmu_init_child_sp(kvm, sp, &iter);
		sp->nx_huge_page_disallowed = fault->huge_page_disallowed;
		if (is_shadow_present_pte(iter.old_spte))
			r = tdp_mmu_split_huge_page(kvm, &iter, sp, true);
		else
			r = tdp_mmu_link_sp(kvm, &iter, sp, true, false);
		if (r) {
			/* Never reachable: freed at once. */
			kvm_mmu_free_page(kvm, sp);
			goto retry;
		}
		if (fault->huge_page_disallowed && fault->req_level >= iter.level) {
			spin_lock(&kvm->arch.tdp_mmu_pages_lock);
			/* A racing zap may have unlinked (and untracked) it already. */
			if (READ_ONCE(sp->nx_huge_page_disallowed))
				track_possible_nx_huge_page(kvm, sp);
			spin_unlock(&kvm->arch.tdp_mmu_pages_lock);
		}
	}
	/* The walk ended above the goal, e.g. a table went away under it. */
	WARN_ON_ONCE(iter.level == fault->goal_level);
	goto retry;

map_target_level:
	ret = tdp_mmu_map_handle_target_level(vcpu, fault, &iter);
retry:
	rcu_read_unlock();
	return ret;
}

/*
 * The last SPTE on the walk to @gfn, for fast page fault: no mmu_lock,
 * inside rcu_read_lock().  Returns its location, or NULL.
 */
_Atomic u64 *kvm_tdp_mmu_fast_pf_get_last_sptep(struct kvm_vcpu *vcpu, gfn_t gfn, u64 *spte,
						int *level)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu_page *root = root_to_sp(kvm, vcpu->arch.mmu->root.hpa);
	tdp_ptep_t sptep = NULL;
	struct tdp_iter iter;

	for_each_tdp_pte_lockless(iter, kvm, root, gfn, gfn + 1, KVMMU_READER_FAST_PF) {
		*spte = iter.old_spte;
		*level = iter.level;
		sptep = iter.sptep;
	}
	return sptep;
}

/* The SPTEs on the walk to @addr, by level; returns the last level, or -1. */
int kvm_tdp_mmu_get_walk(struct kvm_vcpu *vcpu, u64 addr, u64 *sptes, int *root_level)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu_page *root = root_to_sp(kvm, vcpu->arch.mmu->root.hpa);
	gfn_t gfn = addr >> PAGE_SHIFT;
	struct tdp_iter iter;
	int leaf = -1;

	*root_level = vcpu->arch.mmu->root_role.level;
	for_each_tdp_pte_lockless(iter, kvm, root, gfn, gfn + 1, KVMMU_READER_FAST_PF) {
		leaf = iter.level;
		sptes[leaf] = iter.old_spte;
	}
	return leaf;
}

/* ---- aging, without mmu_lock ----------------------------------------------------------------- */

static void kvm_tdp_mmu_age_spte(struct kvm *kvm, struct tdp_iter *iter)
{
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	u64 old_spte = iter->old_spte, new_spte;

	if (spte_ad_enabled(old_spte)) {
		old_spte = tdp_mmu_clear_spte_bits_atomic(iter->sptep, old_spte,
							  m->accessed_mask, iter->level);
		if (!is_shadow_present_pte(old_spte) || !(old_spte & m->accessed_mask))
			return;
		new_spte = old_spte & ~m->accessed_mask;
		tdp_mmu_spte_event(kvm, iter->as_id, iter->sptep, iter->gfn, old_spte, new_spte,
				   iter->level, true, false, false);
	} else {
		/*
		 * Access-track it: non-present to hardware until fast page
		 * fault restores it.  A failed cmpxchg leaves it young, which
		 * it most likely is.
		 */
		new_spte = mark_spte_for_access_track(m, old_spte);
		(void)__tdp_mmu_set_spte_atomic(kvm, iter, new_spte, false);
	}
}

static bool __kvm_tdp_mmu_age_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range,
					bool test_only)
{
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	struct kvm_mmu_page *root;
	struct tdp_iter iter;
	bool young = false;

	/*
	 * No references, no yielding: RCU keeps roots and tables alive.  Only
	 * valid roots: nothing runs through invalid ones any more.
	 */
	rcu_read_lock();
	for_each_valid_tdp_mmu_root_rcu(kvm, root, range->slot->as_id) {
		for_each_tdp_pte_lockless(iter, kvm, root, range->start, range->end,
					  KVMMU_READER_AGING) {
			if (!is_shadow_present_pte(iter.old_spte) ||
			    !is_last_spte(iter.old_spte, iter.level))
				continue;
			if (!is_accessed_spte(m, iter.old_spte))
				continue;
			young = true;
			if (test_only)
				goto out;
			kvm_tdp_mmu_age_spte(kvm, &iter);
		}
	}
out:
	rcu_read_unlock();
	return young;
}

bool kvm_tdp_mmu_age_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range)
{
	return __kvm_tdp_mmu_age_gfn_range(kvm, range, false);
}

bool kvm_tdp_mmu_test_age_gfn(struct kvm *kvm, struct kvm_gfn_range *range)
{
	return __kvm_tdp_mmu_age_gfn_range(kvm, range, true);
}

/* ---- dirty logging and write protection ------------------------------------------------------- */

/* Clear W (keeping MMU-writable) on leaves at or above @min_level, read lock. */
static bool wrprot_gfn_range(struct kvm *kvm, struct kvm_mmu_page *root, gfn_t start,
			     gfn_t end, int min_level)
{
	struct kvmmu_ev_range r;
	struct tdp_iter iter;
	bool spte_set = false;

	BUG_ON(min_level > KVM_MAX_HUGEPAGE_LEVEL);
	r = tdp_mmu_range_begin(kvm, root, KVMMU_RANGE_WRPROT, min_level, start, end, 0);
	rcu_read_lock();
	for_each_tdp_pte_min_level(iter, kvm, root, min_level, start, end) {
retry:
		if (tdp_mmu_iter_cond_resched(kvm, &iter, false, true))
			continue;
		if (!is_shadow_present_pte(iter.old_spte) ||
		    !is_last_spte(iter.old_spte, iter.level) ||
		    !(iter.old_spte & PT_WRITABLE_MASK))
			continue;
		if (tdp_mmu_set_spte_atomic(kvm, &iter, iter.old_spte & ~PT_WRITABLE_MASK))
			goto retry;
		spte_set = true;
	}
	rcu_read_unlock();
	tdp_mmu_range_end(&r, true);
	return spte_set;
}

/* Write-protect a slot for dirty logging.  The caller flushes. */
bool kvm_tdp_mmu_wrprot_slot(struct kvm *kvm, const struct kvm_memory_slot *slot,
			     int min_level)
{
	struct kvm_mmu_page *root;
	bool spte_set = false;

	lockdep_assert_held_read(&kvm->mmu_lock);
	for_each_valid_tdp_mmu_root_yield_safe(kvm, root, slot->as_id)
		spte_set |= wrprot_gfn_range(kvm, root, slot->base_gfn,
					     slot->base_gfn + slot->npages, min_level);
	return spte_set;
}

/*
 * Clear D on every leaf of [start, end), read lock: with PML the next write
 * to each page sets D again and is logged.  Leaves whose A/D bits are off
 * would be write-protected instead; TDP SPTEs here all have A/D on.
 */
static bool clear_dirty_gfn_range(struct kvm *kvm, struct kvm_mmu_page *root, gfn_t start,
				  gfn_t end)
{
	const u64 dbit = kvm->arch.masks.dirty_mask;
	struct tdp_iter iter;
	bool spte_set = false;

	rcu_read_lock();
	tdp_root_for_each_pte(iter, kvm, root, start, end) {
retry:
		if (tdp_mmu_iter_cond_resched(kvm, &iter, false, true))
			continue;
		if (!is_shadow_present_pte(iter.old_spte) ||
		    !is_last_spte(iter.old_spte, iter.level))
			continue;
		WARN_ON_ONCE(spte_ad_need_write_protect(iter.old_spte));
		if (!(iter.old_spte & dbit))
			continue;
		if (tdp_mmu_set_spte_atomic(kvm, &iter, iter.old_spte & ~dbit))
			goto retry;
		spte_set = true;
	}
	rcu_read_unlock();
	return spte_set;
}

/* Clear D on a slot's leaves when PML logging begins.  The caller flushes. */
bool kvm_tdp_mmu_clear_dirty_slot(struct kvm *kvm, const struct kvm_memory_slot *slot)
{
	struct kvm_mmu_page *root;
	bool spte_set = false;

	lockdep_assert_held_read(&kvm->mmu_lock);
	for_each_valid_tdp_mmu_root_yield_safe(kvm, root, slot->as_id)
		spte_set |= clear_dirty_gfn_range(kvm, root, slot->base_gfn,
						  slot->base_gfn + slot->npages);
	return spte_set;
}

/*
 * clear_dirty_pt_masked()'s steps over the bits of @mask that fall in the
 * 4K table the iterator has reached, in one loop: each entry is read and
 * its @dbit cleared as the iterator's steps would, with the same events,
 * but without stepping over the entries between them.  Only when no
 * scheduler is hooked in (sched_resched_off()), which would see fewer SPTE
 * reads.  The iterator is left on the table's last entry if bits of a
 * later table remain.  Returns the bits not done.
 */
static unsigned long clear_dirty_4k_run(struct kvm *kvm, struct tdp_iter *iter, gfn_t gfn,
					unsigned long mask, u64 dbit)
{
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	gfn_t first = round_down(iter->gfn, SPTE_ENT_PER_PAGE);
	tdp_ptep_t table = iter->sptep - (iter->gfn - first);

	while (mask) {
		int bit = __ffs64(mask);
		gfn_t g = gfn + bit;
		tdp_ptep_t sptep = table + (g - first);
		u64 old_spte;
		bool plain;

		if (g >= first + SPTE_ENT_PER_PAGE) {
			iter->gfn = iter->next_last_level_gfn = first + SPTE_ENT_PER_PAGE - 1;
			iter->sptep = table + SPTE_ENT_PER_PAGE - 1;
			iter->old_spte = kvm_tdp_mmu_read_spte(iter->sptep);
			return mask;
		}
		mask &= ~(1UL << bit);
		/* Below the iterator: under a huge leaf the walk skipped, not 4K. */
		if (g < iter->gfn)
			continue;
		old_spte = kvm_tdp_mmu_read_spte(sptep);
		if (!is_shadow_present_pte(old_spte) || !(old_spte & dbit))
			continue;
		plain = !spte_needs_atomic_update(m, old_spte);
		old_spte = tdp_mmu_clear_spte_bits(m, sptep, old_spte, dbit, PG_LEVEL_4K);
		tdp_mmu_spte_event(kvm, iter->as_id, sptep, g, old_spte, old_spte & ~dbit,
				   PG_LEVEL_4K, false, false, plain);
	}
	return 0;
}

static void clear_dirty_pt_masked(struct kvm *kvm, struct kvm_mmu_page *root, gfn_t gfn,
				  unsigned long mask, bool wrprot)
{
	/* Under a controlled schedule, entry by entry. */
	bool fast = sched_resched_off();
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	const u64 dbit = (wrprot || !m->ad_enabled) ? PT_WRITABLE_MASK : m->dirty_mask;
	struct kvmmu_ev_range r = { 0 };
	struct tdp_iter iter;

	lockdep_assert_held_write(&kvm->mmu_lock);
	/* Clearing D (PML) leaves W: only write-protection has a promise to check. */
	if (dbit == PT_WRITABLE_MASK)
		r = tdp_mmu_range_begin(kvm, root, KVMMU_RANGE_WRPROT, PG_LEVEL_4K, gfn,
					gfn + BITS_PER_LONG, mask);
	rcu_read_lock();
	tdp_root_for_each_leaf_pte(iter, kvm, root, gfn + __ffs64(mask), gfn + BITS_PER_LONG) {
		u64 old_spte;
		bool plain;

		if (!mask)
			break;
		if (iter.level == PG_LEVEL_4K && fast) {
			mask = clear_dirty_4k_run(kvm, &iter, gfn, mask, dbit);
			if (!mask)
				break;
			continue;
		}
		if (iter.level > PG_LEVEL_4K || !(mask & (1UL << (iter.gfn - gfn))))
			continue;
		mask &= ~(1UL << (iter.gfn - gfn));
		if (!(iter.old_spte & dbit))
			continue;
		plain = !spte_needs_atomic_update(m, iter.old_spte);
		old_spte = tdp_mmu_clear_spte_bits(m, iter.sptep, iter.old_spte, dbit, iter.level);
		iter.old_spte = old_spte;
		tdp_mmu_spte_event(kvm, iter.as_id, iter.sptep, iter.gfn, old_spte,
				   old_spte & ~dbit, iter.level, false, false, plain);
	}
	rcu_read_unlock();
	if (dbit == PT_WRITABLE_MASK)
		tdp_mmu_range_end(&r, true);
}

/*
 * Re-protect the 4K pages of @mask (bit i is gfn + i), under the write
 * lock: clear W (dirty logging without PML) or D.  The caller flushes.
 */
void kvm_tdp_mmu_clear_dirty_pt_masked(struct kvm *kvm, struct kvm_memory_slot *slot,
				       gfn_t gfn, unsigned long mask, bool wrprot)
{
	struct kvm_mmu_page *root;

	for_each_valid_tdp_mmu_root(kvm, root, slot->as_id)
		clear_dirty_pt_masked(kvm, root, gfn, mask, wrprot);
}

static bool write_protect_gfn(struct kvm *kvm, struct kvm_mmu_page *root, gfn_t gfn,
			      int min_level)
{
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	struct tdp_iter iter;
	bool spte_set = false;

	BUG_ON(min_level > KVM_MAX_HUGEPAGE_LEVEL);
	rcu_read_lock();
	for_each_tdp_pte_min_level(iter, kvm, root, min_level, gfn, gfn + 1) {
		u64 new_spte;

		if (!is_shadow_present_pte(iter.old_spte) ||
		    !is_last_spte(iter.old_spte, iter.level))
			continue;
		new_spte = iter.old_spte & ~(PT_WRITABLE_MASK | m->mmu_writable_mask);
		if (new_spte == iter.old_spte)
			break;
		tdp_mmu_iter_set_spte(kvm, &iter, new_spte);
		spte_set = true;
	}
	rcu_read_unlock();
	return spte_set;
}

/*
 * Clear W and MMU-writable on the leaves mapping @gfn at or above
 * @min_level, so that only the slow path can make them writable again.
 * Under the write lock; the caller flushes.
 */
bool kvm_tdp_mmu_write_protect_gfn(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn,
				   int min_level)
{
	struct kvm_mmu_page *root;
	bool spte_set = false;

	lockdep_assert_held_write(&kvm->mmu_lock);
	for_each_valid_tdp_mmu_root(kvm, root, slot->as_id)
		spte_set |= write_protect_gfn(kvm, root, gfn, min_level);
	return spte_set;
}

static int tdp_mmu_split_huge_pages_root(struct kvm *kvm, struct kvm_mmu_page *root,
					 gfn_t start, gfn_t end, int target_level, bool shared)
{
	struct kvm_mmu_page *sp = NULL;
	struct kvmmu_ev_range r;
	struct tdp_iter iter;
	int ret = 0;

	r = tdp_mmu_range_begin(kvm, root, KVMMU_RANGE_SPLIT, target_level, start, end, 0);
	rcu_read_lock();
	/*
	 * Pre-order: a huge SPTE is visited before the table that replaces
	 * it, so 1G pages split to 2M and then on to 4K in one walk.
	 */
	for_each_tdp_pte_min_level(iter, kvm, root, target_level + 1, start, end) {
retry:
		if (tdp_mmu_iter_cond_resched(kvm, &iter, false, shared))
			continue;
		if (!is_shadow_present_pte(iter.old_spte) || !is_large_pte(iter.old_spte))
			continue;

		if (!sp) {
			/* Allocate without the lock, then restart the walk. */
			rcu_read_unlock();
			if (shared)
				read_unlock(&kvm->mmu_lock);
			else
				write_unlock(&kvm->mmu_lock);
			sp = kvm_mmu_alloc_page(kvm);
			if (shared)
				read_lock(&kvm->mmu_lock);
			else
				write_lock(&kvm->mmu_lock);
			rcu_read_lock();
			if (!sp) {
				ret = -ENOMEM;
				break;
			}
			iter.yielded = true;
			continue;
		}

		tdp_mmu_init_child_sp(kvm, sp, &iter);
		if (tdp_mmu_split_huge_page(kvm, &iter, sp, shared))
			goto retry;
		sp = NULL;
	}
	rcu_read_unlock();
	tdp_mmu_range_end(&r, !ret);

	/* A vCPU may have split the last one first. */
	if (sp)
		kvm_mmu_free_page(kvm, sp);
	return ret;
}

/* Split huge pages in [start, end) of @slot down to @target_level. */
int kvm_tdp_mmu_try_split_huge_pages(struct kvm *kvm, const struct kvm_memory_slot *slot,
				     gfn_t start, gfn_t end, int target_level, bool shared)
{
	struct kvm_mmu_page *root;
	int r = 0;

	if (shared)
		lockdep_assert_held_read(&kvm->mmu_lock);
	else
		lockdep_assert_held_write(&kvm->mmu_lock);
	for_each_valid_tdp_mmu_root_yield_safe(kvm, root, slot->as_id) {
		r = tdp_mmu_split_huge_pages_root(kvm, root, start, end, target_level, shared);
		if (r) {
			kvm_tdp_mmu_put_root(kvm, root);
			break;
		}
	}
	return r;
}

/* A huge SPTE for the table under @parent, from any leaf in it. */
static int tdp_mmu_make_huge_spte(struct kvm *kvm, struct tdp_iter *parent, u64 *huge_spte)
{
	struct kvm_mmu_page *root = spte_to_child_sp(kvm, parent->old_spte);
	gfn_t start = parent->gfn;
	gfn_t end = start + KVM_PAGES_PER_HPAGE(parent->level);
	struct tdp_iter iter;

	tdp_root_for_each_leaf_pte(iter, kvm, root, start, end) {
		/*
		 * Judge progress by the parent, or this would return -EAGAIN
		 * forever while the caller's walk cannot yield.
		 */
		if (tdp_mmu_iter_need_resched(kvm, parent))
			return -EAGAIN;
		*huge_spte = make_huge_spte(kvm, iter.old_spte, parent->level);
		return 0;
	}
	return -ENOENT;
}

static void recover_huge_pages_range(struct kvm *kvm, struct kvm_mmu_page *root,
				     const struct kvm_memory_slot *slot)
{
	gfn_t start = slot->base_gfn;
	gfn_t end = start + slot->npages;
	struct tdp_iter iter;
	bool flush = false;
	u64 huge_spte;
	int r;

	if (WARN_ON_ONCE(kvm_slot_dirty_track_enabled(slot)))
		return;

	rcu_read_lock();
	for_each_tdp_pte_min_level(iter, kvm, root, PG_LEVEL_2M, start, end) {
retry:
		if (tdp_mmu_iter_cond_resched(kvm, &iter, flush, true)) {
			flush = false;
			continue;
		}
		if (iter.level > KVM_MAX_HUGEPAGE_LEVEL || !is_shadow_present_pte(iter.old_spte))
			continue;
		/* A leaf that could be huge would have been made huge when mapped. */
		if (is_last_spte(iter.old_spte, iter.level))
			continue;
		/* Part of the huge page lies outside the slot: not ours to map. */
		if (iter.gfn < start || iter.gfn + KVM_PAGES_PER_HPAGE(iter.level) > end)
			continue;
		if (kvm_mmu_max_mapping_level(kvm, slot, iter.gfn, KVM_MAX_HUGEPAGE_LEVEL) <
		    iter.level)
			continue;

		r = tdp_mmu_make_huge_spte(kvm, &iter, &huge_spte);
		if (r == -EAGAIN)
			goto retry;
		else if (r)
			continue;
		/* In place: the huge leaf maps what the table did. */
		if (__tdp_mmu_set_spte_atomic_handle(kvm, &iter, huge_spte, true))
			goto retry;
		flush = true;
	}
	if (flush)
		kvm_flush_remote_tlbs_memslot(kvm, slot);
	rcu_read_unlock();
}

/* Make huge again what dirty logging split, once logging is off. */
void kvm_tdp_mmu_recover_huge_pages(struct kvm *kvm, const struct kvm_memory_slot *slot)
{
	struct kvm_mmu_page *root;

	lockdep_assert_held_read(&kvm->mmu_lock);
	for_each_valid_tdp_mmu_root_yield_safe(kvm, root, slot->as_id)
		recover_huge_pages_range(kvm, root, slot);
}
