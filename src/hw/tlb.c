// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vCPU's TLB and paging-structure caches (see hw_internal.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw_internal.h"
#include "observe.h"
#include "sched_point.h"

static int array_init(struct hw_tlb_array *a, unsigned int n, int level)
{
	/* Cache-line aligned: another vCPU's arrays may come next in memory. */
	a->slot = zalloc_cacheline_aligned((size_t)n * sizeof(*a->slot));
	a->meta = zalloc_cacheline_aligned((size_t)n * sizeof(*a->meta));
	a->mask = n - 1;
	a->level = level;
	return a->slot && a->meta ? 0 : -ENOMEM;
}

int hw_tlb_init(struct kvmmu_hw_vcpu *hv)
{
	struct hw_machine *m = hv->m;
	int i, r = 0;

	for (i = 0; i < NR_TLBS; i++)
		r |= array_init(&hv->tlb[i], i == TLB_4K ? m->tlb_4k : m->tlb_huge, i + 1);
	for (i = 0; i < NR_PSC; i++)
		r |= array_init(&hv->psc[i], m->psc, i + 2);
	hv->cur_ctx = -1;
	hv->key_tag = 0;
	return r ? -ENOMEM : 0;
}

void hw_tlb_free(struct kvmmu_hw_vcpu *hv)
{
	int i;

	for (i = 0; i < NR_TLBS; i++) {
		free(hv->tlb[i].slot);
		free(hv->tlb[i].meta);
	}
	for (i = 0; i < NR_PSC; i++) {
		free(hv->psc[i].slot);
		free(hv->psc[i].meta);
	}
}

