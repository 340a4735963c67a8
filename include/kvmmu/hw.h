/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The hardware contract: what KVM's vCPU run loop asks of the (simulated)
 * CPU, as KVM's x86 code asks it of VMX or SVM.
 *
 * At VM entry the core hands the hardware the root of the SPTE tables and
 * the vCPU's kick words; the hardware runs guest code until something makes
 * it exit: a TDP fault (EPT violation / NPF), an EPT misconfiguration (an
 * MMIO SPTE), an interrupt (a kick: *kick_req != *kick_ack), or the end of
 * what it had to run.  The hardware keeps translations cached in its TLB
 * until the core tells it to flush, exactly as silicon may.
 *
 * The hardware walks SPTE tables in physical memory; it learns where that
 * memory is from the host (the direct map of include/kvmmu/host.h), never
 * from the core, and reads only architectural bits.
 */
#ifndef KVMMU_HW_H
#define KVMMU_HW_H

#include <stdbool.h>
#include <stdint.h>

struct kvmmu_hw_vcpu; /* the hardware's per-vCPU state (TLB, program) */

enum kvmmu_exit_reason {
	KVMMU_EXIT_INTR,           /* an interrupt (kick): guest mode was left */
	KVMMU_EXIT_EPT_VIOLATION,  /* a TDP fault at .gpa; .error_code as PFERR */
	KVMMU_EXIT_EPT_MISCONFIG,  /* an MMIO or misconfigured SPTE at .gpa */
	KVMMU_EXIT_HLT,            /* nothing left to run */
	KVMMU_EXIT_PML_FULL,       /* a write would log to a full PML buffer */
	/* Shadow paging only (kvmmu_entry.shadow_paging): */
	KVMMU_EXIT_PAGE_FAULT,     /* a #PF at .gva, .error_code as the CPU reports it */
	KVMMU_EXIT_CR_ACCESS,      /* MOV to CR0/CR3/CR4 or WRMSR EFER (.cr) of .value */
	KVMMU_EXIT_INVLPG,         /* INVLPG .gva */
	/*
	 * Nested VMX (kvmmu_entry.guest_mode tells which level runs): L1's
	 * VMLAUNCH/VMRESUME of L2 with the EPT pointer in .value (the one it
	 * wrote to its VMCS); L1's INVEPT of type .type for EPTP .value; L2's
	 * VMCALL, .value its operand and .gpa its argument, which L1 handles.
	 */
	KVMMU_EXIT_VMLAUNCH,
	KVMMU_EXIT_INVEPT,
	KVMMU_EXIT_VMCALL,
};

/* kvmmu_exit.cr for a WRMSR to EFER. */
#define KVMMU_CR_EFER 0xc0000080

/*
 * The access an exit interrupted, as KVM's emulator would decode it from
 * the instruction: what it does, how wide, and a store's value.
 */
/* STOS: a store by a string instruction, one the emulator does not take for a page-table write. */
enum kvmmu_insn_op { KVMMU_INSN_LOAD, KVMMU_INSN_STORE, KVMMU_INSN_FETCH, KVMMU_INSN_STOS };

struct kvmmu_insn {
	enum kvmmu_insn_op op;
	uint8_t size;                /* 1, 2, 4 or 8 */
	uint64_t value;              /* a store's */
};

struct kvmmu_exit {
	enum kvmmu_exit_reason reason;
	uint64_t gpa;
	uint64_t error_code;         /* PFERR_* bits (arch/x86_pgtable.h) */
	uint64_t exit_qualification; /* EPT violations: the SDM's encoding */
	/* Shadow paging: */
	uint64_t gva;                /* PAGE_FAULT (CR2), INVLPG */
	uint32_t cr;                 /* CR_ACCESS: 0, 3, 4 or KVMMU_CR_EFER */
	uint64_t value;              /* CR_ACCESS: the value written */
	struct kvmmu_insn insn;      /* PAGE_FAULT, EPT_VIOLATION: the access that faulted */
	uint32_t type;               /* INVEPT: 1 single-context, 2 global */
};

/*
 * The guest's register state (the VMCS guest-state area) that paging
 * depends on.  Under shadow paging the CPU runs with these: the guest's
 * CPL, RFLAGS.AC, PKRU, CR0.WP is forced on (as KVM does), EFER.NXE on,
 * and CR4's SMEP, SMAP and PKE apply to the shadow tables.  The PDPTRs
 * are what a PAE guest loaded.
 */
struct kvmmu_guest_regs {
	uint64_t cr0, cr3, cr4, efer, rflags;
	uint64_t rip; /* the next instruction's address (read only) */
	uint32_t pkru;
	uint8_t cpl;
	uint64_t pdptrs[4];
};

