// SPDX-License-Identifier: GPL-2.0-only
/*
 * TDP MMU features: huge pages and their bounds, splitting under dirty
 * logging, recovery when logging stops, NX huge pages and their recovery,
 * fast page fault without mmu_lock, lockless aging, KVM_PRE_FAULT_MEMORY,
 * and vCPUs writing while userspace harvests the log.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "gate.h"
#include "mmu.h"
#include "mmu_internal.h"
#include "rcu.h"
#include "tdp_iter.h"
#include "test.h"
#include "thread.h"
#include "vm_fixture.h"

#define MB (1UL << 20)
#define GB (1UL << 30)

static struct vm_fixture fix;

static int teardown_fix(void **state)
{
	if (vm_fixture_destroy(&fix))
		return -1;
	return kvmmu_test_teardown(state);
}

#define FIX_TEST(fn) cmocka_unit_test_setup_teardown(fn, kvmmu_test_setup, teardown_fix)

static void create(const struct vm_fixture_opts *o)
{
	assert_int_equal(vm_fixture_create(&fix, o), 0);
}

static u64 vm_stat(const char *name)
{
	return kvmmu_vm_stat(fix.w.kvm, name);
}

static u64 vcpu_stat(int vcpu, const char *name)
{
	return kvmmu_vcpu_stat(fix.w.vcpus[vcpu], name);
}

static void program(int vcpu, u8 op, gpa_t first, u64 n, u64 stride)
{
	struct kvmmu_hw_vcpu *hv = fix.hw.vcpus[vcpu];
	u64 i;

	hv->len = 0;
	hv->pc = 0;
	for (i = 0; i < n; i++)
		fake_hw_push(hv, op, first + i * stride, i + 1);
}

static void run(int vcpu, u8 op, gpa_t first, u64 n, u64 stride)
{
	program(vcpu, op, first, n, stride);
	assert_int_equal(fix_run_to_hlt(&fix, vcpu), 0);
}

static int leaf_level(gpa_t gpa)
{
	int level = 0;

	if (!fix_leaf_spte(&fix, 0, gpa, &level))
		return 0;
	return level;
}

static void create_thp(u64 size, u32 slot_flags, bool nx)
{
	struct vm_fixture_opts o = { .mem_size = size, .nr_vcpus = 1, .backing = WORLD_BACKING_THP,
				     .slot_flags = slot_flags, .nx_huge_pages = nx };

	create(&o);
}

/* ---- huge pages ------------------------------------------------------------------------------- */

static void test_huge_when_every_bound_allows(void **state)
{
	u64 spte;

	create_thp(4 * MB, 0, false);
	run(0, FAKE_READ, 0x3000, 1, 0);
	assert_int_equal(leaf_level(0x3000), PG_LEVEL_2M);
	assert_int_equal(vm_stat("pages_2m"), 1);
	assert_int_equal(vm_stat("pages_4k"), 0);
	/* The huge SPTE maps the start of the host's huge page. */
	spte = fix_leaf_spte(&fix, 0, 0, NULL);
	assert_true(is_large_pte(spte));
	assert_int_equal(spte_to_pfn(spte) & 511, 0);
	/* A write through it lands where the host sees it. */
	run(0, FAKE_WRITE, 0x1ff008, 1, 0);
	assert_int_equal(fix_host_read(&fix, 0x1ff008), 1);
}

static void test_no_huge_without_host_huge_page(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 4 * MB, .nr_vcpus = 1 };

	create(&o);
	run(0, FAKE_READ, 0x3000, 1, 0);
	assert_int_equal(leaf_level(0x3000), PG_LEVEL_4K);
	assert_int_equal(vm_stat("pages_2m"), 0);
}

/* gfn and hva not congruent modulo 2M: never huge. */
static void test_no_huge_when_misaligned(void **state)
{
	create_thp(4 * MB, 0, false);
	assert_int_equal(world_set_memslot(&fix.w, 0, 0, 0, 0, 0), 0);
	assert_int_equal(world_set_memslot(&fix.w, 1, 0, 0x1000,
					   4 * MB - 2 * PAGE_SIZE,
					   fix.w.cfg.mem[0].hva),
			 0);
	run(0, FAKE_READ, 0x200000, 1, 0);
	assert_int_equal(leaf_level(0x200000), PG_LEVEL_4K);
}

