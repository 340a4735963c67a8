// SPDX-License-Identifier: GPL-2.0-only
/*
 * Building SPTEs: the per-VM format (EPT or NPT), leaf and non-leaf SPTEs,
 * MMIO SPTEs, split and collapse, access tracking.
 */
#include "mmu_internal.h"

/* Bits the NPT MMIO value may use: bit 63, the pfn field and bits 2:0. */
#define MMIO_ALLOWED_BITS (BIT_ULL(63) | PT64_PFN_MASK | GENMASK_ULL(2, 0))

static void kvm_mmu_set_mmio_spte_mask(struct kvm_mmu_masks *m, u64 mmio_value,
				       u64 mmio_mask, u64 access_mask)
{
	/* The value must sit inside the mask, outside the generation bits. */
	if (WARN_ON(mmio_value & ~mmio_mask) ||
	    WARN_ON(mmio_mask & ~MMIO_ALLOWED_BITS))
		mmio_value = 0;
	/* A FROZEN or non-present SPTE must never look like MMIO. */
	if (mmio_value && (WARN_ON((FROZEN_SPTE & mmio_mask) == mmio_value) ||
			   WARN_ON((SHADOW_NONPRESENT_VALUE & mmio_mask) == mmio_value)))
		mmio_value = 0;
	m->mmio_value = mmio_value;
	m->mmio_mask = mmio_value ? mmio_mask : 0;
	m->mmio_access_mask = access_mask;
}

void kvm_mmu_set_ept_masks(struct kvm_mmu_masks *m, bool ad_enabled, int phys_bits)
{
	m->ept = true;
	m->ad_enabled = ad_enabled;
	/* ACC_USER means "readable" on EPT. */
	m->user_mask = EPT_READABLE;
	/* A is also KVM's software Accessed bit when A/D is off. */
	m->accessed_mask = EPT_ACCESSED;
	m->dirty_mask = ad_enabled ? EPT_DIRTY : 0;
	m->nx_mask = 0;
	m->x_mask = EPT_EXECUTABLE;
	/* No exec-only EPT modelled: present means readable. */
	m->present_mask = EPT_READABLE | EPT_SUPPRESS_VE;
	m->acc_track_mask = EPT_RWX_MASK;
	m->host_writable_mask = EPT_SPTE_HOST_WRITABLE;
	m->mmu_writable_mask = EPT_SPTE_MMU_WRITABLE;
	m->memtype_mask = (EPT_MT_WB << EPT_MT_SHIFT) | EPT_IPAT;
	m->phys_bits = phys_bits;
	kvm_mmu_set_mmio_spte_mask(m, EPT_MMIO_VALUE, EPT_MMIO_MASK, 0);
}

void kvm_mmu_reset_all_pte_masks(struct kvm_mmu_masks *m, int phys_bits)
{
	u64 mask;

	m->ept = false;
	m->ad_enabled = true; /* NPT always has A/D */
	m->user_mask = PT_USER_MASK;
	m->accessed_mask = PT_ACCESSED_MASK;
	m->dirty_mask = PT_DIRTY_MASK;
	m->nx_mask = PT64_NX_MASK;
	m->x_mask = 0;
	m->present_mask = PT_PRESENT_MASK;
	m->acc_track_mask = 0;
	m->host_writable_mask = DEFAULT_SPTE_HOST_WRITABLE;
	m->mmu_writable_mask = DEFAULT_SPTE_MMU_WRITABLE;
	m->memtype_mask = 0;
	m->phys_bits = phys_bits;
	/*
	 * A reserved physical-address bit makes the access fault with
	 * PFERR_RSVD.  With MAXPHYADDR 52 there is none: no MMIO caching.
	 */
	mask = phys_bits < 52 ? (NPT_MMIO_RSVD_BIT | PT_PRESENT_MASK) : 0;
	kvm_mmu_set_mmio_spte_mask(m, mask, mask, ACC_WRITE_MASK | ACC_USER_MASK);
}

static u64 spte_shadow_dirty_mask(const struct kvm_mmu_masks *m, u64 spte)
{
	return spte_ad_enabled(spte) ? m->dirty_mask : 0;
}

/* A pfn with no struct page, or a reserved one, is host MMIO. */
static bool kvm_is_mmio_pfn(struct kvm *kvm, kvm_pfn_t pfn)
{
	struct page *page = kvm->host->pfn_to_page(kvm->mm, pfn);

	return !page || kvm->host->page_is_reserved(kvm->mm, page);
}

