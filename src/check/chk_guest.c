// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest translation (I40): the TLB contract as the guest sees it.  Every
 * access a guest makes through tables of its own must use a translation
 * those tables allowed at some point since the vCPU's last flush that
 * covers the address, and never more permission than they gave.  It holds
 * whatever KVM does underneath; KVM breaks it when a shadow page keeps a
 * translation the guest took away and flushed.  Two kinds of guests have
 * tables KVM shadows:
 *
 *  - shadow paging (ept=0) with the guest's paging on: gva -> gpa through
 *    the guest's tables (32-bit, PAE, 4- and 5-level); the flushes are the
 *    guest's INVLPG (that address), MOV to CR3 and the CR0/CR4 changes
 *    that flush (KVMMU_EV_GUEST_FLUSH, from the CPU);
 *  - nested EPT: L2 gpa -> L1 gpa through L1's EPT tables; the flushes are
 *    L1's INVEPT, single-context for the EPT pointer the vCPU entered L2
 *    with, or global (KVMMU_EV_NESTED).  A VM entry flushes nothing of
 *    EPT's: translations stay cached per EPT pointer.
 *
 * How.  The checker keeps a copy ("view") of every guest table page a
 * vCPU may walk: the trees under each root a vCPU has used, taken from
 * guest memory (through the host's page tables, never KVM's) when a root
 * or a link to a table first appears, and kept up to date by every store
 * to those pages (the guest's through the CPU, the VMM's and KVM's own
 * emulated ones).  A store also keeps, per 8-byte word, the values the
 * word held before and when each was replaced (a short history, by event
 * index).  Per vCPU it keeps the index of its last full flush and of each
 * INVLPG since.
 *
 * On an access (GUEST_LOAD/STORE through a gva, or by L2) the checker
 * walks the tables as they are now; if that walk does not allow the
 * access to the frame it went to, it walks again allowing, at every level,
 * any value the entry held after the vCPU's last covering flush (and the
 * word in memory, should a store be in flight).  The frame is the one the
 * leaf SPTE's shadow page says it maps (its gfn), or the one the host maps
 * at the walk's gpa; that the SPTE's frame is the host's is what coherence
 * and notifier completeness judge.  If no walk allows it: a violation.
 *
 * It is exact where it can judge, and says nothing where it cannot: a
 * table outside every memslot or not in memory, a word whose history
 * overflowed or whose old value is unknown (and that is still visible), or
 * more than GT_BUDGET candidate entries.  Reserved bits are not judged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_internal.h"
#include "host_phys.h"
#include "rcu.h"

#define GT_HIST 6       /* old values kept per word */
#define GT_BUDGET 4096  /* candidate entries one judgement may look at */
#define GT_SWEEP_MIN 4096

/* Table formats: 64-bit and PAE entries, 32-bit paging's, EPT's. */
enum gt_fmt { GT_X86, GT_X86_32, GT_EPT };

#define GT_LEVEL_BIT(fmt, level) (1u << ((fmt) * 8 + (level)))

/* Permissions accumulated down a walk. */
#define GT_R BIT(0)
#define GT_W BIT(1)
#define GT_X BIT(2)
#define GT_U BIT(3)

/* A guest table page a vCPU may walk, and the checker's copy of it. */
struct gt_table {
	u32 levels; /* GT_LEVEL_BIT()s it is walked at */
	bool valid; /* the view could be read */
	u64 *view;
};

/* A word of a table page that changed: the values it held before. */
struct gt_word {
	u64 lost; /* a value replaced at this index or before is not known */
	u8 n;
	struct {
		u64 val;
		u64 left; /* the event index of the store that replaced it */
	} old[GT_HIST];
};

/* A vCPU's flushes, and the roots its tables were added under. */
struct gt_vcpu {
	u64 flushed;           /* event index of its last full flush (0: none) */
	struct chk_map invlpg; /* gva page | 1 -> event index of an INVLPG since */
	u64 eptp;              /* nested: the EPT pointer it last entered L2 with */
	u64 sig[2];            /* the roots last added for it */
};

static struct chk_map tables; /* hva of a page -> struct gt_table */
static struct chk_map words;  /* hva of a word -> struct gt_word */
static struct gt_vcpu gt_vcpus[KVM_MAX_VCPUS];
static u64 store_lost;        /* a table store whose word could not be told */
static u64 sweep_at;

/* ---- guest memory, through the host ------------------------------------------------------ */

