/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A world: a VM and everything it runs on, for programs that embed kvmmu.
 *
 * A world is a modelled host (page frames and the VMM's address space), the
 * simulated CPU (vCPUs with TLBs and page walkers that run guest programs),
 * a VM created as KVM_CREATE_VM creates one, with its MMU and capabilities,
 * its vCPUs, and guest memory: up to KVMMU_WORLD_MAX_MEM regions the VMM
 * maps, each covered by memslots.  The checkers (check.h) and mutants a
 * program asks for are attached here.  kvmmu's own scenarios, workloads and
 * benchmarks build their VMs with the same layer.
 *
 * The life of a world:
 *
 *   kvmmu_world_create()       host, CPU, VM, capabilities, memory and
 *                              memslots, vCPUs
 *   kvmmu_world_check_begin()  checkers attached, mutants on (optional)
 *   ... KVM calls (kvm.h) on kvmmu_world_kvm() and kvmmu_world_vcpu(),
 *       guest programs on the vCPUs, the VMM's host calls ...
 *   kvmmu_world_check_end()    end-of-run checks, checkers detached
 *   kvmmu_world_destroy()      everything, in one order; returns the frames
 *                              that leaked
 *
 * The checkers and mutants are process-wide: one world at a time may have
 * them attached (kvmmu_world_check_begin() returns -EBUSY otherwise).
 *
 * A zeroed struct kvmmu_world_config is the default world: 4-level EPT with
 * A/D bits, the TDP MMU, eager page splitting, no capabilities, no vCPUs,
 * no memory.  Calls return 0 or a negative errno, as KVM's do: as with
 * the handles of kvm.h, a NULL world stands for a file descriptor that is
 * not open (-EBADF), a NULL pointer to read or fill for memory that cannot
 * be copied (-EFAULT), and a value out of range is -EINVAL.  Calls without
 * a return value ignore a NULL world.
 */
#ifndef KVMMU_WORLD_H
#define KVMMU_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kvmmu/kvm.h>

struct kvmmu_world;
struct kvmmu_thread;

#define KVMMU_WORLD_MAX_VCPUS 64
#define KVMMU_WORLD_MAX_MEM 4

/* The MMU (KVM's tdp_enabled and tdp_mmu module parameters). */
enum kvmmu_mmu {
	KVMMU_MMU_TDP,        /* two-dimensional paging on the TDP MMU */
	KVMMU_MMU_TDP_LEGACY, /* two-dimensional paging on the shadow MMU (tdp_mmu=0) */
	KVMMU_MMU_SHADOW,     /* shadow paging (ept=0): needs guest_paging */
};

/* What backs a region of guest memory in the host. */
enum kvmmu_backing {
	KVMMU_BACKING_ANON,       /* private anonymous, 4K pages */
	KVMMU_BACKING_THP,        /* private anonymous with MADV_HUGEPAGE */
	KVMMU_BACKING_SHARED,     /* a shared file mapping, 4K page cache */
	KVMMU_BACKING_SHARED_THP, /* a shared file mapping, 2M page-cache folios */
	KVMMU_BACKING_HUGETLB_2M,
	KVMMU_BACKING_HUGETLB_1G,
	KVMMU_BACKING_PFNMAP,     /* a driver's VM_PFNMAP blocks, one VMA each */
};

/* Where the VM's sequence counters start (a VM that has lived long). */
enum kvmmu_counters {
	KVMMU_COUNTERS_ZERO,      /* 0 and 0, as KVM starts them */
	KVMMU_COUNTERS_2_31,      /* just below 2^31 */
	KVMMU_COUNTERS_2_32,      /* just below 2^32 */
	KVMMU_COUNTERS_2_63,      /* just below 2^63 */
	KVMMU_COUNTERS_MMIO_WRAP, /* the MMIO generation just below its wrap */
};

/**
 * struct kvmmu_mem_config - a region of guest memory and its memslots
 * @size:         bytes, a multiple of the backing's page size; 0 ends the
 *                list of regions
 * @backing:      what backs it
 * @pfnmap_block: PFNMAP: bytes per driver block, one VMA each (0: 2M)
 * @hva:          where the VMM maps it (0: at the next 1 GiB boundary
 *                after the region before, the first at 1 GiB)
 * @populate:     fault every page in on the host first (MAP_POPULATE)
 * @gpa:          where its memslots start in guest-physical space
 * @nr_slots:     the memslots it is split into, evenly (0: none; the
 *                program adds its own with kvmmu_world_set_memslot())
 * @first_slot:   the first memslot's id; the others follow
 * @slot_flags:   KVM_MEM_* of its memslots (KVM_MEM_LOG_DIRTY_PAGES, ...)
 */
struct kvmmu_mem_config {
	uint64_t size;
	enum kvmmu_backing backing;
	uint64_t pfnmap_block;
	unsigned long hva;
	bool populate;
	uint64_t gpa;
	int nr_slots;
	uint32_t first_slot;
	uint32_t slot_flags;
};

/**
 * struct kvmmu_world_config - everything a program may choose
 * @nr_frames:        host page frames (0: enough for the memory)
 * @tag_mode:         guest frames hold one word: guests up to 1 TiB
 * @phys_bits:        MAXPHYADDR (0: 46)
 * @mmu:              the MMU
 * @format:           EPT or NPT
 * @tdp_level:        4 or 5 (0: 4)
 * @ad_disabled:      EPT without A/D bits: access tracking by SPTE state
 * @pml:              page-modification logging (EPT with A/D)
 * @nx_huge_pages:    the iTLB-multihit mitigation
 * @no_eager_split:   eager_page_split=N
 * @manual_protect:   KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2's args[0] (0: off)
 * @dirty_ring_bytes: KVM_CAP_DIRTY_LOG_RING_ACQ_REL's size (0: off)
 * @disabled_quirks:  KVM_CAP_DISABLE_QUIRKS2 (KVM_X86_QUIRK_SLOT_ZAP_ALL)
 * @nr_vcpus:         vCPUs, ids 0..nr_vcpus-1 (up to KVMMU_WORLD_MAX_VCPUS)
 * @guest_paging:     the guest's own page tables, an identity map the world
 *                    builds (0: none; 2: 32-bit, 3: PAE, 4: 4-level, 5:
 *                    5-level); programs then run as a kernel on them
 * @nested:           run programs as L2 under an L1 hypervisor (nested EPT)
 * @mem:              guest memory, up to the first region of size 0
 * @counters:         where the VM's sequence counters start
 * @yield_every:      forced yields: need_resched() answers yes at every Nth
 *                    call of each thread (0: only when asked to)
 * @checks:           the checkers kvmmu_world_check_begin() attaches (a mask
 *                    from kvmmu_check_parse())
 * @mutants:          the mutants it switches on (kvmmu_mutant_parse())
 * @on_violation:     called once, at the first violation, from the thread
 *                    that saw it; must not block (NULL: nothing)
 * @violation_arg:    its argument
 */
struct kvmmu_world_config {
	uint64_t nr_frames;
	bool tag_mode;
	int phys_bits;

	enum kvmmu_mmu mmu;
	enum kvmmu_tdp_format format;
	int tdp_level;
	bool ad_disabled;
	bool pml;
	bool nx_huge_pages;
	bool no_eager_split;
	uint64_t manual_protect;
	uint32_t dirty_ring_bytes;
	uint64_t disabled_quirks;
	int nr_vcpus;
	int guest_paging;
	bool nested;

	struct kvmmu_mem_config mem[KVMMU_WORLD_MAX_MEM];

	enum kvmmu_counters counters;
	unsigned int yield_every;

	uint64_t checks;
	uint64_t mutants;
	void (*on_violation)(void *arg);
	void *violation_arg;
};

/**
 * kvmmu_world_create() - build the world @cfg describes
 * @cfg: the configuration
 * @out: receives the world
 * @why: receives a one-line reason on failure (may be NULL)
 * @why_len: its size
 *
 * Return: 0, or -EINVAL for an impossible configuration, -ENOMEM, or
 * another -errno of the call that failed; on failure nothing is left.
 */
int kvmmu_world_create(const struct kvmmu_world_config *cfg, struct kvmmu_world **out,
		       char *why, size_t why_len);

/**
 * kvmmu_world_destroy() - tear @w down
 * @w: the world (kvmmu_world_check_end() is called first if needed)
 *
 * Return: the host frames still allocated once the VM and the address space
 * are gone (leaks; 0 when all is well), which the page-reference checker,
 * if it was attached, has reported.
 */
uint64_t kvmmu_world_destroy(struct kvmmu_world *w);

/* The VM, for the calls of kvm.h. */
struct kvm *kvmmu_world_kvm(struct kvmmu_world *w);
/* vCPU @i (0..nr_vcpus-1), or NULL. */
struct kvm_vcpu *kvmmu_world_vcpu(struct kvmmu_world *w, int i);
int kvmmu_world_nr_vcpus(const struct kvmmu_world *w);
/* The VMM's address space in the modelled host. */
struct mm_struct *kvmmu_world_mm(struct kvmmu_world *w);

/*
 * Region @m as built: defaults resolved (hva, pfnmap_block) and slot_flags
 * as the last kvmmu_world_mem_set_flags() left them.  0, or -EINVAL if
 * there is no region @m.
 */
int kvmmu_world_mem(const struct kvmmu_world *w, int m, struct kvmmu_mem_config *out);
/* Memslot @i of region @m: where it lies in the guest and in the VMM.  0 or -EINVAL. */
int kvmmu_world_mem_slot(const struct kvmmu_world *w, int m, int i, uint64_t *gpa,
			 uint64_t *size, unsigned long *hva);

/* ---- memslots ------------------------------------------------------------------------------ */

/* KVM_SET_USER_MEMORY_REGION2 of one slot (@size 0: delete it). */
int kvmmu_world_set_memslot(struct kvmmu_world *w, uint32_t slot, uint32_t flags, uint64_t gpa,
			    uint64_t size, unsigned long hva);
/* (Re)create every memslot of region @m with KVM_MEM_* @flags. */
int kvmmu_world_mem_set_flags(struct kvmmu_world *w, int m, uint32_t flags);
/* Delete every memslot of region @m. */
int kvmmu_world_mem_delete_slots(struct kvmmu_world *w, int m);

/* ---- checking ------------------------------------------------------------------------------ */

/*
 * Attach the checkers of cfg.checks and switch cfg.mutants on.  0, or
 * -EBUSY if checkers are attached already (to this world or another).
 */
int kvmmu_world_check_begin(struct kvmmu_world *w);
/*
 * Let queued RCU callbacks report while the checkers listen, run their
 * end-of-run checks, detach them.  Call it with no vCPU or host thread
 * running.  The mutants stay on until kvmmu_world_destroy().  What was
 * found stays readable with kvmmu_check_violations() (check.h).
 */
void kvmmu_world_check_end(struct kvmmu_world *w);

/*
 * Make every vCPU leave KVM_RUN (-EINTR) at its next entry, and end a
 * spin of the simulated CPU.  No blocking: an on_violation callback may
 * call it.
 */
void kvmmu_world_stop_vcpus(struct kvmmu_world *w);

/* ---- guest programs on the simulated CPU ---------------------------------------------------- */

enum kvmmu_access_op {
	KVMMU_ACCESS_LOAD,
	KVMMU_ACCESS_STORE,
	KVMMU_ACCESS_FETCH,
};

/**
 * struct kvmmu_access - one guest access
 * @op:    enum kvmmu_access_op
 * @size:  1, 2, 4 or 8 bytes, naturally aligned (0 means 8)
 * @addr:  a gpa (a gva, equal to the gpa, with cfg.guest_paging)
 * @value: stored by a store; receives what a load loaded
 */
struct kvmmu_access {
	uint8_t op;
	uint8_t size;
	uint64_t addr;
	uint64_t value;
};

/**
 * struct kvmmu_program - what a vCPU runs
 * @list:          accesses, run once in order (owned by the caller, which
 *                 keeps it alive until the program is done; loads are
 *                 written back into it)
 * @len:           their number
 * @base:          without @list, a memstress loop: one 8-byte access per
 *                 page of [@base, @base + @size) per pass, each pass ending
 *                 with KVM_EXIT_HLT, as memstress's GUEST_SYNC
 * @size:          bytes
 * @write_percent: 0..100
 * @random:        pages in a random order (from @seed), else sequential
 * @seed:          the random order's seed
 * @passes:        passes to run (0: forever)
 */
struct kvmmu_program {
	struct kvmmu_access *list;
	uint64_t len;

	uint64_t base;
	uint64_t size;
	uint32_t write_percent;
	bool random;
	uint64_t seed;
	uint64_t passes;
};

/*
 * Load @p into vCPU @i's simulated CPU (not while it runs): the next
 * KVM_RUN runs it, as a kernel on the world's guest tables if it has some,
 * as L2 if the world is nested.  0 or -EINVAL.
 */
int kvmmu_world_vcpu_load(struct kvmmu_world *w, int i, const struct kvmmu_program *p);
/*
 * vCPU @i's program reached its end; and the passes it has done so far
 * (memstress), or the accesses (list).  Callable from any thread while the
 * program runs, provided its kvmmu_world_vcpu_load() happened before (load
 * it, then start the threads that run and watch it).
 */
bool kvmmu_world_vcpu_done(struct kvmmu_world *w, int i);
uint64_t kvmmu_world_vcpu_progress(struct kvmmu_world *w, int i);

/*
 * Run vCPU @i's program to its end: KVM_RUN again and again, passing
 * through MMIO exits (a load from MMIO reads 0), from the vCPU's own
 * thread.  Returns 0, -EINTR if kvmmu_world_stop_vcpus() stopped it, or
 * KVM_RUN's -errno.
 */
int kvmmu_world_vcpu_run(struct kvmmu_world *w, int i);
/*
 * One guest access on vCPU @i, run to its end (kvmmu_world_vcpu_load() and
 * kvmmu_world_vcpu_run()).  @value: stored, or receives what was loaded.
 */
int kvmmu_world_vcpu_access(struct kvmmu_world *w, int i, enum kvmmu_access_op op,
			    uint64_t addr, uint64_t *value);

/* ---- the VMM in the modelled host -------------------------------------------------------- */

/*
 * The VMM's own calls into the modelled host kernel, on its address space:
 * each runs the host's mmu_notifier invalidation for what it takes away,
 * as Linux does.  0 or -errno (-EINVAL, -ENOMEM, ...).
 */
int kvmmu_world_munmap(struct kvmmu_world *w, unsigned long hva, unsigned long len);
int kvmmu_world_madvise_dontneed(struct kvmmu_world *w, unsigned long hva, unsigned long len);
/* Move every mapped page of the range to a new frame; @nr_moved may be NULL. */
int kvmmu_world_migrate(struct kvmmu_world *w, unsigned long hva, unsigned long len,
			unsigned long *nr_moved);
/* The VMM's read or write of the aligned word at @hva (faulting it in). */
int kvmmu_world_host_read(struct kvmmu_world *w, unsigned long hva, uint64_t *val);
int kvmmu_world_host_write(struct kvmmu_world *w, unsigned long hva, uint64_t val);

/* ---- threads --------------------------------------------------------------------------------- */

/*
 * A named thread: its name is the one violations and traces give it.
 * Plain pthreads work too (kvmmu adopts them at their first call, under
 * a generic name).  @flags: 0.  Returns 0 or -errno from pthread_create().
 */
int kvmmu_thread_create(struct kvmmu_thread **out, const char *name, unsigned int flags,
			int (*fn)(void *arg), void *arg);
/* Wait for @t to finish and free it; returns its body's return value. */
int kvmmu_thread_join(struct kvmmu_thread *t);

#endif /* KVMMU_WORLD_H */
