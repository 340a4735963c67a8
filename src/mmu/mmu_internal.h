/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the MMU's files share and nobody else needs: struct kvm_mmu_page,
 * struct kvm_page_fault, the RET_PF_* codes, and the helpers that get from
 * an SPTE or a table back to its struct kvm_mmu_page.
 *
 * Page tables are real 4 KiB host frames.  Their contents are reached
 * through the host's direct map (kvm->arch.direct_map, as the kernel's
 * __va()), and each frame's struct page records its struct kvm_mmu_page
 * (the kernel's page_private()), so an SPTE pointer or a pfn leads back to
 * its page.
 */
#ifndef KVMMU_MMU_MMU_INTERNAL_H
#define KVMMU_MMU_MMU_INTERNAL_H

#include "kvm_host.h"
#include "rmap.h"
#include "spte.h"

/**
 * struct kvm_mmu_page - one page table, and the root of a tree if a root
 * @link:             TDP MMU roots: kvm->arch.tdp_mmu_roots; shadow pages:
 *                    kvm->arch.active_mmu_pages (or a zap's invalid list)
 * @possible_nx_huge_page_link: the NX recovery list, when tracked
 * @role:             what the table maps and how; read with sp_role()
 *                    once published, since a root's invalid bit changes
 * @tdp_mmu_page:     a TDP MMU table (else the shadow MMU's)
 * @nx_huge_page_disallowed: created under an exec fault that the NX
 *                    mitigation kept from being huge
 * @tdp_mmu_scheduled_root_to_zap: invalidated by a fast zap that owes its
 *                    zap (and the MMU's reference); slots_lock protects it
 * @tdp_mmu_root_count: references on a TDP root (refcount semantics)
 * @root_count:       vCPUs using a shadow page as a root (mmu_lock)
 * @gfn:              the first gfn the table maps (direct), or the gfn of
 *                    the guest table it shadows
 * @pfn:              the table's frame
 * @spt:              its 512 entries
 * @ptep:             TDP MMU: the parent's entry that points here; NULL
 *                    for a root
 * @kvm:              the VM (the RCU callback frees the frame through it)
 * @rcu_head:         frees the page after a grace period
 *
 * The shadow MMU's own fields (mmu_lock for write):
 * @hash_link:        kvm->arch.mmu_page_hash[hash(gfn)]
 * @root_link:        kvm->arch.shadow_root_pages, for observers (RCU)
 * @parent_ptes:      the SPTEs that point at this table (an rmap list)
 * @shadowed_translation: per entry, (gfn << PAGE_SHIFT) | access, for
 *                    indirect pages; direct pages compute both
 * @mmu_valid_gen:    kvm->arch.mmu_valid_gen when made; another value
 *                    means obsolete
 * @unsync:           a 4K guest table the guest may write unseen
 * @unsync_children:  how many entries lead to unsync pages
 * @write_flooding_count: emulated writes since the page was last used
 */
struct kvm_mmu_page {
	struct list_head link;
	struct list_head possible_nx_huge_page_link;
	union kvm_mmu_page_role role;
	bool tdp_mmu_page;
	bool nx_huge_page_disallowed;
	bool tdp_mmu_scheduled_root_to_zap;
	u8 mmu_valid_gen;
	bool unsync;
	union {
		atomic_t tdp_mmu_root_count;
		int root_count;
	};
	gfn_t gfn;
	kvm_pfn_t pfn;
	_Atomic u64 *spt;
	tdp_ptep_t ptep;
	struct kvm *kvm;
	struct rcu_head rcu_head;

	struct hlist_node hash_link;
	struct list_head root_link;
	struct kvm_rmap_head parent_ptes;
	u64 *shadowed_translation;
	unsigned int unsync_children;
	atomic_t write_flooding_count;
};

/* The metadata budget: a header per 512 SPTEs stays small. */
static_assert(sizeof(struct kvm_mmu_page) <= 160, "struct kvm_mmu_page grew");

/* The role of a published page: a root's invalid bit may change under us. */
static inline union kvm_mmu_page_role sp_role(const struct kvm_mmu_page *sp)
{
	union kvm_mmu_page_role role;

	role.word = __atomic_load_n(&sp->role.word, __ATOMIC_RELAXED);
	return role;
}

static inline int sp_level(const struct kvm_mmu_page *sp)
{
	return sp_role(sp).level;
}

static inline bool sp_invalid(const struct kvm_mmu_page *sp)
{
	return sp_role(sp).invalid;
}

static inline int kvm_mmu_role_as_id(union kvm_mmu_page_role role)
{
	return role.smm ? 1 : 0;
}

static inline int kvm_mmu_page_as_id(const struct kvm_mmu_page *sp)
{
	return kvm_mmu_role_as_id(sp_role(sp));
}

static inline bool is_tdp_mmu_page(const struct kvm_mmu_page *sp)
{
	return sp->tdp_mmu_page;
}

/* ---- from tables to pages ------------------------------------------------------- */

static inline _Atomic u64 *kvm_table_virt(struct kvm *kvm, kvm_pfn_t pfn)
{
	return (_Atomic u64 *)(void *)(kvm->arch.direct_map + (pfn << PAGE_SHIFT));
}

static inline kvm_pfn_t kvm_table_pfn(struct kvm *kvm, const void *p)
{
	return (kvm_pfn_t)(((const u8 *)p - kvm->arch.direct_map) >> PAGE_SHIFT);
}

static inline struct kvm_mmu_page *kvm_pfn_to_sp(struct kvm *kvm, kvm_pfn_t pfn)
{
	return kvm->host->table_owner(kvm->mm, pfn);
}

/* The page an SPTE pointer lies in. */
static inline struct kvm_mmu_page *sptep_to_sp(struct kvm *kvm, const void *sptep)
{
	return kvm_pfn_to_sp(kvm, kvm_table_pfn(kvm, sptep));
}

/* The child page a non-leaf SPTE points to. */
static inline struct kvm_mmu_page *spte_to_child_sp(struct kvm *kvm, u64 spte)
{
	return kvm_pfn_to_sp(kvm, spte_to_pfn(spte));
}

static inline hpa_t kvm_mmu_get_dummy_root(struct kvm *kvm)
{
	return kvm->arch.dummy_root_pfn << PAGE_SHIFT;
}

static inline bool kvm_mmu_is_dummy_root(struct kvm *kvm, hpa_t root)
{
	return kvm->arch.dummy_root_pfn && root == kvm_mmu_get_dummy_root(kvm);
}

/* The root page behind a root hpa, or NULL (special roots have none). */
static inline struct kvm_mmu_page *root_to_sp(struct kvm *kvm, hpa_t root)
{
	if (root == INVALID_PAGE || kvm_mmu_is_dummy_root(kvm, root))
		return NULL;
	return kvm_pfn_to_sp(kvm, root >> PAGE_SHIFT);
}

static inline bool is_obsolete_sp(struct kvm *kvm, const struct kvm_mmu_page *sp)
{
	if (sp_invalid(sp))
		return true;
	/* TDP MMU pages use no generation: invalid is all there is. */
	return !is_tdp_mmu_page(sp) &&
	       unlikely(sp->mmu_valid_gen != READ_ONCE(kvm->arch.mmu_valid_gen));
}

static inline bool tdp_mmu_enabled(const struct kvm *kvm)
{
	return kvm->arch.tdp_mmu_enabled;
}

/*
 * Has a shadow root ever been made (nested EPT with the TDP MMU)?
 * Acquire: pairs with the release in mmu_first_shadow_root_alloc(), so a
 * reader that sees true sees every memslot's rmaps and write tracking.
 */
static inline bool kvm_shadow_root_allocated(const struct kvm *kvm)
{
	return __atomic_load_n(&kvm->arch.shadow_root_allocated, __ATOMIC_ACQUIRE);
}

/* Do memslots carry rmaps?  With the TDP MMU only once a shadow root exists. */
static inline bool kvm_memslots_have_rmaps(const struct kvm *kvm)
{
	return !tdp_mmu_enabled(kvm) || kvm_shadow_root_allocated(kvm);
}

/* Does the vCPU's current MMU use the TDP MMU (a direct root with tdp_mmu=1)? */
static inline bool is_tdp_mmu_active(const struct kvm_vcpu *vcpu)
{
	return tdp_mmu_enabled(vcpu->kvm) && vcpu->arch.mmu->root_role.direct;
}

/* Does @sp shadow a guest page table (so its gfn is write-tracked)? */
static inline bool sp_has_gptes(const struct kvm_mmu_page *sp)
{
	return !sp->role.direct && !sp->role.passthrough;
}

/* ---- page faults ------------------------------------------------------------------ */

/*
 * Return codes of the fault handlers.  0 continues (internal); the others
 * end the fault.  Negative values are -errno.
 */
enum {
	RET_PF_CONTINUE = 0,
	RET_PF_RETRY,           /* let the vCPU fault again */
	RET_PF_EMULATE,         /* MMIO, or a write to read-only memory */
	RET_PF_WRITE_PROTECTED, /* a write to a write-protected gfn */
	RET_PF_INVALID,         /* the fast or MMIO path could not handle it */
	RET_PF_FIXED,
	RET_PF_SPURIOUS,
};

struct kvm_page_fault {
	/* arguments */
	const gpa_t addr;
	const u64 error_code;
	const bool prefetch;

	/* decoded error code */
	const bool exec;
	const bool write;
	const bool present;
	const bool rsvd;
	const bool user;

	/* the MMU */
	const bool is_tdp;
	const bool nx_huge_page_workaround_enabled;

	/* an exec fault under the NX mitigation: no huge page */
	bool huge_page_disallowed;

	/* the largest level the guest mapping allows */
	u8 max_level;
	/* what the host mapping and the memslot allow */
	u8 req_level;
	/* what will be mapped */
	u8 goal_level;

	gfn_t gfn;
	struct kvm_memory_slot *slot;

	/* why it returned RET_PF_RETRY, if it did (enum kvmmu_fault_retry) */
	u8 retry;

	/* shadow paging: a write to a gfn on the walk (a table it shadows) */
	bool write_fault_to_shadow_pgtable;

	/* the pfn lookup: outputs */
	u64 mmu_seq;
	kvm_pfn_t pfn;
	struct page *refcounted_page;
	bool map_writable;
};

/* Would the access of @fault succeed through @spte? */
static inline bool is_access_allowed(const struct kvm_page_fault *fault,
				     const struct kvm_mmu_masks *m, u64 spte)
{
	if (fault->exec)
		return is_executable_pte(m, spte);
	if (fault->write)
		return is_writable_pte(spte);
	/* A read: present to hardware (EPT R, or the P bit: bit 0 both). */
	return spte & PT_PRESENT_MASK;
}

/* ---- the MMU's internal interfaces ----------------------------------------------- */

/*
 * May a writable SPTE map @gfn?  True if it must stay read-only: the gfn
 * holds a guest page table the shadow MMU shadows (shadow_mmu.c).
 */
bool mmu_try_to_unsync_pages(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t gfn,
			     bool synchronizing, bool prefetch);

/* The fault path's steps that both MMUs and the guest-paging faults share. */
int kvm_mmu_fault_begin(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);
bool is_page_fault_stale(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);
void kvm_mmu_finish_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault, int r);
/* paging.c: shadow paging's faults, by guest entry format. */
int paging64_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);
int paging32_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);
int paging64_sync_spte(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp, int i);
int paging32_sync_spte(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp, int i);
int nonpaging_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);
/* Nested EPT: L2's faults, through L1's EPT tables. */
int ept_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);
int ept_sync_spte(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp, int i);