/* The frame the host maps at @hva now, or 0. */
static u64 gt_host_pfn(unsigned long hva)
{
	struct host_phys *phys = chk_world.mm->phys;
	u64 e, pfn = 0;
	int level;

	rcu_read_lock();
	e = host_pgtable_lookup(chk_world.mm, hva, &level);
	if (hpte_present(e)) {
		pfn = hpte_subpage_pfn(e, level, hva);
		if (!phys_pfn_valid(phys, pfn) ||
		    page_state(pfn_to_page(phys, pfn)) != KVMMU_FRAME_ALLOCATED)
			pfn = 0;
	}
	rcu_read_unlock();
	return pfn;
}

static int gt_read_word(unsigned long hva, u64 *val)
{
	u64 pfn = gt_host_pfn(hva);

	if (!pfn)
		return -1;
	*val = frame_read_word(chk_world.mm->phys, pfn, hva & (PAGE_SIZE - 1));
	return 0;
}

static void gt_load_view(unsigned long page, struct gt_table *t)
{
	u64 pfn = gt_host_pfn(page);
	int i;

	t->valid = pfn != 0;
	for (i = 0; t->valid && i < (int)(PAGE_SIZE / 8); i++)
		t->view[i] = frame_read_word(chk_world.mm->phys, pfn, i * 8);
}

/* ---- table formats ---------------------------------------------------------------------- */

static int gt_entry_size(int fmt)
{
	return fmt == GT_X86_32 ? 4 : 8;
}

static int gt_entries(int fmt)
{
	return fmt == GT_X86_32 ? 1024 : 512;
}

static u64 gt_index(int fmt, u64 addr, int level)
{
	if (fmt == GT_X86_32)
		return (addr >> (PAGE_SHIFT + 10 * (level - 1))) & 1023;
	return PT64_INDEX(addr, level);
}

/* The entry at byte @off of a page out of the 8-byte word holding it. */
static u64 gt_entry_of(int fmt, u64 word, unsigned int off)
{
	if (fmt != GT_X86_32)
		return word;
	return (word >> (8 * (off & 4))) & 0xffffffffULL;
}

static bool gt_present(int fmt, u64 e)
{
	return fmt == GT_EPT ? (e & EPT_RWX_MASK) : (e & PT_PRESENT_MASK);
}

/* A leaf at @level (@pse: CR4.PSE, for 32-bit paging). */
static bool gt_leaf(int fmt, int level, u64 e, bool pse)
{
	if (level == 1)
		return true;
	switch (fmt) {
	case GT_EPT:
		return level <= 3 && (e & EPT_LARGE);
	case GT_X86_32:
		return level == 2 && pse && (e & PT_PAGE_SIZE_MASK);
	default:
		return level <= 3 && (e & PT_PAGE_SIZE_MASK);
	}
}

/* The table a non-leaf entry links. */
static gpa_t gt_child(int fmt, u64 e)
{
	return fmt == GT_X86_32 ? e & GENMASK_ULL(31, 12) : e & PT64_BASE_ADDR_MASK;
}

/* Where a leaf at @level puts @addr. */
static gpa_t gt_leaf_gpa(int fmt, int level, u64 e, u64 addr)
{
	u64 size;

	if (fmt == GT_X86_32) {
		if (level == 1)
			return (e & GENMASK_ULL(31, 12)) | (addr & (PAGE_SIZE - 1));
		/* A 4M page; PSE-36 puts physical bits 39:32 in 20:13. */
		return (e & GENMASK_ULL(31, 22)) | (((e >> 13) & 0xff) << 32) |
		       (addr & GENMASK_ULL(21, 0));
	}
	size = PG_LEVEL_SIZE(level);
	return (e & PT64_BASE_ADDR_MASK & ~(size - 1)) | (addr & (size - 1));
}

/* The paging mode of @r: 0 (off), 2 (32-bit), 3 (PAE), 4 or 5. */
static int gt_mode(u64 cr0, u64 cr4, u64 efer)
{
	if (!(cr0 & X86_CR0_PG))
		return 0;
	if (!(cr4 & X86_CR4_PAE))
		return 2;
	if (!(efer & EFER_LMA))
		return 3;
	return (cr4 & X86_CR4_LA57) ? 5 : 4;
}

static int gt_ept_levels(u64 eptp)
{
	return (int)((eptp >> 3) & 7) + 1;
}

/* ---- the tables a vCPU may walk ---------------------------------------------------------- */

