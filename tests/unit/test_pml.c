// SPDX-License-Identifier: GPL-2.0-only
/*
 * PML (VMX page-modification logging): with logging on, KVM clears D
 * instead of W, the simulated CPU logs every write that sets D in its
 * vCPU's buffer, exits when the buffer is full, and KVM drains the buffer
 * into the dirty log (bitmap or ring) at every exit.  Writes under PML take
 * no faults; every page written shows in the next read of the log; PML is
 * on only while a memslot logs.  The D-bit checker (I35) catches a folio
 * the CPU dirties while the host thinks it clean.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "host_mm.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "mutant.h"
#include "test.h"
#include "world.h"

#define MB (1UL << 20)

static struct world w;

/* Store to @n pages from @first, one word each, on vCPU @v, to the end. */
static void store_pages(int v, u64 first, u64 n, u64 value)
{
	struct hw_access *list = calloc(n, sizeof(*list));
	struct hw_program p;
	struct kvm_vcpu *vcpu = w.vcpus[v];
	u64 i;

	assert_non_null(list);
	for (i = 0; i < n; i++)
		list[i] = (struct hw_access){ .op = HW_STORE, .addr = (first + i) * PAGE_SIZE,
					      .value = value + i };
	p = (struct hw_program){ .list = list, .len = n };
	assert_int_equal(hw_vcpu_load_program(vcpu->hw, &p), 0);
	while (!hw_vcpu_done(vcpu->hw)) {
		struct kvmmu_run run;

		assert_int_equal(kvmmu_vcpu_run(vcpu, &run), 0);
		assert_true(run.exit_reason == KVM_EXIT_HLT || run.exit_reason == KVM_EXIT_INTR);
	}
	free(list);
}

static struct hw_vcpu_stats hw_stats(int v)
{
	struct hw_vcpu_stats st;

	hw_vcpu_get_stats(w.vcpus[v]->hw, &st);
	return st;
}

/* KVM_GET_DIRTY_LOG of slot 0 into @bm; returns how many bits are set in the first @n. */
static u64 get_log(unsigned long *bm, u64 n)
{
	struct kvm_dirty_log get = { .slot = 0, .dirty_bitmap = bm };
	u64 i, set = 0;

	assert_int_equal(kvmmu_get_dirty_log(w.kvm, &get), 0);
	for (i = 0; i < n; i++)
		set += test_bit(i, bm);
	return set;
}

static void create(const struct world_config *cfg)
{
	char why[160];

	assert_int_equal(world_create(&w, cfg, why, sizeof(why)), 0);
	assert_int_equal(world_check_begin(&w), 0);
}

static void destroy_clean(void)
{
	world_check_end(&w);
	assert_int_equal(check_violations(NULL, 0), 0);
	assert_int_equal(world_destroy(&w), 0);
}

/* ---- logging through PML ------------------------------------------------------------------- */

#define PAGES 256

/*
 * Mapped before logging: enabling logging clears D, so every write after
 * is logged by the CPU, without a fault, and the next GET reports it.
 */
static void test_writes_logged_without_faults(void **state)
{
	const struct world_config cfg = {
		.nr_vcpus = 1, .pml = true, .checks = CHECK_ALL,
		.mem = { { .size = PAGES * PAGE_SIZE, .nr_slots = 1 } },
	};
	unsigned long bm[PAGES / BITS_PER_LONG];
	u64 faults, logs;

	create(&cfg);
	store_pages(0, 0, PAGES, 0x100);
	assert_int_equal(hw_stats(0).pml_logs, 0); /* PML is off until a slot logs */
	assert_int_equal(world_mem_set_flags(&w, 0, KVM_MEM_LOG_DIRTY_PAGES), 0);
	assert_int_equal(get_log(bm, PAGES), 0);

	faults = kvmmu_vcpu_stat(w.vcpus[0], "pf_taken");
	logs = hw_stats(0).pml_logs;
	store_pages(0, 0, PAGES / 2, 0x200);
	assert_int_equal(kvmmu_vcpu_stat(w.vcpus[0], "pf_taken"), faults);
	assert_int_equal(hw_stats(0).pml_logs - logs, PAGES / 2);
	/* The vCPU exited at its end: the buffer was drained into the bitmap. */
	assert_int_equal(get_log(bm, PAGES), PAGES / 2);
	assert_true(test_bit(0, bm) && test_bit(PAGES / 2 - 1, bm) && !test_bit(PAGES / 2, bm));

	/* GET cleared D again: the same pages are logged once more. */
	store_pages(0, 0, PAGES / 2, 0x300);
	assert_int_equal(hw_stats(0).pml_logs - logs, PAGES);
	assert_int_equal(get_log(bm, PAGES), PAGES / 2);
	/* Nothing written since: nothing to report. */
	assert_int_equal(get_log(bm, PAGES), 0);
	destroy_clean();
}

