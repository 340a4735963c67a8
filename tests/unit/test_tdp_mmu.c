// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TDP MMU core: faults, roots, the iterator's yield and restart, zaps,
 * fast zap and the slot-zap quirk, MMIO SPTEs, the read-lock zap helper,
 * teardown, and threads faulting, zapping and invalidating at once.  The
 * two seed races: a notifier during a yielded fast zap (seed 000), and a
 * fault meeting an SPTE frozen by the read-lock zap (seed 004); each with
 * the mutant that re-creates the bug, to show the test would see it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "gate.h"
#include "mmu.h"
#include "mmu_internal.h"
#include "mutant.h"
#include "rcu.h"
#include "sched_ctl.h"
#include "tdp_iter.h"
#include "tdp_mmu.h"
#include "test.h"
#include "vm_fixture.h"

#define MB (1UL << 20)
#define GB (1UL << 30)

static struct vm_fixture fix;

static int teardown_fix(void **state)
{
	kvmmu_mutant_set_mask(0);
	if (vm_fixture_destroy(&fix))
		return -1;
	return kvmmu_test_teardown(state);
}

#define FIX_TEST(fn) cmocka_unit_test_setup_teardown(fn, kvmmu_test_setup, teardown_fix)

static void create(const struct vm_fixture_opts *o)
{
	assert_int_equal(vm_fixture_create(&fix, o), 0);
}

static u64 vcpu_stat(int vcpu, const char *name)
{
	return kvmmu_vcpu_stat(fix.w.vcpus[vcpu], name);
}

static u64 vm_stat(const char *name)
{
	return kvmmu_vm_stat(fix.w.kvm, name);
}

static void program(int vcpu, u8 op, gpa_t first, u64 n, u64 stride)
{
	struct kvmmu_hw_vcpu *hv = fix.hw.vcpus[vcpu];
	u64 i;

	hv->len = 0;
	hv->pc = 0;
	for (i = 0; i < n; i++)
		fake_hw_push(hv, op, first + i * stride, i);
}

static struct kvm_mmu_page *vcpu_root(int vcpu)
{
	return root_to_sp(fix.w.kvm, fix.w.vcpus[vcpu]->arch.mmu->root.hpa);
}

/* Present leaves of @root mapping [start, end) gfns. */
static u64 root_leaves(struct kvm_mmu_page *root, gfn_t start, gfn_t end)
{
	struct tdp_iter iter;
	u64 n = 0;

	rcu_read_lock();
	for_each_tdp_pte(iter, fix.w.kvm, root, start, end) {
		if (is_shadow_present_pte(iter.old_spte) && is_last_spte(iter.old_spte, iter.level))
			n++;
	}
	rcu_read_unlock();
	return n;
}

/* The SPTE at @level on the walk to @gpa (0 if the walk stops above). */
static u64 spte_at_level(struct kvm_mmu_page *root, gpa_t gpa, int level, tdp_ptep_t *where)
{
	struct tdp_iter iter;
	u64 spte = 0;

	rcu_read_lock();
	for_each_tdp_pte_min_level(iter, fix.w.kvm, root, level, gpa_to_gfn(gpa),
				   gpa_to_gfn(gpa) + 1) {
		if (iter.level == level) {
			spte = iter.old_spte;
			if (where)
				*where = iter.sptep;
		}
	}
	rcu_read_unlock();
	return spte;
}

/* Fault on @gpa from the test thread, as vCPU 0 outside guest mode. */
static int direct_fault(gpa_t gpa, u64 error_code)
{
	struct kvm_vcpu *vcpu = fix.w.vcpus[0];
	int r, idx;

	vcpu_load(vcpu);
	idx = srcu_read_lock(&fix.w.kvm->srcu);
	r = kvm_mmu_reload(vcpu);
	if (!r)
		r = kvm_mmu_page_fault(vcpu, gpa, error_code);
	srcu_read_unlock(&fix.w.kvm->srcu, idx);
	vcpu_put(vcpu);
	return r;
}

/* ---- basics ------------------------------------------------------------------------------- */

