// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pfn lookup KVM uses (get_user_pages plus KVM's hva_to_pfn, in the
 * shape of kvm_follow_pfn()), the host mapping level, and the ops table
 * that hands all of the host contract to the core.
 *
 * The fast path walks the page tables without locks (under RCU), takes a
 * reference with try_get_folio() (which fails on a frozen or free folio) and
 * re-reads the entry: if it changed, the reference is dropped and the slow
 * path runs.  The slow path holds mmap_lock for read and faults pages in.
 * PFNMAP/IO mappings never yield a reference: their pages belong to the
 * driver and may not be refcounted at all.
 */
#include <errno.h>

#include "bug.h"
#include "host_mm.h"
#include "sched_point.h"
#include "mutant.h"
#include "rcu.h"

/* A present, permitted leaf for @addr, or 0; its level in *@level. */
static u64 lookup_leaf(struct mm_struct *mm, unsigned long addr, bool write,
		       int *level)
{
	u64 e = host_pgtable_lookup(mm, addr, level);

	if (!hpte_present(e) || (write && !(e & HPTE_WRITE)))
		return 0;
	return e;
}

/*
 * Take the caller's reference on the page behind @e, if it asked for one,
 * and make sure @e still maps @addr afterwards (the GUP-fast recheck).
 */
static bool grab_page(struct mm_struct *mm, struct kvm_follow_pfn *foll,
		      u64 e, int level, u64 pfn)
{
	struct host_phys *phys = mm->phys;
	struct page *page = pfn_to_page(phys, pfn), *folio;
	int l;

	if (!(foll->flags & FOLL_GET) || (page_flags(page) & PG_reserved))
		return true;
	folio = try_get_folio(phys, page);
	if (!folio)
		return false;
	if (host_pgtable_lookup(mm, foll->hva, &l) != e || l != level) {
		put_page(phys, folio);
		return false;
	}
	foll->refcounted_page = page;
	return true;
}

/* hva_to_pfn_fast(): no locks, no faults, only what is mapped now. */
static kvmmu_pfn_t follow_pfn_fast(struct mm_struct *mm,
				   struct kvm_follow_pfn *foll, bool write)
{
	kvmmu_pfn_t pfn = 0;
	int level;
	u64 e;

	rcu_read_lock();
	e = lookup_leaf(mm, foll->hva, write, &level);
	if (e && !(e & HPTE_SPECIAL)) {
		u64 p = hpte_subpage_pfn(e, level, foll->hva);

		if (!(page_flags(pfn_to_page(mm->phys, p)) & PG_hwpoison) &&
		    grab_page(mm, foll, e, level, p))
			pfn = p;
	}
	rcu_read_unlock();
	return pfn;
}

/* hva_to_pfn_remapped(): the driver's pfns, never a reference. */
static kvmmu_pfn_t follow_pfn_remapped(struct mm_struct *mm,
				       struct kvm_follow_pfn *foll, bool write,
				       bool want_writable)
{
	kvmmu_pfn_t pfn;
	int level;
	u64 e;

	rcu_read_lock();
	e = host_pgtable_lookup(mm, foll->hva, &level);
	rcu_read_unlock();
	if (!hpte_present(e))
		return KVM_PFN_ERR_FAULT;
	if (write && !(e & HPTE_WRITE))
		return KVM_PFN_ERR_RO_FAULT;
	pfn = hpte_subpage_pfn(e, level, foll->hva);
	foll->map_writable = want_writable && (e & HPTE_WRITE);

	/*
	 * Mutant ref-noncounted-page: the pre-2021 KVM took a reference on
	 * any PFNMAP page that has a frame struct, including the tail pages
	 * of a driver's non-compound block, whose count is 0.
	 */
	if (kvmmu_mutant(MUT_REF_NONCOUNTED_PAGE) && (foll->flags & FOLL_GET) &&
	    phys_pfn_valid(mm->phys, pfn)) {
		get_page(mm->phys, pfn_to_page(mm->phys, pfn));
		foll->refcounted_page = pfn_to_page(mm->phys, pfn);
	}
	return pfn;
}

