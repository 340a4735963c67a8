// SPDX-License-Identifier: GPL-2.0-only
/*
 * Range completeness (I33): a walk over a gfn range of a root leaves
 * nothing behind that it promised to deal with.
 *
 * Zaps, write-protection (a slot's, and CLEAR's masked re-protection) and
 * huge-page splits announce themselves (KVMMU_EV_RANGE_BEGIN/END, with the
 * root, the range and the promise: no present leaf, no writable leaf at or
 * above a level, no leaf above a level).  When one is done, every leaf of
 * the range in that root is looked at, raw; a leaf that breaks the promise
 * is a violation unless its SPTE changed after the walk began (another
 * thread put it there meanwhile: a fault, a fast page fault restoring W),
 * so what is reported is an entry the walk never dealt with, typically
 * one it lost its place over after yielding mmu_lock.
 *
 * SPTE changes are remembered only while some walk is in progress, by
 * location, with the index of the last one.
 */
#include "check_internal.h"

static struct chk_frames changed; /* sptep -> 1 + event index of its last change */
static int walks;              /* walks begun and not yet done */

static const char *const op_names[NR_KVMMU_RANGE_OPS] = {
	[KVMMU_RANGE_ZAP] = "zap",
	[KVMMU_RANGE_WRPROT] = "write-protection",
	[KVMMU_RANGE_SPLIT] = "split",
};

static void range_begin_checking(void)
{
	chk_frames_init(&changed, sizeof(u64));
	walks = 0;
}

static void range_end_checking(void)
{
	chk_frames_free(&changed);
}

struct leftover {
	const struct kvmmu_event *ev;
	const struct kvmmu_ev_range *r;
	bool found;
};

/* Does the leaf at @gfn, @level break the walk's promise? */
static bool breaks_promise(const struct kvmmu_ev_range *r, gfn_t gfn, int level, u64 spte)
{
	u64 pages = KVM_PAGES_PER_HPAGE(level), i;

	switch (r->op) {
	case KVMMU_RANGE_ZAP:
		return true;
	case KVMMU_RANGE_SPLIT:
		return level > r->level;
	case KVMMU_RANGE_WRPROT:
		if (level < r->level || !is_writable_pte(spte))
			return false;
		if (!r->mask)
			return true;
		/* Only the gfns of the mask were to be protected. */
		for (i = 0; i < pages; i++) {
			if (gfn + i >= r->start && gfn + i < r->start + BITS_PER_LONG &&
			    (r->mask & (1ULL << (gfn + i - r->start))))
				return true;
		}
		return false;
	default:
		return false;
	}
}

static void look_at_leaf(gfn_t gfn, int level, const void *sptep, u64 spte, void *arg)
{
	struct leftover *lo = arg;
	const struct kvmmu_ev_range *r = lo->r;
	const u64 *last;

	if (lo->found || !breaks_promise(r, gfn, level, spte))
		return;
	last = chk_frames_find(&changed, sptep);
	if (last && *last && *last - 1 >= r->begin_index)
		return;
	lo->found = true;
	chk_violation(CHK_RANGE_COMPLETENESS, lo->ev, (s64)gfn, (s64)spte_to_pfn(spte),
		      "a %s of gfns [%#llx, %#llx) in a root left gfn %#llx behind (SPTE %#llx, "
		      "level %d), unchanged since before the walk began at event %llu: the "
		      "walk skipped it", op_names[r->op], (unsigned long long)r->start,
		      (unsigned long long)r->end, (unsigned long long)gfn,
		      (unsigned long long)spte, level, (unsigned long long)r->begin_index);
}

static void range_done(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_range *r = &ev->range;
	struct leftover lo = { .ev = ev, .r = r };

	if (r->done && r->op < NR_KVMMU_RANGE_OPS)
		chk_walk_leaves((struct kvm_mmu_page *)r->root, r->start, r->end, look_at_leaf, &lo);
	if (walks > 0 && !--walks)
		chk_frames_free(&changed);
}

static void range_event(const struct kvmmu_event *ev)
{
	u64 *last;

	if (ev->type == KVMMU_EV_RANGE_BEGIN) {
		if (ev->range.kvm == chk_kvm())
			walks++;
		return;
	}
	if (ev->type == KVMMU_EV_RANGE_END) {
		if (ev->range.kvm == chk_kvm())
			range_done(ev);
		return;
	}
	/* KVMMU_EV_SPTE_CHANGE: remembered while a walk may need it. */
	if (!walks || ev->spte.kvm != chk_kvm())
		return;
	last = chk_frames_get(&changed, ev->spte.sptep);
	if (last)
		*last = ev->index + 1;
}

const struct checker_ops chk_range_ops = {
	.events = BIT_ULL(KVMMU_EV_RANGE_BEGIN) | BIT_ULL(KVMMU_EV_RANGE_END) |
		  BIT_ULL(KVMMU_EV_SPTE_CHANGE),
	.begin = range_begin_checking,
	.event = range_event,
	.end = range_end_checking,
};