/* A huge page that sticks out of the slot is not used; the one inside is. */
static void test_no_huge_across_slot_edge(void **state)
{
	create_thp(4 * MB, 0, false);
	assert_int_equal(world_set_memslot(&fix.w, 0, 0, 0, 0, 0), 0);
	assert_int_equal(world_set_memslot(&fix.w, 1, 0, 0, 3 * MB, fix.w.cfg.mem[0].hva), 0);
	run(0, FAKE_READ, 0x1000, 1, 0);
	run(0, FAKE_READ, 2 * MB + 0x1000, 1, 0);
	assert_int_equal(leaf_level(0x1000), PG_LEVEL_2M);
	assert_int_equal(leaf_level(2 * MB + 0x1000), PG_LEVEL_4K);
}

/* A logged slot maps 4K. */
static void test_no_huge_while_logging(void **state)
{
	create_thp(4 * MB, KVM_MEM_LOG_DIRTY_PAGES, false);
	run(0, FAKE_READ, 0x1000, 1, 0);
	assert_int_equal(leaf_level(0x1000), PG_LEVEL_4K);
}

/* Enabling logging splits huge pages eagerly: 512 SPTEs, same memory, write-protected. */
static void test_eager_split_on_logging(void **state)
{
	u64 huge, i;

	create_thp(4 * MB, 0, false);
	run(0, FAKE_WRITE, 0x1000, 1, 0);
	huge = fix_leaf_spte(&fix, 0, 0, NULL);
	assert_true(is_large_pte(huge) && is_writable_pte(huge));
	assert_int_equal(world_set_memslot(&fix.w, 0, KVM_MEM_LOG_DIRTY_PAGES,
					   0, 4 * MB, fix.w.cfg.mem[0].hva),
			 0);
	assert_int_equal(vm_stat("pages_2m"), 0);
	assert_int_equal(vm_stat("pages_4k"), 512);
	for (i = 0; i < 512; i++) {
		int level;
		u64 spte = fix_leaf_spte(&fix, 0, i * PAGE_SIZE, &level);

		assert_int_equal(level, PG_LEVEL_4K);
		assert_int_equal(spte_to_pfn(spte), spte_to_pfn(huge) + i);
		assert_false(is_writable_pte(spte));
		assert_true(is_mmu_writable_spte(&fix.w.kvm->arch.masks, spte));
	}
	/* A write: only that 4K page gets W back. */
	run(0, FAKE_WRITE, 5 * PAGE_SIZE, 1, 0);
	for (i = 0; i < 512; i++)
		assert_int_equal(is_writable_pte(fix_leaf_spte(&fix, 0, i * PAGE_SIZE, NULL)), i == 5);
}

/* Without eager splitting the fault splits: the huge page is protected whole first. */
static void test_split_on_fault_when_not_eager(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 4 * MB, .nr_vcpus = 1, .backing = WORLD_BACKING_THP,
				     .no_eager_split = true };
	unsigned long bm[4 * MB / PAGE_SIZE / 64];
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = bm };
	u64 i;

	create(&o);
	run(0, FAKE_WRITE, 0x1000, 1, 0);
	assert_int_equal(world_set_memslot(&fix.w, 0, KVM_MEM_LOG_DIRTY_PAGES,
					   0, 4 * MB, fix.w.cfg.mem[0].hva),
			 0);
	assert_int_equal(vm_stat("pages_2m"), 1);
	assert_false(is_writable_pte(fix_leaf_spte(&fix, 0, 0, NULL)));
	/* Fast page fault refuses a huge SPTE in a logged slot; the slow path splits. */
	run(0, FAKE_WRITE, 7 * PAGE_SIZE, 1, 0);
	assert_int_equal(vm_stat("pages_2m"), 0);
	assert_int_equal(vm_stat("pages_4k"), 512);
	for (i = 0; i < 512; i++)
		assert_int_equal(is_writable_pte(fix_leaf_spte(&fix, 0, i * PAGE_SIZE, NULL)), i == 7);
	assert_int_equal(kvmmu_get_dirty_log(fix.w.kvm, &log), 0);
	assert_int_equal(bm[0], 1UL << 7);
}

