// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memslot consistency (I37): once KVM is done with a slot being deleted or
 * moved (KVMMU_EV_SLOT_ZAPPED, posted with mmu_lock held for write), no
 * SPTE maps a gfn of the old slot, and no valid page that shadows a guest
 * table stored there remains: its write-track and huge-page accounting
 * lives in the slot, which is about to be freed (seed 002, where the
 * slot-zap quirk turned off zapped only the leaves).
 *
 * The roots indexed by gfn are walked (chk_for_each_root()); the shadow
 * MMU's pages are looked at one by one too, each leaf's gfn taken from its
 * page (kvm_mmu_sptep_gfn()): under shadow paging no root is indexed by gfn.
 *
 * And freed slot metadata is never touched: a deleted or moved slot's
 * rmaps, write-track counts and lpage_info are poisoned and kept (see
 * kvm_memslot_meta_freed()), and every accessor that is handed them
 * reports (KVMMU_EV_SLOT_META_TOUCH), during the run or the VM's teardown,
 * where the pages seed 002 leaves behind are finally zapped.
 */
#include "check_internal.h"
#include "rcu.h"
#include "shadow_mmu.h"
#include "spte.h"

struct slot_scan {
	const struct kvmmu_event *ev;
	bool found;
};

static void leaf_left(gfn_t gfn, int level, const void *sptep, u64 spte, void *arg)
{
	struct slot_scan *s = arg;
	const struct kvmmu_ev_slot *e = &s->ev->slot;

	if (s->found)
		return;
	s->found = true;
	chk_violation(CHK_MEMSLOT_CONSISTENCY, s->ev, (s64)gfn, (s64)spte_to_pfn(spte),
		      "memslot %d (address space %d, gfns [%#llx, %#llx)) is deleted or moved, "
		      "but SPTE %#llx still maps gfn %#llx at level %d", e->id, e->as_id,
		      (unsigned long long)e->start, (unsigned long long)e->end,
		      (unsigned long long)spte, (unsigned long long)gfn, level);
}

static bool root_leaves(struct kvm_mmu_page *root, void *arg)
{
	struct slot_scan *s = arg;

	if (kvm_mmu_page_as_id(root) == s->ev->slot.as_id)
		chk_walk_leaves(root, s->ev->slot.start, s->ev->slot.end, leaf_left, s);
	return s->found;
}

static bool in_slot(const struct kvmmu_ev_slot *e, const struct kvm_mmu_page *sp, gfn_t gfn)
{
	return kvm_mmu_page_as_id(sp) == e->as_id && gfn >= e->start && gfn < e->end;
}

static void slot_zapped(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_slot *e = &ev->slot;
	struct kvm *kvm = chk_kvm();
	struct slot_scan s = { .ev = ev };
	struct kvm_mmu_page *sp;
	int i;

	if (e->kvm != kvm)
		return;
	rcu_read_lock();
	chk_for_each_root(root_leaves, &s);
	rcu_read_unlock();
	if (s.found)
		return;
	/* mmu_lock is held for write: the shadow MMU's lists stand still. */
	list_for_each_entry(sp, &kvm->arch.active_mmu_pages, link) {
		if (sp_invalid(sp))
			continue;
		if (sp_has_gptes(sp) && in_slot(e, sp, sp->gfn)) {
			chk_violation(CHK_MEMSLOT_CONSISTENCY, ev, (s64)sp->gfn, (s64)sp->pfn,
				      "memslot %d (address space %d, gfns [%#llx, %#llx)) is deleted "
				      "or moved, but the page shadowing the guest table at gfn %#llx "
				      "(level %d) remains, its accounting in the slot being freed",
				      e->id, e->as_id, (unsigned long long)e->start,
				      (unsigned long long)e->end, (unsigned long long)sp->gfn,
				      sp_role(sp).level);
			return;
		}
		for (i = 0; i < SPTE_ENT_PER_PAGE; i++) {
			u64 spte = chk_read_spte(&sp->spt[i]);
			int level;
			gfn_t gfn;

			if (!is_shadow_present_pte(spte) || !is_last_spte(spte, sp_role(sp).level))
				continue;
			gfn = kvm_mmu_sptep_gfn(kvm, &sp->spt[i], &level);
			if (in_slot(e, sp, gfn)) {
				leaf_left(gfn, level, &sp->spt[i], spte, &s);
				return;
			}
		}
	}
}

