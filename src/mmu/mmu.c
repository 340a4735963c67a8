// SPDX-License-Identifier: GPL-2.0-only
/*
 * The x86 MMU's common code: memory caches, roots as vCPUs load and drop
 * them, the page-fault path (fast path, pfn lookup under the mmu_seq
 * protocol, the stale check), huge-page sizing, the zap entry points that
 * memslots and notifiers use, dirty-logging hooks, NX huge page recovery
 * and KVM_PRE_FAULT_MEMORY.
 *
 * Where KVM dispatches on tdp_mmu_enabled, so does this file: the TDP MMU
 * (tdp_mmu.c) or the shadow MMU (shadow_mmu.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mmu.h"
#include "mmu_internal.h"
#include "page_track.h"
#include "shadow_mmu.h"
#include "tdp_iter.h"
#include "tdp_mmu.h"

/* The calling thread's batch of page-count changes (kvm_page_stats_batch_begin()). */
__thread struct kvm_page_stats_batch kvm_page_stats_batch;

/* ---- memory caches ------------------------------------------------------------------- */

/* A page-table frame, every entry non-present. */
static kvm_pfn_t kvm_mmu_alloc_table(struct kvm *kvm)
{
	kvm_pfn_t pfn = kvm->host->alloc_table(kvm->mm);
	_Atomic u64 *spt;
	int i;

	if (!pfn)
		return 0;
	spt = kvm_table_virt(kvm, pfn);
	for (i = 0; i < SPTE_ENT_PER_PAGE; i++)
		atomic_store_explicit(&spt[i], SHADOW_NONPRESENT_VALUE, memory_order_relaxed);
	return pfn;
}

/*
 * Fill the vCPU's caches before a fault or a root load takes mmu_lock, so
 * nothing allocates under it.  As KVM: once below the minimum, fill up.
 */
int mmu_topup_memory_caches(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu_memory_cache *hc = &vcpu->arch.mmu_page_header_cache;
	struct kvm_mmu_table_cache *tc = &vcpu->arch.mmu_shadow_page_cache;
	struct kvm *kvm = vcpu->kvm;

	might_sleep();
	if (hc->nobjs < PT64_ROOT_MAX_LEVEL) {
		while (hc->nobjs < KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE) {
			void *p = calloc(1, sizeof(struct kvm_mmu_page));

			if (!p)
				return -ENOMEM;
			hc->objects[hc->nobjs++] = p;
		}
	}
	/* rmap descriptors: one per level of a walk, plus prefetches. */
	if (kvm_memslots_have_rmaps(kvm)) {
		struct kvm_mmu_memory_cache *dc = &vcpu->arch.mmu_pte_list_desc_cache;

		while (dc->nobjs < 1 + PT64_ROOT_MAX_LEVEL + PTE_PREFETCH_NUM) {
			void *p = malloc(sizeof(struct pte_list_desc));

			if (!p)
				return -ENOMEM;
			dc->objects[dc->nobjs++] = p;
		}
	}
	if (tc->nobjs < PT64_ROOT_MAX_LEVEL) {
		while (tc->nobjs < KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE) {
			kvm_pfn_t pfn = kvm_mmu_alloc_table(kvm);

			if (!pfn)
				return tc->nobjs ? 0 : -ENOMEM;
			tc->pfns[tc->nobjs++] = pfn;
		}
	}
	return 0;
}

void mmu_free_memory_caches(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu_memory_cache *hc = &vcpu->arch.mmu_page_header_cache;
	struct kvm_mmu_table_cache *tc = &vcpu->arch.mmu_shadow_page_cache;

	struct kvm_mmu_memory_cache *dc = &vcpu->arch.mmu_pte_list_desc_cache;

	while (hc->nobjs)
		free(hc->objects[--hc->nobjs]);
	while (dc->nobjs)
		free(dc->objects[--dc->nobjs]);
	while (tc->nobjs)
		vcpu->kvm->host->free_table(vcpu->kvm->mm, tc->pfns[--tc->nobjs]);
}

struct kvm_mmu_page *kvm_mmu_alloc_page_from_cache(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu_memory_cache *hc = &vcpu->arch.mmu_page_header_cache;
	struct kvm_mmu_table_cache *tc = &vcpu->arch.mmu_shadow_page_cache;
	struct kvm_mmu_page *sp;

	/* The caches were topped up for a whole walk; running dry is a bug. */
	if (WARN_ON_ONCE(!hc->nobjs || !tc->nobjs))
		return kvm_mmu_alloc_page(vcpu->kvm);
	sp = hc->objects[--hc->nobjs];
	memset(sp, 0, sizeof(*sp));
	sp->pfn = tc->pfns[--tc->nobjs];
	sp->spt = kvm_table_virt(vcpu->kvm, sp->pfn);
	return sp;
}

struct kvm_mmu_page *kvm_mmu_alloc_page(struct kvm *kvm)
{
	struct kvm_mmu_page *sp = calloc(1, sizeof(*sp));

	if (!sp)
		return NULL;
	sp->pfn = kvm_mmu_alloc_table(kvm);
	if (!sp->pfn) {
		free(sp);
		return NULL;
	}
	sp->spt = kvm_table_virt(kvm, sp->pfn);
	return sp;
}

/* Give the table frame back to the host (after a grace period, normally). */
void kvm_mmu_free_table_frame(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	if (!sp->pfn)
		return;
	kvm->host->set_table_owner(kvm->mm, sp->pfn, NULL);
	kvmmu_observe(KVMMU_EV_TABLE_FREE, table, .kvm = kvm, .pfn = sp->pfn, .gfn = sp->gfn,
		      .level = (u8)sp->role.level);
	kvm->host->free_table(kvm->mm, sp->pfn);
	sp->pfn = 0;
	sp->spt = NULL;
}

void kvm_mmu_free_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	kvm_mmu_free_table_frame(kvm, sp);
	free(sp);
}

/* ---- VM and vCPU ------------------------------------------------------------------------ */

int kvm_mmu_init_vm(struct kvm *kvm, const struct kvmmu_vm_config *cfg)
{
	/* Shadow paging's SPTEs are the CPU's own 64-bit format. */
	if (cfg->format == KVMMU_TDP_EPT && cfg->tdp_enabled)
		kvm_mmu_set_ept_masks(&kvm->arch.masks, !cfg->ad_disabled, cfg->phys_bits);
	else
		kvm_mmu_reset_all_pte_masks(&kvm->arch.masks, cfg->phys_bits);
	kvm->arch.tdp_root_level = cfg->tdp_level;
	kvm->arch.direct_map = kvm->host->direct_map(kvm->mm);
	kvm->arch.nx_huge_pages = cfg->nx_huge_pages;
	kvm->arch.eager_page_split = cfg->eager_page_split;
	kvm->arch.pre_fault_allowed = true;
	kvm->arch.tdp_enabled = cfg->tdp_enabled;
	/* As KVM: the TDP MMU serves two-dimensional paging only. */
	kvm->arch.tdp_mmu_enabled = cfg->tdp_mmu && cfg->tdp_enabled;
	kvm_mmu_init_tdp_mmu(kvm);
	spin_lock_init(&kvm->arch.mmu_unsync_pages_lock);
	lockdep_set_rank(&kvm->arch.mmu_unsync_pages_lock.dep_map, KVM_RANK_MMU_UNSYNC_PAGES_LOCK);
	/* Shadow paging's, or nested EPT's for an EPTP outside the memslots. */
	kvm->arch.dummy_root_pfn = kvm->host->alloc_table(kvm->mm);
	if (!kvm->arch.dummy_root_pfn)
		return -ENOMEM;
	memset((void *)kvm_table_virt(kvm, kvm->arch.dummy_root_pfn), 0, PAGE_SIZE);
	return kvm_mmu_init_shadow_mmu(kvm);
}

/*
 * Observers look at the MMU's books once every root is dropped and every
 * page zapped, before they are freed: under the lock, as at a slot zap.
 */
static void observe_mmu_teardown(struct kvm *kvm)
{
	if (!kvmmu_observing(KVMMU_EV_MMU_TEARDOWN))
		return;
	write_lock(&kvm->mmu_lock);
	kvmmu_observe(KVMMU_EV_MMU_TEARDOWN, slot, .kvm = kvm);
	write_unlock(&kvm->mmu_lock);
}

void kvm_mmu_uninit_vm(struct kvm *kvm)
{
	observe_mmu_teardown(kvm);
	kvm_mmu_uninit_shadow_mmu(kvm);
	kvm_mmu_uninit_tdp_mmu(kvm);
	if (kvm->arch.dummy_root_pfn)
		kvm->host->free_table(kvm->mm, kvm->arch.dummy_root_pfn);
	kvm->arch.dummy_root_pfn = 0;
}

static int kvm_tdp_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);

int kvm_mmu_create(struct kvm_vcpu *vcpu)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu *mmu = &vcpu->arch.root_mmu;
	union kvm_mmu_page_role role = { .word = 0 };

	/* kvm_calc_tdp_mmu_root_page_role() */
	role.level = kvm->arch.tdp_root_level;
	role.direct = 1;
	role.access = ACC_ALL;
	role.cr0_wp = 1;
	role.efer_nx = 1;
	role.ad_disabled = !kvm->arch.masks.ad_enabled;

	mmu->root_role = role;
	mmu->root.hpa = INVALID_PAGE;
	mmu->root.pgd = 0;
	for (int i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++)
		mmu->prev_roots[i] = (struct kvm_mmu_root_info){ .hpa = INVALID_PAGE };
	/* L2's MMU is set up at each nested VM entry (kvm_init_shadow_ept_mmu()). */
	vcpu->arch.guest_mmu.root.hpa = INVALID_PAGE;
	for (int i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++)
		vcpu->arch.guest_mmu.prev_roots[i] =
			(struct kvm_mmu_root_info){ .hpa = INVALID_PAGE };
	/* Shadow paging picks its fault handler and root role in kvm_init_mmu(). */
	mmu->page_fault = kvm->arch.tdp_enabled ? kvm_tdp_page_fault : NULL;
	vcpu->arch.mmu = mmu;
	vcpu->arch.maxphyaddr = kvm->arch.masks.phys_bits;
	kvm_init_mmu(vcpu);
	return kvm->arch.tdp_enabled ? 0 : mmu_alloc_special_roots(vcpu);
}

