// SPDX-License-Identifier: GPL-2.0-only
/*
 * Page faults of the host (handle_mm_fault) and the VMM's own accesses.
 *
 * A fault made on behalf of a secondary MMU (FAULT_FLAG_FROM_GUP) never
 * dirties the folio or the PTE by itself: writes through the secondary MMU
 * are the secondary MMU's to report (KVM marks the folio dirty when it
 * creates a writable SPTE), as in Linux.  A write by the VMM through the
 * host page tables (host_access) dirties both.
 *
 * New pages are allocated and filled outside ptl; the entry is installed
 * under ptl only if it is still empty, otherwise the new page is released.
 */
#include <errno.h>

#include "bug.h"
#include "host_mm.h"
#include "rcu.h"

static u64 leaf_bits(struct vm_area_struct *vma, unsigned int flags,
		     bool write_on_read)
{
	bool write = flags & FAULT_FLAG_WRITE;
	u64 bits = HPTE_PRESENT | HPTE_ACCESSED;

	if ((vma->vm_flags & VM_WRITE) && (write || write_on_read))
		bits |= HPTE_WRITE;
	if (write && !(flags & FAULT_FLAG_FROM_GUP))
		bits |= HPTE_DIRTY;
	return bits;
}

/*
 * Install a mapping of @pfn at @addr and @level, unless something got there
 * first.  The caller's reference on the page becomes the mapping's.
 * Return: true if installed (else the caller still owns its reference).
 */
/*
 * Map @pfn at @addr if nothing is mapped there yet.  @zero_order >= 0: the
 * block is freshly zero-filled, 1 << @zero_order frames; that is reported
 * only if it is installed, under the lock and before the mapping is
 * visible, so an observer never takes the loser of a fault race for the
 * page's contents, nor sees the zeroes after a store through the mapping.
 */
static bool try_install_leaf(struct mm_struct *mm, unsigned long addr,
			     int level, u64 pfn, u64 bits, int zero_order)
{
	_Atomic u64 *slot;
	bool done = false;

	spin_lock(&mm->ptl);
	slot = host_pgtable_slot(mm, addr, level, true);
	if (slot && !atomic_load(slot)) {
		if (level > 1)
			bits |= HPTE_HUGE;
		if (zero_order >= 0)
			kvmmu_observe(KVMMU_EV_FRAME_ZERO, frame, .pfn = pfn,
				      .order = (u8)zero_order, .kind = KVMMU_FILL_ZERO);
		/* Release: the page's contents are visible before its mapping. */
		atomic_store_explicit(slot, hpte_make(pfn, bits), memory_order_release);
		done = true;
	}
	spin_unlock(&mm->ptl);
	return done;
}

/* As try_install_leaf(), releasing the page if it lost the race. */
static bool install_leaf(struct mm_struct *mm, unsigned long addr, int level,
			 u64 pfn, u64 bits, int zero_order)
{
	if (try_install_leaf(mm, addr, level, pfn, bits, zero_order))
		return true;
	put_page(mm->phys, pfn_to_page(mm->phys, pfn));
	return false;
}

/* A fault on a present leaf: grant write access if the VMA allows it. */
static int fault_present(struct vm_area_struct *vma, _Atomic u64 *slot, u64 e,
			 int level, unsigned long addr, unsigned int flags)
{
	struct mm_struct *mm = vma->mm;
	bool write = flags & FAULT_FLAG_WRITE;
	u64 set = HPTE_ACCESSED;

	if (write) {
		if (!(vma->vm_flags & VM_WRITE))
			return -EFAULT;
		set |= HPTE_WRITE;
		if (!(flags & FAULT_FLAG_FROM_GUP)) {
			set |= HPTE_DIRTY;
			set_page_dirty(mm->phys,
				       pfn_to_page(mm->phys, hpte_subpage_pfn(e, level, addr)));
		}
	}
	atomic_fetch_or(slot, set);
	return 0;
}

