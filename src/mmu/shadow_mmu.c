// SPDX-License-Identifier: GPL-2.0-only
/*
 * The shadow MMU (see shadow_mmu.h): shadow pages found by gfn and role in
 * a hash, reverse maps from gfns to the SPTEs that map them, the two-phase
 * zap that stands in for RCU, and obsolete pages after a fast zap.
 *
 * Rules kept here, with the invariants of docs/invariants.md they serve:
 *  - every present leaf SPTE is in exactly one rmap (of its gfn, level and
 *    memslot), and every non-leaf SPTE in its child's parent_ptes;
 *  - every change of a shared SPTE is made under mmu_lock for write, with
 *    an exchange where the CPU or a lockless fast page fault may change it
 *    too (the D bit, W), so that nothing they set is lost;
 *  - a page leaves the hash and its tables are unlinked (prepare) before
 *    the remote TLB flush, and is freed only after it (commit); a page in
 *    use as a root stays until its last vCPU drops it;
 *  - a fast zap makes every page obsolete at once (mmu_valid_gen), and a
 *    fault against an obsolete root retries.
 *
 * kvmmu frees a committed page's table after an RCU grace period rather
 * than at once: KVM's lockless walkers are waited out by the flush (they
 * run in READING_SHADOW_PAGE_TABLES mode, which the flush waits for), but
 * kvmmu's checkers walk tables too, under rcu_read_lock() only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mmu.h"
#include "page_track.h"
#include "shadow_mmu.h"
#include "tdp_mmu.h"

/* ---- events ------------------------------------------------------------------------- */

/*
 * The gfn entry @index of @sp maps.  READ_ONCE: observers look without
 * mmu_lock (chk_access_gpa(), chk_view_gfn()); KVM writes it under the lock.
 */
static gfn_t kvm_mmu_page_get_gfn(const struct kvm_mmu_page *sp, int index)
{
	if (sp->shadowed_translation)
		return READ_ONCE(sp->shadowed_translation[index]) >> PAGE_SHIFT;
	return sp->gfn + ((gfn_t)index << ((sp->role.level - 1) * SPTE_LEVEL_BITS));
}

static int spte_index(const _Atomic u64 *sptep)
{
	return (int)(((uintptr_t)sptep & (PAGE_SIZE - 1)) / sizeof(u64));
}

gfn_t kvm_mmu_sptep_gfn(struct kvm *kvm, const void *sptep, int *level)
{
	struct kvm_mmu_page *sp = sptep_to_sp(kvm, sptep);

	if (!sp || sp->tdp_mmu_page)
		return ~(gfn_t)0;
	*level = sp->role.level;
	return kvm_mmu_page_get_gfn(sp, spte_index(sptep));
}

static unsigned int kvm_mmu_page_get_access(const struct kvm_mmu_page *sp, int index)
{
	if (sp->shadowed_translation)
		return READ_ONCE(sp->shadowed_translation[index]) & ACC_ALL;
	return sp->role.access;
}

static void kvm_mmu_page_set_translation(struct kvm_mmu_page *sp, int index, gfn_t gfn,
					 unsigned int access)
{
	if (sp->shadowed_translation) {
		/* WRITE_ONCE: pairs with the READ_ONCE of kvm_mmu_page_get_gfn(). */
		WRITE_ONCE(sp->shadowed_translation[index], (gfn << PAGE_SHIFT) | access);
		return;
	}
	WARN_ONCE(access != kvm_mmu_page_get_access(sp, index),
		  "access mismatch under %s page %llx (expected %u, got %u)",
		  sp->role.passthrough ? "passthrough" : "direct",
		  (unsigned long long)sp->gfn, kvm_mmu_page_get_access(sp, index), access);
	WARN_ONCE(gfn != kvm_mmu_page_get_gfn(sp, index),
		  "gfn mismatch under %s page %llx (expected %llx, got %llx)",
		  sp->role.passthrough ? "passthrough" : "direct",
		  (unsigned long long)sp->gfn,
		  (unsigned long long)kvm_mmu_page_get_gfn(sp, index), (unsigned long long)gfn);
}


/*
 * Report an SPTE change as the TDP MMU does (KVMMU_EV_SPTE_CHANGE), with
 * the gfn and level the entry maps.  Under the write lock, except for
 * lockless aging (@shared: made without mmu_lock).
 */
static void __shadow_spte_event(struct kvm *kvm, _Atomic u64 *sptep, u64 old_spte,
				u64 new_spte, bool plain, bool shared, bool preserves)
{
	struct kvm_mmu_page *sp = sptep_to_sp(kvm, sptep);
	int level = sp->role.level;
	gfn_t gfn = kvm_mmu_page_get_gfn(sp, spte_index(sptep));

	gfn &= ~(KVM_PAGES_PER_HPAGE(level) - 1);
	kvmmu_observe(KVMMU_EV_SPTE_CHANGE, spte, .kvm = kvm, .sptep = (const void *)sptep,
		      .old_spte = old_spte, .new_spte = new_spte, .gfn = gfn,
		      .level = (u8)level, .as_id = (u8)kvm_mmu_role_as_id(sp->role),
		      .shared = shared, .preserves = preserves, .plain = plain);
}

static void shadow_spte_event(struct kvm *kvm, _Atomic u64 *sptep, u64 old_spte, u64 new_spte,
			      bool plain)
{
	__shadow_spte_event(kvm, sptep, old_spte, new_spte, plain, false, false);
}

static void shadow_spte_event_shared(struct kvm *kvm, _Atomic u64 *sptep, u64 old_spte,
				     u64 new_spte)
{
	__shadow_spte_event(kvm, sptep, old_spte, new_spte, false, true, false);
}

/* ---- shared SPTE access ---------------------------------------------------------------- */

u64 mmu_spte_read(_Atomic u64 *sptep)
{
	/*
	 * Acquire: a child table is complete before the SPTE that links it
	 * is seen (pairs with the release in __mmu_spte_store()).
	 */
	u64 spte = atomic_load_explicit(sptep, memory_order_acquire);

	if (is_shadow_present_pte(spte))
		sched_point(SP_SPTE_READ, (const void *)sptep);
	return spte;
}

static void __mmu_spte_store(_Atomic u64 *sptep, u64 new_spte)
{
	sched_point(SP_SPTE_XCHG, (const void *)sptep);
	/* Release: a child table is fully built before it is linked. */
	atomic_store_explicit(sptep, new_spte, memory_order_release);
}

/*
 * Replace a present SPTE: exchange it if the CPU (D, A) or a lockless
 * fast page fault (W) may change it meanwhile, else store.  Returns the
 * value replaced.
 */
static u64 mmu_spte_update_no_track(struct kvm *kvm, _Atomic u64 *sptep, u64 old_spte,
				    u64 new_spte)
{
	bool plain = !spte_needs_atomic_update(&kvm->arch.masks, old_spte);

	if (plain) {
		__mmu_spte_store(sptep, new_spte);
	} else {
		sched_point(SP_SPTE_XCHG, (const void *)sptep);
		old_spte = atomic_exchange(sptep, new_spte);
	}
	shadow_spte_event(kvm, sptep, old_spte, new_spte, plain);
	return old_spte;
}

/* Make a non-present SPTE present (or another non-present value). */
static void mmu_spte_set(struct kvm *kvm, _Atomic u64 *sptep, u64 new_spte)
{
	u64 old_spte = mmu_spte_read(sptep);

	WARN_ON_ONCE(is_shadow_present_pte(old_spte));
	__mmu_spte_store(sptep, new_spte);
	shadow_spte_event(kvm, sptep, old_spte, new_spte, true);
}

/*
 * Update a leaf in place (same pfn).  Returns whether the TLB must be
 * flushed: MMU-writable went away, so a stale writable entry must die.
 */
static bool mmu_spte_update(struct kvm *kvm, _Atomic u64 *sptep, u64 new_spte)
{
	u64 old_spte = mmu_spte_read(sptep);

	if (!is_shadow_present_pte(old_spte)) {
		mmu_spte_set(kvm, sptep, new_spte);
		return false;
	}
	old_spte = mmu_spte_update_no_track(kvm, sptep, old_spte, new_spte);
	WARN_ON_ONCE(spte_to_pfn(old_spte) != spte_to_pfn(new_spte));
	return leaf_spte_change_needs_tlb_flush(&kvm->arch.masks, old_spte, new_spte);
}

/* Zap an SPTE; returns what was there (A/D included, by exchange where needed). */
static u64 mmu_spte_clear_track_bits(struct kvm *kvm, _Atomic u64 *sptep)
{
	u64 old_spte = mmu_spte_read(sptep);

	if (!is_shadow_present_pte(old_spte))
		return old_spte;
	return mmu_spte_update_no_track(kvm, sptep, old_spte, SHADOW_NONPRESENT_VALUE);
}

/* Clear an SPTE whose value nobody needs (a non-leaf, an MMIO SPTE). */
static void mmu_spte_clear_no_track(struct kvm *kvm, _Atomic u64 *sptep)
{
	u64 old_spte = mmu_spte_read(sptep);

	if (old_spte == SHADOW_NONPRESENT_VALUE)
		return;
	if (is_shadow_present_pte(old_spte)) {
		mmu_spte_update_no_track(kvm, sptep, old_spte, SHADOW_NONPRESENT_VALUE);
		return;
	}
	__mmu_spte_store(sptep, SHADOW_NONPRESENT_VALUE);
	shadow_spte_event(kvm, sptep, old_spte, SHADOW_NONPRESENT_VALUE, true);
}

bool mmu_spte_cmpxchg_lockless(struct kvm *kvm, _Atomic u64 *sptep, u64 *old, u64 new_spte)
{
	sched_point(SP_SPTE_CMPXCHG, (const void *)sptep);
	return try_cmpxchg64(sptep, old, new_spte);
}

/* ---- rmaps ---------------------------------------------------------------------------- */

static struct kvm_memslots *kvm_memslots_for_spte_role(struct kvm *kvm,
						       union kvm_mmu_page_role role)
{
	return __kvm_memslots(kvm, kvm_mmu_role_as_id(role));
}

static unsigned long gfn_to_index(gfn_t gfn, gfn_t base_gfn, int level)
{
	return (unsigned long)((gfn >> ((level - 1) * SPTE_LEVEL_BITS)) -
			       (base_gfn >> ((level - 1) * SPTE_LEVEL_BITS)));
}

static struct kvm_rmap_head *gfn_to_rmap(gfn_t gfn, int level,
					 const struct kvm_memory_slot *slot)
{
	return &slot->arch.rmap[level - PG_LEVEL_4K][gfn_to_index(gfn, slot->base_gfn, level)];
}

static void rmap_add(struct kvm_vcpu *vcpu, const struct kvm_memory_slot *slot,
		     _Atomic u64 *spte, gfn_t gfn, unsigned int access)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu_page *sp = sptep_to_sp(kvm, spte);
	struct kvm_rmap_head *rmap_head;
	int rmap_count;

	if (kvm_memslot_meta_freed(slot, gfn, KVMMU_SLOT_META_RMAP, true))
		return;
	kvm_mmu_page_set_translation(sp, spte_index(spte), gfn, access);
	kvm_update_page_stats(kvm, sp->role.level, 1);

	rmap_head = gfn_to_rmap(gfn, sp->role.level, slot);
	rmap_count = pte_list_add(kvm, &vcpu->arch.mmu_pte_list_desc_cache, spte, rmap_head);
	kvm_stat_max(kvm->stat.max_mmu_rmap_size, (u64)rmap_count + 1);

	/* An over-long chain is dropped whole: the gfn is mapped too often. */
	if (rmap_count > RMAP_RECYCLE_THRESHOLD) {
		struct rmap_iterator iter;
		_Atomic u64 *sptep;

		while ((sptep = rmap_get_first(rmap_head, &iter))) {
			u64 old = mmu_spte_clear_track_bits(kvm, sptep);

			WARN_ON_ONCE(!is_shadow_present_pte(old));
			kvm_update_page_stats(kvm, sptep_to_sp(kvm, sptep)->role.level, -1);
			pte_list_remove(kvm, sptep, rmap_head);
		}
		kvm_flush_remote_tlbs_gfn(kvm, gfn, sp->role.level);
	}
}