void kvm_mmu_destroy(struct kvm_vcpu *vcpu)
{
	kvm_mmu_unload(vcpu);
	mmu_free_special_roots(vcpu);
	mmu_free_memory_caches(vcpu);
}

/* ---- roots ---------------------------------------------------------------------------------- */

#define KVM_MMU_ROOT_CURRENT BIT(0)
#define KVM_MMU_ROOT_PREVIOUS(i) BIT(1 + (i))
#define KVM_MMU_ROOTS_ALL (BIT(1 + KVM_MMU_NUM_PREV_ROOTS) - 1)

/* Drop @root of @mmu: the current one or a cached previous one. */
static void mmu_free_root(struct kvm *kvm, struct kvm_mmu *mmu, struct kvm_mmu_root_info *root)
{
	struct kvm_mmu_page *sp;
	LIST_HEAD(invalid_list);

	if (root->hpa == INVALID_PAGE)
		return;
	/* The dummy root holds nothing: there is nothing to put. */
	if (kvm_mmu_is_dummy_root(kvm, root->hpa)) {
		WRITE_ONCE(root->hpa, INVALID_PAGE);
		return;
	}
	sp = root_to_sp(kvm, root->hpa);
	/* The PAE root has no page: what it points to are shadow roots. */
	if (!sp && mmu->pae_root && root->hpa == mmu->pae_root_pfn << PAGE_SHIFT) {
		WARN_ON_ONCE(root != &mmu->root);
		write_lock(&kvm->mmu_lock);
		mmu_free_pae_roots(kvm, mmu, &invalid_list);
		kvm_mmu_commit_zap_page(kvm, &invalid_list);
		write_unlock(&kvm->mmu_lock);
		return;
	}
	if (sp && !is_tdp_mmu_page(sp)) {
		/* Dropping a shadow root may zap it: the write lock. */
		write_lock(&kvm->mmu_lock);
		mmu_free_root_page(kvm, &root->hpa, &invalid_list);
		kvm_mmu_commit_zap_page(kvm, &invalid_list);
		write_unlock(&kvm->mmu_lock);
		return;
	}
	/* Putting a TDP root needs only the read lock; a put never zaps. */
	read_lock(&kvm->mmu_lock);
	if (!WARN_ON_ONCE(!sp))
		kvm_tdp_mmu_put_root(kvm, sp);
	/* WRITE_ONCE: observers read other vCPUs' roots (chk_vcpu_root()). */
	WRITE_ONCE(root->hpa, INVALID_PAGE);
	read_unlock(&kvm->mmu_lock);
}

static void kvm_mmu_free_roots(struct kvm *kvm, struct kvm_mmu *mmu, unsigned long roots_to_free)
{
	int i;

	for (i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++) {
		if (roots_to_free & KVM_MMU_ROOT_PREVIOUS(i))
			mmu_free_root(kvm, mmu, &mmu->prev_roots[i]);
	}
	if (roots_to_free & KVM_MMU_ROOT_CURRENT)
		mmu_free_root(kvm, mmu, &mmu->root);
}

int kvm_mmu_load(struct kvm_vcpu *vcpu)
{
	struct kvm *kvm = vcpu->kvm;
	int r;

	kvmmu_span_begin(KVMMU_SPAN_ROOT_LOAD, (u64)vcpu->vcpu_id);
	r = mmu_topup_memory_caches(vcpu);
	if (!r)
		r = is_tdp_mmu_active(vcpu) ? kvm_tdp_mmu_alloc_root(vcpu) :
		    vcpu->arch.mmu->root_role.direct ? mmu_alloc_direct_roots(vcpu) :
						       mmu_alloc_shadow_roots(vcpu);
	/* A root found in the hash may have unsync pages below: up to date first. */
	if (!r && !vcpu->arch.mmu->root_role.direct)
		kvm_mmu_sync_roots(vcpu);
	/*
	 * A new root: flush the TLB context it tags, whatever an earlier root
	 * at the same address left there.  This flush is why zapping an
	 * invalidated root needs none.
	 */
	if (!r)
		kvm->hw->flush_tlb_current(vcpu->hw, vcpu->arch.mmu->root.hpa >> PAGE_SHIFT);
	kvmmu_span_end(KVMMU_SPAN_ROOT_LOAD, (u64)vcpu->vcpu_id);
	return r;
}

void kvm_mmu_unload(struct kvm_vcpu *vcpu)
{
	kvm_mmu_free_roots(vcpu->kvm, &vcpu->arch.root_mmu, KVM_MMU_ROOTS_ALL);
	kvm_mmu_free_roots(vcpu->kvm, &vcpu->arch.guest_mmu, KVM_MMU_ROOTS_ALL);
}

static bool is_obsolete_root(struct kvm *kvm, hpa_t root_hpa)
{
	struct kvm_mmu_page *sp;

	if (root_hpa == INVALID_PAGE)
		return false;
	sp = root_to_sp(kvm, root_hpa);
	return !sp || is_obsolete_sp(kvm, sp);
}

static void __kvm_mmu_free_obsolete_roots(struct kvm_vcpu *vcpu, struct kvm_mmu *mmu)
{
	unsigned long roots_to_free = 0;
	int i;

	if (is_obsolete_root(vcpu->kvm, mmu->root.hpa))
		roots_to_free |= KVM_MMU_ROOT_CURRENT;
	for (i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++) {
		if (is_obsolete_root(vcpu->kvm, mmu->prev_roots[i].hpa))
			roots_to_free |= KVM_MMU_ROOT_PREVIOUS(i);
	}
	if (roots_to_free)
		kvm_mmu_free_roots(vcpu->kvm, mmu, roots_to_free);
}

/*
 * KVM_REQ_MMU_FREE_OBSOLETE_ROOTS: drop the roots, current or cached, a zap
 * made obsolete, L1's and L2's alike.
 */
void kvm_mmu_free_obsolete_roots(struct kvm_vcpu *vcpu)
{
	__kvm_mmu_free_obsolete_roots(vcpu, &vcpu->arch.root_mmu);
	__kvm_mmu_free_obsolete_roots(vcpu, &vcpu->arch.guest_mmu);
}

void kvm_mmu_reset_context(struct kvm_vcpu *vcpu)
{
	kvm_mmu_unload(vcpu);
	kvm_init_mmu(vcpu);
}

/* A root the vCPU may switch to for @pgd in @role: same role, and (shadow paging) same table. */
static bool is_root_usable(struct kvm *kvm, const struct kvm_mmu_root_info *root, gpa_t pgd,
			   union kvm_mmu_page_role role)
{
	struct kvm_mmu_page *sp;

	if (root->hpa == INVALID_PAGE)
		return false;
	if (!role.direct && pgd != root->pgd)
		return false;
	sp = root_to_sp(kvm, root->hpa);
	if (WARN_ON_ONCE(!sp))
		return false;
	/* The invalid bit is in the word: a zapped root is never taken. */
	return role.word == sp_role(sp).word;
}

/* Swap two root slots; WRITE_ONCE: observers read the current root (chk_vcpu_root()). */
static void swap_roots(struct kvm_mmu_root_info *a, struct kvm_mmu_root_info *b)
{
	struct kvm_mmu_root_info t = *a;

	a->pgd = b->pgd;
	WRITE_ONCE(a->hpa, b->hpa);
	b->pgd = t.pgd;
	WRITE_ONCE(b->hpa, t.hpa);
}

/*
 * The current root is valid: rotate the cache through it (C 0 1 2 becomes
 * i C 0 .. after a hit at i) until a usable root is current; on a miss the
 * oldest, current by then, goes.
 */
static bool cached_root_find_and_keep_current(struct kvm *kvm, struct kvm_mmu *mmu,
					      gpa_t new_pgd, union kvm_mmu_page_role new_role)
{
	int i;

	if (is_root_usable(kvm, &mmu->root, new_pgd, new_role))
		return true;
	for (i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++) {
		swap_roots(&mmu->root, &mmu->prev_roots[i]);
		if (is_root_usable(kvm, &mmu->root, new_pgd, new_role))
			return true;
	}
	kvm_mmu_free_roots(kvm, mmu, KVM_MMU_ROOT_CURRENT);
	return false;
}

/* No current root: take a usable cached one, the others moving up. */
static bool cached_root_find_without_current(struct kvm *kvm, struct kvm_mmu *mmu,
					     gpa_t new_pgd, union kvm_mmu_page_role new_role)
{
	int i;

	for (i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++) {
		if (is_root_usable(kvm, &mmu->prev_roots[i], new_pgd, new_role))
			break;
	}
	if (i == KVM_MMU_NUM_PREV_ROOTS)
		return false;
	swap_roots(&mmu->root, &mmu->prev_roots[i]);
	for (; i < KVM_MMU_NUM_PREV_ROOTS - 1; i++)
		mmu->prev_roots[i] = mmu->prev_roots[i + 1];
	mmu->prev_roots[i].pgd = 0;
	mmu->prev_roots[i].hpa = INVALID_PAGE;
	return true;
}

/*
 * Special roots (the PAE root, the dummy root) are never cached: with
 * PDPTEs to reload, a switch always drops them.
 */
static bool fast_pgd_switch(struct kvm *kvm, struct kvm_mmu *mmu, gpa_t new_pgd,
			    union kvm_mmu_page_role new_role)
{
	if (mmu->root.hpa != INVALID_PAGE && !root_to_sp(kvm, mmu->root.hpa))
		kvm_mmu_free_roots(kvm, mmu, KVM_MMU_ROOT_CURRENT);
	if (mmu->root.hpa != INVALID_PAGE)
		return cached_root_find_and_keep_current(kvm, mmu, new_pgd, new_role);
	return cached_root_find_without_current(kvm, mmu, new_pgd, new_role);
}

/*
 * A new guest CR3: switch to the root cached for it (prev_roots), the one
 * left becoming the most recent previous root; else the next entry loads
 * a root for the new table (kvm_mmu_reload()), which comes with a flush of
 * its context.  A cached root brings back what the CPU cached under it: a
 * CR3 load flushes, so its context is flushed before the next entry.  A
 * cached root a zap made obsolete meanwhile is freed by the
 * KVM_REQ_MMU_FREE_OBSOLETE_ROOTS that came with the zap.
 */
