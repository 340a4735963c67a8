// SPDX-License-Identifier: GPL-2.0-only
/*
 * The world layer: a world built from a configuration with every option
 * set runs a vCPU's accesses and tears down with nothing left (no frame,
 * no observer, no mutant, no WARN, nothing for the checkers); every backing
 * maps guest memory the guest can use; defaults and the memory layout are
 * the documented ones; bad configurations are refused with a reason, and a
 * world that fails half-way is torn down.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "check.h"
#include "host_mm.h"
#include "host_phys.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "mutant.h"
#include "observe.h"
#include "sched_point.h"
#include "test.h"
#include "world.h"

#define KB (1UL << 10)
#define MB (1UL << 20)
#define GB (1UL << 30)

static struct world w;
static int violations_told;

static void on_violation(void *arg)
{
	(*(int *)arg)++;
}

/* Run @n accesses on vCPU @v to the end of its program. */
static void run_list(int v, struct hw_access *list, u64 n)
{
	struct hw_program p = { .list = list, .len = n };
	struct kvm_vcpu *vcpu = w.vcpus[v];

	assert_int_equal(hw_vcpu_load_program(vcpu->hw, &p), 0);
	while (!hw_vcpu_done(vcpu->hw)) {
		struct kvmmu_run run;

		assert_int_equal(kvmmu_vcpu_run(vcpu, &run), 0);
		assert_true(run.exit_reason == KVM_EXIT_HLT || run.exit_reason == KVM_EXIT_INTR);
	}
}

/* The word at @gpa of region @m, as the VMM sees it. */
static u64 host_word(int m, gpa_t gpa)
{
	u64 val = 0;

	assert_int_equal(host_access(w.mm, w.cfg.mem[m].hva + (gpa - w.cfg.mem[m].gpa), false, &val), 0);
	return val;
}

static bool observing_anything(void)
{
	int t;

	for (t = 0; t < NR_KVMMU_EVENTS; t++) {
		if (kvmmu_observing((enum kvmmu_event_type)t))
			return true;
	}
	return false;
}

/* ---- every option ------------------------------------------------------------------------ */

static void test_every_option(void **state)
{
	const u64 mutant = BIT_ULL(kvmmu_mutant_lookup("ref-invalid-root"));
	const struct world_config cfg = {
		.nr_frames = 1 << 16,
		.tag_mode = true,
		.host_ops = &host_kvm_ops,
		.cpu = NULL, /* the simulated machine; another CPU: test_other_cpu */
		.phys_bits = 48,
		.vm_type = KVM_X86_DEFAULT_VM,
		.mmu = WORLD_MMU_TDP,
		.format = KVMMU_TDP_EPT,
		.tdp_level = 5,
		.ad_disabled = true,
		.nx_huge_pages = true,
		.no_eager_split = true,
		.manual_protect = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET,
		.dirty_ring_bytes = 4 * PAGE_SIZE,
		.disabled_quirks = KVM_X86_QUIRK_SLOT_ZAP_ALL,
		.nr_vcpus = 2,
		.counters = WORLD_COUNTERS_2_63,
		.yield_every = 1,
		.mem = {
			{ .size = 4 * MB, .backing = WORLD_BACKING_ANON, .hva = 8 * GB, .gpa = 0,
			  .nr_slots = 2, .first_slot = 3, .slot_flags = KVM_MEM_LOG_DIRTY_PAGES },
			{ .size = 4 * MB, .backing = WORLD_BACKING_THP, .populate = true, .gpa = GB,
			  .nr_slots = 1, .first_slot = 10 },
			{ .size = 4 * MB, .backing = WORLD_BACKING_HUGETLB_2M, .gpa = 2 * GB,
			  .nr_slots = 1, .first_slot = 11 },
			{ .size = 256 * KB, .backing = WORLD_BACKING_PFNMAP, .pfnmap_block = 64 * KB,
			  .gpa = 3 * GB, .nr_slots = 1, .first_slot = 12 },
		},
		.checks = CHECK_ALL,
		.mutants = mutant,
		.on_violation = on_violation,
		.violation_arg = &violations_told,
	};
	static const gpa_t where[] = { 0x1008, 2 * MB + 0x2010, GB + 0x3018, 2 * GB + 0x4020,
				       3 * GB + 0x5028 };
	struct hw_access stores[ARRAY_SIZE(where)], loads[ARRAY_SIZE(where)];
	unsigned long warns = kvmmu_warn_count();
	struct kvm_dirty_gfn *ring;
	char why[160];
	u32 nr;
	size_t i;
	int m;

	violations_told = 0;
	assert_int_equal(world_create(&w, &cfg, why, sizeof(why)), 0);

	/* Each option reached the VM. */
	assert_int_equal(w.nr_vcpus, 2);
	assert_int_equal(w.nr_mem, 4);
	assert_true(w.phys->tag_mode);
	assert_int_equal(w.phys->nr_frames, 1 << 16);
	assert_non_null(w.machine);
	assert_ptr_equal(w.hw, w.machine);
	assert_int_equal(w.kvm->arch.tdp_root_level, 5);
	assert_true(w.kvm->arch.masks.ept);
	assert_false(w.kvm->arch.masks.ad_enabled);
	assert_int_equal(w.kvm->arch.masks.phys_bits, 48);
	assert_true(w.kvm->arch.nx_huge_pages);
	assert_false(w.kvm->arch.eager_page_split);
	assert_int_equal(w.kvm->manual_dirty_log_protect, cfg.manual_protect);
	assert_int_equal(w.kvm->dirty_ring_size, 4 * PAGE_SIZE);
	assert_int_equal(w.kvm->arch.disabled_quirks, KVM_X86_QUIRK_SLOT_ZAP_ALL);
	/* The counters just below 2^63 (the generation short of bit 63), yields forced. */
	assert_true(w.kvm->mmu_invalidate_seq >= (1ULL << 63) - 16 &&
		    w.kvm->mmu_invalidate_seq < (1ULL << 63));
	assert_true(kvm_memslots(w.kvm)->generation > (1ULL << 62) &&
		    !(kvm_memslots(w.kvm)->generation & KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS));
	assert_int_equal(sched_forced_resched(), 1);
	/* The memory: the given address, then the next 1 GiB boundaries. */
	assert_int_equal(w.cfg.mem[0].hva, 8 * GB);
	assert_int_equal(w.cfg.mem[1].hva, 9 * GB);
	assert_int_equal(w.cfg.mem[2].hva, 10 * GB);
	assert_int_equal(w.cfg.mem[3].hva, 11 * GB);
	{
		unsigned long hva;
		gpa_t gpa;
		u64 size;

		/* Two slots over 4M, ids 3 and 4. */
		world_mem_slot(&w, 0, 1, &gpa, &size, &hva);
		assert_int_equal(gpa, 2 * MB);
		assert_int_equal(size, 2 * MB);
		assert_int_equal(hva, 8 * GB + 2 * MB);
		assert_non_null(id_to_memslot(kvm_memslots(w.kvm), 4));
	}
	assert_int_equal(w.cfg.mem[0].slot_flags, KVM_MEM_LOG_DIRTY_PAGES);
	/* Populated: the THP region's pages are in the host already. */
	assert_true(atomic64_read(&w.phys->nr_allocated) >= (s64)(4 * MB / PAGE_SIZE));

	assert_int_equal(world_check_begin(&w), 0);
	assert_int_equal(kvmmu_mutant_get_mask(), mutant);

	/* vCPU 0 stores into every memslot; vCPU 1 loads it all back. */
	for (i = 0; i < ARRAY_SIZE(where); i++) {
		stores[i] = (struct hw_access){ .op = HW_STORE, .addr = where[i], .value = 0x5eed + i };
		loads[i] = (struct hw_access){ .op = HW_LOAD, .addr = where[i] };
	}
	run_list(0, stores, ARRAY_SIZE(stores));
	run_list(1, loads, ARRAY_SIZE(loads));
	for (i = 0; i < ARRAY_SIZE(where); i++)
		assert_int_equal(loads[i].value, 0x5eed + i);
	assert_int_equal(host_word(0, where[0]), 0x5eed);
	assert_int_equal(host_word(3, where[4]), 0x5eed + 4);
	/* The dirty ring took the writes to the logged slots, as slot 3 and 4's offsets. */
	ring = kvmmu_vcpu_dirty_ring(w.vcpus[0], &nr);
	assert_non_null(ring);
	assert_int_equal(ring[0].slot, 3);
	assert_int_equal(ring[0].offset, 1);
	assert_int_equal(ring[1].slot, 4);
	assert_int_equal(ring[1].offset, 2);

	/* Memslots down: every mapping goes, the VM's counts back to zero. */
	for (m = 0; m < w.nr_mem; m++)
		assert_int_equal(world_mem_delete_slots(&w, m), 0);
	assert_int_equal(kvmmu_vm_stat(w.kvm, "pages_4k"), 0);
	assert_int_equal(kvmmu_vm_stat(w.kvm, "pages_2m"), 0);

	world_check_end(&w);
	/* The mutants stay on through the VM's teardown, and the checkers judging it listen. */
	assert_int_equal(kvmmu_mutant_get_mask(), mutant);
	assert_true(kvmmu_observing(KVMMU_EV_SLOT_META_TOUCH));
	assert_false(kvmmu_observing(KVMMU_EV_SPTE_CHANGE));
	assert_int_equal(world_destroy(&w), 0);
	assert_false(observing_anything());
	assert_int_equal(kvmmu_mutant_get_mask(), 0);
	assert_int_equal(sched_forced_resched(), 0);
	assert_null(w.kvm);
	assert_null(w.phys);
	assert_int_equal(check_violations(NULL, 0), 0);
	assert_int_equal(violations_told, 0);
	assert_int_equal(kvmmu_warn_count(), warns);
}

