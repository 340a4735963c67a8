// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host physical memory: frame table, allocator, references, contents.
 *
 * The allocator is deliberately simple: a bump pointer over never-used
 * frames (aligned per order), one FIFO ring of free blocks per order, and a
 * quarantine ring that freed blocks pass through before they reach the free
 * rings.  Blocks are never merged or split, which is enough for a machine
 * whose memory is sized for the run; when both the rings and the bump
 * pointer are exhausted the quarantine is drained early.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bug.h"
#include "host_phys.h"

#define DEFAULT_QUARANTINE 1024

static void *map_noreserve(u64 bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int ring_init(struct pfn_ring *r, u64 cap)
{
	r->cap = cap;
	r->head = r->tail = 0;
	r->slot = map_noreserve(cap * sizeof(u32));
	return r->slot ? 0 : -ENOMEM;
}

static void ring_release(struct pfn_ring *r)
{
	if (r->slot)
		munmap(r->slot, r->cap * sizeof(u32));
}

static u64 ring_count(const struct pfn_ring *r)
{
	return r->tail - r->head;
}

static void ring_push(struct pfn_ring *r, u64 pfn)
{
	BUG_ON(ring_count(r) == r->cap);
	r->slot[r->tail++ % r->cap] = (u32)pfn;
}

static u64 ring_pop(struct pfn_ring *r)
{
	if (!ring_count(r))
		return 0;
	return r->slot[r->head++ % r->cap];
}

int host_phys_create(const struct host_phys_config *cfg, struct host_phys **out)
{
	struct host_phys *p;
	unsigned int order;

	if (cfg->nr_frames < 2 || cfg->nr_frames > (1ULL << 32))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->nr_frames = cfg->nr_frames;
	p->tag_mode = cfg->tag_mode;
	p->quarantine_cap = cfg->quarantine ? cfg->quarantine : DEFAULT_QUARANTINE;
	p->next_unused = 1; /* frame 0 means "no frame" */
	spin_lock_init(&p->lock);

	p->pages = map_noreserve(p->nr_frames * sizeof(struct page));
	p->data = map_noreserve(p->nr_frames << PAGE_SHIFT);
	if (p->tag_mode)
		p->tags = map_noreserve(p->nr_frames * sizeof(u64));
	if (!p->pages || !p->data || (p->tag_mode && !p->tags))
		goto fail;
	for (order = 0; order <= HOST_MAX_ORDER; order++) {
		if (ring_init(&p->free[order], (p->nr_frames >> order) + 1))
			goto fail;
	}
	if (ring_init(&p->quarantine, p->quarantine_cap + 1))
		goto fail;
	*out = p;
	return 0;
fail:
	host_phys_destroy(p);
	return -ENOMEM;
}

void host_phys_destroy(struct host_phys *p)
{
	unsigned int order;

	if (!p)
		return;
	for (order = 0; order <= HOST_MAX_ORDER; order++)
		ring_release(&p->free[order]);
	ring_release(&p->quarantine);
	if (p->pages)
		munmap(p->pages, p->nr_frames * sizeof(struct page));
	if (p->data)
		munmap(p->data, p->nr_frames << PAGE_SHIFT);
	if (p->tags)
		munmap(p->tags, p->nr_frames * sizeof(u64));
	free(p);
}

void phys_report_misuse(struct host_phys *p, u64 pfn,
			enum kvmmu_frame_misuse kind)
{
	atomic64_inc(&p->misuse[kind]);
	kvmmu_observe(KVMMU_EV_FRAME_MISUSE, misuse, .pfn = pfn, .kind = kind,
		      .state = page_state(pfn_to_page(p, pfn)));
}

bool phys_check_access(struct host_phys *p, u64 pfn)
{
	if (likely(page_state(pfn_to_page(p, pfn)) == KVMMU_FRAME_ALLOCATED))
		return true;
	phys_report_misuse(p, pfn, KVMMU_MISUSE_ACCESS_FREED);
	return false;
}

/* ---- allocation ---------------------------------------------------------- */

/* A never-used block from the bump pointer; the alignment gap goes free. */
static u64 alloc_fresh(struct host_phys *p, unsigned int order)
{
	u64 start = ALIGN(p->next_unused, 1ULL << order), pfn;

	if (start + (1ULL << order) > p->nr_frames)
		return 0;
	for (pfn = p->next_unused; pfn < start; pfn++)
		ring_push(&p->free[0], pfn);
	p->next_unused = start + (1ULL << order);
	return start;
}

/* A quarantined block becomes free: it may be handed out again. */
static void release_quarantined(struct host_phys *p, u64 pfn)
{
	struct page *head = pfn_to_page(p, pfn);
	unsigned int order = page_order(head);
	u64 i;

	for (i = 0; i < (1ULL << order); i++)
		atomic_store(&head[i].flags, (i ? 0 : order << PG_ORDER_SHIFT) |
						     PG_reused | KVMMU_FRAME_FREE);
	ring_push(&p->free[order], pfn);
}

static void init_block(struct host_phys *p, u64 pfn, unsigned int order,
		       u32 flags)
{
	struct page *head = pfn_to_page(p, pfn);
	bool compound = order && (flags & PG_head);
	u32 base = (flags & ~(PG_head | PG_tail | PG_STATE_MASK | PG_ORDER_MASK)) |
		   KVMMU_FRAME_ALLOCATED;
	bool reused = page_flags(head) & PG_reused;
	u64 i;

	for (i = 1; i < (1ULL << order); i++) {
		atomic_store(&head[i].refcount, 0);
		if (compound)
			set_compound_head(&head[i], pfn);
		else
			set_page_private(&head[i], 0);
		atomic_store(&head[i].flags, base | (compound ? PG_tail : 0));
	}
	atomic_store(&head->refcount, 1);
	set_page_private(head, 0);
	atomic_store(&head->flags, base | (compound ? PG_head : 0) |
					   (order << PG_ORDER_SHIFT));
	if (reused)
		kvmmu_observe(KVMMU_EV_FRAME_REUSE, frame, .pfn = pfn,
			      .order = (u8)order);
}

u64 phys_alloc(struct host_phys *p, unsigned int order, u32 flags)
{
	s64 now, peak;
	u64 pfn;

	if (order > HOST_MAX_ORDER)
		return 0;
	spin_lock(&p->lock);
	pfn = ring_pop(&p->free[order]);
	if (!pfn)
		pfn = alloc_fresh(p, order);
	if (!pfn && ring_count(&p->quarantine)) {
		/* Out of memory: give up on quarantine rather than fail. */
		while (ring_count(&p->quarantine))
			release_quarantined(p, ring_pop(&p->quarantine));
		pfn = ring_pop(&p->free[order]);
	}
	spin_unlock(&p->lock);
	if (!pfn)
		return 0;

	init_block(p, pfn, order, flags);
	now = atomic64_add_return((s64)(1ULL << order), &p->nr_allocated);
	peak = atomic64_read(&p->peak_allocated);
	while (now > peak && atomic64_cmpxchg(&p->peak_allocated, peak, now) != peak)
		peak = atomic64_read(&p->peak_allocated);
	return pfn;
}

/* Poison freed contents: a late reader finds POISON, not someone's data. */
static void poison_block(struct host_phys *p, u64 pfn, unsigned int order,
			 u32 flags)
{
	u64 n = 1ULL << order;

	if (p->tag_mode && !(flags & PG_table)) {
		u64 i;

		for (i = 0; i < n; i++)
			atomic_store_explicit(frame_tag(p, pfn + i), POISON_WORD,
					      memory_order_relaxed);
		return;
	}
	frame_fill(p, pfn, n, POISON_WORD);
}

static void quarantine_block(struct host_phys *p, u64 pfn, unsigned int order)
{
	struct page *head = pfn_to_page(p, pfn);
	u32 flags = page_flags(head);
	u64 i, n = 1ULL << order;

	for (i = 0; i < n; i++) {
		atomic_store(&head[i].refcount, 0);
		set_page_private(&head[i], 0);
		atomic_store(&head[i].flags, (i ? 0 : order << PG_ORDER_SHIFT) |
						     PG_reused |
						     KVMMU_FRAME_QUARANTINED);
	}
	poison_block(p, pfn, order, flags);
	kvmmu_observe(KVMMU_EV_FRAME_FREE, frame, .pfn = pfn, .order = (u8)order);
	atomic64_sub((s64)n, &p->nr_allocated);

	spin_lock(&p->lock);
	ring_push(&p->quarantine, pfn);
	while (ring_count(&p->quarantine) > p->quarantine_cap)
		release_quarantined(p, ring_pop(&p->quarantine));
	spin_unlock(&p->lock);
}

void phys_free(struct host_phys *p, u64 pfn)
{
	struct page *head = pfn_to_page(p, pfn);
	unsigned int order;
	u64 i, n;

	if (page_state(head) != KVMMU_FRAME_ALLOCATED) {
		phys_report_misuse(p, pfn, KVMMU_MISUSE_DOUBLE_FREE);
		return;
	}
	order = page_order(head);
	n = 1ULL << order;
	for (i = 1; i < n; i++) {
		if (page_state(&head[i]) != KVMMU_FRAME_ALLOCATED)
			break;
	}
	if (i == n) {
		quarantine_block(p, pfn, order);
		return;
	}
	/*
	 * Part of the block was already freed behind its owner's back (a
	 * non-refcounted page whose reference went to zero): report it and
	 * free what is left frame by frame, never twice.
	 */
	for (i = 0; i < n; i++) {
		if (page_state(&head[i]) != KVMMU_FRAME_ALLOCATED) {
			phys_report_misuse(p, pfn + i, KVMMU_MISUSE_DOUBLE_FREE);
			continue;
		}
		page_clear_flags(&head[i], PG_ORDER_MASK | PG_head | PG_tail);
		quarantine_block(p, pfn + i, 0);
	}
}

/* ---- references ---------------------------------------------------------- */

static void observe_ref(struct host_phys *p, enum kvmmu_event_type type,
			struct page *page, u32 count)
{
	kvmmu_observe(type, page, .pfn = page_to_pfn(p, page), .count = (int)count,
		      .state = page_state(page),
		      .noncounted = !!(page_flags(page) & PG_noncounted));
}

void get_page(struct host_phys *p, struct page *page)
{
	struct page *folio = compound_head(p, page);
	u32 old = atomic_fetch_add(&folio->refcount, 1);

	observe_ref(p, KVMMU_EV_PAGE_REF_GET, page, old + 1);
	if (old == 0)
		phys_report_misuse(p, page_to_pfn(p, page), KVMMU_MISUSE_REF_FROM_ZERO);
	if (page_flags(page) & PG_noncounted)
		phys_report_misuse(p, page_to_pfn(p, page), KVMMU_MISUSE_REF_NONCOUNTED);
}

struct page *try_get_folio(struct host_phys *p, struct page *page)
{
	for (;;) {
		struct page *folio = compound_head(p, page);
		u32 c = atomic_load(&folio->refcount);

		do {
			if (c == 0)
				return NULL;
		} while (!atomic_compare_exchange_weak(&folio->refcount, &c, c + 1));
		/*
		 * The page may have left the folio (a split) between the two
		 * loads: then the reference is on the wrong folio.  A split
		 * makes the head a folio again only after every tail left it,
		 * so once this check passes the folio is stable.
		 */
		if (compound_head(p, page) == folio) {
			observe_ref(p, KVMMU_EV_PAGE_REF_GET, page, c + 1);
			return folio;
		}
		put_page(p, folio);
	}
}

void put_page(struct host_phys *p, struct page *page)
{
	struct page *folio = compound_head(p, page);
	u32 old = atomic_load(&folio->refcount);

	do {
		if (old == 0) {
			phys_report_misuse(p, page_to_pfn(p, page),
					   KVMMU_MISUSE_REF_UNDERFLOW);
			return;
		}
	} while (!atomic_compare_exchange_weak(&folio->refcount, &old, old - 1));
	observe_ref(p, KVMMU_EV_PAGE_REF_PUT, page, old - 1);
	if (old == 1)
		phys_free(p, page_to_pfn(p, folio));
}

bool page_ref_freeze(struct host_phys *p, struct page *page, int expected)
{
	u32 c = (u32)expected;

	return atomic_compare_exchange_strong(&compound_head(p, page)->refcount,
					      &c, 0);
}

void page_ref_unfreeze(struct host_phys *p, struct page *page, int count)
{
	atomic_store(&compound_head(p, page)->refcount, (u32)count);
}

static bool may_mark(struct host_phys *p, struct page *folio)
{
	if (page_state(folio) == KVMMU_FRAME_ALLOCATED)
		return true;
	phys_report_misuse(p, page_to_pfn(p, folio), KVMMU_MISUSE_MARK_FREED);
	return false;
}

void set_page_dirty(struct host_phys *p, struct page *page)
{
	struct page *folio = compound_head(p, page);

	if (!may_mark(p, folio))
		return;
	page_set_flags(folio, PG_dirty);
	observe_ref(p, KVMMU_EV_PAGE_MARK_DIRTY, page,
		    atomic_load(&folio->refcount));
}

bool test_clear_page_dirty(struct host_phys *p, struct page *page)
{
	return atomic_fetch_and(&compound_head(p, page)->flags, ~PG_dirty) &
	       PG_dirty;
}

void mark_page_accessed(struct host_phys *p, struct page *page)
{
	struct page *folio = compound_head(p, page);

	if (!may_mark(p, folio))
		return;
	page_set_flags(folio, PG_referenced);
	observe_ref(p, KVMMU_EV_PAGE_MARK_ACCESSED, page,
		    atomic_load(&folio->refcount));
}

/* ---- contents ------------------------------------------------------------ */

void frame_fill(struct host_phys *p, u64 pfn, u64 nr, u64 word)
{
	_Atomic u64 *w = frame_words(p, pfn);
	u64 i, n = nr << (PAGE_SHIFT - 3);

	for (i = 0; i < n; i++)
		atomic_store_explicit(&w[i], word, memory_order_relaxed);
}

void frame_set_contents(struct host_phys *p, u64 pfn, u64 nr, u64 word)
{
	u64 i;

	if (!p->tag_mode) {
		frame_fill(p, pfn, nr, word);
		return;
	}
	for (i = 0; i < nr; i++)
		atomic_store_explicit(frame_tag(p, pfn + i), word,
				      memory_order_relaxed);
}

void frame_copy(struct host_phys *p, u64 dst, u64 src, u64 nr)
{
	u64 i, n;

	if (p->tag_mode) {
		for (i = 0; i < nr; i++)
			atomic_store_explicit(frame_tag(p, dst + i),
					      atomic_load_explicit(frame_tag(p, src + i),
								   memory_order_relaxed),
					      memory_order_relaxed);
		return;
	}
	n = nr << (PAGE_SHIFT - 3);
	for (i = 0; i < n; i++)
		atomic_store_explicit(&frame_words(p, dst)[i],
				      atomic_load_explicit(&frame_words(p, src)[i],
							   memory_order_relaxed),
				      memory_order_relaxed);
}

u64 frame_read_word(struct host_phys *p, u64 pfn, unsigned int offset)
{
	if (p->tag_mode)
		return atomic_load_explicit(frame_tag(p, pfn), memory_order_relaxed);
	return atomic_load_explicit(&frame_words(p, pfn)[(offset & ~7u) >> 3],
				    memory_order_relaxed);
}

void frame_write_word(struct host_phys *p, u64 pfn, unsigned int offset, u64 val)
{
	if (p->tag_mode) {
		atomic_store_explicit(frame_tag(p, pfn), val, memory_order_relaxed);
		return;
	}
	atomic_store_explicit(&frame_words(p, pfn)[(offset & ~7u) >> 3], val,
			      memory_order_relaxed);
}

u64 frame_xchg_word(struct host_phys *p, u64 pfn, unsigned int offset, u64 val)
{
	if (p->tag_mode)
		return atomic_exchange_explicit(frame_tag(p, pfn), val, memory_order_relaxed);
	return atomic_exchange_explicit(&frame_words(p, pfn)[(offset & ~7u) >> 3], val,
					memory_order_relaxed);
}