static void __kvm_mmu_new_pgd(struct kvm_vcpu *vcpu, gpa_t new_pgd, bool flush)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	union kvm_mmu_page_role new_role = mmu->root_role;
	struct kvm_mmu_page *sp;

	new_pgd &= PT64_BASE_ADDR_MASK;
	if (!fast_pgd_switch(vcpu->kvm, mmu, new_pgd, new_role)) {
		mmu->root.pgd = new_pgd;
		return;
	}
	if (flush)
		kvm_make_request(KVM_REQ_TLB_FLUSH_CURRENT, vcpu);
	/* A table in use again: its write flooding count starts over. */
	sp = root_to_sp(vcpu->kvm, mmu->root.hpa);
	if (!new_role.direct && !WARN_ON_ONCE(!sp))
		atomic_set(&sp->write_flooding_count, 0);
}

void kvm_mmu_new_pgd(struct kvm_vcpu *vcpu, gpa_t new_pgd)
{
	__kvm_mmu_new_pgd(vcpu, new_pgd, true);
}

void kvm_mmu_new_pgd_noflush(struct kvm_vcpu *vcpu, gpa_t new_pgd)
{
	__kvm_mmu_new_pgd(vcpu, new_pgd, false);
}

/* ---- nested EPT ------------------------------------------------------------------------------ */

/* The EPT pointer's fields (SDM: memory type 2:0, walk length - 1 5:3, A/D 6). */
#define VMX_EPTP_MT_MASK 7ULL
#define VMX_EPTP_MT_UC 0ULL
#define VMX_EPTP_MT_WB 6ULL
#define VMX_EPTP_PWL_SHIFT 3
#define VMX_EPTP_PWL_MASK (7ULL << VMX_EPTP_PWL_SHIFT)
#define VMX_EPTP_AD_ENABLE_BIT BIT_ULL(6)
#define VMX_EPTP_RSVD_MASK GENMASK_ULL(11, 7)

/* nested_vmx_check_eptp(): a memory type, walk length and address L0 supports. */
static bool nested_vmx_check_eptp(struct kvm_vcpu *vcpu, u64 eptp)
{
	u64 mt = eptp & VMX_EPTP_MT_MASK, pwl = (eptp & VMX_EPTP_PWL_MASK) >> VMX_EPTP_PWL_SHIFT;
	int m = vcpu->arch.maxphyaddr;

	if (mt != VMX_EPTP_MT_UC && mt != VMX_EPTP_MT_WB)
		return false;
	if (pwl != 3 && pwl != 4)
		return false;
	if (eptp & VMX_EPTP_RSVD_MASK)
		return false;
	if (m < 52 && (eptp >> m))
		return false;
	/* A/D for L2 only if L0's EPT has them. */
	if ((eptp & VMX_EPTP_AD_ENABLE_BIT) && !vcpu->kvm->arch.masks.ad_enabled)
		return false;
	return true;
}

/*
 * Nested VM entry, as far as the MMU goes (nested_ept_init_mmu_context()):
 * the vCPU's MMU becomes guest_mmu, the shadow of L1's EPT tables at
 * @eptp.  L1's root (root_mmu) stays loaded for the next VM exit.  With
 * the TDP MMU, the first shadow root makes the memslots grow rmaps and
 * write tracking (mmu_first_shadow_root_alloc(), when the root loads).
 * -EINVAL for an EPT pointer L0 cannot use (VM entry fails).
 */
int kvm_mmu_nested_enter(struct kvm_vcpu *vcpu, u64 eptp)
{
	if (WARN_ON_ONCE(!vcpu->kvm->arch.tdp_enabled) || !nested_vmx_check_eptp(vcpu, eptp))
		return -EINVAL;
	vcpu->arch.nested.eptp = eptp;
	vcpu->arch.nested.guest_mode = true;
	vcpu->arch.mmu = &vcpu->arch.guest_mmu;
	/* No execute-only EPT in kvmmu's SPTEs (present means readable): none for L1. */
	kvm_init_shadow_ept_mmu(vcpu, false,
				(int)((eptp & VMX_EPTP_PWL_MASK) >> VMX_EPTP_PWL_SHIFT) + 1,
				eptp & VMX_EPTP_AD_ENABLE_BIT, eptp & PT64_BASE_ADDR_MASK);
	return 0;
}

/* Nested VM exit: L1 runs on its own root again; L2's roots stay cached. */
void kvm_mmu_nested_exit(struct kvm_vcpu *vcpu)
{
	vcpu->arch.nested.guest_mode = false;
	vcpu->arch.mmu = &vcpu->arch.root_mmu;
}

static bool nested_ept_root_matches(const struct kvm_mmu_root_info *root, u64 eptp)
{
	return root->hpa != INVALID_PAGE &&
	       (root->pgd & PT64_BASE_ADDR_MASK) == (eptp & PT64_BASE_ADDR_MASK);
}

/*
 * INVEPT, executed by L1 (handle_invept()): single-context drops the L2
 * roots, current and cached, built from @eptp's tables; global drops
 * them all.  The shadow pages stay (they are write-protected or unsync);
 * the next nested VM entry loads the root again, which syncs the unsync
 * pages below it and flushes the root's TLB context (kvm_mmu_load()):
 * that is what makes L1's changes to its EPT entries visible to L2.
 * Returns 0, or -EINVAL for an invalid type or EPT pointer (VMfail).
 */
int kvm_mmu_invept(struct kvm_vcpu *vcpu, int type, u64 eptp)
{
	struct kvm_mmu *mmu = &vcpu->arch.guest_mmu;
	unsigned long roots_to_free = 0;
	int i;

	kvm_stat_inc(vcpu->arch.nested.invepts);
	switch (type) {
	case VMX_EPT_EXTENT_CONTEXT:
		if (!nested_vmx_check_eptp(vcpu, eptp))
			return -EINVAL;
		if (nested_ept_root_matches(&mmu->root, eptp))
			roots_to_free |= KVM_MMU_ROOT_CURRENT;
		for (i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++) {
			if (nested_ept_root_matches(&mmu->prev_roots[i], eptp))
				roots_to_free |= KVM_MMU_ROOT_PREVIOUS(i);
		}
		break;
	case VMX_EPT_EXTENT_GLOBAL:
		roots_to_free = KVM_MMU_ROOTS_ALL;
		break;
	default:
		return -EINVAL;
	}
	if (roots_to_free && !kvmmu_mutant(MUT_INVEPT_KEEPS_ROOT))
		kvm_mmu_free_roots(vcpu->kvm, mmu, roots_to_free);
	return 0;
}

/*
 * A guest TLB flush leaves previous roots with unsync pages below out of
 * date: they go (kvm_mmu_sync_prev_roots(), as KVM chooses too).
 */
void kvm_mmu_sync_prev_roots(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	unsigned long roots_to_free = 0;
	int i;

	for (i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++) {
		if (kvm_mmu_root_is_unsync(vcpu->kvm, mmu->prev_roots[i].hpa))
			roots_to_free |= KVM_MMU_ROOT_PREVIOUS(i);
	}
	if (roots_to_free)
		kvm_mmu_free_roots(vcpu->kvm, mmu, roots_to_free);
}

/*
 * INVLPG (kvm_mmu_invalidate_addr()): the SPTE for @gva in an unsync page
 * is brought up to date from the guest's entry; then the CPU's cached
 * translation of @gva goes.
 */
void kvm_mmu_invlpg(struct kvm_vcpu *vcpu, gva_t gva)
{
	kvm_stat_inc(vcpu->stat.invlpg);
	if (!kvmmu_mutant(MUT_INVLPG_SKIPS_SYNC))
		kvm_mmu_sync_gva(vcpu, gva);
	vcpu->kvm->hw->flush_tlb_gva(vcpu->hw, gva);
}

/*
 * A guest store to a write-protected guest table, done by KVM: translated
 * by KVM's walk, written to guest memory through the VMM's mapping (a
 * compare-exchange of the aligned word, so that the CPU's A/D updates of
 * the other entries in it are not lost), logged dirty, and then the shadow
 * pages of the table hear of it.  Returns 1 to re-enter (the store is done
 * and skipped, or the guest got a #PF), 0 for MMIO at vcpu->arch.mmio_gpa.
 */
int kvm_mmu_emulate_store(struct kvm_vcpu *vcpu, gva_t gva, const struct kvmmu_insn *insn)
{
	struct kvm *kvm = vcpu->kvm;
	u64 access = PFERR_WRITE_MASK | (vcpu->arch.cpl == 3 ? PFERR_USER_MASK : 0);
	unsigned int shift = 8 * (gva & 7), size = insn->size ? insn->size : 8;
	u64 mask = size == 8 ? ~0ULL : ((1ULL << (8 * size)) - 1) << shift;
	struct kvm_memory_slot *slot;
	struct x86_exception e;
	unsigned long hva;
	u64 old, new_val;
	gpa_t gpa;
	int r;

	gpa = kvm_mmu_gva_to_gpa(vcpu, gva, access, &e);
	if (gpa == UNMAPPED_GVA) {
		kvm_inject_emulated_page_fault(vcpu, &e);
		return 1;
	}
	slot = kvm_vcpu_gfn_to_memslot(vcpu, gpa_to_gfn(gpa));
	if (!slot || kvm_is_slot_invalid(slot) || (slot->flags & KVM_MEM_READONLY)) {
		vcpu->arch.mmio_gpa = gpa;
		return 0;
	}
	hva = __gfn_to_hva_memslot(slot, gpa_to_gfn(gpa)) + (gpa & (PAGE_SIZE - 1) & ~7UL);
	if (kvm->host->read_user(kvm->mm, hva, &old))
		return -EFAULT;
	do {
		new_val = (old & ~mask) | ((insn->value << shift) & mask);
		r = kvm->host->cmpxchg_user(kvm->mm, hva, 8, &old, new_val);
	} while (r == 1);
	if (r)
		return -EFAULT;
	mark_page_dirty_in_slot(kvm, slot, gpa_to_gfn(gpa));
	kvm_mmu_track_write(vcpu, gpa, insn->value, (int)size);
	kvm->hw->skip_instruction(vcpu->hw);
	return 1;
}

/*
 * Zap the shadow pages of the gfn a store to @gva writes (the guest's walk
 * with write access, as KVM does), so that the CPU may redo the store; true
 * if any went, and then the instruction and address are remembered.
 */
static bool kvm_mmu_unprotect_gfn_and_retry(struct kvm_vcpu *vcpu, gva_t gva)
{
	u64 access = PFERR_WRITE_MASK | (vcpu->arch.cpl == 3 ? PFERR_USER_MASK : 0);
	struct x86_exception e;
	gpa_t gpa;

	gpa = kvm_mmu_gva_to_gpa(vcpu, gva, access, &e);
	if (gpa == UNMAPPED_GVA || !kvm_mmu_unprotect_gfn(vcpu->kvm, gpa_to_gfn(gpa)))
		return false;
	vcpu->arch.last_retry_eip = vcpu->arch.rip;
	vcpu->arch.last_retry_addr = gva;
	return true;
}