/* ---- every backing ------------------------------------------------------------------------ */

static void test_every_backing(void **state)
{
	int b;

	for (b = 0; b < NR_WORLD_BACKINGS; b++) {
		bool huge = b == WORLD_BACKING_HUGETLB_1G;
		/* A 1 GiB page in data mode would be a GiB of this process's memory. */
		const struct world_config cfg = {
			.tag_mode = huge,
			.nr_vcpus = 1,
			.mem = { { .size = huge ? GB : 4 * MB, .backing = (enum world_backing)b,
				   .gpa = 4 * GB, .nr_slots = huge ? 1 : 2 } },
			.checks = CHECK_ALL,
		};
		struct hw_access a[2] = {
			{ .op = HW_STORE, .addr = 4 * GB + 3 * PAGE_SIZE, .value = 0xb0 + (u64)b },
			{ .op = HW_LOAD, .addr = 4 * GB + 3 * PAGE_SIZE },
		};
		char why[160];

		if (world_create(&w, &cfg, why, sizeof(why)))
			fail_msg("%s: %s", world_backing_name((enum world_backing)b), why);
		assert_int_equal(world_backing_parse(world_backing_name((enum world_backing)b),
						     &(enum world_backing){ 0 }), 0);
		assert_int_equal(world_check_begin(&w), 0);
		run_list(0, a, 2);
		assert_int_equal(a[1].value, 0xb0 + (u64)b);
		assert_int_equal(host_word(0, 4 * GB + 3 * PAGE_SIZE), 0xb0 + (u64)b);
		assert_int_equal(world_destroy(&w), 0);
		assert_int_equal(check_violations(NULL, 0), 0);
	}
}

/* ---- defaults, layout, memslots -------------------------------------------------------------- */

