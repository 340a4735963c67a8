/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The VM API: what the KVM ioctls do, as calls.
 *
 * Each call follows the ioctl of the same name in the KVM API documentation,
 * takes the same uAPI structures (<linux/kvm.h>, kvmmu/uapi.h), and returns 0
 * or the -errno KVM returns.  struct kvm and struct kvm_vcpu are opaque.
 *
 * Bad input never harms the VM: a rejected call changes nothing (or what
 * KVM changes before it fails), and the VM keeps working.  A NULL struct
 * kvm or struct kvm_vcpu is a file descriptor that is not open: -EBADF.  A
 * user structure or buffer that cannot be copied (NULL, in the zero page,
 * reaching past the user address limit) is -EFAULT, as when
 * copy_from_user() or copy_to_user() fails.  Calls without a return value
 * ignore a NULL handle.  docs/api-errors.md lists the errnos of each call.
 */
#ifndef KVMMU_KVM_H
#define KVMMU_KVM_H

#include <stdbool.h>
#include <stdint.h>

#include <kvmmu/host.h>
#include <kvmmu/hw.h>
#include <kvmmu/uapi.h>

struct kvm;
struct kvm_vcpu;

enum kvmmu_tdp_format {
	KVMMU_TDP_EPT, /* Intel EPT */
	KVMMU_TDP_NPT, /* AMD NPT: the 64-bit page-table format */
};

struct kvmmu_vm_config {
	unsigned long type;                   /* KVM_CREATE_VM's type: KVM_X86_DEFAULT_VM */
	struct mm_struct *mm;                 /* the VMM's address space */
	const struct kvmmu_host_ops *host_ops;
	const struct kvmmu_hw_ops *hw_ops;
	void *hw;                             /* passed to hw_ops->vcpu_create */
	enum kvmmu_tdp_format format;
	int tdp_level;        /* 4 or 5 */
	int phys_bits;        /* host MAXPHYADDR; 46 by default */
	/*
	 * The memslot address spaces (KVM_CAP_MULTI_ADDRESS_SPACE): 2, normal
	 * and SMM (0 means 2), or 1, as a KVM built without CONFIG_KVM_SMM
	 * has; a slot of another address space is then -EINVAL.
	 */
	int nr_address_spaces;
	bool ad_disabled;     /* EPT without A/D bits: access tracking */
	/*
	 * KVM's tdp_mmu parameter: the TDP MMU (true, the default), or TDP
	 * through the shadow MMU's direct pages, as with tdp_mmu=0.
	 */
	bool tdp_mmu;
	/*
	 * KVM's ept/npt parameter: two-dimensional paging (true, the
	 * default), or shadow paging: KVM shadows the guest's own page tables
	 * in tables of the 64-bit x86 format that the CPU walks by linear
	 * address (tdp_mmu is then ignored: the shadow MMU does it all).
	 */
	bool tdp_enabled;
	bool nx_huge_pages;   /* the iTLB-multihit mitigation */
	bool eager_page_split;
	/*
	 * Page-modification logging (VMX enable_pml): dirty logging clears D
	 * instead of W, and the CPU logs the writes that set D.  EPT with A/D
	 * only.
	 */
	bool pml;
	/*
	 * Where the sequence counters start (kvmmu's, for tests: a VM that
	 * has lived long): mmu_invalidate_seq, and the memslot generation (a
	 * multiple of the number of address spaces, below bit 63, KVM's
	 * update-in-progress flag), whose low 19 bits are the MMIO
	 * generation.  0 and 0, as KVM starts them.
	 */
	uint64_t mmu_invalidate_seq_start;
	uint64_t memslot_generation_start;
};

/* Defaults: EPT, 4 levels, A/D on, the TDP MMU, no NX mitigation, eager splitting. */
void kvmmu_vm_config_init(struct kvmmu_vm_config *cfg);

/*
 * KVM_CREATE_VM.  -EINVAL for an impossible configuration, or for a VM type
 * kvmmu does not support (it has KVM_X86_DEFAULT_VM only), as KVM returns.
 */
int kvmmu_vm_create(const struct kvmmu_vm_config *cfg, struct kvm **out);
/* Destroy the VM: every vCPU, memslot and page table goes. */
void kvmmu_vm_destroy(struct kvm *kvm);

/*
 * KVM_ENABLE_CAP: MANUAL_DIRTY_LOG_PROTECT2, DIRTY_LOG_RING(_ACQ_REL),
 * DIRTY_LOG_RING_WITH_BITMAP, DISABLE_QUIRKS(2).  -EINVAL for anything else.
 */
int kvmmu_vm_enable_cap(struct kvm *kvm, const struct kvm_enable_cap *cap);

/*
 * KVM_CHECK_EXTENSION on the VM's fd: what KVM reports for @cap (0 for a
 * capability kvmmu does not have).
 */
