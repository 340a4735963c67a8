// SPDX-License-Identifier: GPL-2.0-only
/*
 * A fake CPU for tests (see fake_hw.h).  It reads only architectural bits.
 *
 * It runs no shadow paging of its own, but it keeps what KVM gives it
 * under shadow paging: the guest's registers (get_regs/set_regs), the #PF
 * KVM injects (the step that exited is skipped) and the gvas KVM flushes
 * (there is no TLB to drop them from; they are not TLB flushes in the
 * sense of the flush counts).
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "bug.h"
#include "compiler.h"
#include "fake_hw.h"
#include "rcu.h"
#include "sched_point.h"
#include "x86_pgtable.h"

/* A vCPU of the fake, with the state fake_hw.h's part of it has no room for. */
struct fake_vcpu {
	struct kvmmu_hw_vcpu hv;
	struct kvmmu_guest_regs regs; /* the guest's, as KVM last wrote them */
	u64 cr2, pf_error_code;       /* the last #PF injected ... */
	u64 injected;                 /* ... and how many were */
	u64 last_gva_flushed;         /* the last flush_tlb_gva() ... */
	u64 gva_flushes;              /* ... and how many there were */
};

static struct fake_vcpu *to_fake(struct kvmmu_hw_vcpu *hv)
{
	return container_of(hv, struct fake_vcpu, hv);
}

void fake_hw_init(struct fake_hw *hw, u8 *direct_map, int phys_bits)
{
	memset(hw, 0, sizeof(*hw));
	hw->direct_map = direct_map;
	hw->phys_bits = phys_bits;
}

void fake_hw_set_program(struct kvmmu_hw_vcpu *hv, const struct fake_step *steps, size_t n)
{
	BUG_ON(n > FAKE_MAX_STEPS);
	memcpy(hv->prog, steps, n * sizeof(*steps));
	hv->len = n;
	hv->pc = 0;
}

void fake_hw_push(struct kvmmu_hw_vcpu *hv, u8 op, gpa_t gpa, u64 value)
{
	BUG_ON(hv->len >= FAKE_MAX_STEPS);
	hv->prog[hv->len++] = (struct fake_step){ .op = op, .gpa = gpa, .value = value };
}

static struct kvmmu_hw_vcpu *fake_vcpu_create(void *ctx, int id)
{
	struct fake_hw *hw = ctx;
	struct fake_vcpu *fv = calloc(1, sizeof(*fv));
	struct kvmmu_hw_vcpu *hv;

	if (!fv)
		return NULL;
	hv = &fv->hv;
	hv->hw = hw;
	hv->id = id;
	atomic_store(&hv->entry_flushes, -1);
	if (id < (int)ARRAY_SIZE(hw->vcpus))
		hw->vcpus[id] = hv;
	return hv;
}

static void fake_vcpu_destroy(struct kvmmu_hw_vcpu *hv)
{
	if (hv->id < (int)ARRAY_SIZE(hv->hw->vcpus))
		hv->hw->vcpus[hv->id] = NULL;
	free(to_fake(hv));
}

static _Atomic u64 *entry_ptr(struct fake_hw *hw, u64 table, gpa_t gpa, int level)
{
	return (_Atomic u64 *)(void *)(hw->direct_map + (table << PAGE_SHIFT)) +
	       PT64_INDEX(gpa, level);
}

/* Set @bits in an entry as hardware does: atomically, only if unchanged otherwise. */
static void set_ad(_Atomic u64 *p, u64 e, u64 bits)
{
	if ((e & bits) == bits)
		return;
	sched_point(SP_HW_AD_UPDATE, (const void *)p);
	atomic_compare_exchange_strong(p, &e, e | bits);
}

/*
 * Translate @gpa for @op.  Returns the pfn, or 0 with @exit filled in.
 * Inside rcu_read_lock(): the tables stay allocated.
 */
