// SPDX-License-Identifier: GPL-2.0-only
/*
 * The architectural guest page walk (see guest_walk.h): what a CPU does
 * with the guest's own page tables, read from guest memory through the
 * callbacks, entry by entry from CR3 (or the PDPTE registers) down to the
 * leaf.  Permissions are judged on the whole path once it is known; only
 * an allowed access sets accessed bits, and D in the leaf for a write, each
 * with a compare-exchange that restarts the walk if the entry changed.
 */
#include <errno.h>
#include <string.h>

#include "bug.h"
#include "compiler.h"
#include "guest_walk.h"

#define GW_MAX_TRIES 100

int hw_paging_mode(const struct hw_cpu *cpu)
{
	if (!(cpu->cr0 & X86_CR0_PG))
		return 0;
	if (!(cpu->cr4 & X86_CR4_PAE))
		return 2;
	if (!(cpu->efer & EFER_LMA))
		return 3;
	return (cpu->cr4 & X86_CR4_LA57) ? 5 : 4;
}

/* Physical-address bits at or above MAXPHYADDR, up to @top. */
static u64 above_maxphyaddr(int maxphyaddr, int top)
{
	return maxphyaddr > top ? 0 : GENMASK_ULL(top, maxphyaddr);
}

/* A PAE PDPTE's reserved bits: 2:1, 8:5 and everything from MAXPHYADDR up (XD too). */
static u64 pdpte_rsvd(int maxphyaddr)
{
	return GENMASK_ULL(2, 1) | GENMASK_ULL(8, 5) | above_maxphyaddr(maxphyaddr, 63);
}

int hw_load_pdptrs(struct hw_cpu *cpu, int maxphyaddr, const struct hw_gmem_ops *ops,
		   void *arg)
{
	u64 base = cpu->cr3 & GENMASK_ULL(31, 5), pdptr[4];
	int i;

	for (i = 0; i < 4; i++) {
		if (ops->read(arg, base + 8 * i, 8, &pdptr[i]))
			return -1;
		if ((pdptr[i] & PT_PRESENT_MASK) && (pdptr[i] & pdpte_rsvd(maxphyaddr)))
			return -EINVAL;
	}
	for (i = 0; i < 4; i++)
		cpu->pdptr[i] = pdptr[i];
	return 0;
}

/* The reserved bits of a present entry at @level in @mode. */
static u64 rsvd_bits(const struct hw_cpu *cpu, int mode, int maxphyaddr, int level, u64 pte)
{
	bool ps = pte & PT_PAGE_SIZE_MASK;
	u64 rsvd;
	int i;

	if (mode == 2) {
		/* Only a 4 MiB PDE has reserved bits: 21, and PSE-36's above MAXPHYADDR. */
		if (level != 2 || !ps || !(cpu->cr4 & X86_CR4_PSE))
			return 0;
		rsvd = BIT_ULL(21);
		for (i = 0; i < 8; i++) {
			if (32 + i >= min(maxphyaddr, 40))
				rsvd |= BIT_ULL(13 + i);
		}
		return rsvd;
	}
	/* PAE entries reserve 62:M; 4- and 5-level ones 51:M (62:52 are ignored). */
	rsvd = above_maxphyaddr(maxphyaddr, mode == 3 ? 62 : 51);
	if (!(cpu->efer & EFER_NX))
		rsvd |= PT64_NX_MASK;
	if (level >= 4)
		rsvd |= PT_PAGE_SIZE_MASK;
	else if (level == 3 && ps)
		rsvd |= GENMASK_ULL(29, 13);
	else if (level == 2 && ps)
		rsvd |= GENMASK_ULL(20, 13);
	return rsvd;
}

static bool is_leaf(const struct hw_cpu *cpu, int mode, int level, u64 pte)
{
	if (level == 1)
		return true;
	if (!(pte & PT_PAGE_SIZE_MASK))
		return false;
	if (mode == 2)
		return level == 2 && (cpu->cr4 & X86_CR4_PSE);
	return level <= 3;
}