static kvmmu_pfn_t errno_to_pfn(int err)
{
	switch (err) {
	case -EAGAIN:
		return KVM_PFN_ERR_NEEDS_IO;
	case -EHWPOISON:
		return KVM_PFN_ERR_HWPOISON;
	default:
		return KVM_PFN_ERR_FAULT;
	}
}

kvmmu_pfn_t host_follow_pfn(struct mm_struct *mm, struct kvm_follow_pfn *foll)
{
	bool write = foll->flags & FOLL_WRITE;
	bool want_writable = foll->map_writable;
	struct vm_area_struct *vma;
	kvmmu_pfn_t pfn;

	foll->refcounted_page = NULL;
	foll->map_writable = false;

	/* As KVM: the fast path only when the answer may be writable. */
	if (write || want_writable) {
		pfn = follow_pfn_fast(mm, foll, true);
		if (pfn) {
			foll->map_writable = true;
			return pfn;
		}
	}

	down_read(&mm->mmap_lock);
	vma = host_find_vma(mm, foll->hva);
	if (!vma) {
		pfn = KVM_PFN_ERR_FAULT;
	} else if (vma->vm_flags & (VM_IO | VM_PFNMAP)) {
		pfn = follow_pfn_remapped(mm, foll, write, want_writable);
	} else if ((write && !(vma->vm_flags & VM_WRITE)) ||
		   !(vma->vm_flags & VM_READ)) {
		pfn = KVM_PFN_ERR_FAULT; /* GUP refuses: no such access allowed */
	} else {
		for (;;) {
			int level, err;
			u64 e, p;

			rcu_read_lock();
			e = lookup_leaf(mm, foll->hva, write, &level);
			if (e) {
				p = hpte_subpage_pfn(e, level, foll->hva);
				if (page_flags(pfn_to_page(mm->phys, p)) & PG_hwpoison) {
					rcu_read_unlock();
					pfn = KVM_PFN_ERR_HWPOISON;
					break;
				}
				if (grab_page(mm, foll, e, level, p)) {
					rcu_read_unlock();
					foll->map_writable = (write || want_writable) &&
							     (e & HPTE_WRITE);
					pfn = p;
					break;
				}
				rcu_read_unlock();
				cond_resched(); /* the page is being moved: retry */
				continue;
			}
			rcu_read_unlock();
			err = handle_mm_fault(vma, foll->hva,
					      FAULT_FLAG_FROM_GUP |
					      (write ? FAULT_FLAG_WRITE : 0) |
					      ((foll->flags & FOLL_NOWAIT) ? FAULT_FLAG_NOWAIT : 0));
			if (err) {
				pfn = errno_to_pfn(err);
				break;
			}
		}
	}
	up_read(&mm->mmap_lock);
	return pfn;
}

int host_mapping_level(struct mm_struct *mm, unsigned long hva)
{
	int level;
	u64 e;

	rcu_read_lock();
	e = host_pgtable_lookup(mm, hva, &level);
	rcu_read_unlock();
	return hpte_present(e) ? level : 1;
}

/* ---- the ops table --------------------------------------------------------- */

static kvmmu_pfn_t ops_follow_pfn(struct mm_struct *mm, struct kvm_follow_pfn *foll)
{
	return host_follow_pfn(mm, foll);
}

static struct page *ops_pfn_to_page(struct mm_struct *mm, kvmmu_pfn_t pfn)
{
	return phys_pfn_valid(mm->phys, pfn) ? pfn_to_page(mm->phys, pfn) : NULL;
}

static kvmmu_pfn_t ops_page_to_pfn(struct mm_struct *mm, struct page *page)
{
	return page_to_pfn(mm->phys, page);
}

static int ops_page_count(struct mm_struct *mm, struct page *page)
{
	return page_count(mm->phys, page);
}

