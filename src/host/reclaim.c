// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host operations that take memory away from, or move it under, a
 * secondary MMU: madvise(DONTNEED), page migration, swap-out, THP split and
 * collapse, memory failure.
 *
 * Each wraps its change of mappings in one notifier range.  A page is only
 * replaced or freed after its folio count was frozen at the expected value
 * (one per mapping): a lookup holding a transient reference makes the
 * operation skip the page (as migration and reclaim do in Linux), and a
 * lookup racing the operation finds the count at 0 and retries.
 */
#include <errno.h>

#include "bug.h"
#include "host_mm.h"
#include "rcu.h"

static int range_op_prepare(struct mm_struct *mm, unsigned long addr,
			    unsigned long len)
{
	if (!len || !IS_ALIGNED(addr | len, PAGE_SIZE) || addr + len < addr)
		return -EINVAL;
	return 0;
}

#define for_each_vma_in(mm, vma, start, end)                                  \
	list_for_each_entry(vma, &(mm)->vmas, link)                           \
		if ((vma)->vm_end <= (start) || (vma)->vm_start >= (end)) {   \
		} else

int host_madvise_dontneed(struct mm_struct *mm, unsigned long addr,
			  unsigned long len)
{
	struct mmu_notifier_range range = {
		.mm = mm, .start = addr, .end = addr + len,
		.flags = MMU_NOTIFIER_RANGE_BLOCKABLE, .event = MMU_NOTIFY_CLEAR,
	};
	struct vm_area_struct *vma;
	int ret = range_op_prepare(mm, addr, len);

	if (ret)
		return ret;
	down_read(&mm->mmap_lock);
	/* As Linux: DONTNEED refuses PFNMAP and unaligned hugetlb ranges. */
	for_each_vma_in(mm, vma, range.start, range.end) {
		if ((vma->vm_flags & VM_PFNMAP) ||
		    (vma->backing == HOST_BACKING_HUGETLB &&
		     !IS_ALIGNED(addr | len, PAGE_SIZE << vma->order)))
			ret = -EINVAL;
	}
	if (!ret) {
		mmu_notifier_invalidate_range_start(&range);
		for_each_vma_in(mm, vma, range.start, range.end)
			host_zap_range(vma, max(vma->vm_start, range.start),
				       min(vma->vm_end, range.end));
		mmu_notifier_invalidate_range_end(&range);
	}
	up_read(&mm->mmap_lock);
	return ret;
}

/* ---- migration --------------------------------------------------------------- */

/*
 * Under ptl: move the folio mapped by @slot to a new block.  Only folios
 * mapped exactly once by this entry (plus the page cache, for files) move.
 */
static bool migrate_entry(struct vm_area_struct *vma, _Atomic u64 *slot,
			  int level)
{
	struct mm_struct *mm = vma->mm;
	struct host_phys *phys = mm->phys;
	u64 e = atomic_load(slot), old = hpte_pfn(e), new;
	struct page *folio = pfn_to_page(phys, old);
	struct host_file *file = vma->backing == HOST_BACKING_FILE ? vma->file : NULL;
	unsigned int order = page_order(folio);
	u32 flags = page_flags(folio);
	int expected = file ? 2 : 1;
	u64 i, first = page_private(folio);

	if (!hpte_present(e) || (e & HPTE_SPECIAL) || (flags & (PG_tail | PG_hwpoison)))
		return false;
	/* A PTE-mapped compound folio has several mappings: leave it. */
	if (level == 1 && order)
		return false;
	new = phys_alloc(phys, order, flags & (PG_anon | PG_file | PG_hugetlb | PG_head));
	if (!new)
		return false;
	if (file)
		spin_lock(&file->lock);
	if (!page_ref_freeze(phys, folio, expected)) {
		if (file)
			spin_unlock(&file->lock);
		phys_free(phys, new);
		return false;
	}
	frame_copy(phys, new, old, 1ULL << order);
	kvmmu_observe(KVMMU_EV_FRAME_COPY, frame, .pfn = new, .src = old,
		      .order = (u8)order, .kind = KVMMU_FILL_MIGRATE);
	set_page_private(pfn_to_page(phys, new), first);
	if (flags & PG_dirty)
		page_set_flags(pfn_to_page(phys, new), PG_dirty);
	if (file) {
		for (i = 0; i < (1ULL << order); i++)
			WRITE_ONCE(file->cache[first + i], (u32)(new + i));
		spin_unlock(&file->lock);
	}
	page_ref_unfreeze(phys, pfn_to_page(phys, new), expected);
	/* Release: the copy is complete before the new mapping is visible. */
	atomic_store_explicit(slot, hpte_make(new, e & ~HPTE_PFN_MASK),
			      memory_order_release);
	phys_free(phys, old);
	return true;
}