/* Memory caches, topped up before mmu_lock is taken. */
int mmu_topup_memory_caches(struct kvm_vcpu *vcpu);
void mmu_free_memory_caches(struct kvm_vcpu *vcpu);
struct kvm_mmu_page *kvm_mmu_alloc_page_from_cache(struct kvm_vcpu *vcpu);
/* Allocate a page outside any cache (may fail), e.g. for splitting. */
struct kvm_mmu_page *kvm_mmu_alloc_page(struct kvm *kvm);
/* Free a page: its frame (if not already given back) and its header. */
void kvm_mmu_free_page(struct kvm *kvm, struct kvm_mmu_page *sp);
/* Give a page's table frame back to the host. */
void kvm_mmu_free_table_frame(struct kvm *kvm, struct kvm_mmu_page *sp);

void kvm_mmu_hugepage_adjust(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);
void disallowed_hugepage_adjust(struct kvm *kvm, struct kvm_page_fault *fault,
				u64 spte, int cur_level);
int kvm_mmu_max_mapping_level(struct kvm *kvm, const struct kvm_memory_slot *slot,
			      gfn_t gfn, int max_level);

static inline bool is_nx_huge_page_enabled(struct kvm *kvm)
{
	return READ_ONCE(kvm->arch.nx_huge_pages);
}

