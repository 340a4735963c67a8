// SPDX-License-Identifier: GPL-2.0-only
/*
 * x86 KVM around the MMU (the kernel's arch/x86/kvm/x86.c and the VMX/SVM
 * exit handlers): VM and vCPU setup, the vCPU run loop, and the memslot
 * hooks.
 *
 * The run loop: handle requests (obsolete roots, TLB flushes, a full dirty
 * ring), load a root if there is none, set the mode to IN_GUEST_MODE and
 * only then look at requests again, run the hardware until it exits, set
 * the mode back and acknowledge kicks, handle the exit.  A vCPU outside
 * guest mode holds kvm->srcu; in guest mode it holds nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_host.h"
#include "mmu.h"
#include "mmu_internal.h"
#include "shadow_mmu.h"

/* ---- VM and vCPU --------------------------------------------------------------- */

int kvm_arch_init_vm(struct kvm *kvm, const struct kvmmu_vm_config *cfg)
{
	kvm->arch.cpu_dirty_log_size = cfg->pml ? KVMMU_PML_ENTRIES : 0;
	return kvm_mmu_init_vm(kvm, cfg);
}

void kvm_arch_destroy_vm(struct kvm *kvm)
{
	kvm_mmu_uninit_vm(kvm);
}

/*
 * Before any vCPU goes: drop every vCPU's root.  Dropping a shadow root may
 * zap it, and the zap's flush visits every vCPU, so none may be gone yet.
 */
void kvm_unload_vcpu_mmus(struct kvm *kvm)
{
	struct kvm_vcpu *vcpu;
	int i;

	kvm_for_each_vcpu(i, vcpu, kvm)
		kvm_mmu_unload(vcpu);
}

int kvm_arch_vcpu_create(struct kvm_vcpu *vcpu)
{
	struct kvm *kvm = vcpu->kvm;
	int r;

	if (kvm->arch.cpu_dirty_log_size) {
		vcpu->arch.pml_pg = calloc(KVMMU_PML_ENTRIES, sizeof(u64));
		if (!vcpu->arch.pml_pg)
			return -ENOMEM;
		vcpu->arch.pml_index = PML_HEAD_INDEX;
		/* On from the start if a memslot logs already. */
		vcpu->arch.pml_enabled = READ_ONCE(kvm->nr_memslots_dirty_logging) > 0;
	}
	r = kvm_mmu_create(vcpu);
	if (r) {
		free(vcpu->arch.pml_pg);
		vcpu->arch.pml_pg = NULL;
	}
	return r;
}

void kvm_arch_vcpu_destroy(struct kvm_vcpu *vcpu)
{
	kvm_mmu_destroy(vcpu);
	free(vcpu->arch.pml_pg);
}

/* ---- PML (VMX page-modification logging) ----------------------------------------------- */

/*
 * Move what the CPU logged into the dirty log (bitmap or this vCPU's
 * ring), newest entry first, and rewind the index.  Runs at every exit, so
 * a vCPU outside guest mode has nothing logged that the log lacks.
 */
static void vmx_flush_pml_buffer(struct kvm_vcpu *vcpu)
{
	u16 index = vcpu->arch.pml_index, i, nr;

	/* The index is decremented after each entry: a full log wrapped it. */
	if (index == PML_HEAD_INDEX)
		return;
	i = index >= KVMMU_PML_ENTRIES ? 0 : index + 1;
	nr = (u16)(KVMMU_PML_ENTRIES - i);
	for (; i < KVMMU_PML_ENTRIES; i++) {
		gpa_t gpa = vcpu->arch.pml_pg[i];

		kvm_vcpu_mark_page_dirty(vcpu, gpa >> PAGE_SHIFT);
	}
	vcpu->arch.pml_index = PML_HEAD_INDEX;
	kvmmu_observe(KVMMU_EV_PML_FLUSH, pml, .kvm = vcpu->kvm, .vcpu = vcpu->vcpu_id,
		      .nr = nr);
}

/* KVM_REQ_UPDATE_CPU_DIRTY_LOGGING: PML on while any memslot logs. */
static void vmx_update_cpu_dirty_logging(struct kvm_vcpu *vcpu)
{
	if (WARN_ON_ONCE(!vcpu->kvm->arch.cpu_dirty_log_size))
		return;
	vcpu->arch.pml_enabled = READ_ONCE(vcpu->kvm->nr_memslots_dirty_logging) > 0;
}

/*
 * Dirty logging was switched on or off for a memslot (of any change): the
 * first slot to log turns PML on in every vCPU, the last one off.
 */
