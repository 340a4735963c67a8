// SPDX-License-Identifier: GPL-2.0-only
/*
 * Files (a backing store and a page cache) and swap space.
 *
 * A file's store is what a read from disk returns: a word per page in tag
 * mode, 4 KiB per page in data mode.  Pages are read into the page cache on
 * first touch (2 MiB folios for THP files where the file allows), written
 * back when dirty, and dropped by reclaim when clean.  Writeback first
 * write-protects every mapping of the page through the notifier protocol
 * and clears the dirty bit, then copies, so that any write after the copy
 * faults (or goes through a secondary MMU that re-reports it) and
 * re-dirties the page.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bug.h"
#include "host_mm.h"
#include "sched_point.h"

int host_file_create(struct host_phys *phys, u64 nr_pages, bool thp,
		     struct host_file **out)
{
	struct host_file *f;

	if (!nr_pages || nr_pages > (1ULL << 32))
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->phys = phys;
	f->nr_pages = nr_pages;
	f->thp = thp;
	f->cache = calloc(nr_pages, sizeof(*f->cache));
	if (phys->tag_mode)
		f->store_words = calloc(nr_pages, sizeof(*f->store_words));
	else
		f->store_pages = calloc(nr_pages, sizeof(*f->store_pages));
	if (!f->cache || (!f->store_words && !f->store_pages)) {
		host_file_destroy(f);
		return -ENOMEM;
	}
	spin_lock_init(&f->lock);
	init_rwsem(&f->i_mmap_rwsem);
	INIT_LIST_HEAD(&f->i_mmap);
	mutex_init(&f->io_mutex);
	*out = f;
	return 0;
}

void host_file_destroy(struct host_file *f)
{
	u64 i;

	if (!f)
		return;
	WARN_ON(f->cache && !list_empty(&f->i_mmap));
	for (i = 0; f->cache && i < f->nr_pages; i++) {
		u64 pfn = f->cache[i];
		struct page *folio;

		if (!pfn)
			continue;
		folio = compound_head(f->phys, pfn_to_page(f->phys, pfn));
		/* Drop the cache's reference once per folio. */
		if (folio == pfn_to_page(f->phys, pfn))
			put_page(f->phys, folio);
	}
	if (f->store_pages) {
		for (i = 0; i < f->nr_pages; i++)
			free(f->store_pages[i]);
	}
	free(f->store_pages);
	free(f->store_words);
	free(f->cache);
	free(f);
}

u64 host_file_index(struct vm_area_struct *vma, unsigned long addr)
{
	return vma->pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
}

/* ---- store ------------------------------------------------------------------ */

static void store_to_frame(struct host_file *f, u64 index, u64 pfn)
{
	struct host_phys *phys = f->phys;
	u64 i;

	if (phys->tag_mode) {
		atomic_store_explicit(frame_tag(phys, pfn), f->store_words[index],
				      memory_order_relaxed);
		return;
	}
	if (!f->store_pages[index]) {
		frame_set_contents(phys, pfn, 1, 0);
		return;
	}
	for (i = 0; i < PAGE_SIZE / 8; i++)
		atomic_store_explicit(&frame_words(phys, pfn)[i],
				      ((u64 *)(void *)f->store_pages[index])[i],
				      memory_order_relaxed);
}

static int frame_to_store(struct host_file *f, u64 index, u64 pfn)
{
	struct host_phys *phys = f->phys;
	u64 i, *dst;

	if (phys->tag_mode) {
		f->store_words[index] = atomic_load_explicit(frame_tag(phys, pfn),
							     memory_order_relaxed);
		return 0;
	}
	if (!f->store_pages[index]) {
		f->store_pages[index] = malloc(PAGE_SIZE);
		if (!f->store_pages[index])
			return -ENOMEM;
	}
	dst = (u64 *)(void *)f->store_pages[index];
	for (i = 0; i < PAGE_SIZE / 8; i++)
		dst[i] = atomic_load_explicit(&frame_words(phys, pfn)[i],
					      memory_order_relaxed);
	return 0;
}

u64 host_file_stored_word(struct host_file *f, u64 index, unsigned int offset)
{
	u64 v;

	mutex_lock(&f->io_mutex);
	if (f->phys->tag_mode)
		v = f->store_words[index];
	else
		v = f->store_pages[index] ?
			    ((u64 *)(void *)f->store_pages[index])[(offset & (PAGE_SIZE - 1)) >> 3] :
			    0;
	mutex_unlock(&f->io_mutex);
	return v;
}