void track_possible_nx_huge_page(struct kvm *kvm, struct kvm_mmu_page *sp);
void untrack_possible_nx_huge_page(struct kvm *kvm, struct kvm_mmu_page *sp);

/*
 * Page counts batched by a walk.  A walk that changes many SPTEs in one go
 * (a zap of a range or of a root) adds its changes to kvm->stat.pages[]
 * here, in its own thread, and folds them in at its end: one atomic add per
 * page size instead of one per SPTE, the same final values.  A reader
 * racing with the walk sees the counts change at its end rather than as it
 * goes, which a reader of the per-SPTE adds could not tell apart either.
 */
struct kvm_page_stats_batch {
	struct kvm *kvm;
	int depth;
	s64 delta[KVM_NR_PAGE_SIZES];
};

extern __thread struct kvm_page_stats_batch kvm_page_stats_batch;

static inline void kvm_page_stats_batch_begin(struct kvm *kvm)
{
	struct kvm_page_stats_batch *b = &kvm_page_stats_batch;

	if (b->depth++)
		return;
	b->kvm = kvm;
}

static inline void kvm_page_stats_batch_end(struct kvm *kvm)
{
	struct kvm_page_stats_batch *b = &kvm_page_stats_batch;
	int i;

	WARN_ON_ONCE(b->kvm != kvm || b->depth <= 0);
	if (--b->depth)
		return;
	for (i = 0; i < KVM_NR_PAGE_SIZES; i++) {
		if (b->delta[i])
			atomic64_add(b->delta[i], &kvm->stat.pages[i]);
		b->delta[i] = 0;
	}
	b->kvm = NULL;
}