static void rmap_remove(struct kvm *kvm, _Atomic u64 *spte)
{
	struct kvm_mmu_page *sp = sptep_to_sp(kvm, spte);
	gfn_t gfn = kvm_mmu_page_get_gfn(sp, spte_index(spte));
	const struct kvm_memory_slot *slot;

	/*
	 * The memslot is still there: deleting one zaps its SPTEs while its
	 * INVALID copy (sharing its rmaps) is in the active set.  Were it
	 * gone, KVM would reach for its freed rmaps: kvmmu finds the
	 * poisoned ones and reports the touch.
	 */
	slot = __gfn_to_memslot(kvm_memslots_for_spte_role(kvm, sp->role), gfn);
	if (!slot)
		slot = kvm_freed_memslot(kvm, kvm_mmu_role_as_id(sp->role), gfn);
	if (KVM_BUG_ON(!slot, kvm) || kvm_memslot_meta_freed(slot, gfn, KVMMU_SLOT_META_RMAP, true))
		return;
	pte_list_remove(kvm, spte, gfn_to_rmap(gfn, sp->role.level, slot));
}

/* Zap a present leaf and forget it in its rmap.  Returns the old value. */
static u64 drop_spte(struct kvm *kvm, _Atomic u64 *sptep)
{
	u64 old_spte = mmu_spte_clear_track_bits(kvm, sptep);

	if (is_shadow_present_pte(old_spte)) {
		kvm_update_page_stats(kvm, sptep_to_sp(kvm, sptep)->role.level, -1);
		rmap_remove(kvm, sptep);
	}
	return old_spte;
}

int memslot_rmap_alloc(struct kvm_memory_slot *slot, unsigned long npages)
{
	int i;

	for (i = 0; i < KVM_NR_PAGE_SIZES; i++) {
		int level = i + PG_LEVEL_4K;
		unsigned long lpages = gfn_to_index(slot->base_gfn + npages - 1,
						    slot->base_gfn, level) + 1;

		if (slot->arch.rmap[i])
			continue;
		slot->arch.rmap[i] = calloc(lpages, sizeof(*slot->arch.rmap[i]));
		if (!slot->arch.rmap[i])
			return -ENOMEM;
	}
	return 0;
}

/* Every SPTE of a slot is zapped before its rmaps go: drop (and warn of) any left. */
static void memslot_rmap_check_empty(struct kvm *kvm, struct kvm_memory_slot *slot, int i)
{
	struct kvm_rmap_head *rmap = slot->arch.rmap[i];
	unsigned long j, lpages;

	lpages = gfn_to_index(slot->base_gfn + slot->npages - 1, slot->base_gfn,
			      i + PG_LEVEL_4K) + 1;
	for (j = 0; j < lpages; j++) {
		if (WARN_ON_ONCE(kvm_rmap_get(&rmap[j])))
			pte_list_destroy(kvm, &rmap[j]);
	}
}

void memslot_rmap_free(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	int i;

	for (i = 0; i < KVM_NR_PAGE_SIZES; i++) {
		if (!slot->arch.rmap[i])
			continue;
		/* Poisoned arrays were checked when they were poisoned. */
		if (!(slot->flags & KVM_MEMSLOT_FREED))
			memslot_rmap_check_empty(kvm, slot, i);
		free(slot->arch.rmap[i]);
		slot->arch.rmap[i] = NULL;
	}
}

void memslot_rmap_poison(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	int i;

	for (i = 0; i < KVM_NR_PAGE_SIZES; i++) {
		unsigned long lpages;

		if (!slot->arch.rmap[i])
			continue;
		memslot_rmap_check_empty(kvm, slot, i);
		lpages = gfn_to_index(slot->base_gfn + slot->npages - 1, slot->base_gfn,
				      i + PG_LEVEL_4K) + 1;
		memset(slot->arch.rmap[i], KVM_MEMSLOT_POISON, lpages * sizeof(*slot->arch.rmap[i]));
	}
}

/* ---- shadow pages ------------------------------------------------------------------------ */

static unsigned int kvm_page_table_hashfn(gfn_t gfn)
{
	/* hash_64(): the golden-ratio multiply, top bits. */
	return (unsigned int)((gfn * 0x61C8864680B583EBULL) >> (64 - KVM_MMU_HASH_SHIFT));
}

struct hlist_head *kvm_mmu_page_hash_bucket(struct kvm *kvm, gfn_t gfn)
{
	return &kvm->arch.mmu_page_hash[kvm_page_table_hashfn(gfn)];
}

int kvm_mmu_init_shadow_mmu(struct kvm *kvm)
{
	INIT_LIST_HEAD(&kvm->arch.active_mmu_pages);
	INIT_LIST_HEAD(&kvm->arch.shadow_root_pages);
	kvm->arch.n_max_mmu_pages = KVM_MIN_ALLOC_MMU_PAGES;
	if (tdp_mmu_enabled(kvm))
		return 0;
	kvm->arch.mmu_page_hash = calloc(KVM_NUM_MMU_PAGES, sizeof(struct hlist_head));
	return kvm->arch.mmu_page_hash ? 0 : -ENOMEM;
}

void kvm_mmu_uninit_shadow_mmu(struct kvm *kvm)
{
	WARN_ON_ONCE(!list_empty(&kvm->arch.active_mmu_pages));
	WARN_ON_ONCE(kvm->arch.n_used_mmu_pages);
	WARN_ON_ONCE(atomic64_read(&kvm->arch.nr_pte_list_descs));
	pte_list_quarantine_free_all(kvm);
	free(kvm->arch.mmu_page_hash);
	kvm->arch.mmu_page_hash = NULL;
}

static void kvm_account_mmu_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	kvm->arch.n_used_mmu_pages++;
}

static void kvm_unaccount_mmu_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	kvm->arch.n_used_mmu_pages--;
}

static void kvm_mmu_free_shadow_page_rcu(struct rcu_head *head)
{
	struct kvm_mmu_page *sp = container_of(head, struct kvm_mmu_page, rcu_head);

	free(sp->shadowed_translation);
	kvm_mmu_free_page(sp->kvm, sp);
}

/* After the commit's flush: out of every list, and freed after a grace period. */
static void kvm_mmu_free_shadow_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	WARN_ON_ONCE(kvm_rmap_get(&sp->parent_ptes));
	hlist_del_init(&sp->hash_link);
	list_del(&sp->link);
	kvmmu_observe(KVMMU_EV_TABLE_FREE, table, .kvm = kvm, .pfn = sp->pfn, .gfn = sp->gfn,
		      .level = (u8)sp->role.level);
	call_rcu(&sp->rcu_head, kvm_mmu_free_shadow_page_rcu);
}

/*
 * Is @sp valid for a new use?  A page a fast zap left behind (another
 * generation) or one being zapped (invalid) is not.
 */
#define for_each_valid_sp(_kvm, _sp, _list)                                    \
	hlist_for_each_entry(_sp, _list, hash_link)                           \
		if (is_obsolete_sp((_kvm), (_sp))) {                          \
		} else

static int kvm_sync_page(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp);

static struct kvm_mmu_page *kvm_mmu_find_shadow_page(struct kvm *kvm, struct kvm_vcpu *vcpu,
						     gfn_t gfn, struct hlist_head *sp_list,
						     union kvm_mmu_page_role role)
{
	struct kvm_mmu_page *sp, *found = NULL;
	LIST_HEAD(invalid_list);
	int collisions = 0;

	for_each_valid_sp(kvm, sp, sp_list) {
		if (sp->gfn != gfn) {
			collisions++;
			continue;
		}
		if (sp->role.word != role.word)
			continue;
		/*
		 * An unsync page linked in again: its entries are brought up to
		 * date (it stays unsync, not write-protected, until the guest
		 * flushes), so that no stale one shows through a new path.  One
		 * that cannot be synced goes, and a new page is made.
		 */
		if (sp->unsync) {
			int r = kvm_sync_page(vcpu, sp);

			if (r < 0) {
				kvm_mmu_prepare_zap_page(kvm, sp, &invalid_list);
				break;
			}
			if (r > 0)
				kvm_flush_remote_tlbs(kvm);
		}
		found = sp;
		atomic_set(&sp->write_flooding_count, 0);
		break;
	}
	kvm_mmu_commit_zap_page(kvm, &invalid_list);
	if (!found)
		kvm_stat_inc(kvm->stat.mmu_cache_miss);
	kvm_stat_max(kvm->stat.max_mmu_page_hash_collisions, (u64)collisions);
	return found;
}

/* ---- shadowed guest tables -------------------------------------------------------------- */

/*
 * Write-protect every SPTE mapping @gfn at @min_level or above, in the
 * rmaps and (nested EPT: L1's table shadowed for L2) in the TDP MMU's
 * roots; true if a flush is owed.
 */
static bool kvm_mmu_slot_gfn_write_protect(struct kvm *kvm, struct kvm_memory_slot *slot,
					   gfn_t gfn, int min_level)
{
	bool flush = false;

	if (kvm_memslots_have_rmaps(kvm))
		flush = kvm_rmap_write_protect_gfn(kvm, slot, gfn, min_level);
	if (tdp_mmu_enabled(kvm))
		flush |= kvm_tdp_mmu_write_protect_gfn(kvm, slot, gfn, min_level);
	return flush;
}

/*
 * A page that shadows the guest table at sp->gfn: the table may no longer
 * be written by the guest unseen.  Above 4K the gfn is write-tracked (its
 * writes are always emulated); a 4K table only loses huge pages and W.
 */
static void account_shadowed(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	struct kvm_memory_slot *slot;
	gfn_t gfn = sp->gfn;

	/* WRITE_ONCE: read without mmu_lock by kvm_mmu_track_write() and the unprotect. */
	WRITE_ONCE(kvm->arch.indirect_shadow_pages, kvm->arch.indirect_shadow_pages + 1);
	/*
	 * Full barrier: the count is up before fetch re-reads the guest's
	 * entries (FNAME(gpte_changed)), pairing with the one in
	 * kvm_mmu_track_write() after an emulated write: either the write
	 * is seen by the re-read, or the writer sees the count.
	 */
	smp_mb();
	slot = __gfn_to_memslot(kvm_memslots_for_spte_role(kvm, sp->role), gfn);
	if (WARN_ON_ONCE(!slot))
		return;
	if (sp->role.level > PG_LEVEL_4K)
		__kvm_write_track_add_gfn(kvm, slot, gfn);
	else
		kvm_mmu_gfn_disallow_lpage(slot, gfn);
	if (kvm_mmu_slot_gfn_write_protect(kvm, slot, gfn, PG_LEVEL_4K))
		kvm_flush_remote_tlbs_gfn(kvm, gfn, PG_LEVEL_4K);
}

static void unaccount_shadowed(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	struct kvm_memory_slot *slot;
	gfn_t gfn = sp->gfn;

	WRITE_ONCE(kvm->arch.indirect_shadow_pages, kvm->arch.indirect_shadow_pages - 1);
	slot = __gfn_to_memslot(kvm_memslots_for_spte_role(kvm, sp->role), gfn);
	/*
	 * The page outlived its slot (seed 002: a slot zap that left pages
	 * of guest tables behind).  KVM would update the freed slot's
	 * metadata here; kvmmu reaches the poisoned copy, whose accessors
	 * report the touch (KVMMU_EV_SLOT_META_TOUCH) and leave it alone.
	 */
	if (!slot)
		slot = kvm_freed_memslot(kvm, kvm_mmu_role_as_id(sp->role), gfn);
	if (WARN_ON_ONCE(!slot))
		return;
	if (sp->role.level > PG_LEVEL_4K) {
		if (!kvmmu_mutant(MUT_UNACCOUNT_SKIPS_WRITE_TRACK))
			__kvm_write_track_remove_gfn(kvm, slot, gfn);
	} else {
		kvm_mmu_gfn_allow_lpage(slot, gfn);
	}
}

/* The valid pages that shadow a guest table stored at @gfn. */
#define for_each_gfn_valid_sp_with_gptes(_kvm, _sp, _gfn)                      \
	hlist_for_each_entry(_sp, &(_kvm)->arch.mmu_page_hash[kvm_page_table_hashfn(_gfn)], \
			     hash_link)                                               \
		if ((_sp)->gfn != (_gfn) || !sp_has_gptes(_sp) ||                     \
		    is_obsolete_sp((_kvm), (_sp))) {                                  \
		} else

/* ---- unsync pages ---------------------------------------------------------------------- */

/* Which entries of @sp lead to unsync pages (indirect pages only). */
static unsigned long *sp_unsync_bitmap(const struct kvm_mmu_page *sp)
{
	return sp->shadowed_translation ?
		       (unsigned long *)(void *)(sp->shadowed_translation + SPTE_ENT_PER_PAGE) :
		       NULL;
}

