// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu access: the permission test of kvm-unit-tests' x86/access.c as a
 * command.  A case is a set of flags: the leaf PTE's and the PDE's bits,
 * the PDPTE's W, protection keys, the access (user, write, fetch, twice),
 * the CPU state (EFER.NXE, CR0.WP, CR4.SMEP, CR4.PKE) and "emulate".  Each
 * case is one guest access on a fresh INVLPG: made by the simulated CPU,
 * or, with emulate, by KVM's software walker (kvm_mmu_gva_to_gpa()), as
 * the instruction emulator would.  Its fault, error code and the A/D bits
 * it leaves in the PTE and PDE are held against an expectation computed
 * here from the flags alone, apart from both walkers (ac_expect()).  Plus
 * access.c's six hand-written sub-tests, as named cases.
 *
 * The guest is a 64-bit kernel (4- or 5-level paging) whose page tables
 * live in its memory.  It writes them itself, with stores through a
 * supervisor mapping of its table pages, as access.c does: under shadow
 * paging those stores are what KVM hears (write-protected and
 * write-tracked tables, unsync pages), so the VMM never writes a table
 * behind KVM's back.  Only the data page's marker is written by the VMM.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bug.h"
#include "cli.h"
#include "host_mm.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "mmu.h"
#include "srcu.h"
#include "x86_pgtable.h"

/* ---- the flags ------------------------------------------------------------------------------ */

enum ac_flag {
	AC_PTE_P, AC_PTE_W, AC_PTE_U, AC_PTE_A, AC_PTE_D, AC_PTE_NX, AC_PTE_BIT51,
	AC_PDE_P, AC_PDE_W, AC_PDE_U, AC_PDE_A, AC_PDE_D, AC_PDE_PS, AC_PDE_NX, AC_PDE_BIT51,
	AC_PDE_BIT13,
	AC_PDPTE_RO,
	AC_PKRU_AD, AC_PKRU_WD, AC_PTE_PKEY1,
	AC_USER, AC_WRITE, AC_FETCH, AC_TWICE,
	AC_EFER_NXE, AC_CR0_WP, AC_CR4_SMEP, AC_CR4_PKE,
	AC_EMULATE,
	NR_AC_FLAGS
};

static const char *const ac_names[NR_AC_FLAGS] = {
	[AC_PTE_P] = "pte.p", [AC_PTE_W] = "pte.w", [AC_PTE_U] = "pte.u", [AC_PTE_A] = "pte.a",
	[AC_PTE_D] = "pte.d", [AC_PTE_NX] = "pte.nx", [AC_PTE_BIT51] = "pte.bit51",
	[AC_PDE_P] = "pde.p", [AC_PDE_W] = "pde.w", [AC_PDE_U] = "pde.u", [AC_PDE_A] = "pde.a",
	[AC_PDE_D] = "pde.d", [AC_PDE_PS] = "pde.ps", [AC_PDE_NX] = "pde.nx",
	[AC_PDE_BIT51] = "pde.bit51", [AC_PDE_BIT13] = "pde.bit13",
	[AC_PDPTE_RO] = "pdpte.ro",
	[AC_PKRU_AD] = "pkru.ad", [AC_PKRU_WD] = "pkru.wd", [AC_PTE_PKEY1] = "pte.pkey1",
	[AC_USER] = "user", [AC_WRITE] = "write", [AC_FETCH] = "fetch", [AC_TWICE] = "twice",
	[AC_EFER_NXE] = "efer.nxe", [AC_CR0_WP] = "cr0.wp", [AC_CR4_SMEP] = "cr4.smep",
	[AC_CR4_PKE] = "cr4.pke",
	[AC_EMULATE] = "emulate",
};

#define ACF(x) (1U << AC_##x)
#define F(x) (!!(f & ACF(x)))

/* The PTE's own bits: not on the path when the PDE is the leaf (pte.pkey1 is the leaf's key). */
#define AC_PTE_ONLY (ACF(PTE_P) | ACF(PTE_W) | ACF(PTE_U) | ACF(PTE_A) | ACF(PTE_D) | \
		     ACF(PTE_NX) | ACF(PTE_BIT51))
#define AC_ACCESS (ACF(USER) | ACF(WRITE) | ACF(FETCH))

/* The reserved bits a case sets (NX is one without EFER.NXE). */
static u32 ac_reserved(u32 f)
{
	u32 r = f & (ACF(PDE_BIT51) | ACF(PDE_BIT13));

	if (!F(PDE_PS))
		r |= f & ACF(PTE_BIT51);
	if (!F(EFER_NXE))
		r |= f & (ACF(PDE_NX) | (F(PDE_PS) ? 0 : ACF(PTE_NX)));
	return r;
}

/* A case that cannot be: two accesses at once, or bit 13 of a PDE that is not a 2M leaf. */
static const char *ac_impossible(u32 f)
{
	if (F(WRITE) && F(FETCH))
		return "'write' and 'fetch' are two different accesses: pick one";
	if (F(PDE_BIT13) && !F(PDE_PS))
		return "'pde.bit13' is a reserved bit of a 2M PDE only: it needs 'pde.ps'";
	return NULL;
}

/*
 * The cases --exhaustive runs (and --sample draws from): the possible ones
 * less those that only repeat another, as access.c's ac_test_legal()
 * skips them: PKRU bits without CR4.PKE, PTE bits under a 2M PDE (no PTE
 * is on the path), and more than one reserved bit (a reserved-bit fault is
 * terminal; its error code does not depend on which).
 */
/*
 * Without TDP KVM gives the guest no PKU (its SPTEs carry no keys): under
 * shadow paging CR4.PKE is reserved, and the protection-key cases are
 * skipped, as access.c skips them on a CPU without PKU.
 */
static bool ac_no_pku;

#define AC_PKU_FLAGS (ACF(CR4_PKE) | ACF(PKRU_AD) | ACF(PKRU_WD))

static bool ac_legal(u32 f)
{
	u32 r = ac_reserved(f);

	if (ac_impossible(f))
		return false;
	if (ac_no_pku && (f & AC_PKU_FLAGS))
		return false;
	if (!F(CR4_PKE) && (F(PKRU_AD) || F(PKRU_WD)))
		return false;
	if (F(PDE_PS) && (f & AC_PTE_ONLY))
		return false;
	return !(r & (r - 1));
}

/* ---- the expectation ---------------------------------------------------------------------- */

/**
 * struct ac_expect - what an access must do, from the flags and the entries before it
 * @fault:      a #PF
 * @error_code: its error code (0 without a fault)
 * @pte:        the PTE after (not on the path with pde.ps)
 * @pde:        the PDE after, but for @pde_ignore
 * @pde_ignore: bits of the PDE that may go either way: on a fault, the A
 *              bit of a PDE that had none (the walk may set it on its way
 *              down, as access.c allows)
 */
struct ac_expect {
	bool fault;
	u64 error_code;
	u64 pte, pde, pde_ignore;
};

/*
 * One access of the kind @f says, on the path @f describes, from the
 * entries in @e; written from the SDM's rules (and access.c's
 * ac_emulate_access()), not from either walker.  Upper levels are
 * present, writable (the PDPTE unless pdpte.ro) and user; MAXPHYADDR is
 * 46, so bit 51 is reserved in every entry.
 */
