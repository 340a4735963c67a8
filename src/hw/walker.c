// SPDX-License-Identifier: GPL-2.0-only
/*
 * The page walker: guest-physical translation through the SPTE tables, as
 * an EPT or NPT walk does it.  Only architectural bits are read: presence
 * (EPT: any of R/W/X; NPT: P), permissions, the large-page bit, reserved
 * physical-address bits and the EPT encodings that are misconfigurations.
 * A/D bits are set with cmpxchg on the entry as read; if the entry changed
 * meanwhile, the walk starts again, as hardware does.
 *
 * The walk runs inside rcu_read_lock(), as KVM's lockless walkers do, and
 * checks each table frame's state before reading it: a freed table is
 * reported (KVMMU_EV_TABLE_READ, and the vCPU's freed_table_reads) and not
 * walked.
 */
#include "bug.h"
#include "hw_internal.h"
#include "observe.h"
#include "rcu.h"
#include "sched_point.h"

#define EPT_RSVD_MEMTYPES ((1u << 2) | (1u << 3) | (1u << 7))

static _Atomic u64 *table_entry(struct hw_machine *m, u64 table, u64 gpa, int level)
{
	return (_Atomic u64 *)(void *)(m->direct_map + (table << PAGE_SHIFT)) +
	       PT64_INDEX(gpa, level);
}

static u64 pages_per(int level)
{
	return KVM_PAGES_PER_HPAGE(level);
}

struct walk {
	struct kvmmu_hw_vcpu *hv;
	u64 gpa;
	enum hw_access_kind kind;
	bool final;
	struct kvmmu_exit *exit;
	struct hw_fill *leaf;
	u64 tables[5];
	u64 perms; /* TLBF_R/W/X so far */
};

static u64 ept_perms(u64 spte)
{
	return ((spte & EPT_READABLE) ? TLBF_R : 0) | ((spte & EPT_WRITABLE) ? TLBF_W : 0) |
	       ((spte & EPT_EXECUTABLE) ? TLBF_X : 0);
}

/* Exit for a violation: EPT's qualification or NPT's error code. */
static u64 fault(struct walk *w, bool present, bool rsvd)
{
	const struct kvmmu_entry *e = w->hv->entry;
	struct kvmmu_exit *exit = w->exit;
	bool write = w->kind == HW_ACC_WRITE, fetch = w->kind == HW_ACC_EXEC;

	exit->reason = KVMMU_EXIT_EPT_VIOLATION;
	exit->gpa = w->gpa;
	if (!e->npt) {
		exit->exit_qualification =
			(write ? EPT_VIOLATION_ACC_WRITE : 0) |
			(fetch ? EPT_VIOLATION_ACC_INSTR : 0) |
			(!write && !fetch ? EPT_VIOLATION_ACC_READ : 0) |
			(present ? (((w->perms & TLBF_R) ? EPT_VIOLATION_READABLE : 0) |
				    ((w->perms & TLBF_W) ? EPT_VIOLATION_WRITABLE : 0) |
				    ((w->perms & TLBF_X) ? EPT_VIOLATION_EXECUTABLE : 0)) : 0) |
			EPT_VIOLATION_GVA_IS_VALID |
			(w->final ? EPT_VIOLATION_GVA_TRANSLATED : 0);
		exit->error_code = 0;
	} else {
		exit->exit_qualification = 0;
		exit->error_code = (present ? PFERR_PRESENT_MASK : 0) |
				   (rsvd ? PFERR_RSVD_MASK : 0) |
				   (write ? PFERR_WRITE_MASK : 0) |
				   (fetch ? PFERR_FETCH_MASK : 0) | PFERR_USER_MASK |
				   (w->final ? PFERR_GUEST_FINAL_MASK : PFERR_GUEST_PAGE_MASK);
	}
	hw_stat_inc(w->hv, exits_violation);
	return 0;
}