static void kvm_mmu_mark_parents_unsync(struct kvm *kvm, struct kvm_mmu_page *sp);

/* The entry @spte leads to an unsync page: say so, upward, on the first one only. */
static void mark_unsync(struct kvm *kvm, _Atomic u64 *spte)
{
	struct kvm_mmu_page *sp = sptep_to_sp(kvm, spte);
	unsigned long *bitmap = sp_unsync_bitmap(sp);
	int index = spte_index(spte);

	if (WARN_ON_ONCE(!bitmap) || test_bit(index, bitmap))
		return;
	__set_bit(index, bitmap);
	/* WRITE_ONCE: is_unsync_root() reads it without mmu_lock. */
	WRITE_ONCE(sp->unsync_children, sp->unsync_children + 1);
	if (sp->unsync_children > 1)
		return;
	kvm_mmu_mark_parents_unsync(kvm, sp);
}

static void kvm_mmu_mark_parents_unsync(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	struct rmap_iterator iter;
	_Atomic u64 *sptep;

	for_each_rmap_spte(&sp->parent_ptes, &iter, sptep)
		mark_unsync(kvm, sptep);
}

static void kvm_unsync_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	kvm_stat_inc(kvm->stat.mmu_unsync);
	WRITE_ONCE(sp->unsync, true);
	kvm_mmu_mark_parents_unsync(kvm, sp);
}

/* @sp is in sync again (or going): its parents' bits go lazily, as walks find them stale. */
static void kvm_unlink_unsync_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	WARN_ON_ONCE(!sp->unsync);
	WRITE_ONCE(sp->unsync, false);
	kvm_stat_add(kvm->stat.mmu_unsync, (u64)-1);
}

static void clear_unsync_child_bit(struct kvm_mmu_page *sp, int index)
{
	WARN_ON_ONCE(!sp->unsync_children);
	WRITE_ONCE(sp->unsync_children, sp->unsync_children - 1);
	__clear_bit(index, sp_unsync_bitmap(sp));
}

/*
 * May @gfn be mapped writable?  Not while it is write-tracked (a table
 * above 4K is shadowed there), nor while syncing; a 4K guest table there
 * becomes unsync instead of staying write-protected: the guest may write
 * it directly, and KVM brings its shadow page up to date when the guest
 * flushes its TLB (mmu_sync_children(), kvm_mmu_invalidate_addr(), a
 * nested root reloaded after INVEPT).  A prefetch does not unsync.
 *
 * Under mmu_lock, for write (shadow MMU faults) or for read (TDP MMU
 * faults of L1 writing its EPT tables): the hash changes only under the
 * write lock, so walking it is safe either way, and two read-lock holders
 * are serialised by mmu_unsync_pages_lock, taken once the first page to
 * unsync is found and then rechecked.
 */
bool mmu_try_to_unsync_pages(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t gfn,
			     bool synchronizing, bool prefetch)
{
	struct kvm_mmu_page *sp;
	bool locked = false, refuse = false;

	if (kvm_gfn_is_write_tracked(kvm, slot, gfn) && !kvmmu_mutant(MUT_UNSYNC_TRACKED_GFN))
		return true;
	/* Acquire: pairs with the release that published the hash. */
	if (!__atomic_load_n(&kvm->arch.mmu_page_hash, __ATOMIC_ACQUIRE) ||
	    !READ_ONCE(kvm->arch.indirect_shadow_pages))
		return false;
	lockdep_assert_held(&kvm->mmu_lock);
	for_each_gfn_valid_sp_with_gptes(kvm, sp, gfn) {
		if (synchronizing)
			return true;
		if (READ_ONCE(sp->unsync))
			continue;
		if (prefetch)
			return true;
		if (sp->role.level != PG_LEVEL_4K && !kvmmu_mutant(MUT_UNSYNC_TRACKED_GFN)) {
			refuse = true;
			break;
		}
		if (!locked) {
			locked = true;
			spin_lock(&kvm->arch.mmu_unsync_pages_lock);
			/* Another TDP fault may have unsynced it meanwhile. */
			if (READ_ONCE(sp->unsync))
				continue;
		}
		kvm_unsync_page(kvm, sp);
	}
	if (locked)
		spin_unlock(&kvm->arch.mmu_unsync_pages_lock);
	if (refuse)
		return true;
	/*
	 * Pairs with the smp_rmb() in is_unsync_root(): the page is unsync
	 * before the SPTE that lets the guest write its table is, so a vCPU
	 * that wrote through it and flushes sees it unsync and syncs.
	 */
	smp_wmb();
	return false;
}

/* Something below @sp (a root) is unsync: the lock-free look of a sync point. */
bool is_unsync_root(struct kvm_mmu_page *sp)
{
	/* Pairs with the smp_wmb() in mmu_try_to_unsync_pages(). */
	smp_rmb();
	return READ_ONCE(sp->unsync) || READ_ONCE(sp->unsync_children);
}

#define KVM_SYNC_BATCH 16

struct sync_batch {
	struct kvm_mmu_page *page[KVM_SYNC_BATCH];
	int nr;
};

/*
 * Collect unsync pages below @sp into @b, clearing the bits that no longer
 * lead to any; true when the batch is full.
 */
static bool mmu_unsync_walk(struct kvm *kvm, struct kvm_mmu_page *sp, struct sync_batch *b)
{
	unsigned long *bitmap = sp_unsync_bitmap(sp);
	int i, j;

	if (!bitmap)
		return false;
	for (i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		struct kvm_mmu_page *child;
		u64 ent;

		if (!test_bit(i, bitmap))
			continue;
		ent = mmu_spte_read(&sp->spt[i]);
		if (!is_shadow_present_pte(ent) || is_large_pte(ent)) {
			clear_unsync_child_bit(sp, i);
			continue;
		}
		child = spte_to_child_sp(kvm, ent);
		if (child->unsync_children && mmu_unsync_walk(kvm, child, b))
			return true;
		if (child->unsync) {
			for (j = 0; j < b->nr && b->page[j] != child; j++)
				;
			if (j < b->nr)
				continue;
			if (b->nr == KVM_SYNC_BATCH)
				return true;
			b->page[b->nr++] = child;
			continue;
		}
		if (!child->unsync_children)
			clear_unsync_child_bit(sp, i);
	}
	return false;
}

/*
 * Bring an unsync page up to date with the guest's table: each SPTE is
 * recomputed from its gPTE (mmu->sync_spte).  Returns > 0 if a flush is
 * owed, 0 if not, < 0 if the page must be zapped instead (the guest's
 * paging mode no longer matches it, or its table cannot be read).
 */
static int kvm_sync_page(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp)
{
	union kvm_mmu_page_role root_role = vcpu->arch.mmu->root_role;
	/* What the page's role shares with the vCPU's root role, when in use by it. */
	const u32 same = (union kvm_mmu_page_role){
		.has_4_byte_gpte = 1, .efer_nx = 1, .cr0_wp = 1, .smep_andnot_wp = 1,
		.smap_andnot_wp = 1, .ad_disabled = 1, .guest_mode = 1, .smm = 1,
	}.word;
	bool flush = false;
	int i, r;

	if (WARN_ON_ONCE(sp->role.direct || !vcpu->arch.mmu->sync_spte) ||
	    ((sp->role.word ^ root_role.word) & same))
		return -1;
	for (i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		u64 spte = mmu_spte_read(&sp->spt[i]);

		/* An MMIO SPTE too: the gPTE may map another gfn now. */
		if (!is_shadow_present_pte(spte) && !is_mmio_spte(&vcpu->kvm->arch.masks, spte))
			continue;
		r = vcpu->arch.mmu->sync_spte(vcpu, sp, i);
		if (r < 0)
			return -1;
		flush |= r > 0;
	}
	return flush;
}

/*
 * Sync everything unsync below @parent, in batches: write-protect the
 * batch's tables again and flush (from here the guest's writes to them
 * fault), then recompute their SPTEs.  Yields mmu_lock when asked to, with
 * nothing owed across the break (every caller may yield: kvmmu has no
 * sync under another lock, where KVM leaves the rest to KVM_REQ_MMU_SYNC).
 */
static void mmu_sync_children(struct kvm_vcpu *vcpu, struct kvm_mmu_page *parent)
{
	struct kvm *kvm = vcpu->kvm;
	LIST_HEAD(invalid_list);
	bool flush = false;

	lockdep_assert_held_write(&kvm->mmu_lock);
	for (;;) {
		struct sync_batch b = { .nr = 0 };
		bool protected = false;
		int i;

		mmu_unsync_walk(kvm, parent, &b);
		if (!b.nr)
			break;
		for (i = 0; i < b.nr; i++) {
			struct kvm_memory_slot *slot =
				__gfn_to_memslot(kvm_memslots_for_spte_role(kvm, b.page[i]->role),
						 b.page[i]->gfn);

			if (slot)
				protected |= kvm_mmu_slot_gfn_write_protect(kvm, slot, b.page[i]->gfn,
									    PG_LEVEL_4K);
		}
		if (protected)
			kvm_flush_remote_tlbs(kvm);
		for (i = 0; i < b.nr; i++) {
			struct kvm_mmu_page *sp = b.page[i];
			int r;

			kvm_unlink_unsync_page(kvm, sp);
			r = kvm_sync_page(vcpu, sp);
			if (r < 0)
				kvm_mmu_prepare_zap_page(kvm, sp, &invalid_list);
			flush |= r > 0;
		}
		if (need_resched() || rwlock_needbreak(&kvm->mmu_lock)) {
			if (!list_empty(&invalid_list))
				kvm_mmu_commit_zap_page(kvm, &invalid_list);
			else if (flush)
				kvm_flush_remote_tlbs(kvm);
			flush = false;
			cond_resched_rwlock_write(&kvm->mmu_lock);
		}
	}
	if (!list_empty(&invalid_list))
		kvm_mmu_commit_zap_page(kvm, &invalid_list);
	else if (flush)
		kvm_flush_remote_tlbs(kvm);
}

/*
 * A guest TLB flush (a CR3 load): every unsync page below the vCPU's root
 * is brought up to date.  The PAE root has no page: its level-2 pages are
 * synced one by one.
 */
void kvm_mmu_sync_roots(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu_page *sp;
	int i;

	if (mmu->root_role.direct || mmu->root.hpa == INVALID_PAGE)
		return;
	sp = root_to_sp(kvm, mmu->root.hpa);
	if (sp) {
		if (!is_unsync_root(sp))
			return;
		write_lock(&kvm->mmu_lock);
		mmu_sync_children(vcpu, sp);
		write_unlock(&kvm->mmu_lock);
		return;
	}
	if (!mmu->pae_root || mmu->root.hpa != mmu->pae_root_pfn << PAGE_SHIFT)
		return;
	write_lock(&kvm->mmu_lock);
	for (i = 0; i < 4; i++) {
		hpa_t root = atomic_load(&mmu->pae_root[i]) & PT64_BASE_ADDR_MASK;

		if (!root)
			continue;
		sp = root_to_sp(kvm, root);
		if (sp && is_unsync_root(sp))
			mmu_sync_children(vcpu, sp);
	}
	write_unlock(&kvm->mmu_lock);
}

/* The previous roots are not synced: one with unsync pages below goes (KVM's choice too). */
bool kvm_mmu_root_is_unsync(struct kvm *kvm, hpa_t root)
{
	struct kvm_mmu_page *sp = root == INVALID_PAGE ? NULL : root_to_sp(kvm, root);

	return sp && is_unsync_root(sp);
}

/*
 * INVLPG of @gva (kvm_mmu_invalidate_addr()): the SPTE for it in an unsync
 * page is brought up to date, nothing else.
 */
void kvm_mmu_sync_gva(struct kvm_vcpu *vcpu, gva_t gva)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_shadow_walk_iterator it;

	if (vcpu->arch.mmu->root_role.direct || !vcpu->arch.mmu->sync_spte ||
	    vcpu->arch.mmu->root.hpa == INVALID_PAGE)
		return;
	write_lock(&kvm->mmu_lock);
	for_each_shadow_entry(vcpu, gva, it) {
		struct kvm_mmu_page *sp = sptep_to_sp(kvm, it.sptep);
		u64 spte = mmu_spte_read(it.sptep);

		if (sp->unsync && is_shadow_present_pte(spte)) {
			int r = vcpu->arch.mmu->sync_spte(vcpu, sp, (int)it.index);

			if (r)
				kvm_flush_remote_tlbs_gfn(kvm, kvm_mmu_page_get_gfn(sp, (int)it.index),
							  PG_LEVEL_4K);
		}
		if (!is_shadow_present_pte(spte) || is_last_spte(spte, it.level))
			break;
	}
	write_unlock(&kvm->mmu_lock);
}