/* Where the entry for @gva at @level of the table at @table is, and its size. */
static u64 entry_gpa(int mode, u64 table, u64 gva, int level, int *size)
{
	if (mode == 2) {
		*size = 4;
		return table + 4 * ((gva >> (PAGE_SHIFT + 10 * (level - 1))) & 1023);
	}
	*size = 8;
	return table + 8 * PT64_INDEX(gva, level);
}

/* The table or page an entry points to. */
static u64 entry_target(int mode, int level, u64 pte, bool leaf)
{
	if (mode == 2) {
		if (!leaf || level == 1)
			return pte & GENMASK_ULL(31, 12);
		/* PSE-36: bits 20:13 are physical bits 39:32. */
		return (pte & GENMASK_ULL(31, 22)) | (((pte >> 13) & 0xff) << 32);
	}
	return pte & PT64_BASE_ADDR_MASK & ~(PG_LEVEL_SIZE(leaf ? level : 1) - 1);
}

static u64 page_offset_mask(int mode, int level)
{
	if (mode == 2 && level == 2)
		return (4ULL << 20) - 1;
	return PG_LEVEL_SIZE(level) - 1;
}

/*
 * Judge the access on the whole path.  Returns the error code bits that
 * make it a fault (PFERR_PRESENT_MASK always among them), or 0.
 */
static u64 permission_fault(const struct hw_cpu *cpu, int mode, unsigned int access,
			    const struct gw_walk *w, u64 leaf)
{
	bool write = access & GW_WRITE, fetch = access & GW_FETCH;
	bool user_access = cpu->cpl == 3 && !(access & GW_IMPLICIT);
	bool wp = cpu->cr0 & X86_CR0_WP;
	bool fault = false;
	u64 pk = 0;

	if (user_access) {
		if (!w->user || (write && !w->writable))
			fault = true;
	} else {
		if (write && !w->writable && wp)
			fault = true;
		if (fetch && w->user && (cpu->cr4 & X86_CR4_SMEP))
			fault = true;
		/* SMAP: RFLAGS.AC lifts it for explicit accesses only. */
		if (!fetch && w->user && (cpu->cr4 & X86_CR4_SMAP) &&
		    ((access & GW_IMPLICIT) || !(cpu->rflags & X86_EFLAGS_AC)))
			fault = true;
	}
	if (fetch && w->nx)
		fault = true;

	/* Protection keys: data accesses to user pages, by the leaf's key only. */
	if (mode >= 4 && (cpu->cr4 & X86_CR4_PKE) && w->user && !fetch) {
		unsigned int key = (leaf & PT64_PKEY_MASK) >> PT64_PKEY_SHIFT;
		bool ad = cpu->pkru & BIT(2 * key), wd = cpu->pkru & BIT(2 * key + 1);

		if (ad || (write && wd && (user_access || wp)))
			pk = PFERR_PK_MASK;
	}
	if (!fault && !pk)
		return 0;
	return PFERR_PRESENT_MASK | pk;
}

u64 hw_guest_access_fault(const struct hw_cpu *cpu, unsigned int access, bool user,
			  bool writable, bool nx, u64 leaf)
{
	const struct gw_walk w = { .user = user, .writable = writable, .nx = nx };

	return permission_fault(cpu, hw_paging_mode(cpu), access, &w, leaf);
}

/* One pass from the top; GW_OK with @restart set means an A/D update lost a race. */
static enum gw_result walk_once(const struct hw_cpu *cpu, int mode, int maxphyaddr, u64 gva,
				unsigned int access, const struct hw_gmem_ops *ops, void *arg,
				struct gw_walk *w, u64 pfec, bool *restart)
{
	int level = mode == 3 ? 2 : mode, i, size;
	u64 table, pte = 0;
	bool leaf = false;

