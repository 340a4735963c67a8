/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KVM's software SPTE format: which bits KVM keeps in an SPTE, the special
 * values (non-present, FROZEN, MMIO), and one predicate per question.
 *
 * The architectural bits are in src/arch/x86_pgtable.h.  What differs
 * between EPT and NPT (present, writable-by-whom, A/D, exec, MMIO encoding)
 * is in the VM's struct kvm_mmu_masks, so the predicates that depend on the
 * format take the masks; the rest take only the SPTE.  Nothing outside this
 * header compares an SPTE with a constant.
 *
 * Every shared SPTE access goes through the helpers at the end: reads,
 * cmpxchg, xchg and stores, each a sched point when it touches a present
 * entry.
 */
#ifndef KVMMU_MMU_SPTE_H
#define KVMMU_MMU_SPTE_H

#include "kvm_host.h"

#define SPTE_ENT_PER_PAGE 512
#define SPTE_LEVEL_BITS 9
#define SPTE_INDEX(address, level) PT64_INDEX(address, level)

/* Bit 11: "shadow-present", the definition of present to KVM (any format). */
#define SPTE_MMU_PRESENT_MASK BIT_ULL(11)

/*
 * The value of a zapped or never-filled SPTE: bit 63 (EPT: suppress #VE;
 * NPT: NX, ignored in a non-present entry).  Non-present to hardware.
 */
#define SHADOW_NONPRESENT_VALUE BIT_ULL(63)

/*
 * A/D tracking type, bits 53:52, EPT only.  0 must mean enabled: the bits
 * are reserved in other formats.
 */
#define SPTE_TDP_AD_SHIFT 52
#define SPTE_TDP_AD_MASK (3ULL << SPTE_TDP_AD_SHIFT)
#define SPTE_TDP_AD_ENABLED (0ULL << SPTE_TDP_AD_SHIFT)
#define SPTE_TDP_AD_DISABLED (1ULL << SPTE_TDP_AD_SHIFT)
#define SPTE_TDP_AD_WRPROT_ONLY (2ULL << SPTE_TDP_AD_SHIFT)

/* Host-writable and MMU-writable: software bits, per format. */
#define EPT_SPTE_HOST_WRITABLE BIT_ULL(57)
#define EPT_SPTE_MMU_WRITABLE BIT_ULL(58)
#define DEFAULT_SPTE_HOST_WRITABLE BIT_ULL(9)
#define DEFAULT_SPTE_MMU_WRITABLE BIT_ULL(10)

/* An access-tracked SPTE (A/D disabled, aged) keeps its R and X here. */
#define SHADOW_ACC_TRACK_SAVED_BITS_MASK (EPT_READABLE | EPT_EXECUTABLE)
#define SHADOW_ACC_TRACK_SAVED_BITS_SHIFT 54
#define SHADOW_ACC_TRACK_SAVED_MASK \
	(SHADOW_ACC_TRACK_SAVED_BITS_MASK << SHADOW_ACC_TRACK_SAVED_BITS_SHIFT)

/*
 * The MMIO generation: 19 bits of the memslot generation.  Bits 7:0 go to
 * SPTE bits 10:3, bits 18:8 to SPTE bits 62:52.  The update-in-progress flag
 * is not stored: a generation with it set never matches.
 */
#define MMIO_SPTE_GEN_LOW_START 3
#define MMIO_SPTE_GEN_LOW_END 10
#define MMIO_SPTE_GEN_HIGH_START 52
#define MMIO_SPTE_GEN_HIGH_END 62
#define MMIO_SPTE_GEN_LOW_MASK GENMASK_ULL(MMIO_SPTE_GEN_LOW_END, MMIO_SPTE_GEN_LOW_START)
#define MMIO_SPTE_GEN_HIGH_MASK GENMASK_ULL(MMIO_SPTE_GEN_HIGH_END, MMIO_SPTE_GEN_HIGH_START)
#define MMIO_SPTE_GEN_LOW_BITS (MMIO_SPTE_GEN_LOW_END - MMIO_SPTE_GEN_LOW_START + 1)
#define MMIO_SPTE_GEN_HIGH_BITS (MMIO_SPTE_GEN_HIGH_END - MMIO_SPTE_GEN_HIGH_START + 1)
#define MMIO_SPTE_GEN_MASK GENMASK_ULL(MMIO_SPTE_GEN_LOW_BITS + MMIO_SPTE_GEN_HIGH_BITS - 1, 0)