static void test_defaults_and_layout(void **state)
{
	const struct world_config cfg = {
		.mem = {
			{ .size = 64 * KB, .nr_slots = 1 },
			{ .size = 12 * PAGE_SIZE, .gpa = GB, .nr_slots = 3, .first_slot = 1 },
			{ .size = GB, .backing = WORLD_BACKING_THP },
		},
	};
	unsigned long hva;
	gpa_t gpa;
	u64 size;

	assert_int_equal(world_create(&w, &cfg, NULL, 0), 0);
	/* 4-level EPT with A/D bits, eager splitting, the quirk on, no vCPUs. */
	assert_int_equal(w.kvm->arch.tdp_root_level, 4);
	assert_true(w.kvm->arch.masks.ept);
	assert_true(w.kvm->arch.masks.ad_enabled);
	assert_int_equal(w.kvm->arch.masks.phys_bits, 46);
	assert_true(w.kvm->arch.eager_page_split);
	assert_false(w.kvm->arch.nx_huge_pages);
	assert_int_equal(w.kvm->arch.disabled_quirks, 0);
	assert_int_equal(w.nr_vcpus, 0);
	assert_null(w.cfg.cpu);
	assert_ptr_equal(w.cfg.host_ops, &host_kvm_ops);
	/* Frames: the guest's, 1/128 for tables, one 2M block, 64K of slack. */
	size = (64 * KB + 12 * PAGE_SIZE + GB) >> PAGE_SHIFT;
	assert_int_equal(w.phys->nr_frames, size + size / 128 + 512 + 65536);
	/* Regions at 1 GiB, then at each next 1 GiB boundary past a gap. */
	assert_int_equal(w.cfg.mem[0].hva, GB);
	assert_int_equal(w.cfg.mem[1].hva, 2 * GB);
	assert_int_equal(w.cfg.mem[2].hva, 3 * GB);
	/* Three slots over twelve pages: four pages each, side by side. */
	world_mem_slot(&w, 1, 2, &gpa, &size, &hva);
	assert_int_equal(gpa, GB + 8 * PAGE_SIZE);
	assert_int_equal(size, 4 * PAGE_SIZE);
	assert_int_equal(hva, 2 * GB + 8 * PAGE_SIZE);
	/* A region without slots has none: slot 4 is free, 3 is not. */
	assert_int_equal(world_set_memslot(&w, 4, 0, 8 * GB, GB, w.cfg.mem[2].hva), 0);
	assert_int_equal(world_set_memslot(&w, 3, 0, 8 * GB, GB, w.cfg.mem[2].hva), -EINVAL);
	/* Flags change in place; a deleted region's slots can be deleted only once. */
	assert_int_equal(world_mem_set_flags(&w, 1, KVM_MEM_LOG_DIRTY_PAGES), 0);
	assert_int_equal(w.cfg.mem[1].slot_flags, KVM_MEM_LOG_DIRTY_PAGES);
	assert_int_equal(world_mem_delete_slots(&w, 1), 0);
	assert_int_equal(world_mem_delete_slots(&w, 1), -EINVAL);
	assert_int_equal(world_destroy(&w), 0);
}

/* ---- the MMU selector and names -------------------------------------------------------------- */

static void test_mmu_selector(void **state)
{
	enum world_mmu mmu = NR_WORLD_MMUS;
	char why[160];

	assert_int_equal(world_mmu_parse("tdp", &mmu, why, sizeof(why)), 0);
	assert_int_equal(mmu, WORLD_MMU_TDP);
	assert_string_equal(world_mmu_name(WORLD_MMU_TDP), "tdp");
	assert_int_equal(world_mmu_parse("shadow", &mmu, why, sizeof(why)), 0);
	assert_int_equal(mmu, WORLD_MMU_SHADOW);
	assert_string_equal(world_mmu_name(WORLD_MMU_SHADOW), "shadow");
	assert_int_equal(world_mmu_parse("tdp-legacy", &mmu, why, sizeof(why)), 0);
	assert_int_equal(mmu, WORLD_MMU_TDP_LEGACY);
	assert_string_equal(world_mmu_name(WORLD_MMU_TDP_LEGACY), "tdp-legacy");
	assert_int_equal(world_mmu_parse("ept", &mmu, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "unknown MMU 'ept'"));
	assert_int_equal(world_backing_parse("floppy", &(enum world_backing){ 0 }), -EINVAL);
}