/* A write, then a read of the same word: one fault, data lands in the frame. */
static void test_fault_write_read(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1 };
	struct kvmmu_hw_vcpu *hv;

	create(&o);
	hv = fix.hw.vcpus[0];
	fake_hw_push(hv, FAKE_WRITE, 0x1008, 42);
	fake_hw_push(hv, FAKE_READ, 0x1008, 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);

	assert_int_equal(hv->prog[1].value, 42);
	assert_int_equal(fix_host_read(&fix, 0x1008), 42);
	assert_int_equal(vcpu_stat(0, "pf_fixed"), 1);
	assert_int_equal(vcpu_stat(0, "pf_taken"), 1);
	assert_int_equal(vm_stat("pages_4k"), 1);
	assert_true(is_writable_pte(fix_leaf_spte(&fix, 0, 0x1000, NULL)));
	/* Four levels: three tables below the root. */
	assert_int_equal(atomic64_read(&fix.w.kvm->arch.tdp_mmu_pages), 3);
}

/* Both formats and both root levels build tables the walker can use. */
static void test_formats(void **state)
{
	static const struct { enum kvmmu_tdp_format format; int level; bool ad_off; } cfgs[] = {
		{ KVMMU_TDP_EPT, 4, false }, { KVMMU_TDP_EPT, 5, false },
		{ KVMMU_TDP_EPT, 4, true }, { KVMMU_TDP_NPT, 4, false }, { KVMMU_TDP_NPT, 5, false },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cfgs); i++) {
		struct vm_fixture_opts o = {
			.mem_size = 2 * MB, .nr_vcpus = 1, .format = cfgs[i].format,
			.tdp_level = cfgs[i].level, .ad_disabled = cfgs[i].ad_off,
		};
		struct kvmmu_hw_vcpu *hv;

		create(&o);
		hv = fix.hw.vcpus[0];
		fake_hw_push(hv, FAKE_READ, 0x3000, 0);
		fake_hw_push(hv, FAKE_WRITE, 0x3000, 5);
		fake_hw_push(hv, FAKE_EXEC, 0x3000, 0);
		fake_hw_push(hv, FAKE_READ, 0x3000, 0);
		assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
		assert_int_equal(hv->prog[3].value, 5);
		/* A read fault maps writable when the host allows: one fault. */
		assert_int_equal(vcpu_stat(0, "pf_fixed"), 1);
		assert_int_equal(atomic64_read(&fix.w.kvm->arch.tdp_mmu_pages), cfgs[i].level - 1);
		assert_int_equal(vm_fixture_destroy(&fix), 0);
	}
	/* The teardown hook destroys once more. */
	create(&(struct vm_fixture_opts){ .nr_vcpus = 0 });
}

/* Root sharing and references: one root for vCPUs with the same role. */
static void test_roots_shared_and_counted(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 2 };
	struct kvm_mmu_page *root;

	create(&o);
	program(0, FAKE_READ, 0, 1, 0);
	program(1, FAKE_READ, PAGE_SIZE, 1, 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_int_equal(fix_run_to_hlt(&fix, 1), 0);
	root = vcpu_root(0);
	assert_ptr_equal(root, vcpu_root(1));
	/* The MMU's reference and one per vCPU. */
	assert_int_equal(atomic_read(&root->tdp_mmu_root_count), 3);
	assert_false(sp_invalid(root));
	assert_int_equal(root_leaves(root, 0, gpa_to_gfn(2 * MB)), 2);
}

/* ---- the iterator -------------------------------------------------------------------------- */

/*
 * A walk that yields at every chance (as tdp_mmu_iter_cond_resched()
 * does when asked to: only after progress; leave RCU, come back, mark the
 * iterator yielded) restarts from the root each time and still visits
 * every leaf exactly once.
 */
