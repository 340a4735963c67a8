// SPDX-License-Identifier: GPL-2.0-only
/*
 * The address space: creation and teardown, VMAs, mmap/munmap/mprotect,
 * zapping, and splitting a PMD-mapped THP into PTEs.
 */
#include <errno.h>
#include <stdlib.h>

#include "bug.h"
#include "host_mm.h"
#include "rcu.h"

#define MMAP_BASE 0x7f0000000000UL
#define MMAP_GAP (2UL << 20)
#define HOST_VA_LIMIT (1UL << 47)

int host_mm_create(struct host_phys *phys, struct mm_struct **out)
{
	struct mm_struct *mm = zalloc_cacheline_aligned(sizeof(*mm));
	int ret;

	if (!mm)
		return -ENOMEM;
	mm->phys = phys;
	init_rwsem(&mm->mmap_lock);
	spin_lock_init(&mm->ptl);
	spin_lock_init(&mm->notifier_lock);
	init_srcu_struct(&mm->notifier_srcu);
	INIT_LIST_HEAD(&mm->vmas);
	mm->mmap_base = MMAP_BASE;
	ret = host_pgtable_init(mm);
	if (!ret)
		ret = host_swap_init(mm);
	if (ret) {
		host_pgtable_free_all(mm);
		free(mm);
		return ret;
	}
	*out = mm;
	return 0;
}

struct vm_area_struct *host_find_vma(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;

	list_for_each_entry(vma, &mm->vmas, link) {
		if (addr < vma->vm_start)
			return NULL;
		if (addr < vma->vm_end)
			return vma;
	}
	return NULL;
}

static bool range_is_free(struct mm_struct *mm, unsigned long start,
			  unsigned long end)
{
	struct vm_area_struct *vma;

	list_for_each_entry(vma, &mm->vmas, link) {
		if (vma->vm_start < end && start < vma->vm_end)
			return false;
	}
	return true;
}

static void link_vma(struct mm_struct *mm, struct vm_area_struct *new)
{
	struct vm_area_struct *vma;

	list_for_each_entry(vma, &mm->vmas, link) {
		if (vma->vm_start > new->vm_start) {
			list_add_tail(&new->link, &vma->link);
			goto linked;
		}
	}
	list_add_tail(&new->link, &mm->vmas);
linked:
	if (new->file) {
		down_write(&new->file->i_mmap_rwsem);
		list_add_tail(&new->file_link, &new->file->i_mmap);
		up_write(&new->file->i_mmap_rwsem);
	}
}

static void unlink_vma(struct vm_area_struct *vma)
{
	list_del(&vma->link);
	if (vma->file) {
		down_write(&vma->file->i_mmap_rwsem);
		list_del(&vma->file_link);
		up_write(&vma->file->i_mmap_rwsem);
	}
}

/* The natural alignment of a mapping: its largest page size. */
static unsigned long mapping_align(const struct host_mmap_args *a)
{
	switch (a->backing) {
	case HOST_BACKING_HUGETLB:
		return host_level_size(a->order == HPAGE_PUD_ORDER ? 3 : 2);
	case HOST_BACKING_DRIVER:
		return PAGE_SIZE << a->order;
	default:
		return host_level_size(2);
	}
}

