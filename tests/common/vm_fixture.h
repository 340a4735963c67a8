/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small VM for tests: a host (frames and an address space), a fake CPU,
 * a VM with vCPUs, and guest memory mapped at a chosen hva with a memslot
 * over it.  Teardown checks that nothing leaked: no page tables, no page
 * references, no frames beyond the host's own, no WARN.
 */
#ifndef KVMMU_TESTS_COMMON_VM_FIXTURE_H
#define KVMMU_TESTS_COMMON_VM_FIXTURE_H

#include <kvmmu/kvm.h>

#include "fake_hw.h"
#include "host_mm.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "thread.h"

#define FIX_MAX_VCPUS 4
#define FIX_HVA_BASE (64UL << 30) /* 1 GiB aligned */

struct vm_fixture_opts {
	u64 mem_size;         /* guest memory (one slot); 0: none */
	gpa_t gpa;            /* where the slot starts */
	u32 slot_flags;       /* KVM_MEM_* */
	unsigned long vm_flags; /* of the backing VMA: VM_HUGEPAGE for THP */
	enum host_backing backing; /* ANON (default), FILE, HUGETLB, DRIVER */
	unsigned int order;   /* HUGETLB: 9 or 18; DRIVER: block order */
	bool file_thp;        /* FILE: the page cache uses 2M folios */
	bool tag_mode;        /* guest frames hold one word (the fake CPU uses it) */
	enum kvmmu_tdp_format format;
	bool ad_disabled;
	bool nx_huge_pages;
	bool no_eager_split;
	int tdp_level;        /* 0: 4 */
	int nr_vcpus;
	u64 nr_frames;        /* 0: enough for mem_size and tables */
	const struct kvmmu_host_ops *host_ops; /* NULL: the host model's */
	u32 dirty_ring_bytes; /* enable KVM_CAP_DIRTY_LOG_RING before vCPUs */
	bool real_hw;         /* src/hw's CPU (TLB, walker) instead of the fake one */
	u64 manual_protect;   /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 args[0] */
};

struct vm_fixture {
	struct host_phys *phys;
	struct mm_struct *mm;
	struct fake_hw hw;
	struct hw_machine *machine; /* real_hw */
	struct kvm *kvm;
	struct kvm_vcpu *vcpus[FIX_MAX_VCPUS];
	int nr_vcpus;
	struct host_file *file; /* FILE backing */
	u64 kept_frames;        /* frames the host keeps for good (hwpoison) */
	unsigned long hva;
	gpa_t gpa;
	u64 size;
};

int vm_fixture_create(struct vm_fixture *f, const struct vm_fixture_opts *o);
/* Destroy everything; returns -1 (after printing why) if anything leaked. */
int vm_fixture_destroy(struct vm_fixture *f);

/* Run @vcpu's program to its end (KVM_EXIT_HLT); returns KVM_RUN's result. */
int fix_run(struct vm_fixture *f, int vcpu, struct kvmmu_run *run);
/*
 * Run until HLT, passing through MMIO exits; returns the MMIO exits seen,
 * or -errno, or -1000 - exit_reason for any other exit.  The _to_ variant
 * asserts success (test thread only).
 */
int fix_run_until_hlt(struct vm_fixture *f, int vcpu);
int fix_run_to_hlt(struct vm_fixture *f, int vcpu);

/* The leaf SPTE mapping @gpa in @vcpu's root and its level; 0 if none. */
u64 fix_leaf_spte(struct vm_fixture *f, int vcpu, gpa_t gpa, int *level);
/* Present leaves mapping gfns in [gpa, gpa + len) in @vcpu's root. */
u64 fix_count_leaves(struct vm_fixture *f, int vcpu, gpa_t gpa, u64 len);

/* A vCPU thread that runs its program to HLT; join returns fix_run_until_hlt(). */
struct kvmmu_thread *fix_start_vcpu(struct vm_fixture *f, int vcpu);

/* Guest memory contents through the host: the word at @gpa. */
u64 fix_host_read(struct vm_fixture *f, gpa_t gpa);

/* The simulated CPU of vCPU @i (real_hw). */
static inline struct kvmmu_hw_vcpu *fix_hwv(struct vm_fixture *f, int i)
{
	return f->vcpus[i]->hw;
}

#endif /* KVMMU_TESTS_COMMON_VM_FIXTURE_H */