static void test_iter_restart_visits_once(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 8 * MB, .nr_vcpus = 1 };
	static u8 visits[2048];
	struct kvm_mmu_page *root;
	struct tdp_iter iter;
	u64 restarts = 0, n = 0, i;

	create(&o);
	/* Every 3rd page of 8 MiB: leaves in four tables at level 1. */
	program(0, FAKE_WRITE, 0, 2048 / 3 + 1, 3 * PAGE_SIZE);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	root = vcpu_root(0);
	memset(visits, 0, sizeof(visits));

	rcu_read_lock();
	for_each_tdp_pte(iter, fix.w.kvm, root, 0, gpa_to_gfn(8 * MB)) {
		/* tdp_mmu_iter_cond_resched(), with need_resched() always true. */
		if (iter.next_last_level_gfn != iter.yielded_gfn) {
			rcu_read_unlock();
			rcu_read_lock();
			iter.yielded = true;
			restarts++;
			continue;
		}
		if (!is_shadow_present_pte(iter.old_spte) || !is_last_spte(iter.old_spte, iter.level))
			continue;
		visits[iter.gfn]++;
		n++;
	}
	rcu_read_unlock();

	assert_int_equal(n, 2048 / 3 + 1);
	/* A restart at every step sideways: one per SPTE after the first. */
	assert_true(restarts >= n);
	for (i = 0; i < 2048; i++)
		assert_int_equal(visits[i], i % 3 == 0 ? 1 : 0);
}

static u64 leaf_zaps;
static u8 zapped[2048];

static void count_zaps(struct kvmmu_observer *obs, const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_spte *e = &ev->spte;

	if (is_shadow_present_pte(e->old_spte) && is_last_spte(e->old_spte, e->level) &&
	    !is_shadow_present_pte(e->new_spte) && e->gfn < 2048) {
		leaf_zaps++;
		zapped[e->gfn]++;
	}
}

static struct kvmmu_observer zap_counter = {
	.name = "zap-counter",
	.mask = BIT_ULL(KVMMU_EV_SPTE_CHANGE),
	.notify = count_zaps,
};

static bool always_resched(void)
{
	return true;
}

static const struct sched_hooks resched_hooks = { .need_resched = always_resched };

/* A real zap forced to yield at every step of progress zaps each leaf once. */
static void test_zap_with_forced_yields(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 8 * MB, .nr_vcpus = 1 };
	u64 i;

	create(&o);
	program(0, FAKE_WRITE, 0, 2048, PAGE_SIZE);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_int_equal(vm_stat("pages_4k"), 2048);

	leaf_zaps = 0;
	memset(zapped, 0, sizeof(zapped));
	assert_int_equal(kvmmu_observer_register(&zap_counter), 0);
	sched_set_hooks(&resched_hooks);
	kvm_zap_gfn_range(fix.w.kvm, 0, gpa_to_gfn(8 * MB));
	sched_set_hooks(NULL);
	kvmmu_observer_unregister(&zap_counter);

	assert_int_equal(leaf_zaps, 2048);
	for (i = 0; i < 2048; i++)
		assert_int_equal(zapped[i], 1);
	assert_int_equal(vm_stat("pages_4k"), 0);
	assert_int_equal(root_leaves(vcpu_root(0), 0, gpa_to_gfn(8 * MB)), 0);
	/* Leaf zaps keep the tables, and the zap of a valid root flushed. */
	assert_int_equal(atomic64_read(&fix.w.kvm->arch.tdp_mmu_pages), 3 + 3);
	assert_true(vm_stat("remote_tlb_flush") >= 1);
}

/* ---- racing faults ------------------------------------------------------------------------- */

static int vcpu_body(void *arg)
{
	return fix_run_until_hlt(&fix, (int)(uintptr_t)arg);
}

/*
 * Three vCPUs fault on one gfn under the controlled scheduler: one SPTE,
 * one fix, and in some schedules the losers retried or found it done.
 */