int host_migrate(struct mm_struct *mm, unsigned long addr, unsigned long len,
		 unsigned long *nr_moved)
{
	struct mmu_notifier_range range = {
		.mm = mm, .start = addr, .end = addr + len,
		.flags = MMU_NOTIFIER_RANGE_BLOCKABLE, .event = MMU_NOTIFY_CLEAR,
	};
	struct vm_area_struct *vma;
	unsigned long moved = 0;
	int ret = range_op_prepare(mm, addr, len);

	if (ret)
		return ret;
	down_read(&mm->mmap_lock);
	mmu_notifier_invalidate_range_start(&range);
	for_each_vma_in(mm, vma, range.start, range.end) {
		unsigned long a = max(vma->vm_start, range.start);
		unsigned long end = min(vma->vm_end, range.end);

		spin_lock(&mm->ptl);
		while (a < end) {
			int level;
			_Atomic u64 *slot = host_pgtable_leaf(mm, a, &level);
			u64 size = host_level_size(level);

			/* A huge leaf moves whole, and only if wholly in range. */
			if (ALIGN_DOWN(a, size) >= range.start &&
			    ALIGN_DOWN(a, size) + size <= range.end &&
			    migrate_entry(vma, slot, level))
				moved += size >> PAGE_SHIFT;
			a = ALIGN_DOWN(a, size) + size;
		}
		spin_unlock(&mm->ptl);
	}
	mmu_notifier_invalidate_range_end(&range);
	up_read(&mm->mmap_lock);
	if (nr_moved)
		*nr_moved = moved;
	return 0;
}

/* ---- swap-out ------------------------------------------------------------------ */

int host_swap_out(struct mm_struct *mm, unsigned long addr, unsigned long len,
		  unsigned long *nr_swapped)
{
	struct mmu_notifier_range range = {
		.mm = mm, .start = addr, .end = addr + len,
		.flags = MMU_NOTIFIER_RANGE_BLOCKABLE, .event = MMU_NOTIFY_CLEAR,
	};
	struct host_phys *phys = mm->phys;
	struct vm_area_struct *vma;
	unsigned long swapped = 0;
	int ret = range_op_prepare(mm, addr, len);

	if (ret)
		return ret;
	down_read(&mm->mmap_lock);
	mmu_notifier_invalidate_range_start(&range);
	for_each_vma_in(mm, vma, range.start, range.end) {
		unsigned long a = max(vma->vm_start, range.start);
		unsigned long end = min(vma->vm_end, range.end);

		if (vma->backing != HOST_BACKING_ANON)
			continue;
		spin_lock(&mm->ptl);
		while (a < end) {
			int level;
			_Atomic u64 *slot = host_pgtable_leaf(mm, a, &level);
			u64 e = atomic_load(slot), size = host_level_size(level);
			struct page *page = pfn_to_page(phys, hpte_pfn(e));
			long s;

			a = ALIGN_DOWN(a, size) + size;
			/* 4K, not compound, mapped once and not in use elsewhere. */
			if (level != 1 || !hpte_present(e) || page_order(page) ||
			    (page_flags(page) & (PG_tail | PG_hwpoison)) ||
			    !page_ref_freeze(phys, page, 1))
				continue;
			s = host_swap_store(mm, hpte_pfn(e));
			if (s < 0) {
				page_ref_unfreeze(phys, page, 1);
				continue;
			}
			atomic_store_explicit(slot, hpte_make((u64)s, HPTE_SWAP),
					      memory_order_release);
			phys_free(phys, hpte_pfn(e));
			swapped++;
		}
		spin_unlock(&mm->ptl);
	}
	mmu_notifier_invalidate_range_end(&range);
	up_read(&mm->mmap_lock);
	if (nr_swapped)
		*nr_swapped = swapped;
	return 0;
}