/* Logging off: the split huge pages come back, in place. */
static void test_recover_huge_pages_after_logging(void **state)
{
	u64 huge;

	create_thp(4 * MB, 0, false);
	run(0, FAKE_WRITE, 0x1000, 1, 0);
	run(0, FAKE_WRITE, 2 * MB + 0x1000, 1, 0);
	huge = fix_leaf_spte(&fix, 0, 0, NULL);
	assert_int_equal(vm_stat("pages_2m"), 2);
	assert_int_equal(world_set_memslot(&fix.w, 0, KVM_MEM_LOG_DIRTY_PAGES,
					   0, 4 * MB, fix.w.cfg.mem[0].hva),
			 0);
	assert_int_equal(vm_stat("pages_4k"), 1024);
	assert_int_equal(world_set_memslot(&fix.w, 0, 0, 0, 4 * MB, fix.w.cfg.mem[0].hva), 0);
	assert_int_equal(vm_stat("pages_4k"), 0);
	assert_int_equal(vm_stat("pages_2m"), 2);
	assert_int_equal(leaf_level(0x5000), PG_LEVEL_2M);
	assert_int_equal(spte_to_pfn(fix_leaf_spte(&fix, 0, 0, NULL)), spte_to_pfn(huge));
	/* The tables that held the 4K pieces are gone. */
	assert_int_equal(atomic64_read(&fix.w.kvm->arch.tdp_mmu_pages), 2);
}

/* With INITIALLY_SET nothing is protected up front; CLEAR protects exactly its pages. */
static void test_initially_set_clear_splits(void **state)
{
	struct vm_fixture_opts o = {
		.mem_size = 4 * MB, .nr_vcpus = 1, .backing = WORLD_BACKING_THP,
		.manual_protect = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET,
	};
	unsigned long mask[8] = { 0 };
	struct kvm_clear_dirty_log clr = { .slot = 0, .first_page = 0, .num_pages = 512,
					   .dirty_bitmap = mask };
	u64 i;

	create(&o);
	run(0, FAKE_WRITE, 0x1000, 1, 0);
	assert_int_equal(world_set_memslot(&fix.w, 0, KVM_MEM_LOG_DIRTY_PAGES,
					   0, 4 * MB, fix.w.cfg.mem[0].hva),
			 0);
	assert_int_equal(vm_stat("pages_2m"), 1);
	assert_true(is_writable_pte(fix_leaf_spte(&fix, 0, 0, NULL)));

	mask[0] = 1UL << 9;
	assert_int_equal(kvmmu_clear_dirty_log(fix.w.kvm, &clr), 0);
	assert_int_equal(vm_stat("pages_2m"), 0);
	for (i = 0; i < 512; i++)
		assert_int_equal(is_writable_pte(fix_leaf_spte(&fix, 0, i * PAGE_SIZE, NULL)), i != 9);
}

/* ---- NX huge pages ------------------------------------------------------------------------------- */

static void test_nx_exec_maps_4k_and_recovery_restores_huge(void **state)
{
	create_thp(4 * MB, 0, true);
	/* A read maps a huge page without exec. */
	run(0, FAKE_READ, 2 * MB, 1, 0);
	assert_int_equal(leaf_level(2 * MB), PG_LEVEL_2M);
	assert_false(is_executable_pte(&fix.w.kvm->arch.masks, fix_leaf_spte(&fix, 0, 2 * MB, NULL)));
	/* An exec fault on it: split, 4K with exec. */
	run(0, FAKE_EXEC, 2 * MB + 0x3000, 1, 0);
	assert_int_equal(leaf_level(2 * MB + 0x3000), PG_LEVEL_4K);
	assert_true(is_executable_pte(&fix.w.kvm->arch.masks,
				      fix_leaf_spte(&fix, 0, 2 * MB + 0x3000, NULL)));
	/* An exec fault elsewhere: 4K too, and tracked. */
	run(0, FAKE_EXEC, 0x1000, 1, 0);
	assert_int_equal(leaf_level(0x1000), PG_LEVEL_4K);
	assert_int_equal(vm_stat("nx_lpage_splits"), 2);
	/* A read next to it stays 4K while the table is disallowed. */
	run(0, FAKE_READ, 0x2000, 1, 0);
	assert_int_equal(leaf_level(0x2000), PG_LEVEL_4K);

	/* Recovery zaps both tables; reads come back huge. */
	assert_int_equal(kvmmu_vm_recover_nx_huge_pages(fix.w.kvm, 1), 2);
	assert_int_equal(vm_stat("nx_lpage_splits"), 0);
	assert_int_equal(fix_count_leaves(&fix, 0, 0, 4 * MB), 0);
	run(0, FAKE_READ, 0x2000, 1, 0);
	run(0, FAKE_READ, 2 * MB + 0x3000, 1, 0);
	assert_int_equal(leaf_level(0x2000), PG_LEVEL_2M);
	assert_int_equal(leaf_level(2 * MB), PG_LEVEL_2M);
	assert_int_equal(kvmmu_vm_recover_nx_huge_pages(fix.w.kvm, 1), 0);
}

