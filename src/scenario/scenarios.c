// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scenarios: one per mutant of the project contract's table (the races
 * of the seed threads), and a few general ones that only correct code
 * survives.  Each runs on a tiny VM, so a schedule is a few thousand steps.
 */
#include <errno.h>
#include <string.h>

#include "mmu.h"
#include "mutant.h"
#include "scenario.h"

#define MB (1UL << 20)
#define GB (1UL << 30)

/* Guest memory of @size at gpa 0, under memslot 0. */
#define SLOT0(size_, backing_) \
	{ .size = (size_), .backing = WORLD_BACKING_##backing_, .nr_slots = 1 }
/* Four pages at 1 GiB under memslot 1: a slot to delete. */
#define SLOT1_AT_1G \
	{ .size = 4 * PAGE_SIZE, .gpa = GB, .nr_slots = 1, .first_slot = 1 }

static int vcpu_loop(struct scn_world *w, int v, u8 op, gpa_t first, u64 n, u64 stride)
{
	struct hw_access list[64];
	u64 i;

	if (n > ARRAY_SIZE(list))
		return -EINVAL;
	for (i = 0; i < n; i++)
		list[i] = (struct hw_access){ .op = op, .addr = first + i * stride,
					      .value = 0x1000 + i };
	return scn_vcpu_run_list(w, v, list, n);
}

/* ---- seed 000: a notifier while a fast zap is yielded in an invalid root --------------- */

static int s000_setup(struct scn_world *w)
{
	/* vCPU 0 maps all 16 pages: its root holds them. */
	return vcpu_loop(w, 0, HW_STORE, 0, 16, PAGE_SIZE);
}

/* Deleting slot 1 (with the quirk) fast-zaps every root, yielding as it goes. */
static int s000_delete(struct scn_world *w)
{
	return world_mem_delete_slots(&w->world, 1);
}

/* The host takes the last pages of slot 0 away. */
static int s000_host(struct scn_world *w)
{
	return host_madvise_dontneed(w->world.mm, w->world.cfg.mem[0].hva + 12 * PAGE_SIZE,
				     4 * PAGE_SIZE);
}

static int s000_start(struct scn_world *w)
{
	return scn_thread(w, "memslot", s000_delete) ?: scn_thread(w, "host", s000_host);
}

static const struct scenario s000_notifier_vs_fast_zap = {
	.name = "notifier-vs-fast-zap",
	.description = "seed 000: the host unmaps pages while a memslot delete's fast zap is "
		       "yielded inside the invalidated root a vCPU still holds",
	.mutants = { "notifier-skips-invalid-roots" },
	.resched_per_1024 = 400,
	.world = { .nr_vcpus = 1, .mem = { SLOT0(64 * 1024, ANON), SLOT1_AT_1G } },
	.setup = s000_setup,
	.start = s000_start,
};

/* ---- seed 000: a root load racing with invalidation -------------------------------------- */

static int s000r_setup(struct scn_world *w)
{
	/* vCPU 0 holds the root; vCPU 1 has none yet. */
	return vcpu_loop(w, 0, HW_STORE, 0, 4, PAGE_SIZE);
}

/* vCPU 1 loads its first root and touches memory. */
static int s000r_vcpu1(struct scn_world *w)
{
	return vcpu_loop(w, 1, HW_LOAD, 0, 2, PAGE_SIZE);
}

static int s000r_start(struct scn_world *w)
{
	return scn_thread(w, "memslot", s000_delete) ?: scn_thread(w, "vcpu1", s000r_vcpu1);
}

static const struct scenario s000_root_reload = {
	.name = "root-reload-vs-invalidate",
	.description = "seed 000: a vCPU loads its root while a fast zap invalidates every "
		       "root; the old root stays listed, held by another vCPU",
	.mutants = { "ref-invalid-root" },
	.world = { .nr_vcpus = 2, .mem = { SLOT0(16 * PAGE_SIZE, ANON), SLOT1_AT_1G } },
	.setup = s000r_setup,
	.start = s000r_start,
};

/* ---- seed 004: NX recovery's read-lock zap against a fault under it ---------------------- */

static int s004_setup(struct scn_world *w)
{
	int r;

	/*
	 * vCPU 0 fetches from one page (the NX mitigation maps it 4K under a
	 * table that could have been a huge page) and reads another: its TLB
	 * now holds translations walked through that table.
	 */
	r = scn_vcpu_access(w, 0, HW_FETCH, 0x1000, NULL);
	return r ?: scn_vcpu_access(w, 0, HW_LOAD, 0x2000, NULL);
}

/* vCPU 0 stays in guest mode with its translations until the others are done. */
static int s004_vcpu_a(struct scn_world *w)
{
	struct hw_access list[] = {
		{ .op = HW_LOAD, .addr = 0x2000 },
		{ .op = HW_SPIN },
	};

	return scn_vcpu_run_list(w, 0, list, ARRAY_SIZE(list));
}

static int s004_recovery(struct scn_world *w)
{
	kvmmu_vm_recover_nx_huge_pages(w->world.kvm, 1);
	complete(&w->done[0]);
	return 0;
}

/* vCPU 1 reads a page under the same table: a non-exec fault, a huge page. */
static int s004_vcpu_c(struct scn_world *w)
{
	int r = vcpu_loop(w, 1, HW_LOAD, 0x3000, 1, 0);

	complete(&w->done[1]);
	return r;
}

/* When recovery and the fault are done, let vCPU 0 leave its spin. */
static int s004_release(struct scn_world *w)
{
	struct kvmmu_hw_vcpu *hv = w->world.vcpus[0]->hw;

	wait_for_completion(&w->done[0]);
	wait_for_completion(&w->done[1]);
	/*
	 * Loading vCPU 0's program clears a pending release: wait until it is
	 * loaded, or the release would be lost.
	 */
	while (!atomic_load(&w->programs[0]) && !atomic_load(&w->aborting))
		cpu_relax();
	hw_vcpu_release_spin(hv);
	return 0;
}

static int s004_start(struct scn_world *w)
{
	return scn_thread(w, "vcpu-a", s004_vcpu_a) ?: scn_thread(w, "nx-recovery", s004_recovery) ?:
	       scn_thread(w, "vcpu-c", s004_vcpu_c) ?: scn_thread(w, "release", s004_release);
}

static const struct scenario s004_nx_recovery = {
	.name = "nx-recovery-vs-fault",
	.description = "seed 004: NX recovery zaps an SPTE under the read lock while one vCPU "
		       "still translates through the table below it and another faults there",
	.mutants = { "zap-without-freeze", "unfreeze-before-flush" },
	/*
	 * Decisions only where the race is decided: SPTE writes, the flush's
	 * kicks, the spinner's loop.  A vCPU's fault then runs whole between
	 * two of them, as it would while another CPU is stalled.
	 */
	.point_mask = BIT_ULL(SP_SPTE_CMPXCHG) | BIT_ULL(SP_SPTE_XCHG) | BIT_ULL(SP_KICK) |
		      BIT_ULL(SP_SPIN),
	.world = { .nr_vcpus = 2, .nx_huge_pages = true, .mem = { SLOT0(2 * MB, THP) } },
	.setup = s004_setup,
	.start = s004_start,
};

/*
 * The same race on the shadow MMU's direct pages (tdp_mmu=0): NX recovery
 * zaps the table's page under the write lock in two phases, and the flush
 * between them is all that keeps vCPU 0 from translating through it.
 */
static const struct scenario shadow_nx_recovery = {
	.name = "shadow-zap-vs-fault",
	.description = "tdp_mmu=0: NX recovery zaps a shadow page (prepare, flush, free) while "
		       "one vCPU still translates through it and another faults there",
	.mutants = { "commit-zap-without-flush" },
	.point_mask = BIT_ULL(SP_SPTE_CMPXCHG) | BIT_ULL(SP_SPTE_XCHG) | BIT_ULL(SP_KICK) |
		      BIT_ULL(SP_SPIN),
	.world = { .nr_vcpus = 2, .nx_huge_pages = true, .mmu = WORLD_MMU_TDP_LEGACY,
		   .mem = { SLOT0(2 * MB, THP) } },
	.setup = s004_setup,
	.start = s004_start,
};

/* ---- seed 003: a fault under the PAE root while a fast zap obsoletes everything ---------- */

/* The PAE guest's tables, in guest memory: gva 0x8000.. -> gpa 0x8000.. */
#define S003_PDPT 0x1000ULL
#define S003_PD 0x2000ULL
#define S003_PT 0x3000ULL

static int s003_put(struct scn_world *w, gpa_t gpa, u64 v)
{
	return host_access(w->world.mm, w->world.cfg.mem[0].hva + gpa, true, &v);
}

static int s003_setup(struct scn_world *w)
{
	/* The guest turns PAE paging on itself: the CR writes exit to KVM. */
	struct hw_access on[] = {
		{ .op = HW_MOV_CR4, .value = X86_CR4_PAE },
		{ .op = HW_MOV_CR3, .value = S003_PDPT },
		{ .op = HW_MOV_CR0, .value = X86_CR0_PG | 1 /* PE */ | X86_CR0_WP },
		{ .op = HW_LOAD, .addr = 0x8000 },
	};
	int r = s003_put(w, S003_PDPT, S003_PD | PT_PRESENT_MASK) ?:
		s003_put(w, S003_PD, S003_PT | PT_PRESENT_MASK | PT_WRITABLE_MASK);
	u64 i;

	for (i = 8; i < 16 && !r; i++)
		r = s003_put(w, S003_PT + i * 8,
			     (i * PAGE_SIZE) | PT_PRESENT_MASK | PT_WRITABLE_MASK);
	return r ?: scn_vcpu_run_list(w, 0, on, ARRAY_SIZE(on));
}

/* The vCPU faults on the pages it has not touched yet. */
static int s003_vcpu(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_LOAD, 0x9000, 6, PAGE_SIZE);
}

