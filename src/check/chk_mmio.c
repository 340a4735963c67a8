// SPDX-License-Identifier: GPL-2.0-only
/*
 * MMIO generations (I19): an MMIO SPTE is valid only for the memslot
 * generation it carries, and it carries only 19 bits of it.  When those
 * wrap, an MMIO SPTE from before could match a later generation and turn
 * memory into MMIO (or the reverse), so the update that wraps them must
 * take every existing MMIO SPTE out of reach (KVM fast-zaps: every root
 * becomes invalid).
 *
 * The checker learns when each MMIO SPTE was made (KVMMU_EV_SPTE_CHANGE to
 * an MMIO value) and, at the end of a memslot update whose generation
 * wrapped, walks every valid root: an MMIO SPTE made before the update
 * began is a violation.  One it has not seen made (its event is still on
 * its way) is given the benefit of the doubt; so is one that changed since
 * it was seen.  What is there when checking begins counts as made before.
 *
 * Runs start near the wrap with the counters option (mmio-wrap); from 0 it
 * takes 2^18 updates to get there.
 */
#include <stdio.h>

#include "check_internal.h"

struct made {
	u64 spte;  /* the MMIO value */
	u64 index; /* the event that made it */
};

static struct chk_map made;    /* sptep -> struct made */
static u64 update_begin;       /* event index of the memslot update under way */
static u64 update_generation;  /* the generation of its address space then */

static void note(gfn_t gfn, int level, const void *sptep, u64 spte, void *arg)
{
	struct made *m = chk_map_get(&made, (u64)(uintptr_t)sptep);

	if (m)
		*m = (struct made){ .spte = spte, .index = 0 };
}

static bool note_root(struct kvm_mmu_page *root, void *arg)
{
	chk_walk_mmio(root, note, NULL);
	return false;
}

/* What is there when checking begins was made before any update it will see. */
static void mmio_begin(void)
{
	chk_map_init(&made, sizeof(struct made));
	update_begin = 0;
	rcu_read_lock();
	chk_for_each_root(note_root, NULL);
	rcu_read_unlock();
}

static void mmio_end(void)
{
	chk_map_free(&made);
}

struct mmio_scan {
	const struct kvmmu_event *ev;
	bool found;
};

static void scan(gfn_t gfn, int level, const void *sptep, u64 spte, void *arg)
{
	struct mmio_scan *s = arg;
	const struct made *m = chk_map_find(&made, (u64)(uintptr_t)sptep);
	char when[48];

	if (s->found || !m || m->spte != spte || (m->index && m->index >= update_begin))
		return;
	s->found = true;
	snprintf(when, sizeof(when), m->index ? "made at event %llu" :
		 "there when checking began", (unsigned long long)m->index);
	chk_violation(CHK_MMIO_GENERATION, s->ev, (s64)get_mmio_spte_gfn(spte), -1,
		      "the MMIO generation wrapped in this memslot update, but the MMIO SPTE of "
		      "gfn %#llx (generation %#llx, %s, before the update) is still in a valid "
		      "root: once the generation comes round again it is taken for current",
		      (unsigned long long)get_mmio_spte_gfn(spte),
		      (unsigned long long)get_mmio_spte_generation(spte), when);
}

static bool scan_root(struct kvm_mmu_page *root, void *arg)
{
	struct mmio_scan *s = arg;

	/* Obsolete roots are never used again, whatever they hold. */
	if (is_obsolete_sp(chk_kvm(), root))
		return false;
	chk_walk_mmio(root, scan, s);
	return s->found;
}

/*
 * A memslot update ended with generation @gen in its address space (the
 * one KVM looks at, as kvm_arch_memslots_updated() does): if the 19 bits
 * wrapped, nothing from before may remain.
 */
static void update_end(const struct kvmmu_event *ev, u64 gen)
{
	struct mmio_scan s = { .ev = ev };

	/* As KVM looks at it: no update flag, no address-space step. */
	gen &= MMIO_SPTE_GEN_MASK & ~((u64)KVM_ADDRESS_SPACE_NUM - 1);
	if (gen)
		return;
	rcu_read_lock();
	chk_for_each_root(scan_root, &s);
	rcu_read_unlock();
}

static void mmio_event(const struct kvmmu_event *ev)
{
	const struct kvm_mmu_masks *m = &chk_kvm()->arch.masks;
	u64 gen;

	if (ev->type == KVMMU_EV_SPAN_BEGIN || ev->type == KVMMU_EV_SPAN_END) {
		if (ev->span.kind != KVMMU_SPAN_MEMSLOT_UPDATE)
			return;
		/* An update KVM refused, or one that changed nothing, left the generation be. */
		if ((ev->span.arg >> 16) >= KVM_ADDRESS_SPACE_NUM)
			return;
		gen = READ_ONCE(__kvm_memslots(chk_kvm(), ev->span.arg >> 16)->generation);
		if (ev->type == KVMMU_EV_SPAN_BEGIN) {
			update_begin = ev->index;
			update_generation = gen;
		} else if (gen != update_generation) {
			update_end(ev, gen);
		}
		return;
	}
	if (ev->spte.kvm != chk_kvm())
		return;
	if (is_mmio_spte(m, ev->spte.new_spte)) {
		struct made *d = chk_map_get(&made, (u64)(uintptr_t)ev->spte.sptep);

		if (d)
			*d = (struct made){ .spte = ev->spte.new_spte, .index = ev->index };
	} else if (is_mmio_spte(m, ev->spte.old_spte)) {
		chk_map_del(&made, (u64)(uintptr_t)ev->spte.sptep);
	}
}

const struct checker_ops chk_mmio_ops = {
	.events = BIT_ULL(KVMMU_EV_SPTE_CHANGE) | BIT_ULL(KVMMU_EV_SPAN_BEGIN) |
		  BIT_ULL(KVMMU_EV_SPAN_END),
	.begin = mmio_begin,
	.event = mmio_event,
	.end = mmio_end,
};
