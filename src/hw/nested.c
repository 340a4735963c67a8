// SPDX-License-Identifier: GPL-2.0-only
/*
 * The L1 hypervisor of nested runs: guest software, run by the simulated
 * CPU as L1, that runs the vCPU's program as L2 under EPT tables of its
 * own in L1's memory (struct hw_l1_vmm).
 *
 * It is as small as a hypervisor can be: at the first entry it VMLAUNCHes
 * L2; on each exit KVM reflects to it, it runs a handler and VMRESUMEs.
 * An EPT violation at an L2 gpa it manages makes it read the entry that
 * links the gpa's leaf table, link the table if it is not (a write to an
 * upper table: KVM write-tracks those and emulates the store), and write
 * the leaf entry (L2 gpa + l1_offset, RWX, write-back).  Neither needs an
 * INVEPT: EPT caches no non-present entries.  A VMCALL asks it to unmap
 * pages: it clears their leaf entries, unlinks the leaf tables they cover
 * whole, then INVEPTs (single context or global), as a hypervisor must
 * before the memory can be reused.  Every write to its tables is a
 * store through the CPU, in L1, translated by KVM's TDP tables for L1:
 * what KVM has to notice (the tables it shadows for L2 are write-protected
 * or unsync) it notices as it would on silicon.  An exit L1 cannot handle
 * (a gpa it does not manage, a misconfiguration) skips L2's access, as a
 * guest fault would, and is counted.
 */
#include <string.h>

#include "bug.h"
#include "hw_internal.h"

/* The L2 gpas one leaf table maps. */
#define L1_LEAF_TABLE_SPAN (PAGE_SIZE << 9)

/* What L1's handler does, step by step. */
enum hw_l1_step_kind {
	L1_STORE_ZERO,  /* clear the leaf entries [at, end) */
	L1_STORE_LEAF,  /* write .value to the leaf entry at .at */
	L1_CHECK_LINK,  /* load the entry linking leaf table .at; if present, skip the next step */
	L1_LINK,        /* link leaf table .at */
	L1_UNLINK,      /* unlink leaf tables [at, end) */
};

/* Where L1's leaf entry for L2's @gpa is; false if L1 does not manage @gpa. */
static bool l1_entry(const struct hw_l1_vmm *l1, u64 gpa, u64 *at)
{
	if (gpa < l1->l2_base || gpa - l1->l2_base >= l1->l2_size)
		return false;
	*at = l1->pt_base + ((gpa - l1->l2_base) >> PAGE_SHIFT) * 8;
	return true;
}

/* The leaf table of L2's @gpa (L1 manages it). */
static u64 l1_table(const struct hw_l1_vmm *l1, u64 gpa)
{
	return (gpa - l1->l2_base) / L1_LEAF_TABLE_SPAN;
}

static void l1_step(struct kvmmu_hw_vcpu *hv, u8 kind, u64 at, u64 end, u64 value)
{
	if (WARN_ON_ONCE(hv->l1.nr_steps == (int)ARRAY_SIZE(hv->l1.steps)))
		return;
	hv->l1.steps[hv->l1.nr_steps++] = (struct hw_l1_step){
		.kind = kind, .at = at, .end = end, .value = value,
	};
}

void hw_l1_start(struct kvmmu_hw_vcpu *hv)
{
	hv->l1.active = true;
	hv->l1.nr_steps = 0;
	hv->l1.step = 0;
	hv->l1.invept = 0;
	hv->l1.region_unmapped = false;
}

bool hw_l1_next(struct kvmmu_hw_vcpu *hv, struct hw_access *acc)
{
	const struct hw_l1_vmm *l1 = hv->prog.nested;
	const struct hw_l1_step *s;

	if (!hv->l1.active)
		return false;
	memset(acc, 0, sizeof(*acc));
	acc->size = 8;
	if (hv->l1.step < hv->l1.nr_steps) {
		s = &hv->l1.steps[hv->l1.step];
		acc->op = s->kind == L1_CHECK_LINK ? HW_LOAD : HW_STORE;
		switch (s->kind) {
		case L1_STORE_ZERO:
		case L1_STORE_LEAF:
			acc->addr = s->at;
			acc->value = s->value;
			break;
		case L1_CHECK_LINK:
		case L1_UNLINK:
			acc->addr = l1->pdes[s->at];
			break;
		case L1_LINK:
			acc->addr = l1->pdes[s->at];
			acc->value = (l1->pt_base + s->at * PAGE_SIZE) | EPT_RWX_MASK;
			break;
		}
	} else if (hv->l1.invept) {
		acc->op = HW_INVEPT;
		acc->addr = hv->l1.invept;
		acc->value = l1->eptp;
	} else {
		acc->op = HW_VMRESUME;
		acc->value = l1->eptp;
	}
	return true;
}

