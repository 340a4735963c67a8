/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The host kernel model: the VMM's address space (struct mm_struct), its
 * VMAs and page tables, the mmu_notifier chain, files and swap, the host
 * operations that move and free memory under a secondary MMU, and the pfn
 * lookup KVM uses.
 *
 * Every operation that changes or removes a mapping runs the mmu_notifier
 * protocol as Linux does: invalidate_range_start() returns before the first
 * entry changes, invalidate_range_end() is called after the last.
 *
 * Reference counting: every leaf mapping (PTE, or PMD/PUD for huge pages)
 * holds one reference on its folio, the page cache holds one on each cached
 * folio, and lookups with FOLL_GET add transient ones.  Operations that
 * replace or drop a page freeze its count at the expected value first, so a
 * concurrent lookup can never take a reference on a page being torn down,
 * and a page with a transient reference is skipped (-EAGAIN), as in Linux.
 *
 * Locking (outermost first): mmap_lock (rw_semaphore: VMAs), i_mmap_rwsem
 * (a file's mappings), the notifier callbacks (the secondary MMU's locks),
 * ptl (spinlock: every host page-table change), the page cache lock, the
 * allocator lock.  Lockless lookups (the GUP-fast path, the mapping level)
 * walk the page tables under RCU; page-table frames are freed after a
 * grace period.
 */
#ifndef KVMMU_HOST_HOST_MM_H
#define KVMMU_HOST_HOST_MM_H

#include <kvmmu/host.h>

#include "host_phys.h"
#include "list.h"
#include "lock.h"
#include "srcu.h"
#include "types.h"

/* ---- host page-table entries (the host's own format) --------------------- */

#define HPTE_PRESENT BIT_ULL(0)
#define HPTE_WRITE BIT_ULL(1)
#define HPTE_ACCESSED BIT_ULL(5)
#define HPTE_DIRTY BIT_ULL(6)
#define HPTE_HUGE BIT_ULL(7)     /* a leaf at level 2 (2M) or 3 (1G) */
#define HPTE_SPECIAL BIT_ULL(9)  /* PFNMAP: the pfn is not refcounted */
#define HPTE_SWAP BIT_ULL(10)    /* not present: a swap slot in the pfn field */
#define HPTE_HWPOISON BIT_ULL(11) /* not present: the page was poisoned */
#define HPTE_PFN_MASK GENMASK_ULL(51, 12)

#define HOST_PT_LEVELS 4 /* 1: PTE, 2: PMD, 3: PUD, 4: PGD */

static inline bool hpte_present(u64 e)
{
	return e & HPTE_PRESENT;
}

static inline bool hpte_leaf(u64 e, int level)
{
	return level == 1 || (e & HPTE_HUGE);
}

static inline u64 hpte_pfn(u64 e)
{
	return (e & HPTE_PFN_MASK) >> PAGE_SHIFT;
}

static inline u64 hpte_make(u64 pfn, u64 bits)
{
	return (pfn << PAGE_SHIFT) | bits;
}

/* Bytes mapped by one entry at @level: 4K, 2M, 1G. */
static inline u64 host_level_size(int level)
{
	return 1ULL << (PAGE_SHIFT + (level - 1) * 9);
}

/* The frame behind @addr in a leaf entry @e at @level. */
static inline u64 hpte_subpage_pfn(u64 e, int level, unsigned long addr)
{
	return hpte_pfn(e) + ((addr & (host_level_size(level) - 1)) >> PAGE_SHIFT);
}

/* ---- VMAs ------------------------------------------------------------------ */

/* The kernel's vm_flags values. */
#define VM_READ 0x00000001UL
#define VM_WRITE 0x00000002UL
#define VM_SHARED 0x00000008UL
#define VM_PFNMAP 0x00000400UL
#define VM_IO 0x00004000UL
#define VM_HUGETLB 0x00400000UL
#define VM_HUGEPAGE 0x20000000UL

enum host_backing {
	HOST_BACKING_ANON,    /* private anonymous (THP with VM_HUGEPAGE) */
	HOST_BACKING_FILE,    /* a shared mapping of a struct host_file */
	HOST_BACKING_HUGETLB, /* hugetlbfs, 2 MiB or 1 GiB pages */
	HOST_BACKING_DRIVER,  /* VM_PFNMAP|VM_IO: a driver's higher-order block */
};

struct host_file;

struct vm_area_struct {
	struct list_head link; /* mm->vmas, sorted */
	struct mm_struct *mm;
	unsigned long vm_start, vm_end;
	unsigned long vm_flags;
	enum host_backing backing;
	unsigned int order; /* HUGETLB: 9 or 18; DRIVER: block order */
	struct host_file *file;
	u64 pgoff;             /* FILE: page index of vm_start */
	struct list_head file_link; /* file->i_mmap */
	u64 driver_pfn;        /* DRIVER: first pfn mapped at vm_start */
	u64 driver_block;      /* DRIVER: the block freed when the last VMA goes */
};

