// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulated CPU: the hardware ops KVM's run loop calls, and the
 * execution of guest programs (lists of accesses, memstress passes), with
 * guest paging walked two-dimensionally.
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

/* Guest page-table entry bits (x86-64 paging). */
#define GPTE_P BIT_ULL(0)
#define GPTE_W BIT_ULL(1)
#define GPTE_A BIT_ULL(5)
#define GPTE_D BIT_ULL(6)
#define GPTE_PS BIT_ULL(7)
#define GPTE_NX BIT_ULL(63)

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
	hv = calloc(1, sizeof(*hv));
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
	u64 i;

	if (p->list) {
		for (i = 0; i < p->len; i++) {
			u8 size = p->list[i].size ? p->list[i].size : 8;

			if (p->list[i].op > HW_SPIN || !is_power_of_2(size) || size > 8 ||
			    (p->list[i].addr & (size - 1)))
				return -EINVAL;
		}
	} else if (!p->size || (p->size & (PAGE_SIZE - 1)) || (p->base & (PAGE_SIZE - 1)) ||
		   p->write_percent > 100) {
		return -EINVAL;
	}
	/* Guest page tables live in bytes: not in tag mode. */
	if (p->paging && (hv->m->tag_map || (p->cr3 & (PAGE_SIZE - 1))))
		return -EINVAL;
	hv->prog = *p;
	hv->npages = p->list ? 0 : p->size >> PAGE_SHIFT;
	hv->pc = 0;
	atomic_store(&hv->pass, 0);
	atomic_store(&hv->release, false);
	atomic_store(&hv->done, p->list ? p->len == 0 : false);
	return 0;
}

void hw_vcpu_release_spin(struct kvmmu_hw_vcpu *hv)
{
	atomic_store(&hv->release, true);
}

u64 hw_vcpu_progress(struct kvmmu_hw_vcpu *hv)
{
	return hv->prog.list ? __atomic_load_n(&hv->pc, __ATOMIC_RELAXED) : atomic_load(&hv->pass);
}

bool hw_vcpu_done(struct kvmmu_hw_vcpu *hv)
{
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
	hv->pc++;
}