static_assert(MMIO_SPTE_GEN_LOW_BITS == 8 && MMIO_SPTE_GEN_HIGH_BITS == 11,
	      "19 generation bits");
static_assert(!(SPTE_MMU_PRESENT_MASK & (MMIO_SPTE_GEN_LOW_MASK | MMIO_SPTE_GEN_HIGH_MASK)),
	      "an MMIO SPTE is never shadow-present");

/* The EPT MMIO encoding: write+exec without read is a misconfiguration. */
#define EPT_MMIO_VALUE (EPT_WRITABLE | EPT_EXECUTABLE)
#define EPT_MMIO_MASK (EPT_RWX_MASK | EPT_SUPPRESS_VE)
/* The NPT one: a reserved physical-address bit (needs MAXPHYADDR < 52). */
#define NPT_MMIO_RSVD_BIT BIT_ULL(51)

/*
 * FROZEN_SPTE: claimed by a thread holding mmu_lock for read, mid-way
 * through a multi-step change (zap, flush, final value).  Nobody else
 * modifies it; faults that meet it retry.  Bits 5, 7, 8 and 10 on top of
 * the non-present value: non-present in every format (no RWX, no P), no pfn
 * bits (L1TF-safe), not shadow-present, and never taken for MMIO (which
 * needs an RWX bit or P).
 */
#define FROZEN_SPTE (SHADOW_NONPRESENT_VALUE | 0x5a0ULL)

static_assert(!(FROZEN_SPTE & SPTE_MMU_PRESENT_MASK), "FROZEN is not shadow-present");
static_assert(!(FROZEN_SPTE & EPT_RWX_MASK), "FROZEN is not present to EPT");
static_assert(!(FROZEN_SPTE & PT_PRESENT_MASK), "FROZEN is not present to NPT");
static_assert(!(FROZEN_SPTE & PT64_PFN_MASK), "FROZEN carries no pfn bits");
static_assert((FROZEN_SPTE & EPT_MMIO_MASK) != EPT_MMIO_VALUE, "FROZEN is not MMIO on EPT");
static_assert(!(FROZEN_SPTE & NPT_MMIO_RSVD_BIT), "FROZEN is not MMIO on NPT");
static_assert(!(SHADOW_NONPRESENT_VALUE & SPTE_MMU_PRESENT_MASK), "non-present is not present");

/* ---- predicates --------------------------------------------------------------- */

static inline bool is_frozen_spte(u64 spte)
{
	return spte == FROZEN_SPTE;
}

static inline bool is_shadow_present_pte(u64 pte)
{
	return pte & SPTE_MMU_PRESENT_MASK;
}

static inline bool is_large_pte(u64 pte)
{
	return pte & PT_PAGE_SIZE_MASK;
}

static inline bool is_last_spte(u64 pte, int level)
{
	return level == PG_LEVEL_4K || is_large_pte(pte);
}

static inline bool is_writable_pte(u64 pte)
{
	return pte & PT_WRITABLE_MASK;
}

static inline kvm_pfn_t spte_to_pfn(u64 pte)
{
	return (pte & PT64_PFN_MASK) >> PAGE_SHIFT;
}

static inline bool is_mmio_spte(const struct kvm_mmu_masks *m, u64 spte)
{
	return m->mmio_mask && (spte & m->mmio_mask) == m->mmio_value;
}

static inline bool spte_ad_enabled(u64 spte)
{
	return (spte & SPTE_TDP_AD_MASK) != SPTE_TDP_AD_DISABLED;
}

static inline bool spte_ad_need_write_protect(u64 spte)
{
	return (spte & SPTE_TDP_AD_MASK) != SPTE_TDP_AD_ENABLED;
}

static inline bool is_accessed_spte(const struct kvm_mmu_masks *m, u64 spte)
{
	return spte & m->accessed_mask;
}

static inline bool is_dirty_spte(const struct kvm_mmu_masks *m, u64 spte)
{
	return spte_ad_enabled(spte) ? !!(spte & m->dirty_mask) : is_writable_pte(spte);
}

static inline bool is_executable_pte(const struct kvm_mmu_masks *m, u64 spte)
{
	return (spte & (m->x_mask | m->nx_mask)) == m->x_mask;
}

static inline bool is_host_writable_spte(const struct kvm_mmu_masks *m, u64 spte)
{
	return spte & m->host_writable_mask;
}