static struct gt_table *gt_table_find(unsigned long hva)
{
	return chk_map_find(&tables, hva & PAGE_MASK);
}

static struct gt_table *gt_table_get(unsigned long page)
{
	struct gt_table *t = chk_map_find(&tables, page);
	u64 *view;

	if (t)
		return t;
	view = calloc(PAGE_SIZE / 8, sizeof(u64));
	if (!view)
		return NULL;
	t = chk_map_get(&tables, page);
	if (!t) {
		free(view);
		return NULL;
	}
	t->view = view;
	gt_load_view(page, t);
	return t;
}

/*
 * The table at @table is walked at @level in format @fmt: copy it and,
 * the first time, every table it links (a tree added before is complete:
 * the links made in it since were followed as they were stored).  A PS
 * entry of 32-bit paging links a table while CR4.PSE is off: followed too.
 */
static void gt_add_tree(int fmt, gpa_t table, int level)
{
	unsigned long hva = chk_gpa_to_hva(table, NULL);
	struct gt_table *t;
	const u64 *view;
	int i;

	if (!hva || level < 1)
		return;
	t = gt_table_get(hva & PAGE_MASK);
	if (!t || (t->levels & GT_LEVEL_BIT(fmt, level)))
		return;
	t->levels |= GT_LEVEL_BIT(fmt, level);
	if (level == 1 || !t->valid)
		return;
	/* The view stays where it is; @t may move as the map grows. */
	view = t->view;
	for (i = 0; i < gt_entries(fmt); i++) {
		unsigned int off = (unsigned int)i * gt_entry_size(fmt);
		u64 e = gt_entry_of(fmt, view[off / 8], off);

		if (gt_present(fmt, e) && (!gt_leaf(fmt, level, e, true) || fmt == GT_X86_32))
			gt_add_tree(fmt, gt_child(fmt, e), level - 1);
	}
}

/*
 * The top table of x86 paging in @mode.  PAE's is the PDPT (four entries,
 * 32-byte aligned): the PDPTE registers are loaded from it at every CR3
 * load, which is a full flush, so the entries it held since the flush
 * are what the registers may hold.
 */
static gpa_t gt_x86_root(int mode, u64 cr3)
{
	switch (mode) {
	case 2:
		return cr3 & GENMASK_ULL(31, 12);
	case 3:
		return cr3 & GENMASK_ULL(31, 5);
	default:
		return cr3 & PT64_BASE_ADDR_MASK;
	}
}

static void gt_add_x86_root(int mode, u64 cr3)
{
	if (mode)
		gt_add_tree(mode == 2 ? GT_X86_32 : GT_X86, gt_x86_root(mode, cr3),
			    mode == 3 ? 3 : mode);
}

static void gt_add_ept_root(u64 eptp)
{
	if (eptp)
		gt_add_tree(GT_EPT, eptp & PT64_BASE_ADDR_MASK, gt_ept_levels(eptp));
}

/* The roots @r gives @gv, if they are not the ones added last. */
static void gt_vcpu_roots(struct gt_vcpu *gv, const struct hw_guest_paging *r, bool l2)
{
	u64 sig[2];

	if (l2) {
		sig[0] = 6;
		sig[1] = gv->eptp ? gv->eptp : r->eptp;
	} else {
		sig[0] = (u64)gt_mode(r->cr0, r->cr4, r->efer);
		sig[1] = r->cr3;
	}
	if (!memcmp(sig, gv->sig, sizeof(sig)))
		return;
	memcpy(gv->sig, sig, sizeof(sig));
	if (l2)
		gt_add_ept_root(sig[1]);
	else
		gt_add_x86_root((int)sig[0], r->cr3);
}

/* ---- stores ------------------------------------------------------------------------------- */

static void gt_remember(unsigned long hva, u64 val, u64 left)
{
	struct gt_word *w = chk_map_get(&words, hva & ~7UL);
	int i, oldest = 0;

	if (!w) {
		store_lost = left;
		return;
	}
	for (i = 0; i < w->n; i++) {
		if (w->old[i].val == val) {
			w->old[i].left = max(w->old[i].left, left);
			return;
		}
		if (w->old[i].left < w->old[oldest].left)
			oldest = i;
	}
	if (w->n < GT_HIST) {
		i = w->n++;
	} else {
		/* Full: the oldest goes, and what it allowed cannot be judged. */
		i = oldest;
		w->lost = max(w->lost, w->old[i].left);
	}
	w->old[i].val = val;
	w->old[i].left = left;
}