void kvm_mmu_update_cpu_dirty_logging(struct kvm *kvm, bool enable)
{
	u32 nr_slots;

	if (!kvm->arch.cpu_dirty_log_size)
		return;
	nr_slots = READ_ONCE(kvm->nr_memslots_dirty_logging);
	if ((enable && nr_slots == 1) || !nr_slots)
		kvm_make_all_cpus_request(kvm, KVM_REQ_UPDATE_CPU_DIRTY_LOGGING);
}

/*
 * Before the log is read: kick every vCPU out of guest mode, so that what
 * its CPU logged reaches the log at the exit.  Kicks do not wait: a vCPU
 * still on its way out may flush after the caller reads the log, and its
 * writes show in the next read, as with KVM.
 */
void kvm_arch_sync_dirty_log(struct kvm *kvm, struct kvm_memory_slot *memslot)
{
	struct kvm_vcpu *vcpu;
	int i;

	if (!kvm->arch.cpu_dirty_log_size)
		return;
	kvm_for_each_vcpu(i, vcpu, kvm)
		kvm_vcpu_kick(vcpu);
}

/* ---- the run loop ------------------------------------------------------------------ */

static void kvm_vcpu_set_mode(struct kvm_vcpu *vcpu, int mode)
{
	/*
	 * seq_cst: entering, the mode is set before requests are checked;
	 * leaving, before kicks are acknowledged.  Pairs with the request,
	 * kick and mode check in kvm_make_all_cpus_request().
	 */
	int old = atomic_exchange(&vcpu->mode, mode);

	kvmmu_observe(KVMMU_EV_VCPU_MODE, vcpu, .vcpu = vcpu->vcpu_id, .old_mode = old,
		      .new_mode = mode);
}

static void kvm_vcpu_flush_tlb_all(struct kvm_vcpu *vcpu)
{
	kvm_stat_inc(vcpu->stat.tlb_flush);
	vcpu->kvm->hw->flush_tlb_all(vcpu->hw);
	/* Everything is flushed, the current context too. */
	kvm_check_request(KVM_REQ_TLB_FLUSH_CURRENT, vcpu);
}

static void kvm_vcpu_flush_tlb_current(struct kvm_vcpu *vcpu)
{
	vcpu->kvm->hw->flush_tlb_current(vcpu->hw, vcpu->arch.mmu->root.hpa >> PAGE_SHIFT);
}

/* The PFERR_* of an EPT violation, from its exit qualification. */
static u64 ept_violation_error_code(u64 q)
{
	u64 error_code = 0;

	if (q & EPT_VIOLATION_ACC_READ)
		error_code |= PFERR_USER_MASK;
	if (q & EPT_VIOLATION_ACC_WRITE)
		error_code |= PFERR_WRITE_MASK;
	if (q & EPT_VIOLATION_ACC_INSTR)
		error_code |= PFERR_FETCH_MASK;
	/* Some permission was there: the entry was present. */
	if (q & (EPT_VIOLATION_READABLE | EPT_VIOLATION_WRITABLE | EPT_VIOLATION_EXECUTABLE))
		error_code |= PFERR_PRESENT_MASK;
	if (q & EPT_VIOLATION_GVA_IS_VALID)
		error_code |= (q & EPT_VIOLATION_GVA_TRANSLATED) ? PFERR_GUEST_FINAL_MASK :
								   PFERR_GUEST_PAGE_MASK;
	return error_code;
}

/* ---- shadow paging: the guest's registers and the instructions KVM intercepts ---------- */

void kvm_inject_emulated_page_fault(struct kvm_vcpu *vcpu, const struct x86_exception *fault)
{
	/* A fault of L2 in L1's EPT tables is L1's: a VM exit, not a #PF. */
	if (fault->nested_page_fault) {
		nested_ept_inject_page_fault(vcpu, fault);
		return;
	}
	kvm_stat_inc(vcpu->stat.pf_guest);
	vcpu->kvm->hw->inject_page_fault(vcpu->hw, fault->address, fault->error_code);
}

static void kvm_regs_to_hw(struct kvm_vcpu *vcpu)
{
	const struct kvm_vcpu_arch *a = &vcpu->arch;
	struct kvmmu_guest_regs regs = {
		.cr0 = a->cr0, .cr3 = a->cr3, .cr4 = a->cr4, .efer = a->efer,
		.rflags = a->rflags, .pkru = a->pkru, .cpl = a->cpl,
	};

	memcpy(regs.pdptrs, a->pdptrs, sizeof(regs.pdptrs));
	vcpu->kvm->hw->set_regs(vcpu->hw, &regs);
}