static void check_spte_writable_invariants(const struct kvm_mmu_masks *m, u64 spte)
{
	WARN_ONCE(!spte_writable_invariants_hold(m, spte),
		  "illegal writable combination in SPTE %#llx", (unsigned long long)spte);
}

u64 mark_spte_for_access_track(const struct kvm_mmu_masks *m, u64 spte)
{
	if (spte_ad_enabled(spte))
		return spte & ~m->accessed_mask;
	if (is_access_track_spte(m, spte))
		return spte;
	check_spte_writable_invariants(m, spte);
	WARN_ONCE(spte & SHADOW_ACC_TRACK_SAVED_MASK,
		  "access-tracking saved bits are in use in %#llx", (unsigned long long)spte);
	spte |= (spte & SHADOW_ACC_TRACK_SAVED_BITS_MASK) << SHADOW_ACC_TRACK_SAVED_BITS_SHIFT;
	spte &= ~(m->acc_track_mask | m->accessed_mask);
	return spte;
}

u64 restore_acc_track_spte(const struct kvm_mmu_masks *m, u64 spte)
{
	u64 saved = (spte >> SHADOW_ACC_TRACK_SAVED_BITS_SHIFT) &
		    SHADOW_ACC_TRACK_SAVED_BITS_MASK;

	spte &= ~m->acc_track_mask;
	spte &= ~SHADOW_ACC_TRACK_SAVED_MASK;
	return spte | saved;
}

/* Change X/NX, keeping an access-tracked SPTE access-tracked. */
static u64 modify_spte_protections(const struct kvm_mmu_masks *m, u64 spte,
				   u64 set, u64 clear)
{
	bool tracked = is_access_track_spte(m, spte);

	if (tracked)
		spte = restore_acc_track_spte(m, spte);
	WARN_ON_ONCE(set & clear);
	spte = (spte | set) & ~clear;
	if (tracked)
		spte = mark_spte_for_access_track(m, spte);
	return spte;
}

static u64 make_spte_executable(const struct kvm_mmu_masks *m, u64 spte)
{
	return modify_spte_protections(m, spte, m->x_mask, m->nx_mask);
}

static u64 make_spte_nonexecutable(const struct kvm_mmu_masks *m, u64 spte)
{
	return modify_spte_protections(m, spte, m->nx_mask, m->x_mask);
}

/**
 * make_spte() - build a leaf SPTE
 * @sp:            the table the SPTE goes in (its level and A/D mode)
 * @pte_access:    ACC_* the guest mapping allows
 * @prefetch:      not a fault: the SPTE starts not-accessed
 * @synchronizing: a shadow-paging sync (accessed even if prefetched)
 * @host_writable: the host allows writes
 * @new_spte:      receives the SPTE
 *
 * Marks the gfn dirty in the memslot if the SPTE is writable and the slot
 * is logging.  Return: true if a write the guest asked for was refused
 * because the gfn is write-protected.
 */