static int anon_thp_fault(struct vm_area_struct *vma, unsigned long addr,
			  unsigned int flags)
{
	struct mm_struct *mm = vma->mm;
	unsigned long haddr = ALIGN_DOWN(addr, host_level_size(2));
	_Atomic u64 *slot;
	u64 pfn, e;

	if (!(vma->vm_flags & VM_HUGEPAGE) || haddr < vma->vm_start ||
	    haddr + host_level_size(2) > vma->vm_end)
		return 0;
	spin_lock(&mm->ptl);
	slot = host_pgtable_slot(mm, haddr, 2, true);
	e = slot ? atomic_load(slot) : 1;
	spin_unlock(&mm->ptl);
	if (e)
		return 0; /* already a table or a huge leaf: the 4K path handles it */

	pfn = phys_alloc(mm->phys, HPAGE_PMD_ORDER, PG_anon | PG_head);
	if (!pfn)
		return 0; /* no 2M block: fall back to 4K, as Linux does */
	set_page_private(pfn_to_page(mm->phys, pfn), haddr >> PAGE_SHIFT);
	frame_set_contents(mm->phys, pfn, 1ULL << HPAGE_PMD_ORDER, 0);
	install_leaf(mm, haddr, 2, pfn, leaf_bits(vma, flags, true), HPAGE_PMD_ORDER);
	return 1;
}

static int anon_fault(struct vm_area_struct *vma, unsigned long addr,
		      unsigned int flags)
{
	struct mm_struct *mm = vma->mm;
	_Atomic u64 *slot;
	int level, ret;
	u64 e, pfn;

	ret = anon_thp_fault(vma, addr, flags);
	if (ret)
		return ret < 0 ? ret : 0;

	spin_lock(&mm->ptl);
	slot = host_pgtable_leaf(mm, addr, &level);
	e = atomic_load(slot);
	if (hpte_present(e)) {
		ret = fault_present(vma, slot, e, level, addr, flags);
		spin_unlock(&mm->ptl);
		return ret;
	}
	spin_unlock(&mm->ptl);
	if (e & HPTE_HWPOISON)
		return -EHWPOISON;

	pfn = phys_alloc(mm->phys, 0, PG_anon);
	if (!pfn)
		return -ENOMEM;
	set_page_private(pfn_to_page(mm->phys, pfn), addr >> PAGE_SHIFT);

	if (e & HPTE_SWAP) {
		if (flags & FAULT_FLAG_NOWAIT) {
			phys_free(mm->phys, pfn);
			return -EAGAIN;
		}
		/* Swap-in: the entry may only be replaced while it still says so. */
		spin_lock(&mm->ptl);
		slot = host_pgtable_slot(mm, addr, 1, false);
		if (slot && atomic_load(slot) == e) {
			host_swap_load(mm, hpte_pfn(e), pfn);
			kvmmu_observe(KVMMU_EV_FRAME_COPY, frame, .pfn = pfn,
				      .kind = KVMMU_FILL_SWAP);
			atomic_store_explicit(slot, hpte_make(pfn, leaf_bits(vma, flags, true)),
					      memory_order_release);
			host_swap_free(mm, hpte_pfn(e));
			pfn = 0;
		}
		spin_unlock(&mm->ptl);
		if (pfn)
			phys_free(mm->phys, pfn);
		return 0;
	}

	frame_set_contents(mm->phys, pfn, 1, 0);
	install_leaf(mm, addr, 1, pfn, leaf_bits(vma, flags, true), 0);
	return 0;
}

static int hugetlb_fault(struct vm_area_struct *vma, unsigned long addr,
			 unsigned int flags)
{
	struct mm_struct *mm = vma->mm;
	int level = vma->order == HPAGE_PUD_ORDER ? 3 : 2, l;
	unsigned long haddr = ALIGN_DOWN(addr, host_level_size(level));
	_Atomic u64 *slot;
	u64 e, pfn;
	int ret;

	spin_lock(&mm->ptl);
	slot = host_pgtable_leaf(mm, addr, &l);
	e = atomic_load(slot);
	if (hpte_present(e)) {
		ret = fault_present(vma, slot, e, l, addr, flags);
		spin_unlock(&mm->ptl);
		return ret;
	}
	spin_unlock(&mm->ptl);
	if (e & HPTE_HWPOISON)
		return -EHWPOISON;

	pfn = phys_alloc(mm->phys, vma->order, PG_anon | PG_hugetlb | PG_head);
	if (!pfn)
		return -ENOMEM;
	frame_set_contents(mm->phys, pfn, 1ULL << vma->order, 0);
	install_leaf(mm, haddr, level, pfn, leaf_bits(vma, flags, true), vma->order);
	return 0;
}