/* Each counters mode starts the sequence and the generation just below its boundary. */
static void test_counters(void **state)
{
	static const struct {
		enum world_counters c;
		u64 seq_below, gen_below, gen_margin;
	} cases[] = {
		{ WORLD_COUNTERS_ZERO, 0, 0, 0 },
		{ WORLD_COUNTERS_2_31, 1ULL << 31, 1ULL << 31, 64 },
		{ WORLD_COUNTERS_2_32, 1ULL << 32, 1ULL << 32, 64 },
		/* The generation must never reach bit 63: it stays well short. */
		{ WORLD_COUNTERS_2_63, 1ULL << 63, 1ULL << 63, 1ULL << 26 },
		{ WORLD_COUNTERS_MMIO_WRAP, 0, 1ULL << 19, 64 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct world_config cfg = {
			.counters = cases[i].c, .mem = { { .size = MB, .nr_slots = 1 } },
		};
		enum world_counters parsed;
		u64 seq, gen;

		assert_int_equal(world_create(&w, &cfg, NULL, 0), 0);
		seq = w.kvm->mmu_invalidate_seq;
		gen = kvm_memslots(w.kvm)->generation;
		if (cases[i].seq_below)
			assert_true(seq < cases[i].seq_below && seq >= cases[i].seq_below - 16);
		else
			assert_int_equal(seq, 0);
		/* One memslot update so far; a few more cross the boundary. */
		if (cases[i].gen_below)
			assert_true(gen < cases[i].gen_below &&
				    gen + cases[i].gen_margin >= cases[i].gen_below);
		else
			assert_int_equal(gen, KVM_ADDRESS_SPACE_NUM);
		assert_int_equal(world_counters_parse(world_counters_name(cases[i].c), &parsed), 0);
		assert_int_equal(parsed, cases[i].c);
		assert_int_equal(world_destroy(&w), 0);
	}
	assert_int_equal(world_counters_parse("2^64", &(enum world_counters){ 0 }), -EINVAL);
}

/* ---- bad configurations -------------------------------------------------------------------- */

static void expect_refused(const struct world_config *cfg, const char *text)
{
	char why[160] = "";

	assert_int_equal(world_config_check(cfg, why, sizeof(why)), -EINVAL);
	if (!strstr(why, text))
		fail_msg("refused with '%s', expected '%s'", why, text);
	why[0] = 0;
	assert_int_equal(world_create(&w, cfg, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, text));
	assert_null(w.phys);
}

static void test_bad_configurations(void **state)
{
	struct world_config cfg;

#define REFUSED(text, ...)                                          \
	do {                                                        \
		cfg = (struct world_config){ __VA_ARGS__ };         \
		expect_refused(&cfg, text);                         \
	} while (0)
	REFUSED("vCPUs", .nr_vcpus = WORLD_MAX_VCPUS + 1);
	REFUSED("vCPUs", .nr_vcpus = -1);
	REFUSED("VM type 1", .vm_type = 1);
	REFUSED("unknown MMU", .mmu = NR_WORLD_MMUS);
	REFUSED("unknown backing", .mem = { { .size = MB, .backing = NR_WORLD_BACKINGS } });
	REFUSED("multiple of 2M", .mem = { { .size = MB, .backing = WORLD_BACKING_THP } });
	REFUSED("multiple of 4K", .mem = { { .size = 6 * KB } });
	REFUSED("not 1G-aligned",
		.tag_mode = true,
		.mem = { { .size = GB, .backing = WORLD_BACKING_HUGETLB_1G, .hva = 3 * MB } });
	REFUSED("pfnmap block", .mem = { { .size = 8 * MB, .backing = WORLD_BACKING_PFNMAP,
					   .pfnmap_block = 4 * MB } });
	REFUSED("pfnmap backing maps at most",
		.mem = { { .size = 4 * GB, .backing = WORLD_BACKING_PFNMAP } });
	REFUSED("does not go with shared backing",
		.tag_mode = true, .mem = { { .size = MB, .backing = WORLD_BACKING_SHARED } });
	REFUSED("0..4096 memslots", .mem = { { .size = MB, .nr_slots = WORLD_MAX_SLOTS + 1 } });
	REFUSED("3 memslots do not split", .mem = { { .size = 4 * MB, .backing = WORLD_BACKING_THP,
						      .nr_slots = 3 } });
	REFUSED("above 64G needs tag mode", .mem = { { .size = 65 * GB } });
	REFUSED("above 1T", .tag_mode = true,
		.mem = { { .size = 1024 * GB }, { .size = GB } });
	/* Sizes that would wrap the total around. */
	REFUSED("above 1T", .tag_mode = true,
		.mem = { { .size = GB }, { .size = -GB } });
#undef REFUSED
}

/* ---- another CPU, and a world that fails half-way ------------------------------------------- */

static int attached;

static void *no_cpu(struct world *ww, void *arg)
{
	attached++;
	assert_non_null(ww->mm);
	return NULL;
}

static void test_failure_half_way(void **state)
{
	const struct world_cpu cpu = { .ops = &hw_ops, .attach = no_cpu };
	const struct world_config cfg = {
		.cpu = &cpu, .nr_vcpus = 1, .mem = { { .size = MB, .nr_slots = 1 } },
	};
	/* Two memslots over the same guest range: the second overlaps. */
	const struct world_config overlap = {
		.nr_vcpus = 1,
		.mem = { { .size = MB, .backing = WORLD_BACKING_SHARED, .nr_slots = 1 },
			 { .size = MB, .nr_slots = 1, .first_slot = 1 } },
	};
	char why[160];

	attached = 0;
	assert_int_equal(world_create(&w, &cfg, why, sizeof(why)), -ENOMEM);
	assert_int_equal(attached, 1);
	assert_non_null(strstr(why, "cannot build the VM"));
	assert_null(w.phys);
	/* The file of the first region goes with the rest (ASan would see it). */
	assert_int_equal(world_create(&w, &overlap, why, sizeof(why)), -EEXIST);
	assert_non_null(strstr(why, "cannot build guest memory"));
	assert_null(w.kvm);
}

/* ---- guest physical widths short of a top-level entry ----------------------------------------- */

/*
 * Memory just below MAXPHYADDR, mapped and torn down, with widths a
 * top-level entry's span does not divide (5-level paging at 39 and 43
 * bits, 4-level at 36): every table and every page reference goes.
 */
static void test_odd_widths_tear_down(void **state)
{
	static const struct {
		int level, bits;
	} cases[] = { { 5, 39 }, { 5, 43 }, { 4, 36 }, { 5, 46 } };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		gpa_t top = 1ULL << cases[i].bits;
		const struct world_config cfg = {
			.tdp_level = cases[i].level, .phys_bits = cases[i].bits, .nr_vcpus = 1,
			.mem = { { .size = 4 * MB, .backing = WORLD_BACKING_THP,
				   .gpa = top - 4 * MB, .nr_slots = 1 } },
			.checks = CHECK_ALL,
		};
		struct hw_access a[3] = {
			{ .op = HW_STORE, .addr = top - 4 * MB, .value = 1 },
			{ .op = HW_STORE, .addr = top - MB, .value = 2 },
			{ .op = HW_LOAD, .addr = top - PAGE_SIZE },
		};

		assert_int_equal(world_create(&w, &cfg, NULL, 0), 0);
		assert_int_equal(w.kvm->arch.tdp_root_level, cases[i].level);
		assert_int_equal(world_check_begin(&w), 0);
		run_list(0, a, ARRAY_SIZE(a));
		assert_true(kvmmu_vm_stat(w.kvm, "pages_2m") >= 1);
		assert_int_equal(world_destroy(&w), 0);
		assert_int_equal(check_violations(NULL, 0), 0);
	}
}

/* ---- the VMM's own accesses ---------------------------------------------------------------- */

/*
 * Data integrity knows what the VMM writes through its own mapping: a
 * guest load of it is no violation, and a value that neither the guest
 * nor the VMM stored is.
 */