/*
 * The SPTE at @i of unsync @sp, for the gPTE that now maps @gfn with
 * @pte_access: dropped if it maps another gfn, else rebuilt on the same
 * pfn (a sync never makes an SPTE writable that was not: the rights can
 * only shrink, and a new W comes through a fault).  > 0 if a flush is owed.
 */
int kvm_mmu_sync_spte_update(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp, int i, gfn_t gfn,
			     unsigned int pte_access)
{
	struct kvm *kvm = vcpu->kvm;
	_Atomic u64 *sptep = &sp->spt[i];
	u64 spte = mmu_spte_read(sptep), new_spte;
	struct kvm_memory_slot *slot;

	/* As KVM's sync_mmio_spte(): gone if the gPTE moved, else its access refreshed. */
	if (is_mmio_spte(&kvm->arch.masks, spte)) {
		mmu_spte_clear_no_track(kvm, sptep);
		if (gfn == get_mmio_spte_gfn(spte))
			mmu_spte_set(kvm, sptep, make_mmio_spte(vcpu, gfn, pte_access));
		return 0;
	}
	if (gfn != kvm_mmu_page_get_gfn(sp, i)) {
		drop_spte(kvm, sptep);
		return 1;
	}
	/*
	 * Unchanged rights: nothing to do.  The SPTE may be read-only where
	 * the gPTE allows writes (dirty logging write-protected it): making
	 * it writable here would log a page the guest never wrote.
	 */
	if (kvm_mmu_page_get_access(sp, i) == pte_access)
		return 0;
	kvm_mmu_page_set_translation(sp, i, gfn, pte_access);
	slot = kvm_vcpu_gfn_to_memslot(vcpu, gfn);
	make_spte(vcpu, sp, slot, pte_access, gfn, spte_to_pfn(spte), spte, true, true,
		  spte & kvm->arch.masks.host_writable_mask, &new_spte);
	return mmu_spte_update(kvm, sptep, new_spte);
}

/* An invalid gPTE: the SPTE for it goes (an MMIO one too).  Returns 1 (a flush is owed). */
int kvm_mmu_sync_spte_drop(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp, int i)
{
	if (is_mmio_spte(&vcpu->kvm->arch.masks, mmu_spte_read(&sp->spt[i])))
		mmu_spte_clear_no_track(vcpu->kvm, &sp->spt[i]);
	else
		drop_spte(vcpu->kvm, &sp->spt[i]);
	return 1;
}

void clear_sp_write_flooding_count(struct kvm *kvm, _Atomic u64 *sptep)
{
	atomic_set(&sptep_to_sp(kvm, sptep)->write_flooding_count, 0);
}

static struct kvm_mmu_page *kvm_mmu_alloc_shadow_page(struct kvm_vcpu *vcpu, gfn_t gfn,
						      struct hlist_head *sp_list,
						      union kvm_mmu_page_role role)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu_page *sp = kvm_mmu_alloc_page_from_cache(vcpu);

	INIT_LIST_HEAD(&sp->possible_nx_huge_page_link);
	/* Not on the root list (list_del_rcu() leaves prev NULL too). */
	sp->root_link.prev = NULL;
	INIT_HLIST_NODE(&sp->hash_link);
	sp->kvm = kvm;
	sp->gfn = gfn;
	sp->role = role;
	/*
	 * Indirect pages remember what each entry maps (direct ones compute
	 * it), and which entries lead to unsync pages: the bitmap follows.
	 */
	if (!role.direct && !role.passthrough) {
		sp->shadowed_translation = calloc(SPTE_ENT_PER_PAGE + SPTE_ENT_PER_PAGE / 64,
						  sizeof(u64));
		if (!sp->shadowed_translation)
			abort();
	}
	kvm->host->set_table_owner(kvm->mm, sp->pfn, sp);
	kvmmu_observe(KVMMU_EV_TABLE_ALLOC, table, .kvm = kvm, .pfn = sp->pfn, .gfn = gfn,
		      .level = (u8)role.level);

	/*
	 * A fast zap toggles mmu_valid_gen under the write lock, which is
	 * held here: the page is either made before it (and zapped as
	 * obsolete) or after it, and current.
	 */
	sp->mmu_valid_gen = kvm->arch.mmu_valid_gen;
	list_add(&sp->link, &kvm->arch.active_mmu_pages);
	kvm_account_mmu_page(kvm, sp);
	hlist_add_head(&sp->hash_link, sp_list);
	if (sp_has_gptes(sp))
		account_shadowed(kvm, sp);
	return sp;
}

/* Find or make the page for @gfn and @role. */
struct kvm_mmu_page *kvm_mmu_get_shadow_page(struct kvm_vcpu *vcpu, gfn_t gfn,
						    union kvm_mmu_page_role role)
{
	struct kvm *kvm = vcpu->kvm;
	struct hlist_head *sp_list = &kvm->arch.mmu_page_hash[kvm_page_table_hashfn(gfn)];
	struct kvm_mmu_page *sp;

	lockdep_assert_held_write(&kvm->mmu_lock);
	sp = kvm_mmu_find_shadow_page(kvm, vcpu, gfn, sp_list, role);
	if (!sp)
		sp = kvm_mmu_alloc_shadow_page(vcpu, gfn, sp_list, role);
	return sp;
}

static union kvm_mmu_page_role kvm_mmu_child_role(struct kvm *kvm, _Atomic u64 *sptep,
						  bool direct, unsigned int access)
{
	struct kvm_mmu_page *parent_sp = sptep_to_sp(kvm, sptep);
	union kvm_mmu_page_role role = parent_sp->role;

	role.level--;
	role.access = access;
	role.direct = direct;
	role.passthrough = 0;
	/*
	 * A 32-bit guest's 1024-entry table is shadowed by two (PT) or four
	 * (PD, via the PAE root) 512-entry tables: the quadrant says which
	 * half the child shadows, from the parent entry's index.
	 */
	if (role.has_4_byte_gpte) {
		WARN_ON_ONCE(role.level != PG_LEVEL_4K);
		role.quadrant = spte_index(sptep) & 1;
	}
	return role;
}

/* The child table for @sptep: NULL if one is linked there already. */
struct kvm_mmu_page *kvm_mmu_get_child_sp(struct kvm_vcpu *vcpu, _Atomic u64 *sptep,
					  gfn_t gfn, bool direct, unsigned int access)
{
	u64 spte = mmu_spte_read(sptep);

	if (is_shadow_present_pte(spte) && !is_large_pte(spte))
		return NULL;
	return kvm_mmu_get_shadow_page(vcpu, gfn,
				       kvm_mmu_child_role(vcpu->kvm, sptep, direct, access));
}

static void mmu_page_add_parent_pte(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp,
				    _Atomic u64 *parent_pte)
{
	if (!parent_pte)
		return;
	pte_list_add(vcpu->kvm, &vcpu->arch.mmu_pte_list_desc_cache, parent_pte,
		     &sp->parent_ptes);
}

static void mmu_page_remove_parent_pte(struct kvm *kvm, struct kvm_mmu_page *sp,
				       _Atomic u64 *parent_pte)
{
	pte_list_remove(kvm, parent_pte, &sp->parent_ptes);
}

static void drop_parent_pte(struct kvm *kvm, struct kvm_mmu_page *sp, _Atomic u64 *parent_pte)
{
	mmu_page_remove_parent_pte(kvm, sp, parent_pte);
	mmu_spte_clear_no_track(kvm, parent_pte);
}

/*
 * Below a guest huge page, a direct page made for other rights (the guest
 * entry's W or D changed since) must not be reused: drop it, so that the
 * fault makes one with the rights the guest entry gives now.
 */
void validate_direct_spte(struct kvm_vcpu *vcpu, _Atomic u64 *sptep, unsigned int direct_access)
{
	struct kvm *kvm = vcpu->kvm;
	u64 spte = mmu_spte_read(sptep);
	struct kvm_mmu_page *child;

	if (!is_shadow_present_pte(spte) || is_large_pte(spte))
		return;
	child = spte_to_child_sp(kvm, spte);
	if (child->role.access == direct_access)
		return;
	drop_parent_pte(kvm, child, sptep);
	kvm_flush_remote_tlbs(kvm);
}

/* A huge leaf in the way of a table: zap it (and flush) first. */
static void drop_large_spte(struct kvm *kvm, _Atomic u64 *sptep, bool flush)
{
	struct kvm_mmu_page *sp = sptep_to_sp(kvm, sptep);
	gfn_t gfn = kvm_mmu_page_get_gfn(sp, spte_index(sptep));

	drop_spte(kvm, sptep);
	if (flush)
		kvm_flush_remote_tlbs_gfn(kvm, gfn, sp->role.level);
}

void link_shadow_page(struct kvm_vcpu *vcpu, _Atomic u64 *sptep, struct kvm_mmu_page *sp)
{
	struct kvm *kvm = vcpu->kvm;
	u64 spte = mmu_spte_read(sptep);

	if (is_shadow_present_pte(spte))
		drop_large_spte(kvm, sptep, true);
	mmu_spte_set(kvm, sptep, make_nonleaf_spte(&kvm->arch.masks, sp->pfn, sp->role.ad_disabled));
	mmu_page_add_parent_pte(vcpu, sp, sptep);
	/*
	 * An unsync page (or one with unsync pages below) linked under a new
	 * parent: the new path says so too, or a sync from a root that
	 * reaches it only through this entry would miss it.
	 */
	if (sp->unsync_children || sp->unsync)
		mark_unsync(kvm, sptep);
}

/* ---- the direct-map fault ------------------------------------------------------------------ */

int mmu_set_spte(struct kvm_vcpu *vcpu, struct kvm_memory_slot *slot,
			_Atomic u64 *sptep, unsigned int pte_access, gfn_t gfn, kvm_pfn_t pfn,
			struct kvm_page_fault *fault)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu_page *sp = sptep_to_sp(kvm, sptep);
	int level = sp->role.level;
	bool host_writable = !fault || fault->map_writable;
	bool prefetch = !fault || fault->prefetch;
	bool write_fault = fault && fault->write;
	u64 old_spte = mmu_spte_read(sptep), spte;
	bool was_rmapped = false, flush = false, huge_over_direct = false, wrprot;
	int ret = RET_PF_FIXED;

	if (unlikely(is_noslot_pfn(pfn))) {
		kvm_stat_inc(vcpu->stat.pf_mmio_spte_created);
		if (is_shadow_present_pte(old_spte))
			drop_spte(kvm, sptep);
		mmu_spte_clear_no_track(kvm, sptep);
		mmu_spte_set(kvm, sptep, make_mmio_spte(vcpu, gfn, pte_access));
		return RET_PF_EMULATE;
	}

	if (is_shadow_present_pte(old_spte)) {
		if (level > PG_LEVEL_4K && !is_large_pte(old_spte)) {
			struct kvm_mmu_page *child = spte_to_child_sp(kvm, old_spte);

			/* A table where a huge page goes: unlink the table. */
			huge_over_direct = child->role.direct;
			drop_parent_pte(kvm, child, sptep);
			flush = true;
		} else if (pfn != spte_to_pfn(old_spte)) {
			drop_spte(kvm, sptep);
			flush = true;
		} else {
			was_rmapped = true;
		}
		old_spte = mmu_spte_read(sptep);
	} else if (is_mmio_spte(&kvm->arch.masks, old_spte)) {
		mmu_spte_clear_no_track(kvm, sptep);
		old_spte = SHADOW_NONPRESENT_VALUE;
	}

	wrprot = make_spte(vcpu, sp, slot, pte_access, gfn, pfn, old_spte, prefetch, false,
			   host_writable, &spte);
	if (old_spte == spte) {
		ret = RET_PF_SPURIOUS;
	} else if (huge_over_direct) {
		/*
		 * The huge leaf of the pages the direct table below mapped at
		 * 4K (the fault's mmu_seq check vouches that they are this
		 * host huge page's: an invalidation since would have zapped
		 * them): every gfn keeps its translation, and the flush below
		 * comes after the install, as in KVM.  Reported as such, as
		 * the TDP MMU reports its own table-to-huge-leaf install.
		 */
		__mmu_spte_store(sptep, spte);
		__shadow_spte_event(kvm, sptep, old_spte, spte, true, false, true);
	} else {
		flush |= mmu_spte_update(kvm, sptep, spte);
	}

	if (wrprot && write_fault)
		ret = RET_PF_WRITE_PROTECTED;
	if (flush)
		kvm_flush_remote_tlbs_gfn(kvm, gfn, level);

	if (!was_rmapped) {
		WARN_ON_ONCE(ret == RET_PF_SPURIOUS);
		rmap_add(vcpu, slot, sptep, gfn, pte_access);
	} else {
		kvm_mmu_page_set_translation(sp, spte_index(sptep), gfn, pte_access);
	}
	return ret;
}