/* ---- THP split and collapse -------------------------------------------------- */

int host_thp_split(struct mm_struct *mm, unsigned long addr)
{
	unsigned long haddr = ALIGN_DOWN(addr, host_level_size(2));
	struct mmu_notifier_range range = {
		.mm = mm, .start = haddr, .end = haddr + host_level_size(2),
		.flags = MMU_NOTIFIER_RANGE_BLOCKABLE, .event = MMU_NOTIFY_CLEAR,
	};
	struct host_phys *phys = mm->phys;
	struct vm_area_struct *vma;
	_Atomic u64 *slot, *ptes;
	struct page *head;
	int level, ret = 0;
	u64 e, pfn, table, i;

	down_read(&mm->mmap_lock);
	vma = host_find_vma(mm, addr);
	if (!vma || vma->backing != HOST_BACKING_ANON) {
		up_read(&mm->mmap_lock);
		return -EINVAL;
	}
	table = phys_alloc(phys, 0, PG_table);
	if (!table) {
		up_read(&mm->mmap_lock);
		return -ENOMEM;
	}
	frame_fill(phys, table, 1, 0);

	mmu_notifier_invalidate_range_start(&range);
	spin_lock(&mm->ptl);
	slot = host_pgtable_leaf(mm, haddr, &level);
	e = atomic_load(slot);
	pfn = hpte_pfn(e);
	head = pfn_to_page(phys, pfn);
	if (level != 2 || !hpte_present(e)) {
		ret = -EINVAL;
	} else if (!page_ref_freeze(phys, head, 1)) {
		ret = -EAGAIN; /* someone holds a reference: cannot split */
	} else {
		/*
		 * 512 base pages, each mapped by its own PTE with its own
		 * reference.  The tails leave the folio first and the head's
		 * count is unfrozen last, so a racing try_get_folio() either
		 * fails or gets a reference on the page it asked for.
		 */
		u32 flags = page_flags(head) & ~(PG_head | PG_tail | PG_ORDER_MASK);

		ptes = frame_words(phys, table);
		for (i = 0; i < 512; i++)
			atomic_store_explicit(&ptes[i],
					      hpte_make(pfn + i, (e & ~HPTE_PFN_MASK) & ~HPTE_HUGE),
					      memory_order_relaxed);
		for (i = 511; i > 0; i--) {
			atomic_store(&head[i].refcount, 1);
			set_page_private(&head[i], (haddr >> PAGE_SHIFT) + i);
			atomic_store(&head[i].flags, flags);
		}
		set_page_private(head, haddr >> PAGE_SHIFT);
		atomic_store(&head->flags, flags);
		page_ref_unfreeze(phys, head, 1);
		atomic64_inc(&mm->nr_tables);
		atomic_store_explicit(slot, hpte_make(table, HPTE_PRESENT | HPTE_WRITE),
				      memory_order_release);
		table = 0;
	}
	spin_unlock(&mm->ptl);
	mmu_notifier_invalidate_range_end(&range);
	up_read(&mm->mmap_lock);
	if (table)
		phys_free(phys, table);
	return ret;
}