static void ac_expect_one(u32 f, struct ac_expect *e)
{
	bool user = F(USER), write = F(WRITE), fetch = F(FETCH), ps = F(PDE_PS);
	bool kwritable = !F(CR0_WP) && !user; /* a supervisor write ignores R/W */
	u64 err = PFERR_PRESENT_MASK | (user ? PFERR_USER_MASK : 0) |
		  (write ? PFERR_WRITE_MASK : 0) | (fetch ? PFERR_FETCH_MASK : 0);
	bool writable, upage, exec, fault = false;

	e->pde_ignore = (e->pde & PT_ACCESSED_MASK) ? 0 : PT_ACCESSED_MASK;

	/* The PDE: not present, or a reserved bit (P stays set in the error code). */
	if (!F(PDE_P)) {
		err &= ~PFERR_PRESENT_MASK;
		fault = true;
		goto out;
	}
	if (F(PDE_BIT51) || (ps && F(PDE_BIT13)) || (F(PDE_NX) && !F(EFER_NXE))) {
		err |= PFERR_RSVD_MASK;
		fault = true;
		goto out;
	}
	writable = !F(PDPTE_RO) && F(PDE_W);
	upage = F(PDE_U);
	exec = !F(PDE_NX);

	if (!ps) {
		if (!F(PTE_P)) {
			err &= ~PFERR_PRESENT_MASK;
			fault = true;
			goto out;
		}
		if (F(PTE_BIT51) || (F(PTE_NX) && !F(EFER_NXE))) {
			err |= PFERR_RSVD_MASK;
			fault = true;
			goto out;
		}
		writable &= F(PTE_W);
		upage &= F(PTE_U);
		exec &= !F(PTE_NX);
	}

	if (user && !upage)
		fault = true;
	if (write && !writable && !kwritable)
		fault = true;
	if (fetch && !exec)
		fault = true;
	/* SMEP: supervisor fetches from user pages. */
	if (fetch && upage && !user && F(CR4_SMEP))
		fault = true;
	/*
	 * Protection keys: data accesses to user pages, by the leaf's key (1
	 * with pte.pkey1, else 0, whose AD/WD are clear).  The key the
	 * non-leaf entries carry (2, AD and WD set) must not count.
	 */
	if (F(CR4_PKE) && upage && !fetch && F(PTE_PKEY1)) {
		if (F(PKRU_AD) || (write && F(PKRU_WD) && !kwritable)) {
			err |= PFERR_PK_MASK;
			fault = true;
		}
	}
	if (!fault) {
		/* A on every level walked, D on the leaf for a write. */
		if (ps) {
			e->pde |= PT_ACCESSED_MASK | (write ? PT_DIRTY_MASK : 0);
		} else {
			e->pde |= PT_ACCESSED_MASK;
			e->pte |= PT_ACCESSED_MASK | (write ? PT_DIRTY_MASK : 0);
		}
		e->pde_ignore = 0;
	}
out:
	/* I/D is reported only when NX or SMEP make fetches matter. */
	if (!F(EFER_NXE) && !F(CR4_SMEP))
		err &= ~PFERR_FETCH_MASK;
	e->fault = fault;
	e->error_code = fault ? err : 0;
}

/*
 * The case @f on entries @pte and @pde: with twice, a supervisor read
 * first (access.c's first access), whose outcome counts only through the
 * A bits it sets; then the access itself.
 */
static void ac_expect(u32 f, u64 pte, u64 pde, struct ac_expect *e)
{
	e->pte = pte;
	e->pde = pde;
	if (F(TWICE))
		ac_expect_one(f & ~AC_ACCESS, e);
	ac_expect_one(f, e);
}

/* ---- the guest ------------------------------------------------------------------------------ */

/*
 * Guest-physical layout: the root table, the harness's tables (a
 * supervisor mapping of the first 2M at AC_HARNESS_GVA, through root entry
 * 0), a pool of frames for the tables of the test addresses, and the data
 * page: 2M-aligned, so that a 2M PDE maps it too.
 */
#define AC_MEM_SIZE	(4ULL << 20)
#define AC_ROOT		0x0000ULL
#define AC_H_PML4	0x1000ULL	/* 5-level only */
#define AC_H_PDPT	0x2000ULL
#define AC_H_PD		0x3000ULL
#define AC_H_PT		0x4000ULL
#define AC_POOL		0x100000ULL
#define AC_POOL_FRAMES	256
#define AC_DATA		0x200000ULL
#define AC_HARNESS_GVA	0x40000000ULL
/* The main loop's address: as access.c's, in a root entry of its own. */
#define AC_GVA		0xffff923400000000ULL

#define AC_KEY_LEAF	(1ULL << PT64_PKEY_SHIFT)
#define AC_KEY_NONLEAF	(2ULL << PT64_PKEY_SHIFT)
/* PKRU with CR4.PKE: key 2 AD|WD (the non-leaf key); key 1 from the case. */
#define AC_PKRU_BASE	0x30U
/* PKRU while CR4.PKE is clear: every key but 0 AD|WD, which must not matter. */
#define AC_PKRU_KEYS_OFF 0xfffffffcU
#define AC_CR0_PE	BIT_ULL(0)
#define AC_PROG_MAX	256

/* A test address and the tables its walk goes through (by access.c's numbering). */
struct ac_addr {
	u64 gva;
	/* tables[i]: the table a level-i entry points to (levels .. 2) */
	u64 tables[6];
};

struct ac_ctx {
	struct world w;
	struct kvm_vcpu *vcpu;
	struct kvmmu_hw_vcpu *hv;
	int levels;
	bool tdp;
	unsigned long hva;

	/* The program being built, run by ac_run(). */
	struct hw_access prog[AC_PROG_MAX];
	int len;
	int err; /* the first internal error (sticky) */
	char err_why[160];

	/* The CPU state the programs so far left. */
	bool wp, nxe, smep, pke;
	u32 pkru;
	u8 cpl;

	/* Frames of the pool in use, and the entries written in them and in the root. */
	unsigned int pool_next;
	u64 written[AC_POOL_FRAMES][8];
	u64 root_written[8];

	u64 marker;
	u64 mmio_exits;
};

/* One access's result: the JSON object of a case (and of a sub-test's step). */
struct ac_result {
	u32 flags;
	u64 gva;
	bool fault;
	u64 error_code;
	u64 pte_before, pte_after, pde_before, pde_after;
	struct ac_expect exp;
	bool match;
	char problem[160]; /* what else went wrong: data, exits, WARNs */
};

static __printf(2, 3) void ac_fail(struct ac_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err)
		return;
	c->err = -EIO;
	va_start(ap, fmt);
	vsnprintf(c->err_why, sizeof(c->err_why), fmt, ap);
	va_end(ap);
}

static u64 ac_read(struct ac_ctx *c, u64 gpa)
{
	u64 v = 0;

	if (host_access(c->w.mm, c->hva + gpa, false, &v))
		ac_fail(c, "cannot read guest memory at %#llx", (unsigned long long)gpa);
	return v;
}

static void ac_write(struct ac_ctx *c, u64 gpa, u64 v)
{
	if (host_access(c->w.mm, c->hva + gpa, true, &v))
		ac_fail(c, "cannot write guest memory at %#llx", (unsigned long long)gpa);
}

static void __ac_run(struct ac_ctx *c)
{
	struct hw_program p = { .list = c->prog, .len = (u64)c->len };
	struct kvmmu_run run;
	int r;

	r = hw_vcpu_load_program(c->hv, &p);
	if (r) {
		ac_fail(c, "the CPU refused the guest program: %s", strerror(-r));
		return;
	}
	for (;;) {
		r = kvmmu_vcpu_run(c->vcpu, &run);
		if (r) {
			ac_fail(c, "KVM_RUN: %s", strerror(-r));
			return;
		}
		if (run.exit_reason == KVM_EXIT_HLT)
			break;
		if (run.exit_reason != KVM_EXIT_MMIO) {
			ac_fail(c, "KVM_RUN: unexpected exit %u", run.exit_reason);
			return;
		}
		c->mmio_exits++;
	}
	if (!hw_vcpu_done(c->hv))
		ac_fail(c, "KVM_RUN exited HLT before the program's end");
}

/* Run the program built so far to its end (HLT); after an error, drop it. */
static void ac_run(struct ac_ctx *c)
{
	if (c->len && !c->err)
		__ac_run(c);
	c->len = 0;
}

/*
 * Append an instruction.  Every program starts at CPL 0, which the
 * harness's stores need.  After an emulated user access the CPU is left at
 * CPL 3: the return to CPL 0 is a program of its own, so that KVM, which
 * takes the guest's registers at entry (kvm_regs_from_hw()), knows the CPL
 * the harness's stores run at when it emulates one (kvm_mmu_emulate_store()
 * under shadow paging).
 */
static int ac_op(struct ac_ctx *c, u8 op, u64 addr, u64 value)
{
	if (c->len == AC_PROG_MAX)
		ac_run(c);
	if (!c->len && c->cpl == 3) {
		c->prog[c->len++] = (struct hw_access){ .op = HW_SET_CPL, .value = 0 };
		c->cpl = 0;
		ac_run(c);
	}
	c->prog[c->len] = (struct hw_access){ .op = op, .size = 8, .addr = addr, .value = value };
	return c->len++;
}

/* An entry's value: the pending store to it, if any, else guest memory's. */
static u64 ac_peek(struct ac_ctx *c, u64 gpa)
{
	int i;

	for (i = c->len - 1; i >= 0; i--) {
		if (c->prog[i].op == HW_STORE && c->prog[i].addr == AC_HARNESS_GVA + gpa)
			return c->prog[i].value;
	}
	return ac_read(c, gpa);
}