static void gt_forget(unsigned long hva, u64 left)
{
	struct gt_word *w = chk_map_get(&words, hva & ~7UL);

	if (w)
		w->lost = max(w->lost, left);
	else
		store_lost = left;
}

/* Tables a changed word of a table page links now. */
static void gt_follow_links(u32 levels, unsigned int off, u64 old_word, u64 new_word)
{
	int fmt, level, k;

	for (fmt = GT_X86; fmt <= GT_EPT; fmt++) {
		for (level = 2; level <= 5; level++) {
			if (!(levels & GT_LEVEL_BIT(fmt, level)))
				continue;
			for (k = 0; k < 8 / gt_entry_size(fmt); k++) {
				unsigned int o = (off & ~7u) + (unsigned int)k * gt_entry_size(fmt);
				u64 e = gt_entry_of(fmt, new_word, o);

				if (e == gt_entry_of(fmt, old_word, o) || !gt_present(fmt, e))
					continue;
				if (!gt_leaf(fmt, level, e, true) || fmt == GT_X86_32)
					gt_add_tree(fmt, gt_child(fmt, e), level - 1);
			}
		}
	}
}

static void gt_store(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_access *a = &ev->access;
	unsigned int size = a->size ? a->size : 8, off;
	unsigned long hva;
	struct gt_table *t;
	u64 mask, old_word, new_word;
	u32 levels;

	if (ev->type == KVMMU_EV_VMM_STORE) {
		hva = a->hva;
	} else {
		gpa_t gpa = chk_access_gpa(ev);

		if (gpa == ~(gpa_t)0) {
			/* Where it went is unknown: it may have been a table's. */
			store_lost = ev->index;
			return;
		}
		hva = chk_gpa_to_hva(gpa, NULL);
	}
	if (!hva)
		return;
	t = gt_table_find(hva);
	if (!t)
		return;
	off = (unsigned int)(hva & (PAGE_SIZE - 1));
	mask = size >= 8 ? ~0ULL : (BIT_ULL(8 * size) - 1) << (8 * (off & 7));
	if (!t->valid) {
		/* No copy to tell the old value from: reload, and say so. */
		if (a->rmw)
			gt_remember(hva, a->prev, ev->index);
		else
			gt_forget(hva, ev->index);
		gt_load_view(hva & PAGE_MASK, t);
		return;
	}
	old_word = t->view[off / 8];
	new_word = (old_word & ~mask) | ((a->value << (8 * (off & 7))) & mask);
	/*
	 * A compare-exchange says what it replaced; if that is not what the
	 * copy holds, two stores crossed on the way here: keep both.
	 */
	if (a->rmw && a->prev != old_word)
		gt_remember(hva, a->prev, ev->index);
	if (new_word == old_word)
		return;
	gt_remember(hva, old_word, ev->index);
	t->view[off / 8] = new_word;
	levels = t->levels;
	gt_follow_links(levels, off, old_word, new_word);
}

/* ---- judging an access ------------------------------------------------------------------- */

struct gt_judge {
	const struct kvmmu_event *ev;
	struct hw_guest_paging regs;
	int fmt, mode;  /* x86: the paging mode; EPT: the walk length */
	u64 addr;       /* the gva, or L2's gpa */
	bool write, fetch, user;
	u64 flush;      /* values replaced after this index are still visible */
	gfn_t used_gfn; /* the frame used, as its leaf SPTE's page has it (~0: unknown) */
	u64 used_pfn;
	bool slow;      /* history and memory too */
	int budget;
	bool unknown;   /* something could not be judged */
};

static bool gt_x86_allows(const struct gt_judge *j, u8 perm, u64 leaf)
{
	const struct hw_guest_paging *r = &j->regs;
	bool user_page = perm & GT_U, writable = perm & GT_W;
	bool wp = r->cr0 & X86_CR0_WP;

	if (j->user) {
		if (!user_page || (j->write && !writable))
			return false;
	} else {
		if (j->write && !writable && wp)
			return false;
		if (j->fetch && user_page && (r->cr4 & X86_CR4_SMEP))
			return false;
		if (!j->fetch && user_page && (r->cr4 & X86_CR4_SMAP) &&
		    !(r->rflags & X86_EFLAGS_AC))
			return false;
	}
	if (j->fetch && !(perm & GT_X))
		return false;
	/* Protection keys: data accesses to user pages, by the leaf's key. */
	if (j->mode >= 4 && (r->cr4 & X86_CR4_PKE) && user_page && !j->fetch) {
		unsigned int key = (unsigned int)((leaf & PT64_PKEY_MASK) >> PT64_PKEY_SHIFT);

		if (r->pkru & BIT(2 * key))
			return false;
		if (j->write && (r->pkru & BIT(2 * key + 1)) && (j->user || wp))
			return false;
	}
	return true;
}

