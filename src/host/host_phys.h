/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host physical memory: the frame table (struct page), the frame allocator,
 * page references, and the contents of frames.
 *
 * struct page is 16 bytes: a reference count, flags (state, compound
 * head/tail and order, dirty, accessed, reserved, non-refcounted, ...) and
 * one word whose meaning depends on the kind of page.  Free frames are kept
 * in one FIFO ring of frame numbers per order; freed blocks are poisoned and
 * pass through a quarantine ring before reuse, so that a late access finds a
 * frame in the QUARANTINED state (and poison bytes) rather than someone
 * else's data.  There are no per-frame list heads.
 *
 * Contents: every frame has 4 KiB of real memory in one large NORESERVE
 * mapping (only touched frames become resident).  In tag mode a guest data
 * frame uses one 64-bit word instead (frame_tag), so hundreds of GiB of
 * guest memory fit in a few GiB; page-table frames always use their 4 KiB.
 * All content accesses are relaxed atomics, so vCPUs racing on guest
 * memory are not data races.
 *
 * Misuse (a reference raised from 0 or on a non-refcounted page, a release
 * below 0, dirty/accessed marking of a freed page, an access to a freed
 * frame, a double free) is counted and posted as KVMMU_EV_FRAME_MISUSE; the
 * operation is refused where going on would corrupt the model.
 */
#ifndef KVMMU_HOST_HOST_PHYS_H
#define KVMMU_HOST_HOST_PHYS_H

#include <kvmmu/host.h>

#include "atomic.h"
#include "lock.h"
#include "observe.h"
#include "types.h"

#define HOST_MAX_ORDER 18 /* 1 GiB */
#define HPAGE_PMD_ORDER 9 /* 2 MiB */
#define HPAGE_PUD_ORDER 18

/* Frame state, in the low bits of page->flags. */
#define PG_STATE_MASK 0x3u
#define PG_reserved (1u << 2)   /* never refcounted by KVM, never marked */
#define PG_dirty (1u << 3)      /* folio dirty */
#define PG_referenced (1u << 4) /* folio accessed */
#define PG_head (1u << 5)       /* first page of a compound folio */
#define PG_tail (1u << 6)       /* other pages of a compound folio */
#define PG_noncounted (1u << 7) /* must not be refcounted (driver pages) */
#define PG_table (1u << 8)      /* a page-table page */
#define PG_anon (1u << 9)       /* anonymous memory */
#define PG_file (1u << 10)      /* page cache */
#define PG_hwpoison (1u << 11)  /* memory failure */
#define PG_hugetlb (1u << 12)   /* hugetlbfs folio */
#define PG_reused (1u << 13)    /* allocated at least once before */
#define PG_ORDER_SHIFT 16       /* order of a compound head or a block head */
#define PG_ORDER_MASK (0x1fu << PG_ORDER_SHIFT)

struct page {
	_Atomic u32 refcount; /* _refcount: 0 on a tail page */
	_Atomic u32 flags;
	/*
	 * As the kernel's compound_head word: bit 0 set means a tail page and
	 * the rest is the head's pfn, so that compound_head() is one load and
	 * can never see half of a split.  Otherwise the rest is the page's
	 * private value (page_private()): the file index of a page-cache
	 * folio, the hva >> PAGE_SHIFT an anonymous page was faulted for.
	 */
	_Atomic u64 private;
};

static_assert(sizeof(struct page) == 16, "struct page must stay 16 bytes");

/* A FIFO of frame numbers (u32: up to 16 TiB of frames). */
struct pfn_ring {
	u32 *slot;
	u64 cap;
	u64 head; /* next to pop */
	u64 tail; /* next to push */
};

struct host_phys_config {
	u64 nr_frames;      /* capacity, frame 0 is never handed out */
	bool tag_mode;      /* guest data frames hold one word */
	u32 quarantine;     /* blocks held back after free (0: default) */
};

struct host_phys {
	u64 nr_frames;
	bool tag_mode;
	struct page *pages;
	u8 *data;           /* 4 KiB per frame */
	_Atomic u64 *tags;  /* one word per frame (tag mode only) */

	spinlock_t lock;    /* the rings and next_unused */
	u64 next_unused;    /* frames at and above were never allocated */
	struct pfn_ring free[HOST_MAX_ORDER + 1];
	struct pfn_ring quarantine; /* head pfns; the order is in the frame */
	u64 quarantine_cap;

	atomic64_t nr_allocated; /* frames, not blocks */
	atomic64_t peak_allocated;
	atomic64_t misuse[NR_KVMMU_MISUSES];
};

#define POISON_BYTE 0x6b
#define POISON_WORD 0x6b6b6b6b6b6b6b6bULL

int host_phys_create(const struct host_phys_config *cfg, struct host_phys **out);
void host_phys_destroy(struct host_phys *phys);

/**
 * phys_alloc() - allocate a block of 1 << @order frames
 * @flags: PG_* to set on every frame; with PG_head (and @order > 0) the
 *         block becomes a compound folio whose tails point at the head
 *
 * The head gets reference count 1, tails 0.  Contents are not initialised.
 * Return: the first pfn, or 0 when memory is exhausted.
 */