/* What VM entry loads. */
struct kvmmu_entry {
	uint64_t root_pfn;           /* EPTP / nCR3: the root SPTE table */
	int root_level;              /* 4 or 5 */
	bool npt;                    /* 64-bit (NPT) format, else EPT */
	bool ad_enabled;             /* the hardware sets A/D bits */
	_Atomic uint32_t *kick_req;  /* leave guest mode once these differ */
	_Atomic uint32_t *kick_ack;
	/*
	 * Page-modification logging (VMX PML; EPT with A/D only), NULL when
	 * off.  A write that sets D in a leaf SPTE first stores its 4K-aligned
	 * gpa at pml_buf[*pml_index] and decrements the index; with the index
	 * out of 0..KVMMU_PML_ENTRIES-1 the write exits (KVMMU_EXIT_PML_FULL)
	 * and sets nothing.  Both belong to the vCPU, as the VMCS fields do.
	 */
	uint64_t *pml_buf;
	uint16_t *pml_index;
	/*
	 * Shadow paging (ept=0 / npt=0): root_pfn is KVM's shadow table of
	 * the guest's linear addresses, in the 64-bit x86 format (npt is
	 * set), walked with the gva at root_level (4 or 5; 3 is a PAE root,
	 * whose four PDPTEs the CPU loads at entry), A/D set in it,
	 * the permissions checked as with the guest's registers (above).
	 * Every #PF exits (KVM intercepts #PF), and so do the guest's CR0,
	 * CR3, CR4 and EFER writes and INVLPG, which KVM emulates.
	 */
	bool shadow_paging;
	/*
	 * The guest's CPUID has no PKU: CR4.PKE is a reserved bit (#GP).  KVM
	 * offers protection keys only with TDP (its SPTEs carry no keys).
	 */
	bool no_pku;
	/*
	 * Nested EPT: run L2.  root_pfn is KVM's shadow of L1's EPT tables
	 * (EPT02), walked with L2's gpas, which are L1's business: the CPU
	 * reports them to observers as unknown gfns, with the leaf SPTE, as
	 * under shadow paging.  PML is off for L2.  Otherwise the vCPU runs
	 * L1 (a hypervisor: see hw_model.h) on root_pfn, its own EPT.
	 */
	bool guest_mode;
};

#define KVMMU_PML_ENTRIES 512

/**
 * struct kvmmu_hw_ops - the CPU, as KVM's run loop sees it
 * @vcpu_create:       the hardware side of a new vCPU.
 * @vcpu_destroy:      and its end.
 * @run:               VM entry: run guest code until an exit, which is
 *                     filled in.  Returns 0, or -errno on a hardware error.
 * @flush_tlb_all:     drop every cached translation of the vCPU.
 * @flush_tlb_current: drop the cached translations of the context of
 *                     @root_pfn, the root the vCPU runs (or is about to).
 * @skip_instruction:  the access that exited was emulated (MMIO, a
 *                     store KVM wrote itself, a CR write, INVLPG): go on
 *                     after it when the vCPU next runs.
 */
struct kvmmu_hw_ops {
	struct kvmmu_hw_vcpu *(*vcpu_create)(void *hw, int vcpu_id);
	void (*vcpu_destroy)(struct kvmmu_hw_vcpu *hv);
	int (*run)(struct kvmmu_hw_vcpu *hv, const struct kvmmu_entry *entry,
		   struct kvmmu_exit *exit);
	void (*flush_tlb_all)(struct kvmmu_hw_vcpu *hv);
	void (*flush_tlb_current)(struct kvmmu_hw_vcpu *hv, uint64_t root_pfn);
	void (*skip_instruction)(struct kvmmu_hw_vcpu *hv);
	/* Read and write the guest register state (VMREAD/VMWRITE). */
	void (*get_regs)(struct kvmmu_hw_vcpu *hv, struct kvmmu_guest_regs *regs);
	void (*set_regs)(struct kvmmu_hw_vcpu *hv, const struct kvmmu_guest_regs *regs);
	/*
	 * Deliver a #PF to the guest at the next entry: the access that exited
	 * takes it (CR2 = @gva, @error_code) and is skipped, as the guest's
	 * handler would.
	 */
	void (*inject_page_fault)(struct kvmmu_hw_vcpu *hv, uint64_t gva, uint64_t error_code);
	/* Drop the cached translations of @gva (INVLPG, emulated by KVM). */
	void (*flush_tlb_gva)(struct kvmmu_hw_vcpu *hv, uint64_t gva);
	/*
	 * Nested: a VM exit from L2 that L1 handles, which KVM reflects (an
	 * EPT violation or misconfiguration in L1's tables at the L2 gpa
	 * .gpa, with its .exit_qualification; a VMCALL): the vCPU switches
	 * to L1, which handles @e at the next entry and resumes L2 where it
	 * left off.
	 */
	void (*nested_vmexit)(struct kvmmu_hw_vcpu *hv, const struct kvmmu_exit *e);
};

#endif /* KVMMU_HW_H */
