// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulated CPU: the hardware ops KVM's run loop calls, and the
 * execution of guest programs (lists of accesses, memstress passes), with
 * guest paging walked two-dimensionally, or, under shadow paging, every
 * linear address walked through KVM's shadow table and the paging
 * instructions KVM intercepts exiting to it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bug.h"
#include "hw_internal.h"
#include "observe.h"
#include "rcu.h"
#include "sched_point.h"

#define MEMSTRESS_VALUE 0x0123456789ABCDEFULL

/* CR0.PE, which paging needs (the shadow walk's CR0 has it, as the CPU KVM runs). */
#define CR0_PE BIT_ULL(0)

/* ---- the machine -------------------------------------------------------------------- */

int hw_machine_create(const struct hw_config *cfg, struct hw_machine **out)
{
	struct hw_machine *m;

	if (!cfg->mm || !cfg->host || cfg->phys_bits < 36 || cfg->phys_bits > 52)
		return -EINVAL;
	if ((cfg->tlb_4k_entries && !is_power_of_2(cfg->tlb_4k_entries)) ||
	    (cfg->tlb_huge_entries && !is_power_of_2(cfg->tlb_huge_entries)) ||
	    (cfg->psc_entries && !is_power_of_2(cfg->psc_entries)))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->mm = cfg->mm;
	m->host = cfg->host;
	m->direct_map = cfg->host->direct_map(cfg->mm);
	m->tag_map = cfg->host->tag_map ? cfg->host->tag_map(cfg->mm) : NULL;
	m->phys_bits = cfg->phys_bits;
	m->rsvd_mask = cfg->phys_bits < 52 ? GENMASK_ULL(51, cfg->phys_bits) : 0;
	m->tlb_4k = cfg->tlb_4k_entries ? cfg->tlb_4k_entries : 512;
	m->tlb_huge = cfg->tlb_huge_entries ? cfg->tlb_huge_entries : 32;
	m->psc = cfg->psc_entries ? cfg->psc_entries : 32;
	spin_lock_init(&m->lock);
	*out = m;
	return 0;
}

void hw_machine_destroy(struct hw_machine *m)
{
	free(m);
}

int hw_machine_vcpus(struct hw_machine *m, struct kvmmu_hw_vcpu **out, int n)
{
	int i, count = 0;

	spin_lock(&m->lock);
	for (i = 0; i < (int)ARRAY_SIZE(m->vcpus); i++) {
		if (!m->vcpus[i])
			continue;
		if (count < n)
			out[count] = m->vcpus[i];
		count++;
	}
	spin_unlock(&m->lock);
	return count;
}

static struct kvmmu_hw_vcpu *hw_vcpu_create(void *ctx, int id)
{
	struct hw_machine *m = ctx;
	struct kvmmu_hw_vcpu *hv;

	if (id < 0 || id >= (int)ARRAY_SIZE(m->vcpus))
		return NULL;
	hv = zalloc_cacheline_aligned(sizeof(*hv));
	if (!hv)
		return NULL;
	hv->m = m;
	hv->id = id;
	if (hw_tlb_init(hv)) {
		hw_tlb_free(hv);
		free(hv);
		return NULL;
	}
	atomic_store(&hv->done, true); /* no program yet */
	spin_lock(&m->lock);
	m->vcpus[id] = hv;
	spin_unlock(&m->lock);
	return hv;
}

static void hw_vcpu_destroy(struct kvmmu_hw_vcpu *hv)
{
	struct hw_machine *m = hv->m;

	spin_lock(&m->lock);
	if (m->vcpus[hv->id] == hv)
		m->vcpus[hv->id] = NULL;
	spin_unlock(&m->lock);
	hw_tlb_free(hv);
	free(hv);
}

int hw_vcpu_id(struct kvmmu_hw_vcpu *hv)
{
	return hv->id;
}

/* ---- programs ------------------------------------------------------------------------- */

int hw_vcpu_load_program(struct kvmmu_hw_vcpu *hv, const struct hw_program *p)
{
	bool was_nested;
	u64 i;

	if (p->list) {
		for (i = 0; i < p->len; i++) {
			u8 size = p->list[i].size ? p->list[i].size : 8;

			if (p->list[i].op >= NR_HW_OPS || !is_power_of_2(size) || size > 8 ||
			    (p->list[i].addr & (size - 1)))
				return -EINVAL;
			/* L1's instructions are L1's; a VMCALL needs an L1 to call. */
			if (p->list[i].op == HW_VMRESUME || p->list[i].op == HW_INVEPT ||
			    (p->list[i].op == HW_VMCALL && !p->nested))
				return -EINVAL;
			/* Guest page tables live in bytes: not in tag mode. */
			if (p->list[i].op == HW_MOV_CR0 && hv->m->tag_map)
				return -EINVAL;
		}
	} else if (!p->size || (p->size & (PAGE_SIZE - 1)) || (p->base & (PAGE_SIZE - 1)) ||
		   p->write_percent > 100) {
		return -EINVAL;
	}
	/* Guest page tables live in bytes: not in tag mode. */
	if (p->paging && (p->paging < 2 || p->paging > 5 || hv->m->tag_map ||
			  (p->cr3 & (PAGE_SIZE - 1)) || (p->paging < 4 && p->cr3 >> 32)))
		return -EINVAL;
	/* Nested: L1's EPT tables live in bytes; L1 runs unpaged, L2 on its own tables or none. */
	if (p->nested && (hv->m->tag_map || !p->nested->l2_size))
		return -EINVAL;
	if (p->unmap_each_pass && (!p->nested || p->list))
		return -EINVAL;
	was_nested = hv->prog.nested;
	hv->prog = *p;
	/*
	 * .paging starts the program as a kernel in that paging mode: CPL 0,
	 * from .cr3, CR0.WP and (where it exists) EFER.NXE on.  Otherwise the
	 * CPU state is what the last program left (at first: paging off).
	 */
	if (p->paging) {
		static const struct hw_cpu start[] = {
			[2] = { .cr0 = X86_CR0_PG | X86_CR0_WP, .cr4 = X86_CR4_PSE },
			[3] = { .cr0 = X86_CR0_PG | X86_CR0_WP, .cr4 = X86_CR4_PAE,
				.efer = EFER_NX },
			[4] = { .cr0 = X86_CR0_PG | X86_CR0_WP, .cr4 = X86_CR4_PAE,
				.efer = EFER_LME | EFER_LMA | EFER_NX },
			[5] = { .cr0 = X86_CR0_PG | X86_CR0_WP, .cr4 = X86_CR4_PAE | X86_CR4_LA57,
				.efer = EFER_LME | EFER_LMA | EFER_NX },
		};

		hv->cpu = start[p->paging];
		hv->cpu.cr3 = p->cr3;
		/* PAE: the PDPTEs are read at the next entry, through the TDP tables. */
		hv->pdptrs_pending = p->paging == 3;
	}
	/* Relaxed stores: hw_vcpu_pass_position() reads them from another thread. */
	__atomic_store_n(&hv->npages, p->list ? 0 : p->size >> PAGE_SHIFT, __ATOMIC_RELAXED);
	/*
	 * A program run as L2 starts in L1, which launches it, unless the
	 * last program ran as L2 too: then the vCPU stays where it is (L2,
	 * or L1 about to resume it) and L2 goes on with the new program, as
	 * a guest with its next pass.  Else there is no L1.
	 */
	if (p->nested && !was_nested)
		hw_l1_start(hv);
	else if (!p->nested)
		memset(&hv->l1, 0, sizeof(hv->l1));
	hv->l1.region_unmapped = false;
	__atomic_store_n(&hv->pc, 0, __ATOMIC_RELAXED);
	atomic_store(&hv->pass, 0);
	atomic_store(&hv->release, false);
	atomic_store(&hv->done, p->list ? p->len == 0 : false);
	return 0;
}