/*
 * A store hit a gfn the shadow MMU write-protects (a guest table): KVM
 * emulates it, unless the instruction is one that does not write page
 * tables (a string store).  Then the guest most likely stopped using the
 * gfn as a table, and unprotecting it (zapping its shadow pages) lets the
 * CPU redo the store itself.  The same instruction faulting on the same
 * address right after an unprotect is emulated: the unprotect did not help
 * (the table is one of the instruction's own walk, shadowed again as the
 * CPU walked), and unprotecting again would loop for ever.
 */
static int kvm_mmu_write_protect_fault(struct kvm_vcpu *vcpu, gva_t gva,
				       const struct kvmmu_insn *insn)
{
	struct kvm_vcpu_arch *a = &vcpu->arch;
	bool allow_retry = true;

	if (a->last_retry_eip == a->rip && a->last_retry_addr == gva &&
	    !kvmmu_mutant(MUT_NO_UNPROTECT_GUARD))
		allow_retry = false;
	a->last_retry_eip = 0;
	a->last_retry_addr = 0;
	if (allow_retry && insn->op == KVMMU_INSN_STOS &&
	    kvm_mmu_unprotect_gfn_and_retry(vcpu, gva)) {
		kvmmu_observe(KVMMU_EV_WP_FAULT, fault, .vcpu = vcpu->vcpu_id, .gpa = gva,
			      .rip = a->rip, .unprotected = true);
		return 1;
	}
	kvmmu_observe(KVMMU_EV_WP_FAULT, fault, .vcpu = vcpu->vcpu_id, .gpa = gva, .rip = a->rip);
	kvm_stat_inc(vcpu->stat.pf_emulate);
	return kvm_mmu_emulate_store(vcpu, gva, insn);
}

/* ---- huge pages ------------------------------------------------------------------------------ */

static struct kvm_lpage_info *lpage_info_slot(gfn_t gfn, const struct kvm_memory_slot *slot,
					      int level)
{
	unsigned int shift = (level - 1) * SPTE_LEVEL_BITS;
	unsigned long idx = (gfn >> shift) - (slot->base_gfn >> shift);

	return &slot->arch.lpage_info[level - 2][idx];
}

int kvm_mmu_max_mapping_level(struct kvm *kvm, const struct kvm_memory_slot *slot,
			      gfn_t gfn, int max_level)
{
	int host_level;

	max_level = min(max_level, KVM_MAX_HUGEPAGE_LEVEL);
	if (kvm_memslot_meta_freed(slot, gfn, KVMMU_SLOT_META_LPAGE_INFO, false))
		return PG_LEVEL_4K;
	for (; max_level > PG_LEVEL_4K; max_level--) {
		if (!READ_ONCE(lpage_info_slot(gfn, slot, max_level)->disallow_lpage))
			break;
	}
	if (max_level == PG_LEVEL_4K)
		return PG_LEVEL_4K;
	/*
	 * A lockless walk of the host tables: only trustworthy because the
	 * result is used under mmu_lock after the mmu_seq check.
	 */
	host_level = kvm->host->host_mapping_level(kvm->mm, __gfn_to_hva_memslot(slot, gfn));
	return min(host_level, max_level);
}

void kvm_mmu_hugepage_adjust(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm_memory_slot *slot = fault->slot;
	kvm_pfn_t mask;

	fault->huge_page_disallowed = fault->exec && fault->nx_huge_page_workaround_enabled;
	if (unlikely(fault->max_level == PG_LEVEL_4K))
		return;
	if (is_error_noslot_pfn(fault->pfn))
		return;
	/* Dirty logging works at 4K. */
	if (kvm_slot_dirty_track_enabled(slot))
		return;

	/* The level the host allows, before the NX mitigation has its say. */
	fault->req_level = (u8)kvm_mmu_max_mapping_level(vcpu->kvm, slot, fault->gfn,
							 fault->max_level);
	if (fault->req_level == PG_LEVEL_4K || fault->huge_page_disallowed)
		return;

	mask = KVM_PAGES_PER_HPAGE(fault->req_level) - 1;
	/* The host maps the huge page gfn-congruent, or lpage_info said no. */
	if (WARN_ON_ONCE((fault->gfn & mask) != (fault->pfn & mask)))
		return;
	fault->goal_level = fault->req_level;
	fault->pfn &= ~mask;
}

/*
 * At the goal level a table is in place that the NX mitigation split:
 * map one level down instead, with the next 9 gfn bits back in the pfn.
 */
void disallowed_hugepage_adjust(struct kvm *kvm, struct kvm_page_fault *fault, u64 spte,
				int cur_level)
{
	if (cur_level > PG_LEVEL_4K && cur_level == fault->goal_level &&
	    is_shadow_present_pte(spte) && !is_large_pte(spte)) {
		struct kvm_mmu_page *child = spte_to_child_sp(kvm, spte);

		if (child && READ_ONCE(child->nx_huge_page_disallowed)) {
			u64 page_mask = KVM_PAGES_PER_HPAGE(cur_level) -
					KVM_PAGES_PER_HPAGE(cur_level - 1);

			fault->pfn |= fault->gfn & page_mask;
			fault->goal_level--;
		}
	}
}

void track_possible_nx_huge_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	lockdep_assert_held(&kvm->arch.tdp_mmu_pages_lock);
	/* Already listed if an existing table is being reused. */
	if (!list_empty(&sp->possible_nx_huge_page_link))
		return;
	kvm_stat_inc(kvm->stat.nx_lpage_splits);
	kvm->arch.nr_possible_nx_huge_pages++;
	list_add_tail(&sp->possible_nx_huge_page_link, &kvm->arch.possible_nx_huge_pages);
}

void untrack_possible_nx_huge_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	lockdep_assert_held(&kvm->arch.tdp_mmu_pages_lock);
	if (list_empty(&sp->possible_nx_huge_page_link))
		return;
	kvm_stat_add(kvm->stat.nx_lpage_splits, -1);
	kvm->arch.nr_possible_nx_huge_pages--;
	list_del_init(&sp->possible_nx_huge_page_link);
}

/* NX recovery for shadow pages: prepare under the write lock, commit before yielding. */
static int kvm_shadow_recover_nx_huge_pages(struct kvm *kvm, unsigned int ratio)
{
	unsigned long to_zap;
	LIST_HEAD(invalid_list);
	int zapped = 0, idx;

	idx = srcu_read_lock(&kvm->srcu);
	write_lock(&kvm->mmu_lock);
	to_zap = DIV_ROUND_UP(kvm->arch.nr_possible_nx_huge_pages, ratio);
	for (; to_zap; --to_zap) {
		struct kvm_memory_slot *slot;
		struct kvm_mmu_page *sp;

		sp = list_first_entry_or_null(&kvm->arch.possible_nx_huge_pages,
					      struct kvm_mmu_page, possible_nx_huge_page_link);
		if (!sp)
			break;
		WARN_ON_ONCE(!sp->nx_huge_page_disallowed);
		slot = __gfn_to_memslot(__kvm_memslots(kvm, kvm_mmu_page_as_id(sp)), sp->gfn);
		if (slot && kvm_slot_dirty_track_enabled(slot)) {
			/* A logged slot would only map it back at 4K: stop tracking it. */
			spin_lock(&kvm->arch.tdp_mmu_pages_lock);
			WRITE_ONCE(sp->nx_huge_page_disallowed, false);
			untrack_possible_nx_huge_page(kvm, sp);
			spin_unlock(&kvm->arch.tdp_mmu_pages_lock);
			continue;
		}
		/* The zap untracks it. */
		kvm_mmu_prepare_zap_page(kvm, sp, &invalid_list);
		zapped++;
		if (need_resched() || rwlock_needbreak(&kvm->mmu_lock)) {
			kvm_mmu_commit_zap_page(kvm, &invalid_list);
			cond_resched_rwlock_write(&kvm->mmu_lock);
		}
	}
	kvm_mmu_commit_zap_page(kvm, &invalid_list);
	write_unlock(&kvm->mmu_lock);
	srcu_read_unlock(&kvm->srcu, idx);
	return zapped;
}

int kvm_recover_nx_huge_pages(struct kvm *kvm, unsigned int ratio)
{
	unsigned long to_zap;
	int zapped = 0, idx;

	if (!ratio)
		return 0;
	if (!tdp_mmu_enabled(kvm))
		return kvm_shadow_recover_nx_huge_pages(kvm, ratio);
	idx = srcu_read_lock(&kvm->srcu);
	read_lock(&kvm->mmu_lock);
	/* Zapped tables are freed by RCU callbacks: hold RCU across the flushes. */
	rcu_read_lock();

	spin_lock(&kvm->arch.tdp_mmu_pages_lock);
	to_zap = DIV_ROUND_UP(kvm->arch.nr_possible_nx_huge_pages, ratio);
	spin_unlock(&kvm->arch.tdp_mmu_pages_lock);

	for (; to_zap; --to_zap) {
		struct kvm_memory_slot *slot;
		struct kvm_mmu_page *sp;

		spin_lock(&kvm->arch.tdp_mmu_pages_lock);
		sp = list_first_entry_or_null(&kvm->arch.possible_nx_huge_pages,
					      struct kvm_mmu_page, possible_nx_huge_page_link);
		if (!sp) {
			spin_unlock(&kvm->arch.tdp_mmu_pages_lock);
			break;
		}
		WARN_ON_ONCE(!READ_ONCE(sp->nx_huge_page_disallowed));
		WRITE_ONCE(sp->nx_huge_page_disallowed, false);
		untrack_possible_nx_huge_page(kvm, sp);
		spin_unlock(&kvm->arch.tdp_mmu_pages_lock);

		/* A logged slot would only map it back at 4K. */
		slot = __gfn_to_memslot(__kvm_memslots(kvm, kvm_mmu_page_as_id(sp)), sp->gfn);
		if (slot && kvm_slot_dirty_track_enabled(slot))
			continue;
		if (kvm_tdp_mmu_zap_possible_nx_huge_page(kvm, sp))
			zapped++;

		if (need_resched() || rwlock_needbreak(&kvm->mmu_lock)) {
			rcu_read_unlock();
			cond_resched_rwlock_read(&kvm->mmu_lock);
			rcu_read_lock();
		}
	}
	rcu_read_unlock();
	read_unlock(&kvm->mmu_lock);
	srcu_read_unlock(&kvm->srcu, idx);
	return zapped;
}

