// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dirty logging: KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG (manual protect,
 * its errnos), INITIALLY_SET, the dirty ring (push, harvest, reset, soft
 * full), each reporting exactly the pages written, also with concurrent
 * markers and vCPUs writing while userspace harvests.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_host.h"
#include "mmu_internal.h"
#include "srcu.h"
#include "test.h"
#include "thread.h"
#include "vm_fixture.h"

#define MB (1UL << 20)
#define NPAGES 512 /* 2 MiB */

static struct vm_fixture fix;
static unsigned long bitmap[NPAGES / 64];

static int teardown_fix(void **state)
{
	if (vm_fixture_destroy(&fix))
		return -1;
	return kvmmu_test_teardown(state);
}

#define FIX_TEST(fn) cmocka_unit_test_setup_teardown(fn, kvmmu_test_setup, teardown_fix)

static void create(u64 manual_protect, u32 ring_bytes)
{
	struct vm_fixture_opts o = {
		.mem_size = 2 * MB, .nr_vcpus = 1, .manual_protect = manual_protect,
		.dirty_ring_bytes = ring_bytes,
	};

	assert_int_equal(vm_fixture_create(&fix, &o), 0);
}

static int set_logging(u32 slot, bool on)
{
	struct kvm_userspace_memory_region2 m = {
		.slot = slot,
		.flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = fix.w.cfg.mem[0].gpa,
		.memory_size = fix.w.cfg.mem[0].size,
		.userspace_addr = fix.w.cfg.mem[0].hva,
	};

	return kvmmu_set_user_memory_region2(fix.w.kvm, &m);
}

/* vCPU 0 writes @n pages, then halts. */
static void write_pages(const unsigned int *pages, int n, u64 value)
{
	struct kvmmu_hw_vcpu *hv = fix.hw.vcpus[0];
	int i;

	hv->len = 0;
	hv->pc = 0;
	for (i = 0; i < n; i++)
		fake_hw_push(hv, FAKE_WRITE, (u64)pages[i] * PAGE_SIZE, value + i);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
}

static void write_range(unsigned int first, unsigned int n)
{
	struct kvmmu_hw_vcpu *hv = fix.hw.vcpus[0];
	unsigned int i;

	hv->len = 0;
	hv->pc = 0;
	for (i = 0; i < n; i++)
		fake_hw_push(hv, FAKE_WRITE, (u64)(first + i) * PAGE_SIZE, i);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
}

static int get_log(u32 slot)
{
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bitmap };

	memset(bitmap, 0xee, sizeof(bitmap));
	return kvmmu_get_dirty_log(fix.w.kvm, &log);
}

static int clear_log(u32 slot, u64 first, u32 num, const unsigned long *mask)
{
	struct kvm_clear_dirty_log log = {
		.slot = slot, .first_page = first, .num_pages = num,
		.dirty_bitmap = (void *)mask,
	};

	return kvmmu_clear_dirty_log(fix.w.kvm, &log);
}

/* The bitmap holds exactly @pages. */
static void assert_bitmap(const unsigned int *pages, int n)
{
	unsigned long want[NPAGES / 64] = { 0 };
	int i;

	for (i = 0; i < n; i++)
		want[pages[i] / 64] |= 1UL << (pages[i] % 64);
	for (i = 0; i < NPAGES / 64; i++) {
		if (bitmap[i] != want[i])
			fail_msg("dirty bitmap word %d is %#lx, expected %#lx", i, bitmap[i], want[i]);
	}
}

static bool page_writable(unsigned int page)
{
	return is_writable_pte(fix_leaf_spte(&fix, 0, (u64)page * PAGE_SIZE, NULL));
}

