/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The host contract: what the MMU core may ask of the host kernel model.
 *
 * kvmmu's core (src/kvm, src/mmu) never includes the host model.  It sees
 * the host as the kernel's KVM sees Linux: an opaque struct mm_struct (the
 * VMM's address space), opaque struct page frames, the mmu_notifier API and
 * a pfn lookup in the shape of kvm_follow_pfn().  The host model fills in
 * struct kvmmu_host_ops (src/host) and tests may fill in fakes.
 *
 * Names and semantics follow the kernel: mmu_notifier ranges are [start, end)
 * host virtual addresses, invalidate_range_start() returns before the host
 * changes a mapping and invalidate_range_end() after, and once
 * invalidate_range_start() has returned the secondary MMU must hold no
 * mapping of, and take no action on, any page in the range.
 */
#ifndef KVMMU_HOST_H
#define KVMMU_HOST_H

#include <stdbool.h>
#include <stdint.h>

struct mm_struct; /* the host address space (the VMM process) */
struct page;      /* a host page frame */
struct mmu_notifier;

/* ---- pfns as KVM returns them -------------------------------------------- */

typedef uint64_t kvmmu_pfn_t;

/* Error pfns (include/linux/kvm_host.h values). */
#define KVM_PFN_ERR_MASK (0x7ffULL << 52)
#define KVM_PFN_ERR_NOSLOT_MASK (0xfffULL << 52)
#define KVM_PFN_NOSLOT (0x1ULL << 63)
#define KVM_PFN_ERR_FAULT (KVM_PFN_ERR_MASK)
#define KVM_PFN_ERR_HWPOISON (KVM_PFN_ERR_MASK + 1)
#define KVM_PFN_ERR_RO_FAULT (KVM_PFN_ERR_MASK + 2)
#define KVM_PFN_ERR_SIGPENDING (KVM_PFN_ERR_MASK + 3)
#define KVM_PFN_ERR_NEEDS_IO (KVM_PFN_ERR_MASK + 4)

static inline bool is_error_pfn(kvmmu_pfn_t pfn)
{
	return !!(pfn & KVM_PFN_ERR_MASK);
}

static inline bool is_error_noslot_pfn(kvmmu_pfn_t pfn)
{
	return !!(pfn & KVM_PFN_ERR_NOSLOT_MASK);
}

static inline bool is_noslot_pfn(kvmmu_pfn_t pfn)
{
	return pfn == KVM_PFN_NOSLOT;
}

/* ---- mmu_notifier ---------------------------------------------------------- */

enum mmu_notifier_event {
	MMU_NOTIFY_UNMAP = 0,       /* munmap */
	MMU_NOTIFY_CLEAR,           /* zap: DONTNEED, swap-out, migration, THP */
	MMU_NOTIFY_PROTECTION_VMA,  /* mprotect */
	MMU_NOTIFY_PROTECTION_PAGE, /* write-protection for writeback */
	MMU_NOTIFY_SOFT_DIRTY,
	MMU_NOTIFY_RELEASE,         /* the mm goes away */
	MMU_NOTIFY_MIGRATE,
	MMU_NOTIFY_EXCLUSIVE,
};

#define MMU_NOTIFIER_RANGE_BLOCKABLE (1 << 0)

struct mmu_notifier_range {
	struct mm_struct *mm;
	unsigned long start; /* host virtual address, inclusive */
	unsigned long end;   /* exclusive */
	unsigned int flags;  /* MMU_NOTIFIER_RANGE_BLOCKABLE */
	enum mmu_notifier_event event;
};

static inline bool
mmu_notifier_range_blockable(const struct mmu_notifier_range *range)
{
	return range->flags & MMU_NOTIFIER_RANGE_BLOCKABLE;
}

/**
 * struct mmu_notifier_ops - callbacks of a secondary MMU
 * @release:                the mm is being torn down; drop every mapping.
 * @clear_flush_young:      age [start, end): clear accessed state; return
 *                          whether any page was young.  A flush of the
 *                          secondary TLB is allowed, not required.
 * @clear_young:            the same, without flushing.
 * @test_young:             is any page in [start, end) young?  No change.
 * @invalidate_range_start: the host is about to change mappings in
 *                          range.  On return nothing in the range may be
 *                          mapped.  May return -EAGAIN only when the range
 *                          is not blockable.
 * @invalidate_range_end:   the change is done.
 *
 * Every member may be NULL.
 */
struct mmu_notifier_ops {
	void (*release)(struct mmu_notifier *subscription, struct mm_struct *mm);
	bool (*clear_flush_young)(struct mmu_notifier *subscription,
				  struct mm_struct *mm, unsigned long start,
				  unsigned long end);
	bool (*clear_young)(struct mmu_notifier *subscription,
			    struct mm_struct *mm, unsigned long start,
			    unsigned long end);
	bool (*test_young)(struct mmu_notifier *subscription,
			   struct mm_struct *mm, unsigned long start,
			   unsigned long end);
	int (*invalidate_range_start)(struct mmu_notifier *subscription,
				      const struct mmu_notifier_range *range);
	void (*invalidate_range_end)(struct mmu_notifier *subscription,
				     const struct mmu_notifier_range *range);
};

/* Embedded by the subscriber; the host owns the linkage fields. */
struct mmu_notifier {
	const struct mmu_notifier_ops *ops;
	struct mm_struct *mm;
	struct mmu_notifier *next; /* host-private: the subscription list */
	struct mmu_notifier **pprev;
};

/* ---- pfn lookup ------------------------------------------------------------ */