static int s003_start(struct scn_world *w)
{
	return scn_thread(w, "memslot", s000_delete) ?: scn_thread(w, "vcpu", s003_vcpu);
}

static const struct scenario s003_pae_root = {
	.name = "pae-root-vs-fast-zap",
	.description = "seed 003: a PAE guest faults under the PAE root (no shadow page) while a "
		       "memslot delete's fast zap makes every shadow page obsolete",
	.mutants = { "no-retry-special-root" },
	.world = { .nr_vcpus = 1, .mmu = WORLD_MMU_SHADOW,
		   .mem = { SLOT0(64 * 1024, ANON), SLOT1_AT_1G } },
	.setup = s003_setup,
	.start = s003_start,
};

/* ---- seed 002: the slot-zap quirk off, a slot holding guest tables deleted ---------------------- */

#define S002_PAGES 16

/* The guest's tables are shadowed: the vCPU walked them for every page. */
static int s002_setup(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_STORE, 0, S002_PAGES / 2, PAGE_SIZE);
}

/* The memslot of the guest's tables (the world's last region) goes. */
static int s002_delete(struct scn_world *w)
{
	return world_mem_delete_slots(&w->world, 1);
}

/* The vCPU faults on pages it has not touched, through those tables. */
static int s002_vcpu(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_LOAD, (S002_PAGES / 2) * PAGE_SIZE, S002_PAGES / 2, PAGE_SIZE);
}

static int s002_start(struct scn_world *w)
{
	return scn_thread(w, "memslot", s002_delete) ?: scn_thread(w, "vcpu", s002_vcpu);
}

static const struct scenario s002_slot_zap = {
	.name = "slot-zap-gptes",
	.description = "seed 002: with KVM_X86_QUIRK_SLOT_ZAP_ALL off, the memslot holding the "
		       "guest's page tables is deleted while the vCPU faults through them: the "
		       "pages shadowing them must go with the slot",
	.mutants = { "slot-zap-leafs-only", "unaccount-skips-write-track" },
	.world = { .nr_vcpus = 1, .mmu = WORLD_MMU_SHADOW, .guest_paging = 4,
		   .disabled_quirks = KVM_X86_QUIRK_SLOT_ZAP_ALL,
		   .mem = { SLOT0(S002_PAGES * PAGE_SIZE, ANON) } },
	.setup = s002_setup,
	.start = s002_start,
};

/*
 * The same under nested EPT: L1's EPT tables (the world's last region) are
 * in the slot deleted, and KVM's shadow of them has pages with gPTEs
 * there.  L2 asks L1, meanwhile, to unmap a page: L1 writes its leaf
 * table, INVEPTs and resumes L2 (the slot gone, its root is the dummy
 * one; L2's program ends there, for with its tables gone every access of
 * L2's would be L1's to fix, and L1 could not).
 */
static int s002n_setup(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_LOAD, 0, S002_PAGES / 2, PAGE_SIZE);
}

static int s002n_vcpu(struct scn_world *w)
{
	struct hw_access a = { .op = HW_VMCALL, .addr = 3 * PAGE_SIZE, .value = HW_HC_UNMAP };

	return scn_vcpu_run_list(w, 0, &a, 1);
}

static int s002n_start(struct scn_world *w)
{
	return scn_thread(w, "memslot", s002_delete) ?: scn_thread(w, "vcpu", s002n_vcpu);
}

static const struct scenario s002_slot_zap_nested = {
	.name = "slot-zap-ept-tables",
	.description = "seed 002, nested EPT: with KVM_X86_QUIRK_SLOT_ZAP_ALL off, the memslot "
		       "holding L1's EPT tables is deleted while L1 unmaps a page of L2's: the "
		       "pages shadowing L1's tables must go with the slot",
	.mutants = { "slot-zap-leafs-only" },
	.world = { .nr_vcpus = 1, .nested = true,
		   .disabled_quirks = KVM_X86_QUIRK_SLOT_ZAP_ALL,
		   .mem = { SLOT0(S002_PAGES * PAGE_SIZE, ANON) } },
	.setup = s002n_setup,
	.start = s002n_start,
};

/* ---- shadow paging: a gPTE written through an unsync page while another vCPU syncs --------------- */

#define UNSYNC_PAGES 12