static int file_fault(struct vm_area_struct *vma, unsigned long addr,
		      unsigned int flags)
{
	struct mm_struct *mm = vma->mm;
	struct host_phys *phys = mm->phys;
	u64 index = host_file_index(vma, addr), pfn, e;
	struct page *page, *folio;
	_Atomic u64 *slot;
	int level, ret = 0;

	spin_lock(&mm->ptl);
	slot = host_pgtable_leaf(mm, addr, &level);
	e = atomic_load(slot);
	if (hpte_present(e)) {
		ret = fault_present(vma, slot, e, level, addr, flags);
		spin_unlock(&mm->ptl);
		return ret;
	}
	spin_unlock(&mm->ptl);
	if (e & HPTE_HWPOISON)
		return -EHWPOISON;

	pfn = host_file_get_page(vma->file, index, flags & FAULT_FLAG_NOWAIT, &ret);
	if (!pfn)
		return ret ? ret : -ENOMEM;
	page = pfn_to_page(phys, pfn);
	folio = compound_head(phys, page);

	/* Map a whole 2M folio with one PMD where the VMA lines up with it. */
	if (page_order(folio) == HPAGE_PMD_ORDER) {
		u64 head = page_to_pfn(phys, folio);
		unsigned long haddr = addr - ((pfn - head) << PAGE_SHIFT);

		if (IS_ALIGNED(haddr, host_level_size(2)) && haddr >= vma->vm_start &&
		    haddr + host_level_size(2) <= vma->vm_end &&
		    try_install_leaf(mm, haddr, 2, head, leaf_bits(vma, flags, false), -1))
			goto dirty;
	}
	if (!install_leaf(mm, addr, 1, pfn, leaf_bits(vma, flags, false), -1))
		return 0; /* raced with another fault: it mapped the page */
dirty:
	if ((flags & FAULT_FLAG_WRITE) && !(flags & FAULT_FLAG_FROM_GUP))
		set_page_dirty(phys, page);
	return 0;
}

int handle_mm_fault(struct vm_area_struct *vma, unsigned long addr,
		    unsigned int flags)
{
	if ((flags & FAULT_FLAG_WRITE) && !(vma->vm_flags & VM_WRITE))
		return -EFAULT;
	if (!(vma->vm_flags & VM_READ))
		return -EFAULT;
	switch (vma->backing) {
	case HOST_BACKING_ANON:
		return anon_fault(vma, addr, flags);
	case HOST_BACKING_HUGETLB:
		return hugetlb_fault(vma, addr, flags);
	case HOST_BACKING_FILE:
		return file_fault(vma, addr, flags);
	case HOST_BACKING_DRIVER:
		break;
	}
	return -EFAULT; /* a driver's PTEs are installed at mmap time */
}

/* What an access does with the word at @addr of frame @pfn, under ptl; returns 0 or > 0. */
typedef int (*word_op_t)(struct mm_struct *mm, unsigned long addr, u64 pfn, bool special,
			 void *arg);

/*
 * A CPU access by the VMM at @addr: find the frame through the host page
 * tables, faulting in as needed, and run @op on it under ptl, which is what
 * keeps it out of a migration's or reclaim's copy window (they change
 * entries under ptl too): a CPU would fault on their entries.
 */
static int access_word(struct mm_struct *mm, unsigned long addr, bool write, word_op_t op,
		       void *arg)
{
	struct vm_area_struct *vma;
	int ret = 0;

	down_read(&mm->mmap_lock);
	vma = host_find_vma(mm, addr);
	if (!vma) {
		ret = -EFAULT;
		goto out;
	}
	for (;;) {
		_Atomic u64 *slot;
		int level;
		u64 e, pfn;

		spin_lock(&mm->ptl);
		slot = host_pgtable_leaf(mm, addr, &level);
		e = atomic_load(slot);
		if (hpte_present(e) && (!write || (e & HPTE_WRITE))) {
			pfn = hpte_subpage_pfn(e, level, addr);
			if (!phys_check_access(mm->phys, pfn)) {
				ret = -EFAULT;
			} else {
				ret = op(mm, addr, pfn, e & HPTE_SPECIAL, arg);
				atomic_fetch_or(slot, write ? HPTE_DIRTY | HPTE_ACCESSED :
							      HPTE_ACCESSED);
			}
			spin_unlock(&mm->ptl);
			break;
		}
		spin_unlock(&mm->ptl);
		ret = handle_mm_fault(vma, addr, write ? FAULT_FLAG_WRITE : 0);
		if (ret)
			break;
	}
out:
	up_read(&mm->mmap_lock);
	return ret;
}

/*
 * A store of the word at @addr is done: the folio is dirty, the observers
 * hear it, and the word it replaced (@prev).
 */
static void stored(struct mm_struct *mm, unsigned long addr, u64 pfn, bool special, u64 val,
		   u64 prev)
{
	if (!special)
		set_page_dirty(mm->phys, pfn_to_page(mm->phys, pfn));
	/* Under ptl, as the write: no copy or drop between the two. */
	kvmmu_observe(KVMMU_EV_VMM_STORE, access, .vcpu = -1, .size = 8, .hva = addr & ~7UL,
		      .pfn = pfn, .value = val, .prev_known = true, .prev = prev);
}

