// SPDX-License-Identifier: GPL-2.0-only
/*
 * The lifetime checkers:
 *
 *  - table lifetime (I29): no table frame is read (by the hardware walker,
 *    fast page fault, aging, the TDP iterator) and no frame is accessed
 *    through a translation, once the frame was freed; and no rmap
 *    descriptor is read by a lockless walker (aging) once it was freed;
 *  - root lifetime (I8): no new long-lived reference on an invalid root;
 *  - page references (I30): the host reports no reference raised from 0,
 *    none on a non-refcounted page, no release below 0, no dirty/accessed
 *    marking of a freed page, no double free; and when everything is torn
 *    down no frame is left allocated.
 */
#include "check_internal.h"

static const char *const reader_names[] = {
	[KVMMU_READER_WALKER] = "the hardware walker",
	[KVMMU_READER_FAST_PF] = "fast page fault",
	[KVMMU_READER_AGING] = "aging",
	[KVMMU_READER_ITER] = "the TDP iterator",
};

static const char *const state_names[] = {
	[KVMMU_FRAME_FREE] = "free",
	[KVMMU_FRAME_ALLOCATED] = "allocated",
	[KVMMU_FRAME_QUARANTINED] = "freed (quarantined)",
};

static void table_event(const struct kvmmu_event *ev)
{
	int state;

	switch (ev->type) {
	case KVMMU_EV_TABLE_READ:
		state = chk_frame_state(ev->table.pfn);
		if (state == KVMMU_FRAME_ALLOCATED)
			return;
		chk_violation(CHK_TABLE_LIFETIME, ev, (s64)ev->table.gfn, (s64)ev->table.pfn,
			      "%s read table frame %#llx (level %d, gfn %#llx) after it was %s",
			      ev->table.reader < ARRAY_SIZE(reader_names) ?
			      reader_names[ev->table.reader] : "?",
			      (unsigned long long)ev->table.pfn, ev->table.level,
			      (unsigned long long)ev->table.gfn, state_names[state]);
		return;
	case KVMMU_EV_GUEST_LOAD:
	case KVMMU_EV_GUEST_STORE:
		state = chk_frame_state(ev->access.pfn);
		if (state == KVMMU_FRAME_ALLOCATED)
			return;
		chk_violation(CHK_TABLE_LIFETIME, ev, (s64)gpa_to_gfn(ev->access.gpa),
			      (s64)ev->access.pfn,
			      "vCPU %d %s gpa %#llx in frame %#llx, which is %s",
			      ev->access.vcpu, ev->type == KVMMU_EV_GUEST_LOAD ? "loaded" : "stored",
			      (unsigned long long)ev->access.gpa,
			      (unsigned long long)ev->access.pfn, state_names[state]);
		return;
	case KVMMU_EV_RMAP_FREED_READ:
		if (ev->rmap.kvm != chk_kvm())
			return;
		chk_violation(CHK_TABLE_LIFETIME, ev, (s64)ev->rmap.gfn, -1,
			      "%s, walking the level-%d rmap of gfn %#llx without mmu_lock, read an "
			      "rmap descriptor after it was freed: the chain changed under it (the "
			      "rmap lock did not keep the writer out)",
			      ev->rmap.reader < ARRAY_SIZE(reader_names) ?
			      reader_names[ev->rmap.reader] : "?",
			      ev->rmap.level, (unsigned long long)ev->rmap.gfn);
		return;
	default:
		if (ev->misuse.kind != KVMMU_MISUSE_ACCESS_FREED)
			return;
		chk_violation(CHK_TABLE_LIFETIME, ev, -1, (s64)ev->misuse.pfn,
			      "frame %#llx accessed while %s", (unsigned long long)ev->misuse.pfn,
			      state_names[ev->misuse.state]);
		return;
	}
}