/* The world's tables for page 0 of guest memory: the PD and PT entries' gpas. */
static int unsync_tables(struct scn_world *w, gpa_t *pde, gpa_t *pte0)
{
	const struct world_mem_config *t = &w->world.cfg.mem[1];
	gpa_t table = w->world.guest_cr3;
	int level, r = 0;
	u64 e = 0;

	/* PML4 -> PDPT -> PD -> PT, each entry 0 (guest memory starts at gpa 0). */
	for (level = 4; level > 1 && !r; level--) {
		if (level == 2)
			*pde = table;
		r = host_access(w->world.mm, t->hva + (table - t->gpa), false, &e);
		table = e & PT64_BASE_ADDR_MASK;
	}
	*pte0 = table;
	return r;
}

static int unsync_setup(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_LOAD, 0, UNSYNC_PAGES, PAGE_SIZE) ?:
	       vcpu_loop(w, 1, HW_LOAD, 0, UNSYNC_PAGES, PAGE_SIZE);
}

/*
 * vCPU 0 re-points page 3 at page 9 through its own mapping of the PT
 * (unsync), INVLPGs it and stores there; then rewrites its PDE as it is
 * (a table above 4K: emulated, never unsync).
 */
static int unsync_vcpu0(struct scn_world *w)
{
	const struct world_mem_config *t = &w->world.cfg.mem[1];
	struct hw_access a[5];
	gpa_t pde = 0, pt = 0;
	u64 pde_val = 0;
	int r = unsync_tables(w, &pde, &pt);

	r = r ?: host_access(w->world.mm, t->hva + (pde - t->gpa), false, &pde_val);
	if (r)
		return r;
	a[0] = (struct hw_access){ .op = HW_STORE, .addr = pt + 3 * 8,
				   .value = (9 * PAGE_SIZE) | PT_PRESENT_MASK | PT_WRITABLE_MASK };
	a[1] = (struct hw_access){ .op = HW_INVLPG, .addr = 3 * PAGE_SIZE };
	a[2] = (struct hw_access){ .op = HW_STORE, .addr = 3 * PAGE_SIZE, .value = 0x3939 };
	a[3] = (struct hw_access){ .op = HW_LOAD, .addr = 3 * PAGE_SIZE };
	a[4] = (struct hw_access){ .op = HW_STORE, .addr = pde, .value = pde_val };
	return scn_vcpu_run_list(w, 0, a, ARRAY_SIZE(a));
}

/* vCPU 1 flushes its TLB (a CR3 load: every unsync page synced) around its loads. */
static int unsync_vcpu1(struct scn_world *w)
{
	struct hw_access a[6];
	int i;

	for (i = 0; i < 3; i++) {
		a[2 * i] = (struct hw_access){ .op = HW_FLUSH_TLB };
		a[2 * i + 1] = (struct hw_access){ .op = HW_LOAD, .addr = (u64)(2 + i) * PAGE_SIZE };
	}
	return scn_vcpu_run_list(w, 1, a, ARRAY_SIZE(a));
}

static int unsync_start(struct scn_world *w)
{
	return scn_thread(w, "vcpu0", unsync_vcpu0) ?: scn_thread(w, "vcpu1", unsync_vcpu1);
}

static const struct scenario unsync_vs_sync = {
	.name = "unsync-vs-sync",
	.description = "shadow paging: a vCPU re-points a PTE through an unsync page and INVLPGs "
		       "it, then rewrites its PDE, while another vCPU's CR3 loads sync every "
		       "unsync page",
	.mutants = { "unsync-tracked-gfn" },
	.world = { .nr_vcpus = 2, .mmu = WORLD_MMU_SHADOW, .guest_paging = 4,
		   .mem = { SLOT0(UNSYNC_PAGES * PAGE_SIZE, ANON) } },
	.setup = unsync_setup,
	.start = unsync_start,
};

/* ---- shadow paging: INVLPG after a PTE written through an unsync page ----------------------------- */

#define INVLPG_PAGES 8

/* Both vCPUs map every page; vCPU 0 rewrites page 3's PTE as it is, which makes the PT unsync. */
static int invlpg_setup(struct scn_world *w)
{
	const struct world_mem_config *t = &w->world.cfg.mem[1];
	gpa_t pde = 0, pt = 0;
	u64 pte = 0;
	int r = unsync_tables(w, &pde, &pt);

	r = r ?: host_access(w->world.mm, t->hva + (pt + 3 * 8 - t->gpa), false, &pte);
	r = r ?: vcpu_loop(w, 0, HW_LOAD, 0, INVLPG_PAGES, PAGE_SIZE);
	r = r ?: vcpu_loop(w, 1, HW_LOAD, 0, INVLPG_PAGES, PAGE_SIZE);
	r = r ?: scn_vcpu_access(w, 0, HW_STORE, pt + 3 * 8, &pte);
	w->scratch[0] = pt;
	return r;
}

/* vCPU 0 points page 3 at page 6 through its unsync PT, INVLPGs it and reads it. */
static int invlpg_vcpu0(struct scn_world *w)
{
	struct hw_access a[] = {
		{ .op = HW_STORE, .addr = w->scratch[0] + 3 * 8,
		  .value = (6 * PAGE_SIZE) | PT_PRESENT_MASK | PT_WRITABLE_MASK },
		{ .op = HW_INVLPG, .addr = 3 * PAGE_SIZE },
		{ .op = HW_LOAD, .addr = 3 * PAGE_SIZE },
		{ .op = HW_LOAD, .addr = 3 * PAGE_SIZE + 8 },
	};

	return scn_vcpu_run_list(w, 0, a, ARRAY_SIZE(a));
}

/* vCPU 1 reads page 3 meanwhile, without a flush: the old translation or the new one. */
static int invlpg_vcpu1(struct scn_world *w)
{
	struct hw_access a[] = {
		{ .op = HW_LOAD, .addr = 3 * PAGE_SIZE },
		{ .op = HW_LOAD, .addr = 2 * PAGE_SIZE },
		{ .op = HW_LOAD, .addr = 3 * PAGE_SIZE + 16 },
	};

	return scn_vcpu_run_list(w, 1, a, ARRAY_SIZE(a));
}

static int invlpg_start(struct scn_world *w)
{
	return scn_thread(w, "vcpu0", invlpg_vcpu0) ?: scn_thread(w, "vcpu1", invlpg_vcpu1);
}

static const struct scenario invlpg_unsync_pte = {
	.name = "invlpg-unsync-pte",
	.description = "shadow paging: a vCPU re-points a PTE through an unsync page, INVLPGs it "
		       "and reads the page, while another vCPU, which has not flushed, reads it too",
	.mutants = { "invlpg-skips-sync" },
	.world = { .nr_vcpus = 2, .mmu = WORLD_MMU_SHADOW, .guest_paging = 4,
		   .mem = { SLOT0(INVLPG_PAGES * PAGE_SIZE, ANON) } },
	.setup = invlpg_setup,
	.start = invlpg_start,
};

/* ---- nested EPT: L1 unmaps a page and INVEPTs while L2 uses it ---------------------------------- */

#define INVEPT_PAGES 8

/* Both vCPUs' L2s touch every page: L1 maps them, KVM shadows its leaf table. */
static int invept_setup(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_LOAD, 0, INVEPT_PAGES, PAGE_SIZE) ?:
	       vcpu_loop(w, 1, HW_LOAD, 0, INVEPT_PAGES, PAGE_SIZE);
}

/*
 * vCPU 0's L2 asks L1 to unmap page 2 (L1 clears its entry and INVEPTs),
 * then reads it: an EPT violation that KVM reflects to L1, which maps it
 * again.  Then the same with a global INVEPT.
 */
