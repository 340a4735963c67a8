// SPDX-License-Identifier: GPL-2.0-only
/*
 * Notifier completeness (I26): when invalidate_range_start has returned to
 * the host (KVMMU_EV_NOTIFIER_START, posted after every subscriber), no
 * SPTE in any root, valid or invalid, and no live translation of any vCPU
 * maps a page of the range.
 */
#include "check_internal.h"
#include "rcu.h"
#include "srcu.h"
#include "tdp_mmu.h"

struct notifier_scan {
	const struct kvmmu_event *ev;
	const struct kvm_memory_slot *slot;
	struct kvm_mmu_page *root;
	bool found;
};

static void leaf_in_range(gfn_t gfn, int level, const void *sptep, u64 spte, void *arg)
{
	struct notifier_scan *s = arg;

	if (s->found)
		return;
	s->found = true;
	chk_violation(CHK_NOTIFIER_COMPLETENESS, s->ev, (s64)gfn, (s64)spte_to_pfn(spte),
		      "invalidate_range_start([%#lx, %#lx)) returned, but %s root %#llx still "
		      "maps gfn %#llx (slot %d) at level %d",
		      s->ev->notifier.start, s->ev->notifier.end,
		      sp_invalid(s->root) ? "invalid" : "valid",
		      (unsigned long long)s->root->pfn, (unsigned long long)gfn, s->slot->id, level);
}

struct slot_walk {
	const struct kvmmu_event *ev;
	struct hw_tlb_view *tlb;
	int nr_tlb;
	struct kvm_vcpu *vcpu;
	bool found;
	/* check_slot_sptes(): the slot and its gfns in the range */
	struct kvm_memory_slot *slot;
	gfn_t start, end;
};

/* The gfns of @slot that the notifier's hva range covers. */
static void slot_range(const struct kvm_memory_slot *slot, const struct kvmmu_ev_notifier *n,
		       gfn_t *start, gfn_t *end)
{
	unsigned long hva_end = slot->userspace_addr + (slot->npages << PAGE_SHIFT);
	unsigned long s = max(n->start, slot->userspace_addr), e = min(n->end, hva_end);

	*start = hva_to_gfn_memslot(s, slot);
	*end = hva_to_gfn_memslot(e + PAGE_SIZE - 1, slot);
}

static bool root_maps_range(struct kvm_mmu_page *root, void *arg)
{
	struct slot_walk *w = arg;
	struct notifier_scan scan = { .ev = w->ev, .slot = w->slot, .root = root };

	if (kvm_mmu_page_as_id(root) != w->slot->as_id)
		return false;
	chk_walk_leaves(root, w->start, w->end, leaf_in_range, &scan);
	w->found = scan.found;
	return w->found;
}

/* No SPTE of any root of the slot's address space maps the range. */
static void check_slot_sptes(struct kvm_memory_slot *slot, void *arg)
{
	struct slot_walk *w = arg;
	gfn_t start, end;

	if (w->found)
		return;
	slot_range(slot, &w->ev->notifier, &start, &end);
	w->slot = slot;
	w->start = start;
	w->end = end;
	rcu_read_lock();
	chk_for_each_root(root_maps_range, w);
	rcu_read_unlock();
}

/* No live translation of the vCPU maps the range. */
static void check_slot_tlb(struct kvm_memory_slot *slot, void *arg)
{
	struct slot_walk *w = arg;
	const struct kvmmu_ev_notifier *n = &w->ev->notifier;
	gfn_t start, end;
	int i;

	if (w->found)
		return;
	slot_range(slot, n, &start, &end);
	for (i = 0; i < w->nr_tlb; i++) {
		struct hw_tlb_view *v = &w->tlb[i];
		gfn_t gfn;
		u64 pages;

		/* Under shadow paging a gva's entry: its gfn from the leaf SPTE's page. */
		if (v->kind != HW_TLB_LEAF || !chk_view_gfn(v, &gfn, &pages) ||
		    gfn + pages <= start || gfn >= end)
			continue;
		w->found = true;
		chk_violation(CHK_NOTIFIER_COMPLETENESS, w->ev, (s64)gfn, (s64)v->pfn,
			      "invalidate_range_start([%#lx, %#lx)) returned, but vCPU %d still "
			      "translates gfn %#llx to pfn %#llx (level %d%s) with no flush pending",
			      n->start, n->end, w->vcpu->vcpu_id, (unsigned long long)gfn,
			      (unsigned long long)v->pfn, v->level,
			      v->gfn == HW_GFN_UNKNOWN ? ", a gva's shadow entry" : "");
		return;
	}
}

static struct hw_tlb_view tlb_buf[CHK_TLB_MAX];

static void notifier_event(const struct kvmmu_event *ev)
{
	struct kvm *kvm = chk_kvm();
	struct slot_walk w = { .ev = ev, .tlb = tlb_buf };
	struct kvm_vcpu *vcpu;
	int i, as, idx;

	if (ev->notifier.mm != chk_world.mm)
		return;
	idx = srcu_read_lock(&kvm->srcu);
	/* The SPTEs: one pass over the slots. */
	for (as = 0; as < KVM_ADDRESS_SPACE_NUM && !w.found; as++)
		kvm_for_each_memslot_in_hva_range(__kvm_memslots(kvm, as), ev->notifier.start,
						  ev->notifier.end, check_slot_sptes, &w);
	/* The TLBs: one pass per live vCPU. */
	kvm_for_each_vcpu(i, vcpu, kvm) {
		if (w.found)
			break;
		w.vcpu = vcpu;
		w.nr_tlb = chk_vcpu_tlb(vcpu, tlb_buf, CHK_TLB_MAX);
		if (!w.nr_tlb)
			continue;
		kvm_for_each_memslot_in_hva_range(__kvm_memslots(kvm, 0), ev->notifier.start,
						  ev->notifier.end, check_slot_tlb, &w);
	}
	srcu_read_unlock(&kvm->srcu, idx);
}

const struct checker_ops chk_notifier_ops = {
	.events = BIT_ULL(KVMMU_EV_NOTIFIER_START),
	.event = notifier_event,
};