/* ---- fast page fault ---------------------------------------------------------------------------- */

static _Atomic bool writer_done;

static int writer_fn(void *arg)
{
	int r = fix_run_until_hlt(&fix, 0);

	atomic_store(&writer_done, true);
	return r;
}

/* W comes back without mmu_lock: the vCPU finishes while the lock is held for write. */
static void test_fast_pf_without_mmu_lock(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1 };
	unsigned long bm[8];
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = bm };
	struct kvmmu_thread *t;
	int i;

	create(&o);
	run(0, FAKE_WRITE, 0, 16, PAGE_SIZE);
	assert_int_equal(world_set_memslot(&fix.w, 0, KVM_MEM_LOG_DIRTY_PAGES,
					   0, 2 * MB, fix.w.cfg.mem[0].hva),
			 0);
	program(0, FAKE_WRITE, 0, 16, PAGE_SIZE);

	atomic_store(&writer_done, false);
	write_lock(&fix.w.kvm->mmu_lock);
	assert_int_equal(kvmmu_thread_create(&t, "vcpu", 0, writer_fn, NULL), 0);
	for (i = 0; i < 10000 && !atomic_load(&writer_done); i++)
		usleep(1000);
	write_unlock(&fix.w.kvm->mmu_lock);
	assert_int_equal(kvmmu_thread_join(t), 0);
	assert_true(atomic_load(&writer_done) && i < 10000);

	assert_int_equal(vcpu_stat(0, "pf_fast"), 16);
	assert_int_equal(kvmmu_get_dirty_log(fix.w.kvm, &log), 0);
	assert_int_equal(bm[0], 0xffff);
}

/* Access-tracked SPTEs (EPT without A/D) come back through the fast path too. */
static void test_fast_pf_restores_access_tracked(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1, .ad_disabled = true };
	struct mmu_notifier *mn;
	u64 spte;

	create(&o);
	mn = &fix.w.kvm->mmu_notifier;
	run(0, FAKE_WRITE, 0, 1, 0);
	assert_true(mn->ops->clear_young(mn, fix.w.mm, fix.w.cfg.mem[0].hva,
					 fix.w.cfg.mem[0].hva + PAGE_SIZE));
	spte = fix_leaf_spte(&fix, 0, 0, NULL);
	assert_true(is_access_track_spte(&fix.w.kvm->arch.masks, spte));
	run(0, FAKE_READ, 0, 1, 0);
	spte = fix_leaf_spte(&fix, 0, 0, NULL);
	assert_false(is_access_track_spte(&fix.w.kvm->arch.masks, spte));
	assert_true(is_accessed_spte(&fix.w.kvm->arch.masks, spte));
	/* Read only: W was not saved, a write fault gives it back later. */
	assert_false(is_writable_pte(spte));
	assert_int_equal(vcpu_stat(0, "pf_fast"), 1);
	run(0, FAKE_WRITE, 0, 1, 0);
	assert_true(is_writable_pte(fix_leaf_spte(&fix, 0, 0, NULL)));
	assert_int_equal(vcpu_stat(0, "pf_fast"), 2);
}

/* ---- aging ------------------------------------------------------------------------------------------ */

static void aging_bursts(bool ad_disabled)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1, .ad_disabled = ad_disabled };
	struct mmu_notifier *mn;
	unsigned long s, e;
	int burst;

	create(&o);
	mn = &fix.w.kvm->mmu_notifier;
	s = fix.w.cfg.mem[0].hva;
	e = fix.w.cfg.mem[0].hva + 4 * PAGE_SIZE;
	run(0, FAKE_READ, 0, 4, PAGE_SIZE);
	for (burst = 0; burst < 3; burst++) {
		assert_true(mn->ops->test_young(mn, fix.w.mm, s, e));
		assert_true(mn->ops->clear_young(mn, fix.w.mm, s, e));
		/* Once per burst: aged now, until the next access. */
		assert_false(mn->ops->test_young(mn, fix.w.mm, s, e));
		assert_false(mn->ops->clear_young(mn, fix.w.mm, s, e));
		assert_false(mn->ops->clear_flush_young(mn, fix.w.mm, s, e));
		run(0, burst == 1 ? FAKE_WRITE : FAKE_READ, 2 * PAGE_SIZE, 1, 0);
	}
	/* Aging took no flush and no zap. */
	assert_int_equal(fix_count_leaves(&fix, 0, 0, 4 * PAGE_SIZE), 4);
}