static int invept_vcpu0(struct scn_world *w)
{
	struct hw_access a[] = {
		{ .op = HW_LOAD, .addr = 2 * PAGE_SIZE },
		{ .op = HW_VMCALL, .addr = 2 * PAGE_SIZE, .value = HW_HC_UNMAP },
		{ .op = HW_LOAD, .addr = 2 * PAGE_SIZE },
		{ .op = HW_VMCALL, .addr = 5 * PAGE_SIZE, .value = HW_HC_UNMAP_GLOBAL },
		{ .op = HW_STORE, .addr = 5 * PAGE_SIZE, .value = 0x55 },
	};

	return scn_vcpu_run_list(w, 0, a, ARRAY_SIZE(a));
}

/*
 * vCPU 1's L2 uses other pages of the same leaf table meanwhile: its
 * SPTEs are in the page the INVEPTing vCPU's next entry syncs.  (Not the
 * same words: free-running, a load's event may follow a store it read
 * before, which data integrity cannot tell from a lost store.)
 */
static int invept_vcpu1(struct scn_world *w)
{
	struct hw_access a[] = {
		{ .op = HW_LOAD, .addr = 4 * PAGE_SIZE },
		{ .op = HW_LOAD, .addr = 6 * PAGE_SIZE },
		{ .op = HW_STORE, .addr = 7 * PAGE_SIZE + 8, .value = 0x77 },
		{ .op = HW_LOAD, .addr = 4 * PAGE_SIZE },
	};

	return scn_vcpu_run_list(w, 1, a, ARRAY_SIZE(a));
}

static int invept_start(struct scn_world *w)
{
	return scn_thread(w, "vcpu0", invept_vcpu0) ?: scn_thread(w, "vcpu1", invept_vcpu1);
}

static const struct scenario invept_vs_l2_fault = {
	.name = "invept-vs-l2-fault",
	.description = "nested EPT: L1 unmaps a page of L2's and INVEPTs (single-context, then "
		       "global) while another vCPU's L2 uses pages of the same leaf table; the "
		       "next access after the INVEPT must exit to L1",
	.mutants = { "invept-keeps-root" },
	.world = { .nr_vcpus = 2, .nested = true,
		   .mem = { SLOT0(INVEPT_PAGES * PAGE_SIZE, ANON) } },
	.setup = invept_setup,
	.start = invept_start,
};

/* ---- shadow paging: a string store into a table of its own walk ------------------------------- */

#define UNPROTECT_PAGES 8

/* Both vCPUs walk the guest's tables: KVM shadows them and write-protects them. */
static int unprotect_setup(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_STORE, 0, UNPROTECT_PAGES, PAGE_SIZE) ?:
	       vcpu_loop(w, 1, HW_LOAD, 0, UNPROTECT_PAGES, PAGE_SIZE);
}

/*
 * vCPU 0 rewrites the first entry of its PML4 with a string store (the
 * value it has: the tables stay as they are), then loads.  Every walk goes
 * through the PML4, so unprotecting it cannot let the store through.
 */
static int unprotect_vcpu0(struct scn_world *w)
{
	const struct world_mem_config *tables = &w->world.cfg.mem[1];
	struct hw_access a[2];
	u64 pml4e;
	int r;

	r = host_access(w->world.mm, tables->hva + (w->world.guest_cr3 - tables->gpa), false,
			&pml4e);
	if (r)
		return r;
	a[0] = (struct hw_access){ .op = HW_STOS, .addr = w->world.guest_cr3, .value = pml4e };
	a[1] = (struct hw_access){ .op = HW_LOAD, .addr = PAGE_SIZE };
	return scn_vcpu_run_list(w, 0, a, ARRAY_SIZE(a));
}

/* vCPU 1 keeps walking through the same tables meanwhile. */
static int unprotect_vcpu1(struct scn_world *w)
{
	return vcpu_loop(w, 1, HW_LOAD, 0, UNPROTECT_PAGES, PAGE_SIZE);
}

static int unprotect_start(struct scn_world *w)
{
	return scn_thread(w, "vcpu0", unprotect_vcpu0) ?: scn_thread(w, "vcpu1", unprotect_vcpu1);
}

static const struct scenario unprotect_own_walk = {
	.name = "unprotect-own-walk",
	.description = "shadow paging: a vCPU's string store writes its own PML4, which KVM "
		       "unprotects (zapping the root both vCPUs use) and retries, while the other "
		       "vCPU walks the same tables; the retry faults again and must be emulated",
	.mutants = { "no-unprotect-guard" },
	.world = { .nr_vcpus = 2, .mmu = WORLD_MMU_SHADOW, .guest_paging = 4,
		   .mem = { SLOT0(UNPROTECT_PAGES * PAGE_SIZE, ANON) } },
	.setup = unprotect_setup,
	.start = unprotect_start,
};

/* ---- shadow paging: lockless aging walks rmap chains while a zap empties them ------------------ */

#define AGING_PAGES 4   /* pages aged and dropped */
#define AGING_ALIASES 4 /* gvas mapping each: each page's rmap holds that many SPTEs */

/*
 * The guest's PT maps gvas AGING_PAGES.. back onto pages 0..AGING_PAGES-1
 * (written by the VMM before anything ran), and the vCPU touches every
 * alias: each of those pages has AGING_ALIASES SPTEs, listed in a
 * pte_list_desc of its rmap.
 */
static int aging_setup(struct scn_world *w)
{
	const struct world_mem_config *t = &w->world.cfg.mem[1];
	gpa_t pde = 0, pt = 0;
	int r = unsync_tables(w, &pde, &pt);
	u64 i, e;

	for (i = AGING_PAGES; i < AGING_PAGES * AGING_ALIASES && !r; i++) {
		unsigned long hva = t->hva + (pt + i * 8 - t->gpa);

		e = 0;
		r = host_access(w->world.mm, hva, false, &e);
		e = (e & ~PT64_BASE_ADDR_MASK) | ((i % AGING_PAGES) * PAGE_SIZE);
		r = r ?: host_access(w->world.mm, hva, true, &e);
	}
	return r ?: vcpu_loop(w, 0, HW_LOAD, 0, AGING_PAGES * AGING_ALIASES, PAGE_SIZE);
}

/* The host ages the pages (clear_young, then test_young): KVM walks the rmaps locklessly. */
static int aging_host_age(struct scn_world *w)
{
	unsigned long hva = w->world.cfg.mem[0].hva;

	host_clear_young(w->world.mm, hva, hva + AGING_PAGES * PAGE_SIZE);
	host_test_young(w->world.mm, hva, hva + AGING_PAGES * PAGE_SIZE);
	return 0;
}

/* The host drops the same pages: the invalidation zaps every alias, emptying the chains. */
static int aging_host_drop(struct scn_world *w)
{
	return host_madvise_dontneed(w->world.mm, w->world.cfg.mem[0].hva,
				     AGING_PAGES * PAGE_SIZE);
}

static int aging_start(struct scn_world *w)
{
	return scn_thread(w, "aging", aging_host_age) ?: scn_thread(w, "host", aging_host_drop);
}