static void test_racing_faults_one_gfn(void **state)
{
	u64 seeds = scaled(8, 30, 300), seed, raced = 0;

	for (seed = 1; seed <= seeds; seed++) {
		struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 3 };
		struct sched_ctl_config cfg = { .seed = seed };
		struct kvmmu_thread *t[3];
		u64 fixed = 0, taken = 0;
		int v;

		create(&o);
		for (v = 0; v < 3; v++)
			program(v, FAKE_WRITE, 0x5000, 1, 0);
		assert_int_equal(sched_ctl_begin(&cfg), 0);
		for (v = 0; v < 3; v++)
			assert_int_equal(kvmmu_thread_create(&t[v], "vcpu", 0, vcpu_body,
							     (void *)(uintptr_t)v), 0);
		assert_int_equal(sched_ctl_run(), 0);
		for (v = 0; v < 3; v++)
			assert_int_equal(kvmmu_thread_join(t[v]), 0);
		sched_ctl_end();

		for (v = 0; v < 3; v++) {
			fixed += vcpu_stat(v, "pf_fixed");
			taken += vcpu_stat(v, "pf_taken");
		}
		assert_int_equal(fixed, 1);
		assert_int_equal(vm_stat("pages_4k"), 1);
		assert_int_equal(root_leaves(vcpu_root(0), 0, gpa_to_gfn(2 * MB)), 1);
		if (taken > 1)
			raced++;
		assert_int_equal(vm_fixture_destroy(&fix), 0);
	}
	assert_true(raced > 0);
	create(&(struct vm_fixture_opts){ .nr_vcpus = 0 });
}

/* ---- MMIO ---------------------------------------------------------------------------------- */

static void test_mmio(void **state)
{
	static const enum kvmmu_tdp_format formats[] = { KVMMU_TDP_EPT, KVMMU_TDP_NPT };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(formats); i++) {
		struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1,
					     .format = formats[i] };
		struct kvmmu_run run;
		u64 spte;

		create(&o);
		/* No slot at 1 GiB: an MMIO exit, and an MMIO SPTE cached. */
		program(0, FAKE_WRITE, GB, 1, 0);
		assert_int_equal(fix_run(&fix, 0, &run), 0);
		assert_int_equal(run.exit_reason, KVM_EXIT_MMIO);
		assert_int_equal(run.gpa, GB);
		assert_int_equal(vcpu_stat(0, "pf_mmio_spte_created"), 1);
		spte = fix_leaf_spte(&fix, 0, GB, NULL);
		assert_int_equal(spte, 0); /* not a present leaf ... */
		spte = spte_at_level(vcpu_root(0), GB, PG_LEVEL_4K, NULL);
		assert_true(is_mmio_spte(&fix.w.kvm->arch.masks, spte)); /* ... an MMIO one */
		assert_int_equal(get_mmio_spte_gfn(spte), gpa_to_gfn(GB));
		assert_int_equal(fix_run_to_hlt(&fix, 0), 0);

		/* Again: the hardware exits on the MMIO SPTE, no new fault is needed. */
		program(0, FAKE_READ, GB, 1, 0);
		assert_int_equal(fix_run_to_hlt(&fix, 0), 1);
		assert_int_equal(vcpu_stat(0, "pf_mmio_spte_created"), 1);
		assert_int_equal(vcpu_stat(0, "pf_emulate"), 2);

		/* Memory appears there: the new generation makes the SPTE stale. */
		{
			struct host_mmap_args a = { .len = 2 * MB, .vm_flags = VM_READ | VM_WRITE,
						    .backing = HOST_BACKING_ANON };
			unsigned long hva;

			assert_int_equal(host_mmap(fix.w.mm, &a, &hva), 0);
			assert_int_equal(world_set_memslot(&fix.w, 1, 0, GB, 2 * MB, hva), 0);
		}
		program(0, FAKE_WRITE, GB, 1, 0);
		assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
		assert_true(is_shadow_present_pte(fix_leaf_spte(&fix, 0, GB, NULL)));
		assert_int_equal(vm_fixture_destroy(&fix), 0);
	}
	create(&(struct vm_fixture_opts){ .nr_vcpus = 0 });
}

/* A wrap of the 19-bit MMIO generation zaps everything. */
static void test_mmio_generation_wrap(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1 };
	struct kvm_mmu_page *root;
	int i;

	create(&o);
	program(0, FAKE_WRITE, 0, 1, 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	root = vcpu_root(0);
	/* Both sets of address space 0 just below the wrap. */
	for (i = 0; i < 2; i++)
		fix.w.kvm->__memslots[0][i].generation = MMIO_SPTE_GEN_MASK + 1 - 2;
	assert_int_equal(world_set_memslot(&fix.w, 3, 0, GB, PAGE_SIZE, fix.w.cfg.mem[0].hva), 0);
	assert_int_equal(kvm_memslots(fix.w.kvm)->generation & MMIO_SPTE_GEN_MASK, 0);
	assert_true(sp_invalid(root));
	assert_int_equal(root_leaves(root, 0, gpa_to_gfn(2 * MB)), 0);
}