static void test_vmm_writes_are_seen(void **state)
{
	const struct world_config cfg = {
		.nr_vcpus = 1, .mem = { { .size = MB, .nr_slots = 1 } }, .checks = CHECK_ALL,
	};
	unsigned long hva;
	struct kvm_follow_pfn foll = { 0 };
	struct check_violation v;
	struct hw_access a;
	u64 val, pfn;

	assert_int_equal(world_create(&w, &cfg, NULL, 0), 0);
	hva = w.cfg.mem[0].hva + 0x1000;
	assert_int_equal(world_check_begin(&w), 0);
	a = (struct hw_access){ .op = HW_STORE, .addr = 0x1000, .value = 0x1111 };
	run_list(0, &a, 1);
	val = 0x2222;
	assert_int_equal(host_access(w.mm, hva, true, &val), 0);
	a = (struct hw_access){ .op = HW_LOAD, .addr = 0x1000 };
	run_list(0, &a, 1);
	assert_int_equal(a.value, 0x2222);
	assert_int_equal(host_access(w.mm, hva, false, &val), 0);
	assert_int_equal(check_violations(&v, 1), 0);

	/* The frame changes behind everyone's back (a write the host never saw). */
	foll.hva = hva;
	pfn = host_kvm_ops.follow_pfn(w.mm, &foll);
	frame_write_word(w.phys, pfn, 0, 0x3333);
	run_list(0, &a, 1);
	assert_int_equal(a.value, 0x3333);
	assert_int_equal(check_violations(&v, 1), 1);
	assert_string_equal(v.checker, "data-integrity");
	assert_non_null(strstr(v.description, "last value stored there is 0x2222"));
	world_destroy(&w);
}

/*
 * Tag mode keeps a page stored once in 16 bytes, and a page stored again in
 * the ring of values: in both, a load of what was stored passes, a load of
 * an older value of another vCPU's in flight passes, and a value nobody
 * stored is reported with the last one stored.
 */
static void test_tag_mode_words(void **state)
{
	const struct world_config cfg = {
		.nr_vcpus = 2, .tag_mode = true, .mem = { { .size = 4 * MB, .nr_slots = 1 } },
		.checks = CHECK_ALL,
	};
	struct kvm_follow_pfn foll = { 0 };
	struct check_violation v;
	struct hw_access a;
	u64 pfn;

	assert_int_equal(world_create(&w, &cfg, NULL, 0), 0);
	assert_int_equal(world_check_begin(&w), 0);

	/* Stored once (compact): the value loads; a changed tag is caught. */
	a = (struct hw_access){ .op = HW_STORE, .addr = 0x1000, .value = 0x1111 };
	run_list(0, &a, 1);
	a = (struct hw_access){ .op = HW_LOAD, .addr = 0x1000 };
	run_list(1, &a, 1);
	assert_int_equal(a.value, 0x1111);
	assert_int_equal(check_violations(&v, 1), 0);
	foll.hva = w.cfg.mem[0].hva + 0x1000;
	pfn = host_kvm_ops.follow_pfn(w.mm, &foll);
	frame_set_contents(w.phys, pfn, 1, 0x2222);
	run_list(1, &a, 1);
	assert_int_equal(a.value, 0x2222);
	assert_int_equal(check_violations(&v, 1), 1);
	assert_string_equal(v.checker, "data-integrity");
	assert_non_null(strstr(v.description, "last value stored there is 0x1111"));
	world_destroy(&w);

	/* Stored by both vCPUs (the ring): vCPU 1 may still see vCPU 0's value. */
	assert_int_equal(world_create(&w, &cfg, NULL, 0), 0);
	assert_int_equal(world_check_begin(&w), 0);
	a = (struct hw_access){ .op = HW_STORE, .addr = 0x2000, .value = 0x3333 };
	run_list(0, &a, 1);
	a = (struct hw_access){ .op = HW_STORE, .addr = 0x2000, .value = 0x4444 };
	run_list(0, &a, 1);
	foll.hva = w.cfg.mem[0].hva + 0x2000;
	pfn = host_kvm_ops.follow_pfn(w.mm, &foll);
	frame_set_contents(w.phys, pfn, 1, 0x3333);
	a = (struct hw_access){ .op = HW_LOAD, .addr = 0x2000 };
	run_list(1, &a, 1);
	assert_int_equal(a.value, 0x3333);
	assert_int_equal(check_violations(&v, 1), 0);
	/* ... but vCPU 0 stored 0x4444 itself: the older value is a violation for it. */
	run_list(0, &a, 1);
	assert_int_equal(check_violations(&v, 1), 1);
	assert_non_null(strstr(v.description, "last value stored there is 0x4444"));
	world_destroy(&w);
}

/*
 * A load that races with the first store of a word: it reads the word
 * before the store lands, but its event is numbered after the store's (a
 * load reads memory before it reports, under no lock the store takes), as
 * when KVM's nested EPT walk on one vCPU read an entry of L1's tables as 0
 * while L1 wrote it on another.  The load begins at @since (what the load
 * paths pass as .since); the test reports it as they would, after the
 * store.  The word the store replaced passes only for a load that began
 * before the store; one that began after it and returns the old word is
 * caught, the VMM's and a vCPU's alike.
 */
static void racing_load(int vcpu, gpa_t gpa, u64 pfn, u64 since, u64 val)
{
	unsigned long hva = w.cfg.mem[0].hva + (gpa - w.cfg.mem[0].gpa);

	if (vcpu < 0)
		kvmmu_observe(KVMMU_EV_VMM_LOAD, access, .vcpu = -1, .size = 8, .hva = hva,
			      .pfn = pfn, .value = val, .since = since);
	else
		kvmmu_observe(KVMMU_EV_GUEST_LOAD, access, .vcpu = vcpu, .size = 8, .gpa = gpa,
			      .pfn = pfn, .value = val, .since = since);
}

/* The frame of @gpa (region 0), faulted in by a load of the VMM's. */
static u64 frame_of(gpa_t gpa)
{
	struct kvm_follow_pfn foll = { .hva = w.cfg.mem[0].hva + (gpa - w.cfg.mem[0].gpa) };

	assert_int_equal(host_word(0, gpa), 0);
	return host_kvm_ops.follow_pfn(w.mm, &foll);
}