void hw_vcpu_guest_paging(struct kvmmu_hw_vcpu *hv, struct hw_guest_paging *out)
{
	const struct hw_cpu *c = &hv->cpu;

	*out = (struct hw_guest_paging){
		.cr0 = c->cr0, .cr3 = c->cr3, .cr4 = c->cr4, .efer = c->efer,
		.rflags = c->rflags, .pkru = c->pkru, .cpl = c->cpl,
		.eptp = hv->prog.nested ? hv->prog.nested->eptp : 0,
	};
}

void hw_vcpu_last_pf(struct kvmmu_hw_vcpu *hv, u64 *cr2, u64 *error_code)
{
	*cr2 = hv->cr2;
	*error_code = hv->pf_error_code;
}

void hw_vcpu_release_spin(struct kvmmu_hw_vcpu *hv)
{
	atomic_store(&hv->release, true);
}

u64 hw_vcpu_progress(struct kvmmu_hw_vcpu *hv)
{
	return hv->prog.list ? __atomic_load_n(&hv->pc, __ATOMIC_RELAXED) : atomic_load(&hv->pass);
}

void hw_vcpu_pass_position(struct kvmmu_hw_vcpu *hv, u64 *done, u64 *pages)
{
	/* A list program has no pages (npages 0). */
	*pages = __atomic_load_n(&hv->npages, __ATOMIC_RELAXED);
	*done = *pages ? __atomic_load_n(&hv->pc, __ATOMIC_RELAXED) : 0;
}

bool hw_vcpu_done(struct kvmmu_hw_vcpu *hv)
{
	/* L1 still to run (to launch L2, or to handle its last VMCALL): not yet. */
	if (hv->prog.nested && hv->l1.active)
		return false;
	return atomic_load(&hv->done);
}