/* Have the guest store @val to its table entry at @gpa, if it is not there already. */
static void ac_put(struct ac_ctx *c, u64 gpa, u64 val)
{
	u64 *bits = NULL;
	unsigned int idx = (gpa & (PAGE_SIZE - 1)) / 8;

	if (gpa < PAGE_SIZE)
		bits = c->root_written;
	else if (gpa >= AC_POOL && gpa < AC_POOL + AC_POOL_FRAMES * PAGE_SIZE)
		bits = c->written[(gpa - AC_POOL) >> PAGE_SHIFT];
	if (bits) {
		if (val)
			bits[idx / 64] |= BIT_ULL(idx % 64);
		else
			bits[idx / 64] &= ~BIT_ULL(idx % 64);
	}
	if (ac_peek(c, gpa) != val)
		ac_op(c, HW_STORE, AC_HARNESS_GVA + gpa, val);
}

static u64 ac_cr4(const struct ac_ctx *c, bool smep, bool pke)
{
	return X86_CR4_PAE | (c->levels == 5 ? X86_CR4_LA57 : 0) | (smep ? X86_CR4_SMEP : 0) |
	       (pke ? X86_CR4_PKE : 0);
}

/*
 * Bring the CPU to a state with the guest's own instructions, writing only
 * what changes (as access.c does).  WRPKRU runs with CR4.PKE set.
 */
static void ac_cpu_state(struct ac_ctx *c, bool wp, bool nxe, bool smep, bool pke, u32 pkru)
{
	u64 cur = ac_cr4(c, c->smep, c->pke), want = ac_cr4(c, smep, pke);

	if (wp != c->wp)
		ac_op(c, HW_MOV_CR0, 0, X86_CR0_PG | AC_CR0_PE | (wp ? X86_CR0_WP : 0));
	if (nxe != c->nxe)
		ac_op(c, HW_WRMSR_EFER, 0, EFER_LME | (nxe ? EFER_NX : 0));
	if (ac_no_pku) {
		/* No PKE, no WRPKRU: PKRU stays what it is. */
		pkru = c->pkru;
		if (want != cur)
			ac_op(c, HW_MOV_CR4, 0, want);
	} else if (pkru != c->pkru) {
		if (pke) {
			if (want != cur)
				ac_op(c, HW_MOV_CR4, 0, want);
			ac_op(c, HW_WRPKRU, 0, pkru);
		} else {
			if (!c->pke)
				ac_op(c, HW_MOV_CR4, 0, cur | X86_CR4_PKE);
			ac_op(c, HW_WRPKRU, 0, pkru);
			ac_op(c, HW_MOV_CR4, 0, want);
		}
	} else if (want != cur) {
		ac_op(c, HW_MOV_CR4, 0, want);
	}
	c->wp = wp;
	c->nxe = nxe;
	c->smep = smep;
	c->pke = pke;
	c->pkru = pkru;
}

static void ac_cpu_state_of(struct ac_ctx *c, u32 f)
{
	u32 pkru = AC_PKRU_KEYS_OFF;

	if (F(CR4_PKE))
		pkru = AC_PKRU_BASE | (F(PKRU_WD) ? 8 : 0) | (F(PKRU_AD) ? 4 : 0);
	ac_cpu_state(c, F(CR0_WP), F(EFER_NXE), F(CR4_SMEP), F(CR4_PKE), pkru);
}

/*
 * Build the world: one vCPU on the simulated CPU, 4M of guest memory, the
 * harness's tables written by the VMM before the guest runs, and paging
 * turned on by the guest (CR4.PAE and LA57, EFER.LME|NXE, CR3, CR0.PG|WP).
 */
static int ac_create(struct ac_ctx *c, enum world_mmu mmu, int levels, char *why, size_t len)
{
	struct world_config cfg = {
		.mmu = mmu,
		.nr_vcpus = 1,
		.mem = { { .size = AC_MEM_SIZE, .nr_slots = 1 } },
	};
	struct kvmmu_guest_regs regs;
	u64 pdpt_parent = levels == 5 ? AC_H_PML4 : AC_ROOT, i;
	int r;

	r = world_create(&c->w, &cfg, why, len);
	if (r)
		return r;
	c->vcpu = c->w.vcpus[0];
	c->hv = c->vcpu->hw;
	c->levels = levels;
	c->tdp = c->w.kvm->arch.tdp_enabled;
	c->hva = c->w.cfg.mem[0].hva;

	/* gva AC_HARNESS_GVA + x -> gpa x, x < 2M: supervisor, writable. */
	if (levels == 5)
		ac_write(c, AC_ROOT, AC_H_PML4 | PT_PRESENT_MASK | PT_WRITABLE_MASK);
	ac_write(c, pdpt_parent + 8 * PT64_INDEX(AC_HARNESS_GVA, 4),
		 AC_H_PDPT | PT_PRESENT_MASK | PT_WRITABLE_MASK);
	ac_write(c, AC_H_PDPT + 8 * PT64_INDEX(AC_HARNESS_GVA, 3),
		 AC_H_PD | PT_PRESENT_MASK | PT_WRITABLE_MASK);
	ac_write(c, AC_H_PD + 8 * PT64_INDEX(AC_HARNESS_GVA, 2),
		 AC_H_PT | PT_PRESENT_MASK | PT_WRITABLE_MASK);
	for (i = 0; i < 512; i++)
		ac_write(c, AC_H_PT + 8 * i, (i << PAGE_SHIFT) | PT_PRESENT_MASK | PT_WRITABLE_MASK);

	ac_op(c, HW_MOV_CR4, 0, ac_cr4(c, false, false));
	ac_op(c, HW_WRMSR_EFER, 0, EFER_LME | EFER_NX);
	ac_op(c, HW_MOV_CR3, 0, AC_ROOT);
	ac_op(c, HW_MOV_CR0, 0, X86_CR0_PG | AC_CR0_PE | X86_CR0_WP);
	ac_run(c);
	c->wp = c->nxe = true;
	c->w.kvm->hw->get_regs(c->hv, &regs);
	if (!c->err && (!(regs.efer & EFER_LMA) || !!(regs.cr4 & X86_CR4_LA57) != (levels == 5)))
		ac_fail(c, "the guest did not reach %d-level paging", levels);
	if (c->err) {
		snprintf(why, len, "%s", c->err_why);
		world_destroy(&c->w);
		return c->err;
	}
	return 0;
}

/*
 * Start over with the pool: the guest clears every entry written in its
 * frames and in the root (but the harness's), so that each sub-test finds
 * empty tables, as access.c's ac_env_int() and its zeroing allocator give.
 */
static void ac_pool_reset(struct ac_ctx *c)
{
	unsigned int fr, i;

	for (fr = 0; fr < c->pool_next; fr++) {
		for (i = 0; i < 512; i++) {
			if (c->written[fr][i / 64] & BIT_ULL(i % 64))
				ac_put(c, AC_POOL + (u64)fr * PAGE_SIZE + 8 * i, 0);
		}
	}
	for (i = 0; i < 512; i++) {
		if (c->root_written[i / 64] & BIT_ULL(i % 64))
			ac_put(c, AC_ROOT + 8 * i, 0);
	}
	c->pool_next = 0;
}

/*
 * A test address (access.c's __ac_test_init()): its root entry cleared,
 * a table per level below the root, shared with @buddy's where the two
 * addresses have the same index at that level.
 */
static void ac_addr_init(struct ac_ctx *c, struct ac_addr *at, u64 gva, const struct ac_addr *buddy)
{
	int i;

	memset(at, 0, sizeof(*at));
	at->gva = gva;
	ac_put(c, AC_ROOT + 8 * PT64_INDEX(gva, c->levels), 0);
	for (i = c->levels; i > 1; i--) {
		if (buddy && PT64_INDEX(gva, i) == PT64_INDEX(buddy->gva, i)) {
			at->tables[i] = buddy->tables[i];
			continue;
		}
		if (c->pool_next == AC_POOL_FRAMES) {
			ac_fail(c, "out of table frames");
			return;
		}
		at->tables[i] = AC_POOL + (u64)c->pool_next++ * PAGE_SIZE;
	}
}

/* The table holding the level-@level entry of @at. */
static u64 ac_table(const struct ac_ctx *c, const struct ac_addr *at, int level)
{
	return level == c->levels ? AC_ROOT : at->tables[level + 1];
}

static u64 ac_pde_gpa(const struct ac_ctx *c, const struct ac_addr *at)
{
	return ac_table(c, at, 2) + 8 * PT64_INDEX(at->gva, 2);
}

