// SPDX-License-Identifier: GPL-2.0-only
/*
 * guest-kernel: every vCPU runs a small kernel with processes of its own.
 *
 * The kernel's logic runs here, on the vCPU's thread, between KVM_RUNs:
 * it keeps its processes, their page tables' gpas and its free frames in
 * C, and turns each operation into a program of guest accesses that the
 * simulated CPU executes: the stores that build and change page tables
 * (through the kernel's identity map, the world's guest tables, at CPL 0),
 * the users' loads and stores through the processes' own tables (CPL 3),
 * MOV CR3, INVLPG and full TLB flushes.  A program ends at every #PF the
 * kernel expects, so that the driver checks CR2 and the error code before
 * the handler runs in the next one.
 *
 * A process's tables are one table per level: the top one holds the
 * kernel's entries (copied from the kernel's own top table) and one entry
 * for user space, which a single leaf table covers (user_base, one page
 * per entry).  Table pages come from a pool kept zeroed (an exiting
 * process clears every entry it set); data frames from a pool of their
 * own, each with a refcount (the PTEs that map it).
 *
 * Operations, drawn from the seeded PRNG: user accesses (a load checks
 * the value the kernel last stored there; a store to a copy-on-write page
 * takes the #PF and the kernel copies the frame, or reuses it when it is
 * the last reference), map (a fresh frame, filled, then its PTE), unmap
 * (PTE cleared, INVLPG, then a user load must fault), mprotect (W cleared
 * and INVLPG, then a user store must fault; or W set again), fork (the
 * child's tables built, every writable PTE made read-only in both, a full
 * flush), exit (a process's tables torn down, when fork needs its slot),
 * context switches (MOV CR3, which flushes: no PCIDs), full flushes and
 * INVLPG of a mapped page.
 *
 * Data integrity: each data frame holds GK_WORDS words the kernel knows
 * (unique stamps: a stale translation reads or writes the wrong one);
 * every load's value is checked after its program, every round ends by
 * loading every word of every process through its own tables, and by
 * reading every live frame from the host.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bitops.h"
#include "wl_internal.h"

#define GK_WORDS 4
#define GK_BATCH 1024 /* accesses in one program at most */

#define GK_P BIT_ULL(0)
#define GK_W BIT_ULL(1)
#define GK_U BIT_ULL(2)

/* The words of a data frame the kernel keeps stamps in. */
static const u32 gk_word_off[GK_WORDS] = { 0, 1024, 2056, 4088 };

enum gk_state { GK_UNMAPPED, GK_RW, GK_RO, GK_COW };

struct gk_vpage {
	u8 state;  /* enum gk_state */
	u32 frame; /* the data frame it maps */
};

struct gk_proc {
	bool live;
	u32 pid;
	u64 table[6];          /* gpa of its table at each level: [1] leaf .. [levels] top */
	struct gk_vpage *vp;   /* its user pages */
};

struct gk_frame {
	u32 refs;              /* PTEs that map it (0: free) */
	u64 word[GK_WORDS];    /* what it holds */
};

/* What the kernel did (one vCPU's; summed for the figures). */
struct gk_stats {
	u64 ops, switches, pte_writes, invlpgs, flushes;
	u64 maps, unmaps, mprotects, forks, exits;
	u64 cow_faults, cow_copies, cow_reuses, prot_faults, unmap_faults;
	u64 user_loads, user_stores, checked_loads, checked_words, programs;
	u64 l1_hints;
};

/* What a load of the program must read. */
struct gk_check {
	bool check;
	u64 expect;
	u32 pid, vpage; /* the user page (or ~0: a kernel load) */
	u8 word;
};

struct gk;

/* One vCPU's kernel. */
struct gk_cpu {
	struct gk *g;
	struct wl_vcpu *v;
	int idx;
	u64 rng, stamp;
	bool started;          /* its first program ran: the CPU state is the kernel's */
	bool set_up;
	int cpl;               /* at the end of what was emitted */
	int cur;               /* the running process, -1: the kernel's own tables */
	u32 next_pid;
	struct gk_proc *procs;
	struct gk_frame *frames;
	u32 *free_frames, nr_free_frames;
	u64 *free_tables;
	u32 nr_free_tables;
	u64 frame_base;        /* gpa of frame 0 */

	/* The program being emitted. */
	struct hw_access list[GK_BATCH];
	struct gk_check chk[GK_BATCH];
	u32 n;
	bool fault_expected;   /* its last access must take this #PF */
	u64 fault_addr, fault_code;
	const char *fault_what;

	u64 unsync_peak;       /* mmu_unsync, sampled after each program */
	struct gk_stats st;
	int error;             /* a KVM_RUN error */
	bool failed;           /* a check failed: stop */
};

struct gk {
	struct wl_ctx *c;
	int levels, esize, bits;
	u64 user_base;
	int nprocs, npages, ops;
	u64 kernel_cr3;
	int nr_kernel;         /* the kernel's entries of its top table */
	u32 kernel_idx[1024];
	u64 kernel_val[1024];
	int unsync_stat;       /* index of mmu_unsync in the VM stats (-1: none) */
	_Atomic bool reported;
	struct gk_cpu *cpus;
};