/* ---- page cache ------------------------------------------------------------- */

/* The order of the folio to read for @index: 2 MiB where the file allows. */
static unsigned int read_order(struct host_file *f, u64 index)
{
	u64 first = ALIGN_DOWN(index, 1ULL << HPAGE_PMD_ORDER), i;

	if (!f->thp || first + (1ULL << HPAGE_PMD_ORDER) > f->nr_pages)
		return 0;
	for (i = first; i < first + (1ULL << HPAGE_PMD_ORDER); i++) {
		if (READ_ONCE(f->cache[i]))
			return 0;
	}
	return HPAGE_PMD_ORDER;
}

u64 host_file_get_page(struct host_file *f, u64 index, bool nowait, int *err)
{
	struct host_phys *phys = f->phys;
	unsigned int order;
	u64 head, first, i;

	*err = 0;
	for (;;) {
		u64 pfn;

		spin_lock(&f->lock);
		pfn = f->cache[index];
		if (pfn && try_get_folio(phys, pfn_to_page(phys, pfn))) {
			spin_unlock(&f->lock);
			return pfn;
		}
		spin_unlock(&f->lock);
		if (!pfn)
			break;
		cond_resched(); /* frozen by reclaim or migration: look again */
	}
	if (nowait) {
		*err = -EAGAIN;
		return 0;
	}

	order = read_order(f, index);
	head = phys_alloc(phys, order, PG_file | (order ? PG_head : 0));
	if (!head && order)
		head = phys_alloc(phys, order = 0, PG_file);
	if (!head)
		return 0;
	first = ALIGN_DOWN(index, 1ULL << order);
	set_page_private(pfn_to_page(phys, head), first);
	for (i = 0; i < (1ULL << order); i++)
		store_to_frame(f, first + i, head + i);
	kvmmu_observe(KVMMU_EV_FRAME_COPY, frame, .pfn = head, .order = (u8)order,
		      .kind = KVMMU_FILL_FILE);

	spin_lock(&f->lock);
	for (i = 0; i < (1ULL << order); i++) {
		if (f->cache[first + i])
			break;
	}
	if (i < (1ULL << order)) {
		/* Someone else read it in meanwhile: use theirs. */
		spin_unlock(&f->lock);
		put_page(phys, pfn_to_page(phys, head));
		return host_file_get_page(f, index, nowait, err);
	}
	for (i = 0; i < (1ULL << order); i++)
		WRITE_ONCE(f->cache[first + i], (u32)(head + i));
	atomic64_add((s64)(1ULL << order), &f->nr_cached);
	/* The cache keeps the allocation's reference; this one is the caller's. */
	get_page(phys, pfn_to_page(phys, head));
	spin_unlock(&f->lock);
	return head + (index - first);
}

/* ---- unmapping a cached folio from every VMA --------------------------------- */

enum rmap_action {
	RMAP_WRPROTECT, /* page_mkclean(): write-protect, collect dirt */
	RMAP_UNMAP,     /* try_to_unmap(): drop the mappings */
};

/*
 * Walk every VMA mapping the folio that starts at file page @first (1 <<
 * @order pages) and apply @action to each leaf mapping one of its pages, in
 * one notifier range per VMA.  Dirty bits found are moved to the folio.
 * Caller holds i_mmap_rwsem for read.
 */