static u64 ac_pte_gpa(const struct ac_ctx *c, const struct ac_addr *at)
{
	return ac_table(c, at, 1) + 8 * PT64_INDEX(at->gva, 1);
}

/*
 * Write the path of @at as @f says (access.c's ac_test_setup_ptes()) and
 * INVLPG it.  Entries above the PDE keep the A/D bits the walks set in
 * them; the PDE and the PTE are exactly what the flags say.
 */
static void ac_setup(struct ac_ctx *c, const struct ac_addr *at, u32 f)
{
	int lvl;

	for (lvl = c->levels; lvl >= 1; lvl--) {
		u64 gpa = ac_table(c, at, lvl) + 8 * PT64_INDEX(at->gva, lvl), v;

		if (lvl >= 3) {
			v = at->tables[lvl] | PT_PRESENT_MASK | PT_USER_MASK | AC_KEY_NONLEAF |
			    (ac_peek(c, gpa) & (PT_ACCESSED_MASK | PT_DIRTY_MASK));
			if (lvl > 3 || !F(PDPTE_RO))
				v |= PT_WRITABLE_MASK;
		} else if (lvl == 2) {
			if (F(PDE_PS))
				v = AC_DATA | PT_PAGE_SIZE_MASK | (F(PTE_PKEY1) ? AC_KEY_LEAF : 0) |
				    (F(PDE_BIT13) ? BIT_ULL(13) : 0);
			else
				v = at->tables[2] | AC_KEY_NONLEAF;
			v |= (F(PDE_P) ? PT_PRESENT_MASK : 0) | (F(PDE_W) ? PT_WRITABLE_MASK : 0) |
			     (F(PDE_U) ? PT_USER_MASK : 0) | (F(PDE_A) ? PT_ACCESSED_MASK : 0) |
			     (F(PDE_D) ? PT_DIRTY_MASK : 0) | (F(PDE_NX) ? PT64_NX_MASK : 0) |
			     (F(PDE_BIT51) ? BIT_ULL(51) : 0);
		} else {
			v = AC_DATA | (F(PTE_PKEY1) ? AC_KEY_LEAF : 0) |
			    (F(PTE_P) ? PT_PRESENT_MASK : 0) | (F(PTE_W) ? PT_WRITABLE_MASK : 0) |
			    (F(PTE_U) ? PT_USER_MASK : 0) | (F(PTE_A) ? PT_ACCESSED_MASK : 0) |
			    (F(PTE_D) ? PT_DIRTY_MASK : 0) | (F(PTE_NX) ? PT64_NX_MASK : 0) |
			    (F(PTE_BIT51) ? BIT_ULL(51) : 0);
		}
		ac_put(c, gpa, v);
		if (lvl == 2 && F(PDE_PS))
			break;
	}
	ac_op(c, HW_INVLPG, at->gva, 0);
}

/* INVLPG alone (access.c's ac_set_expected_status() on entries already set up). */
static void ac_flush(struct ac_ctx *c, const struct ac_addr *at)
{
	ac_op(c, HW_INVLPG, at->gva, 0);
}

/*
 * Emulate: KVM's software walker does the access, as its instruction
 * emulator would, with the registers KVM has for the vCPU.  Under shadow
 * paging KVM tracks CR0, CR4 and EFER itself (their writes exit): they
 * must match the CPU's, and its MMU context is used as it is.  With TDP
 * KVM does not see them: they are synced from the CPU (the VMREADs) and
 * the context recomputed.  PKRU and the CPL are read from the CPU either
 * way; the CPL decides PFERR_USER_MASK.
 */
static bool ac_emulate(struct ac_ctx *c, u64 gva, u64 access, u64 *error_code, gpa_t *gpa,
		       char *problem, size_t plen)
{
	struct kvm_vcpu *vcpu = c->vcpu;
	struct kvm_vcpu_arch *a = &vcpu->arch;
	struct kvmmu_guest_regs regs;
	struct x86_exception e = { 0 };
	int idx;

	vcpu->kvm->hw->get_regs(c->hv, &regs);
	if (!c->tdp && (a->cr0 != regs.cr0 || a->cr4 != regs.cr4 || a->efer != regs.efer ||
			a->cr3 != regs.cr3)) {
		snprintf(problem, plen, "KVM's CR0/CR3/CR4/EFER %#llx/%#llx/%#llx/%#llx differ "
			 "from the CPU's %#llx/%#llx/%#llx/%#llx", (unsigned long long)a->cr0,
			 (unsigned long long)a->cr3, (unsigned long long)a->cr4,
			 (unsigned long long)a->efer, (unsigned long long)regs.cr0,
			 (unsigned long long)regs.cr3, (unsigned long long)regs.cr4,
			 (unsigned long long)regs.efer);
	}
	a->rflags = regs.rflags;
	a->pkru = regs.pkru;
	a->cpl = regs.cpl;
	if (c->tdp) {
		a->cr0 = regs.cr0;
		a->cr3 = regs.cr3;
		a->cr4 = regs.cr4;
		a->efer = regs.efer;
		kvm_init_mmu(vcpu);
	}
	if (regs.cpl == 3)
		access |= PFERR_USER_MASK;
	idx = srcu_read_lock(&vcpu->kvm->srcu);
	*gpa = kvm_mmu_gva_to_gpa(vcpu, gva, access, &e);
	srcu_read_unlock(&vcpu->kvm->srcu, idx);
	*error_code = *gpa == UNMAPPED_GVA ? e.error_code : 0;
	return *gpa == UNMAPPED_GVA;
}

static void ac_problem(struct ac_result *res, const char *fmt, ...) __printf(2, 3);

static void ac_problem(struct ac_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res->problem[0])
		return;
	va_start(ap, fmt);
	vsnprintf(res->problem, sizeof(res->problem), fmt, ap);
	va_end(ap);
}

/*
 * The access of case @f at @at (access.c's ac_test_do_access()): the CPU
 * state the flags say, a supervisor read first with twice, CPL 3 for
 * user, then the read, write or fetch, made by the CPU or, with emulate,
 * by KVM's walker.  Its outcome is held against ac_expect() from the
 * entries as they were just before.
 */
static void ac_access(struct ac_ctx *c, const struct ac_addr *at, u32 f, struct ac_result *res)
{
	u64 pde_gpa = ac_pde_gpa(c, at), pte_gpa = ac_pte_gpa(c, at);
	unsigned long warns = kvmmu_warn_count();
	u64 mmio = c->mmio_exits, cr2, value;
	struct hw_vcpu_stats st0, st1;
	bool ps = F(PDE_PS);
	int idx = -1;
	u8 op;

	memset(res, 0, sizeof(*res));
	res->flags = f;
	res->gva = at->gva;

	/* Run what is pending (the setup) and the CPU state changes. */
	hw_vcpu_get_stats(c->hv, &st0);
	ac_cpu_state_of(c, f);
	ac_run(c);
	hw_vcpu_get_stats(c->hv, &st1);
	if (st1.guest_faults != st0.guest_faults || st1.guest_gps != st0.guest_gps) {
		hw_vcpu_last_pf(c->hv, &cr2, &value);
		ac_fail(c, "the harness's own instructions faulted (%llu #PF, the last at %#llx "
			"with error code %#llx; %llu #GP)",
			(unsigned long long)(st1.guest_faults - st0.guest_faults),
			(unsigned long long)cr2, (unsigned long long)value,
			(unsigned long long)(st1.guest_gps - st0.guest_gps));
	}
	if (c->err)
		return;

	res->pde_before = ac_read(c, pde_gpa);
	res->pte_before = ps ? 0 : ac_read(c, pte_gpa);
	ac_expect(f, res->pte_before, res->pde_before, &res->exp);
	value = ++c->marker;
	ac_write(c, AC_DATA, value);

	if (F(TWICE)) {
		if (F(EMULATE)) {
			u64 ec;
			gpa_t gpa;

			ac_emulate(c, at->gva, 0, &ec, &gpa, res->problem, sizeof(res->problem));
		} else {
			ac_op(c, HW_LOAD, at->gva, 0);
			ac_run(c);
		}
	}

	if (F(USER))
		ac_op(c, HW_SET_CPL, 0, 3);
	op = F(WRITE) ? HW_STORE : F(FETCH) ? HW_FETCH : HW_LOAD;
	if (F(EMULATE)) {
		u64 access = (F(WRITE) ? PFERR_WRITE_MASK : 0) | (F(FETCH) ? PFERR_FETCH_MASK : 0);
		gpa_t gpa;

		ac_run(c);
		if (F(USER))
			c->cpl = 3;
		res->fault = ac_emulate(c, at->gva, access, &res->error_code, &gpa, res->problem,
					sizeof(res->problem));
		if (!res->fault && gpa != AC_DATA)
			ac_problem(res, "KVM's walker translated to gpa %#llx, not %#llx",
				   (unsigned long long)gpa, (unsigned long long)AC_DATA);
	} else {
		idx = ac_op(c, op, at->gva, ~value);
		/* Back to the kernel, as access.c's access returns through int 0x20. */
		if (F(USER))
			ac_op(c, HW_SET_CPL, 0, 0);
		hw_vcpu_get_stats(c->hv, &st0);
		ac_run(c);
		hw_vcpu_get_stats(c->hv, &st1);
		res->fault = st1.guest_faults != st0.guest_faults;
		if (res->fault) {
			hw_vcpu_last_pf(c->hv, &cr2, &res->error_code);
			if (cr2 != at->gva)
				ac_problem(res, "#PF at %#llx, not at the test address",
					   (unsigned long long)cr2);
		} else if (op == HW_STORE && !c->err) {
			if (ac_read(c, AC_DATA) != ~value)
				ac_problem(res, "the store did not reach the data page");
		} else if (!c->err && c->prog[idx].value != value) {
			ac_problem(res, "the %s read %#llx, not the data page's %#llx",
				   op == HW_FETCH ? "fetch" : "load",
				   (unsigned long long)c->prog[idx].value,
				   (unsigned long long)value);
		}
	}
	if (c->err)
		return;

	res->pde_after = ac_read(c, pde_gpa);
	res->pte_after = ps ? 0 : ac_read(c, pte_gpa);
	if (c->mmio_exits != mmio)
		ac_problem(res, "%llu unexpected MMIO exit(s)",
			   (unsigned long long)(c->mmio_exits - mmio));
	if (kvmmu_warn_count() != warns)
		ac_problem(res, "%lu WARN(s) fired", kvmmu_warn_count() - warns);

	res->match = res->fault == res->exp.fault && res->error_code == res->exp.error_code &&
		     (ps || res->pte_after == res->exp.pte) &&
		     !((res->pde_after ^ res->exp.pde) & ~res->exp.pde_ignore) && !res->problem[0];
}