static inline void kvm_update_page_stats(struct kvm *kvm, int level, int count)
{
	struct kvm_page_stats_batch *b = &kvm_page_stats_batch;
	struct kvm_vcpu *vcpu;

	if (b->kvm == kvm) {
		b->delta[level - 1] += count;
		return;
	}
	/* A vCPU's fault counts in its own share (struct kvm_vcpu). */
	vcpu = kvm_get_running_vcpu();
	if (vcpu && vcpu->kvm == kvm) {
		s64 *d = &vcpu->pages_delta[level - 1];

		/* Single writer; relaxed pairs with the folding reader's load. */
		__atomic_store_n(d, __atomic_load_n(d, __ATOMIC_RELAXED) + count,
				 __ATOMIC_RELAXED);
		return;
	}
	atomic64_add(count, &kvm->stat.pages[level - 1]);
}

/* The largest gfn an SPTE may map: host MAXPHYADDR bounds every walk. */
/*
 * The highest gfn anything may map: with TDP the host MAXPHYADDR bounds
 * what EPT/NPT can translate; with shadow paging it is 52 bits, what a
 * gPTE's frame number can hold.
 */
static inline gfn_t kvm_mmu_max_gfn_of(struct kvm *kvm)
{
	int bits = kvm->arch.tdp_enabled ? kvm->arch.masks.phys_bits : 52;

	return (1ULL << (bits - PAGE_SHIFT)) - 1;
}

static inline void kvm_flush_remote_tlbs_gfn(struct kvm *kvm, gfn_t gfn, int level)
{
	kvm_flush_remote_tlbs_range(kvm, gfn & ~(KVM_PAGES_PER_HPAGE(level) - 1),
				    KVM_PAGES_PER_HPAGE(level));
}

/*
 * Is the table frame @pfn still a table?  Lockless walkers (fast page
 * fault, aging, the iterator) check before they step into a table, so that
 * a table freed too early is reported (KVMMU_EV_TABLE_READ carries who
 * read it) and treated as gone rather than walked as poison.
 */
static inline bool kvm_mmu_table_alive(struct kvm *kvm, kvm_pfn_t pfn, gfn_t gfn,
				       int level, enum kvmmu_table_reader reader)
{
	kvmmu_observe(KVMMU_EV_TABLE_READ, table, .kvm = kvm, .pfn = pfn, .gfn = gfn,
		      .level = (u8)level, .reader = (u8)reader);
	return kvm->host->frame_state(kvm->mm, pfn) == KVMMU_FRAME_ALLOCATED;
}

#endif /* KVMMU_MMU_MMU_INTERNAL_H */
