/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The core's central header: struct kvm, struct kvm_vcpu, memslots,
 * requests, the mmu_notifier retry protocol, dirty logging, statistics, and
 * the entry points between KVM's generic layer (src/kvm) and the x86 MMU
 * (src/mmu).  It plays the part of the kernel's linux/kvm_host.h and of the
 * x86 asm/kvm_host.h; the x86 sections are marked.
 *
 * The core reaches the host through kvm->host (include/kvmmu/host.h) and the
 * CPU through kvm->hw (include/kvmmu/hw.h), never directly.
 */
#ifndef KVMMU_KVM_KVM_HOST_H
#define KVMMU_KVM_KVM_HOST_H

#include <kvmmu/kvm.h>

#include "atomic.h"
#include "bitops.h"
#include "bug.h"
#include "compiler.h"
#include "list.h"
#include "lock.h"
#include "lockdep.h"
#include "mutant.h"
#include "observe.h"
#include "printk.h"
#include "rcu.h"
#include "sched_point.h"
#include "srcu.h"
#include "thread.h"
#include "types.h"
#include "wait.h"
#include "x86_pgtable.h"

/* ---- limits ------------------------------------------------------------- */

#define KVM_MAX_VCPUS 256
#define KVM_ADDRESS_SPACE_NUM 2 /* x86: normal and SMM */
#define KVM_MEM_SLOTS_NUM 32767 /* SHRT_MAX */
#define KVM_INTERNAL_MEM_SLOTS 3
#define KVM_USER_MEM_SLOTS (KVM_MEM_SLOTS_NUM - KVM_INTERNAL_MEM_SLOTS)
#define KVM_MEM_MAX_NR_PAGES ((1UL << 31) - 1)
#define KVM_MEMSLOT_INVALID (1UL << 16) /* internal: being deleted or moved */
#define KVM_MEMSLOT_FREED (1UL << 17)   /* kvmmu: deleted or moved away, metadata poisoned */
/* What freed memslot metadata is filled with (the slab's POISON_FREE). */
#define KVM_MEMSLOT_POISON 0x6b
/* Freed slots' metadata kept poisoned per VM, at most (the oldest goes first). */
#define KVM_MEMSLOT_QUARANTINE_BYTES (64UL << 20)
#define KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS BIT_ULL(63)
#define KVM_NR_PAGE_SIZES 3 /* 4K, 2M, 1G */
#define KVM_MAX_HUGEPAGE_LEVEL PG_LEVEL_1G
#define PT64_ROOT_MAX_LEVEL 5
#define KVM_DIRTY_RING_RSVD_ENTRIES 64
#define KVM_DIRTY_RING_MAX_ENTRIES 65536

/*
 * The user address limit, x86-64's TASK_SIZE_MAX with 4-level paging: the
 * last page below 2^47 is left out (the guard page below the non-canonical
 * hole), and access_ok() wants a range to end at or below it.
 */
#define TASK_SIZE_MAX ((1UL << 47) - PAGE_SIZE)
#define TASK_SIZE TASK_SIZE_MAX

/*
 * Whether @n bytes at the user pointer @p can be copied, as far as kvmmu can
 * tell without touching them: what copy_{from,to}_user() would fail with
 * -EFAULT because access_ok() fails (the range wraps or ends above
 * TASK_SIZE), or because nothing is ever mapped there (the zero page,
 * below mmap_min_addr).  Zero bytes copy from anywhere, as in the kernel.
 */
static inline bool kvm_user_ptr_ok(const void *p, unsigned long n)
{
	unsigned long a = (unsigned long)p;

	if (!n)
		return true;
	return a >= PAGE_SIZE && a < TASK_SIZE && n <= TASK_SIZE - a;
}

/* Lock ranks: the order of KVM's locking.rst, checked by lockdep. */
enum kvm_lock_rank {
	KVM_RANK_LOCK = 10,
	KVM_RANK_SLOTS_LOCK = 20,
	KVM_RANK_SLOTS_ARCH_LOCK = 30,
	KVM_RANK_MMU_LOCK = 40,
	KVM_RANK_MN_INVALIDATE_LOCK = 45,
	KVM_RANK_TDP_MMU_PAGES_LOCK = 50,
	KVM_RANK_MMU_UNSYNC_PAGES_LOCK = 50,
};

/* ---- vCPU requests -------------------------------------------------------- */

#define KVM_REQUEST_MASK GENMASK(7, 0)
#define KVM_REQUEST_NO_WAKEUP BIT(8)
#define KVM_REQUEST_WAIT BIT(9)
#define KVM_REQUEST_NO_ACTION BIT(10)
#define KVM_REQUEST_ARCH_BASE 8
#define KVM_ARCH_REQ_FLAGS(nr, flags) (((nr) + KVM_REQUEST_ARCH_BASE) | (flags))
#define KVM_ARCH_REQ(nr) KVM_ARCH_REQ_FLAGS(nr, 0)

#define KVM_REQ_TLB_FLUSH (0 | KVM_REQUEST_WAIT | KVM_REQUEST_NO_WAKEUP)
#define KVM_REQ_VM_DEAD (1 | KVM_REQUEST_WAIT | KVM_REQUEST_NO_WAKEUP)
#define KVM_REQ_UNBLOCK 2
#define KVM_REQ_DIRTY_RING_SOFT_FULL 3
/* A kick with no request bit: make the vCPU leave guest mode. */
#define KVM_REQ_OUTSIDE_GUEST_MODE (KVM_REQUEST_NO_ACTION | KVM_REQUEST_WAIT | KVM_REQUEST_NO_WAKEUP)