static u64 misconfig(struct walk *w)
{
	w->exit->reason = KVMMU_EXIT_EPT_MISCONFIG;
	w->exit->gpa = w->gpa;
	w->exit->exit_qualification = 0;
	w->exit->error_code = 0;
	hw_stat_inc(w->hv, exits_misconfig);
	return 0;
}

/*
 * Set @bits in the entry at @p, which was read as @spte.  Returns false if
 * the entry changed meanwhile: the walk must start again.
 */
static bool set_ad(struct kvmmu_hw_vcpu *hv, _Atomic u64 *p, u64 *spte, u64 bits)
{
	u64 old = *spte;

	if ((old & bits) == bits)
		return true;
	sched_point(SP_HW_AD_UPDATE, (const void *)p);
	if (!atomic_compare_exchange_strong(p, &old, old | bits))
		return false;
	*spte = old | bits;
	hw_stat_inc(hv, ad_updates);
	return true;
}

enum walk_result { WALK_OK, WALK_EXIT, WALK_RESTART };

/* A write found the PML buffer full: exit before anything is set. */
static enum walk_result pml_full(struct walk *w)
{
	w->exit->reason = KVMMU_EXIT_PML_FULL;
	w->exit->gpa = w->gpa;
	w->exit->exit_qualification = 0;
	w->exit->error_code = 0;
	hw_stat_inc(w->hv, exits_pml_full);
	return WALK_EXIT;
}

/*
 * This walk set D in the leaf at @p (@before -> @after): tell the
 * observers, and log the gpa if PML is on (room was checked before).
 */
static void dirtied(struct walk *w, _Atomic u64 *p, u64 before, u64 after, int level)
{
	const struct kvmmu_entry *e = w->hv->entry;
	u64 gfn = w->gpa >> PAGE_SHIFT;

	kvmmu_observe(KVMMU_EV_SPTE_HW_DIRTY, spte, .kvm = NULL, .sptep = (const void *)p,
		      .old_spte = before, .new_spte = after,
		      .gfn = gfn & ~(pages_per(level) - 1), .level = (u8)level);
	if (!e->pml_buf)
		return;
	e->pml_buf[*e->pml_index] = w->gpa & PAGE_MASK;
	(*e->pml_index)--;
	hw_stat_inc(w->hv, pml_logs);
	kvmmu_observe(KVMMU_EV_PML_LOG, pml, .kvm = NULL, .vcpu = w->hv->id,
		      .gpa = w->gpa & PAGE_MASK);
}

/* Is @table still a table?  Report it if not. */
static bool table_alive(struct walk *w, u64 table, int level)
{
	struct hw_machine *m = w->hv->m;

	kvmmu_observe(KVMMU_EV_TABLE_READ, table, .kvm = NULL, .pfn = table,
		      .gfn = w->gpa >> PAGE_SHIFT, .level = (u8)level,
		      .reader = KVMMU_READER_WALKER);
	if (likely(m->host->frame_state(m->mm, table) == KVMMU_FRAME_ALLOCATED))
		return true;
	hw_stat_inc(w->hv, freed_table_reads);
	return false;
}

/*
 * Check one entry of the walk for the format's rules.  Returns WALK_OK with
 * *@leaf set, or WALK_EXIT after filling the exit.
 */
static enum walk_result check_entry(struct walk *w, u64 spte, int level, bool *leaf)
{
	const struct kvmmu_entry *e = w->hv->entry;
	struct hw_machine *m = w->hv->m;

	if (!e->npt) {
		if ((spte & EPT_WRITABLE) && !(spte & EPT_READABLE)) {
			misconfig(w);
			return WALK_EXIT;
		}
		if (!(spte & EPT_RWX_MASK)) {
			fault(w, false, false);
			return WALK_EXIT;
		}
		*leaf = level == PG_LEVEL_4K || (spte & EPT_LARGE);
		if ((spte & m->rsvd_mask) || ((spte & EPT_LARGE) && level > PG_LEVEL_1G) ||
		    (*leaf && (EPT_RSVD_MEMTYPES &
			       (1u << ((spte & EPT_MT_MASK) >> EPT_MT_SHIFT))))) {
			misconfig(w);
			return WALK_EXIT;
		}
		w->perms &= ept_perms(spte);
		return WALK_OK;
	}