static inline bool is_mmu_writable_spte(const struct kvm_mmu_masks *m, u64 spte)
{
	return spte & m->mmu_writable_mask;
}

/* A/D disabled and aged: hardware-non-present, still shadow-present. */
static inline bool is_access_track_spte(const struct kvm_mmu_masks *m, u64 spte)
{
	return !spte_ad_enabled(spte) && !(spte & m->acc_track_mask);
}

/*
 * Can the SPTE change without mmu_lock?  Then it must be exchanged
 * atomically even under the write lock.  MMU-writable without W (fast page
 * fault may set W), A/D disabled (aging or restore may run), or writable
 * and not yet dirty (hardware may set D).  A alone does not count: losing
 * an Accessed bit is tolerated.
 */
static inline bool spte_needs_atomic_update(const struct kvm_mmu_masks *m, u64 spte)
{
	if (!is_shadow_present_pte(spte))
		return false;
	if (!is_writable_pte(spte) && is_mmu_writable_spte(m, spte))
		return true;
	if (!spte_ad_enabled(spte))
		return true;
	/* The mutant forgets the hardware's D bit. */
	return is_writable_pte(spte) && !(spte & m->dirty_mask) &&
	       !kvmmu_mutant(MUT_ATOMIC_UPDATE_IGNORES_DIRTY);
}

/*
 * KVM tolerates stale *writable* TLB entries left by dirty-log protection
 * and aging, which keep MMU-writable.  Whoever clears MMU-writable must
 * flush, even if W was already clear.
 */
static inline bool leaf_spte_change_needs_tlb_flush(const struct kvm_mmu_masks *m,
						    u64 old_spte, u64 new_spte)
{
	return is_mmu_writable_spte(m, old_spte) && !is_mmu_writable_spte(m, new_spte);
}

/* The legal (host-writable, MMU-writable, W) combinations of a leaf. */
static inline bool spte_writable_invariants_hold(const struct kvm_mmu_masks *m, u64 spte)
{
	if (is_mmu_writable_spte(m, spte) && !is_host_writable_spte(m, spte))
		return false;
	if (is_writable_pte(spte) && !is_mmu_writable_spte(m, spte))
		return false;
	return true;
}

/* ---- MMIO SPTEs ---------------------------------------------------------------- */

static inline u64 generation_mmio_spte_mask(u64 gen)
{
	return ((gen << MMIO_SPTE_GEN_LOW_START) & MMIO_SPTE_GEN_LOW_MASK) |
	       (((gen >> MMIO_SPTE_GEN_LOW_BITS) << MMIO_SPTE_GEN_HIGH_START) &
		MMIO_SPTE_GEN_HIGH_MASK);
}

static inline u64 get_mmio_spte_generation(u64 spte)
{
	return ((spte & MMIO_SPTE_GEN_LOW_MASK) >> MMIO_SPTE_GEN_LOW_START) |
	       (((spte & MMIO_SPTE_GEN_HIGH_MASK) >> MMIO_SPTE_GEN_HIGH_START)
		<< MMIO_SPTE_GEN_LOW_BITS);
}

static inline gfn_t get_mmio_spte_gfn(u64 spte)
{
	return (spte & PT64_PFN_MASK & ~NPT_MMIO_RSVD_BIT) >> PAGE_SHIFT;
}

/*
 * Does an MMIO SPTE still describe the current memslots?  Never while an
 * update is in progress.
 */
static inline bool check_mmio_spte(u64 kvm_gen, u64 spte)
{
	if (unlikely(kvm_gen & KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS))
		return false;
	return (kvm_gen & MMIO_SPTE_GEN_MASK) == get_mmio_spte_generation(spte);
}

/* ---- constructors (spte.c) ----------------------------------------------------- */

struct kvm_mmu_page;

void kvm_mmu_set_ept_masks(struct kvm_mmu_masks *m, bool ad_enabled, int phys_bits);
void kvm_mmu_reset_all_pte_masks(struct kvm_mmu_masks *m, int phys_bits);

bool make_spte(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp,
	       const struct kvm_memory_slot *slot, unsigned int pte_access,
	       gfn_t gfn, kvm_pfn_t pfn, u64 old_spte, bool prefetch,
	       bool synchronizing, bool host_writable, u64 *new_spte);