static void test_aging_ad_enabled(void **state)
{
	aging_bursts(false);
}

static void test_aging_ad_disabled(void **state)
{
	aging_bursts(true);
	/* Each later burst came back through fast page fault. */
	assert_true(vcpu_stat(0, "pf_fast") >= 3);
}

/* ---- pre-fault ---------------------------------------------------------------------------------------- */

static int pre_fault(gpa_t gpa, u64 size, u64 flags, struct kvm_pre_fault_memory *out)
{
	struct kvm_pre_fault_memory range = { .gpa = gpa, .size = size, .flags = flags };
	int r = kvmmu_vcpu_pre_fault_memory(fix.w.vcpus[0], &range);

	if (out)
		*out = range;
	return r;
}

static void test_pre_fault(void **state)
{
	struct kvm_pre_fault_memory range;
	u64 spte;

	create_thp(4 * MB, 0, false);
	assert_int_equal(pre_fault(0x1000, 0, 0, NULL), -EINVAL);
	assert_int_equal(pre_fault(0x1000, PAGE_SIZE, 1, NULL), -EINVAL);
	assert_int_equal(pre_fault(0x1001, PAGE_SIZE, 0, NULL), -EINVAL);
	assert_int_equal(pre_fault(~0ULL & PAGE_MASK, 2 * PAGE_SIZE, 0, NULL), -EINVAL);
	/* No memslot: nothing to map, and MMIO is not pre-faulted. */
	assert_int_equal(pre_fault(GB, PAGE_SIZE, 0, NULL), -ENOENT);

	/* A huge mapping covers the whole 2M, so one round maps 8K and more. */
	assert_int_equal(pre_fault(0x1000, 2 * PAGE_SIZE, 0, &range), 0);
	assert_int_equal(range.size, 0);
	assert_int_equal(range.gpa, 0x3000);
	assert_int_equal(leaf_level(0x1000), PG_LEVEL_2M);
	spte = fix_leaf_spte(&fix, 0, 0x1000, NULL);
	/* Mapped as a read fault would be, but not accessed: nobody accessed it. */
	assert_false(is_accessed_spte(&fix.w.kvm->arch.masks, spte));
	assert_int_equal(vcpu_stat(0, "pf_taken"), 0);

	/* Across the end of the slot: what lies inside is mapped, then ENOENT. */
	assert_int_equal(pre_fault(4 * MB - PAGE_SIZE, 2 * PAGE_SIZE, 0, &range), 0);
	assert_int_equal(range.gpa, 4 * MB);
	assert_int_equal(range.size, PAGE_SIZE);
}

static int deleter_fn(void *arg)
{
	gate_mark_self();
	return world_set_memslot(&fix.w, 1, 0, GB, 0, 0);
}

/* A slot being deleted: pre-fault gives up with EAGAIN instead of waiting. */
static void test_pre_fault_eagain_while_deleting(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1 };
	struct host_mmap_args a = { .len = 2 * MB, .vm_flags = VM_READ | VM_WRITE,
				    .backing = HOST_BACKING_ANON };
	struct kvmmu_thread *t;
	unsigned long hva;

	create(&o);
	assert_int_equal(host_mmap(fix.w.mm, &a, &hva), 0);
	assert_int_equal(world_set_memslot(&fix.w, 1, 0, GB, 2 * MB, hva), 0);
	run(0, FAKE_WRITE, 0, 64, PAGE_SIZE);

	/* The delete stops while zapping (the slot is INVALID by then). */
	gate_install();
	gate_arm(SP_RESCHED, true);
	assert_int_equal(kvmmu_thread_create(&t, "delete", 0, deleter_fn, NULL), 0);
	gate_wait_arrival();
	assert_int_equal(pre_fault(GB, PAGE_SIZE, 0, NULL), -EAGAIN);
	gate_release();
	assert_int_equal(kvmmu_thread_join(t), 0);
	gate_remove();
	assert_int_equal(pre_fault(GB, PAGE_SIZE, 0, NULL), -ENOENT);
	/* The fast zap left the vCPU's root obsolete: pre-fault drops it and loads another. */
	assert_int_equal(pre_fault(0x5000, PAGE_SIZE, 0, NULL), 0);
	assert_true(is_shadow_present_pte(fix_leaf_spte(&fix, 0, 0x5000, NULL)));
}