/* x86 */
#define KVM_REQ_MMU_SYNC KVM_ARCH_REQ(3)
#define KVM_REQ_TLB_FLUSH_CURRENT KVM_ARCH_REQ(26)
#define KVM_REQ_UPDATE_CPU_DIRTY_LOGGING KVM_ARCH_REQ(30)
#define KVM_REQ_MMU_FREE_OBSOLETE_ROOTS \
	KVM_ARCH_REQ_FLAGS(31, KVM_REQUEST_WAIT | KVM_REQUEST_NO_WAKEUP)

/* vcpu->mode */
enum {
	OUTSIDE_GUEST_MODE,
	IN_GUEST_MODE,
	EXITING_GUEST_MODE,
	READING_SHADOW_PAGE_TABLES,
};

/* ---- x86: the MMU's types -------------------------------------------------- */

union kvm_mmu_page_role {
	u32 word;
	struct {
		unsigned level : 4;
		unsigned has_4_byte_gpte : 1;
		unsigned quadrant : 2;
		unsigned direct : 1;
		unsigned access : 3;
		unsigned invalid : 1;
		unsigned efer_nx : 1;
		unsigned cr0_wp : 1;
		unsigned smep_andnot_wp : 1;
		unsigned smap_andnot_wp : 1;
		unsigned ad_disabled : 1;
		unsigned guest_mode : 1;
		unsigned passthrough : 1;
		unsigned is_mirror : 1;
		unsigned : 3;
		unsigned smm : 8;
	};
};

static_assert(sizeof(union kvm_mmu_page_role) == sizeof(u32), "role is a word");

/*
 * What of the vCPU's paging state a guest walk depends on, beyond the
 * base role (whose level is the guest's paging mode: 0 off, 2, 3, 4, 5).
 */
union kvm_mmu_extended_role {
	u32 word;
	struct {
		unsigned valid : 1;
		unsigned execonly : 1;
		unsigned cr4_pse : 1;
		unsigned cr4_pke : 1;
		unsigned cr4_smap : 1;
		unsigned cr4_smep : 1;
		unsigned cr4_la57 : 1;
		unsigned efer_lma : 1;
	};
};

/* The CPU's paging mode as the MMU sees it, compared as one word. */
union kvm_cpu_role {
	u64 as_u64;
	struct {
		union kvm_mmu_page_role base;
		union kvm_mmu_extended_role ext;
	};
};

static_assert(sizeof(union kvm_cpu_role) == sizeof(u64), "cpu role is a word");

#define ACC_EXEC_MASK 1
#define ACC_WRITE_MASK PT_WRITABLE_MASK
#define ACC_USER_MASK PT_USER_MASK
#define ACC_ALL (ACC_EXEC_MASK | ACC_WRITE_MASK | ACC_USER_MASK)

struct kvm_mmu_root_info {
	gpa_t pgd;
	hpa_t hpa; /* pfn << PAGE_SHIFT of the root table, or INVALID_PAGE */
};

#define KVM_MMU_NUM_PREV_ROOTS 3

struct kvm_page_fault;

/* A fault a guest walk reports: what the guest gets as #PF. */
struct x86_exception {
	u8 vector;
	u64 error_code;
	u64 address;
	/*
	 * Nested EPT: the fault is L1's to handle (an EPT violation or
	 * misconfiguration in its tables), reflected as a VM exit with this
	 * exit qualification at the L2 gpa @address.
	 */
	bool nested_page_fault;
	bool ept_misconfig;
	u64 exit_qualification;
};

/* A KVM-internal error code bit: an implicit supervisor access (no AC override). */
#define PFERR_IMPLICIT_ACCESS BIT_ULL(48)

struct rsvd_bits_validate {
	u64 rsvd_bits_mask[2][5]; /* [bit 7 of the entry][level - 1] */
	/* EPT: bit (entry & 0x3f) says a memory type / XWR combination is reserved. */
	u64 bad_mt_xwr;
};

struct kvm_mmu_page;

struct kvm_mmu {
	int (*page_fault)(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);
	/*
	 * Shadow paging: recompute entry @i of unsync page @sp from its gPTE;
	 * > 0 if a flush is owed, < 0 if the page must go.
	 */
	int (*sync_spte)(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp, int i);
	/* The guest walk of this MMU's paging mode (UNMAPPED_GVA on a fault). */
	gpa_t (*gva_to_gpa)(struct kvm_vcpu *vcpu, struct kvm_mmu *mmu, gva_t gva, u64 access,
			    struct x86_exception *exception);
	struct kvm_mmu_root_info root;
	/*
	 * Shadow paging: the roots of the last guest CR3s, most recent first,
	 * each holding its root_count, for fast CR3 switches (kvm_mmu_new_pgd()).
	 */
	struct kvm_mmu_root_info prev_roots[KVM_MMU_NUM_PREV_ROOTS];
	/*
	 * Shadow paging of unpaged and PAE guests: a page of four PDPTEs,
	 * each pointing at a level-2 shadow page (0 when none: a non-present
	 * PDPTE, not INVALID_PAGE, which would have reserved bits set).  It
	 * has no struct kvm_mmu_page: root_to_sp() finds none.
	 */
	_Atomic u64 *pae_root;
	u64 pae_root_pfn;
	union kvm_cpu_role cpu_role;
	union kvm_mmu_page_role root_role;
	/*
	 * Bit a of permissions[pfec >> 1] says whether an access with that
	 * error code faults on a page whose rights are a (ACC_* bits); PFERR's
	 * RSVD position stands for "SMAP does not apply".  pkru_mask holds,
	 * for each pfec (RSVD standing for "user page"), two bits: whether
	 * PKRU's AD and WD apply.
	 */
	u8 permissions[16];
	u32 pkru_mask;
	struct rsvd_bits_validate guest_rsvd_check;
};