/* The number of violations so far; the last one in @v. */
static int last_violation(struct check_violation *v)
{
	struct check_violation all[8];
	int n = check_violations(all, 8);

	assert_true(n <= 8);
	if (n)
		*v = all[n - 1];
	return n;
}

static void test_load_racing_first_store(void **state)
{
	const struct world_config cfg = {
		.nr_vcpus = 2, .mem = { { .size = MB, .nr_slots = 1 } }, .checks = CHECK_ALL,
	};
	const u64 entry = 0x100400037;
	struct check_violation v;
	struct hw_access a;
	u64 pfn, before, val;

	assert_int_equal(world_create(&w, &cfg, NULL, 0), 0);
	assert_int_equal(world_check_begin(&w), 0);
	pfn = frame_of(0x3000);

	/* The VMM begins to read the word: 0.  vCPU 0 stores, the VMM reports. */
	before = kvmmu_observe_index();
	val = frame_read_word(w.phys, pfn, 0);
	assert_int_equal(val, 0);
	a = (struct hw_access){ .op = HW_STORE, .addr = 0x3000, .value = entry };
	run_list(0, &a, 1);
	racing_load(-1, 0x3000, pfn, before, val);
	racing_load(1, 0x3000, pfn, before, val);
	assert_int_equal(last_violation(&v), 0);
	/* The new word loads; the old one, read after the store, is caught. */
	assert_int_equal(host_word(0, 0x3000), entry);
	racing_load(-1, 0x3000, pfn, kvmmu_observe_index(), 0);
	assert_int_equal(last_violation(&v), 1);
	assert_string_equal(v.checker, "data-integrity");
	assert_non_null(strstr(v.description, "the VMM read 0 at hva"));
	assert_non_null(strstr(v.description, "last value stored there is 0x100400037"));
	racing_load(1, 0x3000, pfn, kvmmu_observe_index(), 0);
	assert_int_equal(last_violation(&v), 2);

	/* A first store of the VMM's, and a word that was not 0 before it. */
	pfn = frame_of(0x5000);
	frame_write_word(w.phys, pfn, 8, 0x7777);
	before = kvmmu_observe_index();
	val = 0x9999;
	assert_int_equal(host_access(w.mm, w.cfg.mem[0].hva + 0x5008, true, &val), 0);
	racing_load(1, 0x5008, pfn, before, 0x7777);
	assert_int_equal(last_violation(&v), 2);
	racing_load(1, 0x5008, pfn, kvmmu_observe_index(), 0x7777);
	assert_int_equal(last_violation(&v), 3);
	/*
	 * A load racing with the second store may return the first's value,
	 * but not the word before the first: that store was done before the
	 * load began.
	 */
	before = kvmmu_observe_index();
	val = 0xaaaa;
	assert_int_equal(host_access(w.mm, w.cfg.mem[0].hva + 0x5008, true, &val), 0);
	racing_load(1, 0x5008, pfn, before, 0x9999);
	assert_int_equal(last_violation(&v), 3);
	racing_load(1, 0x5008, pfn, before, 0x7777);
	assert_int_equal(last_violation(&v), 4);
	assert_non_null(strstr(v.description, "last value stored there is 0xaaaa"));
	world_destroy(&w);
}

/*
 * The same in tag mode: a page stored once stays compact and knows that
 * it held 0 before; spilled to the ring by a second store, it still does;
 * a first store that replaced anything but 0 goes to the ring at once.
 */
static void test_tag_load_racing_first_store(void **state)
{
	const struct world_config cfg = {
		.nr_vcpus = 2, .tag_mode = true, .mem = { { .size = 4 * MB, .nr_slots = 1 } },
		.checks = CHECK_ALL,
	};
	struct check_violation v;
	struct hw_access a;
	u64 pfn, before, between;

	assert_int_equal(world_create(&w, &cfg, NULL, 0), 0);
	assert_int_equal(world_check_begin(&w), 0);
	pfn = frame_of(0x1000);

	/* Compact: 0 for a load that began before the store, not after. */
	before = kvmmu_observe_index();
	a = (struct hw_access){ .op = HW_STORE, .addr = 0x1000, .value = 0x1111 };
	run_list(0, &a, 1);
	racing_load(1, 0x1000, pfn, before, 0);
	assert_int_equal(last_violation(&v), 0);
	between = kvmmu_observe_index();
	racing_load(1, 0x1000, pfn, between, 0);
	assert_int_equal(last_violation(&v), 1);
	assert_string_equal(v.checker, "data-integrity");
	assert_non_null(strstr(v.description, "vCPU 1 loaded 0 from gpa 0x1000"));

	/* Spilled by a second store: the same. */
	a = (struct hw_access){ .op = HW_STORE, .addr = 0x1000, .value = 0x2222 };
	run_list(0, &a, 1);
	racing_load(-1, 0x1000, pfn, before, 0);
	assert_int_equal(last_violation(&v), 1);
	racing_load(-1, 0x1000, pfn, between, 0);
	assert_int_equal(last_violation(&v), 2);

	/* A page that held a tag before its first store: the ring, from the start. */
	pfn = frame_of(0x2000);
	frame_set_contents(w.phys, pfn, 1, 0x5555);
	before = kvmmu_observe_index();
	a = (struct hw_access){ .op = HW_STORE, .addr = 0x2000, .value = 0x6666 };
	run_list(0, &a, 1);
	racing_load(1, 0x2000, pfn, before, 0x5555);
	assert_int_equal(last_violation(&v), 2);
	racing_load(1, 0x2000, pfn, kvmmu_observe_index(), 0x5555);
	assert_int_equal(last_violation(&v), 3);
	/* Nor 0, which it never held while checked. */
	racing_load(1, 0x2000, pfn, before, 0);
	assert_int_equal(last_violation(&v), 4);
	world_destroy(&w);
}

/*
 * With guest paging, accesses reach the checkers by gpa, not by the gva
 * the guest used: data integrity sees a store through a gva and catches a
 * frame changed behind everyone's back when the guest loads it again.
 */