static bool gt_allows(const struct gt_judge *j, u8 perm, u64 leaf)
{
	if (j->fmt != GT_EPT)
		return gt_x86_allows(j, perm, leaf);
	if (j->fetch)
		return perm & GT_X;
	return (perm & GT_R) && (!j->write || (perm & GT_W));
}

/* May entry @e at @level be used at all, and what does it leave of @perm? */
static bool gt_usable(const struct gt_judge *j, int level, u64 e, u8 *perm)
{
	if (!gt_present(j->fmt, e))
		return false;
	if (j->fmt == GT_EPT) {
		/* No execute-only pages here: without R an entry is misconfigured. */
		if (!(e & EPT_READABLE) || (level >= 4 && (e & EPT_LARGE)))
			return false;
		if (!(e & EPT_WRITABLE))
			*perm &= ~GT_W;
		if (!(e & EPT_EXECUTABLE))
			*perm &= ~GT_X;
		return true;
	}
	if (j->fmt == GT_X86 && level >= 4 && (e & PT_PAGE_SIZE_MASK))
		return false;
	/* A PAE PDPTE grants no rights and takes none away, and maps no page. */
	if (j->mode == 3 && level == 3)
		return !(e & PT_PAGE_SIZE_MASK);
	if (!(e & PT_USER_MASK))
		*perm &= ~GT_U;
	if (!(e & PT_WRITABLE_MASK))
		*perm &= ~GT_W;
	if (j->fmt == GT_X86 && (e & PT64_NX_MASK)) {
		/* XD is a reserved bit without EFER.NXE. */
		if (!(j->regs.efer & EFER_NX))
			return false;
		*perm &= ~GT_X;
	}
	return true;
}

/* Does the access's frame belong to @gpa? */
static bool gt_frame_is(struct gt_judge *j, gpa_t gpa)
{
	unsigned long hva;
	u64 pfn = 0;

	if (j->used_gfn != ~(gfn_t)0 && gpa_to_gfn(gpa) == j->used_gfn)
		return true;
	hva = chk_gpa_to_hva(gpa, NULL);
	if (hva)
		pfn = gt_host_pfn(hva);
	if (pfn && pfn == j->used_pfn)
		return true;
	if (j->used_gfn == ~(gfn_t)0 && !pfn) {
		j->unknown = true;
		return true;
	}
	return false;
}

/* The values entry @hva may hold for the judgement (@n at most GT_HIST + 2). */
static int gt_candidates(struct gt_judge *j, const struct gt_table *t, unsigned long hva,
			 u64 *cand)
{
	unsigned int off = (unsigned int)(hva & (PAGE_SIZE - 1));
	const struct gt_word *w;
	int n = 0, i, k;
	u64 v;

	cand[n++] = gt_entry_of(j->fmt, t->view[off / 8], off);
	if (!j->slow)
		return n;
	if (!gt_read_word(hva & ~7UL, &v))
		cand[n++] = gt_entry_of(j->fmt, v, off);
	w = chk_map_find(&words, hva & ~7UL);
	if (w) {
		if (w->lost > j->flush)
			j->unknown = true;
		for (i = 0; i < w->n; i++) {
			if (w->old[i].left > j->flush)
				cand[n++] = gt_entry_of(j->fmt, w->old[i].val, off);
		}
	}
	/* Each distinct value once. */
	for (i = 1; i < n; i++) {
		for (k = 0; k < i && cand[k] != cand[i]; k++)
			;
		if (k < i)
			cand[i--] = cand[--n];
	}
	return n;
}