/* More writes than the buffer holds: PML-full exits drain it, nothing is lost. */
static void test_full_buffer_exits(void **state)
{
	const u64 n = 3 * KVMMU_PML_ENTRIES / 2;
	const struct world_config cfg = {
		.nr_vcpus = 1, .pml = true, .checks = CHECK_ALL,
		.mem = { { .size = n * PAGE_SIZE, .nr_slots = 1,
			   .slot_flags = KVM_MEM_LOG_DIRTY_PAGES } },
	};
	unsigned long *bm = calloc(BITS_TO_LONGS(n), sizeof(long));

	assert_non_null(bm);
	create(&cfg);
	/* First touch faults and maps with D set: not logged by PML. */
	store_pages(0, 0, n, 0x100);
	assert_int_equal(get_log(bm, n), n);
	assert_int_equal(hw_stats(0).exits_pml_full, 0);
	/* Now D is clear everywhere: every write logs, the buffer fills. */
	store_pages(0, 0, n, 0x200);
	assert_int_equal(hw_stats(0).pml_logs, n);
	assert_int_equal(hw_stats(0).exits_pml_full, 1);
	assert_int_equal(get_log(bm, n), n);
	destroy_clean();
	free(bm);
}

/* PML follows logging: off again once no slot logs. */
static void test_pml_off_without_logging(void **state)
{
	const struct world_config cfg = {
		.nr_vcpus = 1, .pml = true, .checks = CHECK_ALL,
		.mem = { { .size = 64 * PAGE_SIZE, .nr_slots = 1,
			   .slot_flags = KVM_MEM_LOG_DIRTY_PAGES } },
	};
	unsigned long bm[1];
	u64 logs;

	create(&cfg);
	store_pages(0, 0, 64, 0x100);
	assert_int_equal(get_log(bm, 64), 64);
	store_pages(0, 0, 8, 0x200);
	logs = hw_stats(0).pml_logs;
	assert_int_equal(logs, 8);
	assert_int_equal(world_mem_set_flags(&w, 0, 0), 0);
	store_pages(0, 0, 64, 0x300);
	assert_int_equal(hw_stats(0).pml_logs, logs);
	destroy_clean();
}

/* With a dirty ring, the drain pushes what the CPU logged to the vCPU's ring. */
static void test_ring_pushed_at_drain(void **state)
{
	const struct world_config cfg = {
		.nr_vcpus = 1, .pml = true, .checks = CHECK_ALL, .dirty_ring_bytes = 1 << 16,
		.mem = { { .size = 16 * PAGE_SIZE, .nr_slots = 1,
			   .slot_flags = KVM_MEM_LOG_DIRTY_PAGES } },
	};
	struct kvm_dirty_gfn *ring;
	u32 n, i, pushed = 0;

	create(&cfg);
	/* Faults push the first writes; reset re-protects (clears D). */
	store_pages(0, 0, 16, 0x100);
	ring = kvmmu_vcpu_dirty_ring(w.vcpus[0], &n);
	for (i = 0; i < 16; i++) {
		assert_true(ring[i].flags & KVM_DIRTY_GFN_F_DIRTY);
		ring[i].flags = KVM_DIRTY_GFN_F_RESET;
	}
	assert_int_equal(kvmmu_reset_dirty_rings(w.kvm), 16);
	store_pages(0, 0, 16, 0x200);
	assert_int_equal(hw_stats(0).pml_logs, 16);
	for (i = 16; i < n && (ring[i].flags & KVM_DIRTY_GFN_F_DIRTY); i++)
		pushed++;
	assert_int_equal(pushed, 16);
	destroy_clean();
}