static void test_get_dirty_log(void **state)
{
	static const unsigned int dirty[] = { 1, 5, 9, 200 };
	static const unsigned int again[] = { 5 };

	create(0, 0);
	write_range(0, NPAGES);            /* everything mapped writable */
	assert_int_equal(get_log(0), -ENOENT); /* not logging yet */
	assert_int_equal(set_logging(0, true), 0);
	/* Enabling write-protected every page and flushed. */
	assert_false(page_writable(0));
	assert_false(page_writable(NPAGES - 1));
	assert_int_equal(get_log(0), 0);
	assert_bitmap(NULL, 0);

	write_pages(dirty, ARRAY_SIZE(dirty), 100);
	assert_int_equal(get_log(0), 0);
	assert_bitmap(dirty, ARRAY_SIZE(dirty));
	/* The fast path restored W and logged the write. */
	assert_int_equal(kvmmu_vcpu_stat(fix.w.vcpus[0], "pf_fast"), ARRAY_SIZE(dirty));
	assert_int_equal(get_log(0), 0);
	assert_bitmap(NULL, 0);

	/* GET re-protected what it reported: the next write is logged again. */
	assert_false(page_writable(5));
	write_pages(again, 1, 7);
	assert_int_equal(get_log(0), 0);
	assert_bitmap(again, 1);
	assert_int_equal(fix_host_read(&fix, 5 * PAGE_SIZE), 7);

	/* Off again: no bitmap, and GET says so. */
	assert_int_equal(set_logging(0, false), 0);
	assert_int_equal(get_log(0), -ENOENT);
}

static void test_clear_errnos(void **state)
{
	unsigned long mask[NPAGES / 64];

	memset(mask, 0xff, sizeof(mask));
	create(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, 0);
	/* No log on the slot: ENOENT; no such slot: ENOENT; bad ids: EINVAL. */
	assert_int_equal(clear_log(0, 0, 64, mask), -ENOENT);
	assert_int_equal(clear_log(3, 0, 64, mask), -ENOENT);
	assert_int_equal(clear_log(2u << 16, 0, 64, mask), -EINVAL);
	assert_int_equal(clear_log(KVM_USER_MEM_SLOTS, 0, 64, mask), -EINVAL);
	assert_int_equal(set_logging(0, true), 0);
	/* first_page must be a multiple of 64. */
	assert_int_equal(clear_log(0, 1, 64, mask), -EINVAL);
	assert_int_equal(clear_log(0, 32, 64, mask), -EINVAL);
	/* num_pages a multiple of 64 unless the range reaches the slot's end. */
	assert_int_equal(clear_log(0, 64, 10, mask), -EINVAL);
	assert_int_equal(clear_log(0, NPAGES - 64, 64, mask), 0);
	/* Past the end of the slot. */
	assert_int_equal(clear_log(0, NPAGES - 64, 65, mask), -EINVAL);
	assert_int_equal(clear_log(0, NPAGES + 64, 64, mask), -EINVAL);
	assert_int_equal(clear_log(0, 0, NPAGES + 64, mask), -EINVAL);
	/* Empty and whole ranges are fine. */
	assert_int_equal(clear_log(0, 0, 0, mask), 0);
	assert_int_equal(clear_log(0, 0, NPAGES, mask), 0);
}

/* A slot whose size is not a multiple of 64 pages: the tail may be cleared short. */
static void test_clear_short_tail(void **state)
{
	unsigned long mask[2] = { ~0UL, ~0UL };
	struct kvm_userspace_memory_region2 m = {
		.slot = 1, .flags = KVM_MEM_LOG_DIRTY_PAGES, .guest_phys_addr = 64 * MB,
		.memory_size = 100 * PAGE_SIZE, .userspace_addr = fix.w.cfg.mem[0].hva,
	};

	create(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, 0);
	assert_int_equal(kvmmu_set_user_memory_region2(fix.w.kvm, &m), 0);
	assert_int_equal(clear_log(1, 64, 36, mask), 0);
	assert_int_equal(clear_log(1, 64, 35, mask), -EINVAL);
	assert_int_equal(clear_log(1, 64, 37, mask), -EINVAL);
}