static const struct scenario aging_vs_rmap_removal = {
	.name = "aging-vs-rmap-removal",
	.description = "shadow paging: the host ages pages that several gvas map (KVM walks their "
		       "rmap chains without mmu_lock, under the rmap lock) while it drops them "
		       "(an invalidation removes every entry and frees the chains' descriptors)",
	.mutants = { "aging-no-rmap-lock" },
	.world = { .nr_vcpus = 1, .mmu = WORLD_MMU_SHADOW, .guest_paging = 4,
		   .mem = { SLOT0(AGING_PAGES * AGING_ALIASES * PAGE_SIZE, ANON) } },
	.setup = aging_setup,
	.start = aging_start,
};

/* ---- seed 001: a driver's non-compound pages ------------------------------------------------- */

static int s001p_vcpu(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_LOAD, 0, 4, PAGE_SIZE);
}

static int s001p_start(struct scn_world *w)
{
	return scn_thread(w, "vcpu", s001p_vcpu);
}

static const struct scenario s001_pfnmap = {
	.name = "pfnmap-tail-pages",
	.description = "seed 001: the guest faults on a VM_PFNMAP mapping of a driver's "
		       "higher-order, non-compound block whose tail pages have refcount 0",
	.mutants = { "ref-noncounted-page" },
	/* One block of four pages: three tails. */
	.world = { .nr_vcpus = 1,
		   .mem = { { .size = 4 * PAGE_SIZE, .backing = WORLD_BACKING_PFNMAP,
			      .pfnmap_block = 4 * PAGE_SIZE, .nr_slots = 1 } } },
	.start = s001p_start,
};

/* ---- seed 001: a write through a THP tail page, then writeback and reclaim --------------- */

static int s001t_setup(struct scn_world *w)
{
	u64 v;

	/* The VMM reads the file: a clean THP in the page cache. */
	return host_access(w->world.mm, w->world.cfg.mem[0].hva, false, &v);
}

static int s001t_vcpu(struct scn_world *w)
{
	u64 v = 0xfeedface;
	int r = scn_vcpu_access(w, 0, HW_STORE, 0x5008, &v);

	complete(&w->done[0]);
	wait_for_completion(&w->done[1]);
	return r ?: scn_vcpu_access(w, 0, HW_LOAD, 0x5008, &v);
}

static int s001t_host(struct scn_world *w)
{
	unsigned long dropped;
	int r;

	wait_for_completion(&w->done[0]);
	r = host_file_writeback(w->world.files[0], 0, 512);
	r = r ?: host_file_reclaim(w->world.files[0], 0, 512, &dropped);
	complete(&w->done[1]);
	return r;
}

static int s001t_start(struct scn_world *w)
{
	return scn_thread(w, "vcpu", s001t_vcpu) ?: scn_thread(w, "host", s001t_host);
}

static const struct scenario s001_thp_tail = {
	.name = "thp-tail-writeback",
	.description = "seed 001: the guest writes through a tail page of a shared file THP, "
		       "then the host writes back and reclaims clean pages",
	.mutants = { "tail-page-ref-count" },
	.world = { .nr_vcpus = 1, .mem = { SLOT0(2 * MB, SHARED_THP) } },
	.setup = s001t_setup,
	.start = s001t_start,
};

/* ---- table lifetime: a lockless walker inside a table being freed --------------------------- */

static int tables_setup(struct scn_world *w)
{
	int r = s004_setup(w);

	return r ?: scn_vcpu_access(w, 0, HW_LOAD, 0x4000, NULL);
}

/* The host ages the memory: KVM walks its tables without mmu_lock. */
static int tables_aging(struct scn_world *w)
{
	host_clear_young(w->world.mm, w->world.cfg.mem[0].hva, w->world.cfg.mem[0].hva + 2 * MB);
	return 0;
}

static int tables_recovery(struct scn_world *w)
{
	kvmmu_vm_recover_nx_huge_pages(w->world.kvm, 1);
	return 0;
}

static int tables_start(struct scn_world *w)
{
	return scn_thread(w, "aging", tables_aging) ?: scn_thread(w, "nx-recovery", tables_recovery);
}

static const struct scenario tables_vs_lockless = {
	.name = "table-free-vs-walker",
	.description = "a lockless walker (aging) steps into a table while NX recovery zaps "
		       "the SPTE above it and frees the table",
	.mutants = { "free-table-without-grace" },
	/* The walker's reads against the zap's cmpxchg: nothing else decides. */
	.point_mask = BIT_ULL(SP_SPTE_READ) | BIT_ULL(SP_SPTE_CMPXCHG),
	.world = { .nr_vcpus = 1, .nx_huge_pages = true, .mem = { SLOT0(2 * MB, THP) } },
	.setup = tables_setup,
	.start = tables_start,
};

/* ---- dirty logging on: eager split of a huge page a vCPU has cached ----------------------------- */

static int split_setup(struct scn_world *w)
{
	/* A store maps the THP with one 2M SPTE; the vCPU's TLB caches it whole. */
	int r = vcpu_loop(w, 0, HW_STORE, 0, 1, 0);

	return r ?: vcpu_loop(w, 0, HW_LOAD, 2 * MB - PAGE_SIZE, 1, 0);
}

/* Logging on: the huge page is split eagerly, then write-protected. */
static int split_logging(struct scn_world *w)
{
	return world_mem_set_flags(&w->world, 0, KVM_MEM_LOG_DIRTY_PAGES);
}

/* The vCPU reads and writes across the huge page meanwhile. */
static int split_vcpu(struct scn_world *w)
{
	struct hw_access list[4] = {
		{ .op = HW_LOAD, .addr = 2 * MB - PAGE_SIZE },
		{ .op = HW_STORE, .addr = MB, .value = 0x5117 },
		{ .op = HW_LOAD, .addr = MB },
		{ .op = HW_LOAD, .addr = 0 },
	};

	return scn_vcpu_run_list(w, 0, list, ARRAY_SIZE(list));
}

static int split_start(struct scn_world *w)
{
	return scn_thread(w, "logging", split_logging) ?: scn_thread(w, "vcpu", split_vcpu);
}

static const struct scenario eager_split = {
	.name = "eager-split-vs-access",
	.description = "dirty logging is enabled and splits a huge page eagerly while the vCPU "
		       "that caches it whole reads and writes across it",
	.mutants = { "split-child-pfn" },
	.world = { .nr_vcpus = 1, .mem = { SLOT0(2 * MB, THP) } },
	.setup = split_setup,
	.start = split_start,
};

/* ---- walks that yield: logging turned on over mapped memory, with forced yields --------------- */

#define YIELD_PAGES 64

static int yield_setup(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_STORE, 0, YIELD_PAGES, PAGE_SIZE);
}

/* Logging on: the write-protection walks every leaf of the slot. */
static int yield_logging(struct scn_world *w)
{
	return world_mem_set_flags(&w->world, 0, KVM_MEM_LOG_DIRTY_PAGES);
}

/* The vCPU reads meanwhile (faults take mmu_lock for read too: no contention). */
static int yield_vcpu(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_LOAD, 8 * PAGE_SIZE, 4, 16 * PAGE_SIZE);
}

static int yield_start(struct scn_world *w)
{
	return scn_thread(w, "logging", yield_logging) ?: scn_thread(w, "vcpu", yield_vcpu);
}