static u64 translate(struct kvmmu_hw_vcpu *hv, const struct kvmmu_entry *entry, gpa_t gpa,
		     u8 op, struct kvmmu_exit *exit)
{
	struct fake_hw *hw = hv->hw;
	bool write = op == FAKE_WRITE, fetch = op == FAKE_EXEC;
	u64 table = entry->root_pfn, perms = 7;
	bool nx = false, w = true;
	int level;

	for (level = entry->root_level; level >= 1; level--) {
		_Atomic u64 *p = entry_ptr(hw, table, gpa, level);
		u64 e = atomic_load_explicit(p, memory_order_acquire);
		bool leaf;

		if (!entry->npt) {
			u64 rwx = e & EPT_RWX_MASK;

			if ((e & EPT_WRITABLE) && !(e & EPT_READABLE)) {
				exit->reason = KVMMU_EXIT_EPT_MISCONFIG;
				exit->gpa = gpa;
				return 0;
			}
			if (!rwx) {
				perms = 0;
				goto violation;
			}
			perms &= rwx;
			leaf = level == 1 || (e & EPT_LARGE);
			if (leaf) {
				if ((write && !(perms & EPT_WRITABLE)) ||
				    (fetch && !(perms & EPT_EXECUTABLE)) ||
				    (!write && !fetch && !(perms & EPT_READABLE)))
					goto violation;
				if (entry->ad_enabled)
					set_ad(p, e, EPT_ACCESSED | (write ? EPT_DIRTY : 0));
				return ((e & PT64_PFN_MASK) >> PAGE_SHIFT) +
				       ((gpa >> PAGE_SHIFT) & (KVM_PAGES_PER_HPAGE(level) - 1));
			}
			if (entry->ad_enabled)
				set_ad(p, e, EPT_ACCESSED);
		} else {
			if (!(e & PT_PRESENT_MASK)) {
				exit->error_code = 0;
				goto npf;
			}
			if (hw->phys_bits < 52 && (e & BIT_ULL(51))) {
				exit->error_code = PFERR_PRESENT_MASK | PFERR_RSVD_MASK;
				goto npf;
			}
			w &= !!(e & PT_WRITABLE_MASK);
			nx |= !!(e & PT64_NX_MASK);
			leaf = level == 1 || (e & PT_PAGE_SIZE_MASK);
			if (leaf) {
				if ((write && !w) || (fetch && nx)) {
					exit->error_code = PFERR_PRESENT_MASK;
					goto npf;
				}
				set_ad(p, e, PT_ACCESSED_MASK | (write ? PT_DIRTY_MASK : 0));
				return ((e & PT64_PFN_MASK) >> PAGE_SHIFT) +
				       ((gpa >> PAGE_SHIFT) & (KVM_PAGES_PER_HPAGE(level) - 1));
			}
			set_ad(p, e, PT_ACCESSED_MASK);
		}
		table = (e & PT64_PFN_MASK) >> PAGE_SHIFT;
	}
	BUG();

violation:
	exit->reason = KVMMU_EXIT_EPT_VIOLATION;
	exit->gpa = gpa;
	exit->exit_qualification = (write ? EPT_VIOLATION_ACC_WRITE : 0) |
				   (fetch ? EPT_VIOLATION_ACC_INSTR : 0) |
				   (!write && !fetch ? EPT_VIOLATION_ACC_READ : 0) |
				   ((perms & EPT_RWX_MASK) << 3) |
				   EPT_VIOLATION_GVA_IS_VALID | EPT_VIOLATION_GVA_TRANSLATED;
	return 0;
npf:
	exit->reason = KVMMU_EXIT_EPT_VIOLATION;
	exit->gpa = gpa;
	exit->error_code |= (write ? PFERR_WRITE_MASK : 0) | (fetch ? PFERR_FETCH_MASK : 0) |
			    PFERR_USER_MASK | PFERR_GUEST_FINAL_MASK;
	return 0;
}