int kvmmu_vm_check_extension(struct kvm *kvm, long cap);

/* KVM_SET_USER_MEMORY_REGION and KVM_SET_USER_MEMORY_REGION2. */
int kvmmu_set_user_memory_region(struct kvm *kvm,
				 const struct kvm_userspace_memory_region *mem);
int kvmmu_set_user_memory_region2(struct kvm *kvm,
				  const struct kvm_userspace_memory_region2 *mem);

/* KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG (log->dirty_bitmap is a pointer). */
int kvmmu_get_dirty_log(struct kvm *kvm, struct kvm_dirty_log *log);
int kvmmu_clear_dirty_log(struct kvm *kvm, struct kvm_clear_dirty_log *log);
/* KVM_RESET_DIRTY_RINGS: returns the number of entries reset, or -errno. */
int kvmmu_reset_dirty_rings(struct kvm *kvm);

/* KVM_CREATE_VCPU. */
int kvmmu_vcpu_create(struct kvm *kvm, unsigned int id, struct kvm_vcpu **out);

/* What KVM_RUN reports when it returns to userspace. */
struct kvmmu_run {
	uint32_t exit_reason; /* KVM_EXIT_* */
	uint64_t gpa;         /* KVM_EXIT_MMIO: the address */
};

/*
 * KVM_RUN: enter the guest until an exit userspace must handle (the guest
 * has nothing left to run: KVM_EXIT_HLT; MMIO; a full dirty ring).  Must be
 * called from the vCPU's own thread.  Returns 0 or -errno.
 */
int kvmmu_vcpu_run(struct kvm_vcpu *vcpu, struct kvmmu_run *run);

/*
 * A signal for the vCPU's thread: a KVM_RUN in progress (or the next one)
 * returns -EINTR with KVM_EXIT_INTR, as after a signal in the kernel.
 * Callable from any thread.
 */
void kvmmu_vcpu_signal(struct kvm_vcpu *vcpu);

/*
 * KVM_PRE_FAULT_MEMORY: map [gpa, gpa + size) as a read fault would,
 * without marking it accessed.  Advances range->gpa and shrinks
 * range->size by what was mapped.  Returns 0 if anything was mapped, else
 * -errno: -ENOENT (no memslot, or MMIO), -EAGAIN (the slot is being
 * deleted or moved), -EINTR, -EIO, -EINVAL.
 */
int kvmmu_vcpu_pre_fault_memory(struct kvm_vcpu *vcpu, struct kvm_pre_fault_memory *range);

/*
 * One pass of NX huge page recovery (the kvm-nx-lpage-recovery thread's
 * work): zap about 1/@ratio of the tables the NX mitigation split, so
 * non-exec accesses can map huge pages again.  Returns the number zapped.
 */
int kvmmu_vm_recover_nx_huge_pages(struct kvm *kvm, unsigned int ratio);

/*
 * KVM_SET_NR_MMU_PAGES: the shadow MMU's page budget (-EINVAL below 64);
 * over it, the oldest pages no vCPU uses as a root are recycled.  Once set,
 * memslot changes no longer size it.  KVM_GET_NR_MMU_PAGES returns it.
 */
int kvmmu_vm_set_nr_mmu_pages(struct kvm *kvm, unsigned long nr_mmu_pages);
unsigned long kvmmu_vm_get_nr_mmu_pages(struct kvm *kvm);

/*
 * The vCPU's dirty ring (the mmap of KVM_DIRTY_LOG_PAGE_OFFSET) and its
 * number of entries; NULL (and 0 entries) without a ring, a vCPU or @nr_entries.
 */
struct kvm_dirty_gfn *kvmmu_vcpu_dirty_ring(struct kvm_vcpu *vcpu,
					    uint32_t *nr_entries);

/* ---- statistics, named as KVM names them --------------------------------- */

struct kvmmu_stat_desc {
	const char *name;
	bool cumulative; /* a counter; else an instant value or a peak */
};

/*
 * The VM's statistics: fills @values (up to @n) and returns their number;
 * -EINVAL for a negative @n, -EFAULT if @values is NULL and @n is not 0.
 */
int kvmmu_vm_stats(struct kvm *kvm, uint64_t *values, int n);
const struct kvmmu_stat_desc *kvmmu_vm_stat_descs(int *n);
int kvmmu_vcpu_stats(struct kvm_vcpu *vcpu, uint64_t *values, int n);
const struct kvmmu_stat_desc *kvmmu_vcpu_stat_descs(int *n);
/* One statistic by name; -1ULL if there is no such statistic (or no name, VM or vCPU). */
uint64_t kvmmu_vm_stat(struct kvm *kvm, const char *name);
uint64_t kvmmu_vcpu_stat(struct kvm_vcpu *vcpu, const char *name);

#endif /* KVMMU_KVM_H */