void hw_l1_advance(struct kvmmu_hw_vcpu *hv, u64 loaded)
{
	struct hw_l1_step *s;

	if (hv->l1.step < hv->l1.nr_steps) {
		s = &hv->l1.steps[hv->l1.step];
		switch (s->kind) {
		case L1_STORE_ZERO:
		case L1_UNLINK:
			hw_stat_inc(hv, l1_ept_writes);
			s->at += s->kind == L1_STORE_ZERO ? 8 : 1;
			if (s->at < s->end)
				return;
			break;
		case L1_CHECK_LINK:
			/* Linked already: no need to link it. */
			if (loaded & EPT_RWX_MASK)
				hv->l1.step++;
			break;
		default:
			hw_stat_inc(hv, l1_ept_writes);
			break;
		}
		hv->l1.step++;
	} else if (hv->l1.invept) {
		hw_stat_inc(hv, l1_invepts);
		hv->l1.invept = 0;
	} else {
		/* VMRESUME done: L2 runs from the next entry on. */
		hv->l1.active = false;
	}
}

/*
 * L1 unmaps [@gpa, @gpa + @size): clears its leaf entries, unlinks the
 * leaf tables the range covers whole, and invalidates with @type.
 */
static void l1_unmap(struct kvmmu_hw_vcpu *hv, u64 gpa, u64 size, u32 type)
{
	const struct hw_l1_vmm *l1 = hv->prog.nested;
	u64 first, last, t0, t1;

	if (!size || !l1_entry(l1, gpa, &first) || !l1_entry(l1, gpa + size - 1, &last))
		return;
	l1_step(hv, L1_STORE_ZERO, first, last + 8, 0);
	t0 = l1_table(l1, ALIGN(gpa, L1_LEAF_TABLE_SPAN));
	t1 = l1_table(l1, ALIGN_DOWN(gpa + size, L1_LEAF_TABLE_SPAN));
	if (ALIGN(gpa, L1_LEAF_TABLE_SPAN) < ALIGN_DOWN(gpa + size, L1_LEAF_TABLE_SPAN))
		l1_step(hv, L1_UNLINK, t0, t1, 0);
	hv->l1.invept = type;
}

void hw_l2_skip(struct kvmmu_hw_vcpu *hv)
{
	if (!hv->prog.list || atomic_load_explicit(&hv->done, memory_order_relaxed))
		return;
	__atomic_store_n(&hv->pc, hv->pc + 1, __ATOMIC_RELAXED);
	if (hv->pc == hv->prog.len)
		atomic_store(&hv->done, true);
}

void hw_nested_vmexit(struct kvmmu_hw_vcpu *hv, const struct kvmmu_exit *e)
{
	const struct hw_l1_vmm *l1 = hv->prog.nested;
	u64 at;

	if (WARN_ON_ONCE(!l1 || hv->l1.active))
		return;
	hw_stat_inc(hv, l2_exits_to_l1);
	hw_l1_start(hv);
	switch (e->reason) {
	case KVMMU_EXIT_EPT_VIOLATION:
		if (l1_entry(l1, e->gpa, &at)) {
			u64 t = l1_table(l1, e->gpa);

			/* The leaf table may have been unlinked: link it first. */
			l1_step(hv, L1_CHECK_LINK, t, t + 1, 0);
			l1_step(hv, L1_LINK, t, t + 1, 0);
			l1_step(hv, L1_STORE_LEAF, at, at + 8,
				((e->gpa & ~(PAGE_SIZE - 1)) + l1->l1_offset) | l1->leaf_flags);
			break;
		}
		fallthrough;
	case KVMMU_EXIT_EPT_MISCONFIG:
		/* Not L1's to map: L2's access is dropped, as a guest's faulting one. */
		hw_stat_inc(hv, l1_unhandled);
		if (hv->prog.list)
			hw_l2_skip(hv);
		break;
	case KVMMU_EXIT_VMCALL:
		hw_stat_inc(hv, vmcalls);
		switch (e->value) {
		case HW_HC_UNMAP:
			l1_unmap(hv, e->gpa & ~(PAGE_SIZE - 1), PAGE_SIZE, VMX_EPT_EXTENT_CONTEXT);
			break;
		case HW_HC_UNMAP_GLOBAL:
			l1_unmap(hv, e->gpa & ~(PAGE_SIZE - 1), PAGE_SIZE, VMX_EPT_EXTENT_GLOBAL);
			break;
		case HW_HC_UNMAP_REGION:
			l1_unmap(hv, hv->prog.base, hv->prog.size, VMX_EPT_EXTENT_CONTEXT);
			hv->l1.region_unmapped = true;
			break;
		}
		/* L1 moves L2 past its VMCALL (the pass's closing one is no instruction of the list). */
		if (hv->prog.list)
			hw_l2_skip(hv);
		break;
	default:
		WARN_ONCE(1, "exit %d reflected to L1", e->reason);
		break;
	}
}