static void test_guest_paging_is_checked(void **state)
{
	const struct world_config cfg = {
		.nr_vcpus = 1, .mem = { { .size = 4 * MB, .nr_slots = 1 } }, .checks = CHECK_ALL,
	};
	const u64 P = BIT_ULL(0), W = BIT_ULL(1);
	struct hw_access a[2];
	struct hw_program p = { .list = a, .len = 1, .paging = 4, .cr3 = 0x100000 };
	struct kvm_follow_pfn foll = { 0 };
	struct check_violation v;
	u64 pfn, val, i;

	assert_int_equal(world_create(&w, &cfg, NULL, 0), 0);
	/* gva 0x40000000 + x -> gpa 0x200000 + x, as virt_map() would. */
	val = 0x101000 | P | W;
	assert_int_equal(host_access(w.mm, w.cfg.mem[0].hva + 0x100000, true, &val), 0);
	val = 0x102000 | P | W;
	assert_int_equal(host_access(w.mm, w.cfg.mem[0].hva + 0x101008, true, &val), 0);
	val = 0x103000 | P | W;
	assert_int_equal(host_access(w.mm, w.cfg.mem[0].hva + 0x102000, true, &val), 0);
	for (i = 0; i < 16; i++) {
		val = (0x200000 + i * PAGE_SIZE) | P | W;
		assert_int_equal(host_access(w.mm, w.cfg.mem[0].hva + 0x103000 + i * 8, true, &val),
				 0);
	}
	assert_int_equal(world_check_begin(&w), 0);
	a[0] = (struct hw_access){ .op = HW_STORE, .addr = 0x40003008, .value = 0x1234 };
	assert_int_equal(hw_vcpu_load_program(w.vcpus[0]->hw, &p), 0);
	while (!hw_vcpu_done(w.vcpus[0]->hw)) {
		struct kvmmu_run run;

		assert_int_equal(kvmmu_vcpu_run(w.vcpus[0], &run), 0);
	}
	assert_int_equal(host_word(0, 0x203008), 0x1234);
	assert_int_equal(check_violations(&v, 1), 0);
	foll.hva = w.cfg.mem[0].hva + 0x203008;
	pfn = host_kvm_ops.follow_pfn(w.mm, &foll);
	frame_write_word(w.phys, pfn, 0x8, 0x9999);
	a[0] = (struct hw_access){ .op = HW_LOAD, .addr = 0x40003008 };
	p.paging = 0; /* the CPU is still in the state the last program left */
	run_list(0, a, 1);
	assert_int_equal(a[0].value, 0x9999);
	assert_int_equal(check_violations(&v, 1), 1);
	assert_string_equal(v.checker, "data-integrity");
	assert_non_null(strstr(v.description, "gpa 0x203008"));
	world_destroy(&w);
}

/*
 * Shadow paging on the world's own guest tables (an identity map at 4
 * GiB, as the workloads have it): the checkers see the guest's accesses by
 * gpa although the CPU knows only gvas, so a change behind the guest's
 * back is reported as under TDP.
 */
static void test_shadow_guest_tables_are_checked(void **state)
{
	const struct world_config cfg = {
		.nr_vcpus = 1, .mmu = WORLD_MMU_SHADOW, .guest_paging = 4, .checks = CHECK_ALL,
		.mem = { { .size = 4 * MB, .gpa = 4 * GB, .nr_slots = 1 } },
	};
	const gpa_t gpa = 4 * GB + 0x3008;
	struct hw_access a[1];
	struct hw_program p = { .list = a, .len = 1, .paging = 4 };
	struct kvm_follow_pfn foll = { 0 };
	struct check_violation v;
	u64 pfn;

	assert_int_equal(world_create(&w, &cfg, NULL, 0), 0);
	/* The tables' region comes after the others, 2M-aligned. */
	assert_int_equal(w.cfg.mem[1].gpa, 4 * GB + 4 * MB);
	assert_int_equal(w.guest_cr3, w.cfg.mem[1].gpa);
	p.cr3 = w.guest_cr3;
	assert_int_equal(world_check_begin(&w), 0);
	a[0] = (struct hw_access){ .op = HW_STORE, .addr = gpa, .value = 0x1234 };
	assert_int_equal(hw_vcpu_load_program(w.vcpus[0]->hw, &p), 0);
	while (!hw_vcpu_done(w.vcpus[0]->hw)) {
		struct kvmmu_run run;

		assert_int_equal(kvmmu_vcpu_run(w.vcpus[0], &run), 0);
	}
	assert_int_equal(w.vcpus[0]->arch.mmu->cpu_role.base.level, 4);
	assert_false(w.vcpus[0]->arch.mmu->root_role.direct);
	assert_int_equal(check_violations(&v, 1), 0);
	foll.hva = w.cfg.mem[0].hva + 0x3008;
	pfn = host_kvm_ops.follow_pfn(w.mm, &foll);
	frame_write_word(w.phys, pfn, 0x8, 0x9999);
	a[0] = (struct hw_access){ .op = HW_LOAD, .addr = gpa };
	p.paging = 0; /* the CPU is still in the state the last program left */
	run_list(0, a, 1);
	assert_int_equal(a[0].value, 0x9999);
	assert_int_equal(check_violations(&v, 1), 1);
	assert_string_equal(v.checker, "data-integrity");
	world_destroy(&w);
}

/*
 * Every guest paging mode the world builds, under every MMU: a store and a
 * load through a large page, then the guest kernel's remap of that page at
 * 4K (world_guest_pde()) and back, with a TLB flush after each; the data
 * stays, the 4K walk went through the page table (its entry has A), and no
 * checker objects.
 */
