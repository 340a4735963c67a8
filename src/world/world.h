/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The world: everything a VM runs on, assembled in one place.
 *
 * A world is a modelled host (page frames and the VMM's address space), a
 * CPU behind the hardware ops (the simulated machine of src/hw, or another
 * model such as the tests' fake CPU), a VM created as KVM_CREATE_VM creates
 * one, with its MMU and capabilities, its vCPUs, and guest memory: regions
 * the VMM maps, each covered by memslots laid out as the selftests' memstress
 * lays them out.  The checkers and mutants a driver asks for are attached to
 * it and detached from it here.
 *
 * Scenarios, workloads, benchmarks and the tests' fixture build their VMs
 * through this layer and nothing else, so that a choice (an MMU, a backing,
 * a capability) is added once and every driver gets it, and every world is
 * torn down in the same order:
 *
 *   world_create()       host, CPU, VM and its capabilities, memory and
 *                        memslots, vCPUs
 *   world_check_begin()  checkers attached, mutants on (optional)
 *   ... the driver's threads, passes or timing loops ...
 *   world_check_end()    queued RCU callbacks reported, end-of-run checks,
 *                        checkers detached but for the VM's teardown events
 *                        (world_destroy() does it if the driver has not)
 *   world_destroy()      VM (the mutants still on: a bug in teardown shows
 *                        as a leak or a violation; then the last checkers
 *                        detach), mutants off, CPU, address space,
 *                        files; then the frames still allocated are
 *                        counted (leaks) and the host frames go
 *
 * A zeroed struct world_config is the default world: 4-level EPT with A/D
 * bits, the TDP MMU, eager page splitting, no capabilities, no vCPUs, no
 * memory.  Every field says what its zero means; world_create() resolves
 * them all in one place.
 */
#ifndef KVMMU_WORLD_WORLD_H
#define KVMMU_WORLD_WORLD_H

#include <stddef.h>

#include <kvmmu/kvm.h>

#include "types.h"

struct host_phys;
struct host_file;
struct hw_machine;
struct hw_l1_vmm;
struct world;

#define WORLD_MAX_VCPUS 64
#define WORLD_MAX_MEM 4
#define WORLD_MAX_SLOTS 4096   /* memslots per region */
#define WORLD_MAX_PFNMAP_BLOCKS 1024
#define WORLD_MAX_GUEST (1ULL << 40)
#define WORLD_MAX_DATA_GUEST (64ULL << 30) /* above: tag mode only */

/*
 * The MMU.  This is the selector: a mode becomes the VM's configuration (as
 * KVM's tdp_enabled and tdp_mmu module parameters decide) in world.c and
 * nowhere else.  The shadow MMU's modes plug in here.
 */
enum world_mmu {
	WORLD_MMU_TDP,        /* two-dimensional paging on the TDP MMU */
	WORLD_MMU_TDP_LEGACY, /* two-dimensional paging on the shadow MMU's
			       * direct pages (tdp_mmu=0) */
	WORLD_MMU_SHADOW,     /* shadow paging (ept=0): the guest's own tables,
			       * shadowed; 64-bit guests only so far, and not
			       * yet offered by the CLI (world_mmu_parse()) */
	NR_WORLD_MMUS
};

const char *world_mmu_name(enum world_mmu mmu);
/*
 * "tdp", "tdp-legacy" -> enum world_mmu.  An MMU kvmmu does not have yet, or an unknown
 * name: -EINVAL with a one-line reason in @why.
 */
int world_mmu_parse(const char *s, enum world_mmu *out, char *why, size_t why_len);

/* What backs a region of guest memory in the host. */
enum world_backing {
	WORLD_BACKING_ANON,       /* private anonymous, 4K pages */
	WORLD_BACKING_THP,        /* private anonymous with MADV_HUGEPAGE */
	WORLD_BACKING_SHARED,     /* a shared file mapping, 4K page cache */
	WORLD_BACKING_SHARED_THP, /* a shared file mapping, 2M page-cache folios */
	WORLD_BACKING_HUGETLB_2M,
	WORLD_BACKING_HUGETLB_1G,
	WORLD_BACKING_PFNMAP,     /* a driver's VM_PFNMAP blocks, one VMA each */
	NR_WORLD_BACKINGS
};

/*
 * Where the VM's sequence counters start: mmu_invalidate_seq, and the
 * memslot generation (whose low 19 bits are the MMIO generation).  Code
 * that truncates or sign-extends them is wrong only far from 0: each mode
 * starts them just below a boundary, so that a run crosses it.
 */
enum world_counters {
	WORLD_COUNTERS_ZERO,      /* 0 and 0, as KVM starts them */
	WORLD_COUNTERS_2_31,      /* just below 2^31 (and the MMIO generation's wrap) */
	WORLD_COUNTERS_2_32,      /* just below 2^32 (and the MMIO generation's wrap) */
	WORLD_COUNTERS_2_63,      /* the sequence just below 2^63; the generation
				   * high, short of bit 63 (KVM's update flag) */
	WORLD_COUNTERS_MMIO_WRAP, /* the MMIO generation just below its wrap */
	NR_WORLD_COUNTERS
};

const char *world_counters_name(enum world_counters c);
int world_counters_parse(const char *s, enum world_counters *out);

const char *world_backing_name(enum world_backing b);
int world_backing_parse(const char *s, enum world_backing *out);
/* The size a region of @b must be a multiple of (PFNMAP: its default block). */
u64 world_backing_page_size(enum world_backing b);

/**
 * struct world_mem_config - a region of guest memory and its memslots
 * @size:         bytes, a multiple of the backing's page size; 0 ends the
 *                list of regions
 * @backing:      what backs it
 * @pfnmap_block: PFNMAP: bytes per driver block, one VMA each (0: 2M)
 * @hva:          where the VMM maps it (0: at the next 1 GiB boundary
 *                after the region before, the first at 1 GiB)
 * @populate:     fault every page in on the host first (MAP_POPULATE)
 * @gpa:          where its memslots start in guest-physical space
 * @nr_slots:     the memslots it is split into, evenly: each a multiple of
 *                the backing's page size (0: none; the driver adds its own)
 * @first_slot:   the first memslot's id; the others follow
 * @slot_flags:   KVM_MEM_* of its memslots
 */
struct world_mem_config {
	u64 size;
	enum world_backing backing;
	u64 pfnmap_block;
	unsigned long hva;
	bool populate;
	gpa_t gpa;
	int nr_slots;
	u32 first_slot;
	u32 slot_flags;
};

/*
 * Another CPU model behind the hardware ops.  @attach is called once the
 * host exists (w->phys, w->mm) and returns the context @ops->vcpu_create
 * receives, or NULL if it cannot run.
 */
struct world_cpu {
	const struct kvmmu_hw_ops *ops;
	void *(*attach)(struct world *w, void *arg);
	void *arg;
};

/**
 * struct world_config - everything a driver may choose
 * @nr_frames:        host page frames (0: every guest page, 1/128 more for
 *                    page tables, the largest page of the backings for
 *                    alignment, and 64K frames of slack)
 * @tag_mode:         guest frames hold one word: guests up to 1 TiB
 * @host_ops:         the host as the VM sees it (NULL: the host model's)
 * @cpu:              the CPU (NULL: the simulated machine of src/hw)
 * @phys_bits:        MAXPHYADDR (0: 46)
 * @nr_address_spaces: memslot address spaces, 1 or 2 (0: 2, normal and SMM)
 * @vm_type:          KVM_CREATE_VM's type (KVM_X86_DEFAULT_VM)
 * @mmu:              the MMU
 * @format:           EPT or NPT
 * @tdp_level:        4 or 5 (0: 4)
 * @ad_disabled:      EPT without A/D bits: access tracking by SPTE state
 * @pml:              page-modification logging (VMX enable_pml; EPT with
 *                    A/D): dirty logging clears D and the CPU logs writes
 * @nx_huge_pages:    the iTLB-multihit mitigation
 * @no_eager_split:   eager_page_split=N
 * @manual_protect:   KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2's args[0]
 *                    (KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, with
 *                    KVM_DIRTY_LOG_INITIALLY_SET or not; 0: off)
 * @dirty_ring_bytes: KVM_CAP_DIRTY_LOG_RING_ACQ_REL's size (0: off)
 * @disabled_quirks:  KVM_CAP_DISABLE_QUIRKS2 (KVM_X86_QUIRK_SLOT_ZAP_ALL)
 * @nr_vcpus:         vCPUs, ids 0..nr_vcpus-1
 * @guest_paging:     the guest's own page tables (0: none; 2: 32-bit with
 *                    4M pages, 3: PAE, 4: 4-level, 5: 5-level), built by
 *                    the world as a selftest's virt_map() does: an
 *                    identity map (gva = gpa) of every region, large
 *                    pages (4M/2M) where a region covers them, in a region
 *                    of their own after the others (w->guest_cr3); 32-bit
 *                    and PAE guests need it all below 4G.  Programs then
 *                    run as a kernel on them (hw_program.paging)
 * @nested:           run the programs as L2 under an L1 hypervisor (nested
 *                    EPT; two-dimensional paging with EPT, the simulated
 *                    CPU, guest memory in bytes): the world puts L1's EPT
 *                    tables in a region of its own after the others, the
 *                    guest's tables' included (w->l1), mapping the
 *                    regions' gpas to themselves on demand, and drivers
 *                    hand w->l1 to their programs (hw_program.nested);
 *                    with @guest_paging, L2 runs on those tables
 * @mem:              guest memory, up to the first region of size 0
 * @counters:         where the VM's sequence counters start
 * @yield_every:      forced yields while the world lives: need_resched()
 *                    answers yes at every Nth call of each thread (1:
 *                    every call), so every walk that can yield mmu_lock
 *                    does, and restarts (0: only when asked to)
 * @checks:           the checkers world_check_begin() attaches (CHECK_*)
 * @mutants:          the mutants it switches on (enum kvmmu_mutant_id bits)
 * @on_violation:     called once, at the first violation, from the thread
 *                    that saw it; must not block (NULL: nothing)
 */
struct world_config {
	u64 nr_frames;
	bool tag_mode;
	const struct kvmmu_host_ops *host_ops;
	const struct world_cpu *cpu;
	int phys_bits;
	int nr_address_spaces;

	unsigned long vm_type;
	enum world_mmu mmu;
	enum kvmmu_tdp_format format;
	int tdp_level;
	bool ad_disabled;
	bool pml;
	bool nx_huge_pages;
	bool no_eager_split;
	u64 manual_protect;
	u32 dirty_ring_bytes;
	u64 disabled_quirks;
	int nr_vcpus;
	int guest_paging;
	bool nested;

	struct world_mem_config mem[WORLD_MAX_MEM];

	enum world_counters counters;
	unsigned int yield_every;

	u64 checks;
	u64 mutants;
	void (*on_violation)(void *arg);
	void *violation_arg;
};

struct world {
	/*
	 * The configuration as built: defaults resolved, every region at its
	 * address, and its memslots' slot_flags as world_mem_set_flags() left
	 * them.  Drivers read a region's geometry here.
	 */
	struct world_config cfg;
	struct host_phys *phys;
	struct mm_struct *mm;
	struct hw_machine *machine; /* the simulated CPU, or NULL (cfg.cpu) */
	void *hw;                   /* the CPU's context (the machine's, or cfg.cpu's) */
	struct kvm *kvm;
	struct kvm_vcpu *vcpus[WORLD_MAX_VCPUS];
	int nr_vcpus;
	struct host_file *files[WORLD_MAX_MEM]; /* SHARED backings' files */
	int nr_mem;                             /* regions built */
	u64 kept_frames;            /* frames the host keeps for good (hwpoison) */
	gpa_t guest_cr3;            /* cfg.guest_paging: the guest's top table */
	gpa_t guest_pt[WORLD_MAX_MEM]; /* and each region's spare page tables (world_guest_pde()) */
	gpa_t *guest_pdes[WORLD_MAX_MEM]; /* the PDE of each whole large page, by region */
	struct hw_l1_vmm *l1;       /* cfg.nested: the L1 hypervisor its programs run under */
	bool checking;              /* the checkers are attached */
	bool checked;               /* they were: teardown reports leaks */
};

/*
 * Check @cfg without building anything.  Returns 0, or -EINVAL with a
 * one-line reason in @why.
 */
int world_config_check(const struct world_config *cfg, char *why, size_t why_len);

/*
 * Build the world @cfg describes in @w.  Returns 0, or -errno with a
 * one-line reason in @why; on failure whatever was built is torn down.
 */
int world_create(struct world *w, const struct world_config *cfg, char *why, size_t why_len);

/*
 * cfg.guest_paging: the guest's page-directory entry that maps @gva as a
 * large page, and the two values a guest kernel may keep there for the
 * same translation: the large page, or a page table of 4K pages the world
 * made for it.  Read and written as guest memory at gva = gpa.
 */
struct world_guest_pde {
	gpa_t gpa;     /* the entry */
	int size;      /* its bytes: 4 (32-bit paging) or 8 */
	u64 page_size; /* the large page: 4M or 2M */
	u64 large;     /* the entry as a large page */
	u64 table;     /* the entry pointing to the page table */
};

/* 0, or -ENOENT if no large page of a region covers @gva. */
int world_guest_pde(struct world *w, u64 gva, struct world_guest_pde *out);

/* Attach the checkers of cfg.checks and switch cfg.mutants on.  0 or -EBUSY. */
int world_check_begin(struct world *w);
/*
 * Let queued RCU callbacks (table frees) report while the checkers listen,
 * run the checkers' end-of-run checks, detach.  The mutants stay on until
 * world_destroy() has torn the VM down.
 */
void world_check_end(struct world *w);

/*
 * Tear @w down (world_check_end() first if needed).  Returns the frames
 * still allocated once the VM and the address space are gone, less
 * kept_frames: leaks, which the page-reference checker, if it was
 * attached, has reported.
 */
u64 world_destroy(struct world *w);

/*
 * Make every vCPU leave KVM_RUN (-EINTR) at its next entry or access, and
 * end a spin of the simulated CPU.  Flags and counters only, no events and
 * no blocking, so that a checker's on_violation callback may call it.
 */
void world_stop_vcpus(struct world *w);

/* ---- memslots ------------------------------------------------------------------------------ */

/* KVM_SET_USER_MEMORY_REGION2 of one slot (@size 0: delete it). */
int world_set_memslot(struct world *w, u32 slot, u32 flags, gpa_t gpa, u64 size,
		      unsigned long hva);
/* Memslot @i of region @m: where it lies in the guest and in the VMM. */
void world_mem_slot(const struct world *w, int m, int i, gpa_t *gpa, u64 *size,
		    unsigned long *hva);
/* (Re)create every memslot of region @m with @flags. */
int world_mem_set_flags(struct world *w, int m, u32 flags);
/* Delete every memslot of region @m. */
int world_mem_delete_slots(struct world *w, int m);

#endif /* KVMMU_WORLD_WORLD_H */
