/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The simulated hardware's internals: the vCPU, its TLB and paging-structure
 * caches, and the walker's interface.
 *
 * TLB layout.  Three direct-mapped arrays of translations (4K, 2M, 1G) and
 * one array of paging-structure-cache (PSC) entries per upper level.  An
 * entry is a hot pair (key, pfn) and a cold record (where it came from, for
 * checkers).  The key packs the page number, the context (a root the vCPU
 * ran under), that context's flush generation, and flags:
 *
 *   63..24 page number (gfn >> 9 * (level - 1), or gva >> 12)
 *   23..22 context      21..8 generation      7..0 flags
 *
 * A flush of a context bumps its generation, which retires its entries at
 * once; when a generation would wrap, the arrays are cleared for real.
 * Only the vCPU's own thread writes its TLB; snapshots for checkers read it
 * under a seqlock.
 *
 * Under shadow paging (kvmmu_entry.shadow_paging) the 4K array holds
 * gva-keyed entries of KVM's shadow table (LINEAR | SHADOW), one per 4K
 * gva page whatever the leaf's size; they keep U/S (TLBF_U) and the leaf
 * SPTE, so that a hit is judged against the CPL, SMEP, SMAP, AC and PKRU
 * of the moment, as a CPU judges its TLB entries, and the whole gva page
 * in the cold record, which a hit checks.  The paging-structure caches
 * are not used in that mode.
 */
#ifndef KVMMU_HW_HW_INTERNAL_H
#define KVMMU_HW_HW_INTERNAL_H

#include "atomic.h"
#include "bitops.h"
#include "guest_walk.h"
#include "hw_model.h"
#include "lock.h"
#include "types.h"
#include "x86_pgtable.h"

#define HW_MAX_CTX 4
#define HW_GEN_BITS 14
#define HW_GEN_MAX (1u << HW_GEN_BITS)

#define TLBF_VALID BIT_ULL(0)
#define TLBF_R BIT_ULL(1)
#define TLBF_W BIT_ULL(2)
#define TLBF_X BIT_ULL(3)
#define TLBF_D BIT_ULL(4)      /* the leaf's D was set when filled (or A/D off) */
#define TLBF_LINEAR BIT_ULL(5) /* a combined gva translation, not a gpa one */
#define TLBF_U BIT_ULL(6)      /* shadow paging: a user page (U/S at every level) */
#define TLBF_SHADOW BIT_ULL(7) /* with LINEAR: a gva translation of KVM's shadow table */
#define TLBF_PERMS (TLBF_R | TLBF_W | TLBF_X | TLBF_D | TLBF_U)
#define TLBF_SHADOW_SPACE (TLBF_LINEAR | TLBF_SHADOW)
#define TLB_CTX_SHIFT 22
#define TLB_GEN_SHIFT 8
#define TLB_PAGE_SHIFT 24

struct hw_tlb_slot {
	_Atomic u64 key;
	_Atomic u64 pfn;
};

struct hw_tlb_meta {
	_Atomic u64 sptep;
	_Atomic u64 spte;
	/*
	 * LINEAR entries: the gfn the gva mapped to.  Shadow entries, whose
	 * gfn is unknown (HW_GFN_UNKNOWN to checkers): the whole gva page,
	 * which the key's 40 page bits cannot hold for 5-level paging.
	 */
	_Atomic u64 gpa_page;
	_Atomic u64 tables[5];
};

struct hw_tlb_array {
	struct hw_tlb_slot *slot;
	struct hw_tlb_meta *meta;
	u64 mask;
	int level; /* of the SPTEs its entries come from */
};

enum { TLB_4K, TLB_2M, TLB_1G, NR_TLBS };
#define NR_PSC 4 /* levels 2..5: entries pointing at a table one level down */

struct hw_machine {
	struct mm_struct *mm;
	const struct kvmmu_host_ops *host;
	u8 *direct_map;
	_Atomic u64 *tag_map;
	int phys_bits;
	u64 rsvd_mask; /* physical-address bits above MAXPHYADDR */
	unsigned int tlb_4k, tlb_huge, psc;
	spinlock_t lock; /* vcpus[] */
	struct kvmmu_hw_vcpu *vcpus[256];
};

struct kvmmu_hw_vcpu {
	struct hw_machine *m;
	int id;

	/* The TLB: written by this vCPU's thread only. */
	struct hw_tlb_array tlb[NR_TLBS];
	struct hw_tlb_array psc[NR_PSC];
	_Atomic u64 ctx_root[HW_MAX_CTX]; /* 0: unused */
	_Atomic u32 ctx_gen[HW_MAX_CTX];
	/* The context is an L2 root's: its pages are L2 gpas, no gfns of KVM's. */
	_Atomic bool ctx_nested[HW_MAX_CTX];
	u64 ctx_used[HW_MAX_CTX];         /* LRU clock */
	u64 clock;
	int cur_ctx;
	u64 key_tag;                      /* ctx and generation bits of cur_ctx | VALID */
	_Atomic u32 seq;                  /* snapshot seqlock: odd while changing */
	_Atomic bool had_linear;          /* a gva-keyed entry was ever filled */
	bool had_shadow_huge;             /* a shadow entry of a 2M/1G SPTE was ever filled */
	u64 shadow_pdptr[4];              /* PAE shadow root: the PDPTEs loaded at entry */
	bool pdptrs_pending;              /* a program started under PAE: load the PDPTEs */

	/* The entry of the current run; shadow, l2: its shadow_paging and guest_mode. */
	const struct kvmmu_entry *entry;
	bool shadow;
	bool l2;