#define UNMAPPED_GVA (~(gpa_t)0)

/*
 * The SPTE format of a VM: which bits mean what.  KVM keeps these in module
 * globals set by the vendor module; kvmmu chooses EPT or NPT per VM.
 */
struct kvm_mmu_masks {
	bool ept;
	bool ad_enabled;
	u64 present_mask;       /* bits that make an entry present to hardware */
	u64 user_mask;          /* ACC_USER (EPT: readable) */
	u64 x_mask;             /* executable (EPT) */
	u64 nx_mask;            /* not executable (NPT) */
	u64 accessed_mask;
	u64 dirty_mask;
	u64 host_writable_mask;
	u64 mmu_writable_mask;
	u64 acc_track_mask;     /* cleared to make an entry access-tracked */
	u64 mmio_value;         /* what identifies an MMIO SPTE ... */
	u64 mmio_mask;          /* ... under this mask */
	u64 mmio_access_mask;
	u64 memtype_mask;       /* EPT: write-back, for every leaf */
	int phys_bits;          /* host MAXPHYADDR */
};

/* ---- memory caches ------------------------------------------------------- */

#define KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE 40

/* Objects set aside before taking mmu_lock (nothing allocates under it). */
struct kvm_mmu_memory_cache {
	int nobjs;
	void *objects[KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE];
};

/* Page-table frames set aside the same way. */
struct kvm_mmu_table_cache {
	int nobjs;
	u64 pfns[KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE];
};

/* ---- memslots -------------------------------------------------------------- */

struct kvm_lpage_info {
	int disallow_lpage;
};

struct kvm_rmap_head;
struct pte_list_desc;

struct kvm_arch_memory_slot {
	/*
	 * The shadow MMU's reverse maps, indexed by level - 1: one head per
	 * gfn (4K) or per huge-page unit.  NULL while the VM has no shadow
	 * pages (TDP MMU only); see kvm_memslots_have_rmaps().
	 */
	struct kvm_rmap_head *rmap[KVM_NR_PAGE_SIZES];
	/* Indexed by level - 2: 2M, 1G. */
	struct kvm_lpage_info *lpage_info[KVM_NR_PAGE_SIZES - 1];
	/* Write-tracking counts per 4K gfn (shadowed guest page tables). */
	u16 *gfn_write_track;
};

struct kvm_memory_slot {
	gfn_t base_gfn;
	unsigned long npages;
	unsigned long *dirty_bitmap; /* two halves: the log, and scratch */
	struct kvm_arch_memory_slot arch;
	unsigned long userspace_addr;
	u32 flags;
	short id;
	u16 as_id;
	/*
	 * kvmmu: a slot freed after a DELETE or MOVE stays, with its arch
	 * metadata poisoned, on its VM's quarantine list until the VM goes
	 * (KVM_MEMSLOT_FREED), so that a late touch is reported, not a crash.
	 */
	struct kvm_memory_slot *freed_next;
	struct kvm *freed_kvm;
};

/*
 * One memslot set.  Each address space has two, active and inactive; an
 * update rewrites the inactive one and swaps them under SRCU.  The three
 * orders are kept as sorted arrays: by gfn (faults), by hva (notifiers;
 * hva_max_end[i] is the largest end among the first i + 1), by id.
 */
struct kvm_memslots {
	u64 generation;
	struct kvm_memory_slot *_Atomic last_used_slot;
	int nr;
	int cap;
	struct kvm_memory_slot **by_gfn;
	struct kvm_memory_slot **by_hva;
	unsigned long *hva_max_end;
	struct kvm_memory_slot **by_id;
	int node_idx;
};

/* ---- dirty ring ------------------------------------------------------------ */

struct kvm_dirty_ring {
	u32 dirty_index; /* next entry KVM pushes */
	u32 reset_index; /* next entry KVM_RESET_DIRTY_RINGS looks at */
	u32 size;        /* entries, a power of 2 */
	u32 soft_limit;
	struct kvm_dirty_gfn *dirty_gfns;
	int index;
};

/* ---- statistics ------------------------------------------------------------ */

struct kvm_vm_stat {
	/* generic */
	u64 remote_tlb_flush;
	u64 remote_tlb_flush_requests;
	/* x86 MMU */
	u64 mmu_shadow_zapped;
	u64 mmu_pte_write;
	u64 mmu_pde_zapped;
	u64 mmu_flooded;
	u64 mmu_recycled;
	u64 mmu_cache_miss;
	u64 mmu_unsync;
	union {
		struct {
			atomic64_t pages_4k;
			atomic64_t pages_2m;
			atomic64_t pages_1g;
		};
		atomic64_t pages[KVM_NR_PAGE_SIZES];
	};
	u64 nx_lpage_splits;
	u64 max_mmu_page_hash_collisions;
	u64 max_mmu_rmap_size;
};