/* ---- access.c's sub-tests ----------------------------------------------------------------- */

#define AC_SUB_MAX_STEPS 4

struct ac_subtest_result {
	int nr;
	struct ac_result steps[AC_SUB_MAX_STEPS];
	bool match;
};

struct ac_subtest {
	const char *name;
	const char *description;
	void (*run)(struct ac_ctx *c, struct ac_subtest_result *r);
};

static struct ac_result *ac_step(struct ac_subtest_result *r)
{
	return &r->steps[r->nr++];
}

/*
 * Two 2M PDEs, in tables of their own, map the same page; the read-only
 * one must stay read-only after writes through the writable one (KVM
 * commit e09e90a5).
 */
static void sub_corrupt_hugepage_trigger(struct ac_ctx *c, struct ac_subtest_result *r)
{
	struct ac_addr at1, at2;
	u32 f2 = ACF(CR0_WP) | ACF(PDE_PS) | ACF(PDE_P), f1 = f2 | ACF(PDE_W);

	ac_addr_init(c, &at1, 0xffff923400000000ULL, NULL);
	ac_addr_init(c, &at2, 0xffffe66600000000ULL, &at1);
	ac_setup(c, &at2, f2);
	ac_access(c, &at2, f2, ac_step(r));
	ac_setup(c, &at1, f1);
	ac_access(c, &at1, f1, ac_step(r));
	f1 |= ACF(WRITE);
	ac_flush(c, &at1);
	ac_access(c, &at1, f1, ac_step(r));
	f2 |= ACF(WRITE);
	ac_flush(c, &at2);
	ac_access(c, &at2, f2, ac_step(r));
}

/*
 * Two PTEs of one table; the second has NX without EFER.NXE, a reserved
 * bit.  The first access may prefetch the second's SPTE; the second must
 * still fault with RSVD (KVM commit 3ddf6c06e13e).
 */
static void sub_pfec_on_prefetch_pte(struct ac_ctx *c, struct ac_subtest_result *r)
{
	struct ac_addr at1, at2;
	u32 f1 = ACF(PDE_P) | ACF(PTE_P), f2 = f1 | ACF(PTE_NX);

	ac_addr_init(c, &at1, 0xffff923406001000ULL, NULL);
	ac_addr_init(c, &at2, 0xffff923406003000ULL, &at1);
	ac_setup(c, &at1, f1);
	ac_setup(c, &at2, f2);
	ac_access(c, &at1, f1, ac_step(r));
	ac_access(c, &at2, f2, ac_step(r));
}

/*
 * CR0.WP clear: a supervisor write through a read-only 2M PDE succeeds;
 * through a second read-only 2M PDE of the same page it must set that
 * PDE's D too, not reuse a writable mapping made for the first.
 */
static void sub_large_pte_dirty_for_nowp(struct ac_ctx *c, struct ac_subtest_result *r)
{
	struct ac_addr at1, at2;
	u32 f2 = ACF(PDE_P) | ACF(PDE_PS), f1 = f2 | ACF(WRITE);

	ac_addr_init(c, &at1, 0xffff923403000000ULL, NULL);
	ac_addr_init(c, &at2, 0xffffe66606000000ULL, &at1);
	ac_setup(c, &at2, f2);
	ac_access(c, &at2, f2, ac_step(r));
	ac_setup(c, &at1, f1);
	ac_access(c, &at1, f1, ac_step(r));
	f2 |= ACF(WRITE);
	ac_flush(c, &at2);
	ac_access(c, &at2, f2, ac_step(r));
}

/*
 * SMEP with CR0.WP: a supervisor write to a read-only user page faults,
 * and a supervisor fetch from it then faults too (SMEP).
 */
static void sub_smep_andnot_wp(struct ac_ctx *c, struct ac_subtest_result *r)
{
	struct ac_addr at;
	u32 f = ACF(PDE_P) | ACF(PTE_P) | ACF(PDE_U) | ACF(PTE_U) | ACF(PDE_A) | ACF(PTE_A) |
		ACF(CR4_SMEP) | ACF(CR0_WP) | ACF(WRITE);

	ac_addr_init(c, &at, 0xffff923406001000ULL, NULL);
	ac_setup(c, &at, f);
	ac_access(c, &at, f, ac_step(r));
	f = (f & ~ACF(WRITE)) | ACF(FETCH);
	ac_flush(c, &at);
	ac_access(c, &at, f, ac_step(r));
	/* access.c turns SMEP off again when it is done. */
	ac_cpu_state(c, c->wp, c->nxe, false, c->pke, c->pkru);
}

/*
 * A supervisor write to a read-only page with CR0.WP clear, then set, each
 * after CR0.WP was loaded with the other value and EFER.NXE toggled (so
 * that a context rebuilt on a stale CR0.WP would show); by the CPU, then
 * by KVM's walker (access.c's forced-emulation variant).
 */
static void sub_toggle_cr0_wp(struct ac_ctx *c, struct ac_subtest_result *r)
{
	static const u32 extra[] = {
		0, ACF(CR0_WP), ACF(EMULATE), ACF(EMULATE) | ACF(CR0_WP),
	};
	u32 base = ACF(PDE_P) | ACF(PDE_A) | ACF(PTE_P) | ACF(PTE_A) | ACF(WRITE);
	struct ac_addr at;
	size_t i;

	ac_addr_init(c, &at, 0xffff923042007000ULL, NULL);
	ac_setup(c, &at, base);
	for (i = 0; i < ARRAY_SIZE(extra); i++) {
		bool wp = extra[i] & ACF(CR0_WP);

		ac_cpu_state(c, !wp, true, c->smep, c->pke, c->pkru);
		ac_cpu_state(c, !wp, false, c->smep, c->pke, c->pkru);
		ac_access(c, &at, base | extra[i], ac_step(r));
	}
}

/*
 * Effective permissions of shared tables: two PDPTEs, one writable and
 * one not, point to the same PD.  A user write through the writable one
 * succeeds; through the read-only one it must fault, whatever KVM built
 * for the first path.
 *
 *   PDPTE 210 (uw) -> PD -> PDE 0 (u)  -> PT1 -> PTE (uw)   ptr1 = base (read)
 *                        -> PDE 1 (uw) -> PT2 -> PTE (uwd)  ptr2 = base + 2M (write)
 *   PDPTE 211 (u)  -> the same PD                           ptr3 = base + 1G (read)
 *                                                          ptr4 = base + 1G + 2M (write: #PF)
 */