int host_thp_collapse(struct mm_struct *mm, unsigned long addr)
{
	unsigned long haddr = ALIGN_DOWN(addr, host_level_size(2));
	struct mmu_notifier_range range = {
		.mm = mm, .start = haddr, .end = haddr + host_level_size(2),
		.flags = MMU_NOTIFIER_RANGE_BLOCKABLE, .event = MMU_NOTIFY_CLEAR,
	};
	struct host_phys *phys = mm->phys;
	struct vm_area_struct *vma;
	_Atomic u64 *pmd, *ptes;
	u64 new, e, table = 0, bits = HPTE_WRITE;
	int ret = 0, i, frozen = 0;

	down_read(&mm->mmap_lock);
	vma = host_find_vma(mm, haddr);
	if (!vma || vma->backing != HOST_BACKING_ANON || haddr < vma->vm_start ||
	    haddr + host_level_size(2) > vma->vm_end) {
		up_read(&mm->mmap_lock);
		return -EINVAL;
	}
	new = phys_alloc(phys, HPAGE_PMD_ORDER, PG_anon | PG_head);
	if (!new) {
		up_read(&mm->mmap_lock);
		return -ENOMEM;
	}
	set_page_private(pfn_to_page(phys, new), haddr >> PAGE_SHIFT);

	mmu_notifier_invalidate_range_start(&range);
	spin_lock(&mm->ptl);
	pmd = host_pgtable_slot(mm, haddr, 2, false);
	e = pmd ? atomic_load(pmd) : 0;
	if (!hpte_present(e) || (e & HPTE_HUGE)) {
		ret = -EINVAL;
		goto unlock;
	}
	table = hpte_pfn(e);
	ptes = frame_words(phys, table);
	/* Every PTE present, a base page mapped only here: freeze them all. */
	for (i = 0; i < 512; i++, frozen++) {
		u64 pte = atomic_load(&ptes[i]);
		struct page *p = pfn_to_page(phys, hpte_pfn(pte));

		if (!hpte_present(pte) || (pte & HPTE_SPECIAL) || page_order(p) ||
		    (page_flags(p) & (PG_tail | PG_hwpoison)) ||
		    !page_ref_freeze(phys, p, 1)) {
			ret = -EAGAIN;
			break;
		}
		bits &= pte;
	}
	if (ret) {
		while (frozen--)
			page_ref_unfreeze(phys, pfn_to_page(phys, hpte_pfn(atomic_load(&ptes[frozen]))), 1);
		table = 0;
		goto unlock;
	}
	for (i = 0; i < 512; i++) {
		u64 old = hpte_pfn(atomic_load(&ptes[i]));

		frame_copy(phys, new + i, old, 1);
		kvmmu_observe(KVMMU_EV_FRAME_COPY, frame, .pfn = new + i, .src = old,
			      .kind = KVMMU_FILL_MIGRATE);
	}
	/* Release: the copy is complete before the huge mapping is visible. */
	atomic_store_explicit(pmd, hpte_make(new, HPTE_PRESENT | HPTE_HUGE |
						  HPTE_ACCESSED | (bits & HPTE_WRITE)),
			      memory_order_release);
	for (i = 0; i < 512; i++)
		phys_free(phys, hpte_pfn(atomic_load(&ptes[i])));
	new = 0;
unlock:
	spin_unlock(&mm->ptl);
	mmu_notifier_invalidate_range_end(&range);
	up_read(&mm->mmap_lock);
	if (new)
		phys_free(phys, new);
	/* Lockless walkers may still be in the old PTE table. */
	if (table && !ret)
		host_pgtable_free_rcu(mm, table);
	return ret;
}

/* ---- memory failure ------------------------------------------------------------ */

int host_memory_failure(struct mm_struct *mm, unsigned long addr)
{
	unsigned long pa = ALIGN_DOWN(addr, PAGE_SIZE);
	struct mmu_notifier_range range = {
		.mm = mm, .start = pa, .end = pa + PAGE_SIZE,
		.flags = MMU_NOTIFIER_RANGE_BLOCKABLE, .event = MMU_NOTIFY_CLEAR,
	};
	struct host_phys *phys = mm->phys;
	_Atomic u64 *slot;
	int level, ret = 0;
	u64 e;

	down_read(&mm->mmap_lock);
	mmu_notifier_invalidate_range_start(&range);
	spin_lock(&mm->ptl);
	slot = host_pgtable_leaf(mm, pa, &level);
	e = atomic_load(slot);
	if (level != 1 || !hpte_present(e) || (e & HPTE_SPECIAL)) {
		ret = -EINVAL;
	} else {
		/*
		 * The poisoned frame is never freed (its mapping's reference is
		 * kept), so it can never be handed out again.
		 */
		page_set_flags(pfn_to_page(phys, hpte_pfn(e)), PG_hwpoison);
		atomic_store(slot, HPTE_HWPOISON);
	}
	spin_unlock(&mm->ptl);
	mmu_notifier_invalidate_range_end(&range);
	up_read(&mm->mmap_lock);
	return ret;
}