static const struct scenario logging_walks_yield = {
	.name = "logging-walks-yield",
	.description = "dirty logging is turned on over 64 mapped pages: the write-protection "
		       "walks them yielding mmu_lock at every step (forced yields), while the "
		       "vCPU reads",
	.mutants = { "resume-past-yield" },
	/*
	 * Only readers of mmu_lock, and no huge page to split (a split drops
	 * the lock to allocate): without forced yields nothing here yields.
	 */
	.world = { .nr_vcpus = 1, .yield_every = 1,
		   .mem = { SLOT0(YIELD_PAGES * PAGE_SIZE, ANON) } },
	.setup = yield_setup,
	.start = yield_start,
};

/* ---- counters far from 0: faults after invalidations, the sequence at 2^31 ------------------ */

static int seq_setup(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_STORE, 0, 4, PAGE_SIZE);
}

/* Two invalidations: the sequence crosses 2^31. */
static int seq_host(struct scn_world *w)
{
	unsigned long hva = w->world.cfg.mem[0].hva, moved;
	int r = host_migrate(w->world.mm, hva, PAGE_SIZE, &moved);

	return r ?: host_madvise_dontneed(w->world.mm, hva + PAGE_SIZE, PAGE_SIZE);
}

static int seq_vcpu(struct scn_world *w)
{
	int r = vcpu_loop(w, 0, HW_LOAD, 0, 4, PAGE_SIZE);

	return r ?: vcpu_loop(w, 0, HW_LOAD, 0, 4, PAGE_SIZE);
}

static int seq_start(struct scn_world *w)
{
	return scn_thread(w, "host", seq_host) ?: scn_thread(w, "vcpu", seq_vcpu);
}

static const struct scenario seq_vs_fault = {
	.name = "seq-wrap-vs-fault",
	.description = "the host migrates and drops pages a vCPU then faults on again, with "
		       "mmu_invalidate_seq starting just below 2^31",
	.mutants = { "seq-snapshot-int" },
	.world = { .nr_vcpus = 1, .counters = WORLD_COUNTERS_2_31,
		   .mem = { SLOT0(4 * PAGE_SIZE, ANON) } },
	.setup = seq_setup,
	.start = seq_start,
};

/* ---- the dirty ring: a write after a reset pushes again ------------------------------------------ */

#define RING_PAGES 8

static int ring_setup(struct scn_world *w)
{
	/* Logging is on from the start: the first write of each page pushes. */
	return vcpu_loop(w, 0, HW_STORE, 0, RING_PAGES, PAGE_SIZE);
}

/* Userspace collects every dirty entry of vCPU 0's ring, marks it, resets. */
static int ring_harvest(struct scn_world *w)
{
	u32 n, i;
	struct kvm_dirty_gfn *ring = kvmmu_vcpu_dirty_ring(w->world.vcpus[0], &n);

	for (i = 0; i < n; i++) {
		struct kvm_dirty_gfn *e = &ring[(w->scratch[0] + i) % n];

		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY))
			break;
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
	}
	w->scratch[0] += i;
	return kvmmu_reset_dirty_rings(w->world.kvm) < 0 ? -EIO : 0;
}

static int ring_vcpu(struct scn_world *w)
{
	int r = vcpu_loop(w, 0, HW_STORE, 2 * PAGE_SIZE, 2, PAGE_SIZE);

	complete(&w->done[0]);
	wait_for_completion(&w->done[1]);
	/* After the reset returned: these must push again. */
	return r ?: vcpu_loop(w, 0, HW_STORE, 0, RING_PAGES, PAGE_SIZE);
}

static int ring_userspace(struct scn_world *w)
{
	int r;

	wait_for_completion(&w->done[0]);
	r = ring_harvest(w);
	complete(&w->done[1]);
	return r ?: ring_harvest(w);
}

static int ring_start(struct scn_world *w)
{
	return scn_thread(w, "vcpu", ring_vcpu) ?: scn_thread(w, "userspace", ring_userspace);
}

static const struct scenario dirty_ring_reset = {
	.name = "dirty-ring-reset",
	.description = "a vCPU writes pages of a logged slot whose dirty ring userspace "
		       "harvests and resets, then writes them again",
	.mutants = { "ring-reset-no-protect" },
	.world = { .nr_vcpus = 1, .dirty_ring_bytes = 4 * PAGE_SIZE,
		   .mem = { { .size = RING_PAGES * PAGE_SIZE, .nr_slots = 1,
			      .slot_flags = KVM_MEM_LOG_DIRTY_PAGES } } },
	.setup = ring_setup,
	.start = ring_start,
};

/* ---- teardown with an odd guest physical width: memory at the top ---------------------------- */

#define ODD_WIDTH 43
#define ODD_TOP (1ULL << ODD_WIDTH)

static int odd_vcpu(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_STORE, ODD_TOP - 16 * PAGE_SIZE, 16, PAGE_SIZE);
}

static int odd_start(struct scn_world *w)
{
	return scn_thread(w, "vcpu", odd_vcpu);
}

static const struct scenario odd_width_teardown = {
	.name = "odd-width-teardown",
	.description = "a vCPU maps the last pages below a 43-bit MAXPHYADDR with 5-level "
		       "paging (a width short of one top-level entry), then the VM is torn "
		       "down: every table and page reference must go",
	.mutants = { "max-gfn-round-down" },
	.world = { .nr_vcpus = 1, .phys_bits = ODD_WIDTH, .tdp_level = 5,
		   .mem = { { .size = 16 * PAGE_SIZE, .gpa = ODD_TOP - 16 * PAGE_SIZE,
			      .nr_slots = 1 } } },
	.start = odd_start,
};

/* ---- dirty logging: a write after CLEAR, through fast page fault ------------------------------ */

#define DL_PAGES 16

static int dl_setup(struct scn_world *w)
{
	int r = vcpu_loop(w, 0, HW_STORE, 0, DL_PAGES, PAGE_SIZE);

	/* Logging on: every page write-protected. */
	return r ?: world_mem_set_flags(&w->world, 0, KVM_MEM_LOG_DIRTY_PAGES);
}

static int dl_vcpu(struct scn_world *w)
{
	int r = vcpu_loop(w, 0, HW_STORE, 3 * PAGE_SIZE, 1, 0);

	complete(&w->done[0]);
	wait_for_completion(&w->done[1]);
	/* After CLEAR returned: the fast path restores W. */
	r = r ?: vcpu_loop(w, 0, HW_STORE, 3 * PAGE_SIZE, 1, 0);
	complete(&w->done[2]);
	return r;
}

static int dl_userspace(struct scn_world *w)
{
	unsigned long bm[1] = { 0 };
	struct kvm_dirty_log get = { .slot = 0, .dirty_bitmap = bm };
	struct kvm_clear_dirty_log clr = { .slot = 0, .num_pages = DL_PAGES, .dirty_bitmap = bm };
	int r;

	wait_for_completion(&w->done[0]);
	r = kvmmu_get_dirty_log(w->world.kvm, &get);
	r = r ?: kvmmu_clear_dirty_log(w->world.kvm, &clr);
	complete(&w->done[1]);
	wait_for_completion(&w->done[2]);
	return r ?: kvmmu_get_dirty_log(w->world.kvm, &get);
}