u64 make_nonleaf_spte(const struct kvm_mmu_masks *m, kvm_pfn_t child_pfn,
		      bool ad_disabled);
u64 make_mmio_spte(struct kvm_vcpu *vcpu, gfn_t gfn, unsigned int access);
u64 make_small_spte(struct kvm *kvm, u64 huge_spte, union kvm_mmu_page_role role,
		    int index);
u64 make_huge_spte(struct kvm *kvm, u64 small_spte, int level);
u64 mark_spte_for_access_track(const struct kvm_mmu_masks *m, u64 spte);
u64 restore_acc_track_spte(const struct kvm_mmu_masks *m, u64 spte);

/* ---- shared SPTE access ---------------------------------------------------------- */

typedef _Atomic u64 *tdp_ptep_t;

static inline u64 kvm_tdp_mmu_read_spte(tdp_ptep_t sptep)
{
	/*
	 * Acquire: a child table and its struct kvm_mmu_page are complete
	 * before the SPTE that links them is seen (pairs with the release in
	 * the cmpxchg or store that linked them).  A plain load on x86.
	 */
	u64 spte = atomic_load_explicit(sptep, memory_order_acquire);

	if (is_shadow_present_pte(spte))
		sched_point(SP_SPTE_READ, (const void *)sptep);
	return spte;
}

/* Store without exchange: only for SPTEs nobody else can touch. */
static inline void __kvm_tdp_mmu_write_spte(tdp_ptep_t sptep, u64 new_spte)
{
	sched_point(SP_SPTE_XCHG, (const void *)sptep);
	/* Release: a child table is fully built before it is linked. */
	atomic_store_explicit(sptep, new_spte, memory_order_release);
}

static inline u64 kvm_tdp_mmu_write_spte_atomic(tdp_ptep_t sptep, u64 new_spte)
{
	sched_point(SP_SPTE_XCHG, (const void *)sptep);
	return atomic_exchange(sptep, new_spte);
}

/*
 * try_cmpxchg64() on an SPTE.  On failure *@old holds the current value and
 * nothing else happened.
 */
static inline bool __must_check kvm_tdp_mmu_cmpxchg_spte(tdp_ptep_t sptep, u64 *old,
							u64 new_spte)
{
	sched_point(SP_SPTE_CMPXCHG, (const void *)sptep);
	return try_cmpxchg64(sptep, old, new_spte);
}

/*
 * Write an SPTE under the write lock: exchange it if it can change behind
 * the lock's back (fast page fault, aging, the hardware's D bit), so that
 * such a change is never lost.  Returns the value actually replaced.
 */
static inline u64 kvm_tdp_mmu_write_spte(const struct kvm_mmu_masks *m, tdp_ptep_t sptep,
					 u64 old_spte, u64 new_spte, int level)
{
	if (spte_needs_atomic_update(m, old_spte))
		return kvm_tdp_mmu_write_spte_atomic(sptep, new_spte);
	__kvm_tdp_mmu_write_spte(sptep, new_spte);
	return old_spte;
}

/*
 * Clear @mask in a present leaf without mmu_lock, as long as it stays a
 * present leaf.  Returns the value the bits were cleared from, or the
 * value that stopped it.  A plain fetch_and could hit an SPTE frozen in
 * the meantime and turn FROZEN_SPTE into a non-present value that a fault
 * would then overwrite before the freezer's flush.
 */
static inline u64 tdp_mmu_clear_spte_bits_atomic(tdp_ptep_t sptep, u64 old_spte,
						 u64 mask, int level)
{
	while (is_shadow_present_pte(old_spte) && is_last_spte(old_spte, level) &&
	       (old_spte & mask)) {
		if (kvm_tdp_mmu_cmpxchg_spte(sptep, &old_spte, old_spte & ~mask))
			break;
	}
	return old_spte;
}

/* Clear @mask in place, atomically if the SPTE is volatile. */
static inline u64 tdp_mmu_clear_spte_bits(const struct kvm_mmu_masks *m, tdp_ptep_t sptep,
					  u64 old_spte, u64 mask, int level)
{
	if (spte_needs_atomic_update(m, old_spte)) {
		sched_point(SP_SPTE_XCHG, (const void *)sptep);
		return atomic_fetch_and(sptep, ~mask);
	}
	__kvm_tdp_mmu_write_spte(sptep, old_spte & ~mask);
	return old_spte;
}

#endif /* KVMMU_MMU_SPTE_H */
