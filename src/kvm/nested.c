// SPDX-License-Identifier: GPL-2.0-only
/*
 * Nested VMX, as far as the MMU goes (the kernel's arch/x86/kvm/vmx/nested.c):
 * L1, a hypervisor running in a VM, runs L2 with EPT tables of its own.  KVM
 * emulates L1's VMLAUNCH/VMRESUME and INVEPT, shadows L1's EPT tables for L2
 * (the shadow MMU on top of the TDP MMU that maps L1, with guest_mode roles),
 * and reflects to L1 the exits that are L1's to handle: an EPT violation or
 * misconfiguration in L1's tables, a VMCALL.
 *
 * Not modelled: VMCS shadowing and the rest of vmcs12 (L1 hands over only
 * its EPT pointer), VPID (L1 runs unpaged in kvmmu, and L2's linear
 * translations carry no VPID tag), nested PML and nested NPT.
 */
#include <errno.h>

#include "kvm_host.h"
#include "mmu.h"
#include "observe.h"

/*
 * A VM exit from L2 to L1 (nested_vmx_vmexit()): the vCPU leaves guest
 * mode, its MMU is L1's again, and the CPU runs L1's handler for @e.
 */
static void nested_vmx_vmexit(struct kvm_vcpu *vcpu, const struct kvmmu_exit *e)
{
	kvm_mmu_nested_exit(vcpu);
	kvm_stat_inc(vcpu->arch.nested.vmexits);
	kvmmu_observe(KVMMU_EV_NESTED, nested, .vcpu = vcpu->vcpu_id, .what = KVMMU_NESTED_VMEXIT,
		      .gpa = e->gpa, .eptp = vcpu->arch.nested.eptp);
	vcpu->kvm->hw->nested_vmexit(vcpu->hw, e);
}

/*
 * A walk of L1's EPT tables failed (nested_ept_inject_page_fault()): L1
 * gets the EPT violation, or the misconfiguration, at the L2 gpa.
 */
void nested_ept_inject_page_fault(struct kvm_vcpu *vcpu, const struct x86_exception *fault)
{
	struct kvmmu_exit e = {
		.reason = fault->ept_misconfig ? KVMMU_EXIT_EPT_MISCONFIG : KVMMU_EXIT_EPT_VIOLATION,
		.gpa = fault->address,
		.exit_qualification = fault->ept_misconfig ? 0 : fault->exit_qualification,
	};

	nested_vmx_vmexit(vcpu, &e);
}

/*
 * L1's VMLAUNCH or VMRESUME (nested_vmx_run()): enter L2 with the EPT
 * pointer L1 gave.  1 to run on (L2, or L1 after a failed entry), 0 with
 * KVM_EXIT_FAIL_ENTRY for userspace when the EPT pointer is unusable.
 */
static int nested_vmx_run(struct kvm_vcpu *vcpu, const struct kvmmu_exit *exit,
			  struct kvmmu_run *run)
{
	if (WARN_ON_ONCE(vcpu->arch.nested.guest_mode))
		return -EIO;
	if (kvm_mmu_nested_enter(vcpu, exit->value)) {
		run->exit_reason = KVM_EXIT_FAIL_ENTRY;
		return 0;
	}
	kvm_stat_inc(vcpu->stat.nested_run);
	kvmmu_observe(KVMMU_EV_NESTED, nested, .vcpu = vcpu->vcpu_id,
		      .what = KVMMU_NESTED_VMENTRY, .eptp = exit->value);
	vcpu->kvm->hw->skip_instruction(vcpu->hw);
	return 1;
}

/* L1's INVEPT (handle_invept()): a bad type or pointer fails it and changes nothing. */
static int handle_invept(struct kvm_vcpu *vcpu, const struct kvmmu_exit *exit)
{
	int r = kvm_mmu_invept(vcpu, (int)exit->type, exit->value);

	kvmmu_observe(KVMMU_EV_NESTED, nested, .vcpu = vcpu->vcpu_id, .what = KVMMU_NESTED_INVEPT,
		      .eptp = exit->value, .type = exit->type, .failed = r != 0);
	vcpu->kvm->hw->skip_instruction(vcpu->hw);
	return 1;
}

/*
 * The nested exits: L1's VMX instructions, and L2's exits that L1 wants
 * (a VMCALL, always).  Returns 1 to enter again, 0 for userspace, -errno,
 * or -ENOENT when the exit is not a nested one.
 */
int kvm_handle_nested_exit(struct kvm_vcpu *vcpu, const struct kvmmu_exit *exit,
			   struct kvmmu_run *run)
{
	switch (exit->reason) {
	case KVMMU_EXIT_VMLAUNCH:
		return nested_vmx_run(vcpu, exit, run);
	case KVMMU_EXIT_INVEPT:
		if (WARN_ON_ONCE(vcpu->arch.nested.guest_mode))
			return -EIO;
		return handle_invept(vcpu, exit);
	case KVMMU_EXIT_VMCALL:
		if (WARN_ON_ONCE(!vcpu->arch.nested.guest_mode))
			return -EIO;
		nested_vmx_vmexit(vcpu, exit);
		return 1;
	default:
		return -ENOENT;
	}
}