static int ops_page_ref_count(struct mm_struct *mm, struct page *page)
{
	return page_ref_count(page);
}

static bool ops_page_is_reserved(struct mm_struct *mm, struct page *page)
{
	return page_flags(page) & PG_reserved;
}

static void ops_get_page(struct mm_struct *mm, struct page *page)
{
	get_page(mm->phys, page);
}

static void ops_put_page(struct mm_struct *mm, struct page *page)
{
	put_page(mm->phys, page);
}

static void ops_set_page_dirty(struct mm_struct *mm, struct page *page)
{
	set_page_dirty(mm->phys, page);
}

static void ops_mark_page_accessed(struct mm_struct *mm, struct page *page)
{
	mark_page_accessed(mm->phys, page);
}

static kvmmu_pfn_t ops_alloc_table(struct mm_struct *mm)
{
	u64 pfn = phys_alloc(mm->phys, 0, PG_table);

	if (pfn)
		frame_fill(mm->phys, pfn, 1, 0);
	return pfn;
}

static void ops_free_table(struct mm_struct *mm, kvmmu_pfn_t pfn)
{
	phys_free(mm->phys, pfn);
}

static void *ops_direct_map(struct mm_struct *mm)
{
	return mm->phys->data;
}

static _Atomic u64 *ops_tag_map(struct mm_struct *mm)
{
	return mm->phys->tag_mode ? mm->phys->tags : NULL;
}

static void ops_set_table_owner(struct mm_struct *mm, kvmmu_pfn_t pfn, void *owner)
{
	set_page_private(pfn_to_page(mm->phys, pfn), (u64)(uintptr_t)owner);
}

static void *ops_table_owner(struct mm_struct *mm, kvmmu_pfn_t pfn)
{
	return (void *)(uintptr_t)page_private(pfn_to_page(mm->phys, pfn));
}

static int ops_frame_state(struct mm_struct *mm, kvmmu_pfn_t pfn)
{
	return phys_pfn_valid(mm->phys, pfn) ?
		       (int)page_state(pfn_to_page(mm->phys, pfn)) :
		       KVMMU_FRAME_FREE;
}

static int ops_read_user(struct mm_struct *mm, unsigned long hva, u64 *val)
{
	return host_access(mm, hva & ~7UL, false, val) ? -EFAULT : 0;
}

static int ops_read_user_nofault(struct mm_struct *mm, unsigned long hva, u64 *val)
{
	return host_access_nofault(mm, hva & ~7UL, val);
}

static int ops_cmpxchg_user(struct mm_struct *mm, unsigned long hva, int size, u64 *old,
			    u64 new_val)
{
	int r = host_access_cmpxchg(mm, hva, size, old, new_val);

	return r < 0 ? -EFAULT : r;
}

const struct kvmmu_host_ops host_kvm_ops = {
	.follow_pfn = ops_follow_pfn,
	.host_mapping_level = host_mapping_level,
	.pfn_to_page = ops_pfn_to_page,
	.page_to_pfn = ops_page_to_pfn,
	.page_count = ops_page_count,
	.page_ref_count = ops_page_ref_count,
	.page_is_reserved = ops_page_is_reserved,
	.get_page = ops_get_page,
	.put_page = ops_put_page,
	.set_page_dirty = ops_set_page_dirty,
	.mark_page_accessed = ops_mark_page_accessed,
	.mmu_notifier_register = host_mmu_notifier_register,
	.mmu_notifier_unregister = host_mmu_notifier_unregister,
	.alloc_table = ops_alloc_table,
	.free_table = ops_free_table,
	.direct_map = ops_direct_map,
	.tag_map = ops_tag_map,
	.set_table_owner = ops_set_table_owner,
	.table_owner = ops_table_owner,
	.frame_state = ops_frame_state,
	.read_user = ops_read_user,
	.read_user_nofault = ops_read_user_nofault,
	.cmpxchg_user = ops_cmpxchg_user,
};