struct kvm_vcpu_stat {
	u64 pf_taken;
	u64 pf_fixed;
	u64 pf_emulate;
	u64 pf_spurious;
	u64 pf_fast;
	u64 pf_mmio_spte_created;
	u64 pf_guest;
	u64 tlb_flush;
	u64 invlpg;
	u64 exits;
	u64 halt_exits;
	u64 mmio_exits;
	u64 irq_exits;
	u64 nested_run; /* nested VM entries (VMLAUNCH/VMRESUME emulated) */
};

/* Statistics are written by one thread and read by others: relaxed atomics. */
#define kvm_stat_add(stat, n) __atomic_fetch_add(&(stat), (n), __ATOMIC_RELAXED)
#define kvm_stat_inc(stat) kvm_stat_add(stat, 1)
#define kvm_stat_max(stat, v)                                                 \
	do {                                                                  \
		u64 __v = (v), __o = READ_ONCE(stat);                         \
		while (__v > __o &&                                           \
		       !__atomic_compare_exchange_n(&(stat), &__o, __v, false,\
						    __ATOMIC_RELAXED,         \
						    __ATOMIC_RELAXED))        \
			;                                                     \
	} while (0)

/* ---- x86: per-VM and per-vCPU arch state ------------------------------------ */

struct kvm_arch {
	struct kvm_mmu_masks masks;
	int tdp_root_level;
	u8 *direct_map; /* frame pfn's 4 KiB are at direct_map + (pfn << 12) */
	u64 disabled_quirks;
	bool nx_huge_pages;
	bool eager_page_split;
	bool pre_fault_allowed;
	/* PML: entries of a vCPU's log buffer (0: no PML), kvm_cpu_dirty_log_size() */
	int cpu_dirty_log_size;

	/*
	 * Which MMU (KVM's tdp_mmu module parameter): the TDP MMU, or the
	 * shadow MMU's direct pages for TDP (tdp_mmu=0).
	 */
	bool tdp_mmu_enabled;
	/* ept/npt: two-dimensional paging, else shadow paging of the guest's tables */
	bool tdp_enabled;

	/*
	 * With the TDP MMU, rmaps and write tracking are allocated at the
	 * first shadow root (nested EPT), under slots_arch_lock, and this is
	 * set after them with release semantics (kvm_shadow_root_allocated()).
	 */
	bool shadow_root_allocated;
	/*
	 * TDP faults hold mmu_lock for read: marking pages unsync takes this
	 * too (mmu_try_to_unsync_pages()).
	 */
	spinlock_t mmu_unsync_pages_lock;

	/* Shadow MMU (mmu_lock for write unless said otherwise) */
	u8 mmu_valid_gen;                 /* 0 or 1; toggled by a fast zap */
	struct hlist_head *mmu_page_hash; /* KVM_NUM_MMU_PAGES buckets by gfn */
	/*
	 * Shadow paging: the dummy root, a table of zeroes (KVM's zero page)
	 * for a guest CR3 outside every visible memslot; no shadow page.
	 */
	u64 dummy_root_pfn;
	struct list_head active_mmu_pages; /* newest first */
	unsigned long n_used_mmu_pages;
	unsigned long n_requested_mmu_pages;
	unsigned long n_max_mmu_pages;
	unsigned int indirect_shadow_pages;
	/*
	 * Shadow root pages for observers (RCU; written under mmu_lock):
	 * KVM has no such list, but kvmmu's checkers walk every root the way
	 * they walk tdp_mmu_roots.  Shadow pages are freed after a grace
	 * period for the same reason.
	 */
	struct list_head shadow_root_pages;
	atomic64_t nr_pte_list_descs;     /* live rmap descriptors */
	/*
	 * Freed rmap descriptors, poisoned, until no lockless rmap walker
	 * (aging) can still hold one: a stack linked through ->more (see
	 * pte_list_desc_free()).  kvmmu's, not KVM's: a walker that breaks
	 * the rmap lock protocol reads poison instead of freed memory.
	 */
	struct pte_list_desc *_Atomic pte_list_quarantine;
	atomic64_t pte_list_desc_frees;   /* every so many, try to empty it */
	atomic_t rmap_lockless_walkers;   /* aging walks in progress */

	/* TDP MMU */
	struct list_head tdp_mmu_roots; /* RCU; written under tdp_mmu_pages_lock */
	spinlock_t tdp_mmu_pages_lock;
	atomic64_t tdp_mmu_pages;
	struct list_head possible_nx_huge_pages;
	u64 nr_possible_nx_huge_pages;
};

/*
 * Nested VMX as far as the MMU is concerned: whether the vCPU runs L2, and
 * the EPT pointer L1 gave it (vmcs12's EPT_POINTER), at VMLAUNCH/VMRESUME.
 */
struct kvm_vcpu_nested {
	bool guest_mode;
	u64 eptp;
	u64 vmexits;   /* exits reflected to L1 */
	u64 invepts;
};