/*
 * Take the registers the CPU has into KVM's cache (the VMREADs KVM does
 * on an exit, and what KVM_SET_SREGS would have told it: a program loaded
 * into the CPU brings its own).  A paging-mode change resets the MMU
 * context; a new CR3 only asks for its root.
 */
static bool is_pae_paging(const struct kvm_vcpu_arch *a)
{
	return (a->cr0 & X86_CR0_PG) && (a->cr4 & X86_CR4_PAE) && !(a->efer & EFER_LMA);
}

/*
 * PAE paging reads its four PDPTEs when CR3 is loaded (or paging turns
 * on): KVM does it for the CPU under shadow paging (load_pdptrs()), from
 * guest memory through the VMM's mapping.  A PDPTE KVM cannot read is
 * taken as not present.
 */
static void load_pdptrs(struct kvm_vcpu *vcpu)
{
	struct kvm *kvm = vcpu->kvm;
	gpa_t base = vcpu->arch.cr3 & GENMASK_ULL(31, 5);
	int i;

	for (i = 0; i < 4; i++) {
		gpa_t gpa = base + (u64)i * 8;
		struct kvm_memory_slot *slot = kvm_vcpu_gfn_to_memslot(vcpu, gpa_to_gfn(gpa));
		u64 v = 0;

		if (slot && !kvm_is_slot_invalid(slot) &&
		    kvm->host->read_user(kvm->mm, __gfn_to_hva_memslot(slot, gpa_to_gfn(gpa)) +
						  (gpa & (PAGE_SIZE - 1)), &v))
			v = 0;
		vcpu->arch.pdptrs[i] = v;
	}
}

static void kvm_regs_from_hw(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_arch *a = &vcpu->arch;
	struct kvmmu_guest_regs regs;
	bool mode_changed, cr3_changed;

	vcpu->kvm->hw->get_regs(vcpu->hw, &regs);
	mode_changed = regs.cr0 != a->cr0 || regs.cr4 != a->cr4 || regs.efer != a->efer;
	cr3_changed = regs.cr3 != a->cr3;
	a->cr0 = regs.cr0;
	a->cr3 = regs.cr3;
	a->cr4 = regs.cr4;
	a->efer = regs.efer;
	a->rflags = regs.rflags;
	a->rip = regs.rip;
	a->pkru = regs.pkru;
	a->cpl = regs.cpl;
	/*
	 * Not the PDPTEs: under shadow paging they are KVM's, loaded at CR3
	 * writes (load_pdptrs()) and handed to the CPU; its copy says nothing
	 * new.
	 */
	if (mode_changed)
		kvm_mmu_reset_context(vcpu);
	else if (cr3_changed)
		kvm_mmu_new_pgd(vcpu, regs.cr3);
	/*
	 * The registers changed behind KVM's back only as userspace's
	 * KVM_SET_SREGS changes them (a program loaded): under PAE that loads
	 * the PDPTEs, and the PAE root follows them.
	 */
	if ((mode_changed || cr3_changed) && is_pae_paging(a)) {
		load_pdptrs(vcpu);
		kvm_mmu_unload(vcpu);
		kvm_regs_to_hw(vcpu);
	}
}

/*
 * MOV to CR0/CR3/CR4 and WRMSR EFER, intercepted: KVM's cache takes the
 * value, the MMU follows, the CPU gets the registers back and goes on
 * after the instruction.  (The architectural #GP checks are the CPU's own
 * in kvmmu: a write that reaches KVM is a legal one.)
 */
