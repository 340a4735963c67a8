// SPDX-License-Identifier: GPL-2.0-only
/*
 * vCPU requests, kicks and remote TLB flushes, with vCPU threads spinning
 * in a fake guest: when kvm_flush_remote_tlbs() returns, every vCPU has
 * either flushed since the call began or is outside guest mode with the
 * flush pending.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "kvm_host.h"
#include "test.h"
#include "thread.h"
#include "vm_fixture.h"

static struct vm_fixture fix;

static int teardown_fix(void **state)
{
	if (vm_fixture_destroy(&fix))
		return -1;
	return kvmmu_test_teardown(state);
}

#define FIX_TEST(fn) cmocka_unit_test_setup_teardown(fn, kvmmu_test_setup, teardown_fix)

static void test_request_bits(void **state)
{
	struct vm_fixture_opts o = { .nr_vcpus = 1 };
	struct kvm_vcpu *vcpu;

	assert_int_equal(vm_fixture_create(&fix, &o), 0);
	vcpu = fix.w.vcpus[0];
	assert_false(kvm_request_pending(vcpu));
	kvm_make_request(KVM_REQ_TLB_FLUSH, vcpu);
	kvm_make_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, vcpu);
	assert_true(kvm_test_request(KVM_REQ_TLB_FLUSH, vcpu));
	assert_true(kvm_check_request(KVM_REQ_TLB_FLUSH, vcpu));
	assert_false(kvm_check_request(KVM_REQ_TLB_FLUSH, vcpu));
	assert_true(kvm_request_pending(vcpu));
	assert_true(kvm_check_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, vcpu));
	assert_false(kvm_request_pending(vcpu));

	/* A vCPU outside guest mode is not waited for; the request stays for it. */
	kvm_flush_remote_tlbs(fix.w.kvm);
	assert_true(kvm_test_request(KVM_REQ_TLB_FLUSH, vcpu));
	assert_int_equal(kvmmu_vm_stat(fix.w.kvm, "remote_tlb_flush_requests"), 1);
	assert_int_equal(kvmmu_vm_stat(fix.w.kvm, "remote_tlb_flush"), 1);
	/* A kick-only request sets no bit. */
	kvm_make_all_cpus_request(fix.w.kvm, KVM_REQ_OUTSIDE_GUEST_MODE);
	assert_true(kvm_check_request(KVM_REQ_TLB_FLUSH, vcpu));
	assert_false(kvm_request_pending(vcpu));
}

/* The run loop serves requests before entering: the pending flush happens first. */
static void test_run_serves_requests(void **state)
{
	struct vm_fixture_opts o = { .nr_vcpus = 1, .mem_size = 1UL << 20 };
	struct kvmmu_hw_vcpu *hv;
	u64 before;

	assert_int_equal(vm_fixture_create(&fix, &o), 0);
	hv = fix.hw.vcpus[0];
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	/* Loading the first root flushed the current context. */
	before = atomic_load(&hv->flushes);
	assert_true(before >= 1);
	kvm_flush_remote_tlbs(fix.w.kvm);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	assert_int_equal(atomic_load(&hv->flushes), before + 1);
	assert_int_equal(kvmmu_vcpu_stat(fix.w.vcpus[0], "tlb_flush"), 1);
	assert_false(kvm_request_pending(fix.w.vcpus[0]));
}

static void test_signal_interrupts_run(void **state)
{
	struct vm_fixture_opts o = { .nr_vcpus = 1 };
	struct kvmmu_hw_vcpu *hv;
	struct kvmmu_run run;

	assert_int_equal(vm_fixture_create(&fix, &o), 0);
	hv = fix.hw.vcpus[0];
	fake_hw_push(hv, FAKE_SPIN, 0, 0);
	kvmmu_vcpu_signal(fix.w.vcpus[0]);
	assert_int_equal(fix_run(&fix, 0, &run), -EINTR);
	assert_int_equal(run.exit_reason, KVM_EXIT_INTR);
	atomic_store(&hv->release, true);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
}

struct spinner {
	int vcpu;
	int result;
};

static struct spinner spinners[FIX_MAX_VCPUS];
static _Atomic bool stop_spinning;

/* A vCPU that spins in guest mode, re-entering after each kick, until told to stop. */
static int spinner_fn(void *arg)
{
	struct spinner *s = arg;
	struct kvmmu_hw_vcpu *hv = fix.hw.vcpus[s->vcpu];

	fake_hw_push(hv, FAKE_SPIN, 0, 0);
	while (!atomic_load(&stop_spinning)) {
		struct kvmmu_run run;
		int r = fix_run(&fix, s->vcpu, &run);

		if (r == -EINTR)
			continue;
		if (r || run.exit_reason != KVM_EXIT_HLT) {
			s->result = r ? r : -1;
			return s->result;
		}
		/* Released: spin again. */
		hv->len = 0;
		hv->pc = 0;
		fake_hw_push(hv, FAKE_SPIN, 0, 0);
	}
	return 0;
}