	memset(w, 0, sizeof(*w));
	w->user = w->writable = true;
	if (mode == 3) {
		u64 pdpte = cpu->pdptr[(gva >> 30) & 3];

		/* A register: no reserved bits (checked at load), no A bit. */
		if (!(pdpte & PT_PRESENT_MASK)) {
			w->error_code = pfec;
			return GW_FAULT;
		}
		table = pdpte & PT64_BASE_ADDR_MASK;
	} else {
		table = cpu->cr3 & (mode == 2 ? GENMASK_ULL(31, 12) : PT64_BASE_ADDR_MASK);
	}

	for (; level >= 1; level--) {
		u64 gpa = entry_gpa(mode, table, gva, level, &size);

		if (ops->read(arg, gpa, size, &pte))
			return GW_EXIT;
		w->pte_gpa[w->levels] = gpa;
		w->pte[w->levels++] = pte;
		if (!(pte & PT_PRESENT_MASK)) {
			w->error_code = pfec;
			return GW_FAULT;
		}
		if (pte & rsvd_bits(cpu, mode, maxphyaddr, level, pte)) {
			w->error_code = pfec | PFERR_PRESENT_MASK | PFERR_RSVD_MASK;
			return GW_FAULT;
		}
		w->user &= !!(pte & PT_USER_MASK);
		w->writable &= !!(pte & PT_WRITABLE_MASK);
		if (mode != 2 && (cpu->efer & EFER_NX))
			w->nx |= !!(pte & PT64_NX_MASK);
		leaf = is_leaf(cpu, mode, level, pte);
		if (leaf)
			break;
		table = entry_target(mode, level, pte, false);
	}

	w->level = level;
	w->error_code = permission_fault(cpu, mode, access, w, pte);
	if (w->error_code) {
		w->error_code |= pfec;
		return GW_FAULT;
	}

	/* Allowed: A in every entry used, D in the leaf for a write. */
	for (i = 0; i < w->levels; i++) {
		u64 want = PT_ACCESSED_MASK, old = w->pte[i];
		int r;

		if (i == w->levels - 1 && (access & GW_WRITE))
			want |= PT_DIRTY_MASK;
		if ((old & want) == want)
			continue;
		r = ops->cmpxchg_entry(arg, w->pte_gpa[i], mode == 2 ? 4 : 8, &old, old | want);
		if (r < 0)
			return GW_EXIT;
		if (r) {
			*restart = true;
			return GW_OK;
		}
	}
	w->dirty = (pte & PT_DIRTY_MASK) || (access & GW_WRITE);
	w->gpa = entry_target(mode, level, pte, true) | (gva & page_offset_mask(mode, level));
	return GW_OK;
}

enum gw_result hw_guest_walk(const struct hw_cpu *cpu, int maxphyaddr, u64 gva,
			     unsigned int access, const struct hw_gmem_ops *ops, void *arg,
			     struct gw_walk *w)
{
	int mode = hw_paging_mode(cpu), tries;
	u64 pfec;

	if (!mode) {
		memset(w, 0, sizeof(*w));
		w->gpa = gva & GENMASK_ULL(31, 0);
		w->level = 1;
		w->user = w->writable = true;
		return GW_OK;
	}
	if (mode < 4)
		gva &= GENMASK_ULL(31, 0);
	/* I/D is reported only when NX or SMEP make fetches matter. */
	pfec = ((access & GW_WRITE) ? PFERR_WRITE_MASK : 0) |
	       ((cpu->cpl == 3 && !(access & GW_IMPLICIT)) ? PFERR_USER_MASK : 0) |
	       ((access & GW_FETCH) && ((cpu->efer & EFER_NX) || (cpu->cr4 & X86_CR4_SMEP)) ?
		PFERR_FETCH_MASK : 0);

	for (tries = 0; tries < GW_MAX_TRIES; tries++) {
		bool restart = false;
		enum gw_result r = walk_once(cpu, mode, maxphyaddr, gva, access, ops, arg, w, pfec,
					     &restart);

		if (!restart)
			return r;
	}
	WARN_ONCE(1, "guest page walk restarted %d times", GW_MAX_TRIES);
	w->error_code = pfec;
	return GW_FAULT;
}