static void test_manual_protect(void **state)
{
	static const unsigned int dirty[] = { 3, 70 };
	static const unsigned int only70[] = { 70 };
	unsigned long mask[NPAGES / 64] = { 0 };
	unsigned int i;

	create(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, 0);
	write_range(0, 128);
	assert_int_equal(set_logging(0, true), 0);
	write_pages(dirty, 2, 1);
	assert_int_equal(get_log(0), 0);
	assert_bitmap(dirty, 2);
	/* GET alone neither clears nor re-protects. */
	assert_int_equal(get_log(0), 0);
	assert_bitmap(dirty, 2);
	assert_true(page_writable(3));
	assert_true(page_writable(70));

	/* CLEAR page 3 only: exactly page 3 is protected again. */
	mask[0] = 1UL << 3;
	assert_int_equal(clear_log(0, 0, 128, mask), 0);
	assert_int_equal(get_log(0), 0);
	assert_bitmap(only70, 1);
	for (i = 0; i < 128; i++)
		assert_int_equal(page_writable(i), i == 70);

	/* The next write to 3 is logged; to 70 it takes no fault at all. */
	{
		u64 fast = kvmmu_vcpu_stat(fix.w.vcpus[0], "pf_fast");

		write_pages(dirty, 2, 50);
		assert_int_equal(kvmmu_vcpu_stat(fix.w.vcpus[0], "pf_fast"), fast + 1);
	}
	assert_int_equal(get_log(0), 0);
	assert_bitmap(dirty, 2);

	/* Clearing a bit that is not set re-protects nothing. */
	memset(mask, 0, sizeof(mask));
	mask[0] = 1UL << 10;
	assert_int_equal(clear_log(0, 0, 128, mask), 0);
	assert_false(page_writable(10)); /* protected since logging began */
	assert_true(page_writable(3));
}

static void test_initially_set(void **state)
{
	unsigned long mask[NPAGES / 64];
	unsigned int all[NPAGES], i;

	create(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET, 0);
	write_range(0, NPAGES);
	assert_int_equal(set_logging(0, true), 0);
	/* Everything counts as dirty, and nothing was protected. */
	for (i = 0; i < NPAGES; i++)
		all[i] = i;
	assert_int_equal(get_log(0), 0);
	assert_bitmap(all, NPAGES);
	assert_true(page_writable(0));
	assert_true(page_writable(NPAGES - 1));

	/* CLEAR the first 64: protected and clean; the rest stays as it was. */
	memset(mask, 0, sizeof(mask));
	mask[0] = ~0UL;
	assert_int_equal(clear_log(0, 0, 64, mask), 0);
	assert_int_equal(get_log(0), 0);
	assert_bitmap(all + 64, NPAGES - 64);
	for (i = 0; i < NPAGES; i++)
		assert_int_equal(page_writable(i), i >= 64);
}

/* ---- the dirty ring ------------------------------------------------------------------------ */

#define RING_BYTES (4 * PAGE_SIZE)

static u32 ring_fetch;

/* Harvest what the ring holds, as userspace does; returns the count. */
static int harvest(struct kvm_vcpu *vcpu, unsigned long *seen, u32 *slot_out)
{
	u32 n;
	struct kvm_dirty_gfn *ring = kvmmu_vcpu_dirty_ring(vcpu, &n);
	int count = 0;

	for (;;) {
		struct kvm_dirty_gfn *e = &ring[ring_fetch & (n - 1)];
		u32 flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);

		if (!(flags & KVM_DIRTY_GFN_F_DIRTY))
			break;
		if (slot_out)
			*slot_out = e->slot;
		if (e->offset < NPAGES)
			seen[e->offset / 64] |= 1UL << (e->offset % 64);
		__atomic_store_n(&e->flags, flags | KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
		ring_fetch++;
		count++;
	}
	return count;
}

static void test_dirty_ring(void **state)
{
	static const unsigned int dirty[] = { 2, 4, 6 };
	unsigned long seen[NPAGES / 64] = { 0 };
	u32 slot = ~0u;

	ring_fetch = 0;
	create(0, RING_BYTES);
	write_range(0, 16);
	assert_int_equal(set_logging(0, true), 0);
	write_pages(dirty, 3, 1);

	/* A ring without a bitmap has no GET. */
	assert_int_equal(get_log(0), -ENXIO);
	assert_int_equal(harvest(fix.w.vcpus[0], seen, &slot), 3);
	assert_int_equal(slot, 0);
	memcpy(bitmap, seen, sizeof(bitmap));
	assert_bitmap(dirty, 3);
	assert_true(page_writable(4));

	/* Reset: the harvested entries are recycled and their pages protected. */
	assert_int_equal(kvmmu_reset_dirty_rings(fix.w.kvm), 3);
	assert_int_equal(kvmmu_reset_dirty_rings(fix.w.kvm), 0);
	assert_false(page_writable(2));
	assert_false(page_writable(4));
	assert_false(page_writable(6));

	memset(seen, 0, sizeof(seen));
	write_pages(dirty + 1, 1, 9);
	assert_int_equal(harvest(fix.w.vcpus[0], seen, NULL), 1);
	memcpy(bitmap, seen, sizeof(bitmap));
	assert_bitmap(dirty + 1, 1);
}

