// SPDX-License-Identifier: GPL-2.0-only
/*
 * Write tracking of guest page tables (see page_track.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "mmu_internal.h"
#include "page_track.h"

int kvm_page_track_write_tracking_alloc(struct kvm_memory_slot *slot)
{
	if (slot->arch.gfn_write_track)
		return 0;
	slot->arch.gfn_write_track = calloc(slot->npages, sizeof(*slot->arch.gfn_write_track));
	return slot->arch.gfn_write_track ? 0 : -ENOMEM;
}

void kvm_page_track_free_memslot(struct kvm_memory_slot *slot)
{
	free(slot->arch.gfn_write_track);
	slot->arch.gfn_write_track = NULL;
}

static struct kvm_lpage_info *lpage_info(const struct kvm_memory_slot *slot, gfn_t gfn, int level)
{
	unsigned int shift = (level - 1) * SPTE_LEVEL_BITS;

	return &slot->arch.lpage_info[level - 2][(gfn >> shift) - (slot->base_gfn >> shift)];
}

static void update_gfn_disallow_lpage_count(const struct kvm_memory_slot *slot, gfn_t gfn,
					    int count)
{
	int level;

	for (level = PG_LEVEL_2M; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
		struct kvm_lpage_info *linfo = lpage_info(slot, gfn, level);

		/* Read locklessly by faults (kvm_mmu_max_mapping_level()). */
		WRITE_ONCE(linfo->disallow_lpage, linfo->disallow_lpage + count);
		WARN_ON_ONCE(linfo->disallow_lpage < 0);
	}
}

void kvm_mmu_gfn_disallow_lpage(const struct kvm_memory_slot *slot, gfn_t gfn)
{
	if (kvm_memslot_meta_freed(slot, gfn, KVMMU_SLOT_META_LPAGE_INFO, true))
		return;
	update_gfn_disallow_lpage_count(slot, gfn, 1);
}

void kvm_mmu_gfn_allow_lpage(const struct kvm_memory_slot *slot, gfn_t gfn)
{
	if (kvm_memslot_meta_freed(slot, gfn, KVMMU_SLOT_META_LPAGE_INFO, true))
		return;
	update_gfn_disallow_lpage_count(slot, gfn, -1);
}

static void update_gfn_write_track(struct kvm_memory_slot *slot, gfn_t gfn, short count)
{
	u16 *track = &slot->arch.gfn_write_track[gfn - slot->base_gfn];
	int val = *track + count;

	/* 16 bits: fewer than 2^16 upper-level pages may shadow one gfn. */
	if (WARN_ON_ONCE(val < 0 || val > USHRT_MAX))
		return;
	WRITE_ONCE(*track, (u16)val);
}

void __kvm_write_track_add_gfn(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	if (kvm_memslot_meta_freed(slot, gfn, KVMMU_SLOT_META_WRITE_TRACK, true) ||
	    WARN_ON_ONCE(!slot->arch.gfn_write_track))
		return;
	update_gfn_write_track(slot, gfn, 1);
	/* Huge pages over a tracked gfn would let writes through unseen. */
	kvm_mmu_gfn_disallow_lpage(slot, gfn);
}

void __kvm_write_track_remove_gfn(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	if (kvm_memslot_meta_freed(slot, gfn, KVMMU_SLOT_META_WRITE_TRACK, true) ||
	    WARN_ON_ONCE(!slot->arch.gfn_write_track))
		return;
	update_gfn_write_track(slot, gfn, -1);
	kvm_mmu_gfn_allow_lpage(slot, gfn);
}

bool kvm_gfn_is_write_tracked(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t gfn)
{
	if (!slot || kvm_memslot_meta_freed(slot, gfn, KVMMU_SLOT_META_WRITE_TRACK, false) ||
	    !slot->arch.gfn_write_track)
		return false;
	return READ_ONCE(slot->arch.gfn_write_track[gfn - slot->base_gfn]);
}