struct kvm_vcpu_arch {
	struct kvm_mmu root_mmu;
	/* L2 under nested EPT: KVM's shadow of L1's EPT tables (EPT02). */
	struct kvm_mmu guest_mmu;
	struct kvm_mmu *mmu;
	struct kvm_vcpu_nested nested;
	struct kvm_mmu_memory_cache mmu_page_header_cache;
	struct kvm_mmu_table_cache mmu_shadow_page_cache;
	struct kvm_mmu_memory_cache mmu_pte_list_desc_cache;
	/* The exit being handled, for the fault path. */
	struct kvmmu_exit exit;
	/*
	 * The guest's paging registers as KVM knows them (the VMCS guest
	 * state and KVM's caches): what kvm_init_mmu() computes the CPU role
	 * from.
	 */
	u64 cr0, cr3, cr4, efer, rflags;
	u64 rip;
	u64 pdptrs[4];
	/*
	 * The last instruction and address a write-protection fault
	 * unprotected and retried (0: none): the same pair faulting again is
	 * emulated instead, or the vCPU could loop for ever.
	 */
	u64 last_retry_eip, last_retry_addr;
	/* Shadow paging: the gpa a fault being emulated as MMIO reported. */
	gpa_t mmio_gpa;
	u32 pkru;
	u8 cpl;
	int maxphyaddr;
	/*
	 * PML (VMX): the log page and the VMCS's index into it, written by
	 * the CPU in guest mode and by this vCPU's thread outside it; whether
	 * the VMCS has PML on (while any memslot logs dirty pages).
	 */
	u64 *pml_pg;
	u16 pml_index;
	bool pml_enabled;
};

/* ---- the VM and its vCPUs --------------------------------------------------- */

struct kvm_vcpu {
	struct kvm *kvm;
	int vcpu_id;
	int vcpu_idx;
	_Atomic int mode;
	_Atomic u64 requests;
	/*
	 * Kicks (IPIs): a sender bumps kick_req; the vCPU acknowledges by
	 * copying it to kick_ack whenever it leaves guest mode.  The hardware
	 * leaves guest mode while they differ.
	 */
	_Atomic u32 kick_req;
	_Atomic u32 kick_ack;
	struct kvm_vcpu_stat stat;
	struct kvm_dirty_ring dirty_ring;
	int srcu_idx; /* kvm->srcu, held outside guest mode in KVM_RUN */
	/*
	 * A signal for the vCPU thread: KVM_RUN returns -EINTR; a memory
	 * failure on guest memory (SIGBUS in the kernel) returns -EHWPOISON.
	 */
	_Atomic bool sigpending;
	bool hwpoison_pending;
	gpa_t hwpoison_gpa;
	struct kvm_memory_slot *last_used_slot;
	u64 last_used_slot_gen;
	/*
	 * This vCPU's share of kvm->stat.pages[]: changes made by its faults,
	 * written only by its own thread (relaxed load + store), folded in by
	 * readers of the VM's page counts.  Two vCPUs faulting at once so
	 * never write one cache line for the statistics.
	 */
	s64 pages_delta[KVM_NR_PAGE_SIZES];
	struct kvmmu_hw_vcpu *hw;
	struct kvm_vcpu_arch arch;
};

struct kvm {
	struct mm_struct *mm;
	const struct kvmmu_host_ops *host;
	const struct kvmmu_hw_ops *hw;
	void *hw_ctx;

	/*
	 * Alone in its cache line: every fault writes it (read_lock()), and
	 * the read-mostly pointers above are read by every fault too.
	 */
	rwlock_t mmu_lock ____cacheline_aligned;
	struct mutex lock ____cacheline_aligned; /* vCPU creation, capabilities */
	struct mutex slots_lock;      /* memslot updates, dirty-log ioctls */
	struct mutex slots_arch_lock; /* arch memslot metadata vs. swaps */
	struct srcu_struct srcu;      /* memslot readers */

	struct kvm_memslots __memslots[KVM_ADDRESS_SPACE_NUM][2];
	struct kvm_memslots *memslots[KVM_ADDRESS_SPACE_NUM]; /* SRCU */
	/*
	 * The address spaces userspace may name (kvm_arch_nr_memslot_as_ids()):
	 * 2, or 1 as in a KVM built without CONFIG_KVM_SMM.  Storage is kept
	 * for KVM_ADDRESS_SPACE_NUM either way.
	 */
	int nr_memslot_as_ids;
	u64 nr_memslot_pages;
	u32 nr_memslots_dirty_logging;
	/*
	 * kvmmu: slots freed after a DELETE or MOVE, newest first, their arch
	 * metadata poisoned (slots_lock; see kvm_memslot_meta_freed()), and
	 * the bytes of metadata they keep.
	 */
	struct kvm_memory_slot *freed_memslots;
	u64 freed_memslot_bytes;

	struct kvm_vcpu *vcpus[KVM_MAX_VCPUS];
	_Atomic int online_vcpus;
	int created_vcpus;

	/* mmu_notifier */
	struct mmu_notifier mmu_notifier;
	u64 mmu_invalidate_seq;
	long mmu_invalidate_in_progress;
	gfn_t mmu_invalidate_range_start;
	gfn_t mmu_invalidate_range_end;
	spinlock_t mn_invalidate_lock;
	unsigned long mn_active_invalidate_count;
	struct wait_queue_head mn_memslots_update_wq;

	/* dirty logging */
	u64 manual_dirty_log_protect;
	u32 dirty_ring_size; /* bytes */
	bool dirty_ring_with_bitmap;

	struct kvm_vm_stat stat;
	struct kvm_arch arch;
	bool vm_bugged;
	bool vm_dead;
};

/* KVM_BUG_ON(): mark the VM bugged and make every vCPU exit. */
void kvm_vm_bugged(struct kvm *kvm);

struct kvm_gfn_range {
	struct kvm_memory_slot *slot;
	gfn_t start;
	gfn_t end;
	bool may_block;
	bool lockless;
};