/* Input flags of a pfn lookup (the FOLL_* flags KVM passes to GUP). */
#define FOLL_WRITE (1U << 0)  /* the access writes: break CoW, need W */
#define FOLL_GET (1U << 1)    /* take a reference on a refcounted page */
#define FOLL_NOWAIT (1U << 2) /* fail with NEEDS_IO rather than do I/O */

/**
 * struct kvm_follow_pfn - a pfn lookup, in the shape of KVM's
 * @hva:             the host virtual address to look up
 * @flags:           FOLL_*
 * @map_writable:    in: the caller would map a read fault writable if
 *                   the host allowed it; out: whether it may map writable
 * @refcounted_page: out: the page whose reference the caller now owns
 *                   (FOLL_GET on refcounted memory), or NULL
 */
struct kvm_follow_pfn {
	unsigned long hva;
	unsigned int flags;
	bool map_writable;
	struct page *refcounted_page;
};

/* Frame states, for the checks callers may make before touching a frame. */
enum kvmmu_frame_state {
	KVMMU_FRAME_FREE = 0,
	KVMMU_FRAME_ALLOCATED = 1,
	KVMMU_FRAME_QUARANTINED = 2,
};

/**
 * struct kvmmu_host_ops - the host kernel, as the MMU core sees it
 * @follow_pfn:         look up (and fault in) the pfn behind foll->hva.
 *                      Returns a pfn or a KVM_PFN_ERR_* value.
 * @host_mapping_level: 1 (4K), 2 (2M) or 3 (1G): the size of the host
 *                      mapping of @hva now, from a lockless walk; 1 if
 *                      nothing is mapped.  Only valid under the mmu_seq
 *                      protocol, as in KVM.
 * @pfn_to_page:        the frame of @pfn, or NULL if it has none.
 * @page_to_pfn:        the inverse.
 * @page_count:         the folio's reference count (the head's for a tail).
 * @page_ref_count:     this page's own count field (0 on a compound tail).
 * @page_is_reserved:   PG_reserved: never refcounted nor marked.
 * @get_page/@put_page: take/release a reference on the page's folio.
 * @set_page_dirty:     mark the folio dirty (KVM: under mmu_lock).
 * @mark_page_accessed: mark the folio accessed.
 * @mmu_notifier_register/@mmu_notifier_unregister: subscribe to @mm.
 * @alloc_table:        a zeroed 4 KiB page-table frame, or 0 if none.
 * @free_table:         return a page-table frame.
 * @direct_map:         where frame contents live: pfn's 4 KiB are at
 *                      direct_map + (pfn << 12), as the kernel's __va().
 * @tag_map:            in tag mode, a guest data frame's contents are the
 *                      one word tag_map[pfn]; NULL in data mode.  (Page-table
 *                      frames always use the direct map.)
 * @set_table_owner:    record @owner in a page-table frame's struct page
 *                      (the kernel's set_page_private()).
 * @table_owner:        and read it back.
 * @frame_state:        enum kvmmu_frame_state of @pfn.
 * @read_user:          get_user() of the aligned 8 bytes at @hva of the mm
 *                      (faulting in as needed): 0 or -EFAULT.
 * @read_user_nofault:  the same without faulting in or sleeping (the
 *                      kernel's __copy_from_user_inatomic()): -EFAULT if
 *                      the word is not mapped at the moment.
 * @cmpxchg_user:       __try_cmpxchg_user() of the aligned @size (4 or 8)
 *                      bytes at @hva: 0 stored, 1 they were not *@old (it
 *                      now holds them), or -EFAULT.
 */
struct kvmmu_host_ops {
	kvmmu_pfn_t (*follow_pfn)(struct mm_struct *mm, struct kvm_follow_pfn *foll);
	int (*host_mapping_level)(struct mm_struct *mm, unsigned long hva);
	struct page *(*pfn_to_page)(struct mm_struct *mm, kvmmu_pfn_t pfn);
	kvmmu_pfn_t (*page_to_pfn)(struct mm_struct *mm, struct page *page);
	int (*page_count)(struct mm_struct *mm, struct page *page);
	int (*page_ref_count)(struct mm_struct *mm, struct page *page);
	bool (*page_is_reserved)(struct mm_struct *mm, struct page *page);
	void (*get_page)(struct mm_struct *mm, struct page *page);
	void (*put_page)(struct mm_struct *mm, struct page *page);
	void (*set_page_dirty)(struct mm_struct *mm, struct page *page);
	void (*mark_page_accessed)(struct mm_struct *mm, struct page *page);
	int (*mmu_notifier_register)(struct mmu_notifier *subscription,
				     struct mm_struct *mm);
	void (*mmu_notifier_unregister)(struct mmu_notifier *subscription,
					struct mm_struct *mm);
	kvmmu_pfn_t (*alloc_table)(struct mm_struct *mm);
	void (*free_table)(struct mm_struct *mm, kvmmu_pfn_t pfn);
	void *(*direct_map)(struct mm_struct *mm);
	_Atomic uint64_t *(*tag_map)(struct mm_struct *mm);
	void (*set_table_owner)(struct mm_struct *mm, kvmmu_pfn_t pfn, void *owner);
	void *(*table_owner)(struct mm_struct *mm, kvmmu_pfn_t pfn);
	int (*frame_state)(struct mm_struct *mm, kvmmu_pfn_t pfn);
	int (*read_user)(struct mm_struct *mm, unsigned long hva, uint64_t *val);
	int (*read_user_nofault)(struct mm_struct *mm, unsigned long hva, uint64_t *val);
	int (*cmpxchg_user)(struct mm_struct *mm, unsigned long hva, int size, uint64_t *old,
			    uint64_t new_val);
};

#endif /* KVMMU_HOST_H */
