/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small VM for tests, built by the world layer: a host (frames and an
 * address space), a fake CPU (or the simulated one), a VM with vCPUs, and
 * guest memory with a memslot over it.  Teardown checks that nothing
 * leaked: no page tables, no page references, no frames beyond those the
 * host keeps for good.
 */
#ifndef KVMMU_TESTS_COMMON_VM_FIXTURE_H
#define KVMMU_TESTS_COMMON_VM_FIXTURE_H

#include <kvmmu/kvm.h>

#include "fake_hw.h"
#include "host_mm.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "thread.h"
#include "world.h"

#define FIX_MAX_VCPUS 4

/* The fixture's shorthand for a world_config: one region, one memslot. */
struct vm_fixture_opts {
	u64 mem_size;         /* guest memory (one slot); 0: none */
	gpa_t gpa;            /* where the slot starts */
	u32 slot_flags;       /* KVM_MEM_* */
	enum world_backing backing;
	u64 pfnmap_block;     /* PFNMAP: bytes per driver block (0: 2M) */
	bool tag_mode;        /* guest frames hold one word (the fake CPU uses it) */
	enum kvmmu_tdp_format format;
	bool ad_disabled;
	bool nx_huge_pages;
	bool no_eager_split;
	int tdp_level;        /* 0: 4 */
	int nr_vcpus;
	u64 nr_frames;        /* 0: the world's default */
	const struct kvmmu_host_ops *host_ops; /* NULL: the host model's */
	u32 dirty_ring_bytes; /* enable KVM_CAP_DIRTY_LOG_RING before vCPUs */
	bool real_hw;         /* src/hw's CPU (TLB, walker) instead of the fake one */
	u64 manual_protect;   /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 args[0] */
	enum world_mmu mmu;   /* 0: the TDP MMU; WORLD_MMU_TDP_LEGACY: the shadow MMU */
	int nr_address_spaces; /* 0: 2 (normal and SMM) */
};

/*
 * A world (w.kvm, w.vcpus, w.mm, w.phys; the guest memory is w.cfg.mem[0]),
 * and the fake CPU it runs on unless real_hw.
 */
struct vm_fixture {
	struct world w;
	struct fake_hw hw;
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
	return f->w.vcpus[i]->hw;
}

#endif /* KVMMU_TESTS_COMMON_VM_FIXTURE_H */