static void test_guest_paging_modes(void **state)
{
	static const enum world_mmu mmus[] = { WORLD_MMU_TDP, WORLD_MMU_TDP_LEGACY,
					       WORLD_MMU_SHADOW };
	int paging, i;

	for (paging = 2; paging <= 5; paging++) {
		for (i = 0; i < (int)ARRAY_SIZE(mmus); i++) {
			gpa_t base = paging < 4 ? 1 * GB : 4 * GB, gpa = base + 0x3008;
			const struct world_config cfg = {
				.nr_vcpus = 1, .mmu = mmus[i], .guest_paging = paging,
				.checks = CHECK_ALL,
				.mem = { { .size = 8 * MB, .gpa = base, .nr_slots = 1 } },
			};
			struct world_guest_pde pde;
			struct hw_access a[4];
			struct hw_program p = { .list = a, .len = 2, .paging = paging };
			struct check_violation v;
			char why[160];
			u64 pte;

			assert_int_equal(world_create(&w, &cfg, why, sizeof(why)), 0);
			p.cr3 = w.guest_cr3;
			assert_int_equal(world_guest_pde(&w, gpa, &pde), 0);
			assert_int_equal(pde.size, paging == 2 ? 4 : 8);
			assert_int_equal(pde.page_size, paging == 2 ? 4 * MB : 2 * MB);
			assert_int_equal(pde.large & ~0xfffULL, base);
			assert_int_equal(world_check_begin(&w), 0);

			a[0] = (struct hw_access){ .op = HW_STORE, .addr = gpa, .value = 0x1234 };
			a[1] = (struct hw_access){ .op = HW_LOAD, .addr = gpa };
			assert_int_equal(hw_vcpu_load_program(w.vcpus[0]->hw, &p), 0);
			while (!hw_vcpu_done(w.vcpus[0]->hw)) {
				struct kvmmu_run run;

				assert_int_equal(kvmmu_vcpu_run(w.vcpus[0], &run), 0);
			}
			assert_int_equal(a[1].value, 0x1234);
			assert_int_equal(host_word(0, gpa), 0x1234);
			if (mmus[i] == WORLD_MMU_SHADOW) {
				const struct kvm_mmu *mmu = w.vcpus[0]->arch.mmu;

				assert_int_equal(mmu->cpu_role.base.level, paging);
				assert_int_equal(mmu->cpu_role.base.has_4_byte_gpte, paging == 2);
			}

			/* At 4K: the page table's entry for the page gets A. */
			a[0] = (struct hw_access){ .op = HW_STORE, .size = (u8)pde.size,
						   .addr = pde.gpa, .value = pde.table };
			a[1] = (struct hw_access){ .op = HW_FLUSH_TLB };
			a[2] = (struct hw_access){ .op = HW_LOAD, .addr = gpa };
			a[3] = (struct hw_access){ .op = HW_STORE, .addr = gpa, .value = 0x5678 };
			run_list(0, a, 4);
			assert_int_equal(a[2].value, 0x1234);
			pte = host_word(1, (pde.table & ~0xfffULL) +
					   ((gpa - base) >> PAGE_SHIFT) * (u64)pde.size);
			if (paging == 2)
				pte = (u32)(pte >> (((gpa - base) >> PAGE_SHIFT) & 1 ? 32 : 0));
			assert_int_equal(pte & ~0xfffULL, gpa & ~0xfffULL);
			assert_true(pte & BIT_ULL(5));
			assert_int_equal(host_word(0, gpa), 0x5678);

			/* And back. */
			a[0].value = pde.large;
			a[3].value = 0x9abc;
			run_list(0, a, 4);
			assert_int_equal(a[2].value, 0x5678);
			assert_int_equal(host_word(0, gpa), 0x9abc);
			assert_int_equal(check_violations(&v, 1), 0);
			assert_int_equal(world_destroy(&w), 0);
		}
	}
}

/* Guest paging modes the world does not build, and 32-bit guests above 4G. */
static void test_guest_paging_limits(void **state)
{
	struct world_config cfg = {
		.nr_vcpus = 1, .guest_paging = 1,
		.mem = { { .size = 8 * MB, .gpa = 4 * GB, .nr_slots = 1 } },
	};
	char why[160];

	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), -EINVAL);
	cfg.guest_paging = 6;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), -EINVAL);
	cfg.guest_paging = 2;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "below 4G"));
	cfg.guest_paging = 3;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), -EINVAL);
	/* The tables' region must fit below 4G too. */
	cfg.mem[0].gpa = 4 * GB - 8 * MB;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), -EINVAL);
	cfg.mem[0].gpa = 1 * GB;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), 0);
	cfg.guest_paging = 5;
	cfg.mem[0].gpa = 4 * GB;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), 0);
}

/* ---- checking ------------------------------------------------------------------------------ */

static void test_one_checking_world_at_a_time(void **state)
{
	const struct world_config cfg = { .nr_vcpus = 1, .checks = CHECK_ALL };
	struct world other;

	assert_int_equal(world_create(&w, &cfg, NULL, 0), 0);
	assert_int_equal(world_create(&other, &cfg, NULL, 0), 0);
	assert_int_equal(world_check_begin(&w), 0);
	assert_int_equal(world_check_begin(&w), -EBUSY);
	assert_int_equal(world_check_begin(&other), -EBUSY);
	assert_false(other.checking);
	/* The refused world's teardown leaves the first world's checkers alone. */
	assert_int_equal(world_destroy(&other), 0);
	assert_true(observing_anything());
	assert_int_equal(world_destroy(&w), 0);
	assert_false(observing_anything());
}

static const struct CMUnitTest tests[] = {
	KVMMU_TEST(test_every_option),
	KVMMU_TEST(test_every_backing),
	KVMMU_TEST(test_defaults_and_layout),
	KVMMU_TEST(test_mmu_selector),
	KVMMU_TEST(test_counters),
	KVMMU_TEST(test_bad_configurations),
	KVMMU_TEST(test_failure_half_way),
	KVMMU_TEST(test_vmm_writes_are_seen),
	KVMMU_TEST(test_tag_mode_words),
	KVMMU_TEST(test_load_racing_first_store),
	KVMMU_TEST(test_tag_load_racing_first_store),
	KVMMU_TEST(test_guest_paging_is_checked),
	KVMMU_TEST(test_shadow_guest_tables_are_checked),
	KVMMU_TEST(test_guest_paging_modes),
	KVMMU_TEST(test_guest_paging_limits),
	KVMMU_TEST(test_odd_widths_tear_down),
	KVMMU_TEST(test_one_checking_world_at_a_time),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