int kvmmu_vm_recover_nx_huge_pages(struct kvm *kvm, unsigned int ratio)
{
	if (!kvm)
		return -EBADF;
	return kvm_recover_nx_huge_pages(kvm, ratio);
}

/* ---- the page-fault path ------------------------------------------------------------------------ */

static bool page_fault_can_be_fast(struct kvm *kvm, struct kvm_page_fault *fault)
{
	/* A reserved-bit fault is MMIO: nothing to fix. */
	if (fault->rsvd)
		return false;
	/*
	 * Fast if the SPTE may be access-tracked (non-present fault, A/D
	 * off), or present and only missing W for a write (dirty logging,
	 * access tracking).
	 */
	if (!fault->present)
		return !kvm->arch.masks.ad_enabled;
	return fault->write;
}

static bool fast_pf_fix_direct_spte(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault,
				    tdp_ptep_t sptep, u64 old_spte, u64 new_spte, int level)
{
	struct kvm *kvm = vcpu->kvm;

	if (!kvm_tdp_mmu_cmpxchg_spte(sptep, &old_spte, new_spte))
		return false;
	kvmmu_observe(KVMMU_EV_SPTE_CHANGE, spte, .kvm = kvm, .sptep = (const void *)sptep,
		      .old_spte = old_spte, .new_spte = new_spte,
		      .gfn = fault->gfn & ~(KVM_PAGES_PER_HPAGE(level) - 1),
		      .level = (u8)level, .as_id = 0, .shared = true);
	/*
	 * W came back: the page may be written from now on.  The memslot is
	 * marked (safe without mmu_lock); the folio was dirtied when the SPTE
	 * was created.  The mutant forgets, and the write goes unlogged.
	 */
	if (is_writable_pte(new_spte) && !is_writable_pte(old_spte) &&
	    !kvmmu_mutant(MUT_FAST_PF_NO_DIRTY_LOG))
		mark_page_dirty_in_slot(kvm, fault->slot, fault->gfn);
	return true;
}

/*
 * Fix a fault without mmu_lock when only W (dirty logging) or access
 * tracking stands in the way: cmpxchg the SPTE in place.
 */
static int fast_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm *kvm = vcpu->kvm;
	const struct kvm_mmu_masks *m = &kvm->arch.masks;
	int ret = RET_PF_INVALID, retry_count = 0;
	tdp_ptep_t sptep;
	u64 spte = 0;

	if (!page_fault_can_be_fast(kvm, fault))
		return ret;

	/*
	 * TDP MMU: RCU keeps every table on the walk allocated.  Shadow MMU:
	 * the walk holds off the flush that comes before a free.
	 */
	if (is_tdp_mmu_active(vcpu))
		rcu_read_lock();
	else
		walk_shadow_page_lockless_begin(vcpu);
	for (;;) {
		u64 new_spte;
		int level;

		if (is_tdp_mmu_active(vcpu))
			sptep = kvm_tdp_mmu_fast_pf_get_last_sptep(vcpu, fault->gfn, &spte, &level);
		else
			sptep = shadow_fast_pf_get_last_sptep(vcpu, fault->addr, &spte, &level);
		/* The vCPU's reference keeps its root; the rest may be gone. */
		if (WARN_ON_ONCE(!sptep))
			spte = FROZEN_SPTE;
		if (!is_shadow_present_pte(spte))
			break;
		if (!is_last_spte(spte, level))
			break;

		/*
		 * Allowed already: a stale TLB entry, or another vCPU fixed
		 * it.  Upper levels always allow everything.
		 */
		if (is_access_allowed(fault, m, spte)) {
			ret = RET_PF_SPURIOUS;
			break;
		}

		new_spte = spte;
		/* With A/D on, only A/D-disabled SPTEs are access-tracked. */
		if (unlikely(is_access_track_spte(m, spte)))
			new_spte = restore_acc_track_spte(m, new_spte) | m->accessed_mask;

		/* Only MMU-writable SPTEs get W back here. */
		if (fault->write && is_mmu_writable_spte(m, spte)) {
			new_spte |= PT_WRITABLE_MASK;
			/*
			 * Not for a huge page in a logged slot: only one 4K
			 * gfn would be logged.  The slow path maps 4K.
			 */
			if (level > PG_LEVEL_4K && kvm_slot_dirty_track_enabled(fault->slot))
				break;
		}

		if (new_spte == spte || !is_access_allowed(fault, m, new_spte))
			break;

		if (fast_pf_fix_direct_spte(vcpu, fault, sptep, spte, new_spte, level)) {
			ret = RET_PF_FIXED;
			break;
		}
		if (++retry_count > 4) {
			pr_warn_once("fast page fault retried more than 4 times");
			break;
		}
	}
	if (is_tdp_mmu_active(vcpu))
		rcu_read_unlock();
	else
		walk_shadow_page_lockless_end(vcpu);

	if (ret != RET_PF_INVALID)
		kvm_stat_inc(vcpu->stat.pf_fast);
	return ret;
}

static int kvm_handle_noslot_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm *kvm = vcpu->kvm;

	fault->slot = NULL;
	fault->pfn = KVM_PFN_NOSLOT;
	fault->map_writable = false;
	/* Without MMIO caching there are no MMIO SPTEs: emulate at once. */
	if (unlikely(!kvm->arch.masks.mmio_value))
		return RET_PF_EMULATE;
	/* No MMIO SPTE above host MAXPHYADDR. */
	if (unlikely(fault->gfn > kvm_mmu_max_gfn_of(kvm)))
		return RET_PF_EMULATE;
	return RET_PF_CONTINUE;
}

static int kvm_handle_error_pfn(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	if (fault->pfn == KVM_PFN_ERR_SIGPENDING) {
		atomic_store(&vcpu->sigpending, true);
		return -EINTR;
	}
	/* A write to read-only memory: emulated as MMIO. */
	if (fault->pfn == KVM_PFN_ERR_RO_FAULT)
		return RET_PF_EMULATE;
	if (fault->pfn == KVM_PFN_ERR_HWPOISON) {
		/* SIGBUS to the VMM; the vCPU stays where it is. */
		vcpu->hwpoison_pending = true;
		vcpu->hwpoison_gpa = gfn_to_gpa(fault->gfn);
		atomic_store(&vcpu->sigpending, true);
		return RET_PF_RETRY;
	}
	return -EFAULT;
}

void kvm_mmu_finish_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault, int r)
{
	kvm_release_faultin_page(vcpu->kvm, fault->refcounted_page, r == RET_PF_RETRY,
				 fault->map_writable);
	fault->refcounted_page = NULL;
}

/*
 * Look up the pfn for a fault.  The mmu_invalidate_seq snapshot comes
 * first: an invalidation that the lookup might have missed either is in
 * progress when mmu_lock is taken, or has moved the sequence.
 */
static int kvm_mmu_faultin_pfn(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm_memory_slot *slot = fault->slot;
	struct kvm *kvm = vcpu->kvm;
	unsigned int foll = fault->write ? FOLL_WRITE : 0;

	/*
	 * Acquire: the snapshot is taken before the lookup reads the host's
	 * page tables (pairs with the release in kvm_mmu_invalidate_end()).
	 */
	fault->mmu_seq = __atomic_load_n(&kvm->mmu_invalidate_seq, __ATOMIC_ACQUIRE);
	/* Mutant: the snapshot truncated to an int and sign-extended back. */
	if (kvmmu_mutant(MUT_SEQ_SNAPSHOT_INT))
		fault->mmu_seq = (u64)(s64)(int)fault->mmu_seq;

	if (unlikely(!slot))
		return kvm_handle_noslot_fault(vcpu, fault);

	/*
	 * The slot is being deleted or moved: retry until it is gone, so its
	 * old SPTEs are zapped before an MMIO SPTE can appear for the gfn.
	 * Pre-fault has no such forward progress guarantee: it gives up.
	 */
	if (kvm_is_slot_invalid(slot)) {
		fault->retry = KVMMU_RETRY_SLOT_INVALID;
		return fault->prefetch ? -EAGAIN : RET_PF_RETRY;
	}

	/* An invalidation in flight: do not contend with it for mmu_lock. */
	if (mmu_invalidate_retry_gfn_unsafe(kvm, fault->mmu_seq, fault->gfn)) {
		fault->retry = KVMMU_RETRY_INVALIDATION;
		return RET_PF_RETRY;
	}

	/* No async page faults: wait for I/O right away. */
	fault->pfn = __kvm_faultin_pfn(kvm, slot, fault->gfn, foll, &fault->map_writable,
				       &fault->refcounted_page);
	if (unlikely(is_error_pfn(fault->pfn)))
		return kvm_handle_error_pfn(vcpu, fault);
	if (WARN_ON_ONCE(is_error_noslot_pfn(fault->pfn)))
		return kvm_handle_noslot_fault(vcpu, fault);

	/* Checked again before contending for the lock. */
	if (mmu_invalidate_retry_gfn_unsafe(kvm, fault->mmu_seq, fault->gfn)) {
		fault->retry = KVMMU_RETRY_INVALIDATION;
		kvm_mmu_finish_page_fault(vcpu, fault, RET_PF_RETRY);
		return RET_PF_RETRY;
	}
	return RET_PF_CONTINUE;
}

/* Under mmu_lock: has the world moved since the lookup? */
bool is_page_fault_stale(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm_mmu_page *sp = root_to_sp(vcpu->kvm, vcpu->arch.mmu->root.hpa);

	/* A fast zap invalidated the root: the vCPU must reload first. */
	fault->retry = KVMMU_RETRY_STALE_ROOT;
	if (sp && is_obsolete_sp(vcpu->kvm, sp))
		return true;
	/*
	 * A root without a page (the PAE root) cannot say whether it is
	 * obsolete: a pending reload says so (seed 003).  The mutant forgets.
	 */
	if (!sp && kvm_test_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, vcpu) &&
	    !kvmmu_mutant(MUT_NO_RETRY_SPECIAL_ROOT))
		return true;
	/* An MMIO SPTE is guarded by the memslot generation, not by mmu_seq. */
	fault->retry = KVMMU_RETRY_INVALIDATION;
	if (fault->slot && mmu_invalidate_retry_gfn(vcpu->kvm, fault->mmu_seq, fault->gfn))
		return true;
	/* A retry past this point is a race lost to another thread. */
	fault->retry = KVMMU_RETRY_NONE;
	return false;
}