/* A compare-exchange that replaced @prev: a load racing with it may still see @prev. */
static void stored_rmw(struct mm_struct *mm, unsigned long addr, u64 pfn, bool special,
		       u64 val, u64 prev)
{
	if (!special)
		set_page_dirty(mm->phys, pfn_to_page(mm->phys, pfn));
	kvmmu_observe(KVMMU_EV_VMM_STORE, access, .vcpu = -1, .size = 8, .hva = addr & ~7UL,
		      .pfn = pfn, .value = val, .rmw = true, .prev_known = true, .prev = prev);
}

static int load_op(struct mm_struct *mm, unsigned long addr, u64 pfn, bool special, void *arg)
{
	u64 *val = arg, since = 0;

	/* Stores numbered from here on may land after the read: the checkers must know. */
	if (kvmmu_observing(KVMMU_EV_VMM_LOAD))
		since = kvmmu_observe_index();
	*val = frame_read_word(mm->phys, pfn, addr & (PAGE_SIZE - 1));
	kvmmu_observe(KVMMU_EV_VMM_LOAD, access, .vcpu = -1, .size = 8, .hva = addr, .pfn = pfn,
		      .value = *val, .since = since);
	return 0;
}

static int store_op(struct mm_struct *mm, unsigned long addr, u64 pfn, bool special, void *arg)
{
	u64 *val = arg;

	/* An exchange: the observers hear the word the store replaced. */
	stored(mm, addr, pfn, special, *val,
	       frame_xchg_word(mm->phys, pfn, addr & (PAGE_SIZE - 1), *val));
	return 0;
}

int host_access(struct mm_struct *mm, unsigned long addr, bool write, u64 *val)
{
	return access_word(mm, addr, write, write ? store_op : load_op, val);
}

/*
 * A load that does not fault in and does not sleep (the kernel's
 * __copy_from_user_inatomic() with page faults disabled): only ptl, which
 * keeps the host page tables and the entry in place.  -EFAULT if the word
 * is not mapped right now.
 */
int host_access_nofault(struct mm_struct *mm, unsigned long addr, u64 *val)
{
	_Atomic u64 *slot;
	int level, ret = -EFAULT;
	u64 e, pfn;

	spin_lock(&mm->ptl);
	slot = host_pgtable_leaf(mm, addr, &level);
	e = atomic_load(slot);
	if (hpte_present(e)) {
		pfn = hpte_subpage_pfn(e, level, addr);
		if (phys_check_access(mm->phys, pfn))
			ret = load_op(mm, addr, pfn, e & HPTE_SPECIAL, val);
	}
	spin_unlock(&mm->ptl);
	return ret;
}

struct cmpxchg_args {
	int size;
	u64 *old;
	u64 new_val;
};

/* Data mode only: a 4-byte exchange is on the bytes, as the CPU's lock cmpxchg. */
static int cmpxchg_op(struct mm_struct *mm, unsigned long addr, u64 pfn, bool special,
		      void *arg)
{
	struct cmpxchg_args *a = arg;
	u8 *bytes = (u8 *)frame_words(mm->phys, pfn) + (addr & (PAGE_SIZE - 1));
	bool done;

	if (a->size == 4) {
		u32 o = (u32)*a->old;

		done = atomic_compare_exchange_strong((_Atomic u32 *)(void *)bytes, &o,
						      (u32)a->new_val);
		*a->old = o;
	} else {
		done = atomic_compare_exchange_strong((_Atomic u64 *)(void *)bytes, a->old,
						      a->new_val);
	}
	if (!done)
		return 1;
	{
		u64 word = frame_read_word(mm->phys, pfn, addr & (PAGE_SIZE - 1));
		u64 shift = (addr & 7) * 8;
		u64 mask = a->size == 8 ? ~0ULL : 0xffffffffULL << shift;

		stored_rmw(mm, addr, pfn, special, word,
			   (word & ~mask) | ((*a->old << shift) & mask));
	}
	return 0;
}

int host_access_cmpxchg(struct mm_struct *mm, unsigned long addr, int size, u64 *old,
			u64 new_val)
{
	struct cmpxchg_args a = { .size = size, .old = old, .new_val = new_val };

	if ((size != 4 && size != 8) || (addr & (size - 1)) || mm->phys->tag_mode)
		return -EINVAL;
	return access_word(mm, addr, true, cmpxchg_op, &a);
}