void account_nx_huge_page(struct kvm *kvm, struct kvm_mmu_page *sp,
				 bool nx_huge_page_possible)
{
	if (sp->nx_huge_page_disallowed)
		return;
	WRITE_ONCE(sp->nx_huge_page_disallowed, true);
	if (!nx_huge_page_possible)
		return;
	/* The list is shared with the TDP MMU, under its lock. */
	spin_lock(&kvm->arch.tdp_mmu_pages_lock);
	track_possible_nx_huge_page(kvm, sp);
	spin_unlock(&kvm->arch.tdp_mmu_pages_lock);
}

static void unaccount_nx_huge_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	WRITE_ONCE(sp->nx_huge_page_disallowed, false);
	spin_lock(&kvm->arch.tdp_mmu_pages_lock);
	untrack_possible_nx_huge_page(kvm, sp);
	spin_unlock(&kvm->arch.tdp_mmu_pages_lock);
}

int direct_map(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm_shadow_walk_iterator it;
	struct kvm_mmu_page *sp;
	gfn_t base_gfn = fault->gfn;

	lockdep_assert_held_write(&vcpu->kvm->mmu_lock);
	kvm_mmu_hugepage_adjust(vcpu, fault);

	for_each_shadow_entry(vcpu, fault->addr, it) {
		/* No executable huge page over a table: the leaf could be executable. */
		if (fault->nx_huge_page_workaround_enabled)
			disallowed_hugepage_adjust(vcpu->kvm, fault, mmu_spte_read(it.sptep),
						   it.level);

		base_gfn = fault->gfn & ~(KVM_PAGES_PER_HPAGE(it.level) - 1);
		if (it.level == fault->goal_level)
			break;

		sp = kvm_mmu_get_child_sp(vcpu, it.sptep, base_gfn, true, ACC_ALL);
		if (!sp)
			continue;
		link_shadow_page(vcpu, it.sptep, sp);
		if (fault->huge_page_disallowed)
			account_nx_huge_page(vcpu->kvm, sp, fault->req_level >= it.level);
	}

	if (WARN_ON_ONCE(it.level != fault->goal_level))
		return -EFAULT;
	return mmu_set_spte(vcpu, fault->slot, it.sptep, ACC_ALL, base_gfn, fault->pfn, fault);
}

/* ---- lockless walks ----------------------------------------------------------------------- */

/*
 * A lockless walk announces itself in vcpu->mode, so that a remote flush
 * (whose KVM_REQUEST_WAIT covers READING_SHADOW_PAGE_TABLES) waits until
 * the walk is over before a zapped page is freed.  seq_cst: the mode is
 * visible before the first table read (pairs with the mode read in
 * kvm_request_needs_ipi()).  RCU keeps kvmmu's own frames for observers.
 */
void walk_shadow_page_lockless_begin(struct kvm_vcpu *vcpu)
{
	rcu_read_lock();
	atomic_store(&vcpu->mode, READING_SHADOW_PAGE_TABLES);
}

void walk_shadow_page_lockless_end(struct kvm_vcpu *vcpu)
{
	/*
	 * seq_cst, not just release: the reads are done before a flusher sees
	 * the walk end, and the mode is stored before the kicks are read
	 * (kvm_vcpu_ack_kicks()).  A flusher bumps kick_req and then reads the
	 * mode; with a release store the two loads could both see the old
	 * values, and the flusher would wait for an acknowledgement that never
	 * comes.  (KVM's IPI is delivered once interrupts are on again;
	 * kvmmu's vCPU acknowledges by polling, so the order must be explicit.)
	 */
	atomic_store(&vcpu->mode, OUTSIDE_GUEST_MODE);
	kvm_vcpu_ack_kicks(vcpu);
	rcu_read_unlock();
}

_Atomic u64 *shadow_fast_pf_get_last_sptep(struct kvm_vcpu *vcpu, gpa_t gpa, u64 *spte,
					   int *level)
{
	struct kvm_shadow_walk_iterator it;
	_Atomic u64 *sptep = NULL;
	u64 old_spte;

	for (shadow_walk_init(&it, vcpu, gpa); shadow_walk_okay(vcpu, &it);
	     __shadow_walk_next(&it, old_spte)) {
		if (!kvm_mmu_table_alive(vcpu->kvm, it.shadow_addr >> PAGE_SHIFT,
					 gpa_to_gfn(gpa), it.level, KVMMU_READER_FAST_PF)) {
			old_spte = SHADOW_NONPRESENT_VALUE;
			sptep = NULL;
			break;
		}
		old_spte = mmu_spte_read(it.sptep);
		sptep = it.sptep;
		*spte = old_spte;
		*level = it.level;
	}
	return sptep;
}

int shadow_mmu_get_walk(struct kvm_vcpu *vcpu, u64 addr, u64 *sptes, int *root_level)
{
	struct kvm_shadow_walk_iterator it;
	int leaf = -1;
	u64 spte;

	*root_level = vcpu->arch.mmu->root_role.level;
	for (shadow_walk_init(&it, vcpu, addr); shadow_walk_okay(vcpu, &it);
	     __shadow_walk_next(&it, spte)) {
		if (!kvm_mmu_table_alive(vcpu->kvm, it.shadow_addr >> PAGE_SHIFT,
					 gpa_to_gfn(addr), it.level, KVMMU_READER_FAST_PF))
			return -1;
		spte = mmu_spte_read(it.sptep);
		leaf = it.level;
		sptes[leaf] = spte;
	}
	return leaf;
}

/* ---- zapping ------------------------------------------------------------------------------ */

static bool kvm_mmu_prepare_zap_page_rec(struct kvm *kvm, struct kvm_mmu_page *sp,
					 struct list_head *invalid_list, int *nr_zapped);

/* Unlink what entry @spte of @sp points to.  Returns pages zapped with it. */
int mmu_page_zap_pte(struct kvm *kvm, struct kvm_mmu_page *sp, _Atomic u64 *spte,
		     struct list_head *invalid_list)
{
	u64 pte = mmu_spte_read(spte);

	if (is_shadow_present_pte(pte)) {
		if (is_last_spte(pte, sp->role.level)) {
			drop_spte(kvm, spte);
		} else {
			struct kvm_mmu_page *child = spte_to_child_sp(kvm, pte);

			drop_parent_pte(kvm, child, spte);
			/*
			 * A nested TDP child left without parents is unlikely
			 * to be used again: zap it too.  (Direct children
			 * stay in the hash, to be found again.)
			 */
			if (invalid_list && child->role.guest_mode && !kvm_rmap_get(&child->parent_ptes)) {
				int n = 0;

				kvm_mmu_prepare_zap_page_rec(kvm, child, invalid_list, &n);
				return n;
			}
		}
	} else if (is_mmio_spte(&kvm->arch.masks, pte)) {
		mmu_spte_clear_no_track(kvm, spte);
	}
	return 0;
}

static int kvm_mmu_page_unlink_children(struct kvm *kvm, struct kvm_mmu_page *sp,
					struct list_head *invalid_list)
{
	int zapped = 0, i;

	for (i = 0; i < SPTE_ENT_PER_PAGE; ++i)
		zapped += mmu_page_zap_pte(kvm, sp, sp->spt + i, invalid_list);
	return zapped;
}

static void kvm_mmu_unlink_parents(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	struct rmap_iterator iter;
	_Atomic u64 *sptep;

	while ((sptep = rmap_get_first(&sp->parent_ptes, &iter)))
		drop_parent_pte(kvm, sp, sptep);
}

/*
 * Phase one: take @sp out of use.  Its children and parents are unlinked
 * and it leaves the active list for @invalid_list (a root still in use
 * stays until its last vCPU drops it).  Returns true if other pages were
 * zapped with it, so that a walk of active_mmu_pages must restart;
 * @nr_zapped counts them and the page itself.
 */
static bool kvm_mmu_prepare_zap_page_rec(struct kvm *kvm, struct kvm_mmu_page *sp,
					 struct list_head *invalid_list, int *nr_zapped)
{
	bool list_unstable, zapped_root = false;

	lockdep_assert_held_write(&kvm->mmu_lock);
	kvm_stat_inc(kvm->stat.mmu_shadow_zapped);
	*nr_zapped += kvm_mmu_page_unlink_children(kvm, sp, invalid_list);
	if (sp->unsync)
		kvm_unlink_unsync_page(kvm, sp);
	kvm_mmu_unlink_parents(kvm, sp);
	list_unstable = *nr_zapped;

	/* Once: an invalid page was unaccounted when it became invalid. */
	if (!sp->role.invalid && sp_has_gptes(sp))
		unaccount_shadowed(kvm, sp);

	/*
	 * Off the observers' root list; one walking it may still stand on
	 * the page, which is why it is freed after a grace period.
	 */
	if (sp->root_link.prev)
		list_del_rcu(&sp->root_link);

	if (!sp->root_count) {
		(*nr_zapped)++;
		/* An invalid page is on no list: its root use ended off the active list. */
		if (sp->role.invalid)
			list_add(&sp->link, invalid_list);
		else
			list_move(&sp->link, invalid_list);
		kvm_unaccount_mmu_page(kvm, sp);
	} else {
		/* A root in use: off the active list, freed when the last vCPU drops it. */
		list_del(&sp->link);
		zapped_root = !is_obsolete_sp(kvm, sp);
	}

	if (sp->nx_huge_page_disallowed)
		unaccount_nx_huge_page(kvm, sp);

	/* The page is now invalid: lookups and faults skip it. */
	__atomic_store_n(&sp->role.word, sp->role.word | (union kvm_mmu_page_role){ .invalid = 1 }.word,
			 __ATOMIC_RELAXED);
	/*
	 * Only after the root is invalid may vCPUs hear to drop it: one that
	 * took the request early would keep a root that still looked valid.
	 */
	if (zapped_root)
		kvm_make_all_cpus_request(kvm, KVM_REQ_MMU_FREE_OBSOLETE_ROOTS);
	return list_unstable;
}

bool kvm_mmu_prepare_zap_page(struct kvm *kvm, struct kvm_mmu_page *sp,
			      struct list_head *invalid_list)
{
	int nr_zapped = 0;

	return kvm_mmu_prepare_zap_page_rec(kvm, sp, invalid_list, &nr_zapped);
}

/*
 * Phase two: flush every vCPU's TLB, which also waits out lockless walkers
 * (READING_SHADOW_PAGE_TABLES), then free what phase one unlinked.
 */
void kvm_mmu_commit_zap_page(struct kvm *kvm, struct list_head *invalid_list)
{
	struct kvm_mmu_page *sp, *nsp;

	if (list_empty(invalid_list))
		return;
	/* The mutant frees at once: live translations outlast what they came from. */
	if (!kvmmu_mutant(MUT_COMMIT_ZAP_WITHOUT_FLUSH))
		kvm_flush_remote_tlbs(kvm);
	list_for_each_entry_safe(sp, nsp, invalid_list, link) {
		WARN_ON_ONCE(!sp->role.invalid || sp->root_count);
		kvm_mmu_free_shadow_page(kvm, sp);
	}
}

/* ---- emulated writes to shadowed tables ---------------------------------------------------- */

/* A write that is not one whole gPTE (nor one byte of one, as clear_bit() does) zaps the page. */
static bool detect_write_misaligned(const struct kvm_mmu_page *sp, gpa_t gpa, int bytes)
{
	unsigned int offset = gpa & (PAGE_SIZE - 1), pte_size = sp->role.has_4_byte_gpte ? 4 : 8;

	if (!(offset & (pte_size - 1)) && bytes == 1)
		return false;
	return ((offset ^ (offset + bytes - 1)) & ~(pte_size - 1)) || bytes < 4;
}