static int dl_start(struct scn_world *w)
{
	return scn_thread(w, "vcpu", dl_vcpu) ?: scn_thread(w, "userspace", dl_userspace);
}

static const struct scenario dirty_log_fast_pf = {
	.name = "dirty-log-fast-pf",
	.description = "manual-protect dirty logging: userspace GETs and CLEARs a page, then "
		       "the guest writes it again through fast page fault",
	.mutants = { "fast-pf-no-dirty-log" },
	.world = { .nr_vcpus = 1, .manual_protect = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
		   .mem = { SLOT0(DL_PAGES * PAGE_SIZE, ANON) } },
	.setup = dl_setup,
	.start = dl_start,
};

/* ---- general: faults racing host invalidations ------------------------------------------------ */

static int race_vcpu(struct scn_world *w, int v)
{
	struct hw_access list[8];
	int i;

	for (i = 0; i < 8; i++)
		list[i] = (struct hw_access){
			.op = (i & 1) ? HW_LOAD : HW_STORE,
			.addr = (u64)((i / 2 + v) % 4) * PAGE_SIZE + 8 * (u64)v,
			.value = ((u64)v << 32) | (u64)i,
		};
	return scn_vcpu_run_list(w, v, list, ARRAY_SIZE(list));
}

static int race_vcpu0(struct scn_world *w)
{
	return race_vcpu(w, 0);
}

static int race_vcpu1(struct scn_world *w)
{
	return race_vcpu(w, 1);
}

static int race_host(struct scn_world *w)
{
	unsigned long moved;
	unsigned long hva = w->world.cfg.mem[0].hva;
	int r = host_migrate(w->world.mm, hva, 2 * PAGE_SIZE, &moved);

	return r ?: host_madvise_dontneed(w->world.mm, hva + 3 * PAGE_SIZE, PAGE_SIZE);
}

static int race_start(struct scn_world *w)
{
	return scn_thread(w, "vcpu0", race_vcpu0) ?: scn_thread(w, "vcpu1", race_vcpu1) ?:
	       scn_thread(w, "host", race_host);
}

static const struct scenario fault_vs_host = {
	.name = "fault-vs-host",
	.description = "two vCPUs store and load on four pages while the host migrates two "
		       "and drops one",
	.world = { .nr_vcpus = 2, .mem = { SLOT0(4 * PAGE_SIZE, ANON) } },
	.start = race_start,
};

/*
 * The same under shadow paging, the guests on their own tables: the host's
 * invalidations reach the SPTEs through rmaps, and the CPUs cache gvas.
 * Both vCPUs have mapped (and cached) the pages before the race starts.
 */
static int shadow_race_setup(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_STORE, 0, 4, PAGE_SIZE) ?:
	       vcpu_loop(w, 1, HW_LOAD, 0, 4, PAGE_SIZE);
}

static const struct scenario shadow_fault_vs_host = {
	.name = "shadow-fault-vs-host",
	.description = "shadow paging, the guest on its own tables: two vCPUs store and load on "
		       "four pages while the host migrates two and drops one (rmap unmaps, "
		       "gva-keyed TLB entries)",
	.mutants = { "rmap-unmap-no-flush" },
	.world = { .nr_vcpus = 2, .mmu = WORLD_MMU_SHADOW, .guest_paging = 4,
		   .mem = { SLOT0(4 * PAGE_SIZE, ANON) } },
	.setup = shadow_race_setup,
	.start = race_start,
};

/* ---- general: a memslot moved and restored under a running vCPU ------------------------------- */

static int move_setup(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_STORE, 0, 4, PAGE_SIZE);
}

static int move_vcpu(struct scn_world *w)
{
	/* Loads at the old gpa: memory, or MMIO while the slot is elsewhere. */
	return vcpu_loop(w, 0, HW_LOAD, 0, 4, PAGE_SIZE);
}

static int move_memslot(struct scn_world *w)
{
	unsigned long hva = w->world.cfg.mem[0].hva;
	int r = world_set_memslot(&w->world, 0, 0, GB, 4 * PAGE_SIZE, hva);

	return r ?: world_set_memslot(&w->world, 0, 0, 0, 4 * PAGE_SIZE, hva);
}

static int move_start(struct scn_world *w)
{
	return scn_thread(w, "vcpu", move_vcpu) ?: scn_thread(w, "memslot", move_memslot);
}

static const struct scenario memslot_move = {
	.name = "memslot-move-vs-fault",
	.description = "a vCPU loads while its memslot moves away and back",
	.world = { .nr_vcpus = 1, .mem = { SLOT0(4 * PAGE_SIZE, ANON) } },
	.setup = move_setup,
	.start = move_start,
};

/* ---- general: vCPUs write while userspace harvests ----------------------------------------------- */

static int harvest_vcpu(struct scn_world *w, int v)
{
	int r = vcpu_loop(w, v, HW_STORE, (u64)v * PAGE_SIZE, DL_PAGES / 2, 2 * PAGE_SIZE);

	complete(&w->done[v]);
	return r;
}

static int harvest_vcpu0(struct scn_world *w)
{
	return harvest_vcpu(w, 0);
}

static int harvest_vcpu1(struct scn_world *w)
{
	return harvest_vcpu(w, 1);
}

static int harvest_userspace(struct scn_world *w)
{
	unsigned long bm[1] = { 0 };
	struct kvm_dirty_log get = { .slot = 0, .dirty_bitmap = bm };
	struct kvm_clear_dirty_log clr = { .slot = 0, .num_pages = DL_PAGES, .dirty_bitmap = bm };
	int r = 0, round;

	for (round = 0; round < 2 && !r; round++) {
		r = kvmmu_get_dirty_log(w->world.kvm, &get);
		r = r ?: kvmmu_clear_dirty_log(w->world.kvm, &clr);
	}
	wait_for_completion(&w->done[0]);
	wait_for_completion(&w->done[1]);
	return r ?: kvmmu_get_dirty_log(w->world.kvm, &get);
}

static int harvest_start(struct scn_world *w)
{
	return scn_thread(w, "vcpu0", harvest_vcpu0) ?: scn_thread(w, "vcpu1", harvest_vcpu1) ?:
	       scn_thread(w, "userspace", harvest_userspace);
}

static const struct scenario dirty_log_harvest = {
	.name = "dirty-log-harvest",
	.description = "two vCPUs write while userspace GETs and CLEARs the log",
	.world = { .nr_vcpus = 2, .manual_protect = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
		   .mem = { SLOT0(DL_PAGES * PAGE_SIZE, ANON) } },
	.setup = dl_setup,
	.start = harvest_start,
};

/* ---- PML: the CPU dirties SPTEs while the host zaps them under the write lock ---------------- */

#define PML_PAGES 4

/* Mapped writable (D set), then logging on: D is cleared, the next writes log. */
static int pml_setup(struct scn_world *w)
{
	int r = vcpu_loop(w, 0, HW_STORE, 0, PML_PAGES, PAGE_SIZE);

	return r ?: world_mem_set_flags(&w->world, 0, KVM_MEM_LOG_DIRTY_PAGES);
}

/* Each store sets D again in a writable SPTE, and logs its gpa. */
static int pml_vcpu(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_STORE, 0, PML_PAGES, PAGE_SIZE);
}

