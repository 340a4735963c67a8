/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The CPU's walk of the guest's own page tables, as the x86 architecture
 * defines it: no paging, 32-bit paging (4-byte entries; CR4.PSE 4 MiB
 * pages with PSE-36), PAE paging (PDPTEs loaded at CR3 writes), 4-level
 * and 5-level paging (CR4.LA57).  Permissions: U/S with the CPL, R/W with
 * CR0.WP, NX with EFER.NXE (a reserved bit without it), SMEP, SMAP with
 * RFLAGS.AC and implicit supervisor accesses, protection keys (CR4.PKE,
 * PKRU's AD/WD for the leaf's key).  Reserved bits per level (MAXPHYADDR,
 * PS where it is not allowed, the low address bits of a large page).
 * Accessed and dirty bits are set with compare-exchange on guest memory
 * once the access is allowed; the #PF error code is what the CPU reports.
 *
 * The walk reaches guest memory through callbacks, so that the same code
 * serves the two-dimensional walk (each entry's gpa translated through
 * the TDP tables, which may exit) and the unit tests.
 */
#ifndef KVMMU_HW_GUEST_WALK_H
#define KVMMU_HW_GUEST_WALK_H

#include "types.h"
#include "x86_pgtable.h"

/* The architectural state a guest walk depends on. */
struct hw_cpu {
	u64 cr0, cr3, cr4, efer, rflags;
	u32 pkru;
	u8 cpl;
	u64 pdptr[4]; /* PAE: loaded from guest memory when CR3 is written */
};

/* How guest memory is reached: 0, or -1 after the callback filled an exit. */
struct hw_gmem_ops {
	int (*read)(void *arg, u64 gpa, int size, u64 *val);
	/* 0: stored; 1: the entry was not *@old any more (*@old updated); -1: exit. */
	int (*cmpxchg_entry)(void *arg, u64 gpa, int size, u64 *old, u64 new_val);
};

/* What the access is. */
#define GW_WRITE    BIT(0)
#define GW_FETCH    BIT(1)
#define GW_IMPLICIT BIT(2) /* a supervisor access the CPU makes itself (GDT, IDT...) */

enum gw_result {
	GW_OK,      /* translated: the result is filled in */
	GW_FAULT,   /* #PF: .error_code */
	GW_EXIT,    /* reaching guest memory exited (the callback filled the exit) */
};

/**
 * struct gw_walk - the outcome of a guest walk
 * @gpa:        the translation (GW_OK)
 * @level:      the level of the leaf: 1 (4K), 2 (2M or 4M), 3 (1G)
 * @error_code: the #PF error code (GW_FAULT): PFERR_*
 * @user:       the page is a user page (U at every level)
 * @writable:   R/W at every level
 * @nx:         XD at some level (EFER.NXE)
 * @dirty:      the leaf's D bit after the walk
 * @levels:     how many entries the walk read (@pte_gpa/@pte)
 * @pte_gpa:    where each entry read is, from the top
 * @pte:        its value as the walk used it (before A/D were set)
 */
struct gw_walk {
	u64 gpa;
	int level;
	u64 error_code;
	bool user, writable, nx, dirty;
	int levels;
	u64 pte_gpa[5];
	u64 pte[5];
};

/* The paging mode CR0, CR4 and EFER select: 0 (off), 2 (32-bit), 3 (PAE), 4 or 5. */
int hw_paging_mode(const struct hw_cpu *cpu);

/*
 * A CR3 write under PAE paging loads the four PDPTEs: 0, -EINVAL if a
 * present one has a reserved bit set (the MOV faults with #GP and nothing
 * is loaded), or -1 after an exit.
 */
int hw_load_pdptrs(struct hw_cpu *cpu, int maxphyaddr, const struct hw_gmem_ops *ops,
		   void *arg);

/*
 * Would an access (GW_*) fault under @cpu on a page a walk found @user,
 * @writable and @nx, with @leaf its leaf entry (for the protection key)?
 * Returns the #PF error code's P and PK bits that make it fault, or 0:
 * what a TLB hit is judged by when the CPL, SMAP's AC or PKRU changed
 * since the fill.
 */
u64 hw_guest_access_fault(const struct hw_cpu *cpu, unsigned int access, bool user,
			  bool writable, bool nx, u64 leaf);

/* Walk the guest's tables for @gva. */
enum gw_result hw_guest_walk(const struct hw_cpu *cpu, int maxphyaddr, u64 gva,
			     unsigned int access, const struct hw_gmem_ops *ops, void *arg,
			     struct gw_walk *w);

#endif /* KVMMU_HW_GUEST_WALK_H */
