/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The shadow MMU, as mmu.c calls it: hashed shadow pages, rmaps, the
 * two-phase zap and obsolete pages.  Today it serves TDP through direct
 * shadow pages (tdp_mmu=0); shadow paging and nested TDP come on the same
 * pages (struct kvm_mmu_page with role.direct clear).
 *
 * Every function here wants mmu_lock held for write unless it says
 * otherwise; shadow pages are never changed under the read lock.
 */
#ifndef KVMMU_MMU_SHADOW_MMU_H
#define KVMMU_MMU_SHADOW_MMU_H

#include "mmu_internal.h"

#define KVM_MMU_HASH_SHIFT 12
#define KVM_NUM_MMU_PAGES (1 << KVM_MMU_HASH_SHIFT)
/* The page budget: keep this many free, refill to that many, never below the floor. */
#define KVM_MIN_FREE_MMU_PAGES 5
#define KVM_REFILL_PAGES 25
#define KVM_MIN_ALLOC_MMU_PAGES 64
#define KVM_PERMILLE_MMU_PAGES 20

u64 mmu_spte_read(_Atomic u64 *sptep);
/*
 * The gfn a shadow page's entry @sptep maps, and the page's level; ~0 if
 * @sptep is in no shadow page.  For observers: no lock, the page is held
 * by RCU (and, for a live translation, by the flush owed before a free).
 */
gfn_t kvm_mmu_sptep_gfn(struct kvm *kvm, const void *sptep, int *level);

/*
 * Walking a vCPU's shadow root, from the root to a level: the shadow
 * MMU's iterator.  Indexes by the address the root translates (a gpa for
 * direct roots).
 */
struct kvm_shadow_walk_iterator {
	u64 addr;
	hpa_t shadow_addr;
	_Atomic u64 *sptep;
	int level;
	unsigned int index;
};

static inline void shadow_walk_init(struct kvm_shadow_walk_iterator *it, struct kvm_vcpu *vcpu,
				    u64 addr)
{
	it->addr = addr;
	it->sptep = NULL;
	it->index = 0;
	it->shadow_addr = vcpu->arch.mmu->root.hpa;
	it->level = vcpu->arch.mmu->root_role.level;
	/* A PAE root: the PDPTE for the address leads to a level-2 page, or nowhere. */
	if (it->level == 3 && it->shadow_addr != INVALID_PAGE) {
		u64 pdpte = atomic_load_explicit(&vcpu->arch.mmu->pae_root[(addr >> 30) & 3],
						 memory_order_acquire);

		it->shadow_addr = pdpte & PT64_BASE_ADDR_MASK;
		--it->level;
		if (!it->shadow_addr)
			it->level = 0;
	}
}

static inline bool shadow_walk_okay(struct kvm_vcpu *vcpu, struct kvm_shadow_walk_iterator *it)
{
	if (it->level < PG_LEVEL_4K || it->shadow_addr == INVALID_PAGE)
		return false;
	it->index = (unsigned int)SPTE_INDEX(it->addr, it->level);
	it->sptep = kvm_table_virt(vcpu->kvm, it->shadow_addr >> PAGE_SHIFT) + it->index;
	return true;
}

static inline void __shadow_walk_next(struct kvm_shadow_walk_iterator *it, u64 spte)
{
	if (!is_shadow_present_pte(spte) || is_last_spte(spte, it->level)) {
		it->level = 0;
		return;
	}
	it->shadow_addr = spte_to_pfn(spte) << PAGE_SHIFT;
	--it->level;
}

#define for_each_shadow_entry(_vcpu, _addr, _walker)                          \
	for (shadow_walk_init(&(_walker), _vcpu, _addr);                      \
	     shadow_walk_okay(_vcpu, &(_walker));                             \
	     __shadow_walk_next(&(_walker), mmu_spte_read((_walker).sptep)))

int kvm_mmu_init_shadow_mmu(struct kvm *kvm);
/* The hash bucket of the pages for @gfn (mmu_lock held; observers read it so). */
struct hlist_head *kvm_mmu_page_hash_bucket(struct kvm *kvm, gfn_t gfn);
void kvm_mmu_uninit_shadow_mmu(struct kvm *kvm);

/*
 * The valid page for @gfn and @role, from the hash, or a new one from the
 * vCPU's caches (topped up by the caller).
 */
struct kvm_mmu_page *kvm_mmu_get_shadow_page(struct kvm_vcpu *vcpu, gfn_t gfn,
					     union kvm_mmu_page_role role);

/* The child table for @sptep: NULL if one is linked there already. */
struct kvm_mmu_page *kvm_mmu_get_child_sp(struct kvm_vcpu *vcpu, _Atomic u64 *sptep,
					  gfn_t gfn, bool direct, unsigned int access);
void link_shadow_page(struct kvm_vcpu *vcpu, _Atomic u64 *sptep, struct kvm_mmu_page *sp);
/* Install a leaf: RET_PF_FIXED, _SPURIOUS, _EMULATE (MMIO) or _WRITE_PROTECTED. */
int mmu_set_spte(struct kvm_vcpu *vcpu, struct kvm_memory_slot *slot, _Atomic u64 *sptep,
		 unsigned int pte_access, gfn_t gfn, kvm_pfn_t pfn, struct kvm_page_fault *fault);