/*
 * What both MMUs do before mmu_lock: fast page fault, the caches, the pfn
 * lookup.  RET_PF_CONTINUE to go on under the lock.
 */
int kvm_mmu_fault_begin(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	int r = fast_page_fault(vcpu, fault);

	if (r != RET_PF_INVALID)
		return r;
	r = mmu_topup_memory_caches(vcpu);
	if (r)
		return r;
	return kvm_mmu_faultin_pfn(vcpu, fault);
}

/*
 * A write to a gfn that holds a table a shadow page shadows above 4K
 * (nested: one of L1's EPT tables): emulated, never mapped writable.
 */
static bool page_fault_handle_page_track(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	if (fault->rsvd || !fault->present || !fault->write)
		return false;
	return kvm_gfn_is_write_tracked(vcpu->kvm, fault->slot, fault->gfn);
}

static int kvm_tdp_mmu_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm *kvm = vcpu->kvm;
	int r;

	if (page_fault_handle_page_track(vcpu, fault))
		return RET_PF_WRITE_PROTECTED;
	r = kvm_mmu_fault_begin(vcpu, fault);
	if (r != RET_PF_CONTINUE)
		return r;

	r = RET_PF_RETRY;
	read_lock(&kvm->mmu_lock);
	if (!is_page_fault_stale(vcpu, fault))
		r = kvm_tdp_mmu_map(vcpu, fault);
	/* Under mmu_lock: a folio is dirtied only while no zap can race. */
	kvm_mmu_finish_page_fault(vcpu, fault, r);
	read_unlock(&kvm->mmu_lock);
	return r;
}

/* The shadow MMU's fault for a direct root (tdp_mmu=0): under the write lock. */
static int direct_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm *kvm = vcpu->kvm;
	int r;

	if (page_fault_handle_page_track(vcpu, fault))
		return RET_PF_WRITE_PROTECTED;
	r = kvm_mmu_fault_begin(vcpu, fault);
	if (r != RET_PF_CONTINUE)
		return r;

	r = RET_PF_RETRY;
	write_lock(&kvm->mmu_lock);
	if (is_page_fault_stale(vcpu, fault))
		goto out_unlock;
	r = make_mmu_pages_available(vcpu);
	if (r)
		goto out_unlock;
	r = direct_map(vcpu, fault);
out_unlock:
	kvm_mmu_finish_page_fault(vcpu, fault, r);
	write_unlock(&kvm->mmu_lock);
	return r;
}

/* Shadow paging of an unpaged guest: gva = gpa, through the PAE root (2M at most). */
int nonpaging_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	fault->max_level = PG_LEVEL_2M;
	vcpu->arch.mmio_gpa = fault->addr;
	return direct_page_fault(vcpu, fault);
}

static int kvm_tdp_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	if (tdp_mmu_enabled(vcpu->kvm))
		return kvm_tdp_mmu_page_fault(vcpu, fault);
	return direct_page_fault(vcpu, fault);
}

static int kvm_mmu_do_page_fault(struct kvm_vcpu *vcpu, gpa_t gpa, u64 err, bool prefetch,
				 u8 *level)
{
	struct kvm_page_fault fault = {
		.addr = gpa,
		.error_code = err,
		.exec = err & PFERR_FETCH_MASK,
		.write = err & PFERR_WRITE_MASK,
		.present = err & PFERR_PRESENT_MASK,
		.rsvd = err & PFERR_RSVD_MASK,
		.user = err & PFERR_USER_MASK,
		.prefetch = prefetch,
		.is_tdp = vcpu->arch.mmu->page_fault == kvm_tdp_page_fault,
		.nx_huge_page_workaround_enabled = is_nx_huge_page_enabled(vcpu->kvm),
		.max_level = KVM_MAX_HUGEPAGE_LEVEL,
		.req_level = PG_LEVEL_4K,
		.goal_level = PG_LEVEL_4K,
		.pfn = KVM_PFN_ERR_FAULT,
	};
	int r;

	/* A direct root maps the address itself; shadow paging walks the guest's tables. */
	if (vcpu->arch.mmu->root_role.direct) {
		fault.gfn = gpa_to_gfn(gpa);
		fault.slot = kvm_vcpu_gfn_to_memslot(vcpu, fault.gfn);
	}
	/* Pre-faults are not faults the guest took. */
	if (!prefetch)
		kvm_stat_inc(vcpu->stat.pf_taken);
	r = vcpu->arch.mmu->page_fault(vcpu, &fault);
	if (level)
		*level = fault.goal_level;
	kvmmu_observe(KVMMU_EV_FAULT_DONE, fault, .vcpu = vcpu->vcpu_id, .gpa = gpa, .result = r,
		      .retry = r == RET_PF_RETRY ? (fault.retry ?: KVMMU_RETRY_RACE) :
						   KVMMU_RETRY_NONE,
		      .mmu_seq = fault.mmu_seq,
		      .seq_now = READ_ONCE(vcpu->kvm->mmu_invalidate_seq),
		      .in_progress = READ_ONCE(vcpu->kvm->mmu_invalidate_in_progress));
	return r;
}

/* An MMIO SPTE faulted (reserved bits / EPT misconfig): emulate or refault. */
static int handle_mmio_page_fault(struct kvm_vcpu *vcpu, u64 addr)
{
	struct kvm *kvm = vcpu->kvm;
	u64 sptes[PT64_ROOT_MAX_LEVEL + 1];
	int root_level, leaf;
	u64 spte;

	if (is_tdp_mmu_active(vcpu)) {
		rcu_read_lock();
		leaf = kvm_tdp_mmu_get_walk(vcpu, addr, sptes, &root_level);
		rcu_read_unlock();
	} else {
		walk_shadow_page_lockless_begin(vcpu);
		leaf = shadow_mmu_get_walk(vcpu, addr, sptes, &root_level);
		walk_shadow_page_lockless_end(vcpu);
	}
	if (leaf < 0)
		return RET_PF_RETRY;
	spte = sptes[leaf];
	if (is_mmio_spte(&kvm->arch.masks, spte)) {
		/* A generation ago the gfn had no slot; maybe it has one now. */
		if (!check_mmio_spte(READ_ONCE(kvm_memslots(kvm)->generation), spte))
			return RET_PF_INVALID;
		/* Shadow paging: the SPTE knows the gpa the guest's walk found. */
		vcpu->arch.mmio_gpa = gfn_to_gpa(get_mmio_spte_gfn(spte)) | (addr & (PAGE_SIZE - 1));
		return RET_PF_EMULATE;
	}
	/* Zapped meanwhile: let the vCPU fault again. */
	return RET_PF_RETRY;
}

int kvm_mmu_page_fault(struct kvm_vcpu *vcpu, gpa_t gpa, u64 error_code)
{
	int r = RET_PF_INVALID;

	if (WARN_ON_ONCE(vcpu->arch.mmu->root.hpa == INVALID_PAGE))
		return 1;
	if (unlikely(!vcpu->arch.mmu->page_fault))
		return -EOPNOTSUPP;

	kvmmu_span_begin(KVMMU_SPAN_FAULT, gpa);
	if (unlikely(error_code & PFERR_RSVD_MASK))
		r = handle_mmio_page_fault(vcpu, gpa);
	if (r == RET_PF_INVALID) {
		r = kvm_mmu_do_page_fault(vcpu, gpa, error_code, false, NULL);
		if (KVM_BUG_ON(r == RET_PF_INVALID, vcpu->kvm))
			r = -EIO;
	}
	kvmmu_span_end(KVMMU_SPAN_FAULT, gpa);
	if (r < 0)
		return r;

	/*
	 * A write to a guest table the shadow MMU shadows: KVM does the store
	 * itself (x86_emulate_instruction()), or unprotects the gfn and lets
	 * the CPU redo it.  With TDP the table is one of L1's EPT tables,
	 * written by L1 at a gpa: emulated there (L1 runs unpaged in kvmmu).
	 */
	if (r == RET_PF_WRITE_PROTECTED) {
		const struct kvmmu_insn *insn = &vcpu->arch.exit.insn;

		if (insn->op == KVMMU_INSN_STORE || insn->op == KVMMU_INSN_STOS)
			return kvm_mmu_write_protect_fault(vcpu, gpa, insn);
		kvm_stat_inc(vcpu->stat.pf_emulate);
		r = RET_PF_RETRY;
	}

	/*
	 * A retried fault lost a race with another thread (a frozen SPTE, an
	 * invalidation in progress): re-entering the guest busy-waits on it.
	 */
	if (r == RET_PF_RETRY)
		cpu_relax();

	if (r == RET_PF_FIXED)
		kvm_stat_inc(vcpu->stat.pf_fixed);
	else if (r == RET_PF_EMULATE)
		kvm_stat_inc(vcpu->stat.pf_emulate);
	else if (r == RET_PF_SPURIOUS)
		kvm_stat_inc(vcpu->stat.pf_spurious);
	WARN_ON_ONCE(r == RET_PF_CONTINUE);

	/* MMIO (or a write to read-only memory) goes to userspace. */
	return r == RET_PF_EMULATE ? 0 : 1;
}

/* ---- pre-fault ---------------------------------------------------------------------------------- */

static int kvm_tdp_map_page(struct kvm_vcpu *vcpu, gpa_t gpa, u64 error_code, u8 *level)
{
	int r;

	if (vcpu->arch.mmu->page_fault != kvm_tdp_page_fault)
		return -EOPNOTSUPP;
	do {
		if (atomic_exchange(&vcpu->sigpending, false))
			return -EINTR;
		if (kvm_check_request(KVM_REQ_VM_DEAD, vcpu))
			return -EIO;
		cond_resched();
		r = kvm_mmu_do_page_fault(vcpu, gpa, error_code, true, level);
	} while (r == RET_PF_RETRY);

	if (r < 0)
		return r;
	switch (r) {
	case RET_PF_FIXED:
	case RET_PF_SPURIOUS:
	case RET_PF_WRITE_PROTECTED:
		return 0;
	case RET_PF_EMULATE:
		return -ENOENT;
	default:
		WARN_ONCE(1, "could not fix page fault during prefault");
		return -EIO;
	}
}