/* ---- fast zap and the quirk ----------------------------------------------------------------- */

static void map_two_slots(void)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1 };
	struct host_mmap_args a = { .len = 2 * MB, .vm_flags = VM_READ | VM_WRITE,
				    .backing = HOST_BACKING_ANON };
	unsigned long hva;

	create(&o);
	assert_int_equal(host_mmap(fix.w.mm, &a, &hva), 0);
	assert_int_equal(world_set_memslot(&fix.w, 1, 0, GB, 2 * MB, hva), 0);
	program(0, FAKE_WRITE, 0, 16, PAGE_SIZE);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	program(0, FAKE_WRITE, GB, 16, PAGE_SIZE);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_int_equal(vm_stat("pages_4k"), 32);
}

static void test_delete_fast_zaps_with_quirk(void **state)
{
	struct kvm_mmu_page *old_root;

	map_two_slots();
	old_root = vcpu_root(0);
	assert_int_equal(world_set_memslot(&fix.w, 1, 0, GB, 0, 0), 0);
	/* Every root invalidated and zapped empty before the delete returned. */
	assert_true(sp_invalid(old_root));
	assert_int_equal(root_leaves(old_root, 0, gpa_to_gfn(2 * GB)), 0);
	assert_int_equal(atomic64_read(&fix.w.kvm->arch.tdp_mmu_pages), 0);
	assert_int_equal(vm_stat("pages_4k"), 0);
	/* The vCPU still holds the old root until it runs; then a new one. */
	assert_int_equal(atomic_read(&old_root->tdp_mmu_root_count), 1);
	assert_true(kvm_test_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, fix.w.vcpus[0]));
	program(0, FAKE_READ, 0, 1, 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_ptr_not_equal(vcpu_root(0), old_root);
	assert_int_equal(vm_stat("pages_4k"), 1);
}

static void test_delete_zaps_only_slot_without_quirk(void **state)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_DISABLE_QUIRKS2,
				      .args = { KVM_X86_QUIRK_SLOT_ZAP_ALL } };
	struct kvm_mmu_page *root;
	u64 flushes;

	map_two_slots();
	assert_int_equal(kvmmu_vm_enable_cap(fix.w.kvm, &cap), 0);
	root = vcpu_root(0);
	flushes = vm_stat("remote_tlb_flush");
	assert_int_equal(world_set_memslot(&fix.w, 1, 0, GB, 0, 0), 0);
	assert_false(sp_invalid(root));
	assert_int_equal(root_leaves(root, 0, gpa_to_gfn(2 * MB)), 16);
	assert_int_equal(root_leaves(root, gpa_to_gfn(GB), gpa_to_gfn(GB + 2 * MB)), 0);
	assert_int_equal(vm_stat("pages_4k"), 16);
	assert_true(vm_stat("remote_tlb_flush") > flushes);
	assert_false(kvm_test_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, fix.w.vcpus[0]));
}