/* The seqlock around a change that snapshots must not see half of. */
static void tlb_write_begin(struct kvmmu_hw_vcpu *hv)
{
	atomic_store_explicit(&hv->seq, atomic_load_explicit(&hv->seq, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	/* Pairs with the read barrier in hw_tlb_snapshot(). */
	smp_wmb();
}

static void tlb_write_end(struct kvmmu_hw_vcpu *hv)
{
	/* Release: the entries are written before the count goes even. */
	atomic_store_explicit(&hv->seq, atomic_load_explicit(&hv->seq, memory_order_relaxed) + 1,
			      memory_order_release);
}

static void update_key_tag(struct kvmmu_hw_vcpu *hv)
{
	int c = hv->cur_ctx;

	hv->key_tag = c < 0 ? 0 :
		      ((u64)c << TLB_CTX_SHIFT) |
		      ((u64)atomic_load_explicit(&hv->ctx_gen[c], memory_order_relaxed)
		       << TLB_GEN_SHIFT) |
		      TLBF_VALID;
}

static void clear_arrays(struct kvmmu_hw_vcpu *hv)
{
	int i;
	u64 j;

	for (i = 0; i < NR_TLBS; i++)
		for (j = 0; j <= hv->tlb[i].mask; j++)
			atomic_store_explicit(&hv->tlb[i].slot[j].key, 0, memory_order_relaxed);
	for (i = 0; i < NR_PSC; i++)
		for (j = 0; j <= hv->psc[i].mask; j++)
			atomic_store_explicit(&hv->psc[i].slot[j].key, 0, memory_order_relaxed);
}

/* Retire every entry of @ctx: a new generation. */
static void __flush_ctx(struct kvmmu_hw_vcpu *hv, int ctx)
{
	u32 gen = atomic_load_explicit(&hv->ctx_gen[ctx], memory_order_relaxed) + 1;

	if (gen == HW_GEN_MAX) {
		/* Generations would repeat: forget everything for real. */
		clear_arrays(hv);
		gen = 1;
	}
	atomic_store_explicit(&hv->ctx_gen[ctx], gen, memory_order_relaxed);
}

void hw_tlb_flush_ctx(struct kvmmu_hw_vcpu *hv, int ctx)
{
	sched_point(SP_TLB_FLUSH, hv);
	tlb_write_begin(hv);
	__flush_ctx(hv, ctx);
	update_key_tag(hv);
	tlb_write_end(hv);
	kvmmu_observe(KVMMU_EV_TLB_FLUSH, tlb, .vcpu = hv->id, .all = false,
		      .pfn = atomic_load_explicit(&hv->ctx_root[ctx], memory_order_relaxed));
}

void hw_tlb_flush_all(struct kvmmu_hw_vcpu *hv)
{
	int c;

	sched_point(SP_TLB_FLUSH, hv);
	tlb_write_begin(hv);
	for (c = 0; c < HW_MAX_CTX; c++)
		__flush_ctx(hv, c);
	update_key_tag(hv);
	tlb_write_end(hv);
	kvmmu_observe(KVMMU_EV_TLB_FLUSH, tlb, .vcpu = hv->id, .all = true);
}

void hw_tlb_set_root(struct kvmmu_hw_vcpu *hv, u64 root_pfn)
{
	int c, victim = 0;

	hv->clock++;
	if (hv->cur_ctx >= 0 &&
	    atomic_load_explicit(&hv->ctx_root[hv->cur_ctx], memory_order_relaxed) == root_pfn &&
	    atomic_load_explicit(&hv->ctx_nested[hv->cur_ctx], memory_order_relaxed) == hv->l2) {
		hv->ctx_used[hv->cur_ctx] = hv->clock;
		return;
	}
	for (c = 0; c < HW_MAX_CTX; c++) {
		if (atomic_load_explicit(&hv->ctx_root[c], memory_order_relaxed) == root_pfn)
			goto found;
		if (hv->ctx_used[c] < hv->ctx_used[victim])
			victim = c;
	}
	/* A new context takes the least recently used one, which is forgotten. */
	c = victim;
	tlb_write_begin(hv);
	__flush_ctx(hv, c);
	atomic_store_explicit(&hv->ctx_root[c], root_pfn, memory_order_relaxed);
	tlb_write_end(hv);
found:
	/* Written once the context is chosen; snapshots read it with the keys. */
	if (atomic_load_explicit(&hv->ctx_nested[c], memory_order_relaxed) != hv->l2) {
		tlb_write_begin(hv);
		atomic_store_explicit(&hv->ctx_nested[c], hv->l2, memory_order_relaxed);
		tlb_write_end(hv);
	}
	hv->cur_ctx = c;
	hv->ctx_used[c] = hv->clock;
	update_key_tag(hv);
}

void hw_tlb_fill(struct kvmmu_hw_vcpu *hv, struct hw_tlb_array *a, const struct hw_fill *f)
{
	u64 i = hw_tlb_index(a, f->page);
	struct hw_tlb_meta *meta = &a->meta[i];
	int t;

	sched_point(SP_TLB_FILL, hv);
	if (f->flags & TLBF_LINEAR)
		atomic_store_explicit(&hv->had_linear, true, memory_order_relaxed);
	tlb_write_begin(hv);
	atomic_store_explicit(&meta->sptep, (u64)(uintptr_t)f->sptep, memory_order_relaxed);
	atomic_store_explicit(&meta->spte, f->spte, memory_order_relaxed);
	atomic_store_explicit(&meta->gpa_page, f->gpa_page, memory_order_relaxed);
	for (t = 0; t < 5; t++)
		atomic_store_explicit(&meta->tables[t], f->tables[t], memory_order_relaxed);
	atomic_store_explicit(&a->slot[i].pfn, f->pfn, memory_order_relaxed);
	atomic_store_explicit(&a->slot[i].key,
			      (f->page << TLB_PAGE_SHIFT) | hv->key_tag | f->flags,
			      memory_order_relaxed);
	tlb_write_end(hv);
	kvmmu_observe(KVMMU_EV_TLB_FILL, tlb, .vcpu = hv->id,
		      .gfn = (f->flags & TLBF_SHADOW) || hv->l2 ? HW_GFN_UNKNOWN :
			     (f->flags & TLBF_LINEAR) ? f->gpa_page :
			     f->page << (9 * (a->level - 1)),
		      .level = (u8)a->level, .pfn = f->pfn, .sptep = f->sptep, .spte = f->spte);
}

void hw_tlb_drop(struct kvmmu_hw_vcpu *hv, struct hw_tlb_array *a, u64 page, u64 flags)
{
	struct hw_tlb_slot *s = &a->slot[hw_tlb_index(a, page)];
	u64 key = atomic_load_explicit(&s->key, memory_order_relaxed);

	if ((key & ~TLBF_PERMS) != ((page << TLB_PAGE_SHIFT) | hv->key_tag | flags))
		return;
	tlb_write_begin(hv);
	atomic_store_explicit(&s->key, 0, memory_order_relaxed);
	tlb_write_end(hv);
}

static bool entry_live(struct kvmmu_hw_vcpu *hv, u64 key, u32 gens[HW_MAX_CTX])
{
	int ctx = (int)((key >> TLB_CTX_SHIFT) & 3);

	return (key & TLBF_VALID) &&
	       ((key >> TLB_GEN_SHIFT) & (HW_GEN_MAX - 1)) == gens[ctx];
}

/* A snapshot's roots[] bit: the context is an L2 root's. */
#define SNAP_NESTED BIT_ULL(63)

/* Which entries a snapshot wants: every one, or those over some gfns. */
struct snap_filter {
	u64 first, end; /* gfns [first, end); end == 0: everything */
};

static bool wanted(const struct hw_tlb_array *a, u64 j, u64 key, const struct snap_filter *f)
{
	u64 first, pages;

	if (!f->end)
		return true;
	/* A shadow entry's gfn is unknown: it covers none. */
	if (key & TLBF_SHADOW)
		return false;
	if (key & TLBF_LINEAR) {
		first = atomic_load_explicit(&a->meta[j].gpa_page, memory_order_relaxed);
		pages = 1;
	} else {
		first = (key >> TLB_PAGE_SHIFT) << (9 * (a->level - 1));
		pages = 1ULL << (9 * (a->level - 1));
	}
	return first < f->end && first + pages > f->first;
}

static void copy_entry(struct hw_tlb_array *a, u64 j, u64 key, u8 kind, u64 roots[HW_MAX_CTX],
		       struct hw_tlb_view *v)
{
	int t;

	v->kind = kind;
	v->level = (u8)a->level;
	v->page = key >> TLB_PAGE_SHIFT;
	v->linear = key & TLBF_LINEAR;
	if (!v->linear)
		v->page <<= 9 * (a->level - 1);
	v->gfn = v->linear ? atomic_load_explicit(&a->meta[j].gpa_page, memory_order_relaxed) :
			     v->page;
	if (key & TLBF_SHADOW) {
		/* The cold record holds the whole gva page; the gfn is unknown. */
		v->page = v->gfn;
		v->gfn = HW_GFN_UNKNOWN;
	}
	v->pfn = atomic_load_explicit(&a->slot[j].pfn, memory_order_relaxed);
	v->root_pfn = roots[(key >> TLB_CTX_SHIFT) & 3] & ~SNAP_NESTED;
	/* An L2 entry: its page is an L2 gpa's, its gfn unknown (the leaf knows it). */
	if (roots[(key >> TLB_CTX_SHIFT) & 3] & SNAP_NESTED)
		v->gfn = HW_GFN_UNKNOWN;
	v->sptep = (const void *)(uintptr_t)atomic_load_explicit(&a->meta[j].sptep,
								   memory_order_relaxed);
	v->spte = atomic_load_explicit(&a->meta[j].spte, memory_order_relaxed);
	for (t = 0; t < 5; t++)
		v->tables[t] = atomic_load_explicit(&a->meta[j].tables[t], memory_order_relaxed);
}

static int snapshot_array(struct kvmmu_hw_vcpu *hv, struct hw_tlb_array *a, u8 kind,
			  u32 gens[HW_MAX_CTX], u64 roots[HW_MAX_CTX], const struct snap_filter *f,
			  struct hw_tlb_view *buf, int n, int count)
{
	int shift = 9 * (a->level - 1);
	u64 j, page;

	/*
	 * A few gfns and no gva-keyed entries: probe the slots those pages
	 * index instead of scanning the array.  A slot holds one page, so a
	 * page whose slot holds another is simply not there.
	 */
	if (f->end && !atomic_load_explicit(&hv->had_linear, memory_order_relaxed) &&
	    ((f->end - 1) >> shift) - (f->first >> shift) <= a->mask) {
		for (page = f->first >> shift; page <= (f->end - 1) >> shift; page++) {
			u64 key;

			j = hw_tlb_index(a, page);
			key = atomic_load_explicit(&a->slot[j].key, memory_order_relaxed);
			/* An L2 entry's page is no gfn: it covers none. */
			if (!entry_live(hv, key, gens) || (key & TLBF_LINEAR) ||
			    key >> TLB_PAGE_SHIFT != page ||
			    (roots[(key >> TLB_CTX_SHIFT) & 3] & SNAP_NESTED))
				continue;
			if (count < n)
				copy_entry(a, j, key, kind, roots, &buf[count]);
			count++;
		}
		return count;
	}
	for (j = 0; j <= a->mask; j++) {
		u64 key = atomic_load_explicit(&a->slot[j].key, memory_order_relaxed);

		if (!entry_live(hv, key, gens) || !wanted(a, j, key, f) ||
		    (f->end && (roots[(key >> TLB_CTX_SHIFT) & 3] & SNAP_NESTED)))
			continue;
		if (count < n)
			copy_entry(a, j, key, kind, roots, &buf[count]);
		count++;
	}
	return count;
}

static int snapshot(struct kvmmu_hw_vcpu *hv, const struct snap_filter *f, bool leaves_only,
		    struct hw_tlb_view *buf, int n)
{
	for (;;) {
		u32 s1 = atomic_load_explicit(&hv->seq, memory_order_acquire), s2;
		u32 gens[HW_MAX_CTX];
		u64 roots[HW_MAX_CTX];
		int c, i, count = 0;

		if (s1 & 1) {
			cpu_relax();
			continue;
		}
		for (c = 0; c < HW_MAX_CTX; c++) {
			gens[c] = atomic_load_explicit(&hv->ctx_gen[c], memory_order_relaxed);
			roots[c] = atomic_load_explicit(&hv->ctx_root[c], memory_order_relaxed);
			if (atomic_load_explicit(&hv->ctx_nested[c], memory_order_relaxed))
				roots[c] |= SNAP_NESTED;
		}
		for (i = 0; i < NR_TLBS; i++)
			count = snapshot_array(hv, &hv->tlb[i], HW_TLB_LEAF, gens, roots, f, buf, n,
					       count);
		for (i = 0; i < NR_PSC && !leaves_only; i++)
			count = snapshot_array(hv, &hv->psc[i], HW_TLB_PSC, gens, roots, f, buf, n,
					       count);
		/* Pairs with the write barrier in tlb_write_begin(). */
		smp_rmb();
		s2 = atomic_load_explicit(&hv->seq, memory_order_relaxed);
		if (s1 == s2)
			return count;
	}
}

int hw_tlb_snapshot(struct kvmmu_hw_vcpu *hv, struct hw_tlb_view *buf, int n)
{
	static const struct snap_filter all;

	return snapshot(hv, &all, false, buf, n);
}

int hw_tlb_snapshot_leaves(struct kvmmu_hw_vcpu *hv, u64 gfn, u64 nr_gfns,
			   struct hw_tlb_view *buf, int n)
{
	struct snap_filter f = { .first = gfn, .end = gfn + nr_gfns };

	return snapshot(hv, &f, true, buf, n);
}