/* A soft-full ring stops the vCPU until userspace resets it. */
static void test_dirty_ring_soft_full(void **state)
{
	unsigned long seen[NPAGES / 64] = { 0 };
	u32 entries = PAGE_SIZE / sizeof(struct kvm_dirty_gfn);
	u32 soft = entries - KVM_DIRTY_RING_RSVD_ENTRIES;
	struct kvmmu_hw_vcpu *hv;
	struct kvmmu_run run;
	unsigned int i;

	ring_fetch = 0;
	create(0, PAGE_SIZE);
	hv = fix.hw.vcpus[0];
	write_range(0, NPAGES);
	assert_int_equal(set_logging(0, true), 0);
	hv->len = 0;
	hv->pc = 0;
	for (i = 0; i < soft + 10; i++)
		fake_hw_push(hv, FAKE_WRITE, (u64)i * PAGE_SIZE, i);
	assert_int_equal(fix_run(&fix, 0, &run), 0);
	assert_int_equal(run.exit_reason, KVM_EXIT_DIRTY_RING_FULL);
	/*
	 * It stopped at the soft limit: the write that filled it was logged
	 * (its fault fixed) but not yet done again when the vCPU came out.
	 */
	assert_int_equal(hv->pc, soft - 1);
	assert_int_equal(fix_run(&fix, 0, &run), 0);
	assert_int_equal(run.exit_reason, KVM_EXIT_DIRTY_RING_FULL);
	assert_int_equal(harvest(fix.w.vcpus[0], seen, NULL), soft);
	assert_int_equal(kvmmu_reset_dirty_rings(fix.w.kvm), soft);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	/* The reset protected the page of the unfinished write again: 1 + 10. */
	assert_int_equal(harvest(fix.w.vcpus[0], seen, NULL), 11);
	for (i = 0; i < soft + 10; i++)
		assert_true(seen[i / 64] & (1UL << (i % 64)));
}

/* ---- concurrency ----------------------------------------------------------------------------- */

#define MARKERS 2

static unsigned long marked[MARKERS][NPAGES / 64];
static _Atomic bool markers_done[MARKERS];

static int marker_fn(void *arg)
{
	int id = (int)(uintptr_t)arg;
	u64 seed = 0x9e3779b97f4a7c15ULL * (u64)(id + 1);
	u64 n = scaled(20000, 200000, 2000000), i;

	for (i = 0; i < n; i++) {
		int idx = srcu_read_lock(&fix.w.kvm->srcu);
		struct kvm_memory_slot *slot;
		gfn_t gfn;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		gfn = seed % NPAGES;
		slot = gfn_to_memslot(fix.w.kvm, gfn);
		mark_page_dirty_in_slot(fix.w.kvm, slot, gfn);
		srcu_read_unlock(&fix.w.kvm->srcu, idx);
		marked[id][gfn / 64] |= 1UL << (gfn % 64);
	}
	atomic_store(&markers_done[id], true);
	return 0;
}