/* ---- vCPUs writing while the log is harvested ------------------------------------------------------- */

static _Atomic int writers_left;

static int log_writer_fn(void *arg)
{
	int v = (int)(uintptr_t)arg;
	u64 rounds = scaled(4, 20, 200), r;
	int ret = 0;

	for (r = 0; r < rounds && !ret; r++) {
		struct kvmmu_hw_vcpu *hv = fix.hw.vcpus[v];
		u64 p;

		hv->len = 0;
		hv->pc = 0;
		for (p = (u64)v; p < 512; p += 2)
			fake_hw_push(hv, FAKE_WRITE, p * PAGE_SIZE, r);
		ret = fix_run_until_hlt(&fix, v) < 0;
	}
	atomic_fetch_sub(&writers_left, 1);
	return ret;
}

static void test_vcpus_write_while_harvesting(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 2, .backing = WORLD_BACKING_THP,
				     .manual_protect = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE };
	unsigned long bm[8], seen[8] = { 0 };
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = bm };
	struct kvm_clear_dirty_log clr = { .slot = 0, .first_page = 0, .num_pages = 512,
					   .dirty_bitmap = bm };
	struct kvmmu_thread *t[2];
	int v, i;

	create(&o);
	run(0, FAKE_WRITE, 0, 1, 0);
	assert_int_equal(world_set_memslot(&fix.w, 0, KVM_MEM_LOG_DIRTY_PAGES,
					   0, 2 * MB, fix.w.cfg.mem[0].hva),
			 0);
	atomic_store(&writers_left, 2);
	for (v = 0; v < 2; v++)
		assert_int_equal(kvmmu_thread_create(&t[v], "vcpu", 0, log_writer_fn,
						     (void *)(uintptr_t)v), 0);
	for (;;) {
		bool last = atomic_load(&writers_left) == 0;

		assert_int_equal(kvmmu_get_dirty_log(fix.w.kvm, &log), 0);
		for (i = 0; i < 8; i++)
			seen[i] |= bm[i];
		assert_int_equal(kvmmu_clear_dirty_log(fix.w.kvm, &clr), 0);
		if (last)
			break;
		sched_yield();
	}
	for (v = 0; v < 2; v++)
		assert_int_equal(kvmmu_thread_join(t[v]), 0);
	for (i = 0; i < 8; i++)
		assert_int_equal(seen[i], ~0UL);
	/* Every page was re-protected by the last CLEAR. */
	assert_int_equal(kvmmu_get_dirty_log(fix.w.kvm, &log), 0);
	for (i = 0; i < 8; i++)
		assert_int_equal(bm[i], 0);
}

static const struct CMUnitTest tests[] = {
	FIX_TEST(test_huge_when_every_bound_allows),
	FIX_TEST(test_no_huge_without_host_huge_page),
	FIX_TEST(test_no_huge_when_misaligned),
	FIX_TEST(test_no_huge_across_slot_edge),
	FIX_TEST(test_no_huge_while_logging),
	FIX_TEST(test_eager_split_on_logging),
	FIX_TEST(test_split_on_fault_when_not_eager),
	FIX_TEST(test_recover_huge_pages_after_logging),
	FIX_TEST(test_initially_set_clear_splits),
	FIX_TEST(test_nx_exec_maps_4k_and_recovery_restores_huge),
	FIX_TEST(test_fast_pf_without_mmu_lock),
	FIX_TEST(test_fast_pf_restores_access_tracked),
	FIX_TEST(test_aging_ad_enabled),
	FIX_TEST(test_aging_ad_disabled),
	FIX_TEST(test_pre_fault),
	FIX_TEST(test_pre_fault_eagain_while_deleting),
	FIX_TEST(test_vcpus_write_while_harvesting),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