static int check_mmap_args(const struct host_mmap_args *a)
{
	if (!a->len || !IS_ALIGNED(a->len, PAGE_SIZE) || !IS_ALIGNED(a->addr, PAGE_SIZE))
		return -EINVAL;
	if (a->vm_flags & ~(VM_READ | VM_WRITE | VM_HUGEPAGE))
		return -EINVAL;
	switch (a->backing) {
	case HOST_BACKING_ANON:
		return 0;
	case HOST_BACKING_FILE:
		if (!a->file || a->pgoff + (a->len >> PAGE_SHIFT) > a->file->nr_pages)
			return -EINVAL;
		return 0;
	case HOST_BACKING_HUGETLB:
		if (a->order != HPAGE_PMD_ORDER && a->order != HPAGE_PUD_ORDER)
			return -EINVAL;
		if (!IS_ALIGNED(a->len, PAGE_SIZE << a->order) ||
		    !IS_ALIGNED(a->addr, PAGE_SIZE << a->order))
			return -EINVAL;
		return 0;
	case HOST_BACKING_DRIVER:
		if (a->order > HPAGE_PMD_ORDER || a->len != (PAGE_SIZE << a->order))
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

/* Install the driver's PTEs at mmap time, as remap_pfn_range() does. */
static int remap_driver_pages(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->mm;
	u64 bits = HPTE_PRESENT | HPTE_SPECIAL |
		   ((vma->vm_flags & VM_WRITE) ? HPTE_WRITE : 0);
	unsigned long addr;
	int ret = 0;

	spin_lock(&mm->ptl);
	for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE) {
		_Atomic u64 *slot = host_pgtable_slot(mm, addr, 1, true);

		if (!slot) {
			ret = -ENOMEM;
			break;
		}
		atomic_store_explicit(slot, hpte_make(vma->driver_pfn +
						      ((addr - vma->vm_start) >> PAGE_SHIFT),
						      bits),
				      memory_order_release);
	}
	spin_unlock(&mm->ptl);
	return ret;
}

int host_mmap(struct mm_struct *mm, const struct host_mmap_args *a,
	      unsigned long *addr)
{
	struct vm_area_struct *vma;
	unsigned long start;
	int ret = check_mmap_args(a);

	if (ret)
		return ret;
	vma = calloc(1, sizeof(*vma));
	if (!vma)
		return -ENOMEM;
	vma->mm = mm;
	vma->vm_flags = a->vm_flags;
	vma->backing = a->backing;
	vma->order = a->order;
	vma->file = a->backing == HOST_BACKING_FILE ? a->file : NULL;
	vma->pgoff = a->pgoff;
	if (a->backing == HOST_BACKING_FILE)
		vma->vm_flags |= VM_SHARED;
	if (a->backing == HOST_BACKING_HUGETLB)
		vma->vm_flags |= VM_HUGETLB;
	if (a->backing == HOST_BACKING_DRIVER) {
		/* A higher-order, non-compound block: tails have count 0. */
		vma->vm_flags |= VM_PFNMAP | VM_IO;
		vma->driver_block = phys_alloc(mm->phys, a->order, PG_noncounted);
		vma->driver_pfn = vma->driver_block;
		if (!vma->driver_block) {
			free(vma);
			return -ENOMEM;
		}
	}

	down_write(&mm->mmap_lock);
	start = a->addr;
	if (!start)
		start = ALIGN(mm->mmap_base, mapping_align(a));
	if (start + a->len > HOST_VA_LIMIT || start + a->len < start) {
		ret = -ENOMEM;
	} else if (!range_is_free(mm, start, start + a->len)) {
		ret = -EEXIST;
	} else {
		vma->vm_start = start;
		vma->vm_end = start + a->len;
		link_vma(mm, vma);
		if (!a->addr)
			mm->mmap_base = vma->vm_end + MMAP_GAP;
		if (vma->backing == HOST_BACKING_DRIVER)
			ret = remap_driver_pages(vma);
	}
	up_write(&mm->mmap_lock);
	if (ret) {
		if (vma->vm_start) {
			host_munmap(mm, vma->vm_start, a->len);
			return ret;
		}
		if (vma->driver_block)
			phys_free(mm->phys, vma->driver_block);
		free(vma);
		return ret;
	}
	*addr = start;
	return 0;
}

/* ---- splitting a PMD-mapped THP -------------------------------------------- */

/*
 * Under ptl: replace the huge PMD entry at @slot by a table of 512 PTEs
 * mapping the same folio.  Each PTE holds a reference on the folio.
 */
static int __split_huge_pmd(struct mm_struct *mm, _Atomic u64 *slot)
{
	struct host_phys *phys = mm->phys;
	u64 e = atomic_load(slot), table, pfn = hpte_pfn(e), i;
	u64 bits = (e & ~HPTE_PFN_MASK) & ~HPTE_HUGE;
	_Atomic u64 *ptes;

	lockdep_assert_held(&mm->ptl);
	table = phys_alloc(phys, 0, PG_table);
	if (!table)
		return -ENOMEM;
	atomic64_inc(&mm->nr_tables);
	ptes = frame_words(phys, table);
	for (i = 0; i < 512; i++)
		atomic_store_explicit(&ptes[i], hpte_make(pfn + i, bits),
				      memory_order_relaxed);
	atomic_fetch_add(&pfn_to_page(phys, pfn)->refcount, 511);
	/* Release: the filled table is visible before the link. */
	atomic_store_explicit(slot, hpte_make(table, HPTE_PRESENT | HPTE_WRITE),
			      memory_order_release);
	return 0;
}

/*
 * If a PMD-mapped anonymous THP straddles @addr, remap it with PTEs, inside
 * its own notifier range, as Linux's split_huge_pmd() does.
 */
static int split_huge_pmd_at(struct vm_area_struct *vma, unsigned long addr)
{
	struct mm_struct *mm = vma->mm;
	unsigned long haddr = ALIGN_DOWN(addr, host_level_size(2));
	struct mmu_notifier_range range = {
		.mm = mm, .start = haddr, .end = haddr + host_level_size(2),
		.flags = MMU_NOTIFIER_RANGE_BLOCKABLE, .event = MMU_NOTIFY_CLEAR,
	};
	_Atomic u64 *slot;
	int level, ret = 0;
	u64 e;

	if (haddr == addr || vma->backing != HOST_BACKING_ANON)
		return 0;
	rcu_read_lock();
	e = host_pgtable_lookup(mm, addr, &level);
	rcu_read_unlock();
	if (!hpte_present(e) || level != 2)
		return 0;

	mmu_notifier_invalidate_range_start(&range);
	spin_lock(&mm->ptl);
	slot = host_pgtable_leaf(mm, addr, &level);
	if (level == 2 && hpte_present(atomic_load(slot)))
		ret = __split_huge_pmd(mm, slot);
	spin_unlock(&mm->ptl);
	mmu_notifier_invalidate_range_end(&range);
	return ret;
}

/* ---- zapping --------------------------------------------------------------- */

/* Under ptl: drop the mapping in @slot, releasing what it held. */
static void zap_entry(struct mm_struct *mm, _Atomic u64 *slot, bool special)
{
	u64 e = atomic_exchange(slot, 0);

	if (hpte_present(e)) {
		if (!(e & HPTE_SPECIAL) && !special)
			put_page(mm->phys, pfn_to_page(mm->phys, hpte_pfn(e)));
	} else if (e & HPTE_SWAP) {
		host_swap_free(mm, hpte_pfn(e));
	}
}

void host_zap_range(struct vm_area_struct *vma, unsigned long start,
		    unsigned long end)
{
	struct mm_struct *mm = vma->mm;
	unsigned long addr = start;

	/* A THP cut by the range is first remapped with PTEs. */
	if (start > vma->vm_start)
		split_huge_pmd_at(vma, start);
	if (end < vma->vm_end)
		split_huge_pmd_at(vma, end);

	spin_lock(&mm->ptl);
	while (addr < end) {
		int level;
		_Atomic u64 *slot = host_pgtable_leaf(mm, addr, &level);
		u64 size = host_level_size(level);

		/* A huge leaf here is wholly inside the range (see above). */
		if (atomic_load(slot))
			zap_entry(mm, slot, vma->backing == HOST_BACKING_DRIVER);
		addr = ALIGN_DOWN(addr, size) + size;
	}
	spin_unlock(&mm->ptl);
}

/* ---- munmap / mprotect ----------------------------------------------------- */

/* Split @vma at @addr (inside it); the new VMA covers [addr, vm_end). */
static int split_vma(struct vm_area_struct *vma, unsigned long addr)
{
	struct vm_area_struct *new;

	if (addr <= vma->vm_start || addr >= vma->vm_end)
		return 0;
	if (vma->backing == HOST_BACKING_HUGETLB &&
	    !IS_ALIGNED(addr, PAGE_SIZE << vma->order))
		return -EINVAL;
	if (vma->backing == HOST_BACKING_DRIVER)
		return -EINVAL; /* drivers map all or nothing */
	split_huge_pmd_at(vma, addr);
	new = malloc(sizeof(*new));
	if (!new)
		return -ENOMEM;
	*new = *vma;
	new->vm_start = addr;
	new->pgoff = vma->pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	vma->vm_end = addr;
	INIT_LIST_HEAD(&new->link);
	list_add(&new->link, &vma->link);
	if (new->file) {
		down_write(&new->file->i_mmap_rwsem);
		list_add_tail(&new->file_link, &new->file->i_mmap);
		up_write(&new->file->i_mmap_rwsem);
	}
	return 0;
}

/* Split the VMAs at the range's edges; return 0 or -errno. */
static int split_edges(struct mm_struct *mm, unsigned long start,
		       unsigned long end)
{
	struct vm_area_struct *vma = host_find_vma(mm, start);
	int ret = 0;

	if (vma)
		ret = split_vma(vma, start);
	vma = host_find_vma(mm, end - 1);
	if (!ret && vma)
		ret = split_vma(vma, end);
	return ret;
}

static void free_vma(struct mm_struct *mm, struct vm_area_struct *vma)
{
	unlink_vma(vma);
	if (vma->backing == HOST_BACKING_DRIVER)
		phys_free(mm->phys, vma->driver_block);
	free(vma);
}

int host_munmap(struct mm_struct *mm, unsigned long addr, unsigned long len)
{
	struct mmu_notifier_range range = {
		.mm = mm, .start = addr, .end = addr + len,
		.flags = MMU_NOTIFIER_RANGE_BLOCKABLE, .event = MMU_NOTIFY_UNMAP,
	};
	struct vm_area_struct *vma, *tmp;
	int ret;

	if (!len || !IS_ALIGNED(addr | len, PAGE_SIZE) || addr + len < addr)
		return -EINVAL;
	down_write(&mm->mmap_lock);
	ret = split_edges(mm, range.start, range.end);
	if (ret || range_is_free(mm, range.start, range.end))
		goto out;
	mmu_notifier_invalidate_range_start(&range);
	list_for_each_entry_safe(vma, tmp, &mm->vmas, link) {
		if (vma->vm_end <= range.start || vma->vm_start >= range.end)
			continue;
		host_zap_range(vma, vma->vm_start, vma->vm_end);
		free_vma(mm, vma);
	}
	mmu_notifier_invalidate_range_end(&range);
out:
	up_write(&mm->mmap_lock);
	return ret;
}

/* Every page of [start, end) is covered by some VMA. */
static bool range_is_mapped(struct mm_struct *mm, unsigned long start,
			    unsigned long end)
{
	struct vm_area_struct *vma;
	unsigned long next = start;

	list_for_each_entry(vma, &mm->vmas, link) {
		if (vma->vm_end <= next)
			continue;
		if (vma->vm_start > next)
			return false;
		next = vma->vm_end;
		if (next >= end)
			return true;
	}
	return false;
}

static void wrprotect_range(struct mm_struct *mm, unsigned long start,
			    unsigned long end)
{
	unsigned long addr = start;

	spin_lock(&mm->ptl);
	while (addr < end) {
		int level;
		_Atomic u64 *slot = host_pgtable_leaf(mm, addr, &level);
		u64 size = host_level_size(level);

		if (hpte_present(atomic_load(slot)))
			atomic_fetch_and(slot, ~HPTE_WRITE);
		addr = ALIGN_DOWN(addr, size) + size;
	}
	spin_unlock(&mm->ptl);
}

int host_mprotect(struct mm_struct *mm, unsigned long addr, unsigned long len,
		  unsigned long vm_flags)
{
	struct mmu_notifier_range range = {
		.mm = mm, .start = addr, .end = addr + len,
		.flags = MMU_NOTIFIER_RANGE_BLOCKABLE,
		.event = MMU_NOTIFY_PROTECTION_VMA,
	};
	struct vm_area_struct *vma;
	int ret;

	if (!len || !IS_ALIGNED(addr | len, PAGE_SIZE) || addr + len < addr ||
	    (vm_flags & ~(VM_READ | VM_WRITE)))
		return -EINVAL;
	down_write(&mm->mmap_lock);
	if (!range_is_mapped(mm, range.start, range.end)) {
		ret = -ENOMEM;
		goto out;
	}
	ret = split_edges(mm, range.start, range.end);
	if (ret)
		goto out;
	mmu_notifier_invalidate_range_start(&range);
	list_for_each_entry(vma, &mm->vmas, link) {
		if (vma->vm_end <= range.start || vma->vm_start >= range.end)
			continue;
		vma->vm_flags = (vma->vm_flags & ~(VM_READ | VM_WRITE)) | vm_flags;
	}
	/* Losing write access write-protects; gaining it waits for faults. */
	if (!(vm_flags & VM_WRITE))
		wrprotect_range(mm, range.start, range.end);
	mmu_notifier_invalidate_range_end(&range);
out:
	up_write(&mm->mmap_lock);
	return ret;
}

void host_mm_destroy(struct mm_struct *mm)
{
	struct vm_area_struct *vma, *tmp;

	/* Subscribers drop everything and are unlinked; then tear down. */
	mmu_notifier_release(mm);
	down_write(&mm->mmap_lock);
	list_for_each_entry_safe(vma, tmp, &mm->vmas, link) {
		host_zap_range(vma, vma->vm_start, vma->vm_end);
		free_vma(mm, vma);
	}
	up_write(&mm->mmap_lock);
	/* Tables detached by THP collapse may still wait for a grace period. */
	rcu_barrier();
	host_pgtable_free_all(mm);
	host_swap_release(mm);
	cleanup_srcu_struct(&mm->notifier_srcu);
	free(mm);
}