/* Three emulated writes to an upper-level table, unused in between: the guest reuses it. */
static bool detect_write_flooding(struct kvm_mmu_page *sp)
{
	if (sp->role.level == PG_LEVEL_4K)
		return false;
	atomic_inc(&sp->write_flooding_count);
	return atomic_read(&sp->write_flooding_count) >= 3;
}

/* The SPTEs of @sp that shadow the gPTE written at @gpa (two for a 32-bit PD). */
static _Atomic u64 *get_written_sptes(struct kvm_mmu_page *sp, gpa_t gpa, int *nspte)
{
	unsigned int page_offset = gpa & (PAGE_SIZE - 1);

	*nspte = 1;
	if (sp->role.has_4_byte_gpte) {
		unsigned int quadrant;

		page_offset <<= 1;
		if (sp->role.level == 2) {
			page_offset &= ~7u;
			page_offset <<= 1;
			*nspte = 2;
		}
		quadrant = page_offset >> PAGE_SHIFT;
		page_offset &= PAGE_SIZE - 1;
		if (quadrant != sp->role.quadrant)
			return NULL;
	}
	return &sp->spt[page_offset / sizeof(u64)];
}

void kvm_mmu_track_write(struct kvm_vcpu *vcpu, gpa_t gpa, u64 new_val, int bytes)
{
	struct kvm *kvm = vcpu->kvm;
	gfn_t gfn = gpa_to_gfn(gpa);
	struct kvm_mmu_page *sp;
	struct hlist_node *tmp;
	LIST_HEAD(invalid_list);
	bool flush = false;

	/*
	 * Full barrier, pairing with account_shadowed(): the write is in
	 * guest memory before the count is read.  A page made after this
	 * read sees the new gPTE when it re-reads it.
	 */
	smp_mb();
	if (!READ_ONCE(kvm->arch.indirect_shadow_pages))
		return;

	write_lock(&kvm->mmu_lock);
	kvm_stat_inc(kvm->stat.mmu_pte_write);
	hlist_for_each_entry_safe(sp, tmp, &kvm->arch.mmu_page_hash[kvm_page_table_hashfn(gfn)],
				  hash_link) {
		_Atomic u64 *spte;
		int npte;

		if (sp->gfn != gfn || !sp_has_gptes(sp) || is_obsolete_sp(kvm, sp))
			continue;
		if (detect_write_misaligned(sp, gpa, bytes) || detect_write_flooding(sp)) {
			kvm_mmu_prepare_zap_page(kvm, sp, &invalid_list);
			kvm_stat_inc(kvm->stat.mmu_flooded);
			continue;
		}
		spte = get_written_sptes(sp, gpa, &npte);
		if (!spte)
			continue;
		while (npte--) {
			u64 entry = mmu_spte_read(spte);

			/* The SPTE goes; the next access rebuilds it from the new gPTE. */
			mmu_page_zap_pte(kvm, sp, spte, NULL);
			if (new_val && sp->role.level != PG_LEVEL_4K)
				kvm_stat_inc(kvm->stat.mmu_pde_zapped);
			if (is_shadow_present_pte(entry))
				flush = true;
			++spte;
		}
	}
	if (!list_empty(&invalid_list))
		kvm_mmu_commit_zap_page(kvm, &invalid_list);
	else if (flush)
		kvm_flush_remote_tlbs(kvm);
	write_unlock(&kvm->mmu_lock);
}

/*
 * With KVM_X86_QUIRK_SLOT_ZAP_ALL off, a slot being deleted or moved loses
 * more than its leaves: every page that shadows a guest table stored in it
 * goes too, before the slot does, since their write-track and huge-page
 * accounting lives in the slot (seed 002).  Pages without gPTEs stay: what
 * they map of the slot went with the leaves.  Flushes what @flush says the
 * leaf zap left, before any yield.
 */
void kvm_mmu_zap_memslot_pages_and_flush(struct kvm *kvm, struct kvm_memory_slot *slot,
					 bool flush)
{
	LIST_HEAD(invalid_list);
	unsigned long i;

	lockdep_assert_held_write(&kvm->mmu_lock);
	if (list_empty(&kvm->arch.active_mmu_pages) || kvmmu_mutant(MUT_SLOT_ZAP_LEAFS_ONLY))
		goto out_flush;
	for (i = 0; i < slot->npages; i++) {
		struct kvm_mmu_page *sp;
		gfn_t gfn = slot->base_gfn + i;

		for_each_gfn_valid_sp_with_gptes(kvm, sp, gfn)
			kvm_mmu_prepare_zap_page(kvm, sp, &invalid_list);
		if (need_resched() || rwlock_needbreak(&kvm->mmu_lock)) {
			/* Nothing stale may outlive the lock: flush (and free) first. */
			if (!list_empty(&invalid_list))
				kvm_mmu_commit_zap_page(kvm, &invalid_list);
			else if (flush)
				kvm_flush_remote_tlbs_memslot(kvm, slot);
			flush = false;
			cond_resched_rwlock_write(&kvm->mmu_lock);
		}
	}
out_flush:
	if (!list_empty(&invalid_list))
		kvm_mmu_commit_zap_page(kvm, &invalid_list);
	else if (flush)
		kvm_flush_remote_tlbs_memslot(kvm, slot);
}

/*
 * Zap every page that shadows a guest table at @gfn, so that it may be
 * mapped writable again (an unprotect-and-retry).  True if any went.
 */
bool kvm_mmu_unprotect_gfn(struct kvm *kvm, gfn_t gfn)
{
	struct kvm_mmu_page *sp;
	struct hlist_node *tmp;
	LIST_HEAD(invalid_list);
	bool r = false;

	if (!READ_ONCE(kvm->arch.indirect_shadow_pages))
		return false;
	write_lock(&kvm->mmu_lock);
	hlist_for_each_entry_safe(sp, tmp, &kvm->arch.mmu_page_hash[kvm_page_table_hashfn(gfn)],
				  hash_link) {
		if (sp->gfn != gfn || !sp_has_gptes(sp) || is_obsolete_sp(kvm, sp))
			continue;
		kvm_mmu_prepare_zap_page(kvm, sp, &invalid_list);
		r = true;
	}
	kvm_mmu_commit_zap_page(kvm, &invalid_list);
	write_unlock(&kvm->mmu_lock);
	return r;
}

#define BATCH_ZAP_PAGES 10

/*
 * After a fast zap: zap the pages of the old generation, oldest first.
 * FIFO order means none lies beyond the first current one.  The lock is
 * dropped every BATCH_ZAP_PAGES zapped pages (after committing them).
 */
void kvm_zap_obsolete_pages(struct kvm *kvm)
{
	struct kvm_mmu_page *sp, *node;
	int nr_zapped, batch = 0;
	LIST_HEAD(invalid_list);
	bool unstable;

	lockdep_assert_held_write(&kvm->mmu_lock);
restart:
	list_for_each_entry_safe_reverse(sp, node, &kvm->arch.active_mmu_pages, link) {
		if (!is_obsolete_sp(kvm, sp))
			break;
		/* Invalid roots in use are off this list: nothing here is invalid. */
		if (WARN_ON_ONCE(sp->role.invalid))
			continue;
		if (batch >= BATCH_ZAP_PAGES && rwlock_needbreak(&kvm->mmu_lock)) {
			batch = 0;
			kvm_mmu_commit_zap_page(kvm, &invalid_list);
			cond_resched_rwlock_write(&kvm->mmu_lock);
			goto restart;
		}
		nr_zapped = 0;
		unstable = kvm_mmu_prepare_zap_page_rec(kvm, sp, &invalid_list, &nr_zapped);
		batch += nr_zapped;
		if (unstable)
			goto restart;
	}
	/* The flush kicks lockless walkers; vCPUs reload their roots anyway. */
	kvm_mmu_commit_zap_page(kvm, &invalid_list);
}

/* Zap every shadow page (teardown, notifier release). */
void kvm_shadow_mmu_zap_all(struct kvm *kvm)
{
	struct kvm_mmu_page *sp, *node;
	LIST_HEAD(invalid_list);

	lockdep_assert_held_write(&kvm->mmu_lock);
restart:
	list_for_each_entry_safe(sp, node, &kvm->arch.active_mmu_pages, link) {
		if (WARN_ON_ONCE(sp->role.invalid))
			continue;
		if (kvm_mmu_prepare_zap_page(kvm, sp, &invalid_list))
			goto restart;
		if (cond_resched_rwlock_write(&kvm->mmu_lock))
			goto restart;
	}
	kvm_mmu_commit_zap_page(kvm, &invalid_list);
}

static unsigned long kvm_mmu_available_pages(struct kvm *kvm)
{
	if (kvm->arch.n_max_mmu_pages > kvm->arch.n_used_mmu_pages)
		return kvm->arch.n_max_mmu_pages - kvm->arch.n_used_mmu_pages;
	return 0;
}

/* Zap up to @nr_to_zap of the oldest pages that no vCPU uses as a root. */
static unsigned long kvm_mmu_zap_oldest_mmu_pages(struct kvm *kvm, unsigned long nr_to_zap)
{
	unsigned long total_zapped = 0;
	struct kvm_mmu_page *sp, *tmp;
	LIST_HEAD(invalid_list);
	bool unstable;
	int nr_zapped;

	if (list_empty(&kvm->arch.active_mmu_pages))
		return 0;
restart:
	list_for_each_entry_safe_reverse(sp, tmp, &kvm->arch.active_mmu_pages, link) {
		/* Roots in use cannot go; zapping one would only make it obsolete. */
		if (sp->root_count)
			continue;
		nr_zapped = 0;
		unstable = kvm_mmu_prepare_zap_page_rec(kvm, sp, &invalid_list, &nr_zapped);
		total_zapped += (unsigned long)nr_zapped;
		if (total_zapped >= nr_to_zap)
			break;
		if (unstable)
			goto restart;
	}
	kvm_mmu_commit_zap_page(kvm, &invalid_list);
	kvm_stat_add(kvm->stat.mmu_recycled, total_zapped);
	return total_zapped;
}

int make_mmu_pages_available(struct kvm_vcpu *vcpu)
{
	unsigned long avail = kvm_mmu_available_pages(vcpu->kvm);

	if (likely(avail >= KVM_MIN_FREE_MMU_PAGES))
		return 0;
	kvm_mmu_zap_oldest_mmu_pages(vcpu->kvm, KVM_REFILL_PAGES - avail);
	/* A page for the fault at least, even if the budget is exceeded. */
	if (!kvm_mmu_available_pages(vcpu->kvm))
		return -ENOSPC;
	return 0;
}

void kvm_mmu_change_mmu_pages(struct kvm *kvm, unsigned long goal_nr_mmu_pages)
{
	write_lock(&kvm->mmu_lock);
	if (kvm->arch.n_used_mmu_pages > goal_nr_mmu_pages) {
		kvm_mmu_zap_oldest_mmu_pages(kvm, kvm->arch.n_used_mmu_pages - goal_nr_mmu_pages);
		goal_nr_mmu_pages = kvm->arch.n_used_mmu_pages;
	}
	kvm->arch.n_max_mmu_pages = goal_nr_mmu_pages;
	write_unlock(&kvm->mmu_lock);
}

unsigned long kvm_mmu_calculate_default_mmu_pages(struct kvm *kvm)
{
	struct kvm_memory_slot *slot;
	u64 nr_pages = 0, nr_mmu_pages;
	int i, j;

	for (i = 0; i < KVM_ADDRESS_SPACE_NUM; i++)
		kvm_for_each_memslot(slot, j, __kvm_memslots(kvm, i))
			nr_pages += slot->npages;
	nr_mmu_pages = nr_pages * KVM_PERMILLE_MMU_PAGES / 1000;
	return (unsigned long)max(nr_mmu_pages, (u64)KVM_MIN_ALLOC_MMU_PAGES);
}

/* ---- roots ------------------------------------------------------------------------------- */

