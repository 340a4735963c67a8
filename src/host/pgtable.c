// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host page tables: a 4-level radix tree of 4 KiB frames from the host's
 * allocator, mapping host virtual addresses to frames (4K, 2M or 1G).
 *
 * Writers hold mm->ptl.  Lockless readers (GUP-fast, the mapping level)
 * hold rcu_read_lock(): entries are read with acquire loads and published
 * with release stores, and a detached table is freed only after a grace
 * period.
 */
#include <errno.h>
#include <stdlib.h>

#include "bug.h"
#include "host_mm.h"
#include "rcu.h"

static unsigned int pt_index(unsigned long addr, int level)
{
	return (addr >> (PAGE_SHIFT + (level - 1) * 9)) & 511;
}

static _Atomic u64 *pt_table(struct mm_struct *mm, u64 pfn)
{
	return frame_words(mm->phys, pfn);
}

static u64 pt_alloc(struct mm_struct *mm)
{
	u64 pfn = phys_alloc(mm->phys, 0, PG_table);

	if (pfn) {
		frame_fill(mm->phys, pfn, 1, 0);
		atomic64_inc(&mm->nr_tables);
	}
	return pfn;
}

int host_pgtable_init(struct mm_struct *mm)
{
	mm->pgd = pt_alloc(mm);
	return mm->pgd ? 0 : -ENOMEM;
}

static void pt_free(struct mm_struct *mm, u64 pfn)
{
	atomic64_dec(&mm->nr_tables);
	phys_free(mm->phys, pfn);
}

static void free_level(struct mm_struct *mm, u64 pfn, int level)
{
	_Atomic u64 *t = pt_table(mm, pfn);
	int i;

	if (level > 1) {
		for (i = 0; i < 512; i++) {
			u64 e = atomic_load(&t[i]);

			if (hpte_present(e) && !hpte_leaf(e, level))
				free_level(mm, hpte_pfn(e), level - 1);
		}
	}
	pt_free(mm, pfn);
}

void host_pgtable_free_all(struct mm_struct *mm)
{
	if (mm->pgd)
		free_level(mm, mm->pgd, HOST_PT_LEVELS);
	mm->pgd = 0;
}

u64 host_pgtable_lookup(struct mm_struct *mm, unsigned long addr, int *level)
{
	u64 pfn = mm->pgd;
	int l;

	for (l = HOST_PT_LEVELS;; l--) {
		/* Acquire: pairs with the release store that published the entry. */
		u64 e = atomic_load_explicit(&pt_table(mm, pfn)[pt_index(addr, l)],
					     memory_order_acquire);

		if (!hpte_present(e) || hpte_leaf(e, l)) {
			*level = l;
			return e;
		}
		pfn = hpte_pfn(e);
	}
}

_Atomic u64 *host_pgtable_slot(struct mm_struct *mm, unsigned long addr,
			       int level, bool alloc)
{
	u64 pfn = mm->pgd;
	int l;

	lockdep_assert_held(&mm->ptl);
	for (l = HOST_PT_LEVELS; l > level; l--) {
		_Atomic u64 *slot = &pt_table(mm, pfn)[pt_index(addr, l)];
		u64 e = atomic_load(slot);

		if (!hpte_present(e)) {
			u64 table;

			if (!alloc || e)
				return NULL;
			table = pt_alloc(mm);
			if (!table)
				return NULL;
			/* Release: the zeroed table is visible before the link. */
			e = hpte_make(table, HPTE_PRESENT | HPTE_WRITE);
			atomic_store_explicit(slot, e, memory_order_release);
		} else if (hpte_leaf(e, l)) {
			return NULL;
		}
		pfn = hpte_pfn(e);
	}
	return &pt_table(mm, pfn)[pt_index(addr, level)];
}

_Atomic u64 *host_pgtable_leaf(struct mm_struct *mm, unsigned long addr,
			       int *level)
{
	u64 pfn = mm->pgd;
	int l;

	lockdep_assert_held(&mm->ptl);
	for (l = HOST_PT_LEVELS;; l--) {
		_Atomic u64 *slot = &pt_table(mm, pfn)[pt_index(addr, l)];
		u64 e = atomic_load(slot);

		if (!hpte_present(e) || hpte_leaf(e, l)) {
			*level = l;
			return slot;
		}
		pfn = hpte_pfn(e);
	}
}

struct pt_rcu {
	struct rcu_head rcu;
	struct mm_struct *mm;
	u64 pfn;
};

static void pt_free_cb(struct rcu_head *head)
{
	struct pt_rcu *r = container_of(head, struct pt_rcu, rcu);

	pt_free(r->mm, r->pfn);
	free(r);
}

void host_pgtable_free_rcu(struct mm_struct *mm, u64 pfn)
{
	struct pt_rcu *r = malloc(sizeof(*r));

	BUG_ON(!r);
	r->mm = mm;
	r->pfn = pfn;
	call_rcu(&r->rcu, pt_free_cb);
}