/* ---- the D-bit checker --------------------------------------------------------------------- */

/*
 * A folio KVM maps writable without dirtying it (the mutant reads a THP
 * tail's refcount of 0 as "not refcounted") is clean when the CPU sets D in
 * it after a GET cleared D: I35 says so at once, before any reclaim.
 */
static void test_clean_folio_dirtied_by_cpu(void **state)
{
	const struct world_config cfg = {
		.nr_vcpus = 1, .pml = true, .checks = BIT_ULL(CHK_DIRTY_BIT),
		.mutants = BIT_ULL(MUT_TAIL_PAGE_REF_COUNT),
		.mem = { { .size = 2 * MB, .backing = WORLD_BACKING_SHARED_THP, .nr_slots = 1,
			   .slot_flags = KVM_MEM_LOG_DIRTY_PAGES } },
	};
	unsigned long bm[2 * MB / PAGE_SIZE / BITS_PER_LONG];
	struct check_violation v;

	create(&cfg);
	store_pages(0, 5, 1, 0x100);
	assert_int_equal(get_log(bm, 512), 1);
	assert_int_equal(check_violations(NULL, 0), 0);
	store_pages(0, 5, 1, 0x200);
	assert_int_equal(check_violations(&v, 1), 1);
	assert_string_equal(v.checker, "dirty-bit");
	assert_non_null(strstr(v.description, "is clean"));
	world_destroy(&w);
}

/* The same, right: the folio was dirtied when it was mapped writable. */
static void test_dirtied_folio_is_fine(void **state)
{
	const struct world_config cfg = {
		.nr_vcpus = 1, .pml = true, .checks = CHECK_ALL,
		.mem = { { .size = 2 * MB, .backing = WORLD_BACKING_SHARED_THP, .nr_slots = 1,
			   .slot_flags = KVM_MEM_LOG_DIRTY_PAGES } },
	};
	unsigned long bm[2 * MB / PAGE_SIZE / BITS_PER_LONG];

	create(&cfg);
	store_pages(0, 5, 1, 0x100);
	assert_int_equal(get_log(bm, 512), 1);
	store_pages(0, 5, 1, 0x200);
	assert_int_equal(get_log(bm, 512), 1);
	destroy_clean();
}

/* ---- configuration ------------------------------------------------------------------------- */

static void test_bad_configurations(void **state)
{
	struct world_config cfg = { .nr_vcpus = 1, .pml = true, .format = KVMMU_TDP_NPT };
	char why[160];

	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "PML needs EPT with A/D bits"));
	cfg.format = KVMMU_TDP_EPT;
	cfg.ad_disabled = true;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), -EINVAL);
	cfg.ad_disabled = false;
	/* A ring must hold a whole PML flush past its soft limit. */
	cfg.dirty_ring_bytes = 4096;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "full PML flush"));
	cfg.dirty_ring_bytes = 1 << 14;
	assert_int_equal(world_config_check(&cfg, why, sizeof(why)), 0);
}

static const struct CMUnitTest tests[] = {
	KVMMU_TEST(test_writes_logged_without_faults),
	KVMMU_TEST(test_full_buffer_exits),
	KVMMU_TEST(test_pml_off_without_logging),
	KVMMU_TEST(test_ring_pushed_at_drain),
	KVMMU_TEST(test_clean_folio_dirtied_by_cpu),
	KVMMU_TEST(test_dirtied_folio_is_fine),
	KVMMU_TEST(test_bad_configurations),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