static void rmap_walk(struct host_file *f, u64 first, unsigned int order,
		      u64 head, enum rmap_action action)
{
	struct host_phys *phys = f->phys;
	u64 last = first + (1ULL << order);
	struct vm_area_struct *vma;

	list_for_each_entry(vma, &f->i_mmap, file_link) {
		u64 vfirst = vma->pgoff, vlast = vma->pgoff + ((vma->vm_end - vma->vm_start) >> PAGE_SHIFT);
		struct mm_struct *mm = vma->mm;
		struct mmu_notifier_range range = {
			.mm = mm, .flags = MMU_NOTIFIER_RANGE_BLOCKABLE,
			.event = action == RMAP_UNMAP ? MMU_NOTIFY_CLEAR :
						       MMU_NOTIFY_PROTECTION_PAGE,
		};
		unsigned long addr;

		if (vlast <= first || vfirst >= last)
			continue;
		range.start = vma->vm_start + ((max(first, vfirst) - vfirst) << PAGE_SHIFT);
		range.end = vma->vm_start + ((min(last, vlast) - vfirst) << PAGE_SHIFT);

		mmu_notifier_invalidate_range_start(&range);
		spin_lock(&mm->ptl);
		for (addr = range.start; addr < range.end;) {
			int level;
			_Atomic u64 *slot = host_pgtable_leaf(mm, addr, &level);
			u64 e = atomic_load(slot), size = host_level_size(level);

			if (hpte_present(e) && hpte_pfn(e) >= head &&
			    hpte_pfn(e) < head + (1ULL << order)) {
				if (e & HPTE_DIRTY)
					set_page_dirty(phys, pfn_to_page(phys, head));
				if (action == RMAP_UNMAP) {
					atomic_store(slot, 0);
					put_page(phys, pfn_to_page(phys, head));
				} else {
					atomic_fetch_and(slot, ~(HPTE_WRITE | HPTE_DIRTY));
				}
			}
			addr = ALIGN_DOWN(addr, size) + size;
		}
		spin_unlock(&mm->ptl);
		mmu_notifier_invalidate_range_end(&range);
	}
}

/* The cached folio holding @index, with a reference; 0 if none. */
static u64 get_cached_folio(struct host_file *f, u64 index, u64 *first,
			    unsigned int *order)
{
	struct host_phys *phys = f->phys;
	struct page *folio;
	u64 pfn;

	spin_lock(&f->lock);
	pfn = f->cache[index];
	if (!pfn || !try_get_folio(phys, pfn_to_page(phys, pfn))) {
		spin_unlock(&f->lock);
		return 0;
	}
	spin_unlock(&f->lock);
	folio = compound_head(phys, pfn_to_page(phys, pfn));
	*order = page_order(folio);
	*first = page_private(folio);
	return page_to_pfn(phys, folio);
}

/* Clean the folio: write-protect its mappings, then copy it out if dirty. */
static int writeback_folio(struct host_file *f, u64 first, unsigned int order,
			   u64 head)
{
	struct host_phys *phys = f->phys;
	int ret = 0;
	u64 i;

	rmap_walk(f, first, order, head, RMAP_WRPROTECT);
	if (!test_clear_page_dirty(phys, pfn_to_page(phys, head)))
		return 0;
	for (i = 0; i < (1ULL << order) && !ret; i++)
		ret = frame_to_store(f, first + i, head + i);
	if (ret)
		set_page_dirty(phys, pfn_to_page(phys, head));
	return ret;
}

int host_file_writeback(struct host_file *f, u64 index, u64 nr)
{
	u64 i = index, end = index + nr;
	int ret = 0;

	if (index >= f->nr_pages || nr > f->nr_pages - index)
		return -EINVAL;
	mutex_lock(&f->io_mutex);
	down_read(&f->i_mmap_rwsem);
	while (i < end && !ret) {
		unsigned int order;
		u64 first, head = get_cached_folio(f, i, &first, &order);

		if (!head) {
			i++;
			continue;
		}
		ret = writeback_folio(f, first, order, head);
		put_page(f->phys, pfn_to_page(f->phys, head));
		i = first + (1ULL << order);
	}
	up_read(&f->i_mmap_rwsem);
	mutex_unlock(&f->io_mutex);
	return ret;
}

int host_file_reclaim(struct host_file *f, u64 index, u64 nr,
		      unsigned long *nr_dropped)
{
	struct host_phys *phys = f->phys;
	u64 i = index, end = index + nr;
	unsigned long dropped = 0;
	int ret = 0;

	if (index >= f->nr_pages || nr > f->nr_pages - index)
		return -EINVAL;
	mutex_lock(&f->io_mutex);
	down_read(&f->i_mmap_rwsem);
	while (i < end && !ret) {
		unsigned int order;
		u64 first, head = get_cached_folio(f, i, &first, &order), j;

		if (!head) {
			i++;
			continue;
		}
		i = first + (1ULL << order);
		rmap_walk(f, first, order, head, RMAP_UNMAP);
		ret = writeback_folio(f, first, order, head);
		/*
		 * Only the cache's reference and ours may remain: freeze them,
		 * so a racing fault cannot take the page while it goes away.
		 */
		spin_lock(&f->lock);
		if (ret || !page_ref_freeze(phys, pfn_to_page(phys, head), 2)) {
			spin_unlock(&f->lock);
			put_page(phys, pfn_to_page(phys, head));
			continue;
		}
		for (j = 0; j < (1ULL << order); j++)
			WRITE_ONCE(f->cache[first + j], 0);
		atomic64_sub((s64)(1ULL << order), &f->nr_cached);
		spin_unlock(&f->lock);
		kvmmu_observe(KVMMU_EV_FRAME_DROP, frame, .pfn = head,
			      .order = (u8)order);
		phys_free(phys, head);
		dropped += 1UL << order;
	}
	up_read(&f->i_mmap_rwsem);
	mutex_unlock(&f->io_mutex);
	if (nr_dropped)
		*nr_dropped = dropped;
	return ret;
}