static bool kicked(const struct kvmmu_entry *entry)
{
	return atomic_load(entry->kick_req) != atomic_load(entry->kick_ack);
}

static int fake_run(struct kvmmu_hw_vcpu *hv, const struct kvmmu_entry *entry,
		    struct kvmmu_exit *exit)
{
	int r = 0;

	atomic_fetch_add(&hv->entries, 1);
	atomic_store(&hv->entry_flushes, (s64)atomic_load(&hv->flushes));
	for (;;) {
		struct fake_step *s;
		u64 pfn;

		if (kicked(entry)) {
			exit->reason = KVMMU_EXIT_INTR;
			break;
		}
		if (hv->pc >= hv->len) {
			exit->reason = KVMMU_EXIT_HLT;
			break;
		}
		s = &hv->prog[hv->pc];
		if (s->op == FAKE_SPIN) {
			if (atomic_exchange(&hv->release, false)) {
				hv->pc++;
				continue;
			}
			cpu_relax();
			/* Leave the CPU to the test's other threads now and then. */
			sched_yield();
			continue;
		}
		rcu_read_lock();
		pfn = translate(hv, entry, s->gpa, s->op, exit);
		if (pfn) {
			_Atomic u64 *word = hv->hw->tags ? &hv->hw->tags[pfn] :
					    (_Atomic u64 *)(void *)(hv->hw->direct_map +
								    (pfn << PAGE_SHIFT) +
								    (s->gpa & (PAGE_SIZE - 8)));

			if (s->op == FAKE_WRITE)
				atomic_store_explicit(word, s->value, memory_order_relaxed);
			else
				s->value = atomic_load_explicit(word, memory_order_relaxed);
			hv->pc++;
		}
		rcu_read_unlock();
		if (!pfn)
			break;
	}
	atomic_store(&hv->entry_flushes, -1);
	return r;
}

static void fake_flush(struct kvmmu_hw_vcpu *hv)
{
	atomic_fetch_add(&hv->flushes, 1);
}

static void fake_flush_current(struct kvmmu_hw_vcpu *hv, u64 root_pfn)
{
	fake_flush(hv);
}

static void fake_skip_instruction(struct kvmmu_hw_vcpu *hv)
{
	if (hv->pc < hv->len)
		hv->pc++;
}

static void fake_get_regs(struct kvmmu_hw_vcpu *hv, struct kvmmu_guest_regs *regs)
{
	*regs = to_fake(hv)->regs;
}

static void fake_set_regs(struct kvmmu_hw_vcpu *hv, const struct kvmmu_guest_regs *regs)
{
	to_fake(hv)->regs = *regs;
}

/* The guest takes the #PF: the step that exited is skipped, as its handler would. */
static void fake_inject_page_fault(struct kvmmu_hw_vcpu *hv, u64 gva, u64 error_code)
{
	struct fake_vcpu *fv = to_fake(hv);

	fv->cr2 = gva;
	fv->pf_error_code = error_code;
	fv->injected++;
	fake_skip_instruction(hv);
}

/* No TLB: every step sees the tables as they are.  Only recorded. */
static void fake_flush_tlb_gva(struct kvmmu_hw_vcpu *hv, u64 gva)
{
	struct fake_vcpu *fv = to_fake(hv);

	fv->last_gva_flushed = gva;
	fv->gva_flushes++;
}

const struct kvmmu_hw_ops fake_hw_ops = {
	.vcpu_create = fake_vcpu_create,
	.vcpu_destroy = fake_vcpu_destroy,
	.run = fake_run,
	.flush_tlb_all = fake_flush,
	.flush_tlb_current = fake_flush_current,
	.skip_instruction = fake_skip_instruction,
	.get_regs = fake_get_regs,
	.set_regs = fake_set_regs,
	.inject_page_fault = fake_inject_page_fault,
	.flush_tlb_gva = fake_flush_tlb_gva,
};