u64 phys_alloc(struct host_phys *phys, unsigned int order, u32 flags);

/* Free the block whose first frame is @pfn: poison, quarantine. */
void phys_free(struct host_phys *phys, u64 pfn);

static inline struct page *pfn_to_page(struct host_phys *phys, u64 pfn)
{
	return &phys->pages[pfn];
}

static inline u64 page_to_pfn(struct host_phys *phys, const struct page *page)
{
	return (u64)(page - phys->pages);
}

static inline bool phys_pfn_valid(struct host_phys *phys, u64 pfn)
{
	return pfn && pfn < phys->nr_frames;
}

static inline u32 page_flags(const struct page *page)
{
	return atomic_load_explicit(&((struct page *)page)->flags,
				    memory_order_acquire);
}

static inline enum kvmmu_frame_state page_state(const struct page *page)
{
	return (enum kvmmu_frame_state)(page_flags(page) & PG_STATE_MASK);
}

static inline unsigned int page_order(const struct page *page)
{
	return (page_flags(page) & PG_ORDER_MASK) >> PG_ORDER_SHIFT;
}

static inline void page_set_flags(struct page *page, u32 set)
{
	atomic_fetch_or(&page->flags, set);
}

static inline void page_clear_flags(struct page *page, u32 clear)
{
	atomic_fetch_and(&page->flags, ~clear);
}

/* The folio a page belongs to: itself, or its compound head. */
static inline struct page *compound_head(struct host_phys *phys,
					 struct page *page)
{
	u64 word = atomic_load(&page->private);

	return (word & 1) ? pfn_to_page(phys, word >> 1) : page;
}

static inline void set_compound_head(struct page *tail, u64 head_pfn)
{
	atomic_store(&tail->private, (head_pfn << 1) | 1);
}

static inline u64 page_private(const struct page *page)
{
	return atomic_load(&((struct page *)page)->private) >> 1;
}

/* Also makes a tail page its own folio again. */
static inline void set_page_private(struct page *page, u64 value)
{
	atomic_store(&page->private, value << 1);
}

/* The kernel's page_count(): the folio's count, so the head's for a tail. */
static inline int page_count(struct host_phys *phys, struct page *page)
{
	return (int)atomic_load(&compound_head(phys, page)->refcount);
}

/* The kernel's page_ref_count(): this page's own field (0 on a tail). */
static inline int page_ref_count(const struct page *page)
{
	return (int)atomic_load(&((struct page *)page)->refcount);
}

/* Take a reference on the folio of @page (misuse is reported). */
void get_page(struct host_phys *phys, struct page *page);
/*
 * Take a reference on the folio of @page unless its count is 0 (free, or
 * frozen).  Return: the folio the reference is on (release that one), or
 * NULL.
 */
struct page *try_get_folio(struct host_phys *phys, struct page *page);
/* Release a reference; the folio is freed when the count reaches 0. */
void put_page(struct host_phys *phys, struct page *page);
/*
 * Freeze: swap the folio count from @expected to 0, so that try_get_page()
 * fails, as migration and reclaim do.  Return: true if frozen.
 */
bool page_ref_freeze(struct host_phys *phys, struct page *page, int expected);
void page_ref_unfreeze(struct host_phys *phys, struct page *page, int count);

void set_page_dirty(struct host_phys *phys, struct page *page);
bool test_clear_page_dirty(struct host_phys *phys, struct page *page);
void mark_page_accessed(struct host_phys *phys, struct page *page);

/* Report a misuse of @pfn. */
void phys_report_misuse(struct host_phys *phys, u64 pfn,
			enum kvmmu_frame_misuse kind);

/*
 * Check that @pfn may be accessed (ALLOCATED); report and return false
 * otherwise.  Every access to frame contents made on behalf of a mapping
 * goes through this first.
 */
bool phys_check_access(struct host_phys *phys, u64 pfn);

/* ---- contents ------------------------------------------------------------ */

static inline _Atomic u64 *frame_words(struct host_phys *phys, u64 pfn)
{
	return (_Atomic u64 *)(void *)(phys->data + (pfn << PAGE_SHIFT));
}

static inline _Atomic u64 *frame_tag(struct host_phys *phys, u64 pfn)
{
	return &phys->tags[pfn];
}

/* Fill the 4 KiB of @nr frames from @pfn with @word (tables, poison). */
void frame_fill(struct host_phys *phys, u64 pfn, u64 nr, u64 word);
/* Set the guest-visible contents of @nr frames to @word (tag or data). */
void frame_set_contents(struct host_phys *phys, u64 pfn, u64 nr, u64 word);
/* Copy @nr frames of guest-visible contents from @src to @dst. */
void frame_copy(struct host_phys *phys, u64 dst, u64 src, u64 nr);

/* Guest-visible contents: the 8-byte word at @offset, or the tag. */
u64 frame_read_word(struct host_phys *phys, u64 pfn, unsigned int offset);
void frame_write_word(struct host_phys *phys, u64 pfn, unsigned int offset, u64 val);
/* The same as an exchange: returns the word (or tag) the write replaced. */
u64 frame_xchg_word(struct host_phys *phys, u64 pfn, unsigned int offset, u64 val);

#endif /* KVMMU_HOST_HOST_PHYS_H */