/* The end of a memstress pass: the next run starts the next one. */
static void end_pass(struct kvmmu_hw_vcpu *hv)
{
	u64 pass = atomic_load_explicit(&hv->pass, memory_order_relaxed) + 1;

	atomic_store(&hv->pass, pass);
	hv->pc = 0;
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

/*
 * Translate @gva through the guest's page tables.  Each guest table entry
 * is read, and its A/D bits set, through the TDP translation of its gpa,
 * which may itself exit.  The combined translation is cached.
 */
static int translate_gva(struct kvmmu_hw_vcpu *hv, u64 gva, enum hw_access_kind kind,
			 struct kvmmu_exit *exit, u64 *pfn_out)
{
	struct hw_machine *m = hv->m;
	struct hw_tlb_array *a = &hv->tlb[TLB_4K];
	u64 page = gva >> PAGE_SHIFT, flags, pfn;
	struct hw_fill leaf, f;
	int tries;

	if (hw_tlb_lookup(hv, a, page, TLBF_LINEAR, &flags, &pfn)) {
		if (hw_tlb_allows(flags, kind)) {
			hw_stat_inc(hv, tlb_hits);
			*pfn_out = pfn;
			return ACC_DONE;
		}
		hw_tlb_drop(hv, a, page, TLBF_LINEAR);
	}
	hw_stat_inc(hv, tlb_misses);

	for (tries = 0; tries < 100; tries++) {
		u64 table = hv->prog.cr3 >> PAGE_SHIFT << PAGE_SHIFT, gpa = 0;
		bool w = true, nx = false, restart = false;
		int level;

		hw_stat_inc(hv, guest_walks);
		for (level = 4; level >= 1; level--) {
			u64 pte_gpa = table + PT64_INDEX(gva, level) * 8;
			u64 ppfn, pte, want;
			bool leaf_here;
			_Atomic u64 *word;

			ppfn = hw_translate_gpa(hv, pte_gpa, HW_ACC_READ, false, exit, NULL);
			if (!ppfn)
				return ACC_EXIT;
			word = (_Atomic u64 *)(void *)(m->direct_map + (ppfn << PAGE_SHIFT) +
						       (pte_gpa & (PAGE_SIZE - 1)));
			pte = atomic_load_explicit(word, memory_order_acquire);
			if (!(pte & GPTE_P))
				return ACC_GUEST_FAULT;
			w &= !!(pte & GPTE_W);
			nx |= !!(pte & GPTE_NX);
			leaf_here = level == 1 || (level <= 3 && (pte & GPTE_PS));
			want = GPTE_A | ((leaf_here && kind == HW_ACC_WRITE && w) ? GPTE_D : 0);
			if ((pte & want) != want) {
				/* A/D in a guest table: a write through the TDP tables. */
				ppfn = hw_translate_gpa(hv, pte_gpa, HW_ACC_WRITE, false, exit, NULL);
				if (!ppfn)
					return ACC_EXIT;
				word = (_Atomic u64 *)(void *)(m->direct_map + (ppfn << PAGE_SHIFT) +
							       (pte_gpa & (PAGE_SIZE - 1)));
				if (!atomic_compare_exchange_strong(word, &pte, pte | want)) {
					restart = true;
					break;
				}
			}
			if (leaf_here) {
				u64 size = PG_LEVEL_SIZE(level);

				gpa = ((pte & PT64_PFN_MASK) & ~(size - 1)) | (gva & (size - 1));
				break;
			}
			table = pte & PT64_PFN_MASK;
		}
		if (restart)
			continue;
		if ((kind == HW_ACC_WRITE && !w) || (kind == HW_ACC_EXEC && nx))
			return ACC_GUEST_FAULT;

		memset(&leaf, 0, sizeof(leaf));
		pfn = hw_translate_gpa(hv, gpa, kind, true, exit, &leaf);
		if (!pfn)
			return ACC_EXIT;
		f = leaf;
		f.page = page;
		f.pfn = pfn;
		f.gpa_page = gpa >> PAGE_SHIFT;
		f.flags = TLBF_LINEAR | TLBF_R | (w ? (leaf.flags & TLBF_W) : 0) |
			  (nx ? 0 : (leaf.flags & TLBF_X)) |
			  (kind == HW_ACC_WRITE ? TLBF_D : 0);
		hw_tlb_fill(hv, a, &f);
		*pfn_out = pfn;
		return ACC_DONE;
	}
	WARN_ONCE(1, "guest page walk restarted 100 times");
	return ACC_GUEST_FAULT;
}

/* ---- running ------------------------------------------------------------------------------ */

static enum hw_access_kind access_kind(u8 op)
{
	return op == HW_STORE ? HW_ACC_WRITE : op == HW_FETCH ? HW_ACC_EXEC : HW_ACC_READ;
}

/* Do one access; returns ACC_DONE, ACC_EXIT or ACC_GUEST_FAULT. */
static int do_access(struct kvmmu_hw_vcpu *hv, struct hw_access *acc, struct kvmmu_exit *exit)
{
	struct hw_machine *m = hv->m;
	enum hw_access_kind kind = access_kind(acc->op);
	u8 size = acc->size ? acc->size : 8;
	u64 pfn, flags;
	int r = ACC_DONE;

	if (hv->prog.paging) {
		r = translate_gva(hv, acc->addr, kind, exit, &pfn);
		if (r != ACC_DONE)
			return r;
	} else if (!hw_tlb_lookup(hv, &hv->tlb[TLB_4K], acc->addr >> PAGE_SHIFT, 0, &flags,
				  &pfn) ||
		   !hw_tlb_allows(flags, kind)) {
		pfn = hw_translate_gpa(hv, acc->addr, kind, true, exit, NULL);
		if (!pfn)
			return ACC_EXIT;
	} else {
		hw_stat_inc(hv, tlb_hits);
	}

	switch (acc->op) {
	case HW_STORE:
		mem_store(m, pfn, acc->addr & (PAGE_SIZE - 1), size, acc->value);
		hw_stat_inc(hv, stores);
		kvmmu_observe(KVMMU_EV_GUEST_STORE, access, .vcpu = hv->id, .size = size,
			      .gpa = acc->addr, .pfn = pfn, .value = acc->value);
		break;
	case HW_FETCH:
		acc->value = mem_load(m, pfn, acc->addr & (PAGE_SIZE - 1), size);
		hw_stat_inc(hv, fetches);
		kvmmu_observe(KVMMU_EV_GUEST_LOAD, access, .vcpu = hv->id, .size = size,
			      .gpa = acc->addr, .pfn = pfn, .value = acc->value);
		break;
	default:
		acc->value = mem_load(m, pfn, acc->addr & (PAGE_SIZE - 1), size);
		hw_stat_inc(hv, loads);
		kvmmu_observe(KVMMU_EV_GUEST_LOAD, access, .vcpu = hv->id, .size = size,
			      .gpa = acc->addr, .pfn = pfn, .value = acc->value);
		break;
	}
	return r;
}

static bool kicked(const struct kvmmu_entry *entry)
{
	return atomic_load_explicit(entry->kick_req, memory_order_acquire) !=
	       atomic_load_explicit(entry->kick_ack, memory_order_relaxed);
}

static int hw_run(struct kvmmu_hw_vcpu *hv, const struct kvmmu_entry *entry,
		  struct kvmmu_exit *exit)
{
	hv->entry = entry;
	hw_tlb_set_root(hv, entry->root_pfn);
	for (;;) {
		struct hw_access acc;
		int r;

		/* An interrupt is taken between two accesses. */
		if (kicked(entry)) {
			exit->reason = KVMMU_EXIT_INTR;
			hw_stat_inc(hv, exits_intr);
			break;
		}
		if (!next_access(hv, &acc)) {
			exit->reason = KVMMU_EXIT_HLT;
			hw_stat_inc(hv, exits_hlt);
			break;
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
			end_pass(hv);
			exit->reason = KVMMU_EXIT_HLT;
			hw_stat_inc(hv, exits_hlt);
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

static void hw_skip_instruction(struct kvmmu_hw_vcpu *hv)
{
	struct hw_access acc;

	if (!next_access(hv, &acc))
		return;
	/* Emulated: a load from MMIO reads zeroes; a store goes nowhere. */
	acc.value = 0;
	advance(hv, &acc);
	if (!hv->prog.list && hv->pc == hv->npages)
		end_pass(hv);
}

const struct kvmmu_hw_ops hw_ops = {
	.vcpu_create = hw_vcpu_create,
	.vcpu_destroy = hw_vcpu_destroy,
	.run = hw_run,
	.flush_tlb_all = hw_flush_tlb_all,
	.flush_tlb_current = hw_flush_tlb_current,
	.skip_instruction = hw_skip_instruction,
};