static u64 gk_rand(struct gk_cpu *k)
{
	u64 z = (k->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static u32 gk_below(struct gk_cpu *k, u32 n)
{
	return (u32)(gk_rand(k) % n);
}

/* The first failed check of the run is the one reported; the vCPU stops. */
static void __printf(2, 3) gk_fail(struct gk_cpu *k, const char *fmt, ...)
{
	struct wl_ctx *c = k->g->c;
	bool no = false;
	va_list ap;

	k->failed = true;
	if (atomic_load(&c->aborted) || !atomic_compare_exchange_strong(&k->g->reported, &no, true))
		return;
	va_start(ap, fmt);
	vsnprintf(c->res->failure, sizeof(c->res->failure), fmt, ap);
	va_end(ap);
}

static bool gk_stopped(struct gk_cpu *k)
{
	return k->failed || k->error || atomic_load(&k->g->c->aborted);
}

/* ---- geometry ------------------------------------------------------------------------------ */

static u64 gk_gva(const struct gk *g, u32 vp, int word)
{
	return g->user_base + (u64)vp * PAGE_SIZE + gk_word_off[word];
}

static u32 gk_index(const struct gk *g, u64 gva, int level)
{
	if (g->levels == 3 && level == 3)
		return (u32)((gva >> 30) & 3);
	return (u32)((gva >> (PAGE_SHIFT + g->bits * (level - 1))) & ((1u << g->bits) - 1));
}

/* The entry of @p's table at @level that maps @gva. */
static u64 gk_entry(const struct gk *g, const struct gk_proc *p, int level, u64 gva)
{
	return p->table[level] + (u64)gk_index(g, gva, level) * (u64)g->esize;
}

/* An entry at @level linking the table at @table (a PAE PDPTE has no R/W, U/S). */
static u64 gk_link(const struct gk *g, int level, u64 table)
{
	if (g->levels == 3 && level == 3)
		return table | GK_P;
	return table | GK_P | GK_W | GK_U;
}

static u64 gk_frame_gpa(const struct gk_cpu *k, u32 f)
{
	return k->frame_base + (u64)f * PAGE_SIZE;
}

static u64 gk_pte(const struct gk_cpu *k, u32 f, bool writable)
{
	return gk_frame_gpa(k, f) | GK_P | GK_U | (writable ? GK_W : 0);
}

/* A fresh value for a word: the vCPU, a stamp never used before, the word. */
static u64 gk_stamp(struct gk_cpu *k, int word)
{
	return ((u64)(k->idx + 1) << 56) | ((++k->stamp & GENMASK_ULL(45, 0)) << 8) | (u64)word;
}

/* ---- programs ------------------------------------------------------------------------------ */

static void gk_run(struct gk_cpu *k);

static struct hw_access *gk_emit(struct gk_cpu *k, u8 op, u8 size, u64 addr, u64 value)
{
	struct hw_access *a;

	if (k->n == GK_BATCH)
		gk_run(k);
	a = &k->list[k->n];
	*a = (struct hw_access){ .op = op, .size = size, .addr = addr, .value = value };
	k->chk[k->n].check = false;
	k->n++;
	return a;
}

static void gk_cpl(struct gk_cpu *k, int cpl)
{
	if (k->cpl == cpl)
		return;
	gk_emit(k, HW_SET_CPL, 8, 0, (u64)cpl);
	k->cpl = cpl;
}

/* The kernel's store to guest memory (gva = gpa), @size bytes. */
static void gk_kstore(struct gk_cpu *k, u64 gpa, u8 size, u64 value)
{
	gk_cpl(k, 0);
	gk_emit(k, HW_STORE, size, gpa, value);
}

static void gk_pte_write(struct gk_cpu *k, u64 entry, u64 value)
{
	gk_kstore(k, entry, (u8)k->g->esize, value);
	k->st.pte_writes++;
}

static void gk_check_load(struct gk_cpu *k, u64 addr, u64 expect, u32 pid, u32 vp, int word)
{
	u32 i;

	gk_emit(k, HW_LOAD, 8, addr, ~expect);
	i = k->n - 1;
	k->chk[i] = (struct gk_check){ .check = true, .expect = expect, .pid = pid, .vpage = vp,
				       .word = (u8)word };
}

static void gk_invlpg(struct gk_cpu *k, u64 gva)
{
	gk_cpl(k, 0);
	gk_emit(k, HW_INVLPG, 8, gva, 0);
	k->st.invlpgs++;
}

static void gk_flush(struct gk_cpu *k)
{
	gk_cpl(k, 0);
	gk_emit(k, HW_FLUSH_TLB, 8, 0, 0);
	k->st.flushes++;
}

static void gk_switch_to(struct gk_cpu *k, int pid_slot)
{
	gk_cpl(k, 0);
	gk_emit(k, HW_MOV_CR3, 8, 0, k->procs[pid_slot].table[k->g->levels]);
	k->cur = pid_slot;
	k->st.switches++;
}

/*
 * The last access emitted must take a #PF at @addr with @code's P, W and
 * U bits: the program ends there and gk_run() checks it.
 */
static void gk_expect_fault(struct gk_cpu *k, u64 addr, u64 code, const char *what)
{
	k->fault_expected = true;
	k->fault_what = what;
	k->fault_addr = addr;
	k->fault_code = code;
	gk_run(k);
}

static void gk_sample_unsync(struct gk_cpu *k)
{
	uint64_t vals[WL_MAX_STATS];
	int n;

	if (k->g->unsync_stat < 0)
		return;
	n = kvmmu_vm_stats(k->g->c->world.kvm, vals, WL_MAX_STATS);
	if (k->g->unsync_stat < n && vals[k->g->unsync_stat] > k->unsync_peak)
		k->unsync_peak = vals[k->g->unsync_stat];
}

/* Run the program emitted so far, then check its loads and its #PF. */
static void gk_run(struct gk_cpu *k)
{
	struct wl_ctx *c = k->g->c;
	struct kvmmu_hw_vcpu *hv = c->world.vcpus[k->idx]->hw;
	struct hw_program prog = {
		.list = k->list, .len = k->n,
		/* The first starts the kernel on its own tables; the others go on. */
		.paging = k->started ? 0 : k->g->levels,
		.cr3 = k->started ? 0 : k->g->kernel_cr3,
		.nested = c->world.l1,
	};
	struct hw_vcpu_stats before, after;
	bool expected = k->fault_expected;
	u64 faults, cr2, code;
	u32 i;
	int r;

	k->fault_expected = false;
	if (!k->n || gk_stopped(k)) {
		k->n = 0;
		return;
	}
	hw_vcpu_get_stats(hv, &before);
	r = wl_vcpu_run(k->v, &prog);
	k->started = true;
	k->st.programs++;
	hw_vcpu_get_stats(hv, &after);
	if (r || atomic_load(&c->aborted)) {
		k->error = r;
		k->n = 0;
		return;
	}
	faults = after.guest_faults - before.guest_faults;
	if (faults != (expected ? 1 : 0)) {
		gk_fail(k, "vCPU %d: %llu #PF where %d expected (%s at %#llx)",
			k->idx, (unsigned long long)faults, expected ? 1 : 0,
			expected ? k->fault_what : "none",
			(unsigned long long)(expected ? k->fault_addr : 0));
	} else if (expected) {
		hw_vcpu_last_pf(hv, &cr2, &code);
		code &= PFERR_PRESENT_MASK | PFERR_WRITE_MASK | PFERR_USER_MASK;
		if (cr2 != k->fault_addr || code != k->fault_code)
			gk_fail(k, "vCPU %d: #PF at %#llx code %#llx, expected at "
				"%#llx code %#llx", k->idx, (unsigned long long)cr2,
				(unsigned long long)code, (unsigned long long)k->fault_addr,
				(unsigned long long)k->fault_code);
	}
	for (i = 0; i < k->n && !k->failed; i++) {
		const struct gk_check *ck = &k->chk[i];

		if (!ck->check)
			continue;
		k->st.checked_loads++;
		if (k->list[i].value == ck->expect)
			continue;
		gk_fail(k, "vCPU %d pid %u page %u word %u (%#llx): read %#llx, "
			"expected %#llx", k->idx, ck->pid, ck->vpage, ck->word,
			(unsigned long long)k->list[i].addr, (unsigned long long)k->list[i].value,
			(unsigned long long)ck->expect);
	}
	gk_sample_unsync(k);
	k->n = 0;
}

/* ---- the kernel's memory ------------------------------------------------------------------- */

static u32 gk_alloc_frame(struct gk_cpu *k)
{
	u32 f;

	/* Validated: every mapped page has a frame of its own at worst. */
	BUG_ON(!k->nr_free_frames);
	f = k->free_frames[--k->nr_free_frames];
	k->frames[f].refs = 1;
	return f;
}

/*
 * The last reference to a frame went: it is free.  Run as L2, the kernel
 * also tells L1 (a free-page hint, a VMCALL): L1 unmaps the page from its
 * EPT and INVEPTs, and the frame's next use faults to L1 again.
 */
static void gk_put_frame(struct gk_cpu *k, u32 f)
{
	if (--k->frames[f].refs)
		return;
	k->free_frames[k->nr_free_frames++] = f;
	if (k->g->c->world.l1) {
		gk_cpl(k, 0);
		gk_emit(k, HW_VMCALL, 8, gk_frame_gpa(k, f), HW_HC_UNMAP);
		k->st.l1_hints++;
	}
}

static u64 gk_alloc_table(struct gk_cpu *k)
{
	BUG_ON(!k->nr_free_tables);
	return k->free_tables[--k->nr_free_tables];
}

/* ---- user accesses -------------------------------------------------------------------------- */

static void gk_user_load(struct gk_cpu *k, u32 vp, int word)
{
	struct gk_proc *p = &k->procs[k->cur];

	gk_cpl(k, 3);
	gk_check_load(k, gk_gva(k->g, vp, word), k->frames[p->vp[vp].frame].word[word], p->pid,
		      vp, word);
	k->st.user_loads++;
}

static void gk_cow_fault(struct gk_cpu *k, u32 vp);

/* A user store: done, or the #PF a read-only or copy-on-write page takes. */
static void gk_user_store(struct gk_cpu *k, u32 vp, int word)
{
	struct gk_proc *p = &k->procs[k->cur];
	struct gk_vpage *v = &p->vp[vp];
	u64 gva = gk_gva(k->g, vp, word), val = gk_stamp(k, word);

	gk_cpl(k, 3);
	gk_emit(k, HW_STORE, 8, gva, val);
	k->st.user_stores++;
	if (v->state == GK_RW) {
		k->frames[v->frame].word[word] = val;
		return;
	}
	/* Present, not writable: the store takes a protection #PF and is not done. */
	gk_expect_fault(k, gva, PFERR_PRESENT_MASK | PFERR_WRITE_MASK | PFERR_USER_MASK,
			v->state == GK_RO ? "a store to a read-only page" :
			"a store to a copy-on-write page");
	if (v->state == GK_RO) {
		k->st.prot_faults++; /* SIGSEGV */
		return;
	}
	gk_cow_fault(k, vp);
	if (gk_stopped(k))
		return;
	/* Back from the handler: the store again, and now it is done. */
	val = gk_stamp(k, word);
	gk_cpl(k, 3);
	gk_emit(k, HW_STORE, 8, gva, val);
	k->st.user_stores++;
	k->frames[v->frame].word[word] = val;
}

/*
 * The #PF handler for a store to a copy-on-write page: the last reference
 * takes the frame back writable; otherwise the frame is copied (the
 * kernel's loads check what it copies), the copy mapped writable, and the
 * old translation flushed.
 */
static void gk_cow_fault(struct gk_cpu *k, u32 vp)
{
	struct gk_proc *p = &k->procs[k->cur];
	struct gk_vpage *v = &p->vp[vp];
	u64 entry = gk_entry(k->g, p, 1, gk_gva(k->g, vp, 0));
	u32 old = v->frame, nf;
	int w;

	k->st.cow_faults++;
	if (k->frames[old].refs == 1) {
		gk_pte_write(k, entry, gk_pte(k, old, true));
		k->st.cow_reuses++;
		v->state = GK_RW;
		return;
	}
	nf = gk_alloc_frame(k);
	gk_cpl(k, 0);
	for (w = 0; w < GK_WORDS; w++) {
		u64 val = k->frames[old].word[w];

		gk_check_load(k, gk_frame_gpa(k, old) + gk_word_off[w], val, p->pid, vp, w);
		gk_kstore(k, gk_frame_gpa(k, nf) + gk_word_off[w], 8, val);
		k->frames[nf].word[w] = val;
	}
	gk_pte_write(k, entry, gk_pte(k, nf, true));
	gk_invlpg(k, gk_gva(k->g, vp, 0));
	gk_put_frame(k, old);
	v->frame = nf;
	v->state = GK_RW;
	k->st.cow_copies++;
}

/* ---- operations ----------------------------------------------------------------------------- */

/* A random page of @p mapped (or not, !@mapped), or -1 if none is. */
static int gk_pick(struct gk_cpu *k, const struct gk_proc *p, bool mapped)
{
	u32 n = (u32)k->g->npages, start = gk_below(k, n), i;

	for (i = 0; i < n; i++) {
		u32 vp = (start + i) % n;

		if ((p->vp[vp].state != GK_UNMAPPED) == mapped)
			return (int)vp;
	}
	return -1;
}

static void gk_map(struct gk_cpu *k, u32 vp)
{
	struct gk_proc *p = &k->procs[k->cur];
	u32 f = gk_alloc_frame(k);
	int w;

	/* The frame filled first, then mapped: not present before, nothing to flush. */
	for (w = 0; w < GK_WORDS; w++) {
		u64 val = gk_stamp(k, w);

		gk_kstore(k, gk_frame_gpa(k, f) + gk_word_off[w], 8, val);
		k->frames[f].word[w] = val;
	}
	gk_pte_write(k, gk_entry(k->g, p, 1, gk_gva(k->g, vp, 0)), gk_pte(k, f, true));
	p->vp[vp] = (struct gk_vpage){ .state = GK_RW, .frame = f };
	k->st.maps++;
	gk_user_load(k, vp, (int)gk_below(k, GK_WORDS));
}

static void gk_unmap(struct gk_cpu *k, u32 vp)
{
	struct gk_proc *p = &k->procs[k->cur];
	u64 gva = gk_gva(k->g, vp, 0);

	gk_pte_write(k, gk_entry(k->g, p, 1, gva), 0);
	gk_invlpg(k, gva);
	gk_put_frame(k, p->vp[vp].frame);
	p->vp[vp].state = GK_UNMAPPED;
	k->st.unmaps++;
	/* Gone: a user load faults (not present), whatever the TLB had. */
	gk_cpl(k, 3);
	gk_emit(k, HW_LOAD, 8, gva, 0);
	gk_expect_fault(k, gva, PFERR_USER_MASK, "a load from an unmapped page");
	k->st.unmap_faults++;
}

static void gk_mprotect(struct gk_cpu *k, u32 vp)
{
	struct gk_proc *p = &k->procs[k->cur];
	struct gk_vpage *v = &p->vp[vp];
	u64 gva = gk_gva(k->g, vp, 0), entry = gk_entry(k->g, p, 1, gva);

	k->st.mprotects++;
	if (v->state == GK_RO) {
		/* PROT_WRITE again: a shared frame stays read-only, copy-on-write. */
		if (k->frames[v->frame].refs > 1) {
			v->state = GK_COW;
		} else {
			/* More permission: no flush (a stale entry just faults again). */
			gk_pte_write(k, entry, gk_pte(k, v->frame, true));
			v->state = GK_RW;
		}
		gk_user_store(k, vp, (int)gk_below(k, GK_WORDS));
		return;
	}
	/* Read-only (a copy-on-write page is read-only already). */
	if (v->state == GK_RW) {
		gk_pte_write(k, entry, gk_pte(k, v->frame, false));
		gk_invlpg(k, gva);
	}
	v->state = GK_RO;
	gk_user_store(k, vp, (int)gk_below(k, GK_WORDS));
}

/* A process's tables: zeroed pages from the pool, linked top-down by the kernel's stores. */
static void gk_build_tables(struct gk_cpu *k, struct gk_proc *p)
{
	struct gk *g = k->g;
	int l, i;

	for (l = 1; l <= g->levels; l++)
		p->table[l] = gk_alloc_table(k);
	for (i = 0; i < g->nr_kernel; i++)
		gk_pte_write(k, p->table[g->levels] + (u64)g->kernel_idx[i] * (u64)g->esize,
			     g->kernel_val[i]);
	for (l = g->levels; l > 1; l--)
		gk_pte_write(k, gk_entry(g, p, l, g->user_base), gk_link(g, l, p->table[l - 1]));
}

/* Tear a process down (not the running one): every entry it set cleared, tables freed. */
static void gk_exit(struct gk_cpu *k, int slot)
{
	struct gk_proc *p = &k->procs[slot];
	struct gk *g = k->g;
	u32 vp;
	int l, i;

	for (vp = 0; vp < (u32)g->npages; vp++) {
		if (p->vp[vp].state == GK_UNMAPPED)
			continue;
		gk_pte_write(k, gk_entry(g, p, 1, gk_gva(g, vp, 0)), 0);
		gk_put_frame(k, p->vp[vp].frame);
		p->vp[vp].state = GK_UNMAPPED;
	}
	for (l = 2; l <= g->levels; l++)
		gk_pte_write(k, gk_entry(g, p, l, g->user_base), 0);
	for (i = 0; i < g->nr_kernel; i++)
		gk_pte_write(k, p->table[g->levels] + (u64)g->kernel_idx[i] * (u64)g->esize, 0);
	for (l = 1; l <= g->levels; l++)
		k->free_tables[k->nr_free_tables++] = p->table[l];
	p->live = false;
	k->st.exits++;
}

/* A random live process other than the running one, or -1. */
static int gk_other(struct gk_cpu *k)
{
	int n = k->g->nprocs, start = (int)gk_below(k, (u32)n), i;

	for (i = 0; i < n; i++) {
		int s = (start + i) % n;

		if (s != k->cur && k->procs[s].live)
			return s;
	}
	return -1;
}

static void gk_fork(struct gk_cpu *k)
{
	struct gk *g = k->g;
	struct gk_proc *parent = &k->procs[k->cur], *child;
	int slot;
	u32 vp;

	for (slot = 0; slot < g->nprocs && k->procs[slot].live; slot++)
		;
	if (slot == g->nprocs) {
		/* No room: another process exits first. */
		slot = gk_other(k);
		if (slot < 0)
			return;
		gk_exit(k, slot);
	}
	child = &k->procs[slot];
	child->live = true;
	child->pid = k->next_pid++;
	gk_build_tables(k, child);
	for (vp = 0; vp < (u32)g->npages; vp++) {
		struct gk_vpage *v = &parent->vp[vp];
		u64 gva = gk_gva(g, vp, 0);

		child->vp[vp] = *v;
		if (v->state == GK_UNMAPPED)
			continue;
		/* Writable pages become copy-on-write in both. */
		if (v->state == GK_RW) {
			gk_pte_write(k, gk_entry(g, parent, 1, gva), gk_pte(k, v->frame, false));
			v->state = GK_COW;
			child->vp[vp].state = GK_COW;
		}
		gk_pte_write(k, gk_entry(g, child, 1, gva), gk_pte(k, v->frame, false));
		k->frames[v->frame].refs++;
	}
	/* The parent's writable translations go: flush_tlb_mm(), a full flush. */
	gk_flush(k);
	k->st.forks++;
}

static void gk_touch(struct gk_cpu *k)
{
	struct gk_proc *p = &k->procs[k->cur];
	int i, vp;

	for (i = 0; i < 4 && !gk_stopped(k); i++) {
		vp = gk_pick(k, p, true);
		if (vp < 0)
			return;
		if (gk_rand(k) & 1)
			gk_user_load(k, (u32)vp, (int)gk_below(k, GK_WORDS));
		else
			gk_user_store(k, (u32)vp, (int)gk_below(k, GK_WORDS));
	}
}

static void gk_op(struct gk_cpu *k)
{
	struct gk_proc *p = &k->procs[k->cur];
	u32 r = gk_below(k, 100);
	int vp, other;

	k->st.ops++;
	if (r < 30) {
		gk_touch(k);
	} else if (r < 45) {
		vp = gk_pick(k, p, false);
		if (vp >= 0)
			gk_map(k, (u32)vp);
		else
			gk_touch(k);
	} else if (r < 55) {
		vp = gk_pick(k, p, true);
		if (vp >= 0)
			gk_unmap(k, (u32)vp);
	} else if (r < 65) {
		vp = gk_pick(k, p, true);
		if (vp >= 0)
			gk_mprotect(k, (u32)vp);
	} else if (r < 72) {
		gk_fork(k);
	} else if (r < 90) {
		other = gk_other(k);
		gk_switch_to(k, other >= 0 ? other : k->cur);
	} else if (r < 95) {
		gk_flush(k);
	} else {
		vp = gk_pick(k, p, true);
		if (vp >= 0)
			gk_invlpg(k, gk_gva(k->g, (u32)vp, 0));
	}
}

/* Every word of every process, loaded through its own tables; every live frame, by the host. */
static void gk_verify(struct gk_cpu *k)
{
	struct wl_ctx *c = k->g->c;
	int cur = k->cur, s, w;
	u32 vp, f;

	for (s = 0; s < k->g->nprocs && !gk_stopped(k); s++) {
		struct gk_proc *p = &k->procs[s];

		if (!p->live)
			continue;
		gk_switch_to(k, s);
		for (vp = 0; vp < (u32)k->g->npages; vp++) {
			if (p->vp[vp].state == GK_UNMAPPED)
				continue;
			for (w = 0; w < GK_WORDS; w++)
				gk_user_load(k, vp, w);
		}
	}
	gk_switch_to(k, cur);
	gk_run(k);
	for (f = 0; f < (u32)(k->g->nprocs * k->g->npages) && !gk_stopped(k); f++) {
		u64 gpa = gk_frame_gpa(k, f), val;

		if (!k->frames[f].refs)
			continue;
		for (w = 0; w < GK_WORDS; w++) {
			u64 hva = wl_mem(c)->hva + (gpa - wl_mem(c)->gpa) + gk_word_off[w];

			k->st.checked_words++;
			if (host_access(c->world.mm, (unsigned long)hva, false, &val) ||
			    val != k->frames[f].word[w]) {
				gk_fail(k, "vCPU %d frame %#llx word %d holds %#llx, "
					"expected %#llx", k->idx, (unsigned long long)gpa, w,
					(unsigned long long)val,
					(unsigned long long)k->frames[f].word[w]);
				break;
			}
		}
	}
}

/* The first process: its tables, the switch to them, half its pages mapped. */
static void gk_boot(struct gk_cpu *k)
{
	struct gk_proc *init = &k->procs[0];
	int i, vp;

	init->live = true;
	init->pid = k->next_pid++;
	gk_build_tables(k, init);
	gk_switch_to(k, 0);
	for (i = 0; i < (k->g->npages + 1) / 2 && !gk_stopped(k); i++) {
		vp = gk_pick(k, init, false);
		gk_map(k, (u32)vp);
	}
}

/* One round on @v's vCPU: the pass function. */
static int gk_round(struct wl_vcpu *v, void *arg)
{
	struct gk *g = arg;
	struct gk_cpu *k = &g->cpus[v->idx];
	int i;

	k->v = v;
	if (!k->set_up) {
		k->set_up = true;
		gk_boot(k);
	}
	for (i = 0; i < g->ops && !gk_stopped(k); i++)
		gk_op(k);
	gk_verify(k);
	gk_run(k);
	return k->error;
}

/* ---- set-up, figures ------------------------------------------------------------------------- */

/* A word of guest memory read by the host (the kernel's own tables, at set-up). */
static int gk_host_read(struct wl_ctx *c, u64 gpa, int size, u64 *val)
{
	int m;

	for (m = 0; m < c->world.nr_mem; m++) {
		const struct world_mem_config *mc = &c->world.cfg.mem[m];
		u64 word;
		int r;

		if (gpa < mc->gpa || gpa - mc->gpa >= mc->size)
			continue;
		r = host_access(c->world.mm, mc->hva + (ALIGN_DOWN(gpa, 8) - mc->gpa), false, &word);
		if (r)
			return r;
		word >>= (gpa & 7) * 8;
		*val = size == 8 ? word : word & 0xffffffffULL;
		return 0;
	}
	return -EFAULT;
}

static int gk_setup(struct gk *g)
{
	struct wl_ctx *c = g->c;
	const struct kvmmu_stat_desc *d;
	u64 slice = c->cfg.mem_per_vcpu, tables;
	int i, j, n, top;

	g->levels = c->world.cfg.guest_paging;
	g->esize = g->levels == 2 ? 4 : 8;
	g->bits = g->levels == 2 ? 10 : 9;
	g->nprocs = c->cfg.processes;
	g->npages = c->cfg.process_pages;
	g->ops = c->cfg.ops;
	g->kernel_cr3 = c->world.guest_cr3;
	/*
	 * User space: the second entry of a 4- or 5-level top table; 4M up
	 * for 32-bit and PAE guests, whose kernels live from 1G on.
	 */
	g->user_base = g->levels >= 4 ? 1ULL << (PAGE_SHIFT + 9 * (g->levels - 1)) : 4ULL << 20;
	top = g->levels == 3 ? 4 : 1 << g->bits;
	for (i = 0; i < top; i++) {
		u64 v;

		if (gk_host_read(c, g->kernel_cr3 + (u64)i * (u64)g->esize, g->esize, &v))
			return -EIO;
		if (!(v & GK_P))
			continue;
		/* The world's map must leave the user entry free. */
		if ((u32)i == gk_index(g, g->user_base, g->levels))
			return -EINVAL;
		g->kernel_idx[g->nr_kernel] = (u32)i;
		g->kernel_val[g->nr_kernel++] = v;
	}
	g->unsync_stat = -1;
	d = kvmmu_vm_stat_descs(&n);
	for (i = 0; i < n && i < WL_MAX_STATS; i++) {
		if (!strcmp(d[i].name, "mmu_unsync"))
			g->unsync_stat = i;
	}

	g->cpus = calloc((size_t)c->cfg.vcpus, sizeof(*g->cpus));
	if (!g->cpus)
		return -ENOMEM;
	tables = (u64)g->nprocs * (u64)g->levels;
	for (i = 0; i < c->cfg.vcpus; i++) {
		struct gk_cpu *k = &g->cpus[i];
		u64 base = wl_mem(c)->gpa + (u64)i * slice;
		u32 nframes = (u32)(g->nprocs * g->npages);

		k->g = g;
		k->idx = i;
		k->rng = c->cfg.seed ^ ((u64)(i + 1) << 40);
		k->cur = -1;
		k->procs = calloc((size_t)g->nprocs, sizeof(*k->procs));
		k->frames = calloc(nframes, sizeof(*k->frames));
		k->free_frames = calloc(nframes, sizeof(*k->free_frames));
		k->free_tables = calloc(tables, sizeof(*k->free_tables));
		if (!k->procs || !k->frames || !k->free_frames || !k->free_tables)
			return -ENOMEM;
		for (j = 0; j < g->nprocs; j++) {
			k->procs[j].vp = calloc((size_t)g->npages, sizeof(*k->procs[j].vp));
			if (!k->procs[j].vp)
				return -ENOMEM;
		}
		/* Fresh guest memory reads as zeroes: the table pool starts clean. */
		for (j = 0; j < (int)tables; j++)
			k->free_tables[k->nr_free_tables++] = base + (tables - 1 - (u64)j) * PAGE_SIZE;
		k->frame_base = base + tables * PAGE_SIZE;
		for (j = (int)nframes - 1; j >= 0; j--)
			k->free_frames[k->nr_free_frames++] = (u32)j;
	}
	return 0;
}

static void gk_teardown(struct gk *g)
{
	int i, j;

	if (!g->cpus)
		return;
	for (i = 0; i < g->c->cfg.vcpus; i++) {
		struct gk_cpu *k = &g->cpus[i];

		for (j = 0; k->procs && j < g->nprocs; j++)
			free(k->procs[j].vp);
		free(k->procs);
		free(k->frames);
		free(k->free_frames);
		free(k->free_tables);
	}
	free(g->cpus);
}

/* A KVM stat by name: a VM stat, or a vCPU stat summed over the vCPUs; 0 if none. */
static u64 gk_kvm_stat(struct wl_ctx *c, const char *name)
{
	const struct kvmmu_stat_desc *d;
	uint64_t vals[WL_MAX_STATS];
	u64 sum = 0;
	int n, i, j;

	d = kvmmu_vm_stat_descs(&n);
	for (i = 0; i < n && i < WL_MAX_STATS; i++) {
		if (!strcmp(d[i].name, name)) {
			kvmmu_vm_stats(c->world.kvm, vals, WL_MAX_STATS);
			return vals[i];
		}
	}
	d = kvmmu_vcpu_stat_descs(&n);
	for (i = 0; i < n && i < WL_MAX_STATS; i++) {
		if (strcmp(d[i].name, name))
			continue;
		for (j = 0; j < c->cfg.vcpus; j++) {
			kvmmu_vcpu_stats(c->world.vcpus[j], vals, WL_MAX_STATS);
			sum += vals[i];
		}
		return sum;
	}
	return 0;
}

static void gk_rate(struct wl_ctx *c, const char *label, const char *metric, u64 n, double t)
{
	char name[40];

	wl_print(c, "%s: %llu (%.0f/s)\n", label, (unsigned long long)n, t > 0 ? (double)n / t : 0);
	wl_metric_set(c, metric, (double)n);
	snprintf(name, sizeof(name), "%s_per_s", metric);
	wl_metric_set(c, name, t > 0 ? (double)n / t : 0);
}

static int guest_kernel(struct wl_ctx *c)
{
	struct gk *g = calloc(1, sizeof(*g));
	struct gk_stats sum = { 0 };
	u64 unsync_peak = 0;
	double t, total = 0;
	char name[40];
	int it, i, r;

	if (!g)
		return -ENOMEM;
	g->c = c;
	r = gk_setup(g);
	if (r)
		goto out;
	wl_print(c, "Testing guest kernels: %d vCPU%s x %d processes x %d pages, %d-level paging%s, "
		 "%d rounds of %d operations\n", c->cfg.vcpus, c->cfg.vcpus == 1 ? "" : "s",
		 g->nprocs, g->npages, g->levels, c->world.l1 ? " in L2" : "",
		 c->cfg.iterations, g->ops);
	for (it = 1; it <= c->cfg.iterations && !c->failed && !c->res->failure[0] && !wl_stopped(c);
	     it++) {
		struct wl_pass p = { .vcpu_fn = gk_round, .arg = g };

		snprintf(name, sizeof(name), "round %d", it);
		wl_progress(c, name);
		t = wl_pass_all(c, &p);
		total += t;
		wl_print(c, "Round %d time: %.9fs\n", it, t);
		/* The first rounds' times (metrics are few). */
		if (it <= 8) {
			snprintf(name, sizeof(name), "round_%d_s", it);
			wl_metric_set(c, name, t);
		}
	}
	for (i = 0; i < c->cfg.vcpus; i++) {
		const u64 *src = (const u64 *)(const void *)&g->cpus[i].st;
		u64 *dst = (u64 *)(void *)&sum;
		size_t f;

		for (f = 0; f < sizeof(sum) / sizeof(u64); f++)
			dst[f] += src[f];
		unsync_peak = max(unsync_peak, g->cpus[i].unsync_peak);
	}
	wl_print_time(c, "Guest kernel time", total);
	wl_metric_set(c, "guest_kernel_s", total);
	gk_rate(c, "Operations", "operations", sum.ops, total);
	gk_rate(c, "Context switches", "context_switches", sum.switches, total);
	gk_rate(c, "PTE writes", "pte_writes", sum.pte_writes, total);
	gk_rate(c, "INVLPGs", "invlpgs", sum.invlpgs, total);
	gk_rate(c, "Full TLB flushes", "tlb_flushes", sum.flushes, total);
	wl_print(c, "Maps: %llu, unmaps: %llu, mprotects: %llu, forks: %llu, exits: %llu\n",
		 (unsigned long long)sum.maps, (unsigned long long)sum.unmaps,
		 (unsigned long long)sum.mprotects, (unsigned long long)sum.forks,
		 (unsigned long long)sum.exits);
	wl_print(c, "Guest #PFs: %llu copy-on-write (%llu copies, %llu reuses), %llu protection, "
		 "%llu not present\n", (unsigned long long)sum.cow_faults,
		 (unsigned long long)sum.cow_copies, (unsigned long long)sum.cow_reuses,
		 (unsigned long long)sum.prot_faults, (unsigned long long)sum.unmap_faults);
	wl_print(c, "Data integrity: %llu loads and %llu frame words checked, %s\n",
		 (unsigned long long)sum.checked_loads, (unsigned long long)sum.checked_words,
		 c->res->failure[0] ? "FAILED" : "all as written");
	wl_print(c, "Programs run: %llu (%llu user loads, %llu user stores)\n",
		 (unsigned long long)sum.programs, (unsigned long long)sum.user_loads,
		 (unsigned long long)sum.user_stores);
	if (c->world.l1) {
		wl_print(c, "Freed frames L1 was told of (unmap + INVEPT): %llu\n",
			 (unsigned long long)sum.l1_hints);
		wl_metric_set(c, "l1_free_hints", (double)sum.l1_hints);
	}
	wl_print(c, "KVM: mmu_pte_write=%llu mmu_flooded=%llu mmu_unsync (peak)=%llu "
		 "mmu_cache_miss=%llu mmu_shadow_zapped=%llu invlpg=%llu pf_guest=%llu "
		 "tlb_flush=%llu\n",
		 (unsigned long long)gk_kvm_stat(c, "mmu_pte_write"),
		 (unsigned long long)gk_kvm_stat(c, "mmu_flooded"), (unsigned long long)unsync_peak,
		 (unsigned long long)gk_kvm_stat(c, "mmu_cache_miss"),
		 (unsigned long long)gk_kvm_stat(c, "mmu_shadow_zapped"),
		 (unsigned long long)gk_kvm_stat(c, "invlpg"),
		 (unsigned long long)gk_kvm_stat(c, "pf_guest"),
		 (unsigned long long)gk_kvm_stat(c, "tlb_flush"));
	wl_metric_set(c, "maps", (double)sum.maps);
	wl_metric_set(c, "unmaps", (double)sum.unmaps);
	wl_metric_set(c, "mprotects", (double)sum.mprotects);
	wl_metric_set(c, "forks", (double)sum.forks);
	wl_metric_set(c, "exits", (double)sum.exits);
	wl_metric_set(c, "cow_faults", (double)sum.cow_faults);
	wl_metric_set(c, "cow_copies", (double)sum.cow_copies);
	wl_metric_set(c, "protection_faults", (double)sum.prot_faults);
	wl_metric_set(c, "not_present_faults", (double)sum.unmap_faults);
	wl_metric_set(c, "checked_loads", (double)sum.checked_loads);
	wl_metric_set(c, "checked_frame_words", (double)sum.checked_words);
	wl_metric_set(c, "mmu_unsync_peak", (double)unsync_peak);
out:
	gk_teardown(g);
	free(g);
	return r;
}

const struct workload guest_kernel_wl = {
	.name = "guest-kernel",
	.description = "a kernel on every vCPU: processes with their own page tables, map, unmap, "
		       "mprotect, fork with copy-on-write, context switches, INVLPG, flushes",
	.default_mem_per_vcpu = 2ULL << 20,
	.default_slots = 1,
	.default_iterations = 4,
	.min_iterations = 1,
	.default_processes = 4,
	.default_process_pages = 64,
	.default_ops = 500,
	.run = guest_kernel,
};