static bool gt_walk(struct gt_judge *j, gpa_t table, int level, u8 perm)
{
	gpa_t entry = table + gt_index(j->fmt, j->addr, level) * gt_entry_size(j->fmt);
	unsigned long hva = chk_gpa_to_hva(entry, NULL);
	bool pse = j->regs.cr4 & X86_CR4_PSE;
	u64 cand[GT_HIST + 2];
	struct gt_table *t;
	int n, i;

	if (!hva) {
		j->unknown = true;
		return false;
	}
	t = gt_table_find(hva);
	if (!t) {
		/* Not reached through a root the checker knows (yet): copy it now. */
		gt_add_tree(j->fmt, table, level);
		t = gt_table_find(hva);
	}
	if (t && !t->valid)
		gt_load_view(hva & PAGE_MASK, t);
	if (!t || !t->valid) {
		j->unknown = true;
		return false;
	}
	n = gt_candidates(j, t, hva, cand);
	for (i = 0; i < n; i++) {
		u64 e = cand[i];
		u8 p = perm;

		if (--j->budget < 0) {
			j->unknown = true;
			return false;
		}
		if (!gt_usable(j, level, e, &p))
			continue;
		if (gt_leaf(j->fmt, level, e, pse)) {
			if (gt_allows(j, p, e) &&
			    gt_frame_is(j, gt_leaf_gpa(j->fmt, level, e, j->addr)))
				return true;
			continue;
		}
		if (gt_walk(j, gt_child(j->fmt, e), level - 1, p))
			return true;
	}
	return false;
}

static bool gt_judge_walk(struct gt_judge *j)
{
	u8 all = GT_R | GT_W | GT_X | GT_U;

	j->budget = GT_BUDGET;
	if (j->fmt == GT_EPT)
		return gt_walk(j, j->regs.eptp & PT64_BASE_ADDR_MASK, j->mode, all);
	return gt_walk(j, gt_x86_root(j->mode, j->regs.cr3), j->mode == 3 ? 3 : j->mode, all);
}

/* What the tables say now, for the report. */
static void gt_describe(const struct gt_judge *j, char *buf, size_t len)
{
	bool pse = j->regs.cr4 & X86_CR4_PSE;
	int level = j->mode == 3 ? 3 : j->mode;
	u8 perm = GT_R | GT_W | GT_X | GT_U;
	gpa_t table;
	u64 e = 0;

	if (j->fmt == GT_EPT)
		table = j->regs.eptp & PT64_BASE_ADDR_MASK;
	else
		table = gt_x86_root(j->mode, j->regs.cr3);
	for (; level >= 1; level--) {
		gpa_t entry = table + gt_index(j->fmt, j->addr, level) * gt_entry_size(j->fmt);
		unsigned long hva = chk_gpa_to_hva(entry, NULL);
		struct gt_table *t = hva ? gt_table_find(hva) : NULL;
		unsigned int off = (unsigned int)(hva & (PAGE_SIZE - 1));

		if (!t || !t->valid) {
			snprintf(buf, len, "an unreadable table at level %d", level);
			return;
		}
		e = gt_entry_of(j->fmt, t->view[off / 8], off);
		if (!gt_usable(j, level, e, &perm)) {
			snprintf(buf, len, "nothing (entry %#llx at level %d)", (unsigned long long)e,
				 level);
			return;
		}
		if (gt_leaf(j->fmt, level, e, pse))
			break;
		table = gt_child(j->fmt, e);
	}
	snprintf(buf, len, "gpa %#llx %s%s%s%s", (unsigned long long)
		 gt_leaf_gpa(j->fmt, level < 1 ? 1 : level, e, j->addr),
		 (perm & GT_R) ? "r" : "-", (perm & GT_W) ? "w" : "-", (perm & GT_X) ? "x" : "-",
		 j->fmt == GT_EPT ? "" : (perm & GT_U) ? " user" : " supervisor");
}