/* The host drops the pages: KVM zaps their SPTEs with mmu_lock held for write. */
static int pml_host(struct scn_world *w)
{
	return host_madvise_dontneed(w->world.mm, w->world.cfg.mem[0].hva,
				     PML_PAGES * PAGE_SIZE);
}

/* Userspace reads the log meanwhile: it kicks the vCPU to drain its buffer. */
static int pml_userspace(struct scn_world *w)
{
	unsigned long bm[1] = { 0 };
	struct kvm_dirty_log get = { .slot = 0, .dirty_bitmap = bm };

	return kvmmu_get_dirty_log(w->world.kvm, &get);
}

static int pml_start(struct scn_world *w)
{
	return scn_thread(w, "vcpu", pml_vcpu) ?: scn_thread(w, "host", pml_host) ?:
	       scn_thread(w, "userspace", pml_userspace);
}

static const struct scenario pml_dirty_vs_zap = {
	.name = "pml-dirty-vs-zap",
	.description = "with PML, a vCPU writes pages whose D bits logging cleared while the "
		       "host drops them (KVM zaps under the write lock) and userspace reads "
		       "the log",
	.mutants = { "atomic-update-ignores-dirty" },
	.world = { .nr_vcpus = 1, .pml = true, .mem = { SLOT0(PML_PAGES * PAGE_SIZE, ANON) } },
	.setup = pml_setup,
	.start = pml_start,
};

/* ---- the MMIO generation wraps while a vCPU uses an MMIO SPTE -------------------------------------- */

#define MMIO_GPA GB /* nothing is mapped there */

/* An MMIO SPTE for MMIO_GPA, made at the generation just below the wrap. */
static int mmio_setup(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_LOAD, MMIO_GPA, 2, PAGE_SIZE);
}

/* A memslot comes and goes: the generation steps over its 19-bit wrap. */
static int mmio_memslots(struct scn_world *w)
{
	int r = world_set_memslot(&w->world, 1, 0, 2 * GB, PAGE_SIZE * 4,
				  w->world.cfg.mem[0].hva);

	return r ?: world_set_memslot(&w->world, 1, 0, 2 * GB, 0, 0);
}

/* The vCPU keeps loading from MMIO meanwhile. */
static int mmio_vcpu(struct scn_world *w)
{
	return vcpu_loop(w, 0, HW_LOAD, MMIO_GPA, 2, PAGE_SIZE);
}

static int mmio_start(struct scn_world *w)
{
	return scn_thread(w, "memslots", mmio_memslots) ?: scn_thread(w, "vcpu", mmio_vcpu);
}

static const struct scenario mmio_gen_wrap = {
	.name = "mmio-gen-wrap",
	.description = "a memslot comes and goes while a vCPU loads from MMIO, with the memslot "
		       "generation starting just below the wrap of the 19 bits MMIO SPTEs keep",
	.mutants = { "mmio-wrap-no-zap" },
	.world = { .nr_vcpus = 1, .counters = WORLD_COUNTERS_MMIO_WRAP,
		   .mem = { SLOT0(4 * PAGE_SIZE, ANON) } },
	.setup = mmio_setup,
	.start = mmio_start,
};

/* ---- the table ------------------------------------------------------------------------------------- */

const struct scenario *const scenario_table[] = {
	&s000_notifier_vs_fast_zap,
	&s000_root_reload,
	&s004_nx_recovery,
	&s001_pfnmap,
	&s001_thp_tail,
	&tables_vs_lockless,
	&dirty_log_fast_pf,
	&eager_split,
	&fault_vs_host,
	&shadow_fault_vs_host,
	&memslot_move,
	&dirty_log_harvest,
	&logging_walks_yield,
	&seq_vs_fault,
	&dirty_ring_reset,
	&odd_width_teardown,
	&pml_dirty_vs_zap,
	&mmio_gen_wrap,
	&shadow_nx_recovery,
	&s003_pae_root,
	&s002_slot_zap,
	&s002_slot_zap_nested,
	&unsync_vs_sync,
	&unprotect_own_walk,
	&invlpg_unsync_pte,
	&invept_vs_l2_fault,
	&aging_vs_rmap_removal,
};

const int nr_scenarios = ARRAY_SIZE(scenario_table);

const struct scenario *scn_find(const char *name)
{
	int i;

	for (i = 0; i < nr_scenarios; i++) {
		if (!strcmp(scenario_table[i]->name, name))
			return scenario_table[i];
	}
	return NULL;
}

/* Which checker catches each mutant (contract section 4). */
static const struct {
	const char *mutant;
	enum checker_id checker;
} mutant_checkers[] = {
	{ "notifier-skips-invalid-roots", CHK_NOTIFIER_COMPLETENESS },
	{ "ref-invalid-root", CHK_ROOT_LIFETIME },
	{ "zap-without-freeze", CHK_BREAK_BEFORE_MAKE },
	{ "unfreeze-before-flush", CHK_BREAK_BEFORE_MAKE },
	{ "ref-noncounted-page", CHK_PAGE_REFERENCES },
	{ "tail-page-ref-count", CHK_DATA_INTEGRITY },
	{ "free-table-without-grace", CHK_TABLE_LIFETIME },
	{ "fast-pf-no-dirty-log", CHK_DIRTY_LOG },
	{ "split-child-pfn", CHK_COHERENCE },
	{ "resume-past-yield", CHK_RANGE_COMPLETENESS },
	{ "seq-snapshot-int", CHK_FAULT_LIVENESS },
	{ "ring-reset-no-protect", CHK_DIRTY_LOG },
	{ "max-gfn-round-down", CHK_PAGE_REFERENCES },
	{ "atomic-update-ignores-dirty", CHK_DIRTY_BIT },
	{ "mmio-wrap-no-zap", CHK_MMIO_GENERATION },
	{ "commit-zap-without-flush", CHK_BREAK_BEFORE_MAKE },
	{ "no-retry-special-root", CHK_OBSOLETE_INSTALL },
	{ "no-unprotect-guard", CHK_FAULT_LIVENESS },
	{ "slot-zap-leafs-only", CHK_MEMSLOT_CONSISTENCY },
	{ "unsync-tracked-gfn", CHK_WRITE_PROTECTION },
	{ "rmap-unmap-no-flush", CHK_NOTIFIER_COMPLETENESS },
	{ "invept-keeps-root", CHK_GUEST_TRANSLATION },
	{ "invlpg-skips-sync", CHK_GUEST_TRANSLATION },
	{ "aging-no-rmap-lock", CHK_TABLE_LIFETIME },
	{ "unaccount-skips-write-track", CHK_SHADOW_ACCOUNTING },
};

const struct scenario *scn_for_mutant(const char *mutant, enum checker_id *checker)
{
	int i, j;
	size_t m;

	for (m = 0; m < ARRAY_SIZE(mutant_checkers); m++) {
		if (strcmp(mutant_checkers[m].mutant, mutant))
			continue;
		if (checker)
			*checker = mutant_checkers[m].checker;
		for (i = 0; i < nr_scenarios; i++) {
			for (j = 0; j < 3 && scenario_table[i]->mutants[j]; j++) {
				if (!strcmp(scenario_table[i]->mutants[j], mutant))
					return scenario_table[i];
			}
		}
	}
	return NULL;
}