/* A move zaps the old location before it returns; faults then find the new one. */
static void test_move(void **state)
{
	struct kvmmu_hw_vcpu *hv;

	map_two_slots();
	hv = fix.hw.vcpus[0];
	assert_int_equal(world_set_memslot(&fix.w, 0, 0, 4 * GB, 2 * MB, fix.w.cfg.mem[0].hva), 0);
	assert_int_equal(vm_stat("pages_4k"), 0);
	program(0, FAKE_READ, 4 * GB + 3 * PAGE_SIZE, 1, 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_int_equal(hv->prog[0].value, 3); /* written through the old gpa */
	/* The old gpa is MMIO now. */
	program(0, FAKE_READ, 3 * PAGE_SIZE, 1, 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 1);
}

/* ---- seed 000: a notifier during a yielded fast zap ---------------------------------------- */

static int deleter_fn(void *arg)
{
	gate_mark_self();
	return world_set_memslot(&fix.w, 1, 0, GB, 0, 0);
}

/*
 * A fast zap (slot 1 deleted, quirk on) invalidates the root and zaps it
 * under the read lock, yielding after a few SPTEs.  While it is yielded,
 * an invalidation of slot 0's pages runs: when invalidate_range_start
 * returns, the invalid root must no longer map them, although the zapper
 * has not got there yet.  Returns the leaves left in the range.
 */
static u64 notifier_during_yielded_fast_zap(void)
{
	struct mmu_notifier *mn;
	struct mmu_notifier_range range;
	struct kvm_mmu_page *root;
	struct kvmmu_thread *t;
	u64 left, total;

	map_two_slots();
	mn = &fix.w.kvm->mmu_notifier;
	root = vcpu_root(0);
	program(0, FAKE_WRITE, 0, 512, PAGE_SIZE);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);

	gate_install();
	gate_arm(SP_RESCHED, true);
	assert_int_equal(kvmmu_thread_create(&t, "fast-zap", 0, deleter_fn, NULL), 0);
	gate_wait_arrival();

	/* The zapper is yielded inside the invalid root. */
	assert_true(sp_invalid(root));
	total = root_leaves(root, 0, gpa_to_gfn(2 * MB));
	assert_true(total > 0 && total < 512 + 16);

	range = (struct mmu_notifier_range){
	    .mm = fix.w.mm,
	    .start = fix.w.cfg.mem[0].hva + 400 * PAGE_SIZE,
	    .end = fix.w.cfg.mem[0].hva + 410 * PAGE_SIZE,
	    .flags = MMU_NOTIFIER_RANGE_BLOCKABLE,
	    .event = MMU_NOTIFY_CLEAR,
	};
	assert_int_equal(mn->ops->invalidate_range_start(mn, &range), 0);
	left = root_leaves(root, 400, 410);
	/* The rest of the root is the zapper's to do. */
	assert_true(root_leaves(root, 450, 460) == 10);
	mn->ops->invalidate_range_end(mn, &range);

	gate_release();
	assert_int_equal(kvmmu_thread_join(t), 0);
	gate_remove();
	assert_int_equal(root_leaves(root, 0, gpa_to_gfn(2 * GB)), 0);
	return left;
}

static void test_seed000_notifier_zaps_invalid_root(void **state)
{
	assert_int_equal(notifier_during_yielded_fast_zap(), 0);
}

static void test_seed000_mutant_leaves_mapping(void **state)
{
	kvmmu_mutant_set_mask(BIT_ULL(MUT_NOTIFIER_SKIPS_INVALID_ROOTS));
	assert_int_equal(notifier_during_yielded_fast_zap(), 10);
}

/* ---- seed 004: a fault meets an SPTE frozen by the read-lock zap ---------------------------- */

static int nx_recovery_fn(void *arg)
{
	gate_mark_self();
	return kvmmu_vm_recover_nx_huge_pages(fix.w.kvm, 1);
}

/*
 * NX recovery zaps S, the 2M-level SPTE over an NX-split region, with the
 * freeze -> flush -> clear helper, and is stopped at its flush.  A read
 * fault under S then runs.  Returns whether it installed anything before
 * the flush completed.
 */