/* ---- memslot helpers -------------------------------------------------------- */

static inline struct kvm_memslots *__kvm_memslots(struct kvm *kvm, int as_id)
{
	/* Acquire: pairs with the release that published the set. */
	return srcu_dereference(kvm->memslots[as_id], &kvm->srcu);
}

static inline struct kvm_memslots *kvm_memslots(struct kvm *kvm)
{
	return __kvm_memslots(kvm, 0);
}

static inline unsigned long kvm_dirty_bitmap_bytes(const struct kvm_memory_slot *slot)
{
	return ALIGN(slot->npages, BITS_PER_LONG) / 8;
}

static inline unsigned long *kvm_second_dirty_bitmap(struct kvm_memory_slot *slot)
{
	return slot->dirty_bitmap + kvm_dirty_bitmap_bytes(slot) / sizeof(long);
}

static inline bool kvm_slot_dirty_track_enabled(const struct kvm_memory_slot *slot)
{
	return slot->flags & KVM_MEM_LOG_DIRTY_PAGES;
}

static inline unsigned long __gfn_to_hva_memslot(const struct kvm_memory_slot *slot,
						 gfn_t gfn)
{
	return slot->userspace_addr + (gfn - slot->base_gfn) * PAGE_SIZE;
}

static inline gfn_t hva_to_gfn_memslot(unsigned long hva,
				       const struct kvm_memory_slot *slot)
{
	return slot->base_gfn + ((hva - slot->userspace_addr) >> PAGE_SHIFT);
}

static inline bool kvm_is_slot_invalid(const struct kvm_memory_slot *slot)
{
	return slot->flags & KVM_MEMSLOT_INVALID;
}

void __kvm_memslot_meta_touched(const struct kvm_memory_slot *slot, gfn_t gfn,
				enum kvmmu_slot_meta meta, bool write);

/*
 * Is @slot's arch metadata freed (the slot was deleted or moved away)?
 * Then the touch of array @meta at @gfn is reported (KVMMU_EV_SLOT_META_TOUCH)
 * and the caller must leave the metadata alone.  Every accessor of the
 * rmaps, write-track counts and lpage_info that may be handed a slot asks.
 */
static inline bool kvm_memslot_meta_freed(const struct kvm_memory_slot *slot, gfn_t gfn,
					  enum kvmmu_slot_meta meta, bool write)
{
	if (likely(!(slot->flags & KVM_MEMSLOT_FREED)))
		return false;
	__kvm_memslot_meta_touched(slot, gfn, meta, write);
	return true;
}

/*
 * The freed slot of address space @as_id that held @gfn last (newest
 * first), or NULL: the metadata a lookup KVM does not check would have
 * reached for once the live slot was gone (seed 002).  Any context: the
 * list is published with release stores and slots never leave it before
 * the VM goes.
 */
struct kvm_memory_slot *kvm_freed_memslot(struct kvm *kvm, int as_id, gfn_t gfn);

struct kvm_memory_slot *__gfn_to_memslot(struct kvm_memslots *slots, gfn_t gfn);
struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn);
struct kvm_memory_slot *kvm_vcpu_gfn_to_memslot(struct kvm_vcpu *vcpu, gfn_t gfn);
struct kvm_memory_slot *id_to_memslot(struct kvm_memslots *slots, int id);
bool kvm_is_visible_gfn(struct kvm *kvm, gfn_t gfn);

/*
 * Call @fn on every slot of @slots whose hva range intersects [start, end),
 * INVALID slots included.
 */
void kvm_for_each_memslot_in_hva_range(struct kvm_memslots *slots,
				       unsigned long start, unsigned long end,
				       void (*fn)(struct kvm_memory_slot *slot, void *arg),
				       void *arg);

/* Every slot of @slots, by gfn (INVALID slots included). */
#define kvm_for_each_memslot(_slot, _i, _slots)                               \
	for ((_i) = 0; (_i) < (_slots)->nr && (((_slot) = (_slots)->by_gfn[(_i)]), 1); (_i)++)

int kvm_memslots_init(struct kvm *kvm, u64 generation);
void kvm_memslots_destroy(struct kvm *kvm);
int kvm_set_memory_region(struct kvm *kvm,
			  const struct kvm_userspace_memory_region2 *mem);

/* ---- requests ----------------------------------------------------------------- */

static inline void kvm_make_request(int req, struct kvm_vcpu *vcpu)
{
	/*
	 * seq_cst RMW: the request is visible before any later check of the
	 * vCPU's mode (pairs with the mode exchange in the run loop).
	 */
	/*
	 * Reported before it is made: the vCPU can act on the request only
	 * after the RMW below, so an observer sees the request before the
	 * vCPU's flush that answers it.
	 */
	kvmmu_observe(KVMMU_EV_VCPU_REQUEST, vcpu, .vcpu = vcpu->vcpu_id,
		      .request = req & KVM_REQUEST_MASK);
	atomic_fetch_or(&vcpu->requests, BIT_ULL(req & KVM_REQUEST_MASK));
}

static inline bool kvm_request_pending(struct kvm_vcpu *vcpu)
{
	return atomic_load(&vcpu->requests) != 0;
}

static inline bool kvm_test_request(int req, struct kvm_vcpu *vcpu)
{
	return atomic_load(&vcpu->requests) & BIT_ULL(req & KVM_REQUEST_MASK);
}