static hpa_t mmu_alloc_root(struct kvm_vcpu *vcpu, gfn_t gfn, int quadrant, u8 level)
{
	union kvm_mmu_page_role role = vcpu->arch.mmu->root_role;
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu_page *sp;

	role.level = level;
	role.quadrant = quadrant;
	WARN_ON_ONCE(quadrant && !role.has_4_byte_gpte);
	WARN_ON_ONCE(role.direct && role.has_4_byte_gpte);

	sp = kvm_mmu_get_shadow_page(vcpu, gfn, role);
	++sp->root_count;
	if (!sp->root_link.prev)
		list_add_rcu(&sp->root_link, &kvm->arch.shadow_root_pages);
	kvmmu_observe(KVMMU_EV_ROOT_GET, root, .kvm = kvm, .root = sp, .pfn = sp->pfn,
		      .refcount = sp->root_count, .long_lived = true,
		      .invalid = is_obsolete_sp(kvm, sp));
	return sp->pfn << PAGE_SHIFT;
}

int mmu_alloc_direct_roots(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	struct kvm *kvm = vcpu->kvm;
	hpa_t root;
	int r, i;

	write_lock(&kvm->mmu_lock);
	r = make_mmu_pages_available(vcpu);
	if (r < 0)
		goto out_unlock;
	if (mmu->root_role.level >= 4) {
		root = mmu_alloc_root(vcpu, 0, 0, (u8)mmu->root_role.level);
		/* WRITE_ONCE: observers read other vCPUs' roots (chk_vcpu_root()). */
		WRITE_ONCE(mmu->root.hpa, root);
	} else {
		/* An unpaged guest: 4 GiB through the PAE root, a level-2 page per GiB. */
		for (i = 0; i < 4; i++) {
			WARN_ON_ONCE(atomic_load(&mmu->pae_root[i]));
			root = mmu_alloc_root(vcpu, (gfn_t)i << (30 - PAGE_SHIFT), 0, 2);
			atomic_store_explicit(&mmu->pae_root[i], root | PT_PRESENT_MASK,
					      memory_order_release);
		}
		WRITE_ONCE(mmu->root.hpa, mmu->pae_root_pfn << PAGE_SHIFT);
	}
	mmu->root.pgd = 0;
out_unlock:
	write_unlock(&kvm->mmu_lock);
	return r;
}

/*
 * The roots of a paging guest (ept=0): the shadow page of the guest's top
 * table (64-bit guests), or the PAE root with a level-2 page per present
 * PDPTE, shadowing the PD it points to (PAE guests), or per quadrant of
 * the guest's 1024-entry PD (32-bit guests).
 */
/*
 * The first shadow root of a VM with the TDP MMU (nested EPT): the
 * memslots get the rmaps and write-tracking counts the shadow MMU needs,
 * and the VM its page hash.  Under slots_arch_lock, so that no memslot is
 * being created or copied meanwhile: a slot created later allocates them
 * itself (kvm_mmu_alloc_memslot_metadata()), a slot being deleted has its
 * INVALID copy's metadata copied back.  The flag is set last, with
 * release: pairs with the acquire in kvm_shadow_root_allocated(), so who
 * sees it sees every slot's arrays.
 */
static int mmu_first_shadow_root_alloc(struct kvm *kvm)
{
	struct kvm_memory_slot *slot;
	struct hlist_head *hash;
	int r = 0, as, i;

	if (kvm_shadow_root_allocated(kvm))
		return 0;
	mutex_lock(&kvm->slots_arch_lock);
	if (kvm_shadow_root_allocated(kvm))
		goto out_unlock;
	if (!kvm->arch.mmu_page_hash) {
		hash = calloc(KVM_NUM_MMU_PAGES, sizeof(*hash));
		if (!hash) {
			r = -ENOMEM;
			goto out_unlock;
		}
		/* Release: the buckets are empty before lookups can see them. */
		__atomic_store_n(&kvm->arch.mmu_page_hash, hash, __ATOMIC_RELEASE);
	}
	for (as = 0; as < KVM_ADDRESS_SPACE_NUM; as++) {
		struct kvm_memslots *slots = __kvm_memslots(kvm, as);

		kvm_for_each_memslot(slot, i, slots) {
			r = memslot_rmap_alloc(slot, slot->npages);
			if (r)
				goto out_unlock;
			r = kvm_page_track_write_tracking_alloc(slot);
			if (r)
				goto out_unlock;
		}
	}
	__atomic_store_n(&kvm->arch.shadow_root_allocated, true, __ATOMIC_RELEASE);
out_unlock:
	mutex_unlock(&kvm->slots_arch_lock);
	return r;
}

int mmu_alloc_shadow_roots(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	struct kvm *kvm = vcpu->kvm;
	gfn_t root_gfn = mmu->root.pgd >> PAGE_SHIFT;
	u64 pdptrs[4];
	hpa_t root;
	int r, i;

	r = mmu_first_shadow_root_alloc(kvm);
	if (r)
		return r;

	/*
	 * A CR3 outside every visible memslot: the dummy root, where every
	 * access faults.  The fault's guest walk fails, and the guest gets
	 * its #PF, until a memslot appears there: then FNAME(fetch) sees the
	 * walk succeed on the dummy root and asks for a reload.
	 */
	if (!kvm_is_visible_gfn(kvm, root_gfn)) {
		WRITE_ONCE(mmu->root.hpa, kvm_mmu_get_dummy_root(kvm));
		return 0;
	}
	/* A PDPTE that points outside the memslots is taken as not present. */
	if (mmu->cpu_role.base.level == 3) {
		memcpy(pdptrs, vcpu->arch.pdptrs, sizeof(pdptrs));
		for (i = 0; i < 4; i++) {
			if ((pdptrs[i] & PT_PRESENT_MASK) &&
			    !kvm_is_visible_gfn(kvm, (pdptrs[i] & PT64_BASE_ADDR_MASK) >> PAGE_SHIFT))
				pdptrs[i] = 0;
		}
	}
	write_lock(&kvm->mmu_lock);
	r = make_mmu_pages_available(vcpu);
	if (r < 0)
		goto out_unlock;
	if (mmu->cpu_role.base.level >= 4) {
		root = mmu_alloc_root(vcpu, root_gfn, 0, (u8)mmu->root_role.level);
		/* WRITE_ONCE: observers read other vCPUs' roots (chk_vcpu_root()). */
		WRITE_ONCE(mmu->root.hpa, root);
		goto out_unlock;
	}
	for (i = 0; i < 4; i++) {
		u64 pdpte = 0;

		WARN_ON_ONCE(atomic_load(&mmu->pae_root[i]));
		if (mmu->cpu_role.base.level == 2) {
			/* A 32-bit PD of 1024 entries: quadrant i is entries 256i..256i+255. */
			root = mmu_alloc_root(vcpu, root_gfn, i, 2);
			pdpte = root | PT_PRESENT_MASK;
		} else if (pdptrs[i] & PT_PRESENT_MASK) {
			root = mmu_alloc_root(vcpu, (pdptrs[i] & PT64_BASE_ADDR_MASK) >> PAGE_SHIFT,
					      0, 2);
			pdpte = root | PT_PRESENT_MASK;
		}
		atomic_store_explicit(&mmu->pae_root[i], pdpte, memory_order_release);
	}
	WRITE_ONCE(mmu->root.hpa, mmu->pae_root_pfn << PAGE_SHIFT);
out_unlock:
	write_unlock(&kvm->mmu_lock);
	return r;
}

/* A vCPU under shadow paging gets its PAE root page when it is created. */
int mmu_alloc_special_roots(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	struct kvm *kvm = vcpu->kvm;
	kvm_pfn_t pfn = kvm->host->alloc_table(kvm->mm);

	if (!pfn)
		return -ENOMEM;
	mmu->pae_root_pfn = pfn;
	mmu->pae_root = kvm_table_virt(kvm, pfn);
	for (int i = 0; i < 4; i++)
		atomic_store(&mmu->pae_root[i], 0);
	return 0;
}

void mmu_free_special_roots(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;

	if (!mmu->pae_root)
		return;
	vcpu->kvm->host->free_table(vcpu->kvm->mm, mmu->pae_root_pfn);
	mmu->pae_root = NULL;
	mmu->pae_root_pfn = 0;
}

/* Drop the level-2 roots the PAE root points to (under the write lock). */
void mmu_free_pae_roots(struct kvm *kvm, struct kvm_mmu *mmu, struct list_head *invalid_list)
{
	int i;

	lockdep_assert_held_write(&kvm->mmu_lock);
	for (i = 0; i < 4; i++) {
		hpa_t root = atomic_load(&mmu->pae_root[i]) & PT64_BASE_ADDR_MASK;

		if (!root)
			continue;
		mmu_free_root_page(kvm, &root, invalid_list);
		atomic_store(&mmu->pae_root[i], 0);
	}
	WRITE_ONCE(mmu->root.hpa, INVALID_PAGE);
}

void mmu_free_root_page(struct kvm *kvm, hpa_t *root_hpa, struct list_head *invalid_list)
{
	struct kvm_mmu_page *sp = root_to_sp(kvm, *root_hpa);

	lockdep_assert_held_write(&kvm->mmu_lock);
	if (!WARN_ON_ONCE(!sp || is_tdp_mmu_page(sp))) {
		if (!--sp->root_count && sp->role.invalid)
			kvm_mmu_prepare_zap_page(kvm, sp, invalid_list);
	}
	WRITE_ONCE(*root_hpa, INVALID_PAGE);
}

/* ---- rmap walks -------------------------------------------------------------------------- */

/*
 * Zap every SPTE in @rmap_head.  Each removal changes the list, so the
 * walk starts over after each one.
 */
static bool kvm_zap_rmap(struct kvm *kvm, struct kvm_rmap_head *rmap_head)
{
	struct rmap_iterator iter;
	_Atomic u64 *sptep;
	bool flush = false;

	while ((sptep = rmap_get_first(rmap_head, &iter))) {
		drop_spte(kvm, sptep);
		flush = true;
	}
	return flush;
}

/* Call @fn on the rmap of every gfn of [@start, @end) in @slot, at every level. */
typedef bool (*slot_rmaps_handler)(struct kvm *kvm, struct kvm_rmap_head *rmap_head,
				   const struct kvm_memory_slot *slot, gfn_t gfn, int level,
				   void *arg);

/*
 * Call @fn for the rmap of every gfn of [start, end) at each level; true if
 * a flush is owed.  With @can_yield (a walk over a whole slot, under the
 * write lock), mmu_lock is given up when someone waits for it or the CPU
 * is wanted, after a flush of what was done so far if @flush_on_yield
 * (what was zapped must not outlive the lock); the walk goes on from the
 * next gfn.
 */
static bool __walk_slot_rmaps(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t start,
			      gfn_t end, int min_level, int max_level, slot_rmaps_handler fn,
			      void *arg, bool can_yield, bool flush_on_yield)
{
	bool flush = false;
	int level;

	if (kvm_memslot_meta_freed(slot, start, KVMMU_SLOT_META_RMAP, false) ||
	    !slot->arch.rmap[0])
		return false;
	for (level = min_level; level <= max_level; level++) {
		gfn_t gfn = start & ~(KVM_PAGES_PER_HPAGE(level) - 1);

		for (; gfn < end; gfn += KVM_PAGES_PER_HPAGE(level)) {
			gfn_t g = max(gfn, slot->base_gfn);

			if (g >= slot->base_gfn + slot->npages)
				break;
			flush |= fn(kvm, gfn_to_rmap(g, level, slot), slot, g, level, arg);
			if (!can_yield || (!need_resched() && !rwlock_needbreak(&kvm->mmu_lock)))
				continue;
			if (flush && flush_on_yield) {
				kvm_flush_remote_tlbs_range(kvm, start, g - start + 1);
				flush = false;
			}
			cond_resched_rwlock_write(&kvm->mmu_lock);
		}
	}
	return flush;
}

static bool walk_slot_rmaps_range(struct kvm *kvm, const struct kvm_memory_slot *slot,
				  gfn_t start, gfn_t end, int min_level, int max_level,
				  slot_rmaps_handler fn, void *arg)
{
	return __walk_slot_rmaps(kvm, slot, start, end, min_level, max_level, fn, arg, false,
				 false);
}

/*
 * A whole slot, yielding: write-protection and D clearing for dirty
 * logging, whose callers flush once at the end (a vCPU may write through
 * a stale entry meanwhile, as before the call: the log is owed only once
 * it returns), so nothing is flushed before a yield.
 */
static bool walk_slot_rmaps(struct kvm *kvm, const struct kvm_memory_slot *slot, int min_level,
			    int max_level, slot_rmaps_handler fn)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	return __walk_slot_rmaps(kvm, slot, slot->base_gfn, slot->base_gfn + slot->npages,
				 min_level, max_level, fn, NULL, true, false);
}