void hw_vcpu_get_stats(struct kvmmu_hw_vcpu *hv, struct hw_vcpu_stats *st)
{
	const u64 *src = (const u64 *)(const void *)&hv->st;
	u64 *dst = (u64 *)(void *)st;
	size_t i;

	for (i = 0; i < sizeof(*st) / sizeof(u64); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

static u64 mix(u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* The access the program makes next; false at the end of a pass or program. */
static bool next_access(struct kvmmu_hw_vcpu *hv, struct hw_access *acc)
{
	const struct hw_program *p = &hv->prog;
	u64 pass, page, r;

	if (atomic_load_explicit(&hv->done, memory_order_relaxed))
		return false;
	if (p->list) {
		*acc = p->list[hv->pc];
		return true;
	}
	pass = atomic_load_explicit(&hv->pass, memory_order_relaxed);
	if (p->random || (p->write_percent % 100)) {
		/* A function of (seed, pass, index): a retried access is the same access. */
		r = mix(p->seed ^ mix(pass * 0x9e3779b97f4a7c15ULL + hv->pc));
		page = p->random ? (r >> 8) % hv->npages : hv->pc;
		acc->op = (r % 100) < p->write_percent ? HW_STORE : HW_LOAD;
	} else {
		page = hv->pc;
		acc->op = p->write_percent ? HW_STORE : HW_LOAD;
	}
	acc->size = 8;
	acc->addr = p->base + (page << PAGE_SHIFT);
	acc->value = p->value == HW_VALUE_CONSTANT ? MEMSTRESS_VALUE :
		     ((u64)hv->id << 56) | ((pass & 0xffffff) << 32) | page;
	return true;
}

static void advance(struct kvmmu_hw_vcpu *hv, const struct hw_access *acc)
{
	const struct hw_program *p = &hv->prog;

	if (p->list) {
		if (acc->op == HW_LOAD || acc->op == HW_FETCH)
			p->list[hv->pc].value = acc->value;
		__atomic_store_n(&hv->pc, hv->pc + 1, __ATOMIC_RELAXED);
		if (hv->pc == p->len)
			atomic_store(&hv->done, true);
		return;
	}
	/* Relaxed: hw_vcpu_pass_position() reads it from another thread. */
	__atomic_store_n(&hv->pc, hv->pc + 1, __ATOMIC_RELAXED);
}

/* The end of a memstress pass: the next run starts the next one. */
static void end_pass(struct kvmmu_hw_vcpu *hv)
{
	u64 pass = atomic_load_explicit(&hv->pass, memory_order_relaxed) + 1;

	atomic_store(&hv->pass, pass);
	__atomic_store_n(&hv->pc, 0, __ATOMIC_RELAXED);
	if (hv->prog.passes && pass >= hv->prog.passes)
		atomic_store(&hv->done, true);
}

/* ---- memory ----------------------------------------------------------------------------- */

static u64 mem_load(struct hw_machine *m, u64 pfn, u64 off, u8 size)
{
	void *p;

	if (m->tag_map)
		return atomic_load_explicit(&m->tag_map[pfn], memory_order_relaxed);
	p = m->direct_map + (pfn << PAGE_SHIFT) + off;
	switch (size) {
	case 1:
		return __atomic_load_n((u8 *)p, __ATOMIC_RELAXED);
	case 2:
		return __atomic_load_n((u16 *)p, __ATOMIC_RELAXED);
	case 4:
		return __atomic_load_n((u32 *)p, __ATOMIC_RELAXED);
	default:
		return __atomic_load_n((u64 *)p, __ATOMIC_RELAXED);
	}
}

/* An aligned 8-byte store (or a tag's) as an exchange: returns the word it replaced. */
static u64 mem_xchg(struct hw_machine *m, u64 pfn, u64 off, u64 v)
{
	if (m->tag_map)
		return atomic_exchange_explicit(&m->tag_map[pfn], v, memory_order_relaxed);
	return __atomic_exchange_n((u64 *)(m->direct_map + (pfn << PAGE_SHIFT) + off), v,
				   __ATOMIC_RELAXED);
}

static void mem_store(struct hw_machine *m, u64 pfn, u64 off, u8 size, u64 v)
{
	void *p;

	if (m->tag_map) {
		atomic_store_explicit(&m->tag_map[pfn], v, memory_order_relaxed);
		return;
	}
	p = m->direct_map + (pfn << PAGE_SHIFT) + off;
	switch (size) {
	case 1:
		__atomic_store_n((u8 *)p, (u8)v, __ATOMIC_RELAXED);
		break;
	case 2:
		__atomic_store_n((u16 *)p, (u16)v, __ATOMIC_RELAXED);
		break;
	case 4:
		__atomic_store_n((u32 *)p, (u32)v, __ATOMIC_RELAXED);
		break;
	default:
		__atomic_store_n((u64 *)p, v, __ATOMIC_RELAXED);
	}
}

/* ---- guest paging ------------------------------------------------------------------------ */

enum { ACC_DONE, ACC_EXIT, ACC_GUEST_FAULT };

/* Guest memory for the guest walk: each entry's gpa through the TDP tables. */
struct gmem {
	struct kvmmu_hw_vcpu *hv;
	struct kvmmu_exit *exit;
};

static void *gmem_word(struct gmem *g, u64 gpa, bool write, u64 *pfn_out, struct hw_fill *leaf)
{
	u64 pfn = hw_translate_gpa(g->hv, gpa, write ? HW_ACC_WRITE : HW_ACC_READ, false, g->exit,
				   leaf);

	if (!pfn)
		return NULL;
	if (pfn_out)
		*pfn_out = pfn;
	return g->hv->m->direct_map + (pfn << PAGE_SHIFT) + (gpa & (PAGE_SIZE - 1));
}

static int gmem_read(void *arg, u64 gpa, int size, u64 *val)
{
	void *p = gmem_word(arg, gpa, false, NULL, NULL);

	if (!p)
		return -1;
	/* Acquire: the tables a guest entry links are read after it. */
	*val = size == 4 ? atomic_load_explicit((_Atomic u32 *)p, memory_order_acquire) :
			   atomic_load_explicit((_Atomic u64 *)p, memory_order_acquire);
	return 0;
}

/* A/D in a guest table: a write through the TDP tables, atomic as the CPU's. */
static int gmem_cmpxchg(void *arg, u64 gpa, int size, u64 *old, u64 new_val)
{
	struct gmem *g = arg;
	u64 pfn = 0, off = gpa & (PAGE_SIZE - 1) & ~7ULL;
	struct hw_fill leaf = { 0 };
	void *p = gmem_word(g, gpa, true, &pfn, &leaf);
	bool done;

	if (!p)
		return -1;
	if (size == 4) {
		u32 o = (u32)*old;

		done = atomic_compare_exchange_strong((_Atomic u32 *)p, &o, (u32)new_val);
		*old = o;
	} else {
		done = atomic_compare_exchange_strong((_Atomic u64 *)p, old, new_val);
	}
	if (!done)
		return 1;
	/*
	 * A store of the CPU's to guest memory: observers see the word it left,
	 * and the word before (the exchange changed only the entry's bytes).
	 * L2's gpa is L1's business: they get the leaf SPTE instead.
	 */
	{
		u64 word = mem_load(g->hv->m, pfn, off, 8), shift = (gpa & 7) * 8;
		u64 mask = size == 8 ? ~0ULL : 0xffffffffULL << shift;

		kvmmu_observe(KVMMU_EV_GUEST_STORE, access, .vcpu = g->hv->id, .size = 8,
			      .gpa = g->hv->l2 ? (HW_GFN_UNKNOWN << PAGE_SHIFT) | off :
			      gpa & ~7ULL,
			      .pfn = pfn, .value = word, .rmw = true, .prev_known = true,
			      .prev = (word & ~mask) | ((*old << shift) & mask),
			      .sptep = g->hv->l2 ? leaf.sptep : NULL);
	}
	return 0;
}

static const struct hw_gmem_ops gmem_ops = { .read = gmem_read, .cmpxchg_entry = gmem_cmpxchg };

/*
 * Translate @gva through the guest's page tables (guest_walk.c), each
 * guest table access itself translated through the TDP tables, which may
 * exit.  The combined translation is cached, with the leaf SPTE it came
 * from (@sptep_out).  A #PF leaves CR2 and its error code for the guest;
 * the access is skipped.  L2 walks its own tables the same way, each of
 * its gpas translated through KVM's shadow of L1's EPT.
 */
static int translate_gva(struct kvmmu_hw_vcpu *hv, u64 gva, enum hw_access_kind kind,
			 struct kvmmu_exit *exit, u64 *pfn_out, u64 *gpa_out,
			 const void **sptep_out)
{
	struct hw_tlb_array *a = &hv->tlb[TLB_4K];
	u64 page = gva >> PAGE_SHIFT, flags, pfn;
	struct gmem g = { .hv = hv, .exit = exit };
	struct hw_fill leaf, f;
	struct gw_walk w;
	bool writable;

	if (hw_tlb_lookup(hv, a, page, TLBF_LINEAR, &flags, &pfn)) {
		if (hw_tlb_allows(flags, kind)) {
			const struct hw_tlb_meta *meta = &a->meta[hw_tlb_index(a, page)];

			hw_stat_inc(hv, tlb_hits);
			*pfn_out = pfn;
			*gpa_out = (atomic_load_explicit(&meta->gpa_page, memory_order_relaxed)
				    << PAGE_SHIFT) | (gva & (PAGE_SIZE - 1));
			*sptep_out = (const void *)(uintptr_t)atomic_load_explicit(
				&meta->sptep, memory_order_relaxed);
			return ACC_DONE;
		}
		hw_tlb_drop(hv, a, page, TLBF_LINEAR);
	}
	hw_stat_inc(hv, tlb_misses);

	hw_stat_inc(hv, guest_walks);
	switch (hw_guest_walk(&hv->cpu, hv->m->phys_bits, gva,
			      kind == HW_ACC_WRITE ? GW_WRITE : kind == HW_ACC_EXEC ? GW_FETCH : 0,
			      &gmem_ops, &g, &w)) {
	case GW_EXIT:
		return ACC_EXIT;
	case GW_FAULT:
		hv->cr2 = gva;
		hv->pf_error_code = w.error_code;
		return ACC_GUEST_FAULT;
	case GW_OK:
		break;
	}

	memset(&leaf, 0, sizeof(leaf));
	pfn = hw_translate_gpa(hv, w.gpa, kind, true, exit, &leaf);
	if (!pfn)
		return ACC_EXIT;
	/* A supervisor may write anything with CR0.WP clear. */
	writable = w.writable || (hv->cpu.cpl < 3 && !(hv->cpu.cr0 & X86_CR0_WP));
	/*
	 * SMEP: a supervisor never executes from a user page, however the
	 * entry was filled (a read is allowed there).  The entry keeps no U
	 * bit, so it is filled without X; a CPL or CR4 change flushes it.
	 */
	if (w.user && hv->cpu.cpl < 3 && (hv->cpu.cr4 & X86_CR4_SMEP))
		w.nx = true;
	f = leaf;
	f.page = page;
	f.pfn = pfn;
	f.gpa_page = w.gpa >> PAGE_SHIFT;
	f.flags = TLBF_LINEAR | TLBF_R | (writable ? (leaf.flags & TLBF_W) : 0) |
		  (w.nx ? 0 : (leaf.flags & TLBF_X)) | (kind == HW_ACC_WRITE ? TLBF_D : 0);
	hw_tlb_fill(hv, a, &f);
	*pfn_out = pfn;
	*gpa_out = w.gpa;
	*sptep_out = leaf.sptep;
	return ACC_DONE;
}

/* ---- shadow paging -------------------------------------------------------------------------- */

/*
 * KVM's shadow table, as the shadow walk reaches it: the walk's "gpa" is a
 * host physical address, read and compare-exchanged in the direct map, no
 * TDP translation in between.  Each table frame's state is checked before
 * it is read, as the TDP walker does: a freed table is reported and not
 * read.  A/D are set as the TDP walker sets them in SPTEs, and D in the
 * leaf is reported the same way.
 */
struct smem {
	struct kvmmu_hw_vcpu *hv;
	int depth;  /* entries read since the walk (re)started: the level is root_level - depth */
	bool freed; /* a table frame was not allocated: the walk stopped there */
};

/* The level of the first table a shadow walk reads: a PAE root's PDPTEs are registers. */
static int shadow_top_level(const struct kvmmu_hw_vcpu *hv)
{
	return hv->entry->root_level == 3 ? 2 : hv->entry->root_level;
}

static _Atomic u64 *smem_entry(const struct smem *s, u64 hpa)
{
	return (_Atomic u64 *)(void *)(s->hv->m->direct_map + hpa);
}

static int smem_read(void *arg, u64 hpa, int size, u64 *val)
{
	struct smem *s = arg;
	struct kvmmu_hw_vcpu *hv = s->hv;
	struct hw_machine *m = hv->m;
	u64 table = hpa >> PAGE_SHIFT;
	int level = shadow_top_level(hv) - s->depth++;

	/* 4- and 5-level paging: 8-byte entries only. */
	kvmmu_observe(KVMMU_EV_TABLE_READ, table, .kvm = NULL, .pfn = table,
		      .gfn = HW_GFN_UNKNOWN, .level = (u8)level, .reader = KVMMU_READER_WALKER);
	if (unlikely(m->host->frame_state(m->mm, table) != KVMMU_FRAME_ALLOCATED)) {
		hw_stat_inc(hv, freed_table_reads);
		s->freed = true;
		return -1;
	}
	/* Acquire: a table is complete before the entry linking it is seen. */
	*val = atomic_load_explicit(smem_entry(s, hpa), memory_order_acquire);
	return 0;
}

static int smem_cmpxchg(void *arg, u64 hpa, int size, u64 *old, u64 new_val)
{
	struct smem *s = arg;
	struct kvmmu_hw_vcpu *hv = s->hv;
	_Atomic u64 *p = smem_entry(s, hpa);
	u64 before = *old;

	sched_point(SP_HW_AD_UPDATE, (const void *)p);
	if (!atomic_compare_exchange_strong(p, old, new_val)) {
		/* The entry changed: the walk starts again from the root. */
		s->depth = 0;
		return 1;
	}
	hw_stat_inc(hv, ad_updates);
	/* The walk sets D in the leaf only, the last entry it read. */
	if (new_val & ~before & PT_DIRTY_MASK)
		kvmmu_observe(KVMMU_EV_SPTE_HW_DIRTY, spte, .kvm = NULL, .sptep = (const void *)p,
			      .old_spte = before, .new_spte = new_val, .gfn = HW_GFN_UNKNOWN,
			      .level = (u8)(shadow_top_level(hv) - s->depth + 1));
	return 0;
}

static const struct hw_gmem_ops smem_ops = { .read = smem_read, .cmpxchg_entry = smem_cmpxchg };

/*
 * The CPU the shadow walk runs as: 64-bit paging from KVM's root, CR0.WP
 * and EFER.NXE forced on, the guest's CPL, RFLAGS and PKRU, and CR4's
 * SMEP, SMAP and PKE while the guest pages (KVM clears them in the CR4 it
 * runs an unpaged guest with, where they would do nothing).
 */
static void shadow_cpu(const struct kvmmu_hw_vcpu *hv, struct hw_cpu *c)
{
	const struct kvmmu_entry *e = hv->entry;
	u64 cr4 = X86_CR4_PAE | (e->root_level == 5 ? X86_CR4_LA57 : 0);

	if (hv->cpu.cr0 & X86_CR0_PG)
		cr4 |= hv->cpu.cr4 & (X86_CR4_SMEP | X86_CR4_SMAP | X86_CR4_PKE);
	*c = (struct hw_cpu){
		.cr0 = X86_CR0_PG | CR0_PE | X86_CR0_WP,
		.cr3 = e->root_pfn << PAGE_SHIFT,
		.cr4 = cr4,
		/* Root level 3: PAE paging from the PDPTEs loaded at entry. */
		.efer = (e->root_level == 3 ? 0 : EFER_LME | EFER_LMA) | EFER_NX,
		.rflags = hv->cpu.rflags,
		.pkru = hv->cpu.pkru,
		.cpl = hv->cpu.cpl,
	};
	if (e->root_level == 3)
		memcpy(c->pdptr, hv->shadow_pdptr, sizeof(c->pdptr));
}

static unsigned int gw_access(enum hw_access_kind kind)
{
	return kind == HW_ACC_WRITE ? GW_WRITE : kind == HW_ACC_EXEC ? GW_FETCH : 0;
}

/*
 * An access exited to KVM: say what it was, as the exit's instruction
 * (KVM emulates a store to a table it write-protects: L1's EPT tables
 * under nested EPT).  Returns ACC_EXIT.
 */
static int exit_insn(const struct hw_access *acc, u8 size, struct kvmmu_exit *exit)
{
	exit->insn = (struct kvmmu_insn){
		.op = acc->op == HW_STORE ? KVMMU_INSN_STORE :
		      acc->op == HW_STOS ? KVMMU_INSN_STOS :
		      acc->op == HW_FETCH ? KVMMU_INSN_FETCH : KVMMU_INSN_LOAD,
		.size = size,
		.value = acc->op != HW_STORE && acc->op != HW_STOS ? 0 :
			 size == 8 ? acc->value : acc->value & (BIT_ULL(8 * size) - 1),
	};
	return ACC_EXIT;
}

/* A #PF exits to KVM, which intercepts them all: the access runs again unless KVM skips it. */
static void page_fault_exit(struct kvmmu_hw_vcpu *hv, const struct hw_access *acc, u8 size,
			    u64 error_code, struct kvmmu_exit *exit)
{
	exit->reason = KVMMU_EXIT_PAGE_FAULT;
	exit->gva = acc->addr;
	exit->gpa = 0;
	exit->error_code = error_code;
	exit->exit_qualification = 0;
	exit_insn(acc, size, exit);
	hw_stat_inc(hv, exits_page_fault);
}

/*
 * Is the shadow entry that @page's lookup found @page's own?  The key holds
 * 40 bits of the page number; 5-level gvas have 45.
 */
static bool shadow_entry_is(const struct hw_tlb_array *a, u64 page)
{
	return atomic_load_explicit(&a->meta[hw_tlb_index(a, page)].gpa_page,
				    memory_order_relaxed) == page;
}

/*
 * Translate the linear address of @acc through KVM's shadow table: the TLB
 * (a hit judged against the CPU state of the moment), else the walk, whose
 * result is cached by gva, 4K at a time.  Returns ACC_DONE with the pfn,
 * or ACC_EXIT after a #PF exit.  The entry's npt and ad_enabled do not
 * matter here (the format is 64-bit paging's, whose A/D the CPU always
 * sets), nor does PML, which needs EPT.
 */
static int translate_shadow(struct kvmmu_hw_vcpu *hv, const struct hw_access *acc,
			    enum hw_access_kind kind, u8 size, struct kvmmu_exit *exit,
			    u64 *pfn_out, const void **sptep_out)
{
	struct hw_tlb_array *a = &hv->tlb[TLB_4K];
	unsigned int access = gw_access(kind);
	u64 page = acc->addr >> PAGE_SHIFT, flags, pfn;
	struct smem s = { .hv = hv };
	struct hw_cpu cpu;
	struct hw_fill f;
	struct gw_walk w;
	enum gw_result r;
	int i;

	shadow_cpu(hv, &cpu);
	if (hw_tlb_lookup(hv, a, page, TLBF_SHADOW_SPACE, &flags, &pfn) &&
	    shadow_entry_is(a, page)) {
		const struct hw_tlb_meta *meta = &a->meta[hw_tlb_index(a, page)];
		u64 leaf = atomic_load_explicit(&meta->spte, memory_order_relaxed);

		if (hw_tlb_allows(flags, kind) &&
		    !hw_guest_access_fault(&cpu, access, flags & TLBF_U, flags & TLBF_W,
					   !(flags & TLBF_X), leaf)) {
			hw_stat_inc(hv, tlb_hits);
			*pfn_out = pfn;
			*sptep_out = (const void *)(uintptr_t)atomic_load_explicit(
				&meta->sptep, memory_order_relaxed);
			return ACC_DONE;
		}
		/* Not allowed now: walk, for D or for the fault the tables say. */
		hw_tlb_drop(hv, a, page, TLBF_SHADOW_SPACE);
	}
	hw_stat_inc(hv, tlb_misses);

	hw_stat_inc(hv, walks);
	rcu_read_lock();
	r = hw_guest_walk(&cpu, hv->m->phys_bits, acc->addr, access, &smem_ops, &s, &w);
	rcu_read_unlock();
	if (r == GW_EXIT) {
		/* A freed table: nothing sane to read, as if not present. */
		WARN_ON_ONCE(!s.freed);
		page_fault_exit(hv, acc, size,
				(kind == HW_ACC_WRITE ? PFERR_WRITE_MASK : 0) |
				(cpu.cpl == 3 ? PFERR_USER_MASK : 0) |
				(kind == HW_ACC_EXEC ? PFERR_FETCH_MASK : 0), exit);
		return ACC_EXIT;
	}
	if (r == GW_FAULT) {
		page_fault_exit(hv, acc, size, w.error_code, exit);
		return ACC_EXIT;
	}

	/*
	 * Cached by gva, whatever the leaf's size: the 4K page of the leaf's
	 * frame.  The gfn is unknown: the record keeps the whole gva page
	 * instead (hw_internal.h).  The tables are the shadow walk's.
	 */
	memset(&f, 0, sizeof(f));
	f.page = page;
	f.pfn = w.gpa >> PAGE_SHIFT;
	f.flags = TLBF_SHADOW_SPACE | TLBF_R | (w.writable ? TLBF_W : 0) | (w.nx ? 0 : TLBF_X) |
		  (w.user ? TLBF_U : 0) | (w.dirty ? TLBF_D : 0);
	f.sptep = (const void *)smem_entry(&s, w.pte_gpa[w.levels - 1]);
	f.spte = w.pte[w.levels - 1] | PT_ACCESSED_MASK |
		 (kind == HW_ACC_WRITE ? PT_DIRTY_MASK : 0);
	f.gpa_page = page;
	for (i = 0; i < w.levels; i++)
		f.tables[shadow_top_level(hv) - 1 - i] = w.pte_gpa[i] >> PAGE_SHIFT;
	if (w.level > PG_LEVEL_4K)
		hv->had_shadow_huge = true;
	hw_tlb_fill(hv, a, &f);
	*pfn_out = f.pfn;
	*sptep_out = f.sptep;
	return ACC_DONE;
}

/* An instruction KVM intercepts under shadow paging: exit without executing it. */
static int intercept(struct kvmmu_hw_vcpu *hv, struct kvmmu_exit *exit,
		     enum kvmmu_exit_reason reason, u32 cr, u64 value, u64 gva)
{
	exit->reason = reason;
	exit->gpa = 0;
	exit->error_code = 0;
	exit->exit_qualification = 0;
	exit->cr = cr;
	exit->value = value;
	exit->gva = gva;
	if (reason == KVMMU_EXIT_INVLPG)
		hw_stat_inc(hv, exits_invlpg);
	else
		hw_stat_inc(hv, exits_cr_access);
	return ACC_EXIT;
}

/* ---- the guest kernel's instructions -------------------------------------------------------- */

/*
 * MOV to CR3 (or a paging-mode change) under PAE reads the four PDPTEs
 * through the TDP tables: 0, -EINVAL (a reserved bit: #GP), or -1 when
 * the read exited, and the instruction runs again after the exit.
 */
static int load_pdptrs(struct kvmmu_hw_vcpu *hv, struct hw_cpu *cpu, struct kvmmu_exit *exit)
{
	struct gmem g = { .hv = hv, .exit = exit };

	return hw_load_pdptrs(cpu, hv->m->phys_bits, &gmem_ops, &g);
}

/* Drop every linear (gva) translation, as a CR3 load or a paging-mode change does. */
static void flush_linear(struct kvmmu_hw_vcpu *hv)
{
	struct hw_tlb_array *a = &hv->tlb[TLB_4K];
	u64 i, flags, pfn;

	if (!atomic_load_explicit(&hv->had_linear, memory_order_relaxed))
		return;
	for (i = 0; i <= a->mask; i++) {
		u64 key = atomic_load_explicit(&a->slot[i].key, memory_order_relaxed);

		if ((key & TLBF_LINEAR) &&
		    hw_tlb_lookup(hv, a, key >> TLB_PAGE_SHIFT, TLBF_LINEAR, &flags, &pfn))
			hw_tlb_drop(hv, a, key >> TLB_PAGE_SHIFT, TLBF_LINEAR);
	}
}

/*
 * Tell the observers what a paging instruction that passed its #GP checks
 * does to the guest's TLB, with the registers it leaves (@cpu): what the
 * architecture guarantees, not what this CPU happens to flush.
 */
static void guest_flush_event(struct kvmmu_hw_vcpu *hv, const struct hw_access *acc,
			      const struct hw_cpu *cpu)
{
	u8 kind = KVMMU_GUEST_FLUSH_NONE;

	switch (acc->op) {
	case HW_INVLPG:
		kind = KVMMU_GUEST_FLUSH_ADDR;
		break;
	case HW_MOV_CR3:
	case HW_FLUSH_TLB:
		kind = KVMMU_GUEST_FLUSH_ALL;
		break;
	case HW_MOV_CR0:
		if ((cpu->cr0 ^ hv->cpu.cr0) & X86_CR0_PG)
			kind = KVMMU_GUEST_FLUSH_ALL;
		break;
	case HW_MOV_CR4:
		if (((cpu->cr4 ^ hv->cpu.cr4) & (X86_CR4_PGE | X86_CR4_PAE)) ||
		    (cpu->cr4 & ~hv->cpu.cr4 & X86_CR4_SMEP))
			kind = KVMMU_GUEST_FLUSH_ALL;
		break;
	case HW_WRMSR_EFER:
		break;
	default:
		return;
	}
	kvmmu_observe(KVMMU_EV_GUEST_FLUSH, guest_flush, .vcpu = hv->id, .kind = kind,
		      .gva = acc->addr, .cr0 = cpu->cr0, .cr3 = cpu->cr3, .cr4 = cpu->cr4,
		      .efer = cpu->efer);
}

/*
 * Execute a control instruction.  Illegal writes take #GP and change
 * nothing.  Linear translations are flushed whenever what they were
 * computed from changes (a CPU may always flush more than it must): the
 * CR3 load, PG, WP, the paging-mode and permission bits of CR4, EFER.NXE,
 * the CPL, RFLAGS.AC and PKRU.
 *
 * Under shadow paging, the control-register and EFER writes that pass the
 * #GP checks, INVLPG and HW_FLUSH_TLB exit to KVM without executing (KVM
 * loads a PAE CR3's PDPTEs itself); the CPL, AC and PKRU change here and
 * flush nothing, since shadow TLB hits are judged against them.
 */
static int cpu_op(struct kvmmu_hw_vcpu *hv, const struct hw_access *acc,
		  struct kvmmu_exit *exit)
{
	struct hw_cpu cpu = hv->cpu;
	u64 v = acc->value;
	bool flush = true;
	int r = 0;

	if (hv->shadow && (acc->op == HW_INVLPG || acc->op == HW_FLUSH_TLB)) {
		guest_flush_event(hv, acc, &hv->cpu);
		if (acc->op == HW_INVLPG)
			return intercept(hv, exit, KVMMU_EXIT_INVLPG, 0, 0, acc->addr);
		/* A full flush of the guest's TLB is a MOV to CR3 of CR3. */
		return intercept(hv, exit, KVMMU_EXIT_CR_ACCESS, 3, hv->cpu.cr3, 0);
	}
	switch (acc->op) {
	case HW_MOV_CR0:
		cpu.cr0 = v;
		if ((v & X86_CR0_PG) && (cpu.efer & EFER_LME)) {
			if (!(cpu.cr4 & X86_CR4_PAE))
				goto gp;
			cpu.efer |= EFER_LMA;
		} else if (!(v & X86_CR0_PG)) {
			cpu.efer &= ~EFER_LMA;
		}
		if (!hv->shadow && hw_paging_mode(&cpu) == 3 && !(hv->cpu.cr0 & X86_CR0_PG))
			r = load_pdptrs(hv, &cpu, exit);
		flush = (v ^ hv->cpu.cr0) & (X86_CR0_PG | X86_CR0_WP);
		break;
	case HW_MOV_CR3:
		cpu.cr3 = v;
		if (!hv->shadow && hw_paging_mode(&cpu) == 3)
			r = load_pdptrs(hv, &cpu, exit);
		break;
	case HW_MOV_CR4:
		/* Long mode needs PAE, and LA57 changes only outside it. */
		if ((cpu.efer & EFER_LMA) &&
		    (!(v & X86_CR4_PAE) || ((v ^ cpu.cr4) & X86_CR4_LA57)))
			goto gp;
		/* Without PKU in the guest's CPUID, PKE is reserved. */
		if ((v & X86_CR4_PKE) && hv->entry->no_pku)
			goto gp;
		cpu.cr4 = v;
		if (!hv->shadow && hw_paging_mode(&cpu) == 3 && ((v ^ hv->cpu.cr4) & X86_CR4_PAE))
			r = load_pdptrs(hv, &cpu, exit);
		break;
	case HW_WRMSR_EFER:
		/* LME changes only with paging off; LMA is the CPU's. */
		if ((cpu.cr0 & X86_CR0_PG) && ((v ^ cpu.efer) & EFER_LME))
			goto gp;
		cpu.efer = (v & ~EFER_LMA) | (cpu.efer & EFER_LMA);
		break;
	case HW_INVLPG:
		hw_tlb_drop(hv, &hv->tlb[TLB_4K], acc->addr >> PAGE_SHIFT, TLBF_LINEAR);
		flush = false;
		break;
	case HW_FLUSH_TLB:
		break;
	case HW_SET_CPL:
		if (v != 0 && v != 3)
			goto gp;
		cpu.cpl = (u8)v;
		break;
	case HW_SET_AC:
		cpu.rflags = v ? (cpu.rflags | X86_EFLAGS_AC) : (cpu.rflags & ~X86_EFLAGS_AC);
		break;
	case HW_WRPKRU:
		cpu.pkru = (u32)v;
		break;
	}
	if (r == -1)
		return ACC_EXIT;
	if (r)
		goto gp;
	guest_flush_event(hv, acc, &cpu);
	if (hv->shadow) {
		switch (acc->op) {
		case HW_MOV_CR0:
			return intercept(hv, exit, KVMMU_EXIT_CR_ACCESS, 0, v, 0);
		case HW_MOV_CR3:
			return intercept(hv, exit, KVMMU_EXIT_CR_ACCESS, 3, v, 0);
		case HW_MOV_CR4:
			return intercept(hv, exit, KVMMU_EXIT_CR_ACCESS, 4, v, 0);
		case HW_WRMSR_EFER:
			return intercept(hv, exit, KVMMU_EXIT_CR_ACCESS, KVMMU_CR_EFER, v, 0);
		default:
			hv->cpu = cpu;
			return ACC_DONE;
		}
	}
	hv->cpu = cpu;
	if (flush)
		flush_linear(hv);
	return ACC_DONE;
gp:
	hw_stat_inc(hv, guest_gps);
	return ACC_DONE;
}

/* ---- running ------------------------------------------------------------------------------ */

static enum hw_access_kind access_kind(u8 op)
{
	return op == HW_STORE || op == HW_STOS ? HW_ACC_WRITE :
	       op == HW_FETCH ? HW_ACC_EXEC : HW_ACC_READ;
}

/* Do one access; returns ACC_DONE, ACC_EXIT or ACC_GUEST_FAULT. */
static int do_access(struct kvmmu_hw_vcpu *hv, struct hw_access *acc, struct kvmmu_exit *exit)
{
	struct hw_machine *m = hv->m;
	enum hw_access_kind kind = access_kind(acc->op);
	u8 size = acc->size ? acc->size : 8;
	u64 pfn, flags, off, gpa = acc->addr, prev = 0, since = 0;
	const void *sptep = NULL;
	bool prev_known = false;
	int r = ACC_DONE;

	/*
	 * With guest paging the address is a gva; the observers hear the gpa.
	 * Under shadow paging it is always linear: with the guest's paging
	 * off it is the gpa; with it on the gpa is unknown, and the observers
	 * hear the gva and the leaf SPTE instead.
	 */
	if (unlikely(hv->shadow)) {
		r = translate_shadow(hv, acc, kind, size, exit, &pfn, &sptep);
		if (r != ACC_DONE)
			return r;
		if (hv->cpu.cr0 & X86_CR0_PG)
			gpa = (HW_GFN_UNKNOWN << PAGE_SHIFT) | (acc->addr & (PAGE_SIZE - 1));
	} else if (hw_paging_mode(&hv->cpu) && !hv->l1.active) {
		/* The guest's own paging (L2's, nested: L1 runs unpaged). */
		r = translate_gva(hv, acc->addr, kind, exit, &pfn, &gpa, &sptep);
		if (r != ACC_DONE)
			return r == ACC_EXIT ? exit_insn(acc, size, exit) : r;
		/* L2's gpa is L1's business: the observers get the leaf SPTE. */
		if (hv->l2)
			gpa = (HW_GFN_UNKNOWN << PAGE_SHIFT) | (acc->addr & (PAGE_SIZE - 1));
		else
			sptep = NULL;
	} else if (unlikely(hv->l2)) {
		/* L2's gpa is L1's business: the observers get the leaf SPTE. */
		struct hw_fill leaf = { 0 };

		pfn = hw_translate_gpa(hv, acc->addr, kind, true, exit, &leaf);
		if (!pfn)
			return exit_insn(acc, size, exit);
		sptep = leaf.sptep;
		gpa = (HW_GFN_UNKNOWN << PAGE_SHIFT) | (acc->addr & (PAGE_SIZE - 1));
	} else if (!hw_tlb_lookup(hv, &hv->tlb[TLB_4K], acc->addr >> PAGE_SHIFT, 0, &flags,
				  &pfn) ||
		   !hw_tlb_allows(flags, kind)) {
		pfn = hw_translate_gpa(hv, acc->addr, kind, true, exit, NULL);
		if (!pfn)
			return exit_insn(acc, size, exit);
	} else {
		hw_stat_inc(hv, tlb_hits);
	}

	off = acc->addr & (PAGE_SIZE - 1);
	switch (acc->op) {
	case HW_STORE:
	case HW_STOS:
		/*
		 * Observed, a whole word (or a tag) is stored as an exchange: the
		 * observers hear the word it replaced, which a load racing with
		 * it may return.
		 */
		if ((m->tag_map || (size == 8 && !(off & 7))) &&
		    kvmmu_observing(KVMMU_EV_GUEST_STORE)) {
			prev = mem_xchg(m, pfn, off, acc->value);
			prev_known = true;
		} else {
			mem_store(m, pfn, off, size, acc->value);
		}
		hw_stat_inc(hv, stores);
		kvmmu_observe(KVMMU_EV_GUEST_STORE, access, .vcpu = hv->id, .size = size,
			      .gpa = gpa, .pfn = pfn, .value = acc->value,
			      .gva = acc->addr, .sptep = sptep, .l2 = hv->l2,
			      .prev_known = prev_known, .prev = prev);
		break;
	case HW_FETCH:
		/* Stores numbered from here on may land after the load: the observers must know. */
		if (kvmmu_observing(KVMMU_EV_GUEST_LOAD))
			since = kvmmu_observe_index();
		acc->value = mem_load(m, pfn, off, size);
		hw_stat_inc(hv, fetches);
		kvmmu_observe(KVMMU_EV_GUEST_LOAD, access, .vcpu = hv->id, .size = size,
			      .gpa = gpa, .pfn = pfn, .value = acc->value,
			      .gva = acc->addr, .sptep = sptep, .fetch = true, .l2 = hv->l2,
			      .since = since);
		break;
	default:
		if (kvmmu_observing(KVMMU_EV_GUEST_LOAD))
			since = kvmmu_observe_index();
		acc->value = mem_load(m, pfn, off, size);
		hw_stat_inc(hv, loads);
		kvmmu_observe(KVMMU_EV_GUEST_LOAD, access, .vcpu = hv->id, .size = size,
			      .gpa = gpa, .pfn = pfn, .value = acc->value,
			      .gva = acc->addr, .sptep = sptep, .l2 = hv->l2, .since = since);
		break;
	}
	return r;
}

static bool kicked(const struct kvmmu_entry *entry)
{
	return atomic_load_explicit(entry->kick_req, memory_order_acquire) !=
	       atomic_load_explicit(entry->kick_ack, memory_order_relaxed);
}

/*
 * The end of a memstress pass.  Run as L2 with unmap_each_pass, the pass
 * first asks L1 to unmap its region (a VMCALL exit); once L1 has, the
 * pass ends as any does: memstress's GUEST_SYNC, an exit to userspace.
 */
static void pass_done(struct kvmmu_hw_vcpu *hv, struct kvmmu_exit *exit)
{
	if (hv->prog.unmap_each_pass && !hv->l1.region_unmapped) {
		exit->reason = KVMMU_EXIT_VMCALL;
		exit->value = HW_HC_UNMAP_REGION;
		exit->gpa = hv->prog.base;
		return;
	}
	hv->l1.region_unmapped = false;
	end_pass(hv);
	exit->reason = KVMMU_EXIT_HLT;
	hw_stat_inc(hv, exits_hlt);
}

/* L1 runs its handler: stores to its tables, INVEPT, VMRESUME; each may exit. */
static int run_l1(struct kvmmu_hw_vcpu *hv, const struct kvmmu_entry *entry,
		  struct kvmmu_exit *exit)
{
	struct hw_access acc;

	hw_tlb_set_root(hv, entry->root_pfn);
	for (;;) {
		if (kicked(entry)) {
			exit->reason = KVMMU_EXIT_INTR;
			hw_stat_inc(hv, exits_intr);
			break;
		}
		if (WARN_ON_ONCE(!hw_l1_next(hv, &acc))) {
			exit->reason = KVMMU_EXIT_HLT;
			break;
		}
		if (acc.op == HW_VMRESUME) {
			exit->reason = KVMMU_EXIT_VMLAUNCH;
			exit->value = acc.value;
			break;
		}
		if (acc.op == HW_INVEPT) {
			exit->reason = KVMMU_EXIT_INVEPT;
			exit->type = (u32)acc.addr;
			exit->value = acc.value;
			break;
		}
		if (do_access(hv, &acc, exit) == ACC_EXIT)
			break;
		hw_l1_advance(hv, acc.value);
	}
	hv->entry = NULL;
	return 0;
}

static int hw_run(struct kvmmu_hw_vcpu *hv, const struct kvmmu_entry *entry,
		  struct kvmmu_exit *exit)
{
	/*
	 * KVM and the CPU agree on who runs: L1 until it resumes L2, L2
	 * until an exit L1 handles.  A program loaded against the vCPU's
	 * nested state (KVM's) cannot run.
	 */
	if (entry->guest_mode != (hv->prog.nested && !hv->l1.active))
		return -EINVAL;
	hv->entry = entry;
	hv->shadow = entry->shadow_paging;
	hv->l2 = entry->guest_mode;
	if (hv->l1.active)
		return run_l1(hv, entry, exit);
	/*
	 * A PAE shadow root (KVM's pae_root, for an unpaged or PAE guest):
	 * the CPU loads its four PDPTEs at entry, as a CR3 load in PAE mode
	 * does, and walks from them until the next entry.
	 */
	if (entry->shadow_paging && entry->root_level == 3) {
		int i;

		for (i = 0; i < 4; i++)
			hv->shadow_pdptr[i] = atomic_load_explicit(
				(_Atomic u64 *)(void *)(hv->m->direct_map +
							(entry->root_pfn << PAGE_SHIFT)) + i,
				memory_order_acquire);
	}
	hw_tlb_set_root(hv, entry->root_pfn);
	/*
	 * A program that started under PAE paging loads its PDPTEs now (KVM
	 * did it under shadow paging, from its own view of guest memory).  A
	 * read that exits is done again at the next entry; a reserved bit
	 * leaves the PDPTEs not present.
	 */
	if (hv->pdptrs_pending) {
		if (!hv->shadow && hw_paging_mode(&hv->cpu) == 3) {
			if (load_pdptrs(hv, &hv->cpu, exit) == -1) {
				hv->entry = NULL;
				return 0;
			}
		}
		hv->pdptrs_pending = false;
	}
	for (;;) {
		struct hw_access acc;
		int r;

		/* An interrupt is taken between two accesses. */
		if (kicked(entry)) {
			exit->reason = KVMMU_EXIT_INTR;
			hw_stat_inc(hv, exits_intr);
			break;
		}
		/* Back from L1's handling of the pass's closing VMCALL. */
		if (!hv->prog.list && hv->pc == hv->npages) {
			pass_done(hv, exit);
			break;
		}
		if (!next_access(hv, &acc)) {
			exit->reason = KVMMU_EXIT_HLT;
			hw_stat_inc(hv, exits_hlt);
			break;
		}
		if (acc.op == HW_VMCALL) {
			/* Only L2 has one (load_program): L1 handles it. */
			exit->reason = KVMMU_EXIT_VMCALL;
			exit->value = acc.value;
			exit->gpa = acc.addr;
			break;
		}
		if (acc.op > HW_SPIN) {
			/* An exit (a PDPTE read faulted) runs the instruction again. */
			if (cpu_op(hv, &acc, exit) == ACC_EXIT)
				break;
			advance(hv, &acc);
			continue;
		}
		if (acc.op == HW_SPIN) {
			if (atomic_exchange(&hv->release, false)) {
				advance(hv, &acc);
				continue;
			}
			cpu_relax();
			continue;
		}
		r = do_access(hv, &acc, exit);
		if (r == ACC_EXIT)
			break;
		if (r == ACC_GUEST_FAULT)
			hw_stat_inc(hv, guest_faults);
		advance(hv, &acc);
		if (!hv->prog.list && hv->pc == hv->npages) {
			/* memstress's GUEST_SYNC: one pass done, tell userspace. */
			pass_done(hv, exit);
			break;
		}
	}
	hv->entry = NULL;
	return 0;
}

static void hw_flush_tlb_all(struct kvmmu_hw_vcpu *hv)
{
	hw_stat_inc(hv, flushes_all);
	hw_tlb_flush_all(hv);
}

static void hw_flush_tlb_current(struct kvmmu_hw_vcpu *hv, u64 root_pfn)
{
	int c;

	hw_stat_inc(hv, flushes_current);
	for (c = 0; c < HW_MAX_CTX; c++) {
		if (atomic_load_explicit(&hv->ctx_root[c], memory_order_relaxed) == root_pfn) {
			hw_tlb_flush_ctx(hv, c);
			return;
		}
	}
}

/*
 * Go on after the access or instruction that exited.  A control
 * instruction's operand is not written back, so it needs nothing more.
 */
static void hw_skip_instruction(struct kvmmu_hw_vcpu *hv)
{
	struct hw_access acc;

	/* Emulated: a load from MMIO reads zeroes. */
	if (hv->l1.active) {
		hw_l1_advance(hv, 0);
		return;
	}
	if (!next_access(hv, &acc))
		return;
	/* Emulated: a load from MMIO reads zeroes; a store goes nowhere. */
	acc.value = 0;
	advance(hv, &acc);
	if (!hv->prog.list && hv->pc == hv->npages && !hv->prog.unmap_each_pass)
		end_pass(hv);
}

static void hw_get_regs(struct kvmmu_hw_vcpu *hv, struct kvmmu_guest_regs *regs)
{
	const struct hw_cpu *c = &hv->cpu;
	int i;

	*regs = (struct kvmmu_guest_regs){
		/* A program's access i is the instruction at HW_TEXT_BASE + 16 * i. */
		.rip = HW_TEXT_BASE + hv->pc * 16,
		.cr0 = c->cr0, .cr3 = c->cr3, .cr4 = c->cr4, .efer = c->efer,
		.rflags = c->rflags, .pkru = c->pkru, .cpl = c->cpl,
	};
	for (i = 0; i < 4; i++)
		regs->pdptrs[i] = c->pdptr[i];
}

/* VMWRITEs: nothing is flushed (KVM flushes what its emulation needs). */
static void hw_set_regs(struct kvmmu_hw_vcpu *hv, const struct kvmmu_guest_regs *regs)
{
	struct hw_cpu *c = &hv->cpu;
	int i;

	c->cr0 = regs->cr0;
	c->cr3 = regs->cr3;
	c->cr4 = regs->cr4;
	c->efer = regs->efer;
	c->rflags = regs->rflags;
	c->pkru = regs->pkru;
	c->cpl = regs->cpl;
	for (i = 0; i < 4; i++)
		c->pdptr[i] = regs->pdptrs[i];
}

/*
 * The guest takes the #PF: its handler runs, and the access that exited
 * is skipped, as a guest #PF under TDP is (guest_faults, CR2, the code).
 */
static void hw_inject_page_fault(struct kvmmu_hw_vcpu *hv, u64 gva, u64 error_code)
{
	struct hw_access acc;

	hv->cr2 = gva;
	hv->pf_error_code = error_code;
	hw_stat_inc(hv, guest_faults);
	if (!next_access(hv, &acc))
		return;
	advance(hv, &acc);
	if (!hv->prog.list && hv->pc == hv->npages)
		end_pass(hv);
}

/* The leaf level of a shadow entry: its walk read no table below the leaf's. */
static int shadow_leaf_level(const struct hw_tlb_meta *meta)
{
	int t;

	for (t = 0; t < 5; t++)
		if (atomic_load_explicit(&meta->tables[t], memory_order_relaxed))
			return t + 1;
	return PG_LEVEL_4K;
}

/*
 * INVLPG's flush, in the current context: the gva's entry, and, since a
 * 2M or 1G translation is cached 4K at a time, every entry of the large
 * page the gva is in.
 */
static void hw_flush_tlb_gva(struct kvmmu_hw_vcpu *hv, u64 gva)
{
	struct hw_tlb_array *a = &hv->tlb[TLB_4K];
	u64 page = gva >> PAGE_SHIFT, i;

	hw_stat_inc(hv, flushes_gva);
	if (shadow_entry_is(a, page))
		hw_tlb_drop(hv, a, page, TLBF_SHADOW_SPACE);
	if (!hv->had_shadow_huge)
		return;
	for (i = 0; i <= a->mask; i++) {
		u64 key = atomic_load_explicit(&a->slot[i].key, memory_order_relaxed);
		u64 other;
		int level;

		if ((key & TLBF_SHADOW_SPACE) != TLBF_SHADOW_SPACE)
			continue;
		other = atomic_load_explicit(&a->meta[i].gpa_page, memory_order_relaxed);
		level = shadow_leaf_level(&a->meta[i]);
		if (level > PG_LEVEL_4K && !((other ^ page) >> (9 * (level - 1))))
			hw_tlb_drop(hv, a, other, TLBF_SHADOW_SPACE);
	}
}

const struct kvmmu_hw_ops hw_ops = {
	.vcpu_create = hw_vcpu_create,
	.vcpu_destroy = hw_vcpu_destroy,
	.run = hw_run,
	.flush_tlb_all = hw_flush_tlb_all,
	.flush_tlb_current = hw_flush_tlb_current,
	.skip_instruction = hw_skip_instruction,
	.get_regs = hw_get_regs,
	.set_regs = hw_set_regs,
	.inject_page_fault = hw_inject_page_fault,
	.flush_tlb_gva = hw_flush_tlb_gva,
	.nested_vmexit = hw_nested_vmexit,
};