/* Threads mark while GET harvests: every mark shows up in some harvest. */
static void test_concurrent_markers(void **state)
{
	unsigned long all[NPAGES / 64] = { 0 }, want[NPAGES / 64] = { 0 };
	struct kvmmu_thread *t[MARKERS];
	int i, j, gets = 0;

	create(0, 0);
	assert_int_equal(set_logging(0, true), 0);
	memset(marked, 0, sizeof(marked));
	for (i = 0; i < MARKERS; i++) {
		atomic_store(&markers_done[i], false);
		assert_int_equal(kvmmu_thread_create(&t[i], "marker", 0, marker_fn,
						     (void *)(uintptr_t)i), 0);
	}
	for (;;) {
		bool done = true;

		for (i = 0; i < MARKERS; i++)
			done &= atomic_load(&markers_done[i]);
		assert_int_equal(get_log(0), 0);
		gets++;
		for (j = 0; j < NPAGES / 64; j++)
			all[j] |= bitmap[j];
		if (done)
			break;
	}
	for (i = 0; i < MARKERS; i++)
		assert_int_equal(kvmmu_thread_join(t[i]), 0);
	assert_int_equal(get_log(0), 0);
	for (j = 0; j < NPAGES / 64; j++) {
		all[j] |= bitmap[j];
		for (i = 0; i < MARKERS; i++)
			want[j] |= marked[i][j];
		if (all[j] != want[j])
			fail_msg("word %d: harvested %#lx, marked %#lx (%d GETs)", j, all[j], want[j],
				 gets);
	}
}

/* vCPUs write while userspace harvests the rings and resets them. */
static _Atomic int writers_done;

static int ring_writer_fn(void *arg)
{
	int v = (int)(uintptr_t)arg;
	int r = fix_run_until_hlt(&fix, v);

	atomic_fetch_add(&writers_done, 1);
	return r;
}

static void test_rings_harvested_while_vcpus_write(void **state)
{
	struct vm_fixture_opts o = {
		.mem_size = 2 * MB, .nr_vcpus = 2, .dirty_ring_bytes = RING_BYTES,
	};
	unsigned long seen[NPAGES / 64] = { 0 };
	u32 fetch[2] = { 0, 0 };
	struct kvmmu_thread *t[2];
	int v, total = 0, i;
	unsigned int p;

	assert_int_equal(vm_fixture_create(&fix, &o), 0);
	/* Map everything, then log: every page is write-protected once. */
	for (p = 0; p < NPAGES; p++)
		fake_hw_push(fix.hw.vcpus[0], FAKE_WRITE, (u64)p * PAGE_SIZE, 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_int_equal(set_logging(0, true), 0);

	/* vCPU v writes the pages p with p % 2 == v, each once. */
	for (v = 0; v < 2; v++) {
		struct kvmmu_hw_vcpu *hv = fix.hw.vcpus[v];

		hv->len = 0;
		hv->pc = 0;
		for (p = (unsigned int)v; p < NPAGES; p += 2)
			fake_hw_push(hv, FAKE_WRITE, (u64)p * PAGE_SIZE, p);
	}
	atomic_store(&writers_done, 0);
	for (v = 0; v < 2; v++)
		assert_int_equal(kvmmu_thread_create(&t[v], "vcpu", 0, ring_writer_fn,
						     (void *)(uintptr_t)v), 0);
	for (;;) {
		bool done = atomic_load(&writers_done) == 2;

		for (v = 0; v < 2; v++) {
			ring_fetch = fetch[v];
			total += harvest(fix.w.vcpus[v], seen, NULL);
			fetch[v] = ring_fetch;
		}
		assert_true(kvmmu_reset_dirty_rings(fix.w.kvm) >= 0);
		if (done)
			break;
	}
	for (v = 0; v < 2; v++)
		assert_int_equal(kvmmu_thread_join(t[v]), 0);
	/*
	 * A page re-protected by a reset before its write was done again is
	 * logged twice; none is missed.
	 */
	assert_true(total >= NPAGES);
	for (i = 0; i < NPAGES / 64; i++)
		assert_int_equal(seen[i], ~0UL);
	for (p = 0; p < NPAGES; p += 97)
		assert_int_equal(fix_host_read(&fix, (u64)p * PAGE_SIZE), p);
}

static const struct CMUnitTest tests[] = {
	FIX_TEST(test_get_dirty_log),
	FIX_TEST(test_clear_errnos),
	FIX_TEST(test_clear_short_tail),
	FIX_TEST(test_manual_protect),
	FIX_TEST(test_initially_set),
	FIX_TEST(test_dirty_ring),
	FIX_TEST(test_dirty_ring_soft_full),
	FIX_TEST(test_concurrent_markers),
	FIX_TEST(test_rings_harvested_while_vcpus_write),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