/* ---- swap -------------------------------------------------------------------- */

int host_swap_init(struct mm_struct *mm)
{
	spin_lock_init(&mm->swap.lock);
	return 0;
}

void host_swap_release(struct mm_struct *mm)
{
	struct host_swap *s = &mm->swap;
	u64 i;

	if (s->pages) {
		for (i = 0; i < s->nr; i++)
			free(s->pages[i]);
	}
	free(s->pages);
	free(s->words);
	free(s->free);
	memset(s, 0, sizeof(*s));
}

/* Under s->lock: make room for one more slot. */
static int swap_grow(struct host_swap *s, bool tag_mode)
{
	u64 cap = s->cap ? 2 * s->cap : 1024;
	void *p;

	if (tag_mode) {
		p = realloc(s->words, cap * sizeof(*s->words));
		if (!p)
			return -ENOMEM;
		s->words = p;
	} else {
		p = realloc(s->pages, cap * sizeof(*s->pages));
		if (!p)
			return -ENOMEM;
		s->pages = p;
		memset(s->pages + s->cap, 0, (cap - s->cap) * sizeof(*s->pages));
	}
	p = realloc(s->free, cap * sizeof(*s->free));
	if (!p)
		return -ENOMEM;
	s->free = p;
	s->cap = cap;
	return 0;
}

long host_swap_store(struct mm_struct *mm, u64 pfn)
{
	struct host_phys *phys = mm->phys;
	struct host_swap *s = &mm->swap;
	long slot = -ENOMEM;
	u64 i;

	spin_lock(&s->lock);
	if (s->nr_free) {
		slot = s->free[--s->nr_free];
	} else if (s->nr < s->cap || !swap_grow(s, phys->tag_mode)) {
		slot = (long)s->nr++;
	}
	if (slot >= 0 && !phys->tag_mode && !s->pages[slot]) {
		s->pages[slot] = malloc(PAGE_SIZE);
		if (!s->pages[slot]) {
			s->free[s->nr_free++] = (u32)slot;
			slot = -ENOMEM;
		}
	}
	if (slot >= 0) {
		if (phys->tag_mode) {
			s->words[slot] = atomic_load_explicit(frame_tag(phys, pfn),
							      memory_order_relaxed);
		} else {
			u64 *dst = (u64 *)(void *)s->pages[slot];

			for (i = 0; i < PAGE_SIZE / 8; i++)
				dst[i] = atomic_load_explicit(&frame_words(phys, pfn)[i],
							      memory_order_relaxed);
		}
		atomic64_inc(&s->in_use);
	}
	spin_unlock(&s->lock);
	return slot;
}

void host_swap_load(struct mm_struct *mm, u64 slot, u64 pfn)
{
	struct host_phys *phys = mm->phys;
	struct host_swap *s = &mm->swap;
	u64 i;

	spin_lock(&s->lock);
	if (phys->tag_mode) {
		atomic_store_explicit(frame_tag(phys, pfn), s->words[slot],
				      memory_order_relaxed);
	} else {
		const u64 *src = (const u64 *)(void *)s->pages[slot];

		for (i = 0; i < PAGE_SIZE / 8; i++)
			atomic_store_explicit(&frame_words(phys, pfn)[i], src[i],
					      memory_order_relaxed);
	}
	spin_unlock(&s->lock);
}

void host_swap_free(struct mm_struct *mm, u64 slot)
{
	struct host_swap *s = &mm->swap;

	spin_lock(&s->lock);
	s->free[s->nr_free++] = (u32)slot;
	atomic64_dec(&s->in_use);
	spin_unlock(&s->lock);
}
