/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KVM uAPI that kvmmu uses and that Debian's Linux 6.1 <linux/kvm.h> lacks.
 *
 * Everything else (struct kvm_userspace_memory_region, kvm_dirty_log,
 * kvm_clear_dirty_log, kvm_dirty_gfn, KVM_MEM_*, KVM_DIRTY_LOG_*, ...) comes
 * from <linux/kvm.h> itself.  Layouts are those of upstream Linux and are
 * pinned with static_assert so a mistake cannot compile.
 */
#ifndef KVMMU_UAPI_H
#define KVMMU_UAPI_H

#include <assert.h>
#include <stddef.h>
#include <linux/kvm.h>

/* ---- KVM_SET_USER_MEMORY_REGION2 (Linux 6.8) ---------------------------- */

#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2 231

struct kvm_userspace_memory_region2 {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;    /* bytes */
	__u64 userspace_addr; /* start of the userspace allocated memory */
	__u64 guest_memfd_offset;
	__u32 guest_memfd;
	__u32 pad1;
	__u64 pad2[14];
};

#define KVM_SET_USER_MEMORY_REGION2                                           \
	_IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
#endif

#ifndef KVM_MEM_GUEST_MEMFD
#define KVM_MEM_GUEST_MEMFD (1UL << 2)
#endif

static_assert(sizeof(struct kvm_userspace_memory_region2) == 160,
	      "kvm_userspace_memory_region2 is 160 bytes");
static_assert(offsetof(struct kvm_userspace_memory_region2, guest_memfd_offset) == 32,
	      "guest_memfd_offset at 32");
static_assert(offsetof(struct kvm_userspace_memory_region2, guest_memfd) == 40,
	      "guest_memfd at 40");
static_assert(offsetof(struct kvm_userspace_memory_region2, pad2) == 48,
	      "pad2 at 48");
/* The v1 struct is a prefix of v2. */
static_assert(offsetof(struct kvm_userspace_memory_region2, userspace_addr) ==
		      offsetof(struct kvm_userspace_memory_region, userspace_addr),
	      "region2 extends region");

/* ---- KVM_PRE_FAULT_MEMORY (Linux 6.10) ---------------------------------- */

#ifndef KVM_CAP_PRE_FAULT_MEMORY
#define KVM_CAP_PRE_FAULT_MEMORY 236

struct kvm_pre_fault_memory {
	__u64 gpa;
	__u64 size;
	__u64 flags;
	__u64 padding[5];
};

#define KVM_PRE_FAULT_MEMORY _IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)
#endif

static_assert(sizeof(struct kvm_pre_fault_memory) == 64,
	      "kvm_pre_fault_memory is 64 bytes");
static_assert(offsetof(struct kvm_pre_fault_memory, flags) == 16, "flags at 16");

/* ---- x86 quirks (Linux 6.12) -------------------------------------------- */

#ifndef KVM_X86_QUIRK_SLOT_ZAP_ALL
#define KVM_X86_QUIRK_SLOT_ZAP_ALL (1 << 7)
#endif

#ifndef KVM_CAP_VM_TYPES
#define KVM_CAP_VM_TYPES 235
#endif

#ifndef KVM_X86_DEFAULT_VM
#define KVM_X86_DEFAULT_VM 0
#endif

/* ---- dirty ring with a bitmap for writes without a vCPU (Linux 6.3) ----- */

#ifndef KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP
#define KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP 225
#endif

static_assert(sizeof(struct kvm_dirty_gfn) == 16, "kvm_dirty_gfn is 16 bytes");
static_assert(sizeof(struct kvm_clear_dirty_log) == 24, "kvm_clear_dirty_log is 24 bytes");

#endif /* KVMMU_UAPI_H */