static void gt_access(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_access *a = &ev->access;
	struct gt_judge j = { .ev = ev };
	struct gt_vcpu *gv;
	struct kvm_vcpu *vcpu;
	const u64 *inv;
	char now[80];
	gpa_t used;

	if (ev->type == KVMMU_EV_GUEST_STORE || ev->type == KVMMU_EV_VMM_STORE)
		gt_store(ev);
	if (ev->type == KVMMU_EV_VMM_STORE || a->vcpu < 0 || a->vcpu >= KVM_MAX_VCPUS ||
	    (a->gpa >> PAGE_SHIFT) != HW_GFN_UNKNOWN)
		return;
	vcpu = kvm_get_vcpu_by_id(chk_kvm(), a->vcpu);
	if (!vcpu || !vcpu->hw)
		return;
	gv = &gt_vcpus[a->vcpu];
	hw_vcpu_guest_paging(vcpu->hw, &j.regs);
	if (a->l2) {
		/*
		 * L2 on tables of its own: the access carries a gva, and the
		 * CPU alone walks L2's tables (nothing KVM shadows); only
		 * unpaged L2's gpas are judged against L1's EPT.
		 */
		if (gt_mode(j.regs.cr0, j.regs.cr4, j.regs.efer))
			return;
		j.fmt = GT_EPT;
		if (gv->eptp)
			j.regs.eptp = gv->eptp;
		j.mode = gt_ept_levels(j.regs.eptp);
	} else {
		/* With TDP the CPU alone walks the guest's own tables: KVM shadows none. */
		if (chk_world.kvm->arch.tdp_enabled)
			return;
		j.mode = gt_mode(j.regs.cr0, j.regs.cr4, j.regs.efer);
		if (!j.mode)
			return;
		j.fmt = j.mode == 2 ? GT_X86_32 : GT_X86;
		j.user = j.regs.cpl == 3;
	}
	gt_vcpu_roots(gv, &j.regs, a->l2);
	j.addr = j.mode < 4 && !a->l2 ? a->gva & GENMASK_ULL(31, 0) : a->gva;
	j.write = ev->type == KVMMU_EV_GUEST_STORE;
	j.fetch = a->fetch;
	used = chk_access_gpa(ev);
	j.used_gfn = used == ~(gpa_t)0 ? ~(gfn_t)0 : gpa_to_gfn(used);
	j.used_pfn = a->pfn;
	j.flush = gv->flushed;
	inv = a->l2 ? NULL : chk_map_find(&gv->invlpg, (j.addr & PAGE_MASK) | 1);
	if (inv && *inv > j.flush)
		j.flush = *inv;

	/* The tables as they are: the common case. */
	if (gt_judge_walk(&j))
		return;
	/* Anything they held since the flush, or hold in memory now. */
	j.slow = true;
	j.unknown = store_lost > j.flush;
	if (gt_judge_walk(&j) || j.unknown)
		return;
	gt_describe(&j, now, sizeof(now));
	chk_violation(CHK_GUEST_TRANSLATION, ev, (s64)j.used_gfn, (s64)a->pfn,
		      "vCPU %d %s %s %#llx went to gfn %#llx, pfn %#llx; %s map it to %s now, "
		      "and to nothing allowing it since the flush at event %llu",
		      a->vcpu, a->l2 ? "L2" : j.user ? "user" : "kernel",
		      j.fetch ? "fetch at" : j.write ? "store to" : "load from",
		      (unsigned long long)j.addr, (unsigned long long)j.used_gfn,
		      (unsigned long long)a->pfn, a->l2 ? "L1's EPT tables" : "its tables", now,
		      (unsigned long long)j.flush);
}

/* ---- flushes ------------------------------------------------------------------------------- */

/* Drop old values no vCPU may see any more: replaced before every vCPU's last full flush. */
static void gt_sweep(void)
{
	struct kvm_vcpu *vcpu;
	u64 seen = ~0ULL, *doomed, nr = 0;
	size_t i;
	int v, k;

	kvm_for_each_vcpu(v, vcpu, chk_kvm()) {
		if (vcpu->vcpu_id < KVM_MAX_VCPUS)
			seen = min(seen, gt_vcpus[vcpu->vcpu_id].flushed);
	}
	if (seen == ~0ULL || store_lost > seen)
		return;
	doomed = calloc(words.n + 1, sizeof(*doomed));
	if (!doomed)
		return;
	chk_map_for_each(&words, i) {
		struct gt_word *w = (struct gt_word *)(void *)(words.vals + i * words.vsize);

		for (k = 0; k < w->n;) {
			if (w->old[k].left <= seen)
				w->old[k] = w->old[--w->n];
			else
				k++;
		}
		if (!w->n && w->lost <= seen)
			doomed[nr++] = words.keys[i];
	}
	while (nr)
		chk_map_del(&words, doomed[--nr]);
	free(doomed);
}

static void gt_full_flush(struct gt_vcpu *gv, u64 index)
{
	gv->flushed = index;
	chk_map_clear(&gv->invlpg);
	if (words.n > sweep_at) {
		gt_sweep();
		sweep_at = max((u64)GT_SWEEP_MIN, 2 * (u64)words.n);
	}
}

