// SPDX-License-Identifier: GPL-2.0-only
/*
 * The D bit (I35): what the CPU dirties, KVM never loses.
 *
 * The CPU sets D in a leaf SPTE with a compare-exchange on the value it
 * walked (KVMMU_EV_SPTE_HW_DIRTY: from V to V|D).  Under mmu_lock held
 * for write KVM stores plainly only where nothing else can change the
 * SPTE; where the CPU may still set D (a writable SPTE with D clear, which
 * PML's dirty logging makes) it must exchange, and so see the D it
 * replaces.  The checker keeps, per SPTE, the last D the CPU set and the
 * value it set it in, until KVM next changes that SPTE.  If KVM's change
 * was a plain store from that very value, the store went over the CPU's D
 * without seeing it: the bit, and with it a dirty page, is lost.
 *
 * An exchange always returns what it replaced, so only plain stores are
 * judged; and since every thread reports its own change after making it,
 * a plain store from V that KVM reports after the CPU reported V -> V|D
 * happened after the CPU's change, over it.
 *
 * When the CPU sets D, the page it maps must be dirty in the host already:
 * KVM dirties a folio when it maps it writable (mmu_lock held, against
 * writeback, which write-protects through the notifier before it cleans).
 * A clean folio under a dirtying CPU may be dropped by reclaim with the
 * guest's data in it.
 */
#include "check_internal.h"
#include "host_phys.h"

struct hw_dirty {
	u64 from;  /* the value the CPU set D in */
	u64 index; /* the event that reported it */
	gfn_t gfn;
	u8 level;
};

static struct chk_map dirtied; /* sptep -> struct hw_dirty */

static void dirty_bit_begin(void)
{
	chk_map_init(&dirtied, sizeof(struct hw_dirty));
}

static void dirty_bit_end(void)
{
	chk_map_free(&dirtied);
}

/* The folio the CPU is about to write through @spte must be dirty. */
static void check_folio(const struct kvmmu_event *ev)
{
	struct host_phys *phys = chk_world.mm->phys;
	u64 pfn = (ev->spte.new_spte & PT64_PFN_MASK) >> PAGE_SHIFT;
	struct page *head;
	u32 flags;

	if (!phys_pfn_valid(phys, pfn))
		return;
	head = compound_head(phys, pfn_to_page(phys, pfn));
	flags = page_flags(head);
	if ((flags & PG_STATE_MASK) != KVMMU_FRAME_ALLOCATED ||
	    (flags & (PG_reserved | PG_noncounted | PG_dirty)))
		return;
	chk_violation(CHK_DIRTY_BIT, ev, (s64)ev->spte.gfn, (s64)pfn,
		      "the CPU set D in the level-%d SPTE of gfn %#llx, but host pfn %#llx is "
		      "clean: KVM mapped it writable without dirtying the folio, and reclaim "
		      "may drop what the guest writes",
		      ev->spte.level, (unsigned long long)ev->spte.gfn,
		      (unsigned long long)pfn);
}

static void dirty_bit_event(const struct kvmmu_event *ev)
{
	struct hw_dirty *d;

	if (ev->type == KVMMU_EV_SPTE_HW_DIRTY) {
		d = chk_map_get(&dirtied, (u64)(uintptr_t)ev->spte.sptep);
		if (d)
			*d = (struct hw_dirty){ .from = ev->spte.old_spte, .index = ev->index,
						.gfn = ev->spte.gfn, .level = ev->spte.level };
		check_folio(ev);
		return;
	}
	if (ev->spte.kvm != chk_kvm())
		return;
	d = chk_map_find(&dirtied, (u64)(uintptr_t)ev->spte.sptep);
	if (!d)
		return;
	if (ev->spte.plain && ev->spte.old_spte == d->from)
		chk_violation(CHK_DIRTY_BIT, ev, (s64)d->gfn, -1,
			      "KVM stored %#llx plainly over the level-%d SPTE of gfn %#llx, taking "
			      "it for %#llx, but the CPU had set D in it (event %llu): the D bit, "
			      "and the dirty page it stands for, is lost",
			      (unsigned long long)ev->spte.new_spte, d->level,
			      (unsigned long long)d->gfn, (unsigned long long)d->from,
			      (unsigned long long)d->index);
	chk_map_del(&dirtied, (u64)(uintptr_t)ev->spte.sptep);
}

const struct checker_ops chk_dirty_bit_ops = {
	.events = BIT_ULL(KVMMU_EV_SPTE_HW_DIRTY) | BIT_ULL(KVMMU_EV_SPTE_CHANGE),
	.begin = dirty_bit_begin,
	.event = dirty_bit_event,
	.end = dirty_bit_end,
};