long kvm_arch_vcpu_pre_fault_memory(struct kvm_vcpu *vcpu, struct kvm_pre_fault_memory *range)
{
	/* A read fault, at the final translation: no CoW break. */
	u64 error_code = PFERR_GUEST_FINAL_MASK;
	u8 level = PG_LEVEL_4K;
	u64 end;
	int r;

	if (!vcpu->kvm->arch.pre_fault_allowed)
		return -EOPNOTSUPP;
	/* Cheap when a root is loaded: done every round. */
	r = kvm_mmu_reload(vcpu);
	if (r)
		return r;
	r = kvm_tdp_map_page(vcpu, range->gpa, error_code, &level);
	if (r < 0)
		return r;
	/* A huge mapping may reach past the range (and start below it). */
	end = (range->gpa & ~(PG_LEVEL_SIZE(level) - 1)) + PG_LEVEL_SIZE(level);
	return (long)min(range->size, end - range->gpa);
}

/* ---- zapping ------------------------------------------------------------------------------------- */

/*
 * Invalidate every root and zap them before returning (memslot delete and
 * move with the quirk, MMIO generation wrap, teardown).  The invalidation
 * and the request that makes vCPUs drop their roots share one write-lock
 * section; the zap runs under the read lock and may yield.
 */
static void kvm_mmu_zap_all_fast(struct kvm *kvm)
{
	lockdep_assert_held(&kvm->slots_lock);
	kvmmu_span_begin(KVMMU_SPAN_ZAP, 0);
	write_lock(&kvm->mmu_lock);
	/*
	 * Every shadow page becomes obsolete at once.  slots_lock is held,
	 * so only one obsolete generation exists at any time.
	 */
	WRITE_ONCE(kvm->arch.mmu_valid_gen, kvm->arch.mmu_valid_gen ? 0 : 1);
	if (tdp_mmu_enabled(kvm))
		kvm_tdp_mmu_invalidate_all_roots(kvm);
	/*
	 * vCPUs drop their obsolete roots.  Made under the write lock, after
	 * the toggle: a fault that sees the request also sees the new
	 * generation, and a root without a page (PAE) counts as obsolete.
	 */
	kvm_make_all_cpus_request(kvm, KVM_REQ_MMU_FREE_OBSOLETE_ROOTS);
	if (kvm_memslots_have_rmaps(kvm))
		kvm_zap_obsolete_pages(kvm);
	write_unlock(&kvm->mmu_lock);
	/*
	 * Every SPTE must be gone before the caller goes on: once a deleted
	 * slot is gone, notifiers cannot find its gfns any more.
	 */
	if (tdp_mmu_enabled(kvm))
		kvm_tdp_mmu_zap_invalidated_roots(kvm);
	kvmmu_span_end(KVMMU_SPAN_ZAP, 0);
}

static void kvm_mmu_zap_all(struct kvm *kvm)
{
	write_lock(&kvm->mmu_lock);
	if (kvm_memslots_have_rmaps(kvm))
		kvm_shadow_mmu_zap_all(kvm);
	if (tdp_mmu_enabled(kvm))
		kvm_tdp_mmu_zap_all(kvm);
	write_unlock(&kvm->mmu_lock);
}

void kvm_arch_flush_shadow_all(struct kvm *kvm)
{
	kvm_mmu_zap_all(kvm);
}

static void kvm_mmu_zap_memslot(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	struct kvm_gfn_range range = {
		.slot = slot,
		.start = slot->base_gfn,
		.end = slot->base_gfn + slot->npages,
		.may_block = true,
	};
	bool flush;

	write_lock(&kvm->mmu_lock);
	flush = kvm_unmap_gfn_range(kvm, &range);
	if (kvm_memslots_have_rmaps(kvm))
		kvm_mmu_zap_memslot_pages_and_flush(kvm, slot, flush);
	else if (flush)
		kvm_flush_remote_tlbs_memslot(kvm, slot);
	write_unlock(&kvm->mmu_lock);
}

/* Observers look at every table once a slot's mappings are gone: under the lock. */
static void observe_slot_zapped(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	if (!kvmmu_observing(KVMMU_EV_SLOT_ZAPPED))
		return;
	write_lock(&kvm->mmu_lock);
	kvmmu_observe(KVMMU_EV_SLOT_ZAPPED, slot, .kvm = kvm, .as_id = slot->as_id,
		      .id = slot->id, .start = slot->base_gfn,
		      .end = slot->base_gfn + slot->npages);
	write_unlock(&kvm->mmu_lock);
}

/* A slot is being deleted or moved: nothing may map it when this returns. */
void kvm_arch_flush_shadow_memslot(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	if (kvm_check_has_quirk(kvm, KVM_X86_QUIRK_SLOT_ZAP_ALL))
		kvm_mmu_zap_all_fast(kvm);
	else
		kvm_mmu_zap_memslot(kvm, slot);
	observe_slot_zapped(kvm, slot);
}

bool kvm_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range)
{
	bool flush = false;

	/*
	 * Zaps race with faults unless mmu_invalidate_in_progress covers
	 * them, except memslot deletion, where SRCU does.
	 */
	WARN_ON_ONCE(!READ_ONCE(kvm->mmu_invalidate_in_progress) &&
		     !lock_is_held_type(&kvm->slots_lock.dep_map, LD_HELD_ANY));
	if (kvm_memslots_have_rmaps(kvm))
		flush = kvm_rmap_unmap_gfn_range(kvm, range) &&
			!kvmmu_mutant(MUT_RMAP_UNMAP_NO_FLUSH);
	if (tdp_mmu_enabled(kvm))
		flush = kvm_tdp_mmu_unmap_gfn_range(kvm, range, flush);
	return flush;
}

/*
 * Aging runs without mmu_lock (KVM_MMU_LOCKLESS_AGING), inside the
 * notifier's SRCU read section, as KVM does since v6.15.  The TDP MMU
 * walks its tables under RCU; the shadow MMU walks its rmaps, each chain
 * under its rmap lock taken read-only (rmap.h), which keeps the writers
 * (mmu_lock for write) from changing the chain, and with it freeing its
 * descriptors or the shadow pages of its SPTEs, during the walk.  SPTEs
 * may still be zapped meanwhile: a zapped one is skipped, and every change
 * is atomic against the value read (an atomic and for A, a cmpxchg to the
 * access-tracked form), so nothing a writer or the CPU did is overwritten.
 * Results are advisory: a young page missed or reported twice only
 * misleads reclaim a little, and no TLB is flushed (x86 elides it).
 */
bool kvm_age_gfn(struct kvm *kvm, struct kvm_gfn_range *range)
{
	bool young = false;

	lockdep_assert_not_held(&kvm->mmu_lock);
	if (tdp_mmu_enabled(kvm))
		young = kvm_tdp_mmu_age_gfn_range(kvm, range);
	if (kvm_memslots_have_rmaps(kvm))
		young |= kvm_rmap_age_gfn_range(kvm, range, false);
	return young;
}

bool kvm_test_age_gfn(struct kvm *kvm, struct kvm_gfn_range *range)
{
	bool young = false;

	lockdep_assert_not_held(&kvm->mmu_lock);
	if (tdp_mmu_enabled(kvm))
		young = kvm_tdp_mmu_test_age_gfn(kvm, range);
	if (!young && kvm_memslots_have_rmaps(kvm))
		young = kvm_rmap_age_gfn_range(kvm, range, true);
	return young;
}

void kvm_zap_gfn_range(struct kvm *kvm, gfn_t gfn_start, gfn_t gfn_end)
{
	bool flush;

	if (WARN_ON_ONCE(gfn_end <= gfn_start))
		return;
	write_lock(&kvm->mmu_lock);
	kvm_mmu_invalidate_begin(kvm);
	kvm_mmu_invalidate_range_add(kvm, gfn_start, gfn_end);
	flush = false;
	if (kvm_memslots_have_rmaps(kvm))
		flush = kvm_rmap_zap_gfn_range(kvm, gfn_start, gfn_end);
	if (tdp_mmu_enabled(kvm))
		flush = kvm_tdp_mmu_zap_leafs(kvm, gfn_start, gfn_end, flush);
	if (flush)
		kvm_flush_remote_tlbs_range(kvm, gfn_start, gfn_end - gfn_start);
	kvm_mmu_invalidate_end(kvm);
	write_unlock(&kvm->mmu_lock);
}

/*
 * MMIO SPTEs die with the memslot generation they carry; if the 19 bits
 * wrap, an old one could match again, so everything goes.
 */
void kvm_mmu_invalidate_mmio_sptes(struct kvm *kvm, u64 gen)
{
	WARN_ON_ONCE(gen & KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS);
	gen &= MMIO_SPTE_GEN_MASK;
	/* Generations step by the number of address spaces: strip that. */
	gen &= ~((u64)KVM_ADDRESS_SPACE_NUM - 1);
	/* The mutant forgets the wrap. */
	if (unlikely(gen == 0) && !kvmmu_mutant(MUT_MMIO_WRAP_NO_ZAP))
		kvm_mmu_zap_all_fast(kvm);
}

/* ---- dirty logging ------------------------------------------------------------------------------- */

void kvm_mmu_slot_remove_write_access(struct kvm *kvm, const struct kvm_memory_slot *slot,
				      int start_level)
{
	if (kvm_memslots_have_rmaps(kvm)) {
		write_lock(&kvm->mmu_lock);
		kvm_rmap_write_protect_slot(kvm, slot, start_level);
		write_unlock(&kvm->mmu_lock);
	}
	if (tdp_mmu_enabled(kvm)) {
		read_lock(&kvm->mmu_lock);
		kvm_tdp_mmu_wrprot_slot(kvm, slot, start_level);
		read_unlock(&kvm->mmu_lock);
	}
}

/* PML: clear D on the slot's leaves, so that every next write is logged. */
static void kvm_mmu_slot_leaf_clear_dirty(struct kvm *kvm, const struct kvm_memory_slot *slot)
{
	if (kvm_memslots_have_rmaps(kvm)) {
		write_lock(&kvm->mmu_lock);
		kvm_rmap_clear_dirty_slot(kvm, slot);
		write_unlock(&kvm->mmu_lock);
	}
	if (tdp_mmu_enabled(kvm)) {
		read_lock(&kvm->mmu_lock);
		kvm_tdp_mmu_clear_dirty_slot(kvm, slot);
		read_unlock(&kvm->mmu_lock);
	}
}

