/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Write tracking of guest page tables: a 16-bit count per 4K gfn and
 * memslot of the shadow pages (above 4K) that shadow a guest table stored
 * there.  A tracked gfn is never mapped writable and never inside a huge
 * page; the guest's writes to it fault and are emulated, so that KVM sees
 * every change to a table it shadows (kvm_mmu_track_write()).
 *
 * Counts change under mmu_lock for write with slots_lock or SRCU held;
 * kvm_gfn_is_write_tracked() reads one without the lock (a fault's fast
 * check, confirmed when make_spte() asks again under the lock).
 */
#ifndef KVMMU_MMU_PAGE_TRACK_H
#define KVMMU_MMU_PAGE_TRACK_H

#include "kvm_host.h"

/* Does the VM track writes (it has, or may have, shadow pages with gPTEs)? */
/* Write tracking exists without TDP, and with it once a shadow root was made (nested). */
static inline bool kvm_page_track_write_tracking_enabled(const struct kvm *kvm)
{
	return !kvm->arch.tdp_enabled ||
	       __atomic_load_n(&kvm->arch.shadow_root_allocated, __ATOMIC_ACQUIRE);
}

int kvm_page_track_write_tracking_alloc(struct kvm_memory_slot *slot);
void kvm_page_track_free_memslot(struct kvm_memory_slot *slot);

void __kvm_write_track_add_gfn(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn);
void __kvm_write_track_remove_gfn(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn);
bool kvm_gfn_is_write_tracked(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t gfn);

/* Huge pages over @gfn: disallowed while it holds a shadowed table. */
void kvm_mmu_gfn_disallow_lpage(const struct kvm_memory_slot *slot, gfn_t gfn);
void kvm_mmu_gfn_allow_lpage(const struct kvm_memory_slot *slot, gfn_t gfn);

#endif /* KVMMU_MMU_PAGE_TRACK_H */