	if (!(spte & PT_PRESENT_MASK)) {
		fault(w, false, false);
		return WALK_EXIT;
	}
	*leaf = level == PG_LEVEL_4K || (spte & PT_PAGE_SIZE_MASK);
	if ((spte & m->rsvd_mask) || ((spte & PT_PAGE_SIZE_MASK) && level > PG_LEVEL_1G)) {
		fault(w, true, true);
		return WALK_EXIT;
	}
	/* Nested translations are user accesses. */
	if (!(spte & PT_USER_MASK))
		w->perms = 0;
	if (!(spte & PT_WRITABLE_MASK))
		w->perms &= ~TLBF_W;
	if (spte & PT64_NX_MASK)
		w->perms &= ~TLBF_X;
	return WALK_OK;
}

static bool allowed(struct walk *w)
{
	switch (w->kind) {
	case HW_ACC_READ:
		return w->perms & TLBF_R;
	case HW_ACC_WRITE:
		return w->perms & TLBF_W;
	default:
		return w->perms & TLBF_X;
	}
}

static enum walk_result walk_once(struct walk *w, u64 *pfn_out)
{
	struct kvmmu_hw_vcpu *hv = w->hv;
	const struct kvmmu_entry *e = hv->entry;
	u64 gfn = w->gpa >> PAGE_SHIFT, table = e->root_pfn;
	u64 ad_a = e->npt ? PT_ACCESSED_MASK : EPT_ACCESSED;
	u64 ad_d = e->npt ? PT_DIRTY_MASK : EPT_DIRTY;
	struct hw_tlb_array *psc_hit = NULL;
	int level = e->root_level, l, t;

	w->perms = TLBF_R | TLBF_W | TLBF_X;
	for (t = 0; t < 5; t++)
		w->tables[t] = 0;

	/* Start from the lowest cached upper-level entry there is. */
	for (l = PG_LEVEL_2M; l <= e->root_level; l++) {
		struct hw_tlb_array *a = &hv->psc[l - 2];
		u64 flags, child;

		if (hw_tlb_lookup(hv, a, gfn >> (9 * (l - 1)), 0, &flags, &child)) {
			struct hw_tlb_meta *meta = &a->meta[hw_tlb_index(a, gfn >> (9 * (l - 1)))];

			for (t = 0; t < 5; t++)
				w->tables[t] = atomic_load_explicit(&meta->tables[t],
								    memory_order_relaxed);
			w->perms = flags & (TLBF_R | TLBF_W | TLBF_X);
			table = child;
			level = l - 1;
			psc_hit = a;
			break;
		}
	}