void kvm_mmu_slot_try_split_huge_pages(struct kvm *kvm, const struct kvm_memory_slot *slot,
				       int target_level)
{
	/*
	 * The shadow MMU does not split eagerly yet: its huge pages are
	 * write-protected instead, and split by the write faults.
	 */
	if (!tdp_mmu_enabled(kvm))
		return;
	read_lock(&kvm->mmu_lock);
	kvm_tdp_mmu_try_split_huge_pages(kvm, slot, slot->base_gfn,
					 slot->base_gfn + slot->npages, target_level, true);
	read_unlock(&kvm->mmu_lock);
}

void kvm_mmu_recover_huge_pages(struct kvm *kvm, const struct kvm_memory_slot *slot)
{
	/* The shadow MMU zaps the collapsible leaves; faults map huge again. */
	if (kvm_memslots_have_rmaps(kvm)) {
		write_lock(&kvm->mmu_lock);
		if (kvm_rmap_zap_collapsible_sptes(kvm, slot))
			kvm_flush_remote_tlbs_memslot(kvm, slot);
		write_unlock(&kvm->mmu_lock);
	}
	if (!tdp_mmu_enabled(kvm))
		return;
	read_lock(&kvm->mmu_lock);
	kvm_tdp_mmu_recover_huge_pages(kvm, slot);
	read_unlock(&kvm->mmu_lock);
}

/*
 * Re-protect the pages of @mask (bit i: slot page gfn_offset + i) after a
 * harvest, under the write lock.  The caller flushes before returning to
 * userspace.
 */
void kvm_arch_mmu_enable_log_dirty_pt_masked(struct kvm *kvm, struct kvm_memory_slot *slot,
					     gfn_t gfn_offset, unsigned long mask)
{
	lockdep_assert_held_write(&kvm->mmu_lock);

	/*
	 * With INITIALLY_SET nothing was protected when logging began: huge
	 * pages may still map these gfns.  Split them (eagerly) or at least
	 * write-protect them with MMU-writable cleared, so that the first
	 * write takes the slow path and maps 4K.
	 */
	if (kvm_dirty_log_manual_protect_and_init_set(kvm)) {
		gfn_t start = slot->base_gfn + gfn_offset + __ffs64(mask);
		gfn_t end = slot->base_gfn + gfn_offset + (u64)(fls64(mask) - 1);

		if (kvm_memslots_have_rmaps(kvm)) {
			kvm_rmap_write_protect_gfn(kvm, slot, start, PG_LEVEL_2M);
			if (ALIGN(start << PAGE_SHIFT, PG_LEVEL_SIZE(PG_LEVEL_2M)) !=
			    ALIGN(end << PAGE_SHIFT, PG_LEVEL_SIZE(PG_LEVEL_2M)))
				kvm_rmap_write_protect_gfn(kvm, slot, end, PG_LEVEL_2M);
		}
		if (!tdp_mmu_enabled(kvm))
			goto protect;
		if (kvm->arch.eager_page_split)
			kvm_tdp_mmu_try_split_huge_pages(kvm, slot, start, end + 1,
							 PG_LEVEL_4K, false);
		kvm_tdp_mmu_write_protect_gfn(kvm, slot, start, PG_LEVEL_2M);
		/* The mask may straddle two huge pages. */
		if (ALIGN(start << PAGE_SHIFT, PG_LEVEL_SIZE(PG_LEVEL_2M)) !=
		    ALIGN(end << PAGE_SHIFT, PG_LEVEL_SIZE(PG_LEVEL_2M)))
			kvm_tdp_mmu_write_protect_gfn(kvm, slot, end, PG_LEVEL_2M);
	}
protect:
	/* With PML, protection means D (the next write is logged), else W. */
	if (kvm_memslots_have_rmaps(kvm))
		kvm_rmap_clear_dirty_pt_masked(kvm, slot, gfn_offset, mask,
					       !kvm->arch.cpu_dirty_log_size);
	if (tdp_mmu_enabled(kvm))
		kvm_tdp_mmu_clear_dirty_pt_masked(kvm, slot, slot->base_gfn + gfn_offset, mask,
						  !kvm->arch.cpu_dirty_log_size);
}

void kvm_mmu_slot_apply_flags(struct kvm *kvm, struct kvm_memory_slot *old,
			      const struct kvm_memory_slot *new, enum kvm_mr_change change)
{
	u32 old_flags = old ? old->flags : 0;
	u32 new_flags = new ? new->flags : 0;
	bool log_dirty_pages = new_flags & KVM_MEM_LOG_DIRTY_PAGES;

	/* PML follows logging for every kind of change, deletion included. */
	if ((old_flags ^ new_flags) & KVM_MEM_LOG_DIRTY_PAGES)
		kvm_mmu_update_cpu_dirty_logging(kvm, log_dirty_pages);

	/* Only a flags change of a writable slot has work to do. */
	if (change != KVM_MR_FLAGS_ONLY || (new_flags & KVM_MEM_READONLY))
		return;
	if (WARN_ON_ONCE(!((old_flags ^ new_flags) & KVM_MEM_LOG_DIRTY_PAGES)))
		return;

	if (!log_dirty_pages) {
		/* Logging is off: 4K is no longer needed. */
		kvm_mmu_recover_huge_pages(kvm, new);
		return;
	}
	/* Everything counts as dirty already: protect lazily, on CLEAR. */
	if (kvm_dirty_log_manual_protect_and_init_set(kvm))
		return;
	if (kvm->arch.eager_page_split)
		kvm_mmu_slot_try_split_huge_pages(kvm, new, PG_LEVEL_4K);
	if (kvm->arch.cpu_dirty_log_size) {
		/*
		 * PML logs 4K writes that set D: clear D on 4K leaves, and
		 * write-protect huge ones so that writes fault and map 4K.
		 */
		kvm_mmu_slot_leaf_clear_dirty(kvm, new);
		kvm_mmu_slot_remove_write_access(kvm, new, PG_LEVEL_2M);
	} else {
		kvm_mmu_slot_remove_write_access(kvm, new, PG_LEVEL_4K);
	}
	/*
	 * Flush before userspace hears back: a stale writable TLB entry
	 * would let writes go unlogged.
	 */
	kvm_flush_remote_tlbs_memslot(kvm, new);
}

/* ---- memslot metadata ------------------------------------------------------------------------------ */

int kvm_mmu_alloc_memslot_metadata(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	unsigned long npages = slot->npages;
	unsigned long ugfn = slot->userspace_addr >> PAGE_SHIFT;
	int i;

	memset(&slot->arch, 0, sizeof(slot->arch));
	if (kvm_memslots_have_rmaps(kvm) && memslot_rmap_alloc(slot, npages))
		goto out_free;
	if (kvm_page_track_write_tracking_enabled(kvm) &&
	    kvm_page_track_write_tracking_alloc(slot))
		goto out_free;
	for (i = 1; i < KVM_NR_PAGE_SIZES; i++) {
		int level = i + 1;
		unsigned int shift = (level - 1) * SPTE_LEVEL_BITS;
		unsigned long lpages = ((slot->base_gfn + npages - 1) >> shift) -
				       (slot->base_gfn >> shift) + 1;
		struct kvm_lpage_info *linfo = calloc(lpages, sizeof(*linfo));
		unsigned long j;

		if (!linfo)
			goto out_free;
		slot->arch.lpage_info[i - 1] = linfo;
		/* Huge pages that stick out of the slot are not allowed. */
		if (slot->base_gfn & (KVM_PAGES_PER_HPAGE(level) - 1))
			linfo[0].disallow_lpage = 1;
		if ((slot->base_gfn + npages) & (KVM_PAGES_PER_HPAGE(level) - 1))
			linfo[lpages - 1].disallow_lpage = 1;
		/* Nor any if gfn and hva are not congruent at this size. */
		if ((slot->base_gfn ^ ugfn) & (KVM_PAGES_PER_HPAGE(level) - 1)) {
			for (j = 0; j < lpages; j++)
				linfo[j].disallow_lpage = 1;
		}
	}
	return 0;

out_free:
	memslot_rmap_free(kvm, slot);
	kvm_page_track_free_memslot(slot);
	for (i = 0; i < KVM_NR_PAGE_SIZES - 1; i++) {
		free(slot->arch.lpage_info[i]);
		slot->arch.lpage_info[i] = NULL;
	}
	return -ENOMEM;
}

static unsigned long memslot_lpages(const struct kvm_memory_slot *slot, int level)
{
	unsigned int shift = (level - 1) * SPTE_LEVEL_BITS;

	return ((slot->base_gfn + slot->npages - 1) >> shift) - (slot->base_gfn >> shift) + 1;
}

u64 kvm_mmu_memslot_metadata_bytes(const struct kvm_memory_slot *slot)
{
	u64 bytes = 0;
	int i;

	for (i = 0; i < KVM_NR_PAGE_SIZES; i++) {
		if (slot->arch.rmap[i])
			bytes += memslot_lpages(slot, i + PG_LEVEL_4K) * sizeof(*slot->arch.rmap[i]);
		if (i && slot->arch.lpage_info[i - 1])
			bytes += memslot_lpages(slot, i + PG_LEVEL_4K) *
				 sizeof(*slot->arch.lpage_info[i - 1]);
	}
	if (slot->arch.gfn_write_track)
		bytes += slot->npages * sizeof(*slot->arch.gfn_write_track);
	return bytes;
}

void kvm_mmu_poison_memslot_metadata(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	int i;

	memslot_rmap_poison(kvm, slot);
	if (slot->arch.gfn_write_track)
		memset(slot->arch.gfn_write_track, KVM_MEMSLOT_POISON,
		       slot->npages * sizeof(*slot->arch.gfn_write_track));
	for (i = 1; i < KVM_NR_PAGE_SIZES; i++) {
		if (slot->arch.lpage_info[i - 1])
			memset(slot->arch.lpage_info[i - 1], KVM_MEMSLOT_POISON,
			       memslot_lpages(slot, i + PG_LEVEL_4K) *
				       sizeof(*slot->arch.lpage_info[i - 1]));
	}
}

void kvm_mmu_free_memslot_metadata(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	int i;

	memslot_rmap_free(kvm, slot);
	kvm_page_track_free_memslot(slot);
	for (i = 0; i < KVM_NR_PAGE_SIZES - 1; i++) {
		free(slot->arch.lpage_info[i]);
		slot->arch.lpage_info[i] = NULL;
	}
}