static inline bool kvm_check_request(int req, struct kvm_vcpu *vcpu)
{
	/* seq_cst RMW: the request's data is visible after (kvm_make_request). */
	return atomic_fetch_and(&vcpu->requests, ~BIT_ULL(req & KVM_REQUEST_MASK)) &
	       BIT_ULL(req & KVM_REQUEST_MASK);
}

bool kvm_make_all_cpus_request(struct kvm *kvm, unsigned int req);
void kvm_vcpu_kick(struct kvm_vcpu *vcpu);
/* The vCPU left guest mode: acknowledge every kick so far. */
void kvm_vcpu_ack_kicks(struct kvm_vcpu *vcpu);
void kvm_flush_remote_tlbs(struct kvm *kvm);
void kvm_flush_remote_tlbs_range(struct kvm *kvm, gfn_t gfn, u64 nr_pages);
void kvm_flush_remote_tlbs_memslot(struct kvm *kvm, const struct kvm_memory_slot *slot);

#define kvm_for_each_vcpu(idx, vcpu, kvm)                                     \
	for ((idx) = 0; (idx) < atomic_load(&(kvm)->online_vcpus) &&          \
			((vcpu) = READ_ONCE((kvm)->vcpus[idx])) != NULL;      \
	     (idx)++)

/* The vCPU created @i-th, or NULL (kvm_get_vcpu()). */
static inline struct kvm_vcpu *kvm_get_vcpu(struct kvm *kvm, int i)
{
	if (i < 0 || i >= atomic_load(&kvm->online_vcpus))
		return NULL;
	return READ_ONCE(kvm->vcpus[i]);
}

/* The vCPU whose id is @id, or NULL (kvm_get_vcpu_by_id()). */
static inline struct kvm_vcpu *kvm_get_vcpu_by_id(struct kvm *kvm, int id)
{
	struct kvm_vcpu *vcpu;
	int i;

	if (id < 0)
		return NULL;
	/* Ids are usually creation indices: try there first, as KVM does. */
	vcpu = kvm_get_vcpu(kvm, id);
	if (vcpu && vcpu->vcpu_id == id)
		return vcpu;
	kvm_for_each_vcpu(i, vcpu, kvm) {
		if (vcpu->vcpu_id == id)
			return vcpu;
	}
	return NULL;
}

/* The vCPU the calling thread runs, if any. */
struct kvm_vcpu *kvm_get_running_vcpu(void);
/* vcpu_load()/vcpu_put(): the calling thread acts for @vcpu (KVM_RUN, vCPU ioctls). */
void vcpu_load(struct kvm_vcpu *vcpu);
void vcpu_put(struct kvm_vcpu *vcpu);

/* ---- pfn lookup ------------------------------------------------------------------- */

/*
 * Look up (and fault in) the pfn behind @gfn of @slot for a fault.  FOLL_*
 * in @foll; *@writable says whether a read fault may map writable, and
 * *@refcounted_page receives the page whose reference the caller now owns
 * (NULL for memory that is not refcounted).  Returns a pfn or an error pfn.
 */
kvm_pfn_t __kvm_faultin_pfn(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t gfn,
			    unsigned int foll, bool *writable, struct page **refcounted_page);
/*
 * Release the reference from a fault's lookup: under mmu_lock unless
 * @unused (nothing was installed); @dirty (the host allowed writes) marks
 * the folio dirty, since a writable SPTE may now exist or appear later
 * without mmu_lock.
 */
void kvm_release_faultin_page(struct kvm *kvm, struct page *page, bool unused, bool dirty);

/* ---- the mmu_notifier retry protocol ------------------------------------------ */

void kvm_mmu_invalidate_begin(struct kvm *kvm);
void kvm_mmu_invalidate_range_add(struct kvm *kvm, gfn_t start, gfn_t end);
void kvm_mmu_invalidate_end(struct kvm *kvm);

/*
 * Must a fault that sampled @mmu_seq before its pfn lookup retry?  Yes if an
 * invalidation covering @gfn is in progress, or if any invalidation ended
 * since the sample.  Called under mmu_lock.
 */
static inline bool mmu_invalidate_retry_gfn(struct kvm *kvm, u64 mmu_seq, gfn_t gfn)
{
	lockdep_assert_held(&kvm->mmu_lock);
	if (unlikely(READ_ONCE(kvm->mmu_invalidate_in_progress))) {
		if (WARN_ON_ONCE(READ_ONCE(kvm->mmu_invalidate_range_start) == INVALID_GPA))
			return true;
		if (gfn >= READ_ONCE(kvm->mmu_invalidate_range_start) &&
		    gfn < READ_ONCE(kvm->mmu_invalidate_range_end))
			return true;
	}
	return READ_ONCE(kvm->mmu_invalidate_seq) != mmu_seq;
}

/*
 * The same, without mmu_lock: false positives and negatives are possible,
 * so a "no" must be confirmed under the lock.  It lets a fault give up
 * early instead of contending with an invalidation in flight.
 */
static inline bool mmu_invalidate_retry_gfn_unsafe(struct kvm *kvm, u64 mmu_seq,
						   gfn_t gfn)
{
	if (unlikely(READ_ONCE(kvm->mmu_invalidate_in_progress)) &&
	    gfn >= READ_ONCE(kvm->mmu_invalidate_range_start) &&
	    gfn < READ_ONCE(kvm->mmu_invalidate_range_end))
		return true;
	return READ_ONCE(kvm->mmu_invalidate_seq) != mmu_seq;
}