static bool fault_during_nx_recovery_flush(void)
{
	struct vm_fixture_opts o = { .mem_size = 4 * MB, .nr_vcpus = 1, .nx_huge_pages = true,
				     .backing = WORLD_BACKING_THP };
	struct kvmmu_thread *t;
	struct kvm_mmu_page *root;
	tdp_ptep_t sptep = NULL;
	u64 fixed, s;
	bool installed;
	int level;

	create(&o);
	root = NULL;
	/* An exec fault: 4K under a table that could have been a huge page. */
	program(0, FAKE_EXEC, 0x1000, 1, 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	root = vcpu_root(0);
	assert_true(is_shadow_present_pte(fix_leaf_spte(&fix, 0, 0x1000, &level)));
	assert_int_equal(level, PG_LEVEL_4K);
	assert_int_equal(vm_stat("nx_lpage_splits"), 1);
	s = spte_at_level(root, 0, PG_LEVEL_2M, &sptep);
	assert_true(is_shadow_present_pte(s) && !is_large_pte(s));

	gate_install();
	gate_arm(SP_KICK, false);
	assert_int_equal(kvmmu_thread_create(&t, "nx-recovery", 0, nx_recovery_fn, NULL), 0);
	gate_wait_arrival();

	/* Stopped in the flush; a non-exec fault under S. */
	fixed = vcpu_stat(0, "pf_fixed");
	assert_int_equal(direct_fault(0x3000, PFERR_USER_MASK | PFERR_GUEST_FINAL_MASK), 1);
	installed = vcpu_stat(0, "pf_fixed") != fixed;
	if (!installed)
		assert_true(is_frozen_spte(kvm_tdp_mmu_read_spte(sptep)));

	gate_release();
	assert_int_equal(kvmmu_thread_join(t), 1);
	gate_remove();
	assert_int_equal(vm_stat("nx_lpage_splits"), 0);

	/* Recovered: a non-exec access maps a huge page. */
	program(0, FAKE_READ, 0x3000, 1, 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_true(is_shadow_present_pte(fix_leaf_spte(&fix, 0, 0x3000, &level)));
	assert_int_equal(level, PG_LEVEL_2M);
	assert_false(is_executable_pte(&fix.w.kvm->arch.masks, fix_leaf_spte(&fix, 0, 0, NULL)));
	return installed;
}

static void test_seed004_fault_retries_on_frozen(void **state)
{
	assert_false(fault_during_nx_recovery_flush());
	/* The fault retried: it was taken, not fixed. */
	assert_true(vcpu_stat(0, "pf_taken") >= 2);
}

static void test_seed004_mutants_install_before_flush(void **state)
{
	kvmmu_mutant_set_mask(BIT_ULL(MUT_ZAP_WITHOUT_FREEZE));
	assert_true(fault_during_nx_recovery_flush());
	kvmmu_mutant_set_mask(0);
	assert_int_equal(vm_fixture_destroy(&fix), 0);
	kvmmu_mutant_set_mask(BIT_ULL(MUT_UNFREEZE_BEFORE_FLUSH));
	assert_true(fault_during_nx_recovery_flush());
}

/* ---- teardown -------------------------------------------------------------------------------- */

static void test_teardown_releases_everything(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 8 * MB, .nr_vcpus = 2,
				     .backing = WORLD_BACKING_THP };
	struct kvm_mmu_page *root;

	create(&o);
	program(0, FAKE_WRITE, 0, 512, 4 * PAGE_SIZE);
	program(1, FAKE_READ, 6 * MB, 8, PAGE_SIZE);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_int_equal(fix_run_to_hlt(&fix, 1), 0);
	root = vcpu_root(0);
	assert_int_equal(atomic_read(&root->tdp_mmu_root_count), 3);
	assert_true(vm_stat("pages_2m") >= 1);
	assert_true(atomic64_read(&fix.w.kvm->arch.tdp_mmu_pages) > 0);
	/* The teardown hook checks the rest: no frame, no reference left. */
}

/* ---- threads faulting, zapping and invalidating at once --------------------------------------- */

static _Atomic bool stress_stop;

static int stress_vcpu(void *arg)
{
	int v = (int)(uintptr_t)arg;
	struct kvmmu_hw_vcpu *hv = fix.hw.vcpus[v];
	u64 seed = 0x12345678ULL * (u64)(v + 1), rounds = 0;
	int r;

	while (!atomic_load(&stress_stop)) {
		int i;

		hv->len = 0;
		hv->pc = 0;
		for (i = 0; i < 64; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			fake_hw_push(hv, (seed >> 62) ? FAKE_WRITE : FAKE_READ,
				     ((seed >> 20) % (4 * MB)) & ~7ULL, seed);
		}
		r = fix_run_until_hlt(&fix, v);
		if (r < 0)
			return r;
		rounds++;
	}
	return rounds ? 0 : -1;
}

static int stress_host(void *arg)
{
	u64 seed = 99;

	while (!atomic_load(&stress_stop)) {
		unsigned long off, moved;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		off = ((seed >> 20) % (4 * MB)) & PAGE_MASK;
		if (seed & 1) {
			if (host_madvise_dontneed(fix.w.mm, fix.w.cfg.mem[0].hva + off, PAGE_SIZE))
				return -1;
		} else {
			if (host_migrate(fix.w.mm, fix.w.cfg.mem[0].hva + off, 4 * PAGE_SIZE, &moved))
				return -1;
		}
	}
	return 0;
}

static int stress_memslots(void *arg)
{
	unsigned long hva = (unsigned long)(uintptr_t)arg;
	u64 n = 0;

	while (!atomic_load(&stress_stop)) {
		/* Dirty logging on and off: protect, split, recover. */
		if (world_set_memslot(&fix.w, 0,
				      (n & 1) ? 0 : KVM_MEM_LOG_DIRTY_PAGES, 0,
				      4 * MB, fix.w.cfg.mem[0].hva))
			return -1;
		/* A slot created and deleted: a fast zap of every root. */
		if (world_set_memslot(&fix.w, 1, 0, GB, MB, hva) || world_set_memslot(&fix.w, 1, 0, GB, 0, 0))
			return -1;
		n++;
	}
	return 0;
}

static void test_concurrent_fault_zap_invalidate(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 4 * MB, .nr_vcpus = 2, .backing = WORLD_BACKING_THP };
	struct host_mmap_args a = { .len = MB, .vm_flags = VM_READ | VM_WRITE,
				    .backing = HOST_BACKING_ANON };
	struct kvmmu_thread *t[4];
	unsigned long hva;
	struct tdp_iter iter;
	int i;

	create(&o);
	assert_int_equal(host_mmap(fix.w.mm, &a, &hva), 0);
	atomic_store(&stress_stop, false);
	assert_int_equal(kvmmu_thread_create(&t[0], "vcpu0", 0, stress_vcpu, (void *)0), 0);
	assert_int_equal(kvmmu_thread_create(&t[1], "vcpu1", 0, stress_vcpu, (void *)1), 0);
	assert_int_equal(kvmmu_thread_create(&t[2], "host", 0, stress_host, NULL), 0);
	assert_int_equal(kvmmu_thread_create(&t[3], "memslots", 0, stress_memslots,
					     (void *)(uintptr_t)hva), 0);
	usleep((useconds_t)scaled(200, 1000, 10000) * 1000);
	atomic_store(&stress_stop, true);
	for (i = 0; i < 4; i++)
		assert_int_equal(kvmmu_thread_join(t[i]), 0);

	/* Coherence: whatever is still mapped is what the host maps now. */
	program(0, FAKE_READ, 0, 1, 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	rcu_read_lock();
	for_each_tdp_pte(iter, fix.w.kvm, vcpu_root(0), 0, gpa_to_gfn(4 * MB)) {
		unsigned long addr = fix.w.cfg.mem[0].hva + (iter.gfn << PAGE_SHIFT);
		int level;
		u64 e;

		if (!is_shadow_present_pte(iter.old_spte) || !is_last_spte(iter.old_spte, iter.level))
			continue;
		e = host_pgtable_lookup(fix.w.mm, addr, &level);
		assert_true(hpte_present(e));
		assert_int_equal(spte_to_pfn(iter.old_spte), hpte_subpage_pfn(e, level, addr));
	}
	rcu_read_unlock();
}

static const struct CMUnitTest tests[] = {
	FIX_TEST(test_fault_write_read),
	FIX_TEST(test_formats),
	FIX_TEST(test_roots_shared_and_counted),
	FIX_TEST(test_iter_restart_visits_once),
	FIX_TEST(test_zap_with_forced_yields),
	FIX_TEST(test_racing_faults_one_gfn),
	FIX_TEST(test_mmio),
	FIX_TEST(test_mmio_generation_wrap),
	FIX_TEST(test_delete_fast_zaps_with_quirk),
	FIX_TEST(test_delete_zaps_only_slot_without_quirk),
	FIX_TEST(test_move),
	FIX_TEST(test_seed000_notifier_zaps_invalid_root),
	FIX_TEST(test_seed000_mutant_leaves_mapping),
	FIX_TEST(test_seed004_fault_retries_on_frozen),
	FIX_TEST(test_seed004_mutants_install_before_flush),
	FIX_TEST(test_teardown_releases_everything),
	FIX_TEST(test_concurrent_fault_zap_invalidate),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