static void sub_effective_sp_permissions(struct ac_ctx *c, struct ac_subtest_result *r)
{
	const u64 ptr1 = 0xffff923480000000ULL, ptr2 = ptr1 + (2ULL << 20);
	const u64 ptr3 = ptr1 + (1ULL << 30), ptr4 = ptr3 + (2ULL << 20);
	struct ac_addr at1, at2, at3, at4;
	u32 f1 = ACF(PDE_P) | ACF(PTE_P) | ACF(PDE_U) | ACF(PTE_U) | ACF(PDE_A) | ACF(PTE_A) |
		 ACF(PTE_W) | ACF(USER);
	u32 f2 = f1 | ACF(PDE_W) | ACF(PTE_D) | ACF(WRITE);

	ac_addr_init(c, &at1, ptr1, NULL);
	ac_setup(c, &at1, f1);
	ac_addr_init(c, &at2, ptr2, &at1);
	ac_setup(c, &at2, f2);
	ac_addr_init(c, &at3, ptr3, &at1);
	at3.tables[3] = at1.tables[3];
	ac_setup(c, &at3, f1 | ACF(PDPTE_RO));
	ac_addr_init(c, &at4, ptr4, &at2);
	at4.tables[3] = at1.tables[3];
	ac_setup(c, &at4, f2 | ACF(PDPTE_RO));

	ac_access(c, &at1, f1, ac_step(r));
	ac_access(c, &at2, f2, ac_step(r));
	ac_access(c, &at3, f1 | ACF(PDPTE_RO), ac_step(r));
	ac_access(c, &at4, f2 | ACF(PDPTE_RO), ac_step(r));
}

static const struct ac_subtest ac_subtests[] = {
	{ "corrupt_hugepage_trigger",
	  "a read-only 2M PDE stays read-only beside a writable one of the same page",
	  sub_corrupt_hugepage_trigger },
	{ "pfec_on_prefetch_pte",
	  "a prefetched PTE with a reserved bit still faults with RSVD",
	  sub_pfec_on_prefetch_pte },
	{ "large_pte_dirty_for_nowp",
	  "CR0.WP=0 writes set D in each of two read-only 2M PDEs of one page",
	  sub_large_pte_dirty_for_nowp },
	{ "smep_andnot_wp",
	  "SMEP stops a supervisor fetch from a user page after a write attempt",
	  sub_smep_andnot_wp },
	{ "toggle_cr0_wp",
	  "supervisor writes to a read-only page follow CR0.WP after it toggles",
	  sub_toggle_cr0_wp },
	{ "effective_sp_permissions",
	  "a PD shared by a writable and a read-only PDPTE gives each its rights",
	  sub_effective_sp_permissions },
};

static void ac_run_subtest(struct ac_ctx *c, const struct ac_subtest *s,
			   struct ac_subtest_result *r)
{
	int i;

	memset(r, 0, sizeof(*r));
	ac_pool_reset(c);
	s->run(c, r);
	ac_run(c);
	r->match = !c->err;
	for (i = 0; i < r->nr; i++)
		r->match &= r->steps[i].match;
}

/* ---- output --------------------------------------------------------------------------------- */

static void ac_flags_text(u32 f, char *buf, size_t len)
{
	size_t n = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < NR_AC_FLAGS && n < len; i++) {
		if (f & (1U << i))
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "", ac_names[i]);
	}
	if (!buf[0])
		snprintf(buf, len, "(no flags)");
}

static void ac_ec_text(u64 ec, char *buf, size_t len)
{
	static const char *const bits[] = { "P", "W", "U", "RSVD", "I/D", "PK" };
	char names[32] = "";
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bits); i++) {
		if (ec & BIT_ULL(i)) {
			if (names[0])
				strcat(names, "|");
			strcat(names, bits[i]);
		}
	}
	if (names[0])
		snprintf(buf, len, "%#llx (%s)", (unsigned long long)ec, names);
	else
		snprintf(buf, len, "%#llx", (unsigned long long)ec);
}

static void ac_outcome_text(bool fault, u64 ec, char *buf, size_t len)
{
	char e[48];

	if (!fault) {
		snprintf(buf, len, "no fault");
		return;
	}
	ac_ec_text(ec, e, sizeof(e));
	snprintf(buf, len, "#PF %s", e);
}

static void ac_result_text(FILE *f, const struct ac_result *res, const char *indent)
{
	const struct ac_expect *e = &res->exp;
	char flags[400], got[64], want[64];

	ac_flags_text(res->flags, flags, sizeof(flags));
	ac_outcome_text(res->fault, res->error_code, got, sizeof(got));
	ac_outcome_text(e->fault, e->error_code, want, sizeof(want));
	fprintf(f, "%s%s %s: %s", indent, res->match ? "ok  " : "FAIL", flags, got);
	if (!res->match)
		fprintf(f, ", expected %s", want);
	fputc('\n', f);
	if (res->match)
		return;
	if (!(res->flags & ACF(PDE_PS)))
		fprintf(f, "%s     pte %#llx -> %#llx, expected %#llx\n", indent,
			(unsigned long long)res->pte_before, (unsigned long long)res->pte_after,
			(unsigned long long)e->pte);
	fprintf(f, "%s     pde %#llx -> %#llx, expected %#llx%s\n", indent,
		(unsigned long long)res->pde_before, (unsigned long long)res->pde_after,
		(unsigned long long)e->pde, e->pde_ignore ? " (A either way)" : "");
	if (res->problem[0])
		fprintf(f, "%s     %s\n", indent, res->problem);
}

static void ac_result_json(struct json *j, const struct ac_result *res, bool gva)
{
	int i;

	json_object_begin(j);
	json_key(j, "flags");
	json_array_begin(j);
	for (i = 0; i < NR_AC_FLAGS; i++) {
		if (res->flags & (1U << i))
			json_string(j, ac_names[i]);
	}
	json_array_end(j);
	if (gva) {
		json_key(j, "gva");
		json_u64(j, res->gva);
	}
	json_key(j, "fault");
	json_bool(j, res->fault);
	json_key(j, "error_code");
	json_u64(j, res->error_code);
	json_key(j, "pte_before");
	json_u64(j, res->pte_before);
	json_key(j, "pte_after");
	json_u64(j, res->pte_after);
	json_key(j, "pde_before");
	json_u64(j, res->pde_before);
	json_key(j, "pde_after");
	json_u64(j, res->pde_after);
	json_key(j, "expected");
	json_object_begin(j);
	json_key(j, "fault");
	json_bool(j, res->exp.fault);
	json_key(j, "error_code");
	json_u64(j, res->exp.error_code);
	json_key(j, "pte_after");
	json_u64(j, (res->flags & ACF(PDE_PS)) ? 0 : res->exp.pte);
	json_key(j, "pde_after");
	json_u64(j, res->exp.pde);
	json_key(j, "pde_ignore");
	json_u64(j, res->exp.pde_ignore);
	json_object_end(j);
	json_key(j, "match");
	json_bool(j, res->match);
	json_key(j, "problem");
	json_string(j, res->problem[0] ? res->problem : NULL);
	json_object_end(j);
}

/* ---- the command ---------------------------------------------------------------------------- */

#define AC_MAX_CASES 256

/* What to run: a case's flags, or a sub-test (--case NAME). */
struct ac_item {
	const struct ac_subtest *sub;
	u32 flags;
};