static bool zap_rmap_fn(struct kvm *kvm, struct kvm_rmap_head *rmap_head,
			const struct kvm_memory_slot *slot, gfn_t gfn, int level, void *arg)
{
	return kvm_zap_rmap(kvm, rmap_head);
}

bool kvm_rmap_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	return walk_slot_rmaps_range(kvm, range->slot, range->start, range->end, PG_LEVEL_4K,
				     KVM_MAX_HUGEPAGE_LEVEL, zap_rmap_fn, NULL);
}

bool kvm_rmap_zap_gfn_range(struct kvm *kvm, gfn_t gfn_start, gfn_t gfn_end)
{
	struct kvm_memory_slot *slot;
	bool flush = false;
	int i, j;

	lockdep_assert_held_write(&kvm->mmu_lock);
	for (i = 0; i < KVM_ADDRESS_SPACE_NUM; i++) {
		kvm_for_each_memslot(slot, j, __kvm_memslots(kvm, i)) {
			gfn_t start = max(gfn_start, slot->base_gfn);
			gfn_t end = min(gfn_end, slot->base_gfn + slot->npages);

			if (start >= end)
				continue;
			flush |= walk_slot_rmaps_range(kvm, slot, start, end, PG_LEVEL_4K,
						       KVM_MAX_HUGEPAGE_LEVEL, zap_rmap_fn, NULL);
		}
	}
	return flush;
}

/* ---- aging, without mmu_lock --------------------------------------------------------------- */

/*
 * Age one SPTE that a lockless walk read as @spte: clear A, or without
 * A/D make it access-tracked.  Anything may have happened to it since the
 * read (a zap under mmu_lock, the CPU setting D), so the change is atomic
 * and judged by what it found.
 */
static void age_spte_lockless(struct kvm *kvm, _Atomic u64 *sptep, u64 spte)
{
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	u64 old_spte;

	if (spte_ad_enabled(spte)) {
		/*
		 * An atomic and: a D the CPU sets meanwhile stays.  The entry
		 * is still in the chain (the rmap lock), so the SPTE is this
		 * leaf, or SHADOW_NONPRESENT_VALUE if a writer zapped it since
		 * the read, which has no A bit to lose.
		 */
		sched_point(SP_SPTE_XCHG, (const void *)sptep);
		old_spte = atomic_fetch_and(sptep, ~m->accessed_mask);
		if (is_shadow_present_pte(old_spte) && (old_spte & m->accessed_mask))
			shadow_spte_event_shared(kvm, sptep, old_spte,
						 old_spte & ~m->accessed_mask);
		return;
	}
	/*
	 * Access-track it, if it is still what was read: a cmpxchg that fails
	 * found it changed (zapped, or restored by fast page fault), and it
	 * then most likely stays young; it is skipped, never overwritten.
	 */
	old_spte = spte;
	if (mmu_spte_cmpxchg_lockless(kvm, sptep, &old_spte, mark_spte_for_access_track(m, spte)))
		shadow_spte_event_shared(kvm, sptep, spte, mark_spte_for_access_track(m, spte));
}

/*
 * Age (or with @test_only, test) the SPTEs of one rmap, holding its rmap
 * lock read-only: writers (mmu_lock for write) wait to change the chain
 * until the walk is done, so every descriptor and every SPTE pointer read
 * stays valid; the SPTEs' values may still change, and a zapped one is
 * skipped.  The mutant aging-no-rmap-lock walks the chain as it finds it.
 */
static bool age_rmap_lockless(struct kvm *kvm, struct kvm_rmap_head *rmap_head, gfn_t gfn,
			      int level, bool test_only)
{
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	bool unlocked = kvmmu_mutant(MUT_AGING_NO_RMAP_LOCK);
	struct rmap_iterator iter;
	unsigned long rmap_val;
	bool young = false;
	_Atomic u64 *sptep;
	u64 spte;

	rmap_val = unlocked ? kvm_rmap_get(rmap_head) : kvm_rmap_lock_readonly(rmap_head);
	for_each_rmap_spte_lockless(rmap_val, &iter, sptep) {
		spte = mmu_spte_read(sptep);
		if (!is_shadow_present_pte(spte) || !is_accessed_spte(m, spte))
			continue;
		young = true;
		if (test_only)
			break;
		age_spte_lockless(kvm, sptep, spte);
	}
	if (iter.freed)
		kvmmu_observe(KVMMU_EV_RMAP_FREED_READ, rmap, .kvm = kvm,
			      .desc = (const void *)iter.freed, .gfn = gfn, .level = (u8)level,
			      .reader = KVMMU_READER_AGING);
	if (!unlocked)
		kvm_rmap_unlock_readonly(rmap_head, rmap_val);
	return young;
}

/*
 * Aging through rmaps without mmu_lock (KVM_MMU_LOCKLESS_AGING), under
 * the notifier's SRCU read section, which keeps the memslot and its rmap
 * arrays.  Shadow pages whose SPTEs are listed stay as long as their
 * entries do, which the rmap lock guarantees for the chain being walked.
 * No flush: a stale TLB entry only means a missed access, and aging
 * tolerates those.
 */
bool kvm_rmap_age_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range, bool test_only)
{
	const struct kvm_memory_slot *slot = range->slot;
	bool young = false;
	int level;

	/*
	 * A freed slot's heads are poison, which reads as locked: report the
	 * touch rather than spin on it.
	 */
	if (kvm_memslot_meta_freed(slot, range->start, KVMMU_SLOT_META_RMAP, false))
		return false;
	/*
	 * The caller saw kvm_memslots_have_rmaps(), whose acquire makes every
	 * active slot's rmaps visible.  With the TDP MMU they come with the
	 * first shadow root (nested EPT, mmu_first_shadow_root_alloc()), and
	 * a slot the notifier found before a delete or move published its
	 * INVALID copy may have none (the copy got them, and gives them back
	 * only after every SRCU reader of the old slot is gone): nothing of
	 * it is in an rmap.
	 */
	if (!slot->arch.rmap[0])
		return false;
	kvm_rmap_walk_lockless_begin(kvm);
	for (level = PG_LEVEL_4K; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
		gfn_t gfn = range->start & ~(KVM_PAGES_PER_HPAGE(level) - 1);

		for (; gfn < range->end; gfn += KVM_PAGES_PER_HPAGE(level)) {
			gfn_t g = max(gfn, slot->base_gfn);

			if (g >= slot->base_gfn + slot->npages)
				break;
			young |= age_rmap_lockless(kvm, gfn_to_rmap(g, level, slot), g, level,
						   test_only);
			if (young && test_only)
				goto out;
		}
	}
out:
	kvm_rmap_walk_lockless_end(kvm);
	return young;
}

/* Clear W (and, with @pt_protect, MMU-writable) in every SPTE of the rmap. */
static bool rmap_write_protect(struct kvm *kvm, struct kvm_rmap_head *rmap_head,
			       bool pt_protect)
{
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	struct rmap_iterator iter;
	_Atomic u64 *sptep;
	bool flush = false;

	for_each_rmap_spte(rmap_head, &iter, sptep) {
		u64 spte = mmu_spte_read(sptep), new_spte = spte;

		if (!is_writable_pte(spte) && !(pt_protect && is_mmu_writable_spte(m, spte)))
			continue;
		if (pt_protect)
			new_spte &= ~m->mmu_writable_mask;
		new_spte &= ~PT_WRITABLE_MASK;
		mmu_spte_update_no_track(kvm, sptep, spte, new_spte);
		flush = true;
	}
	return flush;
}

static bool slot_rmap_write_protect(struct kvm *kvm, struct kvm_rmap_head *rmap_head,
				    const struct kvm_memory_slot *slot, gfn_t gfn, int level,
				    void *arg)
{
	return rmap_write_protect(kvm, rmap_head, false);
}

bool kvm_rmap_write_protect_slot(struct kvm *kvm, const struct kvm_memory_slot *slot,
				 int start_level)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	return walk_slot_rmaps(kvm, slot, start_level, KVM_MAX_HUGEPAGE_LEVEL,
			       slot_rmap_write_protect);
}

/*
 * A leaf of a direct page smaller than the host and the slot now allow
 * (dirty logging is off): zap it, so that the next fault maps the whole
 * huge page again (mmu_set_spte() then unlinks the emptied table).
 * Indirect pages follow the guest's own leaves, which logging did not
 * change.
 */
static bool kvm_mmu_zap_collapsible_spte(struct kvm *kvm, struct kvm_rmap_head *rmap_head,
					 const struct kvm_memory_slot *slot, gfn_t gfn, int level,
					 void *arg)
{
	struct rmap_iterator iter;
	_Atomic u64 *sptep;
	bool flush = false;

restart:
	for_each_rmap_spte(rmap_head, &iter, sptep) {
		struct kvm_mmu_page *sp = sptep_to_sp(kvm, sptep);

		if (sp->role.direct &&
		    sp->role.level < kvm_mmu_max_mapping_level(kvm, slot, sp->gfn, PG_LEVEL_NUM)) {
			drop_spte(kvm, sptep);
			flush = true;
			/* The rmap changed under the iterator. */
			goto restart;
		}
	}
	return flush;
}

/*
 * Dirty logging is off: the huge pages logging split come back.  Yields,
 * flushing what it zapped first (a zapped SPTE must not outlive the lock).
 */
bool kvm_rmap_zap_collapsible_sptes(struct kvm *kvm, const struct kvm_memory_slot *slot)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	return __walk_slot_rmaps(kvm, slot, slot->base_gfn, slot->base_gfn + slot->npages,
				 PG_LEVEL_4K, KVM_MAX_HUGEPAGE_LEVEL - 1, kvm_mmu_zap_collapsible_spte,
				 NULL, true, true);
}

bool kvm_rmap_write_protect_gfn(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t gfn,
				int min_level)
{
	bool flush = false;
	int level;

	lockdep_assert_held_write(&kvm->mmu_lock);
	if (kvm_memslot_meta_freed(slot, gfn, KVMMU_SLOT_META_RMAP, true) || !slot->arch.rmap[0])
		return false;
	for (level = min_level; level <= KVM_MAX_HUGEPAGE_LEVEL; level++)
		flush |= rmap_write_protect(kvm, gfn_to_rmap(gfn, level, slot), true);
	return flush;
}

/* Clear D in every SPTE of the rmap (PML: the next write is logged). */
static bool __rmap_clear_dirty(struct kvm *kvm, struct kvm_rmap_head *rmap_head,
			       const struct kvm_memory_slot *slot, gfn_t gfn, int level, void *arg)
{
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	struct rmap_iterator iter;
	_Atomic u64 *sptep;
	bool flush = false;

	for_each_rmap_spte(rmap_head, &iter, sptep) {
		u64 spte = mmu_spte_read(sptep);

		/* Without A/D bits, "clean" means write-protected (W off, MMU-writable kept). */
		if (spte_ad_need_write_protect(spte)) {
			if (!is_writable_pte(spte))
				continue;
			mmu_spte_update_no_track(kvm, sptep, spte, spte & ~PT_WRITABLE_MASK);
			flush = true;
			continue;
		}
		if (!(spte & m->dirty_mask))
			continue;
		/* Exchanged if the CPU may set D again at once (W set). */
		mmu_spte_update_no_track(kvm, sptep, spte, spte & ~m->dirty_mask);
		flush = true;
	}
	return flush;
}

bool kvm_rmap_clear_dirty_slot(struct kvm *kvm, const struct kvm_memory_slot *slot)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	return walk_slot_rmaps(kvm, slot, PG_LEVEL_4K, PG_LEVEL_4K, __rmap_clear_dirty);
}

void kvm_rmap_clear_dirty_pt_masked(struct kvm *kvm, struct kvm_memory_slot *slot,
				    gfn_t gfn_offset, unsigned long mask, bool wrprot)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	if (kvm_memslot_meta_freed(slot, slot->base_gfn + gfn_offset, KVMMU_SLOT_META_RMAP, true) ||
	    !slot->arch.rmap[0])
		return;
	while (mask) {
		gfn_t gfn = slot->base_gfn + gfn_offset + __ffs64(mask);
		struct kvm_rmap_head *rmap_head = gfn_to_rmap(gfn, PG_LEVEL_4K, slot);

		if (wrprot)
			rmap_write_protect(kvm, rmap_head, false);
		else
			__rmap_clear_dirty(kvm, rmap_head, slot, gfn, PG_LEVEL_4K, NULL);
		mask &= mask - 1;
	}
}