static int kvm_handle_cr_access(struct kvm_vcpu *vcpu, const struct kvmmu_exit *exit)
{
	struct kvm_vcpu_arch *a = &vcpu->arch;

	switch (exit->cr) {
	case 0:
		a->cr0 = exit->value;
		/* Long mode is active while paging is on with LME. */
		if ((a->efer & EFER_LME) && (a->cr0 & X86_CR0_PG))
			a->efer |= EFER_LMA;
		else
			a->efer &= ~EFER_LMA;
		kvm_mmu_reset_context(vcpu);
		break;
	case 3:
		a->cr3 = exit->value;
		kvm_mmu_new_pgd(vcpu, exit->value);
		/*
		 * A CR3 load flushes the guest's TLB (KVM_REQ_TLB_FLUSH_GUEST):
		 * what it wrote to unsync tables takes effect; previous roots
		 * with unsync pages below go.
		 */
		kvm_make_request(KVM_REQ_MMU_SYNC, vcpu);
		kvm_mmu_sync_prev_roots(vcpu);
		break;
	case 4:
		a->cr4 = exit->value;
		kvm_mmu_reset_context(vcpu);
		break;
	case KVMMU_CR_EFER:
		/* LMA is the CPU's to say: it follows LME and PG. */
		a->efer = exit->value & ~EFER_LMA;
		if ((a->efer & EFER_LME) && (a->cr0 & X86_CR0_PG))
			a->efer |= EFER_LMA;
		kvm_mmu_reset_context(vcpu);
		break;
	default:
		WARN_ONCE(1, "unknown control register %u", exit->cr);
		return -EIO;
	}
	if (is_pae_paging(a)) {
		load_pdptrs(vcpu);
		/* The PAE root follows the PDPTEs: a new one at the next entry. */
		kvm_mmu_unload(vcpu);
	}
	kvm_regs_to_hw(vcpu);
	vcpu->kvm->hw->skip_instruction(vcpu->hw);
	return 1;
}

/* Returns 1 to enter the guest again, 0 to return to userspace, or -errno. */
static int kvm_handle_exit(struct kvm_vcpu *vcpu, const struct kvmmu_exit *exit,
			   struct kvmmu_run *run)
{
	struct kvm *kvm = vcpu->kvm;
	u64 error_code;
	int r;

	kvm_stat_inc(vcpu->stat.exits);
	/*
	 * Shadow paging: the registers the exit handlers use (CPL, RFLAGS,
	 * PKRU) are read at each exit, as KVM reads them from the VMCS; the
	 * CPU cannot change CR0/CR3/CR4/EFER itself in this mode.
	 */
	if (!kvm->arch.tdp_enabled)
		kvm_regs_from_hw(vcpu);
	/* Every exit drains the PML log first (VMX does it for all exits). */
	if (kvm->arch.cpu_dirty_log_size)
		vmx_flush_pml_buffer(vcpu);
	switch (exit->reason) {
	case KVMMU_EXIT_INTR:
		kvm_stat_inc(vcpu->stat.irq_exits);
		return 1;
	case KVMMU_EXIT_PML_FULL:
		/* The log was drained above: the write runs again. */
		return 1;
	case KVMMU_EXIT_HLT:
		kvm_stat_inc(vcpu->stat.halt_exits);
		run->exit_reason = KVM_EXIT_HLT;
		return 0;
	case KVMMU_EXIT_EPT_VIOLATION:
		error_code = kvm->arch.masks.ept ?
			     ept_violation_error_code(exit->exit_qualification) :
			     exit->error_code;
		/* The access, for a store KVM may have to emulate (L1 writing its EPT). */
		vcpu->arch.exit = *exit;
		r = kvm_mmu_page_fault(vcpu, exit->gpa, error_code);
		break;
	case KVMMU_EXIT_EPT_MISCONFIG:
		/* An MMIO SPTE: the reserved-bit fault of the 64-bit format. */
		r = kvm_mmu_page_fault(vcpu, exit->gpa, PFERR_RSVD_MASK);
		break;
	case KVMMU_EXIT_PAGE_FAULT:
		/* Shadow paging: a #PF, the guest's own or a missing SPTE. */
		vcpu->arch.exit = *exit;
		r = kvm_mmu_page_fault(vcpu, exit->gva, exit->error_code);
		break;
	case KVMMU_EXIT_CR_ACCESS:
		return kvm_handle_cr_access(vcpu, exit);
	case KVMMU_EXIT_INVLPG:
		kvm_mmu_invlpg(vcpu, exit->gva);
		kvm->hw->skip_instruction(vcpu->hw);
		return 1;
	case KVMMU_EXIT_VMLAUNCH:
	case KVMMU_EXIT_INVEPT:
	case KVMMU_EXIT_VMCALL:
		if (!kvm->arch.tdp_enabled) {
			WARN_ONCE(1, "nested VMX without EPT");
			return -EIO;
		}
		return kvm_handle_nested_exit(vcpu, exit, run);
	default:
		WARN_ONCE(1, "unknown exit reason %d", exit->reason);
		return -EIO;
	}
	if (r == 0) {
		/*
		 * MMIO, or a write to read-only memory: the access is
		 * emulated (reads see zeroes, writes go nowhere) and
		 * userspace hears of it.
		 */
		kvm->hw->skip_instruction(vcpu->hw);
		kvm_stat_inc(vcpu->stat.mmio_exits);
		run->exit_reason = KVM_EXIT_MMIO;
		run->gpa = kvm->arch.tdp_enabled && !vcpu->arch.nested.guest_mode ?
				   exit->gpa : vcpu->arch.mmio_gpa;
	}
	return r;
}