/* ---- swap ------------------------------------------------------------------ */

struct host_swap {
	spinlock_t lock;
	u64 nr;        /* slots created */
	u64 cap;
	u64 *words;    /* tag mode: one word per slot */
	u8 **pages;    /* data mode: 4 KiB per slot */
	u32 *free;     /* a stack of free slot numbers */
	u64 nr_free;
	atomic64_t in_use;
};

/* ---- the address space ----------------------------------------------------- */

struct mm_struct {
	struct host_phys *phys;
	struct rw_semaphore mmap_lock;
	struct list_head vmas;
	unsigned long mmap_base; /* where the next unhinted mapping goes */
	spinlock_t ptl;          /* every host page-table change */
	u64 pgd;                 /* pfn of the root table */

	spinlock_t notifier_lock; /* the subscription list, for writers */
	struct mmu_notifier *subscriptions;
	struct srcu_struct notifier_srcu;
	bool released;

	struct host_swap swap;
	atomic64_t nr_tables;
};

/* ---- files ----------------------------------------------------------------- */

struct host_file {
	struct host_phys *phys;
	u64 nr_pages;
	bool thp;            /* the page cache uses 2 MiB folios where it can */
	spinlock_t lock;     /* the page cache */
	u32 *cache;          /* index -> pfn of the cached page, 0: not cached */
	u64 *store_words;    /* tag mode: the file's contents, a word per page */
	u8 **store_pages;    /* data mode: 4 KiB per page, NULL reads as zeros */
	struct rw_semaphore i_mmap_rwsem;
	struct list_head i_mmap; /* the VMAs mapping this file */
	struct mutex io_mutex;   /* serialises writeback and reclaim */
	atomic64_t nr_cached;
};

/* ---- life cycle ------------------------------------------------------------ */

int host_mm_create(struct host_phys *phys, struct mm_struct **out);
/* mm teardown: notifier release, then every mapping and table is freed. */
void host_mm_destroy(struct mm_struct *mm);

int host_file_create(struct host_phys *phys, u64 nr_pages, bool thp,
		     struct host_file **out);
/* The file must no longer be mapped. */
void host_file_destroy(struct host_file *file);

/* ---- mappings -------------------------------------------------------------- */

struct host_mmap_args {
	unsigned long len;
	unsigned long vm_flags; /* VM_READ, VM_WRITE, VM_HUGEPAGE (anon THP) */
	enum host_backing backing;
	struct host_file *file; /* FILE */
	u64 pgoff;              /* FILE: first page index */
	unsigned int order;     /* HUGETLB: 9 or 18; DRIVER: block order */
	unsigned long addr;     /* 0: let the host choose */
};

/* Return: 0 and the address in *@addr, or -EINVAL, -ENOMEM, -EEXIST. */
int host_mmap(struct mm_struct *mm, const struct host_mmap_args *args,
	      unsigned long *addr);
int host_munmap(struct mm_struct *mm, unsigned long addr, unsigned long len);
/* @vm_flags: VM_READ and/or VM_WRITE. */
int host_mprotect(struct mm_struct *mm, unsigned long addr, unsigned long len,
		  unsigned long vm_flags);

/* ---- operations under a secondary MMU --------------------------------------- */

/* madvise(MADV_DONTNEED): unmap and free; anonymous memory reads back 0. */
int host_madvise_dontneed(struct mm_struct *mm, unsigned long addr,
			  unsigned long len);
/* Move every mapped page in the range to a new frame (page migration). */
int host_migrate(struct mm_struct *mm, unsigned long addr, unsigned long len,
		 unsigned long *nr_moved);
/* Write anonymous 4K pages in the range to swap and free them. */
int host_swap_out(struct mm_struct *mm, unsigned long addr, unsigned long len,
		  unsigned long *nr_swapped);
/* Split the anonymous THP at @addr into 512 base pages. */
int host_thp_split(struct mm_struct *mm, unsigned long addr);
/* Collapse the 512 base pages of the 2 MiB region at @addr into a THP. */
int host_thp_collapse(struct mm_struct *mm, unsigned long addr);
/* memory_failure(): poison the page at @addr and unmap it. */
int host_memory_failure(struct mm_struct *mm, unsigned long addr);

/* Aging: host accessed bits and every subscriber's. */
bool host_clear_young(struct mm_struct *mm, unsigned long start, unsigned long end);
bool host_clear_flush_young(struct mm_struct *mm, unsigned long start,
			    unsigned long end);
bool host_test_young(struct mm_struct *mm, unsigned long start, unsigned long end);

