/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The simulated hardware: vCPUs that run guest programs as a CPU with EPT
 * or NPT runs guest code, behind the hardware ops of include/kvmmu/hw.h.
 *
 * A guest access goes through the vCPU's TLB; on a miss the page walker
 * walks the SPTE tables (starting from a cached upper-level entry if it has
 * one), reading only architectural bits, setting A/D bits with atomic RMWs
 * as hardware does, and fills the TLB.  Translations stay cached until the
 * vCPU flushes (a request, a root load) or evicts them for capacity, even
 * after their SPTEs changed: exactly the behaviour that makes a missing
 * flush a bug.  The access itself lands in the frame (data mode: bytes;
 * tag mode: the frame's word), with relaxed atomics.
 *
 * With guest paging on, addresses are guest-virtual and translated through
 * the guest's page tables in guest memory by the architectural walk of
 * guest_walk.h (every x86 paging mode and permission rule; programs run as
 * a 64-bit kernel for now), each guest table access itself translated
 * through the TDP tables: the two-dimensional walk.
 *
 * Under shadow paging (kvmmu_entry.shadow_paging: KVM with ept=0) every
 * address is linear, paging on or off in the guest, and is walked by the
 * same architectural walk directly through KVM's shadow table in host
 * memory (4- or 5-level, the guest's CPL, RFLAGS.AC, PKRU and CR4's SMEP,
 * SMAP and PKE, CR0.WP and EFER.NXE forced on); the CPU sets A/D in the
 * SPTEs.  A #PF exits to KVM with the access that took it; so do the
 * guest's control-register and EFER writes and INVLPG.  The gpa behind a
 * gva is the guest's business and unknown to the CPU: HW_GFN_UNKNOWN.
 *
 * The model reports TLB fills and flushes, table reads and guest loads and
 * stores to the observer hooks, and exposes every vCPU's TLB through a
 * seqlock-consistent snapshot for the checkers.
 */
#ifndef KVMMU_HW_HW_MODEL_H
#define KVMMU_HW_HW_MODEL_H

#include <kvmmu/host.h>
#include <kvmmu/hw.h>

#include "types.h"

struct hw_machine;

/*
 * The gfn of a shadow-paging translation, which the CPU does not know (it
 * walks KVM's table of gvas): in TLB entries and their views, in the
 * events of guest accesses (a gpa of HW_GFN_UNKNOWN << PAGE_SHIFT plus the
 * offset) and in those of the shadow walk.  No memslot holds it.
 */
#define HW_GFN_UNKNOWN (~0ULL >> PAGE_SHIFT)

struct hw_config {
	struct mm_struct *mm;                 /* the host whose frames hold memory */
	const struct kvmmu_host_ops *host;    /* direct_map, tag_map, frame_state */
	int phys_bits;                        /* MAXPHYADDR: reserved-bit checks */
	unsigned int tlb_4k_entries;          /* power of 2; 0: 512 */
	unsigned int tlb_huge_entries;        /* per size (2M, 1G); 0: 32 */
	unsigned int psc_entries;             /* per level; 0: 32 */
};

int hw_machine_create(const struct hw_config *cfg, struct hw_machine **out);
void hw_machine_destroy(struct hw_machine *m);

/* The ops table for struct kvmmu_vm_config; its .hw is the machine. */
extern const struct kvmmu_hw_ops hw_ops;

/* ---- guest programs --------------------------------------------------------- */

/* Where a program's code is: its access i is the instruction at + 16 * i (RIP). */
#define HW_TEXT_BASE 0xffffffff81000000ULL

enum hw_op {
	HW_LOAD,
	HW_STORE,
	HW_FETCH,
	/*
	 * A store by a string instruction (one element of REP STOSQ): to the
	 * CPU a store like any other; to KVM's emulator an instruction unlikely
	 * to write page tables, so a write-protection fault on it may
	 * unprotect the gfn and re-execute instead of emulating.
	 */
	HW_STOS,
	HW_SPIN,  /* stay in guest mode until kicked or released */
	/*
	 * What a guest kernel does to its paging (.value is the operand): the
	 * control-register and EFER writes, INVLPG .addr, a flush of every
	 * linear translation, a CPL switch (0 or 3), STAC/CLAC (.value: AC),
	 * WRPKRU.  An illegal write takes #GP and changes nothing.  With
	 * EPT/NPT the CPU does it all.  Under shadow paging the CR0, CR3,
	 * CR4 and EFER writes that pass the CPU's #GP checks, INVLPG and
	 * HW_FLUSH_TLB (a MOV to CR3 of CR3) exit to KVM, which emulates
	 * them (a PAE CR3's PDPTEs are KVM's to load); the others still run
	 * in the CPU.
	 */
	HW_MOV_CR0,
	HW_MOV_CR3,
	HW_MOV_CR4,
	HW_WRMSR_EFER,
	HW_INVLPG,
	HW_FLUSH_TLB,
	HW_SET_CPL,
	HW_SET_AC,
	HW_WRPKRU,
	/*
	 * Nested (a program run as L2, hw_program.nested): a VMCALL to L1,
	 * .value the hypercall (HW_HC_*), .addr its argument.  L1 always
	 * handles it, and goes on after it when it resumes L2.
	 */
	HW_VMCALL,
	/*
	 * L1's own instructions (the L1 model makes them; programs may not):
	 * VMLAUNCH/VMRESUME with EPT pointer .value; INVEPT of type .addr
	 * for EPT pointer .value.
	 */
	HW_VMRESUME,
	HW_INVEPT,
	NR_HW_OPS
};

/*
 * The hypercalls of kvmmu's L1 (a VMCALL's .value): unmap the L2 page at
 * .addr and INVEPT its EPT pointer (single context) or every one (global);
 * unmap the program's whole region and INVEPT (single context).
 */
enum hw_hypercall {
	HW_HC_UNMAP = 1,
	HW_HC_UNMAP_GLOBAL,
	HW_HC_UNMAP_REGION,
	NR_HW_HC
};

struct hw_access {
	u8 op;     /* enum hw_op */
	u8 size;   /* 1, 2, 4 or 8 (naturally aligned); 0 means 8 */
	u64 addr;  /* gpa, or gva with guest paging or under shadow paging */
	u64 value; /* HW_STORE, HW_STOS: stored; HW_LOAD: receives what was loaded */
};

/*
 * An L1 hypervisor (nested, src/hw/nested.c): guest software that the
 * CPU runs as L1, with EPT tables of its own in L1's memory, under which
 * the program runs as L2.  L1 maps L2's gpas [l2_base, l2_base + l2_size)
 * to L1 gpa + l1_offset lazily, 4K at a time, on L2's EPT violations: its
 * tables are built beforehand (the world builds them), the leaf entry of
 * L2 gpa g at pt_base + (g - l2_base) / 4096 * 8 (the leaf tables in a
 * row), the entry linking leaf table i at pdes[i].  L1 unlinks leaf
 * tables when it unmaps whole 2M and links them again on a fault.  Every
 * change L1 makes is a store through the CPU (so KVM sees L1's writes to
 * its tables, the write-tracked ones emulated), followed by INVEPT when
 * it took a mapping away.  One L1 is shared by every vCPU (one EPT
 * pointer).
 */
struct hw_l1_vmm {
	u64 eptp;        /* L1's EPT pointer: root gpa | WB | walk length | A/D */
	u64 l2_base, l2_size;
	u64 l1_offset;
	u64 pt_base;
	const u64 *pdes; /* the gpa of the entry linking each leaf table (2M of L2) */
	u64 leaf_flags;  /* R, W, X, memory type of the leaves L1 makes */
};

enum hw_value {
	HW_VALUE_PATTERN,  /* (vcpu << 56) | (pass << 32) | page: every store distinct */
	HW_VALUE_CONSTANT, /* memstress's 0x0123456789ABCDEF */
};

/*
 * A program: a list of accesses, run once; or a memstress loop, one pass
 * (one 8-byte access per page of the region) per KVM_RUN, each pass ending
 * with an exit to userspace (KVMMU_EXIT_HLT), as memstress's GUEST_SYNC.
 */
struct hw_program {
	struct hw_access *list; /* owned by the caller; loads are written back */
	u64 len;

	/* memstress, when list is NULL */
	u64 base;               /* gpa (or gva) of the region */
	u64 size;               /* bytes */
	u32 write_percent;      /* 0..100 */
	bool random;            /* page = random % pages, else sequential */
	u64 seed;
	u64 passes;             /* 0: forever */
	enum hw_value value;

	/*
	 * Guest paging: start as a kernel in paging mode @paging (2: 32-bit
	 * with CR4.PSE, 3: PAE, 4: 4-level, 5: 5-level; NX on where it
	 * exists, CR0.WP on, CPL 0) with its top table at @cr3, as userspace's
	 * KVM_SET_SREGS leaves a vCPU (under PAE the PDPTEs are loaded at the
	 * next entry).  0: the CPU state is what the last program left
	 * (paging off at first); a program changes it itself with HW_MOV_CR*.
	 */
	int paging;
	u64 cr3;                /* gpa of the guest's top table */

	/*
	 * Nested: run the program as L2 under this L1 (shared, owned by the
	 * caller), which VMLAUNCHes it at the first entry.  L1 runs with
	 * paging off; L2 with its own paging if @paging says so (each of its
	 * gpas, its tables' included, translated through KVM's shadow of L1's
	 * EPT), else off.  With unmap_each_pass, each memstress pass ends with a
	 * VMCALL asking L1 to unmap the whole region (HW_HC_UNMAP_REGION).
	 */
	const struct hw_l1_vmm *nested;
	bool unmap_each_pass;
};

/*
 * The registers a guest's translations depend on, as the vCPU has them
 * now (for checkers: call it from the vCPU's own thread, or while the
 * vCPU does not run).  @eptp: the EPT pointer of the L1 the program runs
 * under (0: none).
 */
struct hw_guest_paging {
	u64 cr0, cr3, cr4, efer, rflags;
	u32 pkru;
	u8 cpl;
	u64 eptp;
};

void hw_vcpu_guest_paging(struct kvmmu_hw_vcpu *hv, struct hw_guest_paging *out);

/* The last #PF the guest took: its address (CR2) and error code (PFERR_*). */
void hw_vcpu_last_pf(struct kvmmu_hw_vcpu *hv, u64 *cr2, u64 *error_code);

/* Load @p into @hv (not while it runs).  Returns 0 or -EINVAL. */
int hw_vcpu_load_program(struct kvmmu_hw_vcpu *hv, const struct hw_program *p);
/* End the current HW_SPIN (callable from any thread). */
void hw_vcpu_release_spin(struct kvmmu_hw_vcpu *hv);
/* Passes done so far (memstress), or accesses done (list). */
u64 hw_vcpu_progress(struct kvmmu_hw_vcpu *hv);
/*
 * Where a memstress pass stands: pages done in the current pass, of @pages
 * a pass (both 0 for a list).  Callable from any thread while it runs.
 */
void hw_vcpu_pass_position(struct kvmmu_hw_vcpu *hv, u64 *done, u64 *pages);
/* The program reached its end. */
bool hw_vcpu_done(struct kvmmu_hw_vcpu *hv);

struct hw_vcpu_stats {
	u64 loads, stores, fetches;
	u64 tlb_hits, tlb_misses;
	u64 walks;            /* TDP or shadow walks (each level read counts once per walk) */
	u64 guest_walks;      /* guest page-table walks */
	u64 ad_updates;       /* A/D bits set in SPTEs */
	u64 exits_violation, exits_misconfig, exits_intr, exits_hlt, exits_pml_full;
	u64 pml_logs;         /* gpas logged to the PML buffer */
	u64 guest_faults;     /* guest #PF: the access was skipped */
	u64 guest_gps;        /* guest #GP (an illegal control-register write): skipped */
	u64 flushes_all, flushes_current;
	u64 freed_table_reads; /* walks that met a freed table (reported) */
	/* Shadow paging (its walks count in walks): */
	u64 exits_page_fault, exits_cr_access, exits_invlpg;
	u64 flushes_gva;
	/* Nested: */
	u64 l2_exits_to_l1;   /* exits L1 handled (KVM reflected them) */
	u64 l1_ept_writes;    /* L1's stores to its EPT entries */
	u64 l1_invepts;
	u64 vmcalls;
	u64 l1_unhandled;     /* L2 accesses L1 could not map (skipped) */
};

void hw_vcpu_get_stats(struct kvmmu_hw_vcpu *hv, struct hw_vcpu_stats *st);

/* ---- the TLB, for checkers ---------------------------------------------------- */

enum hw_tlb_kind {
	HW_TLB_LEAF, /* a translation: page -> pfn */
	HW_TLB_PSC,  /* a paging-structure cache entry: page -> next table */
};

/**
 * struct hw_tlb_view - one live TLB or paging-structure-cache entry
 * @kind:     enum hw_tlb_kind
 * @level:    the level of the SPTE it came from (1: 4K leaf, 2: 2M, ...)
 * @page:     gfn (or gva >> 12 with guest paging) of the first page covered
 * @gfn:      the first gfn covered (for a guest-paging entry, the gfn its
 *            gva page translated to; HW_GFN_UNKNOWN under shadow paging)
 * @linear:   a combined gva translation
 * @pfn:      the target: the page's pfn (leaf) or the next table's (PSC)
 * @root_pfn: the root (EPTP / nCR3) it was filled under
 * @sptep:    the SPTE it was filled from (shadow paging: the shadow leaf) ...
 * @spte:     ... and that SPTE's value then
 * @tables:   the tables the walk read, by level - 1 (0 where not read)
 */
struct hw_tlb_view {
	u8 kind;
	u8 level;
	bool linear;
	u64 page;
	u64 gfn;
	u64 pfn;
	u64 root_pfn;
	const void *sptep;
	u64 spte;
	u64 tables[5];
};

/*
 * Copy @hv's live entries into @buf (at most @n).  Consistent (a seqlock
 * against the vCPU's fills and flushes); callable from any thread while
 * the vCPU runs.  Returns the number of live entries (may exceed @n).
 */
int hw_tlb_snapshot(struct kvmmu_hw_vcpu *hv, struct hw_tlb_view *buf, int n);
/*
 * As hw_tlb_snapshot(), only the leaf entries that cover a gfn of
 * [@gfn, @gfn + @nr_gfns): what a checker judging one SPTE change needs,
 * without copying the whole TLB for every change.
 */
int hw_tlb_snapshot_leaves(struct kvmmu_hw_vcpu *hv, u64 gfn, u64 nr_gfns,
			   struct hw_tlb_view *buf, int n);

/* The vCPU's id, as given to vcpu_create(). */
int hw_vcpu_id(struct kvmmu_hw_vcpu *hv);

/* Every vCPU the machine has (for checkers). */
int hw_machine_vcpus(struct hw_machine *m, struct kvmmu_hw_vcpu **out, int n);

#endif /* KVMMU_HW_HW_MODEL_H */