void account_nx_huge_page(struct kvm *kvm, struct kvm_mmu_page *sp, bool nx_huge_page_possible);
/* A direct page below a guest huge page with other rights than @direct_access goes. */
void validate_direct_spte(struct kvm_vcpu *vcpu, _Atomic u64 *sptep, unsigned int direct_access);
/* The page of @sptep was used by a walk: its emulated writes start counting again. */
void clear_sp_write_flooding_count(struct kvm *kvm, _Atomic u64 *sptep);
/* Unlink what @spte of @sp points to (@invalid_list NULL: never a child page). */
int mmu_page_zap_pte(struct kvm *kvm, struct kvm_mmu_page *sp, _Atomic u64 *spte,
		     struct list_head *invalid_list);

/* Shadowed guest tables: writes, and taking a gfn's shadow pages away. */
void kvm_mmu_track_write(struct kvm_vcpu *vcpu, gpa_t gpa, u64 new_val, int bytes);
bool kvm_mmu_unprotect_gfn(struct kvm *kvm, gfn_t gfn);
bool kvm_rmap_zap_collapsible_sptes(struct kvm *kvm, const struct kvm_memory_slot *slot);

/* Unsync pages and their synchronisation (the guest's TLB flushes). */
bool is_unsync_root(struct kvm_mmu_page *sp);
bool kvm_mmu_root_is_unsync(struct kvm *kvm, hpa_t root);
void kvm_mmu_sync_roots(struct kvm_vcpu *vcpu);
void kvm_mmu_sync_gva(struct kvm_vcpu *vcpu, gva_t gva);
int kvm_mmu_sync_spte_update(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp, int i, gfn_t gfn,
			     unsigned int pte_access);
int kvm_mmu_sync_spte_drop(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp, int i);
void kvm_mmu_zap_memslot_pages_and_flush(struct kvm *kvm, struct kvm_memory_slot *slot,
					 bool flush);

/* Roots. */
int mmu_alloc_direct_roots(struct kvm_vcpu *vcpu);
int mmu_alloc_shadow_roots(struct kvm_vcpu *vcpu);
/* The PAE root page of a vCPU (shadow paging), and dropping what it points to. */
int mmu_alloc_special_roots(struct kvm_vcpu *vcpu);
void mmu_free_special_roots(struct kvm_vcpu *vcpu);
void mmu_free_pae_roots(struct kvm *kvm, struct kvm_mmu *mmu, struct list_head *invalid_list);
/* Drop a vCPU's reference on a shadow root; zap it if it was the last of an invalid one. */
void mmu_free_root_page(struct kvm *kvm, hpa_t *root_hpa, struct list_head *invalid_list);

/* The direct-map fault (tdp_mmu=0): with mmu_lock held for write. */
int direct_map(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);
int make_mmu_pages_available(struct kvm_vcpu *vcpu);

/* Lockless walks of a vCPU's shadow root (fast page fault, MMIO faults). */
void walk_shadow_page_lockless_begin(struct kvm_vcpu *vcpu);
void walk_shadow_page_lockless_end(struct kvm_vcpu *vcpu);
_Atomic u64 *shadow_fast_pf_get_last_sptep(struct kvm_vcpu *vcpu, gpa_t gpa, u64 *spte,
					   int *level);
int shadow_mmu_get_walk(struct kvm_vcpu *vcpu, u64 addr, u64 *sptes, int *root_level);
/* A lockless W restore by fast page fault: cmpxchg, reported as the TDP MMU does. */
bool mmu_spte_cmpxchg_lockless(struct kvm *kvm, _Atomic u64 *sptep, u64 *old, u64 new_spte);

/*
 * Zapping, in two phases: prepare unlinks @sp (true: other pages went with
 * it, so a walk of active_mmu_pages must restart), commit flushes every
 * vCPU and then frees what was prepared.
 */
bool kvm_mmu_prepare_zap_page(struct kvm *kvm, struct kvm_mmu_page *sp,
			      struct list_head *invalid_list);
void kvm_mmu_commit_zap_page(struct kvm *kvm, struct list_head *invalid_list);
void kvm_zap_obsolete_pages(struct kvm *kvm);
void kvm_shadow_mmu_zap_all(struct kvm *kvm);

/* rmap users: each returns whether a TLB flush is needed. */
bool kvm_rmap_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range);
bool kvm_rmap_zap_gfn_range(struct kvm *kvm, gfn_t gfn_start, gfn_t gfn_end);
/* Aging (whether anything was young): without mmu_lock, under the rmap locks. */
bool kvm_rmap_age_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range, bool test_only);
bool kvm_rmap_write_protect_slot(struct kvm *kvm, const struct kvm_memory_slot *slot,
				 int start_level);
bool kvm_rmap_clear_dirty_slot(struct kvm *kvm, const struct kvm_memory_slot *slot);
/* Clear W (or D, @wrprot false) on the 4K gfns of @mask; write-protect huge ones. */
void kvm_rmap_clear_dirty_pt_masked(struct kvm *kvm, struct kvm_memory_slot *slot,
				    gfn_t gfn_offset, unsigned long mask, bool wrprot);
bool kvm_rmap_write_protect_gfn(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t gfn,
				int min_level);

/* Memslot metadata: rmaps per level. */
int memslot_rmap_alloc(struct kvm_memory_slot *slot, unsigned long npages);
void memslot_rmap_free(struct kvm *kvm, struct kvm_memory_slot *slot);
/* Check that @slot's rmaps are empty and poison them (kvm_mmu_poison_memslot_metadata()). */
void memslot_rmap_poison(struct kvm *kvm, struct kvm_memory_slot *slot);

#endif /* KVMMU_MMU_SHADOW_MMU_H */