static u64 ac_rnd(u64 *s)
{
	u64 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * A case of the sample: every flag 1 in 2 but the present bits (7 in 8,
 * so that most walks reach a permission check) and the reserved bits (one
 * in 4 cases gets one of those the case can have); then made legal as
 * ac_legal() wants it.
 */
static u32 ac_sample(u64 *s)
{
	u32 rsvd[5], f = (u32)ac_rnd(s) & ((1U << NR_AC_FLAGS) - 1);
	int n = 0;

	f &= ~(ACF(PTE_BIT51) | ACF(PDE_BIT51) | ACF(PDE_BIT13));
	f |= ACF(PTE_P) | ACF(PDE_P);
	if (ac_rnd(s) % 8 == 0)
		f &= ~ACF(PTE_P);
	if (ac_rnd(s) % 8 == 0)
		f &= ~ACF(PDE_P);
	if (F(WRITE) && F(FETCH))
		f &= ~(ac_rnd(s) & 1 ? ACF(WRITE) : ACF(FETCH));
	if (F(PDE_PS))
		f &= ~AC_PTE_ONLY;
	if (!F(CR4_PKE))
		f &= ~(ACF(PKRU_AD) | ACF(PKRU_WD));
	if (ac_no_pku)
		f &= ~AC_PKU_FLAGS;
	/* NX without EFER.NXE is a reserved bit: drawn with the others. */
	if (!F(EFER_NXE))
		f &= ~(ACF(PTE_NX) | ACF(PDE_NX));
	if (ac_rnd(s) % 4 == 0) {
		rsvd[n++] = ACF(PDE_BIT51);
		if (F(PDE_PS)) {
			rsvd[n++] = ACF(PDE_BIT13);
		} else {
			rsvd[n++] = ACF(PTE_BIT51);
			if (!F(EFER_NXE))
				rsvd[n++] = ACF(PTE_NX);
		}
		if (!F(EFER_NXE))
			rsvd[n++] = ACF(PDE_NX);
		f |= rsvd[ac_rnd(s) % (u64)n];
	}
	return f;
}

/* --case: flag names, or a sub-test's name alone. */
static struct ac_item ac_parse_case(const char *s)
{
	struct ac_item it = { 0 };
	char *copy = strdup(s), *tok, *save = NULL;
	const char *why;
	size_t i;
	int k, n = 0;

	if (!copy)
		cli_usage_error("access: out of memory");
	for (tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		n++;
		for (i = 0; i < ARRAY_SIZE(ac_subtests); i++) {
			if (!strcmp(tok, ac_subtests[i].name))
				it.sub = &ac_subtests[i];
		}
		if (it.sub) {
			if (n > 1 || strtok_r(NULL, " \t,", &save))
				cli_usage_error("access: --case '%s': a sub-test (%s) is a case of its "
						"own, without flags", s, it.sub->name);
			break;
		}
		for (k = 0; k < NR_AC_FLAGS; k++) {
			if (!strcmp(tok, ac_names[k]))
				break;
		}
		if (k == NR_AC_FLAGS)
			cli_usage_error("access: --case: unknown flag '%s' (see kvmmu access --help)",
					tok);
		it.flags |= 1U << k;
	}
	free(copy);
	why = it.sub ? NULL : ac_impossible(it.flags);
	if (why)
		cli_usage_error("access: --case '%s': %s", s, why);
	return it;
}

static u64 ac_parse_u64(const char *opt, const char *s, u64 min, u64 max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		cli_usage_error("access: --%s wants a number from %llu to %llu, not '%s'", opt,
				(unsigned long long)min, (unsigned long long)max, s);
	return v;
}

struct ac_run_state {
	struct ac_ctx *c;
	struct cli_output *out;
	struct json *j;
	bool list_all; /* print every case, not only the failures */
	u64 cases, failures, subtests;
	/* progress */
	bool quiet, tty;
	u64 total, last;
};

static void ac_progress(struct ac_run_state *s)
{
	if (s->quiet || !s->total)
		return;
	if (s->tty) {
		if (s->cases % 1000 == 0 || s->cases == s->total)
			fprintf(stderr, "\rcase %llu/%llu%s", (unsigned long long)s->cases,
				(unsigned long long)s->total, s->cases == s->total ? "\n" : "");
	} else if (s->cases * 10 / s->total != s->last * 10 / s->total || s->cases == s->total) {
		fprintf(stderr, "case %llu/%llu\n", (unsigned long long)s->cases,
			(unsigned long long)s->total);
	}
	s->last = s->cases;
}

static void ac_report(struct ac_run_state *s, const struct ac_result *res)
{
	s->cases++;
	if (!res->match)
		s->failures++;
	if (s->out->json)
		ac_result_json(s->j, res, false);
	if (!res->match || s->list_all)
		ac_result_text(s->out->human, res, "");
	ac_progress(s);
}

/* The main loop's address, set up once; each case rewrites its path. */
static struct ac_addr ac_main_addr;
static bool ac_main_ready;

static void ac_one_case(struct ac_run_state *s, u32 f)
{
	struct ac_ctx *c = s->c;
	struct ac_result res;

	if (!ac_main_ready) {
		ac_pool_reset(c);
		ac_addr_init(c, &ac_main_addr, AC_GVA, NULL);
		ac_main_ready = true;
	}
	ac_setup(c, &ac_main_addr, f);
	ac_access(c, &ac_main_addr, f, &res);
	if (!c->err)
		ac_report(s, &res);
}

static void ac_one_subtest(struct ac_run_state *s, const struct ac_subtest *sub)
{
	struct ac_ctx *c = s->c;
	struct ac_subtest_result r;
	int i;

	ac_main_ready = false; /* the sub-test takes the pool */
	ac_run_subtest(c, sub, &r);
	if (c->err)
		return;
	s->subtests++;
	if (!r.match)
		s->failures++;
	if (s->out->json) {
		json_object_begin(s->j);
		json_key(s->j, "name");
		json_string(s->j, sub->name);
		json_key(s->j, "match");
		json_bool(s->j, r.match);
		json_key(s->j, "accesses");
		json_array_begin(s->j);
		for (i = 0; i < r.nr; i++)
			ac_result_json(s->j, &r.steps[i], true);
		json_array_end(s->j);
		json_object_end(s->j);
	}
	if (r.match && !s->list_all)
		return;
	fprintf(s->out->human, "%s %s: %s\n", r.match ? "ok  " : "FAIL", sub->name,
		sub->description);
	for (i = 0; i < r.nr; i++)
		ac_result_text(s->out->human, &r.steps[i], "  ");
}

static double ac_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmd_access(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mmu", required_argument, NULL, 'M' },
		{ "paging", required_argument, NULL, 'p' },
		{ "sample", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "exhaustive", no_argument, NULL, 'x' },
		{ "case", required_argument, NULL, 'c' },
		{ "json", optional_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	static struct ac_item items[AC_MAX_CASES];
	static struct ac_ctx ctx;
	enum world_mmu mmu = WORLD_MMU_TDP;
	u64 sample = 10000, seed = 1, rng, i;
	bool set_sample = false, set_seed = false, exhaustive = false;
	int levels = 4, nr_items = 0, c, r;
	struct ac_run_state st = { .c = &ctx, .tty = isatty(2) };
	const char *mode;
	struct cli_output out;
	unsigned long warns;
	struct json j;
	char why[160];
	double t0;

	cli_output_init(&out);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'M':
			if (world_mmu_parse(optarg, &mmu, why, sizeof(why)))
				cli_usage_error("access: %s", why);
			ac_no_pku = mmu == WORLD_MMU_SHADOW;
			break;
		case 'p':
			if (strcmp(optarg, "4") && strcmp(optarg, "5"))
				cli_usage_error("access: --paging is 4 or 5 (levels of guest paging), "
						"not '%s'", optarg);
			levels = optarg[0] - '0';
			break;
		case 'n':
			sample = ac_parse_u64("sample", optarg, 1, 100000000);
			set_sample = true;
			break;
		case 's':
			seed = ac_parse_u64("seed", optarg, 0, ~0ULL);
			set_seed = true;
			break;
		case 'x':
			exhaustive = true;
			break;
		case 'c':
			if (nr_items == AC_MAX_CASES)
				cli_usage_error("access: at most %d --case options", AC_MAX_CASES);
			items[nr_items++] = ac_parse_case(optarg);
			break;
		case 'j':
			cli_output_parse_json(&out, "json", optarg);
			break;
		case 'q':
			out.quiet = true;
			break;
		default:
			cli_usage_error("access: unknown option '%s' (see kvmmu access --help)",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		cli_usage_error("access: unexpected argument '%s'", argv[optind]);
	for (i = 0; i < (u64)nr_items; i++) {
		if (ac_no_pku && !items[i].sub && (items[i].flags & AC_PKU_FLAGS))
			cli_usage_error("access: --case: protection keys need PKU, which KVM gives "
					"a guest only with TDP (not with --mmu shadow)");
	}
	if (exhaustive && (set_sample || set_seed))
		cli_usage_error("access: --exhaustive runs every case: no --sample or --seed");
	if (nr_items && (exhaustive || set_sample || set_seed))
		cli_usage_error("access: --case runs the cases it names: no --sample, --seed or "
				"--exhaustive");

	mode = nr_items ? "cases" : exhaustive ? "exhaustive" : "sample";
	if (exhaustive) {
		for (i = 0; i < (1ULL << NR_AC_FLAGS); i++)
			st.total += ac_legal((u32)i);
	} else if (!nr_items) {
		st.total = sample;
	}
	st.quiet = out.quiet;
	st.list_all = nr_items > 0;
	st.out = &out;
	st.j = &j;

	cli_outputs_begin("access", &out, &j, NULL);
	r = ac_create(&ctx, mmu, levels, why, sizeof(why));
	if (r) {
		fprintf(stderr, "kvmmu: access: cannot build the VM: %s\n", why);
		return CLI_EXIT_INTERNAL;
	}
	warns = kvmmu_warn_count();
	t0 = ac_now();

	if (out.json) {
		json_object_begin(&j);
		json_key(&j, "mmu");
		json_string(&j, world_mmu_name(mmu));
		json_key(&j, "paging");
		json_u64(&j, (u64)levels);
		json_key(&j, "mode");
		json_string(&j, mode);
		json_key(&j, "seed");
		if (!nr_items && !exhaustive)
			json_u64(&j, seed);
		else
			json_null(&j);
		json_key(&j, "cases");
		json_array_begin(&j);
	}
	if (nr_items) {
		for (r = 0; r < nr_items && !ctx.err; r++) {
			if (!items[r].sub)
				ac_one_case(&st, items[r].flags);
		}
	} else if (exhaustive) {
		for (i = 0; i < (1ULL << NR_AC_FLAGS) && !ctx.err; i++) {
			if (ac_legal((u32)i))
				ac_one_case(&st, (u32)i);
		}
	} else {
		rng = seed;
		for (i = 0; i < sample && !ctx.err; i++)
			ac_one_case(&st, ac_sample(&rng));
	}
	if (out.json) {
		json_array_end(&j);
		json_key(&j, "subtests");
		json_array_begin(&j);
	}
	for (r = 0; r < (nr_items ? nr_items : (int)ARRAY_SIZE(ac_subtests)) && !ctx.err; r++) {
		if (!nr_items)
			ac_one_subtest(&st, &ac_subtests[r]);
		else if (items[r].sub)
			ac_one_subtest(&st, items[r].sub);
	}
	if (ctx.err) {
		fprintf(stderr, "kvmmu: access: internal error: %s\n", ctx.err_why);
		world_destroy(&ctx.w);
		return CLI_EXIT_INTERNAL;
	}
	warns = kvmmu_warn_count() - warns;
	if (out.json) {
		json_array_end(&j);
		json_key(&j, "cases_run");
		json_u64(&j, st.cases);
		json_key(&j, "subtests_run");
		json_u64(&j, st.subtests);
		json_key(&j, "failures");
		json_u64(&j, st.failures);
		json_key(&j, "warnings");
		json_u64(&j, warns);
		json_object_end(&j);
		json_finish(&j);
		cli_output_close(&out);
	}
	fprintf(out.human, "access: %llu case%s and %llu sub-test%s on %s, %d-level guest paging: "
		"%llu failure%s (%.2fs)\n", (unsigned long long)st.cases, st.cases == 1 ? "" : "s",
		(unsigned long long)st.subtests, st.subtests == 1 ? "" : "s", world_mmu_name(mmu),
		levels, (unsigned long long)st.failures, st.failures == 1 ? "" : "s",
		ac_now() - t0);
	if (warns)
		fprintf(out.human, "%lu WARN%s fired\n", warns, warns == 1 ? "" : "s");
	if (st.failures && !nr_items)
		fprintf(out.human, "reproduce one: kvmmu access --mmu %s --paging %d --case "
			"\"FLAGS\"\n", world_mmu_name(mmu), levels);
	if (world_destroy(&ctx.w)) {
		fprintf(stderr, "kvmmu: access: frames left allocated after teardown\n");
		return CLI_EXIT_VIOLATION;
	}
	return st.failures || warns ? CLI_EXIT_VIOLATION : CLI_EXIT_OK;
}

const struct cli_command cli_cmd_access = {
	.name = "access",
	.summary = "the permission test of kvm-unit-tests' x86/access.c",
	.usage =
		"usage: kvmmu access [options]\n"
		"\n"
		"The permission test of kvm-unit-tests' x86/access.c.  A case is a set of\n"
		"flags; it runs as one access of a 64-bit guest on a fresh INVLPG, and its\n"
		"#PF (or none), error code and the A/D bits it leaves in the PTE and the\n"
		"PDE are checked against an expectation computed from the flags alone.\n"
		"Every MMU, the CPU and KVM's software walker (emulate) must agree with it.\n"
		"The guest writes its own page tables, through a supervisor mapping of\n"
		"them, so that KVM sees every change (shadow paging).  Upper levels are\n"
		"present, writable and user; MAXPHYADDR is 46.  Then access.c's six\n"
		"hand-written sub-tests.  Exit status: 0 every case matched, 1 a mismatch\n"
		"(or a WARN), 2 usage, 3 internal error.\n"
		"\n"
		"flags of a case:\n"
		"  pte.p pte.w pte.u pte.a pte.d pte.nx pte.bit51\n"
		"                     the leaf PTE's bits (bit 51: above MAXPHYADDR, reserved)\n"
		"  pde.p pde.w pde.u pde.a pde.d pde.ps pde.nx pde.bit51 pde.bit13\n"
		"                     the PDE's; with pde.ps it is a 2M leaf (bit 13 then\n"
		"                     reserved; without pde.ps, pde.bit13 is no case)\n"
		"  pdpte.ro           the PDPTE without W\n"
		"  pkru.ad pkru.wd    PKRU's AD and WD for key 1 (key 2, the key every\n"
		"                     non-leaf entry carries, has both: it must not count)\n"
		"  pte.pkey1          the leaf (PTE, or the 2M PDE) has key 1, else key 0\n"
		"  user write fetch   the access: at CPL 3; a write, a fetch (else a read)\n"
		"  twice              a supervisor read first, without INVLPG in between\n"
		"  efer.nxe cr0.wp cr4.smep cr4.pke\n"
		"                     the CPU state, set by the guest's own instructions\n"
		"                     where it differs from the case before's, as access.c\n"
		"                     does (PKRU is all AD|WD but key 0 while CR4.PKE is\n"
		"                     clear)\n"
		"  emulate            KVM's software walker makes the access(es) instead of\n"
		"                     the CPU, as its instruction emulator would\n"
		"\n"
		"sub-tests (--case NAME): corrupt_hugepage_trigger, pfec_on_prefetch_pte,\n"
		"  large_pte_dirty_for_nowp, smep_andnot_wp, toggle_cr0_wp (its last two\n"
		"  accesses with emulate), effective_sp_permissions\n"
		"\n"
		"--exhaustive and --sample skip, as access.c does, the cases that only\n"
		"repeat another: pkru.ad or pkru.wd without cr4.pke, PTE bits (but\n"
		"pte.pkey1) with pde.ps, and more than one reserved bit (pte.bit51,\n"
		"pde.bit51, pde.bit13, and pte.nx or pde.nx without efer.nxe); and the\n"
		"impossible ones: write with fetch, pde.bit13 without pde.ps (which --case\n"
		"refuses).  That leaves 34,037,760 cases for --exhaustive.\n"
		"\n"
		"options:\n"
		"  --mmu MMU          tdp (the TDP MMU, default), tdp-legacy (TDP through the\n"
		"                     shadow MMU's direct pages, tdp_mmu=0) or shadow (shadow\n"
		"                     paging of the guest's tables, ept=0)\n"
		"  --paging N         the guest's paging: 4 (default) or 5 levels\n"
		"  --sample N         N cases drawn at random (default 10000): each flag 1 in\n"
		"                     2 but the present bits (7 in 8); a reserved bit in 1 case\n"
		"                     of 4; then made legal as above.  Then the sub-tests\n"
		"  --seed S           the sample's seed (default 1)\n"
		"  --exhaustive       every case (see above: minutes), then the sub-tests\n"
		"  --case FLAGS       one case: flag names separated by spaces or commas (none:\n"
		"                     every flag clear), or a sub-test's name; repeatable; only\n"
		"                     these run, and each is printed\n"
		"  --json[=FILE]      write the JSON document to FILE, or to stdout: mmu,\n"
		"                     paging, mode, seed, cases, subtests, cases_run,\n"
		"                     subtests_run, failures, warnings; a case is {flags,\n"
		"                     fault, error_code, pte_before, pte_after, pde_before,\n"
		"                     pde_after, expected, match, problem} (pte_* 0 with\n"
		"                     pde.ps); a sub-test {name, match, accesses}\n"
		"  --quiet            no progress\n"
		"  -h, --help         show this help\n",
	.run = cmd_access,
};