static void gt_guest_flush(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_guest_flush *f = &ev->guest_flush;
	struct gt_vcpu *gv;
	u64 *at;

	if (f->vcpu < 0 || f->vcpu >= KVM_MAX_VCPUS)
		return;
	gv = &gt_vcpus[f->vcpu];
	switch (f->kind) {
	case KVMMU_GUEST_FLUSH_ALL:
		gt_full_flush(gv, ev->index);
		break;
	case KVMMU_GUEST_FLUSH_ADDR:
		at = chk_map_get(&gv->invlpg, (f->gva & PAGE_MASK) | 1);
		if (at)
			*at = ev->index;
		break;
	}
	/*
	 * The tables under the registers it leaves are the vCPU's from now
	 * on, before KVM (which emulates it under shadow paging) walks them.
	 */
	gt_add_x86_root(gt_mode(f->cr0, f->cr4, f->efer), f->cr3);
}

static void gt_nested(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_nested *n = &ev->nested;
	struct gt_vcpu *gv;

	if (n->vcpu < 0 || n->vcpu >= KVM_MAX_VCPUS)
		return;
	gv = &gt_vcpus[n->vcpu];
	switch (n->what) {
	case KVMMU_NESTED_VMENTRY:
		gv->eptp = n->eptp;
		gt_add_ept_root(n->eptp);
		break;
	case KVMMU_NESTED_INVEPT:
		if (n->failed)
			break;
		if (n->type == VMX_EPT_EXTENT_GLOBAL ||
		    (n->type == VMX_EPT_EXTENT_CONTEXT &&
		     (n->eptp & PT64_BASE_ADDR_MASK) == (gv->eptp & PT64_BASE_ADDR_MASK)))
			gt_full_flush(gv, ev->index);
		break;
	}
}

/* ---- the checker --------------------------------------------------------------------------- */

static bool gt_applies(void)
{
	return chk_world.hw && chk_world.kvm &&
	       (!chk_world.kvm->arch.tdp_enabled || chk_world.nested);
}

static void gt_begin(void)
{
	struct kvm_vcpu *vcpu;
	int i;

	chk_map_init(&tables, sizeof(struct gt_table));
	chk_map_init(&words, sizeof(struct gt_word));
	memset(gt_vcpus, 0, sizeof(gt_vcpus));
	for (i = 0; i < KVM_MAX_VCPUS; i++)
		chk_map_init(&gt_vcpus[i].invlpg, sizeof(u64));
	store_lost = 0;
	sweep_at = GT_SWEEP_MIN;
	/* What the vCPUs may have cached already comes from the tables as they are. */
	kvm_for_each_vcpu(i, vcpu, chk_kvm()) {
		struct hw_guest_paging r;
		struct gt_vcpu *gv;

		if (!vcpu->hw || vcpu->vcpu_id >= KVM_MAX_VCPUS)
			continue;
		gv = &gt_vcpus[vcpu->vcpu_id];
		hw_vcpu_guest_paging(vcpu->hw, &r);
		if (r.eptp) {
			gv->eptp = r.eptp;
			gt_vcpu_roots(gv, &r, true);
		} else if (!chk_kvm()->arch.tdp_enabled) {
			gt_vcpu_roots(gv, &r, false);
		}
	}
}

static void gt_end(void)
{
	size_t i;
	int v;

	chk_map_for_each(&tables, i)
		free(((struct gt_table *)(void *)(tables.vals + i * tables.vsize))->view);
	chk_map_free(&tables);
	chk_map_free(&words);
	for (v = 0; v < KVM_MAX_VCPUS; v++)
		chk_map_free(&gt_vcpus[v].invlpg);
}

static void gt_event(const struct kvmmu_event *ev)
{
	switch (ev->type) {
	case KVMMU_EV_GUEST_FLUSH:
		gt_guest_flush(ev);
		break;
	case KVMMU_EV_NESTED:
		gt_nested(ev);
		break;
	default:
		gt_access(ev);
		break;
	}
}

const struct checker_ops chk_guest_ops = {
	.events = BIT_ULL(KVMMU_EV_GUEST_LOAD) | BIT_ULL(KVMMU_EV_GUEST_STORE) |
		  BIT_ULL(KVMMU_EV_VMM_STORE) | BIT_ULL(KVMMU_EV_GUEST_FLUSH) |
		  BIT_ULL(KVMMU_EV_NESTED),
	.applies = gt_applies,
	.begin = gt_begin,
	.event = gt_event,
	.end = gt_end,
};