const struct checker_ops chk_table_ops = {
	.events = BIT_ULL(KVMMU_EV_TABLE_READ) | BIT_ULL(KVMMU_EV_GUEST_LOAD) |
		  BIT_ULL(KVMMU_EV_GUEST_STORE) | BIT_ULL(KVMMU_EV_FRAME_MISUSE) |
		  BIT_ULL(KVMMU_EV_RMAP_FREED_READ),
	/* Each asks the host for a frame's state: nothing of its own. */
	.lockless_events = BIT_ULL(KVMMU_EV_TABLE_READ) | BIT_ULL(KVMMU_EV_GUEST_LOAD) |
			   BIT_ULL(KVMMU_EV_GUEST_STORE) | BIT_ULL(KVMMU_EV_FRAME_MISUSE) |
			   BIT_ULL(KVMMU_EV_RMAP_FREED_READ),
	.event = table_event,
};

static void root_event(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_root *r = &ev->root;

	if (r->kvm != chk_kvm() || !r->long_lived || !r->invalid)
		return;
	chk_violation(CHK_ROOT_LIFETIME, ev, -1, (s64)r->pfn,
		      "a vCPU took a long-lived reference on invalid root %#llx (now %d references)",
		      (unsigned long long)r->pfn, r->refcount);
}

const struct checker_ops chk_root_ops = {
	.events = BIT_ULL(KVMMU_EV_ROOT_GET),
	.event = root_event,
};

/*
 * I36: a page table that a fast zap made obsolete (another mmu_valid_gen,
 * or invalid) is on its way out: nothing may be installed in it.  A fault
 * that took mmu_lock after the zap must see its root as stale and retry;
 * for a root without a page (the PAE root) KVM can only tell from the
 * pending KVM_REQ_MMU_FREE_OBSOLETE_ROOTS (seed 003).  An SPTE installed
 * there is mapped by a root that no zap will visit again.
 */
static void obsolete_event(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_spte *c = &ev->spte;
	struct kvm *kvm = chk_kvm();
	struct kvm_mmu_page *sp;

	if (c->kvm != kvm || !is_shadow_present_pte(c->new_spte) ||
	    is_shadow_present_pte(c->old_spte))
		return;
	sp = sptep_to_sp(kvm, c->sptep);
	if (!sp || !is_obsolete_sp(kvm, sp))
		return;
	chk_violation(CHK_OBSOLETE_INSTALL, ev, (s64)c->gfn, (s64)sp->pfn,
		      "SPTE %#llx installed at gfn %#llx level %d in table %#llx, which is obsolete "
		      "(%s): its root is stale and the fault should have retried",
		      (unsigned long long)c->new_spte, (unsigned long long)c->gfn, c->level,
		      (unsigned long long)sp->pfn,
		      sp_invalid(sp) ? "invalid" : "an old mmu_valid_gen");
}

const struct checker_ops chk_obsolete_ops = {
	.events = BIT_ULL(KVMMU_EV_SPTE_CHANGE),
	/* Nothing of its own: judged from the world alone. */
	.lockless_events = BIT_ULL(KVMMU_EV_SPTE_CHANGE),
	.event = obsolete_event,
};

static const char *const misuse_says[] = {
	[KVMMU_MISUSE_REF_FROM_ZERO] = "a reference was raised from 0 on",
	[KVMMU_MISUSE_REF_NONCOUNTED] = "a reference was taken on non-refcounted",
	[KVMMU_MISUSE_REF_UNDERFLOW] = "a reference was released below 0 on",
	[KVMMU_MISUSE_MARK_FREED] = "dirty/accessed marking of freed",
	[KVMMU_MISUSE_ACCESS_FREED] = "an access to freed",
	[KVMMU_MISUSE_DOUBLE_FREE] = "a second free of",
};

static void refs_event(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_misuse *m = &ev->misuse;

	if (m->kind == KVMMU_MISUSE_ACCESS_FREED || m->kind >= ARRAY_SIZE(misuse_says))
		return;
	chk_violation(CHK_PAGE_REFERENCES, ev, -1, (s64)m->pfn, "%s frame %#llx (%s)",
		      misuse_says[m->kind], (unsigned long long)m->pfn, state_names[m->state]);
}

const struct checker_ops chk_refs_ops = {
	.events = BIT_ULL(KVMMU_EV_FRAME_MISUSE),
	.event = refs_event,
};