	hw_stat_inc(hv, walks);
	for (;;) {
		_Atomic u64 *p;
		enum walk_result r;
		bool leaf = false;
		u64 spte;

		if (!table_alive(w, table, level)) {
			if (psc_hit) {
				/* A stale cached entry led here: forget it, walk from the root. */
				hw_tlb_drop(hv, psc_hit, gfn >> (9 * level), 0);
				return WALK_RESTART;
			}
			/* A present entry points at a freed table: nothing sane to read. */
			fault(w, false, false);
			return WALK_EXIT;
		}
		w->tables[level - 1] = table;
		p = table_entry(hv->m, table, w->gpa, level);
		/* Acquire: a table is complete before the entry linking it is seen. */
		spte = atomic_load_explicit(p, memory_order_acquire);

		r = check_entry(w, spte, level, &leaf);
		if (r != WALK_OK)
			return r;

		if (!leaf) {
			struct hw_fill f = {
				.page = gfn >> (9 * (level - 1)),
				.pfn = (spte & PT64_PFN_MASK) >> PAGE_SHIFT,
				.flags = w->perms,
				.sptep = (const void *)p,
			};

			if (e->ad_enabled && !set_ad(hv, p, &spte, ad_a))
				return WALK_RESTART;
			f.spte = spte;
			for (t = 0; t < 5; t++)
				f.tables[t] = w->tables[t];
			hw_tlb_fill(hv, &hv->psc[level - 2], &f);
			table = f.pfn;
			level--;
			continue;
		}

		if (!allowed(w)) {
			fault(w, true, false);
			return WALK_EXIT;
		}
		if (e->ad_enabled) {
			bool dirties = w->kind == HW_ACC_WRITE && !(spte & ad_d);
			u64 before = spte;

			/* PML: a full log stops the write before D is set. */
			if (dirties && e->pml_buf && *e->pml_index >= KVMMU_PML_ENTRIES)
				return pml_full(w);
			if (!set_ad(hv, p, &spte, ad_a | (w->kind == HW_ACC_WRITE ? ad_d : 0)))
				return WALK_RESTART;
			if (dirties)
				dirtied(w, p, before, spte, level);
		}
		{
			u64 base = ((spte & PT64_PFN_MASK) >> PAGE_SHIFT) & ~(pages_per(level) - 1);
			struct hw_fill f = {
				.page = gfn >> (9 * (level - 1)),
				.pfn = base,
				.flags = w->perms | ((!e->ad_enabled || (spte & ad_d)) ? TLBF_D : 0),
				.sptep = (const void *)p,
				.spte = spte,
			};

			for (t = 0; t < 5; t++)
				f.tables[t] = w->tables[t];
			hw_tlb_fill(hv, &hv->tlb[level - 1], &f);
			if (w->leaf)
				*w->leaf = f;
			*pfn_out = base + (gfn & (pages_per(level) - 1));
		}
		return WALK_OK;
	}
}

u64 hw_translate_gpa(struct kvmmu_hw_vcpu *hv, u64 gpa, enum hw_access_kind kind,
		     bool final, struct kvmmu_exit *exit, struct hw_fill *leaf)
{
	struct walk w = {
		.hv = hv, .gpa = gpa, .kind = kind, .final = final, .exit = exit, .leaf = leaf,
	};
	u64 gfn = gpa >> PAGE_SHIFT, pfn = 0;
	int i, tries;

	for (i = 0; i < NR_TLBS; i++) {
		struct hw_tlb_array *a = &hv->tlb[i];
		u64 page = gfn >> (9 * i), flags, base;

		if (!hw_tlb_lookup(hv, a, page, 0, &flags, &base))
			continue;
		if (hw_tlb_allows(flags, kind)) {
			hw_stat_inc(hv, tlb_hits);
			if (leaf) {
				struct hw_tlb_meta *meta = &a->meta[hw_tlb_index(a, page)];
				int t;

				leaf->sptep = (const void *)(uintptr_t)
					atomic_load_explicit(&meta->sptep, memory_order_relaxed);
				leaf->spte = atomic_load_explicit(&meta->spte, memory_order_relaxed);
				leaf->flags = flags;
				for (t = 0; t < 5; t++)
					leaf->tables[t] = atomic_load_explicit(&meta->tables[t],
									       memory_order_relaxed);
			}
			return base + (gfn & (pages_per(i + 1) - 1));
		}
		/* Not allowed by the cached entry: drop it and look at the tables. */
		hw_tlb_drop(hv, a, page, 0);
		break;
	}

	hw_stat_inc(hv, tlb_misses);
	rcu_read_lock();
	for (tries = 0; tries < 100; tries++) {
		enum walk_result r = walk_once(&w, &pfn);

		if (r == WALK_OK)
			break;
		if (r == WALK_EXIT) {
			pfn = 0;
			break;
		}
	}
	rcu_read_unlock();
	if (WARN_ON_ONCE(tries == 100)) {
		exit->reason = KVMMU_EXIT_INTR;
		return 0;
	}
	return pfn;
}
