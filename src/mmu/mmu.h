/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The MMU as the rest of x86 KVM (src/kvm/x86.c) sees it: per-VM and
 * per-vCPU setup, loading roots, page faults, and the memslot hooks.
 */
#ifndef KVMMU_MMU_MMU_H
#define KVMMU_MMU_MMU_H

#include "kvm_host.h"

int kvm_mmu_init_vm(struct kvm *kvm, const struct kvmmu_vm_config *cfg);
void kvm_mmu_uninit_vm(struct kvm *kvm);
int kvm_mmu_create(struct kvm_vcpu *vcpu);
/* paging.c: the guest's paging as the MMU sees it. */
union kvm_cpu_role kvm_calc_cpu_role(struct kvm_vcpu *vcpu);
void kvm_init_mmu(struct kvm_vcpu *vcpu);
/* Walk the guest's tables for @gva with error-code bits @access (PFERR_*). */
gpa_t kvm_mmu_gva_to_gpa(struct kvm_vcpu *vcpu, gva_t gva, u64 access,
			 struct x86_exception *exception);
void kvm_mmu_destroy(struct kvm_vcpu *vcpu);
/* The paging registers changed (CR0, CR4, EFER): drop the root, recompute the role. */
void kvm_mmu_reset_context(struct kvm_vcpu *vcpu);
/* Shadow paging: the guest loaded CR3 (a new root at the next entry). */
void kvm_mmu_new_pgd(struct kvm_vcpu *vcpu, gpa_t new_pgd);
/* The same, for a switch that is no TLB flush (a nested VM entry's EPTP). */
void kvm_mmu_new_pgd_noflush(struct kvm_vcpu *vcpu, gpa_t new_pgd);
/* Nested EPT (paging.c, mmu.c): L2's MMU, nested VM entry and exit, INVEPT. */
void kvm_init_shadow_ept_mmu(struct kvm_vcpu *vcpu, bool execonly, int level, bool accessed_dirty,
			     gpa_t new_eptp);
int kvm_mmu_nested_enter(struct kvm_vcpu *vcpu, u64 eptp);
void kvm_mmu_nested_exit(struct kvm_vcpu *vcpu);
int kvm_mmu_invept(struct kvm_vcpu *vcpu, int type, u64 eptp);
/* Shadow paging: INVLPG @gva. */
void kvm_mmu_invlpg(struct kvm_vcpu *vcpu, gva_t gva);
void kvm_mmu_sync_prev_roots(struct kvm_vcpu *vcpu);
/* Shadow paging: a guest store KVM performs itself (a write-protected table). */
int kvm_mmu_emulate_store(struct kvm_vcpu *vcpu, gva_t gva, const struct kvmmu_insn *insn);

/* Roots: load one if the vCPU has none (flushing the TLB context). */
int kvm_mmu_load(struct kvm_vcpu *vcpu);
void kvm_mmu_unload(struct kvm_vcpu *vcpu);
void kvm_mmu_free_obsolete_roots(struct kvm_vcpu *vcpu);

static inline int kvm_mmu_reload(struct kvm_vcpu *vcpu)
{
	/*
	 * Drop an obsolete root here too, not only in the run loop:
	 * KVM_PRE_FAULT_MEMORY reloads without it, and would retry forever
	 * against a root a fast zap invalidated.
	 */
	if (kvm_check_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, vcpu))
		kvm_mmu_free_obsolete_roots(vcpu);
	if (likely(vcpu->arch.mmu->root.hpa != INVALID_PAGE))
		return 0;
	return kvm_mmu_load(vcpu);
}

/*
 * A TDP fault (EPT violation / NPF) at @gpa with PFERR_* @error_code.
 * Returns 1 to re-enter the guest, 0 to exit to userspace (MMIO; the
 * emulation is done), or -errno.
 */
int kvm_mmu_page_fault(struct kvm_vcpu *vcpu, gpa_t gpa, u64 error_code);

/* Memslots. */
int kvm_mmu_alloc_memslot_metadata(struct kvm *kvm, struct kvm_memory_slot *slot);
void kvm_mmu_free_memslot_metadata(struct kvm *kvm, struct kvm_memory_slot *slot);
/*
 * A slot deleted or moved away: its metadata is poisoned (every byte
 * KVM_MEMSLOT_POISON) and stays allocated, so that a late touch reads
 * poison, not freed memory; its rmaps must be empty (every SPTE of the
 * slot was zapped), as when it is freed.
 */
void kvm_mmu_poison_memslot_metadata(struct kvm *kvm, struct kvm_memory_slot *slot);
u64 kvm_mmu_memslot_metadata_bytes(const struct kvm_memory_slot *slot);
/* The shadow page budget (KVM_SET_NR_MMU_PAGES, or the default for the memslots). */
void kvm_mmu_change_mmu_pages(struct kvm *kvm, unsigned long goal_nr_mmu_pages);
unsigned long kvm_mmu_calculate_default_mmu_pages(struct kvm *kvm);
void kvm_mmu_slot_apply_flags(struct kvm *kvm, struct kvm_memory_slot *old,
			      const struct kvm_memory_slot *new, enum kvm_mr_change change);
void kvm_mmu_invalidate_mmio_sptes(struct kvm *kvm, u64 gen);

/* Zap the leaves of [gfn_start, gfn_end) in every valid root, and flush. */
void kvm_zap_gfn_range(struct kvm *kvm, gfn_t gfn_start, gfn_t gfn_end);

/* Huge pages and dirty logging. */
void kvm_mmu_slot_remove_write_access(struct kvm *kvm, const struct kvm_memory_slot *slot,
				      int start_level);
void kvm_mmu_slot_try_split_huge_pages(struct kvm *kvm, const struct kvm_memory_slot *slot,
				       int target_level);
void kvm_mmu_recover_huge_pages(struct kvm *kvm, const struct kvm_memory_slot *slot);

/* One NX recovery pass over about 1/@ratio of the tracked tables. */
int kvm_recover_nx_huge_pages(struct kvm *kvm, unsigned int ratio);

#endif /* KVMMU_MMU_MMU_H */