	/*
	 * Nested: whether the vCPU runs L1, and L1's code for the exit it
	 * handles (nested.c): its steps in order, then INVEPT of type @invept
	 * if any, then VMRESUME.  @region_unmapped: the memstress pass's
	 * closing VMCALL was handled.
	 */
	struct {
		bool active;
		struct hw_l1_step {
			u8 kind;        /* enum hw_l1_step_kind (nested.c) */
			u64 at, end;    /* entries' gpas, or leaf tables' indices */
			u64 value;
		} steps[3];
		int nr_steps, step;
		u32 invept;
		bool region_unmapped;
	} l1;

	/* The architectural state guest paging depends on; CR2 and the last #PF's code. */
	struct hw_cpu cpu;
	u64 cr2, pf_error_code;

	/* The program. */
	struct hw_program prog;
	u64 npages;       /* memstress */
	u64 pc;           /* list: next access; memstress: next page of the pass */
	_Atomic u64 pass;
	_Atomic bool done;
	_Atomic bool release;

	struct hw_vcpu_stats st; /* written by this thread; read with relaxed loads */
};

/* Bump a statistic: one writer, relaxed readers. */
#define hw_stat_inc(hv, field)                                                 \
	__atomic_store_n(&(hv)->st.field, __atomic_load_n(&(hv)->st.field,      \
							  __ATOMIC_RELAXED) + 1, \
			 __ATOMIC_RELAXED)

/* ---- nested: the L1 hypervisor (nested.c) ----------------------------------------- */

/* A program run as L2 starts in L1, which launches it. */
void hw_l1_start(struct kvmmu_hw_vcpu *hv);
/* L1's next instruction; false when L1 has none (it resumed L2). */
bool hw_l1_next(struct kvmmu_hw_vcpu *hv, struct hw_access *acc);
/* Past L1's current instruction (done, or emulated by KVM); @loaded: a load's value. */
void hw_l1_advance(struct kvmmu_hw_vcpu *hv, u64 loaded);
/* KVM reflected an L2 exit: L1's handler for it. */
void hw_nested_vmexit(struct kvmmu_hw_vcpu *hv, const struct kvmmu_exit *e);
/* Go on after L2's current instruction (list programs) as L1's handler does. */
void hw_l2_skip(struct kvmmu_hw_vcpu *hv);

/* ---- TLB (tlb.c) ---------------------------------------------------------------- */

int hw_tlb_init(struct kvmmu_hw_vcpu *hv);
void hw_tlb_free(struct kvmmu_hw_vcpu *hv);
/* Select (or make) the context of @root_pfn. */
void hw_tlb_set_root(struct kvmmu_hw_vcpu *hv, u64 root_pfn);
void hw_tlb_flush_ctx(struct kvmmu_hw_vcpu *hv, int ctx);
void hw_tlb_flush_all(struct kvmmu_hw_vcpu *hv);

struct hw_fill {
	u64 page;       /* in units of the array's level */
	u64 pfn;
	u64 flags;      /* TLBF_* */
	const void *sptep;
	u64 spte;
	u64 gpa_page;
	u64 tables[5];
};

void hw_tlb_fill(struct kvmmu_hw_vcpu *hv, struct hw_tlb_array *a, const struct hw_fill *f);
void hw_tlb_drop(struct kvmmu_hw_vcpu *hv, struct hw_tlb_array *a, u64 page, u64 flags);

static inline u64 hw_tlb_index(const struct hw_tlb_array *a, u64 page)
{
	return (page ^ (page >> 11)) & a->mask;
}

/*
 * Look @page up in @a; on a hit return the key's flags and the pfn.  The
 * hot path of every guest access: two loads and a compare.
 */
static inline bool hw_tlb_lookup(const struct kvmmu_hw_vcpu *hv, const struct hw_tlb_array *a,
				 u64 page, u64 space, u64 *flags, u64 *pfn)
{
	const struct hw_tlb_slot *s = &a->slot[hw_tlb_index(a, page)];
	u64 key = atomic_load_explicit(&s->key, memory_order_relaxed);

	if ((key & ~TLBF_PERMS) != ((page << TLB_PAGE_SHIFT) | hv->key_tag | space))
		return false;
	*flags = key;
	*pfn = atomic_load_explicit(&s->pfn, memory_order_relaxed);
	return true;
}

/* ---- the walker (walker.c) ------------------------------------------------------- */

/* What an access needs. */
enum hw_access_kind { HW_ACC_READ, HW_ACC_WRITE, HW_ACC_EXEC };

/*
 * Translate @gpa for @kind through the TLB, walking the SPTE tables on a
 * miss.  Returns the 4K pfn, or 0 with @exit filled in (the vCPU must exit).
 * @final: the access is the final one of an instruction, not a read or A/D
 * update of a guest page-table entry (the exit qualification says which).
 * @leaf, if not NULL, receives where the translation came from.
 */
u64 hw_translate_gpa(struct kvmmu_hw_vcpu *hv, u64 gpa, enum hw_access_kind kind,
		     bool final, struct kvmmu_exit *exit, struct hw_fill *leaf);

/* May a TLB entry with @flags serve an access of @kind? */
static inline bool hw_tlb_allows(u64 flags, enum hw_access_kind kind)
{
	switch (kind) {
	case HW_ACC_READ:
		return flags & TLBF_R;
	case HW_ACC_WRITE:
		/* With A/D on, a write through a clean entry re-walks to set D. */
		return (flags & (TLBF_W | TLBF_D)) == (TLBF_W | TLBF_D);
	default:
		return flags & TLBF_X;
	}
}

#endif /* KVMMU_HW_HW_INTERNAL_H */