static void test_remote_flush_waits_for_every_vcpu(void **state)
{
	struct vm_fixture_opts o = { .nr_vcpus = 3, .mem_size = 1UL << 20 };
	struct kvmmu_thread *t[3];
	u64 rounds = scaled(100, 1000, 20000), i, stale = 0;
	int v;

	assert_int_equal(vm_fixture_create(&fix, &o), 0);
	atomic_store(&stop_spinning, false);
	for (v = 0; v < 3; v++) {
		spinners[v] = (struct spinner){ .vcpu = v };
		assert_int_equal(kvmmu_thread_create(&t[v], "vcpu", 0, spinner_fn, &spinners[v]), 0);
	}
	/* Every vCPU in guest mode before the first flush. */
	for (v = 0; v < 3; v++) {
		while (atomic_load(&fix.hw.vcpus[v]->entry_flushes) == -1)
			sched_yield();
	}

	for (i = 0; i < rounds; i++) {
		s64 before[3];

		for (v = 0; v < 3; v++)
			before[v] = (s64)atomic_load(&fix.hw.vcpus[v]->flushes);
		kvm_flush_remote_tlbs(fix.w.kvm);
		for (v = 0; v < 3; v++) {
			s64 entered = atomic_load(&fix.hw.vcpus[v]->entry_flushes);

			/*
			 * In guest mode now: it must have entered after a flush
			 * that came after the call began.
			 */
			if (entered != -1 && entered <= before[v])
				stale++;
		}
	}
	atomic_store(&stop_spinning, true);
	for (v = 0; v < 3; v++) {
		atomic_store(&fix.hw.vcpus[v]->release, true);
		kvmmu_vcpu_signal(fix.w.vcpus[v]);
	}
	for (v = 0; v < 3; v++)
		assert_int_equal(kvmmu_thread_join(t[v]), 0);
	assert_int_equal(stale, 0);
	assert_int_equal(kvmmu_vm_stat(fix.w.kvm, "remote_tlb_flush"), rounds);
	/*
	 * Each vCPU was kicked out of guest mode by the first round, and has
	 * either flushed since or still holds the request: requests made while
	 * it was outside coalesce into one flush at its next entry, and the
	 * stop signal may reach it before that entry.
	 */
	for (v = 0; v < 3; v++) {
		assert_true(kvmmu_vcpu_stat(fix.w.vcpus[v], "tlb_flush") >= 1 ||
			    kvm_test_request(KVM_REQ_TLB_FLUSH, fix.w.vcpus[v]));
		assert_true(kvmmu_vcpu_stat(fix.w.vcpus[v], "irq_exits") >= 1);
	}
}

static void test_stats_names(void **state)
{
	static const char *const vm_names[] = {
		"remote_tlb_flush", "remote_tlb_flush_requests", "mmu_shadow_zapped",
		"mmu_pte_write", "mmu_pde_zapped", "mmu_flooded", "mmu_recycled",
		"mmu_cache_miss", "mmu_unsync", "pages_4k", "pages_2m", "pages_1g",
		"nx_lpage_splits", "max_mmu_page_hash_collisions", "max_mmu_rmap_size",
	};
	static const char *const vcpu_names[] = {
		"pf_taken", "pf_fixed", "pf_emulate", "pf_spurious", "pf_fast",
		"pf_mmio_spte_created", "pf_guest", "tlb_flush", "invlpg",
	};
	struct vm_fixture_opts o = { .nr_vcpus = 1 };
	const struct kvmmu_stat_desc *d;
	u64 values[64];
	int n, i;

	assert_int_equal(vm_fixture_create(&fix, &o), 0);
	for (i = 0; i < (int)ARRAY_SIZE(vm_names); i++)
		assert_int_equal(kvmmu_vm_stat(fix.w.kvm, vm_names[i]), 0);
	for (i = 0; i < (int)ARRAY_SIZE(vcpu_names); i++)
		assert_int_equal(kvmmu_vcpu_stat(fix.w.vcpus[0], vcpu_names[i]), 0);
	assert_int_equal(kvmmu_vm_stat(fix.w.kvm, "no_such_stat"), ~0ULL);
	d = kvmmu_vm_stat_descs(&n);
	assert_int_equal(kvmmu_vm_stats(fix.w.kvm, values, 64), n);
	assert_string_equal(d[0].name, "remote_tlb_flush");
	d = kvmmu_vcpu_stat_descs(&n);
	assert_int_equal(kvmmu_vcpu_stats(fix.w.vcpus[0], values, 64), n);
	assert_string_equal(d[0].name, "pf_taken");
}

static const struct CMUnitTest tests[] = {
	FIX_TEST(test_request_bits),
	FIX_TEST(test_run_serves_requests),
	FIX_TEST(test_signal_interrupts_run),
	FIX_TEST(test_remote_flush_waits_for_every_vcpu),
	FIX_TEST(test_stats_names),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