static int vcpu_enter_guest(struct kvm_vcpu *vcpu, struct kvmmu_run *run)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	struct kvmmu_exit exit = { .reason = KVMMU_EXIT_INTR };
	struct kvmmu_entry entry;
	int r;

	if (kvm_request_pending(vcpu)) {
		if (kvm_check_request(KVM_REQ_VM_DEAD, vcpu))
			return -EIO;
		if (kvm_check_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, vcpu))
			kvm_mmu_free_obsolete_roots(vcpu);
		if (kvm_check_request(KVM_REQ_MMU_SYNC, vcpu))
			kvm_mmu_sync_roots(vcpu);
		/* "All" first: it covers "current". */
		if (kvm_check_request(KVM_REQ_TLB_FLUSH, vcpu))
			kvm_vcpu_flush_tlb_all(vcpu);
		if (kvm_check_request(KVM_REQ_TLB_FLUSH_CURRENT, vcpu))
			kvm_vcpu_flush_tlb_current(vcpu);
		if (kvm_check_request(KVM_REQ_UPDATE_CPU_DIRTY_LOGGING, vcpu))
			vmx_update_cpu_dirty_logging(vcpu);
		/* Not runnable until userspace harvests and resets the ring. */
		if (kvm_check_request(KVM_REQ_DIRTY_RING_SOFT_FULL, vcpu) &&
		    kvm_dirty_ring_soft_full(&vcpu->dirty_ring)) {
			kvm_make_request(KVM_REQ_DIRTY_RING_SOFT_FULL, vcpu);
			run->exit_reason = KVM_EXIT_DIRTY_RING_FULL;
			return 0;
		}
	}

	if (!kvm->arch.tdp_enabled)
		kvm_regs_from_hw(vcpu);
	r = kvm_mmu_reload(vcpu);
	if (unlikely(r))
		return r;

	/* kvm_mmu_reload() may have loaded L2's root for a nested entry: the MMU now. */
	mmu = vcpu->arch.mmu;
	entry = (struct kvmmu_entry){
		.root_pfn = mmu->root.hpa >> PAGE_SHIFT,
		.root_level = mmu->root_role.level,
		.npt = !kvm->arch.masks.ept,
		/* An L2 root has A/D only if L1's EPT pointer asked for them (construct_eptp()). */
		.ad_enabled = kvm->arch.masks.ad_enabled && !mmu->root_role.ad_disabled,
		.kick_req = &vcpu->kick_req,
		.kick_ack = &vcpu->kick_ack,
		/* L2's writes are logged by write protection (SPTE_TDP_AD_WRPROT_ONLY), not PML. */
		.pml_buf = vcpu->arch.pml_enabled && !vcpu->arch.nested.guest_mode ?
				   vcpu->arch.pml_pg : NULL,
		.pml_index = &vcpu->arch.pml_index,
		.shadow_paging = !kvm->arch.tdp_enabled,
		/* As KVM: no protection keys for the guest without TDP. */
		.no_pku = !kvm->arch.tdp_enabled,
		.guest_mode = vcpu->arch.nested.guest_mode,
	};

	/* Kicks sent while outside guest mode found the request already set. */
	kvm_vcpu_ack_kicks(vcpu);
	kvm_vcpu_set_mode(vcpu, IN_GUEST_MODE);
	srcu_read_unlock(&kvm->srcu, vcpu->srcu_idx);

	/*
	 * Now that the mode says IN_GUEST_MODE, a sender either kicks us or
	 * made its request before our mode exchange, so we see it here.
	 */
	if (atomic_load(&vcpu->mode) == EXITING_GUEST_MODE || kvm_request_pending(vcpu) ||
	    atomic_load(&vcpu->sigpending)) {
		kvm_vcpu_set_mode(vcpu, OUTSIDE_GUEST_MODE);
		kvm_vcpu_ack_kicks(vcpu);
		vcpu->srcu_idx = srcu_read_lock(&kvm->srcu);
		return 1;
	}
	kvmmu_observe(KVMMU_EV_VCPU_MODE, vcpu, .vcpu = vcpu->vcpu_id,
		      .old_mode = atomic_load(&vcpu->mode), .new_mode = atomic_load(&vcpu->mode),
		      .entered = true);

	r = kvm->hw->run(vcpu->hw, &entry, &exit);

	kvm_vcpu_set_mode(vcpu, OUTSIDE_GUEST_MODE);
	kvm_vcpu_ack_kicks(vcpu);
	vcpu->srcu_idx = srcu_read_lock(&kvm->srcu);
	if (r)
		return r;
	return kvm_handle_exit(vcpu, &exit, run);
}