static const char *const meta_names[NR_KVMMU_SLOT_META] = {
	[KVMMU_SLOT_META_RMAP] = "rmaps",
	[KVMMU_SLOT_META_WRITE_TRACK] = "write-track counts",
	[KVMMU_SLOT_META_LPAGE_INFO] = "lpage_info",
};

/*
 * Freed metadata touched (KVMMU_EV_SLOT_META_TOUCH): the slot is gone and
 * KVM reached for its rmaps, write-track counts or lpage_info anyway (its
 * accessor found them poisoned and reported instead), at run time or in
 * the VM's teardown.
 */
static void meta_touched(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_slot *e = &ev->slot;

	if (e->kvm != chk_kvm())
		return;
	chk_violation(CHK_MEMSLOT_CONSISTENCY, ev, (s64)e->gfn, -1,
		      "the %s of memslot %d (address space %d, gfns [%#llx, %#llx)) were %s at "
		      "gfn %#llx after the slot was deleted or moved away and its metadata freed",
		      e->meta < NR_KVMMU_SLOT_META ? meta_names[e->meta] : "?", e->id, e->as_id,
		      (unsigned long long)e->start, (unsigned long long)e->end,
		      e->write ? "updated" : "read", (unsigned long long)e->gfn);
}

static void memslot_event(const struct kvmmu_event *ev)
{
	if (ev->type == KVMMU_EV_SLOT_ZAPPED)
		slot_zapped(ev);
	else
		meta_touched(ev);
}

const struct checker_ops chk_memslot_ops = {
	.events = BIT_ULL(KVMMU_EV_SLOT_ZAPPED),
	.teardown_events = BIT_ULL(KVMMU_EV_SLOT_META_TOUCH),
	.event = memslot_event,
};

/*
 * Write protection (I38): no SPTE maps writable a gfn where a guest table
 * is shadowed, unless every page shadowing it is an unsync 4K page.  A
 * table above 4K is write-tracked and never unsync; a 4K one may be
 * written by the guest only while KVM knows it is unsync, to be synced at
 * the guest's next TLB flush.  Judged at each SPTE change made under
 * mmu_lock for write, when the shadow MMU's hash stands still.
 */
static void wp_event(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_spte *c = &ev->spte;
	struct kvm *kvm = chk_kvm();
	struct kvm_mmu_page *sp;
	gfn_t gfn;

	if (c->kvm != kvm || !kvm->arch.mmu_page_hash || c->level != PG_LEVEL_4K ||
	    !is_shadow_present_pte(c->new_spte) || !is_writable_pte(c->new_spte) ||
	    !lock_is_held_type(&kvm->mmu_lock.dep_map, LD_HELD_WRITE))
		return;
	gfn = c->gfn;
	hlist_for_each_entry(sp, kvm_mmu_page_hash_bucket(kvm, gfn), hash_link) {
		if (sp_invalid(sp) || !sp_has_gptes(sp) || sp->gfn != gfn ||
		    kvm_mmu_page_as_id(sp) != c->as_id)
			continue;
		if (sp->unsync && sp_role(sp).level == PG_LEVEL_4K)
			continue;
		chk_violation(CHK_WRITE_PROTECTION, ev, (s64)gfn, (s64)spte_to_pfn(c->new_spte),
			      "SPTE %#llx maps gfn %#llx writable, but a %s page (level %d) "
			      "shadows the guest table there: the guest could change it unseen",
			      (unsigned long long)c->new_spte, (unsigned long long)gfn,
			      sp->unsync ? "unsync" : "write-protected", sp_role(sp).level);
		return;
	}
}

const struct checker_ops chk_write_protect_ops = {
	.events = BIT_ULL(KVMMU_EV_SPTE_CHANGE),
	/* Nothing of its own: judged from the world alone. */
	.lockless_events = BIT_ULL(KVMMU_EV_SPTE_CHANGE),
	.event = wp_event,
};
