// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest-translation checker (I40): a guest on tables of its own may
 * use a translation they took away only until it flushes the address.
 *
 * Under shadow paging (a 64-bit kernel on the world's identity map) a
 * PTE re-pointed through an unsync PT may be used stale until INVLPG, on
 * that vCPU and on others that have not flushed; after it, the old frame
 * is a violation (mutant invlpg-skips-sync), and so is the old write
 * permission.  Under nested EPT, L2 may use what L1 unmapped until an
 * INVEPT on its vCPU (mutant invept-keeps-root).  The guest's paging
 * instructions are posted as the architecture defines their flushes; the
 * workloads run clean under the checker; and where there are no guest
 * tables KVM shadows, it attaches nothing.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "check.h"
#include "host_mm.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "mutant.h"
#include "observe.h"
#include "test.h"
#include "world.h"
#include "x86_pgtable.h"

#define PAGES 16

static struct world w;
static int violations;

static void on_violation(void *arg)
{
	(*(int *)arg)++;
}

static int teardown(void **state)
{
	if (w.kvm)
		world_destroy(&w);
	memset(&w, 0, sizeof(w));
	return kvmmu_test_teardown(state);
}

#define GT_TEST(fn) cmocka_unit_test_setup_teardown(fn, kvmmu_test_setup, teardown)

static void create(const struct world_config *base, u64 mutants)
{
	struct world_config cfg = *base;
	char why[160];

	cfg.checks = CHECK_ALL;
	cfg.mutants = mutants;
	cfg.on_violation = on_violation;
	cfg.violation_arg = &violations;
	violations = 0;
	assert_int_equal(world_create(&w, &cfg, why, sizeof(why)), 0);
	assert_int_equal(world_check_begin(&w), 0);
}

/* Shadow paging, a 4-level kernel on the world's identity map of 16 pages. */
static void create_shadow(int vcpus, u64 mutants)
{
	const struct world_config cfg = {
		.nr_vcpus = vcpus, .mmu = WORLD_MMU_SHADOW, .guest_paging = 4,
		.mem = { { .size = PAGES * PAGE_SIZE, .nr_slots = 1 } },
	};

	create(&cfg, mutants);
}

/* Nested EPT: L2 on 16 pages L1 maps. */
static void create_nested(int vcpus, u64 mutants)
{
	const struct world_config cfg = {
		.nr_vcpus = vcpus, .nested = true,
		.mem = { { .size = PAGES * PAGE_SIZE, .nr_slots = 1 } },
	};

	create(&cfg, mutants);
}

static void run(int v, struct hw_access *list, u64 n)
{
	struct hw_program p = { .list = list, .len = n, .paging = w.cfg.guest_paging,
				.cr3 = w.guest_cr3, .nested = w.l1 };
	struct kvm_vcpu *vcpu = w.vcpus[v];
	int runs = 0;

	assert_int_equal(hw_vcpu_load_program(vcpu->hw, &p), 0);
	while (!hw_vcpu_done(vcpu->hw)) {
		struct kvmmu_run r;

		assert_true(++runs < 10000);
		assert_int_equal(kvmmu_vcpu_run(vcpu, &r), 0);
	}
}

static void load_pages(int v, u64 n)
{
	struct hw_access a[PAGES];
	u64 i;

	for (i = 0; i < n; i++)
		a[i] = (struct hw_access){ .op = HW_LOAD, .addr = i * PAGE_SIZE };
	run(v, a, n);
}

/* The gpa of the PTE that maps page @page of guest memory (4K there: 16 pages). */
static gpa_t pte_of(u64 page)
{
	const struct world_mem_config *t = &w.cfg.mem[1];
	gpa_t table = w.guest_cr3;
	int level;
	u64 e = 0;

	for (level = 4; level > 1; level--) {
		assert_int_equal(host_access(w.mm, t->hva + (table - t->gpa), false, &e), 0);
		table = e & PT64_BASE_ADDR_MASK;
	}
	return table + page * 8;
}

static const struct check_violation *first_violation(void)
{
	static struct check_violation v;

	world_check_end(&w);
	if (!check_violations(&v, 1))
		return NULL;
	return &v;
}

static void end_clean(void)
{
	const struct check_violation *v = first_violation();

	if (v)
		fail_msg("%s: %s", v->checker, v->description);
	assert_int_equal(violations, 0);
}

static void end_caught(void)
{
	const struct check_violation *v = first_violation();

	assert_non_null(v);
	assert_string_equal(v->checker, "guest-translation");
	assert_string_equal(v->invariant, "I40");
}

/*
 * vCPU 0 points page 3 at page 6 through its PT (the store makes the PT
 * unsync: written directly), reads page 3, INVLPGs it and reads it again.
 * Before the INVLPG the old frame and the new are both the guest's to
 * get; after it only the new one.
 */
static void repoint_and_invlpg(u64 mutants)
{
	struct hw_access a[] = {
		{ .op = HW_STORE, .value = (6 * PAGE_SIZE) | PT_PRESENT_MASK | PT_WRITABLE_MASK },
		{ .op = HW_LOAD, .addr = 3 * PAGE_SIZE },
		{ .op = HW_INVLPG, .addr = 3 * PAGE_SIZE },
		{ .op = HW_LOAD, .addr = 3 * PAGE_SIZE },
	};
	u64 six = 0x666;

	create_shadow(1, mutants);
	a[0].addr = pte_of(3);
	load_pages(0, PAGES);
	assert_int_equal(host_access(w.mm, w.cfg.mem[0].hva + 6 * PAGE_SIZE, true, &six), 0);
	run(0, a, ARRAY_SIZE(a));
	if (!mutants)
		assert_int_equal(a[3].value, six);
}

static void test_shadow_invlpg_clean(void **state)
{
	repoint_and_invlpg(0);
	end_clean();
}

static void test_shadow_invlpg_skips_sync(void **state)
{
	repoint_and_invlpg(BIT_ULL(MUT_INVLPG_SKIPS_SYNC));
	end_caught();
}

/*
 * A vCPU that has not flushed may go on with the old translation: vCPU 1
 * cached page 3 before vCPU 0 re-pointed it, and reads it after (from its
 * TLB, the old frame) without a violation.  Its CR3 load then makes the
 * new one the only one.
 */
static void test_shadow_stale_until_own_flush(void **state)
{
	struct hw_access a0[] = {
		{ .op = HW_STORE, .value = (6 * PAGE_SIZE) | PT_PRESENT_MASK | PT_WRITABLE_MASK },
	};
	struct hw_access a1[] = {
		{ .op = HW_LOAD, .addr = 3 * PAGE_SIZE },
		{ .op = HW_FLUSH_TLB },
		{ .op = HW_LOAD, .addr = 3 * PAGE_SIZE },
	};
	u64 three = 0x333, six = 0x666;

	create_shadow(2, 0);
	a0[0].addr = pte_of(3);
	assert_int_equal(host_access(w.mm, w.cfg.mem[0].hva + 3 * PAGE_SIZE, true, &three), 0);
	assert_int_equal(host_access(w.mm, w.cfg.mem[0].hva + 6 * PAGE_SIZE, true, &six), 0);
	load_pages(0, PAGES);
	load_pages(1, PAGES);
	run(0, a0, ARRAY_SIZE(a0));
	run(1, a1, ARRAY_SIZE(a1));
	assert_int_equal(a1[0].value, three);
	assert_int_equal(a1[2].value, six);
	end_clean();
}

/*
 * Write permission taken away: page 4's PTE made read-only and INVLPGed.
 * The store after it is the guest's #PF (nothing stored); with the
 * mutant the writable SPTE stays, and the store goes through.
 */
static void readonly_and_invlpg(u64 mutants)
{
	struct hw_access a[] = {
		{ .op = HW_STORE, .addr = 4 * PAGE_SIZE, .value = 1 },
		{ .op = HW_STORE, .value = (4 * PAGE_SIZE) | PT_PRESENT_MASK },
		{ .op = HW_INVLPG, .addr = 4 * PAGE_SIZE },
		{ .op = HW_STORE, .addr = 4 * PAGE_SIZE, .value = 2 },
	};
	struct hw_vcpu_stats st;

	create_shadow(1, mutants);
	a[1].addr = pte_of(4);
	load_pages(0, PAGES);
	run(0, a, ARRAY_SIZE(a));
	hw_vcpu_get_stats(w.vcpus[0]->hw, &st);
	if (!mutants)
		assert_int_equal(st.guest_faults, 1);
}

static void test_shadow_readonly_clean(void **state)
{
	readonly_and_invlpg(0);
	end_clean();
}

static void test_shadow_readonly_skips_sync(void **state)
{
	const struct check_violation *v;

	readonly_and_invlpg(BIT_ULL(MUT_INVLPG_SKIPS_SYNC));
	v = first_violation();
	assert_non_null(v);
	assert_string_equal(v->checker, "guest-translation");
	/* The frame is right; the permission is not. */
	assert_non_null(strstr(v->description, "store to 0x4000"));
	assert_non_null(strstr(v->description, "gpa 0x4000 r-x"));
}

/*
 * Nested: L2 reads page 2, asks L1 to unmap it (L1 clears its entry and
 * INVEPTs) and reads it again, which must exit to L1.
 */
static void unmap_and_invept(u64 mutants)
{
	struct hw_access a[] = {
		{ .op = HW_LOAD, .addr = 2 * PAGE_SIZE },
		{ .op = HW_VMCALL, .addr = 2 * PAGE_SIZE, .value = HW_HC_UNMAP },
		{ .op = HW_LOAD, .addr = 2 * PAGE_SIZE },
	};
	struct hw_vcpu_stats st;

	create_nested(1, mutants);
	load_pages(0, 4);
	run(0, a, ARRAY_SIZE(a));
	hw_vcpu_get_stats(w.vcpus[0]->hw, &st);
	/* Four first touches, the VMCALL, and (correct KVM) the fault after the INVEPT. */
	assert_int_equal(st.l2_exits_to_l1, mutants ? 5 : 6);
}

static void test_nested_invept_clean(void **state)
{
	unmap_and_invept(0);
	end_clean();
}

static void test_nested_invept_keeps_root(void **state)
{
	unmap_and_invept(BIT_ULL(MUT_INVEPT_KEEPS_ROOT));
	end_caught();
}

/* INVEPT on vCPU 0 is no flush of vCPU 1's: with the mutant, vCPU 1 may go on. */
static void test_nested_invept_is_per_vcpu(void **state)
{
	struct hw_access a0[] = {
		{ .op = HW_VMCALL, .addr = 2 * PAGE_SIZE, .value = HW_HC_UNMAP },
	};
	struct hw_access a1[] = { { .op = HW_LOAD, .addr = 2 * PAGE_SIZE } };

	create_nested(2, BIT_ULL(MUT_INVEPT_KEEPS_ROOT));
	load_pages(0, 4);
	load_pages(1, 4);
	run(0, a0, ARRAY_SIZE(a0));
	run(1, a1, ARRAY_SIZE(a1));
	end_clean();
}

/* ---- the guest's flushes as the CPU posts them -------------------------------------------- */

static u8 kinds[16];
static int nr_kinds;

static void note_flush(struct kvmmu_observer *obs, const struct kvmmu_event *ev)
{
	if (nr_kinds < (int)ARRAY_SIZE(kinds))
		kinds[nr_kinds++] = ev->guest_flush.kind;
}

static struct kvmmu_observer flush_observer = {
	.name = "test-flushes",
	.mask = BIT_ULL(KVMMU_EV_GUEST_FLUSH),
	.notify = note_flush,
};

/*
 * INVLPG flushes one address; a CR3 load (or its reload) everything; a
 * CR4 write only if it changes PGE or PAE or sets SMEP; WRMSR EFER
 * nothing.  A write that takes #GP is not posted.
 */
static void flush_kinds(enum world_mmu mmu)
{
	const struct world_config cfg = {
		.nr_vcpus = 1, .mmu = mmu, .guest_paging = 4,
		.mem = { { .size = PAGES * PAGE_SIZE, .nr_slots = 1 } },
	};
	u64 cr4 = X86_CR4_PAE;
	struct hw_access a[] = {
		{ .op = HW_INVLPG, .addr = PAGE_SIZE },
		{ .op = HW_FLUSH_TLB },
		{ .op = HW_MOV_CR3, .value = 0 },
		{ .op = HW_MOV_CR4, .value = cr4 | X86_CR4_PGE },
		{ .op = HW_MOV_CR4, .value = cr4 | X86_CR4_PGE | X86_CR4_SMAP },
		{ .op = HW_MOV_CR4, .value = cr4 | X86_CR4_PGE | X86_CR4_SMAP | X86_CR4_SMEP },
		{ .op = HW_MOV_CR4, .value = 0 }, /* PAE off in long mode: #GP */
		{ .op = HW_WRMSR_EFER, .value = EFER_LME | EFER_NX },
	};
	static const u8 want[] = {
		KVMMU_GUEST_FLUSH_ADDR, KVMMU_GUEST_FLUSH_ALL, KVMMU_GUEST_FLUSH_ALL,
		KVMMU_GUEST_FLUSH_ALL, KVMMU_GUEST_FLUSH_NONE, KVMMU_GUEST_FLUSH_ALL,
		KVMMU_GUEST_FLUSH_NONE,
	};
	int i;

	create(&cfg, 0);
	a[2].value = w.guest_cr3;
	nr_kinds = 0;
	assert_int_equal(kvmmu_observer_register(&flush_observer), 0);
	run(0, a, ARRAY_SIZE(a));
	kvmmu_observer_unregister(&flush_observer);
	assert_int_equal(nr_kinds, ARRAY_SIZE(want));
	for (i = 0; i < nr_kinds; i++)
		assert_int_equal(kinds[i], want[i]);
	end_clean();
}

static void test_flush_kinds_shadow(void **state)
{
	flush_kinds(WORLD_MMU_SHADOW);
}

static void test_flush_kinds_tdp(void **state)
{
	flush_kinds(WORLD_MMU_TDP);
}

/* ---- cost ----------------------------------------------------------------------------------- */

/* With EPT and no nested guest, nothing is shadowed: the checker is not attached. */
static void test_not_attached_without_guest_tables(void **state)
{
	const struct world_config cfg = {
		.nr_vcpus = 1, .guest_paging = 4,
		.mem = { { .size = PAGES * PAGE_SIZE, .nr_slots = 1 } },
		.checks = 1ULL << CHK_GUEST_TRANSLATION,
	};
	char why[160];

	assert_int_equal(world_create(&w, &cfg, why, sizeof(why)), 0);
	assert_int_equal(world_check_begin(&w), 0);
	assert_false(kvmmu_observing(KVMMU_EV_GUEST_FLUSH));
	assert_false(kvmmu_observing(KVMMU_EV_GUEST_LOAD));
	world_check_end(&w);
	world_destroy(&w);
	memset(&w, 0, sizeof(w));

	create_shadow(1, 0);
	assert_true(kvmmu_observing(KVMMU_EV_GUEST_FLUSH));
	end_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		GT_TEST(test_shadow_invlpg_clean),
		GT_TEST(test_shadow_invlpg_skips_sync),
		GT_TEST(test_shadow_stale_until_own_flush),
		GT_TEST(test_shadow_readonly_clean),
		GT_TEST(test_shadow_readonly_skips_sync),
		GT_TEST(test_nested_invept_clean),
		GT_TEST(test_nested_invept_keeps_root),
		GT_TEST(test_nested_invept_is_per_vcpu),
		GT_TEST(test_flush_kinds_shadow),
		GT_TEST(test_flush_kinds_tdp),
		GT_TEST(test_not_attached_without_guest_tables),
	};

	return kvmmu_run_tests(tests);
}