bool make_spte(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp,
	       const struct kvm_memory_slot *slot, unsigned int pte_access,
	       gfn_t gfn, kvm_pfn_t pfn, u64 old_spte, bool prefetch,
	       bool synchronizing, bool host_writable, u64 *new_spte)
{
	struct kvm *kvm = vcpu->kvm;
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	union kvm_mmu_page_role role = sp_role(sp);
	int level = role.level;
	u64 spte = SPTE_MMU_PRESENT_MASK;
	bool wrprot = false;

	/*
	 * An L2 root with A/D off in L1's EPT pointer has none; with PML on,
	 * an L2 SPTE logs writes by write protection, since PML is off for
	 * L2 (kvm_mmu_page_ad_need_write_protect()).
	 */
	if (role.ad_disabled)
		spte |= SPTE_TDP_AD_DISABLED;
	else if (role.guest_mode && kvm->arch.cpu_dirty_log_size)
		spte |= SPTE_TDP_AD_WRPROT_ONLY;
	spte |= m->present_mask;
	if (!prefetch || synchronizing)
		spte |= m->accessed_mask;

	/* No executable huge page while the NX mitigation is on. */
	if (level > PG_LEVEL_4K && (pte_access & ACC_EXEC_MASK) &&
	    is_nx_huge_page_enabled(kvm))
		pte_access &= ~ACC_EXEC_MASK;

	if (pte_access & ACC_EXEC_MASK)
		spte |= m->x_mask;
	else
		spte |= m->nx_mask;
	if (pte_access & ACC_USER_MASK)
		spte |= m->user_mask;
	if (level > PG_LEVEL_4K)
		spte |= PT_PAGE_SIZE_MASK;
	if (m->ept && !kvm_is_mmio_pfn(kvm, pfn))
		spte |= m->memtype_mask;

	if (host_writable)
		spte |= m->host_writable_mask;
	else
		pte_access &= ~ACC_WRITE_MASK;

	spte |= pfn << PAGE_SHIFT;

	if (pte_access & ACC_WRITE_MASK) {
		spte |= PT_WRITABLE_MASK | m->mmu_writable_mask;
		/* Already writable: unsync and dirty state were handled then. */
		if (is_writable_pte(old_spte))
			goto out;
		if (mmu_try_to_unsync_pages(kvm, slot, gfn, synchronizing, prefetch)) {
			wrprot = true;
			pte_access &= ~ACC_WRITE_MASK;
			spte &= ~(PT_WRITABLE_MASK | m->mmu_writable_mask);
		}
	}
	if (pte_access & ACC_WRITE_MASK)
		spte |= spte_shadow_dirty_mask(m, spte);
out:
	if (prefetch && !synchronizing)
		spte = mark_spte_for_access_track(m, spte);

	check_spte_writable_invariants(m, spte);

	/*
	 * The memslot is marked after access tracking; unlike a folio it may
	 * be marked outside mmu_lock (fast page fault does).
	 */
	if ((spte & PT_WRITABLE_MASK) && slot && kvm_slot_dirty_track_enabled(slot)) {
		/* kvm_mmu_hugepage_adjust() maps logged slots at 4K only. */
		WARN_ON_ONCE(level > PG_LEVEL_4K);
		mark_page_dirty_in_slot(kvm, slot, gfn);
	}
	*new_spte = spte;
	return wrprot;
}

/* A non-leaf SPTE grants everything: leaves carry the permissions. */
u64 make_nonleaf_spte(const struct kvm_mmu_masks *m, kvm_pfn_t child_pfn, bool ad_disabled)
{
	u64 spte = SPTE_MMU_PRESENT_MASK;

	spte |= (child_pfn << PAGE_SHIFT) | m->present_mask | PT_WRITABLE_MASK |
		m->user_mask | m->x_mask;
	if (ad_disabled)
		spte |= SPTE_TDP_AD_DISABLED;
	else
		spte |= m->accessed_mask;
	return spte;
}

u64 make_mmio_spte(struct kvm_vcpu *vcpu, gfn_t gfn, unsigned int access)
{
	const struct kvm_mmu_masks *m = &vcpu->kvm->arch.masks;
	u64 gen = READ_ONCE(kvm_memslots(vcpu->kvm)->generation) & MMIO_SPTE_GEN_MASK;
	u64 spte = generation_mmio_spte_mask(gen);

	WARN_ON_ONCE(!m->mmio_value);
	access &= m->mmio_access_mask;
	spte |= m->mmio_value | access;
	spte |= gfn << PAGE_SHIFT;
	return spte;
}

/* The @index-th child of a huge SPTE split one level down. */
u64 make_small_spte(struct kvm *kvm, u64 huge_spte, union kvm_mmu_page_role role, int index)
{
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	u64 child_spte = huge_spte;

	KVM_BUG_ON(!is_shadow_present_pte(huge_spte) || !is_large_pte(huge_spte), kvm);
	if (!kvmmu_mutant(MUT_SPLIT_CHILD_PFN))
		child_spte |= ((u64)index * KVM_PAGES_PER_HPAGE(role.level)) << PAGE_SHIFT;
	if (role.level == PG_LEVEL_4K) {
		child_spte &= ~PT_PAGE_SIZE_MASK;
		/* A 4K page is out of the NX mitigation's reach. */
		if ((role.access & ACC_EXEC_MASK) && is_nx_huge_page_enabled(kvm))
			child_spte = make_spte_executable(m, child_spte);
	}
	return child_spte;
}

/* A huge SPTE at @level from any leaf beneath it. */
u64 make_huge_spte(struct kvm *kvm, u64 small_spte, int level)
{
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	u64 huge_spte;

	KVM_BUG_ON(!is_shadow_present_pte(small_spte) || level == PG_LEVEL_4K, kvm);
	huge_spte = small_spte | PT_PAGE_SIZE_MASK;
	/* The leaf's pfn need not be the first of the huge page. */
	huge_spte &= ~(PT64_PFN_MASK & (PG_LEVEL_SIZE(level) - 1));
	if (is_nx_huge_page_enabled(kvm))
		huge_spte = make_spte_nonexecutable(m, huge_spte);
	return huge_spte;
}