int kvm_arch_vcpu_ioctl_run(struct kvm_vcpu *vcpu, struct kvmmu_run *run)
{
	struct kvm *kvm = vcpu->kvm;
	int r;

	memset(run, 0, sizeof(*run));
	vcpu->srcu_idx = srcu_read_lock(&kvm->srcu);
	for (;;) {
		if (atomic_exchange(&vcpu->sigpending, false)) {
			run->exit_reason = KVM_EXIT_INTR;
			if (vcpu->hwpoison_pending) {
				/* The kernel's SIGBUS (BUS_MCEERR_AR) for guest memory. */
				vcpu->hwpoison_pending = false;
				run->gpa = vcpu->hwpoison_gpa;
				r = -EHWPOISON;
			} else {
				r = -EINTR;
			}
			break;
		}
		r = vcpu_enter_guest(vcpu, run);
		if (r <= 0)
			break;
		cond_resched();
	}
	srcu_read_unlock(&kvm->srcu, vcpu->srcu_idx);
	return r;
}

/* ---- memslots ------------------------------------------------------------------------- */

gfn_t kvm_mmu_max_gfn(struct kvm *kvm)
{
	return kvm_mmu_max_gfn_of(kvm);
}

int kvm_arch_prepare_memory_region(struct kvm *kvm, const struct kvm_memory_slot *old,
				   struct kvm_memory_slot *new, enum kvm_mr_change change)
{
	if (change == KVM_MR_CREATE || change == KVM_MR_MOVE) {
		/* Nothing can be mapped above kvm_mmu_max_gfn() (MAXPHYADDR with TDP). */
		if (new->base_gfn + new->npages - 1 > kvm_mmu_max_gfn(kvm))
			return -EINVAL;
		return kvm_mmu_alloc_memslot_metadata(kvm, new);
	}
	if (change == KVM_MR_FLAGS_ONLY)
		memcpy(&new->arch, &old->arch, sizeof(old->arch));
	else if (WARN_ON_ONCE(change != KVM_MR_DELETE))
		return -EIO;
	return 0;
}

int kvmmu_vm_set_nr_mmu_pages(struct kvm *kvm, unsigned long nr_mmu_pages)
{
	if (!kvm)
		return -EBADF;
	if (nr_mmu_pages < KVM_MIN_ALLOC_MMU_PAGES)
		return -EINVAL;
	mutex_lock(&kvm->slots_lock);
	kvm_mmu_change_mmu_pages(kvm, nr_mmu_pages);
	kvm->arch.n_requested_mmu_pages = nr_mmu_pages;
	mutex_unlock(&kvm->slots_lock);
	return 0;
}

unsigned long kvmmu_vm_get_nr_mmu_pages(struct kvm *kvm)
{
	if (!kvm)
		return 0;
	return READ_ONCE(kvm->arch.n_max_mmu_pages);
}

void kvm_arch_commit_memory_region(struct kvm *kvm, struct kvm_memory_slot *old,
				   const struct kvm_memory_slot *new, enum kvm_mr_change change)
{
	/* The shadow page budget follows guest memory, unless userspace set one. */
	if (!kvm->arch.n_requested_mmu_pages &&
	    (change == KVM_MR_CREATE || change == KVM_MR_DELETE))
		kvm_mmu_change_mmu_pages(kvm, kvm_mmu_calculate_default_mmu_pages(kvm));
	kvm_mmu_slot_apply_flags(kvm, old, new, change);
	/* A moved slot got new metadata; the old arrays are poisoned by the caller. */
}

void kvm_arch_free_memslot(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	kvm_mmu_free_memslot_metadata(kvm, slot);
}

void kvm_arch_poison_memslot(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	kvm_mmu_poison_memslot_metadata(kvm, slot);
}

u64 kvm_arch_memslot_metadata_bytes(const struct kvm_memory_slot *slot)
{
	return kvm_mmu_memslot_metadata_bytes(slot);
}

void kvm_arch_memslots_updated(struct kvm *kvm, u64 gen)
{
	kvm_mmu_invalidate_mmio_sptes(kvm, gen);
}