/* Write back the file's dirty pages in [index, index + nr). */
int host_file_writeback(struct host_file *file, u64 index, u64 nr);
/*
 * Reclaim the file's cached pages in [index, index + nr): dirty pages are
 * written back first; clean pages are unmapped and dropped, to be read
 * from the file again on the next touch.  Pages with extra references
 * (a lookup in flight) are skipped.
 */
int host_file_reclaim(struct host_file *file, u64 index, u64 nr,
		      unsigned long *nr_dropped);
/* The file's stored word at page @index, @offset (what a re-read returns). */
u64 host_file_stored_word(struct host_file *file, u64 index, unsigned int offset);

/*
 * An access by the VMM itself (a CPU access through the host page tables):
 * faults in as needed; a write marks the PTE and the folio dirty.
 * Return: 0, -EFAULT (no mapping or no permission), -EHWPOISON, -ENOMEM.
 */
int host_access(struct mm_struct *mm, unsigned long addr, bool write, u64 *val);
/* The aligned word at @addr, if mapped now: no fault, no sleep (ptl only). */
int host_access_nofault(struct mm_struct *mm, unsigned long addr, u64 *val);
/*
 * The same as a locked compare-exchange of the @size (4 or 8) bytes at
 * @addr, aligned, data mode only: 0 stored, 1 they were not *@old (it now
 * holds them), or host_access()'s errors and -EINVAL.
 */
int host_access_cmpxchg(struct mm_struct *mm, unsigned long addr, int size, u64 *old,
			u64 new_val);

/* ---- for KVM --------------------------------------------------------------- */

kvmmu_pfn_t host_follow_pfn(struct mm_struct *mm, struct kvm_follow_pfn *foll);
int host_mapping_level(struct mm_struct *mm, unsigned long hva);
int host_mmu_notifier_register(struct mmu_notifier *subscription,
			       struct mm_struct *mm);
void host_mmu_notifier_unregister(struct mmu_notifier *subscription,
				  struct mm_struct *mm);

/* The ops table the core is given. */
extern const struct kvmmu_host_ops host_kvm_ops;

/* ---- internals shared by the host's files ----------------------------------- */

/* Page tables (pgtable.c). */
int host_pgtable_init(struct mm_struct *mm);
void host_pgtable_free_all(struct mm_struct *mm);
/* Lockless: the entry mapping @addr and its level (caller in rcu_read_lock). */
u64 host_pgtable_lookup(struct mm_struct *mm, unsigned long addr, int *level);
/*
 * Under ptl: the slot for @addr at @level, allocating tables if @alloc.
 * NULL if a huge leaf above @level covers @addr, or allocation failed.
 */
_Atomic u64 *host_pgtable_slot(struct mm_struct *mm, unsigned long addr,
			       int level, bool alloc);
/* Under ptl: the slot of the leaf (or none entry) mapping @addr, and its level. */
_Atomic u64 *host_pgtable_leaf(struct mm_struct *mm, unsigned long addr, int *level);
/* Free a detached page-table frame after a grace period. */
void host_pgtable_free_rcu(struct mm_struct *mm, u64 pfn);

/* VMAs (mm.c); caller holds mmap_lock. */
struct vm_area_struct *host_find_vma(struct mm_struct *mm, unsigned long addr);

/* Notifier dispatch (notifier.c). */
void mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range);
void mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range);
void mmu_notifier_release(struct mm_struct *mm);

/* Faults (fault.c); caller holds mmap_lock for read. */
#define FAULT_FLAG_WRITE (1U << 0)
#define FAULT_FLAG_NOWAIT (1U << 1)  /* fail with -EAGAIN rather than do I/O */
#define FAULT_FLAG_FROM_GUP (1U << 2) /* for a secondary MMU: no dirtying */
int handle_mm_fault(struct vm_area_struct *vma, unsigned long addr, unsigned int flags);

/* Zap the leaves of [start, end) in @vma (ptl taken inside); notifier is the caller's. */
void host_zap_range(struct vm_area_struct *vma, unsigned long start, unsigned long end);

/* Swap slots (swap.c). */
int host_swap_init(struct mm_struct *mm);
void host_swap_release(struct mm_struct *mm);
long host_swap_store(struct mm_struct *mm, u64 pfn);
void host_swap_load(struct mm_struct *mm, u64 slot, u64 pfn);
void host_swap_free(struct mm_struct *mm, u64 slot);

/* Page cache (file.c). */
u64 host_file_index(struct vm_area_struct *vma, unsigned long addr);
/*
 * Find or read in the page of @index, with a reference for the caller.
 * Return: its pfn, 0 on -ENOMEM, or -EAGAIN in *@err with @nowait and a
 * read needed.
 */
u64 host_file_get_page(struct host_file *file, u64 index, bool nowait, int *err);

#endif /* KVMMU_HOST_HOST_MM_H */