/* ---- dirty logging ------------------------------------------------------------- */

void mark_page_dirty_in_slot(struct kvm *kvm, const struct kvm_memory_slot *memslot,
			     gfn_t gfn);
int kvm_dirty_ring_alloc(struct kvm *kvm, struct kvm_dirty_ring *ring, int index,
			 u32 size);
void kvm_dirty_ring_free(struct kvm_dirty_ring *ring);
void kvm_dirty_ring_push(struct kvm_vcpu *vcpu, u32 slot, u64 offset);
bool kvm_dirty_ring_soft_full(struct kvm_dirty_ring *ring);
int kvm_dirty_ring_reset(struct kvm *kvm, struct kvm_dirty_ring *ring);
u32 kvm_dirty_ring_get_rsvd_entries(struct kvm *kvm);
void kvm_vcpu_mark_page_dirty(struct kvm_vcpu *vcpu, gfn_t gfn);

/* PML (x86.c): the first entry the CPU fills; it counts down from here. */
#define PML_HEAD_INDEX (KVMMU_PML_ENTRIES - 1)
void kvm_mmu_update_cpu_dirty_logging(struct kvm *kvm, bool enable);
void kvm_arch_sync_dirty_log(struct kvm *kvm, struct kvm_memory_slot *memslot);

static inline bool kvm_use_dirty_bitmap(struct kvm *kvm)
{
	return !kvm->dirty_ring_size || kvm->dirty_ring_with_bitmap;
}

static inline bool kvm_dirty_log_manual_protect_and_init_set(struct kvm *kvm)
{
	return !!(kvm->manual_dirty_log_protect & KVM_DIRTY_LOG_INITIALLY_SET);
}

/* ---- quirks --------------------------------------------------------------------- */

#define KVM_X86_VALID_QUIRKS (KVM_X86_QUIRK_SLOT_ZAP_ALL)

static inline bool kvm_check_has_quirk(struct kvm *kvm, u64 quirk)
{
	return !(kvm->arch.disabled_quirks & quirk);
}

/* ---- entry points into the architecture / MMU (src/mmu) ------------------------ */

int kvm_arch_init_vm(struct kvm *kvm, const struct kvmmu_vm_config *cfg);
void kvm_arch_destroy_vm(struct kvm *kvm);
void kvm_unload_vcpu_mmus(struct kvm *kvm);
/* The guest takes @fault (a #PF its own tables cause) at the next entry. */
void kvm_inject_emulated_page_fault(struct kvm_vcpu *vcpu, const struct x86_exception *fault);
/* nested.c: nested VMX's exits, and L2's faults in L1's EPT tables. */
int kvm_handle_nested_exit(struct kvm_vcpu *vcpu, const struct kvmmu_exit *exit,
			   struct kvmmu_run *run);
void nested_ept_inject_page_fault(struct kvm_vcpu *vcpu, const struct x86_exception *fault);
int kvm_arch_vcpu_create(struct kvm_vcpu *vcpu);
void kvm_arch_vcpu_destroy(struct kvm_vcpu *vcpu);
int kvm_arch_vcpu_ioctl_run(struct kvm_vcpu *vcpu, struct kvmmu_run *run);
/* Map one piece of @range; returns the bytes covered or -errno. */
long kvm_arch_vcpu_pre_fault_memory(struct kvm_vcpu *vcpu, struct kvm_pre_fault_memory *range);

enum kvm_mr_change {
	KVM_MR_CREATE,
	KVM_MR_DELETE,
	KVM_MR_MOVE,
	KVM_MR_FLAGS_ONLY,
};

int kvm_arch_prepare_memory_region(struct kvm *kvm,
				   const struct kvm_memory_slot *old,
				   struct kvm_memory_slot *new,
				   enum kvm_mr_change change);
void kvm_arch_commit_memory_region(struct kvm *kvm, struct kvm_memory_slot *old,
				   const struct kvm_memory_slot *new,
				   enum kvm_mr_change change);
void kvm_arch_free_memslot(struct kvm *kvm, struct kvm_memory_slot *slot);
/* Poison @slot's arch metadata, which stays allocated. */
void kvm_arch_poison_memslot(struct kvm *kvm, struct kvm_memory_slot *slot);
/* The bytes @slot's arch metadata holds. */
u64 kvm_arch_memslot_metadata_bytes(const struct kvm_memory_slot *slot);
void kvm_arch_memslots_updated(struct kvm *kvm, u64 gen);
void kvm_arch_flush_shadow_memslot(struct kvm *kvm, struct kvm_memory_slot *slot);
void kvm_arch_flush_shadow_all(struct kvm *kvm);
gfn_t kvm_mmu_max_gfn(struct kvm *kvm);

bool kvm_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range);
bool kvm_age_gfn(struct kvm *kvm, struct kvm_gfn_range *range);
bool kvm_test_age_gfn(struct kvm *kvm, struct kvm_gfn_range *range);
void kvm_arch_mmu_enable_log_dirty_pt_masked(struct kvm *kvm,
					     struct kvm_memory_slot *slot,
					     gfn_t gfn_offset, unsigned long mask);
/* x86 ages without mmu_lock (TDP MMU under RCU), as Linux does since 6.15. */
#define KVM_MMU_LOCKLESS_AGING 1

#endif /* KVMMU_KVM_KVM_HOST_H */
